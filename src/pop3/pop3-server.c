/*
 * pop3-server.c - POP3 sessions: listeners, connections and TLS, the
 * command loop, the AUTHORIZATION state (USER/PASS, AUTH PLAIN, STLS,
 * CAPA) and the maildrop lock.
 *
 * RFC 1939 (POP3), RFC 2449 (CAPA, response codes, PIPELINING), RFC 2595
 * 4 (STLS), RFC 5034 (AUTH, SASL PLAIN per RFC 4616), RFC 3206 (the
 * SYS/TEMP, SYS/PERM and AUTH response codes).
 *
 * A session reads one command line at a time and answers it before it
 * reads the next, so pipelined commands (RFC 2449 6.6) are answered in
 * order. While a command waits (a store job, a failed login's delay, a
 * long answer whose output must drain) nothing more is read. The
 * maildrop is held exclusively per user within the process: a second
 * session of the same user gets [IN-USE] (RFC 2449 8.1.1) once its
 * password is checked.
 *
 * SECURITY: everything here is peer input. Lines are limited before they
 * are complete (POP3_LINE_MAX after login, POP3_AUTH_LINE_MAX before);
 * passwords are accepted only over TLS unless [pop3] allow_plaintext =
 * loopback and the peer is on loopback; they are checked off the loop
 * (yescrypt), wiped after use and never logged; failed logins are
 * delayed and counted per address and per account (core/authlimit.h).
 * Connections per peer address and network are limited before anything
 * is read ([limits], core/connlimit.h).
 */
#include "pop3/pop3-private.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "auth/sasl.h"
#include "core/authlimit.h"
#include "core/line.h"
#include "core/listen.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/tls.h"
#include "core/xalloc.h"

struct pop3_cmd {
	const char *name;
	void (*fn)(struct pop3_conn *c, const struct pop3_command *cmd);
	unsigned states;	/* bit per enum pop3_state */
};
#define ST_AUTH		(1u << POP3_ST_AUTH)
#define ST_TRANS	(1u << POP3_ST_TRANS)
#define ST_ANY		(ST_AUTH | ST_TRANS)

/* A password check on a storeq worker. */
struct pop3_auth_job {
	struct storeq_job job;
	struct pop3_conn *conn;		/* NULL once the session is gone */
	char *user;
	char *password;			/* wiped after the check */
	const char *mech;		/* "user" or "plain", for the log */
	int result;			/* 1 ok, 0 wrong, -1 error */
	int64_t user_id;
	char error[128];
};

static void pop3_conn_process(struct pop3_conn *c);
static void pop3_conn_finish(struct pop3_conn *c);
static void pop3_conn_start_tls(struct pop3_conn *c);
static void pop3_conn_read_cb(struct bufferevent *bev, void *arg);
static void pop3_conn_write_cb(struct bufferevent *bev, void *arg);
static void pop3_conn_event_cb(struct bufferevent *bev, short what,
    void *arg);

/* --- output --- */

