# SPDX-License-Identifier: MIT
"""SyncedBook: every branch of the snapshot/buffer/update-id procedure (binance.md section 5, sync.h)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from crossfury.book import SyncedBook, SyncState, SyncStatus
from crossfury.core.errors import DecodeError, NumberError

RULES = ["range", "prev-id"]
SNAPSHOT_BIDS = [["100.0", "1"], ["99.5", "2"]]
SNAPSHOT_ASKS = [["100.5", "1"], ["101", "3"]]


def snapshot_body(last_id: int, bids=SNAPSHOT_BIDS, asks=SNAPSHOT_ASKS) -> bytes:
    return json.dumps({"lastUpdateId": last_id, "bids": bids, "asks": asks}).encode()


def depth_message(first_id, last_id, prev_id=None, bids=(), asks=(), *, envelope=False, **extra) -> dict:
    event = {"e": "depthUpdate", "E": 1700000000000, "s": "BTCUSDT", "U": first_id, "u": last_id,
             "b": [list(level) for level in bids], "a": [list(level) for level in asks], **extra}
    if prev_id is not None:
        event["pu"] = prev_id
    return {"stream": "btcusdt@depth", "data": event} if envelope else event


def feed(book: SyncedBook, first_id: int, last_id: int, prev_id: int | None = None, bids=(),
         asks=()) -> SyncStatus:
    """Feed an event; for the prev-id rule prev_id defaults to first_id - 1 (a chain of adjacent ranges)."""
    if book.rule == "prev-id" and prev_id is None:
        prev_id = first_id - 1
    return book.on_depth(first_id, last_id, prev_id, list(bids), list(asks))


def live_book(rule: str, **kwargs) -> SyncedBook:
    """A book synced to a snapshot at 100 with one event applied over it: last_id 105."""
    book = SyncedBook(rule, **kwargs)
    assert book.on_snapshot(snapshot_body(100)) == SyncStatus.APPLIED
    first_id = 100 if rule == "prev-id" else 101
    assert feed(book, first_id, 105, 99, bids=[["100.0", "1.5"]]) == SyncStatus.APPLIED
    assert book.last_id == 105
    return book


def view(book: SyncedBook) -> dict:
    top = book.top(20)
    return {"state": book.state, "last_id": book.last_id, "best": (book.best_bid(), book.best_ask()),
            "top_text": book.top_text(20), "top": [list(a) for a in top[:4]] + [top.valid],
            "stats": book.stats()}


def levels(book: SyncedBook, n: int = 20) -> tuple[list, list]:
    """Top levels as exact Decimal pairs (top_text pads to the grid's decimals: "100.0" == "100")."""
    return tuple([(Decimal(p), Decimal(q)) for p, q in side] for side in book.top_text(n))


def D(*pairs) -> list:
    return [(Decimal(p), Decimal(q)) for p, q in pairs]


def assert_invalid(book: SyncedBook) -> None:
    top = book.top(5)
    assert not book.synced
    assert book.last_id is None
    assert book.best_bid() is None and book.best_ask() is None
    assert top.valid is False and all(len(a) == 0 for a in top[:4])
    assert book.top_text(5) == ([], [])
    assert book.bid_count == 0 and book.ask_count == 0


# -- buffering and the first sync -------------------------------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
def test_synced_book_buffers_events_until_snapshot(rule):
    book = SyncedBook(rule)

    statuses = [feed(book, 101, 102, bids=[["100", "1"]]), feed(book, 103, 104)]

    assert statuses == [SyncStatus.BUFFERED, SyncStatus.BUFFERED]
    assert book.state == SyncState.WAITING
    assert_invalid(book)
    stats = book.stats()
    assert (stats["buffered"], stats["buffered_now"], stats["applied"]) == (2, 2, 0)


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_snapshot_replays_buffered_events(rule):
    book = SyncedBook(rule)
    if rule == "range":  # u <= L dropped; then U <= L+1 <= u; then U == previous u + 1
        events = [(99, 100, None), (101, 102, None), (103, 105, None)]
    else:  # u < L dropped; then U <= L <= u; then pu == previous u
        events = [(95, 99, 94), (100, 102, 99), (103, 105, 102)]
    for first, last, prev in events:
        feed(book, first, last, prev, bids=[["100.0", str(last)]])

    status = book.on_snapshot(snapshot_body(100))

    assert status == SyncStatus.APPLIED
    assert book.state == SyncState.SYNCED
    assert book.last_id == 105
    assert book.best_bid() == (100.0, 105.0)
    stats = book.stats()
    assert (stats["stale"], stats["applied"], stats["snapshots"], stats["buffered_now"]) == (1, 2, 1, 0)


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_snapshot_with_only_stale_buffer_syncs(rule):
    book = SyncedBook(rule)
    feed(book, 90, 95)

    status = book.on_snapshot(snapshot_body(100))

    assert status == SyncStatus.APPLIED
    assert book.last_id == 100
    assert book.best_bid() == (100.0, 1.0) and book.best_ask() == (100.5, 1.0)
    assert book.stats()["stale"] == 1


# -- stale events and snapshots ---------------------------------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
def test_synced_book_drops_stale_event_after_sync(rule):
    book = live_book(rule)
    before = view(book)

    statuses = [feed(book, 104, 105, bids=[["100.0", "9"]]), feed(book, 90, 93, bids=[["100.0", "9"]])]

    assert statuses == [SyncStatus.STALE, SyncStatus.STALE]
    after = view(book)
    assert after["stats"]["stale"] == before["stats"]["stale"] + 2
    assert after["top_text"] == before["top_text"] and after["last_id"] == 105


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_drops_stale_event_before_parsing_its_numbers(rule):
    book = live_book(rule)

    status = feed(book, 104, 105, bids=[["NaN", "-1"]])

    assert status == SyncStatus.STALE
    assert book.stats()["rejected"] == 0


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("last_id", [105, 90])
def test_synced_book_ignores_snapshot_no_newer_than_book(rule, last_id):
    book = live_book(rule)
    before = view(book)

    status = book.on_snapshot(snapshot_body(last_id, bids=[["1", "1"]], asks=[]))

    assert status == SyncStatus.STALE
    after = view(book)
    assert after["top_text"] == before["top_text"]
    assert after["stats"]["stale"] == before["stats"]["stale"] + 1
    assert after["stats"]["snapshots"] == before["stats"]["snapshots"]


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_newer_snapshot_in_synced_state_replaces_book(rule):
    book = live_book(rule)

    status = book.on_snapshot(snapshot_body(200, bids=[["50", "1"]], asks=[["60", "2"]]))

    assert status == SyncStatus.APPLIED
    assert levels(book, 5) == (D(("50", "1")), D(("60", "2")))
    assert book.last_id == 200
    assert book.stats()["snapshots"] == 2


# -- the first event after a snapshot: range rule (binance.md 5.1 step 4) ------------------------------------

def test_synced_book_range_first_event_starting_at_snapshot_plus_one_is_applied():
    book = SyncedBook("range")
    book.on_snapshot(snapshot_body(100))

    status = feed(book, 101, 103, bids=[["100.0", "7"]])

    assert status == SyncStatus.APPLIED
    assert book.last_id == 103 and book.best_bid() == (100.0, 7.0)


def test_synced_book_range_first_event_spanning_snapshot_is_applied():
    book = SyncedBook("range")
    book.on_snapshot(snapshot_body(100))

    status = feed(book, 95, 105, asks=[["100.5", "0"]])

    assert status == SyncStatus.APPLIED
    assert book.best_ask() == (101.0, 3.0)


def test_synced_book_range_first_event_ending_at_snapshot_is_stale():
    book = SyncedBook("range")
    book.on_snapshot(snapshot_body(100))

    status = feed(book, 98, 100, bids=[["100.0", "9"]])

    assert status == SyncStatus.STALE
    assert book.best_bid() == (100.0, 1.0) and book.last_id == 100


def test_synced_book_range_buffered_first_event_ending_at_snapshot_is_skipped():
    book = SyncedBook("range")
    feed(book, 98, 100, bids=[["100.0", "9"]])
    feed(book, 101, 101, bids=[["99.5", "4"]])

    status = book.on_snapshot(snapshot_body(100))

    assert status == SyncStatus.APPLIED
    assert levels(book, 2)[0] == D(("100", "1"), ("99.5", "4"))
    assert (book.stats()["stale"], book.stats()["applied"]) == (1, 1)


def test_synced_book_range_live_first_event_after_snapshot_plus_one_is_gap():
    book = SyncedBook("range")
    book.on_snapshot(snapshot_body(100))

    status = feed(book, 102, 103)

    assert status == SyncStatus.GAP
    assert book.state == SyncState.RESYNCING
    assert_invalid(book)


def test_synced_book_range_buffered_first_event_after_snapshot_plus_one_makes_snapshot_old():
    book = SyncedBook("range")
    feed(book, 102, 103, bids=[["100.0", "5"]])

    old = book.on_snapshot(snapshot_body(100))
    newer = book.on_snapshot(snapshot_body(101))

    assert old == SyncStatus.SNAPSHOT_OLD
    assert newer == SyncStatus.APPLIED
    assert book.last_id == 103 and book.best_bid() == (100.0, 5.0)
    assert book.stats()["old_snapshots"] == 1 and book.stats()["snapshots"] == 1


# -- the first event after a snapshot: prev-id rule (binance.md 5.2 steps 3-4) -------------------------------

def test_synced_book_prev_id_first_event_starting_at_snapshot_is_applied():
    book = SyncedBook("prev-id")
    book.on_snapshot(snapshot_body(100))

    status = feed(book, 100, 104, 99, bids=[["100.0", "7"]])

    assert status == SyncStatus.APPLIED
    assert book.last_id == 104 and book.best_bid() == (100.0, 7.0)


def test_synced_book_prev_id_first_event_ending_at_snapshot_bridges_it():
    book = SyncedBook("prev-id")
    book.on_snapshot(snapshot_body(100))

    bridge = feed(book, 97, 100, 96, bids=[["100.0", "7"]])
    following = feed(book, 101, 103, 100, bids=[["100.0", "8"]])

    assert (bridge, following) == (SyncStatus.APPLIED, SyncStatus.APPLIED)
    assert book.last_id == 103 and book.best_bid() == (100.0, 8.0)


def test_synced_book_prev_id_first_event_ending_before_snapshot_is_stale():
    book = SyncedBook("prev-id")
    book.on_snapshot(snapshot_body(100))

    status = feed(book, 97, 99, 96, bids=[["100.0", "7"]])

    assert status == SyncStatus.STALE
    assert book.best_bid() == (100.0, 1.0) and book.last_id == 100


def test_synced_book_prev_id_buffered_event_ending_before_snapshot_is_skipped():
    book = SyncedBook("prev-id")
    feed(book, 97, 99, 96, bids=[["100.0", "7"]])
    feed(book, 100, 100, 99, bids=[["99.5", "4"]])

    status = book.on_snapshot(snapshot_body(100))

    assert status == SyncStatus.APPLIED
    assert levels(book, 2)[0] == D(("100", "1"), ("99.5", "4"))
    assert (book.stats()["stale"], book.stats()["applied"]) == (1, 1)


def test_synced_book_prev_id_buffered_first_event_after_snapshot_makes_snapshot_old():
    book = SyncedBook("prev-id")
    feed(book, 101, 103, 100, bids=[["100.0", "5"]])

    old = book.on_snapshot(snapshot_body(100))
    newer = book.on_snapshot(snapshot_body(101))

    assert old == SyncStatus.SNAPSHOT_OLD
    assert book.stats()["old_snapshots"] == 1
    assert newer == SyncStatus.APPLIED
    assert book.last_id == 103 and book.best_bid() == (100.0, 5.0)


def test_synced_book_prev_id_live_first_event_after_snapshot_is_gap():
    book = SyncedBook("prev-id")
    book.on_snapshot(snapshot_body(100))

    status = feed(book, 101, 103, 100)

    assert status == SyncStatus.GAP
    assert_invalid(book)


def test_synced_book_prev_id_chains_by_prev_id_even_when_ranges_do_not_touch():
    book = live_book("prev-id")

    status = feed(book, 120, 125, 105, bids=[["100.0", "3"]])  # futures: U may sit far above pu + 1

    assert status == SyncStatus.APPLIED
    assert book.last_id == 125


def test_synced_book_snapshot_old_keeps_buffer_and_state():
    book = SyncedBook("range")
    feed(book, 110, 111)
    feed(book, 112, 113)

    status = book.on_snapshot(snapshot_body(100))

    assert status == SyncStatus.SNAPSHOT_OLD
    assert book.state == SyncState.WAITING
    assert book.stats()["buffered_now"] == 2 and book.stats()["snapshots"] == 0
    assert_invalid(book)


# -- gaps --------------------------------------------------------------------------------------------------

GAPS = [
    pytest.param("range", (107, 108, None), id="range-first-id-skips"),
    pytest.param("range", (108, 110, None), id="range-first-id-far"),
    pytest.param("prev-id", (106, 108, 104), id="prev-id-mismatch"),
    pytest.param("prev-id", (106, 108, 106), id="prev-id-ahead"),
]


@pytest.mark.parametrize(("rule", "ids"), GAPS)
def test_synced_book_gap_invalidates_book_and_buffers_event(rule, ids):
    book = live_book(rule)

    status = book.on_depth(*ids, [["100.0", "2"]], [])

    assert status == SyncStatus.GAP
    assert book.state == SyncState.RESYNCING
    assert_invalid(book)
    stats = book.stats()
    assert (stats["gaps"], stats["resyncs"], stats["buffered_now"]) == (1, 1, 1)


def test_synced_book_range_event_overlapping_book_is_a_gap():
    # The range rule as crossfury states it: after the first event each U must equal the previous u + 1.
    # binance.md 5.1 would apply an overlapping event (only U > book_id + 1 is a gap there); Binance's spot
    # stream never overlaps, and the strict rule costs at most a resync, never a wrong book.
    book = live_book("range")

    status = feed(book, 104, 107, bids=[["100.0", "2"]])

    assert status == SyncStatus.GAP
    assert not book.synced


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_recovers_after_gap_with_new_snapshot(rule):
    book = live_book(rule)
    feed(book, 107, 108, bids=[["100.0", "2"]])  # gap: 106 is missing
    feed(book, 109, 110, bids=[["99.5", "5"]])

    status = book.on_snapshot(snapshot_body(108, bids=[["100.0", "2"], ["99.5", "2"]]))

    assert status == SyncStatus.APPLIED
    assert book.synced and book.last_id == 110
    assert levels(book, 2)[0] == D(("100", "2"), ("99.5", "5"))
    stats = book.stats()
    assert (stats["gaps"], stats["resyncs"], stats["snapshots"], stats["buffered_now"]) == (1, 1, 2, 0)
    if rule == "range":
        assert stats["stale"] == 1  # 107-108 is inside the snapshot
    else:
        assert stats["stale"] == 0  # prev-id keeps an event ending at L as the bridge


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_gap_inside_buffer_keeps_events_from_the_break(rule):
    book = SyncedBook(rule)
    for first, last, prev in [(101, 102, 100), (103, 104, 102), (107, 108, 106), (109, 110, 108)]:
        feed(book, first, last, prev, bids=[["100.0", str(last)]])

    broken = book.on_snapshot(snapshot_body(101 if rule == "prev-id" else 100))

    assert broken == SyncStatus.GAP
    assert book.state == SyncState.RESYNCING
    assert_invalid(book)
    stats = book.stats()
    assert (stats["applied"], stats["snapshots"], stats["gaps"], stats["resyncs"]) == (2, 1, 1, 1)
    assert stats["buffered_now"] == 2

    recovered = book.on_snapshot(snapshot_body(107))

    assert recovered == SyncStatus.APPLIED
    assert book.last_id == 110 and book.best_bid() == (100.0, 110.0)


# -- bounded buffer ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
def test_synced_book_event_overflow_discards_buffer_with_gap(rule):
    book = SyncedBook(rule, max_buffered_events=3)
    statuses = [feed(book, k, k) for k in (101, 102, 103)]

    overflow = feed(book, 104, 104, bids=[["100.0", "4"]])

    assert statuses == [SyncStatus.BUFFERED] * 3
    assert overflow == SyncStatus.GAP
    stats = book.stats()
    assert (stats["overflows"], stats["resyncs"], stats["buffered_now"], stats["buffered"]) == (1, 1, 1, 4)
    assert book.on_snapshot(snapshot_body(104 if rule == "prev-id" else 103)) == SyncStatus.APPLIED
    assert book.best_bid() == (100.0, 4.0)


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_level_overflow_discards_buffer_with_gap(rule):
    book = SyncedBook(rule, max_buffered_levels=4)
    first = feed(book, 101, 101, bids=[["1", "1"], ["2", "1"], ["3", "1"]])

    overflow = feed(book, 102, 102, bids=[["4", "1"]], asks=[["5", "1"]])

    assert first == SyncStatus.BUFFERED and overflow == SyncStatus.GAP
    assert (book.stats()["overflows"], book.stats()["buffered_now"]) == (1, 1)


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_event_larger_than_buffer_is_dropped_with_gap(rule):
    book = SyncedBook(rule, max_buffered_levels=2)
    feed(book, 100, 100)

    status = feed(book, 101, 101, bids=[["1", "1"], ["2", "1"], ["3", "1"]])

    assert status == SyncStatus.GAP
    stats = book.stats()
    assert (stats["overflows"], stats["resyncs"], stats["buffered_now"], stats["buffered"]) == (1, 1, 0, 1)


def test_synced_book_zero_buffer_bounds_are_refused():
    with pytest.raises(ValueError):
        SyncedBook("range", max_buffered_events=0)


# -- reset, crossed, ids -----------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
def test_synced_book_reset_drops_book_and_buffer(rule):
    book = live_book(rule)

    book.reset()

    assert book.state == SyncState.RESYNCING
    assert_invalid(book)
    assert book.stats()["resyncs"] == 1
    assert book.on_snapshot(snapshot_body(300)) == SyncStatus.APPLIED


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_crossed_event_is_applied_and_counted(rule):
    book = live_book(rule)

    status = feed(book, 106, 106, bids=[["100.5", "1"]])

    assert status == SyncStatus.CROSSED
    assert book.crossed and book.synced
    assert book.stats()["crossed"] == 1 and book.stats()["applied"] == 2


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_crossed_snapshot_reports_crossed(rule):
    book = SyncedBook(rule)

    status = book.on_snapshot(snapshot_body(100, bids=[["101", "1"]], asks=[["100", "1"]]))

    assert status == SyncStatus.CROSSED
    assert book.synced and book.crossed


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("ids", [(106, 105, 105), (-1, 106, 105), (106, 2**63 - 1, 105)],
                         ids=["first-above-last", "negative", "last-at-int64-max"])
def test_synced_book_inconsistent_ids_raise_decode_error(rule, ids):
    book = live_book(rule)
    before = view(book)

    with pytest.raises(DecodeError, match="ids"):
        book.on_depth(*ids, [["100.0", "2"]], [])

    after = view(book)
    assert after["stats"]["rejected"] == 1
    after["stats"]["rejected"] = 0
    assert after == before


def test_synced_book_prev_id_event_without_prev_id_raises_decode_error():
    book = live_book("prev-id")

    with pytest.raises(DecodeError):
        book.on_depth(106, 107, None, [], [])

    assert book.stats()["rejected"] == 1 and book.last_id == 105


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize(("level", "value"), [
    (["-1", "1"], "-1"), (["100", "-0.5"], "-0.5"), (["1e5", "1"], "1e5"), (["100", "NaN"], "NaN"),
    (["100", "1" * 25], "1" * 25),
])
def test_synced_book_bad_number_raises_number_error_naming_value(rule, level, value):
    book = live_book(rule)
    before = view(book)

    with pytest.raises(NumberError, match=repr(value).replace(".", r"\.")):
        feed(book, 106, 107, bids=[["100.0", "5"], level])

    after = view(book)
    assert after["stats"]["rejected"] == 1
    after["stats"]["rejected"] = 0
    assert after == before


# -- raw messages ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("envelope", [False, True], ids=["bare", "envelope"])
@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "str"])
def test_synced_book_on_message_accepts_envelope_and_bare_bytes_and_str(rule, envelope, as_text):
    book = live_book(rule)
    message = json.dumps(depth_message(106, 107, 105, bids=[["99.5", "8"]], asks=[["100.5", "0"]],
                                       envelope=envelope))

    status = book.on_message(message if as_text else message.encode())

    assert status == SyncStatus.APPLIED
    assert book.last_id == 107
    assert levels(book, 2) == (D(("100", "1.5"), ("99.5", "8")), D(("101", "3")))


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_on_message_buffers_and_syncs_like_on_depth(rule):
    book = SyncedBook(rule)
    book.on_message(json.dumps(depth_message(100, 102, 99, bids=[["100.0", "4"]])).encode())

    status = book.on_snapshot(snapshot_body(101))

    assert status == SyncStatus.APPLIED
    assert book.last_id == 102 and book.best_bid() == (100.0, 4.0)


