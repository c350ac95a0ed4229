/*
 * imap-server.c - IMAP sessions: listeners, connections and TLS, the
 * command loop, login (LOGIN, AUTHENTICATE PLAIN with SASL-IR), CAPABILITY,
 * NOOP, LOGOUT, ID, ENABLE, STARTTLS, IDLE, UNSELECT, and how sessions
 * learn of changes made by others.
 *
 * RFC 9051 (IMAP4rev2) and RFC 3501 (IMAP4rev1); RFC 2177 IDLE, RFC 2971
 * ID, RFC 5161 ENABLE, RFC 4959 SASL-IR, RFC 4616 PLAIN, RFC 7888
 * LITERAL+, RFC 6855 UTF8=ACCEPT, RFC 7162 CONDSTORE/QRESYNC, RFC 3691
 * UNSELECT.
 *
 * Changes: every session sees a snapshot of its mailbox (struct
 * imap_view). At the end of each command, and during IDLE when told by
 * imap_server_notify, it reads what changed since the MODSEQ it knows
 * (store_mailbox_changes) and sends EXISTS, EXPUNGE/VANISHED and FETCH
 * FLAGS. Writes of this process (other sessions, SMTP deliveries) notify
 * at once.
 *
 * SECURITY: everything here is peer input. Commands go through the
 * incremental parser (imap-parser.h) with strict limits before login;
 * passwords are accepted only over TLS unless [imap] allow_plaintext =
 * loopback and the peer is on loopback; they are checked off the loop
 * (yescrypt), wiped after use and never logged; failed logins are
 * delayed and counted per address and per account (core/authlimit.h).
 * Connections per peer address and network are limited before anything
 * is read ([limits], core/connlimit.h).
 */
#include "imap/imap-private.h"

#include <ctype.h>
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
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/authlimit.h"
#include "core/listen.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/ratelimit.h"
#include "core/tls.h"
#include "core/xalloc.h"
#include "imap/imap-utf7.h"
#include "store/store.h"

#define IMAP_AUTH_LINE_MAX 8192		/* an AUTHENTICATE response line */
#define IMAP_IDLE_LINE_MAX 64		/* "DONE" */
#define IMAP_ID_VALUE_MAX 128		/* logged ID values */

struct imap_cmd {
	const char *name;
	void (*fn)(struct imap_conn *c, const struct imap_command *cmd);
	unsigned states;	/* bit per enum imap_state */
	unsigned flags;
};
#define ST_NOTAUTH	(1u << IMAP_ST_NOTAUTH)
#define ST_AUTH		(1u << IMAP_ST_AUTH)
#define ST_SELECTED	(1u << IMAP_ST_SELECTED)
#define ST_ANY		(ST_NOTAUTH | ST_AUTH | ST_SELECTED)
#define ST_LOGGED	(ST_AUTH | ST_SELECTED)
#define CMD_UID		0x01	/* may follow "UID" */
#define CMD_NO_EXPUNGE	0x02	/* no EXPUNGE responses (RFC 9051 7.5.1) */

/* A password check on a storeq worker. */
struct imap_auth_job {
	struct storeq_job job;
	struct imap_conn *conn;		/* NULL once the session is gone */
	char *user;
	char *password;			/* wiped after the check */
	const char *mech;		/* "login" or "plain", for the log */
	int result;			/* 1 ok, 0 wrong, -1 error */
	int64_t user_id;
	char error[128];
};

static void imap_conn_process(struct imap_conn *c);
static void imap_conn_finish(struct imap_conn *c);
static void imap_conn_start_tls(struct imap_conn *c);
static void imap_conn_read_cb(struct bufferevent *bev, void *arg);
static void imap_conn_write_cb(struct bufferevent *bev, void *arg);
static void imap_conn_event_cb(struct bufferevent *bev, short what,
    void *arg);
static void imap_timer_arm(struct imap_conn *c);
static void imap_conn_set_timeouts(struct imap_conn *c);

/* --- output --- */

void
imap_send(struct imap_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void
imap_send_raw(struct imap_conn *c, const void *data, size_t len)
{
	evbuffer_add(bufferevent_get_output(c->bev), data, len);
}

void
imap_send_buf(struct imap_conn *c, struct buf *b)
{
	if (b->len > 0)
		evbuffer_add(bufferevent_get_output(c->bev), b->data, b->len);
	buf_reset(b);
}

/* The end of a command: state for the next one. */
static void
imap_cmd_end(struct imap_conn *c)
{
	c->wait = IMAP_WAIT_NONE;
	c->no_expunge = false;
	c->sync_skip = NULL;
	c->n_sync_skip = 0;
	c->uid_cmd = false;
	pool_clear(c->cmd_pool);
}

void
imap_reply(struct imap_conn *c, const char *fmt, ...)
{
	struct evbuffer *out;
	va_list ap;

	/* Untagged news first (RFC 9051 7: before the tagged reply). */
	if (c->view != NULL && !c->closing &&
	    imap_sync(c, !c->no_expunge, c->sync_skip, c->n_sync_skip) < 0) {
		imap_cmd_end(c);
		return;
	}
	if (c->closing) {
		imap_cmd_end(c);
		return;
	}
	out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out, "%s ", c->tag);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	/* IMAP_BAD_MAX counts BADs in a row (as Dovecot does): a command
	 * that was understood, even one that failed with NO, starts the
	 * count again, or a session that lives for days would be closed
	 * for mistakes made hours apart. */
	if (strncmp(fmt, "BAD", 3) != 0)
		c->bad_count = 0;
	imap_cmd_end(c);
}

void
imap_bad(struct imap_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	evbuffer_add_printf(out, "%s BAD ", c->tag[0] != '\0' ? c->tag : "*");
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	imap_cmd_end(c);
	if (++c->bad_count >= IMAP_BAD_MAX) {
		imap_send(c, "* BYE Too many invalid commands");
		imap_conn_close(c, "too many errors");
	}
}

void
imap_conn_close(struct imap_conn *c, const char *reason)
{
	if (c->closing)
		return;
	log_info("conn=%s imap close peer=%s user=%s reason=\"%s\"", c->id,
	    c->peer, c->user != NULL ? c->user : "-", reason);
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	/* The last output (BYE, LOGOUT's OK) gets IMAP_CLOSE_DRAIN seconds.
	 * A peer that reads nothing meets the write timeout sooner; one that
	 * reads a trickle must not hold the session longer either: the timer
	 * drops what is left (imap_timer_cb). */
	event_del(c->timer);
	event_add(c->timer, &(struct timeval){ .tv_sec = IMAP_CLOSE_DRAIN });
}

/* --- views --- */

size_t
imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n && v->uids[lo] == uid ? lo + 1 : 0;
}

static int
imap_range_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

bool
imap_view_seqset_valid(const struct imap_view *v, const struct imap_seqset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;

		if ((lo == UINT32_MAX || hi == UINT32_MAX) && v->n == 0)
			return false;
		if ((lo != UINT32_MAX && lo > v->n) ||
		    (hi != UINT32_MAX && hi > v->n))
			return false;
	}
	return true;
}