void
pop3_send(struct pop3_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void
pop3_error(struct pop3_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	evbuffer_add(out, "-ERR ", 5);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	if (++c->errors >= POP3_ERRORS_MAX) {
		pop3_send(c, "-ERR Too many invalid commands");
		pop3_conn_close(c, "too many errors");
	}
}

void
pop3_conn_close(struct pop3_conn *c, const char *reason)
{
	if (c->closing)
		return;
	log_info("conn=%s pop3 close peer=%s user=%s reason=\"%s\" "
	    "retrieved=%u", c->id, c->peer, c->state != POP3_ST_AUTH &&
	    c->user != NULL ? c->user : "-", reason, c->retrieved);
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
}

void
pop3_resume(struct pop3_conn *c)
{
	pop3_conn_process(c);
	pop3_conn_finish(c);
}

/* --- the maildrop lock --- */

static struct pop3_conn **
pop3_lock_bucket(struct pop3_server *s, int64_t user_id)
{
	return &s->locks[(uint64_t)user_id % POP3_USERS_HASH];
}

static bool
pop3_lock_held(struct pop3_server *s, int64_t user_id)
{
	for (struct pop3_conn *c = *pop3_lock_bucket(s, user_id); c != NULL;
	    c = c->lock_next) {
		if (c->user_id == user_id)
			return true;
	}
	return false;
}

static void
pop3_lock_take(struct pop3_conn *c)
{
	struct pop3_conn **bucket = pop3_lock_bucket(c->server, c->user_id);

	c->lock_next = *bucket;
	*bucket = c;
	c->locked = true;
}

void
pop3_lock_release(struct pop3_conn *c)
{
	struct pop3_conn **pp;

	if (!c->locked)
		return;
	pp = pop3_lock_bucket(c->server, c->user_id);
	while (*pp != NULL && *pp != c)
		pp = &(*pp)->lock_next;
	if (*pp == c)
		*pp = c->lock_next;
	c->lock_next = NULL;
	c->locked = false;
}

/* --- AUTHORIZATION: CAPA, QUIT, STLS --- */

static bool
pop3_plaintext_ok(struct pop3_conn *c)
{
	return c->tls || (c->server->config->pop3_allow_plaintext ==
	    CONFIG_PLAINTEXT_LOOPBACK &&
	    authlimit_is_loopback((struct sockaddr *)&c->peer_sa));
}

/* RFC 2449 5 and 6; the login capabilities only where a login may be
 * made (RFC 2595 4: not before STLS when plain text is refused). */
static void
pop3_cmd_capa(struct pop3_conn *c, const struct pop3_command *cmd)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (cmd->n_args != 0) {
		pop3_error(c, "CAPA takes no arguments");
		return;
	}
	evbuffer_add_printf(out, "+OK Capability list follows\r\n"
	    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	    "EXPIRE NEVER\r\nIMPLEMENTATION Correio\r\n");
	if (c->state == POP3_ST_AUTH) {
		if (pop3_plaintext_ok(c))
			evbuffer_add_printf(out, "USER\r\nSASL PLAIN\r\n");
		if (!c->tls && c->server->tls != NULL)
			evbuffer_add_printf(out, "STLS\r\n");
	}
	evbuffer_add(out, ".\r\n", 3);
}

static void
pop3_cmd_quit(struct pop3_conn *c, const struct pop3_command *cmd)
{
	if (cmd->n_args != 0) {
		pop3_error(c, "QUIT takes no arguments");
		return;
	}
	if (c->state == POP3_ST_TRANS) {
		pop3_update(c);
		return;
	}
	pop3_send(c, "+OK Bye");
	pop3_conn_close(c, "quit");
}

static void
pop3_cmd_stls(struct pop3_conn *c, const struct pop3_command *cmd)
{
	if (cmd->n_args != 0) {
		pop3_error(c, "STLS takes no arguments");
		return;
	}
	if (c->tls || c->server->tls == NULL) {
		pop3_error(c, c->tls ? "TLS is already active" :
		    "STLS is not available");
		return;
	}
	pop3_send(c, "+OK Begin TLS negotiation");
	/* RFC 2595 4: the handshake starts after the +OK; what the client
	 * sent after STLS is dropped, and so is a USER name given before
	 * (the session starts over). */
	free(c->user);
	c->user = NULL;
	c->wait = POP3_WAIT_STLS;
}

/* --- login --- */

static void
pop3_auth_run(struct store *store, struct storeq_job *job)
{
	struct pop3_auth_job *a = (struct pop3_auth_job *)job;
	const char *error;

	a->result = store_user_check_password(store, a->user, a->password,
	    &error);
	if (a->result == 1 && store_user_lookup(store, a->user, &a->user_id,
	    &error) != 1)
		a->result = -1;
	if (a->result < 0)
		(void)snprintf(a->error, sizeof(a->error), "%s", error);
	OPENSSL_cleanse(a->password, strlen(a->password));
}

