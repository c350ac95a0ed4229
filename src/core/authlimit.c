/*
 * authlimit.c - failed logins per peer address and per account (see
 * authlimit.h).
 *
 * SECURITY: the tables are fixed-size and keyed by hashes with a random
 * per-process seed, so that peers cannot aim their addresses or user
 * names at one slot. A user name is kept only as 16 bytes of a keyed
 * SHA-256 of its lower-case form.
 */
#include "core/authlimit.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "core/xalloc.h"

struct authlimit_entry {
	unsigned char key[16];	/* an address (v4-mapped, IPv6 /64) or a
				 * user name's hash */
	bool used;
	unsigned failures;
	time_t first;		/* first failure of the current window */
	time_t touched;
	time_t blocked_until;
	/* accounts: networks it logged in from, and until when */
	unsigned char good[AUTHLIMIT_GOOD][16];
	time_t good_until[AUTHLIMIT_GOOD];
};

/* One kind of entry: its limits and its table. */
struct authlimit_table {
	unsigned max_failures, block_time;
	bool extend;		/* failures during a ban prolong it */
	struct authlimit_entry entries[AUTHLIMIT_ENTRIES];
};

struct authlimit {
	struct authlimit_config config;
	unsigned char seed[16];
	struct authlimit_table ips, users;
};

struct authlimit *
authlimit_new(const struct authlimit_config *config)
{
	struct authlimit *a = xcalloc(1, sizeof(*a));

	a->config = *config;
	if (a->config.max_failures == 0)
		a->config.max_failures = 1;
	if (a->config.max_delay < a->config.failure_delay)
		a->config.max_delay = a->config.failure_delay;
	a->ips.max_failures = a->config.max_failures;
	a->ips.block_time = a->config.block_time;
	/* An address that keeps guessing while banned stays banned. An
	 * account's ban is not extended by guesses, which anyone can make:
	 * it must end for its owner. */
	a->ips.extend = true;
	a->users.max_failures = a->config.user_max_failures;
	a->users.block_time = a->config.user_block_time;
	a->users.extend = false;
	if (RAND_bytes(a->seed, sizeof(a->seed)) != 1) {
		uint64_t t = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;

		memcpy(a->seed, &t, sizeof(t));
	}
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

/* The first bits of an address (IPv4 and v4-mapped as ::ffff:a.b.c.d,
 * with bits4 of the IPv4 part kept; IPv6 with bits6 kept). */
static bool
authlimit_addr_key(const struct sockaddr *sa, unsigned bits4,
    unsigned bits6, unsigned char key[16])
{
	unsigned bits;

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		bits = 96 + bits4;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(key, &in6->sin6_addr, 16);
		bits = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? 96 + bits4 :
		    bits6;
	} else {
		return false;
	}
	if (bits < 128) {
		key[bits / 8] &= (unsigned char)(0xff00 >> (bits % 8));
		for (unsigned i = bits / 8 + 1; i < 16; i++)
			key[i] = 0;
	}
	return true;
}

/* A keyed hash of the lower-case user name; false for no user. */
static bool
authlimit_user_key(const struct authlimit *a, const char *user,
    unsigned char key[16])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_MD_CTX *ctx;
	bool ok;

	if (user == NULL || user[0] == '\0')
		return false;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		abort();
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a->seed, sizeof(a->seed)) == 1;
	for (const char *p = user; ok && *p != '\0'; p++) {
		char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

		ok = EVP_DigestUpdate(ctx, &ch, 1) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		abort();
	memcpy(key, md, 16);
	return true;
}