size_t
imap_view_ranges(const struct imap_view *v, const struct imap_seqset *set,
    bool uid, struct pool *pool, uint32_t **ranges_r)
{
	uint32_t *r = pool_alloc(pool, (set->n + 1) * 2 * sizeof(*r));
	uint32_t max_uid = v->n > 0 ? v->uids[v->n - 1] : 0;
	size_t n = 0, out = 0;

	*ranges_r = r;
	if (v->n == 0)
		return 0;
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;

		if (uid) {
			/* "*" is the highest UID in use (RFC 9051 6.4.8);
			 * so is a range that starts above it */
			if (lo == UINT32_MAX)
				lo = max_uid;
			if (hi == UINT32_MAX || hi > max_uid)
				hi = max_uid;
			if (lo > hi) {
				if (set->ranges[i].lo != UINT32_MAX &&
				    set->ranges[i].lo > max_uid &&
				    set->ranges[i].hi == UINT32_MAX)
					lo = hi = max_uid;	/* n:* */
				else
					continue;
			}
		} else {
			if (lo == UINT32_MAX)
				lo = (uint32_t)v->n;
			if (hi == UINT32_MAX)
				hi = (uint32_t)v->n;
			if (lo > hi) {
				uint32_t t = lo;

				lo = hi;
				hi = t;
			}
			if (lo > v->n || lo == 0)
				continue;
			if (hi > v->n)
				hi = (uint32_t)v->n;
			lo = v->uids[lo - 1];
			hi = v->uids[hi - 1];
		}
		r[2 * n] = lo;
		r[2 * n + 1] = hi;
		n++;
	}
	if (n == 0)
		return 0;
	qsort(r, n, 2 * sizeof(*r), imap_range_cmp);
	for (size_t i = 1; i < n; i++) {
		if (r[2 * i] <= r[2 * out + 1] ||
		    r[2 * i] - 1 == r[2 * out + 1]) {
			if (r[2 * i + 1] > r[2 * out + 1])
				r[2 * out + 1] = r[2 * i + 1];
		} else {
			out++;
			r[2 * out] = r[2 * i];
			r[2 * out + 1] = r[2 * i + 1];
		}
	}
	return out + 1;
}

static bool
imap_ranges_contain(const uint32_t *r, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[2 * mid + 1] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && r[2 * lo] <= uid;
}

/* --- flags --- */

static const struct {
	const char *name;
	unsigned flag;
} imap_system_flags[] = {
	{ "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED },
	{ "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Seen", STORE_FLAG_SEEN },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

void
imap_flags_write(struct buf *out, unsigned flags, const char *keywords)
{
	bool first = true;

	buf_puts(out, "(");
	for (size_t i = 0; i < sizeof(imap_system_flags) /
	    sizeof(imap_system_flags[0]); i++) {
		if ((flags & imap_system_flags[i].flag) == 0)
			continue;
		if (!first)
			buf_puts(out, " ");
		buf_puts(out, imap_system_flags[i].name);
		first = false;
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (!first)
			buf_puts(out, " ");
		buf_puts(out, keywords);
	}
	buf_puts(out, ")");
}

/* RFC 9051 9: flag-keyword = atom, without "\\" and resp-specials "]". */
static bool
imap_keyword_valid(const char *s, size_t len)
{
	if (len == 0 || len > STORE_KEYWORD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\]", ch) !=
		    NULL)
			return false;
	}
	return true;
}

int
imap_flags_parse(const struct imap_arg *args, size_t n, struct pool *pool,
    unsigned *flags_r, const char **keywords_r, const char **error_r)
{
	struct buf kw;
	unsigned flags = 0;
	size_t n_kw = 0;

	buf_init(&kw, STORE_KEYWORDS_MAX * (STORE_KEYWORD_MAX + 1));
	for (size_t i = 0; i < n; i++) {
		const char *s;
		size_t len;
		bool known = false;

		if (args[i].type != IMAP_ARG_ATOM) {
			*error_r = "Flags are atoms";
			buf_release(&kw);
			return -1;
		}
		s = args[i].str;
		len = args[i].len;
		if (s[0] == '\\') {
			for (size_t f = 0; f < sizeof(imap_system_flags) /
			    sizeof(imap_system_flags[0]); f++) {
				if (strcasecmp(s, imap_system_flags[f].name) ==
				    0) {
					flags |= imap_system_flags[f].flag;
					known = true;
				}
			}
			/* \Recent cannot be stored (RFC 3501 2.3.2) */
			if (!known && strcasecmp(s, "\\Recent") != 0) {
				*error_r = "Unknown system flag";
				buf_release(&kw);
				return -1;
			}
			continue;
		}
		if (!imap_keyword_valid(s, len)) {
			*error_r = "Invalid keyword";
			buf_release(&kw);
			return -1;
		}
		if (++n_kw > STORE_KEYWORDS_MAX ||
		    (kw.len > 0 && buf_puts(&kw, " ") < 0) ||
		    buf_append(&kw, s, len) < 0) {
			*error_r = "Too many keywords";
			buf_release(&kw);
			return -1;
		}
	}
	*flags_r = flags;
	*keywords_r = pool_strdup(pool, kw.data != NULL ? kw.data : "");
	buf_release(&kw);
	return 0;
}

/* --- mailbox names --- */

int
imap_mailbox_arg(struct imap_conn *c, const struct imap_arg *arg,
    struct buf *out)
{
	const char *s;
	size_t len;

	buf_reset(out);
	/* out->data is a string even for "" (callers use it as one) */
	(void)buf_append(out, "", 0);
	if (!imap_arg_astring(arg, &s, &len)) {
		imap_bad(c, "Mailbox name expected");
		return -1;
	}
	if (memchr(s, '\0', len) != NULL) {
		imap_reply(c, "NO Invalid mailbox name");
		return -1;
	}
	/* RFC 6855 3: after ENABLE UTF8=ACCEPT names are UTF-8; before,
	 * modified UTF-7 (RFC 3501 5.1.3). */
	if (c->utf8) {
		if (buf_append(out, s, len) < 0) {
			imap_reply(c, "NO [LIMIT] Mailbox name too long");
			return -1;
		}
		return 0;
	}
	if (imap_utf7_to_utf8(s, len, out) < 0) {
		imap_reply(c, "NO Invalid modified UTF-7 in mailbox name");
		return -1;
	}
	return 0;
}

void
imap_mailbox_write(struct imap_conn *c, struct buf *out, const char *name)
{
	struct buf enc;

	if (c->utf8) {
		imap_write_astring(out, name, strlen(name));
		return;
	}
	buf_init(&enc, 4 * STORE_MAILBOX_NAME_MAX + 16);
	if (imap_utf8_to_utf7(name, strlen(name), &enc) < 0)
		imap_write_astring(out, name, strlen(name));
	else
		imap_write_astring(out, enc.data, enc.len);
	buf_release(&enc);
}

void
imap_numset_write(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			buf_puts(out, ",");
		if (j > i)
			buf_printf(out, "%u:%u", v[i], v[j]);
		else
			buf_printf(out, "%u", v[i]);
		i = j;
	}
}

int
imap_message_read(struct imap_conn *c, const struct store_message_meta *m,
    char **data_r)
{
	const char *error;
	int fd, rc;

	*data_r = NULL;
	if (store_message_meta_open(c->server->store, m, &fd, &error) < 0) {
		log_error("conn=%s imap read uid=%u error=\"%s\"", c->id,
		    m->uid, error);
		return -1;
	}
	rc = store_read_range(fd, 0, m->size, data_r);
	(void)close(fd);
	if (rc < 0)
		log_error("conn=%s imap read uid=%u short read", c->id,
		    m->uid);
	return rc;
}

/* --- changes --- */

struct imap_sync_ctx {
	struct imap_conn *c;
	struct buf out;
	const uint32_t *skip;
	size_t n_skip;
	uint32_t *new_uids;
	size_t n_new, cap_new;
};

