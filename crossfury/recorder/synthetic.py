# SPDX-License-Identifier: MIT
"""A deterministic synthetic Binance recording, so the replay runs with no data set and no network.

The market is a random-walk mid with a ladder of levels on each side; each depth event changes a few
levels near the top (and now and then a deep one), and a bookTicker follows each event with the exact top
of book, as Binance's own stream would. The book here is a plain dict, independent of crossfury's C book.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

_TICK_UNITS = 10  # prices are integers of 0.1


def _text(units: int, decimals: int) -> str:
    return f"{units / 10**decimals:.{decimals}f}"


def write_synthetic_recording(path: str | Path, *, symbol: str = "BTCUSDT", events: int = 2000,
                              futures: bool = True, seed: int = 7, start_ns: int = 1_721_347_200_000_000_000,
                              buffered_before_snapshot: int = 5) -> Path:
    """Write a gzip recording in the collector format and return its path.

    Lines: depth events (prev-id chained when ``futures``, else range chained), the REST snapshot after
    ``buffered_before_snapshot`` events, a bookTicker after every event, a trade now and then.
    """
    rng = random.Random(seed)
    stream = symbol.lower()
    mid = 650_000  # 65000.0 in units of 0.1
    book = {"b": {}, "a": {}}
    for k in range(1, 400):
        book["b"][mid - k] = rng.randint(1, 5000)
        book["a"][mid + k] = rng.randint(1, 5000)
    update_id = 1_000_000
    ts = start_ns
    lines: list[str] = []
    pending: list[str] = []
    snapshot_line = None

    def level(px: int, qty: int) -> list[str]:
        return [_text(px, 1), _text(qty, 3)]

    for n in range(events):
        ts += rng.randint(200_000, 5_000_000)
        mid += rng.choice((-1, 0, 0, 1))
        changes = {"b": [], "a": []}
        for _ in range(rng.randint(1, 8)):
            side = rng.choice("ba")
            depth = rng.randint(1, 20) if rng.random() < 0.9 else rng.randint(20, 500)
            px = mid - depth if side == "b" else mid + depth
            qty = 0 if rng.random() < 0.3 else rng.randint(1, 5000)
            changes[side].append((px, qty))
        # Keep the book uncrossed: levels on the wrong side of mid go.
        for px in [p for p in book["b"] if p >= mid]:
            changes["b"].append((px, 0))
        for px in [p for p in book["a"] if p <= mid]:
            changes["a"].append((px, 0))
        for side in "ba":
            for px, qty in changes[side]:
                if qty:
                    book[side][px] = qty
                else:
                    book[side].pop(px, None)
        first = update_id + 1
        update_id += rng.randint(1, 40)
        event = {"e": "depthUpdate", "E": ts // 1_000_000, "s": symbol, "U": first, "u": update_id}
        if futures:
            event["T"] = ts // 1_000_000
            event["pu"] = first - 1
        event["b"] = [level(p, q) for p, q in changes["b"]]
        event["a"] = [level(p, q) for p, q in changes["a"]]
        depth_stream = f"{stream}@depth@0ms" if futures else f"{stream}@depth@100ms"
        pending.append(f'{ts} {json.dumps({"stream": depth_stream, "data": event}, separators=(",", ":"))}')
        if n + 1 == buffered_before_snapshot:
            # The book as of this event's last id: spot drops the event (u <= lastUpdateId), futures
            # re-applies it as the bridge (U <= lastUpdateId <= u), which is harmless with absolute sizes.
            snap = {"lastUpdateId": update_id}
            snap["bids"] = [level(p, q) for p, q in sorted(book["b"].items(), reverse=True)]
            snap["asks"] = [level(p, q) for p, q in sorted(book["a"].items())]
            snapshot_line = f"{ts + 1000} {json.dumps(snap, separators=(',', ':'))}"
        bid = max(book["b"])
        ask = min(book["a"])
        ticker = {"e": "bookTicker", "u": update_id, "s": symbol, "b": _text(bid, 1), "B": _text(book["b"][bid], 3),
                  "a": _text(ask, 1), "A": _text(book["a"][ask], 3)}
        pending.append(f'{ts + 500} {json.dumps({"stream": f"{stream}@bookTicker", "data": ticker}, separators=(",", ":"))}')
        if rng.random() < 0.2:
            trade = {"e": "trade", "E": ts // 1_000_000, "s": symbol, "t": n, "p": _text(ask, 1), "q": "0.010",
                     "T": ts // 1_000_000, "m": False}
            pending.append(f'{ts + 700} {json.dumps({"stream": f"{stream}@trade", "data": trade}, separators=(",", ":"))}')
        lines.extend(pending)
        pending.clear()
        if snapshot_line:
            lines.append(snapshot_line)
            snapshot_line = None
    path = Path(path)
    with gzip.open(path, "wt", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    return path
