# SPDX-License-Identifier: MIT
"""Plain-Python twins of the C book kernels, for property tests (STYLE.md section 10).

``parse_decimal`` mirrors csrc/common/decimal.c, ``ReferenceBook`` the unsequenced book and
``ReferenceSync`` the update-id synchroniser of csrc/book/sync.c. Values are exact ``Fraction`` keys in
dicts; the only integer arithmetic kept from C is the int64 range of a value on its grid, because that
decides which texts the C book refuses. Slow on purpose: nothing here is clever.

Errors carry the C status as ``kind``: "badnum", "range", "negative", "scale" (``ReferenceNumberError``),
"badmsg" for inconsistent update ids and "decode" for levels of the wrong shape or type
(``ReferenceDecodeError``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from crossfury.book import SyncRule, SyncState, SyncStatus
from crossfury.core.errors import DecodeError, NumberError

__all__ = ["ReferenceBook", "ReferenceDecodeError", "ReferenceNumberError", "ReferenceSync", "ReferenceTop",
           "parse_decimal"]

INT64_MAX = 2**63 - 1
MAX_DECIMALS = 18  # 10^18 is the largest power of ten in an int64
_SIDES = ("bid", "ask")
_FIELDS = ("price", "quantity")

# ASCII digits only: [0-9], never \d, which also matches "１" and other Unicode digits.
_DECIMAL = re.compile(r"(-?)([0-9]*)(?:\.([0-9]*))?")

Levels = Sequence[Sequence[str | bytes]]


class ReferenceNumberError(NumberError):
    """A refused price or quantity text, with the C category in ``kind`` and where it was."""

    def __init__(self, kind: str, value: Any, side: int | None = None, index: int | None = None,
                 field: int | None = None, stage: str = "parse"):
        where = "" if side is None else f"{_SIDES[side]} {_FIELDS[field]} level {index}: "
        super().__init__(f"{where}{value!r} refused ({kind})")
        self.kind = kind
        self.value = value
        self.side = side
        self.index = index
        self.field = field
        self.stage = stage  # "parse", "grow" (an inferred grid could not gain decimals) or "ticks"


class ReferenceDecodeError(DecodeError):
    """A message the book refuses before looking at numbers: "decode" (level shape/type) or "badmsg" (ids)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _text(value: str | bytes) -> str:
    # The C parser reads bytes; any non-ASCII byte is simply not a digit, which latin-1 preserves one to one.
    return value.decode("latin-1") if type(value) is bytes else value


def parse_decimal(text: str | bytes) -> tuple[int, int]:
    """Parse decimal text into (mantissa, decimals) with trailing fractional zeros dropped.

    Raises
    ------
    ReferenceNumberError
        kind "badnum" for anything but [-]digits[.digits] with at least one digit, kind "range" for more
        than 18 significant decimals or digits worth more than 2**63 - 1.
    ReferenceDecodeError
        kind "decode" when text is neither str nor bytes.
    """
    if type(text) is not str and type(text) is not bytes:
        raise ReferenceDecodeError("decode", f"value {text!r} is a {type(text).__name__}, expected text")
    match = _DECIMAL.fullmatch(_text(text))
    if match is None:
        raise ReferenceNumberError("badnum", text)
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if not whole and not frac:
        raise ReferenceNumberError("badnum", text)
    frac = frac.rstrip("0")
    if len(frac) > MAX_DECIMALS:
        raise ReferenceNumberError("range", text)
    mantissa = int(whole + frac) if whole + frac else 0
    if mantissa > INT64_MAX:
        raise ReferenceNumberError("range", text)
    return (-mantissa if sign else mantissa), len(frac)


def _size_text(size: Any) -> str | bytes | None:
    if size is None or isinstance(size, (str, bytes)):
        return size
    if isinstance(size, float):
        size = Decimal(repr(size))
    return format(Decimal(size), "f")


