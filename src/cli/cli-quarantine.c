/*
 * cli-quarantine.c - `correio quarantine list|show|release|delete|hold|
 * digest|expire`: held mail (the quarantine, filter/quarantine.h) from
 * the command line.
 *
 * Held messages are outside every mailbox until released. `release`
 * puts one into its owner's INBOX (and trains it as ham once the
 * classifier is wired in, see quarantine_set_train_ham); `hold` holds a
 * message by hand, durably like an SMTP delivery; `digest` sends the
 * digests now instead of at [quarantine] digest_time; `expire` drops held
 * mail past its expiry now instead of at the next sweep of the server.
 * This process writes to the store directly; a running server notices a
 * release within a second (its release notes) and tells the user's IMAP
 * sessions, an IDLE included.
 *
 * SECURITY: prints header fields and envelopes that senders wrote (spam):
 * control characters in one-line fields are replaced by spaces, encoded
 * words are decoded first. `show` prints the message itself as stored,
 * which may hold anything: it is for a terminal an administrator chose.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "filter/bayes.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/pool.h"
#include "filter/quarantine.h"
#include "mime/addr.h"
#include "mime/header.h"
#include "mime/mime-decode.h"
#include "store/store.h"

/* A listing shows this many bytes of a header field. */
#define CLI_QUARANTINE_FIELD_MAX 200
/* Users one `hold` may reach (an alias). */
#define CLI_QUARANTINE_USERS_MAX 1000
/* --reason and --symbols, at most. */
#define CLI_QUARANTINE_TEXT_MAX 1000

/* The classifier's settings for a release's ham training. */
static struct bayes_config cli_quarantine_bayes;

static const char cli_quarantine_help[] =
"usage: correio quarantine list [ADDRESS] [-c FILE]\n"
"       correio quarantine show ID [-c FILE]\n"
"       correio quarantine release ID [-c FILE]\n"
"       correio quarantine delete ID [-c FILE]\n"
"       correio quarantine hold ADDRESS [--score N] [--reason TEXT]\n"
"                  [--symbols TEXT] [--from SENDER] [--retention DURATION]\n"
"                  [FILE] [-c FILE]\n"
"       correio quarantine digest [ADDRESS] [-c FILE]\n"
"       correio quarantine expire [-c FILE]\n"
"\n"
"Held mail: messages kept out of the users' mailboxes (spam, malware)\n"
"until released, deleted, or expired ([quarantine] retention).\n"
"'list' prints one line per held message (of one user, or all), newest\n"
"first, separated by tabs: ID, recipient, received and expiry (UTC),\n"
"score, From, Subject, reason. 'show' prints what is known of one, then\n"
"the message. 'release' delivers it to its owner's INBOX. 'delete'\n"
"removes it. 'hold' holds a message (FILE, or standard input) for a\n"
"user or an alias's users, as the spam filter would. 'digest' sends\n"
"each user (or one) the digest of held mail not listed yet, now.\n"
"'expire' deletes held mail past its expiry, now.\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n";

static void
cli_quarantine_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, size, "-");
}

/* Prints a header value on one line: decoded, control characters as
 * spaces, cut at max bytes (0: no cut). */
