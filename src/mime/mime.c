/*
 * mime.c - the one-pass MIME part tree parser (see mime.h).
 *
 * RFC 5322 2.1-2.2 and 4.5.3 (header fields, folding, obsolete white
 * space before the colon), RFC 2045 5-6 (Content-Type and its parameters,
 * Content-Transfer-Encoding, Content-ID, Content-Description), RFC 2046
 * 5.1 (multipart, boundary delimiters), 5.1.5 (multipart/digest), 5.2.1
 * (message/rfc822), RFC 2183 (Content-Disposition), RFC 2231 (parameter
 * continuations, charsets and languages), RFC 3282 (Content-Language),
 * RFC 2557 (Content-Location), RFC 1864 (Content-MD5), RFC 6532 3.5
 * (message/global).
 *
 * The parser walks the message line by line and keeps a stack of the open
 * parts (at most MIME_DEPTH_MAX + 1 deep). The part on top is either
 * reading its header or its body; every open multipart that has not seen
 * its close delimiter has a live boundary. Parts are made in document
 * order and only linked into the arrays of struct mime_part at the end.
 *
 * SECURITY: the message is peer data; see mime.h for the bounds on time
 * and memory. Nothing here recurses.
 */
#include "mime/mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "mime/mime-decode.h"

/* Hash slots for the names of one field's parameters (> 2 per name). */
#define MIME_PARAM_SLOTS 256

/* The Content-* fields the parser keeps. */
enum mime_field_kind {
	FIELD_NONE,
	FIELD_TYPE,
	FIELD_ENCODING,
	FIELD_ID,
	FIELD_DESCRIPTION,
	FIELD_MD5,
	FIELD_DISPOSITION,
	FIELD_LANGUAGE,
	FIELD_LOCATION,
	FIELD_COUNT
};

static const char *const mime_field_names[FIELD_COUNT] = {
	[FIELD_TYPE] = "content-type",
	[FIELD_ENCODING] = "content-transfer-encoding",
	[FIELD_ID] = "content-id",
	[FIELD_DESCRIPTION] = "content-description",
	[FIELD_MD5] = "content-md5",
	[FIELD_DISPOSITION] = "content-disposition",
	[FIELD_LANGUAGE] = "content-language",
	[FIELD_LOCATION] = "content-location",
};

/* A part while it is being parsed. */
struct mime_node {
	struct mime_part part;
	struct mime_node *first_child, *last_child, *next_sibling;
	struct mime_node *next_made;	/* document (pre-)order */
	struct mime_part *final;	/* where part lands in the result */
	size_t header_line0;	/* LF bytes before header_start */
	size_t body_line0;	/* LF bytes before body_start */
};

struct mime_raw_param;

struct mime_frame {
	struct mime_node *node;
	bool in_header;
	/* Live boundary: a multipart before its close delimiter. */
	const char *boundary;
	size_t boundary_len;
};

struct mime_parser {
	const char *msg;
	size_t len;
	struct pool *pool;
	struct mime_frame stack[MIME_DEPTH_MAX + 1];
	size_t depth;	/* frames in use */
	size_t n_parts;
	bool frozen;	/* MIME_PARTS_MAX reached: no more structure */
	struct mime_node *first_made, *last_made;
	size_t lineno;	/* LF bytes before the current line */
	/* The header of the top frame, while it is read. */
	enum mime_field_kind cur_kind;	/* field being collected */
	struct buf field;
	char *values[FIELD_COUNT];	/* from scratch */
	/* Cleared after each header: field values and raw parameters. */
	struct pool *scratch;
	struct mime_raw_param *raw;	/* MIME_PARAMS_MAX entries */
	size_t *idx;	/* MIME_PARAMS_MAX entries, for sorting sections */
	struct buf join_bytes, join_conv;	/* mime_param_join() */
};

/* Appends as much of data as fits below b->max. */
static void
mime_buf_add(struct buf *b, const char *data, size_t n)
{
	if (n > b->max - b->len)
		n = b->max - b->len;
	(void)buf_append(b, data, n);
}

static bool
mime_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 2045 5.1 token characters: printable ASCII but tspecials. */
static bool
mime_is_token_char(char c)
{
	unsigned char u = (unsigned char)c;

	if (u <= 0x20 || u >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '<': case '>': case '@': case ',': case ';':
	case ':': case '\\': case '"': case '/': case '[': case ']': case '?':
	case '=':
		return false;
	default:
		return true;
	}
}

static char
mime_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

static char *
mime_strndup_lower(struct pool *pool, const char *s, size_t n)
{
	char *d = pool_strndup(pool, s, n);

	for (char *p = d; *p != '\0'; p++)
		*p = mime_lower(*p);
	return d;
}

/* Copies s into the pool without its NUL bytes (percent-decoding can make
 * them; C strings cannot hold them). */
static char *
mime_strndup_nonul(struct pool *pool, const char *s, size_t n)
{
	char *d = pool_alloc(pool, n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] != '\0')
			d[o++] = s[i];
	d[o] = '\0';
	return d;
}

