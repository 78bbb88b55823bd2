# SPDX-License-Identifier: MIT
"""Book: the C L2 book without update ids (apply, replace, readers, grids, apply_ticks, memory)."""

from __future__ import annotations

import gc
import random
from decimal import Decimal

import numpy as np
import pytest

from crossfury.book import Book, SyncedBook, SyncState, SyncStatus, parse_decimal
from crossfury.core.errors import DecodeError, NumberError
from crossfury.events.dtypes import LEVEL_DTYPE


def levels(book: Book, n: int = 1_000_000) -> tuple[list, list]:
    """All (or n best) levels as exact Decimal pairs, best first."""
    return tuple([(Decimal(p), Decimal(q)) for p, q in side] for side in book.top_text(n))


def D(*pairs) -> list:
    return [(Decimal(p), Decimal(q)) for p, q in pairs]


def seeded_book() -> Book:
    book = Book()
    book.apply(bids=[["100.1", "2"], ["100.0", "1.5"], ["99.9", "3"]], asks=[["100.2", "1"], ["100.4", "4"]])
    return book


# -- apply / replace / clear -------------------------------------------------------------------------------

def test_book_apply_sets_levels_and_best():
    book = seeded_book()

    assert book.best_bid() == (100.1, 2.0)
    assert book.best_ask() == (100.2, 1.0)
    assert (book.bid_count, book.ask_count) == (3, 2)
    assert book.state == SyncState.SYNCED and book.synced


def test_book_apply_overwrites_quantity_absolutely():
    book = seeded_book()

    status = book.apply(bids=[["100.1", "7.25"]])

    assert status == SyncStatus.APPLIED
    assert book.best_bid() == (100.1, 7.25)
    assert book.bid_count == 3


def test_book_quantity_zero_deletes_level():
    book = seeded_book()

    book.apply(bids=[["100.1", "0"]], asks=[["100.2", "0.000"]])

    assert book.best_bid() == (100.0, 1.5)
    assert book.best_ask() == (100.4, 4.0)
    assert (book.bid_count, book.ask_count) == (2, 1)


def test_book_delete_of_absent_level_changes_nothing():
    book = seeded_book()
    before = levels(book)

    status = book.apply(bids=[["50", "0"]], asks=[["150", "0"]])

    assert status == SyncStatus.APPLIED
    assert levels(book) == before


def test_book_replace_replaces_every_level():
    book = seeded_book()

    status = book.replace(bids=[["90", "1"]], asks=[["91", "2"], ["95", "3"]])

    assert status == SyncStatus.APPLIED
    assert levels(book) == (D(("90", "1")), D(("91", "2"), ("95", "3")))
    assert book.stats()["snapshots"] == 1


def test_book_replace_accepts_levels_in_any_order_and_keeps_last_repeat():
    book = Book()

    book.replace(bids=[["99", "1"], ["101", "2"], ["100", "3"], ["99", "4"], ["98", "0"]],
                 asks=[["105", "1"], ["103", "2"], ["103", "0"]])

    assert levels(book) == (D(("101", "2"), ("100", "3"), ("99", "4")), D(("105", "1")))


def test_book_clear_removes_every_level():
    book = seeded_book()

    book.clear()

    assert book.best_bid() is None and book.best_ask() is None
    assert (book.bid_count, book.ask_count) == (0, 0)
    assert book.synced


def test_book_apply_is_all_or_nothing_on_a_bad_value():
    book = seeded_book()
    before = levels(book)

    with pytest.raises(NumberError, match="'abc'"):
        book.apply(bids=[["100.1", "9"], ["100.0", "9"]], asks=[["100.3", "1"], ["abc", "1"]])

    assert levels(book) == before
    assert book.stats()["rejected"] == 1 and book.stats()["applied"] == 1


# -- readers -----------------------------------------------------------------------------------------------

def test_book_top_lists_best_first_as_floats():
    book = seeded_book()

    top = book.top(2)

    assert list(top.bid_px) == [100.1, 100.0] and list(top.bid_qty) == [2.0, 1.5]
    assert list(top.ask_px) == [100.2, 100.4] and list(top.ask_qty) == [1.0, 4.0]
    assert top.valid is True


