/*
 * buf.c - bounded byte buffer (see buf.h).
 */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

size_t
buf_cap_after(const struct buf *b, size_t n)
{
	size_t need = b->len + n, ncap;

	if (b->data != NULL && need <= b->cap)
		return b->cap;
	ncap = b->cap < 64 ? 64 : b->cap;
	while (ncap < need)
		ncap = ncap > b->max / 2 ? b->max : ncap * 2;
	return ncap < need ? need : ncap;
}

/* Makes room for n more bytes (plus the NUL); the caller checked max. */
static void
buf_reserve(struct buf *b, size_t n)
{
	size_t ncap = buf_cap_after(b, n);

	if (b->data != NULL && ncap == b->cap)
		return;
	b->data = xrealloc(b->data, ncap + 1);
	b->cap = ncap;
}

int
buf_append(struct buf *b, const void *data, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || (size_t)n > b->max - b->len)
		return -1;
	buf_reserve(b, (size_t)n);
	if (vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap) != n)
		return -1;
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ret;
}

char *
buf_steal(struct buf *b, size_t *len_r)
{
	char *d = b->data;

	if (d == NULL)
		d = xstrdup("");
	if (len_r != NULL)
		*len_r = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return d;
}

int
buf_put_uint(struct buf *b, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return buf_append(b, d + i, sizeof(d) - i);
}
