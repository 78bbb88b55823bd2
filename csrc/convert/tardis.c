/* SPDX-License-Identifier: MIT */
#include "convert/tardis.h"

#include <stdlib.h>
#include <string.h>
#include "common/decimal.h"

#define N_COLUMNS 8

static const char TRADES_HEADER[] = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount";
static const char BOOK_HEADER[] = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount";
static const char TICKER_HEADER[] =
    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount";

static int equals(const char *s, size_t n, const char *lit) {
    size_t len = strlen(lit);
    return n == len && memcmp(s, lit, len) == 0;
}

cf_tardis_kind cf_tardis_header(const char *line, size_t n) {
    if (n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 byte order mark */
        line += 3;
        n -= 3;
    }
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n')) n--;
    if (equals(line, n, TRADES_HEADER)) return CF_TARDIS_TRADES;
    if (equals(line, n, BOOK_HEADER)) return CF_TARDIS_BOOK;
    if (equals(line, n, TICKER_HEADER)) return CF_TARDIS_BOOK_TICKER;
    return CF_TARDIS_UNKNOWN;
}

void cf_tardis_init(cf_tardis *t, cf_tardis_kind kind, cf_tardis_snapshot_mode mode, cf_row *ss_bid,
                    size_t cap_bid, cf_row *ss_ask, size_t cap_ask) {
    memset(t, 0, sizeof *t);
    t->kind = (int32_t)kind;
    t->snapshot_mode = (int32_t)mode;
    t->start_of_day = 1;
    t->ss_bid = ss_bid;
    t->ss_ask = ss_ask;
    t->cap_bid = cap_bid;
    t->cap_ask = cap_ask;
    t->line = 1;
    t->bad_column = -1;
}

/* The double of a decimal scanned from s, as Python's float(): "-0" and its kin keep their sign. */
static inline double scanned_double(cf_decimal d, const char *s) {
    return d.mantissa == 0 && s[0] == '-' ? -0.0 : cf_decimal_to_double(d);
}

int cf_tardis_number(const char *s, size_t n, size_t avail, double *out) {
    cf_decimal d;
    size_t end;
    if (n == 0) return 0;
    if (cf_decimal_scan(s, avail, &d, &end) == CF_OK && end == n) {
        *out = scanned_double(d, s);
        return 1;
    }
    /* Rare forms (exponents, over 19 digits): the C library's correctly rounded strtod. */
    char buf[72];
    if (n >= sizeof buf) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == 'x' || c == 'X' || c == ' ' || c == '\t' || c == '\0') return 0; /* no hex, no padding */
        buf[i] = c;
    }
    buf[n] = '\0';
    char *stop;
    double v = strtod(buf, &stop);
    if (stop != buf + n) return 0;
    *out = v;
    return 1;
}

/* The largest time in us whose ns fits int64 (2262-04-11): 16 digits reach past it, so it is checked. */
#define MAX_US ((uint64_t)INT64_MAX / 1000)

#ifdef CF_DECIMAL_SWAR
/* Sixteen digits of us at s (every timestamp since 2001: two eight-digit words) -> ns; 0 for anything else,
 * or for a time past MAX_US. */
static inline int us16_to_ns(const char *s, int64_t *ns) {
    uint64_t hi, lo;
    memcpy(&hi, s, 8);
    memcpy(&lo, s + 8, 8);
    if (cf_swar_nondigits(hi) | cf_swar_nondigits(lo)) return 0;
    uint64_t us = cf_swar_digits(hi, 8) * 100000000u + cf_swar_digits(lo, 8);
    if (us > MAX_US) return 0;
    *ns = (int64_t)us * 1000;
    return 1;
}
#endif

/* Microsecond integer text -> ns; 0 for anything else, or for a time past MAX_US. */
static int parse_us(const char *s, size_t n, int64_t *ns) {
    if (n == 0 || n > 16) return 0;
#ifdef CF_DECIMAL_SWAR
    if (n == 16) return us16_to_ns(s, ns);
#endif
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9) return 0;
        v = v * 10 + (int64_t)d;
    }
    if ((uint64_t)v > MAX_US) return 0;
    *ns = v * 1000;
    return 1;
}

