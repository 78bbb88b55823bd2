/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* pthreads under -std=c11 */
#include "convert/order.h"

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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
 * in input order; with identity set they are written here, base + position). Runs grow by insertion from
 * their end (after equal keys): to MIN_RUN whatever it costs, then for as long as each key lands at most
 * MAX_BACK places back. Timestamps jitter by a few places, so runs stay
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
static void sort_runs_identity(sorter_t *S, int64_t *idx, size_t m, size_t base) {
    sort_runs_of(S, idx, m, 1, base);
}

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

/* The smallest and largest of keys [s, e) (e > s); strided keys (a field of each row) are also copied to
 * copy[s..e), together, so the passes after this one read each row once instead of three times. */
static void key_range(const int64_t *keys, size_t stride, size_t s, size_t e, int64_t *copy, int64_t *lo_out,
                      int64_t *hi_out) {
    int64_t lo = keys[s * stride], hi = lo;
    for (size_t i = s; i < e; i++) {
        int64_t k = keys[i * stride];
        if (stride > 1) copy[i] = k;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    *lo_out = lo;
    *hi_out = hi;
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
        /* Three passes read the keys from here on (strided ones from their copy). */
        int64_t lo, hi;
        key_range(keys, stride, 0, n, tmp, &lo, &hi);
        if (stride > 1) {
            S.keys = tmp;
            S.stride = 1;
        }
        if (sort_buckets(&S, n, lo, hi)) return;
    }
    sort_runs_identity(&S, out, n, 0);
}

/* ---- threads ------------------------------------------------------------------------------------------ */

/* The work goes in phases of tasks, one task per chunk (or per pair of chunks, or per range of buckets, or
 * per scan piece); any member takes any task not yet taken (helpers from the front of the phase's list, the
 * caller from its back), and the member that completes a phase's last task decides the next phase. A member
 * the scheduler starts late (another process on its core) so only ever finds less to do: the caller never
 * waits for a helper to arrive, only for tasks taken to be done, and it returns as soon as the last phase is
 * complete. Helpers are detached; the team is freed by whoever leaves it last. */

enum {
    R_SCAN,      /* runs way: each scan piece's first two descents, and the identity piece by piece (keys in
                  * order, a recording's receive times: the whole answer) */
    R_WRITE,     /* in order or two runs: each chunk's share of the output, identity or merge */
    R_SORT,      /* more runs (or bunched buckets): each chunk sorted in place */
    B_RANGE,     /* bucket way: each chunk's key range (strided keys copied together) */
    B_COUNT,     /* each chunk's bucket counts */
    B_TOTAL,     /* each range of buckets: its keys and its largest bucket */
    B_PLACE,     /* each range of buckets: counts turned into positions */
    B_SCATTER,   /* each chunk's indices into their buckets */
    B_SORT,      /* the buckets that start in each chunk's share of the output */
    R_MERGE,     /* R_MERGE + r: chunk pairs 2^r apart merged (rounds up to log2(CF_ORDER_MAX_THREADS)) */
    PHASES = R_MERGE + 5,
    PHASE_END = PHASES
};

/* The runs way's scan goes in finer pieces than the chunks, so that the members share it evenly while the
 * caller writes the identity beside it. */
#define SCAN_PIECES_PER_CHUNK 8
#define MAX_SCAN_PIECES (CF_ORDER_MAX_THREADS * SCAN_PIECES_PER_CHUNK)

typedef struct {
    size_t descent; /* the piece's first descent, or its end */
    size_t second;  /* the one after, or the end */
} scan_t;

typedef struct {
    int64_t lo, hi;    /* buckets: the chunk's smallest and largest key */
    size_t in_range;   /* buckets: keys in this range of buckets */
    size_t biggest;    /* buckets: the largest bucket in that range */
    size_t place_from; /* buckets: where this range of buckets starts in the output */
} part_t;