const char *
mime_param_get(const struct mime_param *params, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(params[i].name, name) == 0)
			return params[i].value;
	return NULL;
}

/*
 * Header fields outside the parser: mime-imap.c and mime-decode.c read
 * header blocks of parsed parts with these.
 */

bool
mime_header_field_next(const char *msg, size_t end, size_t *pos,
    struct mime_header_field *f)
{
	size_t p = *pos, next, content, eol;
	const char *nl, *colon;

	if (p >= end)
		return false;
	nl = memchr(msg + p, '\n', end - p);
	next = nl != NULL ? (size_t)(nl - msg) + 1 : end;
	eol = nl == NULL ? 0 : (next - p >= 2 && msg[next - 2] == '\r') ? 2 : 1;
	content = next - p - eol;
	if (content == 0 && eol > 0)
		return false;	/* the empty line that ends the header */
	f->start = p;
	f->name_len = 0;
	f->value_start = p;
	colon = mime_is_wsp(msg[p]) ? NULL : memchr(msg + p, ':', content);
	if (colon != NULL) {
		size_t n = (size_t)(colon - (msg + p));
		bool ok = true;

		while (n > 0 && mime_is_wsp(msg[p + n - 1]))
			n--;
		for (size_t i = 0; i < n && ok; i++)
			ok = (unsigned char)msg[p + i] > 0x20 &&
			    (unsigned char)msg[p + i] < 0x7f;
		if (ok && n > 0) {
			f->name_len = n;
			f->value_start = (size_t)(colon - msg) + 1;
		}
	}
	/* Continuation lines (RFC 5322 2.2.3). */
	while (next < end && mime_is_wsp(msg[next])) {
		p = next;
		nl = memchr(msg + p, '\n', end - p);
		next = nl != NULL ? (size_t)(nl - msg) + 1 : end;
		eol = nl == NULL ? 0 : (next - p >= 2 && msg[next - 2] == '\r') ? 2 : 1;
	}
	f->end = next;
	f->value_end = next - eol;
	if (f->value_end < f->value_start)
		f->value_end = f->value_start;
	*pos = next;
	return true;
}

bool
mime_header_field_is(const char *msg, const struct mime_header_field *f,
    const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && n > 0 &&
	    strncasecmp(msg + f->start, name, n) == 0;
}

void
mime_header_field_unfold(const char *msg, const struct mime_header_field *f,
    struct buf *out)
{
	size_t s = f->value_start, e = f->value_end;

	while (s < e && (mime_is_wsp(msg[s]) || msg[s] == '\r' || msg[s] == '\n'))
		s++;
	while (e > s && (mime_is_wsp(msg[e - 1]) || msg[e - 1] == '\r' ||
	    msg[e - 1] == '\n'))
		e--;
	while (s < e) {
		size_t run = s;

		while (run < e && msg[run] != '\r' && msg[run] != '\n' &&
		    msg[run] != '\0')
			run++;
		mime_buf_add(out, msg + s, run - s);
		s = run < e ? run + 1 : run;
	}
}

/*
 * Structured field values (RFC 2045 5.1, RFC 2183 2, RFC 2231 3-4).
 * The value is an unfolded NUL-free string.
 */

struct mime_cursor {
	const char *p, *end;
};

/* Skips white space and RFC 5322 comments (nested, with quoted-pairs). */
static void
mime_cursor_skip_cfws(struct mime_cursor *c)
{
	while (c->p < c->end) {
		if (mime_is_wsp(*c->p) || *c->p == '\r' || *c->p == '\n') {
			c->p++;
		} else if (*c->p == '(') {
			size_t level = 0;

			for (; c->p < c->end; c->p++) {
				if (*c->p == '\\' && c->p + 1 < c->end)
					c->p++;
				else if (*c->p == '(')
					level++;
				else if (*c->p == ')' && --level == 0) {
					c->p++;
					break;
				}
			}
		} else {
			break;
		}
	}
}

static bool
mime_cursor_token(struct mime_cursor *c, const char **start_r, size_t *len_r)
{
	const char *s = c->p;

	while (c->p < c->end && mime_is_token_char(*c->p))
		c->p++;
	*start_r = s;
	*len_r = (size_t)(c->p - s);
	return *len_r > 0;
}

/* Moves past the next ';' outside a quoted string (or to the end). */
static void
mime_cursor_skip_param(struct mime_cursor *c)
{
	bool quoted = false;

	for (; c->p < c->end; c->p++) {
		if (quoted && *c->p == '\\' && c->p + 1 < c->end)
			c->p++;
		else if (*c->p == '"')
			quoted = !quoted;
		else if (*c->p == ';' && !quoted)
			break;
	}
}

