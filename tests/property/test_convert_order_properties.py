# SPDX-License-Identifier: MIT
"""The C ordering kernels (csrc/convert/order.c) against numpy and the plain-Python twins
(crossfury/convert/reference.py), on generated timestamps: sorted runs, jitter, duplicates, extremes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossfury import convert
from crossfury.convert import reference
from crossfury.events.hbt import EVENT_DTYPE

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
I64 = st.integers(-(2**63), 2**63 - 1)


@st.composite
def timestamps(draw):
    """Concatenated runs of nearly sorted timestamps, some equal, some wild."""
    out = []
    for _ in range(draw(st.integers(0, 6))):
        n = draw(st.integers(0, 120))
        base = draw(st.integers(-(10**6), 10**6))
        steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        run = list(np.cumsum(steps) + base) if n else []
        jitter = draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n))
        out += [int(r) + j for r, j in zip(run, jitter)]
    if draw(st.booleans()):
        out += draw(st.lists(I64, max_size=20))
    if out and draw(st.booleans()):
        out.reverse()
    return np.array(out, dtype=np.int64)


@PROPERTY
@given(keys=timestamps())
def test_argsort_is_numpys_stable_permutation(keys):
    assert np.array_equal(convert.argsort(keys), np.argsort(keys, kind="stable"))
    assert convert.argsort(keys).tolist() == reference.argsort(keys)


@PROPERTY
@given(keys=timestamps())
def test_argsort_of_a_strided_view(keys):
    rows = np.zeros(len(keys), dtype=EVENT_DTYPE)
    rows["local_ts"] = keys

    assert np.array_equal(convert.argsort(rows["local_ts"]), np.argsort(keys, kind="stable"))


@st.composite
def event_rows(draw):
    n = draw(st.integers(0, 60))
    exch = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    lat = draw(st.lists(st.integers(-3, 6), min_size=n, max_size=n))
    ev = draw(st.lists(st.sampled_from([1, 2, 3, 4]), min_size=n, max_size=n))
    px = draw(st.lists(st.sampled_from([1.0, 2.0, float("nan")]), min_size=n, max_size=n))
    rows = np.zeros(n, dtype=EVENT_DTYPE)
    rows["exch_ts"] = exch
    rows["local_ts"] = np.array(exch, dtype=np.int64) + np.array(lat, dtype=np.int64)
    rows["ev"] = ev
    rows["px"] = px
    rows["qty"] = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n))
    return rows


@PROPERTY
@given(rows=event_rows(), base=st.integers(-5, 5))
def test_latency_correction_and_merge_match_the_reference(rows, base):
    ours, ref = rows.copy(), rows.copy()
    offset = reference.local_offset(ref, base)
    ref["local_ts"] += offset
    convert.correct_local_timestamp(ours, base)
    assert ours.tobytes() == ref.tobytes()

    by_exch, by_local = reference.argsort(ref["exch_ts"]), reference.argsort(ref["local_ts"])
    merged = convert.correct_event_order(ours, np.array(by_exch, dtype=np.int64), np.array(by_local, dtype=np.int64))
    expected = reference.correct_event_order(ref, by_exch, by_local)

    assert merged.tobytes() == expected.tobytes()
    reference.validate_event_order(merged)
    convert.validate_event_order(merged)
    exch_rows = (merged["ev"] >> 31) & 1
    local_rows = (merged["ev"] >> 30) & 1
    assert exch_rows.sum() == len(rows) and local_rows.sum() == len(rows)


@PROPERTY
@given(rows=event_rows())
def test_validate_agrees_with_the_reference(rows):
    rows["ev"] |= np.uint64(3 << 30)
    try:
        reference.validate_event_order(rows)
        expected = None
    except ValueError as exc:
        expected = str(exc)
    try:
        convert.validate_event_order(rows)
        got = None
    except ValueError as exc:
        got = str(exc)
    assert got == expected


@st.composite
def large_timestamps(draw):
    """Enough keys for the bucket path (over 4096): jittered ones (a feed latency that varies by more than
    the step), long sorted stretches, heavy duplicates, a few wild values, or one far outlier."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(4096, 40_000))
    steps = rng.choice([0, 0, 1, 10, 30], size=n)
    keys = np.cumsum(steps) + draw(st.integers(-(10**12), 10**12))
    keys = keys + rng.integers(0, draw(st.sampled_from([1, 5, 500, 5000])), size=n)
    shape = draw(st.sampled_from(["jitter", "duplicates", "wild", "outlier", "two_files"]))
    if shape == "duplicates":
        keys = keys // draw(st.sampled_from([100, 10_000]))
    elif shape == "wild":
        at = rng.integers(0, n, size=20)
        keys[at] = rng.integers(-(2**63), 2**63 - 1, size=20, dtype=np.int64)
    elif shape == "outlier":
        keys[rng.integers(0, n)] = draw(st.sampled_from([-(2**63), 2**63 - 1]))
    elif shape == "two_files":
        keys = np.concatenate([keys[: n // 3], keys[n // 3:] - keys[n // 2]])
    return keys.astype(np.int64)


def assert_argsort_is_numpys_contiguous_and_strided(keys: np.ndarray) -> None:
    """The keys alone, and as the exch_ts field of event rows (strided, as the converters sort them)."""
    assert np.array_equal(convert.argsort(keys), np.argsort(keys, kind="stable"))
    rows = np.zeros(len(keys), dtype=EVENT_DTYPE)
    rows["exch_ts"] = keys
    assert np.array_equal(convert.argsort(rows["exch_ts"]), np.argsort(keys, kind="stable"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=large_timestamps())
def test_argsort_of_many_keys_is_numpys(keys):
    assert_argsort_is_numpys_contiguous_and_strided(keys)


@st.composite
def two_sorted_runs(draw):
    """Two concatenated files, each in time order (the Tardis trades then book case), with ties across them;
    long enough for the block scans and the merge's windows."""
    runs = []
    for _ in range(2):
        n = draw(st.integers(0, 300))
        base = draw(st.integers(-50, 50))
        steps = draw(st.lists(st.integers(0, draw(st.integers(0, 40))), min_size=n, max_size=n))
        runs.append(np.cumsum(np.array(steps, dtype=np.int64)) + base)
    return np.concatenate(runs)


@PROPERTY
@given(keys=two_sorted_runs())
def test_argsort_of_two_sorted_runs_is_numpys(keys):
    assert_argsort_is_numpys_contiguous_and_strided(keys)


# -- the argsort on threads (csrc/convert/order.c, "threads"): forced onto small inputs, where each chunk is a
# handful of keys and its seams fall anywhere, inside runs of ties included.

THREADS = st.integers(2, 17)  # more than CF_ORDER_MAX_THREADS (16), sometimes: clamped


def _numpys(keys: np.ndarray, threads: int) -> None:
    expected = np.argsort(keys, kind="stable")
    assert np.array_equal(convert.argsort(keys, threads=threads), expected)
    rows = np.zeros(len(keys), dtype=EVENT_DTYPE)  # strided keys: a field of each row
    rows["local_ts"] = keys
    assert np.array_equal(convert.argsort(rows["local_ts"], threads=threads), expected)


@PROPERTY
@given(keys=timestamps(), threads=THREADS)
def test_argsort_on_threads_is_numpys_and_the_references(keys, threads):
    _numpys(keys, threads)
    assert convert.argsort(keys, threads=threads).tolist() == reference.argsort(keys)


@st.composite
def runs_of_ties(draw):
    """Keys in runs of equal values (long enough to straddle a chunk seam), the runs in order, shuffled a
    little, or two files' worth."""
    values = draw(st.lists(st.integers(-5, 5), min_size=1, max_size=8))
    lengths = draw(st.lists(st.integers(1, 200), min_size=len(values), max_size=len(values)))
    shape = draw(st.sampled_from(["sorted", "as drawn", "two files"]))
    if shape == "sorted":
        values = sorted(values)
    keys = np.repeat(np.array(values, dtype=np.int64), lengths)
    if shape == "two files":
        keys = np.concatenate([np.sort(keys), np.sort(keys[::2])])
    return keys


@PROPERTY
@given(keys=runs_of_ties(), threads=THREADS)
def test_argsort_on_threads_keeps_ties_in_index_order_across_chunk_seams(keys, threads):
    _numpys(keys, threads)


@pytest.mark.parametrize("threads", [2, 3, 16])
@pytest.mark.parametrize("keys", [[], [5], [5, 5], [2, 1], [1, 2], [7] * 1000, list(range(1000, 0, -1)),
                                  [3] * 600 + [1] * 600, list(range(500)) + list(range(500))],
                         ids=["n0", "n1", "n2 equal", "n2 descending", "n2 ascending", "all equal", "descending",
                              "two runs of ties", "two files"])
def test_argsort_on_threads_edge_cases(keys, threads):
    _numpys(np.array(keys, dtype=np.int64), threads)


SCAN_PIECES_PER_CHUNK = 8  # csrc/convert/order.c: the runs way scans (and writes the identity) in these


def _piece_starts(n: int, threads: int) -> list[int]:
    """Where the runs way's scan pieces start: split(n, pieces, c) in csrc/convert/order.c."""
    pieces = min(threads, 16, n) * SCAN_PIECES_PER_CHUNK
    return sorted({n // pieces * c + min(c, n % pieces) for c in range(1, pieces)} - {n})  # n: empty pieces


@pytest.mark.parametrize("threads", [2, 3, 16])
@pytest.mark.parametrize("n", [40, 1000, 3001])
def test_argsort_on_threads_sees_a_descent_at_any_scan_piece_seam(n, threads):
    """In order but for one key lowered where a piece starts, or two: the identity each piece wrote is not the
    answer (two runs are merged, more are sorted), though no piece finds a descent inside itself."""
    starts = _piece_starts(n, threads)
    for at in starts:
        keys = np.arange(n, dtype=np.int64) * 2
        keys[at] = keys[at - 1] - 1
        _numpys(keys, threads)
        keys[starts[-1] if at != starts[-1] else starts[0]] -= 3  # a second descent, at another seam
        _numpys(keys, threads)
    _numpys(np.arange(n, dtype=np.int64) // 7, threads)  # in order, ties across seams: the identity as written


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=large_timestamps(), threads=THREADS)
def test_argsort_of_many_keys_on_threads_is_numpys(keys, threads):
    """Over 4096 keys: the bucket way shared out (per-thread counts and scatter), or, when keys bunch, the
    runs way."""
    _numpys(keys, threads)


def test_argsort_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads"):
        convert.argsort(np.arange(3, dtype=np.int64), threads=0)
