/* SPDX-License-Identifier: MIT */
#include "convert/recording.h"

#include <string.h>
#include "convert/tardis.h"

enum { WAITING = 0, BRIDGING = 1, SYNCED = 2 };
enum { RULE_UNKNOWN = 0, RULE_RANGE = 1, RULE_PREV_ID = 2 };

void cf_recording_reset(cf_recording *r) {
    r->n_held = r->n_msgs = 0;
    r->sync_state = WAITING;
    r->rule = RULE_UNKNOWN;
    r->snapshot_id = r->last_id = 0;
    r->line = 0;
    r->symbol_len = 0;
    memset(&r->counts, 0, sizeof r->counts);
    r->bad_status = CF_OK;
    r->bad_offset = 0;
    r->need = r->need_levels = r->need_held = 0;
}

/* Epoch time in s^-3, s^-6 or s^-9 -> ns: since 2001, ns values exceed 1e18, us 1e15 and ms 1e12. */
static int64_t to_ns(int64_t v) {
    int64_t ns;
    if (v >= 100000000000000000LL) return v;
    if (__builtin_mul_overflow(v, v >= 100000000000000LL ? 1000 : 1000000, &ns))
        return v < 0 ? INT64_MIN : INT64_MAX; /* junk times stay junk, without overflow */
    return ns;
}

int cf_recording_timestamp(const char *s, size_t n, int64_t *ns) {
    if (n == 0 || n > 19) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9) return 0;
        v = v * 10u + d;
    }
    if (v > (uint64_t)INT64_MAX) return 0;
    *ns = to_ns((int64_t)v);
    return *ns != INT64_MAX; /* more digits than any ns, us or ms time */
}

static inline int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Where key (a JSON member name) stands in s[0..n): the index just past its ':', or 0 when absent. Names
 * and string values are told apart by the ':' after them. */
static size_t find_key(const char *s, size_t n, const char *key, size_t key_len) {
    size_t i = 0;
    while (i < n) {
        const char *q = memchr(s + i, '"', n - i);
        if (!q) return 0;
        size_t at = (size_t)(q - s);
        if (at + key_len + 2 <= n && memcmp(q + 1, key, key_len) == 0 && q[key_len + 1] == '"') {
            size_t j = at + key_len + 2;
            while (j < n && is_ws(s[j])) j++;
            if (j < n && s[j] == ':') return j + 1;
        }
        i = at + 1;
    }
    return 0;
}

/* The string value of "e" (the event type), without decoding the message. */
static int find_event(const char *s, size_t n, cf_span *out) {
    size_t j = find_key(s, n, "e", 1);
    if (!j) return 0;
    while (j < n && is_ws(s[j])) j++;
    if (j >= n || s[j] != '"') return 0;
    const char *end = memchr(s + j + 1, '"', n - j - 1);
    if (!end) return 0;
    out->p = s + j + 1;
    out->len = (uint32_t)(end - (s + j + 1));
    return 1;
}

static int span_is(cf_span s, const char *lit) {
    size_t len = strlen(lit);
    return s.len == len && memcmp(s.p, lit, len) == 0;
}

/* Python's float() of a value the decoder kept as text or parsed already. */
static int text_number(const char *p, size_t n, const char *msg_end, double *out) {
    return cf_tardis_number(p, n, (size_t)(msg_end - p), out);
}

static int level_value(const char *p, uint32_t n, int parsed, cf_decimal d, const char *msg_end, double *out) {
    if (parsed) {
        *out = cf_decimal_to_double(d);
        if (d.mantissa == 0 && p[0] == '-') *out = -0.0;
        return 1;
    }
    return text_number(p, n, msg_end, out);
}

/* A field the layout may not require: absent is as bad as not a number. */
static int field_number(const cf_record *rec, cf_field f, const char *msg_end, double *out) {
    if (!(rec->present & CF_FIELD_BIT(f))) return 0;
    return text_number(rec->strs[f].p, rec->strs[f].len, msg_end, out);
}

