/*
 * fuzz_connlimit.c - hostile sequences of connections and logins against
 * core/connlimit.h and core/authlimit.h: the input is a program of
 * operations (open, close, fail, check, succeed, wait) on addresses and
 * user names it chooses. Checks the invariants: no address or network
 * holds more open connections than its limit, every delay is within
 * [auth] max_delay, every ban within its block time, and once every
 * connection is closed the connection table is empty again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "core/authlimit.h"
#include "core/connlimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HELD 512
#define FUZZ_IP_SESSIONS 3
#define FUZZ_NET_SESSIONS 5
#define FUZZ_MAX_DELAY 8
#define FUZZ_BLOCK 60
#define FUZZ_USER_BLOCK 120

struct fuzz_held {
	struct sockaddr_storage sa;
	struct connlimit_ticket ticket;
};

/* Reads an address from the input: a family byte, then 4 or 16 bytes
 * (missing bytes are zero). */
static const uint8_t *
fuzz_addr(const uint8_t *p, const uint8_t *end, struct sockaddr_storage *ss)
{
	uint8_t raw[16] = { 0 };
	bool v6 = p < end && (*p++ & 1);
	size_t n = v6 ? 16 : 4;

	for (size_t i = 0; i < n && p < end; i++)
		raw[i] = *p++;
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, raw, 16);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, raw, 4);
	}
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_held held[FUZZ_HELD];
	struct connlimit *cl = connlimit_new(&(struct connlimit_config){
	    .ip_sessions = FUZZ_IP_SESSIONS, .net_sessions = FUZZ_NET_SESSIONS,
	    .ip_rate = 20, .net_rate = 40, .exempt_loopback = true });
	struct authlimit *al = authlimit_new(&(struct authlimit_config){
	    .max_failures = 3, .block_time = FUZZ_BLOCK, .failure_delay = 1,
	    .max_delay = FUZZ_MAX_DELAY, .user_max_failures = 4,
	    .user_block_time = FUZZ_USER_BLOCK });
	const uint8_t *p = data, *end = data + (size > 65536 ? 65536 : size);
	size_t n_held = 0;
	uint64_t now_ms = 1000;
	time_t now = 1000;

	while (p < end) {
		uint8_t op = *p++;
		struct sockaddr_storage ss;
		char user[9] = { 0 };
		unsigned ip, net, v;

		p = fuzz_addr(p, end, &ss);
		for (size_t i = 0; i < 8 && p < end && (op & 0x80); i++)
			user[i] = (char)(*p++ % 4 + 'a');	/* few names */
		switch (op % 6) {
		case 0:
			if (n_held == FUZZ_HELD)
				break;
			held[n_held].sa = ss;
			if (connlimit_acquire(cl, (struct sockaddr *)&ss, now_ms,
			    &held[n_held].ticket) == CONNLIMIT_OK)
				n_held++;
			connlimit_count(cl, (struct sockaddr *)&ss, &ip, &net);
			if (ip > FUZZ_IP_SESSIONS || net > FUZZ_NET_SESSIONS)
				abort();
			break;
		case 1:
			if (n_held == 0)
				break;
			v = op % n_held;
			connlimit_release(cl, (struct sockaddr *)&held[v].sa,
			    &held[v].ticket);
			held[v] = held[--n_held];
			break;
		case 2:
			if (authlimit_fail(al, (struct sockaddr *)&ss, user,
			    now) > FUZZ_MAX_DELAY)
				abort();
			break;
		case 3:
			v = authlimit_check(al, (struct sockaddr *)&ss, user, now,
			    NULL);
			if (v > FUZZ_USER_BLOCK && v > FUZZ_BLOCK)
				abort();
			break;
		case 4:
			authlimit_success(al, (struct sockaddr *)&ss, user, now);
			break;
		case 5:
			now += op / 6;
			now_ms += (uint64_t)(op / 6) * 1000;
			break;
		}
	}
	while (n_held > 0) {
		n_held--;
		connlimit_release(cl, (struct sockaddr *)&held[n_held].sa,
		    &held[n_held].ticket);
	}
	if (connlimit_used(cl) != 0)
		abort();
	connlimit_free(&cl);
	authlimit_free(&al);
	return 0;
}
