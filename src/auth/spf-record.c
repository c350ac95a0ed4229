/*
 * spf-record.c - SPF records and macros (see spf-private.h): the record
 * syntax of RFC 7208 4.6 and 12 (terms, mechanisms, modifiers, CIDR
 * lengths, domain-specs) and the macro language of RFC 7208 7.
 *
 * A record is checked whole before any term of it is evaluated: RFC 7208
 * 4.6 makes a syntax error anywhere a permerror, even after a term that
 * would have matched. Domain-specs are checked as macro-strings, and
 * their ends against the ABNF's domain-end, here; they are expanded only
 * when their term is evaluated (spf.c).
 *
 * SECURITY: records come from the sender's DNS, macro values from the
 * SMTP client. Every term is scanned within its own length; records are
 * bounded by SPF_RECORD_MAX and SPF_TERMS_MAX, expansions by the max of
 * their buffer, transformer numbers are clamped while they are read, and
 * text quoted in errors is escaped and cut.
 */
#include "auth/spf-private.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "dns/dns-name.h"

/* A term quoted in an error message, at most. */
#define SPF_QUOTE_MAX 64
/* Transformer numbers above this all mean "every part" (a value has at
 * most SPF_EXPAND_MAX octets, so it never has this many parts). */
#define SPF_MACRO_DIGITS_MAX (SPF_EXPAND_MAX + 1)

static bool
spf_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
spf_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

bool
spf_record_is_v1(const char *data, size_t len)
{
	return len >= 6 && strncasecmp(data, "v=spf1", 6) == 0 &&
	    (len == 6 || data[6] == ' ');
}

/* --- macros (RFC 7208 7) ------------------------------------------------- */

/* One "%..." of a macro-string, as read by spf_macro_next(). */
struct spf_macro {
	char letter;		/* lower case; 0 for %%, %_ and %- */
	const char *literal;	/* for %%, %_ and %-: what it stands for */
	bool upper;		/* URL-escape the value */
	bool reverse;
	unsigned digits;	/* 0: keep every part */
	char delims[8];		/* NUL-terminated; "" means "." */
};

/*
 * Reads the macro-expand at s[*pos] (a '%'); moves *pos past it. Returns 0,
 * or -1 with *error_r set.
 */
static int
spf_macro_next(const char *s, size_t len, size_t *pos, enum spf_macro_use use,
    struct spf_macro *m, const char **error_r)
{
	size_t i = *pos + 1;
	unsigned char c;

	memset(m, 0, sizeof(*m));
	if (i >= len) {
		*error_r = "'%' at the end of a macro-string";
		return -1;
	}
	switch (s[i]) {
	case '%':
		m->literal = "%";
		*pos = i + 1;
		return 0;
	case '_':
		m->literal = " ";
		*pos = i + 1;
		return 0;
	case '-':
		m->literal = "%20";
		*pos = i + 1;
		return 0;
	case '{':
		break;
	default:
		/* RFC 7208 7.1: "%(ir)" and the like are errors. */
		*error_r = "'%' not followed by '{', '%', '_' or '-'";
		return -1;
	}
	if (++i >= len) {
		*error_r = "unterminated macro";
		return -1;
	}
	c = (unsigned char)s[i];
	m->upper = c >= 'A' && c <= 'Z';
	m->letter = (char)(m->upper ? c - 'A' + 'a' : c);
	switch (m->letter) {
	case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h':
	case 'v':
		break;
	case 'c': case 'r': case 't':
		/* RFC 7208 7.2: in explanations only. */
		if (use == SPF_MACRO_EXPLAIN)
			break;
		*error_r = "macro letter c, r or t outside an explanation";
		return -1;
	default:
		*error_r = "unknown macro letter";
		return -1;
	}
	i++;
	if (i < len && spf_is_digit((unsigned char)s[i])) {
		unsigned n = 0;

		/* Clamped as it is read: a thousand digits do not overflow. */
		for (; i < len && spf_is_digit((unsigned char)s[i]); i++)
			if (n < SPF_MACRO_DIGITS_MAX)
				n = n * 10 + (unsigned)(s[i] - '0');
		if (n == 0) {
			/* RFC 7208 7.3: "the value MUST be nonzero". */
			*error_r = "macro transformer of zero parts";
			return -1;
		}
		m->digits = n > SPF_MACRO_DIGITS_MAX ? SPF_MACRO_DIGITS_MAX : n;
	}
	if (i < len && (s[i] == 'r' || s[i] == 'R')) {
		m->reverse = true;
		i++;
	}
	for (size_t nd = 0; i < len && strchr(".-+,/_=", s[i]) != NULL &&
	    s[i] != '\0'; i++) {
		/* Seven delimiters; a repeated one is kept once. */
		if (strchr(m->delims, s[i]) == NULL && nd < sizeof(m->delims) - 1)
			m->delims[nd++] = s[i];
	}
	if (i >= len || s[i] != '}') {
		*error_r = "bad macro: expected transformers, delimiters or '}'";
		return -1;
	}
	*pos = i + 1;
	return 0;
}

