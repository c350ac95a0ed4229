/*
 * test_spf.c - unit tests of src/auth/spf*: the record parser and the
 * macro expander (RFC 7208 4.6, 7, 12), with valid, malformed and hostile
 * input and every limit at max and max+1; and the evaluator against
 * zones of the tests' resolver (tests/spf/spf-zone.c): include and
 * redirect loops, huge records, cancellation mid-check, a resolver that
 * answers synchronously, one that never answers.
 *
 * SECURITY: test code; the inputs are ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/spf-private.h"
#include "core/buf.h"
#include "core/pool.h"
#include "dns/dns-name.h"
#include "dns/dns-private.h"
#include "../spf/spf-zone.h"

/* --- the record parser ------------------------------------------------------ */

static int
parse(const char *rec, struct pool *pool, struct spf_record *r,
    const char **error)
{
	return spf_record_parse(rec, strlen(rec), pool, r, error);
}

static void
test_record_is_v1(void **state)
{
	(void)state;
	assert_true(spf_record_is_v1("v=spf1", 6));
	assert_true(spf_record_is_v1("v=spf1 -all", 11));
	assert_true(spf_record_is_v1("V=SpF1 ~all", 11));
	assert_false(spf_record_is_v1("v=spf10", 7));
	assert_false(spf_record_is_v1("v=spf1\t-all", 11));
	assert_false(spf_record_is_v1("v=spf", 5));
	assert_false(spf_record_is_v1("", 0));
	assert_false(spf_record_is_v1(" v=spf1", 7));
}

static void
test_record_valid(void **state)
{
	struct pool *pool = pool_new(1024);
	struct spf_record r;
	const char *error = NULL;

	(void)state;
	assert_int_equal(parse("v=spf1 +all -include:_spf.example.com "
	    "~a ?a:%{d}.example.com/24//64 mx:mx.example.org//48 ptr "
	    "ptr:example.net ip4:192.0.2.0/24 ip6:2001:db8::/32 "
	    "exists:%{ir}.bl.example.org redirect=_spf.example.com "
	    "exp=exp.%{d} moo.cow-far_out=man:dog/cat", pool, &r, &error), 0);
	assert_int_equal(r.n_terms, 13);
	assert_int_equal(r.terms[0].type, SPF_TERM_ALL);
	assert_int_equal(r.terms[0].qualifier, SPF_PASS);
	assert_int_equal(r.terms[1].type, SPF_TERM_INCLUDE);
	assert_int_equal(r.terms[1].qualifier, SPF_FAIL);
	assert_string_equal(r.terms[1].spec, "_spf.example.com");
	assert_int_equal(r.terms[2].type, SPF_TERM_A);
	assert_int_equal(r.terms[2].qualifier, SPF_SOFTFAIL);
	assert_null(r.terms[2].spec);
	assert_int_equal(r.terms[2].cidr4, 32);
	assert_int_equal(r.terms[2].cidr6, 128);
	assert_int_equal(r.terms[3].qualifier, SPF_NEUTRAL);
	assert_string_equal(r.terms[3].spec, "%{d}.example.com");
	assert_int_equal(r.terms[3].cidr4, 24);
	assert_int_equal(r.terms[3].cidr6, 64);
	assert_int_equal(r.terms[4].type, SPF_TERM_MX);
	assert_int_equal(r.terms[4].cidr4, 32);
	assert_int_equal(r.terms[4].cidr6, 48);
	assert_int_equal(r.terms[5].type, SPF_TERM_PTR);
	assert_null(r.terms[5].spec);
	assert_string_equal(r.terms[6].spec, "example.net");
	assert_int_equal(r.terms[7].type, SPF_TERM_IP4);
	assert_int_equal(r.terms[7].cidr4, 24);
	assert_int_equal(r.terms[8].type, SPF_TERM_IP6);
	assert_int_equal(r.terms[8].cidr6, 32);
	assert_int_equal(r.terms[9].type, SPF_TERM_EXISTS);
	assert_ptr_equal(r.redirect, &r.terms[10]);
	assert_string_equal(r.redirect->spec, "_spf.example.com");
	assert_ptr_equal(r.exp, &r.terms[11]);
	assert_int_equal(r.terms[12].type, SPF_TERM_UNKNOWN);
	assert_string_equal(r.terms[12].text, "moo.cow-far_out=man:dog/cat");

	/* Empty, spaces only, trailing and repeated spaces. */
	assert_int_equal(parse("v=spf1", pool, &r, &error), 0);
	assert_int_equal(r.n_terms, 0);
	assert_int_equal(parse("v=spf1     ", pool, &r, &error), 0);
	assert_int_equal(r.n_terms, 0);
	assert_int_equal(parse("v=spf1  a   -all ", pool, &r, &error), 0);
	assert_int_equal(r.n_terms, 2);
	/* Names are case-insensitive; a colon may be part of a domain. */
	assert_int_equal(parse("v=spf1 IP4:1.2.3.4 -ALL A:foo:bar/baz.example."
	    "com REDIRECT=x.example", pool, &r, &error), 0);
	assert_string_equal(r.terms[2].spec, "foo:bar/baz.example.com");
	assert_non_null(r.redirect);
	/* CIDR bounds: 0 and the maximum. */
	assert_int_equal(parse("v=spf1 ip4:0.0.0.0/0 ip6:::/0 a/32//128 "
	    "ip6:::1/128", pool, &r, &error), 0);
	assert_int_equal(r.terms[0].cidr4, 0);
	assert_int_equal(r.terms[2].cidr6, 128);
	pool_free(&pool);
}

