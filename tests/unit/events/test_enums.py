# SPDX-License-Identifier: MIT
from enum import StrEnum

import msgspec
import pytest

from crossfury.events import Channel, Exchange, MarketType, OrderStatus, OrderType, Side, TimeInForce

ALL_ENUMS = [Exchange, MarketType, Side, Channel, OrderStatus, OrderType, TimeInForce]


def test_exchange_values_are_lowercase_names():
    assert {e.value for e in Exchange} == {
        "binance",
        "bybit",
        "okx",
        "lbank",
        "xt",
        "tapbit",
        "coincatch",
        "hbit",
        "batonex",
    }


def test_enums_have_the_specified_members():
    assert [m.name for m in MarketType] == ["SPOT", "PERPETUAL", "FUTURES"]
    assert [m.name for m in Side] == ["BUY", "SELL"]
    assert [m.name for m in Channel] == [
        "BOOK",
        "TRADES",
        "BBO",
        "KLINE",
        "TICKER",
        "MARK_PRICE",
        "ORDERS",
        "FILLS",
        "BALANCES",
        "POSITIONS",
    ]
    assert [m.name for m in OrderStatus] == [
        "NEW",
        "PARTIALLY_FILLED",
        "FILLED",
        "CANCELED",
        "REJECTED",
        "EXPIRED",
    ]
    assert [m.name for m in OrderType] == ["LIMIT", "MARKET"]
    assert [m.name for m in TimeInForce] == ["GTC", "IOC", "FOK", "POST_ONLY"]


@pytest.mark.parametrize("enum", ALL_ENUMS)
def test_enum_value_is_lowercase_name(enum):
    assert issubclass(enum, StrEnum)
    assert all(member.value == member.name.lower() for member in enum)


@pytest.mark.parametrize("enum", ALL_ENUMS)
def test_enum_round_trips_through_value(enum):
    for member in enum:
        assert enum(member.value) is member
        assert enum[member.name] is member
        assert member == member.value
        assert str(member) == member.value


@pytest.mark.parametrize("enum", ALL_ENUMS)
def test_enum_round_trips_through_json(enum):
    for member in enum:
        data = msgspec.json.encode(member)
        assert data == f'"{member.value}"'.encode()
        assert msgspec.json.decode(data, type=enum) is member


def test_enum_repr_is_qualified_name():
    assert repr(Exchange.BINANCE) == "Exchange.BINANCE"
    assert repr(OrderStatus.PARTIALLY_FILLED) == "OrderStatus.PARTIALLY_FILLED"


def test_enum_unknown_value_raises():
    with pytest.raises(ValueError):
        Exchange("kraken")
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'"hold"', type=Side)


def test_side_sign_and_opposite():
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    assert (Side.BUY.opposite, Side.SELL.opposite) == (Side.SELL, Side.BUY)


def test_order_status_is_final_only_for_terminal_states():
    final = {s for s in OrderStatus if s.is_final}
    assert final == {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