/* Is c allowed as a literal of a macro-string here? */
static bool
spf_macro_literal(unsigned char c, enum spf_macro_use use)
{
	/* macro-literal = %x21-24 / %x26-7E; explain-string adds SP. */
	return (c >= 0x21 && c <= 0x7e && c != '%') ||
	    (c == ' ' && use == SPF_MACRO_EXPLAIN);
}

int
spf_macro_check(const char *s, size_t len, enum spf_macro_use use,
    bool *uses_p_r, const char **error_r)
{
	struct spf_macro m;
	size_t pos = 0;
	bool uses_p = false;

	while (pos < len) {
		unsigned char c = (unsigned char)s[pos];

		if (c == '%') {
			if (spf_macro_next(s, len, &pos, use, &m, error_r) < 0)
				return -1;
			if (m.letter == 'p')
				uses_p = true;
		} else if (spf_macro_literal(c, use)) {
			pos++;
		} else {
			*error_r = c >= 0x80 ? "non-ASCII octet in a macro-string" :
			    "control character in a macro-string";
			return -1;
		}
	}
	if (uses_p_r != NULL)
		*uses_p_r = uses_p;
	return 0;
}

/* The value of a macro letter. */
static const char *
spf_macro_value(const struct spf_macro_env *env, char letter, char *tbuf,
    size_t tlen)
{
	const char *v = NULL;

	switch (letter) {
	case 's': v = env->sender; break;
	case 'l': v = env->local; break;
	case 'o': v = env->sender_domain; break;
	case 'd': v = env->domain; break;
	case 'i': v = env->ip; break;
	case 'c': v = env->ip_text; break;
	case 'v': v = env->ip_version; break;
	case 'h': v = env->helo; break;
	case 'p': v = env->ptr != NULL ? env->ptr : "unknown"; break;
	case 'r': v = env->receiver != NULL ? env->receiver : "unknown"; break;
	case 't':
		if (snprintf(tbuf, tlen, "%lld", (long long)env->now) < 0)
			tbuf[0] = '\0';
		v = tbuf;
		break;
	}
	return v != NULL ? v : "";
}

/* RFC 3986 2.3 unreserved characters: what URL escaping leaves alone. */
static bool
spf_url_unreserved(unsigned char c)
{
	return spf_is_alpha(c) || spf_is_digit(c) || c == '-' || c == '.' ||
	    c == '_' || c == '~';
}

