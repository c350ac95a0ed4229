/*
 * spf-zone.c - the tests' in-memory resolver (see spf-zone.h).
 *
 * SECURITY: test code; zones are the tests' own.
 */
#include "spf-zone.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/pool.h"
#include "core/xalloc.h"
#include "dns/dns-private.h"

struct spf_zone_rr {
	struct spf_zone_rr *next;
	char *owner;		/* escaped, lower case (dns_name_escape) */
	uint16_t rrtype;
	char *data;
	size_t len;
};

struct spf_zone_query {
	struct spf_zone *zone;
	struct spf_zone_query *prev, *next;
	struct event *ev;
	struct dns_result *result;
	dns_query_callback *cb;
	void *ctx;
};

struct spf_zone {
	struct event_base *base;
	struct spf_zone_rr *rrs;
	struct spf_zone_query *pending;
	size_t n_pending, n_queries;
};

struct spf_zone *
spf_zone_new(struct event_base *base)
{
	struct spf_zone *z = xcalloc(1, sizeof(*z));

	z->base = base;
	return z;
}

static void
spf_zone_query_free(struct spf_zone_query *q)
{
	struct spf_zone *z = q->zone;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		z->pending = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	z->n_pending--;
	event_free(q->ev);
	dns_result_free(&q->result);
	free(q);
}

void
spf_zone_free(struct spf_zone **zonep)
{
	struct spf_zone *z = *zonep;

	if (z == NULL)
		return;
	while (z->pending != NULL)
		spf_zone_query_free(z->pending);
	while (z->rrs != NULL) {
		struct spf_zone_rr *rr = z->rrs;

		z->rrs = rr->next;
		free(rr->owner);
		free(rr->data);
		free(rr);
	}
	free(z);
	*zonep = NULL;
}

int
spf_zone_add(struct spf_zone *z, const char *name, uint16_t rrtype,
    const char *data, size_t len)
{
	char owner[DNS_NAME_TEXT_MAX];
	struct spf_zone_rr *rr, **tail;
	const char *error;

	if (dns_name_escape(name, owner, sizeof(owner), &error) < 0)
		return -1;
	rr = xcalloc(1, sizeof(*rr));
	rr->owner = xstrdup(owner);
	rr->rrtype = rrtype;
	rr->data = xmalloc(len + 1);
	memcpy(rr->data, data, len);
	rr->data[len] = '\0';
	rr->len = len;
	/* In order: answers keep the zone's order. */
	for (tail = &z->rrs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = rr;
	return 0;
}

/* A name from the zone as the production resolver writes it: no
 * trailing dot, "." for the root. */
static char *
spf_zone_name(struct pool *pool, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || strcmp(s, ".") == 0)
		return pool_strdup(pool, ".");
	if (s[n - 1] == '.')
		n--;
	return pool_strndup(pool, s, n);
}