static void
imap_sync_message(void *ctx, const struct store_message_flags *m)
{
	struct imap_sync_ctx *sc = ctx;
	struct imap_conn *c = sc->c;
	struct imap_view *v = c->view;
	size_t seq;

	if (m->uid >= v->uidnext) {
		if (sc->n_new == sc->cap_new) {
			sc->cap_new = sc->cap_new == 0 ? 16 : sc->cap_new * 2;
			sc->new_uids = xrealloc(sc->new_uids,
			    sc->cap_new * sizeof(*sc->new_uids));
		}
		sc->new_uids[sc->n_new++] = m->uid;
		return;
	}
	if ((seq = imap_view_seq(v, m->uid)) == 0)
		return;
	if (sc->skip != NULL && imap_ranges_contain(sc->skip, sc->n_skip,
	    m->uid))
		return;
	buf_printf(&sc->out, "* %zu FETCH (UID %u FLAGS ", seq, m->uid);
	imap_flags_write(&sc->out, m->flags, m->keywords);
	if (c->condstore)
		buf_printf(&sc->out, " MODSEQ (%llu)",
		    (unsigned long long)m->modseq);
	buf_puts(&sc->out, ")\r\n");
}

static void
imap_sync_expunged(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct imap_sync_ctx *sc = ctx;
	struct imap_view *v = sc->c->view;

	/* Duplicates (a UID already pending from an earlier sync that could
	 * not announce it) are removed once the store is done, by
	 * imap_sync_expunged_normalize: looking for them here would cost
	 * O(k) per tombstone, O(k^2) on the loop after a mass expunge. */
	if (imap_view_seq(v, uid) == 0)
		return;
	if (v->n_expunged == v->cap_expunged) {
		v->cap_expunged = v->cap_expunged == 0 ? 16 :
		    v->cap_expunged * 2;
		v->expunged = xrealloc(v->expunged,
		    v->cap_expunged * sizeof(*v->expunged));
	}
	v->expunged[v->n_expunged++] = uid;
}

static int
imap_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts the pending expunges and drops duplicates: O(k log k). */
static void
imap_sync_expunged_normalize(struct imap_view *v)
{
	size_t w = 0;

	if (v->n_expunged == 0)
		return;
	qsort(v->expunged, v->n_expunged, sizeof(*v->expunged),
	    imap_u32_cmp);
	for (size_t i = 0; i < v->n_expunged; i++) {
		if (w > 0 && v->expunged[w - 1] == v->expunged[i])
			continue;
		v->expunged[w++] = v->expunged[i];
	}
	v->n_expunged = w;
}

/* Announces and applies the pending expunges (sorted and unique: see
 * imap_sync_expunged_normalize). */
static void
imap_sync_flush_expunges(struct imap_conn *c, struct buf *out)
{
	struct imap_view *v = c->view;
	size_t w = 0;

	if (v->n_expunged == 0)
		return;
	if (c->qresync) {
		/* RFC 7162 3.2.10: VANISHED instead of EXPUNGE */
		buf_puts(out, "* VANISHED ");
		imap_numset_write(out, v->expunged, v->n_expunged);
		buf_puts(out, "\r\n");
	} else {
		/* highest sequence numbers first, so that each number is
		 * still right when the client applies it */
		for (size_t i = v->n_expunged; i-- > 0;) {
			size_t seq = imap_view_seq(v, v->expunged[i]);

			if (seq != 0)
				buf_printf(out, "* %zu EXPUNGE\r\n", seq);
		}
	}
	for (size_t i = 0, e = 0; i < v->n; i++) {
		while (e < v->n_expunged && v->expunged[e] < v->uids[i])
			e++;
		if (e < v->n_expunged && v->expunged[e] == v->uids[i])
			continue;
		v->uids[w++] = v->uids[i];
	}
	v->n = w;
	v->n_expunged = 0;
}

int
imap_sync(struct imap_conn *c, bool allow_expunge, const uint32_t *skip,
    size_t n_skip)
{
	struct imap_view *v = c->view;
	struct store_mailbox_state mb;
	struct imap_sync_ctx sc = { .c = c, .skip = skip, .n_skip = n_skip };
	const char *error;
	size_t before = v->n;
	int rc;

	c->sync_due = false;
	buf_init(&sc.out, SIZE_MAX);
	rc = store_mailbox_changes(c->server->store, v->id, v->highestmodseq,
	    &mb, imap_sync_message, imap_sync_expunged, &sc, &error);
	imap_sync_expunged_normalize(v);
	if (rc != 0) {
		if (rc == STORE_E_NOTFOUND) {
			imap_send(c, "* BYE Mailbox was deleted");
			imap_conn_close(c, "mailbox deleted");
		} else {
			log_error("conn=%s imap sync error=\"%s\"", c->id,
			    error);
			imap_send(c, "* BYE Internal error");
			imap_conn_close(c, "store error");
		}
		buf_release(&sc.out);
		free(sc.new_uids);
		return -1;
	}
	if (allow_expunge)
		imap_sync_flush_expunges(c, &sc.out);
	if (sc.n_new > 0) {
		if (v->n + sc.n_new > v->cap) {
			v->cap = v->n + sc.n_new + v->n / 2 + 16;
			v->uids = xrealloc(v->uids, v->cap * sizeof(*v->uids));
		}
		/* new UIDs are above every known one, in order */
		memcpy(v->uids + v->n, sc.new_uids,
		    sc.n_new * sizeof(*v->uids));
		v->n += sc.n_new;
	}
	if (v->n != before || sc.n_new > 0)
		buf_printf(&sc.out, "* %zu EXISTS\r\n", v->n);
	if (mb.uidnext > v->uidnext)
		v->uidnext = mb.uidnext;
	if (mb.highestmodseq > v->highestmodseq)
		v->highestmodseq = mb.highestmodseq;
	imap_send_buf(c, &sc.out);
	buf_release(&sc.out);
	free(sc.new_uids);
	return 0;
}

void
imap_server_notify(struct imap_server *s, int64_t user_id)
{
	struct imap_conn *c;

	for (c = s->users[(uint64_t)user_id % IMAP_USERS_HASH]; c != NULL;
	    c = c->user_next) {
		if (c->user_id == user_id && c->view != NULL &&
		    c->wait == IMAP_WAIT_IDLE && !c->closing)
			event_active(c->sync_ev, 0, 0);
	}
}

/* A change to tell a session in IDLE about. Not while its output is
 * above IMAP_OUTPUT_HIGH: a client that does not read would make us
 * buffer every change without bound. The sync is only marked due then,
 * and the write callback catches up (one sync covers every change since)
 * once the output has drained. */
static void
imap_idle_sync(struct imap_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->wait != IMAP_WAIT_IDLE || c->view == NULL || c->closing) {
		c->sync_due = false;	/* the next command's reply syncs */
		return;
	}
	if (evbuffer_get_length(out) > IMAP_OUTPUT_HIGH) {
		c->sync_due = true;
		return;
	}
	(void)imap_sync(c, true, NULL, 0);
}

static void
imap_sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imap_conn *c = arg;

	imap_idle_sync(c);
	imap_conn_finish(c);
}

void
imap_yield(struct imap_conn *c, void (*resume)(struct imap_conn *c))
{
	c->wait = IMAP_WAIT_YIELD;
	c->resume = resume;
	event_active(c->resume_ev, 0, 0);
}

static void
imap_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imap_conn *c = arg;

	if (c->wait == IMAP_WAIT_YIELD && !c->closing) {
		c->resume(c);
		imap_conn_process(c);
	}
	imap_conn_finish(c);
}

/* --- store jobs --- */