typedef struct {
    const int64_t *keys;
    size_t stride, n;
    int64_t *out, *tmp;
    unsigned n_chunks;
    /* Decided by the member that completes a phase, read after it. */
    const int64_t *sort_keys; /* the keys sorted from (a copy, for strided keys in the bucket way) */
    size_t sort_stride;
    size_t at, lo;            /* runs: the second run's start, and the first's keys in place (n: in order) */
    int64_t key_lo;           /* buckets: the smallest key, and the shift that maps keys to buckets */
    unsigned shift;
    size_t n_buckets;
    part_t part[CF_ORDER_MAX_THREADS];
    scan_t scan[MAX_SCAN_PIECES];
    atomic_int descended;        /* R_SCAN: a descent was found, so the identity is not the answer */
    atomic_uint identity_pieces; /* R_SCAN: identity pieces written */
    /* A phase's tasks not yet taken, [front, back) packed as front << 32 | back. In R_SCAN the scan pieces
     * come first and the identity pieces last, so the caller writes the fresh output alone while helpers read
     * the keys: two threads that fault in the same memory at once contend in the kernel (in order, 5.5 ->
     * 4.2-4.9 ms for 5.7M keys on two cores). */
    _Atomic uint64_t untaken[PHASES];
    atomic_uint done_tasks[PHASES];
    atomic_uint members; /* still in the team: the last one out frees it */
    pthread_mutex_t lock;
    pthread_cond_t advanced;
    unsigned phase, tasks; /* under lock */
} team_t;

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

static unsigned scan_pieces(const team_t *T) { return T->n_chunks * SCAN_PIECES_PER_CHUNK; }

static unsigned tasks_in(const team_t *T, unsigned phase) {
    if (phase >= R_MERGE && phase < PHASE_END) { /* pairs (c, c + w) with c a multiple of 2w */
        unsigned w = 1u << (phase - R_MERGE);
        return w < T->n_chunks ? (T->n_chunks - w - 1) / (2 * w) + 1 : 0;
    }
    if (phase == R_SCAN) return 2 * scan_pieces(T); /* scan pieces, then identity pieces */
    return phase == PHASE_END ? 0 : T->n_chunks;
}

/* Takes a task of the phase (`tasks` in all) from the front or the back; tasks when none is left. */
static unsigned take_task(team_t *T, unsigned phase, unsigned tasks, int from_back) {
    uint64_t was = atomic_load(&T->untaken[phase]);
    for (;;) {
        uint64_t front = was >> 32, back = was & 0xffffffffu;
        if (front >= back) return tasks;
        uint64_t now = from_back ? (front << 32 | (back - 1)) : ((front + 1) << 32 | back);
        if (atomic_compare_exchange_weak(&T->untaken[phase], &was, now))
            return (unsigned)(from_back ? back - 1 : front);
    }
}

/* Opens a phase's tasks to be taken: before the phase is announced. */
static void open_phase(team_t *T, unsigned phase) {
    if (phase < PHASES) atomic_store(&T->untaken[phase], (uint64_t)tasks_in(T, phase));
}

/* Bucket counts: chunk c's at tmp + n + c * n_buckets (n / 2 entries in all). */
static size_t *bucket_counts(const team_t *T, unsigned c) {
    return (size_t *)(void *)(T->tmp + T->n) + (size_t)c * T->n_buckets;
}