/* A parameter as written, before RFC 2231 processing. */
struct mime_raw_param {
	char *attr;	/* lower-cased */
	char *value;
	size_t value_len;
	/* RFC 2231: base name length, section number (-1 if none), and
	 * whether the value is charset'lang'%XX encoded. */
	size_t base_len;
	uint32_t base_hash;	/* FNV-1a of the base name */
	long section;
	bool encoded;
	/* The parameters of one base name form a list in order: first is
	 * the index of its head, next of the next one (n_raw at the end),
	 * last (in the head only) of its tail. */
	size_t first, next, last;
};

static void
mime_raw_param_classify(struct mime_raw_param *r)
{
	const char *star = strchr(r->attr, '*');
	const char *d;
	long n = 0;

	r->base_len = strlen(r->attr);
	r->section = -1;
	r->encoded = false;
	if (star == NULL || star == r->attr)
		return;
	if (star[1] == '\0') {
		/* name*=charset'lang'value (RFC 2231 4) */
		r->base_len = (size_t)(star - r->attr);
		r->encoded = true;
		return;
	}
	for (d = star + 1; *d >= '0' && *d <= '9'; d++) {
		n = n * 10 + (*d - '0');
		if (n > MIME_PARAM_SECTION_MAX)
			return;
	}
	if (d == star + 1 || (d[0] != '\0' && !(d[0] == '*' && d[1] == '\0')))
		return;	/* not RFC 2231: keep the name as it is */
	r->base_len = (size_t)(star - r->attr);
	r->section = n;
	r->encoded = d[0] == '*';
}

static void
mime_raw_param_hash(struct mime_raw_param *r)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < r->base_len; i++)
		h = (h ^ (unsigned char)r->attr[i]) * 16777619u;
	r->base_hash = h;
}

/* Reads the value after "attr=": a quoted string, or (leniently) the
 * words up to the next ';', comments dropped. */
static void
mime_param_value(struct mime_cursor *c, struct buf *v)
{
	if (c->p < c->end && *c->p == '"') {
		for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
			if (*c->p == '\\' && c->p + 1 < c->end)
				c->p++;
			mime_buf_add(v, c->p, 1);
		}
		if (c->p < c->end)
			c->p++;
		return;
	}
	while (c->p < c->end && *c->p != ';') {
		const char *w = c->p;

		while (c->p < c->end && *c->p != ';' && *c->p != '(' &&
		    !mime_is_wsp(*c->p))
			c->p++;
		if (c->p > w) {
			if (v->len > 0)
				mime_buf_add(v, " ", 1);
			mime_buf_add(v, w, (size_t)(c->p - w));
		}
		mime_cursor_skip_cfws(c);
	}
}

static int
mime_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Appends s with %XX decoded (RFC 2231 4); malformed escapes stay. */
static void
mime_pct_decode(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;

	while (i < n) {
		const char *pct = memchr(s + i, '%', n - i);
		size_t run = pct != NULL ? (size_t)(pct - s) : n;
		int h = -1, l = -1;

		mime_buf_add(out, s + i, run - i);
		if (run == n)
			break;
		if (n - run >= 3) {
			h = mime_hex_value(s[run + 1]);
			l = mime_hex_value(s[run + 2]);
		}
		if (h >= 0 && l >= 0) {
			char b = (char)(h * 16 + l);

			mime_buf_add(out, &b, 1);
			i = run + 3;
		} else {
			mime_buf_add(out, "%", 1);
			i = run + 1;
		}
	}
}

/* RFC 2231 attribute-char: what may stay unencoded in name*=...'...'. */
static bool
mime_is_attr_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

/* Splits an encoded first segment "charset'lang'rest". Without the two
 * quotes there is no charset and everything is the rest. */
static void
mime_split_charset(const char *v, size_t n, const char **cs, size_t *cs_len,
    const char **lang, size_t *lang_len, const char **rest, size_t *rest_len)
{
	const char *q1 = memchr(v, '\'', n), *q2 = NULL;

	if (q1 != NULL)
		q2 = memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - v));
	if (q2 == NULL) {
		*cs = *lang = v;
		*cs_len = *lang_len = 0;
		*rest = v;
		*rest_len = n;
		return;
	}
	*cs = v;
	*cs_len = (size_t)(q1 - v);
	*lang = q1 + 1;
	*lang_len = (size_t)(q2 - q1 - 1);
	*rest = q2 + 1;
	*rest_len = n - (size_t)(q2 + 1 - v);
}

static bool
mime_raw_same_base(const struct mime_raw_param *a, const struct mime_raw_param *b)
{
	return a->base_hash == b->base_hash && a->base_len == b->base_len &&
	    memcmp(a->attr, b->attr, a->base_len) == 0;
}

/* Links the raw parameters of each base name into a list, through a
 * small open-addressing table: linear in n_raw. */
