/*
 * mime-decode.c - MIME encodings to UTF-8 (see mime-decode.h).
 *
 * RFC 2045 6.7 (quoted-printable) and 6.8 (base64), RFC 2047 (encoded
 * words; 6.2 for white space between adjacent words), RFC 2231 5
 * (language suffix in encoded-word charsets), RFC 3629 (UTF-8), the HTML
 * named character references &amp; &lt; &gt; &nbsp; &quot; &apos; and
 * numeric ones. Charsets go through glibc iconv.
 *
 * SECURITY: all input is peer data. Each function makes one pass over its
 * input; the RFC 2047 scanner remembers where a failed search for "?="
 * stopped so that many "=?" openers without an end cannot make it
 * quadratic. Charset names are checked (length and characters) before
 * iconv_open(). Output is bounded by the caller's struct buf max, and the
 * temporary buffers of mime_text_extract() by what still fits in it.
 */
#include "mime/mime-decode.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "mime/mime.h"

/* Bytes iconv writes per call. */
#define MIME_ICONV_CHUNK 4096

static const char mime_replacement[] = "\xEF\xBF\xBD";	/* U+FFFD */

/* Appends as much of data as fits below b->max; false if cut. */
static bool
mime_buf_add(struct buf *b, const char *data, size_t n)
{
	bool all = n <= b->max - b->len;

	if (!all)
		n = b->max - b->len;
	(void)buf_append(b, data, n);
	return all;
}

/* Appends UTF-8 text, cut at a character boundary if it does not fit.
 * Returns false if cut. */
static bool
mime_utf8_add(struct buf *out, const char *s, size_t n)
{
	if (n <= out->max - out->len) {
		(void)buf_append(out, s, n);
		return true;
	}
	n = out->max - out->len;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	(void)buf_append(out, s, n);
	return false;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 4: no overlongs,
 * surrogates or code points above U+10FFFF), or 0; *cp_r gets it. */
static size_t
mime_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	uint32_t cp;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		cp = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		cp = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	*cp_r = cp;
	return len;
}

