/*
 * cli-auth.c - the sender checks inbound SMTP makes, from the command
 * line, with the [dns] resolver of the config, to see why mail from some
 * sender is judged as it is.
 *
 *   correio auth spf --ip IP [--mail-from ADDR] [--helo NAME]
 *   correio auth check --ip IP [--mail-from ADDR] [--helo NAME] [FILE]
 *
 * spf output (stdout), two or three lines:
 *   spf=RESULT identity=mailfrom|helo domain=DOMAIN sender=SENDER ip=IP
 *   reason: WHAT DECIDED (the mechanism, "default", or the problem)
 *   explanation: TEXT (a fail with an exp= explanation only)
 *
 * check runs SPF, DKIM and DMARC on a message (auth/auth-check.h, the
 * code inbound SMTP runs) and prints the Authentication-Results field the
 * server would add, then one line per check with its reason, then what
 * the server would do with the message.
 *
 * Exit codes: 0 the check ran (whatever its result), 1 an error, 2 usage.
 *
 * SECURITY: arguments come from the administrator, records and answers
 * from the network; everything printed from the result is printable
 * ASCII (spf.h) and escaped once more here. Nothing of the data directory
 * is touched and no privileges are needed.
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
#include "dns/dns.h"

#define CLI_AUTH_OVERRIDES_MAX 64
/* Longest --mail-from and --helo: an SMTP path or domain is shorter. */
#define CLI_AUTH_ARG_MAX 512

static const char cli_auth_help[] =
"usage: correio auth spf --ip IP [--mail-from ADDR] [--helo NAME]\n"
"                        [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"       correio auth check --ip IP [--mail-from ADDR] [--helo NAME]\n"
"                        [-c FILE] [-o SECTION.KEY=VALUE]... [MESSAGE]\n"
"\n"
"spf checks SPF (RFC 7208) as inbound SMTP does, with the [dns] resolver:\n"
"does the domain of ADDR (or NAME, when ADDR is empty or <>) allow IP\n"
"to send its mail?\n"
"check runs SPF, DKIM and DMARC on MESSAGE (a file, or standard input)\n"
"as inbound SMTP does, and prints the Authentication-Results field it\n"
"would add, a line per check with the reason, and the action.\n"
"  --ip IP            the client's address, IPv4 or IPv6\n"
"  --mail-from ADDR   the envelope sender (MAIL FROM), with or without <>;\n"
"                     empty or <> checks the HELO name instead\n"
"  --helo NAME        the HELO/EHLO name\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n"
"  -o SECTION.KEY=VALUE\n"
"                     override a configuration key (may be repeated)\n"
"spf prints the result (none, neutral, pass, fail, softfail, temperror,\n"
"permerror) and what decided it. Exit status: 0 checked, 1 error.\n";

/* What both actions take from the command line. */
struct cli_auth_args {
	const char *overrides[CLI_AUTH_OVERRIDES_MAX];
	size_t n_over;
	const char *config_path;
	const char *ip;
	char mail[CLI_AUTH_ARG_MAX + 1];	/* without <>; "" for null */
	const char *helo;
	const char *file;			/* check: the message */
};

/* Parses the options of action ("spf", "check"). Returns -1 when they
 * are good, or the exit code (help printed, or usage error). */
static int
cli_auth_args(int argc, char **argv, const char *action, bool file,
    struct cli_auth_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "ip", required_argument, NULL, 'i' },
		{ "mail-from", required_argument, NULL, 'm' },
		{ "helo", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t len;
	int ch;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->config_path = optarg;
			break;
		case 'o':
			if (a->n_over >= CLI_AUTH_OVERRIDES_MAX)
				return cli_usage("auth %s: too many -o options",
				    action);
			a->overrides[a->n_over++] = optarg;
			break;
		case 'i':
			a->ip = optarg;
			break;
		case 'm':
			len = strlen(optarg);
			if (len > CLI_AUTH_ARG_MAX)
				return cli_usage("auth %s: --mail-from longer "
				    "than %d", action, CLI_AUTH_ARG_MAX);
			/* <addr> as written in MAIL FROM. */
			if (len >= 2 && optarg[0] == '<' &&
			    optarg[len - 1] == '>')
				snprintf(a->mail, sizeof(a->mail), "%.*s",
				    (int)(len - 2), optarg + 1);
			else
				snprintf(a->mail, sizeof(a->mail), "%s",
				    optarg);
			break;
		case 'H':
			if (strlen(optarg) > CLI_AUTH_ARG_MAX)
				return cli_usage("auth %s: --helo longer than "
				    "%d", action, CLI_AUTH_ARG_MAX);
			a->helo = optarg;
			break;
		case 'h':
			fputs(cli_auth_help, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage("auth %s: bad option or missing value "
			    "'%.64s' (try 'correio auth --help')", action,
			    argv[optind - 1]);
		}
	}
	if (file && optind < argc)
		a->file = argv[optind++];
	if (optind != argc)
		return cli_usage("auth %s: unexpected argument '%.64s'",
		    action, argv[optind]);
	if (a->ip == NULL)
		return cli_usage("auth %s: --ip is required", action);
	if (a->mail[0] == '\0' && (a->helo == NULL || a->helo[0] == '\0'))
		return cli_usage("auth %s: give --mail-from, or --helo for "
		    "a null sender", action);
	return -1;
}

