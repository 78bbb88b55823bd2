/* SPDX-License-Identifier: MIT */
#include "book/sync.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_depth_ids ids;
    size_t offset; /* into the buffered level array: n_bids bid levels, then n_asks ask levels */
    uint32_t n_bids;
    uint32_t n_asks;
} buffered_event;

struct cf_sync {
    cf_sync_rule rule;
    cf_sync_state state;
    int awaiting_bridge; /* a snapshot is installed and no event has been applied over it yet */
    int64_t last_id;
    cf_book *book;
    cf_scale px_scale;
    cf_scale qty_scale;
    cf_sync_counters counters;
    cf_value_error error;

    /* Scratch for the message being handled; grows to the largest message seen, then stays. */
    cf_decimal *decimals; /* 2 per level: price, quantity */
    cf_level *levels;
    size_t scratch_cap;
    cf_text_level *text;  /* decoded level spans: text_cap bids, then text_cap asks */
    size_t text_cap;

    buffered_event *events;
    uint32_t n_events, events_cap, max_events;
    cf_level *buffered;
    size_t n_buffered, buffered_cap, max_levels;
};

cf_sync *cf_sync_new(cf_sync_rule rule, cf_scale px_scale, cf_scale qty_scale, uint32_t max_events,
                     size_t max_levels) {
    if ((rule != CF_RULE_NONE && rule != CF_RULE_RANGE && rule != CF_RULE_PREV_ID) || max_events == 0 ||
        max_levels == 0)
        return NULL;
    if (px_scale.step < 1 || qty_scale.step < 1 || px_scale.decimals < 0 || qty_scale.decimals < 0 ||
        px_scale.decimals > CF_DECIMAL_MAX_DECIMALS || qty_scale.decimals > CF_DECIMAL_MAX_DECIMALS)
        return NULL;
    cf_sync *s = (cf_sync *)calloc(1, sizeof(cf_sync));
    if (!s) return NULL;
    s->book = cf_book_new();
    if (!s->book) {
        free(s);
        return NULL;
    }
    s->rule = rule;
    s->state = rule == CF_RULE_NONE ? CF_STATE_SYNCED : CF_STATE_WAITING;
    s->last_id = rule == CF_RULE_NONE ? 0 : CF_ID_NONE;
    s->px_scale = px_scale;
    s->qty_scale = qty_scale;
    s->max_events = max_events;
    s->max_levels = max_levels;
    return s;
}

void cf_sync_free(cf_sync *s) {
    if (!s) return;
    cf_book_free(s->book);
    free(s->decimals);
    free(s->levels);
    free(s->text);
    free(s->events);
    free(s->buffered);
    free(s);
}

static cf_status fail(cf_sync *s, cf_status st, size_t n_bids, size_t k, int32_t field) {
    s->error.status = st;
    s->error.stage = CF_ERR_VALUE;
    s->error.side = k < n_bids ? CF_BID : CF_ASK;
    s->error.index = (uint32_t)(k < n_bids ? k : k - n_bids);
    s->error.field = field;
    s->counters.rejected++;
    return st;
}

static int ensure_scratch(cf_sync *s, size_t n) {
    if (n <= s->scratch_cap) return 1;
    size_t cap = s->scratch_cap ? s->scratch_cap : 64;
    while (cap < n) cap *= 2;
    cf_decimal *d = (cf_decimal *)realloc(s->decimals, 2 * cap * sizeof(cf_decimal));
    if (!d) return 0;
    s->decimals = d;
    cf_level *l = (cf_level *)realloc(s->levels, cap * sizeof(cf_level));
    if (!l) return 0;
    s->levels = l;
    s->scratch_cap = cap;
    return 1;
}

static void lose_sync(cf_sync *s);

