/*
 * pop3-maildrop.c - the maildrop of a POP3 session, the TRANSACTION state
 * (STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP) and the UPDATE state.
 *
 * RFC 1939 5, 6 and 7; RFC 2449 (UIDL, TOP are required by CAPA).
 *
 * The maildrop is the INBOX as it was at login, read off the loop by a
 * storeq worker: its messages keep their numbers for the whole session,
 * and mail that arrives meanwhile waits for the next session. DELE only
 * marks; the marked messages are expunged at QUIT, all in one store
 * transaction on the writer thread (so IMAP sessions see them go), and
 * the +OK is sent once that is committed. A session that ends any other
 * way deletes nothing (RFC 1939 6).
 *
 * Unique ids (UIDL) are "<UIDVALIDITY>.<UID>" of the INBOX: unique and
 * never reused while the INBOX keeps its UIDVALIDITY, which the store
 * never changes, and the same message for IMAP and POP3.
 *
 * RETR and TOP stream the stored message in POP3_READ_CHUNK pieces
 * through pop3-stuff.h, and stop while the output is above
 * POP3_OUTPUT_HIGH: memory per session is bounded whatever the size of
 * the message. Bodies are read on the loop thread, as IMAP FETCH does.
 *
 * SECURITY: message numbers and line counts are peer data, parsed by
 * pop3_number_parse and checked against the maildrop. Bodies are opened
 * through the store only.
 */
#include "pop3/pop3-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"

/* Reading the maildrop on a storeq worker. */
struct pop3_load_job {
	struct storeq_job job;
	struct pop3_conn *conn;
	int64_t user_id;
	int ret;
	struct pop3_maildrop drop;
	size_t cap;
	char error[256];
};

/* The deletions of UPDATE on the writer thread. */
struct pop3_expunge_job {
	struct deliverq_job job;
	int64_t mailbox_id;
	uint32_t *ranges;
	size_t n_ranges;
	size_t n;		/* messages expunged */
	int ret;
	char error[256];
};

/* --- the maildrop --- */

void
pop3_maildrop_free(struct pop3_maildrop *drop)
{
	free(drop->msgs);
	memset(drop, 0, sizeof(*drop));
}

static int
pop3_load_cb(void *ctx, uint32_t uid, uint64_t size)
{
	struct pop3_load_job *j = ctx;
	struct pop3_maildrop *d = &j->drop;

	if (d->n == j->cap) {
		j->cap = j->cap == 0 ? 64 : j->cap * 2;
		d->msgs = xrealloc(d->msgs, j->cap * sizeof(*d->msgs));
	}
	d->msgs[d->n].uid = uid;
	d->msgs[d->n].deleted = false;
	d->msgs[d->n].size = size;
	d->n++;
	d->bytes += size;
	return 0;
}

static void
pop3_load_run(struct store *store, struct storeq_job *job)
{
	struct pop3_load_job *j = (struct pop3_load_job *)job;
	struct store_mailbox_state mb;
	const char *error = "";

	j->ret = store_mailbox_get(store, j->user_id, STORE_MAILBOX_INBOX, &mb,
	    &error);
	if (j->ret == 0) {
		j->drop.mailbox_id = mb.id;
		j->drop.uidvalidity = mb.uidvalidity;
		j->ret = store_message_sizes(store, mb.id, pop3_load_cb, j,
		    &error);
	}
	if (j->ret != 0)
		(void)snprintf(j->error, sizeof(j->error), "%s", error);
}

static void
pop3_load_done(struct storeq_job *job)
{
	struct pop3_load_job *j = (struct pop3_load_job *)job;
	struct pop3_conn *c = j->conn;

	c->jobs--;
	c->wait = POP3_WAIT_NONE;
	if (c->closing) {
		pop3_maildrop_free(&j->drop);
	} else if (j->ret != 0) {
		log_error("conn=%s pop3 maildrop user=%s error=\"%s\"", c->id,
		    c->user, j->error);
		pop3_maildrop_free(&j->drop);
		pop3_lock_release(c);
		free(c->user);
		c->user = NULL;
		pop3_send(c, "-ERR [SYS/TEMP] Cannot open the maildrop, try "
		    "later");
	} else {
		c->drop = j->drop;
		c->state = POP3_ST_TRANS;
		log_info("conn=%s pop3 maildrop user=%s messages=%zu bytes=%llu",
		    c->id, c->user, c->drop.n,
		    (unsigned long long)c->drop.bytes);
		pop3_send(c, "+OK Logged in, %zu messages (%llu octets)",
		    c->drop.n, (unsigned long long)c->drop.bytes);
		pop3_timer_arm(c);
	}
	free(j);
	pop3_resume(c);
}

