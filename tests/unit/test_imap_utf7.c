/*
 * test_imap_utf7.c - modified UTF-7 mailbox names (RFC 3501 5.1.3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap-utf7.h"

/* utf7 <-> utf8 both ways, and utf7 is valid. */
static void
round_trip(const char *utf7, const char *utf8)
{
	struct buf out;

	buf_init(&out, 4096);
	assert_true(imap_utf7_is_valid(utf7, strlen(utf7)));
	assert_int_equal(imap_utf7_to_utf8(utf7, strlen(utf7), &out), 0);
	if (strcmp(out.data != NULL ? out.data : "", utf8) != 0)
		fail_msg("utf7 \"%s\" -> \"%s\", expected \"%s\"", utf7,
		    out.data, utf8);
	buf_reset(&out);
	assert_int_equal(imap_utf8_to_utf7(utf8, strlen(utf8), &out), 0);
	if (strcmp(out.data != NULL ? out.data : "", utf7) != 0)
		fail_msg("utf8 \"%s\" -> \"%s\", expected \"%s\"", utf8,
		    out.data, utf7);
	buf_release(&out);
}

static void
test_round_trips(void **state)
{
	round_trip("", "");
	round_trip("INBOX", "INBOX");
	round_trip("Entw&APw-rfe", "Entw\xc3\xbcrfe");
	round_trip("&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	round_trip("&-", "&");
	round_trip("A&-B&-", "A&B&");
	round_trip("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	/* 1, 2 and 3 UTF-16 units: every padding length. */
	round_trip("&AOQ-", "\xc3\xa4");
	round_trip("&AOQA9g-", "\xc3\xa4\xc3\xb6");
	round_trip("&AOQA9gD8-", "\xc3\xa4\xc3\xb6\xc3\xbc");
	/* A surrogate pair: U+1F600. */
	round_trip("&2D3eAA-", "\xf0\x9f\x98\x80");
	round_trip("x&2D3eAA-y", "x\xf0\x9f\x98\x80y");
	/* Controls and DEL are encoded. */
	round_trip("a&AAkAfw-b", "a\t\x7f" "b");
	/* "&" right after a shifted run. */
	round_trip("&AOQ-&-", "\xc3\xa4&");
	/* U+FFFF, the last BMP character. */
	round_trip("&,,8-", "\xef\xbf\xbf");
}

static void
test_invalid_utf7(void **state)
{
	static const char *const bad[] = {
		"&",		/* unterminated */
		"&AOQ",		/* unterminated */
		"a&AOQA9g",
		"&AGE-",	/* printable ASCII encoded: "a" */
		"&ACY-",	/* "&" encoded */
		"&AOQAYQ-",	/* printable after a real one */
		"&AAA-",	/* NUL */
		"&A-",		/* fewer than 16 bits */
		"&AO-",
		"&AOQA-",	/* a whole wasted BASE64 character */
		"&AOR-",	/* non-zero padding bits */
		"&AOQ=-",	/* "=" is not in the alphabet */
		"&AO/-",	/* "/" is "," in modified BASE64 */
		"&2D0-",	/* lone high surrogate */
		"&2D3YPQ-",	/* high surrogate then high surrogate */
		"&3gA-",	/* lone low surrogate */
		"&2D0AQQ-",	/* high surrogate then non-surrogate */
		"a\tb",		/* controls must be encoded */
		"a\x7f",
		"\xc3\xa4",	/* raw 8-bit */
		"&&-",
		"&-&",
	};
	struct buf out;

	buf_init(&out, 4096);
	assert_int_equal(buf_puts(&out, "keep"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_utf7_is_valid(bad[i], strlen(bad[i])))
			fail_msg("valid: \"%s\"", bad[i]);
		if (imap_utf7_to_utf8(bad[i], strlen(bad[i]), &out) == 0)
			fail_msg("decoded: \"%s\"", bad[i]);
		/* The output is rolled back. */
		assert_string_equal(out.data, "keep");
	}
	/* A NUL byte in the input. */
	assert_false(imap_utf7_is_valid("a\0b", 3));
	/* Two shifted runs in a row are accepted (RFC 2152). */
	assert_true(imap_utf7_is_valid("&AOQ-&APY-", 10));
	buf_reset(&out);
	assert_int_equal(imap_utf7_to_utf8("&AOQ-&APY-", 10, &out), 0);
	assert_string_equal(out.data, "\xc3\xa4\xc3\xb6");
	buf_release(&out);
}

static void
test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\xc3",			/* truncated */
		"a\xc3(",
		"\xc0\xaf",		/* overlong */
		"\xe0\x80\xaf",
		"\xed\xa0\x80",		/* surrogate */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"\xff",
		"\x80",
	};
	struct buf out;

	buf_init(&out, 4096);
	assert_int_equal(buf_puts(&out, "keep"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_utf8_to_utf7(bad[i], strlen(bad[i]), &out) == 0)
			fail_msg("encoded: \"%s\"", bad[i]);
		assert_string_equal(out.data, "keep");
	}
	assert_int_equal(imap_utf8_to_utf7("a\0b", 3, &out), -1);
	assert_int_equal(imap_utf8_to_utf7("\xc3\xa4\0", 3, &out), -1);
	assert_string_equal(out.data, "keep");
	buf_release(&out);
}

