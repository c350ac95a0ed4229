/*
 * test_smtp_parse.c - SMTP paths and MAIL/RCPT/BDAT arguments.
 * RFC 5321 4.1.2 and 4.5.3.1, RFC 1870, RFC 6531.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/pool.h"
#include "core/utf8.h"
#include "smtp/smtp-parse.h"

static struct pool *pool;

static int
setup(void **state)
{
	pool = pool_new(4096);
	return 0;
}

static int
teardown(void **state)
{
	pool_free(&pool);
	return 0;
}

static enum smtp_parse_error
mail(const char *args, struct smtp_path *p, struct smtp_mail_params *mp)
{
	const char *error = NULL;
	enum smtp_parse_error e = smtp_parse_mail(args, pool, p, mp, &error);

	if (e != SMTP_PARSE_OK)
		assert_non_null(error);
	return e;
}

static enum smtp_parse_error
rcpt(const char *args, bool utf8, struct smtp_path *p)
{
	const char *error = NULL;

	return smtp_parse_rcpt(args, utf8, pool, p, &error);
}

static void
test_mail_valid(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<alice@example.com>", &p, &mp), SMTP_PARSE_OK);
	assert_string_equal(p.address, "alice@example.com");
	assert_string_equal(p.localpart, "alice");
	assert_string_equal(p.domain, "example.com");
	assert_false(mp.has_size);
	/* Case-insensitive keyword, white space around the colon. */
	assert_int_equal(mail("from : <a@b.c>", &p, &mp), SMTP_PARSE_OK);
	assert_string_equal(p.address, "a@b.c");
	/* Null reverse-path. */
	assert_int_equal(mail("FROM:<>", &p, &mp), SMTP_PARSE_OK);
	assert_true(p.null);
	assert_string_equal(p.address, "");
	/* Source routes are accepted and dropped. */
	assert_int_equal(mail("FROM:<@relay.example,@r2.example:bob@example.org>", &p, &mp),
	    SMTP_PARSE_OK);
	assert_string_equal(p.address, "bob@example.org");
	/* Address literals. */
	assert_int_equal(mail("FROM:<x@[192.0.2.1]>", &p, &mp), SMTP_PARSE_OK);
	assert_string_equal(p.domain, "[192.0.2.1]");
	assert_int_equal(mail("FROM:<x@[IPv6:2001:db8::1]>", &p, &mp), SMTP_PARSE_OK);
	assert_int_equal(mail("FROM:<x@[300.0.2.1]>", &p, &mp), SMTP_PARSE_BAD_ADDRESS);
	assert_int_equal(mail("FROM:<x@[IPv6:zz::1]>", &p, &mp), SMTP_PARSE_BAD_ADDRESS);
}

static void
test_quoted_local(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<\"john doe\"@example.com>", &p, &mp), SMTP_PARSE_OK);
	assert_string_equal(p.localpart, "\"john doe\"");
	assert_string_equal(p.address, "\"john doe\"@example.com");
	/* A quoted string that needs no quotes is unquoted. */
	assert_int_equal(mail("FROM:<\"john.doe\"@example.com>", &p, &mp), SMTP_PARSE_OK);
	assert_string_equal(p.address, "john.doe@example.com");
	/* Quoted pairs keep their escapes in the canonical form. */
	assert_int_equal(mail("FROM:<\"a\\\"b\"@example.com>", &p, &mp), SMTP_PARSE_OK);
	assert_string_equal(p.localpart, "\"a\\\"b\"");
	/* Unterminated quote, control character inside. */
	assert_int_equal(mail("FROM:<\"abc@example.com>", &p, &mp), SMTP_PARSE_BAD_ADDRESS);
	assert_int_equal(mail("FROM:<\"a\tb\"@example.com>", &p, &mp), SMTP_PARSE_BAD_ADDRESS);
	assert_int_equal(mail("FROM:<\"a\\", &p, &mp), SMTP_PARSE_BAD_ADDRESS);
}

