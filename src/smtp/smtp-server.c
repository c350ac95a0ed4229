/*
 * smtp-server.c - SMTP sessions: inbound (port 25) and submission (587
 * with STARTTLS, 465 with implicit TLS), one code path with a mode.
 *
 * RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 2920 (PIPELINING), RFC 3030
 * (CHUNKING/BDAT), RFC 3207 (STARTTLS), RFC 2034 (ENHANCEDSTATUSCODES),
 * RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8), RFC 3848 (Received "with").
 * Submission: RFC 6409 (message submission), RFC 8314 (implicit TLS),
 * RFC 4954 (AUTH PLAIN and LOGIN; RFC 4616 PLAIN).
 *
 * Inbound sessions take mail for hosted domains only and never relay;
 * AUTH is not offered. Submission sessions must authenticate (over TLS,
 * or on loopback if allowed) before MAIL; the sender and the From:
 * addresses must be the user's own (the user's address, or an alias that
 * reaches the user); local recipients are delivered, the others queued
 * in the store for the deliverer, in the same durable write, before 250.
 * Date: and Message-ID: are added when the message has none (RFC 6409
 * 8.2, 8.3), then DKIM-Signature fields when the From: domain has keys
 * (auth/dkim.h; on the loop: an RSA-2048 signature takes about a
 * millisecond, the body hash is linear in the size). Failed logins are
 * counted per peer address and per account with IMAP's and POP3's
 * (core/authlimit.h) and answered late; a user's messages and recipients
 * per hour are limited ([submission] max_*_per_hour, in memory).
 *
 * A session is a state machine driven by its input: every complete command
 * line is dispatched through smtp_cmds[]; DATA and BDAT switch to reading
 * message content. A finished message becomes a delivery job; the session
 * stops reading until the job is durable and only then answers 250.
 *
 * SMTP smuggling: only <CRLF>.<CRLF> ends DATA. A bare LF or bare CR
 * anywhere in DATA makes the message fail with 550 5.6.0 once it ends, so
 * <LF>.<LF> or <CR>.<CR> can neither end a message nor start another.
 *
 * Inbound sessions check SPF (RFC 7208, auth/spf.h) when MAIL arrives:
 * the MAIL FROM domain, or the HELO name for MAIL FROM:<>, against the
 * client's address. The session waits for the result, like for a
 * password check (pipelined commands stay in the input buffer, in
 * order), keeps it in the transaction (smtp_txn_spf()) and logs it; with
 * [auth] spf_reject_fail a fail is answered 550 5.7.23 (RFC 7372) with
 * the domain's explanation, and a temperror 451 4.4.3.
 *
 * Commands that arrive after STARTTLS in the same packet are discarded
 * (RFC 3207 4.2, CVE-2011-0411). Every command must be complete within
 * [smtp] timeout of the previous reply, and DATA within data_timeout, which
 * bounds both idle and slow ("slowloris") sessions.
 *
 * SECURITY: everything a session reads is hostile. Limits: command line
 * 512, text line 1000, message max_message_size, recipients max_recipients,
 * errors max_errors, unknown recipients max_unknown_recipients, sessions
 * max_sessions, and per peer address and network [limits]
 * (core/connlimit.h, checked before anything is read); input and output
 * buffers are bounded by watermarks. On port 25 a client that talks before
 * the greeting ([smtp] greet_pause) is refused. Peer text is escaped
 * before it is logged.
 */
#include "smtp/smtp-server.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "auth/auth-check.h"
#include "auth/authres.h"
#include "auth/dkim.h"
#include "auth/sasl.h"
#include "auth/spf.h"
#include "core/authlimit.h"
#include "core/buf.h"
#include "core/connlimit.h"
#include "core/line.h"
#include "core/listen.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/ratelimit.h"
#include "core/tls.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "filter/spam-check.h"
#include "filter/quarantine.h"
#include "mime/addr.h"
#include "mime/header.h"
#include "mime/mime-imap.h"
#include "smtp/smtp-parse.h"
#include "store/deliverq.h"
#include "store/store.h"
#include "store/storeq.h"

#define SMTP_INPUT_HIGH (256 * 1024)	/* stop reading input past this */
#define SMTP_OUTPUT_HIGH (64 * 1024)	/* stop answering past this */
#define SMTP_HELO_MAX 255
#define SMTP_USERS_MAX 1000		/* local users one message may reach */
#define SMTP_SHUTDOWN_REPLY "421 4.3.2 Service shutting down"
/* An AUTH command or SASL response line, with CRLF. RFC 4954 4 allows
 * 12288; the longest PLAIN response (two addresses of 320 bytes and a
 * password of 511, in base64) takes about 1550. Before login only. */
#define SMTP_AUTH_LINE_MAX 2048
/* From: addresses checked for ownership, at most. */
#define SMTP_FROM_MAX 20
/* [submission] max_messages_per_hour and max_recipients_per_hour */
#define SMTP_SEND_PERIOD_MS (3600 * 1000)
#define SMTP_SEND_MESSAGES 1		/* ratelimit kinds */
#define SMTP_SEND_RECIPIENTS 2

enum smtp_state {
	SMTP_ST_CMD,		/* reading commands */
	SMTP_ST_DATA,		/* reading DATA content */
	SMTP_ST_BDAT,		/* reading a BDAT chunk */
	SMTP_ST_WAIT,		/* a message is being stored */
	SMTP_ST_STARTTLS,	/* flushing 220 before the TLS handshake */
	SMTP_ST_AUTH,		/* reading a SASL response (after 334) */
	SMTP_ST_AUTH_WAIT,	/* a password check, or a failure's delay */
	SMTP_ST_SPF,		/* MAIL waits for its SPF check */
	SMTP_ST_CHECK,		/* the content waits for DKIM and DMARC */
	SMTP_ST_GREET,		/* port 25: the pause before the greeting */
	SMTP_ST_RELEASE,	/* RCPT waits for a quarantine release */
};

static const char *const smtp_state_names[] = {
	[SMTP_ST_CMD] = "cmd",
	[SMTP_ST_DATA] = "data",
	[SMTP_ST_BDAT] = "bdat",
	[SMTP_ST_WAIT] = "wait",
	[SMTP_ST_STARTTLS] = "starttls",
	[SMTP_ST_AUTH] = "auth",
	[SMTP_ST_AUTH_WAIT] = "auth-wait",
	[SMTP_ST_SPF] = "spf",
	[SMTP_ST_CHECK] = "check",
	[SMTP_ST_GREET] = "greet",
	[SMTP_ST_RELEASE] = "release",
};

/* Where an AUTH exchange is. */
enum smtp_auth_step {
	SMTP_AUTH_PLAIN,	/* PLAIN, waiting for the response */
	SMTP_AUTH_LOGIN_USER,	/* LOGIN, waiting for the user name */
	SMTP_AUTH_LOGIN_PASS,	/* LOGIN, waiting for the password */
};

struct smtp_server {
	struct event_base *base;
	const struct config *config;
	enum smtp_mode mode;
	const char *name;		/* "smtp" or "submission", for logs */
	struct store *store;
	struct deliverq *deliverq;
	struct storeq *storeq;		/* password checks (submission) */
	struct authlimit *authlimit;	/* failed logins (submission) */
	struct connlimit *connlimit;	/* connections per address, net */
	struct ratelimit *sendlimit;	/* submission: per user and hour */
	const struct dkim_keys *dkim;	/* signing keys (submission) */
	/* Release addresses of held mail (submission), or NULL. */
	const struct quarantine_secret *quarantine;
	struct spf_dns spf_dns;		/* inbound: SPF checks, if set */
	bool spf;
	struct dns *dns;		/* inbound: DMARC policies */
	struct dkim_verifier *dkim_verifier;	/* inbound, with dns */
	struct spam_filter *spam;	/* scores the content, if set */
	SSL_CTX *tls;
	struct evconnlistener *listeners[CONFIG_LISTEN_MAX * 4];
	bool listener_tls[CONFIG_LISTEN_MAX * 4];	/* implicit TLS */
	size_t n_listeners;
	struct smtp_conn *conns;
	unsigned n_conns;
	bool stopping;
	uint64_t own_buffered;
	uint64_t *buffered;		/* message bytes held by all sessions */
};

/* One mail transaction: MAIL, RCPTs, content. Its own arena. */
struct smtp_txn {
	struct smtp_server *server;
	struct pool *pool;
	unsigned seq;			/* n-th transaction of the session */
	struct smtp_path from;
	struct smtp_mail_params params;
	char **rcpts;			/* accepted recipient addresses */
	size_t n_rcpts;
	char **remote;			/* the ones to queue (submission) */
	size_t n_remote;
	int64_t *users;			/* distinct local users reached */
	size_t n_users;
	unsigned rcpt_attempts;
	/* Inbound: the SPF result of MAIL FROM (or of HELO for <>), from the
	 * transaction's pool; NULL when nothing was checked (submission, no
	 * resolver). Read it with smtp_txn_spf(). */
	struct spf_result *spf_result;
	/* Set at the end of the content: DMARC's disposition and its row
	 * (smtp_check_done), then the spam filter's verdict. */
	enum dmarc_policy dmarc_act;
	const struct store_dmarc_row *dmarc_row;
	bool spam_checked;
	double spam_score;
	enum spam_action spam_action;
	const char *spam_symbols;	/* from the pool, for the log */
	struct store_quarantine_hold *hold;

	/* Content, with the trace header prefix in front. */
	struct buf data;
	size_t prefix_len;
	size_t return_path_len;		/* its first line, for local copies */
	bool bdat;			/* BDAT used: DATA is no longer allowed */
	bool at_bol;			/* the last line ended in CRLF */
	bool bare;			/* saw a bare CR or LF */
	bool too_long;			/* saw a line over 1000 */
	bool too_big;			/* over max_message_size */
	bool no_memory;			/* over [server] max_buffered */
	size_t accounted;		/* capacity counted in server->buffered */
	bool failed;			/* a BDAT chunk failed: the rest is dropped */
	const char *fail_reply;		/* what to say after a dropped chunk */
	uint64_t chunk_left;		/* BDAT bytes still to read */
	bool chunk_last;
	char id[32];
};

struct smtp_delivery {
	struct deliverq_job job;
	struct store_queue_entry queue;
	struct smtp_conn *conn;
};

/* A password check on a storeq worker. */
struct smtp_auth_job {
	struct storeq_job job;
	struct smtp_conn *conn;		/* waits for the job to finish */
	char *user;
	char *password;			/* wiped after the check */
	size_t password_len;
	const char *mech;		/* "plain" or "login", for the log */
	int result;			/* 1 ok, 0 wrong, -1 error */
	int64_t user_id;
	char error[128];
};

struct smtp_conn {
	struct smtp_conn *prev, *next;
	struct smtp_server *server;
	char id[16];
	struct pool *pool;
	struct bufferevent *bev;
	evutil_socket_t fd;
	struct sockaddr_storage peer_sa;
	char peer[64];
	/* Submission: the logged-in user (malloc'ed) and the login under
	 * way. */
	char *user;
	int64_t user_id;
	enum smtp_auth_step auth_step;
	char *auth_login_user;		/* LOGIN's user name, malloc'ed */
	struct smtp_auth_job *auth;	/* while a password is checked */
	struct spf_check *spf;		/* while MAIL's SPF is checked */
	struct auth_check *check;	/* while DKIM and DMARC run */
	struct spam_check *spam_check;	/* while the spam filter runs */
	struct event *auth_timer;	/* delays a failure's reply */
	struct event *greet_timer;	/* port 25: ends the greet pause */
	struct connlimit_ticket ticket;	/* what connlimit counted */
	unsigned unknown_rcpts;		/* RCPTs to unknown users, session */
	char *helo;			/* NULL until HELO/EHLO; malloc'ed */
	bool esmtp;
	bool tls;			/* the TLS handshake is done */
	bool tls_bev;			/* bev is bufferevent_openssl */
	bool io_error;			/* the connection failed: just drop it */
	bool output_full;		/* processing stopped for unsent replies */
	bool peer_eof;			/* the peer sent FIN: it may still read */
	char tls_info[160];
	enum smtp_state state;
	unsigned errors;
	unsigned txn_count;
	size_t scanned;			/* line_next() position */
	bool skip_line;			/* dropping the rest of a long line */
	bool closing;			/* no more input; free once flushed */
	bool shutdown;			/* say 421 once the pending reply is out */
	struct smtp_txn *txn;
	struct smtp_delivery *delivery;	/* while SMTP_ST_WAIT */
	struct smtp_release *release;	/* while SMTP_ST_RELEASE */
	struct buf line;
	struct event *deadline;
};

struct smtp_cmd {
	const char *name;
	void (*fn)(struct smtp_conn *c, const char *args);
	unsigned flags;
};
#define CMD_NEED_HELO	0x01	/* 503 before HELO/EHLO */
#define CMD_NO_ARGS	0x02	/* 501 if arguments are given */
#define CMD_LONG_LINE	0x04	/* may be up to SMTP_AUTH_LINE_MAX */

static void smtp_conn_process(struct smtp_conn *c);
static void smtp_conn_finish(struct smtp_conn *c);
static void smtp_conn_resume(struct smtp_conn *c);
static void smtp_conn_start_tls(struct smtp_conn *c);
static void smtp_conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void smtp_conn_read_cb(struct bufferevent *bev, void *arg);
static void smtp_conn_write_cb(struct bufferevent *bev, void *arg);
static void smtp_cmd_auth(struct smtp_conn *c, const char *args);