static void
test_full_buffer(void **state)
{
	struct buf out;

	/* "Entw&APw-rfe" is 12 bytes; "Entwürfe" is 9. */
	for (size_t max = 0; max < 12; max++) {
		buf_init(&out, max);
		assert_int_equal(imap_utf8_to_utf7("Entw\xc3\xbcrfe", 9, &out), -1);
		assert_int_equal(out.len, 0);
		buf_release(&out);
	}
	buf_init(&out, 12);
	assert_int_equal(imap_utf8_to_utf7("Entw\xc3\xbcrfe", 9, &out), 0);
	buf_release(&out);
	for (size_t max = 0; max < 9; max++) {
		buf_init(&out, max);
		assert_int_equal(imap_utf7_to_utf8("Entw&APw-rfe", 12, &out), -1);
		assert_int_equal(out.len, 0);
		buf_release(&out);
	}
	buf_init(&out, 9);
	assert_int_equal(imap_utf7_to_utf8("Entw&APw-rfe", 12, &out), 0);
	buf_release(&out);
}

/* Every BMP character (but surrogates) and a sample of the others
 * survives the round trip. */
static void
test_all_code_points(void **state)
{
	struct buf u8, u7, back;

	buf_init(&u8, 16);
	buf_init(&u7, 64);
	buf_init(&back, 16);
	for (uint32_t cp = 1; cp <= 0x10ffff; cp += cp < 0x10000 ? 1 : 97) {
		unsigned char b[4];
		size_t n;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			b[0] = (unsigned char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (unsigned char)(0xc0 | (cp >> 6));
			b[1] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (unsigned char)(0xe0 | (cp >> 12));
			b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			b[2] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			b[0] = (unsigned char)(0xf0 | (cp >> 18));
			b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
			b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			b[3] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		buf_reset(&u8);
		buf_reset(&u7);
		buf_reset(&back);
		assert_int_equal(buf_append(&u8, b, n), 0);
		assert_int_equal(buf_append(&u8, "x", 1), 0);
		assert_int_equal(imap_utf8_to_utf7(u8.data, u8.len, &u7), 0);
		assert_true(imap_utf7_is_valid(u7.data, u7.len));
		assert_int_equal(imap_utf7_to_utf8(u7.data, u7.len, &back), 0);
		assert_int_equal(back.len, u8.len);
		assert_memory_equal(back.data, u8.data, u8.len);
	}
	buf_release(&u8);
	buf_release(&u7);
	buf_release(&back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_invalid_utf7),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_full_buffer),
		cmocka_unit_test(test_all_code_points),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
