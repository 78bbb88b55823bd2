/* SPDX-License-Identifier: MIT */
/* Exchange JSON messages -> fixed records, driven by layout tables.
 *
 * One validating single-pass scanner serves every message shape: a layout maps the exchange's key names
 * to normalised fields (first_id, last_id, bids, ...). Layouts are data supplied by the caller (each
 * exchange's subpackage declares its own), so this file never names an exchange. Known keys are read into the record; every other
 * value is skipped but still checked, so a message is accepted only if it is complete, valid JSON.
 * A combined-stream envelope ({"stream": name, "data": {...}}) is entered transparently.
 *
 * The shapes exchanges send - levels ["63943.90","0.021"] without whitespace, plain integers, strings
 * without escapes - are read by fast paths (eight or sixteen bytes, or a 32-byte SSE2 window, at a time) that
 * accept exactly what the general scanner accepts and hand it anything else untouched (tests/c checks both
 * agree); a level shaped like the one before it is checked against that one's shape in one comparison.
 * Real USD-M BTCUSDT depth (1,108 bytes, 44 levels): ~0.65 us and 9.2k instructions per message (C driver,
 * loaded machine; callgrind), from 1.33 us before the fast paths and 0.94 us and 14.4k instructions before
 * the shape check.
 *
 * Strings are not copied: the record holds spans into the caller's bytes, which must outlive its use.
 * Input is (pointer, length), never assumed NUL-terminated. No allocation; no global state.
 */
#ifndef CF_DECODE_H
#define CF_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "common/decimal.h"
#include "common/status.h"

#define CF_PARSED_PX 1u
#define CF_PARSED_QTY 2u

/* Level text inside a message (not NUL-terminated). The decoder also parses each value as it scans it:
 * where `parsed` has CF_PARSED_PX / CF_PARSED_QTY set, px_value / qty_value hold the exact decimal, so
 * nothing reads the text twice; values it could not parse are left to the consumer, which reports them. */
typedef struct {
    const char *px;
    const char *qty;
    uint32_t px_len;
    uint32_t qty_len;
    cf_decimal px_value;
    cf_decimal qty_value;
    uint32_t parsed;
} cf_text_level;

typedef struct {
    const char *p;
    uint32_t len;
} cf_span;

/* Normalised fields and the JSON they accept. Integers may also come quoted ("106"), and decimals as JSON
 * numbers (99.5) as well as strings: venues differ (Bybit and OKX quote ids), and the text is the same
 * either way. An integer must be exact (no fraction, no exponent) and fit int64. */
typedef enum {
    CF_FIELD_EVENT = 0,    /* string: event type */
    CF_FIELD_SYMBOL,       /* string */
    CF_FIELD_EXCH_TS,      /* integer: exchange event time as sent (ms on Binance) */
    CF_FIELD_TRANSACT_TS,  /* integer: transaction / match time as sent */
    CF_FIELD_FIRST_ID,     /* integer */
    CF_FIELD_LAST_ID,      /* integer */
    CF_FIELD_PREV_ID,      /* integer */
    CF_FIELD_TRADE_ID,     /* integer */
    CF_FIELD_BIDS,         /* array of [price text, quantity text, ...] */
    CF_FIELD_ASKS,         /* array of [price text, quantity text, ...] */
    CF_FIELD_PRICE,        /* decimal string */
    CF_FIELD_QTY,          /* decimal string */
    CF_FIELD_BID_PX,       /* decimal string */
    CF_FIELD_BID_QTY,      /* decimal string */
    CF_FIELD_ASK_PX,       /* decimal string */
    CF_FIELD_ASK_QTY,      /* decimal string */
    CF_FIELD_BUYER_MAKER,  /* boolean */
    CF_FIELD_TRADE_TYPE,   /* string: how a trade executed (market, liquidation, ...) */
    CF_FIELD_INDEX_PX,     /* decimal string */
    CF_FIELD_FUNDING_RATE, /* decimal string, may be negative */
    CF_FIELD_COUNT
} cf_field;

#define CF_FIELD_BIT(f) (1u << (f))

typedef struct {
    const char *name; /* exchange key, NUL-terminated */
    cf_field field;
} cf_layout_key;

typedef struct {
    const cf_layout_key *keys;
    uint32_t n_keys;
    uint32_t required;     /* CF_FIELD_BIT mask that must be present */
    const char *event;     /* when set, CF_FIELD_EVENT (if present) must equal it */
    const char *envelope;  /* key whose object value holds the fields ("data"), or NULL */
    const char *stream;    /* key of the envelope's stream name ("stream"), or NULL */
    int envelope_first;    /* 1 when no key in keys is named envelope or stream (the caller checked): those two
                            * are then recognised before keys is searched, a search that every message's
                            * envelope keys would fail. 0: keys first, whatever they hold. */
} cf_layout;

typedef struct {
    uint32_t present;                  /* CF_FIELD_BIT mask of fields found */
    int64_t ints[CF_FIELD_COUNT];      /* integer and boolean fields */
    cf_span strs[CF_FIELD_COUNT];      /* string fields */
    cf_span stream;                    /* envelope stream name as raw JSON text (escapes unresolved) */
    uint32_t n_bids, n_asks;           /* levels written to the caller's arrays */
    uint32_t error_offset;             /* byte offset of the problem when decoding failed */
    int32_t error_field;               /* field involved, or -1 */
} cf_record;

/* Decode msg[0..len) with layout into rec, writing levels into bids[0..bids_cap) and asks[0..asks_cap).
 * Returns CF_OK; CF_EBADMSG (not JSON, trailing bytes, wrong shape), CF_ETYPE, CF_EMISSING, CF_EDUPKEY,
 * CF_EDEPTH; or CF_ENOSPC when a side has more levels than its capacity (rec->n_bids / n_asks then hold
 * the counts needed, so the caller can grow and call again). */
cf_status cf_decode(const cf_layout *layout, const char *msg, size_t len, cf_record *rec, cf_text_level *bids,
                    size_t bids_cap, cf_text_level *asks, size_t asks_cap);

/* Parse a JSON integer token exactly (no fraction, no exponent, fits int64). */
cf_status cf_decode_int(const char *s, size_t n, int64_t *out);

#endif
