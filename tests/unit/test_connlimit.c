/*
 * test_connlimit.c - connections per address and network (core/connlimit.h)
 * and the GCRA table under it (core/ratelimit.h): each limit at max-1,
 * max and max+1, release, expiry, the /24, /48 and /64 masks, v4-mapped
 * peers, loopback, and hostile churn of many addresses (the tables stay
 * bounded and forget, they never grow).
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

#include "core/connlimit.h"
#include "core/ratelimit.h"

#define MIN_MS (60 * 1000)

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

#define SA(ss) ((const struct sockaddr *)&(ss))

static enum connlimit_verdict
test_acquire(struct connlimit *cl, const char *addr, uint64_t now,
    struct connlimit_ticket *t)
{
	struct sockaddr_storage ss = test_addr(addr);

	return connlimit_acquire(cl, SA(ss), now, t);
}

static void
test_release(struct connlimit *cl, const char *addr,
    struct connlimit_ticket *t)
{
	struct sockaddr_storage ss = test_addr(addr);

	connlimit_release(cl, SA(ss), t);
}

/* --- ratelimit --- */

static void
test_rate_burst_then_steady(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	uint64_t now = 1000000;

	/* limit 10 per minute: 10 at once (max-1 and max pass), not 11 */
	for (int i = 0; i < 10; i++)
		assert_true(ratelimit_take(rl, 1, "k", 1, 10, MIN_MS, now));
	assert_false(ratelimit_would_allow(rl, 1, "k", 1, 10, MIN_MS, now));
	assert_false(ratelimit_take(rl, 1, "k", 1, 10, MIN_MS, now));
	/* a refusal is not counted: after one interval (6 s), one more */
	assert_false(ratelimit_take(rl, 1, "k", 1, 10, MIN_MS, now + 5999));
	assert_true(ratelimit_take(rl, 1, "k", 1, 10, MIN_MS, now + 6000));
	assert_false(ratelimit_take(rl, 1, "k", 1, 10, MIN_MS, now + 6000));
	/* other keys and other kinds are apart */
	assert_true(ratelimit_take(rl, 1, "j", 1, 10, MIN_MS, now));
	assert_true(ratelimit_take(rl, 2, "k", 1, 10, MIN_MS, now));
	/* limit 0: no limit, nothing stored */
	for (int i = 0; i < 100; i++)
		assert_true(ratelimit_take(rl, 3, "z", 1, 0, MIN_MS, now));
	ratelimit_free(&rl);
	assert_null(rl);
}

static void
test_rate_expires(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	uint64_t now = 5000;

	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(rl, 1, "abc", 3, 3, MIN_MS, now));
	assert_int_equal(ratelimit_live(rl, now), 1);
	/* a full period later the cell holds nothing: the burst is back */
	assert_int_equal(ratelimit_live(rl, now + MIN_MS), 0);
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(rl, 1, "abc", 3, 3, MIN_MS,
		    now + MIN_MS));
	assert_false(ratelimit_take(rl, 1, "abc", 3, 3, MIN_MS, now + MIN_MS));
	/* limit 1: one per period */
	assert_true(ratelimit_take(rl, 5, "x", 1, 1, MIN_MS, now));
	assert_false(ratelimit_take(rl, 5, "x", 1, 1, MIN_MS, now + MIN_MS - 1));
	assert_true(ratelimit_take(rl, 5, "x", 1, 1, MIN_MS, now + MIN_MS));
	/* a limit over the period's milliseconds does not divide to 0 */
	assert_true(ratelimit_take(rl, 6, "y", 1, 1000000, 1000, now));
	ratelimit_free(&rl);
}