static void
test_record_malformed(void **state)
{
	static const struct {
		const char *rec;
		const char *error;	/* a part of the message */
	} cases[] = {
		{ "v=spf1 moo", "unknown mechanism in \"moo\"" },
		{ "v=spf1 -all.", "arguments to all" },
		{ "v=spf1 all:foo", "arguments to all" },
		{ "v=spf1 all/8", "arguments to all" },
		{ "v=spf1 =all", "unknown mechanism" },
		{ "v=spf1 1up=foo", "unknown mechanism" },
		{ "v=spf1 -redirect=x.example.com", "unknown mechanism" },
		{ "v=spf1 redirect:x.example.com", "unknown mechanism" },
		{ "v=spf1 include", "missing domain-spec" },
		{ "v=spf1 include:", "empty domain-spec" },
		{ "v=spf1 include:x.example.com/24", "bad domain-spec" },
		{ "v=spf1 exists", "missing domain-spec" },
		{ "v=spf1 exists:x.example.com/24", "bad domain-spec" },
		{ "v=spf1 ptr/0", "unexpected arguments" },
		{ "v=spf1 ptr:", "empty domain-spec" },
		{ "v=spf1 a:", "empty domain-spec" },
		{ "v=spf1 a:museum", "bad domain-spec" },
		{ "v=spf1 a:museum.", "bad domain-spec" },
		{ "v=spf1 a:abc.123", "bad domain-spec" },
		{ "v=spf1 a:example.-com", "bad domain-spec" },
		{ "v=spf1 a:example.com:8080", "bad domain-spec" },
		{ "v=spf1 a:foo-bar", "bad domain-spec" },
		{ "v=spf1 a/33", "bad IPv4 CIDR length" },
		{ "v=spf1 a//129", "bad IPv6 CIDR length" },
		{ "v=spf1 a/24/64", "bad IPv4 CIDR length" },
		{ "v=spf1 a/024", "bad IPv4 CIDR length" },
		{ "v=spf1 mx/9999999999999999999999", "bad IPv4 CIDR length" },
		{ "v=spf1 a/", "bad arguments" },
		{ "v=spf1 ax", "unknown mechanism" },
		{ "v=spf1 ip4", "missing address" },
		{ "v=spf1 ip4:", "missing address" },
		{ "v=spf1 ip4:1.2.3", "bad IPv4 address" },
		{ "v=spf1 ip4:256.1.1.1", "bad IPv4 address" },
		{ "v=spf1 ip4:01.2.3.4", "bad IPv4 address" },
		{ "v=spf1 ip4:1.2.3.4:8080", "bad IPv4 address" },
		{ "v=spf1 ip4:::1", "bad IPv4 address" },
		{ "v=spf1 ip4:1.2.3.4/33", "bad CIDR length" },
		{ "v=spf1 ip4:1.2.3.4/032", "bad CIDR length" },
		{ "v=spf1 ip4:1.2.3.4//32", "bad CIDR length" },
		{ "v=spf1 ip4:1.2.3.4/", "bad CIDR length" },
		{ "v=spf1 ip6::CAFE::BABE", "bad IPv6 address" },
		{ "v=spf1 ip6:1.2.3.4", "bad IPv6 address" },
		{ "v=spf1 ip6:::1/129", "bad CIDR length" },
		{ "v=spf1 ip6:::1//33", "bad CIDR length" },
		{ "v=spf1 ip6:" "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000",
		    "bad address" },
		{ "v=spf1 redirect=", "empty domain-spec" },
		{ "v=spf1 exp=", "empty domain-spec" },
		{ "v=spf1 exp=-all", "bad domain-spec" },
		{ "v=spf1 redirect=a.example redirect=b.example",
		    "repeated modifier" },
		{ "v=spf1 exp=a.example -all exp=b.example", "repeated modifier" },
		{ "v=spf1 foo=%abc", "'%' not followed" },
		{ "v=spf1 exists:%{a}.example.com", "unknown macro letter" },
		{ "v=spf1 exists:%{c}.example.com", "c, r or t outside" },
		{ "v=spf1 exists:%(ir).sbl.example.com", "'%' not followed" },
		{ "v=spf1 exists:foo%.sbl.example.com", "'%' not followed" },
		{ "v=spf1 exists:%{d0}.example.com", "zero parts" },
		{ "v=spf1 a:ctrl.example.com\rptr -all", "control character" },
		{ "v=spf1 ip4:192.0.2.5\n include:x.example ~all",
		    "control character" },
		{ "v=spf1 a:\xef\xbb\xbfgarbage.example.net", "non-ASCII" },
		{ "v=spf1 \x96" "all", "non-ASCII" },
		{ "v=spf2 -all", "not a v=spf1 record" },
	};
	struct pool *pool = pool_new(1024);
	struct spf_record r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *error = NULL;

		if (parse(cases[i].rec, pool, &r, &error) != -1 ||
		    error == NULL || strstr(error, cases[i].error) == NULL)
			fail_msg("record \"%s\": error \"%s\", want \"%s\"",
			    cases[i].rec, error != NULL ? error : "(none)",
			    cases[i].error);
	}
	pool_free(&pool);
}

