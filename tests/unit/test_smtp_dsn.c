/*
 * test_smtp_dsn.c - the outbound side's parsers: reply lines (with EHLO
 * keywords), which messages need SMTPUTF8, RFC 3463 status extraction,
 * and the layout of an RFC 3464 report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "smtp/smtp-client.h"
#include "smtp/smtp-dsn.h"

static int
test_line(struct smtp_reply *r, bool ehlo, const char *line)
{
	return smtp_reply_line(r, ehlo, line, strlen(line));
}

static void
test_reply_lines(void **state)
{
	struct smtp_reply r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(test_line(&r, false, "220 mx ESMTP ready\r\n"), 1);
	assert_int_equal(r.code, 220);
	assert_string_equal(r.first, "220 mx ESMTP ready");
	assert_int_equal(test_line(&r, false, "250\r\n"), 1);
	assert_int_equal(r.code, 250);
	/* EHLO: keywords from the second line on, case-insensitive */
	assert_int_equal(test_line(&r, true, "250-mx.example greets\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250-pipelining\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250-SIZE 1000\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250-8BITMIME\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250-STARTTLSX\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250 STARTTLS\r\n"), 1);
	assert_int_equal(r.ext, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE |
	    SMTP_EXT_8BITMIME | SMTP_EXT_STARTTLS);
	assert_int_equal(r.size_max, 1000);
	assert_string_equal(r.first, "250-mx.example greets");
	/* the next reply starts afresh */
	assert_int_equal(test_line(&r, true, "250-x\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250 SIZE\r\n"), 1);
	assert_int_equal(r.ext, SMTP_EXT_SIZE);
	assert_int_equal(r.size_max, 0);
	/* CHUNKING and SMTPUTF8 (RFC 3030, RFC 6531); no partial match */
	assert_int_equal(test_line(&r, true, "250-mx\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250-chunking\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250-SMTPUTF8X\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250 CHUNK\r\n"), 1);
	assert_int_equal(r.ext, SMTP_EXT_CHUNKING);
	assert_int_equal(test_line(&r, true, "250-mx\r\n"), 0);
	assert_int_equal(test_line(&r, true, "250 SMTPUTF8\r\n"), 1);
	assert_int_equal(r.ext, SMTP_EXT_SMTPUTF8);
	/* not from the first line, nor outside EHLO */
	assert_int_equal(test_line(&r, true, "250 CHUNKING\r\n"), 1);
	assert_int_equal(r.ext, 0);
	assert_int_equal(test_line(&r, false, "250-mx\r\n"), 0);
	assert_int_equal(test_line(&r, false, "250 CHUNKING\r\n"), 1);
	assert_int_equal(r.ext, 0);
	/* peer text is escaped */
	assert_int_equal(test_line(&r, false, "550 \"x\\\x01\r\n"), 1);
	assert_string_equal(r.first, "550 \\x22x\\x5c\\x01");
}

static void
test_reply_malformed(void **state)
{
	static const char *const bad[] = {
		"", "25", "250x", "2500", "650 no", "150 no", "abc", "25 0",
		"-250",
	};
	struct smtp_reply r;
	char many[32];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&r, 0, sizeof(r));
		assert_int_equal(test_line(&r, false, bad[i]), -1);
	}
	/* the code must not change within a reply */
	memset(&r, 0, sizeof(r));
	assert_int_equal(test_line(&r, false, "250-a"), 0);
	assert_int_equal(test_line(&r, false, "251 b"), -1);
	/* lines of one reply: max is fine, max + 1 is not */
	memset(&r, 0, sizeof(r));
	for (int i = 1; i < SMTP_CLIENT_REPLY_LINES_MAX; i++) {
		snprintf(many, sizeof(many), "250-line %d", i);
		assert_int_equal(test_line(&r, false, many), 0);
	}
	assert_int_equal(test_line(&r, false, "250 last"), 1);
	memset(&r, 0, sizeof(r));
	for (int i = 1; i <= SMTP_CLIENT_REPLY_LINES_MAX; i++)
		assert_int_equal(test_line(&r, false, "250-more"), 0);
	assert_int_equal(test_line(&r, false, "250 last"), -1);
	/* a huge SIZE does not overflow */
	memset(&r, 0, sizeof(r));
	assert_int_equal(test_line(&r, true, "250-x"), 0);
	assert_int_equal(test_line(&r, true,
	    "250 SIZE 99999999999999999999999999999"), 1);
	assert_true(r.size_max > 0);
}

