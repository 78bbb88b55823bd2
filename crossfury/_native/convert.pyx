# SPDX-License-Identifier: MIT
# Thin wrapper over csrc/convert: row buffers in C memory, parsers fed block by block, the ordering kernels.
from cpython.buffer cimport PyBuffer_FillInfo
from libc.stdint cimport INT64_MAX, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

cdef extern from *:
    """
    #include <sys/mman.h>
    #include <unistd.h>
    #ifndef MADV_POPULATE_WRITE
    #define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
    #endif
    """
    int MADV_POPULATE_WRITE
    int posix_memalign(void **p, size_t alignment, size_t size) nogil
    int madvise(void *addr, size_t length, int advice) nogil
    long sysconf(int name) nogil
    int _SC_PAGESIZE

from crossfury._native.common cimport *
from crossfury._native.decode cimport Layout

import numpy as np

from crossfury.events.hbt import EVENT_DTYPE

TRADES = CF_TARDIS_TRADES
BOOK = CF_TARDIS_BOOK
BOOK_TICKER = CF_TARDIS_BOOK_TICKER
SNAPSHOT_MODES = {"process": CF_TARDIS_SNAPSHOT_PROCESS, "ignore": CF_TARDIS_SNAPSHOT_IGNORE,
                  "ignore_sod": CF_TARDIS_SNAPSHOT_IGNORE_SOD}
FLAG_BBO = CF_RECORDING_BBO
FLAG_MARK = CF_RECORDING_MARK
FLAG_AGG_TRADES = CF_RECORDING_AGG_TRADES
FLAG_SYNC = CF_RECORDING_SYNC

cdef object _EVENT_DTYPE = EVENT_DTYPE
assert EVENT_DTYPE.itemsize == sizeof(cf_event)
#: The rows as held before ordering (csrc/convert/event.h cf_row): the event dtype's first five fields.
ROW_DTYPE = np.dtype({name: EVENT_DTYPE.fields[name] for name in ("ev", "exch_ts", "local_ts", "px", "qty")})
cdef object _ROW_DTYPE = ROW_DTYPE
assert ROW_DTYPE.itemsize == sizeof(cf_row) == 2 * sizeof(int64_t) + sizeof(cf_body)
SCRATCH_ROWS = 1 << 14  # the recording parser writes full events here, then the rows are kept in 40 bytes each
PARSE_ROOM_ROWS = 1 << 16  # the Tardis parser writes rows in place: free rows kept ahead of it


cdef const cf_event *_rows_of(object data, size_t *n) except? NULL:
    """Pointer to the rows of a C-contiguous array of the event dtype (NULL when empty)."""
    if not isinstance(data, np.ndarray) or data.dtype != _EVENT_DTYPE:
        raise TypeError(f"expected a numpy array of the hftbacktest event dtype, got {getattr(data, 'dtype', type(data))}")
    if data.ndim != 1 or not data.flags.c_contiguous:
        raise ValueError("event array must be one-dimensional and contiguous")
    n[0] = <size_t>data.shape[0]
    if n[0] == 0:
        return NULL
    cdef const unsigned char[::1] raw = data.view(np.uint8)
    return <const cf_event *>&raw[0]


cdef inline void *_grow(void *p, size_t count, size_t size) except NULL:
    cdef void *q = realloc(p, max(count, <size_t>1) * size)
    if q == NULL:
        raise MemoryError(f"cannot hold {count} rows")
    return q


cdef bint _populate(void *p, size_t start, size_t end):
    """Fault in the whole pages inside bytes [start, end) of p (Linux's MADV_POPULATE_WRITE: no data changes);
    False when the kernel cannot."""
    cdef size_t page = <size_t>sysconf(_SC_PAGESIZE)
    cdef size_t base = <size_t>p
    cdef size_t lo = (base + start + page - 1) // page * page
    cdef size_t hi = (base + end) // page * page
    cdef int rc = 0
    if hi <= lo:
        return True
    with nogil:
        rc = madvise(<void *>lo, hi - lo, MADV_POPULATE_WRITE)
    return rc == 0


