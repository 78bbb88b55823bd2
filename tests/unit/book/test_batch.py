# SPDX-License-Identifier: MIT
import math

import numpy as np
import pytest

from crossfury.book import LEVEL_DTYPE, Book, SyncedBook


def levels(*pairs):
    return np.array(list(pairs), dtype=LEVEL_DTYPE)


def test_apply_ticks_batch_equals_one_call_per_message():
    rng = np.random.default_rng(5)
    messages = []
    for _ in range(500):
        nb, na = rng.integers(0, 6, size=2)
        bids = levels(*[(int(rng.integers(900, 1000)), int(rng.integers(0, 3))) for _ in range(nb)])
        asks = levels(*[(int(rng.integers(1001, 1100)), int(rng.integers(0, 3))) for _ in range(na)])
        messages.append((bids.reshape(-1), asks.reshape(-1)))
    one, batch = Book("0.1", "0.001"), Book("0.1", "0.001")
    expected = []
    for bids, asks in messages:
        one.apply_ticks(bids, asks)
        bid, ask = one.best_bid(), one.best_ask()
        expected.append([*(bid or (math.nan, math.nan)), *(ask or (math.nan, math.nan))])
    flat = np.concatenate([np.concatenate((b, a)) for b, a in messages])
    counts = np.array([(len(b), len(a)) for b, a in messages], dtype=np.uint32)

    statuses, best = batch.apply_ticks_batch(flat, counts)

    assert statuses.tolist() == [0] * len(messages)
    np.testing.assert_array_equal(best, np.array(expected))
    assert batch.top_text(50) == one.top_text(50)


def test_apply_ticks_batch_refused_message_changes_nothing_and_batch_goes_on():
    book = Book()
    flat = levels((100, 1), (101, 1), (-5, 1), (102, 1))
    counts = np.array([[1, 1], [1, 0], [0, 1]], dtype=np.uint32)

    statuses, best = book.apply_ticks_batch(flat, counts)

    assert statuses[0] == 0 and statuses[1] < 0 and statuses[2] == 0
    assert best[1].tolist() == best[0].tolist()
    assert book.best_ask() == (101.0, 1.0) and book.bid_count == 1 and book.ask_count == 2


def test_apply_ticks_batch_checks_its_arguments():
    book = Book()
    with pytest.raises(ValueError, match="exceed"):
        book.apply_ticks_batch(levels((1, 1)), np.array([[1, 1]], dtype=np.uint32))
    with pytest.raises(ValueError, match="shape"):
        book.apply_ticks_batch(levels((1, 1)), np.array([[1, 0, 0]], dtype=np.uint32))
    with pytest.raises(TypeError, match="LEVEL_DTYPE"):
        book.apply_ticks_batch(np.zeros(4), np.array([[1, 0]], dtype=np.uint32))
    with pytest.raises(ValueError):
        SyncedBook("binance-spot").apply_ticks_batch(levels((1, 1)), np.array([[1, 0]], dtype=np.uint32))


def test_apply_ticks_accepts_an_equal_but_distinct_dtype():
    twin = np.dtype([("px", "<i8"), ("qty", "<i8")], align=True)
    book = Book()
    book.apply_ticks(np.array([(7, 2)], dtype=twin), np.array([(9, 1)], dtype=twin))
    assert book.best_bid() == (7.0, 2.0) and book.best_ask() == (9.0, 1.0)
    with pytest.raises(TypeError):
        book.apply_ticks(np.array([(7, 2)], dtype=[("px", "<f8"), ("qty", "<f8")]), np.empty(0, LEVEL_DTYPE))


def test_best_reads_both_sides_at_once():
    book = Book()
    assert all(math.isnan(v) for v in book.best())
    book.apply(bids=[["10.5", "2"]])
    bid_px, bid_qty, ask_px, ask_qty = book.best()
    assert (bid_px, bid_qty) == (10.5, 2.0) and math.isnan(ask_px) and math.isnan(ask_qty)
    book.apply(asks=[["10.7", "0.25"]])
    assert book.best() == (*book.best_bid(), *book.best_ask())
    assert SyncedBook("binance-spot").best() is None