static void
test_record_nul_bytes(void **state)
{
	static const char rec[] = "v=spf1 a:foo.example.com\0 -all";
	struct pool *pool = pool_new(1024);
	struct spf_record r;
	const char *error = NULL;

	(void)state;
	assert_int_equal(spf_record_parse(rec, sizeof(rec) - 1, pool, &r,
	    &error), -1);
	assert_non_null(strstr(error, "control character"));
	/* The quoted term is escaped: no raw NUL or control byte. */
	assert_non_null(strstr(error, "\\x00"));
	pool_free(&pool);
}

static void
test_record_limits(void **state)
{
	struct pool *pool = pool_new(4096);
	struct spf_record r;
	const char *error = NULL;
	struct buf b;

	(void)state;
	/* Length: SPF_RECORD_MAX is accepted, one more octet is not. */
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_puts(&b, "v=spf1 exists:"), 0);
	while (b.len < SPF_RECORD_MAX - 4)
		assert_int_equal(buf_puts(&b, "a."), 0);
	while (b.len < SPF_RECORD_MAX - 3)
		assert_int_equal(buf_puts(&b, "a"), 0);
	assert_int_equal(buf_puts(&b, ".com"), 0);
	assert_int_equal(b.len, SPF_RECORD_MAX + 1);
	assert_int_equal(spf_record_parse(b.data, b.len, pool, &r, &error), -1);
	assert_non_null(strstr(error, "longer than"));
	assert_int_equal(spf_record_parse(b.data + 1, b.len - 1, pool, &r,
	    &error), -1);	/* "=spf1": not a record, but not too long */
	assert_non_null(strstr(error, "not a v=spf1"));
	b.data[b.len - 5] = 'a';	/* drop one octet: "...a.com" */
	memmove(b.data + 7, b.data + 8, b.len - 8);
	b.len--;
	assert_int_equal(spf_record_parse(b.data, b.len, pool, &r, &error), -1);
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "v=spf1 exists:"), 0);
	while (b.len < SPF_RECORD_MAX - 4)
		assert_int_equal(buf_puts(&b, "a."), 0);
	b.len = SPF_RECORD_MAX - 4;
	b.data[b.len] = '\0';
	if (b.data[b.len - 1] == '.')
		b.data[b.len - 1] = 'a';
	assert_int_equal(buf_puts(&b, ".com"), 0);
	assert_int_equal(b.len, SPF_RECORD_MAX);
	assert_int_equal(spf_record_parse(b.data, b.len, pool, &r, &error), 0);

	/* Terms: SPF_TERMS_MAX are accepted, one more is not. */
	for (size_t n = SPF_TERMS_MAX; n <= SPF_TERMS_MAX + 1; n++) {
		buf_reset(&b);
		assert_int_equal(buf_puts(&b, "v=spf1"), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_puts(&b, " a"), 0);
		pool_clear(pool);
		assert_int_equal(spf_record_parse(b.data, b.len, pool, &r,
		    &error), n == SPF_TERMS_MAX ? 0 : -1);
		if (n > SPF_TERMS_MAX)
			assert_non_null(strstr(error, "more than 256 terms"));
	}
	/* Thousands of terms, and a megabyte of record. */
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "v=spf1"), 0);
	for (size_t i = 0; i < 2000; i++)
		assert_int_equal(buf_puts(&b, " ~a"), 0);
	assert_int_equal(spf_record_parse(b.data, b.len, pool, &r, &error), -1);
	while (b.len < (1 << 20) - 3)
		assert_int_equal(buf_puts(&b, " a"), 0);
	assert_int_equal(spf_record_parse(b.data, b.len, pool, &r, &error), -1);
	assert_non_null(strstr(error, "longer than"));
	buf_release(&b);
	pool_free(&pool);
}

