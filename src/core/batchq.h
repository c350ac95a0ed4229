/*
 * batchq.h - hands work to a thread in batches and brings results back to
 * the event loop.
 *
 * This is how durable writes are group-committed (DESIGN.md): the loop
 * submits items one by one; the worker thread takes every item pending at
 * the moment it becomes free (up to max_batch) and processes them with one
 * call, so items that arrive while a flush is in progress share the next
 * flush. When a batch is done, each item's done callback runs on the loop
 * thread, in submission order.
 *
 * Items are embedded in the caller's structures; the queue never allocates
 * or frees them.
 */
#ifndef CORE_BATCHQ_H
#define CORE_BATCHQ_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct batchq;

struct batchq_item {
	struct batchq_item *next;
};

/* Runs on the worker thread with n >= 1 items. */
typedef void batchq_work_fn(void *ctx, struct batchq_item **items, size_t n);
/* Runs on the loop thread for each item after its batch is done. */
typedef void batchq_done_fn(void *ctx, struct batchq_item *item);

/* Starts the worker thread. Returns NULL with *error_r set on failure. */
struct batchq *
batchq_new(struct event_base *base, batchq_work_fn *work, batchq_done_fn *done,
    void *ctx, size_t max_batch, const char **error_r);

/*
 * Runs on the worker thread when no item is waiting: a bounded piece of
 * background work (a few milliseconds; items that arrive meanwhile wait
 * for it). Returns true if there may be more, and is then called again
 * while the queue stays empty; after false, not until the next batch.
 */
typedef bool batchq_idle_fn(void *ctx);

/* Sets (or, with NULL, removes) the idle hook. */
void
batchq_set_idle(struct batchq *q, batchq_idle_fn *idle, void *ctx);

/* Queues an item (loop thread only). */
void
batchq_submit(struct batchq *q, struct batchq_item *item);

/* True once batchq_free has begun: a done callback that would submit
 * more work must not (the queue is going away). Loop thread only. */
bool
batchq_stopping(struct batchq *q);

/* Number of items submitted whose done callback has not run yet. */
size_t
batchq_pending(const struct batchq *q);

/*
 * Finishes every queued item (their work runs, their done callbacks run
 * here), stops the thread and frees the queue; sets *qp to NULL.
 */
void
batchq_free(struct batchq **qp);

#endif
