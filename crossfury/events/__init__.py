# SPDX-License-Identifier: MIT
"""Normalised message types, their enums, and the numpy dtypes that cross into C and hftbacktest.

Pure Python: importing it loads no compiled crossfury module. The hftbacktest event flags live in
``crossfury.events.hbt``.
"""

from crossfury.events.dtypes import LEVEL_DTYPE
from crossfury.events.enums import Channel, Exchange, MarketType, OrderStatus, OrderType, Side, TimeInForce
from crossfury.events.hbt import EVENT_DTYPE
from crossfury.events.messages import (
    BBO,
    Balance,
    BestBidOffer,
    BookDelta,
    BookSnapshot,
    Fill,
    Kline,
    Levels,
    MarkPrice,
    Message,
    OrderUpdate,
    Position,
    Trade,
)

__all__ = [
    "BBO",
    "EVENT_DTYPE",
    "LEVEL_DTYPE",
    "Balance",
    "BestBidOffer",
    "BookDelta",
    "BookSnapshot",
    "Channel",
    "Exchange",
    "Fill",
    "Kline",
    "Levels",
    "MarkPrice",
    "MarketType",
    "Message",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "Position",
    "Side",
    "TimeInForce",
    "Trade",
]
