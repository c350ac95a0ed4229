/*
 * smtp-parse.c - SMTP path and parameter parsing (see smtp-parse.h).
 *
 * RFC 5321 4.1.2:
 *   Path = "<" [ A-d-l ":" ] Mailbox ">"
 *   Mailbox = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string
 * RFC 6531 3.3 extends atext, qtext and sub-domain with UTF8-non-ascii.
 *
 * SECURITY: network input; every loop is bounded by the NUL-terminated
 * input, which the caller limited to one command line.
 */
#include "smtp/smtp-parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/utf8.h"

/* RFC 5322 atext, plus any byte of a UTF-8 sequence (checked later). */
static bool
smtp_is_atext(unsigned char c)
{
	/* strchr() finds the terminating NUL too: rule it out first. */
	return c != '\0' && (isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL ||
	    c >= 0x80);
}

/* Is s a valid RFC 5321 Dot-string (atoms separated by single dots)? */
static bool
smtp_is_dot_string(const char *s, size_t len)
{
	bool atom = false;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (!atom)
				return false;
			atom = false;
		} else if (c != '\0' && smtp_is_atext(c)) {
			atom = true;
		} else {
			return false;
		}
	}
	return atom;
}

/* Parses a Domain (RFC 5321 4.1.2) at in; returns its length, 0 if none.
 * Labels start and end with a letter or digit; UTF-8 bytes count as
 * letters (U-labels are checked by IDNA later, when it matters). */
static size_t
smtp_scan_domain(const char *in)
{
	size_t i = 0, label = 0;
	unsigned char last = 0;

	for (;; i++) {
		unsigned char c = (unsigned char)in[i];

		if (isalnum(c) || c >= 0x80) {
			label++;
		} else if (c == '-' && label > 0) {
			label++;
		} else if (c == '.' && label > 0 && last != '-') {
			label = 0;
		} else {
			break;
		}
		if (label > 63)
			return 0;
		last = c;
	}
	if (label == 0 || last == '-')
		return 0;
	return i;
}

/* Parses an address literal "[...]" at in; returns its length or 0. */
static size_t
smtp_scan_literal(const char *in)
{
	const char *end = strchr(in, ']');
	char tmp[64];
	size_t len;
	unsigned char a6[16];

	if (in[0] != '[' || end == NULL)
		return 0;
	len = (size_t)(end - in - 1);
	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, in + 1, len);
	tmp[len] = '\0';
	if (strncasecmp(tmp, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, tmp + 5, a6) != 1)
			return 0;
	} else if (isdigit((unsigned char)tmp[0])) {
		if (inet_pton(AF_INET, tmp, a6) != 1)
			return 0;
	} else {
		/* General-address-literal: Standardized-tag ":" 1*dcontent */
		char *colon = strchr(tmp, ':');

		if (colon == NULL || colon == tmp || colon[1] == '\0')
			return 0;
		for (char *p = tmp; p < colon; p++)
			if (!isalnum((unsigned char)*p) && *p != '-')
				return 0;
		for (char *p = colon + 1; *p != '\0'; p++)
			if (*p < 33 || *p > 126 || *p == '[' || *p == '\\')
				return 0;
	}
	return len + 2;
}

/* Writes a local part in its canonical form (see struct smtp_path). */
static char *
smtp_local_canonical(const char *raw, size_t len, struct pool *pool)
{
	char *out, *o;

	if (smtp_is_dot_string(raw, len))
		return pool_strndup(pool, raw, len);
	out = pool_alloc(pool, len * 2 + 3);
	o = out;
	*o++ = '"';
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '"' || raw[i] == '\\')
			*o++ = '\\';
		*o++ = raw[i];
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

