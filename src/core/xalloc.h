/*
 * xalloc.h - allocation wrappers that abort on out-of-memory.
 *
 * Aborting is right here: peer input can never cause an allocation larger
 * than a configured cap (see buf.h), so running out of memory means the
 * machine is in trouble, not that a peer is attacking us.
 */
#ifndef CORE_XALLOC_H
#define CORE_XALLOC_H

#include <stddef.h>

void *
xmalloc(size_t n);
void *
xcalloc(size_t n, size_t size);
void *
xrealloc(void *p, size_t n);
char *
xstrdup(const char *s);
char *
xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string. */
char *
xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
