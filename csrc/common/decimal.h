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

/* Read the decimal at the start of s[0..n): *end receives where it stops (the first byte that cannot
 * continue it). CF_EBADNUM when no digit was read; CF_ERANGE when it has more than 19 significant digits
 * or more than CF_DECIMAL_MAX_DECIMALS significant decimals (it is still read to its end). One pass, no
 * per-digit overflow checks: 19 digits always fit in uint64 (10^19 < 2^64), and fractional zeros are held
 * back until a non-zero digit follows, so trailing zeros never reach the mantissa. */
static inline cf_status cf_decimal_scan(const char *s, size_t n, cf_decimal *out, size_t *end) {
    size_t i = 0;
    int negative = 0, any_digit = 0, too_big = 0;
    if (n > 0 && s[0] == '-') {
        negative = 1;
        i = 1;
    }
    uint64_t m = 0;
    uint32_t significant = 0, decimals = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9) break;
        any_digit = 1;
        if (significant < 19) {
            m = m * 10u + d;
            significant += m != 0;
        } else {
            too_big = 1;
        }
    }
    if (i < n && s[i] == '.') {
        uint32_t position = 0, held_zeros = 0;
        for (i++; i < n; i++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d > 9) break;
            any_digit = 1;
            position++;
            if (d == 0) {
                held_zeros++;
                continue;
            }
            if (position > CF_DECIMAL_MAX_DECIMALS || significant + held_zeros * (m != 0) >= 19) {
                too_big = 1;
                continue;
            }
            for (; held_zeros; held_zeros--) {
                m *= 10u;
                significant += m != 0;
            }
            m = m * 10u + d;
            significant++;
            decimals = position;
        }
    }
    *end = i;
    if (!any_digit) return CF_EBADNUM;
    if (too_big || m > (uint64_t)INT64_MAX) return CF_ERANGE;
    out->mantissa = negative ? -(int64_t)m : (int64_t)m;
    out->decimals = (int32_t)decimals;
    return CF_OK;
}

/* Parse all of s[0..n) as a decimal. CF_EBADNUM for any stray byte (checked before range), CF_ERANGE as
 * in cf_decimal_scan. Never reads past s[n-1]. */
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

/* Nearest double to the decimal: identical to Python's float() of its text. */
double cf_decimal_to_double(cf_decimal d);

/* Nearest double to ticks on the scale: identical to Python's float() of the exact decimal text. */
double cf_scale_to_double(const cf_scale *sc, int64_t ticks);

/* Write the exact decimal text of ticks (with the scale's decimals, no exponent) into buf[0..cap).
 * Returns the length written (no NUL), or 0 when cap is too small (32 bytes always suffice). */
size_t cf_scale_format(const cf_scale *sc, int64_t ticks, char *buf, size_t cap);

#endif