enum smtp_parse_error
smtp_parse_path(const char *in, bool null_ok, bool utf8_allowed,
    struct pool *pool, struct smtp_path *path_r, size_t *consumed_r,
    const char **error_r)
{
	const char *p = in, *start;
	char local[SMTP_LOCAL_MAX + 1];
	size_t llen = 0, dlen;

	memset(path_r, 0, sizeof(*path_r));
	if (*p != '<') {
		*error_r = "path must be enclosed in <>";
		return SMTP_PARSE_BAD_ADDRESS;
	}
	p++;
	if (*p == '>') {
		if (!null_ok) {
			*error_r = "null path not allowed here";
			return SMTP_PARSE_BAD_ADDRESS;
		}
		path_r->null = true;
		path_r->localpart = pool_strdup(pool, "");
		path_r->domain = pool_strdup(pool, "");
		path_r->address = pool_strdup(pool, "");
		*consumed_r = 2;
		return SMTP_PARSE_OK;
	}
	/* A source route is accepted and ignored (RFC 5321 4.1.2, C). */
	if (*p == '@') {
		for (;;) {
			p++;
			dlen = smtp_scan_domain(p);
			if (dlen == 0) {
				*error_r = "bad source route";
				return SMTP_PARSE_BAD_ADDRESS;
			}
			p += dlen;
			if (*p == ':')
				break;
			if (*p != ',' || p[1] != '@') {
				*error_r = "bad source route";
				return SMTP_PARSE_BAD_ADDRESS;
			}
			p++;
		}
		p++;
	}
	start = p;
	if (*p == '"') {
		/* Quoted-string: qtextSMTP / quoted-pairSMTP */
		for (p++; *p != '"'; p++) {
			unsigned char c = (unsigned char)*p;

			if (c == '\\') {
				p++;
				c = (unsigned char)*p;
				if (c < 32 || c > 126) {
					*error_r = "bad quoted pair";
					return SMTP_PARSE_BAD_ADDRESS;
				}
			} else if (c < 32 || c == 127) {
				*error_r = "bad character in quoted local part";
				return SMTP_PARSE_BAD_ADDRESS;
			}
			if (llen >= SMTP_LOCAL_MAX) {
				*error_r = "local part too long";
				return SMTP_PARSE_TOO_LONG;
			}
			local[llen++] = (char)c;
		}
		p++;
	} else {
		while (smtp_is_atext((unsigned char)*p) || *p == '.') {
			if (llen >= SMTP_LOCAL_MAX) {
				*error_r = "local part too long";
				return SMTP_PARSE_TOO_LONG;
			}
			local[llen++] = *p++;
		}
		if (!smtp_is_dot_string(local, llen)) {
			*error_r = "bad local part";
			return SMTP_PARSE_BAD_ADDRESS;
		}
	}
	local[llen] = '\0';
	if (*p == '>' && start[0] != '"' && strcasecmp(local, "postmaster") == 0) {
		/* RFC 5321 4.1.1.3: <Postmaster> with no domain. */
		path_r->postmaster = true;
		path_r->localpart = pool_strdup(pool, "postmaster");
		path_r->domain = pool_strdup(pool, "");
		path_r->address = pool_strdup(pool, "postmaster");
		*consumed_r = (size_t)(p + 1 - in);
		return SMTP_PARSE_OK;
	}
	if (*p != '@') {
		*error_r = "address must be local@domain";
		return SMTP_PARSE_BAD_ADDRESS;
	}
	p++;
	dlen = *p == '[' ? smtp_scan_literal(p) : smtp_scan_domain(p);
	if (dlen == 0) {
		*error_r = "bad domain";
		return SMTP_PARSE_BAD_ADDRESS;
	}
	if (dlen > SMTP_DOMAIN_MAX) {
		*error_r = "domain too long";
		return SMTP_PARSE_TOO_LONG;
	}
	path_r->domain = pool_strndup(pool, p, dlen);
	p += dlen;
	if (*p != '>') {
		*error_r = "path must end with >";
		return SMTP_PARSE_BAD_ADDRESS;
	}
	p++;
	if ((size_t)(p - in) > SMTP_PATH_MAX) {
		*error_r = "path too long";
		return SMTP_PARSE_TOO_LONG;
	}
	for (const char *q = in; q < p; q++)
		if ((unsigned char)*q >= 0x80)
			path_r->utf8 = true;
	if (path_r->utf8) {
		if (!utf8_valid(in, (size_t)(p - in))) {
			*error_r = "invalid UTF-8 in address";
			return SMTP_PARSE_BAD_ADDRESS;
		}
		if (!utf8_allowed) {
			*error_r = "non-ASCII address without SMTPUTF8";
			return SMTP_PARSE_UTF8;
		}
	}
	path_r->localpart = smtp_local_canonical(local, llen, pool);
	path_r->address = pool_printf(pool, "%s@%s", path_r->localpart,
	    path_r->domain);
	*consumed_r = (size_t)(p - in);
	return SMTP_PARSE_OK;
}

