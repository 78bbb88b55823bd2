/* SPDX-License-Identifier: MIT */
/* Snapshot + buffered-delta synchronisation of one L2 book, by update-id rules named by their shape.
 *
 *   CF_RULE_RANGE    every event carries [first_id, last_id]; the first applied event after a snapshot
 *                    with last id L satisfies first_id <= L+1 <= last_id; later ones first_id == prev last_id+1.
 *                    (Binance spot; XT.)
 *   CF_RULE_PREV_ID  every event carries prev_id, the last_id of the event before it on the stream; the first
 *                    applied event satisfies first_id <= L <= last_id; later ones prev_id == prev last_id.
 *                    (Binance USD-M, COIN-M, Portfolio Margin.)
 *   CF_RULE_NONE     no ids: every event applies at once and a snapshot simply replaces the book (full-book
 *                    streams, partial-depth streams, a plain book). Starts SYNCED.
 * Further shapes (snapshot/delta with reset, seq/prev-seq) slot in as more rules.
 *
 * States: WAITING (no snapshot yet; events are buffered), SYNCED (book valid), RESYNCING (continuity lost;
 * the book is cleared and invalid, events are buffered until a new snapshot). Buffers are bounded: an
 * overflow discards them and reports CF_GAP so the owner fetches a fresh snapshot.
 *
 * Messages arrive as text levels (pointers into the caller's bytes). A message is validated whole before
 * anything changes: an error status means the book, the buffer and the ids are exactly as before.
 * Ownership: cf_sync owns its book and buffers; text pointers are read during the call only.
 */
#ifndef CF_SYNC_H
#define CF_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include "book/book.h"
#include "common/decimal.h"
#include "common/status.h"
#include "decode/decode.h"

typedef enum { CF_RULE_NONE = 0, CF_RULE_RANGE = 1, CF_RULE_PREV_ID = 2 } cf_sync_rule;

typedef enum { CF_STATE_WAITING = 0, CF_STATE_SYNCED = 1, CF_STATE_RESYNCING = 2 } cf_sync_state;

/* Update ids of one depth event. prev_id is CF_ID_NONE where the stream has none. */
typedef struct {
    int64_t first_id;
    int64_t last_id;
    int64_t prev_id;
} cf_depth_ids;

#define CF_ID_NONE INT64_MIN

typedef struct {
    uint64_t applied;       /* events applied to a valid book */
    uint64_t stale;         /* events (and snapshots) older than the book, dropped */
    uint64_t buffered;      /* events held while waiting for a snapshot */
    uint64_t gaps;          /* continuity breaks detected */
    uint64_t resyncs;       /* times a new snapshot became necessary after a gap or overflow */
    uint64_t overflows;     /* buffer overflows (each also counts as a resync) */
    uint64_t crossed;       /* applies that left best bid >= best ask */
    uint64_t snapshots;     /* snapshots installed */
    uint64_t old_snapshots; /* snapshots older than the buffered events, refused */
    uint64_t rejected;      /* messages refused with an error status */
} cf_sync_counters;

typedef enum { CF_ERR_VALUE = 0, CF_ERR_DECODE = 1, CF_ERR_IDS = 2 } cf_error_stage;

/* Why the last message was refused. For CF_ERR_VALUE: which level value; the decoded level text stays
 * readable through cf_sync_decoded_level while the message bytes are alive. */
typedef struct {
    int32_t side;   /* CF_BID or CF_ASK */
    int32_t field;  /* 0 price, 1 quantity */
    uint32_t index; /* level index within that side */
    cf_status status;
    cf_error_stage stage;
} cf_value_error;

typedef struct cf_sync cf_sync;

/* Create a synchroniser. Scales: fixed from tick/lot sizes, or cf_scale_inferred(). A buffer holds at most
 * max_events events and max_levels levels in all. NULL on bad arguments or out of memory. */
cf_sync *cf_sync_new(cf_sync_rule rule, cf_scale px_scale, cf_scale qty_scale, uint32_t max_events,
                     size_t max_levels);
void cf_sync_free(cf_sync *sync);

