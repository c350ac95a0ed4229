/*
 * dns.h - the asynchronous resolver: libunbound driven by the libevent
 * loop, with parsed answers for the record types mail needs.
 *
 * One struct dns per event loop. A query never blocks the loop: libunbound
 * resolves on its own thread and signals answers through ub_fd(), which the
 * loop watches; ub_process() then runs the callbacks on the loop's thread.
 *
 * The resolver is a forwarding one: it sends its queries to the servers of
 * [dns] resolver, or to those of /etc/resolv.conf when that is empty, and
 * does not recurse from the root itself. DNSSEC: no trust anchor is set up
 * yet, so every answer is "insecure" (secure == false) unless a later
 * release adds one (DANE will need it); the bit is passed through as
 * libunbound reports it.
 *
 * Callbacks: the callback of a query is called exactly once, always from
 * the loop and never from inside dns_query() itself, unless the query is
 * cancelled first; once it is called the query handle is gone.
 *
 * SECURITY: names and answers are untrusted. Names are checked and
 * normalized before they are asked (dns-name.h); answers are parsed with
 * every length checked, and malformed records are dropped and counted.
 */
#ifndef DNS_DNS_H
#define DNS_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns-name.h"

struct config;
struct event_base;
struct pool;

/* Record types (RFC 1035 3.2.2, RFC 3596 2.1), in host order. */
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_PTR 12
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28

/* Limits of what is kept from one answer. */
#define DNS_RECORDS_MAX 64	/* records of one answer; more are dropped */
#define DNS_MX_HOSTS_MAX 16	/* exchanges of one route */
#define DNS_HOST_ADDRS_MAX 16	/* addresses of one exchange, both families */

enum dns_status {
	DNS_OK,		/* records found (count > 0) */
	DNS_NODATA,	/* the name exists, without records of this type */
	DNS_NXDOMAIN,	/* the name does not exist (RCODE 3) */
	DNS_BADNAME,	/* the name asked for is not a valid name */
	DNS_SERVFAIL,	/* RCODE 2, or no server answered usefully */
	DNS_TIMEOUT,	/* no answer within [dns] timeout */
	DNS_BOGUS,	/* DNSSEC validation failed */
	DNS_ERROR,	/* another RCODE, a malformed answer or a local error */
	DNS_NULLMX,	/* routes only: the domain accepts no mail (RFC 7505) */
};

/* True for the failures that may go away on a later try (an SMTP 4xx),
 * false for DNS_OK and for the permanent ones (an SMTP 5xx). */
bool
dns_status_temporary(enum dns_status status);

/* "ok", "nodata", "nxdomain", "badname", "servfail", "timeout", "bogus",
 * "error", "nullmx". */
const char *
dns_status_name(enum dns_status status);

/* "A", "AAAA", "MX", "TXT", "PTR", "CNAME" or NULL; and the reverse
 * (case-insensitive), 0 if unknown. */
const char *
dns_type_name(uint16_t rrtype);
uint16_t
dns_type_parse(const char *name);

struct dns_mx {
	uint16_t preference;
	char *exchange;		/* as text (dns_name_from_wire); "." is null */
};

/* One TXT record: its character-strings joined with nothing in between
 * (RFC 7208 3.3, RFC 6376 3.6.2.2). data is NUL-terminated but may hold
 * NUL bytes of its own: use len. */
struct dns_txt {
	char *data;
	size_t len;
};

struct dns_result {
	enum dns_status status;
	uint16_t rrtype;
	int rcode;		/* of the answer; -1 if there was none */
	bool secure;		/* DNSSEC-validated (or a proven absence) */
	const char *name;	/* the name asked, normalized */
	const char *canonname;	/* the name after CNAMEs, or NULL */
	const char *error;	/* for logs, when status != DNS_OK */
	uint32_t ttl;
	size_t count;		/* records in the member of rr for rrtype */
	size_t malformed;	/* records dropped as malformed */
	union {
		struct in_addr *a;
		struct in6_addr *aaaa;
		struct dns_mx *mx;
		struct dns_txt *txt;
		char **ptr;	/* names as text (dns_name_from_wire) */
	} rr;
	struct pool *pool;	/* holds everything above */
};

struct dns;
struct dns_query;

/*
 * Receives a result, which the callback owns: it frees it with
 * dns_result_free() (now or later).
 */
typedef void dns_query_callback(void *ctx, struct dns_result *result);

/*
 * Creates the resolver of base from cfg's [dns] section (resolver,
 * timeout). Reads /etc/resolv.conf now if resolver is empty. Returns the
 * resolver, or NULL with *error_r set to a message valid until the next
 * call.
 */
struct dns *
dns_new(struct event_base *base, const struct config *cfg,
    const char **error_r);

/*
 * Cancels every query still pending (their callbacks are not called) and
 * frees the resolver; sets *dnsp to NULL. Results already handed out stay
 * valid. Routes in progress (dns-route.h) must be cancelled first. Not to
 * be called from a dns callback.
 */
void
dns_free(struct dns **dnsp);

/*
 * Asks for the records of type rrtype (DNS_TYPE_*) of name, which is
 * normalized first (dns_name_normalize without DNS_NAME_HOST); a bad
 * name gives a DNS_BADNAME result through the callback like any other.
 * The answer comes within the [dns] timeout. Returns a handle to cancel the
 * query, valid until its callback is called.
 */
struct dns_query *
dns_query(struct dns *dns, const char *name, uint16_t rrtype,
    dns_query_callback *cb, void *ctx);

/* Flags of dns_query_flags(). */
#define DNS_QUERY_OCTETS 0x01	/* labels may hold any octet: the name is
				 * checked and escaped by dns_name_escape()
				 * instead of dns_name_normalize() (SPF) */

/* dns_query() with flags (DNS_QUERY_*). */
struct dns_query *
dns_query_flags(struct dns *dns, const char *name, uint16_t rrtype,
    unsigned flags, dns_query_callback *cb, void *ctx);

/* Cancels the query: its callback is not called. Sets *queryp to NULL;
 * does nothing if it is NULL. Must not be used on a query whose callback
 * has been called. */
void
dns_query_cancel(struct dns_query **queryp);

/* Frees a result and everything it points to; sets *resultp to NULL. */
void
dns_result_free(struct dns_result **resultp);

/* Queries asked and not answered yet. */
size_t
dns_pending(const struct dns *dns);

#endif
