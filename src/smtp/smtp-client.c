/*
 * smtp-client.c - outbound SMTP: a session delivers messages to the
 * recipients of one domain, one message after the other over the same
 * connection while the queue has more for that domain.
 *
 * RFC 5321 (section 5 routing through dns_mx_route, 4.5.3.2 timeouts,
 * 5.1 the "MX points at me" loop, 4.1.1.5 RSET between messages),
 * RFC 3207 (STARTTLS: opportunistic, the certificate is not verified, so
 * it protects against passive listeners only; for the domains of [queue]
 * tls_verify_domains it is required, with the chain verified and the MX
 * host name checked, RFC 6125), RFC 2920 (PIPELINING: MAIL
 * and every RCPT in one write), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
 * RFC 6531 (SMTPUTF8), RFC 3030 (CHUNKING: BDAT when offered).
 *
 * Exchanges are tried by preference, each of their addresses in turn,
 * until one gives a greeting and takes EHLO or HELO; a failure before
 * MAIL (no connection, a timeout, a 4xx or 5xx greeting) moves on to the
 * next address (RFC 5321 5.1). A failed TLS handshake is not a reason to
 * give up on an address: opportunistic TLS (RFC 7435) tries the same
 * address again in cleartext, as Postfix does; there is no setting that
 * requires TLS yet. Once MAIL is sent, the replies decide: 2xx sent, 4xx
 * (and a lost connection or timeout) temporary, 5xx permanent.
 *
 * After a message, the session asks the queue for the next one to the
 * same domain (at most [queue] max_per_connection per connection) and
 * sends RSET before its MAIL. A server that drops a reused connection, or
 * answers 421, before the next message's content was sent has not failed
 * that message: it gets a fresh connection, once.
 *
 * With nothing waiting for the domain, the connection stays open and
 * idle for [queue] connection_idle (a connection cache, as Postfix's
 * smtp_connection_cache_time_limit), so that mail trickling in one
 * message at a time shares it: smtp_client_deliver() hands the next job
 * to the domain to it, RSET first. The idle time running out, or the
 * server closing the connection (EOF, a 421), ends it; a server that
 * closed it unnoticed is the "reused connection lost" case above.
 *
 * SECURITY: replies are hostile: lines are read with a limit, replies with
 * a line count limit, and their text is escaped before it is logged or
 * kept as an error. The message goes out with CRLF line ends, dot-stuffed
 * for DATA, counted exactly for BDAT.
 */
#include "smtp/smtp-client.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/config.h"
#include "core/line.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "dns/dns-route.h"
#include "mime/header.h"

enum smtp_cstate {
	SMTP_CST_ROUTE,		/* waiting for the DNS route */
	SMTP_CST_CONNECT,	/* TCP connect in progress */
	SMTP_CST_GREETING,
	SMTP_CST_EHLO,
	SMTP_CST_HELO,
	SMTP_CST_STARTTLS,
	SMTP_CST_HANDSHAKE,	/* TLS handshake in progress */
	SMTP_CST_RSET,		/* before the next message of a session */
	SMTP_CST_MAIL,
	SMTP_CST_RCPT,
	SMTP_CST_DATA,
	SMTP_CST_DOT,
	SMTP_CST_BDAT,		/* replies to BDAT chunks */
	SMTP_CST_QUIT,
	SMTP_CST_IDLE,		/* no job: waiting for one to its domain */
};

static const char *const smtp_cstate_names[] = {
	"route", "connect", "greeting", "ehlo", "helo", "starttls",
	"handshake", "rset", "mail", "rcpt", "data", "dot", "bdat", "quit",
	"idle",
};

struct smtp_csess {
	struct smtp_client *cl;
	struct smtp_client_job *job;	/* NULL when idle, or QUIT after */
	int64_t queue_id;	/* of the last job, for logs */
	char domain[256];	/* of the jobs, for logs and idle reuse */
	struct smtp_csess *prev, *next;
	enum smtp_cstate state;
	struct dns_route_req *route_req;
	struct dns_route *route;
	size_t host_i, addr_i;	/* the next address to try */
	struct bufferevent *bev;
	bool tls;
	bool no_tls;		/* this address failed TLS: cleartext */
	bool tls_verify;	/* the domain requires a verified certificate:
				 * no cleartext, set by job_begin */
	bool tls_retry;		/* connect to the same address again */
	bool in_txn;		/* MAIL sent: replies now decide */
	bool in_data;		/* content sent: it may have arrived */
	bool reused;		/* job is not its connection's first */
	bool reconnected;	/* job already got a fresh connection */
	unsigned conn_msgs;	/* messages begun on this connection */
	unsigned ext;		/* SMTP_EXT_* of the last EHLO */
	uint64_t size_max;	/* SIZE parameter, 0 if none */
	size_t scanned;		/* line_next() position */
	struct smtp_reply r;	/* the reply being read */
	const char *reply;	/* = r.first */
	/* the transaction */
	bool mail_failed;
	int mail_code;
	char mail_reply[SMTP_CLIENT_ERROR_MAX];
	size_t rcpt_i, n_accepted;
	/* BDAT: the content not sent yet, and the replies to come */
	struct evbuffer *body;
	unsigned bdat_replies;
	int bdat_code;		/* of the first failed chunk, 0 if none */
	char bdat_reply[SMTP_CLIENT_ERROR_MAX];
	char host[256];		/* the exchange now */
	char ip[INET6_ADDRSTRLEN];
	char tls_info[128];
	char last_error[SMTP_CLIENT_ERROR_MAX];	/* why the last try failed */
	struct event *later;	/* runs done from the loop */
};

struct smtp_client {
	struct event_base *base;
	const struct config *cfg;
	struct dns *dns;
	SSL_CTX *tls;
	SSL_CTX *tls_verify;	/* [queue] tls_verify_domains */
	struct smtp_csess *sessions;
	size_t n_active;
	/* this host, for the "MX points at me" check */
	struct dns_addr own[SMTP_CLIENT_OWN_MAX];
	size_t n_own;
};

static void smtp_csess_try_next(struct smtp_csess *s, const char *why);
static void smtp_csess_finish(struct smtp_csess *s);
static void smtp_csess_connect_next(struct smtp_csess *s);
static void smtp_csess_job_end(struct smtp_csess *s);

static void
smtp_csess_set_state(struct smtp_csess *s, enum smtp_cstate state)
{
	log_debug("queue=%lld domain=%s smtp-client state %s -> %s",
	    (long long)s->queue_id, s->domain,
	    smtp_cstate_names[s->state], smtp_cstate_names[state]);
	s->state = state;
}