static void
pop3_auth_free(struct pop3_auth_job *a)
{
	OPENSSL_cleanse(a->password, strlen(a->password));
	free(a->password);
	free(a->user);
	free(a);
}

/* The password was right: the maildrop, unless another session has it. */
static void
pop3_auth_ok(struct pop3_conn *c, struct pop3_auth_job *a, const char *ebuf)
{
	struct pop3_server *s = c->server;

	authlimit_success(s->authlimit, (struct sockaddr *)&c->peer_sa,
	    a->user, time(NULL));
	if (pop3_lock_held(s, a->user_id)) {
		log_info("conn=%s pop3 login peer=%s user=%s mech=%s "
		    "result=in-use", c->id, c->peer, ebuf, a->mech);
		pop3_send(c, "-ERR [IN-USE] Mailbox is locked by another "
		    "POP3 session");
		c->wait = POP3_WAIT_NONE;
		return;
	}
	log_info("conn=%s pop3 login peer=%s user=%s mech=%s result=ok",
	    c->id, c->peer, ebuf, a->mech);
	c->user_id = a->user_id;
	free(c->user);		/* a USER name given before AUTH */
	c->user = xstrdup(a->user);
	pop3_lock_take(c);
	pop3_maildrop_load(c);
}

static void
pop3_auth_done(struct storeq_job *job)
{
	struct pop3_auth_job *a = (struct pop3_auth_job *)job;
	struct pop3_conn *c = a->conn;
	char ebuf[LOG_ESCAPE_MAX];
	unsigned delay;

	if (c == NULL) {
		pop3_auth_free(a);
		return;
	}
	c->auth = NULL;
	c->jobs--;
	if (c->closing) {
		pop3_auth_free(a);
		c->wait = POP3_WAIT_NONE;
		pop3_conn_finish(c);
		return;
	}
	log_escape(ebuf, sizeof(ebuf), a->user, strlen(a->user));
	if (a->result < 0) {
		log_error("conn=%s pop3 login user=%s error=\"%s\"", c->id,
		    ebuf, a->error);
		pop3_send(c, "-ERR [SYS/TEMP] Temporary failure, try later");
		c->wait = POP3_WAIT_NONE;
	} else if (a->result == 0) {
		delay = authlimit_fail(c->server->authlimit,
		    (struct sockaddr *)&c->peer_sa, a->user, time(NULL));
		authlimit_log_failure(c->id, "pop3", "pop3", c->peer, a->user,
		    a->mech, delay);
		/* the reply waits: guessing costs time */
		free(c->delayed_reply);
		c->delayed_reply = xstrdup("-ERR [AUTH] Authentication failed");
		c->wait = POP3_WAIT_DELAY;
		event_del(c->timer);
		event_add(c->timer, &(struct timeval){ .tv_sec = delay });
	} else {
		pop3_auth_ok(c, a, ebuf);
	}
	pop3_auth_free(a);
	pop3_resume(c);
}

/* Starts a password check; the session waits for it. */
static void
pop3_auth_start(struct pop3_conn *c, const char *user, size_t user_len,
    const char *password, size_t password_len, const char *mech)
{
	struct pop3_auth_job *a;
	enum authlimit_scope scope;
	unsigned blocked;
	char *name;

	/* The address, or the account (but from its owner's networks). */
	name = xstrndup(user, user_len);
	blocked = authlimit_check(c->server->authlimit,
	    (struct sockaddr *)&c->peer_sa, name, time(NULL), &scope);
	if (blocked > 0) {
		authlimit_log_refusal(c->id, "pop3", "pop3", c->peer, name,
		    scope, blocked);
		free(name);
		pop3_send(c, "-ERR [SYS/TEMP] Too many failed logins, try "
		    "again later");
		return;
	}
	free(name);
	if (user_len == 0 || user_len > STORE_ADDRESS_MAX ||
	    password_len > STORE_PASSWORD_MAX ||
	    memchr(user, '\0', user_len) != NULL ||
	    memchr(password, '\0', password_len) != NULL) {
		/* cannot be a valid login: same answer, same delay */
		user = "";
		user_len = 0;
		password = "";
		password_len = 0;
	}
	a = xcalloc(1, sizeof(*a));
	a->conn = c;
	a->user = xstrndup(user, user_len);
	a->password = xstrndup(password, password_len);
	a->mech = mech;
	a->job.run = pop3_auth_run;
	a->job.done = pop3_auth_done;
	c->auth = a;
	c->jobs++;
	c->wait = POP3_WAIT_JOB;
	storeq_submit(c->server->storeq, &a->job);
}

