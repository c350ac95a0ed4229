/*
 * header.h - reading single header fields of an RFC 5322 message.
 *
 * This is the small part of message parsing that delivery needs (Subject,
 * From and Date for listings); the full MIME parser comes with IMAP.
 *
 * SECURITY: the message is peer data. Only the header block is read (up to
 * the first empty line or HEADER_SCAN_MAX bytes), values are unfolded and
 * capped at HEADER_VALUE_MAX bytes.
 */
#ifndef MIME_HEADER_H
#define MIME_HEADER_H

#include <stddef.h>
#include <time.h>

struct pool;

#define HEADER_SCAN_MAX (256 * 1024)
#define HEADER_VALUE_MAX 998	/* RFC 5322 2.1.1 line limit */

/*
 * Returns the unfolded value of the first field called name (compared
 * case-insensitively), without leading white space, allocated from pool;
 * NULL if the message has no such field in its header.
 */
char *
header_get(const char *msg, size_t len, const char *name, struct pool *pool);

/* Returns 1 if the header block has a field called name, else 0. */
int
header_has(const char *msg, size_t len, const char *name);

/* The number of fields called name in the header block. */
int
header_count(const char *msg, size_t len, const char *name);

/* The length of the header block of msg: up to and including the line
 * end before the empty line (CRLF or LF); 0 if msg starts with the empty
 * line, len if there is none. */
size_t
header_block_len(const char *msg, size_t len);

/* Room for header_date and header_message_id results. */
#define HEADER_DATE_SIZE 64
#define HEADER_MSGID_SIZE 320

/* Writes t as an RFC 5322 3.3 date-time in local time ("Mon, 2 Nov 2026
 * 10:00:00 +0100"). Returns 0, or -1 if size is too small. */
int
header_date(time_t t, char *buf, size_t size);

/*
 * Parses an RFC 5322 3.3 date-time ("Mon, 2 Nov 2026 10:00:00 +0100"),
 * with the obsolete forms of 4.3: no day of week, two- or three-digit
 * years (RFC 5322 4.3: 00-49 are 2000-2049, 50-999 add 1900), no
 * seconds, the zones UT, GMT, EST/EDT, CST/CDT, MST/MDT, PST/PDT and the
 * military letters (taken as +0000, as 4.3 says), comments in
 * parentheses (not nested more than HEADER_DATE_COMMENT_DEPTH), extra
 * white space. The day must exist in its month; hours 00-23, minutes
 * 00-59, seconds 00-60. *r is the instant in UTC. Returns 0, or -1 if s
 * (len bytes, need not be NUL-terminated) is not a date-time.
 */
int
header_date_parse(const char *s, size_t len, time_t *r);

/* Parentheses nested this deep end the parse (as not a date). */
#define HEADER_DATE_COMMENT_DEPTH 8

/* Writes a new, unique msg-id with its angle brackets (RFC 5322 3.6.4):
 * "<time.random@host>". Returns 0, or -1 if size is too small. */
int
header_message_id(const char *host, char *buf, size_t size);

#endif