void
pop3_maildrop_load(struct pop3_conn *c)
{
	struct pop3_load_job *j = xcalloc(1, sizeof(*j));

	j->conn = c;
	j->user_id = c->user_id;
	j->job.run = pop3_load_run;
	j->job.done = pop3_load_done;
	c->jobs++;
	c->wait = POP3_WAIT_JOB;
	storeq_submit(c->server->storeq, &j->job);
}

/* The message an argument names; NULL (answered) if there is none or it
 * is deleted. *number_r is its number. */
static struct pop3_msg *
pop3_msg_arg(struct pop3_conn *c, const struct pop3_arg *a,
    uint32_t *number_r)
{
	struct pop3_msg *m;
	uint32_t n;

	if (pop3_number_parse(a->s, a->len, &n) < 0) {
		pop3_error(c, "Invalid message number");
		return NULL;
	}
	if (n == 0 || n > c->drop.n) {
		pop3_send(c, "-ERR No such message");
		return NULL;
	}
	m = &c->drop.msgs[n - 1];
	if (m->deleted) {
		pop3_send(c, "-ERR Message %u is deleted", n);
		return NULL;
	}
	*number_r = n;
	return m;
}

/* --- multi-line answers --- */

void
pop3_output_abort(struct pop3_conn *c)
{
	if (c->out.fd >= 0)
		(void)close(c->out.fd);
	c->out.fd = -1;
	c->out.resume = NULL;
	if (c->wait == POP3_WAIT_OUTPUT)
		c->wait = POP3_WAIT_NONE;
}

/* Starts a multi-line answer; process() calls resume until it ends. */
static void
pop3_output_start(struct pop3_conn *c, void (*resume)(struct pop3_conn *c))
{
	c->out.resume = resume;
	c->out.next = 0;
	c->wait = POP3_WAIT_OUTPUT;
}

/* Ends it with the "." line. */
static void
pop3_output_end(struct pop3_conn *c)
{
	evbuffer_add(bufferevent_get_output(c->bev), ".\r\n", 3);
	pop3_output_abort(c);
}

/* LIST and UIDL without an argument, POP3_LIST_CHUNK lines per step. */
static void
pop3_listing_resume(struct pop3_conn *c, bool uidl)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct pop3_maildrop *d = &c->drop;
	size_t lines = 0;

	for (; c->out.next < d->n && lines < POP3_LIST_CHUNK; c->out.next++) {
		const struct pop3_msg *m = &d->msgs[c->out.next];

		if (m->deleted)
			continue;
		if (uidl)
			evbuffer_add_printf(out, "%zu %u.%u\r\n",
			    c->out.next + 1, d->uidvalidity, m->uid);
		else
			evbuffer_add_printf(out, "%zu %llu\r\n",
			    c->out.next + 1, (unsigned long long)m->size);
		lines++;
	}
	if (c->out.next == d->n)
		pop3_output_end(c);
}

static void
pop3_list_resume(struct pop3_conn *c)
{
	pop3_listing_resume(c, false);
}

static void
pop3_uidl_resume(struct pop3_conn *c)
{
	pop3_listing_resume(c, true);
}

static void
pop3_listing(struct pop3_conn *c, const struct pop3_command *cmd, bool uidl)
{
	const struct pop3_msg *m;
	uint32_t n;

	if (cmd->n_args > 1) {
		pop3_error(c, "%s takes at most a message number", cmd->name);
		return;
	}
	if (cmd->n_args == 1) {
		if ((m = pop3_msg_arg(c, &cmd->args[0], &n)) == NULL)
			return;
		if (uidl)
			pop3_send(c, "+OK %u %u.%u", n, c->drop.uidvalidity,
			    m->uid);
		else
			pop3_send(c, "+OK %u %llu", n,
			    (unsigned long long)m->size);
		return;
	}
	if (uidl)
		pop3_send(c, "+OK Unique ids follow");
	else
		pop3_send(c, "+OK %zu messages (%llu octets)",
		    c->drop.n - c->drop.n_deleted,
		    (unsigned long long)c->drop.bytes);
	pop3_output_start(c, uidl ? pop3_uidl_resume : pop3_list_resume);
}

void
pop3_cmd_list(struct pop3_conn *c, const struct pop3_command *cmd)
{
	pop3_listing(c, cmd, false);
}

void
pop3_cmd_uidl(struct pop3_conn *c, const struct pop3_command *cmd)
{
	pop3_listing(c, cmd, true);
}

/* --- RETR and TOP --- */

/* RETR and TOP: the next chunks of the message, while the output is
 * below its high-water mark. */