/* An inferred scale gains decimals: multiply the book and the buffer, after checking nothing overflows. */
/* *price_failed tells which grid could not grow, so the error names the right value. */
static cf_status grow_scales(cf_sync *s, int32_t px_decimals, int32_t qty_decimals, int *price_failed) {
    int64_t px_factor = cf_decimal_pow10(px_decimals - s->px_scale.decimals);
    int64_t qty_factor = cf_decimal_pow10(qty_decimals - s->qty_scale.decimals);
    int64_t max_px, max_qty, ignored;
    cf_book_extent(s->book, &max_px, &max_qty);
    for (size_t k = 0; k < s->n_buffered; k++) {
        if (s->buffered[k].px > max_px) max_px = s->buffered[k].px;
        if (s->buffered[k].qty > max_qty) max_qty = s->buffered[k].qty;
    }
    *price_failed = __builtin_mul_overflow(max_px, px_factor, &ignored);
    if (*price_failed || __builtin_mul_overflow(max_qty, qty_factor, &ignored)) return CF_ERANGE;
    cf_status st = cf_book_rescale(s->book, px_factor, qty_factor);
    if (st == CF_ENOMEM) lose_sync(s); /* the rescale cleared the book */
    if (st != CF_OK) return st;
    for (size_t k = 0; k < s->n_buffered; k++) {
        s->buffered[k].px *= px_factor;
        s->buffered[k].qty *= qty_factor;
    }
    s->px_scale.decimals = px_decimals;
    s->qty_scale.decimals = qty_decimals;
    return CF_OK;
}

/* The steady state of quantize, in one tight pass: every value already parsed by the decoder, non-negative
 * and on a grid of step 1 with at least its decimals, so a tick count is one multiply. 0 as soon as a level
 * is anything else; quantize then starts over with all its checks (what it writes here is overwritten).
 * Real USD-M depth: 59 -> 29 instructions per level (callgrind). */
static int quantize_plain(const cf_sync *s, const cf_text_level *text, size_t n, cf_level *out) {
    static const int64_t P10[CF_DECIMAL_MAX_DECIMALS + 1] = {
        1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL, 1000000000LL,
        10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL, 100000000000000LL,
        1000000000000000LL, 10000000000000000LL, 100000000000000000LL, 1000000000000000000LL,
    };
    const int32_t px_decimals = s->px_scale.decimals, qty_decimals = s->qty_scale.decimals;
    if (s->px_scale.step != 1 || s->qty_scale.step != 1) return 0;
    for (size_t k = 0; k < n; k++) {
        const cf_text_level *t = &text[k];
        if (CF_UNLIKELY(t->parsed != (CF_PARSED_PX | CF_PARSED_QTY))) return 0;
        int32_t px_shift = px_decimals - t->px_value.decimals, qty_shift = qty_decimals - t->qty_value.decimals;
        if (CF_UNLIKELY((t->px_value.mantissa | t->qty_value.mantissa) < 0 || (px_shift | qty_shift) < 0)) return 0;
        if (CF_UNLIKELY(__builtin_mul_overflow(t->px_value.mantissa, P10[px_shift], &out[k].px) ||
                        __builtin_mul_overflow(t->qty_value.mantissa, P10[qty_shift], &out[k].qty)))
            return 0;
    }
    return 1;
}

/* Parse and scale every level of a message into s->levels (bids then asks), or fail without side effects
 * on the book (an inferred scale may have grown, which changes no value). One pass while every value fits
 * the current scales (the steady state); a second one after an inferred scale grows. */
