/*
 * mime.h - the MIME part tree of a stored message, in one pass.
 *
 * mime_parse() reads a whole RFC 5322 message once, from the first byte to
 * the last, and builds the tree of its parts (RFC 2045, RFC 2046): where
 * each part's header and body start and end, its Content-* fields, and its
 * children (the parts of a multipart, or the encapsulated message of a
 * message/rfc822 or message/global part). IMAP FETCH (BODYSTRUCTURE,
 * BODY[section]) and SEARCH are built on this tree (mime-imap.h,
 * mime-decode.h). Parameters follow RFC 2231 (continuations, charsets).
 *
 * Offsets are byte exact into the message as stored. Parsing never fails
 * on malformed input; it degrades as follows (the IMAP renderings follow):
 *  - line ends: CRLF or a bare LF end a line; a lone CR does not.
 *  - header: runs to the first empty line. A line without a colon stays
 *    in the header (and is no field); with no empty line the header runs
 *    to the end of the part (or to a boundary line of an enclosing
 *    multipart) and the body is empty.
 *  - Content-* fields are honoured without MIME-Version (most readers do);
 *    the first of each kind counts. A Content-Type that is not
 *    "type/subtype" with token syntax becomes the default: text/plain, or
 *    message/rfc822 in a multipart/digest (RFC 2046 5.1.5).
 *  - multipart without a usable boundary parameter (missing, empty, or
 *    longer than MIME_BOUNDARY_ACCEPT_MAX): a text/plain body (as
 *    Dovecot does), its parameters dropped.
 *  - boundary lines are matched by prefix (RFC 2046 5.1.1 "need not match
 *    the whole line"); trailing white space of the parameter is ignored.
 *    The boundaries of every enclosing multipart are live: when a line
 *    matches several, the longest boundary wins (ties: the innermost), so
 *    an inner boundary that is a prefix of an outer one cannot swallow the
 *    outer delimiter, and a line matching an outer boundary closes every
 *    part inside it.
 *  - no delimiter at all: the multipart has no children (mime-imap renders
 *    one empty text/plain part, as Dovecot does); a missing close
 *    delimiter: the last part runs to the end of the enclosing part.
 *  - message/rfc822 and message/global are parsed as a message whatever
 *    their Content-Transfer-Encoding.
 *  - a part never reaches past its parent: an empty part made by a
 *    delimiter line right before an enclosing delimiter sits at the end
 *    of its parent, and a parent whose last child's header ends (empty
 *    line) right before the delimiter ends with that child.
 *  - nesting deeper than MIME_DEPTH_MAX, or parts past MIME_PARTS_MAX:
 *    see the limits below.
 *
 * SECURITY: the message is peer data (any bytes, including NUL). Work is
 * linear in its size: each line is looked at once, boundary matching costs
 * at most MIME_DEPTH_MAX comparisons of at most MIME_BOUNDARY_ACCEPT_MAX
 * bytes per line that starts with "--", and there is no recursion. Memory
 * from the pool is bounded by the message size (field values are capped at
 * MIME_FIELD_VALUE_MAX, parameters at MIME_PARAMS_MAX per field).
 */
#ifndef MIME_MIME_H
#define MIME_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct pool;

/* Multipart and message/rfc822 nesting: a part with MIME_DEPTH_MAX
 * ancestors cannot have children; a multipart or message/rfc822 there is
 * an opaque text/plain body. */
#define MIME_DEPTH_MAX 50
/* Parts in one message (the root counts). When one more would be made the
 * parser stops seeing structure: the rest of the message is the body of
 * the innermost part still open, and everything open runs to the end (a
 * message/rfc822 that can no longer get its child is a text/plain body). */
#define MIME_PARTS_MAX 5000
#define MIME_BOUNDARY_MAX 70	/* RFC 2046 5.1.1 */
/* Longer boundaries than RFC 2046 allows are seen in the wild; this is
 * what the parser accepts. */
#define MIME_BOUNDARY_ACCEPT_MAX 200
/* Unfolded Content-* field values kept by the parser (the rest is cut). */
#define MIME_FIELD_VALUE_MAX (16 * 1024)
/* Parameters kept from one Content-Type or Content-Disposition field,
 * counting each RFC 2231 segment. */
