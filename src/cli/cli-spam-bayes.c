/*
 * cli-spam-bayes.c - `correio spam train` and `correio spam stats`: the
 * statistical classifier (filter/bayes.h) from the command line.
 *
 *   correio spam train --spam|--ham|--forget [--user ADDRESS] PATH...
 *   correio spam stats [ADDRESS]
 *
 * train learns every message of each PATH: a Maildir (the files of its
 * cur/ and new/), an mbox (a file that starts with "From ": split on
 * "From " lines, ">From " unquoted as mboxrd does), or one message file.
 * Messages go into the global table, and with --user into that user's
 * too (as a move into or out of Junk over IMAP does). Each message is
 * learnt once: one learnt before as the same class is skipped, one
 * learnt as the other class is moved over. Learning is batched,
 * CLI_TRAIN_BATCH messages per transaction.
 *
 * The PATHs are opened before the command becomes the server's user
 * (privs_enter), so a file or mbox root can read is learnt; the files in
 * a Maildir are opened afterwards and must be readable by that user.
 *
 * Exit codes: 0 done, 1 an error (a path that could not be read counts:
 * the rest is still learnt), 2 usage.
 *
 * SECURITY: the messages are peer data, handled by the tokenizer
 * (bayes.c: bounded); each is read up to BAYES_MESSAGE_MAX bytes; file
 * names are not followed through symbolic links inside a Maildir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/privs.h"
#include "filter/bayes.h"
#include "store/store.h"

/* PATH operands of one train. */
#define CLI_TRAIN_PATHS_MAX 256
/* Messages learnt per transaction. */
#define CLI_TRAIN_BATCH 100
/* Bytes of one mbox line kept (longer ones are cut, the message goes
 * on). */
#define CLI_TRAIN_LINE_MAX (64 * 1024)

static const char cli_train_help[] =
"usage: correio spam train --spam|--ham|--forget [--user ADDRESS]\n"
"           [-c FILE] [-o SECTION.KEY=VALUE]... PATH...\n"
"\n"
"Teaches the classifier: every message of each PATH is learnt as spam\n"
"(--spam) or ham (--ham), or unlearnt (--forget). A PATH is a Maildir\n"
"(its cur/ and new/), an mbox (a file starting with \"From \") or a\n"
"single message. Messages go into the global table, and with --user\n"
"into that user's table too. A message learnt before as the same class\n"
"is skipped; one learnt as the other class is moved over. Prints how\n"
"many were learnt, moved and skipped.\n"
"  --user ADDRESS     also learn into this user's table\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n";

static const char cli_stats_help[] =
"usage: correio spam stats [-c FILE] [-o SECTION.KEY=VALUE]... [ADDRESS]\n"
"\n"
"Prints what the classifier has learnt, one line for the global table\n"
"and one for ADDRESS's: messages learnt as spam and as ham, tokens,\n"
"messages remembered as learnt, and whether the table is ready to give\n"
"verdicts ([bayes] min_learns of each class).\n";

struct cli_train {
	int klass;		/* BAYES_SPAM, BAYES_HAM, or -1: forget */
	bool klass_set;
	const char *user;
	struct config *cfg;
	struct store *store;
	struct bayes_config bc;
	int64_t user_id;
	time_t now;
	size_t in_batch;
	bool batch_open;
	/* results */
	size_t counts[BAYES_LEARN_EMPTY + 1];
	size_t failed;		/* messages that could not be learnt */
	size_t unreadable;	/* paths and files that could not be read */
};

static int
cli_train_opt(int ch, const char *arg, void *ctx)
{
	struct cli_train *t = ctx;
	int klass = ch == 'S' ? BAYES_SPAM : ch == 'H' ? BAYES_HAM : -1;

	switch (ch) {
	case 'S':
	case 'H':
	case 'F':
		if (t->klass_set && t->klass != klass)
			return cli_usage("spam train: give one of --spam, --ham "
			    "and --forget");
		t->klass = klass;
		t->klass_set = true;
		return -1;
	case 'u':
		t->user = arg;
		return -1;
	}
	return cli_usage("spam train: bad option");
}

/* Ends the open batch (committing it); returns 0 or -1. */
static int
cli_train_flush(struct cli_train *t)
{
	const char *error;

	if (!t->batch_open)
		return 0;
	t->batch_open = false;
	t->in_batch = 0;
	if (store_bayes_batch_end(t->store, true, &error) < 0) {
		cli_fail("spam train: %s", error);
		return -1;
	}
	return 0;
}