static void
smtp_reply(struct smtp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
smtp_reply(struct smtp_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* Stops reading; the session is freed once its output is flushed. */
static void
smtp_conn_close(struct smtp_conn *c, const char *reason)
{
	if (c->closing)
		return;
	log_info("conn=%s smtp close peer=%s state=%s reason=\"%s\"", c->id,
	    c->peer, smtp_state_names[c->state], reason);
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->deadline);
	if (c->greet_timer != NULL)
		evtimer_del(c->greet_timer);
	/* No reply will be sent for MAIL or the content any more (the
	 * content was not acknowledged: nothing is lost). */
	spf_check_free(&c->spf);
	auth_check_cancel(&c->check);
	spam_check_cancel(&c->spam_check);
}

/*
 * Is the session waiting for a result that will resume it and reply (a
 * delivery, MAIL's SPF check, the checks of the content)? A peer that
 * half-closed meanwhile still gets that reply, and the resume closes the
 * session; closing now would cancel the wait and leave the command, maybe
 * a message pipelined with BDAT, unanswered.
 */
static bool
smtp_conn_waiting(const struct smtp_conn *c)
{
	return c->state == SMTP_ST_WAIT || c->state == SMTP_ST_SPF ||
	    c->state == SMTP_ST_CHECK || c->state == SMTP_ST_RELEASE;
}

/* A reply for a client mistake; too many of them end the session. */
static void
smtp_error(struct smtp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
smtp_error(struct smtp_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	if (++c->errors >= c->server->config->smtp_max_errors) {
		smtp_reply(c, "421 4.7.0 %s Too many errors, closing",
		    c->server->config->hostname);
		smtp_conn_close(c, "too many errors");
	}
}

static void
smtp_deadline_arm(struct smtp_conn *c, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	evtimer_add(c->deadline, &tv);
}

/* --- transactions --- */

static void
smtp_txn_free(struct smtp_txn **txnp)
{
	struct smtp_txn *t = *txnp;

	if (t == NULL)
		return;
	*t->server->buffered -= t->accounted;
	buf_release(&t->data);
	pool_free(&t->pool);
	free(t);
	*txnp = NULL;
}

static void
smtp_txn_reset(struct smtp_conn *c)
{
	smtp_txn_free(&c->txn);
}

/*
 * The SPF result of the transaction (RFC 7208 2.6), for logs, DMARC
 * (RFC 7489 4.2) and Authentication-Results (RFC 8601 2.7.2), or NULL if
 * SPF was not checked. Lives as long as the transaction.
 */
static const struct spf_result *
smtp_txn_spf(const struct smtp_txn *t)
{
	return t->spf_result;
}

/* Writes Return-Path (RFC 5321 4.4) and Received (4.4, RFC 3848) into
 * the content buffer, ahead of the message. */
static int
smtp_txn_prefix(struct smtp_conn *c, struct smtp_txn *t)
{
	const struct config *cfg = c->server->config;
	char date[64], helo[LOG_ESCAPE_MAX];
	time_t now = time(NULL);
	struct tm tm;
	const char *proto;
	int r = 0;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	/* RFC 3848: "A" for an authenticated session. */
	if (t->params.smtputf8)
		proto = c->user != NULL ? (c->tls ? "UTF8SMTPSA" : "UTF8SMTPA") :
		    c->tls ? "UTF8SMTPS" : "UTF8SMTP";
	else if (c->esmtp)
		proto = c->user != NULL ? (c->tls ? "ESMTPSA" : "ESMTPA") :
		    c->tls ? "ESMTPS" : "ESMTP";
	else
		proto = c->tls ? "SMTPS" : "SMTP";
	assert(c->helo != NULL);
	log_escape(helo, sizeof(helo), c->helo, strlen(c->helo));
	r |= buf_printf(&t->data, "Return-Path: <%s>\r\n", t->from.address);
	t->return_path_len = t->data.len;
	/* RFC 5321 4.1.3: IPv6 address literals carry a tag. */
	r |= buf_printf(&t->data, "Received: from %s ([%s%s])\r\n\tby %s (Correio)"
	    " with %s id %s\r\n", helo, strchr(c->peer, ':') != NULL ? "IPv6:" : "",
	    c->peer, cfg->hostname, proto, t->id);
	if (c->tls)
		r |= buf_printf(&t->data, "\t(%s)\r\n", c->tls_info);
	if (t->n_rcpts == 1)
		r |= buf_printf(&t->data, "\tfor <%s>; %s\r\n", t->rcpts[0], date);
	else
		r |= buf_printf(&t->data, "\t; %s\r\n", date);
	t->prefix_len = t->data.len;
	return r == 0 ? 0 : -1;
}

/* Starts collecting content: DATA or the first BDAT. */
static int
smtp_txn_begin_content(struct smtp_conn *c)
{
	struct smtp_txn *t = c->txn;
	uint64_t max = c->server->config->max_message_size;

	/* Room for the trace headers and Authentication-Results on top of
	 * the message itself. */
	buf_init(&t->data, (size_t)max + 4096 + AUTH_CHECK_HEADER_MAX +
	    SPAM_HEADER_MAX);
	if (smtp_txn_prefix(c, t) < 0) {
		smtp_reply(c, "451 4.3.0 Internal error");
		return -1;
	}
	t->at_bol = true;
	return 0;
}

/* Appends message bytes, enforcing the size limit and the memory budget
 * shared by all sessions. */
static void
smtp_txn_append(struct smtp_conn *c, const char *p, size_t n)
{
	struct smtp_txn *t = c->txn;
	struct smtp_server *s = c->server;
	uint64_t max = s->config->max_message_size;
	size_t body = t->data.len - t->prefix_len, cap, grow;

	if (t->too_big || t->bare || t->too_long || t->failed || t->no_memory)
		return;
	if (n > max - body) {
		t->too_big = true;
		return;
	}
	/* What the buffer will really take, counted before it grows. */
	cap = buf_cap_after(&t->data, n);
	grow = cap > t->accounted ? cap - t->accounted : 0;
	if (*s->buffered >= s->config->max_buffered ||
	    grow > s->config->max_buffered - *s->buffered) {
		t->no_memory = true;
		return;
	}
	if (buf_append(&t->data, p, n) < 0) {
		t->too_big = true;
		return;
	}
	*s->buffered += grow;
	t->accounted += grow;
}

/* The reply and log reason for content that will not be stored, or NULL. */
static const char *
smtp_txn_refusal(const struct smtp_txn *t, const char **reason_r)
{
	if (t->bare) {
		*reason_r = "bare-cr-lf";
		return "550 5.6.0 Bare CR or LF in message content is not allowed (RFC 5321 2.3.8)";
	}
	if (t->too_long) {
		*reason_r = "line-too-long";
		return "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6)";
	}
	if (t->too_big) {
		*reason_r = "too-big";
		return "552 5.3.4 Message size exceeds fixed maximum message size";
	}
	if (t->no_memory) {
		*reason_r = "server-memory-full";
		return "452 4.3.1 Insufficient system storage, try again later";
	}
	return NULL;
}

static void
smtp_delivery_done(struct deliverq_job *job)
{
	struct smtp_delivery *d = (struct smtp_delivery *)job;
	struct smtp_conn *c = d->conn;
	struct smtp_txn *t = c->txn;
	char from[LOG_ESCAPE_MAX], to[LOG_ESCAPE_MAX];
	struct buf rcpts;
	int ok = job->delivery.result == 0;

	buf_init(&rcpts, 4096);
	for (size_t i = 0; i < t->n_rcpts; i++) {
		if (buf_printf(&rcpts, "%s<%s>", i > 0 ? "," : "", t->rcpts[i]) < 0)
			break;
	}
	log_escape(from, sizeof(from), t->from.address, strlen(t->from.address));
	log_escape(to, sizeof(to), rcpts.data != NULL ? rcpts.data : "", rcpts.len);
	buf_release(&rcpts);
	log_info("conn=%s smtp message id=%s peer=%s%s%s from=<%s> to=%s "
	    "size=%zu result=%s%s%s queued=%lld spf=%s%s%.1f%s%s%s%s%s",
	    c->id, t->id, c->peer,
	    c->user != NULL ? " user=" : "", c->user != NULL ? c->user : "",
	    from, to, t->data.len - t->prefix_len,
	    ok ? "250" : "451", ok ? "" : " error=",
	    ok ? "" : job->delivery.error,
	    ok && t->n_remote > 0 ? (long long)d->queue.id_r : 0LL,
	    smtp_txn_spf(t) != NULL ?
	    spf_status_name(smtp_txn_spf(t)->status) : "-",
	    t->spam_checked ? " spam=" : "", t->spam_checked ?
	    t->spam_score : 0.0, t->spam_checked ? " action=" : "",
	    t->spam_checked ? (t->hold != NULL ? "quarantine" :
	    spam_action_name(t->spam_action)) : "",
	    t->spam_checked ? " symbols=\"" : "",
	    t->spam_checked ? t->spam_symbols : "",
	    t->spam_checked ? "\"" : "");
	if (!c->closing) {
		if (ok && t->n_remote > 0)
			smtp_reply(c, "250 2.0.0 Ok: queued as %lld (id %s)",
			    (long long)d->queue.id_r, t->id);
		else if (ok)
			smtp_reply(c, "250 2.0.0 Ok: delivered as %s", t->id);
		else
			smtp_reply(c, "451 4.3.0 Temporary failure storing the message, try again later");
	}
	c->delivery = NULL;
	free(d);
	smtp_txn_reset(c);
	c->state = SMTP_ST_CMD;
	if (c->shutdown && !c->closing) {
		smtp_reply(c, SMTP_SHUTDOWN_REPLY);
		smtp_conn_close(c, "shutdown");
	}
	if (!c->closing) {
		smtp_deadline_arm(c, c->server->config->smtp_timeout);
		smtp_conn_process(c);
	}
	/* The peer half-closed while it waited: what it sent is answered. */
	if (c->peer_eof && !c->closing && !smtp_conn_waiting(c))
		smtp_conn_close(c, "disconnected");
	smtp_conn_finish(c);
}

/*
 * Submission: is address the logged-in user's own, that is the user's
 * address or an alias that reaches the user? Returns 1, 0, or -1 on a
 * store error.
 */
static int
smtp_addr_owned(struct smtp_conn *c, const char *address, struct pool *pool)
{
	enum store_rcpt_result res;
	const char *error, *norm;
	int64_t *users;
	size_t n;

	if ((norm = addr_normalize(address, pool, &error)) == NULL)
		return 0;
	users = pool_alloc(pool, sizeof(*users) * SMTP_USERS_MAX);
	if (store_rcpt_resolve(c->server->store, norm, users, SMTP_USERS_MAX,
	    &n, &res, &error) < 0) {
		log_error("conn=%s smtp owner check store error=\"%s\"", c->id,
		    error);
		return -1;
	}
	if (res != STORE_RCPT_LOCAL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (users[i] == c->user_id)
			return 1;
	return 0;
}

/* The From: check, address by address. */
struct smtp_from_check {
	struct smtp_conn *c;
	struct pool *pool;
	size_t n;
	int result;		/* 1 all owned so far, 0 one is not, -1 */
};

static void
smtp_from_check_one(void *ctx, const char *local, size_t local_len,
    const char *domain, size_t domain_len)
{
	struct smtp_from_check *fc = ctx;
	char *addr;

	if (fc->result != 1)
		return;
	if (++fc->n > SMTP_FROM_MAX) {
		fc->result = 0;
		return;
	}
	addr = pool_printf(fc->pool, "%.*s@%.*s", (int)local_len, local,
	    (int)domain_len, domain);
	fc->result = smtp_addr_owned(fc->c, addr, fc->pool);
}

/* Puts n bytes of header fields at the top of the message (after the
 * trace fields), counting the memory it takes. */
static int
smtp_txn_insert(struct smtp_conn *c, struct smtp_txn *t, const char *h,
    size_t n)
{
	struct smtp_server *s = c->server;
	size_t old = t->data.len, cap;

	if (buf_append(&t->data, h, n) < 0)
		return -1;
	memmove(t->data.data + t->prefix_len + n, t->data.data + t->prefix_len,
	    old - t->prefix_len);
	memcpy(t->data.data + t->prefix_len, h, n);
	cap = t->data.cap;
	if (cap > t->accounted) {
		*s->buffered += cap - t->accounted;
		t->accounted = cap;
	}
	return 0;
}

/*
 * Signs the message with the keys of its From: domain (RFC 6376), after
 * the fields added above so that they are signed too; the signatures go
 * on top of the message, under the trace fields. Returns 0, or -1 with
 * the reply sent and *reason_r set.
 */
static int
smtp_submission_sign(struct smtp_conn *c, struct smtp_txn *t,
    const char **reason_r)
{
	const char *error;
	struct buf sigs;
	int n, r = 0;

	if (dkim_keys_count(c->server->dkim) == 0)
		return 0;
	buf_init(&sigs, 16 * 1024);
	n = dkim_sign(c->server->dkim, t->data.data + t->prefix_len,
	    t->data.len - t->prefix_len, time(NULL), &sigs, &error);
	if (n > 0)
		r = smtp_txn_insert(c, t, sigs.data, sigs.len);
	buf_release(&sigs);
	if (n < 0) {
		log_error("conn=%s smtp message id=%s dkim sign error=\"%s\"",
		    c->id, t->id, error);
		*reason_r = "dkim-sign-error";
		smtp_reply(c, "451 4.3.0 Internal error signing the message");
		return -1;
	}
	if (r != 0) {
		*reason_r = "too-big";
		smtp_error(c, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		return -1;
	}
	if (n > 0)
		log_debug("conn=%s smtp message id=%s dkim signatures=%d",
		    c->id, t->id, n);
	return 0;
}

/*
 * Submission content rules (RFC 6409 8): every From: address must be the
 * user's own, and Date: and Message-ID: are added if missing. Returns 0,
 * or -1 with the reply sent and *reason_r set.
 */
static int
smtp_submission_content(struct smtp_conn *c, struct smtp_txn *t,
    const char **reason_r)
{
	const struct config *cfg = c->server->config;
	const char *body = t->data.data + t->prefix_len;
	size_t blen = t->data.len - t->prefix_len;
	struct smtp_from_check fc = { c, t->pool, 0, 1 };
	char date[HEADER_DATE_SIZE], msgid[HEADER_MSGID_SIZE];
	struct buf add;
	const char *from;
	int r = 0;

	if (header_count(body, blen, "From") > 1) {
		*reason_r = "from-header-repeated";
		smtp_error(c, "550 5.7.1 More than one From: header field");
		return -1;
	}
	if ((from = header_get(body, blen, "From", t->pool)) != NULL)
		(void)mime_addr_list_foreach(from, strlen(from),
		    smtp_from_check_one, &fc);
	if (fc.result < 0) {
		*reason_r = "store-error";
		smtp_reply(c, "451 4.3.0 Temporary lookup failure");
		return -1;
	}
	if (fc.result == 0) {
		*reason_r = "from-header-not-owned";
		smtp_error(c, "550 5.7.1 From: header address not owned by "
		    "the authenticated user");
		return -1;
	}
	buf_init(&add, 1024);
	if (header_count(body, blen, "Date") == 0 &&
	    header_date(time(NULL), date, sizeof(date)) == 0)
		r |= buf_printf(&add, "Date: %s\r\n", date);
	if (header_count(body, blen, "Message-ID") == 0 &&
	    header_message_id(cfg->hostname, msgid, sizeof(msgid)) == 0)
		r |= buf_printf(&add, "Message-ID: %s\r\n", msgid);
	if (r == 0 && add.len > 0)
		r = smtp_txn_insert(c, t, add.data, add.len);
	buf_release(&add);
	if (r != 0) {
		*reason_r = "too-big";
		smtp_error(c, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		return -1;
	}
	return smtp_submission_sign(c, t, reason_r);
}

/* Stores the content durably in mailbox ("INBOX" or "Junk"); the reply
 * comes from smtp_delivery_done. */
static void
smtp_txn_store(struct smtp_conn *c, const char *mailbox,
    const struct store_dmarc_row *dmarc)
{
	struct smtp_txn *t = c->txn;
	const char *body = t->data.data + t->prefix_len;
	size_t blen = t->data.len - t->prefix_len;
	struct smtp_delivery *d;
	struct store_delivery *sd;

	d = xcalloc(1, sizeof(*d));
	d->conn = c;
	d->job.done = smtp_delivery_done;
	sd = &d->job.delivery;
	sd->data = t->data.data;
	sd->size = t->data.len;
	sd->users = t->users;
	sd->n_users = t->n_users;
	sd->mailbox = mailbox;
	sd->dmarc = dmarc;
	sd->quarantine = t->hold;
	sd->internal_date = time(NULL);
	sd->envelope_from = t->from.address;
	sd->hdr_from = header_get(body, blen, "From", t->pool);
	sd->hdr_subject = header_get(body, blen, "Subject", t->pool);
	sd->hdr_date = header_get(body, blen, "Date", t->pool);
	if (t->n_remote > 0) {
		d->queue.sender = t->from.address;
		d->queue.rcpts = (const char *const *)t->remote;
		d->queue.n_rcpts = t->n_remote;
		d->queue.data_offset = t->return_path_len;
		d->queue.user_id = c->user_id;
		/* RFC 6531: the next hop must offer SMTPUTF8 if the message
		 * needs it; the deliverer decides. */
		d->queue.smtputf8 = t->params.smtputf8;
		sd->queue = &d->queue;
	}
	c->delivery = d;
	/* Nothing more is processed until the reply is out; input that
	 * arrives meanwhile waits in the buffer (bounded by the read
	 * watermark). */
	c->state = SMTP_ST_WAIT;
	evtimer_del(c->deadline);
	deliverq_submit(c->server->deliverq, &d->job);
}

/* The DMARC evaluation as aggregate reports need it (RFC 7489 7.2), from
 * pool; NULL when no policy was found. */
static struct store_dmarc_row *
smtp_dmarc_row(struct smtp_conn *c, const struct auth_check_result *r,
    enum dmarc_policy act, struct pool *pool)
{
	struct store_dmarc_row *row;
	struct buf dkim;
	size_t i;

	if (r->dmarc.status != DMARC_PASS && r->dmarc.status != DMARC_FAIL)
		return NULL;
	row = pool_alloc(pool, sizeof(*row));
	row->time = time(NULL);
	row->source_ip = pool_strdup(pool, c->peer);
	row->header_from = pool_strdup(pool, r->dmarc.from_domain);
	row->policy_domain = pool_strdup(pool, r->dmarc.policy_domain);
	row->policy = dmarc_policy_name(r->dmarc.policy);
	row->pct = r->dmarc.record.pct;
	row->disposition = dmarc_policy_name(act);
	row->dmarc = dmarc_status_name(r->dmarc.status);
	/* At most DKIM_SIGS_MAX signatures of short domains: it fits. */
	buf_init(&dkim, 4096);
	for (i = 0; r->dkim != NULL && i < r->dkim->n_sigs; i++)
		(void)buf_printf(&dkim, "%s%s=%s", i > 0 ? " " : "",
		    r->dkim->sigs[i].domain != NULL ?
		    r->dkim->sigs[i].domain : "-",
		    dkim_status_name(r->dkim->sigs[i].status));
	row->dkim = pool_strdup(pool, dkim.data != NULL ? dkim.data : "");
	buf_release(&dkim);
	row->spf_domain = pool_strdup(pool, r->spf != NULL &&
	    r->spf->domain != NULL ? r->spf->domain : "");
	row->spf = r->spf != NULL ? spf_status_name(r->spf->status) : "none";
	return row;
}

/* A rejected message's DMARC row, written on its own. */
struct smtp_dmarc_job {
	struct deliverq_job job;
	struct pool *pool;
	const struct store_dmarc_row *row;
};

static int
smtp_dmarc_job_run(struct store *store, struct deliverq_job *job)
{
	struct smtp_dmarc_job *dj = (struct smtp_dmarc_job *)job;
	const char *error;

	if (store_dmarc_record(store, dj->row, &error) < 0) {
		log_error("smtp dmarc record error=\"%s\"", error);
		return -1;
	}
	return 0;
}

static void
smtp_dmarc_job_done(struct deliverq_job *job)
{
	struct smtp_dmarc_job *dj = (struct smtp_dmarc_job *)job;

	pool_free(&dj->pool);
	free(dj);
}

/*
 * The spam filter's verdict (filter/spam-check.h): the message comes
 * back with its X-Spam-* fields in place of any the sender wrote, then
 * the action: reject is answered 550 5.7.1 before anything is stored,
 * quarantine holds it outside the mailboxes, junk and DMARC's
 * quarantine deliver to Junk.
 */
static void
smtp_spam_done(void *ctx, const struct spam_verdict *v)
{
	struct smtp_conn *c = ctx;
	struct smtp_txn *t = c->txn;
	size_t blen;

	c->spam_check = NULL;
	t->data = *v->msg;
	buf_init(v->msg, 0);
	/* The milters' changes may have made a new buffer. */
	if (t->data.cap != t->accounted) {
		*c->server->buffered += t->data.cap;
		*c->server->buffered -= t->accounted;
		t->accounted = t->data.cap;
	}
	if (v->milter == SPAM_MILTER_REJECT ||
	    v->milter == SPAM_MILTER_TEMPFAIL ||
	    v->milter == SPAM_MILTER_DISCARD) {
		log_info("conn=%s smtp message id=%s peer=%s%s%s result=%s "
		    "reason=milter", c->id, t->id, c->peer,
		    c->user != NULL ? " user=" : "",
		    c->user != NULL ? c->user : "",
		    v->milter == SPAM_MILTER_REJECT ? "rejected" :
		    v->milter == SPAM_MILTER_TEMPFAIL ? "deferred" :
		    "discarded");
		if (v->milter == SPAM_MILTER_DISCARD)
			smtp_reply(c, "250 2.0.0 Ok: %s", t->id);
		else
			smtp_reply(c, "%s", v->milter_reply);
		smtp_txn_reset(c);
		smtp_conn_resume(c);
		return;
	}
	if (!v->scored) {
		/* Only milters ran. */
		smtp_txn_store(c, t->dmarc_act == DMARC_POLICY_QUARANTINE &&
		    c->server->mode == SMTP_MODE_INBOUND ? "Junk" :
		    STORE_MAILBOX_INBOX, t->dmarc_row);
		smtp_conn_finish(c);
		return;
	}
	t->spam_checked = true;
	t->spam_score = v->result->score;
	t->spam_action = v->action;
	t->spam_symbols = pool_strdup(t->pool, v->symbols);
	blen = spam_header_strip(t->data.data + t->prefix_len,
	    t->data.len - t->prefix_len);
	t->data.len = t->prefix_len + blen;
	t->data.data[t->data.len] = '\0';
	/* There is room: smtp_txn_begin_content keeps SPAM_HEADER_MAX. */
	if (c->server->mode == SMTP_MODE_INBOUND &&
	    smtp_txn_insert(c, t, v->header, v->header_len) == 0)
		t->prefix_len += v->header_len;
	if (v->action == SPAM_ACTION_REJECT ||
	    (c->server->mode == SMTP_MODE_SUBMISSION &&
	    v->action == SPAM_ACTION_QUARANTINE)) {
		log_info("conn=%s smtp message id=%s peer=%s%s%s "
		    "result=rejected reason=spam spam=%.1f action=%s "
		    "symbols=\"%s\"", c->id, t->id, c->peer,
		    c->user != NULL ? " user=" : "",
		    c->user != NULL ? c->user : "", v->result->score,
		    spam_action_name(v->action), v->symbols);
		smtp_reply(c, "550 5.7.1 Message rejected as spam");
		smtp_txn_reset(c);
		smtp_conn_resume(c);
		return;
	}
	if (v->action == SPAM_ACTION_QUARANTINE) {
		struct store_quarantine_hold *h;

		h = pool_alloc(t->pool, sizeof(*h));
		memset(h, 0, sizeof(*h));
		h->score = v->result->score;
		h->symbols = t->spam_symbols;
		h->reason = pool_strdup(t->pool, v->reason);
		h->peer = c->peer;
		h->expires = time(NULL) +
		    (time_t)c->server->config->quarantine_retention;
		h->ids_r = pool_alloc(t->pool, (t->n_users > 0 ? t->n_users :
		    1) * sizeof(*h->ids_r));
		t->hold = h;
	}
	/* Submission: the verdict is logged; the user's mail goes out. */
	smtp_txn_store(c, c->server->mode == SMTP_MODE_INBOUND &&
	    (v->action == SPAM_ACTION_JUNK ||
	    t->dmarc_act == DMARC_POLICY_QUARANTINE) ? "Junk" :
	    STORE_MAILBOX_INBOX, t->dmarc_row);
	smtp_conn_finish(c);
}

/* Runs the spam filter on the content; the session waits. auth is the
 * result of SPF, DKIM and DMARC, or NULL. */
static void
smtp_spam_start(struct smtp_conn *c, const struct auth_check_result *auth)
{
	struct smtp_txn *t = c->txn;
	struct spam_check_request req = {
		.msg = &t->data,
		.offset = t->prefix_len,
		.id = t->id,
		.peer = c->peer,
		.helo = c->helo,
		.mail_from = t->from.address,
		.rcpts = (const char *const *)t->rcpts,
		.n_rcpts = t->n_rcpts,
		.users = t->users,
		.n_users = t->n_users,
		.submission = c->server->mode == SMTP_MODE_SUBMISSION,
		.client_addr = (const struct sockaddr *)&c->peer_sa,
		.auth_user = c->user,
		.daemon_name = c->server->name,
		.auth = auth,
		.authenticated = c->user != NULL,
		.now = time(NULL),
	};

	c->state = SMTP_ST_CHECK;
	evtimer_del(c->deadline);
	c->spam_check = spam_check_start(c->server->spam, &req, smtp_spam_done,
	    c);
}

/*
 * DKIM and DMARC are done (auth/auth-check.h): the message gets our
 * Authentication-Results field, in place of any that claimed our name
 * (RFC 8601 5), and DMARC's disposition: reject is answered 550 5.7.1
 * (RFC 7489 6.6.4 and 7372), quarantine goes to Junk, unless
 * [auth] dmarc_enforce is off.
 */
static void
smtp_check_done(void *ctx, const struct auth_check_result *r)
{
	struct smtp_conn *c = ctx;
	struct smtp_txn *t = c->txn;
	const struct config *cfg = c->server->config;
	enum dmarc_policy act = cfg->auth_dmarc_enforce ? r->disposition :
	    DMARC_POLICY_NONE;
	char why[LOG_ESCAPE_MAX], dom[LOG_ESCAPE_MAX];
	size_t blen;
	unsigned pass = 0, i;

	c->check = NULL;
	blen = authres_strip(t->data.data + t->prefix_len,
	    t->data.len - t->prefix_len, cfg->hostname);
	t->data.len = t->prefix_len + blen;
	t->data.data[t->data.len] = '\0';
	/* Cannot fail for want of room (smtp_txn_begin_content keeps
	 * AUTH_CHECK_HEADER_MAX for it); if it did, the message would go
	 * on without the field. */
	if (smtp_txn_insert(c, t, r->header.data, r->header.len) < 0)
		log_warning("conn=%s smtp message id=%s authentication-results "
		    "not added: no room", c->id, t->id);
	else
		/* Ours, like Return-Path and Received: not counted in the
		 * size the client sent. */
		t->prefix_len += r->header.len;
	for (i = 0; r->dkim != NULL && i < r->dkim->n_sigs; i++) {
		const struct dkim_sig_result *sig = &r->dkim->sigs[i];

		pass += sig->status == DKIM_PASS;
		log_escape(dom, sizeof(dom), sig->domain != NULL ?
		    sig->domain : "-", sig->domain != NULL ?
		    strlen(sig->domain) : 1);
		log_escape(why, sizeof(why), sig->reason, strlen(sig->reason));
		log_info("conn=%s smtp dkim id=%s result=%s d=%s reason=\"%s\"",
		    c->id, t->id, dkim_status_name(sig->status), dom, why);
	}
	log_escape(why, sizeof(why), r->dmarc.reason, strlen(r->dmarc.reason));
	log_escape(dom, sizeof(dom), r->dmarc.from_domain,
	    strlen(r->dmarc.from_domain));
	log_info("conn=%s smtp auth id=%s peer=%s spf=%s dkim=%zu/%u "
	    "dmarc=%s from_domain=%s policy=%s disposition=%s%s reason=\"%s\"",
	    c->id, t->id, c->peer, r->spf != NULL ?
	    spf_status_name(r->spf->status) : "-",
	    r->dkim != NULL ? r->dkim->n_sigs : 0, pass,
	    dmarc_status_name(r->dmarc.status),
	    dom[0] != '\0' ? dom : "-", dmarc_policy_name(r->dmarc.policy),
	    dmarc_policy_name(act), cfg->auth_dmarc_enforce ? "" :
	    " (not enforced)", why);
	if (act == DMARC_POLICY_REJECT) {
		struct smtp_dmarc_job *dj = xcalloc(1, sizeof(*dj));

		dj->pool = pool_new(1024);
		dj->row = smtp_dmarc_row(c, r, act, dj->pool);
		dj->job.run = smtp_dmarc_job_run;
		dj->job.done = smtp_dmarc_job_done;
		deliverq_submit(c->server->deliverq, &dj->job);
		smtp_reply(c, "550 5.7.1 Message rejected by the DMARC policy "
		    "of %s", dom);
		smtp_txn_reset(c);
		smtp_conn_resume(c);
		return;
	}
	t->dmarc_act = act;
	t->dmarc_row = smtp_dmarc_row(c, r, act, t->pool);
	if (c->server->spam != NULL) {
		smtp_spam_start(c, r);
		return;
	}
	smtp_txn_store(c, act == DMARC_POLICY_QUARANTINE ? "Junk" :
	    STORE_MAILBOX_INBOX, t->dmarc_row);
	smtp_conn_finish(c);
}

/* Inbound: DKIM and DMARC of the content; the session waits. */
static void
smtp_check_start(struct smtp_conn *c)
{
	struct smtp_server *s = c->server;
	struct smtp_txn *t = c->txn;
	struct auth_check_request req = {
		.authserv_id = s->config->hostname,
		.msg = t->data.data + t->prefix_len,
		.len = t->data.len - t->prefix_len,
		.now = time(NULL),
		.spf = t->spf_result,
	};

	c->state = SMTP_ST_CHECK;
	evtimer_del(c->deadline);
	c->check = auth_check_start(s->base, s->dns, &s->spf_dns,
	    s->dkim_verifier, &req, smtp_check_done, c);
}

/* The content is complete: answer an error, check it, or store it. */
static void
smtp_txn_end_content(struct smtp_conn *c)
{
	struct smtp_txn *t = c->txn;
	const char *refusal, *reason;
	size_t blen = t->data.len - t->prefix_len;

	c->state = SMTP_ST_CMD;
	smtp_deadline_arm(c, c->server->config->smtp_timeout);
	refusal = smtp_txn_refusal(t, &reason);
	if (refusal == NULL && c->server->mode == SMTP_MODE_SUBMISSION) {
		if (smtp_submission_content(c, t, &reason) < 0) {
			log_info("conn=%s smtp message id=%s peer=%s user=%s "
			    "result=rejected reason=%s size=%zu", c->id, t->id,
			    c->peer, c->user, reason, blen);
			smtp_txn_reset(c);
			return;
		}
	}
	if (refusal == NULL) {
		/* Mail from the Internet is checked; the server's own
		 * authenticated users are not (issue: auth checks). */
		if (c->server->mode == SMTP_MODE_INBOUND && c->user == NULL &&
		    c->server->dkim_verifier != NULL)
			smtp_check_start(c);
		else if (c->server->spam != NULL)
			smtp_spam_start(c, NULL);
		else
			smtp_txn_store(c, STORE_MAILBOX_INBOX, NULL);
		return;
	}
	/* A full server is not the client's fault. */
	if (t->no_memory && !t->too_big)
		smtp_reply(c, "%s", refusal);
	else
		smtp_error(c, "%s", refusal);
	log_info("conn=%s smtp message id=%s peer=%s result=rejected reason=%s "
	    "size=%zu", c->id, t->id, c->peer, reason, blen);
	smtp_txn_reset(c);
}

/*
 * Reads DATA content line by line. Returns 1 to go on, 0 when more input
 * is needed. RFC 5321 4.5.2 (dot-stuffing), 4.1.1.4 (end of data).
 */
static int
smtp_data_process(struct smtp_conn *c, struct evbuffer *in)
{
	struct smtp_txn *t = c->txn;
	size_t len;
	const char *line;
	bool crlf;

	switch (line_next(in, SMTP_TEXT_LINE_MAX, &c->scanned, &len)) {
	case LINE_MORE:
		return 0;
	case LINE_TOO_LONG:
		/* Drop what we have of the line; the rest of it is not at
		 * the beginning of a line, so it cannot end the data. */
		t->too_long = true;
		t->at_bol = false;
		/* Keep the last byte: it may be the CR of a CRLF whose LF has
		 * not arrived, and the next line must still see it. */
		evbuffer_drain(in, SMTP_TEXT_LINE_MAX - 1);
		return 1;
	case LINE_OK:
		break;
	}
	line = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	crlf = len >= 2 && line[len - 2] == '\r';
	if (t->at_bol && crlf && len == 3 && line[0] == '.') {
		evbuffer_drain(in, len);
		smtp_txn_end_content(c);
		return 1;
	}
	if (!crlf || memchr(line, '\r', len - 2) != NULL)
		t->bare = true;
	if (t->at_bol && line[0] == '.')
		smtp_txn_append(c, line + 1, len - 1);
	else
		smtp_txn_append(c, line, len);
	t->at_bol = crlf;
	evbuffer_drain(in, len);
	return 1;
}

/* Reads BDAT chunk bytes. Returns 1 to go on, 0 when more input is needed. */
static int
smtp_bdat_process(struct smtp_conn *c, struct evbuffer *in)
{
	struct smtp_txn *t = c->txn;
	size_t have = evbuffer_get_length(in), n;

	if (t->chunk_left > 0) {
		if (have == 0)
			return 0;
		n = t->chunk_left < have ? (size_t)t->chunk_left : have;
		if (!t->failed)
			smtp_txn_append(c, (const char *)evbuffer_pullup(in, (ev_ssize_t)n), n);
		evbuffer_drain(in, n);
		t->chunk_left -= n;
		if (t->chunk_left > 0)
			return 0;
	}
	c->state = SMTP_ST_CMD;
	smtp_deadline_arm(c, c->server->config->smtp_timeout);
	if (t->failed) {
		/* RFC 3030 2: after a failed chunk, the rest of the
		 * transaction is refused until RSET or a new MAIL. */
		if (t->no_memory)	/* our fault, not the client's */
			smtp_reply(c, "452 4.3.1 Insufficient system storage, try again later");
		else
			smtp_error(c, "%s", t->fail_reply != NULL ? t->fail_reply :
			    "503 5.5.1 Transaction failed earlier, send RSET");
		if (t->chunk_last)
			smtp_txn_reset(c);
		return 1;
	}
	if (t->too_big || t->no_memory) {
		const char *reason, *refusal = smtp_txn_refusal(t, &reason);

		if (t->too_big)
			smtp_error(c, "%s", refusal);
		else
			smtp_reply(c, "%s", refusal);
		log_info("conn=%s smtp message id=%s peer=%s result=rejected "
		    "reason=%s", c->id, t->id, c->peer, reason);
		t->failed = true;
		if (t->chunk_last)
			smtp_txn_reset(c);
		return 1;
	}
	if (t->chunk_last) {
		smtp_txn_end_content(c);
		return 1;
	}
	smtp_reply(c, "250 2.0.0 %zu octets received", t->data.len - t->prefix_len);
	return 1;
}

/* --- submission: AUTH (RFC 4954) --- */

/* Passwords only over TLS, or from loopback if the config allows it. An
 * implicit-TLS session is TLS from its first byte. */
static bool
smtp_auth_allowed(struct smtp_conn *c)
{
	return c->tls || c->tls_bev ||
	    (c->server->config->submission_allow_plaintext ==
	    CONFIG_PLAINTEXT_LOOPBACK &&
	    authlimit_is_loopback((struct sockaddr *)&c->peer_sa));
}

/* The longest line a session may send now: AUTH lines are longer than
 * commands, and come only before login, in submission. */
static size_t
smtp_line_max(const struct smtp_conn *c)
{
	if (c->server->mode == SMTP_MODE_SUBMISSION && c->user == NULL)
		return SMTP_AUTH_LINE_MAX;
	return SMTP_CMD_LINE_MAX;
}

static void
smtp_auth_forget_user(struct smtp_conn *c)
{
	if (c->auth_login_user != NULL)
		sasl_secret_free(&c->auth_login_user,
		    strlen(c->auth_login_user));
}

/* Ends an AUTH exchange without a login (the caller replies). */
static void
smtp_auth_cancel(struct smtp_conn *c)
{
	smtp_auth_forget_user(c);
	c->state = SMTP_ST_CMD;
}

static void
smtp_auth_job_free(struct smtp_auth_job *a)
{
	sasl_secret_free(&a->password, a->password_len);
	free(a->user);
	free(a);
}

static void
smtp_auth_run(struct store *store, struct storeq_job *job)
{
	struct smtp_auth_job *a = (struct smtp_auth_job *)job;
	const char *error;

	a->result = store_user_check_password(store, a->user, a->password,
	    &error);
	if (a->result == 1 && store_user_lookup(store, a->user, &a->user_id,
	    &error) != 1)
		a->result = -1;
	if (a->result < 0)
		(void)snprintf(a->error, sizeof(a->error), "%s", error);
	OPENSSL_cleanse(a->password, a->password_len);
}

/* Back on the loop after a wait (a password check, SPF): the session
 * resumes with its commands. */
static void
smtp_conn_resume(struct smtp_conn *c)
{
	c->state = SMTP_ST_CMD;
	if (c->shutdown && !c->closing) {
		smtp_reply(c, SMTP_SHUTDOWN_REPLY);
		smtp_conn_close(c, "shutdown");
	}
	if (!c->closing) {
		smtp_deadline_arm(c, c->server->config->smtp_timeout);
		smtp_conn_process(c);
	}
	if (c->peer_eof && !c->closing && !smtp_conn_waiting(c))
		smtp_conn_close(c, "disconnected");
	smtp_conn_finish(c);
}

static void
smtp_auth_done(struct storeq_job *job)
{
	struct smtp_auth_job *a = (struct smtp_auth_job *)job;
	struct smtp_conn *c = a->conn;
	char ebuf[LOG_ESCAPE_MAX];
	unsigned delay;

	c->auth = NULL;
	if (c->closing) {
		smtp_auth_job_free(a);
		smtp_conn_finish(c);
		return;
	}
	log_escape(ebuf, sizeof(ebuf), a->user, strlen(a->user));
	if (a->result < 0) {
		log_error("conn=%s smtp auth user=%s error=\"%s\"", c->id, ebuf,
		    a->error);
		smtp_reply(c, "454 4.7.0 Temporary authentication failure");
	} else if (a->result == 0) {
		delay = authlimit_fail(c->server->authlimit,
		    (struct sockaddr *)&c->peer_sa, a->user, time(NULL));
		authlimit_log_failure(c->id, "smtp", c->server->name,
		    c->peer, a->user, a->mech, delay);
		smtp_auth_job_free(a);
		/* The reply waits: guessing costs time. */
		evtimer_add(c->auth_timer, &(struct timeval){ .tv_sec = delay });
		return;
	} else {
		authlimit_success(c->server->authlimit,
		    (struct sockaddr *)&c->peer_sa, a->user, time(NULL));
		log_info("conn=%s smtp auth peer=%s user=%s mech=%s result=ok",
		    c->id, c->peer, ebuf, a->mech);
		c->user = xstrdup(ebuf);
		for (char *p = c->user; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		c->user_id = a->user_id;
		smtp_reply(c, "235 2.7.0 Authentication successful");
	}
	smtp_auth_job_free(a);
	smtp_conn_resume(c);
}

/* The delay of a failed login is over. */
static void
smtp_auth_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;

	if (!c->closing)
		smtp_reply(c, "535 5.7.8 Authentication credentials invalid");
	smtp_conn_resume(c);
}

/* Checks a user name and password on a worker; the session waits. */
static void
smtp_auth_start(struct smtp_conn *c, const char *user, size_t user_len,
    const char *password, size_t password_len, const char *mech)
{
	struct smtp_auth_job *a;
	enum authlimit_scope scope;
	unsigned blocked;
	char *name;

	/* An account under attack from many addresses: refused without a
	 * password check, except from its owner's usual networks. */
	name = xstrndup(user, user_len);
	blocked = authlimit_check(c->server->authlimit,
	    (struct sockaddr *)&c->peer_sa, name, time(NULL), &scope);
	if (blocked > 0) {
		authlimit_log_refusal(c->id, "smtp", c->server->name, c->peer,
		    name, scope, blocked);
		free(name);
		smtp_reply(c, "454 4.7.0 Too many failed authentications, "
		    "try again later");
		return;
	}
	free(name);
	if (user_len == 0 || user_len > STORE_ADDRESS_MAX ||
	    password_len > STORE_PASSWORD_MAX ||
	    memchr(user, '\0', user_len) != NULL ||
	    memchr(password, '\0', password_len) != NULL) {
		/* Cannot be a valid login: the same answer, the same delay
		 * and the same count as a wrong password. */
		user = "";
		user_len = 0;
		password = "";
		password_len = 0;
	}
	a = xcalloc(1, sizeof(*a));
	a->conn = c;
	a->user = xstrndup(user, user_len);
	a->password = xstrndup(password, password_len);
	a->password_len = password_len;
	a->mech = mech;
	a->job.run = smtp_auth_run;
	a->job.done = smtp_auth_done;
	c->auth = a;
	c->state = SMTP_ST_AUTH_WAIT;
	storeq_submit(c->server->storeq, &a->job);
}

/* A SASL response: the initial one of AUTH, or a line after 334. */
static void
smtp_auth_response(struct smtp_conn *c, const char *line, size_t len)
{
	struct sasl_plain p;
	const char *error;
	char *dec;
	size_t dlen;

	c->state = SMTP_ST_CMD;
	if (len == 1 && line[0] == '*') {
		smtp_auth_forget_user(c);
		smtp_error(c, "501 5.0.0 Authentication cancelled");
		return;
	}
	/* RFC 4954 4: "=" is an empty initial response. */
	if (len == 1 && line[0] == '=')
		len = 0;
	switch (c->auth_step) {
	case SMTP_AUTH_PLAIN:
		switch (sasl_plain_decode(line, len, &p, &error)) {
		case SASL_PLAIN_OK:
			break;
		case SASL_PLAIN_BAD_BASE64:
			smtp_error(c, "501 5.5.2 Cannot decode response");
			return;
		case SASL_PLAIN_MALFORMED:
			smtp_auth_start(c, "", 0, "", 0, "plain");
			return;
		}
		/* Acting as another user (authzid) is not allowed. */
		if (p.authzid[0] != '\0' && strcmp(p.authzid, p.authcid) != 0)
			smtp_auth_start(c, "", 0, "", 0, "plain");
		else
			smtp_auth_start(c, p.authcid, strlen(p.authcid),
			    p.password, p.password_len, "plain");
		sasl_plain_free(&p);
		return;
	case SMTP_AUTH_LOGIN_USER:
		if (sasl_base64_decode(line, len, &dec, &dlen) < 0) {
			smtp_error(c, "501 5.5.2 Cannot decode response");
			return;
		}
		smtp_auth_forget_user(c);
		/* A NUL inside makes it no user name (checked later). */
		if (memchr(dec, '\0', dlen) != NULL || dlen == 0) {
			c->auth_login_user = xstrdup("");
			sasl_secret_free(&dec, dlen);
		} else {
			c->auth_login_user = dec;
		}
		c->auth_step = SMTP_AUTH_LOGIN_PASS;
		c->state = SMTP_ST_AUTH;
		smtp_reply(c, "334 UGFzc3dvcmQ6");	/* "Password:" */
		return;
	case SMTP_AUTH_LOGIN_PASS:
		if (sasl_base64_decode(line, len, &dec, &dlen) < 0) {
			smtp_auth_forget_user(c);
			smtp_error(c, "501 5.5.2 Cannot decode response");
			return;
		}
		smtp_auth_start(c, c->auth_login_user,
		    strlen(c->auth_login_user), dec, dlen, "login");
		smtp_auth_forget_user(c);
		sasl_secret_free(&dec, dlen);
		return;
	}
}

static void
smtp_cmd_auth(struct smtp_conn *c, const char *args)
{
	struct smtp_server *s = c->server;
	const char *sp, *initial = NULL;
	size_t mlen;
	unsigned blocked;

	if (s->mode != SMTP_MODE_SUBMISSION) {
		/* Port 25 takes no logins: it only delivers locally. */
		smtp_error(c, "502 5.5.1 Command not implemented");
		return;
	}
	if (c->user != NULL) {
		smtp_error(c, "503 5.5.1 Already authenticated");
		return;
	}
	if (c->txn != NULL) {
		smtp_error(c, "503 5.5.1 AUTH is not allowed in a mail transaction");
		return;
	}
	if (!smtp_auth_allowed(c)) {
		smtp_error(c, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	sp = strchr(args, ' ');
	mlen = sp != NULL ? (size_t)(sp - args) : strlen(args);
	if (sp != NULL) {
		initial = sp + 1;
		while (*initial == ' ')
			initial++;
		if (*initial == '\0')
			initial = NULL;
	}
	if (mlen == 0) {
		smtp_error(c, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	blocked = authlimit_check(s->authlimit,
	    (struct sockaddr *)&c->peer_sa, NULL, time(NULL), NULL);
	if (blocked > 0) {
		authlimit_log_refusal(c->id, "smtp", s->name, c->peer, NULL,
		    AUTHLIMIT_IP, blocked);
		smtp_reply(c, "454 4.7.0 Too many failed authentications, "
		    "try again later");
		return;
	}
	if (mlen == 5 && strncasecmp(args, "PLAIN", 5) == 0) {
		c->auth_step = SMTP_AUTH_PLAIN;
		if (initial == NULL) {
			c->state = SMTP_ST_AUTH;
			smtp_reply(c, "334 ");
			return;
		}
	} else if (mlen == 5 && strncasecmp(args, "LOGIN", 5) == 0) {
		c->auth_step = SMTP_AUTH_LOGIN_USER;
		if (initial == NULL) {
			c->state = SMTP_ST_AUTH;
			smtp_reply(c, "334 VXNlcm5hbWU6");	/* "Username:" */
			return;
		}
	} else {
		smtp_error(c, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	smtp_auth_response(c, initial, strlen(initial));
}

/* --- commands --- */

static bool
smtp_helo_valid(const char *arg)
{
	size_t n = strlen(arg);

	if (n == 0 || n > SMTP_HELO_MAX)
		return false;
	for (const char *p = arg; *p != '\0'; p++)
		if ((unsigned char)*p <= 32 || (unsigned char)*p >= 127)
			return false;
	return true;
}

static void
smtp_cmd_helo_common(struct smtp_conn *c, const char *args, bool esmtp)
{
	const struct config *cfg = c->server->config;
	const char *sp = strchr(args, ' ');
	size_t len = sp != NULL ? (size_t)(sp - args) : strlen(args);
	/* Not from the session pool: a client may say EHLO forever. */
	char *name = xstrndup(args, len);

	if (!smtp_helo_valid(name)) {
		/* A failed EHLO changes nothing (RFC 5321 4.1.4). */
		free(name);
		smtp_error(c, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	free(c->helo);
	c->helo = name;
	smtp_txn_reset(c);
	c->esmtp = esmtp;
	if (!esmtp) {
		smtp_reply(c, "250 %s", cfg->hostname);
		return;
	}
	smtp_reply(c, "250-%s", cfg->hostname);
	smtp_reply(c, "250-PIPELINING");
	smtp_reply(c, "250-SIZE %" PRIu64, cfg->max_message_size);
	if (c->server->tls != NULL && !c->tls)
		smtp_reply(c, "250-STARTTLS");
	/* RFC 4954 4 and RFC 3207 4: only where a password may be sent. */
	if (c->server->mode == SMTP_MODE_SUBMISSION && smtp_auth_allowed(c))
		smtp_reply(c, "250-AUTH PLAIN LOGIN");
	smtp_reply(c, "250-ENHANCEDSTATUSCODES");
	smtp_reply(c, "250-8BITMIME");
	smtp_reply(c, "250-SMTPUTF8");
	smtp_reply(c, "250 CHUNKING");
}

static void
smtp_cmd_ehlo(struct smtp_conn *c, const char *args)
{
	smtp_cmd_helo_common(c, args, true);
}

static void
smtp_cmd_helo(struct smtp_conn *c, const char *args)
{
	smtp_cmd_helo_common(c, args, false);
}

/* Answers a MAIL or RCPT argument error; what names the path's role
 * with its enhanced code ("5.1.7 Bad sender", RFC 3463). */
static void
smtp_parse_error_reply(struct smtp_conn *c, enum smtp_parse_error err,
    const char *error, const char *what)
{
	switch (err) {
	case SMTP_PARSE_OK:
		break;
	case SMTP_PARSE_UTF8:
		smtp_error(c, "553 5.6.7 %s", error);
		break;
	case SMTP_PARSE_BAD_PARAM:
		smtp_error(c, "555 5.5.4 %s", error);
		break;
	case SMTP_PARSE_BAD_ADDRESS:
	case SMTP_PARSE_TOO_LONG:
		smtp_error(c, "501 %s address syntax: %s", what, error);
		break;
	case SMTP_PARSE_SYNTAX:
		smtp_error(c, "501 5.5.4 %s", error);
		break;
	}
}

/* MAIL's SPF check is over: keep the result, apply the policy, answer
 * MAIL and go on with the commands that waited. */
static void
smtp_spf_done(void *ctx, const struct spf_result *result)
{
	struct smtp_conn *c = ctx;
	struct smtp_txn *t = c->txn;
	const struct config *cfg = c->server->config;
	char from[LOG_ESCAPE_MAX], mech[LOG_ESCAPE_MAX], why[LOG_ESCAPE_MAX];
	const char *reply = "250", *detail;
	const struct spf_result *r;

	/* result goes with the check: keep the transaction's copy. */
	r = t->spf_result = spf_result_copy(t->pool, result);
	spf_check_free(&c->spf);
	detail = r->problem != NULL ? r->problem :
	    r->mechanism != NULL ? r->mechanism : "";
	if (cfg->auth_spf_reject_fail && r->status == SPF_FAIL)
		reply = "550";
	else if (cfg->auth_spf_reject_fail && r->status == SPF_TEMPERROR)
		reply = "451";
	log_escape(from, sizeof(from), t->from.address,
	    strlen(t->from.address));
	log_escape(mech, sizeof(mech), detail, strlen(detail));
	log_escape(why, sizeof(why), r->explanation != NULL ?
	    r->explanation : "", r->explanation != NULL ?
	    strlen(r->explanation) : 0);
	log_info("conn=%s smtp spf peer=%s from=<%s> identity=%s domain=%s "
	    "result=%s reason=\"%s\"%s%s%s reply=%s", c->id, c->peer, from,
	    spf_identity_name(r->identity), t->spf_result->domain,
	    spf_status_name(r->status), mech, r->explanation != NULL ?
	    " explanation=\"" : "", why, r->explanation != NULL ? "\"" : "",
	    reply);
	if (reply[0] == '5') {
		/* RFC 7208 8.4 and RFC 7372 3.2; the explanation is the
		 * sender domain's own words (printable, cut by spf.c). */
		if (r->explanation != NULL)
			smtp_reply(c, "550 5.7.23 %s", r->explanation);
		else
			smtp_reply(c, "550 5.7.23 SPF validation failed: %s "
			    "does not allow %s to send its mail",
			    t->spf_result->domain, c->peer);
		smtp_txn_reset(c);
	} else if (reply[0] == '4') {
		smtp_reply(c, "451 4.4.3 SPF check failed temporarily, try "
		    "again later");
		smtp_txn_reset(c);
	} else {
		smtp_reply(c, "250 2.1.0 Ok");
	}
	smtp_conn_resume(c);
}

/* Inbound: checks SPF for the new transaction t; MAIL is answered when
 * the result is in (smtp_spf_done). */
static void
smtp_spf_start(struct smtp_conn *c, struct smtp_txn *t)
{
	struct smtp_server *s = c->server;
	struct spf_request req = {
		.ip = c->peer,
		.mail_from = t->from.null ? "" : t->from.address,
		.helo = c->helo,
		.hostname = s->config->hostname,
	};
	const char *error;

	c->spf = spf_check_start(s->base, &s->spf_dns, &req, smtp_spf_done, c,
	    &error);
	if (c->spf == NULL) {
		/* Not an IP peer (cannot happen on TCP): nothing to check. */
		log_error("conn=%s smtp spf peer=%s error=\"%s\"", c->id,
		    c->peer, error);
		smtp_reply(c, "250 2.1.0 Ok");
		return;
	}
	/* The check has its own time limit (SPF_TIMEOUT_DEFAULT). */
	c->state = SMTP_ST_SPF;
	evtimer_del(c->deadline);
}

/* Submission: counts one message or recipient of the logged-in user
 * against its [submission] max_*_per_hour (in memory: a restart forgets
 * the counts); false, and logged, if the user is over it. */
static bool
smtp_send_take(struct smtp_conn *c, unsigned char kind)
{
	const struct config *cfg = c->server->config;
	unsigned limit = kind == SMTP_SEND_MESSAGES ?
	    cfg->submission_max_messages_per_hour :
	    cfg->submission_max_recipients_per_hour;

	if (ratelimit_take(c->server->sendlimit, kind, &c->user_id,
	    sizeof(c->user_id), limit, SMTP_SEND_PERIOD_MS,
	    ratelimit_now_ms()))
		return true;
	log_info("conn=%s smtp %s peer=%s user=%s result=451 "
	    "reason=\"%s per hour\" limit=%u", c->id,
	    kind == SMTP_SEND_MESSAGES ? "mail" : "rcpt", c->peer, c->user,
	    kind == SMTP_SEND_MESSAGES ? "messages" : "recipients", limit);
	return false;
}

static void
smtp_cmd_mail(struct smtp_conn *c, const char *args)
{
	const struct config *cfg = c->server->config;
	struct smtp_txn *t;
	const char *error;
	char esc[LOG_ESCAPE_MAX];
	enum smtp_parse_error err;

	if (c->txn != NULL) {
		smtp_error(c, "503 5.5.1 Nested MAIL command");
		return;
	}
	if (c->server->mode == SMTP_MODE_SUBMISSION && c->user == NULL) {
		smtp_error(c, "530 5.7.0 Authentication required");
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->server = c->server;
	t->pool = pool_new(4096);
	buf_init(&t->data, 0);
	err = smtp_parse_mail(args, t->pool, &t->from, &t->params, &error);
	if (err == SMTP_PARSE_OK && t->params.has_size &&
	    t->params.size > cfg->max_message_size) {
		smtp_error(c, "552 5.3.4 Message size exceeds fixed maximum message size");
		smtp_txn_free(&t);
		return;
	}
	if (err != SMTP_PARSE_OK) {
		smtp_parse_error_reply(c, err, error, "5.1.7 Bad sender");
		log_escape(esc, sizeof(esc), args, strlen(args));
		log_info("conn=%s smtp mail peer=%s args=\"%s\" result=rejected "
		    "reason=\"%s\"", c->id, c->peer, esc, error);
		smtp_txn_free(&t);
		return;
	}
	if (c->server->mode == SMTP_MODE_SUBMISSION) {
		/* RFC 6409 8.1 allows the check; only the user's own
		 * addresses may be used, and never <> (bounces are the
		 * server's to send). */
		int owned = t->from.null ? 0 :
		    smtp_addr_owned(c, t->from.address, t->pool);

		if (owned <= 0) {
			log_escape(esc, sizeof(esc), t->from.address,
			    strlen(t->from.address));
			log_info("conn=%s smtp mail peer=%s user=%s from=<%s> "
			    "result=%s reason=\"%s\"", c->id, c->peer, c->user,
			    esc, owned < 0 ? "451" : "550", owned < 0 ?
			    "store error" : "sender not owned");
			if (owned < 0)
				smtp_reply(c, "451 4.3.0 Temporary lookup failure");
			else
				smtp_error(c, "550 5.7.1 <%s>: Sender address "
				    "not owned by the authenticated user", esc);
			smtp_txn_free(&t);
			return;
		}
		if (!smtp_send_take(c, SMTP_SEND_MESSAGES)) {
			smtp_reply(c, "451 4.7.1 Too many messages sent this "
			    "hour, try again later");
			smtp_txn_free(&t);
			return;
		}
	}
	t->seq = ++c->txn_count;
	if (snprintf(t->id, sizeof(t->id), "%s.%u", c->id, t->seq) >= (int)sizeof(t->id))
		abort();
	t->rcpts = pool_alloc(t->pool, sizeof(char *) * cfg->smtp_max_recipients);
	t->remote = pool_alloc(t->pool, sizeof(char *) * cfg->smtp_max_recipients);
	t->users = pool_alloc(t->pool, sizeof(int64_t) * SMTP_USERS_MAX);
	c->txn = t;
	log_escape(esc, sizeof(esc), t->from.address, strlen(t->from.address));
	log_debug("conn=%s smtp mail from=<%s>", c->id, esc);
	/* Not submission: its users are authenticated, not checked. */
	if (c->server->mode == SMTP_MODE_INBOUND && c->server->spf &&
	    c->user == NULL) {
		smtp_spf_start(c, t);
		return;
	}
	smtp_reply(c, "250 2.1.0 Ok");
}

/* Takes n users that were resolved into the free tail of t->users into
 * the transaction's set, dropping the ones it already has. */
static void
smtp_txn_add_users(struct smtp_txn *t, size_t n)
{
	int64_t *tail = t->users + t->n_users;

	for (size_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < t->n_users; j++)
			if (t->users[j] == tail[i])
				break;
		if (j == t->n_users)
			t->users[t->n_users++] = tail[i];
	}
}

struct smtp_first_domain {
	struct pool *pool;
	const char *domain;
};

static int
smtp_first_domain(void *ctx, const char *domain)
{
	struct smtp_first_domain *f = ctx;

	/* The string lives only during the callback. */
	f->domain = pool_strdup(f->pool, domain);
	return -1;	/* one is enough */
}

/*
 * <Postmaster> with no domain (RFC 5321 4.1.1.3) is this host's: the
 * postmaster of the host name's domain if it is hosted, else of the first
 * hosted domain.
 */
static const char *
smtp_postmaster(struct smtp_conn *c, struct pool *pool)
{
	const char *host = c->server->config->hostname, *error;
	char *addr = pool_printf(pool, "postmaster@%s", host);
	struct smtp_first_domain first = { pool, NULL };

	if (store_domain_exists(c->server->store, host, &error) == 1)
		return addr;
	if (store_domain_list(c->server->store, smtp_first_domain, &first,
	    &error) == 0 && first.domain != NULL)
		return pool_printf(pool, "postmaster@%s", first.domain);
	return addr;
}

/* Submission: a recipient in a domain not hosted here, to be queued for
 * the deliverer. Its local part is kept as written (only the receiving
 * server may interpret it), its domain becomes a lower-case A-label. */
static void
smtp_rcpt_remote(struct smtp_conn *c, struct smtp_txn *t,
    const struct smtp_path *path, const char *esc)
{
	const char *error;
	char *domain, *addr;

	if (path->postmaster || path->domain == NULL ||
	    path->domain[0] == '\0') {
		smtp_error(c, "550 5.1.1 <%s>: Recipient address rejected: "
		    "User unknown", esc);
		return;
	}
	if (path->domain[0] == '[') {
		smtp_error(c, "550 5.1.2 <%s>: Address literals are not "
		    "accepted", esc);
		return;
	}
	if ((domain = addr_domain_normalize(path->domain, t->pool,
	    &error)) == NULL) {
		smtp_error(c, "501 5.1.3 Bad recipient address: %s", error);
		return;
	}
	addr = pool_printf(t->pool, "%s@%s", path->localpart, domain);
	if (strlen(addr) > STORE_ADDRESS_MAX) {
		smtp_error(c, "501 5.1.3 Bad recipient address: too long");
		return;
	}
	t->rcpts[t->n_rcpts++] = pool_strdup(t->pool, path->address);
	for (size_t i = 0; i < t->n_remote; i++)
		if (strcmp(t->remote[i], addr) == 0)
			goto done;	/* once is enough */
	t->remote[t->n_remote++] = addr;
done:
	log_debug("conn=%s smtp rcpt to=<%s> result=250 remote=yes", c->id,
	    esc);
	smtp_reply(c, "250 2.1.5 Ok");
}

/*
 * Self-release of held mail (filter/quarantine.h): on submission, a
 * recipient quarantine-release+ID.TOKEN@DOMAIN, DOMAIN the logged-in
 * user's own, whose TOKEN is that user's for ID, releases held message
 * ID to the user's INBOX on the writer thread, and RCPT answers when it
 * is done: 250 if it was released, and otherwise (a bad token, another
 * user's or no such held message) exactly what an unknown user gets, so
 * that the address says nothing about held mail to anyone else. The
 * recipient is kept for DATA but reaches nobody: the message itself is
 * dropped (it was only the vehicle). On port 25 these addresses are not
 * looked at: they are unknown users like any other.
 */
struct smtp_release {
	struct deliverq_job job;
	struct smtp_conn *conn;
	int64_t id;
	int64_t user_id;
	char *address;			/* as received, malloc'ed */
	char esc[LOG_ESCAPE_MAX];	/* for logs and replies */
	char error[256];
};

static int
smtp_release_run(struct store *store, struct deliverq_job *job)
{
	struct smtp_release *r = (struct smtp_release *)job;
	const char *error;
	int ret;

	ret = quarantine_release(store, r->id, r->user_id, NULL, NULL, &error);
	if (ret != 0)
		(void)snprintf(r->error, sizeof(r->error), "%s", error);
	return ret;
}

static void
smtp_release_free(struct smtp_release *r)
{
	free(r->address);
	free(r);
}

static void
smtp_release_done(struct deliverq_job *job)
{
	struct smtp_release *r = (struct smtp_release *)job;
	struct smtp_conn *c = r->conn;
	struct smtp_txn *t = c->txn;

	c->release = NULL;
	if (c->closing) {
		smtp_release_free(r);
		smtp_conn_finish(c);
		return;
	}
	if (job->result == 0) {
		log_info("conn=%s smtp rcpt peer=%s user=%s to=<%s> "
		    "result=250 quarantine=released id=%" PRId64, c->id,
		    c->peer, c->user, r->esc, r->id);
		t->rcpts[t->n_rcpts++] = pool_strdup(t->pool, r->address);
		smtp_reply(c, "250 2.1.5 Ok: held message released to your "
		    "INBOX");
	} else if (job->result == STORE_E_NOTFOUND) {
		log_info("conn=%s smtp rcpt peer=%s to=<%s> result=550 "
		    "reason=\"unknown user\" quarantine=\"not held for user\"",
		    c->id, c->peer, r->esc);
		smtp_error(c, "550 5.1.1 <%s>: Recipient address rejected: "
		    "User unknown", r->esc);
	} else {
		log_error("conn=%s smtp rcpt to=<%s> quarantine release "
		    "error=\"%s\"", c->id, r->esc, r->error);
		smtp_reply(c, "451 4.3.0 Temporary failure, try again later");
	}
	smtp_release_free(r);
	smtp_conn_resume(c);
}

/*
 * Is path (addr once normalized) a release address of the logged-in
 * user (submission) with the right token? Returns true if so: the
 * session now waits for the release, and smtp_release_done replies.
 * Returns false for anything else, a wrong token included: the caller
 * then answers as for any unknown user.
 */
static bool
smtp_release_start(struct smtp_conn *c, const struct smtp_path *path,
    const char *addr, const char *esc)
{
	const struct quarantine_secret *secret = c->server->quarantine;
	const char *token, *user_domain, *domain;
	struct smtp_release *r;
	int64_t id;

	/* addr is normalized (a lower-case A-label domain), as c->user is. */
	if (secret == NULL || c->user == NULL || c->user_id == 0 ||
	    path->postmaster || addr == NULL ||
	    (domain = strrchr(addr, '@')) == NULL ||
	    (user_domain = strrchr(c->user, '@')) == NULL ||
	    strcasecmp(domain + 1, user_domain + 1) != 0 ||
	    quarantine_release_parse(path->localpart,
	    strlen(path->localpart), &id, &token) < 0)
		return false;
	if (!quarantine_token_verify(secret, id, c->user_id, token,
	    strlen(token))) {
		/* Then it is an unknown user, answered (and counted) as
		 * such by the caller. */
		log_debug("conn=%s smtp rcpt to=<%s> quarantine=\"bad token\"",
		    c->id, esc);
		return false;
	}
	r = xcalloc(1, sizeof(*r));
	r->conn = c;
	r->id = id;
	r->user_id = c->user_id;
	r->address = xstrdup(path->address);
	(void)snprintf(r->esc, sizeof(r->esc), "%s", esc);
	r->job.run = smtp_release_run;
	r->job.done = smtp_release_done;
	/* IMAP sessions of the user (an IDLE) see the released message. */
	r->job.notify_user = c->user_id;
	c->release = r;
	c->state = SMTP_ST_RELEASE;
	deliverq_submit(c->server->deliverq, &r->job);
	return true;
}

static void
smtp_cmd_rcpt(struct smtp_conn *c, const char *args)
{
	const struct config *cfg = c->server->config;
	struct smtp_txn *t = c->txn;
	struct smtp_path path;
	enum store_rcpt_result res;
	size_t n_users;
	const char *error, *addr;
	char esc[LOG_ESCAPE_MAX];
	enum smtp_parse_error err;

	if (t == NULL) {
		smtp_error(c, "503 5.5.1 Need MAIL before RCPT");
		return;
	}
	t->rcpt_attempts++;
	err = smtp_parse_rcpt(args, t->params.smtputf8, t->pool, &path, &error);
	if (err != SMTP_PARSE_OK) {
		smtp_parse_error_reply(c, err, error, "5.1.3 Bad recipient");
		return;
	}
	if (t->n_rcpts >= cfg->smtp_max_recipients) {
		smtp_error(c, "452 4.5.3 Too many recipients");
		return;
	}
	/* every recipient given counts, accepted or not */
	if (c->server->mode == SMTP_MODE_SUBMISSION &&
	    !smtp_send_take(c, SMTP_SEND_RECIPIENTS)) {
		smtp_reply(c, "451 4.7.1 Too many recipients this hour, try "
		    "again later");
		return;
	}
	/* <Postmaster> alone means the postmaster of this host (RFC 5321
	 * 4.1.1.3). */
	if (path.postmaster)
		addr = smtp_postmaster(c, t->pool);
	else if (path.domain[0] == '[')
		addr = NULL;	/* address literals are never local here */
	else
		addr = addr_normalize(path.address, t->pool, &error);
	log_escape(esc, sizeof(esc), path.address, strlen(path.address));
	if (addr == NULL) {
		res = path.domain[0] == '[' ? STORE_RCPT_NOT_HOSTED : STORE_RCPT_UNKNOWN;
		if (res == STORE_RCPT_UNKNOWN) {
			smtp_error(c, "501 5.1.3 Bad recipient address: %s", error);
			return;
		}
	} else if (store_rcpt_resolve(c->server->store, addr,
	    t->users + t->n_users, SMTP_USERS_MAX - t->n_users, &n_users, &res,
	    &error) < 0) {
		log_error("conn=%s smtp rcpt to=<%s> store error=\"%s\"", c->id, esc, error);
		smtp_reply(c, "451 4.3.0 Temporary lookup failure");
		return;
	}
	/* An alias that reaches nobody (only cycles) is no mailbox. */
	if (res == STORE_RCPT_LOCAL && n_users == 0)
		res = STORE_RCPT_UNKNOWN;
	switch (res) {
	case STORE_RCPT_LOCAL:
		smtp_txn_add_users(t, n_users);
		t->rcpts[t->n_rcpts++] = pool_strdup(t->pool, path.address);
		log_debug("conn=%s smtp rcpt to=<%s> result=250", c->id, esc);
		smtp_reply(c, "250 2.1.5 Ok");
		return;
	case STORE_RCPT_UNKNOWN:
		/* Submission: maybe a release address of held mail. */
		if (c->server->mode == SMTP_MODE_SUBMISSION &&
		    smtp_release_start(c, &path, addr, esc))
			return;
		/* Directory harvesting: counted apart from max_errors, and
		 * past the limit the session ends instead of answering. */
		if (cfg->smtp_max_unknown_recipients > 0 &&
		    ++c->unknown_rcpts > cfg->smtp_max_unknown_recipients) {
			log_info("conn=%s smtp rcpt peer=%s to=<%s> result=421 "
			    "reason=\"too many unknown recipients\" unknown=%u",
			    c->id, c->peer, esc, c->unknown_rcpts);
			smtp_reply(c, "421 4.7.0 %s Too many unknown recipients, "
			    "closing", cfg->hostname);
			smtp_conn_close(c, "too many unknown recipients");
			return;
		}
		log_info("conn=%s smtp rcpt peer=%s to=<%s> result=550 reason=\"unknown user\"",
		    c->id, c->peer, esc);
		smtp_error(c, "550 5.1.1 <%s>: Recipient address rejected: User unknown",
		    esc);
		return;
	case STORE_RCPT_NOT_HOSTED:
		if (c->server->mode == SMTP_MODE_SUBMISSION) {
			smtp_rcpt_remote(c, t, &path, esc);
			return;
		}
		log_info("conn=%s smtp rcpt peer=%s to=<%s> result=554 reason=\"relay denied\"",
		    c->id, c->peer, esc);
		smtp_error(c, "554 5.7.1 <%s>: Relay access denied", esc);
		return;
	}
}

/* Checks that a transaction can take content. */
static bool
smtp_txn_ready(struct smtp_conn *c, const char *verb)
{
	struct smtp_txn *t = c->txn;

	if (t == NULL) {
		smtp_error(c, "503 5.5.1 Need MAIL before %s", verb);
		return false;
	}
	if (t->n_rcpts == 0) {
		/* RFC 2920 3.1: 554 when no recipient was accepted. */
		smtp_error(c, t->rcpt_attempts > 0 ?
		    "554 5.5.1 No valid recipients" : "503 5.5.1 Need RCPT before %s", verb);
		return false;
	}
	return true;
}

static void
smtp_cmd_data(struct smtp_conn *c, const char *args)
{
	if (!smtp_txn_ready(c, "DATA"))
		return;
	if (c->txn->bdat) {
		smtp_error(c, "503 5.5.1 DATA cannot follow BDAT");
		return;
	}
	if (smtp_txn_begin_content(c) < 0)
		return;
	c->state = SMTP_ST_DATA;
	smtp_deadline_arm(c, c->server->config->smtp_data_timeout);
	smtp_reply(c, "354 End data with <CR><LF>.<CR><LF>");
}

static void
smtp_cmd_bdat(struct smtp_conn *c, const char *args)
{
	struct smtp_txn *t = c->txn;
	uint64_t size;
	bool last;

	if (smtp_parse_bdat(args, &size, &last) != SMTP_PARSE_OK) {
		/* Without a size the chunk cannot be skipped: its bytes
		 * will be read as commands, and fail as such. */
		smtp_error(c, "501 5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
	if (t == NULL || t->n_rcpts == 0 || c->helo == NULL) {
		/* Read and drop the chunk so that its bytes are not taken
		 * for commands. */
		if (t == NULL) {
			t = xcalloc(1, sizeof(*t));
			t->server = c->server;
			t->pool = pool_new(1024);
			buf_init(&t->data, 0);
			c->txn = t;
		}
		t->failed = true;
		t->fail_reply = c->helo == NULL ? "503 5.5.1 Send EHLO or HELO first" :
		    t->rcpt_attempts > 0 ? "554 5.5.1 No valid recipients" :
		    "503 5.5.1 Need MAIL and RCPT before BDAT";
		t->bdat = true;
		t->chunk_left = size;
		t->chunk_last = true;	/* drop the transaction after it */
		c->state = SMTP_ST_BDAT;
		smtp_deadline_arm(c, c->server->config->smtp_data_timeout);
		return;
	}
	if (!t->bdat) {
		t->bdat = true;
		if (smtp_txn_begin_content(c) < 0)
			return;
	}
	t->chunk_left = size;
	t->chunk_last = last;
	c->state = SMTP_ST_BDAT;
	smtp_deadline_arm(c, c->server->config->smtp_data_timeout);
}

static void
smtp_cmd_rset(struct smtp_conn *c, const char *args)
{
	smtp_txn_reset(c);
	smtp_reply(c, "250 2.0.0 Ok");
}

static void
smtp_cmd_noop(struct smtp_conn *c, const char *args)
{
	smtp_reply(c, "250 2.0.0 Ok");
}

static void
smtp_cmd_quit(struct smtp_conn *c, const char *args)
{
	smtp_reply(c, "221 2.0.0 %s Bye", c->server->config->hostname);
	smtp_conn_close(c, "quit");
}

static void
smtp_cmd_help(struct smtp_conn *c, const char *args)
{
	smtp_reply(c, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP");
	smtp_reply(c, "214 2.0.0 QUIT HELP VRFY STARTTLS; see RFC 5321");
}

static void
smtp_cmd_vrfy(struct smtp_conn *c, const char *args)
{
	/* RFC 5321 3.5.3: do not reveal who exists. */
	smtp_reply(c, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void
smtp_cmd_starttls(struct smtp_conn *c, const char *args)
{
	if (c->server->tls == NULL) {
		smtp_error(c, "502 5.5.1 STARTTLS not available");
		return;
	}
	if (c->tls) {
		smtp_error(c, "503 5.5.1 TLS already active");
		return;
	}
	smtp_reply(c, "220 2.0.0 Ready to start TLS");
	smtp_txn_reset(c);
	c->state = SMTP_ST_STARTTLS;
	bufferevent_disable(c->bev, EV_READ);
	/* RFC 3207 4.2: anything sent before the handshake is discarded. */
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
}

static void
smtp_cmd_not_implemented(struct smtp_conn *c, const char *args)
{
	smtp_error(c, "502 5.5.1 Command not implemented");
}

static const struct smtp_cmd smtp_cmds[] = {
	{ "EHLO", smtp_cmd_ehlo, 0 },
	{ "HELO", smtp_cmd_helo, 0 },
	{ "MAIL", smtp_cmd_mail, CMD_NEED_HELO },
	{ "RCPT", smtp_cmd_rcpt, CMD_NEED_HELO },
	{ "DATA", smtp_cmd_data, CMD_NEED_HELO | CMD_NO_ARGS },
	/* BDAT checks for HELO itself: its chunk must be read either way. */
	{ "BDAT", smtp_cmd_bdat, 0 },
	{ "RSET", smtp_cmd_rset, CMD_NO_ARGS },
	{ "NOOP", smtp_cmd_noop, 0 },
	{ "QUIT", smtp_cmd_quit, CMD_NO_ARGS },
	{ "HELP", smtp_cmd_help, 0 },
	{ "VRFY", smtp_cmd_vrfy, 0 },
	{ "STARTTLS", smtp_cmd_starttls, CMD_NEED_HELO | CMD_NO_ARGS },
	{ "EXPN", smtp_cmd_not_implemented, 0 },
	{ "ETRN", smtp_cmd_not_implemented, 0 },
	{ "TURN", smtp_cmd_not_implemented, 0 },
	/* Its line may be longer than other commands' (SMTP_AUTH_LINE_MAX). */
	{ "AUTH", smtp_cmd_auth, CMD_NEED_HELO | CMD_LONG_LINE },
};

static void
smtp_dispatch(struct smtp_conn *c, char *line, size_t len)
{
	char *args;
	size_t vlen;

	if (memchr(line, '\0', len) != NULL) {
		smtp_error(c, "500 5.5.2 NUL byte in command");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 32 && line[i] != '\t') {
			smtp_error(c, "500 5.5.2 Control character in command");
			return;
		}
	}
	args = strchr(line, ' ');
	vlen = args != NULL ? (size_t)(args - line) : len;
	if (args != NULL)
		while (*args == ' ')
			args++;
	else
		args = line + len;
	/* Some HTTP clients are pointed at mail ports to abuse them. */
	if ((vlen == 4 && strncasecmp(line, "POST", 4) == 0) ||
	    (vlen == 3 && strncasecmp(line, "GET", 3) == 0) ||
	    (vlen == 7 && strncasecmp(line, "CONNECT", 7) == 0)) {
		smtp_reply(c, "421 4.7.0 %s This is an SMTP server", c->server->config->hostname);
		smtp_conn_close(c, "http command");
		return;
	}
	for (size_t i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++) {
		const struct smtp_cmd *cmd = &smtp_cmds[i];

		if (strlen(cmd->name) != vlen || strncasecmp(line, cmd->name, vlen) != 0)
			continue;
		if ((cmd->flags & CMD_NEED_HELO) && c->helo == NULL) {
			smtp_error(c, "503 5.5.1 Send EHLO or HELO first");
			return;
		}
		if (len > SMTP_CMD_LINE_MAX - 2 && !(cmd->flags & CMD_LONG_LINE)) {
			smtp_error(c, "500 5.5.2 Line too long (RFC 5321 4.5.3.1.4)");
			return;
		}
		if ((cmd->flags & CMD_NO_ARGS) && *args != '\0') {
			smtp_error(c, "501 5.5.4 %s takes no arguments", cmd->name);
			return;
		}
		cmd->fn(c, args);
		return;
	}
	if (len == 0)
		smtp_error(c, "500 5.5.2 Empty command");
	else
		smtp_error(c, "500 5.5.1 Command unrecognized");
}

/* Handles every complete command or content byte that is buffered. */
static void
smtp_conn_process(struct smtp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len;

	while (!c->closing) {
		/* A client that does not read its replies waits; processing
		 * resumes once they are out (smtp_conn_finish or the write
		 * callback). */
		if (evbuffer_get_length(out) > SMTP_OUTPUT_HIGH) {
			c->output_full = true;
			return;
		}
		switch (c->state) {
		case SMTP_ST_WAIT:
		case SMTP_ST_STARTTLS:
		case SMTP_ST_AUTH_WAIT:
		case SMTP_ST_SPF:
		case SMTP_ST_CHECK:
		case SMTP_ST_RELEASE:
			return;
		case SMTP_ST_GREET:
			/* RFC 5321 3.1: the client waits for the greeting. One
			 * that talks first is a bulk sender that does not
			 * read (Postfix's postscreen pregreet test). */
			if (evbuffer_get_length(in) > 0) {
				log_info("conn=%s smtp pregreet peer=%s bytes=%zu "
				    "result=554", c->id, c->peer,
				    evbuffer_get_length(in));
				smtp_reply(c, "554 5.7.1 %s Protocol error: "
				    "talking before the greeting",
				    c->server->config->hostname);
				smtp_conn_close(c, "early talker");
			}
			return;
		case SMTP_ST_DATA:
			if (smtp_data_process(c, in) == 0)
				return;
			continue;
		case SMTP_ST_BDAT:
			if (smtp_bdat_process(c, in) == 0)
				return;
			continue;
		case SMTP_ST_CMD:
		case SMTP_ST_AUTH:
			break;
		}
		if (c->skip_line) {
			if (!line_skip(in))
				return;
			c->skip_line = false;
			continue;
		}
		switch (line_next(in, smtp_line_max(c), &c->scanned, &len)) {
		case LINE_MORE:
			return;
		case LINE_TOO_LONG:
			c->skip_line = true;
			if (c->state == SMTP_ST_AUTH)
				smtp_auth_cancel(c);
			smtp_error(c, "500 5.5.2 Line too long (RFC 5321 4.5.3.1.4)");
			continue;
		case LINE_OK:
			break;
		}
		buf_reset(&c->line);
		if (buf_append(&c->line, evbuffer_pullup(in, (ev_ssize_t)len), len) < 0)
			abort();	/* cannot happen: line.max >= SMTP_CMD_LINE_MAX */
		evbuffer_drain(in, len);
		smtp_deadline_arm(c, c->server->config->smtp_timeout);
		if (len < 2 || c->line.data[len - 2] != '\r') {
			if (c->state == SMTP_ST_AUTH)
				smtp_auth_cancel(c);
			smtp_error(c, "500 5.5.2 Bare LF in command (lines end with CRLF)");
			continue;
		}
		c->line.len = len - 2;
		c->line.data[c->line.len] = '\0';
		if (c->state == SMTP_ST_AUTH)
			smtp_auth_response(c, c->line.data, c->line.len);
		else
			smtp_dispatch(c, c->line.data, c->line.len);
	}
}

/* --- connection life --- */

static void
smtp_conn_free(struct smtp_conn *c)
{
	struct smtp_server *s = c->server;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->n_conns--;
	spf_check_free(&c->spf);	/* cancels its DNS query */
	auth_check_cancel(&c->check);
	spam_check_cancel(&c->spam_check);
	smtp_txn_free(&c->txn);
	free(c->helo);
	free(c->user);
	smtp_auth_forget_user(c);
	buf_release(&c->line);
	event_free(c->deadline);
	if (c->auth_timer != NULL)
		event_free(c->auth_timer);
	if (c->greet_timer != NULL)
		event_free(c->greet_timer);
	connlimit_release(s->connlimit, (struct sockaddr *)&c->peer_sa,
	    &c->ticket);
	/* RFC 8446 6.1: end a TLS session that ended well with close_notify
	 * (best effort: the socket is non-blocking; never after an error). */
	if (c->tls && !c->io_error)
		(void)SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
	bufferevent_free(c->bev);	/* closes the socket (and frees SSL) */
	pool_free(&c->pool);
	free(c);
}

/* Drops unsent output (the peer is gone or will not read it). */
static void
smtp_conn_discard_output(struct smtp_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	/* See smtp_conn_flush for the freeze. */
	if (!c->tls_bev)
		evbuffer_unfreeze(out, 1);
	evbuffer_drain(out, evbuffer_get_length(out));
	if (!c->tls_bev)
		evbuffer_freeze(out, 1);
}

/*
 * Writes pending replies now, on a plain socket. A bufferevent would wait
 * for the next loop turn and add and remove write interest in epoll for
 * every reply; a reply almost always fits in the socket buffer, so it is
 * written at once and write interest (EV_WRITE) is only enabled when the
 * peer is slow to read. TLS sessions leave this to bufferevent_openssl.
 */
static void
smtp_conn_flush(struct smtp_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->tls_bev)
		return;
	while (evbuffer_get_length(out) > 0) {
		int n;

		/* bufferevent_socket freezes the front of its output buffer
		 * so only it drains it; it is not writing now (EV_WRITE is
		 * off), so we may. */
		evbuffer_unfreeze(out, 1);
		n = evbuffer_write(out, c->fd);
		evbuffer_freeze(out, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				c->io_error = true;
				smtp_conn_close(c, strerror(errno));
				smtp_conn_discard_output(c);
			}
			break;
		}
	}
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(c->bev, EV_WRITE);
}

/*
 * Called at the end of every event that touched a session: sends what it
 * has to say, and frees it once it is closing, its output is flushed and
 * no delivery refers to it.
 */
static void
smtp_conn_finish(struct smtp_conn *c)
{
	struct evbuffer *out;

	smtp_conn_flush(c);
	out = bufferevent_get_output(c->bev);
	/* Replies that stopped processing went out at once: go on with the
	 * commands still buffered (no write callback will come for them). */
	while (c->output_full && !c->closing && !c->tls_bev &&
	    evbuffer_get_length(out) == 0) {
		c->output_full = false;
		smtp_conn_process(c);
		smtp_conn_flush(c);
	}
	if (c->state == SMTP_ST_STARTTLS && !c->closing &&
	    evbuffer_get_length(out) == 0)
		smtp_conn_start_tls(c);
	/* A delivery or a password check in flight refers to the session:
	 * it is freed when they are done. */
	if (!c->closing || c->delivery != NULL || c->auth != NULL ||
	    c->release != NULL)
		return;
	if (evbuffer_get_length(out) > 0) {
		bufferevent_enable(c->bev, EV_WRITE);
		return;
	}
	smtp_conn_free(c);
}

/* The 220 for STARTTLS is out: replace the plain bufferevent with TLS. */
static void
smtp_conn_start_tls(struct smtp_conn *c)
{
	struct smtp_server *s = c->server;
	const struct config *cfg = s->config;
	struct timeval tv = { .tv_sec = cfg->smtp_timeout, .tv_usec = 0 };
	SSL *ssl = SSL_new(s->tls);

	if (ssl == NULL) {
		smtp_conn_close(c, "SSL_new failed");
		return;
	}
	/* Detach the socket so that freeing the plain bufferevent does not
	 * close it; the TLS one owns it from here on. */
	bufferevent_setfd(c->bev, -1);
	bufferevent_free(c->bev);
	c->bev = bufferevent_openssl_socket_new(s->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		/* Nothing can be said to the peer any more. */
		close(c->fd);
		SSL_free(ssl);
		log_error("conn=%s smtp starttls: cannot make TLS bufferevent", c->id);
		abort();
	}
	c->tls_bev = true;
	bufferevent_setcb(c->bev, smtp_conn_read_cb, smtp_conn_write_cb,
	    smtp_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, SMTP_INPUT_HIGH);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* RFC 3207 4.2: forget everything learned before TLS (a login made
	 * in plain text on loopback too). */
	free(c->helo);
	c->helo = NULL;
	free(c->user);
	c->user = NULL;
	c->user_id = 0;
	smtp_auth_forget_user(c);
	c->esmtp = false;
	c->scanned = 0;
	c->skip_line = false;
	c->state = SMTP_ST_CMD;
	smtp_deadline_arm(c, cfg->smtp_timeout);
}

static void
smtp_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_conn *c = arg;

	smtp_conn_process(c);
	smtp_conn_finish(c);
}

static void
smtp_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_conn *c = arg;

	/* A plain session's output is empty again: back to writing at once
	 * (see smtp_conn_flush). */
	if (!c->tls_bev)
		bufferevent_disable(bev, EV_WRITE);
	/* Output drained below the high-water mark: go on. */
	c->output_full = false;
	if (!c->closing)
		smtp_conn_process(c);
	smtp_conn_finish(c);
}

static void
smtp_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		/* The TLS handshake is done. */
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		c->tls = true;
		if (tls_describe(ssl, c->tls_info, sizeof(c->tls_info)) < 0)
			snprintf(c->tls_info, sizeof(c->tls_info), "TLS");
		log_info("conn=%s smtp starttls peer=%s %s", c->id, c->peer, c->tls_info);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* The peer does not read what we send. */
		smtp_conn_close(c, "write timeout");
		c->io_error = true;
		smtp_conn_discard_output(c);
	} else if (what & BEV_EVENT_EOF) {
		/* The peer is done sending, but may still read (a half-close
		 * after QUIT): answer what it sent, then close. A message
		 * being stored, or a MAIL being checked, still gets its
		 * reply (the resume closes the session). */
		c->peer_eof = true;
		bufferevent_disable(bev, EV_READ);
		if (!smtp_conn_waiting(c)) {
			smtp_conn_process(c);
			if (!smtp_conn_waiting(c))
				smtp_conn_close(c, "disconnected");
		}
	} else if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char reason[128];

		if (e != 0)
			ERR_error_string_n(e, reason, sizeof(reason));
		else
			snprintf(reason, sizeof(reason), "%s",
			    strerror(EVUTIL_SOCKET_ERROR()));
		smtp_conn_close(c, reason);
		c->io_error = true;
		smtp_conn_discard_output(c);
	}
	smtp_conn_finish(c);
}

static void
smtp_conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;

	if (c->tls_bev && !c->tls) {
		/* The TLS handshake never finished: nothing can be said. */
		smtp_conn_close(c, "tls handshake timeout");
		c->io_error = true;
		smtp_conn_discard_output(c);
		smtp_conn_finish(c);
		return;
	}
	smtp_reply(c, "421 4.4.2 %s Timeout, closing", c->server->config->hostname);
	smtp_conn_close(c, "timeout");
	/* The txn content, if any, is dropped with the session. */
	smtp_conn_finish(c);
}

/* The greet pause is over and the client kept quiet: greet it. */
static void
smtp_greet_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;

	if (c->closing || c->state != SMTP_ST_GREET)
		return;
	c->state = SMTP_ST_CMD;
	smtp_reply(c, "220 %s ESMTP Correio", c->server->config->hostname);
	smtp_deadline_arm(c, c->server->config->smtp_timeout);
	smtp_conn_finish(c);
}

/* Refuses a connection over a [limits] limit, before anything is read
 * or, for implicit TLS, handshaken (which would cost what the limit
 * saves: the peer just sees the connection close). Returns false then. */
static bool
smtp_conn_admit(struct smtp_conn *c, bool implicit_tls)
{
	enum connlimit_verdict v;

	v = connlimit_acquire(c->server->connlimit,
	    (struct sockaddr *)&c->peer_sa, ratelimit_now_ms(), &c->ticket);
	if (v == CONNLIMIT_OK)
		return true;
	log_info("conn=%s smtp connect peer=%s mode=%s result=refused "
	    "reason=\"too many connections\" limit=%s", c->id, c->peer,
	    c->server->name, connlimit_verdict_name(v));
	if (implicit_tls) {
		c->io_error = true;
		smtp_conn_close(c, "too many connections");
		smtp_conn_discard_output(c);
	} else {
		smtp_reply(c, "421 4.7.0 %s Too many connections from your "
		    "address, try again later", c->server->config->hostname);
		smtp_conn_close(c, "too many connections");
	}
	smtp_conn_finish(c);
	return false;
}

static void
smtp_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct smtp_server *s = arg;
	const struct config *cfg = s->config;
	bool implicit_tls = false;
	struct timeval wt = { .tv_sec = cfg->smtp_timeout, .tv_usec = 0 };
	struct smtp_conn *c = xcalloc(1, sizeof(*c));
	unsigned char rnd[4];

	c->server = s;
	c->fd = fd;
	/* Replies are small and answer requests: do not let Nagle hold them
	 * back behind the peer's delayed ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	c->pool = pool_new(1024);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();
	snprintf(c->id, sizeof(c->id), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	listen_addr_str(sa, c->peer, sizeof(c->peer));
	if ((size_t)salen <= sizeof(c->peer_sa))
		memcpy(&c->peer_sa, sa, (size_t)salen);
	buf_init(&c->line, s->mode == SMTP_MODE_SUBMISSION ?
	    SMTP_AUTH_LINE_MAX : SMTP_CMD_LINE_MAX);
	for (size_t i = 0; i < s->n_listeners; i++)
		if (s->listeners[i] == listener)
			implicit_tls = s->listener_tls[i];
	if (implicit_tls) {
		/* RFC 8314 3.3: TLS from the first byte; the greeting waits
		 * in the output for the handshake. */
		SSL *ssl = SSL_new(s->tls);

		c->bev = ssl == NULL ? NULL : bufferevent_openssl_socket_new(
		    s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL && ssl != NULL)
			SSL_free(ssl);
		c->tls_bev = true;
	} else {
		c->bev = bufferevent_socket_new(s->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->bev == NULL) {
		buf_release(&c->line);
		close(fd);
		pool_free(&c->pool);
		free(c);
		return;
	}
	c->deadline = evtimer_new(s->base, smtp_conn_deadline_cb, c);
	if (s->mode == SMTP_MODE_SUBMISSION)
		c->auth_timer = evtimer_new(s->base, smtp_auth_timer_cb, c);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	bufferevent_setcb(c->bev, smtp_conn_read_cb, smtp_conn_write_cb,
	    smtp_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, SMTP_INPUT_HIGH);
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	if (!smtp_conn_admit(c, implicit_tls))
		return;
	log_info("conn=%s smtp connect peer=%s mode=%s tls=%s sessions=%u",
	    c->id, c->peer, s->name, implicit_tls ? "yes" : "no", s->n_conns);
	if (s->n_conns > cfg->smtp_max_sessions) {
		smtp_reply(c, "421 4.7.0 %s Too many sessions, try again later",
		    cfg->hostname);
		smtp_conn_close(c, "too many sessions");
		smtp_conn_finish(c);
		return;
	}
	if (s->mode == SMTP_MODE_INBOUND && cfg->smtp_greet_pause > 0) {
		/* Port 25: listen a moment before the greeting; a client
		 * that speaks first is refused (smtp_conn_process). */
		c->state = SMTP_ST_GREET;
		c->greet_timer = evtimer_new(s->base, smtp_greet_timer_cb, c);
		evtimer_add(c->greet_timer, &(struct timeval){
		    .tv_sec = cfg->smtp_greet_pause });
		bufferevent_enable(c->bev, EV_READ);
		return;
	}
	smtp_reply(c, "220 %s ESMTP Correio", cfg->hostname);
	smtp_deadline_arm(c, cfg->smtp_timeout);
	bufferevent_enable(c->bev, c->tls_bev ? EV_READ | EV_WRITE : EV_READ);
	smtp_conn_finish(c);
}

/* --- server --- */

struct smtp_server *
smtp_server_new(struct event_base *base, const struct config *config,
    enum smtp_mode mode, struct authlimit *authlimit, SSL_CTX *tls)
{
	struct smtp_server *s = xcalloc(1, sizeof(*s));

	s->buffered = &s->own_buffered;
	s->base = base;
	s->config = config;
	s->mode = mode;
	s->name = mode == SMTP_MODE_SUBMISSION ? "submission" : "smtp";
	s->authlimit = authlimit;
	s->tls = tls;
	s->connlimit = connlimit_new(&(struct connlimit_config){
	    .ip_sessions = config->limits_ip_sessions,
	    .net_sessions = config->limits_net_sessions,
	    .ip_rate = config->limits_ip_rate,
	    .net_rate = config->limits_net_rate,
	    .exempt_loopback = config->limits_exempt_loopback,
	});
	if (mode == SMTP_MODE_SUBMISSION)
		s->sendlimit = ratelimit_new();
	return s;
}

void
smtp_server_set_dns(struct smtp_server *s, struct dns *dns)
{
	if (s->mode != SMTP_MODE_INBOUND || dns == NULL)
		return;
	spf_dns_init(&s->spf_dns, dns);
	s->spf = true;
	s->dns = dns;
	s->dkim_verifier = dkim_verifier_new(s->base, dns);
}

void
smtp_server_set_spam(struct smtp_server *s, struct spam_filter *filter)
{
	if (filter != NULL && spam_filter_wanted(filter,
	    s->mode == SMTP_MODE_SUBMISSION))
		s->spam = filter;
}

void
smtp_server_set_store(struct smtp_server *s, struct store *store,
    struct deliverq *deliverq, struct storeq *storeq)
{
	s->store = store;
	s->deliverq = deliverq;
	s->storeq = storeq;
}

void
smtp_server_set_dkim(struct smtp_server *s, const struct dkim_keys *keys)
{
	s->dkim = keys;
}

void
smtp_server_set_quarantine(struct smtp_server *s,
    const struct quarantine_secret *secret)
{
	s->quarantine = s->mode == SMTP_MODE_SUBMISSION ? secret : NULL;
}

int
smtp_server_listen(struct smtp_server *s, const struct config_listen *l,
    bool implicit_tls, const char **error_r)
{
	size_t n;

	if (implicit_tls && s->tls == NULL) {
		*error_r = "[submissions] needs [tls] cert and key";
		return -1;
	}
	if (s->n_listeners + l->count > sizeof(s->listeners) /
	    sizeof(s->listeners[0])) {
		*error_r = "too many listeners";
		return -1;
	}
	if (listen_bind(s->base, l, smtp_accept_cb, s,
	    s->listeners + s->n_listeners, &n, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		s->listener_tls[s->n_listeners + i] = implicit_tls;
	s->n_listeners += n;
	return 0;
}

void
smtp_server_share_buffered(struct smtp_server *s, uint64_t *counter)
{
	s->buffered = counter;
}

void
smtp_server_start(struct smtp_server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_enable(s->listeners[i]);
}

void
smtp_server_shutdown(struct smtp_server *s)
{
	struct smtp_conn *c, *next;

	s->stopping = true;
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_free(s->listeners[i]);
	s->n_listeners = 0;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		if (c->closing)
			continue;
		if (c->state == SMTP_ST_WAIT || c->state == SMTP_ST_RELEASE) {
			/* Its message is being stored (or a held message
			 * released): it gets the answer first. */
			c->shutdown = true;
			continue;
		}
		smtp_reply(c, SMTP_SHUTDOWN_REPLY);
		smtp_conn_close(c, "shutdown");
		smtp_conn_finish(c);
	}
}

unsigned
smtp_server_sessions(const struct smtp_server *s)
{
	return s->n_conns;
}

void
smtp_server_free(struct smtp_server **sp)
{
	struct smtp_server *s = *sp;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_free(s->listeners[i]);
	while (s->conns != NULL) {
		/* Deliveries are finished before this is called. */
		if (s->conns->delivery != NULL)
			abort();
		smtp_conn_free(s->conns);
	}
	dkim_verifier_free(&s->dkim_verifier);
	connlimit_free(&s->connlimit);
	ratelimit_free(&s->sendlimit);
	free(s);
	*sp = NULL;
}
