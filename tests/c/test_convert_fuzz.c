/* SPDX-License-Identifier: MIT */
/* Sanitizer test for csrc/convert: the argsort against a plain stable insertion sort on random nearly sorted
 * and hostile keys; the merge (correct_event_order) of cf_event rows and of columns, streamed or not, in
 * random chunks, against a plain walk, its order check against cf_order_validate; the Tardis and recording
 * parsers fed mutated input in random block splits with random
 * (often tiny) output capacities, every buffer exactly its size on the heap so ASan sees any overrun.
 * Checked: statuses are the documented ones, a parse resumed after CF_ENOSPC gives the same rows as one
 * with room, and clean input gives the same rows however it is split. Usage: test_convert_fuzz [iters] [seed]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/order.h"
#include "convert/recording.h"
#include "convert/tardis.h"
#include "rng.h"

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static void fail(const char *what) {
    printf("FAIL: %s\n", what);
    exit(1);
}

/* ---- argsort ------------------------------------------------------------------------------------------ */

/* The cases added with the threaded argsort draw from a stream of their own, so the parser cases each seed
 * gives stay the ones it always gave. */
static uint64_t team_state = 0x9E3779B97F4A7C15ULL;

static void check_argsort(size_t n) {
    int64_t *keys = malloc((n ? n : 1) * sizeof *keys), *out = malloc((n ? n : 1) * sizeof *out);
    int64_t *tmp = malloc(CF_ORDER_TMP(n) * sizeof *tmp), *ref = malloc((n ? n : 1) * sizeof *ref);
    int pattern = (int)below(6);
    int64_t v = (int64_t)below(1000);
    for (size_t i = 0; i < n; i++) {
        if (pattern == 0) keys[i] = (int64_t)rnd();                         /* anything */
        else if (pattern == 1) keys[i] = (int64_t)below(4);                 /* many ties */
        else if (pattern == 2) keys[i] = v += (int64_t)below(3) - (below(8) == 0 ? 5 : 0); /* jitter */
        else if (pattern == 3) keys[i] = (int64_t)(n - i) / 3;              /* descending */
        else if (pattern == 5) keys[i] = (v += (int64_t)below(10)) + (int64_t)below(500); /* wide jitter */
        else keys[i] = i < n / 2 ? (int64_t)i * 2 : (int64_t)(i - n / 2) * 2 + 1; /* two interleaved files */
    }
    uint64_t parser_state = rng_state;
    rng_state = team_state;
    size_t shape = below(8), tie_run = 1 + below(64);
    for (size_t i = 0; i < n && shape < 2; i++)
        keys[i] = shape == 0 ? 7 : (int64_t)(i / tie_run); /* all equal; in order, in runs of ties */
    unsigned threads[2] = {1, 2 + (unsigned)below(CF_ORDER_MAX_THREADS)}; /* more than the cap, sometimes */
    team_state = rng_state;
    rng_state = parser_state;
    for (size_t i = 0; i < n; i++) { /* stable insertion sort */
        size_t j = i;
        while (j > 0 && keys[ref[j - 1]] > keys[i]) {
            ref[j] = ref[j - 1];
            j--;
        }
        ref[j] = (int64_t)i;
    }
    /* One thread, then a team: with these few keys a chunk is short, and its seams fall inside runs of ties. */
    for (int k = 0; k < 2; k++) {
        memset(out, 0xff, (n ? n : 1) * sizeof *out);
        if (cf_order_argsort(keys, 1, n, out, tmp, threads[k]) != CF_OK) fail("argsort status");
        if (n && memcmp(out, ref, n * sizeof *out) != 0) fail("argsort differs from a stable insertion sort");
    }
    free(keys);
    free(out);
    free(tmp);
    free(ref);
}

/* ---- merge --------------------------------------------------------------------------------------------- */

static uint64_t merge_state = 0xD1B54A32D192ED03ULL; /* a stream of its own, as team_state */

