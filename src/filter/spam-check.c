/*
 * spam-check.c - the pipeline of spam-check.h.
 *
 * Stages, in order:
 *  1. on the loop, at start: the sender authentication results are
 *     summarized (the auth-check result is the caller's and goes away);
 *  2. on a storeq worker: the hosted domains are read, the message is
 *     parsed once (mime_parse) and every content check runs on it;
 *  3. on the loop: the milters of [milter] (filter/milter.h), if the
 *     listener has them, get the message; their header changes are
 *     applied to it, a quarantine adds MILTER_QUARANTINE (which holds);
 *  4. on the loop: the action is chosen, the header rendered, and the
 *     callback called.
 *
 * A cancelled check whose job is on a worker is only marked; the job's
 * done callback, on the loop, frees it (with the message it holds).
 *
 * SECURITY: see spam-check.h. The worker never touches the session; the
 * session never touches the check's message while the worker has it.
 */
#include "filter/spam-check.h"

#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth-check.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "filter/spam-attach.h"
#include "filter/spam-content.h"
#include "filter/spam-html.h"
#include "filter/bayes.h"
#include "filter/milter.h"
#include "filter/spam-lists.h"
#include "mime/mime.h"
#include "store/store.h"
#include "store/storeq.h"

/* Hosted domains the content checks compare with, at most. */
#define SPAM_LOCAL_DOMAINS_MAX 1000

struct spam_filter {
	struct event_base *base;
	const struct config *cfg;
	struct storeq *storeq;
	struct spam_weights weights;
	struct spam_thresholds thresholds;
	struct milter_config milter;
	struct bayes_config bayes;
	bool score[2], milters[2];	/* by listener: [1] submission */
};

struct spam_check {
	struct storeq_job job;		/* first: the queue links it */
	struct spam_filter *filter;
	spam_check_callback *cb;
	void *ctx;
	bool cancelled;
	bool score;			/* run the content stage */
	bool milters;			/* run the milter stage */
	struct milter_check *milter;	/* while the milters run */
	enum spam_milter_verdict milter_verdict;
	char *milter_reply;
	struct sockaddr_storage client;
	bool has_client;
	char *auth_user;
	char *daemon_name;
	char *helo;
	struct pool *pool;
	struct buf msg;			/* owned while the check runs */
	size_t offset;
	char id[32];
	struct spam_auth_summary auth;
	bool authenticated;
	char *mail_from;
	char **rcpts;
	size_t n_rcpts;
	int64_t user_id;		/* the one local user reached, or 0 */
	struct event *timer;		/* spam_check_later, or NULL */
	time_t now;
	struct spam_result result;
	char **domains;
	size_t n_domains;
	const char *error;		/* the worker's, for the log */
};

struct spam_filter *
spam_filter_new(struct event_base *base, const struct config *cfg,
    struct storeq *storeq, const char **error_r)
{
	struct spam_filter *f = xcalloc(1, sizeof(*f));

	if (spam_weights_parse(&f->weights, cfg->spam_scores, error_r) < 0) {
		spam_weights_free(&f->weights);
		free(f);
		return NULL;
	}
	f->thresholds.junk = cfg->spam_junk_score;
	f->thresholds.quarantine = cfg->spam_quarantine_score;
	f->thresholds.reject = cfg->spam_reject_score;
	if (f->thresholds.junk > f->thresholds.quarantine ||
	    f->thresholds.quarantine > f->thresholds.reject) {
		*error_r = "[spam] junk_score <= quarantine_score <= "
		    "reject_score is required";
		spam_weights_free(&f->weights);
		free(f);
		return NULL;
	}
	f->base = base;
	f->cfg = cfg;
	f->storeq = storeq;
	milter_config_init(&f->milter, cfg);
	bayes_config_from(cfg, &f->bayes);
	f->score[0] = cfg->spam_enabled;
	f->score[1] = cfg->spam_submission;
	for (int i = 0; i < 2; i++)
		f->milters[i] = f->milter.n_servers > 0 &&
		    milter_config_wanted(cfg, i == 1);
	return f;
}

void
spam_filter_free(struct spam_filter **filterp)
{
	struct spam_filter *f = *filterp;

	if (f == NULL)
		return;
	spam_weights_free(&f->weights);
	free(f);
	*filterp = NULL;
}

bool
spam_filter_wanted(const struct spam_filter *f, bool submission)
{
	return f->score[submission] || f->milters[submission];
}

const struct spam_thresholds *
spam_filter_thresholds(const struct spam_filter *f)
{
	return &f->thresholds;
}

