# SPDX-License-Identifier: MIT
"""The generic connector: runs any ``ExchangeSpec`` over sharded WebSockets with C books.

Data path per message (all synchronous, inside the socket's read callback): picows frame -> stream name ->
route -> for depth, ``SyncedBook.on_message`` (decode, id check, apply in one C call) -> message to
callbacks and iterators. A depth frame takes that whole path in one native call (``DepthRouter``, from
``crossfury._native.route``); other messages, and depth while a rotation or a raw sink needs the bytes, take
it through Python, ending in the same ``DepthRoute``. Around it, tasks keep things alive: one supervisor per
connection (reconnect with backoff), one snapshot task per book that needs one, and a watchdog (silence,
rotation, rates).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from crossfury._native.route import DepthRoute, DepthRouter
from crossfury.book import SyncedBook, SyncStatus
from crossfury.connectors.base import Callback, ExchangeConnector, MessageStream, OrderBookView
from crossfury.core.errors import ConfigError, CrossfuryError, ExchangeError
from crossfury.core.secrets import Credentials, Secret
from crossfury.events import Balance, BookSnapshot, Channel, Fill, Message, OrderUpdate, Position, Trade
from crossfury.exchanges.spec import ExchangeSpec, Instrument
from crossfury.wire import Backoff, MessageRate, RateLimitError, RestClient, WeightLimiter, WsConnection

log = logging.getLogger(__name__)

#: raw_sink(native_symbol_lower, local_ts, payload): every routed message and REST snapshot body, as received.
RawSink = Callable[[str, int, bytes], None]

_APPLIED, _BUFFERED, _STALE, _GAP, _CROSSED = (SyncStatus.APPLIED, SyncStatus.BUFFERED, SyncStatus.STALE,
                                               SyncStatus.GAP, SyncStatus.CROSSED)


@dataclass
class ConnectorConfig:
    """Tunables of the generic connector; the defaults suit production."""

    silence_timeout_s: float = 30.0       # no message for this long: the connection is replaced
    rotate_after_s: float | None = None   # default: 10 minutes before the exchange's cut-off
    rotation_overlap_s: float = 1.0       # both connections deliver this long before the old one closes
    reconnect_initial_s: float = 0.1
    reconnect_max_s: float = 30.0
    stable_after_s: float = 5.0           # a connection that lived this long resets the backoff
    snapshot_limit: int | None = None     # levels per side in REST snapshots; default from the spec
    max_streams_per_connection: int | None = None
    book_event_levels: int = 5            # levels per side in each BookSnapshot pushed
    trade_ring: int = 1000
    control_timeout_s: float = 10.0
    watchdog_interval_s: float = 0.5
    max_buffered_events: int = 8192
    clock_ns: Callable[[], int] = time.time_ns  # receive timestamps (tests shift it to a simulated midnight)
    # trading (used only with credentials)
    client_order_prefix: str = "cf-"      # client order ids: prefix + session stem + counter
    order_timeout_s: float = 10.0         # a trading request unanswered this long: its outcome is queried
    recv_window_ms: int = 5000
    listen_key_keepalive_s: float = 1800.0  # binance.md 9.1: every 30 minutes
    user_stream: bool = True              # open the user data stream on connect
    # Hold user events that arrive while a signed request awaits its reply for up to this long, so the
    # reply is read first (lower submit-to-ack latency). 0 (default): every event is handled on arrival,
    # so a fill is never delivered late.
    user_event_hold_s: float = 0.0
    rate_limit_orders: bool = True        # spend weight and order counts before sending (False: benchmarks)


class _Book:
    """One symbol's local book and its counters."""

    __slots__ = ("book", "crossed", "gaps", "inst", "invalidations", "local_ts", "malformed", "partial", "route",
                 "snapshot_errors", "snapshots", "task")

    def __init__(self, inst: Instrument, book: SyncedBook, partial: bool):
        self.inst = inst
        self.book = book
        self.partial = partial
        self.task: asyncio.Task | None = None
        self.gaps = self.malformed = self.snapshots = self.crossed = self.snapshot_errors = 0
        self.invalidations = 0
        self.local_ts = 0
        self.route: DepthRoute | None = None  # diff depth only: partial books are snapshots


@dataclass
class _Route:
    stream: str
    channel: Channel
    inst: Instrument
    conn: _Connection
    handler: Callable[[bytes, int], None]
    native_lower: str  # the recorder's file stem


@dataclass
class _Connection:
    id: int
    path: str
    streams: list[str]
    backoff: Backoff
    rate: MessageRate
    ws: WsConnection | None = None
    state: str = "connecting"   # connecting, open, reconnecting, retired
    task: asyncio.Task | None = None
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    reconnects: int = 0
    silent_replacements: int = 0
    rotations: int = 0
    held: list[tuple[bytes, int]] | None = None  # rotation: the new connection holds its messages
    seen: set[int] | None = None                 # rotation: what the old connection delivered meanwhile
    rotating: bool = False
    messages_mark: tuple[int, int] = (0, 0)      # (count, ns) at the previous rate sample
    messages_per_s: float = 0.0
    receive: Callable[[bytes, int], None] | None = None  # set by the connector: routes this connection's messages
    router: DepthRouter | None = None  # set by the connector when the spec has a stream prefix

    def route_natively(self) -> None:
        """Let the native router take depth frames unless a rotation holds or remembers the bytes."""
        if self.router is not None:
            self.router.direct = self.held is None and self.seen is None