static void
smtp_csess_timeouts(struct smtp_csess *s, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void
smtp_csess_send(struct smtp_csess *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
smtp_csess_send(struct smtp_csess *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
}

static void
smtp_csess_body_free(struct smtp_csess *s)
{
	if (s->body != NULL) {
		evbuffer_free(s->body);
		s->body = NULL;
	}
	s->bdat_replies = 0;
	s->bdat_code = 0;
}

static void
smtp_csess_close_bev(struct smtp_csess *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	s->tls = false;
	s->tls_info[0] = '\0';
	s->ext = 0;
	s->size_max = 0;
	s->scanned = 0;
	memset(&s->r, 0, sizeof(s->r));
	smtp_csess_body_free(s);
}

/* The result of a reply for a recipient. */
static void
smtp_csess_resolve(struct smtp_csess *s, struct smtp_client_rcpt *r,
    int code, const char *text)
{
	if (r->resolved)
		return;
	r->resolved = true;
	r->outcome = code >= 200 && code < 300 ? SMTP_CLIENT_SENT :
	    code >= 500 && code < 600 ? SMTP_CLIENT_PERM : SMTP_CLIENT_TEMP;
	if (r->outcome == SMTP_CLIENT_SENT)
		r->error[0] = '\0';
	else if (snprintf(r->error, sizeof(r->error), "%s", text) < 0)
		r->error[0] = '\0';
	log_info("queue=%lld smtp-client to=<%s> domain=%s mx=%s ip=%s "
	    "tls=\"%s\" result=%s reply=\"%s\"", (long long)s->job->queue_id,
	    r->address, s->job->domain, s->host[0] != '\0' ? s->host : "-",
	    s->ip[0] != '\0' ? s->ip : "-",
	    s->tls_info[0] != '\0' ? s->tls_info : "none",
	    r->outcome == SMTP_CLIENT_SENT ? "sent" :
	    r->outcome == SMTP_CLIENT_PERM ? "failed" : "deferred", text);
}

/* Every recipient without a result gets this one. */
static void
smtp_csess_resolve_rest(struct smtp_csess *s, int code, const char *text)
{
	for (size_t i = 0; i < s->job->n_rcpts; i++)
		smtp_csess_resolve(s, &s->job->rcpts[i], code, text);
}

/* Every recipient that RCPT accepted gets the content's reply. */
static void
smtp_csess_resolve_accepted(struct smtp_csess *s, int code, const char *text)
{
	for (size_t i = 0; i < s->job->n_rcpts; i++)
		if (s->job->rcpts[i].accepted)
			smtp_csess_resolve(s, &s->job->rcpts[i], code, text);
}

/* Makes job the session's current one, with nothing of it done yet. */
static void
smtp_csess_job_begin(struct smtp_csess *s, struct smtp_client_job *job,
    bool reused)
{
	s->job = job;
	s->queue_id = job->queue_id;
	if (snprintf(s->domain, sizeof(s->domain), "%s", job->domain) < 0)
		s->domain[0] = '\0';
	job->session_over = false;
	for (size_t i = 0; i < job->n_rcpts; i++) {
		job->rcpts[i].resolved = false;
		job->rcpts[i].accepted = false;
		job->rcpts[i].outcome = SMTP_CLIENT_TEMP;
		job->rcpts[i].error[0] = '\0';
	}
	/* Only a job of the same domain reuses a connection (see
	 * smtp_client_take_idle()), so this never changes on one. */
	s->tls_verify = config_domain_listed(
	    s->cl->cfg->queue_tls_verify_domains, job->domain);
	s->reused = reused;
	s->reconnected = false;
	s->in_txn = false;
	s->in_data = false;
	s->mail_failed = false;
	s->rcpt_i = 0;
	s->n_accepted = 0;
	s->last_error[0] = '\0';
	smtp_csess_body_free(s);
}

static void
smtp_csess_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_csess *s = arg;
	struct smtp_client *cl = s->cl;
	struct smtp_client_job *job = s->job;

	(void)fd;
	(void)what;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		cl->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	cl->n_active--;
	event_free(s->later);
	free(s);
	if (job != NULL)
		job->done(job);
}

/* Ends the session: anything unresolved is deferred; done runs from the
 * loop. The caller returns right away. */
static void
smtp_csess_finish(struct smtp_csess *s)
{
	if (s->job != NULL) {
		smtp_csess_resolve_rest(s, 451, s->last_error[0] != '\0' ?
		    s->last_error : "connection lost");
		s->job->session_over = true;
	}
	smtp_csess_close_bev(s);
	dns_route_free(&s->route);
	/* Not idle any more: smtp_client_deliver() must not take it. */
	s->state = SMTP_CST_QUIT;
	event_active(s->later, EV_TIMEOUT, 0);
}

static void
smtp_csess_quit(struct smtp_csess *s)
{
	smtp_csess_send(s, "QUIT\r\n");
	smtp_csess_set_state(s, SMTP_CST_QUIT);
}

bool
smtp_client_needs_utf8(const struct smtp_client_job *job)
{
	if (!utf8_is_ascii(job->sender, strlen(job->sender)))
		return true;
	for (size_t i = 0; i < job->n_rcpts; i++)
		if (!utf8_is_ascii(job->rcpts[i].address,
		    strlen(job->rcpts[i].address)))
			return true;
	/* RFC 6532 header fields travel only where SMTPUTF8 was asked
	 * for; a message that did not ask is sent as it is. */
	return job->smtputf8 && !utf8_is_ascii(job->data,
	    header_block_len(job->data, job->size));
}

static void
smtp_csess_send_rcpt(struct smtp_csess *s, size_t i)
{
	smtp_csess_send(s, "RCPT TO:<%s>\r\n", s->job->rcpts[i].address);
}

static void
smtp_csess_start_mail(struct smtp_csess *s)
{
	struct smtp_client_job *job = s->job;
	char params[64] = "", why[SMTP_CLIENT_ERROR_MAX];
	bool utf8 = smtp_client_needs_utf8(job);
	size_t n = 0;
	int r;

	s->conn_msgs++;
	if ((s->ext & SMTP_EXT_SIZE) != 0 && s->size_max > 0 &&
	    job->size > s->size_max) {
		(void)snprintf(why, sizeof(why), "552 5.3.4 message size %zu "
		    "exceeds the limit of %s (%llu)", job->size, s->host,
		    (unsigned long long)s->size_max);
		smtp_csess_resolve_rest(s, 552, why);
		smtp_csess_job_end(s);
		return;
	}
	/* RFC 6531: without the extension at the next hop, such a message
	 * cannot be sent there at all (no downgrade): a permanent failure,
	 * X.6.7 "non-ASCII addresses not permitted" as Postfix has it. */
	if (utf8 && (s->ext & SMTP_EXT_SMTPUTF8) == 0) {
		(void)snprintf(why, sizeof(why), "550 5.6.7 SMTPUTF8 is "
		    "required for this message, but %s [%s] does not offer "
		    "it", s->host, s->ip);
		smtp_csess_resolve_rest(s, 550, why);
		smtp_csess_job_end(s);
		return;
	}
	if ((s->ext & SMTP_EXT_SIZE) != 0) {
		r = snprintf(params, sizeof(params), " SIZE=%zu", job->size);
		n = r > 0 && (size_t)r < sizeof(params) ? (size_t)r : 0;
	}
	if ((s->ext & SMTP_EXT_8BITMIME) != 0 &&
	    !utf8_is_ascii(job->data, job->size)) {
		r = snprintf(params + n, sizeof(params) - n, " BODY=8BITMIME");
		n += r > 0 && (size_t)r < sizeof(params) - n ? (size_t)r : 0;
	}
	/* Asked for whenever the submitter did. */
	if ((s->ext & SMTP_EXT_SMTPUTF8) != 0 && (utf8 || job->smtputf8))
		(void)snprintf(params + n, sizeof(params) - n, " SMTPUTF8");
	s->in_txn = true;
	s->mail_failed = false;
	s->rcpt_i = 0;
	s->n_accepted = 0;
	smtp_csess_send(s, "MAIL FROM:<%s>%s\r\n", job->sender, params);
	/* RFC 2920 3.1: MAIL and the RCPTs go in one group. */
	if ((s->ext & SMTP_EXT_PIPELINING) != 0)
		for (size_t i = 0; i < job->n_rcpts; i++)
			smtp_csess_send_rcpt(s, i);
	smtp_csess_set_state(s, SMTP_CST_MAIL);
}

/*
 * The message with CRLF line ends (a bare LF gets its CR), appended to
 * out; dot-stuffed for DATA (RFC 5321 4.5.2), not for BDAT (RFC 3030 2:
 * a chunk's octets are counted, not scanned).
 */
static void
smtp_csess_copy_body(const struct smtp_client_job *job, struct evbuffer *out,
    bool stuff)
{
	const char *p = job->data, *end = p + job->size;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *eol = lf != NULL ? lf : end;
		size_t len = (size_t)(eol - p);

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (stuff && len > 0 && p[0] == '.')
			evbuffer_add(out, ".", 1);
		evbuffer_add(out, p, len);
		evbuffer_add(out, "\r\n", 2);
		p = lf != NULL ? lf + 1 : end;
	}
}

