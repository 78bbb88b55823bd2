# SPDX-License-Identifier: MIT
"""Plain-Python twin of ``crossfury.decode.decode`` (csrc/decode/decode.c), for property tests and fuzzing.

The C scanner reads a message once, front to back, and stops at the first problem, so a message gets the
error that comes first in byte order: ``{"u":"abc",`` has a wrong-typed id before it stops being JSON.
This twin therefore walks the message in the same order, with every string read by the standard library's
``json.decoder.scanstring``, and then asks ``json.loads`` (strict UTF-8, NaN and Infinity refused,
duplicates seen through ``object_pairs_hook``) for its verdict on the whole text, which must agree with
the walk. Slow on purpose: nothing here is clever.

Errors carry a category in ``kind``:

- ``json``: not JSON (syntax, invalid UTF-8, bytes after the object, no top-level object)
- ``depth``: a value nested deeper than ``MAX_DEPTH`` (the top-level object is depth 1)
- ``type``: a known field of the wrong JSON type, an escape in text read as bytes (event, symbol, decimals,
  integers), a level that is not an array of at least two elements, or an event type not the layout's
- ``range``: an integer field that does not fit int64
- ``duplicate``: a known field given twice
- ``missing``: a required field absent
- ``number``: a level price or quantity that is not a non-negative plain decimal (a ``NumberError``)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from crossfury.book.reference import ReferenceNumberError as _BookNumberError
from crossfury.book.reference import parse_decimal
from crossfury.core.errors import DecodeError, NumberError
from crossfury.decode import FIELD_NAMES, Field, Layout

__all__ = [
    "KINDS",
    "MAX_DEPTH",
    "ReferenceDecodeError",
    "ReferenceLayout",
    "ReferenceNumberError",
    "decode",
    "decode_text",
    "native_kind",
]

MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
KINDS = ("json", "depth", "type", "range", "duplicate", "missing", "number")

_INT_FIELDS = frozenset(
    (Field.EXCH_TS, Field.TRANSACT_TS, Field.FIRST_ID, Field.LAST_ID, Field.PREV_ID, Field.TRADE_ID)
)
_DECIMAL_FIELDS = frozenset(
    (Field.PRICE, Field.QTY, Field.BID_PX, Field.BID_QTY, Field.ASK_PX, Field.ASK_QTY, Field.INDEX_PX,
     Field.FUNDING_RATE)
)
_WHITESPACE = " \t\n\r"
# RFC 8259 number, ASCII digits only ([0-9], never \d, which also matches other scripts' digits).
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# Bytes that are not UTF-8 come out of a "surrogateescape" decode as U+DC80..U+DCFF.
_BAD_BYTE = re.compile("[\udc80-\udcff]")


class ReferenceDecodeError(DecodeError):
    """A message refused before its level values are read; the category is in ``kind``."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{message} ({kind})")
        self.kind = kind


class ReferenceNumberError(NumberError):
    """A level price or quantity that is not a non-negative plain decimal; ``kind`` is "number"."""

    kind = "number"


@dataclass(frozen=True)
class ReferenceLayout:
    """The same data as a ``crossfury.decode.Layout``: exchange keys -> fields, and the message's rules."""

    name: str
    keys: dict[str, Field]
    required: tuple[Field, ...] = ()
    event: str | None = None
    envelope: str | None = None
    stream: str | None = None
    by_key: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {k: Field(f) for k, f in self.keys.items()})

    def native(self) -> Layout:
        """Build the C layout from the same data."""
        return Layout(
            self.name,
            dict(self.keys),
            required=self.required,
            event=self.event,
            envelope=self.envelope,
            stream=self.stream,
        )


class _Refused(Exception):
    def __init__(self, kind: str, what: str):
        super().__init__(what)
        self.kind = kind


def _fail(kind: str, what: str) -> None:
    raise _Refused(kind, what)