cdef class Memory:
    """Bytes from posix_memalign that numpy views through the buffer protocol (np.frombuffer), for the merged
    output: plain pages. numpy asks the kernel for transparent huge pages on its own large arrays (madvise),
    and on the virtual machine measured here their faults stalled the merge of 10M rows by up to 1.4 s. The
    cause: the guest hands free blocks of 2 MB and more back to the host (virtio-balloon free page
    reporting), and a huge page is such a block, so its first touch makes the host fault in 512 pages again
    (660 MB: 1.3 s in a new process, 0.08 s when the blocks were freed moments before). Plain pages mostly
    come from smaller free blocks the guest kept (0.16 s for 660 MB)."""

    cdef void *p
    cdef size_t size
    cdef int exports

    def __cinit__(self, size_t size):
        # Rows start on cache lines: the merge streams whole 64-byte lines past the cache.
        if posix_memalign(&self.p, 64, max(size, <size_t>1)) != 0:
            raise MemoryError(f"cannot hold {size} bytes")
        self.size = size

    def __dealloc__(self):
        free(self.p)

    def shrink(self, size_t size):
        """Keep the first size bytes and give the rest back (no array may view them)."""
        if self.exports:
            raise BufferError("memory cannot shrink while an array views it")
        if size < self.size:
            self.p = _grow(self.p, size, 1)
            self.size = size

    def populate(self, size_t start, size_t end):
        """Fault in the pages inside bytes [start, end) ahead of their first write (Linux's
        MADV_POPULATE_WRITE: no data changes), so that the writer does not take the faults; False when the
        kernel cannot."""
        return _populate(self.p, start, min(end, self.size))

    def __getbuffer__(self, Py_buffer *view, int flags):
        PyBuffer_FillInfo(view, self, self.p, <Py_ssize_t>self.size, 0, flags)
        self.exports += 1

    def __releasebuffer__(self, Py_buffer *view):
        self.exports -= 1


