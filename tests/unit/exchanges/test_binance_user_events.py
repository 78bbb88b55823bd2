# SPDX-License-Identifier: MIT
"""The typed fast lane for futures order events reads exactly what the general parser reads."""

from __future__ import annotations

import json

import pytest

from crossfury.events import MarketType
from crossfury.exchanges.binance import trading as bt
from crossfury.exchanges.spec import Instrument

INST = Instrument(market=MarketType.PERPETUAL, symbol="BTC-USDT-PERP", native="BTCUSDT", base="BTC", quote="USDT",
                  tick_size="0.1", lot_size="0.001")
LOOKUP = {"BTCUSDT": INST}.get
# protocols/binance.md section 9.3, then a NEW without commission fields, then PAPI's (with "fs").
DOC_EVENT = ('{"e":"ORDER_TRADE_UPDATE","E":1717000005000,"T":1717000004998,"o":{"s":"BTCUSDT","c":"cf-0001",'
             '"S":"BUY","o":"LIMIT","f":"GTX","q":"0.010","p":"67000.0","ap":"67000.0","sp":"0","x":"TRADE",'
             '"X":"PARTIALLY_FILLED","i":4033001,"l":"0.004","z":"0.004","L":"67000.0","N":"USDT","n":"0.01072",'
             '"T":1717000004998,"t":220001,"b":"402.0","a":"0","m":true,"R":false,"wt":"CONTRACT_PRICE",'
             '"ot":"LIMIT","ps":"BOTH","cp":false,"rp":"0","pP":false,"si":0,"ss":0,"V":"EXPIRE_MAKER","pm":"NONE",'
             '"gtd":0}}')
NEW_EVENT = ('{"e":"ORDER_TRADE_UPDATE","E":1717000004000,"T":1717000004000,"o":{"s":"BTCUSDT","c":"cf-0002",'
             '"S":"SELL","o":"MARKET","f":"GTC","q":"0.002","p":"0","ap":"0","x":"NEW","X":"NEW","i":4033002,'
             '"l":"0","z":"0","L":"0","T":1717000004000,"t":0,"m":false,"R":true}}')
PAPI_EVENT = DOC_EVENT[:-1] + ',"fs":"UM"}'


@pytest.mark.parametrize("text", [DOC_EVENT, NEW_EVENT, PAPI_EVENT])
def test_fast_lane_equals_the_general_parser(text):
    fast = bt.decode_order_event(text.encode(), LOOKUP, 7)
    assert fast is not None and fast == bt.parse_user_event(json.loads(text), LOOKUP, 7)
    assert len(fast) == (2 if '"x":"TRADE"' in text else 1)


@pytest.mark.parametrize("text", [
    '{"e":"ACCOUNT_UPDATE","E":1,"a":{}}',                               # another event
    '{"e":"ORDER_TRADE_UPDATE","E":1,"o":{"s":"BTCUSDT","i":"not-an-int"}}',  # does not fit the types
    '{"e":"ORDER_TRADE_UPDATE","E":1}',                                  # no order
    '{"e":"ORDER_TRADE_UPDATE","E":1,"o":{',                             # truncated
])
def test_fast_lane_declines_what_it_cannot_read(text):
    assert bt.decode_order_event(text.encode(), LOOKUP, 7) is None


def test_unknown_symbol_gives_no_messages():
    assert bt.decode_order_event(DOC_EVENT.replace("BTCUSDT", "NOPEUSDT").encode(), LOOKUP, 7) == []


def test_an_order_reply_that_does_not_fit_is_a_clear_decode_error():
    from crossfury.core.errors import DecodeError

    with pytest.raises(DecodeError, match="order reply not understood"):
        bt.decode_order_reply(b'{"orderId":"x","clientOrderId":"a","status":"NEW","side":"BUY"}')
    reply = bt.decode_order_reply(b'{"orderId":7,"clientOrderId":"a","status":"NEW","side":"BUY","price":"1.5"}')
    assert bt.parse_order(reply, INST, 1).px == 1.5
