# SPDX-License-Identifier: MIT
# The connector's native depth path: one call per WebSocket frame (from FrameListener, frames.pyx) finds the
# frame's stream, feeds that symbol's book (decode, id check and apply in one C call, csrc/book/sync.h),
# builds the BookSnapshot and hands it to the consumers. Everything else goes back to the connector's Python
# handlers (crossfury/connectors/connector.py), so both paths behave the same; the tables are built there.
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_SIZE
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t
from libc.string cimport memchr, memcmp

from crossfury._native.book cimport feed_depth_span
from crossfury._native.common cimport CF_OK
from crossfury._native.frames cimport FrameRouter

from crossfury._native.status import STATUS_BY_CODE
from crossfury.core.errors import CrossfuryError


cdef class DepthRoute:
    """One depth stream: its book, the connector's handlers for the slow cases, and its BookSnapshot fields.

    Called with ``(payload, local_ts)`` it is the stream's Python handler too, so both paths run this code.
    ``on_status(status, local_ts)`` gets every status but applied, ``on_malformed(exc)`` every refused message
    and ``on_callback_error(target)`` every target that raised; ``owner.local_ts`` is set on each applied
    message. ``targets`` is the connector's list of book consumers, updated in place.
    """

    cdef object _book
    cdef object _owner
    cdef list _targets
    cdef object _top_levels
    cdef Py_ssize_t _levels
    cdef object _message
    cdef object _exchange
    cdef object _market
    cdef str _symbol
    cdef int64_t _time_scale_ns
    cdef object _on_status
    cdef object _on_malformed
    cdef object _on_callback_error
    cdef readonly unsigned long long frames  # taken by DepthRouter, straight from the WebSocket frame

    def __init__(self, book, owner, list targets, Py_ssize_t levels, message, exchange, market, str symbol,
                 int64_t time_scale_ns, on_status, on_malformed, on_callback_error):
        self._book = book
        self._owner = owner
        self._targets = targets
        self._top_levels = book.top_levels
        self._levels = levels
        self._message = message
        self._exchange = exchange
        self._market = market
        self._symbol = symbol
        self._time_scale_ns = time_scale_ns
        self._on_status = on_status
        self._on_malformed = on_malformed
        self._on_callback_error = on_callback_error

    def __call__(self, bytes payload, int64_t local_ts) -> None:
        """Handle one depth message that came the Python way (rotation, raw sinks, no stream prefix)."""
        self.feed(payload, len(payload), local_ts)

    cdef int feed(self, const char *msg, Py_ssize_t n, int64_t local_ts) except -1:
        cdef int st
        try:
            st = feed_depth_span(self._book, msg, <size_t>n)
        except CrossfuryError as exc:
            self._on_malformed(exc)
            return 0
        if st != CF_OK:
            self._on_status(STATUS_BY_CODE[st], local_ts)
            return 0
        self._owner.local_ts = local_ts
        if not PyList_GET_SIZE(self._targets):
            return 0
        book = self._book
        bids, asks = self._top_levels(self._levels)
        msg_obj = self._message(exchange=self._exchange, market=self._market,
                                exch_ts=book.last_exch_ts * self._time_scale_ns, local_ts=local_ts,
                                symbol=self._symbol, bids=bids, asks=asks, last_id=book.last_id)
        for target in self._targets:
            try:
                target(msg_obj)
            except Exception:
                self._on_callback_error(target)
        return 0


cdef class DepthRouter(FrameRouter):
    """Routes one connection's depth frames to their DepthRoute by stream name, natively.

    ``routes`` maps stream names (bytes) to DepthRoutes; ``stream_prefix`` is what a message starts with up to
    its stream name (``{"stream":"`` on Binance's combined streams). A frame goes back to the Python path when
    it does not start so, when its stream has no route, while ``direct`` is False (a rotation holds or
    remembers this connection's messages), and while ``raw_sinks`` (the recorder's) is not empty.
    """

    cdef bytes _prefix
    cdef dict _routes
    cdef list _raw_sinks
    cdef public bint direct

    def __init__(self, bytes stream_prefix, dict routes, list raw_sinks):
        if not stream_prefix:
            raise ValueError("stream_prefix must not be empty")
        self._prefix = stream_prefix
        self._routes = routes
        self._raw_sinks = raw_sinks
        self.direct = True

    cdef int route(self, const char *payload, Py_ssize_t size, int64_t local_ts) except -1:
        cdef Py_ssize_t plen = len(self._prefix)
        cdef const char *name
        cdef const char *end
        cdef PyObject *found
        cdef DepthRoute r
        if not self.direct or PyList_GET_SIZE(self._raw_sinks) or size <= plen or \
                memcmp(payload, <const char *>self._prefix, plen) != 0:
            return 0
        name = payload + plen
        end = <const char *>memchr(name, b'"', <size_t>(size - plen))
        if end == NULL:
            return 0
        found = PyDict_GetItem(self._routes, PyBytes_FromStringAndSize(name, end - name))
        if found == NULL:
            return 0
        r = <DepthRoute>found  # a strong reference: a consumer may unsubscribe (drop the route) meanwhile
        r.frames += 1
        r.feed(payload, size, local_ts)
        return 1
