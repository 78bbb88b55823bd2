# SPDX-License-Identifier: MIT
"""Binance market-data message layouts: exchange keys -> normalised fields (protocols/binance.md §3, §4).

The same layouts read raw streams and combined-stream envelopes ({"stream": ..., "data": {...}}).
"""

from crossfury.decode import Field, Layout

ENVELOPE = {"envelope": "data", "stream": "stream"}

#: depthUpdate, spot and futures: {"e":"depthUpdate","E":..,"T":..,"s":"BTCUSDT","U":..,"u":..,"pu":..,"b":[..],"a":[..]}
DEPTH = Layout(
    "binance-depth",
    {"e": Field.EVENT, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "s": Field.SYMBOL, "U": Field.FIRST_ID,
     "u": Field.LAST_ID, "pu": Field.PREV_ID, "b": Field.BIDS, "a": Field.ASKS},
    required=(Field.FIRST_ID, Field.LAST_ID, Field.BIDS, Field.ASKS),
    event="depthUpdate",
    **ENVELOPE,
)

#: REST depth body and spot partial depth: {"lastUpdateId":..,"E":..,"T":..,"bids":[..],"asks":[..]}
SNAPSHOT = Layout(
    "binance-snapshot",
    {"lastUpdateId": Field.LAST_ID, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "bids": Field.BIDS,
     "asks": Field.ASKS},
    required=(Field.LAST_ID, Field.BIDS, Field.ASKS),
    **ENVELOPE,
)

# Trades and aggregate trades differ only in the key of their id ("t" and "a").
TRADE_KEYS = {"e": Field.EVENT, "E": Field.EXCH_TS, "s": Field.SYMBOL, "p": Field.PRICE, "q": Field.QTY,
               "T": Field.TRANSACT_TS, "m": Field.BUYER_MAKER}

#: {"e":"trade","E":..,"s":"BTCUSDT","t":..,"p":"67000.10","q":"0.010","T":..,"m":true,"M":true}
TRADE = Layout("binance-trade", {**TRADE_KEYS, "t": Field.TRADE_ID}, required=(Field.PRICE, Field.QTY),
               event="trade", **ENVELOPE)

#: {"e":"aggTrade","E":..,"s":"BTCUSDT","a":880001,"p":"67000.10","q":"0.030","f":..,"l":..,"T":..,"m":false}
AGG_TRADE = Layout("binance-agg-trade", {**TRADE_KEYS, "a": Field.TRADE_ID}, required=(Field.PRICE, Field.QTY),
                   event="aggTrade", **ENVELOPE)

#: {"u":400900217,"s":"BNBUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"} (futures adds e, E, T)
BOOK_TICKER_KEYS = {"e": Field.EVENT, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "u": Field.LAST_ID,
                    "s": Field.SYMBOL, "b": Field.BID_PX, "B": Field.BID_QTY, "a": Field.ASK_PX, "A": Field.ASK_QTY}
BOOK_TICKER = Layout(
    "binance-book-ticker",
    BOOK_TICKER_KEYS,
    required=(Field.LAST_ID, Field.BID_PX, Field.BID_QTY, Field.ASK_PX, Field.ASK_QTY),
    event="bookTicker",
    **ENVELOPE,
)

#: Either shape: the connector's trades channel is @aggTrade on futures and @trade on spot, and recordings
#: hold futures @trade too. No event check; the id is under "t" or "a" (never both: that is a duplicate).
ANY_TRADE = Layout("binance-any-trade", {**TRADE_KEYS, "t": Field.TRADE_ID, "a": Field.TRADE_ID},
                   required=(Field.PRICE, Field.QTY), **ENVELOPE)
