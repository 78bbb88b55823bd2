# SPDX-License-Identifier: MIT
"""The exchange side of one Binance market: symbols, books, update ids and the wire payloads they produce.

This is an independent implementation on purpose (STYLE.md section 10): prices and quantities are plain ints
in units of the symbol's wire decimals, a book is two dicts, and payloads are written as text here. Nothing is
imported from crossfury's decode, book or connector code, so a bug there cannot hide behind the same bug here.

Feeds (``SyntheticFeed`` here, ``ReplayFeed`` in ``replay.py``, a matching engine later) change levels with
``Market.set_level``, close each depth event with ``Market.flush_event`` and report fills with
``Market.add_trade``. The market keeps the update ids, queues the resulting messages under stream keys and
answers REST snapshots from the same state, so a snapshot always matches what was sent.
"""

from __future__ import annotations

import calendar
import heapq
import random
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from crossfury.core.errors import ConfigError

MARKETS = ("spot", "usdm", "coinm")
DEFAULT_SYMBOLS = {"spot": ["BTCUSDT", "ETHUSDT", "SOLUSDT"], "usdm": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
                   "coinm": ["BTCUSD_PERP", "ETHUSD_PERP"]}
KLINE_INTERVALS_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000, "1M": 0,  # 1M: calendar month
}
_DAY_MS = 86_400_000
_FUNDING_MS = 8 * 3_600_000
_PX_CACHE_MAX = 200_000


def fmt_units(units: int, decimals: int) -> str:
    """Format a non-negative integer of 10**-decimals as fixed-point text: (6394390, 2) -> "63943.90"."""
    if decimals == 0:
        return str(units)
    s = str(units).rjust(decimals + 1, "0")
    return f"{s[:-decimals]}.{s[-decimals:]}"


def parse_units(text: str, decimals: int) -> int:
    """Parse decimal text into an integer of 10**-decimals; raise ValueError when it is off that grid."""
    whole, _, frac = text.partition(".")
    if len(frac) > decimals:
        if frac[decimals:].strip("0"):
            raise ValueError(f"{text!r} has more than {decimals} decimals")
        frac = frac[:decimals]
    return int(whole or "0") * 10**decimals + int(frac.ljust(decimals, "0") or "0")


@dataclass(frozen=True)
class SymbolSpec:
    """One instrument: its wire decimals, tick and lot size (in units of those decimals) and assets."""

    symbol: str
    base: str
    quote: str
    price_decimals: int
    tick_units: int
    qty_decimals: int
    step_units: int
    start_px_units: int
    margin_asset: str | None = None  # futures only
    pair: str | None = None  # futures only
    contract_size: int | None = None  # COIN-M only: quote value of one contract

    @property
    def tick_size(self) -> str:
        """Return the tick as wire text ("0.10")."""
        return fmt_units(self.tick_units, self.price_decimals)

    @property
    def step_size(self) -> str:
        """Return the lot step as wire text ("0.001")."""
        return fmt_units(self.step_units, self.qty_decimals)


def split_symbol(symbol: str, market: str) -> tuple[str, str, str]:
    """Return (base, quote, pair) of a Binance symbol: BTCUSDT -> BTC, USDT; BTCUSD_PERP -> BTC, USD, BTCUSD."""
    if market == "coinm":
        pair = symbol.split("_")[0]
        return pair[:-3], pair[-3:], pair
    quote = next((q for q in ("USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB")
                  if symbol.endswith(q) and len(symbol) > len(q)), symbol[-4:])
    return symbol[: -len(quote)], quote, symbol


def make_spec(symbol: str, market: str, price_decimals: int, tick_units: int, qty_decimals: int, step_units: int,
              start_px_units: int, contract_size: int | None = None) -> SymbolSpec:
    """Build a spec, filling the assets (and futures pair and margin asset) from the symbol name."""
    base, quote, pair = split_symbol(symbol, market)
    if market == "spot":
        return SymbolSpec(symbol, base, quote, price_decimals, tick_units, qty_decimals, step_units, start_px_units)
    coinm = market == "coinm"
    return SymbolSpec(symbol, base, quote, price_decimals, tick_units, qty_decimals, step_units, start_px_units,
                      margin_asset=base if coinm else quote, pair=pair,
                      contract_size=(contract_size or 10) if coinm else None)


