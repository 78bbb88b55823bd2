# SPDX-License-Identifier: MIT
# The connector's native depth path: one call per WebSocket frame (from FrameListener, frames.pyx) finds the
# frame's stream, feeds that symbol's book (decode, id check and apply in one C call, csrc/book/sync.h),
# builds the BookSnapshot and hands it to the consumers. Everything else goes back to the connector's Python
# handlers (crossfury/connectors/connector.py), so both paths behave the same; the tables are built there.
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_SIZE
from cpython.ref cimport Py_INCREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport int64_t
from libc.string cimport memchr, memcmp, memcpy

from crossfury._native.book cimport (CF_ASK, CF_BID, cf_book_top, cf_level, cf_side_id, cf_sync,
                                     cf_sync_get_book, cf_sync_get_last_id, cf_sync_get_px_scale,
                                     cf_sync_get_qty_scale, feed_depth_span, sync_of)
from crossfury._native.common cimport CF_OK, cf_scale, cf_scale_to_double
from crossfury._native.frames cimport FrameRouter

from crossfury._native.status import STATUS_BY_CODE
from crossfury.core.errors import CrossfuryError

cdef enum:
    _MAX_LEVELS = 64  # levels per side in a message, as NativeBook.top_levels allows
    _DATA_KEY_LEN = 9

cdef const char *_DATA_KEY = b'","data":'  # after a combined stream's name: its data object follows


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
    cdef Py_ssize_t _levels
    cdef object _message
    cdef object _exchange
    cdef object _market
    cdef str _symbol
    cdef int64_t _time_scale_ns
    cdef object _on_status
    cdef object _on_malformed
    cdef object _on_callback_error
    cdef _TopSide _bids
    cdef _TopSide _asks
    cdef readonly unsigned long long frames  # taken by DepthRouter, straight from the WebSocket frame

    def __init__(self, book, owner, list targets, Py_ssize_t levels, message, exchange, market, str symbol,
                 int64_t time_scale_ns, on_status, on_malformed, on_callback_error):
        if not 0 <= levels <= _MAX_LEVELS:
            raise ValueError(f"levels per side must be in 0..{_MAX_LEVELS}, got {levels}")
        sync_of(book)  # a NativeBook, and open
        self._book = book
        self._owner = owner
        self._targets = targets
        self._levels = levels
        self._message = message
        self._exchange = exchange
        self._market = market
        self._symbol = symbol
        self._time_scale_ns = time_scale_ns
        self._on_status = on_status
        self._on_malformed = on_malformed
        self._on_callback_error = on_callback_error
        self._bids = _TopSide(CF_BID)
        self._asks = _TopSide(CF_ASK)

    def __call__(self, bytes payload, int64_t local_ts) -> None:
        """Handle one depth message that came the Python way (rotation, raw sinks, no stream prefix)."""
        self.feed(payload, len(payload), NULL, 0, local_ts)

    cdef int feed(self, const char *msg, Py_ssize_t n, const char *data, Py_ssize_t data_n,
                  int64_t local_ts) except -1:
        # ``data`` (or NULL): the span of the combined envelope's "data" object inside msg, which the decoder
        # reads alone, skipping the envelope's scan (about 900 instructions a message).
        cdef int st
        cdef int64_t exch_ts = 0
        cdef const cf_sync *s
        try:
            if data == NULL:
                st = feed_depth_span(self._book, msg, <size_t>n, &exch_ts)
            else:
                try:
                    st = feed_depth_span(self._book, data, <size_t>data_n, &exch_ts)
                except CrossfuryError:
                    # Not one object up to the envelope's last byte (a member after "data", or malformed):
                    # decode the whole message, as the Python path does. Nothing was applied; the book's own
                    # rejected counter has counted the first try (the connector counts malformed once).
                    st = feed_depth_span(self._book, msg, <size_t>n, &exch_ts)
        except CrossfuryError as exc:
            self._on_malformed(exc)
            return 0
        if st != CF_OK:
            self._on_status(STATUS_BY_CODE[st], local_ts)
            return 0
        self._owner.local_ts = local_ts
        if not PyList_GET_SIZE(self._targets):
            return 0
        s = sync_of(self._book)
        message = self._message(exchange=self._exchange, market=self._market,
                                exch_ts=exch_ts * self._time_scale_ns, local_ts=local_ts, symbol=self._symbol,
                                bids=self._bids.read(s, self._levels), asks=self._asks.read(s, self._levels),
                                last_id=cf_sync_get_last_id(s))
        for target in self._targets:
            try:
                target(message)
            except Exception:
                self._on_callback_error(target)
        return 0


