/*
 * test_authlimit.c - failed logins per address and per account
 * (core/authlimit.h): the doubling delay and its cap, the address ban at
 * max_failures-1/max/max+1 and its end, the account ban from many
 * addresses, its end, its owner's networks that still get in, that guesses
 * do not prolong it, IPv6 /64 counting, user names compared without case,
 * and hostile churn of addresses and user names (bounded tables).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "core/authlimit.h"

static struct sockaddr_storage
test_addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
	}
	return ss;
}

static unsigned
test_fail(struct authlimit *a, const char *addr, const char *user, time_t now)
{
	struct sockaddr_storage ss = test_addr(addr);

	return authlimit_fail(a, (struct sockaddr *)&ss, user, now);
}

static unsigned
test_check(struct authlimit *a, const char *addr, const char *user,
    time_t now, enum authlimit_scope *scope_r)
{
	struct sockaddr_storage ss = test_addr(addr);

	return authlimit_check(a, (struct sockaddr *)&ss, user, now, scope_r);
}

static void
test_success(struct authlimit *a, const char *addr, const char *user,
    time_t now)
{
	struct sockaddr_storage ss = test_addr(addr);

	authlimit_success(a, (struct sockaddr *)&ss, user, now);
}

static void
test_delay_doubles_to_cap(void **state)
{
	struct authlimit_config cfg = { .max_failures = 100, .block_time = 600,
	    .failure_delay = 2, .max_delay = 30, .user_max_failures = 0,
	    .user_block_time = 600 };
	struct authlimit *a = authlimit_new(&cfg);
	unsigned want[] = { 2, 4, 8, 16, 30, 30, 30 };

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(test_fail(a, "192.0.2.1", "bob", 1000), want[i]);
	/* a success forgets the address's failures */
	test_success(a, "192.0.2.1", "bob", 1000);
	assert_int_equal(test_fail(a, "192.0.2.1", "bob", 1000), 2);
	/* many failures: no overflow, still the cap */
	for (int i = 0; i < 80; i++)
		assert_true(test_fail(a, "192.0.2.1", "x", 1000) <= 30);
	assert_int_equal(test_fail(a, "192.0.2.1", "x", 1000), 30);
	/* delay 0: no delay at all */
	authlimit_free(&a);
	assert_null(a);
	cfg.failure_delay = 0;
	cfg.max_delay = 0;
	a = authlimit_new(&cfg);
	assert_int_equal(test_fail(a, "192.0.2.1", "x", 1000), 0);
	assert_int_equal(test_fail(a, "192.0.2.1", "x", 1000), 0);
	authlimit_free(&a);
}

static void
test_ip_ban_at_max(void **state)
{
	struct authlimit_config cfg = { .max_failures = 3, .block_time = 60,
	    .failure_delay = 1, .max_delay = 4 };
	struct authlimit *a = authlimit_new(&cfg);
	enum authlimit_scope scope;

	/* max-1 failures: may still try */
	test_fail(a, "192.0.2.5", "alice", 100);
	test_fail(a, "192.0.2.5", "bob", 100);
	assert_int_equal(test_check(a, "192.0.2.5", "alice", 100, &scope), 0);
	assert_int_equal(scope, AUTHLIMIT_NONE);
	/* max: banned, whatever the user */
	test_fail(a, "192.0.2.5", "carol", 101);
	assert_int_equal(test_check(a, "192.0.2.5", "dave", 101, &scope), 60);
	assert_int_equal(scope, AUTHLIMIT_IP);
	assert_int_equal(test_check(a, "192.0.2.5", NULL, 131, NULL), 30);
	/* other addresses are not */
	assert_int_equal(test_check(a, "192.0.2.6", "dave", 101, &scope), 0);
	/* max+1 (a guess that was in flight) prolongs an address's ban */
	test_fail(a, "192.0.2.5", "carol", 110);
	assert_int_equal(test_check(a, "192.0.2.5", NULL, 110, NULL), 60);
	/* and it ends */
	assert_int_equal(test_check(a, "192.0.2.5", NULL, 170, NULL), 0);
	/* after the ban, a new window: one failure is not a ban */
	test_fail(a, "192.0.2.5", "carol", 171);
	assert_int_equal(test_check(a, "192.0.2.5", NULL, 171, NULL), 0);
	authlimit_free(&a);
}

