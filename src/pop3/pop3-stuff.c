/*
 * pop3-stuff.c - RETR and TOP output: CRLF line ends, byte-stuffing, the
 * terminating "." line, TOP's line count (RFC 1939 3 and 7); see
 * pop3-stuff.h.
 *
 * The message is copied in runs between LFs (memchr), so the cost per
 * byte is that of a memcpy; only line starts and ends are looked at.
 *
 * SECURITY: message bytes are arbitrary. The only state is a few flags;
 * output is bounded by POP3_STUFF_OUT_MAX of the input.
 */
#include "pop3/pop3-stuff.h"

#include <string.h>

void
pop3_stuff_init(struct pop3_stuff *st, bool top, uint32_t top_lines)
{
	memset(st, 0, sizeof(*st));
	st->bol = true;
	st->top = top;
	st->lines = top_lines;
}

bool
pop3_stuff_done(const struct pop3_stuff *st)
{
	return st->done;
}

/* A line ended: TOP counts it. */
static void
pop3_stuff_line_end(struct pop3_stuff *st)
{
	/* the header ends with the first empty line (RFC 5322 2.1) */
	bool empty = st->line_bytes == 0 || (st->line_bytes == 1 && st->cr);

	st->bol = true;
	st->cr = false;
	st->line_bytes = 0;
	if (!st->top)
		return;
	if (!st->body) {
		if (empty) {
			st->body = true;
			st->done = st->lines == 0;
		}
	} else if (--st->lines == 0) {
		st->done = true;
	}
}

size_t
pop3_stuff_feed(struct pop3_stuff *st, const char *in, size_t len,
    char *out, size_t *used_r)
{
	const char *p = in, *end = in + len;
	char *o = out;

	while (p < end && !st->done) {
		const char *lf;
		size_t n;

		if (st->bol) {
			/* RFC 1939 3: a line starting with "." gets one more */
			if (*p == '.')
				*o++ = '.';
			st->bol = false;
		}
		lf = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((lf != NULL ? lf : end) - p);
		if (n > 0) {
			memcpy(o, p, n);
			o += n;
			st->line_bytes += n < 2 ? (unsigned)n : 2;
			if (st->line_bytes > 2)
				st->line_bytes = 2;
			st->cr = p[n - 1] == '\r';
			p += n;
		}
		if (lf == NULL)
			break;
		if (!st->cr)
			*o++ = '\r';	/* a bare LF */
		*o++ = '\n';
		p++;
		pop3_stuff_line_end(st);
	}
	*used_r = (size_t)(p - in);
	return (size_t)(o - out);
}

size_t
pop3_stuff_end(struct pop3_stuff *st, char *out)
{
	char *o = out;

	if (!st->bol) {
		/* the last line had no line end (a trailing CR is taken as
		 * the start of one) */
		if (!st->cr)
			*o++ = '\r';
		*o++ = '\n';
		st->bol = true;
		st->cr = false;
	}
	memcpy(o, ".\r\n", 3);
	o += 3;
	return (size_t)(o - out);
}
