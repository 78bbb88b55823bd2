/* SPDX-License-Identifier: MIT */
#include "decode/decode.h"

#include <string.h>

/* The fast paths (eight bytes, or a 32-byte window, at a time) each read one common shape and leave
 * anything else, untouched, to the general byte-wise scanner. Built with CF_DECODE_GENERAL_ONLY, only the
 * latter is left: tests/c/test_decode_fast_paths.c checks that both builds agree on every input. */
#if defined(CF_DECIMAL_SWAR) && !defined(CF_DECODE_GENERAL_ONLY)
#define CF_DECODE_FAST 1
#endif

#if defined(__SSE2__) && defined(CF_DECODE_FAST)
#include <emmintrin.h> /* SSE2 is part of every x86-64: no runtime dispatch needed */
#define CF_DECODE_SSE2 1
#endif

/* Deep enough for any exchange message; deeper input is junk and refused before the stack suffers. */
#define MAX_DEPTH 64

typedef struct {
    const char *s;
    size_t n;
    size_t i;
    const cf_layout *layout;
    cf_record *rec;
    cf_text_level *levels[2];
    size_t cap[2];
    int overflow;
    int32_t field; /* field being read, for error reports */
    uint32_t next_key; /* layout key after the last one found: where lookup starts */
} scan_t;

typedef enum { KIND_INT, KIND_TEXT, KIND_BOOL, KIND_LEVELS } field_kind;

static field_kind kind_of(cf_field f) {
    switch (f) {
    case CF_FIELD_EVENT:
    case CF_FIELD_SYMBOL:
    case CF_FIELD_PRICE:
    case CF_FIELD_QTY:
    case CF_FIELD_BID_PX:
    case CF_FIELD_BID_QTY:
    case CF_FIELD_ASK_PX:
    case CF_FIELD_ASK_QTY:
    case CF_FIELD_TRADE_TYPE:
    case CF_FIELD_INDEX_PX:
    case CF_FIELD_FUNDING_RATE:
        return KIND_TEXT;
    case CF_FIELD_BIDS:
    case CF_FIELD_ASKS:
        return KIND_LEVELS;
    case CF_FIELD_BUYER_MAKER:
        return KIND_BOOL;
    default:
        return KIND_INT;
    }
}

static inline void skip_ws(scan_t *S) {
    while (S->i < S->n) {
        unsigned char c = (unsigned char)S->s[S->i];
        if (CF_LIKELY(c > ' ') || (c != ' ' && c != '\n' && c != '\r' && c != '\t')) break; /* one test, usually */
        S->i++;
    }
}

static inline int peek(const scan_t *S) { return S->i < S->n ? (unsigned char)S->s[S->i] : -1; }

/* Step over whitespace, then report whether the next byte is ch (consuming it). Exchanges send no
 * whitespace, so the first comparison almost always decides. */
static inline int accept(scan_t *S, char ch) {
    if (CF_LIKELY(S->i < S->n && S->s[S->i] == ch)) {
        S->i++;
        return 1;
    }
    skip_ws(S);
    if (S->i < S->n && S->s[S->i] == ch) {
        S->i++;
        return 1;
    }
    return 0;
}