static void team_task(team_t *T, unsigned phase, unsigned c, int caller) {
    const int64_t *keys = T->keys;
    unsigned K = T->n_chunks;
    size_t stride = T->stride, n = T->n, s = split(n, K, c), e = split(n, K, c + 1);
    int64_t *out = T->out;
    switch (phase) {
    case R_SCAN: { /* c: scan piece c, or from `pieces` on, identity piece 2 * pieces - 1 - c (the caller,
                    * taking tasks from the back, writes the output from its start) */
        unsigned pieces = scan_pieces(T);
        if (c >= pieces) {
            unsigned piece = 2 * pieces - 1 - c;
            s = split(n, pieces, piece);
            e = split(n, pieces, piece + 1);
            /* Not the answer once a descent is found; the caller still writes it, taking the faults the next
             * phase would take while the helpers read on (two runs: all the keys). */
            if (!caller && atomic_load_explicit(&T->descended, memory_order_relaxed)) break;
            for (size_t i = s; i < e; i++) out[i] = (int64_t)i;
            atomic_fetch_add(&T->identity_pieces, 1);
            break;
        }
        scan_t *piece = &T->scan[c];
        s = split(n, pieces, c);
        e = split(n, pieces, c + 1);
        /* From its first key, against the one before it: a descent at the seam is the piece's. */
        piece->descent = next_descent(keys, stride, s > 0 ? s : 1, e);
        piece->second = piece->descent < e ? next_descent(keys, stride, piece->descent + 1, e) : e;
        if (piece->descent < e) atomic_store_explicit(&T->descended, 1, memory_order_relaxed);
        break;
    }
    case R_WRITE: { /* the identity up to lo, the rest merged straight from the keys: co-ranking finds where
                     * this share starts in each run */
        size_t lo = T->lo, at = T->at, end = e < lo ? e : lo;
        for (size_t i = s; i < end; i++) out[i] = (int64_t)i;
        if (e <= lo) break;
        size_t p0 = (s > lo ? s : lo) - lo, p1 = e - lo;
        size_t i0 = co_rank(keys, stride, lo, at, n, p0), i1 = co_rank(keys, stride, lo, at, n, p1);
        merge_two_runs(keys, stride, lo + i0, lo + i1, at + (p0 - i0), at + (p1 - i1), out + lo + p0);
        break;
    }
    case R_SORT: { /* work area: tmp + n + s / 2 + c, m / 2 + 1 for its m keys, which the merges from c fit */
        sorter_t S = {T->sort_keys, T->sort_stride, out, T->tmp + n + s / 2 + c};
        sort_runs_identity(&S, out + s, e - s, s);
        break;
    }
    case B_RANGE:
        key_range(keys, stride, s, e, T->tmp, &T->part[c].lo, &T->part[c].hi);
        break;
    case B_COUNT: {
        size_t *counts = bucket_counts(T, c);
        const int64_t *k = T->sort_keys;
        memset(counts, 0, T->n_buckets * sizeof *counts);
        for (size_t i = s; i < e; i++) counts[BUCKET_OF(k[i], T->key_lo, T->shift)]++;
        break;
    }
    case B_TOTAL:
    case B_PLACE: { /* positions: bucket by bucket, and within one, chunk by chunk (stable) */
        size_t nb = T->n_buckets, b0 = split(nb, K, c), b1 = split(nb, K, c + 1), *counts = bucket_counts(T, 0);
        part_t *part = &T->part[c];
        size_t in_range = 0, biggest = 0, at = part->place_from;
        for (size_t b = b0; b < b1; b++) {
            size_t total = 0;
            for (unsigned u = 0; u < K; u++) {
                size_t here = counts[u * nb + b];
                if (phase == B_PLACE) counts[u * nb + b] = at + total;
                total += here;
            }
            at += total;
            in_range += total;
            biggest = total > biggest ? total : biggest;
        }
        part->in_range = in_range;
        part->biggest = biggest;
        break;
    }
    case B_SCATTER: {
        size_t *place = bucket_counts(T, c);
        const int64_t *k = T->sort_keys;
        for (size_t i = s; i < e; i++) out[place[BUCKET_OF(k[i], T->key_lo, T->shift)]++] = (int64_t)i;
        break;
    }
    case B_SORT: { /* the last chunk's places are now where each bucket ends */
        const size_t *ends = bucket_counts(T, K - 1);
        size_t nb = T->n_buckets, first = bucket_from(ends, nb, s), stop = bucket_from(ends, nb, e);
        sorter_t B = {T->sort_keys, T->sort_stride, out, T->tmp + n + n / 2 + 1 + c * (n / BUCKET_MAX_SHARE / 2 + 2)};
        size_t begin = first ? ends[first - 1] : 0;
        for (size_t b = first; b < stop; b++) {
            size_t end = ends[b];
            if (end - begin > 1) sort_bucket(&B, out + begin, end - begin);
            begin = end;
        }
        break;
    }
    default: { /* R_MERGE + r: task c is the pair of chunk groups from 2wc and from 2wc + w */
        unsigned w = 1u << (phase - R_MERGE), t = 2 * w * c;
        size_t from = split(n, K, t), mid = split(n, K, t + w), end = split(n, K, t + 2 * w < K ? t + 2 * w : K);
        sorter_t S = {T->sort_keys, T->sort_stride, out, T->tmp + n + from / 2 + t};
        merge_adjacent(&S, out + from, mid - from, end - mid);
        break;
    }
    }
}