/* Exchange time: transaction time, else event time, else the receive time. */
static int64_t exch_time(const cf_record *rec, int64_t local_ts, int event_first) {
    int has_t = (rec->present & CF_FIELD_BIT(CF_FIELD_TRANSACT_TS)) != 0;
    int has_e = (rec->present & CF_FIELD_BIT(CF_FIELD_EXCH_TS)) != 0;
    if (event_first && has_e) return to_ns(rec->ints[CF_FIELD_EXCH_TS]);
    if (has_t) return to_ns(rec->ints[CF_FIELD_TRANSACT_TS]);
    if (has_e) return to_ns(rec->ints[CF_FIELD_EXCH_TS]);
    return local_ts;
}

typedef struct {
    cf_recording *r;
    const char *msg;
    size_t n;
    const char *end;
    int64_t local_ts;
    cf_record rec;
} line_t;

/* Remember the first symbol; count messages naming another (several symbols in one file are converted
 * together, as hftbacktest does, but the caller warns: a backtest asset is one symbol). */
static void note_symbol(cf_recording *r, cf_span s) {
    if (r->symbol_len == 0) {
        if (s.len == 0 || s.len > sizeof r->symbol) return;
        memcpy(r->symbol, s.p, s.len);
        r->symbol_len = s.len;
    } else if (s.len != r->symbol_len || memcmp(r->symbol, s.p, s.len) != 0) {
        r->counts.other_symbols++;
    }
}

static cf_status decode(line_t *L, const cf_layout *layout) {
    cf_recording *r = L->r;
    cf_status st = cf_decode(layout, L->msg, L->n, &L->rec, r->bids, r->levels_cap, r->asks, r->levels_cap);
    if (st == CF_ENOSPC) {
        r->need = 0;
        r->need_levels = L->rec.n_bids > L->rec.n_asks ? L->rec.n_bids : L->rec.n_asks;
        return CF_ENOSPC;
    }
    if (st != CF_OK) {
        r->bad_status = st;
        r->bad_offset = L->rec.error_offset;
        return CF_EBADMSG;
    }
    if (L->rec.present & CF_FIELD_BIT(CF_FIELD_SYMBOL)) note_symbol(r, L->rec.strs[CF_FIELD_SYMBOL]);
    return CF_OK;
}

static cf_status bad_number(line_t *L) { /* or a field missing that the layout did not require */
    L->r->bad_status = CF_EBADNUM;
    L->r->bad_offset = 0;
    return CF_EBADMSG;
}

/* Level rows of one side into dst (count rows). */
static cf_status level_rows(line_t *L, const cf_text_level *lv, size_t count, uint64_t ev, int64_t exch_ts,
                            cf_event *dst) {
    for (size_t k = 0; k < count; k++) {
        double px, qty;
        if (!level_value(lv[k].px, lv[k].px_len, lv[k].parsed & CF_PARSED_PX, lv[k].px_value, L->end, &px) ||
            !level_value(lv[k].qty, lv[k].qty_len, lv[k].parsed & CF_PARSED_QTY, lv[k].qty_value, L->end, &qty))
            return bad_number(L);
        dst[k] = cf_event_make(ev, exch_ts, L->local_ts, px, qty);
    }
    return CF_OK;
}

static size_t n_bids(const cf_record *rec) { return rec->present & CF_FIELD_BIT(CF_FIELD_BIDS) ? rec->n_bids : 0; }
static size_t n_asks(const cf_record *rec) { return rec->present & CF_FIELD_BIT(CF_FIELD_ASKS) ? rec->n_asks : 0; }

/* Rows of a depth update: bids, then asks. */
static cf_status update_rows(line_t *L, int64_t exch_ts, cf_event *dst) {
    size_t nb = n_bids(&L->rec);
    cf_status st = level_rows(L, L->r->bids, nb, CF_EVENT_DEPTH | CF_EVENT_BUY, exch_ts, dst);
    if (st != CF_OK) return st;
    return level_rows(L, L->r->asks, n_asks(&L->rec), CF_EVENT_DEPTH | CF_EVENT_SELL, exch_ts, dst + nb);
}

static size_t snapshot_size(const cf_record *rec) {
    size_t nb = n_bids(rec), na = n_asks(rec);
    return (nb ? nb + 1 : 0) + (na ? na + 1 : 0);
}

