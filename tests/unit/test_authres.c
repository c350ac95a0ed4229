/*
 * test_authres.c - writing Authentication-Results (RFC 8601 2.2) with
 * hostile values, and removing the fields that claim our authserv-id
 * (RFC 8601 5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/authres.h"
#include "core/buf.h"

static void
test_write(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(authres_begin(&b, "mx.example.org"), 0);
	assert_int_equal(authres_method(&b, "spf", "pass", NULL), 0);
	assert_int_equal(authres_prop(&b, "smtp.mailfrom", "a@example.com"),
	    0);
	assert_int_equal(authres_method(&b, "dkim", "fail",
	    "body hash mismatch"), 0);
	assert_int_equal(authres_prop(&b, "header.d", "example.com"), 0);
	assert_int_equal(authres_end(&b, true), 0);
	assert_string_equal(b.data,
	    "Authentication-Results: mx.example.org;\r\n"
	    "\tspf=pass smtp.mailfrom=a@example.com;\r\n"
	    "\tdkim=fail reason=\"body hash mismatch\" header.d=example.com\r\n");
	buf_reset(&b);
	assert_int_equal(authres_begin(&b, "mx.example.org"), 0);
	assert_int_equal(authres_end(&b, false), 0);
	assert_string_equal(b.data,
	    "Authentication-Results: mx.example.org; none\r\n");
	buf_release(&b);
}

static void
test_write_hostile(void **state)
{
	struct buf b;
	char big[1000];

	(void)state;
	buf_init(&b, 4096);
	/* A value cannot end the field, add a property or a line. */
	assert_int_equal(authres_prop(&b, "header.from",
	    "x; dkim=pass\r\nX-Evil: 1"), 0);
	assert_string_equal(b.data,
	    " header.from=\"x; dkim=pass??X-Evil: 1\"");
	buf_reset(&b);
	assert_int_equal(authres_prop(&b, "smtp.mailfrom",
	    "\"quoted\\\"@example.com"), 0);
	assert_string_equal(b.data,
	    " smtp.mailfrom=\"\\\"quoted\\\\\\\"@example.com\"");
	buf_reset(&b);
	assert_int_equal(authres_prop(&b, "smtp.mailfrom",
	    "caf\xc3\xa9@example.com"), 0);
	assert_string_equal(b.data, " smtp.mailfrom=\"caf??@example.com\"");
	buf_reset(&b);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(authres_prop(&b, "header.d", big), 0);
	assert_int_equal(b.len, strlen(" header.d=") + AUTHRES_VALUE_MAX);
	buf_reset(&b);
	assert_int_equal(authres_prop(&b, "header.d", ""), 0);
	assert_string_equal(b.data, " header.d=\"\"");
	buf_release(&b);
}

static bool
ours(const char *value)
{
	return authres_is_ours(value, strlen(value), "mx.example.org");
}

static void
test_is_ours(void **state)
{
	(void)state;
	assert_true(ours(" mx.example.org; spf=pass"));
	assert_true(ours(" MX.Example.ORG; none"));
	assert_true(ours("\r\n\tmx.example.org 1; dkim=pass"));
	assert_true(ours(" (a comment (nested)) mx.example.org; none"));
	assert_true(ours(" \"mx.example.org\"; none"));
	assert_false(ours(" mx.example.org.evil; none"));
	assert_false(ours(" evil.mx.example.org; none"));
	assert_false(ours(" other.example; spf=pass"));
	assert_false(ours(""));
	assert_false(ours(" (never closed mx.example.org; none"));
	assert_false(ours(" ((((((((((deep)))))))))) mx.example.org; none"));
	assert_false(ours(" \"mx.example.org"));
	/* A quoted-pair stands for its character (RFC 5322 3.2.4): a
	 * reader that unquotes sees our name. */
	assert_true(ours(" \"mx.ex\\ample.org\"; dmarc=pass"));
	assert_true(ours(" \"\\m\\x\\.example.org\"; none"));
	assert_false(ours(" \"mx.example.org\\\"; none"));
	assert_false(ours(" \"mx.example.or\\g.\"; none"));
	assert_false(ours(" \"mx.example.org\\"));
}

static void
test_strip(void **state)
{
	char msg[] =
	    "Authentication-Results: mx.example.org; dkim=pass\r\n"
	    "Received: from a\r\n"
	    "Authentication-Results: other.example; spf=pass\r\n"
	    "authentication-results :\r\n"
	    "\t(forged) mx.example.org;\r\n"
	    "\tdmarc=pass\r\n"
	    "Authentication-Results: \"mx.exa\\mple.org\"; dmarc=pass\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.org; in the body\r\n";
	const char *want =
	    "Received: from a\r\n"
	    "Authentication-Results: other.example; spf=pass\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.org; in the body\r\n";
	char lf[] = "Authentication-Results: mx.example.org; none\n"
	    "Subject: x\n\nbody\n";
	char only[] = "Authentication-Results: mx.example.org; none";
	size_t n;

	(void)state;
	n = authres_strip(msg, strlen(msg), "mx.example.org");
	assert_int_equal(n, strlen(want));
	assert_memory_equal(msg, want, n);
	n = authres_strip(lf, strlen(lf), "mx.example.org");
	assert_int_equal(n, strlen("Subject: x\n\nbody\n"));
	assert_memory_equal(lf, "Subject: x\n\nbody\n", n);
	/* A header section without an end, and an empty message. */
	assert_int_equal(authres_strip(only, strlen(only), "mx.example.org"),
	    0);
	assert_int_equal(authres_strip(only, 0, "mx.example.org"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_hostile),
		cmocka_unit_test(test_is_ours),
		cmocka_unit_test(test_strip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
