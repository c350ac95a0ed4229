/*
 * dns.c - the asynchronous resolver over libunbound (see dns.h).
 *
 * libunbound runs in threaded mode (ub_ctx_async(ctx, 1)): its thread
 * does the network work and writes finished answers to a pipe, ub_fd().
 * The loop watches that descriptor; when it is readable ub_process() reads
 * the answers and calls dns_ub_cb() for each, on the loop's thread. So
 * every callback of ours runs on the loop, and nothing here blocks.
 *
 * Each query has a timer: the [dns] timeout for a real query, zero for a
 * query that failed before it was sent (a bad name, a libunbound error),
 * so that the callback is never called from inside dns_query(). When the
 * timer fires first the query is cancelled in libunbound (ub_cancel: its
 * callback is then never called) and the caller gets DNS_TIMEOUT.
 *
 * libunbound is given our query struct as its "mydata". That pointer is
 * safe, unlike most pointers handed to async work (STYLE.md asks for ids):
 * ub_process() runs only on our thread, and a query is freed only after
 * its answer was delivered or after ub_cancel() took it out of
 * libunbound's table, after which ub_process() cannot find it any more.
 *
 * RFC 1035 (messages, rdata of A, MX, TXT, PTR, CNAME), RFC 3596 (AAAA),
 * RFC 2308 (NXDOMAIN and NODATA), RFC 4035 (the secure and bogus bits).
 *
 * SECURITY: answers are untrusted. Every rdata is parsed with its length
 * checked (a malformed record is dropped and counted), at most
 * DNS_RECORDS_MAX records are kept, and text from libunbound that ends up
 * in messages is escaped.
 */
#include "dns/dns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <unbound.h>

#include "core/config.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "dns/dns-private.h"

#define DNS_POOL_CHUNK 2048
#define DNS_ERROR_MAX 512

struct dns {
	struct event_base *base;
	struct ub_ctx *ub;
	struct event *ub_ev;
	unsigned timeout;	/* seconds */
	struct dns_query *queries;	/* pending, a doubly-linked list */
	size_t pending;
};

struct dns_query {
	struct dns *dns;
	struct dns_query *prev, *next;
	char name[DNS_NAME_TEXT_MAX];	/* normalized; "" if it was bad */
	uint16_t rrtype;
	bool in_ub;		/* libunbound has it (async_id is valid) */
	int async_id;
	struct event *timer;
	/* Set when the query failed before it was sent; delivered by the
	 * zero timer. */
	enum dns_status early_status;
	const char *early_error;
	dns_query_callback *cb;
	void *ctx;
};

static char dns_error_buf[DNS_ERROR_MAX];

bool
dns_status_temporary(enum dns_status status)
{
	switch (status) {
	case DNS_SERVFAIL:
	case DNS_TIMEOUT:
	case DNS_BOGUS:
	case DNS_ERROR:
		return true;
	case DNS_OK:
	case DNS_NODATA:
	case DNS_NXDOMAIN:
	case DNS_BADNAME:
	case DNS_NULLMX:
		return false;
	}
	return true;
}

const char *
dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_OK: return "ok";
	case DNS_NODATA: return "nodata";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_BADNAME: return "badname";
	case DNS_SERVFAIL: return "servfail";
	case DNS_TIMEOUT: return "timeout";
	case DNS_BOGUS: return "bogus";
	case DNS_ERROR: return "error";
	case DNS_NULLMX: return "nullmx";
	}
	return "error";
}

static const struct {
	const char *name;
	uint16_t type;
} dns_types[] = {
	{ "A", DNS_TYPE_A },
	{ "AAAA", DNS_TYPE_AAAA },
	{ "MX", DNS_TYPE_MX },
	{ "TXT", DNS_TYPE_TXT },
	{ "PTR", DNS_TYPE_PTR },
	{ "CNAME", DNS_TYPE_CNAME },
};

const char *
dns_type_name(uint16_t rrtype)
{
	for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (dns_types[i].type == rrtype)
			return dns_types[i].name;
	return NULL;
}

