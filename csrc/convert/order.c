/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */
#include "convert/order.h"

#include <math.h>
#include <pthread.h>
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

/* Merge the sorted a[0..na) and a[na..na+nb) in place; S->tmp holds min(na, nb) entries. */
static void merge_adjacent(const sorter_t *S, int64_t *a, size_t na, size_t nb) {
    if (na == 0 || nb == 0) return;
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

static void merge_at(const sorter_t *S, run_t *runs, size_t *n_runs, size_t at) {
    int64_t *a = S->idx + runs[at].start;
    size_t na = runs[at].len, nb = runs[at + 1].len;
    runs[at].len = na + nb;
    if (at + 2 < *n_runs) runs[at + 1] = runs[at + 2];
    (*n_runs)--;
    merge_adjacent(S, a, na, nb);
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

/* The scans and the two-run merge compare whole blocks of keys; x86-64's baseline (SSE2) has no 64-bit
 * compare, AVX2 does four at once: those functions are built twice and the loader picks the one the CPU
 * runs (an ifunc: GCC on glibc; callgrind, one thread: 115M -> 60M instructions on the Tardis exch_ts
 * column, 71M -> 18M on the recording's). Not under ThreadSanitizer, whose runtime is not up yet when the
 * loader runs the pick. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define WIDE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define WIDE_CLONES
#endif

WIDE_CLONES static size_t skip_in_order(const int64_t *keys, size_t stride, int64_t *idx, size_t end, size_t m,
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

/* Sort idx[0..m) by key, stably; its entries ascend on entry (the identity from base, or a bucket's indices
 * in input order; with identity set they are written here, base + position). Runs grow by insertion from their end (after equal keys): to MIN_RUN whatever it costs, then for
 * as long as each key lands at most MAX_BACK places back. Timestamps jitter by a few places, so runs stay
 * long and the merges only touch their seams. S->tmp holds m / 2 + 1 entries. */
static inline void sort_runs_of(sorter_t *S, int64_t *idx, size_t m, int identity, size_t base) {
    S->idx = idx;
    run_t runs[MAX_PENDING];
    size_t n_runs = 0, start = 0;
    while (start < m) {
        size_t end = start + 1, next_skip = 0; /* next_skip: where to try a block skip again */
        if (identity) idx[start] = (int64_t)(base + start);
        int64_t last = KEY(S, idx[start]); /* the run's largest key: its last */
        for (; end < m; end++) {
            if (identity && end >= next_skip) {
                end = skip_in_order(S->keys, S->stride, idx - base, base + end, base + m, &last) - base;
                next_skip = end + IN_ORDER_BLOCK; /* a block out of order: key by key through it */
                if (end == m) break;
            }
            int64_t v;
            if (identity) idx[end] = v = (int64_t)(base + end); /* written as the scan reaches it: one pass */
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
static void sort_runs(sorter_t *S, int64_t *idx, size_t m) { sort_runs_of(S, idx, m, 0, 0); }

/* idx[0..m) is filled with base..base+m-1 as it goes (a whole array, or a thread's chunk of it). */
static void sort_runs_identity(sorter_t *S, int64_t *idx, size_t m, size_t base) { sort_runs_of(S, idx, m, 1, base); }

/* A bucket of at most MIN_RUN keys (most hold a few): a plain stable insertion sort of (key, index) pairs
 * held in registers' reach, with none of the runs' bookkeeping. */
static void sort_small(const sorter_t *S, int64_t *idx, size_t m) {
    int64_t k[MIN_RUN], v[MIN_RUN];
    for (size_t i = 0; i < m; i++) {
        int64_t key = KEY(S, idx[i]), at = idx[i];
        size_t j = i;
        for (; j > 0 && k[j - 1] > key; j--) {
            k[j] = k[j - 1];
            v[j] = v[j - 1];
        }
        k[j] = key;
        v[j] = at;
    }
    memcpy(idx, v, m * sizeof *idx);
}

/* A bucket's indices (ascending on entry) sorted by key. */
static void sort_bucket(sorter_t *S, int64_t *idx, size_t m) {
    if (m <= MIN_RUN) sort_small(S, idx, m);
    else sort_runs(S, idx, m);
}

/* Keys that jitter over many places (local times under a varying feed latency) go into buckets by their
 * top bits first: one counting pass and one stable scatter put every key within a few places of its end
 * position, then each bucket is sorted on its own. Only where the keys are spread: when a bucket would
 * hold more than 1/BUCKET_MAX_SHARE of them, the runs path sorts the whole. S->tmp holds the counts in its
 * first half and the bucket sorts' work area in its second. Returns 0 when it declined. */
/* How many buckets (a power of two, at most max_buckets) for n keys in [lo, hi], and the shift that takes
 * key - lo to its bucket. Callers have n >= BUCKET_MIN_N and max_buckets >= 2: two buckets or more, so the
 * shift stays below 64. */
static size_t bucket_layout(size_t n, size_t max_buckets, int64_t lo, int64_t hi, unsigned *shift) {
    size_t n_buckets = 1;
    while (n_buckets * 2 <= n / BUCKET_MEAN && n_buckets * 2 <= max_buckets) n_buckets *= 2;
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    unsigned s = 0;
    while ((range >> s) >= n_buckets) s++;
    *shift = s;
    return n_buckets;
}

#define BUCKET_OF(key, lo, shift) ((size_t)(((uint64_t)(key) - (uint64_t)(lo)) >> (shift)))

static int sort_buckets(sorter_t *S, size_t n, int64_t lo, int64_t hi) {
    size_t half = (n / 2 + 1) / 2;
    unsigned shift;
    size_t n_buckets = bucket_layout(n, half, lo, hi, &shift);
    size_t *pos = (size_t *)S->tmp; /* size_t fits in an int64_t slot */
    memset(pos, 0, n_buckets * sizeof *pos);
    for (size_t i = 0; i < n; i++) pos[BUCKET_OF(KEY(S, i), lo, shift)]++;
    size_t at = 0, biggest = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        size_t c = pos[b];
        biggest = c > biggest ? c : biggest;
        pos[b] = at;
        at += c;
    }
    if (biggest > n / BUCKET_MAX_SHARE) return 0;
    int64_t *out = S->idx;
    for (size_t i = 0; i < n; i++) out[pos[BUCKET_OF(KEY(S, i), lo, shift)]++] = (int64_t)i;
    /* pos[b] is now where bucket b ends. */
    sorter_t B = {S->keys, S->stride, out, S->tmp + half};
    size_t begin = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        size_t end = pos[b];
        if (end - begin > 1) sort_bucket(&B, out + begin, end - begin);
        begin = end;
    }
    return 1;
}

/* Whether the first keys jitter over many places (the bucket path's test): timestamps keep their character
 * through a file. */
static int disordered(const int64_t *keys, size_t stride, size_t n) {
    if (n < BUCKET_MIN_N) return 0;
    size_t sample = n < BUCKET_SAMPLE ? n : BUCKET_SAMPLE, descents = 0;
    for (size_t i = 1; i < sample; i++) descents += (size_t)(keys[i * stride] < keys[(i - 1) * stride]);
    return descents > sample / BUCKET_MIN_DISORDER;
}

/* First i in [from, n) with keys[i] < keys[i - 1], or n. */
WIDE_CLONES static size_t next_descent(const int64_t *keys, size_t stride, size_t from, size_t n) {
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

/* Of two sorted runs [0, b) and [b, n): how many keys of the first are no greater than the second's first,
 * and so already in place. */
static size_t in_place_prefix(const int64_t *keys, size_t stride, size_t b) {
    size_t lo = 0, hi = b;
    int64_t k = keys[b * stride];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid * stride] > k) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Parts [i, b) and [j, n) of two sorted runs (two concatenated files, each in time order) merged straight
 * into out[0..), index by index from the keys, with no index array to carry; ties take the first run's. */
WIDE_CLONES static void merge_two_runs(const int64_t *keys, size_t stride, size_t i, size_t b, size_t j, size_t n,
                           int64_t *out) {
    size_t o = 0, o_end = (b - i) + (n - j);
    while (i < b && j < n) {
        int64_t ki = keys[i * stride];
        /* The second run's keys below ki come first: they are a prefix, counted a window at a time without a
         * branch per key (one file is denser than the other: several per key of the other, unpredictably).
         * Where the window fits, all of it is written: the places past the prefix are written again next,
         * and a fixed count has no branch to mispredict. */
        size_t c;
        do {
            size_t w = n - j < MERGE_WINDOW ? n - j : MERGE_WINDOW;
            c = 0;
            for (size_t t = 0; t < w; t++) c += (size_t)(keys[(j + t) * stride] < ki);
            if (w == MERGE_WINDOW && o + MERGE_WINDOW <= o_end)
                for (size_t t = 0; t < MERGE_WINDOW; t++) out[o + t] = (int64_t)(j + t);
            else
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

static void argsort_one_thread(const int64_t *keys, size_t stride, size_t n, int64_t *out, int64_t *tmp) {
    /* In order, or two runs in order: no sort at all. The identity is written as the first run is read;
     * the scan for a second descent stops there, which for jittering keys comes within a few places. */
    int64_t first_last = keys[0];
    out[0] = 0;
    size_t first = skip_in_order(keys, stride, out, 1, n, &first_last);
    for (; first < n && keys[first * stride] >= keys[(first - 1) * stride]; first++) out[first] = (int64_t)first;
    if (first == n) return;
    if (next_descent(keys, stride, first + 1, n) == n) {
        /* The first run's keys up to the second's first are in place already. */
        size_t lo = in_place_prefix(keys, stride, first);
        merge_two_runs(keys, stride, lo, first, first, n, out + lo);
        return;
    }
    sorter_t S = {keys, stride, out, tmp + n};
    if (disordered(keys, stride, n)) {
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
        if (sort_buckets(&S, n, lo, hi)) return;
    }
    sort_runs_identity(&S, out, n, 0);
}

/* ---- threads ------------------------------------------------------------------------------------------ */

typedef enum { TEAM_RUNS, TEAM_BUCKETS } team_way;

typedef struct {
    size_t descent;  /* runs: the chunk's first descent, or its end */
    size_t second;   /* runs: the one after, or the end */
    int64_t lo, hi;  /* buckets: the chunk's smallest and largest key */
    size_t in_range; /* buckets: keys in this thread's range of buckets */
    size_t biggest;  /* buckets: the largest bucket in that range */
} part_t;

typedef struct {
    const int64_t *keys;
    size_t stride, n;
    int64_t *out, *tmp;
    unsigned n_threads;
    team_way way;
    pthread_barrier_t barrier;
    pthread_mutex_t gate_lock; /* the members wait at the gate until all are started, or are sent home */
    pthread_cond_t gate_open;
    int gate; /* 0 closed, 1 work, -1 home */
    part_t part[CF_ORDER_MAX_THREADS];
} team_t;

typedef struct {
    team_t *team;
    unsigned t;
} member_t;

/* Start of part t of [0, n) in `parts` nearly equal parts. */
static size_t split(size_t n, unsigned parts, unsigned t) {
    size_t rest = n % parts;
    return n / parts * t + (t < rest ? t : rest);
}

/* How many of the first p keys of the stable merge of runs [a, b) and [b, n) come from the first run
 * (co-ranking: ties take the first run's). */
static size_t co_rank(const int64_t *keys, size_t stride, size_t a, size_t b, size_t n, size_t p) {
    size_t na = b - a, nb = n - b;
    size_t lo = p > nb ? p - nb : 0, hi = p < na ? p : na;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, j = p - mid;
        /* The second run's j-th key taken before the first's mid-th must be below it, else the first
         * gives more. */
        if (j > 0 && keys[(b + j - 1) * stride] >= keys[(a + mid) * stride]) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Member t sorts its chunk in place, then chunks merge pairwise, a round at a time. Work areas: chunk t's at
 * tmp + n + start / 2 + t, m / 2 + 1 for its m keys, which a merge of the chunks from t on also fits. */
static void team_sort_chunks(team_t *T, unsigned t, const int64_t *keys, size_t stride) {
    unsigned nt = T->n_threads;
    size_t n = T->n, s = split(n, nt, t), e = split(n, nt, t + 1);
    sorter_t S = {keys, stride, T->out, T->tmp + n + s / 2 + t};
    sort_runs_identity(&S, T->out + s, e - s, s);
    for (unsigned w = 1; w < nt; w *= 2) {
        pthread_barrier_wait(&T->barrier);
        if (t % (2 * w) == 0 && t + w < nt) {
            size_t mid = split(n, nt, t + w), end = split(n, nt, t + 2 * w < nt ? t + 2 * w : nt);
            merge_adjacent(&S, T->out + s, mid - s, end - mid);
        }
    }
}

/* The runs way: each member looks for two descents in its chunk, and then all know whether the keys are in
 * order, two runs, or more. The output is written after that, once: each member its own share of it. */
static void team_runs(team_t *T, unsigned t) {
    const int64_t *keys = T->keys;
    unsigned nt = T->n_threads;
    size_t stride = T->stride, n = T->n, s = split(n, nt, t), e = split(n, nt, t + 1);
    int64_t *out = T->out;
    size_t d = next_descent(keys, stride, s + 1, e);
    T->part[t].descent = d;
    T->part[t].second = d < e ? next_descent(keys, stride, d + 1, e) : e;
    pthread_barrier_wait(&T->barrier);
    size_t descents = 0, at = n; /* every member counts the same, so all take the same way */
    for (unsigned u = 0; u < nt; u++) {
        size_t su = split(n, nt, u), eu = split(n, nt, u + 1);
        if (u > 0 && keys[su * stride] < keys[(su - 1) * stride]) {
            descents++;
            at = su;
        }
        if (T->part[u].descent < eu) {
            descents += T->part[u].second < eu ? 2 : 1;
            at = T->part[u].descent;
        }
    }
    if (descents > 1) {
        team_sort_chunks(T, t, keys, stride);
        return;
    }
    /* In order, or two runs [0, at) and [at, n) whose first lo keys are in place: the identity up to lo, the
     * rest merged straight from the keys (co-ranking finds where this member's share starts in each run). */
    size_t lo = descents ? in_place_prefix(keys, stride, at) : n;
    size_t end = e < lo ? e : lo;
    for (size_t i = s; i < end; i++) out[i] = (int64_t)i;
    if (e <= lo) return;
    size_t p0 = (s > lo ? s : lo) - lo, p1 = e - lo;
    size_t i0 = co_rank(keys, stride, lo, at, n, p0), i1 = co_rank(keys, stride, lo, at, n, p1);
    merge_two_runs(keys, stride, lo + i0, lo + i1, at + (p0 - i0), at + (p1 - i1), out + lo + p0);
}

/* First bucket that starts at or after position p, from where the buckets end. */
static size_t bucket_from(const size_t *ends, size_t n_buckets, size_t p) {
    if (p == 0) return 0;
    size_t lo = 0, hi = n_buckets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ends[mid] >= p) hi = mid;
        else lo = mid + 1;
    }
    return lo + 1;
}

/* The bucket way (sort_buckets, shared out). Counts: member t's at tmp + n + t * n_buckets (n / 2 in all);
 * bucket sorts' work areas after them. */
static void team_buckets(team_t *T, unsigned t) {
    const int64_t *keys = T->keys;
    unsigned nt = T->n_threads;
    size_t stride = T->stride, n = T->n, s = split(n, nt, t), e = split(n, nt, t + 1);
    int64_t lo = keys[s * stride], hi = lo;
    for (size_t i = s; i < e; i++) {
        int64_t k = keys[i * stride];
        if (stride > 1) T->tmp[i] = k; /* strided keys copied together, as argsort_one_thread does */
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    T->part[t].lo = lo;
    T->part[t].hi = hi;
    pthread_barrier_wait(&T->barrier);
    if (stride > 1) {
        keys = T->tmp;
        stride = 1;
    }
    for (unsigned u = 0; u < nt; u++) {
        lo = T->part[u].lo < lo ? T->part[u].lo : lo;
        hi = T->part[u].hi > hi ? T->part[u].hi : hi;
    }
    unsigned shift;
    size_t n_buckets = bucket_layout(n, n / 2 / nt, lo, hi, &shift);
    size_t *counts = (size_t *)(void *)(T->tmp + n), *mine = counts + t * n_buckets;
    memset(mine, 0, n_buckets * sizeof *mine);
    for (size_t i = s; i < e; i++) mine[BUCKET_OF(keys[i], lo, shift)]++;
    pthread_barrier_wait(&T->barrier);
    /* Positions: bucket by bucket, and within one, member by member (stable). Each member totals a range of
     * buckets; then, knowing the totals of the ranges before, turns its counts into positions. */
    size_t b0 = split(n_buckets, nt, t), b1 = split(n_buckets, nt, t + 1), in_range = 0, biggest = 0;
    for (size_t b = b0; b < b1; b++) {
        size_t c = 0;
        for (unsigned u = 0; u < nt; u++) c += counts[u * n_buckets + b];
        in_range += c;
        biggest = c > biggest ? c : biggest;
    }
    T->part[t].in_range = in_range;
    T->part[t].biggest = biggest;
    pthread_barrier_wait(&T->barrier);
    size_t at = 0;
    for (unsigned u = 0; u < nt; u++) {
        if (u < t) at += T->part[u].in_range;
        biggest = T->part[u].biggest > biggest ? T->part[u].biggest : biggest;
    }
    if (biggest > n / BUCKET_MAX_SHARE) { /* bunched keys: the runs way (the counts are free again) */
        team_sort_chunks(T, t, keys, stride);
        return;
    }
    for (size_t b = b0; b < b1; b++) {
        for (unsigned u = 0; u < nt; u++) {
            size_t c = counts[u * n_buckets + b];
            counts[u * n_buckets + b] = at;
            at += c;
        }
    }
    pthread_barrier_wait(&T->barrier);
    for (size_t i = s; i < e; i++) T->out[mine[BUCKET_OF(keys[i], lo, shift)]++] = (int64_t)i;
    pthread_barrier_wait(&T->barrier);
    /* The last member's counts are now where each bucket ends. Each member sorts the buckets that start in
     * its share of the output. */
    const size_t *ends = counts + (size_t)(nt - 1) * n_buckets;
    size_t first = bucket_from(ends, n_buckets, split(n, nt, t)), stop = bucket_from(ends, n_buckets, split(n, nt, t + 1));
    sorter_t B = {keys, stride, T->out, T->tmp + n + n / 2 + 1 + t * (n / BUCKET_MAX_SHARE / 2 + 2)};
    size_t begin = first ? ends[first - 1] : 0;
    for (size_t b = first; b < stop; b++) {
        size_t end = ends[b];
        if (end - begin > 1) sort_bucket(&B, T->out + begin, end - begin);
        begin = end;
    }
}

static void team_work(team_t *T, unsigned t) {
    if (T->way == TEAM_BUCKETS) team_buckets(T, t);
    else team_runs(T, t);
}

static void *team_member(void *arg) {
    const member_t *m = arg;
    team_t *T = m->team;
    pthread_mutex_lock(&T->gate_lock);
    while (T->gate == 0) pthread_cond_wait(&T->gate_open, &T->gate_lock);
    int work = T->gate > 0;
    pthread_mutex_unlock(&T->gate_lock);
    if (work) team_work(T, m->t);
    return NULL;
}

/* Runs the team, the caller as member 0. Returns 0, having done nothing, when not every thread started. */
static int run_team(team_t *T) {
    pthread_t ids[CF_ORDER_MAX_THREADS];
    member_t members[CF_ORDER_MAX_THREADS];
    if (pthread_barrier_init(&T->barrier, NULL, T->n_threads) != 0) return 0;
    pthread_mutex_init(&T->gate_lock, NULL);
    pthread_cond_init(&T->gate_open, NULL);
    T->gate = 0;
    unsigned started = 1;
    for (; started < T->n_threads; started++) {
        members[started] = (member_t){T, started};
        if (pthread_create(&ids[started], NULL, team_member, &members[started]) != 0) break;
    }
    int all = started == T->n_threads;
    pthread_mutex_lock(&T->gate_lock);
    T->gate = all ? 1 : -1;
    pthread_cond_broadcast(&T->gate_open);
    pthread_mutex_unlock(&T->gate_lock);
    if (all) team_work(T, 0);
    for (unsigned u = 1; u < started; u++) pthread_join(ids[u], NULL);
    pthread_cond_destroy(&T->gate_open);
    pthread_mutex_destroy(&T->gate_lock);
    pthread_barrier_destroy(&T->barrier);
    return all;
}

cf_status cf_order_argsort(const int64_t *keys, size_t stride, size_t n, int64_t *out, int64_t *tmp,
                           unsigned threads) {
    if (n == 0) return CF_OK;
    if (!keys || !out || !tmp || stride == 0) return CF_EINVAL;
    unsigned nt = threads < CF_ORDER_MAX_THREADS ? threads : CF_ORDER_MAX_THREADS;
    nt = n < nt ? (unsigned)n : nt;
    if (nt > 1) {
        team_t T = {.keys = keys, .stride = stride, .n = n, .out = out, .tmp = tmp, .n_threads = nt,
                    .way = disordered(keys, stride, n) ? TEAM_BUCKETS : TEAM_RUNS};
        if (run_team(&T)) return CF_OK;
    }
    argsort_one_thread(keys, stride, n, out, tmp);
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