void
imap_write_submit(struct imap_conn *c, struct deliverq_job *job)
{
	job->ctx = c;
	c->jobs++;
	c->wait = IMAP_WAIT_JOB;
	/* Nothing is read until the job is done: with pipelined input over
	 * the read high-water mark, libevent kept waking the loop for it
	 * (hundreds of empty epoll_waits per APPEND). */
	bufferevent_disable(c->bev, EV_READ);
	deliverq_submit(c->server->deliverq, job);
}

struct imap_conn *
imap_write_conn(struct deliverq_job *job)
{
	struct imap_conn *c = job->ctx;

	c->jobs--;
	if (c->closing) {
		c->wait = IMAP_WAIT_NONE;
		imap_conn_finish(c);
		return NULL;
	}
	return c;
}

void
imap_resume(struct imap_conn *c)
{
	if (!c->closing)
		bufferevent_enable(c->bev, EV_READ);
	imap_conn_process(c);
	imap_conn_finish(c);
}

/* --- capabilities --- */

static void
imap_capabilities(struct imap_conn *c, struct buf *out)
{
	const struct config *cfg = c->server->config;

	buf_puts(out, "IMAP4rev1 IMAP4rev2");
	if (c->state == IMAP_ST_NOTAUTH) {
		/* An implicit-TLS greeting is written before the handshake
		 * has finished, but it can only be read through TLS. */
		bool tls = c->tls || c->tls_bev;
		bool plain_ok = tls ||
		    (cfg->imap_allow_plaintext == CONFIG_PLAINTEXT_LOOPBACK &&
		    authlimit_is_loopback((struct sockaddr *)&c->peer_sa));

		if (!tls && c->server->tls != NULL)
			buf_puts(out, " STARTTLS");
		if (plain_ok)
			buf_puts(out, " AUTH=PLAIN SASL-IR");
		else
			buf_puts(out, " LOGINDISABLED");
	}
	buf_printf(out, " LITERAL+ ENABLE IDLE NAMESPACE ID UIDPLUS MOVE"
	    " UNSELECT CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH"
	    " CONDSTORE QRESYNC BINARY UTF8=ACCEPT STATUS=SIZE"
	    " APPENDLIMIT=%llu", (unsigned long long)cfg->max_message_size);
}

static void
imap_cmd_capability(struct imap_conn *c, const struct imap_command *cmd)
{
	struct buf out;

	if (cmd->n_args != 0) {
		imap_bad(c, "CAPABILITY takes no arguments");
		return;
	}
	buf_init(&out, SIZE_MAX);
	buf_puts(&out, "* CAPABILITY ");
	imap_capabilities(c, &out);
	buf_puts(&out, "\r\n");
	imap_send_buf(c, &out);
	buf_release(&out);
	imap_reply(c, "OK CAPABILITY completed");
}

static void
imap_cmd_noop(struct imap_conn *c, const struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_bad(c, "%s takes no arguments", cmd->name);
		return;
	}
	imap_reply(c, "OK %s completed", cmd->name);
}

static void
imap_cmd_logout(struct imap_conn *c, const struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_bad(c, "LOGOUT takes no arguments");
		return;
	}
	imap_send(c, "* BYE Logging out");
	/* no sync: the session ends (RFC 9051 6.1.3) */
	imap_view_free(&c->view);
	imap_reply(c, "OK LOGOUT completed");
	c->state = IMAP_ST_LOGOUT;
	imap_conn_close(c, "logout");
}

/* RFC 2971: log what the client says it is, answer what we are. */
static void
imap_cmd_id(struct imap_conn *c, const struct imap_command *cmd)
{
	const struct imap_arg *list;
	size_t n;
	char name[IMAP_ID_VALUE_MAX], ver[IMAP_ID_VALUE_MAX];

	if (cmd->n_args != 1 || (cmd->args[0].type != IMAP_ARG_NIL &&
	    !imap_arg_list(&cmd->args[0], &list, &n))) {
		imap_bad(c, "ID takes a list or NIL");
		return;
	}
	name[0] = ver[0] = '\0';
	if (cmd->args[0].type != IMAP_ARG_NIL) {
		if (n % 2 != 0 || n > 2 * IMAP_ID_FIELDS_MAX) {
			imap_bad(c, "Invalid ID list");
			return;
		}
		for (size_t i = 0; i + 1 < n; i += 2) {
			const char *k, *v;
			size_t kl, vl;

			if (!imap_arg_string(&list[i], &k, &kl) ||
			    !imap_arg_nstring(&list[i + 1], &v, &vl)) {
				imap_bad(c, "Invalid ID list");
				return;
			}
			if (v == NULL)
				continue;
			if (strcasecmp(k, "name") == 0)
				log_escape(name, sizeof(name), v, vl);
			else if (strcasecmp(k, "version") == 0)
				log_escape(ver, sizeof(ver), v, vl);
		}
		log_info("conn=%s imap id name=\"%s\" version=\"%s\"", c->id,
		    name, ver);
	}
	imap_send(c, "* ID (\"name\" \"Correio\")");
	imap_reply(c, "OK ID completed");
}

static void
imap_cmd_enable(struct imap_conn *c, const struct imap_command *cmd)
{
	struct buf out;

	if (cmd->n_args == 0) {
		imap_bad(c, "ENABLE needs capabilities");
		return;
	}
	buf_init(&out, SIZE_MAX);
	buf_puts(&out, "* ENABLED");
	for (size_t i = 0; i < cmd->n_args; i++) {
		const char *s;

		if (!imap_arg_atom(&cmd->args[i], &s)) {
			buf_release(&out);
			imap_bad(c, "ENABLE takes atoms");
			return;
		}
		/* RFC 5161 3.1: list only what this command enabled */
		if (strcasecmp(s, "IMAP4rev2") == 0 && !c->rev2) {
			c->rev2 = c->utf8 = true;
			imap_parser_set_utf8(c->parser, true);
			buf_puts(&out, " IMAP4rev2");
		} else if (strcasecmp(s, "UTF8=ACCEPT") == 0 && !c->utf8) {
			c->utf8 = true;
			imap_parser_set_utf8(c->parser, true);
			buf_puts(&out, " UTF8=ACCEPT");
		} else if (strcasecmp(s, "CONDSTORE") == 0 && !c->condstore) {
			c->condstore = true;
			buf_puts(&out, " CONDSTORE");
		} else if (strcasecmp(s, "QRESYNC") == 0 && !c->qresync) {
			c->qresync = c->condstore = true;
			buf_puts(&out, " QRESYNC");
		}
	}
	buf_puts(&out, "\r\n");
	imap_send_buf(c, &out);
	buf_release(&out);
	imap_reply(c, "OK ENABLE completed");
}

static void
imap_cmd_starttls(struct imap_conn *c, const struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_bad(c, "STARTTLS takes no arguments");
		return;
	}
	if (c->tls || c->server->tls == NULL) {
		imap_bad(c, c->tls ? "TLS is already active" :
		    "STARTTLS is not available");
		return;
	}
	imap_reply(c, "OK Begin TLS negotiation now");
	/* RFC 9051 6.2.1: the handshake starts right after the OK; data
	 * the client pipelined after STARTTLS is dropped (injection). */
	c->wait = IMAP_WAIT_STARTTLS;
}

static void
imap_cmd_unselect(struct imap_conn *c, const struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_bad(c, "%s takes no arguments", cmd->name);
		return;
	}
	/* no untagged news for a mailbox being left */
	imap_view_free(&c->view);
	c->state = IMAP_ST_AUTH;
	imap_reply(c, "OK %s completed", cmd->name);
}

/* --- login --- */