static inline int is_hex(int c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* Length of a valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0 (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t i, size_t n) {
    unsigned c = s[i];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (i + len > n) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
    return len;
}

#ifdef CF_DECIMAL_SWAR
/* 0x80 in each byte of w equal to b (exact: no carry crosses a byte). */
static inline uint64_t swar_bytes_equal(uint64_t w, uint64_t b) {
    uint64_t x = w ^ (b * 0x0101010101010101ULL);
    return ~(((x & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | x) & 0x8080808080808080ULL;
}

/* 0x80 in each byte of w that a string scan must look at: '"', '\\', a control byte or a non-ASCII byte. */
static inline uint64_t swar_string_stops(uint64_t w) {
    uint64_t control = ~(((w & 0x7F7F7F7F7F7F7F7FULL) + 0x6060606060606060ULL) | w) & 0x8080808080808080ULL;
    return swar_bytes_equal(w, '"') | swar_bytes_equal(w, '\\') | control | (w & 0x8080808080808080ULL);
}
#endif

#ifdef CF_DECODE_SSE2
/* One bit for each of the 16 bytes at p that a string scan must look at, as swar_string_stops marks them
 * (the signed compare below 0x20 takes the non-ASCII bytes too): half the instructions per byte. */
static inline uint32_t string_stops16(const char *p) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i stops = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                 _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    return (uint32_t)_mm_movemask_epi8(stops);
}
#endif

/* From s[i]: the first byte a string cannot simply pass (a quote, a backslash, a control or non-ASCII byte),
 * read 16 (SSE2) or 8 bytes at a time; or, where fewer than 8 are left, the first of those, unread. */
static inline size_t skip_plain_bytes(const unsigned char *s, size_t i, size_t n) {
#ifdef CF_DECODE_FAST
#ifdef CF_DECODE_SSE2
    for (; i + 16 <= n; i += 16) {
        uint32_t stops = string_stops16((const char *)s + i);
        if (stops) return i + (size_t)__builtin_ctz(stops);
    }
#endif
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t stops = swar_string_stops(w);
        if (stops) return i + ((size_t)__builtin_ctzll(stops) >> 3);
    }
#else
    (void)s;
    (void)n;
#endif
    return i;
}

/* A string at S->i (the opening quote). The span excludes the quotes; *escaped tells whether it holds
 * a backslash escape (then the span is raw JSON text, not the string's value). */
static cf_status scan_string(scan_t *S, cf_span *out, int *escaped) {
    const unsigned char *s = (const unsigned char *)S->s;
    size_t i = S->i + 1, start = i;
    int esc = 0;
    for (;;) {
        i = skip_plain_bytes(s, i, S->n); /* then byte by byte from the first that needs a look */
        if (CF_UNLIKELY(i >= S->n)) return CF_EBADMSG;
        unsigned c = s[i];
        if (c == '"') break;
        if (CF_LIKELY(c >= 0x20 && c < 0x80 && c != '\\')) {
            i++;
            continue;
        }
        if (c == '\\') {
            esc = 1;
            if (i + 1 >= S->n) return CF_EBADMSG;
            unsigned e = s[i + 1];
            if (e == 'u') {
                if (i + 5 >= S->n) return CF_EBADMSG;
                for (size_t k = 2; k < 6; k++)
                    if (!is_hex(s[i + k])) return CF_EBADMSG;
                i += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                       e == 't') {
                i += 2;
            } else {
                return CF_EBADMSG;
            }
            continue;
        }
        if (c < 0x20) return CF_EBADMSG;
        size_t len = utf8_len(s, i, S->n);
        if (!len) return CF_EBADMSG;
        i += len;
    }
    out->p = S->s + start;
    out->len = (uint32_t)(i - start);
    *escaped = esc;
    S->i = i + 1;
    return CF_OK;
}

/* A string at S->i (the opening quote) with no escape, control or non-ASCII byte, as exchanges write names
 * and event types: 1 with the span scan_string would give and S->i past the closing quote; 0 and nothing
 * consumed for anything else (scan_string then reads it). */
static inline int plain_string(scan_t *S, cf_span *out) {
    size_t start = S->i + 1, end = skip_plain_bytes((const unsigned char *)S->s, start, S->n);
    if (end >= S->n || S->s[end] != '"') return 0;
    out->p = S->s + start;
    out->len = (uint32_t)(end - start);
    S->i = end + 1;
    return 1;
}

/* A number at S->i, by the JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static cf_status scan_number(scan_t *S, cf_span *out, int *is_int) {
    const char *s = S->s;
    size_t i = S->i, n = S->n, start = i;
    int integral = 1;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return CF_EBADMSG;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    } else {
        return CF_EBADMSG;
    }
    if (i < n && s[i] == '.') {
        integral = 0;
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return CF_EBADMSG;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return CF_EBADMSG;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    out->p = s + start;
    out->len = (uint32_t)(i - start);
    *is_int = integral;
    S->i = i;
    return CF_OK;
}

static cf_status match_word(scan_t *S, const char *word, size_t len) {
    if (S->n - S->i < len || memcmp(S->s + S->i, word, len) != 0) return CF_EBADMSG;
    S->i += len;
    return CF_OK;
}

static cf_status skip_value(scan_t *S, int depth);

/* Comma-separated members up to the closing bracket; S->i is just past the opening one. */
static cf_status skip_container(scan_t *S, int depth, char close, int object) {
    skip_ws(S);
    if (peek(S) == close) {
        S->i++;
        return CF_OK;
    }
    for (;;) {
        cf_status st;
        if (object) {
            cf_span key;
            int esc;
            skip_ws(S);
            if (peek(S) != '"') return CF_EBADMSG;
            if ((st = scan_string(S, &key, &esc)) != CF_OK) return st;
            skip_ws(S);
            if (peek(S) != ':') return CF_EBADMSG;
            S->i++;
        }
        if ((st = skip_value(S, depth + 1)) != CF_OK) return st;
        skip_ws(S);
        int c = peek(S);
        S->i++;
        if (c == ',') continue;
        if (c == close) return CF_OK;
        return CF_EBADMSG;
    }
}

static cf_status skip_value(scan_t *S, int depth) {
    if (depth > MAX_DEPTH) return CF_EDEPTH;
    skip_ws(S);
    cf_span span;
    int flag;
    switch (peek(S)) {
    case '{':
        S->i++;
        return skip_container(S, depth, '}', 1);
    case '[':
        S->i++;
        return skip_container(S, depth, ']', 0);
    case '"':
        return scan_string(S, &span, &flag);
    case 't':
        return match_word(S, "true", 4);
    case 'f':
        return match_word(S, "false", 5);
    case 'n':
        return match_word(S, "null", 4);
    case -1:
        return CF_EBADMSG;
    default:
        return scan_number(S, &span, &flag);
    }
}

/* A known field holds a value of the wrong type: skip it, so that the first problem in byte order is the
 * one reported (malformed JSON or too deep nesting inside the value outrank its type). */
static cf_status wrong_type(scan_t *S, int depth) {
    cf_status st = skip_value(S, depth);
    return st == CF_OK ? CF_ETYPE : st;
}

/* A decimal given as a JSON string or a JSON number: the span of its text. A string that holds exactly a
 * decimal is also parsed on the way (*parsed = 1, *value set): prices and sizes are read once. */
static cf_status scan_decimal_text(scan_t *S, cf_span *out, cf_decimal *value, int *parsed, int depth) {
    int flag;
    int c = peek(S);
    *parsed = 0;
    if (CF_LIKELY(c == '"')) {
        size_t start = S->i + 1, end;
        cf_status st = cf_decimal_scan(S->s + start, S->n - start, value, &end);
        size_t close = start + end;
        if (CF_LIKELY(close < S->n && S->s[close] == '"')) {
            out->p = S->s + start;
            out->len = (uint32_t)end;
            S->i = close + 1;
            *parsed = st == CF_OK;
            return CF_OK;
        }
        /* anything else (escapes, letters, bad bytes): the full string rules decide */
        cf_status sst = scan_string(S, out, &flag);
        if (sst != CF_OK) return sst;
        return flag ? CF_ETYPE : CF_OK; /* an escape never belongs in a number */
    }
    if (c == '-' || (c >= '0' && c <= '9')) return scan_number(S, out, &flag);
    return wrong_type(S, depth);
}

cf_status cf_decode_int(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    int negative = 0;
    if (n && s[0] == '-') {
        negative = 1;
        i = 1;
    }
    if (i >= n || (s[i] == '0' && n - i > 1)) return CF_ETYPE;
    uint64_t v = 0;
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return CF_ETYPE;
        if (v > (limit - d) / 10u) return CF_ERANGE;
        v = v * 10u + d;
    }
    *out = negative ? (int64_t)(0u - v) : (int64_t)v;
    return CF_OK;
}