/* Encodes a code point as UTF-8 into d (4 bytes); returns the length. */
static size_t
mime_utf8_encode(uint32_t cp, char *d)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xC0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xE0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		d[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	d[0] = (char)(0xF0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	d[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* mime_utf8_sanitize() that says whether everything fit. */
static bool
mime_utf8_sanitize_add(const char *in, size_t len, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 0, start = 0;
	uint32_t cp;

	while (i < len) {
		size_t l;

		if (u[i] != 0 && u[i] < 0x80) {
			i++;
			continue;
		}
		l = u[i] == 0 ? 0 : mime_utf8_seq(u + i, len - i, &cp);
		if (l > 0) {
			i += l;
			continue;
		}
		if (!mime_utf8_add(out, in + start, i - start))
			return false;
		if (u[i] != 0 && !mime_utf8_add(out, mime_replacement, 3))
			return false;
		start = ++i;
	}
	return mime_utf8_add(out, in + start, i - start);
}

bool
mime_utf8_is_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;

	for (size_t i = 0; i < len;) {
		size_t l = u[i] == 0 ? 0 : mime_utf8_seq(u + i, len - i, &cp);

		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

void
mime_utf8_sanitize(const char *in, size_t len, struct buf *out)
{
	(void)mime_utf8_sanitize_add(in, len, out);
}

/*
 * Charsets.
 */

enum mime_charset_kind {
	CHARSET_UNKNOWN,
	CHARSET_UTF8,	/* fast path: keep valid UTF-8 */
	CHARSET_ICONV,
};

static const char *const mime_charset_utf8[] = {
	"utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us",
	"us", "unicode-1-1-utf-8", "x-unicode20utf8",
};

/* Names that iconv does not know, or that are routinely mislabelled
 * (WHATWG Encoding Standard practice for ISO-8859-1). */
static const struct {
	const char *name, *iconv;
} mime_charset_aliases[] = {
	{ "iso-8859-1", "WINDOWS-1252" },
	{ "iso8859-1", "WINDOWS-1252" },
	{ "iso_8859-1", "WINDOWS-1252" },
	{ "latin1", "WINDOWS-1252" },
	{ "l1", "WINDOWS-1252" },
	{ "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601", "CP949" },
	{ "gb2312", "GB18030" },
	{ "gbk", "GB18030" },
	{ "x-gbk", "GB18030" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "windows-31j", "CP932" },
	{ "x-sjis", "SHIFT_JIS" },
};

static enum mime_charset_kind
mime_charset_lookup(const char *cs, const char **iconv_r)
{
	size_t n = strlen(cs);

	*iconv_r = cs;
	if (n == 0 || n > MIME_CHARSET_NAME_MAX)
		return CHARSET_UNKNOWN;
	/* iconv names: letters, digits and a few marks; no '/' (iconv
	 * suffixes) and nothing that could reach a file name. */
	for (size_t i = 0; i < n; i++) {
		char c = cs[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == ':' || c == '+'))
			return CHARSET_UNKNOWN;
	}
	for (size_t i = 0; i < sizeof(mime_charset_utf8) /
	    sizeof(mime_charset_utf8[0]); i++)
		if (strcasecmp(cs, mime_charset_utf8[i]) == 0)
			return CHARSET_UTF8;
	for (size_t i = 0; i < sizeof(mime_charset_aliases) /
	    sizeof(mime_charset_aliases[0]); i++) {
		if (strcasecmp(cs, mime_charset_aliases[i].name) == 0) {
			*iconv_r = mime_charset_aliases[i].iconv;
			break;
		}
	}
	return CHARSET_ICONV;
}

bool
mime_charset_is_known(const char *charset)
{
	const char *name;
	iconv_t cd;

	switch (mime_charset_lookup(charset, &name)) {
	case CHARSET_UTF8:
		return true;
	case CHARSET_UNKNOWN:
		return false;
	case CHARSET_ICONV:
		break;
	}
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return false;
	iconv_close(cd);
	return true;
}

int
mime_charset_to_utf8(const char *charset, const char *in, size_t len,
    struct buf *out)
{
	const char *name;
	char *chunk, *inp = (char *)in;
	size_t inleft = len;
	iconv_t cd;

	switch (mime_charset_lookup(charset, &name)) {
	case CHARSET_UTF8:
		mime_utf8_sanitize(in, len, out);
		return 0;
	case CHARSET_UNKNOWN:
		return -1;
	case CHARSET_ICONV:
		break;
	}
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return -1;
	chunk = xmalloc(MIME_ICONV_CHUNK);
	for (;;) {
		char *outp = chunk;
		size_t outleft = MIME_ICONV_CHUNK, r;
		int err;

		r = inleft > 0 ? iconv(cd, &inp, &inleft, &outp, &outleft) :
		    iconv(cd, NULL, NULL, &outp, &outleft);
		err = errno;
		/* iconv writes whole characters only; NUL (U+0000) is
		 * dropped by the sanitizer. */
		if (!mime_utf8_sanitize_add(chunk, (size_t)(outp - chunk), out))
			break;
		if (r != (size_t)-1) {
			if (inleft == 0)
				break;
			continue;
		}
		if (err == E2BIG)
			continue;
		if (err != EILSEQ && err != EINVAL)
			break;
		/* A byte that does not convert (or a sequence cut short at
		 * the end): U+FFFD, and go on after it. */
		if (!mime_utf8_add(out, mime_replacement, 3))
			break;
		inp++;
		inleft--;
		if (inleft == 0)
			break;
	}
	free(chunk);
	iconv_close(cd);
	return 0;
}

/*
 * Content-Transfer-Encoding (RFC 2045 6).
 */

static int
mime_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
mime_base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Writes the bytes of a partial quantum of n sextets (RFC 2045 6.8). */
static bool
mime_base64_flush(uint32_t acc, int n, struct buf *out)
{
	char b[2];

	if (n == 2) {
		b[0] = (char)(acc >> 4);
		return mime_buf_add(out, b, 1);
	}
	if (n == 3) {
		b[0] = (char)(acc >> 10);
		b[1] = (char)(acc >> 2);
		return mime_buf_add(out, b, 2);
	}
	return true;	/* a lone sextet carries no whole byte */
}

static bool
mime_base64_decode(const char *in, size_t len, struct buf *out)
{
	uint32_t acc = 0;
	int n = 0;

	for (size_t i = 0; i < len; i++) {
		int v = mime_base64_value(in[i]);

		if (v < 0) {
			/* '=' ends a quantum (padding); anything else outside
			 * the alphabet is ignored (RFC 2045 6.8). */
			if (in[i] == '=' && n > 0) {
				if (!mime_base64_flush(acc, n, out))
					return false;
				acc = 0;
				n = 0;
			}
			continue;
		}
		acc = (acc << 6) | (uint32_t)v;
		if (++n == 4) {
			char b[3];

			b[0] = (char)(acc >> 16);
			b[1] = (char)(acc >> 8);
			b[2] = (char)acc;
			if (!mime_buf_add(out, b, 3))
				return false;
			acc = 0;
			n = 0;
		}
	}
	return mime_base64_flush(acc, n, out);
}

/* Decodes =XX in [s, e) into out, keeping malformed '=' verbatim. */
static bool
mime_qp_run(const char *s, const char *e, struct buf *out)
{
	while (s < e) {
		const char *eq = memchr(s, '=', (size_t)(e - s));
		int h, l;

		if (eq == NULL)
			return mime_buf_add(out, s, (size_t)(e - s));
		if (!mime_buf_add(out, s, (size_t)(eq - s)))
			return false;
		if (e - eq >= 3 && (h = mime_hex(eq[1])) >= 0 &&
		    (l = mime_hex(eq[2])) >= 0) {
			char b = (char)(h * 16 + l);

			if (!mime_buf_add(out, &b, 1))
				return false;
			s = eq + 3;
		} else {
			if (!mime_buf_add(out, "=", 1))
				return false;
			s = eq + 1;
		}
	}
	return true;
}

static bool
mime_qp_decode(const char *in, size_t len, struct buf *out)
{
	const char *p = in, *end = in + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl != NULL ? nl + 1 : end;
		const char *e = nl != NULL ? nl : end;

		if (e > p && e[-1] == '\r' && nl != NULL)
			e--;
		/* White space at the end of a line is padding (RFC 2045
		 * 6.7 (3)). */
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > p && e[-1] == '=') {
			/* Soft line break: the line end goes too. */
			if (!mime_qp_run(p, e - 1, out))
				return false;
		} else {
			const char *le = nl != NULL ?
			    (nl > p && nl[-1] == '\r' ? nl - 1 : nl) : end;

			if (!mime_qp_run(p, e, out) ||
			    !mime_buf_add(out, le, (size_t)(next - le)))
				return false;
		}
		p = next;
	}
	return true;
}

int
mime_body_decode(const char *encoding, const char *in, size_t len,
    struct buf *out, const char **error_r)
{
	bool ok;

	if (encoding == NULL || strcasecmp(encoding, "7bit") == 0 ||
	    strcasecmp(encoding, "8bit") == 0 ||
	    strcasecmp(encoding, "binary") == 0)
		ok = mime_buf_add(out, in, len);
	else if (strcasecmp(encoding, "base64") == 0)
		ok = mime_base64_decode(in, len, out);
	else if (strcasecmp(encoding, "quoted-printable") == 0)
		ok = mime_qp_decode(in, len, out);
	else {
		*error_r = "unknown Content-Transfer-Encoding";
		return -1;
	}
	if (!ok) {
		*error_r = "decoded body too large";
		return -1;
	}
	return 0;
}

/*
 * RFC 2047 encoded words.
 */

struct mime_word {
	const char *charset;	/* in the input, without "*lang" */
	size_t charset_len;
	char enc;	/* 'b' or 'q' */
	const char *text;
	size_t text_len;
	size_t end;	/* offset after "?=" */
};

/*
 * Parses "=?charset?enc?text?=" at in[i]. fail[0], fail[1] are where an
 * earlier search for "?=" started and gave up (at white space or the end):
 * a word whose text starts between them cannot end either, and one that
 * starts before them need only be searched up to fail[0]. So every byte
 * is searched about once however many "=?" there are.
 */
static bool
mime_word_parse(const char *in, size_t len, size_t i, size_t fail[2],
    struct mime_word *w)
{
	size_t p = i + 2, cs, t;

	if (len - i < 8 || in[i] != '=' || in[i + 1] != '?')
		return false;
	cs = p;
	while (p < len && p - cs <= MIME_CHARSET_NAME_MAX && in[p] != '?' &&
	    (unsigned char)in[p] > 0x20 && (unsigned char)in[p] < 0x7f)
		p++;
	if (p == cs || p >= len || in[p] != '?' || len - p < 5)
		return false;
	w->charset = in + cs;
	w->charset_len = p - cs;
	/* RFC 2231 5: charset*language */
	for (size_t k = 0; k < w->charset_len; k++)
		if (w->charset[k] == '*')
			w->charset_len = k;
	if (w->charset_len == 0)
		return false;
	w->enc = in[p + 1] == 'B' || in[p + 1] == 'b' ? 'b' :
	    in[p + 1] == 'Q' || in[p + 1] == 'q' ? 'q' : 0;
	if (w->enc == 0 || in[p + 2] != '?')
		return false;
	t = p + 3;
	if (t >= fail[0] && t < fail[1])
		return false;
	for (p = t; p + 1 < len; p++) {
		if (p == fail[0] && fail[1] > fail[0]) {
			/* Scanned before from here: no end up to fail[1]. */
			p = fail[1] - 1;
			break;
		}
		if (in[p] == '?' && in[p + 1] == '=') {
			w->text = in + t;
			w->text_len = p - t;
			w->end = p + 2;
			return true;
		}
		/* No white space in encoded-text (RFC 2047 2). */
		if (in[p] == ' ' || in[p] == '\t' || in[p] == '\r' ||
		    in[p] == '\n')
			break;
	}
	fail[0] = t;
	fail[1] = p + 1;
	return false;
}

static void
mime_word_decode(const struct mime_word *w, struct buf *bytes)
{
	if (w->enc == 'b') {
		(void)mime_base64_decode(w->text, w->text_len, bytes);
		return;
	}
	/* RFC 2047 4.2: '_' is a space, =XX a byte. */
	for (size_t i = 0; i < w->text_len; i++) {
		char c = w->text[i];
		int h, l;

		if (c == '_') {
			c = ' ';
		} else if (c == '=' && w->text_len - i >= 3 &&
		    (h = mime_hex(w->text[i + 1])) >= 0 &&
		    (l = mime_hex(w->text[i + 2])) >= 0) {
			c = (char)(h * 16 + l);
			i += 2;
		}
		(void)mime_buf_add(bytes, &c, 1);
	}
}

/* Converts the joined bytes of adjacent words and empties them. */
static void
mime_words_flush(struct buf *charset, struct buf *bytes, struct buf *out)
{
	if (charset->len == 0)
		return;
	if (mime_charset_to_utf8(charset->data, bytes->data != NULL ?
	    bytes->data : "", bytes->len, out) < 0)
		mime_utf8_sanitize(bytes->data != NULL ? bytes->data : "",
		    bytes->len, out);
	buf_reset(charset);
	buf_reset(bytes);
}

/* Appends raw text: CR and LF (folding) removed, made valid UTF-8. */
static void
mime_raw_add(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;

	while (i < n) {
		size_t run = i;

		while (run < n && s[run] != '\r' && s[run] != '\n')
			run++;
		mime_utf8_sanitize(s + i, run - i, out);
		i = run + 1;
	}
}

void
mime_header_decode(const char *in, size_t len, struct buf *out)
{
	struct buf charset, bytes;
	size_t i = 0, fail[2] = { 0, 0 };
	bool after_word = false;

	buf_init(&charset, MIME_CHARSET_NAME_MAX);
	buf_init(&bytes, out->max);
	while (i < len) {
		struct mime_word w;
		size_t j;

		if (in[i] == '=' && mime_word_parse(in, len, i, fail, &w)) {
			if (charset.len != w.charset_len ||
			    strncasecmp(charset.data, w.charset, w.charset_len) != 0) {
				mime_words_flush(&charset, &bytes, out);
				(void)mime_buf_add(&charset, w.charset, w.charset_len);
			}
			mime_word_decode(&w, &bytes);
			i = w.end;
			after_word = true;
			continue;
		}
		if (after_word && (in[i] == ' ' || in[i] == '\t' ||
		    in[i] == '\r' || in[i] == '\n')) {
			/* Dropped if another encoded word follows (6.2). */
			for (j = i; j < len && (in[j] == ' ' || in[j] == '\t' ||
			    in[j] == '\r' || in[j] == '\n'); j++)
				;
			if (j < len && in[j] == '=' &&
			    mime_word_parse(in, len, j, fail, &w)) {
				i = j;
				continue;
			}
			mime_words_flush(&charset, &bytes, out);
			mime_raw_add(in + i, j - i, out);
			i = j;
			after_word = false;
			continue;
		}
		mime_words_flush(&charset, &bytes, out);
		after_word = false;
		/* Plain text up to the next '=' (an encoded word may
		 * start there). */
		for (j = i + 1; j < len && in[j] != '='; j++)
			;
		mime_raw_add(in + i, j - i, out);
		i = j;
	}
	mime_words_flush(&charset, &bytes, out);
	buf_release(&charset);
	buf_release(&bytes);
}

void
mime_header_text(const char *msg, size_t len, const struct mime_part *part,
    const char *name, struct buf *out)
{
	struct mime_header_field f;
	size_t pos = part->header_start, end = part->body_start;
	struct buf raw;
	bool first = true;

	if (end > len)
		end = len;
	buf_init(&raw, out->max);
	while (mime_header_field_next(msg, end, &pos, &f)) {
		if (!mime_header_field_is(msg, &f, name))
			continue;
		buf_reset(&raw);
		mime_header_field_unfold(msg, &f, &raw);
		if (!first)
			(void)mime_buf_add(out, "\n", 1);
		first = false;
		mime_header_decode(raw.data != NULL ? raw.data : "", raw.len, out);
	}
	buf_release(&raw);
}

/*
 * Text extraction for SEARCH.
 */

/* Tags that end a line of text. */
static const char *const mime_html_block[] = {
	"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
	"table", "blockquote", "pre", "hr", "ul", "ol", "dl", "dt", "dd",
	"title", "section", "article", "header", "footer",
};

/* Finds "</name" (case-insensitive) from s; returns its '<' or NULL. */
static const char *
mime_html_find_close(const char *s, const char *end, const char *name)
{
	size_t n = strlen(name);

	while (s < end) {
		const char *lt = memchr(s, '<', (size_t)(end - s));

		if (lt == NULL)
			return NULL;
		if ((size_t)(end - lt) >= n + 2 && lt[1] == '/' &&
		    strncasecmp(lt + 2, name, n) == 0)
			return lt;
		s = lt + 1;
	}
	return NULL;
}

/* Decodes the entity at s ('&'); returns its length or 0 if it is not
 * one we know. */
static size_t
mime_html_entity(const char *s, const char *end, struct buf *out)
{
	static const struct {
		const char *name;
		const char *text;
	} named[] = {
		{ "amp;", "&" }, { "lt;", "<" }, { "gt;", ">" },
		{ "nbsp;", " " }, { "quot;", "\"" }, { "apos;", "'" },
	};
	size_t avail = (size_t)(end - s) - 1;
	char u[4];

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t n = strlen(named[i].name);

		if (avail >= n && strncasecmp(s + 1, named[i].name, n) == 0) {
			(void)mime_utf8_add(out, named[i].text,
			    strlen(named[i].text));
			return n + 1;
		}
	}
	if (avail >= 3 && s[1] == '#') {
		size_t k = 2;
		bool hex = s[2] == 'x' || s[2] == 'X';
		uint32_t cp = 0;
		size_t digits = 0;

		if (hex)
			k++;
		for (; s + k < end && digits < 8; k++, digits++) {
			int v = hex ? mime_hex(s[k]) :
			    (s[k] >= '0' && s[k] <= '9' ? s[k] - '0' : -1);

			if (v < 0)
				break;
			cp = cp * (hex ? 16 : 10) + (uint32_t)v;
		}
		if (digits == 0 || s + k >= end || s[k] != ';')
			return 0;
		if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			(void)mime_utf8_add(out, mime_replacement, 3);
		else
			(void)mime_utf8_add(out, u, mime_utf8_encode(cp, u));
		return k + 1;
	}
	return 0;
}

