# SPDX-License-Identifier: MIT
"""Synthetic converter inputs: Tardis CSV files and collector-format recordings, deterministic by seed.

For tests and benchmarks: snapshots (at the start of the day and later), deletes (amount 0), trades at the
same timestamps as depth updates, local timestamps ahead of exchange ones (negative latency), unknown trade
sides. Prices and sizes are written as exact decimal text from integer ticks and lots.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

_BOOK_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
_TRADES_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
_START_US = 1_575_158_400_000_000  # 2019-12-01


def _px(ticks: int) -> str:
    return f"{ticks // 10}.{ticks % 10}"


def _qty(lots: int) -> str:
    return f"{lots // 1000}.{lots % 1000:03d}".rstrip("0").rstrip(".") if lots % 1000 else str(lots // 1000)


def _open(path: Path, level: int = 1):
    if path.suffix == ".gz":
        try:
            from isal import igzip

            return igzip.open(path, "wt", compresslevel=min(level, 3), newline="")
        except ImportError:
            return gzip.open(path, "wt", compresslevel=level, newline="")
    return open(path, "w", newline="")


def write_tardis(book_path: str | Path, trades_path: str | Path | None, rows: int, *, seed: int = 1,
                 snapshot_levels: int = 50, snapshot_every: int = 0, growing_snapshots: bool = False,
                 negative_latency_every: int = 0, exchange: str = "binance-futures",
                 symbol: str = "BTCUSDT") -> tuple[int, int]:
    """Write an incremental_book_L2 file of about ``rows`` rows (and a trades file) and return the row counts.

    The book starts with a snapshot (start of day); ``snapshot_every`` > 0 adds a snapshot after that many
    update rows, each no larger than the first unless ``growing_snapshots``. ``negative_latency_every`` > 0
    makes every n-th row's local timestamp earlier than its exchange timestamp.
    """
    rng = random.Random(seed)
    mid = 75_000 * 10 + rng.randrange(1000)
    book_rows = trade_rows = 0
    ts = _START_US
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    book = _open(Path(book_path))
    trades = _open(Path(trades_path)) if trades_path else None
    try:
        book.write(_BOOK_HEADER)
        if trades:
            trades.write(_TRADES_HEADER)
        prefix = f"{exchange},{symbol},"
        snapshot_no = 0

        def snapshot(levels: int) -> None:
            nonlocal book_rows
            bids.clear()
            asks.clear()
            for k in range(levels):
                bids[mid - 1 - k] = rng.randrange(1, 5000)
                asks[mid + 1 + k] = rng.randrange(1, 5000)
            out = []
            for side, lv in (("ask", asks), ("bid", bids)):
                for px, q in lv.items():
                    out.append(f"{prefix}{ts},{ts},true,{side},{_px(px)},{_qty(q)}\n")
            book.write("".join(out))
            book_rows += len(out)

        snapshot(snapshot_levels)
        since_snapshot = 0
        trade_id = 1
        out = []
        tout = []
        while book_rows + len(out) < rows:
            ts += rng.choice((0, 0, 100, 1000, 3000))  # equal timestamps are common
            latency = rng.randrange(1000, 50_000)
            local = ts + latency
            if negative_latency_every and rng.randrange(negative_latency_every) == 0:
                local = ts - rng.randrange(1, 5000)
            mid += rng.choice((-1, 0, 0, 0, 1))
            n_levels = rng.randrange(1, 6)
            if trades and rng.randrange(4) == 0:
                side = rng.choice(("buy", "sell", "buy", "sell", "unknown"))
                tout.append(f"{prefix}{ts},{local},{trade_id},{side},{_px(mid)},{_qty(rng.randrange(1, 3000))}\n")
                trade_id += 1
            for _ in range(n_levels):
                bid = rng.randrange(2) == 0
                px = mid - rng.randrange(0, 60) if bid else mid + 1 + rng.randrange(0, 60)
                lv = bids if bid else asks
                q = 0 if (px in lv and rng.randrange(3) == 0) else rng.randrange(1, 5000)
                if q:
                    lv[px] = q
                else:
                    lv.pop(px, None)
                out.append(f"{prefix}{ts},{local},false,{'bid' if bid else 'ask'},{_px(px)},{_qty(q)}\n")
            since_snapshot += n_levels
            if len(out) >= 4096:
                book.write("".join(out))
                book_rows += len(out)
                out = []
            if trades and len(tout) >= 4096:
                trades.write("".join(tout))
                trade_rows += len(tout)
                tout = []
            if snapshot_every and since_snapshot >= snapshot_every:
                book.write("".join(out))
                book_rows += len(out)
                out = []
                snapshot_no += 1
                size = snapshot_levels + snapshot_no * 7 if growing_snapshots else max(1, snapshot_levels - snapshot_no)
                snapshot(size)
                since_snapshot = 0
        book.write("".join(out))
        book_rows += len(out)
        if trades:
            trades.write("".join(tout))
            trade_rows += len(tout)
    finally:
        book.close()
        if trades:
            trades.close()
    return book_rows, trade_rows


def write_recording(path: str | Path, lines: int, *, seed: int = 1, symbol: str = "btcusdt", futures: bool = True,
                    combined: bool = True, snapshot_at: int = 5, gap_at: int = 0, acks: bool = True,
                    levels: int = 20) -> int:
    """Write a collector-format recording (ns receive times) of about ``lines`` lines; return the count.

    Depth updates follow the exchange's id rules (futures: pu chain; spot: U = previous u + 1), with a REST
    snapshot line after ``snapshot_at`` updates; ``gap_at`` > 0 skips an update there (a gap) and writes a
    fresh snapshot a few lines later. Trades, book tickers and (futures) mark prices are interleaved, with
    a subscription ack and an error body at the start when ``acks``.
    """
    rng = random.Random(seed)
    sym = symbol.upper()
    t_ms = 1_721_347_200_000
    local = t_ms * 1_000_000 + 5_000_000
    last_u = 1_000_000
    mid = center = 650_000  # depth levels stay on their side of center: the book never crosses
    book: dict[tuple[int, int], int] = {}
    written = 0
    depth_no = 0
    pending_snapshot = None

    def wrap(stream: str, data: dict) -> str:
        body = json.dumps(data, separators=(",", ":"))
        return f'{{"stream":"{symbol}@{stream}","data":{body}}}' if combined else body

    with _open(Path(path)) as f:
        def emit(text: str) -> None:
            nonlocal written, local
            local += rng.randrange(50_000, 3_000_000)
            f.write(f"{local} {text}\n")
            written += 1

        if acks:
            emit('{"result":null,"id":1}')
            emit('{"code":-1121,"msg":"Invalid symbol."}')
        while written < lines:
            t_ms += rng.randrange(0, 30)
            kind = rng.randrange(10)
            if kind < 4 or depth_no < snapshot_at:
                first = last_u + 1
                u = first + rng.randrange(0, 20)
                b, a = [], []
                for _ in range(rng.randrange(1, levels)):
                    bid = rng.randrange(2) == 0
                    px = center - rng.randrange(0, 100) if bid else center + 1 + rng.randrange(0, 100)
                    q = 0 if rng.randrange(4) == 0 else rng.randrange(1, 9000)
                    (b if bid else a).append([_px(px), _qty(q)])
                    book[(bid, px)] = q
                data = {"e": "depthUpdate", "E": t_ms + 1, "T": t_ms, "s": sym, "U": first, "u": u, "b": b, "a": a}
                if futures:
                    data["pu"] = last_u
                else:
                    del data["T"]
                if gap_at and depth_no == gap_at:
                    pending_snapshot = depth_no + 3  # this update is lost: a gap, then a fresh snapshot
                else:
                    emit(wrap("depth@0ms" if futures else "depth@100ms", data))
                last_u = u
                depth_no += 1
                if depth_no == snapshot_at or depth_no == pending_snapshot:
                    bids = sorted(((px, q) for (bd, px), q in book.items() if bd and q), reverse=True)[:levels * 5]
                    asks = sorted((px, q) for (bd, px), q in book.items() if not bd and q)[:levels * 5]
                    snap = {"lastUpdateId": last_u, "E": t_ms + 2, "T": t_ms + 1,
                            "bids": [[_px(p), _qty(q)] for p, q in bids], "asks": [[_px(p), _qty(q)] for p, q in asks]}
                    if not futures:
                        del snap["E"], snap["T"]
                    emit(json.dumps(snap, separators=(",", ":")))
            elif kind < 7:
                mid += rng.choice((-1, 0, 1))
                data = {"e": "trade", "E": t_ms + 1, "T": t_ms, "s": sym, "t": written, "p": _px(mid),
                        "q": _qty(rng.randrange(1, 3000)), "m": rng.randrange(2) == 0}
                if futures:
                    data["X"] = "MARKET" if rng.randrange(50) else "INSURANCE_FUND"
                emit(wrap("trade", data))
            elif kind < 9 or not futures:
                data = {"e": "bookTicker", "u": last_u, "s": sym, "b": _px(mid - 1), "B": _qty(rng.randrange(1, 9000)),
                        "a": _px(mid + 1), "A": _qty(rng.randrange(1, 9000)), "T": t_ms, "E": t_ms + 1}
                if not futures:
                    data = {k: v for k, v in data.items() if k not in ("e", "T", "E")}
                emit(wrap("bookTicker", data))
            else:
                data = {"e": "markPriceUpdate", "E": t_ms + 1, "s": sym, "p": _px(mid), "P": _px(mid),
                        "i": _px(mid + 2), "r": "-0.00010000" if rng.randrange(2) else "0.00012000",
                        "T": (t_ms // 28_800_000 + 1) * 28_800_000}
                emit(wrap("markPrice@1s", data))
    return written