/* Appends one expanded macro to out. Returns 0 or -1 (out is full). */
static int
spf_macro_apply(const struct spf_macro *m, const char *value, struct buf *out)
{
	const char *delims = m->delims[0] != '\0' ? m->delims : ".";
	size_t vlen = strlen(value), nparts = 1, first, count;
	size_t *start, *plen;
	struct buf joined;
	int r = 0;

	if (vlen > SPF_EXPAND_MAX)
		return -1;
	for (size_t i = 0; i < vlen; i++)
		if (strchr(delims, value[i]) != NULL)
			nparts++;
	start = xcalloc(nparts, sizeof(*start));
	plen = xcalloc(nparts, sizeof(*plen));
	/* RFC 7208 7.3: split on the delimiters, ... */
	for (size_t i = 0, p = 0, s = 0; i <= vlen; i++) {
		if (i == vlen || strchr(delims, value[i]) != NULL) {
			start[p] = s;
			plen[p] = i - s;
			p++;
			s = i + 1;
		}
	}
	/* ... reverse if asked, keep the right-most parts, join with "."
	 * (the order is reversed while reading below). */
	count = m->digits > 0 && m->digits < nparts ? m->digits : nparts;
	first = nparts - count;
	buf_init(&joined, SPF_EXPAND_MAX);
	for (size_t k = first; k < nparts && r == 0; k++) {
		size_t idx = m->reverse ? nparts - 1 - k : k;

		if (k > first)
			r |= buf_append(&joined, ".", 1);
		r |= buf_append(&joined, value + start[idx], plen[idx]);
	}
	free(start);
	free(plen);
	if (r == 0 && !m->upper) {
		r = buf_append(out, joined.data != NULL ? joined.data : "",
		    joined.len);
	} else if (r == 0) {
		for (size_t i = 0; i < joined.len && r == 0; i++) {
			unsigned char c = (unsigned char)joined.data[i];
			char esc[4];

			if (spf_url_unreserved(c)) {
				r = buf_append(out, &joined.data[i], 1);
			} else {
				(void)snprintf(esc, sizeof(esc), "%%%02X", c);
				r = buf_append(out, esc, 3);
			}
		}
	}
	buf_release(&joined);
	return r;
}

int
spf_macro_expand(const char *s, size_t len, enum spf_macro_use use,
    const struct spf_macro_env *env, struct buf *out, const char **error_r)
{
	struct spf_macro m;
	size_t pos = 0;
	char tbuf[32];

	while (pos < len) {
		unsigned char c = (unsigned char)s[pos];
		int r;

		if (c == '%') {
			if (spf_macro_next(s, len, &pos, use, &m, error_r) < 0)
				return -1;
			if (m.literal != NULL)
				r = buf_puts(out, m.literal);
			else
				r = spf_macro_apply(&m, spf_macro_value(env,
				    m.letter, tbuf, sizeof(tbuf)), out);
		} else if (spf_macro_literal(c, use)) {
			r = buf_append(out, &s[pos], 1);
			pos++;
		} else {
			*error_r = "bad character in a macro-string";
			return -1;
		}
		if (r < 0) {
			*error_r = "macro expansion too long";
			return -1;
		}
	}
	return 0;
}

char *
spf_domain_truncate(char *name)
{
	size_t n = strlen(name), skip = 0;
	size_t body = n > 0 && name[n - 1] == '.' ? n - 1 : n;

	/* RFC 7208 7.3: remove labels from the left until it fits. */
	while (body - skip > DNS_NAME_MAX) {
		char *dot = memchr(name + skip, '.', body - skip);

		if (dot == NULL) {
			/* One label longer than a name: nothing is left. */
			name[0] = '\0';
			return name;
		}
		skip = (size_t)(dot - name) + 1;
	}
	if (skip > 0)
		memmove(name, name + skip, n - skip + 1);
	return name;
}

/* toplabel (RFC 7208 12): alphanumerics and '-', not starting or ending
 * with '-', and not all digits unless it has a '-'. */
static bool
spf_toplabel_valid(const char *s, size_t len)
{
	bool alpha = false, dash = false;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (spf_is_alpha(c))
			alpha = true;
		else if (c == '-')
			dash = true;
		else if (!spf_is_digit(c))
			return false;
	}
	return alpha || dash;
}

