/*
 * milter.c - the asynchronous milter client (see milter.h): one check
 * runs one message through the configured milters, in order, each over
 * a connection of its own, on the libevent loop.
 *
 * For each milter: connect (inet or unix), OPTNEG (version 6; actions
 * and steps negotiated, each side's offer masking the other's), then the
 * steps the milter did not ask to skip, each preceded by its macros:
 * CONNECT, HELO, MAIL, RCPT per recipient, DATA, HEADER per field, EOH,
 * BODY in chunks of at most MILTER_CHUNK_MAX, EOB. After a step the
 * milter answers (unless it asked for no reply, SMFIP_NR_*); at EOB it
 * sends its header changes and quarantine, then its verdict. Then QUIT.
 * A milter's accept passes the message to the next one; the first other
 * verdict decides. A failure (connect, timeout, protocol) is the
 * check's verdict when on_failure is tempfail; with accept the milter is
 * left out and the next one asked.
 *
 * Three timers: connect (connect_timeout), each reply (timeout; a
 * PROGRESS reply starts it again) and the whole check
 * (message_timeout).
 *
 * The protocol is Sendmail's libmilter version 6 (no RFC).
 *
 * SECURITY: the milter's bytes go through milter_reader_feed() (bounded)
 * and milter_reply_parse() (validated) before anything acts on them; a
 * reply that does not belong to the step (a change before EOB, a second
 * OPTNEG, a reply to a step it said it would not answer) is a protocol
 * error. Its text is escaped before it is logged.
 */
#include "filter/milter.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"

_Static_assert(CONFIG_SOCKETS_MAX <= MILTER_SERVERS_MAX,
    "[milter] servers must fit in struct milter_config");

/* Commands built for one step: a few packets, or one HEADER. */
#define MILTER_OUT_MAX (4 * MILTER_PACKET_MAX)

enum milter_step {
	MILTER_STEP_CONNECTING,
	MILTER_STEP_OPTNEG,
	MILTER_STEP_CONNECT,
	MILTER_STEP_HELO,
	MILTER_STEP_MAIL,
	MILTER_STEP_RCPT,
	MILTER_STEP_DATA,
	MILTER_STEP_HEADER,
	MILTER_STEP_EOH,
	MILTER_STEP_BODY,
	MILTER_STEP_EOB,
};

static const char *const milter_step_names[] = {
	"connect", "optneg", "connect-info", "helo", "mail", "rcpt", "data",
	"header", "eoh", "body", "eob",
};

struct milter_check {
	struct event_base *base;
	const struct milter_config *cfg;
	milter_callback *cb;
	void *ctx;

	/* The request, copied (but the message). */
	struct sockaddr_storage client_ss;
	bool have_client;
	char client_ip[INET6_ADDRSTRLEN];
	char client_port[8];
	char *client_name;	/* NULL: unknown */
	char *helo;
	char *mail_from;
	char **rcpts;
	size_t n_rcpts;
	char *queue_id;
	char *auth_user;
	char *daemon_name;
	const char *msg;
	size_t len;
	size_t body_start;

	/* The milter being asked. */
	size_t server_i;
	struct bufferevent *bev;
	struct milter_reader reader;
	bool reader_on;
	enum milter_step step;
	bool waiting;		/* a reply to wait_step is due */
	enum milter_step wait_step;
	size_t rcpt_i;
	size_t hdr_pos;
	size_t body_pos;
	uint32_t version, actions, protocol;	/* negotiated */
	struct milter_mod pending[MILTER_MODS_MAX];
	size_t n_pending;
	bool quarantined;
	char quarantine[MILTER_QUARANTINE_MAX + 1];
	unsigned ignored;
	struct buf out;

	struct event *timer;	/* connect, then each reply */
	struct event *deadline;	/* the whole check */
	struct event *later;	/* starts the check, delivers the result */
	bool started;
	bool finished;
	bool expired;

	/* What the milters decided so far. */
	struct milter_mod mods[MILTER_MODS_MAX];
	size_t n_mods;
	struct milter_result result;
};

static void milter_conn_open(struct milter_check *c);
static void milter_check_finish(struct milter_check *c);

