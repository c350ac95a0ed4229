/*
 * smtp-queue.c - the queue runner: picks due recipients, hands them to
 * the SMTP client by message and domain, and records the results through
 * the writer thread (RFC 5321 4.5.4.1 retry strategy: a first retry
 * within minutes, doubling intervals, give up after [queue] lifetime).
 *
 * The loop never writes to SQLite: the due list is read with the loop's
 * connection (a short read transaction, as IMAP does), the message is
 * read from its blob file, and every result goes to the deliverq as a run
 * job. A group stays "in flight" until its write is done, so that a scan
 * in between does not start it twice.
 *
 * SECURITY: the queue holds addresses of authenticated users and local
 * programs; replies and DNS data are handled (and escaped) by the client.
 */
#include "smtp/smtp-queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "core/buf.h"
#include "smtp/smtp-client.h"
#include "smtp/smtp-dsn.h"
#include "store/deliverq.h"
#include "store/store.h"

/* Due recipients read in one scan, at most. */
#define SMTP_QUEUE_SCAN_MAX 5000
/* A DSN: the report plus the original header (SMTP_DSN_HEADERS_MAX). */
#define SMTP_QUEUE_DSN_MAX (SMTP_DSN_HEADERS_MAX + 256 * 1024)
/* Users a DSN's recipient (an alias, at worst) may reach. */
#define SMTP_QUEUE_DSN_USERS_MAX 64

struct smtp_qjob {
	struct deliverq_job dj;		/* the result write */
	struct smtp_queue *q;
	struct smtp_qjob *prev, *next;
	int64_t queue_id;
	char *sender;
	char *domain;
	time_t created;
	size_t n;
	char *addresses[SMTP_CLIENT_RCPTS_MAX];
	unsigned attempts[SMTP_CLIENT_RCPTS_MAX];
	struct smtp_client_rcpt rcpts[SMTP_CLIENT_RCPTS_MAX];
	struct store_queue_result results[SMTP_CLIENT_RCPTS_MAX];
	char status[SMTP_CLIENT_RCPTS_MAX][16];	/* RFC 3463, for the DSN */
	struct smtp_client_job cj;
	char *data;
	bool delivering;	/* the client has it */
};

struct smtp_queue {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;
	struct deliverq *dq;
	struct smtp_client *client;
	struct event *timer;
	struct smtp_qjob *jobs;		/* delivering or being written */
	size_t n_jobs;
	bool stopped;
	/* the scan being read */
	struct smtp_qjob **found;
	size_t n_found, cap_found;
};

static void
smtp_qjob_free(struct smtp_qjob *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->addresses[i]);
	free(j->sender);
	free(j->domain);
	free(j->data);
	free(j);
}

static void
smtp_queue_unlink(struct smtp_queue *q, struct smtp_qjob *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		q->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	q->n_jobs--;
}

static bool
smtp_queue_busy(const struct smtp_queue *q, int64_t queue_id,
    const char *domain, size_t *domain_jobs_r)
{
	bool busy = false;

	*domain_jobs_r = 0;
	for (const struct smtp_qjob *j = q->jobs; j != NULL; j = j->next) {
		if (strcmp(j->domain, domain) != 0)
			continue;
		(*domain_jobs_r)++;
		if (j->queue_id == queue_id)
			busy = true;
	}
	return busy;
}

/*
 * Tells the sender about the recipients given up on (RFC 3464), on the
 * writer thread: delivered to a local sender's INBOX, else queued for
 * the sender with the null reverse-path, like other mail. Never about a
 * null sender (a DSN about a DSN, RFC 3461 6.2).
 */
