# SPDX-License-Identifier: MIT
"""The connector's cost per WebSocket frame, no sockets: pre-built depth frames into one connection's listener.

Run ``python benchmarks/bench_frames.py [--frames 20000] [--merge 1]`` for indicative ns per frame, or with
``--callgrind`` for instructions per frame (repeatable under load: each path runs under ``valgrind
--tool=callgrind`` collecting only inside the loop that feeds the frames).

What runs is the connector's own code from the picows listener on: a ``Connector`` for Binance USD-M (no
network: its instrument is set by hand), one connection's ``WsConnection`` listener fed with picows test
frames (``_make_test_ws_frame``), each a combined-stream depth message of the simulator's synthetic market
(``crossfury.sim.market``, merged K events per message with ``--merge K`` as ``_e2e_sim.py`` does), and a
``BookSnapshot`` callback that does what the end-to-end benchmark's does (one latency, one count). Two paths:

- ``native``: the connection's ``DepthRouter`` takes each frame (one native call per frame);
- ``python``: the same router switched off, as while a rotation or a raw sink needs the bytes: the frame is
  copied to bytes and routed by the connector's Python ``receive``, ending in the same ``DepthRoute``.

The kernel, uvloop and picows's frame parsing are not included (see bench_e2e.py for the whole path).
Checked once per run: every frame applied and delivered, and the book's top equals the generator's.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import re
import subprocess
import sys
import time
from array import array
from decimal import Decimal
from pathlib import Path

from picows.picows import WSMsgType, _make_test_ws_frame

from crossfury.connectors.connector import Connector
from crossfury.events import Channel
from crossfury.exchanges.binance.spec import USDM
from crossfury.exchanges.spec import Instrument
from crossfury.sim.market import Market, SyntheticFeed, default_specs

HERE = Path(__file__).resolve().parent
SYMBOL = "BTCUSDT"


class _WantAll:
    def wants(self, key: str) -> bool:
        return True

    def periodic(self, symbol_lower: str):
        return ()


def generate(frames: int, merge: int, stream: str):
    """Return (snapshot (last id, bids, asks), envelopes, the book after them) from the synthetic market.

    The snapshot is taken after the first message, which bridges it (binance.md §5: U <= lastUpdateId <= u).
    """
    sys.path.insert(0, str(HERE))
    from _e2e_sim import _merge

    market = Market("usdm", default_specs("usdm", [SYMBOL]), _WantAll())
    feed = SyntheticFeed(market, SYMBOL, 7)
    key = market.symbols[SYMBOL].keys["depth"]
    payloads = []
    snapshot = None
    for k in range(frames + 1):
        group = []
        for j in range(merge):
            feed.step(1_700_000_000_000 + k * merge + j)
            group += [p for kk, p in market.take() if kk == key]
        payloads.append(group[0] if merge == 1 else _merge(group))
        if k == 0:
            snapshot = market.book(SYMBOL)
    head = b'{"stream":"' + stream.encode() + b'","data":'
    return snapshot, [head + p + b"}" for p in payloads], market.book(SYMBOL)


def _exact(levels) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in levels]


def run(path: str, frames: int, merge: int) -> dict:
    spec = USDM.at("http://127.0.0.1:9")  # never contacted
    conn = Connector(spec)
    inst = Instrument("BTC-USDT-PERP", SYMBOL, "BTC", "USDT", spec.market, "0.10", "0.001")
    conn._instruments = {inst.symbol: inst}
    conn._by_name = {inst.symbol: inst, SYMBOL: inst}
    stream = spec.stream_name(Channel.BOOK, SYMBOL)
    (last_id, bids, asks), envelopes, (final_id, final_bids, final_asks) = generate(frames, merge, stream)
    connection = conn._new_connection("/public/stream", [stream])
    conn._add_route(stream, Channel.BOOK, inst, connection)
    book = conn.book(inst.symbol)
    book.on_message(envelopes.pop(0))  # buffered, then bridges the snapshot
    book.on_snapshot_levels(last_id, bids, asks)

    lat, delivered, now = array("q"), [0], time.time_ns
    append = lat.append

    def on_book(msg) -> None:  # as _e2e_crossfury.py's
        append(now() - msg.local_ts)
        delivered[0] += 1

    conn.add_callback(on_book, ["book"])
    connection.router.direct = path == "native"
    from crossfury.wire import WsConnection

    listener = WsConnection("ws://unused", connection.receive, router=connection.router)._listener
    built = [_make_test_ws_frame(WSMsgType.TEXT, e, True, False) for e in envelopes]
    t0 = time.perf_counter()
    # deque(..., maxlen=0) runs the loop in C (consume_iterator), which --callgrind counts alone
    collections.deque(map(listener.on_ws_frame, itertools.repeat(None), built), maxlen=0)
    elapsed = time.perf_counter() - t0
    health = conn.health()["books"][inst.symbol]
    top_bids, top_asks = book.top_text(5)
    ok = (delivered[0] == frames and health["applied"] == frames + 1 and book.last_id == final_id
          and _exact(top_bids) == _exact(final_bids[:5]) and _exact(top_asks) == _exact(final_asks[:5])
          and health["native_frames"] == (frames if path == "native" else 0))
    return {"path": path, "frames": frames, "merge": merge, "ns_per_frame": elapsed * 1e9 / frames,
            "bytes_per_frame": sum(map(len, envelopes)) / frames, "native_frames": health["native_frames"],
            "ok": ok}


_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(path: str, frames: int, merge: int) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--collect-atstart=no",
           "--toggle-collect=consume_iterator", sys.executable, __file__, "--path", path,
           "--frames", str(frames), "--merge", str(merge), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    if not json.loads(out.stdout.splitlines()[-1])["ok"]:
        sys.exit(f"{path}: check failed under callgrind")
    return int(_COLLECTED.findall(out.stderr)[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=20_000)
    p.add_argument("--merge", type=int, default=1, help="synthetic events per message (10: about 29 levels)")
    p.add_argument("--path", choices=("native", "python", "both"), default="both")
    p.add_argument("--callgrind", action="store_true", help="instructions per frame, counted under callgrind")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    paths = ["native", "python"] if args.path == "both" else [args.path]
    if args.json:
        print(json.dumps(run(paths[0], args.frames, args.merge)))
        return
    for path in paths:
        if args.callgrind:
            per = instructions(path, args.frames, args.merge) / args.frames
            print(f"{path:7} merge {args.merge}: {per:,.0f} instructions per frame "
                  f"(callgrind, {args.frames:,} frames)")
        else:
            r = run(path, args.frames, args.merge)
            if not r["ok"]:
                sys.exit(f"{path}: check failed: {r}")
            print(f"{path:7} merge {args.merge}: {r['ns_per_frame']:,.0f} ns per frame "
                  f"({r['bytes_per_frame']:.0f} bytes per frame, {args.frames:,} frames; indicative)")


if __name__ == "__main__":
    main()
