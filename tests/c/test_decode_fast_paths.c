/* SPDX-License-Identifier: MIT */
/* Differential test of cf_decode's fast paths (keys and strings 8 or 16 bytes at a time, integers and
 * decimals 8; SSE2 level windows) against the same decoder built with its general byte-wise scanner only
 * (decode_general.c).
 * Depth messages are generated with values near the edges of each fast path: decimals of 0 to 12 digits,
 * with and without dots, signs, trailing zeros, junk bytes and escapes; integers of 1 to 20 digits; keys
 * and strings with escapes, backslashes and UTF-8; whitespace anywhere; levels with extra elements; runs
 * of levels long enough that some lie in a 32-byte window and some in the message's tail; header members
 * shuffled, missing, repeated or unknown, under layouts that predict the key order right or wrong and look
 * the envelope's keys up first or last; then, often, one byte changed or the message truncated. A real
 * event is also cut at every byte and changed at every byte (header_edges). Each message is copied into a
 * heap block of exactly its length, so ASan reports any read past it. Both builds must return the same
 * status, error offset and field, fields, spans, counts and level values.
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

/* The same keys with the envelope's keys looked up after the layout's (as when a layout key could shadow
 * them), and listed in another order (the predicted next key is then often wrong). */
static const cf_layout DEPTH_KEYS_FIRST = {DEPTH_KEYS, 9, REQ(CF_FIELD_FIRST_ID) | REQ(CF_FIELD_LAST_ID),
                                           "depthUpdate", "data", "stream", 0};
static const cf_layout_key REORDERED_KEYS[] = {
    {"b", CF_FIELD_BIDS},   {"pu", CF_FIELD_PREV_ID}, {"s", CF_FIELD_SYMBOL}, {"a", CF_FIELD_ASKS},
    {"u", CF_FIELD_LAST_ID}, {"e", CF_FIELD_EVENT},   {"T", CF_FIELD_TRANSACT_TS}, {"U", CF_FIELD_FIRST_ID},
    {"E", CF_FIELD_EXCH_TS}};
static const cf_layout REORDERED = {REORDERED_KEYS, 9, REQ(CF_FIELD_BIDS) | REQ(CF_FIELD_ASKS), "depthUpdate",
                                    "data", "stream", 1};
static const cf_layout *const LAYOUTS[] = {&DEPTH, &DEPTH, &DEPTH, &DEPTH_KEYS_FIRST, &REORDERED};
static const cf_layout *layout;

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
    if (one_in(30)) { /* the same key with one of its bytes escaped */
        size_t at = below(strlen(key));
        char esc[8];
        snprintf(esc, sizeof esc, "\\u%04x", (unsigned)key[at]);
        for (size_t k = 0; key[k]; k++) {
            if (k == at) put(esc);
            else put_char(key[k]);
        }
    } else {
        put(key);
    }
    put_char('"');
}

/* A key, its colon and maybe whitespace around them. */
static void put_member_key(const char *key) {
    maybe_ws();
    put_key(key);
    maybe_ws();
    put_char(':');
    maybe_ws();
}

static void put_string_value(const char *text) {
    static const char *EXTRA[] = {"\\\"", "\\\\", "\\u00e9", "\xc3\xa9", "\xe2\x82\xac", "\x1f", "\\x",
                                  "\xff", "abcdefghijklmnop"};
    put_char('"');
    put(text);
    if (one_in(10)) put(EXTRA[below(9)]);
    put_char('"');
}

static void put_int_value(void) {
    if (one_in(25)) {
        put_char('"');
        put_int();
        put_char('"');
    } else {
        put_int();
    }
}

/* The depth event's members, each built in buf and then moved into place: usually in the layout's order,
 * sometimes shuffled, with a member missing or repeated, a look-alike key ("p", "pux"), a key of 8 or 16+
 * bytes, or an unknown member, so that the predicted-key path misses and the general path takes over. */
enum { N_MEMBERS = 10 };

static void put_member(int which) {
    static const char *INT_KEYS[] = {"E", "T", "U", "u", "pu"};
    static const char *ODD_KEYS[] = {"p", "pux", "u", "E", "Ex", "EEEEEEEE", "uuuuuuuuuuu", "uuuuuuuuuuuuuuuuu"};
    switch (which) {
    case 0:
        put_member_key("e");
        put_string_value("depthUpdate");
        break;
    case 6:
        put_member_key("s");
        put_string_value("BTCUSDT");
        break;
    case 7:
        put_member_key("b");
        put_levels();
        break;
    case 8:
        put_member_key("a");
        put_levels();
        break;
    case 9:
        put_member_key(one_in(3) ? "stream" : "unknown");
        put("{\"x\":[1,\"a\\\"b\",true]}");
        break;
    default:
        put_member_key(one_in(40) ? ODD_KEYS[below(8)] : INT_KEYS[which - 1]);
        put_int_value();
        break;
    }
}

