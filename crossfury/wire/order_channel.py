# SPDX-License-Identifier: MIT
"""A lean HTTP/1.1 client for the trading requests: kept-alive connections, one request in flight on each.

Why not aiohttp here: a signed order is one small request and one small JSON reply on a hot path, and
aiohttp's per-request machinery (request and response objects, URL and header types, timers) cost about
170 µs of client CPU per request on loopback; this client, an ``asyncio.Protocol`` that parses the reply as
its bytes arrive, with deadlines checked by one sweep per channel and headers found only when asked for,
about a quarter of it. benchmarks/bench_orders.py measures the whole round trip. Market-data REST keeps using aiohttp (``crossfury.wire.RestClient``).

What it handles: ``http`` and ``https`` (TLS with the default certificate checks), Content-Length and chunked
replies, ``Connection: close``, a connection the server closed while idle (dropped before reuse), and a
timeout per request (the connection is then discarded, since its state is unknown). A connection error or a
timeout surfaces as ``ConnectionError`` / ``TimeoutError``; the caller decides what an unknown outcome means.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from crossfury.core.errors import ConfigError

_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 64 * 1024 * 1024
# Deadlines are checked this often while requests are in flight (a timeout fires up to this much late): one
# timer per channel instead of one per request, whose arming and cancelling cost about 7 µs each time.
_SWEEP_S = 0.01


class Reply:
    """One HTTP reply: status, headers and the body. ``header(name)`` reads one header (names are
    case-insensitive; values come back lower-cased), found in the header block only when asked for."""

    __slots__ = ("_head", "body", "status")

    def __init__(self, status: int, head: str, body: bytes):
        self.status, self._head, self.body = status, head, body

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return the value of header ``name`` (lower-case), or ``default``."""
        value = _header_value(self._head, f"\r\n{name.lower()}:")
        return default if value is None else value


def _header_value(head: str, needle: str) -> str | None:
    """Return the value of the header line ``needle`` (``"\\r\\nname:"``, lower-case) starts in ``head``, or None."""
    i = head.find(needle)
    if i < 0:
        return None
    i += len(needle)
    j = head.find("\r\n", i)
    return head[i:j if j >= 0 else None].strip()