const char *
milter_verdict_name(enum milter_verdict v)
{
	switch (v) {
	case MILTER_VERDICT_ACCEPT: return "accept";
	case MILTER_VERDICT_REJECT: return "reject";
	case MILTER_VERDICT_TEMPFAIL: return "tempfail";
	case MILTER_VERDICT_DISCARD: return "discard";
	case MILTER_VERDICT_QUARANTINE: return "quarantine";
	}
	return "?";
}

/* "inet:127.0.0.1:11332", "inet:[::1]:11332", "unix:/path". */
static void
milter_server_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	int n = -1;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) != NULL)
			n = snprintf(out, len, "inet:%s:%u", ip,
			    (unsigned)ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)) !=
		    NULL)
			n = snprintf(out, len, "inet:[%s]:%u", ip,
			    (unsigned)ntohs(sin6->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const void *)ss;

		n = snprintf(out, len, "unix:%s", sun->sun_path);
	}
	if (n < 0)
		(void)snprintf(out, len, "?");
}

void
milter_config_init(struct milter_config *mc, const struct config *cfg)
{
	memset(mc, 0, sizeof(*mc));
	for (size_t i = 0; i < cfg->milter_servers.count; i++) {
		struct milter_server *s = &mc->servers[i];

		s->addr = cfg->milter_servers.addrs[i];
		s->addr_len = cfg->milter_servers.addr_lens[i];
		milter_server_name(&s->addr, s->name, sizeof(s->name));
	}
	mc->n_servers = cfg->milter_servers.count;
	mc->connect_timeout = cfg->milter_connect_timeout;
	mc->timeout = cfg->milter_timeout;
	mc->message_timeout = cfg->milter_message_timeout;
	mc->fail_tempfail = cfg->milter_on_failure == CONFIG_ON_FAILURE_TEMPFAIL;
	mc->hostname = cfg->hostname;
}

bool
milter_config_wanted(const struct config *cfg, bool submission)
{
	if (cfg->milter_servers.count == 0)
		return false;
	return (cfg->milter_listeners & (submission ?
	    CONFIG_MILTER_SUBMISSION : CONFIG_MILTER_SMTP)) != 0;
}

static const char *
milter_check_qid(const struct milter_check *c)
{
	return c->queue_id != NULL ? c->queue_id : "-";
}

static const char *
milter_check_name(const struct milter_check *c)
{
	return c->server_i < c->cfg->n_servers ?
	    c->cfg->servers[c->server_i].name : "-";
}

static void
milter_timer_arm(struct event *ev, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	evtimer_add(ev, &tv);
}

static void
milter_pending_clear(struct milter_check *c)
{
	for (size_t i = 0; i < c->n_pending; i++)
		milter_mod_clear(&c->pending[i]);
	c->n_pending = 0;
}

/*
 * Ends the connection to the current milter. polite: say QUIT (and
 * ABORT first when a message is under way) if nothing else waits in the
 * output, with one non-blocking write; a milter must cope with a plain
 * close too.
 */
