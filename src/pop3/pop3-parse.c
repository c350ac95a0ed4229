/*
 * pop3-parse.c - POP3 command lines and numbers (RFC 1939 3, RFC 2449
 * 4); see pop3-parse.h.
 *
 * SECURITY: peer data, parsed in place with explicit bounds: the keyword
 * is at most POP3_KEYWORD_MAX letters, at most POP3_ARGS_MAX arguments
 * are kept, numbers at most 10 digits.
 */
#include "pop3/pop3-parse.h"

#include <ctype.h>
#include <string.h>

int
pop3_command_parse(const char *line, size_t len, struct pop3_command *cmd_r,
    const char **error_r)
{
	size_t i, k, end = len;

	memset(cmd_r, 0, sizeof(*cmd_r));
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL byte in command";
		return -1;
	}
	while (end > 0 && line[end - 1] == ' ')
		end--;
	if (end == 0) {
		*error_r = "Empty command";
		return -1;
	}
	for (k = 0; k < end && line[k] != ' '; k++) {
		if (k == POP3_KEYWORD_MAX ||
		    !isalpha((unsigned char)line[k])) {
			*error_r = "Unknown command";
			return -1;
		}
		cmd_r->name[k] = (char)toupper((unsigned char)line[k]);
	}
	cmd_r->name[k] = '\0';
	if (k == 0) {
		*error_r = "Unknown command";
		return -1;
	}
	/* the rest as sent, trailing spaces included (a password's) */
	cmd_r->rest.s = k < len ? line + k + 1 : line + len;
	cmd_r->rest.len = k < len ? len - k - 1 : 0;
	for (i = k; i < end;) {
		const char *s;

		while (i < end && line[i] == ' ')
			i++;
		if (i == end)
			break;
		s = line + i;
		while (i < end && line[i] != ' ')
			i++;
		if (cmd_r->n_args == POP3_ARGS_MAX) {
			cmd_r->too_many = true;
			break;
		}
		cmd_r->args[cmd_r->n_args].s = s;
		cmd_r->args[cmd_r->n_args].len = (size_t)(line + i - s);
		cmd_r->n_args++;
	}
	return 0;
}

int
pop3_number_parse(const char *s, size_t len, uint32_t *n_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}
