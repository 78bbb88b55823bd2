/* SPDX-License-Identifier: MIT */
#include "convert/order.h"

#include <math.h>
#include <string.h>

#define MAX_PENDING 128 /* run stack: the rule below keeps it under log_phi(n) runs */
#define MIN_RUN 32
#define MAX_BACK 16
#define BUCKET_MIN_N 4096       /* fewer keys: the runs path alone */
#define BUCKET_SAMPLE 65536     /* keys looked at to choose */
#define BUCKET_MIN_DISORDER 32  /* buckets when more than one key in this many is below the one before */
#define BUCKET_MEAN 4           /* keys per bucket, on average */
#define BUCKET_MAX_SHARE 64     /* no bucket may hold more than this share of the keys */

typedef struct {
    size_t start;
    size_t len;
} run_t;

typedef struct {
    const int64_t *keys;
    size_t stride;
    int64_t *idx; /* the permutation being sorted */
    int64_t *tmp; /* at least n / 2 + 1 entries, for merges */
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

/* With identity: the keys from end on that are in order (from last up) in whole blocks of IN_ORDER_BLOCK, their
 * indices written; returns the new end and updates *last. The block test has no branch per key, so it
 * vectorizes: for long sorted stretches the pass costs about what reading the keys and writing the indices
 * do. */
#define IN_ORDER_BLOCK 64
#define MERGE_WINDOW 16
static inline size_t skip_in_order(const int64_t *keys, size_t stride, int64_t *idx, size_t end, size_t m,
                                   int64_t *last) {
    int64_t prev = *last;
    while (end + IN_ORDER_BLOCK <= m) {
        const int64_t *k = keys + end * stride;
        int descents = k[0] < prev;
        for (size_t j = 1; j < IN_ORDER_BLOCK; j++) descents |= k[j * stride] < k[(j - 1) * stride];
        if (descents) break;
        for (size_t j = 0; j < IN_ORDER_BLOCK; j++) idx[end + j] = (int64_t)(end + j);
        prev = k[(IN_ORDER_BLOCK - 1) * stride];
        end += IN_ORDER_BLOCK;
    }
    *last = prev;
    return end;
}

/* Sort idx[0..m) by key, stably; its entries ascend on entry (the identity, or a bucket's indices in input
 * order; with identity set they are written here). Runs grow by insertion from their end (after equal keys): to MIN_RUN whatever it costs, then for
 * as long as each key lands at most MAX_BACK places back. Timestamps jitter by a few places, so runs stay
 * long and the merges only touch their seams. S->tmp holds m / 2 + 1 entries. */
static inline void sort_runs_of(sorter_t *S, int64_t *idx, size_t m, int identity) {
    S->idx = idx;
    run_t runs[MAX_PENDING];
    size_t n_runs = 0, start = 0;
    while (start < m) {
        size_t end = start + 1, next_skip = 0; /* next_skip: where to try a block skip again */
        if (identity) idx[start] = (int64_t)start;
        int64_t last = KEY(S, idx[start]); /* the run's largest key: its last */
        for (; end < m; end++) {
            if (identity && end >= next_skip) {
                end = skip_in_order(S->keys, S->stride, idx, end, m, &last);
                next_skip = end + IN_ORDER_BLOCK; /* a block out of order: key by key through it */
                if (end == m) break;
            }
            int64_t v;
            if (identity) idx[end] = v = (int64_t)end; /* written as the scan reaches it: one pass */
            else v = idx[end];
            int64_t k = KEY(S, v);
            if (k >= last) { /* in order: already in place */
                last = k;
                continue;
            }
            size_t at = end - 1, floor = end - start > MAX_BACK ? end - MAX_BACK : start;
            while (at > floor && KEY(S, idx[at - 1]) > k) at--;
            if (at == floor && at > start && KEY(S, idx[at - 1]) > k) {
                if (end - start >= MIN_RUN) break; /* lands too far back: a new run starts here */
                while (at > start && KEY(S, idx[at - 1]) > k) at--;
            }
            memmove(idx + at + 1, idx + at, (end - at) * sizeof *idx);
            idx[at] = v;
        }
        runs[n_runs].start = start;
        runs[n_runs].len = end - start;
        n_runs++;
        collapse(S, runs, &n_runs);
        start = end;
    }
    while (n_runs > 1) {
        size_t m2 = n_runs - 2;
        if (m2 > 0 && runs[m2 - 1].len < runs[m2 + 1].len) m2--;
        merge_at(S, runs, &n_runs, m2);
    }
}

/* idx[0..m) holds ascending indices. */
static void sort_runs(sorter_t *S, int64_t *idx, size_t m) { sort_runs_of(S, idx, m, 0); }

/* idx[0..m) is filled with 0..m-1 as it goes (the whole-array sort). */
static void sort_runs_identity(sorter_t *S, int64_t *idx, size_t m) { sort_runs_of(S, idx, m, 1); }

/* Keys that jitter over many places (local times under a varying feed latency) go into buckets by their
 * top bits first: one counting pass and one stable scatter put every key within a few places of its end
 * position, then each bucket is sorted on its own. Only where the keys are spread: when a bucket would
 * hold more than 1/BUCKET_MAX_SHARE of them, the runs path sorts the whole. S->tmp holds the counts in its
 * first half and the bucket sorts' work area in its second. Returns 0 when it declined. */
static int sort_buckets(sorter_t *S, size_t n, int64_t lo, int64_t hi) {
    size_t half = (n / 2 + 1) / 2, n_buckets = 1;
    while (n_buckets * 2 <= n / BUCKET_MEAN && n_buckets * 2 <= half) n_buckets *= 2;
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    unsigned shift = 0;
    while ((range >> shift) >= n_buckets) shift++;
    size_t *pos = (size_t *)S->tmp; /* size_t fits in an int64_t slot */
    memset(pos, 0, n_buckets * sizeof *pos);
    for (size_t i = 0; i < n; i++) pos[((uint64_t)KEY(S, i) - (uint64_t)lo) >> shift]++;
    size_t at = 0, biggest = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        size_t c = pos[b];
        biggest = c > biggest ? c : biggest;
        pos[b] = at;
        at += c;
    }
    if (biggest > n / BUCKET_MAX_SHARE) return 0;
    int64_t *out = S->idx;
    for (size_t i = 0; i < n; i++) out[pos[((uint64_t)KEY(S, i) - (uint64_t)lo) >> shift]++] = (int64_t)i;
    /* pos[b] is now where bucket b ends. */
    sorter_t B = {S->keys, S->stride, out, S->tmp + half};
    size_t begin = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        size_t end = pos[b];
        if (end - begin > 1) sort_runs(&B, out + begin, end - begin);
        begin = end;
    }
    return 1;
}

