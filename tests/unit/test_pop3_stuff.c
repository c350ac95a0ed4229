/*
 * test_pop3_stuff.c - RETR and TOP output (pop3/pop3-stuff.h): CRLF line
 * ends for bare LF, byte-stuffing, the end line, TOP's line count; each
 * case fed whole, one byte at a time, and in random pieces, and random
 * messages checked against a byte-by-byte reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pop3/pop3-stuff.h"

#define TEST_MAX 4096

/* Runs the transform over in, fed in pieces of `step` bytes (0: random
 * sizes), into out; returns the output length. */
static size_t
test_stuff(const char *in, size_t len, bool top, uint32_t lines,
    size_t step, char *out)
{
	struct pop3_stuff st;
	size_t pos = 0, o = 0;

	pop3_stuff_init(&st, top, lines);
	while (pos < len && !pop3_stuff_done(&st)) {
		size_t n = step != 0 ? step : 1 + (size_t)rand() % 7;
		size_t used, w;

		if (n > len - pos)
			n = len - pos;
		w = pop3_stuff_feed(&st, in + pos, n, out + o, &used);
		assert_true(w <= POP3_STUFF_OUT_MAX(n));
		assert_true(used <= n);
		if (used < n)
			assert_true(pop3_stuff_done(&st));
		o += w;
		pos += used;
	}
	o += pop3_stuff_end(&st, out + o);
	return o;
}

/* The expected output, the same whatever the pieces. */
static void
test_case_n(const char *in, size_t len, bool top, uint32_t lines,
    const char *want, size_t want_len)
{
	static const size_t steps[] = { 1, 2, 3, 7, 4096, 0, 0, 0 };
	char out[2 * TEST_MAX + POP3_STUFF_END_MAX];

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t n = test_stuff(in, len, top, lines, steps[i], out);

		if (n != want_len || memcmp(out, want, n) != 0)
			fail_msg("step %zu: got \"%.*s\" want \"%s\"",
			    steps[i], (int)n, out, want);
	}
}

static void
test_case(const char *in, size_t len, bool top, uint32_t lines,
    const char *want)
{
	test_case_n(in, len, top, lines, want, strlen(want));
}

#define RETR(in, want) test_case(in, sizeof(in) - 1, false, 0, want)
#define TOP(in, n, want) test_case(in, sizeof(in) - 1, true, n, want)

static void
test_retr(void **state)
{
	RETR("", ".\r\n");
	RETR("a\r\nb\r\n", "a\r\nb\r\n.\r\n");
	RETR("Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n");
	/* bare LF becomes CRLF; a missing last line end is added */
	RETR("a\nb", "a\r\nb\r\n.\r\n");
	RETR("a\n\nb\n", "a\r\n\r\nb\r\n.\r\n");
	RETR("\n", "\r\n.\r\n");
	RETR("no line end", "no line end\r\n.\r\n");
	/* byte-stuffing (RFC 1939 3) */
	RETR(".", "..\r\n.\r\n");
	RETR(".\r\n", "..\r\n.\r\n");
	RETR(".\n", "..\r\n.\r\n");
	RETR("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n");
	RETR("..x\r\n.y\n", "...x\r\n..y\r\n.\r\n");
	RETR("a.b\r\n .c\r\n", "a.b\r\n .c\r\n.\r\n");
	RETR("x\n.\n.\n", "x\r\n..\r\n..\r\n.\r\n");
	/* a bare CR is not a line end: sent as it is */
	RETR("a\rb\r\n", "a\rb\r\n.\r\n");
	RETR("a\r.b\r\n", "a\r.b\r\n.\r\n");
	RETR("a\r", "a\r\n.\r\n");
	RETR("\r\r\n", "\r\r\n.\r\n");
	/* NULs and 8-bit bytes pass */
	test_case_n("a\0b\xff\n", 5, false, 0, "a\0b\xff\r\n.\r\n", 9);
}

