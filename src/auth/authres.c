/*
 * authres.c - writing and stripping Authentication-Results (see
 * authres.h): RFC 8601 sections 2.2 (syntax) and 5 (removal).
 */
#include "auth/authres.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

/* RFC 2045 5.1 tspecials, which a token cannot hold. */
static bool
authres_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool
authres_is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || authres_tspecial(c))
			return false;
	}
	return true;
}

/* RFC 8601 2.2 pvalue also takes "[local-part@]domain-name" bare; kept
 * to the simple case: a token, '@', and a host name. */
static bool
authres_is_address(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	size_t i;

	if (at == NULL || !authres_is_token(s, (size_t)(at - s)))
		return false;
	if (at + 1 == s + len)
		return false;
	for (i = (size_t)(at - s) + 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Writes a value as a token or an address, or as a quoted string in which
 * control and non-ASCII bytes become '?' and '"' and '\' are escaped. */
static int
authres_value(struct buf *out, const char *value)
{
	size_t len = strlen(value), i;
	int r = 0;

	if (len > AUTHRES_VALUE_MAX)
		len = AUTHRES_VALUE_MAX;
	if (authres_is_token(value, len) || authres_is_address(value, len))
		return buf_append(out, value, len);
	r |= buf_append(out, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c == '"' || c == '\\')
			r |= buf_append(out, "\\", 1);
		if (c < 0x20 || c >= 0x7f)
			c = '?';
		r |= buf_append(out, &c, 1);
	}
	r |= buf_append(out, "\"", 1);
	return r;
}

int
authres_begin(struct buf *out, const char *authserv_id)
{
	return buf_printf(out, "Authentication-Results: %s", authserv_id);
}

int
authres_method(struct buf *out, const char *method, const char *result,
    const char *reason)
{
	int r = buf_printf(out, ";\r\n\t%s=%s", method, result);

	if (reason != NULL && reason[0] != '\0') {
		r |= buf_puts(out, " reason=");
		r |= authres_value(out, reason);
	}
	return r;
}

int
authres_prop(struct buf *out, const char *prop, const char *value)
{
	int r = buf_printf(out, " %s=", prop);

	return r | authres_value(out, value);
}

int
authres_end(struct buf *out, bool any_method)
{
	if (!any_method && buf_puts(out, "; none") < 0)
		return -1;
	return buf_puts(out, "\r\n");
}

/* Skips CFWS (RFC 5322 3.2.2): white space, line breaks of a folded
 * value, and comments, nested at most AUTHRES_COMMENT_DEPTH_MAX deep.
 * Returns the new position, or len if a comment never ends. */
static size_t
authres_skip_cfws(const char *s, size_t len, size_t i)
{
	unsigned depth = 0;

	while (i < len) {
		char c = s[i];

		if (depth > 0 && c == '\\' && i + 1 < len) {
			i += 2;
			continue;
		}
		if (c == '(') {
			if (++depth > AUTHRES_COMMENT_DEPTH_MAX)
				return len;
		} else if (c == ')' && depth > 0) {
			depth--;
		} else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' &&
		    c != '\n') {
			break;
		}
		i++;
	}
	return depth > 0 ? len : i;
}

bool
authres_is_ours(const char *value, size_t len, const char *authserv_id)
{
	size_t i = authres_skip_cfws(value, len, 0), start, idlen;

	idlen = strlen(authserv_id);
	if (i >= len)
		return false;
	if (value[i] == '"') {
		/* A quoted authserv-id: compare what it stands for. A host
		 * name needs no quoted-pair, but "mx.ex\ample.org" is
		 * mx.example.org to whoever unquotes it (RFC 5322 3.2.4),
		 * so a forged field cannot hide behind one. */
		size_t k = 0;
		bool same = true;

		for (i++; i < len && value[i] != '"'; i++) {
			if (value[i] == '\\' && ++i >= len)
				return false;
			if (k >= idlen || tolower((unsigned char)value[i]) !=
			    tolower((unsigned char)authserv_id[k]))
				same = false;
			k++;
		}
		return i < len && same && k == idlen;
	}
	start = i;
	while (i < len && (unsigned char)value[i] > 0x20 &&
	    (unsigned char)value[i] < 0x7f && !authres_tspecial(value[i]))
		i++;
	return i - start == idlen &&
	    strncasecmp(value + start, authserv_id, idlen) == 0;
}

#define AUTHRES_NAME "Authentication-Results"

size_t
authres_strip(char *msg, size_t len, const char *authserv_id)
{
	size_t i = 0, name_len = sizeof(AUTHRES_NAME) - 1;

	while (i < len) {
		size_t start = i, end, colon;
		const char *nl;

		/* An empty line ends the header section. */
		if (msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len &&
		    msg[i + 1] == '\n'))
			break;
		/* The field: its first line and every continuation line. */
		end = i;
		for (;;) {
			nl = memchr(msg + end, '\n', len - end);
			end = nl == NULL ? len : (size_t)(nl - msg) + 1;
			if (end >= len || (msg[end] != ' ' && msg[end] != '\t'))
				break;
		}
		colon = start + name_len;
		while (colon < end && (msg[colon] == ' ' || msg[colon] == '\t'))
			colon++;
		if (end - start > name_len &&
		    strncasecmp(msg + start, AUTHRES_NAME, name_len) == 0 &&
		    colon < end && msg[colon] == ':' &&
		    authres_is_ours(msg + colon + 1, end - colon - 1,
		    authserv_id)) {
			memmove(msg + start, msg + end, len - end);
			len -= end - start;
			i = start;
			continue;
		}
		i = end;
	}
	return len;
}
