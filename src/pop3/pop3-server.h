/*
 * pop3-server.h - the POP3 server (RFC 1939, RFC 2449 CAPA, RFC 2595
 * STLS, RFC 5034 AUTH): [pop3] listen with STLS and [pop3s] listen with
 * implicit TLS, sessions on the event loop. The maildrop is the user's
 * INBOX.
 */
#ifndef POP3_POP3_SERVER_H
#define POP3_POP3_SERVER_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct store;
struct deliverq;
struct storeq;
struct authlimit;
struct pop3_server;

/*
 * Makes a server. store is the loop thread's store connection (reads),
 * deliverq takes the deletions at QUIT, storeq checks passwords and
 * reads maildrops, authlimit counts failed logins (shared with the other
 * protocols). tls may be NULL (then neither STLS nor pop3s). All must
 * outlive the server.
 */
struct pop3_server *
pop3_server_new(struct event_base *base, const struct config *config,
    struct store *store, struct deliverq *deliverq, struct storeq *storeq,
    struct authlimit *authlimit, SSL_CTX *tls);

/* Sets the store connections after privileges were dropped. */
void
pop3_server_set_store(struct pop3_server *server, struct store *store,
    struct deliverq *deliverq, struct storeq *storeq);

/* Binds listeners (disabled until pop3_server_start); implicit_tls for
 * [pop3s]. Returns 0 or -1. */
int
pop3_server_listen(struct pop3_server *server, const struct config_listen *l,
    bool implicit_tls, const char **error_r);

void
pop3_server_start(struct pop3_server *server);

/* Stops listening and ends every session without an UPDATE (RFC 1939
 * 6), except those whose deletions are being committed: they get their
 * answer first. */
void
pop3_server_shutdown(struct pop3_server *server);

/* Sessions still open (including those waiting for a store job). */
unsigned
pop3_server_sessions(const struct pop3_server *server);

/* Frees the server and every session (call after the workers stopped). */
void
pop3_server_free(struct pop3_server **serverp);

#endif
