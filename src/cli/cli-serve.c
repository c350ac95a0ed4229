/*
 * cli-serve.c - `correio serve`: the server in the foreground.
 *
 * Order matters for security: the config is read, TLS keys are loaded and
 * ports are bound while still root; then the process enters the data
 * directory and becomes [server] user before the event loop reads a byte
 * from the network. SIGTERM (or SIGINT) stops accepting, says 421 to open
 * sessions, lets messages being stored finish, and exits 0.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "auth/dkim.h"
#include "cli/cli.h"
#include "core/authlimit.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/privs.h"
#include "core/tls.h"
#include "dns/dns.h"
#include "filter/bayes.h"
#include "filter/milter.h"
#include "filter/spam-check.h"
#include "filter/quarantine.h"
#include "imap/imap-server.h"
#include "mime/mime-imap.h"
#include "mime/mime.h"
#include "pop3/pop3-server.h"
#include "smtp/smtp-client.h"
#include "smtp/smtp-queue.h"
#include "smtp/smtp-server.h"
#include "store/deliverq.h"
#include "store/store.h"
#include "store/storeq.h"

#define SERVE_OVERRIDES_MAX 64
#define SERVE_DRAIN_SECONDS 5	/* how long shutdown waits for sessions */
#define SERVE_STORE_SECONDS 60	/* ... and for messages being stored */
#define SERVE_AUTH_THREADS 2	/* password checks at once (yescrypt) */
#define SERVE_SPAM_THREADS 2	/* messages scanned at once (content) */

/* The classifier's settings for quarantine releases; lives as long as
 * the process (the hook keeps a pointer). */
static struct bayes_config serve_bayes;
/* A cached IMAP rendering longer than this is not cached (computed when
 * asked instead): it would only bloat the database. */
#define SERVE_RENDER_CACHE_MAX (64 * 1024)

static const char cli_serve_help[] =
"usage: correio serve [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"\n"
"Runs the server in the foreground, logging to standard error.\n"
"SIGTERM or SIGINT stops it cleanly.\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n"
"  -o SECTION.KEY=VALUE\n"
"                     override a configuration key (may be repeated)\n";

struct serve {
	struct event_base *base;
	struct smtp_server *smtp;
	struct smtp_server *submission;	/* 587 and 465 */
	struct imap_server *imap;
	struct pop3_server *pop3;
	struct deliverq *dq;
	struct smtp_queue *queue;	/* outbound; NULL if [queue] deliver=0 */
	struct quarantine_runner *quarantine;	/* expiry and digests */
	struct quarantine_secret quarantine_secret;
	struct event *sigterm, *sigint, *drain;
	int drain_ticks;
	/* Message bytes in memory, all sessions of every protocol, held
	 * under [server] max_buffered together. */
	uint64_t buffered;
};

static void
serve_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct serve *sv = arg;
	struct timeval tv = { 0, 50000 };

	sv->drain_ticks++;
	/* Sessions get SERVE_DRAIN_SECONDS to finish; but a message still
	 * being stored keeps the loop running (up to SERVE_STORE_SECONDS) so
	 * that its 250 can be sent, also over TLS, which needs the loop. */
	if ((smtp_server_sessions(sv->smtp) == 0 &&
	    smtp_server_sessions(sv->submission) == 0 &&
	    imap_server_sessions(sv->imap) == 0 &&
	    pop3_server_sessions(sv->pop3) == 0) ||
	    (sv->drain_ticks > SERVE_DRAIN_SECONDS * 20 &&
	    deliverq_pending(sv->dq) == 0) ||
	    sv->drain_ticks > SERVE_STORE_SECONDS * 20) {
		event_base_loopbreak(sv->base);
		return;
	}
	evtimer_add(sv->drain, &tv);
}

static void
serve_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	struct timeval tv = { 0, 0 };

	if (sv->drain != NULL)
		return;		/* already stopping */
	log_info("serve stopping signal=%d sessions=%u", (int)sig,
	    smtp_server_sessions(sv->smtp));
	smtp_server_shutdown(sv->smtp);
	smtp_server_shutdown(sv->submission);
	imap_server_shutdown(sv->imap);
	pop3_server_shutdown(sv->pop3);
	/* Deliveries in progress are dropped: their recipients stay due. */
	smtp_queue_stop(sv->queue);
	sv->drain = evtimer_new(sv->base, serve_drain_cb, sv);
	evtimer_add(sv->drain, &tv);
}

