/*
 * mime-imap.h - IMAP views of a parsed message: ENVELOPE, BODY and
 * BODYSTRUCTURE (RFC 9051 7.5.2, RFC 3501 7.4.2), section numbers (RFC
 * 9051 6.4.5) and HEADER.FIELDS[.NOT].
 *
 * The renderings are cached in the store at delivery, so they are
 * deterministic: the same bytes always give the same string. They use
 * only IMAP4rev1 syntax (valid for IMAP4rev2 and UTF8=ACCEPT too):
 * strings are quoted, or literals ({n} CRLF bytes) when they hold CR, LF
 * or 8-bit bytes; NUL bytes are dropped; missing values are NIL.
 *
 * SECURITY: renders peer data. Output is bounded by out->max; a rendering
 * that does not fit fails cleanly (the string is then unusable). Work is
 * linear in the header and tree sizes; recursion is bounded by the tree
 * depth (MIME_DEPTH_MAX).
 */
#ifndef MIME_MIME_IMAP_H
#define MIME_MIME_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct mime_part;

/* Tokens kept per address while parsing an address list (the rest of a
 * longer "address" is dropped). */
#define MIME_ADDR_TOKENS_MAX 256

/* One address of a list: local part (unquoted) and domain, not
 * NUL-terminated. */
typedef void mime_addr_fn(void *ctx, const char *local, size_t local_len,
    const char *domain, size_t domain_len);

/*
 * Calls cb for each address with a local part and a domain in the address
 * list [s, s + n) (a header value, folded or not), parsed as for ENVELOPE
 * below: groups are opened, comments and display names dropped. Returns
 * the number of entries seen, those without an '@' included (they are
 * not passed to cb).
 */
size_t
mime_addr_list_foreach(const char *s, size_t n, mime_addr_fn *cb, void *ctx);

/*
 * Appends the ENVELOPE of the message whose header block is
 * [part->header_start, part->body_start), with its parentheses:
 *   ("date" "subject" (from) (sender) (reply-to) (to) (cc) (bcc)
 *    "in-reply-to" "message-id")
 * Pass the root, or the child of a message/rfc822 part. The first field
 * of each name counts. Values are the raw unfolded bytes (white space
 * trimmed, RFC 2047 words left for the client). Address lists follow RFC
 * 5322 3.4 with the obsolete syntax of 4.4 tolerated: each address is
 * (name adl mailbox host); a group is (NIL NIL "name" NIL) ... (NIL NIL
 * NIL NIL); comments are dropped, except that a comment after a bare
 * addr-spec becomes the name if there is none ("a@b (Ann)", as Dovecot
 * does); quoted strings lose their quotes. Best effort for broken
 * addresses: no '@' gives a mailbox without host "MISSING_DOMAIN" (one
 * word) or a name with mailbox "MISSING_MAILBOX" (several words); an
 * empty local part or domain gives those placeholders; empty lists and
 * "<>" give NIL. Sender and Reply-To that are missing or empty are the
 * From list (RFC 9051 7.5.2).
 * Returns 0, or -1 if out->max was reached.
 */
int
mime_imap_envelope(const char *msg, size_t len, const struct mime_part *part,
    struct buf *out);

/*
 * Appends BODYSTRUCTURE (extended) or BODY (not extended) of the tree
 * under root, with its outer parentheses, so "BODYSTRUCTURE " + out is
 * the FETCH item. Conventions: type, subtype, parameter names,
 * transfer encoding and disposition type in upper case; parameter values,
 * ids, descriptions, languages and locations as written. Text parts
 * without a charset parameter get ("CHARSET" "US-ASCII") added (RFC 2045
 * 5.2). A missing Content-Transfer-Encoding is "7BIT". Sizes are the body
 * octets as stored, lines the LF count (mime.h). A multipart without parts
 * shows one empty part ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL
 * "7BIT" 0 0), as Dovecot does. Extension data: multipart (params)
 * disposition language location; other parts md5 disposition language
 * location. A parameter value that is not ASCII is sent in RFC 2231 form,
 * ("NAME*" "utf-8''%E2%82%AC") when it is valid UTF-8, else as a literal.
 * Content-Language is a list of its comma-separated tags.
 * Returns 0, or -1 if out->max was reached.
 */
int
mime_imap_bodystructure(const char *msg, size_t len,
    const struct mime_part *root, bool extended, struct buf *out);

/*
 * Finds the part for FETCH BODY[section] / BINARY[section] (RFC 9051
 * 6.4.5) given its part numbers path[0..depth-1] (each >= 1). depth 0 is
 * the root (BODY[], BODY[HEADER], BODY[TEXT]). Each number picks a part
 * of the current message: in a multipart, child n; in a message that is
 * not multipart, only 1, which is that message's part itself (its body).
 * After a message/rfc822 part, the next number goes into the encapsulated
 * message: for a multipart root whose part 2 is message/rfc822, "2" is
 * the message/rfc822 part (BODY[2] is the whole encapsulated message,
 * BODY[2.MIME] its MIME header), "2.1" is the first part of the
 * encapsulated message if that is multipart, or the encapsulated message
 * itself (BODY[2.1] then is its body) if not. BODY[2.HEADER] and
 * BODY[2.TEXT] mean the encapsulated message: see
 * mime_imap_section_message(). A number past the end, 0, or one below a
 * part that is neither multipart nor message gives NULL. A multipart
 * without parts has no part 1 (BODYSTRUCTURE shows an empty one; the
 * server may answer it as empty).
 */
const struct mime_part *
mime_imap_section(const struct mime_part *root, const uint32_t *path,
    size_t depth);

/*
 * For HEADER, HEADER.FIELDS[.NOT] and TEXT after a section number (RFC
 * 9051 6.4.5): the encapsulated message of a message/rfc822 part, whose
 * header block is [header_start, body_start) and text [body_start,
 * body_end); NULL if part is not message/rfc822 (the server answers such
 * a section as it sees fit). Without a section number (BODY[HEADER]) the
 * message is always the root: do not call this for it.
 */
const struct mime_part *
mime_imap_section_message(const struct mime_part *part);

/*
 * Appends the fields of the header block [start, end) of msg whose names
 * are (not == false) or are not (not == true) among fields[0..n_fields-1]
 * (case-insensitive), each whole with its continuation lines and line
 * ends as stored (a last line without one gets CRLF), in their order,
 * then the empty line "\r\n" (RFC 9051 6.4.5 HEADER.FIELDS). Lines that
 * are no field (no colon) only pass the NOT filter. Stops at the empty
 * line that ends the header. Output is cut silently at out->max.
 */
void
mime_header_filter(const char *msg, size_t start, size_t end,
    const char *const *fields, size_t n_fields, bool not, struct buf *out);

#endif
