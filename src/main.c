/*
 * main.c - the one `correio` binary: dispatches to a subcommand.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} main_cmds[] = {
	{ "init", cli_init, "create a new instance (config, data, certificate)" },
	{ "serve", cli_serve, "run the server in the foreground" },
	{ "domain", cli_domain, "add, list or delete hosted domains" },
	{ "user", cli_user, "add, list, delete users or set their password" },
	{ "alias", cli_alias, "add, list or delete aliases" },
	{ "mailbox", cli_mailbox, "list a user's mailboxes" },
	{ "message", cli_message, "list or print stored messages" },
	{ "dns", cli_dns, "look up MX routes and records with the server's resolver" },
	{ "dkim", cli_dkim, "make and show DKIM keys, verify a message's signatures" },
	{ "auth", cli_auth, "check a sender's SPF, DKIM and DMARC as inbound SMTP does" },
	{ "spam", cli_spam, "the spam filter: symbols, checks, training" },
	{ "queue", cli_queue, "list, show, delete or flush queued outbound mail" },
	{ "quarantine", cli_quarantine, "list, show, release or delete held mail" },
	{ "sendmail", cli_sendmail, "submit a message from standard input" },
};

static void
main_help(FILE *f)
{
	fprintf(f, "usage: correio COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", main_cmds[i].name, main_cmds[i].help);
	fprintf(f, "\nRun 'correio COMMAND --help' for a command's options.\n");
}

int
main(int argc, char **argv)
{
	const char *base;

	/* The subcommands say what is wrong themselves, on one line. */
	opterr = 0;
	/* Installed as "sendmail" too (make install), for local programs. */
	base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base != NULL ? base + 1 : argc > 0 ? argv[0] : "";
	if (strcmp(base, "sendmail") == 0)
		return cli_sendmail(argc, argv);
	if (argc < 2)
		return cli_usage("missing command (try 'correio --help')");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		main_help(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("correio 0.1.0\n");
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		if (strcmp(argv[1], main_cmds[i].name) == 0)
			return main_cmds[i].fn(argc - 1, argv + 1);
	return cli_usage("unknown command '%.64s' (try 'correio --help')", argv[1]);
}
