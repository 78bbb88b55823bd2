/* SPDX-License-Identifier: MIT */
/* cf_decimal_scan (eight bytes at a time) against cf_decimal_scan_scalar (byte by byte) on random text
 * followed by random context, for sanitizer builds. Usage: test_decimal_diff [iterations] [seed]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/decimal.h"
#include "rng.h"


int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 1000000;
    rng_state = argc > 2 ? (uint64_t)atoll(argv[2]) : 0x9E3779B97F4A7C15ULL;
    static const char alphabet[] = "0123456789000000.-\"x]e9";
    long fast_ok = 0;
    for (long it = 0; it < iterations; it++) {
        char text[40];
        size_t len = rnd() % 40;
        for (size_t k = 0; k < len; k++) text[k] = alphabet[rnd() % (sizeof alphabet - 1)];
        if (rnd() % 2) { /* the common shape: digits, a point, digits, a closing quote */
            size_t ints = rnd() % 9, fracs = rnd() % 10, k = 0;
            for (size_t j = 0; j < ints && k < 38; j++) text[k++] = (char)('0' + rnd() % 10);
            if (rnd() % 4) text[k++] = '.';
            for (size_t j = 0; j < fracs && k < 38; j++) text[k++] = (char)('0' + (rnd() % 3 ? rnd() % 10 : 0));
            text[k++] = '"';
            len = k;
        }
        /* Exactly len bytes on the heap, so ASan sees any read past them. */
        char *buf = (char *)malloc(len ? len : 1);
        memcpy(buf, text, len);
        cf_decimal a = {0, 0}, b = {0, 0};
        size_t end_a = 0, end_b = 0;
        cf_status sa = cf_decimal_scan(buf, len, &a, &end_a);
        cf_status sb = cf_decimal_scan_scalar(buf, len, &b, &end_b);
        int same = sa == sb && end_a == end_b && (sa != CF_OK || (a.mantissa == b.mantissa && a.decimals == b.decimals));
        if (!same) {
            printf("mismatch on '%.*s': fast %d end %zu %lld/%d, scalar %d end %zu %lld/%d\n", (int)len, text, sa,
                   end_a, (long long)a.mantissa, a.decimals, sb, end_b, (long long)b.mantissa, b.decimals);
            free(buf);
            return 1;
        }
        fast_ok += sa == CF_OK;
        free(buf);
    }
    printf("ok: %ld iterations, %ld numbers read\n", iterations, fast_ok);
    return 0;
}