/* Skips "KEYWORD:" with optional white space around the colon. */
static const char *
smtp_skip_keyword(const char *args, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(args, kw, n) != 0)
		return NULL;
	args += n;
	while (*args == ' ')
		args++;
	if (*args != ':')
		return NULL;
	args++;
	while (*args == ' ')
		args++;
	return args;
}

/* Splits the next "keyword[=value]" off *pp into kw/val (pool copies). */
static enum smtp_parse_error
smtp_next_param(const char **pp, struct pool *pool, char **kw_r, char **val_r,
    const char **error_r)
{
	const char *p = *pp, *k, *v = NULL;
	size_t klen, vlen = 0;

	k = p;
	if (!isalnum((unsigned char)*p)) {
		*error_r = "bad parameter syntax";
		return SMTP_PARSE_SYNTAX;
	}
	while (isalnum((unsigned char)*p) || *p == '-')
		p++;
	klen = (size_t)(p - k);
	if (*p == '=') {
		v = ++p;
		/* esmtp-value: any CHAR but "=", SP and controls (RFC 5321
		 * 4.1.2); UTF-8 is allowed by RFC 6531 3.3. */
		while (*p != '\0' && *p != ' ' && *p != '=' &&
		    (unsigned char)*p > 32 && *p != 127)
			p++;
		vlen = (size_t)(p - v);
		if (vlen == 0) {
			*error_r = "empty parameter value";
			return SMTP_PARSE_SYNTAX;
		}
	}
	if (*p != '\0' && *p != ' ') {
		*error_r = "bad parameter syntax";
		return SMTP_PARSE_SYNTAX;
	}
	while (*p == ' ')
		p++;
	*kw_r = pool_strndup(pool, k, klen);
	*val_r = v != NULL ? pool_strndup(pool, v, vlen) : NULL;
	*pp = p;
	return SMTP_PARSE_OK;
}

enum smtp_parse_error
smtp_parse_mail(const char *args, struct pool *pool, struct smtp_path *path_r,
    struct smtp_mail_params *params_r, const char **error_r)
{
	const char *p = smtp_skip_keyword(args, "FROM");
	enum smtp_parse_error err;
	size_t used, n = 0;
	bool have_body = false;

