/*
 * cli-auth.c - `correio auth spf`: the SPF check (RFC 7208) that inbound
 * SMTP makes, from the command line, with the [dns] resolver of the
 * config, to see why mail from some sender is judged as it is.
 *
 *   correio auth spf --ip IP [--mail-from ADDR] [--helo NAME]
 *
 * Output (stdout), two or three lines:
 *   spf=RESULT identity=mailfrom|helo domain=DOMAIN sender=SENDER ip=IP
 *   reason: WHAT DECIDED (the mechanism, "default", or the problem)
 *   explanation: TEXT (a fail with an exp= explanation only)
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

#include <event2/event.h>

#include "auth/spf.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "dns/dns.h"

#define CLI_AUTH_OVERRIDES_MAX 64
/* Longest --mail-from and --helo: an SMTP path or domain is shorter. */
#define CLI_AUTH_ARG_MAX 512

static const char cli_auth_help[] =
"usage: correio auth spf --ip IP [--mail-from ADDR] [--helo NAME]\n"
"                        [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"\n"
"Checks SPF (RFC 7208) as inbound SMTP does, with the [dns] resolver:\n"
"does the domain of ADDR (or NAME, when ADDR is empty or <>) allow IP\n"
"to send its mail?\n"
"  --ip IP            the client's address, IPv4 or IPv6\n"
"  --mail-from ADDR   the envelope sender (MAIL FROM), with or without <>;\n"
"                     empty or <> checks the HELO name instead\n"
"  --helo NAME        the HELO/EHLO name\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n"
"  -o SECTION.KEY=VALUE\n"
"                     override a configuration key (may be repeated)\n"
"Prints the result (none, neutral, pass, fail, softfail, temperror,\n"
"permerror) and what decided it. Exit status: 0 checked, 1 error.\n";

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
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "ip", required_argument, NULL, 'i' },
		{ "mail-from", required_argument, NULL, 'm' },
		{ "helo", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *overrides[CLI_AUTH_OVERRIDES_MAX];
	const char *config_path = NULL, *error, *ip = NULL;
	char mail[CLI_AUTH_ARG_MAX + 1] = "", *helo = NULL;
	struct config *cfg = NULL;
	struct dns *dns = NULL;
	struct spf_check *check = NULL;
	struct spf_request req;
	struct spf_dns sd;
	struct cli_auth_spf a;
	size_t n_over = 0, len;
	int ch, ret = CLI_EXIT_FAIL;

	memset(&a, 0, sizeof(a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'o':
			if (n_over >= CLI_AUTH_OVERRIDES_MAX)
				return cli_usage("auth spf: too many -o options");
			overrides[n_over++] = optarg;
			break;
		case 'i':
			ip = optarg;
			break;
		case 'm':
			len = strlen(optarg);
			if (len > CLI_AUTH_ARG_MAX)
				return cli_usage("auth spf: --mail-from longer "
				    "than %d", CLI_AUTH_ARG_MAX);
			/* <addr> as written in MAIL FROM. */
			if (len >= 2 && optarg[0] == '<' &&
			    optarg[len - 1] == '>')
				snprintf(mail, sizeof(mail), "%.*s",
				    (int)(len - 2), optarg + 1);
			else
				snprintf(mail, sizeof(mail), "%s", optarg);
			break;
		case 'H':
			if (strlen(optarg) > CLI_AUTH_ARG_MAX)
				return cli_usage("auth spf: --helo longer than "
				    "%d", CLI_AUTH_ARG_MAX);
			helo = optarg;
			break;
		case 'h':
			fputs(cli_auth_help, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage("auth spf: bad option or missing value "
			    "'%.64s' (try 'correio auth spf --help')",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage("auth spf: unexpected argument '%.64s'",
		    argv[optind]);
	if (ip == NULL)
		return cli_usage("auth spf: --ip is required");
	if (mail[0] == '\0' && (helo == NULL || helo[0] == '\0'))
		return cli_usage("auth spf: give --mail-from, or --helo for "
		    "a null sender");

	if (config_load(cli_config_path(config_path), overrides, n_over, &cfg,
	    &error) < 0)
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
	req.ip = ip;
	req.mail_from = mail;
	req.helo = helo;
	req.hostname = cfg->hostname;
	if ((check = spf_check_start(a.base, &sd, &req, cli_auth_spf_done, &a,
	    &error)) == NULL) {
		ret = cli_usage("auth spf: --ip '%.64s': %s", ip, error);
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
	cli_auth_spf_print(a.result, ip);
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

int
cli_auth(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc < 2)
			return cli_usage("auth: missing action: spf "
			    "(try 'correio auth --help')");
		fputs(cli_auth_help, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "spf") == 0)
		return cli_auth_spf(argc - 1, argv + 1);
	return cli_usage("auth: unknown action '%.64s' (spf)", argv[1]);
}