class Connector(ExchangeConnector):
    """Run an exchange spec: sharded WebSocket connections, C books synced by REST snapshots, push delivery.

    >>> from crossfury.exchanges.binance.spec import USDM
    >>> async def main():                                              # doctest: +SKIP
    ...     async with Connector(USDM) as c:
    ...         await c.subscribe(["BTC-USDT-PERP"], ["book", "trades"])
    ...         async for msg in c.messages():
    ...             print(msg)
    """

    def __init__(self, spec: ExchangeSpec, config: ConnectorConfig | None = None, *,
                 session: aiohttp.ClientSession | None = None, credentials: Credentials | None = None):
        self.spec = spec
        self.credentials = credentials
        self.trader: Any = None  # a crossfury.connectors.trading.Trader once connected with credentials
        self.name = spec.name
        self.config = config or ConnectorConfig()
        self.limiter = WeightLimiter(spec.weight_limit_per_minute)
        self._rest = RestClient(spec.rest_url, self.limiter, used_weight_header=spec.used_weight_header,
                                session=session, clock_ns=self.config.clock_ns)
        self._instruments: dict[str, Instrument] = {}
        self._by_name: dict[str, Instrument] = {}
        self._routes: dict[bytes, _Route] = {}
        self._depth_routes: dict[bytes, DepthRoute] = {}  # the native router's table: diff depth streams only
        self._books: dict[str, _Book] = {}
        self._trades: dict[str, collections.deque[Trade]] = {}
        self._conns: list[_Connection] = []
        self._callbacks: list[tuple[Callback, frozenset[Channel] | None]] = []
        self._streams: list[MessageStream] = []
        self._targets: dict[Channel, list[Callable[[Message], None]]] = {c: [] for c in Channel}
        self._raw_sinks: list[RawSink] = []
        self._pending: dict[int, tuple[int, asyncio.Future]] = {}  # request id -> (connection id, reply)
        self._ids = itertools.count(1)
        self._conn_ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self._watchdog: asyncio.Task | None = None
        self._closing = False
        self._started = False
        self.unrouted = 0
        self.callback_errors = 0
        self.normalize_errors = 0
        self._rotate_after_s = self.config.rotate_after_s or max(1.0, spec.max_connection_age_s - 600.0)
        self._max_streams = self.config.max_streams_per_connection or spec.max_streams_per_connection
        self._snapshot_limit = self.config.snapshot_limit or spec.snapshot_limit

    # -- lifecycle -------------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Load instruments (REST exchangeInfo) and start the watchdog."""
        if self._started:
            return
        self._closing = False
        await self.exchange_info(refresh=True)
        self._watchdog = asyncio.create_task(self._watch(), name=f"{self.name} watchdog")
        self._started = True
        if self.credentials is not None and self.spec.trading is not None:
            from crossfury.connectors.trading import Trader

            self.trader = Trader(self, self.spec.trading, self.credentials)
            await self.trader.start()

    async def close(self) -> None:
        """Close every connection, cancel every task, release the books."""
        self._closing = True
        if self.trader is not None:
            await self.trader.close()
            self.trader = None
        tasks = list(self._tasks)
        if self._watchdog:
            tasks.append(self._watchdog)
        for conn in self._conns:
            conn.state = "retired"
            if conn.ws:
                conn.ws.close()
            if conn.task:
                tasks.append(conn.task)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        for s in list(self._streams):
            s.close()
        for b in self._books.values():
            b.book.close()
        self._books.clear()
        self._routes.clear()
        self._depth_routes.clear()
        self._conns.clear()
        await self._rest.close()
        self._started = False

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- instruments ----------------------------------------------------------------------------------

    async def exchange_info(self, refresh: bool = False) -> dict[str, Instrument]:
        """Return the instruments by normalised symbol, fetching them on first use or when asked."""
        if refresh or not self._instruments:
            resp = await self._rest.get(self.spec.exchange_info_path, weight=self.spec.exchange_info_weight)
            instruments = self.spec.parse_instruments(resp.json(), self.spec.market)
            self._instruments = {i.symbol: i for i in instruments}
            self._by_name = {}
            for i in instruments:
                for key in (i.symbol, i.native, i.native.upper(), i.native.lower()):
                    self._by_name.setdefault(key, i)
        return dict(self._instruments)

    def instrument(self, symbol: str) -> Instrument:
        """Return the instrument of a normalised or native symbol; ConfigError if the exchange has none."""
        inst = self._by_name.get(symbol) or self._by_name.get(symbol.upper())
        if inst is None:
            sample = ", ".join(sorted(self._instruments)[:5])
            raise ConfigError(f"{self.name} has no symbol {symbol!r} (known: {sample}, ...; "
                              f"{len(self._instruments)} in all)")
        return inst

    # -- subscriptions --------------------------------------------------------------------------------

    def _plan(self, symbols: Iterable[str], channels: Iterable[Channel | str], kline_interval: str,
              book_levels: int | None, trade_kind: str | None) -> list[tuple[str, Channel, Instrument]]:
        if isinstance(symbols, str):
            symbols = [s for s in symbols.split(",") if s]
        chans = [Channel(c) for c in ([channels] if isinstance(channels, str) else channels)]
        if not self._instruments:
            raise ConfigError(f"{self.name}: call connect() (or use 'async with') before subscribing")
        plan = []
        for sym in symbols:
            inst = self.instrument(sym.strip())
            for ch in chans:
                if ch is not Channel.BOOK and ch not in self.spec.normalizers:
                    raise ConfigError(f"{self.name} has no {ch.value!r} channel")
                try:
                    stream = self.spec.stream_name(ch, inst.native, kline_interval=kline_interval,
                                                   book_levels=book_levels, trade_kind=trade_kind)
                except ValueError as exc:
                    raise ConfigError(str(exc)) from None
                plan.append((stream, ch, inst))
        return plan

    async def subscribe(self, symbols, channels, *, kline_interval: str = "1m", book_levels: int | None = None,
                        trade_kind: str | None = None) -> None:
        if book_levels is not None and book_levels not in (5, 10, 20):
            raise ConfigError(f"book_levels must be None (full book), 5, 10 or 20, got {book_levels!r}")
        new = [p for p in self._plan(symbols, channels, kline_interval, book_levels, trade_kind)
               if p[0].encode() not in self._routes]
        by_path: dict[str, list[tuple[str, Channel, Instrument]]] = collections.defaultdict(list)
        for p in new:
            by_path[self.spec.ws_paths.get(p[1], "/stream")].append(p)
        waits = []
        for path, items in by_path.items():
            while items:
                conn = next((c for c in self._conns if c.path == path and not c.rotating and c.state != "retired"
                             and len(c.streams) < self._max_streams), None)
                fresh = conn is None
                if fresh:
                    conn = self._new_connection(path, [])
                room = self._max_streams - len(conn.streams)
                batch, items = items[:room], items[room:]
                for stream, ch, inst in batch:
                    self._add_route(stream, ch, inst, conn)
                names = [b[0] for b in batch]
                conn.streams.extend(names)
                if fresh:
                    self._start(conn)
                    waits.append(self._wait_open(conn))
                elif conn.state == "open":
                    waits.append(self._control(conn, self.spec.subscribe_message, names))
                # else: reconnecting; the streams are in the URL of the next attempt
        await asyncio.gather(*waits)

    async def unsubscribe(self, symbols, channels, *, kline_interval: str = "1m", book_levels: int | None = None,
                          trade_kind: str | None = None) -> None:
        plan = self._plan(symbols, channels, kline_interval, book_levels, trade_kind)
        by_conn: dict[int, tuple[_Connection, list[str]]] = {}
        for stream, _, _ in plan:
            route = self._routes.get(stream.encode())
            if route is not None:
                by_conn.setdefault(route.conn.id, (route.conn, []))[1].append(stream)
        for conn, names in by_conn.values():
            if conn.state == "open" and len(names) < len(conn.streams):
                await self._control(conn, self.spec.unsubscribe_message, names)
            for name in names:
                self._drop_route(name)
                conn.streams.remove(name)
            if not conn.streams:
                self._retire(conn)

    def _add_route(self, stream: str, channel: Channel, inst: Instrument, conn: _Connection) -> None:
        if channel is Channel.BOOK:
            partial = "@depth" in stream and not stream.split("@depth", 1)[1].startswith("@") and \
                stream.split("@depth", 1)[1][:1].isdigit()
            book = SyncedBook("none" if partial else self.spec.sync_rule, inst.tick_size, inst.lot_size,
                              max_buffered_events=self.config.max_buffered_events)
            book.set_layouts(self.spec.depth_layout, self.spec.partial_layout if partial else self.spec.snapshot_layout)
            old = self._books.pop(inst.symbol, None)
            if old is not None:
                self._drop_book(old)
            b = self._books[inst.symbol] = _Book(inst, book, partial)
            if partial:
                handler = lambda p, ts, b=b: self._on_partial(b, p, ts)
            else:
                handler = b.route = self._depth_route(b)
                self._depth_routes[stream.encode()] = b.route
        else:
            if channel is Channel.TRADES:
                self._trades.setdefault(inst.symbol, collections.deque(maxlen=self.config.trade_ring))
            normalize = self.spec.normalizers[channel]
            handler = lambda p, ts, n=normalize, i=inst, c=channel: self._on_data(n, i, c, p, ts)
        self._routes[stream.encode()] = _Route(stream, channel, inst, conn, handler, inst.native.lower())

    def _drop_route(self, stream: str) -> None:
        route = self._routes.pop(stream.encode(), None)
        self._depth_routes.pop(stream.encode(), None)
        if route is None:
            return
        if route.channel is Channel.BOOK:
            b = self._books.pop(route.inst.symbol, None)
            if b is not None:
                self._drop_book(b)
        elif route.channel is Channel.TRADES:
            self._trades.pop(route.inst.symbol, None)

    def _drop_book(self, b: _Book) -> None:
        if b.task:
            b.task.cancel()
        b.book.close()

    # -- connections ----------------------------------------------------------------------------------

    def _new_connection(self, path: str, streams: list[str]) -> _Connection:
        cfg = self.config
        conn = _Connection(next(self._conn_ids), path, streams,
                           Backoff(cfg.reconnect_initial_s, cfg.reconnect_max_s),
                           MessageRate(self.spec.max_control_messages_per_s))
        conn.receive = self._receiver(conn)
        if self.spec.stream_prefix:
            conn.router = DepthRouter(self.spec.stream_prefix, self._depth_routes, self._raw_sinks)
        self._conns.append(conn)
        return conn

    def _start(self, conn: _Connection) -> None:
        conn.task = asyncio.create_task(self._supervise(conn), name=f"{self.name} connection {conn.id}")

    def _url(self, conn: _Connection) -> str:
        return f"{self.spec.ws_url}{conn.path}?streams={'/'.join(conn.streams)}"

    async def _wait_open(self, conn: _Connection) -> None:
        try:
            await asyncio.wait_for(conn.opened.wait(), self.config.control_timeout_s)
        except TimeoutError:
            raise ExchangeError(f"{self.name}: connection {conn.id} to {self.spec.ws_url}{conn.path} did not open "
                                f"within {self.config.control_timeout_s:g} s (still retrying)") from None

    async def _supervise(self, conn: _Connection) -> None:
        """Keep one connection up: open, wait until it drops, back off, reopen with every stream."""
        while not self._closing and conn.state != "retired":
            ws = WsConnection(self._url(conn), conn.receive, clock_ns=self.config.clock_ns, router=conn.router)
            try:
                await ws.open()
            except Exception as exc:  # refused, handshake failed, DNS: all mean "try again later"
                delay = conn.backoff.next_delay()
                log.warning("%s connection %d: cannot open %s (%s); retrying in %.2f s", self.name, conn.id,
                            ws.url.split("?")[0], exc, delay)
                conn.state = "reconnecting"
                await asyncio.sleep(delay)
                continue
            conn.ws = ws
            conn.state = "open"
            conn.opened.set()
            await ws.wait_closed()
            conn.opened.clear()
            if self._closing or conn.state == "retired":
                break
            lived_s = (self.config.clock_ns() - ws.opened_ns) / 1e9
            if lived_s >= self.config.stable_after_s:
                conn.backoff.reset()
            conn.state = "reconnecting"
            conn.reconnects += 1
            self._connection_lost(conn, f"closed after {lived_s:.1f} s (code {ws.close_code})")
            delay = conn.backoff.next_delay()
            log.warning("%s connection %d lost after %.1f s; reconnecting in %.2f s", self.name, conn.id,
                        lived_s, delay)
            await asyncio.sleep(delay)

    def _connection_lost(self, conn: _Connection, reason: str) -> None:
        """Invalidate every book fed by a lost connection: after a reconnect they rebuild from a new snapshot."""
        conn.held = conn.seen = None
        conn.route_natively()
        for route in self._routes.values():
            if route.conn is conn and route.channel is Channel.BOOK:
                b = self._books.get(route.inst.symbol)
                if b is not None:
                    self._invalidate(b, reason)
        for conn_id, fut in self._pending.values():
            if conn_id == conn.id and not fut.done():
                fut.set_exception(ConnectionError(f"connection {conn.id} {reason}"))

    def _retire(self, conn: _Connection) -> None:
        conn.state = "retired"
        if conn.ws:
            conn.ws.close()
        if conn in self._conns:
            self._conns.remove(conn)

    async def _control(self, conn: _Connection, make: Callable[[list[str], int], str], streams: list[str]) -> None:
        """Send a control message and wait for its reply; ExchangeError if refused."""
        await conn.rate.wait()
        request_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (conn.id, fut)
        try:
            conn.ws.send_text(make(streams, request_id))  # type: ignore[union-attr]
            reply = await asyncio.wait_for(fut, self.config.control_timeout_s)
        except TimeoutError:
            raise ExchangeError(f"{self.name}: no reply to request {request_id} within "
                                f"{self.config.control_timeout_s:g} s") from None
        finally:
            self._pending.pop(request_id, None)
        if reply.error is not None:
            raise ExchangeError(f"{self.name} refused {streams}: {reply.error}", code=reply.code)

    # -- the hot path --------------------------------------------------------------------------------
    # A depth frame: picows -> FrameListener -> DepthRouter -> DepthRoute (C feed, BookSnapshot) -> targets,
    # no Python before the user's callback. Everything else: receive() below routes it in Python.

    def _receiver(self, conn: _Connection) -> Callable[[bytes, int], None]:
        """Return the function that routes one connection's messages (also used to flush held ones)."""
        routes = self._routes
        stream_of = self.spec.stream_of
        sinks = self._raw_sinks

        def receive(payload: bytes, local_ts: int) -> None:
            if conn.held is not None:
                conn.held.append((payload, local_ts))
                return
            if conn.seen is not None:
                conn.seen.add(hash(payload))
            route = routes.get(stream_of(payload))  # type: ignore[arg-type]
            if route is None:
                self._unrouted(payload)
                return
            if sinks:
                for sink in sinks:
                    sink(route.native_lower, local_ts, payload)
            route.handler(payload, local_ts)

        return receive

    def _unrouted(self, payload: bytes) -> None:
        reply = self.spec.parse_control(payload)
        if reply is not None:
            pending = self._pending.get(reply.request_id)
            if pending is not None and not pending[1].done():
                pending[1].set_result(reply)
        else:
            self.unrouted += 1

    def _depth_route(self, b: _Book) -> DepthRoute:
        # The depth handler of both paths (native router and Python receive): feed, then deliver a BookSnapshot.
        return DepthRoute(b.book, b, self._targets[Channel.BOOK], self.config.book_event_levels, BookSnapshot,
                          self.spec.exchange, b.inst.market, b.inst.symbol, self.spec.time_scale_ns,
                          lambda status, local_ts: self._depth_status(b, status, local_ts),
                          lambda exc: self._depth_malformed(b, exc), self._callback_failed)

    def _depth_malformed(self, b: _Book, exc: Exception) -> None:
        # The event is lost; if the book was synced the next event shows the gap and it resyncs.
        b.malformed += 1
        if b.malformed <= 3 or b.malformed % 1000 == 0:
            log.warning("%s %s: malformed depth message skipped (%d so far): %s", self.name, b.inst.symbol,
                        b.malformed, exc)

    def _depth_status(self, b: _Book, status: SyncStatus, local_ts: int) -> None:
        if status is _CROSSED:
            b.local_ts = local_ts
            b.crossed += 1
            if self._targets[Channel.BOOK]:
                self._emit_book(b, local_ts)
        elif status is _BUFFERED:
            if b.task is None:
                b.task = self._spawn(self._sync_book(b), f"{self.name} {b.inst.symbol} snapshot")
        elif status is _GAP:
            b.gaps += 1
            log.warning("%s %s: depth gap detected (%d so far); resyncing from a new snapshot", self.name,
                        b.inst.symbol, b.gaps)
            self._emit_invalid(b, local_ts)
            if b.task is None:
                b.task = self._spawn(self._sync_book(b), f"{self.name} {b.inst.symbol} snapshot")

    def _on_partial(self, b: _Book, payload: bytes, local_ts: int) -> None:
        try:
            b.book.on_snapshot(payload)
        except CrossfuryError as exc:
            b.malformed += 1
            if b.malformed <= 3:
                log.warning("%s %s: malformed partial depth skipped: %s", self.name, b.inst.symbol, exc)
            return
        b.local_ts = local_ts
        if self._targets[Channel.BOOK]:
            self._emit_book(b, local_ts)

    def _on_data(self, normalize, inst: Instrument, channel: Channel, payload: bytes, local_ts: int) -> None:
        ring = self._trades.get(inst.symbol) if channel is Channel.TRADES else None
        if ring is None and not self._targets[channel]:
            return
        try:
            msg = normalize(payload, inst, local_ts)
        except CrossfuryError as exc:
            self.normalize_errors += 1
            if self.normalize_errors <= 3 or self.normalize_errors % 1000 == 0:
                log.warning("%s %s %s: malformed message skipped (%d so far): %s", self.name, inst.symbol,
                            channel.value, self.normalize_errors, exc)
            return
        if msg is None:
            return
        if ring is not None:
            ring.append(msg)
        self.publish(channel, msg)

    def _emit_book(self, b: _Book, local_ts: int) -> None:
        book = b.book
        bids, asks = book.top_levels(self.config.book_event_levels)
        self.publish(Channel.BOOK, BookSnapshot(
            exchange=self.spec.exchange, market=b.inst.market, exch_ts=book.last_exch_ts * self.spec.time_scale_ns,
            local_ts=local_ts, symbol=b.inst.symbol, bids=bids, asks=asks, last_id=book.last_id or 0))

    def _emit_invalid(self, b: _Book, local_ts: int) -> None:
        b.invalidations += 1
        if self._targets[Channel.BOOK]:
            self.publish(Channel.BOOK, BookSnapshot(
                exchange=self.spec.exchange, market=b.inst.market, exch_ts=0, local_ts=local_ts,
                symbol=b.inst.symbol, bids=(), asks=(), last_id=0, valid=False))

    # -- shared with the trader (crossfury.connectors.trading): REST budget, instrument names, subscribers --

    @property
    def rest(self) -> RestClient:
        """The REST client; the trader's unsigned requests and its request counts go through it too."""
        return self._rest

    def instrument_lookup(self) -> Callable[[str], Instrument | None]:
        """A function from any name the exchange gives an instrument (symbol, native, its upper or lower
        case) to it, or None: for decoders that look up every message. Valid until exchange_info(refresh=True)."""
        return self._by_name.get

    def wants(self, channel: Channel) -> bool:
        """Whether any callback or message stream takes this channel."""
        return bool(self._targets[channel])

    def publish(self, channel: Channel, msg: Message) -> None:
        """Hand msg to every callback and message stream of its channel (the trader's orders, fills,
        balances and positions come out this way); a failing callback is counted and logged, never raised."""
        for target in self._targets[channel]:
            try:
                target(msg)
            except Exception:
                self._callback_failed(target)

    def _callback_failed(self, target: Callable[[Message], None]) -> None:
        self.callback_errors += 1
        if self.callback_errors <= 3 or self.callback_errors % 10_000 == 0:
            log.exception("%s: callback %r failed (%d so far)", self.name, target, self.callback_errors)

    def _invalidate(self, b: _Book, reason: str) -> None:
        b.book.reset()
        b.local_ts = 0
        if b.task is not None:
            b.task.cancel()
            b.task = None
        log.info("%s %s: book invalid (%s)", self.name, b.inst.symbol, reason)
        self._emit_invalid(b, self.config.clock_ns())

    # -- snapshots ------------------------------------------------------------------------------------

    async def _sync_book(self, b: _Book) -> None:
        """Fetch REST snapshots until one bridges the buffered stream (Binance §5 step 2-4)."""
        backoff = Backoff(0.2, 10.0)
        limit = self._snapshot_limit
        params = {"symbol": b.inst.native, "limit": limit}
        try:
            while not self._closing and self._books.get(b.inst.symbol) is b:
                try:
                    resp = await self._rest.get(self.spec.snapshot_path, params, weight=self.spec.snapshot_weight(limit))
                except RateLimitError:
                    await asyncio.sleep(max(0.05, self.limiter.banned_until - time.monotonic()))
                    continue
                except (TimeoutError, ExchangeError, aiohttp.ClientError, OSError) as exc:
                    b.snapshot_errors += 1
                    delay = backoff.next_delay()
                    log.warning("%s %s: snapshot request failed (%s); retrying in %.2f s", self.name, b.inst.symbol,
                                exc, delay)
                    await asyncio.sleep(delay)
                    continue
                if self._books.get(b.inst.symbol) is not b:
                    return
                for sink in self._raw_sinks:
                    sink(b.inst.native.lower(), resp.local_ts, resp.body)
                try:
                    status = b.book.on_snapshot(resp.body)
                except CrossfuryError as exc:
                    b.snapshot_errors += 1
                    log.warning("%s %s: unusable snapshot (%s); fetching another", self.name, b.inst.symbol, exc)
                    await asyncio.sleep(backoff.next_delay())
                    continue
                if status is _APPLIED or status is _CROSSED or status is _STALE:
                    b.snapshots += 1
                    b.local_ts = resp.local_ts
                    if self._targets[Channel.BOOK] and b.book.synced:
                        self._emit_book(b, resp.local_ts)
                    return
                # SNAPSHOT_OLD (older than the buffered events) or a gap while replaying the buffer.
                await asyncio.sleep(backoff.next_delay())
        finally:
            if b.task is asyncio.current_task():
                b.task = None

    # -- watchdog: silence, rotation, rates ------------------------------------------------------------

    async def _watch(self) -> None:
        cfg = self.config
        while not self._closing:
            await asyncio.sleep(cfg.watchdog_interval_s)
            now = self.config.clock_ns()
            for conn in list(self._conns):
                ws = conn.ws
                if conn.state != "open" or ws is None or not ws.is_open:
                    continue
                count, mark_ns = conn.messages_mark
                if mark_ns and now > mark_ns:
                    conn.messages_per_s = (ws.messages - count) * 1e9 / (now - mark_ns)
                conn.messages_mark = (ws.messages, now)
                if conn.held is not None:
                    continue
                if (now - ws.last_message_ns) / 1e9 > cfg.silence_timeout_s:
                    conn.silent_replacements += 1
                    log.warning("%s connection %d: silent for %.1f s; replacing it", self.name, conn.id,
                                (now - ws.last_message_ns) / 1e9)
                    ws.close(graceful=False)
                elif (now - ws.opened_ns) / 1e9 > self._rotate_after_s and not conn.rotating:
                    conn.rotating = True
                    self._spawn(self._rotate(conn), f"{self.name} rotate {conn.id}")

    async def _rotate(self, old: _Connection) -> None:
        """Replace a connection before the exchange's cut-off without losing a message.

        The new connection opens with the same streams and holds what it receives while the old one keeps
        delivering (remembering what it delivered). After the overlap the old one closes and the held
        messages are delivered, minus those the old connection already delivered (same bytes).
        """
        # Remember what the old connection delivers from before the new one can receive anything.
        old.seen = set()
        old.route_natively()
        new = self._new_connection(old.path, list(old.streams))
        new.held = []
        new.route_natively()
        self._start(new)
        try:
            await self._wait_open(new)
        except ExchangeError:
            log.warning("%s: rotation of connection %d failed to open a new one; keeping it", self.name, old.id)
            self._retire(new)
            old.rotating = False
            old.seen = None
            old.route_natively()
            return
        await asyncio.sleep(self.config.rotation_overlap_s)
        if old.state != "open":  # the old one dropped meanwhile: the new one is simply live
            seen: set[int] = set()
        else:
            seen = old.seen or set()
        old.seen = None
        self._retire(old)
        for route in self._routes.values():
            if route.conn is old:
                route.conn = new
        held, new.held = new.held or [], None
        new.route_natively()  # the loop below delivers the held messages before any new frame can arrive
        new.rotations = old.rotations + 1
        duplicates = 0
        for payload, ts in held:
            if hash(payload) in seen:
                duplicates += 1
                continue
            new.receive(payload, ts)
        log.info("%s: connection %d rotated to %d (%d held messages, %d already delivered)", self.name, old.id,
                 new.id, len(held), duplicates)

    # -- delivery and caches ---------------------------------------------------------------------------

    def _recompute_wants(self) -> None:
        # Lists are updated in place: the hot-path closures hold references to them.
        for c in Channel:
            self._targets[c][:] = [cb for cb, ch in self._callbacks if ch is None or c in ch] + \
                [s.push for s in self._streams if s.channels is None or c in s.channels]

    def add_callback(self, callback: Callback, channels=None) -> None:
        chans = frozenset(Channel(c) for c in channels) if channels is not None else None
        self._callbacks.append((callback, chans))
        self._recompute_wants()

    def remove_callback(self, callback: Callback) -> None:
        self._callbacks = [(cb, ch) for cb, ch in self._callbacks if cb is not callback]
        self._recompute_wants()

    def messages(self, channels=None, *, max_queue: int = 100_000) -> MessageStream:
        stream = MessageStream(channels, max_queue, self._close_stream)
        self._streams.append(stream)
        self._recompute_wants()
        return stream

    def _close_stream(self, stream: MessageStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)
            if stream.dropped:
                log.warning("%s: a message iterator fell behind and lost %d messages", self.name, stream.dropped)
        self._recompute_wants()

    def add_raw_sink(self, sink: RawSink) -> None:
        """Also hand every routed raw message and REST snapshot body to ``sink`` (the recorder)."""
        self._raw_sinks.append(sink)

    def remove_raw_sink(self, sink: RawSink) -> None:
        """Stop handing raw messages to ``sink``."""
        self._raw_sinks[:] = [s for s in self._raw_sinks if s is not sink]  # in place: receivers hold it

    def book(self, symbol: str) -> SyncedBook:
        """Return the live C book of a subscribed symbol (read it; feeding it is the connector's job)."""
        inst = self.instrument(symbol)
        try:
            return self._books[inst.symbol].book
        except KeyError:
            raise ConfigError(f"{self.name}: {inst.symbol} has no book; subscribe to its 'book' channel") from None

    def order_book(self, symbol: str, depth: int = 10) -> OrderBookView:
        inst = self.instrument(symbol)
        b = self._books.get(inst.symbol)
        if b is None:
            raise ConfigError(f"{self.name}: {inst.symbol} has no book; subscribe to its 'book' channel")
        book = b.book
        if depth <= 64:
            bids, asks = book.top_levels(depth)
        else:
            top = book.top(depth)
            bids = tuple(zip(top.bid_px.tolist(), top.bid_qty.tolist()))
            asks = tuple(zip(top.ask_px.tolist(), top.ask_qty.tolist()))
        # A partial-depth book has no sync state of its own: it is valid once a message has filled it.
        valid = book.synced and (not b.partial or b.local_ts > 0)
        return OrderBookView(inst.symbol, bids, asks, valid, book.last_id, b.local_ts,
                             book.last_exch_ts * self.spec.time_scale_ns)

    def recent_trades(self, symbol: str, limit: int = 1000) -> list[Trade]:
        inst = self.instrument(symbol)
        ring = self._trades.get(inst.symbol)
        if ring is None:
            raise ConfigError(f"{self.name}: {inst.symbol} has no trades; subscribe to its 'trades' channel")
        return list(ring)[-limit:] if limit > 0 else []

    # -- trading (delegated to the Trader) ---------------------------------------------------------------

    def _trading(self, what: str):
        if self.trader is None:
            if self.spec.trading is None:
                raise self._no_trading(what)
            raise ConfigError(f"{self.name}: {what} needs API credentials (api_key/api_secret or "
                              f"CROSSFURY_BINANCE_API_KEY/_API_SECRET) and a connect()")
        return self.trader

    async def place_order(self, symbol: str, side: str, qty: float, *, px: float | None = None,
                          order_type: str = "limit", time_in_force: str = "gtc", reduce_only: bool = False,
                          client_order_id: str | None = None) -> OrderUpdate:
        """Place an order; return its state after the exchange's reply (fills may already show)."""
        return await self._trading("place_order").place_order(
            symbol, side, qty, px=px, order_type=order_type, time_in_force=time_in_force, reduce_only=reduce_only,
            client_order_id=client_order_id)

    async def modify_order(self, symbol: str, client_order_id: str, *, px: float | None = None,
                           qty: float | None = None) -> OrderUpdate:
        """Change a resting limit order's price and/or quantity (futures and PAPI; not spot)."""
        return await self._trading("modify_order").modify_order(symbol, client_order_id, px, qty)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Cancel one order by client order id; ExchangeError -2011 if it is unknown or final."""
        return await self._trading("cancel_order").cancel_order(symbol, client_order_id)

    async def cancel_all(self, symbol: str) -> list[OrderUpdate]:
        """Cancel every open order of a symbol; return their final states."""
        return await self._trading("cancel_all").cancel_all(symbol)

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Return the open orders from REST (and bring the order manager up to date)."""
        return await self._trading("open_orders").open_orders(symbol)

    async def query_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Return one order's state from REST."""
        return await self._trading("query_order").query_order(symbol, client_order_id)

    async def balances(self) -> list[Balance]:
        """Return the account's balances from REST."""
        return await self._trading("balances").balances()

    async def positions(self) -> list[Position]:
        """Return the non-zero derivatives positions from REST."""
        return await self._trading("positions").positions()

    async def account(self) -> dict[str, Any]:
        """Return the exchange's account summary as it sends it."""
        return await self._trading("account").account()

    async def reconcile(self) -> None:
        """Bring every tracked order and its fills up to date from REST (done after each stream reconnect)."""
        await self._trading("reconcile").reconcile()

    def order(self, client_order_id: str) -> OrderUpdate | None:
        """Return the latest known state of an order (no network)."""
        return self._trading("order").orders.get(client_order_id)

    def fills(self, client_order_id: str) -> list[Fill]:
        """Return the fills recorded for an order (no network)."""
        return self._trading("fills").orders.fills(client_order_id)

    def health(self) -> dict[str, Any]:
        now = self.config.clock_ns()
        conns = []
        for c in self._conns:
            ws = c.ws
            conns.append({
                "id": c.id, "path": c.path, "state": c.state, "streams": len(c.streams),
                "age_s": round((now - ws.opened_ns) / 1e9, 3) if ws and c.state == "open" else None,
                "last_message_age_s": round((now - ws.last_message_ns) / 1e9, 3) if ws and ws.last_message_ns else None,
                "messages": ws.messages if ws else 0, "messages_per_s": round(c.messages_per_s, 1),
                "reconnects": c.reconnects, "silent_replacements": c.silent_replacements, "rotations": c.rotations,
            })
        books = {}
        for sym, b in self._books.items():
            counters = b.book.counters()
            valid = b.book.synced and (not b.partial or b.local_ts > 0)
            books[sym] = {"state": b.book.state_name if valid or not b.partial else "waiting", "valid": valid, "last_id": b.book.last_id,
                          "applied": counters.get("applied"), "stale": counters.get("stale"), "gaps": b.gaps,
                          "resyncs": counters.get("resyncs"), "snapshots": b.snapshots, "malformed": b.malformed,
                          "crossed": b.crossed, "snapshot_errors": b.snapshot_errors,
                          "native_frames": b.route.frames if b.route is not None else 0}
        return {"exchange": self.name, "running": self._started and not self._closing, "connections": conns,
                "books": books, "rest": {**self.limiter.stats(), "requests": self._rest.requests,
                                         "errors": self._rest.errors},
                "unrouted": self.unrouted, "normalize_errors": self.normalize_errors,
                "callback_errors": self.callback_errors,
                "reconnects": sum(c.reconnects for c in self._conns),
                "gaps": sum(b.gaps for b in self._books.values()),
                "trading": self.trader.health() if self.trader is not None else None}


