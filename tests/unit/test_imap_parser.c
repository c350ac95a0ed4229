/*
 * test_imap_parser.c - the IMAP command parser, argument helpers, numbers,
 * quoting and sequence sets. RFC 9051 9, RFC 7888, RFC 3516, RFC 5182.
 *
 * Most tests describe a byte stream and the verdicts it must produce, as
 * one string of events; every stream is fed whole, one byte at a time and
 * in chunks of 2, 3 and 7 bytes, and must give the same events each time.
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
#include "imap/imap-parser.h"

/* Limits the streams are parsed with (tests change them). */
static size_t opt_line_max = 1000;
static size_t opt_literal_max = 1000;
static bool opt_utf8;

static int
setup(void **state)
{
	opt_line_max = 1000;
	opt_literal_max = 1000;
	opt_utf8 = false;
	return 0;
}

/* Writes bytes visibly: CR, LF and NUL escaped. */
static void
dump_bytes(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '\r':
			assert_int_equal(buf_puts(out, "\\r"), 0);
			break;
		case '\n':
			assert_int_equal(buf_puts(out, "\\n"), 0);
			break;
		case '\0':
			assert_int_equal(buf_puts(out, "\\0"), 0);
			break;
		default:
			assert_int_equal(buf_append(out, &s[i], 1), 0);
			break;
		}
	}
}

static void
dump_args(struct buf *out, const struct imap_arg *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];

		if (i > 0)
			assert_int_equal(buf_puts(out, " "), 0);
		switch (a->type) {
		case IMAP_ARG_ATOM:
			assert_int_equal(strlen(a->str), a->len);
			dump_bytes(out, a->str, a->len);
			break;
		case IMAP_ARG_NIL:
			assert_int_equal(buf_printf(out, "<NIL:%s>", a->str), 0);
			break;
		case IMAP_ARG_STRING:
			assert_int_equal(buf_puts(out, "\""), 0);
			dump_bytes(out, a->str, a->len);
			assert_int_equal(buf_puts(out, "\""), 0);
			break;
		case IMAP_ARG_LITERAL:
			assert_int_equal(a->str[a->len], '\0');
			assert_int_equal(buf_printf(out, "%s{%zu}",
			    a->literal8 ? "~" : "", a->len), 0);
			dump_bytes(out, a->str, a->len);
			break;
		case IMAP_ARG_LIST:
			assert_int_equal(buf_puts(out, "("), 0);
			dump_args(out, a->list, a->n_list);
			assert_int_equal(buf_puts(out, ")"), 0);
			break;
		}
	}
}

/*
 * Feeds in (len bytes) in chunks of chunk bytes (0: all that is left) and
 * returns the events, "|"-separated:
 *   D@off tag NAME args   a command ended at offset off
 *   C@off                 CONTINUE
 *   E@off tag error       ERROR ("*" if no tag; "!close" if must close)
 *   MORE                  the stream ended inside a command
 */
static char *
run_chunked(const char *in, size_t len, size_t chunk)
{
	struct imap_parser *p = imap_parser_new(opt_line_max, opt_literal_max);
	struct buf out;
	size_t off = 0;
	enum imap_parse_result r = IMAP_PARSE_MORE;

	imap_parser_set_utf8(p, opt_utf8);
	buf_init(&out, 1 << 20);
	assert_int_equal(buf_puts(&out, ""), 0);
	while (off < len) {
		size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;
		size_t consumed = 99999;
		struct imap_command cmd;
		const char *error = NULL;
		const char *tag;

		r = imap_parser_feed(p, in + off, n, &consumed, &cmd, &error);
		assert_true(consumed <= n);
		/* Only MORE may leave bytes of a verdict-less chunk unread. */
		if (r == IMAP_PARSE_MORE)
			assert_int_equal(consumed, n);
		else
			assert_true(consumed > 0);
		off += consumed;
		if (r != IMAP_PARSE_MORE && out.len > 0)
			assert_int_equal(buf_puts(&out, "|"), 0);
		switch (r) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_CONTINUE:
			assert_int_equal(buf_printf(&out, "C@%zu", off), 0);
			break;
		case IMAP_PARSE_DONE:
			assert_non_null(cmd.args);
			assert_int_equal(buf_printf(&out, "D@%zu %s %s", off,
			    cmd.tag, cmd.name), 0);
			if (cmd.n_args > 0) {
				assert_int_equal(buf_puts(&out, " "), 0);
				dump_args(&out, cmd.args, cmd.n_args);
			}
			break;
		case IMAP_PARSE_ERROR:
			assert_non_null(error);
			tag = imap_parser_error_tag(p);
			assert_int_equal(buf_printf(&out, "E@%zu %s %s%s", off,
			    tag != NULL ? tag : "*", error,
			    imap_parser_must_close(p) ? " !close" : ""), 0);
			break;
		}
		if (imap_parser_must_close(p)) {
			/* Nothing is parsed any more: every feed fails and
			 * takes everything. */
			consumed = 0;
			error = NULL;
			assert_int_equal(imap_parser_feed(p, "a NOOP\r\n", 8,
			    &consumed, &cmd, &error), IMAP_PARSE_ERROR);
			assert_int_equal(consumed, 8);
			assert_string_equal(error, "Connection must be closed");
			r = IMAP_PARSE_ERROR;
			break;
		}
	}
	if (r == IMAP_PARSE_MORE && len > 0) {
		if (out.len > 0)
			assert_int_equal(buf_puts(&out, "|"), 0);
		assert_int_equal(buf_puts(&out, "MORE"), 0);
	}
	imap_parser_free(&p);
	assert_null(p);
	return buf_steal(&out, NULL);
}

/* Every chunking must give the same events as whole feeding. */
static char *
run(const char *in, size_t len)
{
	static const size_t chunks[] = { 1, 2, 3, 7 };
	char *whole = run_chunked(in, len, 0);

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *other = run_chunked(in, len, chunks[i]);

		if (strcmp(whole, other) != 0)
			fail_msg("chunk %zu: \"%s\" != \"%s\"", chunks[i], other,
			    whole);
		free(other);
	}
	return whole;
}