/* Learns one message (what: its name, for messages). */
static void
cli_train_message(struct cli_train *t, const char *data, size_t len,
    const char *what)
{
	enum bayes_learn_result res;
	const char *error;
	int r;

	if (!t->batch_open) {
		if (store_bayes_batch_begin(t->store, &error) < 0) {
			fprintf(stderr, "correio: spam train: %s\n", error);
			t->failed++;
			return;
		}
		t->batch_open = true;
	}
	if (t->klass < 0)
		r = bayes_unlearn(t->store, &t->bc, data, len, t->user_id,
		    &res, &error);
	else
		r = bayes_learn(t->store, &t->bc, data, len, t->user_id,
		    (enum bayes_class)t->klass, t->now, &res, &error);
	if (r < 0) {
		fprintf(stderr, "correio: spam train: %s: %s\n", what, error);
		t->failed++;
		return;
	}
	t->counts[res]++;
	if (++t->in_batch >= CLI_TRAIN_BATCH)
		(void)cli_train_flush(t);
}

/* Reads up to BAYES_MESSAGE_MAX bytes of fd into msg. */
static int
cli_train_read(int fd, struct buf *msg)
{
	char chunk[65536];

	buf_reset(msg);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		size_t room = msg->max - msg->len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0 || room == 0)
			return 0;
		if (buf_append(msg, chunk, (size_t)n > room ? room :
		    (size_t)n) < 0)
			return -1;
	}
}

/* One message in a file. */
static void
cli_train_file(struct cli_train *t, int fd, const char *what)
{
	struct buf msg;

	buf_init(&msg, BAYES_MESSAGE_MAX);
	if (cli_train_read(fd, &msg) < 0) {
		fprintf(stderr, "correio: spam train: %s: %s\n", what,
		    strerror(errno));
		t->unreadable++;
	} else {
		cli_train_message(t, msg.data != NULL ? msg.data : "", msg.len,
		    what);
	}
	buf_release(&msg);
}

/* The empty line an mbox writer puts before the next "From " line is
 * not the message's. */
static void
cli_train_mbox_end(struct buf *msg)
{
	if (msg->len >= 4 && memcmp(msg->data + msg->len - 4, "\r\n\r\n",
	    4) == 0)
		msg->len -= 2;
	else if (msg->len >= 2 && memcmp(msg->data + msg->len - 2, "\n\n",
	    2) == 0)
		msg->len -= 1;
	if (msg->data != NULL)
		msg->data[msg->len] = '\0';
}

/* An mbox: messages separated by "From " lines; ">From " (any number
 * of '>') loses one '>' (mboxrd; in mboxo it was "From " to begin with,
 * so it comes out right either way). */
static void
cli_train_mbox(struct cli_train *t, int fd, const char *what)
{
	FILE *f = fdopen(fd, "r");
	struct buf msg;
	char *line = NULL;
	size_t cap = 0, n_msgs = 0;
	ssize_t n;
	bool in_msg = false;
	char name[512];

	if (f == NULL) {
		fprintf(stderr, "correio: spam train: %s: %s\n", what,
		    strerror(errno));
		t->unreadable++;
		(void)close(fd);
		return;
	}
	buf_init(&msg, BAYES_MESSAGE_MAX);
	while ((n = getline(&line, &cap, f)) >= 0) {
		const char *l = line;
		size_t len = (size_t)n;

		if (len >= 5 && memcmp(l, "From ", 5) == 0) {
			if (in_msg) {
				cli_train_mbox_end(&msg);
				(void)snprintf(name, sizeof(name), "%s #%zu",
				    what, n_msgs);
				cli_train_message(t, msg.data != NULL ?
				    msg.data : "", msg.len, name);
			}
			buf_reset(&msg);
			in_msg = true;
			n_msgs++;
			continue;
		}
		if (!in_msg)
			continue;
		if (len >= 6 && l[0] == '>') {
			size_t k = 0;

			while (k < len && l[k] == '>')
				k++;
			if (len - k >= 5 && memcmp(l + k, "From ", 5) == 0) {
				l++;
				len--;
			}
		}
		if (len > CLI_TRAIN_LINE_MAX)
			len = CLI_TRAIN_LINE_MAX;
		/* past BAYES_MESSAGE_MAX the rest is not learnt */
		(void)buf_append(&msg, l, len <= msg.max - msg.len ? len :
		    msg.max - msg.len);
	}
	if (ferror(f)) {
		fprintf(stderr, "correio: spam train: %s: %s\n", what,
		    strerror(errno));
		t->unreadable++;
	}
	if (in_msg) {
		cli_train_mbox_end(&msg);
		(void)snprintf(name, sizeof(name), "%s #%zu", what, n_msgs);
		cli_train_message(t, msg.data != NULL ? msg.data : "", msg.len,
		    name);
	}
	free(line);
	buf_release(&msg);
	(void)fclose(f);
}

static int
cli_train_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of one Maildir subdirectory, by name (a stable order);
 * closes dir_fd. */
