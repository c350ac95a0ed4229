/*
 * smtp-server.h - the SMTP server (RFC 5321): inbound on port 25, and
 * submission (RFC 6409) on 587 (STARTTLS) and 465 (implicit TLS, RFC
 * 8314), the same code with a mode.
 *
 * One event loop serves every session. Messages are delivered to the local
 * store through the delivery queue (group commit), and in submission
 * queued for remote recipients in the same write, and acknowledged with
 * 250 only after they are durable.
 */
#ifndef SMTP_SMTP_SERVER_H
#define SMTP_SMTP_SERVER_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct store;
struct deliverq;
struct storeq;
struct authlimit;
struct dkim_keys;
struct dns;
struct smtp_server;

enum smtp_mode {
	/* Port 25: mail for hosted domains only, no AUTH, no relay. */
	SMTP_MODE_INBOUND,
	/* 587/465: AUTH first, own sender addresses, remote recipients
	 * queued. */
	SMTP_MODE_SUBMISSION,
};

/*
 * Makes a server. authlimit counts failed logins (submission; shared with
 * IMAP and POP3, may be NULL for inbound); tls may be NULL (no STARTTLS,
 * no implicit TLS). Both must outlive the server.
 */
struct smtp_server *
smtp_server_new(struct event_base *base, const struct config *config,
    enum smtp_mode mode, struct authlimit *authlimit, SSL_CTX *tls);

/* Sets the loop thread's store (lookups), the delivery queue and the
 * password-check pool (submission; may be NULL for inbound). They are
 * opened after binding, once privileges are dropped; call this before
 * smtp_server_start(). */
void
smtp_server_set_store(struct smtp_server *server, struct store *store,
    struct deliverq *deliverq, struct storeq *storeq);

/* Submission: signs the mail of the domains that have keys in keys (may
 * be NULL: no signing), which must outlive the server. */
void
smtp_server_set_dkim(struct smtp_server *server, const struct dkim_keys *keys);

struct quarantine_secret;

/* Submission: a message to a release address of the logged-in user's
 * held mail (filter/quarantine.h) releases it instead of being relayed;
 * secret must outlive the server. Without it (and on port 25) such an
 * address is an unknown user like any other. */
void
smtp_server_set_quarantine(struct smtp_server *server,
    const struct quarantine_secret *secret);
/* Inbound: checks SPF (RFC 7208) of every MAIL with dns, which must
 * outlive the server ([auth] spf_reject_fail is the policy). Without it,
 * nothing is checked. Does nothing for submission. */
void
smtp_server_set_dns(struct smtp_server *server, struct dns *dns);

struct spam_filter;

/* Runs every message through filter (filter/spam-check.h: scoring and
 * milters, as the config says for this listener), which must outlive
 * the server, before it is stored; NULL: no filter. */
void
smtp_server_set_spam(struct smtp_server *server, struct spam_filter *filter);

/* Binds the addresses of l, with implicit TLS (RFC 8314) or not. Returns
 * 0 or -1 with *error_r set. */
int
smtp_server_listen(struct smtp_server *server, const struct config_listen *l,
    bool implicit_tls, const char **error_r);

/* Starts accepting connections on every bound address. */
/* Counts buffered message bytes in counter, shared with the other
 * servers, against [server] max_buffered (before any session starts). */
void
smtp_server_share_buffered(struct smtp_server *s, uint64_t *counter);

void
smtp_server_start(struct smtp_server *server);

/*
 * Stops accepting, says 421 to every session and closes it (a session
 * waiting for its message to be stored gets its reply first).
 */
void
smtp_server_shutdown(struct smtp_server *server);

/* Sessions still open. */
unsigned
smtp_server_sessions(const struct smtp_server *server);

/* Frees the server and any session left; sets *serverp to NULL. */
void
smtp_server_free(struct smtp_server **serverp);

#endif