static void
check_len(const char *in, size_t len, const char *expected)
{
	char *got = run(in, len);

	if (strcmp(got, expected) != 0)
		fail_msg("input \"%s\":\n  got      \"%s\"\n  expected \"%s\"",
		    in, got, expected);
	free(got);
}

static void
check(const char *in, const char *expected)
{
	check_len(in, strlen(in), expected);
}

/* Returns a string of n copies of c (caller frees). */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static char *
cat(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	assert_non_null(s);
	assert_true(snprintf(s, n, "%s%s%s", a, b, c) == (int)n - 1);
	return s;
}

static void
test_simple(void **state)
{
	check("a1 NOOP\r\n", "D@9 a1 NOOP");
	check("a1 noop\r\n", "D@9 a1 NOOP");
	check("A.1 select INBOX\r\n", "D@18 A.1 SELECT INBOX");
	check("t LOGIN alice secret\r\n", "D@22 t LOGIN alice secret");
	/* Wildcards, "]" and flags are atoms. */
	check("x LIST \"\" %\r\n", "D@13 x LIST \"\" %");
	check("x LIST \"\" foo/*\r\n", "D@17 x LIST \"\" foo/*");
	check("x FETCH 1:* FLAGS\r\n", "D@19 x FETCH 1:* FLAGS");
	check("x STORE 1 +FLAGS (\\Seen \\Deleted $Junk)\r\n",
	    "D@41 x STORE 1 +FLAGS (\\Seen \\Deleted $Junk)");
	check("x SELECT [Gmail]/Sent\r\n", "D@23 x SELECT [Gmail]/Sent");
	/* "]" is a valid tag character; "~" starts an ordinary atom. */
	check("a] NOOP ~x\r\n", "D@12 a] NOOP ~x");
	/* NIL in any case; the text as typed. */
	check("a X NIL nil \"NIL\" NILS\r\n",
	    "D@24 a X <NIL:NIL> <NIL:nil> \"NIL\" NILS");
	/* Two commands in one feed: the first verdict takes only its own
	 * bytes. */
	check("a1 NOOP\r\na2 CAPABILITY\r\n", "D@9 a1 NOOP|D@24 a2 CAPABILITY");
	/* The parser stops after a command: what follows IDLE is the
	 * server's to read; fed to the parser, "DONE" is a bare tag. */
	check("a1 IDLE\r\nDONE\r\n", "D@9 a1 IDLE|E@15 DONE Missing command name");
	/* Unfinished. */
	check("a1 NOO", "MORE");
	check("a1 NOOP\r", "MORE");
	check("a1 NOOP\r\na2", "D@9 a1 NOOP|MORE");
}

static void
test_lenient_spaces(void **state)
{
	check("a1  NOOP\r\n", "D@10 a1 NOOP");
	check("a1 NOOP \r\n", "D@10 a1 NOOP");
	check("a X  a   b \r\n", "D@13 a X a b");
	check("a X ( a  b ) c\r\n", "D@16 a X (a b) c");
	/* A bare LF ends a line too. */
	check("a1 NOOP\na2 NOOP\r\n", "D@8 a1 NOOP|D@17 a2 NOOP");
	check("a X (a)\n", "D@8 a X (a)");
}

static void
test_tag_errors(void **state)
{
	char *tag, *in, *exp;

	check("\r\n", "E@2 * Missing tag");
	check(" NOOP\r\na NOOP\r\n", "E@7 * Missing tag|D@15 a NOOP");
	check("+ NOOP\r\n", "E@8 * Invalid character in tag");
	check("a+b NOOP\r\n", "E@10 * Invalid character in tag");
	check("* NOOP\r\n", "E@8 * Invalid character in tag");
	check("a(b NOOP\r\n", "E@10 * Invalid character in tag");
	check("a\"b NOOP\r\n", "E@10 * Invalid character in tag");
	check("a{1} NOOP\r\n", "E@11 * Invalid character in tag");
	check("a\x01 NOOP\r\n", "E@9 * Invalid character in tag");
	check("\xc3\xa9 NOOP\r\n", "E@9 * Invalid character in tag");
	/* The tag is known, the command name is not. */
	check("a1\r\n", "E@4 a1 Missing command name");
	check("a1 \r\n", "E@5 a1 Missing command name");
	check("a1 (x)\r\n", "E@8 a1 Invalid character in command name");
	check("a1 NO\"OP\r\n", "E@10 a1 Invalid character in command name");
	check("a1 NO]OP\r\n", "E@10 a1 Invalid character in command name");

	/* IMAP_TAG_MAX - 1, IMAP_TAG_MAX, IMAP_TAG_MAX + 1. */
	for (size_t n = IMAP_TAG_MAX - 1; n <= IMAP_TAG_MAX + 1; n++) {
		char expbuf[256];

		tag = repeat('t', n);
		in = cat(tag, " NOOP\r\n", "");
		if (n <= IMAP_TAG_MAX)
			snprintf(expbuf, sizeof(expbuf), "D@%zu %s NOOP",
			    strlen(in), tag);
		else
			snprintf(expbuf, sizeof(expbuf), "E@%zu * Tag too long",
			    strlen(in));
		exp = expbuf;
		check(in, exp);
		free(tag);
		free(in);
	}
}

static void
test_quoted(void **state)
{
	check("a X \"\"\r\n", "D@8 a X \"\"");
	check("a X \"a b\" \"(c)\"\r\n", "D@17 a X \"a b\" \"(c)\"");
	check("a X \"q\\\"q\" \"b\\\\s\"\r\n", "D@19 a X \"q\"q\" \"b\\s\"");
	check("a X \"{5}\"\r\n", "D@11 a X \"{5}\"");
	check("a X \"tab\there\"\r\n", "D@16 a X \"tab\there\"");
	/* Only \\ and \" are escapes. */
	check("a X \"\\n\"\r\nb NOOP\r\n",
	    "E@10 a Invalid escape in quoted string|D@18 b NOOP");
	check("a X \"\\\r\nb NOOP\r\n",
	    "E@8 a Invalid escape in quoted string|D@16 b NOOP");
	/* CR or LF inside: the line ends there. */
	check("a X \"ab\rc\"\r\nb NOOP\r\n",
	    "E@12 a Unterminated quoted string|D@20 b NOOP");
	check("a X \"ab\r\nb NOOP\r\n",
	    "E@9 a Unterminated quoted string|D@17 b NOOP");
	check("a X \"ab\nb NOOP\r\n",
	    "E@8 a Unterminated quoted string|D@16 b NOOP");
	check_len("a X \"a\0b\"\r\nb NOOP\r\n", 19,
	    "E@11 a NUL in quoted string|D@19 b NOOP");
	/* No space between arguments. */
	check("a X \"a\"\"b\"\r\n", "E@12 a Missing space between arguments");
	check("a X \"a\"b\r\n", "E@10 a Missing space between arguments");
	check("a X b\"a\"\r\n", "E@10 a Invalid character in atom");
}

