# SPDX-License-Identifier: MIT
# Thin wrapper over csrc/decode: layouts from Python data, records out as Python values and numpy arrays.
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int64_t

import json

import numpy as np

from crossfury.core.errors import DecodeError, NumberError

from crossfury._native.common cimport *

FIELD_NAMES = ("event", "symbol", "exch_ts", "transact_ts", "first_id", "last_id", "prev_id", "trade_id",
               "bids", "asks", "price", "qty", "bid_px", "bid_qty", "ask_px", "ask_qty", "buyer_maker",
               "trade_type", "index_px", "funding_rate")
_TEXT_FIELDS = frozenset((CF_FIELD_EVENT, CF_FIELD_SYMBOL, CF_FIELD_PRICE, CF_FIELD_QTY, CF_FIELD_BID_PX,
                          CF_FIELD_BID_QTY, CF_FIELD_ASK_PX, CF_FIELD_ASK_QTY, CF_FIELD_TRADE_TYPE,
                          CF_FIELD_INDEX_PX, CF_FIELD_FUNDING_RATE))


cdef class Layout:
    """Which exchange keys hold which normalised fields in one message shape (csrc/decode/decode.h)."""

    def __cinit__(self, str name, dict keys, required=(), event=None, envelope=None, stream=None):
        cdef Py_ssize_t k = 0
        self.name = name
        self.keys = dict(keys)
        self.event = event
        self._names = []
        self._keys = <cf_layout_key *>PyMem_Malloc(max(1, len(keys)) * sizeof(cf_layout_key))
        if self._keys == NULL:
            raise MemoryError()
        for key, field in keys.items():
            if not 0 <= int(field) < CF_FIELD_COUNT:
                raise ValueError(f"layout {name}: key {key!r} maps to unknown field {field!r}")
            encoded = key.encode("utf-8")
            self._names.append(encoded)
            self._keys[k].name = encoded
            self._keys[k].field = <cf_field><int>field
            k += 1
        self.c.keys = self._keys
        self.c.n_keys = <uint32_t>k
        self.c.required = 0
        for field in required:
            if int(field) not in {int(f) for f in keys.values()}:
                raise ValueError(f"layout {name}: required field {FIELD_NAMES[int(field)]} has no key")
            self.c.required |= 1u << int(field)
        self.c.event = self._keep(event)
        self.c.envelope = self._keep(envelope)
        self.c.stream = self._keep(stream)
        # the scanner may then recognise the envelope's keys before it searches the layout's
        self.c.envelope_first = envelope not in self.keys and stream not in self.keys

    cdef const char *_keep(self, object text):
        if text is None:
            return NULL
        encoded = text.encode("utf-8")
        self._names.append(encoded)
        return encoded

    def __dealloc__(self):
        PyMem_Free(self._keys)

    def key_of(self, int field):
        """The exchange key of a normalised field in this layout, or None."""
        for key, f in self.keys.items():
            if int(f) == field:
                return key
        return None

    def __repr__(self):
        return f"Layout({self.name!r}, {len(self.keys)} keys)"


cdef object decode_error(const cf_record *rec, Layout layout, cf_status st, str what, const char *msg, size_t n):
    cdef int f = rec.error_field
    field = ""
    if 0 <= f < CF_FIELD_COUNT:
        field = f"field {FIELD_NAMES[f]} (key {layout.key_of(f)!r}) "
    at = rec.error_offset
    around = msg[max(0, <Py_ssize_t>at - 20):min(n, at + 20)].decode("utf-8", "replace")
    if st == CF_EMISSING:
        return DecodeError(f"{what}: {field}is missing")
    if st == CF_ETYPE:
        if f == CF_FIELD_EVENT and layout.event is not None:
            return DecodeError(f"{what}: event type is not {layout.event!r}")
        return DecodeError(f"{what}: {field}has the wrong type, at byte {at} near {around!r}")
    if st == CF_EDUPKEY:
        return DecodeError(f"{what}: {field}appears twice")
    if st == CF_EDEPTH:
        return DecodeError(f"{what}: nested deeper than the decoder allows, at byte {at}")
    if st == CF_ERANGE:
        return DecodeError(f"{what}: {field}does not fit a 64-bit integer, at byte {at}")
    return DecodeError(f"{what}: not valid JSON (or trailing data) at byte {at} of {n}, near {around!r}")


cdef const char *text_bytes(object text, Py_ssize_t *n, str what, object type_error,
                            object encoding_error) except NULL:
    if type(text) is bytes:
        n[0] = PyBytes_GET_SIZE(text)
        return PyBytes_AS_STRING(text)
    if type(text) is str:
        try:
            return PyUnicode_AsUTF8AndSize(text, n)
        except UnicodeEncodeError:  # lone surrogates have no UTF-8 form
            raise encoding_error(f"{what} {text!r} cannot be encoded as UTF-8") from None
    raise type_error(f"{what} {text!r} is a {type(text).__name__}, expected bytes or str")


cdef inline const char *_bytes_of(object msg, Py_ssize_t *n) except NULL:
    return text_bytes(msg, n, "message", TypeError, DecodeError)