static void
smtp_queue_dsn(struct store *store, struct smtp_qjob *j)
{
	const struct config *cfg = j->q->cfg;
	struct smtp_dsn_rcpt failed[SMTP_CLIENT_RCPTS_MAX];
	int64_t users[SMTP_QUEUE_DSN_USERS_MAX];
	struct store_delivery d, *dp = &d;
	struct store_queue_entry qe;
	const char *rcpts[1] = { j->sender };
	enum store_rcpt_result res;
	const char *error = NULL;
	char from[300];
	size_t n = 0, n_users = 0, offset;
	struct buf out;

	for (size_t i = 0; i < j->n; i++) {
		if (j->results[i].outcome != STORE_QUEUE_GIVEUP)
			continue;
		failed[n].address = j->addresses[i];
		failed[n].status = j->status[i];
		failed[n].diagnostic = j->results[i].error != NULL ?
		    j->results[i].error : "";
		n++;
	}
	if (n == 0 || j->sender[0] == '\0')
		return;
	buf_init(&out, SMTP_QUEUE_DSN_MAX);
	if (smtp_dsn_build(&out, cfg->hostname, j->sender, j->created, failed,
	    n, j->data, j->cj.size, &offset) < 0) {
		error = "cannot build the report";
		goto out;
	}
	if (store_rcpt_resolve(store, j->sender, users,
	    SMTP_QUEUE_DSN_USERS_MAX, &n_users, &res, &error) < 0)
		goto out;
	if (res == STORE_RCPT_UNKNOWN) {
		error = "the sender is no longer a local address";
		goto out;
	}
	(void)snprintf(from, sizeof(from), "Mail Delivery System "
	    "<MAILER-DAEMON@%s>", cfg->hostname);
	memset(&d, 0, sizeof(d));
	memset(&qe, 0, sizeof(qe));
	d.data = out.data;
	d.size = out.len;
	d.mailbox = STORE_MAILBOX_INBOX;
	d.internal_date = time(NULL);
	d.envelope_from = "";
	d.hdr_from = from;
	d.hdr_subject = "Undelivered Mail Returned to Sender";
	if (res == STORE_RCPT_LOCAL) {
		d.users = users;
		d.n_users = n_users;
		if (n_users == 1)
			j->dj.notify_user = users[0];
	} else {
		qe.sender = "";
		qe.rcpts = rcpts;
		qe.n_rcpts = 1;
		qe.data_offset = offset;
		d.queue = &qe;
	}
	if (store_deliver(store, &dp, 1, &error) < 0)
		goto out;
	log_info("queue=%lld dsn to=<%s> failed=%zu result=%s",
	    (long long)j->queue_id, j->sender, n,
	    res == STORE_RCPT_LOCAL ? "delivered" : "queued");
	buf_release(&out);
	return;
out:
	log_error("queue=%lld dsn to=<%s> error=\"%s\"", (long long)j->queue_id,
	    j->sender, error != NULL ? error : "unknown");
	buf_release(&out);
}

static int
smtp_queue_write_run(struct store *store, struct deliverq_job *dj)
{
	struct smtp_qjob *j = (struct smtp_qjob *)dj;
	const char *error;

	if (store_queue_update(store, j->queue_id, j->results, j->n,
	    &error) < 0) {
		log_error("queue=%lld store update error=\"%s\"",
		    (long long)j->queue_id, error);
		return -1;
	}
	/* After the update: a crash in between loses the DSN, never sends
	 * two (RFC 3461 allows neither; losing one is the lesser harm). */
	smtp_queue_dsn(store, j);
	return 0;
}

static void smtp_queue_kick(struct smtp_queue *q);

static void
smtp_queue_write_done(struct deliverq_job *dj)
{
	struct smtp_qjob *j = (struct smtp_qjob *)dj;
	struct smtp_queue *q = j->q;

	smtp_queue_unlink(q, j);
	smtp_qjob_free(j);
	/* A slot is free: others may be waiting for it. */
	if (!q->stopped)
		smtp_queue_kick(q);
}

/* Back-off: retry_min, doubled per attempt, up to retry_max. */
static time_t
smtp_queue_backoff(const struct config *cfg, unsigned attempts)
{
	uint64_t d = cfg->queue_retry_min;

	for (unsigned i = 0; i < attempts && d < cfg->queue_retry_max; i++)
		d *= 2;
	if (d > cfg->queue_retry_max)
		d = cfg->queue_retry_max;
	return (time_t)d;
}