/* Install a snapshot with last update id last_id, then replay the buffered events over it.
 * Returns CF_OK (synced), CF_CROSSED (synced, crossed), CF_SNAPSHOT_OLD (older than the buffered events:
 * fetch another), CF_STALE (no newer than the synced book: ignored), CF_GAP (the buffer broke continuity
 * after the snapshot: fetch another), or an error. */
cf_status cf_sync_on_snapshot(cf_sync *sync, int64_t last_id, const cf_text_level *bids, size_t n_bids,
                              const cf_text_level *asks, size_t n_asks);

/* Feed one depth event. Returns CF_OK (applied), CF_CROSSED (applied, crossed), CF_BUFFERED, CF_STALE,
 * CF_GAP (the book is now invalid: fetch a snapshot), or an error (CF_EBADNUM, CF_ERANGE, CF_ENEGATIVE,
 * CF_ESCALE with details in cf_sync_last_error; CF_EBADMSG for inconsistent ids; CF_ENOMEM). */
cf_status cf_sync_on_depth(cf_sync *sync, const cf_depth_ids *ids, const cf_text_level *bids, size_t n_bids,
                           const cf_text_level *asks, size_t n_asks);

/* Decode one raw depth message with layout and feed it (cf_sync_on_depth): the fused hot path, one call per
 * message, no allocation once the level buffers fit the largest message seen. rec receives the decoded
 * header (and error offset/field on a decode error). Returns what cf_sync_on_depth returns, or a decode
 * error (CF_EBADMSG, CF_ETYPE, CF_EMISSING, CF_EDUPKEY, CF_EDEPTH), counted as rejected. */
cf_status cf_sync_on_message(cf_sync *sync, const cf_layout *layout, const char *msg, size_t len, cf_record *rec);

/* Decode a snapshot body (last id, bids, asks) with layout and install it (cf_sync_on_snapshot). */
cf_status cf_sync_on_snapshot_message(cf_sync *sync, const cf_layout *layout, const char *msg, size_t len,
                                      cf_record *rec);

/* CF_RULE_NONE only: apply (or, with replace != 0, install) levels already in ticks and lots, checking
 * first that no price or quantity is negative (CF_ENEGATIVE, details in cf_sync_last_error).
 * CF_EINVAL for a sequenced rule, whose book only changes through its ids. */
cf_status cf_sync_apply_ticks(cf_sync *sync, int replace, const cf_level *bids, size_t n_bids, const cf_level *asks,
                              size_t n_asks);

/* CF_RULE_NONE only: apply m messages of tick levels in one call. levels holds, per message, counts[2i]
 * bid levels then counts[2i+1] ask levels. After each message, statuses[i] receives its status and
 * best[2i], best[2i+1] the best bid and ask (qty 0 for an empty side). A refused message (negative status)
 * changes nothing and the batch goes on. CF_EINVAL for a sequenced rule or counts overrunning n_levels. */
cf_status cf_sync_apply_ticks_batch(cf_sync *sync, const cf_level *levels, size_t n_levels, const uint32_t *counts,
                                    size_t m, int8_t *statuses, cf_level *best);

/* Drop the book and buffer and wait for a new snapshot (e.g. after a reconnect). Counts a resync.
 * CF_RULE_NONE: empties the book, which stays valid. */
void cf_sync_reset(cf_sync *sync);

cf_sync_state cf_sync_get_state(const cf_sync *sync);
const cf_sync_counters *cf_sync_get_counters(const cf_sync *sync);
const cf_book *cf_sync_get_book(const cf_sync *sync);
cf_scale cf_sync_get_px_scale(const cf_sync *sync);
cf_scale cf_sync_get_qty_scale(const cf_sync *sync);
/* last_id of the last applied event (or snapshot); CF_ID_NONE when not synced. */
int64_t cf_sync_get_last_id(const cf_sync *sync);
cf_value_error cf_sync_last_error(const cf_sync *sync);
/* Level text of the last message decoded by cf_sync_on_message / cf_sync_on_snapshot_message; returns 1,
 * or 0 when out of range. The spans point into that message. */
int cf_sync_decoded_level(const cf_sync *sync, cf_side_id side, uint32_t index, cf_text_level *out);

/* Events currently buffered. */
size_t cf_sync_buffered_events(const cf_sync *sync);

#endif
