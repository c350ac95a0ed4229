/*
 * fuzz_dmarc.c - what a sender controls of DMARC and Authentication-
 * Results: a DMARC record as DNS may serve it, and a message header with
 * Authentication-Results fields (some claiming our authserv-id) to strip
 * and a From: to take the domain of. Invariants: an accepted record has
 * pct 0..100 and a bounded rua; stripping only shortens the message and
 * leaves no field of ours behind; the From: domain fits its buffer.
 *
 * Input: bytes used three ways (record, header section, From: value).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth-check.h"
#include "auth/authres.h"
#include "auth/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ID "mx.example.org"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record rec;
	const char *error = NULL, *why = NULL;
	char *msg, domain[256];
	size_t n;
	int r;

	r = dmarc_record_parse((const char *)data, size, &rec, &error);
	if (r == 1 && (rec.pct > 100 || strlen(rec.rua) > DMARC_RUA_MAX))
		abort();
	if (r < 0 && error == NULL)
		abort();

	msg = malloc(size + 1);
	if (msg == NULL)
		return 0;
	memcpy(msg, data, size);
	msg[size] = '\0';
	n = authres_strip(msg, size, FUZZ_ID);
	if (n > size)
		abort();
	/* Stripping again finds nothing more. */
	if (authres_strip(msg, n, FUZZ_ID) != n)
		abort();
	if (auth_check_from_domain(msg, n, domain, sizeof(domain), &why) == 0) {
		if (strlen(domain) >= sizeof(domain) || domain[0] == '\0')
			abort();
	} else if (why == NULL) {
		abort();
	}
	(void)authres_is_ours(msg, n, FUZZ_ID);
	free(msg);
	return 0;
}
