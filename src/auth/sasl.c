/*
 * sasl.c - SASL PLAIN (RFC 4616) in base64 (RFC 4648 4); see sasl.h.
 *
 * SECURITY: peer data. Every byte of the base64 is checked before
 * OpenSSL decodes it (EVP_DecodeBlock itself skips white space and
 * counts padding as data); the decoded bytes hold a password and are
 * wiped with OPENSSL_cleanse.
 */
#include "auth/sasl.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/xalloc.h"

static bool
sasl_b64_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
}

/* RFC 4648 4: groups of four, "=" only as the padding of the last one.
 * Returns the number of padding bytes, or -1. */
static int
sasl_b64_check(const char *s, size_t len)
{
	size_t pad = 0;

	if (len % 4 != 0)
		return -1;
	if (len >= 1 && s[len - 1] == '=')
		pad++;
	if (len >= 2 && s[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++) {
		if (!sasl_b64_char((unsigned char)s[i]))
			return -1;
	}
	return (int)pad;
}

enum sasl_plain_result
sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *plain_r,
    const char **error_r)
{
	const unsigned char *authc, *pass, *end;
	unsigned char *raw;
	int pad, n;

	memset(plain_r, 0, sizeof(*plain_r));
	if ((pad = sasl_b64_check(b64, len)) < 0 || len / 4 > (size_t)
	    (INT_MAX / 3)) {
		*error_r = "Invalid base64";
		return SASL_PLAIN_BAD_BASE64;
	}
	raw = xmalloc(len / 4 * 3 + 1);
	n = len == 0 ? 0 : EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    (int)len);
	if (n < 0) {
		free(raw);
		*error_r = "Invalid base64";
		return SASL_PLAIN_BAD_BASE64;
	}
	n -= pad;
	raw[n] = '\0';
	end = raw + n;
	/* [authzid] NUL authcid NUL passwd (RFC 4616 2) */
	authc = memchr(raw, '\0', (size_t)n);
	pass = authc != NULL ? memchr(authc + 1, '\0',
	    (size_t)(end - authc - 1)) : NULL;
	if (authc == NULL || pass == NULL) {
		OPENSSL_cleanse(raw, (size_t)n);
		free(raw);
		*error_r = "Invalid PLAIN response";
		return SASL_PLAIN_MALFORMED;
	}
	plain_r->raw = raw;
	plain_r->raw_len = (size_t)n;
	plain_r->authzid = (const char *)raw;
	plain_r->authcid = (const char *)authc + 1;
	plain_r->password = (const char *)pass + 1;
	plain_r->password_len = (size_t)(end - pass - 1);
	return SASL_PLAIN_OK;
}

void
sasl_plain_free(struct sasl_plain *plain)
{
	if (plain->raw != NULL) {
		OPENSSL_cleanse(plain->raw, plain->raw_len);
		free(plain->raw);
	}
	memset(plain, 0, sizeof(*plain));
}

int
sasl_base64_decode(const char *b64, size_t len, char **out_r,
    size_t *out_len_r)
{
	unsigned char *raw;
	int pad, n;

	*out_r = NULL;
	*out_len_r = 0;
	if ((pad = sasl_b64_check(b64, len)) < 0 ||
	    len / 4 > (size_t)(INT_MAX / 3))
		return -1;
	raw = xmalloc(len / 4 * 3 + 1);
	n = len == 0 ? 0 : EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    (int)len);
	if (n < 0) {
		free(raw);
		return -1;
	}
	n -= pad;
	raw[n] = '\0';
	*out_r = (char *)raw;
	*out_len_r = (size_t)n;
	return 0;
}

void
sasl_secret_free(char **sp, size_t len)
{
	if (*sp == NULL)
		return;
	OPENSSL_cleanse(*sp, len);
	free(*sp);
	*sp = NULL;
}