/* HTML to rough text (see mime_text_extract()). s is UTF-8. */
static void
mime_html_strip(const char *s, size_t n, struct buf *out)
{
	const char *p = s, *end = s + n;

	while (p < end && out->len < out->max) {
		const char *q;

		if (*p == '&') {
			size_t l = mime_html_entity(p, end, out);

			if (l == 0) {
				(void)mime_utf8_add(out, "&", 1);
				l = 1;
			}
			p += l;
			continue;
		}
		if (*p != '<') {
			for (q = p; q < end && *q != '<' && *q != '&'; q++)
				;
			(void)mime_utf8_add(out, p, (size_t)(q - p));
			p = q;
			continue;
		}
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			q = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
			p = q != NULL ? q + 3 : end;
			continue;
		}
		/* A tag: its name, then up to '>'. */
		{
			const char *name = p + 1, *gt;
			size_t nlen = 0;
			bool closing = false;

			if (name < end && *name == '/') {
				closing = true;
				name++;
			}
			while (name + nlen < end &&
			    ((name[nlen] >= 'a' && name[nlen] <= 'z') ||
			    (name[nlen] >= 'A' && name[nlen] <= 'Z') ||
			    (name[nlen] >= '0' && name[nlen] <= '9')))
				nlen++;
			gt = memchr(p, '>', (size_t)(end - p));
			p = gt != NULL ? gt + 1 : end;
			if (!closing && ((nlen == 6 &&
			    strncasecmp(name, "script", 6) == 0) ||
			    (nlen == 5 && strncasecmp(name, "style", 5) == 0))) {
				q = mime_html_find_close(p, end,
				    nlen == 6 ? "script" : "style");
				if (q == NULL) {
					p = end;
				} else {
					gt = memchr(q, '>', (size_t)(end - q));
					p = gt != NULL ? gt + 1 : end;
				}
				continue;
			}
			for (size_t i = 0; i < sizeof(mime_html_block) /
			    sizeof(mime_html_block[0]); i++) {
				if (strlen(mime_html_block[i]) == nlen &&
				    strncasecmp(name, mime_html_block[i], nlen) == 0) {
					(void)mime_utf8_add(out, "\n", 1);
					break;
				}
			}
			if ((nlen == 2 && (strncasecmp(name, "td", 2) == 0 ||
			    strncasecmp(name, "th", 2) == 0)))
				(void)mime_utf8_add(out, " ", 1);
		}
	}
}

