/*
 * auth-check.c - SPF, DKIM and DMARC of one message, and its
 * Authentication-Results field (see auth-check.h).
 *
 * SPF (when not given) and DKIM run at the same time; DMARC needs both
 * results, so it starts when the last of them is in.
 */
#include "auth/auth-check.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "auth/authres.h"
#include "auth/dkim.h"
#include "auth/spf.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "mime/header.h"
#include "mime/mime-imap.h"

struct auth_check {
	struct event_base *base;
	struct dns *dns;
	auth_check_callback *cb;
	void *ctx;

	struct spf_check *spf_check;	/* while SPF runs here */
	struct dkim_verify *dkim_verify;	/* while keys are looked up */
	struct dmarc_check *dmarc_check;
	bool spf_done, dkim_done;

	char *authserv_id;
	bool from_ok;			/* one From: domain, in from */
	bool from_absent;		/* no From: author at all */
	char from[256];
	const char *from_why;		/* when !from_ok */
	struct auth_check_result result;
};

/* The From: domains, address by address. */
struct auth_from_scan {
	char domain[256];
	size_t n;
	bool several;		/* two different domains */
	bool bad;		/* a domain too long to keep */
};

static void
auth_from_one(void *ctx, const char *local, size_t local_len,
    const char *domain, size_t domain_len)
{
	struct auth_from_scan *fs = ctx;
	size_t i;

	(void)local;
	(void)local_len;
	if (fs->n++ >= AUTH_CHECK_FROM_MAX)
		return;
	if (domain_len == 0 || domain_len >= sizeof(fs->domain)) {
		fs->bad = true;
		return;
	}
	if (fs->n == 1) {
		for (i = 0; i < domain_len; i++)
			fs->domain[i] = (char)(domain[i] >= 'A' &&
			    domain[i] <= 'Z' ? domain[i] + 32 : domain[i]);
		fs->domain[domain_len] = '\0';
	} else if (strlen(fs->domain) != domain_len ||
	    strncasecmp(fs->domain, domain, domain_len) != 0) {
		fs->several = true;
	}
}

int
auth_check_from_domain(const char *msg, size_t len, char *out, size_t outlen,
    const char **why_r)
{
	struct auth_from_scan fs;
	struct pool *pool;
	const char *value;

	if (header_count(msg, len, "From") == 0) {
		*why_r = "no From: field";
		return AUTH_CHECK_FROM_NONE;
	}
	if (header_count(msg, len, "From") > 1) {
		*why_r = "more than one From: field";
		return AUTH_CHECK_FROM_AMBIGUOUS;
	}
	memset(&fs, 0, sizeof(fs));
	pool = pool_new(1024);
	value = header_get(msg, len, "From", pool);
	if (value != NULL)
		(void)mime_addr_list_foreach(value, strlen(value),
		    auth_from_one, &fs);
	pool_free(&pool);
	if (fs.several) {
		*why_r = "From: names more than one domain";
		return AUTH_CHECK_FROM_AMBIGUOUS;
	}
	if (fs.n == 0 || fs.bad || strlen(fs.domain) >= outlen) {
		*why_r = "no usable address in From:";
		return AUTH_CHECK_FROM_NONE;
	}
	memcpy(out, fs.domain, strlen(fs.domain) + 1);
	return 0;
}

/* The field, from the results. */
static void
auth_check_header(struct auth_check *ck)
{
	struct auth_check_result *r = &ck->result;
	struct buf *h = &r->header;
	const struct spf_result *spf = r->spf;
	size_t i;
	int e = 0;

	e |= authres_begin(h, ck->authserv_id);
	if (spf != NULL) {
		const char *why = spf->problem != NULL ? spf->problem :
		    spf->mechanism;

		e |= authres_method(h, "spf", spf_status_name(spf->status),
		    why);
		if (spf->identity == SPF_IDENTITY_HELO)
			e |= authres_prop(h, "smtp.helo", spf->domain);
		else
			e |= authres_prop(h, "smtp.mailfrom", spf->sender);
	}
	if (r->dkim == NULL || r->dkim->n_sigs == 0) {
		e |= authres_method(h, "dkim", "none", NULL);
	} else {
		for (i = 0; i < r->dkim->n_sigs; i++) {
			const struct dkim_sig_result *s = &r->dkim->sigs[i];

			e |= authres_method(h, "dkim",
			    dkim_status_name(s->status), s->reason);
			if (s->domain != NULL)
				e |= authres_prop(h, "header.d", s->domain);
			if (s->selector != NULL)
				e |= authres_prop(h, "header.s", s->selector);
			if (s->algorithm != NULL)
				e |= authres_prop(h, "header.a", s->algorithm);
			if (s->b != NULL)
				e |= authres_prop(h, "header.b", s->b);
		}
	}
	e |= authres_method(h, "dmarc", dmarc_status_name(r->dmarc.status),
	    r->dmarc.status == DMARC_PASS ? NULL : r->dmarc.reason);
	if (r->dmarc.from_domain[0] != '\0')
		e |= authres_prop(h, "header.from", r->dmarc.from_domain);
	e |= authres_end(h, true);
	if (e != 0) {
		/* Cannot happen within AUTH_CHECK_HEADER_MAX: every value is
		 * cut, and there are at most DKIM_SIGS_MAX signatures. */
		buf_reset(h);
		(void)authres_begin(h, ck->authserv_id);
		(void)authres_end(h, false);
	}
}

