/*
 * smtp-queue.c - the queue runner: picks due recipients, hands them to
 * the SMTP client by message and domain, and records the results through
 * the writer thread (RFC 5321 4.5.4.1 retry strategy: a first retry
 * within minutes, doubling intervals, give up after [queue] lifetime).
 *
 * A scan reads the due recipients and makes jobs of them (up to
 * SMTP_CLIENT_RCPTS_MAX recipients of one message to one domain); a job
 * waits in its domain's list until a connection takes it. Connections are
 * counted per domain ([queue] max_per_domain) and in all
 * (max_connections); a connection that delivered a job takes the next
 * waiting one of its domain (smtp_queue_next), so that a burst of mail
 * to one domain goes over few connections. With none waiting, the
 * connection stays open for [queue] connection_idle in the client, which
 * hands it the next job to its domain; the runner counts it as closed.
 *
 * Scans run every [queue] interval, at once when the writer committed a
 * queue entry of this process (smtp_queue_wake: submission, a DSN), and
 * within SMTP_QUEUE_POLL_SECONDS when another process wrote to the store
 * (sendmail, queue flush).
 *
 * The loop never writes to SQLite: the due list is read with the loop's
 * connection (a short read transaction, as IMAP does), the message is
 * read from its blob file, and every result goes to the deliverq as a run
 * job. A job stays in its domain until its write is done, so that a scan
 * in between does not start it twice.
 *
 * SECURITY: the queue holds addresses of authenticated users and local
 * programs; replies and DNS data are handled (and escaped) by the client.
 */
#include "smtp/smtp-queue.h"

#include <errno.h>
#include <stdint.h>
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
/* Buckets of the domain table and of the job table by queue id (powers
 * of two). */
#define SMTP_QUEUE_BUCKETS 256
#define SMTP_QUEUE_ID_BUCKETS 1024
/* How often the store is asked whether another process wrote to it
 * (sendmail, queue flush), in seconds. */
#define SMTP_QUEUE_POLL_SECONDS 1

enum smtp_qjob_state {
	SMTP_QJOB_WAITING,	/* due, waiting for a connection */
	SMTP_QJOB_DELIVERING,	/* the client has it */
	SMTP_QJOB_WRITING,	/* its results are being written */
};

/* The jobs to one domain, and the connections open to it. A domain is
 * kept while it has either. */
struct smtp_qdomain {
	struct smtp_qdomain *prev, *next;	/* q->domains, round robin */
	struct smtp_qdomain *hnext;		/* its bucket */
	char *name;
	struct smtp_qjob *jobs;			/* all, in any state */
	struct smtp_qjob *wait_head, *wait_tail;	/* the waiting ones */
	size_t n_jobs, n_waiting;
	unsigned sessions;
};

/* Up to SMTP_CLIENT_RCPTS_MAX recipients of one message in one domain. */
struct smtp_qjob {
	struct deliverq_job dj;		/* the result write */
	struct smtp_queue *q;
	struct smtp_qdomain *dom;
	struct smtp_qjob *prev, *next;	/* dom->jobs */
	struct smtp_qjob *idprev, *idnext;	/* q->by_id bucket */
	struct smtp_qjob *wnext;	/* dom's waiting list */
	enum smtp_qjob_state state;
	uint64_t scan;			/* the scan that found it */
	int64_t queue_id;
	char *sender;
	time_t created;
	bool smtputf8;
	bool dsn_queued;		/* its DSN went to the queue */
	size_t n;
	char *addresses[SMTP_CLIENT_RCPTS_MAX];
	unsigned attempts[SMTP_CLIENT_RCPTS_MAX];
	struct smtp_client_rcpt rcpts[SMTP_CLIENT_RCPTS_MAX];
	struct store_queue_result results[SMTP_CLIENT_RCPTS_MAX];
	char status[SMTP_CLIENT_RCPTS_MAX][16];	/* RFC 3463, for the DSN */
	struct smtp_client_job cj;
	char *data;
};

