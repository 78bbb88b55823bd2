# SPDX-License-Identifier: MIT
"""OrderManager: duplicate and out-of-order updates never move an order backwards or count a fill twice.

Updates are built from Binance-shaped user events through the real parser (section 9.3), and REST snapshots
through ``parse_order``, so the test covers what the connector actually feeds the manager.
"""

from __future__ import annotations

import itertools

import pytest

from crossfury.connectors.orders import OrderManager
from crossfury.events import Exchange, Fill, MarketType, OrderStatus, OrderUpdate
from crossfury.exchanges.binance import trading as bt
from crossfury.exchanges.spec import Instrument

INST = Instrument(market=MarketType.PERPETUAL, symbol="BTC-USDT-PERP", native="BTCUSDT",
                  base="BTC", quote="USDT", tick_size="0.1", lot_size="0.001")
_local = itertools.count(1)


def event(status: str, filled: str, *, execution: str = "TRADE", last: str = "0", trade_id: int = 0,
          event_ms: int = 1_000, px: str = "67000.0", qty: str = "0.010", cid: str = "c-1") -> list:
    """Parse one ORDER_TRADE_UPDATE of order 42 (what the user stream delivers)."""
    obj = {"e": "ORDER_TRADE_UPDATE", "E": event_ms, "T": event_ms,
           "o": {"s": "BTCUSDT", "c": cid, "S": "BUY", "o": "LIMIT", "f": "GTC", "q": qty, "p": px, "ap": px,
                 "x": execution, "X": status, "i": 42, "l": last, "z": filled, "L": px, "N": "USDT", "n": "0.01",
                 "T": event_ms, "t": trade_id, "m": True, "R": False}}
    return bt.parse_user_event(obj, {"BTCUSDT": INST}.get, next(_local))


def snapshot(status: str, filled: str, update_ms: int, px: str = "67000.0") -> OrderUpdate:
    """Parse a REST order reply of order 42 (what reconciliation and query_order feed)."""
    return bt.parse_order({"orderId": 42, "symbol": "BTCUSDT", "status": status, "clientOrderId": "c-1",
                           "price": px, "avgPrice": px, "origQty": "0.010", "executedQty": filled,
                           "timeInForce": "GTC", "type": "LIMIT", "side": "BUY", "updateTime": update_ms},
                          INST, next(_local))


def feed(om: OrderManager, messages: list) -> list[bool]:
    """Apply parsed messages as the Trader does; return what each apply/add_fill said."""
    return [om.apply(m) if isinstance(m, OrderUpdate) else om.add_fill(m) for m in messages]


def test_filled_before_new_stays_filled():
    om = OrderManager()
    assert feed(om, event("FILLED", "0.010", last="0.010", trade_id=7, event_ms=2_000)) == [True, True]
    assert feed(om, event("NEW", "0", execution="NEW", event_ms=1_000)) == [False]
    order = om.get("c-1")
    assert order.status is OrderStatus.FILLED and order.filled_qty == pytest.approx(0.010)
    assert om.stale == 1 and om.open_orders() == []


def test_partial_fills_out_of_order_never_lower_the_filled_quantity():
    om = OrderManager()
    second = event("PARTIALLY_FILLED", "0.006", last="0.002", trade_id=8, event_ms=1_300)
    first = event("PARTIALLY_FILLED", "0.004", last="0.004", trade_id=7, event_ms=1_200)
    feed(om, event("NEW", "0", execution="NEW"))
    assert feed(om, second) == [True, True]
    assert feed(om, first) == [False, True]  # the state is older; its fill is still new
    assert om.get("c-1").filled_qty == pytest.approx(0.006)
    assert om.filled_qty("c-1") == pytest.approx(0.006)  # the two fills, each once