static cf_status quantize(cf_sync *s, const cf_text_level *bids, size_t n_bids, const cf_text_level *asks,
                          size_t n_asks) {
    size_t n = n_bids + n_asks;
    if (!ensure_scratch(s, n)) return fail(s, CF_ENOMEM, n_bids, 0, 0);
    if (CF_LIKELY(quantize_plain(s, bids, n_bids, s->levels) &&
                  quantize_plain(s, asks, n_asks, s->levels + n_bids)))
        return CF_OK;
    int32_t px_dec = s->px_scale.decimals, qty_dec = s->qty_scale.decimals;
    size_t px_widest = 0, qty_widest = 0;
    int fits = 1;
    for (size_t k = 0; k < n; k++) {
        const cf_text_level *t = k < n_bids ? &bids[k] : &asks[k - n_bids];
        cf_decimal *px = &s->decimals[2 * k], *qty = &s->decimals[2 * k + 1];
        cf_status st;
        if (CF_LIKELY(t->parsed & CF_PARSED_PX)) {
            *px = t->px_value;
        } else if ((st = cf_decimal_parse(t->px, t->px_len, px)) != CF_OK) {
            return fail(s, st, n_bids, k, 0);
        }
        if (px->mantissa < 0) return fail(s, CF_ENEGATIVE, n_bids, k, 0);
        if (CF_LIKELY(t->parsed & CF_PARSED_QTY)) {
            *qty = t->qty_value;
        } else if ((st = cf_decimal_parse(t->qty, t->qty_len, qty)) != CF_OK) {
            return fail(s, st, n_bids, k, 1);
        }
        if (qty->mantissa < 0) return fail(s, CF_ENEGATIVE, n_bids, k, 1);
        if (CF_UNLIKELY(px->decimals > px_dec)) {
            px_dec = px->decimals;
            px_widest = k;
        }
        if (CF_UNLIKELY(qty->decimals > qty_dec)) {
            qty_dec = qty->decimals;
            qty_widest = k;
        }
        if (CF_LIKELY(fits)) {
            if (cf_scale_to_ticks(&s->px_scale, *px, &s->levels[k].px) != CF_OK ||
                cf_scale_to_ticks(&s->qty_scale, *qty, &s->levels[k].qty) != CF_OK)
                fits = 0; /* settle it below: a scale may grow, or this is the error to report */
        }
    }
    if (CF_LIKELY(fits)) return CF_OK;
    int grow_px = !s->px_scale.fixed && px_dec > s->px_scale.decimals;
    int grow_qty = !s->qty_scale.fixed && qty_dec > s->qty_scale.decimals;
    if (grow_px || grow_qty) {
        int price_failed = 0;
        cf_status st = grow_scales(s, grow_px ? px_dec : s->px_scale.decimals,
                                   grow_qty ? qty_dec : s->qty_scale.decimals, &price_failed);
        if (st != CF_OK) return fail(s, st, n_bids, price_failed ? px_widest : qty_widest, price_failed ? 0 : 1);
    }
    for (size_t k = 0; k < n; k++) {
        cf_status st = cf_scale_to_ticks(&s->px_scale, s->decimals[2 * k], &s->levels[k].px);
        if (st != CF_OK) return fail(s, st, n_bids, k, 0);
        st = cf_scale_to_ticks(&s->qty_scale, s->decimals[2 * k + 1], &s->levels[k].qty);
        if (st != CF_OK) return fail(s, st, n_bids, k, 1);
    }
    return CF_OK;
}

static cf_status apply_levels(cf_sync *s, const cf_level *levels, size_t n_bids, size_t n_asks) {
    cf_status st = cf_book_apply(s->book, CF_BID, levels, n_bids);
    if (st == CF_OK) st = cf_book_apply(s->book, CF_ASK, levels + n_bids, n_asks);
    return st;
}

static void clear_buffer(cf_sync *s) {
    s->n_events = 0;
    s->n_buffered = 0;
}

static void lose_sync(cf_sync *s) {
    if (s->rule == CF_RULE_NONE) { /* no ids to lose: the book is simply emptied and stays valid */
        cf_book_clear(s->book);
        s->counters.resyncs++;
        return;
    }
    s->state = CF_STATE_RESYNCING;
    s->awaiting_bridge = 0;
    s->last_id = CF_ID_NONE;
    cf_book_clear(s->book);
    s->counters.resyncs++;
}

/* Is an event already contained in the book? Before the first apply, the prev-id rule keeps last_id == L
 * (an event ending exactly at the snapshot still bridges it); the range rule drops it. */
static int is_stale(const cf_sync *s, const cf_depth_ids *ids) {
    if (s->rule == CF_RULE_PREV_ID && s->awaiting_bridge) return ids->last_id < s->last_id;
    return ids->last_id <= s->last_id;
}

/* Does a non-stale event continue the book? */
static int continues(const cf_sync *s, const cf_depth_ids *ids) {
    if (s->rule == CF_RULE_RANGE)
        return s->awaiting_bridge ? ids->first_id <= s->last_id + 1 : ids->first_id == s->last_id + 1;
    return s->awaiting_bridge ? ids->first_id <= s->last_id : ids->prev_id == s->last_id;
}

