/*
 * test_line.c - the bounded line finder, whole and one byte at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "core/line.h"

static void
test_line_whole(void **state)
{
	struct evbuffer *in = evbuffer_new();
	size_t scanned = 0, len = 0;

	evbuffer_add(in, "EHLO x\r\nNOOP\r\n", 14);
	assert_int_equal(line_next(in, 512, &scanned, &len), LINE_OK);
	assert_int_equal(len, 8);
	evbuffer_drain(in, len);
	assert_int_equal(line_next(in, 512, &scanned, &len), LINE_OK);
	assert_int_equal(len, 6);
	evbuffer_drain(in, len);
	assert_int_equal(line_next(in, 512, &scanned, &len), LINE_MORE);
	evbuffer_free(in);
}

static void
test_line_bytewise(void **state)
{
	const char *msg = "MAIL FROM:<a@b>\r\n";
	struct evbuffer *in = evbuffer_new();
	size_t scanned = 0, len = 0, n = strlen(msg);

	for (size_t i = 0; i < n - 1; i++) {
		evbuffer_add(in, msg + i, 1);
		assert_int_equal(line_next(in, 512, &scanned, &len), LINE_MORE);
		/* Never rescans: the position follows the data. */
		assert_int_equal(scanned, i + 1);
	}
	evbuffer_add(in, msg + n - 1, 1);
	assert_int_equal(line_next(in, 512, &scanned, &len), LINE_OK);
	assert_int_equal(len, n);
	assert_int_equal(scanned, 0);
	evbuffer_free(in);
}

/* max includes the LF: a line of exactly max bytes is fine. */
static void
test_line_limits(void **state)
{
	char line[20];
	struct evbuffer *in;
	size_t scanned, len;

	for (size_t total = 9; total <= 11; total++) {	/* max-1, max, max+1 */
		memset(line, 'a', sizeof(line));
		line[total - 1] = '\n';
		in = evbuffer_new();
		scanned = 0;
		evbuffer_add(in, line, total);
		if (total <= 10) {
			assert_int_equal(line_next(in, 10, &scanned, &len), LINE_OK);
			assert_int_equal(len, total);
		} else {
			assert_int_equal(line_next(in, 10, &scanned, &len), LINE_TOO_LONG);
			/* The tail of the long line can be skipped. */
			evbuffer_drain(in, 10);
			assert_int_equal(line_skip(in), 1);
			assert_int_equal(evbuffer_get_length(in), 0);
		}
		evbuffer_free(in);
	}
	/* Too long is reported before a line ends, as data arrives. */
	in = evbuffer_new();
	scanned = 0;
	for (int i = 0; i < 9; i++) {
		evbuffer_add(in, "x", 1);
		assert_int_equal(line_next(in, 10, &scanned, &len), LINE_MORE);
	}
	evbuffer_add(in, "x", 1);
	assert_int_equal(line_next(in, 10, &scanned, &len), LINE_TOO_LONG);
	assert_int_equal(line_skip(in), 0);
	evbuffer_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_whole),
		cmocka_unit_test(test_line_bytewise),
		cmocka_unit_test(test_line_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
