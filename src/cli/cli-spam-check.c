/*
 * cli-spam-check.c - `correio spam check`: the spam filter's pipeline
 * (filter/spam-check.h, the code inbound SMTP runs at the end of DATA)
 * on messages in files, to see why a message gets its score, and to
 * measure the filter.
 *
 *   correio spam check [--ip IP [--helo NAME] [--mail-from ADDR]]
 *                      [--rcpt ADDR]... [-c FILE] [-o SECTION.KEY=VALUE]... [FILE...]
 *
 * With --ip, SPF, DKIM and DMARC are checked first, as inbound SMTP
 * does (auth/auth-check.h), with the [dns] resolver; without it the
 * message is judged on its content alone. For each message it prints
 * the X-Spam-Score and X-Spam-Status fields the server would add, then
 * one line per symbol with its weight and detail, then the action. With
 * more than one FILE each message's lines come after a line
 * "==> FILE <==", in the order the files were given; several are
 * scanned at once on the filter's worker threads.
 *
 * Exit codes: 0 every message was checked (whatever the verdict), 1 an
 * error (a file that cannot be read), 2 usage.
 *
 * SECURITY: messages are hostile (see the checks); files come from the
 * administrator. Every file is read first (each up to [server]
 * max_message_size); then, run as root, it becomes the server's user
 * before it opens the data directory (the hosted domains are read from
 * it).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "auth/auth-check.h"
#include "auth/dkim.h"
#include "auth/spf.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/privs.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "filter/spam-check.h"
#include "store/storeq.h"

#define CLI_SPAM_CHECK_THREADS 2
/* Messages in flight at once (read, checked, not printed yet). */
#define CLI_SPAM_CHECK_WINDOW 8
#define CLI_SPAM_ARG_MAX 512
#define CLI_SPAM_RCPTS_MAX 100

static const char cli_spam_check_help[] =
"usage: correio spam check [--ip IP [--helo NAME] [--mail-from ADDR]]\n"
"                          [--rcpt ADDR]... [-c FILE] [-o SECTION.KEY=VALUE]... [FILE...]\n"
"\n"
"Runs the spam filter on each message (a file, or standard input) as\n"
"inbound SMTP does, and prints the X-Spam-Score and X-Spam-Status fields\n"
"it would add, a line per symbol with its weight, and the action (inbox,\n"
"junk, quarantine, reject).\n"
"  --ip IP            check SPF, DKIM and DMARC first, for a client at IP\n"
"  --helo NAME        the HELO/EHLO name (with --ip)\n"
"  --mail-from ADDR   the envelope sender (with --ip); empty or <> for\n"
"                     the null sender\n"
"  --rcpt ADDR        a recipient (for the lists of --for owners)\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n"
"  -o SECTION.KEY=VALUE\n"
"                     override a configuration key (may be repeated)\n"
"With several files, each message's lines follow \"==> FILE <==\".\n"
"Exit status: 0 checked, 1 error, 2 usage.\n";

struct cli_spam_check_args {
	const char *ip;
	const char *helo;
	char mail[CLI_SPAM_ARG_MAX + 1];
	const char *rcpts[CLI_SPAM_RCPTS_MAX];
	size_t n_rcpts;
};

struct cli_spam_run;

/* One message on its way through the checks. */
struct cli_spam_item {
	struct cli_spam_run *run;
	size_t index;			/* in the file list */
	const char *path;
	struct buf msg;
	struct auth_check *auth;
	struct buf out;			/* what to print, once done */
	bool done;
	bool failed;
};

struct cli_spam_run {
	struct event_base *base;
	const struct config *cfg;
	struct spam_filter *filter;
	struct dns *dns;
	struct spf_dns spf_dns;
	struct dkim_verifier *verifier;
	const struct cli_spam_check_args *args;
	char **files;
	size_t n_files;
	bool stdin_only;
	struct cli_spam_item *items;	/* n_files of them */
	size_t next;			/* first file not started */
	size_t printed;			/* first item not printed */
	size_t in_flight;
	bool stopping;			/* no more starts */
	int ret;
};