static void
test_quoted_utf8(void **state)
{
	const char *in = "a X \"Gr\xc3\xb6\xc3\x9f" "e\"\r\n";

	check(in, "E@15 a 8-bit data in quoted string");
	opt_utf8 = true;
	check(in, "D@15 a X \"Gr\xc3\xb6\xc3\x9f" "e\"");
	check("a X \"\xc3\"\r\n", "E@9 a Invalid UTF-8 in quoted string");
	check("a X \"\xed\xa0\x80\"\r\n", "E@11 a Invalid UTF-8 in quoted string");
	check("a X \"\xc0\xaf\"\r\nb NOOP\r\n",
	    "E@10 a Invalid UTF-8 in quoted string|D@18 b NOOP");
	/* Atoms stay 7-bit. */
	check("a X Gr\xc3\xb6\r\n", "E@10 a Invalid character in atom");
}

static void
test_literals(void **state)
{
	/* Synchronizing: CONTINUE right after the CRLF, once. */
	check("a LOGIN {5}\r\nalice {6}\r\nsecret\r\n",
	    "C@13|C@24|D@32 a LOGIN {5}alice {6}secret");
	/* LITERAL+: no CONTINUE. */
	check("a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n",
	    "D@34 a LOGIN {5}alice {6}secret");
	/* Literal8 (RFC 3516), both kinds. */
	check("a APPEND INBOX ~{3}\r\nabc\r\n", "C@21|D@26 a APPEND INBOX ~{3}abc");
	check("a APPEND INBOX ~{3+}\r\nabc\r\n", "D@27 a APPEND INBOX ~{3}abc");
	/* Data holding CRLF, NUL and what looks like syntax. */
	check_len("a APPEND INBOX {10+}\r\nx\r\ny\0) {9}\r\n", 34,
	    "D@34 a APPEND INBOX {10}x\\r\\ny\\0) {9}");
	check_len("a X ~{4+}\r\n\0\0\0\0\r\n", 17, "D@17 a X ~{4}\\0\\0\\0\\0");
	/* More arguments after a literal, and literals in lists. */
	check("a APPEND INBOX (\\Seen) {3+}\r\nabc (x {1+}\r\ny)\r\n",
	    "D@46 a APPEND INBOX (\\Seen) {3}abc (x {1}y)");
	check("a X ({1+}\r\na)\r\n", "D@15 a X ({1}a)");
	/* Empty literals. */
	check("a X {0}\r\n\r\n", "C@9|D@11 a X {0}");
	check("a X {0+}\r\n {0+}\r\n\r\n", "D@19 a X {0} {0}");
	/* Leading zeros, bare LF after the size. */
	check("a X {003+}\r\nabc\r\n", "D@17 a X {3}abc");
	check("a X {3+}\nabc\r\n", "D@14 a X {3}abc");
	/* A literal's end must be followed by SP, ")" or CRLF. */
	check("a X {1+}\r\nab\r\n", "E@14 a Missing space between arguments");
	/* Malformed announcements. */
	check("a X {}\r\nb NOOP\r\n", "E@8 a Invalid literal size|D@16 b NOOP");
	check("a X {+}\r\nb NOOP\r\n", "E@9 a Invalid literal size|D@17 b NOOP");
	check("a X {1x}\r\nb NOOP\r\n", "E@10 a Invalid literal size|D@18 b NOOP");
	check("a X {1+x}\r\nb NOOP\r\n", "E@11 a Invalid literal size|D@19 b NOOP");
	check("a X {1} \r\nb NOOP\r\n",
	    "E@10 a Missing CRLF after literal size|D@18 b NOOP");
	check("a X {1}\rx\r\nb NOOP\r\n",
	    "E@11 a Missing CRLF after literal size|D@19 b NOOP");
	check("a X x{1}\r\nb NOOP\r\n", "E@10 a Invalid character in atom|D@18 b NOOP");
	check("a X ~{1\r\n", "E@9 a Invalid literal size");
}

static void
test_literal_limits(void **state)
{
	char *data;
	char in[2200], exp[2400];

	opt_literal_max = 1000;
	/* literal_max - 1 and literal_max are fine, both kinds. */
	for (size_t n = 999; n <= 1000; n++) {
		data = repeat('x', n);
		snprintf(in, sizeof(in), "a X {%zu}\r\n%s\r\n", n, data);
		snprintf(exp, sizeof(exp), "C@%zu|D@%zu a X {%zu}%s",
		    strlen(in) - n - 2, strlen(in), n, data);
		check(in, exp);
		snprintf(in, sizeof(in), "a X {%zu+}\r\n%s\r\n", n, data);
		snprintf(exp, sizeof(exp), "D@%zu a X {%zu}%s", strlen(in), n,
		    data);
		check(in, exp);
		free(data);
	}
	/* literal_max + 1, synchronizing: refused right after its CRLF
	 * (the client gets no "+" and sends no data); the next command is
	 * parsed as usual. */
	check("a APPEND INBOX {1001}\r\nb NOOP\r\n",
	    "E@23 a Literal too large|D@31 b NOOP");
	check("a X {99999999999999999999999999}\r\nb NOOP\r\n",
	    "E@34 a Literal too large|D@42 b NOOP");
	/* literal_max + 1, non-synchronizing: the data comes anyway, the
	 * connection must be closed; nothing more is parsed. */
	check("a APPEND INBOX {1001+}\r\nxxxxx\r\nb NOOP\r\n",
	    "E@24 a Literal too large !close");
	check("a X ~{1001+}\r\n", "E@14 a Literal too large !close");
	/* All the literals of a command together: IMAP_CMD_LITERAL_FACTOR
	 * times literal_max. */
	opt_literal_max = 4;
	check("a X {4+}\r\nxxxx {4+}\r\nxxxx {4+}\r\nxxxx {4+}\r\nxxxx\r\n",
	    "D@49 a X {4}xxxx {4}xxxx {4}xxxx {4}xxxx");
	check("a X {4+}\r\nxxxx {4+}\r\nxxxx {4+}\r\nxxxx {4+}\r\nxxxx {1}\r\n"
	    "b NOOP\r\n",
	    "E@53 a Literal too large|D@61 b NOOP");
	/* A limit of 0 refuses any non-empty literal. */
	opt_literal_max = 0;
	check("a X {0}\r\n\r\n", "C@9|D@11 a X {0}");
	check("a X {1}\r\n", "E@9 a Literal too large");
}

