# SPDX-License-Identifier: MIT
"""Raw Binance USD-M depth streams for the decode benchmark: real recordings and a synthetic stream.

A stream is a REST depth snapshot body and the combined-stream depthUpdate messages that follow it, as the
exact bytes the exchange sent. ``write_stream`` stores one as length-prefixed records (u32 little endian,
the snapshot first) so that every contender, the C++ floor included, reads the same bytes.
"""

from __future__ import annotations

import gzip
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hftbacktest" / "usdm"
# Two real BTCUSDT recordings, each a snapshot and the gapless depth stream after it over two UTC days:
# July 2024 (about 44 level updates a message) and April 2023 (about 23, `@depth@0ms`).
USDM_FILES = ("btcusdt_20240718.gz", "btcusdt_20240719.gz")
USDM_2023_FILES = ("btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz")
_LEN = struct.Struct("<I")


@dataclass(frozen=True)
class Stream:
    name: str
    snapshot: bytes
    messages: list[bytes]

    def level_updates(self) -> int:
        return sum(len(d["b"]) + len(d["a"]) for d in (json.loads(m)["data"] for m in self.messages))


def usdm_missing(data_dir: Path = DATA_DIR, files: tuple[str, ...] = USDM_FILES) -> str | None:
    """Say which recording files are absent, or return None when the real stream can load."""
    missing = [str((data_dir / f).resolve()) for f in files if not (data_dir / f).is_file()]
    return f"recorded data not found: {', '.join(missing)}" if missing else None


def usdm(data_dir: Path = DATA_DIR, files: tuple[str, ...] = USDM_FILES) -> Stream:
    """The BTCUSDT USD-M recording: its REST snapshot and the depth messages from the one bridging it on.

    The recorder logs "<ts> <raw json>" lines. The snapshot's REST reply arrives after the stream has
    started, so the bridging event (U <= lastUpdateId <= u) is logged just before the snapshot line; the
    stale events before it (u < lastUpdateId) are dropped, as a client drops them.
    """
    if missing := usdm_missing(data_dir, files):
        raise FileNotFoundError(missing)
    snapshot, messages = None, []
    for name in files:
        with gzip.open(data_dir / name, "rb") as f:
            for line in f:
                body = line.split(b" ", 1)[1].rstrip(b"\r\n")
                if body.startswith(b'{"lastUpdateId"'):
                    if snapshot is not None:
                        raise ValueError(f"more than one depth snapshot in {', '.join(files)}")
                    snapshot = body
                elif b"@depth" in body[:64]:
                    messages.append(body)
    if snapshot is None:
        raise ValueError(f"no REST depth snapshot in {data_dir / files[0]}")
    last_id = json.loads(snapshot)["lastUpdateId"]
    messages = [m for m in messages if json.loads(m)["data"]["u"] >= last_id]
    return Stream(f"usdm-btcusdt ({', '.join(files)})", snapshot, messages)


def _px(ticks: int) -> str:  # 0.1 tick, written with two decimals as Binance USD-M does: "63943.90"
    return f"{ticks // 10}.{ticks % 10}0"


def _qty(lots: int) -> str:  # 0.001 lot: "0.007", "46.372", deletes "0.000"
    return f"{lots // 1000}.{lots % 1000:03d}"


def _lots(rng: np.random.Generator, size: int | tuple[int, int]) -> np.ndarray:
    """Quantities in lots, heavy-tailed as on the exchange: median ~0.15 BTC, a few above 100 BTC."""
    return np.minimum(rng.lognormal(5.0, 2.0, size).astype(np.int64) + 1, 999_999)


def _side(levels: dict[int, int]) -> bytes:
    return ",".join(f'["{_px(p)}","{_qty(q)}"]' for p, q in sorted(levels.items())).encode()


