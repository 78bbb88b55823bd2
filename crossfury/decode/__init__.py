# SPDX-License-Identifier: MIT
"""Raw exchange messages to typed records, in C, without a Python object per level.

A ``Layout`` says which exchange keys hold which normalised ``Field`` in one message shape; exchanges
declare theirs as data (``crossfury.exchanges.binance.layouts``). The C scanner reads those fields,
validates the rest of the JSON while skipping it, and returns level text as spans into the message.
Everything off the hot path (acks, errors, user data, exchange info) goes through ``parse_json``: msgspec,
chosen by ``benchmarks/bench_generic_json.py`` (json / orjson / msgspec / pysimdjson, in us per pass: acks
5.3 / 0.8 / 0.6 / 1.1; a 140 KB exchangeInfo 763 / 359 / 403 / 707; 180 REST and user-data bodies 1322 / 568 /
644 / 810). It is within 12% of orjson on large bodies, faster on small ones, already a dependency (the
message types), and can decode straight into typed structs.
"""

from __future__ import annotations

import enum

import msgspec
import numpy as np

from crossfury._native.decode import FIELD_NAMES, Layout, decimal_to_float, decode
from crossfury.core.errors import DecodeError

__all__ = ["DepthRecord", "Field", "Layout", "TickerRecord", "TradeRecord", "decimal_to_float", "decode",
           "decode_book_ticker", "decode_depth", "decode_trade", "parse_json"]


class Field(enum.IntEnum):
    """Normalised message fields (mirrors cf_field in csrc/decode/decode.h)."""

    EVENT = 0
    SYMBOL = 1
    EXCH_TS = 2
    TRANSACT_TS = 3
    FIRST_ID = 4
    LAST_ID = 5
    PREV_ID = 6
    TRADE_ID = 7
    BIDS = 8
    ASKS = 9
    PRICE = 10
    QTY = 11
    BID_PX = 12
    BID_QTY = 13
    ASK_PX = 14
    ASK_QTY = 15
    BUYER_MAKER = 16
    TRADE_TYPE = 17
    INDEX_PX = 18
    FUNDING_RATE = 19


assert tuple(f.name.lower() for f in Field) == FIELD_NAMES  # the C mirror and this enum agree


class DepthRecord(msgspec.Struct, frozen=True, gc=False):
    """Header of a depth message or snapshot; times as the exchange sent them (ms on Binance)."""

    event: str | None
    symbol: str | None
    exch_ts: int | None
    transact_ts: int | None
    first_id: int | None
    last_id: int | None
    prev_id: int | None
    stream: str | None


class TradeRecord(msgspec.Struct, frozen=True, gc=False):
    symbol: str | None
    exch_ts: int | None
    transact_ts: int | None
    trade_id: int | None
    px: float
    qty: float
    buyer_maker: bool | None
    stream: str | None


class TickerRecord(msgspec.Struct, frozen=True, gc=False):
    symbol: str | None
    last_id: int | None
    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float
    stream: str | None
    exch_ts: int | None = None


def decode_depth(msg: bytes | str, layout: Layout) -> tuple[DepthRecord, np.ndarray, np.ndarray]:
    """Decode a depth message or snapshot: its header, and bids and asks as (n, 2) float arrays [px, qty]."""
    f, bids, asks = decode(layout, msg, "depth message")
    record = DepthRecord(f.get("event"), f.get("symbol"), f.get("exch_ts"), f.get("transact_ts"),
                         f.get("first_id"), f.get("last_id"), f.get("prev_id"), f.get("stream"))
    return record, bids, asks


def _float(fields: dict, key: str) -> float:
    return decimal_to_float(fields[key], key)


def decode_trade(msg: bytes | str, layout: Layout) -> TradeRecord:
    """Decode a trade or aggregate-trade message."""
    f, _, _ = decode(layout, msg, "trade message")
    return TradeRecord(f.get("symbol"), f.get("exch_ts"), f.get("transact_ts"), f.get("trade_id"),
                       _float(f, "price"), _float(f, "qty"), f.get("buyer_maker"), f.get("stream"))


def decode_book_ticker(msg: bytes | str, layout: Layout) -> TickerRecord:
    """Decode a best bid/offer message."""
    f, _, _ = decode(layout, msg, "book ticker message")
    return TickerRecord(f.get("symbol"), f.get("last_id"), _float(f, "bid_px"), _float(f, "bid_qty"),
                        _float(f, "ask_px"), _float(f, "ask_qty"), f.get("stream"), f.get("exch_ts"))


_generic = msgspec.json.Decoder()


def parse_json(data: bytes | str) -> object:
    """Parse any JSON text into Python objects (the generic path for everything that is not hot)."""
    try:
        return _generic.decode(data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"not valid JSON: {exc}") from None