/* Run by the member that completed the phase's last task: what comes next. */
static unsigned team_phase_done(team_t *T, unsigned phase) {
    const int64_t *keys = T->keys;
    unsigned K = T->n_chunks;
    size_t stride = T->stride, n = T->n;
    switch (phase) {
    case R_SCAN: {
        size_t descents = 0, at = n;
        unsigned pieces = scan_pieces(T);
        for (unsigned c = 0; c < pieces; c++) {
            size_t e = split(n, pieces, c + 1); /* pieces are empty when n < pieces */
            if (T->scan[c].descent < e) {
                descents += T->scan[c].second < e ? 2 : 1;
                at = T->scan[c].descent;
            }
        }
        if (descents == 0 && atomic_load(&T->identity_pieces) == pieces) return PHASE_END; /* written */
        if (descents > 1) return R_SORT;
        T->at = at;
        T->lo = descents ? in_place_prefix(keys, stride, at) : n;
        return R_WRITE;
    }
    case R_SORT:
    case R_MERGE:
    case R_MERGE + 1:
    case R_MERGE + 2:
    case R_MERGE + 3: {
        unsigned next = phase == R_SORT ? R_MERGE : phase + 1;
        return next < PHASE_END && tasks_in(T, next) ? next : PHASE_END;
    }
    case B_RANGE: {
        int64_t lo = T->part[0].lo, hi = T->part[0].hi;
        for (unsigned c = 1; c < K; c++) {
            lo = T->part[c].lo < lo ? T->part[c].lo : lo;
            hi = T->part[c].hi > hi ? T->part[c].hi : hi;
        }
        if (stride > 1) {
            T->sort_keys = T->tmp;
            T->sort_stride = 1;
        }
        T->key_lo = lo;
        T->n_buckets = bucket_layout(n, n / 2 / K, lo, hi, &T->shift);
        return B_COUNT;
    }
    case B_COUNT:
        return B_TOTAL;
    case B_TOTAL: {
        size_t at = 0, biggest = 0;
        for (unsigned c = 0; c < K; c++) {
            T->part[c].place_from = at;
            at += T->part[c].in_range;
            biggest = T->part[c].biggest > biggest ? T->part[c].biggest : biggest;
        }
        /* Bunched keys: the runs way sorts them (the counts' room is free again). */
        return biggest > n / BUCKET_MAX_SHARE ? R_SORT : B_PLACE;
    }
    case B_PLACE:
        return B_SCATTER;
    case B_SCATTER:
        return B_SORT;
    default:
        return PHASE_END;
    }
}

static void team_leave(team_t *T) {
    if (atomic_fetch_sub(&T->members, 1) != 1) return;
    pthread_cond_destroy(&T->advanced);
    pthread_mutex_destroy(&T->lock);
    free(T);
}

/* Take tasks until the last phase is complete. The counts' read-modify-writes make one release sequence, so
 * the member that completes a phase sees every task's writes; the others see its decisions through the lock. */