def test_same_trade_id_twice_counts_once():
    om = OrderManager()
    trade = event("PARTIALLY_FILLED", "0.004", last="0.004", trade_id=7)
    assert feed(om, trade) == [True, True]
    assert feed(om, event("PARTIALLY_FILLED", "0.004", last="0.004", trade_id=7)) == [False, False]
    # The same trade from REST (reconciliation) has no client id in the row: found by the exchange order id.
    rest = Fill(exchange=Exchange.BINANCE, market=MarketType.PERPETUAL, exch_ts=0, local_ts=0, symbol=INST.symbol,
                order_id="42", client_order_id=om.client_id_of("42") or "", trade_id="7", side=trade[1].side,
                px=67000.0, qty=0.004, fee=0.01, fee_asset="USDT", is_maker=True)
    assert om.add_fill(rest) is False
    assert om.add_fill(rest.__class__(**{**{f: getattr(rest, f) for f in rest.__struct_fields__},
                                         "client_order_id": ""})) is False  # found by order id alone
    assert [f.trade_id for f in om.fills("c-1")] == ["7"] and om.duplicates == 3
    assert om.filled_qty("c-1") == pytest.approx(0.004)


def test_stale_rest_snapshot_after_a_newer_stream_event_is_ignored():
    om = OrderManager()
    feed(om, event("NEW", "0", execution="NEW", event_ms=1_000))
    feed(om, event("PARTIALLY_FILLED", "0.004", last="0.004", trade_id=7, event_ms=1_500))
    assert om.apply(snapshot("NEW", "0", update_ms=1_000)) is False  # taken before the fill
    assert om.get("c-1").status is OrderStatus.PARTIALLY_FILLED
    feed(om, event("CANCELED", "0.004", execution="CANCELED", event_ms=2_000))
    assert om.apply(snapshot("PARTIALLY_FILLED", "0.004", update_ms=1_500)) is False  # a final state is final
    assert om.get("c-1").status is OrderStatus.CANCELED and om.get("c-1").filled_qty == pytest.approx(0.004)


def test_newer_rest_snapshot_moves_the_order_forward():
    om = OrderManager()
    feed(om, event("NEW", "0", execution="NEW", event_ms=1_000))
    assert om.apply(snapshot("FILLED", "0.010", update_ms=3_000)) is True  # the stream lost the fills
    assert om.get("c-1").status is OrderStatus.FILLED and om.open_orders() == []


def test_amendment_applies_once_and_an_older_price_does_not_come_back():
    om = OrderManager()
    feed(om, event("NEW", "0", execution="NEW", event_ms=1_000))
    assert feed(om, event("NEW", "0", execution="AMENDMENT", px="66900.0", event_ms=1_200)) == [True]
    assert om.apply(snapshot("NEW", "0", update_ms=1_000, px="67000.0")) is False
    assert feed(om, event("NEW", "0", execution="AMENDMENT", px="66900.0", event_ms=1_200)) == [False]
    assert om.get("c-1").px == pytest.approx(66900.0)


def test_a_reused_client_id_never_replaces_a_live_order():
    om = OrderManager()
    feed(om, event("NEW", "0", execution="NEW"))
    other = snapshot("NEW", "0", update_ms=5_000)
    other = other.__class__(**{**{f: getattr(other, f) for f in other.__struct_fields__}, "order_id": "43"})
    assert om.apply(other) is False and om.get("c-1").order_id == "42"
    feed(om, event("CANCELED", "0", execution="CANCELED", event_ms=2_000))
    assert om.apply(other) is True and om.get("c-1").order_id == "43"  # the id is free again


def test_spot_cancel_event_is_keyed_by_the_original_client_id():
    spot = Instrument(market=MarketType.SPOT, symbol="BTC-USDT", native="BTCUSDT", base="BTC", quote="USDT",
                      tick_size="0.01", lot_size="0.00001")
    om = OrderManager()
    report = {"e": "executionReport", "E": 2_000, "s": "BTCUSDT", "S": "BUY", "o": "LIMIT", "f": "GTC",
              "q": "0.01", "p": "60000", "i": 9, "l": "0", "z": "0", "L": "0", "n": "0", "T": 2_000, "t": -1,
              "Z": "0"}
    om.apply(bt.parse_user_event({**report, "c": "mine-1", "C": "", "x": "NEW", "X": "NEW", "E": 1_000},
                                 {"BTCUSDT": spot}.get, 1)[0])
    cancel = bt.parse_user_event({**report, "c": "cancel-req-5", "C": "mine-1", "x": "CANCELED", "X": "CANCELED"},
                                 {"BTCUSDT": spot}.get, 2)[0]
    assert cancel.client_order_id == "mine-1" and om.apply(cancel)
    assert om.get("mine-1").status is OrderStatus.CANCELED and om.get("cancel-req-5") is None