/* Sends the next BDAT chunk, or all of them when the server pipelines
 * (RFC 3030 2, and its example 4.2: chunks may then go without waiting
 * for each reply, once MAIL's and RCPT's replies are in). */
static void
smtp_csess_send_bdat(struct smtp_csess *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	do {
		size_t left = evbuffer_get_length(s->body);
		size_t n = left < SMTP_CLIENT_BDAT_CHUNK ? left :
		    SMTP_CLIENT_BDAT_CHUNK;

		smtp_csess_send(s, "BDAT %zu%s\r\n", n, n == left ?
		    " LAST" : "");
		(void)evbuffer_remove_buffer(s->body, out, n);
		s->bdat_replies++;
	} while (evbuffer_get_length(s->body) > 0 &&
	    (s->ext & SMTP_EXT_PIPELINING) != 0);
}

/* RCPT is done with recipients accepted: the content, by BDAT when the
 * server offers CHUNKING, else by DATA. */
static void
smtp_csess_start_content(struct smtp_csess *s)
{
	size_t len;

	if ((s->ext & SMTP_EXT_CHUNKING) == 0) {
		smtp_csess_send(s, "DATA\r\n");
		smtp_csess_set_state(s, SMTP_CST_DATA);
		return;
	}
	s->body = evbuffer_new();
	if (s->body == NULL) {
		smtp_csess_resolve_rest(s, 451, "451 4.3.0 out of memory");
		smtp_csess_quit(s);
		return;
	}
	smtp_csess_copy_body(s->job, s->body, false);
	len = evbuffer_get_length(s->body);
	log_info("queue=%lld smtp-client mx=%s ip=%s content=bdat size=%zu "
	    "chunks=%zu", (long long)s->job->queue_id, s->host, s->ip, len,
	    len == 0 ? (size_t)1 : (len - 1) / SMTP_CLIENT_BDAT_CHUNK + 1);
	s->in_data = true;
	s->bdat_code = 0;
	s->bdat_replies = 0;
	/* RFC 5321 4.5.3.2.6's 10 minutes, for the last chunk's reply. */
	smtp_csess_timeouts(s, s->cl->cfg->queue_data_timeout);
	smtp_csess_send_bdat(s);
	smtp_csess_set_state(s, SMTP_CST_BDAT);
}

static void smtp_csess_event_cb(struct bufferevent *bev, short what,
    void *arg);
static void smtp_csess_read_cb(struct bufferevent *bev, void *arg);

