/*
 * smtp-parse.h - parsing SMTP command arguments: paths and ESMTP
 * parameters of MAIL and RCPT, and the size of BDAT. Pure functions, no
 * I/O, so they are unit-tested and fuzzed on their own.
 *
 * RFC 5321 4.1.2 (paths), 4.5.3.1 (limits), RFC 1870 (SIZE), RFC 6152
 * (8BITMIME), RFC 6531 (SMTPUTF8), RFC 3030 (BDAT).
 *
 * SECURITY: every byte here comes from the network. Inputs are bounded by
 * the command line limit before they get here; outputs are allocated from
 * the caller's pool.
 */
#ifndef SMTP_SMTP_PARSE_H
#define SMTP_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

#define SMTP_CMD_LINE_MAX 512	/* RFC 5321 4.5.3.1.4, with CRLF */
#define SMTP_TEXT_LINE_MAX 1000	/* RFC 5321 4.5.3.1.6, with CRLF */
#define SMTP_PATH_MAX 256	/* RFC 5321 4.5.3.1.3, with < > */
#define SMTP_LOCAL_MAX 64	/* RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX 255	/* RFC 5321 4.5.3.1.2 */
#define SMTP_PARAMS_MAX 16	/* ESMTP parameters on one command */

enum smtp_parse_error {
	SMTP_PARSE_OK = 0,
	SMTP_PARSE_SYNTAX = -1,		/* 501 5.5.2: the command is malformed */
	SMTP_PARSE_BAD_ADDRESS = -2,	/* 501 5.1.7 / 5.1.3: the path is malformed */
	SMTP_PARSE_UTF8 = -3,		/* 553 5.6.7: non-ASCII without SMTPUTF8 */
	SMTP_PARSE_BAD_PARAM = -4,	/* 555 5.5.4: unknown or bad parameter */
	SMTP_PARSE_TOO_LONG = -5,	/* 501 5.5.2 (path) */
};

struct smtp_path {
	bool null;		/* <> */
	bool postmaster;	/* <Postmaster> without a domain */
	bool utf8;		/* has non-ASCII bytes */
	/* The local part as it must be written in a path: a dot-string, or a
	 * quoted string if it needs quotes (a quoted string whose content is
	 * a valid dot-string is unquoted). */
	char *localpart;
	char *domain;		/* as received: a domain or an address literal */
	char *address;		/* "localpart@domain", "" for <> */
};

enum smtp_body {
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

struct smtp_mail_params {
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
	bool has_auth;		/* AUTH=... given (RFC 4954 5), ignored */
};

/*
 * Parses "FROM:<path> [params]" (the arguments of MAIL, after the verb and
 * its space). White space around the colon is tolerated. The path may use
 * UTF-8 only if SMTPUTF8 is among the parameters.
 * Returns SMTP_PARSE_OK or an error; *error_r is a short reason.
 */
enum smtp_parse_error
smtp_parse_mail(const char *args, struct pool *pool, struct smtp_path *path_r,
    struct smtp_mail_params *params_r, const char **error_r);

/*
 * Parses "TO:<path> [params]". No RCPT parameters are supported (DSN is
 * not offered), so any parameter is SMTP_PARSE_BAD_PARAM. utf8_allowed says
 * whether the transaction's MAIL had SMTPUTF8.
 */
enum smtp_parse_error
smtp_parse_rcpt(const char *args, bool utf8_allowed, struct pool *pool,
    struct smtp_path *path_r, const char **error_r);

/*
 * Parses a path: "<" [source route ":"] mailbox ">" or "<>" (null_ok).
 * *consumed_r is the number of bytes of in that the path took.
 */
enum smtp_parse_error
smtp_parse_path(const char *in, bool null_ok, bool utf8_allowed,
    struct pool *pool, struct smtp_path *path_r, size_t *consumed_r,
    const char **error_r);

/*
 * Parses the arguments of BDAT: "size [LAST]". Returns SMTP_PARSE_OK or
 * SMTP_PARSE_SYNTAX.
 */
enum smtp_parse_error
smtp_parse_bdat(const char *args, uint64_t *size_r, bool *last_r);

#endif