static void
test_lists(void **state)
{
	check("a X ()\r\n", "D@8 a X ()");
	check("a X (())\r\n", "D@10 a X (())");
	check("a X (a (b \"c\") NIL) d\r\n", "D@23 a X (a (b \"c\") <NIL:NIL>) d");
	check("a X (a) (b)\r\n", "D@13 a X (a) (b)");
	check("a X (a)(b)\r\n", "E@12 a Missing space between arguments");
	check("a X (a)b\r\n", "E@10 a Missing space between arguments");
	check("a X a(b)\r\n", "E@10 a Invalid character in atom");
	check("a X )\r\nb NOOP\r\n", "E@7 a Unexpected ')'|D@15 b NOOP");
	check("a X (a))\r\n", "E@10 a Unexpected ')'");
	check("a X (a\r\nb NOOP\r\n", "E@8 a Missing ')'|D@16 b NOOP");
	check("a X ((a)\r\n", "E@10 a Missing ')'");
}

static void
test_list_depth(void **state)
{
	for (size_t d = IMAP_LIST_DEPTH_MAX - 1; d <= IMAP_LIST_DEPTH_MAX + 1;
	    d++) {
		char *open = repeat('(', d), *close = repeat(')', d);
		char *args = cat(open, "x", close);
		char *in = cat("a X ", args, "\r\n");
		char exp[256];

		if (d <= IMAP_LIST_DEPTH_MAX)
			snprintf(exp, sizeof(exp), "D@%zu a X %s", strlen(in), args);
		else
			snprintf(exp, sizeof(exp), "E@%zu a Too deep nesting",
			    strlen(in));
		check(in, exp);
		free(open);
		free(close);
		free(args);
		free(in);
	}
}

static void
test_bracket_atoms(void **state)
{
	check("a FETCH 1 BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.2048>\r\n",
	    "D@56 a FETCH 1 BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.2048>");
	check("a FETCH 1 (FLAGS BODY[] BINARY[1]<0.10>)\r\n",
	    "D@42 a FETCH 1 (FLAGS BODY[] BINARY[1]<0.10>)");
	check("a FETCH 1 BODY[HEADER.FIELDS.NOT (X-A)] UID\r\n",
	    "D@45 a FETCH 1 BODY[HEADER.FIELDS.NOT (X-A)] UID");
	/* Quoted strings inside keep "]" and escapes verbatim. */
	check("a FETCH 1 BODY[HEADER.FIELDS (\"a]\\\"b\")]\r\n",
	    "D@41 a FETCH 1 BODY[HEADER.FIELDS (\"a]\\\"b\")]");
	check("a FETCH 1 BODY[1][2]\r\n", "D@22 a FETCH 1 BODY[1][2]");
	check("a FETCH 1 BODY[1[2]]\r\nb NOOP\r\n",
	    "E@22 a Nested '[' in atom|D@30 b NOOP");
	check("a FETCH 1 BODY[1\r\nb NOOP\r\n", "E@18 a Missing ']'|D@26 b NOOP");
	check("a FETCH 1 BODY[HEADER.FIELDS {4}\r\nb NOOP\r\n",
	    "E@34 a Literal inside [] not supported|D@42 b NOOP");
	check("a FETCH 1 BODY[\x01]\r\n", "E@19 a Invalid character in atom");
	check("a FETCH 1 BODY[(\"a\\b\")]\r\n",
	    "E@25 a Invalid escape in quoted string");
	check("a FETCH 1 BODY[(\"a\r\n", "E@20 a Unterminated quoted string");
	check("a FETCH 1 BODY[(\"\xc3\xa9\")]\r\n",
	    "E@24 a Invalid character in atom");
	/* A leading "[" is an ordinary atom character. */
	check("a SELECT [a\r\n", "D@13 a SELECT [a");
	check("a X \\\r\n", "E@7 a Invalid atom");
	check("a X \\a\\b\r\n", "E@10 a Invalid character in atom");
}