static cf_status buffer_event(cf_sync *s, const cf_depth_ids *ids, const cf_level *levels, size_t n_bids,
                              size_t n_asks) {
    size_t n = n_bids + n_asks;
    cf_status result = CF_BUFFERED;
    if (s->n_events == s->max_events || s->n_buffered + n > s->max_levels) {
        clear_buffer(s);
        s->counters.overflows++;
        s->counters.resyncs++;
        result = CF_GAP;
        if (n > s->max_levels) return result; /* cannot hold even this one event */
    }
    if (s->n_events == s->events_cap) {
        uint32_t cap = s->events_cap ? s->events_cap * 2 : 16;
        if (cap > s->max_events) cap = s->max_events;
        buffered_event *e = (buffered_event *)realloc(s->events, cap * sizeof(buffered_event));
        if (!e) return CF_ENOMEM;
        s->events = e;
        s->events_cap = cap;
    }
    if (s->n_buffered + n > s->buffered_cap) {
        size_t cap = s->buffered_cap ? s->buffered_cap : 1024;
        while (cap < s->n_buffered + n) cap *= 2;
        if (cap > s->max_levels) cap = s->max_levels;
        cf_level *b = (cf_level *)realloc(s->buffered, cap * sizeof(cf_level));
        if (!b) return CF_ENOMEM;
        s->buffered = b;
        s->buffered_cap = cap;
    }
    buffered_event *e = &s->events[s->n_events++];
    e->ids = *ids;
    e->offset = s->n_buffered;
    e->n_bids = (uint32_t)n_bids;
    e->n_asks = (uint32_t)n_asks;
    memcpy(s->buffered + s->n_buffered, levels, n * sizeof(cf_level));
    s->n_buffered += n;
    s->counters.buffered++;
    return result;
}

/* Sequence check and apply for a synced book; the event is known not to be stale. */
static cf_status apply_synced(cf_sync *s, const cf_depth_ids *ids, const cf_level *levels, size_t n_bids,
                              size_t n_asks) {
    if (!continues(s, ids)) {
        s->counters.gaps++;
        lose_sync(s);
        cf_status st = buffer_event(s, ids, levels, n_bids, n_asks);
        return st == CF_ENOMEM ? st : CF_GAP;
    }
    cf_status st = apply_levels(s, levels, n_bids, n_asks);
    if (st != CF_OK) { /* out of memory half way: the book cannot be trusted */
        lose_sync(s);
        return st;
    }
    s->last_id = ids->last_id;
    s->awaiting_bridge = 0;
    s->counters.applied++;
    if (CF_UNLIKELY(cf_book_crossed(s->book))) {
        s->counters.crossed++;
        return CF_CROSSED;
    }
    return CF_OK;
}

/* Exchange ids are non-negative; the top value is refused so that last_id + 1 cannot overflow. */
static cf_status apply_unsequenced(cf_sync *s, int replace, const cf_level *bids, size_t n_bids,
                                   const cf_level *asks, size_t n_asks) {
    cf_status st;
    if (replace) {
        st = cf_book_replace(s->book, bids, n_bids, asks, n_asks);
    } else {
        st = cf_book_apply(s->book, CF_BID, bids, n_bids);
        if (st == CF_OK) st = cf_book_apply(s->book, CF_ASK, asks, n_asks);
    }
    if (st != CF_OK) return st;
    if (replace) s->counters.snapshots++;
    else s->counters.applied++;
    if (CF_UNLIKELY(cf_book_crossed(s->book))) {
        s->counters.crossed++;
        return CF_CROSSED;
    }
    return CF_OK;
}

cf_status cf_sync_apply_ticks(cf_sync *s, int replace, const cf_level *bids, size_t n_bids, const cf_level *asks,
                              size_t n_asks) {
    if (s->rule != CF_RULE_NONE) return CF_EINVAL;
    for (size_t k = 0; k < n_bids + n_asks; k++) {
        const cf_level *l = k < n_bids ? &bids[k] : &asks[k - n_bids];
        if (l->px < 0) return fail(s, CF_ENEGATIVE, n_bids, k, 0);
        if (l->qty < 0) return fail(s, CF_ENEGATIVE, n_bids, k, 1);
    }
    return apply_unsequenced(s, replace, bids, n_bids, asks, n_asks);
}

cf_status cf_sync_apply_ticks_batch(cf_sync *s, const cf_level *levels, size_t n_levels, const uint32_t *counts,
                                    size_t m, int8_t *statuses, cf_level *best) {
    if (s->rule != CF_RULE_NONE) return CF_EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < 2 * m; i++) total += counts[i];
    if (total > n_levels) return CF_EINVAL;
    const cf_level *p = levels;
    for (size_t i = 0; i < m; i++) {
        size_t nb = counts[2 * i], na = counts[2 * i + 1];
        statuses[i] = (int8_t)cf_sync_apply_ticks(s, 0, p, nb, p + nb, na);
        p += nb + na;
        if (!cf_book_best(s->book, CF_BID, &best[2 * i])) best[2 * i].px = best[2 * i].qty = 0;
        if (!cf_book_best(s->book, CF_ASK, &best[2 * i + 1])) best[2 * i + 1].px = best[2 * i + 1].qty = 0;
    }
    return CF_OK;
}

