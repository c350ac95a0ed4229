/*
 * ratelimit.h - "at most N events per period" for many keys at once, in a
 * fixed amount of memory.
 *
 * Each key has a generic cell rate algorithm (GCRA) cell: one 64-bit
 * "theoretical arrival time". With a limit of N per period P, an event
 * moves it P/N later; an event is allowed while that time stays within P
 * of now. So a quiet key may have a burst of N at once and then one every
 * P/N, which is a sliding limit with no edges to game (a fixed window
 * would allow 2N around its boundary). A cell whose time has passed holds
 * nothing: that is how entries expire, without a sweep.
 *
 * Keys are short byte strings (an address, a net, a user id) with a kind
 * byte, so that one table can keep several limits per key. The table has
 * RATELIMIT_ENTRIES slots, probed RATELIMIT_PROBE at a time from a keyed
 * hash; when a window is full the cell closest to expiring is reused. A
 * flood of keys therefore cannot grow memory: it can only make the table
 * forget some keys early (which lets them through: the limit fails open,
 * never against a key that did nothing).
 *
 * SECURITY: keys are chosen by peers (their addresses). The hash has a
 * random per-table seed, so they cannot aim at one window. Loop thread
 * only (no locks).
 */
#ifndef CORE_RATELIMIT_H
#define CORE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX 16	/* bytes of a key */
#define RATELIMIT_ENTRIES 16384	/* cells of a table */
#define RATELIMIT_PROBE 32	/* cells looked at per lookup */

struct ratelimit;

/* A table; free it with ratelimit_free(). Never fails (aborts on OOM). */
struct ratelimit *
ratelimit_new(void);

void
ratelimit_free(struct ratelimit **rlp);

/*
 * One event of key (len <= RATELIMIT_KEY_MAX bytes; longer keys are
 * cut) of the given kind, at now_ms (any monotonic millisecond clock):
 * true and counted if the key stays within limit events per period_ms,
 * false (and not counted) if not. limit 0 means no limit (always true,
 * nothing stored). A refused event does not push the key further out, so
 * a peer that keeps trying is let in again at the steady rate.
 */
bool
ratelimit_take(struct ratelimit *rl, unsigned char kind, const void *key,
    size_t len, unsigned limit, uint64_t period_ms, uint64_t now_ms);

/* Would one more event of the key be allowed now? (Counts nothing.) */
bool
ratelimit_would_allow(struct ratelimit *rl, unsigned char kind,
    const void *key, size_t len, unsigned limit, uint64_t period_ms,
    uint64_t now_ms);

/* Cells that still hold a count at now_ms (for tests: bounded memory). */
size_t
ratelimit_live(const struct ratelimit *rl, uint64_t now_ms);

/* Milliseconds of a monotonic clock, for now_ms. */
uint64_t
ratelimit_now_ms(void);

#endif
