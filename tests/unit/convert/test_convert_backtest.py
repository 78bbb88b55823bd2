# SPDX-License-Identifier: MIT
"""A converted .npz runs in hftbacktest's backtester to the end of its data."""

import pytest

from crossfury import convert
from crossfury.convert.synthetic import write_recording, write_tardis


def run_backtest(npz, tick_size, lot_size):
    hbt = pytest.importorskip("hftbacktest", reason="hftbacktest (a test dependency) is not installed")
    asset = (hbt.BacktestAsset().data([str(npz)]).linear_asset(1.0).constant_order_latency(10_000, 10_000)
             .risk_adverse_queue_model().no_partial_fill_exchange().trading_value_fee_model(0.0, 0.0)
             .tick_size(tick_size).lot_size(lot_size))
    bt = hbt.HashMapMarketDepthBacktest([asset])
    status = 0
    for _ in range(100_000):  # bounded: one simulated second per step
        status = bt.elapse(1_000_000_000)
        if status != 0:
            break
    depth = bt.depth(0)
    best = (depth.best_bid, depth.best_ask)
    bt.close()
    return status, best


@pytest.mark.parametrize("compress", ["none", "fast"])
def test_backtest_runs_a_converted_tardis_file_to_the_end(tmp_path, compress):
    book, trades = tmp_path / "b.csv.gz", tmp_path / "t.csv.gz"
    write_tardis(book, trades, 5000, seed=11, snapshot_every=2000)
    out = tmp_path / "t.npz"
    convert.convert_tardis([trades, book], out, compress=compress)

    status, (bid, ask) = run_backtest(out, 0.1, 0.001)

    assert status == 1  # end of data
    assert 0 < bid < ask


def test_backtest_runs_a_converted_recording_with_a_gap_in_sync_mode(tmp_path):
    rec = tmp_path / "r.gz"
    write_recording(rec, 3000, seed=12, gap_at=100)
    out = tmp_path / "r.npz"
    convert.convert_recording([rec], out, sync=True)

    status, (bid, ask) = run_backtest(out, 0.1, 0.001)

    assert status == 1
    assert 0 < bid < ask
