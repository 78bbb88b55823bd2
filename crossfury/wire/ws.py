# SPDX-License-Identifier: MIT
"""One WebSocket client connection on picows: each message reaches a plain callback as bytes.

picows parses frames in Cython and calls back once per frame from ``data_received``, so a message costs no
coroutine switch and no queue hop; text stays bytes, which is what the C decoders take. Server pings are
answered by picows (the pong echoes the ping payload, as Binance spot requires).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

log = logging.getLogger(__name__)

#: on_message(payload, local_ts): one complete text or binary message and its receive time in ns.
OnMessage = Callable[[bytes, int], None]


_TEXT = WSMsgType.TEXT


class _Listener(WSListener):
    def __init__(self, conn: WsConnection):
        self._conn = conn
        self._parts: list[bytes] = []

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        conn = self._conn
        kind = frame.msg_type
        if kind is _TEXT and frame.fin:  # the hot case, inlined: one whole text message
            now = conn._clock_ns()
            conn.messages += 1
            conn.last_message_ns = now
            try:
                conn._on_message(frame.get_payload_as_bytes(), now)
            except Exception:
                conn._callback_failed()
        elif kind is _TEXT or kind is WSMsgType.BINARY:
            if frame.fin:
                conn._deliver(frame.get_payload_as_bytes())
            else:
                self._parts = [frame.get_payload_as_bytes()]
        elif kind is WSMsgType.CONTINUATION:
            self._parts.append(frame.get_payload_as_bytes())
            if frame.fin:
                payload, self._parts = b"".join(self._parts), []
                conn._deliver(payload)
        elif kind is WSMsgType.CLOSE:
            conn.close_code = frame.get_close_code().value
            conn.close_reason = frame.get_close_reason()
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._conn._on_disconnected()


class WsConnection:
    """A client WebSocket delivering each message to ``on_message(payload, local_ts)``.

    ``on_message`` runs synchronously inside the event loop's read callback; it must not block, and any
    exception it raises is caught, counted and logged here so one bad message never drops the connection.
    """

    def __init__(self, url: str, on_message: OnMessage, *, max_message_bytes: int = 16 << 20,
                 handshake_timeout_s: float = 10.0, clock_ns: Callable[[], int] = time.time_ns):
        self.url = url
        self._on_message = on_message
        self.max_message_bytes = max_message_bytes
        self.handshake_timeout_s = handshake_timeout_s
        self._clock_ns = clock_ns
        self._transport: WSTransport | None = None
        self._closed: asyncio.Future[None] | None = None
        self.messages = 0
        self.callback_errors = 0
        self.last_message_ns = 0
        self.opened_ns = 0
        self.close_code: int | None = None
        self.close_reason = ""

    async def open(self) -> None:
        """Connect and complete the handshake; raises OSError or a picows error on failure."""
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        self._transport, _ = await ws_connect(lambda: _Listener(self), self.url,
                                              websocket_handshake_timeout=self.handshake_timeout_s,
                                              max_frame_size=self.max_message_bytes, enable_auto_pong=True)
        self.opened_ns = self.last_message_ns = self._clock_ns()

    def _deliver(self, payload: bytes) -> None:
        now = self._clock_ns()
        self.messages += 1
        self.last_message_ns = now
        try:
            self._on_message(payload, now)
        except Exception:
            self._callback_failed()

    def _callback_failed(self) -> None:
        self.callback_errors += 1
        if self.callback_errors <= 3 or self.callback_errors % 10_000 == 0:
            log.exception("%s: message handler failed (%d so far); connection kept", self.url, self.callback_errors)

    def _on_disconnected(self) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    @property
    def is_open(self) -> bool:
        """Whether the connection is up."""
        return self._transport is not None and not self._transport.is_disconnected

    def send_text(self, text: str | bytes) -> None:
        """Send one text message; raises ConnectionError when the connection is down."""
        if not self.is_open:
            raise ConnectionError(f"{self.url}: connection is closed")
        data = text.encode() if isinstance(text, str) else text
        self._transport.send(WSMsgType.TEXT, data)  # type: ignore[union-attr]

    def close(self, graceful: bool = True) -> None:
        """Start closing (a close frame when graceful, else drop the TCP connection); see ``wait_closed``."""
        t = self._transport
        if t is None or t.is_disconnected:
            self._on_disconnected()
            return
        if graceful:
            t.send_close(WSCloseCode.OK)
        t.disconnect(graceful=graceful)

    async def wait_closed(self) -> None:
        """Wait until the connection is down, whoever closed it."""
        if self._closed is not None:
            await asyncio.shield(self._closed)
