/*
 * cli-admin.c - `correio domain|user|alias|mailbox|message`: administering
 * the store from the command line. Each works on the data directory of
 * the config given with -c, as the server's user.
 *
 * SECURITY: passwords are read from standard input or the terminal, never
 * from arguments (which other users can see), and wiped after use.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/pool.h"
#include "mime/addr.h"
#include "store/store.h"

struct cli_args {
	const char *config;
	bool password_stdin;
	int argc;		/* positional arguments after the action */
	char **argv;
};

/*
 * Parses "-c FILE", "--password-stdin" (if allowed) and "--help" anywhere
 * on the line; the rest stay positional. Returns -1 to exit with *exit_r.
 */
static int
cli_args_parse(int argc, char **argv, const char *help, bool password_opt,
    struct cli_args *a, int *exit_r)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->config = optarg;
			break;
		case 'p':
			if (!password_opt)
				goto bad;
			a->password_stdin = true;
			break;
		case 'h':
			fputs(help, stdout);
			*exit_r = CLI_EXIT_OK;
			return -1;
		default:
			goto bad;
		}
	}
	a->argc = argc - optind;
	a->argv = argv + optind;
	return 0;
bad:
	*exit_r = cli_usage("%s: bad option or missing value '%.64s' (try 'correio %s --help')",
	    argv[0], argv[optind - 1], argv[0]);
	return -1;
}

/* Reads a password from stdin (one line) or, on a terminal, twice with
 * echo off. Returns a malloc'ed string or NULL (message printed). */