#define MIME_PARAMS_MAX 128
/* RFC 2231 continuation numbers beyond this are not RFC 2231. */
#define MIME_PARAM_SECTION_MAX 999

struct mime_param {
	const char *name;	/* lower-cased */
	/* After RFC 2231 joining of continuations (name*0, name*1, ...) and
	 * decoding (charset'lang'%XX) to UTF-8. If the charset is unknown the
	 * value stays encoded, as "charset'lang'%XX...", and the name keeps
	 * its trailing '*' ("filename*"). */
	const char *value;
};

struct mime_part {
	size_t header_start;	/* offset of the part's header block */
	/* Offset just after the empty line that ends the header; if there is
	 * none, the end of the header block (then body_end == body_start). */
	size_t body_start;
	/* Where the body ends: before the line end that precedes the next
	 * boundary line (RFC 2046 5.1.1), or the end of the enclosing part. */
	size_t body_end;
	/* LF bytes in [header_start, body_start) and [body_start, body_end):
	 * the line counts of BODYSTRUCTURE (a last line without LF does not
	 * count, as in Dovecot). */
	size_t header_lines, body_lines;
	/* Lower-cased; text/plain (message/rfc822 in multipart/digest) when
	 * missing or invalid. */
	const char *type, *subtype;
	const struct mime_param *params;	/* Content-Type parameters */
	size_t n_params;
	/* Content-ID, Content-Description, Content-MD5, Content-Language and
	 * Content-Location: unfolded raw values, white space trimmed, NULL if
	 * absent. */
	const char *id, *description, *md5, *language, *location;
	/* Content-Transfer-Encoding, lower-cased; NULL if absent or not a
	 * token (BODYSTRUCTURE says "7BIT"). */
	const char *encoding;
	/* Content-Disposition type, lower-cased, and its parameters; NULL if
	 * absent or not a token. */
	const char *disposition;
	const struct mime_param *disp_params;
	size_t n_disp_params;
	/* multipart: its parts, in order; message/rfc822: exactly one child,
	 * the encapsulated message's root part (header_start == body_start of
	 * this part). */
	struct mime_part *children;
	size_t n_children;
	struct mime_part *parent;	/* NULL for the root */
	bool is_message_rfc822;	/* message/rfc822 or message/global, with a child */
	bool is_multipart;	/* multipart/x with a usable boundary */
};

/*
 * Parses msg (len bytes, need not be NUL-terminated; it must outlive the
 * tree, which only points into it through offsets) and sets *root_r to the
 * root part, which covers the whole message (header_start 0, body_end len).
 * Everything is allocated from pool and lives as long as it. Returns 0;
 * -1 with *error_r set only if an internal limit is broken (it should not
 * happen: malformed input degrades as described at the top of this file).
 */
int
mime_parse(const char *msg, size_t len, struct pool *pool,
    struct mime_part **root_r, const char **error_r);

/* Returns the first parameter called name (lower case) or NULL. */
const char *
mime_param_get(const struct mime_param *params, size_t n, const char *name);

/* One header field of a header block, as mime_header_field_next() finds
 * it. Offsets are into the message. */
struct mime_header_field {
	size_t start;	/* first byte of the field's first line */
	size_t end;	/* just after the line end of its last line */
	/* Field name [start, start + name_len), without the white space that
	 * may precede the colon (RFC 5322 4.5.3); 0 for a line that is no
	 * field (no colon, or a continuation line with no field before it). */
	size_t name_len;
	size_t value_start;	/* just after the colon */
	size_t value_end;	/* end of the value, before the last line end */
};

/*
 * Reads the header field at *pos of the header block that ends at end
 * (continuation lines included) into *f and advances *pos past it.
 * Returns false, leaving *pos alone, at the empty line that ends the
 * header or at end.
 */
bool
mime_header_field_next(const char *msg, size_t end, size_t *pos,
    struct mime_header_field *f);

/* True if the field's name is name (case-insensitive). */
bool
mime_header_field_is(const char *msg, const struct mime_header_field *f,
    const char *name);

/*
 * Appends the field's value unfolded (CR and LF removed, RFC 5322 2.2.3),
 * NUL bytes dropped, leading and trailing white space trimmed. Stops
 * silently at out->max.
 */
void
mime_header_field_unfold(const char *msg, const struct mime_header_field *f,
    struct buf *out);

#endif
