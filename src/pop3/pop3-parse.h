/*
 * pop3-parse.h - POP3 command lines (RFC 1939 3, RFC 2449 4) and their
 * numeric arguments.
 *
 * A command is a keyword and arguments separated by spaces. The line
 * given here has no line end any more (the reader strips CRLF or LF and
 * enforces the length limits below before a line is complete).
 *
 * SECURITY: every byte is peer data. The parser only points into the
 * line it is given; it never copies or allocates, and refuses NUL bytes.
 */
#ifndef POP3_POP3_PARSE_H
#define POP3_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POP3_LINE_MAX 255	/* RFC 2449 4: a command, CRLF included */
/* Before login, PASS and AUTH PLAIN (and its response line) carry a
 * password (STORE_PASSWORD_MAX 511 bytes) and, for PLAIN, two addresses
 * (320 bytes each) in base64: 4 * (1153 / 3) = 1540 bytes at most. */
#define POP3_AUTH_LINE_MAX 2048
#define POP3_KEYWORD_MAX 4	/* RFC 2449 4: keywords are 3 or 4 chars */
#define POP3_ARGS_MAX 2		/* TOP msg n; AUTH mechanism response */

struct pop3_arg {
	const char *s;		/* into the line; not NUL-terminated */
	size_t len;
};

struct pop3_command {
	char name[POP3_KEYWORD_MAX + 1];	/* upper case */
	struct pop3_arg args[POP3_ARGS_MAX];
	size_t n_args;
	bool too_many;		/* more arguments than POP3_ARGS_MAX */
	/* Everything after the keyword and one space, as sent: PASS takes
	 * it whole, since a password may hold spaces (RFC 1939 7, PASS). */
	struct pop3_arg rest;
};

/*
 * Splits a command line of len bytes into *cmd_r (which points into it).
 * Arguments are separated by one or more spaces; trailing spaces are
 * ignored. Returns 0, or -1 with *error_r set to a short reason for the
 * client: an empty line, a keyword that is not 1 to POP3_KEYWORD_MAX
 * letters ("Unknown command"), a NUL byte.
 */
int
pop3_command_parse(const char *line, size_t len, struct pop3_command *cmd_r,
    const char **error_r);

/*
 * Parses a decimal number of 1 to 10 digits, at most UINT32_MAX, with no
 * sign, space or other character. Returns 0 or -1.
 */
int
pop3_number_parse(const char *s, size_t len, uint32_t *n_r);

#endif