struct cli_auth_spf {
	struct event_base *base;
	bool done;
	const struct spf_result *result;
};

static void
cli_auth_spf_done(void *ctx, const struct spf_result *result)
{
	struct cli_auth_spf *a = ctx;

	a->result = result;
	a->done = true;
	event_base_loopbreak(a->base);
}

static void
cli_auth_spf_print(const struct spf_result *r, const char *ip)
{
	char esc[LOG_ESCAPE_MAX];

	printf("spf=%s identity=%s domain=%s", spf_status_name(r->status),
	    spf_identity_name(r->identity), log_escape(esc, sizeof(esc),
	    r->domain, strlen(r->domain)));
	printf(" sender=%s ip=%s\n", log_escape(esc, sizeof(esc), r->sender,
	    strlen(r->sender)), ip);
	if (r->problem != NULL)
		printf("reason: %s\n", log_escape(esc, sizeof(esc), r->problem,
		    strlen(r->problem)));
	else if (r->mechanism != NULL && strcmp(r->mechanism, "default") == 0)
		printf("reason: no mechanism matched (default result)\n");
	else if (r->mechanism != NULL)
		printf("reason: mechanism %s matched\n", log_escape(esc,
		    sizeof(esc), r->mechanism, strlen(r->mechanism)));
	if (r->explanation != NULL)
		printf("explanation: %s\n", log_escape(esc, sizeof(esc),
		    r->explanation, strlen(r->explanation)));
}

static int
cli_auth_spf(int argc, char **argv)
{
	const char *error;
	struct cli_auth_args args;
	struct config *cfg = NULL;
	struct dns *dns = NULL;
	struct spf_check *check = NULL;
	struct spf_request req;
	struct spf_dns sd;
	struct cli_auth_spf a;
	int ret = CLI_EXIT_FAIL;

	memset(&a, 0, sizeof(a));
	if ((ret = cli_auth_args(argc, argv, "spf", false, &args)) >= 0)
		return ret;
	ret = CLI_EXIT_FAIL;
	if (config_load(cli_config_path(args.config_path), args.overrides,
	    args.n_over, &cfg, &error) < 0)
		return cli_fail("%s", error);
	log_set_level(cfg->log_level);
	a.base = event_base_new();
	if (a.base == NULL) {
		cli_fail("cannot create the event loop");
		goto out;
	}
	if ((dns = dns_new(a.base, cfg, &error)) == NULL) {
		cli_fail("%s", error);
		goto out;
	}
	spf_dns_init(&sd, dns);
	memset(&req, 0, sizeof(req));
	req.ip = args.ip;
	req.mail_from = args.mail;
	req.helo = args.helo;
	req.hostname = cfg->hostname;
	if ((check = spf_check_start(a.base, &sd, &req, cli_auth_spf_done, &a,
	    &error)) == NULL) {
		ret = cli_usage("auth spf: --ip '%.64s': %s", args.ip, error);
		goto out;
	}
	/* Bounded: the check ends by its own time limit. */
	while (!a.done)
		if (event_base_dispatch(a.base) < 0)
			break;
	if (!a.done) {
		cli_fail("auth spf: the event loop stopped");
		goto out;
	}
	cli_auth_spf_print(a.result, args.ip);
	fflush(stdout);
	ret = CLI_EXIT_OK;
out:
	spf_check_free(&check);
	dns_free(&dns);
	if (a.base != NULL)
		event_base_free(a.base);
	config_free(&cfg);
	return ret;
}

struct cli_auth_check {
	struct event_base *base;
	bool done;
	bool enforce;		/* [auth] dmarc_enforce */
};

