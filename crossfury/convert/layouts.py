# SPDX-License-Identifier: MIT
"""The message layouts the recording converter reads (Binance market data, protocols/binance.md §3, §4).

Depth and snapshots are the connector's own layouts (crossfury/exchanges/binance/layouts.py); the rest
extend its keys with what hftbacktest's converter reads and a live book does not: a trade's execution type
("X") and the mark price stream.
"""

from crossfury.decode import Field, Layout
from crossfury.exchanges.binance.layouts import BOOK_TICKER_KEYS, DEPTH, ENVELOPE, SNAPSHOT, TRADE_KEYS

__all__ = ["AGG_TRADE", "BOOK_TICKER", "DEPTH", "MARK_PRICE", "SNAPSHOT", "TRADE"]

# A trade's execution type decides whether hftbacktest keeps it (only MARKET trades).
_TRADE_KEYS = {**TRADE_KEYS, "X": Field.TRADE_TYPE}

#: {"e":"trade","E":..,"s":..,"t":..,"p":..,"q":..,"T":..,"m":true,"X":"MARKET"} (older spot: "b", "a" order ids)
TRADE = Layout("convert-trade", {**_TRADE_KEYS, "t": Field.TRADE_ID}, required=(Field.PRICE, Field.QTY),
               event="trade", **ENVELOPE)

#: {"e":"aggTrade","E":..,"s":..,"a":..,"p":..,"q":..,"f":..,"l":..,"T":..,"m":false}
AGG_TRADE = Layout("convert-agg-trade", {**_TRADE_KEYS, "a": Field.TRADE_ID}, required=(Field.PRICE, Field.QTY),
                   event="aggTrade", **ENVELOPE)

#: The connector's book ticker keys, with no update id required (hftbacktest does not read it).
BOOK_TICKER = Layout("convert-book-ticker", BOOK_TICKER_KEYS,
                     required=(Field.BID_PX, Field.BID_QTY, Field.ASK_PX, Field.ASK_QTY), event="bookTicker",
                     **ENVELOPE)

#: {"e":"markPriceUpdate","E":..,"s":..,"p":"11794.15","i":"11784.62","P":"11784.25","r":"0.00038167","T":..}
#: (T is the next funding time)
MARK_PRICE = Layout(
    "convert-mark-price",
    {"e": Field.EVENT, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "s": Field.SYMBOL, "p": Field.PRICE,
     "i": Field.INDEX_PX, "r": Field.FUNDING_RATE},
    required=(Field.PRICE, Field.INDEX_PX, Field.FUNDING_RATE),
    event="markPriceUpdate",
    **ENVELOPE,
)
