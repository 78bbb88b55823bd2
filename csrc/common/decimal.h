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

/* The portable byte-at-a-time reader behind cf_decimal_scan (and its reference in tests).
 * Reads the decimal at the start of s[0..n): *end receives where it stops (the first byte that cannot
 * continue it). CF_EBADNUM when no digit was read; CF_ERANGE when it has more than 19 significant digits
 * or more than CF_DECIMAL_MAX_DECIMALS significant decimals (it is still read to its end). One pass, no
 * per-digit overflow checks: 19 digits always fit in uint64 (10^19 < 2^64), and fractional zeros are held
 * back until a non-zero digit follows, so trailing zeros never reach the mantissa. */
static inline cf_status cf_decimal_scan_scalar(const char *s, size_t n, cf_decimal *out, size_t *end) {
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


#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && (defined(__GNUC__) || defined(__clang__))
#define CF_DECIMAL_SWAR 1

/* 0x80 in each byte of w that is not an ASCII digit. A carry can only corrupt bytes after the first
 * non-digit, and only the first one is used. */
static inline uint64_t cf_swar_nondigits(uint64_t w) {
    uint64_t x = w ^ 0x3030303030303030ULL;
    return ((x + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
}

/* 0x80 in each byte of w that is exactly '0' (exact: no carries). */
static inline uint64_t cf_swar_zeros(uint64_t w) {
    uint64_t x = w ^ 0x3030303030303030ULL;
    return ~(((x & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | x) & 0x8080808080808080ULL;
}

/* Value of the first len (1..8) ASCII digits of w, the first in the lowest byte: the digits move to the
 * top bytes, the zero bytes below act as leading zeros, then three multiplies combine pairs, quads and
 * octets (the eight-digit parse of simdjson and fast_float, Lemire). */
static inline uint64_t cf_swar_digits(uint64_t w, uint32_t len) {
    uint64_t v = (w << (8 * (8 - len))) & 0x0F0F0F0F0F0F0F0FULL;
    v = (v * 2561) >> 8;
    v = ((v & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
    return ((v & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
}
#endif

/* Read the decimal at the start of s[0..n) (see cf_decimal_scan_scalar for the rules). With 17 bytes in
 * view, a non-negative number of at most 7 integer and 8 fractional digits - every exchange price and
 * size seen so far - is read eight bytes at a time; anything else goes byte by byte. */
static inline cf_status cf_decimal_scan(const char *s, size_t n, cf_decimal *out, size_t *end) {
#ifdef CF_DECIMAL_SWAR
    if (n >= 17) {
        uint64_t w;
        memcpy(&w, s, 8);
        uint64_t nd = cf_swar_nondigits(w);
        if (nd) { /* at most 7 integer digits */
            uint32_t int_len = (uint32_t)__builtin_ctzll(nd) >> 3;
            uint64_t int_value = int_len ? cf_swar_digits(w, int_len) : 0;
            if (s[int_len] != '.') {
                if (int_len == 0) return cf_decimal_scan_scalar(s, n, out, end);
                out->mantissa = (int64_t)int_value;
                out->decimals = 0;
                *end = int_len;
                return CF_OK;
            }
            uint64_t f;
            memcpy(&f, s + int_len + 1, 8);
            uint64_t fnd = cf_swar_nondigits(f);
            uint32_t frac_len = fnd ? (uint32_t)__builtin_ctzll(fnd) >> 3 : 8;
            if (frac_len == 8 && (unsigned)(unsigned char)s[int_len + 9] - '0' <= 9u)
                return cf_decimal_scan_scalar(s, n, out, end);
            if (int_len + frac_len == 0) return cf_decimal_scan_scalar(s, n, out, end);
            /* Trailing zeros carry no value: keep the fraction up to its last non-zero digit. */
            uint64_t in_fraction = frac_len == 8 ? ~0ULL : ((1ULL << (8 * frac_len)) - 1);
            uint64_t nonzero = ~cf_swar_zeros(f) & 0x8080808080808080ULL & in_fraction;
            uint32_t kept = nonzero ? (uint32_t)(64 - __builtin_clzll(nonzero)) >> 3 : 0;
            static const uint64_t P10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
            uint64_t frac_value = kept ? cf_swar_digits(f, kept) : 0;
            out->mantissa = (int64_t)(int_value * P10[kept] + frac_value);
            out->decimals = (int32_t)kept;
            *end = int_len + 1 + frac_len;
            return CF_OK;
        }
    }
#endif
    return cf_decimal_scan_scalar(s, n, out, end);
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
static inline cf_status cf_scale_to_ticks(const cf_scale *sc, cf_decimal d, int64_t *ticks) {
    static const int64_t P10[19] = {
        1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL, 1000000000LL,
        10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL, 100000000000000LL,
        1000000000000000LL, 10000000000000000LL, 100000000000000000LL, 1000000000000000000LL,
    };
    if (CF_UNLIKELY(d.decimals > sc->decimals)) return CF_ESCALE;
    int64_t units = d.mantissa;
    int32_t shift = sc->decimals - d.decimals;
    if (shift > 0 && __builtin_mul_overflow(units, P10[shift], &units)) return CF_ERANGE;
    if (sc->step != 1) {
        if (units % sc->step != 0) return CF_ESCALE;
        units /= sc->step;
    }
    *ticks = units;
    return CF_OK;
}

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