static bool
imap_plaintext_ok(struct imap_conn *c)
{
	return c->tls || (c->server->config->imap_allow_plaintext ==
	    CONFIG_PLAINTEXT_LOOPBACK &&
	    authlimit_is_loopback((struct sockaddr *)&c->peer_sa));
}

static void
imap_auth_run(struct store *store, struct storeq_job *job)
{
	struct imap_auth_job *a = (struct imap_auth_job *)job;
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

static unsigned
imap_user_sessions(struct imap_server *s, int64_t user_id)
{
	unsigned n = 0;

	for (struct imap_conn *c = s->users[(uint64_t)user_id %
	    IMAP_USERS_HASH]; c != NULL; c = c->user_next) {
		if (c->user_id == user_id && !c->closing)
			n++;
	}
	return n;
}

static void
imap_auth_free(struct imap_auth_job *a)
{
	OPENSSL_cleanse(a->password, strlen(a->password));
	free(a->password);
	free(a->user);
	free(a);
}

static void
imap_auth_done(struct storeq_job *job)
{
	struct imap_auth_job *a = (struct imap_auth_job *)job;
	struct imap_conn *c = a->conn;
	struct imap_server *s;
	char ebuf[LOG_ESCAPE_MAX];
	struct buf out;
	unsigned delay;

	if (c == NULL) {
		imap_auth_free(a);
		return;
	}
	c->auth = NULL;
	c->jobs--;
	s = c->server;
	if (c->closing) {
		imap_auth_free(a);
		c->wait = IMAP_WAIT_NONE;
		imap_conn_finish(c);
		return;
	}
	log_escape(ebuf, sizeof(ebuf), a->user, strlen(a->user));
	if (a->result < 0) {
		log_error("conn=%s imap login user=%s error=\"%s\"", c->id,
		    ebuf, a->error);
		imap_reply(c, "NO [UNAVAILABLE] Temporary failure, try later");
	} else if (a->result == 0) {
		delay = authlimit_fail(s->authlimit,
		    (struct sockaddr *)&c->peer_sa, a->user, time(NULL));
		authlimit_log_failure(c->id, "imap", "imap", c->peer, a->user,
		    a->mech, delay);
		/* the reply waits: guessing costs time */
		free(c->delayed_reply);
		c->delayed_reply = xasprintf("%s NO [AUTHENTICATIONFAILED] "
		    "Authentication failed", c->tag);
		c->wait = IMAP_WAIT_DELAY;
		event_del(c->timer);
		event_add(c->timer, &(struct timeval){ .tv_sec = delay });
	} else if (imap_user_sessions(s, a->user_id) >=
	    s->config->imap_max_sessions_per_user) {
		log_info("conn=%s imap login user=%s result=refused "
		    "reason=\"too many sessions\"", c->id, ebuf);
		imap_reply(c, "NO [LIMIT] Too many sessions for this user");
	} else {
		authlimit_success(s->authlimit,
		    (struct sockaddr *)&c->peer_sa, a->user, time(NULL));
		c->user_id = a->user_id;
		c->user = xstrdup(a->user);
		c->state = IMAP_ST_AUTH;
		c->user_next = s->users[(uint64_t)c->user_id %
		    IMAP_USERS_HASH];
		s->users[(uint64_t)c->user_id % IMAP_USERS_HASH] = c;
		imap_parser_set_limits(c->parser, IMAP_LINE_MAX,
		    s->config->max_message_size);
		log_info("conn=%s imap login peer=%s user=%s mech=%s "
		    "result=ok", c->id, c->peer, ebuf, a->mech);
		buf_init(&out, SIZE_MAX);
		imap_capabilities(c, &out);
		imap_reply(c, "OK [CAPABILITY %s] Logged in", out.data);
		buf_release(&out);
		imap_timer_arm(c);
		imap_conn_set_timeouts(c);
	}
	imap_auth_free(a);
	imap_conn_process(c);
	imap_conn_finish(c);
}

/* Starts a password check; the command waits for it. */
static void
imap_auth_start(struct imap_conn *c, const char *user, size_t user_len,
    const char *password, size_t password_len, const char *mech)
{
	struct imap_auth_job *a;
	enum authlimit_scope scope;
	unsigned blocked;
	char *name;

	/* The address, or the account (but from its owner's networks). */
	name = xstrndup(user, user_len);
	blocked = authlimit_check(c->server->authlimit,
	    (struct sockaddr *)&c->peer_sa, name, time(NULL), &scope);
	if (blocked > 0) {
		authlimit_log_refusal(c->id, "imap", "imap", c->peer, name,
		    scope, blocked);
		free(name);
		imap_reply(c, "NO [UNAVAILABLE] Too many failed logins, try "
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
	a->job.run = imap_auth_run;
	a->job.done = imap_auth_done;
	c->auth = a;
	c->jobs++;
	c->wait = IMAP_WAIT_JOB;
	storeq_submit(c->server->storeq, &a->job);
}

static void
imap_cmd_login(struct imap_conn *c, const struct imap_command *cmd)
{
	const char *user, *pass;
	size_t ul, pl;

	if (cmd->n_args != 2 || !imap_arg_astring(&cmd->args[0], &user, &ul) ||
	    !imap_arg_astring(&cmd->args[1], &pass, &pl)) {
		imap_bad(c, "LOGIN needs a user name and a password");
		return;
	}
	if (!imap_plaintext_ok(c)) {
		imap_reply(c, "NO [PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	imap_auth_start(c, user, ul, pass, pl, "login");
}

/* RFC 4616: [authzid] NUL authcid NUL passwd, base64 (RFC 4648). */
static void
imap_auth_plain(struct imap_conn *c, const char *b64, size_t len)
{
	unsigned char *raw;
	const char *authz, *authc, *pass, *end;
	int n;

	if (len == 1 && b64[0] == '*') {
		imap_bad(c, "AUTHENTICATE cancelled");
		return;
	}
	if (len % 4 != 0 || len > IMAP_AUTH_LINE_MAX) {
		imap_bad(c, "Invalid base64");
		return;
	}
	raw = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		free(raw);
		imap_bad(c, "Invalid base64");
		return;
	}
	/* EVP_DecodeBlock counts the padding as data */
	if (len >= 1 && b64[len - 1] == '=')
		n--;
	if (len >= 2 && b64[len - 2] == '=')
		n--;
	raw[n] = '\0';
	authz = (const char *)raw;
	end = authz + n;
	authc = memchr(authz, '\0', (size_t)n);
	pass = authc != NULL ? memchr(authc + 1, '\0',
	    (size_t)(end - authc - 1)) : NULL;
	if (authc == NULL || pass == NULL) {
		OPENSSL_cleanse(raw, (size_t)n);
		free(raw);
		imap_reply(c, "NO [AUTHENTICATIONFAILED] Invalid PLAIN "
		    "response");
		return;
	}
	authc++;
	pass++;
	/* an authorization identity other than oneself is not allowed */
	if (authz[0] != '\0' && strcmp(authz, authc) != 0) {
		OPENSSL_cleanse(raw, (size_t)n);
		free(raw);
		imap_reply(c, "NO [AUTHORIZATIONFAILED] Cannot act as "
		    "another user");
		return;
	}
	imap_auth_start(c, authc, strlen(authc), pass, (size_t)(end - pass),
	    "plain");
	OPENSSL_cleanse(raw, (size_t)n);
	free(raw);
}

static void
imap_cmd_authenticate(struct imap_conn *c, const struct imap_command *cmd)
{
	const char *mech, *ir;
	size_t irl;

	if (cmd->n_args < 1 || cmd->n_args > 2 ||
	    !imap_arg_atom(&cmd->args[0], &mech)) {
		imap_bad(c, "AUTHENTICATE needs a mechanism");
		return;
	}
	if (strcasecmp(mech, "PLAIN") != 0) {
		imap_reply(c, "NO Unsupported authentication mechanism");
		return;
	}
	if (!imap_plaintext_ok(c)) {
		imap_reply(c, "NO [PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (cmd->n_args == 2) {
		/* RFC 4959: initial response; "=" is an empty one */
		if (!imap_arg_atom(&cmd->args[1], &ir) &&
		    !imap_arg_string(&cmd->args[1], &ir, &irl)) {
			imap_bad(c, "Invalid initial response");
			return;
		}
		irl = strlen(ir);
		if (irl == 1 && ir[0] == '=')
			irl = 0;
		imap_auth_plain(c, ir, irl);
		return;
	}
	imap_send(c, "+ ");
	c->wait = IMAP_WAIT_AUTH_LINE;
	buf_reset(&c->line);
}

/* --- IDLE --- */

static void
imap_cmd_idle(struct imap_conn *c, const struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_bad(c, "IDLE takes no arguments");
		return;
	}
	/* what happened before IDLE is said right away */
	if (c->view != NULL && imap_sync(c, true, NULL, 0) < 0)
		return;
	imap_send(c, "+ idling");
	c->wait = IMAP_WAIT_IDLE;
	buf_reset(&c->line);
}

/* Reads one CRLF line for AUTHENTICATE or IDLE into c->line. Returns 1
 * with a line, 0 for more input, -1 when a line longer than max has been
 * read and thrown away: that is the client's mistake, answered BAD, and
 * the session goes on (RFC 9051 closes it only for a BYE-worthy cause). */
static int
imap_read_line(struct imap_conn *c, size_t max)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr p;
	size_t eol_len, len;

	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (p.pos < 0) {
		len = evbuffer_get_length(in);
		if ((c->line_skip || len > max) && len > 1) {
			/* the last byte may be the CR of the CRLF */
			evbuffer_drain(in, len - 1);
			c->line_skip = true;
		}
		return 0;
	}
	len = (size_t)p.pos;
	if (c->line_skip || len > max) {
		evbuffer_drain(in, len + eol_len);
		c->line_skip = false;
		return -1;
	}
	buf_reset(&c->line);
	if (buf_append(&c->line, evbuffer_pullup(in, (ev_ssize_t)len),
	    len) < 0)
		abort();	/* line.max >= every max passed here */
	evbuffer_drain(in, len + eol_len);
	return 1;
}

/* --- dispatch --- */

static void imap_cmd_uid(struct imap_conn *c,
    const struct imap_command *cmd);

static const struct imap_cmd imap_cmds[] = {
	{ "CAPABILITY", imap_cmd_capability, ST_ANY, 0 },
	{ "NOOP", imap_cmd_noop, ST_ANY, 0 },
	{ "LOGOUT", imap_cmd_logout, ST_ANY, 0 },
	{ "ID", imap_cmd_id, ST_ANY, 0 },
	{ "STARTTLS", imap_cmd_starttls, ST_NOTAUTH, 0 },
	{ "LOGIN", imap_cmd_login, ST_NOTAUTH, 0 },
	{ "AUTHENTICATE", imap_cmd_authenticate, ST_NOTAUTH, 0 },
	{ "ENABLE", imap_cmd_enable, ST_LOGGED, 0 },
	{ "SELECT", imap_cmd_select, ST_LOGGED, 0 },
	{ "EXAMINE", imap_cmd_select, ST_LOGGED, 0 },
	{ "CREATE", imap_cmd_create, ST_LOGGED, 0 },
	{ "DELETE", imap_cmd_delete, ST_LOGGED, 0 },
	{ "RENAME", imap_cmd_rename, ST_LOGGED, 0 },
	{ "SUBSCRIBE", imap_cmd_subscribe, ST_LOGGED, 0 },
	{ "UNSUBSCRIBE", imap_cmd_subscribe, ST_LOGGED, 0 },
	{ "LIST", imap_cmd_list, ST_LOGGED, 0 },
	{ "LSUB", imap_cmd_list, ST_LOGGED, 0 },
	{ "NAMESPACE", imap_cmd_namespace, ST_LOGGED, 0 },
	{ "STATUS", imap_cmd_status, ST_LOGGED, 0 },
	{ "APPEND", imap_cmd_append, ST_LOGGED, 0 },
	{ "IDLE", imap_cmd_idle, ST_LOGGED, 0 },
	{ "CHECK", imap_cmd_noop, ST_SELECTED, 0 },
	{ "CLOSE", imap_cmd_close, ST_SELECTED, 0 },
	{ "UNSELECT", imap_cmd_unselect, ST_SELECTED, 0 },
	{ "EXPUNGE", imap_cmd_expunge, ST_SELECTED, CMD_UID },
	{ "SEARCH", imap_cmd_search, ST_SELECTED, CMD_UID | CMD_NO_EXPUNGE },
	{ "FETCH", imap_cmd_fetch, ST_SELECTED, CMD_UID | CMD_NO_EXPUNGE },
	{ "STORE", imap_cmd_store, ST_SELECTED, CMD_UID | CMD_NO_EXPUNGE },
	{ "COPY", imap_cmd_copy, ST_SELECTED, CMD_UID },
	{ "MOVE", imap_cmd_copy, ST_SELECTED, CMD_UID },
	{ "UID", imap_cmd_uid, ST_SELECTED, 0 },
};

static const struct imap_cmd *
imap_cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(imap_cmds) / sizeof(imap_cmds[0]);
	    i++) {
		if (strcmp(imap_cmds[i].name, name) == 0)
			return &imap_cmds[i];
	}
	return NULL;
}

static void
imap_cmd_uid(struct imap_conn *c, const struct imap_command *cmd)
{
	const struct imap_cmd *sub;
	struct imap_command subcmd;
	const char *name;
	char upper[16];
	size_t i;

	if (cmd->n_args < 1 || !imap_arg_atom(&cmd->args[0], &name) ||
	    strlen(name) >= sizeof(upper)) {
		imap_bad(c, "UID needs a command");
		return;
	}
	for (i = 0; name[i] != '\0'; i++)
		upper[i] = (char)toupper((unsigned char)name[i]);
	upper[i] = '\0';
	sub = imap_cmd_find(upper);
	if (sub == NULL || (sub->flags & CMD_UID) == 0) {
		imap_bad(c, "Unknown UID command");
		return;
	}
	subcmd.tag = cmd->tag;
	subcmd.name = sub->name;
	subcmd.args = cmd->args + 1;
	subcmd.n_args = cmd->n_args - 1;
	c->uid_cmd = true;
	/* UID FETCH/STORE/SEARCH may send EXPUNGE (RFC 9051 7.5.1) */
	c->no_expunge = false;
	sub->fn(c, &subcmd);
}

static void
imap_dispatch(struct imap_conn *c, const struct imap_command *cmd)
{
	const struct imap_cmd *ic = imap_cmd_find(cmd->name);

	(void)snprintf(c->tag, sizeof(c->tag), "%s", cmd->tag);
	if (ic == NULL) {
		imap_bad(c, "Unknown command");
		return;
	}
	if ((ic->states & (1u << c->state)) == 0) {
		if (c->state == IMAP_ST_NOTAUTH)
			imap_bad(c, "Log in first");
		else if ((ic->states & ST_SELECTED) != 0)
			imap_bad(c, "No mailbox selected");
		else
			imap_bad(c, "Not allowed now");
		return;
	}
	log_debug("conn=%s imap command %s", c->id, ic->name);
	c->no_expunge = (ic->flags & CMD_NO_EXPUNGE) != 0;
	ic->fn(c, cmd);
}

/* --- the session loop --- */

static void
imap_conn_process(struct imap_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (!c->closing) {
		struct evbuffer_iovec vec;
		struct imap_command cmd;
		const char *error;
		size_t consumed;
		int rc;

		if (evbuffer_get_length(out) > IMAP_OUTPUT_HIGH)
			return;		/* resumed by the write callback */
		switch (c->wait) {
		case IMAP_WAIT_NONE:
			break;
		case IMAP_WAIT_AUTH_LINE:
			if ((rc = imap_read_line(c, IMAP_AUTH_LINE_MAX)) == 0)
				return;
			c->wait = IMAP_WAIT_NONE;
			if (rc < 0) {
				imap_bad(c, "Line too long");
				continue;
			}
			imap_auth_plain(c, c->line.data, c->line.len);
			OPENSSL_cleanse(c->line.data, c->line.len);
			continue;
		case IMAP_WAIT_IDLE:
			if ((rc = imap_read_line(c, IMAP_IDLE_LINE_MAX)) == 0)
				return;
			if (rc < 0) {
				imap_bad(c, "Line too long");
				continue;
			}
			if (strcasecmp(c->line.data, "DONE") != 0) {
				imap_bad(c, "Expected DONE");
				continue;
			}
			imap_reply(c, "OK IDLE terminated");
			continue;
		case IMAP_WAIT_OUTPUT:
			imap_fetch_resume(c);
			continue;
		default:
			return;
		}
		if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
			return;
		rc = imap_parser_feed(c->parser, vec.iov_base, vec.iov_len,
		    &consumed, &cmd, &error);
		evbuffer_drain(in, consumed);
		switch (rc) {
		case IMAP_PARSE_MORE:
			if (consumed == 0)
				return;
			continue;
		case IMAP_PARSE_CONTINUE:
			imap_send(c, "+ Ready for literal data");
			continue;
		case IMAP_PARSE_ERROR: {
			const char *tag = imap_parser_error_tag(c->parser);

			(void)snprintf(c->tag, sizeof(c->tag), "%s",
			    tag != NULL ? tag : "*");
			if (imap_parser_must_close(c->parser)) {
				imap_send(c, "* BYE %s", error);
				imap_conn_close(c, error);
				return;
			}
			imap_bad(c, "%s", error);
			continue;
		}
		case IMAP_PARSE_DONE:
			imap_timer_arm(c);
			imap_dispatch(c, &cmd);
			continue;
		}
	}
}

static void
imap_conn_free(struct imap_conn *c)
{
	struct imap_server *s = c->server;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->n_conns--;
	if (c->user != NULL) {
		struct imap_conn **pp = &s->users[(uint64_t)c->user_id %
		    IMAP_USERS_HASH];

		while (*pp != NULL && *pp != c)
			pp = &(*pp)->user_next;
		if (*pp == c)
			*pp = c->user_next;
	}
	imap_cmd_ctx_free(c);
	imap_search_free(c);
	imap_view_free(&c->view);
	imap_parser_free(&c->parser);
	pool_free(&c->cmd_pool);
	if (c->line.data != NULL)
		OPENSSL_cleanse(c->line.data, c->line.len);
	buf_release(&c->line);
	event_free(c->timer);
	event_free(c->sync_ev);
	event_free(c->resume_ev);
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
imap_conn_discard_output(struct imap_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_drain(out, evbuffer_get_length(out));
}

/* At the end of every event: frees a closing session once its output is
 * out and no job refers to it; starts TLS after STARTTLS's OK is out. */
static void
imap_conn_finish(struct imap_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->wait == IMAP_WAIT_STARTTLS && !c->closing &&
	    evbuffer_get_length(out) == 0) {
		imap_conn_start_tls(c);
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
	imap_conn_free(c);
}

static void
imap_conn_start_tls(struct imap_conn *c)
{
	struct imap_server *s = c->server;
	SSL *ssl = SSL_new(s->tls);
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (ssl == NULL) {
		imap_conn_close(c, "SSL_new failed");
		imap_conn_finish(c);
		return;
	}
	/* RFC 9051 6.2.1: what came before the handshake is dropped */
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setfd(c->bev, -1);
	bufferevent_free(c->bev);
	c->bev = bufferevent_openssl_socket_new(s->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(c->fd);
		SSL_free(ssl);
		log_error("conn=%s imap starttls: cannot make TLS bufferevent",
		    c->id);
		abort();
	}
	c->tls_bev = true;
	bufferevent_setcb(c->bev, imap_conn_read_cb, imap_conn_write_cb,
	    imap_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IMAP_INPUT_HIGH);
	imap_conn_set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	imap_parser_reset(c->parser);
	c->wait = IMAP_WAIT_NONE;
}

static void
imap_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct imap_conn *c = arg;

	imap_conn_process(c);
	imap_conn_finish(c);
}

static void
imap_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct imap_conn *c = arg;

	/* the output has drained (the write low-water mark is 0) */
	if (c->sync_due)
		imap_idle_sync(c);
	if (!c->closing)
		imap_conn_process(c);
	imap_conn_finish(c);
}

