/* SPDX-License-Identifier: MIT */
/* Event ordering for backtest data: a stable argsort for int64 timestamps, hftbacktest's latency and
 * event-order corrections, and the order check (hftbacktest.data.validation, reproduced exactly).
 *
 * The argsort is a natural merge sort in the manner of Timsort (Peters, listsort.txt; the run-stack rule
 * as corrected by de Gouw et al., "OpenJDK's java.utils.Collection.sort() is broken", CAV 2015) over an
 * index array, tuned for timestamps: runs grow by short insertions past small jitter, and a merge first
 * trims the parts of both runs already in place (binary search), so two concatenated files cost only their
 * overlap. Keys that jitter over many places (local times under a varying latency: many descents in the
 * first 64k keys) are first scattered into buckets by their top bits, stably, and each bucket is sorted
 * alone. Keys in order, or in two runs in order (two concatenated files: Tardis trades then book), skip all
 * that: the identity is written as the keys are read, a block at a time, and two runs are merged straight
 * into the output from the keys. No allocation: the caller gives the work area.
 *
 * With threads (pthreads), the keys are cut into one contiguous chunk per thread, and the work into tasks
 * per chunk, so the kernel's page zeroing of the fresh output and the memory traffic are shared out. Keys
 * in order: each chunk's identity. Two runs: each chunk's range of the output merged on its own, its start in
 * both runs found by co-ranking (the "merge path": Odeh et al., "Merge Path - Parallel Merging Made Simple",
 * IPDPSW 2012). Many runs: each chunk sorted, then adjacent chunks merged pairwise, seams only. Buckets:
 * counts and a stable scatter per chunk (chunk c's keys of a bucket after chunk c-1's), each bucket sorted
 * with the chunk that holds its start. Any thread takes any task, so one the scheduler starts late delays
 * nothing. */
#ifndef CF_ORDER_H
#define CF_ORDER_H

#include <stddef.h>
#include <stdint.h>
#include "common/status.h"
#include "convert/event.h"


/* Most threads one argsort uses; more are clamped to this. */
#define CF_ORDER_MAX_THREADS 16

/* Work area of the argsort, in int64s: n where strided keys that take the bucket path are first copied
 * together, n / 2 + 1 for merges, and with threads their bucket counts and n / 2 more (the parts not used
 * are never touched, so not resident). */
#define CF_ORDER_TMP(n) (2 * (n) + 2 * CF_ORDER_MAX_THREADS + 2)

/* Stable argsort: out[0..n) receives the indices that order keys[i * stride] ascending, ties in index
 * order (the permutation numpy's argsort(kind="stable") gives). tmp holds CF_ORDER_TMP(n) int64s.
 * threads: how many threads share the work (0 and 1: the caller's alone; at most CF_ORDER_MAX_THREADS and
 * n are used); the result is the same for any count, and when threads cannot be started the caller's
 * thread does it all. CF_EINVAL for a NULL buffer with n > 0 or stride 0. */
cf_status cf_order_argsort(const int64_t *keys, size_t stride, size_t n, int64_t *out, int64_t *tmp,
                           unsigned threads);

/* 1 when keys[i * stride] never decrease over i < n (their stable argsort is the identity), else 0. */
int cf_order_is_sorted(const int64_t *keys, size_t stride, size_t n);

/* Offset hftbacktest's correct_local_timestamp applies to n rows whose times are exch_ts[i * stride] and
 * local_ts[i * stride] (stride 1: columns; 8: the fields of cf_event rows): when the smallest local_ts -
 * exch_ts is negative, -that + base_latency, else 0 (base_latency is then not added). Differences wrap as
 * int64, as there. */
int64_t cf_order_local_offset(const int64_t *exch_ts, const int64_t *local_ts, size_t stride, size_t n,
                              int64_t base_latency);

/* Add offset to local_ts[i * stride] for i < n. */
void cf_order_shift_local(int64_t *local_ts, size_t stride, size_t n, int64_t offset);

/* The n rows a merge reads: cf_event rows (events), or, with events NULL, columns (their fields besides the
 * five come out 0). */
typedef struct {
    const cf_event *events;
    cf_columns columns;
    size_t n;
} cf_order_rows;

/* Where a merge stands between calls. Start from {0, 0}. */
typedef struct {
    size_t exch;
    size_t local;
} cf_order_cursor;

/* The last exchange and local times written or validated so far, for data checked in pieces, and which
 * side the first row out of order broke (0 none yet, 1 exchange, 2 local). */
typedef struct {
    int64_t exch;
    int64_t local;
    int out_of_order;
} cf_order_last;

void cf_order_last_init(cf_order_last *last);

/* cf_order_merge options */
#define CF_MERGE_CHECK 1u  /* validate_event_order as rows are written, continuing from *last */
#define CF_MERGE_STREAM 2u /* non-temporal stores (an out aligned to 16 bytes): outputs far larger than cache */

/* hftbacktest's correct_event_order: walk rows in exchange order (by_exch) and local order (by_local) at
 * once and emit each row once as an exchange event (EXCH flag) and once as a local event (LOCAL flag), or
 * once with both flags when both walks stand on rows with equal timestamps and equal ev, px (NaN equal to
 * NaN) and qty. Where hftbacktest would fail its assertion (equal timestamps, different rows), the
 * exchange side is emitted alone and the walk goes on.
 * Writes up to cap rows into out and returns CF_OK
 * when done or CF_ENOSPC when out is full (cursor keeps the position: call again). With out NULL it only
 * counts (*n_out), from the cursor to the end. A NULL order is the identity (the rows are in that order
 * already: no index array needed). CF_EINVAL when an index is outside [0, n).
 * With CF_MERGE_CHECK each row is checked as cf_order_validate would check it in the output, before it is
 * written: the first one out of order stops the merge with CF_EORDER (last->out_of_order says which side),
 * with no second pass over the output. */
cf_status cf_order_merge(const cf_order_rows *rows, const int64_t *by_exch, const int64_t *by_local,
                         cf_order_cursor *cursor, cf_event *out, size_t cap, size_t *n_out, unsigned options,
                         cf_order_last *last);

/* hftbacktest's validate_event_order: exchange events (EXCH flag) must have non-decreasing exch_ts and
 * local events non-decreasing local_ts, continuing from *last (updated). CF_OK, or CF_EORDER with *bad the
 * first row out of order and last->out_of_order 1 (exchange) or 2 (local). */
cf_status cf_order_validate(const cf_event *rows, size_t n, cf_order_last *last, size_t *bad);

#endif
