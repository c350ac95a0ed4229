/*
 * pop3-stuff.h - a stored message as RETR and TOP send it (RFC 1939 3):
 * every line ends in CRLF (a bare LF becomes CRLF), a line that starts
 * with "." gets a second one (byte-stuffing), and the whole ends with
 * CRLF "." CRLF, after a CRLF of its own if the last line had none. TOP
 * stops after the header, its empty line and n lines of the body
 * (RFC 1939 7, TOP).
 *
 * Incremental: the message is fed in pieces of any size and the state
 * carries over, so a message is streamed in chunks, never held whole.
 * A bare CR is sent as it is (only LF ends a line in a stored message).
 *
 * SECURITY: the message is peer data (whoever sent it); the transform
 * writes at most two bytes per byte read, into space the caller sized.
 */
#ifndef POP3_POP3_STUFF_H
#define POP3_POP3_STUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Output room for n bytes of input: LF -> CRLF and "." -> ".." at the
 * start of a line are the only growth, one byte each. */
#define POP3_STUFF_OUT_MAX(n) (2 * (size_t)(n))
#define POP3_STUFF_END_MAX 5	/* CRLF "." CRLF */

struct pop3_stuff {
	bool bol;		/* at the start of a line */
	bool cr;		/* the last byte sent was a CR */
	unsigned line_bytes;	/* of the current line, counted up to 2 */
	bool top;		/* TOP, not RETR */
	bool body;		/* TOP: past the header's empty line */
	uint32_t lines;		/* TOP: body lines still to send */
	bool done;		/* TOP: everything it asked for is out */
};

/* Starts a message: RETR (top false) or TOP with top_lines body lines. */
void
pop3_stuff_init(struct pop3_stuff *st, bool top, uint32_t top_lines);

/*
 * Transforms up to len bytes of the message into out, which has room for
 * POP3_STUFF_OUT_MAX(len) bytes. Returns the bytes written; *used_r is
 * the bytes of in consumed: all of them, unless TOP ended inside them.
 */
size_t
pop3_stuff_feed(struct pop3_stuff *st, const char *in, size_t len,
    char *out, size_t *used_r);

/* True once TOP has sent all it was asked for (never for RETR). */
bool
pop3_stuff_done(const struct pop3_stuff *st);

/* Writes the end (at most POP3_STUFF_END_MAX bytes) into out and
 * returns its length. */
size_t
pop3_stuff_end(struct pop3_stuff *st, char *out);

#endif