static void
smtp_queue_delivered(struct smtp_client_job *cj)
{
	struct smtp_qjob *j = cj->ctx;
	struct smtp_queue *q = j->q;
	const struct config *cfg = q->cfg;
	time_t now = time(NULL);

	j->delivering = false;
	for (size_t i = 0; i < j->n; i++) {
		struct store_queue_result *r = &j->results[i];
		struct smtp_client_rcpt *c = &j->rcpts[i];

		r->address = j->addresses[i];
		r->error = c->error;
		switch (c->outcome) {
		case SMTP_CLIENT_SENT:
			r->outcome = STORE_QUEUE_SENT;
			r->error = NULL;
			break;
		case SMTP_CLIENT_PERM:
			r->outcome = STORE_QUEUE_GIVEUP;
			(void)smtp_dsn_status(c->error, "5.0.0", j->status[i],
			    sizeof(j->status[i]));
			if (j->status[i][0] == '\0')
				memcpy(j->status[i], "5.0.0", 6);
			break;
		case SMTP_CLIENT_TEMP:
			/* RFC 5321 4.5.4.1: give up after lifetime. */
			if (now - j->created >= (time_t)cfg->queue_lifetime) {
				r->outcome = STORE_QUEUE_GIVEUP;
				/* RFC 3463: delivery time expired */
				memcpy(j->status[i], "4.4.7", 6);
				log_info("queue=%lld to=<%s> result=failed "
				    "reason=\"lifetime exceeded\"",
				    (long long)j->queue_id, r->address);
				break;
			}
			r->outcome = STORE_QUEUE_RETRY;
			r->next_attempt = now +
			    smtp_queue_backoff(cfg, j->attempts[i]);
			log_info("queue=%lld to=<%s> deferred attempts=%u "
			    "retry_in=%lld", (long long)j->queue_id, r->address,
			    j->attempts[i] + 1,
			    (long long)(r->next_attempt - now));
			break;
		}
	}
	j->dj.run = smtp_queue_write_run;
	j->dj.done = smtp_queue_write_done;
	j->dj.ctx = j;
	deliverq_submit(q->dq, &j->dj);
}

/* Reads the message from its blob, from the data offset. */
static int
smtp_queue_load(struct smtp_queue *q, struct smtp_qjob *j,
    const char **error_r)
{
	uint64_t size, offset, len;
	int fd, rc;

	if (store_queue_open(q->store, j->queue_id, &fd, &size, &offset,
	    error_r) != 0)
		return -1;
	len = size - offset;
	rc = store_read_range(fd, offset, len, &j->data);
	close(fd);
	if (rc < 0) {
		*error_r = "cannot read the queued message";
		return -1;
	}
	j->cj.data = j->data;
	j->cj.size = len;
	return 0;
}

static int
smtp_queue_due_cb(void *ctx, const struct store_queue_due *due)
{
	struct smtp_queue *q = ctx;
	struct smtp_qjob *j = q->n_found > 0 ? q->found[q->n_found - 1] :
	    NULL;

	if (j != NULL && j->queue_id == due->queue_id &&
	    strcmp(j->domain, due->domain) == 0) {
		/* The rest waits for the next scan. */
		if (j->n < SMTP_CLIENT_RCPTS_MAX) {
			j->attempts[j->n] = due->attempts;
			j->addresses[j->n++] = xstrdup(due->address);
		}
		return 0;
	}
	j = xcalloc(1, sizeof(*j));
	j->q = q;
	j->queue_id = due->queue_id;
	j->sender = xstrdup(due->sender);
	j->domain = xstrdup(due->domain);
	j->created = due->created;
	j->attempts[0] = due->attempts;
	j->addresses[0] = xstrdup(due->address);
	j->n = 1;
	if (q->n_found == q->cap_found) {
		q->cap_found = q->cap_found == 0 ? 16 : q->cap_found * 2;
		q->found = xrealloc(q->found, q->cap_found * sizeof(*q->found));
	}
	q->found[q->n_found++] = j;
	return 0;
}

