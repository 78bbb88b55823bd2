# SPDX-License-Identifier: MIT
"""One WebSocket client connection on picows: each message reaches a plain callback as bytes.

picows parses frames in Cython and calls back once per frame from ``data_received``, so a message costs no
coroutine switch and no queue hop; text stays bytes, which is what the C decoders take. The listener is
Cython too (``crossfury._native.frames``): a whole text frame can go to a native router first (the
connector's depth path) and reaches Python only if the router leaves it. Server pings are answered by
picows (the pong echoes the ping payload, as Binance spot requires).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from picows import WSCloseCode, WSFrame, WSMsgType, WSTransport, ws_connect

from crossfury._native.frames import FrameListener, FrameRouter

log = logging.getLogger(__name__)

#: on_message(payload, local_ts): one complete text or binary message and its receive time in ns.
OnMessage = Callable[[bytes, int], None]


class WsConnection:
    """A client WebSocket delivering each message to ``on_message(payload, local_ts)``.

    ``on_message`` runs synchronously inside the event loop's read callback; it must not block, and any
    exception it raises is caught, counted and logged here so one bad message never drops the connection.
    A ``router`` (a native ``FrameRouter``) sees each whole text frame first and may take it instead.
    """

    def __init__(self, url: str, on_message: OnMessage, *, max_message_bytes: int = 16 << 20,
                 handshake_timeout_s: float = 10.0, clock_ns: Callable[[], int] = time.time_ns,
                 router: FrameRouter | None = None):
        self.url = url
        self.max_message_bytes = max_message_bytes
        self.handshake_timeout_s = handshake_timeout_s
        self._clock_ns = clock_ns
        self._listener = FrameListener(on_message, self._on_other_frame, self._callback_failed,
                                       self._on_disconnected, clock_ns, router)
        self._parts: list[bytes] = []
        self._transport: WSTransport | None = None
        self._closed: asyncio.Future[None] | None = None
        self.callback_errors = 0
        self.opened_ns = 0
        self.close_code: int | None = None
        self.close_reason = ""

    @property
    def messages(self) -> int:
        """Messages received (every whole text or binary message, however it was handled)."""
        return self._listener.messages

    @property
    def last_message_ns(self) -> int:
        """Receive time of the last message (of the handshake before the first), in ns."""
        return self._listener.last_message_ns

    async def open(self) -> None:
        """Connect and complete the handshake; raises OSError or a picows error on failure."""
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        self._transport, _ = await ws_connect(lambda: self._listener, self.url,
                                              websocket_handshake_timeout=self.handshake_timeout_s,
                                              max_frame_size=self.max_message_bytes, enable_auto_pong=True)
        self.opened_ns = self._listener.last_message_ns = self._clock_ns()

    def _on_other_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        # Every frame but a whole text one, which the listener handles itself.
        kind = frame.msg_type
        if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
            if frame.fin:
                self._listener.deliver(frame.get_payload_as_bytes())
            else:
                self._parts = [frame.get_payload_as_bytes()]
        elif kind is WSMsgType.CONTINUATION:
            self._parts.append(frame.get_payload_as_bytes())
            if frame.fin:
                payload, self._parts = b"".join(self._parts), []
                self._listener.deliver(payload)
        elif kind is WSMsgType.CLOSE:
            self.close_code = frame.get_close_code().value
            self.close_reason = frame.get_close_reason()
            transport.send_close(frame.get_close_code())
            transport.disconnect()

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
