/* SPDX-License-Identifier: MIT */
/* Tardis.dev CSV (trades, incremental_book_L2) -> hftbacktest events, as hftbacktest 2.4.4's
 * tardis.convert builds them before ordering, without its snapshot truncation.
 *
 * Rows arrive as blocks of bytes; only complete lines ('\n'-terminated) are read, so a caller streams a
 * file block by block and passes the unread tail again with the next block. Timestamps are microseconds
 * (ns = us * 1000); prices and amounts become the double nearest their decimal text (Python's float()).
 * A book file's snapshot rows (is_snapshot true) are held until the first update row after them, then
 * written as a bid clear, the bid levels, an ask clear and the ask levels, in arrival order (a snapshot
 * that ends the file is dropped, as there). The caller owns every buffer. */
#ifndef CF_TARDIS_H
#define CF_TARDIS_H

#include <stddef.h>
#include <stdint.h>
#include "common/status.h"
#include "convert/event.h"

typedef enum {
    CF_TARDIS_UNKNOWN = 0,
    CF_TARDIS_TRADES = 1,      /* exchange,symbol,timestamp,local_timestamp,id,side,price,amount */
    CF_TARDIS_BOOK = 2,        /* exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount */
    CF_TARDIS_BOOK_TICKER = 3  /* exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount */
} cf_tardis_kind;

typedef enum {
    CF_TARDIS_SNAPSHOT_PROCESS = 0,
    CF_TARDIS_SNAPSHOT_IGNORE = 1,      /* every snapshot row is skipped */
    CF_TARDIS_SNAPSHOT_IGNORE_SOD = 2   /* snapshot rows before the first update row are skipped */
} cf_tardis_snapshot_mode;

typedef struct {
    int32_t kind;
    int32_t snapshot_mode;
    int32_t in_snapshot;     /* snapshot rows are being collected */
    int32_t start_of_day;    /* no update row seen yet */
    cf_row *ss_bid;          /* caller-owned snapshot buffers */
    cf_row *ss_ask;
    size_t n_bid, n_ask;
    size_t cap_bid, cap_ask;
    uint64_t line;           /* number of the last line read (the header is line 1) */
    uint64_t rows;           /* data rows read */
    int32_t bad_column;      /* after CF_EBADMSG: 0-based column refused, or -1 for a wrong column count */
    size_t need;             /* after CF_ENOSPC: free out rows the next row needs */
    uint32_t prefix_len;     /* the exchange and symbol fields of the last row read field by field, commas */
    char prefix[64];         /* included: rows starting the same are read straight through */
} cf_tardis;

/* Kind of a header line (without its line end). */
cf_tardis_kind cf_tardis_header(const char *line, size_t n);

/* Start a file of the given kind (state zeroed, buffers from the caller). */
void cf_tardis_init(cf_tardis *t, cf_tardis_kind kind, cf_tardis_snapshot_mode mode, cf_row *ss_bid,
                    size_t cap_bid, cf_row *ss_ask, size_t cap_ask);

/* Read the complete lines of buf[0..len), writing event rows (the five fields a converter fills) into rows
 * [0, cap) of the columns out.
 * *n_out receives the rows written and *consumed the bytes read (always whole lines).
 * CF_OK: every complete line is read. CF_ENOSPC: out has fewer than t->need free rows, or a snapshot buffer
 * is full (n == cap): grow it (keeping its rows) and call again from buf + *consumed. CF_EBADMSG: the line
 * t->line is malformed (t->bad_column); it is skipped and counted in *consumed. Blank lines are skipped. */
cf_status cf_tardis_parse(cf_tardis *t, const char *buf, size_t len, cf_columns out, size_t cap, size_t *n_out,
                          size_t *consumed);

/* The double nearest the decimal text s[0..n) (Python float() of it); also exponents, '+', "nan", "inf".
 * avail >= n bytes are readable from s (more lets the eight-byte reader run). 0 when it is not a number. */
int cf_tardis_number(const char *s, size_t n, size_t avail, double *out);

#endif
