/*
 * dns-route.c - the MX route of a domain (see dns-route.h): RFC 5321 5.1,
 * RFC 7505 (null MX), RFC 3596 (AAAA).
 *
 * A request goes through two steps: the MX query, then the AAAA and A
 * queries of every exchange at once (of the domain itself for an implicit
 * MX). Each query keeps a slot in the request; the slot is the callback's
 * context, and the request is freed only after every query of it was
 * answered or cancelled, so a slot never outlives its request.
 *
 * SECURITY: the domain and every answer are untrusted. Exchange names are
 * checked as host names before they are asked for; at most
 * DNS_MX_HOSTS_MAX exchanges and DNS_HOST_ADDRS_MAX addresses each are
 * kept.
 */
#include "dns/dns-route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "core/pool.h"
#include "core/xalloc.h"
#include "dns/dns-private.h"

#define DNS_ROUTE_POOL_CHUNK 2048

struct dns_route_slot {
	struct dns_route_req *req;
	size_t host;		/* index in route->hosts */
	uint16_t rrtype;	/* AAAA or A */
	struct dns_query *query;	/* while pending */
	struct dns_result *result;	/* once answered */
};

struct dns_route_req {
	struct dns *dns;
	dns_route_callback *cb;
	void *ctx;
	struct dns_route *route;
	struct dns_query *mx_query;
	struct event *fail_timer;	/* delivers an early failure */
	struct dns_route_slot slots[DNS_MX_HOSTS_MAX * 2];
	size_t n_slots, pending;
};

bool
dns_mx_is_null(const struct dns_mx *mx, size_t n)
{
	return n == 1 && strcmp(mx[0].exchange, ".") == 0;
}

void
dns_mx_sort(struct dns_mx *mx, size_t n, uint32_t (*uniform)(uint32_t n))
{
	/* Insertion sort: n is at most DNS_RECORDS_MAX. */
	for (size_t i = 1; i < n; i++) {
		struct dns_mx t = mx[i];
		size_t j = i;

		while (j > 0 && mx[j - 1].preference > t.preference) {
			mx[j] = mx[j - 1];
			j--;
		}
		mx[j] = t;
	}
	/* Fisher-Yates within each run of equal preference. */
	for (size_t start = 0; start < n;) {
		size_t end = start + 1;

		while (end < n && mx[end].preference == mx[start].preference)
			end++;
		for (size_t k = end - start; k > 1; k--) {
			size_t r = start + uniform((uint32_t)k);
			struct dns_mx t = mx[start + k - 1];

			mx[start + k - 1] = mx[r];
			mx[r] = t;
		}
		start = end;
	}
}

/* Same host name, ignoring ASCII case and a final dot on either. */
static bool
dns_route_same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

static bool
dns_route_host_is_self(const struct dns_mx_host *h, const char *own_name,
    const struct dns_addr *own, size_t n_own)
{
	if (own_name != NULL && dns_route_same_name(h->name, own_name))
		return true;
	for (size_t i = 0; i < h->n_addrs; i++) {
		const struct dns_addr *a = &h->addrs[i];

		for (size_t k = 0; k < n_own; k++) {
			if (own[k].family != a->family)
				continue;
			if (a->family == AF_INET6 ? memcmp(&a->u.v6,
			    &own[k].u.v6, sizeof(a->u.v6)) == 0 :
			    a->u.v4.s_addr == own[k].u.v4.s_addr)
				return true;
		}
	}
	return false;
}

int
dns_route_drop_self(struct dns_route *route, const char *own_name,
    const struct dns_addr *own, size_t n_own)
{
	size_t cut, self;

	for (self = 0; self < route->n_hosts; self++)
		if (dns_route_host_is_self(&route->hosts[self], own_name, own,
		    n_own))
			break;
	if (self == route->n_hosts)
		return 0;
	/* Equal preferences are shuffled: others of ours may come first. */
	for (cut = 0; cut < route->n_hosts; cut++)
		if (route->hosts[cut].preference >=
		    route->hosts[self].preference)
			break;
	if (cut == 0)
		return -1;
	self = route->n_hosts - cut;
	route->n_hosts = cut;
	return (int)self;
}

void
dns_route_free(struct dns_route **routep)
{
	struct pool *pool;

	if (*routep == NULL)
		return;
	pool = (*routep)->pool;
	pool_free(&pool);
	*routep = NULL;
}

static void
dns_route_req_free(struct dns_route_req *req)
{
	for (size_t i = 0; i < req->n_slots; i++) {
		dns_query_cancel(&req->slots[i].query);
		dns_result_free(&req->slots[i].result);
	}
	dns_query_cancel(&req->mx_query);
	if (req->fail_timer != NULL)
		event_free(req->fail_timer);
	dns_route_free(&req->route);
	free(req);
}