static void
test_rate_long_key_cut(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	char a[64], b[64];

	memset(a, 'a', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[63] = 'b';	/* differs past RATELIMIT_KEY_MAX: the same key */
	assert_true(ratelimit_take(rl, 1, a, sizeof(a), 1, MIN_MS, 1));
	assert_false(ratelimit_take(rl, 1, b, sizeof(b), 1, MIN_MS, 1));
	ratelimit_free(&rl);
}

static void
test_rate_churn_bounded(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	uint64_t now = 1;
	uint32_t i;

	/* ten times more keys than cells, all at once: memory is fixed, and
	 * every new key is let in (the table forgets, it never refuses a
	 * key that did nothing) */
	for (i = 0; i < 10u * RATELIMIT_ENTRIES; i++)
		assert_true(ratelimit_take(rl, 1, &i, sizeof(i), 1, MIN_MS, now));
	assert_true(ratelimit_live(rl, now) <= RATELIMIT_ENTRIES);
	/* a key that keeps hitting its limit is remembered while the churn
	 * goes on, as long as it is among the most recently touched */
	ratelimit_free(&rl);
}

/* --- connlimit --- */

static void
test_sessions_per_ip(void **state)
{
	struct connlimit_config cfg = { .ip_sessions = 3 };
	struct connlimit *cl = connlimit_new(&cfg);
	struct connlimit_ticket t[5];
	unsigned ip, net;

	assert_int_equal(test_acquire(cl, "192.0.2.1", 1, &t[0]), CONNLIMIT_OK);
	assert_int_equal(test_acquire(cl, "192.0.2.1", 1, &t[1]), CONNLIMIT_OK);
	assert_int_equal(test_acquire(cl, "192.0.2.1", 1, &t[2]), CONNLIMIT_OK);
	assert_int_equal(test_acquire(cl, "192.0.2.1", 1, &t[3]),
	    CONNLIMIT_IP_SESSIONS);
	assert_false(t[3].ip);
	assert_false(t[3].net);
	/* another address of the same /24 is not this address */
	assert_int_equal(test_acquire(cl, "192.0.2.2", 1, &t[4]), CONNLIMIT_OK);
	{
		struct sockaddr_storage ss = test_addr("192.0.2.1");

		connlimit_count(cl, SA(ss), &ip, &net);
		assert_int_equal(ip, 3);
		assert_int_equal(net, 0);	/* net_sessions off */
	}
	/* one ends: one more may come */
	test_release(cl, "192.0.2.1", &t[0]);
	assert_false(t[0].ip);
	test_release(cl, "192.0.2.1", &t[0]);	/* twice: harmless */
	assert_int_equal(test_acquire(cl, "192.0.2.1", 1, &t[0]), CONNLIMIT_OK);
	assert_int_equal(test_acquire(cl, "192.0.2.1", 1, &t[3]),
	    CONNLIMIT_IP_SESSIONS);
	for (int i = 0; i < 3; i++)
		test_release(cl, "192.0.2.1", &t[i]);
	test_release(cl, "192.0.2.2", &t[4]);
	/* every entry is gone with its last connection */
	assert_int_equal(connlimit_used(cl), 0);
	assert_string_equal(connlimit_verdict_name(CONNLIMIT_IP_SESSIONS),
	    "ip_sessions");
	connlimit_free(&cl);
	assert_null(cl);
}

static void
test_sessions_per_net4(void **state)
{
	struct connlimit_config cfg = { .net_sessions = 2 };
	struct connlimit *cl = connlimit_new(&cfg);
	struct connlimit_ticket t[4];

	assert_int_equal(test_acquire(cl, "198.51.100.1", 1, &t[0]),
	    CONNLIMIT_OK);
	assert_int_equal(test_acquire(cl, "198.51.100.254", 1, &t[1]),
	    CONNLIMIT_OK);
	/* the same /24 */
	assert_int_equal(test_acquire(cl, "198.51.100.77", 1, &t[2]),
	    CONNLIMIT_NET_SESSIONS);
	/* the next /24 is another network */
	assert_int_equal(test_acquire(cl, "198.51.101.1", 1, &t[3]),
	    CONNLIMIT_OK);
	/* a v4-mapped IPv6 peer is the same IPv4 network */
	assert_int_equal(test_acquire(cl, "::ffff:198.51.100.9", 1, &t[2]),
	    CONNLIMIT_NET_SESSIONS);
	test_release(cl, "198.51.100.1", &t[0]);
	assert_int_equal(test_acquire(cl, "::ffff:198.51.100.9", 1, &t[2]),
	    CONNLIMIT_OK);
	test_release(cl, "::ffff:198.51.100.9", &t[2]);
	test_release(cl, "198.51.100.254", &t[1]);
	test_release(cl, "198.51.101.1", &t[3]);
	assert_int_equal(connlimit_used(cl), 0);
	connlimit_free(&cl);
}

static void
test_sessions_ipv6_masks(void **state)
{
	struct connlimit_config cfg = { .ip_sessions = 1, .net_sessions = 2 };
	struct connlimit *cl = connlimit_new(&cfg);
	struct connlimit_ticket t[4];

	assert_int_equal(test_acquire(cl, "2001:db8:1:1::1", 1, &t[0]),
	    CONNLIMIT_OK);
	/* the same /64: the same "address" */
	assert_int_equal(test_acquire(cl, "2001:db8:1:1:ffff::2", 1, &t[1]),
	    CONNLIMIT_IP_SESSIONS);
	/* another /64 of the same /48 */
	assert_int_equal(test_acquire(cl, "2001:db8:1:2::1", 1, &t[1]),
	    CONNLIMIT_OK);
	/* a third /64 of that /48: the network is full */
	assert_int_equal(test_acquire(cl, "2001:db8:1:ffff::1", 1, &t[2]),
	    CONNLIMIT_NET_SESSIONS);
	/* another /48 */
	assert_int_equal(test_acquire(cl, "2001:db8:2::1", 1, &t[3]),
	    CONNLIMIT_OK);
	test_release(cl, "2001:db8:1:1::1", &t[0]);
	test_release(cl, "2001:db8:1:2::1", &t[1]);
	test_release(cl, "2001:db8:2::1", &t[3]);
	assert_int_equal(connlimit_used(cl), 0);
	connlimit_free(&cl);
}

static void
test_key_masks(void **state)
{
	struct sockaddr_storage a = test_addr("203.0.113.77");
	struct sockaddr_storage b = test_addr("2001:db8:abcd:12ff:1::1");
	unsigned char key[16], want[16];

	assert_true(connlimit_key(SA(a), 24, 48, key));
	memset(want, 0, 16);
	want[10] = want[11] = 0xff;
	want[12] = 203;
	want[13] = 0;
	want[14] = 113;
	assert_memory_equal(key, want, 16);
	assert_true(connlimit_key(SA(a), 20, 48, key));
	want[14] = 112;		/* 113 & 0xf0 */
	assert_memory_equal(key, want, 16);
	assert_true(connlimit_key(SA(b), 24, 48, key));
	memset(want, 0, 16);
	want[0] = 0x20; want[1] = 0x01; want[2] = 0x0d; want[3] = 0xb8;
	want[4] = 0xab; want[5] = 0xcd;
	assert_memory_equal(key, want, 16);
	assert_true(connlimit_key(SA(b), 24, 52, key));
	want[6] = 0x10;
	assert_memory_equal(key, want, 16);
	assert_true(connlimit_key(SA(b), 24, 128, key));
	assert_int_equal(key[15], 1);
	{
		struct sockaddr un = { .sa_family = AF_UNIX };

		assert_false(connlimit_key(&un, 24, 48, key));
	}
}

static void
test_rates(void **state)
{
	struct connlimit_config cfg = { .ip_rate = 4, .net_rate = 6 };
	struct connlimit *cl = connlimit_new(&cfg);
	struct connlimit_ticket t;
	uint64_t now = 100000;

	for (int i = 0; i < 4; i++)
		assert_int_equal(test_acquire(cl, "192.0.2.10", now, &t),
		    CONNLIMIT_OK);
	/* no concurrency limits set: nothing is held */
	assert_false(t.ip);
	assert_int_equal(connlimit_used(cl), 0);
	assert_int_equal(test_acquire(cl, "192.0.2.10", now, &t),
	    CONNLIMIT_IP_RATE);
	/* the net had 4 of 6: two more from a neighbour, then no more */
	assert_int_equal(test_acquire(cl, "192.0.2.11", now, &t), CONNLIMIT_OK);
	assert_int_equal(test_acquire(cl, "192.0.2.12", now, &t), CONNLIMIT_OK);
	assert_int_equal(test_acquire(cl, "192.0.2.13", now, &t),
	    CONNLIMIT_NET_RATE);
	/* a refused connection did not use the address's rate */
	assert_int_equal(test_acquire(cl, "192.0.2.13", now + MIN_MS, &t),
	    CONNLIMIT_OK);
	/* a minute later the address may again (a burst is back) */
	for (int i = 0; i < 4; i++)
		assert_int_equal(test_acquire(cl, "192.0.2.10",
		    now + 2 * MIN_MS, &t), CONNLIMIT_OK);
	connlimit_free(&cl);
}

static void
test_loopback_exempt(void **state)
{
	struct connlimit_config cfg = { .ip_sessions = 1, .ip_rate = 1,
	    .exempt_loopback = true };
	struct connlimit *cl = connlimit_new(&cfg);
	struct connlimit_ticket t;

	for (int i = 0; i < 10; i++) {
		assert_int_equal(test_acquire(cl, "127.0.0.1", 1, &t),
		    CONNLIMIT_OK);
		assert_int_equal(test_acquire(cl, "::1", 1, &t), CONNLIMIT_OK);
		assert_int_equal(test_acquire(cl, "::ffff:127.0.0.2", 1, &t),
		    CONNLIMIT_OK);
	}
	assert_int_equal(connlimit_used(cl), 0);
	connlimit_free(&cl);
	/* not exempt: loopback is counted like any peer */
	cfg.exempt_loopback = false;
	cl = connlimit_new(&cfg);
	assert_int_equal(test_acquire(cl, "127.0.0.1", 1, &t), CONNLIMIT_OK);
	assert_int_equal(test_acquire(cl, "127.0.0.1", 1, &t),
	    CONNLIMIT_IP_SESSIONS);
	test_release(cl, "127.0.0.1", &t);
	connlimit_free(&cl);
	assert_true(connlimit_is_loopback(SA(((struct sockaddr_storage){0}))) ==
	    false);
}

static void
test_churn_bounded(void **state)
{
	struct connlimit_config cfg = { .ip_sessions = 2, .net_sessions = 10,
	    .ip_rate = 5, .net_rate = 50 };
	struct connlimit *cl = connlimit_new(&cfg);
	static struct connlimit_ticket tickets[4 * CONNLIMIT_ENTRIES];
	struct sockaddr_storage ss;
	size_t n = sizeof(tickets) / sizeof(tickets[0]), refused = 0;

	/* many more distinct addresses than entries, all open at once, from
	 * all over IPv6: the table stays within its size (the rest are let
	 * in uncounted), and empties when they close */
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		memset(&ss, 0, sizeof(ss));
		in6->sin6_family = AF_INET6;
		in6->sin6_addr.s6_addr[0] = 0x20;
		memcpy(in6->sin6_addr.s6_addr + 2, &i, sizeof(uint32_t));
		if (connlimit_acquire(cl, SA(ss), 1, &tickets[i]) !=
		    CONNLIMIT_OK)
			refused++;
	}
	assert_int_equal(refused, 0);
	assert_true(connlimit_used(cl) <= CONNLIMIT_ENTRIES);
	/* with the table full, a busy peer is still limited if it was
	 * counted before the flood... or let in: never refused wrongly */
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		memset(&ss, 0, sizeof(ss));
		in6->sin6_family = AF_INET6;
		in6->sin6_addr.s6_addr[0] = 0x20;
		memcpy(in6->sin6_addr.s6_addr + 2, &i, sizeof(uint32_t));
		connlimit_release(cl, SA(ss), &tickets[i]);
	}
	assert_int_equal(connlimit_used(cl), 0);
	connlimit_free(&cl);
}

