/* SPDX-License-Identifier: MIT */
/* Mutation fuzzer for cf_decode and cf_sync_on_message / cf_sync_on_snapshot_message, for sanitizer builds.
 * Sample Binance messages are mutated (bit flips, byte sets, insertions, deletions, splices, truncations,
 * JSON tokens) and each input is copied into a heap buffer of exactly its length, so ASan reports any read
 * past it; level arrays are exactly their capacity too. Checked on every input: the status is one the header
 * lists; on CF_OK every span lies inside the message, counts are within capacity, required fields are present
 * and pre-parsed values equal a fresh parse; CF_ENOSPC comes only with a count over capacity and goes away
 * with enough room; a refused message leaves the synchroniser as it was but for its rejected counter.
 * Usage: test_decode_fuzz [iterations] [seed]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book/book.h"
#include "book/sync.h"
#include "common/decimal.h"
#include "decode/decode.h"
#include "rng.h"

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

#define REQ(f) CF_FIELD_BIT(f)

static const cf_layout_key DEPTH_KEYS[] = {
    {"e", CF_FIELD_EVENT},    {"E", CF_FIELD_EXCH_TS}, {"T", CF_FIELD_TRANSACT_TS}, {"s", CF_FIELD_SYMBOL},
    {"U", CF_FIELD_FIRST_ID}, {"u", CF_FIELD_LAST_ID}, {"pu", CF_FIELD_PREV_ID},    {"b", CF_FIELD_BIDS},
    {"a", CF_FIELD_ASKS}};
static const cf_layout_key SNAPSHOT_KEYS[] = {
    {"lastUpdateId", CF_FIELD_LAST_ID}, {"E", CF_FIELD_EXCH_TS}, {"T", CF_FIELD_TRANSACT_TS},
    {"bids", CF_FIELD_BIDS},            {"asks", CF_FIELD_ASKS}};
static const cf_layout_key TRADE_KEYS[] = {
    {"e", CF_FIELD_EVENT}, {"E", CF_FIELD_EXCH_TS}, {"s", CF_FIELD_SYMBOL},       {"t", CF_FIELD_TRADE_ID},
    {"p", CF_FIELD_PRICE}, {"q", CF_FIELD_QTY},     {"T", CF_FIELD_TRANSACT_TS}, {"m", CF_FIELD_BUYER_MAKER}};
static const cf_layout_key TICKER_KEYS[] = {
    {"e", CF_FIELD_EVENT},  {"E", CF_FIELD_EXCH_TS}, {"T", CF_FIELD_TRANSACT_TS}, {"u", CF_FIELD_LAST_ID},
    {"s", CF_FIELD_SYMBOL}, {"b", CF_FIELD_BID_PX},  {"B", CF_FIELD_BID_QTY},     {"a", CF_FIELD_ASK_PX},
    {"A", CF_FIELD_ASK_QTY}};

#define N_KEYS(k) ((uint32_t)(sizeof(k) / sizeof((k)[0])))
static const cf_layout LAYOUTS[] = {
    {DEPTH_KEYS, N_KEYS(DEPTH_KEYS),
     REQ(CF_FIELD_FIRST_ID) | REQ(CF_FIELD_LAST_ID) | REQ(CF_FIELD_BIDS) | REQ(CF_FIELD_ASKS), "depthUpdate", "data",
     "stream", 1},
    {SNAPSHOT_KEYS, N_KEYS(SNAPSHOT_KEYS), REQ(CF_FIELD_LAST_ID) | REQ(CF_FIELD_BIDS) | REQ(CF_FIELD_ASKS), NULL,
     "data", "stream", 0},
    {TRADE_KEYS, N_KEYS(TRADE_KEYS), REQ(CF_FIELD_PRICE) | REQ(CF_FIELD_QTY), "trade", "data", "stream", 1},
    {TICKER_KEYS, N_KEYS(TICKER_KEYS),
     REQ(CF_FIELD_LAST_ID) | REQ(CF_FIELD_BID_PX) | REQ(CF_FIELD_BID_QTY) | REQ(CF_FIELD_ASK_PX) |
         REQ(CF_FIELD_ASK_QTY),
     "bookTicker", "data", "stream", 0},
};
enum { L_DEPTH, L_SNAPSHOT, L_TRADE, L_TICKER, N_LAYOUTS };

/* Seeds, each with the layout it was written for (a mutated input is decoded with a random layout too). */
static const struct {
    int layout;
    const char *text;
} SEEDS[] = {
    {L_DEPTH, "{\"e\":\"depthUpdate\",\"E\":1717000000450,\"T\":1717000000447,\"s\":\"BTCUSDT\",\"U\":900231,"
              "\"u\":900260,\"pu\":900230,\"b\":[[\"67001.0\",\"3.120\"],[\"67000.5\",\"0\"]],"
              "\"a\":[[\"67001.1\",\"0.004\"],[\"67003.5\",\"0\"]]}"},
    {L_DEPTH, "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1723161255208,"
              "\"s\":\"BTCUSDT\",\"U\":900225,\"u\":900232,\"pu\":900224,\"b\":[[\"61737.63000000\",\"0.00000000\"]],"
              "\"a\":[[\"61837.64000000\",\"1.54698000\"],[\"61839.85000000\",\"0.00000000\",7]]}}"},
    {L_DEPTH, "{ \"U\" : \"900229\" , \"u\":900240,\"pu\":900228,\"x\":{\"deep\":[1,2,{\"a\":null}]},"
              "\"b\":[[1.25,3,\"x\"],[\"0.10\",\"-0\"]],\"a\":[ ],\"E\":-1e5}"},
    {L_SNAPSHOT, "{\"lastUpdateId\":900230,\"E\":1717000000460,\"T\":1717000000447,"
                 "\"bids\":[[\"67001.0\",\"2.0\"],[\"67000.5\",\"1\"]],\"asks\":[[\"67001.1\",\"0.5\"]]}"},
    {L_TRADE, "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\","
              "\"t\":3735683259,\"p\":\"61837.63000000\",\"q\":\"0.02000000\",\"T\":1723161255342,\"m\":true,"
              "\"M\":true}}"},
    {L_TICKER, "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":4984028370881,"
               "\"s\":\"BTCUSDT\",\"b\":\"63943.90\",\"B\":\"46.371\",\"a\":\"63944.00\",\"A\":\"0.095\","
               "\"T\":1721347022507,\"E\":1721347022507}}"},
};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])