static void
mime_raw_params_link(struct mime_raw_param *raw, size_t n_raw)
{
	uint8_t slot[MIME_PARAM_SLOTS];	/* index + 1 of a list head; 0: free */

	_Static_assert(MIME_PARAMS_MAX < 255 &&
	    MIME_PARAM_SLOTS >= 2 * MIME_PARAMS_MAX, "parameter slots");
	memset(slot, 0, sizeof(slot));
	for (size_t i = 0; i < n_raw; i++) {
		size_t h = raw[i].base_hash % MIME_PARAM_SLOTS;

		while (slot[h] != 0 && !mime_raw_same_base(&raw[slot[h] - 1], &raw[i]))
			h = (h + 1) % MIME_PARAM_SLOTS;
		raw[i].next = n_raw;
		if (slot[h] == 0) {
			slot[h] = (uint8_t)(i + 1);
			raw[i].first = raw[i].last = i;
		} else {
			struct mime_raw_param *head = &raw[slot[h] - 1];

			raw[i].first = head->first;
			raw[head->last].next = i;
			head->last = i;
		}
	}
}

/*
 * Joins the RFC 2231 forms of the parameter whose list starts at
 * p->raw[first] (name*=, or name*0, name*1... in section order, stopping
 * at a gap) and stores it in *out. Returns false if nothing usable.
 */
static bool
mime_param_join(struct mime_parser *p, size_t n_raw, size_t first,
    struct mime_param *out)
{
	const struct mime_raw_param *raw = p->raw, *base = &raw[first];
	struct buf *bytes = &p->join_bytes, *conv = &p->join_conv;
	const char *cs = NULL, *lang = NULL, *rest;
	size_t cs_len = 0, lang_len = 0, rest_len, n_idx = 0, expect = 0;
	bool any_encoded = false, found = false;
	char *charset;

	buf_reset(bytes);
	buf_reset(conv);
	/* A single extended value wins over sections (RFC 2231 4). */
	for (size_t j = first; j < n_raw && !found; j = raw[j].next) {
		if (raw[j].section >= 0 || !raw[j].encoded)
			continue;
		mime_split_charset(raw[j].value, raw[j].value_len, &cs, &cs_len,
		    &lang, &lang_len, &rest, &rest_len);
		mime_pct_decode(rest, rest_len, bytes);
		any_encoded = found = true;
	}
	/* Sections by number: only numbers below the count of sections can
	 * be part of the run from 0; the first of a repeated number counts. */
	for (size_t j = first; j < n_raw && !found; j = raw[j].next)
		n_idx += raw[j].section >= 0;
	for (size_t k = 0; k < n_idx; k++)
		p->idx[k] = n_raw;
	for (size_t j = first; j < n_raw && !found; j = raw[j].next)
		if (raw[j].section >= 0 && (size_t)raw[j].section < n_idx &&
		    p->idx[raw[j].section] == n_raw)
			p->idx[raw[j].section] = j;
	for (; !found && expect < n_idx && p->idx[expect] != n_raw; expect++) {
		const struct mime_raw_param *r = &raw[p->idx[expect]];

		rest = r->value;
		rest_len = r->value_len;
		if (r->encoded) {
			if (expect == 0)
				mime_split_charset(r->value, r->value_len, &cs, &cs_len,
				    &lang, &lang_len, &rest, &rest_len);
			mime_pct_decode(rest, rest_len, bytes);
			any_encoded = true;
		} else {
			mime_buf_add(bytes, rest, rest_len);
		}
	}
	if (!found && expect == 0)
		return false;
	charset = cs_len > 0 ? pool_strndup(p->scratch, cs, cs_len) : NULL;
	out->name = pool_strndup(p->pool, base->attr, base->base_len);
	if (!any_encoded) {
		out->value = mime_strndup_nonul(p->pool, bytes->data != NULL ?
		    bytes->data : "", bytes->len);
	} else if (charset == NULL) {
		mime_utf8_sanitize(bytes->data != NULL ? bytes->data : "",
		    bytes->len, conv);
		out->value = mime_strndup_nonul(p->pool, conv->data != NULL ?
		    conv->data : "", conv->len);
	} else if (mime_charset_to_utf8(charset, bytes->data != NULL ?
	    bytes->data : "", bytes->len, conv) == 0) {
		out->value = mime_strndup_nonul(p->pool, conv->data != NULL ?
		    conv->data : "", conv->len);
	} else {
		/* Unknown charset: keep it encoded, under "name*". */
		buf_reset(conv);
		mime_buf_add(conv, cs, cs_len);
		mime_buf_add(conv, "'", 1);
		mime_buf_add(conv, lang, lang_len);
		mime_buf_add(conv, "'", 1);
		for (size_t i = 0; i < bytes->len; i++) {
			unsigned char c = (unsigned char)bytes->data[i];
			char hex[3];

			if (mime_is_attr_char(c)) {
				mime_buf_add(conv, &bytes->data[i], 1);
				continue;
			}
			hex[0] = '%';
			hex[1] = "0123456789ABCDEF"[c >> 4];
			hex[2] = "0123456789ABCDEF"[c & 15];
			mime_buf_add(conv, hex, 3);
		}
		out->name = pool_printf(p->pool, "%s*", out->name);
		out->value = pool_strndup(p->pool, conv->data, conv->len);
	}
	return true;
}