# A price or quantity grid: fixed from a tick/lot size, or inferred (its decimals grow with the text).
class _Grid:

    def __init__(self, size: Any, what: str):
        size = _size_text(size)
        self.fixed = size is not None
        self.step, self.decimals = 1, 0
        if size is not None:
            try:
                mantissa, decimals = parse_decimal(size)
            except (NumberError, DecodeError):
                mantissa, decimals = 0, 0
            if mantissa <= 0:
                raise NumberError(f"{what} {size!r} is not a positive decimal number")
            self.step, self.decimals = mantissa, decimals

    # Why a value cannot be held on this grid ("scale", "range"), or None; cf_scale_to_ticks's order.
    def refusal(self, mantissa: int, decimals: int) -> str | None:
        if decimals > self.decimals:
            return "scale"
        units = mantissa * 10 ** (self.decimals - decimals)  # the value in units of 10^-decimals
        if units > INT64_MAX:
            return "range"
        if units % self.step:
            return "scale"
        return None

    def fits(self, value: Fraction, decimals: int) -> bool:
        return value * 10**decimals <= INT64_MAX

    def text(self, value: Fraction) -> str:
        units = value * 10**self.decimals
        assert units.denominator == 1, "a held value is always on its grid"
        digits = str(abs(units.numerator)).rjust(self.decimals + 1, "0")
        sign = "-" if units < 0 else ""
        if self.decimals == 0:
            return sign + digits
        return f"{sign}{digits[:-self.decimals]}.{digits[-self.decimals:]}"


class ReferenceTop(NamedTuple):
    """Best levels, best first, as lists of floats; all empty and valid=False while not synced."""

    bid_px: list[float]
    bid_qty: list[float]
    ask_px: list[float]
    ask_qty: list[float]
    valid: bool


class _Event(NamedTuple):
    first_id: int
    last_id: int
    prev_id: int | None
    bids: list[tuple[Fraction, Fraction]]
    asks: list[tuple[Fraction, Fraction]]


_COUNTERS = ("applied", "stale", "buffered", "gaps", "resyncs", "overflows", "crossed", "snapshots",
             "old_snapshots", "rejected")