static void build(void) {
    static char member_text[N_MEMBERS + 2][MAX_MSG];
    static size_t member_len[N_MEMBERS + 2];
    int order[N_MEMBERS + 2], n_members = 9;
    len = 0;
    layout = LAYOUTS[below(5)];
    for (int k = 0; k < n_members; k++) order[k] = k;
    if (one_in(10)) order[n_members++] = 9; /* an unknown member */
    if (one_in(12)) order[n_members++] = (int)below(9); /* a repeated one */
    if (one_in(12)) { /* one missing */
        n_members--;
        order[below((size_t)n_members + 1)] = order[n_members];
    }
    if (one_in(8)) { /* some swapped */
        for (int k = 0; k < 1 + (int)below(4); k++) {
            size_t a = below((size_t)n_members), b = below((size_t)n_members);
            int t = order[a];
            order[a] = order[b];
            order[b] = t;
        }
    }
    for (int k = 0; k < n_members; k++) {
        len = 0;
        put_member(order[k]);
        memcpy(member_text[k], buf, len);
        member_len[k] = len;
    }
    len = 0;
    int envelope = !one_in(4);
    if (envelope) {
        put("{");
        if (one_in(10)) { /* the data first */
            put_member_key("data");
        } else {
            put_member_key("stream");
            put_string_value("btcusdt@depth@0ms");
            maybe_ws();
            put(",");
            put_member_key("data");
        }
    }
    put("{");
    for (int k = 0; k < n_members; k++) {
        if (k) put(",");
        if (len + member_len[k] <= MAX_MSG) {
            memcpy(buf + len, member_text[k], member_len[k]);
            len += member_len[k];
        }
        maybe_ws();
    }
    put("}");
    if (envelope) {
        maybe_ws();
        if (one_in(10)) {
            put(",");
            put_member_key("stream");
            put_string_value("late");
        }
        put("}");
    }
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
    cf_status sf = cf_decode(layout, msg, n, &fast, fb, cap, fa, cap);
    cf_status sg = cf_decode_general(layout, msg, n, &general, gb, cap, ga, cap);
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

static void check_copy(const char *text, size_t n) {
    char *msg = (char *)malloc(n ? n : 1); /* exactly n bytes on the heap */
    memcpy(msg, text, n);
    check(msg, n);
    free(msg);
}

/* A real April 2023 USD-M event (levels shortened) cut at every byte, with whitespace inserted at every byte
 * and every byte replaced by each of the bytes that change how a header is read: each under each layout. */
static long header_edges(void) {
    static const char REAL[] =
        "{\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1680652700594,"
        "\"T\":1680652700586,\"s\":\"BTCUSDT\",\"U\":2710246765373,\"u\":2710246765597,"
        "\"pu\":2710246765326,\"b\":[[\"28018.90\",\"0.080\"]],\"a\":[[\"28080.20\",\"1.5\"]]}}";
    static const char INSERTS[] = {' ', '\n'};
    static const char REPLACEMENTS[] = {'"', '\\', ':', ',', '}', '{', '[', '0',
                                        '9', 'a', '.', 'e', (char)0x80, 0x1f, 0};
    const size_t n = sizeof REAL - 1;
    char text[sizeof REAL + 1];
    long checked = 0;
    for (size_t l = 0; l < sizeof LAYOUTS / sizeof LAYOUTS[0]; l++) {
        layout = LAYOUTS[l];
        for (size_t cut = 0; cut <= n; cut++, checked++) check_copy(REAL, cut);
        for (size_t at = 0; at <= n; at++) {
            for (size_t k = 0; k < sizeof INSERTS; k++, checked++) {
                memcpy(text, REAL, at);
                text[at] = INSERTS[k];
                memcpy(text + at + 1, REAL + at, n - at);
                check_copy(text, n + 1);
            }
        }
        for (size_t at = 0; at < n; at++) {
            for (size_t k = 0; k < sizeof REPLACEMENTS; k++, checked++) {
                memcpy(text, REAL, n);
                text[at] = REPLACEMENTS[k];
                check_copy(text, n);
            }
        }
    }
    return checked;
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 100000;
    rng_state = argc > 2 ? (uint64_t)atoll(argv[2]) * 0x9E3779B97F4A7C15ULL + 1 : 0x2545F4914F6CDD1DULL;
    long edges = header_edges(), accepted = 0, fast_levels = 0;
    for (long it = 0; it < iterations && failures < 5; it++) {
        build();
        char *msg = (char *)malloc(len ? len : 1); /* exactly len bytes on the heap */
        memcpy(msg, buf, len);
        check(msg, len);
        cf_record rec;
        static cf_text_level b[MAX_LEVELS], a[MAX_LEVELS];
        if (cf_decode(layout, msg, len, &rec, b, MAX_LEVELS, a, MAX_LEVELS) == CF_OK) {
            accepted++;
            fast_levels += rec.n_bids + rec.n_asks;
        }
        free(msg);
    }
    if (failures) return 1;
    printf("ok: %ld iterations, %ld accepted with %ld levels; %ld header edge cases\n", iterations, accepted,
           fast_levels, edges);
    return 0;
}