void
spam_auth_summarize(const struct auth_check_result *a,
    struct spam_auth_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->spf = -1;
	s->dmarc = DMARC_NONE;
	if (a == NULL)
		return;
	s->checked = true;
	if (a->spf != NULL)
		s->spf = (int)a->spf->status;
	for (size_t i = 0; a->dkim != NULL && i < a->dkim->n_sigs; i++) {
		s->dkim_pass += a->dkim->sigs[i].status == DKIM_PASS;
		s->dkim_fail += a->dkim->sigs[i].status == DKIM_FAIL;
	}
	s->dmarc = (int)a->dmarc.status;
	(void)snprintf(s->from_domain, sizeof(s->from_domain), "%s",
	    a->dmarc.from_domain);
}

void
spam_check_auth(const struct spam_auth_summary *s, const struct spam_msg *m,
    struct spam_result *r)
{
	if (!s->checked)
		return;
	switch (s->spf) {
	case SPF_FAIL:
		spam_add(r, "SPF_FAIL", NULL);
		break;
	case SPF_SOFTFAIL:
		spam_add(r, "SPF_SOFTFAIL", NULL);
		break;
	case SPF_PERMERROR:
		spam_add(r, "SPF_PERMERROR", NULL);
		break;
	default:
		break;
	}
	/* A broken signature next to a good one is a mailing list's
	 * footer, not a forgery. */
	if (s->dkim_fail > 0 && s->dkim_pass == 0)
		spam_add(r, "DKIM_FAIL", "%u signatures", s->dkim_fail);
	switch (s->dmarc) {
	case DMARC_PASS:
		spam_add(r, "AUTH_ALIGNED_PASS", "%s", s->from_domain);
		break;
	case DMARC_FAIL:
		spam_add(r, "DMARC_FAIL", "%s", s->from_domain);
		break;
	case DMARC_PERMERROR:
		spam_add(r, "DMARC_AMBIGUOUS", NULL);
		break;
	default:
		break;
	}
	if (s->dmarc != DMARC_PASS && s->from_domain[0] != '\0' &&
	    spam_msg_is_local_domain(m, s->from_domain,
	    strlen(s->from_domain)))
		spam_add(r, "HEADER_FROM_LOCAL_UNAUTH", "%s", s->from_domain);
}

static int
spam_check_domain_cb(void *ctx, const char *domain)
{
	struct spam_check *sc = ctx;

	if (sc->n_domains == SPAM_LOCAL_DOMAINS_MAX)
		return -1;
	sc->domains[sc->n_domains++] = pool_strdup(sc->pool, domain);
	return 0;
}

/* Stage 2, on a worker thread. */
static void
spam_check_run(struct store *store, struct storeq_job *job)
{
	struct spam_check *sc = (struct spam_check *)job;
	struct spam_msg m;
	struct mime_part *root;
	const char *error;

	memset(&m, 0, sizeof(m));
	sc->domains = pool_alloc(sc->pool, SPAM_LOCAL_DOMAINS_MAX *
	    sizeof(*sc->domains));
	if (store_domain_list(store, spam_check_domain_cb, sc, &error) < 0 &&
	    sc->n_domains < SPAM_LOCAL_DOMAINS_MAX)
		sc->error = error;
	m.data = sc->msg.data != NULL ? sc->msg.data + sc->offset : "";
	m.len = sc->msg.len - sc->offset;
	m.pool = sc->pool;
	m.now = sc->now;
	m.hostname = sc->filter->cfg->hostname;
	m.local_domains = (const char *const *)sc->domains;
	m.n_local_domains = sc->n_domains;
	if (mime_parse(m.data, m.len, sc->pool, &root, &error) < 0) {
		sc->error = error;
		return;
	}
	m.root = root;
	spam_check_auth(&sc->auth, &m, &sc->result);
	spam_check_content(&m, &sc->result);
	spam_check_attachments(&m, &sc->result);
	spam_check_html(&m, &sc->result);
	if (bayes_classify(store, &sc->filter->bayes, &m, sc->user_id,
	    &sc->result, NULL, &error) < 0)
		sc->error = error;
	{
		struct spam_lists_input in = {
			.mail_from = sc->mail_from,
			.mail_from_authenticated = sc->auth.spf == SPF_PASS,
			.from_domain_authenticated = sc->auth.dmarc ==
			    DMARC_PASS ? sc->auth.from_domain : NULL,
			.rcpts = (const char *const *)sc->rcpts,
			.n_rcpts = sc->n_rcpts,
		};

		if (spam_check_lists(store, &m, &in, &sc->result, &error) < 0)
			sc->error = error;
	}
}

static void
spam_check_free(struct spam_check *sc)
{
	milter_check_cancel(&sc->milter);
	buf_release(&sc->msg);
	pool_free(&sc->pool);
	free(sc);
}

