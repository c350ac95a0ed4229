/*
 * dmarc.c - DMARC policy discovery and evaluation (see dmarc.h):
 * RFC 7489 sections 3.1 (alignment), 6.3/6.4 (record), 6.6 (receiver
 * actions).
 */
#include "auth/dmarc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpsl.h>

#include "core/xalloc.h"
#include "dns/dns.h"
#include "dns/dns-name.h"

/* "_dmarc." and a name of at most DNS_NAME_MAX. */
#define DMARC_QNAME_MAX (7 + DNS_NAME_MAX)

static bool
dmarc_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Case-insensitive compare of s[0..len) with a lower-case word. */
static bool
dmarc_word(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

static int
dmarc_policy_parse(const char *s, size_t len, enum dmarc_policy *p_r)
{
	if (dmarc_word(s, len, "none"))
		*p_r = DMARC_POLICY_NONE;
	else if (dmarc_word(s, len, "quarantine"))
		*p_r = DMARC_POLICY_QUARANTINE;
	else if (dmarc_word(s, len, "reject"))
		*p_r = DMARC_POLICY_REJECT;
	else
		return -1;
	return 0;
}

/* RFC 7489 6.4 dmarc-uri: a URI (RFC 3986) with an optional size; a
 * scheme followed by ':' and something is valid enough to count. */
static bool
dmarc_rua_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || !isalpha((unsigned char)s[0]))
		return false;
	while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '+' ||
	    s[i] == '-' || s[i] == '.'))
		i++;
	return i < len && s[i] == ':' && i + 1 < len;
}

