/*
 * spam-check.h - the spam filter's pipeline for one message, end to end:
 * the sender authentication results (already computed by auth-check),
 * the content checks on a worker thread (spam-content.h and the other
 * content modules), then the action the thresholds choose and the
 * X-Spam-* header fields that report it.
 *
 * Inbound SMTP runs it at the end of DATA, after SPF, DKIM and DMARC;
 * `correio spam check` runs the same pipeline on a file.
 *
 * The message buffer moves into the check and back out through the
 * callback, so that a session that closes while a worker still reads the
 * message cannot free it under the worker: the check frees it then.
 *
 * SECURITY: the message is hostile (see each check). The worker stage
 * reads the store (hosted domains) with the worker's own connection.
 */
#ifndef FILTER_SPAM_CHECK_H
#define FILTER_SPAM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "filter/spam.h"

struct auth_check_result;
struct config;
struct event_base;
struct storeq;

struct spam_filter;
struct spam_check;

/*
 * Creates the filter of a server from cfg's [spam] section (weights,
 * thresholds, which must rise: junk <= quarantine <= reject) and its
 * [milter] section. Content checks run on storeq's workers; milters are
 * asked on the loop, after them. Returns the filter, or NULL with
 * *error_r set (a static string or one that lives until the next call).
 */
struct spam_filter *
spam_filter_new(struct event_base *base, const struct config *cfg,
    struct storeq *storeq, const char **error_r);

/* Frees the filter; checks in flight must have been cancelled (their
 * jobs finish first: storeq_free waits for them). */
void
spam_filter_free(struct spam_filter **filterp);

/* Whether a listener (submission or port 25) has anything to run:
 * scoring ([spam] enabled / submission) or milters ([milter]
 * listeners). */
bool
spam_filter_wanted(const struct spam_filter *f, bool submission);

/* The thresholds in force. */
const struct spam_thresholds *
spam_filter_thresholds(const struct spam_filter *f);

struct spam_check_request {
	/* The message: moved into the check (*msg is left empty) and given
	 * back by the callback. It is read from offset on (the bytes before
	 * are our trace fields), and must not change meanwhile. */
	struct buf *msg;
	size_t offset;
	const char *id;			/* the message id, for logs */
	const char *peer;		/* the client's address, text */
	const char *helo;		/* may be NULL */
	const char *mail_from;		/* "" for the null sender */
	const char *const *rcpts;	/* the recipients, as accepted */
	size_t n_rcpts;
	/* The local users reached: with exactly one, the classifier uses
	 * that user's table too. */
	const int64_t *users;
	size_t n_users;
	bool submission;		/* from 587/465, not port 25 */
	/* For milters: the client's address (NULL: unknown), the logged-in
	 * user, and the listener's name. */
	const struct sockaddr *client_addr;
	const char *auth_user;
	const char *daemon_name;
	/* SPF, DKIM and DMARC, or NULL when they were not checked. Read
	 * during spam_check_start() only. */
	const struct auth_check_result *auth;
	bool authenticated;		/* a logged-in submission user */
	time_t now;
};

/* What the milters said, when one did not accept. */
enum spam_milter_verdict {
	SPAM_MILTER_NONE,	/* no milter, or every one accepted */
	SPAM_MILTER_REJECT,	/* answer milter_reply (5xx) */
	SPAM_MILTER_TEMPFAIL,	/* answer milter_reply (4xx) */
	SPAM_MILTER_DISCARD,	/* answer 250, store nothing */
};

struct spam_verdict {
	const struct spam_result *result;
	bool scored;			/* false: only milters ran, no header */
	enum spam_action action;
	enum spam_milter_verdict milter;
	const char *milter_reply;	/* lines with CRLF between, no final */
	/* X-Spam-Score and X-Spam-Status, CRLF after each. */
	const char *header;
	size_t header_len;
	/* "NAME(weight) NAME(weight) ...", by decreasing weight, for the
	 * log line and the quarantine; "" when none. */
	const char *symbols;
	/* Why, in a line: the holding symbol, or the score. */
	const char *reason;
	/* The message buffer, given back (with the milters' header changes
	 * applied): the callback takes it (struct copy) and owns it from
	 * then on. */
	struct buf *msg;
};

/* Receives the verdict, valid until the callback returns. */
typedef void spam_check_callback(void *ctx, const struct spam_verdict *v);

/*
 * Starts the pipeline for req. cb is called exactly once, from the loop,
 * never from inside this function, unless the check is cancelled first.
 * Returns the check (never NULL).
 */
struct spam_check *
spam_check_start(struct spam_filter *f, const struct spam_check_request *req,
    spam_check_callback *cb, void *ctx);

/* Cancels a check whose callback has not run (the message it holds is
 * freed once no worker reads it); sets *checkp to NULL, does nothing if
 * it is NULL. */
void
spam_check_cancel(struct spam_check **checkp);

/* What the pipeline keeps of the sender authentication results. */
struct spam_auth_summary {
	bool checked;			/* false: nothing was checked */
	int spf;			/* enum spf_status, -1 if unchecked */
	unsigned dkim_pass, dkim_fail;	/* signatures by result */
	int dmarc;			/* enum dmarc_status */
	char from_domain[256];		/* DMARC's header.from, or "" */
};

/* Fills s from a (NULL: nothing checked). */
void
spam_auth_summarize(const struct auth_check_result *a,
    struct spam_auth_summary *s);

/*
 * Adds the symbols of the sender authentication results to r: SPF_FAIL,
 * SPF_SOFTFAIL, SPF_PERMERROR, DKIM_FAIL, DMARC_FAIL, DMARC_AMBIGUOUS,
 * AUTH_ALIGNED_PASS, and HEADER_FROM_LOCAL_UNAUTH for mail from outside
 * whose From: is a domain of m's that DMARC did not pass.
 */
void
spam_check_auth(const struct spam_auth_summary *s, const struct spam_msg *m,
    struct spam_result *r);

#endif
