/*
 * cli-dkim.c - `correio dkim generate|show|verify`: the DKIM keys of the
 * hosted domains, and a diagnosis of the signatures of a message.
 *
 *   generate DOMAIN [--selector S] [--algorithm rsa|ed25519]
 *       makes the key(s) in DATA/dkim/DOMAIN/SELECTOR.pem and prints the
 *       TXT record(s) to publish, in zone-file form. Without --algorithm
 *       both an RSA (2048 bits) and an Ed25519 key are made, with the
 *       selectors rsa-YYYYMM and ed25519-YYYYMM, so that mail is signed
 *       twice (RFC 8463 wants both for now: not every verifier knows
 *       Ed25519). `correio serve` loads keys when it starts.
 *   show DOMAIN
 *       prints the records of the domain's keys again.
 *   verify [FILE]
 *       verifies every signature of the message in FILE (or standard
 *       input; LF line ends are taken as CRLF), with the keys from DNS
 *       through the [dns] resolver, and prints one line per signature:
 *       "RESULT d=D s=S a=A [bits=N] [testing=yes] reason=\"...\"".
 *       Exit status 0 if a signature passed, 75 if none did and a key
 *       lookup failed for now, else 1.
 *
 * SECURITY: generate and show work on the data directory as the server's
 * user (cli_open), so the keys get that owner; the private key never
 * leaves its file. verify reads an untrusted message (bounded by [server]
 * max_message_size) and prints only escaped text from it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "auth/dkim.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/pool.h"
#include "dns/dns.h"
#include "mime/addr.h"
#include "store/store.h"

#define CLI_DKIM_OVERRIDES_MAX 64
#define CLI_EXIT_TEMPFAIL 75
#define CLI_TXT_CHUNK 255	/* a TXT character-string (RFC 1035 3.3) */

static const char cli_dkim_help[] =
"usage: correio dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]\n"
"                    [-c FILE]\n"
"       correio dkim show DOMAIN [-c FILE]\n"
"       correio dkim verify [FILE] [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"\n"
"  generate DOMAIN  make a signing key for a hosted domain and print the\n"
"                   DNS TXT record to publish; by default an RSA (2048\n"
"                   bits, selector rsa-YYYYMM) and an Ed25519 key (selector\n"
"                   ed25519-YYYYMM): mail is signed with both. Restart\n"
"                   `correio serve` to start signing with new keys.\n"
"  show DOMAIN      print the selectors, algorithms and TXT records again\n"
"  verify [FILE]    verify the DKIM signatures of a message (standard input\n"
"                   without FILE), keys from DNS; one line per signature\n"
"  -s, --selector S        the selector (needs --algorithm)\n"
"  -a, --algorithm rsa|ed25519\n"
"                          one key of this type only\n"
"  -c, --config FILE       the configuration (default: $CORREIO_CONFIG or\n"
"                          " CLI_DEFAULT_CONFIG ")\n"
"  -o SECTION.KEY=VALUE    override a configuration key (verify)\n"
"Exit status of verify: 0 a signature passed, 1 none did, 75 none did and\n"
"a key lookup failed for now.\n";

/* --- generate, show --- */

struct cli_dkim_show {
	const char *selector;	/* only this one, or NULL */
	size_t n;
};

/* One record in zone-file form, split into character-strings. */
static void
cli_dkim_print_key(void *ctx, const struct dkim_key_info *info)
{
	struct cli_dkim_show *s = ctx;
	size_t len = strlen(info->record);

	if (s->selector != NULL && strcmp(s->selector, info->selector) != 0)
		return;
	s->n++;
	printf("; %s %u bits, key dkim/%s/%s.pem\n", dkim_alg_name(info->alg),
	    info->bits, info->domain, info->selector);
	printf("%s._domainkey.%s. IN TXT", info->selector, info->domain);
	for (size_t i = 0; i < len; i += CLI_TXT_CHUNK)
		printf(" \"%.*s\"", (int)(len - i < CLI_TXT_CHUNK ? len - i :
		    CLI_TXT_CHUNK), info->record + i);
	putchar('\n');
}

