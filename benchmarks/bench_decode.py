# SPDX-License-Identifier: MIT
"""Raw depth messages to a synced book: crossfury's C decoder and fused path against Python peers and C++.

Run ``python benchmarks/bench_decode.py [--quick] [--json OUT]``. On two real USD-M BTCUSDT recordings
(July 2024, ~44 level updates a message; April 2023, ~23) and on a synthetic stream (``_decode_inputs``), all written once to a length-prefixed file that every contender
reads, it measures two steps, each contender in its own subprocess (``--contender NAME --input FILE``),
best of ``--repeat`` runs (more for fast contenders, up to 1 s of runs), garbage collector off in the timed
loop:

parse  bytes -> update ids and level values as floats: crossfury ``decode`` (C) against ``json``,
       ``orjson``, a typed ``msgspec`` Struct and pysimdjson (``float()`` on each level's text).
book   bytes -> parse, the USD-M update-id check, apply, best bid/ask after each message: crossfury's fused
       ``SyncedBook.on_message`` and its batch ``on_messages`` against msgspec + SortedDict, orjson +
       order-book, cryptofeed's own BinanceFutures depth handler driven offline, and a C++ floor
       (native_floor/floor.cpp, simdjson on-demand + a price-indexed array, built with g++ -O3 here).

Results are checked once: every parse contender must yield the same ids, level counts and value sums as
``json.loads``; every book contender must end on the same best bid/ask as a plain-dict Decimal replay of
the stream, or the script exits 1.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from _decode_inputs import (USDM_2023_FILES, USDM_FILES, read_stream, reference_best, synthetic, usdm, usdm_missing,
                            write_stream)

TICK_SIZE, LOT_SIZE = "0.1", "0.001"  # Binance USD-M BTCUSDT; the synthetic stream uses the same grid
FLOOR_SRC = Path(__file__).resolve().parent / "native_floor" / "floor.cpp"
MIN_TIMED_S, MAX_RUNS = 1.0, 100  # fast contenders run more than --repeat times, up to 1 s of timed runs


class GapError(RuntimeError):
    pass


# -- parse: each run(messages) parses every message into (U, u, pu, bids, asks), levels as float pairs,
# and returns the last; the check calls the same run on one message at a time.


def parse_crossfury() -> Callable:
    from crossfury.decode import decode
    from crossfury.exchanges.binance.layouts import DEPTH

    def run(messages: list[bytes]) -> tuple:
        for m in messages:
            f, bids, asks = decode(DEPTH, m)  # bids, asks: (n, 2) float64 arrays
            out = f["first_id"], f["last_id"], f["prev_id"], bids, asks
        return out

    return run


def _parse_dicts(loads: Callable) -> Callable:
    def run(messages: list[bytes]) -> tuple:
        for m in messages:
            d = loads(m)["data"]
            out = (d["U"], d["u"], d["pu"], [(float(p), float(q)) for p, q in d["b"]],
                   [(float(p), float(q)) for p, q in d["a"]])
        return out

    return run


def parse_json() -> Callable:
    return _parse_dicts(json.loads)


def parse_orjson() -> Callable:
    import orjson

    return _parse_dicts(orjson.loads)


class DepthUpdate(msgspec.Struct):
    """A USD-M depthUpdate as msgspec's typed decoder reads it."""

    e: str
    E: int
    T: int
    s: str
    U: int
    u: int
    pu: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class Envelope(msgspec.Struct):
    stream: str
    data: DepthUpdate


def parse_msgspec() -> Callable:
    decode = msgspec.json.Decoder(Envelope).decode

    def run(messages: list[bytes]) -> tuple:
        for m in messages:
            d = decode(m).data
            out = (d.U, d.u, d.pu, [(float(p), float(q)) for p, q in d.b],
                   [(float(p), float(q)) for p, q in d.a])
        return out

    return run


def parse_simdjson() -> Callable:
    import simdjson

    parse = simdjson.Parser().parse

    def run(messages: list[bytes]) -> tuple:
        for m in messages:
            d = parse(m)["data"]  # lazy: fields are read from the parsed tape on access
            out = (d["U"], d["u"], d["pu"], [(float(p), float(q)) for p, q in d["b"].as_list()],
                   [(float(p), float(q)) for p, q in d["a"].as_list()])
            del d  # the parser cannot be reused while a proxy into its document lives
        return out

    return run


