# SPDX-License-Identifier: MIT
"""The C book and synchroniser against their pure-Python twins in crossfury/book/reference.py.

One test body runs every scenario: the same generated operations go to the C object and to the reference,
and after each step the outcome (status or error category) and everything readable must be equal.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crossfury.book import Book, SyncedBook, parse_decimal
from crossfury.book.reference import (
    ReferenceBook,
    ReferenceDecodeError,
    ReferenceNumberError,
    ReferenceSync,
)
from crossfury.book.reference import parse_decimal as reference_parse_decimal
from crossfury.core.errors import DecodeError, NumberError

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Texts the C parser must refuse or accept exactly as the reference does. Lone surrogates are left out:
# the wrapper raises UnicodeEncodeError for them (see test_book_lone_surrogate_text_raises_number_error).
HOSTILE_TEXTS = [
    "NaN", "nan", "inf", "-inf", "Infinity", "1e5", "1E-3", "", ".", "-", "-.", "-1", "-0.5", "-0", "-0.000",
    " 1", "1 ", "+1", "1_000", "0x10", "1,5", "1.2.3", "--1", "１", "١٢", "1\x00", "\x001", "9" * 40,
    "0" * 40 + "1", "1." + "0" * 30, "0." + "1" * 19, "0." + "0" * 18 + "1", "0.000000000000000001",
    "9223372036854775807", "9223372036854775808", "922337203685477580.7", "922337203685477580.8",
    "-9223372036854775808", "99999999999999999999", "1" * 19, "1000000000000000000",
    b"100", b"1.5", b"-1", b"\xff", b"\xef\xbc\x91", b"", b"1e3",
]
HOSTILE_LEVELS = [[1, "2"], ["1", 2.5], ["1"], [], None, "12", {"p": "1"}, ["1", None],
                  [b"1", bytearray(b"2")]]


@dataclass(frozen=True)
class Scenario:
    name: str
    rule: str | None  # None: the unsequenced Book
    tick_size: str | None = None
    lot_size: str | None = None
    max_events: int = 4096
    max_levels: int = 1 << 20
    raw: bool = False  # feed the C book raw JSON (on_message / on_snapshot bytes) instead of decoded levels

    def make(self) -> tuple[Any, Any]:
        if self.rule is None:
            return Book(self.tick_size, self.lot_size), ReferenceBook(self.tick_size, self.lot_size)
        kwargs = {"max_buffered_events": self.max_events, "max_buffered_levels": self.max_levels}
        return (SyncedBook(self.rule, self.tick_size, self.lot_size, **kwargs),
                ReferenceSync(self.rule, self.tick_size, self.lot_size, **kwargs))


SCENARIOS = [
    Scenario("book-inferred", None),
    Scenario("book-fixed", None, tick_size="0.5", lot_size="0.001"),
    Scenario("range", "range"),
    Scenario("prev-id", "prev-id"),
    Scenario("range-fixed-small-buffer", "range", tick_size="0.01", lot_size="0.1", max_events=3,
             max_levels=10),
    Scenario("prev-id-small-buffer", "prev-id", max_events=4, max_levels=6),
    Scenario("range-raw-json", "range", raw=True),
    Scenario("prev-id-raw-json-fixed", "prev-id", tick_size="0.01", max_events=5, max_levels=16, raw=True),
]


# -- generated input -------------------------------------------------------------------------------------

def _fixed_text(units: int, decimals: int, pad: int) -> str:
    digits = str(units).rjust(decimals + 1, "0")
    text = f"{digits[:-decimals]}.{digits[-decimals:]}" if decimals else digits
    return text + ("." if pad and not decimals else "") + "0" * pad


@st.composite
def value_text(draw, size: str | None, near: int, spread: int = 0) -> str | bytes:
    """A price or quantity on the grid (near `near` grid steps), sometimes off it or with extra decimals."""
    step = Decimal(size) if size else Decimal(1) / 100
    steps = max(0, near + (draw(st.integers(-spread, spread)) if spread else 0))
    style = draw(st.integers(0, 479))  # one draw for the text's style keeps generation fast
    value = step * steps
    if style >= 464:  # more decimals than the grid: grows an inferred one, off a fixed one
        value += Decimal(style % 9 + 1) / 10 ** (3 + style % 16)
    decimals = max(0, -value.normalize().as_tuple().exponent)
    text = _fixed_text(int(value.scaleb(decimals)), decimals, (0, 0, 0, 1, 3)[style % 5])
    return text.encode() if style % 16 == 15 else text


@st.composite
def hostile_text(draw) -> str | bytes:
    return draw(st.one_of(
        st.sampled_from(HOSTILE_TEXTS),
        st.text(alphabet="0123456789.-+eE _", max_size=24),
        st.binary(max_size=6),
    ))


@st.composite
def levels(draw, scenario: Scenario, side: int, mid: int, hostile: bool, max_size: int = 4) -> list:
    spread = draw(st.sampled_from([5, 5, 20000]))  # clustered near the top, or deep
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        flags = draw(st.integers(0, 159))
        if hostile and flags >= 140:
            good = [draw(value_text(scenario.tick_size, mid)), draw(value_text(scenario.lot_size, 5))]
            if flags >= 155:
                out.append(draw(st.sampled_from(HOSTILE_LEVELS)))
            else:
                good[flags % 2] = draw(hostile_text())
                out.append(good)
            continue
        offset = draw(st.integers(1, spread)) * (-1 if side == 0 else 1)
        if flags // 8 == 16:
            offset = -offset  # a crossing level
        px = draw(value_text(scenario.tick_size, mid + offset))
        qty = "0" if (flags // 2) % 4 == 3 else draw(value_text(scenario.lot_size, 20, 19))
        out.append((px, qty) if flags % 2 else [px, qty])
    return out


@st.composite
def operations(draw, scenario: Scenario) -> list[tuple]:
    """Operations for one book: good streams with duplicates, reordering, gaps, snapshots and bad input."""
    hostile = draw(st.integers(0, 2)) == 0
    mid = 2000  # in grid steps; it drifts, and jumps to 0 or far away to stress the edges
    ops = []
    stream_id = draw(st.integers(0, 50))
    last = (stream_id, stream_id, stream_id)
    for _ in range(draw(st.integers(1, 25))):
        move = draw(st.integers(0, 39))
        mid = (0, 30000, 2000)[move % 3] if move >= 37 else max(0, mid + move % 5 - 2)
        bids = draw(levels(scenario, 0, mid, hostile))
        asks = draw(levels(scenario, 1, mid, hostile))
        if scenario.rule is None:
            kind = draw(st.sampled_from(["apply"] * 6 + ["replace", "replace", "clear"]))
            ops.append((kind, bids, asks))
            continue
        kind = draw(st.sampled_from(["next"] * 12 + ["gap", "dup", "old", "overlap", "bad-ids", "snapshot",
                                                       "snapshot", "snapshot", "snapshot", "reset"]))
        if kind == "snapshot":
            last_id = max(0, stream_id + draw(st.sampled_from([-6, -3, -2, -1, 0, 0, 1, 2])))
            snap_bids = draw(levels(scenario, 0, mid, hostile, max_size=8))
            snap_asks = draw(levels(scenario, 1, mid, hostile, max_size=8))
            ops.append(("snapshot", last_id, snap_bids, snap_asks))
            continue
        if kind == "reset":
            ops.append(("reset",))
            continue
        if kind == "next":  # futures ranges need not touch: U may sit above pu + 1
            first = stream_id + 1 + (draw(st.integers(0, 2)) if scenario.rule == "prev-id" else 0)
            ids = (first, first + draw(st.integers(0, 3)), stream_id)
        elif kind == "gap":
            first = stream_id + 2 + draw(st.integers(0, 3))
            ids = (first, first + draw(st.integers(0, 3)), stream_id + 1)
        elif kind == "dup":
            ids = last
        elif kind == "old":
            u = max(0, stream_id - draw(st.integers(0, 5)))
            ids = (max(0, u - draw(st.integers(0, 3))), u, max(0, u - 4))
        elif kind == "overlap":
            ids = (max(0, stream_id - 1), stream_id + 2, stream_id)
        else:
            ids = draw(st.sampled_from([(5, 4, 3), (-1, 3, 0), (3, 2**63 - 1, 2),
                                        (stream_id + 1, stream_id + 1, None)]))
        if kind in ("next", "gap", "overlap"):
            stream_id = ids[1]
        last = ids
        prev_id = ids[2] if scenario.rule == "prev-id" else None
        ops.append(("depth", ids[0], ids[1], prev_id, bids, asks))
    return ops


# -- running and comparing -------------------------------------------------------------------------------

def _json_text(levels: list) -> list:
    # Raw JSON carries [text, text] pairs; texts JSON would escape (non-ASCII, quotes, controls) become "NaN",
    # which keeps a refusal where the decoded text would have had one.
    out = []
    for level in levels:
        if type(level) not in (list, tuple) or len(level) < 2 or any(
                type(v) not in (str, bytes) for v in level[:2]):
            out.append(["NaN", "1"])
            continue
        texts = [v.decode("latin-1") if type(v) is bytes else v for v in level[:2]]
        out.append(["NaN" if any(not " " <= c <= "~" or c in '"\\' for c in t) else t for t in texts])
    return out


def raw_json(op: tuple) -> tuple:
    """The same operation with levels JSON can carry verbatim (for raw scenarios, given to both books)."""
    if op[0] == "snapshot":
        return ("snapshot", op[1], _json_text(op[2]), _json_text(op[3]))
    if op[0] == "depth":
        return op[:4] + (_json_text(op[4]), _json_text(op[5]))
    return op


def _run_raw(book: SyncedBook, op: tuple) -> Any:
    if op[0] == "snapshot":
        return book.on_snapshot(json.dumps({"lastUpdateId": op[1], "bids": op[2], "asks": op[3]}).encode())
    if op[0] == "depth":
        first_id, last_id, prev_id, bids, asks = op[1:]
        event = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": first_id, "u": last_id,
                 "b": bids, "a": asks}
        if prev_id is not None:
            event["pu"] = prev_id
        return book.on_message(json.dumps({"stream": "btcusdt@depth", "data": event}))
    return _run(book, op)


def _run(book: Any, op: tuple) -> Any:
    kind = op[0]
    if kind == "apply":
        return book.apply(bids=op[1], asks=op[2])
    if kind == "replace":
        return book.replace(bids=op[1], asks=op[2])
    if kind == "clear":
        return book.clear()
    if kind == "reset":
        return book.reset()
    if kind == "snapshot":
        if isinstance(book, SyncedBook):
            return book.on_snapshot({"lastUpdateId": op[1], "bids": op[2], "asks": op[3]})
        return book.on_snapshot_levels(op[1], op[2], op[3])
    return book.on_depth(*op[1:])


def _outcome(fn) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except (NumberError, DecodeError) as exc:
        return "error", exc


def _native_kind(exc: Exception) -> str:
    message = str(exc)
    if isinstance(exc, NumberError):
        for phrase, kind in (("is not a plain decimal number", "badnum"), ("is negative", "negative"),
                             ("is not a multiple of", "scale"), ("is out of range", "range")):
            if phrase in message:
                return kind
        return f"unknown number error: {message}"
    return "badmsg" if "ids are inconsistent" in message else "decode"


def _shown(value: Any) -> str:
    return repr(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)


def _observe(book: Any) -> dict:
    top = book.top(20)
    return {
        "state": str(book.state),
        "synced": book.synced,
        "last_id": book.last_id,
        "best_bid": book.best_bid(),
        "best_ask": book.best_ask(),
        "top_text": book.top_text(20),
        "top": ([float(x) for x in top.bid_px], [float(x) for x in top.bid_qty],
                [float(x) for x in top.ask_px], [float(x) for x in top.ask_qty], bool(top.valid)),
        "bid_count": book.bid_count,
        "ask_count": book.ask_count,
        "crossed": book.crossed,
        "price_decimals": book.price_decimals,
        "quantity_decimals": book.quantity_decimals,
        "stats": book.stats(),
    }


def assert_same_outcome(native: tuple[str, Any], reference: tuple[str, Any], op: tuple) -> None:
    if reference[0] == "ok":
        assert native == reference, f"{op!r}: C gave {native!r}, reference {reference!r}"
        return
    assert native[0] == "error", f"{op!r}: C gave {native[1]!r}, reference refused it: {reference[1]}"
    ref_exc, exc = reference[1], native[1]
    assert _native_kind(exc) == ref_exc.kind, f"{op!r}: C said {exc}, reference {ref_exc}"
    if isinstance(ref_exc, ReferenceNumberError):
        assert isinstance(exc, NumberError)
        side, field = ("bid", "ask")[ref_exc.side], ("price", "quantity")[ref_exc.field]
        assert f"{side} {field} {_shown(ref_exc.value)} (level {ref_exc.index})" in str(exc), str(exc)
    else:
        assert isinstance(ref_exc, ReferenceDecodeError) and not isinstance(exc, NumberError), str(exc)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@SETTINGS
@given(data=st.data())
def test_book_matches_reference_after_every_operation(scenario, data):
    ops = data.draw(operations(scenario))
    fast, ref = scenario.make()

    run_native = _run_raw if scenario.raw else _run

    for drawn in ops:
        op = raw_json(drawn) if scenario.raw else drawn
        native = _outcome(lambda op=op: run_native(fast, op))
        reference = _outcome(lambda op=op: _run(ref, op))

        assert_same_outcome(native, reference, op)
        assert _observe(fast) == _observe(ref), f"after {op!r}"
        for side, levels_text in zip(("bid", "ask"), ref.top_text(20), strict=True):
            for px, _ in levels_text:
                assert fast.qty_at(side, px) == ref.qty_at(side, px)


@SETTINGS
@given(text=st.one_of(
    hostile_text(),
    st.sampled_from(HOSTILE_TEXTS),
    st.builds(lambda m, d: _fixed_text(m, d, 0), st.integers(0, 2**64), st.integers(0, 20)),
))
def test_parse_decimal_matches_reference(text):
    native = _outcome(lambda: parse_decimal(text))
    reference = _outcome(lambda: reference_parse_decimal(text))

    if reference[0] == "ok":
        assert native == reference
    else:
        assert native[0] == "error" and _native_kind(native[1]) == reference[1].kind
        assert repr(text) in str(native[1])


# -- decimal -> float ------------------------------------------------------------------------------------

@st.composite
def decimal_texts(draw) -> str:
    """Decimal text the book accepts: random, and adversarial ones near a double rounding boundary."""
    if draw(st.booleans()):
        decimals = draw(st.integers(0, 18))
        return _fixed_text(draw(st.integers(0, 2**63 - 1)), decimals, draw(st.sampled_from([0, 0, 2])))
    x = draw(st.floats(min_value=1e-3, max_value=9e18, allow_nan=False, allow_infinity=False))
    midpoint = (Fraction(x) + Fraction(math.nextafter(x, math.inf))) / 2  # exactly between two doubles
    digits = draw(st.integers(15, 19))
    with localcontext() as ctx:
        ctx.prec = digits
        near = Decimal(midpoint.numerator) / Decimal(midpoint.denominator)
    near += Decimal(draw(st.sampled_from([-1, 0, 1]))).scaleb(near.adjusted() - digits + 1)  # one unit off
    text = format(near, "f")
    try:
        reference_parse_decimal(text)
    except NumberError:
        assume(False)  # over 18 decimals or over int64: not a value the book holds
    return text


@SETTINGS
@given(text=decimal_texts())
def test_book_decimal_to_float_is_float_of_text(text):
    prices, quantities = Book(), Book()
    value = Decimal(text)

    prices.apply(bids=[[text, "1"]])
    quantities.apply(asks=[["1", text]])

    assert prices.best_bid()[0] == float(text)
    assert Decimal(prices.top_text(1)[0][0][0]) == value
    if value != 0:
        assert quantities.best_ask()[1] == float(text)
        assert Decimal(quantities.top_text(1)[1][0][1]) == value
    else:
        assert quantities.best_ask() is None
