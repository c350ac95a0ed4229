/*
 * imap-utf7.c - modified UTF-7 <-> UTF-8 for mailbox names (see
 * imap-utf7.h).
 *
 * RFC 3501 5.1.3: printable US-ASCII (0x20-0x7e) except "&" stands for
 * itself; "&" is written "&-"; anything else is UTF-16 in modified BASE64
 * (RFC 2045 alphabet with "," instead of "/", no "=" padding) between "&"
 * and "-".
 *
 * SECURITY: decodes network input. Output only through struct buf (its
 * max bounds it); on any error the output is rolled back.
 */
#include "imap/imap-utf7.h"

#include <stdint.h>

#include "core/buf.h"
#include "core/utf8.h"

static const char imap_utf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
imap_utf7_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static int
imap_utf7_rollback(struct buf *out, size_t orig)
{
	if (out != NULL) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return -1;
}

/* Appends code point cp as UTF-8 (out may be NULL: validation only). */
static int
imap_utf7_put_utf8(struct buf *out, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (out == NULL)
		return 0;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

/* Decodes one shifted run in[*pos..] (after the "&") up to its "-". */
static int
imap_utf7_decode_run(const char *in, size_t len, size_t *pos, struct buf *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t i = *pos, units = 0;

	for (;;) {
		int v;
		uint32_t unit;

		if (i == len)
			return -1;	/* unterminated shift */
		if (in[i] == '-')
			break;
		if ((v = imap_utf7_b64_value((unsigned char)in[i++])) < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (high != 0) {
			/* RFC 2781 2.2: a high surrogate needs a low one. */
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			if (imap_utf7_put_utf8(out, 0x10000 +
			    ((high - 0xd800) << 10) + (unit - 0xdc00)) < 0)
				return -1;
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;
		} else if (unit == 0 || (unit >= 0x20 && unit <= 0x7e)) {
			/* NUL, or printable ASCII that must stand for
			 * itself (RFC 3501 5.1.3): not canonical. */
			return -1;
		} else if (imap_utf7_put_utf8(out, unit) < 0) {
			return -1;
		}
	}
	/* Empty run, dangling surrogate, a whole wasted BASE64 character,
	 * or non-zero padding bits: not canonical. */
	if (units == 0 || high != 0 || nbits >= 6 || bits != 0)
		return -1;
	*pos = i + 1;
	return 0;
}

/* Decodes in to UTF-8 into out, or only checks it if out is NULL. */
static int
imap_utf7_decode(const char *in, size_t len, struct buf *out)
{
	size_t orig = out != NULL ? out->len : 0, i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		if (c == '&') {
			i++;
			if (i < len && in[i] == '-') {
				if (out != NULL && buf_append(out, "&", 1) < 0)
					return imap_utf7_rollback(out, orig);
				i++;
				continue;
			}
			if (imap_utf7_decode_run(in, len, &i, out) < 0)
				return imap_utf7_rollback(out, orig);
			continue;
		}
		if (c < 0x20 || c > 0x7e)
			return imap_utf7_rollback(out, orig);
		if (out != NULL && buf_append(out, &in[i], 1) < 0)
			return imap_utf7_rollback(out, orig);
		i++;
	}
	return 0;
}

int
imap_utf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	return imap_utf7_decode(in, len, out);
}

bool
imap_utf7_is_valid(const char *in, size_t len)
{
	return imap_utf7_decode(in, len, NULL) == 0;
}

/* Decodes the UTF-8 sequence at in[*pos] (already validated). */
static uint32_t
imap_utf8_next(const unsigned char *in, size_t *pos)
{
	unsigned char c = in[*pos];
	uint32_t cp;
	unsigned need;

	if (c < 0x80) {
		(*pos)++;
		return c;
	}
	if (c < 0xe0) {
		need = 1;
		cp = c & 0x1f;
	} else if (c < 0xf0) {
		need = 2;
		cp = c & 0x0f;
	} else {
		need = 3;
		cp = c & 0x07;
	}
	for (unsigned k = 1; k <= need; k++)
		cp = (cp << 6) | (in[*pos + k] & 0x3f);
	*pos += need + 1;
	return cp;
}

/* Emits the 16-bit unit as BASE64 digits, keeping leftover bits. */
static int
imap_utf7_put_unit(struct buf *out, uint32_t unit, uint32_t *bits,
    unsigned *nbits)
{
	*bits = (*bits << 16) | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		if (buf_append(out, &imap_utf7_b64[(*bits >> *nbits) & 0x3f],
		    1) < 0)
			return -1;
	}
	*bits &= (1u << *nbits) - 1;
	return 0;
}

/* Ends a shifted run: the last bits, zero-padded, then "-". */
static int
imap_utf7_shift_end(struct buf *out, uint32_t bits, unsigned nbits)
{
	if (nbits > 0 && buf_append(out,
	    &imap_utf7_b64[(bits << (6 - nbits)) & 0x3f], 1) < 0)
		return -1;
	return buf_append(out, "-", 1);
}

int
imap_utf8_to_utf7(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t orig = out->len, i = 0;
	uint32_t bits = 0;
	unsigned nbits = 0;
	bool shifted = false;

	if (!utf8_valid(in, len))
		return -1;
	while (i < len) {
		uint32_t cp = imap_utf8_next(s, &i);

		if (cp == 0)
			return imap_utf7_rollback(out, orig);
		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted) {
				if (imap_utf7_shift_end(out, bits, nbits) < 0)
					return imap_utf7_rollback(out, orig);
				shifted = false;
				bits = 0;
				nbits = 0;
			}
			if (buf_append(out, cp == '&' ? "&-" : (const char *)&s[i - 1],
			    cp == '&' ? 2 : 1) < 0)
				return imap_utf7_rollback(out, orig);
			continue;
		}
		if (!shifted) {
			if (buf_append(out, "&", 1) < 0)
				return imap_utf7_rollback(out, orig);
			shifted = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if (imap_utf7_put_unit(out, 0xd800 + (cp >> 10), &bits,
			    &nbits) < 0 ||
			    imap_utf7_put_unit(out, 0xdc00 + (cp & 0x3ff), &bits,
			    &nbits) < 0)
				return imap_utf7_rollback(out, orig);
		} else if (imap_utf7_put_unit(out, cp, &bits, &nbits) < 0) {
			return imap_utf7_rollback(out, orig);
		}
	}
	if (shifted && imap_utf7_shift_end(out, bits, nbits) < 0)
		return imap_utf7_rollback(out, orig);
	return 0;
}
