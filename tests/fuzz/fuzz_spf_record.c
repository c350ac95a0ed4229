/*
 * fuzz_spf_record.c - SPF records and macro-strings as a sender's DNS may
 * serve them: the record parser, then every domain-spec it accepted
 * expanded with hostile macro values, and the same bytes as a macro-string
 * of its own (domain-spec and explanation), with the invariants checked:
 * accepted records hold at most SPF_TERMS_MAX terms of printable ASCII,
 * expansions stay within their buffer, truncated domains within 253
 * octets.
 *
 * Input: the record, as bytes (it may hold NUL).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf-private.h"
#include "core/buf.h"
#include "core/pool.h"
#include "dns/dns-name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct spf_macro_env fuzz_env = {
	.sender = "str.ange+local-part=x@sub.example.com",
	.local = "str.ange+local-part=x",
	.sender_domain = "sub.example.com",
	.domain = "sub.example.com",
	.ip = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
	.ip_text = "2001:db8::cb01",
	.ip_version = "ip6",
	.helo = "[192.0.2.1]",
	.ptr = "mx.example.com",
	.receiver = "mx.example.net",
	.now = 0,
};

static void
fuzz_expand(const char *s, size_t len, enum spf_macro_use use)
{
	struct buf out;
	const char *error;

	buf_init(&out, SPF_EXPAND_MAX);
	if (spf_macro_expand(s, len, use, &fuzz_env, &out, &error) == 0) {
		if (out.len > SPF_EXPAND_MAX)
			abort();
		if (use == SPF_MACRO_DOMAIN && out.data != NULL &&
		    strlen(spf_domain_truncate(out.data)) > DNS_NAME_MAX + 1)
			abort();
	} else if (error == NULL) {
		abort();
	}
	buf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool;
	struct spf_record rec;
	const char *error = NULL;
	char *copy;

	if (size > 65536)
		return 0;
	/* Its own allocation, so that ASan sees any overread. */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	pool = pool_new(4096);
	if (spf_record_parse(copy, size, pool, &rec, &error) == 0) {
		if (rec.n_terms > SPF_TERMS_MAX)
			abort();
		for (size_t i = 0; i < rec.n_terms; i++) {
			const struct spf_term *t = &rec.terms[i];

			for (const char *p = t->text; *p != '\0'; p++)
				if ((unsigned char)*p < 0x21 ||
				    (unsigned char)*p > 0x7e)
					abort();
			if (t->spec != NULL) {
				if (!spf_domain_end_valid(t->spec,
				    strlen(t->spec)))
					abort();
				fuzz_expand(t->spec, strlen(t->spec),
				    SPF_MACRO_DOMAIN);
			}
		}
	} else if (error == NULL) {
		abort();
	}
	pool_free(&pool);
	fuzz_expand(copy, size, SPF_MACRO_DOMAIN);
	fuzz_expand(copy, size, SPF_MACRO_EXPLAIN);
	(void)spf_domain_end_valid(copy, size);
	free(copy);
	return 0;
}
