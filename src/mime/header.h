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

#endif