static const char *TOKENS[] = {"\"",   "\\",   "\\u0041", "\\ud800", "[[",   "]]",   "{",     "}",   ",",
                               ":",    "1e5",  "-",       "NaN",     "null", "true", "[]",    "{}",  "\xff",
                               "\xc3", "\xed\xa0\x80",     "0.",      "9223372036854775808", " ",   "\"u\":1",
                               "\"b\":[[\"1\",\"2\"]]",    "[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]", "\x00"};
#define N_TOKENS (sizeof TOKENS / sizeof TOKENS[0])

#define MAX_MSG 4096

static size_t mutate(char *buf, size_t len) {
    int rounds = 1 + (int)below(6);
    for (int r = 0; r < rounds; r++) {
        size_t at = below(len + 1);
        switch (below(7)) {
        case 0: /* flip a bit */
            if (len) buf[below(len)] ^= (char)(1u << below(8));
            break;
        case 1: /* set a byte */
            if (len) buf[below(len)] = (char)rnd();
            break;
        case 2: /* insert a byte */
            if (len < MAX_MSG) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (char)rnd();
                len++;
            }
            break;
        case 3: { /* delete a run */
            size_t n = 1 + below(8);
            if (at + n > len) n = len - at;
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
            break;
        }
        case 4: /* truncate */
            len = below(len + 1);
            break;
        case 5: { /* insert a JSON token */
            const char *t = TOKENS[below(N_TOKENS)];
            size_t n = t[0] ? strlen(t) : 1; /* "\x00" inserts one NUL */
            if (len + n <= MAX_MSG) {
                memmove(buf + at + n, buf + at, len - at);
                memcpy(buf + at, t, n);
                len += n;
            }
            break;
        }
        default: { /* copy a chunk of the message over another place (repeats keys, nests values) */
            if (!len) break;
            size_t from = below(len), n = 1 + below(24);
            if (from + n > len) n = len - from;
            if (len + n <= MAX_MSG) {
                char chunk[32];
                memcpy(chunk, buf + from, n);
                memmove(buf + at + n, buf + at, len - at);
                memcpy(buf + at, chunk, n);
                len += n;
            }
            break;
        }
        }
    }
    return len;
}

static int failures;
static void report(const char *what, const char *msg, size_t len, int layout, cf_status st) {
    printf("FAIL: %s (layout %d, status %d), input of %zu bytes:\n", what, layout, (int)st, len);
    for (size_t k = 0; k < len; k++) printf("%02x", (unsigned char)msg[k]);
    printf("\n");
    failures++;
}

static int inside(const char *msg, size_t len, const char *p, size_t n) {
    return n == 0 || (p >= msg && p + n <= msg + len);
}

