/*
 * dns-route.h - where to deliver mail for a domain: RFC 5321 section 5.1
 * on top of dns.h.
 *
 *  - The domain's MX records, by preference, lowest first; records of
 *    equal preference in random order (RFC 5321 5.1: "randomize them to
 *    spread the load"). An exchange listed twice is kept once, at its
 *    lowest preference.
 *  - Each exchange's addresses: AAAA and A, looked up in parallel, IPv6
 *    first. An exchange without any address is kept in the route (with the
 *    status of its lookups) so that it can be logged, but has no address
 *    to connect to.
 *  - No MX records (NODATA) but the domain exists: the implicit MX, the
 *    domain itself with preference 0 (RFC 5321 5.1).
 *  - A null MX (RFC 7505: a single MX "0 ."): the domain accepts no mail,
 *    a permanent failure (DNS_NULLMX). A "." among other exchanges is
 *    skipped.
 *  - CNAMEs are followed by libunbound, for the domain and the exchanges.
 *  - UTF-8 domains are looked up as A-labels (IDNA 2008).
 *
 * Not done by the lookup: dropping the exchanges at or after our own
 * preference (RFC 5321 5.1, the "MX points at me" loop), which the SMTP
 * client does with dns_route_drop_self() and its own names and addresses,
 * and choosing address families the machine can reach.
 *
 * SECURITY: the domain comes from an envelope address, and the answers
 * from the network: at most DNS_MX_HOSTS_MAX exchanges and
 * DNS_HOST_ADDRS_MAX addresses each are kept.
 */
#ifndef DNS_DNS_ROUTE_H
#define DNS_DNS_ROUTE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

struct dns_addr {
	int family;		/* AF_INET6 or AF_INET */
	union {
		struct in6_addr v6;
		struct in_addr v4;
	} u;
};

struct dns_mx_host {
	const char *name;	/* the exchange, normalized */
	uint16_t preference;
	enum dns_status status;	/* DNS_OK if it has addresses, else why not */
	const char *error;	/* when status != DNS_OK */
	size_t n_addrs;
	struct dns_addr *addrs;	/* AAAA first, then A */
};

struct dns_route {
	/*
	 * DNS_OK: at least one host has an address. Otherwise the route
	 * failed, temporarily or not (dns_status_temporary()): DNS_NULLMX,
	 * DNS_NXDOMAIN (no such domain), DNS_NODATA (no MX and no address,
	 * or no exchange with an address), DNS_BADNAME, or the temporary
	 * failure of a lookup the answer depended on.
	 */
	enum dns_status status;
	const char *error;	/* for logs and bounces, when status != DNS_OK */
	const char *domain;	/* normalized (A-labels) */
	bool implicit;		/* no MX: the domain itself (RFC 5321 5.1) */
	bool secure;		/* every answer used was DNSSEC-validated */
	size_t n_hosts;
	struct dns_mx_host *hosts;	/* in the order to try */
	struct pool *pool;	/* holds everything above */
};

struct dns_route_req;

/* Receives the route, which the callback owns (dns_route_free()). */
typedef void dns_route_callback(void *ctx, struct dns_route *route);

/*
 * Looks up the route to domain (UTF-8 or ASCII, a trailing dot allowed).
 * The callback is called exactly once, from the loop, never from inside
 * this call, unless the request is cancelled first. Returns the handle to
 * cancel it, valid until the callback is called.
 */
struct dns_route_req *
dns_mx_route(struct dns *dns, const char *domain, dns_route_callback *cb,
    void *ctx);

/* Cancels the request and its queries: the callback is not called. Sets
 * *reqp to NULL; does nothing if it is NULL. */
void
dns_route_cancel(struct dns_route_req **reqp);

/* Frees a route; sets *routep to NULL. */
void
dns_route_free(struct dns_route **routep);

/*
 * RFC 5321 5.1: a host listed as an exchange of the domain must not
 * deliver to itself, nor to exchanges it is preferred over; it delivers
 * to more preferred ones only. An exchange is this host if its name is
 * own_name (compared without case or a final dot) or one of its
 * addresses is in own[0 .. n_own - 1].
 *
 * Returns -1 if the first exchange (the best preference) is this host:
 * mail for the domain would loop back to it, and route is not changed.
 * Otherwise returns how many exchanges were dropped from the end of
 * route->hosts (those of this host's preference and after; 0 if this host
 * is not listed). The implicit MX counts as preference 0.
 */
int
dns_route_drop_self(struct dns_route *route, const char *own_name,
    const struct dns_addr *own, size_t n_own);

/*
 * The pieces, for the unit tests.
 *
 * dns_mx_is_null: true if the MX records are a null MX (RFC 7505 3: one
 * record, exchange "."; its preference should be 0 but is not checked).
 *
 * dns_mx_sort: sorts by preference, lowest first, and shuffles each run
 * of equal preference with uniform(n), which returns a number below n
 * (arc4random_uniform in real use).
 */
bool
dns_mx_is_null(const struct dns_mx *mx, size_t n);

void
dns_mx_sort(struct dns_mx *mx, size_t n, uint32_t (*uniform)(uint32_t n));

#endif
