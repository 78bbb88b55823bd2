/* SPDX-License-Identifier: MIT */
#include "convert/order.h"

#include <math.h>
#include <string.h>

#define MAX_PENDING 128 /* run stack: the rule below keeps it under log_phi(n) runs */
#define MIN_RUN 32

typedef struct {
    size_t start;
    size_t len;
} run_t;

typedef struct {
    const int64_t *keys;
    size_t stride;
    int64_t *idx; /* the permutation being sorted */
    int64_t *tmp; /* at least n / 2 + 1 entries */
} sorter_t;

#define KEY(S, i) ((S)->keys[(size_t)(i) * (S)->stride])

/* First position in idx[0..n) whose key is > key (equal keys stay before: stable). */
static size_t upper_bound(const sorter_t *S, const int64_t *idx, size_t n, int64_t key) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (KEY(S, idx[mid]) > key) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* First position in idx[0..n) whose key is >= key. */
static size_t lower_bound(const sorter_t *S, const int64_t *idx, size_t n, int64_t key) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (KEY(S, idx[mid]) >= key) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Merge adjacent runs a[0..na) and a[na..na+nb), na <= nb: a moves to tmp, the merge runs forward. */
static void merge_lo(const sorter_t *S, int64_t *a, size_t na, size_t nb) {
    int64_t *b = a + na, *dst = a, *t = S->tmp;
    size_t i = 0, j = 0;
    memcpy(t, a, na * sizeof *a);
    int64_t kb = KEY(S, b[0]), kt = KEY(S, t[0]);
    for (;;) {
        if (kb < kt) { /* ties: the left run first */
            *dst++ = b[j++];
            if (j == nb) break;
            kb = KEY(S, b[j]);
        } else {
            *dst++ = t[i++];
            if (i == na) return; /* the rest of b is in place */
            kt = KEY(S, t[i]);
        }
    }
    memcpy(dst, t + i, (na - i) * sizeof *a);
}

/* The same with nb < na: b moves to tmp, the merge runs backward. */
static void merge_hi(const sorter_t *S, int64_t *a, size_t na, size_t nb) {
    int64_t *dst = a + na + nb, *t = S->tmp;
    size_t i = na, j = nb;
    memcpy(t, a + na, nb * sizeof *a);
    int64_t ka = KEY(S, a[i - 1]), kt = KEY(S, t[j - 1]);
    for (;;) {
        if (ka > kt) { /* ties: the right run last */
            *--dst = a[--i];
            if (i == 0) break;
            ka = KEY(S, a[i - 1]);
        } else {
            *--dst = t[--j];
            if (j == 0) return;
            kt = KEY(S, t[j - 1]);
        }
    }
    memcpy(a, t, j * sizeof *a);
}

static void merge_at(const sorter_t *S, run_t *runs, size_t *n_runs, size_t at) {
    int64_t *a = S->idx + runs[at].start;
    size_t na = runs[at].len, nb = runs[at + 1].len;
    runs[at].len = na + nb;
    if (at + 2 < *n_runs) runs[at + 1] = runs[at + 2];
    (*n_runs)--;
    /* Elements of a no greater than b's first, and of b no less than a's last, are already in place: for
     * nearly sorted timestamps that is all but a few. */
    if (KEY(S, a[na - 1]) <= KEY(S, a[na])) return;
    size_t skip = upper_bound(S, a, na, KEY(S, a[na]));
    a += skip;
    na -= skip;
    nb = lower_bound(S, a + na, nb, KEY(S, a[na - 1]));
    if (na <= nb) merge_lo(S, a, na, nb);
    else merge_hi(S, a, na, nb);
}

/* Keep run lengths decreasing faster than Fibonacci from the bottom of the stack up. */
static void collapse(const sorter_t *S, run_t *runs, size_t *n_runs) {
    while (*n_runs > 1) {
        size_t m = *n_runs - 2;
        if ((m > 0 && runs[m - 1].len <= runs[m].len + runs[m + 1].len) ||
            (m > 1 && runs[m - 2].len <= runs[m - 1].len + runs[m].len)) {
            if (runs[m - 1].len < runs[m + 1].len) m--;
        } else if (runs[m].len > runs[m + 1].len) {
            break;
        }
        merge_at(S, runs, n_runs, m);
    }
}