/* Every prefix of good and bad records parses or fails cleanly. */
static void
test_record_prefixes(void **state)
{
	static const char *const recs[] = {
		"v=spf1 ?a:%{d}.example.com/24//64 mx:mx.example.org//48 "
		    "ip6:2001:db8::/32 exists:%{ir}.%{l1r+-}.bl.example.org "
		    "redirect=_spf.%{d2} exp=exp.%{d}",
		"v=spf1 ip4:192.0.2.0/24 ip4:1.2.3.4/033 %{x} a:foo%",
	};
	struct pool *pool = pool_new(1024);
	struct spf_record r;
	const char *error;

	(void)state;
	for (size_t k = 0; k < sizeof(recs) / sizeof(recs[0]); k++) {
		size_t n = strlen(recs[k]);

		for (size_t len = 0; len <= n; len++) {
			char *copy = malloc(len > 0 ? len : 1);

			assert_non_null(copy);
			memcpy(copy, recs[k], len);
			error = NULL;
			if (spf_record_parse(copy, len, pool, &r, &error) < 0)
				assert_non_null(error);
			free(copy);
			pool_clear(pool);
		}
	}
	pool_free(&pool);
}

/* --- macros ------------------------------------------------------------------ */

/* RFC 7208 7.4's example: strong-bad@email.example.com from 192.0.2.3. */
static const struct spf_macro_env rfc_env = {
	.sender = "strong-bad@email.example.com",
	.local = "strong-bad",
	.sender_domain = "email.example.com",
	.domain = "email.example.com",
	.ip = "192.0.2.3",
	.ip_text = "192.0.2.3",
	.ip_version = "in-addr",
	.helo = "mx.example.org",
	.ptr = NULL,
	.receiver = "mx.receiver.example",
	.now = 1234567890,
};

static const char *
expand(const struct spf_macro_env *env, enum spf_macro_use use,
    const char *s, struct buf *out)
{
	const char *error = NULL;

	buf_reset(out);
	if (spf_macro_expand(s, strlen(s), use, env, out, &error) < 0)
		return NULL;
	return out->data != NULL ? out->data : "";
}

static void
test_macro_rfc_examples(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		    "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net",
		    "example.com.trusted-domains.example.net" },
		{ "%{h}", "mx.example.org" },
		{ "%{p}", "unknown" },
		{ "%%%_%-", "% %20" },
		{ "%{d999999999999999999999999999r}", "com.example.email" },
		{ "%{l2r+-}", "bad.strong" },
		{ "%{d..........}", "email.example.com" },
		{ "%{S}", "strong-bad%40email.example.com" },
		{ "%{D2}", "example.com" },
	};
	struct buf out;

	(void)state;
	buf_init(&out, SPF_EXPAND_MAX);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = expand(&rfc_env, SPF_MACRO_DOMAIN, cases[i].in,
		    &out);

		if (got == NULL || strcmp(got, cases[i].out) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].in,
			    got != NULL ? got : "(error)", cases[i].out);
	}
	buf_release(&out);
}