cdef object _levels_array(const cf_text_level *levels, uint32_t count, str side):
    out = np.empty((count, 2), dtype=np.float64)
    cdef Py_buffer view
    PyObject_GetBuffer(out, &view, PyBUF_C_CONTIGUOUS)  # a typed memoryview costs ~0.2 us more per array
    cdef double *o = <double *>view.buf
    try:
        _fill_levels(levels, count, side, o)
    finally:
        PyBuffer_Release(&view)
    return out


cdef int _fill_levels(const cf_text_level *levels, uint32_t count, str side, double *o) except -1:
    # The scanner parsed most values already (the parsed flags); only the rest are read here.
    cdef uint32_t k
    for k in range(count):
        o[2 * k] = _level_value(levels[k].px, levels[k].px_len, levels[k].px_value,
                                levels[k].parsed & CF_PARSED_PX, side, "price", k)
        o[2 * k + 1] = _level_value(levels[k].qty, levels[k].qty_len, levels[k].qty_value,
                                    levels[k].parsed & CF_PARSED_QTY, side, "quantity", k)
    return 0


cdef double _level_value(const char *text, uint32_t length, cf_decimal value, bint parsed, str side, str what,
                         uint32_t k) except? -1:
    if not parsed and cf_decimal_parse(text, length, &value) != CF_OK:
        value.mantissa = -1
    if value.mantissa < 0:
        raise NumberError(f"{side} {what} {text[:length].decode('utf-8', 'replace')!r} (level {k}) is not a "
                          f"non-negative plain decimal number of at most 19 digits")
    return cf_decimal_to_double(value)


def decode(Layout layout, msg, str what="message"):
    """Decode msg with layout: (dict of present fields, bids (n, 2) float array, asks (n, 2) float array).

    Integer fields come out as int, text fields as str (decimal text stays text), booleans as bool; the
    envelope's stream name, when present, under "stream". Raises DecodeError on malformed input.
    """
    cdef Py_ssize_t n = 0
    cdef const char *p = _bytes_of(msg, &n)
    cdef cf_record rec
    # Room on the stack for 256 levels a side (28 KiB) covers exchange messages; bigger ones go to the heap.
    cdef cf_text_level on_stack[2 * 256]
    cdef size_t cap = 256
    cdef cf_text_level *buf = on_stack
    cdef cf_text_level *heap = NULL
    cdef cf_status st
    cdef int f
    try:
        while True:
            with nogil:
                st = cf_decode(&layout.c, p, <size_t>n, &rec, buf, cap, buf + cap, cap)
            if st != CF_ENOSPC:
                break
            cap = max(rec.n_bids, rec.n_asks)
            PyMem_Free(heap)
            heap = buf = <cf_text_level *>PyMem_Malloc(2 * cap * sizeof(cf_text_level))
            if buf == NULL:
                raise MemoryError()
        if st != CF_OK:
            raise decode_error(&rec, layout, st, what, p, <size_t>n)
        fields = {}
        for f in range(CF_FIELD_COUNT):
            if not rec.present & (1u << f) or f == CF_FIELD_BIDS or f == CF_FIELD_ASKS:
                continue
            if f in _TEXT_FIELDS:
                fields[FIELD_NAMES[f]] = rec.strs[f].p[:rec.strs[f].len].decode("utf-8")
            elif f == CF_FIELD_BUYER_MAKER:
                fields[FIELD_NAMES[f]] = bool(rec.ints[f])
            else:
                fields[FIELD_NAMES[f]] = rec.ints[f]
        if rec.stream.len:
            stream = rec.stream.p[:rec.stream.len]
            fields["stream"] = json.loads(b'"' + stream + b'"') if b"\\" in stream else stream.decode("utf-8")
        bids = _levels_array(buf, rec.n_bids if rec.present & (1u << CF_FIELD_BIDS) else 0, "bid")
        asks = _levels_array(buf + cap, rec.n_asks if rec.present & (1u << CF_FIELD_ASKS) else 0, "ask")
        return fields, bids, asks
    finally:
        PyMem_Free(heap)


def decimal_to_float(text, str what="value") -> float:
    """The float of a plain decimal text (equal to Python's float(text)); NumberError for anything else."""
    cdef Py_ssize_t n = 0
    cdef const char *p = text_bytes(text, &n, what, NumberError, NumberError)
    cdef cf_decimal d
    if cf_decimal_parse(p, <size_t>n, &d) != CF_OK:
        raise NumberError(f"{what} {text!r} is not a plain decimal number of at most 19 digits and 18 decimals")
    return cf_decimal_to_double(d)


def parse_decimal(text):
    """Parse decimal text exactly into (mantissa, decimals), as the C book does; NumberError when refused."""
    cdef cf_decimal d
    cdef Py_ssize_t n = 0
    cdef const char *p = text_bytes(text, &n, "value", DecodeError, NumberError)
    cdef cf_status st = cf_decimal_parse(p, <size_t>n, &d)
    if st == CF_EBADNUM:
        raise NumberError(f"{text!r} is not a plain decimal number")
    if st == CF_ERANGE:
        raise NumberError(f"{text!r} is out of range: over 19 digits or over 18 decimals")
    return d.mantissa, d.decimals