class ReferenceSync:
    """A dict L2 book kept in sync by an update-id rule: the twin of ``SyncedBook`` (csrc/book/sync.c).

    Parameters
    ----------
    rule:
        "none", "range" (binance.md section 5.1) or "prev-id" (section 5.2), or a SyncRule.
    tick_size, lot_size:
        Grid sizes as decimal text; None infers the grid from the text seen.
    """

    def __init__(self, rule: SyncRule | str = SyncRule.NONE, tick_size: Any = None, lot_size: Any = None, *,
                 max_buffered_events: int = 4096, max_buffered_levels: int = 1 << 20):
        self.rule = SyncRule(rule)
        if max_buffered_events <= 0 or max_buffered_levels <= 0:
            raise ValueError("buffer bounds must be positive")
        self._px = _Grid(tick_size, "tick size")
        self._qty = _Grid(lot_size, "lot size")
        self._max_events = max_buffered_events
        self._max_levels = max_buffered_levels
        self._bids: dict[Fraction, Fraction] = {}
        self._asks: dict[Fraction, Fraction] = {}
        self._buffer: list[_Event] = []
        self._counters = dict.fromkeys(_COUNTERS, 0)
        self._state = SyncState.SYNCED if self.rule is SyncRule.NONE else SyncState.WAITING
        self._last_id: int | None = 0 if self.rule is SyncRule.NONE else None
        self._awaiting_bridge = False  # a snapshot is installed and no event has been applied over it yet

    # -- feeding ---------------------------------------------------------------------------------------

    def on_depth(self, first_id: int, last_id: int, prev_id: int | None, bids: Levels,
                 asks: Levels) -> SyncStatus:
        """Feed one depth event with its update ids; return its status as the C synchroniser does."""
        _check_shapes(bids, asks)
        if self.rule is SyncRule.NONE:
            event = self._quantize(0, 0, None, bids, asks)
            return self._apply_unsequenced(event, replace=False)
        if first_id < 0 or first_id > last_id or last_id == INT64_MAX or (
                self.rule is SyncRule.PREV_ID and prev_id is None):
            self._counters["rejected"] += 1
            raise ReferenceDecodeError("badmsg", f"inconsistent ids {first_id}, {last_id}, {prev_id}")
        ids = _Event(first_id, last_id, prev_id, [], [])
        # A synced book drops events it already holds before looking at their numbers.
        if self._state is SyncState.SYNCED and self._is_stale(ids):
            self._counters["stale"] += 1
            return SyncStatus.STALE
        event = self._quantize(first_id, last_id, prev_id, bids, asks)
        if self._state is not SyncState.SYNCED:
            return self._buffer_event(event)
        return self._apply_synced(event)

    def on_snapshot_levels(self, last_id: int, bids: Levels, asks: Levels) -> SyncStatus:
        """Install a snapshot at update id last_id and replay the buffered events over it."""
        _check_shapes(bids, asks)
        if last_id < 0 or last_id == INT64_MAX:
            self._counters["rejected"] += 1
            raise ReferenceDecodeError("badmsg", f"snapshot id {last_id}")
        if self.rule is SyncRule.NONE:
            snapshot = self._quantize(0, last_id, None, bids, asks)
            self._last_id = last_id
            return self._apply_unsequenced(snapshot, replace=True)
        if self._state is SyncState.SYNCED and last_id <= self._last_id:
            self._counters["stale"] += 1
            return SyncStatus.STALE
        snapshot = self._quantize(0, last_id, None, bids, asks)

        self._last_id, self._awaiting_bridge = last_id, True
        pending = self._buffer
        first = 0
        while first < len(pending) and self._is_stale(pending[first]):
            first += 1
        # binance.md 5.1 step 3 / 5.2 step 4: the first event the snapshot lacks must bridge it.
        if first < len(pending) and not self._continues(pending[first]):
            self._last_id, self._awaiting_bridge = None, False
            self._counters["old_snapshots"] += 1
            return SyncStatus.SNAPSHOT_OLD

        self._bids, self._asks = {}, {}
        _set_levels(self._bids, snapshot.bids)
        _set_levels(self._asks, snapshot.asks)
        self._state = SyncState.SYNCED
        self._counters["snapshots"] += 1
        self._counters["stale"] += first
        for k in range(first, len(pending)):
            event = pending[k]
            if self._is_stale(event):
                self._counters["stale"] += 1
                continue
            if not self._continues(event):
                self._counters["gaps"] += 1
                self._lose_sync()
                self._buffer = pending[k:]  # the breaking event and all after it wait for the next snapshot
                return SyncStatus.GAP
            self._apply_synced(event)
        self._buffer = []
        return SyncStatus.CROSSED if self.crossed else SyncStatus.APPLIED

    def reset(self) -> None:
        """Drop the book and the buffer and wait for a new snapshot."""
        self._buffer = []
        self._lose_sync()

    # -- rules -----------------------------------------------------------------------------------------

    def _is_stale(self, ev: _Event) -> bool:
        # prev-id before the first apply: drop only u < L (binance.md 5.2 step 3), an event ending at L
        # still bridges. Otherwise an event ending at or before the book's id is already in the book.
        if self.rule is SyncRule.PREV_ID and self._awaiting_bridge:
            return ev.last_id < self._last_id
        return ev.last_id <= self._last_id

    def _continues(self, ev: _Event) -> bool:
        if self.rule is SyncRule.RANGE:  # binance.md 5.1 steps 4-5 (sync.h: later first_id == last_id + 1)
            if self._awaiting_bridge:
                return ev.first_id <= self._last_id + 1
            return ev.first_id == self._last_id + 1
        if self._awaiting_bridge:  # binance.md 5.2 steps 4-5
            return ev.first_id <= self._last_id
        return ev.prev_id == self._last_id

    def _apply_synced(self, event: _Event) -> SyncStatus:
        if not self._continues(event):
            self._counters["gaps"] += 1
            self._lose_sync()
            self._buffer_event(event)
            return SyncStatus.GAP
        _set_levels(self._bids, event.bids)
        _set_levels(self._asks, event.asks)
        self._last_id, self._awaiting_bridge = event.last_id, False
        self._counters["applied"] += 1
        if self.crossed:
            self._counters["crossed"] += 1
            return SyncStatus.CROSSED
        return SyncStatus.APPLIED

    def _apply_unsequenced(self, event: _Event, replace: bool) -> SyncStatus:
        if replace:
            self._bids, self._asks = {}, {}
        _set_levels(self._bids, event.bids)
        _set_levels(self._asks, event.asks)
        self._counters["snapshots" if replace else "applied"] += 1
        if self.crossed:
            self._counters["crossed"] += 1
            return SyncStatus.CROSSED
        return SyncStatus.APPLIED

    def _buffer_event(self, event: _Event) -> SyncStatus:
        n = len(event.bids) + len(event.asks)
        status = SyncStatus.BUFFERED
        if len(self._buffer) == self._max_events or self._buffered_levels() + n > self._max_levels:
            self._buffer = []
            self._counters["overflows"] += 1
            self._counters["resyncs"] += 1
            status = SyncStatus.GAP
            if n > self._max_levels:  # not even this one event fits
                return status
        self._buffer.append(event)
        self._counters["buffered"] += 1
        return status

    def _buffered_levels(self) -> int:
        return sum(len(e.bids) + len(e.asks) for e in self._buffer)

    def _lose_sync(self) -> None:
        self._state = SyncState.RESYNCING
        self._awaiting_bridge = False
        self._last_id = None
        self._bids, self._asks = {}, {}
        self._counters["resyncs"] += 1

    # -- numbers ---------------------------------------------------------------------------------------

    # Parse and check every level (bids, then asks; price, then quantity), or refuse the whole message.
    def _quantize(self, first_id: int, last_id: int, prev_id: int | None, bids: Levels,
                  asks: Levels) -> _Event:
        rows = [(0, i, level) for i, level in enumerate(bids)]
        rows += [(1, i, level) for i, level in enumerate(asks)]
        parsed = []
        for side, index, level in rows:
            numbers = []
            for field in (0, 1):
                try:
                    mantissa, decimals = parse_decimal(level[field])
                except ReferenceNumberError as exc:
                    self._reject(exc.kind, level[field], side, index, field, "parse")
                if mantissa < 0:
                    self._reject("negative", level[field], side, index, field, "parse")
                numbers.append((mantissa, decimals))
            parsed.append((side, index, level, numbers))

        # An inferred grid takes the most decimals seen; every value already held (book and buffer, zero
        # quantities included) must still fit in int64 on the grown grid, or nothing grows.
        grown = []
        for field, grid in ((0, self._px), (1, self._qty)):
            widest = None
            for row in parsed:
                if row[3][field][1] > (grid.decimals if widest is None else widest[3][field][1]):
                    widest = row
            if grid.fixed or widest is None:
                continue
            decimals = widest[3][field][1]
            if not all(grid.fits(value, decimals) for value in self._held(field)):
                self._reject("range", widest[2][field], widest[0], widest[1], field, "grow")
            grown.append((grid, decimals))
        for grid, decimals in grown:
            grid.decimals = decimals

        event = _Event(first_id, last_id, prev_id, [], [])
        for side, index, level, numbers in parsed:
            values = []
            for field, grid in ((0, self._px), (1, self._qty)):
                mantissa, decimals = numbers[field]
                refusal = grid.refusal(mantissa, decimals)
                if refusal:
                    self._reject(refusal, level[field], side, index, field, "ticks")
                values.append(Fraction(mantissa, 10**decimals))
            (event.bids if side == 0 else event.asks).append((values[0], values[1]))
        return event

    def _held(self, field: int) -> list[Fraction]:
        out = [pair[field] for side in (self._bids, self._asks) for pair in side.items()]
        for event in self._buffer:
            out.extend(pair[field] for pair in event.bids + event.asks)
        return out

    def _reject(self, kind: str, value: Any, side: int, index: int, field: int, stage: str) -> None:
        self._counters["rejected"] += 1
        raise ReferenceNumberError(kind, value, side, index, field, stage)

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        return self._state is SyncState.SYNCED

    @property
    def state(self) -> SyncState:
        return self._state

    @property
    def last_id(self) -> int | None:
        return self._last_id if self.synced else None

    @property
    def bid_count(self) -> int:
        return len(self._bids)

    @property
    def ask_count(self) -> int:
        return len(self._asks)

    @property
    def price_decimals(self) -> int:
        return self._px.decimals

    @property
    def quantity_decimals(self) -> int:
        return self._qty.decimals

    @property
    def crossed(self) -> bool:
        """True when both sides hold levels and best bid >= best ask."""
        return bool(self._bids and self._asks and max(self._bids) >= min(self._asks))

    def _sorted(self, side: int) -> list[tuple[Fraction, Fraction]]:
        book = self._bids if side == 0 else self._asks
        return sorted(book.items(), reverse=side == 0)

    def _best(self, side: int) -> tuple[float, float] | None:
        levels = self._sorted(side) if self.synced else []
        if not levels:
            return None
        px, qty = levels[0]
        return float(self._px.text(px)), float(self._qty.text(qty))

    def best_bid(self) -> tuple[float, float] | None:
        """Return the best bid as float(text) of its exact price and quantity; None if empty or not synced."""
        return self._best(0)

    def best_ask(self) -> tuple[float, float] | None:
        """Return the best ask as float(text) of its exact price and quantity; None if empty or not synced."""
        return self._best(1)

    def top_text(self, n: int = 10) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Return up to n best levels per side as decimal text with the grid's decimals, best first."""
        if not self.synced:
            return [], []
        bids, asks = ([(self._px.text(px), self._qty.text(qty)) for px, qty in self._sorted(side)[:n]]
                      for side in (0, 1))
        return bids, asks

    def top(self, n: int = 10) -> ReferenceTop:
        """Return up to n best levels per side as lists of floats."""
        bids, asks = self.top_text(n)
        return ReferenceTop([float(p) for p, _ in bids], [float(q) for _, q in bids],
                            [float(p) for p, _ in asks], [float(q) for _, q in asks], self.synced)

    def qty_at(self, side: str, price: str | bytes) -> float:
        """Return the quantity at a price on "bid" or "ask"; 0.0 off the grid or when there is no level."""
        mantissa, decimals = parse_decimal(price)
        if self._px.refusal(mantissa, decimals):
            return 0.0
        book = self._bids if side in ("bid", "bids", "buy", "b") else self._asks
        qty = book.get(Fraction(mantissa, 10**decimals))
        return 0.0 if qty is None else float(self._qty.text(qty))

    def stats(self) -> dict[str, Any]:
        """Return the counters, state and level counts with the keys of ``SyncedBook.stats()``."""
        return {
            "state": self._state.value,
            **self._counters,
            "buffered_now": len(self._buffer),
            "last_id": self.last_id,
            "bid_levels": self.bid_count,
            "ask_levels": self.ask_count,
        }


