# SPDX-License-Identifier: MIT
"""The one interface every exchange connector offers: lifecycle, subscriptions, push delivery, caches.

Market data arrives pushed, as normalised messages (``crossfury.events``), through callbacks and async
iterators both; the local caches (``order_book``, ``recent_trades``) are read without touching the network.
Trading and user-data methods are declared here so strategies can be written against them; exchanges that
do not trade yet raise ``NotImplementedError`` naming what is missing.
"""

from __future__ import annotations

import abc
import asyncio
import collections
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, NamedTuple

from crossfury.events import Channel, Message, Trade
from crossfury.exchanges.spec import Instrument

#: callback(message): called synchronously, in arrival order, as soon as a message is ready.
Callback = Callable[[Message], None]


class OrderBookView(NamedTuple):
    """A consistent copy of a local book's top: ``(px, qty)`` floats, best first, as of ``last_id``."""

    symbol: str
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    valid: bool  # False while the book waits for (or lost) its snapshot: then both sides are empty
    last_id: int | None
    local_ts: int  # receive time (ns) of the last message applied
    exch_ts: int  # exchange time (ns) of the last message applied, 0 if unknown


class MessageStream:
    """An async iterator over a connector's messages, optionally filtered by channel.

    Messages wait in a bounded queue; when a consumer falls behind by ``max_queue`` messages the oldest is
    dropped and counted in ``dropped`` (and logged by the connector), so a slow consumer never grows memory
    without bound or stalls the feed. ``close()`` (or leaving ``async with``) ends the iteration.
    """

    def __init__(self, channels: Iterable[Channel] | None, max_queue: int, on_close: Callable[[MessageStream], None]):
        self.channels = frozenset(Channel(c) for c in channels) if channels is not None else None
        self._queue: collections.deque[Message] = collections.deque(maxlen=max_queue)
        self._waiter: asyncio.Future[None] | None = None
        self._on_close = on_close
        self._closed = False
        self.dropped = 0

    def push(self, msg: Message) -> None:
        q = self._queue
        if len(q) == q.maxlen:
            self.dropped += 1
        q.append(msg)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def __aiter__(self) -> MessageStream:
        return self

    async def __anext__(self) -> Message:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._queue.popleft()

    def close(self) -> None:
        """Stop receiving; iteration ends once the queued messages are read."""
        if not self._closed:
            self._closed = True
            self._on_close(self)
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)

    async def __aenter__(self) -> MessageStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class ExchangeConnector(abc.ABC):
    """Connect to one exchange market, keep local books and trade rings, and push normalised messages."""

    name: str

    # -- lifecycle -------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def connect(self) -> None:
        """Load the instruments and start the background tasks (connections open on subscribe)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every connection and task; safe to call twice."""

    async def __aenter__(self) -> ExchangeConnector:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- subscriptions and delivery -------------------------------------------------------------------

    @abc.abstractmethod
    async def subscribe(self, symbols: Iterable[str], channels: Iterable[Channel | str], *,
                        kline_interval: str = "1m", book_levels: int | None = None,
                        trade_kind: str | None = None) -> None:
        """Start streams for symbols (normalised ``BTC-USDT-PERP`` or native ``btcusdt``) without reconnecting.

        ``book_levels`` None keeps a full local book from the diff stream and the exchange's sync
        procedure; 5, 10 or 20 follows the exchange's partial-depth stream instead. ``trade_kind``
        ("trade" or "aggregate") picks the trade stream where the exchange has both. Returns once the
        exchange has accepted the subscription.
        """

    @abc.abstractmethod
    async def unsubscribe(self, symbols: Iterable[str], channels: Iterable[Channel | str], *,
                          kline_interval: str = "1m", book_levels: int | None = None,
                          trade_kind: str | None = None) -> None:
        """Stop streams; their books and trade rings are dropped."""

    @abc.abstractmethod
    def add_callback(self, callback: Callback, channels: Iterable[Channel | str] | None = None) -> None:
        """Call ``callback(message)`` for every message (of these channels); it must not block."""

    @abc.abstractmethod
    def remove_callback(self, callback: Callback) -> None:
        """Stop calling ``callback``."""

    @abc.abstractmethod
    def messages(self, channels: Iterable[Channel | str] | None = None, *, max_queue: int = 100_000) -> MessageStream:
        """Return an async iterator of messages (of these channels) from now on."""

    def __aiter__(self) -> AsyncIterator[Message]:
        return self.messages()

    # -- local caches (no network) ------------------------------------------------------------------

    @abc.abstractmethod
    def order_book(self, symbol: str, depth: int = 10) -> OrderBookView:
        """Return the top ``depth`` levels of the local book and whether it is currently valid."""

    @abc.abstractmethod
    def recent_trades(self, symbol: str, limit: int = 1000) -> list[Trade]:
        """Return up to ``limit`` most recent trades, oldest first."""

    @abc.abstractmethod
    async def exchange_info(self, refresh: bool = False) -> dict[str, Instrument]:
        """Return the instruments by normalised symbol (tick and lot sizes scale the C books)."""

    @abc.abstractmethod
    def health(self) -> dict[str, Any]:
        """Return connection states, message ages and rates, reconnects, gaps and resyncs per book."""

    # -- trading and user data (built per exchange in the trading issue) -------------------------------

    def _no_trading(self, what: str) -> NotImplementedError:
        return NotImplementedError(f"{self.name}: {what} is not available yet; this connector does market data")

    async def place_order(self, symbol: str, side: str, qty: float, *, px: float | None = None,
                          order_type: str = "limit", time_in_force: str = "gtc", reduce_only: bool = False,
                          client_order_id: str | None = None) -> Any:
        """Place an order; returns its first OrderUpdate."""
        raise self._no_trading("place_order")

    async def modify_order(self, symbol: str, client_order_id: str, *, px: float | None = None,
                           qty: float | None = None) -> Any:
        """Change an open order's price or quantity where the market supports it."""
        raise self._no_trading("modify_order")

    async def cancel_order(self, symbol: str, client_order_id: str) -> Any:
        """Cancel one order."""
        raise self._no_trading("cancel_order")

    async def cancel_all(self, symbol: str) -> Any:
        """Cancel every open order of a symbol."""
        raise self._no_trading("cancel_all")

    async def open_orders(self, symbol: str | None = None) -> Any:
        """Return the open orders."""
        raise self._no_trading("open_orders")

    async def balances(self) -> Any:
        """Return the account's balances."""
        raise self._no_trading("balances")

    async def positions(self) -> Any:
        """Return the open derivatives positions."""
        raise self._no_trading("positions")

    async def account(self) -> Any:
        """Return the account summary."""
        raise self._no_trading("account")