static int
cli_spam_check_opt(int ch, const char *arg, void *ctx)
{
	struct cli_spam_check_args *a = ctx;
	size_t len;

	switch (ch) {
	case 'i':
		a->ip = arg;
		return -1;
	case 'H':
		if (strlen(arg) > CLI_SPAM_ARG_MAX)
			return cli_usage("spam check: --helo longer than %d",
			    CLI_SPAM_ARG_MAX);
		a->helo = arg;
		return -1;
	case 'r':
		if (a->n_rcpts == CLI_SPAM_RCPTS_MAX)
			return cli_usage("spam check: more than %d --rcpt",
			    CLI_SPAM_RCPTS_MAX);
		a->rcpts[a->n_rcpts++] = arg;
		return -1;
	case 'm':
		len = strlen(arg);
		if (len > CLI_SPAM_ARG_MAX)
			return cli_usage("spam check: --mail-from longer than "
			    "%d", CLI_SPAM_ARG_MAX);
		if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>')
			(void)snprintf(a->mail, sizeof(a->mail), "%.*s",
			    (int)(len - 2), arg + 1);
		else
			(void)snprintf(a->mail, sizeof(a->mail), "%s", arg);
		return -1;
	}
	return cli_usage("spam check: bad option (try 'correio spam check "
	    "--help')");
}

static void cli_spam_fill(struct cli_spam_run *run);

/* Prints what is done, in file order. */
static void
cli_spam_flush(struct cli_spam_run *run)
{
	while (run->printed < run->n_files && run->items[run->printed].done) {
		struct cli_spam_item *it = &run->items[run->printed++];

		if (run->n_files > 1)
			printf("==> %s <==\n", it->path);
		if (it->out.len > 0)
			fwrite(it->out.data, 1, it->out.len, stdout);
		buf_release(&it->out);
	}
	fflush(stdout);
}

static void
cli_spam_item_finish(struct cli_spam_item *it)
{
	struct cli_spam_run *run = it->run;

	buf_release(&it->msg);
	it->done = true;
	run->in_flight--;
	if (it->failed)
		run->ret = CLI_EXIT_FAIL;
	cli_spam_flush(run);
	cli_spam_fill(run);
	if (run->printed == run->n_files)
		event_base_loopbreak(run->base);
}

static void
cli_spam_item_verdict(void *ctx, const struct spam_verdict *v)
{
	struct cli_spam_item *it = ctx;
	const struct spam_result *r = v->result;

	it->msg = *v->msg;
	buf_init(v->msg, 0);
	(void)buf_append(&it->out, v->header, v->header_len);
	for (size_t i = 0; i < r->n_hits; i++)
		(void)buf_printf(&it->out, "symbol: %s %.2f%s%s\n",
		    spam_symbols[r->hits[i].symbol].name, r->hits[i].score,
		    r->hits[i].detail[0] != '\0' ? " " : "",
		    r->hits[i].detail);
	(void)buf_printf(&it->out, "action: %s (%s)\n",
	    spam_action_name(v->action), v->reason);
	cli_spam_item_finish(it);
}

static void
cli_spam_item_spam(struct cli_spam_item *it,
    const struct auth_check_result *auth)
{
	struct cli_spam_run *run = it->run;
	struct spam_check_request req = {
		.msg = &it->msg,
		.offset = 0,
		.id = "cli",
		.peer = run->args->ip != NULL ? run->args->ip : "",
		.helo = run->args->helo,
		.mail_from = run->args->mail,
		.rcpts = run->args->rcpts,
		.n_rcpts = run->args->n_rcpts,
		.auth = auth,
		.now = time(NULL),
	};

	(void)spam_check_start(run->filter, &req, cli_spam_item_verdict, it);
}

static void
cli_spam_item_auth_done(void *ctx, const struct auth_check_result *r)
{
	struct cli_spam_item *it = ctx;

	it->auth = NULL;
	(void)buf_append(&it->out, r->header.data, r->header.len);
	cli_spam_item_spam(it, r);
}

/* Reads every message, before privileges are dropped: the files are
 * the administrator's, readable by root perhaps only. */
static void
cli_spam_read_all(struct cli_spam_run *run)
{
	for (size_t i = 0; i < run->n_files; i++) {
		struct cli_spam_item *it = &run->items[i];

		it->run = run;
		it->path = run->files[i];
		buf_init(&it->out, 1024 * 1024);
		buf_init(&it->msg, (size_t)run->cfg->max_message_size);
		if (cli_read_message("spam check", run->stdin_only ? NULL :
		    it->path, &it->msg) < 0) {
			it->failed = true;
			buf_release(&it->msg);
		}
	}
}