static int known_decode_status(cf_status st) {
    return st == CF_OK || st == CF_EBADMSG || st == CF_ETYPE || st == CF_EMISSING || st == CF_EDUPKEY ||
           st == CF_EDEPTH || st == CF_ERANGE || st == CF_ENOSPC;
}

static int levels_ok(const char *msg, size_t len, const cf_text_level *lv, uint32_t n) {
    for (uint32_t k = 0; k < n; k++) {
        if (!inside(msg, len, lv[k].px, lv[k].px_len) || !inside(msg, len, lv[k].qty, lv[k].qty_len)) return 0;
        cf_decimal d;
        if ((lv[k].parsed & CF_PARSED_PX) && (cf_decimal_parse(lv[k].px, lv[k].px_len, &d) != CF_OK ||
                                              d.mantissa != lv[k].px_value.mantissa ||
                                              d.decimals != lv[k].px_value.decimals))
            return 0;
        if ((lv[k].parsed & CF_PARSED_QTY) && (cf_decimal_parse(lv[k].qty, lv[k].qty_len, &d) != CF_OK ||
                                               d.mantissa != lv[k].qty_value.mantissa ||
                                               d.decimals != lv[k].qty_value.decimals))
            return 0;
    }
    return 1;
}

static void check_decode(const char *msg, size_t len, int layout) {
    const cf_layout *L = &LAYOUTS[layout];
    size_t bids_cap = below(5), asks_cap = below(5);
    /* Exactly-sized level arrays: a write past the capacity is a heap overflow. */
    cf_text_level *bids = (cf_text_level *)malloc((bids_cap ? bids_cap : 1) * sizeof(cf_text_level));
    cf_text_level *asks = (cf_text_level *)malloc((asks_cap ? asks_cap : 1) * sizeof(cf_text_level));
    cf_record rec;
    cf_status st = cf_decode(L, msg, len, &rec, bids, bids_cap, asks, asks_cap);
    if (!known_decode_status(st)) report("status not in the header's list", msg, len, layout, st);
    if (st != CF_OK && st != CF_ENOSPC && rec.error_offset > len)
        report("error offset past the end", msg, len, layout, st);
    if (st == CF_ENOSPC) {
        if (rec.n_bids <= bids_cap && rec.n_asks <= asks_cap) report("ENOSPC within capacity", msg, len, layout, st);
        size_t nb = rec.n_bids, na = rec.n_asks;
        free(bids);
        free(asks);
        bids_cap = nb > bids_cap ? nb : bids_cap;
        asks_cap = na > asks_cap ? na : asks_cap;
        bids = (cf_text_level *)malloc((bids_cap ? bids_cap : 1) * sizeof(cf_text_level));
        asks = (cf_text_level *)malloc((asks_cap ? asks_cap : 1) * sizeof(cf_text_level));
        st = cf_decode(L, msg, len, &rec, bids, bids_cap, asks, asks_cap);
        if (st == CF_ENOSPC) report("ENOSPC again with the counts it asked for", msg, len, layout, st);
        if (st == CF_OK && (rec.n_bids != nb || rec.n_asks != na))
            report("counts changed on retry", msg, len, layout, st);
    }
    if (st == CF_OK) {
        if (rec.n_bids > bids_cap || rec.n_asks > asks_cap) report("count over capacity", msg, len, layout, st);
        if ((rec.present & L->required) != L->required) report("required field absent", msg, len, layout, st);
        for (int f = 0; f < CF_FIELD_COUNT; f++)
            if ((rec.present & CF_FIELD_BIT(f)) && !inside(msg, len, rec.strs[f].p, rec.strs[f].len) &&
                (f == CF_FIELD_EVENT || f == CF_FIELD_SYMBOL || (f >= CF_FIELD_PRICE && f <= CF_FIELD_ASK_QTY)))
                report("field span outside the message", msg, len, layout, st);
        if (!inside(msg, len, rec.stream.p, rec.stream.len)) report("stream span outside", msg, len, layout, st);
        if (!levels_ok(msg, len, bids, rec.n_bids) || !levels_ok(msg, len, asks, rec.n_asks))
            report("level span outside the message, or a pre-parsed value differs", msg, len, layout, st);
    }
    free(bids);
    free(asks);
}

