/*
 * connlimit.c - concurrent connections and connection rates per address
 * and per network (see connlimit.h).
 *
 * SECURITY: peers choose their addresses; the table is fixed-size, keyed
 * by a hash with a random per-process seed, and an entry is dropped as
 * soon as its last connection ends.
 */
#include "core/connlimit.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/ratelimit.h"
#include "core/xalloc.h"

enum connlimit_kind {
	CONNLIMIT_KIND_IP = 1,
	CONNLIMIT_KIND_NET = 2,
};

struct connlimit_entry {
	unsigned char key[16];
	unsigned char kind;	/* 0: free */
	unsigned active;	/* open connections */
};

struct connlimit {
	struct connlimit_config config;
	uint64_t seed;
	struct ratelimit *rates;
	size_t used;
	struct connlimit_entry entries[CONNLIMIT_ENTRIES];
};

struct connlimit *
connlimit_new(const struct connlimit_config *config)
{
	struct connlimit *cl = xcalloc(1, sizeof(*cl));

	cl->config = *config;
	if (RAND_bytes((unsigned char *)&cl->seed, sizeof(cl->seed)) != 1)
		cl->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	cl->rates = ratelimit_new();
	return cl;
}

void
connlimit_free(struct connlimit **clp)
{
	struct connlimit *cl = *clp;

	if (cl == NULL)
		return;
	ratelimit_free(&cl->rates);
	free(cl);
	*clp = NULL;
}

bool
connlimit_is_loopback(const struct sockaddr *sa)
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

/* Keeps the first bits of a 16-byte address, zeroes the rest. */
static void
connlimit_mask(unsigned char key[16], unsigned bits)
{
	if (bits >= 128)
		return;
	key[bits / 8] &= (unsigned char)(0xff00 >> (bits % 8));
	for (unsigned i = bits / 8 + 1; i < 16; i++)
		key[i] = 0;
}

bool
connlimit_key(const struct sockaddr *sa, unsigned bits4, unsigned bits6,
    unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		connlimit_mask(key, 96 + (bits4 < 32 ? bits4 : 32));
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(key, &in6->sin6_addr, 16);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			connlimit_mask(key, 96 + (bits4 < 32 ? bits4 : 32));
		else
			connlimit_mask(key, bits6);
		return true;
	}
	return false;
}