struct smtp_queue {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;
	struct deliverq *dq;
	struct smtp_client *client;
	struct event *timer;		/* the [queue] interval scan */
	struct event *wake;		/* a scan soon: mail was queued */
	struct event *poll;		/* has another process written? */
	int64_t data_version;
	struct smtp_qdomain *domains, *domains_tail;
	size_t n_domains;
	struct smtp_qdomain *buckets[SMTP_QUEUE_BUCKETS];
	struct smtp_qjob *by_id[SMTP_QUEUE_ID_BUCKETS];	/* every job */
	size_t n_jobs, n_waiting;
	unsigned sessions;		/* client sessions open */
	uint64_t scan_gen;
	bool stopped;
	/* the scan being read */
	struct smtp_qjob **found;
	size_t n_found, cap_found;
};

static void smtp_queue_dispatch(struct smtp_queue *q);
static struct smtp_client_job *smtp_queue_next(struct smtp_client_job *cj);

static size_t
smtp_qdomain_hash(const char *name)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *name != '\0'; name++) {
		h ^= (unsigned char)*name;
		h *= 16777619u;
	}
	return h & (SMTP_QUEUE_BUCKETS - 1);
}

/* At the end of the round-robin list. */
static void
smtp_qdomain_append(struct smtp_queue *q, struct smtp_qdomain *d)
{
	d->next = NULL;
	d->prev = q->domains_tail;
	if (d->prev != NULL)
		d->prev->next = d;
	else
		q->domains = d;
	q->domains_tail = d;
}

/* The domain's entry, made if there is none. */
static struct smtp_qdomain *
smtp_qdomain_get(struct smtp_queue *q, const char *name)
{
	size_t b = smtp_qdomain_hash(name);
	struct smtp_qdomain *d;

	for (d = q->buckets[b]; d != NULL; d = d->hnext)
		if (strcmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	d->hnext = q->buckets[b];
	q->buckets[b] = d;
	smtp_qdomain_append(q, d);
	q->n_domains++;
	return d;
}

static void
smtp_qdomain_unlink_list(struct smtp_queue *q, struct smtp_qdomain *d)
{
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		q->domains = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	else
		q->domains_tail = d->prev;
	d->prev = d->next = NULL;
}

/* Frees the domain's entry if nothing uses it any more. */
static void
smtp_qdomain_put(struct smtp_queue *q, struct smtp_qdomain *d)
{
	struct smtp_qdomain **pp;

	if (d->n_jobs > 0 || d->sessions > 0)
		return;
	for (pp = &q->buckets[smtp_qdomain_hash(d->name)]; *pp != d;
	    pp = &(*pp)->hnext)
		;
	*pp = d->hnext;
	smtp_qdomain_unlink_list(q, d);
	q->n_domains--;
	free(d->name);
	free(d);
}

static void
smtp_qjob_free(struct smtp_qjob *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->addresses[i]);
	free(j->sender);
	free(j->data);
	free(j);
}

static struct smtp_qjob **
smtp_queue_id_bucket(struct smtp_queue *q, int64_t queue_id)
{
	return &q->by_id[(uint64_t)queue_id & (SMTP_QUEUE_ID_BUCKETS - 1)];
}

static void
smtp_qjob_link(struct smtp_queue *q, struct smtp_qjob *j)
{
	struct smtp_qdomain *d = j->dom;
	struct smtp_qjob **b = smtp_queue_id_bucket(q, j->queue_id);

	j->prev = NULL;
	j->next = d->jobs;
	if (j->next != NULL)
		j->next->prev = j;
	d->jobs = j;
	j->idprev = NULL;
	j->idnext = *b;
	if (j->idnext != NULL)
		j->idnext->idprev = j;
	*b = j;
	d->n_jobs++;
	q->n_jobs++;
}

/* Takes the job out of its domain (not out of the waiting list) and
 * frees it. */
static void
smtp_qjob_drop(struct smtp_queue *q, struct smtp_qjob *j)
{
	struct smtp_qdomain *d = j->dom;

	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		d->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	if (j->idprev != NULL)
		j->idprev->idnext = j->idnext;
	else
		*smtp_queue_id_bucket(q, j->queue_id) = j->idnext;
	if (j->idnext != NULL)
		j->idnext->idprev = j->idprev;
	d->n_jobs--;
	q->n_jobs--;
	smtp_qjob_free(j);
}

