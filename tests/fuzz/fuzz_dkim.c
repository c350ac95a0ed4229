/*
 * fuzz_dkim.c - DKIM parsers on arbitrary bytes: the tag list, a
 * DKIM-Signature value, a key record (and its key), base64, the header
 * split and both canonicalizations; then the whole verification of the
 * bytes as a message, up to its key lookups (cancelled).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/dkim-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Says which promise broke before aborting. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_dkim:%d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

struct fuzz_out {
	uint64_t n;
	int prev, prev2;	/* the last bytes seen, -1 at first */
	enum dkim_canon canon;
};

/* Counts the output, and checks what relaxed promises: single spaces,
 * no tab, no space before a line end. */
static void
fuzz_out(void *ctx, const char *data, size_t len)
{
	struct fuzz_out *o = ctx;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)data[i];

		if (o->canon == DKIM_CANON_RELAXED) {
			FUZZ_CHECK(c != '\t');
			FUZZ_CHECK(!(c == ' ' && o->prev == ' '));
			FUZZ_CHECK(!(c == '\n' && o->prev == '\r' &&
			    o->prev2 == ' '));
		}
		o->prev2 = o->prev;
		o->prev = c;
	}
	o->n += len;
}

static void *
fuzz_lookup(void *ctx, const char *name, dns_query_callback *cb, void *cb_ctx)
{
	FUZZ_CHECK(strlen(name) <= DNS_NAME_MAX);
	(*(unsigned *)ctx)++;
	return ctx;		/* never answered: cancelled below */
}

static void
fuzz_cancel(void *ctx, void *handle)
{
	(*(unsigned *)ctx)--;
}

static void
fuzz_verify_cb(void *ctx, struct dkim_verify_result *result)
{
	abort();		/* cancelled before the loop runs */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static unsigned pending;
	const char *s = (const char *)data, *error;
	struct dkim_taglist tl;
	struct dkim_sig *sig = malloc(sizeof(*sig));
	struct dkim_keyrec *rec = malloc(sizeof(*rec));
	struct dkim_field *fields = malloc(64 * sizeof(*fields));
	unsigned char out[4096];
	size_t body = 0;
	ssize_t n;

	if (sig == NULL || rec == NULL || fields == NULL)
		abort();
	if (dkim_taglist_parse(s, size, &tl, &error) == 0)
		for (size_t i = 0; i < tl.n; i++)
			FUZZ_CHECK(tl.tags[i].value >= s &&
			    tl.tags[i].value + tl.tags[i].len <= s + size);
	(void)dkim_sig_parse(s, size, sig, &error);
	if (dkim_keyrec_parse(s, size, rec, &error) == 0 && !rec->revoked) {
		bool small;
		unsigned bits;
		EVP_PKEY *key = dkim_keyrec_pkey(rec, &small, &bits, &error);

		FUZZ_CHECK(key == NULL || (bits <= DKIM_RSA_BITS_MAX &&
		    (!rec->rsa || bits >= DKIM_RSA_BITS_MIN)));
		EVP_PKEY_free(key);
	}
	n = dkim_base64_decode(s, size, out, sizeof(out));
	FUZZ_CHECK(n <= (ssize_t)sizeof(out));

	n = dkim_header_split(s, size, fields, 64, &body);
	FUZZ_CHECK(body <= size);
	for (ssize_t i = 0; i < n; i++) {
		FUZZ_CHECK(fields[i].start + fields[i].len <= s + size &&
		    fields[i].name_len <= fields[i].len);
		/* unchecked content (a hostile name may hold anything),
		 * but bounded: the field, a CRLF if it had none, and for
		 * relaxed a ':' if it had none */
		for (int c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
			struct fuzz_out o = { 0, -1, -1, DKIM_CANON_SIMPLE };

			dkim_canon_header(c, fields[i].start, fields[i].len,
			    true, fuzz_out, &o);
			FUZZ_CHECK(o.n <= fields[i].len + 3);
		}
	}
	for (int c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
		struct fuzz_out o = { 0, -1, -1, c };

		FUZZ_CHECK(dkim_canon_body(c, s + body, size - body, fuzz_out,
		    &o) == o.n);
	}

	/* the whole message, up to the key lookups */
	if (base == NULL && (base = event_base_new()) == NULL)
		abort();
	{
		struct dkim_keysource ks = { fuzz_lookup, fuzz_cancel, &pending };
		struct dkim_verifier *v = dkim_verifier_new_source(base, &ks);
		struct dkim_verify *h;

		h = dkim_verify_start(v, s, size, 1700000000, fuzz_verify_cb,
		    NULL);
		dkim_verify_cancel(&h);
		FUZZ_CHECK(pending == 0);
		dkim_verifier_free(&v);
	}
	free(sig);
	free(rec);
	free(fields);
	return 0;
}
