# SPDX-License-Identifier: MIT
"""Book apply throughput: crossfury's C book against sortedcontainers.SortedDict and cryptofeed's order-book.

Run ``python benchmarks/bench_book.py [--quick] [--json OUT]``. Each contender runs on each dataset in its
own subprocess (``--contender NAME --dataset NAME``) on the same pre-parsed input: it installs the snapshot,
then applies every message and reads the best bid and ask after each one. Only that loop is timed (best of
``--repeat``, garbage collector off as in timeit). Each contender's last best bid/ask read and its final top
5 levels per side must equal a plain-dict reference book (so all contenders agree), or the script exits 1.
test_bench_book.py runs the same loops under pytest-benchmark.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _book_inputs import LOT_SIZE, TICK_SIZE, Dataset, book_result, final_book, load, usdm_missing

TOP_N = 5
GOAL = 20.0  # crossfury messages/s over SortedDict's


# A contender maps a dataset to three functions: new_book() -> state, a book holding the snapshot (untimed);
# run(state) -> the last best read, applying every message with a best read after each (timed);
# top(state) -> the top TOP_N levels per side.


def _crossfury_top(state: Any) -> list:
    t = state[0].top(TOP_N)
    return [zip(t.bid_px.tolist(), t.bid_qty.tolist()), zip(t.ask_px.tolist(), t.ask_qty.tolist())]


def crossfury_contender(ds: Dataset) -> tuple[Callable, Callable, Callable]:
    from crossfury.book import Book

    def new_book() -> Any:
        book = Book(TICK_SIZE, LOT_SIZE)
        book.apply_ticks(*ds.snapshot, True)
        # Fresh arrays each round, as a decoder gives: numpy keeps an array's buffer info after its first
        # export, so reused arrays would flatter every round but the first (by ~50 ns a message, measured).
        return book, [(b.copy(), a.copy()) for b, a in ds.messages]

    def run(state: Any) -> Any:
        book, messages = state
        apply, read_best = book.apply_ticks, book.best
        for bids, asks in messages:
            apply(bids, asks)
            best = read_best()  # (bid px, bid qty, ask px, ask qty) in one call
        return (best[0], best[1]), (best[2], best[3])

    return new_book, run, _crossfury_top


def crossfury_batch_contender(ds: Dataset) -> tuple[Callable, Callable, Callable]:
    """The same messages in one C call: apply each, read the best bid and ask after each into an array."""
    import numpy as np

    from crossfury.book import Book

    def new_book() -> Any:
        book = Book(TICK_SIZE, LOT_SIZE)
        book.apply_ticks(*ds.snapshot, True)
        levels = np.concatenate([np.concatenate((b, a)) for b, a in ds.messages])
        counts = np.array([(len(b), len(a)) for b, a in ds.messages], dtype=np.uint32)
        return book, levels, counts

    def run(state: Any) -> Any:
        book, levels, counts = state
        _, best = book.apply_ticks_batch(levels, counts)
        last = best[-1].tolist()
        return (last[0], last[1]), (last[2], last[3])

    return new_book, run, _crossfury_top


def sorteddict_contender(ds: Dataset) -> tuple[Callable, Callable, Callable]:
    from sortedcontainers import SortedDict

    messages, (snap_bids, snap_asks) = ds.float_messages, ds.float_snapshot

    def new_book() -> Any:
        return SortedDict({-px: qty for px, qty in snap_bids}), SortedDict(snap_asks)

    def run(book: Any) -> Any:
        bids, asks = book  # bids keyed by -px so that index 0 is the best on both sides
        for b, a in messages:
            for px, qty in b:
                if qty:
                    bids[-px] = qty
                else:
                    bids.pop(-px, None)
            for px, qty in a:
                if qty:
                    asks[px] = qty
                else:
                    asks.pop(px, None)
            (neg_px, bid_qty), best_ask = bids.peekitem(0), asks.peekitem(0)
            best = (-neg_px, bid_qty), best_ask
        return best

    def top(book: Any) -> list:
        bids, asks = book
        return [[(-px, qty) for px, qty in bids.items()[:TOP_N]], list(asks.items()[:TOP_N])]

    return new_book, run, top


def order_book_contender(ds: Dataset) -> tuple[Callable, Callable, Callable]:
    from order_book import OrderBook

    messages, (snap_bids, snap_asks) = ds.float_messages, ds.float_snapshot

    def new_book() -> Any:
        ob = OrderBook()
        ob.bids, ob.asks = dict(snap_bids), dict(snap_asks)
        return ob

    def run(ob: Any) -> Any:
        bids, asks = ob.bids, ob.asks
        for b, a in messages:  # as cryptofeed's book handlers do: set, or delete when present
            for px, qty in b:
                if qty:
                    bids[px] = qty
                elif px in bids:
                    del bids[px]
            for px, qty in a:
                if qty:
                    asks[px] = qty
                elif px in asks:
                    del asks[px]
            best = bids.index(0), asks.index(0)
        return best

    def top(ob: Any) -> list:
        return [[ob.bids.index(k) for k in range(TOP_N)], [ob.asks.index(k) for k in range(TOP_N)]]

    return new_book, run, top


CONTENDERS = {
    "crossfury": crossfury_contender,
    "crossfury-batch": crossfury_batch_contender,
    "sorteddict": sorteddict_contender,
    "order-book": order_book_contender,
}
DATASETS = ("usdm", "synthetic")
BASELINES = ("sorteddict", "order-book")


def measure(contender: str, dataset: str, quick: bool, repeat: int) -> dict[str, Any]:
    """Time one contender on one dataset in this process; return the best time and the final book."""
    ds = load(dataset, quick)
    new_book, run, top = CONTENDERS[contender](ds)
    times = []
    for _ in range(repeat):
        book = new_book()
        gc.collect()
        gc.disable()
        t0 = time.perf_counter_ns()
        best = run(book)
        times.append(time.perf_counter_ns() - t0)
        gc.enable()
    best_s = min(times) / 1e9
    return {
        "dataset": ds.name,
        "contender": contender,
        "messages": len(ds.messages),
        "level_updates": ds.level_updates,
        "seconds": best_s,
        "times_s": [t / 1e9 for t in times],
        "messages_per_s": len(ds.messages) / best_s,
        "level_updates_per_s": ds.level_updates / best_s,
        **book_result(best, top(book)),
    }


def _child(contender: str, dataset: str, quick: bool, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--contender", contender, "--dataset", dataset,
           "--repeat", str(repeat)] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"{contender} on {dataset} failed (exit {out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout)


def _check(rows: list[dict[str, Any]], expected: dict[str, list]) -> list[str]:
    return [
        f"{r['dataset']}: {r['contender']} ends with {key} {r[key]}, the reference with {expected[key]}"
        for r in rows
        for key in expected
        if r[key] != expected[key]
    ]


def _ratio(x: float) -> str:
    return f"{x:.1f}x" if x >= 1 else f"{x:.3f}x"


def table(results: list[dict[str, Any]]) -> str:
    """Render the results as a markdown table with the ratios to each baseline."""
    lines = ["| dataset | contender | messages/s | level updates/s | vs SortedDict | vs order-book |",
             "|---|---|---:|---:|---:|---:|"]
    for r in results:
        base = {b["contender"]: b["messages_per_s"] for b in results if b["dataset"] == r["dataset"]}
        ratios = [_ratio(r["messages_per_s"] / base[b]) for b in BASELINES]
        cells = [f"{r['dataset']} ({r['messages']:,} msgs)", r["contender"], f"{r['messages_per_s']:,.0f}",
                 f"{r['level_updates_per_s']:,.0f}", *ratios]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="synthetic stream of 20k messages, not 200k")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the best is kept")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", choices=DATASETS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:  # child: one measurement, JSON on stdout
        print(json.dumps(measure(args.contender, args.dataset, args.quick, args.repeat)))
        return
    datasets = DATASETS
    if missing := usdm_missing():
        print(f"bench_book: skipping the usdm dataset: {missing}", file=sys.stderr)
        datasets = tuple(d for d in DATASETS if d != "usdm")
    results, errors = [], []
    for dataset in datasets:
        rows = [_child(c, dataset, args.quick, args.repeat) for c in CONTENDERS]
        errors += _check(rows, final_book(load(dataset, args.quick), TOP_N))
        results += rows
    print(f"Python {sys.version.split()[0]}, best of {args.repeat}, best bid/ask read after each message "
          f"(load average {os.getloadavg()[0]:.2f} at the end)\n")
    print(table(results) + "\n")
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        mps = {r["contender"]: r["messages_per_s"] for r in results if r["dataset"] == dataset}
        for name in ("crossfury", "crossfury-batch"):
            ratio = mps[name] / mps["sorteddict"]
            print(f"{dataset}: {name} / SortedDict = {ratio:.1f}x, {name} / order-book = "
                  f"{mps[name] / mps['order-book']:.1f}x (goal {GOAL:.0f}x SortedDict: "
                  f"{'met' if ratio >= GOAL else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if errors:
        sys.exit("final books differ:\n" + "\n".join(errors))
    print(f"every contender's last best bid/ask and top {TOP_N} levels equal the reference book")


if __name__ == "__main__":
    main()
