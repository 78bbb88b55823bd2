# SPDX-License-Identifier: MIT
"""The end-to-end benchmark's source: ``crossfury.sim.BinanceSim`` (USD-M) on loopback, in its own process.

Two sources, both served by the simulator's own HTTP + WebSocket server (REST exchangeInfo and depth, the
``/stream`` and ``/public/stream`` endpoints, its ``StreamHub`` framing and back-pressure):

``sim``
    ``BinanceSim(events_per_s=None)``: the simulator's flood mode, its synthetic market stepped in Python as
    fast as it goes (about 40k events/s generated alone, fewer once sent).
``pregen``
    The same synthetic market (``Market`` + ``SyntheticFeed``, same seed) run ahead of time for ``--cycle``
    events, closed by one event that puts every level back to the starting book, and then re-sent in a
    loop with the update ids shifted by one cycle per lap, so ``pu`` always equals the previous ``u`` and
    the book after each lap is the starting book again. The REST depth answers the book at the last
    checkpoint sent, installed in the simulator's market on demand, so it is always a true snapshot. The
    simulator's own generator stays paused. Each lap is encoded once as ready WebSocket frames (unmasked
    server frames, the combined envelope included, ids fixed-width from ``ID_BASE`` so a later lap only
    patches digits) and written to the transport in blocks of ``--block-bytes``, paced only by the socket's
    back-pressure; the hub's per-message publish path (and so its fault injection) is bypassed. This moves
    generation and framing out of the measured run, because the simulator's flood rate, and even its
    publish path fed ready payloads, are below what crossfury consumes (see bench_e2e.py). With ``--merge K`` each message aggregates K consecutive events, as the
    ``@100ms`` stream aggregates a busy symbol's updates: more levels per message (the synthetic market's
    events carry about 5; real USD-M BTCUSDT ``@100ms`` messages about 44).

``pregen`` starts at ``--slow-rate`` events/s per symbol and floods only after ``POST /_e2e/rate
{"events_per_s": null}``, which a consumer sends once its books are synced (the parent sends
``{"events_per_s": R}`` before the next consumer), so every consumer syncs the same way, with no flood during
its snapshot, then meets the flood. ``sim`` floods from the start: ``BinanceSim`` reads ``events_per_s`` once,
when its driver starts, so its rate cannot be switched while it runs (the route is accepted and ignored).
``GET /_e2e/state`` returns the frames sent so far (``sim.hub.sent``). Prints one JSON line ``{"port": ...,
"pid": ...}`` when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time

from aiohttp import web

from crossfury.core.aio import run
from crossfury.sim import BinanceSim
from crossfury.sim.hub import _frame
from crossfury.sim.market import Market, SyntheticFeed, default_specs

_IDS = re.compile(rb'"U":(\d+),"u":(\d+),"pu":(\d+)')


class _WantAll:
    """A stream index that wants every payload (to capture the synthetic market's messages)."""

    def wants(self, key: str) -> bool:
        return True

    def periodic(self, symbol_lower: str):
        return ()


class Lap:
    """One symbol's pre-generated depth messages as id templates, and checkpoints of the book along the lap.

    ``checkpoints[k]`` is (update id, bids, asks) after message ``k`` (every ``every`` messages, and the
    last, which restores the starting book), all at lap 0's ids.
    """

    def __init__(self, symbol: str, seed: int, events: int, merge: int = 1, every: int = 100):
        market = Market("usdm", default_specs("usdm", [symbol]), _WantAll())
        feed = SyntheticFeed(market, symbol, seed)
        st = market.symbols[symbol]
        self.key = st.keys["depth"]
        self.start_id = st.last_update_id
        start_bids, start_asks = dict(st.bids), dict(st.asks)
        t0 = 1_700_000_000_000
        payloads: list[bytes] = []
        self.checkpoints: dict[int, tuple[int, dict[int, int], dict[int, int]]] = {}
        for k in range(events):
            group = []
            for j in range(merge):
                feed.step(t0 + k * merge + j)
                group += [p for key, p in market.take() if key == self.key]
            payloads.append(group[0] if merge == 1 else _merge(group))
            if k % every == 0:
                self.checkpoints[k] = (st.last_update_id, dict(st.bids), dict(st.asks))
        # One event that restores the starting book: every level that differs gets its starting quantity.
        for is_bid, now, start in ((True, st.bids, start_bids), (False, st.asks, start_asks)):
            for px in set(now) | set(start):
                if now.get(px, 0) != start.get(px, 0):
                    market.set_level(st, is_bid, px, start.get(px, 0))
        last = st.last_update_id
        market.flush_event(st, last + 1, last + 1 + len(st.pend_b) + len(st.pend_a), last, t0 + events * merge,
                           t0 + events * merge)
        payloads += [p for key, p in market.take() if key == self.key]
        assert st.bids == start_bids and st.asks == start_asks
        self.checkpoints[len(payloads) - 1] = (st.last_update_id, start_bids, start_asks)
        self.shift = st.last_update_id - self.start_id  # ids advance by this much per lap
        self.templates = []
        for p in payloads:
            m = _IDS.search(p)
            tmpl = p[:m.start()].replace(b"%", b"%%") + b'"U":%d,"u":%d,"pu":%d' + \
                p[m.end():].replace(b"%", b"%%")
            self.templates.append((tmpl, int(m.group(1)), int(m.group(2)), int(m.group(3))))
        self.levels = sum(p.count(b"],[") + 2 for p in payloads) / len(payloads)
        self.bytes = sum(map(len, payloads)) / len(payloads)


def _merge(payloads: list[bytes]) -> bytes:
    """One depth event covering consecutive ones, as Binance's ``@100ms`` stream aggregates: U of the first,
    u and E of the last, pu of the first, each level at its last quantity (levels sorted as the sim sorts)."""
    events = [json.loads(p) for p in payloads]
    first, last = events[0], events[-1]
    sides = []
    for side in ("b", "a"):
        levels: dict[str, str] = {}
        for ev in events:
            levels.update(ev[side])
        sides.append(",".join(f'["{p}","{q}"]' for p, q in sorted(levels.items(), key=lambda kv: float(kv[0]))))
    return (f'{{"e":"depthUpdate","E":{last["E"]},"T":{last["T"]},"s":"{last["s"]}","U":{first["U"]},'
            f'"u":{last["u"]},"pu":{first["pu"]},"b":[{sides[0]}],"a":[{sides[1]}]}}').encode()


ID_BASE = 10**15  # added to every pregen id so each has ID_DIGITS digits and a lap's frames keep their lengths
ID_DIGITS = 16  # four groups of four digits, each written from a table (4x fewer divisions than digit by digit)
_DIGITS4 = None  # "0000".."9999" as uint32 (4 ASCII bytes each), made on first use (numpy is imported lazily)
_POW10K = None


class EncodedLaps:
    """The laps of every symbol as ready WebSocket frames for one subscription shape, one ``bytes`` per lap.

    Group ``k`` is message ``k`` of every subscribed symbol, in symbol order; ``ends[k]`` is the byte offset
    just past it. Lap 0 is built once from the templates, with ids from ``ID_BASE`` up; lap ``L`` is lap 0
    with every id advanced by ``L`` times its symbol's shift, patched in place as fixed-width digits (so no
    frame changes length). Each lap is a fresh immutable ``bytes``: slices of it handed to the transport may
    stay queued there while the next lap is built.
    """

    def __init__(self, laps: list[Lap], names: tuple[str | None, ...], combined: bool):
        import numpy as np

        global _DIGITS4, _POW10K
        if _DIGITS4 is None:
            _DIGITS4 = np.frombuffer(b"".join(b"%04d" % i for i in range(10_000)), dtype=np.uint32)
            _POW10K = 10 ** np.arange(ID_DIGITS - 4, -1, -4, dtype=np.int64)
        chosen = [(lap, name) for lap, name in zip(laps, names) if name is not None]
        out = bytearray()
        pos: list[int] = []
        vals: list[int] = []
        steps: list[int] = []
        self.ends: list[int] = []
        for k in range(len(laps[0].templates)):
            for lap, name in chosen:
                tmpl, u1, u2, pu = lap.templates[k]
                ids = (u1 + ID_BASE, u2 + ID_BASE, pu + ID_BASE)
                payload = tmpl % ids
                if combined:
                    payload = b'{"stream":"' + name.encode() + b'","data":' + payload + b"}"
                frame = _frame(payload)
                m = _IDS.search(frame)
                at = len(out)
                for group, value in zip((1, 2, 3), ids):
                    if len(str(value)) != ID_DIGITS:
                        raise ValueError(f"update id {value} does not have {ID_DIGITS} digits")
                    pos.append(at + m.start(group))
                    vals.append(value)
                    steps.append(lap.shift)
                out += frame
            self.ends.append(len(out))
        self.base = np.frombuffer(bytes(out), dtype=np.uint8)
        self.where = np.asarray(pos, dtype=np.int64)[:, None] + np.arange(ID_DIGITS, dtype=np.int64)
        self.vals = np.asarray(vals, dtype=np.int64)
        self.steps = np.asarray(steps, dtype=np.int64)
        self.frames_per_group = len(chosen)
        self.lap_no = -1
        self.data = b""

    def lap(self, lap_no: int) -> bytes:
        """The frames of lap ``lap_no`` (kept until another lap is asked for)."""
        if lap_no != self.lap_no:
            ids = self.vals + lap_no * self.steps
            if int(ids.max()) >= 10**ID_DIGITS:
                raise OverflowError(f"pregen update ids passed {ID_DIGITS} digits after {lap_no} laps")
            buf = self.base.copy()
            buf[self.where] = _DIGITS4[ids[:, None] // _POW10K % 10_000].view(buf.dtype)
            self.data, self.lap_no = buf.tobytes(), lap_no
        return self.data


def _shape(conn, laps: list[Lap]) -> tuple[bool, tuple[str | None, ...]] | None:
    """A connection's subscription shape: combined flag and, per symbol, its depth stream name (or None)."""
    if conn.closed or conn.transport is None or conn.transport.is_closing():
        return None
    names = tuple(next((n for n, sk in conn.streams.items() if sk.key == lap.key), None) for lap in laps)
    return (conn.combined, names) if any(names) else None


async def _pregen_driver(sim: BinanceSim, laps: list[Lap], control: dict, block_bytes: int,
                         latest: list[tuple | None]) -> None:
    """Send the laps' frames to every subscribed connection; ``latest[i]`` = (checkpoint, id offset) of symbol i.

    Flooding, each connection gets slices of about ``block_bytes`` of ready frames in one transport write,
    and the sender waits only when the transport says its buffer is full (``pause_writing``, through aiohttp's
    protocol) or, between blocks, to let the server's other tasks run. Paced, it sends one group per tick.
    """
    hub = sim.hub
    n = len(laps[0].templates)
    # The last checkpoint at or before each message (every lap has the same length and checkpoint indices).
    cp_index, last_cp = [], 0
    for k in range(n):
        last_cp = k if k in laps[0].checkpoints else last_cp
        cp_index.append(last_cp)
    encoded: dict[tuple, EncodedLaps] = {}
    limited: set[int] = set()  # connections whose transport buffer limits are set
    k, lap_no = 0, 0
    sleep = asyncio.sleep
    loop = asyncio.get_running_loop()
    next_t = loop.time()
    while True:
        rate = control["events_per_s"]
        targets = []
        for c in list(hub.conns.values()):
            shape = _shape(c, laps)
            if shape is not None:
                enc = encoded.get(shape)
                if enc is None:
                    enc = encoded[shape] = EncodedLaps(laps, shape[1], shape[0])
                if c.id not in limited:
                    limited.add(c.id)
                    c.transport.set_write_buffer_limits(high=4 * block_bytes)
                targets.append((c, enc, shape))
        flood = rate is None and targets
        if flood:
            enc0 = targets[0][1]
            per_group = max(1, enc0.ends[-1] // n)
            stop = min(n, k + max(1, block_bytes // per_group))
        else:
            stop = k + 1
        for c, enc, shape in targets:
            data = enc.lap(lap_no)
            c.transport.write(memoryview(data)[enc.ends[k - 1] if k else 0:enc.ends[stop - 1]])
            for name in shape[1]:
                if name is not None:
                    hub.sent[name] += stop - k
        cp = cp_index[stop - 1]
        for i, lap in enumerate(laps):
            latest[i] = (lap.checkpoints[cp], ID_BASE + lap_no * lap.shift)
        k = stop
        if k == n:
            k, lap_no = 0, lap_no + 1
        if flood:
            for c, _, _ in targets:
                protocol = c.transport.get_protocol()
                if getattr(protocol, "writing_paused", False):
                    try:
                        await protocol._drain_helper()  # what aiohttp's own writers await on pause_writing
                    except ConnectionError:
                        c.closed = True
            await sleep(0)
        else:
            next_t += 1.0 / (rate or 1000.0)
            wait = next_t - loop.time()
            if wait > 0:
                await sleep(wait)
            elif wait < -1.0:
                next_t = loop.time()


async def serve(args: argparse.Namespace) -> None:
    symbols = args.symbols.split(",")
    pregen = args.source == "pregen"
    # BinanceSim reads events_per_s once, when its driver starts, so the sim source floods from the start.
    sim = BinanceSim("usdm", symbols=symbols, seed=args.seed, events_per_s=args.slow_rate if pregen else None,
                     paused=pregen, weight_limit=1_000_000)
    control: dict = {"events_per_s": args.slow_rate if pregen else None}
    info: dict = {"source": args.source, "symbols": sim.symbols}

    async def set_rate(request: web.Request) -> web.Response:
        body = await request.json()
        if pregen:
            control["events_per_s"] = body.get("events_per_s")
        return web.json_response(control)

    async def state(request: web.Request) -> web.Response:
        return web.json_response({"sent": sum(sim.hub.sent.values()), "ns": time.perf_counter_ns(), **control})

    sim.app.router.add_post("/_e2e/rate", set_rate)
    sim.app.router.add_get("/_e2e/state", state)
    task = None
    if pregen:
        t0 = time.perf_counter()
        laps = [Lap(s, args.seed, args.cycle, args.merge) for s in sim.symbols]
        info.update(pregen_s=round(time.perf_counter() - t0, 2), lap_events=len(laps[0].templates),
                    levels_per_event=round(sum(lp.levels for lp in laps) / len(laps), 2),
                    bytes_per_event=round(sum(lp.bytes for lp in laps) / len(laps), 1))
        latest: list[tuple | None] = [(lap.checkpoints[len(lap.templates) - 1], ID_BASE - lap.shift)
                                      for lap in laps]
        states = [sim.market.symbols[s] for s in sim.symbols]

        @web.middleware
        async def install_checkpoint(request: web.Request, handler):
            # The REST depth answers the book at the last checkpoint sent: installed here, on demand, so the
            # flood pays nothing for it. Every message up to that checkpoint has been written already.
            if request.path.endswith("/depth"):
                for st, item in zip(states, latest):
                    (last_id, bids, asks), off = item
                    if st.last_update_id != last_id + off:
                        st.install(last_id + off, bids, asks)
            return await handler(request)

        sim.app.middlewares.append(install_checkpoint)
    await sim.start("127.0.0.1", 0)
    if pregen:
        task = asyncio.create_task(_pregen_driver(sim, laps, control, args.block_bytes, latest))
    print(json.dumps({"port": sim.port, "pid": os.getpid(), **info}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        if task:
            task.cancel()
        await sim.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", choices=("sim", "pregen"), default="sim")
    p.add_argument("--symbols", default="BTCUSDT")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--slow-rate", type=float, default=1000.0, help="events/s per symbol until a consumer floods")
    p.add_argument("--cycle", type=int, default=20_000, help="pregen: events per lap")
    p.add_argument("--merge", type=int, default=1, help="pregen: synthetic events aggregated per message")
    p.add_argument("--block-bytes", type=int, default=64 << 10, help="pregen: bytes of frames per write when flooding")
    p.add_argument("--cpu", type=int, default=-1)
    a = p.parse_args()
    if a.cpu >= 0:
        os.sched_setaffinity(0, {a.cpu})
    try:
        run(serve(a))
    except KeyboardInterrupt:
        sys.exit(0)
