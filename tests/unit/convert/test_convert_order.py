# SPDX-License-Identifier: MIT
"""The ordering pipeline against hftbacktest's own (hftbacktest.data.validation) on generated rows with
equal timestamps, duplicates and negative latencies."""

import numpy as np
import pytest
from convert_testing import same_events

from crossfury import convert
from crossfury.events.hbt import EVENT_DTYPE, EXCH_EVENT, LOCAL_EVENT


def rows(n, seed, dup_every=5):
    rng = np.random.default_rng(seed)
    data = np.zeros(n, dtype=EVENT_DTYPE)
    exch = 1_700_000_000_000_000_000 + np.cumsum(rng.choice([0, 0, 1000, 5000], n))
    data["exch_ts"] = exch + rng.integers(-3000, 3000, n) * (rng.random(n) < 0.2)
    data["local_ts"] = exch + rng.integers(-2000, 40_000, n)
    data["ev"] = rng.choice([1 | 1 << 29, 1 | 1 << 28, 2 | 1 << 29, 4 | 1 << 28], n)
    data["px"] = rng.integers(1000, 1010, n) / 10
    data["qty"] = rng.integers(0, 5, n)
    same = np.arange(n) % dup_every == 1  # exact duplicates of the row before: both walks meet on them
    data[1:][same[1:]] = data[:-1][same[1:]]
    return data


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_order_pipeline_equals_hftbacktest(hbt, seed):
    data = rows(20_000, seed)
    theirs_in, ours_in = data.copy(), data.copy()

    hbt.validation.correct_local_timestamp(theirs_in, 0)
    theirs = hbt.validation.correct_event_order(theirs_in, np.argsort(theirs_in["exch_ts"], kind="mergesort"),
                                                np.argsort(theirs_in["local_ts"], kind="mergesort"))
    convert.correct_local_timestamp(ours_in, 0)
    ours = convert.correct_event_order(ours_in, convert.argsort(ours_in["exch_ts"]),
                                       convert.argsort(ours_in["local_ts"]))

    assert same_events(ours_in, theirs_in)
    assert same_events(ours, theirs)
    convert.validate_event_order(ours)


def test_correct_local_timestamp_adds_base_latency_only_when_a_latency_is_negative():
    data = rows(100, 4)
    data["local_ts"] = data["exch_ts"] + 10
    before = data["local_ts"].copy()

    convert.correct_local_timestamp(data, 500)
    assert np.array_equal(data["local_ts"], before)  # no negative latency: unchanged (hftbacktest's rule)

    data["local_ts"][7] = data["exch_ts"][7] - 30
    convert.correct_local_timestamp(data, 500)
    assert data["local_ts"][7] == data["exch_ts"][7] + 500 and data["local_ts"][0] == before[0] + 530


def test_validate_event_order_names_the_stream():
    data = rows(10, 5)
    data["ev"] |= 1 << 31
    data["exch_ts"] = np.arange(10)[::-1]

    with pytest.raises(ValueError, match="exchange events are out of order"):
        convert.validate_event_order(data)
    data["ev"] = (data["ev"] & ~np.uint64(1 << 31)) | np.uint64(1 << 30)
    data["local_ts"] = np.arange(10)[::-1]
    with pytest.raises(ValueError, match="local events are out of order"):
        convert.validate_event_order(data)


def test_correct_event_order_rejects_indices_outside_the_data():
    data = rows(5, 6)

    with pytest.raises(IndexError):
        convert.correct_event_order(data, np.array([0, 1, 2, 3, 9]), np.arange(5))
    with pytest.raises(ValueError, match="5 entries"):
        convert.correct_event_order(data, np.arange(4), np.arange(5))


def test_correct_event_order_where_hftbacktest_asserts_writes_each_side_once():
    data = np.zeros(2, dtype=EVENT_DTYPE)
    data["exch_ts"] = [5, 5]
    data["local_ts"] = [5, 3]
    data["ev"] = [1 | 1 << 29, 1 | 1 << 28]  # A: (5, 5) and B: (5, 3): exch walk A B, local walk B A
    data["px"] = [1.0, 2.0]

    out = convert.correct_event_order(data, np.array([0, 1]), np.array([1, 0]))

    exch = out[out["ev"] & (1 << 31) != 0]
    local = out[out["ev"] & (1 << 30) != 0]
    assert sorted(exch["px"]) == [1.0, 2.0] and sorted(local["px"]) == [1.0, 2.0]
    convert.validate_event_order(out)


def test_merge_takes_rows_already_in_an_order_without_its_index():
    from crossfury._native import convert as native

    data = rows(5000, 6)
    data = data[np.argsort(data["local_ts"], kind="stable")]  # in local order, as a recording's rows are
    by_exch = convert.argsort(data["exch_ts"])
    identity = np.arange(len(data))

    def merged(by_local):
        m = native.Merger(data, by_exch, by_local)
        out = np.empty(m.count(), dtype=EVENT_DTYPE)
        m.next_chunk(len(out), out)
        return out

    assert len(merged(None)) > len(data)
    assert same_events(merged(None), merged(identity))


def test_merged_output_lives_in_its_own_memory_and_is_writable():
    import gc

    from crossfury._native import convert as native

    data = rows(3000, 7)
    merged = convert.correct_event_order(data, convert.argsort(data["exch_ts"]), convert.argsort(data["local_ts"]))
    expected = merged.copy()
    del data
    gc.collect()

    assert merged.flags.writeable and merged.flags.c_contiguous
    assert merged.tobytes() == expected.tobytes()
    memory = native.Memory(10 * EVENT_DTYPE.itemsize)
    view = np.frombuffer(memory, dtype=EVENT_DTYPE)
    with pytest.raises(BufferError):
        memory.shrink(EVENT_DTYPE.itemsize)  # a view still looks at it
    del view
    memory.shrink(EVENT_DTYPE.itemsize)
    assert len(np.frombuffer(memory, dtype=EVENT_DTYPE)) == 1