def _event(**changes) -> bytes:
    event = depth_message(106, 107, 105, bids=[["99.5", "8"]])
    for key, value in changes.items():
        if value is KeyError:
            del event[key]
        else:
            event[key] = value
    return json.dumps(event).encode()


MALFORMED = [
    pytest.param(b'{"e":"depthUpdate","U":106,"u":107,"pu":105,"b":[["99.5","8"]', id="truncated"),
    pytest.param(b"", id="empty"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"[106, 107]", id="array"),
    pytest.param(_event()[:-1], id="unterminated-object"),
    pytest.param(_event() + b"}", id="trailing-byte"),
    pytest.param(_event(e="aggTrade"), id="not-a-depth-event"),
    pytest.param(_event(e=5), id="event-type-number"),
    pytest.param(_event(U=KeyError), id="missing-first-id"),
    pytest.param(_event(u=KeyError), id="missing-last-id"),
    pytest.param(_event(b=KeyError), id="missing-bids"),
    pytest.param(_event(a=KeyError), id="missing-asks"),
    pytest.param(_event(U=106.0), id="first-id-float"),
    pytest.param(_event(U=True), id="first-id-bool"),
    pytest.param(_event(U=2**64), id="first-id-over-int64"),
    pytest.param(_event(U=-1), id="first-id-negative"),
    pytest.param(_event(U=108), id="first-id-above-last-id"),
    pytest.param(_event(E="x"), id="event-time-string"),
    pytest.param(_event(b="x"), id="bids-string"),
    pytest.param(_event(b=None), id="bids-null"),
    pytest.param(_event(b=[["99.5"]]), id="level-short"),
    pytest.param(_event(b=[{"p": "99.5", "q": "8"}]), id="level-object"),
    pytest.param(_event(b=[["NaN", "8"]]), id="price-nan"),
    pytest.param(_event(b=[["1e5", "8"]]), id="price-exponent"),
    pytest.param(_event(a=[["100.5", "-3"]]), id="quantity-negative"),
    pytest.param(_event(a=[["100.5", "0." + "1" * 19]]), id="quantity-19-decimals"),
    pytest.param(b'{"e":"depthUpdate","U":106,"U":106,"u":107,"pu":105,"b":[],"a":[]}', id="duplicate-key"),
    pytest.param(json.dumps({"stream": "btcusdt@depth", "data": []}).encode(), id="envelope-data-array"),
    pytest.param(_event(U="10x6"), id="first-id-string-not-integer"),
    pytest.param(_event(U=106.5), id="first-id-fraction"),
]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("message", MALFORMED)
def test_synced_book_on_message_malformed_raises_and_changes_nothing(rule, message):
    book = live_book(rule)
    before = view(book)

    with pytest.raises(DecodeError):
        book.on_message(message)

    after = view(book)
    after["stats"].pop("rejected")
    before["stats"].pop("rejected")
    assert after == before
    assert book.on_depth(106, 107, 105, [["99.5", "8"]], []) == SyncStatus.APPLIED  # still usable


