# SPDX-License-Identifier: MIT
# Mirrors csrc/book/book.h and csrc/book/sync.h (csrc/common in common.pxd).
from libc.stdint cimport int8_t, int32_t, int64_t, uint32_t, uint64_t

from crossfury._native.common cimport *
from crossfury._native.decode cimport CF_FIELD_EXCH_TS, cf_layout, cf_record, cf_text_level

cdef extern from "book/book.h" nogil:
    ctypedef enum cf_side_id:
        CF_BID
        CF_ASK
    ctypedef struct cf_level:
        int64_t px
        int64_t qty
    ctypedef struct cf_book:
        pass
    cf_status cf_book_apply(cf_book *book, cf_side_id side, const cf_level *levels, size_t n)
    int cf_book_best(const cf_book *book, cf_side_id side, cf_level *out)
    size_t cf_book_count(const cf_book *book, cf_side_id side)
    size_t cf_book_top(const cf_book *book, cf_side_id side, cf_level *out, size_t n)
    int64_t cf_book_qty_at(const cf_book *book, cf_side_id side, int64_t px)
    int cf_book_crossed(const cf_book *book)

cdef extern from "book/sync.h" nogil:
    ctypedef enum cf_sync_rule:
        CF_RULE_NONE
        CF_RULE_RANGE
        CF_RULE_PREV_ID
    ctypedef enum cf_sync_state:
        CF_STATE_WAITING
        CF_STATE_SYNCED
        CF_STATE_RESYNCING
    ctypedef struct cf_depth_ids:
        int64_t first_id
        int64_t last_id
        int64_t prev_id
    int64_t CF_ID_NONE
    ctypedef struct cf_sync_counters:
        uint64_t applied
        uint64_t stale
        uint64_t buffered
        uint64_t gaps
        uint64_t resyncs
        uint64_t overflows
        uint64_t crossed
        uint64_t snapshots
        uint64_t old_snapshots
        uint64_t rejected
    ctypedef enum cf_error_stage:
        CF_ERR_VALUE
        CF_ERR_DECODE
        CF_ERR_IDS
    ctypedef struct cf_value_error:
        int32_t side
        int32_t field
        uint32_t index
        cf_status status
        cf_error_stage stage
    ctypedef struct cf_sync:
        pass
    cf_sync *cf_sync_new(cf_sync_rule rule, cf_scale px_scale, cf_scale qty_scale, uint32_t max_events,
                         size_t max_levels)
    void cf_sync_free(cf_sync *sync)
    cf_status cf_sync_on_snapshot(cf_sync *sync, int64_t last_id, const cf_text_level *bids, size_t n_bids,
                                  const cf_text_level *asks, size_t n_asks)
    cf_status cf_sync_on_depth(cf_sync *sync, const cf_depth_ids *ids, const cf_text_level *bids, size_t n_bids,
                               const cf_text_level *asks, size_t n_asks)
    cf_status cf_sync_apply_ticks(cf_sync *sync, int replace, const cf_level *bids, size_t n_bids, const cf_level *asks,
                                  size_t n_asks)
    cf_status cf_sync_on_message(cf_sync *sync, const cf_layout *layout, const char *msg, size_t len,
                                 cf_record *rec)
    cf_status cf_sync_on_snapshot_message(cf_sync *sync, const cf_layout *layout, const char *msg, size_t len,
                                          cf_record *rec)
    int cf_sync_decoded_level(const cf_sync *sync, cf_side_id side, uint32_t index, cf_text_level *out)
    cf_status cf_sync_apply_ticks_batch(cf_sync *sync, const cf_level *levels, size_t n_levels,
                                        const uint32_t *counts, size_t m, int8_t *statuses, cf_level *best)
    void cf_sync_reset(cf_sync *sync)
    cf_sync_state cf_sync_get_state(const cf_sync *sync)
    const cf_sync_counters *cf_sync_get_counters(const cf_sync *sync)
    const cf_book *cf_sync_get_book(const cf_sync *sync)
    cf_scale cf_sync_get_px_scale(const cf_sync *sync)
    cf_scale cf_sync_get_qty_scale(const cf_sync *sync)
    int64_t cf_sync_get_last_id(const cf_sync *sync)
    cf_value_error cf_sync_last_error(const cf_sync *sync)
    size_t cf_sync_buffered_events(const cf_sync *sync)

# Defined in book.pyx for crossfury/_native/route.pyx: NativeBook.on_message over (pointer, length), and the
# book's synchroniser for reading.
cdef int feed_depth_span(object book, const char *msg, size_t n, int64_t *exch_ts) except -1
cdef const cf_sync *sync_of(object book) except NULL