static void
imap_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct imap_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		char info[160];

		c->tls = true;
		if (tls_describe(ssl, info, sizeof(info)) < 0)
			(void)snprintf(info, sizeof(info), "TLS");
		log_info("conn=%s imap tls peer=%s %s", c->id, c->peer, info);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->peer_eof = true;
		imap_conn_close(c, "disconnected");
		c->io_error = true;
		imap_conn_discard_output(c);
	} else if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char reason[128];

		if (e != 0)
			ERR_error_string_n(e, reason, sizeof(reason));
		else
			(void)snprintf(reason, sizeof(reason), "%s",
			    strerror(EVUTIL_SOCKET_ERROR()));
		imap_conn_close(c, reason);
		c->io_error = true;
		imap_conn_discard_output(c);
	} else if (what & BEV_EVENT_TIMEOUT) {
		/* the peer has read nothing of what we send for that long */
		imap_conn_close(c, "write timeout");
		c->io_error = true;
		imap_conn_discard_output(c);
	}
	imap_conn_finish(c);
}

/* The idle timeout: short before login, 30 minutes after. */
static void
imap_timer_arm(struct imap_conn *c)
{
	const struct config *cfg = c->server->config;
	struct timeval tv = { .tv_sec = c->state == IMAP_ST_NOTAUTH ?
	    cfg->imap_login_timeout : cfg->imap_timeout };

	if (c->wait == IMAP_WAIT_DELAY || c->closing)
		return;		/* the timer counts something else */
	event_del(c->timer);
	event_add(c->timer, &tv);
}

