/*
 * pool.h - arenas: many small allocations freed with one call.
 *
 * Each connection has a pool, and so does each mail transaction; freeing
 * the pool frees everything allocated from it. Allocations are aligned for
 * any type. There is no per-allocation free.
 */
#ifndef CORE_POOL_H
#define CORE_POOL_H

#include <stddef.h>

struct pool;

/* Creates a pool whose chunks are at least chunk_size bytes. */
struct pool *
pool_new(size_t chunk_size);

/* Frees every allocation and the pool; sets *poolp to NULL. */
void
pool_free(struct pool **poolp);

/* Frees every allocation but keeps the pool (and its first chunk). */
void
pool_clear(struct pool *pool);

/* Returns zeroed memory that lives until the pool is freed or cleared. */
void *
pool_alloc(struct pool *pool, size_t n);

char *
pool_strdup(struct pool *pool, const char *s);

char *
pool_strndup(struct pool *pool, const char *s, size_t n);

char *
pool_printf(struct pool *pool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
