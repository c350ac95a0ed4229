/*
 * test_imap_search.c - the SEARCH program parser and IMAP dates.
 * RFC 9051 6.4.4 and 9, RFC 4731, RFC 5182, RFC 7162 3.1.5, RFC 5032.
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
#include "core/pool.h"
#include "imap/imap-date.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"

static struct imap_parser *parser;
static struct pool *pool;

static int
setup(void **state)
{
	parser = imap_parser_new(IMAP_LINE_MAX, 1 << 20);
	imap_parser_set_utf8(parser, true);
	pool = pool_new(4096);
	return 0;
}

static int
teardown(void **state)
{
	imap_parser_free(&parser);
	pool_free(&pool);
	return 0;
}

/* Writes the tree in a prefix form: "(AND (FROM alice) (NOT (SEEN)))". */
static void
dump_key(struct buf *out, const struct imap_search_key *k)
{
	static const char *const names[] = {
		"AND", "OR", "NOT", "ALL", "ANSWERED", "BCC", "BEFORE", "BODY",
		"CC", "DELETED", "DRAFT", "FLAGGED", "FROM", "HEADER", "KEYWORD",
		"LARGER", "NEW", "OLD", "ON", "RECENT", "SEEN", "SENTBEFORE",
		"SENTON", "SENTSINCE", "SINCE", "SMALLER", "SUBJECT", "TEXT",
		"TO", "UID", "SEQSET", "UNANSWERED", "UNDELETED", "UNDRAFT",
		"UNFLAGGED", "UNKEYWORD", "UNSEEN", "MODSEQ", "OLDER", "YOUNGER",
	};

	assert_true((size_t)k->op < sizeof(names) / sizeof(names[0]));
	assert_int_equal(buf_printf(out, "(%s", names[k->op]), 0);
	switch (k->op) {
	case IMAP_SK_HEADER:
		assert_int_equal(buf_printf(out, " %s", k->header_name), 0);
		/* fall through */
	case IMAP_SK_BCC: case IMAP_SK_BODY: case IMAP_SK_CC:
	case IMAP_SK_FROM: case IMAP_SK_KEYWORD: case IMAP_SK_SUBJECT:
	case IMAP_SK_TEXT: case IMAP_SK_TO: case IMAP_SK_UNKEYWORD:
		assert_int_equal(strlen(k->str), k->str_len);
		assert_int_equal(buf_printf(out, " %s", k->str), 0);
		break;
	case IMAP_SK_BEFORE: case IMAP_SK_ON: case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON: case IMAP_SK_SENTSINCE: case IMAP_SK_SINCE:
		assert_int_equal(buf_printf(out, " %lld", (long long)k->date), 0);
		break;
	case IMAP_SK_LARGER: case IMAP_SK_SMALLER: case IMAP_SK_MODSEQ:
	case IMAP_SK_OLDER: case IMAP_SK_YOUNGER:
		assert_int_equal(buf_printf(out, " %llu",
		    (unsigned long long)k->number), 0);
		break;
	case IMAP_SK_UID: case IMAP_SK_SEQSET:
		if (k->set.saved)
			assert_int_equal(buf_puts(out, " $"), 0);
		for (size_t i = 0; i < k->set.n; i++)
			assert_int_equal(buf_printf(out, "%s%u:%u", i ? "," : " ",
			    k->set.ranges[i].lo, k->set.ranges[i].hi), 0);
		break;
	default:
		break;
	}
	for (size_t i = 0; i < k->n_children; i++) {
		assert_int_equal(buf_puts(out, " "), 0);
		dump_key(out, &k->children[i]);
	}
	if (k->op == IMAP_SK_OR)
		assert_int_equal(k->n_children, 2);
	if (k->op == IMAP_SK_NOT)
		assert_int_equal(k->n_children, 1);
	assert_int_equal(buf_puts(out, ")"), 0);
}

/*
 * Parses "x SEARCH <program>\r\n" and returns the tree as text, with
 * "CHARSET=x" and "RETURN=flags" prefixes when present, or "ERR: reason".
 */
