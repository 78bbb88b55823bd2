# SPDX-License-Identifier: MIT
# The picows listener of every WsConnection (crossfury/wire/ws.py), in Cython so that a whole text frame
# reaches a native FrameRouter straight from picows's read buffer: no Python call and no copy per frame.
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

from picows.picows cimport WSFrame, WSListener, WSMsgType, WSTransport

import time


cdef class FrameRouter:
    """Takes whole text frames natively; this base takes none (see crossfury/_native/route.pyx)."""

    cdef int route(self, const char *payload, Py_ssize_t size, int64_t local_ts) except -1:
        return 0


cdef class FrameListener(WSListener):
    """One connection's picows listener: stamps and counts every message and hands it on.

    A whole text frame goes to ``router`` first, then, if the router leaves it, to ``on_message(payload,
    local_ts)`` as bytes. Every other frame (binary, fragments, close) goes to ``on_other_frame(transport,
    frame)``, which calls ``deliver`` for the messages it completes. An exception from ``on_message`` or the
    router is passed to ``on_error()`` (which logs it) and the connection is kept.
    """

    cdef readonly int64_t messages
    cdef public int64_t last_message_ns
    cdef public FrameRouter router
    cdef object _on_message
    cdef object _on_other_frame
    cdef object _on_error
    cdef object _on_disconnected
    cdef object _clock_ns  # None: CLOCK_REALTIME read in C, which is what time.time_ns reads

    def __init__(self, on_message, on_other_frame, on_error, on_disconnected, clock_ns=time.time_ns,
                 FrameRouter router=None):
        self._on_message = on_message
        self._on_other_frame = on_other_frame
        self._on_error = on_error
        self._on_disconnected = on_disconnected
        self._clock_ns = None if clock_ns is time.time_ns else clock_ns
        self.router = router

    cdef inline int64_t _now(self) except? -1:
        cdef timespec ts
        if self._clock_ns is not None:
            return self._clock_ns()
        clock_gettime(CLOCK_REALTIME, &ts)
        return <int64_t>ts.tv_sec * 1_000_000_000 + ts.tv_nsec

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef int64_t now
        if frame.msg_type != WSMsgType.TEXT or not frame.fin:
            self._on_other_frame(transport, frame)
            return
        now = self._now()
        self.messages += 1
        self.last_message_ns = now
        try:
            if self.router is not None and self.router.route(frame.payload_ptr, frame.payload_size, now):
                return
            self._on_message(PyBytes_FromStringAndSize(frame.payload_ptr, frame.payload_size), now)
        except Exception:
            self._on_error()

    cpdef on_ws_disconnected(self, WSTransport transport):
        self._on_disconnected()

    def deliver(self, bytes payload) -> None:
        """Stamp, count and hand over a message that ``on_other_frame`` completed (binary or reassembled)."""
        cdef int64_t now = self._now()
        self.messages += 1
        self.last_message_ns = now
        try:
            self._on_message(payload, now)
        except Exception:
            self._on_error()