/* hftbacktest's correct_event_order walk, written plainly over cf_event rows. */
static size_t plain_merge(const cf_event *rows, size_t n, const int64_t *by_exch, const int64_t *by_local,
                          cf_event *out) {
    size_t e = 0, l = 0, o = 0;
    while (e < n || l < n) {
        const cf_event *x = e < n ? &rows[by_exch[e]] : NULL, *y = l < n ? &rows[by_local[l]] : NULL;
        uint64_t flags;
        const cf_event *src;
        if (x && y && x->exch_ts == y->exch_ts && x->local_ts == y->local_ts && x->ev == y->ev &&
            (x->px == y->px || (x->px != x->px && y->px != y->px)) && x->qty == y->qty) {
            src = x, flags = CF_EVENT_EXCH | CF_EVENT_LOCAL, e++, l++;
        } else if (x && (!y || x->exch_ts < y->exch_ts || (x->exch_ts == y->exch_ts && x->local_ts <= y->local_ts))) {
            src = x, flags = CF_EVENT_EXCH, e++;
        } else {
            src = y, flags = CF_EVENT_LOCAL, l++;
        }
        out[o] = *src;
        out[o++].ev |= flags;
    }
    return o;
}

/* Merge in chunks of random size (each call's out exactly its size on the heap); the status of the last call. */
static cf_status chunked_merge(const cf_order_rows *rows, const int64_t *by_exch, const int64_t *by_local,
                               unsigned options, cf_event *whole, size_t *n_out, cf_order_last *last) {
    cf_order_cursor cursor = {0, 0};
    size_t o = 0;
    cf_status st;
    cf_order_last_init(last);
    for (;;) {
        size_t cap = 1 + below(below(2) ? 8 : 2 * rows->n + 2), written = 0;
        cf_event *out = malloc(cap * sizeof *out); /* malloc: 16-byte aligned, so streaming applies */
        st = cf_order_merge(rows, by_exch, by_local, &cursor, out, cap, &written, options, last);
        if (written > cap) fail("merge wrote past its cap");
        memcpy(whole + o, out, written * sizeof *out);
        free(out);
        o += written;
        if (st != CF_ENOSPC) break;
    }
    *n_out = o;
    return st;
}

static void check_merge(size_t n) {
    uint64_t parser_state = rng_state;
    rng_state = merge_state;
    size_t room = 2 * n + 1;
    cf_event *events = malloc(room * sizeof *events), *want = malloc(room * sizeof *want);
    cf_event *got = malloc(room * sizeof *got);
    cf_columns cols = {malloc((n + 1) * sizeof(int64_t)), malloc((n + 1) * sizeof(int64_t)),
                       malloc((n + 1) * sizeof(cf_body))};
    int64_t *by_exch = malloc((n + 1) * sizeof(int64_t)), *by_local = malloc((n + 1) * sizeof(int64_t));
    int64_t *tmp = malloc(CF_ORDER_TMP(n) * sizeof *tmp), *exch = malloc((n + 1) * sizeof(int64_t));
    int64_t *local = malloc((n + 1) * sizeof(int64_t));
    static const double PX[] = {1.0, 1.5, 2.0, -0.0, 0.0};
    int64_t t = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && below(3) == 0) { /* a copy of the row before: the two walks meet on equal rows */
            events[i] = events[i - 1];
        } else {
            t += (int64_t)below(3);
            int64_t lat = (int64_t)below(5) - 1; /* negative, zero and positive latency */
            double px = below(10) == 0 ? (double)NAN : PX[below(5)];
            events[i] = cf_event_make(1 + below(3), t, t + lat, px, (double)below(3));
        }
        events[i].order_id = rnd(); /* carried by the event-rows merge, 0 from columns */
        events[i].ival = (int64_t)rnd();
        events[i].fval = 0.5;
        cf_columns_put(&cols, i, events[i].ev, events[i].exch_ts, events[i].local_ts, events[i].px, events[i].qty);
        exch[i] = events[i].exch_ts;
        local[i] = events[i].local_ts;
    }
    if (cf_order_argsort(exch, 1, n, by_exch, tmp, 1) != CF_OK) fail("merge: argsort");
    if (cf_order_argsort(local, 1, n, by_local, tmp, 1) != CF_OK) fail("merge: argsort");
    size_t n_want = plain_merge(events, n, by_exch, by_local, want), n_got = 0;
    cf_order_rows as_events = {events, {NULL, NULL, NULL}, n}, as_columns = {NULL, cols, n};
    cf_order_last last;
    for (unsigned options = 0; options < 4; options++) {
        if (chunked_merge(&as_events, by_exch, by_local, options, got, &n_got, &last) != CF_OK) fail("merge status");
        if (n_got != n_want || (n && memcmp(got, want, n_got * sizeof *got) != 0)) fail("merge of events differs");
        if (chunked_merge(&as_columns, by_exch, by_local, options, got, &n_got, &last) != CF_OK) fail("merge status");
        for (size_t i = 0; i < n_want; i++) {
            cf_event w = want[i];
            w.order_id = 0, w.ival = 0, w.fval = 0.0;
            if (memcmp(&got[i], &w, sizeof w) != 0) fail("merge of columns differs");
        }
        if (n_got != n_want) fail("merge of columns: count");
    }
    size_t bad = 0;
    cf_order_last_init(&last);
    if (cf_order_validate(want, n_want, &last, &bad) != CF_OK) fail("merged rows out of order");
    if (n > 2) { /* two entries of an order swapped: the check stops where cf_order_validate does */
        int64_t *order = below(2) ? by_exch : by_local;
        size_t i = below(n), j = below(n);
        int64_t keep = order[i];
        order[i] = order[j], order[j] = keep;
        size_t n_plain = plain_merge(events, n, by_exch, by_local, want);
        cf_order_last_init(&last);
        cf_status valid = cf_order_validate(want, n_plain, &last, &bad);
        int side = last.out_of_order;
        cf_status st = chunked_merge(&as_columns, by_exch, by_local, CF_MERGE_CHECK | (unsigned)below(2) * CF_MERGE_STREAM,
                                     got, &n_got, &last);
        if (valid == CF_OK ? st != CF_OK : (st != CF_EORDER || n_got != bad || last.out_of_order != side))
            fail("merge check differs from cf_order_validate");
        order[j] = order[i], order[i] = keep;
        by_local[below(n)] = (int64_t)n; /* an index outside the rows */
        if (chunked_merge(&as_columns, by_exch, by_local, 0, got, &n_got, &last) != CF_EINVAL)
            fail("merge: an index outside the rows is not refused");
    }
    free(events), free(want), free(got), free(cols.exch_ts), free(cols.local_ts), free(cols.body);
    free(by_exch), free(by_local), free(tmp), free(exch), free(local);
    merge_state = rng_state;
    rng_state = parser_state;
}

