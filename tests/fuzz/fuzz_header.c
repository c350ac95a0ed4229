/*
 * fuzz_header.c - header field lookup on arbitrary message bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pool.h"
#include "mime/addr.h"
#include "mime/header.h"
#include "mime/mime-imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each address the walker gives has both parts, inside bounds. */
static void
fuzz_addr_cb(void *ctx, const char *local, size_t llen, const char *domain,
    size_t dlen)
{
	if (llen == 0 || dlen == 0)
		abort();
	*(size_t *)ctx += llen + dlen;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_new(4096);
	const char *msg = (const char *)data, *error;
	char *v;

	/* The message is not NUL-terminated: the parser must respect size. */
	v = header_get(msg, size, "Subject", pool);
	if (v != NULL && strlen(v) > HEADER_VALUE_MAX)
		abort();
	(void)header_get(msg, size, "From", pool);
	(void)header_has(msg, size, "Date");
	(void)header_count(msg, size, "From");
	{
		size_t total = 0;

		/* as submission checks From: and sendmail -t reads To: */
		(void)mime_addr_list_foreach(msg, size, fuzz_addr_cb, &total);
	}
	{
		time_t t;

		/* The Date: parser of the spam filter reads only size bytes;
		 * ASan catches a read past them (the fuzzer's buffer is
		 * exactly size long). */
		(void)header_date_parse(msg, size, &t);
	}
	if (size < 400) {
		char *s = pool_strndup(pool, msg, size);

		(void)addr_normalize(s, pool, &error);
		(void)addr_domain_normalize(s, pool, &error);
	}
	pool_free(&pool);
	return 0;
}
