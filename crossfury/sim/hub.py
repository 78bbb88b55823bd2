# SPDX-License-Identifier: MIT
"""The simulator's WebSocket side: client connections, subscriptions by stream name, and fan-out.

A market message is (routing key, payload bytes). ``StreamHub.publish`` turns it into one frame per stream
name subscribed under that key (a combined envelope is built once per name) and writes each connection's
frames of a whole batch at once. Delivery faults (silence, delay, malformed frames) take a slower path that
looks at every frame; the fast path returns as soon as none is pending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from aiohttp import WSMsgType, web

from crossfury.sim.faults import FaultState
from crossfury.sim.market import StreamKey, parse_stream

log = logging.getLogger(__name__)

_TEXT = WSMsgType.TEXT
_HIGH_WATER_BYTES = 1 << 20  # wait for a connection's socket buffer to drain below this before writing more
_SLOW_CLIENT_S = 30.0  # a connection that reads nothing for this long while its buffer is full is dropped


def _frame(payload: bytes) -> bytes:
    # RFC 6455 5.2: an unmasked, unfragmented server text frame.
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class Connection:
    """One client WebSocket and the faults pending on it."""

    def __init__(self, conn_id: int, ws: web.WebSocketResponse, transport: asyncio.Transport | None, path: str,
                 combined: bool):
        self.id = conn_id
        self.ws = ws
        self.transport = transport
        self.path = path
        self.combined = combined
        self.streams: dict[str, StreamKey] = {}
        self.opened = time.monotonic()
        self.incoming: deque[float] = deque()
        self.closed = False
        self.silent_until = 0.0
        self.malformed = 0
        self.malformed_replace = False
        self.delay_until = 0.0
        self.delay_s = 0.0
        self.delayed: deque[tuple[float, bytes]] = deque()
        self.delay_task: asyncio.Task | None = None
        self.ping_task: asyncio.Task | None = None
        self.ping_payload = b""
        self.pong_timer: asyncio.TimerHandle | None = None
        self.age_timer: asyncio.TimerHandle | None = None

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        if self.transport is not None:
            self.transport.abort()

    def info(self) -> dict[str, Any]:
        """Return id, path, combined flag, subscribed streams and age, for ``BinanceSim.connections``."""
        return {"id": self.id, "path": self.path, "combined": self.combined, "streams": list(self.streams),
                "age_s": round(time.monotonic() - self.opened, 3)}


class _Route:
    __slots__ = ("combined", "head", "n", "name", "raw")

    def __init__(self, name: str, raw: tuple[Connection, ...], combined: tuple[Connection, ...]):
        self.name, self.raw, self.combined = name, raw, combined
        self.head = b'{"stream":"' + name.encode() + b'","data":'
        self.n = len(raw) + len(combined)


class StreamHub:
    """Subscriptions by stream name, and delivery of each market message to every subscriber.

    A payload is serialised once; a combined envelope once per stream name, whatever the number of
    connections. Routes are rebuilt on every subscription change, so ``publish`` iterates plain tuples.
    """

    def __init__(self, futures: bool, faults: FaultState):
        self.futures = futures
        self.faults = faults
        self.sent: Counter[str] = Counter()  # frames delivered per stream name (summed over connections)
        self.silenced = 0  # frames not sent because their connection was silenced
        self._subs: dict[str, dict[int, Connection]] = {}
        self._routes: dict[str, list[_Route]] = {}
        self._periodic: dict[str, list[StreamKey]] = {}
        self.slow = False  # some delivery fault may be pending: take the careful path
        self.conns: dict[int, Connection] = {}

    def wants(self, key: str) -> bool:
        """Return True when some connection subscribes to a stream with this routing key."""
        return key in self._routes

    def periodic(self, symbol_lower: str) -> Iterable[StreamKey]:
        """Return the subscribed partial-depth, kline and mark-price streams of a symbol."""
        return self._periodic.get(symbol_lower, ())

    def subscribe(self, conn: Connection, names: Iterable[str]) -> None:
        """Add stream names to a connection (already subscribed names are kept once)."""
        for name in names:
            if name not in conn.streams:
                conn.streams[name] = parse_stream(name, self.futures)
                self._subs.setdefault(name, {})[conn.id] = conn
        self.rebuild()

    def unsubscribe(self, conn: Connection, names: Iterable[str]) -> None:
        """Remove stream names from a connection."""
        for name in names:
            if conn.streams.pop(name, None) is not None:
                self._subs.get(name, {}).pop(conn.id, None)
        self.rebuild()

    def drop(self, conn: Connection) -> None:
        """Forget a closed connection and all its subscriptions."""
        conn.closed = True
        self.unsubscribe(conn, list(conn.streams))
        self.conns.pop(conn.id, None)

    def rebuild(self) -> None:
        """Recompute the routes after a subscription or combined-flag change."""
        routes: dict[str, list[_Route]] = {}
        periodic: dict[str, dict[str, StreamKey]] = {}
        for name, conns in list(self._subs.items()):
            if not conns:
                del self._subs[name]
                continue
            sk = parse_stream(name, self.futures)
            ordered = sorted(conns.values(), key=lambda c: c.id)
            routes.setdefault(sk.key, []).append(_Route(name, tuple(c for c in ordered if not c.combined),
                                                        tuple(c for c in ordered if c.combined)))
            if sk.kind in ("partial", "kline", "markPrice"):
                periodic.setdefault(name.partition("@")[0], {})[sk.key] = sk
        self._routes = routes
        self._periodic = {sym: list(keys.values()) for sym, keys in periodic.items()}

    async def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Send each (key, payload) to every subscriber of every stream name with that key."""
        if self.slow:
            for key, data in messages:
                routes = self._routes.get(key)
                if routes is not None:
                    await self._publish_slow(routes, data)
            return
        # Each frame is built once and a connection's frames of the whole batch go out in one transport
        # write: one send() per batch instead of one per frame (aiohttp's send_frame) was the largest cost,
        # about 17 us per frame. Uncompressed server frames are plain RFC 6455 framing, so writing them
        # beside aiohttp's own frames (pings, control replies) on the same transport is safe.
        batches: dict[Connection, list[bytes]] = {}
        routes_by_key = self._routes
        for key, data in messages:
            routes = routes_by_key.get(key)
            if routes is None:
                continue
            for r in routes:
                if r.raw:
                    frame = _frame(data)
                    for c in r.raw:
                        batch = batches.get(c)
                        if batch is None:
                            batches[c] = [frame]
                        else:
                            batch.append(frame)
                if r.combined:
                    frame = _frame(r.head + data + b"}")
                    for c in r.combined:
                        batch = batches.get(c)
                        if batch is None:
                            batches[c] = [frame]
                        else:
                            batch.append(frame)
                self.sent[r.name] += r.n
        for c, frames in batches.items():
            t = c.transport
            if c.closed or t is None or t.is_closing():
                c.closed = True
                continue
            t.write(b"".join(frames) if len(frames) > 1 else frames[0])
            if t.get_write_buffer_size() > _HIGH_WATER_BYTES:
                await self._wait_drained(c)

    async def _wait_drained(self, c: Connection) -> None:
        t = c.transport
        deadline = time.monotonic() + _SLOW_CLIENT_S
        while t is not None and not t.is_closing() and t.get_write_buffer_size() > _HIGH_WATER_BYTES:
            if time.monotonic() > deadline:
                log.warning("connection %d read nothing for %.0f s with a full buffer: dropped", c.id, _SLOW_CLIENT_S)
                c.closed = True
                t.abort()
                return
            await asyncio.sleep(0.001)

    async def _publish_slow(self, routes: list[_Route], data: bytes) -> None:
        now = time.monotonic()
        faults = self.faults
        bad_all = faults.malformed > 0
        if bad_all:
            faults.malformed -= 1
        for r in routes:
            env = r.head + data + b"}" if r.combined else b""
            for c, frame in [(c, data) for c in r.raw] + [(c, env) for c in r.combined]:
                await self._deliver(c, frame, now, bad_all)
            self.sent[r.name] += r.n
        self.recheck(now)

    async def _deliver(self, c: Connection, frame: bytes, now: float, bad_all: bool) -> None:
        if c.closed:
            return
        if now < c.silent_until:
            self.silenced += 1
            return
        if bad_all or c.malformed > 0:
            replace = self.faults.malformed_replace if bad_all else c.malformed_replace
            if not bad_all:
                c.malformed -= 1
            self.faults.applied["malformed"] += 1
            await self.send(c, frame[: max(1, len(frame) // 2)])  # truncated JSON
            if replace:
                return
        if c.delayed or now < c.delay_until:
            c.delayed.append((now + c.delay_s if now < c.delay_until else now, frame))
            if c.delay_task is None:
                c.delay_task = asyncio.create_task(self._drain_delayed(c))
            return
        await self.send(c, frame)

    async def _drain_delayed(self, c: Connection) -> None:
        try:
            while c.delayed and not c.closed:
                due, frame = c.delayed[0]
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                c.delayed.popleft()
                await self.send(c, frame)
        finally:
            c.delay_task = None

    async def send(self, c: Connection, frame: bytes) -> None:
        """Send one text frame to one connection, unless it is silenced or gone."""
        if c.closed or time.monotonic() < c.silent_until:
            return
        try:
            await c.ws.send_frame(frame, _TEXT)
        except (ConnectionError, RuntimeError):  # closing or reset transport: the reader cleans up
            c.closed = True

    def recheck(self, now: float | None = None) -> None:
        """Recompute whether any delivery fault is pending, so the fast path resumes when none is."""
        now = time.monotonic() if now is None else now
        self.slow = self.faults.malformed > 0 or any(
            c.malformed or c.delayed or now < c.silent_until or now < c.delay_until for c in self.conns.values())