class _Walk:
    """One pass over the text in document order; the first problem met is the message's error."""

    def __init__(self, layout: ReferenceLayout, text: str):
        self.layout = layout
        self.s = text
        self.i = 0
        self.fields: dict[Field, Any] = {}
        self.levels: dict[Field, list[tuple[str, str]]] = {}
        self.stream = ""

    # -- tokens ------------------------------------------------------------------------------------

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in _WHITESPACE:
            self.i += 1

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def accept(self, ch: str) -> bool:
        self.ws()
        if self.peek() == ch:
            self.i += 1
            return True
        return False

    def string(self) -> tuple[str, str]:
        # At the opening quote: the value and the raw text between the quotes (they differ by escapes).
        start = self.i + 1
        try:
            value, end = json.decoder.scanstring(self.s, start, True)
        except json.JSONDecodeError as exc:
            _fail("json", f"bad string at {start}: {exc.msg}")
        raw = self.s[start : end - 1]
        if _BAD_BYTE.search(raw):
            _fail("json", f"string at {start} is not UTF-8")
        self.i = end
        return value, raw

    def number(self) -> tuple[str, bool]:
        # At '-' or a digit: the number's text and whether it is integral. A '.' or an exponent mark
        # that the grammar cannot complete makes the token itself invalid, as in the C reader.
        match = _NUMBER.match(self.s, self.i)
        if match is None:
            _fail("json", f"bad number at {self.i}")
        frac, exp = match.group(1), match.group(2)
        after = self.s[match.end() : match.end() + 1]
        if (after == "." and not frac and not exp) or (after in ("e", "E") and not exp):
            _fail("json", f"bad number at {self.i}")
        self.i = match.end()
        return match.group(0), not frac and not exp

    def word(self, word: str) -> None:
        if not self.s.startswith(word, self.i):
            _fail("json", f"bad literal at {self.i}")
        self.i += len(word)

    # -- values nobody reads -----------------------------------------------------------------------

    def skip_value(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            _fail("depth", f"value at {self.i} is at depth {depth}")
        self.ws()
        c = self.peek()
        if c in ("{", "["):
            self.i += 1
            self.skip_container(depth, "}" if c == "{" else "]", c == "{")
        elif c == '"':
            self.string()
        elif c in ("t", "f", "n"):
            self.word({"t": "true", "f": "false", "n": "null"}[c])
        else:
            self.number()

    def skip_container(self, depth: int, close: str, is_object: bool) -> None:
        if self.accept(close):
            return
        while True:
            if is_object:
                self.ws()
                if self.peek() != '"':
                    _fail("json", f"expected a key at {self.i}")
                self.string()
                if not self.accept(":"):
                    _fail("json", f"expected ':' at {self.i}")
            self.skip_value(depth + 1)
            if self.accept(","):
                continue
            if self.accept(close):
                return
            _fail("json", f"expected ',' or {close!r} at {self.i}")

    def wrong_type(self, f: Field, depth: int) -> None:
        # A value of the wrong type is still read whole: invalid or too deep, that is its error.
        self.skip_value(depth)
        _fail("type", f"field {f.name.lower()} has the wrong type")

    # -- fields ------------------------------------------------------------------------------------

    def decimal_text(self, f: Field, depth: int) -> str:
        c = self.peek()
        if c == '"':
            value, raw = self.string()
            if value != raw:
                _fail("type", f"field {f.name.lower()} holds an escape")
            return value
        if c == "-" or "0" <= c <= "9":
            return self.number()[0]
        self.wrong_type(f, depth)

    def integer(self, f: Field, text: str) -> int:
        # cf_decode_int: optional '-', digits, no leading zero; a digit run past int64 is range even if
        # a stray byte follows it, because the C reads left to right and stops at the first problem.
        sign = 1
        body = text
        if body.startswith("-"):
            sign, body = -1, body[1:]
        if not body or (body[0] == "0" and len(body) > 1):
            _fail("type", f"field {f.name.lower()} is {text!r}, not an integer")
        digits = re.match(r"[0-9]*", body).group(0)
        if int(digits or "0") > (INT64_MAX if sign > 0 else -INT64_MIN):
            _fail("range", f"field {f.name.lower()} {text!r} does not fit int64")
        if digits != body:
            _fail("type", f"field {f.name.lower()} is {text!r}, not an integer")
        return sign * int(digits)

    def read_field(self, f: Field, depth: int) -> None:
        if f in self.fields or f in self.levels:
            _fail("duplicate", f"field {f.name.lower()} appears twice")
        c = self.peek()
        if f in (Field.BIDS, Field.ASKS):
            self.levels[f] = self.read_levels(f, depth)
        elif f in (Field.EVENT, Field.SYMBOL, Field.TRADE_TYPE):
            if c != '"':
                self.wrong_type(f, depth)
            value, raw = self.string()
            if value != raw:
                _fail("type", f"field {f.name.lower()} holds an escape")
            self.fields[f] = value
        elif f in _DECIMAL_FIELDS:
            self.fields[f] = self.decimal_text(f, depth)
        elif f == Field.BUYER_MAKER:
            if c not in ("t", "f"):
                self.wrong_type(f, depth)
            self.word("true" if c == "t" else "false")
            self.fields[f] = c == "t"
        else:
            assert f in _INT_FIELDS
            if c == '"':
                value, raw = self.string()
                if value != raw:
                    _fail("type", f"field {f.name.lower()} holds an escape")
                self.fields[f] = self.integer(f, value)
            elif c == "-" or "0" <= c <= "9":
                text, integral = self.number()
                if not integral:
                    _fail("type", f"field {f.name.lower()} is {text!r}, not an integer")
                self.fields[f] = self.integer(f, text)
            else:
                self.wrong_type(f, depth)

    def read_levels(self, f: Field, depth: int) -> list[tuple[str, str]]:
        # [[price, quantity, ...extra], ...]; depth is the array's own.
        if self.peek() != "[":
            self.wrong_type(f, depth)
        self.i += 1
        levels: list[tuple[str, str]] = []
        if self.accept("]"):
            return levels
        while True:
            if not self.accept("["):
                self.wrong_type(f, depth + 1)
            if self.accept("]"):
                _fail("type", f"field {f.name.lower()} has an empty level")
            self.ws()
            px = self.decimal_text(f, depth + 2)
            if not self.accept(","):
                if self.peek() == "]":
                    _fail("type", f"field {f.name.lower()} has a level of one element")
                _fail("json", f"expected ',' at {self.i}")
            self.ws()
            qty = self.decimal_text(f, depth + 2)
            while self.accept(","):  # venues append order counts and more
                self.skip_value(depth + 2)
            if not self.accept("]"):
                _fail("json", f"expected ']' at {self.i}")
            levels.append((px, qty))
            if self.accept(","):
                continue
            if self.accept("]"):
                return levels
            _fail("json", f"expected ',' or ']' at {self.i}")

    # -- objects -----------------------------------------------------------------------------------

    def read_object(self, depth: int) -> None:
        # Just past '{': the members, reading known fields and entering the envelope.
        if depth > MAX_DEPTH:
            _fail("depth", f"object at {self.i} is at depth {depth}")
        if self.accept("}"):
            return
        layout = self.layout
        while True:
            self.ws()
            if self.peek() != '"':
                _fail("json", f"expected a key at {self.i}")
            key, _raw = self.string()
            if not self.accept(":"):
                _fail("json", f"expected ':' at {self.i}")
            self.ws()
            f = layout.by_key.get(key)
            if f is not None:
                self.read_field(f, depth + 1)
            elif layout.envelope is not None and key == layout.envelope and self.peek() == "{":
                self.i += 1
                self.read_object(depth + 1)
            elif layout.stream is not None and key == layout.stream and self.peek() == '"':
                value, _ = self.string()
                self.stream = value  # the last one wins
            else:
                self.skip_value(depth + 1)
            if self.accept(","):
                continue
            if self.accept("}"):
                return
            _fail("json", f"expected ',' or '}}' at {self.i}")

    def message(self) -> None:
        self.ws()
        if self.peek() != "{":
            _fail("json", "the message is not a JSON object")
        self.i += 1
        self.read_object(1)
        self.ws()
        if self.i != len(self.s):
            _fail("json", f"bytes after the object at {self.i}")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_depth(value: Any) -> int:
    # Depth of the deepest value, the outermost being 1 (as MAX_DEPTH counts).
    if isinstance(value, _Pairs):
        return 1 + max((_json_depth(v) for _, v in value), default=0)
    if isinstance(value, list):
        return 1 + max((_json_depth(v) for v in value), default=0)
    return 1


class _Pairs(list):
    """An object's members in order, duplicates kept (json.loads's object_pairs_hook)."""


def _json_verdict(data: bytes) -> bool:
    # The standard library's opinion on the whole message: one object, valid strict UTF-8 JSON, not too deep.
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_Pairs,
            parse_constant=_refuse_constant,
            parse_int=str,
            parse_float=str,
        )  # numbers stay text: no digit-count limit
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return False
    return isinstance(value, _Pairs) and _json_depth(value) <= MAX_DEPTH