bool
spf_domain_end_valid(const char *s, size_t len)
{
	size_t pos = 0, tail = 0;
	struct spf_macro m;
	const char *error, *dot;

	/* Where the literal text after the last macro starts. */
	while (pos < len) {
		if (s[pos] == '%') {
			if (spf_macro_next(s, len, &pos, SPF_MACRO_EXPLAIN, &m,
			    &error) < 0)
				return false;
			tail = pos;
		} else {
			pos++;
		}
	}
	if (tail == len)
		return len > 0;		/* ends with a macro-expand */
	s += tail;
	len -= tail;
	if (s[len - 1] == '.')
		len--;
	dot = len > 0 ? memrchr(s, '.', len) : NULL;
	if (dot == NULL)
		return false;
	return spf_toplabel_valid(dot + 1, len - (size_t)(dot + 1 - s));
}

/* --- records (RFC 7208 4.6, 5, 6, 12) ------------------------------------ */

/* An error message quoting the term. */
static const char *
spf_term_error(struct pool *pool, const char *what, const char *term,
    size_t len)
{
	char esc[SPF_QUOTE_MAX + 8];

	log_escape(esc, sizeof(esc), term, len);
	return pool_printf(pool, "%s in \"%s\"", what, esc);
}

/*
 * Reads a CIDR length of at most max (32 or 128): digits without a
 * leading zero (RFC 7208 12: ip4-cidr-length, ip6-cidr-length).
 * Returns 0 or -1.
 */
static int
spf_cidr_parse(const char *s, size_t len, unsigned max, unsigned *len_r)
{
	unsigned v = 0;

	if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!spf_is_digit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*len_r = v;
	return 0;
}

/* If s (len bytes) ends in "/" digits, returns the offset of that '/',
 * else len. */
static size_t
spf_cidr_suffix(const char *s, size_t len)
{
	size_t i = len;

	while (i > 0 && spf_is_digit((unsigned char)s[i - 1]))
		i--;
	if (i == len || i == 0 || s[i - 1] != '/')
		return len;
	return i - 1;
}

/*
 * The arguments of a, mx: [":" domain-spec] [dual-cidr-length]. arg is
 * what follows the name. Returns 0, or -1 with *what_r set.
 */
static int
spf_parse_domain_cidr(struct spf_term *t, const char *arg, size_t len,
    bool cidr, struct pool *pool, const char **what_r)
{
	size_t end = len, cut;

	t->cidr4 = 32;
	t->cidr6 = 128;
	if (cidr) {
		/* From the right: "//N", then "/N" (a domain-spec may hold
		 * '/' itself). */
		cut = spf_cidr_suffix(arg, end);
		if (cut < end && cut > 0 && arg[cut - 1] == '/') {
			if (spf_cidr_parse(arg + cut + 1, end - cut - 1, 128,
			    &t->cidr6) < 0) {
				*what_r = "bad IPv6 CIDR length";
				return -1;
			}
			end = cut - 1;
			cut = spf_cidr_suffix(arg, end);
		}
		if (cut < end) {
			if (spf_cidr_parse(arg + cut + 1, end - cut - 1, 32,
			    &t->cidr4) < 0) {
				*what_r = "bad IPv4 CIDR length";
				return -1;
			}
			end = cut;
		}
	}
	if (end == 0)
		return 0;
	if (arg[0] != ':') {
		*what_r = cidr ? "bad arguments" : "unexpected arguments";
		return -1;
	}
	if (end == 1) {
		*what_r = "empty domain-spec";
		return -1;
	}
	if (spf_macro_check(arg + 1, end - 1, SPF_MACRO_DOMAIN, NULL,
	    what_r) < 0)
		return -1;
	if (!spf_domain_end_valid(arg + 1, end - 1)) {
		*what_r = "bad domain-spec (it must end with a top label)";
		return -1;
	}
	t->spec = pool_strndup(pool, arg + 1, end - 1);
	return 0;
}

/* ":" domain-spec, required (include, exists). */
static int
spf_parse_domain_required(struct spf_term *t, const char *arg, size_t len,
    struct pool *pool, const char **what_r)
{
	if (len == 0) {
		*what_r = "missing domain-spec";
		return -1;
	}
	return spf_parse_domain_cidr(t, arg, len, false, pool, what_r);
}

