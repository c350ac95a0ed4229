/*
 * imap-private.h - the IMAP server's session state, shared by the files
 * of src/imap/ (imap-server.c: connections, login, dispatch, IDLE and
 * change notification; imap-mailbox.c: mailbox commands; imap-fetch.c:
 * FETCH and the message writes; imap-search-eval.c: SEARCH).
 * Not for use outside src/imap/.
 */
#ifndef IMAP_IMAP_PRIVATE_H
#define IMAP_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/connlimit.h"
#include "imap/imap-parser.h"
#include "imap/imap-server.h"
#include "store/deliverq.h"
#include "store/store.h"
#include "store/storeq.h"

struct imap_conn;

#define IMAP_OUTPUT_HIGH (256 * 1024)	/* stop producing output past this */
#define IMAP_INPUT_HIGH (256 * 1024)	/* stop reading input past this */
/* seconds a peer may read nothing while output waits, after login (before
 * login: imap.login_timeout); Dovecot's CLIENT_OUTPUT_TIMEOUT */
#define IMAP_OUTPUT_TIMEOUT (5 * 60)
#define IMAP_CLOSE_DRAIN 15		/* seconds to send a closing session's
					 * last output, then it is dropped */
#define IMAP_BAD_MAX 20			/* BADs in a row before we give up */
#define IMAP_FETCH_CHUNK 64		/* messages per FETCH step */
#define IMAP_ID_FIELDS_MAX 30		/* RFC 2971 3.3 */
#define IMAP_USERS_HASH 1024		/* buckets of the user index */

enum imap_state {
	IMAP_ST_NOTAUTH,
	IMAP_ST_AUTH,
	IMAP_ST_SELECTED,
	IMAP_ST_LOGOUT,
};

/* What a session waits for instead of reading commands. */
enum imap_wait {
	IMAP_WAIT_NONE,
	IMAP_WAIT_JOB,		/* a store job (login, write) is running */
	IMAP_WAIT_AUTH_LINE,	/* AUTHENTICATE: the client's response line */
	IMAP_WAIT_IDLE,		/* IDLE: waiting for DONE */
	IMAP_WAIT_DELAY,	/* a failed login's answer is held back */
	IMAP_WAIT_STARTTLS,	/* flushing the OK before the handshake */
	IMAP_WAIT_OUTPUT,	/* a long FETCH waits for its output to drain */
	IMAP_WAIT_YIELD,	/* a long command lets other sessions go first */
};

struct imap_server {
	struct event_base *base;
	const struct config *config;
	struct store *store;		/* reads, on the loop thread */
	struct deliverq *deliverq;	/* every write */
	struct storeq *storeq;		/* password checks */
	struct authlimit *authlimit;
	struct connlimit *connlimit;	/* connections per address, net */
	SSL_CTX *tls;
	uint64_t own_buffered;
	uint64_t *buffered;		/* literal bytes held, all servers */
	struct evconnlistener *listeners[CONFIG_LISTEN_MAX * 2];
	bool listener_tls[CONFIG_LISTEN_MAX * 2];
	size_t n_listeners;
	struct imap_conn *conns;
	unsigned n_conns;
	bool stopping;
	/* logged-in sessions by user id (hash of lists) */
	struct imap_conn *users[IMAP_USERS_HASH];
};

/* The selected mailbox as this session sees it (RFC 9051 2.3.1.2: the
 * sequence numbers are this session's, changed only when it is told). */
struct imap_view {
	int64_t id;
	char *name;			/* UTF-8 */
	bool readonly;			/* EXAMINE */
	uint32_t uidvalidity;
	uint32_t uidnext;		/* the next UID this session expects */
	uint64_t highestmodseq;		/* what this session has been told */
	uint32_t *uids;			/* uids[seq - 1], ascending */
	size_t n, cap;
	/* expunges seen but not yet announced (none may be during FETCH,
	 * STORE and SEARCH; RFC 9051 7.5.1) */
	uint32_t *expunged;
	size_t n_expunged, cap_expunged;
	char *keywords;			/* keywords in use, for FLAGS */
};

/* A command that goes on after the current event (a job, or output that
 * has to drain first). */
struct imap_cmd_ctx;
struct imap_search_run;

struct imap_conn {
	struct imap_conn *prev, *next;		/* server->conns */
	struct imap_conn *user_next;		/* server->users[] bucket */
	struct imap_server *server;
	char id[16];
	char peer[64];
	struct sockaddr_storage peer_sa;
	struct connlimit_ticket ticket;	/* what connlimit counted */
	evutil_socket_t fd;
	struct bufferevent *bev;
	bool tls;			/* TLS is up (imaps, or after STARTTLS) */
	bool tls_bev;
	bool io_error;
	bool closing;
	bool peer_eof;
	enum imap_state state;
	enum imap_wait wait;
	unsigned bad_count;		/* BAD replies since the last OK or NO */
	struct imap_parser *parser;
	struct pool *cmd_pool;		/* cleared after each command */
	char tag[IMAP_TAG_MAX + 1];	/* the running command's tag */
	bool uid_cmd;			/* the running command is UID ... */
	struct event *timer;		/* idle timeout; delayed replies */
	struct event *sync_ev;		/* a change to look at, soon */
	bool sync_due;			/* IDLE: a sync waits for the output */
	struct imap_cmd_ctx *cmd;	/* the suspended command, if any */
	struct imap_search_run *search;	/* a SEARCH going on in slices */
	struct event *resume_ev;	/* IMAP_WAIT_YIELD: goes on with */
	void (*resume)(struct imap_conn *c);