static void
cli_quarantine_field(const char *s, size_t max)
{
	struct buf dec;
	size_t len;

	if (s == NULL || s[0] == '\0') {
		fputs("-", stdout);
		return;
	}
	buf_init(&dec, 64 * 1024);
	mime_header_decode(s, strlen(s), &dec);
	len = dec.len;
	if (max > 0 && len > max) {
		len = max;
		while (len > 0 && ((unsigned char)dec.data[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)dec.data[i];

		putchar(c < 32 || c == 127 ? ' ' : c);
	}
	if (len == 0)
		fputs("-", stdout);
	buf_release(&dec);
}

static int
cli_quarantine_print(void *ctx, const struct store_quarantine_info *q)
{
	char created[32], expires[32];

	(void)ctx;
	cli_quarantine_time(q->created, created, sizeof(created));
	cli_quarantine_time(q->expires, expires, sizeof(expires));
	printf("%" PRId64 "\t", q->id);
	cli_quarantine_field(q->rcpt, 0);
	printf("\t%s\t%s\t%.1f\t", created, expires, q->score);
	cli_quarantine_field(q->hdr_from != NULL ? q->hdr_from :
	    q->envelope_from, CLI_QUARANTINE_FIELD_MAX);
	putchar('\t');
	cli_quarantine_field(q->hdr_subject, CLI_QUARANTINE_FIELD_MAX);
	putchar('\t');
	cli_quarantine_field(q->reason, CLI_QUARANTINE_FIELD_MAX);
	putchar('\n');
	return 0;
}

static int
cli_quarantine_print_info(void *ctx, const struct store_quarantine_info *q)
{
	char when[32];

	(void)ctx;
	printf("id: %" PRId64 "\n", q->id);
	printf("recipient: ");
	cli_quarantine_field(q->rcpt, 0);
	cli_quarantine_time(q->created, when, sizeof(when));
	printf("\nreceived: %s\n", when);
	cli_quarantine_time(q->expires, when, sizeof(when));
	printf("expires: %s\n", when);
	printf("size: %" PRIu64 "\n", q->size);
	printf("score: %.2f\n", q->score);
	printf("symbols: ");
	cli_quarantine_field(q->symbols, 0);
	printf("\nreason: ");
	cli_quarantine_field(q->reason, 0);
	printf("\nsender: <");
	if (q->envelope_from[0] != '\0')
		cli_quarantine_field(q->envelope_from, 0);
	printf(">\npeer: ");
	cli_quarantine_field(q->peer, 0);
	printf("\nfrom: ");
	cli_quarantine_field(q->hdr_from, 0);
	printf("\nsubject: ");
	cli_quarantine_field(q->hdr_subject, 0);
	printf("\ndate: ");
	cli_quarantine_field(q->hdr_date, 0);
	printf("\ndigested: %s\n", q->digested ? "yes" : "no");
	return 0;
}

/* Copies an open message to standard output. */
static int
cli_quarantine_cat(int fd)
{
	char chunk[8192];
	ssize_t n;

	putchar('\n');
	fflush(stdout);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	}
	return fflush(stdout) == 0 ? 0 : -1;
}

/* Parses an id: a positive decimal number. */
static int
cli_quarantine_id(const char *s, int64_t *id_r)
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

/* A user's id by address: 0 with it, -1 (message printed). */
static int
cli_quarantine_user(struct store *store, const char *what, const char *address,
    int64_t *user_id_r)
{
	const char *error;
	int r;

	r = store_user_lookup(store, address, user_id_r, &error);
	if (r < 0) {
		cli_fail("quarantine %s: %s", what, error);
		return -1;
	}
	if (r == 0) {
		cli_fail("quarantine %s: no such user: %.320s", what, address);
		return -1;
	}
	return 0;
}

struct cli_hold_opts {
	double score;
	const char *reason;
	const char *symbols;
	const char *from;
	unsigned retention;		/* 0: [quarantine] retention */
};

/* `hold`: held for the users ADDRESS reaches, durably (store_deliver). */
static int
cli_quarantine_hold(struct config *config, struct store *store,
    const char *address, const char *path, const struct cli_hold_opts *o)
{
	int64_t users[CLI_QUARANTINE_USERS_MAX], ids[CLI_QUARANTINE_USERS_MAX];
	enum store_rcpt_result res;
	struct store_quarantine_hold hold;
	struct store_delivery d;
	struct store_delivery *batch[1] = { &d };
	struct pool *pool;
	const char *error;
	struct buf msg;
	size_t n_users, hlen;
	time_t now = time(NULL);
	char *addr;
	int ret = CLI_EXIT_OK;

	pool = pool_new(4096);
	if ((addr = addr_normalize(address, pool, &error)) == NULL) {
		pool_free(&pool);
		return cli_usage("quarantine hold: bad address '%.320s': %s",
		    address, error);
	}
	if (store_rcpt_resolve(store, addr, users, CLI_QUARANTINE_USERS_MAX,
	    &n_users, &res, &error) < 0) {
		pool_free(&pool);
		return cli_fail("quarantine hold: %s", error);
	}
	if (res != STORE_RCPT_LOCAL || n_users == 0) {
		pool_free(&pool);
		return cli_fail("quarantine hold: no such user or alias: %.320s",
		    addr);
	}
	buf_init(&msg, config->max_message_size);
	if (cli_read_message("quarantine hold", path, &msg) < 0) {
		buf_release(&msg);
		pool_free(&pool);
		return CLI_EXIT_FAIL;
	}
	hlen = header_block_len(msg.data != NULL ? msg.data : "", msg.len);
	memset(&hold, 0, sizeof(hold));
	hold.score = o->score;
	hold.symbols = o->symbols != NULL ? o->symbols : "";
	hold.reason = o->reason != NULL ? o->reason : "held by the administrator";
	hold.peer = "";
	hold.expires = now + (time_t)(o->retention != 0 ? o->retention :
	    config->quarantine_retention);
	hold.ids_r = ids;
	memset(&d, 0, sizeof(d));
	d.data = msg.data != NULL ? msg.data : "";
	d.size = msg.len;
	d.users = users;
	d.n_users = n_users;
	d.internal_date = now;
	d.envelope_from = o->from != NULL ? o->from : "";
	d.hdr_from = header_get(d.data, hlen, "From", pool);
	d.hdr_subject = header_get(d.data, hlen, "Subject", pool);
	d.hdr_date = header_get(d.data, hlen, "Date", pool);
	d.quarantine = &hold;
	if (store_deliver(store, batch, 1, &error) < 0 || d.result != 0) {
		ret = cli_fail("quarantine hold: %s", error);
	} else {
		for (size_t i = 0; i < n_users; i++) {
			if (ids[i] != 0)
				printf("%" PRId64 "\n", ids[i]);
		}
	}
	buf_release(&msg);
	pool_free(&pool);
	return ret;
}

/* `digest`: one user's, or every user's with undigested held mail. */
static int
cli_quarantine_digest(struct config *config, struct store *store,
    int64_t user_id)
{
	struct quarantine_secret secret;
	int64_t users[STORE_QUARANTINE_USERS_MAX], after = 0;
	const char *error;
	size_t n_users, n, sent = 0;
	int ret = CLI_EXIT_OK;

	if (quarantine_secret_load(&secret, &error) < 0)
		return cli_fail("quarantine digest: %s", error);
	do {
		if (user_id != 0) {
			users[0] = user_id;
			n_users = 1;
		} else if (store_quarantine_users(store, after, users,
		    STORE_QUARANTINE_USERS_MAX, &n_users, &error) < 0) {
			ret = cli_fail("quarantine digest: %s", error);
			break;
		}
		for (size_t i = 0; i < n_users; i++) {
			if (quarantine_digest_send(store, &secret,
			    config->hostname, users[i], time(NULL), &n,
			    &error) < 0) {
				ret = cli_fail("quarantine digest: %s", error);
				continue;
			}
			if (n > 0)
				sent++;
		}
		if (n_users > 0)
			after = users[n_users - 1];
	} while (user_id == 0 && n_users == STORE_QUARANTINE_USERS_MAX);
	quarantine_secret_wipe(&secret);
	printf("%zu digests sent\n", sent);
	return ret;
}

/* Reads the long options of `hold`. */
static int
cli_quarantine_hold_opt(int ch, const char *arg, struct cli_hold_opts *o)
{
	char *end;

	switch (ch) {
	case 's':
		errno = 0;
		o->score = strtod(arg, &end);
		if (errno != 0 || end == arg || *end != '\0' ||
		    !isfinite(o->score) || fabs(o->score) > 1e6)
			return cli_usage("quarantine hold: bad score '%.32s'",
			    arg);
		return -1;
	case 'r':
	case 'y':
		if (strlen(arg) > CLI_QUARANTINE_TEXT_MAX)
			return cli_usage("quarantine hold: --%s is longer "
			    "than %d bytes", ch == 'r' ? "reason" : "symbols",
			    CLI_QUARANTINE_TEXT_MAX);
		if (ch == 'r')
			o->reason = arg;
		else
			o->symbols = arg;
		return -1;
	case 'f':
		if (strlen(arg) > STORE_ADDRESS_MAX)
			return cli_usage("quarantine hold: --from too long");
		o->from = arg;
		return -1;
	case 't':
		if (config_duration_parse(arg, &o->retention) < 0 ||
		    o->retention == 0)
			return cli_usage("quarantine hold: bad retention "
			    "'%.32s'", arg);
		return -1;
	default:
		return CLI_EXIT_USAGE;
	}
}

int
cli_quarantine(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "score", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "symbols", required_argument, NULL, 'y' },
		{ "from", required_argument, NULL, 'f' },
		{ "retention", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_hold_opts hold = { 0 };
	struct config *config = NULL;
	struct store *store = NULL;
	const char *config_path = NULL, *action, *error;
	char *hold_path = NULL;
	bool hold_opts = false;
	int64_t id = 0, user_id = 0, owner;
	char addr[STORE_ADDRESS_MAX + 1];
	uint32_t uid;
	size_t n;
	int ch, ret = CLI_EXIT_OK, r, fd;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			fputs(cli_quarantine_help, stdout);
			return CLI_EXIT_OK;
		case 's':
		case 'r':
		case 'y':
		case 'f':
		case 't':
			if ((r = cli_quarantine_hold_opt(ch, optarg,
			    &hold)) >= 0)
				return r;
			hold_opts = true;
			break;
		default:
			return cli_usage("quarantine: bad option or missing "
			    "value '%.64s' (try 'correio quarantine --help')",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage("quarantine: missing action (list, show, "
		    "release, delete, hold, digest or expire)");
	action = argv[0];
	if (hold_opts && strcmp(action, "hold") != 0)
		return cli_usage("quarantine %.32s: --score, --reason, "
		    "--symbols, --from and --retention are for hold", action);
	if (strcmp(action, "list") == 0 || strcmp(action, "digest") == 0) {
		if (argc > 2)
			return cli_usage("quarantine %s: expected [ADDRESS]",
			    action);
	} else if (strcmp(action, "show") == 0 ||
	    strcmp(action, "release") == 0 ||
	    strcmp(action, "delete") == 0) {
		if (argc != 2)
			return cli_usage("quarantine %s: expected ID", action);
		if (cli_quarantine_id(argv[1], &id) < 0)
			return cli_usage("quarantine %s: bad ID '%.32s'",
			    action, argv[1]);
	} else if (strcmp(action, "hold") == 0) {
		if (argc < 2 || argc > 3)
			return cli_usage("quarantine hold: expected ADDRESS "
			    "[FILE]");
	} else if (strcmp(action, "expire") == 0) {
		if (argc != 1)
			return cli_usage("quarantine expire: no arguments "
			    "expected");
	} else {
		return cli_usage("quarantine: unknown action '%.32s'", action);
	}
	/* FILE is named relative to where we are, not the data directory
	 * cli_open enters. */
	if (strcmp(action, "hold") == 0 && argc == 3 &&
	    strcmp(argv[2], "-") != 0 &&
	    (hold_path = realpath(argv[2], NULL)) == NULL)
		return cli_fail("quarantine hold: cannot open %.256s: %s",
		    argv[2], strerror(errno));
	if (cli_open(cli_config_path(config_path), &config, &store) < 0) {
		free(hold_path);
		return CLI_EXIT_FAIL;
	}
	if ((strcmp(action, "list") == 0 || strcmp(action, "digest") == 0) &&
	    argc == 2 && cli_quarantine_user(store, action, argv[1],
	    &user_id) < 0) {
		cli_close(&config, &store);
		free(hold_path);
		return CLI_EXIT_FAIL;
	}
	if (strcmp(action, "list") == 0) {
		if (store_quarantine_list(store, user_id, 0, 0,
		    cli_quarantine_print, NULL, &error) < 0)
			ret = cli_fail("quarantine list: %s", error);
	} else if (strcmp(action, "show") == 0) {
		r = store_quarantine_get(store, id, 0,
		    cli_quarantine_print_info, NULL, &fd, &error);
		if (r != 0) {
			ret = cli_fail("quarantine show: %s", error);
		} else {
			if (cli_quarantine_cat(fd) < 0)
				ret = cli_fail("quarantine show: %s",
				    strerror(errno));
			close(fd);
		}
	} else if (strcmp(action, "release") == 0) {
		/* The release trains the message as ham for its owner. */
		bayes_config_from(config, &cli_quarantine_bayes);
		quarantine_set_train_ham(bayes_train_ham,
		    &cli_quarantine_bayes);
		if (quarantine_release(store, id, 0, &owner, &uid,
		    &error) != 0)
			ret = cli_fail("quarantine release: %s", error);
		else if (store_user_address(store, owner, addr, sizeof(addr),
		    &error) == 1)
			printf("released %" PRId64 " to %s INBOX uid %u\n", id,
			    addr, uid);
		else
			printf("released %" PRId64 " to user %" PRId64
			    " INBOX uid %u\n", id, owner, uid);
	} else if (strcmp(action, "delete") == 0) {
		if (store_quarantine_delete(store, id, 0, &error) != 0)
			ret = cli_fail("quarantine delete: %s", error);
	} else if (strcmp(action, "hold") == 0) {
		ret = cli_quarantine_hold(config, store, argv[1], hold_path,
		    &hold);
	} else if (strcmp(action, "digest") == 0) {
		ret = cli_quarantine_digest(config, store, user_id);
	} else {
		if (quarantine_expire(store, time(NULL), &n, &error) < 0)
			ret = cli_fail("quarantine expire: %s", error);
		else
			printf("%zu expired\n", n);
	}
	cli_close(&config, &store);
	free(hold_path);
	return ret;
}