uint16_t
dns_type_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (strcasecmp(dns_types[i].name, name) == 0)
			return dns_types[i].type;
	return 0;
}

/* --- results ------------------------------------------------------------ */

static struct dns_result *
dns_result_alloc(const char *name, uint16_t rrtype)
{
	struct pool *pool = pool_new(DNS_POOL_CHUNK);
	struct dns_result *r = pool_alloc(pool, sizeof(*r));

	r->pool = pool;
	r->name = pool_strdup(pool, name);
	r->rrtype = rrtype;
	r->rcode = -1;
	r->status = DNS_ERROR;
	return r;
}

struct dns_result *
dns_result_new_status(const char *name, uint16_t rrtype,
    enum dns_status status, const char *error)
{
	struct dns_result *r = dns_result_alloc(name, rrtype);

	r->status = status;
	r->error = error != NULL ? pool_strdup(r->pool, error) : NULL;
	return r;
}

void
dns_result_free(struct dns_result **resultp)
{
	struct pool *pool;

	if (*resultp == NULL)
		return;
	pool = (*resultp)->pool;
	pool_free(&pool);
	*resultp = NULL;
}

/* Parses one rdata of r->rrtype into slot i of r->rr. Returns 0 or -1. */
static int
dns_result_parse_rdata(struct dns_result *r, size_t i, const uint8_t *d,
    size_t len)
{
	char name[DNS_NAME_TEXT_MAX];
	size_t pos = 0;

	switch (r->rrtype) {
	case DNS_TYPE_A:
		if (len != sizeof(struct in_addr))
			return -1;
		memcpy(&r->rr.a[i], d, len);
		return 0;
	case DNS_TYPE_AAAA:
		if (len != sizeof(struct in6_addr))
			return -1;
		memcpy(&r->rr.aaaa[i], d, len);
		return 0;
	case DNS_TYPE_MX:
		/* RFC 1035 3.3.9: PREFERENCE (16 bits), EXCHANGE. */
		if (len < 3)
			return -1;
		pos = 2;
		if (dns_name_from_wire(d, len, &pos, name, sizeof(name)) < 0 ||
		    pos != len)
			return -1;
		r->rr.mx[i].preference = (uint16_t)((d[0] << 8) | d[1]);
		r->rr.mx[i].exchange = pool_strdup(r->pool, name);
		return 0;
	case DNS_TYPE_PTR:
	case DNS_TYPE_CNAME:
		if (dns_name_from_wire(d, len, &pos, name, sizeof(name)) < 0 ||
		    pos != len)
			return -1;
		r->rr.ptr[i] = pool_strdup(r->pool, name);
		return 0;
	case DNS_TYPE_TXT: {
		/* RFC 1035 3.3.14: one or more <character-string>s, each a
		 * length octet and that many octets. Joined: the result is
		 * shorter than the rdata. */
		char *out = pool_alloc(r->pool, len + 1);
		size_t used = 0;

		if (len == 0)
			return -1;
		while (pos < len) {
			size_t n = d[pos++];

			if (n > len - pos)
				return -1;
			memcpy(out + used, d + pos, n);
			used += n;
			pos += n;
		}
		out[used] = '\0';
		r->rr.txt[i].data = out;
		r->rr.txt[i].len = used;
		return 0;
	}
	default:
		return -1;
	}
}

static void
dns_result_parse_records(struct dns_result *r, char *const *data,
    const int *len)
{
	size_t n = 0, elem;

	while (data[n] != NULL)
		n++;
	if (n > DNS_RECORDS_MAX) {
		r->malformed += n - DNS_RECORDS_MAX;
		n = DNS_RECORDS_MAX;
	}
	switch (r->rrtype) {
	case DNS_TYPE_A: elem = sizeof(*r->rr.a); break;
	case DNS_TYPE_AAAA: elem = sizeof(*r->rr.aaaa); break;
	case DNS_TYPE_MX: elem = sizeof(*r->rr.mx); break;
	case DNS_TYPE_TXT: elem = sizeof(*r->rr.txt); break;
	default: elem = sizeof(*r->rr.ptr); break;
	}
	/* Every member of the union is a pointer: one allocation fits all. */
	r->rr.a = pool_alloc(r->pool, (n > 0 ? n : 1) * elem);
	for (size_t i = 0; i < n; i++) {
		if (len[i] < 0 || dns_result_parse_rdata(r, r->count,
		    (const uint8_t *)data[i], (size_t)len[i]) < 0)
			r->malformed++;
		else
			r->count++;
	}
}