static void
milter_conn_close(struct milter_check *c, bool polite)
{
	if (c->bev != NULL) {
		struct evbuffer *out = bufferevent_get_output(c->bev);

		if (polite && evbuffer_get_length(out) == 0 &&
		    c->step > MILTER_STEP_OPTNEG) {
			buf_reset(&c->out);
			if (c->waiting && c->wait_step >= MILTER_STEP_MAIL)
				(void)milter_put_simple(&c->out,
				    MILTER_CMD_ABORT);
			(void)milter_put_simple(&c->out, MILTER_CMD_QUIT);
			/* Straight to the socket: the bufferevent's output
			 * cannot be drained from outside it. */
			(void)send(bufferevent_getfd(c->bev), c->out.data,
			    c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
			buf_reset(&c->out);
		}
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	evtimer_del(c->timer);
	if (c->reader_on) {
		milter_reader_free(&c->reader);
		c->reader_on = false;
	}
	milter_pending_clear(c);
	c->quarantined = false;
	c->waiting = false;
}

/* Goes on with the next milter, or ends the check. */
static void
milter_check_next(struct milter_check *c)
{
	c->server_i++;
	if (c->server_i < c->cfg->n_servers && !c->expired)
		milter_conn_open(c);
	else
		milter_check_finish(c);
}

/* The current milter failed: on_failure decides. */
static void
milter_conn_fail(struct milter_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
milter_conn_fail(struct milter_check *c, const char *fmt, ...)
{
	char why[MILTER_ERROR_MAX], esc[LOG_ESCAPE_MAX];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(why, sizeof(why), fmt, ap) < 0)
		(void)snprintf(why, sizeof(why), "failed");
	va_end(ap);
	log_escape(esc, sizeof(esc), why, strlen(why));
	log_warning("queue=%s milter=%s step=%s error=\"%s\" on_failure=%s",
	    milter_check_qid(c), milter_check_name(c),
	    milter_step_names[c->waiting ? c->wait_step : c->step], esc,
	    c->cfg->fail_tempfail ? "tempfail" : "accept");
	milter_conn_close(c, c->step > MILTER_STEP_OPTNEG);
	if (!c->result.failed) {
		c->result.failed = true;
		(void)snprintf(c->result.error, sizeof(c->result.error),
		    "%s: %s", milter_check_name(c), esc);
	}
	if (c->cfg->fail_tempfail) {
		c->result.verdict = MILTER_VERDICT_TEMPFAIL;
		(void)snprintf(c->result.reply, sizeof(c->result.reply), "%s",
		    MILTER_REPLY_TEMPFAIL_DEFAULT);
		(void)snprintf(c->result.milter, sizeof(c->result.milter),
		    "%s", milter_check_name(c));
		milter_check_finish(c);
		return;
	}
	milter_check_next(c);
}

/* The current milter decided. */
static void
milter_conn_verdict(struct milter_check *c, enum milter_verdict v,
    const char *reply, size_t reply_len)
{
	if (v == MILTER_VERDICT_ACCEPT && c->quarantined)
		v = MILTER_VERDICT_QUARANTINE;
	if (c->wait_step == MILTER_STEP_EOB)
		c->waiting = false;	/* the message is over: no ABORT */
	if (v == MILTER_VERDICT_ACCEPT || v == MILTER_VERDICT_QUARANTINE) {
		/* n_pending was bounded by the room left in mods. */
		memcpy(&c->mods[c->n_mods], c->pending,
		    c->n_pending * sizeof(c->pending[0]));
		c->n_mods += c->n_pending;
		c->n_pending = 0;
	}
	c->result.ignored += c->ignored;
	if (v == MILTER_VERDICT_QUARANTINE)
		(void)snprintf(c->result.quarantine,
		    sizeof(c->result.quarantine), "%s", c->quarantine);
	if (v == MILTER_VERDICT_REJECT || v == MILTER_VERDICT_TEMPFAIL) {
		if (reply != NULL)
			(void)snprintf(c->result.reply, sizeof(c->result.reply),
			    "%.*s", (int)reply_len, reply);
		else
			(void)snprintf(c->result.reply, sizeof(c->result.reply),
			    "%s", v == MILTER_VERDICT_REJECT ?
			    MILTER_REPLY_REJECT_DEFAULT :
			    MILTER_REPLY_TEMPFAIL_DEFAULT);
	}
	log_debug("queue=%s milter=%s step=%s verdict=%s",
	    milter_check_qid(c), milter_check_name(c),
	    milter_step_names[c->wait_step], milter_verdict_name(v));
	if (v != MILTER_VERDICT_ACCEPT) {
		c->result.verdict = v;
		(void)snprintf(c->result.milter, sizeof(c->result.milter),
		    "%s", milter_check_name(c));
		milter_conn_close(c, true);
		milter_check_finish(c);
		return;
	}
	milter_conn_close(c, true);
	milter_check_next(c);
}

/* Hands the commands built in c->out to the connection. */
static void
milter_conn_flush(struct milter_check *c)
{
	if (c->out.len > 0)
		(void)evbuffer_add(bufferevent_get_output(c->bev), c->out.data,
		    c->out.len);
	buf_reset(&c->out);
}

/* The last step sent, step, needs a reply. */
static void
milter_conn_wait(struct milter_check *c, enum milter_step step)
{
	milter_conn_flush(c);
	c->waiting = true;
	c->wait_step = step;
	milter_timer_arm(c->timer, c->cfg->timeout);
}

static bool
milter_proto(const struct milter_check *c, uint32_t flag)
{
	return (c->protocol & flag) != 0;
}

/* The value of field f as HEADER sends it, cut so that the packet
 * stays within MILTER_PACKET_MAX (a longer field is the sender's, and
 * libmilter would refuse the packet). */
static int
milter_conn_put_field(struct milter_check *c, const struct milter_field *f)
{
	struct buf v;
	int r;

	if (f->name_len + 3 > MILTER_PACKET_MAX - 1)
		return 0;	/* no room for any value: left out */
	buf_init(&v, MILTER_PACKET_MAX - 3 - f->name_len);
	(void)milter_field_value(f, milter_proto(c, MILTER_P_HDR_LEADSPC),
	    &v);
	r = milter_put_header(&c->out, f->name, f->name_len,
	    v.data != NULL ? v.data : "", v.len);
	buf_release(&v);
	return r;
}

/*
 * Sends the steps from c->step on, until one that needs a reply (EOB
 * always does).
 */
static void
milter_conn_advance(struct milter_check *c)
{
	struct milter_field f;

	for (;;) {
		switch (c->step) {
		case MILTER_STEP_CONNECTING:
		case MILTER_STEP_OPTNEG:
			abort();
		case MILTER_STEP_CONNECT: {
			const char *ip = c->have_client ? c->client_ip :
			    "unknown";
			const char *name = c->client_name != NULL ?
			    c->client_name : "unknown";
			/* Sendmail's "_": the client's name and address. */
			char *underscore = xasprintf("%s [%s]", name, ip);
			char *host = c->client_name != NULL ?
			    xstrdup(c->client_name) : xasprintf("[%s]", ip);
			const char *nv[] = {
				"j", c->cfg->hostname,
				"{daemon_name}", c->daemon_name,
				"_", underscore,
				"{client_addr}", c->have_client ?
				    c->client_ip : NULL,
				"{client_port}", c->have_client ?
				    c->client_port : NULL,
				"{client_name}", name,
			};

			(void)milter_put_macros(&c->out, MILTER_CMD_CONNECT,
			    nv, sizeof(nv) / sizeof(nv[0]) / 2);
			if (!milter_proto(c, MILTER_P_NOCONNECT))
				(void)milter_put_connect(&c->out, host,
				    c->have_client ?
				    (const struct sockaddr *)&c->client_ss :
				    NULL);
			free(underscore);
			free(host);
			c->step = MILTER_STEP_HELO;
			if (!milter_proto(c, MILTER_P_NOCONNECT) &&
			    !milter_proto(c, MILTER_P_NR_CONN)) {
				milter_conn_wait(c, MILTER_STEP_CONNECT);
				return;
			}
			break;
		}
		case MILTER_STEP_HELO:
			c->step = MILTER_STEP_MAIL;
			if (c->helo != NULL &&
			    !milter_proto(c, MILTER_P_NOHELO)) {
				(void)milter_put_helo(&c->out, c->helo);
				if (!milter_proto(c, MILTER_P_NR_HELO)) {
					milter_conn_wait(c, MILTER_STEP_HELO);
					return;
				}
			}
			break;
		case MILTER_STEP_MAIL: {
			const char *nv[] = {
				"i", c->queue_id,
				"{mail_addr}", c->mail_from,
				"{auth_authen}", c->auth_user,
			};

			(void)milter_put_macros(&c->out, MILTER_CMD_MAIL, nv,
			    sizeof(nv) / sizeof(nv[0]) / 2);
			c->step = MILTER_STEP_RCPT;
			if (!milter_proto(c, MILTER_P_NOMAIL)) {
				(void)milter_put_mail(&c->out, c->mail_from);
				if (!milter_proto(c, MILTER_P_NR_MAIL)) {
					milter_conn_wait(c, MILTER_STEP_MAIL);
					return;
				}
			}
			break;
		}
		case MILTER_STEP_RCPT:
			while (c->rcpt_i < c->n_rcpts) {
				const char *nv[] = {
					"{rcpt_addr}", c->rcpts[c->rcpt_i],
				};

				(void)milter_put_macros(&c->out,
				    MILTER_CMD_RCPT, nv, 1);
				if (!milter_proto(c, MILTER_P_NORCPT))
					(void)milter_put_rcpt(&c->out,
					    c->rcpts[c->rcpt_i]);
				c->rcpt_i++;
				if (!milter_proto(c, MILTER_P_NORCPT) &&
				    !milter_proto(c, MILTER_P_NR_RCPT)) {
					milter_conn_wait(c, MILTER_STEP_RCPT);
					return;
				}
				/* Keep each step's packets bounded. */
				milter_conn_flush(c);
			}
			c->step = MILTER_STEP_DATA;
			break;
		case MILTER_STEP_DATA:
			c->step = MILTER_STEP_HEADER;
			/* DATA came with protocol version 4. */
			if (c->version >= 4 &&
			    !milter_proto(c, MILTER_P_NODATA)) {
				(void)milter_put_simple(&c->out,
				    MILTER_CMD_DATA);
				if (!milter_proto(c, MILTER_P_NR_DATA)) {
					milter_conn_wait(c, MILTER_STEP_DATA);
					return;
				}
			}
			break;
		case MILTER_STEP_HEADER:
			if (milter_proto(c, MILTER_P_NOHDRS)) {
				c->step = MILTER_STEP_EOH;
				break;
			}
			while (c->hdr_pos < c->body_start &&
			    milter_field_next(c->msg, c->body_start,
			    &c->hdr_pos, &f) == 1) {
				(void)milter_conn_put_field(c, &f);
				if (!milter_proto(c, MILTER_P_NR_HDR)) {
					milter_conn_wait(c,
					    MILTER_STEP_HEADER);
					return;
				}
				milter_conn_flush(c);
			}
			c->step = MILTER_STEP_EOH;
			break;
		case MILTER_STEP_EOH:
			c->step = MILTER_STEP_BODY;
			c->body_pos = c->body_start;
			if (!milter_proto(c, MILTER_P_NOEOH)) {
				(void)milter_put_simple(&c->out, MILTER_CMD_EOH);
				if (!milter_proto(c, MILTER_P_NR_EOH)) {
					milter_conn_wait(c, MILTER_STEP_EOH);
					return;
				}
			}
			break;
		case MILTER_STEP_BODY:
			milter_conn_flush(c);
			while (!milter_proto(c, MILTER_P_NOBODY) &&
			    c->body_pos < c->len) {
				struct evbuffer *out =
				    bufferevent_get_output(c->bev);
				unsigned char head[5];
				size_t n = c->len - c->body_pos;

				if (n > MILTER_CHUNK_MAX)
					n = MILTER_CHUNK_MAX;
				milter_body_head(head, n);
				(void)evbuffer_add(out, head, sizeof(head));
				/* The message outlives the connection
				 * (milter.h): no copy. */
				(void)evbuffer_add_reference(out,
				    c->msg + c->body_pos, n, NULL, NULL);
				c->body_pos += n;
				if (!milter_proto(c, MILTER_P_NR_BODY)) {
					milter_conn_wait(c, MILTER_STEP_BODY);
					return;
				}
			}
			c->step = MILTER_STEP_EOB;
			break;
		case MILTER_STEP_EOB: {
			const char *nv[] = { "i", c->queue_id };

			(void)milter_put_macros(&c->out, MILTER_CMD_EOB, nv, 1);
			(void)milter_put_simple(&c->out, MILTER_CMD_EOB);
			milter_conn_wait(c, MILTER_STEP_EOB);
			return;
		}
		}
	}
}

/* Copies a quarantine reason as printable ASCII. */
static void
milter_reason_copy(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < dstlen; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[i] = '\0';
}

/* One packet from the milter. Returns 0 to read on, -1 if the
 * connection is over. */
static int
milter_conn_reply(struct milter_check *c, const struct milter_packet *p)
{
	struct milter_reply r;
	const char *error;
	bool at_eob;

	if (milter_reply_parse(p, &r, &error) < 0) {
		milter_conn_fail(c, "protocol error in %s reply: %s",
		    milter_reply_name(p->cmd), error);
		return -1;
	}
	if (!c->waiting) {
		milter_conn_fail(c, "%s reply when none was due",
		    milter_reply_name(p->cmd));
		return -1;
	}
	at_eob = c->wait_step == MILTER_STEP_EOB;
	if (c->wait_step == MILTER_STEP_OPTNEG &&
	    r.type != MILTER_REPLY_OPTNEG) {
		milter_conn_fail(c, "%s reply to OPTNEG",
		    milter_reply_name(p->cmd));
		return -1;
	}
	switch (r.type) {
	case MILTER_REPLY_OPTNEG:
		if (c->wait_step != MILTER_STEP_OPTNEG) {
			milter_conn_fail(c, "second OPTNEG");
			return -1;
		}
		if (milter_negotiate(&r, &c->actions, &c->protocol,
		    &error) < 0) {
			milter_conn_fail(c, "optneg: %s %u", error,
			    (unsigned)r.version);
			return -1;
		}
		/* What was not offered is not granted: a change that needs
		 * a refused action is then ignored, never applied. */
		if (c->actions != r.actions || c->protocol != r.protocol)
			log_debug("queue=%s milter=%s optneg asks actions=0x%x "
			    "protocol=0x%x, beyond the offer",
			    milter_check_qid(c), milter_check_name(c),
			    (unsigned)r.actions, (unsigned)r.protocol);
		c->version = r.version;
		c->waiting = false;
		evtimer_del(c->timer);
		c->step = MILTER_STEP_CONNECT;
		milter_conn_advance(c);
		return 0;
	case MILTER_REPLY_PROGRESS:
		milter_timer_arm(c->timer, c->cfg->timeout);
		return 0;
	case MILTER_REPLY_CONTINUE:
		if (at_eob) {
			milter_conn_verdict(c, MILTER_VERDICT_ACCEPT, NULL, 0);
			return -1;
		}
		c->waiting = false;
		evtimer_del(c->timer);
		milter_conn_advance(c);
		return 0;
	case MILTER_REPLY_SKIP:
		if (c->wait_step != MILTER_STEP_BODY ||
		    !milter_proto(c, MILTER_P_SKIP)) {
			milter_conn_fail(c, "skip reply outside the body");
			return -1;
		}
		c->waiting = false;
		evtimer_del(c->timer);
		c->step = MILTER_STEP_EOB;
		milter_conn_advance(c);
		return 0;
	case MILTER_REPLY_ACCEPT:
		milter_conn_verdict(c, MILTER_VERDICT_ACCEPT, NULL, 0);
		return -1;
	case MILTER_REPLY_REJECT:
		milter_conn_verdict(c, MILTER_VERDICT_REJECT, NULL, 0);
		return -1;
	case MILTER_REPLY_TEMPFAIL:
	case MILTER_REPLY_SHUTDOWN:
		milter_conn_verdict(c, MILTER_VERDICT_TEMPFAIL, NULL, 0);
		return -1;
	case MILTER_REPLY_DISCARD:
		milter_conn_verdict(c, MILTER_VERDICT_DISCARD, NULL, 0);
		return -1;
	case MILTER_REPLY_REPLYCODE:
		milter_conn_verdict(c, r.code >= 500 ? MILTER_VERDICT_REJECT :
		    MILTER_VERDICT_TEMPFAIL, r.text, r.text_len);
		return -1;
	case MILTER_REPLY_QUARANTINE:
	case MILTER_REPLY_ADDHEADER:
	case MILTER_REPLY_INSHEADER:
	case MILTER_REPLY_CHGHEADER:
	case MILTER_REPLY_OTHER_MOD:
		break;
	}

	/* The modifications: only at the end of the message. */
	if (!at_eob) {
		milter_conn_fail(c, "%s before the end of the message",
		    milter_reply_name(p->cmd));
		return -1;
	}
	if ((r.type == MILTER_REPLY_QUARANTINE &&
	    (c->actions & MILTER_ACT_QUARANTINE) == 0) ||
	    ((r.type == MILTER_REPLY_ADDHEADER ||
	    r.type == MILTER_REPLY_INSHEADER) &&
	    (c->actions & MILTER_ACT_ADDHDRS) == 0) ||
	    (r.type == MILTER_REPLY_CHGHEADER &&
	    (c->actions & MILTER_ACT_CHGHDRS) == 0) ||
	    r.type == MILTER_REPLY_OTHER_MOD) {
		c->ignored++;
		log_info("queue=%s milter=%s ignored=%s (not negotiated)",
		    milter_check_qid(c), milter_check_name(c),
		    milter_reply_name(p->cmd));
		return 0;
	}
	if (r.type == MILTER_REPLY_QUARANTINE) {
		c->quarantined = true;
		milter_reason_copy(c->quarantine, sizeof(c->quarantine),
		    r.text, r.text_len);
		return 0;
	}
	if (c->n_mods + c->n_pending >= MILTER_MODS_MAX) {
		milter_conn_fail(c, "more than %d header changes",
		    MILTER_MODS_MAX);
		return -1;
	}
	milter_mod_from_reply(&c->pending[c->n_pending++], &r,
	    milter_proto(c, MILTER_P_HDR_LEADSPC));
	return 0;
}

static void
milter_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct milter_check *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		struct milter_packet pkt;
		enum milter_read_status st;
		size_t used;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		st = milter_reader_feed(&c->reader, v.iov_base, v.iov_len,
		    &used, &pkt);
		switch (st) {
		case MILTER_READ_MORE:
			evbuffer_drain(in, used);
			break;
		case MILTER_READ_EMPTY:
			milter_conn_fail(c, "protocol error: empty packet");
			return;
		case MILTER_READ_TOO_BIG:
			milter_conn_fail(c, "protocol error: packet of %u "
			    "bytes, over %d", (unsigned)c->reader.len,
			    MILTER_PACKET_MAX);
			return;
		case MILTER_READ_PACKET:
			/* pkt points into the reader, not into in. */
			evbuffer_drain(in, used);
			if (milter_conn_reply(c, &pkt) < 0)
				return;	/* bev is gone */
			break;
		}
	}
}