/* The text of one text part, appended to out. */
static void
mime_text_part(const char *msg, const struct mime_part *part,
    struct buf *out)
{
	size_t room = out->max - out->len, cap;
	const char *charset, *error;
	struct buf dec, conv;
	const char *body = msg + part->body_start;
	size_t blen = part->body_end - part->body_start;

	/* The decoded and converted text need not be much larger than what
	 * fits in out (HTML markup, UTF-16) to fill it. */
	cap = room > (SIZE_MAX - 4096) / 4 ? SIZE_MAX : room * 4 + 4096;
	buf_init(&dec, cap);
	buf_init(&conv, cap);
	if (mime_body_decode(part->encoding, body, blen, &dec, &error) < 0 &&
	    dec.len == 0) {
		/* Unknown encoding: the raw body. */
		(void)mime_buf_add(&dec, body, blen);
	}
	charset = mime_param_get(part->params, part->n_params, "charset");
	if (charset == NULL)
		charset = "us-ascii";
	if (mime_charset_to_utf8(charset, dec.data != NULL ? dec.data : "",
	    dec.len, &conv) < 0)
		mime_utf8_sanitize(dec.data != NULL ? dec.data : "", dec.len,
		    &conv);
	buf_release(&dec);
	if (strcmp(part->subtype, "html") == 0)
		mime_html_strip(conv.data != NULL ? conv.data : "", conv.len, out);
	else
		(void)mime_utf8_add(out, conv.data != NULL ? conv.data : "",
		    conv.len);
	buf_release(&conv);
	(void)mime_buf_add(out, "\n", 1);
}