static void
test_macro_ipv6_and_explain(void **state)
{
	struct spf_macro_env env = rfc_env;
	struct buf out;

	(void)state;
	env.ip = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "c.b.0.1";
	env.ip_text = "2001:db8::cb01";
	env.ip_version = "ip6";
	buf_init(&out, SPF_EXPAND_MAX);
	/* RFC 7208 7.4, the IPv6 example. */
	assert_string_equal(expand(&env, SPF_MACRO_DOMAIN,
	    "%{ir}.%{v}._spf.%{d2}", &out), "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0"
	    ".0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
	/* c, r and t, and spaces, in explanations only. */
	assert_string_equal(expand(&env, SPF_MACRO_EXPLAIN,
	    "%{c} is not one of %{d}'s senders (at %{r}, %{t})", &out),
	    "2001:db8::cb01 is not one of email.example.com's senders "
	    "(at mx.receiver.example, 1234567890)");
	assert_null(expand(&env, SPF_MACRO_DOMAIN, "%{c}", &out));
	assert_null(expand(&env, SPF_MACRO_DOMAIN, "a b", &out));
	/* URL escaping of upper-case macros (RFC 3986 unreserved kept). */
	env.local = "~jack&jill=up-a_b3.c";
	assert_string_equal(expand(&env, SPF_MACRO_EXPLAIN,
	    "why.html?l=%{L}", &out), "why.html?l=~jack%26jill%3Dup-a_b3.c");
	env.local = "\xc3\xa9t\xc3\xa9 x";
	assert_string_equal(expand(&env, SPF_MACRO_EXPLAIN, "%{L}", &out),
	    "%C3%A9t%C3%A9%20x");
	buf_release(&out);
}

static void
test_macro_malformed(void **state)
{
	static const char *const bad[] = {
		"%", "foo%", "%x", "%(d)", "%{", "%{d", "%{d}%{", "%{z}",
		"%{a}", "%{d0}", "%{d00}", "%{dx}", "%{d2rr}", "%{d.r}",
		"%{d2 }", "%{}", "%{d2}%", "a\tb", "a\x01", "\xc3\xa9",
	};
	struct buf out;
	const char *error;

	(void)state;
	buf_init(&out, SPF_EXPAND_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (spf_macro_check(bad[i], strlen(bad[i]), SPF_MACRO_EXPLAIN,
		    NULL, &error) != -1 || error == NULL)
			fail_msg("macro-string \"%s\" accepted", bad[i]);
		if (expand(&rfc_env, SPF_MACRO_EXPLAIN, bad[i], &out) != NULL)
			fail_msg("macro-string \"%s\" expanded", bad[i]);
	}
	/* A NUL byte inside. */
	assert_int_equal(spf_macro_check("a\0b", 3, SPF_MACRO_DOMAIN, NULL,
	    &error), -1);
	buf_release(&out);
}

static void
test_macro_limits(void **state)
{
	struct spf_macro_env env = rfc_env;
	struct buf in, out;
	const char *error;
	bool uses_p = false;
	char *big;

	(void)state;
	buf_init(&in, 1 << 20);
	buf_init(&out, SPF_EXPAND_MAX);
	/* Deep transformers: a thousand digits, ten thousand delimiters. */
	assert_int_equal(buf_puts(&in, "%{d"), 0);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(buf_puts(&in, "9"), 0);
	assert_int_equal(buf_puts(&in, "r"), 0);
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(buf_puts(&in, i % 2 ? "." : "-"), 0);
	assert_int_equal(buf_puts(&in, "}"), 0);
	assert_string_equal(expand(&env, SPF_MACRO_DOMAIN, in.data, &out),
	    "com.example.email");
	/* The expansion stops at the buffer's max. */
	buf_reset(&in);
	while (in.len < SPF_EXPAND_MAX)
		assert_int_equal(buf_puts(&in, "%{s}"), 0);
	assert_null(expand(&env, SPF_MACRO_DOMAIN, in.data, &out));
	assert_int_equal(spf_macro_expand(in.data, in.len, SPF_MACRO_DOMAIN,
	    &env, &out, &error), -1);
	assert_string_equal(error, "macro expansion too long");
	/* A value longer than any expansion, with many parts. */
	big = malloc(SPF_EXPAND_MAX * 4 + 1);
	assert_non_null(big);
	for (size_t i = 0; i < SPF_EXPAND_MAX * 4; i++)
		big[i] = i % 2 ? '.' : 'a';
	big[SPF_EXPAND_MAX * 4] = '\0';
	env.local = big;
	assert_null(expand(&env, SPF_MACRO_DOMAIN, "%{l1}", &out));
	free(big);
	/* %{p} is noticed (it needs lookups first). */
	assert_int_equal(spf_macro_check("%{p}.x", 6, SPF_MACRO_DOMAIN,
	    &uses_p, &error), 0);
	assert_true(uses_p);
	assert_int_equal(spf_macro_check("%{P2r}.x", 8, SPF_MACRO_DOMAIN,
	    &uses_p, &error), 0);
	assert_true(uses_p);
	assert_int_equal(spf_macro_check("%%{p}.x", 7, SPF_MACRO_DOMAIN,
	    &uses_p, &error), 0);
	assert_false(uses_p);
	buf_release(&in);
	buf_release(&out);
}

static void
test_domain_truncate_and_end(void **state)
{
	char name[600];
	size_t n;

	(void)state;
	/* RFC 7208 7.3: labels go from the left until 253 octets fit. */
	n = 0;
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(name + n, sizeof(name) - n, "lbl%02d.", i);
	snprintf(name + n, sizeof(name) - n, "example.com");
	spf_domain_truncate(name);
	assert_true(strlen(name) <= DNS_NAME_MAX);
	assert_true(strlen(name) > DNS_NAME_MAX - 7);
	assert_string_equal(name + strlen(name) - 12, ".example.com");
	assert_int_equal(name[0], 'l');
	/* A trailing dot does not count. */
	memset(name, 'a', 253);
	name[253] = '.';
	name[254] = '\0';
	name[100] = '.';
	spf_domain_truncate(name);
	assert_int_equal(strlen(name), 254);
	/* One label longer than a name leaves nothing. */
	memset(name, 'a', 300);
	name[300] = '\0';
	assert_string_equal(spf_domain_truncate(name), "");

	assert_true(spf_domain_end_valid("example.com", 11));
	assert_true(spf_domain_end_valid("example.com.", 12));
	assert_true(spf_domain_end_valid("%{d}", 4));
	assert_true(spf_domain_end_valid("x.%{d}", 6));
	assert_true(spf_domain_end_valid("%{d}.com", 8));
	assert_true(spf_domain_end_valid("foo.xn--zckzah", 14));
	assert_true(spf_domain_end_valid("foo.1-2", 7));
	assert_true(spf_domain_end_valid("x.%-", 4));
	assert_false(spf_domain_end_valid("com", 3));
	assert_false(spf_domain_end_valid("%{d}com", 7));
	assert_false(spf_domain_end_valid("foo.123", 7));
	assert_false(spf_domain_end_valid("foo.-com", 8));
	assert_false(spf_domain_end_valid("foo.com-", 8));
	assert_false(spf_domain_end_valid("foo.", 4));
	assert_false(spf_domain_end_valid("foo..", 5));
	assert_false(spf_domain_end_valid("", 0));
	assert_false(spf_domain_end_valid(".", 1));
}

/* --- the evaluator, over a zone ------------------------------------------------ */

struct eval {
	struct event_base *base;
	struct spf_zone *zone;
	struct spf_dns dns;
	struct pool *pool;
	struct spf_result *result;
	unsigned calls;
};

static void
eval_done(void *ctx, const struct spf_result *r)
{
	struct eval *e = ctx;

	e->calls++;
	e->result = spf_result_copy(e->pool, r);
	event_base_loopbreak(e->base);
}

static void
eval_setup(struct eval *e)
{
	memset(e, 0, sizeof(*e));
	e->base = event_base_new();
	assert_non_null(e->base);
	e->zone = spf_zone_new(e->base);
	spf_zone_dns(e->zone, &e->dns);
	e->pool = pool_new(1024);
}

static void
eval_teardown(struct eval *e)
{
	assert_int_equal(spf_zone_pending(e->zone), 0);
	spf_zone_free(&e->zone);
	event_base_free(e->base);
	pool_free(&e->pool);
}

static void
zone_txt(struct eval *e, const char *name, const char *txt)
{
	assert_int_equal(spf_zone_add(e->zone, name, DNS_TYPE_TXT, txt,
	    strlen(txt)), 0);
}

/* Runs one evaluation of req with dns to its end; returns its result
 * (e's pool). */
static const struct spf_result *
eval_run_dns(struct eval *e, const struct spf_dns *dns,
    const struct spf_request *req)
{
	struct spf_check *c;
	const char *error;

	e->result = NULL;
	e->calls = 0;
	c = spf_check_start(e->base, dns, req, eval_done, e, &error);
	assert_non_null(c);
	/* Never from inside the start, even for a result known at once. */
	assert_int_equal(e->calls, 0);
	for (int i = 0; i < 1000 && e->calls == 0; i++)
		assert_int_equal(event_base_loop(e->base, EVLOOP_ONCE), 0);
	assert_int_equal(e->calls, 1);
	spf_check_free(&c);
	assert_null(c);
	return e->result;
}

/* The same with the zone, from ip for mail_from. */
static const struct spf_result *
eval_run(struct eval *e, const char *ip, const char *mail_from)
{
	struct spf_request req = { .ip = ip, .mail_from = mail_from,
	    .helo = "client.example.org", .hostname = "mx.example.net" };

	return eval_run_dns(e, &e->dns, &req);
}

static void
test_eval_loops(void **state)
{
	const struct spf_result *r;
	struct eval e;

	(void)state;
	eval_setup(&e);
	zone_txt(&e, "loop1.example", "v=spf1 include:loop2.example -all");
	zone_txt(&e, "loop2.example", "v=spf1 include:loop1.example -all");
	zone_txt(&e, "self.example", "v=spf1 redirect=self.example");
	zone_txt(&e, "macro.example", "v=spf1 redirect=%{d}");
	zone_txt(&e, "deep.example", "v=spf1 include:a.deep.example");
	zone_txt(&e, "a.deep.example", "v=spf1 include:b.%{d}");
	for (int i = 0; i < 4; i++) {
		const char *sender = (const char *[]){ "x@loop1.example",
		    "x@self.example", "x@macro.example", "x@deep.example" }[i];

		r = eval_run(&e, "192.0.2.1", sender);
		assert_int_equal(r->status, SPF_PERMERROR);
		assert_string_equal(r->problem,
		    i == 3 ? "include: no SPF record at b.a.deep.example" :
		    "more than 10 DNS-querying terms");
		assert_true(r->dns_terms <= SPF_DNS_TERMS_MAX + 1);
	}
	eval_teardown(&e);
}

static void
test_eval_basic(void **state)
{
	const struct spf_result *r;
	struct eval e;

	(void)state;
	eval_setup(&e);
	zone_txt(&e, "example.org", "v=spf1 ip4:192.0.2.0/24 mx -all "
	    "exp=why.example.org");
	zone_txt(&e, "why.example.org", "%{i} is not %{d}'s");
	assert_int_equal(spf_zone_add(e.zone, "example.org", DNS_TYPE_MX,
	    "10 mx.example.org", 17), 0);
	assert_int_equal(spf_zone_add(e.zone, "mx.example.org",
	    DNS_TYPE_AAAA, "2001:db8::25", 12), 0);
	r = eval_run(&e, "192.0.2.77", "a@example.org");
	assert_int_equal(r->status, SPF_PASS);
	assert_string_equal(r->mechanism, "ip4:192.0.2.0/24");
	assert_string_equal(r->domain, "example.org");
	assert_string_equal(r->sender, "a@example.org");
	assert_int_equal(r->identity, SPF_IDENTITY_MAILFROM);
	r = eval_run(&e, "2001:db8::25", "a@EXAMPLE.org");
	assert_int_equal(r->status, SPF_PASS);
	assert_string_equal(r->mechanism, "mx");
	r = eval_run(&e, "::ffff:198.51.100.1", "@example.org");
	assert_int_equal(r->status, SPF_FAIL);
	assert_string_equal(r->mechanism, "-all");
	assert_string_equal(r->sender, "postmaster@example.org");
	assert_string_equal(r->explanation, "198.51.100.1 is not example.org's");
	/* Null sender: the HELO identity. */
	r = eval_run(&e, "192.0.2.1", "");
	assert_int_equal(r->identity, SPF_IDENTITY_HELO);
	assert_int_equal(r->status, SPF_NONE);
	assert_string_equal(r->sender, "postmaster@client.example.org");
	/* Not a domain at all. */
	r = eval_run(&e, "192.0.2.1", "x@[192.0.2.1]");
	assert_int_equal(r->status, SPF_NONE);
	assert_non_null(strstr(r->problem, "not a valid domain name"));
	eval_teardown(&e);
}

static void
test_eval_hostile_records(void **state)
{
	const struct spf_result *r;
	struct eval e;
	struct buf b;

	(void)state;
	eval_setup(&e);
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_puts(&b, "v=spf1"), 0);
	while (b.len < 100000)
		assert_int_equal(buf_puts(&b, " ip4:192.0.2.1"), 0);
	assert_int_equal(spf_zone_add(e.zone, "huge.example", DNS_TYPE_TXT,
	    b.data, b.len), 0);
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "v=spf1"), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_puts(&b, " a"), 0);
	assert_int_equal(spf_zone_add(e.zone, "many.example", DNS_TYPE_TXT,
	    b.data, b.len), 0);
	buf_release(&b);
	assert_int_equal(spf_zone_add(e.zone, "nul.example", DNS_TYPE_TXT,
	    "v=spf1 +all\0 -all", 17), 0);
	zone_txt(&e, "two.example", "v=spf1 +all");
	zone_txt(&e, "two.example", "V=SPF1 -all");
	zone_txt(&e, "voids.example", "v=spf1 a:n1.example a:n2.example "
	    "mx:n3.example +all");
	/* %{p} three times, and ptr: one PTR lookup, two void lookups. */
	zone_txt(&e, "ptrs.example", "v=spf1 exists:%{p}.%{p}.%{p}.x.example "
	    "ptr:%{p} -all");
	static const struct {
		const char *sender;
		enum spf_status status;
		const char *problem;
	} cases[] = {
		{ "x@huge.example", SPF_PERMERROR, "longer than 4096" },
		{ "x@many.example", SPF_PERMERROR, "more than 256 terms" },
		{ "x@nul.example", SPF_PERMERROR, "control character" },
		{ "x@two.example", SPF_PERMERROR, "more than one SPF record" },
		{ "x@voids.example", SPF_PERMERROR, "more than 2 void" },
		{ "x@ptrs.example", SPF_FAIL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = eval_run(&e, "192.0.2.1", cases[i].sender);
		if (r->status != cases[i].status || (cases[i].problem != NULL &&
		    (r->problem == NULL ||
		    strstr(r->problem, cases[i].problem) == NULL)))
			fail_msg("%s: %s (%s)", cases[i].sender,
			    spf_status_name(r->status), r->problem);
	}
	eval_teardown(&e);
}

