/*
 * authlimit.c - failed logins per peer address (see authlimit.h).
 *
 * SECURITY: the table is fixed-size and keyed by a hash with a random
 * per-process key, so that peers cannot aim their addresses at one slot.
 */
#include "core/authlimit.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/xalloc.h"

struct authlimit_entry {
	unsigned char key[16];	/* IPv4 mapped, or an IPv6 /64 */
	bool used;
	unsigned failures;
	time_t first;		/* first failure of the current window */
	time_t touched;
	time_t blocked_until;
};

struct authlimit {
	unsigned max_failures, block_time, delay;
	uint64_t seed;
	struct authlimit_entry entries[AUTHLIMIT_ENTRIES];
};

struct authlimit *
authlimit_new(unsigned max_failures, unsigned block_time, unsigned delay)
{
	struct authlimit *a = xcalloc(1, sizeof(*a));

	a->max_failures = max_failures > 0 ? max_failures : 1;
	a->block_time = block_time;
	a->delay = delay;
	if (RAND_bytes((unsigned char *)&a->seed, sizeof(a->seed)) != 1)
		a->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	return a;
}

void
authlimit_free(struct authlimit **ap)
{
	free(*ap);
	*ap = NULL;
}

bool
authlimit_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		    in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/* The key of an address: IPv4 (also v4-mapped) whole, IPv6 by /64. */
static bool
authlimit_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			memcpy(key, &in6->sin6_addr, 16);
		else
			memcpy(key, &in6->sin6_addr, 8);
		return true;
	}
	return false;
}

static size_t
authlimit_hash(const struct authlimit *a, const unsigned char key[16])
{
	uint64_t h = a->seed ^ 0xcbf29ce484222325ULL;

	/* FNV-1a over a keyed start: enough to spread, and the seed keeps
	 * peers from choosing collisions. */
	for (size_t i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return (size_t)(h % AUTHLIMIT_ENTRIES);
}

/* Finds the entry of key; with create, makes one (reusing the stalest
 * slot of the probe window when all are taken). */
static struct authlimit_entry *
authlimit_find(struct authlimit *a, const unsigned char key[16], bool create)
{
	size_t start = authlimit_hash(a, key);
	struct authlimit_entry *victim = NULL;

	for (size_t i = 0; i < AUTHLIMIT_PROBE; i++) {
		struct authlimit_entry *e =
		    &a->entries[(start + i) % AUTHLIMIT_ENTRIES];

		if (e->used && memcmp(e->key, key, 16) == 0)
			return e;
		if (!create)
			continue;
		if (!e->used) {
			if (victim == NULL || victim->used)
				victim = e;
		} else if (victim == NULL ||
		    (victim->used && e->touched < victim->touched)) {
			victim = e;
		}
	}
	if (victim != NULL) {
		memset(victim, 0, sizeof(*victim));
		memcpy(victim->key, key, 16);
		victim->used = true;
	}
	return victim;
}

unsigned
authlimit_blocked(struct authlimit *a, const struct sockaddr *sa,
    time_t now)
{
	struct authlimit_entry *e;
	unsigned char key[16];

	if (!authlimit_key(sa, key) || (e = authlimit_find(a, key,
	    false)) == NULL)
		return 0;
	if (e->blocked_until > now)
		return (unsigned)(e->blocked_until - now);
	return 0;
}

unsigned
authlimit_fail(struct authlimit *a, const struct sockaddr *sa, time_t now)
{
	struct authlimit_entry *e;
	unsigned char key[16];
	unsigned delay;

	if (!authlimit_key(sa, key) || (e = authlimit_find(a, key,
	    true)) == NULL)
		return a->delay;
	/* a window ends block_time after its first failure */
	if (e->failures > 0 && now - e->first >= (time_t)a->block_time &&
	    e->blocked_until <= now)
		e->failures = 0;
	if (e->failures == 0)
		e->first = now;
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->touched = now;
	if (e->failures >= a->max_failures)
		e->blocked_until = now + (time_t)a->block_time;
	/* 1x, 2x, 3x, then 4x the delay */
	delay = a->delay * (e->failures < 4 ? e->failures : 4);
	return delay;
}

void
authlimit_success(struct authlimit *a, const struct sockaddr *sa)
{
	struct authlimit_entry *e;
	unsigned char key[16];

	/* (a blocked address never gets this far) */
	if (authlimit_key(sa, key) && (e = authlimit_find(a, key,
	    false)) != NULL)
		memset(e, 0, sizeof(*e));
}