static void
smtp_csess_starttls(struct smtp_csess *s)
{
	struct bufferevent *tlsbev;
	SSL *ssl = SSL_new(s->tls_verify ? s->cl->tls_verify : s->cl->tls);

	if (ssl == NULL) {
		smtp_csess_try_next(s, "SSL_new failed");
		return;
	}
	/* SNI: RFC 6066 3; a name, never an address. */
	(void)SSL_set_tlsext_host_name(ssl, s->host);
	/* The certificate must name the exchange (RFC 6125 6.4, as
	 * OpenSSL matches it: DNS subjectAltNames, one left-most "*"). */
	if (s->tls_verify && SSL_set1_host(ssl, s->host) != 1) {
		SSL_free(ssl);
		smtp_csess_try_next(s, "TLS setup failed (host name)");
		return;
	}
	tlsbev = bufferevent_openssl_filter_new(s->cl->base, s->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tlsbev == NULL) {
		SSL_free(ssl);
		smtp_csess_try_next(s, "TLS setup failed");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tlsbev, 1);
	s->bev = tlsbev;
	s->tls = true;
	s->scanned = 0;
	smtp_csess_set_state(s, SMTP_CST_HANDSHAKE);
	bufferevent_setcb(s->bev, smtp_csess_read_cb, NULL,
	    smtp_csess_event_cb, s);
	smtp_csess_timeouts(s, s->cl->cfg->queue_timeout);
	/* Bytes the server sent after its 220 are already there: the
	 * handshake may fail inside this call, and the event callback
	 * then moves on (a new connection). Nothing of s after it. */
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/*
 * The handshake failed (an alert, garbage, a close, a timeout): the same
 * address again, in cleartext (RFC 7435 opportunistic security; Postfix
 * does the same). Nothing was sent yet, so nothing can be delivered twice.
 */
static void
smtp_csess_tls_fallback(struct smtp_csess *s, const char *why)
{
	if (s->tls_verify) {
		/* Required: a temporary failure of this exchange, and
		 * never cleartext. */
		smtp_csess_try_next(s, why);
		return;
	}
	log_info("queue=%lld smtp-client domain=%s mx=%s ip=%s tls=failed "
	    "error=\"%s\" fallback=cleartext", (long long)s->job->queue_id,
	    s->job->domain, s->host, s->ip, why);
	(void)snprintf(s->last_error, sizeof(s->last_error), "%s %s: %s",
	    s->host, s->ip, why);
	smtp_csess_close_bev(s);
	s->tls_retry = true;
	smtp_csess_connect_next(s);
}

/* Whether the current job was accepted for every recipient: only such
 * a connection is kept idle. After a failure the session ends as it did
 * without the cache, so that a retry (of a deferral, say: greylisting,
 * a server in trouble) gets a fresh connection. */
static bool
smtp_csess_all_sent(const struct smtp_csess *s)
{
	for (size_t i = 0; i < s->job->n_rcpts; i++)
		if (s->job->rcpts[i].outcome != SMTP_CLIENT_SENT)
			return false;
	return true;
}

/* The connection carries s->job, after an earlier one. */
static void
smtp_csess_reuse(struct smtp_csess *s)
{
	log_info("queue=%lld smtp-client domain=%s mx=%s ip=%s reuse "
	    "message=%u", (long long)s->queue_id, s->domain, s->host,
	    s->ip, s->conn_msgs + 1);
	/* RFC 5321 4.1.1.5: a clean state, whatever the last one left. */
	smtp_csess_send(s, "RSET\r\n");
	smtp_csess_set_state(s, SMTP_CST_RSET);
}

/*
 * Nothing waits for the domain: the connection stays open without a job
 * for [queue] connection_idle (the read timeout), for
 * smtp_client_deliver() to hand it the next one. The job is done with
 * session_over set, since the queue does not count idle connections.
 * The job's done may hand this connection a job at once.
 */
static void
smtp_csess_idle(struct smtp_csess *s)
{
	struct smtp_client_job *job = s->job;

	s->job = NULL;
	job->session_over = true;
	smtp_csess_timeouts(s, s->cl->cfg->queue_connection_idle);
	smtp_csess_set_state(s, SMTP_CST_IDLE);
	log_info("queue=%lld smtp-client domain=%s mx=%s ip=%s idle "
	    "seconds=%u", (long long)s->queue_id, s->domain, s->host, s->ip,
	    s->cl->cfg->queue_connection_idle);
	job->done(job);
}

/*
 * The current job is over, its recipients resolved, and the connection
 * is still good: the next message to the domain over it, after RSET, or
 * QUIT. The next job is taken before this one's done runs, so that the
 * queue hands it to this connection rather than to a new one.
 */
static void
smtp_csess_job_end(struct smtp_csess *s)
{
	struct smtp_client_job *job = s->job, *next = NULL;

	smtp_csess_resolve_rest(s, 451, "451 4.3.0 no reply for this "
	    "recipient");
	smtp_csess_body_free(s);
	if (job->next != NULL &&
	    s->conn_msgs < s->cl->cfg->queue_max_per_connection)
		next = job->next(job);
	if (next == NULL && job->next != NULL &&
	    s->cl->cfg->queue_connection_idle > 0 &&
	    s->conn_msgs < s->cl->cfg->queue_max_per_connection &&
	    smtp_csess_all_sent(s)) {
		smtp_csess_idle(s);
		return;
	}
	if (next == NULL) {
		smtp_csess_quit(s);
		return;
	}
	smtp_csess_job_begin(s, next, true);
	job->done(job);
	smtp_csess_reuse(s);
}

/*
 * Before MAIL: whether the job's domain requires TLS that this
 * connection lacks. If so the exchange failed (temporarily: the next
 * one, then a deferral), and nothing is sent in cleartext.
 */
static bool
smtp_csess_tls_missing(struct smtp_csess *s)
{
	char why[SMTP_CLIENT_ERROR_MAX];

	if (!s->tls_verify || s->tls)
		return false;
	(void)snprintf(why, sizeof(why), "TLS required for %s but STARTTLS "
	    "not offered", s->job->domain);
	smtp_csess_try_next(s, why);
	return true;
}

/* A complete reply: act on it by state. */
static void
smtp_csess_reply(struct smtp_csess *s)
{
	struct smtp_client_job *job = s->job;
	int code = s->r.code;
	bool ok = code >= 200 && code < 300;
	char why[SMTP_CLIENT_ERROR_MAX + 32];

	/* A server closing a reused connection (too many messages, say)
	 * before this message's content: a fresh connection for it. */
	if (code == 421 && s->reused && !s->in_data &&
	    (s->state == SMTP_CST_RSET || s->state == SMTP_CST_MAIL ||
	    s->state == SMTP_CST_RCPT)) {
		smtp_csess_try_next(s, s->reply);
		return;
	}
	switch (s->state) {
	case SMTP_CST_GREETING:
		if (code != 220) {
			(void)snprintf(why, sizeof(why), "greeting: %s",
			    s->reply);
			smtp_csess_try_next(s, why);
			return;
		}
		smtp_csess_send(s, "EHLO %s\r\n", s->cl->cfg->hostname);
		smtp_csess_set_state(s, SMTP_CST_EHLO);
		return;
	case SMTP_CST_EHLO:
		if (!ok) {
			s->ext = 0;
			smtp_csess_send(s, "HELO %s\r\n", s->cl->cfg->hostname);
			smtp_csess_set_state(s, SMTP_CST_HELO);
			return;
		}
		if ((s->ext & SMTP_EXT_STARTTLS) != 0 && !s->tls &&
		    !s->no_tls) {
			smtp_csess_send(s, "STARTTLS\r\n");
			smtp_csess_set_state(s, SMTP_CST_STARTTLS);
			return;
		}
		if (smtp_csess_tls_missing(s))
			return;
		smtp_csess_start_mail(s);
		return;
	case SMTP_CST_HELO:
		if (!ok) {
			(void)snprintf(why, sizeof(why), "HELO: %s", s->reply);
			smtp_csess_try_next(s, why);
			return;
		}
		if (smtp_csess_tls_missing(s))
			return;
		smtp_csess_start_mail(s);
		return;
	case SMTP_CST_STARTTLS:
		if (code != 220 && s->tls_verify) {
			(void)snprintf(why, sizeof(why), "TLS required for "
			    "%s but STARTTLS refused: %s", s->job->domain,
			    s->reply);
			smtp_csess_try_next(s, why);
			return;
		}
		if (code != 220) {
			/* Opportunistic: go on in the clear. */
			log_info("queue=%lld smtp-client mx=%s ip=%s "
			    "starttls=refused reply=\"%s\" fallback=cleartext",
			    (long long)job->queue_id, s->host, s->ip,
			    s->reply);
			smtp_csess_start_mail(s);
			return;
		}
		smtp_csess_starttls(s);
		return;
	case SMTP_CST_RSET:
		if (!ok) {
			(void)snprintf(why, sizeof(why), "RSET: %s", s->reply);
			smtp_csess_try_next(s, why);
			return;
		}
		smtp_csess_start_mail(s);
		return;
	case SMTP_CST_MAIL:
		s->mail_code = code;
		(void)snprintf(s->mail_reply, sizeof(s->mail_reply), "%s",
		    s->reply);
		if (!ok) {
			s->mail_failed = true;
			if ((s->ext & SMTP_EXT_PIPELINING) == 0) {
				smtp_csess_resolve_rest(s, code, s->reply);
				smtp_csess_job_end(s);
				return;
			}
		} else if ((s->ext & SMTP_EXT_PIPELINING) == 0) {
			smtp_csess_send_rcpt(s, 0);
		}
		smtp_csess_set_state(s, SMTP_CST_RCPT);
		return;
	case SMTP_CST_RCPT: {
		struct smtp_client_rcpt *r = &job->rcpts[s->rcpt_i];

		if (!s->mail_failed) {
			if (ok) {
				r->accepted = true;
				s->n_accepted++;
			} else {
				smtp_csess_resolve(s, r, code, s->reply);
			}
		}
		s->rcpt_i++;
		if (s->rcpt_i < job->n_rcpts) {
			if ((s->ext & SMTP_EXT_PIPELINING) == 0)
				smtp_csess_send_rcpt(s, s->rcpt_i);
			return;
		}
		if (s->mail_failed) {
			smtp_csess_resolve_rest(s, s->mail_code,
			    s->mail_reply);
			smtp_csess_job_end(s);
			return;
		}
		if (s->n_accepted == 0) {
			smtp_csess_job_end(s);
			return;
		}
		smtp_csess_start_content(s);
		return;
	}
	case SMTP_CST_DATA:
		if (code != 354) {
			smtp_csess_resolve_rest(s, code, s->reply);
			smtp_csess_job_end(s);
			return;
		}
		log_info("queue=%lld smtp-client mx=%s ip=%s content=data "
		    "size=%zu", (long long)job->queue_id, s->host, s->ip,
		    job->size);
		smtp_csess_copy_body(job, bufferevent_get_output(s->bev),
		    true);
		evbuffer_add(bufferevent_get_output(s->bev), ".\r\n", 3);
		s->in_data = true;
		/* RFC 5321 4.5.3.2.6: 10 minutes for the reply to the dot. */
		smtp_csess_timeouts(s, s->cl->cfg->queue_data_timeout);
		smtp_csess_set_state(s, SMTP_CST_DOT);
		return;
	case SMTP_CST_DOT:
		smtp_csess_timeouts(s, s->cl->cfg->queue_timeout);
		smtp_csess_resolve_accepted(s, code, s->reply);
		smtp_csess_job_end(s);
		return;
	case SMTP_CST_BDAT:
		/* RFC 3030 2: a failed chunk fails the transaction; the
		 * first failure is the one that counts. */
		if (!ok && s->bdat_code == 0) {
			s->bdat_code = code;
			(void)snprintf(s->bdat_reply, sizeof(s->bdat_reply),
			    "%s", s->reply);
		}
		if (--s->bdat_replies > 0)
			return;
		/* RFC 3030 2: no chunk after a failed one. */
		if (s->bdat_code == 0 && evbuffer_get_length(s->body) > 0) {
			smtp_csess_send_bdat(s);
			return;
		}
		smtp_csess_timeouts(s, s->cl->cfg->queue_timeout);
		if (s->bdat_code != 0)
			smtp_csess_resolve_accepted(s, s->bdat_code,
			    s->bdat_reply);
		else
			smtp_csess_resolve_accepted(s, code, s->reply);
		smtp_csess_job_end(s);
		return;
	case SMTP_CST_QUIT:
		smtp_csess_finish(s);
		return;
	case SMTP_CST_IDLE:
		/* RFC 5321 3.8: a 421 while idle; nothing to answer. */
		log_info("queue=%lld smtp-client domain=%s mx=%s ip=%s idle "
		    "closed reply=\"%s\"", (long long)s->queue_id, s->domain,
		    s->host, s->ip, s->reply);
		smtp_csess_finish(s);
		return;
	case SMTP_CST_ROUTE:
	case SMTP_CST_CONNECT:
	case SMTP_CST_HANDSHAKE:
		break;
	}
	/* A reply nobody asked for: a broken or hostile server. */
	smtp_csess_try_next(s, "unexpected reply");
}

int
smtp_reply_line(struct smtp_reply *r, bool ehlo, const char *line,
    size_t len)
{
	static const struct {
		const char *kw;
		size_t len;
		unsigned ext;
	} kws[] = {
		{ "STARTTLS", 8, SMTP_EXT_STARTTLS },
		{ "PIPELINING", 10, SMTP_EXT_PIPELINING },
		{ "8BITMIME", 8, SMTP_EXT_8BITMIME },
		{ "CHUNKING", 8, SMTP_EXT_CHUNKING },
		{ "SMTPUTF8", 8, SMTP_EXT_SMTPUTF8 },
	};
	int code;
	bool last;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	last = len == 3 || line[3] == ' ';
	if (r->lines == 0) {
		r->code = code;
		r->ext = 0;
		r->size_max = 0;
		(void)log_escape(r->first, sizeof(r->first), line, len);
	} else if (code != r->code) {
		return -1;
	}
	if (++r->lines > SMTP_CLIENT_REPLY_LINES_MAX)
		return -1;
	/* EHLO keywords, from the second line on (RFC 5321 4.1.1.1). */
	if (ehlo && r->lines > 1 && len > 4) {
		const char *kw = line + 4;
		size_t kwlen = len - 4;

		for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
			if (kwlen == kws[i].len &&
			    strncasecmp(kw, kws[i].kw, kws[i].len) == 0)
				r->ext |= kws[i].ext;
		if (kwlen >= 4 && strncasecmp(kw, "SIZE", 4) == 0 &&
		    (kwlen == 4 || kw[4] == ' ')) {
			uint64_t v = 0;

			/* RFC 1870 4: no number, or 0, means no limit. */
			r->ext |= SMTP_EXT_SIZE;
			for (size_t i = 5; i < kwlen && kw[i] >= '0' &&
			    kw[i] <= '9' && v < UINT64_MAX / 10 - 10; i++)
				v = v * 10 + (uint64_t)(kw[i] - '0');
			r->size_max = v;
		}
	}
	if (!last)
		return 0;
	r->lines = 0;
	return 1;
}

static void
smtp_csess_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_csess *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		char line[SMTP_CLIENT_REPLY_LINE_MAX + 1];
		size_t len;
		int r;

		switch (line_next(in, SMTP_CLIENT_REPLY_LINE_MAX, &s->scanned,
		    &len)) {
		case LINE_MORE:
			return;
		case LINE_TOO_LONG:
			smtp_csess_try_next(s, "reply line too long");
			return;
		case LINE_OK:
			break;
		}
		s->scanned = 0;
		(void)evbuffer_remove(in, line, len);
		line[len] = '\0';
		r = smtp_reply_line(&s->r, s->state == SMTP_CST_EHLO, line,
		    len);
		if (r == 1 && s->state == SMTP_CST_EHLO) {
			s->ext = s->r.ext;
			s->size_max = s->r.size_max;
		}
		if (r < 0) {
			smtp_csess_try_next(s, "malformed reply");
			return;
		}
		if (r == 1) {
			enum smtp_cstate before = s->state;

			smtp_csess_reply(s);
			/* The session may be over, or TLS started, or a new
			 * connection made: input left behind is dropped. */
			if (s->bev == NULL || s->state == SMTP_CST_HANDSHAKE ||
			    before == SMTP_CST_QUIT || s->bev != bev)
				return;
		}
	}
}

