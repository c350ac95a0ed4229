/*
 * cli-spam-lists.c - the spam filter's allow and block lists
 * (filter/spam-lists.h) from the command line.
 *
 *   correio spam allow ADDRESS|DOMAIN [--for DOMAIN|ADDRESS]
 *   correio spam block ADDRESS|DOMAIN [--for DOMAIN|ADDRESS]
 *   correio spam unlist ADDRESS|DOMAIN [--for DOMAIN|ADDRESS]
 *   correio spam lists [--for DOMAIN|ADDRESS]
 *
 * Without --for an entry is global: it applies to every recipient. With
 * it, to one hosted domain's users or to one user. lists prints one line
 * per entry: owner ("*" for global), kind, entry, date added.
 *
 * Exit codes: 0 done, 1 an error (unlist of an entry that is not listed
 * included), 2 usage.
 *
 * SECURITY: arguments come from the administrator; entries are
 * normalized (lower case, IDNA A-labels) like the addresses the filter
 * looks up.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/privs.h"
#include "mime/addr.h"
#include "store/store.h"

static const char cli_spam_lists_help[] =
"usage: correio spam allow ADDRESS|DOMAIN [--for DOMAIN|ADDRESS]\n"
"       correio spam block ADDRESS|DOMAIN [--for DOMAIN|ADDRESS]\n"
"       correio spam unlist ADDRESS|DOMAIN [--for DOMAIN|ADDRESS]\n"
"       correio spam lists [--for DOMAIN|ADDRESS]\n"
"                          [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"\n"
"allow and block put a sender (an address, or a domain with its\n"
"subdomains) on a list; unlist takes it off; lists shows the lists.\n"
"Without --for an entry is for every recipient; with it, for one hosted\n"
"domain or one user. A blocked sender's mail is refused; an allowed one\n"
"passes the score if it authenticates (SPF pass for the envelope sender,\n"
"DMARC pass for the From: domain); held malware is held all the same.\n";

struct cli_spam_lists_args {
	const char *owner;
};

static int
cli_spam_lists_opt(int ch, const char *arg, void *ctx)
{
	struct cli_spam_lists_args *a = ctx;

	if (ch == 'f') {
		a->owner = arg;
		return -1;
	}
	return cli_usage("spam: bad option (try 'correio spam lists --help')");
}

/* An address or a domain, normalized, from pool; NULL (printed) if
 * neither. */
static const char *
cli_spam_lists_entry(const char *what, const char *s, struct pool *pool)
{
	const char *error, *n;

	n = strchr(s, '@') != NULL ? addr_normalize(s, pool, &error) :
	    addr_domain_normalize(s, pool, &error);
	if (n == NULL)
		cli_usage("spam %s: '%.100s': %s", what, s, error);
	return n;
}

static int
cli_spam_lists_print(void *ctx, const char *owner, const char *entry,
    enum store_spam_list_kind kind, time_t created)
{
	struct tm tm;
	char date[32];

	gmtime_r(&created, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s\t%s\t%s\t%s\n", owner[0] != '\0' ? owner : "*",
	    kind == STORE_SPAM_ALLOW ? "allow" : "block", entry, date);
	return 0;
}

/* The owner of --for, checked: a hosted domain or a user. */
static int
cli_spam_lists_owner(struct store *store, const char *what, const char *given,
    struct pool *pool, const char **owner_r)
{
	const char *error, *o;
	int64_t id;
	int r;

	*owner_r = "";
	if (given == NULL)
		return 0;
	if ((o = cli_spam_lists_entry(what, given, pool)) == NULL)
		return CLI_EXIT_USAGE;
	r = strchr(o, '@') != NULL ? store_user_lookup(store, o, &id, &error) :
	    store_domain_exists(store, o, &error);
	if (r < 0)
		return cli_fail("spam %s: %s", what, error);
	if (r == 0)
		return cli_fail("spam %s: --for %s: no such %s", what, o,
		    strchr(o, '@') != NULL ? "user" : "hosted domain");
	*owner_r = o;
	return 0;
}

int
cli_spam_lists(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "for", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *what = argv[0], *owner, *entry = NULL, *error;
	bool listing = strcmp(what, "lists") == 0;
	struct cli_spam_lists_args args = { NULL };
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct pool *pool;
	int r, ret = CLI_EXIT_FAIL;

	if ((r = cli_spam_config(argc, argv, cli_spam_lists_help, opts,
	    cli_spam_lists_opt, &args, &cfg)) >= 0)
		return r;
	if (optind != argc - (listing ? 0 : 1)) {
		config_free(&cfg);
		return cli_usage(listing ? "spam lists: no arguments expected" :
		    "spam %s: one ADDRESS or DOMAIN expected", what);
	}
	pool = pool_new(1024);
	if (!listing && (entry = cli_spam_lists_entry(what, argv[optind],
	    pool)) == NULL) {
		ret = CLI_EXIT_USAGE;
		goto out;
	}
	if (privs_enter(cfg->data_dir, cfg->user, &error) < 0 ||
	    store_open(".", &store, &error) < 0) {
		cli_fail("%s", error);
		goto out;
	}
	if ((r = cli_spam_lists_owner(store, what, args.owner, pool,
	    &owner)) != 0) {
		ret = r;
		goto out;
	}
	if (listing) {
		if (store_spam_list_list(store, args.owner != NULL ? owner :
		    NULL, cli_spam_lists_print, NULL, &error) < 0)
			cli_fail("spam lists: %s", error);
		else
			ret = CLI_EXIT_OK;
	} else if (strcmp(what, "unlist") == 0) {
		r = store_spam_list_del(store, owner, entry, &error);
		if (r < 0)
			cli_fail("spam unlist: %s", error);
		else if (r == 0)
			cli_fail("spam unlist: %s is not on the list%s%s", entry,
			    owner[0] != '\0' ? " of " : "", owner);
		else
			ret = CLI_EXIT_OK;
	} else if (store_spam_list_add(store, owner, entry,
	    strcmp(what, "allow") == 0 ? STORE_SPAM_ALLOW : STORE_SPAM_BLOCK,
	    time(NULL), &error) < 0) {
		cli_fail("spam %s: %s", what, error);
	} else {
		ret = CLI_EXIT_OK;
	}
out:
	store_close(&store);
	pool_free(&pool);
	config_free(&cfg);
	return ret;
}