/* First i in [from, n) with keys[i] < keys[i - 1], or n. */
static size_t next_descent(const int64_t *keys, size_t stride, size_t from, size_t n) {
    size_t i = from;
    while (i + IN_ORDER_BLOCK <= n) { /* whole blocks without a branch per key, then find it */
        int descents = 0;
        for (size_t j = 0; j < IN_ORDER_BLOCK; j++) descents |= keys[(i + j) * stride] < keys[(i + j - 1) * stride];
        if (descents) break;
        i += IN_ORDER_BLOCK;
    }
    for (; i < n; i++)
        if (keys[i * stride] < keys[(i - 1) * stride]) return i;
    return n;
}

/* Two sorted runs, [0, b) and [b, n) (two concatenated files, each in time order), out[0..i) already holding
 * the identity: merged straight into out from i on, index by index from the keys, with no index array to
 * carry; ties take the first run's. */
static void merge_two_runs(const int64_t *keys, size_t stride, size_t i, size_t b, size_t n, int64_t *out) {
    size_t j = b, o = i;
    while (i < b && j < n) {
        int64_t ki = keys[i * stride];
        /* The second run's keys below ki come first: they are a prefix, counted a window at a time without a
         * branch per key (one file is denser than the other: several per key of the other, unpredictably). */
        size_t c;
        do {
            size_t w = n - j < MERGE_WINDOW ? n - j : MERGE_WINDOW;
            c = 0;
            for (size_t t = 0; t < w; t++) c += (size_t)(keys[(j + t) * stride] < ki);
            for (size_t t = 0; t < c; t++) out[o + t] = (int64_t)(j + t);
            o += c;
            j += c;
        } while (c == MERGE_WINDOW);
        if (j == n) break;
        int64_t kj = keys[j * stride]; /* >= ki: the first run's keys up to it, ties included, go first */
        do out[o++] = (int64_t)i++;
        while (i < b && keys[i * stride] <= kj);
    }
    for (; i < b; i++) out[o++] = (int64_t)i;
    for (; j < n; j++) out[o++] = (int64_t)j;
}