static char *
search_len(const char *program, size_t plen, bool utf8)
{
	struct buf line, out;
	struct imap_command cmd;
	struct imap_search_key *root = NULL;
	struct imap_search_return ret;
	const char *error = NULL, *charset = NULL;
	size_t consumed, off = 0;
	enum imap_parse_result r;
	int ret_code;

	buf_init(&line, 1 << 20);
	buf_init(&out, 1 << 20);
	assert_int_equal(buf_puts(&line, "x SEARCH "), 0);
	assert_int_equal(buf_append(&line, program, plen), 0);
	assert_int_equal(buf_puts(&line, "\r\n"), 0);
	do {
		r = imap_parser_feed(parser, line.data + off, line.len - off,
		    &consumed, &cmd, &error);
		off += consumed;
	} while (r == IMAP_PARSE_CONTINUE);
	if (r != IMAP_PARSE_DONE)
		fail_msg("parser: %s", error);
	ret_code = imap_search_parse(cmd.args, cmd.n_args, pool, utf8, &root,
	    &charset, &ret, &error);
	if (ret_code < 0) {
		assert_non_null(error);
		assert_null(root);
		assert_int_equal(buf_printf(&out, "ERR: %s", error), 0);
	} else {
		assert_non_null(root);
		assert_int_equal(root->op, IMAP_SK_AND);
		if (charset != NULL)
			assert_int_equal(buf_printf(&out, "CHARSET=%s ", charset), 0);
		if (ret.present)
			assert_int_equal(buf_printf(&out, "RETURN=%u ", ret.flags), 0);
		else
			assert_int_equal(ret.flags, 0);
		dump_key(&out, root);
	}
	buf_release(&line);
	return buf_steal(&out, NULL);
}

static void
check_utf8(const char *program, bool utf8, const char *expected)
{
	char *got = search_len(program, strlen(program), utf8);

	if (strcmp(got, expected) != 0)
		fail_msg("SEARCH %s:\n  got      \"%s\"\n  expected \"%s\"",
		    program, got, expected);
	free(got);
}

static void
check(const char *program, const char *expected)
{
	check_utf8(program, false, expected);
}

/* 1994-02-01 00:00:00 UTC and friends. */
#define D_1994_02_01 "760060800"
#define D_2024_02_29 "1709164800"

static void
test_each_key(void **state)
{
	check("ALL", "(AND (ALL))");
	check("ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN",
	    "(AND (ANSWERED) (DELETED) (DRAFT) (FLAGGED) (NEW) (OLD) (RECENT) (SEEN))");
	check("UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
	    "(AND (UNANSWERED) (UNDELETED) (UNDRAFT) (UNFLAGGED) (UNSEEN))");
	check("BCC a CC \"b c\" FROM {3}\r\nd@e TO f SUBJECT g BODY h TEXT i",
	    "(AND (BCC a) (CC b c) (FROM d@e) (TO f) (SUBJECT g) (BODY h) (TEXT i))");
	check("HEADER Message-ID \"<x@y>\"", "(AND (HEADER Message-ID <x@y>))");
	check("HEADER \"X-Spam\" \"\"", "(AND (HEADER X-Spam ))");
	check("KEYWORD $Junk UNKEYWORD $Forwarded",
	    "(AND (KEYWORD $Junk) (UNKEYWORD $Forwarded))");
	check("BEFORE 1-Feb-1994 ON 01-feb-1994 SINCE \"1-FEB-1994\"",
	    "(AND (BEFORE " D_1994_02_01 ") (ON " D_1994_02_01 ") (SINCE "
	    D_1994_02_01 "))");
	check("SENTBEFORE 29-Feb-2024 SENTON 29-Feb-2024 SENTSINCE 29-Feb-2024",
	    "(AND (SENTBEFORE " D_2024_02_29 ") (SENTON " D_2024_02_29
	    ") (SENTSINCE " D_2024_02_29 "))");
	check("LARGER 1000 SMALLER 9223372036854775807",
	    "(AND (LARGER 1000) (SMALLER 9223372036854775807))");
	check("UID 1:5,7 2,4:*", "(AND (UID 1:5,7:7) (SEQSET 2:2,4:4294967295))");
	check("UID $ $", "(AND (UID $) (SEQSET $))");
	check("* 5:3", "(AND (SEQSET 4294967295:4294967295) (SEQSET 3:5))");
	check("MODSEQ 620162338", "(AND (MODSEQ 620162338))");
	check("MODSEQ 0", "(AND (MODSEQ 0))");
	check("MODSEQ \"/flags/\\\\draft\" all 620162338",
	    "(AND (MODSEQ 620162338))");
	check("MODSEQ \"/flags/\\\\draft\" PRIV 7 MODSEQ \"/flags/x\" shared 8",
	    "(AND (MODSEQ 7) (MODSEQ 8))");
	check("OLDER 3600 YOUNGER 60", "(AND (OLDER 3600) (YOUNGER 60))");
	/* Keys are case-insensitive. */
	check("from alice unseen Not Seen", "(AND (FROM alice) (UNSEEN) (NOT (SEEN)))");
}

