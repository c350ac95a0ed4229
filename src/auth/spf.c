/*
 * spf.c - check_host() of RFC 7208, asynchronous (see spf.h).
 *
 * An evaluation is a small machine that asks one DNS question at a time:
 * each step either decides something on its own (ip4, ip6, all, a
 * modifier, the end of a record) or starts one query and waits for its
 * answer. Records nest: include pushes a frame for its target and
 * redirect= replaces the current frame with its target's (RFC 7208 5.2,
 * 6.1), so a frame is one check_host() call. Each frame has its own pool
 * for its record, freed when the frame ends, so memory stays bounded by
 * the nesting depth and not by the number of records read.
 *
 *  - Record selection (RFC 7208 4.4, 4.5): TXT only; exactly one record
 *    starting with "v=spf1", more is a permerror, none is "none" (at the
 *    top) or a permerror (for include and redirect).
 *  - Mechanisms (5) and modifiers (6): every one; unknown modifiers are
 *    checked and ignored. The whole record is parsed before evaluation.
 *  - Limits (4.6.4): 10 DNS-querying terms, 2 void lookups, 10 MX
 *    exchanges (more is a permerror), 10 PTR names (the rest ignored), and
 *    SPF_TIMEOUT_DEFAULT seconds in all.
 *  - exp= (6.2) is looked up only for a fail, from the record that
 *    decided (a redirect's target, never an include's); any problem with
 *    it just leaves the result without an explanation. Its lookup counts
 *    against no limit.
 *  - %{p} and ptr (5.5, 7.3): the client's validated names are looked up
 *    once per evaluation (PTR, then A or AAAA of at most 10 names) and
 *    shared by every ptr term and %{p}.
 *
 * Callbacks of the resolver are expected from the loop, but an answer that
 * comes synchronously from inside query() is handled too: the answer is
 * kept and the loop in spf_run() takes it.
 *
 * SECURITY: see spf.h. Names from macros may hold any octet; they are
 * asked as such (DNS_QUERY_OCTETS) and escaped before they are logged.
 */
#include "auth/spf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "auth/spf-private.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "dns/dns-name.h"

#define SPF_POOL_CHUNK 4096

enum spf_frame_kind {
	SPF_FRAME_TOP,		/* the check of the identity itself */
	SPF_FRAME_INCLUDE,	/* include:'s target; its parent waits */
};

/* One check_host() call. */
struct spf_frame {
	struct pool *pool;	/* the record, its terms, domain */
	enum spf_frame_kind kind;
	bool redirected;	/* reached through redirect= */
	const char *domain;	/* <domain>, as expanded */
	bool have_record;
	struct spf_record rec;
	size_t next;		/* the term being evaluated */
};

/* What the pending DNS query is for. */
enum spf_wait {
	SPF_WAIT_RECORD,	/* TXT of the frame's domain */
	SPF_WAIT_A,		/* a: the target's addresses */
	SPF_WAIT_MX,		/* mx: the target's exchanges */
	SPF_WAIT_MX_ADDR,	/* mx: an exchange's addresses */
	SPF_WAIT_EXISTS,	/* exists: the target's A records */
	SPF_WAIT_PTR,		/* validated names: the client's PTR */
	SPF_WAIT_PTR_ADDR,	/* validated names: one name's addresses */
	SPF_WAIT_EXP,		/* exp=: the explanation's TXT */
};

enum spf_phase {
	SPF_PHASE_EVAL,		/* evaluating terms */
	SPF_PHASE_EXP_LOOKUP,	/* fail: looking up exp= */
	SPF_PHASE_EXP_EXPAND,	/* fail: expanding the explanation */
};

enum spf_ptr_state {
	SPF_PTR_UNKNOWN,
	SPF_PTR_RUNNING,
	SPF_PTR_DONE,
};

struct spf_check {
	struct event_base *base;
	struct spf_dns dns;
	spf_check_callback *cb;
	void *cb_ctx;
	struct pool *pool;	/* request, result, validated names */
	struct event *kick;	/* starts the evaluation from the loop */
	struct event *timer;	/* the limit on the whole evaluation */

	int family;		/* AF_INET or AF_INET6 */
	struct in_addr ip4;
	struct in6_addr ip6;
	char ptr_qname[DNS_PTR_NAME_MAX + 1];
	struct spf_macro_env env;

	struct spf_frame frames[SPF_DEPTH_MAX];
	size_t depth;
	enum spf_phase phase;
	unsigned dns_terms, void_lookups;

	/* The DNS query in flight, and an answer not yet taken. */
	enum spf_wait wait;
	bool waiting;
	void *query;
	struct dns_result *answer;
	bool running, finished, reported;