static void
smtp_csess_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_csess *s = arg;
	char why[SMTP_CLIENT_ERROR_MAX];

	(void)bev;
	if ((what & BEV_EVENT_CONNECTED) != 0) {
		if (s->state == SMTP_CST_HANDSHAKE) {
			SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

			if (tls_describe(ssl, s->tls_info,
			    sizeof(s->tls_info)) < 0)
				s->tls_info[0] = '\0';
			/* With tls_verify the handshake itself fails on a
			 * certificate that does not verify. */
			log_info("queue=%lld smtp-client mx=%s ip=%s tls "
			    "%s verified=%s", (long long)s->job->queue_id,
			    s->host, s->ip, s->tls_info,
			    s->tls_verify ? "yes" : "no");
			/* RFC 3207 4.2: forget what was said before TLS. */
			s->ext = 0;
			smtp_csess_send(s, "EHLO %s\r\n",
			    s->cl->cfg->hostname);
			smtp_csess_set_state(s, SMTP_CST_EHLO);
			return;
		}
		log_info("queue=%lld smtp-client mx=%s ip=%s connected%s",
		    (long long)s->job->queue_id, s->host, s->ip,
		    s->no_tls ? " tls=skipped" : "");
		smtp_csess_timeouts(s, s->cl->cfg->queue_timeout);
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		smtp_csess_set_state(s, SMTP_CST_GREETING);
		return;
	}
	if (s->state == SMTP_CST_IDLE && (what & BEV_EVENT_TIMEOUT) != 0) {
		/* The idle time is over: QUIT (timeouts disabled reading). */
		smtp_csess_timeouts(s, s->cl->cfg->queue_timeout);
		smtp_csess_quit(s);
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	if (s->state == SMTP_CST_IDLE || (s->job == NULL &&
	    s->state == SMTP_CST_QUIT)) {
		/* Closed by the server while idle, or after our QUIT. */
		log_info("queue=%lld smtp-client domain=%s mx=%s ip=%s idle "
		    "closed", (long long)s->queue_id, s->domain, s->host,
		    s->ip);
		smtp_csess_finish(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) != 0) {
		(void)snprintf(why, sizeof(why), "timeout in state %s",
		    smtp_cstate_names[s->state]);
	} else if (s->state == SMTP_CST_QUIT) {
		/* The server closed after QUIT: fine. */
		smtp_csess_finish(s);
		return;
	} else if ((what & BEV_EVENT_ERROR) != 0) {
		unsigned long e = bufferevent_get_openssl_error(s->bev);
		int err = EVUTIL_SOCKET_ERROR();

		SSL *ssl = s->tls ? bufferevent_openssl_get_ssl(s->bev) :
		    NULL;
		long verr = ssl != NULL && s->tls_verify ?
		    SSL_get_verify_result(ssl) : X509_V_OK;

		if (verr != X509_V_OK)
			(void)snprintf(why, sizeof(why), "TLS certificate "
			    "verification failed in state %s: %s",
			    smtp_cstate_names[s->state],
			    X509_verify_cert_error_string(verr));
		else if (s->tls && e != 0)
			(void)snprintf(why, sizeof(why), "TLS error in state "
			    "%s: %s", smtp_cstate_names[s->state],
			    ERR_reason_error_string(e) != NULL ?
			    ERR_reason_error_string(e) : "unknown");
		else
			(void)snprintf(why, sizeof(why), "%s in state %s",
			    err != 0 ? strerror(err) : "connection error",
			    smtp_cstate_names[s->state]);
	} else {
		(void)snprintf(why, sizeof(why), "connection closed in state "
		    "%s", smtp_cstate_names[s->state]);
	}
	if (s->state == SMTP_CST_HANDSHAKE) {
		smtp_csess_tls_fallback(s, why);
		return;
	}
	smtp_csess_try_next(s, why);
}

