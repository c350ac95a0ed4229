/*
 * header.c - single header field lookup (see header.h). RFC 5322 2.2.
 */
#include "mime/header.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

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
		if ((size_t)(end - p) > nlen &&
		    strncasecmp(p, name, nlen) == 0) {
			const char *colon = p + nlen;

			/* RFC 5322 4.5: obsolete white space before the
			 * colon ("From : x"), which readers still honour. */
			while (colon < next && (*colon == ' ' || *colon == '\t'))
				colon++;
			if (colon >= next || *colon != ':') {
				p = next;
				continue;
			}
			/* The body runs on over continuation lines. */
			while (next < end && (*next == ' ' || *next == '\t')) {
				eol = memchr(next, '\n', (size_t)(end - next));
				next = eol != NULL ? eol + 1 : end;
			}
			*end_r = next;
			return colon + 1;
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

size_t
header_block_len(const char *msg, size_t len)
{
	/* An empty line first: no header at all. */
	if ((len > 0 && msg[0] == '\n') ||
	    (len > 1 && msg[0] == '\r' && msg[1] == '\n'))
		return 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 1;
		if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
			return i + 1;
	}
	return len;
}

int
header_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	/* The C locale (the program never calls setlocale): English day
	 * and month names, as RFC 5322 3.3 requires. */
	if (localtime_r(&t, &tm) == NULL)
		return -1;
	return strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 ?
	    -1 : 0;
}

int
header_message_id(const char *host, char *buf, size_t size)
{
	unsigned char rnd[12];
	char hex[sizeof(rnd) * 2 + 1];
	struct timespec ts;
	int n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();
	for (size_t i = 0; i < sizeof(rnd); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(buf, size, "<%lld.%s@%s>", (long long)ts.tv_sec, hex,
	    host);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
header_count(const char *msg, size_t len, const char *name)
{
	const char *p = msg, *lim = msg + (len < HEADER_SCAN_MAX ? len :
	    HEADER_SCAN_MAX), *end;
	int n = 0;

	while (p < lim && header_find(p, (size_t)(lim - p), name, &end) !=
	    NULL) {
		n++;
		p = end;
	}
	return n;
}