# -- book: each factory(snapshot, messages) returns new() -> a book holding the snapshot (untimed) and
# run(book) -> the final (bid px, bid qty, ask px, ask qty), checking ids and reading the best per message.


def _crossfury_book(snapshot: bytes) -> Any:
    from crossfury.book import SyncedBook

    book = SyncedBook("binance-futures", TICK_SIZE, LOT_SIZE)
    book.on_snapshot(snapshot)
    return book


def _crossfury_check(book: Any) -> None:
    counters = book.counters()
    if counters["gaps"] or counters["rejected"]:
        raise GapError(f"crossfury book counters: {counters}")


def book_crossfury(snapshot: bytes, messages: list[bytes]) -> tuple[Callable, Callable]:
    def run(book: Any) -> Any:
        on_message, read_best = book.on_message, book.best
        for m in messages:
            on_message(m)  # decode, id check, apply: one C call
            best = read_best()
        return best

    return lambda: _crossfury_book(snapshot), run


def book_crossfury_batch(snapshot: bytes, messages: list[bytes]) -> tuple[Callable, Callable]:
    def run(book: Any) -> Any:
        book.on_messages(messages)  # int8 status per message; the best can only be read at the end
        return book.best()

    return lambda: _crossfury_book(snapshot), run


def book_msgspec_sorteddict(snapshot: bytes, messages: list[bytes]) -> tuple[Callable, Callable]:
    from sortedcontainers import SortedDict

    decode = msgspec.json.Decoder(Envelope).decode
    snap = json.loads(snapshot)

    def new() -> Any:  # bids keyed by -px so that index 0 is the best on both sides
        return (SortedDict({-float(p): float(q) for p, q in snap["bids"]}),
                SortedDict({float(p): float(q) for p, q in snap["asks"]}), snap["lastUpdateId"])

    def run(state: Any) -> Any:
        bids, asks, last = state
        bridged = False
        for m in messages:
            d = decode(m).data
            if d.pu != last:  # before the bridge: skip stale events, or bridge U <= last <= u
                if bridged or d.U > last:
                    raise GapError(f"update-id gap before u={d.u}")
                if d.u < last:
                    continue
            bridged, last = True, d.u
            for p, q in d.b:
                if (qty := float(q)):
                    bids[-float(p)] = qty
                else:
                    bids.pop(-float(p), None)
            for p, q in d.a:
                if (qty := float(q)):
                    asks[float(p)] = qty
                else:
                    asks.pop(float(p), None)
            (neg_px, bid_qty), (ask_px, ask_qty) = bids.peekitem(0), asks.peekitem(0)
            best = -neg_px, bid_qty, ask_px, ask_qty
        return best

    return new, run


def book_orjson_order_book(snapshot: bytes, messages: list[bytes]) -> tuple[Callable, Callable]:
    import orjson
    from order_book import OrderBook

    loads, snap = orjson.loads, json.loads(snapshot)

    def new() -> Any:
        ob = OrderBook()
        ob.bids = {float(p): float(q) for p, q in snap["bids"]}
        ob.asks = {float(p): float(q) for p, q in snap["asks"]}
        return ob, snap["lastUpdateId"]

    def run(state: Any) -> Any:
        ob, last = state
        bids, asks, bridged = ob.bids, ob.asks, False
        for m in messages:
            d = loads(m)["data"]
            if d["pu"] != last:
                if bridged or d["U"] > last:
                    raise GapError(f"update-id gap before u={d['u']}")
                if d["u"] < last:
                    continue
            bridged, last = True, d["u"]
            for side, levels in ((bids, d["b"]), (asks, d["a"])):  # as cryptofeed: set, or delete if present
                for p, q in levels:
                    px, qty = float(p), float(q)
                    if qty:
                        side[px] = qty
                    elif px in side:
                        del side[px]
            best = bids.index(0) + asks.index(0)
        return best

    return new, run


# cryptofeed reads the symbol list from exchangeInfo over HTTP when a feed is built: this one-symbol
# exchangeInfo goes through its own parser instead.
_EXCHANGE_INFO = {"symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT",
                               "status": "TRADING", "contractType": "PERPETUAL",
                               "filters": [{"tickSize": TICK_SIZE}]}]}