static void
smtp_qdomain_wait_push(struct smtp_queue *q, struct smtp_qjob *j)
{
	struct smtp_qdomain *d = j->dom;

	j->state = SMTP_QJOB_WAITING;
	j->wnext = NULL;
	if (d->wait_tail != NULL)
		d->wait_tail->wnext = j;
	else
		d->wait_head = j;
	d->wait_tail = j;
	d->n_waiting++;
	q->n_waiting++;
}

static struct smtp_qjob *
smtp_qdomain_wait_pop(struct smtp_queue *q, struct smtp_qdomain *d)
{
	struct smtp_qjob *j = d->wait_head;

	if (j == NULL)
		return NULL;
	d->wait_head = j->wnext;
	if (d->wait_head == NULL)
		d->wait_tail = NULL;
	j->wnext = NULL;
	d->n_waiting--;
	q->n_waiting--;
	return j;
}

/* Is a job of this message to this domain, found by an earlier scan,
 * still waiting, delivering or being written? */
static bool
smtp_queue_busy(struct smtp_queue *q, const struct smtp_qdomain *d,
    int64_t queue_id)
{
	for (const struct smtp_qjob *j = *smtp_queue_id_bucket(q, queue_id);
	    j != NULL; j = j->idnext)
		if (j->queue_id == queue_id && j->dom == d &&
		    j->scan != q->scan_gen)
			return true;
	return false;
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
	/* Read on the loop after this write is done, when it wakes the
	 * runner for the DSN it queued. */
	j->dsn_queued = res != STORE_RCPT_LOCAL;
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

static void
smtp_queue_write_done(struct deliverq_job *dj)
{
	struct smtp_qjob *j = (struct smtp_qjob *)dj;
	struct smtp_queue *q = j->q;
	struct smtp_qdomain *d = j->dom;
	bool wake = j->dsn_queued;

	smtp_qjob_drop(q, j);
	smtp_qdomain_put(q, d);
	if (wake)
		smtp_queue_wake(q);
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

	j->state = SMTP_QJOB_WRITING;
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
	/* Its connection is closed: the slot goes to whoever waits. */
	if (cj->session_over) {
		j->dom->sessions--;
		q->sessions--;
		smtp_queue_dispatch(q);
	}
}

/*
 * Reads the message from its blob, from the data offset, and makes the
 * client's job of it. On failure (deleted meanwhile, unreadable) the job
 * is dropped: its recipients are read again at a later scan.
 */
static int
smtp_queue_prepare(struct smtp_queue *q, struct smtp_qjob *j)
{
	uint64_t size, offset, len;
	const char *error;
	int fd, rc;

	if (store_queue_open(q->store, j->queue_id, &fd, &size, &offset,
	    &error) != 0) {
		log_warning("queue=%lld cannot load error=\"%s\"",
		    (long long)j->queue_id, error);
		smtp_qjob_drop(q, j);
		return -1;
	}
	len = size - offset;
	rc = store_read_range(fd, offset, len, &j->data);
	close(fd);
	if (rc < 0) {
		log_warning("queue=%lld cannot load error=\"cannot read the "
		    "queued message\"", (long long)j->queue_id);
		smtp_qjob_drop(q, j);
		return -1;
	}
	for (size_t i = 0; i < j->n; i++)
		j->rcpts[i].address = j->addresses[i];
	memset(&j->cj, 0, sizeof(j->cj));
	j->cj.queue_id = j->queue_id;
	j->cj.sender = j->sender;
	j->cj.domain = j->dom->name;
	j->cj.rcpts = j->rcpts;
	j->cj.n_rcpts = j->n;
	j->cj.data = j->data;
	j->cj.size = len;
	j->cj.smtputf8 = j->smtputf8;
	j->cj.done = smtp_queue_delivered;
	j->cj.next = smtp_queue_next;
	j->cj.ctx = j;
	j->state = SMTP_QJOB_DELIVERING;
	log_info("queue=%lld delivery start from=<%s> domain=%s rcpts=%zu "
	    "size=%zu", (long long)j->queue_id, j->sender, j->dom->name, j->n,
	    j->cj.size);
	return 0;
}

/* The client asks for the next message to the domain over an open
 * connection. */
static struct smtp_client_job *
smtp_queue_next(struct smtp_client_job *cj)
{
	struct smtp_qjob *j = cj->ctx, *next;
	struct smtp_queue *q = j->q;

	if (q->stopped)
		return NULL;
	/* A job that fails to load is dropped; the domain stays, since j
	 * is still one of its jobs. */
	while ((next = smtp_qdomain_wait_pop(q, j->dom)) != NULL)
		if (smtp_queue_prepare(q, next) == 0)
			return &next->cj;
	return NULL;
}

static int
smtp_queue_due_cb(void *ctx, const struct store_queue_due *due)
{
	struct smtp_queue *q = ctx;
	struct smtp_qjob *j = q->n_found > 0 ? q->found[q->n_found - 1] :
	    NULL;

	/* The recipients of one message to one domain come together; more
	 * than a job takes go in another job of the same message. */
	if (j != NULL && j->queue_id == due->queue_id &&
	    strcmp(j->dom->name, due->domain) == 0 &&
	    j->n < SMTP_CLIENT_RCPTS_MAX) {
		j->attempts[j->n] = due->attempts;
		j->addresses[j->n++] = xstrdup(due->address);
		return 0;
	}
	j = xcalloc(1, sizeof(*j));
	j->q = q;
	j->dom = smtp_qdomain_get(q, due->domain);
	j->scan = q->scan_gen;
	j->queue_id = due->queue_id;
	j->sender = xstrdup(due->sender);
	j->created = due->created;
	j->smtputf8 = due->smtputf8;
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

/* Opens a connection for the job (a session of the client). */
static void
smtp_queue_start(struct smtp_queue *q, struct smtp_qjob *j)
{
	struct smtp_qdomain *d = j->dom;

	if (smtp_queue_prepare(q, j) < 0)
		return;
	d->sessions++;
	q->sessions++;
	smtp_client_deliver(q->client, &j->cj);
}

/*
 * Gives free connection slots to waiting jobs: at most max_per_domain
 * connections to a domain, max_connections in all. Domains take turns:
 * each one served goes to the end of the list, and the next call starts
 * where this one stopped.
 */
static void
smtp_queue_dispatch(struct smtp_queue *q)
{
	const struct config *cfg = q->cfg;
	size_t n = q->n_domains;

	if (q->stopped)
		return;
	while (n-- > 0 && q->domains != NULL &&
	    q->sessions < cfg->queue_max_connections) {
		struct smtp_qdomain *d = q->domains;

		smtp_qdomain_unlink_list(q, d);
		smtp_qdomain_append(q, d);
		while (d->n_waiting > 0 &&
		    d->sessions < cfg->queue_max_per_domain &&
		    q->sessions < cfg->queue_max_connections)
			smtp_queue_start(q, smtp_qdomain_wait_pop(q, d));
		smtp_qdomain_put(q, d);
	}
}

static void
smtp_queue_scan(struct smtp_queue *q)
{
	const char *error;

	if (q->stopped)
		return;
	q->scan_gen++;
	q->n_found = 0;
	if (store_queue_due(q->store, time(NULL), SMTP_QUEUE_SCAN_MAX,
	    smtp_queue_due_cb, q, &error) < 0)
		log_error("queue scan error=\"%s\"", error);
	for (size_t i = 0; i < q->n_found; i++) {
		struct smtp_qjob *j = q->found[i];
		struct smtp_qdomain *d = j->dom;

		if (smtp_queue_busy(q, d, j->queue_id)) {
			/* busy: the domain has that job, it stays */
			smtp_qjob_free(j);
			continue;
		}
		smtp_qjob_link(q, j);
		smtp_qdomain_wait_push(q, j);
	}
	q->n_found = 0;
	/* Domains found with nothing new to do are dropped here. */
	smtp_queue_dispatch(q);
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

static void
smtp_queue_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	smtp_queue_scan(arg);
}

void
smtp_queue_wake(struct smtp_queue *q)
{
	struct timeval tv = { 0, 0 };

	/* Every wake before the scan runs is served by that one scan. */
	if (q == NULL || q->stopped ||
	    evtimer_pending(q->wake, NULL) != 0)
		return;
	evtimer_add(q->wake, &tv);
}

/*
 * sendmail and `queue flush` are other processes, which write to the
 * store without telling the server: a change of the store's data_version
 * makes the runner look. The writer thread's commits change it too; a
 * scan that finds nothing new costs one indexed read.
 */
static void
smtp_queue_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_queue *q = arg;
	const char *error;
	int64_t v;

	(void)fd;
	(void)what;
	if (store_data_version(q->store, &v, &error) < 0) {
		log_error("queue poll error=\"%s\"", error);
		return;
	}
	if (v != q->data_version) {
		q->data_version = v;
		smtp_queue_wake(q);
	}
}

struct smtp_queue *
smtp_queue_new(struct event_base *base, const struct config *cfg,
    struct store *store, struct deliverq *dq, struct dns *dns,
    SSL_CTX *verify_ctx, const char **error_r)
{
	struct smtp_queue *q = xcalloc(1, sizeof(*q));
	struct timeval now = { 0, 0 }, poll = { SMTP_QUEUE_POLL_SECONDS, 0 };

	q->base = base;
	q->cfg = cfg;
	q->store = store;
	q->dq = dq;
	if (store_data_version(store, &q->data_version, error_r) < 0 ||
	    (q->client = smtp_client_new(base, cfg, dns, verify_ctx,
	    error_r)) == NULL) {
		free(q);
		return NULL;
	}
	q->timer = evtimer_new(base, smtp_queue_timer_cb, q);
	q->wake = evtimer_new(base, smtp_queue_wake_cb, q);
	q->poll = event_new(base, -1, EV_PERSIST, smtp_queue_poll_cb, q);
	evtimer_add(q->timer, &now);
	evtimer_add(q->poll, &poll);
	log_info("queue runner started interval=%u retry_min=%u retry_max=%u "
	    "lifetime=%u max_connections=%u max_per_domain=%u "
	    "max_per_connection=%u port=%u", cfg->queue_interval,
	    cfg->queue_retry_min, cfg->queue_retry_max, cfg->queue_lifetime,
	    cfg->queue_max_connections, cfg->queue_max_per_domain,
	    cfg->queue_max_per_connection, cfg->queue_port);
	return q;
}

/*
 * Connections in progress are dropped, and their jobs with them: their
 * recipients stay due and are tried again at the next start. A message
 * whose final dot (or last BDAT chunk) was sent but whose reply was not
 * read yet may have been delivered: it is sent again then. RFC 5321 6.1
 * prefers a duplicate to a loss; nothing is lost, since a recipient only
 * leaves the queue when its 250 is written.
 */
void
smtp_queue_stop(struct smtp_queue *q)
{
	if (q == NULL || q->stopped)
		return;
	q->stopped = true;
	evtimer_del(q->timer);
	evtimer_del(q->wake);
	event_del(q->poll);
	/* Sessions go without their callbacks; their jobs go with them. */
	smtp_client_free(&q->client);
	q->sessions = 0;
	for (struct smtp_qdomain *d = q->domains, *dnext; d != NULL;
	    d = dnext) {
		dnext = d->next;
		d->sessions = 0;
		d->wait_head = d->wait_tail = NULL;
		q->n_waiting -= d->n_waiting;
		d->n_waiting = 0;
		for (struct smtp_qjob *j = d->jobs, *jnext; j != NULL;
		    j = jnext) {
			jnext = j->next;
			if (j->state == SMTP_QJOB_WRITING)
				continue;
			if (j->state == SMTP_QJOB_DELIVERING)
				log_info("queue=%lld delivery aborted "
				    "domain=%s", (long long)j->queue_id,
				    d->name);
			smtp_qjob_drop(q, j);
		}
		smtp_qdomain_put(q, d);
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
	while (q->domains != NULL) {
		struct smtp_qdomain *d = q->domains;

		while (d->jobs != NULL)
			smtp_qjob_drop(q, d->jobs);
		smtp_qdomain_put(q, d);
	}
	event_free(q->timer);
	event_free(q->wake);
	event_free(q->poll);
	free(q->found);
	free(q);
	*qp = NULL;
}