static void team_work(team_t *T, int caller) {
    pthread_mutex_lock(&T->lock);
    unsigned phase = T->phase, tasks = T->tasks;
    pthread_mutex_unlock(&T->lock);
    while (phase != PHASE_END) {
        for (unsigned c; (c = take_task(T, phase, tasks, caller)) < tasks;) {
            team_task(T, phase, c, caller);
            if (atomic_fetch_add(&T->done_tasks[phase], 1) + 1 == tasks) {
                unsigned next = team_phase_done(T, phase);
                open_phase(T, next);
                pthread_mutex_lock(&T->lock);
                T->phase = next;
                T->tasks = tasks_in(T, next);
                pthread_cond_broadcast(&T->advanced);
                pthread_mutex_unlock(&T->lock);
            }
        }
        pthread_mutex_lock(&T->lock);
        while (T->phase == phase) pthread_cond_wait(&T->advanced, &T->lock);
        phase = T->phase;
        tasks = T->tasks;
        pthread_mutex_unlock(&T->lock);
    }
}

static void *team_helper(void *arg) {
    team_t *T = arg;
    team_work(T, 0);
    team_leave(T);
    return NULL;
}

/* Runs the team, the caller as one member; returns 0, having done nothing, when it could not be set up. */
static int run_team(const int64_t *keys, size_t stride, size_t n, int64_t *out, int64_t *tmp, unsigned nt) {
    team_t *T = calloc(1, sizeof *T);
    if (!T) return 0;
    pthread_attr_t detached;
    if (pthread_attr_init(&detached) != 0) {
        free(T);
        return 0;
    }
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    T->keys = T->sort_keys = keys;
    T->stride = T->sort_stride = stride;
    T->n = n;
    T->out = out;
    T->tmp = tmp;
    T->n_chunks = nt;
    T->phase = disordered(keys, stride, n) ? B_RANGE : R_SCAN;
    T->tasks = tasks_in(T, T->phase);
    for (unsigned p = 0; p < PHASES; p++) {
        atomic_init(&T->untaken[p], 0);
        atomic_init(&T->done_tasks[p], 0);
    }
    atomic_init(&T->descended, 0);
    atomic_init(&T->identity_pieces, 0);
    open_phase(T, T->phase);
    atomic_init(&T->members, nt);
    pthread_mutex_init(&T->lock, NULL);
    pthread_cond_init(&T->advanced, NULL);
    unsigned missing = 0; /* helpers that did not start: the others do their part */
    for (unsigned h = 1; h < nt; h++) {
        pthread_t id;
        if (pthread_create(&id, &detached, team_helper, T) != 0) missing++;
    }
    pthread_attr_destroy(&detached);
    if (missing) atomic_fetch_sub(&T->members, missing);
    team_work(T, 1);
    team_leave(T);
    return 1;
}

cf_status cf_order_argsort(const int64_t *keys, size_t stride, size_t n, int64_t *out, int64_t *tmp,
                           unsigned threads) {
    if (n == 0) return CF_OK;
    if (!keys || !out || !tmp || stride == 0) return CF_EINVAL;
    unsigned nt = threads < CF_ORDER_MAX_THREADS ? threads : CF_ORDER_MAX_THREADS;
    nt = n < nt ? (unsigned)n : nt;
    if (nt > 1 && run_team(keys, stride, n, out, tmp, nt)) return CF_OK;
    argsort_one_thread(keys, stride, n, out, tmp);
    return CF_OK;
}

int cf_order_is_sorted(const int64_t *keys, size_t stride, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (keys[i * stride] < keys[(i - 1) * stride]) return 0;
    return 1;
}

int64_t cf_order_local_offset(const int64_t *exch_ts, const int64_t *local_ts, size_t stride, size_t n,
                              int64_t base_latency) {
    int64_t latency = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        int64_t d = (int64_t)((uint64_t)local_ts[i * stride] - (uint64_t)exch_ts[i * stride]);
        latency = d < latency ? d : latency;
    }
    if (latency >= 0) return 0;
    return (int64_t)((uint64_t)base_latency - (uint64_t)latency);
}

void cf_order_shift_local(int64_t *local_ts, size_t stride, size_t n, int64_t offset) {
    if (offset == 0) return;
    for (size_t i = 0; i < n; i++)
        local_ts[i * stride] = (int64_t)((uint64_t)local_ts[i * stride] + (uint64_t)offset);
}