/*
 * Moves on after a failure. A reused connection that fails before the
 * current message's content went out gets the message a fresh
 * connection, once, from the first exchange. Otherwise: before MAIL, the
 * next address; after it, the session is over and recipients without a
 * result are deferred.
 */
static void
smtp_csess_try_next(struct smtp_csess *s, const char *why)
{
	if (s->job == NULL) {
		/* Idle, or QUIT after it: no message to move on with. */
		log_info("queue=%lld smtp-client domain=%s mx=%s ip=%s idle "
		    "error=\"%s\"", (long long)s->queue_id, s->domain, s->host,
		    s->ip, why);
		smtp_csess_finish(s);
		return;
	}
	if (s->bev != NULL || s->state != SMTP_CST_ROUTE)
		log_info("queue=%lld smtp-client domain=%s mx=%s ip=%s "
		    "error=\"%s\"", (long long)s->job->queue_id,
		    s->job->domain, s->host[0] != '\0' ? s->host : "-",
		    s->ip[0] != '\0' ? s->ip : "-", why);
	if (snprintf(s->last_error, sizeof(s->last_error), "%s%s%s: %s",
	    s->host, s->ip[0] != '\0' ? " " : "", s->ip, why) < 0)
		s->last_error[0] = '\0';
	smtp_csess_close_bev(s);
	if (s->route == NULL) {
		smtp_csess_finish(s);
		return;
	}
	if (s->reused && !s->in_data && !s->reconnected) {
		log_info("queue=%lld smtp-client domain=%s reconnect "
		    "reason=\"reused connection lost\"",
		    (long long)s->job->queue_id, s->job->domain);
		s->reused = false;
		s->reconnected = true;
		s->in_txn = false;
		s->host_i = 0;
		s->addr_i = 0;
		for (size_t i = 0; i < s->job->n_rcpts; i++)
			s->job->rcpts[i].accepted = false;
		smtp_csess_connect_next(s);
		return;
	}
	if (s->in_txn) {
		smtp_csess_finish(s);
		return;
	}
	smtp_csess_connect_next(s);
}

