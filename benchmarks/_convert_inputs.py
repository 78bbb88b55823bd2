# SPDX-License-Identifier: MIT
"""Inputs for bench_convert.py, generated once into a cache directory (deterministic by seed).

Tardis: synthetic ``incremental_book_L2`` and ``trades`` files (crossfury.convert.synthetic). Recording: the
real USD-M BTCUSDT capture (btcusdt_20240718 + _20240719 from the shared data set, 72k lines, one REST
snapshot) replayed end to end until it has the wanted number of lines. Each replay shifts receive times, E/T
times, update ids (U, u, pu, bookTicker u) and trade ids past the previous one, so the stream stays one
continuous day with an unbroken pu chain, and drops the snapshot line; everything else is the real bytes.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

from crossfury.convert.synthetic import write_tardis

TARDIS_BOOK_ROWS = 5_000_000
RECORDING_LINES = 1_000_000
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hftbacktest" / "usdm"
REAL_RECORDING = (DATA / "btcusdt_20240718.gz", DATA / "btcusdt_20240719.gz")

_TIME_MS = re.compile(rb'"([ET])":(\d+)')
_UPDATE_ID = re.compile(rb'"(U|u|pu|t)":(\d+)')


def _real_lines() -> list[bytes]:
    lines = []
    for path in REAL_RECORDING:
        with gzip.open(path, "rb") as f:
            lines.extend(line for line in f.read().split(b"\n") if line)
    return lines


def write_replayed_recording(path: Path, lines: int) -> int:
    """Write ``lines`` lines (ns receive times) replaying the real USD-M capture; return the line count."""
    real = _real_lines()
    depth = [line for line in real if b'"depthUpdate"' in line]
    first_pu = int(re.search(rb'"pu":(\d+)', depth[0]).group(1))
    last_u = int(re.search(rb'"u":(\d+)', depth[-1]).group(1))
    id_shift = last_u - first_pu  # the next replay's first pu is this replay's last u
    t0, t1 = int(real[0].split(b" ", 1)[0]), int(real[-1].split(b" ", 1)[0])
    ns_shift = t1 - t0 + 1_000_000
    ms_shift = -(-ns_shift // 1_000_000)
    ns_shift = ms_shift * 1_000_000  # receive and exchange times move together
    trade_shift = 10_000_000
    written = 0
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
        replay = 0
        while written < lines:
            if replay == 0:
                chunk = real[:lines]
            else:
                dt, di = ns_shift * replay, id_shift * replay
                dms, dtrade = ms_shift * replay, trade_shift * replay

                def times(m, dms=dms):
                    return b'"%s":%d' % (m.group(1), int(m.group(2)) + dms)

                def ids(m, di=di, dtrade=dtrade):
                    return b'"%s":%d' % (m.group(1), int(m.group(2)) + (dtrade if m.group(1) == b"t" else di))

                chunk = []
                for line in real:
                    if len(chunk) + written >= lines:
                        break
                    ts, body = line.split(b" ", 1)
                    if body.startswith(b'{"lastUpdateId"'):
                        continue  # one snapshot per day: later replays continue the book
                    body = _UPDATE_ID.sub(ids, _TIME_MS.sub(times, body))
                    chunk.append(b"%d %s" % (int(ts) + dt, body))
            out.write(b"\n".join(chunk) + b"\n")
            written += len(chunk)
            replay += 1
    return written


def ensure(directory: Path, book_rows: int = TARDIS_BOOK_ROWS, recording_lines: int = RECORDING_LINES) -> dict:
    """Write (or reuse) the Tardis book + trades files and the recording; return their paths and sizes."""
    directory = directory / f"{book_rows}_{recording_lines}"
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / "inputs.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(Path(p).exists() for p in meta["files"].values()):
            return meta
    if not all(p.exists() for p in REAL_RECORDING):
        raise SystemExit(f"the real recording is needed to build the benchmark input: {REAL_RECORDING[0]}")
    t = time.perf_counter()
    book, trades = directory / "tardis_incremental_book_L2.csv.gz", directory / "tardis_trades.csv.gz"
    # Later snapshots no larger than the first: hftbacktest truncates growing ones, and the results must match.
    book_n, trades_n = write_tardis(book, trades, book_rows, seed=42, snapshot_levels=500, snapshot_every=1_000_000,
                                    negative_latency_every=5000)
    rec = directory / "btcusdt_20240719.gz"
    lines = write_replayed_recording(rec, recording_lines)
    meta = {"files": {"book": str(book), "trades": str(trades), "recording": str(rec)},
            "rows": {"book": book_n, "trades": trades_n, "recording_lines": lines},
            "generated_s": time.perf_counter() - t}
    meta_path.write_text(json.dumps(meta))
    return meta