static void
test_line_too_long(void **state)
{
	char *pad, *in, *in2;
	char exp[256];

	opt_line_max = 100;
	/* line_max counts the CRLF. "a X " + pad + "\r\n" */
	for (size_t n = 99; n <= 101; n++) {
		pad = repeat('p', n - 6);
		in = cat("a X ", pad, "\r\n");
		in2 = cat(in, "b NOOP\r\n", "");
		if (n <= 100)
			snprintf(exp, sizeof(exp), "D@%zu a X %s|D@%zu b NOOP",
			    n, pad, n + 8);
		else
			snprintf(exp, sizeof(exp),
			    "E@%zu a Line too long|D@%zu b NOOP", n, n + 8);
		check(in2, exp);
		free(pad);
		free(in);
		free(in2);
	}
	/* A huge line without CRLF is discarded as it comes: MORE. */
	pad = repeat('p', 5000);
	in = cat("a X ", pad, "");
	check(in, "MORE");
	in2 = cat(in, "\r\nb NOOP\r\n", "");
	check(in2, "E@5006 a Line too long|D@5014 b NOOP");
	free(in2);
	/* Inside a quoted string, and before the tag is complete. */
	in2 = cat("a X \"", pad, "\"\r\nb NOOP\r\n");
	check(in2, "E@5008 a Line too long|D@5016 b NOOP");
	free(in2);
	in2 = cat(pad, " NOOP\r\nb NOOP\r\n", "");
	check(in2, "E@5007 * Tag too long|D@5015 b NOOP");
	free(in2);
	/* Ending with a synchronizing literal: the command ends there. */
	in2 = cat("a X ", pad, " {3}\r\nb NOOP\r\n");
	check(in2, "E@5010 a Line too long|D@5018 b NOOP");
	free(in2);
	/* Ending with a non-synchronizing literal: its data is discarded,
	 * then the rest of the command. */
	in2 = cat("a X ", pad, " {3+}\r\nx\r\n c\r\nb NOOP\r\n");
	check(in2, "E@5018 a Line too long|D@5026 b NOOP");
	free(in2);
	in2 = cat("a X ", pad, " {2000+}\r\n");
	check(in2, "E@5014 a Line too long !close");
	free(in2);
	free(pad);
	free(in);
	/* The limit reached on the CRLF of a literal announcement: the
	 * literal is still seen. */
	opt_line_max = 9;
	check("a X {3+}\r\nabc\r\nb NOOP\r\n", "E@15 a Line too long|D@23 b NOOP");
	check("a X {3+}\nabc\r\nb NOOP\r\n", "E@14 a Line too long|D@22 b NOOP");
	opt_line_max = 8;
	check("a X {3}\r\nb NOOP\r\n", "E@9 a Line too long|D@17 b NOOP");
	check("a X {3+}\r\nabc\r\nb NOOP\r\n", "E@15 a Line too long|D@23 b NOOP");
	opt_line_max = 7;
	check("a X {3+}\r\nabc\r\nb X\r\n", "E@15 a Line too long|D@20 b X");
	opt_line_max = 6;
	check("a X {3+}\r\nabc\r\nb X\r\n", "E@15 a Line too long|D@20 b X");
	/* The literal data does not count against the line; only APPEND
	 * may have literals over it, up to literal_max. */
	opt_line_max = 20;
	opt_literal_max = 100;
	pad = repeat('d', 90);
	in = cat("a APPEND {90+}\r\n", pad, "\r\n");
	snprintf(exp, sizeof(exp), "D@%zu a APPEND {90}%s", strlen(in), pad);
	check(in, exp);
	free(in);
	in = cat("a X {90}\r\n", pad, "\r\n");
	check(in, "E@10 a Literal too large|E@102 * Line too long");
	free(in);
	free(pad);
}

static void
test_error_recovery(void **state)
{
	/* A syntax error early in a command with a LITERAL+ later: the
	 * literal data is read and discarded. */
	check("a X ) {3+}\r\nabc more\r\nb NOOP\r\n",
	    "E@22 a Unexpected ')'|D@30 b NOOP");
	check("a X ) {3+}\r\n\r\n\r\nb NOOP\r\n", "E@16 a Unexpected ')'|D@24 b NOOP");
	check("a X ) {3+}\r\nabc {2+}\r\nxy\r\nb NOOP\r\n",
	    "E@26 a Unexpected ')'|D@34 b NOOP");
	check("a X ) ~{3+}\r\nabc\r\nb NOOP\r\n", "E@18 a Unexpected ')'|D@26 b NOOP");
	/* ... and a synchronizing literal ends the command. */
	check("a X ) {3}\r\nb NOOP\r\n", "E@11 a Unexpected ')'|D@19 b NOOP");
	/* Things that only look like literals. */
	check("a X ) {3+} x\r\nb NOOP\r\n", "E@14 a Unexpected ')'|D@22 b NOOP");
	check("a X ) {}\r\nb NOOP\r\n", "E@10 a Unexpected ')'|D@18 b NOOP");
	check("a X ) {+}\r\nb NOOP\r\n", "E@11 a Unexpected ')'|D@19 b NOOP");
	check("a X ) {{3+}\r\nabc\r\nb NOOP\r\n", "E@18 a Unexpected ')'|D@26 b NOOP");
	/* Too large while discarding: close. */
	check("a X ) {1001+}\r\n", "E@15 a Unexpected ')' !close");
	/* CR without LF. */
	check("a X\rb\r\nb NOOP\r\n", "E@7 a CR without LF|D@15 b NOOP");
	check("a X \x01\r\nb NOOP\r\n", "E@7 a Invalid character in atom|D@15 b NOOP");
}

static void
test_args_limit(void **state)
{
	opt_line_max = IMAP_LINE_MAX;
	for (size_t n = IMAP_ARGS_MAX - 1; n <= IMAP_ARGS_MAX + 1; n++) {
		struct imap_parser *p = imap_parser_new(opt_line_max, 0);
		struct buf in;
		struct imap_command cmd;
		const char *error = NULL;
		size_t consumed;
		enum imap_parse_result r;

		buf_init(&in, 1 << 20);
		assert_int_equal(buf_puts(&in, "a X"), 0);
		/* n atoms. */
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_puts(&in, " a"), 0);
		assert_int_equal(buf_puts(&in, "\r\n"), 0);
		r = imap_parser_feed(p, in.data, in.len, &consumed, &cmd, &error);
		assert_int_equal(consumed, in.len);
		if (n <= IMAP_ARGS_MAX) {
			assert_int_equal(r, IMAP_PARSE_DONE);
			assert_int_equal(cmd.n_args, n);
		} else {
			assert_int_equal(r, IMAP_PARSE_ERROR);
			assert_string_equal(error, "Too many arguments");
		}
		/* Lists count too: "(a)" is two arguments. */
		buf_reset(&in);
		assert_int_equal(buf_puts(&in, "a X"), 0);
		for (size_t i = 0; i + 2 <= n; i += 2)
			assert_int_equal(buf_puts(&in, " (a)"), 0);
		if (n % 2 == 1)
			assert_int_equal(buf_puts(&in, " a"), 0);
		assert_int_equal(buf_puts(&in, "\r\n"), 0);
		r = imap_parser_feed(p, in.data, in.len, &consumed, &cmd, &error);
		assert_int_equal(consumed, in.len);
		assert_int_equal(r, n <= IMAP_ARGS_MAX ? IMAP_PARSE_DONE :
		    IMAP_PARSE_ERROR);
		buf_release(&in);
		imap_parser_free(&p);
	}
}