/* RFC 6531: which messages only a server with SMTPUTF8 may take. */
static void
test_needs_utf8(void **state)
{
	struct smtp_client_rcpt rcpts[2];
	struct smtp_client_job job;
	const char *ascii = "Subject: plain\r\n\r\nbody \xc3\xa9\r\n";
	const char *hdr = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
	const char *lf = "Subject: plain\n\ncaf\xc3\xa9\n";

	(void)state;
	memset(&job, 0, sizeof(job));
	memset(rcpts, 0, sizeof(rcpts));
	rcpts[0].address = "a@example.org";
	rcpts[1].address = "b@example.org";
	job.sender = "";
	job.rcpts = rcpts;
	job.n_rcpts = 2;
	/* 8-bit body only: never (that is 8BITMIME's business) */
	job.data = ascii;
	job.size = strlen(ascii);
	assert_false(smtp_client_needs_utf8(&job));
	job.smtputf8 = true;
	assert_false(smtp_client_needs_utf8(&job));
	job.data = lf;
	job.size = strlen(lf);
	assert_false(smtp_client_needs_utf8(&job));
	/* a UTF-8 header: only when submitted with SMTPUTF8 */
	job.data = hdr;
	job.size = strlen(hdr);
	assert_true(smtp_client_needs_utf8(&job));
	job.smtputf8 = false;
	assert_false(smtp_client_needs_utf8(&job));
	/* a UTF-8 address: always, wherever it is */
	job.data = ascii;
	job.size = strlen(ascii);
	rcpts[1].address = "jos\xc3\xa9@example.org";
	assert_true(smtp_client_needs_utf8(&job));
	rcpts[1].address = "b@example.org";
	job.sender = "\xc3\xa9@example.test";
	assert_true(smtp_client_needs_utf8(&job));
	/* no header end at all: the whole message is header */
	job.sender = "";
	job.smtputf8 = true;
	job.data = "X: \xc3\xa9";
	job.size = strlen(job.data);
	assert_true(smtp_client_needs_utf8(&job));
	job.size = 0;
	assert_false(smtp_client_needs_utf8(&job));
}

static void
test_dsn_status(void **state)
{
	char b[16];

	(void)state;
	assert_string_equal(smtp_dsn_status("550 5.1.1 no such user", "x", b,
	    sizeof(b)), "5.1.1");
	assert_string_equal(smtp_dsn_status("550 5.1.10 DNS nullmx", "x", b,
	    sizeof(b)), "5.1.10");
	assert_string_equal(smtp_dsn_status("554 5.999.999 max", "x", b,
	    sizeof(b)), "5.999.999");
	/* malformed or missing: the default */
	assert_string_equal(smtp_dsn_status("550 no code", "d", b,
	    sizeof(b)), "d");
	assert_string_equal(smtp_dsn_status("550 5.1. x", "d", b,
	    sizeof(b)), "d");
	assert_string_equal(smtp_dsn_status("550 5.1 x", "d", b,
	    sizeof(b)), "d");
	assert_string_equal(smtp_dsn_status("550 6.1.1 x", "d", b,
	    sizeof(b)), "d");
	assert_string_equal(smtp_dsn_status("550-5.1.1 x", "d", b,
	    sizeof(b)), "d");
	assert_string_equal(smtp_dsn_status("550 5.1.1000000 x", "d", b,
	    sizeof(b)), "d");
	assert_string_equal(smtp_dsn_status("", "d", b, sizeof(b)), "d");
	assert_string_equal(smtp_dsn_status(NULL, "d", b, sizeof(b)), "d");
	/* too small a buffer */
	assert_string_equal(smtp_dsn_status("550 5.1.1 x", "d", b, 5), "d");
}

static void
test_dsn_build(void **state)
{
	static const char msg[] = "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n";
	struct smtp_dsn_rcpt r[2] = {
		{ "x@y.test", "5.1.1", "550 5.1.1 unknown" },
		{ "z@y.test", "4.4.7", "451 4.3.0 later" },
	};
	struct buf out;
	size_t off = 0;

	(void)state;
	buf_init(&out, 1024 * 1024);
	assert_int_equal(smtp_dsn_build(&out, "mail.example.test", "a@b", 0, r,
	    2, msg, sizeof(msg) - 1, &off), 0);
	assert_int_equal(off, strlen("Return-Path: <>\r\n"));
	assert_non_null(strstr(out.data, "report-type=delivery-status"));
	assert_non_null(strstr(out.data, "Final-Recipient: rfc822; x@y.test"
	    "\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
	assert_non_null(strstr(out.data, "Status: 4.4.7\r\n"));
	assert_non_null(strstr(out.data, "Content-Type: text/rfc822-headers"
	    "\r\n\r\nFrom: a@b\r\nSubject: hi\r\n\r\n--"));
	assert_null(strstr(out.data, "body"));
	buf_release(&out);
	/* over the limit: -1 */
	buf_init(&out, 200);
	assert_int_equal(smtp_dsn_build(&out, "mail.example.test", "a@b", 0, r,
	    2, msg, sizeof(msg) - 1, &off), -1);
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_lines),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_needs_utf8),
		cmocka_unit_test(test_dsn_status),
		cmocka_unit_test(test_dsn_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