/* ":" ip [ "/" cidr ] for ip4 and ip6. */
static int
spf_parse_ip(struct spf_term *t, const char *arg, size_t len, bool v6,
    const char **what_r)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash;
	size_t alen;

	t->cidr4 = 32;
	t->cidr6 = 128;
	if (len < 2 || arg[0] != ':') {
		*what_r = "missing address";
		return -1;
	}
	arg++;
	len--;
	slash = memchr(arg, '/', len);
	alen = slash != NULL ? (size_t)(slash - arg) : len;
	if (alen == 0 || alen >= sizeof(addr)) {
		*what_r = "bad address";
		return -1;
	}
	memcpy(addr, arg, alen);
	addr[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr,
	    v6 ? (void *)&t->ip6 : (void *)&t->ip4) != 1) {
		*what_r = v6 ? "bad IPv6 address" : "bad IPv4 address";
		return -1;
	}
	if (slash != NULL && spf_cidr_parse(slash + 1, len - alen - 1,
	    v6 ? 128 : 32, v6 ? &t->cidr6 : &t->cidr4) < 0) {
		*what_r = "bad CIDR length";
		return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	enum spf_term_type type;
} spf_mechanisms[] = {
	{ "all", SPF_TERM_ALL },
	{ "include", SPF_TERM_INCLUDE },
	{ "a", SPF_TERM_A },
	{ "mx", SPF_TERM_MX },
	{ "ptr", SPF_TERM_PTR },
	{ "ip4", SPF_TERM_IP4 },
	{ "ip6", SPF_TERM_IP6 },
	{ "exists", SPF_TERM_EXISTS },
};

/* One term (len > 0 bytes of printable ASCII). */
static int
spf_term_parse(struct spf_record *rec, struct spf_term *t, const char *s,
    size_t len, struct pool *pool, const char **error_r)
{
	const char *what = NULL;
	size_t i = 0, name_len;

	t->text = pool_strndup(pool, s, len);
	/* A modifier: name "=" value, name = ALPHA *( ALPHA / DIGIT / "-" /
	 * "_" / "." ) (RFC 7208 12). */
	if (spf_is_alpha((unsigned char)s[0])) {
		while (i < len && (spf_is_alpha((unsigned char)s[i]) ||
		    spf_is_digit((unsigned char)s[i]) || s[i] == '-' ||
		    s[i] == '_' || s[i] == '.'))
			i++;
		if (i < len && s[i] == '=') {
			const char *value = s + i + 1;
			size_t vlen = len - i - 1;

			if (i == 8 && strncasecmp(s, "redirect", 8) == 0)
				t->type = SPF_TERM_REDIRECT;
			else if (i == 3 && strncasecmp(s, "exp", 3) == 0)
				t->type = SPF_TERM_EXP;
			else
				t->type = SPF_TERM_UNKNOWN;
			if (spf_macro_check(value, vlen, SPF_MACRO_DOMAIN, NULL,
			    &what) < 0)
				goto fail;
			if (t->type == SPF_TERM_UNKNOWN)
				return 0;	/* RFC 7208 6: ignored */
			/* RFC 7208 6: each at most once. */
			if ((t->type == SPF_TERM_REDIRECT && rec->redirect != NULL) ||
			    (t->type == SPF_TERM_EXP && rec->exp != NULL)) {
				what = "repeated modifier";
				goto fail;
			}
			if (vlen == 0) {
				what = "empty domain-spec";
				goto fail;
			}
			if (!spf_domain_end_valid(value, vlen)) {
				what = "bad domain-spec (it must end with a top label)";
				goto fail;
			}
			t->spec = pool_strndup(pool, value, vlen);
			if (t->type == SPF_TERM_REDIRECT)
				rec->redirect = t;
			else
				rec->exp = t;
			return 0;
		}
	}
	/* A mechanism: [qualifier] name [arguments]. */
	i = 0;
	t->qualifier = SPF_PASS;
	switch (s[0]) {
	case '+': t->qualifier = SPF_PASS; i = 1; break;
	case '-': t->qualifier = SPF_FAIL; i = 1; break;
	case '~': t->qualifier = SPF_SOFTFAIL; i = 1; break;
	case '?': t->qualifier = SPF_NEUTRAL; i = 1; break;
	}
	name_len = 0;
	while (i + name_len < len && (spf_is_alpha((unsigned char)s[i + name_len]) ||
	    spf_is_digit((unsigned char)s[i + name_len])))
		name_len++;
	for (size_t k = 0; k < sizeof(spf_mechanisms) / sizeof(spf_mechanisms[0]);
	    k++) {
		const char *arg = s + i + name_len;
		size_t alen = len - i - name_len;

		if (strlen(spf_mechanisms[k].name) != name_len ||
		    strncasecmp(s + i, spf_mechanisms[k].name, name_len) != 0)
			continue;
		t->type = spf_mechanisms[k].type;
		switch (t->type) {
		case SPF_TERM_ALL:
			if (alen != 0) {
				what = "arguments to all";
				goto fail;
			}
			return 0;
		case SPF_TERM_INCLUDE:
		case SPF_TERM_EXISTS:
			if (spf_parse_domain_required(t, arg, alen, pool,
			    &what) < 0)
				goto fail;
			return 0;
		case SPF_TERM_A:
		case SPF_TERM_MX:
			if (spf_parse_domain_cidr(t, arg, alen, true, pool,
			    &what) < 0)
				goto fail;
			return 0;
		case SPF_TERM_PTR:
			if (spf_parse_domain_cidr(t, arg, alen, false, pool,
			    &what) < 0)
				goto fail;
			return 0;
		case SPF_TERM_IP4:
		case SPF_TERM_IP6:
			if (spf_parse_ip(t, arg, alen, t->type == SPF_TERM_IP6,
			    &what) < 0)
				goto fail;
			return 0;
		default:
			abort();
		}
	}
	what = "unknown mechanism";
fail:
	*error_r = spf_term_error(pool, what, s, len);
	return -1;
}