static void
milter_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct milter_check *c = arg;

	(void)bev;
	if ((what & BEV_EVENT_CONNECTED) != 0) {
		c->step = MILTER_STEP_OPTNEG;
		(void)milter_put_optneg(&c->out, MILTER_VERSION,
		    MILTER_ACTIONS_OFFERED, MILTER_PROTOCOL_OFFERED);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		milter_conn_wait(c, MILTER_STEP_OPTNEG);
		return;
	}
	if ((what & BEV_EVENT_EOF) != 0) {
		milter_conn_fail(c, "connection closed by the milter");
		return;
	}
	if ((what & BEV_EVENT_ERROR) != 0) {
		int err = EVUTIL_SOCKET_ERROR();

		milter_conn_fail(c, "%s%s", c->step == MILTER_STEP_CONNECTING ?
		    "cannot connect: " : "connection error: ",
		    err != 0 ? strerror(err) : "unknown error");
	}
}

static void
milter_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct milter_check *c = arg;

	(void)fd;
	(void)what;
	if (c->step == MILTER_STEP_CONNECTING)
		milter_conn_fail(c, "cannot connect: timed out after %us",
		    c->cfg->connect_timeout);
	else
		milter_conn_fail(c, "no reply to %s within %us",
		    milter_step_names[c->wait_step], c->cfg->timeout);
}