static void
test_nesting(void **state)
{
	check("OR SEEN FLAGGED", "(AND (OR (SEEN) (FLAGGED)))");
	check("NOT NOT SEEN", "(AND (NOT (NOT (SEEN))))");
	check("OR (FROM a TO b) NOT (SEEN)",
	    "(AND (OR (AND (FROM a) (TO b)) (NOT (AND (SEEN)))))");
	check("OR OR a:b SEEN DRAFT",
	    "ERR: Unknown search key a:b");
	check("OR OR 1 SEEN DRAFT", "(AND (OR (OR (SEQSET 1:1) (SEEN)) (DRAFT)))");
	check("(SEEN) ((DELETED))", "(AND (AND (SEEN)) (AND (AND (DELETED))))");
	check("NOT (OR FROM a FROM b) SINCE 1-Jan-2020",
	    "(AND (NOT (AND (OR (FROM a) (FROM b)))) (SINCE 1577836800))");
}

static void
test_errors(void **state)
{
	check("", "ERR: Missing search key");
	check("FOO", "ERR: Unknown search key FOO");
	check("SEEN BAR]", "ERR: Unknown search key BAR]");
	check("X1234567890123456789012345678901234567890123456789",
	    "ERR: Unknown search key X123456789012345678901234567890123456789...");
	check("NIL", "ERR: Unknown search key NIL");
	check("\"SEEN\"", "ERR: Invalid search key");
	check("{4}\r\nSEEN", "ERR: Invalid search key");
	check("SINCE", "ERR: Missing argument for SINCE");
	check("FROM", "ERR: Missing argument for FROM");
	check("HEADER X", "ERR: Missing argument for HEADER");
	check("HEADER", "ERR: Missing argument for HEADER");
	check("NOT", "ERR: Missing argument for NOT");
	check("OR SEEN", "ERR: Missing argument for OR");
	check("OR", "ERR: Missing argument for OR");
	check("FROM (a)", "ERR: Invalid argument for FROM");
	check("KEYWORD \"a\"", "ERR: Invalid argument for KEYWORD");
	check("SINCE 32-Jan-2020", "ERR: Invalid date");
	check("SINCE 29-Feb-2023", "ERR: Invalid date");
	check("BEFORE 1-Foo-2020", "ERR: Invalid date");
	check("BEFORE 1-Jan-20", "ERR: Invalid date");
	check("ON (1-Jan-2020)", "ERR: Invalid date");
	check("LARGER x", "ERR: Invalid number for LARGER");
	check("LARGER -1", "ERR: Invalid number for LARGER");
	check("SMALLER 9223372036854775808", "ERR: Invalid number for SMALLER");
	check("LARGER \"5\"", "ERR: Invalid number for LARGER");
	check("OLDER 0", "ERR: Invalid number for OLDER");
	check("YOUNGER 4294967296", "ERR: Invalid number for YOUNGER");
	check("UID x", "ERR: Invalid sequence set");
	check("UID \"1\"", "ERR: Invalid sequence set");
	check("UID 0", "ERR: Invalid sequence number 0");
	check("1,,2", "ERR: Invalid sequence set");
	check("MODSEQ", "ERR: Missing argument for MODSEQ");
	check("MODSEQ x", "ERR: Invalid number for MODSEQ");
	check("MODSEQ 9223372036854775808", "ERR: Invalid number for MODSEQ");
	check("MODSEQ \"/flags/x\"", "ERR: Missing argument for MODSEQ");
	check("MODSEQ \"/flags/x\" mine 5", "ERR: Invalid entry type for MODSEQ");
	check("MODSEQ \"/flags/x\" all", "ERR: Missing argument for MODSEQ");
	check("()", "ERR: Missing search key");
	check("(SEEN ())", "ERR: Missing search key");
}