int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec,
    const char **error_r)
{
	const char *p = txt, *end = txt + len;
	bool have_p = false, bad_p = false, bad_sp = false, rua_ok = false;
	bool seen_pct = false, seen_rua = false;
	unsigned tags = 0;

	memset(rec, 0, sizeof(*rec));
	rec->pct = 100;
	if (len > DMARC_RECORD_MAX || memchr(txt, '\0', len) != NULL) {
		/* Not a record anyone meant as a policy. */
		*error_r = "record too long or has a NUL byte";
		return len >= 8 && memcmp(txt, "v=DMARC1", 8) == 0 ? -1 : 0;
	}

	while (p < end) {
		const char *name, *value, *semi;
		size_t nlen, vlen, left;

		while (p < end && dmarc_wsp(*p))
			p++;
		/* As an offset from the start: gcc -O3 cannot see p <= end. */
		left = len - (size_t)(p - txt);
		semi = left > 0 ? memchr(p, ';', left) : NULL;
		if (semi == NULL)
			semi = end;
		/* tag: name *WSP "=" *WSP value *WSP */
		name = p;
		while (p < semi && (isalnum((unsigned char)*p) || *p == '_'))
			p++;
		nlen = (size_t)(p - name);
		while (p < semi && dmarc_wsp(*p))
			p++;
		if (tags == 0) {
			/* RFC 7489 6.4: the version comes first, exactly
			 * "v=DMARC1" (case-sensitive value). */
			if (nlen != 1 || name[0] != 'v' || p == semi ||
			    *p != '=')
				return 0;
			p++;
			while (p < semi && dmarc_wsp(*p))
				p++;
			value = p;
			vlen = (size_t)(semi - value);
			while (vlen > 0 && dmarc_wsp(value[vlen - 1]))
				vlen--;
			if (vlen != 6 || memcmp(value, "DMARC1", 6) != 0)
				return 0;
			tags++;
			p = semi < end ? semi + 1 : end;
			continue;
		}
		if (nlen == 0 && p == semi) {
			/* An empty tag: "v=DMARC1;" or ";;". */
			p = semi < end ? semi + 1 : end;
			continue;
		}
		if (++tags > DMARC_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		if (nlen == 0 || p == semi || *p != '=') {
			/* A malformed tag is skipped, as an unknown one is
			 * (RFC 7489 6.3); only p= and sp= matter here. */
			p = semi < end ? semi + 1 : end;
			continue;
		}
		p++;
		while (p < semi && dmarc_wsp(*p))
			p++;
		value = p;
		vlen = (size_t)(semi - value);
		while (vlen > 0 && dmarc_wsp(value[vlen - 1]))
			vlen--;

		if (dmarc_word(name, nlen, "p")) {
			if (!have_p && !bad_p) {
				if (dmarc_policy_parse(value, vlen,
				    &rec->p) == 0)
					have_p = true;
				else
					bad_p = true;
			}
		} else if (dmarc_word(name, nlen, "sp")) {
			if (!rec->has_sp && !bad_sp) {
				if (dmarc_policy_parse(value, vlen,
				    &rec->sp) == 0)
					rec->has_sp = true;
				else
					bad_sp = true;
			}
		} else if (dmarc_word(name, nlen, "pct")) {
			unsigned n = 0;
			size_t i;

			if (!seen_pct && vlen >= 1 && vlen <= 3) {
				for (i = 0; i < vlen; i++) {
					if (!isdigit((unsigned char)value[i]))
						break;
					n = n * 10 + (unsigned)(value[i] - '0');
				}
				if (i == vlen && n <= 100)
					rec->pct = n;
			}
			seen_pct = true;
		} else if (dmarc_word(name, nlen, "adkim")) {
			rec->adkim_strict = dmarc_word(value, vlen, "s");
		} else if (dmarc_word(name, nlen, "aspf")) {
			rec->aspf_strict = dmarc_word(value, vlen, "s");
		} else if (dmarc_word(name, nlen, "rua")) {
			const char *comma;

			if (!seen_rua) {
				comma = memchr(value, ',', vlen);
				rua_ok = dmarc_rua_valid(value, comma != NULL ?
				    (size_t)(comma - value) : vlen);
				if (vlen > DMARC_RUA_MAX)
					vlen = DMARC_RUA_MAX;
				memcpy(rec->rua, value, vlen);
				rec->rua[vlen] = '\0';
			}
			seen_rua = true;
		}
		/* ruf, fo, rf, ri and unknown tags are not used. */
		p = semi < end ? semi + 1 : end;
	}
	if (tags == 0)
		return 0;

	/* RFC 7489 6.6.3 step 6: a bad or missing p=, or a bad sp=, makes
	 * the record "p=none" if it names a valid report address, and no
	 * policy at all otherwise. */
	if (!have_p || bad_sp) {
		if (!rua_ok) {
			*error_r = !have_p ? "no valid p= tag" :
			    "invalid sp= tag";
			return -1;
		}
		rec->p = DMARC_POLICY_NONE;
		rec->has_sp = false;
	}
	if (!rec->has_sp)
		rec->sp = rec->p;
	return 1;
}

/*
 * The Public Suffix List, loaded once: psl_latest() takes whichever is
 * newer of the copy built into libpsl and Debian's publicsuffix file.
 * The content checks of the spam filter call dmarc_org_domain() on
 * worker threads, so the load goes through pthread_once; afterwards the
 * context is only read, which libpsl allows from any thread.
 */
static psl_ctx_t *dmarc_psl_ctx;
static pthread_once_t dmarc_psl_once = PTHREAD_ONCE_INIT;

static void
dmarc_psl_load(void)
{
	dmarc_psl_ctx = psl_latest(NULL);
}

static const psl_ctx_t *
dmarc_psl(void)
{
	(void)pthread_once(&dmarc_psl_once, dmarc_psl_load);
	return dmarc_psl_ctx;
}

int
dmarc_org_domain(const char *domain, char *out, size_t outlen)
{
	const psl_ctx_t *psl = dmarc_psl();
	const char *reg = NULL;
	size_t len;

	if (psl != NULL)
		reg = psl_registrable_domain(psl, domain);
	if (reg == NULL)
		reg = domain;
	len = strlen(reg);
	if (len >= outlen)
		return -1;
	memcpy(out, reg, len + 1);
	return 0;
}

bool
dmarc_aligned(const char *a, const char *b, bool strict)
{
	char oa[DNS_NAME_MAX + 1], ob[DNS_NAME_MAX + 1];

	if (a == NULL || b == NULL)
		return false;
	if (strcasecmp(a, b) == 0)
		return true;
	if (strict)
		return false;
	if (dmarc_org_domain(a, oa, sizeof(oa)) < 0 ||
	    dmarc_org_domain(b, ob, sizeof(ob)) < 0)
		return false;
	return strcasecmp(oa, ob) == 0;
}

void
dmarc_evaluate(const struct dmarc_record *rec, bool at_org,
    const struct dmarc_input *in, struct dmarc_result *r)
{
	size_t i;

	r->record = *rec;
	r->spf_aligned = in->spf_domain != NULL &&
	    dmarc_aligned(in->spf_domain, r->from_domain, rec->aspf_strict);
	r->dkim_aligned = false;
	for (i = 0; i < in->n_dkim && !r->dkim_aligned; i++)
		r->dkim_aligned = dmarc_aligned(in->dkim_domains[i],
		    r->from_domain, rec->adkim_strict);
	/* sp= is for subdomains: it applies when the record was found at
	 * the organizational domain, not at the From domain itself. */
	r->policy = at_org ? rec->sp : rec->p;
	r->sampled_out = false;
	if (r->spf_aligned || r->dkim_aligned) {
		r->status = DMARC_PASS;
		r->disposition = DMARC_POLICY_NONE;
		(void)snprintf(r->reason, sizeof(r->reason),
		    "aligned %s%s%s pass", r->spf_aligned ? "spf" : "",
		    r->spf_aligned && r->dkim_aligned ? " and " : "",
		    r->dkim_aligned ? "dkim" : "");
		return;
	}
	r->status = DMARC_FAIL;
	r->disposition = r->policy;
	/* RFC 7489 6.6.4: a message left out by pct gets the next milder
	 * policy. */
	if (rec->pct < 100 && r->policy != DMARC_POLICY_NONE &&
	    arc4random_uniform(100) >= rec->pct) {
		r->sampled_out = true;
		r->disposition = r->policy == DMARC_POLICY_REJECT ?
		    DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
	}
	(void)snprintf(r->reason, sizeof(r->reason),
	    "no aligned pass (spf %s, dkim %s); policy %s%s",
	    in->spf_domain == NULL ? "did not pass" :
	    rec->aspf_strict ? "not strictly aligned" : "not aligned",
	    in->n_dkim == 0 ? "did not pass" :
	    rec->adkim_strict ? "not strictly aligned" : "not aligned",
	    dmarc_policy_name(r->policy),
	    r->sampled_out ? ", sampled out by pct" : "");
}

const char *
dmarc_status_name(enum dmarc_status status)
{
	switch (status) {
	case DMARC_NONE:
		return "none";
	case DMARC_PASS:
		return "pass";
	case DMARC_FAIL:
		return "fail";
	case DMARC_TEMPERROR:
		return "temperror";
	case DMARC_PERMERROR:
		return "permerror";
	}
	return "none";
}

const char *
dmarc_policy_name(enum dmarc_policy policy)
{
	switch (policy) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	}
	return "none";
}

