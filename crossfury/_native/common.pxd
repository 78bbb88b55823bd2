# SPDX-License-Identifier: MIT
# Mirrors csrc/common/status.h and csrc/common/decimal.h, shared by every wrapper.
from libc.stdint cimport int32_t, int64_t

cdef extern from "common/status.h" nogil:
    ctypedef enum cf_status:
        CF_OK
        CF_BUFFERED
        CF_STALE
        CF_GAP
        CF_CROSSED
        CF_SNAPSHOT_OLD
        CF_EBADNUM
        CF_ERANGE
        CF_ENEGATIVE
        CF_ESCALE
        CF_ENOMEM
        CF_EINVAL
        CF_ENOSPC
        CF_EBADMSG
        CF_ETYPE
        CF_EMISSING
        CF_EDUPKEY
        CF_EDEPTH
        CF_EORDER

cdef extern from "common/decimal.h" nogil:
    enum: CF_DECIMAL_MAX_DECIMALS
    ctypedef struct cf_scale:
        int64_t step
        int32_t decimals
        int32_t fixed
    ctypedef struct cf_decimal:
        int64_t mantissa
        int32_t decimals
    cf_status cf_decimal_parse(const char *s, size_t n, cf_decimal *out)
    double cf_decimal_to_double(cf_decimal d)
    cf_status cf_scale_from_text(const char *s, size_t n, cf_scale *out)
    cf_scale cf_scale_inferred()
    cf_status cf_scale_to_ticks(const cf_scale *sc, cf_decimal d, int64_t *ticks)
    double cf_scale_to_double(const cf_scale *sc, int64_t ticks)
    size_t cf_scale_format(const cf_scale *sc, int64_t ticks, char *buf, size_t cap)