cdef class _TopSide:
    # NativeBook.top_levels for one side of a synced book: ((price, quantity), ...) floats, best first, built
    # straight into the tuple (top_levels, through a list, costs 1.6x as many instructions: bench_frames.py).
    # Tuples are immutable, so while the side's top levels stay the same (a change deeper in the book), the
    # last one is handed out again: no allocation, and no freeing when the message goes.
    cdef cf_side_id side
    cdef cf_level levels[_MAX_LEVELS]
    cdef Py_ssize_t count
    cdef cf_scale px_scale
    cdef cf_scale qty_scale
    cdef tuple value

    def __cinit__(self, int side):
        self.side = <cf_side_id>side

    cdef tuple read(self, const cf_sync *s, Py_ssize_t n):
        cdef cf_level buf[_MAX_LEVELS]
        cdef cf_scale ps = cf_sync_get_px_scale(s)
        cdef cf_scale qs = cf_sync_get_qty_scale(s)
        cdef Py_ssize_t k, got = <Py_ssize_t>cf_book_top(cf_sync_get_book(s), self.side, buf, <size_t>n)
        if (self.value is not None and got == self.count
                and memcmp(buf, self.levels, got * sizeof(cf_level)) == 0
                and memcmp(&ps, &self.px_scale, sizeof(cf_scale)) == 0
                and memcmp(&qs, &self.qty_scale, sizeof(cf_scale)) == 0):
            return self.value
        cdef tuple out = PyTuple_New(got)
        # A level whose price and quantity are unchanged keeps its (price, quantity) tuple: most messages move
        # one or two of the top levels, and each level built costs two floats and a tuple, freed later.
        # Both lists run best first, so one walk over the last top finds them; a new grid rebuilds all.
        cdef Py_ssize_t j = 0
        cdef Py_ssize_t old_n = self.count if (
            self.value is not None and memcmp(&ps, &self.px_scale, sizeof(cf_scale)) == 0
            and memcmp(&qs, &self.qty_scale, sizeof(cf_scale)) == 0) else 0
        cdef bint bids = self.side == CF_BID
        cdef int64_t px
        for k in range(got):
            px = buf[k].px
            while j < old_n and (self.levels[j].px > px if bids else self.levels[j].px < px):
                j += 1  # a level better than this one that is gone
            if j < old_n and self.levels[j].px == px and self.levels[j].qty == buf[k].qty:
                level = <object>PyTuple_GET_ITEM(self.value, j)
            else:
                level = (cf_scale_to_double(&ps, px), cf_scale_to_double(&qs, buf[k].qty))
            Py_INCREF(level)  # PyTuple_SET_ITEM steals the reference that `level` gives back at the next turn
            PyTuple_SET_ITEM(out, k, level)
        memcpy(self.levels, buf, got * sizeof(cf_level))
        self.count, self.px_scale, self.qty_scale, self.value = got, ps, qs, out
        return out


cdef class DepthRouter(FrameRouter):
    """Routes one connection's depth frames to their DepthRoute by stream name, natively.

    ``routes`` maps stream names (bytes) to DepthRoutes; ``stream_prefix`` is what a message starts with up to
    its stream name (``{"stream":"`` on Binance's combined streams). When the name is followed by
    ``","data":{`` and the message ends with ``}``, the route's decoder gets the data object alone (see
    ``DepthRoute.feed``). A frame goes back to the Python path when
    it does not start so, when its stream has no route, while ``direct`` is False (a rotation holds or
    remembers this connection's messages), and while ``raw_sinks`` (the recorder's) is not empty.
    """

    cdef bytes _prefix
    cdef dict _routes
    cdef list _raw_sinks
    cdef bytes _last_name  # the last stream name looked up: its hash is kept, a repeat needs no new bytes
    cdef public bint direct

    def __init__(self, bytes stream_prefix, dict routes, list raw_sinks):
        if not stream_prefix:
            raise ValueError("stream_prefix must not be empty")
        self._prefix = stream_prefix
        self._routes = routes
        self._raw_sinks = raw_sinks
        self.direct = True

    cdef int route(self, const char *payload, Py_ssize_t size, int64_t local_ts) except -1:
        cdef Py_ssize_t plen = len(self._prefix), name_len
        cdef const char *name
        cdef const char *end
        cdef Py_ssize_t rest
        cdef bytes key = self._last_name
        cdef PyObject *found
        cdef DepthRoute r
        if not self.direct or PyList_GET_SIZE(self._raw_sinks) or size <= plen or \
                memcmp(payload, <const char *>self._prefix, plen) != 0:
            return 0
        name = payload + plen
        end = <const char *>memchr(name, b'"', <size_t>(size - plen))
        if end == NULL:
            return 0
        name_len = end - name
        if (key is None or PyBytes_GET_SIZE(key) != name_len
                or memcmp(PyBytes_AS_STRING(key), name, name_len) != 0):
            key = self._last_name = PyBytes_FromStringAndSize(name, name_len)
        found = PyDict_GetItem(self._routes, key)
        if found == NULL:
            return 0
        r = <DepthRoute>found  # a strong reference: a consumer may unsubscribe (drop the route) meanwhile
        r.frames += 1
        rest = size - (end - payload)  # from the name's closing quote on
        if (rest >= _DATA_KEY_LEN + 2 and memcmp(end, _DATA_KEY, _DATA_KEY_LEN) == 0
                and end[_DATA_KEY_LEN] == b'{' and payload[size - 1] == b'}'):
            # the envelope's data object, when it follows the name at once: up to the envelope's last byte
            r.feed(payload, size, end + _DATA_KEY_LEN, rest - _DATA_KEY_LEN - 1, local_ts)
        else:
            r.feed(payload, size, NULL, 0, local_ts)
        return 1
