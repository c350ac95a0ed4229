/*
 * smtp-server.h - the inbound SMTP server (RFC 5321), port 25.
 *
 * One event loop serves every session. Messages are delivered to the local
 * store through the delivery queue (group commit) and acknowledged with 250
 * only after they are durable.
 */
#ifndef SMTP_SMTP_SERVER_H
#define SMTP_SMTP_SERVER_H

#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct store;
struct deliverq;
struct smtp_server;

/*
 * Makes a server. store is the loop thread's store connection (recipient
 * lookups); deliverq takes the messages; tls may be NULL (no STARTTLS).
 * All must outlive the server.
 */
struct smtp_server *
smtp_server_new(struct event_base *base, const struct config *config,
    struct store *store, struct deliverq *deliverq, SSL_CTX *tls);

/* Sets the store and delivery queue (they are opened after binding, once
 * privileges are dropped). Must be called before smtp_server_start(). */
void
smtp_server_set_store(struct smtp_server *server, struct store *store,
    struct deliverq *deliverq);

/* Binds the addresses of l. Returns 0 or -1 with *error_r set. */
int
smtp_server_listen(struct smtp_server *server, const struct config_listen *l,
    const char **error_r);

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
