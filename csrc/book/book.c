/* SPDX-License-Identifier: MIT */
#include "book/book.h"

#include <stdlib.h>
#include <string.h>

/* Keys are ordered worst to best on both sides: a bid's key is its price, an ask's key is minus its price
 * (prices are >= 0, so negation cannot overflow). */
typedef struct {
    int32_t n;
    int32_t pad_;
    int64_t key[CF_BOOK_CHUNK];
    int64_t qty[CF_BOOK_CHUNK];
} chunk_t;

typedef struct {
    chunk_t *pool;      /* chunk storage; chunks are named by index because the pool may move */
    uint32_t *free_ids; /* recycled pool slots */
    uint32_t *dir;      /* chunk ids in key order */
    int64_t *dir_min;   /* first (smallest) key of each chunk, in dir order */
    uint32_t cap;       /* capacity of all four arrays */
    uint32_t used;      /* pool slots handed out at least once */
    uint32_t n_free;
    uint32_t n_chunks;
    size_t n_levels;
} side_t;

struct cf_book {
    side_t side[2];
};

#define NO_CHUNK UINT32_MAX
/* Fill factor of chunks built from a sorted snapshot: room for inserts before the first split. */
#define BULK_FILL (CF_BOOK_CHUNK * 3 / 4)
#define MERGE_BELOW (CF_BOOK_CHUNK / 4)

static inline int64_t to_key(cf_side_id s, int64_t px) { return s == CF_BID ? px : -px; }
static inline int64_t to_px(cf_side_id s, int64_t key) { return s == CF_BID ? key : -key; }

cf_book *cf_book_new(void) { return (cf_book *)calloc(1, sizeof(cf_book)); }

static void side_free(side_t *sd) {
    free(sd->pool);
    free(sd->free_ids);
    free(sd->dir);
    free(sd->dir_min);
    memset(sd, 0, sizeof *sd);
}

void cf_book_free(cf_book *book) {
    if (!book) return;
    side_free(&book->side[0]);
    side_free(&book->side[1]);
    free(book);
}

static void side_clear(side_t *sd) {
    sd->used = 0;
    sd->n_free = 0;
    sd->n_chunks = 0;
    sd->n_levels = 0;
}

void cf_book_clear(cf_book *book) {
    side_clear(&book->side[0]);
    side_clear(&book->side[1]);
}

static int side_grow(side_t *sd) {
    uint32_t cap = sd->cap ? sd->cap * 2 : 8;
    chunk_t *pool = (chunk_t *)realloc(sd->pool, (size_t)cap * sizeof(chunk_t));
    if (!pool) return 0;
    sd->pool = pool;
    uint32_t *free_ids = (uint32_t *)realloc(sd->free_ids, (size_t)cap * sizeof(uint32_t));
    if (!free_ids) return 0;
    sd->free_ids = free_ids;
    uint32_t *dir = (uint32_t *)realloc(sd->dir, (size_t)cap * sizeof(uint32_t));
    if (!dir) return 0;
    sd->dir = dir;
    int64_t *dir_min = (int64_t *)realloc(sd->dir_min, (size_t)cap * sizeof(int64_t));
    if (!dir_min) return 0;
    sd->dir_min = dir_min;
    sd->cap = cap;
    return 1;
}

/* Take a pool slot. The pool may move: callers re-fetch chunk pointers afterwards. */
static uint32_t chunk_alloc(side_t *sd) {
    if (sd->n_free) return sd->free_ids[--sd->n_free];
    if (sd->used == sd->cap && !side_grow(sd)) return NO_CHUNK;
    return sd->used++;
}

/* Put chunk id at directory position i. Capacity is guaranteed: n_chunks <= used <= cap. */
static void dir_insert(side_t *sd, uint32_t i, uint32_t id, int64_t min_key) {
    uint32_t tail = sd->n_chunks - i;
    memmove(sd->dir + i + 1, sd->dir + i, tail * sizeof(uint32_t));
    memmove(sd->dir_min + i + 1, sd->dir_min + i, tail * sizeof(int64_t));
    sd->dir[i] = id;
    sd->dir_min[i] = min_key;
    sd->n_chunks++;
}

static void dir_remove(side_t *sd, uint32_t i) {
    sd->free_ids[sd->n_free++] = sd->dir[i];
    uint32_t tail = sd->n_chunks - i - 1;
    memmove(sd->dir + i, sd->dir + i + 1, tail * sizeof(uint32_t));
    memmove(sd->dir_min + i, sd->dir_min + i + 1, tail * sizeof(int64_t));
    sd->n_chunks--;
}

/* Directory position of the chunk that holds (or would hold) key: the last chunk whose first key is
 * <= key, or 0. Requires n_chunks > 0. Branch-free, like the search inside a chunk: real depth events
 * mix top-of-book and deep levels, so a branchy search mispredicts on most steps. */
static inline uint32_t find_chunk(const side_t *sd, int64_t key) {
    const int64_t *base = sd->dir_min;
    uint32_t len = sd->n_chunks;
    while (len > 1) {
        uint32_t half = len / 2;
        base += (base[half] <= key) ? half : 0;
        len -= half;
    }
    return (uint32_t)(base - sd->dir_min);
}

