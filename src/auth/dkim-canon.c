/*
 * dkim-canon.c - DKIM canonicalization (RFC 6376 3.4), the header hash
 * (3.7) and the signature primitives (RSASSA-PKCS1-v1_5, RFC 8017 8.2;
 * PureEd25519 over the SHA-256 hash, RFC 8463 3).
 *
 * The canonicalizers stream: they hand out pieces of canonical output
 * (mostly runs of the input itself) and never copy the body, so a body of
 * [server] max_message_size costs no memory beyond the message.
 *
 * SECURITY: the input is a peer's message; all reads are bounded by len.
 */
#include "auth/dkim-private.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>

#include "core/xalloc.h"

static bool
dkim_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* --- headers (3.4.1, 3.4.2) --- */

void
dkim_canon_header(enum dkim_canon canon, const char *field, size_t len,
    bool crlf, dkim_canon_output *out, void *ctx)
{
	const char *colon;
	size_t name_len, i, run;
	bool space = false, started = false;
	char lower[64];

	/* without its line end; added back below if wanted */
	if (len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n')
		len -= 2;
	if (canon == DKIM_CANON_SIMPLE) {
		out(ctx, field, len);
		if (crlf)
			out(ctx, "\r\n", 2);
		return;
	}
	/* relaxed: lower-case name, no WSP around the colon; the value
	 * unfolded, WSP runs as one SP, no WSP at either end */
	colon = memchr(field, ':', len);
	name_len = colon != NULL ? (size_t)(colon - field) : len;
	while (name_len > 0 && dkim_is_wsp(field[name_len - 1]))
		name_len--;
	for (i = 0; i < name_len; i += run) {
		run = name_len - i < sizeof(lower) ? name_len - i : sizeof(lower);
		for (size_t k = 0; k < run; k++) {
			char c = field[i + k];

			lower[k] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		out(ctx, lower, run);
	}
	out(ctx, ":", 1);
	i = colon != NULL ? (size_t)(colon - field) + 1 : len;
	while (i < len) {
		char c = field[i];

		if (c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (dkim_is_wsp(c)) {
			space = true;
			i++;
			continue;
		}
		if (space && started)
			out(ctx, " ", 1);
		space = false;
		started = true;
		for (run = i; run < len && !dkim_is_wsp(field[run]) &&
		    field[run] != '\r' && field[run] != '\n'; run++)
			;
		out(ctx, field + i, run - i);
		i = run;
	}
	if (crlf)
		out(ctx, "\r\n", 2);
}

/* --- bodies (3.4.3, 3.4.4) --- */

struct dkim_body_out {
	dkim_canon_output *out;
	void *ctx;
	uint64_t total;
};

static void
dkim_body_emit(struct dkim_body_out *b, const char *data, size_t len)
{
	if (len == 0)
		return;
	b->out(b->ctx, data, len);
	b->total += len;
}

uint64_t
dkim_canon_body(enum dkim_canon canon, const char *body, size_t len,
    dkim_canon_output *out, void *ctx)
{
	struct dkim_body_out b = { out, ctx, 0 };
	uint64_t empty = 0;		/* empty lines not written yet */
	size_t pos = 0;

	while (pos < len) {
		size_t end, next, i, run;
		const char *nl;
		bool blank;

		/* the line: up to CRLF (a bare LF is line content) */
		end = pos;
		for (;;) {
			nl = memchr(body + end, '\n', len - end);
			if (nl == NULL) {
				end = next = len;
				break;
			}
			if (nl > body + pos && nl[-1] == '\r') {
				end = (size_t)(nl - body) - 1;
				next = end + 2;
				break;
			}
			end = (size_t)(nl - body) + 1;
		}
		if (canon == DKIM_CANON_SIMPLE) {
			blank = end == pos;
		} else {
			blank = true;
			for (i = pos; i < end && blank; i++)
				if (!dkim_is_wsp(body[i]))
					blank = false;
		}
		if (blank) {
			/* trailing empty lines are ignored: keep count */
			empty++;
			pos = next;
			continue;
		}
		for (; empty > 0; empty--)
			dkim_body_emit(&b, "\r\n", 2);
		if (canon == DKIM_CANON_SIMPLE) {
			dkim_body_emit(&b, body + pos, end - pos);
		} else {
			/* WSP runs become one SP, none at the end of the line */
			for (i = pos; i < end; i = run) {
				if (dkim_is_wsp(body[i])) {
					for (run = i; run < end &&
					    dkim_is_wsp(body[run]); run++)
						;
					if (run < end)
						dkim_body_emit(&b, " ", 1);
					continue;
				}
				for (run = i; run < end &&
				    !dkim_is_wsp(body[run]); run++)
					;
				dkim_body_emit(&b, body + i, run - i);
			}
		}
		dkim_body_emit(&b, "\r\n", 2);
		pos = next;
	}
	/* simple: an empty body is one CRLF; relaxed: nothing (3.4.3,
	 * 3.4.4 and erratum 3133) */
	if (b.total == 0 && canon == DKIM_CANON_SIMPLE)
		dkim_body_emit(&b, "\r\n", 2);
	return b.total;
}

/* --- the header hash (3.7) --- */

static void
dkim_md_update(void *ctx, const char *data, size_t len)
{
	(void)EVP_DigestUpdate(ctx, data, len);
}

/* Copies the field without the value of its b= tag into out (len bytes
 * at most). The field's value has been parsed as a tag list already.
 * Returns the length. */
static size_t
dkim_strip_b(const char *field, size_t len, char *out)
{
	const char *colon = memchr(field, ':', len);
	size_t pos, from = 0, o = 0;

	if (colon == NULL) {
		memcpy(out, field, len);
		return len;
	}
	pos = (size_t)(colon - field) + 1;
	while (pos < len) {
		size_t name;
		bool is_b;

		while (pos < len && (dkim_is_wsp(field[pos]) ||
		    field[pos] == '\r' || field[pos] == '\n'))
			pos++;
		name = pos;
		while (pos < len && field[pos] != '=' && field[pos] != ';' &&
		    !dkim_is_wsp(field[pos]) && field[pos] != '\r' &&
		    field[pos] != '\n')
			pos++;
		is_b = pos - name == 1 && field[name] == 'b';
		while (pos < len && field[pos] != '=' && field[pos] != ';')
			pos++;
		if (pos < len && field[pos] == '=') {
			pos++;
			if (is_b) {
				memcpy(out + o, field + from, pos - from);
				o += pos - from;
				while (pos < len && field[pos] != ';')
					pos++;
				from = pos;
			}
		}
		while (pos < len && field[pos] != ';')
			pos++;
		if (pos < len)
			pos++;
	}
	memcpy(out + o, field + from, len - from);
	return o + len - from;
}

int
dkim_hash_header(const EVP_MD *mdtype, enum dkim_canon canon,
    const struct dkim_field *fields, size_t n_fields,
    const struct dkim_sig *sig, const char *sigfield, size_t sigfield_len,
    unsigned char *md)
{
	EVP_MD_CTX *ctx;
	bool *used;
	char *stripped;
	unsigned md_len = 0;
	size_t slen;
	int ok;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, mdtype, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	used = xcalloc(n_fields > 0 ? n_fields : 1, sizeof(*used));
	for (size_t h = 0; h < sig->n_h; h++) {
		/* the last instance not used yet, bottom up (5.4.2) */
		for (size_t i = n_fields; i > 0; i--) {
			if (used[i - 1] || !dkim_field_is(&fields[i - 1],
			    sig->h[h].name, sig->h[h].len))
				continue;
			used[i - 1] = true;
			dkim_canon_header(canon, fields[i - 1].start,
			    fields[i - 1].len, true, dkim_md_update, ctx);
			break;
		}
	}
	free(used);
	stripped = xmalloc(sigfield_len > 0 ? sigfield_len : 1);
	slen = dkim_strip_b(sigfield, sigfield_len, stripped);
	dkim_canon_header(canon, stripped, slen, false, dkim_md_update, ctx);
	free(stripped);
	ok = EVP_DigestFinal_ex(ctx, md, &md_len);
	EVP_MD_CTX_free(ctx);
	return ok == 1 ? (int)md_len : -1;
}

/* --- signatures --- */

int
dkim_pkey_verify(EVP_PKEY *key, enum dkim_alg alg, const unsigned char *md,
    size_t md_len, const unsigned char *sig, size_t sig_len)
{
	int r = -1;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		if (ctx != NULL &&
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1)
			r = EVP_DigestVerify(ctx, sig, sig_len, md, md_len);
		EVP_MD_CTX_free(ctx);
	} else if (alg == DKIM_ALG_RSA_SHA256) {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

		if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1)
			r = EVP_PKEY_verify(ctx, sig, sig_len, md, md_len);
		EVP_PKEY_CTX_free(ctx);
	}
	/* OpenSSL says < 0 for a signature of the wrong length: bad too */
	return r == 1 ? 1 : 0;
}

int
dkim_pkey_sign(EVP_PKEY *key, enum dkim_alg alg, const unsigned char *md,
    size_t md_len, unsigned char *sig, size_t *sig_len)
{
	int r = -1;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		if (ctx != NULL &&
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
		    EVP_DigestSign(ctx, sig, sig_len, md, md_len) == 1)
			r = 0;
		EVP_MD_CTX_free(ctx);
	} else if (alg == DKIM_ALG_RSA_SHA256) {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

		if (ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(ctx, sig, sig_len, md, md_len) == 1)
			r = 0;
		EVP_PKEY_CTX_free(ctx);
	}
	return r;
}