static void
test_window_expires(void **state)
{
	struct authlimit_config cfg = { .max_failures = 3, .block_time = 60,
	    .failure_delay = 1, .max_delay = 8 };
	struct authlimit *a = authlimit_new(&cfg);

	test_fail(a, "192.0.2.7", "u", 100);
	assert_int_equal(test_fail(a, "192.0.2.7", "u", 120), 2);
	assert_int_equal(authlimit_live(a, 150), 1);
	/* block_time after the first failure, the count starts again */
	assert_int_equal(authlimit_live(a, 160), 0);
	assert_int_equal(test_fail(a, "192.0.2.7", "u", 161), 1);
	assert_int_equal(test_fail(a, "192.0.2.7", "u", 162), 2);
	assert_int_equal(test_check(a, "192.0.2.7", NULL, 162, NULL), 0);
	authlimit_free(&a);
}

static void
test_ipv6_counted_by_64(void **state)
{
	struct authlimit_config cfg = { .max_failures = 2, .block_time = 60 };
	struct authlimit *a = authlimit_new(&cfg);

	test_fail(a, "2001:db8:1:2::1", "u", 10);
	test_fail(a, "2001:db8:1:2:ffff::9", "u", 10);
	assert_int_not_equal(test_check(a, "2001:db8:1:2::77", NULL, 10,
	    NULL), 0);
	assert_int_equal(test_check(a, "2001:db8:1:3::1", NULL, 10, NULL), 0);
	/* v4-mapped is the IPv4 address */
	test_fail(a, "198.51.100.1", "u", 10);
	test_fail(a, "::ffff:198.51.100.1", "u", 10);
	assert_int_not_equal(test_check(a, "198.51.100.1", NULL, 10, NULL), 0);
	assert_int_equal(test_check(a, "198.51.100.2", NULL, 10, NULL), 0);
	authlimit_free(&a);
}

static void
test_user_ban_from_many_addresses(void **state)
{
	struct authlimit_config cfg = { .max_failures = 5, .block_time = 600,
	    .failure_delay = 1, .max_delay = 64, .user_max_failures = 4,
	    .user_block_time = 300 };
	struct authlimit *a = authlimit_new(&cfg);
	enum authlimit_scope scope;
	char addr[32];

	/* max-1 failures from max-1 addresses: not banned */
	for (int i = 0; i < 3; i++) {
		(void)snprintf(addr, sizeof(addr), "203.0.%d.1", i);
		test_fail(a, addr, "Alice@Example.TEST", 1000);
	}
	assert_int_equal(test_check(a, "203.0.99.1", "alice@example.test",
	    1000, &scope), 0);
	/* the delay grows with the account's failures, from any address */
	assert_int_equal(test_fail(a, "203.0.50.1", "alice@example.test",
	    1000), 8);
	/* max: banned from everywhere, without regard to case */
	assert_int_equal(test_check(a, "203.0.99.1", "ALICE@example.test",
	    1001, &scope), 299);
	assert_int_equal(scope, AUTHLIMIT_USER);
	/* only that account */
	assert_int_equal(test_check(a, "203.0.99.1", "bob@example.test",
	    1001, &scope), 0);
	/* no user: the address only */
	assert_int_equal(test_check(a, "203.0.99.1", NULL, 1001, &scope), 0);
	assert_int_equal(test_check(a, "203.0.99.1", "", 1001, &scope), 0);
	/* guesses during the ban do not prolong it */
	for (int i = 0; i < 20; i++) {
		(void)snprintf(addr, sizeof(addr), "198.18.%d.1", i);
		test_fail(a, addr, "alice@example.test", 1200);
	}
	assert_int_equal(test_check(a, "203.0.99.1", "alice@example.test",
	    1299, &scope), 1);
	/* it ends */
	assert_int_equal(test_check(a, "203.0.99.1", "alice@example.test",
	    1300, &scope), 0);
	authlimit_free(&a);
}

