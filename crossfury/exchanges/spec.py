# SPDX-License-Identifier: MIT
"""What an exchange is, as data: endpoints, stream names, limits, layouts, and the few hooks that differ.

``crossfury.connectors.Connector`` runs any ``ExchangeSpec``; an exchange subpackage declares specs and
writes only the functions whose behaviour truly differs (subscribe frames, reply parsing, instrument lists,
non-book message mapping). Variants of one exchange share fields through ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from crossfury.decode import Layout
from crossfury.events import Channel, Exchange, MarketType, Message


@dataclass(frozen=True)
class Instrument:
    """One tradable instrument: the normalised symbol, the exchange's own name, and its grid."""

    symbol: str  # normalised: BTC-USDT, BTC-USDT-PERP, BTC-USD-PERP, BTC-USDT-250627
    native: str  # as the exchange spells it in REST calls: BTCUSDT, BTCUSD_PERP
    base: str
    quote: str
    market: MarketType
    tick_size: str  # decimal text, exactly as the exchange publishes it
    lot_size: str
    min_qty: str | None = None
    contract_size: str | None = None


@dataclass(frozen=True)
class ControlReply:
    """A reply to a control message (subscribe, unsubscribe): its request id, and the error if refused."""

    request_id: Any
    error: str | None = None
    code: int | None = None


#: normalize(payload, instrument, local_ts) -> a normalised message, or None to skip it.
Normalizer = Callable[[bytes, Instrument, int], Message | None]


@dataclass(frozen=True)
class ExchangeSpec:
    """Everything the generic connector needs to know about one exchange market."""

    name: str                                   # "binance-usdm": the name users pass to crossfury.connect
    exchange: Exchange
    market: MarketType                          # the market type of its instruments (perpetual for swaps)
    ws_url: str                                 # scheme + host, no path: wss://fstream.binance.com
    rest_url: str                               # https://fapi.binance.com
    ws_paths: Mapping[Channel, str]             # the path a channel's streams are served on (/public/stream)
    streams: Mapping[Channel, str]              # stream name templates: {sym} native lowercase, {interval}
    partial_depth_stream: str                   # {sym}, {levels}: top-N full-book stream
    snapshot_path: str                          # REST depth snapshot endpoint
    snapshot_limit: int                         # levels asked for per side
    snapshot_weight: Callable[[int], int]       # request weight of a snapshot of that many levels
    exchange_info_path: str
    exchange_info_weight: int
    sync_rule: str                              # a crossfury.book.SyncRule value: "range", "prev-id"
    depth_layout: Layout                        # diff depth events
    snapshot_layout: Layout                     # REST snapshot bodies
    partial_layout: Layout                      # partial-depth (top-N) stream messages, each a whole book
    max_streams_per_connection: int
    max_control_messages_per_s: float           # the exchange closes a connection that sends more
    max_connection_age_s: float                 # the exchange cuts every connection at this age
    weight_limit_per_minute: int
    used_weight_header: str | None
    subscribe_message: Callable[[list[str], int], str]
    unsubscribe_message: Callable[[list[str], int], str]
    parse_control: Callable[[bytes], ControlReply | None]
    stream_of: Callable[[bytes], bytes | None]  # routing key of a data message (the stream name)
    parse_instruments: Callable[[Any, MarketType], list[Instrument]]
    normalizers: Mapping[Channel, Normalizer]
    trade_streams: Mapping[str, str] = field(default_factory=dict)  # trade kind -> template; default: streams
    time_scale_ns: int = 1_000_000              # exchange timestamps are ms
    stream_prefix: bytes | None = None          # what messages start with up to the stream name, for native
                                                # routing of depth frames ({"stream":"); None: stream_of only
    extra: Mapping[str, Any] = field(default_factory=dict)
    trading: Any = None                         # the market's trading endpoints (a TradingSpec), None = data only

    def at(self, endpoint: str, *, ws_endpoint: str | None = None) -> ExchangeSpec:
        """Return this spec pointed at other servers (testnet, a simulator): REST at ``endpoint``,
        WebSocket at ``ws_endpoint`` or the same host with a ws scheme.

        >>> USDM.at("http://127.0.0.1:8765").ws_url   # doctest: +SKIP
        'ws://127.0.0.1:8765'
        """
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"endpoint must be an http(s) URL with a host, got {endpoint!r}")
        if ws_endpoint is None:
            ws_endpoint = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
        # Trading endpoints on other hosts (PAPI REST, the spot WS API) follow to the same servers.
        trading = dataclasses.replace(self.trading, rest_url=None, ws_url=None) if self.trading else None
        return dataclasses.replace(self, rest_url=endpoint.rstrip("/"), ws_url=ws_endpoint.rstrip("/"),
                                   trading=trading)

    def stream_name(self, channel: Channel, native_symbol: str, *, kline_interval: str = "1m",
                    book_levels: int | None = None, trade_kind: str | None = None) -> str:
        """Return the stream name of a channel for a symbol (``btcusdt@depth@100ms``).

        ``trade_kind`` picks among ``trade_streams`` ("trade": every trade, "aggregate": trades of one taker
        order at one price merged) where the exchange offers both.
        """
        sym = native_symbol.lower()
        if channel is Channel.BOOK and book_levels:
            return self.partial_depth_stream.format(sym=sym, levels=book_levels)
        if channel is Channel.TRADES and trade_kind:
            try:
                return self.trade_streams[trade_kind].format(sym=sym)
            except KeyError:
                known = ", ".join(self.trade_streams) or "none"
                raise ValueError(f"{self.name} has no {trade_kind!r} trade stream; it has {known}") from None
        try:
            template = self.streams[channel]
        except KeyError:
            known = ", ".join(c.value for c in self.streams)
            raise ValueError(f"{self.name} has no {channel.value!r} channel; it has {known}") from None
        return template.format(sym=sym, interval=kline_interval)
