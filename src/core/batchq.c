/*
 * batchq.c - batching worker thread (see batchq.h).
 *
 * The worker signals the loop through a pipe: one byte per finished batch.
 */
#include "core/batchq.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/xalloc.h"

struct batchq {
	batchq_work_fn *work;
	batchq_done_fn *done;
	void *ctx;
	size_t max_batch;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Protected by lock: */
	struct batchq_item *todo_head, **todo_tail;
	struct batchq_item *done_head, **done_tail;
	bool stopping;
	batchq_idle_fn *idle;
	void *idle_ctx;
	bool idle_more;		/* idle may have work: call it again */

	size_t pending;		/* loop thread only */
	int pipe_rd, pipe_wr;
	struct event *ev;
	struct batchq_item **items;	/* worker thread only */
};

static void *
batchq_thread(void *arg)
{
	struct batchq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct batchq_item *it, *first;
		size_t n = 0;

		while (q->todo_head == NULL && !q->stopping) {
			batchq_idle_fn *idle = q->idle;
			void *idle_ctx = q->idle_ctx;
			bool more;

			if (idle == NULL || !q->idle_more) {
				pthread_cond_wait(&q->cond, &q->lock);
				continue;
			}
			pthread_mutex_unlock(&q->lock);
			more = idle(idle_ctx);
			pthread_mutex_lock(&q->lock);
			q->idle_more = more;
		}
		if (q->todo_head == NULL)
			break;
		first = q->todo_head;
		for (it = q->todo_head; it != NULL && n < q->max_batch; it = it->next)
			q->items[n++] = it;
		q->todo_head = it;
		if (it == NULL)
			q->todo_tail = &q->todo_head;
		q->items[n - 1]->next = NULL;
		pthread_mutex_unlock(&q->lock);

		q->work(q->ctx, q->items, n);

		pthread_mutex_lock(&q->lock);
		q->idle_more = true;	/* the batch may have made some */
		*q->done_tail = first;
		q->done_tail = &q->items[n - 1]->next;
		/* A full pipe is fine: the loop drains it all at once. */
		(void)!write(q->pipe_wr, "", 1);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Runs the done callbacks of every finished item. */
static void
batchq_collect(struct batchq *q)
{
	struct batchq_item *it, *next;

	pthread_mutex_lock(&q->lock);
	it = q->done_head;
	q->done_head = NULL;
	q->done_tail = &q->done_head;
	pthread_mutex_unlock(&q->lock);
	for (; it != NULL; it = next) {
		next = it->next;
		q->pending--;
		q->done(q->ctx, it);
	}
}

static void
batchq_on_pipe(evutil_socket_t fd, short what, void *arg)
{
	char drain[256];

	while (read(fd, drain, sizeof(drain)) > 0)
		;
	batchq_collect(arg);
}

struct batchq *
batchq_new(struct event_base *base, batchq_work_fn *work, batchq_done_fn *done,
    void *ctx, size_t max_batch, const char **error_r)
{
	struct batchq *q = xcalloc(1, sizeof(*q));
	int fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		*error_r = "pipe failed";
		free(q);
		return NULL;
	}
	q->pipe_rd = fds[0];
	q->pipe_wr = fds[1];
	q->work = work;
	q->done = done;
	q->ctx = ctx;
	q->max_batch = max_batch == 0 ? 1 : max_batch;
	q->items = xcalloc(q->max_batch, sizeof(*q->items));
	q->todo_tail = &q->todo_head;
	q->done_tail = &q->done_head;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->ev = event_new(base, q->pipe_rd, EV_READ | EV_PERSIST, batchq_on_pipe, q);
	event_add(q->ev, NULL);
	if (pthread_create(&q->thread, NULL, batchq_thread, q) != 0) {
		*error_r = "cannot start the worker thread";
		event_free(q->ev);
		close(q->pipe_rd);
		close(q->pipe_wr);
		free(q->items);
		free(q);
		return NULL;
	}
	return q;
}

void
batchq_set_idle(struct batchq *q, batchq_idle_fn *idle, void *ctx)
{
	pthread_mutex_lock(&q->lock);
	q->idle = idle;
	q->idle_ctx = ctx;
	q->idle_more = idle != NULL;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void
batchq_submit(struct batchq *q, struct batchq_item *item)
{
	item->next = NULL;
	q->pending++;
	pthread_mutex_lock(&q->lock);
	*q->todo_tail = item;
	q->todo_tail = &item->next;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

size_t
batchq_pending(const struct batchq *q)
{
	return q->pending;
}

bool
batchq_stopping(struct batchq *q)
{
	bool stopping;

	pthread_mutex_lock(&q->lock);
	stopping = q->stopping;
	pthread_mutex_unlock(&q->lock);
	return stopping;
}

void
batchq_free(struct batchq **qp)
{
	struct batchq *q = *qp;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	batchq_collect(q);
	event_free(q->ev);
	close(q->pipe_rd);
	close(q->pipe_wr);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q->items);
	free(q);
	*qp = NULL;
}