/* ---- parsers ------------------------------------------------------------------------------------------ */

static const char *TARDIS_ROWS[] = {
    "binance,BTCUSDT,1575158405045000,1575158405045000,true,ask,7541.6,0.5\n",
    "binance,BTCUSDT,1575158405045000,1575158405045000,true,bid,7541.5,1.25\n",
    "binance,BTCUSDT,1575158405100000,1575158405120000,false,bid,7541.4,0\n",
    "binance,BTCUSDT,1575158405100000,1575158405120000,false,ask,7541.7,3\n",
    "binance,BTCUSDT,1575158405100000,1575158405120000,false,ask,\"7541.8\",1e-3\r\n",
    "binance,BTCUSDT,x,1,false,ask,1,1\n",
    "\n",
};

static const char *TARDIS_TRADE_ROWS[] = {
    "binance-futures,BTCUSDT,1575158405045000,1575158405045000,2311017,buy,7541.6,0.5\n",
    "binance-futures,BTCUSDT,1575158405100000,1575158405120000,123456789012345678901234,sell,7541.5,1.25\n",
    "binance-futures,BTCUSDT,1575158405100000,1575158405120000,7,unknown,7541.4,0\r\n",
    "binance-futures,ETHUSDT,1575158405100000,1575158405120000,t-1,buy,-0,1e-3\n",
    "\n",
};

static const cf_layout_key DEPTH_KEYS[] = {{"e", CF_FIELD_EVENT}, {"E", CF_FIELD_EXCH_TS}, {"T", CF_FIELD_TRANSACT_TS},
                                           {"U", CF_FIELD_FIRST_ID}, {"u", CF_FIELD_LAST_ID}, {"pu", CF_FIELD_PREV_ID},
                                           {"b", CF_FIELD_BIDS}, {"a", CF_FIELD_ASKS}};
static const cf_layout_key SNAP_KEYS[] = {{"lastUpdateId", CF_FIELD_LAST_ID}, {"T", CF_FIELD_TRANSACT_TS},
                                          {"bids", CF_FIELD_BIDS}, {"asks", CF_FIELD_ASKS}};
