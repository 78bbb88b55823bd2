/* SPDX-License-Identifier: MIT */
/* The hftbacktest 2.4 event row (crossfury/events/hbt.py mirrors it): 64 bytes, the unit every converter
 * writes. An event's kind sits in the low bits of ev, ORed with the processor and side flags. */
#ifndef CF_EVENT_H
#define CF_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t ev;
    int64_t exch_ts;
    int64_t local_ts;
    double px;
    double qty;
    uint64_t order_id;
    int64_t ival;
    double fval;
} cf_event;

#define CF_EVENT_DEPTH 1ull
#define CF_EVENT_TRADE 2ull
#define CF_EVENT_DEPTH_CLEAR 3ull
#define CF_EVENT_DEPTH_SNAPSHOT 4ull
#define CF_EVENT_DEPTH_BBO 5ull
/* hftbacktest's recording converter's own kinds (opt 'm' and 't' of its binancefutures.convert) */
#define CF_EVENT_INDEX_PRICE 100ull
#define CF_EVENT_MARK_PRICE 101ull
#define CF_EVENT_FUNDING_RATE 102ull
#define CF_EVENT_BEST_BID 103ull
#define CF_EVENT_BEST_ASK 104ull

#define CF_EVENT_EXCH (1ull << 31)
#define CF_EVENT_LOCAL (1ull << 30)
#define CF_EVENT_BUY (1ull << 29)
#define CF_EVENT_SELL (1ull << 28)

/* The five fields a converter fills (order_id, ival and fval stay 0): how rows are held before ordering, 40
 * bytes instead of 64. Its fields are cf_event's first five, at the same offsets. */
typedef struct {
    uint64_t ev;
    int64_t exch_ts;
    int64_t local_ts;
    double px;
    double qty;
} cf_row;

_Static_assert(sizeof(cf_row) == 40 && sizeof(cf_event) == 64, "event layouts");

static inline void cf_rows_from_events(const cf_event *src, size_t n, cf_row *dst) {
    for (size_t i = 0; i < n; i++) {
        dst[i].ev = src[i].ev;
        dst[i].exch_ts = src[i].exch_ts;
        dst[i].local_ts = src[i].local_ts;
        dst[i].px = src[i].px;
        dst[i].qty = src[i].qty;
    }
}

static inline cf_event cf_event_make(uint64_t ev, int64_t exch_ts, int64_t local_ts, double px, double qty) {
    cf_event e = {ev, exch_ts, local_ts, px, qty, 0, 0, 0.0};
    return e;
}

#endif