/* validate_event_order's rule for one row of the given flags and times, after the last times seen: 0 and the
 * last times moved on, or 1 (exchange) / 2 (local) for the side it breaks. The merge's check and
 * cf_order_validate share it. */
static inline int next_in_order(uint64_t flags, int64_t exch_ts, int64_t local_ts, int64_t *last_exch,
                                int64_t *last_local) {
    if ((flags & CF_EVENT_EXCH) && exch_ts < *last_exch) return 1;
    if ((flags & CF_EVENT_LOCAL) && local_ts < *last_local) return 2;
    if (flags & CF_EVENT_EXCH) *last_exch = exch_ts;
    if (flags & CF_EVENT_LOCAL) *last_local = local_ts;
    return 0;
}

/* Row i's fields, from events or from the columns: `columns` is a constant in each copy of the merge. */
#define EXCH_TS(R, cols, i) ((cols) ? (R)->columns.exch_ts[i] : (R)->events[i].exch_ts)
#define LOCAL_TS(R, cols, i) ((cols) ? (R)->columns.local_ts[i] : (R)->events[i].local_ts)
#define EV(R, cols, i) ((cols) ? (R)->columns.body[i].ev : (R)->events[i].ev)
#define PX(R, cols, i) ((cols) ? (R)->columns.body[i].px : (R)->events[i].px)
#define QTY(R, cols, i) ((cols) ? (R)->columns.body[i].qty : (R)->events[i].qty)

static inline __attribute__((always_inline)) int same_payload(const cf_order_rows *R, int columns, size_t x,
                                                              size_t y) {
    double px = PX(R, columns, x), py = PX(R, columns, y);
    return EV(R, columns, x) == EV(R, columns, y) && (px == py || (isnan(px) && isnan(py))) &&
           QTY(R, columns, x) == QTY(R, columns, y);
}

