/* SPDX-License-Identifier: MIT */
/* Differential test of cf_decode's fast paths (eight-byte strings, integers and decimals; SSE2 level
 * windows) against the same decoder built with its general byte-wise scanner only (decode_general.c).
 * Depth messages are generated with values near the edges of each fast path: decimals of 0 to 12 digits,
 * with and without dots, signs, trailing zeros, junk bytes and escapes; integers of 1 to 20 digits; keys
 * and strings with escapes, backslashes and UTF-8; whitespace anywhere; levels with extra elements; runs
 * of levels long enough that some lie in a 32-byte window and some in the message's tail; then, often,
 * one byte changed or the message truncated. Each message is copied into a heap block of exactly its
 * length, so ASan reports any read past it. Both builds must return the same status, error offset and
 * field, fields, spans, counts and level values.
 * Usage: test_decode_fast_paths [iterations] [seed]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "rng.h"

cf_status cf_decode_general(const cf_layout *layout, const char *msg, size_t len, cf_record *rec,
                            cf_text_level *bids, size_t bids_cap, cf_text_level *asks, size_t asks_cap);

#define REQ(f) CF_FIELD_BIT(f)
static const cf_layout_key DEPTH_KEYS[] = {
    {"e", CF_FIELD_EVENT},    {"E", CF_FIELD_EXCH_TS}, {"T", CF_FIELD_TRANSACT_TS}, {"s", CF_FIELD_SYMBOL},
    {"U", CF_FIELD_FIRST_ID}, {"u", CF_FIELD_LAST_ID}, {"pu", CF_FIELD_PREV_ID},    {"b", CF_FIELD_BIDS},
    {"a", CF_FIELD_ASKS}};
static const cf_layout DEPTH = {DEPTH_KEYS, 9,
                                REQ(CF_FIELD_FIRST_ID) | REQ(CF_FIELD_LAST_ID) | REQ(CF_FIELD_BIDS) |
                                    REQ(CF_FIELD_ASKS),
                                "depthUpdate", "data", "stream", 1};

#define MAX_MSG 16384
#define MAX_LEVELS 160
static char buf[MAX_MSG];
static size_t len;

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }
static int one_in(size_t n) { return below(n) == 0; }

static void put(const char *t) {
    size_t n = strlen(t);
    if (len + n <= MAX_MSG) {
        memcpy(buf + len, t, n);
        len += n;
    }
}

static void put_char(char c) {
    if (len < MAX_MSG) buf[len++] = c;
}

static void maybe_ws(void) {
    static const char *WS[] = {" ", "\n", "\t", "\r\n  "};
    if (one_in(150)) put(WS[below(4)]);
}

static void put_digits(size_t n, int zeros) {
    for (size_t k = 0; k < n; k++) put_char(zeros && one_in(2) ? '0' : (char)('0' + below(10)));
}

/* Decimal text around the edges of the fast readers (8 digits, a 32-byte window). */
static void put_decimal_text(void) {
    if (one_in(2)) { /* as exchanges write them: 8 digits at most, around a dot */
        size_t int_len = 1 + below(7);
        put_digits(int_len, 0);
        put_char('.');
        put_digits(1 + below(8 - int_len), one_in(2));
        return;
    }
    if (one_in(100)) put_char('-');
    size_t int_len = below(10), frac_len = below(12);
    put_digits(int_len, one_in(4));
    if (!one_in(6)) {
        put_char('.');
        put_digits(frac_len, one_in(3));
    }
    if (one_in(400)) {
        static const char *JUNK[] = {"e5", "\\u0031", "\\\\", "x", "\xc3\xa9", "\x01", "+", ".", " "};
        put(JUNK[below(9)]);
    }
}

static void put_value(void) {
    if (one_in(200)) { /* a JSON number, not a string */
        put_decimal_text();
        return;
    }
    put_char('"');
    put_decimal_text();
    put_char('"');
}

/* A decimal of one shape: int_len digits, then a dot and frac_len digits when dot is set. */
static void put_shaped_decimal(size_t int_len, int dot, size_t frac_len) {
    put_digits(int_len, one_in(4));
    if (dot) {
        put_char('.');
        put_digits(frac_len, one_in(2));
    }
}