/* Builds the parameter list of a field from its raw parameters: one entry
 * per name, in order of first appearance; RFC 2231 forms win over a plain
 * one of the same name. */
static void
mime_params_finish(struct mime_parser *p, size_t n_raw,
    const struct mime_param **params_r, size_t *n_r)
{
	struct mime_raw_param *raw = p->raw;
	struct mime_param *out;
	size_t n = 0;

	*params_r = NULL;
	*n_r = 0;
	if (n_raw == 0)
		return;
	mime_raw_params_link(raw, n_raw);
	out = pool_alloc(p->pool, n_raw * sizeof(*out));
	for (size_t i = 0; i < n_raw; i++) {
		bool rfc2231 = false;

		if (raw[i].first != i)
			continue;
		for (size_t j = i; j < n_raw && !rfc2231; j = raw[j].next)
			rfc2231 = raw[j].section >= 0 || raw[j].encoded;
		if (rfc2231 && mime_param_join(p, n_raw, i, &out[n])) {
			n++;
			continue;
		}
		/* The first plain one of this name. */
		for (size_t j = i; j < n_raw; j = raw[j].next) {
			if (raw[j].section < 0 && !raw[j].encoded) {
				out[n].name = pool_strndup(p->pool, raw[j].attr,
				    raw[j].base_len);
				out[n].value = pool_strndup(p->pool, raw[j].value,
				    raw[j].value_len);
				n++;
				break;
			}
		}
	}
	*params_r = out;
	*n_r = n;
}

/* Parses "; attr=value ..." at the cursor (RFC 2045 5.1, RFC 2231);
 * the raw parameters live in p->scratch, the result in p->pool. */
static void
mime_params_parse(struct mime_parser *p, struct mime_cursor *c,
    const struct mime_param **params_r, size_t *n_r)
{
	struct buf v;
	size_t n_raw = 0;

	buf_init(&v, MIME_FIELD_VALUE_MAX);
	while (c->p < c->end) {
		const char *a;
		size_t alen;

		mime_cursor_skip_cfws(c);
		if (c->p >= c->end)
			break;
		if (*c->p == ';') {
			c->p++;
			continue;
		}
		if (!mime_cursor_token(c, &a, &alen)) {
			mime_cursor_skip_param(c);
			continue;
		}
		mime_cursor_skip_cfws(c);
		if (c->p >= c->end || *c->p != '=') {
			mime_cursor_skip_param(c);
			continue;
		}
		c->p++;
		mime_cursor_skip_cfws(c);
		buf_reset(&v);
		mime_param_value(c, &v);
		mime_cursor_skip_param(c);
		if (n_raw == MIME_PARAMS_MAX)
			continue;
		p->raw[n_raw].attr = mime_strndup_lower(p->scratch, a, alen);
		p->raw[n_raw].value = pool_strndup(p->scratch,
		    v.data != NULL ? v.data : "", v.len);
		p->raw[n_raw].value_len = v.len;
		mime_raw_param_classify(&p->raw[n_raw]);
		mime_raw_param_hash(&p->raw[n_raw]);
		n_raw++;
	}
	buf_release(&v);
	mime_params_finish(p, n_raw, params_r, n_r);
}

/* Content-Type (RFC 2045 5.1). Without a valid "type/subtype" the type is
 * the default, but the parameters are still read. */
static void
mime_part_content_type(struct mime_parser *p, struct mime_part *part,
    const char *v, bool digest)
{
	struct mime_cursor c;
	const char *t, *s;
	size_t tlen, slen;

	part->type = digest ? "message" : "text";
	part->subtype = digest ? "rfc822" : "plain";
	if (v == NULL)
		return;
	c.p = v;
	c.end = v + strlen(v);
	mime_cursor_skip_cfws(&c);
	if (mime_cursor_token(&c, &t, &tlen)) {
		mime_cursor_skip_cfws(&c);
		if (c.p < c.end && *c.p == '/') {
			c.p++;
			mime_cursor_skip_cfws(&c);
			if (mime_cursor_token(&c, &s, &slen)) {
				part->type = mime_strndup_lower(p->pool, t, tlen);
				part->subtype = mime_strndup_lower(p->pool, s, slen);
			}
		}
	}
	mime_cursor_skip_param(&c);
	mime_params_parse(p, &c, &part->params, &part->n_params);
}

/* Content-Disposition (RFC 2183 2): a token, then parameters. */
static void
mime_part_disposition(struct mime_parser *p, struct mime_part *part,
    const char *v)
{
	struct mime_cursor c;
	const char *t;
	size_t tlen;

	c.p = v;
	c.end = v + strlen(v);
	mime_cursor_skip_cfws(&c);
	if (!mime_cursor_token(&c, &t, &tlen))
		return;
	part->disposition = mime_strndup_lower(p->pool, t, tlen);
	mime_params_parse(p, &c, &part->disp_params, &part->n_disp_params);
}

