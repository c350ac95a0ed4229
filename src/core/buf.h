/*
 * buf.h - the one growable byte buffer of Correio.
 *
 * A buffer has a hard cap (max) fixed at creation: appends that would pass
 * it fail with -1 and leave the buffer unchanged, so peer input can never
 * make a buffer grow without bound. The data is always NUL-terminated
 * (one byte past len is reserved) so it can be handed to string functions
 * when it holds text, but it may hold binary data too.
 *
 * SECURITY: holds peer data; every append is bounded by max.
 */
#ifndef CORE_BUF_H
#define CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;	/* NUL-terminated, len bytes of content */
	size_t len;
	size_t cap;	/* allocated bytes, excluding the NUL */
	size_t max;	/* appends never make len exceed this */
};

/* Initializes an empty buffer that may grow up to max bytes. */
void
buf_init(struct buf *b, size_t max);

/* Releases the memory and leaves an empty buffer with the same max. */
void
buf_release(struct buf *b);

/* Empties the buffer but keeps its memory. */
void
buf_reset(struct buf *b);

/* Appends n bytes. Returns 0, or -1 if len would pass max (nothing added). */
int
buf_append(struct buf *b, const void *data, size_t n);

/* Appends a NUL-terminated string. Same return as buf_append. */
int
buf_puts(struct buf *b, const char *s);

/* Appends formatted text. Returns 0, or -1 past max (nothing added). */
int
buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Appends a number in decimal: what buf_printf("%llu") does, without
 * the cost of a format string (FETCH writes a few per message). Same
 * return as buf_append. */
int
buf_put_uint(struct buf *b, uint64_t v);

/* The capacity the buffer would have after appending n bytes (its
 * current capacity if they fit), for callers that budget memory. */
size_t
buf_cap_after(const struct buf *b, size_t n);

/* Hands the data to the caller (who frees it) and leaves the buffer empty. */
char *
buf_steal(struct buf *b, size_t *len_r);

#endif