/* Cancelled at every point it can wait: nothing is called, nothing is
 * left pending or leaked. */
static void
test_eval_cancel(void **state)
{
	struct spf_request req = { .ip = "192.0.2.9",
	    .mail_from = "x@a.example", .helo = "h.example" };
	const char *error;
	struct eval e;

	(void)state;
	eval_setup(&e);
	zone_txt(&e, "a.example", "v=spf1 include:b.example mx ptr -all");
	zone_txt(&e, "b.example", "v=spf1 a exists:%{i}.e.example ~all");
	for (int steps = 0; steps < 12; steps++) {
		struct spf_check *c = spf_check_start(e.base, &e.dns, &req,
		    eval_done, &e, &error);

		e.calls = 0;
		for (int i = 0; i < steps && e.calls == 0; i++)
			assert_int_equal(event_base_loop(e.base, EVLOOP_ONCE), 0);
		spf_check_free(&c);
		assert_int_equal(spf_zone_pending(e.zone), 0);
		/* Nothing fires any more. */
		assert_int_equal(event_base_loop(e.base, EVLOOP_NONBLOCK), 1);
		assert_true(e.calls <= 1);
	}
	assert_null(spf_check_start(e.base, &e.dns, &(struct spf_request){
	    .ip = "192.0.2.999", .mail_from = "x@a.example" }, eval_done, &e,
	    &error));
	eval_teardown(&e);
}

