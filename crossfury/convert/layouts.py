# SPDX-License-Identifier: MIT
"""The message layouts the recording converter reads (Binance market data, protocols/binance.md §3, §4).

They extend the connector's layouts (crossfury/exchanges/binance/layouts.py) with what hftbacktest's
converter reads and a live book does not: a trade's execution type ("X") and the mark price stream.
"""

from crossfury.decode import Field, Layout

_ENVELOPE = {"envelope": "data", "stream": "stream"}

#: {"e":"depthUpdate","E":..,"T":..,"s":"BTCUSDT","U":..,"u":..,"pu":..,"b":[["px","qty"],..],"a":[..]}
DEPTH = Layout(
    "convert-depth",
    {"e": Field.EVENT, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "s": Field.SYMBOL, "U": Field.FIRST_ID,
     "u": Field.LAST_ID, "pu": Field.PREV_ID, "b": Field.BIDS, "a": Field.ASKS},
    required=(Field.FIRST_ID, Field.LAST_ID, Field.BIDS, Field.ASKS),
    event="depthUpdate",
    **_ENVELOPE,
)

#: REST depth body: {"lastUpdateId":..,"E":..,"T":..,"bids":[..],"asks":[..]} (spot has no E, T)
SNAPSHOT = Layout(
    "convert-snapshot",
    {"lastUpdateId": Field.LAST_ID, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "bids": Field.BIDS,
     "asks": Field.ASKS},
    required=(Field.LAST_ID, Field.BIDS, Field.ASKS),
    **_ENVELOPE,
)

_TRADE_KEYS = {"e": Field.EVENT, "E": Field.EXCH_TS, "s": Field.SYMBOL, "p": Field.PRICE, "q": Field.QTY,
               "T": Field.TRANSACT_TS, "m": Field.BUYER_MAKER, "X": Field.TRADE_TYPE}

#: {"e":"trade","E":..,"s":..,"t":..,"p":..,"q":..,"T":..,"m":true,"X":"MARKET"} (older spot: "b", "a" order ids)
TRADE = Layout("convert-trade", {**_TRADE_KEYS, "t": Field.TRADE_ID}, required=(Field.PRICE, Field.QTY),
               event="trade", **_ENVELOPE)

#: {"e":"aggTrade","E":..,"s":..,"a":..,"p":..,"q":..,"f":..,"l":..,"T":..,"m":false}
AGG_TRADE = Layout("convert-agg-trade", {**_TRADE_KEYS, "a": Field.TRADE_ID}, required=(Field.PRICE, Field.QTY),
                   event="aggTrade", **_ENVELOPE)

#: {"e":"bookTicker","u":..,"s":..,"b":"25.35","B":"31.21","a":"25.36","A":"40.66","T":..,"E":..} (spot: no e, E, T)
BOOK_TICKER = Layout(
    "convert-book-ticker",
    {"e": Field.EVENT, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "u": Field.LAST_ID, "s": Field.SYMBOL,
     "b": Field.BID_PX, "B": Field.BID_QTY, "a": Field.ASK_PX, "A": Field.ASK_QTY},
    required=(Field.BID_PX, Field.BID_QTY, Field.ASK_PX, Field.ASK_QTY),
    event="bookTicker",
    **_ENVELOPE,
)

#: {"e":"markPriceUpdate","E":..,"s":..,"p":"11794.15","i":"11784.62","P":"11784.25","r":"0.00038167","T":..}
#: (T is the next funding time)
MARK_PRICE = Layout(
    "convert-mark-price",
    {"e": Field.EVENT, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "s": Field.SYMBOL, "p": Field.PRICE,
     "i": Field.INDEX_PX, "r": Field.FUNDING_RATE},
    required=(Field.PRICE, Field.INDEX_PX, Field.FUNDING_RATE),
    event="markPriceUpdate",
    **_ENVELOPE,
)