static void
pop3_cmd_user(struct pop3_conn *c, const struct pop3_command *cmd)
{
	if (cmd->n_args != 1 || cmd->too_many) {
		pop3_error(c, "USER needs a user name");
		return;
	}
	if (!pop3_plaintext_ok(c)) {
		pop3_send(c, "-ERR Log in over TLS only: use STLS first");
		return;
	}
	free(c->user);
	/* whether the user exists is told by PASS only, after the check */
	c->user = xstrndup(cmd->args[0].s, cmd->args[0].len);
	pop3_send(c, "+OK Send the password");
}

static void
pop3_cmd_pass(struct pop3_conn *c, const struct pop3_command *cmd)
{
	char *user = c->user;

	if (user == NULL) {
		pop3_error(c, "Send USER first");
		return;
	}
	if (!pop3_plaintext_ok(c)) {
		pop3_send(c, "-ERR Log in over TLS only: use STLS first");
		return;
	}
	/* a failed PASS needs a new USER (RFC 1939 7 leaves it open) */
	c->user = NULL;
	pop3_auth_start(c, user, strlen(user), cmd->rest.s, cmd->rest.len,
	    "user");
	free(user);
}

/* RFC 4616 in base64: [authzid] NUL authcid NUL passwd. */
static void
pop3_auth_plain(struct pop3_conn *c, const char *b64, size_t len)
{
	struct sasl_plain p;
	const char *error;

	/* RFC 5034 4: "*" cancels */
	if (len == 1 && b64[0] == '*') {
		pop3_send(c, "-ERR Authentication cancelled");
		return;
	}
	switch (sasl_plain_decode(b64, len, &p, &error)) {
	case SASL_PLAIN_OK:
		break;
	case SASL_PLAIN_BAD_BASE64:
		pop3_error(c, "%s", error);
		return;
	case SASL_PLAIN_MALFORMED:
		pop3_send(c, "-ERR [AUTH] %s", error);
		return;
	}
	/* an authorization identity other than oneself is not allowed */
	if (p.authzid[0] != '\0' && strcmp(p.authzid, p.authcid) != 0) {
		sasl_plain_free(&p);
		pop3_send(c, "-ERR [AUTH] Cannot act as another user");
		return;
	}
	pop3_auth_start(c, p.authcid, strlen(p.authcid), p.password,
	    p.password_len, "plain");
	sasl_plain_free(&p);
}

