/*
 * line.h - finding lines in a libevent input buffer, limit first.
 *
 * The reader never lets a line grow past its limit before it says so, and
 * never rescans bytes it has already looked at: the caller keeps a scan
 * position between calls (reset it to 0 after taking a line).
 *
 * SECURITY: sees raw peer bytes; looks at most max bytes of the buffer.
 */
#ifndef CORE_LINE_H
#define CORE_LINE_H

#include <stddef.h>

struct evbuffer;

enum line_result {
	LINE_MORE,	/* no LF yet, and fewer than max bytes buffered */
	LINE_OK,	/* *len_r bytes up to and including the LF */
	LINE_TOO_LONG,	/* max bytes buffered without an LF */
};

/*
 * Looks for an LF within the first max bytes of in (max includes the LF).
 * *scanned is the number of bytes already known to hold no LF; it is
 * updated on LINE_MORE and reset to 0 on LINE_OK and LINE_TOO_LONG. Nothing
 * is removed from the buffer.
 */
enum line_result
line_next(struct evbuffer *in, size_t max, size_t *scanned, size_t *len_r);

/*
 * Drops input up to and including the next LF (the tail of an over-long
 * line). Returns 1 if the LF was found, 0 if everything buffered was
 * dropped and the line goes on.
 */
int
line_skip(struct evbuffer *in);

#endif