/* Position of the first key >= key. Branch-free binary search (conditional moves only): six steps over a
 * full chunk. A linear count-compare vectorises only with 64-bit SIMD compares (SSE4.2 / AVX2), which a
 * portable build does not have; measured on real USD-M depth it was ~3x slower than this search. */
static inline int32_t chunk_lower_bound(const chunk_t *c, int64_t key) {
    const int64_t *base = c->key;
    int32_t len = c->n;
    if (len == 0) return 0;
    while (len > 1) {
        int32_t half = len / 2;
        base += (base[half] < key) ? half : 0;
        len -= half;
    }
    return (int32_t)(base - c->key) + (*base < key);
}

static void chunk_remove_at(side_t *sd, uint32_t i, int32_t pos) {
    chunk_t *c = &sd->pool[sd->dir[i]];
    size_t tail = (size_t)(c->n - pos - 1);
    memmove(c->key + pos, c->key + pos + 1, tail * sizeof(int64_t));
    memmove(c->qty + pos, c->qty + pos + 1, tail * sizeof(int64_t));
    c->n--;
    sd->n_levels--;
    if (c->n == 0) {
        dir_remove(sd, i);
        return;
    }
    if (pos == 0) sd->dir_min[i] = c->key[0];
    if (c->n >= MERGE_BELOW) return;
    /* Keep chunks reasonably full so the directory stays short after heavy deletion. */
    if (i + 1 < sd->n_chunks) {
        chunk_t *next = &sd->pool[sd->dir[i + 1]];
        if (c->n + next->n <= BULK_FILL) {
            memcpy(c->key + c->n, next->key, (size_t)next->n * sizeof(int64_t));
            memcpy(c->qty + c->n, next->qty, (size_t)next->n * sizeof(int64_t));
            c->n += next->n;
            dir_remove(sd, i + 1);
            return;
        }
    }
    if (i > 0) {
        chunk_t *prev = &sd->pool[sd->dir[i - 1]];
        if (prev->n + c->n <= BULK_FILL) {
            memcpy(prev->key + prev->n, c->key, (size_t)c->n * sizeof(int64_t));
            memcpy(prev->qty + prev->n, c->qty, (size_t)c->n * sizeof(int64_t));
            prev->n += c->n;
            dir_remove(sd, i);
        }
    }
}

static cf_status side_set(side_t *sd, int64_t key, int64_t qty) {
    if (CF_UNLIKELY(sd->n_chunks == 0)) {
        if (qty == 0) return CF_OK;
        uint32_t id = chunk_alloc(sd);
        if (id == NO_CHUNK) return CF_ENOMEM;
        chunk_t *c = &sd->pool[id];
        c->n = 1;
        c->key[0] = key;
        c->qty[0] = qty;
        dir_insert(sd, 0, id, key);
        sd->n_levels = 1;
        return CF_OK;
    }
    uint32_t i = find_chunk(sd, key);
    chunk_t *c = &sd->pool[sd->dir[i]];
    int32_t pos = chunk_lower_bound(c, key);
    if (pos < c->n && c->key[pos] == key) {
        if (qty != 0) c->qty[pos] = qty;
        else chunk_remove_at(sd, i, pos);
        return CF_OK;
    }
    if (qty == 0) return CF_OK; /* deleting an absent level is normal */

    if (c->n == CF_BOOK_CHUNK) {
        uint32_t id = chunk_alloc(sd);
        if (id == NO_CHUNK) return CF_ENOMEM;
        c = &sd->pool[sd->dir[i]];
        chunk_t *upper = &sd->pool[id];
        const int32_t half = CF_BOOK_CHUNK / 2;
        upper->n = CF_BOOK_CHUNK - half;
        memcpy(upper->key, c->key + half, (size_t)upper->n * sizeof(int64_t));
        memcpy(upper->qty, c->qty + half, (size_t)upper->n * sizeof(int64_t));
        c->n = half;
        dir_insert(sd, i + 1, id, upper->key[0]);
        if (pos > half) {
            i++;
            pos -= half;
            c = upper;
        }
    }
    size_t tail = (size_t)(c->n - pos);
    memmove(c->key + pos + 1, c->key + pos, tail * sizeof(int64_t));
    memmove(c->qty + pos + 1, c->qty + pos, tail * sizeof(int64_t));
    c->key[pos] = key;
    c->qty[pos] = qty;
    c->n++;
    if (pos == 0) sd->dir_min[i] = key;
    sd->n_levels++;
    return CF_OK;
}

cf_status cf_book_apply(cf_book *book, cf_side_id side, const cf_level *levels, size_t n) {
    side_t *sd = &book->side[side];
    for (size_t k = 0; k < n; k++) {
        cf_status st = side_set(sd, to_key(side, levels[k].px), levels[k].qty);
        if (CF_UNLIKELY(st != CF_OK)) return st;
    }
    return CF_OK;
}

/* A snapshot listed best first with distinct prices and no zero quantity (what exchanges send) is laid
 * into chunks directly in O(n); anything else goes level by level. */