static int ids_valid(const cf_sync *s, const cf_depth_ids *ids) {
    if (ids->first_id < 0 || ids->first_id > ids->last_id || ids->last_id == INT64_MAX) return 0;
    return s->rule != CF_RULE_PREV_ID || ids->prev_id != CF_ID_NONE;
}

cf_status cf_sync_on_depth(cf_sync *s, const cf_depth_ids *ids, const cf_text_level *bids, size_t n_bids,
                           const cf_text_level *asks, size_t n_asks) {
    if (s->rule == CF_RULE_NONE) {
        cf_status st = quantize(s, bids, n_bids, asks, n_asks);
        return st == CF_OK ? apply_unsequenced(s, 0, s->levels, n_bids, s->levels + n_bids, n_asks) : st;
    }
    if (!ids_valid(s, ids)) {
        s->error.status = CF_EBADMSG;
        s->error.stage = CF_ERR_IDS;
        s->counters.rejected++;
        return CF_EBADMSG;
    }
    if (s->state == CF_STATE_SYNCED && is_stale(s, ids)) {
        s->counters.stale++;
        return CF_STALE;
    }
    cf_status st = quantize(s, bids, n_bids, asks, n_asks);
    if (st != CF_OK) return st;
    if (s->state != CF_STATE_SYNCED) return buffer_event(s, ids, s->levels, n_bids, n_asks);
    return apply_synced(s, ids, s->levels, n_bids, n_asks);
}

cf_status cf_sync_on_snapshot(cf_sync *s, int64_t last_id, const cf_text_level *bids, size_t n_bids,
                              const cf_text_level *asks, size_t n_asks) {
    if (last_id < 0 || last_id == INT64_MAX) {
        s->error.status = CF_EBADMSG;
        s->error.stage = CF_ERR_IDS;
        s->counters.rejected++;
        return CF_EBADMSG;
    }
    if (s->rule == CF_RULE_NONE) {
        cf_status st = quantize(s, bids, n_bids, asks, n_asks);
        if (st != CF_OK) return st;
        s->last_id = last_id;
        return apply_unsequenced(s, 1, s->levels, n_bids, s->levels + n_bids, n_asks);
    }
    if (s->state == CF_STATE_SYNCED && last_id <= s->last_id) {
        s->counters.stale++;
        return CF_STALE;
    }
    cf_status st = quantize(s, bids, n_bids, asks, n_asks);
    if (st != CF_OK) return st;

    /* Skip buffered events the snapshot already contains, then check the first one left bridges it. */
    s->last_id = last_id;
    s->awaiting_bridge = 1;
    uint32_t first = 0;
    while (first < s->n_events && is_stale(s, &s->events[first].ids)) first++;
    if (first < s->n_events && !continues(s, &s->events[first].ids)) {
        s->last_id = CF_ID_NONE;
        s->awaiting_bridge = 0;
        s->counters.old_snapshots++;
        return CF_SNAPSHOT_OLD;
    }

    st = cf_book_replace(s->book, s->levels, n_bids, s->levels + n_bids, n_asks);
    if (st != CF_OK) {
        lose_sync(s);
        return st;
    }
    s->state = CF_STATE_SYNCED;
    s->counters.snapshots++;
    s->counters.stale += first;

    for (uint32_t k = first; k < s->n_events; k++) {
        const buffered_event *e = &s->events[k];
        if (is_stale(s, &e->ids)) {
            s->counters.stale++;
            continue;
        }
        /* The check of continuity is the same as for live events; on a gap, the rest of the buffer,
         * from the breaking event on, becomes the new buffer. */
        if (!continues(s, &e->ids)) {
            uint32_t keep_from = k;
            size_t level_base = e->offset;
            s->counters.gaps++;
            lose_sync(s);
            uint32_t kept = s->n_events - keep_from;
            memmove(s->events, s->events + keep_from, kept * sizeof(buffered_event));
            memmove(s->buffered, s->buffered + level_base, (s->n_buffered - level_base) * sizeof(cf_level));
            for (uint32_t j = 0; j < kept; j++) s->events[j].offset -= level_base;
            s->n_events = kept;
            s->n_buffered -= level_base;
            return CF_GAP;
        }
        st = apply_synced(s, &e->ids, s->buffered + e->offset, e->n_bids, e->n_asks);
        if (st < 0) return st;
    }
    clear_buffer(s);
    return cf_book_crossed(s->book) ? CF_CROSSED : CF_OK;
}

