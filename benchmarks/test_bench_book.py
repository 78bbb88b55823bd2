# SPDX-License-Identifier: MIT
"""The book apply loops of bench_book.py under pytest-benchmark, grouped by dataset.

Run ``pytest benchmarks/test_bench_book.py --benchmark-only --benchmark-disable-gc`` (gc off, as in
bench_book.py). Each test times one contender applying every message of a dataset with a best bid/ask
read after each (a fresh book per round, its snapshot installed untimed), then checks the final book
against the plain-dict reference once.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from _book_inputs import Dataset, book_result, final_book, load, usdm_missing
from bench_book import CONTENDERS, DATASETS, TOP_N


@functools.cache
def _dataset(name: str) -> Dataset:
    if name == "usdm" and (missing := usdm_missing()):
        pytest.skip(missing)
    return load(name)


@functools.cache
def _expected(name: str) -> dict[str, list]:
    return final_book(_dataset(name), TOP_N)


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_book_apply(benchmark: Any, dataset: str, contender: str) -> None:
    ds = _dataset(dataset)
    new_book, run, top = CONTENDERS[contender](ds)
    books = []

    def setup() -> tuple[tuple[Any], dict]:
        books[:] = [new_book()]
        return (books[0],), {}

    benchmark.group = f"{ds.name}: {len(ds.messages):,} messages, {ds.level_updates:,} level updates"
    benchmark.extra_info.update(messages=len(ds.messages), level_updates=ds.level_updates)
    best = benchmark.pedantic(run, setup=setup, rounds=3)
    assert book_result(best, top(books[0])) == _expected(dataset)