def test_synced_book_prev_id_on_message_without_prev_id_raises_decode_error():
    book = live_book("prev-id")

    with pytest.raises(DecodeError):
        book.on_message(_event(pu=KeyError))

    assert book.last_id == 105 and book.stats()["applied"] == 1


def test_synced_book_range_on_message_ignores_prev_id_field():
    book = live_book("range")

    status = book.on_message(_event(pu=3))

    assert status == SyncStatus.APPLIED and book.last_id == 107


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("kind", ["bytes", "str", "dict"])
def test_synced_book_on_snapshot_accepts_bytes_str_and_dict(rule, kind):
    book = SyncedBook(rule)
    body = snapshot_body(100)
    body = {"bytes": body, "str": body.decode(), "dict": json.loads(body)}[kind]

    status = book.on_snapshot(body)

    assert status == SyncStatus.APPLIED
    assert levels(book, 5) == (D(("100", "1"), ("99.5", "2")), D(("100.5", "1"), ("101", "3")))


@pytest.mark.parametrize("body", [
    b'{"lastUpdateId": 100, "bids": [["100", "1"]]',
    b'{"bids": [], "asks": []}',
    b'{"lastUpdateId": "1e2", "bids": [], "asks": []}',
    b'{"lastUpdateId": -5, "bids": [], "asks": []}',
    b'{"lastUpdateId": 100, "bids": "x", "asks": []}',
    b'{"lastUpdateId": 100, "bids": [["NaN", "1"]], "asks": []}',
    {"lastUpdateId": 100, "bids": [[100, 1]], "asks": []},
    {"lastUpdateId": 100, "bids": [], "asks": None},
], ids=["truncated", "missing-id", "id-string", "id-negative", "bids-string", "price-nan",
        "dict-level-numbers", "dict-asks-null"])
def test_synced_book_on_snapshot_malformed_raises_and_changes_nothing(body):
    book = SyncedBook("range")
    feed(book, 101, 102)
    before = view(book)

    with pytest.raises(DecodeError):
        book.on_snapshot(body)

    after = view(book)
    after["stats"].pop("rejected")
    before["stats"].pop("rejected")
    assert after == before


@pytest.mark.parametrize("rule", RULES)
def test_synced_book_on_message_accepts_quoted_ids_and_numeric_levels(rule):
    # Documented in decode.h: venues quote ids (Bybit, OKX) or send numbers; the value is the same.
    book = live_book(rule)
    msg = _event(U="106", u="107", pu="105", b=[[99.5, 8]])

    status = book.on_message(msg)

    assert status == SyncStatus.APPLIED
    assert book.last_id == 107
    assert book.qty_at("bid", "99.5") == 8.0