#ifdef CF_DECIMAL_SWAR
/* The decimal inside a JSON string as exchanges write prices and sizes: digits, a dot and digits, 8 digits
 * at most in all ("63943.90", "0.021"), then the closing quote. s[0..avail) follows the opening quote and
 * avail >= 10. The dot is squeezed out of the 8-byte word, so one eight-digit multiply gives the mantissa
 * (cf_decimal_scan reads the two parts separately). Returns the length before the closing quote with *out
 * exactly as cf_decimal_scan sets it, or 0 for any other text (which cf_decimal_scan then reads). It serves
 * the levels the 32-byte window cannot (the message tail, and machines without SSE2). */
static inline size_t quoted_decimal8(const char *s, cf_decimal *out) {
    uint64_t w, shifted;
    memcpy(&w, s, 8);
    uint64_t nd = cf_swar_nondigits(w);
    if (CF_UNLIKELY(!nd)) { /* eight digits: an integer, or longer than this reader takes */
        if (s[8] != '"') return 0;
        out->mantissa = (int64_t)cf_swar_digits(w, 8);
        out->decimals = 0;
        return 8;
    }
    uint32_t int_len = (uint32_t)__builtin_ctzll(nd) >> 3;
    if (CF_UNLIKELY(int_len == 0)) return 0; /* '-', '.5', junk: the general reader decides */
    if (s[int_len] != '.') {
        if (s[int_len] != '"') return 0;
        out->mantissa = (int64_t)cf_swar_digits(w, int_len);
        out->decimals = 0;
        return int_len;
    }
    /* digits = the integer digits, then the bytes after the dot: s[0..int_len) ++ s[int_len+1..9) */
    memcpy(&shifted, s + 1, 8);
    uint64_t int_bytes = (1ULL << (8 * int_len)) - 1; /* int_len <= 7 */
    uint64_t digits = (w & int_bytes) | (shifted & ~int_bytes);
    uint64_t dnd = cf_swar_nondigits(digits);
    uint32_t n_digits = dnd ? (uint32_t)__builtin_ctzll(dnd) >> 3 : 8;
    if (n_digits == int_len || s[n_digits + 1] != '"') return 0; /* "5." or more than 8 digits or junk */
    /* Trailing fractional zeros carry no value: keep the digits up to the last non-zero one after the dot. */
    uint64_t fraction = (n_digits == 8 ? ~0ULL : (1ULL << (8 * n_digits)) - 1) & ~int_bytes;
    uint64_t nonzero = ~cf_swar_zeros(digits) & 0x8080808080808080ULL & fraction;
    nonzero |= 0x80ULL << (8 * (int_len - 1)); /* the last integer digit: no branch on "0.000" */
    uint32_t kept = (uint32_t)(64 - __builtin_clzll(nonzero)) >> 3;
    out->mantissa = (int64_t)cf_swar_digits(digits, kept);
    out->decimals = (int32_t)(kept - int_len);
    return n_digits + 1;
}
#endif

/* A quoted decimal's text from s[0..avail) (just past the opening quote) into *out: its length before the
 * closing quote, or (size_t)-1 when it is not exactly a decimal followed by a quote. */
static inline size_t quoted_decimal(const char *s, size_t avail, cf_decimal *out) {
    size_t end;
#ifdef CF_DECIMAL_SWAR
    if (CF_LIKELY(avail >= 10)) {
        size_t len = quoted_decimal8(s, out);
        if (CF_LIKELY(len)) return len;
    }
#endif
    if (cf_decimal_scan(s, avail, out, &end) != CF_OK || end >= avail || s[end] != '"') return (size_t)-1;
    return end;
}

/* A JSON integer of 1 to 15 digits, no sign and no leading zero (ids and times as exchanges send them),
 * read eight digits at a time: 1 and its value, or 0 and nothing consumed, and the general path decides
 * (a fraction or exponent after the digits included). Fifteen digits never overflow int64. */
static inline int plain_int(scan_t *S, int64_t *out) {
#ifdef CF_DECODE_FAST
    const char *s = S->s + S->i;
    if (S->n - S->i < 17 || s[0] < '1' || s[0] > '9') return 0;
    uint64_t hi, lo;
    memcpy(&hi, s, 8);
    memcpy(&lo, s + 8, 8);
    uint64_t hi_nd = cf_swar_nondigits(hi);
    uint64_t value;
    size_t len;
    if (hi_nd) {
        len = (size_t)__builtin_ctzll(hi_nd) >> 3;
        value = cf_swar_digits(hi, (uint32_t)len);
    } else {
        uint64_t lo_nd = cf_swar_nondigits(lo);
        if (!lo_nd) return 0; /* more than 16 digits */
        size_t lo_len = (size_t)__builtin_ctzll(lo_nd) >> 3;
        static const uint64_t P10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
        value = cf_swar_digits(hi, 8) * P10[lo_len] + (lo_len ? cf_swar_digits(lo, (uint32_t)lo_len) : 0);
        len = 8 + lo_len;
    }
    if (s[len] == '.' || s[len] == 'e' || s[len] == 'E') return 0;
    *out = (int64_t)value;
    S->i += len;
    return 1;
#else
    (void)S;
    (void)out;
    return 0;
#endif
}

/* One level ["<decimal>","<decimal>"] at s[i] (no whitespace), read byte by byte: 1 with *lv filled and
 * *next just past its ']', or 0. */
static inline int plain_level(const char *s, size_t i, size_t n, cf_text_level *lv, size_t *next) {
    size_t end;
    if (i + 2 > n || s[i] != '[' || s[i + 1] != '"') return 0;
    size_t px_start = i + 2;
    if ((end = quoted_decimal(s + px_start, n - px_start, &lv->px_value)) == (size_t)-1) return 0;
    size_t j = px_start + end; /* s[j] is the closing quote */
    if (j + 3 > n || s[j + 1] != ',' || s[j + 2] != '"') return 0;
    size_t qty_start = j + 3;
    if ((end = quoted_decimal(s + qty_start, n - qty_start, &lv->qty_value)) == (size_t)-1) return 0;
    size_t k = qty_start + end;
    if (k + 2 > n || s[k + 1] != ']') return 0;
    lv->px = s + px_start;
    lv->px_len = (uint32_t)(j - px_start);
    lv->qty = s + qty_start;
    lv->qty_len = (uint32_t)end;
    *next = k + 2;
    return 1;
}

