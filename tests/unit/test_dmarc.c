/*
 * test_dmarc.c - DMARC records (RFC 7489 6.3, 6.4, 6.6.3 step 6), the
 * organizational domain from the Public Suffix List, alignment, and the
 * evaluation with pct.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/dmarc.h"

static int
parse(const char *txt, struct dmarc_record *rec)
{
	const char *error = NULL;
	int ret = dmarc_record_parse(txt, strlen(txt), rec, &error);

	if (ret < 0)
		assert_non_null(error);
	return ret;
}

static void
test_record_valid(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject", &r), 1);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.sp, DMARC_POLICY_REJECT);
	assert_false(r.has_sp);
	assert_int_equal(r.pct, 100);
	assert_false(r.adkim_strict);
	assert_false(r.aspf_strict);

	assert_int_equal(parse("v=DMARC1;p=quarantine;sp=none;pct=25;"
	    "adkim=s;aspf=s;rua=mailto:d@example.org", &r), 1);
	assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.sp, DMARC_POLICY_NONE);
	assert_true(r.has_sp);
	assert_int_equal(r.pct, 25);
	assert_true(r.adkim_strict);
	assert_true(r.aspf_strict);
	assert_string_equal(r.rua, "mailto:d@example.org");

	/* Spaces around separators and '=', upper-case policy values,
	 * unknown tags and a trailing ';' are all fine. */
	assert_int_equal(parse("v = DMARC1 ;  P = Reject ; fo=1; x-new=7 ;",
	    &r), 1);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(parse("v=DMARC1; p=none; pct=0", &r), 1);
	assert_int_equal(r.pct, 0);
	/* A pct out of range is ignored: the default stays. */
	assert_int_equal(parse("v=DMARC1; p=none; pct=101", &r), 1);
	assert_int_equal(r.pct, 100);
	assert_int_equal(parse("v=DMARC1; p=none; pct=-1", &r), 1);
	assert_int_equal(r.pct, 100);
	assert_int_equal(parse("v=DMARC1; p=none; pct=9999999999999", &r), 1);
	assert_int_equal(r.pct, 100);
}

static void
test_record_not_dmarc(void **state)
{
	struct dmarc_record r;

	(void)state;
	/* Other TXT records at the name are not DMARC records. */
	assert_int_equal(parse("v=spf1 -all", &r), 0);
	assert_int_equal(parse("", &r), 0);
	assert_int_equal(parse("p=reject; v=DMARC1", &r), 0);
	/* The version value is case-sensitive (RFC 7489 6.4). */
	assert_int_equal(parse("v=dmarc1; p=reject", &r), 0);
	assert_int_equal(parse("v=DMARC10; p=reject", &r), 0);
	assert_int_equal(parse("v=DMARC2; p=reject", &r), 0);
	assert_int_equal(parse("vv=DMARC1; p=reject", &r), 0);
}

static void
test_record_broken(void **state)
{
	struct dmarc_record r;
	const char *error = NULL;
	static char big[DMARC_RECORD_MAX + 200];
	size_t i, n;

	(void)state;
	/* No p=, or a bad one, and no rua=: no policy at all. */
	assert_int_equal(parse("v=DMARC1", &r), -1);
	assert_int_equal(parse("v=DMARC1; p=drop", &r), -1);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=bogus", &r), -1);
	/* With a valid rua=, p=none (RFC 7489 6.6.3 step 6). */
	assert_int_equal(parse("v=DMARC1; p=drop; rua=mailto:a@b.example",
	    &r), 1);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.sp, DMARC_POLICY_NONE);
	assert_int_equal(parse("v=DMARC1; rua=mailto:a@b.example", &r), 1);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	/* A rua= that is not a URI does not save it. */
	assert_int_equal(parse("v=DMARC1; p=drop; rua=nobody", &r), -1);
	/* The first p= counts. */
	assert_int_equal(parse("v=DMARC1; p=none; p=reject", &r), 1);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	/* Malformed tags are skipped. */
	assert_int_equal(parse("v=DMARC1; =x; junk; p=reject; ;;", &r), 1);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);

	/* A NUL byte inside, and records too long or with too many tags. */
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=re\0ject", 19, &r,
	    &error), -1);
	n = DMARC_RECORD_MAX + 100;
	memcpy(big, "v=DMARC1; p=reject; rua=mailto:", 31);
	memset(big + 31, 'a', n - 31);
	big[n] = '\0';
	assert_int_equal(parse(big, &r), -1);
	/* Many tags, each short: refused past DMARC_TAGS_MAX. */
	strcpy(big, "v=DMARC1; p=none");
	for (i = 0; i < DMARC_TAGS_MAX + 5; i++)
		strcat(big, "; x=1");
	assert_int_equal(parse(big, &r), -1);
	/* A rua= longer than we keep is cut, not overflowed. */
	strcpy(big, "v=DMARC1; p=none; rua=mailto:");
	memset(big + strlen(big), 'b', DMARC_RUA_MAX + 50);
	big[29 + DMARC_RUA_MAX + 50] = '\0';
	assert_int_equal(parse(big, &r), 1);
	assert_int_equal(strlen(r.rua), DMARC_RUA_MAX);
}