def test_book_top_of_more_than_held_returns_all():
    book = seeded_book()

    top = book.top(50)

    assert (len(top.bid_px), len(top.ask_px)) == (3, 2)


def test_book_top_text_is_exact_with_grid_decimals():
    book = seeded_book()

    bids, asks = book.top_text(3)

    assert bids == [("100.1", "2.0"), ("100.0", "1.5"), ("99.9", "3.0")]
    assert asks == [("100.2", "1.0"), ("100.4", "4.0")]


def test_book_top_rejects_negative_count():
    with pytest.raises(ValueError):
        seeded_book().top(-1)


def test_book_qty_at_reads_levels_and_absent_prices():
    book = seeded_book()

    assert book.qty_at("bid", "100.0") == 1.5
    assert book.qty_at("bid", "100.00") == 1.5
    assert book.qty_at("ask", "100.4") == 4.0
    assert book.qty_at("ask", "100.1") == 0.0
    assert book.qty_at("bid", "100.05") == 0.0  # finer than the grid: no level can be there
    assert book.qty_at("bid", "-5") == 0.0


def test_book_qty_at_rejects_malformed_price():
    with pytest.raises(NumberError):
        seeded_book().qty_at("bid", "1e2")


def test_book_crossed_is_reported_and_counted():
    book = seeded_book()

    status = book.apply(asks=[["100.1", "1"]])

    assert status == SyncStatus.CROSSED
    assert book.crossed
    assert book.stats()["crossed"] == 1
    book.apply(asks=[["100.1", "0"]])
    assert not book.crossed


def test_book_crossed_when_best_bid_equals_best_ask():
    book = Book()

    status = book.apply(bids=[["10", "1"]], asks=[["10", "1"]])

    assert status == SyncStatus.CROSSED and book.crossed


def test_book_zero_price_is_a_level():
    book = Book()

    book.apply(bids=[["0", "1"]])

    assert book.best_bid() == (0.0, 1.0)


# -- grids -------------------------------------------------------------------------------------------------

def test_book_tick_size_refuses_off_grid_price_naming_it():
    book = Book(tick_size="0.1")

    with pytest.raises(NumberError, match=r"'100\.05'.*tick size 0\.1"):
        book.apply(bids=[["100.05", "1"]])

    assert book.bid_count == 0


def test_book_lot_size_refuses_off_grid_quantity_naming_it():
    book = Book(tick_size="0.1", lot_size="0.001")

    with pytest.raises(NumberError, match=r"'0\.0005'.*lot size"):
        book.apply(asks=[["100.1", "0.0005"]])


def test_book_tick_size_with_step_accepts_multiples_only():
    book = Book(tick_size="0.5")

    book.apply(bids=[["100.5", "1"], ["101", "1"]])

    assert levels(book)[0] == D(("101", "1"), ("100.5", "1"))
    with pytest.raises(NumberError, match="not a multiple"):
        book.apply(bids=[["100.3", "1"]])


def test_book_tick_size_accepts_float_and_trailing_zeros():
    book = Book(tick_size=0.01)

    book.apply(bids=[["100.10", "1"], ["100.2000", "1"]])

    assert book.top_text(2)[0] == [("100.20", "1"), ("100.10", "1")]
    assert book.price_decimals == 2


@pytest.mark.parametrize("size", ["0", "-0.1", "abc", ""])
def test_book_rejects_non_positive_or_bad_tick_size(size):
    with pytest.raises(NumberError, match="tick size"):
        Book(tick_size=size)


def test_book_inferred_grid_grows_and_keeps_values_exact():
    book = Book()
    book.apply(bids=[["100.1", "1"]])

    book.apply(bids=[["100.15", "2"]])

    assert book.price_decimals == 2
    assert levels(book)[0] == D(("100.15", "2"), ("100.1", "1"))
    assert book.top_text(2)[0][1][0] == "100.10"
    assert book.best_bid() == (100.15, 2.0)


def test_book_inferred_grid_growth_that_would_overflow_is_range_error():
    book = Book()
    book.apply(bids=[["900000000000000000", "1"]])  # 9e17 at 0 decimals

    with pytest.raises(NumberError, match=r"'0\.01'.*out of range"):
        book.apply(bids=[["0.01", "1"]])

    assert book.price_decimals == 0
    assert levels(book)[0] == D(("900000000000000000", "1"))
    book.apply(bids=[["0.1", "1"]])  # one more decimal still fits: 9e18 < 2**63
    assert book.price_decimals == 1 and book.bid_count == 2