/*
 * The write timeout: a peer that reads none of the output waiting for it
 * for this long is gone (BEV_EVENT_TIMEOUT closes the session and drops
 * the output). Without it such a peer held its session, its buffers and
 * a place in imap.max_sessions for good, even before login, since the
 * idle timeout only queues a BYE behind the output nobody reads. Before
 * login it is the login timeout; after, IMAP_OUTPUT_TIMEOUT.
 */
static void
imap_conn_set_timeouts(struct imap_conn *c)
{
	const struct config *cfg = c->server->config;
	struct timeval tv = { .tv_sec = c->state == IMAP_ST_NOTAUTH ?
	    cfg->imap_login_timeout : IMAP_OUTPUT_TIMEOUT };

	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

static void
imap_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imap_conn *c = arg;

	if (c->closing) {
		/* IMAP_CLOSE_DRAIN is over: what is not out yet is dropped */
		log_info("conn=%s imap drop peer=%s unsent=%zu", c->id,
		    c->peer, evbuffer_get_length(bufferevent_get_output(
		    c->bev)));
		c->io_error = true;
		imap_conn_discard_output(c);
		imap_conn_finish(c);
		return;
	}
	if (c->wait == IMAP_WAIT_DELAY) {
		/* a failed login's answer, held back until now */
		imap_send(c, "%s", c->delayed_reply);
		free(c->delayed_reply);
		c->delayed_reply = NULL;
		imap_cmd_end(c);
		imap_timer_arm(c);
		imap_conn_process(c);
		imap_conn_finish(c);
		return;
	}
	if (c->tls_bev && !c->tls) {
		imap_conn_close(c, "tls handshake timeout");
		c->io_error = true;
		imap_conn_discard_output(c);
	} else {
		imap_send(c, "* BYE Autologout; idle for too long");
		imap_conn_close(c, "timeout");
	}
	imap_conn_finish(c);
}