# Wire decimals as Binance prints them: spot pads to 8 decimals, futures print the price precision.
_CATALOG = {
    "spot": {
        "BTCUSDT": (8, "0.01", 8, "0.00001", "67000"), "ETHUSDT": (8, "0.01", 8, "0.0001", "3500"),
        "SOLUSDT": (8, "0.01", 8, "0.001", "150"), "BNBUSDT": (8, "0.01", 8, "0.001", "600"),
        "XRPUSDT": (8, "0.0001", 8, "1", "0.6"), "DOGEUSDT": (8, "0.00001", 8, "1", "0.15"),
    },
    "usdm": {
        "BTCUSDT": (2, "0.10", 3, "0.001", "67000"), "ETHUSDT": (2, "0.01", 3, "0.001", "3500"),
        "SOLUSDT": (4, "0.0100", 0, "1", "150"), "BNBUSDT": (3, "0.010", 2, "0.01", "600"),
        "XRPUSDT": (4, "0.0001", 1, "0.1", "0.6"), "DOGEUSDT": (6, "0.000010", 0, "1", "0.15"),
    },
    "coinm": {
        "BTCUSD_PERP": (1, "0.1", 0, "1", "67000", 100), "ETHUSD_PERP": (2, "0.01", 0, "1", "3500", 10),
        "SOLUSD_PERP": (3, "0.010", 0, "1", "150", 10), "BNBUSD_PERP": (3, "0.010", 0, "1", "600", 10),
    },
}


def default_specs(market: str, symbols: Iterable[str] | None = None) -> list[SymbolSpec]:
    """Return the specs of ``symbols`` (default: the market's default list); unknown names get a generic spec."""
    if market not in MARKETS:
        raise ConfigError(f"sim market {market!r} is not one of {', '.join(MARKETS)}")
    specs = []
    for sym in symbols or DEFAULT_SYMBOLS[market]:
        sym = sym.upper()
        if market == "coinm" and not sym.endswith("_PERP"):
            raise ConfigError(f"COIN-M symbol {sym!r} must end in _PERP (e.g. BTCUSD_PERP)")
        row = _CATALOG[market].get(sym) or ((2, "0.01", 0, "1", "10", 10) if market == "coinm"
                                             else (4, "0.0001", 2, "0.01", "10"))
        pd, tick, qd, step, start = row[:5]
        specs.append(make_spec(sym, market, pd, parse_units(tick, pd), qd, parse_units(step, qd),
                               parse_units(start, pd), row[5] if len(row) > 5 else None))
    return specs


# ---- stream names


class StreamKey(NamedTuple):
    """A stream name resolved to its routing key, its kind and the kind's parameter."""

    key: str  # routing key: every stream name that yields the same messages shares one key
    kind: str  # depth, partial, trade, aggTrade, bookTicker, kline, markPrice, other
    param: object  # partial: (levels, interval_ms); kline: interval; markPrice: interval_ms


_DEPTH_TAILS = ("", "@100ms", "@0ms", "@250ms", "@500ms", "@1000ms")
_PARTIAL = re.compile(r"depth(5|10|20)(?:@(100|250|500|1000)ms)?")


def parse_stream(name: str, futures: bool) -> StreamKey:
    """Map a stream name to its routing key.

    Every diff-depth speed shares one key (the sim sends every event on every speed), so ``btcusdt@depth``
    also receives a recording's ``btcusdt@depth@0ms`` events. A name the sim does not generate is its own
    key with kind "other": nothing synthetic arrives on it, but a replay forwards recorded messages under it.
    The symbol part is used as given; only a lowercase symbol matches a market symbol.
    """
    other = StreamKey(name, "other", None)
    sym, at, rest = name.partition("@")
    if not at or not sym:
        return other
    low = rest.lower()
    if low.startswith("depth"):
        if low[5:] in _DEPTH_TAILS:
            return StreamKey(f"{sym}@depth", "depth", None)
        m = _PARTIAL.fullmatch(low)
        if m is None:
            return other
        # binance.md 3.2: spot pushes partial depth every 1000 ms by default, futures every 250 ms.
        interval_ms = int(m.group(2) or (250 if futures else 1000))
        return StreamKey(f"{sym}@depth{m.group(1)}@{interval_ms}ms", "partial", (int(m.group(1)), interval_ms))
    if low == "trade":
        return StreamKey(f"{sym}@trade", "trade", None)
    if low == "aggtrade":
        return StreamKey(f"{sym}@aggTrade", "aggTrade", None)
    if low == "bookticker":
        return StreamKey(f"{sym}@bookTicker", "bookTicker", None)
    if low.startswith("kline_") and rest[6:] in KLINE_INTERVALS_MS:
        return StreamKey(f"{sym}@kline_{rest[6:]}", "kline", rest[6:])
    if futures and low in ("markprice", "markprice@1s"):
        interval_ms = 1000 if low.endswith("@1s") else 3000
        return StreamKey(f"{sym}@markPrice@{interval_ms}ms", "markPrice", interval_ms)
    return other


