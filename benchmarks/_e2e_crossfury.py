# SPDX-License-Identifier: MIT
"""End-to-end consumer: crossfury's Binance USD-M connector, one ``BookSnapshot`` callback (see bench_e2e.py).

The callback records ``time.time_ns() - msg.local_ts`` (receive time of the frame, taken in the WebSocket read
callback, to the moment the callback runs) for every book message. Counters come from ``Connector.health()``:
frames received on the connections, books applied, gaps, resyncs, frames that took the native path (one
call per frame from the WebSocket listener to the callback). After the window the book is compared with
the simulator's at one update id (see ``_e2e_verify.py``).
"""

from __future__ import annotations

import time
from array import array

from _e2e_common import TOP_N, Window, emit, parser, pin
from _e2e_verify import Recorder, verify

from crossfury.connectors import create_connector
from crossfury.core.aio import run


async def main(args) -> dict:
    symbols = args.symbols.split(",")
    conn = create_connector("binance-usdm", endpoint=args.endpoint)
    lat = array("q")
    delivered = [0, 0]  # valid books, invalid (gap) notices

    append, now = lat.append, time.time_ns

    def on_book(msg) -> None:
        append(now() - msg.local_ts)
        delivered[0 if msg.valid else 1] += 1

    def counters() -> dict[str, int]:
        h = conn.health()
        books = h["books"].values()
        return {"frames": sum(c["messages"] for c in h["connections"]), "delivered": delivered[0],
                "invalid": delivered[1], "applied": sum(b["applied"] or 0 for b in books),
                "gaps": sum(b["gaps"] for b in books), "resyncs": sum(b["resyncs"] or 0 for b in books),
                "snapshots": sum(b["snapshots"] for b in books), "crossed": sum(b["crossed"] for b in books),
                "malformed": sum(b["malformed"] for b in books),
                "native": sum(b["native_frames"] for b in books)}

    async with conn:
        conn.add_callback(on_book, ["book"])
        await conn.subscribe(symbols, ["book"])
        books = [conn.book(s) for s in symbols]
        window = Window(args, counters, lat, 1e-9)
        await window.run(lambda: all(b.synced for b in books))

        recorder = Recorder()
        conn.add_callback(lambda m: recorder.record(m.symbol, m.last_id, m.bids[:TOP_N], m.asks[:TOP_N]), ["book"])
        names = {s: conn.instrument(s).symbol for s in symbols}
        checks = await verify(args.endpoint, recorder, names, lambda s: books[symbols.index(s)].last_id or 0)
        health = conn.health()
    return window.result("crossfury", checks=checks, books={
        s: {k: b[k] for k in ("state", "valid", "applied", "gaps", "resyncs", "snapshots", "crossed", "malformed")}
        for s, b in health["books"].items()})


if __name__ == "__main__":
    a = parser(__doc__.splitlines()[0]).parse_args()
    pin(a.cpu)
    emit(run(main(a)))
