/*
 * pool.c - arena allocator (see pool.h).
 */
#include "core/pool.h"

#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

struct pool_chunk {
	struct pool_chunk *next;
	size_t size;	/* usable bytes after the header */
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct pool {
	struct pool_chunk *chunks;	/* newest first; the last is the first one made */
	size_t chunk_size;
};

static struct pool_chunk *
pool_chunk_new(size_t size)
{
	struct pool_chunk *c = xmalloc(sizeof(*c) + size);

	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

struct pool *
pool_new(size_t chunk_size)
{
	struct pool *p = xmalloc(sizeof(*p));

	if (chunk_size < 256)
		chunk_size = 256;
	p->chunk_size = chunk_size;
	p->chunks = pool_chunk_new(chunk_size);
	return p;
}

void
pool_clear(struct pool *pool)
{
	struct pool_chunk *c = pool->chunks, *next;

	while (c->next != NULL) {
		next = c->next;
		free(c);
		c = next;
	}
	c->used = 0;
	pool->chunks = c;
}

void
pool_free(struct pool **poolp)
{
	struct pool *p = *poolp;
	struct pool_chunk *c, *next;

	if (p == NULL)
		return;
	for (c = p->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(p);
	*poolp = NULL;
}

void *
pool_alloc(struct pool *pool, size_t n)
{
	const size_t align = alignof(max_align_t);
	struct pool_chunk *c = pool->chunks;
	size_t off;
	void *mem;

	if (n > SIZE_MAX - align)
		abort();
	n = (n + align - 1) & ~(align - 1);
	if (n == 0)
		n = align;
	off = c->used;
	if (n > c->size - off) {
		struct pool_chunk *nc;

		if (n > pool->chunk_size / 2) {
			/* Big allocation: its own chunk, behind the current one,
			 * so the current chunk's free space is not wasted. */
			nc = pool_chunk_new(n);
			nc->used = n;
			nc->next = c->next;
			c->next = nc;
			memset(nc->data, 0, n);
			return nc->data;
		}
		nc = pool_chunk_new(pool->chunk_size);
		nc->next = c;
		pool->chunks = nc;
		c = nc;
		off = 0;
	}
	mem = c->data + off;
	c->used = off + n;
	memset(mem, 0, n);
	return mem;
}

char *
pool_strndup(struct pool *pool, const char *s, size_t n)
{
	char *p = pool_alloc(pool, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
pool_strdup(struct pool *pool, const char *s)
{
	return pool_strndup(pool, s, strlen(s));
}

char *
pool_printf(struct pool *pool, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	s = pool_alloc(pool, (size_t)n + 1);
	va_start(ap, fmt);
	if (vsnprintf(s, (size_t)n + 1, fmt, ap) != n)
		abort();
	va_end(ap);
	return s;
}
