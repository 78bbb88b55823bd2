# SPDX-License-Identifier: MIT
"""Normalised messages: what every connector emits and every consumer receives.

Symbols have one form across crossfury, upper case, joined by ``-``:

- spot: ``BASE-QUOTE`` (``BTC-USDT``)
- perpetual swap: ``BASE-QUOTE-PERP`` (``BTC-USDT-PERP``)
- dated future: ``BASE-QUOTE-YYMMDD``, the expiry date in UTC (``BTC-USDT-250627``)

Timestamps are int nanoseconds since the epoch: ``exch_ts`` is the exchange's event time and
``local_ts`` our receive time. Prices (``px``) and quantities (``qty``) are floats; book sides are
tuples of ``(px, qty)`` pairs, best level first. A message is immutable, hashable, compares by value,
and encodes to JSON or msgpack with a ``"type"`` tag naming its class, so ``msgspec.json.decode(data,
type=Message)`` reads any of them back. Construction does not check types: decoders build messages
from values they have already checked.
"""

# Representation measured with benchmarks/bench_messages.py (CPython 3.11.7, msgspec 0.22.0, one run;
# ns per operation on a nine-field Trade, loop overhead subtracted):
#                                      keyword construct   positional construct   attribute read
#   msgspec.Struct frozen gc=False                  63.1                   41.1              1.8
#   msgspec.Struct frozen gc=True                   72.6                   51.6              1.7
#   typing.NamedTuple                              457.8                  224.3              9.3
#   dataclass(frozen=True, slots=True)            1094.0                  837.6              1.7
#   __slots__ class, frozen by __setattr__         988.7                  739.1              1.7
#   crossfury.events.Trade (chosen, kw_only)        63.4                      -              1.7
# A frozen msgspec Struct is 5x to 20x cheaper to build than the others and among the cheapest to read. gc=False
# is safe because a message holds only enums, str, int, float, bool, None and tuples of floats, so it is
# never part of a reference cycle. Keyword-only construction keeps call sites readable; msgspec applies
# kw_only to the fields of the class that sets it, so every class sets it.

from __future__ import annotations

import msgspec

from crossfury.events.enums import Exchange, MarketType, OrderStatus, OrderType, Side, TimeInForce

#: One side of a book: ``(px, qty)`` pairs, best first.
Levels = tuple[tuple[float, float], ...]


class _Message(msgspec.Struct, frozen=True, gc=False, kw_only=True, tag=True):
    exchange: Exchange
    market: MarketType
    exch_ts: int
    local_ts: int


class _SymbolMessage(_Message, kw_only=True):
    symbol: str


class BookSnapshot(_SymbolMessage, kw_only=True):
    """A full book (or its top levels) as of update id ``last_id``."""

    bids: Levels
    asks: Levels
    last_id: int
    valid: bool = True  # False: the local book lost sync (a gap) and is empty until the next snapshot


class BookDelta(_SymbolMessage, kw_only=True):
    """Changed book levels; a zero ``qty`` removes the level.

    ``first_id`` and ``last_id`` bound the update ids the delta covers and ``prev_id`` is the
    ``last_id`` of the delta before it, each None where the exchange does not send it.
    """

    bids: Levels
    asks: Levels
    first_id: int | None = None
    last_id: int | None = None
    prev_id: int | None = None


class Trade(_SymbolMessage, kw_only=True):
    """A public trade; ``side`` is the taker's side."""

    px: float
    qty: float
    side: Side
    trade_id: str


class BestBidOffer(_SymbolMessage, kw_only=True):
    """The best bid and ask, with the book update id where the exchange sends one."""

    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float
    last_id: int | None = None


BBO = BestBidOffer


class Kline(_SymbolMessage, kw_only=True):
    """A candle over ``[open_ts, close_ts)``; ``closed`` is False while it is still forming."""

    interval: str
    open_ts: int
    close_ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool


class MarkPrice(_SymbolMessage, kw_only=True):
    """A derivatives mark price, with the index price and the funding rate of the current interval."""

    mark_px: float
    index_px: float | None = None
    funding_rate: float | None = None
    next_funding_ts: int | None = None


class OrderUpdate(_SymbolMessage, kw_only=True):
    """The state of one of our orders; ``px`` is 0.0 for market orders and ``avg_px`` until a fill."""

    client_order_id: str
    order_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    px: float
    qty: float
    filled_qty: float
    avg_px: float
    status: OrderStatus
    reduce_only: bool = False


class Fill(_SymbolMessage, kw_only=True):
    """One execution of one of our orders; a negative ``fee`` is a rebate."""

    order_id: str
    client_order_id: str
    trade_id: str
    side: Side
    px: float
    qty: float
    fee: float
    fee_asset: str
    is_maker: bool


class Balance(_Message, kw_only=True):
    """An asset balance of the ``market`` account."""

    asset: str
    free: float
    locked: float


class Position(_SymbolMessage, kw_only=True):
    """A derivatives position; ``qty`` is positive when long and negative when short."""

    qty: float
    entry_px: float
    unrealized_pnl: float
    mark_px: float | None = None


#: Any normalised message; pass as ``type=`` to ``msgspec.json.decode`` or ``msgspec.msgpack.decode``.
Message = (BookSnapshot | BookDelta | Trade | BestBidOffer | Kline | MarkPrice | OrderUpdate | Fill | Balance
           | Position)
