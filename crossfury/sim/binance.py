# SPDX-License-Identifier: MIT
"""``BinanceSim``: one Binance market (spot, USD-M or COIN-M) on 127.0.0.1, WebSocket and REST on one port.

URL layout (``ws_url`` = ws://HOST:PORT, ``rest_url`` = http://HOST:PORT):

=========================================  ==================================================================
``/ws``, ``/ws/<s1>/<s2>...``              raw streams: bare payloads (binance.md section 2)
``/stream?streams=<s1>/<s2>``              combined streams: ``{"stream":"<name>","data":<payload>}``
``/public/...``, ``/market/...``,          USD-M only: the 2026 split prefixes; any stream is served on any
``/private/...``                           prefix (``/public/stream?streams=btcusdt@depth@0ms``)
``/api/v3/`` | ``/fapi/v1/`` | ``/dapi/v1/``  spot | USD-M | COIN-M REST: ``depth``, ``exchangeInfo``, ``time``,
                                           ``ping``; every response carries ``X-MBX-USED-WEIGHT-1M``
``POST /_sim/fault``                       ``{"fault": name, ...kwargs}``: inject a fault from another process
``POST /_sim/pause``, ``/_sim/resume``,    stop and restart market generation; the sim's state as JSON
``GET /_sim/state``
=========================================  ==================================================================

Control frames (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY/GET_PROPERTY ``combined``) get the
replies of binance.md section 2. A SUBSCRIBE of a well-formed but unknown stream is accepted silently and
delivers nothing, as on Binance; a name that is not a string, has no ``@``, has an uppercase symbol or stray
characters gets ``{"code":2,"msg":"Invalid request: invalid stream name ..."}`` and nothing is subscribed.

Later layers add order endpoints with ``add_rest_route`` (weights, faults and the weight header come with
it) and reach the books through ``market``; both exist before ``start``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self

from aiohttp import WSMsgType, web

from crossfury.core.errors import ConfigError
from crossfury.sim.faults import (
    FAULTS,
    REST_ERROR_BODIES,
    TRADING_FAULTS,
    FaultState,
    ScheduledFault,
    parse_fault,
)
from crossfury.sim.hub import Connection, StreamHub
from crossfury.sim.market import Market, SyntheticFeed, Trade, default_specs
from crossfury.sim.replay import ReplayFeed, scan_recordings
from crossfury.sim.trading import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimTrading

log = logging.getLogger(__name__)

_REST_PREFIX = {"spot": "/api/v3", "usdm": "/fapi/v1", "coinm": "/dapi/v1"}
# binance.md section 2: keepalive and incoming-message limits per product.
_PING_INTERVAL_S = {"spot": 20.0, "futures": 180.0}
_PONG_TIMEOUT_S = {"spot": 60.0, "futures": 600.0}
_INCOMING_PER_S = {"spot": 5, "futures": 10}
# binance.md section 7: typical REQUEST_WEIGHT limits per minute.
_WEIGHT_LIMIT = {"spot": 6000, "futures": 2400}
_FUTURES_LIMITS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}  # binance.md section 4: limit -> weight
_NAME_OK = re.compile(r"(?:![A-Za-z]+|[a-z0-9_]+)@[A-Za-z0-9_@:+.]+")
_ID_OK = re.compile(r"[A-Za-z0-9_-]{1,36}")
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_FLOOD_BATCH = 32  # flood mode generates this many steps per write, then yields so reads, pings and REST run


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _Done:
    """An awaitable that is already complete (``pause()`` before the driver runs)."""

    def __await__(self):
        return iter(())


RestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BinanceSim:
    """Run one Binance market on a local port: market-data WebSocket, REST, rate limits and faults.

    Parameters
    ----------
    market:
        "spot", "usdm" or "coinm".
    symbols:
        Symbols to serve (default: BTCUSDT, ETHUSDT, SOLUSDT; COIN-M BTCUSD_PERP, ETHUSD_PERP). With
        ``replay``, restricts the recorded symbols.
    events_per_s:
        Depth events per second per symbol of the synthetic market; None = flood: generate in batches of
        32 steps and write each connection's batch at once. Measured on a 2-core box, one BTCUSDT stream
        (1-20 level changes, 274 B a frame), client in another process: 32-42k frames/s, bound by the
        generator (~47k events/s alone); four connections got ~35k/s each. One aiohttp ``send_frame`` per
        frame instead of one write per batch gave ~26k/s.
    replay, speed:
        Recording files to re-emit instead of the synthetic market, at ``speed`` times real time
        (0 or inf = as fast as possible).
    paused:
        Start with generation paused (connect and subscribe, then ``resume()``).
    faults:
        Scheduled faults, ``ScheduledFault`` or text ``name@seconds[:key=value,...]``.
    api_key, api_secret, api_public_key, balances:
        The simulated account: its API key, its HMAC secret or (when ``api_public_key``, a PEM Ed25519 public
        key, is given) the registered Ed25519 key that signatures are checked against; starting balances.
    """

    def __init__(self, market: str = "usdm", *, symbols: Sequence[str] | None = None, seed: int = 1,
                 events_per_s: float | None = 50.0, replay: Sequence[str | Path] | None = None,
                 speed: float = 1.0, paused: bool = False, ping_interval_s: float | None = None,
                 pong_timeout_s: float | None = None, max_connection_age_s: float = 86_400.0,
                 max_incoming_per_s: int | None = None, max_streams_per_conn: int = 1024,
                 weight_limit: int | None = None, weight_window_s: float = 60.0, ban_s: float = 120.0,
                 faults: Iterable[ScheduledFault | str] = (), trade_prob: float = 0.25,
                 close_timeout_s: float = 2.0, api_key: str = DEFAULT_API_KEY,
                 api_secret: str = DEFAULT_API_SECRET, balances: dict[str, str] | None = None,
                 api_public_key: str | None = None):
        if market not in _REST_PREFIX:
            raise ConfigError(f"sim market {market!r} is not one of {', '.join(_REST_PREFIX)}")
        futures = market != "spot"
        product = "futures" if futures else "spot"
        self.kind = market
        self.faults = FaultState()
        self.hub = StreamHub(futures, self.faults)
        self._replay: ReplayFeed | None = None
        if replay:
            paths = [Path(p) for p in replay]
            specs = scan_recordings(paths, market)
            if symbols:
                wanted = {s.upper() for s in symbols}
                specs = [s for s in specs if s.symbol in wanted]
                if not specs:
                    raise ConfigError(f"none of {', '.join(sorted(wanted))} is in the replayed recordings")
            self.market = Market(market, specs, self.hub, self.faults)
            self._replay = ReplayFeed(self.market, paths)
            self._feeds: list[SyntheticFeed] = []
        else:
            specs = default_specs(market, symbols)
            self.market = Market(market, specs, self.hub, self.faults)
            self._feeds = [SyntheticFeed(self.market, s.symbol, seed, trade_prob=trade_prob) for s in specs]
        if events_per_s is not None and events_per_s <= 0:
            raise ConfigError(f"events_per_s {events_per_s} must be positive (None = flood)")
        self.events_per_s = events_per_s
        self.speed = speed
        self.ping_interval_s = ping_interval_s or _PING_INTERVAL_S[product]
        self.pong_timeout_s = pong_timeout_s or _PONG_TIMEOUT_S[product]
        self.max_connection_age_s = max_connection_age_s
        self.max_incoming_per_s = max_incoming_per_s or _INCOMING_PER_S[product]
        self.max_streams_per_conn = max_streams_per_conn
        self.weight_limit = weight_limit or _WEIGHT_LIMIT[product]
        self.weight_window_s = weight_window_s
        self.ban_s = ban_s
        self.close_timeout_s = close_timeout_s
        self.scheduled = [f if isinstance(f, ScheduledFault) else parse_fault(f) for f in faults]
        self.rest_prefix = _REST_PREFIX[market]
        self.host = "127.0.0.1"
        self.port = 0
        self.stats: Counter[str] = Counter()
        self.rest_requests: Counter[str] = Counter()
        self._weights: deque[tuple[float, int]] = deque()
        self._weight_used = 0
        self._backoff_until = 0.0
        self._ban_until = 0.0
        self._next_conn_id = 1
        self._paused = paused
        self._resumed = asyncio.Event()
        self._pause_waiters: list[asyncio.Future] = []
        self._at_gate = True  # the driver is not generating (not started, paused or finished)
        self._replay_done = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.user_ws: Callable[[web.Request], Awaitable[web.StreamResponse | None]] | None = None
        self._add_routes()
        self.trading = SimTrading(self, api_key, api_secret, balances=balances, api_public_key=api_public_key)

    # -- lifecycle

    @property
    def rest_url(self) -> str:
        """Return the REST base URL, http://HOST:PORT."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Return the WebSocket base URL, ws://HOST:PORT."""
        return f"ws://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Bind the server (port 0 = ephemeral; see ``port``) and start the market."""
        self.trading.add_routes()
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None,
                                     shutdown_timeout=self.close_timeout_s)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host, self.port = host, self._runner.addresses[0][1]
        if not self._paused:
            self._resumed.set()
        driver = self._drive_replay() if self._replay is not None else self._drive_synthetic()
        self._tasks.append(asyncio.create_task(driver, name="binance-sim-market"))
        self.trading.start()
        for fault in self.scheduled:
            self._tasks.append(asyncio.create_task(self._scheduled(fault)))
        log.info("binance %s sim listening on %s", self.kind, self.rest_url)
        return self

    async def stop(self) -> None:
        """Stop the market, close every connection and the server."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        conns = list(self.hub.conns.values())
        for c in conns:
            c.closed = True
        closing = [c.ws.close(code=1001, message=b"server shutdown") for c in conns]
        await asyncio.gather(*closing, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start(self.host, self.port)

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _scheduled(self, fault: ScheduledFault) -> None:
        await asyncio.sleep(fault.at_s)
        log.info("scheduled fault %s %s", fault.name, fault.kwargs)
        try:
            self.inject(fault.name, **fault.kwargs)
        except (ConfigError, KeyError, TypeError) as exc:
            log.warning("scheduled fault %s %s not applied: %s", fault.name, fault.kwargs, exc)

    # -- pause / resume and the drivers

    def pause(self) -> Awaitable[None]:
        """Stop market generation; await the result to know the last event's sends are written."""
        self._paused = True
        self._resumed.clear()
        if self._at_gate:
            return _Done()
        fut = asyncio.get_running_loop().create_future()
        self._pause_waiters.append(fut)
        return fut

    def resume(self) -> None:
        """Restart market generation."""
        self._paused = False
        self._resumed.set()

    @property
    def paused(self) -> bool:
        """Return True while market generation is paused."""
        return self._paused

    @property
    def generating(self) -> bool:
        """True while the driver generates market events (started, not paused, not finished): it then
        publishes what changed; otherwise whoever changes the book publishes it (the matching engine)."""
        return not self._at_gate

    async def _gate(self) -> None:
        self._at_gate = True
        for fut in self._pause_waiters:
            if not fut.done():
                fut.set_result(None)
        self._pause_waiters.clear()
        await self._resumed.wait()
        self._at_gate = False

    async def _drive_synthetic(self) -> None:
        loop = asyncio.get_running_loop()
        feeds, market, hub = self._feeds, self.market, self.hub
        interval = 1.0 / self.events_per_s if self.events_per_s else 0.0
        next_t, n = loop.time(), 0
        try:
            while True:
                if self._paused or not self._resumed.is_set():
                    await self._gate()
                    next_t = loop.time()
                self._at_gate = False
                now_ms = _now_ms()
                for _ in range(1 if interval else _FLOOD_BATCH):
                    for feed in feeds:
                        feed.step(now_ms)
                out = market.take()
                if out:
                    await hub.publish(out)
                n += 1
                if interval:
                    next_t += interval
                    wait = next_t - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    elif wait < -1.0:
                        next_t = loop.time()  # far behind (a stall): carry on at the rate, no burst
                    elif n % 16 == 0:
                        await asyncio.sleep(0)
                elif not hub.conns:
                    await asyncio.sleep(0.005)  # flood with nobody listening: advance slowly, do not spin
                else:
                    await asyncio.sleep(0)
        finally:
            self._at_gate = True
            for fut in self._pause_waiters:
                if not fut.done():
                    fut.set_result(None)

    async def _drive_replay(self) -> None:
        assert self._replay is not None
        loop = asyncio.get_running_loop()
        feed, market, hub = self._replay, self.market, self.hub
        realtime = bool(self.speed) and math.isfinite(self.speed) and self.speed > 0
        first_ts, t0, n = None, 0.0, 0
        try:
            if self._paused or not self._resumed.is_set():
                await self._gate()
            self._at_gate = False
            for local_ts, file_index, payload in feed.lines():
                if self._paused:
                    paused_at = loop.time()
                    await self._gate()
                    t0 += loop.time() - paused_at
                if realtime:
                    if first_ts is None:
                        first_ts, t0 = local_ts, loop.time()
                    wait = t0 + (local_ts - first_ts) / 1e9 / self.speed - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                feed.handle(file_index, payload)
                out = market.take()
                if out:
                    await hub.publish(out)
                n += 1
                if n % 64 == 0:
                    await asyncio.sleep(0)
            log.info("replay done: %d lines, %d not attributed", feed.lines_read, feed.unattributed)
        finally:
            self._replay_done.set()
            self._at_gate = True
            for fut in self._pause_waiters:
                if not fut.done():
                    fut.set_result(None)

    async def wait_replay_done(self, timeout_s: float | None = None) -> None:
        """Wait until every recorded line has been replayed."""
        await asyncio.wait_for(self._replay_done.wait(), timeout_s)

    @property
    def replay_done(self) -> bool:
        """Return True once every recorded line has been replayed."""
        return self._replay_done.is_set()

    # -- the truth, for tests

    def _state(self, symbol: str):
        st = self.market.symbols.get(symbol.upper())
        if st is None:
            raise KeyError(f"symbol {symbol!r} is not served by this sim ({', '.join(self.market.symbols)})")
        return st

    def book(self, symbol: str) -> tuple[int, list[tuple[str, str]], list[tuple[str, str]]]:
        """Return (last update id, bids, asks): the full book as wire strings, best first."""
        return self.market.book(self._state(symbol).spec.symbol)

    def last_update_id(self, symbol: str) -> int:
        """Return the ``u`` of the last depth event generated (sent or dropped) for ``symbol``."""
        return self._state(symbol).last_update_id

    def trades(self, symbol: str) -> list[Trade]:
        """Return the most recent trades (up to 1000), oldest first."""
        return list(self._state(symbol).trades)

    @property
    def symbols(self) -> list[str]:
        """Return the symbols this sim serves."""
        return list(self.market.symbols)

    def connections(self) -> list[dict[str, Any]]:
        """Return each open connection's id, path, combined flag, subscribed streams and age."""
        return [c.info() for c in self.hub.conns.values() if not c.closed]

    @property
    def counters(self) -> dict[str, Any]:
        """Return what happened so far: faults applied, frames sent per stream, REST requests and more."""
        return {"faults": dict(self.faults.applied), "sent": dict(self.hub.sent),
                "rest": dict(self.rest_requests), "depth_events_sent": self.market.depth_sent,
                "depth_events_dropped": self.market.depth_dropped, "silenced_frames": self.hub.silenced,
                **self.stats}

    # -- faults

    def _targets(self, conn_id: int | None) -> list[Connection]:
        if conn_id is None:
            return [c for c in self.hub.conns.values() if not c.closed]
        c = self.hub.conns.get(conn_id)
        if c is None:
            raise KeyError(f"no open connection with id {conn_id}")
        return [c]

    def drop_depth(self, symbol: str | None = None, count: int = 1) -> None:
        """Advance the book but do not send the next ``count`` depth events (of ``symbol``, or any)."""
        self.faults.add_drop_depth(self._state(symbol).spec.symbol if symbol else None, count)

    def disconnect(self, conn_id: int | None = None, graceful: bool = False) -> int:
        """Close one connection or all: a close frame when ``graceful``, else abort the TCP connection."""
        targets = self._targets(conn_id)
        for c in targets:
            self.faults.applied["disconnect"] += 1
            if graceful:
                self._spawn(c.ws.close(code=1001, message=b"simulated disconnect"))
            else:
                c.closed = True
                c.abort()
        return len(targets)

    def silence(self, duration_s: float, conn_id: int | None = None) -> int:
        """Send no frames (data, replies or server pings) for ``duration_s``; the connection stays open."""
        targets = self._targets(conn_id)
        until = time.monotonic() + duration_s
        for c in targets:
            c.silent_until = until
            self.faults.applied["silence"] += 1
        self.hub.slow = True
        return len(targets)

    def delay(self, delay_s: float, duration_s: float, conn_id: int | None = None) -> int:
        """Deliver each data frame ``delay_s`` late for the next ``duration_s`` (order kept)."""
        targets = self._targets(conn_id)
        until = time.monotonic() + duration_s
        for c in targets:
            c.delay_until, c.delay_s = until, delay_s
            self.faults.applied["delay"] += 1
        self.hub.slow = True
        return len(targets)

    def malformed(self, count: int = 1, conn_id: int | None = None, replace: bool = False) -> None:
        """Send a truncated copy of the next ``count`` data messages (before them, or instead when ``replace``).

        Without ``conn_id`` the next ``count`` published messages go out malformed to every subscriber.
        """
        if conn_id is None:
            self.faults.malformed += count
            self.faults.malformed_replace = replace
        else:
            c = self._targets(conn_id)[0]
            c.malformed += count
            c.malformed_replace = replace
        self.hub.slow = True

    def rest_error(self, status: int = 429, count: int = 1, retry_after_s: float = 1, msg: str | None = None) -> None:
        """Answer the next ``count`` REST requests with ``status`` (429, 418 or 503), error JSON and Retry-After."""
        self.faults.add_rest_error(status, count, retry_after_s, msg)

    def stale_snapshot(self, count: int = 1) -> None:
        """Serve the next ``count`` depth snapshots from the oldest book kept (lastUpdateId below any live U)."""
        self.faults.add_stale_snapshot(count)

    def inject(self, fault: str, **kwargs: Any) -> Any:
        """Apply a fault by name (the ``/_sim/fault`` route and scheduled faults use this)."""
        if fault not in FAULTS:
            raise ConfigError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        if fault in TRADING_FAULTS:  # the simulated account's faults live on its trading side
            self.faults.applied[fault] += 1
            return getattr(self.trading, fault)(**kwargs)
        return getattr(self, fault)(**kwargs)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    # -- routes

    def add_rest_route(self, method: str, path: str, handler: RestHandler,
                       weight: int | Callable[[web.Request], int] = 1) -> None:
        """Serve a REST endpoint with request weight, the weight header, 429/418 limits and REST faults."""
        self.app.router.add_route(method, path, self._rest(path, handler, weight))

    def _add_routes(self) -> None:
        p = self.rest_prefix
        self.add_rest_route("GET", f"{p}/depth", self._depth, self._depth_weight)
        self.add_rest_route("GET", f"{p}/exchangeInfo", self._exchange_info, 1 if self.market.futures else 20)
        self.add_rest_route("GET", f"{p}/time", self._time, 1)
        self.add_rest_route("GET", f"{p}/ping", self._ping, 1)
        prefixes = ["", "/public", "/market", "/private"] if self.kind == "usdm" else [""]
        for prefix in prefixes:
            self.app.router.add_get(f"{prefix}/ws", self._ws)
            self.app.router.add_get(f"{prefix}/ws/{{streams:.*}}", self._ws)
            self.app.router.add_get(f"{prefix}/stream", self._ws)
        self.app.router.add_post("/_sim/fault", self._sim_fault)
        self.app.router.add_post("/_sim/pause", self._sim_pause)
        self.app.router.add_post("/_sim/resume", self._sim_resume)
        self.app.router.add_get("/_sim/state", self._sim_state)

    # -- REST

    def _error(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(status=status, body=_dumps({"code": code, "msg": msg}),
                            content_type="application/json", headers=headers)

    def _used_weight(self, now: float) -> int:
        horizon = now - self.weight_window_s
        while self._weights and self._weights[0][0] <= horizon:
            self._weight_used -= self._weights.popleft()[1]
        return self._weight_used

    def _rest(self, path: str, handler: RestHandler, weight: int | Callable[[web.Request], int]) -> RestHandler:
        async def serve(request: web.Request) -> web.StreamResponse:
            self.rest_requests[path] += 1
            now = time.monotonic()
            used = self._used_weight(now)
            header = {"X-MBX-USED-WEIGHT-1M": str(used)}
            injected = self.faults.take_rest_error()
            if injected is not None:
                return self._limit_error(injected.status, injected.retry_after_s, header, injected.msg)
            if now < self._ban_until:
                return self._limit_error(418, self._ban_until - now, header)
            if now < self._backoff_until:  # binance.md 7: sending on after a 429 earns an IP ban
                self._ban_until = now + self.ban_s
                self.stats["rest_bans"] += 1
                return self._limit_error(418, self.ban_s, header)
            w = weight(request) if callable(weight) else weight
            if used + w > self.weight_limit:
                retry_after = self._weight_retry_after(now, w)
                self._backoff_until = now + retry_after
                self.stats["rest_429"] += 1
                return self._limit_error(429, retry_after, header)
            self._weights.append((now, w))
            self._weight_used += w
            response = await handler(request)
            response.headers["X-MBX-USED-WEIGHT-1M"] = str(self._weight_used)
            return response
        return serve

    def _weight_retry_after(self, now: float, weight: int) -> float:
        excess = self._weight_used + weight - self.weight_limit
        for t, w in self._weights:
            excess -= w
            if excess <= 0:
                return max(1.0, t + self.weight_window_s - now)
        return self.weight_window_s

    def _limit_error(self, status: int, retry_after_s: float, headers: dict[str, str],
                     msg: str | None = None) -> web.Response:
        code, template = REST_ERROR_BODIES[status]
        until_ms = _now_ms() + int(retry_after_s * 1000)
        text = msg or template.format(limit=self.weight_limit, until_ms=until_ms)
        return self._error(status, code, text, {**headers, "Retry-After": str(max(1, math.ceil(retry_after_s)))})

    def _limit_param(self, request: web.Request) -> int | None:
        text = request.query.get("limit")
        futures = self.market.futures
        if text is None:
            return 500 if futures else 100
        if not text.isdigit() or len(text) > 9:
            return None
        limit = int(text)
        if futures:
            return limit if limit in _FUTURES_LIMITS else None
        return min(limit, 5000) if limit >= 1 else None  # binance.md 4: spot caps >5000 at 5000

    def _depth_weight(self, request: web.Request) -> int:
        limit = self._limit_param(request)
        if self.market.futures:
            return _FUTURES_LIMITS.get(limit or 500, 10)
        limit = limit or 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250

    def _symbol_param(self, request: web.Request) -> str | web.Response:
        symbol = request.query.get("symbol")
        if not symbol:
            return self._error(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.market.symbols:
            return self._error(400, -1121, "Invalid symbol.")
        return symbol

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = self._symbol_param(request)
        if isinstance(symbol, web.Response):
            return symbol
        limit = self._limit_param(request)
        if limit is None:
            legal = ", ".join(map(str, _FUTURES_LIMITS)) if self.market.futures else "1..5000"
            return self._error(400, -1100, f"Illegal characters found in parameter 'limit'; legal range is '{legal}'.")
        stale = self.faults.take_stale_snapshot()
        body = self.market.snapshot_json(symbol, limit, _now_ms(), stale=stale)
        return web.Response(body=body, content_type="application/json")

    async def _time(self, request: web.Request) -> web.Response:
        return web.Response(body=_dumps({"serverTime": _now_ms()}), content_type="application/json")

    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(body=b"{}", content_type="application/json")

    async def _exchange_info(self, request: web.Request) -> web.Response:
        symbols = list(self.market.symbols.values())
        wanted = request.query.get("symbol")
        if wanted is not None:
            if wanted not in self.market.symbols:
                return self._error(400, -1121, "Invalid symbol.")
            symbols = [self.market.symbols[wanted]]
        futures = self.market.futures
        limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                   "limit": self.weight_limit}]
        if futures:
            limits += [{"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                       {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}]
        else:
            limits += [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                       {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                       {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}]
        body: dict[str, Any] = {"timezone": "UTC", "serverTime": _now_ms(), "rateLimits": limits,
                                "exchangeFilters": [], "symbols": [self._symbol_info(st.spec) for st in symbols]}
        if self.kind == "usdm":
            body["futuresType"] = "U_MARGINED"
        elif self.kind == "coinm":
            body["futuresType"] = "COIN_MARGINED"
        return web.Response(body=_dumps(body), content_type="application/json")

    def _symbol_info(self, spec) -> dict[str, Any]:
        pd, qd = spec.price_decimals, spec.qty_decimals
        tick, step = spec.tick_size, spec.step_size
        max_px = f"{10 ** (7 if pd < 4 else 4)}"
        filters = [{"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": max_px, "tickSize": tick},
                   {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "100000", "stepSize": step},
                   {"filterType": "MARKET_LOT_SIZE", "minQty": step, "maxQty": "10000", "stepSize": step}]
        info: dict[str, Any] = {"symbol": spec.symbol, "status": "TRADING", "baseAsset": spec.base,
                                "quoteAsset": spec.quote}
        if not self.market.futures:
            info.update(baseAssetPrecision=8, quotePrecision=8, quoteAssetPrecision=8,
                        orderTypes=["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                        isSpotTradingAllowed=True, filters=filters)
            return info
        info.update(pair=spec.pair, contractType="PERPETUAL", deliveryDate=4133404800000,
                    onboardDate=1569398400000, marginAsset=spec.margin_asset, pricePrecision=pd,
                    quantityPrecision=qd, baseAssetPrecision=8, quotePrecision=8, filters=filters,
                    orderTypes=["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                                "TRAILING_STOP_MARKET"],
                    timeInForce=["GTC", "IOC", "FOK", "GTX", "GTD"])
        if self.kind == "coinm":
            info.update(contractStatus="TRADING", contractSize=spec.contract_size)
        else:
            filters.append({"filterType": "MIN_NOTIONAL", "notional": "5"})
        return info

    # -- WebSocket

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.user_ws is not None and (served := await self.user_ws(request)) is not None:
            return served  # a listenKey user data stream (crossfury.sim.trading)
        combined = request.path.endswith("/stream")
        if combined:
            names = [s for s in request.query.get("streams", "").split("/") if s]
        else:
            names = [s for s in request.match_info.get("streams", "").split("/") if s]
        ws = web.WebSocketResponse(autoping=False, compress=False, timeout=self.close_timeout_s,
                                   max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Connection(self._next_conn_id, ws, request.transport, request.path_qs, combined)
        self._next_conn_id += 1
        self.hub.conns[conn.id] = conn
        self.stats["connections_opened"] += 1
        if names:
            self.hub.subscribe(conn, names[: self.max_streams_per_conn])
        loop = asyncio.get_running_loop()
        conn.ping_task = asyncio.create_task(self._pinger(conn))
        conn.age_timer = loop.call_later(self.max_connection_age_s, self._age_out, conn)
        try:
            async for msg in ws:
                if self._over_incoming_limit(conn, loop.time()):
                    self.stats["incoming_limit_closes"] += 1
                    await ws.close(code=1008, message=b"Too many requests")
                    break
                if msg.type is WSMsgType.TEXT:
                    await self._control(conn, msg.data)
                elif msg.type is WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    self._on_pong(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    await self._reply(conn, {"code": 3, "msg": "Invalid JSON: binary frame", "id": None})
                else:
                    break
        finally:
            self._forget(conn)
        return ws

    def _forget(self, conn: Connection) -> None:
        self.hub.drop(conn)
        self.stats["connections_closed"] += 1
        for handle in (conn.pong_timer, conn.age_timer):
            if handle is not None:
                handle.cancel()
        for task in (conn.ping_task, conn.delay_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    def _over_incoming_limit(self, conn: Connection, now: float) -> bool:
        q = conn.incoming
        q.append(now)
        while q[0] <= now - 1.0:
            q.popleft()
        return len(q) > self.max_incoming_per_s  # binance.md 2: pings, pongs and control frames all count

    async def _pinger(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        while not conn.closed:
            await asyncio.sleep(self.ping_interval_s)
            if conn.closed or time.monotonic() < conn.silent_until:
                continue
            conn.ping_payload = str(_now_ms()).encode()
            try:
                await conn.ws.ping(conn.ping_payload)
            except (ConnectionError, RuntimeError):
                return
            self.stats["pings_sent"] += 1
            if conn.pong_timer is None:
                conn.pong_timer = loop.call_later(self.pong_timeout_s, self._pong_missed, conn)

    def _on_pong(self, conn: Connection, data: bytes) -> None:
        self.stats["pongs_received"] += 1
        # binance.md 2: futures count any pong; spot only one echoing the ping payload.
        if (self.market.futures or data == conn.ping_payload) and conn.pong_timer is not None:
            conn.pong_timer.cancel()
            conn.pong_timer = None

    def _pong_missed(self, conn: Connection) -> None:
        conn.pong_timer = None
        if not conn.closed:
            self.stats["pong_timeouts"] += 1
            conn.closed = True
            conn.abort()

    def _age_out(self, conn: Connection) -> None:
        if not conn.closed:
            self.stats["age_closes"] += 1
            self._spawn(conn.ws.close(code=1000, message=b"connection age limit"))

    async def _reply(self, conn: Connection, obj: dict[str, Any]) -> None:
        await self.hub.send(conn, _dumps(obj))

    async def _control(self, conn: Connection, text: str) -> None:
        try:
            req = json.loads(text)
        except ValueError as exc:
            return await self._reply(conn, {"code": 3, "msg": f"Invalid JSON: {exc}", "id": None})
        if not isinstance(req, dict):
            return await self._reply(conn, {"code": 2, "msg": "Invalid request: expected a JSON object", "id": None})
        rid = req.get("id")
        if not (rid is None or (isinstance(rid, int) and not isinstance(rid, bool) and -2**63 <= rid < 2**63)
                or (isinstance(rid, str) and _ID_OK.fullmatch(rid))):
            return await self._reply(conn, {"code": 2, "msg": "Invalid request: request ID must be an integer, "
                                            "an alphanumeric string of at most 36 characters or null", "id": None})

        def err(code: int, msg: str) -> Awaitable[None]:
            return self._reply(conn, {"code": code, "msg": msg, "id": rid})

        method = req.get("method")
        if method is None:
            return await err(2, "Invalid request: missing field `method`")
        if method not in _METHODS:
            return await err(2, f"Invalid request: unknown variant `{method}`, expected one of "
                                f"{', '.join(f'`{m}`' for m in _METHODS)}")
        params = req.get("params", [])
        if not isinstance(params, list):
            return await err(2, "Invalid request: params must be an array")
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            bad = next((p for p in params if not isinstance(p, str) or not _NAME_OK.fullmatch(p)), None)
            if bad is not None:
                return await err(2, f"Invalid request: invalid stream name {bad!r}")
            if method == "SUBSCRIBE":
                if len(set(conn.streams) | set(params)) > self.max_streams_per_conn:
                    return await err(2, "Invalid request: too many streams for one connection")
                self.hub.subscribe(conn, params)
            else:
                self.hub.unsubscribe(conn, params)
            return await self._reply(conn, {"result": None, "id": rid})
        if method == "LIST_SUBSCRIPTIONS":
            return await self._reply(conn, {"result": list(conn.streams), "id": rid})
        want = 2 if method == "SET_PROPERTY" else 1
        if len(params) != want:
            return await err(2, "Invalid request: too many parameters" if len(params) > want
                             else "Invalid request: missing parameters")
        if not isinstance(params[0], str):
            return await err(2, "Invalid request: property name must be a string")
        if params[0] != "combined":
            return await err(0, "Unknown property")
        if method == "GET_PROPERTY":
            return await self._reply(conn, {"result": conn.combined, "id": rid})
        if not isinstance(params[1], bool):
            return await err(1, "Invalid value type: expected Boolean")
        conn.combined = params[1]
        self.hub.rebuild()
        return await self._reply(conn, {"result": None, "id": rid})

    # -- control routes for a sim in another process

    async def _sim_fault(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            name = body.pop("fault")
            result = self.inject(name, **body)
        except (ValueError, KeyError, TypeError, AttributeError, ConfigError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"fault": name, "result": result})

    async def _sim_pause(self, request: web.Request) -> web.Response:
        await self.pause()
        return web.json_response({"paused": True})

    async def _sim_resume(self, request: web.Request) -> web.Response:
        self.resume()
        return web.json_response({"paused": False})

    async def _sim_state(self, request: web.Request) -> web.Response:
        return web.json_response({
            "market": self.kind, "symbols": self.symbols, "paused": self._paused, "replay_done": self.replay_done,
            "last_update_id": {s: st.last_update_id for s, st in self.market.symbols.items()},
            "connections": self.connections(), "counters": self.counters})
