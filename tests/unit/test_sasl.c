/*
 * test_sasl.c - SASL PLAIN in base64 (auth/sasl.h): valid responses,
 * every way base64 can be wrong, and malformed PLAIN contents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "auth/sasl.h"

/* base64 of len bytes, into out. */
static const char *
test_b64(const char *raw, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw,
	    (int)len);
	return out;
}

static void
test_plain_ok(void **state)
{
	struct sasl_plain p;
	const char *error = NULL;
	char b64[256];

	test_b64("\0alice@example.test\0secret pw", 29, b64);
	assert_int_equal(sasl_plain_decode(b64, strlen(b64), &p, &error),
	    SASL_PLAIN_OK);
	assert_string_equal(p.authzid, "");
	assert_string_equal(p.authcid, "alice@example.test");
	assert_int_equal(p.password_len, 9);
	assert_string_equal(p.password, "secret pw");
	sasl_plain_free(&p);
	assert_null(p.raw);
	sasl_plain_free(&p);	/* twice is harmless */

	test_b64("bob\0bob\0x", 9, b64);
	assert_int_equal(sasl_plain_decode(b64, strlen(b64), &p, &error),
	    SASL_PLAIN_OK);
	assert_string_equal(p.authzid, "bob");
	assert_string_equal(p.authcid, "bob");
	assert_string_equal(p.password, "x");
	sasl_plain_free(&p);

	/* an empty password, and a password with a NUL in it */
	test_b64("\0u\0", 3, b64);
	assert_int_equal(sasl_plain_decode(b64, strlen(b64), &p, &error),
	    SASL_PLAIN_OK);
	assert_int_equal(p.password_len, 0);
	sasl_plain_free(&p);
	test_b64("\0u\0a\0b", 6, b64);
	assert_int_equal(sasl_plain_decode(b64, strlen(b64), &p, &error),
	    SASL_PLAIN_OK);
	assert_int_equal(p.password_len, 3);
	sasl_plain_free(&p);
}

static void
test_plain_bad(void **state)
{
	static const char *const bad_b64[] = {
		"A", "AB", "ABC", "ABCDE", "AB=C", "A===", "====", "AB C",
		"ABC\n", "AB\0C", "AB-_", "=ABC",
	};
	struct sasl_plain p;
	const char *error = NULL;
	char b64[64];

	for (size_t i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++) {
		size_t len = i == 9 ? 4 : strlen(bad_b64[i]);

		assert_int_equal(sasl_plain_decode(bad_b64[i], len, &p, &error),
		    SASL_PLAIN_BAD_BASE64);
		assert_string_equal(error, "Invalid base64");
		assert_null(p.raw);
	}
	/* base64, but not two NULs */
	assert_int_equal(sasl_plain_decode("", 0, &p, &error),
	    SASL_PLAIN_MALFORMED);
	test_b64("alice", 5, b64);
	assert_int_equal(sasl_plain_decode(b64, strlen(b64), &p, &error),
	    SASL_PLAIN_MALFORMED);
	assert_string_equal(error, "Invalid PLAIN response");
	test_b64("\0alice", 6, b64);
	assert_int_equal(sasl_plain_decode(b64, strlen(b64), &p, &error),
	    SASL_PLAIN_MALFORMED);
	assert_null(p.raw);
}

/* LOGIN's responses: plain base64, checked as strictly as PLAIN's. */
static void
test_base64(void **state)
{
	char *out = NULL;
	size_t len = 99;

	assert_int_equal(sasl_base64_decode("YWxpY2U=", 8, &out, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(out, "alice");
	sasl_secret_free(&out, len);
	assert_null(out);
	assert_int_equal(sasl_base64_decode("", 0, &out, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	sasl_secret_free(&out, len);
	/* a NUL inside is kept, and its length tells */
	assert_int_equal(sasl_base64_decode("YQBi", 4, &out, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\0b", 3);
	sasl_secret_free(&out, len);
	assert_int_equal(sasl_base64_decode("YWxpY2U", 7, &out, &len), -1);
	assert_null(out);
	assert_int_equal(sasl_base64_decode("YW=pY2U=", 8, &out, &len), -1);
	assert_int_equal(sasl_base64_decode("YWxp Y2U", 8, &out, &len), -1);
	assert_int_equal(sasl_base64_decode("====", 4, &out, &len), -1);
	assert_null(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_ok),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