static void
test_reset_and_limits(void **state)
{
	struct imap_parser *p = imap_parser_new(IMAP_LINE_MAX_PREAUTH,
	    IMAP_LITERAL_MAX_PREAUTH);
	struct imap_command cmd;
	const char *error = NULL;
	size_t consumed;
	char big[64];

	/* A partial command, then STARTTLS-style reset. */
	assert_int_equal(imap_parser_feed(p, "a LOGIN {5}\r\nal", 15, &consumed,
	    &cmd, &error), IMAP_PARSE_CONTINUE);
	assert_int_equal(consumed, 13);
	assert_int_equal(imap_parser_feed(p, "al", 2, &consumed, &cmd, &error),
	    IMAP_PARSE_MORE);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "b NOOP\r\n", 8, &consumed, &cmd,
	    &error), IMAP_PARSE_DONE);
	assert_string_equal(cmd.tag, "b");
	assert_int_equal(cmd.n_args, 0);
	/* Reset also clears must-close. */
	assert_int_equal(imap_parser_feed(p, "c X {9000+}\r\n", 13, &consumed,
	    &cmd, &error), IMAP_PARSE_ERROR);
	assert_true(imap_parser_must_close(p));
	imap_parser_reset(p);
	assert_false(imap_parser_must_close(p));
	assert_int_equal(imap_parser_feed(p, "b NOOP\r\n", 8, &consumed, &cmd,
	    &error), IMAP_PARSE_DONE);
	/* After login: bigger limits. */
	snprintf(big, sizeof(big), "c X {%d+}\r\n", IMAP_LITERAL_MAX_PREAUTH + 1);
	assert_int_equal(imap_parser_feed(p, big, strlen(big), &consumed, &cmd,
	    &error), IMAP_PARSE_ERROR);
	assert_string_equal(error, "Literal too large");
	assert_string_equal(imap_parser_error_tag(p), "c");
	imap_parser_reset(p);
	imap_parser_set_limits(p, IMAP_LINE_MAX, 1 << 20);
	assert_int_equal(imap_parser_feed(p, big, strlen(big), &consumed, &cmd,
	    &error), IMAP_PARSE_MORE);
	assert_int_equal(consumed, strlen(big));
	/* The server refuses a synchronizing literal itself: it answers the
	 * tag instead of "+" and resets; the client sends no data. */
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "d APPEND x {5}\r\ne NOOP\r\n", 24,
	    &consumed, &cmd, &error), IMAP_PARSE_CONTINUE);
	assert_int_equal(consumed, 16);
	assert_string_equal(imap_parser_error_tag(p), "d");
	imap_parser_reset(p);
	assert_null(imap_parser_error_tag(p));
	assert_int_equal(imap_parser_feed(p, "e NOOP\r\n", 8, &consumed, &cmd,
	    &error), IMAP_PARSE_DONE);
	assert_string_equal(cmd.tag, "e");
	imap_parser_free(&p);
	imap_parser_free(&p);
}

static void
test_command_lifetime(void **state)
{
	struct imap_parser *p = imap_parser_new(IMAP_LINE_MAX, 1 << 20);
	struct imap_command cmd;
	const char *error = NULL, *in = "a1 X {3+}\r\nabc\r\na2 NOOP\r\n";
	size_t consumed, off = 0;

	/* DONE takes only its command's bytes; the command stays valid until
	 * the next feed. */
	assert_int_equal(imap_parser_feed(p, in, strlen(in), &consumed, &cmd,
	    &error), IMAP_PARSE_DONE);
	assert_int_equal(consumed, 16);
	assert_string_equal(cmd.tag, "a1");
	assert_string_equal(cmd.name, "X");
	assert_int_equal(cmd.n_args, 1);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_LITERAL);
	assert_string_equal(cmd.args[0].str, "abc");
	off += consumed;
	assert_int_equal(imap_parser_feed(p, in + off, strlen(in) - off,
	    &consumed, &cmd, &error), IMAP_PARSE_DONE);
	assert_string_equal(cmd.tag, "a2");
	assert_string_equal(cmd.name, "NOOP");
	/* Feeding nothing. */
	assert_int_equal(imap_parser_feed(p, "", 0, &consumed, &cmd, &error),
	    IMAP_PARSE_MORE);
	assert_int_equal(consumed, 0);
	imap_parser_free(&p);
}

static const struct imap_arg *
parse_one(struct imap_parser *p, const char *in, size_t len,
    struct imap_command *cmd)
{
	const char *error = NULL;
	size_t consumed;

	assert_int_equal(imap_parser_feed(p, in, len, &consumed, cmd, &error),
	    IMAP_PARSE_DONE);
	assert_int_equal(consumed, len);
	return cmd->args;
}

/* in is a string literal, possibly with NULs. */
#define PARSE_ONE(p, in, cmd) parse_one((p), (in), sizeof(in) - 1, (cmd))