/* A snapshot: each non-empty side is cleared up to its last price, then its levels. */
static cf_status snapshot_rows(line_t *L, cf_event *dst) {
    int64_t exch_ts = exch_time(&L->rec, L->local_ts, 0);
    size_t nb = n_bids(&L->rec), na = n_asks(&L->rec), o = 0;
    cf_status st;
    if (nb) {
        if ((st = level_rows(L, L->r->bids, nb, CF_EVENT_DEPTH_SNAPSHOT | CF_EVENT_BUY, exch_ts, dst + 1)) != CF_OK)
            return st;
        dst[0] = cf_event_make(CF_EVENT_DEPTH_CLEAR | CF_EVENT_BUY, exch_ts, L->local_ts, dst[nb].px, 0.0);
        o = nb + 1;
    }
    if (na) {
        if ((st = level_rows(L, L->r->asks, na, CF_EVENT_DEPTH_SNAPSHOT | CF_EVENT_SELL, exch_ts, dst + o + 1)) !=
            CF_OK)
            return st;
        dst[o] = cf_event_make(CF_EVENT_DEPTH_CLEAR | CF_EVENT_SELL, exch_ts, L->local_ts, dst[o + na].px, 0.0);
    }
    return CF_OK;
}

/* ---- sync mode ---------------------------------------------------------------------------------------- */

typedef enum { ACT_APPLY, ACT_STALE, ACT_GAP, ACT_HOLD } action_t;

static action_t judge(const cf_recording *r, int64_t first, int64_t last, int64_t prev, int has_prev) {
    if (r->sync_state == WAITING) return ACT_HOLD;
    int prev_rule = r->rule == RULE_PREV_ID;
    if (r->sync_state == BRIDGING) {
        int64_t L = r->snapshot_id;
        if (prev_rule ? last < L : last <= L) return ACT_STALE;
        if (prev_rule ? ((first <= L && L <= last) || (has_prev && prev == L)) : (first <= L + 1 && L + 1 <= last))
            return ACT_APPLY;
        return ACT_GAP;
    }
    if (prev_rule && has_prev ? prev == r->last_id : first == r->last_id + 1) return ACT_APPLY;
    if (last <= r->last_id) return ACT_STALE;
    return ACT_GAP;
}

static cf_event full_clear(int64_t exch_ts, int64_t local_ts) {
    return cf_event_make(CF_EVENT_DEPTH_CLEAR, exch_ts, local_ts, 0.0, 0.0);
}

/* Replay held updates after a snapshot, writing what applies; from a gap on, updates stay held. An update
 * that arrived before the snapshot can only apply after it: it takes the snapshot's times when earlier. */
static void release_held(cf_recording *r, int64_t exch_ts, int64_t local_ts, cf_event *out, size_t *o) {
    size_t k = 0;
    for (; k < r->n_msgs; k++) {
        const cf_recording_held *m = &r->msgs[k];
        action_t a = judge(r, m->first_id, m->last_id, m->prev_id, m->has_prev);
        if (a == ACT_STALE) {
            r->counts.stale++;
            continue;
        }
        if (a == ACT_GAP) {
            r->counts.gaps++;
            out[(*o)++] = full_clear(m->exch_ts, m->local_ts);
            r->sync_state = WAITING;
            break;
        }
        for (size_t j = 0; j < m->count; j++) {
            cf_event e = r->held[m->start + j];
            e.exch_ts = e.exch_ts < exch_ts ? exch_ts : e.exch_ts;
            e.local_ts = e.local_ts < local_ts ? local_ts : e.local_ts;
            out[(*o)++] = e;
        }
        r->last_id = m->last_id;
        r->sync_state = SYNCED;
    }
    if (k >= r->n_msgs) {
        r->n_msgs = r->n_held = 0;
        return;
    }
    size_t base = r->msgs[k].start;
    memmove(r->held, r->held + base, (r->n_held - base) * sizeof(cf_event));
    r->n_held -= base;
    memmove(r->msgs, r->msgs + k, (r->n_msgs - k) * sizeof *r->msgs);
    r->n_msgs -= k;
    for (size_t j = 0; j < r->n_msgs; j++) r->msgs[j].start -= base;
}