static void
pop3_message_resume(struct pop3_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct pop3_output *o = &c->out;
	char *chunk = c->server->chunk;

	while (evbuffer_get_length(out) <= POP3_OUTPUT_HIGH) {
		struct evbuffer_iovec vec;
		size_t want, used;
		ssize_t n;

		if (o->left == 0 || pop3_stuff_done(&o->stuff)) {
			char end[POP3_STUFF_END_MAX];

			evbuffer_add(out, end, pop3_stuff_end(&o->stuff, end));
			pop3_output_abort(c);
			return;
		}
		want = o->left < POP3_READ_CHUNK ? (size_t)o->left :
		    POP3_READ_CHUNK;
		do {
			n = read(o->fd, chunk, want);
		} while (n < 0 && errno == EINTR);
		if (n <= 0) {
			/* the +OK is out: all that can be done is to stop
			 * before the end line, which the client notices */
			log_error("conn=%s pop3 read uid=%u error=\"%s\"",
			    c->id, o->uid, n < 0 ? strerror(errno) :
			    "message shorter than stored size");
			pop3_output_abort(c);
			pop3_conn_close(c, "message read error");
			return;
		}
		o->left -= (uint64_t)n;
		if (evbuffer_reserve_space(out, POP3_STUFF_OUT_MAX(n), &vec,
		    1) < 1)
			abort();
		vec.iov_len = pop3_stuff_feed(&o->stuff, chunk, (size_t)n,
		    vec.iov_base, &used);
		evbuffer_commit_space(out, &vec, 1);
	}
}

struct pop3_find_ctx {
	struct store_message_meta meta;
	bool found;
};

static int
pop3_find_cb(void *ctx, const struct store_message_meta *m)
{
	struct pop3_find_ctx *f = ctx;

	/* only uid, size and blob are used: the strings are not kept */
	f->meta = *m;
	f->meta.keywords = f->meta.envelope = f->meta.body =
	    f->meta.bodystructure = NULL;
	f->found = true;
	return 0;
}

/* Opens a message of the maildrop. Returns the fd, or -1 (answered). */
static int
pop3_message_open(struct pop3_conn *c, const struct pop3_msg *m,
    uint32_t number)
{
	struct pop3_find_ctx f = { .found = false };
	uint32_t range[2] = { m->uid, m->uid };
	const char *error;
	int fd;

	if (store_message_scan(c->server->store, c->drop.mailbox_id, range, 1,
	    true, pop3_find_cb, &f, &error) < 0 ||
	    (f.found && store_message_meta_open(c->server->store, &f.meta,
	    &fd, &error) < 0)) {
		log_error("conn=%s pop3 open uid=%u error=\"%s\"", c->id,
		    m->uid, error);
		pop3_send(c, "-ERR [SYS/TEMP] Cannot read message %u", number);
		return -1;
	}
	if (!f.found) {
		/* expunged over IMAP since this session began */
		pop3_send(c, "-ERR Message %u was removed by another session",
		    number);
		return -1;
	}
	return fd;
}

static void
pop3_message_send(struct pop3_conn *c, const struct pop3_command *cmd,
    bool top)
{
	const struct pop3_msg *m;
	uint32_t number, lines = 0;
	int fd;

	if (cmd->n_args != (top ? 2u : 1u) || cmd->too_many) {
		pop3_error(c, top ? "TOP needs a message number and a line "
		    "count" : "RETR needs a message number");
		return;
	}
	if ((m = pop3_msg_arg(c, &cmd->args[0], &number)) == NULL)
		return;
	if (top && pop3_number_parse(cmd->args[1].s, cmd->args[1].len,
	    &lines) < 0) {
		pop3_error(c, "Invalid line count");
		return;
	}
	if ((fd = pop3_message_open(c, m, number)) < 0)
		return;
	if (top) {
		pop3_send(c, "+OK Top of message %u follows", number);
	} else {
		pop3_send(c, "+OK %llu octets", (unsigned long long)m->size);
		c->retrieved++;
	}
	c->out.fd = fd;
	c->out.left = m->size;
	c->out.uid = m->uid;
	pop3_stuff_init(&c->out.stuff, top, lines);
	pop3_output_start(c, pop3_message_resume);
}

void
pop3_cmd_retr(struct pop3_conn *c, const struct pop3_command *cmd)
{
	pop3_message_send(c, cmd, false);
}

void
pop3_cmd_top(struct pop3_conn *c, const struct pop3_command *cmd)
{
	pop3_message_send(c, cmd, true);
}

/* --- STAT, DELE, RSET, NOOP --- */

