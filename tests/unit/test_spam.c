/*
 * test_spam.c - the spam filter's shared parts: weights and their
 * overrides (hostile strings), adding symbols (once each, capped,
 * escaped), thresholds and holds, the X-Spam-* fields and the removal
 * of forged ones; the RFC 5322 date parser; the content checks (GTUBE,
 * header anomalies) on crafted messages, and the authentication
 * symbols.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/dmarc.h"
#include "auth/spf.h"
#include "core/buf.h"
#include "core/pool.h"
#include "filter/spam-check.h"
#include "filter/spam-content.h"
#include "filter/spam-lists.h"
#include "filter/spam.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "store/store.h"

static const struct spam_thresholds thr = { 5, 10, 15 };

static void
test_weights(void **state)
{
	struct spam_weights w;
	const char *error;
	int gtube = spam_symbol_find("GTUBE");
	int nodate = spam_symbol_find("HEADER_NO_DATE");

	(void)state;
	assert_true(gtube >= 0);
	assert_true(nodate >= 0);
	assert_int_equal(spam_symbol_find("NO_SUCH_SYMBOL"), -1);
	assert_int_equal(spam_weights_parse(&w, "", &error), 0);
	assert_true(w.score[gtube] == 1000);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w,
	    " GTUBE=5, HEADER_NO_DATE=-2.5\tHEADER_NO_MESSAGE_ID=+1 ", &error),
	    0);
	assert_true(w.score[gtube] == 5);
	assert_true(w.score[nodate] == -2.5);
	spam_weights_free(&w);
	/* Limits and garbage. */
	assert_int_equal(spam_weights_parse(&w, "GTUBE=1000", &error), 0);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "GTUBE=1000.1", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "GTUBE=-1001", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "GTUBE=1e3", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "GTUBE=nan", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "GTUBE=", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "=1", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "GTUBE", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "gtube=1", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w, "GTUBE=1 FOO=2", &error), -1);
	assert_non_null(strstr(error, "unknown symbol"));
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAA=1", &error), -1);
	spam_weights_free(&w);
	assert_int_equal(spam_weights_parse(&w,
	    "GTUBE=00000000000000000000000000000000000001", &error), -1);
	spam_weights_free(&w);
}

