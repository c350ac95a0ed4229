/*
 * storeq.c - a small pool of store worker threads (see storeq.h).
 */
#include "store/storeq.h"

#include <stdlib.h>

#include "core/xalloc.h"

struct storeq_worker {
	struct batchq *bq;
	struct store *store;	/* its thread only */
};

struct storeq {
	struct storeq_worker workers[STOREQ_THREADS_MAX];
	unsigned n;
};

static void
storeq_work(void *ctx, struct batchq_item **items, size_t n)
{
	struct storeq_worker *w = ctx;

	for (size_t i = 0; i < n; i++) {
		struct storeq_job *job = (struct storeq_job *)items[i];

		job->run(w->store, job);
	}
}

static void
storeq_done(void *ctx, struct batchq_item *item)
{
	struct storeq_job *job = (struct storeq_job *)item;

	job->done(job);
}

struct storeq *
storeq_new(struct event_base *base, const char *data_dir, unsigned threads,
    const char **error_r)
{
	struct storeq *q = xcalloc(1, sizeof(*q));

	if (threads < 1)
		threads = 1;
	if (threads > STOREQ_THREADS_MAX)
		threads = STOREQ_THREADS_MAX;
	for (unsigned i = 0; i < threads; i++) {
		struct storeq_worker *w = &q->workers[i];

		if (store_open(data_dir, &w->store, error_r) < 0)
			goto fail;
		q->n++;
		/* one job at a time: jobs are slow, let other workers take
		 * the next one */
		w->bq = batchq_new(base, storeq_work, storeq_done, w, 1,
		    error_r);
		if (w->bq == NULL)
			goto fail;
	}
	return q;
fail:
	storeq_free(&q);
	return NULL;
}

void
storeq_submit(struct storeq *q, struct storeq_job *job)
{
	struct storeq_worker *best = &q->workers[0];

	for (unsigned i = 1; i < q->n; i++) {
		if (batchq_pending(q->workers[i].bq) <
		    batchq_pending(best->bq))
			best = &q->workers[i];
	}
	batchq_submit(best->bq, &job->item);
}

void
storeq_free(struct storeq **qp)
{
	struct storeq *q = *qp;

	if (q == NULL)
		return;
	for (unsigned i = 0; i < q->n; i++) {
		batchq_free(&q->workers[i].bq);
		store_close(&q->workers[i].store);
	}
	free(q);
	*qp = NULL;
}