static void
test_user_ban_spares_owner_networks(void **state)
{
	struct authlimit_config cfg = { .max_failures = 50, .block_time = 600,
	    .user_max_failures = 3, .user_block_time = 300 };
	struct authlimit *a = authlimit_new(&cfg);
	enum authlimit_scope scope;

	/* the owner logs in from home (a /24) and from work (a /48) */
	test_success(a, "192.0.2.10", "alice", 10);
	test_success(a, "2001:db8:aaaa:1::5", "alice", 20);
	/* a botnet guesses */
	test_fail(a, "198.51.100.1", "alice", 30);
	test_fail(a, "198.51.101.1", "alice", 30);
	test_fail(a, "198.51.102.1", "alice", 30);
	assert_int_not_equal(test_check(a, "198.51.103.1", "alice", 31,
	    &scope), 0);
	assert_int_equal(scope, AUTHLIMIT_USER);
	/* home, another address of the same /24: still in */
	assert_int_equal(test_check(a, "192.0.2.99", "alice", 31, &scope), 0);
	/* work, another /64 of the same /48: still in */
	assert_int_equal(test_check(a, "2001:db8:aaaa:ff::1", "alice", 31,
	    &scope), 0);
	/* a new network waits for the end */
	assert_int_not_equal(test_check(a, "192.0.3.1", "alice", 31, &scope),
	    0);
	/* the owner's success does not lift the ban for the others */
	test_success(a, "192.0.2.10", "alice", 40);
	assert_int_not_equal(test_check(a, "198.51.103.1", "alice", 41,
	    &scope), 0);
	/* a third network replaces the oldest */
	test_success(a, "203.0.113.1", "alice", 50);
	assert_int_equal(test_check(a, "203.0.113.200", "alice", 51, &scope),
	    0);
	assert_int_equal(test_check(a, "192.0.2.10", "alice", 51, &scope), 0);
	assert_int_not_equal(test_check(a, "2001:db8:aaaa:1::5", "alice", 51,
	    &scope), 0);
	authlimit_free(&a);
}

static void
test_user_off(void **state)
{
	struct authlimit_config cfg = { .max_failures = 1000, .block_time = 60,
	    .user_max_failures = 0, .user_block_time = 60 };
	struct authlimit *a = authlimit_new(&cfg);
	char addr[32];

	for (int i = 0; i < 200; i++) {
		(void)snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 200, i % 200);
		test_fail(a, addr, "alice", 5);
	}
	assert_int_equal(test_check(a, "10.9.9.9", "alice", 5, NULL), 0);
	/* and a success remembers nothing for the account */
	test_success(a, "10.9.9.9", "alice", 6);
	assert_int_equal(authlimit_live(a, 6), 200);
	authlimit_free(&a);
}

static void
test_churn_bounded(void **state)
{
	struct authlimit_config cfg = { .max_failures = 3, .block_time = 600,
	    .failure_delay = 1, .max_delay = 8, .user_max_failures = 3,
	    .user_block_time = 600 };
	struct authlimit *a = authlimit_new(&cfg);
	struct sockaddr_storage ss;
	char user[32];

	/* a banned address and an account its owner logs in to */
	test_fail(a, "192.0.2.1", "x", 1);
	test_fail(a, "192.0.2.1", "x", 1);
	test_fail(a, "192.0.2.1", "x", 1);
	test_success(a, "203.0.113.5", "owner", 1);
	/* then a flood: 8x the table of addresses and of user names */
	for (uint32_t i = 0; i < 8u * AUTHLIMIT_ENTRIES; i++) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		memset(&ss, 0, sizeof(ss));
		in6->sin6_family = AF_INET6;
		in6->sin6_addr.s6_addr[0] = 0x20;
		memcpy(in6->sin6_addr.s6_addr + 4, &i, sizeof(i));
		(void)snprintf(user, sizeof(user), "u%u", i);
		(void)authlimit_fail(a, (struct sockaddr *)&ss, user, 2);
	}
	/* memory is fixed: no more live entries than slots */
	assert_true(authlimit_live(a, 2) <= 2 * AUTHLIMIT_ENTRIES);
	/* banned entries are the last to be reused: the ban held */
	assert_int_not_equal(test_check(a, "192.0.2.1", NULL, 3, NULL), 0);
	/* everything ends: a block_time later nothing is live but the
	 * owner's network memory */
	assert_true(authlimit_live(a, 700) <= 1);
	authlimit_free(&a);
}

static void
test_loopback(void **state)
{
	struct sockaddr_storage a = test_addr("127.1.2.3");
	struct sockaddr_storage b = test_addr("::1");
	struct sockaddr_storage c = test_addr("::ffff:127.0.0.1");
	struct sockaddr_storage d = test_addr("192.0.2.1");

	assert_true(authlimit_is_loopback((struct sockaddr *)&a));
	assert_true(authlimit_is_loopback((struct sockaddr *)&b));
	assert_true(authlimit_is_loopback((struct sockaddr *)&c));
	assert_false(authlimit_is_loopback((struct sockaddr *)&d));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_doubles_to_cap),
		cmocka_unit_test(test_ip_ban_at_max),
		cmocka_unit_test(test_window_expires),
		cmocka_unit_test(test_ipv6_counted_by_64),
		cmocka_unit_test(test_user_ban_from_many_addresses),
		cmocka_unit_test(test_user_ban_spares_owner_networks),
		cmocka_unit_test(test_user_off),
		cmocka_unit_test(test_churn_bounded),
		cmocka_unit_test(test_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