static int
cli_dkim_keys(const char *config_path, const char *action, const char *arg,
    const char *selector, const char *alg_name)
{
	struct config *config = NULL;
	struct store *store = NULL;
	struct dkim_keys *keys = NULL;
	struct cli_dkim_show show = { NULL, 0 };
	struct pool *pool = pool_new(1024);
	const char *domain, *error, *sels[2];
	enum dkim_alg algs[2];
	char month[16];
	size_t n_new = 0;
	time_t now = time(NULL);
	struct tm tm;
	int ret = CLI_EXIT_FAIL, hosted;

	if ((domain = addr_domain_normalize(arg, pool, &error)) == NULL) {
		ret = cli_usage("dkim %s: '%.255s': %s", action, arg, error);
		goto out_pool;
	}
	gmtime_r(&now, &tm);
	(void)strftime(month, sizeof(month), "%Y%m", &tm);
	if (alg_name == NULL || strcmp(alg_name, "rsa") == 0) {
		algs[n_new] = DKIM_ALG_RSA_SHA256;
		sels[n_new++] = selector != NULL ? selector :
		    pool_printf(pool, "rsa-%s", month);
	}
	if (alg_name == NULL || strcmp(alg_name, "ed25519") == 0) {
		algs[n_new] = DKIM_ALG_ED25519_SHA256;
		sels[n_new++] = selector != NULL ? selector :
		    pool_printf(pool, "ed25519-%s", month);
	}
	if (cli_open(cli_config_path(config_path), &config, &store) < 0)
		goto out_pool;
	if ((hosted = store_domain_exists(store, domain, &error)) < 0) {
		cli_fail("dkim %s: %s", action, error);
		goto out;
	}
	if (hosted == 0) {
		cli_fail("dkim %s: %s is not a hosted domain (correio domain "
		    "add)", action, domain);
		goto out;
	}
	if (strcmp(action, "generate") == 0) {
		for (size_t i = 0; i < n_new; i++)
			if (dkim_key_generate(".", domain, sels[i], algs[i],
			    &error) < 0) {
				cli_fail("dkim generate: %s", error);
				goto out;
			}
	}
	if ((keys = dkim_keys_load(".", &error)) == NULL) {
		cli_fail("dkim %s: %s", action, error);
		goto out;
	}
	if (strcmp(action, "generate") == 0 && n_new == 1)
		show.selector = sels[0];
	dkim_keys_foreach(keys, domain, cli_dkim_print_key, &show);
	if (show.n == 0) {
		cli_fail("dkim %s: %s has no usable key", action, domain);
		goto out;
	}
	if (strcmp(action, "generate") == 0)
		fprintf(stderr, "correio: publish the record%s above, then "
		    "restart correio serve to sign with the new key%s\n",
		    n_new > 1 ? "s" : "", n_new > 1 ? "s" : "");
	ret = CLI_EXIT_OK;
out:
	dkim_keys_free(&keys);
	cli_close(&config, &store);
out_pool:
	pool_free(&pool);
	return ret;
}

/* --- verify --- */

struct cli_dkim_verify {
	struct event_base *base;
	struct dkim_verify_result *result;
	bool done;
};

static void
cli_dkim_verify_cb(void *ctx, struct dkim_verify_result *result)
{
	struct cli_dkim_verify *c = ctx;

	c->result = result;
	c->done = true;
	event_base_loopbreak(c->base);
}

/* Reads the message into msg with CRLF line ends. Returns 0 or -1
 * (message printed). */
static int
cli_dkim_read(const char *path, struct buf *msg)
{
	FILE *fp = stdin;
	char chunk[8192];
	bool cr = false;
	size_t n;
	int r = 0;

	if (path != NULL && strcmp(path, "-") != 0 &&
	    (fp = fopen(path, "rb")) == NULL) {
		cli_fail("dkim verify: cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		for (size_t i = 0; i < n && r == 0; i++) {
			/* a bare LF is a line end (a file on disk) */
			if (chunk[i] == '\n' && !cr)
				r = buf_append(msg, "\r", 1);
			if (r == 0)
				r = buf_append(msg, &chunk[i], 1);
			cr = chunk[i] == '\r';
		}
	}
	if (ferror(fp)) {
		cli_fail("dkim verify: read error");
		r = -1;
	} else if (r != 0)
		cli_fail("dkim verify: the message is larger than "
		    "[server] max_message_size");
	if (fp != stdin)
		fclose(fp);
	return r == 0 ? 0 : -1;
}

static int
cli_dkim_print_result(const struct dkim_verify_result *r)
{
	bool pass = false, temp = false;

	if (r->n_sigs == 0)
		printf("none reason=\"no DKIM-Signature\"\n");
	for (size_t i = 0; i < r->n_sigs; i++) {
		const struct dkim_sig_result *s = &r->sigs[i];

		printf("%s d=%s s=%s a=%s", dkim_status_name(s->status),
		    s->domain != NULL ? s->domain : "-",
		    s->selector != NULL ? s->selector : "-",
		    s->algorithm != NULL ? s->algorithm : "-");
		if (s->key_bits > 0)
			printf(" bits=%u", s->key_bits);
		if (s->testing)
			printf(" testing=yes");
		printf(" reason=\"%s\"\n", s->reason);
		pass |= s->status == DKIM_PASS;
		temp |= s->status == DKIM_TEMPERROR;
	}
	if (r->n_ignored > 0)
		printf("; %zu more signature%s not verified (limit %d)\n",
		    r->n_ignored, r->n_ignored > 1 ? "s" : "", DKIM_SIGS_MAX);
	return pass ? CLI_EXIT_OK : temp ? CLI_EXIT_TEMPFAIL : CLI_EXIT_FAIL;
}

