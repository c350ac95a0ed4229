/*
 * imap-server.h - the IMAP server (RFC 9051 IMAP4rev2 and RFC 3501
 * IMAP4rev1): [imap] listen with STARTTLS and [imaps] listen with
 * implicit TLS, sessions on the event loop.
 */
#ifndef IMAP_IMAP_SERVER_H
#define IMAP_IMAP_SERVER_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct store;
struct deliverq;
struct storeq;
struct authlimit;
struct imap_server;

/*
 * Makes a server. store is the loop thread's store connection (reads),
 * deliverq takes every write, storeq checks passwords, authlimit counts
 * failed logins (shared with the other protocols). tls may be NULL (then
 * neither STARTTLS nor imaps). All must outlive the server.
 */
struct imap_server *
imap_server_new(struct event_base *base, const struct config *config,
    struct store *store, struct deliverq *deliverq, struct storeq *storeq,
    struct authlimit *authlimit, SSL_CTX *tls);

/* Sets the store connections after privileges were dropped. */
void
imap_server_set_store(struct imap_server *server, struct store *store,
    struct deliverq *deliverq, struct storeq *storeq);

/* Counts literal bytes (APPEND) in counter, shared with the other
 * servers, against [server] max_buffered (before any session starts). */
void
imap_server_share_buffered(struct imap_server *server, uint64_t *counter);

/* Binds listeners (disabled until imap_server_start); implicit_tls for
 * [imaps]. Returns 0 or -1. */
int
imap_server_listen(struct imap_server *server, const struct config_listen *l,
    bool implicit_tls, const char **error_r);

void
imap_server_start(struct imap_server *server);

/* Something changed for this user (new mail): sessions in IDLE look. */
void
imap_server_notify(struct imap_server *server, int64_t user_id);

/* Stops listening and says BYE to every session. */
void
imap_server_shutdown(struct imap_server *server);

/* Sessions still open, and store writes still running for them. */
unsigned
imap_server_sessions(const struct imap_server *server);

/*
 * The text the full-text index holds for a message (a store_text_fn, for
 * deliverq_set_indexer): what SEARCH TEXT and BODY match, folded.
 */
#define IMAP_SEARCH_INDEX_VERSION 1	/* changes whenever its output does */
struct buf;
int
imap_search_index_text(const char *data, size_t len, struct buf *header,
    struct buf *body);

/* Frees the server and every session (call after the workers stopped). */
void
imap_server_free(struct imap_server **serverp);

#endif