static void
milter_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct milter_check *c = arg;

	(void)fd;
	(void)what;
	c->expired = true;
	if (c->bev != NULL)
		milter_conn_fail(c, "the check took over %us",
		    c->cfg->message_timeout);
}

static void
milter_conn_open(struct milter_check *c)
{
	const struct milter_server *s = &c->cfg->servers[c->server_i];

	c->step = MILTER_STEP_CONNECTING;
	c->waiting = false;
	c->rcpt_i = 0;
	c->hdr_pos = 0;
	c->body_pos = 0;
	c->version = 0;
	c->actions = 0;
	c->protocol = 0;
	c->ignored = 0;
	c->quarantined = false;
	buf_reset(&c->out);
	milter_reader_init(&c->reader, MILTER_PACKET_MAX);
	c->reader_on = true;
	c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		milter_conn_fail(c, "cannot make a socket");
		return;
	}
	bufferevent_setcb(c->bev, milter_conn_read_cb, NULL,
	    milter_conn_event_cb, c);
	milter_timer_arm(c->timer, c->cfg->connect_timeout);
	/* A refused connection comes through the event callback; -1 is a
	 * local failure with no callback to come. */
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&s->addr,
	    (int)s->addr_len) < 0) {
		milter_conn_fail(c, "cannot connect: %s", strerror(errno));
		return;
	}
}

