# SPDX-License-Identifier: MIT
# Mirrors csrc/convert/event.h, order.h, tardis.h and recording.h.
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

from crossfury._native.common cimport cf_status
from crossfury._native.decode cimport cf_layout, cf_text_level

cdef extern from "convert/event.h" nogil:
    ctypedef struct cf_event:
        uint64_t ev
        int64_t exch_ts
        int64_t local_ts
        double px
        double qty
        uint64_t order_id
        int64_t ival
        double fval
    ctypedef struct cf_row:
        uint64_t ev
        int64_t exch_ts
        int64_t local_ts
        double px
        double qty
    ctypedef struct cf_body:
        uint64_t ev
        double px
        double qty
    ctypedef struct cf_columns:
        int64_t *exch_ts
        int64_t *local_ts
        cf_body *body
    cf_columns cf_columns_at(const cf_columns *c, size_t i)
    void cf_columns_from_events(const cf_event *src, size_t n, const cf_columns *dst)

cdef extern from "convert/order.h" nogil:
    size_t CF_ORDER_TMP(size_t n)
    unsigned CF_ORDER_MAX_THREADS
    cf_status cf_order_argsort(const int64_t *keys, size_t stride, size_t n, int64_t *out, int64_t *tmp,
                               unsigned threads)
    int cf_order_is_sorted(const int64_t *keys, size_t stride, size_t n)
    int64_t cf_order_local_offset(const int64_t *exch_ts, const int64_t *local_ts, size_t stride, size_t n,
                                  int64_t base_latency)
    void cf_order_shift_local(int64_t *local_ts, size_t stride, size_t n, int64_t offset)
    ctypedef struct cf_order_rows:
        const cf_event *events
        cf_columns columns
        size_t n
    ctypedef struct cf_order_cursor:
        size_t exch
        size_t local
    ctypedef struct cf_order_last:
        int64_t exch
        int64_t local
        int out_of_order
    void cf_order_last_init(cf_order_last *last)
    unsigned CF_MERGE_CHECK
    unsigned CF_MERGE_STREAM
    cf_status cf_order_merge(const cf_order_rows *rows, const int64_t *by_exch, const int64_t *by_local,
                             cf_order_cursor *cursor, cf_event *out, size_t cap, size_t *n_out, unsigned options,
                             cf_order_last *last)
    cf_status cf_order_validate(const cf_event *rows, size_t n, cf_order_last *last, size_t *bad)

cdef extern from "convert/tardis.h" nogil:
    ctypedef enum cf_tardis_kind:
        CF_TARDIS_UNKNOWN
        CF_TARDIS_TRADES
        CF_TARDIS_BOOK
        CF_TARDIS_BOOK_TICKER
    ctypedef enum cf_tardis_snapshot_mode:
        CF_TARDIS_SNAPSHOT_PROCESS
        CF_TARDIS_SNAPSHOT_IGNORE
        CF_TARDIS_SNAPSHOT_IGNORE_SOD
    ctypedef struct cf_tardis:
        int32_t kind
        int32_t snapshot_mode
        int32_t in_snapshot
        int32_t start_of_day
        cf_row *ss_bid
        cf_row *ss_ask
        size_t n_bid
        size_t n_ask
        size_t cap_bid
        size_t cap_ask
        uint64_t line
        uint64_t rows
        int32_t bad_column
        size_t need
    cf_tardis_kind cf_tardis_header(const char *line, size_t n)
    void cf_tardis_init(cf_tardis *t, cf_tardis_kind kind, cf_tardis_snapshot_mode mode, cf_row *ss_bid,
                        size_t cap_bid, cf_row *ss_ask, size_t cap_ask)
    cf_status cf_tardis_parse(cf_tardis *t, const char *buf, size_t len, cf_columns out, size_t cap,
                              size_t *n_out, size_t *consumed)
    int cf_tardis_number(const char *s, size_t n, size_t avail, double *out)

cdef extern from "convert/recording.h" nogil:
    enum:
        CF_RECORDING_BBO
        CF_RECORDING_MARK
        CF_RECORDING_AGG_TRADES
        CF_RECORDING_SYNC
    ctypedef struct cf_recording_held:
        int64_t first_id
        int64_t last_id
        int64_t prev_id
        int64_t exch_ts
        int64_t local_ts
        size_t start
        size_t count
        int32_t has_prev
    ctypedef struct cf_recording_counts:
        uint64_t lines, depth, snapshots, trades, tickers, marks
        uint64_t acks, errors, other, not_market, malformed
        uint64_t stale, gaps, dropped
        uint64_t other_symbols
    ctypedef struct cf_recording:
        const cf_layout *depth
        const cf_layout *snapshot
        const cf_layout *trade
        const cf_layout *agg_trade
        const cf_layout *ticker
        const cf_layout *mark
        uint32_t flags
        cf_text_level *bids
        cf_text_level *asks
        size_t levels_cap
        cf_event *held
        size_t n_held, cap_held
        cf_recording_held *msgs
        size_t n_msgs, cap_msgs
        size_t max_held
        int32_t sync_state
        int32_t rule
        int64_t snapshot_id, last_id
        uint64_t line
        char symbol[32]
        uint32_t symbol_len
        cf_recording_counts counts
        cf_status bad_status
        uint32_t bad_offset
        size_t need
        size_t need_levels
        size_t need_held
    void cf_recording_reset(cf_recording *r)
    cf_status cf_recording_parse(cf_recording *r, const char *buf, size_t len, cf_event *out, size_t cap,
                                 size_t *n_out, size_t *consumed)
    int cf_recording_timestamp(const char *s, size_t n, int64_t *ns)