/* Every session is a descriptor: allow as many as the hard limit does. */
static void
serve_raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* A descriptor per session, and some for the store and listeners. */
	if (rl.rlim_cur < (rlim_t)cfg->smtp_max_sessions + 64)
		log_warning("serve open-files limit=%llu is below smtp.max_sessions=%u",
		    (unsigned long long)rl.rlim_cur, cfg->smtp_max_sessions);
}

/*
 * The delivery worker's prepare hook: renders ENVELOPE, BODY and
 * BODYSTRUCTURE once, off the loop, so that IMAP reads them from the
 * store instead of parsing the message on every FETCH.
 */
static char *
serve_render(struct pool *pool, const struct buf *b)
{
	if (b->data == NULL || b->len > SERVE_RENDER_CACHE_MAX)
		return NULL;
	return pool_strndup(pool, b->data, b->len);
}

static void
serve_prepare(struct store_delivery *d, struct pool *pool)
{
	struct mime_part *root;
	const char *error;
	struct buf b;

	if (mime_parse(d->data, d->size, pool, &root, &error) < 0)
		return;
	buf_init(&b, SERVE_RENDER_CACHE_MAX + 1);
	if (mime_imap_envelope(d->data, d->size, root, &b) == 0)
		d->envelope = serve_render(pool, &b);
	buf_reset(&b);
	if (mime_imap_bodystructure(d->data, d->size, root, false, &b) == 0)
		d->body = serve_render(pool, &b);
	buf_reset(&b);
	if (mime_imap_bodystructure(d->data, d->size, root, true, &b) == 0)
		d->bodystructure = serve_render(pool, &b);
	buf_release(&b);
}

static void
serve_notify(void *ctx, int64_t user_id)
{
	struct serve *sv = ctx;

	imap_server_notify(sv->imap, user_id);
}

/* A submission queued mail for other domains: deliver it now, not at the
 * next [queue] interval. */
static void
serve_queued(void *ctx)
{
	struct serve *sv = ctx;

	smtp_queue_wake(sv->queue);
}