/* Content-Transfer-Encoding (RFC 2045 6.1): a token, else absent. */
static const char *
mime_part_encoding(struct mime_parser *p, const char *v)
{
	struct mime_cursor c;
	const char *t;
	size_t tlen;

	c.p = v;
	c.end = v + strlen(v);
	mime_cursor_skip_cfws(&c);
	if (!mime_cursor_token(&c, &t, &tlen))
		return NULL;
	return mime_strndup_lower(p->pool, t, tlen);
}

/* Makes a part under parent (NULL: the root), or returns NULL at
 * MIME_PARTS_MAX. */
static struct mime_node *
mime_node_new(struct mime_parser *p, struct mime_node *parent,
    size_t header_start, size_t header_line0)
{
	struct mime_node *node;

	if (p->n_parts >= MIME_PARTS_MAX)
		return NULL;
	node = pool_alloc(p->pool, sizeof(*node));
	node->part.header_start = header_start;
	node->part.body_start = header_start;
	node->part.body_end = header_start;
	node->part.type = "text";
	node->part.subtype = "plain";
	node->header_line0 = header_line0;
	node->body_line0 = header_line0;
	if (parent != NULL) {
		if (parent->last_child != NULL)
			parent->last_child->next_sibling = node;
		else
			parent->first_child = node;
		parent->last_child = node;
		parent->part.n_children++;
	}
	if (p->last_made != NULL)
		p->last_made->next_made = node;
	else
		p->first_made = node;
	p->last_made = node;
	p->n_parts++;
	return node;
}

static void
mime_parser_push(struct mime_parser *p, struct mime_node *node)
{
	struct mime_frame *f;

	/* Callers check MIME_DEPTH_MAX before making a child. */
	if (p->depth >= MIME_DEPTH_MAX + 1)
		abort();
	f = &p->stack[p->depth++];
	f->node = node;
	f->in_header = true;
	f->boundary = NULL;
	f->boundary_len = 0;
}

/* Ends the field being collected: its value goes to p->values. */
static void
mime_parser_field_end(struct mime_parser *p)
{
	const char *s;
	size_t n;

	if (p->cur_kind == FIELD_NONE)
		return;
	s = p->field.data != NULL ? p->field.data : "";
	n = p->field.len;
	while (n > 0 && mime_is_wsp(*s)) {
		s++;
		n--;
	}
	while (n > 0 && mime_is_wsp(s[n - 1]))
		n--;
	p->values[p->cur_kind] = pool_strndup(p->scratch, s, n);
	p->cur_kind = FIELD_NONE;
}

/* Adds value bytes to the field being collected: CR and NUL dropped,
 * cut at MIME_FIELD_VALUE_MAX. */
static void
mime_parser_field_add(struct mime_parser *p, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = i;

		while (run < n && s[run] != '\r' && s[run] != '\0')
			run++;
		mime_buf_add(&p->field, s + i, run - i);
		i = run + 1;
	}
}

/* A header line of the top frame that is not the empty line. */
static void
mime_parser_header_line(struct mime_parser *p, size_t start, size_t content)
{
	const char *line = p->msg + start, *colon;
	size_t nlen;

	if (mime_is_wsp(line[0])) {
		/* Folded: the white space stays (RFC 5322 2.2.3). */
		if (p->cur_kind != FIELD_NONE)
			mime_parser_field_add(p, line, content);
		return;
	}
	mime_parser_field_end(p);
	colon = memchr(line, ':', content);
	if (colon == NULL)
		return;
	nlen = (size_t)(colon - line);
	while (nlen > 0 && mime_is_wsp(line[nlen - 1]))
		nlen--;
	if (nlen < 10 || nlen > 25 || strncasecmp(line, "content-", 8) != 0)
		return;
	for (int k = FIELD_NONE + 1; k < FIELD_COUNT; k++) {
		if (strlen(mime_field_names[k]) != nlen ||
		    strncasecmp(line, mime_field_names[k], nlen) != 0)
			continue;
		if (p->values[k] != NULL)
			return;	/* the first one counts */
		p->cur_kind = (enum mime_field_kind)k;
		buf_reset(&p->field);
		mime_parser_field_add(p, colon + 1,
		    content - (size_t)(colon + 1 - line));
		return;
	}
}

/* Turns the part into the opaque text/plain body that malformed or too
 * deep containers become. */
static void
mime_part_make_plain(struct mime_part *part)
{
	part->type = "text";
	part->subtype = "plain";
	part->params = NULL;
	part->n_params = 0;
}

/*
 * The header of the top frame ends; its body starts at body_start, with
 * body_line0 LF bytes before it. Interprets the Content-* fields; a
 * multipart gets its live boundary, a message/rfc822 its child (pushed).
 */
