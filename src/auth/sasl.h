/*
 * sasl.h - the SASL mechanism PLAIN (RFC 4616), base64-encoded as the
 * protocols carry it (RFC 4648 4): IMAP AUTHENTICATE (RFC 9051 6.2.2),
 * POP3 AUTH (RFC 5034), submission AUTH (RFC 4954); and the base64 of
 * LOGIN, which submission clients still use.
 *
 * SECURITY: the response is peer data. The base64 is checked strictly
 * (alphabet, length, padding) before it is decoded, its length is capped
 * by the caller's limit, and the decoded password is wiped when the
 * result is freed.
 */
#ifndef AUTH_SASL_H
#define AUTH_SASL_H

#include <stddef.h>

/* A decoded PLAIN response. The strings point into one allocation. */
struct sasl_plain {
	const char *authzid;	/* "" when the client sent none */
	const char *authcid;	/* NUL-terminated, may be "" */
	const char *password;	/* password_len bytes, NUL-terminated; it may
				 * hold NULs itself (then it is no password) */
	size_t password_len;
	unsigned char *raw;	/* the decoded bytes, wiped on free */
	size_t raw_len;
};

enum sasl_plain_result {
	SASL_PLAIN_OK = 0,
	SASL_PLAIN_BAD_BASE64 = -1,	/* not base64 (a syntax error) */
	SASL_PLAIN_MALFORMED = -2,	/* base64, but not authz NUL authc NUL
					 * password (a failed authentication) */
};

/*
 * Decodes len bytes of base64 (no CRLF; "" is an empty response). On
 * SASL_PLAIN_OK *plain_r holds the three parts and must be freed with
 * sasl_plain_free; otherwise *plain_r is left empty (freeing it is
 * harmless) and *error_r says why.
 */
enum sasl_plain_result
sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *plain_r,
    const char **error_r);

/* Wipes the decoded bytes and frees them; leaves *plain empty. */
void
sasl_plain_free(struct sasl_plain *plain);

/*
 * Decodes one response of a mechanism that sends plain base64 (the
 * user name and the password of LOGIN, draft-murchison-sasl-login),
 * checked strictly as above. Returns 0 with a malloc'd NUL-terminated
 * copy in *out_r (it may hold NULs: *out_len_r is its length), to free
 * with sasl_secret_free; or -1 if it is not base64.
 */
int
sasl_base64_decode(const char *b64, size_t len, char **out_r,
    size_t *out_len_r);

/* Wipes len bytes of *sp and frees it; sets *sp to NULL. */
void
sasl_secret_free(char **sp, size_t len);

#endif
