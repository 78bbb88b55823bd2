# SPDX-License-Identifier: MIT
"""crossfury.sim.replay: reading recordings into a market, on small hand-written files and the real data set."""

from __future__ import annotations

import gzip
import json

import pytest

from crossfury.core.errors import ConfigError
from crossfury.sim.market import Market
from crossfury.sim.replay import ReplayFeed, scan_recordings


def _write(path, lines):
    with gzip.open(path, "wt") as f:
        for ts, obj in lines:
            f.write(f"{ts} {json.dumps(obj, separators=(',', ':'))}\n")
    return path


def _depth(U, u, pu, b, a):
    return {"stream": "ethusdt@depth@0ms", "data": {"e": "depthUpdate", "E": 1, "T": 1, "s": "ETHUSDT", "U": U,
                                                     "u": u, "pu": pu, "b": b, "a": a}}


@pytest.fixture
def recording(tmp_path):
    return _write(tmp_path / "ethusdt_20240101.gz", [
        (1_704_067_200_000_000_000, _depth(90, 95, 80, [["3000.10", "1.000"]], [])),
        (1_704_067_200_100_000_000, _depth(96, 105, 95, [["3000.20", "2.500"]], [["3000.50", "0.000"]])),
        (1_704_067_200_200_000_000, {"lastUpdateId": 100, "E": 1, "T": 1,
                                     "bids": [["3000.10", "1.000"], ["2999.90", "4.000"]],
                                     "asks": [["3000.50", "0.250"], ["3001.00", "3.000"]]}),
        (1_704_067_200_300_000_000, _depth(110, 120, 105, [["2999.90", "0.000"]], [["3000.40", "0.003"]])),
        (1_704_067_200_400_000_000, {"stream": "ethusdt@bookTicker", "data": {"u": 120}}),
        (1_704_067_200_500_000_000, "junk"),
    ])


def test_scan_infers_tick_and_lot_from_the_decimals(recording):
    (spec,) = scan_recordings([recording], "usdm")
    assert (spec.symbol, spec.tick_size, spec.step_size, spec.quote) == ("ETHUSDT", "0.10", "0.001", "USDT")
    with pytest.raises(ConfigError, match="futures"):
        scan_recordings([recording], "spot")


def test_feed_builds_the_book_from_the_snapshot_and_the_events_after_it(recording):
    market = Market("usdm", scan_recordings([recording], "usdm"))
    feed = ReplayFeed(market, [recording])
    for _, file_index, payload in feed.lines():
        feed.handle(file_index, payload)
    last_id, bids, asks = market.book("ETHUSDT")
    # The buffered event 96..105 ends after the snapshot (100): applied over it, as a client would.
    assert last_id == 120
    assert bids == [("3000.20", "2.500"), ("3000.10", "1.000")]
    assert asks == [("3000.40", "0.003"), ("3001.00", "3.000")]
    assert feed.unattributed == 1 and feed.lines_read == 6


def test_scan_of_the_real_usdm_recording(shared_data):
    (spec,) = scan_recordings([shared_data / "hftbacktest/usdm/btcusdt_20240718.gz"], "usdm")
    assert (spec.symbol, spec.tick_size, spec.step_size) == ("BTCUSDT", "0.10", "0.001")
    (coin,) = scan_recordings([shared_data / "hftbacktest/cm/btcusd_perp_20240808.gz"], "coinm")
    assert (coin.symbol, coin.base, coin.pair, coin.tick_size, coin.step_size) == \
        ("BTCUSD_PERP", "BTC", "BTCUSD", "0.1", "1")