def book_cryptofeed(snapshot: bytes, messages: list[bytes]) -> tuple[Callable, Callable]:
    """cryptofeed's BinanceFutures feed, offline: its REST snapshot call returns the recorded body, then its
    websocket message handler gets each message as the str a websocket delivers, with a no-op callback."""
    import asyncio
    import logging

    from cryptofeed.defines import L2_BOOK
    from cryptofeed.exchanges import BinanceFutures
    from cryptofeed.symbols import Symbols

    logging.getLogger("feedhandler").setLevel(logging.ERROR)
    Symbols.set(BinanceFutures.id, *BinanceFutures._parse_symbol_data(_EXCHANGE_INFO))
    texts, loop = [m.decode() for m in messages], asyncio.new_event_loop()

    async def on_book(book: Any, receipt_timestamp: float) -> None:
        pass

    async def rest_read(*args: Any, **kwargs: Any) -> str:
        return snapshot.decode()

    def new() -> Any:
        feed = BinanceFutures(symbols=["BTC-USDT-PERP"], channels=[L2_BOOK], callbacks={L2_BOOK: on_book})
        feed.http_conn.read = rest_read
        feed._reset()  # what subscribe() does on connect
        loop.run_until_complete(feed._snapshot("BTCUSDT"))  # what _book() does for the first message
        return feed

    async def drive(feed: Any) -> None:
        handler = feed.message_handler
        for m in texts:
            await handler(m, None, 1721347021.0)

    def run(feed: Any) -> Any:
        loop.run_until_complete(drive(feed))
        book = feed._l2_book["BTC-USDT-PERP"].book  # the best, read once at the end
        return tuple(float(v) for v in book.bids.index(0) + book.asks.index(0))

    return new, run


PARSE = {
    "crossfury-decode": ("crossfury `decode(DEPTH, msg)` (C; float arrays)", parse_crossfury),
    "json": ("`json.loads`", parse_json),
    "orjson": ("`orjson.loads`", parse_orjson),
    "msgspec": ("`msgspec.json` typed Struct", parse_msgspec),
    "simdjson": ("pysimdjson `Parser.parse` + field access", parse_simdjson),
}
BOOK = {
    "crossfury-single": ("crossfury `on_message` + `best()` per message", book_crossfury),
    "crossfury-batch": ("crossfury `on_messages` batch (best read once, at the end)", book_crossfury_batch),
    "msgspec-sorteddict": ("`msgspec` typed + `SortedDict`", book_msgspec_sorteddict),
    "orjson-order-book": ("`orjson` + `order-book` (float keys)", book_orjson_order_book),
    "cryptofeed": ("cryptofeed `BinanceFutures` handler (no-op callback, no best read)", book_cryptofeed),
}
FLOOR = "native-floor"
LABELS = {**{k: v[0] for k, v in PARSE.items()}, **{k: v[0] for k, v in BOOK.items()},
          FLOOR: "C++ simdjson on-demand + price-indexed array (native floor)"}
PEERS = {"parse": ("json", "orjson", "msgspec", "simdjson"),
         "book": ("msgspec-sorteddict", "orjson-order-book", "cryptofeed", FLOOR)}
SHORT = {"json": "json", "orjson": "orjson", "msgspec": "msgspec", "simdjson": "simdjson",
         "msgspec-sorteddict": "msgspec+SortedDict", "orjson-order-book": "orjson+order-book",
         "cryptofeed": "cryptofeed", FLOOR: "C++ floor"}


def _timed(repeat: int, new: Callable, run: Callable) -> tuple[list[float], Any, Any]:
    times: list[float] = []
    while len(times) < repeat or (sum(times) < MIN_TIMED_S and len(times) < MAX_RUNS):
        state = new()
        gc.collect()
        gc.disable()
        t0 = time.perf_counter_ns()
        result = run(state)
        times.append((time.perf_counter_ns() - t0) / 1e9)
        gc.enable()
    return times, state, result


def _digest(run: Callable, messages: list[bytes]) -> dict[str, list]:
    """Sums of the ids, level counts and float sums of each level column, over every message, in order."""
    ids, counts, sums = [0, 0, 0], [0, 0], [0.0, 0.0, 0.0, 0.0]
    for m in messages:
        out = run([m])
        for k in range(3):
            ids[k] += out[k]
        for s in range(2):
            counts[s] += len(out[3 + s])
            for px, qty in out[3 + s]:
                sums[2 * s] += float(px)
                sums[2 * s + 1] += float(qty)
    return {"ids": ids, "levels": counts, "sums": sums}