#ifdef CF_DECODE_SSE2
static inline uint32_t mask32(__m128i lo, __m128i hi) {
    return (uint32_t)_mm_movemask_epi8(lo) | (uint32_t)_mm_movemask_epi8(hi) << 16;
}

static inline uint32_t bytes_equal32(__m128i lo, __m128i hi, char c) {
    const __m128i v = _mm_set1_epi8(c);
    return mask32(_mm_cmpeq_epi8(lo, v), _mm_cmpeq_epi8(hi, v));
}

/* v - '0' is at most 9, unsigned, only for a digit (bytes below '0' wrap round to 0xD0 and up) */
static inline __m128i digits16(__m128i v) {
    const __m128i nine = _mm_set1_epi8(9);
    return _mm_cmpeq_epi8(_mm_max_epu8(_mm_sub_epi8(v, _mm_set1_epi8('0')), nine), nine);
}

/* Tables instead of shifts by a variable count: x86-64 shifts those only by %cl, and a level's ten of them made
 * the compiler spill its other values to the stack (~35 stack moves per level). */
static const uint64_t LOW_BYTES[9] = {0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFULL, 0xFFFFFFFFFFFFULL,
                                      0xFFFFFFFFFFFFFFULL, ~0ULL};
/* times 256^(8 - kept digits): moves the kept digits to the top bytes (a shift, as a multiply) */
static const uint64_t ALIGN[9] = {0, 1ULL << 56, 1ULL << 48, 1ULL << 40, 1ULL << 32, 1ULL << 24, 1ULL << 16,
                                  1ULL << 8, 1};

/* Where the bytes of a level ["<decimal>","<decimal>"] are in a 32-byte window starting at its '[', as bits,
 * and what follows from them. The levels of a message mostly share one shape (prices, and sizes, with the
 * same number of digits), so window_level keeps the shape of the last level it read: a level that matches
 * it is checked with one comparison and converted without working its shape out again. */
typedef struct {
    __m128i lo, hi;                   /* a window holding a level of this shape */
    uint32_t structure;               /* bytes that must equal that window's: '[', quotes, ',', dots, ']' */
    uint32_t digits;                  /* bytes that must be digits: the values but their dots */
    uint32_t span;                    /* the level's bytes: structure | digits, once a shape is known */
    uint32_t px_fraction, qty_fraction; /* digits after each value's dot */
    uint32_t px_dot_bit, qty_dot_bit;   /* each value's dot, or the quote after it when it has none */
    uint32_t px_dot, qty_dot;           /* their positions */
    uint32_t px_len, qty_start, qty_len;
    uint64_t px_integer, qty_integer; /* LOW_BYTES of each value's digits before its dot */
} level_shape;

/* No shape yet: no byte is checked, so none can be found as the span requires. */
static inline void shape_init(level_shape *shape) {
    shape->lo = shape->hi = _mm_setzero_si128();
    shape->span = ~0u;
    shape->structure = shape->digits = shape->px_fraction = shape->qty_fraction = shape->px_dot_bit = shape->qty_dot_bit = 0;
    shape->px_dot = shape->qty_dot = shape->px_len = shape->qty_start = shape->qty_len = 0;
    shape->px_integer = shape->qty_integer = 0;
}

/* The shape of the level in the window lo, hi at p (digit: its digit bits) into *shape, after checking it
 * against the general reader's rules for the decimals read here: [0-9]+(.[0-9]+)? with 8 digits at most.
 * Returns 0 when it is anything else (*shape then unchanged), and the general path decides. */
static inline int learn_shape(const char *p, __m128i lo, __m128i hi, uint32_t digit, level_shape *shape) {
    if (p[0] != '[' || p[1] != '"') return 0;
    uint32_t quotes = bytes_equal32(lo, hi, '"') & ~3u; /* after the quote opening the price */
    /* a value holds 9 bytes at most (8 digits and a dot): the price ends by byte 11, the quantity by 23 */
    uint32_t px_end = (uint32_t)__builtin_ctz(quotes | 1u << 31);
    if (px_end > 11 || p[px_end + 1] != ',' || p[px_end + 2] != '"') return 0;
    uint32_t px_end_bit = quotes & (0u - quotes);
    uint32_t rest = quotes & (quotes - 1u);
    rest &= rest - 1u; /* the quote opening the quantity (at px_end + 2) gone too */
    uint32_t qty_end = (uint32_t)__builtin_ctz(rest | 1u << 31);
    if (qty_end > 23 || p[qty_end + 1] != ']') return 0;
    uint32_t qty_end_bit = rest & (0u - rest);
    uint32_t qty_start = px_end + 3, qty_start_bit = px_end_bit << 3;
    uint32_t px_region = px_end_bit - (1u << 2), qty_region = qty_end_bit - qty_start_bit;
    uint32_t dot = bytes_equal32(lo, hi, '.');
    uint32_t px_dots = px_region & dot, qty_dots = qty_region & dot;
    /* first and last byte of each value; an empty value puts a quote there */
    uint32_t ends = 1u << 2 | px_end_bit >> 1 | qty_start_bit | qty_end_bit >> 1;
    uint32_t bad = ((px_region | qty_region) & ~(digit | dot)) | (ends & ~digit) | (px_dots & (px_dots - 1u)) |
                   (qty_dots & (qty_dots - 1u));
    if (bad || px_end - 2 - (px_dots != 0) > 8 || qty_end - qty_start - (qty_dots != 0) > 8) return 0;
    uint32_t px_dot_bit = px_dots ? px_dots : px_end_bit, qty_dot_bit = qty_dots ? qty_dots : qty_end_bit;
    shape->lo = lo;
    shape->hi = hi;
    shape->digits = (px_region | qty_region) & ~dot;
    shape->span = (qty_end_bit << 2) - 1u; /* bytes 0 to qty_end + 1 */
    shape->structure = shape->span & ~shape->digits;
    shape->px_fraction = px_region & (0u - (px_dot_bit << 1));
    shape->qty_fraction = qty_region & (0u - (qty_dot_bit << 1));
    shape->px_dot_bit = px_dot_bit;
    shape->qty_dot_bit = qty_dot_bit;
    shape->px_dot = (uint32_t)__builtin_ctz(px_dot_bit);
    shape->qty_dot = (uint32_t)__builtin_ctz(qty_dot_bit);
    shape->px_len = px_end - 2;
    shape->qty_start = qty_start;
    shape->qty_len = qty_end - qty_start;
    shape->px_integer = LOW_BYTES[shape->px_dot - 2];
    shape->qty_integer = LOW_BYTES[shape->qty_dot - qty_start];
    return 1;
}

