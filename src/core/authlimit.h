/*
 * authlimit.h - failed logins counted per peer address, shared by every
 * protocol that takes passwords (IMAP, POP3, submission).
 *
 * Each failure makes the next reply to that address wait (the caller
 * delays it by authlimit_fail's answer), and after max_failures failures
 * within block_time the address is refused for block_time. IPv6 peers are
 * counted by their /64, since one host commonly owns a whole /64.
 *
 * The table has a fixed size (AUTHLIMIT_ENTRIES): when it is full the
 * entry that was least recently touched in its probe window is reused, so
 * a flood of addresses cannot grow memory; it can only make the server
 * forget some counts early.
 *
 * SECURITY: sees peer addresses only. Loop thread only.
 */
#ifndef CORE_AUTHLIMIT_H
#define CORE_AUTHLIMIT_H

#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#define AUTHLIMIT_ENTRIES 16384	/* addresses remembered at once */
#define AUTHLIMIT_PROBE 16		/* slots looked at per lookup */

struct authlimit;

/* max_failures >= 1; block_time and delay in seconds (delay may be 0). */
struct authlimit *
authlimit_new(unsigned max_failures, unsigned block_time, unsigned delay);

void
authlimit_free(struct authlimit **ap);

/* Seconds the address is still refused for; 0 if it may try. */
unsigned
authlimit_blocked(struct authlimit *a, const struct sockaddr *sa,
    time_t now);

/* Records a failed login; returns the seconds to wait before answering
 * (grows with the failures, at most the configured delay times 4). */
unsigned
authlimit_fail(struct authlimit *a, const struct sockaddr *sa, time_t now);

/* Forgets the failures of an address after a successful login. */
void
authlimit_success(struct authlimit *a, const struct sockaddr *sa);

/* Is this peer on a loopback address (127.0.0.0/8, ::1, ::ffff:127.x)? */
bool
authlimit_is_loopback(const struct sockaddr *sa);

#endif