static void
cli_spam_item_start(struct cli_spam_run *run, struct cli_spam_item *it)
{
	run->in_flight++;
	if (it->failed) {
		(void)buf_printf(&it->out, "error: cannot read the message\n");
		cli_spam_item_finish(it);
		return;
	}
	if (run->args->ip != NULL) {
		struct auth_check_request req = {
			.authserv_id = run->cfg->hostname,
			.msg = it->msg.data != NULL ? it->msg.data : "",
			.len = it->msg.len,
			.now = time(NULL),
			.ip = run->args->ip,
			.helo = run->args->helo,
			.mail_from = run->args->mail,
		};

		it->auth = auth_check_start(run->base, run->dns, &run->spf_dns,
		    run->verifier, &req, cli_spam_item_auth_done, it);
		return;
	}
	cli_spam_item_spam(it, NULL);
}

/* Starts messages while the window has room. A read error finishes an
 * item at once, which calls back here: the loop guards by in_flight. */
static void
cli_spam_fill(struct cli_spam_run *run)
{
	while (!run->stopping && run->next < run->n_files &&
	    run->in_flight < CLI_SPAM_CHECK_WINDOW) {
		struct cli_spam_item *it = &run->items[run->next];

		it->index = run->next++;
		cli_spam_item_start(run, it);
	}
}

int
cli_spam_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ip", required_argument, NULL, 'i' },
		{ "helo", required_argument, NULL, 'H' },
		{ "mail-from", required_argument, NULL, 'm' },
		{ "rcpt", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_spam_check_args args;
	struct cli_spam_run run;
	struct config *cfg = NULL;
	struct storeq *scanq = NULL;
	char *stdin_name[] = { "-" };
	const char *error;
	int r;

	memset(&args, 0, sizeof(args));
	memset(&run, 0, sizeof(run));
	if ((r = cli_spam_config(argc, argv, cli_spam_check_help, opts,
	    cli_spam_check_opt, &args, &cfg)) >= 0)
		return r;
	run.ret = CLI_EXIT_FAIL;
	run.cfg = cfg;
	run.args = &args;
	if ((args.helo != NULL || args.mail[0] != '\0') && args.ip == NULL) {
		config_free(&cfg);
		return cli_usage("spam check: --helo and --mail-from need --ip");
	}
	if (optind < argc) {
		run.files = argv + optind;
		run.n_files = (size_t)(argc - optind);
	} else {
		run.files = stdin_name;
		run.n_files = 1;
		run.stdin_only = true;
	}
	log_set_level(cfg->log_level);
	run.items = xcalloc(run.n_files, sizeof(*run.items));
	cli_spam_read_all(&run);
	if (privs_enter(cfg->data_dir, cfg->user, &error) < 0) {
		cli_fail("%s", error);
		goto out;
	}
	if ((run.base = event_base_new()) == NULL) {
		cli_fail("cannot create the event loop");
		goto out;
	}
	if ((scanq = storeq_new(run.base, ".", CLI_SPAM_CHECK_THREADS,
	    &error)) == NULL ||
	    (run.filter = spam_filter_new(run.base, cfg, scanq,
	    &error)) == NULL) {
		cli_fail("spam check: %s", error);
		goto out;
	}
	if (args.ip != NULL) {
		if ((run.dns = dns_new(run.base, cfg, &error)) == NULL) {
			cli_fail("%s", error);
			goto out;
		}
		spf_dns_init(&run.spf_dns, run.dns);
		run.verifier = dkim_verifier_new(run.base, run.dns);
	}
	run.ret = CLI_EXIT_OK;
	cli_spam_fill(&run);
	/* Bounded: every check ends (DNS has its time limits). */
	while (run.printed < run.n_files)
		if (event_base_dispatch(run.base) < 0)
			break;
	if (run.printed < run.n_files) {
		cli_fail("spam check: the event loop stopped");
		run.ret = CLI_EXIT_FAIL;
	}
out:
	run.stopping = true;
	storeq_free(&scanq);
	spam_filter_free(&run.filter);
	dkim_verifier_free(&run.verifier);
	dns_free(&run.dns);
	if (run.base != NULL)
		event_base_free(run.base);
	for (size_t i = 0; run.items != NULL && i < run.n_files; i++) {
		buf_release(&run.items[i].msg);
		buf_release(&run.items[i].out);
	}
	free(run.items);
	config_free(&cfg);
	return run.ret;
}