static cf_status hold(line_t *L, int64_t exch_ts, size_t rows) {
    cf_recording *r = L->r;
    if (r->n_held + rows > r->max_held && r->n_msgs) { /* bounded: the oldest are the least useful */
        r->counts.dropped += r->n_msgs;
        r->n_msgs = r->n_held = 0;
    }
    if (r->n_held + rows > r->cap_held || r->n_msgs == r->cap_msgs) {
        r->need = 0;
        r->need_held = r->n_held + rows;
        return CF_ENOSPC;
    }
    cf_status st = update_rows(L, exch_ts, r->held + r->n_held);
    if (st != CF_OK) return st;
    cf_recording_held *m = &r->msgs[r->n_msgs++];
    m->first_id = L->rec.ints[CF_FIELD_FIRST_ID];
    m->last_id = L->rec.ints[CF_FIELD_LAST_ID];
    m->has_prev = (L->rec.present & CF_FIELD_BIT(CF_FIELD_PREV_ID)) != 0;
    m->prev_id = m->has_prev ? L->rec.ints[CF_FIELD_PREV_ID] : 0;
    m->exch_ts = exch_ts;
    m->local_ts = L->local_ts;
    m->start = r->n_held;
    m->count = rows;
    r->n_held += rows;
    return CF_OK;
}

static cf_status sync_update(line_t *L, cf_event *out, size_t cap, size_t *o) {
    cf_recording *r = L->r;
    const cf_record *rec = &L->rec;
    int has_prev = (rec->present & CF_FIELD_BIT(CF_FIELD_PREV_ID)) != 0;
    if (r->rule == RULE_UNKNOWN) r->rule = has_prev ? RULE_PREV_ID : RULE_RANGE;
    int64_t exch_ts = exch_time(rec, L->local_ts, 0);
    size_t rows = n_bids(rec) + n_asks(rec);
    action_t a = judge(r, rec->ints[CF_FIELD_FIRST_ID], rec->ints[CF_FIELD_LAST_ID],
                       has_prev ? rec->ints[CF_FIELD_PREV_ID] : 0, has_prev);
    if (a == ACT_STALE) {
        r->counts.stale++;
        return CF_OK;
    }
    if (a == ACT_HOLD) return hold(L, exch_ts, rows);
    if (a == ACT_GAP) {
        if (cap - *o < 1) { r->need = 1; return CF_ENOSPC; }
        cf_status st = hold(L, exch_ts, rows);
        if (st != CF_OK) return st;
        out[(*o)++] = full_clear(exch_ts, L->local_ts);
        r->counts.gaps++;
        r->sync_state = WAITING;
        return CF_OK;
    }
    if (cap - *o < rows) { r->need = rows; return CF_ENOSPC; }
    cf_status st = update_rows(L, exch_ts, out + *o);
    if (st != CF_OK) return st;
    *o += rows;
    r->last_id = rec->ints[CF_FIELD_LAST_ID];
    r->sync_state = SYNCED;
    return CF_OK;
}

static cf_status sync_snapshot(line_t *L, cf_event *out, size_t cap, size_t *o) {
    cf_recording *r = L->r;
    if (r->sync_state == SYNCED && L->rec.ints[CF_FIELD_LAST_ID] <= r->last_id) {
        r->counts.stale++; /* no newer than the book: it would only move the book back */
        return CF_OK;
    }
    size_t need = snapshot_size(&L->rec) + r->n_held + 1;
    if (cap - *o < need) { r->need = need; return CF_ENOSPC; }
    cf_status st = snapshot_rows(L, out + *o);
    if (st != CF_OK) return st;
    *o += snapshot_size(&L->rec);
    r->snapshot_id = L->rec.ints[CF_FIELD_LAST_ID];
    r->sync_state = BRIDGING;
    release_held(r, exch_time(&L->rec, L->local_ts, 0), L->local_ts, out, o);
    return CF_OK;
}

/* ---- one line ----------------------------------------------------------------------------------------- */

