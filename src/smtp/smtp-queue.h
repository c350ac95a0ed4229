/*
 * smtp-queue.h - the queue runner of `correio serve`: delivers the
 * outbound queue (store.h) with the SMTP client (smtp-client.h).
 *
 * A scan ([queue] interval, or smtp_queue_wake) reads the due recipients
 * with the loop's store connection and groups them by message and
 * domain; the groups wait by domain for a connection, within [queue]
 * max_connections (all domains) and max_per_domain, and a connection
 * carries up to max_per_connection of them. Results are written by the
 * store's writer thread (deliverq run jobs): sent recipients leave the
 * queue, temporary failures are deferred with exponential back-off from
 * retry_min to retry_max, and permanent ones (or temporary ones older
 * than lifetime) are marked failed.
 */
#ifndef SMTP_SMTP_QUEUE_H
#define SMTP_SMTP_QUEUE_H

struct config;
struct deliverq;
struct dns;
struct event_base;
struct store;
struct smtp_queue;
struct ssl_ctx_st;	/* SSL_CTX */

/*
 * Creates the runner; it starts scanning at once. store is the loop's
 * read connection, dq the writer; verify_ctx goes to smtp_client_new().
 * Everything must outlive it. Returns NULL with *error_r set on failure.
 */
struct smtp_queue *
smtp_queue_new(struct event_base *base, const struct config *cfg,
    struct store *store, struct deliverq *dq, struct dns *dns,
    struct ssl_ctx_st *verify_ctx, const char **error_r);

/*
 * Something was queued (the writer committed it): scan at the next turn
 * of the loop. Calls before that scan runs share it. q may be NULL (no
 * runner: [queue] deliver = 0).
 */
void
smtp_queue_wake(struct smtp_queue *q);

/*
 * Stops scanning and aborts the deliveries in progress (their recipients
 * stay due, and are tried again at the next start). Writes already
 * submitted finish with the deliverq; free the runner after it.
 */
void
smtp_queue_stop(struct smtp_queue *q);

/* Frees the runner (stopping it first); sets *qp to NULL. */
void
smtp_queue_free(struct smtp_queue **qp);

#endif
