# SPDX-License-Identifier: MIT
"""crossfury.sim.faults: the fault schedule syntax and the pending-fault bookkeeping."""

from __future__ import annotations

import pytest

from crossfury.core.errors import ConfigError
from crossfury.sim.faults import FaultState, ScheduledFault, parse_fault


@pytest.mark.parametrize("text,expected", [
    ("drop_depth@5", ScheduledFault(5.0, "drop_depth", {})),
    ("disconnect@10:graceful=true", ScheduledFault(10.0, "disconnect", {"graceful": True})),
    ("rest_error@2.5:status=418,count=2,retry_after_s=0.5", ScheduledFault(
        2.5, "rest_error", {"status": 418, "count": 2, "retry_after_s": 0.5})),
    ("drop_depth@0:symbol=BTCUSDT,count=3", ScheduledFault(0.0, "drop_depth", {"symbol": "BTCUSDT", "count": 3})),
    ("silence@1:duration_s=2,conn_id=none", ScheduledFault(1.0, "silence", {"duration_s": 2, "conn_id": None})),
])
def test_parse_fault(text, expected):
    assert parse_fault(text) == expected


@pytest.mark.parametrize("text", ["explode@1", "drop_depth", "drop_depth@soon", "drop_depth@1:count"])
def test_parse_fault_refuses_bad_text(text):
    with pytest.raises(ConfigError):
        parse_fault(text)


def test_drop_depth_counts_per_symbol_then_any_symbol():
    faults = FaultState()
    faults.add_drop_depth("BTCUSDT", 1)
    faults.add_drop_depth(None, 1)
    assert faults.take_drop_depth("ETHUSDT") is True  # the any-symbol drop
    assert faults.take_drop_depth("ETHUSDT") is False
    assert faults.take_drop_depth("BTCUSDT") is True
    assert faults.take_drop_depth("BTCUSDT") is False
    assert faults.applied["drop_depth"] == 2


def test_rest_errors_and_stale_snapshots_are_used_once_each():
    faults = FaultState()
    faults.add_rest_error(503, 2, 1.5, None)
    assert [faults.take_rest_error().status for _ in range(2)] == [503, 503]
    assert faults.take_rest_error() is None
    faults.add_stale_snapshot(1)
    assert faults.take_stale_snapshot() and not faults.take_stale_snapshot()
    assert dict(faults.applied) == {"rest_error": 2, "stale_snapshot": 1}
    with pytest.raises(ConfigError):
        faults.add_rest_error(500, 1, 1, None)


def test_every_fault_has_a_help_example_that_fits_its_method():
    import inspect

    from crossfury.sim.binance import BinanceSim
    from crossfury.sim.faults import FAULT_EXAMPLES, FAULTS, TRADING_FAULTS
    from crossfury.sim.trading import SimTrading

    parsed = [parse_fault(text) for text in FAULT_EXAMPLES]
    assert sorted(f.name for f in parsed) == sorted(FAULTS)
    for fault in parsed:
        method = getattr(SimTrading if fault.name in TRADING_FAULTS else BinanceSim, fault.name)
        inspect.signature(method).bind(None, **fault.kwargs)  # raises TypeError on a wrong or missing argument
