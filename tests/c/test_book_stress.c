/* SPDX-License-Identifier: MIT */
/* Randomised stress of csrc/book against a flat-array reference, for sanitizer builds.
 * Usage: test_book_stress [iterations] [seed]. Exit 0 when every step agreed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book/book.h"
#include "rng.h"

#define RANGE 200000 /* price ticks 1..RANGE */

static int64_t ref_qty[2][RANGE + 1];

static int check(const cf_book *book, int64_t mid) {
    for (int s = 0; s < 2; s++) {
        size_t count = 0;
        int64_t best = -1;
        for (int64_t p = 1; p <= RANGE; p++) {
            if (!ref_qty[s][p]) continue;
            count++;
            if (s == CF_BID ? p > best : (best < 0 || p < best)) best = p;
        }
        if (cf_book_count(book, (cf_side_id)s) != count) {
            fprintf(stderr, "side %d: count %zu != %zu\n", s, cf_book_count(book, (cf_side_id)s), count);
            return 0;
        }
        cf_level lv;
        int has = cf_book_best(book, (cf_side_id)s, &lv);
        if (has != (count > 0) || (has && (lv.px != best || lv.qty != ref_qty[s][best]))) {
            fprintf(stderr, "side %d: best mismatch\n", s);
            return 0;
        }
        static cf_level top[64];
        size_t n = cf_book_top(book, (cf_side_id)s, top, 64);
        int64_t prev = s == CF_BID ? INT64_MAX : -1;
        for (size_t k = 0; k < n; k++) {
            if ((s == CF_BID && top[k].px >= prev) || (s == CF_ASK && top[k].px <= prev)) return 0;
            if (top[k].qty != ref_qty[s][top[k].px]) return 0;
            prev = top[k].px;
        }
        int64_t probe = mid + (int64_t)(rnd() % 2001) - 1000;
        if (probe >= 1 && probe <= RANGE && cf_book_qty_at(book, (cf_side_id)s, probe) != ref_qty[s][probe]) return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    rng_state = argc > 2 ? (uint64_t)atoll(argv[2]) : 88172645463325252ULL;
    cf_book *book = cf_book_new();
    if (!book) return 2;
    int64_t mid = RANGE / 2;
    cf_level batch[32];
    for (long it = 0; it < iterations; it++) {
        uint64_t r = rnd();
        /* The price wanders, and now and then jumps far: the top-of-book window must follow both ways. */
        mid += (int64_t)(rnd() % 3) - 1;
        if (rnd() % 20000 == 0) mid += (int64_t)(rnd() % 40001) - 20000;
        if (mid < RANGE / 4) mid = RANGE / 4;
        if (mid > RANGE * 3 / 4) mid = RANGE * 3 / 4;
        if (r % 5000 == 0) { /* snapshot: best first, like exchanges send it */
            static cf_level bids[3000], asks[3000];
            memset(ref_qty, 0, sizeof ref_qty);
            size_t n = 1 + rnd() % 3000;
            int64_t spacing = 1 + (int64_t)(rnd() % 8); /* wide snapshots reach past the top-of-book window */
            for (size_t k = 0; k < n; k++) {
                bids[k].px = mid - 1 - (int64_t)k * spacing;
                asks[k].px = mid + 1 + (int64_t)k * spacing;
                bids[k].qty = ref_qty[CF_BID][bids[k].px] = 1 + (int64_t)(rnd() % 1000);
                asks[k].qty = ref_qty[CF_ASK][asks[k].px] = 1 + (int64_t)(rnd() % 1000);
            }
            if (cf_book_replace(book, bids, n, asks, n) != CF_OK) return 3;
        } else {
            int s = (int)(r & 1);
            size_t n = 1 + rnd() % 32;
            for (size_t k = 0; k < n; k++) {
                /* mostly near the top, sometimes anywhere: exercises splits, merges and the directory */
                int64_t off = (rnd() % 10) ? (int64_t)(rnd() % 50) : (int64_t)(rnd() % (RANGE / 2 - 2));
                int64_t px = s == CF_BID ? mid - 1 - off : mid + 1 + off;
                if (px < 1) px = 1;
                if (px > RANGE) px = RANGE;
                int64_t qty = (rnd() % 3) ? 1 + (int64_t)(rnd() % 1000) : 0;
                batch[k].px = px;
                batch[k].qty = qty;
                ref_qty[s][px] = qty;
            }
            if (cf_book_apply(book, (cf_side_id)s, batch, n) != CF_OK) return 3;
        }
        if (it % 97 == 0 && !check(book, mid)) {
            fprintf(stderr, "mismatch at iteration %ld\n", it);
            return 1;
        }
    }
    if (!check(book, mid)) return 1;
    cf_book_clear(book);
    if (cf_book_count(book, CF_BID) || cf_book_count(book, CF_ASK)) return 1;
    cf_book_free(book);
    printf("ok: %ld iterations\n", iterations);
    return 0;
}