static void
cli_train_maildir_sub(struct cli_train *t, int dir_fd, const char *what)
{
	char **names = NULL, name[PATH_MAX];
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d = fdopendir(dir_fd);

	if (d == NULL) {
		fprintf(stderr, "correio: spam train: %s: %s\n", what,
		    strerror(errno));
		t->unreadable++;
		(void)close(dir_fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;	/* ., .. and hidden files */
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				abort();
		}
		if ((names[n++] = strdup(e->d_name)) == NULL)
			abort();
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cli_train_name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int fd = openat(dirfd(d), names[i],
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

		(void)snprintf(name, sizeof(name), "%s/%s", what, names[i]);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (fd >= 0)
				(void)close(fd);
			fprintf(stderr, "correio: spam train: %s: not a "
			    "readable file\n", name);
			t->unreadable++;
		} else {
			cli_train_file(t, fd, name);
			(void)close(fd);
		}
		free(names[i]);
	}
	free(names);
	(void)closedir(d);
}

/* What one PATH operand is, opened before privs_enter. */
struct cli_train_path {
	const char *arg;
	int fd;			/* a file, or -1 */
	int cur, new_;		/* a Maildir's subdirectories, or -1 */
	bool mbox;
	int err;		/* errno when nothing could be opened */
};

static void
cli_train_path_open(struct cli_train_path *p, const char *arg)
{
	struct stat st;
	int fd;

	p->arg = arg;
	p->fd = p->cur = p->new_ = -1;
	p->mbox = false;
	p->err = 0;
	fd = open(arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		p->err = errno;
		if (fd >= 0)
			(void)close(fd);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		p->cur = openat(fd, "cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		p->new_ = openat(fd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		(void)close(fd);
		if (p->cur < 0 && p->new_ < 0)
			p->err = ENOTDIR;	/* no cur/ or new/ */
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		p->err = EINVAL;
		return;
	}
	{
		char head[5];
		ssize_t n = pread(fd, head, sizeof(head), 0);

		p->mbox = n == 5 && memcmp(head, "From ", 5) == 0;
	}
	p->fd = fd;
}

static void
cli_train_path(struct cli_train *t, struct cli_train_path *p)
{
	char name[PATH_MAX];

	if (p->err != 0) {
		fprintf(stderr, "correio: spam train: %s: %s\n", p->arg,
		    p->err == ENOTDIR ? "a directory that is no Maildir "
		    "(no cur/ or new/)" : p->err == EINVAL ?
		    "not a file or a directory" : strerror(p->err));
		t->unreadable++;
		return;
	}
	if (p->fd >= 0) {
		if (p->mbox) {
			cli_train_mbox(t, p->fd, p->arg);	/* closes it */
		} else {
			cli_train_file(t, p->fd, p->arg);
			(void)close(p->fd);
		}
		p->fd = -1;
		return;
	}
	if (p->cur >= 0) {
		(void)snprintf(name, sizeof(name), "%s/cur", p->arg);
		cli_train_maildir_sub(t, p->cur, name);	/* closes it */
		p->cur = -1;
	}
	if (p->new_ >= 0) {
		(void)snprintf(name, sizeof(name), "%s/new", p->arg);
		cli_train_maildir_sub(t, p->new_, name);
		p->new_ = -1;
	}
}

int
cli_spam_train(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "spam", no_argument, NULL, 'S' },
		{ "ham", no_argument, NULL, 'H' },
		{ "forget", no_argument, NULL, 'F' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_train t = { .klass = -1 };
	struct cli_train_path *paths;
	const char *error;
	size_t n_paths;
	int r, ret = CLI_EXIT_OK;

	if ((r = cli_spam_config(argc, argv, cli_train_help, extra,
	    cli_train_opt, &t, &t.cfg)) >= 0)
		return r;
	if (!t.klass_set) {
		config_free(&t.cfg);
		return cli_usage("spam train: give --spam, --ham or --forget");
	}
	if (optind >= argc) {
		config_free(&t.cfg);
		return cli_usage("spam train: give a file, Maildir or mbox");
	}
	n_paths = (size_t)(argc - optind);
	if (n_paths > CLI_TRAIN_PATHS_MAX) {
		config_free(&t.cfg);
		return cli_usage("spam train: at most %d paths",
		    CLI_TRAIN_PATHS_MAX);
	}
	log_set_level(t.cfg->log_level);
	bayes_config_from(t.cfg, &t.bc);
	t.now = time(NULL);
	/* before the change of user and directory: relative paths, and
	 * files only root may read */
	paths = calloc(n_paths, sizeof(*paths));
	if (paths == NULL)
		abort();
	for (size_t i = 0; i < n_paths; i++)
		cli_train_path_open(&paths[i], argv[optind + (int)i]);
	if (privs_enter(t.cfg->data_dir, t.cfg->user, &error) < 0 ||
	    store_open(".", &t.store, &error) < 0) {
		ret = cli_fail("%s", error);
		goto out;
	}
	if (t.user != NULL) {
		r = store_user_lookup(t.store, t.user, &t.user_id, &error);
		if (r <= 0) {
			ret = r < 0 ? cli_fail("%s", error) :
			    cli_fail("spam train: no such user: %.320s",
			    t.user);
			goto out;
		}
	}
	for (size_t i = 0; i < n_paths; i++)
		cli_train_path(&t, &paths[i]);
	if (cli_train_flush(&t) < 0) {
		ret = CLI_EXIT_FAIL;
		goto out;
	}
	if (t.klass < 0)
		printf("forgotten %zu, not learnt %zu, failed %zu,"
		    " unreadable %zu\n", t.counts[BAYES_LEARN_FORGOTTEN],
		    t.counts[BAYES_LEARN_UNKNOWN], t.failed, t.unreadable);
	else
		printf("%s: learnt %zu, relearnt %zu, skipped %zu (already"
		    " learnt), empty %zu, failed %zu, unreadable %zu\n",
		    t.klass == BAYES_SPAM ? "spam" : "ham",
		    t.counts[BAYES_LEARN_NEW], t.counts[BAYES_LEARN_MOVED],
		    t.counts[BAYES_LEARN_ALREADY], t.counts[BAYES_LEARN_EMPTY],
		    t.failed, t.unreadable);
	if (t.failed > 0 || t.unreadable > 0)
		ret = CLI_EXIT_FAIL;
out:
	for (size_t i = 0; i < n_paths; i++) {
		if (paths[i].fd >= 0)
			(void)close(paths[i].fd);
		if (paths[i].cur >= 0)
			(void)close(paths[i].cur);
		if (paths[i].new_ >= 0)
			(void)close(paths[i].new_);
	}
	free(paths);
	if (t.batch_open) {
		const char *ignored;

		(void)store_bayes_batch_end(t.store, false, &ignored);
	}
	store_close(&t.store);
	config_free(&t.cfg);
	return ret;
}

static void
cli_stats_line(const char *table, const struct store_bayes_stats *st,
    bool ready)
{
	printf("%s spam=%llu ham=%llu tokens=%llu learnt=%llu ready=%s\n",
	    table, (unsigned long long)st->spam, (unsigned long long)st->ham,
	    (unsigned long long)st->tokens, (unsigned long long)st->learnt,
	    ready ? "yes" : "no");
}

int
cli_spam_stats(int argc, char **argv)
{
	struct store_bayes_stats st;
	struct bayes_config bc;
	struct config *cfg = NULL;
	struct store *store = NULL;
	const char *error, *address = NULL;
	int64_t user_id = 0;
	int r, ret = CLI_EXIT_OK;

	if ((r = cli_spam_config(argc, argv, cli_stats_help, NULL, NULL, NULL,
	    &cfg)) >= 0)
		return r;
	if (argc - optind > 1) {
		config_free(&cfg);
		return cli_usage("spam stats: at most one address");
	}
	if (optind < argc)
		address = argv[optind];
	log_set_level(cfg->log_level);
	bayes_config_from(cfg, &bc);
	if (privs_enter(cfg->data_dir, cfg->user, &error) < 0 ||
	    store_open(".", &store, &error) < 0) {
		ret = cli_fail("%s", error);
		goto out;
	}
	if (address != NULL) {
		r = store_user_lookup(store, address, &user_id, &error);
		if (r <= 0) {
			ret = r < 0 ? cli_fail("%s", error) :
			    cli_fail("spam stats: no such user: %.320s",
			    address);
			goto out;
		}
	}
	printf("enabled=%s min_learns=%u per_user=%s autolearn=%s\n",
	    bc.enabled ? "yes" : "no", bc.min_learns,
	    bc.per_user ? "yes" : "no", bc.autolearn ? "yes" : "no");
	if (store_bayes_stats(store, STORE_BAYES_GLOBAL, &st, &error) < 0) {
		ret = cli_fail("spam stats: %s", error);
		goto out;
	}
	cli_stats_line("global", &st, st.spam >= bc.min_learns &&
	    st.ham >= bc.min_learns);
	if (address != NULL) {
		if (store_bayes_stats(store, user_id, &st, &error) < 0) {
			ret = cli_fail("spam stats: %s", error);
			goto out;
		}
		cli_stats_line(address, &st, bc.per_user &&
		    st.spam >= bc.min_learns && st.ham >= bc.min_learns);
	}
out:
	store_close(&store);
	config_free(&cfg);
	return ret;
}
