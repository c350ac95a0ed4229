/*
 * fuzz_quarantine.c - what a submission client controls of a release
 * address of held mail: the local part of a RCPT (quarantine-release+
 * ID.TOKEN). Invariants: a parsed address has a positive id and a token
 * of exactly QUARANTINE_TOKEN_LEN bytes inside the input; the token of
 * that id under a fixed secret verifies, the input's own token verifies
 * only if it is that token (any case); and a release address made from
 * the id parses back to the same id.
 *
 * Input: the local part's bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/quarantine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quarantine_secret secret;
	char token[QUARANTINE_TOKEN_LEN + 1], addr[512];
	const char *tok, *tok2, *local = (const char *)data;
	int64_t id, id2;
	bool ok;

	memset(&secret, 0x5a, sizeof(secret));
	if (quarantine_release_parse(local, size, &id, &tok) < 0)
		return 0;
	if (id <= 0 || tok < local || tok + QUARANTINE_TOKEN_LEN !=
	    local + size)
		abort();
	quarantine_token(&secret, id, 7, token);
	if (!quarantine_token_verify(&secret, id, 7, token,
	    QUARANTINE_TOKEN_LEN))
		abort();
	ok = quarantine_token_verify(&secret, id, 7, tok,
	    QUARANTINE_TOKEN_LEN);
	if (ok != (strncasecmp(tok, token, QUARANTINE_TOKEN_LEN) == 0))
		abort();
	if (quarantine_release_address(&secret, id, 7, "example.org", addr,
	    sizeof(addr)) < 0)
		abort();
	if (quarantine_release_parse(addr, strcspn(addr, "@"), &id2,
	    &tok2) < 0 || id2 != id)
		abort();
	return 0;
}