static void
test_churn_ipv4_one_net(void **state)
{
	struct connlimit_config cfg = { .ip_sessions = 1, .net_sessions = 100,
	    .net_rate = 1000 };
	struct connlimit *cl = connlimit_new(&cfg);
	struct connlimit_ticket t[256];
	char addr[32];
	size_t ok = 0;

	/* a whole /24 at once: the net limit holds whatever the address */
	for (int i = 0; i < 256; i++) {
		(void)snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		if (test_acquire(cl, addr, 1, &t[i]) == CONNLIMIT_OK)
			ok++;
	}
	assert_int_equal(ok, 100);
	for (int i = 0; i < 256; i++) {
		(void)snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		test_release(cl, addr, &t[i]);
	}
	assert_int_equal(connlimit_used(cl), 0);
	connlimit_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_burst_then_steady),
		cmocka_unit_test(test_rate_expires),
		cmocka_unit_test(test_rate_long_key_cut),
		cmocka_unit_test(test_rate_churn_bounded),
		cmocka_unit_test(test_sessions_per_ip),
		cmocka_unit_test(test_sessions_per_net4),
		cmocka_unit_test(test_sessions_ipv6_masks),
		cmocka_unit_test(test_key_masks),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_loopback_exempt),
		cmocka_unit_test(test_churn_bounded),
		cmocka_unit_test(test_churn_ipv4_one_net),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