cf_status cf_order_argsort(const int64_t *keys, size_t stride, size_t n, int64_t *out, int64_t *tmp) {
    if (n == 0) return CF_OK;
    if (!keys || !out || !tmp || stride == 0) return CF_EINVAL;
    /* In order, or two runs in order: no sort at all. The identity is written as the first run is read;
     * the scan for a second descent stops there, which for jittering keys comes within a few places. */
    int64_t first_last = keys[0];
    out[0] = 0;
    size_t first = skip_in_order(keys, stride, out, 1, n, &first_last);
    for (; first < n && keys[first * stride] >= keys[(first - 1) * stride]; first++) out[first] = (int64_t)first;
    if (first == n) return CF_OK;
    if (next_descent(keys, stride, first + 1, n) == n) {
        /* The first run's keys up to the second's first are in place already. */
        size_t lo = 0, hi = first;
        int64_t k = keys[first * stride];
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (keys[mid * stride] > k) hi = mid;
            else lo = mid + 1;
        }
        merge_two_runs(keys, stride, lo, first, n, out);
        return CF_OK;
    }
    sorter_t S = {keys, stride, out, tmp + n};
    if (n >= BUCKET_MIN_N) {
        /* How disordered are the first keys? Timestamps keep their character through a file. */
        size_t sample = n < BUCKET_SAMPLE ? n : BUCKET_SAMPLE, descents = 0;
        for (size_t i = 1; i < sample; i++) descents += (size_t)(KEY(&S, i) < KEY(&S, i - 1));
        if (descents > sample / BUCKET_MIN_DISORDER) {
            /* Three passes read the keys from here on: strided ones (a field of each row) are copied
             * together first, which reads each row once instead of three times. */
            int64_t lo = KEY(&S, 0), hi = lo;
            for (size_t i = 0; i < n; i++) {
                int64_t k = KEY(&S, i);
                if (stride > 1) tmp[i] = k;
                lo = k < lo ? k : lo;
                hi = k > hi ? k : hi;
            }
            if (stride > 1) {
                S.keys = tmp;
                S.stride = 1;
            }
            if (sort_buckets(&S, n, lo, hi)) return CF_OK;
        }
    }
    sort_runs_identity(&S, out, n);
    return CF_OK;
}

int cf_order_is_sorted(const int64_t *keys, size_t stride, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (keys[i * stride] < keys[(i - 1) * stride]) return 0;
    return 1;
}

#define ROW(rows, size, i) ((const cf_row *)(const void *)((const char *)(rows) + (size_t)(i) * (size)))

int64_t cf_order_local_offset(const void *rows, size_t row_size, size_t n, int64_t base_latency) {
    int64_t latency = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const cf_row *r = ROW(rows, row_size, i);
        int64_t d = (int64_t)((uint64_t)r->local_ts - (uint64_t)r->exch_ts);
        latency = d < latency ? d : latency;
    }
    if (latency >= 0) return 0;
    return (int64_t)((uint64_t)base_latency - (uint64_t)latency);
}

void cf_order_shift_local(void *rows, size_t row_size, size_t n, int64_t offset) {
    if (offset == 0) return;
    for (size_t i = 0; i < n; i++) {
        cf_row *r = (cf_row *)(void *)((char *)rows + i * row_size);
        r->local_ts = (int64_t)((uint64_t)r->local_ts + (uint64_t)offset);
    }
}

static inline int same_payload(const cf_row *x, const cf_row *y) {
    return x->ev == y->ev && (x->px == y->px || (isnan(x->px) && isnan(y->px))) && x->qty == y->qty;
}

cf_status cf_order_merge(const void *rows, size_t row_size, size_t n, const int64_t *by_exch,
                         const int64_t *by_local, cf_order_cursor *cursor, cf_event *out, size_t cap, size_t *n_out) {
    size_t e = cursor->exch, l = cursor->local, o = 0;
    int full = row_size == sizeof(cf_event);
    cf_status st = CF_OK;
    while (e < n || l < n) {
        if (out && o == cap) {
            st = CF_ENOSPC;
            break;
        }
        const cf_row *x = NULL, *y = NULL;
        if (e < n) {
            size_t at = by_exch ? (size_t)by_exch[e] : e;
            if (CF_UNLIKELY(at >= n)) { st = CF_EINVAL; break; }
            x = ROW(rows, row_size, at);
        }
        if (l < n) {
            size_t at = by_local ? (size_t)by_local[l] : l;
            if (CF_UNLIKELY(at >= n)) { st = CF_EINVAL; break; }
            y = ROW(rows, row_size, at);
        }
        const cf_row *src;
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
            if (full) {
                out[o] = *(const cf_event *)(const void *)src;
            } else {
                out[o] = cf_event_make(src->ev, src->exch_ts, src->local_ts, src->px, src->qty);
            }
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