static void
test_malformed_paths(void **state)
{
	static const char *const bad[] = {
		"FROM:alice@example.com",	/* no brackets */
		"FROM:<alice@example.com",	/* no closing bracket */
		"FROM:<alice>",			/* no domain */
		"FROM:<@example.com>",		/* empty local part */
		"FROM:<a..b@example.com>",	/* empty atom */
		"FROM:<.a@example.com>",
		"FROM:<a.@example.com>",
		"FROM:<a@>",
		"FROM:<a@-example.com>",	/* label starts with a hyphen */
		"FROM:<a@example-.com>",	/* label ends with a hyphen */
		"FROM:<a@example..com>",
		"FROM:<a@exa mple.com>",
		"FROM:<a b@example.com>",
		"FROM:<a@b@example.com>",
		"FROM:<a(comment)@example.com>",
		"FROM:<@:a@example.com>",	/* empty source route */
	};
	struct smtp_path p;
	struct smtp_mail_params mp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum smtp_parse_error e = mail(bad[i], &p, &mp);

		if (e == SMTP_PARSE_OK)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(mail("TO:<a@b.c>", &p, &mp), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<a@b.c>garbage", &p, &mp), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("", &p, &mp), SMTP_PARSE_SYNTAX);
}

static void
test_length_limits(void **state)
{
	char args[600], local[80], label[70];
	struct smtp_path p;
	struct smtp_mail_params mp;

	/* Local part: 63, 64 fine; 65 too long. */
	for (int n = 63; n <= 65; n++) {
		memset(local, 'l', (size_t)n);
		local[n] = '\0';
		snprintf(args, sizeof(args), "FROM:<%s@example.com>", local);
		assert_int_equal(mail(args, &p, &mp),
		    n <= SMTP_LOCAL_MAX ? SMTP_PARSE_OK : SMTP_PARSE_TOO_LONG);
	}
	/* A label of 63 is fine, 64 is not. */
	memset(label, 'd', 63);
	label[63] = '\0';
	snprintf(args, sizeof(args), "FROM:<a@%s.com>", label);
	assert_int_equal(mail(args, &p, &mp), SMTP_PARSE_OK);
	label[63] = 'd';
	label[64] = '\0';
	snprintf(args, sizeof(args), "FROM:<a@%s.com>", label);
	assert_int_equal(mail(args, &p, &mp), SMTP_PARSE_BAD_ADDRESS);
	/* Whole path: 256 with brackets is the most (RFC 5321 4.5.3.1.3). */
	for (int total = 255; total <= 257; total++) {
		/* "<" + 64 local + "@" + domain + ">" = total */
		int dlen = total - 67, o = 0;
		char dom[300];

		while (o < dlen) {
			int l = dlen - o > 60 ? 60 : dlen - o;

			if (o > 0) {
				dom[o - 1] = '.';
			}
			memset(dom + o, 'x', (size_t)l);
			o += l + 1;
		}
		dom[dlen] = '\0';
		memset(local, 'l', 64);
		local[64] = '\0';
		snprintf(args, sizeof(args), "FROM:<%s@%s>", local, dom);
		assert_int_equal(mail(args, &p, &mp),
		    total <= SMTP_PATH_MAX ? SMTP_PARSE_OK : SMTP_PARSE_TOO_LONG);
	}
}

static void
test_mail_params(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;

	assert_int_equal(mail("FROM:<a@b.c> SIZE=12345 BODY=8BITMIME", &p, &mp),
	    SMTP_PARSE_OK);
	assert_true(mp.has_size);
	assert_int_equal(mp.size, 12345);
	assert_int_equal(mp.body, SMTP_BODY_8BITMIME);
	assert_int_equal(mail("FROM:<a@b.c> size=0 body=7bit", &p, &mp), SMTP_PARSE_OK);
	assert_int_equal(mp.size, 0);
	assert_int_equal(mp.body, SMTP_BODY_7BIT);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=18446744073709551615", &p, &mp),
	    SMTP_PARSE_OK);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=18446744073709551616", &p, &mp),
	    SMTP_PARSE_BAD_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=12x", &p, &mp), SMTP_PARSE_BAD_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=", &p, &mp), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<a@b.c> SIZE", &p, &mp), SMTP_PARSE_BAD_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SIZE=1 SIZE=2", &p, &mp), SMTP_PARSE_BAD_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> BODY=BINARYMIME", &p, &mp), SMTP_PARSE_BAD_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> RET=FULL", &p, &mp), SMTP_PARSE_BAD_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> SMTPUTF8=yes", &p, &mp), SMTP_PARSE_BAD_PARAM);
	assert_int_equal(mail("FROM:<a@b.c> =x", &p, &mp), SMTP_PARSE_SYNTAX);
	/* The first unknown parameter stops the parse. */
	assert_int_equal(mail("FROM:<a@b.c> SIZE=1 A=1 B=1 C=1 D=1 E=1 F=1 G=1 H=1 "
	    "I=1 J=1 K=1 L=1 M=1 N=1 O=1 P=1 Q=1", &p, &mp), SMTP_PARSE_BAD_PARAM);
}

