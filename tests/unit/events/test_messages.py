# SPDX-License-Identifier: MIT
import gc
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossfury import events
from crossfury.events import (
    BBO,
    Balance,
    BestBidOffer,
    BookDelta,
    BookSnapshot,
    Exchange,
    Fill,
    Kline,
    MarketType,
    Message,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
    Trade,
)

TS = {"exch_ts": 1_700_000_000_000_000_000, "local_ts": 1_700_000_000_000_400_000}
SPOT = dict(exchange=Exchange.BINANCE, market=MarketType.SPOT, symbol="BTC-USDT", **TS)
PERP = dict(exchange=Exchange.BYBIT, market=MarketType.PERPETUAL, symbol="BTC-USDT-PERP", **TS)

SAMPLES = [
    BookSnapshot(**SPOT, bids=((100.0, 1.0), (99.5, 2.0)), asks=((100.5, 3.0),), last_id=1050),
    BookDelta(**SPOT, bids=((100.0, 0.0),), asks=(), first_id=1051, last_id=1053, prev_id=1050),
    Trade(**SPOT, px=100.25, qty=0.5, side=Side.SELL, trade_id="t-77"),
    BestBidOffer(**SPOT, bid_px=100.0, bid_qty=1.0, ask_px=100.5, ask_qty=3.0, last_id=1053),
    Kline(
        **SPOT,
        interval="1m",
        open_ts=60_000_000_000,
        close_ts=120_000_000_000,
        open=100.0,
        high=101.0,
        low=99.0,
        close=100.5,
        volume=12.5,
        closed=True,
    ),
    OrderUpdate(
        **PERP,
        client_order_id="c1",
        order_id="9001",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.POST_ONLY,
        px=99.0,
        qty=2.0,
        filled_qty=0.5,
        avg_px=99.0,
        status=OrderStatus.PARTIALLY_FILLED,
        reduce_only=True,
    ),
    Fill(
        **PERP,
        order_id="9001",
        client_order_id="c1",
        trade_id="t-78",
        side=Side.BUY,
        px=99.0,
        qty=0.5,
        fee=-0.001,
        fee_asset="USDT",
        is_maker=True,
    ),
    Balance(exchange=Exchange.OKX, market=MarketType.SPOT, **TS, asset="USDT", free=1000.0, locked=25.0),
    Position(**PERP, qty=-0.5, entry_px=101.0, unrealized_pnl=0.75, mark_px=99.5),
]
IDS = [type(m).__name__ for m in SAMPLES]
COMMON = ["exchange", "market", "exch_ts", "local_ts"]


