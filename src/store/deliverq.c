/*
 * deliverq.c - group-committed delivery worker (see deliverq.h).
 */
#include "store/deliverq.h"

#include <stddef.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/xalloc.h"

struct deliverq {
	struct batchq *bq;
	struct store *store;	/* used by the worker thread only */
	struct store_delivery *batch[DELIVERQ_BATCH_MAX];
	/* Worker thread only; read after it is joined. */
	unsigned long long batches, deliveries;
};

static void
deliverq_work(void *ctx, struct batchq_item **items, size_t n)
{
	struct deliverq *q = ctx;
	const char *error;

	for (size_t i = 0; i < n; i++) {
		struct deliverq_job *job = (struct deliverq_job *)items[i];

		q->batch[i] = &job->delivery;
	}
	q->batches++;
	q->deliveries += n;
	if (store_deliver(q->store, q->batch, n, &error) < 0)
		log_error("store deliver batch=%zu error=\"%s\"", n, error);
	else
		log_debug("store deliver batch=%zu", n);
}

static void
deliverq_done(void *ctx, struct batchq_item *item)
{
	struct deliverq_job *job = (struct deliverq_job *)item;

	job->done(job);
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
	q->bq = batchq_new(base, deliverq_work, deliverq_done, q,
	    DELIVERQ_BATCH_MAX, error_r);
	if (q->bq == NULL) {
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
	batchq_submit(q->bq, &job->item);
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
	free(q);
	*qp = NULL;
}