/* The digits that cf_decimal_scan keeps of the value at v, of a known shape (integer: LOW_BYTES of its digits
 * before the dot; kept: 1 to 8 digits, up to the last non-zero one after the dot), as ASCII right-aligned in
 * eight bytes, most significant in the lowest byte, zero bytes in front. */
static inline uint64_t shaped_digits(const char *v, uint64_t integer, uint32_t kept) {
    uint64_t w, after_dot;
    memcpy(&w, v, 8);
    memcpy(&after_dot, v + 1, 8);
    /* squeeze the dot out: the integer digits, then the bytes after the dot */
    uint64_t digits = ((w ^ after_dot) & integer) ^ after_dot;
    return digits * ALIGN[kept];
}

/* The values of two eight-byte groups of right-aligned ASCII digits (as shaped_digits leaves them), both in
 * one pass of SSE2 multiply-adds: digit pairs, then quads, then octets. Every step fits its lanes: quads
 * are at most 9,999 (16 bits, and 10,000 is a 16-bit factor), octets at most 99,999,999 (32 bits). */
static inline void digits8_pair(uint64_t a, uint64_t b, int64_t *a_value, int64_t *b_value) {
    __m128i v = _mm_and_si128(_mm_set_epi64x((long long)b, (long long)a), _mm_set1_epi8(0x0F));
    const __m128i zero = _mm_setzero_si128();
    __m128i a16 = _mm_madd_epi16(_mm_unpacklo_epi8(v, zero), _mm_set_epi16(1, 10, 1, 10, 1, 10, 1, 10));
    __m128i b16 = _mm_madd_epi16(_mm_unpackhi_epi8(v, zero), _mm_set_epi16(1, 10, 1, 10, 1, 10, 1, 10));
    __m128i quads = _mm_madd_epi16(_mm_packs_epi32(a16, b16), _mm_set_epi16(1, 100, 1, 100, 1, 100, 1, 100));
    __m128i octets =
        _mm_madd_epi16(_mm_packs_epi32(quads, quads), _mm_set_epi16(1, 10000, 1, 10000, 1, 10000, 1, 10000));
    *a_value = _mm_cvtsi128_si32(octets);
    *b_value = _mm_cvtsi128_si32(_mm_srli_si128(octets, 4));
}

/* plain_level for a level that lies within the 32 bytes at p (the caller checked they exist): one set of
 * vector compares classifies both values at once. A level of the shape of the last one read is checked in
 * one comparison (the same bytes where that one had '[', quotes, ',', dots and ']', digits elsewhere), any
 * other by learn_shape. Returns the level's length (through its ']'), or 0 and the general path decides.
 * Every read of p comes before the stores to *lv. Real USD-M depth (87% of levels shaped as the one
 * before): the scan from 14.4k to 9.4k instructions per message (callgrind, C driver), 0.94 -> ~0.73 us,
 * against a full check and a shape worked out for every level (which learn_shape still does for the rest). */
static inline size_t window_level(const char *restrict p, level_shape *restrict shape, cf_text_level *restrict lv) {
    __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    uint32_t digit = mask32(digits16(lo), digits16(hi));
    uint32_t same = mask32(_mm_cmpeq_epi8(lo, shape->lo), _mm_cmpeq_epi8(hi, shape->hi));
    uint32_t nonzero = ~bytes_equal32(lo, hi, '0');
    if (CF_UNLIKELY(((same & shape->structure) | (digit & shape->digits)) != shape->span) &&
        !learn_shape(p, lo, hi, digit, shape))
        return 0;
    /* the highest bit kept: the last non-zero fraction digit, or the dot (or the end) when there is none */
    uint32_t px_top = 31u - (uint32_t)__builtin_clz((nonzero & shape->px_fraction) | shape->px_dot_bit);
    uint32_t qty_top = 31u - (uint32_t)__builtin_clz((nonzero & shape->qty_fraction) | shape->qty_dot_bit);
    uint32_t qty_start = shape->qty_start;
    int64_t px_mantissa, qty_mantissa;
    digits8_pair(shaped_digits(p + 2, shape->px_integer, px_top - 2),
                 shaped_digits(p + qty_start, shape->qty_integer, qty_top - qty_start), &px_mantissa, &qty_mantissa);
    lv->px = p + 2;
    lv->px_len = shape->px_len;
    lv->qty = p + qty_start;
    lv->qty_len = shape->qty_len;
    lv->px_value.mantissa = px_mantissa;
    lv->px_value.decimals = (int32_t)(px_top - shape->px_dot);
    lv->qty_value.mantissa = qty_mantissa;
    lv->qty_value.decimals = (int32_t)(qty_top - shape->qty_dot);
    lv->parsed = CF_PARSED_PX | CF_PARSED_QTY;
    return qty_start + shape->qty_len + 2;
}
#endif

/* Where fast_levels stopped: at the start of a level it does not read (or past a comma), just after a
 * level (whitespace follows), or past the closing bracket of the array. */
enum { AT_LEVEL, AFTER_LEVEL, AT_END };

