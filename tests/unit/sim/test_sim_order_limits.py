# SPDX-License-Identifier: MIT
"""crossfury.sim.trading: the order-count limits (protocols/binance.md section 7), each over its own window."""

from __future__ import annotations

import pytest

from crossfury.sim import BinanceSim
from crossfury.sim.trading import ApiError, endpoints


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(endpoints.time, "monotonic", lambda: now[0])
    return now


def test_order_counts_follow_each_window_and_refusals_do_not_count(clock):
    trading = BinanceSim("usdm", symbols=["BTCUSDT"]).trading
    trading.order_limits = {"10S": (10.0, 3), "1M": (60.0, 5)}
    assert trading._count_order() == {"X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1M": "1"}
    trading._count_order()
    assert trading._count_order() == {"X-MBX-ORDER-COUNT-10S": "3", "X-MBX-ORDER-COUNT-1M": "3"}
    with pytest.raises(ApiError) as refused:
        trading._count_order()
    assert (refused.value.status, refused.value.code) == (429, -1015)
    assert "per TEN_SECONDS" in refused.value.msg
    clock[0] += 10.0  # the first three leave the 10 s window (a time exactly at its edge is out), not the minute
    assert trading._count_order() == {"X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1M": "4"}
    trading._count_order()
    with pytest.raises(ApiError) as refused:
        trading._count_order()
    assert "per MINUTE" in refused.value.msg
    clock[0] += 50.0  # the minute of the first three is over; the two sent 10 s in still count
    assert trading._count_order() == {"X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1M": "3"}


def test_order_count_costs_the_same_after_many_orders(clock):
    # Each order drops the times that left its windows: the deques hold one window's orders, not all of them.
    trading = BinanceSim("usdm", symbols=["BTCUSDT"]).trading
    for _ in range(5000):
        clock[0] += 0.125  # exact in binary: no rounding at the window edges
        trading._count_order()
    assert {unit: len(q) for unit, q in trading._order_times.items()} == {"10S": 80, "1M": 480}