class _Conn(asyncio.Protocol):
    """One kept-alive connection: a request written whole, its reply parsed as bytes arrive (no stream layer)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._waiter: asyncio.Future | None = None
        self._head_only = False
        self._deadline = 0.0  # loop time by which the reply must be complete
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        w = self._waiter
        if w is not None and not w.done():
            try:
                done = _parse(self._buf, self._head_only, eof=True)  # a reply that runs to the close
            except ConnectionError as err:
                w.set_exception(err)
                return
            if done is not None:
                w.set_result(done)
                return
            w.set_exception(ConnectionError("the server closed the connection before replying" if not self._buf
                                            else "the server closed the connection in the middle of a reply"))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        w = self._waiter
        if w is None or w.done():
            if len(self._buf) > _MAX_HEADER_BYTES:  # unasked-for bytes piling up: not a server to keep
                self.close()
            return
        try:
            done = _parse(self._buf, self._head_only, eof=False)
        except ConnectionError as err:
            w.set_exception(err)
            return
        if done is not None:
            w.set_result(done)

    def send(self, raw: bytes, head_only: bool, deadline: float) -> asyncio.Future:
        """Write a request; return the future of its reply (``expire`` fails it once ``deadline`` passes)."""
        self._buf.clear()
        self._head_only = head_only
        self._deadline = deadline
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)  # type: ignore[union-attr]
        return waiter

    def expire(self, now: float) -> None:
        """Fail the pending reply with TimeoutError if its deadline has passed."""
        w = self._waiter
        if w is not None and not w.done() and now >= self._deadline:
            w.set_exception(TimeoutError("no reply in time"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class OrderChannel:
    """Send requests to one base URL over a pool of kept-alive HTTP/1.1 connections."""

    def __init__(self, base_url: str, *, max_connections: int = 16, user_agent: str = "crossfury",
                 ssl_context: ssl.SSLContext | None = None):
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"trading URL {base_url!r}: expected http(s)://host[:port][/prefix]")
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        self._ssl = (ssl_context or ssl.create_default_context()) if url.scheme == "https" else None
        default_port = self.port == (443 if self._ssl else 80)
        host_header = self.host if default_port else f"{self.host}:{self.port}"
        self._fixed_headers = f"Host: {host_header}\r\nUser-Agent: {user_agent}\r\nAccept: application/json\r\n"
        self._idle: list[_Conn] = []
        self._busy: set[_Conn] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._slots = asyncio.Semaphore(max_connections)
        self.connects = 0  # connections opened so far (one per request means keep-alive is not working)

    async def request(self, method: str, path_qs: str, headers: str, timeout_s: float) -> Reply:
        """Send ``method prefix+path_qs`` with extra header lines (``"Name: value\\r\\n"``); return the reply."""
        raw = (f"{method} {self.prefix}{path_qs} HTTP/1.1\r\n{self._fixed_headers}{headers}"
               f"Content-Length: 0\r\n\r\n").encode()
        async with self._slots:
            conn = await self._take(timeout_s)
            loop = asyncio.get_running_loop()
            self._busy.add(conn)
            if self._sweeper is None:
                self._sweeper = loop.call_later(_SWEEP_S, self._sweep)
            try:
                reply, keep = await conn.send(raw, method == "HEAD", loop.time() + timeout_s)
            except BaseException:
                conn.close()  # unknown state (a timeout among them): never reuse it
                raise
            finally:
                self._busy.discard(conn)
            if keep and not conn.closed:
                self._idle.append(conn)
            else:
                conn.close()
            return reply

    async def _take(self, timeout_s: float) -> _Conn:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        self.connects += 1
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            _, conn = await loop.create_connection(_Conn, self.host, self.port, ssl=self._ssl,
                                                   server_hostname=self.host if self._ssl else None)
        return conn

    def _sweep(self) -> None:
        self._sweeper = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for conn in list(self._busy):
            conn.expire(now)
        if self._busy:
            self._sweeper = loop.call_later(_SWEEP_S, self._sweep)

    async def close(self) -> None:
        """Close every idle connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def _parse(buf: bytearray, head_only: bool, eof: bool) -> tuple[Reply, bool] | None:
    """Return the reply in ``buf`` and whether the connection may be reused, or None while it is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > _MAX_HEADER_BYTES:
            raise ConnectionError("reply headers over 64 KiB")
        return None
    # One decode and one lower() of the whole block; headers are then found by search (Reply.header).
    head = buf[:end + 2].decode("latin-1").lower()
    version, _, rest = head.partition(" ")
    try:
        status = int(rest[:3])
    except ValueError:
        raise ConnectionError(f"not an HTTP reply: {head[:80]!r}") from None
    reply = Reply(status, head, b"")
    keep = version == "http/1.1" and _header_value(head, "\r\nconnection:") != "close"
    start = end + 4
    if head_only or status in (204, 304) or 100 <= status < 200:
        return reply, keep
    if "chunked" in (_header_value(head, "\r\ntransfer-encoding:") or ""):
        body = _dechunk(buf, start)
        if body is None:
            return None
        reply.body = body
        return reply, keep
    length_text = _header_value(head, "\r\ncontent-length:")
    if length_text is not None:
        try:
            length = int(length_text)
        except ValueError:
            raise ConnectionError("malformed Content-Length") from None
        if not 0 <= length <= _MAX_BODY_BYTES:
            raise ConnectionError(f"reply Content-Length {length} out of range")
        if len(buf) - start < length:
            return None
        reply.body = bytes(buf[start:start + length])
        return reply, keep
    # No length: the body runs to the end of the connection.
    if len(buf) - start > _MAX_BODY_BYTES:
        raise ConnectionError("reply over 64 MiB")
    if not eof:
        return None
    reply.body = bytes(buf[start:])
    return reply, False


def _dechunk(buf: bytearray, pos: int) -> bytes | None:
    """Return the body of a complete chunked reply starting at ``pos``, or None while incomplete."""
    parts, total = [], 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ConnectionError("malformed chunk size") from None
        pos = eol + 2
        if size == 0:
            while True:  # trailers, then the empty line
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return b"".join(parts)
                pos = eol + 2
        total += size
        if total > _MAX_BODY_BYTES:
            raise ConnectionError("chunked reply over 64 MiB")
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size:pos + size + 2] != b"\r\n":
            raise ConnectionError("chunk not followed by CRLF")
        parts.append(bytes(buf[pos:pos + size]))
        pos += size + 2
