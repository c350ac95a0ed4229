/*
 * fuzz_header.c - header field lookup on arbitrary message bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "mime/addr.h"
#include "mime/header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	if (size < 400) {
		char *s = pool_strndup(pool, msg, size);

		(void)addr_normalize(s, pool, &error);
		(void)addr_domain_normalize(s, pool, &error);
	}
	pool_free(&pool);
	return 0;
}
