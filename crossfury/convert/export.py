# SPDX-License-Identifier: MIT
"""Recordings -> Tardis-format CSV (``crossfury convert recording --to-tardis DIR``).

Writes ``<stem>_incremental_book_L2.csv.gz`` and ``<stem>_trades.csv.gz`` with Tardis' standard headers:
timestamps in µs (receive times lose their sub-µs digits), snapshots as ``is_snapshot`` rows (their clear
rows are implied, as in Tardis), prices and amounts as the shortest text that reads back to the same float.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from crossfury.convert import recording_rows
from crossfury.events.hbt import BUY_EVENT, SELL_EVENT

_BOOK_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
_TRADES_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"


def _symbol_from(path: Path) -> str:
    m = re.match(r"([a-z0-9_]+?)_\d{8}", path.name.lower())
    return (m.group(1) if m else path.name.split(".")[0]).upper()


def to_tardis(files: list[str | Path], out_dir: str | Path, *, exchange: str | None = None,
              symbol: str | None = None, **options) -> dict[str, Path]:
    """Write the recordings' depth and trade events as Tardis CSV files; return the paths by kind."""
    paths = [Path(f) for f in files]
    rows, report = recording_rows(paths, **options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    symbol = symbol or _symbol_from(paths[0])
    if exchange is None:
        exchange = "binance-futures" if report.counts.get("rule") != "range" else "binance"
    stem = f"{exchange}_{symbol}_{paths[0].name.split('.')[0].split('_')[-1]}"
    kind = rows["ev"] & 0xFF
    written = {}
    book = rows[np.isin(kind, (1, 4))]
    trades = rows[kind == 2]
    prefix = f"{exchange},{symbol},"
    book_path = out / f"{stem}_incremental_book_L2.csv.gz"
    with gzip.open(book_path, "wt", compresslevel=3, newline="") as f:
        f.write(_BOOK_HEADER)
        for r in book:
            snap = "true" if int(r["ev"]) & 0xFF == 4 else "false"
            side = "bid" if int(r["ev"]) & BUY_EVENT else "ask"
            f.write(f"{prefix}{int(r['exch_ts']) // 1000},{int(r['local_ts']) // 1000},{snap},{side},"
                    f"{float(r['px'])!r},{float(r['qty'])!r}\n")
    written["incremental_book_L2"] = book_path
    trades_path = out / f"{stem}_trades.csv.gz"
    with gzip.open(trades_path, "wt", compresslevel=3, newline="") as f:
        f.write(_TRADES_HEADER)
        for i, r in enumerate(trades):
            ev = int(r["ev"])
            side = "buy" if ev & BUY_EVENT else "sell" if ev & SELL_EVENT else "unknown"
            f.write(f"{prefix}{int(r['exch_ts']) // 1000},{int(r['local_ts']) // 1000},{i + 1},{side},"
                    f"{float(r['px'])!r},{float(r['qty'])!r}\n")
    written["trades"] = trades_path
    return written