/* Connects to the next address of the route (the same one again after a
 * failed TLS handshake), or ends the session when none is left
 * (recipients deferred with the last error). */
static void
smtp_csess_connect_next(struct smtp_csess *s)
{
	struct smtp_client *cl = s->cl;
	bool cleartext = s->tls_retry;

	s->tls_retry = false;
	if (cleartext) {
		assert(s->addr_i > 0);
		s->addr_i--;
	}
	while (s->host_i < s->route->n_hosts) {
		const struct dns_mx_host *h = &s->route->hosts[s->host_i];
		const struct dns_addr *a;
		struct sockaddr_storage ss;
		socklen_t sslen;
		struct timeval tv = { (time_t)cl->cfg->queue_connect_timeout,
		    0 };

		if (s->addr_i >= h->n_addrs) {
			s->host_i++;
			s->addr_i = 0;
			continue;
		}
		a = &h->addrs[s->addr_i++];
		s->no_tls = cleartext;
		cleartext = false;
		memset(&ss, 0, sizeof(ss));
		if (a->family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = a->u.v6;
			sin6->sin6_port = htons((uint16_t)cl->cfg->queue_port);
			sslen = sizeof(*sin6);
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			sin->sin_family = AF_INET;
			sin->sin_addr = a->u.v4;
			sin->sin_port = htons((uint16_t)cl->cfg->queue_port);
			sslen = sizeof(*sin);
		}
		(void)snprintf(s->host, sizeof(s->host), "%s", h->name);
		if (inet_ntop(a->family, &a->u, s->ip, sizeof(s->ip)) == NULL)
			(void)snprintf(s->ip, sizeof(s->ip), "?");
		s->bev = bufferevent_socket_new(cl->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (s->bev == NULL)
			break;
		s->conn_msgs = 0;
		s->in_txn = false;
		s->in_data = false;
		bufferevent_setcb(s->bev, smtp_csess_read_cb, NULL,
		    smtp_csess_event_cb, s);
		/* The write timeout bounds the connect. */
		bufferevent_set_timeouts(s->bev, NULL, &tv);
		smtp_csess_set_state(s, SMTP_CST_CONNECT);
		/* A refused connection is reported through the event
		 * callback; -1 is a local failure (no socket), with no
		 * callback to come: next address. */
		if (bufferevent_socket_connect(s->bev,
		    (struct sockaddr *)&ss, (int)sslen) < 0) {
			log_info("queue=%lld smtp-client mx=%s ip=%s "
			    "error=\"cannot connect: %s\"",
			    (long long)s->job->queue_id, s->host, s->ip,
			    strerror(errno));
			(void)snprintf(s->last_error, sizeof(s->last_error),
			    "%s %s: cannot connect", s->host, s->ip);
			smtp_csess_close_bev(s);
			continue;
		}
		return;
	}
	if (s->last_error[0] == '\0')
		(void)snprintf(s->last_error, sizeof(s->last_error),
		    "no exchange of %s could be reached", s->job->domain);
	smtp_csess_finish(s);
}

static void
smtp_csess_route_cb(void *ctx, struct dns_route *route)
{
	struct smtp_csess *s = ctx;
	struct smtp_client *cl = s->cl;
	char why[SMTP_CLIENT_ERROR_MAX];
	int dropped;

	s->route_req = NULL;
	s->route = route;
	if (route->status != DNS_OK) {
		int code = dns_status_temporary(route->status) ? 451 : 550;

		(void)snprintf(why, sizeof(why), "%d %s DNS %s: %s", code,
		    code == 451 ? "4.4.3" : route->status == DNS_NULLMX ?
		    "5.1.10" : "5.1.2", dns_status_name(route->status),
		    route->error != NULL ? route->error : "no route");
		smtp_csess_resolve_rest(s, code, why);
		smtp_csess_finish(s);
		return;
	}
	for (size_t i = 0; i < route->n_hosts; i++)
		log_debug("queue=%lld smtp-client domain=%s mx=%s pref=%u "
		    "addrs=%zu", (long long)s->job->queue_id, s->job->domain,
		    route->hosts[i].name, route->hosts[i].preference,
		    route->hosts[i].n_addrs);
	/* RFC 5321 5.1: never to ourselves, nor to exchanges we are
	 * preferred over. As the best exchange, we would only send the
	 * mail back to us: a loop (5.4.6, Postfix's wording). */
	dropped = dns_route_drop_self(route, cl->cfg->hostname, cl->own,
	    cl->n_own);
	if (dropped < 0) {
		(void)snprintf(why, sizeof(why), "550 5.4.6 mail for %s loops "
		    "back to myself (MX %s)", s->job->domain,
		    route->hosts[0].name);
		log_info("queue=%lld smtp-client domain=%s mx=%s error=\"mail "
		    "loops back to myself\"", (long long)s->job->queue_id,
		    s->job->domain, route->hosts[0].name);
		smtp_csess_resolve_rest(s, 550, why);
		smtp_csess_finish(s);
		return;
	}
	if (dropped > 0)
		log_info("queue=%lld smtp-client domain=%s self-mx "
		    "dropped=%d kept=%zu", (long long)s->job->queue_id,
		    s->job->domain, dropped, route->n_hosts);
	smtp_csess_connect_next(s);
}

/* This host's addresses: the [smtp] listen addresses, or every local
 * interface's for a wildcard one. */
static void
smtp_client_own_addrs(struct smtp_client *cl)
{
	const struct config_listen *l = &cl->cfg->smtp_listen;
	struct ifaddrs *ifs = NULL;
	bool wildcard = false;

	for (size_t i = 0; i < l->count && cl->n_own < SMTP_CLIENT_OWN_MAX;
	    i++) {
		const struct sockaddr *sa = (const struct sockaddr *)
		    &l->addrs[i];
		struct dns_addr *a = &cl->own[cl->n_own];

		if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 =
			    (const struct sockaddr_in6 *)sa;

			if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
				wildcard = true;
				continue;
			}
			a->family = AF_INET6;
			a->u.v6 = sin6->sin6_addr;
		} else if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *sin =
			    (const struct sockaddr_in *)sa;

			if (sin->sin_addr.s_addr == htonl(INADDR_ANY)) {
				wildcard = true;
				continue;
			}
			a->family = AF_INET;
			a->u.v4 = sin->sin_addr;
		} else {
			continue;
		}
		cl->n_own++;
	}
	if (!wildcard)
		return;
	if (getifaddrs(&ifs) < 0) {
		log_warning("smtp-client cannot list local addresses: %s",
		    strerror(errno));
		return;
	}
	for (struct ifaddrs *p = ifs; p != NULL &&
	    cl->n_own < SMTP_CLIENT_OWN_MAX; p = p->ifa_next) {
		struct dns_addr *a = &cl->own[cl->n_own];

		if (p->ifa_addr == NULL)
			continue;
		if (p->ifa_addr->sa_family == AF_INET6) {
			a->family = AF_INET6;
			a->u.v6 = ((const struct sockaddr_in6 *)
			    (const void *)p->ifa_addr)->sin6_addr;
		} else if (p->ifa_addr->sa_family == AF_INET) {
			a->family = AF_INET;
			a->u.v4 = ((const struct sockaddr_in *)
			    (const void *)p->ifa_addr)->sin_addr;
		} else {
			continue;
		}
		cl->n_own++;
	}
	freeifaddrs(ifs);
}