def measure(contender: str, path: Path, repeat: int) -> dict[str, Any]:
    """Time one contender on one stream file in this process."""
    snapshot, messages = read_stream(path)
    if contender in PARSE:
        run = PARSE[contender][1]()
        times, _, _ = _timed(repeat, lambda: messages, run)
        check = {"digest": _digest(run, messages)}
    else:
        new, run = BOOK[contender][1](snapshot, messages)
        times, state, best = _timed(repeat, new, run)
        if contender.startswith("crossfury"):
            _crossfury_check(state)
        check = {"final_best": [float(v) for v in best]}
    return {"contender": contender, "step": "parse" if contender in PARSE else "book", "times_s": times,
            "messages_per_s": len(messages) / min(times), **check}


def _child(contender: str, path: Path, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--contender", contender, "--input", str(path),
           "--repeat", str(repeat)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{contender} on {path.name} failed (exit {out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout)


def simdjson_dir() -> tuple[Path | None, str]:
    """The directory holding simdjson.h and simdjson.cpp: $SIMDJSON_DIR, or the pysimdjson wheel's package."""
    if env := os.environ.get("SIMDJSON_DIR"):
        candidates = [Path(env)]
    else:
        spec = importlib.util.find_spec("simdjson")
        candidates = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for d in candidates:
        if (d / "simdjson.h").is_file() and (d / "simdjson.cpp").is_file():
            return d, ""
    return None, ("simdjson.h/simdjson.cpp not found in the installed pysimdjson package: run `pip download "
                  "pysimdjson --no-binary :all:`, unpack it and set SIMDJSON_DIR to the folder holding them")


def build_floor(out_dir: Path) -> tuple[Path | None, str]:
    """Compile native_floor/floor.cpp against simdjson with g++ -O3; (binary, "") or (None, why not)."""
    src_dir, why = simdjson_dir()
    if src_dir is None:
        return None, why
    if shutil.which("g++") is None:
        return None, "g++ not found"
    binary = out_dir / "floor"
    cmd = ["g++", "-O3", "-std=c++17", "-DNDEBUG", f"-I{src_dir}", str(FLOOR_SRC),
           str(src_dir / "simdjson.cpp"), "-o", str(binary)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        return None, f"g++ failed:\n{out.stderr}"
    return binary, f"`{' '.join(cmd)}` (simdjson from {src_dir})"


def _floor_row(binary: Path, path: Path, repeat: int) -> dict[str, Any]:
    out = subprocess.run([str(binary), str(path), str(repeat), str(MIN_TIMED_S), str(MAX_RUNS)],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"native floor on {path.name} failed (exit {out.returncode}):\n{out.stderr}")
    return {"contender": FLOOR, "step": "book", **json.loads(out.stdout)}


def _ratio(x: float) -> str:
    return f"{x:.1f}x" if x >= 1 else f"{x:.2f}x" if x >= 0.1 else f"{x:.3f}x"


def table(rows: list[dict[str, Any]], n_messages: int, n_bytes: int) -> str:
    """One markdown table: each row's messages/s and its ratio to every peer of the same step."""
    peers = [p for step in PEERS.values() for p in step]
    mps = {r["contender"]: r["messages_per_s"] for r in rows}
    lines = ["| step | contender | messages/s | MB/s | " + " | ".join(f"vs {SHORT[p]}" for p in peers) + " |",
             "|---|---|---:|---:|" + "---:|" * len(peers)]
    for r in rows:
        ratios = [_ratio(r["messages_per_s"] / mps[p]) if p in PEERS[r["step"]] and p in mps else ""
                  for p in peers]
        mb_s = r["messages_per_s"] * n_bytes / n_messages / 1e6
        lines.append(f"| {r['step']} | {LABELS[r['contender']]} | {r['messages_per_s']:,.0f} | {mb_s:,.0f} | "
                     + " | ".join(ratios) + " |")
    return "\n".join(lines)


def goals(mps: dict[str, float]) -> list[tuple[str, bool]]:
    """The project's targets for the fused path, as (statement, met)."""
    batch, single = mps["crossfury-batch"], mps["crossfury-single"]
    out = [(f"batch fused `on_messages` {batch:,.0f} msg/s >= 1,500,000", batch >= 1.5e6),
           (f"batch / msgspec+SortedDict = {batch / mps['msgspec-sorteddict']:.1f}x >= 18x",
            batch >= 18 * mps["msgspec-sorteddict"]),
           (f"batch / cryptofeed handler = {batch / mps['cryptofeed']:.1f}x >= 40x",
            batch >= 40 * mps["cryptofeed"])]
    if FLOOR in mps:
        out.append((f"C++ floor / batch = {mps[FLOOR] / batch:.2f}x <= 1.5x", mps[FLOOR] <= 1.5 * batch))
    out.append((f"single `on_message` + `best()` {single:,.0f} msg/s >= 1,000,000", single >= 1e6))
    return out


def _check(rows: list[dict[str, Any]], expected_best: list[float]) -> list[str]:
    ref = next(r["digest"] for r in rows if r["contender"] == "json")
    errors = [f"{LABELS[r['contender']]}: parse digest {r['digest']} != json.loads's {ref}"
              for r in rows if r["step"] == "parse" and r["digest"] != ref]
    return errors + [f"{LABELS[r['contender']]}: final best {r['final_best']} != reference {expected_best}"
                     for r in rows if r["step"] == "book" and r["final_best"] != expected_best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="synthetic stream of 20k messages, not 200k")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the best is kept")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--contender", choices=[*PARSE, *BOOK], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:  # child: one measurement, JSON on stdout
        print(json.dumps(measure(args.contender, args.input, args.repeat)))
        return

    load_start = os.getloadavg()
    n_synthetic = 20_000 if args.quick else 200_000
    loaders: dict[str, Callable] = {}
    for name, files in (("usdm", USDM_FILES), ("usdm-2023", USDM_2023_FILES)):
        if missing := usdm_missing(files=files):
            print(f"bench_decode: skipping a real USD-M dataset: {missing}", file=sys.stderr)
        else:
            loaders[name] = lambda files=files: usdm(files=files)
    loaders["synthetic"] = lambda: synthetic(n_synthetic)
    report: dict[str, Any] = {"python": sys.version.split()[0], "repeat": args.repeat, "datasets": []}
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_decode-") as tmp:
        floor, floor_note = build_floor(Path(tmp))
        if floor is None:
            print(f"bench_decode: no native floor: {floor_note}", file=sys.stderr)
        for name, loader in loaders.items():
            stream = loader()
            path = Path(tmp) / f"{name}.bin"
            write_stream(stream, path)
            rows = [_child(c, path, args.repeat) for c in [*PARSE, *BOOK]]
            if floor is not None:
                rows.append(_floor_row(floor, path, args.repeat))
            expected = reference_best(stream.snapshot, stream.messages)
            errors += [f"{stream.name}: {e}" for e in _check(rows, expected)]
            report["datasets"].append({"name": stream.name, "messages": len(stream.messages),
                                       "bytes": sum(map(len, stream.messages)),
                                       "level_updates": stream.level_updates(), "rows": rows})
    load_end = os.getloadavg()
    report["load_average"] = {"start": load_start, "end": load_end}

    print(f"Python {report['python']}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"best of {args.repeat} runs or more (up to {MIN_TIMED_S:g} s of runs), each contender in its own "
          f"process; load average (1/5/15 min) "
          f"{'/'.join(f'{x:.2f}' for x in load_start)} at the start, "
          f"{'/'.join(f'{x:.2f}' for x in load_end)} at the end")
    print(f"native floor: {floor_note}\n" if floor else f"native floor: NOT measured: {floor_note}\n")
    for ds in report["datasets"]:
        mps = {r["contender"]: r["messages_per_s"] for r in ds["rows"]}
        print(f"### {ds['name']}: {ds['messages']:,} messages, {ds['bytes'] / ds['messages']:,.0f} bytes and "
              f"{ds['level_updates'] / ds['messages']:.1f} level updates each\n")
        print(table(ds["rows"], ds["messages"], ds["bytes"]) + "\n")
        ds["goals"] = [{"goal": g, "met": met} for g, met in goals(mps)]
        for g in ds["goals"]:
            print(f"- {g['goal']}: {'met' if g['met'] else 'NOT met'}")
        print()
    print("parse: level values come out as floats (crossfury in C; the peers call float() on each level's "
          "text). book: bytes in, update-id check, apply, best bid/ask after every message, except where "
          "a row says otherwise.")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if errors:
        sys.exit("results differ:\n" + "\n".join(errors))
    print("checked: every parse contender's ids, level counts and value sums equal json.loads's; every book "
          "contender's final best bid/ask equals a plain-dict Decimal replay of the stream")


if __name__ == "__main__":
    main()
