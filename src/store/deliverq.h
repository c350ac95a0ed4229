/*
 * deliverq.h - durable delivery off the event loop, group-committed.
 *
 * The loop submits jobs; a worker thread with its own store connection
 * takes every job pending when it becomes free and calls store_deliver()
 * once for all of them (one flush for the batch, see store.h). Each job's
 * done callback then runs on the loop thread. This is what lets the server
 * acknowledge more durable messages per second than the disk does fsyncs.
 *
 * The same thread runs every other store write of the server (IMAP flag
 * changes, expunges, mailbox changes): SQLite has one writer at a time
 * anyway, and the loop must not wait for a COMMIT's fsync. Such jobs
 * carry a run function instead of a delivery.
 */
#ifndef STORE_DELIVERQ_H
#define STORE_DELIVERQ_H

#include "core/batchq.h"
#include "store/store.h"

struct event_base;
struct deliverq;

/* Jobs in one batch, at most. */
#define DELIVERQ_BATCH_MAX 256

struct deliverq_job {
	struct batchq_item item;	/* first: the queue links jobs by it */
	struct store_delivery delivery;	/* filled by the submitter */
	/* A write other than a delivery: runs on the worker thread with
	 * its store, and its return value goes to result. NULL for a
	 * delivery. */
	int (*run)(struct store *store, struct deliverq_job *job);
	int result;
	/* A run job that changes a user's mail: that user, told through the
	 * notify hook when result is 0 (before done runs); 0 for none. */
	int64_t notify_user;
	/* Runs on the loop thread; delivery.result (or result) says how it
	 * went. The job and everything it points to must stay valid until
	 * then. */
	void (*done)(struct deliverq_job *job);
	void *ctx;
};

struct pool;

/*
 * Called on the worker thread for each delivery before it is stored, to
 * fill in what is costly to compute (the cached IMAP renderings); what it
 * allocates from pool lives until the batch is stored.
 */
typedef void deliverq_prepare_fn(struct store_delivery *d, struct pool *pool);

/* Called on the loop thread for each user a delivery stored a message
 * for, and for the notify_user of a run job that succeeded (IMAP
 * sessions learn of new mail and of other protocols' changes this way). */
typedef void deliverq_notify_fn(void *ctx, int64_t user_id);

/* Called on the loop thread when a delivery that also queued mail for
 * remote recipients is committed (the outbound queue runner wakes). */
typedef void deliverq_queued_fn(void *ctx);

/* Opens a store connection on data_dir for the worker and starts it. */
struct deliverq *
deliverq_new(struct event_base *base, const char *data_dir,
    const char **error_r);

void
deliverq_submit(struct deliverq *q, struct deliverq_job *job);

/* Sets the prepare hook (before the first submit). */
void
deliverq_set_prepare(struct deliverq *q, deliverq_prepare_fn *prepare);

/* Sets the notify hook; NULL removes it. */
void
deliverq_set_notify(struct deliverq *q, deliverq_notify_fn *notify,
    void *ctx);

/* Sets the queued hook; NULL removes it. */
void
deliverq_set_queued(struct deliverq *q, deliverq_queued_fn *queued,
    void *ctx);

/* Lets the worker fill the full-text index with extract when it has
 * nothing else to do (see store_text_index_some); NULL stops it. An index
 * made by another version of extract is made again (store_text_version).
 * Call it before the first submit. */
void
deliverq_set_indexer(struct deliverq *q, store_text_fn *extract,
    int64_t version);

/* True once deliverq_free has begun (a done callback must then not
 * submit more jobs). */
bool
deliverq_stopping(struct deliverq *q);

/* Jobs submitted whose done callback has not run. */
size_t
deliverq_pending(const struct deliverq *q);

/* Finishes every submitted job, stops the worker; sets *qp to NULL. */
void
deliverq_free(struct deliverq **qp);

#endif
