# SPDX-License-Identifier: MIT
import numpy as np
import pytest

from crossfury.events import EVENT_DTYPE, hbt

CONSTANTS = [name for name in hbt.__all__ if name != "EVENT_DTYPE"]


@pytest.fixture(scope="module")
def hbt_types():
    return pytest.importorskip("hftbacktest.types", reason="hftbacktest 2.4.4 is not installed")


def test_event_dtype_layout_is_eight_aligned_64_byte_fields():
    assert EVENT_DTYPE.itemsize == 64
    assert EVENT_DTYPE.isalignedstruct
    assert [(name, EVENT_DTYPE.fields[name][1]) for name in EVENT_DTYPE.names] == [
        ("ev", 0),
        ("exch_ts", 8),
        ("local_ts", 16),
        ("px", 24),
        ("qty", 32),
        ("order_id", 40),
        ("ival", 48),
        ("fval", 56),
    ]


def test_event_dtype_equals_hftbacktest(hbt_types):
    theirs = hbt_types.event_dtype
    assert EVENT_DTYPE == theirs
    assert EVENT_DTYPE.itemsize == theirs.itemsize == 64
    assert EVENT_DTYPE.alignment == theirs.alignment
    assert EVENT_DTYPE.fields == theirs.fields


def test_event_dtype_array_views_as_hftbacktest(hbt_types):
    ours = np.zeros(2, EVENT_DTYPE)
    ours[1] = (hbt.EXCH_EVENT | hbt.DEPTH_EVENT, 10, 20, 1.5, 2.5, 7, -3, 0.25)
    theirs = ours.view(hbt_types.event_dtype)
    assert theirs[1]["ev"] == hbt_types.EXCH_EVENT | hbt_types.DEPTH_EVENT
    assert (theirs[1]["local_ts"], theirs[1]["px"], theirs[1]["ival"]) == (20, 1.5, -3)


@pytest.mark.parametrize("name", CONSTANTS)
def test_event_constant_equals_hftbacktest(hbt_types, name):
    assert getattr(hbt, name) == getattr(hbt_types, name)


def test_event_constants_cover_every_hftbacktest_event_flag(hbt_types):
    theirs = {name for name in vars(hbt_types) if name.endswith("_EVENT")}
    assert theirs <= set(CONSTANTS)


def test_event_flags_are_distinct_bits_above_event_kinds():
    flags = [hbt.EXCH_EVENT, hbt.LOCAL_EVENT, hbt.BUY_EVENT, hbt.SELL_EVENT]
    kinds = [
        hbt.DEPTH_EVENT,
        hbt.TRADE_EVENT,
        hbt.DEPTH_CLEAR_EVENT,
        hbt.DEPTH_SNAPSHOT_EVENT,
        hbt.DEPTH_BBO_EVENT,
        hbt.ADD_ORDER_EVENT,
        hbt.CANCEL_ORDER_EVENT,
        hbt.MODIFY_ORDER_EVENT,
        hbt.FILL_EVENT,
    ]
    assert all(f & (f - 1) == 0 for f in flags)
    assert len(set(flags)) == 4
    assert max(kinds) < min(flags)
