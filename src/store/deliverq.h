/*
 * deliverq.h - durable delivery off the event loop, group-committed.
 *
 * The loop submits jobs; a worker thread with its own store connection
 * takes every job pending when it becomes free and calls store_deliver()
 * once for all of them (one flush for the batch, see store.h). Each job's
 * done callback then runs on the loop thread. This is what lets the server
 * acknowledge more durable messages per second than the disk does fsyncs.
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
	/* Runs on the loop thread; delivery.result says how it went. The
	 * job and everything delivery points to must stay valid until then. */
	void (*done)(struct deliverq_job *job);
	void *ctx;
};

/* Opens a store connection on data_dir for the worker and starts it. */
struct deliverq *
deliverq_new(struct event_base *base, const char *data_dir,
    const char **error_r);

void
deliverq_submit(struct deliverq *q, struct deliverq_job *job);

/* Jobs submitted whose done callback has not run. */
size_t
deliverq_pending(const struct deliverq *q);

/* Finishes every submitted job, stops the worker; sets *qp to NULL. */
void
deliverq_free(struct deliverq **qp);

#endif