static void
pop3_cmd_auth(struct pop3_conn *c, const struct pop3_command *cmd)
{
	const struct pop3_arg *mech = &cmd->args[0];

	if (cmd->n_args == 0) {
		/* the mechanism list some clients ask for (a draft of RFC
		 * 5034; CAPA's SASL line says the same) */
		pop3_send(c, "+OK Mechanisms follow%s",
		    pop3_plaintext_ok(c) ? "\r\nPLAIN" : "");
		pop3_send(c, ".");
		return;
	}
	if (cmd->too_many) {
		pop3_error(c, "AUTH takes a mechanism and a response");
		return;
	}
	if (mech->len != 5 || strncasecmp(mech->s, "PLAIN", 5) != 0) {
		pop3_send(c, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (!pop3_plaintext_ok(c)) {
		pop3_send(c, "-ERR Log in over TLS only: use STLS first");
		return;
	}
	if (cmd->n_args == 2) {
		/* RFC 5034 4: an initial response; "=" is an empty one */
		const struct pop3_arg *ir = &cmd->args[1];

		pop3_auth_plain(c, ir->s, ir->len == 1 && ir->s[0] == '=' ?
		    0 : ir->len);
		return;
	}
	pop3_send(c, "+ ");
	c->wait = POP3_WAIT_AUTH_LINE;
}

/* --- dispatch --- */

static const struct pop3_cmd pop3_cmds[] = {
	{ "CAPA", pop3_cmd_capa, ST_ANY },
	{ "QUIT", pop3_cmd_quit, ST_ANY },
	{ "STLS", pop3_cmd_stls, ST_AUTH },
	{ "USER", pop3_cmd_user, ST_AUTH },
	{ "PASS", pop3_cmd_pass, ST_AUTH },
	{ "AUTH", pop3_cmd_auth, ST_AUTH },
	{ "STAT", pop3_cmd_stat, ST_TRANS },
	{ "LIST", pop3_cmd_list, ST_TRANS },
	{ "UIDL", pop3_cmd_uidl, ST_TRANS },
	{ "RETR", pop3_cmd_retr, ST_TRANS },
	{ "TOP", pop3_cmd_top, ST_TRANS },
	{ "DELE", pop3_cmd_dele, ST_TRANS },
	{ "RSET", pop3_cmd_rset, ST_TRANS },
	{ "NOOP", pop3_cmd_noop, ST_TRANS },
};

static void
pop3_dispatch(struct pop3_conn *c, const char *line, size_t len)
{
	struct pop3_command cmd;
	const char *error;

	if (pop3_command_parse(line, len, &cmd, &error) < 0) {
		pop3_error(c, "%s", error);
		return;
	}
	for (size_t i = 0; i < sizeof(pop3_cmds) / sizeof(pop3_cmds[0]);
	    i++) {
		const struct pop3_cmd *pc = &pop3_cmds[i];

		if (strcmp(pc->name, cmd.name) != 0)
			continue;
		if ((pc->states & (1u << c->state)) == 0) {
			pop3_error(c, c->state == POP3_ST_AUTH ?
			    "Log in first" : "Not allowed after login");
			return;
		}
		log_debug("conn=%s pop3 command %s", c->id, pc->name);
		pc->fn(c, &cmd);
		return;
	}
	pop3_error(c, "Unknown command");
}

/* --- the session loop --- */

/* Takes the next line (without its CRLF or LF) into server->line.
 * Returns 1 with a line, 0 for more input, -1 if it was too long (the
 * rest is skipped; answered). */
static int
pop3_read_line(struct pop3_conn *c, size_t *len_r)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t max = c->state == POP3_ST_AUTH ? POP3_AUTH_LINE_MAX :
	    POP3_LINE_MAX;
	size_t len;

	if (c->skip_line) {
		if (line_skip(in) == 0)
			return 0;
		c->skip_line = false;
	}
	switch (line_next(in, max, &c->scanned, &len)) {
	case LINE_MORE:
		return 0;
	case LINE_TOO_LONG:
		c->skip_line = true;
		c->wait = POP3_WAIT_NONE;	/* an AUTH response ends too */
		pop3_error(c, "Line too long");
		return -1;
	case LINE_OK:
		break;
	}
	/* len <= max <= POP3_AUTH_LINE_MAX: it fits */
	if (evbuffer_remove(in, c->server->line, len) != (int)len)
		abort();
	len--;				/* the LF */
	if (len > 0 && c->server->line[len - 1] == '\r')
		len--;
	c->server->line[len] = '\0';
	*len_r = len;
	return 1;
}

static void
pop3_conn_process(struct pop3_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (!c->closing) {
		size_t len;
		int rc;

		if (evbuffer_get_length(out) > POP3_OUTPUT_HIGH)
			return;		/* resumed by the write callback */
		switch (c->wait) {
		case POP3_WAIT_NONE:
		case POP3_WAIT_AUTH_LINE:
			break;
		case POP3_WAIT_OUTPUT:
			c->out.resume(c);
			continue;
		default:
			return;
		}
		if ((rc = pop3_read_line(c, &len)) == 0)
			return;
		if (rc < 0)
			continue;
		pop3_timer_arm(c);
		if (c->wait == POP3_WAIT_AUTH_LINE) {
			c->wait = POP3_WAIT_NONE;
			pop3_auth_plain(c, c->server->line, len);
		} else {
			pop3_dispatch(c, c->server->line, len);
		}
		/* the line may have held a password */
		OPENSSL_cleanse(c->server->line, len);
	}
}

static void
pop3_conn_free(struct pop3_conn *c)
{
	struct pop3_server *s = c->server;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->n_conns--;
	pop3_lock_release(c);
	pop3_output_abort(c);
	pop3_maildrop_free(&c->drop);
	event_free(c->timer);
	connlimit_release(s->connlimit, (struct sockaddr *)&c->peer_sa,
	    &c->ticket);
	free(c->delayed_reply);
	free(c->user);
	if (c->tls && !c->io_error)
		(void)SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
	bufferevent_free(c->bev);
	free(c);
}

static void
pop3_conn_discard_output(struct pop3_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_drain(out, evbuffer_get_length(out));
}

/* At the end of every event: frees a closing session once its output is
 * out and no job refers to it; starts TLS after STLS's +OK is out. */
static void
pop3_conn_finish(struct pop3_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->wait == POP3_WAIT_STLS && !c->closing &&
	    evbuffer_get_length(out) == 0) {
		pop3_conn_start_tls(c);
		return;
	}
	if (!c->closing)
		return;
	if (c->jobs > 0)
		return;
	if (evbuffer_get_length(out) > 0 && !c->io_error) {
		bufferevent_enable(c->bev, EV_WRITE);
		return;
	}
	pop3_conn_free(c);
}

