/*
 * cli-spam.c - `correio spam`: the spam filter from the command line.
 *
 *   correio spam symbols          every symbol with its weight in force
 *   correio spam check [FILE...]  the filter's verdict on messages
 *   correio spam allow|block|unlist ENTRY [--for OWNER], spam lists
 *   correio spam milter [FILE]    the verdict of the [milter] servers
 *   correio spam train ...        teach the classifier (cli-spam-bayes.c)
 *   correio spam stats [ADDRESS]  what it has learnt (cli-spam-bayes.c)
 *
 * The subcommands are in cli_spam_cmds[]; each lives in the file of its
 * feature (cli-spam-*.c) and is declared in cli.h.
 *
 * Exit codes: 0 done, 1 an error, 2 usage.
 *
 * SECURITY: arguments and the config come from the administrator.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "filter/spam.h"

#define CLI_SPAM_OVERRIDES_MAX 64

static int cli_spam_symbols(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cli_spam_cmds[] = {
	{ "symbols", cli_spam_symbols,
	    "list every symbol, its weight in force and what it means" },
	{ "check", cli_spam_check,
	    "run the filter on messages and print its verdict" },
	{ "allow", cli_spam_lists,
	    "let an authenticated sender (address or domain) through" },
	{ "block", cli_spam_lists, "refuse a sender's mail" },
	{ "unlist", cli_spam_lists, "take a sender off the lists" },
	{ "lists", cli_spam_lists, "show the allow and block lists" },
	{ "milter", cli_spam_milter,
	    "run a message through the [milter] servers, print the verdict" },
	{ "train", cli_spam_train,
	    "teach the classifier spam or ham from files, Maildirs, mboxes" },
	{ "stats", cli_spam_stats,
	    "what the classifier has learnt, globally and for a user" },
};

static void
cli_spam_usage(FILE *f)
{
	fputs("usage: correio spam COMMAND [ARGS] (COMMAND --help for more)\n"
	    "\n", f);
	for (size_t i = 0; i < sizeof(cli_spam_cmds) / sizeof(cli_spam_cmds[0]);
	    i++)
		fprintf(f, "  %-12s %s\n", cli_spam_cmds[i].name,
		    cli_spam_cmds[i].help);
}

int
cli_spam(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		cli_spam_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cli_spam_cmds) / sizeof(cli_spam_cmds[0]);
	    i++)
		if (strcmp(argv[1], cli_spam_cmds[i].name) == 0)
			return cli_spam_cmds[i].fn(argc - 1, argv + 1);
	return cli_usage("spam: unknown command '%.64s' (try 'correio spam "
	    "--help')", argv[1]);
}

/*
 * Reads -c and -o (and --help, printing help) and loads the config.
 * Returns -1 on success with *config_r set, or the exit code to return.
 */
int
cli_spam_config(int argc, char **argv, const char *help,
    const struct option *extra, int (*on_opt)(int ch, const char *arg,
    void *ctx), void *ctx, struct config **config_r)
{
	struct option opts[32];
	const char *overrides[CLI_SPAM_OVERRIDES_MAX], *path = NULL, *error;
	size_t n_over = 0, n = 0;
	int ch;

	opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (; extra != NULL && extra->name != NULL && n < 31; extra++)
		opts[n++] = *extra;
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'o':
			if (n_over >= CLI_SPAM_OVERRIDES_MAX)
				return cli_usage("spam %s: too many -o options",
				    argv[0]);
			overrides[n_over++] = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return CLI_EXIT_OK;
		default:
			if (ch != '?' && on_opt != NULL) {
				int r = on_opt(ch, optarg, ctx);

				if (r >= 0)
					return r;
				break;
			}
			return cli_usage("spam %s: bad option or missing value "
			    "'%.64s' (try 'correio spam %s --help')", argv[0],
			    argv[optind - 1], argv[0]);
		}
	}
	if (config_load(cli_config_path(path), overrides, n_over, config_r,
	    &error) < 0)
		return cli_fail("%s", error);
	return -1;
}

static const char cli_spam_symbols_help[] =
"usage: correio spam symbols [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"\n"
"Lists every symbol the spam filter can add: its name, its weight in\n"
"force (the default, or [spam] scores), 'hold' for a symbol that\n"
"quarantines the message whatever the score, and what it means.\n";

static int
cli_spam_symbols(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct spam_weights w;
	const char *error;
	int r;

	if ((r = cli_spam_config(argc, argv, cli_spam_symbols_help, NULL, NULL,
	    NULL, &cfg)) >= 0)
		return r;
	if (optind < argc) {
		config_free(&cfg);
		return cli_usage("spam symbols: no arguments expected");
	}
	if (spam_weights_parse(&w, cfg->spam_scores, &error) < 0) {
		spam_weights_free(&w);
		config_free(&cfg);
		return cli_fail("[spam] scores: %s", error);
	}
	for (size_t i = 0; i < spam_n_symbols; i++)
		printf("%-28s %7.2f %-4s %s\n", spam_symbols[i].name,
		    w.score[i], spam_symbols[i].flags & SPAM_SYM_HOLD ?
		    "hold" : "-", spam_symbols[i].description);
	spam_weights_free(&w);
	config_free(&cfg);
	return CLI_EXIT_OK;
}
