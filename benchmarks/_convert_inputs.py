# SPDX-License-Identifier: MIT
"""Inputs for bench_convert.py, generated once into a cache directory (deterministic by seed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from crossfury.convert.synthetic import write_recording, write_tardis

TARDIS_BOOK_ROWS = 5_000_000
RECORDING_LINES = 1_000_000


def ensure(directory: Path, book_rows: int = TARDIS_BOOK_ROWS, recording_lines: int = RECORDING_LINES) -> dict:
    """Write (or reuse) the Tardis book + trades files and the recording; return their paths and sizes."""
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / f"inputs_{book_rows}_{recording_lines}.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(Path(p).exists() for p in meta["files"].values()):
            return meta
    t = time.perf_counter()
    book, trades = directory / "tardis_incremental_book_L2.csv.gz", directory / "tardis_trades.csv.gz"
    # Later snapshots no larger than the first: hftbacktest truncates growing ones, and the results must match.
    book_n, trades_n = write_tardis(book, trades, book_rows, seed=42, snapshot_levels=500, snapshot_every=1_000_000,
                                    negative_latency_every=5000)
    rec = directory / "btcusdt_20240719.gz"
    lines = write_recording(rec, recording_lines, seed=42, acks=False, snapshot_at=20)
    meta = {"files": {"book": str(book), "trades": str(trades), "recording": str(rec)},
            "rows": {"book": book_n, "trades": trades_n, "recording_lines": lines},
            "generated_s": time.perf_counter() - t}
    meta_path.write_text(json.dumps(meta))
    return meta