static void
smtp_queue_start(struct smtp_queue *q, struct smtp_qjob *j)
{
	const char *error;

	if (smtp_queue_load(q, j, &error) < 0) {
		/* Deleted meanwhile, or unreadable: tried at a later scan. */
		log_warning("queue=%lld cannot load error=\"%s\"",
		    (long long)j->queue_id, error);
		smtp_qjob_free(j);
		return;
	}
	for (size_t i = 0; i < j->n; i++)
		j->rcpts[i].address = j->addresses[i];
	j->cj.queue_id = j->queue_id;
	j->cj.sender = j->sender;
	j->cj.domain = j->domain;
	j->cj.rcpts = j->rcpts;
	j->cj.n_rcpts = j->n;
	j->cj.done = smtp_queue_delivered;
	j->cj.ctx = j;
	j->delivering = true;
	j->next = q->jobs;
	if (j->next != NULL)
		j->next->prev = j;
	q->jobs = j;
	q->n_jobs++;
	log_info("queue=%lld delivery start from=<%s> domain=%s rcpts=%zu "
	    "size=%zu", (long long)j->queue_id, j->sender, j->domain, j->n,
	    j->cj.size);
	smtp_client_deliver(q->client, &j->cj);
}

static void
smtp_queue_scan(struct smtp_queue *q)
{
	const struct config *cfg = q->cfg;
	const char *error;

	if (q->stopped || q->n_jobs >= cfg->queue_max_connections)
		return;
	q->n_found = 0;
	if (store_queue_due(q->store, time(NULL), SMTP_QUEUE_SCAN_MAX,
	    smtp_queue_due_cb, q, &error) < 0)
		log_error("queue scan error=\"%s\"", error);
	for (size_t i = 0; i < q->n_found; i++) {
		struct smtp_qjob *j = q->found[i];
		size_t domain_jobs;

		if (q->n_jobs >= cfg->queue_max_connections ||
		    smtp_queue_busy(q, j->queue_id, j->domain, &domain_jobs) ||
		    domain_jobs >= cfg->queue_max_per_domain) {
			smtp_qjob_free(j);
			continue;
		}
		smtp_queue_start(q, j);
	}
	q->n_found = 0;
}

static void
smtp_queue_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_queue *q = arg;
	struct timeval tv = { (time_t)q->cfg->queue_interval, 0 };

	(void)fd;
	(void)what;
	smtp_queue_scan(q);
	if (!q->stopped)
		evtimer_add(q->timer, &tv);
}

/* Scans at the next turn of the loop. */
static void
smtp_queue_kick(struct smtp_queue *q)
{
	struct timeval tv = { 0, 0 };

	evtimer_add(q->timer, &tv);
}

struct smtp_queue *
smtp_queue_new(struct event_base *base, const struct config *cfg,
    struct store *store, struct deliverq *dq, struct dns *dns,
    const char **error_r)
{
	struct smtp_queue *q = xcalloc(1, sizeof(*q));

	q->base = base;
	q->cfg = cfg;
	q->store = store;
	q->dq = dq;
	if ((q->client = smtp_client_new(base, cfg, dns, error_r)) == NULL) {
		free(q);
		return NULL;
	}
	q->timer = evtimer_new(base, smtp_queue_timer_cb, q);
	smtp_queue_kick(q);
	log_info("queue runner started interval=%u retry_min=%u retry_max=%u "
	    "lifetime=%u max_connections=%u max_per_domain=%u port=%u",
	    cfg->queue_interval, cfg->queue_retry_min, cfg->queue_retry_max,
	    cfg->queue_lifetime, cfg->queue_max_connections,
	    cfg->queue_max_per_domain, cfg->queue_port);
	return q;
}

void
smtp_queue_stop(struct smtp_queue *q)
{
	struct smtp_qjob *j, *next;

	if (q == NULL || q->stopped)
		return;
	q->stopped = true;
	evtimer_del(q->timer);
	/* Sessions go without their callbacks; their jobs go with them. */
	smtp_client_free(&q->client);
	for (j = q->jobs; j != NULL; j = next) {
		next = j->next;
		if (j->delivering) {
			log_info("queue=%lld delivery aborted domain=%s",
			    (long long)j->queue_id, j->domain);
			smtp_queue_unlink(q, j);
			smtp_qjob_free(j);
		}
	}
}

void
smtp_queue_free(struct smtp_queue **qp)
{
	struct smtp_queue *q = *qp;

	if (q == NULL)
		return;
	smtp_queue_stop(q);
	/* Only writes the deliverq has not finished could be left. */
	while (q->jobs != NULL) {
		struct smtp_qjob *j = q->jobs;

		smtp_queue_unlink(q, j);
		smtp_qjob_free(j);
	}
	event_free(q->timer);
	free(q->found);
	free(q);
	*qp = NULL;
}