static void
test_symbols_unique(void **state)
{
	(void)state;
	for (size_t i = 0; i < spam_n_symbols; i++) {
		const char *n = spam_symbols[i].name;

		assert_int_equal(spam_symbol_find(n), (int)i);
		for (const char *p = n; *p != '\0'; p++)
			assert_true((*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '_');
		assert_non_null(spam_symbols[i].description);
	}
	assert_true(spam_n_symbols < SPAM_HITS_MAX);
}

static void
test_add(void **state)
{
	struct spam_result r;
	struct spam_weights w;
	const char *error;
	char big[4096];

	(void)state;
	spam_result_init(&r, NULL);
	assert_true(spam_add(&r, "HEADER_NO_DATE", NULL));
	assert_false(spam_add(&r, "HEADER_NO_DATE", "again"));
	assert_int_equal(r.n_hits, 1);
	assert_true(r.score == 1.0);
	assert_true(spam_has(&r, "HEADER_NO_DATE"));
	assert_false(spam_has(&r, "GTUBE"));
	/* Details are escaped and cut. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[3] = '"';
	big[4] = '\r';
	big[5] = '\\';
	big[6] = (char)0xc3;
	assert_true(spam_add(&r, "HEADER_NO_MESSAGE_ID", "%s", big));
	assert_int_equal(strlen(r.hits[1].detail), SPAM_DETAIL_MAX);
	assert_memory_equal(r.hits[1].detail, "xxx????x", 8);
	assert_true(r.score == 2.0);
	/* Weights in force. */
	assert_int_equal(spam_weights_parse(&w, "HEADER_NO_DATE=-4", &error),
	    0);
	spam_result_init(&r, &w);
	spam_add(&r, "HEADER_NO_DATE", NULL);
	assert_true(r.score == -4);
	assert_int_equal(spam_result_action(&r, &thr), SPAM_ACTION_INBOX);
	spam_weights_free(&w);
}

static void
test_action(void **state)
{
	struct spam_result r;

	(void)state;
	spam_result_init(&r, NULL);
	assert_int_equal(spam_result_action(&r, &thr), SPAM_ACTION_INBOX);
	r.score = 4.9;
	assert_int_equal(spam_result_action(&r, &thr), SPAM_ACTION_INBOX);
	r.score = 5;
	assert_int_equal(spam_result_action(&r, &thr), SPAM_ACTION_JUNK);
	r.score = 10;
	assert_int_equal(spam_result_action(&r, &thr),
	    SPAM_ACTION_QUARANTINE);
	r.score = 15;
	assert_int_equal(spam_result_action(&r, &thr), SPAM_ACTION_REJECT);
	/* A hold is at least quarantine, even with a negative score, and
	 * a reject stays a reject. */
	r.score = -50;
	r.hold = true;
	assert_int_equal(spam_result_action(&r, &thr),
	    SPAM_ACTION_QUARANTINE);
	r.score = 20;
	assert_int_equal(spam_result_action(&r, &thr), SPAM_ACTION_REJECT);
	assert_string_equal(spam_action_name(SPAM_ACTION_JUNK), "junk");
}

static void
test_header(void **state)
{
	struct spam_result r;
	struct buf b;

	(void)state;
	buf_init(&b, SPAM_HEADER_MAX);
	spam_result_init(&r, NULL);
	assert_int_equal(spam_header_render(&r, &thr, SPAM_ACTION_INBOX, &b),
	    0);
	assert_string_equal(b.data, "X-Spam-Score: 0.0\r\n"
	    "X-Spam-Status: No, score=0.0 required=5.0 action=inbox\r\n"
	    "\ttests=none\r\n");
	buf_reset(&b);
	spam_add(&r, "HEADER_NO_DATE", NULL);
	spam_add(&r, "GTUBE", NULL);
	spam_add(&r, "AUTH_ALIGNED_PASS", NULL);
	assert_int_equal(spam_header_render(&r, &thr, SPAM_ACTION_REJECT, &b),
	    0);
	/* By decreasing weight. */
	assert_string_equal(b.data, "X-Spam-Score: 1000.0\r\n"
	    "X-Spam-Status: Yes, score=1000.0 required=5.0 action=reject\r\n"
	    "\ttests=GTUBE(1000.0),HEADER_NO_DATE(1.0),AUTH_ALIGNED_PASS(-1.0)"
	    "\r\n");
	/* Every symbol at once: folded lines of at most 78 columns, and it
	 * fits SPAM_HEADER_MAX. */
	buf_reset(&b);
	spam_result_init(&r, NULL);
	for (size_t i = 0; i < spam_n_symbols; i++)
		spam_add(&r, spam_symbols[i].name, NULL);
	assert_int_equal(spam_header_render(&r, &thr, SPAM_ACTION_REJECT, &b),
	    0);
	for (char *line = b.data, *end; *line != '\0'; line = end + 2) {
		end = strstr(line, "\r\n");
		assert_non_null(end);
		assert_true(end - line <= 78);
	}
	/* A buffer too small fails cleanly. */
	buf_release(&b);
	buf_init(&b, 40);
	assert_int_equal(spam_header_render(&r, &thr, SPAM_ACTION_REJECT, &b),
	    -1);
	buf_release(&b);
}

static void
test_strip(void **state)
{
	char msg[] = "X-Spam-Status: Yes, score=-100\r\n"
	    "Subject: a\r\n"
	    "x-spam-score: -100\r\n"
	    "X-Spam-Flag: NO\r\n"
	    "X-Spam-Level:\r\n\t*****\r\n"
	    "X-Spam-Other: kept\r\n"
	    "From: b@example.org\r\n"
	    "\r\n"
	    "X-Spam-Status: in the body stays\r\n";
	const char *want = "Subject: a\r\n"
	    "X-Spam-Other: kept\r\n"
	    "From: b@example.org\r\n"
	    "\r\n"
	    "X-Spam-Status: in the body stays\r\n";
	char none[] = "X-Spam-Score: 1";
	size_t n;

	(void)state;
	n = spam_header_strip(msg, strlen(msg));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(msg, want, n);
	assert_int_equal(spam_header_strip(none, strlen(none)), 0);
	assert_int_equal(spam_header_strip(none, 0), 0);
}

static void
test_uris(void **state)
{
	struct spam_uris u;
	struct pool *pool = pool_new(1024);
	char big[300];

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_true(spam_uris_add(&u, pool, "Example.COM.", 12));
	assert_false(spam_uris_add(&u, pool, "example.com", 11));
	assert_false(spam_uris_add(&u, pool, "bad_name.com", 12));
	assert_false(spam_uris_add(&u, pool, "a\0b.com", 7));
	assert_false(spam_uris_add(&u, pool, "", 0));
	memset(big, 'a', sizeof(big));
	assert_false(spam_uris_add(&u, pool, big, sizeof(big)));
	assert_string_equal(u.hosts[0], "example.com");
	for (int i = 0; i < SPAM_URI_HOSTS_MAX + 10; i++) {
		char name[32];

		snprintf(name, sizeof(name), "h%d.example.net", i);
		spam_uris_add(&u, pool, name, strlen(name));
	}
	assert_int_equal(u.n, SPAM_URI_HOSTS_MAX);
	pool_free(&pool);
}

#define D(s) header_date_parse(s, strlen(s), &t)

static void
test_date_parse(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(D("Mon, 7 Dec 2026 10:00:00 +0000"), 0);
	assert_int_equal((long long)t, 1796637600LL);
	assert_int_equal(D(" 7 Dec 2026 11:30:00 +0130 "), 0);
	assert_int_equal((long long)t, 1796637600LL);
	assert_int_equal(D("Mon (comment), 07 Dec 2026 "
	    "05:00 EST (Eastern)"), 0);
	assert_int_equal((long long)t, 1796637600LL);
	assert_int_equal(D("7 Dec 26 10:00:00 GMT"), 0);
	assert_int_equal((long long)t, 1796637600LL);
	assert_int_equal(D("7 Dec 126 10:00:00 Z"), 0);
	assert_int_equal((long long)t, 1796637600LL);
	assert_int_equal(D("29 Feb 2024 00:00:00 +0000"), 0);
	assert_int_equal(D("31 Dec 2026 23:59:60 -2359"), 0);
	/* Not dates. */
	assert_int_equal(D("29 Feb 2023 00:00:00 +0000"), -1);
	assert_int_equal(D("31 Apr 2026 00:00:00 +0000"), -1);
	assert_int_equal(D("1 Foo 2026 00:00:00 +0000"), -1);
	assert_int_equal(D("1 Jan 2026 24:00:00 +0000"), -1);
	assert_int_equal(D("1 Jan 2026 10:60:00 +0000"), -1);
	assert_int_equal(D("1 Jan 2026 10:00:00 +2400"), -1);
	assert_int_equal(D("1 Jan 2026 10:00:00 +000"), -1);
	assert_int_equal(D("1 Jan 2026 10:00:00 J"),
	    -1);
	assert_int_equal(D("1 Jan 2026 10:00:00"), -1);
	assert_int_equal(D("1 Jan 2026 10:00:00 +0000 x"), -1);
	assert_int_equal(D("Mon 1 Jan 2026 10:00:00 +0000"), -1);
	assert_int_equal(D("123 Jan 2026 10:00:00 +0000"), -1);
	assert_int_equal(D("1 Jan 20266 10:00:00 +0000"), -1);
	assert_int_equal(D(""), -1);
	assert_int_equal(D("(((((((((1 Jan 2026 10:00 Z"), -1);
	assert_int_equal(D("(unclosed 1 Jan 2026 10:00 Z"), -1);
	/* Not NUL-terminated: only len bytes are read. */
	assert_int_equal(header_date_parse("1 Jan 2026 10:00 Zjunk", 18, &t),
	    0);
}

/* Runs the content and authentication checks on msg. */
static void
check_msg(const char *msg, const struct spam_auth_summary *auth,
    struct spam_result *r)
{
	static const char *const local[] = { "example.test" };
	struct pool *pool = pool_new(4096);
	struct mime_part *root;
	struct spam_msg m;
	const char *error;

	memset(&m, 0, sizeof(m));
	m.data = msg;
	m.len = strlen(msg);
	m.pool = pool;
	m.now = 1796637600;	/* Mon, 7 Dec 2026 10:00:00 +0000 */
	m.hostname = "mx.example.test";
	m.local_domains = local;
	m.n_local_domains = 1;
	assert_int_equal(mime_parse(m.data, m.len, pool, &root, &error), 0);
	m.root = root;
	spam_result_init(r, NULL);
	if (auth != NULL)
		spam_check_auth(auth, &m, r);
	spam_check_content(&m, r);
	pool_free(&pool);
}

#define HAM_HEADER \
	"Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n" \
	"Message-ID: <1@example.org>\r\n" \
	"From: Ann <ann@example.org>\r\n" \
	"To: bob@example.test\r\n" \
	"Subject: Lunch tomorrow?\r\n"

static void
test_content_ham(void **state)
{
	struct spam_result r;

	(void)state;
	check_msg(HAM_HEADER "\r\nShall we meet at noon?\r\n", NULL, &r);
	assert_int_equal(r.n_hits, 0);
	/* A list: Reply-To the list is how lists work. */
	check_msg(HAM_HEADER "Reply-To: list@lists.example.net\r\n"
	    "List-Id: <talk.lists.example.net>\r\n"
	    "List-Unsubscribe: <mailto:leave@lists.example.net>\r\n"
	    "\r\nhi\r\n", NULL, &r);
	assert_int_equal(r.n_hits, 1);
	assert_true(spam_has(&r, "HEADER_LIST_ID"));
	/* The display name holds the same domain's address. */
	check_msg("Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\n"
	    "From: \"ann@example.org\" <ann@mail.example.org>\r\n"
	    "Reply-To: ann@example.org\r\n\r\nhi\r\n", NULL, &r);
	assert_int_equal(r.n_hits, 0);
	/* A Received: by another host is not ours. */
	check_msg(HAM_HEADER "Received: from a by mx.example.test.evil.example "
	    "with SMTP; x\r\nReceived: by mx2.example.test; x\r\n\r\nhi\r\n",
	    NULL, &r);
	assert_int_equal(r.n_hits, 0);
}

static void
test_content_spam(void **state)
{
	struct spam_result r;

	(void)state;
	check_msg("From: a@example.org\r\n\r\n" SPAM_GTUBE "\r\n", NULL, &r);
	assert_true(spam_has(&r, "GTUBE"));
	assert_true(spam_has(&r, "HEADER_NO_DATE"));
	assert_true(spam_has(&r, "HEADER_NO_MESSAGE_ID"));
	assert_int_equal(spam_result_action(&r, &thr), SPAM_ACTION_REJECT);
	/* GTUBE in base64. */
	check_msg(HAM_HEADER "Content-Transfer-Encoding: base64\r\n\r\n"
	    "WEpTKkM0SkRCUUFETjEuTlNCTjMqMklETkVOKkdUVUJFLVNUQU5EQVJELUFOVEkt"
	    "VUJFLVRFU1QtRU1BSUwqQy4zNFg=\r\n", NULL, &r);
	assert_true(spam_has(&r, "GTUBE"));
	/* Dates. */
	check_msg("Date: Tue, 15 Dec 2026 10:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\nFrom: a@example.org\r\n\r\nx\r\n",
	    NULL, &r);
	assert_true(spam_has(&r, "HEADER_DATE_FUTURE"));
	check_msg("Date: Tue, 8 Dec 2026 09:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\nFrom: a@example.org\r\n\r\nx\r\n",
	    NULL, &r);
	assert_int_equal(r.n_hits, 0);	/* 23 hours ahead: a wrong clock */
	check_msg("Date: Tue, 1 Sep 2026 10:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\nFrom: a@example.org\r\n\r\nx\r\n",
	    NULL, &r);
	assert_true(spam_has(&r, "HEADER_DATE_PAST"));
	check_msg("Date: yesterday\r\n"
	    "Message-ID: <1@example.org>\r\nFrom: a@example.org\r\n\r\nx\r\n",
	    NULL, &r);
	assert_true(spam_has(&r, "HEADER_DATE_INVALID"));
	/* No From: address. */
	check_msg("Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\nFrom: nobody\r\n\r\nx\r\n",
	    NULL, &r);
	assert_true(spam_has(&r, "HEADER_NO_FROM"));
	/* A forged trail, folded, in any case. */
	check_msg(HAM_HEADER "Received: from x (y)\r\n\tBY MX.example.TEST\r\n"
	    "\twith ESMTP; x\r\n\r\nhi\r\n", NULL, &r);
	assert_true(spam_has(&r, "HEADER_FORGED_RECEIVED"));
	/* Reply-To elsewhere. */
	check_msg(HAM_HEADER "Reply-To: <payments@gmail.com>\r\n\r\nhi\r\n",
	    NULL, &r);
	assert_true(spam_has(&r, "HEADER_REPLYTO_FREEMAIL"));
	check_msg(HAM_HEADER "Reply-To: x@other.example\r\n\r\nhi\r\n", NULL,
	    &r);
	assert_true(spam_has(&r, "HEADER_REPLYTO_OTHER"));
	/* Display names that show another address. */
	check_msg("Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
	    "Message-ID: <1@x>\r\n"
	    "From: \"service@paypal.com\" <x@evil.example>\r\n\r\nx\r\n",
	    NULL, &r);
	assert_true(spam_has(&r, "HEADER_FROM_NAME_ADDR"));
	check_msg("Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
	    "Message-ID: <1@x>\r\n"
	    "From: =?utf-8?q?IT_desk_admin=40example=2Etest?= "
	    "<x@evil.example>\r\n\r\nx\r\n", NULL, &r);
	assert_true(spam_has(&r, "HEADER_FROM_NAME_LOCAL"));
	/* All capitals. */
	check_msg("Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
	    "Message-ID: <1@x>\r\nFrom: a@example.org\r\n"
	    "Subject: =?utf-8?b?V0lOIEEgRlJFRSBQUklaRSE=?=\r\n\r\nx\r\n",
	    NULL, &r);
	assert_true(spam_has(&r, "HEADER_SUBJECT_ALLCAPS"));
}

static void
test_content_hostile(void **state)
{
	struct spam_result r;
	struct buf b;

	(void)state;
	/* A header of 5,000 Received fields and a display name of '@'s. */
	buf_init(&b, 4 * 1024 * 1024);
	for (int i = 0; i < 5000; i++)
		buf_puts(&b, "Received: by x.example; y\r\n");
	buf_puts(&b, "From: \"");
	for (int i = 0; i < 250; i++)
		buf_puts(&b, "@.@");
	buf_puts(&b, "\" <a@example.org>\r\n\r\nbody\r\n");
	check_msg(b.data, NULL, &r);
	assert_false(spam_has(&r, "HEADER_FORGED_RECEIVED"));
	assert_false(spam_has(&r, "HEADER_NO_FROM"));
	assert_false(spam_has(&r, "HEADER_FROM_NAME_ADDR"));
	/* Past HEADER_SCAN_MAX the From: is not seen: no From. */
	buf_reset(&b);
	for (int i = 0; i < 20000; i++)
		buf_puts(&b, "Received: by x.example; y\r\n");
	buf_puts(&b, "From: a@example.org\r\n\r\nbody\r\n");
	check_msg(b.data, NULL, &r);
	assert_true(spam_has(&r, "HEADER_NO_FROM"));
	buf_release(&b);
	check_msg("", NULL, &r);
	assert_true(spam_has(&r, "HEADER_NO_FROM"));
	check_msg("From: <@>\r\nReply-To: <>\r\n", NULL, &r);
	assert_true(spam_has(&r, "HEADER_NO_FROM"));
}

static void
test_auth(void **state)
{
	struct spam_auth_summary s;
	struct spam_result r;

	(void)state;
	spam_auth_summarize(NULL, &s);
	assert_false(s.checked);
	check_msg(HAM_HEADER "\r\nx\r\n", &s, &r);
	assert_int_equal(r.n_hits, 0);
	memset(&s, 0, sizeof(s));
	s.checked = true;
	s.spf = SPF_FAIL;
	s.dkim_fail = 1;
	s.dmarc = DMARC_FAIL;
	snprintf(s.from_domain, sizeof(s.from_domain), "example.org");
	check_msg(HAM_HEADER "\r\nx\r\n", &s, &r);
	assert_true(spam_has(&r, "SPF_FAIL"));
	assert_true(spam_has(&r, "DKIM_FAIL"));
	assert_true(spam_has(&r, "DMARC_FAIL"));
	assert_false(spam_has(&r, "HEADER_FROM_LOCAL_UNAUTH"));
	/* A good signature beside a broken one; DMARC pass. */
	s.spf = SPF_SOFTFAIL;
	s.dkim_pass = 1;
	s.dmarc = DMARC_PASS;
	check_msg(HAM_HEADER "\r\nx\r\n", &s, &r);
	assert_true(spam_has(&r, "SPF_SOFTFAIL"));
	assert_false(spam_has(&r, "DKIM_FAIL"));
	assert_true(spam_has(&r, "AUTH_ALIGNED_PASS"));
	/* Our own domain in From:, from outside, without DMARC pass. */
	s.dmarc = DMARC_NONE;
	snprintf(s.from_domain, sizeof(s.from_domain), "example.test");
	check_msg(HAM_HEADER "\r\nx\r\n", &s, &r);
	assert_true(spam_has(&r, "HEADER_FROM_LOCAL_UNAUTH"));
	snprintf(s.from_domain, sizeof(s.from_domain), "sub.example.test");
	check_msg(HAM_HEADER "\r\nx\r\n", &s, &r);
	assert_true(spam_has(&r, "HEADER_FROM_LOCAL_UNAUTH"));
	snprintf(s.from_domain, sizeof(s.from_domain), "notexample.test");
	check_msg(HAM_HEADER "\r\nx\r\n", &s, &r);
	assert_false(spam_has(&r, "HEADER_FROM_LOCAL_UNAUTH"));
	s.dmarc = DMARC_PERMERROR;
	check_msg(HAM_HEADER "\r\nx\r\n", &s, &r);
	assert_true(spam_has(&r, "DMARC_AMBIGUOUS"));
}

static void
test_lists_candidates(void **state)
{
	struct pool *pool = pool_new(1024);
	const char *c[1 + SPAM_LISTS_DOMAIN_LEVELS];
	char big[400];
	size_t n;

	(void)state;
	n = spam_lists_candidates("Ann@Mail.Example.ORG.", pool, c);
	assert_int_equal(n, 3);
	assert_string_equal(c[0], "ann@mail.example.org");
	assert_string_equal(c[1], "mail.example.org");
	assert_string_equal(c[2], "example.org");
	assert_int_equal(spam_lists_candidates("example.org", pool, c), 1);
	assert_int_equal(spam_lists_candidates("org", pool, c), 0);
	assert_int_equal(spam_lists_candidates("", pool, c), 0);
	assert_int_equal(spam_lists_candidates("@example.org", pool, c), 1);
	assert_string_equal(c[0], "example.org");
	assert_int_equal(spam_lists_candidates("a@", pool, c), 0);
	n = spam_lists_candidates("a@1.2.3.4.5.6.7.8.9.example.org", pool, c);
	assert_int_equal(n, 1 + SPAM_LISTS_DOMAIN_LEVELS);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(spam_lists_candidates(big, pool, c), 0);
	pool_free(&pool);
}

/* The lists through a real store: the filter's matching rules. */
static void
lists_run(struct store *store, const char *msg, const char *mail_from,
    bool spf_pass, const char *dmarc_pass, const char *const *rcpts,
    size_t n_rcpts, struct spam_result *r)
{
	struct pool *pool = pool_new(4096);
	struct spam_lists_input in = {
		.mail_from = mail_from,
		.mail_from_authenticated = spf_pass,
		.from_domain_authenticated = dmarc_pass,
		.rcpts = rcpts,
		.n_rcpts = n_rcpts,
	};
	struct spam_msg m;
	const char *error;

	memset(&m, 0, sizeof(m));
	m.data = msg;
	m.len = strlen(msg);
	m.pool = pool;
	spam_result_init(r, NULL);
	assert_int_equal(spam_check_lists(store, &m, &in, r, &error), 0);
	pool_free(&pool);
}

static void
test_lists_store(void **state)
{
	static const char *const alice[] = { "alice@example.test" };
	static const char *const both[] = { "alice@example.test",
	    "bob@example.test" };
	static const char *const carol[] = { "carol@other.test" };
	char dir[] = "/tmp/test_spam.XXXXXX";
	struct store *store;
	struct spam_result r;
	const char *error;
	char cmd[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, &store, &error), 0);
	assert_int_equal(store_spam_list_add(store, "", "evil.example",
	    STORE_SPAM_BLOCK, 1, &error), 0);
	assert_int_equal(store_spam_list_add(store, "alice@example.test",
	    "pest@remote.example", STORE_SPAM_BLOCK, 1, &error), 0);
	assert_int_equal(store_spam_list_add(store, "example.test",
	    "friend.example", STORE_SPAM_ALLOW, 1, &error), 0);
	/* Global: a subdomain of the entry, by envelope or by From:. */
	lists_run(store, "From: x@a.b.evil.example\r\n\r\n", "", false,
	    NULL, alice, 1, &r);
	assert_true(spam_has(&r, "BLOCKLIST"));
	assert_string_equal(r.hits[0].detail, "evil.example");
	lists_run(store, "From: x@ok.example\r\n\r\n", "y@evil.example",
	    false, NULL, alice, 1, &r);
	assert_true(spam_has(&r, "BLOCKLIST"));
	lists_run(store, "From: x@notevil.example\r\n\r\n", "", false,
	    NULL, alice, 1, &r);
	assert_int_equal(r.n_hits, 0);
	/* Alice's entry: for her alone, not for her and Bob, and its name
	 * does not show in another recipient's detail. */
	lists_run(store, "From: pest@remote.example\r\n\r\n", "", false,
	    NULL, alice, 1, &r);
	assert_true(spam_has(&r, "BLOCKLIST"));
	lists_run(store, "From: pest@remote.example\r\n\r\n", "", false,
	    NULL, both, 2, &r);
	assert_int_equal(r.n_hits, 0);
	lists_run(store, "From: pest@remote.example\r\n\r\n", "", false,
	    NULL, carol, 1, &r);
	assert_int_equal(r.n_hits, 0);
	/* The domain's allow entry: both users are in example.test. It
	 * lets through only an authenticated sender. */
	lists_run(store, "From: a@friend.example\r\n\r\n",
	    "a@friend.example", false, NULL, both, 2, &r);
	assert_true(spam_has(&r, "ALLOWLIST_UNAUTH"));
	assert_false(spam_has(&r, "ALLOWLIST"));
	lists_run(store, "From: a@friend.example\r\n\r\n",
	    "a@friend.example", true, NULL, both, 2, &r);
	assert_true(spam_has(&r, "ALLOWLIST"));
	lists_run(store, "From: a@friend.example\r\n\r\n", "", false,
	    "friend.example", both, 2, &r);
	assert_true(spam_has(&r, "ALLOWLIST"));
	/* DMARC passed for another domain than the allowed From:. */
	lists_run(store, "From: a@friend.example\r\n\r\n", "", false,
	    "other.example", both, 2, &r);
	assert_false(spam_has(&r, "ALLOWLIST"));
	lists_run(store, "From: a@friend.example\r\n\r\n",
	    "a@friend.example", true, NULL, carol, 1, &r);
	assert_int_equal(r.n_hits, 0);
	/* Changing kind, deleting. */
	assert_int_equal(store_spam_list_add(store, "", "evil.example",
	    STORE_SPAM_ALLOW, 2, &error), 0);
	lists_run(store, "From: x@evil.example\r\n\r\n", "", false, NULL,
	    alice, 1, &r);
	assert_false(spam_has(&r, "BLOCKLIST"));
	assert_int_equal(store_spam_list_del(store, "", "evil.example",
	    &error), 1);
	assert_int_equal(store_spam_list_del(store, "", "evil.example",
	    &error), 0);
	/* Hostile From: fields. */
	lists_run(store, "From: \"'); DROP TABLE spam_lists; --\" "
	    "<x@y.example>\r\n\r\n", "'; DROP TABLE x", false, NULL, alice,
	    1, &r);
	assert_int_equal(store_spam_list_del(store, "alice@example.test",
	    "pest@remote.example", &error), 1);
	store_close(&store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_symbols_unique),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_action),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_uris),
		cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_content_ham),
		cmocka_unit_test(test_content_spam),
		cmocka_unit_test(test_content_hostile),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_lists_candidates),
		cmocka_unit_test(test_lists_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