static void
test_return_charset(void **state)
{
	check("RETURN (MIN MAX) ALL", "RETURN=3 (AND (ALL))");
	check("RETURN (all count save) SEEN", "RETURN=28 (AND (SEEN))");
	check("RETURN () SEEN", "RETURN=4 (AND (SEEN))");
	check("RETURN (SAVE) CHARSET UTF-8 SEEN", "CHARSET=UTF-8 RETURN=16 (AND (SEEN))");
	check("CHARSET us-ascii FROM a", "CHARSET=us-ascii (AND (FROM a))");
	check("CHARSET \"UTF-8\" FROM a", "CHARSET=UTF-8 (AND (FROM a))");
	/* Another charset is returned for the caller to refuse. */
	check("CHARSET KOI8-R FROM a", "CHARSET=KOI8-R (AND (FROM a))");
	check("RETURN", "ERR: Missing argument for RETURN");
	check("RETURN SEEN", "ERR: Invalid RETURN options");
	check("RETURN (FOO) SEEN", "ERR: Unknown RETURN option FOO");
	check("RETURN ((MIN)) SEEN", "ERR: Invalid RETURN options");
	check("RETURN (MIN)", "ERR: Missing search key");
	check("CHARSET", "ERR: Missing argument for CHARSET");
	check("CHARSET (a) SEEN", "ERR: Missing argument for CHARSET");
	check("CHARSET UTF-8", "ERR: Missing search key");
	/* CHARSET before RETURN is not the grammar. */
	check("CHARSET UTF-8 RETURN (MIN) SEEN", "ERR: Unknown search key RETURN");
}

static void
test_utf8_strings(void **state)
{
	/* UTF-8 arguments: quoted (the parser is in UTF-8 mode here) and
	 * literal. */
	check("SUBJECT \"Gr\xc3\xb6\xc3\x9f" "e\"", "(AND (SUBJECT Gr\xc3\xb6\xc3\x9f" "e))");
	check("CHARSET UTF-8 SUBJECT {3}\r\n\xe2\x82\xac", "CHARSET=UTF-8 (AND (SUBJECT \xe2\x82\xac))");
	check("SUBJECT {2}\r\n\xc3\x28", "ERR: Invalid UTF-8 in argument for SUBJECT");
	check("CHARSET US-ASCII HEADER X {1}\r\n\xff",
	    "ERR: Invalid UTF-8 in argument for HEADER");
	/* Another charset: not checked here... */
	check("CHARSET ISO-8859-1 SUBJECT {1}\r\n\xe9",
	    "CHARSET=ISO-8859-1 (AND (SUBJECT \xe9))");
	/* ... unless UTF8=ACCEPT is on. */
	check_utf8("CHARSET ISO-8859-1 SUBJECT {1}\r\n\xe9", true,
	    "ERR: Invalid UTF-8 in argument for SUBJECT");
	/* NULs never make a search string. */
	{
		char *got = search_len("BODY {3}\r\na\0b", 13, false);

		assert_string_equal(got, "ERR: Invalid argument for BODY");
		free(got);
	}
}

