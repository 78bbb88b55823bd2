# SPDX-License-Identifier: MIT
"""``crossfury demo``: the main job end to end, offline, in under a minute.

Starts the Binance simulator on 127.0.0.1 (unless pointed at a real endpoint), connects, subscribes a few
symbols, shows a live view of the books while recording the raw feed, injects a gap and a disconnect
half-way so the resync and the reconnect are visible, then replays the recording and checks that the
replayed books end exactly where the live ones did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from crossfury.connectors import Connector, create_connector
from crossfury.events import Channel
from crossfury.recorder.writer import Recorder

DEFAULT_SYMBOLS = {"binance-usdm": ["BTCUSDT", "ETHUSDT", "SOLUSDT"], "binance-spot": ["BTCUSDT", "ETHUSDT"],
                   "binance-coinm": ["BTCUSD_PERP", "ETHUSD_PERP"]}


def _fmt(x: float | None, width: int = 12) -> str:
    return f"{x:>{width}.6g}" if x is not None else f"{'-':>{width}}"


class _View:
    """A small terminal table, redrawn in place on a terminal and printed every few seconds otherwise."""

    def __init__(self, out: TextIO, symbols: list[str], quiet: bool = False):
        self.out = out
        self.quiet = quiet
        self.symbols = symbols
        self.tty = out.isatty()
        self.events: list[str] = []
        self._last_print = 0.0
        self._lines = 0

    def note(self, text: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {text}")
        if not self.tty and not self.quiet:
            print(f"  * {text}", file=self.out, flush=True)

    def draw(self, conn: Connector, elapsed_s: float, total_s: float, final: bool = False) -> None:
        now = time.monotonic()
        if not self.tty and not final and now - self._last_print < 3.0:
            return
        self._last_print = now
        h = conn.health()
        rate = sum(c["messages_per_s"] for c in h["connections"])
        lines = [f"crossfury demo  {conn.name}  t={elapsed_s:5.1f}/{total_s:.0f}s  {rate:8.0f} msg/s  "
                 f"reconnects {h['reconnects']}  gaps {h['gaps']}",
                 f"{'symbol':<16}{'state':<11}{'bid':>12}{'ask':>12}{'spread':>10}{'applied':>9}{'gaps':>6}"
                 f"{'resyncs':>8}"]
        for sym in self.symbols:
            b = h["books"].get(sym, {})
            view = conn.order_book(sym, 1)
            bid = view.bids[0][0] if view.bids else None
            ask = view.asks[0][0] if view.asks else None
            spread = ask - bid if bid is not None and ask is not None else None
            lines.append(f"{sym:<16}{b.get('state', '-'):<11}{_fmt(bid)}{_fmt(ask)}{_fmt(spread, 10)}"
                         f"{b.get('applied', 0):>9}{b.get('gaps', 0):>6}{b.get('resyncs', 0):>8}")
        lines += self.events[-4:] if self.tty else []
        if self.tty and self._lines:
            self.out.write(f"\x1b[{self._lines}F\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._lines = len(lines)


async def run_demo(*, exchange: str = "binance-usdm", endpoint: str | None = None, ws_endpoint: str | None = None,
                   symbols: list[str] | None = None,
                   duration_s: float = 15.0, out_dir: str | Path | None = None, faults: bool = True,
                   out: TextIO = sys.stdout, quiet: bool = False) -> dict[str, Any]:
    """Run the demo and return its summary (live books, faults seen, recording, replay check)."""
    from crossfury.replay import Replay

    symbols = symbols or DEFAULT_SYMBOLS[exchange]
    market = exchange.split("-", 1)[1]
    async with contextlib.AsyncExitStack() as stack:
        sim = None
        if endpoint is None:
            from crossfury.sim import BinanceSim

            sim = await stack.enter_async_context(BinanceSim(market=market, symbols=symbols, seed=7))
            endpoint = sim.rest_url
        if out_dir is None:
            out_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="crossfury-demo-"))
        out_dir = Path(out_dir)
        conn = create_connector(exchange, endpoint=endpoint, ws_endpoint=ws_endpoint, silence_timeout_s=5.0)
        recorder = Recorder(out_dir)
        conn.add_raw_sink(recorder.write)
        view = _View(out, [], quiet)
        injected: list[str] = []
        async with conn:
            await conn.subscribe(symbols, [Channel.BOOK, Channel.TRADES, Channel.BBO])
            view.symbols = [conn.instrument(s).symbol for s in symbols]
            if not quiet:
                view.note(f"{'simulator' if sim else 'endpoint'} at {endpoint}; recording to {out_dir}")
            loop = asyncio.get_running_loop()
            start = loop.time()
            while (elapsed := loop.time() - start) < duration_s:
                if sim is not None and faults:
                    if elapsed >= duration_s * 0.33 and "gap" not in injected:
                        sim.drop_depth(conn.instrument(symbols[0]).native)
                        injected.append("gap")
                        view.note(f"fault: dropped a depth message of {view.symbols[0]} -> gap, resync")
                    if elapsed >= duration_s * 0.6 and "disconnect" not in injected:
                        sim.disconnect()
                        injected.append("disconnect")
                        view.note("fault: the simulator dropped every connection -> reconnect, resync")
                if not quiet:
                    view.draw(conn, elapsed, duration_s)
                await asyncio.sleep(0.25)
            if sim is not None:
                sim.pause()
                await _settle(conn, sim, view.symbols)
            if not quiet:
                view.draw(conn, duration_s, duration_s, final=True)
            live = {s: conn.order_book(s, 20) for s in view.symbols}
            health = conn.health()
        recorder.close()
        rec_stats = recorder.stats()
        # The replayed gaps are the injected faults, reported in the summary; their log lines are noise here.
        logging.getLogger("crossfury.replay").setLevel(logging.ERROR)
        checks = {}
        for sym in view.symbols:
            native = conn.instrument(sym).native
            files = sorted(Path(f) for f in rec_stats["files"] if Path(f).name.rsplit("_", 1)[0] == native.lower())
            rep = Replay().run(files).get(native.upper())
            lv = live[sym]
            result = rep.as_dict() if rep else {}
            checks[sym] = {
                "files": [f.name for f in files],
                "live_valid": lv.valid,
                "replay_state": result.get("state"),
                "replay_matches_live": bool(rep and rep.book) and rep.book.top_levels(20) == (lv.bids, lv.asks),
                "replay_gaps": result.get("gaps"),
                "bbo_checks": result.get("bbo_checks", 0),
                "bbo_mismatches": result.get("bbo_mismatches"),
            }
    summary = {"exchange": exchange, "endpoint": endpoint, "faults_injected": injected,
               "live": {"reconnects": health["reconnects"], "gaps": health["gaps"],
                        "books": {s: {k: health["books"][s][k] for k in ("state", "applied", "gaps", "resyncs",
                                                                        "snapshots")} for s in view.symbols}},
               "recording": {"files": [str(f) for f in rec_stats["files"]], "lines": rec_stats["lines"],
                             "bytes": rec_stats["bytes"]},
               "replay": checks,
               "ok": all(c["replay_matches_live"] for c in checks.values())}
    return summary


async def _settle(conn: Connector, sim: Any, symbols: list[str], timeout_s: float = 5.0) -> None:
    """Wait until every live book has caught up with the paused simulator."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if all(conn.order_book(s, 1).last_id == sim.last_update_id(conn.instrument(s).native) for s in symbols):
            return
        await asyncio.sleep(0.02)
