/*
 * imap-utf7.h - mailbox names in modified UTF-7 and UTF-8.
 *
 * RFC 3501 5.1.3 (modified UTF-7: "&" shifts to modified BASE64 of UTF-16,
 * "-" shifts back, "&-" is "&"), RFC 9051 5.1 and RFC 6855 (UTF-8 names
 * when UTF8=ACCEPT is enabled), RFC 3629 (UTF-8), RFC 2781 (UTF-16).
 *
 * Only canonical BASE64 runs are valid: printable ASCII must stand for
 * itself, a shifted run must not be empty, and it must end on a character
 * boundary with zero padding bits. Two shifted runs in a row ("&AOQ-&APY-")
 * are accepted (RFC 2152 allows them, some old encoders write them); they
 * decode to the same UTF-8 as the merged run, and names are stored as
 * UTF-8, so this gives no second spelling of a stored name.
 *
 * SECURITY: converts network input; output goes into a bounded buffer.
 */
#ifndef IMAP_IMAP_UTF7_H
#define IMAP_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/*
 * Appends the UTF-8 form of the modified UTF-7 name in (len bytes) to out.
 * Returns 0, or -1 if in is not canonical modified UTF-7 (bad BASE64,
 * printable ASCII encoded, unterminated shift, bad surrogates, NUL, 8-bit
 * bytes) or out would pass its max; out is then left as it was.
 */
int
imap_utf7_to_utf8(const char *in, size_t len, struct buf *out);

/*
 * Appends the modified UTF-7 form of the UTF-8 name in to out. Returns 0,
 * or -1 if in is not valid UTF-8 (or holds a NUL) or out is full; out is
 * then left as it was.
 */
int
imap_utf8_to_utf7(const char *in, size_t len, struct buf *out);

/* Is in canonical modified UTF-7 (what imap_utf7_to_utf8 accepts)? */
bool
imap_utf7_is_valid(const char *in, size_t len);

#endif
