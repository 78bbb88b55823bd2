# SPDX-License-Identifier: MIT
"""The trading half of a connector: signed REST, limits, the user data stream and reconciliation.

``Trader`` runs one ``TradingSpec`` for a ``Connector``: it signs requests (protocols/binance.md section 6)
with a server-time offset, spends request weight and order counts before sending (both corrected by the
exchange's headers), keeps a listenKey alive (or subscribes over the spot WS API), turns user events into
OrderUpdate / Fill / Balance / Position messages through the order manager, and reconciles with REST open
orders and recent trades after every (re)connect so no fill is missed or counted twice. A request whose
outcome is unknown (timeout, 5xx) is resolved by querying the order, never by sending it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp

from crossfury.connectors.orders import OrderManager
from crossfury.core.errors import ConfigError, DecodeError, ExchangeError
from crossfury.core.secrets import Credentials
from crossfury.decode import parse_json
from crossfury.events import Channel, Fill, OrderType, OrderUpdate, Side, TimeInForce
from crossfury.exchanges.binance import trading as bt
from crossfury.exchanges.binance.signing import RequestSigner, encode_params, ws_api_payload
from crossfury.wire import Backoff, RateLimitError, WeightLimiter, WsConnection
from crossfury.wire.order_channel import OrderChannel

if TYPE_CHECKING:
    from crossfury.connectors.connector import Connector

log = logging.getLogger(__name__)

# The usual spellings of the order arguments, looked up without building enums each call.
_ORDER_TYPES = {t.value: t for t in OrderType}
_TIFS = {t.value: t for t in TimeInForce}
_SIDES = {t.value: t for t in Side}
_ACCOUNT_EVENTS = (b'{"e":"ACCOUNT_UPDATE"', b'{"e":"outboundAccountPosition"')
_UNKNOWN_OUTCOME = (408, 500, 502, 503, 504)  # section 7: 5xx (and futures 408) leave the order status unknown
_ORDER_NOT_FOUND = (-2013, -2011)


@functools.lru_cache(maxsize=4096)  # a strategy sends the same few sizes and nearby prices again and again
def _decimal_text(value: float, step: str) -> str:
    """Return ``value`` rounded to the grid of ``step`` as plain decimal text."""
    q = Decimal(step).normalize()
    d = (Decimal(repr(value)) / q).to_integral_value() * q
    return format(d.quantize(q) if q.as_tuple().exponent < 0 else d, "f")


class Trader:
    """Trade one market for a connector (see the module docstring)."""

    def __init__(self, connector: Connector, spec: bt.TradingSpec, credentials: Credentials):
        cfg = connector.config
        self.conn = connector
        self.spec = spec
        self.credentials = credentials
        self.signer = RequestSigner(credentials.api_secret)  # HMAC or Ed25519; a bad key fails here
        self.base_url = (spec.rest_url or connector.spec.rest_url).rstrip("/")
        self.http = OrderChannel(self.base_url)
        self._key_header = f"X-MBX-APIKEY: {credentials.api_key.reveal()}\r\n"
        self.ws_base = (spec.ws_url or connector.spec.ws_url).rstrip("/")
        self.orders = OrderManager()
        self.time_offset_ms = 0
        self.limit_requests = cfg.rate_limit_orders
        self.order_limiters = {unit: (WeightLimiter(limit, window_s), f"x-mbx-order-count-{unit.lower()}")
                               for unit, window_s, limit in spec.order_limits}
        self._ids = itertools.count(1)
        self._id_stem = format(time.time_ns() // 1_000_000 % 36**7, "x")
        self._ws: WsConnection | None = None
        self._listen_key: str | None = None
        self._task: asyncio.Task | None = None
        self._keepalive: asyncio.Task | None = None
        self._subscribed = asyncio.Event()
        self._closing = False
        self._restart = asyncio.Event()
        self.stream_connects = 0
        self.reconciliations = 0
        self.recovered_fills = 0
        self.unknown_outcomes = 0
        self.bad_events = 0  # user events that could not be read (logged, then skipped)
        self._ws_req = itertools.count(1)
        self._awaiting_replies = 0  # signed requests sent and not yet answered
        self._held_events: list[tuple[bytes, int]] = []
        self._release_timer: asyncio.TimerHandle | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Measure the server-time offset and, if configured, open the user stream (returns once live)."""
        await self.sync_time()
        if self.conn.config.user_stream:
            self._task = asyncio.create_task(self._run_stream(), name=f"{self.conn.name} user stream")
            await asyncio.wait_for(self._subscribed.wait(), self.conn.config.control_timeout_s)

    async def close(self) -> None:
        """Stop the user stream and keepalive; delete the listenKey."""
        self._closing = True
        for t in (self._task, self._keepalive):
            if t is not None:
                t.cancel()
        await asyncio.gather(*(t for t in (self._task, self._keepalive) if t), return_exceptions=True)
        if self._ws is not None:
            self._ws.close()
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        self._release_events()  # events held for a reply still pending: delivered, not lost
        if self._listen_key and self.spec.listen_key_path:
            try:
                await self._keyed("DELETE", self.spec.listen_key_path)
            except (TimeoutError, ExchangeError, aiohttp.ClientError, OSError):
                pass
        await self.http.close()

    async def sync_time(self) -> None:
        """Set ``time_offset_ms`` = server time - local time, from the market's time endpoint."""
        t0 = time.time_ns()
        resp = await self.conn.rest.get(self.spec.time_path)
        t1 = time.time_ns()
        server_ms = int(resp.json()["serverTime"])
        self.time_offset_ms = server_ms - (t0 + t1) // 2_000_000

    # -- signed REST ----------------------------------------------------------------------------------

    async def _send(self, method: str, path: str, query: str, weight: int, order: bool,
                    timeout_s: float | None, decode: Callable[[bytes], Any] = parse_json) -> Any:
        if self.limit_requests:
            if weight:
                await self.conn.limiter.acquire(weight)
            if order:
                for limiter, _ in self.order_limiters.values():
                    await limiter.acquire(1)
        self.conn.rest.requests += 1
        self._awaiting_replies += 1
        try:
            resp = await self.http.request(method, f"{path}?{query}" if query else path, self._key_header,
                                           timeout_s or self.conn.config.order_timeout_s)
        finally:
            self._awaiting_replies -= 1
            if not self._awaiting_replies and self._held_events:
                # Runs once this task yields: the caller has its reply before the held events cost anything.
                asyncio.get_running_loop().call_soon(self._release_events)
        used = resp.header("x-mbx-used-weight-1m")
        if used and used.isdigit():
            self.conn.limiter.observe_used(int(used))
        if order and self.limit_requests:  # order limiters that nothing consults need no correcting
            for limiter, header in self.order_limiters.values():
                count = resp.header(header)
                if count and count.isdigit():
                    limiter.observe_used(int(count))
        body = resp.body
        if resp.status < 300:
            return decode(body) if body else None
        self.conn.rest.errors += 1
        code, msg = None, body[:200].decode("utf-8", "replace")
        obj = None
        with contextlib.suppress(DecodeError):  # an HTML error page: keep its text
            obj = parse_json(body)
        if isinstance(obj, dict):
            code, msg = obj.get("code"), str(obj.get("msg", msg))
        retry = float(resp.header("retry-after") or 1)
        if resp.status == 418:
            self.conn.limiter.ban(retry)
            raise RateLimitError(f"{method} {path}: HTTP 418, exchange code {code}: {msg}", code=code,
                                 http_status=418)
        if resp.status == 429:
            self.conn.limiter.pause(retry)
            raise RateLimitError(f"{method} {path}: HTTP 429, exchange code {code}: {msg}", code=code,
                                 http_status=429)
        raise ExchangeError(f"{method} {path}: HTTP {resp.status}, exchange code {code}: {msg}", code=code,
                            http_status=resp.status)

    async def signed(self, method: str, path: str, params: dict[str, Any] | None = None, *, weight: int = 1,
                     order: bool = False, timeout_s: float | None = None,
                     decode: Callable[[bytes], Any] = parse_json) -> Any:
        """Send a signed request (TRADE / USER_DATA); a -1021 clock error resyncs the time and retries once.

        ``decode`` reads a successful reply's body (order replies: ``bt.decode_order_reply``).
        """
        # The params are encoded once; recvWindow and a fresh timestamp follow them on each attempt.
        head = f"{encode_params(params)}&" if params else ""
        for attempt in (0, 1):
            query = self.signer.signed_query(f"{head}recvWindow={self.conn.config.recv_window_ms}"
                                             f"&timestamp={time.time_ns() // 1_000_000 + self.time_offset_ms}")
            try:
                return await self._send(method, path, query, weight, order, timeout_s, decode)
            except ExchangeError as exc:
                if exc.code == -1021 and attempt == 0:  # rejected, so nothing was placed: safe to resend
                    log.warning("%s: clock outside recvWindow (%s); resyncing server time", self.conn.name, exc)
                    await self.sync_time()
                    continue
                raise
        raise AssertionError("unreachable")

    async def _keyed(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self._send(method, path, encode_params(params or {}), 1, False, None)

    # -- orders ---------------------------------------------------------------------------------------

    def new_client_order_id(self) -> str:
        """Return a fresh client order id: the configured prefix, a per-session stem and a counter."""
        cid = f"{self.conn.config.client_order_prefix}{self._id_stem}-{next(self._ids)}"
        if len(cid) > self.spec.max_client_id:
            raise ConfigError(f"client order id {cid!r} is longer than {self.spec.max_client_id} characters")
        return cid

    def _accept(self, update: OrderUpdate) -> OrderUpdate:
        if self.orders.apply(update):
            self.conn.publish(Channel.ORDERS, update)
        return self.orders.get(update.client_order_id) or update

    async def place_order(self, symbol: str, side: str, qty: float, *, px: float | None, order_type: str,
                          time_in_force: str, reduce_only: bool, client_order_id: str | None) -> OrderUpdate:
        inst = self.conn.instrument(symbol)
        try:
            otype, tif, s = _ORDER_TYPES[order_type], _TIFS[time_in_force], _SIDES[side]
        except KeyError:  # another spelling ("BUY", "Limit"): the enums say what is valid
            otype, tif, s = OrderType(order_type.lower()), TimeInForce(time_in_force.lower()), Side(side.lower())
        if otype is OrderType.LIMIT and px is None:
            raise ConfigError(f"{self.conn.name}: a limit order needs px")
        if reduce_only and self.spec.api == "spot":
            raise ConfigError(f"{self.conn.name}: spot has no reduce-only orders")
        cid = client_order_id or self.new_client_order_id()
        params = bt.order_params(self.spec, inst, s, _decimal_text(qty, inst.lot_size),
                                 _decimal_text(px, inst.tick_size) if px is not None else None, otype, tif,
                                 reduce_only, cid)
        try:
            obj = await self.signed("POST", self.spec.order_path, params, weight=1, order=True,
                                    decode=bt.decode_order_reply)
        except (TimeoutError, OSError) as exc:  # no reply: the order may or may not exist
            return await self._resolve_unknown(inst, cid, exc)
        except ExchangeError as exc:
            if exc.http_status in _UNKNOWN_OUTCOME:
                return await self._resolve_unknown(inst, cid, exc)
            raise
        return self._accept(bt.parse_order(obj, inst, self.conn.config.clock_ns()))

    async def _resolve_unknown(self, inst, cid: str, exc: BaseException) -> OrderUpdate:
        # Section 7: the outcome is unknown; ask for the order by its client id instead of resending it.
        self.unknown_outcomes += 1
        log.warning("%s: order %s outcome unknown (%s); querying it", self.conn.name, cid, type(exc).__name__)
        for attempt in range(5):
            try:
                return await self.query_order(inst.symbol, cid)
            except ExchangeError as err:
                if err.code not in _ORDER_NOT_FOUND:
                    raise
            await asyncio.sleep(0.2 * (attempt + 1))
        raise ExchangeError(f"{self.conn.name}: order {cid} outcome unknown after {type(exc).__name__} and the "
                            f"exchange has no such order; it was not resent", code="unknown")

    async def query_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Fetch one order's state from REST (and apply it)."""
        inst = self.conn.instrument(symbol)
        obj = await self.signed("GET", self.spec.order_path,
                                {"symbol": inst.native, "origClientOrderId": client_order_id}, weight=4,
                                decode=bt.decode_order_reply)
        return self._accept(bt.parse_order(obj, inst, self.conn.config.clock_ns()))

    async def modify_order(self, symbol: str, client_order_id: str, px: float | None, qty: float | None) -> OrderUpdate:
        if not self.spec.can_modify:
            raise ConfigError(f"{self.conn.name}: this market cannot modify orders; cancel and place a new one")
        inst = self.conn.instrument(symbol)
        cur = self.orders.get(client_order_id) or await self.query_order(symbol, client_order_id)
        params = {"symbol": inst.native, "origClientOrderId": client_order_id, "side": cur.side.value.upper(),
                  "quantity": _decimal_text(qty if qty is not None else cur.qty, inst.lot_size),
                  "price": _decimal_text(px if px is not None else cur.px, inst.tick_size)}
        obj = await self.signed("PUT", self.spec.order_path, params, weight=1, order=True,
                                decode=bt.decode_order_reply)
        return self._accept(bt.parse_order(obj, inst, self.conn.config.clock_ns()))

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        inst = self.conn.instrument(symbol)
        obj = await self.signed("DELETE", self.spec.order_path,
                                {"symbol": inst.native, "origClientOrderId": client_order_id}, weight=1,
                                decode=bt.decode_order_reply)
        return self._accept(bt.parse_order(obj, inst, self.conn.config.clock_ns()))

    async def cancel_all(self, symbol: str) -> list[OrderUpdate]:
        inst = self.conn.instrument(symbol)
        before = await self.open_orders(symbol)
        if not before:
            return []
        await self.signed("DELETE", self.spec.cancel_all_path, {"symbol": inst.native}, weight=1)
        out = []
        for o in before:  # the futures reply is only {"code":200,...}: read each order's final state
            out.append(await self.query_order(symbol, o.client_order_id))
        return out

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        params = {"symbol": self.conn.instrument(symbol).native} if symbol else {}
        rows = await self.signed("GET", self.spec.open_orders_path, params, weight=1 if symbol else 40)
        out = []
        now = self.conn.config.clock_ns()
        for row in rows:
            inst = self.conn.instrument_lookup()(row["symbol"])
            if inst is not None:
                out.append(self._accept(bt.parse_order(row, inst, now)))
        return out

    async def balances(self) -> list:
        path = self.spec.balance_path or self.spec.account_path
        obj = await self.signed("GET", path, weight=20 if self.spec.api in ("spot", "papi") else 5)
        return bt.parse_balances(self.spec, obj, self.conn.spec.market, self.conn.config.clock_ns())

    async def positions(self) -> list:
        if not self.spec.positions_path:
            raise ConfigError(f"{self.conn.name}: spot has no positions")
        rows = await self.signed("GET", self.spec.positions_path, weight=5)
        return bt.parse_positions(rows, self.conn.instrument_lookup(), self.conn.config.clock_ns())

    async def account(self) -> dict[str, Any]:
        return await self.signed("GET", self.spec.account_path, weight=20 if self.spec.api != "usdm" else 5)

    async def trades(self, symbol: str, limit: int = 100) -> list[Fill]:
        """Return the account's recent trades of a symbol as fills (REST)."""
        inst = self.conn.instrument(symbol)
        rows = await self.signed("GET", self.spec.trades_path, {"symbol": inst.native, "limit": limit}, weight=5)
        now = self.conn.config.clock_ns()
        return [bt.parse_fill(r, inst, self.orders.client_id_of(str(r["orderId"])) or "", now) for r in rows]

    # -- user stream ----------------------------------------------------------------------------------

    async def _new_listen_key(self) -> str:
        obj = await self._keyed("POST", self.spec.listen_key_path)  # type: ignore[arg-type]
        return obj["listenKey"]

    async def _run_stream(self) -> None:
        backoff = Backoff(self.conn.config.reconnect_initial_s, self.conn.config.reconnect_max_s)
        first = True
        while not self._closing:
            self._restart.clear()
            try:
                await self._open_stream()
                self.stream_connects += 1
                if not first:
                    await self.reconcile()
                first = False
                self._subscribed.set()
                backoff.reset()
                closed = asyncio.ensure_future(self._ws.wait_closed())  # type: ignore[union-attr]
                restart = asyncio.ensure_future(self._restart.wait())
                await asyncio.wait({closed, restart}, return_when=asyncio.FIRST_COMPLETED)
                closed.cancel()
                restart.cancel()
                if self._ws is not None:
                    self._ws.close()
                if not self._closing:
                    log.info("%s: user stream down; reconnecting and reconciling", self.conn.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 -- a failed connect or key request: retry with backoff, never give up
                delay = backoff.next_delay()
                log.warning("%s: user stream failed (%s); retrying in %.2f s", self.conn.name, exc, delay)
                await asyncio.sleep(delay)

    async def _open_stream(self) -> None:
        if self.spec.listen_key_path:
            self._listen_key = await self._new_listen_key()
            url = self.ws_base + self.spec.user_ws_path.format(key=self._listen_key)
            ws = WsConnection(url, self._on_message, clock_ns=self.conn.config.clock_ns)
            await ws.open()
            self._ws = ws
            if self._keepalive is None or self._keepalive.done():
                self._keepalive = asyncio.create_task(self._keep_alive(), name=f"{self.conn.name} listenKey")
            return
        # Spot (section 9.2): subscribe over the WS API with a signature, no login needed.
        self._ws_reply = asyncio.get_running_loop().create_future()
        ws = WsConnection(self.ws_base + self.spec.user_ws_path, self._on_message, clock_ns=self.conn.config.clock_ns)
        await ws.open()
        self._ws = ws
        params = {"apiKey": self.credentials.api_key.reveal(),
                  "timestamp": time.time_ns() // 1_000_000 + self.time_offset_ms}
        params["signature"] = self.signer.sign(ws_api_payload(params))
        ws.send_text(json.dumps({"id": f"sub{next(self._ws_req)}", "method": "userDataStream.subscribe.signature",
                                 "params": params}))
        reply = await asyncio.wait_for(self._ws_reply, self.conn.config.control_timeout_s)
        if reply.get("status") != 200:
            err = reply.get("error", {})
            raise ExchangeError(f"{self.conn.name}: userDataStream.subscribe.signature refused: "
                                f"{err.get('code')} {err.get('msg')}", code=err.get("code"))

    async def _keep_alive(self) -> None:
        # Section 9.1: extend every 30 minutes; -1125 means the key is gone: get a new one and reconnect.
        while not self._closing:
            await asyncio.sleep(self.conn.config.listen_key_keepalive_s)
            try:
                await self._keyed("PUT", self.spec.listen_key_path)  # type: ignore[arg-type]
            except ExchangeError as exc:
                log.warning("%s: listenKey keepalive refused (%s); renewing the stream", self.conn.name, exc)
                self._restart.set()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.warning("%s: listenKey keepalive failed (%s)", self.conn.name, exc)

    def _on_message(self, payload: bytes, local_ts: int) -> None:
        # An order's NEW or TRADE event usually lands just before its REST reply, and reading it first delays
        # the reply. With config.user_event_hold_s > 0, events that arrive while a signed request awaits its reply are
        # held, in arrival order, until no reply is pending (then handled right after the caller resumes) or
        # for at most that long.
        if self._held_events or (self._awaiting_replies and self.conn.config.user_event_hold_s > 0):
            self._held_events.append((payload, local_ts))
            # One timer at a time, left to run out rather than cancelled on each release (arming and
            # cancelling cost about 7 µs): an event held now is released by the pending one, within the bound.
            if self._release_timer is None:
                self._release_timer = asyncio.get_running_loop().call_later(self.conn.config.user_event_hold_s,
                                                                            self._release_timer_fired)
            return
        self._handle_message(payload, local_ts)

    def _release_timer_fired(self) -> None:
        self._release_timer = None
        self._release_events()

    def _release_events(self) -> None:
        """Process the held user events in arrival order."""
        held, self._held_events = self._held_events, []
        for payload, local_ts in held:
            try:
                self._handle_message(payload, local_ts)
            except Exception:  # one event's failure must not lose the events after it
                log.exception("%s: user event handling failed", self.conn.name)

    def _handle_message(self, payload: bytes, local_ts: int) -> None:
        fast = bt.decode_order_event(payload, self.conn.instrument_lookup(), local_ts)
        if fast is not None:  # a futures order event, read without building a dict
            for msg in fast:
                self._deliver(msg)
            return
        if payload.startswith(_ACCOUNT_EVENTS) and not (self.conn.wants(Channel.BALANCES)
                                                        or self.conn.wants(Channel.POSITIONS)):
            return  # balances and positions nobody listens to: not worth parsing on the order path
        try:
            self._on_event(payload, local_ts)
        except (ValueError, KeyError, TypeError) as exc:  # DecodeError and msgspec's errors are ValueErrors
            self.bad_events += 1
            if self.bad_events <= 3 or self.bad_events % 1000 == 0:
                log.warning("%s: user event skipped (%d so far): %s: %s", self.conn.name, self.bad_events,
                            type(exc).__name__, exc)

    def _on_event(self, payload: bytes, local_ts: int) -> None:
        obj = parse_json(payload)
        if not isinstance(obj, dict):
            return
        if "event" in obj and "subscriptionId" in obj:  # spot WS API envelope (section 9.2)
            obj = obj["event"]
        elif "status" in obj and "id" in obj:
            fut = getattr(self, "_ws_reply", None)
            if fut is not None and not fut.done():
                fut.set_result(obj)
            return
        kind = obj.get("e")
        if kind == "listenKeyExpired" or kind == "eventStreamTerminated":
            log.warning("%s: user stream ended (%s); opening a new one", self.conn.name, kind)
            self._restart.set()
            return
        for msg in bt.parse_user_event(obj, self.conn.instrument_lookup(), local_ts):
            self._deliver(msg)

    def _deliver(self, msg: Any) -> None:
        if isinstance(msg, OrderUpdate):
            self._accept(msg)
        elif isinstance(msg, Fill):
            if self.orders.add_fill(msg):
                self.conn.publish(Channel.FILLS, msg)
        else:
            self.conn.publish(Channel.BALANCES if type(msg).__name__ == "Balance" else Channel.POSITIONS, msg)

    async def reconcile(self) -> None:
        """Bring every known order up to date from REST: open orders, final states and missed fills."""
        self.reconciliations += 1
        live = {o.client_order_id for o in await self.open_orders()}
        symbols = set()
        for order in list(self.orders.orders.values()):
            if order.status.is_final and self.orders.filled_qty(order.client_order_id) >= order.filled_qty:
                continue
            symbols.add(order.symbol)
            if order.client_order_id not in live:
                try:
                    await self.query_order(order.symbol, order.client_order_id)
                except ExchangeError as exc:
                    log.warning("%s: reconcile could not query %s: %s", self.conn.name, order.client_order_id, exc)
        for symbol in symbols:
            for fill in await self.trades(symbol, limit=500):
                if fill.client_order_id and self.orders.add_fill(fill):
                    self.recovered_fills += 1
                    self.conn.publish(Channel.FILLS, fill)

    def health(self) -> dict[str, Any]:
        """Return the trading counters."""
        return {"stream_connects": self.stream_connects, "reconciliations": self.reconciliations,
                "recovered_fills": self.recovered_fills, "unknown_outcomes": self.unknown_outcomes,
                "bad_events": self.bad_events,
                "stale_updates": self.orders.stale, "duplicate_fills": self.orders.duplicates,
                "open_orders": len(self.orders.open_orders()),
                "order_limiters": {u: lim.stats() for u, (lim, _) in self.order_limiters.items()}}