/* Refuses a connection over a [limits] limit, before anything is read
 * or, for implicit TLS, handshaken (the peer just sees it close).
 * Returns false then. */
static bool
imap_conn_admit(struct imap_conn *c, bool implicit_tls)
{
	enum connlimit_verdict v;

	v = connlimit_acquire(c->server->connlimit,
	    (struct sockaddr *)&c->peer_sa, ratelimit_now_ms(), &c->ticket);
	if (v == CONNLIMIT_OK)
		return true;
	log_info("conn=%s imap connect peer=%s result=refused "
	    "reason=\"too many connections\" limit=%s", c->id, c->peer,
	    connlimit_verdict_name(v));
	if (implicit_tls) {
		c->io_error = true;
	} else {
		/* RFC 9051 7.1.5 and RFC 5530 UNAVAILABLE */
		imap_send(c, "* BYE [UNAVAILABLE] Too many connections from "
		    "your address, try again later");
		bufferevent_enable(c->bev, EV_WRITE);
	}
	imap_conn_close(c, "too many connections");
	imap_conn_finish(c);
	return false;
}

static void
imap_accept(struct imap_server *s, evutil_socket_t fd, struct sockaddr *sa,
    int salen, bool implicit_tls)
{
	struct imap_conn *c = xcalloc(1, sizeof(*c));
	unsigned char rnd[4];

	c->server = s;
	c->fd = fd;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();
	(void)snprintf(c->id, sizeof(c->id), "%02x%02x%02x%02x", rnd[0],
	    rnd[1], rnd[2], rnd[3]);
	if ((size_t)salen <= sizeof(c->peer_sa))
		memcpy(&c->peer_sa, sa, (size_t)salen);
	listen_addr_str(sa, c->peer, sizeof(c->peer));
	c->parser = imap_parser_new(IMAP_LINE_MAX_PREAUTH,
	    IMAP_LITERAL_MAX_PREAUTH);
	imap_parser_set_budget(c->parser, s->buffered, s->config->max_buffered);
	c->cmd_pool = pool_new(4096);
	buf_init(&c->line, IMAP_AUTH_LINE_MAX);
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
		imap_parser_free(&c->parser);
		pool_free(&c->cmd_pool);
		buf_release(&c->line);
		free(c);
		return;
	}
	c->timer = evtimer_new(s->base, imap_timer_cb, c);
	c->sync_ev = event_new(s->base, -1, 0, imap_sync_cb, c);
	c->resume_ev = event_new(s->base, -1, 0, imap_resume_cb, c);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	bufferevent_setcb(c->bev, imap_conn_read_cb, imap_conn_write_cb,
	    imap_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IMAP_INPUT_HIGH);
	imap_conn_set_timeouts(c);
	if (!imap_conn_admit(c, implicit_tls))
		return;
	log_info("conn=%s imap connect peer=%s tls=%s sessions=%u", c->id,
	    c->peer, implicit_tls ? "yes" : "no", s->n_conns);
	if (s->n_conns > s->config->imap_max_sessions) {
		imap_send(c, "* BYE Too many sessions, try again later");
		imap_conn_close(c, "too many sessions");
		bufferevent_enable(c->bev, EV_WRITE);
		imap_conn_finish(c);
		return;
	}
	{
		struct buf out;

		buf_init(&out, SIZE_MAX);
		imap_capabilities(c, &out);
		imap_send(c, "* OK [CAPABILITY %s] Correio ready", out.data);
		buf_release(&out);
	}
	imap_timer_arm(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
imap_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct imap_server *s = arg;
	bool implicit_tls = false;

	for (size_t i = 0; i < s->n_listeners; i++) {
		if (s->listeners[i] == listener)
			implicit_tls = s->listener_tls[i];
	}
	imap_accept(s, fd, sa, salen, implicit_tls);
}

/* --- server --- */

struct imap_server *
imap_server_new(struct event_base *base, const struct config *config,
    struct store *store, struct deliverq *deliverq, struct storeq *storeq,
    struct authlimit *authlimit, SSL_CTX *tls)
{
	struct imap_server *s = xcalloc(1, sizeof(*s));

	s->buffered = &s->own_buffered;
	s->base = base;
	s->config = config;
	s->store = store;
	s->deliverq = deliverq;
	s->storeq = storeq;
	s->authlimit = authlimit;
	s->tls = tls;
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
imap_server_share_buffered(struct imap_server *s, uint64_t *counter)
{
	s->buffered = counter;
}

void
imap_server_set_store(struct imap_server *s, struct store *store,
    struct deliverq *deliverq, struct storeq *storeq)
{
	s->store = store;
	s->deliverq = deliverq;
	s->storeq = storeq;
}

int
imap_server_listen(struct imap_server *s, const struct config_listen *l,
    bool implicit_tls, const char **error_r)
{
	size_t n;

	if (implicit_tls && s->tls == NULL) {
		*error_r = "[imaps] needs [tls] cert and key";
		return -1;
	}
	if (s->n_listeners + l->count > sizeof(s->listeners) /
	    sizeof(s->listeners[0])) {
		*error_r = "too many listeners";
		return -1;
	}
	if (listen_bind(s->base, l, imap_accept_cb, s,
	    s->listeners + s->n_listeners, &n, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		s->listener_tls[s->n_listeners + i] = implicit_tls;
	s->n_listeners += n;
	return 0;
}

void
imap_server_start(struct imap_server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_enable(s->listeners[i]);
}

void
imap_server_shutdown(struct imap_server *s)
{
	struct imap_conn *c, *next;

	s->stopping = true;
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_free(s->listeners[i]);
	s->n_listeners = 0;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		if (c->closing)
			continue;
		/* A write in flight still completes (the worker finishes it)
		 * but its session hears only BYE. */
		imap_send(c, "* BYE Server shutting down");
		imap_conn_close(c, "shutdown");
		bufferevent_enable(c->bev, EV_WRITE);
		imap_conn_finish(c);
	}
}

unsigned
imap_server_sessions(const struct imap_server *s)
{
	return s->n_conns;
}

void
imap_server_free(struct imap_server **sp)
{
	struct imap_server *s = *sp;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_free(s->listeners[i]);
	while (s->conns != NULL) {
		struct imap_conn *c = s->conns;

		if (c->auth != NULL)
			c->auth->conn = NULL;
		imap_conn_free(c);
	}
	connlimit_free(&s->connlimit);
	free(s);
	*sp = NULL;
}