/* Builds a program of n keys: "SEEN SEEN ...". */
static void
test_limits(void **state)
{
	for (size_t n = IMAP_SEARCH_KEYS_MAX - 1; n <= IMAP_SEARCH_KEYS_MAX + 1;
	    n++) {
		struct buf prog;
		char *got;

		buf_init(&prog, 1 << 20);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_puts(&prog, i ? " SEEN" : "SEEN"), 0);
		got = search_len(prog.data, prog.len, false);
		if (n <= IMAP_SEARCH_KEYS_MAX)
			assert_int_equal(strncmp(got, "(AND (SEEN)", 11), 0);
		else
			assert_string_equal(got, "ERR: Too many search keys");
		free(got);
		buf_release(&prog);
	}
	/* Depth through NOT: n NOTs then SEEN. */
	for (size_t n = IMAP_SEARCH_DEPTH_MAX - 1; n <= IMAP_SEARCH_DEPTH_MAX + 1;
	    n++) {
		struct buf prog;
		char *got;

		buf_init(&prog, 1 << 20);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_puts(&prog, "NOT "), 0);
		assert_int_equal(buf_puts(&prog, "SEEN"), 0);
		got = search_len(prog.data, prog.len, false);
		if (n <= IMAP_SEARCH_DEPTH_MAX)
			assert_int_equal(strncmp(got, "(AND (NOT", 9), 0);
		else
			assert_string_equal(got, "ERR: Search program nested too deeply");
		free(got);
		buf_release(&prog);
	}
	/* Depth through OR and parentheses mixed. */
	for (size_t n = IMAP_SEARCH_DEPTH_MAX - 1; n <= IMAP_SEARCH_DEPTH_MAX + 1;
	    n++) {
		struct buf prog;
		char *got;

		buf_init(&prog, 1 << 20);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_puts(&prog, i % 2 ? "(" : "OR SEEN "), 0);
		assert_int_equal(buf_puts(&prog, "SEEN"), 0);
		for (size_t i = 0; i < n; i++)
			if (i % 2)
				assert_int_equal(buf_puts(&prog, ")"), 0);
		got = search_len(prog.data, prog.len, false);
		if (n <= IMAP_SEARCH_DEPTH_MAX)
			assert_int_equal(strncmp(got, "(AND (OR", 8), 0);
		else
			assert_string_equal(got, "ERR: Search program nested too deeply");
		free(got);
		buf_release(&prog);
	}
}

/*
 * Dates.
 */

