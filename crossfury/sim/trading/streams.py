# SPDX-License-Identifier: MIT
"""The simulated account's user data: listenKey lifecycle with expiry, listenKey streams (``/ws/<key>``,
``/private/ws``, ``/pm/ws/<key>``), the spot WS-API subscription, and the user events in Binance's shapes
(protocols/binance.md section 9).

A part of ``SimTrading``: the matching engine calls ``_emit_order`` and ``_emit_account``.
"""

from __future__ import annotations

import asyncio
import json
import secrets as _random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from crossfury.sim.market import SymbolState
from crossfury.sim.trading.common import (
    _ZERO,
    ApiError,
    SimFill,
    SimOrder,
    _dumps,
    _now_ms,
    _num,
)


@dataclass
class UserConn:
    ws: web.WebSocketResponse
    scope: str  # spot, usdm, coinm, papi
    key: str | None  # listenKey, None for a WS-API subscription
    subscription: int | None = None
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    dead: bool = False


class UserStreams:
    """listenKeys, user-stream connections and user events (mixed into ``SimTrading``)."""

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
