/*
 * ratelimit.c - events per period per key, GCRA in a fixed table (see
 * ratelimit.h).
 *
 * SECURITY: keys come from peers; the table never grows, and the probe
 * start is a keyed hash (random seed per table).
 */
#include "core/ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/xalloc.h"

struct ratelimit_cell {
	unsigned char key[RATELIMIT_KEY_MAX];
	unsigned char kind;
	unsigned char len;
	bool used;
	uint64_t tat;		/* theoretical arrival time, ms */
};

struct ratelimit {
	uint64_t seed;
	struct ratelimit_cell cells[RATELIMIT_ENTRIES];
};

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	if (RAND_bytes((unsigned char *)&rl->seed, sizeof(rl->seed)) != 1)
		rl->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	return rl;
}

void
ratelimit_free(struct ratelimit **rlp)
{
	free(*rlp);
	*rlp = NULL;
}

uint64_t
ratelimit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t
ratelimit_hash(const struct ratelimit *rl, unsigned char kind,
    const unsigned char *key, size_t len)
{
	uint64_t h = rl->seed ^ 0xcbf29ce484222325ULL;

	/* FNV-1a from a secret start, then a final mix: spreads well, and
	 * peers cannot compute collisions without the seed. */
	h ^= kind;
	h *= 0x100000001b3ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (size_t)(h % RATELIMIT_ENTRIES);
}

/* The cell of the key, or NULL; with create, a new or reused one. */
static struct ratelimit_cell *
ratelimit_find(struct ratelimit *rl, unsigned char kind, const void *key,
    size_t len, uint64_t now_ms, bool create)
{
	size_t start = ratelimit_hash(rl, kind, key, len);
	struct ratelimit_cell *victim = NULL;

	for (size_t i = 0; i < RATELIMIT_PROBE; i++) {
		struct ratelimit_cell *e =
		    &rl->cells[(start + i) % RATELIMIT_ENTRIES];
		bool idle = !e->used || e->tat <= now_ms;

		if (e->used && e->kind == kind && e->len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
		if (!create)
			continue;
		/* Prefer an idle cell; else the one closest to idle. */
		if (victim == NULL)
			victim = e;
		else if (idle && !(!victim->used || victim->tat <= now_ms))
			victim = e;
		else if (!idle && victim->used && victim->tat > now_ms &&
		    e->tat < victim->tat)
			victim = e;
	}
	if (victim != NULL) {
		memset(victim, 0, sizeof(*victim));
		memcpy(victim->key, key, len);
		victim->len = (unsigned char)len;
		victim->kind = kind;
		victim->used = true;
		victim->tat = now_ms;
	}
	return victim;
}

/* The arrival time the event would give the cell, or 0 if refused. */
static uint64_t
ratelimit_next(const struct ratelimit_cell *e, unsigned limit,
    uint64_t period_ms, uint64_t now_ms)
{
	uint64_t interval = period_ms / limit;
	uint64_t tat;

	if (interval == 0)
		interval = 1;
	tat = e != NULL && e->tat > now_ms ? e->tat : now_ms;
	/* allowed while the new time stays within one period of now */
	if (tat - now_ms > period_ms - (interval < period_ms ? interval :
	    period_ms))
		return 0;
	return tat + interval;
}

bool
ratelimit_would_allow(struct ratelimit *rl, unsigned char kind,
    const void *key, size_t len, unsigned limit, uint64_t period_ms,
    uint64_t now_ms)
{
	if (limit == 0)
		return true;
	if (len > RATELIMIT_KEY_MAX)
		len = RATELIMIT_KEY_MAX;
	return ratelimit_next(ratelimit_find(rl, kind, key, len, now_ms,
	    false), limit, period_ms, now_ms) != 0;
}

bool
ratelimit_take(struct ratelimit *rl, unsigned char kind, const void *key,
    size_t len, unsigned limit, uint64_t period_ms, uint64_t now_ms)
{
	struct ratelimit_cell *e;
	uint64_t tat;

	if (limit == 0)
		return true;
	if (len > RATELIMIT_KEY_MAX)
		len = RATELIMIT_KEY_MAX;
	e = ratelimit_find(rl, kind, key, len, now_ms, true);
	if ((tat = ratelimit_next(e, limit, period_ms, now_ms)) == 0)
		return false;
	e->tat = tat;
	return true;
}

size_t
ratelimit_live(const struct ratelimit *rl, uint64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < RATELIMIT_ENTRIES; i++)
		if (rl->cells[i].used && rl->cells[i].tat > now_ms)
			n++;
	return n;
}