/* Levels usually of one shape, as exchanges send them (the window reader checks a level against the shape
 * of the one before): sometimes one of another shape, or one byte of a level replaced by a byte that keeps
 * or breaks the shape. */
static void put_levels(void) {
    static const char SWAPS[] = "0123456789.\",]x -[";
    put_char('[');
    size_t n = one_in(10) ? 0 : below(one_in(8) ? MAX_LEVELS : 24);
    int shaped = one_in(2);
    size_t px_int = 1 + below(one_in(10) ? 10 : 7), qty_int = 1 + below(one_in(10) ? 10 : 7);
    int px_dot = !one_in(6), qty_dot = !one_in(6);
    size_t px_frac = below(px_int < 9 ? 10 - px_int : 2), qty_frac = below(qty_int < 9 ? 10 - qty_int : 2);
    for (size_t k = 0; k < n; k++) {
        if (k) put_char(',');
        size_t start = len;
        if (shaped && !one_in(10)) {
            put("[\"");
            put_shaped_decimal(px_int, px_dot, px_frac);
            put("\",\"");
            put_shaped_decimal(qty_int, qty_dot, qty_frac);
            put("\"]");
            if (one_in(25) && len > start) buf[start + below(len - start)] = SWAPS[below(sizeof SWAPS - 1)];
            continue;
        }
        maybe_ws();
        put_char('[');
        maybe_ws();
        put_value();
        maybe_ws();
        put_char(',');
        maybe_ws();
        put_value();
        if (one_in(100)) put(",7,null");
        maybe_ws();
        put_char(']');
    }
    maybe_ws();
    put_char(']');
}

static void put_int(void) {
    if (one_in(60)) put_char('-');
    size_t n = 1 + below(20);
    put_char(one_in(60) ? '0' : (char)('1' + below(9)));
    put_digits(n - 1, 0);
    if (one_in(100)) put(one_in(2) ? ".5" : "e3");
}

static void put_key(const char *key) {
    put_char('"');
    if (one_in(30) && key[0] >= 'a') { /* the same key, escaped */
        char esc[8];
        snprintf(esc, sizeof esc, "\\u%04x", (unsigned)key[0]);
        put(esc);
        put(key + 1);
    } else {
        put(key);
    }
    put_char('"');
}

static void put_string_value(const char *text) {
    static const char *EXTRA[] = {"\\\"", "\\\\", "\\u00e9", "\xc3\xa9", "\xe2\x82\xac", "\x1f", "\\x",
                                  "\xff", "abcdefghijklmnop"};
    put_char('"');
    put(text);
    if (one_in(10)) put(EXTRA[below(9)]);
    put_char('"');
}

static void build(void) {
    len = 0;
    int envelope = !one_in(4);
    if (envelope) {
        put("{");
        put_key("stream");
        put(":");
        put_string_value("btcusdt@depth@0ms");
        put(",\"data\":");
    }
    put("{");
    put_key("e");
    put(":");
    put_string_value("depthUpdate");
    /* Usually in the layout's order (the expected-key fast path), sometimes swapped, a look-alike ("p",
     * "pux"), a key of 8+ bytes or a duplicate, so that the general key path takes over. */
    const char *int_keys[] = {"E", "T", "U", "u", "pu"};
    static const char *ODD_KEYS[] = {"p", "pux", "u", "E", "Ex", "EEEEEEEE", "uuuuuuuuuuu"};
    if (one_in(8)) {
        size_t a = below(5), b = below(5);
        const char *t = int_keys[a];
        int_keys[a] = int_keys[b];
        int_keys[b] = t;
    }
    if (one_in(10)) int_keys[below(5)] = ODD_KEYS[below(7)];
    for (int k = 0; k < 5; k++) {
        put(",");
        maybe_ws();
        put_key(int_keys[k]);
        put(":");
        maybe_ws();
        if (one_in(25)) {
            put_char('"');
            put_int();
            put_char('"');
        } else {
            put_int();
        }
    }
    put(",");
    put_key("s");
    put(":");
    put_string_value("BTCUSDT");
    if (one_in(10)) put(",\"unknown\":{\"x\":[1,\"a\\\"b\",true]}");
    put(",");
    put_key("b");
    put(":");
    put_levels();
    put(",");
    put_key("a");
    put(":");
    put_levels();
    put("}");
    if (envelope) put("}");
    if (one_in(3)) { /* damage it */
        if (one_in(2)) len = below(len + 1);
        else if (len) buf[below(len)] = (char)rnd();
    }
}