/* The answer for owner (escaped) and rrtype, following CNAMEs. */
static struct dns_result *
spf_zone_answer(struct spf_zone *z, const char *shown, const char *owner,
    uint16_t rrtype)
{
	char cur[DNS_NAME_TEXT_MAX];
	struct dns_result *r;
	const char *error;
	size_t n = 0;

	snprintf(cur, sizeof(cur), "%s", owner);
	for (int hops = 0; hops <= SPF_ZONE_CNAME_MAX; hops++) {
		bool exists = false, timeout = false;
		const struct spf_zone_rr *cname = NULL;

		n = 0;
		for (struct spf_zone_rr *rr = z->rrs; rr != NULL; rr = rr->next) {
			if (strcmp(rr->owner, cur) != 0)
				continue;
			exists = true;
			if (rr->rrtype == rrtype)
				n++;
			else if (rr->rrtype == DNS_TYPE_CNAME)
				cname = rr;
			else if (rr->rrtype == SPF_ZONE_TIMEOUT)
				timeout = true;
		}
		if (n > 0)
			break;
		if (cname != NULL) {
			char next[DNS_NAME_TEXT_MAX];

			if (dns_name_escape(cname->data, next, sizeof(next),
			    &error) < 0)
				return dns_result_new_status(shown, rrtype,
				    DNS_SERVFAIL, "bad CNAME target");
			snprintf(cur, sizeof(cur), "%s", next);
			continue;
		}
		if (timeout)
			return dns_result_new_status(shown, rrtype, DNS_TIMEOUT,
			    "no answer in time");
		return dns_result_new_status(shown, rrtype, exists ?
		    DNS_NODATA : DNS_NXDOMAIN, exists ? "no record of this "
		    "type (NODATA)" : "no such domain (NXDOMAIN)");
	}
	if (n == 0)
		return dns_result_new_status(shown, rrtype, DNS_SERVFAIL,
		    "CNAME loop");
	r = dns_result_new_status(shown, rrtype, DNS_OK, NULL);
	r->error = NULL;
	r->rcode = 0;
	if (strcmp(cur, owner) != 0)
		r->canonname = pool_strdup(r->pool, cur);
	/* Every member of the union is a pointer: one allocation fits all. */
	r->rr.a = pool_alloc(r->pool, n * sizeof(struct dns_mx) +
	    n * sizeof(struct in6_addr));
	for (struct spf_zone_rr *rr = z->rrs; rr != NULL; rr = rr->next) {
		size_t i = r->count;
		char *sp;

		if (strcmp(rr->owner, cur) != 0 || rr->rrtype != rrtype)
			continue;
		switch (rrtype) {
		case DNS_TYPE_A:
			if (inet_pton(AF_INET, rr->data, &r->rr.a[i]) != 1)
				continue;
			break;
		case DNS_TYPE_AAAA:
			if (inet_pton(AF_INET6, rr->data, &r->rr.aaaa[i]) != 1)
				continue;
			break;
		case DNS_TYPE_MX:
			r->rr.mx[i].preference = (uint16_t)strtoul(rr->data,
			    &sp, 10);
			while (*sp == ' ')
				sp++;
			r->rr.mx[i].exchange = spf_zone_name(r->pool, sp);
			break;
		case DNS_TYPE_PTR:
			r->rr.ptr[i] = spf_zone_name(r->pool, rr->data);
			break;
		case DNS_TYPE_TXT:
			r->rr.txt[i].data = pool_strndup(r->pool, rr->data,
			    rr->len);
			r->rr.txt[i].len = rr->len;
			break;
		default:
			continue;
		}
		r->count++;
	}
	if (r->count == 0) {
		r->status = DNS_ERROR;
		r->error = "malformed answer: no record could be parsed";
	}
	return r;
}

static void
spf_zone_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct spf_zone_query *q = arg;
	struct dns_result *r = q->result;
	dns_query_callback *cb = q->cb;
	void *ctx = q->ctx;

	q->result = NULL;
	spf_zone_query_free(q);
	cb(ctx, r);
}

static void *
spf_zone_query(void *ctx, const char *name, uint16_t rrtype,
    dns_query_callback *cb, void *cb_ctx)
{
	struct spf_zone *z = ctx;
	struct spf_zone_query *q = xcalloc(1, sizeof(*q));
	struct timeval now = { 0, 0 };
	char owner[DNS_NAME_TEXT_MAX];
	const char *error;

	q->zone = z;
	q->cb = cb;
	q->ctx = cb_ctx;
	if (dns_name_escape(name, owner, sizeof(owner), &error) < 0)
		q->result = dns_result_new_status("", rrtype, DNS_BADNAME,
		    error);
	else
		q->result = spf_zone_answer(z, owner, owner, rrtype);
	q->ev = evtimer_new(z->base, spf_zone_deliver, q);
	if (q->ev == NULL)
		abort();
	q->next = z->pending;
	if (q->next != NULL)
		q->next->prev = q;
	z->pending = q;
	z->n_pending++;
	z->n_queries++;
	evtimer_add(q->ev, &now);
	return q;
}

static void
spf_zone_cancel(void *ctx, void *query)
{
	spf_zone_query_free(query);
}

void
spf_zone_dns(struct spf_zone *z, struct spf_dns *sd)
{
	sd->query = spf_zone_query;
	sd->cancel = spf_zone_cancel;
	sd->ctx = z;
}

size_t
spf_zone_queries(const struct spf_zone *z)
{
	return z->n_queries;
}

size_t
spf_zone_pending(const struct spf_zone *z)
{
	return z->n_pending;
}
