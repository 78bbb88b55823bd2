# SPDX-License-Identifier: MIT
"""Rebuild order books from raw recordings and check them against the exchange's own top of book.

Every depth message goes through a ``SyncedBook`` exactly as a live connector feeds it; REST snapshot lines
start (or restart) the sync. Each bookTicker whose update id equals the book's current update id must match
the rebuilt best bid and ask exactly, price and quantity: an independent check of every applied event.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from crossfury.book import SyncedBook, SyncRule, SyncStatus
from crossfury.core.errors import DecodeError
from crossfury.recorder.format import RecordingReader

log = logging.getLogger(__name__)

_APPLIED = (SyncStatus.APPLIED, SyncStatus.CROSSED)
_MAX_PENDING_TICKERS = 4096


class _Envelope(msgspec.Struct):
    """Routing fields of a combined-stream envelope or of a raw stream event."""

    stream: str = ""
    e: str = ""
    s: str = ""


class _Ticker(msgspec.Struct):
    u: int
    b: str
    B: str
    a: str
    A: str


class _TickerEnvelope(msgspec.Struct):
    data: _Ticker


_envelope = msgspec.json.Decoder(_Envelope)
_ticker_envelope = msgspec.json.Decoder(_TickerEnvelope)
_ticker = msgspec.json.Decoder(_Ticker)
_KINDS = {"depthUpdate": "depth", "bookTicker": "bookTicker", "trade": "trade", "aggTrade": "aggTrade"}


def _route(payload: bytes) -> tuple[str, str]:
    """Return (symbol, stream kind) of a message, or ("", "") for acks, errors and junk."""
    if payload.startswith(b'{"stream":"'):
        # Read the stream name off the bytes: cheap, and a message cut short still names its symbol.
        end = payload.find(b'"', 11)
        if end > 11:
            symbol, _, kind = payload[11:end].decode("ascii", "replace").partition("@")
            return symbol.upper(), kind
    try:
        env = _envelope.decode(payload)
    except msgspec.DecodeError:
        return "", ""
    if env.stream:
        symbol, _, kind = env.stream.partition("@")
        return symbol.upper(), kind
    return env.s.upper(), _KINDS.get(env.e, "")


@dataclass
class SymbolReplay:
    """What replaying one symbol found; ``as_dict`` gives the ``--json`` keys."""

    symbol: str
    book: SyncedBook | None = None
    lines: int = 0
    malformed: int = 0
    bbo_checks: int = 0
    bbo_mismatches: int = 0
    # bookTickers can arrive before the depth event with the same update id: hold them until it is applied.
    pending_tickers: OrderedDict = field(default_factory=OrderedDict)

    def as_dict(self) -> dict[str, Any]:
        stats = self.book.stats() if self.book else {}
        return {
            "lines": self.lines,
            "applied": stats.get("applied", 0),
            "stale": stats.get("stale", 0),
            "gaps": stats.get("gaps", 0),
            "resyncs": stats.get("resyncs", 0),
            "bbo_checks": self.bbo_checks,
            "bbo_mismatches": self.bbo_mismatches,
            "best_bid": list(self.book.best_bid()) if self.book and self.book.best_bid() else None,
            "best_ask": list(self.book.best_ask()) if self.book and self.book.best_ask() else None,
            "state": stats.get("state", "waiting"),
            "buffered": stats.get("buffered", 0),
            "crossed": stats.get("crossed", 0),
            "snapshots": stats.get("snapshots", 0),
            "malformed": self.malformed,
        }


@dataclass
class Replay:
    """Replay state across files given in order (a next-day file continues the books of the day before).

    ``rule`` forces a sync rule; by default each symbol's rule comes from its first depth event: events that
    carry a previous id ("pu") follow the prev-id rule (futures), the others the range rule (spot).
    """

    rule: SyncRule | str | None = None
    symbols: dict[str, SymbolReplay] = field(default_factory=dict)
    reader: RecordingReader | None = None
    unattributed: int = 0
    _pending_snapshot: bytes | None = None

    def run(self, paths: Iterable[str | Path]) -> dict[str, SymbolReplay]:
        """Replay the files in order and return the per-symbol results."""
        self.reader = RecordingReader([Path(p) for p in paths])
        current_file_symbol: str | None = None
        for line in self.reader:
            payload = line.payload
            if payload.startswith(b'{"lastUpdateId"'):
                self._on_snapshot(payload, current_file_symbol)
                continue
            symbol, kind = _route(payload)
            if not symbol:
                self.unattributed += 1
                continue
            rep = self._symbol(symbol)
            rep.lines += 1
            if kind.startswith("depth"):
                current_file_symbol = rep.symbol
                self._ensure_book(rep, payload)
                if self._pending_snapshot is not None:
                    rep.lines += 1
                    self._feed_snapshot(rep, self._pending_snapshot)
                    self._pending_snapshot = None
                self._on_depth(rep, payload)
            elif kind == "bookTicker":
                self._on_ticker(rep, payload)
        return self.symbols

    def _symbol(self, symbol: str) -> SymbolReplay:
        rep = self.symbols.get(symbol)
        if rep is None:
            rep = self.symbols[symbol] = SymbolReplay(symbol)
        return rep

    def _on_snapshot(self, payload: bytes, symbol: str | None) -> None:
        # A snapshot line names no symbol: it belongs to the depth stream of the file it sits in.
        if symbol is None:
            self._pending_snapshot = payload
            return
        rep = self.symbols[symbol]
        rep.lines += 1
        self._feed_snapshot(rep, payload)

    def _ensure_book(self, rep: SymbolReplay, depth_payload: bytes) -> None:
        if rep.book is None:
            rule = self.rule or (SyncRule.PREV_ID if b'"pu":' in depth_payload else SyncRule.RANGE)
            rep.book = SyncedBook(rule)

    def _feed_snapshot(self, rep: SymbolReplay, payload: bytes) -> None:
        try:
            status = rep.book.on_snapshot(payload)
        except DecodeError as exc:
            rep.malformed += 1
            log.warning("%s: snapshot refused: %s", rep.symbol, exc)
            return
        if status is SyncStatus.SNAPSHOT_OLD:
            log.warning("%s: snapshot is older than the buffered depth events; waiting for another", rep.symbol)
        elif status is SyncStatus.GAP:
            log.warning("%s: buffered depth events break continuity after the snapshot", rep.symbol)
        self._check_pending(rep)

    def _on_depth(self, rep: SymbolReplay, payload: bytes) -> None:
        try:
            status = rep.book.on_message(payload)
        except DecodeError as exc:
            rep.malformed += 1
            if rep.malformed <= 3:
                log.warning("%s: depth message refused: %s", rep.symbol, exc)
            return
        if status is SyncStatus.GAP:
            log.warning("%s: gap after update id; book invalid until a new snapshot", rep.symbol)
        elif status in _APPLIED:
            self._check_pending(rep)

    def _on_ticker(self, rep: SymbolReplay, payload: bytes) -> None:
        try:
            t = _ticker_envelope.decode(payload).data if payload.startswith(b'{"stream"') else _ticker.decode(payload)
        except msgspec.DecodeError:
            rep.malformed += 1
            return
        book = rep.book
        if book is None or not book.synced or t.u < book.last_id:
            return
        if t.u == book.last_id:
            self._check(rep, t)
        else:
            rep.pending_tickers[t.u] = t
            if len(rep.pending_tickers) > _MAX_PENDING_TICKERS:
                rep.pending_tickers.popitem(last=False)

    def _check_pending(self, rep: SymbolReplay) -> None:
        pending = rep.pending_tickers
        if not pending or rep.book is None or not rep.book.synced:
            return
        last_id = rep.book.last_id
        while pending:
            u, t = next(iter(pending.items()))
            if u > last_id:
                break
            pending.popitem(last=False)
            if u == last_id:
                self._check(rep, t)

    def _check(self, rep: SymbolReplay, t: _Ticker) -> None:
        rep.bbo_checks += 1
        if rep.book.best_bid() != (float(t.b), float(t.B)) or rep.book.best_ask() != (float(t.a), float(t.A)):
            rep.bbo_mismatches += 1
            if rep.bbo_mismatches <= 3:
                log.warning("%s: book top %s / %s differs from bookTicker u=%d %s@%s / %s@%s", rep.symbol,
                            rep.book.best_bid(), rep.book.best_ask(), t.u, t.B, t.b, t.A, t.a)


def replay(paths: Iterable[str | Path], rule: SyncRule | str | None = None) -> dict[str, dict[str, Any]]:
    """Replay recordings in order and return per-symbol results keyed by symbol (see ``crossfury replay``)."""
    return {sym: rep.as_dict() for sym, rep in Replay(rule=rule).run(paths).items()}