/* A resolver that answers inside query(), against the contract: the
 * evaluation still comes out right. Its zone: a.example includes
 * b.example, which allows the client through exists. */
static void *
sync_query(void *ctx, const char *name, uint16_t rrtype,
    dns_query_callback *cb, void *cb_ctx)
{
	static const struct {
		const char *name;
		uint16_t rrtype;
		const char *txt;
	} zone[] = {
		{ "a.example", DNS_TYPE_TXT, "v=spf1 include:b.example -all" },
		{ "b.example", DNS_TYPE_TXT, "v=spf1 exists:%{i}.e.example ~all" },
		{ "192.0.2.9.e.example", DNS_TYPE_A, NULL },
	};
	struct dns_result *r = dns_result_new_status(name, rrtype,
	    DNS_NXDOMAIN, "no such domain");

	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (strcmp(zone[i].name, name) != 0 || zone[i].rrtype != rrtype)
			continue;
		r->status = DNS_OK;
		r->count = 1;
		if (rrtype == DNS_TYPE_A) {
			r->rr.a = pool_alloc(r->pool, sizeof(*r->rr.a));
			r->rr.a[0].s_addr = htonl(0x7f000002);
		} else {
			r->rr.txt = pool_alloc(r->pool, sizeof(*r->rr.txt));
			r->rr.txt[0].data = pool_strdup(r->pool, zone[i].txt);
			r->rr.txt[0].len = strlen(zone[i].txt);
		}
	}
	cb(cb_ctx, r);
	return ctx;
}