static cf_status on_depth(line_t *L, cf_event *out, size_t cap, size_t *o) {
    cf_status st = decode(L, L->r->depth);
    if (st != CF_OK) return st;
    if (L->r->rule == RULE_UNKNOWN)
        L->r->rule = (L->rec.present & CF_FIELD_BIT(CF_FIELD_PREV_ID)) ? RULE_PREV_ID : RULE_RANGE;
    uint32_t ids = CF_FIELD_BIT(CF_FIELD_FIRST_ID) | CF_FIELD_BIT(CF_FIELD_LAST_ID);
    if (L->r->flags & CF_RECORDING_SYNC) {
        if ((L->rec.present & ids) != ids) return bad_number(L); /* no update ids: nothing to sync by */
        st = sync_update(L, out, cap, o);
    } else {
        size_t rows = n_bids(&L->rec) + n_asks(&L->rec);
        if (cap - *o < rows) { L->r->need = rows; return CF_ENOSPC; }
        st = update_rows(L, exch_time(&L->rec, L->local_ts, 0), out + *o);
        if (st == CF_OK) *o += rows;
    }
    if (st == CF_OK) L->r->counts.depth++;
    return st;
}

static cf_status on_snapshot(line_t *L, cf_event *out, size_t cap, size_t *o) {
    cf_status st = decode(L, L->r->snapshot);
    if (st != CF_OK) return st;
    if (L->r->flags & CF_RECORDING_SYNC) {
        if (!(L->rec.present & CF_FIELD_BIT(CF_FIELD_LAST_ID))) return bad_number(L);
        st = sync_snapshot(L, out, cap, o);
    } else {
        size_t rows = snapshot_size(&L->rec);
        if (cap - *o < rows) { L->r->need = rows; return CF_ENOSPC; }
        st = snapshot_rows(L, out + *o);
        if (st == CF_OK) *o += rows;
    }
    if (st == CF_OK) L->r->counts.snapshots++;
    return st;
}

static cf_status on_trade(line_t *L, const cf_layout *layout, cf_event *out, size_t cap, size_t *o) {
    if (cap - *o < 1) { L->r->need = 1; return CF_ENOSPC; }
    cf_status st = decode(L, layout);
    if (st != CF_OK) return st;
    const cf_record *rec = &L->rec;
    if ((rec->present & CF_FIELD_BIT(CF_FIELD_TRADE_TYPE)) && !span_is(rec->strs[CF_FIELD_TRADE_TYPE], "MARKET")) {
        L->r->counts.not_market++; /* insurance fund, ADL: not a trade in the market */
        return CF_OK;
    }
    double px, qty;
    if (!field_number(rec, CF_FIELD_PRICE, L->end, &px) || !field_number(rec, CF_FIELD_QTY, L->end, &qty))
        return bad_number(L);
    /* the buyer is the maker: a seller took liquidity */
    uint64_t side = (rec->present & CF_FIELD_BIT(CF_FIELD_BUYER_MAKER)) && rec->ints[CF_FIELD_BUYER_MAKER]
                        ? CF_EVENT_SELL : CF_EVENT_BUY;
    out[(*o)++] = cf_event_make(CF_EVENT_TRADE | side, exch_time(rec, L->local_ts, 0), L->local_ts, px, qty);
    L->r->counts.trades++;
    return CF_OK;
}

static cf_status on_ticker(line_t *L, cf_event *out, size_t cap, size_t *o) {
    if (cap - *o < 2) { L->r->need = 2; return CF_ENOSPC; }
    cf_status st = decode(L, L->r->ticker);
    if (st != CF_OK) return st;
    const cf_record *rec = &L->rec;
    double v[4];
    if (!field_number(rec, CF_FIELD_BID_PX, L->end, &v[0]) || !field_number(rec, CF_FIELD_BID_QTY, L->end, &v[1]) ||
        !field_number(rec, CF_FIELD_ASK_PX, L->end, &v[2]) || !field_number(rec, CF_FIELD_ASK_QTY, L->end, &v[3]))
        return bad_number(L);
    int64_t exch_ts = exch_time(rec, L->local_ts, 0);
    out[(*o)++] = cf_event_make(CF_EVENT_BEST_BID, exch_ts, L->local_ts, v[0], v[1]);
    out[(*o)++] = cf_event_make(CF_EVENT_BEST_ASK, exch_ts, L->local_ts, v[2], v[3]);
    L->r->counts.tickers++;
    return CF_OK;
}