static void
pop3_conn_start_tls(struct pop3_conn *c)
{
	struct pop3_server *s = c->server;
	SSL *ssl = SSL_new(s->tls);
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (ssl == NULL) {
		pop3_conn_close(c, "SSL_new failed");
		pop3_conn_finish(c);
		return;
	}
	/* RFC 2595 4: what came before the handshake is dropped */
	evbuffer_drain(in, evbuffer_get_length(in));
	c->scanned = 0;
	c->skip_line = false;
	bufferevent_setfd(c->bev, -1);
	bufferevent_free(c->bev);
	c->bev = bufferevent_openssl_socket_new(s->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(c->fd);
		SSL_free(ssl);
		log_error("conn=%s pop3 stls: cannot make TLS bufferevent",
		    c->id);
		abort();
	}
	c->tls_bev = true;
	bufferevent_setcb(c->bev, pop3_conn_read_cb, pop3_conn_write_cb,
	    pop3_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, POP3_INPUT_HIGH);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->wait = POP3_WAIT_NONE;
}

static void
pop3_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct pop3_conn *c = arg;

	pop3_resume(c);
}

static void
pop3_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct pop3_conn *c = arg;

	if (!c->closing) {
		/* a long answer that moves is not an idle session */
		if (c->wait == POP3_WAIT_OUTPUT)
			pop3_timer_arm(c);
		pop3_conn_process(c);
	}
	pop3_conn_finish(c);
}

static void
pop3_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pop3_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		char info[160];

		c->tls = true;
		if (tls_describe(ssl, info, sizeof(info)) < 0)
			(void)snprintf(info, sizeof(info), "TLS");
		log_info("conn=%s pop3 tls peer=%s %s", c->id, c->peer, info);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		pop3_conn_close(c, "disconnected");
	} else if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char reason[128];

		if (e != 0)
			ERR_error_string_n(e, reason, sizeof(reason));
		else
			(void)snprintf(reason, sizeof(reason), "%s",
			    strerror(EVUTIL_SOCKET_ERROR()));
		pop3_conn_close(c, reason);
	} else if (what & BEV_EVENT_TIMEOUT) {
		pop3_conn_close(c, "write timeout");
	} else {
		return;
	}
	c->io_error = true;
	pop3_conn_discard_output(c);
	pop3_conn_finish(c);
}