static int
cli_dkim_verify(const char *config_path, const char **overrides,
    size_t n_over, const char *path)
{
	struct config *cfg = NULL;
	struct dns *dns = NULL;
	struct dkim_verifier *verifier = NULL;
	struct dkim_verify *v = NULL;
	struct cli_dkim_verify c;
	struct buf msg;
	const char *error;
	int ret = CLI_EXIT_FAIL;

	memset(&c, 0, sizeof(c));
	if (config_load(cli_config_path(config_path), overrides, n_over, &cfg,
	    &error) < 0)
		return cli_fail("%s", error);
	log_set_level(cfg->log_level);
	buf_init(&msg, (size_t)cfg->max_message_size);
	if (cli_dkim_read(path, &msg) < 0)
		goto out;
	if ((c.base = event_base_new()) == NULL) {
		cli_fail("cannot create the event loop");
		goto out;
	}
	if ((dns = dns_new(c.base, cfg, &error)) == NULL) {
		cli_fail("%s", error);
		goto out;
	}
	verifier = dkim_verifier_new(c.base, dns);
	v = dkim_verify_start(verifier, msg.data != NULL ? msg.data : "",
	    msg.len, time(NULL), cli_dkim_verify_cb, &c);
	while (!c.done)
		if (event_base_dispatch(c.base) < 0)
			break;
	if (!c.done) {
		cli_fail("dkim verify: the event loop stopped");
		goto out;
	}
	v = NULL;		/* called back: the handle is gone */
	ret = cli_dkim_print_result(c.result);
	fflush(stdout);
out:
	dkim_verify_cancel(&v);
	dkim_verify_result_free(&c.result);
	dkim_verifier_free(&verifier);
	dns_free(&dns);
	if (c.base != NULL)
		event_base_free(c.base);
	buf_release(&msg);
	config_free(&cfg);
	return ret;
}

int
cli_dkim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "selector", required_argument, NULL, 's' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *overrides[CLI_DKIM_OVERRIDES_MAX];
	const char *config_path = NULL, *selector = NULL, *alg = NULL;
	const char *action;
	size_t n_over = 0;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:o:s:a:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'o':
			if (n_over >= CLI_DKIM_OVERRIDES_MAX)
				return cli_usage("dkim: too many -o options");
			overrides[n_over++] = optarg;
			break;
		case 's':
			selector = optarg;
			break;
		case 'a':
			alg = optarg;
			break;
		case 'h':
			fputs(cli_dkim_help, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage("dkim: bad option or missing value "
			    "'%.64s' (try 'correio dkim --help')",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage("dkim: missing action: generate, show or "
		    "verify (try 'correio dkim --help')");
	action = argv[0];
	if (strcmp(action, "verify") == 0) {
		if (argc > 2)
			return cli_usage("dkim verify: expected at most one FILE");
		if (selector != NULL || alg != NULL)
			return cli_usage("dkim verify: --selector and "
			    "--algorithm are for generate");
		return cli_dkim_verify(config_path, overrides, n_over,
		    argc == 2 ? argv[1] : NULL);
	}
	if (strcmp(action, "generate") != 0 && strcmp(action, "show") != 0)
		return cli_usage("dkim: unknown action '%.64s' (generate, "
		    "show or verify)", action);
	if (argc != 2)
		return cli_usage("dkim %s: expected one DOMAIN", action);
	if (n_over > 0)
		return cli_usage("dkim %s: -o is for verify", action);
	if (strcmp(action, "show") == 0 && (selector != NULL || alg != NULL))
		return cli_usage("dkim show: --selector and --algorithm are "
		    "for generate");
	if (alg != NULL && strcmp(alg, "rsa") != 0 &&
	    strcmp(alg, "ed25519") != 0)
		return cli_usage("dkim generate: unknown algorithm '%.32s' "
		    "(rsa or ed25519)", alg);
	if (selector != NULL && alg == NULL)
		return cli_usage("dkim generate: --selector needs --algorithm "
		    "(one key per selector)");
	if (selector != NULL && !dkim_selector_valid(selector))
		return cli_usage("dkim generate: bad selector '%.64s' (letters, "
		    "digits, '-' and dots; 63 characters at most)", selector);
	return cli_dkim_keys(config_path, action, argv[1], selector, alg);
}
