# SPDX-License-Identifier: MIT
"""Pre-parsed depth streams for the book benchmarks: a real USD-M recording and a synthetic stream.

Each dataset holds its snapshot and messages as LEVEL_DTYPE arrays (price ticks, quantity lots), parsed
once here so the benchmarks time the books alone. ``float_messages`` gives the same levels as lists of
(px, qty) floats for the Python peers; each float equals ``float()`` of the exchange's decimal text.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from crossfury.events.dtypes import LEVEL_DTYPE

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
USDM_FILES = ("btcusdt_20240718.gz", "btcusdt_20240719.gz")
TICK_SIZE, LOT_SIZE = "0.1", "0.001"  # Binance USD-M BTCUSDT; the synthetic stream uses the same grid

Levels = np.ndarray  # LEVEL_DTYPE
FloatLevels = list[tuple[float, float]]


@dataclass(frozen=True)
class Dataset:
    name: str
    snapshot: tuple[Levels, Levels]
    messages: list[tuple[Levels, Levels]]

    @property
    def level_updates(self) -> int:
        return sum(len(b) + len(a) for b, a in self.messages)

    @cached_property
    def float_snapshot(self) -> tuple[FloatLevels, FloatLevels]:
        return to_floats(self.snapshot[0]), to_floats(self.snapshot[1])

    @cached_property
    def float_messages(self) -> list[tuple[FloatLevels, FloatLevels]]:
        return [(to_floats(b), to_floats(a)) for b, a in self.messages]


# Correctly rounded int / int division: the same float as float("63943.9") and as the C book's output.
_PX_DIV, _QTY_DIV = 10, 1000
assert Decimal(TICK_SIZE) * _PX_DIV == 1 and Decimal(LOT_SIZE) * _QTY_DIV == 1


def to_floats(levels: Levels | list[tuple[int, int]]) -> FloatLevels:
    """Convert (px_ticks, qty_lots) levels to (px, qty) floats."""
    pairs = levels.tolist() if isinstance(levels, np.ndarray) else levels
    return [(px / _PX_DIV, qty / _QTY_DIV) for px, qty in pairs]


def _ticks(levels: list[list[str]]) -> Levels:
    out = np.empty(len(levels), dtype=LEVEL_DTYPE)
    for k, (px, qty) in enumerate(levels):
        px_ticks, px_rest = divmod(Decimal(px), Decimal(TICK_SIZE))
        qty_lots, qty_rest = divmod(Decimal(qty), Decimal(LOT_SIZE))
        if px_rest or qty_rest:
            raise ValueError(f"level {px} {qty} is off the {TICK_SIZE} / {LOT_SIZE} grid")
        out[k] = (int(px_ticks), int(qty_lots))
    return out


def _usdm_paths(data_dir: Path) -> list[Path]:
    return [(data_dir / "hftbacktest" / "usdm" / f).resolve() for f in USDM_FILES]


def usdm_missing(data_dir: Path = DATA_DIR) -> str | None:
    """Say which recording files are absent, or return None when the usdm dataset can load."""
    missing = [str(p) for p in _usdm_paths(data_dir) if not p.is_file()]
    return f"recorded data not found: {', '.join(missing)}" if missing else None


def usdm(data_dir: Path = DATA_DIR) -> Dataset:
    """Load the BTCUSDT USD-M recording: its REST snapshot and every depth event bridged to it.

    Raises FileNotFoundError (naming the files) when the recording is absent.
    """
    if missing := usdm_missing(data_dir):
        raise FileNotFoundError(missing)
    paths = _usdm_paths(data_dir)
    snapshot, events = None, []
    for path in paths:
        with gzip.open(path, "rt") as f:
            for line in f:
                _, body = line.split(" ", 1)
                if body.startswith('{"lastUpdateId"'):
                    snapshot = json.loads(body)
                elif "@depth" in body[:64]:
                    obj = json.loads(body)
                    if "@depth" in obj["stream"]:
                        events.append(obj["data"])
    if snapshot is None:
        raise ValueError(f"no REST depth snapshot in {paths[0]}")
    # Binance USD-M: drop events with u < lastUpdateId; each later event's pu is the previous u.
    events = [e for e in events if e["u"] >= snapshot["lastUpdateId"]]
    assert all(b["pu"] == a["u"] for a, b in zip(events, events[1:])), "gap in the recorded depth stream"
    return Dataset(
        "usdm-btcusdt",
        (_ticks(snapshot["bids"]), _ticks(snapshot["asks"])),
        [(_ticks(e["b"]), _ticks(e["a"])) for e in events],
    )


def synthetic(n_messages: int = 200_000, depth: int = 1000, seed: int = 20240718) -> Dataset:
    """Generate a deterministic stream around a random-walk mid, on the BTCUSDT grid.

    A snapshot of ``depth`` levels per side, then messages of 1-20 level updates: about 80% within 20 ticks
    of the mid and the rest up to 1.5x the depth away, about 30% deletes. Bids stay below the mid and asks
    above it; when the mid moves, the message also deletes the levels it crossed, so the book never crosses.
    """
    rng = np.random.default_rng(seed)
    mid = 640_000 + np.cumsum(rng.choice([-1, 0, 0, 0, 0, 0, 1], size=n_messages))  # in ticks
    counts = rng.integers(1, 21, size=n_messages)
    total = int(counts.sum())
    is_bid = rng.random(total) < 0.5
    near = rng.random(total) < 0.8
    offset = np.where(near, rng.integers(1, 21, total), rng.integers(21, depth * 3 // 2, total))
    qty = np.where(rng.random(total) < 0.3, 0, rng.integers(1, 5_000, total))
    px = np.repeat(mid, counts) + np.where(is_bid, -offset, offset)

    snap_px = np.arange(1, depth + 1)
    snap_qty = rng.integers(1, 5_000, size=(2, depth))
    snapshot = (_levels(640_000 - snap_px, snap_qty[0]), _levels(640_000 + snap_px, snap_qty[1]))

    messages, start, prev_mid = [], 0, 640_000
    for m, n in zip(mid.tolist(), counts.tolist()):
        sl = slice(start, start + n)
        start += n
        # dicts keep one update per price and side, as an exchange sends
        bids = dict(zip(px[sl][is_bid[sl]].tolist(), qty[sl][is_bid[sl]].tolist()))
        asks = dict(zip(px[sl][~is_bid[sl]].tolist(), qty[sl][~is_bid[sl]].tolist()))
        if m > prev_mid:  # asks at or below the new mid were taken
            asks.update(dict.fromkeys(range(prev_mid + 1, m + 1), 0))
        elif m < prev_mid:
            bids.update(dict.fromkeys(range(m, prev_mid), 0))
        prev_mid = m
        messages.append((_levels(list(bids), list(bids.values())), _levels(list(asks), list(asks.values()))))
    return Dataset(f"synthetic-{n_messages // 1000}k", snapshot, messages)


def _levels(px, qty) -> Levels:
    out = np.empty(len(px), dtype=LEVEL_DTYPE)
    out["px"], out["qty"] = px, qty
    return out


def book_result(best: Any, top: Any) -> dict[str, list]:
    """Normalise a last (bid, ask) best read and the top levels per side to [px, qty] lists, as in JSON."""
    return {"final_best": [list(lv) for lv in best], "final_top": [[list(lv) for lv in side] for side in top]}


def final_book(ds: Dataset, n: int) -> dict[str, list]:
    """Return the book after every message, by plain dicts on ticks: best bid and ask, and n levels a side.

    The reference the contenders are checked against, in the form of book_result.
    """
    sides = [dict(ds.snapshot[0].tolist()), dict(ds.snapshot[1].tolist())]
    for message in ds.messages:
        for side, levels in zip(sides, message):
            for px, qty in levels.tolist():
                if qty:
                    side[px] = qty
                else:
                    side.pop(px, None)
    top = [to_floats(sorted(sides[0].items(), reverse=True)[:n]), to_floats(sorted(sides[1].items())[:n])]
    return book_result([side[0] for side in top], top)


def load(name: str, quick: bool = False) -> Dataset:
    """Load "usdm" or "synthetic" (20k messages instead of 200k when quick)."""
    if name == "usdm":
        return usdm()
    if name == "synthetic":
        return synthetic(20_000 if quick else 200_000)
    raise ValueError(f"unknown dataset {name!r}; expected usdm or synthetic")