/* Hands the route to the callback and frees the request. */
static void
dns_route_deliver(struct dns_route_req *req)
{
	struct dns_route *route = req->route;
	dns_route_callback *cb = req->cb;
	void *ctx = req->ctx;

	req->route = NULL;
	dns_route_req_free(req);
	cb(ctx, route);
}

static void
dns_route_fail(struct dns_route_req *req, enum dns_status status,
    const char *error)
{
	req->route->status = status;
	req->route->error = pool_strdup(req->route->pool, error);
	req->route->n_hosts = 0;
	dns_route_deliver(req);
}

static void
dns_route_fail_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	dns_route_deliver(arg);
}

/* True if status a is a better reason to report than b: a temporary
 * failure beats a permanent one (the mail is then retried). */
static bool
dns_route_status_worse(enum dns_status a, enum dns_status b)
{
	return dns_status_temporary(a) && !dns_status_temporary(b);
}

/* All address lookups are in: fill the hosts and decide. */
static void
dns_route_finish(struct dns_route_req *req)
{
	struct dns_route *route = req->route;
	enum dns_status fail = DNS_NODATA;
	const char *fail_error = NULL;
	bool any = false;

	for (size_t h = 0; h < route->n_hosts; h++) {
		struct dns_mx_host *host = &route->hosts[h];

		if (host->status == DNS_BADNAME)
			continue;	/* no query was made */
		host->addrs = pool_alloc(route->pool,
		    DNS_HOST_ADDRS_MAX * sizeof(*host->addrs));
		host->status = DNS_NODATA;
		host->error = NULL;
		for (size_t i = 0; i < req->n_slots; i++) {
			struct dns_route_slot *s = &req->slots[i];
			struct dns_result *r = s->result;

			if (s->host != h || r == NULL)
				continue;
			if (!r->secure)
				route->secure = false;
			if (r->status != DNS_OK) {
				/* NXDOMAIN over NODATA, temporary over both */
				if (host->error == NULL ||
				    dns_route_status_worse(r->status,
				    host->status) ||
				    (host->status == DNS_NODATA &&
				    r->status == DNS_NXDOMAIN)) {
					host->status = r->status;
					host->error = pool_strdup(route->pool,
					    r->error != NULL ? r->error :
					    dns_status_name(r->status));
				}
				continue;
			}
			for (size_t k = 0; k < r->count &&
			    host->n_addrs < DNS_HOST_ADDRS_MAX; k++) {
				struct dns_addr *a = &host->addrs[host->n_addrs++];

				if (s->rrtype == DNS_TYPE_AAAA) {
					a->family = AF_INET6;
					a->u.v6 = r->rr.aaaa[k];
				} else {
					a->family = AF_INET;
					a->u.v4 = r->rr.a[k];
				}
			}
		}
		if (host->n_addrs > 0) {
			host->status = DNS_OK;
			host->error = NULL;
			any = true;
		}
	}
	for (size_t h = 0; h < route->n_hosts && !any; h++) {
		struct dns_mx_host *host = &route->hosts[h];

		if (fail_error == NULL ||
		    dns_route_status_worse(host->status, fail)) {
			fail = host->status;
			fail_error = host->error;
		}
	}
	if (any) {
		route->status = DNS_OK;
	} else if (dns_status_temporary(fail)) {
		route->status = fail;
		route->error = pool_printf(route->pool, "%s: %s",
		    route->implicit ? "address lookup failed" :
		    "no exchange has an address yet", fail_error != NULL ?
		    fail_error : dns_status_name(fail));
	} else {
		route->status = DNS_NODATA;
		route->error = route->implicit ?
		    "the domain has no MX record and no address" :
		    "no exchange of the domain has an address";
	}
	dns_route_deliver(req);
}

static void
dns_route_addr_cb(void *ctx, struct dns_result *result)
{
	struct dns_route_slot *s = ctx;
	struct dns_route_req *req = s->req;

	s->query = NULL;
	s->result = result;
	if (--req->pending == 0)
		dns_route_finish(req);
}

static void
dns_route_add_host(struct dns_route_req *req, const char *name,
    uint16_t preference)
{
	struct dns_route *route = req->route;
	struct dns_mx_host *host;
	char norm[DNS_NAME_MAX + 1];
	const char *error;

	if (route->n_hosts == DNS_MX_HOSTS_MAX)
		return;
	if (dns_name_normalize(name, DNS_NAME_HOST, norm, sizeof(norm),
	    &error) < 0) {
		/* Kept, so that the log says why it is not used. */
		host = &route->hosts[route->n_hosts++];
		host->name = pool_strdup(route->pool, name);
		host->preference = preference;
		host->status = DNS_BADNAME;
		host->error = pool_printf(route->pool,
		    "not a valid host name: %s", error);
		return;
	}
	for (size_t i = 0; i < route->n_hosts; i++)
		if (strcmp(route->hosts[i].name, norm) == 0)
			return;	/* listed at a lower preference already */
	host = &route->hosts[route->n_hosts++];
	host->name = pool_strdup(route->pool, norm);
	host->preference = preference;
	host->status = DNS_NODATA;
}