	/* mx: the exchanges of the term being evaluated. */
	char *mx_names[SPF_MX_NAMES_MAX];
	size_t n_mx, mx_next;
	unsigned mx_cidr4, mx_cidr6;
	const struct spf_term *mx_term;

	/* The client's names, and which are validated (RFC 7208 5.5). */
	enum spf_ptr_state ptr_state;
	char *ptr_names[SPF_PTR_NAMES_MAX];
	bool ptr_valid[SPF_PTR_NAMES_MAX];
	size_t n_ptr, ptr_next;
	bool ptr_void;		/* the PTR lookup found nothing */

	char *exp_text;		/* the explanation's record, unexpanded */

	struct spf_result result;
};

const char *
spf_status_name(enum spf_status status)
{
	switch (status) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "permerror";
}

const char *
spf_identity_name(enum spf_identity identity)
{
	return identity == SPF_IDENTITY_HELO ? "helo" : "mailfrom";
}

static const char *
spf_pool_strdup_null(struct pool *pool, const char *s)
{
	return s != NULL ? pool_strdup(pool, s) : NULL;
}

struct spf_result *
spf_result_copy(struct pool *pool, const struct spf_result *r)
{
	struct spf_result *c = pool_alloc(pool, sizeof(*c));

	*c = *r;
	c->sender = spf_pool_strdup_null(pool, r->sender);
	c->domain = spf_pool_strdup_null(pool, r->domain);
	c->mechanism = spf_pool_strdup_null(pool, r->mechanism);
	c->explanation = spf_pool_strdup_null(pool, r->explanation);
	c->problem = spf_pool_strdup_null(pool, r->problem);
	return c;
}

/* --- the production resolver --------------------------------------------- */

static void *
spf_dns_query(void *ctx, const char *name, uint16_t rrtype,
    dns_query_callback *cb, void *cb_ctx)
{
	return dns_query_flags(ctx, name, rrtype, DNS_QUERY_OCTETS, cb, cb_ctx);
}

static void
spf_dns_cancel(void *ctx, void *query)
{
	struct dns_query *q = query;

	dns_query_cancel(&q);
}

void
spf_dns_init(struct spf_dns *sd, struct dns *dns)
{
	sd->query = spf_dns_query;
	sd->cancel = spf_dns_cancel;
	sd->ctx = dns;
}

/* --- helpers ------------------------------------------------------------- */

/* Untrusted text for a problem message: escaped and cut. */
static const char *
spf_esc(struct spf_check *c, const char *s)
{
	char esc[SPF_TEXT_MAX];

	return pool_strdup(c->pool, log_escape(esc, sizeof(esc), s,
	    strlen(s)));
}

static void
spf_report(struct spf_check *c)
{
	if (c->reported)
		return;
	c->reported = true;
	evtimer_del(c->timer);
	log_debug("spf result=%s domain=%s dns_terms=%u void=%u",
	    spf_status_name(c->result.status), c->result.domain,
	    c->dns_terms, c->void_lookups);
	/* The last thing done with c: the callback may free it. */
	c->cb(c->cb_ctx, &c->result);
}

/* Ends the evaluation with status (and problem, for the errors). */
static void
spf_finish(struct spf_check *c, enum spf_status status, const char *problem)
{
	c->result.status = status;
	if (problem != NULL)
		c->result.problem = problem;
	c->result.dns_terms = c->dns_terms;
	c->result.void_lookups = c->void_lookups;
	c->finished = true;
}

static void
spf_permerror(struct spf_check *c, const char *problem)
{
	spf_finish(c, SPF_PERMERROR, problem);
}

static void spf_dns_cb(void *ctx, struct dns_result *r);

static void
spf_query(struct spf_check *c, const char *name, uint16_t rrtype,
    enum spf_wait wait)
{
	void *q;

	if (log_enabled(LOG_LEVEL_DEBUG)) {
		char esc[LOG_ESCAPE_MAX];

		log_debug("spf query name=%s type=%s", log_escape(esc,
		    sizeof(esc), name, strlen(name)), dns_type_name(rrtype));
	}
	c->wait = wait;
	c->waiting = true;
	q = c->dns.query(c->dns.ctx, name, rrtype, spf_dns_cb, c);
	/* Unless the answer came already, from inside query(). */
	if (c->waiting)
		c->query = q;
}

static struct spf_frame *
spf_frame_top(struct spf_check *c)
{
	return &c->frames[c->depth - 1];
}

static void
spf_frame_clear(struct spf_frame *f)
{
	pool_free(&f->pool);
	memset(f, 0, sizeof(*f));
}

