# SPDX-License-Identifier: MIT
"""crossfury.sim.market without a server: number text, stream names, the synthetic market and its payloads."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

import pytest

from crossfury.core.errors import ConfigError
from crossfury.sim.market import (
    Market,
    StreamKey,
    SyntheticFeed,
    default_specs,
    fmt_units,
    parse_stream,
    parse_units,
)


class AllStreams:
    """A stream index that wants every key, with chosen periodic streams."""

    def __init__(self, periodic: list[StreamKey] | None = None):
        self._periodic = periodic or []

    def wants(self, key: str) -> bool:
        return True

    def periodic(self, symbol_lower: str):
        return [sk for sk in self._periodic if sk.key.startswith(symbol_lower + "@")]


def _market(kind: str, symbol: str, seed: int = 1, periodic=None) -> tuple[Market, SyntheticFeed]:
    market = Market(kind, default_specs(kind, [symbol]), AllStreams(periodic))
    return market, SyntheticFeed(market, symbol, seed)


def _run(market: Market, feed: SyntheticFeed, steps: int, start_ms: int = 1_700_000_000_000) -> list[tuple[str, dict]]:
    out = []
    for i in range(steps):
        feed.step(start_ms + i * 10)
        out += [(key, json.loads(data)) for key, data in market.take()]
    return out


@pytest.mark.parametrize("units,decimals,text", [(6394390, 2, "63943.90"), (5, 3, "0.005"), (12, 0, "12"),
                                                 (100000000, 8, "1.00000000"), (0, 3, "0.000")])
def test_fmt_units_and_parse_units_round_trip(units, decimals, text):
    assert fmt_units(units, decimals) == text
    assert parse_units(text, decimals) == units


def test_parse_units_accepts_trailing_zeros_and_refuses_off_grid():
    assert parse_units("1.50000", 2) == 150
    assert parse_units("7", 3) == 7000
    with pytest.raises(ValueError):
        parse_units("1.005", 2)


def test_parse_stream_maps_every_depth_speed_to_one_key():
    keys = {parse_stream(f"btcusdt@depth{tail}", True).key for tail in ("", "@100ms", "@0ms", "@250ms", "@500ms")}
    assert keys == {"btcusdt@depth"}


@pytest.mark.parametrize("name,futures,expected", [
    ("btcusdt@depth5", False, ("btcusdt@depth5@1000ms", "partial", (5, 1000))),
    ("btcusdt@depth20", True, ("btcusdt@depth20@250ms", "partial", (20, 250))),
    ("btcusdt@depth10@100ms", True, ("btcusdt@depth10@100ms", "partial", (10, 100))),
    ("btcusdt@aggTrade", True, ("btcusdt@aggTrade", "aggTrade", None)),
    ("btcusdt@kline_1M", False, ("btcusdt@kline_1M", "kline", "1M")),
    ("btcusdt@markPrice", True, ("btcusdt@markPrice@3000ms", "markPrice", 3000)),
    ("btcusdt@markPrice@1s", True, ("btcusdt@markPrice@1000ms", "markPrice", 1000)),
    ("btcusdt@markPrice", False, ("btcusdt@markPrice", "other", None)),  # spot has no mark price
    ("btcusdt@depth7", True, ("btcusdt@depth7", "other", None)),
    ("!miniTicker@arr", False, ("!miniTicker@arr", "other", None)),
])
def test_parse_stream_kinds(name, futures, expected):
    assert tuple(parse_stream(name, futures)) == expected


def test_default_specs_and_unknown_symbols():
    (btc,) = default_specs("usdm", ["btcusdt"])
    assert (btc.tick_size, btc.step_size, btc.margin_asset, btc.pair) == ("0.10", "0.001", "USDT", "BTCUSDT")
    (coin,) = default_specs("coinm", ["ADAUSD_PERP"])
    assert (coin.base, coin.quote, coin.margin_asset, coin.contract_size) == ("ADA", "USD", "ADA", 10)
    (spot,) = default_specs("spot", ["PEPEFDUSD"])
    assert (spot.base, spot.quote, spot.margin_asset) == ("PEPE", "FDUSD", None)
    with pytest.raises(ConfigError):
        default_specs("coinm", ["BTCUSDT"])
    with pytest.raises(ConfigError):
        default_specs("options")


@pytest.mark.parametrize("kind,symbol", [("spot", "BTCUSDT"), ("usdm", "SOLUSDT"), ("coinm", "ETHUSD_PERP")])
def test_synthetic_book_never_crosses_and_keeps_its_depth(kind, symbol):
    market, feed = _market(kind, symbol)
    st = feed.st
    for i in range(3000):
        feed.step(1_700_000_000_000 + i)
        market.take()
        bb, ba = st.best_bid(), st.best_ask()
        assert bb == max(st.bids) and ba == min(st.asks)
        assert bb < ba
        assert 200 <= len(st.bids) <= 800 and 200 <= len(st.asks) <= 800


def test_synthetic_spot_ids_are_contiguous_and_levels_on_the_grid():
    market, feed = _market("spot", "ETHUSDT")
    spec = feed.st.spec
    depth = [m for k, m in _run(market, feed, 500) if k == "ethusdt@depth"]
    assert len(depth) == 500
    for a, b in itertools.pairwise(depth):
        assert b["U"] == a["u"] + 1 and b["u"] >= b["U"]
    for ev in depth:
        for p, q in ev["b"] + ev["a"]:
            assert parse_units(p, spec.price_decimals) % spec.tick_units == 0
            assert parse_units(q, spec.qty_decimals) % spec.step_units == 0


def test_synthetic_futures_chain_by_prev_id_and_send_deletes_of_unknown_levels():
    market, feed = _market("usdm", "BTCUSDT")
    st = feed.st
    known = set(st.bids) | set(st.asks)
    unknown_deletes = 0
    prev_u = st.last_update_id
    for i in range(2000):
        feed.step(1_700_000_000_000 + i)
        for key, data in market.take():
            if key != "btcusdt@depth":
                continue
            ev = json.loads(data)
            assert ev["pu"] == prev_u and ev["U"] > prev_u
            prev_u = ev["u"]
            for p, q in ev["b"] + ev["a"]:
                px = parse_units(p, 2)
                if q == "0.000" and px not in known:
                    unknown_deletes += 1
                known.add(px)
    assert unknown_deletes > 0  # Binance deletes levels a client never had; so does the sim


def test_synthetic_market_is_deterministic_per_seed():
    a = _run(*_market("usdm", "BTCUSDT", seed=9), 200)
    b = _run(*_market("usdm", "BTCUSDT", seed=9), 200)
    c = _run(*_market("usdm", "BTCUSDT", seed=10), 200)
    assert a == b and a != c


def test_trades_take_the_top_and_the_depth_event_shows_it():
    market, feed = _market("usdm", "BTCUSDT")
    for _ in range(200):
        msgs = _run(market, feed, 1)
        trades = [m for k, m in msgs if k == "btcusdt@trade"]
        if trades:
            break
    depth = next(m for k, m in msgs if k == "btcusdt@depth")
    aggs = [m for k, m in msgs if k == "btcusdt@aggTrade"]
    assert [(a["f"], a["l"], a["p"], a["q"]) for a in aggs] == [(t["t"], t["t"], t["p"], t["q"]) for t in trades]
    side = "b" if trades[0]["m"] else "a"  # buyer is maker: a taker sold into the bids
    changed = {p for p, _ in depth[side]}
    assert {t["p"] for t in trades} <= changed
    assert market.symbols["BTCUSDT"].trades[-1].price == trades[-1]["p"]


def test_book_ticker_follows_every_top_change_with_the_event_id():
    market, feed = _market("spot", "BTCUSDT")
    snap = json.loads(market.snapshot_json("BTCUSDT", 5000, 0))
    bids = {Decimal(p): q for p, q in snap["bids"]}
    asks = {Decimal(p): q for p, q in snap["asks"]}

    def top():
        bb, ba = max(bids), min(asks)
        return (f"{bb:f}", bids[bb], f"{ba:f}", asks[ba])

    msgs = _run(market, feed, 300)
    tickers = 0
    for (key, msg), nxt in zip(msgs, msgs[1:] + [("", {})]):
        if key != "btcusdt@depth":
            continue
        before = top()
        for side, levels in ((bids, msg["b"]), (asks, msg["a"])):
            for p, q in levels:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = q
        if top() != before:
            key2, ticker = nxt
            assert key2 == "btcusdt@bookTicker" and ticker["u"] == msg["u"]
            assert (ticker["b"], ticker["B"], ticker["a"], ticker["A"]) == top()
            tickers += 1
    assert tickers > 50


def test_snapshot_json_matches_the_book_and_stale_is_older():
    market, feed = _market("usdm", "BTCUSDT")
    start_id = feed.st.last_update_id
    _run(market, feed, 50)
    snap = json.loads(market.snapshot_json("BTCUSDT", 1000, 1_700_000_000_999))
    last_id, bids, asks = market.book("BTCUSDT")
    assert snap["lastUpdateId"] == last_id and snap["E"] == 1_700_000_000_999
    assert snap["bids"] == [list(x) for x in bids] and snap["asks"] == [list(x) for x in asks]
    stale = json.loads(market.snapshot_json("BTCUSDT", 1000, 0, stale=True))
    assert stale["lastUpdateId"] == start_id < last_id
    assert json.loads(market.snapshot_json("BTCUSDT", 5, 0))["bids"] == snap["bids"][:5]


def test_klines_aggregate_trades_and_close_on_the_boundary():
    kline = parse_stream("btcusdt@kline_1s", True)
    market, feed = _market("usdm", "BTCUSDT", periodic=[kline])
    msgs = _run(market, feed, 1000, start_ms=1_700_000_000_000)  # 10 s of market time at 10 ms a step
    candles = [m["k"] for k, m in msgs if k == "btcusdt@kline_1s"]
    closed = [c for c in candles if c["x"]]
    assert len(closed) >= 9
    trades = [m for k, m in msgs if k == "btcusdt@trade"]
    for c in closed[1:]:
        inside = [t for t in trades if c["t"] <= t["T"] <= c["T"]]
        assert c["n"] == len(inside)
        if inside:
            assert (c["f"], c["L"]) == (inside[0]["t"], inside[-1]["t"])
            assert c["o"] == inside[0]["p"] and c["c"] == inside[-1]["p"]
            assert c["h"] == max((t["p"] for t in inside), key=float)


def test_partial_depth_and_mark_price_are_pushed_at_their_interval():
    periodic = [parse_stream("btcusdt@depth5@500ms", True), parse_stream("btcusdt@markPrice", True)]
    market, feed = _market("usdm", "BTCUSDT", periodic=periodic)
    msgs = _run(market, feed, 300)  # 3 s of market time
    partial = [m for k, m in msgs if k == "btcusdt@depth5@500ms"]
    marks = [m for k, m in msgs if k == "btcusdt@markPrice@3000ms"]
    assert 5 <= len(partial) <= 7 and len(marks) == 1
    assert len(partial[0]["b"]) == 5 and partial[0]["e"] == "depthUpdate"