static inline uint64_t bits_of(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* Row i into out, flags ORed into ev: plain stores, or non-temporal ones (whole 64-byte rows, written once
 * and not read back soon: no read of the line before the write, and the cache keeps what the merge reads). */
static inline __attribute__((always_inline)) void put_event(cf_event *to, const cf_order_rows *R, int columns,
                                                            size_t i, uint64_t flags, int stream) {
#ifdef __SSE2__
    if (stream) {
        __m128i a, b, c, d;
        if (columns) {
            const cf_body *body = &R->columns.body[i];
            a = _mm_set_epi64x(R->columns.exch_ts[i], (long long)(body->ev | flags));
            b = _mm_set_epi64x((long long)bits_of(body->px), R->columns.local_ts[i]);
            c = _mm_cvtsi64_si128((long long)bits_of(body->qty));
            d = _mm_setzero_si128();
        } else {
            const __m128i *from = (const __m128i *)(const void *)&R->events[i];
            a = _mm_or_si128(_mm_loadu_si128(from), _mm_cvtsi64_si128((long long)flags));
            b = _mm_loadu_si128(from + 1);
            c = _mm_loadu_si128(from + 2);
            d = _mm_loadu_si128(from + 3);
        }
        __m128i *dst = (__m128i *)(void *)to;
        _mm_stream_si128(dst, a);
        _mm_stream_si128(dst + 1, b);
        _mm_stream_si128(dst + 2, c);
        _mm_stream_si128(dst + 3, d);
        return;
    }
#else
    (void)stream;
#endif
    if (columns) {
        const cf_body *body = &R->columns.body[i];
        *to = cf_event_make(body->ev | flags, R->columns.exch_ts[i], R->columns.local_ts[i], body->px, body->qty);
    } else {
        *to = R->events[i];
        to->ev |= flags;
    }
}

static inline __attribute__((always_inline)) cf_status merge(const cf_order_rows *R, int columns,
                                                             const int64_t *by_exch, const int64_t *by_local,
                                                             cf_order_cursor *cursor, cf_event *out, size_t cap,
                                                             size_t *n_out, unsigned options, cf_order_last *last) {
    const size_t n = R->n;
    size_t e = cursor->exch, l = cursor->local, o = 0;
    const int check = (options & CF_MERGE_CHECK) && last != NULL;
    const int stream = (options & CF_MERGE_STREAM) && out != NULL && ((uintptr_t)out & 15) == 0;
    int64_t last_exch = check ? last->exch : 0, last_local = check ? last->local : 0;
    cf_status st = CF_OK;
    while (e < n || l < n) {
        if (out && o == cap) {
            st = CF_ENOSPC;
            break;
        }
        size_t x = n, y = n; /* the rows each walk stands on (n: that walk is done) */
        if (e < n) {
            x = by_exch ? (size_t)by_exch[e] : e;
            if (CF_UNLIKELY(x >= n)) { st = CF_EINVAL; break; }
        }
        if (l < n) {
            y = by_local ? (size_t)by_local[l] : l;
            if (CF_UNLIKELY(y >= n)) { st = CF_EINVAL; break; }
        }
        size_t src;
        uint64_t flags;
        if (x < n && y < n) {
            int64_t xe = EXCH_TS(R, columns, x), ye = EXCH_TS(R, columns, y);
            int64_t xl = LOCAL_TS(R, columns, x), yl = LOCAL_TS(R, columns, y);
            if (xe == ye && xl == yl && same_payload(R, columns, x, y)) {
                src = x;
                flags = CF_EVENT_EXCH | CF_EVENT_LOCAL;
            } else if (xe < ye || (xe == ye && xl <= yl)) {
                src = x;
                flags = CF_EVENT_EXCH;
            } else {
                src = y;
                flags = CF_EVENT_LOCAL;
            }
        } else if (y < n) {
            src = y;
            flags = CF_EVENT_LOCAL;
        } else {
            src = x;
            flags = CF_EVENT_EXCH;
        }
        if (check) { /* validate_event_order on the row about to be written: it stays unwritten if out of order */
            int bad = next_in_order(flags, EXCH_TS(R, columns, src), LOCAL_TS(R, columns, src), &last_exch,
                                    &last_local);
            if (CF_UNLIKELY(bad)) {
                last->out_of_order = bad;
                st = CF_EORDER;
                break;
            }
        }
        e += (flags & CF_EVENT_EXCH) != 0;
        l += (flags & CF_EVENT_LOCAL) != 0;
        if (out)
            put_event(out + o, R, columns, src, flags, stream);
        o++;
    }
#ifdef __SSE2__
    if (stream)
        _mm_sfence(); /* the streamed rows are seen by any thread the caller hands them to */
#endif
    if (check) {
        last->exch = last_exch;
        last->local = last_local;
    }
    cursor->exch = e;
    cursor->local = l;
    *n_out = o;
    return st;
}

cf_status cf_order_merge(const cf_order_rows *rows, const int64_t *by_exch, const int64_t *by_local,
                         cf_order_cursor *cursor, cf_event *out, size_t cap, size_t *n_out, unsigned options,
                         cf_order_last *last) {
    if (rows->events)
        return merge(rows, 0, by_exch, by_local, cursor, out, cap, n_out, options, last);
    return merge(rows, 1, by_exch, by_local, cursor, out, cap, n_out, options, last);
}

void cf_order_last_init(cf_order_last *last) {
    last->exch = INT64_MIN;
    last->local = INT64_MIN;
    last->out_of_order = 0;
}

cf_status cf_order_validate(const cf_event *rows, size_t n, cf_order_last *last, size_t *bad) {
    int64_t last_exch = last->exch, last_local = last->local;
    cf_status st = CF_OK;
    for (size_t i = 0; i < n; i++) {
        int side = next_in_order(rows[i].ev, rows[i].exch_ts, rows[i].local_ts, &last_exch, &last_local);
        if (side) {
            *bad = i;
            last->out_of_order = side;
            st = CF_EORDER;
            break;
        }
    }
    last->exch = last_exch;
    last->local = last_local;
    return st;
}