/* Decode into the level buffers, growing them once when a message has more levels than any before. */
static cf_status decode_levels(cf_sync *s, const cf_layout *layout, const char *msg, size_t len, cf_record *rec) {
    cf_status st;
    while ((st = cf_decode(layout, msg, len, rec, s->text, s->text_cap, s->text + s->text_cap, s->text_cap)) ==
           CF_ENOSPC) {
        size_t need = rec->n_bids > rec->n_asks ? rec->n_bids : rec->n_asks;
        size_t cap = s->text_cap ? s->text_cap : 256;
        while (cap < need) cap *= 2;
        cf_text_level *t = (cf_text_level *)realloc(s->text, 2 * cap * sizeof(cf_text_level));
        if (!t) return CF_ENOMEM;
        s->text = t;
        s->text_cap = cap;
    }
    if (st != CF_OK) {
        s->error.status = st;
        s->error.stage = CF_ERR_DECODE;
        s->counters.rejected++;
    }
    return st;
}

int cf_sync_decoded_level(const cf_sync *s, cf_side_id side, uint32_t index, cf_text_level *out) {
    if (!s->text || index >= s->text_cap) return 0;
    *out = s->text[(side == CF_BID ? 0 : s->text_cap) + index];
    return 1;
}

cf_status cf_sync_on_message(cf_sync *s, const cf_layout *layout, const char *msg, size_t len, cf_record *rec) {
    cf_status st = decode_levels(s, layout, msg, len, rec);
    if (st != CF_OK) return st;
    cf_depth_ids ids;
    ids.first_id = (rec->present & CF_FIELD_BIT(CF_FIELD_FIRST_ID)) ? rec->ints[CF_FIELD_FIRST_ID] : 0;
    ids.last_id = (rec->present & CF_FIELD_BIT(CF_FIELD_LAST_ID)) ? rec->ints[CF_FIELD_LAST_ID] : 0;
    ids.prev_id = (rec->present & CF_FIELD_BIT(CF_FIELD_PREV_ID)) ? rec->ints[CF_FIELD_PREV_ID] : CF_ID_NONE;
    return cf_sync_on_depth(s, &ids, s->text, rec->n_bids, s->text + s->text_cap, rec->n_asks);
}

cf_status cf_sync_on_snapshot_message(cf_sync *s, const cf_layout *layout, const char *msg, size_t len,
                                      cf_record *rec) {
    cf_status st = decode_levels(s, layout, msg, len, rec);
    if (st != CF_OK) return st;
    int64_t last_id = (rec->present & CF_FIELD_BIT(CF_FIELD_LAST_ID)) ? rec->ints[CF_FIELD_LAST_ID] : 0;
    return cf_sync_on_snapshot(s, last_id, s->text, rec->n_bids, s->text + s->text_cap, rec->n_asks);
}

void cf_sync_reset(cf_sync *s) {
    clear_buffer(s);
    lose_sync(s);
}

cf_sync_state cf_sync_get_state(const cf_sync *s) { return s->state; }
const cf_sync_counters *cf_sync_get_counters(const cf_sync *s) { return &s->counters; }
const cf_book *cf_sync_get_book(const cf_sync *s) { return s->book; }
cf_scale cf_sync_get_px_scale(const cf_sync *s) { return s->px_scale; }
cf_scale cf_sync_get_qty_scale(const cf_sync *s) { return s->qty_scale; }
int64_t cf_sync_get_last_id(const cf_sync *s) { return s->state == CF_STATE_SYNCED ? s->last_id : CF_ID_NONE; }
cf_value_error cf_sync_last_error(const cf_sync *s) { return s->error; }
size_t cf_sync_buffered_events(const cf_sync *s) { return s->n_events; }