def test_book_growth_range_error_names_the_overflowing_quantity():
    book = Book()
    book.apply(bids=[["1", "1000000000000000000"]])  # quantity 1e18 lots at 0 decimals

    with pytest.raises(NumberError) as info:
        book.apply(bids=[["1.5", "0.1"]])  # 1e18 * 10 overflows the quantity grid; the price grid is fine

    assert "quantity '0.1'" in str(info.value)


@pytest.mark.parametrize("text", ["NaN", "inf", "1e5", "", ".", "+1", " 1", "1 ", "１", "1_0", "0x1",
                                  "1.2.3"])
def test_book_refuses_non_decimal_text_naming_it(text):
    book = Book()

    with pytest.raises(NumberError, match="not a plain decimal"):
        book.apply(bids=[[text, "1"]])

    assert book.stats()["rejected"] == 1


@pytest.mark.parametrize("text", ["9" * 40, "9223372036854775808", "0." + "1" * 19])
def test_book_refuses_out_of_range_text(text):
    with pytest.raises(NumberError, match="out of range"):
        Book().apply(asks=[["1", text]])


@pytest.mark.parametrize("text", ["-1", "-0.5"])
def test_book_refuses_negative_values(text):
    with pytest.raises(NumberError, match="negative"):
        Book().apply(bids=[[text, "1"]])


def test_book_accepts_leading_zeros_and_bytes():
    book = Book()

    book.apply(bids=[[b"0000000000000000000000000000000100.50", b"1"]])

    assert book.best_bid() == (100.5, 1.0)


@pytest.mark.parametrize("level", [[1, "2"], ["1", 2.0], ["1"], None, "12", ["1", None]])
def test_book_refuses_levels_that_are_not_text_pairs(level):
    book = Book()

    with pytest.raises(DecodeError):
        book.apply(bids=[["1", "1"], level])

    assert book.bid_count == 0


def test_book_lone_surrogate_text_raises_number_error():
    with pytest.raises(NumberError):
        Book().apply(bids=[["\ud800", "1"]])


def test_parse_decimal_returns_mantissa_and_decimals():
    assert parse_decimal("100.500") == (1005, 1)
    assert parse_decimal("-0.25") == (-25, 2)
    assert parse_decimal(".5") == (5, 1)
    assert parse_decimal("7.") == (7, 0)
    assert parse_decimal("9223372036854775807") == (2**63 - 1, 0)


# -- a deep book -------------------------------------------------------------------------------------------

def _px(ticks: int) -> str:
    return f"{ticks // 100}.{ticks % 100:02d}"


@pytest.mark.parametrize("snapshot_order", ["best-first", "shuffled"])
def test_book_deep_book_updated_at_random_depths_matches_dict(snapshot_order):
    rng = random.Random(7)
    n = 100_000
    mid = 10_000_000  # in ticks of 0.01
    bids = {mid - 1 - k: rng.randint(1, 10_000) for k in range(n)}
    asks = {mid + 1 + k: rng.randint(1, 10_000) for k in range(n)}
    bid_list, ask_list = sorted(bids.items(), reverse=True), sorted(asks.items())
    if snapshot_order == "shuffled":
        rng.shuffle(bid_list)
        rng.shuffle(ask_list)
    book = Book()
    book.replace(bids=[[_px(p), str(q)] for p, q in bid_list], asks=[[_px(p), str(q)] for p, q in ask_list])

    for step in range(400):  # mostly near the top, some anywhere, some beyond the snapshot's depth
        side, name = (bids, "bids") if step % 2 else (asks, "asks")
        batch = []
        for _ in range(25):
            depth = int(rng.expovariate(1 / 2000)) if rng.random() < 0.7 else rng.randrange(2 * n)
            px = mid - 1 - depth if name == "bids" else mid + 1 + depth
            qty = 0 if rng.random() < 0.3 else rng.randint(1, 10_000)
            batch.append([_px(px), str(qty)])
            if qty:
                side[px] = qty
            else:
                side.pop(px, None)
        book.apply(**{name: batch})
    doomed = rng.sample(sorted(bids), 60_000)  # heavy deletion empties and merges chunks
    for start in range(0, len(doomed), 1000):
        book.apply(bids=[[_px(px), "0"] for px in doomed[start:start + 1000]])
    for px in doomed:
        del bids[px]

    expected = (
        [(Decimal(px) / 100, Decimal(q)) for px, q in sorted(bids.items(), reverse=True)],
        [(Decimal(px) / 100, Decimal(q)) for px, q in sorted(asks.items())],
    )
    assert (book.bid_count, book.ask_count) == (len(bids), len(asks))
    assert levels(book) == expected
    probe = rng.sample(sorted(asks), 200)
    assert [book.qty_at("ask", _px(px)) for px in probe] == [float(asks[px]) for px in probe]