static void
test_org_domain(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(dmarc_org_domain("mail.example.com", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "example.com");
	assert_int_equal(dmarc_org_domain("a.b.example.co.uk", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "example.co.uk");
	assert_int_equal(dmarc_org_domain("example.org", out, sizeof(out)),
	    0);
	assert_string_equal(out, "example.org");
	/* A public suffix is its own organizational domain. */
	assert_int_equal(dmarc_org_domain("co.uk", out, sizeof(out)), 0);
	assert_string_equal(out, "co.uk");
	/* Too small an output buffer. */
	assert_int_equal(dmarc_org_domain("mail.example.com", out, 5), -1);
}

static void
test_aligned(void **state)
{
	(void)state;
	assert_true(dmarc_aligned("example.com", "EXAMPLE.com", true));
	assert_true(dmarc_aligned("mail.example.com", "example.com", false));
	assert_false(dmarc_aligned("mail.example.com", "example.com", true));
	assert_true(dmarc_aligned("a.example.com", "b.example.com", false));
	assert_false(dmarc_aligned("example.com", "example.net", false));
	/* Two organizations under one public suffix are not aligned. */
	assert_false(dmarc_aligned("example.co.uk", "other.co.uk", false));
	assert_false(dmarc_aligned(NULL, "example.com", false));
}

static void
result_for(struct dmarc_result *r, const char *from)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->from_domain, sizeof(r->from_domain), "%s", from);
	snprintf(r->policy_domain, sizeof(r->policy_domain), "%s", from);
}

static void
test_evaluate(void **state)
{
	struct dmarc_record rec;
	struct dmarc_result r;
	const char *dkim[] = { "other.example", "mail.example.com" };
	struct dmarc_input in = { .from_domain = "example.com" };
	int i, milder = 0;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject; sp=quarantine", &rec), 1);

	/* Nothing passed: fail, and p= applies at the domain itself. */
	result_for(&r, "example.com");
	dmarc_evaluate(&rec, false, &in, &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_int_equal(r.disposition, DMARC_POLICY_REJECT);
	/* sp= when the record came from the organizational domain. */
	result_for(&r, "sub.example.com");
	dmarc_evaluate(&rec, true, &in, &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_int_equal(r.disposition, DMARC_POLICY_QUARANTINE);

	/* SPF passing for a subdomain is aligned in relaxed mode only. */
	in.spf_domain = "bounces.example.com";
	result_for(&r, "example.com");
	dmarc_evaluate(&rec, false, &in, &r);
	assert_int_equal(r.status, DMARC_PASS);
	assert_true(r.spf_aligned);
	assert_false(r.dkim_aligned);
	assert_int_equal(r.disposition, DMARC_POLICY_NONE);
	assert_int_equal(parse("v=DMARC1; p=reject; aspf=s", &rec), 1);
	result_for(&r, "example.com");
	dmarc_evaluate(&rec, false, &in, &r);
	assert_int_equal(r.status, DMARC_FAIL);

	/* A passing signature of another domain does not count; one of
	 * the same organization does. */
	in.spf_domain = NULL;
	in.dkim_domains = dkim;
	in.n_dkim = 1;
	result_for(&r, "example.com");
	dmarc_evaluate(&rec, false, &in, &r);
	assert_int_equal(r.status, DMARC_FAIL);
	in.n_dkim = 2;
	result_for(&r, "example.com");
	dmarc_evaluate(&rec, false, &in, &r);
	assert_int_equal(r.status, DMARC_PASS);
	assert_true(r.dkim_aligned);
	assert_int_equal(parse("v=DMARC1; p=reject; adkim=s", &rec), 1);
	result_for(&r, "example.com");
	dmarc_evaluate(&rec, false, &in, &r);
	assert_int_equal(r.status, DMARC_FAIL);

	/* pct=0: every failing message gets the next milder policy. */
	in.n_dkim = 0;
	assert_int_equal(parse("v=DMARC1; p=reject; pct=0", &rec), 1);
	result_for(&r, "example.com");
	dmarc_evaluate(&rec, false, &in, &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_true(r.sampled_out);
	assert_int_equal(r.policy, DMARC_POLICY_REJECT);
	assert_int_equal(r.disposition, DMARC_POLICY_QUARANTINE);
	assert_int_equal(parse("v=DMARC1; p=quarantine; pct=0", &rec), 1);
	result_for(&r, "example.com");
	dmarc_evaluate(&rec, false, &in, &r);
	assert_int_equal(r.disposition, DMARC_POLICY_NONE);
	/* pct=50: some of 200 are sampled out, and some are not. */
	assert_int_equal(parse("v=DMARC1; p=reject; pct=50", &rec), 1);
	for (i = 0; i < 200; i++) {
		result_for(&r, "example.com");
		dmarc_evaluate(&rec, false, &in, &r);
		milder += r.sampled_out;
	}
	assert_true(milder > 0 && milder < 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_valid),
		cmocka_unit_test(test_record_not_dmarc),
		cmocka_unit_test(test_record_broken),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_aligned),
		cmocka_unit_test(test_evaluate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
