# SPDX-License-Identifier: MIT
"""Fuzz the C decoder and the fused book path with the pure-Python twins as the oracle (atheris).

    python tests/fuzz/fuzz_decode.py -atheris_runs=200000 [-max_total_time=300] [corpus_dir ...]

An input's first byte picks the target, the rest is the message (or several, split at newlines):

- 0-4: ``decode`` with one of the Binance layouts (depth, snapshot, trade, aggTrade, bookTicker)
- 5: ``SyncedBook("binance-futures").on_message`` after a snapshot, one message per line
- 6: ``SyncedBook("binance-spot")``: every line but the last to ``on_message``, the last to ``on_snapshot``

The oracle is crossfury.decode.reference; a run stops on a disagreement or a crash. The fixtures in
tests/fixtures/decode are always read as seeds. The module is
importable: ``check_one(data)`` runs one input without atheris (tests/unit/decode/test_fuzz_fixtures.py
replays the fixtures through it), and tests/fuzz/test_fuzz_decode.py runs a short bounded fuzz.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crossfury.book import SyncedBook
from crossfury.book import reference as book_reference
from crossfury.core.errors import DecodeError, NumberError
from crossfury.decode import Field, decode, reference
from crossfury.exchanges.binance import layouts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decode"
INT64_MIN = -(2**63)

# Mirrors of crossfury/exchanges/binance/layouts.py: the C side uses the real layouts, so a change there that
# is not made here shows up as a disagreement (and test_reference_layouts_mirror_binance_layouts).
_ENVELOPE = {"envelope": "data", "stream": "stream"}
SPECS: dict[str, tuple[Any, reference.ReferenceLayout]] = {
    "depth": (
        layouts.DEPTH,
        reference.ReferenceLayout(
            "binance-depth",
            dict(layouts.DEPTH.keys),
            (Field.FIRST_ID, Field.LAST_ID, Field.BIDS, Field.ASKS),
            "depthUpdate",
            **_ENVELOPE,
        ),
    ),
    "snapshot": (
        layouts.SNAPSHOT,
        reference.ReferenceLayout(
            "binance-snapshot",
            dict(layouts.SNAPSHOT.keys),
            (Field.LAST_ID, Field.BIDS, Field.ASKS),
            None,
            **_ENVELOPE,
        ),
    ),
    "trade": (
        layouts.TRADE,
        reference.ReferenceLayout(
            "binance-trade", dict(layouts.TRADE.keys), (Field.PRICE, Field.QTY), "trade", **_ENVELOPE
        ),
    ),
    "agg-trade": (
        layouts.AGG_TRADE,
        reference.ReferenceLayout(
            "binance-agg-trade",
            dict(layouts.AGG_TRADE.keys),
            (Field.PRICE, Field.QTY),
            "aggTrade",
            **_ENVELOPE,
        ),
    ),
    "book-ticker": (
        layouts.BOOK_TICKER,
        reference.ReferenceLayout(
            "binance-book-ticker",
            dict(layouts.BOOK_TICKER.keys),
            (Field.LAST_ID, Field.BID_PX, Field.BID_QTY, Field.ASK_PX, Field.ASK_QTY),
            "bookTicker",
            **_ENVELOPE,
        ),
    ),
}
TARGETS = (*SPECS, "sync-prev-id", "sync-range")
SNAPSHOT = b'{"lastUpdateId":900200,"bids":[["67000.0","1"],["66999.5","2"]],"asks":[["67002.0","1"]]}'


class Disagreement(AssertionError):
    """The C and the reference gave different outcomes for one input."""


# -- outcomes -----------------------------------------------------------------------------------------------


def _fields_key(fields: dict[str, Any]) -> tuple:
    # Types too: True == 1 in Python, but a boolean field must not come out as an int.
    return tuple(sorted((k, type(v).__name__, v) for k, v in fields.items()))


def _array_key(a: np.ndarray) -> tuple:
    return a.dtype.str, a.shape, a.tobytes()  # bit for bit: -0.0 and 0.0 differ here


def native_decode(layout: Any, msg: bytes) -> tuple:
    """Outcome of the C decode: ("ok", fields, bids, asks) or ("error", kind)."""
    try:
        fields, bids, asks = decode(layout, msg)
    except DecodeError as exc:
        return ("error", reference.native_kind(exc))
    return ("ok", _fields_key(fields), _array_key(bids), _array_key(asks))


def reference_decode(spec: reference.ReferenceLayout, msg: bytes) -> tuple:
    """Outcome of the reference decode, in the terms of native_decode."""
    try:
        fields, bids, asks = reference.decode(spec, msg)
    except (reference.ReferenceDecodeError, reference.ReferenceNumberError) as exc:
        return ("error", exc.kind)
    return ("ok", _fields_key(fields), _array_key(bids), _array_key(asks))


def check_decode(name: str, msg: bytes) -> tuple:
    """Decode msg with layout name in C and in the reference; raise Disagreement unless they agree."""
    layout, spec = SPECS[name]
    native, ref = native_decode(layout, msg), reference_decode(spec, msg)
    if native != ref:
        raise Disagreement(f"decode {name} {msg!r}: C {native[:2]}, reference {ref[:2]}")
    return native


_BOOK_ERROR = re.compile(
    r"^(bid|ask) (price|quantity) .* \(level (\d+)\) (is not a plain decimal number|is negative|"
    r"is not a multiple of the .*|is out of range: .*)$",
    re.DOTALL,
)
_BOOK_KINDS = {
    "is not a plain decimal number": "badnum",
    "is negative": "negative",
    "is not a multiple": "scale",
    "is out of range": "range",
}


def _native_book_error(exc: DecodeError) -> tuple:
    text = str(exc)
    if text.startswith("depth event ids are inconsistent"):
        return ("error", "ids")
    match = _BOOK_ERROR.match(text)
    if isinstance(exc, NumberError) and match:
        side, what, index, why = match.groups()
        kind = next(k for prefix, k in _BOOK_KINDS.items() if why.startswith(prefix))
        return (
            "error",
            "value",
            kind,
            ("bid", "ask").index(side),
            ("price", "quantity").index(what),
            int(index),
        )
    return ("error", "decode", reference.native_kind(exc))


def _reference_book_call(call: Callable[[], Any]) -> tuple:
    try:
        return ("ok", int(call()))
    except book_reference.ReferenceNumberError as exc:
        return ("error", "value", exc.kind, exc.side, exc.field, exc.index)
    except book_reference.ReferenceDecodeError as exc:
        return ("error", "ids" if exc.kind == "badmsg" else exc.kind)


class SyncPair:
    """A SyncedBook and its ReferenceSync fed the same raw messages, compared after every one."""

    def __init__(self, rule: str, ref_rule: str):
        self.native = SyncedBook(rule, max_buffered_events=4, max_buffered_levels=64)
        self.ref = book_reference.ReferenceSync(ref_rule, max_buffered_events=4, max_buffered_levels=64)
        self.decode_rejected = 0  # decode errors: the C counts them, the reference book never sees them

    def _native(self, call: Callable[[bytes], Any], msg: bytes) -> tuple:
        try:
            return ("ok", int(call(msg)))
        except DecodeError as exc:
            return _native_book_error(exc)

    def _decoded(self, spec: reference.ReferenceLayout, msg: bytes) -> tuple:
        try:
            return reference.decode_text(spec, msg)
        except reference.ReferenceDecodeError as exc:
            self.decode_rejected += 1
            return ("error", "decode", exc.kind)

    def on_message(self, msg: bytes) -> tuple:
        native = self._native(self.native.on_message, msg)
        decoded = self._decoded(SPECS["depth"][1], msg)
        if decoded[0] == "error":
            ref = decoded
        else:
            fields, bids, asks = decoded
            # CF_ID_NONE is INT64_MIN: an explicit prev id of INT64_MIN reads as absent (sync.h).
            prev_id = fields.get("prev_id")
            ref = _reference_book_call(
                lambda: self.ref.on_depth(
                    fields.get("first_id", 0),
                    fields.get("last_id", 0),
                    None if prev_id == INT64_MIN else prev_id,
                    bids,
                    asks,
                )
            )
        return self._compare("on_message", msg, native, ref)

    def on_snapshot(self, msg: bytes) -> tuple:
        native = self._native(self.native.on_snapshot, msg)
        decoded = self._decoded(SPECS["snapshot"][1], msg)
        if decoded[0] == "error":
            ref = decoded
        else:
            fields, bids, asks = decoded
            ref = _reference_book_call(
                lambda: self.ref.on_snapshot_levels(fields.get("last_id", 0), bids, asks)
            )
        return self._compare("on_snapshot", msg, native, ref)

    def _compare(self, what: str, msg: bytes, native: tuple, ref: tuple) -> tuple:
        if native != ref:
            raise Disagreement(f"{what} {msg!r}: C {native}, reference {ref}")
        native_stats, ref_stats = self.native.stats(), self.ref.stats()
        ref_stats["rejected"] += self.decode_rejected
        if native_stats != ref_stats:
            raise Disagreement(f"{what} {msg!r}: C stats {native_stats}, reference {ref_stats}")
        if self.native.top_text(5) != self.ref.top_text(5):
            raise Disagreement(
                f"{what} {msg!r}: C top {self.native.top_text(5)}, reference {self.ref.top_text(5)}"
            )
        return native


def check_sync(target: str, payload: bytes) -> list[tuple]:
    """Run one sync scenario (see the module docstring) on both books; raise Disagreement on a difference."""
    lines = payload.split(b"\n")[:6]
    if target == "sync-prev-id":
        pair = SyncPair("binance-futures", "prev-id")
        return [pair.on_snapshot(SNAPSHOT)] + [pair.on_message(m) for m in lines]
    pair = SyncPair("binance-spot", "range")
    return [pair.on_message(m) for m in lines[:-1]] + [pair.on_snapshot(lines[-1])]


def check_one(data: bytes) -> None:
    """Run one fuzz input (target byte, then the message); raise Disagreement when C and reference differ."""
    if not data:
        return
    target, payload = TARGETS[data[0] % len(TARGETS)], data[1:]
    if target in SPECS:
        check_decode(target, payload)
    else:
        check_sync(target, payload)


# -- seeds and the command line ----------------------------------------------------------------------------


def fixture_inputs() -> list[tuple[str, bytes]]:
    """Every fixture as a fuzz input: .bin files as they are, real messages once per fitting target."""
    inputs = []
    for path in sorted(FIXTURES.glob("*.bin")):
        inputs.append((path.name, path.read_bytes()))
    for path in sorted(FIXTURES.glob("*.json")):
        msg = path.read_bytes().strip()
        for k, target in enumerate(TARGETS):
            inputs.append((f"{path.name}@{target}", bytes([k]) + msg))
    return inputs


def _seed_corpus() -> str:
    seeds = tempfile.mkdtemp(prefix="fuzz_decode_seeds_")
    for k, (_, data) in enumerate(fixture_inputs()):
        Path(seeds, f"seed{k:04d}").write_bytes(data)
    return seeds


def main(argv: list[str]) -> None:
    import atheris

    # Coverage feedback comes from the Python twins, which mirror the C's branches (the C has none).
    for module in (reference, book_reference):
        for obj in list(vars(module).values()):
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            for fn in [obj, *vars(obj).values()] if isinstance(obj, type) else [obj]:
                if inspect.isfunction(fn):
                    atheris.instrument_func(fn)
    args = [*argv, _seed_corpus()]  # read after any corpus directory given, which receives new inputs
    atheris.Setup(args, check_one)
    atheris.Fuzz()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main(sys.argv)