def _text_of(msg: bytes | str) -> tuple[str, bytes]:
    if type(msg) is str:
        try:
            data = msg.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates have no UTF-8 form
            raise ReferenceDecodeError("json", "message cannot be encoded as UTF-8") from None
        return msg, data
    if type(msg) is bytes:
        return msg.decode("utf-8", "surrogateescape"), msg
    raise TypeError(f"message {msg!r} is a {type(msg).__name__}, expected bytes or str")


def decode_text(
    layout: ReferenceLayout, msg: bytes | str
) -> tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, str]]]:
    """Decode msg like the C scanner: (present fields by name, bid levels, ask levels) as text pairs.

    Level values are the text the C hands to the book: a string's value, or a JSON number's own text.

    Raises
    ------
    ReferenceDecodeError
        with ``kind`` one of "json", "depth", "type", "range", "duplicate", "missing".
    TypeError
        when msg is neither bytes nor str.
    """
    text, data = _text_of(msg)
    if len(data) > 0xFFFFFFFF:  # the C record holds 32-bit spans
        raise ReferenceDecodeError("json", "message longer than 4 GiB")
    walk = _Walk(layout, text)
    try:
        walk.message()
    except _Refused as exc:
        if exc.kind == "json" and _json_verdict(data):
            raise AssertionError(f"the walk calls {data!r} not JSON but json.loads accepts it") from None
        raise ReferenceDecodeError(exc.kind, str(exc)) from None
    if not _json_verdict(data):
        raise AssertionError(f"the walk accepts {data!r} but json.loads refuses it")

    present = set(walk.fields) | set(walk.levels)
    missing = [f for f in sorted(layout.required) if f not in present]
    if missing:
        raise ReferenceDecodeError("missing", f"field {FIELD_NAMES[missing[0]]} is missing")
    event = walk.fields.get(Field.EVENT)
    if layout.event is not None and event is not None and event != layout.event:
        raise ReferenceDecodeError("type", f"event type {event!r} is not {layout.event!r}")

    fields = {FIELD_NAMES[f]: walk.fields[f] for f in sorted(walk.fields)}
    if walk.stream:
        fields["stream"] = walk.stream
    return fields, walk.levels.get(Field.BIDS, []), walk.levels.get(Field.ASKS, [])