int
spf_record_parse(const char *data, size_t len, struct pool *pool,
    struct spf_record *rec_r, const char **error_r)
{
	size_t pos = 6, n = 0;

	memset(rec_r, 0, sizeof(*rec_r));
	if (len > SPF_RECORD_MAX) {
		*error_r = "record longer than 4096 octets";
		return -1;
	}
	if (!spf_record_is_v1(data, len)) {
		*error_r = "not a v=spf1 record";
		return -1;
	}
	/* Count first, for one allocation: terms are separated by spaces
	 * (RFC 7208 4.6.1: 1*SP, and only SP). */
	for (size_t i = pos; i < len; i++)
		if (data[i] != ' ' && (i == pos || data[i - 1] == ' '))
			n++;
	if (n > SPF_TERMS_MAX) {
		*error_r = "record with more than 256 terms";
		return -1;
	}
	rec_r->terms = pool_alloc(pool, (n > 0 ? n : 1) * sizeof(*rec_r->terms));
	while (pos < len) {
		size_t start, tlen;

		while (pos < len && data[pos] == ' ')
			pos++;
		if (pos == len)
			break;
		start = pos;
		while (pos < len && data[pos] != ' ')
			pos++;
		tlen = pos - start;
		for (size_t i = start; i < pos; i++) {
			unsigned char c = (unsigned char)data[i];

			if (c < 0x21 || c > 0x7e) {
				/* NUL, CR, LF, TAB, non-ASCII: RFC 7208 3.1
				 * (ASCII) and 4.6.1 (SP separates). */
				*error_r = spf_term_error(pool, c >= 0x80 ?
				    "non-ASCII octet" : "control character",
				    data + start, tlen);
				return -1;
			}
		}
		if (spf_term_parse(rec_r, &rec_r->terms[rec_r->n_terms],
		    data + start, tlen, pool, error_r) < 0)
			return -1;
		rec_r->n_terms++;
	}
	return 0;
}
