# SPDX-License-Identifier: MIT
"""Binance spot, USD-M, COIN-M and Portfolio Margin, as data (protocols/binance.md §1-§5; trading §6-§9)."""

from __future__ import annotations

import dataclasses

from crossfury.decode import Field, Layout
from crossfury.events import Channel, Exchange, MarketType
from crossfury.exchanges.binance import hooks, layouts, trading
from crossfury.exchanges.spec import ExchangeSpec

#: Futures partial depth (§3.2): the depthUpdate shape with the whole top-N book in b/a, read as a snapshot.
FUTURES_PARTIAL = Layout(
    "binance-futures-partial",
    {"e": Field.EVENT, "E": Field.EXCH_TS, "T": Field.TRANSACT_TS, "s": Field.SYMBOL, "u": Field.LAST_ID,
     "b": Field.BIDS, "a": Field.ASKS},
    required=(Field.LAST_ID, Field.BIDS, Field.ASKS), event="depthUpdate", envelope="data", stream="stream",
)

_COMMON = dict(
    exchange=Exchange.BINANCE,
    snapshot_limit=1000,
    exchange_info_weight=1,
    depth_layout=layouts.DEPTH,
    snapshot_layout=layouts.SNAPSHOT,
    max_connection_age_s=24 * 3600.0,
    used_weight_header="X-MBX-USED-WEIGHT-1M",
    subscribe_message=hooks.subscribe_message,
    unsubscribe_message=hooks.unsubscribe_message,
    parse_control=hooks.parse_control,
    stream_of=hooks.stream_of,
    stream_prefix=hooks.STREAM_PREFIX,
    parse_instruments=hooks.parse_instruments,
)

SPOT = ExchangeSpec(
    name="binance-spot",
    market=MarketType.SPOT,
    ws_url="wss://stream.binance.com:9443",
    rest_url="https://api.binance.com",
    ws_paths={c: "/stream" for c in (Channel.BOOK, Channel.TRADES, Channel.BBO, Channel.KLINE)},
    streams={Channel.BOOK: "{sym}@depth@100ms", Channel.TRADES: "{sym}@trade", Channel.BBO: "{sym}@bookTicker",
             Channel.KLINE: "{sym}@kline_{interval}"},
    partial_depth_stream="{sym}@depth{levels}@100ms",
    trade_streams={"trade": "{sym}@trade", "aggregate": "{sym}@aggTrade"},
    snapshot_path="/api/v3/depth",
    snapshot_weight=hooks.spot_snapshot_weight,
    exchange_info_path="/api/v3/exchangeInfo",
    sync_rule="range",  # U == previous u + 1 (§5.1)
    partial_layout=layouts.SNAPSHOT,  # {"lastUpdateId","bids","asks"}
    max_streams_per_connection=1024,
    max_control_messages_per_s=4.0,  # the limit is 5 incoming per second, pings and pongs included (§2)
    weight_limit_per_minute=6000,
    normalizers={Channel.TRADES: hooks.normalize_trade, Channel.BBO: hooks.normalize_book_ticker,
                 Channel.KLINE: hooks.normalize_kline},
    trading=trading.SPOT_TRADING,
    **_COMMON,
)

USDM = ExchangeSpec(
    name="binance-usdm",
    market=MarketType.PERPETUAL,
    ws_url="wss://fstream.binance.com",
    rest_url="https://fapi.binance.com",
    # Since 2026-04 USD-M serves depth and bookTicker on /public and the rest on /market (§0).
    ws_paths={Channel.BOOK: "/public/stream", Channel.BBO: "/public/stream", Channel.TRADES: "/market/stream",
              Channel.KLINE: "/market/stream", Channel.MARK_PRICE: "/market/stream"},
    streams={Channel.BOOK: "{sym}@depth@100ms", Channel.TRADES: "{sym}@aggTrade", Channel.BBO: "{sym}@bookTicker",
             Channel.KLINE: "{sym}@kline_{interval}", Channel.MARK_PRICE: "{sym}@markPrice@1s"},
    partial_depth_stream="{sym}@depth{levels}@100ms",
    trade_streams={"aggregate": "{sym}@aggTrade"},  # futures has no @trade stream (§3.3)
    snapshot_path="/fapi/v1/depth",
    snapshot_weight=hooks.futures_snapshot_weight,
    exchange_info_path="/fapi/v1/exchangeInfo",
    sync_rule="prev-id",  # pu == previous u (§5.2)
    partial_layout=FUTURES_PARTIAL,
    # The official page says 1024 streams; client libraries keep to 200 and so do we (§2).
    max_streams_per_connection=200,
    max_control_messages_per_s=8.0,  # limit 10 per second (§2)
    weight_limit_per_minute=2400,
    normalizers={Channel.TRADES: hooks.normalize_trade, Channel.BBO: hooks.normalize_book_ticker,
                 Channel.KLINE: hooks.normalize_kline, Channel.MARK_PRICE: hooks.normalize_mark_price},
    trading=trading.USDM_TRADING,
    **_COMMON,
)

COINM = dataclasses.replace(
    USDM,
    name="binance-coinm",
    ws_url="wss://dstream.binance.com",
    rest_url="https://dapi.binance.com",
    ws_paths={c: "/stream" for c in USDM.ws_paths},
    snapshot_path="/dapi/v1/depth",
    exchange_info_path="/dapi/v1/exchangeInfo",
    trading=trading.COINM_TRADING,
)

#: Portfolio Margin, UM side (section 8.3): USD-M market data, trading and user stream on papi.
PAPI = dataclasses.replace(USDM, name="binance-papi", trading=trading.PAPI_TRADING)

SPECS = {s.name: s for s in (SPOT, USDM, COINM, PAPI)}

#: Other Binance environments by name: (REST base, WebSocket base) per market (§1).
ENDPOINTS = {
    ("binance-spot", "testnet"): ("https://testnet.binance.vision", "wss://stream.testnet.binance.vision"),
    ("binance-spot", "demo"): ("https://demo-api.binance.com", "wss://demo-stream.binance.com:9443"),
    ("binance-usdm", "testnet"): ("https://testnet.binancefuture.com", "wss://fstream.binancefuture.com"),
    ("binance-usdm", "demo"): ("https://demo-fapi.binance.com", "wss://demo-fstream.binance.com"),
}