def _float(text: str, side: str, what: str, k: int) -> float:
    try:
        mantissa, decimals = parse_decimal(text)
    except _BookNumberError:
        mantissa = -1
    if mantissa < 0:
        raise ReferenceNumberError(f"{side} {what} {text!r} (level {k}) is not a non-negative plain decimal")
    return float(Fraction(mantissa, 10**decimals))  # correctly rounded, +0.0 for "-0" as in the C


def _array(levels: list[tuple[str, str]], side: str) -> np.ndarray:
    out = np.empty((len(levels), 2), dtype=np.float64)
    for k, (px, qty) in enumerate(levels):
        out[k, 0] = _float(px, side, "price", k)
        out[k, 1] = _float(qty, side, "quantity", k)
    return out


def decode(
    layout: ReferenceLayout, msg: bytes | str
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Decode msg with layout: the same (fields, bids (n, 2) float64, asks (n, 2) float64) as the C.

    Raises ReferenceDecodeError (see ``decode_text``) or ReferenceNumberError for a bad level value, bids
    before asks and price before quantity, as the wrapper reads them.
    """
    fields, bids, asks = decode_text(layout, msg)
    return fields, _array(bids, "bid"), _array(asks, "ask")


_NATIVE_KINDS = (
    (re.compile(r"^[^:]*: (?:field \w+ \(key .*?\) )?is missing$", re.DOTALL), "missing"),
    (re.compile(r"^[^:]*: (?:field \w+ \(key .*?\) )?has the wrong type, at byte \d+ ", re.DOTALL), "type"),
    (re.compile(r"^[^:]*: event type is not ", re.DOTALL), "type"),
    (re.compile(r"^[^:]*: (?:field \w+ \(key .*?\) )?appears twice$", re.DOTALL), "duplicate"),
    (re.compile(r"^[^:]*: nested deeper than the decoder allows", re.DOTALL), "depth"),
    (re.compile(r"^[^:]*: (?:field \w+ \(key .*?\) )?does not fit a 64-bit integer", re.DOTALL), "range"),
    (re.compile(r"^[^:]*: not valid JSON \(or trailing data\)", re.DOTALL), "json"),
    (re.compile(r"^message .* cannot be encoded as UTF-8$", re.DOTALL), "json"),
)


def native_kind(exc: BaseException) -> str:
    """The category of an error raised by the C ``decode`` (read from its message), in ``KINDS`` terms."""
    if isinstance(exc, NumberError):
        return "number"
    for pattern, kind in _NATIVE_KINDS:
        if pattern.match(str(exc)):
            return kind
    return f"unknown: {exc}"
