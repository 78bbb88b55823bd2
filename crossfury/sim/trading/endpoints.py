# SPDX-License-Identifier: MIT
"""The simulated account's REST endpoints: signed-request checks (API key, HMAC or Ed25519 signature,
timestamp/recvWindow; protocols/binance.md section 6), order-count limits, and the order, account, balance
and position endpoints of spot, USD-M, COIN-M and PAPI in Binance's reply shapes.

A part of ``SimTrading``: handlers call the matching engine and read the account's state.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets as _random
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from crossfury.sim.market import SymbolState
from crossfury.sim.trading.common import (
    _FINAL,
    _ZERO,
    ApiError,
    SimOrder,
    _dumps,
    _now_ms,
    _num,
    _scope,
)


class RestEndpoints:
    """Signed REST routes and their handlers (mixed into ``SimTrading``)."""

    # -- plumbing -------------------------------------------------------------------------------------

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
        # One deque of order times per limit, each trimmed to its own window: the count is its length, so an
        # order costs the same however many the account sent in the last minute (a scan grew with them).
        now = time.monotonic()
        headers, counted = {}, []
        for unit, (window, limit) in self.order_limits.items():
            q = self._order_times.get(unit)
            if q is None:
                q = self._order_times[unit] = deque()
            horizon = now - window
            while q and q[0] <= horizon:
                q.popleft()
            if len(q) >= limit:
                raise ApiError(429, -1015, f"Too many new orders; current limit is {limit} orders per "
                                           f"{'TEN_SECONDS' if unit == '10S' else 'MINUTE' if unit == '1M' else 'DAY'}.")
            headers[f"X-MBX-ORDER-COUNT-{unit}"] = str(len(q) + 1)
            counted.append(q)
        for q in counted:  # only an accepted order counts
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

    async def _reply_faults(self, new: bool) -> None:
        hang, n = self.hang_after_accept
        if new and n > 0:
            self.hang_after_accept = (hang, n - 1)
            await asyncio.sleep(hang)
        delay, n = self.ack_delay
        if n > 0:
            self.ack_delay = (delay, n - 1)
            await asyncio.sleep(delay)

    # -- futures and PAPI orders ----------------------------------------------------------------------

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
