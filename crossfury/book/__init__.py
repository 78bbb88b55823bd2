# SPDX-License-Identifier: MIT
"""Local L2 order books in C, kept in sync by the exchanges' update-id procedures.

``SyncedBook`` buffers depth events until a REST snapshot arrives, bridges the snapshot to the stream by
update ids, applies every later event after a continuity check, and on a gap marks itself invalid and
waits for a new snapshot. ``Book`` is the same C book without ids, for full-book streams and direct use.

Prices and quantities are held exactly as integers on the instrument's grid (tick and lot size), or on a
grid inferred from the text when the sizes are not given. They come out as floats (identical to
``float(text)``) or as exact decimal text.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np

from crossfury._native.book import RULE_NONE, RULE_PREV_ID, RULE_RANGE, NativeBook
from crossfury._native.decode import parse_decimal
from crossfury._native.status import SyncState, SyncStatus
from crossfury.core.errors import DecodeError, NumberError
from crossfury.events.dtypes import LEVEL_DTYPE
from crossfury.exchanges.binance import layouts as binance_layouts

__all__ = [
    "LEVEL_DTYPE",
    "Book",
    "BookTop",
    "SyncRule",
    "SyncState",
    "SyncStatus",
    "SyncedBook",
    "parse_decimal",
]

Levels = Sequence[Sequence[str | bytes]]


class SyncRule(enum.StrEnum):
    """Update-id continuity rules, named by their shape (see csrc/book/sync.h)."""

    NONE = "none"        # no ids: events apply at once, snapshots replace
    RANGE = "range"      # [first_id, last_id] per event; first_id == previous last_id + 1 (Binance spot)
    PREV_ID = "prev-id"  # prev_id == previous last_id (Binance USD-M, COIN-M, Portfolio Margin)


_RULE_ALIASES = {
    "binance-spot": SyncRule.RANGE,
    "binance-futures": SyncRule.PREV_ID,
    "binance-usdm": SyncRule.PREV_ID,
    "binance-coinm": SyncRule.PREV_ID,
    "binance-papi": SyncRule.PREV_ID,
}
_RULE_CODES = {SyncRule.NONE: RULE_NONE, SyncRule.RANGE: RULE_RANGE, SyncRule.PREV_ID: RULE_PREV_ID}


def _rule(rule: SyncRule | str) -> SyncRule:
    if isinstance(rule, SyncRule):
        return rule
    try:
        return _RULE_ALIASES.get(rule) or SyncRule(rule)
    except ValueError:
        known = sorted([r.value for r in SyncRule] + list(_RULE_ALIASES))
        raise ValueError(f"unknown sync rule {rule!r}; expected one of {', '.join(known)}") from None


class BookTop(NamedTuple):
    """Best levels, best first, as float arrays; all empty and valid=False while the book is not synced."""

    bid_px: np.ndarray
    bid_qty: np.ndarray
    ask_px: np.ndarray
    ask_qty: np.ndarray
    valid: bool


def _size_text(size: str | float | Decimal | None) -> str | None:
    """Decimal text of a tick or lot size; floats go through their shortest repr (0.1 -> "0.1")."""
    if size is None or isinstance(size, str):
        return size
    if isinstance(size, float):
        size = Decimal(repr(size))
    return format(Decimal(size), "f")


def _side_index(side: str | Any) -> int:
    name = str(getattr(side, "value", side)).lower()
    if name in ("bid", "bids", "buy", "b"):
        return 0
    if name in ("ask", "asks", "sell", "a"):
        return 1
    raise ValueError(f"side must be bid or ask, got {side!r}")


class _BookReaders(NativeBook):
    """Readers shared by Book and SyncedBook (the hot ones, best_bid/best_ask, live in C)."""

    def top(self, n: int = 10) -> BookTop:
        """Return up to n best levels per side as float arrays."""
        bids, asks = self.top_ticks(n)
        return BookTop(
            self.prices_from_ticks(bids["px"].copy()),
            self.quantities_from_lots(bids["qty"].copy()),
            self.prices_from_ticks(asks["px"].copy()),
            self.quantities_from_lots(asks["qty"].copy()),
            self.synced,
        )

    def top_text(self, n: int = 10) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Return up to n best levels per side as exact (price, quantity) decimal text, best first."""
        bids, asks = self.top_ticks(n)
        return (
            [(self.price_text(int(p)), self.quantity_text(int(q))) for p, q in bids.tolist()],
            [(self.price_text(int(p)), self.quantity_text(int(q))) for p, q in asks.tolist()],
        )

    def qty_at(self, side: str, price: str | bytes) -> float:
        """Return the quantity at a price (decimal text) on "bid" or "ask"; 0.0 when there is no level."""
        parse_decimal(price)  # a malformed price is an error, not an empty level
        try:
            ticks = self.price_to_ticks(price)
        except NumberError:  # off the grid: no level can be there
            return 0.0
        lots = self.quantity_at_ticks(_side_index(side), ticks)
        return float(self.quantities_from_lots(np.array([lots], dtype=np.int64))[0])

    @property
    def state(self) -> SyncState:
        return SyncState(self.state_name)

    def stats(self) -> dict[str, Any]:
        """Return the counters (applied, stale, buffered, gaps, resyncs, ...) and the state."""
        return self.counters()