/* Asks for the addresses of every host; finishes if there is none. */
static void
dns_route_lookup_hosts(struct dns_route_req *req)
{
	struct dns_route *route = req->route;
	static const uint16_t types[] = { DNS_TYPE_AAAA, DNS_TYPE_A };

	for (size_t h = 0; h < route->n_hosts; h++) {
		if (route->hosts[h].status == DNS_BADNAME)
			continue;
		for (size_t t = 0; t < 2; t++) {
			struct dns_route_slot *s = &req->slots[req->n_slots++];

			s->req = req;
			s->host = h;
			s->rrtype = types[t];
			req->pending++;
		}
	}
	if (req->n_slots == 0) {
		dns_route_finish(req);
		return;
	}
	/* Sent after the slots are counted: an answer cannot come before
	 * this returns (callbacks run from the loop), but keep it simple. */
	for (size_t i = 0; i < req->n_slots; i++)
		req->slots[i].query = dns_query(req->dns,
		    route->hosts[req->slots[i].host].name,
		    req->slots[i].rrtype, dns_route_addr_cb, &req->slots[i]);
}

static void
dns_route_mx_cb(void *ctx, struct dns_result *r)
{
	struct dns_route_req *req = ctx;
	struct dns_route *route = req->route;

	req->mx_query = NULL;
	route->secure = r->secure;
	switch (r->status) {
	case DNS_OK:
		if (dns_mx_is_null(r->rr.mx, r->count)) {
			dns_result_free(&r);
			dns_route_fail(req, DNS_NULLMX, "the domain accepts no "
			    "mail (null MX, RFC 7505)");
			return;
		}
		dns_mx_sort(r->rr.mx, r->count, arc4random_uniform);
		route->hosts = pool_alloc(route->pool,
		    DNS_MX_HOSTS_MAX * sizeof(*route->hosts));
		for (size_t i = 0; i < r->count; i++) {
			/* RFC 7505 4.3: "." is not a host to try. */
			if (strcmp(r->rr.mx[i].exchange, ".") == 0)
				continue;
			dns_route_add_host(req, r->rr.mx[i].exchange,
			    r->rr.mx[i].preference);
		}
		dns_result_free(&r);
		dns_route_lookup_hosts(req);
		return;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain is its own exchange. */
		dns_result_free(&r);
		route->implicit = true;
		route->hosts = pool_alloc(route->pool, sizeof(*route->hosts));
		route->hosts[0].name = route->domain;
		route->hosts[0].preference = 0;
		route->hosts[0].status = DNS_NODATA;
		route->n_hosts = 1;
		dns_route_lookup_hosts(req);
		return;
	default: {
		enum dns_status status = r->status;
		const char *error = pool_printf(route->pool, "MX lookup: %s",
		    r->error != NULL ? r->error : dns_status_name(status));

		dns_result_free(&r);
		dns_route_fail(req, status, error);
		return;
	}
	}
}

struct dns_route_req *
dns_mx_route(struct dns *dns, const char *domain, dns_route_callback *cb,
    void *ctx)
{
	struct dns_route_req *req = xcalloc(1, sizeof(*req));
	struct pool *pool = pool_new(DNS_ROUTE_POOL_CHUNK);
	struct dns_route *route = pool_alloc(pool, sizeof(*route));
	char norm[DNS_NAME_MAX + 1];
	const char *error;

	route->pool = pool;
	req->dns = dns;
	req->cb = cb;
	req->ctx = ctx;
	req->route = route;
	if (dns_name_normalize(domain, DNS_NAME_HOST, norm, sizeof(norm),
	    &error) < 0) {
		struct timeval tv = { 0, 0 };

		route->domain = "";
		route->status = DNS_BADNAME;
		route->error = pool_printf(pool, "not a valid domain: %s",
		    error);
		req->fail_timer = evtimer_new(dns_event_base(dns),
		    dns_route_fail_timer_cb, req);
		if (req->fail_timer == NULL)
			abort();
		evtimer_add(req->fail_timer, &tv);
		return req;
	}
	route->domain = pool_strdup(pool, norm);
	req->mx_query = dns_query(dns, norm, DNS_TYPE_MX, dns_route_mx_cb, req);
	return req;
}

void
dns_route_cancel(struct dns_route_req **reqp)
{
	if (*reqp == NULL)
		return;
	dns_route_req_free(*reqp);
	*reqp = NULL;
}