static void
test_arg_helpers(void **state)
{
	struct imap_parser *p = imap_parser_new(IMAP_LINE_MAX, 1000);
	struct imap_command cmd;
	const struct imap_arg *a, *list;
	const char *s;
	size_t len, n;

	a = PARSE_ONE(p, "a X atom \"q s\" {2+}\r\nli NIL (x) \\Seen\r\n", &cmd);
	assert_int_equal(cmd.n_args, 6);
	/* astring */
	assert_true(imap_arg_astring(&a[0], &s, &len));
	assert_string_equal(s, "atom");
	assert_int_equal(len, 4);
	assert_true(imap_arg_astring(&a[1], &s, &len));
	assert_string_equal(s, "q s");
	assert_true(imap_arg_astring(&a[2], &s, &len));
	assert_string_equal(s, "li");
	assert_true(imap_arg_astring(&a[3], &s, &len));
	assert_string_equal(s, "NIL");
	assert_false(imap_arg_astring(&a[4], &s, &len));
	assert_false(imap_arg_astring(NULL, &s, &len));
	/* nstring / string */
	assert_false(imap_arg_nstring(&a[0], &s, &len));
	assert_true(imap_arg_nstring(&a[1], &s, &len));
	assert_true(imap_arg_nstring(&a[2], &s, &len));
	assert_true(imap_arg_nstring(&a[3], &s, &len));
	assert_null(s);
	assert_int_equal(len, 0);
	assert_false(imap_arg_nstring(&a[4], &s, &len));
	assert_false(imap_arg_string(&a[0], &s, &len));
	assert_false(imap_arg_string(&a[3], &s, &len));
	assert_true(imap_arg_string(&a[2], &s, &len));
	/* atoms */
	assert_true(imap_arg_atom_eq(&a[0], "ATOM"));
	assert_true(imap_arg_atom_eq(&a[0], "atom"));
	assert_false(imap_arg_atom_eq(&a[0], "ato"));
	assert_false(imap_arg_atom_eq(&a[1], "q s"));
	assert_true(imap_arg_atom_eq(&a[3], "nil"));
	assert_true(imap_arg_atom_eq(&a[5], "\\SEEN"));
	assert_true(imap_arg_atom(&a[5], &s));
	assert_string_equal(s, "\\Seen");
	assert_false(imap_arg_atom(&a[1], &s));
	/* lists */
	assert_true(imap_arg_list(&a[4], &list, &n));
	assert_int_equal(n, 1);
	assert_true(imap_arg_atom_eq(&list[0], "x"));
	assert_false(imap_arg_list(&a[0], &list, &n));

	/* A NUL inside a literal: not a name or password. */
	a = PARSE_ONE(p, "a LOGIN {3+}\r\na\0b x\r\n", &cmd);
	assert_int_equal(a[0].len, 3);
	assert_false(imap_arg_astring(&a[0], &s, &len));
	assert_false(imap_arg_nstring(&a[0], &s, &len));
	assert_false(imap_arg_string(&a[0], &s, &len));
	imap_parser_free(&p);
}