struct dns_result *
dns_result_from_ub(const char *name, uint16_t rrtype, int ub_err,
    const struct ub_result *ub)
{
	struct dns_result *r = dns_result_alloc(name, rrtype);
	char esc[LOG_ESCAPE_MAX];

	if (ub_err != 0 || ub == NULL) {
		r->status = DNS_ERROR;
		r->error = pool_printf(r->pool, "resolver error: %s",
		    ub_strerror(ub_err));
		return r;
	}
	r->rcode = ub->rcode;
	r->secure = ub->secure != 0;
	r->ttl = ub->ttl > 0 ? (uint32_t)ub->ttl : 0;
	if (ub->canonname != NULL) {
		char canon[DNS_NAME_MAX + 1];
		const char *error;

		/* libunbound writes it with a trailing dot; ours have none.
		 * A name that does not normalize is escaped instead. */
		if (dns_name_normalize(ub->canonname, 0, canon, sizeof(canon),
		    &error) == 0)
			r->canonname = pool_strdup(r->pool, canon);
		else
			r->canonname = pool_strdup(r->pool, log_escape(esc,
			    sizeof(esc), ub->canonname,
			    strlen(ub->canonname)));
	}
	if (ub->bogus) {
		r->status = DNS_BOGUS;
		r->error = pool_printf(r->pool, "DNSSEC validation failed: %s",
		    ub->why_bogus == NULL ? "(no reason given)" :
		    log_escape(esc, sizeof(esc), ub->why_bogus,
		    strlen(ub->why_bogus)));
		return r;
	}
	if (ub->havedata) {
		dns_result_parse_records(r, ub->data, ub->len);
		if (r->count > 0) {
			r->status = DNS_OK;
		} else {
			r->status = DNS_ERROR;
			r->error = "malformed answer: no record could be parsed";
		}
		return r;
	}
	/* RFC 2308 2.1 and 2.2: NXDOMAIN, or NODATA (NOERROR, no records). */
	if (ub->nxdomain || ub->rcode == 3) {
		r->status = DNS_NXDOMAIN;
		r->error = "no such domain (NXDOMAIN)";
	} else if (ub->rcode == 0) {
		r->status = DNS_NODATA;
		r->error = "no record of this type (NODATA)";
	} else if (ub->rcode == 2) {
		r->status = DNS_SERVFAIL;
		r->error = "server failure (SERVFAIL)";
	} else {
		r->status = DNS_ERROR;
		r->error = pool_printf(r->pool, "error answer (RCODE %d)",
		    ub->rcode);
	}
	return r;
}

/* --- queries ------------------------------------------------------------ */

static void
dns_query_unlink(struct dns_query *q)
{
	struct dns *dns = q->dns;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	dns->pending--;
	event_free(q->timer);
	q->timer = NULL;
}

/* Takes q out, frees it, then hands r to its callback. */
static void
dns_query_finish(struct dns_query *q, struct dns_result *r)
{
	dns_query_callback *cb = q->cb;
	void *ctx = q->ctx;

	log_debug("dns answer name=%s type=%s status=%s rcode=%d count=%zu "
	    "secure=%s", r->name, dns_type_name(r->rrtype) != NULL ?
	    dns_type_name(r->rrtype) : "?", dns_status_name(r->status),
	    r->rcode, r->count, r->secure ? "yes" : "no");
	dns_query_unlink(q);
	free(q);
	cb(ctx, r);
}