class Book(_BookReaders):
    """An L2 book with no update ids: apply level changes, replace with snapshots, read the top.

    >>> book = Book(tick_size="0.1")
    >>> book.apply(bids=[["100.1", "2"]], asks=[["100.2", "1.5"]])
    <SyncStatus.APPLIED: 0>
    >>> book.best_bid()
    (100.1, 2.0)
    """

    def __new__(cls, tick_size: str | float | Decimal | None = None, lot_size: str | float | Decimal | None = None):
        return super().__new__(cls, RULE_NONE, _size_text(tick_size), _size_text(lot_size))

    def __init__(self, tick_size=None, lot_size=None):
        pass

    def apply(self, bids: Levels = (), asks: Levels = ()) -> SyncStatus:
        """Set each level's absolute quantity (quantity "0" removes it). All or nothing on bad input."""
        return SyncStatus(self.on_depth_levels(0, 0, None, bids, asks))

    def replace(self, bids: Levels = (), asks: Levels = ()) -> SyncStatus:
        """Replace the whole book with these levels."""
        return SyncStatus(self.on_snapshot_levels(0, bids, asks))

    def clear(self) -> None:
        """Remove every level."""
        self.on_snapshot_levels(0, (), ())

    def __repr__(self) -> str:
        return f"Book(bids={self.bid_count}, asks={self.ask_count}, best_bid={self.best_bid()}, best_ask={self.best_ask()})"


def _id(obj: dict, key: str, what: str) -> int:
    value = obj.get(key)
    if type(value) is not int or not 0 <= value < 2**63 - 1:
        raise DecodeError(f"{what} field {key!r} is {value!r}, expected a non-negative 64-bit integer")
    return value


def _levels(obj: dict, key: str, what: str) -> list:
    value = obj.get(key)
    if type(value) is not list:
        raise DecodeError(f"{what} field {key!r} is {type(value).__name__}, expected a list of levels")
    return value


class SyncedBook(_BookReaders):
    """An L2 book kept in sync with a depth stream by an exchange's update-id rule.

    Feed it every raw depth message with ``on_message`` and the REST depth body with ``on_snapshot``, in
    the order they arrive; it buffers, bridges, applies and detects gaps. While ``synced`` is False the
    readers return None or empty arrays, so no stale top of book is ever reported as valid.

    Parameters
    ----------
    rule:
        "binance-spot" / "range", "binance-futures" / "prev-id", or a SyncRule.
    tick_size, lot_size:
        The instrument's sizes as decimal text (floats accepted); None infers the grid from the text seen.
    max_buffered_events, max_buffered_levels:
        Bounds of the buffer held while waiting for a snapshot; overflowing it discards the buffer and
        reports a GAP (a resync).
    """

    def __new__(cls, rule: SyncRule | str, tick_size=None, lot_size=None, *, max_buffered_events: int = 4096,
                max_buffered_levels: int = 1 << 20):
        r = _rule(rule)
        self = super().__new__(cls, _RULE_CODES[r], _size_text(tick_size), _size_text(lot_size),
                               max_buffered_events, max_buffered_levels)
        return self

    def __init__(self, rule: SyncRule | str, tick_size=None, lot_size=None, *, max_buffered_events: int = 4096,
                 max_buffered_levels: int = 1 << 20):
        self.rule = _rule(rule)
        # Binance's depth and snapshot shapes are the only ones with these rules so far.
        self.set_layouts(binance_layouts.DEPTH, binance_layouts.SNAPSHOT)

    def on_snapshot(self, body: bytes | str | dict) -> SyncStatus:
        """Install a REST depth snapshot body ({"lastUpdateId", "bids", "asks"}) and replay the buffer.

        Raw bytes or str are decoded in C; an already-parsed dict is accepted too.
        """
        if not isinstance(body, dict):
            return self.on_snapshot_message(body)
        return SyncStatus(self.on_snapshot_levels(
            _id(body, "lastUpdateId", "depth snapshot"),
            _levels(body, "bids", "depth snapshot"),
            _levels(body, "asks", "depth snapshot"),
        ))

    # on_message(msg) and on_messages(msgs) are the C fused path (crossfury._native.book.NativeBook):
    # one raw WebSocket text (depthUpdate, bare or in a combined-stream envelope) -> SyncStatus.

    def on_depth(self, first_id: int, last_id: int, prev_id: int | None, bids: Levels, asks: Levels) -> SyncStatus:
        """Feed one already-decoded depth event: its update ids and [price, quantity] text levels."""
        return SyncStatus(self.on_depth_levels(first_id, last_id, prev_id, bids, asks))

    def __repr__(self) -> str:
        return (f"SyncedBook(rule={self.rule.value!r}, state={self.state_name!r}, last_id={self.last_id}, "
                f"bids={self.bid_count}, asks={self.ask_count})")