/* Levels of the shape exchanges send, ["<decimal>","<decimal>"] with no whitespace, one after another from
 * S->i in one tight loop (locals only, so level stores cannot make the compiler reload the scanner state).
 * It accepts exactly what the general path accepts for that shape, with the same spans and values, and
 * consumes nothing of a level it does not read, so the general path then reads it with all its checks and
 * reports any error at the same offset. */
static inline int fast_levels(scan_t *S, int side, size_t *count_io) {
    const char *const s = S->s;
    const size_t n = S->n, cap = S->cap[side];
    cf_text_level *const levels = S->levels[side];
    size_t i = S->i, count = *count_io;
    cf_text_level spare;
    int where = AFTER_LEVEL;
#ifdef CF_DECODE_SSE2
    level_shape shape;
    shape_init(&shape);
#endif
    for (;;) {
#ifdef CF_DECODE_SSE2
        /* The steady state: levels in 32-byte windows, while the caller's array has room. */
        if (CF_LIKELY(count < cap && n - i >= 32)) {
            const char *p = s + i, *const last_window = s + n - 32;
            cf_text_level *lv = levels + count, *const lv_end = levels + cap;
            int after_level = 0;
            for (;;) {
                size_t used = window_level(p, &shape, lv);
                if (!used) break; /* at a level it does not read */
                p += used;
                lv++;
                if (CF_UNLIKELY(*p != ',')) { /* inside the window: used <= 25 */
                    after_level = 1;
                    break;
                }
                p++;
                if (CF_UNLIKELY(p > last_window || lv == lv_end)) break; /* at the next level */
            }
            count = (size_t)(lv - levels);
            i = (size_t)(p - s);
            if (after_level) {
                if (s[i] == ']') {
                    i++;
                    where = AT_END;
                }
                break;
            }
        }
#endif
        cf_text_level *lv = CF_LIKELY(count < cap) ? &levels[count] : &spare;
        size_t next;
        if (!plain_level(s, i, n, lv, &next)) {
            where = AT_LEVEL;
            break;
        }
        lv->parsed = CF_PARSED_PX | CF_PARSED_QTY;
        count++;
        i = next;
        if (CF_LIKELY(i < n && s[i] == ',')) {
            i++;
            continue;
        }
        if (i < n && s[i] == ']') {
            i++;
            where = AT_END;
        }
        break;
    }
    S->overflow |= count > cap;
    S->i = i;
    *count_io = count;
    return where;
}

/* [[price, quantity, ...extra], ...]: spans (and parsed values) of the first two elements of each level. */
static cf_status scan_levels(scan_t *S, int side, int depth) {
    if (peek(S) != '[') return wrong_type(S, depth);
    S->i++;
    size_t count = 0;
    if (!accept(S, ']')) {
        for (;;) {
            cf_span px, qty;
            cf_decimal px_value, qty_value;
            int px_parsed, qty_parsed;
            cf_status st;
#ifdef CF_DECODE_FAST
            int where = fast_levels(S, side, &count);
            if (CF_LIKELY(where == AT_END)) break;
            if (where == AFTER_LEVEL) {
                if (accept(S, ',')) continue;
                if (accept(S, ']')) break;
                return CF_EBADMSG;
            }
#endif
            if (!accept(S, '[')) {
                skip_ws(S);
                return wrong_type(S, depth + 1);
            }
            if (accept(S, ']')) return CF_ETYPE; /* [] is valid JSON but no level */
            skip_ws(S);
            if ((st = scan_decimal_text(S, &px, &px_value, &px_parsed, depth + 2)) != CF_OK) return st;
            if (!accept(S, ',')) return peek(S) == ']' ? CF_ETYPE : CF_EBADMSG;
            skip_ws(S);
            if ((st = scan_decimal_text(S, &qty, &qty_value, &qty_parsed, depth + 2)) != CF_OK) return st;
            while (accept(S, ',')) { /* some venues append order counts and more */
                if ((st = skip_value(S, depth + 2)) != CF_OK) return st;
            }
            if (!accept(S, ']')) return CF_EBADMSG;
            if (CF_LIKELY(count < S->cap[side])) {
                cf_text_level *lv = &S->levels[side][count];
                lv->px = px.p;
                lv->px_len = px.len;
                lv->qty = qty.p;
                lv->qty_len = qty.len;
                lv->px_value = px_value;
                lv->qty_value = qty_value;
                lv->parsed = (px_parsed ? CF_PARSED_PX : 0u) | (qty_parsed ? CF_PARSED_QTY : 0u);
            } else {
                S->overflow = 1;
            }
            count++;
            if (accept(S, ',')) continue;
            if (accept(S, ']')) break;
            return CF_EBADMSG;
        }
    }
    if (count > UINT32_MAX) return CF_EBADMSG;
    if (side == 0) S->rec->n_bids = (uint32_t)count;
    else S->rec->n_asks = (uint32_t)count;
    return CF_OK;
}

static cf_status read_field(scan_t *S, cf_field f, int depth) {
    cf_record *rec = S->rec;
    cf_span span;
    int flag;
    cf_status st;
    S->field = (int32_t)f;
    if (rec->present & CF_FIELD_BIT(f)) return CF_EDUPKEY;
    switch (kind_of(f)) {
    case KIND_LEVELS:
        st = scan_levels(S, f == CF_FIELD_BIDS ? 0 : 1, depth);
        break;
    case KIND_TEXT:
        if (f == CF_FIELD_EVENT || f == CF_FIELD_SYMBOL || f == CF_FIELD_TRADE_TYPE) {
            if (peek(S) != '"') return wrong_type(S, depth);
            if (CF_LIKELY(plain_string(S, &span))) {
                st = CF_OK;
                rec->strs[f] = span;
                break;
            }
            st = scan_string(S, &span, &flag);
            if (st == CF_OK && flag) st = CF_ETYPE;
        } else {
            cf_decimal ignored;
            st = scan_decimal_text(S, &span, &ignored, &flag, depth);
        }
        rec->strs[f] = span;
        break;
    case KIND_BOOL:
        if (peek(S) == 't') {
            st = match_word(S, "true", 4);
            rec->ints[f] = 1;
        } else if (peek(S) == 'f') {
            st = match_word(S, "false", 5);
            rec->ints[f] = 0;
        } else {
            st = wrong_type(S, depth);
        }
        break;
    default: /* KIND_INT: a JSON integer, or a string holding one (some venues quote ids) */
        if (CF_LIKELY(plain_int(S, &rec->ints[f]))) {
            st = CF_OK;
        } else if (peek(S) == '"') {
            st = scan_string(S, &span, &flag);
            if (st == CF_OK) st = flag ? CF_ETYPE : cf_decode_int(span.p, span.len, &rec->ints[f]);
        } else if (peek(S) == '-' || (peek(S) >= '0' && peek(S) <= '9')) {
            st = scan_number(S, &span, &flag);
            if (st == CF_OK) st = flag ? cf_decode_int(span.p, span.len, &rec->ints[f]) : CF_ETYPE;
        } else {
            st = wrong_type(S, depth);
        }
        break;
    }
    if (st == CF_OK) rec->present |= CF_FIELD_BIT(f);
    return st;
}