void
pop3_timer_arm(struct pop3_conn *c)
{
	const struct config *cfg = c->server->config;
	struct timeval tv = { .tv_sec = c->state == POP3_ST_AUTH ?
	    cfg->pop3_login_timeout : cfg->pop3_timeout };

	if (c->wait == POP3_WAIT_DELAY)
		return;
	event_del(c->timer);
	event_add(c->timer, &tv);
}

static void
pop3_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_conn *c = arg;

	if (c->wait == POP3_WAIT_DELAY) {
		/* a failed login's answer, held back until now */
		pop3_send(c, "%s", c->delayed_reply);
		free(c->delayed_reply);
		c->delayed_reply = NULL;
		c->wait = POP3_WAIT_NONE;
		pop3_timer_arm(c);
		pop3_resume(c);
		return;
	}
	if (c->state == POP3_ST_UPDATE) {
		/* the deletions are being committed: their answer is due */
		pop3_timer_arm(c);
		return;
	}
	if (c->tls_bev && !c->tls) {
		pop3_conn_close(c, "tls handshake timeout");
		c->io_error = true;
		pop3_conn_discard_output(c);
	} else if (c->out.resume != NULL) {
		/* no line can go in the middle of a message: just close
		 * (RFC 1939 3: the autologout timer; no UPDATE) */
		pop3_output_abort(c);
		pop3_conn_close(c, "timeout");
	} else {
		pop3_send(c, "-ERR Autologout; idle for too long");
		pop3_conn_close(c, "timeout");
	}
	pop3_conn_finish(c);
}

/* Refuses a connection over a [limits] limit, before anything is read
 * or, for implicit TLS, handshaken (the peer just sees it close).
 * Returns false then. */
static bool
pop3_conn_admit(struct pop3_conn *c, bool implicit_tls)
{
	enum connlimit_verdict v;

	v = connlimit_acquire(c->server->connlimit,
	    (struct sockaddr *)&c->peer_sa, ratelimit_now_ms(), &c->ticket);
	if (v == CONNLIMIT_OK)
		return true;
	log_info("conn=%s pop3 connect peer=%s result=refused "
	    "reason=\"too many connections\" limit=%s", c->id, c->peer,
	    connlimit_verdict_name(v));
	if (implicit_tls) {
		c->io_error = true;
	} else {
		/* RFC 3206 4: SYS/TEMP, a transient problem */
		pop3_send(c, "-ERR [SYS/TEMP] Too many connections from your "
		    "address, try again later");
		bufferevent_enable(c->bev, EV_WRITE);
	}
	pop3_conn_close(c, "too many connections");
	pop3_conn_finish(c);
	return false;
}

