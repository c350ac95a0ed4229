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
