# SPDX-License-Identifier: MIT
"""The Binance functions that differ from other exchanges: control frames, routing, instruments, mapping.

Sections cited are of ../shared/docs/protocols/binance.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from crossfury.core.errors import DecodeError
from crossfury.decode import decode_book_ticker, decode_trade, parse_json
from crossfury.events import BestBidOffer, Exchange, Kline, MarketType, MarkPrice, Side, Trade
from crossfury.exchanges.binance import layouts
from crossfury.exchanges.spec import ControlReply, Instrument

#: A combined-stream message up to its stream name (§2: Binance writes the envelope compactly, stream first).
STREAM_PREFIX = b'{"stream":"'
_encode = msgspec.json.encode


def subscribe_message(streams: list[str], request_id: int) -> str:
    """Return the SUBSCRIBE frame (§2): ``{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":7}``."""
    return _encode({"method": "SUBSCRIBE", "params": streams, "id": request_id}).decode()


def unsubscribe_message(streams: list[str], request_id: int) -> str:
    """Return the UNSUBSCRIBE frame (§2)."""
    return _encode({"method": "UNSUBSCRIBE", "params": streams, "id": request_id}).decode()


def parse_control(payload: bytes) -> ControlReply | None:
    """Read a control reply (§2): ``{"result":null,"id":7}`` or ``{"code":2,"msg":"Invalid request","id":7}``.

    Returns None for anything else (a data message on a raw connection).
    """
    if payload.startswith(STREAM_PREFIX) or b'"id"' not in payload:
        return None
    try:
        obj = parse_json(payload)
    except DecodeError:
        return None
    if not isinstance(obj, dict) or "id" not in obj or not ("result" in obj or "code" in obj):
        return None
    if "code" in obj:
        return ControlReply(obj["id"], str(obj.get("msg", "refused")), obj.get("code"))
    return ControlReply(obj["id"])


def stream_of(payload: bytes) -> bytes | None:
    """Return the stream name of a combined-stream message (``{"stream":"btcusdt@depth","data":{...}}``).

    Binance writes the envelope compactly with ``stream`` first, so a slice finds it; anything else takes
    the generic parser.
    """
    if payload.startswith(STREAM_PREFIX):
        end = payload.find(b'"', 11)
        return payload[11:end] if end > 11 else None
    try:
        obj = parse_json(payload)
    except DecodeError:
        return None
    stream = obj.get("stream") if isinstance(obj, dict) else None
    return stream.encode() if isinstance(stream, str) else None


def _size(text: str) -> str:
    """Exchange sizes come padded ("0.01000000"); keep the exact value in its shortest form ("0.01")."""
    d = Decimal(text)
    if d <= 0:
        raise DecodeError(f"size {text!r} is not positive")
    return format(d.normalize(), "f")


def _normalised_symbol(base: str, quote: str, contract_type: str | None, delivery_ms: int | None) -> tuple[
        str, MarketType]:
    if not contract_type:
        return f"{base}-{quote}", MarketType.SPOT
    if contract_type in ("PERPETUAL", "TRADIFI_PERPETUAL"):
        return f"{base}-{quote}-PERP", MarketType.PERPETUAL
    import datetime as _dt

    expiry = _dt.datetime.fromtimestamp((delivery_ms or 0) / 1000, _dt.UTC).strftime("%y%m%d")
    return f"{base}-{quote}-{expiry}", MarketType.FUTURES


def parse_instruments(info: Any, market: MarketType) -> list[Instrument]:
    """Read ``exchangeInfo`` (§1): symbols in TRADING status with PRICE_FILTER tickSize and LOT_SIZE stepSize."""
    if not isinstance(info, dict) or not isinstance(info.get("symbols"), list):
        raise DecodeError("exchangeInfo has no 'symbols' list")
    out = []
    for s in info["symbols"]:
        if not isinstance(s, dict) or s.get("status", "TRADING") != "TRADING":
            continue
        filters = {f.get("filterType"): f for f in s.get("filters", ()) if isinstance(f, dict)}
        try:
            tick = _size(filters["PRICE_FILTER"]["tickSize"])
            lot = _size(filters["LOT_SIZE"]["stepSize"])
            symbol, kind = _normalised_symbol(s["baseAsset"], s["quoteAsset"], s.get("contractType"),
                                              s.get("deliveryDate"))
        except (KeyError, TypeError, ArithmeticError, DecodeError) as exc:
            raise DecodeError(f"exchangeInfo symbol {s.get('symbol')!r}: missing or bad field ({exc})") from None
        min_qty = filters["LOT_SIZE"].get("minQty")
        contract = s.get("contractSize")
        out.append(Instrument(symbol, s["symbol"], s["baseAsset"], s["quoteAsset"], kind, tick, lot,
                              _size(min_qty) if min_qty and Decimal(min_qty) > 0 else None,
                              str(contract) if contract is not None else None))
    return out


def normalize_trade(payload: bytes, inst: Instrument, local_ts: int) -> Trade:
    """``{"e":"aggTrade","E":1717000001000,"s":"BTCUSDT","a":880001,"p":"67000.10","q":"0.030",...,"m":false}``
    or the ``trade`` shape (§3.3); ``m`` true means the buyer was the maker, so the taker sold."""
    r = decode_trade(payload, layouts.ANY_TRADE)
    return Trade(exchange=Exchange.BINANCE, market=inst.market, exch_ts=(r.exch_ts or 0) * 1_000_000,
                 local_ts=local_ts, symbol=inst.symbol, px=r.px, qty=r.qty,
                 side=Side.SELL if r.buyer_maker else Side.BUY, trade_id=str(r.trade_id))


def normalize_book_ticker(payload: bytes, inst: Instrument, local_ts: int) -> BestBidOffer:
    """``{"u":400900217,"s":"BNBUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"}`` (§3.4; futures adds E)."""
    r = decode_book_ticker(payload, layouts.BOOK_TICKER)
    return BestBidOffer(exchange=Exchange.BINANCE, market=inst.market, exch_ts=(r.exch_ts or 0) * 1_000_000,
                        local_ts=local_ts, symbol=inst.symbol, bid_px=r.bid_px, bid_qty=r.bid_qty,
                        ask_px=r.ask_px, ask_qty=r.ask_qty, last_id=r.last_id)


def _data(payload: bytes) -> dict:
    obj = parse_json(payload)
    if isinstance(obj, dict) and isinstance(obj.get("data"), dict):
        obj = obj["data"]
    if not isinstance(obj, dict):
        raise DecodeError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def normalize_kline(payload: bytes, inst: Instrument, local_ts: int) -> Kline:
    """``{"e":"kline","E":..,"s":"BTCUSDT","k":{"t":..,"T":..,"i":"1m","o":"66990.0",...,"x":false}}`` (§3.5)."""
    obj = _data(payload)
    try:
        k = obj["k"]
        return Kline(exchange=Exchange.BINANCE, market=inst.market, exch_ts=int(obj["E"]) * 1_000_000,
                     local_ts=local_ts, symbol=inst.symbol, interval=str(k["i"]), open_ts=int(k["t"]) * 1_000_000,
                     close_ts=(int(k["T"]) + 1) * 1_000_000, open=float(k["o"]), high=float(k["h"]),
                     low=float(k["l"]), close=float(k["c"]), volume=float(k["v"]), closed=bool(k["x"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"kline message: missing or bad field ({exc!r})") from None


def normalize_mark_price(payload: bytes, inst: Instrument, local_ts: int) -> MarkPrice:
    """``{"e":"markPriceUpdate","E":..,"s":"BTCUSDT","p":"67002.51","i":"66998.77","r":"0.0001","T":..}`` (§3.6)."""
    obj = _data(payload)
    try:
        return MarkPrice(exchange=Exchange.BINANCE, market=inst.market, exch_ts=int(obj["E"]) * 1_000_000,
                         local_ts=local_ts, symbol=inst.symbol, mark_px=float(obj["p"]),
                         index_px=float(obj["i"]) if obj.get("i") else None,
                         funding_rate=float(obj["r"]) if obj.get("r") not in (None, "") else None,
                         next_funding_ts=int(obj["T"]) * 1_000_000 if obj.get("T") else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"markPrice message: missing or bad field ({exc!r})") from None


def spot_snapshot_weight(limit: int) -> int:
    """Weight of ``GET /api/v3/depth`` (§4)."""
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def futures_snapshot_weight(limit: int) -> int:
    """Weight of ``GET /fapi/v1/depth`` and ``/dapi/v1/depth`` (§4)."""
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
