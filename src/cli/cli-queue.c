/*
 * cli-queue.c - `correio queue list|show|delete|flush`: the outbound
 * queue (messages submitted for remote recipients) from the command line.
 *
 * `correio serve` delivers the queue (smtp/smtp-queue.c); flush makes
 * mail due now, and the server notices the write within a second.
 * Recipients it gave up on stay, state 'failed', until deleted.
 *
 * SECURITY: prints addresses and header fields that users wrote; control
 * characters in one-line fields are replaced by spaces.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "store/store.h"

/* The header block of `queue show` is cut here. */
#define CLI_QUEUE_HEADER_MAX (256 * 1024)

static const char cli_queue_help[] =
"usage: correio queue list [-c FILE]\n"
"       correio queue show ID [-c FILE]\n"
"       correio queue delete ID [-c FILE]\n"
"       correio queue flush [ID] [-c FILE]\n"
"\n"
"The outbound queue: mail submitted for recipients in other domains.\n"
"'list' prints one line per message, separated by tabs: ID, sender,\n"
"recipients (comma-separated), the next attempt (UTC) and the last\n"
"error ('-' if none). 'show' prints the envelope and the header of one\n"
"message. 'delete' removes it without sending it. 'flush' makes every\n"
"message (or one) due now: the running server tries it within a\n"
"second. Recipients that failed for good stay listed (state\n"
"'failed' in 'show') until the message is deleted.\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n";

static void
cli_queue_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, size, "-");
}

/* Prints text on one line (users wrote it). */
static void
cli_queue_field(const char *s)
{
	if (s == NULL || s[0] == '\0') {
		fputs("-", stdout);
		return;
	}
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 32 || *s == 127 ? ' ' : *s);
}

static int
cli_queue_print(void *ctx, const struct store_queue_info *q)
{
	const char *last_error = NULL;
	time_t next = 0;
	char when[32];

	printf("%" PRId64 "\t", q->id);
	cli_queue_field(q->sender[0] != '\0' ? q->sender : "<>");
	putchar('\t');
	for (size_t i = 0; i < q->n_rcpts; i++) {
		const struct store_queue_rcpt *r = &q->rcpts[i];

		if (i > 0)
			putchar(',');
		cli_queue_field(r->address);
		if (i == 0 || r->next_attempt < next)
			next = r->next_attempt;
		if (r->last_error != NULL)
			last_error = r->last_error;
	}
	cli_queue_time(next, when, sizeof(when));
	printf("\t%s\t", q->n_rcpts > 0 ? when : "-");
	cli_queue_field(last_error);
	putchar('\n');
	return 0;
}

static int
cli_queue_print_envelope(void *ctx, const struct store_queue_info *q)
{
	char when[32];

	printf("id: %" PRId64 "\n", q->id);
	printf("sender: <");
	cli_queue_field(q->sender[0] != '\0' ? q->sender : "");
	printf(">\n");
	cli_queue_time(q->created, when, sizeof(when));
	printf("created: %s\n", when);
	printf("size: %" PRIu64 "\n", q->size);
	if (q->smtputf8)
		printf("smtputf8: yes\n");
	for (size_t i = 0; i < q->n_rcpts; i++) {
		const struct store_queue_rcpt *r = &q->rcpts[i];

		cli_queue_time(r->next_attempt, when, sizeof(when));
		printf("recipient: <");
		cli_queue_field(r->address);
		printf("> state=%s attempts=%u next=%s error=", r->state,
		    r->attempts, when);
		cli_queue_field(r->last_error);
		putchar('\n');
	}
	return 0;
}

/* Prints the header block of an open message from offset. */
static int
cli_queue_print_header(int fd, uint64_t offset)
{
	char *buf = malloc(CLI_QUEUE_HEADER_MAX + 1);
	size_t len = 0;
	ssize_t n;
	char *end;

	if (buf == NULL)
		return -1;
	if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		free(buf);
		return -1;
	}
	while (len < CLI_QUEUE_HEADER_MAX) {
		n = read(fd, buf + len, CLI_QUEUE_HEADER_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
			break;
	}
	buf[len] = '\0';
	/* The empty line ends the header (RFC 5322 2.1). */
	if ((end = strstr(buf, "\r\n\r\n")) != NULL)
		len = (size_t)(end - buf) + 2;
	else if ((end = strstr(buf, "\n\n")) != NULL)
		len = (size_t)(end - buf) + 1;
	putchar('\n');
	fwrite(buf, 1, len, stdout);
	free(buf);
	return fflush(stdout) == 0 ? 0 : -1;
}

/* Parses a queue id: a positive decimal number. */
static int
cli_queue_id(const char *s, int64_t *id_r)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v <= 0)
		return -1;
	*id_r = (int64_t)v;
	return 0;
}

int
cli_queue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config *config = NULL;
	struct store *store = NULL;
	const char *config_path = NULL, *action, *error;
	int64_t id = 0;
	uint64_t size, offset;
	size_t n;
	int ch, ret = CLI_EXIT_OK, r, fd;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			fputs(cli_queue_help, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage("queue: bad option or missing value "
			    "'%.64s' (try 'correio queue --help')",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage("queue: missing action (list, show, delete "
		    "or flush)");
	action = argv[0];
	if (strcmp(action, "list") == 0) {
		if (argc != 1)
			return cli_usage("queue list: no arguments expected");
	} else if (strcmp(action, "show") == 0 ||
	    strcmp(action, "delete") == 0) {
		if (argc != 2)
			return cli_usage("queue %s: expected ID", action);
		if (cli_queue_id(argv[1], &id) < 0)
			return cli_usage("queue %s: bad ID '%.32s'", action,
			    argv[1]);
	} else if (strcmp(action, "flush") == 0) {
		if (argc > 2)
			return cli_usage("queue flush: expected [ID]");
		if (argc == 2 && cli_queue_id(argv[1], &id) < 0)
			return cli_usage("queue flush: bad ID '%.32s'", argv[1]);
	} else {
		return cli_usage("queue: unknown action '%.32s'", action);
	}
	if (cli_open(cli_config_path(config_path), &config, &store) < 0)
		return CLI_EXIT_FAIL;
	if (strcmp(action, "list") == 0) {
		if (store_queue_list(store, 0, cli_queue_print, NULL,
		    &error) < 0)
			ret = cli_fail("queue list: %s", error);
	} else if (strcmp(action, "show") == 0) {
		r = store_queue_list(store, id, cli_queue_print_envelope, NULL,
		    &error);
		if (r != 0) {
			ret = cli_fail("queue show: %s", error);
		} else if ((r = store_queue_open(store, id, &fd, &size,
		    &offset, &error)) != 0) {
			ret = cli_fail("queue show: %s", error);
		} else {
			if (cli_queue_print_header(fd, offset) < 0)
				ret = cli_fail("queue show: %s",
				    strerror(errno));
			close(fd);
		}
	} else if (strcmp(action, "delete") == 0) {
		if (store_queue_delete(store, id, &error) != 0)
			ret = cli_fail("queue delete: %s", error);
	} else {
		if (store_queue_flush(store, id, time(NULL), &n, &error) != 0)
			ret = cli_fail("queue flush: %s", error);
		else
			printf("%zu recipients due now\n", n);
	}
	cli_close(&config, &store);
	return ret;
}
