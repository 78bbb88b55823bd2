/* SPDX-License-Identifier: MIT */
/* Exact decimal text <-> scaled int64.
 *
 * Accepted text: an optional '-', digits, an optional '.' and digits, at least one digit in all
 * (the forms Python's float() accepts minus exponents, signs '+', spaces, underscores, nan and inf).
 * Trailing fractional zeros carry no value and are ignored, so "1.500" == "1.5" exactly.
 */
#ifndef CF_DECIMAL_H
#define CF_DECIMAL_H

#include <stddef.h>
#include <stdint.h>
#include "common/status.h"

/* Largest number of significant decimals held: 10^18 is the largest power of ten in int64. */
#define CF_DECIMAL_MAX_DECIMALS 18

/* value = mantissa * 10^-decimals, with no trailing fractional zero in mantissa. */
typedef struct {
    int64_t mantissa;
    int32_t decimals;
} cf_decimal;

/* A fixed-point grid: value = ticks * step * 10^-decimals. step >= 1.
 * A fixed scale (from the instrument's tick or lot size) rejects values off the grid; an inferred one
 * (fixed == 0, step == 1) grows its decimals to fit the text it sees. */
typedef struct {
    int64_t step;
    int32_t decimals;
    int32_t fixed;
} cf_scale;

/* Parse text s[0..n) into out. Returns CF_OK, CF_EBADNUM or CF_ERANGE (more than 19 digits of value or
 * more than CF_DECIMAL_MAX_DECIMALS significant decimals). Never reads past s[n-1]. */
cf_status cf_decimal_parse(const char *s, size_t n, cf_decimal *out);

/* 10^k for 0 <= k <= 18. */
int64_t cf_decimal_pow10(int32_t k);

/* Scale from a tick or lot size text ("0.01", "0.5", "10"). Returns CF_EBADNUM, CF_ERANGE, or
 * CF_EINVAL for zero or negative sizes. */
cf_status cf_scale_from_text(const char *s, size_t n, cf_scale *out);

/* An inferred scale starting at 0 decimals. */
cf_scale cf_scale_inferred(void);

/* Express d on the scale: ticks = d / (step * 10^-decimals).
 * CF_ESCALE when d needs more decimals than the scale has, or is not a multiple of step; the caller of an
 * inferred scale grows it first (see cf_scale_decimals_needed). CF_ERANGE on int64 overflow. */
cf_status cf_scale_to_ticks(const cf_scale *sc, cf_decimal d, int64_t *ticks);

/* Decimals an inferred scale must have to hold d (max of its current decimals and d's). */
static inline int32_t cf_scale_decimals_needed(const cf_scale *sc, cf_decimal d) {
    return d.decimals > sc->decimals ? d.decimals : sc->decimals;
}

/* Nearest double to ticks on the scale: identical to Python's float() of the exact decimal text. */
double cf_scale_to_double(const cf_scale *sc, int64_t ticks);

/* Write the exact decimal text of ticks (with the scale's decimals, no exponent) into buf[0..cap).
 * Returns the length written (no NUL), or 0 when cap is too small (32 bytes always suffice). */
size_t cf_scale_format(const cf_scale *sc, int64_t ticks, char *buf, size_t cap);

#endif
