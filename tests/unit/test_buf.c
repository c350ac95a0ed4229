/*
 * test_buf.c - the bounded buffer and the arena.
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
#include "core/log.h"
#include "core/pool.h"

static void
test_buf_append_limits(void **state)
{
	struct buf b;

	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "123456789", 9), 0);	/* max-1 */
	assert_int_equal(buf_append(&b, "0", 1), 0);		/* max */
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "1234567890");
	assert_int_equal(buf_append(&b, "x", 1), -1);		/* max+1 */
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "1234567890");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "abc"), 0);
	assert_string_equal(b.data, "42-abc");
	assert_int_equal(buf_printf(&b, "%s", "too long"), -1);
	assert_string_equal(b.data, "42-abc");
	buf_release(&b);
}

static void
test_buf_grow_binary(void **state)
{
	struct buf b;
	char chunk[1000];
	size_t len;
	char *d;

	memset(chunk, 0, sizeof(chunk));
	chunk[500] = 'x';
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.data[99500], 'x');
	d = buf_steal(&b, &len);
	assert_int_equal(len, 100000);
	assert_null(b.data);
	free(d);
}

/* buf_cap_after predicts exactly what an append allocates. */
static void
test_buf_cap_after(void **state)
{
	struct buf b;
	char chunk[700];

	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 5000);
	for (int i = 0; i < 7; i++) {
		size_t predicted = buf_cap_after(&b, sizeof(chunk));

		assert_true(predicted >= b.len + sizeof(chunk));
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
		assert_int_equal(b.cap, predicted);
	}
	/* Growth stops at max. */
	assert_int_equal(b.cap, 5000);
	assert_int_equal(buf_cap_after(&b, 100), 5000);
	buf_release(&b);
}

static void
test_buf_put_uint(void **state)
{
	const uint64_t v[] = { 0, 7, 10, 4294967295u, UINT64_MAX };
	struct buf b, small;
	char want[32];

	(void)state;
	buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf_reset(&b);
		assert_int_equal(buf_put_uint(&b, v[i]), 0);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
		assert_int_equal(b.len, strlen(want));
		assert_memory_equal(b.data, want, b.len);
	}
	buf_release(&b);
	/* over max: nothing added */
	buf_init(&small, 3);
	assert_int_equal(buf_put_uint(&small, 12), 0);
	assert_int_equal(buf_put_uint(&small, 345), -1);
	assert_int_equal(small.len, 2);
	buf_release(&small);
}

static void
test_pool(void **state)
{
	struct pool *p = pool_new(256);
	char *big, *s;

	s = pool_strdup(p, "hello");
	assert_string_equal(s, "hello");
	for (int i = 0; i < 1000; i++) {
		char *x = pool_printf(p, "n=%d", i);

		assert_string_equal(x, pool_printf(p, "n=%d", i));
		assert_true(((uintptr_t)pool_alloc(p, 3) % 8) == 0);
	}
	big = pool_alloc(p, 100000);
	assert_int_equal(big[99999], 0);
	assert_string_equal(s, "hello");
	pool_clear(p);
	s = pool_strndup(p, "abcdef", 3);
	assert_string_equal(s, "abc");
	pool_free(&p);
	assert_null(p);
}

static void
test_log_escape(void **state)
{
	char out[16];

	assert_string_equal(log_escape(out, sizeof(out), "ab\r\n\"c", 6),
	    "ab\\x0d\\x0a...");
	assert_string_equal(log_escape(out, sizeof(out), "plain", 5), "plain");
	assert_string_equal(log_escape(out, sizeof(out), "0123456789abcdefgh", 18),
	    "0123456789ab...");
	assert_true(strlen(out) < sizeof(out));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_limits),
		cmocka_unit_test(test_buf_grow_binary),
		cmocka_unit_test(test_buf_cap_after),
		cmocka_unit_test(test_buf_put_uint),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_log_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