static const cf_layout_key TRADE_KEYS[] = {{"e", CF_FIELD_EVENT}, {"T", CF_FIELD_TRANSACT_TS}, {"p", CF_FIELD_PRICE},
                                           {"q", CF_FIELD_QTY}, {"m", CF_FIELD_BUYER_MAKER}, {"X", CF_FIELD_TRADE_TYPE}};
static const cf_layout_key TICKER_KEYS[] = {{"e", CF_FIELD_EVENT}, {"T", CF_FIELD_TRANSACT_TS}, {"b", CF_FIELD_BID_PX},
                                            {"B", CF_FIELD_BID_QTY}, {"a", CF_FIELD_ASK_PX}, {"A", CF_FIELD_ASK_QTY}};
static const cf_layout_key MARK_KEYS[] = {{"e", CF_FIELD_EVENT}, {"E", CF_FIELD_EXCH_TS}, {"p", CF_FIELD_PRICE},
                                          {"i", CF_FIELD_INDEX_PX}, {"r", CF_FIELD_FUNDING_RATE}};
#define N(k) ((uint32_t)(sizeof(k) / sizeof((k)[0])))
#define BIT(f) CF_FIELD_BIT(f)
static const cf_layout DEPTH = {DEPTH_KEYS, N(DEPTH_KEYS),
                                BIT(CF_FIELD_FIRST_ID) | BIT(CF_FIELD_LAST_ID) | BIT(CF_FIELD_BIDS) | BIT(CF_FIELD_ASKS),
                                "depthUpdate", "data", "stream", 1};
static const cf_layout SNAP = {SNAP_KEYS, N(SNAP_KEYS), BIT(CF_FIELD_LAST_ID) | BIT(CF_FIELD_BIDS) | BIT(CF_FIELD_ASKS),
                               NULL, "data", "stream", 1};
static const cf_layout TRADE = {TRADE_KEYS, N(TRADE_KEYS), BIT(CF_FIELD_PRICE) | BIT(CF_FIELD_QTY), "trade", "data", "stream", 1};
static const cf_layout TICKER = {TICKER_KEYS, N(TICKER_KEYS), BIT(CF_FIELD_BID_PX), "bookTicker", "data", "stream", 1};
static const cf_layout MARK = {MARK_KEYS, N(MARK_KEYS), BIT(CF_FIELD_PRICE), "markPriceUpdate", "data", "stream", 1};

static const char *REC_LINES[] = {
    "1721347200000000001 {\"stream\":\"x@depth\",\"data\":{\"e\":\"depthUpdate\",\"T\":1721347200000,\"U\":5,\"u\":9,"
    "\"pu\":4,\"b\":[[\"100.1\",\"2\"],[\"100.0\",\"0\"]],\"a\":[[\"100.2\",\"1.5\"]]}}\n",
    "1721347200000000002 {\"lastUpdateId\":7,\"T\":1721347200001,\"bids\":[[\"100.1\",\"3\"]],\"asks\":[[\"100.3\",\"1\"]]}\n",
    "1721347200000000003 {\"stream\":\"x@depth\",\"data\":{\"e\":\"depthUpdate\",\"T\":1721347200002,\"U\":10,\"u\":12,"
    "\"pu\":9,\"b\":[],\"a\":[[\"100.4\",\"1\"],[\"100.5\",\"2\"],[\"100.6\",\"3\"]]}}\n",
    "1721347200000000004 {\"stream\":\"x@trade\",\"data\":{\"e\":\"trade\",\"T\":1721347200003,\"p\":\"100.2\",\"q\":\"0.1\","
    "\"m\":true,\"X\":\"MARKET\"}}\n",
    "1721347200000000005 {\"e\":\"bookTicker\",\"T\":1721347200004,\"b\":\"100.1\",\"B\":\"3\",\"a\":\"100.2\",\"A\":\"1\"}\n",
    "1721347200000000006 {\"e\":\"markPriceUpdate\",\"E\":1721347200005,\"p\":\"100.2\",\"i\":\"100.1\",\"r\":\"-0.0001\"}\n",
    "1721347200000000007 {\"result\":null,\"id\":1}\n",
    "1721347200000008 {\"code\":-1,\"msg\":\"x\"}\n",
    "1721347200000000009 {\"stream\":\"x@depth\",\"data\":{\"e\":\"depthUpdate\",\"T\":1721347200006,\"U\":30,\"u\":31,"
    "\"pu\":29,\"b\":[[\"99\",\"1\"]],\"a\":[]}}\n",
};