class StreamIndex(Protocol):
    """What the market needs to know about subscriptions (the server's stream hub implements it)."""

    def wants(self, key: str) -> bool:
        """Return True when some connection subscribes to a stream with this routing key."""

    def periodic(self, symbol_lower: str) -> Iterable[StreamKey]:
        """Return the subscribed partial-depth, kline and mark-price streams of a symbol."""


class _NoStreams:
    def wants(self, key: str) -> bool:
        return False

    def periodic(self, symbol_lower: str) -> Iterable[StreamKey]:
        return ()


class DepthFaults(Protocol):
    """What the market asks of the fault state before it sends a depth event."""

    def take_drop_depth(self, symbol: str) -> bool:
        """Return True when the next depth event of ``symbol`` must not be sent."""


# ---- books and per-symbol state


class Trade(NamedTuple):
    """One fill as the sim reported it: wire texts, trade time in ms, and the maker side."""

    trade_id: int
    price: str
    qty: str
    time_ms: int
    buyer_is_maker: bool


class Candle:
    """One forming kline, built from the trades the market reports."""

    __slots__ = (
        "c",
        "end_ms",
        "first",
        "h",
        "interval",
        "l",
        "last",
        "n",
        "next_push_ms",
        "o",
        "q",
        "start_ms",
        "taker_q",
        "taker_v",
        "v",
    )

    def __init__(self, interval: str, now_ms: int, last_px: int):
        self.interval = interval
        self.start_ms, self.end_ms = _candle_bounds(interval, now_ms)
        self.o = self.h = self.l = self.c = last_px
        self.v = self.q = self.n = self.taker_v = self.taker_q = 0
        self.first = self.last = -1
        self.next_push_ms = 0

    def add(self, px: int, qty: int, trade_id: int, taker_buy: bool) -> None:
        """Fold one fill into the candle."""
        if self.n == 0:
            self.o = self.h = self.l = px
            self.first = trade_id
        self.h, self.l, self.c = max(self.h, px), min(self.l, px), px
        self.v += qty
        self.q += px * qty
        self.n += 1
        self.last = trade_id
        if taker_buy:
            self.taker_v += qty
            self.taker_q += px * qty


def _candle_bounds(interval: str, ms: int) -> tuple[int, int]:
    if interval == "1M":
        t = datetime.fromtimestamp(ms / 1000, tz=UTC)
        start = datetime(t.year, t.month, 1, tzinfo=UTC)
        days = calendar.monthrange(t.year, t.month)[1]
        s = int(start.timestamp()) * 1000
        return s, s + days * _DAY_MS
    size = KLINE_INTERVALS_MS[interval]
    offset = 4 * _DAY_MS if interval == "1w" else 0  # weeks start on Monday; 1970-01-01 was a Thursday
    start = (ms - offset) // size * size + offset
    return start, start + size


