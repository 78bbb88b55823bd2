# SPDX-License-Identifier: MIT
# Mirrors csrc/decode/decode.h.
from libc.stdint cimport int32_t, int64_t, uint32_t

from crossfury._native.common cimport cf_decimal, cf_status

cdef extern from "decode/decode.h" nogil:
    enum:
        CF_PARSED_PX
        CF_PARSED_QTY
    ctypedef struct cf_text_level:
        const char *px
        const char *qty
        uint32_t px_len
        uint32_t qty_len
        cf_decimal px_value
        cf_decimal qty_value
        uint32_t parsed
    ctypedef struct cf_span:
        const char *p
        uint32_t len
    ctypedef enum cf_field:
        CF_FIELD_EVENT
        CF_FIELD_SYMBOL
        CF_FIELD_EXCH_TS
        CF_FIELD_TRANSACT_TS
        CF_FIELD_FIRST_ID
        CF_FIELD_LAST_ID
        CF_FIELD_PREV_ID
        CF_FIELD_TRADE_ID
        CF_FIELD_BIDS
        CF_FIELD_ASKS
        CF_FIELD_PRICE
        CF_FIELD_QTY
        CF_FIELD_BID_PX
        CF_FIELD_BID_QTY
        CF_FIELD_ASK_PX
        CF_FIELD_ASK_QTY
        CF_FIELD_BUYER_MAKER
        CF_FIELD_TRADE_TYPE
        CF_FIELD_INDEX_PX
        CF_FIELD_FUNDING_RATE
        CF_FIELD_COUNT
    ctypedef struct cf_layout_key:
        const char *name
        cf_field field
    ctypedef struct cf_layout:
        const cf_layout_key *keys
        uint32_t n_keys
        uint32_t required
        const char *event
        const char *envelope
        const char *stream
        int envelope_first
    ctypedef struct cf_record:
        uint32_t present
        int64_t ints[<int>CF_FIELD_COUNT]
        cf_span strs[<int>CF_FIELD_COUNT]
        cf_span stream
        uint32_t n_bids
        uint32_t n_asks
        uint32_t error_offset
        int32_t error_field
    cf_status cf_decode(const cf_layout *layout, const char *msg, size_t len, cf_record *rec,
                        cf_text_level *bids, size_t bids_cap, cf_text_level *asks, size_t asks_cap)
    cf_status cf_decode_int(const char *s, size_t n, int64_t *out)


cdef class Layout:
    cdef cf_layout c
    cdef cf_layout_key *_keys
    cdef list _names        # keeps the key and option bytes alive for the C pointers
    cdef readonly dict keys
    cdef readonly object event
    cdef readonly str name
    cdef const char *_keep(self, object text)

cdef object decode_error(const cf_record *rec, Layout layout, cf_status st, str what, const char *msg, size_t n)

# Bytes of a bytes or str object (UTF-8 for str), for C that reads (pointer, length).
cdef const char *text_bytes(object text, Py_ssize_t *n, str what, object type_error,
                            object encoding_error) except NULL
