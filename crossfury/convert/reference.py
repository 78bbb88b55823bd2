# SPDX-License-Identifier: MIT
"""Plain-Python twins of the ordering kernels (csrc/convert/order.c), for property tests.

Obviously correct and slow: they state what the C computes, row by row.
"""

from __future__ import annotations

import math

import numpy as np

from crossfury.events.hbt import EVENT_DTYPE, EXCH_EVENT, LOCAL_EVENT

_I64 = 1 << 64


def _wrap(v: int) -> int:
    v %= _I64
    return v - _I64 if v >= 1 << 63 else v


def argsort(keys) -> list[int]:
    """Indices ordering keys ascending, equal keys in index order."""
    return sorted(range(len(keys)), key=lambda i: (int(keys[i]), i))


def local_offset(rows, base_latency: int) -> int:
    """What correct_local_timestamp adds to every local_ts (int64 arithmetic, as hftbacktest's numba)."""
    latency = min((_wrap(int(r["local_ts"]) - int(r["exch_ts"])) for r in rows), default=0)
    return _wrap(base_latency - latency) if latency < 0 else 0


def _same(x, y) -> bool:
    px_same = x["px"] == y["px"] or (math.isnan(x["px"]) and math.isnan(y["px"]))
    return int(x["ev"]) == int(y["ev"]) and px_same and x["qty"] == y["qty"]


def correct_event_order(rows: np.ndarray, by_exch, by_local) -> np.ndarray:
    """Walk both orders at once: a row where both walks meet with equal timestamps and payload is written once
    with both flags; otherwise the earlier of the two (exchange first on equal timestamps) with its flag."""
    n = len(rows)
    out = []
    e = l = 0
    while e < n or l < n:
        x = rows[by_exch[e]] if e < n else None
        y = rows[by_local[l]] if l < n else None
        if x is not None and y is not None:
            same_ts = x["exch_ts"] == y["exch_ts"] and x["local_ts"] == y["local_ts"]
            if same_ts and _same(x, y):
                out.append((x, EXCH_EVENT | LOCAL_EVENT))
                e += 1
                l += 1
            elif (int(x["exch_ts"]), int(x["local_ts"])) <= (int(y["exch_ts"]), int(y["local_ts"])):
                out.append((x, EXCH_EVENT))
                e += 1
            else:
                out.append((y, LOCAL_EVENT))
                l += 1
        elif y is not None:
            out.append((y, LOCAL_EVENT))
            l += 1
        else:
            out.append((x, EXCH_EVENT))
            e += 1
    result = np.zeros(len(out), dtype=EVENT_DTYPE)
    for i, (row, flag) in enumerate(out):
        result[i] = row
        result[i]["ev"] = int(row["ev"]) | flag
    return result


def validate_event_order(rows) -> None:
    """ValueError when exchange events go back in exch_ts or local events in local_ts."""
    last_exch = last_local = None
    for r in rows:
        ev = int(r["ev"])
        if ev & EXCH_EVENT:
            if last_exch is not None and r["exch_ts"] < last_exch:
                raise ValueError("exchange events are out of order.")
            last_exch = r["exch_ts"]
        if ev & LOCAL_EVENT:
            if last_local is not None and r["local_ts"] < last_local:
                raise ValueError("local events are out of order.")
            last_local = r["local_ts"]