/* Position of the first ',' in line[i..n), or n. avail >= n bytes are readable from line: eight bytes are
 * tested at a time while they are (the first zero byte of w ^ ',,,,,,,,' is exact). */
static inline size_t find_comma(const char *line, size_t i, size_t n, size_t avail) {
#ifdef CF_DECIMAL_SWAR
    while (i < n && i + 8 <= avail) {
        uint64_t w;
        memcpy(&w, line + i, 8);
        uint64_t x = w ^ 0x2C2C2C2C2C2C2C2CULL;
        uint64_t z = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
        if (z) {
            size_t at = i + ((size_t)__builtin_ctzll(z) >> 3);
            return at < n ? at : n;
        }
        i += 8;
    }
#else
    (void)avail;
#endif
    while (i < n && line[i] != ',') i++;
    return i < n ? i : n;
}

typedef struct {
    const char *p;
    size_t n;
} field_t;

/* Split line[0..n) (avail >= n bytes readable) into at most N_COLUMNS + 1 fields; quoted fields lose their
 * quotes ("" inside stays as is: no numeric column holds one). Returns the field count, or -1 for an
 * unterminated quote. */
static int split_quoted(const char *line, size_t n, size_t avail, field_t *f) {
    int count = 0;
    size_t i = 0;
    for (;;) {
        if (count > N_COLUMNS) return count;
        if (i < n && line[i] == '"') {
            size_t j = i + 1;
            for (;;) {
                const char *q = memchr(line + j, '"', n - j);
                if (!q) return -1;
                j = (size_t)(q - line);
                if (j + 1 < n && line[j + 1] == '"') {
                    j += 2;
                    continue;
                }
                break;
            }
            f[count].p = line + i + 1;
            f[count].n = j - i - 1;
            count++;
            i = j + 1;
            if (i >= n) return count;
            if (line[i] != ',') return -1;
            i++;
            continue;
        }
        size_t end = find_comma(line, i, n, avail); /* fields are short: cheaper than a memchr call each */
        f[count].p = line + i;
        f[count].n = end - i;
        count++;
        if (end == n) return count;
        i = end + 1;
    }
}

