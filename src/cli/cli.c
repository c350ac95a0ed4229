/*
 * cli.c - helpers shared by the subcommands (see cli.h).
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/config.h"
#include "core/privs.h"
#include "store/store.h"

int
cli_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("correio: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_USAGE;
}

int
cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("correio: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAIL;
}

const char *
cli_config_path(const char *given)
{
	const char *env;

	if (given != NULL)
		return given;
	env = getenv("CORREIO_CONFIG");
	return env != NULL && env[0] != '\0' ? env : CLI_DEFAULT_CONFIG;
}

int
cli_open(const char *config_path, struct config **config_r,
    struct store **store_r)
{
	const char *error;

	if (config_load(config_path, NULL, 0, config_r, &error) < 0) {
		cli_fail("%s", error);
		return -1;
	}
	log_set_level((*config_r)->log_level);
	/* As root, become the server's user so that every file in the data
	 * directory keeps one owner. */
	if (privs_enter((*config_r)->data_dir, (*config_r)->user, &error) < 0 ||
	    store_open(".", store_r, &error) < 0) {
		cli_fail("%s", error);
		config_free(config_r);
		return -1;
	}
	return 0;
}

void
cli_close(struct config **configp, struct store **storep)
{
	store_close(storep);
	config_free(configp);
}
