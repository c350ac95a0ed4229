/*
 * connlimit.h - connections at once and connections per minute, per
 * peer address and per peer network, for a listener's accept path.
 *
 * An address is an IPv4 address, or an IPv6 /64 (one host commonly owns
 * a whole /64, so counting single IPv6 addresses would limit nothing). A
 * network is an IPv4 /24 or an IPv6 /48 (CONNLIMIT_NET4_BITS,
 * CONNLIMIT_NET6_BITS). v4-mapped IPv6 peers count as IPv4.
 *
 * Concurrent connections are counted in a fixed table
 * (CONNLIMIT_ENTRIES); an entry with open connections is never reused, an
 * entry with none is free again at once. Rates use core/ratelimit.h (a
 * burst of rate at once, then rate per minute, sliding). Memory is fixed
 * at connlimit_new(); a flood of addresses cannot grow it. If a probe
 * window of the table is full of entries with open connections (far more
 * distinct peers than sessions are allowed), the connection is let in
 * uncounted: the limit fails open rather than refusing peers that did
 * nothing.
 *
 * Knows nothing of mail: callers map the verdict to their protocol's
 * reply (SMTP 421, IMAP BYE, POP3 -ERR).
 *
 * SECURITY: sees peer addresses only (chosen by peers: keyed hashes).
 * Loop thread only.
 */
#ifndef CORE_CONNLIMIT_H
#define CORE_CONNLIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONNLIMIT_ENTRIES 16384	/* addresses and nets counted at once */
#define CONNLIMIT_PROBE 32	/* slots looked at per lookup */
#define CONNLIMIT_NET4_BITS 24	/* an IPv4 network */
#define CONNLIMIT_NET6_BITS 48	/* an IPv6 network */
#define CONNLIMIT_HOST6_BITS 64	/* an IPv6 "address" */
#define CONNLIMIT_RATE_PERIOD_MS (60 * 1000)	/* rates are per minute */

/* The limits; 0 turns one off. */
struct connlimit_config {
	unsigned ip_sessions;	/* connections at once from one address */
	unsigned net_sessions;	/* ... from one network */
	unsigned ip_rate;	/* new connections per minute, one address */
	unsigned net_rate;	/* ... one network */
	bool exempt_loopback;	/* 127/8, ::1 and ::ffff:127/104: no limits */
};

enum connlimit_verdict {
	CONNLIMIT_OK,
	CONNLIMIT_IP_SESSIONS,
	CONNLIMIT_NET_SESSIONS,
	CONNLIMIT_IP_RATE,
	CONNLIMIT_NET_RATE,
};

/* What connlimit_acquire() counted, to hand back to connlimit_release(). */
struct connlimit_ticket {
	bool ip, net;
};

struct connlimit;

/* A table with these limits (copied). Never fails (aborts on OOM). */
struct connlimit *
connlimit_new(const struct connlimit_config *config);

void
connlimit_free(struct connlimit **clp);

/*
 * A new connection from sa at now_ms (ratelimit_now_ms()): CONNLIMIT_OK
 * if every limit allows it, and then it is counted (concurrently until
 * connlimit_release(), and in the rates); else the limit it hits, and
 * nothing is counted. ticket_r is always set (all false unless counted).
 * Non-IP peers (AF_UNIX) and exempt loopback peers always get OK.
 */
enum connlimit_verdict
connlimit_acquire(struct connlimit *cl, const struct sockaddr *sa,
    uint64_t now_ms, struct connlimit_ticket *ticket_r);

/* The connection of a CONNLIMIT_OK acquire ended. The ticket is reset, so
 * releasing twice is harmless. */
void
connlimit_release(struct connlimit *cl, const struct sockaddr *sa,
    struct connlimit_ticket *ticket);

/* The config key of a verdict ("ip_sessions", ...), for logs. */
const char *
connlimit_verdict_name(enum connlimit_verdict v);

/* Open connections counted for the address and for its network of sa. */
void
connlimit_count(struct connlimit *cl, const struct sockaddr *sa,
    unsigned *ip_r, unsigned *net_r);

/* Entries in use (for tests: bounded, and empty again after releases). */
size_t
connlimit_used(const struct connlimit *cl);

/* Is this peer on a loopback address (127.0.0.0/8, ::1, ::ffff:127.x)? */
bool
connlimit_is_loopback(const struct sockaddr *sa);

/*
 * The first bits of the peer's address into key (16 bytes, the rest
 * zero), IPv4 (also v4-mapped) as ::ffff:a.b.c.d with bits4 of it kept,
 * IPv6 with bits6 kept. Returns false for non-IP addresses.
 */
bool
connlimit_key(const struct sockaddr *sa, unsigned bits4, unsigned bits6,
    unsigned char key[16]);

#endif
