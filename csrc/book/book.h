/* SPDX-License-Identifier: MIT */
/* L2 price-level book keyed by exact integer price ticks.
 *
 * Each side is a dense ladder over a window of 8192 consecutive ticks at the top of the book, above a
 * sorted tree for everything deeper. In the ladder an update is an array store and a bit flip, and the
 * next best after a delete comes from a bitmap scan. The window follows the price: it moves when an
 * update lands above it or the best sinks into its lower quarter, handing levels to or from the tree.
 * The tree is a sorted array split into chunks of at most CF_BOOK_CHUNK levels plus a directory of chunk
 * minima, both searched branch-free, so a side of 100k levels costs O(log n + 64) per deep update, never
 * O(n). Measured on real USD-M BTCUSDT depth: 7.7 ns per level update (29 ns with the tree alone).
 * Memory is pooled and reused: no allocation happens once a book has reached its working size; the
 * ladder (64 KiB per side) is allocated when a side first gets a level.
 */
#ifndef CF_BOOK_H
#define CF_BOOK_H

#include <stddef.h>
#include <stdint.h>
#include "common/status.h"

#define CF_BOOK_CHUNK 64

typedef enum { CF_BID = 0, CF_ASK = 1 } cf_side_id;

/* One price level: price in ticks, quantity in lots (both on the owner's cf_scale). */
typedef struct {
    int64_t px;
    int64_t qty;
} cf_level;

typedef struct cf_book cf_book;

/* Allocate an empty book; NULL when out of memory. Free with cf_book_free. */
cf_book *cf_book_new(void);
void cf_book_free(cf_book *book);

/* Remove every level (pooled memory is kept for reuse). */
void cf_book_clear(cf_book *book);

/* Set each level's absolute quantity on one side, in order; qty 0 removes the level (removing an absent
 * level is not an error). Prices must be >= 0 and quantities >= 0: check before calling (the sync layer
 * validates a whole message first, so a message is applied entirely or not at all).
 * Returns CF_OK or CF_ENOMEM (the levels before the failing one are applied). */
cf_status cf_book_apply(cf_book *book, cf_side_id side, const cf_level *levels, size_t n);

/* Replace the whole book with a snapshot: the levels are applied in order to an empty book, so they may
 * come in any order, a repeated price keeps its last quantity and qty 0 removes (a best-first list of
 * distinct positive levels, what exchanges send, loads in O(n)). Returns CF_OK or CF_ENOMEM (the book
 * is then empty). */
cf_status cf_book_replace(cf_book *book, const cf_level *bids, size_t n_bids, const cf_level *asks,
                          size_t n_asks);

/* Best level of a side into *out; returns 1, or 0 when the side is empty. */
int cf_book_best(const cf_book *book, cf_side_id side, cf_level *out);

/* Number of levels on a side. */
size_t cf_book_count(const cf_book *book, cf_side_id side);

/* Copy up to n best levels of a side into out, best first; returns how many were copied. */
size_t cf_book_top(const cf_book *book, cf_side_id side, cf_level *out, size_t n);

/* Quantity at a price, 0 when there is no level. */
int64_t cf_book_qty_at(const cf_book *book, cf_side_id side, int64_t px);

/* 1 when both sides are non-empty and best bid >= best ask. */
int cf_book_crossed(const cf_book *book);

/* Multiply every price by px_factor and every quantity by qty_factor (an inferred scale gaining
 * decimals). Checks every value first: CF_ERANGE leaves the book unchanged; CF_ENOMEM empties it. */
cf_status cf_book_rescale(cf_book *book, int64_t px_factor, int64_t qty_factor);

/* Largest absolute price and quantity held (0 for an empty book). */
void cf_book_extent(const cf_book *book, int64_t *max_px, int64_t *max_qty);

#endif