void
mime_text_extract(const char *msg, size_t len, const struct mime_part *root,
    struct buf *out)
{
	const struct mime_part *part = root;

	/* Document order without recursion: down to the first child, else
	 * on to the next sibling, else up. */
	while (part != NULL && out->len < out->max) {
		if (part->n_children > 0) {
			part = &part->children[0];
			continue;
		}
		if (strcmp(part->type, "text") == 0 && part->body_end <= len &&
		    part->body_start <= part->body_end)
			mime_text_part(msg, part, out);
		for (;;) {
			const struct mime_part *parent = part->parent;

			if (part == root || parent == NULL) {
				part = NULL;
				break;
			}
			if ((size_t)(part - parent->children) + 1 < parent->n_children) {
				part++;
				break;
			}
			part = parent;
		}
	}
}

/*
 * Case-insensitive matching for SEARCH.
 */

/* Simple lower-casing of the scripts listed in mime-decode.h. */
static uint32_t
mime_fold(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 0x20 : c;
	if (c < 0x100) {
		if ((c >= 0xC0 && c <= 0xDE && c != 0xD7))
			return c + 0x20;
		if (c == 0xB5)
			return 0x3BC;	/* micro sign: Greek mu */
		return c;
	}
	if (c <= 0x17F) {
		if (c == 0x130)
			return 'i';
		if (c == 0x178)
			return 0xFF;
		if (c == 0x17F)
			return 's';
		if ((c <= 0x12F || (c >= 0x132 && c <= 0x137) ||
		    (c >= 0x14A && c <= 0x177)) && c % 2 == 0)
			return c + 1;
		if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) &&
		    c % 2 == 1)
			return c + 1;
		return c;
	}
	if (c >= 0x370 && c <= 0x3FF) {
		if (c == 0x386)
			return 0x3AC;
		if (c >= 0x388 && c <= 0x38A)
			return c + 0x25;
		if (c == 0x38C)
			return 0x3CC;
		if (c == 0x38E || c == 0x38F)
			return c + 0x3F;
		if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
			return c + 0x20;
		if (c == 0x3C2)
			return 0x3C3;	/* final sigma */
		return c;
	}
	if (c >= 0x400 && c <= 0x52F) {
		if (c <= 0x40F)
			return c + 0x50;
		if (c <= 0x42F)
			return c + 0x20;
		if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) ||
		    (c >= 0x4D0 && c <= 0x52F)) && c % 2 == 0)
			return c + 1;
		if (c == 0x4C0)
			return 0x4CF;
		if (c >= 0x4C1 && c <= 0x4CE && c % 2 == 1)
			return c + 1;
		return c;
	}
	return c;
}