#ifdef CF_DECIMAL_SWAR
/* 0x80 in each byte of w equal to pattern's (exact: no carries between bytes). */
static inline uint64_t bytes_equal(uint64_t w, uint64_t pattern) {
    uint64_t x = w ^ pattern;
    return ~(((x & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | x) & 0x8080808080808080ULL;
}
#endif

/* split_quoted's result for a line: eight bytes at a time, every comma of a word taken from its bit mask
 * (the exact zero-byte test: a '-' after a comma is not one). A line with a quote, or whose last word would
 * be read past avail, goes to split_quoted. */
static int split(const char *line, size_t n, size_t avail, field_t *f) {
#ifdef CF_DECIMAL_SWAR
    int count = 0;
    size_t start = 0;
    uint64_t quotes = 0;
    for (size_t i = 0; i < n; i += 8) {
        if (i + 8 > avail) return split_quoted(line, n, avail, f);
        uint64_t w;
        memcpy(&w, line + i, 8);
        uint64_t commas = bytes_equal(w, 0x2C2C2C2C2C2C2C2CULL), quote = bytes_equal(w, 0x2222222222222222ULL);
        if (n - i < 8) { /* the line ends inside this word */
            uint64_t inside = (1ULL << (8 * (n - i))) - 1;
            commas &= inside;
            quote &= inside;
        }
        quotes |= quote;
        while (commas) {
            size_t at = i + ((size_t)__builtin_ctzll(commas) >> 3);
            if (count >= N_COLUMNS) { /* too many, unless quotes further on hold some of the commas */
                count = N_COLUMNS + 1;
                break;
            }
            f[count].p = line + start;
            f[count].n = at - start;
            count++;
            start = at + 1;
            commas &= commas - 1;
        }
    }
    if (quotes) return split_quoted(line, n, avail, f);
    if (count >= N_COLUMNS) return N_COLUMNS + 1; /* too many: the count is all that matters */
    f[count].p = line + start;
    f[count].n = n - start;
    return count + 1;
#else
    return split_quoted(line, n, avail, f);
#endif
}

static int is_word(const field_t *f, const char *w) { return equals(f->p, f->n, w); }

static int parse_bool(const field_t *f, int *v) {
    if (f->n == 0) { /* empty: polars reads null, and hftbacktest treats null as not a snapshot */
        *v = 0;
        return 1;
    }
    if (is_word(f, "true") || is_word(f, "True") || is_word(f, "TRUE")) { *v = 1; return 1; }
    if (is_word(f, "false") || is_word(f, "False") || is_word(f, "FALSE")) { *v = 0; return 1; }
    return 0;
}

static inline void put_row(const cf_columns *out, size_t i, const cf_row *r) {
    cf_columns_put(out, i, r->ev, r->exch_ts, r->local_ts, r->px, r->qty);
}

static cf_status flush_snapshot(cf_tardis *t, const cf_columns *out, size_t cap, size_t *o) {
    size_t need = (t->n_bid ? t->n_bid + 1 : 0) + (t->n_ask ? t->n_ask + 1 : 0) + 1;
    if (cap - *o < need) {
        t->need = need;
        return CF_ENOSPC;
    }
    if (t->n_bid) {
        cf_columns_put(out, (*o)++, CF_EVENT_DEPTH_CLEAR | CF_EVENT_BUY, t->ss_bid[0].exch_ts, t->ss_bid[0].local_ts,
                       t->ss_bid[t->n_bid - 1].px, 0.0);
        for (size_t i = 0; i < t->n_bid; i++)
            put_row(out, (*o)++, &t->ss_bid[i]);
    }
    if (t->n_ask) {
        cf_columns_put(out, (*o)++, CF_EVENT_DEPTH_CLEAR | CF_EVENT_SELL, t->ss_ask[0].exch_ts, t->ss_ask[0].local_ts,
                       t->ss_ask[t->n_ask - 1].px, 0.0);
        for (size_t i = 0; i < t->n_ask; i++)
            put_row(out, (*o)++, &t->ss_ask[i]);
    }
    t->n_bid = t->n_ask = 0;
    t->in_snapshot = 0;
    return CF_OK;
}

/* A row's values, however its text was read. side: CF_EVENT_BUY, CF_EVENT_SELL or 0 (a trade of no side). */
typedef struct {
    int64_t exch_ts, local_ts;
    double px, qty;
    uint64_t side;
    int snapshot;
} values_t;

/* Write a row read into values. CF_ENOSPC leaves the row unread (state unchanged but for start_of_day,
 * which the retry sets the same way). */
static cf_status commit(cf_tardis *t, const values_t *v, const cf_columns *out, size_t cap, size_t *o) {
    if (t->kind == CF_TARDIS_TRADES) {
        if (*o == cap) { t->need = 1; return CF_ENOSPC; }
        cf_columns_put(out, (*o)++, CF_EVENT_TRADE | v->side, v->exch_ts, v->local_ts, v->px, v->qty);
        return CF_OK;
    }
    if (v->snapshot) {
        if (t->snapshot_mode == CF_TARDIS_SNAPSHOT_IGNORE ||
            (t->snapshot_mode == CF_TARDIS_SNAPSHOT_IGNORE_SOD && t->start_of_day))
            return CF_OK;
        if (!t->in_snapshot) {
            t->in_snapshot = 1;
            t->n_bid = t->n_ask = 0;
        }
        cf_row e = {CF_EVENT_DEPTH_SNAPSHOT | v->side, v->exch_ts, v->local_ts, v->px, v->qty};
        if (v->side == CF_EVENT_BUY) {
            if (t->n_bid == t->cap_bid) { t->need = 0; return CF_ENOSPC; }
            t->ss_bid[t->n_bid++] = e;
        } else {
            if (t->n_ask == t->cap_ask) { t->need = 0; return CF_ENOSPC; }
            t->ss_ask[t->n_ask++] = e;
        }
        return CF_OK;
    }
    t->start_of_day = 0;
    if (t->in_snapshot) {
        cf_status st = flush_snapshot(t, out, cap, o);
        if (st != CF_OK) return st;
    }
    if (*o == cap) { t->need = 1; return CF_ENOSPC; }
    cf_columns_put(out, (*o)++, CF_EVENT_DEPTH | v->side, v->exch_ts, v->local_ts, v->px, v->qty);
    return CF_OK;
}

/* One data row, split field by field. CF_EBADMSG sets bad_column. A row read without quotes gives the
 * exchange and symbol fields that fast_row then expects. */
static cf_status row(cf_tardis *t, const char *line, size_t n, size_t avail, const cf_columns *out, size_t cap,
                     size_t *o) {
    field_t f[N_COLUMNS + 1];
    int count = split(line, n, avail, f);
    if (count != N_COLUMNS) {
        t->bad_column = -1;
        return CF_EBADMSG;
    }
    values_t v;
    if (!parse_us(f[2].p, f[2].n, &v.exch_ts)) { t->bad_column = 2; return CF_EBADMSG; }
    if (!parse_us(f[3].p, f[3].n, &v.local_ts)) { t->bad_column = 3; return CF_EBADMSG; }
    /* avail: bytes readable from the field on, within the caller's block (lets the 8-byte reader run) */
    if (!cf_tardis_number(f[6].p, f[6].n, avail - (size_t)(f[6].p - line), &v.px)) { t->bad_column = 6; return CF_EBADMSG; }
    if (!cf_tardis_number(f[7].p, f[7].n, avail - (size_t)(f[7].p - line), &v.qty)) { t->bad_column = 7; return CF_EBADMSG; }
    v.snapshot = 0;
    if (t->kind == CF_TARDIS_TRADES) {
        if (is_word(&f[5], "buy")) v.side = CF_EVENT_BUY;
        else if (is_word(&f[5], "sell")) v.side = CF_EVENT_SELL;
        else v.side = 0; /* anything else ("unknown"): no side */
    } else {
        if (is_word(&f[5], "bid") || is_word(&f[5], "buy")) v.side = CF_EVENT_BUY;
        else if (is_word(&f[5], "ask") || is_word(&f[5], "sell")) v.side = CF_EVENT_SELL;
        else { t->bad_column = 5; return CF_EBADMSG; }
        if (!parse_bool(&f[4], &v.snapshot)) { t->bad_column = 4; return CF_EBADMSG; }
    }
    size_t prefix = (size_t)(f[2].p - line);
    if (prefix <= sizeof t->prefix && (prefix != t->prefix_len || memcmp(t->prefix, line, prefix) != 0) &&
        !memchr(line, '"', prefix)) {
        memcpy(t->prefix, line, prefix);
        t->prefix_len = (uint32_t)prefix;
    }
    return commit(t, &v, out, cap, o);
}

#ifdef CF_DECIMAL_SWAR
/* A number field, as cf_tardis_number reads it when it ends where its scan stops (*len bytes): 0 when the scan
 * fails or reaches avail. */
static inline int fast_number(const char *s, size_t avail, double *out, size_t *len) {
    cf_decimal d;
    size_t end;
    if (cf_decimal_scan(s, avail, &d, &end) != CF_OK || end >= avail) return 0;
    *out = scanned_double(d, s);
    *len = end;
    return 1;
}

/* 0x80 in each byte where a and b differ, over the first len (1..8) bytes. */
static inline uint64_t differs(uint64_t a, uint64_t b, size_t len) {
    uint64_t x = a ^ b;
    uint64_t inside = len >= 8 ? ~0ULL : (1ULL << (8 * len)) - 1;
    return x & inside;
}

/* The usual row, read straight through: the exchange and symbol of the last row read field by field (the
 * same bytes, so no quote and no comma inside), two 16-digit timestamps, "false"/"true" (book) or digits
 * (a trade id), "bid"/"ask" (book) or "buy"/"sell" (trades), two plain decimals, then the line end ("\n" or
 * "\r\n").
 * Returns the bytes of the line with its end, the values in v, or 0 when the line is anything else: row()
 * reads it then, to the same values or an error. Reads only inside s[0..avail). */
static size_t fast_row(const cf_tardis *t, const char *s, size_t avail, values_t *v) {
    size_t p = t->prefix_len;
    if (p == 0 || avail < p + 96) return 0; /* room for every fixed-size read below */
    for (size_t i = 0; i < p; i += 8) {
        uint64_t a, b;
        memcpy(&a, s + i, 8);
        memcpy(&b, t->prefix + i, 8);
        if (differs(a, b, p - i)) return 0;
    }
    /* 16 digits and a comma, twice */
    if (s[p + 16] != ',' || !us16_to_ns(s + p, &v->exch_ts)) return 0;
    p += 17;
    if (s[p + 16] != ',' || !us16_to_ns(s + p, &v->local_ts)) return 0;
    p += 17;
    uint64_t w;
    memcpy(&w, s + p, 8);
    if (t->kind == CF_TARDIS_BOOK) {
        if (!differs(w, 0x2C65736C6166ULL, 6)) { /* "false," */
            v->snapshot = 0;
            p += 6;
        } else if (!differs(w, 0x2C65757274ULL, 5)) { /* "true," */
            v->snapshot = 1;
            p += 5;
        } else {
            return 0;
        }
        memcpy(&w, s + p, 8);
        if (!differs(w, 0x2C646962ULL, 4)) v->side = CF_EVENT_BUY;       /* "bid," */
        else if (!differs(w, 0x2C6B7361ULL, 4)) v->side = CF_EVENT_SELL; /* "ask," */
        else return 0;
        p += 4;
    } else {
        size_t digits = 0; /* the id: up to 32 digits */
        for (;;) {
            uint64_t nd = cf_swar_nondigits(w);
            if (nd) {
                digits += (size_t)__builtin_ctzll(nd) >> 3;
                break;
            }
            digits += 8;
            if (digits > 32) return 0;
            memcpy(&w, s + p + digits, 8);
        }
        if (digits == 0 || s[p + digits] != ',') return 0;
        p += digits + 1;
        memcpy(&w, s + p, 8);
        v->snapshot = 0;
        if (!differs(w, 0x2C797562ULL, 4)) { /* "buy," */
            v->side = CF_EVENT_BUY;
            p += 4;
        } else if (!differs(w, 0x2C6C6C6573ULL, 5)) { /* "sell," */
            v->side = CF_EVENT_SELL;
            p += 5;
        } else {
            return 0;
        }
    }
    size_t len;
    if (!fast_number(s + p, avail - p, &v->px, &len) || s[p + len] != ',') return 0;
    p += len + 1;
    if (!fast_number(s + p, avail - p, &v->qty, &len)) return 0;
    p += len;
    if (s[p] == '\n') return p + 1;
    if (s[p] == '\r' && p + 1 < avail && s[p + 1] == '\n') return p + 2;
    return 0;
}
#endif

cf_status cf_tardis_parse(cf_tardis *t, const char *buf, size_t len, cf_columns out, size_t cap, size_t *n_out,
                          size_t *consumed) {
    size_t i = 0, o = 0;
    cf_status st = CF_OK;
    t->need = 0;
    while (i < len) {
#ifdef CF_DECIMAL_SWAR
        values_t v;
        size_t used = fast_row(t, buf + i, len - i, &v);
        if (used) {
            st = commit(t, &v, &out, cap, &o);
            if (st != CF_OK) break; /* CF_ENOSPC: the row is read again */
            t->line++;
            t->rows++;
            i += used;
            continue;
        }
#endif
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) break;
        size_t end = (size_t)(nl - buf), n = end - i;
        if (n && buf[end - 1] == '\r') n--;
        if (n == 0) { /* blank line */
            t->line++;
            i = end + 1;
            continue;
        }
        st = row(t, buf + i, n, len - i, &out, cap, &o);
        if (st == CF_ENOSPC) break;
        t->line++;
        i = end + 1;
        if (st == CF_EBADMSG) break;
        t->rows++;
    }
    *n_out = o;
    *consumed = i;
    return st;
}