# -- apply_ticks -------------------------------------------------------------------------------------------

def test_book_apply_ticks_sets_levels_from_level_arrays():
    book = Book(tick_size="0.01", lot_size="0.001")
    bids = np.array([(10010, 1500), (10000, 2000)], dtype=LEVEL_DTYPE)
    asks = np.array([(10020, 1)], dtype=LEVEL_DTYPE)

    status = book.apply_ticks(bids, asks)

    assert status == SyncStatus.APPLIED
    assert book.best_bid() == (100.1, 1.5)
    assert book.best_ask() == (100.2, 0.001)
    assert book.top_text(5) == ([("100.10", "1.500"), ("100.00", "2.000")], [("100.20", "0.001")])


def test_book_apply_ticks_replace_and_delete():
    book = Book(tick_size="0.01")
    book.apply(bids=[["1.00", "1"]], asks=[["2.00", "1"]])
    empty = np.zeros(0, dtype=LEVEL_DTYPE)

    book.apply_ticks(np.array([(150, 3)], dtype=LEVEL_DTYPE), empty, replace=True)
    book.apply_ticks(empty, np.array([(170, 2), (180, 0)], dtype=LEVEL_DTYPE))
    book.apply_ticks(empty, np.array([(170, 0)], dtype=LEVEL_DTYPE))

    assert levels(book) == (D(("1.5", "3")), [])


def test_book_apply_ticks_refuses_negative_values():
    book = Book()

    with pytest.raises(NumberError, match="negative"):
        book.apply_ticks(np.array([(5, -1)], dtype=LEVEL_DTYPE), np.zeros(0, dtype=LEVEL_DTYPE))

    assert book.bid_count == 0


def test_book_apply_ticks_refuses_other_dtypes():
    with pytest.raises((TypeError, ValueError)):
        Book().apply_ticks(np.zeros((2, 2), dtype=np.int64), np.zeros(0, dtype=LEVEL_DTYPE))


def test_synced_book_apply_ticks_raises_type_error():
    book = SyncedBook("range")
    empty = np.zeros(0, dtype=LEVEL_DTYPE)

    with pytest.raises(TypeError):
        book.apply_ticks(np.array([(1, 1)], dtype=LEVEL_DTYPE), empty)

    assert book.bid_count == 0


# -- lifetime ----------------------------------------------------------------------------------------------

def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return None


def _churn_books(count: int) -> None:
    for k in range(count):
        book = Book() if k % 2 else SyncedBook("prev-id")
        if k % 2:
            book.apply(bids=[[str(k), "1"]], asks=[[str(k + 1), "1"]])
        else:
            book.on_depth(1, 2, 0, [["1", "1"]] * 20, [])  # buffered: the sync buffer is allocated too
        del book


def test_book_create_and_drop_10k_books():
    _churn_books(2_000)  # warm the allocators
    gc.collect()
    before = _rss_bytes()

    _churn_books(10_000)
    gc.collect()

    book = Book()
    book.apply(bids=[["1", "1"]])
    assert book.best_bid() == (1.0, 1.0)
    if before is not None:  # a leaked C book or sync buffer costs kilobytes each: 10k of them is tens of MB
        assert _rss_bytes() - before < 32 * 2**20


def test_book_reset_then_replace_is_readable_again():
    book = seeded_book()
    book.reset()

    book.replace(bids=[["3", "1"]])

    assert book.synced
    assert book.best_bid() == (3.0, 1.0)