static void
milter_check_finish(struct milter_check *c)
{
	c->finished = true;
	event_active(c->later, EV_TIMEOUT, 1);
}

static void
milter_check_free(struct milter_check *c)
{
	milter_conn_close(c, false);
	for (size_t i = 0; i < c->n_mods; i++)
		milter_mod_clear(&c->mods[i]);
	event_free(c->timer);
	event_free(c->deadline);
	event_free(c->later);
	buf_release(&c->out);
	free(c->client_name);
	free(c->helo);
	free(c->mail_from);
	for (size_t i = 0; i < c->n_rcpts; i++)
		free(c->rcpts[i]);
	free(c->rcpts);
	free(c->queue_id);
	free(c->auth_user);
	free(c->daemon_name);
	free(c);
}

static void
milter_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct milter_check *c = arg;
	struct milter_result *res = &c->result;
	char esc[LOG_ESCAPE_MAX];

	(void)fd;
	(void)what;
	if (!c->started) {
		c->started = true;
		if (c->cfg->n_servers > 0)
			milter_conn_open(c);
		else
			milter_check_finish(c);
		return;
	}
	if (!c->finished)
		return;
	evtimer_del(c->deadline);
	res->mods = c->mods;
	res->n_mods = c->n_mods;
	if (c->cfg->n_servers > 0) {
		log_escape(esc, sizeof(esc), res->reply, strlen(res->reply));
		log_info("queue=%s milter verdict=%s by=%s reply=\"%s\" "
		    "mods=%zu ignored=%u failed=%s", milter_check_qid(c),
		    milter_verdict_name(res->verdict),
		    res->milter[0] != '\0' ? res->milter : "-", esc,
		    res->n_mods, res->ignored, res->failed ? "yes" : "no");
	}
	c->cb(c->ctx, res);
	milter_check_free(c);
}