static void
mime_parser_header_done(struct mime_parser *p, size_t body_start,
    size_t body_line0)
{
	struct mime_frame *f = &p->stack[p->depth - 1];
	struct mime_node *node = f->node;
	struct mime_part *part = &node->part;
	const struct mime_part *parent = p->depth >= 2 ?
	    &p->stack[p->depth - 2].node->part : NULL;
	bool digest = parent != NULL && parent->is_multipart &&
	    strcmp(parent->subtype, "digest") == 0;
	bool can_nest = p->depth - 1 < MIME_DEPTH_MAX;
	char **v = p->values;

	mime_parser_field_end(p);
	f->in_header = false;
	part->body_start = body_start;
	part->body_end = body_start;
	node->body_line0 = body_line0;
	part->header_lines = body_line0 - node->header_line0;

	mime_part_content_type(p, part, v[FIELD_TYPE], digest);
	if (v[FIELD_ENCODING] != NULL)
		part->encoding = mime_part_encoding(p, v[FIELD_ENCODING]);
	if (v[FIELD_DISPOSITION] != NULL)
		mime_part_disposition(p, part, v[FIELD_DISPOSITION]);
	if (v[FIELD_ID] != NULL)
		part->id = pool_strdup(p->pool, v[FIELD_ID]);
	if (v[FIELD_DESCRIPTION] != NULL)
		part->description = pool_strdup(p->pool, v[FIELD_DESCRIPTION]);
	if (v[FIELD_MD5] != NULL)
		part->md5 = pool_strdup(p->pool, v[FIELD_MD5]);
	if (v[FIELD_LANGUAGE] != NULL)
		part->language = pool_strdup(p->pool, v[FIELD_LANGUAGE]);
	if (v[FIELD_LOCATION] != NULL)
		part->location = pool_strdup(p->pool, v[FIELD_LOCATION]);
	memset(p->values, 0, sizeof(p->values));
	pool_clear(p->scratch);

	if (strcmp(part->type, "multipart") == 0) {
		const char *b = mime_param_get(part->params, part->n_params,
		    "boundary");
		size_t blen = b != NULL ? strlen(b) : 0;

		/* RFC 2046 5.1.1: no trailing white space in a boundary. */
		while (blen > 0 && mime_is_wsp(b[blen - 1]))
			blen--;
		if (blen == 0 || blen > MIME_BOUNDARY_ACCEPT_MAX || !can_nest) {
			mime_part_make_plain(part);
			return;
		}
		f->boundary = b;
		f->boundary_len = blen;
		part->is_multipart = true;
	} else if (strcmp(part->type, "message") == 0 &&
	    (strcmp(part->subtype, "rfc822") == 0 ||
	    strcmp(part->subtype, "global") == 0)) {
		struct mime_node *child = can_nest ?
		    mime_node_new(p, node, body_start, body_line0) : NULL;

		if (child == NULL) {
			mime_part_make_plain(part);
			return;
		}
		part->is_message_rfc822 = true;
		mime_parser_push(p, child);
	}
}

/* The body of the top frame's part ends at end, with end_line LF bytes
 * before it. */
static void
mime_node_close(struct mime_node *node, size_t end, size_t end_line)
{
	struct mime_part *part = &node->part;

	if (end <= part->body_start) {
		part->body_end = part->body_start;
		part->body_lines = 0;
	} else {
		part->body_end = end;
		part->body_lines = end_line - node->body_line0;
	}
}

/*
 * Closes frames until keep are left; their parts end at end. A frame
 * still reading its header gets an empty body there (and a message/rfc822
 * an empty child, so that it always has one). No part reaches past its
 * parent: a part made by a delimiter line right before the line that ends
 * it moves back to end (its header is empty), and a part never ends before
 * the child closed just before it (whose header's empty line may be right
 * before the delimiter line, so that its line end is also the one the
 * delimiter claims).
 */
static void
mime_parser_close(struct mime_parser *p, size_t keep, size_t end,
    size_t end_line)
{
	size_t e = end, el = end_line;

	while (p->depth > keep) {
		struct mime_frame *f = &p->stack[p->depth - 1];
		struct mime_node *node = f->node;
		size_t lim = end, lim_line = end_line;

		if (p->depth >= 2) {
			const struct mime_node *parent = p->stack[p->depth - 2].node;

			if (parent->part.body_start > lim) {
				lim = parent->part.body_start;
				lim_line = parent->body_line0;
			}
		}
		if (node->part.header_start > lim) {
			node->part.header_start = lim;
			node->header_line0 = lim_line;
		}
		if (f->in_header) {
			if (end < node->part.header_start)
				mime_parser_header_done(p, node->part.header_start,
				    node->header_line0);
			else
				mime_parser_header_done(p, end, end_line);
			continue;
		}
		mime_node_close(node, e, el);
		e = node->part.body_end;
		el = node->body_line0 + node->part.body_lines;
		p->depth--;
	}
}

/*
 * Finds the live boundary that the line [start, start + content) starts
 * with ("--" boundary, RFC 2046 5.1.1): the longest one, the innermost on
 * a tie. Sets *frame_r and *close_r (a close delimiter, "--" after it).
 */