/* One line per check, with its reason, then the action. */
static void
cli_auth_check_print(const struct auth_check_result *r, bool enforce)
{
	char a[LOG_ESCAPE_MAX], b[LOG_ESCAPE_MAX];
	const struct spf_result *spf = r->spf;
	const char *why;
	size_t i;

	fwrite(r->header.data, 1, r->header.len, stdout);
	if (spf != NULL) {
		why = spf->problem != NULL ? spf->problem :
		    spf->mechanism == NULL ? "" :
		    strcmp(spf->mechanism, "default") == 0 ?
		    "no mechanism matched (default result)" : spf->mechanism;
		printf("spf: %s for %s %s: %s\n", spf_status_name(spf->status),
		    spf_identity_name(spf->identity),
		    log_escape(a, sizeof(a), spf->sender, strlen(spf->sender)),
		    log_escape(b, sizeof(b), why, strlen(why)));
	} else {
		printf("spf: not checked (the address is not an IP)\n");
	}
	if (r->dkim == NULL || r->dkim->n_sigs == 0)
		printf("dkim: none: the message has no DKIM-Signature\n");
	for (i = 0; r->dkim != NULL && i < r->dkim->n_sigs; i++) {
		const struct dkim_sig_result *s = &r->dkim->sigs[i];

		printf("dkim: %s d=%s s=%s a=%s: %s\n",
		    dkim_status_name(s->status),
		    s->domain != NULL ? s->domain : "-",
		    s->selector != NULL ? s->selector : "-",
		    s->algorithm != NULL ? s->algorithm : "-", s->reason);
	}
	if (r->dkim != NULL && r->dkim->n_ignored > 0)
		printf("dkim: %zu more signatures not verified (limit %d)\n",
		    r->dkim->n_ignored, DKIM_SIGS_MAX);
	printf("dmarc: %s header.from=%s", dmarc_status_name(r->dmarc.status),
	    r->dmarc.from_domain[0] != '\0' ? r->dmarc.from_domain : "-");
	if (r->dmarc.status == DMARC_PASS || r->dmarc.status == DMARC_FAIL)
		printf(" policy=%s (from _dmarc.%s) spf_aligned=%s "
		    "dkim_aligned=%s", dmarc_policy_name(r->dmarc.policy),
		    r->dmarc.policy_domain, r->dmarc.spf_aligned ? "yes" : "no",
		    r->dmarc.dkim_aligned ? "yes" : "no");
	printf(": %s\n", r->dmarc.reason);
	switch (enforce ? r->disposition : DMARC_POLICY_NONE) {
	case DMARC_POLICY_REJECT:
		printf("action: reject (550 5.7.1 at the end of DATA)\n");
		break;
	case DMARC_POLICY_QUARANTINE:
		printf("action: deliver to Junk\n");
		break;
	case DMARC_POLICY_NONE:
		printf("action: deliver to INBOX%s\n", !enforce &&
		    r->disposition != DMARC_POLICY_NONE ?
		    " ([auth] dmarc_enforce is off)" : "");
		break;
	}
}

static void
cli_auth_check_done(void *ctx, const struct auth_check_result *result)
{
	struct cli_auth_check *c = ctx;

	/* The result lives during the callback only: print it now. */
	cli_auth_check_print(result, c->enforce);
	fflush(stdout);
	c->done = true;
	event_base_loopbreak(c->base);
}

static int
cli_auth_check(int argc, char **argv)
{
	const char *error;
	struct cli_auth_args args;
	struct config *cfg = NULL;
	struct dns *dns = NULL;
	struct dkim_verifier *verifier = NULL;
	struct auth_check *check = NULL;
	struct auth_check_request req;
	struct spf_dns sd;
	struct cli_auth_check c;
	struct buf msg;
	int ret;

	memset(&c, 0, sizeof(c));
	if ((ret = cli_auth_args(argc, argv, "check", true, &args)) >= 0)
		return ret;
	ret = CLI_EXIT_FAIL;
	if (config_load(cli_config_path(args.config_path), args.overrides,
	    args.n_over, &cfg, &error) < 0)
		return cli_fail("%s", error);
	log_set_level(cfg->log_level);
	buf_init(&msg, (size_t)cfg->max_message_size);
	if (cli_read_message("auth check", args.file, &msg) < 0)
		goto out;
	if ((c.base = event_base_new()) == NULL) {
		cli_fail("cannot create the event loop");
		goto out;
	}
	if ((dns = dns_new(c.base, cfg, &error)) == NULL) {
		cli_fail("%s", error);
		goto out;
	}
	spf_dns_init(&sd, dns);
	verifier = dkim_verifier_new(c.base, dns);
	memset(&req, 0, sizeof(req));
	req.authserv_id = cfg->hostname;
	req.msg = msg.data != NULL ? msg.data : "";
	req.len = msg.len;
	req.now = time(NULL);
	req.ip = args.ip;
	req.helo = args.helo;
	req.mail_from = args.mail;
	c.enforce = cfg->auth_dmarc_enforce;
	check = auth_check_start(c.base, dns, &sd, verifier, &req,
	    cli_auth_check_done, &c);
	/* Bounded: SPF, key and policy lookups have their time limits. */
	while (!c.done)
		if (event_base_dispatch(c.base) < 0)
			break;
	if (!c.done) {
		cli_fail("auth check: the event loop stopped");
		goto out;
	}
	check = NULL;		/* called back: the check is gone */
	ret = CLI_EXIT_OK;
out:
	auth_check_cancel(&check);
	dkim_verifier_free(&verifier);
	dns_free(&dns);
	if (c.base != NULL)
		event_base_free(c.base);
	buf_release(&msg);
	config_free(&cfg);
	return ret;
}

int
cli_auth(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc < 2)
			return cli_usage("auth: missing action: spf or check "
			    "(try 'correio auth --help')");
		fputs(cli_auth_help, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "spf") == 0)
		return cli_auth_spf(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return cli_auth_check(argc - 1, argv + 1);
	return cli_usage("auth: unknown action '%.64s' (spf, check)",
	    argv[1]);
}