/* "NAME(weight) ..." by decreasing weight, from pool. */
static const char *
spam_check_symbols(struct spam_check *sc)
{
	const struct spam_result *r = &sc->result;
	const struct spam_hit *order[SPAM_HITS_MAX];
	struct buf b;
	const char *s;
	size_t n = 0;

	for (size_t i = 0; i < r->n_hits; i++) {
		size_t j = n++;

		/* Insertion sort: a few dozen hits at most. */
		while (j > 0 && order[j - 1]->score < r->hits[i].score) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = &r->hits[i];
	}
	buf_init(&b, SPAM_HEADER_MAX);
	for (size_t i = 0; i < n; i++)
		(void)buf_printf(&b, "%s%s(%.1f)", i > 0 ? " " : "",
		    spam_symbols[order[i]->symbol].name, order[i]->score);
	s = pool_strdup(sc->pool, b.data != NULL ? b.data : "");
	buf_release(&b);
	return s;
}

/* Why the action was taken, for the user and the log. */
static const char *
spam_check_reason(struct spam_check *sc, enum spam_action action)
{
	const struct spam_result *r = &sc->result;

	for (size_t i = 0; i < r->n_hits; i++)
		if (spam_symbols[r->hits[i].symbol].flags & SPAM_SYM_HOLD)
			return pool_printf(sc->pool, "%s: %s%s%s",
			    spam_symbols[r->hits[i].symbol].name,
			    spam_symbols[r->hits[i].symbol].description,
			    r->hits[i].detail[0] != '\0' ? ": " : "",
			    r->hits[i].detail);
	if (action == SPAM_ACTION_INBOX)
		return pool_printf(sc->pool, "score %.1f", r->score);
	return pool_printf(sc->pool, "score %.1f, %s from %.1f", r->score,
	    spam_action_name(action), action == SPAM_ACTION_REJECT ?
	    sc->filter->thresholds.reject : action ==
	    SPAM_ACTION_QUARANTINE ? sc->filter->thresholds.quarantine :
	    action == SPAM_ACTION_JUNK ? sc->filter->thresholds.junk : 0.0);
}

/* Stage 4, on the loop: the verdict. Frees the check. */
static void
spam_check_finish(struct spam_check *sc)
{
	struct spam_verdict v;
	struct buf header;

	if (sc->error != NULL)
		log_warning("spam check id=%s error=\"%s\"", sc->id, sc->error);
	memset(&v, 0, sizeof(v));
	v.result = &sc->result;
	v.scored = sc->score;
	v.action = spam_result_action(&sc->result, &sc->filter->thresholds);
	v.milter = sc->milter_verdict;
	v.milter_reply = sc->milter_reply;
	buf_init(&header, SPAM_HEADER_MAX);
	if (!sc->score || spam_header_render(&sc->result,
	    &sc->filter->thresholds, v.action, &header) < 0)
		buf_reset(&header);
	v.header = header.data != NULL ? header.data : "";
	v.header_len = header.len;
	v.symbols = spam_check_symbols(sc);
	v.reason = spam_check_reason(sc, v.action);
	v.msg = &sc->msg;
	sc->cb(sc->ctx, &v);
	buf_release(&header);
	spam_check_free(sc);
}

/* The milters' answer: their header changes go into the message. */
static void
spam_check_milter_done(void *ctx, const struct milter_result *res)
{
	struct spam_check *sc = ctx;

	sc->milter = NULL;	/* freed by the milter client on return */
	if (res->n_mods > 0) {
		struct buf out;

		buf_init(&out, sc->msg.max);
		if (buf_append(&out, sc->msg.data, sc->offset) < 0 ||
		    milter_mods_apply(res->mods, res->n_mods,
		    sc->msg.data + sc->offset, sc->msg.len - sc->offset,
		    &out) < 0) {
			/* Over the size limit: the changes are dropped. */
			log_warning("spam check id=%s milter header changes "
			    "dropped: message too big", sc->id);
			buf_release(&out);
		} else {
			if (buf_append(&out, "", 1) == 0)
				out.len--;	/* NUL after, as the session
						 * keeps it */
			buf_release(&sc->msg);
			sc->msg = out;
		}
	}
	switch (res->verdict) {
	case MILTER_VERDICT_ACCEPT:
		break;
	case MILTER_VERDICT_QUARANTINE:
		spam_add(&sc->result, "MILTER_QUARANTINE", "%s: %s",
		    res->milter, res->quarantine);
		break;
	case MILTER_VERDICT_REJECT:
	case MILTER_VERDICT_TEMPFAIL:
		sc->milter_verdict = res->verdict == MILTER_VERDICT_REJECT ?
		    SPAM_MILTER_REJECT : SPAM_MILTER_TEMPFAIL;
		sc->milter_reply = pool_strdup(sc->pool, res->reply);
		break;
	case MILTER_VERDICT_DISCARD:
		sc->milter_verdict = SPAM_MILTER_DISCARD;
		break;
	}
	spam_check_finish(sc);
}

