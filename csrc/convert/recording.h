/* SPDX-License-Identifier: MIT */
/* Recordings in the hftbacktest collector format ("<receive ts> <raw message>" lines) -> hftbacktest
 * events, through the layout-driven decoder (csrc/decode): the rows hftbacktest 2.4.4's
 * binancefutures.convert builds before ordering, for spot and futures, combined or raw streams.
 *
 * Per line: depth updates give one DEPTH row per level (bids, then asks); a REST depth snapshot gives a bid
 * clear up to its last bid, its bids, an ask clear and its asks; trades give one TRADE row (the taker's
 * side; only market trades when the trade says how it executed); with the flags, book tickers give rows of
 * kinds 103 (bid) and 104 (ask) and mark price updates 100 (index), 101 (mark) and 102 (funding rate).
 * Exchange times are T (transaction time), else E, else the receive time; ms, us or ns by magnitude.
 * Receive times are ns, us or ms by magnitude. Acks, error bodies, other streams and malformed lines are
 * counted and skipped.
 *
 * CF_RECORDING_SYNC replaces the plain mapping of depth updates by the exchange's update-id rules: updates
 * are held until a snapshot, the snapshot is bridged by its last update id (stale updates dropped; the
 * rest take the snapshot's times where theirs are earlier, since they cannot apply before it), each
 * next update must continue the previous one (prev-id rule when updates carry a previous id, else range),
 * and a gap emits a full clear (kind 3, no side) and holds updates until the next snapshot.
 * The caller owns every buffer; the layouts name the exchange's keys. */
#ifndef CF_RECORDING_H
#define CF_RECORDING_H

#include <stddef.h>
#include <stdint.h>
#include "common/status.h"
#include "convert/event.h"
#include "decode/decode.h"

#define CF_RECORDING_BBO 1u          /* book tickers -> kinds 103, 104 */
#define CF_RECORDING_MARK 2u         /* mark price updates -> kinds 100, 101, 102 */
#define CF_RECORDING_AGG_TRADES 4u   /* aggregate trades count as trades (hftbacktest skips them) */
#define CF_RECORDING_SYNC 8u         /* update-id rules for depth (see above) */

/* A depth update held in sync mode; its rows are held[start .. start + count). */
typedef struct {
    int64_t first_id;
    int64_t last_id;
    int64_t prev_id;
    int64_t exch_ts;
    int64_t local_ts;
    size_t start;
    size_t count;
    int32_t has_prev;
} cf_recording_held;

typedef struct {
    uint64_t lines, depth, snapshots, trades, tickers, marks;
    uint64_t acks, errors, other, not_market, malformed;
    uint64_t stale, gaps, dropped;  /* sync mode: updates dropped as stale, gaps found, held updates dropped */
    uint64_t other_symbols;         /* messages naming a symbol other than the first one seen */
} cf_recording_counts;

typedef struct {
    /* set by the caller */
    const cf_layout *depth;      /* depth update */
    const cf_layout *snapshot;   /* REST depth snapshot */
    const cf_layout *trade;      /* trade, with the execution type */
    const cf_layout *agg_trade;  /* aggregate trade */
    const cf_layout *ticker;     /* book ticker */
    const cf_layout *mark;       /* mark price update */
    uint32_t flags;
    cf_text_level *bids, *asks;  /* decoder scratch, levels_cap each */
    size_t levels_cap;
    cf_event *held;              /* sync mode: rows of held updates */
    size_t n_held, cap_held;
    cf_recording_held *msgs;     /* sync mode: held updates */
    size_t n_msgs, cap_msgs;
    size_t max_held;             /* sync mode: held rows beyond this drop every held update */
    /* state */
    int32_t sync_state;          /* 0 waiting for a snapshot, 1 bridging from snapshot_id, 2 synced */
    int32_t rule;                /* 0 unknown, 1 range, 2 prev-id */
    int64_t snapshot_id, last_id;
    uint64_t line;               /* number of the last line read */
    char symbol[32];             /* the first symbol seen (a backtest asset is one symbol) */
    uint32_t symbol_len;
    cf_recording_counts counts;
    /* after a status other than CF_OK */
    cf_status bad_status;        /* decoder status of the malformed line t->line */
    uint32_t bad_offset;
    size_t need;                 /* CF_ENOSPC: free out rows needed (0: see levels/held) */
    size_t need_levels;          /* CF_ENOSPC: levels per side needed */
    size_t need_held;            /* CF_ENOSPC: held rows needed */
} cf_recording;

/* Zero the state and counts, keeping the caller's settings and buffers. */
void cf_recording_reset(cf_recording *r);

/* Read the complete lines of buf[0..len), writing events into out[0..cap); *n_out rows written, *consumed
 * bytes read (whole lines). CF_OK: all complete lines read. CF_ENOSPC: out needs r->need free rows, or the
 * level scratch r->need_levels per side, or held r->need_held rows, or msgs is full (n == cap): grow and call again from
 * buf + *consumed. CF_EBADMSG: line r->line is malformed (r->bad_status, r->bad_offset); it is skipped. */
cf_status cf_recording_parse(cf_recording *r, const char *buf, size_t len, cf_event *out, size_t cap,
                             size_t *n_out, size_t *consumed);

/* Receive time text (digits) -> ns, by magnitude. 0 when it is not 1..19 digits. */
int cf_recording_timestamp(const char *s, size_t n, int64_t *ns);

#endif
