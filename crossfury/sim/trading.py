# SPDX-License-Identifier: MIT
"""The simulator's trading side: a signed-request account, a price-time matching engine and user data streams.

Attached to a ``BinanceSim`` as ``sim.trading``; it serves (protocols/binance.md sections 6-9):

============================================  ===============================================================
spot   ``/api/v3/``                           ``order`` (POST/GET/DELETE), ``openOrders`` (GET/DELETE),
                                              ``account``, ``myTrades``, ``userDataStream`` (legacy listenKey);
                                              WS API ``/ws-api/v3`` ``userDataStream.subscribe.signature``
USD-M  ``/fapi/v1/`` (+ ``/papi/v1/um/``)     ``order`` (POST/PUT/GET/DELETE), ``openOrders``, ``allOpenOrders``,
COIN-M ``/dapi/v1/``                          ``userTrades``, ``listenKey``; ``/fapi/v2|v3/balance``,
                                              ``positionRisk``, ``account``; PAPI ``/papi/v1/balance``,
                                              ``account``, ``um/positionRisk``, ``listenKey``
streams                                       ``/ws/<key>``, ``/private/ws?listenKey=<key>``,
                                              ``/private/ws/<key>``, ``/pm/ws/<key>``
============================================  ===============================================================

Signed requests are checked for real: API key header (-2014/-2015), HMAC signature over query + body (-1022)
and timestamp/recvWindow (-1021). Our orders match against the simulated public book (a taker order eats its
levels and prints public trades); resting orders keep price-time priority among themselves and fill as makers
when the public market trades or quotes through their price. It never imports the client's code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import logging
import secrets as _random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from crossfury.core.errors import ConfigError
from crossfury.sim.market import SymbolState, parse_units

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "crossfury-sim-key"
DEFAULT_API_SECRET = "crossfury-sim-secret"
#: The funded starting balances of the simulated account, per market.
DEFAULT_BALANCES = {"spot": {"USDT": "100000", "BTC": "10", "ETH": "100", "SOL": "1000", "BNB": "100"},
                    "usdm": {"USDT": "100000", "USDC": "100000"},
                    "coinm": {"BTC": "10", "ETH": "100", "SOL": "1000", "BNB": "100"}}
_FEES = {"spot": (Decimal("0.001"), Decimal("0.001")), "usdm": (Decimal("0.0002"), Decimal("0.0004")),
         "coinm": (Decimal("0.0002"), Decimal("0.0004"))}  # (maker, taker)
_FINAL = ("FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH")
_ZERO = Decimal(0)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _num(d: Decimal) -> str:
    text = format(d.normalize(), "f") if d else "0"
    return text


class ApiError(Exception):
    """A Binance error reply: HTTP status, code and message."""

    def __init__(self, status: int, code: int, msg: str):
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass
class SimOrder:
    """One order of the simulated account; prices and quantities in the symbol's wire units."""

    api: str  # spot, usdm, coinm, papi: which endpoints (and user stream) own it
    symbol: str
    order_id: int
    client_id: str
    side: str
    type: str
    tif: str
    px: int
    qty: int
    reduce_only: bool
    time_ms: int
    seq: int
    filled: int = 0
    quote: Decimal = _ZERO  # sum of px * qty of the fills (COIN-M: base value)
    status: str = "NEW"
    update_ms: int = 0
    locked: Decimal = _ZERO  # spot: what the order holds in balance

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    @property
    def is_buy(self) -> bool:
        return self.side == "BUY"


@dataclass
class SimFill:
    order: SimOrder
    trade_id: int
    px: int
    qty: int
    fee: Decimal
    fee_asset: str
    maker: bool
    realized: Decimal
    time_ms: int


@dataclass
class UserConn:
    ws: web.WebSocketResponse
    scope: str  # spot, usdm, coinm, papi
    key: str | None  # listenKey, None for a WS-API subscription
    subscription: int | None = None
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    dead: bool = False


