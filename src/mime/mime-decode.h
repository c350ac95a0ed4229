/*
 * mime-decode.h - from MIME encodings to UTF-8 text: RFC 2047 encoded
 * words, Content-Transfer-Encoding (RFC 2045 6.7 quoted-printable, 6.8
 * base64), charsets (glibc iconv), and the text of a message for SEARCH
 * and the full-text index.
 *
 * Output is always valid UTF-8 where this header says "UTF-8": bytes that
 * do not decode become U+FFFD.
 *
 * SECURITY: every input is peer data. Each function is linear in its
 * input and writes at most out->max bytes (struct buf); charset names are
 * checked before they reach iconv_open().
 */
#ifndef MIME_MIME_DECODE_H
#define MIME_MIME_DECODE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct mime_part;

/* Charset names longer than this are unknown charsets. */
#define MIME_CHARSET_NAME_MAX 64

/*
 * Decodes RFC 2047 encoded words (B and Q, RFC 2231 "*lang" suffixes
 * allowed) in an unstructured header value and appends it as UTF-8.
 * White space between adjacent encoded words is dropped (RFC 2047 6.2),
 * and their bytes are joined before charset conversion, so a character
 * split across two words comes out whole. Encoded words are also found
 * inside other text (common in practice, though RFC 2047 5 forbids it).
 * Unknown charsets: the decoded bytes are kept if they are UTF-8, else
 * U+FFFD; malformed words are kept as they are. Line folds (CR, LF) and
 * NUL bytes are removed. Stops silently at out->max.
 */
void
mime_header_decode(const char *in, size_t len, struct buf *out);

/*
 * Decodes a Content-Transfer-Encoding and appends the result to out.
 * encoding (case-insensitive): NULL, "7bit", "8bit" and "binary" copy;
 * "base64" ignores bytes outside its alphabet (RFC 2045 6.8), takes '=' as
 * the end of a quantum and goes on after it, and tolerates missing
 * padding; "quoted-printable" removes soft line breaks ("=" then optional
 * white space then the line end) and white space at line ends, decodes =XX
 * (either case), and keeps malformed "=" sequences verbatim; line ends are
 * kept as they are. Returns 0; -1 with *error_r set for any other
 * encoding (IMAP answers [UNKNOWN-CTE]) or when out would pass out->max
 * (out then holds what was decoded up to the limit).
 */
int
mime_body_decode(const char *encoding, const char *in, size_t len,
    struct buf *out, const char **error_r);

/*
 * Converts text in charset to UTF-8 and appends it. us-ascii and utf-8
 * (and their aliases) take a fast path that only replaces invalid UTF-8;
 * a few common mislabels are mapped (iso-8859-1 and us-ascii content with
 * 8-bit bytes are read as windows-1252 and UTF-8 respectively,
 * ks_c_5601-1987 as CP949, gb2312 as GB18030). Bytes that do not convert
 * become U+FFFD. Returns 0 (output cut silently at out->max, at a
 * character boundary), or -1 if the charset is unknown (nothing appended;
 * the caller may keep the raw bytes).
 */
int
mime_charset_to_utf8(const char *charset, const char *in, size_t len,
    struct buf *out);

/* True if mime_charset_to_utf8() would accept charset. */
bool
mime_charset_is_known(const char *charset);

/* True if s[0..len-1] is valid UTF-8 (RFC 3629) without NUL bytes. */
bool
mime_utf8_is_valid(const char *s, size_t len);

/*
 * Appends in as UTF-8, replacing each byte that does not start a valid
 * UTF-8 sequence with U+FFFD and dropping NUL bytes. Stops silently at
 * out->max, at a character boundary.
 */
void
mime_utf8_sanitize(const char *in, size_t len, struct buf *out);

/*
 * Text for SEARCH BODY/TEXT and the full-text index: the decoded text
 * (Content-Transfer-Encoding, then charset to UTF-8) of every text part
 * of the tree under root, in order, each followed by a newline; text/html
 * has its tags, comments, <script> and <style> removed, block tags turned
 * into newlines and the entities &amp; &lt; &gt; &nbsp; &quot; &apos; and
 * &#N; / &#xN; decoded (others are kept). The charset comes from the
 * Content-Type only (not from HTML <meta>). Parts that are not text are
 * skipped; parts inside message/rfc822 are included; an unknown transfer
 * encoding gives the raw body; an unknown charset gives the bytes that
 * are valid UTF-8. Never fails: output stops at out->max (at a character
 * boundary).
 */
void
mime_text_extract(const char *msg, size_t len, const struct mime_part *root,
    struct buf *out);

/*
 * Text for SEARCH header keys: the values of every field called name
 * (case-insensitive) in the header block of part, each unfolded and RFC
 * 2047-decoded to UTF-8, joined by "\n". For the header of the message in
 * a message/rfc822 part, pass its child. Stops silently at out->max.
 */
void
mime_header_text(const char *msg, size_t len, const struct mime_part *part,
    const char *name, struct buf *out);

/*
 * True if needle occurs in hay, both UTF-8, ignoring case by simple
 * per-character lower-casing: ASCII, Latin-1, Latin Extended-A, Greek
 * (final sigma matches sigma) and Cyrillic (including U+0400-U+052F).
 * Limits: no full case folding (no "ss" for U+00DF, no special casing), no
 * normalization or accent folding; bytes that are not UTF-8 only match
 * themselves. An empty needle always matches. Time is linear in
 * hlen + nlen (Knuth-Morris-Pratt over code points).
 */
bool
mime_text_contains(const char *hay, size_t hlen, const char *needle,
    size_t nlen);

/*
 * Appends s as mime_text_contains sees it: every character folded as
 * above, bytes that are not UTF-8 as U+FFFD. Wherever mime_text_contains
 * finds a needle, the needle's folding occurs byte for byte in the hay's
 * folding (which lets a case-sensitive index stand in for it). Returns
 * -1 when out->max is reached (out then holds a prefix), else 0.
 */
int
mime_text_fold(const char *s, size_t len, struct buf *out);

#endif