cdef class Events:
    """A growable table of rows (the five fields a converter fills, ROW_DTYPE) in C memory, as three columns
    (csrc/convert/event.h cf_columns; realloc grows them in place for large sizes). The Tardis parser writes
    rows in place; the recording parser writes full events into a scratch buffer, and append() keeps their
    first five fields."""

    cdef cf_columns cols
    cdef cf_event *scratch
    cdef size_t n
    cdef size_t cap
    cdef size_t n_scratch
    # The smallest local_ts - exch_ts (wrapping, as cf_order_local_offset) among rows with a negative one,
    # taken as rows are added (while they are in cache), or INT64_MAX: valid while `lowest_known`.
    cdef int64_t lowest_latency
    cdef bint lowest_known

    def __cinit__(self, size_t capacity=4096):
        self.cols.exch_ts = NULL
        self.cols.local_ts = NULL
        self.cols.body = NULL
        self.cap = 0
        self._resize(max(capacity, <size_t>16))
        self.scratch = <cf_event *>_grow(NULL, SCRATCH_ROWS, sizeof(cf_event))
        self.n_scratch = SCRATCH_ROWS
        self.n = 0
        self.lowest_latency = INT64_MAX
        self.lowest_known = True

    def __dealloc__(self):
        free(self.cols.exch_ts)
        free(self.cols.local_ts)
        free(self.cols.body)
        free(self.scratch)

    def __len__(self):
        return self.n

    cdef int _resize(self, size_t cap) except -1:
        # Each column is moved on its own: if one cannot grow, the others are larger than cap, which is safe.
        self.cols.exch_ts = <int64_t *>_grow(self.cols.exch_ts, cap, sizeof(int64_t))
        self.cols.local_ts = <int64_t *>_grow(self.cols.local_ts, cap, sizeof(int64_t))
        self.cols.body = <cf_body *>_grow(self.cols.body, cap, sizeof(cf_body))
        self.cap = cap
        return 0

    cdef int reserve(self, size_t free_rows) except -1:
        if self.n + free_rows > self.cap:
            self._resize(max(self.cap * 2, self.n + free_rows))
        return 0

    cdef cf_columns end(self) noexcept nogil:
        """The columns from the first free row on."""
        return cf_columns_at(&self.cols, self.n)

    cdef cf_event *scratch_for(self, size_t need) except NULL:
        """The scratch buffer, with room for at least need rows (a parser's largest single write)."""
        need = max(need, <size_t>SCRATCH_ROWS)
        if need > self.n_scratch:
            self.scratch = <cf_event *>_grow(self.scratch, need, sizeof(cf_event))
            self.n_scratch = need
        return self.scratch

    cdef int append(self, size_t count) except -1:
        """Keep the first count scratch rows."""
        self.reserve(count)
        cdef cf_columns at = self.end()
        cf_columns_from_events(self.scratch, count, &at)
        self.added(count)
        return 0

    cdef void added(self, size_t count) noexcept nogil:
        """count rows were written past the end: take their latencies, and keep them."""
        # cf_order_local_offset with base 0 is minus the smallest latency when it is negative, else 0.
        cdef int64_t back = cf_order_local_offset(self.cols.exch_ts + self.n, self.cols.local_ts + self.n, 1,
                                                  count, 0)
        cdef int64_t lowest = <int64_t>(<uint64_t>0 - <uint64_t>back)
        if back != 0 and lowest < self.lowest_latency:
            self.lowest_latency = lowest
        self.n += count

    def array(self):
        """The rows as a new numpy array of ROW_DTYPE."""
        out = np.empty(self.n, dtype=_ROW_DTYPE)
        if self.n:
            out["exch_ts"] = self._column(self.cols.exch_ts, sizeof(int64_t), np.int64)
            out["local_ts"] = self._column(self.cols.local_ts, sizeof(int64_t), np.int64)
            body = self._column(self.cols.body, sizeof(cf_body),
                                np.dtype([("ev", np.uint64), ("px", np.float64), ("qty", np.float64)]))
            for name in ("ev", "px", "qty"):
                out[name] = body[name]
        return out

    cdef object _column(self, void *p, size_t item_size, dtype):
        return np.frombuffer(<char[:self.n * item_size]><char *>p, dtype=dtype)

    def events(self):
        """The rows as a new array of the event dtype (order_id, ival and fval 0)."""
        out = np.zeros(self.n, dtype=_EVENT_DTYPE)
        rows = self.array()
        for name in _ROW_DTYPE.names:
            out[name] = rows[name]
        return out

    def shrink(self):
        """Give back the unused capacity (and the scratch buffer: parsing is over)."""
        if self.cap > self.n + 16:
            self._resize(self.n + 16)
        free(self.scratch)
        self.scratch = NULL
        self.n_scratch = 0

    def local_offset(self, int64_t base_latency):
        """hftbacktest's correct_local_timestamp offset for these rows (0 when no latency is negative)."""
        cdef int64_t off
        cdef int64_t zero = 0
        if self.lowest_known:  # the smallest latency, taken as the rows came: one row that has it
            return cf_order_local_offset(&zero, &self.lowest_latency, 1, 1, base_latency)
        with nogil:
            off = cf_order_local_offset(self.cols.exch_ts, self.cols.local_ts, 1, self.n, base_latency)
        return off

    def reserve_rows(self, size_t rows):
        """Room for at least rows more rows (address space: pages are taken as rows are written)."""
        self.reserve(rows)

    def populate(self, size_t start_row, size_t end_row):
        """Fault in the pages of rows [start_row, end_row) of the room, each column's (Linux's
        MADV_POPULATE_WRITE: no data changes) ahead of their first write; False when the kernel cannot."""
        end_row = min(end_row, self.cap)
        return (_populate(self.cols.exch_ts, start_row * sizeof(int64_t), end_row * sizeof(int64_t))
                and _populate(self.cols.local_ts, start_row * sizeof(int64_t), end_row * sizeof(int64_t))
                and _populate(self.cols.body, start_row * sizeof(cf_body), end_row * sizeof(cf_body)))

    def shift_local(self, int64_t offset):
        self.lowest_known = False
        with nogil:
            cf_order_shift_local(self.cols.local_ts, 1, self.n, offset)

    def argsort(self, str key, unsigned threads=1):
        """Stable order of the rows by exch_ts ("exch") or local_ts ("local"), or None when the rows are in
        that order already (the identity: a recording's receive times). On up to ``threads`` threads."""
        cdef const int64_t *keys = self.cols.exch_ts if key == "exch" else self.cols.local_ts
        cdef int in_order
        with nogil:
            in_order = cf_order_is_sorted(keys, 1, self.n)
        return None if in_order else _argsort(keys, 1, self.n, threads)


MAX_THREADS = CF_ORDER_MAX_THREADS


cdef object _argsort(const int64_t *keys, size_t stride, size_t n, unsigned threads):
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out
    cdef int64_t[::1] o = out
    cdef int64_t *work = <int64_t *>malloc(CF_ORDER_TMP(n) * sizeof(int64_t))
    cdef cf_status st
    if work == NULL:
        raise MemoryError(f"cannot sort {n} rows")
    with nogil:
        st = cf_order_argsort(keys, stride, n, &o[0], work, threads)
    free(work)
    if st != CF_OK:
        raise ValueError(f"argsort failed: status {st}")
    return out