SSL_CTX *
smtp_client_verify_ctx_new(const struct config *cfg, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int r;

	if (ctx == NULL) {
		*error_r = "cannot create the verifying TLS client context";
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	if (cfg->queue_tls_ca_file[0] != '\0')
		r = SSL_CTX_load_verify_locations(ctx, cfg->queue_tls_ca_file,
		    NULL);
	else
		r = SSL_CTX_set_default_verify_paths(ctx);
	if (r != 1) {
		char err[256];

		ERR_error_string_n(ERR_peek_error(), err, sizeof(err));
		log_error("smtp-client ca_file=\"%s\" error=\"%s\"",
		    cfg->queue_tls_ca_file[0] != '\0' ?
		    cfg->queue_tls_ca_file : "(default paths)", err);
		*error_r = cfg->queue_tls_ca_file[0] != '\0' ?
		    "queue.tls_ca_file: no PEM certificate could be loaded" :
		    "cannot load the system's trusted certificates";
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct smtp_client *
smtp_client_new(struct event_base *base, const struct config *cfg,
    struct dns *dns, SSL_CTX *verify_ctx, const char **error_r)
{
	struct smtp_client *cl;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*error_r = "cannot create the TLS client context";
		return NULL;
	}
	/* Opportunistic TLS (RFC 7435): no verification, since MX hosts'
	 * names are not authenticated without DNSSEC/DANE or MTA-STS. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_up_ref(verify_ctx) != 1) {
		SSL_CTX_free(ctx);
		*error_r = "cannot take the verifying TLS client context";
		return NULL;
	}
	cl = xcalloc(1, sizeof(*cl));
	cl->base = base;
	cl->cfg = cfg;
	cl->dns = dns;
	cl->tls = ctx;
	cl->tls_verify = verify_ctx;
	smtp_client_own_addrs(cl);
	return cl;
}

/*
 * An idle connection to job's domain takes it. Otherwise, with as many
 * connections open as [queue] max_connections allows, an idle one to
 * another domain is closed (QUIT) to make room: idle connections are
 * not counted by the queue.
 */
static bool
smtp_client_take_idle(struct smtp_client *cl, struct smtp_client_job *job)
{
	struct smtp_csess *other = NULL;

	for (struct smtp_csess *s = cl->sessions; s != NULL; s = s->next) {
		if (s->state != SMTP_CST_IDLE)
			continue;
		if (strcmp(s->domain, job->domain) != 0) {
			other = s;
			continue;
		}
		smtp_csess_job_begin(s, job, true);
		smtp_csess_timeouts(s, cl->cfg->queue_timeout);
		/* A read timeout disables reading; harmless otherwise. */
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		smtp_csess_reuse(s);
		return true;
	}
	if (other != NULL && cl->n_active >= cl->cfg->queue_max_connections) {
		smtp_csess_timeouts(other, cl->cfg->queue_timeout);
		smtp_csess_quit(other);
	}
	return false;
}

void
smtp_client_deliver(struct smtp_client *cl, struct smtp_client_job *job)
{
	struct smtp_csess *s;

	if (smtp_client_take_idle(cl, job))
		return;
	s = xcalloc(1, sizeof(*s));

	s->cl = cl;
	s->reply = s->r.first;
	s->later = event_new(cl->base, -1, 0, smtp_csess_later_cb, s);
	smtp_csess_job_begin(s, job, false);
	s->next = cl->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	cl->sessions = s;
	cl->n_active++;
	smtp_csess_set_state(s, SMTP_CST_ROUTE);
	s->route_req = dns_mx_route(cl->dns, job->domain, smtp_csess_route_cb,
	    s);
}

size_t
smtp_client_active(const struct smtp_client *cl)
{
	return cl->n_active;
}

void
smtp_client_free(struct smtp_client **clp)
{
	struct smtp_client *cl = *clp;

	if (cl == NULL)
		return;
	while (cl->sessions != NULL) {
		struct smtp_csess *s = cl->sessions;

		cl->sessions = s->next;
		dns_route_cancel(&s->route_req);
		smtp_csess_close_bev(s);
		dns_route_free(&s->route);
		event_free(s->later);
		free(s);
	}
	SSL_CTX_free(cl->tls);
	SSL_CTX_free(cl->tls_verify);
	free(cl);
	*clp = NULL;
}