/* Everything a refused message must leave alone, as text (a grown inferred scale changes ticks, not values). */
static void fingerprint(const cf_sync *s, char *out, size_t cap) {
    cf_level top[2][24];
    const cf_book *b = cf_sync_get_book(s);
    cf_scale px = cf_sync_get_px_scale(s), qty = cf_sync_get_qty_scale(s);
    size_t used = (size_t)snprintf(out, cap, "state %d last %lld buffered %zu counts %zu/%zu |",
                                   (int)cf_sync_get_state(s), (long long)cf_sync_get_last_id(s),
                                   cf_sync_buffered_events(s), cf_book_count(b, CF_BID), cf_book_count(b, CF_ASK));
    for (int side = 0; side < 2; side++) {
        size_t n = cf_book_top(b, (cf_side_id)side, top[side], 24);
        for (size_t k = 0; k < n && used + 80 < cap; k++) {
            char p[48], q[48];
            size_t pl = cf_scale_format(&px, top[side][k].px, p, sizeof p);
            size_t ql = cf_scale_format(&qty, top[side][k].qty, q, sizeof q);
            used += (size_t)snprintf(out + used, cap - used, " %.*s:%.*s", (int)pl, p, (int)ql, q);
        }
        used += (size_t)snprintf(out + used, cap - used, " |");
    }
}

static int same_counters_but_rejected(const cf_sync_counters *a, const cf_sync_counters *b) {
    cf_sync_counters x = *a, y = *b;
    if (y.rejected != x.rejected + 1) return 0;
    x.rejected = y.rejected = 0;
    return memcmp(&x, &y, sizeof x) == 0;
}

static long applied_or_buffered, refused;
static void check_sync(cf_sync *s, const char *msg, size_t len, int snapshot) {
    static char before[4096], after[4096];
    cf_sync_counters c0 = *cf_sync_get_counters(s);
    fingerprint(s, before, sizeof before);
    cf_record rec;
    cf_status st = snapshot ? cf_sync_on_snapshot_message(s, &LAYOUTS[L_SNAPSHOT], msg, len, &rec)
                            : cf_sync_on_message(s, &LAYOUTS[L_DEPTH], msg, len, &rec);
    if (st < CF_EDEPTH || st > CF_SNAPSHOT_OLD) report("sync status out of range", msg, len, snapshot, st);
    if (st < 0 && st != CF_ENOMEM) {
        refused++;
        fingerprint(s, after, sizeof after);
        if (!same_counters_but_rejected(&c0, cf_sync_get_counters(s)))
            report("refused message changed a counter other than rejected", msg, len, snapshot, st);
        if (strcmp(before, after) != 0) {
            report("refused message changed the book, buffer or ids", msg, len, snapshot, st);
            printf("  before %s\n  after  %s\n", before, after);
        }
    } else if (st == CF_OK || st == CF_BUFFERED || st == CF_CROSSED) {
        applied_or_buffered++;
    }
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    rng_state = argc > 2 ? (uint64_t)atoll(argv[2]) * 0x9E3779B97F4A7C15ULL + 1 : 0x2545F4914F6CDD1DULL;
    cf_sync *s = cf_sync_new(CF_RULE_PREV_ID, cf_scale_inferred(), cf_scale_inferred(), 8, 256);
    if (!s) {
        printf("FAIL: cf_sync_new\n");
        return 1;
    }
    static char work[MAX_MSG + 64];
    long decoded_ok = 0;
    for (long it = 0; it < iterations && failures < 5; it++) {
        size_t seed = below(N_SEEDS);
        size_t len = strlen(SEEDS[seed].text);
        memcpy(work, SEEDS[seed].text, len);
        if (rnd() % 8) len = mutate(work, len);
        char *msg = (char *)malloc(len ? len : 1); /* exactly len bytes on the heap */
        memcpy(msg, work, len);
        int layout = rnd() % 4 ? SEEDS[seed].layout : (int)below(N_LAYOUTS);
        check_decode(msg, len, layout);
        {
            cf_record rec;
            cf_text_level lv[8];
            decoded_ok += cf_decode(&LAYOUTS[layout], msg, len, &rec, lv, 4, lv + 4, 4) == CF_OK;
        }
        if (cf_sync_get_state(s) != CF_STATE_SYNCED || rnd() % 64 == 0) {
            const char *snap = SEEDS[3].text;
            size_t sl = strlen(snap);
            char *copy = (char *)malloc(sl);
            memcpy(copy, snap, sl);
            cf_record rec;
            cf_sync_on_snapshot_message(s, &LAYOUTS[L_SNAPSHOT], copy, sl, &rec);
            free(copy);
        }
        check_sync(s, msg, len, SEEDS[seed].layout == L_SNAPSHOT && rnd() % 2);
        free(msg);
    }
    cf_sync_free(s);
    if (failures) return 1;
    printf("ok: %ld iterations, %ld decoded, %ld fed to the book, %ld refused by it\n", iterations, decoded_ok,
           applied_or_buffered, refused);
    return 0;
}