static bool
mime_parser_boundary(struct mime_parser *p, size_t start, size_t content,
    size_t *frame_r, bool *close_r)
{
	const char *line = p->msg + start;
	size_t best_len = 0;
	bool found = false;

	for (size_t i = p->depth; i-- > 0;) {
		const struct mime_frame *f = &p->stack[i];

		if (f->boundary == NULL || f->boundary_len <= best_len ||
		    content - 2 < f->boundary_len ||
		    memcmp(line + 2, f->boundary, f->boundary_len) != 0)
			continue;
		best_len = f->boundary_len;
		*frame_r = i;
		found = true;
	}
	if (found)
		*close_r = content - 2 - best_len >= 2 &&
		    line[2 + best_len] == '-' && line[3 + best_len] == '-';
	return found;
}

/* One line [start, next) whose line end is eol bytes (0 at the end of the
 * message without one); the line before it ended with prev_eol bytes. */
static void
mime_parser_line(struct mime_parser *p, size_t start, size_t next,
    size_t eol, size_t prev_eol)
{
	size_t content = next - start - eol, k;
	bool close;

	if (!p->frozen && content >= 2 && p->msg[start] == '-' &&
	    p->msg[start + 1] == '-' &&
	    mime_parser_boundary(p, start, content, &k, &close)) {
		if (close || p->n_parts < MIME_PARTS_MAX) {
			/* The line end before the delimiter is part of it
			 * (RFC 2046 5.1.1). A live boundary means a header
			 * ended before, so there is a line before this one. */
			size_t end = start >= prev_eol ? start - prev_eol : start;
			struct mime_node *child;

			mime_parser_close(p, k + 1, end,
			    p->lineno > 0 ? p->lineno - 1 : 0);
			if (close) {
				p->stack[k].boundary = NULL;	/* epilogue */
				return;
			}
			/* Closing can have made a part (the child of a
			 * message/rfc822 cut short), so check again. */
			child = mime_node_new(p, p->stack[k].node, next,
			    p->lineno + (eol > 0 ? 1 : 0));
			if (child != NULL) {
				mime_parser_push(p, child);
				return;
			}
		}
		/* One part too many: from here on, no structure. */
		p->frozen = true;
	}
	if (!p->stack[p->depth - 1].in_header)
		return;
	if (content == 0 && eol > 0)
		mime_parser_header_done(p, next, p->lineno + 1);
	else
		mime_parser_header_line(p, start, content);
}

/* Copies the parts into their arrays; the made-list is in document
 * order, so every parent is placed before its children. */
static struct mime_part *
mime_parser_tree(struct mime_parser *p)
{
	struct mime_node *root = p->first_made;

	root->final = pool_alloc(p->pool, sizeof(*root->final));
	for (struct mime_node *node = root; node != NULL; node = node->next_made) {
		struct mime_part *fp = node->final;
		struct mime_part *arr;
		size_t i = 0;

		*fp = node->part;
		if (node->part.n_children == 0)
			continue;
		arr = pool_alloc(p->pool, node->part.n_children * sizeof(*arr));
		fp->children = arr;
		for (struct mime_node *c = node->first_child; c != NULL;
		    c = c->next_sibling) {
			c->final = &arr[i++];
			c->part.parent = fp;
		}
	}
	return root->final;
}

int
mime_parse(const char *msg, size_t len, struct pool *pool,
    struct mime_part **root_r, const char **error_r)
{
	struct mime_parser p;
	size_t pos = 0, prev_eol = 0;

	memset(&p, 0, sizeof(p));
	p.msg = msg;
	p.len = len;
	p.pool = pool;
	p.scratch = pool_new(4096);
	p.raw = xcalloc(MIME_PARAMS_MAX, sizeof(*p.raw));
	p.idx = xcalloc(MIME_PARAMS_MAX, sizeof(*p.idx));
	buf_init(&p.field, MIME_FIELD_VALUE_MAX);
	buf_init(&p.join_bytes, MIME_FIELD_VALUE_MAX);
	buf_init(&p.join_conv, MIME_FIELD_VALUE_MAX);
	mime_parser_push(&p, mime_node_new(&p, NULL, 0, 0));

	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t next = nl != NULL ? (size_t)(nl - msg) + 1 : len;
		size_t eol = nl == NULL ? 0 :
		    (next - pos >= 2 && msg[next - 2] == '\r') ? 2 : 1;

		mime_parser_line(&p, pos, next, eol, prev_eol);
		if (nl != NULL)
			p.lineno++;
		prev_eol = eol;
		pos = next;
	}
	mime_parser_close(&p, 0, len, p.lineno);

	*root_r = mime_parser_tree(&p);
	buf_release(&p.field);
	buf_release(&p.join_bytes);
	buf_release(&p.join_conv);
	free(p.raw);
	free(p.idx);
	pool_free(&p.scratch);
	(void)error_r;
	return 0;
}