static void
test_numbers(void **state)
{
	uint32_t v;
	uint64_t v64;

	assert_int_equal(imap_number_parse("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(imap_number_parse("123", 3, &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(imap_number_parse("007", 3, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(imap_number_parse("4294967294", 10, &v), 0);
	assert_int_equal(v, 4294967294u);
	assert_int_equal(imap_number_parse("4294967295", 10, &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(imap_number_parse("4294967296", 10, &v), -1);
	assert_int_equal(imap_number_parse("00000000004294967295", 20, &v), 0);
	assert_int_equal(imap_number_parse("99999999999999999999999", 23, &v), -1);
	assert_int_equal(imap_number_parse("", 0, &v), -1);
	assert_int_equal(imap_number_parse("12a", 3, &v), -1);
	assert_int_equal(imap_number_parse("-1", 2, &v), -1);
	assert_int_equal(imap_number_parse("+1", 2, &v), -1);
	assert_int_equal(imap_number_parse(" 1", 2, &v), -1);
	/* len is respected. */
	assert_int_equal(imap_number_parse("12x", 2, &v), 0);
	assert_int_equal(v, 12);

	assert_int_equal(imap_number64_parse("9223372036854775806", 19, &v64), 0);
	assert_int_equal(imap_number64_parse("9223372036854775807", 19, &v64), 0);
	assert_true(v64 == 9223372036854775807ull);
	assert_int_equal(imap_number64_parse("9223372036854775808", 19, &v64), -1);
	assert_int_equal(imap_number64_parse("18446744073709551616", 20, &v64), -1);
	assert_int_equal(imap_number64_parse("x", 1, &v64), -1);
}

static void
quote_is_len(const char *s, size_t len, const char *expected, size_t elen)
{
	struct buf out;

	buf_init(&out, 1 << 16);
	assert_int_equal(imap_quote(&out, s, len), 0);
	assert_int_equal(out.len, elen);
	assert_memory_equal(out.data, expected, out.len);
	buf_release(&out);
}

static void
quote_is(const char *s, size_t len, const char *expected)
{
	quote_is_len(s, len, expected, strlen(expected));
}

static void
astring_is(const char *s, const char *expected)
{
	struct buf out;

	buf_init(&out, 1 << 16);
	assert_int_equal(imap_write_astring(&out, s, strlen(s)), 0);
	assert_string_equal(out.data, expected);
	buf_release(&out);
}

static void
test_quote(void **state)
{
	struct buf out;
	char *s;

	quote_is("abc", 3, "\"abc\"");
	quote_is("", 0, "\"\"");
	quote_is("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	quote_is("\"\\", 2, "\"\\\"\\\\\"");
	quote_is(NULL, 0, "NIL");
	quote_is("a\r\nb", 4, "{4}\r\na\r\nb");
	quote_is_len("a\0b", 3, "{3}\r\na\0b", 8);
	quote_is("Gr\xc3\xb6", 4, "{4}\r\nGr\xc3\xb6");
	/* IMAP_QUOTED_OUT_MAX and one more. */
	s = repeat('x', IMAP_QUOTED_OUT_MAX + 1);
	buf_init(&out, 1 << 16);
	assert_int_equal(imap_quote(&out, s, IMAP_QUOTED_OUT_MAX - 1), 0);
	assert_int_equal(out.len, IMAP_QUOTED_OUT_MAX + 1);
	buf_reset(&out);
	assert_int_equal(imap_quote(&out, s, IMAP_QUOTED_OUT_MAX), 0);
	assert_int_equal(out.len, IMAP_QUOTED_OUT_MAX + 2);
	assert_int_equal(out.data[0], '"');
	buf_reset(&out);
	assert_int_equal(imap_quote(&out, s, IMAP_QUOTED_OUT_MAX + 1), 0);
	assert_int_equal(strncmp(out.data, "{1025}\r\nxx", 10), 0);
	buf_release(&out);
	free(s);

	astring_is("INBOX", "INBOX");
	astring_is("[Gmail]/Sent", "\"[Gmail]/Sent\"");
	astring_is("a]", "a]");
	astring_is("a b", "\"a b\"");
	astring_is("", "\"\"");
	astring_is("nil", "\"nil\"");
	astring_is("NILS", "NILS");
	astring_is("foo%", "\"foo%\"");
	astring_is("a*", "\"a*\"");
	astring_is("a(b", "\"a(b\"");
	astring_is("a{b", "\"a{b\"");
	astring_is("\\x", "\"\\\\x\"");

	/* A full buffer fails and is left as it was. */
	buf_init(&out, 8);
	assert_int_equal(buf_puts(&out, "* "), 0);
	assert_int_equal(imap_quote(&out, "abcdef", 6), -1);
	assert_string_equal(out.data, "* ");
	assert_int_equal(imap_quote(&out, "a\rbcdef", 7), -1);
	assert_string_equal(out.data, "* ");
	assert_int_equal(imap_quote(&out, "a\"cd", 4), -1);
	assert_string_equal(out.data, "* ");
	assert_int_equal(imap_write_astring(&out, "abcdefgh", 8), -1);
	assert_string_equal(out.data, "* ");
	assert_int_equal(imap_quote(&out, "abc", 3), 0);
	assert_string_equal(out.data, "* \"abc\"");
	buf_release(&out);
}

static int
seqset(const char *s, struct pool *pool, struct imap_seqset *set)
{
	const char *error = NULL;
	int ret = imap_seqset_parse(s, strlen(s), pool, set, &error);

	if (ret < 0)
		assert_non_null(error);
	return ret;
}

static void
test_seqset(void **state)
{
	struct pool *pool = pool_new(4096);
	struct imap_seqset set;
	static const char *const bad[] = {
		"", "0", "0:5", "5:0", ",", "1,", ",1", "1,,2", "1:", ":1",
		"1::2", "1:2:3", "a", "1a", " 1", "1 ", "-1", "+1", "**",
		"4294967296", "1:4294967296", "$,1", "1,$", "$$", "1.5",
	};

	assert_int_equal(seqset("1", pool, &set), 0);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.ranges[0].lo, 1);
	assert_int_equal(set.ranges[0].hi, 1);
	assert_false(set.has_star);
	assert_false(set.saved);

	assert_int_equal(seqset("5:1", pool, &set), 0);
	assert_int_equal(set.ranges[0].lo, 1);
	assert_int_equal(set.ranges[0].hi, 5);

	assert_int_equal(seqset("1:5,7,9:*,*:3,*", pool, &set), 0);
	assert_int_equal(set.n, 5);
	assert_true(set.has_star);
	assert_int_equal(set.ranges[2].lo, 9);
	assert_int_equal(set.ranges[2].hi, UINT32_MAX);
	assert_int_equal(set.ranges[3].lo, 3);
	assert_int_equal(set.ranges[3].hi, UINT32_MAX);
	assert_int_equal(set.ranges[4].lo, UINT32_MAX);

	assert_int_equal(seqset("4294967295", pool, &set), 0);
	assert_int_equal(seqset("01:002", pool, &set), 0);
	assert_int_equal(set.ranges[0].hi, 2);

	assert_int_equal(seqset("$", pool, &set), 0);
	assert_true(set.saved);
	assert_int_equal(set.n, 0);
	assert_false(imap_seqset_contains(&set, 1, 10));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (seqset(bad[i], pool, &set) == 0)
			fail_msg("accepted \"%s\"", bad[i]);

	/* contains, with '*' standing for star_value. */
	assert_int_equal(seqset("2:4,10,20:*", pool, &set), 0);
	assert_false(imap_seqset_contains(&set, 1, 30));
	assert_true(imap_seqset_contains(&set, 2, 30));
	assert_true(imap_seqset_contains(&set, 4, 30));
	assert_false(imap_seqset_contains(&set, 5, 30));
	assert_true(imap_seqset_contains(&set, 10, 30));
	assert_true(imap_seqset_contains(&set, 25, 30));
	assert_true(imap_seqset_contains(&set, 30, 30));
	assert_false(imap_seqset_contains(&set, 31, 30));
	/* "20:*" with star 15 is 15:20 (RFC 9051 9). */
	assert_true(imap_seqset_contains(&set, 15, 15));
	assert_true(imap_seqset_contains(&set, 18, 15));
	assert_false(imap_seqset_contains(&set, 14, 15));
	assert_int_equal(seqset("*", pool, &set), 0);
	assert_true(imap_seqset_contains(&set, 7, 7));
	assert_false(imap_seqset_contains(&set, 6, 7));

	/* IMAP_SEQSET_RANGES_MAX - 1, max, max + 1 */
	for (size_t n = IMAP_SEQSET_RANGES_MAX - 1;
	    n <= IMAP_SEQSET_RANGES_MAX + 1; n++) {
		struct buf b;

		buf_init(&b, 1 << 20);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_printf(&b, "%s%zu", i ? "," : "",
			    i + 1), 0);
		assert_int_equal(seqset(b.data, pool, &set),
		    n <= IMAP_SEQSET_RANGES_MAX ? 0 : -1);
		if (n <= IMAP_SEQSET_RANGES_MAX) {
			assert_int_equal(set.n, n);
			assert_true(imap_seqset_contains(&set, (uint32_t)n, 1));
		}
		buf_release(&b);
	}
	pool_free(&pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_simple, setup),
		cmocka_unit_test_setup(test_lenient_spaces, setup),
		cmocka_unit_test_setup(test_tag_errors, setup),
		cmocka_unit_test_setup(test_quoted, setup),
		cmocka_unit_test_setup(test_quoted_utf8, setup),
		cmocka_unit_test_setup(test_literals, setup),
		cmocka_unit_test_setup(test_literal_limits, setup),
		cmocka_unit_test_setup(test_lists, setup),
		cmocka_unit_test_setup(test_list_depth, setup),
		cmocka_unit_test_setup(test_bracket_atoms, setup),
		cmocka_unit_test_setup(test_line_too_long, setup),
		cmocka_unit_test_setup(test_error_recovery, setup),
		cmocka_unit_test_setup(test_args_limit, setup),
		cmocka_unit_test(test_reset_and_limits),
		cmocka_unit_test(test_command_lifetime),
		cmocka_unit_test(test_arg_helpers),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_seqset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