static unsigned hex_value(char c) {
    return (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

/* Resolve the escapes of a key (already validated by scan_string) into buf as UTF-8, so that "\u0075" is
 * the key "u", as any JSON parser reads it. Returns 0 when it does not fit (no layout key is that long) or
 * holds a lone surrogate (no layout key can match it). */
static int unescape_key(cf_span key, char *buf, size_t cap, cf_span *out) {
    size_t o = 0;
    for (size_t i = 0; i < key.len;) {
        char c = key.p[i];
        uint32_t cp;
        if (c != '\\') {
            cp = (unsigned char)c;
            i++;
            if (o >= cap) return 0;
            buf[o++] = (char)cp;
            continue;
        }
        char e = key.p[i + 1];
        i += 2;
        switch (e) {
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            cp = hex_value(key.p[i]) << 12 | hex_value(key.p[i + 1]) << 8 | hex_value(key.p[i + 2]) << 4 |
                 hex_value(key.p[i + 3]);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= key.len && key.p[i] == '\\' && key.p[i + 1] == 'u') {
                uint32_t low = hex_value(key.p[i + 2]) << 12 | hex_value(key.p[i + 3]) << 8 |
                               hex_value(key.p[i + 4]) << 4 | hex_value(key.p[i + 5]);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
            break;
        default: cp = (unsigned char)e; break; /* " \ / */
        }
        char utf8[4];
        size_t len;
        if (cp < 0x80) { utf8[0] = (char)cp; len = 1; }
        else if (cp < 0x800) { utf8[0] = (char)(0xC0 | cp >> 6); utf8[1] = (char)(0x80 | (cp & 0x3F)); len = 2; }
        else if (cp < 0x10000) {
            utf8[0] = (char)(0xE0 | cp >> 12); utf8[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            utf8[2] = (char)(0x80 | (cp & 0x3F)); len = 3;
        } else {
            utf8[0] = (char)(0xF0 | cp >> 18); utf8[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            utf8[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); utf8[3] = (char)(0x80 | (cp & 0x3F)); len = 4;
        }
        if (o + len > cap) return 0;
        memcpy(buf + o, utf8, len);
        o += len;
    }
    out->p = buf;
    out->len = (uint32_t)o;
    return 1;
}

/* Keys are a few bytes: a plain loop beats strlen + memcmp calls. The NUL check stops at the end of name
 * even when an escaped key holds a NUL byte. */
static int key_is(cf_span key, const char *name) {
    for (uint32_t k = 0; k < key.len; k++)
        if (name[k] == '\0' || name[k] != key.p[k]) return 0;
    return name[key.len] == '\0';
}

/* Messages list their keys in one order and layouts are written in that order, so the search starts after
 * the key found last and usually matches at once. Header-only real USD-M messages: 167 -> 158 ns each. */
static int lookup(scan_t *S, cf_span key) {
    const cf_layout *layout = S->layout;
    const uint32_t n = layout->n_keys;
    if (!key.len) return -1;
    uint32_t k = S->next_key < n ? S->next_key : 0;
    for (uint32_t tried = 0; tried < n; tried++) {
        const char *name = layout->keys[k].name;
        /* Keys are short: compare the first byte before the rest. */
        if (name[0] == key.p[0] && key_is(key, name)) {
            S->next_key = k + 1;
            return (int)layout->keys[k].field;
        }
        if (++k == n) k = 0;
    }
    return -1;
}

/* A key as exchanges write it, at S->i: "<1 to 7 (15 with SSE2) plain bytes>": with no whitespace. Plain
 * bytes (no escape, control or non-ASCII byte) are the key's value, so this reads what the general path
 * reads: 1 with *key set and S->i just past the colon, as scan_member leaves it before its whitespace skip;
 * 0 and nothing consumed for anything else (an escape, whitespace, a longer key), which scan_member reads. */
static inline int plain_key(scan_t *S, cf_span *key) {
#ifdef CF_DECODE_FAST
    const char *s = S->s + S->i;
    if (S->n - S->i < 10 || s[0] != '"') return 0;
    if (s[2] == '"') { /* one byte, as most keys on Binance: compared, not scanned */
        unsigned c = (unsigned char)s[1];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || s[3] != ':') return 0;
        key->p = s + 1;
        key->len = 1;
        S->i += 4;
        return 1;
    }
    uint32_t len;
#ifdef CF_DECODE_SSE2
    if (CF_LIKELY(S->n - S->i >= 18)) { /* up to 15 bytes ("lastUpdateId" too) */
        uint32_t stops = string_stops16(s + 1);
        if (!stops) return 0;
        len = (uint32_t)__builtin_ctz(stops);
    } else
#endif
    {
        uint64_t w;
        memcpy(&w, s + 1, 8);
        uint64_t stops = swar_string_stops(w);
        if (!stops) return 0;
        len = (uint32_t)__builtin_ctzll(stops) >> 3;
    }
    if (len == 0 || s[1 + len] != '"' || s[2 + len] != ':') return 0;
    key->p = s + 1;
    key->len = len;
    S->i += len + 3;
    return 1;
#else
    (void)S;
    (void)key;
    return 0;
#endif
}

static cf_status scan_object(scan_t *S, int depth);

/* What a member's key (S->i at its value, past any whitespace) means: a layout key sets *field and leaves
 * S->i at its value for read_field; the envelope's keys read their value; any other member is read whole
 * (*field = -1). */
static inline cf_status member_value(scan_t *S, int depth, cf_span key, int *field) {
    const cf_layout *layout = S->layout;
    int esc;
    /* With envelope_first, no layout key can be named like these two, so the order changes no result; it
     * spares "stream" and "data" a failed search of every layout key (~500 instructions per message). */
    if (!layout->envelope_first && (*field = lookup(S, key)) >= 0) return CF_OK;
    *field = -1;
    if (layout->envelope && peek(S) == '{' && key_is(key, layout->envelope)) {
        S->i++;
        return scan_object(S, depth);
    }
    if (layout->stream && peek(S) == '"' && key_is(key, layout->stream)) {
        if (CF_LIKELY(plain_string(S, &S->rec->stream))) return CF_OK;
        return scan_string(S, &S->rec->stream, &esc);
    }
    if (layout->envelope_first && (*field = lookup(S, key)) >= 0) return CF_OK;
    return skip_value(S, depth);
}

/* One member at S->i by the general rules: any key, escaped or not, whitespace anywhere. */
static cf_status scan_member(scan_t *S, int depth, int *field) {
    cf_span key;
    int esc, known = 1;
    char unescaped[64];
    cf_status st;
    *field = -1;
    skip_ws(S);
    if (peek(S) != '"') return CF_EBADMSG;
    if ((st = scan_string(S, &key, &esc)) != CF_OK) return st;
    if (CF_UNLIKELY(esc)) known = unescape_key(key, unescaped, sizeof unescaped, &key);
    skip_ws(S);
    if (peek(S) != ':') return CF_EBADMSG;
    S->i++;
    skip_ws(S);
    if (!known) return skip_value(S, depth);
    return member_value(S, depth, key, field);
}

/* The members of an object (S->i just past '{'), reading the layout's fields and entering the envelope. */
static cf_status scan_object(scan_t *S, int depth) {
    if (depth > MAX_DEPTH) return CF_EDEPTH;
    skip_ws(S);
    if (peek(S) == '}') {
        S->i++;
        return CF_OK;
    }
    for (;;) {
        cf_status st;
        cf_span key;
        int field;
        if (CF_LIKELY(plain_key(S, &key))) {
            if (CF_UNLIKELY(S->i < S->n && (unsigned char)S->s[S->i] <= ' ')) skip_ws(S);
            /* Messages list their keys in one order: the one the layout expects next usually comes. lookup
             * would try it first too, and with envelope_first no layout key is named like the envelope's
             * keys, so taking it here changes no result. */
            const cf_layout_key *expected = &S->layout->keys[S->next_key];
            if (CF_LIKELY(S->next_key < S->layout->n_keys && expected->name[0] == key.p[0] &&
                          (key.len == 1 ? expected->name[1] == '\0' : key_is(key, expected->name)))) {
                S->next_key++;
                field = (int)expected->field;
                st = CF_OK;
            } else {
                st = member_value(S, depth + 1, key, &field);
            }
        } else {
            st = scan_member(S, depth + 1, &field);
        }
        if (st == CF_OK && field >= 0) st = read_field(S, (cf_field)field, depth + 1);
        if (st != CF_OK) return st;
        int c = peek(S);
        if (CF_UNLIKELY(c <= ' ')) { /* whitespace, or the end (-1): exchanges send a ',' or '}' here */
            skip_ws(S);
            c = peek(S);
        }
        S->i++;
        if (c == ',') continue;
        if (c == '}') return CF_OK;
        return CF_EBADMSG;
    }
}

cf_status cf_decode(const cf_layout *layout, const char *msg, size_t len, cf_record *rec, cf_text_level *bids,
                    size_t bids_cap, cf_text_level *asks, size_t asks_cap) {
    scan_t S = {msg, len, 0, layout, rec, {bids, asks}, {bids_cap, asks_cap}, 0, -1, 0};
    rec->present = 0;
    rec->stream.p = NULL;
    rec->stream.len = 0;
    rec->n_bids = rec->n_asks = 0;
    rec->error_offset = 0;
    rec->error_field = -1;
    if (len > UINT32_MAX) return CF_EBADMSG; /* spans hold 32-bit lengths */
    cf_status st = CF_EBADMSG;
    skip_ws(&S);
    if (peek(&S) == '{') {
        S.i++;
        st = scan_object(&S, 1);
        if (st == CF_OK) {
            skip_ws(&S);
            if (S.i != len) st = CF_EBADMSG; /* one message, nothing after it */
        }
    }
    if (st != CF_OK) {
        rec->error_offset = (uint32_t)(S.i < len ? S.i : len);
        rec->error_field = st == CF_EBADMSG || st == CF_EDEPTH ? -1 : S.field;
        return st;
    }
    if (S.overflow) return CF_ENOSPC;
    if ((rec->present & layout->required) != layout->required) {
        uint32_t missing = layout->required & ~rec->present;
        rec->error_field = __builtin_ctz(missing);
        return CF_EMISSING;
    }
    /* The event's text holds no escape (read_field refuses one) and so no NUL: strncmp stops at the end of
     * the shorter of the two, and the library's word-wise compare beats key_is's byte loop on "depthUpdate". */
    if (layout->event && (rec->present & CF_FIELD_BIT(CF_FIELD_EVENT))) {
        cf_span event = rec->strs[CF_FIELD_EVENT];
        if (strncmp(layout->event, event.p, event.len) != 0 || layout->event[event.len] != '\0') {
            rec->error_field = CF_FIELD_EVENT;
            return CF_ETYPE;
        }
    }
    return CF_OK;
}