static size_t build(char *buf, size_t cap, const char **lines, size_t n_lines, size_t count, int mutate) {
    size_t len = 0;
    for (size_t k = 0; k < count; k++) {
        const char *l = lines[below(n_lines)];
        size_t n = strlen(l);
        if (len + n > cap) break;
        memcpy(buf + len, l, n);
        len += n;
    }
    for (int m = mutate ? (int)below(6) : 0; m > 0 && len; m--) {
        size_t at = below(len);
        switch (below(4)) {
        case 0: buf[at] = (char)rnd(); break;
        case 1: buf[at] = "\n,\"0-.e[]{} "[below(12)]; break;
        case 2: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
        default: len = at; break;
        }
    }
    return len;
}

typedef struct {
    cf_event *rows;
    size_t n;
} rows_t;

/* Parse buf with random splits and capacities, growing like the wrapper does. */
static rows_t run_tardis(const char *buf, size_t len, int random_caps, cf_tardis_kind kind,
                         cf_tardis_snapshot_mode mode) {
    cf_tardis t;
    size_t cb = random_caps ? 1 + below(3) : 64, ca = random_caps ? 1 + below(3) : 64;
    cf_tardis_init(&t, kind, mode, malloc(cb * sizeof(cf_row)), cb, malloc(ca * sizeof(cf_row)), ca);
    rows_t r = {NULL, 0};
    size_t cap = 0, pos = 0;
    while (pos < len) {
        size_t end = random_caps ? pos + 1 + below(len - pos) : len; /* a block: the caller carries the tail */
        char *block = malloc(end - pos);
        memcpy(block, buf + pos, end - pos);
        size_t off = 0;
        for (;;) {
            size_t room = random_caps ? below(4) : 1024, written = 0, used = 0;
            if (room < t.need) room = t.need; /* as the wrapper: at least what the parser asked for */
            if (r.n + room > cap) {
                cap = r.n + room + 1;
                r.rows = realloc(r.rows, cap * sizeof(cf_event));
            }
            /* each column its own allocation of exactly room rows: the sanitizer sees any write past one */
            size_t alloc = room ? room : 1;
            cf_columns out = {malloc(alloc * sizeof(int64_t)), malloc(alloc * sizeof(int64_t)),
                              malloc(alloc * sizeof(cf_body))};
            cf_status st = cf_tardis_parse(&t, block + off, end - pos - off, out, room, &written, &used);
            for (size_t i = 0; i < written; i++)
                r.rows[r.n + i] = cf_event_make(out.body[i].ev, out.exch_ts[i], out.local_ts[i], out.body[i].px,
                                                out.body[i].qty);
            free(out.exch_ts);
            free(out.local_ts);
            free(out.body);
            r.n += written;
            off += used;
            if (st == CF_OK) break;
            if (st == CF_ENOSPC) {
                if (t.n_bid == t.cap_bid) t.ss_bid = realloc(t.ss_bid, (t.cap_bid *= 2) * sizeof(cf_row));
                if (t.n_ask == t.cap_ask) t.ss_ask = realloc(t.ss_ask, (t.cap_ask *= 2) * sizeof(cf_row));
                continue;
            }
            if (st != CF_EBADMSG) fail("tardis status");
        }
        free(block);
        pos += off;
        if (off == 0 && end == len) break; /* an unterminated last line */
    }
    free(t.ss_bid);
    free(t.ss_ask);
    return r;
}