static char *
cli_read_password(bool from_stdin)
{
	char *line = NULL, *again = NULL;
	size_t cap = 0, cap2 = 0;
	ssize_t n;
	struct termios old, noecho;
	FILE *tty = NULL;

	if (from_stdin) {
		n = getline(&line, &cap, stdin);
		if (n <= 0) {
			free(line);
			cli_fail("no password on standard input");
			return NULL;
		}
	} else {
		tty = fopen("/dev/tty", "r+");
		if (tty == NULL) {
			cli_fail("no terminal to ask for a password (use --password-stdin)");
			return NULL;
		}
		tcgetattr(fileno(tty), &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
		fputs("Password: ", tty);
		fflush(tty);
		n = getline(&line, &cap, tty);
		fputs("\nAgain: ", tty);
		fflush(tty);
		if (n > 0 && getline(&again, &cap2, tty) > 0 && strcmp(line, again) != 0)
			n = -2;
		fputs("\n", tty);
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fclose(tty);
		if (again != NULL) {
			OPENSSL_cleanse(again, strlen(again));
			free(again);
		}
		if (n <= 0) {
			if (line != NULL)
				OPENSSL_cleanse(line, strlen(line));
			free(line);
			cli_fail(n == -2 ? "passwords do not match" : "no password given");
			return NULL;
		}
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0' || strlen(line) > STORE_PASSWORD_MAX) {
		free(line);
		cli_fail("the password must be 1 to %d bytes", STORE_PASSWORD_MAX);
		return NULL;
	}
	return line;
}

static void
cli_password_free(char **pwp)
{
	if (*pwp != NULL) {
		OPENSSL_cleanse(*pwp, strlen(*pwp));
		free(*pwp);
		*pwp = NULL;
	}
}

static int
cli_print_line(void *ctx, const char *s)
{
	printf("%s\n", s);
	return 0;
}

static int
cli_print_alias(void *ctx, const char *alias, const char *target)
{
	printf("%s\t%s\n", alias, target);
	return 0;
}

/* Normalizes an address given on the command line. */
static const char *
cli_address(const char *in, struct pool *pool)
{
	const char *error;
	char *a = addr_normalize(in, pool, &error);

	if (a == NULL)
		cli_usage("bad address '%.320s': %s", in, error);
	return a;
}

/* --- domain --- */

static const char cli_domain_help[] =
"usage: correio domain add DOMAIN [-c FILE]\n"
"       correio domain list [-c FILE]\n"
"       correio domain del DOMAIN [-c FILE]\n"
"\n"
"Manages the hosted domains. A domain can be deleted only when it has no\n"
"users and no aliases left.\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n";

int
cli_domain(int argc, char **argv)
{
	struct cli_args a;
	struct config *config = NULL;
	struct store *store = NULL;
	struct pool *pool;
	const char *action, *error, *domain = NULL;
	int ret;

	if (cli_args_parse(argc, argv, cli_domain_help, false, &a, &ret) < 0)
		return ret;
	if (a.argc < 1)
		return cli_usage("domain: missing action (add, list or del)");
	action = a.argv[0];
	if (strcmp(action, "list") == 0) {
		if (a.argc != 1)
			return cli_usage("domain list: no arguments expected");
	} else if (strcmp(action, "add") == 0 || strcmp(action, "del") == 0) {
		if (a.argc != 2)
			return cli_usage("domain %s: expected one DOMAIN", action);
	} else {
		return cli_usage("domain: unknown action '%.32s'", action);
	}
	pool = pool_new(1024);
	if (a.argc == 2) {
		domain = addr_domain_normalize(a.argv[1], pool, &error);
		if (domain == NULL) {
			pool_free(&pool);
			return cli_usage("domain %s: '%.255s': %s", action, a.argv[1], error);
		}
	}
	if (cli_open(cli_config_path(a.config), &config, &store) < 0) {
		pool_free(&pool);
		return CLI_EXIT_FAIL;
	}
	ret = CLI_EXIT_OK;
	if (strcmp(action, "list") == 0) {
		if (store_domain_list(store, cli_print_line, NULL, &error) < 0)
			ret = cli_fail("domain list: %s", error);
	} else if (strcmp(action, "add") == 0) {
		if (store_domain_add(store, domain, &error) < 0)
			ret = cli_fail("domain add %s: %s", domain, error);
	} else if (store_domain_del(store, domain, &error) < 0) {
		ret = cli_fail("domain del %s: %s", domain, error);
	}
	cli_close(&config, &store);
	pool_free(&pool);
	return ret;
}

/* --- user --- */

static const char cli_user_help[] =
"usage: correio user add ADDRESS [--password-stdin] [-c FILE]\n"
"       correio user list [DOMAIN] [-c FILE]\n"
"       correio user del ADDRESS [-c FILE]\n"
"       correio user passwd ADDRESS [--password-stdin] [-c FILE]\n"
"\n"
"Manages users. A new user gets the mailboxes INBOX, Sent, Drafts, Junk,\n"
"Trash and Archive. The password is asked for twice on the terminal, or\n"
"read as one line from standard input with --password-stdin.\n"
"Deleting a user deletes all of its mail.\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n";

int
cli_user(int argc, char **argv)
{
	struct cli_args a;
	struct config *config = NULL;
	struct store *store = NULL;
	struct pool *pool;
	const char *action, *error, *addr = NULL, *domain = NULL;
	char *password = NULL;
	int ret;

	if (cli_args_parse(argc, argv, cli_user_help, true, &a, &ret) < 0)
		return ret;
	if (a.argc < 1)
		return cli_usage("user: missing action (add, list, del or passwd)");
	action = a.argv[0];
	pool = pool_new(1024);
	if (strcmp(action, "list") == 0) {
		if (a.argc > 2) {
			pool_free(&pool);
			return cli_usage("user list: at most one DOMAIN");
		}
		if (a.argc == 2 &&
		    (domain = addr_domain_normalize(a.argv[1], pool, &error)) == NULL) {
			pool_free(&pool);
			return cli_usage("user list: '%.255s': %s", a.argv[1], error);
		}
	} else if (strcmp(action, "add") == 0 || strcmp(action, "del") == 0 ||
	    strcmp(action, "passwd") == 0) {
		if (a.argc != 2) {
			pool_free(&pool);
			return cli_usage("user %s: expected one ADDRESS", action);
		}
		if ((addr = cli_address(a.argv[1], pool)) == NULL) {
			pool_free(&pool);
			return CLI_EXIT_USAGE;
		}
	} else {
		pool_free(&pool);
		return cli_usage("user: unknown action '%.32s'", action);
	}
	if (cli_open(cli_config_path(a.config), &config, &store) < 0) {
		pool_free(&pool);
		return CLI_EXIT_FAIL;
	}
	ret = CLI_EXIT_OK;
	if (strcmp(action, "list") == 0) {
		if (store_user_list(store, domain, cli_print_line, NULL, &error) < 0)
			ret = cli_fail("user list: %s", error);
	} else if (strcmp(action, "del") == 0) {
		if (store_user_del(store, addr, &error) < 0)
			ret = cli_fail("user del %s: %s", addr, error);
	} else if ((password = cli_read_password(a.password_stdin)) == NULL) {
		ret = CLI_EXIT_FAIL;
	} else if (strcmp(action, "add") == 0) {
		if (store_user_add(store, addr, password, &error) < 0)
			ret = cli_fail("user add %s: %s", addr, error);
	} else if (store_user_passwd(store, addr, password, &error) < 0) {
		ret = cli_fail("user passwd %s: %s", addr, error);
	}
	cli_password_free(&password);
	cli_close(&config, &store);
	pool_free(&pool);
	return ret;
}

/* --- alias --- */

static const char cli_alias_help[] =
"usage: correio alias add ALIAS TARGET... [-c FILE]\n"
"       correio alias list [ALIAS] [-c FILE]\n"
"       correio alias del ALIAS [TARGET...] [-c FILE]\n"
"\n"
"Manages aliases: mail to ALIAS (an address in a hosted domain) is\n"
"delivered to every TARGET, each a user or another alias. 'del' without\n"
"targets removes the whole alias.\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n";

int
cli_alias(int argc, char **argv)
{
	struct cli_args a;
	struct config *config = NULL;
	struct store *store = NULL;
	struct pool *pool;
	const char *action, *error, *alias = NULL;
	const char **targets = NULL;
	size_t n = 0;
	int ret;

	if (cli_args_parse(argc, argv, cli_alias_help, false, &a, &ret) < 0)
		return ret;
	if (a.argc < 1)
		return cli_usage("alias: missing action (add, list or del)");
	action = a.argv[0];
	if (strcmp(action, "add") == 0) {
		if (a.argc < 3)
			return cli_usage("alias add: expected ALIAS and at least one TARGET");
	} else if (strcmp(action, "del") == 0) {
		if (a.argc < 2)
			return cli_usage("alias del: expected ALIAS");
	} else if (strcmp(action, "list") == 0) {
		if (a.argc > 2)
			return cli_usage("alias list: at most one ALIAS");
	} else {
		return cli_usage("alias: unknown action '%.32s'", action);
	}
	pool = pool_new(1024);
	if (a.argc >= 2 && (alias = cli_address(a.argv[1], pool)) == NULL) {
		pool_free(&pool);
		return CLI_EXIT_USAGE;
	}
	if (a.argc > 2) {
		targets = pool_alloc(pool, sizeof(*targets) * (size_t)(a.argc - 2));
		for (int i = 2; i < a.argc; i++) {
			if ((targets[n++] = cli_address(a.argv[i], pool)) == NULL) {
				pool_free(&pool);
				return CLI_EXIT_USAGE;
			}
		}
	}
	if (cli_open(cli_config_path(a.config), &config, &store) < 0) {
		pool_free(&pool);
		return CLI_EXIT_FAIL;
	}
	ret = CLI_EXIT_OK;
	if (strcmp(action, "list") == 0) {
		if (store_alias_list(store, alias, cli_print_alias, NULL, &error) < 0)
			ret = cli_fail("alias list: %s", error);
	} else if (strcmp(action, "add") == 0) {
		if (store_alias_add(store, alias, targets, n, &error) < 0)
			ret = cli_fail("alias add %s: %s", alias, error);
	} else if (store_alias_del(store, alias, targets, n, &error) < 0) {
		ret = cli_fail("alias del %s: %s", alias, error);
	}
	cli_close(&config, &store);
	pool_free(&pool);
	return ret;
}

/* --- mailbox --- */

static const char cli_mailbox_help[] =
"usage: correio mailbox list ADDRESS [-c FILE]\n"
"\n"
"Lists a user's mailboxes, one per line: name, special-use role (or -),\n"
"number of messages and total size in bytes, separated by tabs.\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n";

static int
cli_print_mailbox(void *ctx, const struct store_mailbox_info *m)
{
	printf("%s\t%s\t%" PRIu64 "\t%" PRIu64 "\n", m->name,
	    m->special_use != NULL ? m->special_use : "-", m->messages, m->bytes);
	return 0;
}

int
cli_mailbox(int argc, char **argv)
{
	struct cli_args a;
	struct config *config = NULL;
	struct store *store = NULL;
	struct pool *pool;
	const char *error, *addr;
	int ret;

	if (cli_args_parse(argc, argv, cli_mailbox_help, false, &a, &ret) < 0)
		return ret;
	if (a.argc < 1 || strcmp(a.argv[0], "list") != 0)
		return cli_usage("mailbox: the action is 'list'");
	if (a.argc != 2)
		return cli_usage("mailbox list: expected one ADDRESS");
	pool = pool_new(1024);
	if ((addr = cli_address(a.argv[1], pool)) == NULL) {
		pool_free(&pool);
		return CLI_EXIT_USAGE;
	}
	if (cli_open(cli_config_path(a.config), &config, &store) < 0) {
		pool_free(&pool);
		return CLI_EXIT_FAIL;
	}
	ret = CLI_EXIT_OK;
	if (store_mailbox_list(store, addr, cli_print_mailbox, NULL, &error) < 0)
		ret = cli_fail("mailbox list %s: %s", addr, error);
	cli_close(&config, &store);
	pool_free(&pool);
	return ret;
}

/* --- message --- */

static const char cli_message_help[] =
"usage: correio message list ADDRESS MAILBOX [-c FILE]\n"
"       correio message get ADDRESS MAILBOX UID [-c FILE]\n"
"\n"
"'list' prints one line per message, separated by tabs: UID, the date it\n"
"arrived (UTC), the sender (From: header, else the envelope sender), the\n"
"size in bytes and the subject. 'get' prints the stored message byte for\n"
"byte, trace headers (Return-Path, Received) included.\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n";

/* Prints header text on one line (it may hold anything a sender sent). */
static void
cli_print_field(const char *s)
{
	if (s == NULL || s[0] == '\0') {
		fputs("-", stdout);
		return;
	}
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 32 || *s == 127 ? ' ' : *s);
}

