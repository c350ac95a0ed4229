/*
 * fuzz_sasl.c - SASL PLAIN responses (base64) as a client sends them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_plain p;
	const char *error;
	char *s;

	if (size > 8192)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (sasl_plain_decode(s, size, &p, &error) == SASL_PLAIN_OK) {
		/* the parts lie inside the decoded bytes, in order */
		if (p.authcid <= p.authzid || p.password <= p.authcid ||
		    p.password + p.password_len != (const char *)p.raw +
		    p.raw_len || p.password[p.password_len] != '\0')
			abort();
	} else if (p.raw != NULL) {
		abort();
	}
	sasl_plain_free(&p);
	{
		/* LOGIN's plain base64 */
		char *out;
		size_t len;

		if (sasl_base64_decode(s, size, &out, &len) == 0) {
			if (len > size || out[len] != '\0')
				abort();
			sasl_secret_free(&out, len);
		} else if (out != NULL) {
			abort();
		}
	}
	free(s);
	return 0;
}