	memset(params_r, 0, sizeof(*params_r));
	if (p == NULL) {
		*error_r = "syntax: MAIL FROM:<address>";
		return SMTP_PARSE_SYNTAX;
	}
	/* Parse the path allowing UTF-8, then check it against SMTPUTF8,
	 * which comes after it. */
	err = smtp_parse_path(p, true, true, pool, path_r, &used, error_r);
	if (err != SMTP_PARSE_OK)
		return err;
	p += used;
	if (*p != '\0' && *p != ' ') {
		*error_r = "garbage after path";
		return SMTP_PARSE_SYNTAX;
	}
	while (*p == ' ')
		p++;
	while (*p != '\0') {
		char *kw, *val;

		if (++n > SMTP_PARAMS_MAX) {
			*error_r = "too many parameters";
			return SMTP_PARSE_SYNTAX;
		}
		err = smtp_next_param(&p, pool, &kw, &val, error_r);
		if (err != SMTP_PARSE_OK)
			return err;
		if (strcasecmp(kw, "SIZE") == 0) {
			char *end;

			if (params_r->has_size || val == NULL || !isdigit((unsigned char)val[0]) ||
			    strlen(val) > 20) {
				*error_r = "bad SIZE parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			errno = 0;
			params_r->size = strtoull(val, &end, 10);
			if (errno != 0 || *end != '\0') {
				*error_r = "bad SIZE parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			params_r->has_size = true;
		} else if (strcasecmp(kw, "BODY") == 0) {
			if (have_body || val == NULL) {
				*error_r = "bad BODY parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			if (strcasecmp(val, "7BIT") == 0)
				params_r->body = SMTP_BODY_7BIT;
			else if (strcasecmp(val, "8BITMIME") == 0)
				params_r->body = SMTP_BODY_8BITMIME;
			else {
				*error_r = "unsupported BODY type";
				return SMTP_PARSE_BAD_PARAM;
			}
			have_body = true;
		} else if (strcasecmp(kw, "SMTPUTF8") == 0) {
			if (params_r->smtputf8 || val != NULL) {
				*error_r = "bad SMTPUTF8 parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			params_r->smtputf8 = true;
		} else if (strcasecmp(kw, "AUTH") == 0) {
			/* RFC 4954 5: the original submitter, from a
			 * trusted relay. Accepted (a server that offers AUTH
			 * must), and ignored: submission knows its user. */
			if (params_r->has_auth || val == NULL) {
				*error_r = "bad AUTH parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			params_r->has_auth = true;
		} else {
			*error_r = "unsupported parameter";
			return SMTP_PARSE_BAD_PARAM;
		}
	}
	if (path_r->utf8 && !params_r->smtputf8) {
		*error_r = "non-ASCII address without SMTPUTF8";
		return SMTP_PARSE_UTF8;
	}
	return SMTP_PARSE_OK;
}

enum smtp_parse_error
smtp_parse_rcpt(const char *args, bool utf8_allowed, struct pool *pool,
    struct smtp_path *path_r, const char **error_r)
{
	const char *p = smtp_skip_keyword(args, "TO");
	enum smtp_parse_error err;
	size_t used;

	if (p == NULL) {
		*error_r = "syntax: RCPT TO:<address>";
		return SMTP_PARSE_SYNTAX;
	}
	err = smtp_parse_path(p, false, utf8_allowed, pool, path_r, &used, error_r);
	if (err != SMTP_PARSE_OK)
		return err;
	p += used;
	if (*p != '\0' && *p != ' ') {
		*error_r = "garbage after path";
		return SMTP_PARSE_SYNTAX;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		char *kw, *val;

		err = smtp_next_param(&p, pool, &kw, &val, error_r);
		if (err != SMTP_PARSE_OK)
			return err;
		*error_r = "unsupported parameter";
		return SMTP_PARSE_BAD_PARAM;
	}
	return SMTP_PARSE_OK;
}

enum smtp_parse_error
smtp_parse_bdat(const char *args, uint64_t *size_r, bool *last_r)
{
	const char *p = args;
	uint64_t n = 0;

	if (!isdigit((unsigned char)*p))
		return SMTP_PARSE_SYNTAX;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10)
			return SMTP_PARSE_SYNTAX;
		n = n * 10 + d;
	}
	*last_r = false;
	if (*p == ' ') {
		while (*p == ' ')
			p++;
		if (strcasecmp(p, "LAST") != 0)
			return SMTP_PARSE_SYNTAX;
		*last_r = true;
	} else if (*p != '\0') {
		return SMTP_PARSE_SYNTAX;
	}
	*size_r = n;
	return SMTP_PARSE_OK;
}