static void
dns_ub_cb(void *mydata, int err, struct ub_result *ub)
{
	struct dns_query *q = mydata;
	struct dns_result *r;

	q->in_ub = false;
	r = dns_result_from_ub(q->name, q->rrtype, err, ub);
	if (ub != NULL)
		ub_resolve_free(ub);
	dns_query_finish(q, r);
}

static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_result *r;

	if (q->in_ub) {
		(void)ub_cancel(q->dns->ub, q->async_id);
		q->in_ub = false;
		r = dns_result_new_status(q->name, q->rrtype, DNS_TIMEOUT,
		    "no answer in time");
	} else {
		r = dns_result_new_status(q->name, q->rrtype, q->early_status,
		    q->early_error);
	}
	dns_query_finish(q, r);
}

static void
dns_ub_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;
	int err = ub_process(dns->ub);

	if (err != 0)
		log_error("dns process error=\"%s\"", ub_strerror(err));
}

struct dns_query *
dns_query(struct dns *dns, const char *name, uint16_t rrtype,
    dns_query_callback *cb, void *ctx)
{
	return dns_query_flags(dns, name, rrtype, 0, cb, ctx);
}

struct dns_query *
dns_query_flags(struct dns *dns, const char *name, uint16_t rrtype,
    unsigned flags, dns_query_callback *cb, void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	struct timeval tv = { 0, 0 };
	const char *error;
	int err;

	q->dns = dns;
	q->rrtype = rrtype;
	q->cb = cb;
	q->ctx = ctx;
	q->timer = evtimer_new(dns->base, dns_timer_cb, q);
	if (q->timer == NULL)
		abort();
	q->next = dns->queries;
	if (q->next != NULL)
		q->next->prev = q;
	dns->queries = q;
	dns->pending++;

	if (dns_type_name(rrtype) == NULL) {
		q->early_status = DNS_ERROR;
		q->early_error = "record type not supported";
	} else if ((flags & DNS_QUERY_OCTETS) != 0 ?
	    dns_name_escape(name, q->name, sizeof(q->name), &error) < 0 :
	    dns_name_normalize(name, 0, q->name, sizeof(q->name), &error) < 0) {
		q->name[0] = '\0';
		q->early_status = DNS_BADNAME;
		q->early_error = error;
	} else if ((err = ub_resolve_async(dns->ub, q->name, rrtype,
	    1 /* IN */, q, dns_ub_cb, &q->async_id)) != 0) {
		q->early_status = DNS_ERROR;
		q->early_error = ub_strerror(err);
	} else {
		q->in_ub = true;
		tv.tv_sec = dns->timeout;
	}
	evtimer_add(q->timer, &tv);
	return q;
}

void
dns_query_cancel(struct dns_query **queryp)
{
	struct dns_query *q = *queryp;

	if (q == NULL)
		return;
	if (q->in_ub)
		(void)ub_cancel(q->dns->ub, q->async_id);
	dns_query_unlink(q);
	free(q);
	*queryp = NULL;
}

size_t
dns_pending(const struct dns *dns)
{
	return dns->pending;
}

/* --- the resolver ------------------------------------------------------- */

static const char *
dns_new_fail(struct dns *dns, const char *what, int err)
{
	if (snprintf(dns_error_buf, sizeof(dns_error_buf), "dns: %s: %s", what,
	    ub_strerror(err)) < 0)
		dns_error_buf[0] = '\0';
	ub_ctx_delete(dns->ub);
	free(dns);
	return dns_error_buf;
}

/* Gives libunbound each forwarder of [dns] resolver (already checked by
 * config_resolver_check). Returns 0, or -1 with *error_r set. */
