/* zlib for Swift. deflateInit2 and inflateInit2 are function-like macros (they pass the
 * library version and the stream's size), which Swift cannot call, so they are wrapped here. */
#ifndef STEWARD_CZLIB_SHIM_H
#define STEWARD_CZLIB_SHIM_H

#include <zlib.h>

/* A raw deflate stream (RFC 1951: no zlib header or checksum) at `level`, window 2^15, with
 * 2^(mem_level + 7) hash heads (zlib's default mem_level is 8). */
static inline int stw_deflate_init_raw(z_stream *stream, int level, int mem_level) {
    return deflateInit2(stream, level, Z_DEFLATED, -15, mem_level, Z_DEFAULT_STRATEGY);
}

/* The inflating side of stw_deflate_init_raw. */
static inline int stw_inflate_init_raw(z_stream *stream) {
    return inflateInit2(stream, -15);
}

#endif