static size_t
authlimit_hash(const struct authlimit *a, const unsigned char key[16])
{
	uint64_t h;

	memcpy(&h, a->seed + 8, sizeof(h));
	h ^= 0xcbf29ce484222325ULL;
	/* FNV-1a over a keyed start, then a final mix: enough to spread,
	 * and the seed keeps peers from choosing collisions. */
	for (size_t i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (size_t)(h % AUTHLIMIT_ENTRIES);
}

/* Does the entry still hold anything at now? */
static bool
authlimit_entry_live(const struct authlimit_table *t,
    const struct authlimit_entry *e, time_t now)
{
	if (!e->used)
		return false;
	if (e->blocked_until > now)
		return true;
	if (e->failures > 0 && now - e->first < (time_t)t->block_time)
		return true;
	for (size_t i = 0; i < AUTHLIMIT_GOOD; i++)
		if (e->good_until[i] > now)
			return true;
	return false;
}

/* How much an entry is worth keeping: the lowest is reused first. */
static int
authlimit_entry_rank(const struct authlimit_table *t,
    const struct authlimit_entry *e, time_t now)
{
	if (!e->used)
		return 0;
	if (!authlimit_entry_live(t, e, now))
		return 1;
	if (e->blocked_until > now)
		return 4;
	for (size_t i = 0; i < AUTHLIMIT_GOOD; i++)
		if (e->good_until[i] > now)
			return 3;
	return 2;
}

/* Finds the entry of key; with create, makes one (reusing the least
 * useful slot of the probe window when all are taken). */
static struct authlimit_entry *
authlimit_find(const struct authlimit *a, struct authlimit_table *t,
    const unsigned char key[16], time_t now, bool create)
{
	size_t start = authlimit_hash(a, key);
	struct authlimit_entry *victim = NULL;
	int victim_rank = 0;

	for (size_t i = 0; i < AUTHLIMIT_PROBE; i++) {
		struct authlimit_entry *e =
		    &t->entries[(start + i) % AUTHLIMIT_ENTRIES];
		int rank;

		if (e->used && memcmp(e->key, key, 16) == 0)
			return e;
		if (!create)
			continue;
		rank = authlimit_entry_rank(t, e, now);
		if (victim == NULL || rank < victim_rank ||
		    (rank == victim_rank && e->touched < victim->touched)) {
			victim = e;
			victim_rank = rank;
		}
	}
	if (victim != NULL) {
		memset(victim, 0, sizeof(*victim));
		memcpy(victim->key, key, 16);
		victim->used = true;
		victim->touched = now;
	}
	return victim;
}

/* Counts a failure in an entry of table t. */
static void
authlimit_entry_fail(struct authlimit_table *t, struct authlimit_entry *e,
    time_t now)
{
	bool banned = e->blocked_until > now;

	/* a window ends block_time after its first failure */
	if (e->failures > 0 && now - e->first >= (time_t)t->block_time &&
	    !banned)
		e->failures = 0;
	if (e->failures == 0)
		e->first = now;
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->touched = now;
	if (t->max_failures > 0 && e->failures >= t->max_failures &&
	    (!banned || t->extend))
		e->blocked_until = now + (time_t)t->block_time;
}

/* Failures of an entry that still count at now. */
static unsigned
authlimit_entry_failures(const struct authlimit_table *t,
    const struct authlimit_entry *e, time_t now)
{
	if (e == NULL || e->failures == 0)
		return 0;
	if (now - e->first >= (time_t)t->block_time && e->blocked_until <= now)
		return 0;
	return e->failures;
}

unsigned
authlimit_check(struct authlimit *a, const struct sockaddr *sa,
    const char *user, time_t now, enum authlimit_scope *scope_r)
{
	struct authlimit_entry *e;
	unsigned char key[16], net[16];
	enum authlimit_scope scope_dummy;

	if (scope_r == NULL)
		scope_r = &scope_dummy;
	*scope_r = AUTHLIMIT_NONE;
	if (authlimit_addr_key(sa, 32, 64, key) &&
	    (e = authlimit_find(a, &a->ips, key, now, false)) != NULL &&
	    e->blocked_until > now) {
		*scope_r = AUTHLIMIT_IP;
		return (unsigned)(e->blocked_until - now);
	}
	if (!authlimit_user_key(a, user, key) ||
	    (e = authlimit_find(a, &a->users, key, now, false)) == NULL ||
	    e->blocked_until <= now)
		return 0;
	/* The owner's usual networks still get in. */
	if (authlimit_addr_key(sa, AUTHLIMIT_NET4_BITS, AUTHLIMIT_NET6_BITS,
	    net)) {
		for (size_t i = 0; i < AUTHLIMIT_GOOD; i++)
			if (e->good_until[i] > now &&
			    memcmp(e->good[i], net, 16) == 0)
				return 0;
	}
	*scope_r = AUTHLIMIT_USER;
	return (unsigned)(e->blocked_until - now);
}

unsigned
authlimit_fail(struct authlimit *a, const struct sockaddr *sa,
    const char *user, time_t now)
{
	struct authlimit_entry *ei = NULL, *eu = NULL;
	unsigned char key[16];
	unsigned n, delay;

	if (authlimit_addr_key(sa, 32, 64, key) &&
	    (ei = authlimit_find(a, &a->ips, key, now, true)) != NULL)
		authlimit_entry_fail(&a->ips, ei, now);
	if (a->users.max_failures > 0 && authlimit_user_key(a, user, key) &&
	    (eu = authlimit_find(a, &a->users, key, now, true)) != NULL)
		authlimit_entry_fail(&a->users, eu, now);
	n = authlimit_entry_failures(&a->ips, ei, now);
	if (authlimit_entry_failures(&a->users, eu, now) > n)
		n = authlimit_entry_failures(&a->users, eu, now);
	if (n == 0)
		n = 1;
	/* failure_delay, doubled for every further failure, up to
	 * max_delay (doubling stops before it can overflow) */
	delay = a->config.failure_delay;
	for (unsigned i = 1; i < n && delay < a->config.max_delay; i++)
		delay *= 2;
	if (delay > a->config.max_delay)
		delay = a->config.max_delay;
	return delay;
}

void
authlimit_success(struct authlimit *a, const struct sockaddr *sa,
    const char *user, time_t now)
{
	struct authlimit_entry *e;
	unsigned char key[16], net[16];
	size_t slot = 0;

	/* (a blocked address never gets this far) */
	if (authlimit_addr_key(sa, 32, 64, key) &&
	    (e = authlimit_find(a, &a->ips, key, now, false)) != NULL)
		memset(e, 0, sizeof(*e));
	/* (no account bans: nothing to remember the networks for) */
	if (a->users.max_failures == 0 || !authlimit_user_key(a, user, key) ||
	    !authlimit_addr_key(sa, AUTHLIMIT_NET4_BITS, AUTHLIMIT_NET6_BITS,
	    net) || (e = authlimit_find(a, &a->users, key, now, true)) == NULL)
		return;
	/* A ban stays for the others; an owner's success ends the count
	 * of an account that is not banned. */
	if (e->blocked_until <= now)
		e->failures = 0;
	e->touched = now;
	for (size_t i = 0; i < AUTHLIMIT_GOOD; i++) {
		if (memcmp(e->good[i], net, 16) == 0 && e->good_until[i] > 0) {
			slot = i;
			break;
		}
		if (e->good_until[i] < e->good_until[slot])
			slot = i;
	}
	memcpy(e->good[slot], net, 16);
	e->good_until[slot] = now + AUTHLIMIT_GOOD_TIME;
}

void
authlimit_log_failure(const char *conn_id, const char *subsystem,
    const char *service, const char *peer, const char *user,
    const char *mech, unsigned delay)
{
	char ebuf[LOG_ESCAPE_MAX];

	/* The peer comes before anything the peer chose (the user name):
	 * a fail2ban filter anchored at the start cannot be fooled by a
	 * user name that holds "peer=". */
	log_escape(ebuf, sizeof(ebuf), user != NULL ? user : "",
	    user != NULL ? strlen(user) : 0);
	log_info("conn=%s %s auth failed service=%s peer=%s user=\"%s\" "
	    "mech=%s result=fail delay=%u", conn_id, subsystem, service, peer, ebuf, mech,
	    delay);
}

void
authlimit_log_refusal(const char *conn_id, const char *subsystem,
    const char *service, const char *peer, const char *user,
    enum authlimit_scope scope, unsigned seconds)
{
	char ebuf[LOG_ESCAPE_MAX];

	log_escape(ebuf, sizeof(ebuf), user != NULL ? user : "",
	    user != NULL ? strlen(user) : 0);
	log_info("conn=%s %s auth refused service=%s peer=%s user=\"%s\" "
	    "result=blocked banned=%s seconds=%u", conn_id, subsystem, service, peer, ebuf,
	    scope == AUTHLIMIT_USER ? "user" : "ip", seconds);
}

size_t
authlimit_live(const struct authlimit *a, time_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < AUTHLIMIT_ENTRIES; i++) {
		if (authlimit_entry_live(&a->ips, &a->ips.entries[i], now))
			n++;
		if (authlimit_entry_live(&a->users, &a->users.entries[i], now))
			n++;
	}
	return n;
}
