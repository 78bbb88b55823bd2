# SPDX-License-Identifier: MIT
"""Enumerations shared by every stage: exchanges, markets, sides, channels and order states.

All are ``StrEnum`` with lowercase values, so a member equals its value (``Side.BUY == "buy"``), encodes
as that string in JSON and msgpack, and reprs as ``Side.BUY``, which keeps message reprs short and
evaluable.
"""

from __future__ import annotations

from enum import StrEnum


class _Enum(StrEnum):
    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class Exchange(_Enum):
    """A supported exchange."""

    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"
    LBANK = "lbank"
    XT = "xt"
    TAPBIT = "tapbit"
    COINCATCH = "coincatch"
    HBIT = "hbit"
    BATONEX = "batonex"


class MarketType(_Enum):
    """A kind of instrument: spot, perpetual swap or dated future."""

    SPOT = "spot"
    PERPETUAL = "perpetual"
    FUTURES = "futures"


class Side(_Enum):
    """An order or trade side; a book's bids are the BUY side and its asks the SELL side."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """Return +1 for BUY and -1 for SELL, the sign of a position change."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """Return the other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class Channel(_Enum):
    """A subscribable stream: market data channels first, then private account channels."""

    BOOK = "book"
    TRADES = "trades"
    BBO = "bbo"
    KLINE = "kline"
    TICKER = "ticker"
    MARK_PRICE = "mark_price"
    ORDERS = "orders"
    FILLS = "fills"
    BALANCES = "balances"
    POSITIONS = "positions"


class OrderStatus(_Enum):
    """The state of an order; FILLED, CANCELED, REJECTED and EXPIRED are final."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        """Return whether the order can change no more."""
        return self not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class OrderType(_Enum):
    """How an order is priced."""

    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(_Enum):
    """How long an order rests; POST_ONLY is rejected or cancelled rather than take liquidity."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"
