/* SPDX-License-Identifier: MIT */
/* csrc/decode/decode.c built with its general byte-wise scanner only, under other names, as the reference
 * for test_decode_fast_paths.c. */
#define CF_DECODE_GENERAL_ONLY 1
#define cf_decode cf_decode_general
#define cf_decode_int cf_decode_int_general
#include "decode/decode.c"