/* Stage 3: the milters, or straight to the verdict. */
static void
spam_check_milters(struct spam_check *sc)
{
	struct milter_request req;

	if (!sc->milters || sc->n_rcpts == 0) {
		spam_check_finish(sc);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.client_addr = sc->has_client ? (struct sockaddr *)&sc->client :
	    NULL;
	req.helo = sc->helo;
	req.mail_from = sc->mail_from;
	req.rcpts = (const char *const *)sc->rcpts;
	req.n_rcpts = sc->n_rcpts;
	req.msg = sc->msg.data != NULL ? sc->msg.data + sc->offset : "";
	req.len = sc->msg.len - sc->offset;
	req.queue_id = sc->id;
	req.auth_user = sc->auth_user;
	req.daemon_name = sc->daemon_name;
	sc->milter = milter_check_start(sc->filter->base, &sc->filter->milter,
	    &req, spam_check_milter_done, sc);
}

/* Stage 2 is done, back on the loop. */
static void
spam_check_done(struct storeq_job *job)
{
	struct spam_check *sc = (struct spam_check *)job;

	if (sc->cancelled) {
		spam_check_free(sc);
		return;
	}
	spam_check_milters(sc);
}

/* Without the content stage, the first stage must still come from the
 * loop, not from inside spam_check_start(). */
static void
spam_check_later(evutil_socket_t fd, short what, void *arg)
{
	struct spam_check *sc = arg;

	event_free(sc->timer);
	sc->timer = NULL;
	spam_check_milters(sc);
}

struct spam_check *
spam_check_start(struct spam_filter *f, const struct spam_check_request *req,
    spam_check_callback *cb, void *ctx)
{
	struct spam_check *sc = xcalloc(1, sizeof(*sc));

	sc->filter = f;
	sc->cb = cb;
	sc->ctx = ctx;
	sc->pool = pool_new(16 * 1024);
	sc->msg = *req->msg;
	buf_init(req->msg, 0);
	sc->offset = req->offset;
	(void)snprintf(sc->id, sizeof(sc->id), "%s", req->id);
	spam_auth_summarize(req->auth, &sc->auth);
	sc->authenticated = req->authenticated;
	sc->mail_from = pool_strdup(sc->pool, req->mail_from != NULL ?
	    req->mail_from : "");
	sc->rcpts = pool_alloc(sc->pool, (req->n_rcpts + 1) *
	    sizeof(*sc->rcpts));
	for (size_t i = 0; i < req->n_rcpts; i++)
		sc->rcpts[i] = pool_strdup(sc->pool, req->rcpts[i]);
	sc->n_rcpts = req->n_rcpts;
	sc->user_id = req->n_users == 1 ? req->users[0] : 0;
	sc->now = req->now;
	spam_result_init(&sc->result, &f->weights);
	sc->score = f->score[req->submission];
	sc->milters = f->milters[req->submission];
	if (req->client_addr != NULL) {
		size_t n = req->client_addr->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

		memcpy(&sc->client, req->client_addr, n);
		sc->has_client = true;
	}
	sc->helo = req->helo != NULL ? pool_strdup(sc->pool, req->helo) : NULL;
	sc->auth_user = req->auth_user != NULL ?
	    pool_strdup(sc->pool, req->auth_user) : NULL;
	sc->daemon_name = pool_strdup(sc->pool, req->daemon_name != NULL ?
	    req->daemon_name : "smtp");
	if (sc->score) {
		sc->job.run = spam_check_run;
		sc->job.done = spam_check_done;
		storeq_submit(f->storeq, &sc->job);
	} else {
		struct timeval now = { 0, 0 };

		sc->timer = evtimer_new(f->base, spam_check_later, sc);
		evtimer_add(sc->timer, &now);
	}
	return sc;
}

void
spam_check_cancel(struct spam_check **checkp)
{
	struct spam_check *sc = *checkp;

	if (sc == NULL)
		return;
	*checkp = NULL;
	/* Waiting on the loop (the timer or the milters): free it now. */
	if (sc->timer != NULL || sc->milter != NULL) {
		if (sc->timer != NULL)
			event_free(sc->timer);
		spam_check_free(sc);
		return;
	}
	/* The job is on a worker or waiting for one: its done callback
	 * frees the check. */
	sc->cancelled = true;
}
