# SPDX-License-Identifier: MIT
"""Binance trading as data: endpoints per market, and the functions that read its replies and user events.

Spot, USD-M, COIN-M and Portfolio Margin (UM) differ in paths, in how post-only is spelled (GTX vs
LIMIT_MAKER), in which markets can modify an order, and in where the user stream lives (protocols/binance.md
sections 8-9). Everything else is shared: the signing, the order states, and the event shapes below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from crossfury.core.errors import DecodeError
from crossfury.events import (
    Balance,
    Exchange,
    Fill,
    MarketType,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
)
from crossfury.exchanges.spec import Instrument


@dataclass(frozen=True)
class TradingSpec:
    """The trading endpoints of one Binance market (sections 8-9)."""

    api: str                          # spot, usdm, coinm, papi
    rest_url: str | None              # trading REST base when it differs from market data (PAPI); None = same
    ws_url: str | None                # user-stream WebSocket base when it differs (spot WS API); None = same
    order_path: str
    open_orders_path: str
    cancel_all_path: str              # DELETE
    trades_path: str
    account_path: str
    balance_path: str | None
    positions_path: str | None
    listen_key_path: str | None       # None: spot, whose user data comes over the WS API (section 0)
    user_ws_path: str                 # "{key}" is the listenKey
    time_path: str                    # on the market-data REST base
    post_only: str                    # "GTX" (a timeInForce) or "LIMIT_MAKER" (an order type)
    can_modify: bool
    max_client_id: int
    order_limits: tuple[tuple[str, float, int], ...]  # (X-MBX-ORDER-COUNT-<unit>, window s, limit)


SPOT_TRADING = TradingSpec(
    api="spot", rest_url=None, ws_url="wss://ws-api.binance.com:443", order_path="/api/v3/order",
    open_orders_path="/api/v3/openOrders", cancel_all_path="/api/v3/openOrders", trades_path="/api/v3/myTrades",
    account_path="/api/v3/account", balance_path=None, positions_path=None, listen_key_path=None,
    user_ws_path="/ws-api/v3", time_path="/api/v3/time", post_only="LIMIT_MAKER", can_modify=False,
    max_client_id=36, order_limits=(("10S", 10.0, 100), ("1D", 86400.0, 200_000)))

USDM_TRADING = TradingSpec(
    api="usdm", rest_url=None, ws_url=None, order_path="/fapi/v1/order", open_orders_path="/fapi/v1/openOrders",
    cancel_all_path="/fapi/v1/allOpenOrders", trades_path="/fapi/v1/userTrades", account_path="/fapi/v2/account",
    balance_path="/fapi/v2/balance", positions_path="/fapi/v2/positionRisk", listen_key_path="/fapi/v1/listenKey",
    user_ws_path="/private/ws?listenKey={key}",  # section 9.2: the legacy /ws/<key> stopped delivering in 2026
    time_path="/fapi/v1/time", post_only="GTX", can_modify=True, max_client_id=36,
    order_limits=(("10S", 10.0, 300), ("1M", 60.0, 1200)))

COINM_TRADING = TradingSpec(
    api="coinm", rest_url=None, ws_url=None, order_path="/dapi/v1/order", open_orders_path="/dapi/v1/openOrders",
    cancel_all_path="/dapi/v1/allOpenOrders", trades_path="/dapi/v1/userTrades", account_path="/dapi/v1/account",
    balance_path="/dapi/v1/balance", positions_path="/dapi/v1/positionRisk", listen_key_path="/dapi/v1/listenKey",
    user_ws_path="/ws/{key}", time_path="/dapi/v1/time", post_only="GTX", can_modify=True, max_client_id=36,
    order_limits=(("10S", 10.0, 300), ("1M", 60.0, 1200)))

PAPI_TRADING = TradingSpec(
    api="papi", rest_url="https://papi.binance.com", ws_url=None, order_path="/papi/v1/um/order",
    open_orders_path="/papi/v1/um/openOrders", cancel_all_path="/papi/v1/um/allOpenOrders",
    trades_path="/papi/v1/um/userTrades", account_path="/papi/v1/account", balance_path="/papi/v1/balance",
    positions_path="/papi/v1/um/positionRisk", listen_key_path="/papi/v1/listenKey", user_ws_path="/pm/ws/{key}",
    time_path="/fapi/v1/time", post_only="GTX", can_modify=True, max_client_id=32,  # section 8.3: 32, not 36
    order_limits=(("10S", 10.0, 300), ("1M", 60.0, 1200)))

_STATUS = {"NEW": OrderStatus.NEW, "PENDING_NEW": OrderStatus.NEW, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
           "FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED, "PENDING_CANCEL": OrderStatus.NEW,
           "REJECTED": OrderStatus.REJECTED, "EXPIRED": OrderStatus.EXPIRED,
           "EXPIRED_IN_MATCH": OrderStatus.EXPIRED}
_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "GTX": TimeInForce.POST_ONLY,
        "GTD": TimeInForce.GTC, "RPI": TimeInForce.POST_ONLY}
_NATIVE_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_SIDE = {"BUY": Side.BUY, "SELL": Side.SELL}
_MS = 1_000_000
_EX = Exchange.BINANCE

#: lookup(native symbol) -> the instrument, or None for a symbol the connector does not know.
Lookup = Callable[[str], Instrument | None]


def order_params(ts: TradingSpec, inst: Instrument, side: Side, qty: str, px: str | None, order_type: OrderType,
                 time_in_force: TimeInForce, reduce_only: bool, client_order_id: str) -> dict[str, str]:
    """Return the params of a new order (sections 8.1-8.3); post-only is GTX or LIMIT_MAKER by market."""
    params = {"symbol": inst.native, "side": side.value.upper(), "quantity": qty,
              "newClientOrderId": client_order_id}
    if order_type is OrderType.MARKET:
        params["type"] = "MARKET"
    elif time_in_force is TimeInForce.POST_ONLY and ts.post_only == "LIMIT_MAKER":
        params.update(type="LIMIT_MAKER", price=px or "")
    else:
        params.update(type="LIMIT", price=px or "", timeInForce=ts.post_only if time_in_force is
                      TimeInForce.POST_ONLY else _NATIVE_TIF[time_in_force])
    if reduce_only:
        params["reduceOnly"] = "true"
    if ts.api == "spot":  # the default for LIMIT_MAKER is ACK, which has no status: always ask for RESULT
        params["newOrderRespType"] = "RESULT"
    return params


class _OrderReply(msgspec.Struct):
    """The fields of an order reply (new, modify, cancel, query, open orders) this parser reads."""

    orderId: int
    clientOrderId: str
    status: str
    side: str
    origClientOrderId: str = ""  # spot cancel: the order's own id ("clientOrderId" is the cancel's)
    price: str = "0"
    avgPrice: str = "0"
    origQty: str = "0"
    executedQty: str = "0"
    cummulativeQuoteQty: str = ""
    timeInForce: str = "GTC"
    type: str = "LIMIT"
    reduceOnly: bool = False
    updateTime: int = 0
    transactTime: int = 0


_ORDER_REPLY = msgspec.json.Decoder(_OrderReply)


def decode_order_reply(body: bytes) -> _OrderReply:
    """Decode an order reply body straight into the fields ``parse_order`` reads (the order path's fast lane).

    Raises DecodeError naming what did not fit (the order itself may exist: the caller can query it).
    """
    try:
        return _ORDER_REPLY.decode(body)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"order reply not understood ({exc}): {body[:200]!r}") from None


def parse_order(obj: dict[str, Any] | _OrderReply, inst: Instrument, local_ts: int) -> OrderUpdate:
    """Read an order reply (new, modify, cancel, query, open orders) of any Binance market.

    ``{"orderId":8000001,"symbol":"BTCUSDT","status":"NEW","clientOrderId":"cf-1","price":"67000.0",
    "avgPrice":"0","origQty":"0.010","executedQty":"0","timeInForce":"GTX","type":"LIMIT","side":"BUY",...}``
    """
    o = obj if isinstance(obj, _OrderReply) else msgspec.convert(obj, _OrderReply)
    filled = float(o.executedQty or 0)
    avg = float(o.avgPrice or 0)
    if not avg and filled and o.cummulativeQuoteQty:  # spot: average = quote / base (section 9.5)
        avg = float(o.cummulativeQuoteQty) / filled
    tif = TimeInForce.POST_ONLY if o.type == "LIMIT_MAKER" else _TIF.get(o.timeInForce, TimeInForce.GTC)
    return OrderUpdate(
        exchange=_EX, market=inst.market, exch_ts=(o.updateTime or o.transactTime) * _MS, local_ts=local_ts,
        symbol=inst.symbol, client_order_id=o.origClientOrderId or o.clientOrderId, order_id=str(o.orderId),
        side=_SIDE[o.side], order_type=OrderType.MARKET if o.type == "MARKET" else OrderType.LIMIT,
        time_in_force=tif, px=float(o.price or 0), qty=float(o.origQty or 0), filled_qty=filled, avg_px=avg,
        status=_STATUS[o.status], reduce_only=o.reduceOnly)


def parse_user_event(obj: dict[str, Any], lookup: Lookup, local_ts: int) -> list[Any]:
    """Map one user-data event to normalised messages (sections 9.3-9.6); unknown events give [].

    ``{"e":"ORDER_TRADE_UPDATE","E":1717000005000,"T":1717000004998,"o":{"s":"BTCUSDT","c":"cf-0001",...}}``
    """
    kind = obj.get("e")
    if kind == "ORDER_TRADE_UPDATE":
        return _futures_order(obj, lookup, local_ts)
    if kind == "executionReport":
        return _spot_order(obj, lookup, local_ts)
    if kind == "ACCOUNT_UPDATE":
        return _futures_account(obj, lookup, local_ts)
    if kind == "outboundAccountPosition":
        ts = int(obj.get("E", 0)) * _MS
        return [Balance(exchange=_EX, market=MarketType.SPOT, exch_ts=ts, local_ts=local_ts,
                        asset=b["a"], free=float(b["f"]), locked=float(b["l"])) for b in obj.get("B", ())]
    return []


class _OrderFields(msgspec.Struct):
    """The fields of an order event this parser reads: futures ``o`` (section 9.3) and spot ``executionReport``
    (section 9.5) share their letters. Unknown fields are skipped by the decoder, never read."""

    s: str
    c: str
    S: str
    X: str
    i: int
    o: str = "LIMIT"
    f: str = "GTC"
    q: str = "0"
    p: str = "0"
    x: str = ""
    l: str = "0"
    z: str = "0"
    L: str = "0"
    T: int = 0
    t: int = 0
    m: bool = False
    R: bool = False
    N: str | None = None
    n: str | None = None
    ap: str = "0"  # futures: average price
    C: str = ""  # spot: the original client id of a cancelled order
    Z: str = "0"  # spot: cumulative quote quantity
    E: int = 0  # spot: event time (futures carry it outside "o")


class _FuturesOrderEvent(msgspec.Struct):
    E: int = 0
    o: _OrderFields | None = None


_FUTURES_ORDER_EVENT = msgspec.json.Decoder(_FuturesOrderEvent)
_FUTURES_ORDER_PREFIX = b'{"e":"ORDER_TRADE_UPDATE"'


def decode_order_event(payload: bytes, lookup: Lookup, local_ts: int) -> list[Any] | None:
    """Read a futures ``ORDER_TRADE_UPDATE`` frame straight into messages; None for any other frame.

    The order path's fast lane: a typed decode reads only the fields used, about half the work of building
    the whole event as a dict. A frame of another shape, or one that does not fit the types, returns None
    and goes through ``parse_json`` and ``parse_user_event`` like every other event.
    """
    if not payload.startswith(_FUTURES_ORDER_PREFIX):
        return None
    try:
        event = _FUTURES_ORDER_EVENT.decode(payload)
    except msgspec.DecodeError:
        return None
    if event.o is None:
        return None
    return _futures_messages(event.E, event.o, lookup, local_ts)


def _order_and_fill(inst: Instrument, ts: int, local_ts: int, o: _OrderFields, tif: TimeInForce,
                    order_type: OrderType, avg: float, client_order_id: str) -> list[Any]:
    side = _SIDE[o.S]
    order_id = str(o.i)
    update = OrderUpdate(
        exchange=_EX, market=inst.market, exch_ts=ts, local_ts=local_ts, symbol=inst.symbol,
        client_order_id=client_order_id, order_id=order_id, side=side, order_type=order_type, time_in_force=tif,
        px=float(o.p or 0), qty=float(o.q or 0), filled_qty=float(o.z or 0), avg_px=avg, status=_STATUS[o.X],
        reduce_only=o.R)
    if o.x != "TRADE":
        return [update]
    last = float(o.l or 0)
    if last <= 0:
        return [update]
    return [update, Fill(exchange=_EX, market=inst.market, exch_ts=o.T * _MS, local_ts=local_ts, symbol=inst.symbol,
                         order_id=order_id, client_order_id=client_order_id, trade_id=str(o.t), side=side,
                         px=float(o.L), qty=last, fee=float(o.n or 0), fee_asset=o.N or "", is_maker=o.m)]


def _futures_messages(event_ms: int, o: _OrderFields, lookup: Lookup, local_ts: int) -> list[Any]:
    inst = lookup(o.s)
    if inst is None:
        return []
    order_type = OrderType.MARKET if o.o == "MARKET" else OrderType.LIMIT
    return _order_and_fill(inst, event_ms * _MS, local_ts, o, _TIF.get(o.f, TimeInForce.GTC), order_type,
                           float(o.ap or 0), o.c)


def _futures_order(obj: dict[str, Any], lookup: Lookup, local_ts: int) -> list[Any]:
    return _futures_messages(int(obj.get("E", 0)), msgspec.convert(obj["o"], _OrderFields), lookup, local_ts)


def _spot_order(obj: dict[str, Any], lookup: Lookup, local_ts: int) -> list[Any]:
    o = msgspec.convert(obj, _OrderFields)
    inst = lookup(o.s)
    if inst is None:
        return []
    filled = float(o.z or 0)
    avg = float(o.Z or 0) / filled if filled else 0.0
    tif = TimeInForce.POST_ONLY if o.o == "LIMIT_MAKER" else _TIF.get(o.f, TimeInForce.GTC)
    order_type = OrderType.MARKET if o.o == "MARKET" else OrderType.LIMIT
    # A cancel: "c" is the cancel request's own id, "C" the order's (section 9.5).
    return _order_and_fill(inst, o.E * _MS, local_ts, o, tif, order_type, avg, o.C or o.c)


def _futures_account(obj: dict[str, Any], lookup: Lookup, local_ts: int) -> list[Any]:
    ts = int(obj.get("E", 0)) * _MS
    a = obj.get("a", {})
    out: list[Any] = []
    market = None
    for p in a.get("P", ()):
        inst = lookup(p["s"])
        if inst is None:
            continue
        market = inst.market
        out.append(Position(exchange=_EX, market=inst.market, exch_ts=ts, local_ts=local_ts,
                            symbol=inst.symbol, qty=float(p["pa"]), entry_px=float(p["ep"]),
                            unrealized_pnl=float(p.get("up") or 0)))
    for b in a.get("B", ()):
        out.insert(0, Balance(exchange=_EX, market=market or MarketType.PERPETUAL, exch_ts=ts,
                              local_ts=local_ts, asset=b["a"], free=float(b["cw"]), locked=0.0))
    return out


def parse_fill(obj: dict[str, Any], inst: Instrument, client_order_id: str, local_ts: int) -> Fill:
    """Read one account trade (``myTrades`` / ``userTrades``) as a Fill."""
    buyer = obj["isBuyer"] if "isBuyer" in obj else obj.get("buyer", obj.get("side") == "BUY")
    return Fill(exchange=_EX, market=inst.market, exch_ts=int(obj.get("time", 0)) * _MS,
                local_ts=local_ts, symbol=inst.symbol, order_id=str(obj["orderId"]), client_order_id=client_order_id,
                trade_id=str(obj["id"]), side=Side.BUY if buyer else Side.SELL, px=float(obj["price"]),
                qty=float(obj["qty"]), fee=float(obj.get("commission") or 0), fee_asset=obj.get("commissionAsset", ""),
                is_maker=bool(obj.get("isMaker", obj.get("maker", False))))


def parse_balances(ts: TradingSpec, obj: Any, market, local_ts: int) -> list[Balance]:
    """Read the balances reply of the market (spot account, futures balance, PAPI balance)."""
    ex = _EX
    if ts.api == "spot":
        rows = obj.get("balances", [])
        return [Balance(exchange=ex, market=market, exch_ts=0, local_ts=local_ts, asset=b["asset"],
                        free=float(b["free"]), locked=float(b["locked"])) for b in rows]
    rows = obj if isinstance(obj, list) else [obj]
    out = []
    for b in rows:
        if ts.api == "papi":
            total = float(b.get("totalWalletBalance") or 0)
            out.append(Balance(exchange=ex, market=market, exch_ts=int(b.get("updateTime", 0)) * _MS,
                               local_ts=local_ts, asset=b["asset"], free=total, locked=0.0))
        else:
            total, available = float(b.get("balance") or 0), float(b.get("availableBalance") or 0)
            out.append(Balance(exchange=ex, market=market, exch_ts=int(b.get("updateTime", 0)) * _MS,
                               local_ts=local_ts, asset=b["asset"], free=available, locked=max(0.0, total - available)))
    return out


def parse_positions(obj: list[dict[str, Any]], lookup: Lookup, local_ts: int) -> list[Position]:
    """Read ``positionRisk`` rows with a non-zero amount as Positions."""
    out = []
    for p in obj:
        inst = lookup(p["symbol"])
        if inst is None or not float(p.get("positionAmt") or 0):
            continue
        out.append(Position(exchange=_EX, market=inst.market, exch_ts=int(p.get("updateTime", 0)) * _MS,
                            local_ts=local_ts, symbol=inst.symbol, qty=float(p["positionAmt"]),
                            entry_px=float(p["entryPrice"]), unrealized_pnl=float(p.get("unRealizedProfit") or 0),
                            mark_px=float(p["markPrice"]) if p.get("markPrice") else None))
    return out