def test_events_import_loads_no_compiled_module():
    code = "import sys, crossfury.events; print(*(m for m in sys.modules if m.startswith('crossfury.')))"
    source_root = str(Path(events.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    loaded = out.stdout.split()
    assert "crossfury.events.messages" in loaded
    assert not [m for m in loaded if m.startswith("crossfury._native")]


@pytest.mark.parametrize(
    ("cls", "names"),
    [
        (BookSnapshot, ["symbol", "bids", "asks", "last_id", "valid"]),
        (BookDelta, ["symbol", "bids", "asks", "first_id", "last_id", "prev_id"]),
        (Trade, ["symbol", "px", "qty", "side", "trade_id"]),
        (BestBidOffer, ["symbol", "bid_px", "bid_qty", "ask_px", "ask_qty", "last_id"]),
        (
            Kline,
            ["symbol", "interval", "open_ts", "close_ts", "open", "high", "low", "close", "volume", "closed"],
        ),
        (
            OrderUpdate,
            [
                "symbol",
                "client_order_id",
                "order_id",
                "side",
                "order_type",
                "time_in_force",
                "px",
                "qty",
                "filled_qty",
                "avg_px",
                "status",
                "reduce_only",
            ],
        ),
        (
            Fill,
            [
                "symbol",
                "order_id",
                "client_order_id",
                "trade_id",
                "side",
                "px",
                "qty",
                "fee",
                "fee_asset",
                "is_maker",
            ],
        ),
        (Balance, ["asset", "free", "locked"]),
        (Position, ["symbol", "qty", "entry_px", "unrealized_pnl", "mark_px"]),
    ],
)
def test_message_fields_are_common_then_specific(cls, names):
    assert [f.name for f in msgspec.structs.fields(cls)] == COMMON + names


def test_trade_construction_keeps_values():
    trade = Trade(**SPOT, px=100.25, qty=0.5, side=Side.BUY, trade_id="1")
    assert (trade.exchange, trade.market, trade.symbol) == (Exchange.BINANCE, MarketType.SPOT, "BTC-USDT")
    assert (trade.exch_ts, trade.local_ts) == (TS["exch_ts"], TS["local_ts"])
    assert (trade.px, trade.qty, trade.side, trade.trade_id) == (100.25, 0.5, Side.BUY, "1")


def test_message_optional_fields_default_to_none_or_false():
    delta = BookDelta(**SPOT, bids=(), asks=((1.0, 2.0),))
    order = OrderUpdate(
        **SPOT,
        client_order_id="c",
        order_id="o",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
        px=0.0,
        qty=1.0,
        filled_qty=0.0,
        avg_px=0.0,
        status=OrderStatus.NEW,
    )
    position = Position(**PERP, qty=1.0, entry_px=2.0, unrealized_pnl=0.0)
    bbo = BBO(**SPOT, bid_px=1.0, bid_qty=1.0, ask_px=2.0, ask_qty=1.0)
    assert (delta.first_id, delta.last_id, delta.prev_id) == (None, None, None)
    assert order.reduce_only is False
    assert position.mark_px is None
    assert bbo.last_id is None


@pytest.mark.parametrize("msg", SAMPLES, ids=IDS)
def test_message_rejects_positional_arguments(msg):
    values = msgspec.structs.asdict(msg)
    for name in values:
        others = {k: v for k, v in values.items() if k != name}
        with pytest.raises(TypeError):
            type(msg)(values[name], **others)


def test_message_missing_field_raises():
    with pytest.raises(TypeError, match="trade_id"):
        Trade(**SPOT, px=1.0, qty=1.0, side=Side.BUY)


def test_bbo_is_alias_of_best_bid_offer():
    assert BBO is BestBidOffer


@pytest.mark.parametrize("msg", SAMPLES, ids=IDS)
def test_message_assignment_raises(msg):
    with pytest.raises(AttributeError):
        msg.exch_ts = 0
    with pytest.raises(AttributeError):
        msg.not_a_field = 0
    assert msg.exch_ts == TS["exch_ts"]


@pytest.mark.parametrize("msg", SAMPLES, ids=IDS)
def test_message_repr_is_readable_and_evaluable(msg):
    text = repr(msg)
    assert text.startswith(f"{type(msg).__name__}(exchange=Exchange.")
    assert f"exch_ts={TS['exch_ts']}" in text
    assert eval(text, vars(events)) == msg


@pytest.mark.parametrize("msg", SAMPLES, ids=IDS)
def test_message_equality_and_hash_follow_values(msg):
    twin = msgspec.structs.replace(msg)
    changed = msgspec.structs.replace(msg, local_ts=msg.local_ts + 1)
    assert twin == msg and twin is not msg
    assert hash(twin) == hash(msg)
    assert changed != msg
    assert len({msg, twin, changed}) == 2


def test_message_of_other_type_with_same_values_is_unequal():
    levels = {"bids": ((1.0, 2.0),), "asks": ()}
    assert BookSnapshot(**SPOT, **levels, last_id=5) != BookDelta(**SPOT, **levels, last_id=5)


@pytest.mark.parametrize("msg", SAMPLES, ids=IDS)
def test_message_is_not_tracked_by_gc(msg):
    assert not gc.is_tracked(msg)


@pytest.mark.parametrize("msg", SAMPLES, ids=IDS)
def test_message_round_trips_through_json_union(msg):
    data = msgspec.json.encode(msg)
    assert msgspec.json.decode(data)["type"] == type(msg).__name__
    assert msgspec.json.decode(data, type=Message) == msg


@pytest.mark.parametrize("msg", SAMPLES, ids=IDS)
def test_message_round_trips_through_msgpack_union(msg):
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(msg), type=Message) == msg


def test_message_json_uses_enum_values():
    trade = SAMPLES[2]
    decoded = msgspec.json.decode(msgspec.json.encode(trade))
    assert (decoded["exchange"], decoded["market"], decoded["side"]) == ("binance", "spot", "sell")


_finite = st.floats(allow_nan=False, allow_infinity=False)
_levels = st.lists(st.tuples(_finite, _finite), max_size=5).map(tuple)


@given(
    bids=_levels,
    asks=_levels,
    ids=st.tuples(*[st.none() | st.integers(0, 2**63 - 1)] * 3),
    ts=st.integers(-(2**63), 2**63 - 1),
)
def test_book_delta_round_trips_through_json_for_any_levels(bids, asks, ids, ts):
    delta = BookDelta(
        exchange=Exchange.OKX,
        market=MarketType.FUTURES,
        symbol="BTC-USDT-250627",
        exch_ts=ts,
        local_ts=ts,
        bids=bids,
        asks=asks,
        first_id=ids[0],
        last_id=ids[1],
        prev_id=ids[2],
    )
    assert msgspec.json.decode(msgspec.json.encode(delta), type=Message) == delta
