/*
 * header.c - single header field lookup (see header.h). RFC 5322 2.2.
 */
#include "mime/header.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "core/pool.h"

/* Finds the start of the value of field name; sets *end_r to the end of the
 * (possibly folded) field body. Returns NULL if there is none. */
static const char *
header_find(const char *msg, size_t len, const char *name, const char **end_r)
{
	size_t nlen = strlen(name);
	const char *p = msg, *end = msg + (len < HEADER_SCAN_MAX ? len : HEADER_SCAN_MAX);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;

		/* Empty line: end of the header block. */
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return NULL;
		if ((size_t)(end - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			/* The body runs on over continuation lines. */
			while (next < end && (*next == ' ' || *next == '\t')) {
				eol = memchr(next, '\n', (size_t)(end - next));
				next = eol != NULL ? eol + 1 : end;
			}
			*end_r = next;
			return p + nlen + 1;
		}
		p = next;
	}
	return NULL;
}

char *
header_get(const char *msg, size_t len, const char *name, struct pool *pool)
{
	const char *v, *end;
	char *out;
	size_t o = 0;
	bool space = false;

	v = header_find(msg, len, name, &end);
	if (v == NULL)
		return NULL;
	out = pool_alloc(pool, HEADER_VALUE_MAX + 1);
	for (; v < end && o < HEADER_VALUE_MAX; v++) {
		char c = *v;

		/* Unfold: CRLF + WSP is white space (RFC 5322 2.2.3); runs of
		 * white space become one space; control bytes are dropped. */
		if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
			space = o > 0;
			continue;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f)
			continue;
		if (space && o < HEADER_VALUE_MAX - 1)
			out[o++] = ' ';
		space = false;
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

int
header_has(const char *msg, size_t len, const char *name)
{
	const char *end;

	return header_find(msg, len, name, &end) != NULL;
}