def create_connector(exchange: str, *, endpoint: str | None = None, ws_endpoint: str | None = None,
                     environment: str | None = None, config: ConnectorConfig | None = None,
                     api_key: str | Secret | None = None, api_secret: str | Secret | None = None,
                     **overrides: Any) -> Connector:
    """Return a connector for a named market (``binance-spot``, ``binance-usdm``, ``binance-coinm``,
    ``binance-papi``).

    ``api_key``/``api_secret`` (else ``CROSSFURY_BINANCE_API_KEY``/``_API_SECRET`` from the environment)
    enable trading and the user data stream; without them the connector does market data only.

    ``environment`` picks one of the exchange's other environments by name ("testnet", "demo");
    ``endpoint`` points it anywhere else (a simulator): REST there and WebSocket at the same host unless
    ``ws_endpoint`` is given. Other keywords set ``ConnectorConfig`` fields.
    """
    from crossfury.exchanges.binance.spec import ENDPOINTS, SPECS

    try:
        spec = SPECS[exchange]
    except KeyError:
        raise ConfigError(f"unknown exchange {exchange!r}; expected one of {', '.join(sorted(SPECS))}") from None
    if environment and environment not in ("mainnet", "production"):
        try:
            rest, ws = ENDPOINTS[(exchange, environment)]
        except KeyError:
            known = sorted(env for name, env in ENDPOINTS if name == exchange)
            raise ConfigError(f"{exchange} has no {environment!r} environment; known: "
                              f"{', '.join(known) or 'none'}") from None
        spec = spec.at(rest, ws_endpoint=ws)
    if endpoint:
        spec = spec.at(endpoint, ws_endpoint=ws_endpoint)
    cfg = dataclasses.replace(config or ConnectorConfig(), **overrides)
    return Connector(spec, cfg, credentials=Credentials.of(api_key, api_secret, exchange=exchange))
