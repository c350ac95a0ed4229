/*
 * fuzz_pop3_parse.c - POP3 command lines and numbers as they come off the
 * network (after the line limit), and the RETR/TOP transform over
 * arbitrary message bytes, fed in pieces the input chooses; every output
 * is checked against the rules it must keep.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3-parse.h"
#include "pop3/pop3-stuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_command(const char *s, size_t size)
{
	struct pop3_command cmd;
	const char *error;
	uint32_t n;

	if (pop3_command_parse(s, size, &cmd, &error) == 0) {
		if (strlen(cmd.name) == 0 || strlen(cmd.name) >
		    POP3_KEYWORD_MAX || cmd.n_args > POP3_ARGS_MAX)
			abort();
		for (size_t i = 0; i < cmd.n_args; i++) {
			if (cmd.args[i].s < s || cmd.args[i].s +
			    cmd.args[i].len > s + size || cmd.args[i].len == 0)
				abort();
			(void)pop3_number_parse(cmd.args[i].s, cmd.args[i].len,
			    &n);
		}
		if (cmd.rest.s < s || cmd.rest.s + cmd.rest.len > s + size)
			abort();
	}
	(void)pop3_number_parse(s, size, &n);
}

/* Undoes the stuffing as a client does; checks the end line. Returns the
 * length of the message it got. */
static size_t
fuzz_unstuff(const char *out, size_t n, char *msg)
{
	size_t m = 0, i = 0;

	while (i < n) {
		const char *lf = memchr(out + i, '\n', n - i);
		size_t len;

		if (lf == NULL || lf == out + i || lf[-1] != '\r')
			abort();	/* every line ends in CRLF */
		len = (size_t)(lf - (out + i)) + 1;
		if (len == 3 && out[i] == '.') {
			if (i + 3 != n)
				abort();	/* the end line is last */
			return m;
		}
		if (out[i] == '.') {
			if (len < 4 || out[i + 1] != '.')
				abort();	/* a dot is always stuffed */
			i++;
			len--;
		}
		memcpy(msg + m, out + i, len);
		m += len;
		i += len;
	}
	abort();		/* no end line */
}

static void
fuzz_stuff(const char *s, size_t size, unsigned piece, bool top)
{
	char *out = malloc(POP3_STUFF_OUT_MAX(size) + POP3_STUFF_END_MAX);
	char *msg = malloc(POP3_STUFF_OUT_MAX(size) + 1);
	struct pop3_stuff st;
	size_t pos = 0, o = 0, m, crlf = 0;

	if (out == NULL || msg == NULL)
		abort();
	pop3_stuff_init(&st, top, piece % 5);
	while (pos < size && !pop3_stuff_done(&st)) {
		size_t n = size - pos < piece ? size - pos : piece, used, w;

		w = pop3_stuff_feed(&st, s + pos, n, out + o, &used);
		if (w > POP3_STUFF_OUT_MAX(n) || used > n ||
		    (used < n && !pop3_stuff_done(&st)))
			abort();
		o += w;
		pos += used;
	}
	o += pop3_stuff_end(&st, out + o);
	m = fuzz_unstuff(out, o, msg);
	/* RETR: the message with bare LFs made CRLF, and a CRLF at the end
	 * if it had none: never shorter, never more than one CR per LF */
	if (!top) {
		for (size_t i = 0; i < size; i++)
			crlf += s[i] == '\n' && (i == 0 || s[i - 1] != '\r');
		if (m < size || m > size + crlf + 2)
			abort();
	}
	free(out);
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 65536)
		return 0;
	/* An exact-size heap copy, so that ASan sees any read past its end */
	s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (size <= POP3_AUTH_LINE_MAX)
		fuzz_command(s, size);
	fuzz_stuff(s, size, size > 0 ? 1 + data[0] % 16 : 1, false);
	fuzz_stuff(s, size, size > 1 ? 1 + data[1] % 64 : 3, true);
	free(s);
	return 0;
}