static rows_t run_recording(const char *buf, size_t len, int random_caps, uint32_t flags) {
    cf_recording rec;
    memset(&rec, 0, sizeof rec);
    rec.depth = &DEPTH;
    rec.snapshot = &SNAP;
    rec.trade = &TRADE;
    rec.agg_trade = &TRADE;
    rec.ticker = &TICKER;
    rec.mark = &MARK;
    rec.flags = flags;
    rec.levels_cap = random_caps ? below(3) : 64;
    rec.bids = malloc((rec.levels_cap + 1) * sizeof(cf_text_level));
    rec.asks = malloc((rec.levels_cap + 1) * sizeof(cf_text_level));
    rec.cap_held = random_caps ? below(3) : 64;
    rec.held = malloc((rec.cap_held + 1) * sizeof(cf_event));
    rec.cap_msgs = 1 + (random_caps ? below(2) : 16);
    rec.msgs = malloc(rec.cap_msgs * sizeof(cf_recording_held));
    rec.max_held = 1 + below(20);
    cf_recording_reset(&rec);
    rows_t r = {NULL, 0};
    size_t cap = 0, pos = 0;
    int spins = 0;
    while (pos < len) {
        size_t room = random_caps ? below(5) : 4096, written = 0, used = 0;
        if (room < rec.need) room = rec.need;
        if (r.n + room > cap) {
            cap = r.n + room + 1;
            r.rows = realloc(r.rows, cap * sizeof(cf_event));
        }
        cf_event *out = malloc((room ? room : 1) * sizeof(cf_event));
        cf_status st = cf_recording_parse(&rec, buf + pos, len - pos, out, room, &written, &used);
        if (written) memcpy(r.rows + r.n, out, written * sizeof(cf_event));
        free(out);
        r.n += written;
        pos += used;
        if (st == CF_OK) break;
        if (st == CF_ENOSPC) {
            if (rec.need_levels > rec.levels_cap) {
                rec.levels_cap = rec.need_levels;
                rec.bids = realloc(rec.bids, rec.levels_cap * sizeof(cf_text_level));
                rec.asks = realloc(rec.asks, rec.levels_cap * sizeof(cf_text_level));
            }
            if (rec.n_msgs == rec.cap_msgs) rec.msgs = realloc(rec.msgs, (rec.cap_msgs *= 2) * sizeof(cf_recording_held));
            if (rec.need_held > rec.cap_held) {
                rec.cap_held = rec.need_held;
                rec.held = realloc(rec.held, rec.cap_held * sizeof(cf_event));
            }
            if (++spins > 100000) fail("recording parser makes no progress");
            continue;
        }
        if (st != CF_EBADMSG) fail("recording status");
    }
    free(rec.bids);
    free(rec.asks);
    free(rec.held);
    free(rec.msgs);
    return r;
}

static void same_rows(rows_t a, rows_t b, const char *what) {
    if (a.n != b.n || (a.n && memcmp(a.rows, b.rows, a.n * sizeof(cf_event)) != 0)) fail(what);
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 20000;
    rng_state = argc > 2 ? (uint64_t)atoll(argv[2]) * 2654435761u + 1 : rng_state;
    team_state ^= rng_state;
    static char buf[1 << 14];
    for (long it = 0; it < iterations; it++) {
        if (it % 20 == 0) check_argsort(below(8) ? below(300) : below(2000));
        if (it % 500 == 0) check_argsort(4096 + below(8000)); /* the bucket path (csrc/convert/order.c) */
        if (it % 20 == 10) check_merge(below(8) ? below(40) : below(600));
        int mutate = below(3) == 0;
        cf_tardis_kind kind = below(4) ? CF_TARDIS_BOOK : CF_TARDIS_TRADES;
        size_t len = kind == CF_TARDIS_BOOK
                         ? build(buf, sizeof buf, TARDIS_ROWS, sizeof TARDIS_ROWS / sizeof *TARDIS_ROWS, below(40), mutate)
                         : build(buf, sizeof buf, TARDIS_TRADE_ROWS, sizeof TARDIS_TRADE_ROWS / sizeof *TARDIS_TRADE_ROWS,
                                 below(40), mutate);
        char *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        cf_tardis_snapshot_mode mode = (cf_tardis_snapshot_mode)below(3);
        rows_t a = run_tardis(exact, len, 1, kind, mode);
        rows_t b = run_tardis(exact, len, 0, kind, mode);
        if (!mutate) same_rows(a, b, "tardis rows depend on block split or capacity");
        free(a.rows);
        free(b.rows);
        free(exact);

        uint32_t flags = (uint32_t)below(16);
        len = build(buf, sizeof buf, REC_LINES, sizeof REC_LINES / sizeof *REC_LINES, below(30), mutate);
        exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        uint64_t saved = rng_state;
        rows_t c = run_recording(exact, len, 1, flags);
        rng_state = saved;
        rows_t d = run_recording(exact, len, 0, flags);
        if (!mutate && !(flags & CF_RECORDING_SYNC)) same_rows(c, d, "recording rows depend on capacity");
        free(c.rows);
        free(d.rows);
        free(exact);
    }
    printf("ok: %ld iterations\n", iterations);
    return 0;
}
