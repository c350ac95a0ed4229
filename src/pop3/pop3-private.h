/*
 * pop3-private.h - the POP3 server's session state, shared by the files
 * of src/pop3/ (pop3-server.c: connections, TLS, login, dispatch;
 * pop3-maildrop.c: the maildrop, the TRANSACTION commands and UPDATE).
 * Not for use outside src/pop3/.
 */
#ifndef POP3_POP3_PRIVATE_H
#define POP3_POP3_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "core/config.h"
#include "core/connlimit.h"
#include "pop3/pop3-parse.h"
#include "pop3/pop3-server.h"
#include "pop3/pop3-stuff.h"
#include "store/deliverq.h"
#include "store/store.h"
#include "store/storeq.h"

struct pop3_conn;

#define POP3_OUTPUT_HIGH (256 * 1024)	/* stop producing output past this */
#define POP3_INPUT_HIGH (64 * 1024)	/* stop reading input past this */
#define POP3_ERRORS_MAX 20		/* protocol errors before we give up */
#define POP3_READ_CHUNK (64 * 1024)	/* message bytes read at once */
#define POP3_LIST_CHUNK 512		/* LIST/UIDL lines per step */
#define POP3_USERS_HASH 1024		/* buckets of the maildrop locks */

enum pop3_state {
	POP3_ST_AUTH,		/* AUTHORIZATION (RFC 1939 4) */
	POP3_ST_TRANS,		/* TRANSACTION (RFC 1939 5) */
	POP3_ST_UPDATE,		/* UPDATE (RFC 1939 6), after QUIT */
};

/* What a session waits for instead of reading commands. */
enum pop3_wait {
	POP3_WAIT_NONE,
	POP3_WAIT_JOB,		/* a store job (login, maildrop, UPDATE) */
	POP3_WAIT_AUTH_LINE,	/* AUTH PLAIN: the client's response line */
	POP3_WAIT_DELAY,	/* a failed login's answer is held back */
	POP3_WAIT_STLS,		/* flushing the +OK before the handshake */
	POP3_WAIT_OUTPUT,	/* a multi-line answer waits for its output */
};

/* One message of the maildrop, as the session saw it at login. */
struct pop3_msg {
	uint32_t uid;
	bool deleted;		/* DELE'd; removed only in UPDATE */
	uint64_t size;
};

/* The maildrop: the INBOX when the session logged in (RFC 1939 5:
 * messages are numbered 1..n for the whole session). */
struct pop3_maildrop {
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;	/* msgs[number - 1], by UID */
	size_t n;
	size_t n_deleted;
	uint64_t bytes;		/* of the messages not deleted */
};

/* A multi-line answer being sent (LIST, UIDL, RETR, TOP). */
struct pop3_output {
	void (*resume)(struct pop3_conn *c);	/* NULL: none */
	size_t next;		/* LIST, UIDL: the next message index */
	int fd;			/* RETR, TOP: the message, or -1 */
	uint64_t left;		/* RETR, TOP: bytes still to read */
	struct pop3_stuff stuff;
	uint32_t uid;
};

struct pop3_auth_job;

struct pop3_server {
	struct event_base *base;
	const struct config *config;
	struct store *store;		/* reads, on the loop thread */
	struct deliverq *deliverq;	/* deletions at QUIT */
	struct storeq *storeq;		/* password checks, maildrops */
	struct authlimit *authlimit;
	struct connlimit *connlimit;	/* connections per address, net */
	SSL_CTX *tls;
	struct evconnlistener *listeners[CONFIG_LISTEN_MAX * 2];
	bool listener_tls[CONFIG_LISTEN_MAX * 2];
	size_t n_listeners;
	struct pop3_conn *conns;
	unsigned n_conns;
	bool stopping;
	/* sessions that hold their user's maildrop, by user id */
	struct pop3_conn *locks[POP3_USERS_HASH];
	/* loop thread scratch: one command line, one chunk of a message */
	char line[POP3_AUTH_LINE_MAX + 1];
	char *chunk;
};

struct pop3_conn {
	struct pop3_conn *prev, *next;		/* server->conns */
	struct pop3_conn *lock_next;		/* server->locks[] bucket */
	struct pop3_server *server;
	char id[16];
	char peer[64];
	struct sockaddr_storage peer_sa;
	struct connlimit_ticket ticket;	/* what connlimit counted */
	evutil_socket_t fd;
	struct bufferevent *bev;
	bool tls;			/* TLS is up (pop3s, or after STLS) */
	bool tls_bev;
	bool io_error;
	bool closing;
	bool skip_line;			/* dropping the rest of a long line */
	enum pop3_state state;
	enum pop3_wait wait;
	unsigned errors;
	size_t scanned;			/* line reader position */
	struct event *timer;		/* idle timeout; delayed replies */
	char *user;			/* USER's name, then the user's */
	int64_t user_id;		/* once logged in */
	bool locked;			/* in server->locks */
	struct pop3_maildrop drop;
	struct pop3_output out;
	struct pop3_auth_job *auth;	/* password check in flight */
	unsigned jobs;			/* store jobs that refer to us */
	char *delayed_reply;		/* a failed login's, sent late */
	unsigned retrieved;		/* RETRs, for the log */
};

/* --- pop3-server.c --- */

/* Queues a line (CRLF added) for the peer. */
void
pop3_send(struct pop3_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A protocol error: "-ERR reason", counted; too many close the session. */
void
pop3_error(struct pop3_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stops reading; the session is freed once its output is out and no
 * job refers to it. */
void
pop3_conn_close(struct pop3_conn *c, const char *reason);

/* Goes on reading commands after a job or a wait ended (may free c). */
void
pop3_resume(struct pop3_conn *c);

/* (Re)starts the idle timer: [pop3] login_timeout before login,
 * timeout after. */
void
pop3_timer_arm(struct pop3_conn *c);

/* Gives up the maildrop lock (UPDATE done, or the session ends). */
void
pop3_lock_release(struct pop3_conn *c);

/* --- pop3-maildrop.c --- */

void pop3_cmd_stat(struct pop3_conn *c, const struct pop3_command *cmd);
void pop3_cmd_list(struct pop3_conn *c, const struct pop3_command *cmd);
void pop3_cmd_uidl(struct pop3_conn *c, const struct pop3_command *cmd);
void pop3_cmd_retr(struct pop3_conn *c, const struct pop3_command *cmd);
void pop3_cmd_top(struct pop3_conn *c, const struct pop3_command *cmd);
void pop3_cmd_dele(struct pop3_conn *c, const struct pop3_command *cmd);
void pop3_cmd_rset(struct pop3_conn *c, const struct pop3_command *cmd);
void pop3_cmd_noop(struct pop3_conn *c, const struct pop3_command *cmd);

/* QUIT in TRANSACTION: the UPDATE state (RFC 1939 6). */
void
pop3_update(struct pop3_conn *c);

/*
 * Reads the user's maildrop off the loop (a storeq job) for a session
 * that holds its lock; the session waits, and is answered when it is
 * read.
 */
void
pop3_maildrop_load(struct pop3_conn *c);

void
pop3_maildrop_free(struct pop3_maildrop *drop);

/* Ends a multi-line answer in progress (closing its message). */
void
pop3_output_abort(struct pop3_conn *c);

#endif