	/* after login */
	int64_t user_id;
	char *user;
	bool utf8;			/* UTF8=ACCEPT or IMAP4rev2 enabled */
	bool rev2;			/* IMAP4rev2 enabled */
	bool condstore;			/* CONDSTORE enabled (or used) */
	bool qresync;
	struct imap_view *view;		/* selected mailbox */
	/* AUTHENTICATE/LOGIN in flight */
	struct imap_auth_job *auth;
	unsigned jobs;			/* store jobs that refer to us */
	struct buf line;		/* AUTHENTICATE / IDLE lines */
	bool line_skip;			/* discarding a too long one */
	/* set for the running command */
	bool no_expunge;		/* FETCH, STORE, SEARCH: RFC 9051 7.5.1 */
	const uint32_t *sync_skip;	/* UID ranges the command reports */
	size_t n_sync_skip;
	/* a failed login's reply, sent when the delay is over */
	char *delayed_reply;
};

/* --- imap-server.c --- */

/* Queues a line (CRLF added) for the peer. */
void
imap_send(struct imap_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Queues raw bytes. */
void
imap_send_raw(struct imap_conn *c, const void *data, size_t len);

/* Queues a buffer's contents and empties it. */
void
imap_send_buf(struct imap_conn *c, struct buf *b);

/* The tagged reply of the running command, then the command is over. */
void
imap_reply(struct imap_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A BAD reply (counted; too many close the session). */
void
imap_bad(struct imap_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stops reading; the session is freed once its output is out. */
void
imap_conn_close(struct imap_conn *c, const char *reason);

/* Goes on reading commands after a job finished (may free c). */
void
imap_resume(struct imap_conn *c);

/* Submits a write to the delivery worker; the command waits. done runs
 * on the loop thread unless the session is gone (then it is dropped). */
void
imap_write_submit(struct imap_conn *c, struct deliverq_job *job);

/* The session's data and the job are linked; done callbacks start with
 * this to learn whether the session still exists. NULL if it is gone
 * (the job is freed by this call then). */
struct imap_conn *
imap_write_conn(struct deliverq_job *job);

/*
 * Brings the session's view up to date and sends what changed: EXISTS,
 * FETCH FLAGS (not for UIDs in the given ranges, which the command
 * reports itself), and, if allowed, EXPUNGE/VANISHED. Closes the session
 * with BYE if the mailbox is gone. Returns 0, or -1 if it closed.
 */
int
imap_sync(struct imap_conn *c, bool allow_expunge, const uint32_t *skip,
    size_t n_skip);

/* The mailbox name as the client writes it (UTF-8 or modified UTF-7),
 * decoded to UTF-8 into out. Returns 0 or -1 (with a reply sent). */
int
imap_mailbox_arg(struct imap_conn *c, const struct imap_arg *arg,
    struct buf *out);

/* Appends a mailbox name for the client (astring, encoded). */
void
imap_mailbox_write(struct imap_conn *c, struct buf *out, const char *name);

/* Appends "(\Seen \Flagged kw ...)" for flags and keywords. */
void
imap_flags_write(struct buf *out, unsigned flags, const char *keywords);

/* Parses a flag list (or single flags) into flags and a keyword list
 * ("kw1 kw2", allocated from pool). Returns 0 or -1 with error_r. */
int
imap_flags_parse(const struct imap_arg *args, size_t n, struct pool *pool,
    unsigned *flags_r, const char **keywords_r, const char **error_r);

/* Appends an ascending number list as a set: 1:3,7. */
void
imap_numset_write(struct buf *out, const uint32_t *v, size_t n);

/* Reads a message's body whole into a malloc'd, NUL-terminated string
 * of m->size bytes. Returns 0, or -1 (logged). */
int
imap_message_read(struct imap_conn *c, const struct store_message_meta *m,
    char **data_r);

/* seq <-> uid in the view */
size_t
imap_view_seq(const struct imap_view *v, uint32_t uid);	/* 0: none */

/* Does a sequence set (not UIDs) name only messages in the view? */
bool
imap_view_seqset_valid(const struct imap_view *v,
    const struct imap_seqset *set);

/*
 * Turns a sequence set (UIDs if uid) into sorted, merged UID ranges
 * [lo, hi] of messages of the view, allocated from pool. Returns the
 * number of ranges.
 */
size_t
imap_view_ranges(const struct imap_view *v, const struct imap_seqset *set,
    bool uid, struct pool *pool, uint32_t **ranges_r);

/* --- imap-mailbox.c --- */

void imap_cmd_select(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_create(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_delete(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_rename(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_subscribe(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_list(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_status(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_namespace(struct imap_conn *c, const struct imap_command *cmd);

void
imap_view_free(struct imap_view **viewp);

/* --- imap-fetch.c --- */

void imap_cmd_fetch(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_store(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_copy(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_expunge(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_close(struct imap_conn *c, const struct imap_command *cmd);
void imap_cmd_append(struct imap_conn *c, const struct imap_command *cmd);

/* Lets the other sessions run, then calls resume(c) from the loop (the
 * command stays in progress; nothing is read meanwhile). */
void
imap_yield(struct imap_conn *c, void (*resume)(struct imap_conn *c));

/* Resumes a FETCH that waited for its output to drain. */
void
imap_fetch_resume(struct imap_conn *c);

/* Frees a suspended command (the session is closing). */
void
imap_cmd_ctx_free(struct imap_conn *c);

/* --- imap-search-eval.c --- */

void imap_cmd_search(struct imap_conn *c, const struct imap_command *cmd);

/* Goes on with a SEARCH after a yield. */
void
imap_search_resume(struct imap_conn *c);

/* Frees a SEARCH in progress (the session is closing). */
void
imap_search_free(struct imap_conn *c);

#endif