def argsort(keys, unsigned threads=1):
    """Stable argsort of a one-dimensional int64 array: numpy's argsort(kind="stable") permutation, on up to
    ``threads`` threads (the GIL released)."""
    cdef const int64_t[:] k = np.asarray(keys, dtype=np.int64)
    if k.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    if k.strides[0] <= 0 or k.strides[0] % sizeof(int64_t):
        k = np.ascontiguousarray(keys, dtype=np.int64)
    return _argsort(&k[0], <size_t>(k.strides[0] // sizeof(int64_t)), <size_t>k.shape[0], threads)


cdef class Merger:
    """hftbacktest's correct_event_order over rows and their two orders, read in chunks (csrc/convert/order.h).

    With ``check``, hftbacktest's validate_event_order runs on each row as it is written: next_chunk raises
    ValueError at the first row out of order, as validate would on the output."""

    cdef object _keep
    cdef cf_order_rows rows  # rows.n: the rows in the input
    cdef const int64_t *by_exch
    cdef const int64_t *by_local
    cdef cf_order_cursor cursor
    cdef cf_order_last last
    cdef unsigned options
    cdef readonly object by_exch_array
    cdef readonly object by_local_array

    def __cinit__(self, rows, by_exch, by_local, bint check=False):
        """by_exch, by_local: the row indices in each order, or None where the rows are in it already."""
        self.options = CF_MERGE_CHECK if check else 0
        if isinstance(rows, Events):
            self.rows.events = NULL
            self.rows.columns = (<Events>rows).cols
            self.rows.n = (<Events>rows).n
        else:
            self.rows.events = _rows_of(rows, &self.rows.n)
        self._keep = rows
        self.by_exch_array = self._order(by_exch)
        self.by_local_array = self._order(by_local)
        cdef const int64_t[::1] e
        cdef const int64_t[::1] l
        self.by_exch = NULL
        self.by_local = NULL
        if self.by_exch_array is not None and self.rows.n:
            e = self.by_exch_array
            self.by_exch = &e[0]
        if self.by_local_array is not None and self.rows.n:
            l = self.by_local_array
            self.by_local = &l[0]
        self.cursor.exch = self.cursor.local = 0
        cf_order_last_init(&self.last)

    def _order(self, order):
        if order is None:
            return None
        order = np.ascontiguousarray(order, dtype=np.int64)
        if order.shape != (self.rows.n,):
            raise ValueError(f"sorted indices must have {self.rows.n} entries each")
        return order

    @property
    def rows(self):
        """Rows in the input (each comes out once or twice)."""
        return self.rows.n

    def count(self):
        """Rows the merge will write from here on."""
        cdef cf_order_cursor c = self.cursor
        cdef size_t total = 0
        cdef cf_status st
        with nogil:
            st = cf_order_merge(&self.rows, self.by_exch, self.by_local, &c, NULL, 0, &total, 0, NULL)
        if st == CF_EINVAL:
            raise IndexError("a sorted index is outside the data")
        return total

    def next_chunk(self, size_t max_rows, out=None, bint stream=False):
        """Up to max_rows merged rows as an event array (into out when given), or None at the end.

        ``stream``: write past the cache (non-temporal stores), for an output far larger than it that is not
        read again soon; the rows are visible to other threads when the call returns."""
        if self.cursor.exch >= self.rows.n and self.cursor.local >= self.rows.n:
            return None
        if out is None:
            out = np.empty(max_rows, dtype=_EVENT_DTYPE)
        cdef size_t cap = 0, written = 0
        cdef cf_event *dst = <cf_event *>_rows_of(out, &cap)
        cap = min(cap, max_rows)
        cdef cf_status st
        cdef unsigned options = self.options | (CF_MERGE_STREAM if stream else 0)
        with nogil:
            st = cf_order_merge(&self.rows, self.by_exch, self.by_local, &self.cursor, dst, cap, &written, options,
                                &self.last)
        if st == CF_EINVAL:
            raise IndexError("a sorted index is outside the data")
        if st == CF_EORDER:
            raise _out_of_order(self.last.out_of_order)
        return out[:written]


cdef object _out_of_order(int which):
    return ValueError("exchange events are out of order." if which == 1 else "local events are out of order.")


def validate(data):
    """Raise ValueError unless exchange events have non-decreasing exch_ts and local events local_ts."""
    cdef cf_order_last last
    cdef size_t n = 0, bad = 0
    cdef const cf_event *rows = _rows_of(data, &n)
    cdef cf_status st
    cf_order_last_init(&last)
    with nogil:
        st = cf_order_validate(rows, n, &last, &bad)
    if st != CF_OK:
        raise _out_of_order(last.out_of_order)


def local_offset(data, int64_t base_latency):
    cdef size_t n = 0
    cdef const cf_event *rows = _rows_of(data, &n)
    if n == 0:
        return 0
    return cf_order_local_offset(&rows[0].exch_ts, &rows[0].local_ts, sizeof(cf_event) // sizeof(int64_t), n,
                                 base_latency)


def shift_local(data, int64_t offset):
    cdef size_t n = 0
    cdef cf_event *rows = <cf_event *>_rows_of(data, &n)
    if not data.flags.writeable:
        raise ValueError("event array is read-only")
    with nogil:
        cf_order_shift_local(&rows[0].local_ts if n else NULL, sizeof(cf_event) // sizeof(int64_t), n, offset)


def tardis_header(line):
    """Kind of a Tardis CSV header line: TRADES, BOOK, BOOK_TICKER, or 0."""
    cdef const unsigned char[::1] b = line
    return <int>cf_tardis_header(<const char *>&b[0] if b.shape[0] else NULL, <size_t>b.shape[0])


def parse_number(text):
    """The float of a number's text as the converters read it (Python's float() of it), or None."""
    cdef const unsigned char[::1] b = text
    cdef double v
    if b.shape[0] == 0 or not cf_tardis_number(<const char *>&b[0], <size_t>b.shape[0], <size_t>b.shape[0], &v):
        return None
    return v


cdef class TardisParser:
    """One Tardis CSV file's rows -> events appended to an Events buffer."""

    cdef cf_tardis t
    cdef readonly Events events

    def __cinit__(self, Events events, int kind, int snapshot_mode):
        self.events = events
        cdef cf_row *bid = <cf_row *>_grow(NULL, 1024, sizeof(cf_row))
        cdef cf_row *ask = <cf_row *>malloc(1024 * sizeof(cf_row))
        if ask == NULL:
            free(bid)
            raise MemoryError()
        cf_tardis_init(&self.t, <cf_tardis_kind>kind, <cf_tardis_snapshot_mode>snapshot_mode, bid, 1024, ask, 1024)

    def __dealloc__(self):
        free(self.t.ss_bid)
        free(self.t.ss_ask)

    @property
    def line(self):
        return self.t.line

    @property
    def rows(self):
        return self.t.rows

    @property
    def pending_snapshot_rows(self):
        """Snapshot rows held and not yet written (a snapshot that ends the file is dropped)."""
        return self.t.n_bid + self.t.n_ask if self.t.in_snapshot else 0

    def feed(self, data, list bad):
        """Read the complete lines of data; return the bytes read. Malformed rows go to bad as (line, column)."""
        cdef const unsigned char[::1] b = data
        cdef size_t len = <size_t>b.shape[0], pos = 0, used = 0, written = 0
        cdef const char *p = <const char *>&b[0] if len else NULL
        cdef cf_status st
        cdef Events ev = self.events
        while pos < len:
            ev.reserve(max(self.t.need, <size_t>PARSE_ROOM_ROWS))  # rows go straight into the buffer
            with nogil:
                st = cf_tardis_parse(&self.t, p + pos, len - pos, ev.end(), ev.cap - ev.n, &written, &used)
                ev.added(written)
            pos += used
            if st == CF_OK:
                break
            if st == CF_EBADMSG:
                bad.append((self.t.line, self.t.bad_column))
            elif st == CF_ENOSPC:
                if self.t.n_bid == self.t.cap_bid:
                    self.t.ss_bid = <cf_row *>_grow(self.t.ss_bid, self.t.cap_bid * 2, sizeof(cf_row))
                    self.t.cap_bid *= 2
                if self.t.n_ask == self.t.cap_ask:
                    self.t.ss_ask = <cf_row *>_grow(self.t.ss_ask, self.t.cap_ask * 2, sizeof(cf_row))
                    self.t.cap_ask *= 2
        return pos


_COUNT_NAMES = ("lines", "depth", "snapshots", "trades", "tickers", "marks", "acks", "errors", "other",
                "not_market", "malformed", "stale", "gaps", "dropped", "other_symbols")


cdef class RecordingParser:
    """Recording lines -> events appended to an Events buffer; the state carries across files."""

    cdef cf_recording r
    cdef readonly Events events
    cdef list _layouts

    def __cinit__(self, Events events, Layout depth, Layout snapshot, Layout trade, Layout agg_trade,
                  Layout ticker, Layout mark, uint32_t flags, size_t max_held=1 << 22):
        self.events = events
        self._layouts = [depth, snapshot, trade, agg_trade, ticker, mark]
        self.r.agg_trade = &agg_trade.c
        self.r.depth = &depth.c
        self.r.snapshot = &snapshot.c
        self.r.trade = &trade.c
        self.r.ticker = &ticker.c
        self.r.mark = &mark.c
        self.r.flags = flags
        self.r.levels_cap = 1024
        self.r.bids = <cf_text_level *>_grow(NULL, 1024, sizeof(cf_text_level))
        self.r.asks = <cf_text_level *>_grow(NULL, 1024, sizeof(cf_text_level))
        self.r.cap_held = 1024
        self.r.held = <cf_event *>_grow(NULL, 1024, sizeof(cf_event))
        self.r.cap_msgs = 64
        self.r.msgs = <cf_recording_held *>_grow(NULL, 64, sizeof(cf_recording_held))
        self.r.max_held = max_held
        cf_recording_reset(&self.r)

    def __dealloc__(self):
        free(self.r.bids)
        free(self.r.asks)
        free(self.r.held)
        free(self.r.msgs)

    @property
    def line(self):
        return self.r.line

    def start_file(self):
        """Line numbers restart; the sync state goes on (a next-day file continues the book)."""
        self.r.line = 0

    def counts(self):
        c = self.r.counts
        values = (c.lines, c.depth, c.snapshots, c.trades, c.tickers, c.marks, c.acks, c.errors, c.other,
                  c.not_market, c.malformed, c.stale, c.gaps, c.dropped, c.other_symbols)
        out = dict(zip(_COUNT_NAMES, values))
        out["held"] = self.r.n_msgs
        out["state"] = ("waiting", "bridging", "synced")[self.r.sync_state]
        out["rule"] = ("unknown", "range", "prev-id")[self.r.rule]
        out["symbol"] = self.r.symbol[:self.r.symbol_len].decode("utf-8", "replace")
        return out

    def feed(self, data, list bad):
        """Read the complete lines of data; return the bytes read. Malformed lines go to bad as
        (line, status, byte offset)."""
        cdef const unsigned char[::1] b = data
        cdef size_t len = <size_t>b.shape[0], pos = 0, used = 0, written = 0, cap
        cdef const char *p = <const char *>&b[0] if len else NULL
        cdef cf_status st
        cdef Events ev = self.events
        cdef cf_event *scratch
        while pos < len:
            scratch = ev.scratch_for(self.r.need)
            with nogil:
                st = cf_recording_parse(&self.r, p + pos, len - pos, scratch, ev.n_scratch, &written, &used)
            ev.append(written)
            pos += used
            if st == CF_OK:
                break
            if st == CF_EBADMSG:
                bad.append((self.r.line, <int>self.r.bad_status, self.r.bad_offset))
            elif st == CF_ENOSPC:
                if self.r.need_levels > self.r.levels_cap:
                    cap = self.r.need_levels
                    self.r.bids = <cf_text_level *>_grow(self.r.bids, cap, sizeof(cf_text_level))
                    self.r.asks = <cf_text_level *>_grow(self.r.asks, cap, sizeof(cf_text_level))
                    self.r.levels_cap = cap
                if self.r.n_msgs == self.r.cap_msgs:
                    self.r.msgs = <cf_recording_held *>_grow(self.r.msgs, self.r.cap_msgs * 2, sizeof(cf_recording_held))
                    self.r.cap_msgs *= 2
                if self.r.need_held > self.r.cap_held:
                    cap = max(self.r.cap_held * 2, self.r.need_held)
                    self.r.held = <cf_event *>_grow(self.r.held, cap, sizeof(cf_event))
                    self.r.cap_held = cap
        return pos
