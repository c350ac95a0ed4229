/*
 * cli-spam-milter.c - `correio spam milter`: runs a message through the
 * [milter] servers of the config with the client inbound SMTP uses
 * (filter/milter.h), and prints what they decided.
 *
 *   correio spam milter [--ip IP] [--helo NAME] [--mail-from ADDR]
 *       [--rcpt ADDR]... [--output OUT] [-c FILE] [-o SECTION.KEY=VALUE]...
 *       [FILE]
 *
 * Output (stdout), one item a line:
 *   verdict: accept|reject|tempfail|discard|quarantine
 *   milter: SPEC                     the milter that decided, if one did
 *   reply: LINE                      each line of the SMTP reply
 *   quarantine: REASON
 *   header: add|insert N|change N|delete N NAME: VALUE
 *   ignored: N                       modifications refused
 *   failed: SPEC: WHY                a milter failed (on_failure applied)
 * With --output, the message with the header changes applied (what the
 * server would store) is written to OUT.
 *
 * Exit codes: 0 the check ran (whatever its verdict), 1 an error, 2 usage.
 *
 * SECURITY: arguments come from the administrator; what the milters
 * send is validated by the client and escaped again before it is
 * printed.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "filter/milter.h"

/* Recipients given with --rcpt, at most (RFC 5321 4.5.3.1.8). */
#define CLI_MILTER_RCPTS_MAX 100

static const char cli_spam_milter_help[] =
"usage: correio spam milter [--ip IP] [--helo NAME] [--mail-from ADDR]\n"
"           [--rcpt ADDR]... [--output OUT] [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"           [FILE]\n"
"\n"
"Runs the message in FILE (or standard input) through the [milter]\n"
"servers as inbound SMTP would, and prints the verdict, the SMTP reply,\n"
"the quarantine reason and the header changes the milters asked for.\n"
"  --ip IP            the client's address, IPv4 or IPv6 (default: none)\n"
"  --helo NAME        the HELO/EHLO name\n"
"  --mail-from ADDR   the envelope sender, without <> (default: null)\n"
"  --rcpt ADDR        a recipient (may be repeated; default:\n"
"                     postmaster@ the [server] hostname)\n"
"  --output OUT       write the message with the header changes applied\n"
"                     (what the server would store) to OUT\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n"
"  -o SECTION.KEY=VALUE\n"
"                     override a configuration key (may be repeated)\n"
"Exit status: 0 checked (whatever the verdict), 1 error, 2 usage.\n";

struct cli_milter_args {
	const char *ip;
	const char *helo;
	const char *mail_from;
	const char *rcpts[CLI_MILTER_RCPTS_MAX];
	size_t n_rcpts;
	const char *output;
};

struct cli_milter_run {
	struct event_base *base;
	const struct buf *msg;
	const char *output;
	bool done;
	bool failed;		/* --output could not be written */
};

static int
cli_spam_milter_opt(int ch, const char *arg, void *ctx)
{
	struct cli_milter_args *a = ctx;

	switch (ch) {
	case 'i':
		a->ip = arg;
		return -1;
	case 'H':
		a->helo = arg;
		return -1;
	case 'f':
		a->mail_from = arg;
		return -1;
	case 'O':
		a->output = arg;
		return -1;
	case 'r':
		if (a->n_rcpts == CLI_MILTER_RCPTS_MAX)
			return cli_usage("spam milter: at most %d --rcpt",
			    CLI_MILTER_RCPTS_MAX);
		a->rcpts[a->n_rcpts++] = arg;
		return -1;
	default:
		return cli_usage("spam milter: bad option (try 'correio spam "
		    "milter --help')");
	}
}

/* Prints s escaped, whatever the milter put in it. */
static void
cli_milter_print(const char *label, const char *s)
{
	size_t len = strlen(s), cap = 4 * len + 8;
	char *esc = xmalloc(cap);

	log_escape(esc, cap, s, len);
	printf("%s%s\n", label, esc);
	free(esc);
}

/* Writes msg with the header changes of res to path. */
static int
cli_milter_write(const char *path, const struct milter_result *res,
    const struct buf *msg)
{
	struct buf out;
	FILE *f;
	int ret = 0;

	/* Each change adds at most a field of bounded size. */
	buf_init(&out, msg->len + MILTER_MODS_MAX *
	    (MILTER_HEADER_NAME_MAX + 2 * MILTER_HEADER_VALUE_MAX + 4));
	if (milter_mods_apply(res->mods, res->n_mods, msg->data != NULL ?
	    msg->data : "", msg->len, &out) < 0) {
		buf_release(&out);
		(void)cli_fail("spam milter: the changed message is too big");
		return -1;
	}
	f = fopen(path, "we");
	if (f == NULL || fwrite(out.data != NULL ? out.data : "", 1, out.len,
	    f) != out.len)
		ret = -1;
	if (f != NULL && fclose(f) != 0)
		ret = -1;
	if (ret < 0)
		(void)cli_fail("spam milter: cannot write %s", path);
	buf_release(&out);
	return ret;
}

