# SPDX-License-Identifier: MIT
"""Replay recordings in the hftbacktest collector format through the simulator.

Recorded stream messages are re-emitted byte for byte under their stream's routing key (every diff-depth
speed shares one, so ``btcusdt@depth`` subscribers get a ``depth@0ms`` recording). The market keeps its own
book from the first recorded REST snapshot on, so the snapshot the sim serves matches what it has sent:

- depth lines before a symbol's first snapshot are sent and buffered; at the snapshot, the book becomes the
  snapshot plus the buffered events that end after it (as a client would build it); until then the REST
  snapshot is empty with ``lastUpdateId`` 0, which a client must treat as too old;
- later snapshot lines (a collector re-fetching) are ignored: the sim's book just continues;
- recorded trades also yield an aggTrade with ``a = f = l = t`` when the recording has no aggTrade stream.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from crossfury.core.errors import ConfigError
from crossfury.recorder.format import RecordingReader
from crossfury.sim.market import Market, SymbolSpec, SymbolState, make_spec, parse_stream, parse_units

log = logging.getLogger(__name__)

_ENVELOPE = b'{"stream":"'
_DATA = b'","data":'
_MAX_PENDING = 100_000
_decode = msgspec.json.decode
_encode = msgspec.json.encode


def _unwrap(payload: bytes) -> tuple[str | None, bytes | None, Any]:
    """Return (stream name, raw data bytes, decoded object or None) of one recorded line."""
    if payload.startswith(_ENVELOPE):
        i = payload.find(_DATA, len(_ENVELOPE))
        if i > 0 and payload.endswith(b"}"):
            return payload[len(_ENVELOPE):i].decode(), payload[i + len(_DATA):-1], None
    obj = _decode(payload)
    if isinstance(obj, dict) and isinstance(obj.get("stream"), str) and "data" in obj:
        return obj["stream"], _encode(obj["data"]), None
    return None, None, obj


def _symbol_of(stream: str) -> str:
    return stream.partition("@")[0].upper()


class _Precision:
    """The decimals and grid seen in one symbol's prices and quantities."""

    def __init__(self) -> None:
        self.px_decimals = self.qty_decimals = 0
        self.px: set[str] = set()
        self.qty: set[str] = set()

    def see(self, levels: list[list[str]], limit: int = 4000) -> None:
        """Remember the price and quantity texts of some levels (at most ``limit`` of each)."""
        for p, q in levels[:limit]:
            if len(self.px) < limit:
                self.px.add(p)
            if len(self.qty) < limit:
                self.qty.add(q)

    def spec(self, symbol: str, market: str) -> SymbolSpec:
        """Return the spec these texts imply: most decimals seen, and the greatest common step."""
        pd = max((len(p.partition(".")[2]) for p in self.px), default=2)
        qd = max((len(q.partition(".")[2]) for q in self.qty), default=3)
        px_units = [parse_units(p, pd) for p in self.px]
        qty_units = [u for u in (parse_units(q, qd) for q in self.qty) if u]
        tick = math.gcd(*px_units) or 1
        step = math.gcd(*qty_units) or 1
        start = sorted(px_units)[len(px_units) // 2] if px_units else tick
        return make_spec(symbol, market, pd, tick, qd, step, start)


def scan_recordings(paths: list[Path], market: str, max_lines: int = 20_000) -> list[SymbolSpec]:
    """Read the start of each recording and return a spec for every symbol with depth in it.

    Tick and lot sizes are the greatest common divisor of the prices and quantities seen (binance prints
    fixed decimals, so "63943.90" with tick 0.10 is recognised). Raise ConfigError when the recording is
    of the other product (spot depth has no ``pu``, futures depth does).
    """
    seen: dict[str, _Precision] = {}
    futures: set[bool] = set()
    for path in paths:
        if not Path(path).is_file():
            raise ConfigError(f"replay file {path} not found")
        reader = RecordingReader([Path(path)])
        last_symbol, snapshots, n = None, set(), 0
        for line in reader:
            n += 1
            if n > max_lines or (snapshots and snapshots >= set(seen) and n > 200):
                break
            try:
                stream, data, obj = _unwrap(line.payload)
            except msgspec.DecodeError:
                continue
            if stream is not None and "@depth" in stream:
                try:
                    ev = _decode(data)
                except msgspec.DecodeError:
                    continue
                if not isinstance(ev, dict) or "U" not in ev:
                    continue
                last_symbol = ev.get("s") or _symbol_of(stream)
                futures.add("pu" in ev)
                prec = seen.setdefault(last_symbol, _Precision())
                prec.see(ev.get("b", []))
                prec.see(ev.get("a", []))
            elif isinstance(obj, dict) and "lastUpdateId" in obj:
                symbol = obj.get("symbol") or last_symbol
                if symbol is not None:
                    snapshots.add(symbol)
                    prec = seen.setdefault(symbol, _Precision())
                    prec.see(obj.get("bids", []))
                    prec.see(obj.get("asks", []))
    if not seen:
        raise ConfigError(f"no depth stream found in {', '.join(map(str, paths))}")
    if futures != {market != "spot"}:
        kind = "spot" if futures == {False} else "futures" if futures == {True} else "mixed"
        raise ConfigError(f"recordings hold {kind} depth but the simulator market is {market}")
    return [prec.spec(symbol, market) for symbol, prec in seen.items()]


class ReplayFeed:
    """Feed recorded lines into a market, in receive-time order across files."""

    def __init__(self, market: Market, paths: list[Path]):
        self.market = market
        self.paths = [Path(p) for p in paths]
        self.readers = [RecordingReader([p]) for p in self.paths]
        self.lines_read = 0
        self.unattributed = 0  # acks, errors, junk, symbols the market does not have
        self.extra_snapshots = 0
        self._last_symbol: dict[int, str] = {}
        self._pending: dict[str, deque[dict[str, Any]]] = {}
        self._agg_recorded: set[str] = set()

    def lines(self) -> Iterator[tuple[int, int, bytes]]:
        """Yield (local_ts ns, file index, payload) merged by receive time (a continuation file sorts after)."""
        streams = [((ln.local_ts, i, ln.payload) for ln in reader) for i, reader in enumerate(self.readers)]
        return heapq.merge(*streams, key=lambda t: t[0])

    def handle(self, file_index: int, payload: bytes) -> int | None:
        """Apply and re-emit one recorded line; return its exchange time in ms when it has one."""
        self.lines_read += 1
        try:
            stream, data, obj = _unwrap(payload)
        except msgspec.DecodeError:
            self.unattributed += 1
            return None
        if stream is None:
            if isinstance(obj, dict) and "lastUpdateId" in obj:
                self._snapshot(file_index, obj)
            else:
                self.unattributed += 1
            return None
        m = self.market
        st = m.symbols.get(_symbol_of(stream))
        if st is None:
            self.unattributed += 1
            return None
        sk = parse_stream(stream, m.futures)
        if sk.kind == "depth":
            ev = _decode(data)
            self._last_symbol[file_index] = st.spec.symbol
            self._depth(st, ev, data)
            return ev.get("E")
        if sk.kind == "trade":
            ev = _decode(data)
            m.add_trade(st, self._units(st, ev["p"], True), self._units(st, ev["q"], False), bool(ev["m"]),
                        ev["T"], ev["E"], trade_id=ev["t"], raw=data, agg=st.spec.symbol not in self._agg_recorded)
            return ev.get("E")
        if sk.kind == "aggTrade":
            self._agg_recorded.add(st.spec.symbol)
        m.emit(sk.key, data)
        return None

    def _units(self, st: SymbolState, text: str, is_px: bool) -> int:
        decimals = st.spec.price_decimals if is_px else st.spec.qty_decimals
        head, dot, frac = text.partition(".")
        if len(frac) == decimals and (dot or not decimals):
            return int(head + frac)  # the usual case: Binance prints the symbol's fixed decimals
        return parse_units(text, decimals)

    def _levels(self, st: SymbolState, ev: dict[str, Any]) -> None:
        m, units = self.market, self._units
        for p, q in ev.get("b", ()):
            m.set_level(st, True, units(st, p, True), units(st, q, False))
        for p, q in ev.get("a", ()):
            m.set_level(st, False, units(st, p, True), units(st, q, False))

    def _depth(self, st: SymbolState, ev: dict[str, Any], data: bytes) -> None:
        m = self.market
        if not st.ready:
            pending = self._pending.setdefault(st.spec.symbol, deque(maxlen=_MAX_PENDING))
            pending.append(ev)
            m.send_depth_raw(st, data)
            return
        self._levels(st, ev)
        prev = ev.get("pu", st.last_update_id)
        m.flush_event(st, ev["U"], ev["u"], prev, ev["E"], ev.get("T", ev["E"]), raw=data, book_ticker=False)
        m.tick(st, ev["E"])

    def _snapshot(self, file_index: int, obj: dict[str, Any]) -> None:
        symbol = obj.get("symbol") or self._last_symbol.get(file_index)
        if symbol is None and len(self.market.symbols) == 1:
            symbol = next(iter(self.market.symbols))
        st = self.market.symbols.get(symbol) if symbol else None
        if st is None:
            self.unattributed += 1
            return
        if st.ready:
            self.extra_snapshots += 1
            return
        last_id = obj["lastUpdateId"]
        units = self._units
        bids = {units(st, p, True): units(st, q, False) for p, q in obj.get("bids", ())}
        asks = {units(st, p, True): units(st, q, False) for p, q in obj.get("asks", ())}
        st.install(last_id, {p: q for p, q in bids.items() if q}, {p: q for p, q in asks.items() if q})
        st.trade_ms = obj.get("T", 0)
        for ev in self._pending.pop(st.spec.symbol, ()):
            if ev["u"] > last_id:  # events that end after the snapshot, as a client applies them
                self._levels(st, ev)
                self.market.flush_event(st, ev["U"], ev["u"], ev.get("pu", st.last_update_id), ev["E"],
                                        ev.get("T", ev["E"]), send=False)
        log.debug("replay %s: snapshot at %d, book at %d", st.spec.symbol, last_id, st.last_update_id)
