# SPDX-License-Identifier: MIT
"""A lean HTTP/1.1 client for the trading requests: kept-alive connections, one request in flight on each.

Why not aiohttp here: a signed order is one small request and one small JSON reply on a hot path, and
aiohttp's per-request machinery (request and response objects, URL and header types, timers) cost about
170 µs of client CPU per request on loopback; this client, an ``asyncio.Protocol`` that parses the reply as
its bytes arrive, about 50 µs (65 µs over asyncio streams). benchmarks/bench_orders.py measures the whole
round trip. Market-data REST keeps using aiohttp (``crossfury.wire.RestClient``).

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


class Reply:
    """One HTTP reply: status, headers (names lower-cased) and the body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body


class _Conn(asyncio.Protocol):
    """One kept-alive connection: a request written whole, its reply parsed as bytes arrive (no stream layer)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._waiter: asyncio.Future | None = None
        self._head_only = False
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

    def send(self, raw: bytes, head_only: bool) -> asyncio.Future:
        self._buf.clear()
        self._head_only = head_only
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)  # type: ignore[union-attr]
        return self._waiter

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
        self._slots = asyncio.Semaphore(max_connections)
        self.connects = 0  # connections opened so far (one per request means keep-alive is not working)

    async def request(self, method: str, path_qs: str, headers: str, timeout_s: float) -> Reply:
        """Send ``method prefix+path_qs`` with extra header lines (``"Name: value\\r\\n"``); return the reply."""
        raw = (f"{method} {self.prefix}{path_qs} HTTP/1.1\r\n{self._fixed_headers}{headers}"
               f"Content-Length: 0\r\n\r\n").encode()
        async with self._slots:
            conn = await self._take(timeout_s)
            try:
                async with asyncio.timeout(timeout_s):
                    reply, keep = await conn.send(raw, method == "HEAD")
            except BaseException:
                conn.close()  # unknown state: never reuse it
                raise
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

    async def close(self) -> None:
        """Close every idle connection."""
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
    lines = buf[:end].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    try:
        status = int(rest[:3])
    except ValueError:
        raise ConnectionError(f"not an HTTP reply: {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    start = end + 4
    if head_only or status in (204, 304) or 100 <= status < 200:
        return Reply(status, headers, b""), keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(buf, start)
        return None if body is None else (Reply(status, headers, body), keep)
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise ConnectionError("malformed Content-Length") from None
        if not 0 <= length <= _MAX_BODY_BYTES:
            raise ConnectionError(f"reply Content-Length {length} out of range")
        if len(buf) - start < length:
            return None
        return Reply(status, headers, bytes(buf[start:start + length])), keep
    # No length: the body runs to the end of the connection.
    if len(buf) - start > _MAX_BODY_BYTES:
        raise ConnectionError("reply over 64 MiB")
    return (Reply(status, headers, bytes(buf[start:])), False) if eof else None


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
