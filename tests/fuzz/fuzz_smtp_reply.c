/*
 * fuzz_smtp_reply.c - the SMTP client's reply reader and the RFC 3463
 * status extraction, on lines as a remote server sends them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp-client.h"
#include "smtp/smtp-dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	const char *p, *end;
	char status[16];
	int ret = 0;

	memset(&r, 0, sizeof(r));
	/* Split on LF, as line_next does, each line copied to an exact-size
	 * heap buffer so that ASan sees reads past its end. */
	p = (const char *)data;
	end = p + size;
	while (p < end && ret >= 0) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = lf != NULL ? (size_t)(lf - p) + 1 : (size_t)(end - p);
		char *line;

		if (len > SMTP_CLIENT_REPLY_LINE_MAX)
			break;
		line = malloc(len + 1);
		if (line == NULL)
			abort();
		memcpy(line, p, len);
		line[len] = '\0';
		ret = smtp_reply_line(&r, true, line, len);
		if (ret == 1) {
			if (r.code < 200 || r.code > 599 ||
			    strlen(r.first) >= sizeof(r.first))
				abort();
			(void)smtp_dsn_status(r.first, "5.0.0", status,
			    sizeof(status));
		}
		free(line);
		p += len;
	}
	return 0;
}