cf_status cf_order_argsort(const int64_t *keys, size_t stride, size_t n, int64_t *out, int64_t *tmp) {
    if (n == 0) return CF_OK;
    if (!keys || !out || !tmp || stride == 0) return CF_EINVAL;
    for (size_t k = 0; k < n; k++) out[k] = (int64_t)k;
    sorter_t S = {keys, stride, out, tmp};
    run_t runs[MAX_PENDING];
    size_t n_runs = 0, start = 0;
    while (start < n) {
        size_t end = start + 1;
        int64_t last = KEY(&S, start);
        while (end < n) {
            int64_t k = KEY(&S, end);
            if (k < last) break;
            last = k;
            end++;
        }
        /* A short run grows to MIN_RUN by binary insertion (stable: after equal keys). */
        size_t want = start + MIN_RUN < n ? start + MIN_RUN : n;
        for (; end < want; end++) {
            int64_t k = KEY(&S, end), v = out[end];
            size_t at = start + upper_bound(&S, out + start, end - start, k);
            memmove(out + at + 1, out + at, (end - at) * sizeof *out);
            out[at] = v;
        }
        runs[n_runs].start = start;
        runs[n_runs].len = end - start;
        n_runs++;
        collapse(&S, runs, &n_runs);
        start = end;
    }
    while (n_runs > 1) {
        size_t m = n_runs - 2;
        if (m > 0 && runs[m - 1].len < runs[m + 1].len) m--;
        merge_at(&S, runs, &n_runs, m);
    }
    return CF_OK;
}

int64_t cf_order_local_offset(const cf_event *rows, size_t n, int64_t base_latency) {
    int64_t latency = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        int64_t d = (int64_t)((uint64_t)rows[i].local_ts - (uint64_t)rows[i].exch_ts);
        latency = d < latency ? d : latency;
    }
    if (latency >= 0) return 0;
    return (int64_t)((uint64_t)base_latency - (uint64_t)latency);
}

void cf_order_shift_local(cf_event *rows, size_t n, int64_t offset) {
    if (offset == 0) return;
    for (size_t i = 0; i < n; i++) rows[i].local_ts = (int64_t)((uint64_t)rows[i].local_ts + (uint64_t)offset);
}

static inline int same_payload(const cf_event *x, const cf_event *y) {
    return x->ev == y->ev && (x->px == y->px || (isnan(x->px) && isnan(y->px))) && x->qty == y->qty;
}

cf_status cf_order_merge(const cf_event *rows, size_t n, const int64_t *by_exch, const int64_t *by_local,
                         cf_order_cursor *cursor, cf_event *out, size_t cap, size_t *n_out) {
    size_t e = cursor->exch, l = cursor->local, o = 0;
    cf_status st = CF_OK;
    while (e < n || l < n) {
        if (out && o == cap) {
            st = CF_ENOSPC;
            break;
        }
        const cf_event *x = NULL, *y = NULL;
        if (e < n) {
            if (CF_UNLIKELY((uint64_t)by_exch[e] >= n)) { st = CF_EINVAL; break; }
            x = &rows[by_exch[e]];
        }
        if (l < n) {
            if (CF_UNLIKELY((uint64_t)by_local[l] >= n)) { st = CF_EINVAL; break; }
            y = &rows[by_local[l]];
        }
        const cf_event *src;
        uint64_t flags;
        if (x && y) {
            if (x->exch_ts == y->exch_ts && x->local_ts == y->local_ts && same_payload(x, y)) {
                src = x;
                flags = CF_EVENT_EXCH | CF_EVENT_LOCAL;
                e++;
                l++;
            } else if (x->exch_ts < y->exch_ts || (x->exch_ts == y->exch_ts && x->local_ts <= y->local_ts)) {
                src = x;
                flags = CF_EVENT_EXCH;
                e++;
            } else {
                src = y;
                flags = CF_EVENT_LOCAL;
                l++;
            }
        } else if (y) {
            src = y;
            flags = CF_EVENT_LOCAL;
            l++;
        } else {
            src = x;
            flags = CF_EVENT_EXCH;
            e++;
        }
        if (out) {
            out[o] = *src;
            out[o].ev |= flags;
        }
        o++;
    }
    cursor->exch = e;
    cursor->local = l;
    *n_out = o;
    return st;
}

void cf_order_last_init(cf_order_last *last) {
    last->exch = INT64_MIN;
    last->local = INT64_MIN;
}

cf_status cf_order_validate(const cf_event *rows, size_t n, cf_order_last *last, size_t *bad, int *which) {
    int64_t last_exch = last->exch, last_local = last->local;
    cf_status st = CF_OK;
    for (size_t i = 0; i < n; i++) {
        uint64_t ev = rows[i].ev;
        if (ev & CF_EVENT_EXCH) {
            if (rows[i].exch_ts < last_exch) {
                *bad = i;
                *which = 1;
                st = CF_EINVAL;
                break;
            }
            last_exch = rows[i].exch_ts;
        }
        if (ev & CF_EVENT_LOCAL) {
            if (rows[i].local_ts < last_local) {
                *bad = i;
                *which = 2;
                st = CF_EINVAL;
                break;
            }
            last_local = rows[i].local_ts;
        }
    }
    last->exch = last_exch;
    last->local = last_local;
    return st;
}