static size_t
connlimit_hash(const struct connlimit *cl, unsigned char kind,
    const unsigned char key[16])
{
	uint64_t h = cl->seed ^ 0xcbf29ce484222325ULL;

	h ^= kind;
	h *= 0x100000001b3ULL;
	for (size_t i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (size_t)(h % CONNLIMIT_ENTRIES);
}

/* The entry of (kind, key); with create, a free slot for it (NULL if the
 * probe window holds only other keys' open connections). */
static struct connlimit_entry *
connlimit_find(struct connlimit *cl, unsigned char kind,
    const unsigned char key[16], bool create)
{
	size_t start = connlimit_hash(cl, kind, key);
	struct connlimit_entry *free_slot = NULL;

	for (size_t i = 0; i < CONNLIMIT_PROBE; i++) {
		struct connlimit_entry *e =
		    &cl->entries[(start + i) % CONNLIMIT_ENTRIES];

		if (e->kind == kind && memcmp(e->key, key, 16) == 0)
			return e;
		if (e->kind == 0 && free_slot == NULL)
			free_slot = e;
	}
	if (!create || free_slot == NULL)
		return NULL;
	memcpy(free_slot->key, key, 16);
	free_slot->kind = kind;
	free_slot->active = 0;
	cl->used++;
	return free_slot;
}

static void
connlimit_drop(struct connlimit *cl, struct connlimit_entry *e)
{
	if (e->active > 0)
		e->active--;
	if (e->active == 0) {
		memset(e, 0, sizeof(*e));
		cl->used--;
	}
}

enum connlimit_verdict
connlimit_acquire(struct connlimit *cl, const struct sockaddr *sa,
    uint64_t now_ms, struct connlimit_ticket *ticket_r)
{
	const struct connlimit_config *cfg = &cl->config;
	unsigned char ip[16], net[16];
	struct connlimit_entry *ei, *en;

	ticket_r->ip = ticket_r->net = false;
	if (!connlimit_key(sa, 32, CONNLIMIT_HOST6_BITS, ip) ||
	    !connlimit_key(sa, CONNLIMIT_NET4_BITS, CONNLIMIT_NET6_BITS, net))
		return CONNLIMIT_OK;
	if (cfg->exempt_loopback && connlimit_is_loopback(sa))
		return CONNLIMIT_OK;
	ei = connlimit_find(cl, CONNLIMIT_KIND_IP, ip, false);
	en = connlimit_find(cl, CONNLIMIT_KIND_NET, net, false);
	/* Concurrency first: it costs nothing to check and counts nothing. */
	if (cfg->ip_sessions > 0 && ei != NULL &&
	    ei->active >= cfg->ip_sessions)
		return CONNLIMIT_IP_SESSIONS;
	if (cfg->net_sessions > 0 && en != NULL &&
	    en->active >= cfg->net_sessions)
		return CONNLIMIT_NET_SESSIONS;
	/* Both rates must allow it before either counts it: a refused
	 * connection leaves no trace. */
	if (!ratelimit_would_allow(cl->rates, CONNLIMIT_KIND_IP, ip, 16,
	    cfg->ip_rate, CONNLIMIT_RATE_PERIOD_MS, now_ms))
		return CONNLIMIT_IP_RATE;
	if (!ratelimit_would_allow(cl->rates, CONNLIMIT_KIND_NET, net, 16,
	    cfg->net_rate, CONNLIMIT_RATE_PERIOD_MS, now_ms))
		return CONNLIMIT_NET_RATE;
	(void)ratelimit_take(cl->rates, CONNLIMIT_KIND_IP, ip, 16,
	    cfg->ip_rate, CONNLIMIT_RATE_PERIOD_MS, now_ms);
	(void)ratelimit_take(cl->rates, CONNLIMIT_KIND_NET, net, 16,
	    cfg->net_rate, CONNLIMIT_RATE_PERIOD_MS, now_ms);
	if (cfg->ip_sessions > 0 && (ei != NULL || (ei = connlimit_find(cl,
	    CONNLIMIT_KIND_IP, ip, true)) != NULL)) {
		ei->active++;
		ticket_r->ip = true;
	}
	if (cfg->net_sessions > 0 && (en != NULL || (en = connlimit_find(cl,
	    CONNLIMIT_KIND_NET, net, true)) != NULL)) {
		en->active++;
		ticket_r->net = true;
	}
	return CONNLIMIT_OK;
}

void
connlimit_release(struct connlimit *cl, const struct sockaddr *sa,
    struct connlimit_ticket *ticket)
{
	unsigned char key[16];
	struct connlimit_entry *e;

	if (ticket->ip && connlimit_key(sa, 32, CONNLIMIT_HOST6_BITS, key) &&
	    (e = connlimit_find(cl, CONNLIMIT_KIND_IP, key, false)) != NULL)
		connlimit_drop(cl, e);
	if (ticket->net && connlimit_key(sa, CONNLIMIT_NET4_BITS,
	    CONNLIMIT_NET6_BITS, key) &&
	    (e = connlimit_find(cl, CONNLIMIT_KIND_NET, key, false)) != NULL)
		connlimit_drop(cl, e);
	ticket->ip = ticket->net = false;
}

const char *
connlimit_verdict_name(enum connlimit_verdict v)
{
	switch (v) {
	case CONNLIMIT_OK:
		return "ok";
	case CONNLIMIT_IP_SESSIONS:
		return "ip_sessions";
	case CONNLIMIT_NET_SESSIONS:
		return "net_sessions";
	case CONNLIMIT_IP_RATE:
		return "ip_rate";
	case CONNLIMIT_NET_RATE:
		return "net_rate";
	}
	return "?";
}

void
connlimit_count(struct connlimit *cl, const struct sockaddr *sa,
    unsigned *ip_r, unsigned *net_r)
{
	unsigned char key[16];
	struct connlimit_entry *e;

	*ip_r = *net_r = 0;
	if (connlimit_key(sa, 32, CONNLIMIT_HOST6_BITS, key) &&
	    (e = connlimit_find(cl, CONNLIMIT_KIND_IP, key, false)) != NULL)
		*ip_r = e->active;
	if (connlimit_key(sa, CONNLIMIT_NET4_BITS, CONNLIMIT_NET6_BITS, key) &&
	    (e = connlimit_find(cl, CONNLIMIT_KIND_NET, key, false)) != NULL)
		*net_r = e->active;
}

size_t
connlimit_used(const struct connlimit *cl)
{
	return cl->used;
}