static void
test_top(void **state)
{
	const char *m = "H: 1\r\nH2: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n";

	test_case(m, strlen(m), true, 0, "H: 1\r\nH2: 2\r\n\r\n.\r\n");
	test_case(m, strlen(m), true, 1, "H: 1\r\nH2: 2\r\n\r\nl1\r\n.\r\n");
	test_case(m, strlen(m), true, 2,
	    "H: 1\r\nH2: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
	/* more lines than the body has: the whole message */
	test_case(m, strlen(m), true, 3,
	    "H: 1\r\nH2: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	test_case(m, strlen(m), true, 4294967295u,
	    "H: 1\r\nH2: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	TOP("H: 1\n\nl1\nl2\n", 1, "H: 1\r\n\r\nl1\r\n.\r\n");
	/* no empty line: all of it is header */
	TOP("H: 1\r\nH: 2\r\n", 0, "H: 1\r\nH: 2\r\n.\r\n");
	TOP("H: 1", 0, "H: 1\r\n.\r\n");
	/* the header of an empty-header message is the empty line */
	TOP("\r\nbody\r\nmore\r\n", 1, "\r\nbody\r\n.\r\n");
	/* a line of only a CR before the LF is empty; two CRs are not */
	TOP("H: 1\r\r\n\r\nb\r\n", 0, "H: 1\r\r\n\r\n.\r\n");
	TOP("H: 1\r\n\r\r\nb\r\n\r\nc\r\n", 0,
	    "H: 1\r\n\r\r\nb\r\n\r\n.\r\n");
	/* the last body line without a line end */
	TOP("H: 1\r\n\r\nlast", 5, "H: 1\r\n\r\nlast\r\n.\r\n");
}

/* A byte-at-a-time reference of the same rules. */
static size_t
test_reference(const char *in, size_t len, char *out)
{
	size_t o = 0;
	bool bol = true;

	for (size_t i = 0; i < len; i++) {
		if (bol && in[i] == '.')
			out[o++] = '.';
		bol = false;
		if (in[i] == '\n') {
			if (i == 0 || in[i - 1] != '\r')
				out[o++] = '\r';
			bol = true;
		}
		out[o++] = in[i];
	}
	if (!bol) {
		if (in[len - 1] != '\r')
			out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

static void
test_random(void **state)
{
	static const char alphabet[] = "..\r\n\n\nab \0";
	char in[256], want[2 * 256 + 8], got[2 * 256 + 8];

	srand(1939);
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)rand() % sizeof(in);
		size_t nw, ng;

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rand() % (sizeof(alphabet) - 1)];
		nw = test_reference(in, len, want);
		ng = test_stuff(in, len, false, 0, (size_t)(round % 5), got);
		assert_int_equal(ng, nw);
		assert_memory_equal(got, want, nw);
		/* the end line appears once, at the end */
		for (size_t i = 0; i + 5 < ng; i++)
			assert_false(memcmp(got + i, "\r\n.\r\n", 5) == 0);
	}
}

/* Worst case growth: every byte a LF or a stuffed dot. */
static void
test_growth(void **state)
{
	char in[TEST_MAX], out[2 * TEST_MAX + POP3_STUFF_END_MAX];
	struct pop3_stuff st;
	size_t used, n;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = i % 2 == 0 ? '.' : '\n';
	pop3_stuff_init(&st, false, 0);
	n = pop3_stuff_feed(&st, in, sizeof(in), out, &used);
	assert_int_equal(used, sizeof(in));
	assert_int_equal(n, POP3_STUFF_OUT_MAX(sizeof(in)));
	memset(in, '\n', sizeof(in));
	pop3_stuff_init(&st, false, 0);
	n = pop3_stuff_feed(&st, in, sizeof(in), out, &used);
	assert_int_equal(n, POP3_STUFF_OUT_MAX(sizeof(in)));
	assert_int_equal(pop3_stuff_end(&st, out), 3);
	/* an unfinished last line: the end is at its longest */
	pop3_stuff_init(&st, false, 0);
	(void)pop3_stuff_feed(&st, "x", 1, out, &used);
	assert_int_equal(pop3_stuff_end(&st, out), POP3_STUFF_END_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retr),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