static void
spf_frame_init(struct spf_frame *f, enum spf_frame_kind kind,
    bool redirected, const char *domain)
{
	f->pool = pool_new(SPF_POOL_CHUNK);
	f->kind = kind;
	f->redirected = redirected;
	f->domain = pool_strdup(f->pool, domain);
}

static bool
spf_cidr_match4(const struct in_addr *a, const struct in_addr *b,
    unsigned bits)
{
	uint32_t x = ntohl(a->s_addr), y = ntohl(b->s_addr);
	uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);

	return (x & mask) == (y & mask);
}

static bool
spf_cidr_match6(const struct in6_addr *a, const struct in6_addr *b,
    unsigned bits)
{
	size_t full = bits / 8;
	unsigned rest = bits % 8;
	uint8_t mask;

	if (memcmp(a->s6_addr, b->s6_addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a->s6_addr[full] & mask) == (b->s6_addr[full] & mask);
}

/* Does an answer of A or AAAA records hold the client within the
 * prefix? */
static bool
spf_addrs_match(const struct spf_check *c, const struct dns_result *r,
    unsigned cidr4, unsigned cidr6)
{
	for (size_t i = 0; r->status == DNS_OK && i < r->count; i++) {
		if (r->rrtype == DNS_TYPE_A && c->family == AF_INET &&
		    spf_cidr_match4(&r->rr.a[i], &c->ip4, cidr4))
			return true;
		if (r->rrtype == DNS_TYPE_AAAA && c->family == AF_INET6 &&
		    spf_cidr_match6(&r->rr.aaaa[i], &c->ip6, cidr6))
			return true;
	}
	return false;
}

static uint16_t
spf_addr_type(const struct spf_check *c)
{
	return c->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
}

/* Counts a void lookup (RFC 7208 4.6.4). Returns 0, or -1 once past the
 * limit (the evaluation is then over). */
static int
spf_void(struct spf_check *c)
{
	if (++c->void_lookups > SPF_VOID_LOOKUPS_MAX) {
		spf_permerror(c, "more than 2 void DNS lookups");
		return -1;
	}
	return 0;
}

/* A DNS failure that ends the evaluation with temperror (RFC 7208 4.4,
 * 5). Returns true if it was one. */
static bool
spf_dns_temporary(struct spf_check *c, const struct dns_result *r,
    const char *what)
{
	if (!dns_status_temporary(r->status))
		return false;
	spf_finish(c, SPF_TEMPERROR, pool_printf(c->pool,
	    "DNS %s looking up %s of %s", dns_status_name(r->status), what,
	    spf_esc(c, r->name)));
	return true;
}

/* Names equal, or name within domain; any case, trailing dots ignored. */
static bool
spf_name_within(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (d > 0 && domain[d - 1] == '.')
		d--;
	if (d == 0 || n < d)
		return false;
	if (strncasecmp(name + n - d, domain, d) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

/* %{p} (RFC 7208 7.3): a validated name equal to the current domain,
 * else one within it, else any, else "unknown". */
static const char *
spf_ptr_choose(const struct spf_check *c, const char *domain)
{
	const char *any = NULL, *within = NULL;

	for (size_t i = 0; i < c->n_ptr; i++) {
		if (!c->ptr_valid[i])
			continue;
		if (spf_name_within(c->ptr_names[i], domain)) {
			if (strlen(c->ptr_names[i]) == strlen(domain) ||
			    strcasecmp(c->ptr_names[i], domain) == 0)
				return c->ptr_names[i];
			if (within == NULL)
				within = c->ptr_names[i];
		}
		if (any == NULL)
			any = c->ptr_names[i];
	}
	return within != NULL ? within : any != NULL ? any : "unknown";
}

/*
 * Expands the domain-spec of t, or takes the frame's domain, into a new
 * string (c's pool is not used: the frame's, which lives as long as the
 * term). Returns it, or NULL with the evaluation ended (permerror).
 */
static char *
spf_target(struct spf_check *c, struct spf_frame *f, const char *spec)
{
	const char *error;
	struct buf out;
	char *name;

	if (spec == NULL)
		return pool_strdup(f->pool, f->domain);
	c->env.domain = f->domain;
	if (c->ptr_state == SPF_PTR_DONE)
		c->env.ptr = spf_ptr_choose(c, f->domain);
	buf_init(&out, SPF_EXPAND_MAX);
	if (spf_macro_expand(spec, strlen(spec), SPF_MACRO_DOMAIN, &c->env,
	    &out, &error) < 0) {
		buf_release(&out);
		spf_permerror(c, pool_printf(c->pool, "%s in \"%s\"", error,
		    spf_esc(c, spec)));
		return NULL;
	}
	name = pool_strndup(f->pool, out.data != NULL ? out.data : "",
	    out.len);
	buf_release(&out);
	return spf_domain_truncate(name);
}

/* Does the domain-spec need the validated names first? */
static bool
spf_needs_ptr(const struct spf_check *c, const char *spec)
{
	const char *error;
	bool uses_p = false;

	if (spec == NULL || c->ptr_state == SPF_PTR_DONE)
		return false;
	if (spf_macro_check(spec, strlen(spec), SPF_MACRO_EXPLAIN, &uses_p,
	    &error) < 0)
		return false;
	return uses_p;
}

/* --- validated names (RFC 7208 5.5) -------------------------------------- */

static void
spf_ptr_start(struct spf_check *c)
{
	c->ptr_state = SPF_PTR_RUNNING;
	spf_query(c, c->ptr_qname, DNS_TYPE_PTR, SPF_WAIT_PTR);
}

static void
spf_ptr_next(struct spf_check *c)
{
	if (c->ptr_next < c->n_ptr) {
		spf_query(c, c->ptr_names[c->ptr_next++], spf_addr_type(c),
		    SPF_WAIT_PTR_ADDR);
		return;
	}
	c->ptr_state = SPF_PTR_DONE;
}

static void
spf_ptr_answer(struct spf_check *c, const struct dns_result *r)
{
	/* Errors are no match: RFC 7208 5.5 says a failed PTR lookup
	 * matches nothing, and a failed address lookup skips the name. */
	if (r->status != DNS_OK) {
		c->ptr_void = !dns_status_temporary(r->status);
		c->ptr_state = SPF_PTR_DONE;
		return;
	}
	for (size_t i = 0; i < r->count && c->n_ptr < SPF_PTR_NAMES_MAX; i++) {
		if (strcmp(r->rr.ptr[i], ".") == 0)
			continue;
		c->ptr_names[c->n_ptr++] = pool_strdup(c->pool, r->rr.ptr[i]);
	}
	spf_ptr_next(c);
}

static void
spf_ptr_addr_answer(struct spf_check *c, const struct dns_result *r)
{
	if (spf_addrs_match(c, r, 32, 128))
		c->ptr_valid[c->ptr_next - 1] = true;
	spf_ptr_next(c);
}

/* --- terms ----------------------------------------------------------------- */

/*
 * Starts a DNS-querying term (a mechanism, or redirect=): the validated
 * names first if it needs them (then it is evaluated again, and counted
 * once), the limit of 4.6.4, and its target. Returns the target (f's
 * pool), or NULL when the evaluation waits or is over.
 */
static char *
spf_dns_term_begin(struct spf_check *c, struct spf_frame *f,
    const struct spf_term *t)
{
	if ((t->type == SPF_TERM_PTR && c->ptr_state != SPF_PTR_DONE) ||
	    spf_needs_ptr(c, t->spec)) {
		spf_ptr_start(c);
		return NULL;
	}
	if (++c->dns_terms > SPF_DNS_TERMS_MAX) {
		spf_permerror(c, "more than 10 DNS-querying terms");
		return NULL;
	}
	return spf_target(c, f, t->spec);
}

static void spf_exp_start(struct spf_check *c);

/* The frame on top ends with status, decided by the term text. */
static void
spf_frame_result(struct spf_check *c, enum spf_status status,
    const char *text)
{
	struct spf_frame *f = spf_frame_top(c), *parent;
	const struct spf_term *t;

	if (f->kind == SPF_FRAME_TOP) {
		char esc[SPF_TEXT_MAX];

		c->result.status = status;
		c->result.mechanism = pool_strdup(c->pool, log_escape(esc,
		    sizeof(esc), text, strlen(text)));
		if (status == SPF_FAIL && f->rec.exp != NULL) {
			spf_exp_start(c);
			return;
		}
		spf_finish(c, status, NULL);
		return;
	}
	/* The end of an include (RFC 7208 5.2): pass is a match, fail,
	 * softfail and neutral are not; the errors never come here. */
	spf_frame_clear(f);
	c->depth--;
	parent = spf_frame_top(c);
	t = &parent->rec.terms[parent->next];
	if (status == SPF_PASS)
		spf_frame_result(c, t->qualifier, t->text);
	else
		parent->next++;
}

/* Evaluates the term at f->next: decides, or starts a query. */
static void
spf_term_eval(struct spf_check *c, struct spf_frame *f,
    const struct spf_term *t)
{
	char *target;

	if (t->type == SPF_TERM_UNKNOWN || t->type == SPF_TERM_EXP ||
	    t->type == SPF_TERM_REDIRECT) {
		f->next++;	/* modifiers act at the end (RFC 7208 6) */
		return;
	}
	if (t->type == SPF_TERM_ALL) {
		spf_frame_result(c, t->qualifier, t->text);
		return;
	}
	if (t->type == SPF_TERM_IP4 || t->type == SPF_TERM_IP6) {
		if ((t->type == SPF_TERM_IP4 && c->family == AF_INET &&
		    spf_cidr_match4(&t->ip4, &c->ip4, t->cidr4)) ||
		    (t->type == SPF_TERM_IP6 && c->family == AF_INET6 &&
		    spf_cidr_match6(&t->ip6, &c->ip6, t->cidr6)))
			spf_frame_result(c, t->qualifier, t->text);
		else
			f->next++;
		return;
	}
	if ((target = spf_dns_term_begin(c, f, t)) == NULL)
		return;
	switch (t->type) {
	case SPF_TERM_INCLUDE:
		if (c->depth >= SPF_DEPTH_MAX) {
			spf_permerror(c, "includes nested too deep");
			return;
		}
		spf_frame_init(&c->frames[c->depth++], SPF_FRAME_INCLUDE, false,
		    target);
		return;
	case SPF_TERM_A:
		spf_query(c, target, spf_addr_type(c), SPF_WAIT_A);
		return;
	case SPF_TERM_MX:
		c->mx_term = t;
		spf_query(c, target, DNS_TYPE_MX, SPF_WAIT_MX);
		return;
	case SPF_TERM_EXISTS:
		/* RFC 7208 5.7: always A, whatever the client's family. */
		spf_query(c, target, DNS_TYPE_A, SPF_WAIT_EXISTS);
		return;
	case SPF_TERM_PTR:
		if (c->ptr_void && spf_void(c) < 0)
			return;
		for (size_t i = 0; i < c->n_ptr; i++) {
			if (c->ptr_valid[i] &&
			    spf_name_within(c->ptr_names[i], target)) {
				spf_frame_result(c, t->qualifier, t->text);
				return;
			}
		}
		f->next++;
		return;
	default:
		abort();
	}
}

/* The end of a record: redirect=, or neutral (RFC 7208 4.7, 6.1). */
static void
spf_record_end(struct spf_check *c, struct spf_frame *f)
{
	const struct spf_term *t = f->rec.redirect;
	enum spf_frame_kind kind = f->kind;
	char *target;

	if (t == NULL) {
		spf_frame_result(c, SPF_NEUTRAL, "default");
		return;
	}
	if ((target = spf_dns_term_begin(c, f, t)) == NULL)
		return;
	target = xstrdup(target);
	spf_frame_clear(f);
	spf_frame_init(f, kind, true, target);
	free(target);
}

/* --- exp= (RFC 7208 6.2) --------------------------------------------------- */

static void
spf_exp_start(struct spf_check *c)
{
	struct spf_frame *f = spf_frame_top(c);
	const char *error;
	struct buf out;

	c->phase = SPF_PHASE_EXP_LOOKUP;
	if (spf_needs_ptr(c, f->rec.exp->spec)) {
		spf_ptr_start(c);
		return;
	}
	c->env.domain = f->domain;
	if (c->ptr_state == SPF_PTR_DONE)
		c->env.ptr = spf_ptr_choose(c, f->domain);
	buf_init(&out, SPF_EXPAND_MAX);
	if (spf_macro_expand(f->rec.exp->spec, strlen(f->rec.exp->spec),
	    SPF_MACRO_DOMAIN, &c->env, &out, &error) < 0 || out.len == 0) {
		buf_release(&out);
		spf_finish(c, SPF_FAIL, NULL);
		return;
	}
	spf_domain_truncate(out.data);
	spf_query(c, out.data, DNS_TYPE_TXT, SPF_WAIT_EXP);
	buf_release(&out);
}

static void
spf_exp_answer(struct spf_check *c, const struct dns_result *r)
{
	const char *error;

	/* RFC 7208 6.2: exactly one record, valid, or no explanation. */
	if (r->status != DNS_OK || r->count != 1 || memchr(r->rr.txt[0].data,
	    '\0', r->rr.txt[0].len) != NULL || r->rr.txt[0].len >
	    SPF_RECORD_MAX || spf_macro_check(r->rr.txt[0].data,
	    r->rr.txt[0].len, SPF_MACRO_EXPLAIN, NULL, &error) < 0) {
		spf_finish(c, SPF_FAIL, NULL);
		return;
	}
	c->exp_text = pool_strndup(c->pool, r->rr.txt[0].data,
	    r->rr.txt[0].len);
	c->phase = SPF_PHASE_EXP_EXPAND;
}

static void
spf_exp_expand(struct spf_check *c)
{
	struct spf_frame *f = spf_frame_top(c);
	const char *error;
	struct buf out;
	char *text;

	if (spf_needs_ptr(c, c->exp_text)) {
		spf_ptr_start(c);
		return;
	}
	c->env.domain = f->domain;
	if (c->ptr_state == SPF_PTR_DONE)
		c->env.ptr = spf_ptr_choose(c, f->domain);
	buf_init(&out, SPF_EXPAND_MAX);
	if (spf_macro_expand(c->exp_text, strlen(c->exp_text),
	    SPF_MACRO_EXPLAIN, &c->env, &out, &error) == 0) {
		size_t n = out.len < SPF_EXPLANATION_MAX ? out.len :
		    SPF_EXPLANATION_MAX;

		/* Macro values (a local part) may hold any octet; the text
		 * goes into an SMTP reply. */
		text = pool_strndup(c->pool, out.data != NULL ? out.data : "", n);
		for (char *p = text; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
		c->result.explanation = text;
	}
	buf_release(&out);
	spf_finish(c, SPF_FAIL, NULL);
}

/* --- answers and steps ------------------------------------------------------ */

/* The TXT answer for the frame on top (RFC 7208 4.4, 4.5). */
static void
spf_record_answer(struct spf_check *c, const struct dns_result *r)
{
	struct spf_frame *f = spf_frame_top(c);
	const struct dns_txt *rec = NULL;
	const char *error;
	size_t n = 0;

	if (spf_dns_temporary(c, r, "TXT"))
		return;
	for (size_t i = 0; r->status == DNS_OK && i < r->count; i++) {
		if (spf_record_is_v1(r->rr.txt[i].data, r->rr.txt[i].len)) {
			rec = &r->rr.txt[i];
			n++;
		}
	}
	if (n == 0) {
		if (f->kind == SPF_FRAME_INCLUDE || f->redirected)
			spf_permerror(c, pool_printf(c->pool, "%s: no SPF "
			    "record at %s", f->kind == SPF_FRAME_INCLUDE ?
			    "include" : "redirect", spf_esc(c, f->domain)));
		else
			spf_finish(c, SPF_NONE, "no SPF record");
		return;
	}
	if (n > 1) {
		spf_permerror(c, pool_printf(c->pool, "more than one SPF record "
		    "at %s", spf_esc(c, f->domain)));
		return;
	}
	if (spf_record_parse(rec->data, rec->len, f->pool, &f->rec,
	    &error) < 0) {
		spf_permerror(c, pool_printf(c->pool, "%s: %s", spf_esc(c,
		    f->domain), error));
		return;
	}
	f->have_record = true;
	f->next = 0;
}

static void
spf_mx_next(struct spf_check *c)
{
	struct spf_frame *f = spf_frame_top(c);

	if (c->mx_next < c->n_mx) {
		spf_query(c, c->mx_names[c->mx_next++], spf_addr_type(c),
		    SPF_WAIT_MX_ADDR);
		return;
	}
	f->next++;
}

static void
spf_mx_answer(struct spf_check *c, const struct dns_result *r)
{
	struct spf_frame *f = spf_frame_top(c);

	if (spf_dns_temporary(c, r, "MX"))
		return;
	c->n_mx = c->mx_next = 0;
	if (r->status != DNS_OK) {
		if (spf_void(c) == 0)
			f->next++;
		return;
	}
	/* RFC 7208 4.6.4: more than 10 exchanges is a permerror. */
	if (r->count + r->malformed > SPF_MX_NAMES_MAX) {
		spf_permerror(c, pool_printf(c->pool, "more than 10 MX records "
		    "at %s", spf_esc(c, r->name)));
		return;
	}
	for (size_t i = 0; i < r->count; i++) {
		/* A null MX (RFC 7505) names no host. */
		if (strcmp(r->rr.mx[i].exchange, ".") == 0)
			continue;
		c->mx_names[c->n_mx++] = pool_strdup(f->pool,
		    r->rr.mx[i].exchange);
	}
	spf_mx_next(c);
}

static void
spf_answer(struct spf_check *c, const struct dns_result *r)
{
	struct spf_frame *f = spf_frame_top(c);
	const struct spf_term *t = f->have_record && f->next < f->rec.n_terms ?
	    &f->rec.terms[f->next] : NULL;

	switch (c->wait) {
	case SPF_WAIT_RECORD:
		spf_record_answer(c, r);
		return;
	case SPF_WAIT_A:
	case SPF_WAIT_EXISTS:
		if (spf_dns_temporary(c, r, dns_type_name(r->rrtype)))
			return;
		if (r->status != DNS_OK || r->count == 0) {
			if (spf_void(c) == 0)
				f->next++;
			return;
		}
		if (c->wait == SPF_WAIT_EXISTS ||
		    spf_addrs_match(c, r, t->cidr4, t->cidr6))
			spf_frame_result(c, t->qualifier, t->text);
		else
			f->next++;
		return;
	case SPF_WAIT_MX:
		spf_mx_answer(c, r);
		return;
	case SPF_WAIT_MX_ADDR:
		if (spf_dns_temporary(c, r, dns_type_name(r->rrtype)))
			return;
		if (spf_addrs_match(c, r, c->mx_term->cidr4,
		    c->mx_term->cidr6))
			spf_frame_result(c, c->mx_term->qualifier,
			    c->mx_term->text);
		else
			spf_mx_next(c);
		return;
	case SPF_WAIT_PTR:
		spf_ptr_answer(c, r);
		return;
	case SPF_WAIT_PTR_ADDR:
		spf_ptr_addr_answer(c, r);
		return;
	case SPF_WAIT_EXP:
		spf_exp_answer(c, r);
		return;
	}
}

/* One step without an answer to take: decide or start a query. */
static void
spf_step(struct spf_check *c)
{
	struct spf_frame *f = spf_frame_top(c);

	switch (c->phase) {
	case SPF_PHASE_EXP_LOOKUP:
		spf_exp_start(c);	/* again, after the validated names */
		return;
	case SPF_PHASE_EXP_EXPAND:
		spf_exp_expand(c);
		return;
	case SPF_PHASE_EVAL:
		break;
	}
	if (!f->have_record) {
		spf_query(c, f->domain, DNS_TYPE_TXT, SPF_WAIT_RECORD);
		return;
	}
	if (f->next < f->rec.n_terms)
		spf_term_eval(c, f, &f->rec.terms[f->next]);
	else
		spf_record_end(c, f);
}

/*
 * Runs until the evaluation waits for DNS or is over; reports the result
 * then. Every step either decides a term, moves to another one, ends a
 * frame or starts a query, so this loop is bounded by the terms of the
 * records, which are bounded by SPF_TERMS_MAX and the DNS limits.
 */
static void
spf_run(struct spf_check *c)
{
	c->running = true;
	while (!c->finished && !c->waiting) {
		if (c->answer != NULL) {
			struct dns_result *r = c->answer;

			c->answer = NULL;
			spf_answer(c, r);
			dns_result_free(&r);
		} else {
			spf_step(c);
		}
	}
	c->running = false;
	if (c->finished)
		spf_report(c);
}

static void
spf_dns_cb(void *ctx, struct dns_result *r)
{
	struct spf_check *c = ctx;

	c->query = NULL;
	c->waiting = false;
	c->answer = r;
	if (!c->running)
		spf_run(c);
}

static void
spf_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spf_check *c = arg;

	spf_run(c);
}

static void
spf_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spf_check *c = arg;

	if (c->query != NULL) {
		c->dns.cancel(c->dns.ctx, c->query);
		c->query = NULL;
	}
	c->waiting = false;
	spf_finish(c, SPF_TEMPERROR, "the evaluation took too long");
	spf_report(c);
}

/* --- the request ------------------------------------------------------------- */

/* The client's address, and what the macros i, c and v say of it. */
static int
spf_check_ip(struct spf_check *c, const char *ip)
{
	char text[INET6_ADDRSTRLEN], nibbles[64 + 1];
	static const char hex[] = "0123456789abcdef";

	if (inet_pton(AF_INET, ip, &c->ip4) == 1) {
		c->family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, &c->ip6) == 1) {
		c->family = AF_INET6;
		/* RFC 7208 5: an IPv4-mapped address is the IPv4 one. */
		if (IN6_IS_ADDR_V4MAPPED(&c->ip6)) {
			memcpy(&c->ip4, &c->ip6.s6_addr[12], 4);
			c->family = AF_INET;
		}
	} else {
		return -1;
	}
	if (inet_ntop(c->family, c->family == AF_INET ? (void *)&c->ip4 :
	    (void *)&c->ip6, text, sizeof(text)) == NULL)
		return -1;
	c->env.ip_text = pool_strdup(c->pool, text);
	if (c->family == AF_INET) {
		c->env.ip = c->env.ip_text;
		c->env.ip_version = "in-addr";
	} else {
		/* RFC 7208 7.3: dot-separated nibbles, in order. */
		for (size_t i = 0; i < 16; i++) {
			nibbles[i * 4] = hex[c->ip6.s6_addr[i] >> 4];
			nibbles[i * 4 + 1] = '.';
			nibbles[i * 4 + 2] = hex[c->ip6.s6_addr[i] & 0xf];
			nibbles[i * 4 + 3] = '.';
		}
		nibbles[63] = '\0';
		c->env.ip = pool_strdup(c->pool, nibbles);
		c->env.ip_version = "ip6";
	}
	if (dns_ptr_name(c->family, c->family == AF_INET ? (void *)&c->ip4 :
	    (void *)&c->ip6, c->ptr_qname, sizeof(c->ptr_qname)) < 0)
		return -1;
	return 0;
}

/* The identity and <domain> (RFC 7208 2.3, 2.4, 4.1, 4.3). Returns 0, or
 * -1 if the domain is no valid multi-label name ("none"). */
static int
spf_check_identity(struct spf_check *c, const struct spf_request *req)
{
	const char *helo = req->helo != NULL ? req->helo : "";
	const char *mail = req->mail_from != NULL ? req->mail_from : "";
	const char *at, *local, *domain, *error;
	char norm[DNS_NAME_MAX + 1];

	if (mail[0] == '\0') {
		c->result.identity = SPF_IDENTITY_HELO;
		local = "postmaster";
		domain = helo;
	} else {
		c->result.identity = SPF_IDENTITY_MAILFROM;
		at = strrchr(mail, '@');
		domain = at != NULL ? at + 1 : mail;
		local = at != NULL && at > mail ? pool_strndup(c->pool, mail,
		    (size_t)(at - mail)) : "postmaster";
	}
	c->env.local = local;
	c->env.helo = pool_strdup(c->pool, helo);
	c->env.receiver = spf_pool_strdup_null(c->pool, req->hostname);
	c->env.now = time(NULL);
	c->result.domain = spf_esc(c, domain);
	/* RFC 7208 4.3: a malformed or single-label domain is "none". */
	if (dns_name_normalize(domain, 0, norm, sizeof(norm), &error) < 0 ||
	    strchr(norm, '.') == NULL) {
		c->env.sender = pool_printf(c->pool, "%s@%s", local, domain);
		c->result.sender = spf_esc(c, c->env.sender);
		c->result.problem = pool_printf(c->pool, "%s is not a valid "
		    "domain name", c->result.domain);
		return -1;
	}
	c->env.sender_domain = pool_strdup(c->pool, norm);
	c->env.sender = pool_printf(c->pool, "%s@%s", local, norm);
	c->env.domain = c->env.sender_domain;
	c->result.domain = c->env.sender_domain;
	c->result.sender = spf_esc(c, c->env.sender);
	return 0;
}

struct spf_check *
spf_check_start(struct event_base *base, const struct spf_dns *dns,
    const struct spf_request *req, spf_check_callback *cb, void *ctx,
    const char **error_r)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));
	struct timeval now = { 0, 0 };
	struct timeval limit = { .tv_sec = req->timeout > 0 ? req->timeout :
	    SPF_TIMEOUT_DEFAULT, .tv_usec = 0 };

	c->base = base;
	c->dns = *dns;
	c->cb = cb;
	c->cb_ctx = ctx;
	c->pool = pool_new(SPF_POOL_CHUNK);
	if (req->ip == NULL || spf_check_ip(c, req->ip) < 0) {
		pool_free(&c->pool);
		free(c);
		*error_r = "not an IPv4 or IPv6 address";
		return NULL;
	}
	c->kick = evtimer_new(base, spf_kick_cb, c);
	c->timer = evtimer_new(base, spf_timer_cb, c);
	if (c->kick == NULL || c->timer == NULL)
		abort();
	if (spf_check_identity(c, req) < 0) {
		spf_finish(c, SPF_NONE, NULL);
	} else {
		spf_frame_init(&c->frames[0], SPF_FRAME_TOP, false,
		    c->env.sender_domain);
		c->depth = 1;
		evtimer_add(c->timer, &limit);
	}
	/* Even a result known now is reported from the loop. */
	evtimer_add(c->kick, &now);
	return c;
}

void
spf_check_free(struct spf_check **checkp)
{
	struct spf_check *c = *checkp;

	if (c == NULL)
		return;
	if (c->query != NULL)
		c->dns.cancel(c->dns.ctx, c->query);
	dns_result_free(&c->answer);
	for (size_t i = 0; i < c->depth; i++)
		pool_free(&c->frames[i].pool);
	event_free(c->kick);
	event_free(c->timer);
	pool_free(&c->pool);
	free(c);
	*checkp = NULL;
}