static cf_status on_mark(line_t *L, cf_event *out, size_t cap, size_t *o) {
    if (cap - *o < 3) { L->r->need = 3; return CF_ENOSPC; }
    cf_status st = decode(L, L->r->mark);
    if (st != CF_OK) return st;
    const cf_record *rec = &L->rec;
    double v[3];
    if (!field_number(rec, CF_FIELD_INDEX_PX, L->end, &v[0]) || !field_number(rec, CF_FIELD_PRICE, L->end, &v[1]) ||
        !field_number(rec, CF_FIELD_FUNDING_RATE, L->end, &v[2]))
        return bad_number(L);
    /* T here is the next funding time: hftbacktest uses it; sync mode uses the event time E */
    int64_t exch_ts = exch_time(rec, L->local_ts, (L->r->flags & CF_RECORDING_SYNC) != 0);
    out[(*o)++] = cf_event_make(CF_EVENT_INDEX_PRICE, exch_ts, L->local_ts, v[0], 0.0);
    out[(*o)++] = cf_event_make(CF_EVENT_MARK_PRICE, exch_ts, L->local_ts, v[1], 0.0);
    out[(*o)++] = cf_event_make(CF_EVENT_FUNDING_RATE, exch_ts, L->local_ts, v[2], 0.0);
    L->r->counts.marks++;
    return CF_OK;
}

static cf_status one_line(cf_recording *r, const char *s, size_t n, cf_event *out, size_t cap, size_t *o) {
    const char *sp = memchr(s, ' ', n);
    line_t L;
    if (!sp || !cf_recording_timestamp(s, (size_t)(sp - s), &L.local_ts)) {
        r->bad_status = CF_EBADMSG;
        r->bad_offset = 0;
        return CF_EBADMSG;
    }
    L.r = r;
    L.msg = sp + 1;
    L.n = n - (size_t)(sp + 1 - s);
    L.end = L.msg + L.n;
    cf_span ev;
    uint32_t flags = r->flags;
    if (find_event(L.msg, L.n, &ev)) {
        if (span_is(ev, "depthUpdate")) return on_depth(&L, out, cap, o);
        if (span_is(ev, "trade")) return on_trade(&L, r->trade, out, cap, o);
        if (span_is(ev, "aggTrade") && (flags & CF_RECORDING_AGG_TRADES)) return on_trade(&L, r->agg_trade, out, cap, o);
        if (span_is(ev, "bookTicker") && (flags & CF_RECORDING_BBO)) return on_ticker(&L, out, cap, o);
        if (span_is(ev, "markPriceUpdate") && (flags & CF_RECORDING_MARK)) return on_mark(&L, out, cap, o);
        r->counts.other++;
        return CF_OK;
    }
    if (find_key(L.msg, L.n, "lastUpdateId", 12)) return on_snapshot(&L, out, cap, o);
    if (find_key(L.msg, L.n, "code", 4)) {
        r->counts.errors++;
        return CF_OK;
    }
    if (find_key(L.msg, L.n, "result", 6) || find_key(L.msg, L.n, "id", 2)) {
        r->counts.acks++;
        return CF_OK;
    }
    /* spot book tickers carry no event type */
    if ((flags & CF_RECORDING_BBO) && find_key(L.msg, L.n, "B", 1) && find_key(L.msg, L.n, "A", 1))
        return on_ticker(&L, out, cap, o);
    r->counts.other++;
    return CF_OK;
}

cf_status cf_recording_parse(cf_recording *r, const char *buf, size_t len, cf_event *out, size_t cap,
                             size_t *n_out, size_t *consumed) {
    size_t i = 0, o = 0;
    cf_status st = CF_OK;
    r->need = r->need_levels = r->need_held = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) break;
        size_t end = (size_t)(nl - buf), n = end - i;
        while (n && (buf[i + n - 1] == '\r' || buf[i + n - 1] == ' ')) n--;
        if (n == 0) {
            r->line++;
            i = end + 1;
            continue;
        }
        st = one_line(r, buf + i, n, out, cap, &o);
        if (st == CF_ENOSPC) break;
        r->line++;
        i = end + 1;
        if (st == CF_EBADMSG) {
            r->counts.malformed++;
            break;
        }
        r->counts.lines++;
    }
    *n_out = o;
    *consumed = i;
    return st;
}
