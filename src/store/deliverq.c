/*
 * deliverq.c - group-committed delivery worker (see deliverq.h).
 */
#include "store/deliverq.h"

#include <stddef.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"

/* Messages the idle hook indexes in one transaction, at most. */
#define DELIVERQ_INDEX_BATCH 64

struct deliverq {
	struct batchq *bq;
	struct store *store;	/* used by the worker thread only */
	struct store_delivery *batch[DELIVERQ_BATCH_MAX];
	deliverq_prepare_fn *prepare;
	struct pool *pool;	/* worker thread only, for prepare */
	deliverq_notify_fn *notify;
	void *notify_ctx;
	deliverq_queued_fn *queued;
	void *queued_ctx;
	store_text_fn *index_text;	/* for the idle hook */
	int64_t index_version;
	bool index_checked;		/* worker thread only */
	/* Worker thread only; read after it is joined. */
	unsigned long long batches, deliveries;
};

static void
deliverq_work(void *ctx, struct batchq_item **items, size_t n)
{
	struct deliverq *q = ctx;
	const char *error;
	size_t n_batch = 0;

	/* Deliveries first, all in one store_deliver (one flush), then
	 * the other writes in the order they came. */
	for (size_t i = 0; i < n; i++) {
		struct deliverq_job *job = (struct deliverq_job *)items[i];

		if (job->run != NULL)
			continue;
		if (q->prepare != NULL && job->delivery.n_users > 0)
			q->prepare(&job->delivery, q->pool);
		q->batch[n_batch++] = &job->delivery;
	}
	if (n_batch > 0) {
		q->batches++;
		q->deliveries += n_batch;
		if (store_deliver(q->store, q->batch, n_batch, &error) < 0)
			log_error("store deliver batch=%zu error=\"%s\"",
			    n_batch, error);
		else
			log_debug("store deliver batch=%zu", n_batch);
		for (size_t i = 0; i < n_batch; i++) {
			/* they pointed into the pool */
			if (q->prepare != NULL) {
				q->batch[i]->envelope = NULL;
				q->batch[i]->body = NULL;
				q->batch[i]->bodystructure = NULL;
			}
		}
		pool_clear(q->pool);
	}
	for (size_t i = 0; i < n; i++) {
		struct deliverq_job *job = (struct deliverq_job *)items[i];

		if (job->run != NULL)
			job->result = job->run(q->store, job);
	}
}

static void
deliverq_done(void *ctx, struct batchq_item *item)
{
	struct deliverq *q = ctx;
	struct deliverq_job *job = (struct deliverq_job *)item;

	/* A held message (quarantine) reached no mailbox: nothing to tell
	 * IMAP sessions until it is released. */
	if (job->run == NULL && job->delivery.result == 0 &&
	    job->delivery.quarantine == NULL && q->notify != NULL) {
		for (size_t i = 0; i < job->delivery.n_users; i++)
			q->notify(q->notify_ctx, job->delivery.users[i]);
	}
	if (job->run != NULL && job->result == 0 && job->notify_user != 0 &&
	    q->notify != NULL)
		q->notify(q->notify_ctx, job->notify_user);
	if (job->run == NULL && job->delivery.result == 0 &&
	    job->delivery.queue != NULL && job->delivery.queue->n_rcpts > 0 &&
	    q->queued != NULL)
		q->queued(q->queued_ctx);
	job->done(job);
}

void
deliverq_set_prepare(struct deliverq *q, deliverq_prepare_fn *prepare)
{
	q->prepare = prepare;
}

void
deliverq_set_notify(struct deliverq *q, deliverq_notify_fn *notify,
    void *ctx)
{
	q->notify = notify;
	q->notify_ctx = ctx;
}

void
deliverq_set_queued(struct deliverq *q, deliverq_queued_fn *queued,
    void *ctx)
{
	q->queued = queued;
	q->queued_ctx = ctx;
}

/* The worker's spare time: the full-text index catches up. */
static bool
deliverq_idle(void *ctx)
{
	struct deliverq *q = ctx;
	const char *error;
	int n;

	if (!q->index_checked) {
		if (store_text_version(q->store, q->index_version,
		    &error) < 0) {
			log_error("store index error=\"%s\"", error);
			return false;
		}
		q->index_checked = true;
	}
	n = store_text_index_some(q->store, q->index_text,
	    DELIVERQ_INDEX_BATCH, &error);
	if (n < 0)
		log_error("store index error=\"%s\"", error);
	else if (n > 0)
		log_debug("store index blobs=%d", n);
	return n > 0;
}

void
deliverq_set_indexer(struct deliverq *q, store_text_fn *extract,
    int64_t version)
{
	q->index_text = extract;
	q->index_version = version;
	batchq_set_idle(q->bq, extract != NULL ? deliverq_idle : NULL, q);
}

struct deliverq *
deliverq_new(struct event_base *base, const char *data_dir,
    const char **error_r)
{
	struct deliverq *q = xcalloc(1, sizeof(*q));

	if (store_open(data_dir, &q->store, error_r) < 0) {
		free(q);
		return NULL;
	}
	q->pool = pool_new(64 * 1024);
	q->bq = batchq_new(base, deliverq_work, deliverq_done, q,
	    DELIVERQ_BATCH_MAX, error_r);
	if (q->bq == NULL) {
		pool_free(&q->pool);
		store_close(&q->store);
		free(q);
		return NULL;
	}
	return q;
}

void
deliverq_submit(struct deliverq *q, struct deliverq_job *job)
{
	job->delivery.result = -1;
	job->delivery.error = NULL;
	job->result = -1;
	batchq_submit(q->bq, &job->item);
}

bool
deliverq_stopping(struct deliverq *q)
{
	return batchq_stopping(q->bq);
}

size_t
deliverq_pending(const struct deliverq *q)
{
	return batchq_pending(q->bq);
}

void
deliverq_free(struct deliverq **qp)
{
	struct deliverq *q = *qp;

	if (q == NULL)
		return;
	batchq_free(&q->bq);
	/* How well group commit worked: deliveries per flush. */
	log_info("deliverq stopped deliveries=%llu batches=%llu per_batch=%.1f",
	    q->deliveries, q->batches,
	    q->batches > 0 ? (double)q->deliveries / (double)q->batches : 0.0);
	store_close(&q->store);
	pool_free(&q->pool);
	free(q);
	*qp = NULL;
}