static cf_status side_load(side_t *sd, cf_side_id side, const cf_level *levels, size_t n) {
    int best_first = 1;
    for (size_t k = 0; k < n && best_first; k++) {
        if (levels[k].qty <= 0) best_first = 0;
        else if (k > 0 && to_key(side, levels[k].px) >= to_key(side, levels[k - 1].px)) best_first = 0;
    }
    if (!best_first) {
        for (size_t k = 0; k < n; k++) {
            cf_status st = side_set(sd, to_key(side, levels[k].px), levels[k].qty);
            if (st != CF_OK) return st;
        }
        return CF_OK;
    }
    size_t k = n; /* walk worst to best */
    while (k > 0) {
        uint32_t id = chunk_alloc(sd);
        if (id == NO_CHUNK) return CF_ENOMEM;
        chunk_t *c = &sd->pool[id];
        int32_t fill = 0;
        while (k > 0 && fill < BULK_FILL) {
            k--;
            c->key[fill] = to_key(side, levels[k].px);
            c->qty[fill] = levels[k].qty;
            fill++;
        }
        c->n = fill;
        sd->dir[sd->n_chunks] = id;
        sd->dir_min[sd->n_chunks] = c->key[0];
        sd->n_chunks++;
    }
    sd->n_levels = n;
    return CF_OK;
}

cf_status cf_book_replace(cf_book *book, const cf_level *bids, size_t n_bids, const cf_level *asks,
                          size_t n_asks) {
    cf_book_clear(book);
    cf_status st = side_load(&book->side[CF_BID], CF_BID, bids, n_bids);
    if (st == CF_OK) st = side_load(&book->side[CF_ASK], CF_ASK, asks, n_asks);
    if (st != CF_OK) cf_book_clear(book);
    return st;
}

int cf_book_best(const cf_book *book, cf_side_id side, cf_level *out) {
    const side_t *sd = &book->side[side];
    if (sd->n_chunks == 0) return 0;
    const chunk_t *c = &sd->pool[sd->dir[sd->n_chunks - 1]];
    out->px = to_px(side, c->key[c->n - 1]);
    out->qty = c->qty[c->n - 1];
    return 1;
}

size_t cf_book_count(const cf_book *book, cf_side_id side) { return book->side[side].n_levels; }

size_t cf_book_top(const cf_book *book, cf_side_id side, cf_level *out, size_t n) {
    const side_t *sd = &book->side[side];
    size_t written = 0;
    for (uint32_t i = sd->n_chunks; i > 0 && written < n; i--) {
        const chunk_t *c = &sd->pool[sd->dir[i - 1]];
        for (int32_t p = c->n; p > 0 && written < n; p--) {
            out[written].px = to_px(side, c->key[p - 1]);
            out[written].qty = c->qty[p - 1];
            written++;
        }
    }
    return written;
}

int64_t cf_book_qty_at(const cf_book *book, cf_side_id side, int64_t px) {
    const side_t *sd = &book->side[side];
    if (sd->n_chunks == 0) return 0;
    int64_t key = to_key(side, px);
    const chunk_t *c = &sd->pool[sd->dir[find_chunk(sd, key)]];
    int32_t pos = chunk_lower_bound(c, key);
    return (pos < c->n && c->key[pos] == key) ? c->qty[pos] : 0;
}

int cf_book_crossed(const cf_book *book) {
    cf_level bid, ask;
    if (!cf_book_best(book, CF_BID, &bid) || !cf_book_best(book, CF_ASK, &ask)) return 0;
    return bid.px >= ask.px;
}

void cf_book_extent(const cf_book *book, int64_t *max_px, int64_t *max_qty) {
    int64_t mp = 0, mq = 0;
    for (int s = 0; s < 2; s++) {
        const side_t *sd = &book->side[s];
        for (uint32_t i = 0; i < sd->n_chunks; i++) {
            const chunk_t *c = &sd->pool[sd->dir[i]];
            for (int32_t p = 0; p < c->n; p++) {
                int64_t a = c->key[p] < 0 ? -c->key[p] : c->key[p];
                if (a > mp) mp = a;
                if (c->qty[p] > mq) mq = c->qty[p];
            }
        }
    }
    *max_px = mp;
    *max_qty = mq;
}

cf_status cf_book_rescale(cf_book *book, int64_t px_factor, int64_t qty_factor) {
    if (px_factor < 1 || qty_factor < 1) return CF_EINVAL;
    int64_t max_px, max_qty, ignored;
    cf_book_extent(book, &max_px, &max_qty);
    if (__builtin_mul_overflow(max_px, px_factor, &ignored) || __builtin_mul_overflow(max_qty, qty_factor, &ignored))
        return CF_ERANGE;
    for (int s = 0; s < 2; s++) {
        side_t *sd = &book->side[s];
        for (uint32_t i = 0; i < sd->n_chunks; i++) {
            chunk_t *c = &sd->pool[sd->dir[i]];
            for (int32_t p = 0; p < c->n; p++) {
                c->key[p] *= px_factor;
                c->qty[p] *= qty_factor;
            }
            sd->dir_min[i] *= px_factor;
        }
    }
    return CF_OK;
}