def test_argsort_uses_threads_from_parallel_argsort_rows_on_and_gives_numpys_order():
    big = convert.PARALLEL_ARGSORT_ROWS
    assert convert.argsort_threads(big - 1) == 1
    assert 1 <= convert.argsort_threads(big) <= convert.ARGSORT_THREADS
    data = rows(big + 1000, seed=4)  # jittered exchange times and local times a varying latency behind

    for column in ("exch_ts", "local_ts"):
        keys = np.ascontiguousarray(data[column])
        expected = np.argsort(keys, kind="stable")
        assert np.array_equal(convert.argsort(keys), expected)  # the default: threads where cores allow
        assert np.array_equal(convert.argsort(keys, threads=4), expected)
        assert np.array_equal(convert.argsort(data[column], threads=3), expected)  # strided: a field of each row


def test_large_merge_streams_into_pages_a_helper_thread_faults_in():
    # Outputs of 16 MB and more (crossfury.convert._Room): a helper thread faults the pages in, the merge
    # waits for them and writes past the cache. Same rows as the plain merge, in cache.
    from crossfury import convert as c
    from crossfury._native import convert as native

    data = rows(300_000, 8)
    by_exch, by_local = convert.argsort(data["exch_ts"]), convert.argsort(data["local_ts"])
    room = c._Room(len(data))
    assert room.large
    m = native.Merger(data, by_exch, by_local)
    expected = np.empty(m.count(), dtype=EVENT_DTYPE)
    m.next_chunk(len(expected), expected)

    got = c._merged_array(native.Merger(data, by_exch, by_local, check=True), room)

    assert got.tobytes() == expected.tobytes()
    assert room._ready >= min(room.size, len(got) * EVENT_DTYPE.itemsize // c.PREFAULT_STEP * c.PREFAULT_STEP)


@pytest.mark.parametrize("stream", [False, True])
def test_checking_merge_stops_at_the_first_row_out_of_order(stream):
    # check=True is validate_event_order on each row as it is written: the rows before the bad one are
    # written, the bad one is not, and the error names the side, as validate's does.
    from crossfury._native import convert as native

    data = rows(20_000, 9)
    by_exch, by_local = convert.argsort(data["exch_ts"]), convert.argsort(data["local_ts"])
    plain = native.Merger(data, by_exch, by_local)
    whole = plain.next_chunk(plain.count())
    assert whole is not None
    convert.validate_event_order(whole)
    for side, order, message in (("exch", by_exch, "exchange"), ("local", by_local, "local")):
        bad = order.copy()
        bad[[5_000, 15_000]] = bad[[15_000, 5_000]]
        exch, local = (bad, by_local) if side == "exch" else (by_exch, bad)
        out = np.zeros(2 * len(data), dtype=EVENT_DTYPE)
        m = native.Merger(data, exch, local, check=True)
        with pytest.raises(ValueError, match=f"{message} events are out of order"):
            m.next_chunk(len(out), out, stream=stream)
        unchecked = native.Merger(data, exch, local).next_chunk(len(out))
        with pytest.raises(ValueError, match=f"{message} events are out of order"):
            convert.validate_event_order(unchecked)  # the same verdict as the check after the merge
        first_bad = _first_out_of_order(unchecked)
        assert out[:first_bad].tobytes() == unchecked[:first_bad].tobytes()
        assert not out[first_bad:].view(np.uint8).any()  # nothing written from the bad row on


def _first_out_of_order(events) -> int:
    """The first row validate_event_order refuses (numpy: a descent among each side's events)."""
    first = len(events)
    for flag, column in ((EXCH_EVENT, "exch_ts"), (LOCAL_EVENT, "local_ts")):
        at = np.flatnonzero(events["ev"] & flag)
        descents = np.flatnonzero(np.diff(events[column][at]) < 0)
        if len(descents):
            first = min(first, int(at[descents[0] + 1]))
    return first

def test_merge_of_columns_streamed_equals_plain_stores_and_the_event_rows_merge(tmp_path):
    # The Tardis path merges rows held in columns into a large room with streaming stores; the same rows
    # as cf_event rows (the other copy of the merge) and plain stores must give the same bytes.
    from crossfury._native import convert as native
    from crossfury.convert import Report, _merged_array, _order, _read_tardis, _Room
    from crossfury.convert.synthetic import write_tardis

    book, trades = tmp_path / "book.csv.gz", tmp_path / "trades.csv.gz"
    write_tardis(book, trades, 150_000, seed=12, snapshot_every=20_000, negative_latency_every=50)
    events = _read_tardis([trades, book], "process", False, None, Report([]))
    ordered = _order(events, 0, Report([]))
    by_exch, by_local = ordered.by_exch_array, ordered.by_local_array
    plain = native.Merger(events, by_exch, by_local).next_chunk(2 * len(events))
    room = _Room(len(events))
    assert room.large

    streamed = _merged_array(native.Merger(events, by_exch, by_local, check=True), room)
    as_event_rows = native.Merger(events.events(), by_exch, by_local).next_chunk(2 * len(events))

    assert len(plain) > len(events)
    assert streamed.tobytes() == plain.tobytes() == as_event_rows.tobytes()
    convert.validate_event_order(streamed)