static void
test_smtputf8(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;

	/* UTF-8 addresses need SMTPUTF8 (RFC 6531 3.4). */
	assert_int_equal(mail("FROM:<jos\xc3\xa9@exampl\xc3\xa9.com>", &p, &mp),
	    SMTP_PARSE_UTF8);
	assert_int_equal(mail("FROM:<jos\xc3\xa9@exampl\xc3\xa9.com> SMTPUTF8", &p, &mp),
	    SMTP_PARSE_OK);
	assert_true(mp.smtputf8);
	assert_true(p.utf8);
	assert_string_equal(p.address, "jos\xc3\xa9@exampl\xc3\xa9.com");
	/* Invalid UTF-8 is refused even with SMTPUTF8. */
	assert_int_equal(mail("FROM:<jos\xc3@example.com> SMTPUTF8", &p, &mp),
	    SMTP_PARSE_BAD_ADDRESS);
	assert_int_equal(mail("FROM:<\xc0\xaf@example.com> SMTPUTF8", &p, &mp),
	    SMTP_PARSE_BAD_ADDRESS);
	assert_int_equal(rcpt("TO:<\xe2\x82\xac@example.com>", false, &p), SMTP_PARSE_UTF8);
	assert_int_equal(rcpt("TO:<\xe2\x82\xac@example.com>", true, &p), SMTP_PARSE_OK);
	assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_false(utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	assert_false(utf8_valid("\xe0\x80\xaf", 3));	/* overlong */
}

static void
test_rcpt(void **state)
{
	struct smtp_path p;

	assert_int_equal(rcpt("TO:<bob@example.com>", false, &p), SMTP_PARSE_OK);
	assert_string_equal(p.address, "bob@example.com");
	assert_int_equal(rcpt("To: <Bob@Example.COM>", false, &p), SMTP_PARSE_OK);
	assert_string_equal(p.address, "Bob@Example.COM");
	assert_int_equal(rcpt("TO:<Postmaster>", false, &p), SMTP_PARSE_OK);
	assert_true(p.postmaster);
	assert_int_equal(rcpt("TO:<postmaster@example.com>", false, &p), SMTP_PARSE_OK);
	assert_false(p.postmaster);
	assert_int_equal(rcpt("TO:<>", false, &p), SMTP_PARSE_BAD_ADDRESS);
	assert_int_equal(rcpt("TO:<bob>", false, &p), SMTP_PARSE_BAD_ADDRESS);
	assert_int_equal(rcpt("TO:<bob@example.com> NOTIFY=NEVER", false, &p),
	    SMTP_PARSE_BAD_PARAM);
	assert_int_equal(rcpt("FROM:<bob@example.com>", false, &p), SMTP_PARSE_SYNTAX);
}

static void
test_bdat(void **state)
{
	uint64_t n;
	bool last;

	assert_int_equal(smtp_parse_bdat("100", &n, &last), SMTP_PARSE_OK);
	assert_int_equal(n, 100);
	assert_false(last);
	assert_int_equal(smtp_parse_bdat("0 LAST", &n, &last), SMTP_PARSE_OK);
	assert_int_equal(n, 0);
	assert_true(last);
	assert_int_equal(smtp_parse_bdat("12 last", &n, &last), SMTP_PARSE_OK);
	assert_true(last);
	assert_int_equal(smtp_parse_bdat("", &n, &last), SMTP_PARSE_SYNTAX);
	assert_int_equal(smtp_parse_bdat("-1", &n, &last), SMTP_PARSE_SYNTAX);
	assert_int_equal(smtp_parse_bdat("12 FIRST", &n, &last), SMTP_PARSE_SYNTAX);
	assert_int_equal(smtp_parse_bdat("99999999999999999999999", &n, &last),
	    SMTP_PARSE_SYNTAX);
	assert_int_equal(smtp_parse_bdat("12x", &n, &last), SMTP_PARSE_SYNTAX);
}

/* Every prefix of a valid command is rejected or accepted without reading
 * past its end (run under ASan, this catches over-reads). */
static void
test_prefixes(void **state)
{
	const char *full = "FROM:<@r.example:\"q\\\"x\"@[IPv6:2001:db8::1]> SIZE=10 BODY=8BITMIME SMTPUTF8";
	size_t n = strlen(full);
	struct smtp_path p;
	struct smtp_mail_params mp;

	for (size_t i = 0; i < n; i++) {
		char *prefix = pool_strndup(pool, full, i);

		(void)mail(prefix, &p, &mp);
	}
	assert_int_equal(mail(full, &p, &mp), SMTP_PARSE_OK);
	assert_string_equal(p.address, "\"q\\\"x\"@[IPv6:2001:db8::1]");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_valid),
		cmocka_unit_test(test_quoted_local),
		cmocka_unit_test(test_malformed_paths),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
