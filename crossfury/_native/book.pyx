# SPDX-License-Identifier: MIT
# Thin wrapper over csrc/book: argument checks, pointers, the C call, status -> result or exception.
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBuffer_Release, PyObject_GetBuffer
from libc.math cimport NAN
from libc.string cimport strcmp
from libc.stdint cimport int64_t, uint32_t
from libc.stdlib cimport free, malloc, realloc

from crossfury._native.decode cimport Layout, decode_error, text_bytes

import numpy as np

from crossfury._native.status import STATUS_BY_CODE
from crossfury.core.errors import DecodeError, NumberError
from crossfury.events.dtypes import LEVEL_DTYPE

RULE_NONE = CF_RULE_NONE
RULE_RANGE = CF_RULE_RANGE
RULE_PREV_ID = CF_RULE_PREV_ID
ID_NONE = CF_ID_NONE

# Buffer format numpy exports for LEVEL_DTYPE; equal dtypes export the same string.
cdef bytes _LEVEL_FORMAT = memoryview(np.zeros(0, dtype=LEVEL_DTYPE)).format.encode("ascii")
cdef object _LEVEL_DTYPE = LEVEL_DTYPE
# Size (bytes) from which a single on_message / on_snapshot_message call releases the GIL: ~15 us of work.
cdef Py_ssize_t _NOGIL_MIN_BYTES = 16384

_SIDE_NAMES = ("bid", "ask")
_FIELD_NAMES = ("price", "quantity")
_STATE_NAMES = {CF_STATE_WAITING: "waiting", CF_STATE_SYNCED: "synced", CF_STATE_RESYNCING: "resyncing"}


cdef inline const char *_text_ptr(object text, Py_ssize_t *length) except NULL:
    return text_bytes(text, length, "level value", DecodeError, NumberError)


cdef cf_scale _scale_from(object size, str what) except *:
    cdef cf_scale scale
    cdef Py_ssize_t n = 0
    cdef const char *p
    if size is None:
        return cf_scale_inferred()
    text = size.encode() if type(size) is str else size
    p = _text_ptr(text, &n)
    if cf_scale_from_text(p, <size_t>n, &scale) != CF_OK:
        raise NumberError(f"{what} {size!r} is not a positive decimal number")
    return scale