static void
auth_check_free(struct auth_check **checkp)
{
	struct auth_check *ck = *checkp;

	if (ck == NULL)
		return;
	*checkp = NULL;
	spf_check_free(&ck->spf_check);
	dkim_verify_cancel(&ck->dkim_verify);
	dmarc_check_cancel(&ck->dmarc_check);
	dkim_verify_result_free(&ck->result.dkim);
	buf_release(&ck->result.header);
	free(ck->authserv_id);
	free(ck);
}

static void
auth_check_finish(struct auth_check *ck)
{
	struct auth_check_result *r = &ck->result;

	if (!ck->from_ok && !ck->from_absent)
		r->disposition = DMARC_POLICY_QUARANTINE;
	else if (r->dmarc.status == DMARC_FAIL)
		r->disposition = r->dmarc.disposition;
	else
		r->disposition = DMARC_POLICY_NONE;
	auth_check_header(ck);
	ck->cb(ck->ctx, r);
	auth_check_free(&ck);
}

static void
auth_check_dmarc_done(void *ctx, const struct dmarc_result *result)
{
	struct auth_check *ck = ctx;

	ck->dmarc_check = NULL;
	ck->result.dmarc = *result;
	auth_check_finish(ck);
}

/* SPF and DKIM are in: DMARC. */
static void
auth_check_step(struct auth_check *ck)
{
	struct auth_check_result *r = &ck->result;
	const char *passed[DKIM_SIGS_MAX];
	struct dmarc_input in = { .from_domain = ck->from };
	size_t i;

	if (!ck->spf_done || !ck->dkim_done)
		return;
	if (!ck->from_ok) {
		/* Without a From: address there is no author to
		 * impersonate: no policy applies (RFC 7489 6.6.1 leaves it
		 * to the receiver). */
		r->dmarc.status = ck->from_absent ? DMARC_NONE :
		    DMARC_PERMERROR;
		(void)snprintf(r->dmarc.reason, sizeof(r->dmarc.reason), "%s",
		    ck->from_why);
		auth_check_finish(ck);
		return;
	}
	if (r->spf != NULL && r->spf->status == SPF_PASS)
		in.spf_domain = r->spf->domain;
	for (i = 0; r->dkim != NULL && i < r->dkim->n_sigs &&
	    in.n_dkim < DKIM_SIGS_MAX; i++) {
		if (r->dkim->sigs[i].status == DKIM_PASS &&
		    r->dkim->sigs[i].domain != NULL)
			passed[in.n_dkim++] = r->dkim->sigs[i].domain;
	}
	in.dkim_domains = passed;
	ck->dmarc_check = dmarc_check_start(ck->base, ck->dns, &in,
	    auth_check_dmarc_done, ck);
}

static void
auth_check_spf_done(void *ctx, const struct spf_result *result)
{
	struct auth_check *ck = ctx;

	/* The result lives with the check, which stays until the end. */
	ck->result.spf = result;
	ck->spf_done = true;
	auth_check_step(ck);
}

static void
auth_check_dkim_done(void *ctx, struct dkim_verify_result *result)
{
	struct auth_check *ck = ctx;

	ck->dkim_verify = NULL;
	ck->result.dkim = result;
	ck->dkim_done = true;
	auth_check_step(ck);
}

struct auth_check *
auth_check_start(struct event_base *base, struct dns *dns,
    const struct spf_dns *spf_dns, struct dkim_verifier *verifier,
    const struct auth_check_request *req, auth_check_callback *cb,
    void *ctx)
{
	struct auth_check *ck = xcalloc(1, sizeof(*ck));
	const char *error;

	ck->base = base;
	ck->dns = dns;
	ck->cb = cb;
	ck->ctx = ctx;
	ck->authserv_id = xstrdup(req->authserv_id);
	buf_init(&ck->result.header, AUTH_CHECK_HEADER_MAX);
	switch (auth_check_from_domain(req->msg, req->len, ck->from,
	    sizeof(ck->from), &ck->from_why)) {
	case 0:
		ck->from_ok = true;
		break;
	case AUTH_CHECK_FROM_NONE:
		ck->from_absent = true;
		break;
	default:
		break;
	}

	ck->result.spf = req->spf;
	ck->spf_done = true;
	if (req->spf == NULL && req->ip != NULL) {
		struct spf_request sreq = {
			.ip = req->ip,
			.mail_from = req->mail_from != NULL ?
			    req->mail_from : "",
			.helo = req->helo,
			.hostname = req->authserv_id,
		};

		ck->spf_check = spf_check_start(base, spf_dns, &sreq,
		    auth_check_spf_done, ck, &error);
		ck->spf_done = ck->spf_check == NULL;
	}
	/* DKIM hashes the message now; only key lookups come later. */
	ck->dkim_verify = dkim_verify_start(verifier, req->msg, req->len,
	    req->now, auth_check_dkim_done, ck);
	return ck;
}

void
auth_check_cancel(struct auth_check **checkp)
{
	auth_check_free(checkp);
}