void
pop3_cmd_stat(struct pop3_conn *c, const struct pop3_command *cmd)
{
	if (cmd->n_args != 0) {
		pop3_error(c, "STAT takes no arguments");
		return;
	}
	/* RFC 1939 5: deleted messages are not counted */
	pop3_send(c, "+OK %zu %llu", c->drop.n - c->drop.n_deleted,
	    (unsigned long long)c->drop.bytes);
}

void
pop3_cmd_dele(struct pop3_conn *c, const struct pop3_command *cmd)
{
	struct pop3_msg *m;
	uint32_t number;

	if (cmd->n_args != 1 || cmd->too_many) {
		pop3_error(c, "DELE needs a message number");
		return;
	}
	if ((m = pop3_msg_arg(c, &cmd->args[0], &number)) == NULL)
		return;
	m->deleted = true;
	c->drop.n_deleted++;
	c->drop.bytes -= m->size;
	pop3_send(c, "+OK Message %u deleted", number);
}

void
pop3_cmd_rset(struct pop3_conn *c, const struct pop3_command *cmd)
{
	struct pop3_maildrop *d = &c->drop;

	if (cmd->n_args != 0) {
		pop3_error(c, "RSET takes no arguments");
		return;
	}
	for (size_t i = 0; i < d->n && d->n_deleted > 0; i++) {
		if (d->msgs[i].deleted) {
			d->msgs[i].deleted = false;
			d->n_deleted--;
			d->bytes += d->msgs[i].size;
		}
	}
	pop3_send(c, "+OK %zu messages (%llu octets)", d->n,
	    (unsigned long long)d->bytes);
}

void
pop3_cmd_noop(struct pop3_conn *c, const struct pop3_command *cmd)
{
	if (cmd->n_args != 0) {
		pop3_error(c, "NOOP takes no arguments");
		return;
	}
	pop3_send(c, "+OK");
}

/* --- UPDATE --- */

/* The deleted messages as UID ranges: neighbours in the maildrop make
 * one range (no message can sit between them: UIDs only grow). */
static size_t
pop3_deleted_ranges(const struct pop3_maildrop *d, uint32_t **ranges_r)
{
	uint32_t *r = xmalloc(2 * d->n_deleted * sizeof(*r));
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++) {
		if (!d->msgs[i].deleted)
			continue;
		if (n > 0 && i > 0 && d->msgs[i - 1].deleted) {
			r[2 * n - 1] = d->msgs[i].uid;
		} else {
			r[2 * n] = r[2 * n + 1] = d->msgs[i].uid;
			n++;
		}
	}
	*ranges_r = r;
	return n;
}

static int
pop3_expunge_run(struct store *store, struct deliverq_job *job)
{
	struct pop3_expunge_job *j = (struct pop3_expunge_job *)job;
	const char *error = "";

	j->ret = store_expunge_uids(store, j->mailbox_id, j->ranges,
	    j->n_ranges, &j->n, &error);
	if (j->ret != 0)
		(void)snprintf(j->error, sizeof(j->error), "%s", error);
	return j->ret;
}

static void
pop3_expunge_done(struct deliverq_job *job)
{
	struct pop3_expunge_job *j = (struct pop3_expunge_job *)job;
	struct pop3_conn *c = job->ctx;

	c->jobs--;
	c->wait = POP3_WAIT_NONE;
	pop3_lock_release(c);
	if (j->ret != 0) {
		log_error("conn=%s pop3 update user=%s error=\"%s\"", c->id,
		    c->user, j->error);
		if (!c->closing)
			pop3_send(c, "-ERR [SYS/TEMP] The deleted messages "
			    "were not removed");
	} else {
		log_info("conn=%s pop3 update user=%s deleted=%zu", c->id,
		    c->user, j->n);
		if (!c->closing)
			pop3_send(c, "+OK Bye, %zu deleted",
			    c->drop.n_deleted);
	}
	pop3_conn_close(c, "quit");
	free(j->ranges);
	free(j);
	pop3_resume(c);
}

void
pop3_update(struct pop3_conn *c)
{
	struct pop3_expunge_job *j;

	c->state = POP3_ST_UPDATE;
	if (c->drop.n_deleted == 0) {
		pop3_lock_release(c);
		pop3_send(c, "+OK Bye");
		pop3_conn_close(c, "quit");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->mailbox_id = c->drop.mailbox_id;
	j->n_ranges = pop3_deleted_ranges(&c->drop, &j->ranges);
	j->job.run = pop3_expunge_run;
	j->job.done = pop3_expunge_done;
	j->job.ctx = c;
	/* IMAP sessions of the user see the messages go */
	j->job.notify_user = c->user_id;
	c->jobs++;
	c->wait = POP3_WAIT_JOB;
	deliverq_submit(c->server->deliverq, &j->job);
}