/* The next folded code point at s; a byte that is not UTF-8 becomes a
 * value above U+10FFFF, so it only matches the same byte. */
static size_t
mime_fold_next(const char *s, size_t n, uint32_t *c_r)
{
	uint32_t cp;
	size_t l = mime_utf8_seq((const unsigned char *)s, n, &cp);

	if (l == 0) {
		*c_r = 0x110000 + (unsigned char)s[0];
		return 1;
	}
	*c_r = mime_fold(cp);
	return l;
}

int
mime_text_fold(const char *s, size_t len, struct buf *out)
{
	char u[4];

	for (size_t i = 0; i < len;) {
		uint32_t c;

		i += mime_fold_next(s + i, len - i, &c);
		if (c > 0x10FFFF)
			c = 0xFFFD;
		if (buf_append(out, u, mime_utf8_encode(c, u)) < 0)
			return -1;
	}
	return 0;
}

bool
mime_text_contains(const char *hay, size_t hlen, const char *needle,
    size_t nlen)
{
	uint32_t *pat;
	size_t *fail, m = 0, k = 0;
	bool found = false;

	if (nlen == 0)
		return true;
	if (hlen == 0)
		return false;
	pat = xmalloc(nlen * sizeof(*pat));
	for (size_t i = 0; i < nlen;)
		i += mime_fold_next(needle + i, nlen - i, &pat[m++]);
	/* Knuth-Morris-Pratt failure function. */
	fail = xmalloc(m * sizeof(*fail));
	fail[0] = 0;
	for (size_t i = 1; i < m; i++) {
		while (k > 0 && pat[i] != pat[k])
			k = fail[k - 1];
		if (pat[i] == pat[k])
			k++;
		fail[i] = k;
	}
	k = 0;
	for (size_t i = 0; i < hlen && !found;) {
		uint32_t c;

		i += mime_fold_next(hay + i, hlen - i, &c);
		while (k > 0 && c != pat[k])
			k = fail[k - 1];
		if (c == pat[k])
			k++;
		if (k == m)
			found = true;
	}
	free(pat);
	free(fail);
	return found;
}
