/* SPDX-License-Identifier: MIT */
/* Status codes shared by every csrc family. Zero and positive values are outcomes, negative values errors. */
#ifndef CF_STATUS_H
#define CF_STATUS_H

#include <stdint.h>

typedef enum {
    CF_OK = 0,              /* done: event applied, snapshot installed */
    CF_BUFFERED = 1,        /* depth event held until a snapshot arrives */
    CF_STALE = 2,           /* depth event older than the book: dropped, the book is unchanged */
    CF_GAP = 3,             /* continuity broken: the book is now invalid and a new snapshot is needed */
    CF_CROSSED = 4,         /* applied, but best bid >= best ask afterwards */
    CF_SNAPSHOT_OLD = 5,    /* snapshot predates the buffered events: a newer snapshot is needed */

    CF_EBADNUM = -1,        /* text is not a plain decimal number (empty, NaN, inf, exponent, junk) */
    CF_ERANGE = -2,         /* number too large for int64 at the book's scale, or too many decimals */
    CF_ENEGATIVE = -3,      /* negative price or quantity */
    CF_ESCALE = -4,         /* not a multiple of the fixed tick or lot size */
    CF_ENOMEM = -5,         /* allocation failed */
    CF_EINVAL = -6,         /* bad argument */
    CF_ENOSPC = -7,         /* caller's buffer too small */
    CF_EBADMSG = -8,        /* message is not valid JSON, or has the wrong shape */
    CF_ETYPE = -9,          /* a known field has the wrong JSON type, or the event type is not the layout's */
    CF_EMISSING = -10,      /* a required field is absent */
    CF_EDUPKEY = -11,       /* a known field appears twice */
    CF_EDEPTH = -12,        /* nesting deeper than the decoder allows */
    CF_EORDER = -13         /* rows out of the order they must be in */
} cf_status;

#if defined(__GNUC__) || defined(__clang__)
#define CF_LIKELY(x) __builtin_expect(!!(x), 1)
#define CF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CF_LIKELY(x) (x)
#define CF_UNLIKELY(x) (x)
#endif

#endif
