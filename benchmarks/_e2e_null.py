# SPDX-License-Identifier: MIT
"""End-to-end null consumers: count the simulator's depth frames and do nothing else (the transport ceiling).

``--client picows`` uses picows as crossfury does (one Cython callback per frame); ``--client websockets``
uses the ``websockets`` asyncio client with cryptofeed's options and an ``async for`` read loop, as
cryptofeed does. Both run on uvloop, subscribe to the same streams as the contenders and keep no book, so
their rate is what the simulator and the client's WebSocket layer can move over loopback: a contender that
reaches it is limited by its source, not by itself.
"""

from __future__ import annotations

import asyncio
from array import array

from _e2e_common import Window, emit, parser, pin

from crossfury.core.aio import run


def stream_url(endpoint: str, symbols: list[str], path: str = "/public/stream") -> str:
    ws = endpoint.replace("http://", "ws://").replace("https://", "wss://")
    return f"{ws}{path}?streams={'/'.join(s.lower() + '@depth@100ms' for s in symbols)}"


async def picows_main(args) -> dict:
    from picows import WSListener, WSMsgType, ws_connect

    count = [0]

    class Listener(WSListener):
        def on_ws_frame(self, transport, frame) -> None:
            if frame.msg_type is WSMsgType.TEXT:
                count[0] += 1

    transport, _ = await ws_connect(Listener, stream_url(args.endpoint, args.symbols.split(",")),
                                    max_frame_size=16 << 20, enable_auto_pong=True)
    window = Window(args, lambda: {"frames": count[0], "delivered": count[0]}, array("q"), 1e-9)
    await window.run(lambda: count[0] > 0)
    transport.disconnect()
    return window.result("null-picows")


async def websockets_main(args) -> dict:
    from websockets.asyncio.client import connect

    count = [0]

    async def read(ws) -> None:
        async for _ in ws:
            count[0] += 1

    # cryptofeed's WebsocketEndpoint defaults plus BinanceFutures' options
    ws = await connect(stream_url(args.endpoint, args.symbols.split(","), "/stream"), ping_interval=10,
                       ping_timeout=None, max_size=None, max_queue=None, compression=None)
    reader = asyncio.create_task(read(ws))
    window = Window(args, lambda: {"frames": count[0], "delivered": count[0]}, array("q"), 1e-9)
    await window.run(lambda: count[0] > 0)
    reader.cancel()
    return window.result("null-websockets")


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--client", choices=("picows", "websockets"), default="picows")
    a = p.parse_args()
    pin(a.cpu)
    emit(run((picows_main if a.client == "picows" else websockets_main)(a)))
    import os

    os._exit(0)