int
cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *overrides[SERVE_OVERRIDES_MAX];
	const char *config_path = NULL, *error;
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct deliverq *dq = NULL;
	struct storeq *authq = NULL, *scanq = NULL;
	struct spam_filter *spam = NULL;
	struct authlimit *authlimit = NULL;
	struct dns *dns = NULL;
	struct dkim_keys *dkim = NULL;
	SSL_CTX *tls = NULL, *verify_tls = NULL;
	struct serve sv;
	size_t n_over = 0;
	int ch, ret = CLI_EXIT_FAIL;

	memset(&sv, 0, sizeof(sv));
	while ((ch = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'o':
			if (n_over >= SERVE_OVERRIDES_MAX)
				return cli_usage("serve: too many -o options");
			overrides[n_over++] = optarg;
			break;
		case 'h':
			fputs(cli_serve_help, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage("serve: bad option or missing value '%.64s' "
			    "(try 'correio serve --help')", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage("serve: unexpected argument '%.64s'", argv[optind]);
	if (config_load(cli_config_path(config_path), overrides, n_over, &cfg,
	    &error) < 0)
		return cli_fail("%s", error);
	log_set_level(cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	serve_raise_fd_limit(cfg);

	if (cfg->tls_cert != NULL && cfg->tls_cert[0] != '\0' &&
	    (tls = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, &error)) == NULL) {
		log_error("serve tls error=\"%s\"", error);
		goto out;
	}
	/* Before privileges are dropped, like the key: [queue]
	 * tls_ca_file may be readable by root only. */
	if (cfg->queue_deliver &&
	    (verify_tls = smtp_client_verify_ctx_new(cfg, &error)) == NULL) {
		log_error("serve queue error=\"%s\"", error);
		goto out;
	}
	{
		/* One thread runs the loop; let epoll coalesce the add/del of
		 * write interest that every reply causes within one turn. */
		struct event_config *ec = event_config_new();

		event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK |
		    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		sv.base = event_base_new_with_config(ec);
		event_config_free(ec);
	}
	if (sv.base == NULL) {
		log_error("serve cannot create the event loop");
		goto out;
	}
	/* Bind as root, then leave root before anything is read. The store
	 * and the delivery thread are opened afterwards, as the user. */
	authlimit = authlimit_new(&(struct authlimit_config){
	    .max_failures = cfg->auth_max_failures,
	    .block_time = cfg->auth_block_time,
	    .failure_delay = cfg->auth_failure_delay,
	    .max_delay = cfg->auth_max_delay,
	    .user_max_failures = cfg->auth_user_max_failures,
	    .user_block_time = cfg->auth_user_block_time,
	});
	sv.smtp = smtp_server_new(sv.base, cfg, SMTP_MODE_INBOUND, NULL, tls);
	if (smtp_server_listen(sv.smtp, &cfg->smtp_listen, false,
	    &error) < 0) {
		log_error("serve smtp error=\"%s\"", error);
		goto out;
	}
	/* One submission server for both ports; failed logins are counted
	 * with IMAP's and POP3's. */
	sv.submission = smtp_server_new(sv.base, cfg, SMTP_MODE_SUBMISSION,
	    authlimit, tls);
	if (smtp_server_listen(sv.submission, &cfg->submission_listen, false,
	    &error) < 0 ||
	    (cfg->submissions_listen.count > 0 && smtp_server_listen(
	    sv.submission, &cfg->submissions_listen, true, &error) < 0)) {
		log_error("serve submission error=\"%s\"", error);
		goto out;
	}
	sv.imap = imap_server_new(sv.base, cfg, NULL, NULL, NULL, authlimit,
	    tls);
	smtp_server_share_buffered(sv.smtp, &sv.buffered);
	smtp_server_share_buffered(sv.submission, &sv.buffered);
	imap_server_share_buffered(sv.imap, &sv.buffered);
	if (imap_server_listen(sv.imap, &cfg->imap_listen, false,
	    &error) < 0 ||
	    (cfg->imaps_listen.count > 0 && imap_server_listen(sv.imap,
	    &cfg->imaps_listen, true, &error) < 0)) {
		log_error("serve imap error=\"%s\"", error);
		goto out;
	}
	sv.pop3 = pop3_server_new(sv.base, cfg, NULL, NULL, NULL, authlimit,
	    tls);
	if (pop3_server_listen(sv.pop3, &cfg->pop3_listen, false,
	    &error) < 0 ||
	    (cfg->pop3s_listen.count > 0 && pop3_server_listen(sv.pop3,
	    &cfg->pop3s_listen, true, &error) < 0)) {
		log_error("serve pop3 error=\"%s\"", error);
		goto out;
	}
	if (privs_enter(cfg->data_dir, cfg->user, &error) < 0) {
		log_error("serve error=\"%s\"", error);
		goto out;
	}
	if (store_open(".", &store, &error) < 0 ||
	    (dq = deliverq_new(sv.base, ".", &error)) == NULL) {
		log_error("serve store error=\"%s\"", error);
		goto out;
	}
	if ((authq = storeq_new(sv.base, ".", SERVE_AUTH_THREADS,
	    &error)) == NULL) {
		log_error("serve store error=\"%s\"", error);
		goto out;
	}
	/* Signing keys: read once, here; new keys need a restart. */
	if ((dkim = dkim_keys_load(".", &error)) == NULL) {
		log_error("serve dkim error=\"%s\"", error);
		goto out;
	}
	log_info("serve dkim keys=%zu", dkim_keys_count(dkim));
	/* Release addresses of held mail; made on first start. */
	if (quarantine_secret_load(&sv.quarantine_secret, &error) < 0) {
		log_error("serve quarantine error=\"%s\"", error);
		goto out;
	}
	smtp_server_set_quarantine(sv.submission, &sv.quarantine_secret);
	/* Releases (self-release over submission, on the writer thread)
	 * train the message as ham for its owner. */
	bayes_config_from(cfg, &serve_bayes);
	quarantine_set_train_ham(bayes_train_ham, &serve_bayes);
	smtp_server_set_dkim(sv.submission, dkim);
	smtp_server_set_store(sv.smtp, store, dq, NULL);
	smtp_server_set_store(sv.submission, store, dq, authq);
	imap_server_set_store(sv.imap, store, dq, authq);
	pop3_server_set_store(sv.pop3, store, dq, authq);
	deliverq_set_prepare(dq, serve_prepare);
	deliverq_set_notify(dq, serve_notify, &sv);
	deliverq_set_indexer(dq, imap_search_index_text,
	    IMAP_SEARCH_INDEX_VERSION);
	sv.dq = dq;
	/* Expiry and digests of held mail, on the writer thread. */
	sv.quarantine = quarantine_runner_new(sv.base, cfg, store, dq,
	    &sv.quarantine_secret, serve_notify, &sv);
	/* One resolver for the deliverer and inbound SPF checks. */
	if ((dns = dns_new(sv.base, cfg, &error)) == NULL) {
		log_error("serve dns error=\"%s\"", error);
		goto out;
	}
	smtp_server_set_dns(sv.smtp, dns);
	/* The spam filter's content checks have workers of their own: a
	 * large message must not hold up password checks. */
	if (cfg->spam_enabled || cfg->spam_submission ||
	    milter_config_wanted(cfg, false) ||
	    milter_config_wanted(cfg, true)) {
		if ((scanq = storeq_new(sv.base, ".", SERVE_SPAM_THREADS,
		    &error)) == NULL ||
		    (spam = spam_filter_new(sv.base, cfg, scanq,
		    &error)) == NULL) {
			log_error("serve spam error=\"%s\"", error);
			goto out;
		}
		smtp_server_set_spam(sv.smtp, spam);
		smtp_server_set_spam(sv.submission, spam);
	}
	if (cfg->queue_deliver) {
		if ((sv.queue = smtp_queue_new(sv.base, cfg, store, dq, dns,
		    verify_tls, &error)) == NULL) {
			log_error("serve queue error=\"%s\"", error);
			goto out;
		}
		deliverq_set_queued(dq, serve_queued, &sv);
	}
	sv.sigterm = evsignal_new(sv.base, SIGTERM, serve_signal_cb, &sv);
	sv.sigint = evsignal_new(sv.base, SIGINT, serve_signal_cb, &sv);
	evsignal_add(sv.sigterm, NULL);
	evsignal_add(sv.sigint, NULL);
	smtp_server_start(sv.smtp);
	smtp_server_start(sv.submission);
	imap_server_start(sv.imap);
	pop3_server_start(sv.pop3);
	log_info("serve ready hostname=%s smtp=\"%s\" submission=\"%s\" "
	    "submissions=\"%s\" imap=\"%s\" "
	    "imaps=\"%s\" pop3=\"%s\" pop3s=\"%s\" tls=%s pid=%d",
	    cfg->hostname,
	    cfg->smtp_listen.text != NULL ? cfg->smtp_listen.text : "",
	    cfg->submission_listen.text != NULL ?
	    cfg->submission_listen.text : "",
	    cfg->submissions_listen.text != NULL ?
	    cfg->submissions_listen.text : "",
	    cfg->imap_listen.text != NULL ? cfg->imap_listen.text : "",
	    cfg->imaps_listen.text != NULL ? cfg->imaps_listen.text : "",
	    cfg->pop3_listen.text != NULL ? cfg->pop3_listen.text : "",
	    cfg->pop3s_listen.text != NULL ? cfg->pop3s_listen.text : "",
	    tls != NULL ? "yes" : "no", (int)getpid());
	event_base_dispatch(sv.base);
	/* Finish cleanly even if asked again. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	log_info("serve stopped");
	ret = CLI_EXIT_OK;
out:
	/* Anything still being stored (only after SERVE_STORE_SECONDS) is
	 * finished here; its session is gone with the loop. */
	smtp_queue_stop(sv.queue);
	deliverq_free(&dq);
	/* After the deliverq: its last result writes call back into it. */
	smtp_queue_free(&sv.queue);
	quarantine_runner_free(&sv.quarantine);
	quarantine_secret_wipe(&sv.quarantine_secret);
	storeq_free(&authq);
	imap_server_free(&sv.imap);
	pop3_server_free(&sv.pop3);
	smtp_server_free(&sv.smtp);
	smtp_server_free(&sv.submission);
	/* After the sessions, which cancel their checks: the cancelled
	 * jobs finish here and free themselves. */
	storeq_free(&scanq);
	spam_filter_free(&spam);
	/* After the sessions: an SPF check cancels its query when freed. */
	dns_free(&dns);
	authlimit_free(&authlimit);
	dkim_keys_free(&dkim);
	store_close(&store);
	if (sv.sigterm != NULL)
		event_free(sv.sigterm);
	if (sv.sigint != NULL)
		event_free(sv.sigint);
	if (sv.drain != NULL)
		event_free(sv.drain);
	if (sv.base != NULL)
		event_base_free(sv.base);
	SSL_CTX_free(tls);
	SSL_CTX_free(verify_tls);
	config_free(&cfg);
	return ret;
}
