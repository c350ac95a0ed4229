/*
 * smtp-client.h - the outbound SMTP client: delivers messages to the
 * recipients of one domain (RFC 5321 section 5 routing, STARTTLS when
 * offered, PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING), on the
 * libevent loop. One session may carry several messages to the same
 * domain, one after the other, with RSET between them.
 *
 * The caller (smtp-queue.c) owns the jobs and their messages; the client
 * fills in each recipient's outcome and calls a job's done exactly once,
 * from the loop, never from inside smtp_client_deliver().
 *
 * SECURITY: DNS answers and remote replies are untrusted: replies are
 * read with a line limit and a line count limit, and escaped before they
 * are logged or stored as last errors.
 */
#ifndef SMTP_SMTP_CLIENT_H
#define SMTP_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct config;
struct dns;
struct event_base;
struct smtp_client;

/* RFC 5321 4.5.3.1.5 says 512 for a reply line; accept more, for the
 * servers that send long ones, but not without bound. */
#define SMTP_CLIENT_REPLY_LINE_MAX 2048
#define SMTP_CLIENT_REPLY_LINES_MAX 100	/* lines of one reply */
#define SMTP_CLIENT_ERROR_MAX 300	/* kept of a reply, escaped */
/* RFC 5321 4.5.3.1.8: servers must take at least 100 recipients. */
#define SMTP_CLIENT_RCPTS_MAX 100

enum smtp_client_outcome {
	SMTP_CLIENT_TEMP,	/* try again later (4xx, network, DNS) */
	SMTP_CLIENT_SENT,	/* accepted by the remote server */
	SMTP_CLIENT_PERM,	/* failed for good (5xx, no such domain) */
};

struct smtp_client_rcpt {
	const char *address;
	enum smtp_client_outcome outcome;	/* set by the client */
	char error[SMTP_CLIENT_ERROR_MAX];	/* the reply, or why */
	/* client state */
	bool resolved;
	bool accepted;		/* RCPT got 2xx in this session */
};

/* BDAT chunks are this long at most (RFC 3030 sets no limit). */
#define SMTP_CLIENT_BDAT_CHUNK (256 * 1024)
/* Own addresses for the "MX points at me" check, at most. */
#define SMTP_CLIENT_OWN_MAX 64

struct smtp_client_job {
	int64_t queue_id;	/* for logs */
	const char *sender;	/* "" for <> */
	const char *domain;
	struct smtp_client_rcpt *rcpts;
	size_t n_rcpts;		/* 1 .. SMTP_CLIENT_RCPTS_MAX */
	const char *data;	/* the message, from its data offset */
	size_t size;
	bool smtputf8;		/* submitted with SMTPUTF8 (RFC 6531) */
	/* Runs once every recipient has its outcome. */
	void (*done)(struct smtp_client_job *job);
	/*
	 * May be NULL. When job is over and its connection could carry
	 * another message (fewer than [queue] max_per_connection so far),
	 * the client asks for the next job to the same domain, before
	 * job's done runs. Returns a job the client then owns like one
	 * given to smtp_client_deliver(), or NULL: the session ends.
	 */
	struct smtp_client_job *(*next)(struct smtp_client_job *job);
	void *ctx;
	/* Set by the client before done: true if the session ended with
	 * this job (its connection is closed, or idle in the client's
	 * cache, which the queue does not count; no next job will be
	 * asked). */
	bool session_over;
};

/* EHLO keywords that matter to the client (RFC 5321 4.1.1.1). */
#define SMTP_EXT_STARTTLS	0x01
#define SMTP_EXT_PIPELINING	0x02
#define SMTP_EXT_SIZE		0x04
#define SMTP_EXT_8BITMIME	0x08
#define SMTP_EXT_CHUNKING	0x10	/* RFC 3030 */
#define SMTP_EXT_SMTPUTF8	0x20	/* RFC 6531 */

/* A reply being read, line by line. Zero it before the first reply. */
struct smtp_reply {
	int code;		/* of the reply, once its first line is read */
	unsigned lines;		/* read so far of this reply */
	unsigned ext;		/* SMTP_EXT_* of this reply (with ehlo) */
	uint64_t size_max;	/* its SIZE parameter, 0 if none */
	char first[SMTP_CLIENT_ERROR_MAX];	/* first line, escaped */
};

/*
 * Takes one reply line (without or with its CRLF; len at most
 * SMTP_CLIENT_REPLY_LINE_MAX): "ddd-text" (more follow) or "ddd text" /
 * "ddd" (the last). With ehlo, the keywords of lines after the first are
 * added to r->ext. Returns 1 when the reply is complete (r->code and
 * r->first hold it; the next line starts a new reply), 0 if more lines
 * follow, -1 if the line is malformed, its code differs from the
 * first line's, or there are more than SMTP_CLIENT_REPLY_LINES_MAX.
 */
int
smtp_reply_line(struct smtp_reply *r, bool ehlo, const char *line,
    size_t len);

/*
 * RFC 6531: whether job can only go to a server that offers SMTPUTF8:
 * a non-ASCII envelope address, or, for a message submitted with
 * SMTPUTF8, a non-ASCII byte in its header. A message that was submitted
 * with SMTPUTF8 but needs none of it may still go to an older server, as
 * Postfix does.
 */
bool
smtp_client_needs_utf8(const struct smtp_client_job *job);

/*
 * The TLS context for [queue] tls_verify_domains: the peer's chain must
 * verify against [queue] tls_ca_file, or the system's default verify
 * paths; the exchange's name is checked per connection (SSL_set1_host).
 * Made before privileges are dropped, since the CA file may be readable
 * by root only, like the server's key. Returns a context for the caller
 * to free, or NULL with *error_r set to a static message (the OpenSSL
 * reason is logged).
 */
SSL_CTX *
smtp_client_verify_ctx_new(const struct config *cfg, const char **error_r);

/*
 * Creates the client of base; dns is the loop's resolver. cfg must
 * outlive it. verify_ctx is from smtp_client_verify_ctx_new(); the client
 * takes a reference of its own. This host's own names and addresses, for RFC 5321 5.1's
 * "MX points at me" check, are [server] hostname and the [smtp] listen
 * addresses (every local interface's for a wildcard). Returns NULL with
 * *error_r set on failure.
 */
struct smtp_client *
smtp_client_new(struct event_base *base, const struct config *cfg,
    struct dns *dns, SSL_CTX *verify_ctx, const char **error_r);

/* Starts a session for job, or hands job to an idle connection to its
 * domain ([queue] connection_idle); its done callback runs later, from
 * the loop, and the session may take further jobs through job->next.
 * Idle connections are not counted by the caller: when a new connection
 * would make more than [queue] max_connections open, an idle one to
 * another domain is closed. */
void
smtp_client_deliver(struct smtp_client *cl, struct smtp_client_job *job);

/* Sessions open, idle ones included. */
size_t
smtp_client_active(const struct smtp_client *cl);

/* Aborts every delivery in progress (their done callbacks are not
 * called), closes the idle connections, and frees the client; sets
 * *clp to NULL. */
void
smtp_client_free(struct smtp_client **clp);

#endif