class SimTrading:
    """The simulated account and its trading endpoints for one ``BinanceSim``."""

    def __init__(self, sim: Any, api_key: str = DEFAULT_API_KEY, api_secret: str = DEFAULT_API_SECRET, *,
                 balances: dict[str, str] | None = None, listen_key_ttl_s: float = 3600.0,
                 order_limit_10s: int | None = None, order_limit_long: int | None = None,
                 api_public_key: str | None = None):
        self.sim = sim
        self.kind = sim.kind
        self.futures = self.kind != "spot"
        self.api_key = api_key
        self._secret = api_secret.encode()
        # An Ed25519 API key (section 6): the account registered its public key; signatures are base64.
        self._public_key = _load_public_key(api_public_key) if api_public_key else None
        self.listen_key_ttl_s = listen_key_ttl_s
        start = balances or DEFAULT_BALANCES[self.kind]
        self.free: dict[str, Decimal] = {a: Decimal(v) for a, v in start.items()}
        self.locked: dict[str, Decimal] = {a: _ZERO for a in start}
        self.positions: dict[str, list[Decimal]] = {}  # symbol -> [qty signed, entry px, accumulated realized]
        self.orders: dict[int, SimOrder] = {}
        self.by_client: dict[tuple[str, str], SimOrder] = {}
        self.resting: dict[str, list[SimOrder]] = {}
        self.fills: list[SimFill] = []
        self._order_ids = itertools.count(8_000_001)
        self._trade_ids = itertools.count(500_001)
        self._seq = itertools.count(1)
        self._sub_ids = itertools.count(0)
        self.listen_keys: dict[str, tuple[str, float]] = {}  # scope -> (key, expires at, monotonic)
        self.user_conns: list[UserConn] = []
        long_unit = "1M" if self.futures else "1D"
        self.order_limits = {"10S": (10.0, order_limit_10s or (300 if self.futures else 100)),
                             long_unit: (60.0 if self.futures else 86400.0,
                                         order_limit_long or (1200 if self.futures else 200_000))}
        self._order_times: deque[float] = deque()
        # faults
        self.drop_events = 0
        self.ack_delay: tuple[float, int] = (0.0, 0)
        self.hang_after_accept: tuple[float, int] = (0.0, 0)
        self.counters: dict[str, int] = {"orders": 0, "rejects": 0, "fills": 0, "events_sent": 0,
                                         "events_dropped": 0, "auth_errors": 0}
        self._matching_own = False
        self._task: asyncio.Task | None = None
        self._wrap_market()
        self._routes_added = False
        sim.user_ws = self._user_ws

    # -- faults ---------------------------------------------------------------------------------------

    def drop_user_events(self, count: int = 1) -> None:
        """Do not send the next ``count`` user-stream events (the account changes all the same)."""
        self.drop_events += count

    def delay_acks(self, delay_s: float, count: int = 1) -> None:
        """Answer the next ``count`` order requests ``delay_s`` late (the order is live meanwhile)."""
        self.ack_delay = (delay_s, count)

    def timeout_after_accept(self, count: int = 1, hang_s: float = 60.0) -> None:
        """Accept the next ``count`` new orders, then hold the reply ``hang_s``: the client times out."""
        self.hang_after_accept = (hang_s, count)

    def expire_listen_key(self, scope: str | None = None) -> int:
        """Expire listenKeys now (of ``scope``, or all): ``listenKeyExpired`` is pushed, then nothing more."""
        n = 0
        for sc, (key, _) in list(self.listen_keys.items()):
            if scope is None or sc == scope:
                self._expire(sc, key)
                n += 1
        return n

    def disconnect_user_streams(self) -> int:
        """Drop every user-stream connection (TCP abort); listenKeys stay valid."""
        conns = [c for c in self.user_conns if not c.dead]
        for c in conns:
            c.dead = True
            transport = c.ws._req.transport if c.ws._req is not None else None
            if transport is not None:
                transport.abort()
        return len(conns)

    # -- lifecycle and plumbing -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the background task: listenKey expiry and maker fills when the market moves through."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="binance-sim-trading")
            self.sim._tasks.append(self._task)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for scope, (key, expires) in list(self.listen_keys.items()):
                if now >= expires:
                    self._expire(scope, key)
            for symbol, book in list(self.resting.items()):
                if book:
                    self._cross_resting(self.sim.market.symbols[symbol])

    def _wrap_market(self) -> None:
        market = self.sim.market
        plain = market.add_trade

        def add_trade(st, px, qty, buyer_is_maker, trade_ms, event_ms, trade_id=None, raw=None, agg=True):
            plain(st, px, qty, buyer_is_maker, trade_ms, event_ms, trade_id, raw, agg)
            if not self._matching_own and self.resting.get(st.spec.symbol):
                self._trade_through(st, px, qty, taker_sells=buyer_is_maker)
        market.add_trade = add_trade

    def _error(self, exc: ApiError, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(status=exc.status, body=_dumps({"code": exc.code, "msg": exc.msg}),
                            content_type="application/json", headers=headers)

    def _ok(self, obj: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=_dumps(obj), content_type="application/json", headers=headers)

    async def _params(self, request: web.Request, signed: bool) -> dict[str, str]:
        """Return the request's params after the key, signature and timestamp checks (binance.md section 6)."""
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            self.counters["auth_errors"] += 1
            raise ApiError(401, -2014, "API-key format invalid.")
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            self.counters["auth_errors"] += 1
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        raw_query = request.rel_url.raw_query_string
        body = (await request.text()) if request.method != "GET" and request.can_read_body else ""
        params = dict(parse_qsl(body, keep_blank_values=True))
        params.update(parse_qsl(raw_query, keep_blank_values=True))  # the query wins (section 6)
        if not signed:
            return params
        signature = params.pop("signature", None)
        if not signature:
            raise ApiError(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        payload = "&".join(p for p in raw_query.split("&") if p and not p.startswith("signature=")) + \
            "&".join(p for p in body.split("&") if p and not p.startswith("signature="))
        if not self._signature_ok(payload, signature):
            self.counters["auth_errors"] += 1
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        ts_text = params.get("timestamp", "")
        if not ts_text.isdigit():
            raise ApiError(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        ts, now = int(ts_text), _now_ms()
        if ts > 10**14:  # spot accepts microseconds
            ts //= 1000
        try:
            window = float(params.get("recvWindow", "5000"))
        except ValueError:
            raise ApiError(400, -1100, "Illegal characters found in parameter 'recvWindow'.") from None
        if window > 60000:
            raise ApiError(400, -1131, "recvWindow must be less than 60000")
        if ts >= now + 1000:
            raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - ts > window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    def _signature_ok(self, payload: str, signature: str) -> bool:
        """Check a signature: base64 Ed25519 under the registered public key, else hex HMAC (case-insensitive)."""
        if self._public_key is None:
            expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature.lower())
        from cryptography.exceptions import InvalidSignature

        try:
            self._public_key.verify(base64.b64decode(signature, validate=True), payload.encode())
        except (InvalidSignature, ValueError):  # a failed check or bad base64: both an invalid signature
            return False
        return True

    def _route(self, method: str, path: str, handler: Callable, weight: int = 1, signed: bool = True,
               order: bool = False) -> None:
        if any(r.method == method and r.resource is not None and r.resource.canonical == path
               for r in self.sim.app.router.routes()):
            return  # the embedding test or layer serves this endpoint itself (added before start)
        async def serve(request: web.Request) -> web.Response:
            try:
                params = await self._params(request, signed)
                headers = self._count_order() if order else None
                result = await handler(params, request)
            except ApiError as exc:
                if order:
                    self.counters["rejects"] += 1
                return self._error(exc)
            return self._ok(result, headers)
        self.sim.add_rest_route(method, path, serve, weight)

    def _count_order(self) -> dict[str, str]:
        now = time.monotonic()
        q = self._order_times
        longest = max(w for w, _ in self.order_limits.values())
        while q and q[0] <= now - longest:
            q.popleft()
        headers = {}
        for unit, (window, limit) in self.order_limits.items():
            used = sum(1 for t in q if t > now - window)
            if used >= limit:
                raise ApiError(429, -1015, f"Too many new orders; current limit is {limit} orders per "
                                           f"{'TEN_SECONDS' if unit == '10S' else 'MINUTE' if unit == '1M' else 'DAY'}.")
            headers[f"X-MBX-ORDER-COUNT-{unit}"] = str(used + 1)
        q.append(now)
        return headers

    def add_routes(self) -> None:
        """Register the trading endpoints (``BinanceSim.start`` does, after any routes a caller added)."""
        if self._routes_added:
            return
        self._routes_added = True
        r = self._route
        if self.kind == "spot":
            p = "/api/v3"
            r("POST", f"{p}/order", self._spot_new, 1, order=True)
            r("GET", f"{p}/order", self._get_order_spot, 4)
            r("DELETE", f"{p}/order", self._cancel_spot, 1)
            r("GET", f"{p}/openOrders", self._open_spot, 6)
            r("DELETE", f"{p}/openOrders", self._cancel_all_spot, 1)
            r("GET", f"{p}/account", self._spot_account, 20)
            r("GET", f"{p}/myTrades", self._trades_spot, 20)
            r("POST", f"{p}/userDataStream", self._key_new, 2, signed=False)
            r("PUT", f"{p}/userDataStream", self._key_keep, 2, signed=False)
            r("DELETE", f"{p}/userDataStream", self._key_close, 2, signed=False)
            self.sim.app.router.add_get("/ws-api/v3", self._ws_api)
            return
        p = "/fapi" if self.kind == "usdm" else "/dapi"
        for api, base in [(self.kind, f"{p}/v1")] + ([("papi", "/papi/v1/um")] if self.kind == "usdm" else []):
            r("POST", f"{base}/order", self._api(self._fut_new, api), 0 if api != "papi" else 1, order=True)
            r("PUT", f"{base}/order", self._api(self._fut_modify, api), 1, order=True)
            r("GET", f"{base}/order", self._api(self._get_order_fut, api), 1)
            r("DELETE", f"{base}/order", self._api(self._cancel_fut, api), 1)
            r("GET", f"{base}/openOrders", self._api(self._open_fut, api), 1)
            r("DELETE", f"{base}/allOpenOrders", self._api(self._cancel_all_fut, api), 1)
            r("GET", f"{base}/userTrades", self._api(self._trades_fut, api), 5)
        for v in ("v1", "v2", "v3"):
            r("GET", f"{p}/{v}/balance", self._fut_balance, 5)
            r("GET", f"{p}/{v}/positionRisk", self._position_risk, 5)
            r("GET", f"{p}/{v}/account", self._fut_account, 5)
        r("GET", f"{p}/v1/leverageBracket", self._brackets, 1)
        r("POST", f"{p}/v1/listenKey", self._api(self._key_new, self.kind), 1, signed=False)
        r("PUT", f"{p}/v1/listenKey", self._api(self._key_keep, self.kind), 1, signed=False)
        r("DELETE", f"{p}/v1/listenKey", self._api(self._key_close, self.kind), 1, signed=False)
        if self.kind == "usdm":
            r("GET", "/papi/v1/balance", self._papi_balance, 20)
            r("GET", "/papi/v1/account", self._papi_account, 20)
            r("GET", "/papi/v1/um/positionRisk", self._position_risk, 5)
            r("POST", "/papi/v1/listenKey", self._api(self._key_new, "papi"), 1, signed=False)
            r("PUT", "/papi/v1/listenKey", self._api(self._key_keep, "papi"), 1, signed=False)
            r("DELETE", "/papi/v1/listenKey", self._api(self._key_close, "papi"), 1, signed=False)
            self.sim.app.router.add_get("/pm/ws/{key}", self._pm_ws)

    @staticmethod
    def _api(handler: Callable, api: str) -> Callable:
        async def call(params: dict[str, str], request: web.Request) -> Any:
            return await handler(params, request, api)
        return call

    # -- parameters -----------------------------------------------------------------------------------

    def _state(self, params: dict[str, str]) -> SymbolState:
        symbol = params.get("symbol")
        if not symbol:
            raise ApiError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        st = self.sim.market.symbols.get(symbol)
        if st is None:
            raise ApiError(400, -1121, "Invalid symbol.")
        return st

    @staticmethod
    def _required(params: dict[str, str], name: str) -> str:
        value = params.get(name)
        if not value:
            raise ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return value

    def _units(self, st: SymbolState, text: str, what: str) -> int:
        spec = st.spec
        decimals, step = ((spec.price_decimals, spec.tick_units) if what == "price"
                          else (spec.qty_decimals, spec.step_units))
        try:
            units = parse_units(text, decimals)
        except ValueError:
            raise ApiError(400, -1111, "Precision is over the maximum defined for this asset.") from None
        if units <= 0:
            raise ApiError(400, -4003 if self.futures else -1013,
                           "Quantity less than or equal to zero." if what == "quantity" else "Price less than or equal to zero.")
        if units % step:
            name = "PRICE_FILTER" if what == "price" else "LOT_SIZE"
            raise ApiError(400, -1013, f"Filter failure: {name}")
        return units

    def _find(self, params: dict[str, str], st: SymbolState, api: str, code: int, msg: str) -> SimOrder:
        oid, cid = params.get("orderId"), params.get("origClientOrderId")
        order = None
        if oid:
            order = self.orders.get(int(oid)) if oid.isdigit() else None
        elif cid:
            order = self.by_client.get((st.spec.symbol, cid))
        else:
            raise ApiError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order is None or order.symbol != st.spec.symbol or _scope(order.api) != _scope(api):
            raise ApiError(400, code, msg)
        return order

    # -- matching -------------------------------------------------------------------------------------

    def _walk(self, st: SymbolState, buy: bool, limit_px: int, qty: int) -> list[tuple[int, int]]:
        book = st.asks if buy else st.bids
        out, left = [], qty
        for px in sorted(book, reverse=not buy):
            if left <= 0 or (limit_px and (px > limit_px if buy else px < limit_px)):
                break
            take = min(left, book[px])
            out.append((px, take))
            left -= take
        return out

    def _take(self, st: SymbolState, order: SimOrder, levels: list[tuple[int, int]]) -> list[SimFill]:
        market, now = self.sim.market, _now_ms()
        fills = []
        book = st.asks if order.is_buy else st.bids
        self._matching_own = True
        try:
            for px, qty in levels:
                market.add_trade(st, px, qty, not order.is_buy, now, now + 1)
                market.set_level(st, not order.is_buy, px, book.get(px, 0) - qty)
                fills.append(self._fill(st, order, px, qty, maker=False, now=now))
        finally:
            self._matching_own = False
        if levels:
            self._flush(st, now)
        return fills

    def _flush(self, st: SymbolState, now: int) -> None:
        market = self.sim.market
        n = max(1, len(st.pend_b) + len(st.pend_a))
        last = st.last_update_id
        if market.futures:  # the depth event ids follow the feed's rules (binance.md 5.1, 5.2)
            market.flush_event(st, last + 1, last + n, last, now + 1, now)
        else:
            market.flush_event(st, last + 1, last + n, last, now, now)
        if self.sim._at_gate:  # market generation paused: nobody else publishes these
            out = market.take()
            if out:
                asyncio.ensure_future(self.sim.hub.publish(out))

    def _trade_through(self, st: SymbolState, px: int, qty: int, taker_sells: bool) -> None:
        # A public taker reached our price: our resting orders on that side fill first, best price then time.
        book = self.resting.get(st.spec.symbol, [])
        left = qty
        for order in sorted((o for o in book if o.is_buy == taker_sells),
                            key=lambda o: (-o.px if o.is_buy else o.px, o.seq)):
            if left <= 0 or (px > order.px if order.is_buy else px < order.px):
                break
            take = min(left, order.remaining)
            left -= take
            self._maker_fill(st, order, take)

    def _cross_resting(self, st: SymbolState) -> None:
        # The public book moved through a resting order's price: it fills as a maker against those levels.
        bb, ba = st.best_bid(), st.best_ask()
        for order in sorted(self.resting.get(st.spec.symbol, []), key=lambda o: o.seq):
            if order.is_buy and ba is not None and ba <= order.px:
                self._maker_fill(st, order, min(order.remaining, sum(q for p, q in st.asks.items() if p <= order.px)))
            elif not order.is_buy and bb is not None and bb >= order.px:
                self._maker_fill(st, order, min(order.remaining, sum(q for p, q in st.bids.items() if p >= order.px)))

    def _maker_fill(self, st: SymbolState, order: SimOrder, qty: int) -> None:
        if qty <= 0 or order.status in _FINAL:
            return
        fill = self._fill(st, order, order.px, qty, maker=True, now=_now_ms())
        self._after_fills(st, order, [fill])

    def _fill(self, st: SymbolState, order: SimOrder, px: int, qty: int, maker: bool, now: int) -> SimFill:
        spec = st.spec
        p, q = Decimal(px).scaleb(-spec.price_decimals), Decimal(qty).scaleb(-spec.qty_decimals)
        rate = _FEES[self.kind][0 if maker else 1]
        sign = Decimal(1 if order.is_buy else -1)
        realized = _ZERO
        order.filled += qty
        order.update_ms = now
        if self.kind == "spot":
            order.quote += p * q
            cost = p * q
            if order.is_buy:
                fee, fee_asset = q * rate, spec.base
                if order.locked:  # a limit buy holds price x qty; a better fill price returns the rest
                    release = Decimal(order.px).scaleb(-spec.price_decimals) * q
                    self.locked[spec.quote] -= release
                    order.locked -= release
                    self.free[spec.quote] = self.free.get(spec.quote, _ZERO) + release - cost
                else:
                    self.free[spec.quote] = self.free.get(spec.quote, _ZERO) - cost
                self.free[spec.base] = self.free.get(spec.base, _ZERO) + q - fee
            else:
                fee, fee_asset = cost * rate, spec.quote
                if order.locked:
                    self.locked[spec.base] -= q
                    order.locked -= q
                else:
                    self.free[spec.base] = self.free.get(spec.base, _ZERO) - q
                self.free[spec.quote] = self.free.get(spec.quote, _ZERO) + cost - fee
        else:
            coinm = self.kind == "coinm"
            asset = spec.margin_asset or spec.quote
            # COIN-M contracts are worth contract_size quote each: value in the base asset is qty*size/px.
            value = q * spec.contract_size / p if coinm else p * q
            order.quote += value
            fee, fee_asset = value * rate, asset
            pos = self.positions.setdefault(spec.symbol, [_ZERO, _ZERO, _ZERO])
            amount, entry = pos[0], pos[1]
            if amount == 0 or (amount > 0) == (sign > 0):
                total = abs(amount) + q
                pos[1] = (entry * abs(amount) + p * q) / total if not coinm else \
                    total / (abs(amount) / entry + q / p) if entry else p
                pos[0] = amount + sign * q
            else:
                closing = min(q, abs(amount))
                direction = Decimal(1 if amount > 0 else -1)
                if coinm:
                    realized = closing * spec.contract_size * (1 / entry - 1 / p) * direction
                else:
                    realized = closing * (p - entry) * direction
                pos[0] = amount + sign * q
                if pos[0] == 0:
                    pos[1] = _ZERO
                elif (pos[0] > 0) != (amount > 0):
                    pos[1] = p
            pos[2] += realized
            self.free[asset] = self.free.get(asset, _ZERO) + realized - fee
        fill = SimFill(order, next(self._trade_ids), px, qty, fee, fee_asset, maker, realized, now)
        self.fills.append(fill)
        self.counters["fills"] += 1
        return fill

    def _after_fills(self, st: SymbolState, order: SimOrder, fills: list[SimFill]) -> None:
        if order.remaining <= 0:
            order.status = "FILLED"
            self._unrest(order)
        elif order.filled:
            order.status = "PARTIALLY_FILLED"
        for fill in fills:
            self._emit_order(order, "TRADE", fill)
        if fills:
            self._emit_account(order, st)

    def _rest(self, order: SimOrder) -> None:
        self.resting.setdefault(order.symbol, []).append(order)

    def _unrest(self, order: SimOrder) -> None:
        book = self.resting.get(order.symbol)
        if book and order in book:
            book.remove(order)

    def _release(self, order: SimOrder) -> None:
        if self.kind == "spot" and order.locked:
            spec = self.sim.market.symbols[order.symbol].spec
            asset = spec.quote if order.is_buy else spec.base
            self.locked[asset] -= order.locked
            self.free[asset] += order.locked
            order.locked = _ZERO

    # -- new, modify, cancel --------------------------------------------------------------------------

    def _new_order(self, params: dict[str, str], api: str) -> tuple[SimOrder, list[SimFill]]:
        st = self._state(params)
        symbol = st.spec.symbol
        side = self._required(params, "side")
        if side not in ("BUY", "SELL"):
            raise ApiError(400, -1117, "Invalid side.")
        otype = self._required(params, "type")
        allowed = ("LIMIT", "MARKET", "LIMIT_MAKER") if api == "spot" else ("LIMIT", "MARKET")
        if otype not in allowed:
            raise ApiError(400, -1116, "Invalid orderType.")
        qty = self._units(st, self._required(params, "quantity"), "quantity")
        px, tif = 0, params.get("timeInForce", "GTC" if otype != "MARKET" else "")
        if otype in ("LIMIT", "LIMIT_MAKER"):
            px = self._units(st, self._required(params, "price"), "price")
            if otype == "LIMIT":
                tif = self._required(params, "timeInForce")
            else:
                tif = "GTC"
            valid_tif = ("GTC", "IOC", "FOK") if api == "spot" else ("GTC", "IOC", "FOK", "GTX", "GTD")
            if tif not in valid_tif:
                raise ApiError(400, -1115, "Invalid timeInForce.")
        cid = params.get("newClientOrderId") or f"sim-{_random.token_hex(8)}"
        if len(cid) > (32 if api == "papi" else 36):
            raise ApiError(400, -1100, "Illegal characters found in parameter 'newClientOrderId'.")
        old = self.by_client.get((symbol, cid))
        if old is not None and old.status not in _FINAL:
            raise ApiError(400, -2010, "Duplicate order sent.") if api == "spot" else \
                ApiError(400, -4116, "ClientOrderId is duplicated.")
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        buy = side == "BUY"
        if reduce_only:
            if api == "spot":
                raise ApiError(400, -1104, "Not all sent parameters were read; read 13 parameter(s) but was sent 14.")
            amount = self.positions.get(symbol, [_ZERO])[0]
            if amount == 0 or (amount > 0) == buy:
                raise ApiError(400, -2022, "ReduceOnly Order is rejected.")
        levels = self._walk(st, buy, px, qty)
        crosses = bool(levels)
        if crosses and otype == "LIMIT_MAKER":
            raise ApiError(400, -2010, "Order would immediately match and take.")
        if crosses and tif == "GTX":
            raise ApiError(400, -5022, "Due to the order could not be executed as maker, the Post Only order will be "
                                       "rejected. The order will not be recorded in the order book.")
        available = sum(q for _, q in levels)
        if tif == "FOK" and available < qty and api != "spot":
            raise ApiError(400, -5021, "Due to the order could not be filled immediately, the FOK order has been "
                                       "rejected. The order will not be recorded in the order book.")
        now = _now_ms()
        order = SimOrder(api, symbol, next(self._order_ids), cid, side, otype, tif, px, qty, reduce_only, now,
                         next(self._seq), update_ms=now)
        if api == "spot":
            self._lock(st, order, levels)
        self.orders[order.order_id] = order
        self.by_client[(symbol, cid)] = order
        self.counters["orders"] += 1
        self._emit_order(order, "NEW")
        fills: list[SimFill] = []
        if tif == "FOK" and available < qty:  # spot FOK: accepted, then expired (binance.md 8.1)
            order.status = "EXPIRED"
            self._release(order)
            self._emit_order(order, "EXPIRED")
            return order, fills
        if crosses:
            fills = self._take(st, order, levels)
            self._after_fills(st, order, fills)
        if order.remaining > 0:
            if otype == "MARKET" or tif in ("IOC", "FOK"):
                order.status = "EXPIRED"
                self._release(order)
                self._emit_order(order, "EXPIRED")
            else:
                self._rest(order)
        return order, fills

    def _lock(self, st: SymbolState, order: SimOrder, levels: list[tuple[int, int]]) -> None:
        spec = st.spec
        if order.is_buy:
            if order.type == "MARKET":
                need = sum(Decimal(p).scaleb(-spec.price_decimals) * Decimal(q).scaleb(-spec.qty_decimals)
                           for p, q in levels)
                lock = False
            else:
                need = Decimal(order.px).scaleb(-spec.price_decimals) * Decimal(order.qty).scaleb(-spec.qty_decimals)
                lock = True
            asset = spec.quote
        else:
            need, asset, lock = Decimal(order.qty).scaleb(-spec.qty_decimals), spec.base, order.type != "MARKET"
        if self.free.get(asset, _ZERO) < need:
            raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
        if lock:
            self.free[asset] -= need
            self.locked[asset] = self.locked.get(asset, _ZERO) + need
            order.locked = need

    def _cancel(self, order: SimOrder) -> None:
        if order.status in _FINAL:
            raise ApiError(400, -2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_ms = _now_ms()
        self._unrest(order)
        self._release(order)
        self._emit_order(order, "CANCELED")

    async def _reply_faults(self, new: bool) -> None:
        hang, n = self.hang_after_accept
        if new and n > 0:
            self.hang_after_accept = (hang, n - 1)
            await asyncio.sleep(hang)
        delay, n = self.ack_delay
        if n > 0:
            self.ack_delay = (delay, n - 1)
            await asyncio.sleep(delay)

    async def _fut_new(self, params: dict[str, str], request: web.Request, api: str) -> dict[str, Any]:
        order, _ = self._new_order(params, api)
        await self._reply_faults(True)
        return self._fut_view(order)

    async def _fut_modify(self, params: dict[str, str], request: web.Request, api: str) -> dict[str, Any]:
        st = self._state(params)
        order = self._find(params, st, api, -2013, "Order does not exist.")
        if order.status in _FINAL or order.type != "LIMIT":
            raise ApiError(400, -5027 if order.status not in _FINAL else -2013,
                           "No need to modify the order." if order.status not in _FINAL else "Order does not exist.")
        side = self._required(params, "side")
        if side != order.side:
            raise ApiError(400, -1117, "Invalid side.")
        qty = self._units(st, self._required(params, "quantity"), "quantity")
        px = self._units(st, self._required(params, "price"), "price")
        if qty == order.qty and px == order.px:
            raise ApiError(400, -5027, "No need to modify the order.")
        if qty <= order.filled:  # binance.md 8.2: new qty <= executed cancels the order
            self._cancel(order)
            return self._fut_view(order)
        levels = self._walk(st, order.is_buy, px, qty - order.filled)
        if levels and order.tif == "GTX":  # a post-only order that would cross is cancelled
            self._cancel(order)
            return self._fut_view(order)
        if px != order.px:
            order.seq = next(self._seq)  # a new price loses time priority
        order.px, order.qty, order.update_ms = px, qty, _now_ms()
        self._emit_order(order, "AMENDMENT")
        if levels:
            fills = self._take(st, order, levels)
            self._after_fills(st, order, fills)
        return self._fut_view(order)

    async def _get_order_fut(self, params: dict[str, str], request: web.Request, api: str) -> dict[str, Any]:
        st = self._state(params)
        return self._fut_view(self._find(params, st, api, -2013, "Order does not exist."))

    async def _cancel_fut(self, params: dict[str, str], request: web.Request, api: str) -> dict[str, Any]:
        st = self._state(params)
        order = self._find(params, st, api, -2011, "Unknown order sent.")
        self._cancel(order)
        return self._fut_view(order)

    async def _open_fut(self, params: dict[str, str], request: web.Request, api: str) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        return [self._fut_view(o) for o in self.orders.values()
                if o.status not in _FINAL and _scope(o.api) == _scope(api) and (not symbol or o.symbol == symbol)]

    async def _cancel_all_fut(self, params: dict[str, str], request: web.Request, api: str) -> dict[str, Any]:
        st = self._state(params)
        for o in list(self.orders.values()):
            if o.symbol == st.spec.symbol and o.status not in _FINAL and _scope(o.api) == _scope(api):
                self._cancel(o)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    async def _trades_fut(self, params: dict[str, str], request: web.Request, api: str) -> list[dict[str, Any]]:
        st = self._state(params)
        limit = int(params.get("limit", "500"))
        out = []
        for f in self.fills:
            o = f.order
            if o.symbol != st.spec.symbol or _scope(o.api) != _scope(api):
                continue
            out.append({"symbol": o.symbol, "id": f.trade_id, "orderId": o.order_id, "side": o.side,
                        "price": st.px(f.px), "qty": st.qty(f.qty), "realizedPnl": _num(f.realized),
                        "quoteQty": _num(Decimal(f.px).scaleb(-st.spec.price_decimals)
                                         * Decimal(f.qty).scaleb(-st.spec.qty_decimals)),
                        "commission": _num(f.fee), "commissionAsset": f.fee_asset, "time": f.time_ms,
                        "positionSide": "BOTH", "buyer": o.is_buy, "maker": f.maker})
        return out[-limit:]

    def _fut_view(self, o: SimOrder) -> dict[str, Any]:
        st = self.sim.market.symbols[o.symbol]
        executed = st.qty(o.filled)
        avg = self._avg(st, o)
        view: dict[str, Any] = {
            "orderId": o.order_id, "symbol": o.symbol, "status": o.status, "clientOrderId": o.client_id,
            "price": st.px(o.px), "avgPrice": avg, "origQty": st.qty(o.qty), "executedQty": executed,
            "cumQty": executed, "timeInForce": o.tif or "GTC", "type": o.type, "reduceOnly": o.reduce_only,
            "closePosition": False, "side": o.side, "positionSide": "BOTH", "stopPrice": "0",
            "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": o.type, "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": o.time_ms,
            "updateTime": o.update_ms}
        if self.kind == "coinm":
            view["cumBase"] = _num(o.quote)
            view["pair"] = st.spec.pair
        else:
            view["cumQuote"] = _num(o.quote)
        return view

    def _avg(self, st: SymbolState, o: SimOrder) -> str:
        if not o.filled:
            return "0"
        q = Decimal(o.filled).scaleb(-st.spec.qty_decimals)
        if self.kind == "coinm":
            return _num((q * st.spec.contract_size / o.quote).quantize(Decimal(1).scaleb(-st.spec.price_decimals)))
        return _num(o.quote / q)

    # -- spot endpoints -------------------------------------------------------------------------------

    async def _spot_new(self, params: dict[str, str], request: web.Request) -> dict[str, Any]:
        order, fills = self._new_order(params, "spot")
        await self._reply_faults(True)
        st = self.sim.market.symbols[order.symbol]
        view = self._spot_view(order)
        resp = params.get("newOrderRespType") or ("FULL" if order.type in ("LIMIT", "MARKET") else "ACK")
        if resp == "ACK":
            return {k: view[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")}
        if resp == "FULL":
            view["fills"] = [{"price": st.px(f.px), "qty": st.qty(f.qty), "commission": _num(f.fee),
                              "commissionAsset": f.fee_asset, "tradeId": f.trade_id} for f in fills]
        return view

    def _spot_view(self, o: SimOrder) -> dict[str, Any]:
        st = self.sim.market.symbols[o.symbol]
        return {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1, "clientOrderId": o.client_id,
                "transactTime": o.update_ms, "price": st.px(o.px), "origQty": st.qty(o.qty),
                "executedQty": st.qty(o.filled), "cummulativeQuoteQty": _num(o.quote), "status": o.status,
                "timeInForce": o.tif or "GTC", "type": o.type, "side": o.side, "workingTime": o.time_ms,
                "selfTradePreventionMode": "EXPIRE_MAKER", "time": o.time_ms, "updateTime": o.update_ms,
                "isWorking": o.status in ("NEW", "PARTIALLY_FILLED"), "stopPrice": "0.00000000",
                "icebergQty": "0.00000000", "origQuoteOrderQty": "0.00000000"}

    async def _get_order_spot(self, params: dict[str, str], request: web.Request) -> dict[str, Any]:
        st = self._state(params)
        return self._spot_view(self._find(params, st, "spot", -2013, "Order does not exist."))

    async def _cancel_spot(self, params: dict[str, str], request: web.Request) -> dict[str, Any]:
        st = self._state(params)
        order = self._find(params, st, "spot", -2011, "Unknown order sent.")
        self._cancel(order)
        view = self._spot_view(order)
        view["origClientOrderId"] = order.client_id
        view["clientOrderId"] = params.get("newClientOrderId") or f"sim-{_random.token_hex(8)}"
        return view

    async def _open_spot(self, params: dict[str, str], request: web.Request) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        return [self._spot_view(o) for o in self.orders.values()
                if o.status not in _FINAL and o.api == "spot" and (not symbol or o.symbol == symbol)]

    async def _cancel_all_spot(self, params: dict[str, str], request: web.Request) -> list[dict[str, Any]]:
        st = self._state(params)
        out = []
        for o in list(self.orders.values()):
            if o.symbol == st.spec.symbol and o.status not in _FINAL:
                self._cancel(o)
                view = self._spot_view(o)
                view["origClientOrderId"] = o.client_id
                out.append(view)
        if not out:
            raise ApiError(400, -2011, "Unknown order sent.")
        return out

    async def _spot_account(self, params: dict[str, str], request: web.Request) -> dict[str, Any]:
        return {"makerCommission": 10, "takerCommission": 10, "canTrade": True, "canWithdraw": True,
                "canDeposit": True, "updateTime": _now_ms(), "accountType": "SPOT", "permissions": ["SPOT"],
                "balances": [{"asset": a, "free": _num(self.free[a]), "locked": _num(self.locked.get(a, _ZERO))}
                             for a in sorted(self.free)]}

    async def _trades_spot(self, params: dict[str, str], request: web.Request) -> list[dict[str, Any]]:
        st = self._state(params)
        out = []
        for f in self.fills:
            o = f.order
            if o.symbol == st.spec.symbol:
                p, q = Decimal(f.px).scaleb(-st.spec.price_decimals), Decimal(f.qty).scaleb(-st.spec.qty_decimals)
                out.append({"symbol": o.symbol, "id": f.trade_id, "orderId": o.order_id, "orderListId": -1,
                            "price": st.px(f.px), "qty": st.qty(f.qty), "quoteQty": _num(p * q),
                            "commission": _num(f.fee), "commissionAsset": f.fee_asset, "time": f.time_ms,
                            "isBuyer": o.is_buy, "isMaker": f.maker, "isBestMatch": True})
        return out[-int(params.get("limit", "500")):]

    # -- futures and PAPI account views ---------------------------------------------------------------

    def _mark(self, st: SymbolState) -> Decimal:
        bb, ba = st.best_bid(), st.best_ask()
        units = (bb + ba) // 2 if bb and ba else st.last_px
        return Decimal(units).scaleb(-st.spec.price_decimals)

    def _unrealized(self, symbol: str) -> Decimal:
        amount, entry, _ = self.positions.get(symbol, [_ZERO, _ZERO, _ZERO])
        if not amount:
            return _ZERO
        st = self.sim.market.symbols[symbol]
        mark = self._mark(st)
        if self.kind == "coinm":
            return amount * st.spec.contract_size * (1 / entry - 1 / mark)
        return amount * (mark - entry)

    async def _fut_balance(self, params: dict[str, str], request: web.Request) -> list[dict[str, Any]]:
        out = []
        for asset, wallet in sorted(self.free.items()):
            upnl = sum((self._unrealized(s) for s in self.positions
                        if (self.sim.market.symbols[s].spec.margin_asset or "") == asset), _ZERO)
            out.append({"accountAlias": "SimAccount", "asset": asset, "balance": _num(wallet),
                        "crossWalletBalance": _num(wallet), "crossUnPnl": _num(upnl),
                        "availableBalance": _num(wallet + min(upnl, _ZERO)), "maxWithdrawAmount": _num(wallet),
                        "marginAvailable": True, "updateTime": _now_ms()})
        return out

    async def _position_risk(self, params: dict[str, str], request: web.Request) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        out = []
        for sym, (amount, entry, _) in sorted(self.positions.items()):
            if symbol and sym != symbol:
                continue
            st = self.sim.market.symbols[sym]
            mark = self._mark(st)
            out.append({"symbol": sym, "positionAmt": _num(amount), "entryPrice": _num(entry),
                        "breakEvenPrice": _num(entry), "markPrice": _num(mark),
                        "unRealizedProfit": _num(self._unrealized(sym)), "liquidationPrice": "0",
                        "leverage": "20", "maxNotionalValue": "1000000", "marginType": "cross",
                        "isolatedMargin": "0", "isAutoAddMargin": "false", "positionSide": "BOTH",
                        "notional": _num(amount * mark), "isolatedWallet": "0", "updateTime": _now_ms()})
        return out

    async def _fut_account(self, params: dict[str, str], request: web.Request) -> dict[str, Any]:
        assets = await self._fut_balance(params, request)
        wallet = sum((Decimal(a["balance"]) for a in assets), _ZERO)
        upnl = sum((self._unrealized(s) for s in self.positions), _ZERO)
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "updateTime": _now_ms(),
                "totalWalletBalance": _num(wallet), "totalUnrealizedProfit": _num(upnl),
                "totalMarginBalance": _num(wallet + upnl), "availableBalance": _num(wallet + min(upnl, _ZERO)),
                "maxWithdrawAmount": _num(wallet),
                "assets": [{"asset": a["asset"], "walletBalance": a["balance"], "unrealizedProfit": a["crossUnPnl"],
                            "marginBalance": a["balance"], "availableBalance": a["availableBalance"]}
                           for a in assets],
                "positions": await self._position_risk(params, request)}

    async def _brackets(self, params: dict[str, str], request: web.Request) -> list[dict[str, Any]]:
        symbols = [params["symbol"]] if params.get("symbol") else list(self.sim.market.symbols)
        return [{"symbol": s, "brackets": [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50000,
                                            "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0}]}
                for s in symbols]

    async def _papi_balance(self, params: dict[str, str], request: web.Request) -> Any:
        out = []
        for asset, wallet in sorted(self.free.items()):
            upnl = sum((self._unrealized(s) for s in self.positions
                        if self.sim.market.symbols[s].spec.margin_asset == asset), _ZERO)
            out.append({"asset": asset, "totalWalletBalance": _num(wallet), "crossMarginAsset": "0",
                        "crossMarginBorrowed": "0", "crossMarginFree": "0", "crossMarginInterest": "0",
                        "crossMarginLocked": "0", "umWalletBalance": _num(wallet), "umUnrealizedPNL": _num(upnl),
                        "cmWalletBalance": "0", "cmUnrealizedPNL": "0", "updateTime": _now_ms(),
                        "negativeBalance": "0"})
        wanted = params.get("asset")
        if wanted:
            return next((b for b in out if b["asset"] == wanted), {})
        return out

    async def _papi_account(self, params: dict[str, str], request: web.Request) -> dict[str, Any]:
        equity = sum(self.free.values(), _ZERO) + sum((self._unrealized(s) for s in self.positions), _ZERO)
        return {"uniMMR": "999", "accountEquity": _num(equity), "actualEquity": _num(equity),
                "accountInitialMargin": "0", "accountMaintMargin": "0", "accountStatus": "NORMAL",
                "virtualMaxWithdrawAmount": _num(equity), "totalAvailableBalance": _num(equity),
                "totalMarginOpenLoss": "0", "updateTime": _now_ms()}

    # -- listenKeys and user streams ------------------------------------------------------------------

    async def _key_new(self, params: dict[str, str], request: web.Request, scope: str = "spot") -> dict[str, Any]:
        now = time.monotonic()
        current = self.listen_keys.get(scope)
        key = current[0] if current and current[1] > now else _random.token_urlsafe(48)[:64]
        self.listen_keys[scope] = (key, now + self.listen_key_ttl_s)  # POST on an active key extends it
        return {"listenKey": key}

    async def _key_keep(self, params: dict[str, str], request: web.Request, scope: str = "spot") -> dict[str, Any]:
        current = self.listen_keys.get(scope)
        wanted = params.get("listenKey")
        if current is None or current[1] <= time.monotonic() or (wanted and wanted != current[0]):
            raise ApiError(400, -1125, "This listenKey does not exist.")
        self.listen_keys[scope] = (current[0], time.monotonic() + self.listen_key_ttl_s)
        return {"listenKey": current[0]} if scope != "spot" else {}

    async def _key_close(self, params: dict[str, str], request: web.Request, scope: str = "spot") -> dict[str, Any]:
        current = self.listen_keys.pop(scope, None)
        if current is not None:
            for c in self.user_conns:
                if c.key == current[0]:
                    c.dead = True
                    asyncio.ensure_future(c.ws.close())
        return {}

    def _expire(self, scope: str, key: str) -> None:
        self.listen_keys.pop(scope, None)
        payload = _dumps({"e": "listenKeyExpired", "E": _now_ms(), "listenKey": key})
        for c in self.user_conns:
            if c.key == key and not c.dead:
                c.queue.put_nowait(payload)
                c.dead = True  # binance.md 9.1: then nothing more on this connection

    def _scope_of_key(self, key: str) -> str | None:
        now = time.monotonic()
        return next((sc for sc, (k, exp) in self.listen_keys.items() if k == key and exp > now), None)

    async def _user_ws(self, request: web.Request) -> web.StreamResponse | None:
        """Serve a listenKey stream if the market-data route's path or query names an active listenKey."""
        key = request.query.get("listenKey") or request.match_info.get("streams", "").strip("/")
        if not key or "@" in key:
            return None
        scope = self._scope_of_key(key)
        if scope is None or scope == "papi":
            if request.query.get("listenKey"):
                raise web.HTTPBadRequest(text='{"code":-1125,"msg":"This listenKey does not exist."}')
            return None
        return await self._serve_user(request, scope, key)

    async def _pm_ws(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        if self._scope_of_key(key) != "papi":
            raise web.HTTPBadRequest(text='{"code":-1125,"msg":"This listenKey does not exist."}')
        return await self._serve_user(request, "papi", key)

    async def _serve_user(self, request: web.Request, scope: str, key: str | None) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        conn = UserConn(ws, scope, key)
        self.user_conns.append(conn)
        writer = asyncio.create_task(self._writer(conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT and scope == "spot-api":
                    await self._ws_api_request(conn, msg.data)
                elif msg.type not in (WSMsgType.TEXT, WSMsgType.PING, WSMsgType.PONG):
                    break
        finally:
            conn.dead = True
            writer.cancel()
            if conn in self.user_conns:
                self.user_conns.remove(conn)
        return ws

    async def _writer(self, conn: UserConn) -> None:
        while True:
            payload = await conn.queue.get()
            try:
                await conn.ws.send_str(payload.decode())
            except (ConnectionError, RuntimeError):
                return

    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve_user(request, "spot-api", None)

    async def _ws_api_request(self, conn: UserConn, text: str) -> None:
        try:
            req = json.loads(text)
            rid, method, params = req.get("id"), req.get("method"), dict(req.get("params") or {})
        except (ValueError, AttributeError):
            conn.queue.put_nowait(_dumps({"id": None, "status": 400, "error": {"code": -1000, "msg": "Invalid JSON"}}))
            return

        def reply(status: int, result: Any = None, code: int = 0, msg: str = "") -> None:
            body = {"id": rid, "status": status, "result": result} if status == 200 else \
                {"id": rid, "status": status, "error": {"code": code, "msg": msg}}
            conn.queue.put_nowait(_dumps(body))

        if method == "ping":
            return reply(200, {})
        if method == "time":
            return reply(200, {"serverTime": _now_ms()})
        if method == "userDataStream.unsubscribe":
            conn.subscription = None
            return reply(200, {})
        if method != "userDataStream.subscribe.signature":
            return reply(400, code=-1100, msg=f"Unknown method {method!r}")
        signature = str(params.pop("signature", ""))
        if params.get("apiKey") != self.api_key:
            return reply(401, code=-2015, msg="Invalid API-key, IP, or permissions for action.")
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        if not self._signature_ok(payload, signature):
            self.counters["auth_errors"] += 1
            return reply(400, code=-1022, msg="Signature for this request is not valid.")
        ts = int(params.get("timestamp", 0))
        if abs(_now_ms() - ts) > float(params.get("recvWindow", 5000)):
            return reply(400, code=-1021, msg="Timestamp for this request is outside of the recvWindow.")
        conn.subscription = next(self._sub_ids)
        conn.scope = "spot-api"
        reply(200, {"subscriptionId": conn.subscription})

    # -- user events ----------------------------------------------------------------------------------

    def _push(self, api: str, event: dict[str, Any]) -> None:
        targets = [c for c in self.user_conns if not c.dead and (
            (api == "spot" and c.scope in ("spot", "spot-api") and (c.scope == "spot" or c.subscription is not None))
            or (api != "spot" and c.scope == api))]
        if not targets:
            return
        if self.drop_events > 0:
            self.drop_events -= 1
            self.counters["events_dropped"] += 1
            return
        plain = _dumps(event)
        for c in targets:
            self.counters["events_sent"] += 1
            c.queue.put_nowait(_dumps({"subscriptionId": c.subscription, "event": event})
                               if c.scope == "spot-api" else plain)

    def _emit_order(self, o: SimOrder, execution: str, fill: SimFill | None = None) -> None:
        st = self.sim.market.symbols[o.symbol]
        now = fill.time_ms if fill else o.update_ms
        last_qty = st.qty(fill.qty) if fill else st.qty(0)
        last_px = st.px(fill.px) if fill else st.px(0)
        if o.api == "spot":
            self._push("spot", {
                "e": "executionReport", "E": now, "s": o.symbol, "c": o.client_id, "S": o.side, "o": o.type,
                "f": o.tif or "GTC", "q": st.qty(o.qty), "p": st.px(o.px), "P": "0.00000000", "F": "0.00000000",
                "g": -1, "C": o.client_id if execution == "CANCELED" else "", "x": execution, "X": o.status,
                "r": "NONE", "i": o.order_id, "l": last_qty, "z": st.qty(o.filled), "L": last_px,
                "n": _num(fill.fee) if fill else "0", "N": fill.fee_asset if fill else None, "T": now,
                "t": fill.trade_id if fill else -1, "I": next(self._seq), "w": o.status == "NEW",
                "m": fill.maker if fill else False, "M": False, "O": o.time_ms, "Z": _num(o.quote),
                "Y": _num(Decimal(fill.px).scaleb(-st.spec.price_decimals) * Decimal(fill.qty).scaleb(
                    -st.spec.qty_decimals)) if fill else "0", "Q": "0.00000000", "W": o.time_ms,
                "V": "EXPIRE_MAKER"})
            return
        body: dict[str, Any] = {
            "s": o.symbol, "c": o.client_id, "S": o.side, "o": o.type, "f": o.tif or "GTC", "q": st.qty(o.qty),
            "p": st.px(o.px), "ap": self._avg(st, o), "sp": "0", "x": execution, "X": o.status, "i": o.order_id,
            "l": last_qty, "z": st.qty(o.filled), "L": last_px, "T": now, "t": fill.trade_id if fill else 0,
            "b": "0", "a": "0", "m": fill.maker if fill else False, "R": o.reduce_only, "wt": "CONTRACT_PRICE",
            "ot": o.type, "ps": "BOTH", "cp": False, "rp": _num(fill.realized) if fill else "0", "pP": False,
            "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0}
        if fill is not None:
            body["N"], body["n"] = fill.fee_asset, _num(fill.fee)
        event: dict[str, Any] = {"e": "ORDER_TRADE_UPDATE", "E": _now_ms(), "T": now, "o": body}
        if o.api == "papi":
            event["fs"] = "UM"
        self._push(o.api, event)

    def _emit_account(self, o: SimOrder, st: SymbolState) -> None:
        if o.api == "spot":
            spec = st.spec
            self._push("spot", {"e": "outboundAccountPosition", "E": _now_ms(), "u": _now_ms(), "B": [
                {"a": a, "f": _num(self.free.get(a, _ZERO)), "l": _num(self.locked.get(a, _ZERO))}
                for a in (spec.base, spec.quote)]})
            return
        asset = st.spec.margin_asset or st.spec.quote
        amount, entry, realized = self.positions.get(o.symbol, [_ZERO, _ZERO, _ZERO])
        wallet = self.free.get(asset, _ZERO)
        event: dict[str, Any] = {"e": "ACCOUNT_UPDATE", "E": _now_ms(), "T": _now_ms(), "a": {
            "m": "ORDER", "B": [{"a": asset, "wb": _num(wallet), "cw": _num(wallet), "bc": "0"}],
            "P": [{"s": o.symbol, "pa": _num(amount), "ep": _num(entry), "bep": _num(entry), "cr": _num(realized),
                   "up": _num(self._unrealized(o.symbol)), "mt": "cross", "iw": "0", "ps": "BOTH"}]}}
        if o.api == "papi":
            event["fs"] = "UM"
        self._push(o.api, event)


def _load_public_key(pem: str):
    """Return the Ed25519 public key of a PEM block (SubjectPublicKeyInfo), or raise ConfigError."""
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError:
        raise ConfigError("an Ed25519 API key needs the 'cryptography' package: pip install crossfury[ed25519]") \
            from None
    try:
        key = load_pem_public_key(pem.strip().encode() + b"\n")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the API public key is not a PEM public key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("the API public key must be an Ed25519 key")
    return key


def _scope(api: str) -> str:
    # PAPI UM orders and USD-M orders are separate books of orders on the same simulated account.
    return api
