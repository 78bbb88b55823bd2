# SPDX-License-Identifier: MIT
"""What an event file holds, and whether its order book holds together (``crossfury stats``).

The book check replays the local events (what a strategy sees) through the C book: each group of depth
rows with one local time is one message. It counts messages after which the book is crossed, negative
sizes, and levels a side clear left standing beyond its price (stale levels from before a snapshot).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from crossfury.book import Book
from crossfury.events.dtypes import LEVEL_DTYPE
from crossfury.events.hbt import BUY_EVENT, EXCH_EVENT, LOCAL_EVENT, SELL_EVENT

KIND_NAMES = {1: "depth", 2: "trade", 3: "depth_clear", 4: "depth_snapshot", 5: "depth_bbo", 10: "add_order",
              11: "cancel_order", 12: "modify_order", 13: "fill", 100: "index_price", 101: "mark_price",
              102: "funding_rate", 103: "best_bid", 104: "best_ask"}
_PERCENTILES = (0, 1, 50, 90, 99, 99.9, 100)


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="microseconds")


def _scale(values: np.ndarray) -> int | None:
    """Decimals that put every value on an integer grid (prices on ticks), or None."""
    if not len(values) or not np.isfinite(values).all():
        return None
    for k in range(11):
        scaled = values * 10.0**k
        if np.abs(scaled - np.round(scaled)).max() <= 1e-6 * max(1.0, float(np.abs(scaled).max()) * 1e-9) and \
                np.abs(scaled).max() < 2**53:
            return k
    return None


def stats(data: np.ndarray, book_check: bool = True) -> dict[str, Any]:
    """Counts per event kind, time span, price ranges, feed latency percentiles (µs) and the book check."""
    ev = data["ev"]
    kind = (ev & 0xFF).astype(np.int64)
    exch = (ev & EXCH_EVENT) != 0
    local = (ev & LOCAL_EVENT) != 0
    out: dict[str, Any] = {"rows": len(data), "exchange_rows": int(exch.sum()), "local_rows": int(local.sum()),
                           "both_rows": int((exch & local).sum())}
    kinds, counts = np.unique(kind[local], return_counts=True)
    out["events_by_kind"] = {KIND_NAMES.get(int(k), str(int(k))): int(c) for k, c in zip(kinds, counts)}
    if len(data):
        out["local_time"] = {"first": _iso(int(data["local_ts"][local].min())) if local.any() else None,
                             "last": _iso(int(data["local_ts"][local].max())) if local.any() else None}
        out["exchange_time"] = {"first": _iso(int(data["exch_ts"][exch].min())) if exch.any() else None,
                                "last": _iso(int(data["exch_ts"][exch].max())) if exch.any() else None}
        span = data["local_ts"][local]
        out["duration_s"] = float((span.max() - span.min()) / 1e9) if len(span) else 0.0
    depth = local & np.isin(kind, (1, 4))
    trade = local & (kind == 2)
    for name, mask in (("depth_price", depth), ("trade_price", trade)):
        px = data["px"][mask]
        out[name] = {"min": float(px.min()), "max": float(px.max())} if len(px) else None
    lat = (data["local_ts"][local] - data["exch_ts"][local]) / 1e3
    out["latency_us"] = ({f"p{p:g}": float(np.percentile(lat, p)) for p in _PERCENTILES} if len(lat) else None)
    out["negative_sizes"] = int((data["qty"][local & np.isin(kind, (1, 2, 4))] < 0).sum())
    if book_check:
        out["book"] = book_consistency(data)
    return out


def book_consistency(data: np.ndarray) -> dict[str, Any]:
    """Replay local depth events through the C book; count crossed books, refused levels, stale levels."""
    ev = data["ev"]
    kind = ev & 0xFF
    rows = data[((ev & LOCAL_EVENT) != 0) & np.isin(kind, (1, 3, 4))]
    kind = (rows["ev"] & 0xFF).astype(np.int64)
    book_rows = np.isin(kind, (1, 4))
    px_dec = _scale(rows["px"][book_rows])
    qty_dec = _scale(np.abs(rows["qty"][book_rows]))
    result = {"messages": 0, "crossed": 0, "refused": 0, "clears": 0, "levels_left_after_clears": 0,
              "final_bid_levels": 0, "final_ask_levels": 0}
    if px_dec is None or qty_dec is None:
        result["skipped"] = "prices or sizes are not on a decimal grid"
        return result
    book = Book(tick_size=f"{10.0**-px_dec:.{px_dec}f}" if px_dec else "1",
                lot_size=f"{10.0**-qty_dec:.{qty_dec}f}" if qty_dec else "1")
    ticks = np.round(rows["px"] * 10.0**px_dec).astype(np.int64)
    lots = np.round(rows["qty"] * 10.0**qty_dec).astype(np.int64)
    is_ask = (rows["ev"] & SELL_EVENT) != 0
    clears = np.nonzero(kind == 3)[0]
    start = 0
    for stop in [*clears.tolist(), len(rows)]:
        _replay(book, rows["local_ts"][start:stop], ticks[start:stop], lots[start:stop], is_ask[start:stop], result)
        if stop < len(rows):
            _clear(book, rows[stop], int(ticks[stop]), result)
        start = stop + 1
    result["final_bid_levels"] = book.bid_count
    result["final_ask_levels"] = book.ask_count
    return result


def _replay(book: Book, local_ts, ticks, lots, is_ask, result: dict) -> None:
    n = len(local_ts)
    if n == 0:
        return
    msg = np.concatenate(([0], np.cumsum(local_ts[1:] != local_ts[:-1])))
    order = np.lexsort((is_ask, msg))  # per message: bids, then asks; stable within a side
    levels = np.empty(n, dtype=LEVEL_DTYPE)
    levels["px"] = ticks[order]
    levels["qty"] = lots[order]
    m = int(msg[-1]) + 1
    counts = np.zeros((m, 2), dtype=np.uint32)
    np.add.at(counts, (msg, is_ask.astype(np.int64)), 1)
    statuses, best = book.apply_ticks_batch(levels, counts)
    result["messages"] += m
    result["refused"] += int((statuses < 0).sum())
    both = ~np.isnan(best[:, 0]) & ~np.isnan(best[:, 2])
    result["crossed"] += int((best[both, 0] >= best[both, 2]).sum())


def _clear(book: Book, row, px_ticks: int, result: dict) -> None:
    result["clears"] += 1
    ev = int(row["ev"])
    if not ev & (BUY_EVENT | SELL_EVENT):
        book.clear()
        return
    bids, asks = book.top_ticks(max(book.bid_count, book.ask_count))
    empty = np.empty(0, dtype=LEVEL_DTYPE)
    if ev & BUY_EVENT:  # a bid clear removes bids from the best down to its price
        gone = bids[bids["px"] >= px_ticks].copy()
        gone["qty"] = 0
        book.apply_ticks(gone, empty)
        result["levels_left_after_clears"] += int((bids["px"] < px_ticks).sum())
    else:
        gone = asks[asks["px"] <= px_ticks].copy()
        gone["qty"] = 0
        book.apply_ticks(empty, gone)
        result["levels_left_after_clears"] += int((asks["px"] > px_ticks).sum())