static char *
milter_strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct milter_check *
milter_check_start(struct event_base *base, const struct milter_config *cfg,
    const struct milter_request *req, milter_callback *cb, void *ctx)
{
	struct milter_check *c = xcalloc(1, sizeof(*c));
	struct milter_field f;
	size_t pos = 0;

	assert(req->n_rcpts > 0);
	c->base = base;
	c->cfg = cfg;
	c->cb = cb;
	c->ctx = ctx;
	if (req->client_addr != NULL && (req->client_addr->sa_family ==
	    AF_INET || req->client_addr->sa_family == AF_INET6)) {
		const struct sockaddr *sa = req->client_addr;
		size_t salen = sa->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		const void *a;
		unsigned port;

		memcpy(&c->client_ss, sa, salen);
		if (sa->sa_family == AF_INET) {
			a = &((const struct sockaddr_in *)(const void *)sa)->
			    sin_addr;
			port = ntohs(((const struct sockaddr_in *)
			    (const void *)sa)->sin_port);
		} else {
			a = &((const struct sockaddr_in6 *)(const void *)sa)->
			    sin6_addr;
			port = ntohs(((const struct sockaddr_in6 *)
			    (const void *)sa)->sin6_port);
		}
		if (inet_ntop(sa->sa_family, a, c->client_ip,
		    sizeof(c->client_ip)) != NULL) {
			c->have_client = true;
			(void)snprintf(c->client_port, sizeof(c->client_port),
			    "%u", port);
		}
	}
	c->client_name = milter_strdup_or_null(req->client_name);
	c->helo = milter_strdup_or_null(req->helo);
	c->mail_from = xstrdup(req->mail_from != NULL ? req->mail_from : "");
	c->n_rcpts = req->n_rcpts;
	c->rcpts = xcalloc(req->n_rcpts + 1, sizeof(*c->rcpts));
	for (size_t i = 0; i < req->n_rcpts; i++)
		c->rcpts[i] = xstrdup(req->rcpts[i]);
	c->queue_id = milter_strdup_or_null(req->queue_id);
	c->auth_user = milter_strdup_or_null(req->auth_user);
	c->daemon_name = xstrdup(req->daemon_name != NULL ? req->daemon_name :
	    "smtp");
	c->msg = req->msg;
	c->len = req->len;
	while (milter_field_next(c->msg, c->len, &pos, &f) == 1)
		;
	c->body_start = pos;
	buf_init(&c->out, MILTER_OUT_MAX);
	c->result.verdict = MILTER_VERDICT_ACCEPT;

	c->timer = evtimer_new(base, milter_timer_cb, c);
	c->deadline = evtimer_new(base, milter_deadline_cb, c);
	c->later = evtimer_new(base, milter_later_cb, c);
	if (c->timer == NULL || c->deadline == NULL || c->later == NULL)
		abort();	/* out of memory, as xalloc does */
	milter_timer_arm(c->deadline, cfg->message_timeout);
	event_active(c->later, EV_TIMEOUT, 1);
	return c;
}

void
milter_check_cancel(struct milter_check **checkp)
{
	if (*checkp == NULL)
		return;
	milter_check_free(*checkp);
	*checkp = NULL;
}