cdef class NativeBook:
    """A C L2 book behind a C update-id synchroniser (csrc/book/sync.h). Use crossfury.book's classes."""

    cdef cf_sync *_sync
    cdef cf_text_level *_text
    cdef size_t _text_cap
    cdef object _tick_size
    cdef object _lot_size
    cdef Layout _depth_layout
    cdef Layout _snapshot_layout
    cdef int64_t _last_exch_ts

    def __cinit__(self, int rule, tick_size=None, lot_size=None, uint32_t max_buffered_events=4096,
                  size_t max_buffered_levels=1 << 20):
        cdef cf_scale px_scale = _scale_from(tick_size, "tick size")
        cdef cf_scale qty_scale = _scale_from(lot_size, "lot size")
        self._sync = cf_sync_new(<cf_sync_rule>rule, px_scale, qty_scale, max_buffered_events, max_buffered_levels)
        if self._sync == NULL:
            raise ValueError(f"cannot create a book with rule {rule}, {max_buffered_events} buffered events, "
                             f"{max_buffered_levels} buffered levels")
        self._tick_size = tick_size
        self._lot_size = lot_size

    def __dealloc__(self):
        cf_sync_free(self._sync)
        free(self._text)

    cdef inline cf_sync *_live(self) except NULL:
        if self._sync == NULL:
            raise ValueError("operation on a closed book")
        return self._sync

    def close(self) -> None:
        """Free the book's memory now; any later use raises ValueError."""
        cf_sync_free(self._sync)
        self._sync = NULL
        free(self._text)
        self._text = NULL
        self._text_cap = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    cdef cf_text_level *_levels_text(self, object bids, object asks, size_t *n_bids, size_t *n_asks) except NULL:
        cdef Py_ssize_t nb = len(bids), na = len(asks), k, n
        cdef size_t need = <size_t>(nb + na)
        cdef cf_text_level *t
        if need > self._text_cap or self._text == NULL:
            t = <cf_text_level *>realloc(self._text, (need + 64) * sizeof(cf_text_level))
            if t == NULL:
                raise MemoryError()
            self._text = t
            self._text_cap = need + 64
        t = self._text
        for k, level in enumerate(bids):
            _fill_text(&t[k], level)
        for k, level in enumerate(asks):
            _fill_text(&t[nb + k], level)
        n_bids[0] = <size_t>nb
        n_asks[0] = <size_t>na
        return t

    cdef int _check(self, cf_status st, object bids, object asks) except -1:
        # Raise for an error status; return a non-negative status unchanged.
        cdef cf_value_error err
        if st >= 0:
            return st
        if st == CF_ENOMEM:
            raise MemoryError("book allocation failed")
        err = cf_sync_last_error(self._live())
        if st == CF_EBADMSG:
            raise DecodeError("depth event ids are inconsistent (first id above last id, negative ids, "
                              "or a missing previous id)")
        levels = bids if err.side == CF_BID else asks
        value = levels[err.index][err.field] if levels is not None else None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        where = f"{_SIDE_NAMES[err.side]} {_FIELD_NAMES[err.field]} {value!r} (level {err.index})"
        if st == CF_EBADNUM:
            raise NumberError(f"{where} is not a plain decimal number")
        if st == CF_ENEGATIVE:
            raise NumberError(f"{where} is negative")
        if st == CF_ESCALE:
            size = self._tick_size if err.field == 0 else self._lot_size
            raise NumberError(f"{where} is not a multiple of the {'tick' if err.field == 0 else 'lot'} size {size}")
        if st == CF_ERANGE:
            raise NumberError(f"{where} is out of range: over 19 digits, over 18 decimals, "
                              f"or too large for int64 at the book's scale")
        raise NumberError(f"{where} was refused (status {st})")

    # -- feeding --------------------------------------------------------------------------------------

    def on_depth_levels(self, int64_t first_id, int64_t last_id, prev_id, bids, asks) -> int:
        """Feed one decoded depth event (levels as [price text, quantity text] pairs); return its status."""
        cdef cf_depth_ids ids
        cdef size_t nb, na
        cdef cf_text_level *t = self._levels_text(bids, asks, &nb, &na)
        ids.first_id = first_id
        ids.last_id = last_id
        ids.prev_id = CF_ID_NONE if prev_id is None else <int64_t>prev_id
        return self._check(cf_sync_on_depth(self._live(), &ids, t, nb, t + nb, na), bids, asks)

    def on_snapshot_levels(self, int64_t last_id, bids, asks) -> int:
        """Install a decoded snapshot (levels as text pairs) and replay buffered events; return its status."""
        cdef size_t nb, na
        cdef cf_text_level *t = self._levels_text(bids, asks, &nb, &na)
        return self._check(cf_sync_on_snapshot(self._live(), last_id, t, nb, t + nb, na), bids, asks)

    def apply_ticks(self, bids, asks, bint replace=False) -> int:
        """Apply (or install, with replace) levels already in ticks and lots: 1-d LEVEL_DTYPE arrays."""
        cdef Py_buffer b, a
        cdef cf_status st
        # Raw buffers with one format compare: a typed memoryview re-parses the struct format on every
        # call (~220 ns per array, measured), which is most of a small message's cost.
        _get_levels(bids, &b, "bids")
        try:
            _get_levels(asks, &a, "asks")
        except BaseException:
            PyBuffer_Release(&b)
            raise
        st = cf_sync_apply_ticks(self._live(), replace, <const cf_level *>b.buf, <size_t>b.shape[0],
                                 <const cf_level *>a.buf, <size_t>a.shape[0])
        PyBuffer_Release(&b)
        PyBuffer_Release(&a)
        if st >= 0:
            return st
        if st == CF_EINVAL:
            raise TypeError("apply_ticks is for an unsequenced Book; a SyncedBook changes only through its ids")
        return self._check(st, np.asarray(bids).tolist(), np.asarray(asks).tolist())

    def set_layouts(self, Layout depth, Layout snapshot) -> None:
        """Layouts that on_message and on_snapshot decode raw depth messages and snapshot bodies with."""
        self._depth_layout = depth
        self._snapshot_layout = snapshot

    def on_message(self, msg):
        """Feed one raw depth message (bytes or str): decode, check ids, apply, in one C call (without the GIL
        from 16 KiB on).

        Returns a SyncStatus; raises DecodeError (malformed message) or NumberError (bad level value), in
        which case nothing changed but the rejected counter.
        """
        return self._feed_raw(msg, False)

    def on_messages(self, msgs):
        """Feed many raw depth messages in one C call without the GIL; int8 statuses, one per message.

        Errors do not raise here: a refused message gets its negative status (see csrc/common/status.h) and
        the batch goes on.
        """
        cdef list seq = msgs if type(msgs) is list else list(msgs)
        cdef Py_ssize_t m = len(seq), k, n = 0
        cdef cf_sync *s = self._live()
        cdef Layout layout = self._depth_layout
        cdef cf_record rec
        if layout is None:
            raise TypeError("this book has no message layout")
        out = np.empty(m, dtype=np.int8)
        if m == 0:
            return out
        cdef signed char[::1] statuses = out
        cdef const char **ptrs = <const char **>malloc(m * sizeof(const char *))
        cdef size_t *lens = <size_t *>malloc(m * sizeof(size_t))
        try:
            if ptrs == NULL or lens == NULL:
                raise MemoryError()
            for k in range(m):
                ptrs[k] = _msg_bytes(seq[k], &n)
                lens[k] = <size_t>n
            with nogil:
                for k in range(m):
                    statuses[k] = <signed char>cf_sync_on_message(s, &layout.c, ptrs[k], lens[k], &rec)
        finally:
            free(ptrs)
            free(lens)
        return out

    def on_snapshot_message(self, body):
        """Install a raw REST depth snapshot body (bytes or str) and replay the buffer; returns a SyncStatus."""
        return self._feed_raw(body, True)

    cdef object _feed_raw(self, object msg, bint snapshot):
        cdef Py_ssize_t n = 0
        cdef const char *p = _msg_bytes(msg, &n)
        cdef cf_sync *s = self._live()
        cdef Layout layout = self._snapshot_layout if snapshot else self._depth_layout
        cdef cf_record rec
        cdef cf_status st
        if layout is None:
            raise TypeError("this book has no message layouts: use on_depth, or create it with a rule alias")
        # Releasing and retaking the GIL cost ~50 ns of a ~1.7 us single call (real USD-M depth, loaded
        # machine); a depth message holds it far less than the interpreter's 5 ms switch interval, so only
        # bodies large enough to hold it long (snapshots) let other threads run meanwhile.
        if n >= _NOGIL_MIN_BYTES:
            with nogil:
                st = _feed_c(s, &layout.c, p, <size_t>n, &rec, snapshot)
        else:
            st = _feed_c(s, &layout.c, p, <size_t>n, &rec, snapshot)
        if st >= 0:
            self._last_exch_ts = rec.ints[<int>CF_FIELD_EXCH_TS] if rec.present & (1u << <int>CF_FIELD_EXCH_TS) else 0
            return STATUS_BY_CODE[st]
        self._raise_message_error(st, &rec, layout, "depth snapshot" if snapshot else "depth message", p,
                                  <size_t>n)

    cdef int _raise_message_error(self, cf_status st, const cf_record *rec, Layout layout, str what,
                                  const char *p, size_t n) except -1:
        cdef cf_value_error err = cf_sync_last_error(self._sync)
        cdef cf_text_level lv
        if st == CF_ENOMEM:
            raise MemoryError("book allocation failed")
        if err.stage == CF_ERR_DECODE:
            raise decode_error(rec, layout, st, what, p, n)
        if err.stage == CF_ERR_IDS:
            return self._check(st, None, None)
        text = None
        if cf_sync_decoded_level(self._sync, <cf_side_id>err.side, err.index, &lv):
            text = lv.px[:lv.px_len] if err.field == 0 else lv.qty[:lv.qty_len]
        levels = [(text, text)] * (err.index + 1)
        return self._check(st, levels if err.side == CF_BID else None, levels if err.side == CF_ASK else None)

    def apply_ticks_batch(self, levels, counts):
        """Apply many messages of tick levels in one C call; read the best bid and ask after each.

        levels is one LEVEL_DTYPE array holding, message after message, its bid levels then its ask levels;
        counts is a (messages, 2) uint32 array of [bid count, ask count]. Returns (statuses int8 per
        message, best float64 (messages, 4): bid price, bid quantity, ask price, ask quantity, NaN where a
        side is empty). A refused message has a negative status and changes nothing.
        """
        cdef Py_buffer lv
        cdef const uint32_t[:, ::1] c = counts
        cdef Py_ssize_t m = c.shape[0], k
        cdef cf_sync *s = self._live()
        cdef cf_status st
        if c.shape[1] != 2:
            raise ValueError(f"counts must have shape (messages, 2), got {np.asarray(counts).shape}")
        statuses = np.empty(m, dtype=np.int8)
        best_ticks = np.empty(2 * m, dtype=LEVEL_DTYPE)
        cdef signed char[::1] so = statuses
        cdef cf_level *best_out = _level_ptr(best_ticks) if m else NULL
        _get_levels(levels, &lv, "levels")
        try:
            if m:
                with nogil:
                    st = cf_sync_apply_ticks_batch(s, <const cf_level *>lv.buf, <size_t>lv.shape[0], &c[0, 0],
                                                   <size_t>m, <int8_t *>&so[0], best_out)
                if st == CF_EINVAL:
                    raise ValueError("apply_ticks_batch: counts exceed the levels given, or the book is sequenced")
        finally:
            PyBuffer_Release(&lv)
        px = self.prices_from_ticks(best_ticks["px"].copy())
        qty = self.quantities_from_lots(best_ticks["qty"].copy())
        best = np.column_stack((px[0::2], qty[0::2], px[1::2], qty[1::2]))
        best[best_ticks["qty"][0::2] == 0, 0:2] = np.nan
        best[best_ticks["qty"][1::2] == 0, 2:4] = np.nan
        return statuses, best

    def reset(self) -> None:
        """Drop the book and the buffer and wait for a new snapshot."""
        cf_sync_reset(self._live())

    # -- reading --------------------------------------------------------------------------------------

    cdef inline object _best(self, cf_side_id side):
        cdef cf_level lv
        cdef cf_scale ps, qs
        if cf_sync_get_state(self._live()) != CF_STATE_SYNCED:
            return None
        if not cf_book_best(cf_sync_get_book(self._live()), side, &lv):
            return None
        ps = cf_sync_get_px_scale(self._live())
        qs = cf_sync_get_qty_scale(self._live())
        return (cf_scale_to_double(&ps, lv.px), cf_scale_to_double(&qs, lv.qty))

    def best_bid(self):
        """Best bid as (price, quantity) floats; None when empty or while the book is not synced."""
        return self._best(CF_BID)

    def best_ask(self):
        """Best ask as (price, quantity) floats; None when empty or while the book is not synced."""
        return self._best(CF_ASK)

    def best(self):
        """Both sides at once: (bid price, bid quantity, ask price, ask quantity) floats, NaN for an empty side;
        None while the book is not synced."""
        cdef cf_level b, a
        cdef cf_scale ps, qs
        cdef cf_sync *s = self._live()
        cdef const cf_book *book = cf_sync_get_book(s)
        # C NaN for an empty side: float("nan") on every call cost ~70 ns of this method's ~145.
        cdef double bid_px = NAN, bid_qty = NAN, ask_px = NAN, ask_qty = NAN
        if cf_sync_get_state(s) != CF_STATE_SYNCED:
            return None
        ps = cf_sync_get_px_scale(s)
        qs = cf_sync_get_qty_scale(s)
        if cf_book_best(book, CF_BID, &b):
            bid_px, bid_qty = cf_scale_to_double(&ps, b.px), cf_scale_to_double(&qs, b.qty)
        if cf_book_best(book, CF_ASK, &a):
            ask_px, ask_qty = cf_scale_to_double(&ps, a.px), cf_scale_to_double(&qs, a.qty)
        return (bid_px, bid_qty, ask_px, ask_qty)

    def top_ticks(self, Py_ssize_t n):
        """Up to n best levels per side as LEVEL_DTYPE arrays (ticks, lots), best first; empty if not synced."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        cdef const cf_book *book = cf_sync_get_book(self._live())
        synced = cf_sync_get_state(self._live()) == CF_STATE_SYNCED
        bids = np.empty(min(<size_t>n, cf_book_count(book, CF_BID)) if synced else 0, dtype=LEVEL_DTYPE)
        asks = np.empty(min(<size_t>n, cf_book_count(book, CF_ASK)) if synced else 0, dtype=LEVEL_DTYPE)
        cdef cf_level[::1] b = bids
        cdef cf_level[::1] a = asks
        if b.shape[0]:
            cf_book_top(book, CF_BID, &b[0], <size_t>b.shape[0])
        if a.shape[0]:
            cf_book_top(book, CF_ASK, &a[0], <size_t>a.shape[0])
        return bids, asks

    def top_levels(self, Py_ssize_t n):
        """Up to n best levels per side as ((price, quantity), ...) float tuples, best first; empty if not synced.

        The cheap reader for per-message events: no numpy, one C call per side."""
        cdef cf_level buf[64]
        cdef cf_sync *s = self._live()
        cdef const cf_book *book = cf_sync_get_book(s)
        cdef cf_scale ps = cf_sync_get_px_scale(s)
        cdef cf_scale qs = cf_sync_get_qty_scale(s)
        cdef size_t k, got
        if n < 0 or n > 64:
            raise ValueError(f"n must be in 0..64, got {n}")
        if cf_sync_get_state(s) != CF_STATE_SYNCED:
            return (), ()
        sides = []
        for side in (CF_BID, CF_ASK):
            got = cf_book_top(book, <cf_side_id>side, buf, <size_t>n)
            sides.append(tuple([(cf_scale_to_double(&ps, buf[k].px), cf_scale_to_double(&qs, buf[k].qty))
                                for k in range(got)]))
        return sides[0], sides[1]

    @property
    def last_exch_ts(self) -> int:
        """Exchange event time of the last depth message fed raw (as sent: ms on Binance), 0 if it had none."""
        return self._last_exch_ts

    def prices_from_ticks(self, const int64_t[::1] ticks):
        """Prices as floats (exactly float() of their decimal text) for an int64 array of ticks."""
        cdef cf_scale ps = cf_sync_get_px_scale(self._live())
        return _to_doubles(&ps, ticks)

    def quantities_from_lots(self, const int64_t[::1] lots):
        """Quantities as floats for an int64 array of lots."""
        cdef cf_scale qs = cf_sync_get_qty_scale(self._live())
        return _to_doubles(&qs, lots)

    def price_text(self, int64_t ticks) -> str:
        """Exact decimal text of a price in ticks."""
        cdef cf_scale ps = cf_sync_get_px_scale(self._live())
        return _format(&ps, ticks)

    def quantity_text(self, int64_t lots) -> str:
        """Exact decimal text of a quantity in lots."""
        cdef cf_scale qs = cf_sync_get_qty_scale(self._live())
        return _format(&qs, lots)

    def price_to_ticks(self, price) -> int:
        """Ticks of a price given as decimal text (NumberError when off the book's grid)."""
        cdef cf_scale ps = cf_sync_get_px_scale(self._live())
        return _to_ticks(&ps, price, "price")

    def quantity_at_ticks(self, int side, int64_t px_ticks) -> int:
        """Lots at a price in ticks on side 0 (bids) or 1 (asks); 0 when there is no level."""
        return cf_book_qty_at(cf_sync_get_book(self._live()), <cf_side_id>(1 if side else 0), px_ticks)

    @property
    def synced(self) -> bool:
        """True while the book is valid: synced to a snapshot and continuous since."""
        return cf_sync_get_state(self._live()) == CF_STATE_SYNCED

    @property
    def state_name(self) -> str:
        return _STATE_NAMES[cf_sync_get_state(self._live())]

    @property
    def last_id(self):
        """Update id the book is at; None while not synced."""
        cdef int64_t v = cf_sync_get_last_id(self._live())
        return None if v == CF_ID_NONE else v

    @property
    def bid_count(self) -> int:
        return cf_book_count(cf_sync_get_book(self._live()), CF_BID)

    @property
    def ask_count(self) -> int:
        return cf_book_count(cf_sync_get_book(self._live()), CF_ASK)

    @property
    def crossed(self) -> bool:
        """True when best bid >= best ask."""
        return bool(cf_book_crossed(cf_sync_get_book(self._live())))

    @property
    def price_decimals(self) -> int:
        return cf_sync_get_px_scale(self._live()).decimals

    @property
    def quantity_decimals(self) -> int:
        return cf_sync_get_qty_scale(self._live()).decimals

    def counters(self) -> dict:
        """The synchroniser's counters and state."""
        cdef const cf_sync_counters *c = cf_sync_get_counters(self._live())
        return {
            "state": _STATE_NAMES[cf_sync_get_state(self._live())],
            "applied": c.applied,
            "stale": c.stale,
            "buffered": c.buffered,
            "gaps": c.gaps,
            "resyncs": c.resyncs,
            "overflows": c.overflows,
            "crossed": c.crossed,
            "snapshots": c.snapshots,
            "old_snapshots": c.old_snapshots,
            "rejected": c.rejected,
            "buffered_now": cf_sync_buffered_events(self._live()),
            "last_id": self.last_id,
            "bid_levels": self.bid_count,
            "ask_levels": self.ask_count,
        }


cdef inline cf_status _feed_c(cf_sync *s, const cf_layout *layout, const char *p, size_t n, cf_record *rec,
                              bint snapshot) noexcept nogil:
    if snapshot:
        return cf_sync_on_snapshot_message(s, layout, p, n, rec)
    return cf_sync_on_message(s, layout, p, n, rec)


cdef inline const char *_msg_bytes(object msg, Py_ssize_t *n) except NULL:
    return text_bytes(msg, n, "message", TypeError, DecodeError)


cdef int _fill_text(cf_text_level *out, object level) except -1:
    cdef Py_ssize_t n = 0
    if (type(level) is not list and type(level) is not tuple) or len(level) < 2:
        raise DecodeError(f"book level {level!r} is not a [price, quantity] pair")
    out.px = _text_ptr(level[0], &n)
    if n > 0xFFFFFFFF:
        raise DecodeError("price text longer than 4 GiB")
    out.px_len = <uint32_t>n
    out.qty = _text_ptr(level[1], &n)
    if n > 0xFFFFFFFF:
        raise DecodeError("quantity text longer than 4 GiB")
    out.qty_len = <uint32_t>n
    out.parsed = 0
    return 0


cdef int _get_levels(object obj, Py_buffer *view, str name) except -1:
    # LEVEL_DTYPE itself (the usual case) is recognised by identity, and the buffer is then taken without
    # its format: numpy builds the format text of a structured dtype on every request (~195 ns, measured).
    cdef int flags = PyBUF_C_CONTIGUOUS
    if getattr(obj, "dtype", None) is not _LEVEL_DTYPE:
        flags |= PyBUF_FORMAT
    PyObject_GetBuffer(obj, view, flags)
    if view.ndim != 1 or view.itemsize != sizeof(cf_level) or (
            flags & PyBUF_FORMAT and (view.format == NULL or strcmp(view.format, _LEVEL_FORMAT) != 0)):
        fmt = view.format.decode("ascii", "replace") if view.format != NULL else "unknown"
        PyBuffer_Release(view)
        raise TypeError(f"{name} must be a 1-d contiguous LEVEL_DTYPE array, got format {fmt!r}")
    return 0


cdef cf_level *_level_ptr(object arr) except NULL:
    cdef cf_level[::1] view = arr
    return &view[0]


cdef object _to_doubles(const cf_scale *sc, const int64_t[::1] values):
    out = np.empty(values.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    cdef Py_ssize_t k
    for k in range(values.shape[0]):
        o[k] = cf_scale_to_double(sc, values[k])
    return out


cdef str _format(const cf_scale *sc, int64_t v):
    cdef char buf[48]
    cdef size_t n = cf_scale_format(sc, v, buf, sizeof(buf))
    return buf[:n].decode("ascii")


cdef int64_t _to_ticks(const cf_scale *sc, object text, str what) except? -1:
    cdef cf_decimal d
    cdef int64_t ticks = 0
    cdef Py_ssize_t n = 0
    cdef const char *p = _text_ptr(text, &n)
    cdef cf_status st = cf_decimal_parse(p, <size_t>n, &d)
    if st == CF_OK:
        st = cf_scale_to_ticks(sc, d, &ticks)
    if st != CF_OK:
        raise NumberError(f"{what} {text!r} cannot be expressed on this book's grid "
                          f"({sc.decimals} decimals, step {sc.step})")
    return ticks


# -- C-level entry point of the connector's native frame path (crossfury/_native/route.pyx) -------------------

cdef int feed_depth_span(object book, const char *msg, size_t n, int64_t *exch_ts) except -1:
    # NativeBook.on_message for bytes the caller holds (a frame still in picows's read buffer): returns the
    # cf_status (>= 0) and the message's exchange time (as last_exch_ts), or raises what on_message raises.
    # The GIL stays held: for one frame, releasing and retaking it costs more than the C call saves.
    cdef NativeBook b = <NativeBook?>book
    cdef cf_sync *s = b._live()
    cdef Layout layout = b._depth_layout
    cdef cf_record rec
    cdef cf_status st
    if layout is None:
        raise TypeError("this book has no message layouts: use on_depth, or create it with a rule alias")
    st = cf_sync_on_message(s, &layout.c, msg, n, &rec)
    if st >= 0:
        b._last_exch_ts = rec.ints[<int>CF_FIELD_EXCH_TS] if rec.present & (1u << <int>CF_FIELD_EXCH_TS) else 0
        exch_ts[0] = b._last_exch_ts
        return st
    return b._raise_message_error(st, &rec, layout, "depth message", msg, n)


cdef const cf_sync *sync_of(object book) except NULL:
    # The book's synchroniser, for reading (ValueError once the book is closed).
    return (<NativeBook?>book)._live()