static void
sync_cancel(void *ctx, void *query)
{
	fail_msg("a query answered at once cannot be cancelled");
}

static void
test_eval_synchronous_resolver(void **state)
{
	struct spf_request req = { .ip = "192.0.2.9",
	    .mail_from = "x@a.example", .helo = "h.example" };
	struct spf_dns sd = { sync_query, sync_cancel, NULL };
	const struct spf_result *r;
	struct eval e;

	(void)state;
	eval_setup(&e);
	r = eval_run_dns(&e, &sd, &req);
	assert_int_equal(r->status, SPF_PASS);
	assert_string_equal(r->mechanism, "include:b.example");
	assert_int_equal(r->dns_terms, 2);
	eval_teardown(&e);
}

/* A resolver that never answers: the evaluation's own time limit ends it
 * with temperror and cancels the query. */
static unsigned silent_cancels;

static void *
silent_query(void *ctx, const char *name, uint16_t rrtype,
    dns_query_callback *cb, void *cb_ctx)
{
	return &silent_cancels;
}

static void
silent_cancel(void *ctx, void *query)
{
	assert_ptr_equal(query, &silent_cancels);
	silent_cancels++;
}

static void
test_eval_time_limit(void **state)
{
	struct spf_request req = { .ip = "192.0.2.9",
	    .mail_from = "x@a.example", .timeout = 1 };
	struct spf_dns sd = { silent_query, silent_cancel, NULL };
	const struct spf_result *r;
	struct eval e;

	(void)state;
	eval_setup(&e);
	r = eval_run_dns(&e, &sd, &req);
	assert_int_equal(r->status, SPF_TEMPERROR);
	assert_string_equal(r->problem, "the evaluation took too long");
	/* Cancelled by the time limit, not again by the free. */
	assert_int_equal(silent_cancels, 1);
	eval_teardown(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_is_v1),
		cmocka_unit_test(test_record_valid),
		cmocka_unit_test(test_record_malformed),
		cmocka_unit_test(test_record_nul_bytes),
		cmocka_unit_test(test_record_limits),
		cmocka_unit_test(test_record_prefixes),
		cmocka_unit_test(test_macro_rfc_examples),
		cmocka_unit_test(test_macro_ipv6_and_explain),
		cmocka_unit_test(test_macro_malformed),
		cmocka_unit_test(test_macro_limits),
		cmocka_unit_test(test_domain_truncate_and_end),
		cmocka_unit_test(test_eval_basic),
		cmocka_unit_test(test_eval_loops),
		cmocka_unit_test(test_eval_hostile_records),
		cmocka_unit_test(test_eval_cancel),
		cmocka_unit_test(test_eval_synchronous_resolver),
		cmocka_unit_test(test_eval_time_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