static int
dns_set_forwarders(struct dns *dns, const char *list, const char **error_r)
{
	const char *p = list;

	for (;;) {
		char item[128];
		size_t n;
		int err;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		n = strcspn(p, ", \t");
		if (n >= sizeof(item)) {
			*error_r = dns_new_fail(dns, "forwarder too long",
			    UB_SYNTAX);
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		p += n;
		if ((err = ub_ctx_set_fwd(dns->ub, item)) != 0) {
			*error_r = dns_new_fail(dns, "cannot use forwarder",
			    err);
			return -1;
		}
	}
}

/*
 * libunbound answers some zones itself, without asking the forwarder
 * (unbound.conf(5), "local-zone", the default zones). A mail server wants
 * the forwarder's answer for these ones:
 *  - "test." (RFC 6761 6.2: resolvers may resolve it normally), which
 *    test set-ups use;
 *  - the reverse zones of loopback and of private addresses (RFC 6303),
 *    for the PTR of peers on loopback or on the local network.
 * The other defaults stay: "localhost." is answered with the loopback
 * addresses, and "invalid.", "onion." and the like never leave.
 */
static const struct {
	const char *name;
	const char *value;
} dns_ub_options[] = {
	{ "local-zone:", "test. transparent" },
	{ "local-zone:", "127.in-addr.arpa. transparent" },
	{ "local-zone:", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.ip6.arpa. transparent" },
	{ "unblock-lan-zones:", "yes" },
	{ "insecure-lan-zones:", "yes" },
};

struct dns *
dns_new(struct event_base *base, const struct config *cfg,
    const char **error_r)
{
	struct dns *dns = xcalloc(1, sizeof(*dns));
	const char *resolver = cfg->dns_resolver != NULL ?
	    cfg->dns_resolver : "";
	int err;

	dns->base = base;
	dns->timeout = cfg->dns_timeout > 0 ? cfg->dns_timeout : 10;
	dns->ub = ub_ctx_create();
	if (dns->ub == NULL) {
		free(dns);
		*error_r = "dns: cannot create the libunbound context";
		return NULL;
	}
	/* A thread, not a forked process: the process may have dropped its
	 * privileges, and a thread shares the loop's memory limits. */
	if ((err = ub_ctx_async(dns->ub, 1)) != 0) {
		*error_r = dns_new_fail(dns, "cannot use a thread", err);
		return NULL;
	}
	/* A forwarder on loopback (a local unbound, systemd-resolved at
	 * 127.0.0.53, the tests' resolver) is normal; unbound refuses to
	 * send to loopback by default. */
	if ((err = ub_ctx_set_option(dns->ub, "do-not-query-localhost:",
	    "no")) != 0) {
		*error_r = dns_new_fail(dns, "do-not-query-localhost", err);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(dns_ub_options) / sizeof(dns_ub_options[0]);
	    i++) {
		if ((err = ub_ctx_set_option(dns->ub, dns_ub_options[i].name,
		    dns_ub_options[i].value)) != 0) {
			*error_r = dns_new_fail(dns, dns_ub_options[i].value,
			    err);
			return NULL;
		}
	}
	if (resolver[0] == '\0') {
		if ((err = ub_ctx_resolvconf(dns->ub, NULL)) != 0) {
			*error_r = dns_new_fail(dns,
			    "cannot read /etc/resolv.conf", err);
			return NULL;
		}
	} else if (dns_set_forwarders(dns, resolver, error_r) < 0) {
		return NULL;
	}
	dns->ub_ev = event_new(base, ub_fd(dns->ub), EV_READ | EV_PERSIST,
	    dns_ub_readable, dns);
	if (dns->ub_ev == NULL || event_add(dns->ub_ev, NULL) < 0) {
		if (dns->ub_ev != NULL)
			event_free(dns->ub_ev);
		ub_ctx_delete(dns->ub);
		free(dns);
		*error_r = "dns: cannot watch libunbound's descriptor";
		return NULL;
	}
	return dns;
}

void
dns_free(struct dns **dnsp)
{
	struct dns *dns = *dnsp;

	if (dns == NULL)
		return;
	while (dns->queries != NULL) {
		struct dns_query *q = dns->queries;

		dns_query_cancel(&q);
	}
	event_free(dns->ub_ev);
	ub_ctx_delete(dns->ub);
	free(dns);
	*dnsp = NULL;
}

struct event_base *
dns_event_base(struct dns *dns)
{
	return dns->base;
}