static int
cli_print_message(void *ctx, const struct store_message_info *m)
{
	char date[32];
	struct tm tm;

	gmtime_r(&m->internal_date, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%" PRIu32 "\t%s\t", m->uid, date);
	if (m->hdr_from != NULL && m->hdr_from[0] != '\0')
		cli_print_field(m->hdr_from);
	else
		printf("<%s>", m->envelope_from != NULL ? m->envelope_from : "");
	printf("\t%" PRIu64 "\t", m->size);
	cli_print_field(m->hdr_subject);
	putchar('\n');
	return 0;
}

/* Copies a file descriptor to standard output. */
static int
cli_copy_out(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	}
	return fflush(stdout) == 0 ? 0 : -1;
}

int
cli_message(int argc, char **argv)
{
	struct cli_args a;
	struct config *config = NULL;
	struct store *store = NULL;
	struct pool *pool;
	const char *error, *addr, *action, *mailbox;
	unsigned long uid = 0;
	uint64_t size;
	int ret, fd, r;

	if (cli_args_parse(argc, argv, cli_message_help, false, &a, &ret) < 0)
		return ret;
	if (a.argc < 1)
		return cli_usage("message: missing action (list or get)");
	action = a.argv[0];
	if (strcmp(action, "list") == 0) {
		if (a.argc != 3)
			return cli_usage("message list: expected ADDRESS MAILBOX");
	} else if (strcmp(action, "get") == 0) {
		char *end;

		if (a.argc != 4)
			return cli_usage("message get: expected ADDRESS MAILBOX UID");
		errno = 0;
		uid = strtoul(a.argv[3], &end, 10);
		if (errno != 0 || *end != '\0' || uid == 0 || uid > UINT32_MAX)
			return cli_usage("message get: bad UID '%.32s'", a.argv[3]);
	} else {
		return cli_usage("message: unknown action '%.32s'", action);
	}
	pool = pool_new(1024);
	if ((addr = cli_address(a.argv[1], pool)) == NULL) {
		pool_free(&pool);
		return CLI_EXIT_USAGE;
	}
	/* INBOX is case-insensitive (RFC 9051 5.1). */
	mailbox = strcasecmp(a.argv[2], "INBOX") == 0 ? STORE_MAILBOX_INBOX : a.argv[2];
	if (cli_open(cli_config_path(a.config), &config, &store) < 0) {
		pool_free(&pool);
		return CLI_EXIT_FAIL;
	}
	ret = CLI_EXIT_OK;
	if (strcmp(action, "list") == 0) {
		if (store_message_list(store, addr, mailbox, cli_print_message, NULL,
		    &error) < 0)
			ret = cli_fail("message list: %s", error);
	} else {
		r = store_message_open(store, addr, mailbox, (uint32_t)uid, &fd, &size, &error);
		if (r < 0) {
			ret = cli_fail("message get: %s", error);
		} else if (r == 1) {
			ret = cli_fail("message get: no message %lu in %s of %s", uid,
			    mailbox, addr);
		} else {
			if (cli_copy_out(fd) < 0)
				ret = cli_fail("message get: %s", strerror(errno));
			close(fd);
		}
	}
	cli_close(&config, &store);
	pool_free(&pool);
	return ret;
}