struct dmarc_check {
	struct dns *dns;
	dmarc_callback *cb;
	void *ctx;
	struct dns_query *query;	/* while one is pending */
	struct event *later;	/* to answer from the loop without DNS */
	bool at_org;		/* the query is the organizational one */
	char org[DNS_NAME_MAX + 1];
	/* the input, copied */
	char *spf_domain;
	char **dkim_domains;
	size_t n_dkim;
	struct dmarc_result result;
};

static void
dmarc_check_free(struct dmarc_check **checkp)
{
	struct dmarc_check *ck = *checkp;
	size_t i;

	if (ck == NULL)
		return;
	*checkp = NULL;
	dns_query_cancel(&ck->query);
	if (ck->later != NULL)
		event_free(ck->later);
	free(ck->spf_domain);
	for (i = 0; i < ck->n_dkim; i++)
		free(ck->dkim_domains[i]);
	free(ck->dkim_domains);
	free(ck);
}

static void
dmarc_check_finish(struct dmarc_check *ck)
{
	ck->cb(ck->ctx, &ck->result);
	dmarc_check_free(&ck);
}

static void
dmarc_check_later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dmarc_check_finish(arg);
}

static void dmarc_check_ask(struct dmarc_check *ck, const char *domain);

static void
dmarc_check_answer(void *arg, struct dns_result *res)
{
	struct dmarc_check *ck = arg;
	struct dmarc_result *r = &ck->result;
	struct dmarc_record rec, found = { .pct = 100 };
	const char *error = NULL, *perror = NULL;
	size_t i, n = 0;

	ck->query = NULL;
	/* BADNAME: "_dmarc." made the name too long; nobody can publish
	 * a record there, so there is none. */
	if (res->status != DNS_OK && res->status != DNS_NODATA &&
	    res->status != DNS_NXDOMAIN && res->status != DNS_BADNAME) {
		r->status = DMARC_TEMPERROR;
		(void)snprintf(r->reason, sizeof(r->reason),
		    "DNS error looking up _dmarc.%s: %s",
		    ck->at_org ? ck->org : r->from_domain,
		    dns_status_name(res->status));
		dns_result_free(&res);
		dmarc_check_finish(ck);
		return;
	}
	for (i = 0; res->status == DNS_OK && i < res->count; i++) {
		switch (dmarc_record_parse(res->rr.txt[i].data,
		    res->rr.txt[i].len, &rec, &error)) {
		case 1:
			if (n++ == 0)
				found = rec;
			break;
		case -1:
			n++;
			perror = error;
			break;
		default:
			break;
		}
	}
	dns_result_free(&res);

	if (n == 0 && !ck->at_org && strcmp(ck->org, r->from_domain) != 0) {
		/* RFC 7489 6.6.3 step 3: try the organizational domain. */
		ck->at_org = true;
		dmarc_check_ask(ck, ck->org);
		return;
	}
	if (n != 1 || perror != NULL) {
		/* Steps 4 and 6: none, several, or a broken record mean
		 * no DMARC processing at all. */
		r->status = DMARC_NONE;
		(void)snprintf(r->reason, sizeof(r->reason), "%s",
		    n == 0 ? "no DMARC record" :
		    n > 1 ? "more than one DMARC record" : perror);
		dmarc_check_finish(ck);
		return;
	}
	(void)snprintf(r->policy_domain, sizeof(r->policy_domain), "%s",
	    ck->at_org ? ck->org : r->from_domain);
	{
		struct dmarc_input in = {
			.from_domain = r->from_domain,
			.spf_domain = ck->spf_domain,
			.dkim_domains = (const char *const *)ck->dkim_domains,
			.n_dkim = ck->n_dkim,
		};

		dmarc_evaluate(&found, ck->at_org, &in, r);
	}
	dmarc_check_finish(ck);
}