def synthetic(n_messages: int = 200_000, depth: int = 1000, seed: int = 20240719) -> Stream:
    """A deterministic BTCUSDT USD-M stream: a snapshot of ``depth`` levels a side, then n depthUpdates.

    Each message carries 5-60 level updates, prices ascending per side as Binance sends them: about 80%
    within 50 ticks of a random-walk mid, the rest up to 1.5x the depth away; about 30% are "0.000"
    deletes. When the mid moves, the levels it crossed are deleted, so the book never crosses. Ids chain as
    on USD-M: the first event bridges the snapshot (U <= lastUpdateId <= u), then pu is the previous u.
    """
    rng = np.random.default_rng(seed)
    mid = (640_000 + np.cumsum(rng.choice([-1, 0, 0, 0, 0, 0, 1], size=n_messages))).tolist()
    counts = rng.integers(5, 61, size=n_messages).tolist()
    pool = 40 * n_messages  # draws of (side, offset, qty); a message takes draws until it has its count
    is_bid = (rng.random(pool) < 0.5).tolist()
    near = rng.random(pool) < 0.8
    offset = np.where(near, rng.integers(1, 51, pool), rng.integers(51, depth * 3 // 2, pool))
    qty = _lots(rng, pool)
    qty[rng.random(pool) < 0.3] = 0
    offset, qty = offset.tolist(), qty.tolist()
    id_step = rng.integers(1, 5_000, size=(n_messages, 2)).tolist()

    last_id, time_ms = 4_984_028_384_061, 1_721_347_022_759
    snap_qty = _lots(rng, (2, depth)).tolist()
    bids = [[_px(640_000 - k), _qty(q)] for k, q in zip(range(1, depth + 1), snap_qty[0])]  # best first
    asks = [[_px(640_000 + k), _qty(q)] for k, q in zip(range(1, depth + 1), snap_qty[1])]
    snapshot = json.dumps({"lastUpdateId": last_id, "E": time_ms, "T": time_ms - 9, "bids": bids,
                           "asks": asks}, separators=(",", ":")).encode()

    messages, j, prev_mid, prev_u = [], 0, 640_000, last_id - 2_600
    for k, (m, n) in enumerate(zip(mid, counts)):
        sides: tuple[dict[int, int], dict[int, int]] = ({}, {})
        if m > prev_mid:  # asks at or below the new mid were taken
            sides[1][m] = 0
        elif m < prev_mid:
            sides[0][m] = 0
        prev_mid = m
        while len(sides[0]) + len(sides[1]) < n:  # one update per price and side, as the exchange sends
            side = 0 if is_bid[j] else 1
            sides[side].setdefault(m - offset[j] if side == 0 else m + offset[j], qty[j])
            j += 1
        # the first event starts before the snapshot and bridges it
        first = last_id - 2_000 if k == 0 else prev_u + 1 + id_step[k][0] % 3
        u = (last_id if k == 0 else first) + id_step[k][1]
        time_ms += 1 + id_step[k][0] % 9
        messages.append(b'{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":%d,"T":%d,'
                        b'"s":"BTCUSDT","U":%d,"u":%d,"pu":%d,"b":[%s],"a":[%s]}}'
                        % (time_ms, time_ms - 1, first, u, prev_u, _side(sides[0]), _side(sides[1])))
        prev_u = u
    return Stream(f"synthetic-{n_messages // 1000}k", snapshot, messages)


def write_stream(stream: Stream, path: Path) -> None:
    """Write the snapshot, then each message, as u32-length-prefixed records."""
    with open(path, "wb") as f:
        f.writelines(_LEN.pack(len(record)) + record for record in (stream.snapshot, *stream.messages))


def read_stream(path: Path) -> tuple[bytes, list[bytes]]:
    """Read (snapshot, messages) back from write_stream's file."""
    data, records, at = Path(path).read_bytes(), [], 0
    while at < len(data):
        (n,) = _LEN.unpack_from(data, at)
        records.append(data[at + 4:at + 4 + n])
        at += 4 + n
    return records[0], records[1:]


def reference_best(snapshot: bytes, messages: list[bytes]) -> list[float]:
    """The final (bid px, bid qty, ask px, ask qty) by plain dicts on exact decimal text, as floats.

    Checks the update-id chain as Binance USD-M defines it and raises ValueError on a gap.
    """
    from decimal import Decimal

    snap = json.loads(snapshot)
    books = [{Decimal(p): Decimal(q) for p, q in snap[key]} for key in ("bids", "asks")]
    last, bridged = snap["lastUpdateId"], False
    for m in messages:
        d = json.loads(m)["data"]
        if not bridged and d["u"] < last:
            continue
        if (d["pu"] != last) if bridged else not d["U"] <= last <= d["u"]:
            raise ValueError(f"update-id gap before event u={d['u']}")
        bridged, last = True, d["u"]
        for book, key in zip(books, "ba"):
            for p, q in d[key]:
                if Decimal(q):
                    book[Decimal(p)] = Decimal(q)
                else:
                    book.pop(Decimal(p), None)
    bid, ask = max(books[0]), min(books[1])
    return [float(bid), float(books[0][bid]), float(ask), float(books[1][ask])]
