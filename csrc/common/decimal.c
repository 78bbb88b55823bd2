/* SPDX-License-Identifier: MIT */
#include "common/decimal.h"

#include <stdlib.h>

static const int64_t POW10[19] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL, 1000000000LL,
    10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL, 100000000000000LL,
    1000000000000000LL, 10000000000000000LL, 100000000000000000LL, 1000000000000000000LL,
};

int64_t cf_decimal_pow10(int32_t k) { return (k >= 0 && k <= 18) ? POW10[k] : 0; }

cf_status cf_decimal_parse(const char *s, size_t n, cf_decimal *out) {
    size_t end;
    cf_status st = cf_decimal_scan(s, n, out, &end);
    if (end != n) return CF_EBADNUM; /* a stray byte outranks a range problem */
    return st;
}

cf_scale cf_scale_inferred(void) {
    cf_scale sc = {1, 0, 0};
    return sc;
}

cf_status cf_scale_from_text(const char *s, size_t n, cf_scale *out) {
    cf_decimal d;
    cf_status st = cf_decimal_parse(s, n, &d);
    if (st != CF_OK) return st;
    if (d.mantissa <= 0) return CF_EINVAL;
    out->step = d.mantissa;
    out->decimals = d.decimals;
    out->fixed = 1;
    return CF_OK;
}

size_t cf_scale_format(const cf_scale *sc, int64_t ticks, char *buf, size_t cap) {
    char tmp[48];
    /* step * ticks can exceed int64; go through 128 bits, then write digits right to left. */
    __int128 units = (__int128)ticks * (__int128)sc->step;
    int negative = units < 0;
    unsigned __int128 u = negative ? (unsigned __int128)(-units) : (unsigned __int128)units;
    size_t len = 0;
    int32_t digits = 0;
    do {
        if (digits == sc->decimals && sc->decimals > 0) tmp[len++] = '.';
        tmp[len++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
        digits++;
    } while (u != 0 || digits <= sc->decimals);
    if (negative) tmp[len++] = '-';
    if (len > cap) return 0;
    for (size_t k = 0; k < len; k++) buf[k] = tmp[len - 1 - k];
    return len;
}

double cf_decimal_to_double(cf_decimal d) {
    /* Exact integers up to 2^53 and exact powers of ten up to 10^22: one IEEE division rounds correctly
     * (Clinger's fast path), which is what Python's float(text) returns. */
    static const double P10[19] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
                                   1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
    if (d.mantissa <= (1LL << 53) && d.mantissa >= -(1LL << 53) && d.decimals >= 0 && d.decimals <= 18)
        return (double)d.mantissa / P10[d.decimals];
    cf_scale sc = {1, d.decimals, 0};
    char buf[64];
    size_t len = cf_scale_format(&sc, d.mantissa, buf, sizeof buf - 1);
    buf[len] = '\0';
    return strtod(buf, NULL); /* correctly rounded in glibc; LC_NUMERIC stays "C" under Python */
}

double cf_scale_to_double(const cf_scale *sc, int64_t ticks) {
    cf_decimal d;
    if (!__builtin_mul_overflow(ticks, sc->step, &d.mantissa)) {
        d.decimals = sc->decimals;
        return cf_decimal_to_double(d);
    }
    char buf[64];
    size_t len = cf_scale_format(sc, ticks, buf, sizeof buf - 1);
    buf[len] = '\0';
    return strtod(buf, NULL);
}