class SymbolState:
    """The book, update ids, recent trades and periodic-stream state of one symbol."""

    def __init__(self, spec: SymbolSpec):
        self.spec = spec
        self.sl = spec.symbol.lower()
        self.bids: dict[int, int] = {}  # price units -> qty units
        self.asks: dict[int, int] = {}
        self._bb: int | None = None  # cached best bid; None = recompute
        self._ba: int | None = None
        self.ready = False  # False until the book is known (replay: before the first recorded snapshot)
        self.last_update_id = 0
        self.first_update_id = 0  # U of the last event (futures partial depth repeats it)
        self.prev_update_id = 0  # pu of the last event
        self.event_ms = 0  # E of the last event
        self.trade_ms = 0  # T of the last event
        self.pend_b: dict[int, int] = {}  # levels changed since the last flush_event
        self.pend_a: dict[int, int] = {}
        self.top: tuple[int, int, int, int] = (0, 0, 0, 0)
        self.stale: tuple[int, dict[int, int], dict[int, int]] | None = None
        self.trades: deque[Trade] = deque(maxlen=1000)
        self.trade_id = 0
        self.agg_id = 0
        self.last_px = spec.start_px_units
        self.candles: dict[str, Candle] = {}
        self.due_ms: dict[str, int] = {}
        self.next_tick_ms = 0
        self.funding_rate = 0.0001
        self.rng = random.Random(spec.symbol)  # mark/index noise only; the book never depends on it
        self.keys = {k: f"{self.sl}@{k}" for k in ("depth", "trade", "aggTrade", "bookTicker")}
        self._px_text: dict[int, str] = {}

    def best_bid(self) -> int | None:
        """Return the best bid price in units, or None when the side is empty."""
        if self._bb is None and self.bids:
            self._bb = max(self.bids)
        return self._bb

    def best_ask(self) -> int | None:
        """Return the best ask price in units, or None when the side is empty."""
        if self._ba is None and self.asks:
            self._ba = min(self.asks)
        return self._ba

    def px(self, units: int) -> str:
        """Return a price in units as wire text (cached: the same prices recur all the time)."""
        text = self._px_text.get(units)
        if text is None:
            if len(self._px_text) > _PX_CACHE_MAX:
                self._px_text.clear()
            text = self._px_text[units] = fmt_units(units, self.spec.price_decimals)
        return text

    def qty(self, units: int) -> str:
        """Return a quantity in units as wire text."""
        return fmt_units(units, self.spec.qty_decimals)

    def install(self, last_update_id: int, bids: dict[int, int], asks: dict[int, int]) -> None:
        """Replace the book with a full snapshot taken at ``last_update_id``."""
        self.bids, self.asks = dict(bids), dict(asks)
        self._bb = self._ba = None
        self.last_update_id = last_update_id
        self.pend_b, self.pend_a = {}, {}
        self.ready = True
        self.stale = (last_update_id, dict(bids), dict(asks))
        self.top = self._top()

    def _top(self) -> tuple[int, int, int, int]:
        bb, ba = self.best_bid(), self.best_ask()
        return (bb or 0, self.bids[bb] if bb is not None else 0, ba or 0, self.asks[ba] if ba is not None else 0)

    def sorted_levels(self, limit: int | None = None) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Return (bids, asks) as (price units, qty units), best first, at most ``limit`` per side."""
        if limit is None:
            return (sorted(self.bids.items(), reverse=True), sorted(self.asks.items()))
        bids = [(p, self.bids[p]) for p in heapq.nlargest(limit, self.bids)]
        asks = [(p, self.asks[p]) for p in heapq.nsmallest(limit, self.asks)]
        return bids, asks


def _levels_json(st: SymbolState, levels: Iterable[tuple[int, int]]) -> str:
    px, qd = st.px, st.spec.qty_decimals
    return ",".join([f'["{px(p)}","{fmt_units(q, qd)}"]' for p, q in levels])


class Market:
    """The books of one Binance market and the messages their changes produce.

    Messages are queued in ``out`` as (stream key, payload bytes) and taken by the server with ``take``.
    A payload is built only when some connection wants its key, and once, whatever the number of subscribers.
    """

    def __init__(self, kind: str, specs: Iterable[SymbolSpec], streams: StreamIndex | None = None,
                 faults: DepthFaults | None = None):
        if kind not in MARKETS:
            raise ConfigError(f"sim market {kind!r} is not one of {', '.join(MARKETS)}")
        self.kind = kind
        self.futures = kind != "spot"
        self.symbols: dict[str, SymbolState] = {s.symbol: SymbolState(s) for s in specs}
        self.streams: StreamIndex = streams or _NoStreams()
        self.faults = faults
        self.out: list[tuple[str, bytes]] = []
        self.depth_sent = 0
        self.depth_dropped = 0

    def take(self) -> list[tuple[str, bytes]]:
        """Return the queued messages and start a new queue."""
        out, self.out = self.out, []
        return out

    def emit(self, key: str, data: bytes) -> None:
        """Queue a ready payload under a stream key (replay uses it for recorded messages)."""
        if self.streams.wants(key):
            self.out.append((key, data))

    # -- book changes

    def set_level(self, st: SymbolState, is_bid: bool, px: int, qty: int) -> None:
        """Set one level's absolute quantity (0 removes it, also when absent) in the event being built."""
        if is_bid:
            st.pend_b[px] = qty
            if qty:
                st.bids[px] = qty
                if st._bb is not None and px > st._bb:
                    st._bb = px
            elif st.bids.pop(px, None) is not None and px == st._bb:
                st._bb = None
        else:
            st.pend_a[px] = qty
            if qty:
                st.asks[px] = qty
                if st._ba is not None and px < st._ba:
                    st._ba = px
            elif st.asks.pop(px, None) is not None and px == st._ba:
                st._ba = None

    def flush_event(self, st: SymbolState, first_id: int, last_id: int, prev_id: int, event_ms: int,
                    trade_ms: int, raw: bytes | None = None, book_ticker: bool = True, send: bool = True) -> None:
        """Close the depth event holding the pending level changes and queue its messages.

        ``raw`` is a recorded payload sent as is; otherwise the payload is written from the pending levels.
        ``send=False`` only applies the event (a replay catching up on events it already sent).
        """
        b, a = st.pend_b, st.pend_a
        st.pend_b, st.pend_a = {}, {}
        st.first_update_id, st.last_update_id, st.prev_update_id = first_id, last_id, prev_id
        st.event_ms, st.trade_ms = event_ms, trade_ms
        if not send:
            st.top = st._top()
            return
        if raw is not None:
            self.send_depth_raw(st, raw)
        elif self.faults is not None and self.faults.take_drop_depth(st.spec.symbol):
            self.depth_dropped += 1  # the book advanced; the event is simply never sent
        else:
            self.depth_sent += 1
            if self.streams.wants(st.keys["depth"]):
                self.out.append((st.keys["depth"], self._depth_payload(st, b, a)))
        top = st._top()
        if top != st.top:
            st.top = top
            if book_ticker and self.streams.wants(st.keys["bookTicker"]):
                self.out.append((st.keys["bookTicker"], self._ticker_payload(st)))

    def send_depth_raw(self, st: SymbolState, raw: bytes) -> None:
        """Queue a recorded depth payload, unless a drop_depth fault swallows it."""
        if self.faults is not None and self.faults.take_drop_depth(st.spec.symbol):
            self.depth_dropped += 1
        else:
            self.depth_sent += 1
            self.emit(st.keys["depth"], raw)

    def _depth_payload(self, st: SymbolState, b: dict[int, int], a: dict[int, int]) -> bytes:
        bids = _levels_json(st, sorted(b.items()))
        asks = _levels_json(st, sorted(a.items()))
        s = st.spec
        if not self.futures:
            return (f'{{"e":"depthUpdate","E":{st.event_ms},"s":"{s.symbol}","U":{st.first_update_id},'
                    f'"u":{st.last_update_id},"b":[{bids}],"a":[{asks}]}}').encode()
        ps = f',"ps":"{s.pair}"' if self.kind == "coinm" else ""
        return (f'{{"e":"depthUpdate","E":{st.event_ms},"T":{st.trade_ms},"s":"{s.symbol}"{ps},'
                f'"U":{st.first_update_id},"u":{st.last_update_id},"pu":{st.prev_update_id},'
                f'"b":[{bids}],"a":[{asks}]}}').encode()

    def _ticker_payload(self, st: SymbolState) -> bytes:
        bb, bq, ba, aq = st.top
        body = (f'"s":"{st.spec.symbol}","b":"{st.px(bb)}","B":"{st.qty(bq)}",'
                f'"a":"{st.px(ba)}","A":"{st.qty(aq)}"')
        if not self.futures:  # binance.md 3.4: spot bookTicker has no event type and no times
            return f'{{"u":{st.last_update_id},{body}}}'.encode()
        return (f'{{"e":"bookTicker","u":{st.last_update_id},"E":{st.event_ms},"T":{st.trade_ms},'
                f'{body}}}').encode()

    # -- trades

    def add_trade(self, st: SymbolState, px: int, qty: int, buyer_is_maker: bool, trade_ms: int, event_ms: int,
                  trade_id: int | None = None, raw: bytes | None = None, agg: bool = True) -> None:
        """Record one fill and queue its trade and aggTrade messages (one aggTrade per fill).

        A replay passes the recorded ``trade_id`` and ``raw`` payload; its aggTrade then reuses the trade id.
        """
        st.trade_id = trade_id if trade_id is not None else st.trade_id + 1
        st.agg_id = trade_id if trade_id is not None else st.agg_id + 1
        st.last_px = px
        p, q, m = st.px(px), st.qty(qty), "true" if buyer_is_maker else "false"
        st.trades.append(Trade(st.trade_id, p, q, trade_ms, buyer_is_maker))
        for interval in list(st.candles):
            candle = st.candles[interval]
            if trade_ms >= candle.end_ms:
                candle = self._roll_candle(st, candle, trade_ms)
            candle.add(px, qty, st.trade_id, not buyer_is_maker)
        sym, keys = st.spec.symbol, st.keys
        if raw is not None:
            self.emit(keys["trade"], raw)
        elif self.streams.wants(keys["trade"]):
            tail = ',"M":true}' if not self.futures else ',"X":"MARKET"}'
            self.out.append((keys["trade"], (f'{{"e":"trade","E":{event_ms},"T":{trade_ms},"s":"{sym}",'
                                             f'"t":{st.trade_id},"p":"{p}","q":"{q}","m":{m}{tail}').encode()))
        if agg and self.streams.wants(keys["aggTrade"]):
            tail = ',"M":true}' if not self.futures else f',"nq":"{q}"}}'
            self.out.append((keys["aggTrade"], (
                f'{{"e":"aggTrade","E":{event_ms},"s":"{sym}","a":{st.agg_id},"p":"{p}","q":"{q}",'
                f'"f":{st.trade_id},"l":{st.trade_id},"T":{trade_ms},"m":{m}{tail}').encode()))

    # -- periodic streams: partial depth, klines, mark price

    def tick(self, st: SymbolState, now_ms: int) -> None:
        """Push the periodic streams that are due at market time ``now_ms``."""
        if now_ms < st.next_tick_ms or not st.ready:
            return
        st.next_tick_ms = now_ms + 50
        for sk in self.streams.periodic(st.sl):
            if sk.kind == "partial":
                if now_ms >= st.due_ms.get(sk.key, 0):
                    st.due_ms[sk.key] = now_ms + sk.param[1]
                    self.out.append((sk.key, self._partial_payload(st, sk.param[0], now_ms)))
            elif sk.kind == "kline":
                candle = st.candles.get(sk.param)
                if candle is None:
                    candle = st.candles[sk.param] = Candle(sk.param, now_ms, st.last_px)
                if now_ms >= candle.end_ms:
                    self._roll_candle(st, candle, now_ms)
                elif now_ms >= candle.next_push_ms:
                    candle.next_push_ms = now_ms + 1000  # about once per second of market time
                    self.out.append((f"{st.sl}@kline_{candle.interval}", self._kline_payload(st, candle, now_ms,
                                                                                             False)))
            elif sk.kind == "markPrice" and now_ms >= st.due_ms.get(sk.key, 0):
                st.due_ms[sk.key] = now_ms + sk.param
                self.out.append((sk.key, self._mark_payload(st, now_ms)))

    def _roll_candle(self, st: SymbolState, candle: Candle, now_ms: int) -> Candle:
        key = f"{st.sl}@kline_{candle.interval}"
        if self.streams.wants(key):
            self.out.append((key, self._kline_payload(st, candle, now_ms, True)))
        fresh = st.candles[candle.interval] = Candle(candle.interval, now_ms, candle.c)
        return fresh

    def _kline_payload(self, st: SymbolState, c: Candle, now_ms: int, closed: bool) -> bytes:
        pd, qd = st.spec.price_decimals, st.spec.qty_decimals
        px, qty = st.px, st.qty
        sym = st.spec.symbol
        return (f'{{"e":"kline","E":{now_ms},"s":"{sym}","k":{{"t":{c.start_ms},"T":{c.end_ms - 1},'
                f'"s":"{sym}","i":"{c.interval}","f":{c.first},"L":{c.last},"o":"{px(c.o)}","c":"{px(c.c)}",'
                f'"h":"{px(c.h)}","l":"{px(c.l)}","v":"{qty(c.v)}","n":{c.n},'
                f'"x":{"true" if closed else "false"},"q":"{fmt_units(c.q // 10**qd, pd)}",'
                f'"V":"{qty(c.taker_v)}","Q":"{fmt_units(c.taker_q // 10**qd, pd)}","B":"0"}}}}').encode()

    def _partial_payload(self, st: SymbolState, depth: int, now_ms: int) -> bytes:
        bids, asks = st.sorted_levels(depth)
        b, a = _levels_json(st, bids), _levels_json(st, asks)
        if not self.futures:  # binance.md 3.2: spot partial depth is a bare snapshot object
            return f'{{"lastUpdateId":{st.last_update_id},"bids":[{b}],"asks":[{a}]}}'.encode()
        s = st.spec
        ps = f',"ps":"{s.pair}"' if self.kind == "coinm" else ""
        return (f'{{"e":"depthUpdate","E":{now_ms},"T":{st.trade_ms},"s":"{s.symbol}"{ps},'
                f'"U":{st.first_update_id},"u":{st.last_update_id},"pu":{st.prev_update_id},'
                f'"b":[{b}],"a":[{a}]}}').encode()

    def _mark_payload(self, st: SymbolState, now_ms: int) -> bytes:
        bb, _, ba, _ = st.top
        mid = (bb + ba) / 2 / 10**st.spec.price_decimals if bb and ba else st.last_px / 10**st.spec.price_decimals
        st.funding_rate = min(0.00375, max(-0.00375, st.funding_rate + st.rng.gauss(0, 0.000002)))
        index = mid * (1 + st.rng.gauss(0, 0.00005))
        next_funding = (now_ms // _FUNDING_MS + 1) * _FUNDING_MS
        return (f'{{"e":"markPriceUpdate","E":{now_ms},"s":"{st.spec.symbol}","p":"{mid:.8f}",'
                f'"i":"{index:.8f}","P":"{index:.8f}","r":"{st.funding_rate:.8f}","T":{next_funding}}}').encode()

    # -- reading the truth

    def snapshot_json(self, symbol: str, limit: int, now_ms: int, stale: bool = False) -> bytes:
        """Return the REST depth body for ``symbol`` (binance.md section 4), or an older one when ``stale``."""
        st = self.symbols[symbol]
        if stale and st.stale is not None:
            last_id, b, a = st.stale
            last_id = min(last_id, st.last_update_id - 1)
            bids = [(p, b[p]) for p in heapq.nlargest(limit, b)]
            asks = [(p, a[p]) for p in heapq.nsmallest(limit, a)]
        else:
            last_id = st.last_update_id
            bids, asks = st.sorted_levels(limit) if st.ready else ([], [])
        body = f'"bids":[{_levels_json(st, bids)}],"asks":[{_levels_json(st, asks)}]'
        if not self.futures:
            return f'{{"lastUpdateId":{last_id},{body}}}'.encode()
        extra = f',"symbol":"{symbol}","pair":"{st.spec.pair}"' if self.kind == "coinm" else ""
        return f'{{"lastUpdateId":{last_id},"E":{now_ms},"T":{st.trade_ms}{extra},{body}}}'.encode()

    def book(self, symbol: str) -> tuple[int, list[tuple[str, str]], list[tuple[str, str]]]:
        """Return (last update id, bids, asks) of the full book as wire strings, best first."""
        st = self.symbols[symbol]
        bids, asks = st.sorted_levels()
        return (st.last_update_id, [(st.px(p), st.qty(q)) for p, q in bids],
                [(st.px(p), st.qty(q)) for p, q in asks])


# ---- the synthetic market


class SyntheticFeed:
    """A deterministic random market for one symbol: ``random.Random(seed)`` decides every change.

    Each step makes one depth event of 1-20 level changes near the top (modify, add, delete, improve into the
    spread, deep maintenance, and now and then a zero-quantity delete of a level that never existed, as Binance
    sends), sometimes preceded by a trade that eats the top one to three levels. A hidden fair price walks one
    tick at a time; the top follows it (improvements toward it, cancels and trades of levels beyond it).
    Books never cross, and each side keeps ``min_levels``..``max_levels`` levels.
    """

    def __init__(self, market: Market, symbol: str, seed: int = 1, *, trade_prob: float = 0.25,
                 min_levels: int = 200, max_levels: int = 800):
        self.market = market
        self.st = st = market.symbols[symbol]
        self.rng = rng = random.Random(f"{seed}:{symbol}")
        self.trade_prob = trade_prob
        self.min_levels, self.max_levels = min_levels, max_levels
        spec = st.spec
        self.tick = spec.tick_units
        self.step_units = spec.step_units
        mid = max(spec.start_px_units // self.tick, 2 * max_levels + 10)
        bids, asks = {}, {}
        for book, sign, first in ((bids, -1, mid), (asks, 1, mid + 1)):
            want, k = rng.randint(min_levels + 100, (min_levels + max_levels) // 2 + 100), 0
            while len(book) < want:
                if k == 0 or rng.random() < 0.85:
                    book[(first + sign * k) * self.tick] = self._qty()
                k += 1
        futures = market.futures
        start_id = rng.randint(10**12, 5 * 10**12) if futures else rng.randint(10**9, 5 * 10**10)
        st.install(start_id, bids, asks)
        st.trade_id = rng.randint(10**8, 10**9)
        st.agg_id = rng.randint(10**8, 10**9)
        st.last_px = mid * self.tick
        self.fair = mid * self.tick  # bids stay at or below it, asks above it, give or take the lag

    def _qty(self) -> int:
        return (1 + int(self.rng.expovariate(1 / 300))) * self.step_units

    def step(self, now_ms: int) -> None:
        """Generate one depth event (and maybe the trades before it) at market time ``now_ms``."""
        st, m, rng, tick = self.st, self.market, self.rng, self.tick
        if rng.random() < 0.2:
            self.fair += tick if rng.random() < 0.5 else -tick
        if rng.random() < self.trade_prob:
            self._trade(now_ms)
        bb, ba = st.best_bid(), st.best_ask()
        if ba <= self.fair and len(st.asks) > self.min_levels:  # the top follows the fair price
            m.set_level(st, False, ba, 0)
        elif bb > self.fair and len(st.bids) > self.min_levels:
            m.set_level(st, True, bb, 0)
        bb, ba = st.best_bid(), st.best_ask()
        if ba - bb > 2 * tick and rng.random() < 0.7:  # a wide spread fills in toward the fair price
            if bb + tick <= self.fair:
                m.set_level(st, True, bb + tick, self._qty())
            if ba - tick > self.fair and ba - tick > bb + tick:
                m.set_level(st, False, ba - tick, self._qty())
        for _ in range(min(20, 1 + int(rng.expovariate(0.25)))):
            is_bid = rng.random() < 0.5
            side = st.bids if is_bid else st.asks
            bb, ba = st.best_bid(), st.best_ask()
            own, sign = (bb, -1) if is_bid else (ba, 1)
            r = rng.random()
            if r < 0.55:  # modify or add a level near the top of its own side
                px = own + sign * int(rng.expovariate(0.12)) * tick
                if px > 0 and (px in side or len(side) < self.max_levels):
                    m.set_level(st, is_bid, px, self._qty())
            elif r < 0.75:  # cancel near the top (the best level too, which moves the mid)
                px = own + sign * int(rng.expovariate(0.15)) * tick
                if len(side) > self.min_levels and px > 0:
                    m.set_level(st, is_bid, px, 0)
            elif r < 0.86:  # improve into the spread, toward the fair price, when there is room
                px = own - sign * tick
                toward = px <= self.fair if is_bid else px > self.fair
                if ba - bb > tick and toward and len(side) < self.max_levels:
                    m.set_level(st, is_bid, px, self._qty())
                else:
                    m.set_level(st, is_bid, own, self._qty())
            elif r < 0.97:  # keep the depth near the middle of min..max levels
                deepest = min(side) if is_bid else max(side)
                if len(side) < (self.min_levels + self.max_levels) // 2:
                    px = deepest + sign * rng.randint(1, 3) * tick
                    if px > 0:
                        m.set_level(st, is_bid, px, self._qty())
                else:
                    m.set_level(st, is_bid, deepest, 0)
            else:  # delete a level that never existed, beyond the deepest one (Binance sends these)
                deepest = min(side) if is_bid else max(side)
                px = deepest + sign * rng.randint(2, 50) * tick
                if px > 0 and px not in side:
                    m.set_level(st, is_bid, px, 0)
        n = len(st.pend_b) + len(st.pend_a)
        last = st.last_update_id
        if m.futures:  # binance.md 5.2: pu = previous u, and U leaves gaps after it
            first = last + 1 + (rng.randint(1, 40) if rng.random() < 0.7 else 0)
            m.flush_event(st, first, first + n + rng.randint(0, 3 * n), last, now_ms + 1, now_ms)
        else:  # binance.md 5.1: U = previous u + 1
            m.flush_event(st, last + 1, last + n + rng.randint(0, n), last, now_ms, now_ms)
        m.tick(st, now_ms)

    def _trade(self, now_ms: int) -> None:
        st, m, rng = self.st, self.market, self.rng
        bb, ba = st.best_bid(), st.best_ask()
        # Takers hit whichever side stands beyond the fair price, else either side.
        taker_sells = True if bb > self.fair else False if ba <= self.fair else rng.random() < 0.5
        side = st.bids if taker_sells else st.asks
        want = (1 + int(rng.expovariate(1 / 250))) * self.step_units
        for _ in range(3):
            if want <= 0 or len(side) <= self.min_levels:
                break
            px = st.best_bid() if taker_sells else st.best_ask()
            fill = min(want, side[px])
            m.add_trade(st, px, fill, taker_sells, now_ms, now_ms + 1)
            m.set_level(st, taker_sells, px, side[px] - fill)
            want -= fill