static void
pop3_accept(struct pop3_server *s, evutil_socket_t fd, struct sockaddr *sa,
    int salen, bool implicit_tls)
{
	struct pop3_conn *c = xcalloc(1, sizeof(*c));
	unsigned char rnd[4];

	c->server = s;
	c->fd = fd;
	c->out.fd = -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();
	(void)snprintf(c->id, sizeof(c->id), "%02x%02x%02x%02x", rnd[0],
	    rnd[1], rnd[2], rnd[3]);
	if ((size_t)salen <= sizeof(c->peer_sa))
		memcpy(&c->peer_sa, sa, (size_t)salen);
	listen_addr_str(sa, c->peer, sizeof(c->peer));
	if (implicit_tls) {
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
		close(fd);
		free(c);
		return;
	}
	c->timer = evtimer_new(s->base, pop3_timer_cb, c);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	bufferevent_setcb(c->bev, pop3_conn_read_cb, pop3_conn_write_cb,
	    pop3_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, POP3_INPUT_HIGH);
	if (!pop3_conn_admit(c, implicit_tls))
		return;
	log_info("conn=%s pop3 connect peer=%s tls=%s sessions=%u", c->id,
	    c->peer, implicit_tls ? "yes" : "no", s->n_conns);
	if (s->n_conns > s->config->pop3_max_sessions) {
		pop3_send(c, "-ERR [SYS/TEMP] Too many sessions, try again "
		    "later");
		pop3_conn_close(c, "too many sessions");
		bufferevent_enable(c->bev, EV_WRITE);
		pop3_conn_finish(c);
		return;
	}
	pop3_send(c, "+OK Correio POP3 ready");
	pop3_timer_arm(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
pop3_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct pop3_server *s = arg;
	bool implicit_tls = false;

	for (size_t i = 0; i < s->n_listeners; i++) {
		if (s->listeners[i] == listener)
			implicit_tls = s->listener_tls[i];
	}
	pop3_accept(s, fd, sa, salen, implicit_tls);
}

/* --- server --- */

struct pop3_server *
pop3_server_new(struct event_base *base, const struct config *config,
    struct store *store, struct deliverq *deliverq, struct storeq *storeq,
    struct authlimit *authlimit, SSL_CTX *tls)
{
	struct pop3_server *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->config = config;
	s->store = store;
	s->deliverq = deliverq;
	s->storeq = storeq;
	s->authlimit = authlimit;
	s->tls = tls;
	s->chunk = xmalloc(POP3_READ_CHUNK);
	s->connlimit = connlimit_new(&(struct connlimit_config){
	    .ip_sessions = config->limits_ip_sessions,
	    .net_sessions = config->limits_net_sessions,
	    .ip_rate = config->limits_ip_rate,
	    .net_rate = config->limits_net_rate,
	    .exempt_loopback = config->limits_exempt_loopback,
	});
	return s;
}

void
pop3_server_set_store(struct pop3_server *s, struct store *store,
    struct deliverq *deliverq, struct storeq *storeq)
{
	s->store = store;
	s->deliverq = deliverq;
	s->storeq = storeq;
}

int
pop3_server_listen(struct pop3_server *s, const struct config_listen *l,
    bool implicit_tls, const char **error_r)
{
	size_t n;

	if (implicit_tls && s->tls == NULL) {
		*error_r = "[pop3s] needs [tls] cert and key";
		return -1;
	}
	if (s->n_listeners + l->count > sizeof(s->listeners) /
	    sizeof(s->listeners[0])) {
		*error_r = "too many listeners";
		return -1;
	}
	if (listen_bind(s->base, l, pop3_accept_cb, s,
	    s->listeners + s->n_listeners, &n, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		s->listener_tls[s->n_listeners + i] = implicit_tls;
	s->n_listeners += n;
	return 0;
}

void
pop3_server_start(struct pop3_server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_enable(s->listeners[i]);
}

void
pop3_server_shutdown(struct pop3_server *s)
{
	struct pop3_conn *c, *next;

	s->stopping = true;
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_free(s->listeners[i]);
	s->n_listeners = 0;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		/* a session in UPDATE answers once its deletions are
		 * committed, and closes then */
		if (c->closing || c->state == POP3_ST_UPDATE)
			continue;
		if (c->out.resume != NULL)
			pop3_output_abort(c);	/* not inside a message */
		else
			pop3_send(c, "-ERR [SYS/TEMP] Server shutting down");
		pop3_conn_close(c, "shutdown");
		bufferevent_enable(c->bev, EV_WRITE);
		pop3_conn_finish(c);
	}
}

unsigned
pop3_server_sessions(const struct pop3_server *s)
{
	return s->n_conns;
}

void
pop3_server_free(struct pop3_server **sp)
{
	struct pop3_server *s = *sp;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_free(s->listeners[i]);
	while (s->conns != NULL) {
		struct pop3_conn *c = s->conns;

		if (c->auth != NULL)
			c->auth->conn = NULL;
		pop3_conn_free(c);
	}
	free(s->chunk);
	connlimit_free(&s->connlimit);
	free(s);
	*sp = NULL;
}
