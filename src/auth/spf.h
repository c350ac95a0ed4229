/*
 * spf.h - the Sender Policy Framework (RFC 7208): does the domain of an
 * envelope sender (MAIL FROM, or the HELO name when MAIL FROM is null)
 * allow the connecting address to send its mail?
 *
 * One evaluation is check_host() of RFC 7208 section 4, asynchronous: it
 * asks its DNS questions one at a time through a struct spf_dns (the
 * server's resolver, dns.h, or a test resolver) and reports its result
 * through a callback. It can be cancelled at any time (spf_check_free).
 *
 * Everything the RFC leaves to the implementation is bounded here: the
 * record's length and its number of terms, the expansion of macros, the
 * nesting of include and redirect, the DNS lookups (10 querying terms,
 * 10 MX or PTR names each, 2 void lookups, RFC 7208 4.6.4) and the time
 * an evaluation may take.
 *
 * SECURITY: records, explanations and every DNS answer come from whoever
 * controls the sender's domain, and the sender, HELO and local part from
 * the SMTP client: all of it is hostile. The record parser and the macro
 * expander check every limit before copying; strings in struct
 * spf_result are printable ASCII, cut to their limits, safe to log and
 * to put in an SMTP reply (still escape them for key="value" logs).
 */
#ifndef AUTH_SPF_H
#define AUTH_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

struct event_base;
struct pool;

/* RFC 7208 4.6.4: DNS-querying terms (include, a, mx, ptr, exists and
 * redirect) of one evaluation. */
#define SPF_DNS_TERMS_MAX 10
/* RFC 7208 4.6.4: lookups that answer NXDOMAIN or no records. */
#define SPF_VOID_LOOKUPS_MAX 2
/* RFC 7208 4.6.4: exchanges of one mx, names of one PTR answer. */
#define SPF_MX_NAMES_MAX 10
#define SPF_PTR_NAMES_MAX 10
/* One SPF record, bytes (RFC 7208 3.4 asks for records that fit a
 * 512-byte answer; longer ones exist, much longer ones are abuse). */
#define SPF_RECORD_MAX 4096
/* Terms of one record. */
#define SPF_TERMS_MAX 256
/* Nested records: include and redirect each cost a DNS term, so 10 would
 * do; the depth has its own limit all the same. */
#define SPF_DEPTH_MAX 12
/* One macro expansion, before a domain is cut to 253 octets
 * (RFC 7208 7.3). */
#define SPF_EXPAND_MAX 2048
/* The explanation kept from exp= (RFC 7208 6.2): it goes into a 550
 * reply line, which is at most 512 octets (RFC 5321 4.5.3.1.5). */
#define SPF_EXPLANATION_MAX 400
/* The terms and problems kept in a result, for logs. */
#define SPF_TEXT_MAX 200
/* Seconds one evaluation may take (RFC 7208 4.6.4 asks for at least
 * 20). */
#define SPF_TIMEOUT_DEFAULT 20

/* The results of RFC 7208 2.6. */
enum spf_status {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* Which identity was checked (RFC 7208 2.3, 2.4). */
enum spf_identity {
	SPF_IDENTITY_MAILFROM,
	SPF_IDENTITY_HELO,
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror",
 * "permerror" (the names of RFC 7208 8 and RFC 8601 2.7.2). */
const char *
spf_status_name(enum spf_status status);

/* "mailfrom" or "helo" (RFC 8601 2.7.2's ptype.property). */
const char *
spf_identity_name(enum spf_identity identity);

struct spf_result {
	enum spf_status status;
	enum spf_identity identity;
	/* The sender as checked: the MAIL FROM address with "postmaster"
	 * for a missing local part, or "postmaster@HELO" (RFC 7208 4.3). */
	const char *sender;
	/* The <domain> checked; as given if it was not a valid name. */
	const char *domain;
	/* The term that decided, as written in its record ("-all",
	 * "ip4:192.0.2.0/24", "include:_spf.example.com", "redirect=x");
	 * "default" when no term matched (neutral); NULL for none and the
	 * errors. */
	const char *mechanism;
	/* fail only: the explanation of exp= (RFC 7208 6.2), expanded;
	 * NULL when there was none or it could not be used. */
	const char *explanation;
	/* none, temperror, permerror: why, for logs and reasons. */
	const char *problem;
	unsigned dns_terms;	/* DNS-querying terms evaluated */
	unsigned void_lookups;
};

/*
 * Copies r into pool (every string too). Returns the copy, valid until
 * the pool is freed.
 */
struct spf_result *
spf_result_copy(struct pool *pool, const struct spf_result *r);

/*
 * The DNS an evaluation uses. query() starts a lookup of the records of
 * type rrtype (DNS_TYPE_*) of name, which may hold any octets (SPF puts
 * local parts into names): the production resolver escapes it
 * (DNS_QUERY_OCTETS). It returns a handle, and calls cb exactly once
 * later, from the event loop (not from inside query()), with a result
 * that cb owns, unless cancel() is called first with the handle.
 */
struct spf_dns {
	void *(*query)(void *ctx, const char *name, uint16_t rrtype,
	    dns_query_callback *cb, void *cb_ctx);
	void (*cancel)(void *ctx, void *query);
	void *ctx;
};

/* Fills sd so that evaluations use dns (which must outlive them). */
void
spf_dns_init(struct spf_dns *sd, struct dns *dns);

struct spf_request {
	const char *ip;		/* the client's address, IPv4 or IPv6 text;
				 * an IPv4-mapped IPv6 one counts as IPv4 */
	const char *mail_from;	/* the reverse-path without <>; "" for null */
	const char *helo;	/* the HELO/EHLO argument; may be NULL */
	const char *hostname;	/* ours, for %{r}; may be NULL */
	unsigned timeout;	/* seconds, 0: SPF_TIMEOUT_DEFAULT */
};

struct spf_check;

/*
 * Receives the result of an evaluation. The result, and the check, stay
 * valid until spf_check_free(), which the callback may call.
 */
typedef void spf_check_callback(void *ctx, const struct spf_result *result);

/*
 * Starts check_host() for req on base: the MAIL FROM identity, or the
 * HELO identity when mail_from is "". The strings of req are copied.
 * dns must stay valid until the check is freed. cb is called exactly once,
 * always from the loop and never from inside this function, unless the
 * check is freed first. Returns the check, or NULL with *error_r set to a
 * static message if req->ip is not an address.
 */
struct spf_check *
spf_check_start(struct event_base *base, const struct spf_dns *dns,
    const struct spf_request *req, spf_check_callback *cb, void *ctx,
    const char **error_r);

/* Cancels the evaluation if it is still running (its DNS query too, and
 * cb is not called) and frees it; sets *checkp to NULL. Does nothing if
 * it is NULL. */
void
spf_check_free(struct spf_check **checkp);

#endif