class ReferenceBook(ReferenceSync):
    """A dict L2 book with no update ids: the twin of ``Book``."""

    def __init__(self, tick_size: Any = None, lot_size: Any = None):
        super().__init__(SyncRule.NONE, tick_size, lot_size)

    def apply(self, bids: Levels = (), asks: Levels = ()) -> SyncStatus:
        """Set each level's absolute quantity (quantity 0 removes it); all or nothing on bad input."""
        return self.on_depth(0, 0, None, bids, asks)

    def replace(self, bids: Levels = (), asks: Levels = ()) -> SyncStatus:
        """Replace the whole book with these levels (a repeated price keeps its last quantity)."""
        return self.on_snapshot_levels(0, bids, asks)

    def clear(self) -> None:
        """Remove every level."""
        self.on_snapshot_levels(0, (), ())


def _check_shapes(bids: Levels, asks: Levels) -> None:
    # The wrapper turns every level into text pointers before C sees any number.
    for levels in (bids, asks):
        for level in levels:
            if (type(level) is not list and type(level) is not tuple) or len(level) < 2:
                raise ReferenceDecodeError("decode", f"book level {level!r} is not a [price, quantity] pair")
            for value in level[:2]:
                if type(value) is not str and type(value) is not bytes:
                    raise ReferenceDecodeError("decode", f"level value {value!r} is not text")


def _set_levels(book: dict[Fraction, Fraction], levels: list[tuple[Fraction, Fraction]]) -> None:
    for px, qty in levels:
        if qty == 0:
            book.pop(px, None)  # removing an absent level is normal (binance.md 5.1 step 5)
        else:
            book[px] = qty
