/*
 * storeq.h - store work that takes CPU or may block, off the event loop:
 * password checks (yescrypt is slow on purpose), and later other reads.
 *
 * A few worker threads, each with its own store connection, run jobs and
 * hand them back to the loop thread, where each job's done callback runs.
 * Writes that must be durable go through deliverq instead (one writer).
 */
#ifndef STORE_STOREQ_H
#define STORE_STOREQ_H

#include <stddef.h>

#include "core/batchq.h"
#include "store/store.h"

struct event_base;
struct storeq;

#define STOREQ_THREADS_MAX 16

struct storeq_job {
	struct batchq_item item;	/* first: the queue links jobs by it */
	/* Runs on a worker thread with that worker's store. */
	void (*run)(struct store *store, struct storeq_job *job);
	/* Then this runs on the loop thread. The job must stay valid (and
	 * not be submitted again) until then. */
	void (*done)(struct storeq_job *job);
};

/* Opens threads (1..STOREQ_THREADS_MAX) store connections and workers. */
struct storeq *
storeq_new(struct event_base *base, const char *data_dir, unsigned threads,
    const char **error_r);

void
storeq_submit(struct storeq *q, struct storeq_job *job);

/* Waits for the jobs in flight (their done callbacks run first), stops
 * the workers and closes their stores. */
void
storeq_free(struct storeq **qp);

#endif