static void
dmarc_check_ask(struct dmarc_check *ck, const char *domain)
{
	char qname[DMARC_QNAME_MAX + 1];

	/* domain is normalized and at most DNS_NAME_MAX long; the query
	 * name may still be too long, which dns_query answers BADNAME, an
	 * error that is not temporary: no record. */
	(void)snprintf(qname, sizeof(qname), "_dmarc.%s", domain);
	ck->query = dns_query(ck->dns, qname, DNS_TYPE_TXT,
	    dmarc_check_answer, ck);
}

struct dmarc_check *
dmarc_check_start(struct event_base *base, struct dns *dns,
    const struct dmarc_input *in, dmarc_callback *cb, void *ctx)
{
	struct dmarc_check *ck = xcalloc(1, sizeof(*ck));
	struct dmarc_result *r = &ck->result;
	const char *error;
	size_t i;

	ck->dns = dns;
	ck->cb = cb;
	ck->ctx = ctx;
	r->status = DMARC_NONE;
	if (in->spf_domain != NULL)
		ck->spf_domain = xstrdup(in->spf_domain);
	if (in->n_dkim > 0) {
		ck->dkim_domains = xcalloc(in->n_dkim, sizeof(char *));
		for (i = 0; i < in->n_dkim; i++)
			ck->dkim_domains[i] = xstrdup(in->dkim_domains[i]);
		ck->n_dkim = in->n_dkim;
	}

	if (in->from_domain == NULL || dns_name_normalize(in->from_domain,
	    0, r->from_domain, sizeof(r->from_domain), &error) < 0 ||
	    strchr(r->from_domain, '.') == NULL ||
	    dmarc_org_domain(r->from_domain, ck->org, sizeof(ck->org)) < 0) {
		/* RFC 7489 6.6.1: no single usable From domain. */
		r->status = DMARC_PERMERROR;
		r->from_domain[0] = '\0';
		(void)snprintf(r->reason, sizeof(r->reason),
		    "no usable From domain");
		ck->later = evtimer_new(base, dmarc_check_later_cb, ck);
		event_active(ck->later, EV_TIMEOUT, 0);
		return ck;
	}
	dmarc_check_ask(ck, r->from_domain);
	return ck;
}

void
dmarc_check_cancel(struct dmarc_check **checkp)
{
	dmarc_check_free(checkp);
}
