/*
 * cli.h - the subcommands of the one `correio` binary, and what they
 * share: option parsing conventions, config loading, opening the store as
 * the right user.
 *
 * Exit codes: 0 success, 1 runtime error, 2 usage error (one line on
 * stderr, "correio: ...").
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdbool.h>

struct config;
struct store;

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Used when -c is not given (and CORREIO_CONFIG is not set). */
#define CLI_DEFAULT_CONFIG "/etc/correio/correio.conf"

int cli_init(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_domain(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_alias(int argc, char **argv);
int cli_mailbox(int argc, char **argv);
int cli_message(int argc, char **argv);
int cli_dns(int argc, char **argv);
int cli_dkim(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_sendmail(int argc, char **argv);
int cli_auth(int argc, char **argv);
int cli_spam(int argc, char **argv);
int cli_spam_check(int argc, char **argv);
int cli_spam_lists(int argc, char **argv);
int cli_quarantine(int argc, char **argv);

struct config;
struct option;

/*
 * For `correio spam` subcommands (cli-spam.c): reads -c, -o and --help
 * (printing help) from argv, with extra long options (a NULL-named end,
 * or NULL) handed to on_opt(ch, optarg, ctx), which returns -1 to go on
 * or an exit code to stop with; then loads the config. Returns -1 with
 * *config_r set (free it with config_free), or the exit code to return.
 * optind is left at the first operand.
 */
int
cli_spam_config(int argc, char **argv, const char *help,
    const struct option *extra, int (*on_opt)(int ch, const char *arg,
    void *ctx), void *ctx, struct config **config_r);

/* `correio spam milter` (cli-spam-milter.c): a message through the
 * [milter] servers. */
int
cli_spam_milter(int argc, char **argv);
/* `correio spam train` and `correio spam stats` (cli-spam-bayes.c):
 * the statistical classifier. */
int
cli_spam_train(int argc, char **argv);
int
cli_spam_stats(int argc, char **argv);

struct buf;

/* Reads a message from path ("-" or NULL: standard input) into msg (its
 * max bounds it), a bare LF becoming CRLF. Returns 0, or -1 with the
 * error printed, prefixed with what ("dkim verify"). */
int
cli_read_message(const char *what, const char *path, struct buf *msg);

/* Prints "correio: MESSAGE" and returns CLI_EXIT_USAGE. */
int
cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "correio: MESSAGE" and returns CLI_EXIT_FAIL. */
int
cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The -c value, or CORREIO_CONFIG, or CLI_DEFAULT_CONFIG. */
const char *
cli_config_path(const char *given);

/*
 * Loads the config, enters its data directory as its user (see
 * privs_enter) and opens the store. Returns 0 or -1 (message printed).
 */
int
cli_open(const char *config_path, struct config **config_r,
    struct store **store_r);

/* Frees what cli_open() returned. */
void
cli_close(struct config **configp, struct store **storep);

#endif
