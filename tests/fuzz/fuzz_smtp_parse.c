/*
 * fuzz_smtp_parse.c - MAIL and RCPT arguments and BDAT sizes, as they come
 * off the network (after the command line limit).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/utf8.h"
#include "smtp/smtp-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool;
	struct smtp_path path;
	struct smtp_mail_params params;
	const char *error;
	uint64_t n;
	bool last;
	char *s;

	if (size > SMTP_CMD_LINE_MAX)
		return 0;
	pool = pool_new(1024);
	/* An exact-size heap copy, so that ASan sees any read past its end
	 * (a pool copy sits inside a larger chunk). */
	s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (smtp_parse_mail(s, pool, &path, &params, &error) == SMTP_PARSE_OK) {
		/* A parsed path is within the RFC limits. */
		if (strlen(path.address) > SMTP_PATH_MAX)
			abort();
	}
	(void)smtp_parse_rcpt(s, size & 1, pool, &path, &error);
	(void)smtp_parse_bdat(s, &n, &last);
	(void)utf8_valid((const char *)data, size);
	free(s);
	pool_free(&pool);
	return 0;
}