static int failures;

static int same_span(const char *msg_a, const char *a, const char *msg_b, const char *b) {
    return (a == NULL && b == NULL) || (a && b && a - msg_a == b - msg_b);
}

static int same_levels(const char *ma, const cf_text_level *a, const char *mb, const cf_text_level *b, uint32_t n) {
    for (uint32_t k = 0; k < n; k++) {
        if (!same_span(ma, a[k].px, mb, b[k].px) || !same_span(ma, a[k].qty, mb, b[k].qty) ||
            a[k].px_len != b[k].px_len || a[k].qty_len != b[k].qty_len || a[k].parsed != b[k].parsed)
            return 0;
        if ((a[k].parsed & CF_PARSED_PX) && (a[k].px_value.mantissa != b[k].px_value.mantissa ||
                                            a[k].px_value.decimals != b[k].px_value.decimals))
            return 0;
        if ((a[k].parsed & CF_PARSED_QTY) && (a[k].qty_value.mantissa != b[k].qty_value.mantissa ||
                                             a[k].qty_value.decimals != b[k].qty_value.decimals))
            return 0;
    }
    return 1;
}

static void check(const char *msg, size_t n) {
    static cf_text_level fb[MAX_LEVELS], fa[MAX_LEVELS], gb[MAX_LEVELS], ga[MAX_LEVELS];
    size_t cap = one_in(8) ? below(MAX_LEVELS) : MAX_LEVELS; /* sometimes too small: CF_ENOSPC */
    cf_record fast, general;
    cf_status sf = cf_decode(&DEPTH, msg, n, &fast, fb, cap, fa, cap);
    cf_status sg = cf_decode_general(&DEPTH, msg, n, &general, gb, cap, ga, cap);
    int same = sf == sg && fast.error_offset == general.error_offset && fast.error_field == general.error_field &&
               fast.present == general.present && fast.n_bids == general.n_bids && fast.n_asks == general.n_asks &&
               same_span(msg, fast.stream.p, msg, general.stream.p) && fast.stream.len == general.stream.len;
    if (same && sf == CF_OK) {
        for (int f = 0; f < CF_FIELD_COUNT && same; f++) {
            if (!(fast.present & CF_FIELD_BIT(f))) continue;
            if (f == CF_FIELD_EVENT || f == CF_FIELD_SYMBOL)
                same = same_span(msg, fast.strs[f].p, msg, general.strs[f].p) && fast.strs[f].len == general.strs[f].len;
            else if (f != CF_FIELD_BIDS && f != CF_FIELD_ASKS)
                same = fast.ints[f] == general.ints[f];
        }
        same = same && same_levels(msg, fb, msg, gb, fast.n_bids) && same_levels(msg, fa, msg, ga, fast.n_asks);
    }
    if (!same && failures++ < 5)
        printf("FAIL: fast %d at %u field %d, general %d at %u field %d, on %zu bytes: %.*s\n", sf, fast.error_offset,
               fast.error_field, sg, general.error_offset, general.error_field, n, (int)(n < 600 ? n : 600), msg);
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 100000;
    rng_state = argc > 2 ? (uint64_t)atoll(argv[2]) * 0x9E3779B97F4A7C15ULL + 1 : 0x2545F4914F6CDD1DULL;
    long accepted = 0, fast_levels = 0;
    for (long it = 0; it < iterations && failures < 5; it++) {
        build();
        char *msg = (char *)malloc(len ? len : 1); /* exactly len bytes on the heap */
        memcpy(msg, buf, len);
        check(msg, len);
        cf_record rec;
        static cf_text_level b[MAX_LEVELS], a[MAX_LEVELS];
        if (cf_decode(&DEPTH, msg, len, &rec, b, MAX_LEVELS, a, MAX_LEVELS) == CF_OK) {
            accepted++;
            fast_levels += rec.n_bids + rec.n_asks;
        }
        free(msg);
    }
    if (failures) return 1;
    printf("ok: %ld iterations, %ld accepted with %ld levels\n", iterations, accepted, fast_levels);
    return 0;
}