static void
test_date(void **state)
{
	time_t t;
	static const char *const bad[] = {
		"", "1-Feb-199", "1-Feb-19944", "001-Feb-1994", "1-Feb1994",
		"1 Feb 1994", "1-Fe-1994", "1-Febr-1994", "0-Feb-1994",
		"32-Jan-1994", "31-Apr-1994", "29-Feb-1900", "30-Feb-2000",
		"x-Feb-1994", "1-Feb-19x4", "\"1-Feb-1994\"", " 1-Feb-1994",
		"1-Feb-1994 ", "-1-Feb-1994", "1-\xc3\xa9t\xc3\xa9-1994",
	};

	assert_int_equal(imap_date_parse("1-Feb-1994", 10, &t), 0);
	assert_int_equal(t, 760060800);
	assert_int_equal(imap_date_parse("01-Feb-1994", 11, &t), 0);
	assert_int_equal(t, 760060800);
	assert_int_equal(imap_date_parse("01-fEB-1994", 11, &t), 0);
	assert_int_equal(t, 760060800);
	assert_int_equal(imap_date_parse("1-Jan-1970", 10, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(imap_date_parse("31-Dec-1969", 11, &t), 0);
	assert_int_equal(t, -86400);
	assert_int_equal(imap_date_parse("29-Feb-2000", 11, &t), 0);
	assert_int_equal(t, 951782400);
	assert_int_equal(imap_date_parse("31-Dec-9999", 11, &t), 0);
	assert_int_equal(t, 253402214400LL);
	assert_int_equal(imap_date_parse("1-Jan-0001", 10, &t), 0);
	for (int m = 0; m < 12; m++) {
		static const char *const months[] = {
			"jan", "FEB", "Mar", "apr", "May", "jun", "JUL", "aug",
			"Sep", "oct", "Nov", "dec",
		};
		char s[16];

		snprintf(s, sizeof(s), "1-%s-2021", months[m]);
		assert_int_equal(imap_date_parse(s, strlen(s), &t), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (imap_date_parse(bad[i], strlen(bad[i]), &t) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	/* len is respected. */
	assert_int_equal(imap_date_parse("1-Feb-1994xyz", 10, &t), 0);
}

static void
test_datetime(void **state)
{
	time_t t;
	static const char *const bad[] = {
		"", "17-Jul-1996 02:44:25", "17-Jul-1996 02:44:25 -07000",
		"17-Jul-1996 24:00:00 +0000", "17-Jul-1996 23:60:00 +0000",
		"17-Jul-1996 23:59:61 +0000", "17-Jul-1996 02:44:25 -2400",
		"17-Jul-1996 02:44:25 -0060", "17-Jul-1996 02:44:25 0700",
		"17-Jul-1996  02:44:25 +0700", "17-Jul-1996 2:44:25 +00000",
		"17-Jul-1996T02:44:25 +0000", "17-Jul-1996 02.44.25 +0000",
		"  7-Jul-1996 02:44:25 +000", "007-Jul-1996 02:44:25 +000",
		"31-Jun-1996 02:44:25 +0000", "17-Jul-1996 02:44:25 +07:0",
		"17-Jul-1996 02:44:25 UTC  ", "\"17-Jul-1996 02:44:25 +0000\"",
		"17-Jul-1996 02:44:25 +0x00", "x7-Jul-1996 02:44:25 +0000",
	};

	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 -0700", 26,
	    &t), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 09:44:25 +0000", 26,
	    &t), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 11:14:25 +0130", 26,
	    &t), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(imap_datetime_parse(" 7-Jul-1996 02:44:25 -0700", 26,
	    &t), 0);
	assert_int_equal(t, 837596665 - 10 * 86400);
	assert_int_equal(imap_datetime_parse("07-jul-1996 02:44:25 -0700", 26,
	    &t), 0);
	assert_int_equal(t, 837596665 - 10 * 86400);
	assert_int_equal(imap_datetime_parse("7-Jul-1996 02:44:25 -0700", 25,
	    &t), 0);
	assert_int_equal(t, 837596665 - 10 * 86400);
	assert_int_equal(imap_datetime_parse("01-Jan-1970 00:00:00 +2359", 26,
	    &t), 0);
	assert_int_equal(t, -(23 * 3600 + 59 * 60));
	assert_int_equal(imap_datetime_parse("31-Dec-1998 23:59:60 +0000", 26,
	    &t), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (imap_datetime_parse(bad[i], strlen(bad[i]), &t) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_datetime_write(void **state)
{
	struct buf out;
	time_t t;

	buf_init(&out, 64);
	assert_int_equal(imap_datetime_write(&out, 837596665), 0);
	assert_string_equal(out.data, "\"17-Jul-1996 09:44:25 +0000\"");
	buf_reset(&out);
	assert_int_equal(imap_datetime_write(&out, 837596665 - 10 * 86400), 0);
	assert_string_equal(out.data, "\"07-Jul-1996 09:44:25 +0000\"");
	buf_reset(&out);
	assert_int_equal(imap_datetime_write(&out, 0), 0);
	assert_string_equal(out.data, "\"01-Jan-1970 00:00:00 +0000\"");
	buf_reset(&out);
	/* Round trip through the parser (without the quotes). */
	assert_int_equal(imap_datetime_write(&out, 1700000000), 0);
	assert_int_equal(out.len, 28);
	assert_int_equal(imap_datetime_parse(out.data + 1, 26, &t), 0);
	assert_int_equal(t, 1700000000);
	buf_reset(&out);
	/* Out of range years. */
	assert_int_equal(imap_datetime_write(&out, 253402300800LL), -1);
	assert_int_equal(out.len, 0);
	/* A full buffer. */
	buf_release(&out);
	buf_init(&out, 27);
	assert_int_equal(imap_datetime_write(&out, 0), -1);
	assert_int_equal(out.len, 0);
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_key),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_return_charset),
		cmocka_unit_test(test_utf8_strings),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_datetime),
		cmocka_unit_test(test_datetime_write),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