static void
cli_spam_milter_done(void *ctx, const struct milter_result *res)
{
	struct cli_milter_run *run = ctx;

	printf("verdict: %s\n", milter_verdict_name(res->verdict));
	if (res->milter[0] != '\0')
		cli_milter_print("milter: ", res->milter);
	if (res->verdict == MILTER_VERDICT_REJECT ||
	    res->verdict == MILTER_VERDICT_TEMPFAIL) {
		const char *p = res->reply;

		while (*p != '\0') {
			const char *e = strstr(p, "\r\n");
			size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
			char *line = xstrndup(p, n);

			cli_milter_print("reply: ", line);
			free(line);
			p += n + (e != NULL ? 2 : 0);
		}
	}
	if (res->verdict == MILTER_VERDICT_QUARANTINE)
		cli_milter_print("quarantine: ", res->quarantine);
	for (size_t i = 0; i < res->n_mods; i++) {
		const struct milter_mod *m = &res->mods[i];
		char label[64];
		char *text = xasprintf("%s:%s", m->name, m->value);

		if (m->type == MILTER_MOD_ADD)
			(void)snprintf(label, sizeof(label), "header: add ");
		else
			(void)snprintf(label, sizeof(label), "header: %s %u ",
			    milter_mod_name(m), (unsigned)m->index);
		cli_milter_print(label, text);
		free(text);
	}
	if (res->ignored > 0)
		printf("ignored: %u\n", res->ignored);
	if (res->failed)
		cli_milter_print("failed: ", res->error);
	if (run->output != NULL)
		run->failed = cli_milter_write(run->output, res, run->msg) < 0;
	run->done = true;
	event_base_loopbreak(run->base);
}

int
cli_spam_milter(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "ip", required_argument, NULL, 'i' },
		{ "helo", required_argument, NULL, 'H' },
		{ "mail-from", required_argument, NULL, 'f' },
		{ "rcpt", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_milter_args a;
	struct cli_milter_run run;
	struct milter_config mc;
	struct milter_request req;
	struct sockaddr_storage ss;
	struct config *cfg = NULL;
	struct buf msg;
	char qid[32], *postmaster = NULL;
	int r, ret = CLI_EXIT_FAIL;

	memset(&a, 0, sizeof(a));
	if ((r = cli_spam_config(argc, argv, cli_spam_milter_help, extra,
	    cli_spam_milter_opt, &a, &cfg)) >= 0)
		return r;
	if (argc - optind > 1) {
		config_free(&cfg);
		return cli_usage("spam milter: at most one FILE");
	}
	memset(&req, 0, sizeof(req));
	memset(&ss, 0, sizeof(ss));
	if (a.ip != NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET, a.ip, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
		} else if (inet_pton(AF_INET6, a.ip, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
		} else {
			config_free(&cfg);
			return cli_usage("spam milter: --ip '%.64s' is not an "
			    "IP address", a.ip);
		}
		req.client_addr = (struct sockaddr *)&ss;
	}
	log_set_level(cfg->log_level);
	buf_init(&msg, (size_t)cfg->max_message_size);
	if (cli_read_message("spam milter", optind < argc ? argv[optind] :
	    NULL, &msg) < 0)
		goto out;
	if (cfg->milter_servers.count == 0) {
		cli_fail("spam milter: [milter] servers is empty");
		goto out;
	}
	/* A milter that closes mid-write must not kill the command. */
	signal(SIGPIPE, SIG_IGN);
	milter_config_init(&mc, cfg);
	(void)snprintf(qid, sizeof(qid), "%08X", (unsigned)getpid());
	req.helo = a.helo;
	req.mail_from = a.mail_from != NULL ? a.mail_from : "";
	if (a.n_rcpts == 0) {
		/* A milter expects a recipient (milter.h). */
		postmaster = xasprintf("postmaster@%s", cfg->hostname);
		a.rcpts[a.n_rcpts++] = postmaster;
	}
	req.rcpts = a.rcpts;
	req.n_rcpts = a.n_rcpts;
	req.msg = msg.data != NULL ? msg.data : "";
	req.len = msg.len;
	req.queue_id = qid;
	req.daemon_name = "smtp";
	if ((run.base = event_base_new()) == NULL) {
		cli_fail("spam milter: cannot create the event loop");
		goto out;
	}
	run.done = false;
	run.failed = false;
	run.msg = &msg;
	run.output = a.output;
	(void)milter_check_start(run.base, &mc, &req, cli_spam_milter_done,
	    &run);
	(void)event_base_dispatch(run.base);
	event_base_free(run.base);
	if (run.done && !run.failed)
		ret = CLI_EXIT_OK;
	else if (run.done)
		ret = CLI_EXIT_FAIL;
	else
		cli_fail("spam milter: the check did not finish");
out:
	free(postmaster);
	buf_release(&msg);
	config_free(&cfg);
	return ret;
}
