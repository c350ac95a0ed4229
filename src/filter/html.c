/*
 * html.c - the HTML link scanner, the plain-text URL finder, the URL host
 * parser and the lookalike tools of the phishing checks (see html.h).
 *
 * The scanner follows the tokenizer states of WHATWG HTML 13.2.5 (data,
 * tag open, end tag open, tag name, the attribute states, markup
 * declaration open, the comment states, bogus comment, RAWTEXT) and
 * character references (13.2.5.72-80, a few named ones); the URL parser
 * follows WHATWG URL 4.4 (basic URL parser, authority and host states)
 * and 3.5 (host parsing, the IPv4 parser) for special schemes; IDNA is
 * UTS #46 through libidn2; skeletons and mixed scripts after UTS #39.
 *
 * SECURITY: all input is peer data. The scanner reads each byte once
 * with constant work (reconsuming a byte moves to another state, never
 * back to one that reconsumed it), writes only into bounded buffers of
 * its state (HTML_TAG_NAME_MAX, HTML_ATTR_NAME_MAX, HTML_ATTR_VALUE_MAX,
 * HTML_LINK_TEXT_MAX, HTML_ENTITY_MAX, each checked before the write),
 * and keeps at most HTML_LINKS_MAX links, HTML_FORMS_MAX forms,
 * HTML_IMGS_MAX images and HTML_REFRESH_MAX refreshes, whose strings are
 * no longer than the input bytes they came from. The URL parser copies
 * at most HTML_URL_HOST_MAX bytes of userinfo and host (a host longer
 * than that is refused). Nothing here is global but const tables.
 */
#include "filter/html.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>
#include <libpsl.h>

#include "core/pool.h"

/* ---------------------------------------------------------------- */
/* Characters */

static bool
html_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
html_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
html_is_alnum(int c)
{
	return html_is_alpha(c) || html_is_digit(c);
}

static bool
html_is_hex(int c)
{
	return html_is_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static int
html_hex_value(int c)
{
	if (html_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

static int
html_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* HTML5 ASCII white space in tags: tab, LF, FF, CR, space. */
static bool
html_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* Writes code point cp as UTF-8 into out (4 bytes); returns the length.
 * Surrogates and values past U+10FFFF become U+FFFD. */
static size_t
html_utf8_put(uint32_t cp, char *out)
{
	if (cp >= 0xD800 && cp <= 0xDFFF)
		cp = 0xFFFD;
	if (cp > 0x10FFFF)
		cp = 0xFFFD;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Reads one code point of s[*i..len) and advances *i past it. A byte that
 * does not start a well-formed sequence (RFC 3629) is returned as
 * 0x80000000 | byte and consumed alone.
 */
static uint32_t
html_utf8_next(const char *s, size_t len, size_t *i)
{
	const unsigned char *p = (const unsigned char *)s + *i;
	size_t left = len - *i, n;
	uint32_t cp, min;

	if (p[0] < 0x80) {
		(*i)++;
		return p[0];
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		n = 2;
		cp = p[0] & 0x1F;
		min = 0x80;
	} else if ((p[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = p[0] & 0x0F;
		min = 0x800;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		n = 4;
		cp = p[0] & 0x07;
		min = 0x10000;
	} else {
		(*i)++;
		return 0x80000000u | p[0];
	}
	if (left < n)
		goto bad;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xC0) != 0x80)
			goto bad;
		cp = (cp << 6) | (p[k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		goto bad;
	*i += n;
	return cp;
bad:
	(*i)++;
	return 0x80000000u | p[0];
}

/* Invisible characters a phisher puts inside a name to hide it from
 * matching: zero-width space, (non-)joiners, word joiner, BOM, soft
 * hyphen, combining grapheme joiner, Mongolian vowel separator. */
static bool
html_cp_is_invisible(uint32_t cp)
{
	return cp == 0x00AD || cp == 0x034F || cp == 0x180E ||
	    (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF;
}

/* White space as a reader sees it. */
static bool
html_cp_is_space(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\f' ||
	    cp == '\r' || cp == 0x0B || cp == 0xA0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* ---------------------------------------------------------------- */
/* Character references (HTML 13.2.5.72) */

struct html_named_ref {
	const char *name;
	uint32_t cp;
	bool legacy;		/* also recognised without ';' */
};

/* The references that matter for reading a link's text and URL; HTML5
 * has 2231, the rest stay as they are written. */
static const struct html_named_ref html_named_refs[] = {
	{ "AMP", '&', true }, { "amp", '&', true },
	{ "LT", '<', true }, { "lt", '<', true },
	{ "GT", '>', true }, { "gt", '>', true },
	{ "QUOT", '"', true }, { "quot", '"', true },
	{ "apos", '\'', false },
	{ "nbsp", 0xA0, true },
	{ "shy", 0xAD, true },
	{ "period", '.', false },
	{ "sol", '/', false },
	{ "colon", ':', false },
	{ "commat", '@', false },
	{ "zwj", 0x200D, false },
	{ "zwnj", 0x200C, false },
};

/*
 * Decodes the character reference whose text after '&' is name[0..len)
 * (letters, digits and '#'), semi telling whether a ';' follows it, next
 * the byte after it (or -1). Returns how many bytes of name it took (0:
 * not a reference) with *cp_r set, and *semi_used_r whether it also took
 * the ';'. In an attribute value, a named reference without ';' followed
 * by '=' or a letter or digit is not one (HTML 13.2.5.73).
 */
static size_t
html_charref(const char *name, size_t len, bool semi, int next, bool in_attr,
    uint32_t *cp_r, bool *semi_used_r)
{
	size_t best = 0, i;
	uint32_t v = 0;

	*semi_used_r = false;
	if (len >= 2 && name[0] == '#') {
		bool hex = name[1] == 'x' || name[1] == 'X';
		size_t start = hex ? 2 : 1;

		for (i = start; i < len && (hex ? html_is_hex(name[i]) :
		    html_is_digit(name[i])); i++) {
			if (v <= 0x10FFFF)
				v = v * (hex ? 16 : 10) + (uint32_t)(hex ?
				    html_hex_value(name[i]) : name[i] - '0');
		}
		if (i == start)
			return 0;
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			v = 0xFFFD;
		*cp_r = v;
		*semi_used_r = i == len && semi;
		return i;
	}
	for (size_t k = 0; k < sizeof(html_named_refs) /
	    sizeof(html_named_refs[0]); k++) {
		const struct html_named_ref *r = &html_named_refs[k];
		size_t n = strlen(r->name);

		if (n == len && semi && memcmp(name, r->name, n) == 0) {
			*cp_r = r->cp;
			*semi_used_r = true;
			return n;
		}
		if (r->legacy && n <= len && n > best &&
		    memcmp(name, r->name, n) == 0) {
			int after = n < len ? (unsigned char)name[n] :
			    (semi ? ';' : next);

			if (in_attr && (after == '=' || html_is_alnum(after)))
				continue;
			best = n;
			*cp_r = r->cp;
		}
	}
	return best;
}

/* ---------------------------------------------------------------- */
/* The scanner */

enum html_state {
	HS_TEXT,
	HS_CHARREF,
	HS_TAG_OPEN,
	HS_END_TAG_OPEN,
	HS_TAG_NAME,
	HS_BEFORE_ATTR_NAME,
	HS_ATTR_NAME,
	HS_AFTER_ATTR_NAME,
	HS_BEFORE_ATTR_VALUE,
	HS_ATTR_VALUE_DQ,
	HS_ATTR_VALUE_SQ,
	HS_ATTR_VALUE_UQ,
	HS_AFTER_ATTR_VALUE_Q,
	HS_MARKUP_DECL,
	HS_MARKUP_DASH,
	HS_COMMENT_START,
	HS_COMMENT_START_DASH,
	HS_COMMENT_COND,	/* "<!--[" read: "if"? */
	HS_COND_HEAD,		/* "<!--[if": to '>' */
	HS_COMMENT,
	HS_COMMENT_END_DASH,
	HS_COMMENT_END,
	HS_COMMENT_END_BANG,
	HS_BOGUS_COMMENT,
	HS_RAWTEXT,
};

/* The attributes the checks read. */
enum html_attr {
	HA_HREF,
	HA_SRC,
	HA_ACTION,
	HA_TYPE,
	HA_HTTP_EQUIV,
	HA_CONTENT,
	HA_N,
	HA_NONE = -1,
};

static const char *const html_attr_names[HA_N] = {
	[HA_HREF] = "href",
	[HA_SRC] = "src",
	[HA_ACTION] = "action",
	[HA_TYPE] = "type",
	[HA_HTTP_EQUIV] = "http-equiv",
	[HA_CONTENT] = "content",
};

/* The tags the scanner knows. */
enum html_tag_id {
	HT_OTHER,
	HT_A,
	HT_AREA,
	HT_BASE,
	HT_IMG,
	HT_FORM,
	HT_INPUT,
	HT_META,
};

/* Tag flags: */
#define HT_BLOCK 0x01	/* breaks a line or a box: a space in link text */
#define HT_RAW 0x02	/* its content is text, not markup (HTML 13.2.5.3
			 * RAWTEXT and RCDATA); none of it is visible here */

struct html_tag {
	const char *name;
	enum html_tag_id id;
	unsigned flags;
};

/* Sorted by name, for bsearch(). */
static const struct html_tag html_tags[] = {
	{ "a", HT_A, 0 },
	{ "address", HT_OTHER, HT_BLOCK },
	{ "area", HT_AREA, 0 },
	{ "article", HT_OTHER, HT_BLOCK },
	{ "base", HT_BASE, 0 },
	{ "blockquote", HT_OTHER, HT_BLOCK },
	{ "br", HT_OTHER, HT_BLOCK },
	{ "center", HT_OTHER, HT_BLOCK },
	{ "dd", HT_OTHER, HT_BLOCK },
	{ "div", HT_OTHER, HT_BLOCK },
	{ "dl", HT_OTHER, HT_BLOCK },
	{ "dt", HT_OTHER, HT_BLOCK },
	{ "footer", HT_OTHER, HT_BLOCK },
	{ "form", HT_FORM, HT_BLOCK },
	{ "h1", HT_OTHER, HT_BLOCK },
	{ "h2", HT_OTHER, HT_BLOCK },
	{ "h3", HT_OTHER, HT_BLOCK },
	{ "h4", HT_OTHER, HT_BLOCK },
	{ "h5", HT_OTHER, HT_BLOCK },
	{ "h6", HT_OTHER, HT_BLOCK },
	{ "header", HT_OTHER, HT_BLOCK },
	{ "hr", HT_OTHER, HT_BLOCK },
	{ "iframe", HT_OTHER, HT_RAW },
	{ "img", HT_IMG, HT_BLOCK },
	{ "input", HT_INPUT, 0 },
	{ "li", HT_OTHER, HT_BLOCK },
	{ "main", HT_OTHER, HT_BLOCK },
	{ "meta", HT_META, 0 },
	{ "nav", HT_OTHER, HT_BLOCK },
	{ "noembed", HT_OTHER, HT_RAW },
	{ "noframes", HT_OTHER, HT_RAW },
	{ "ol", HT_OTHER, HT_BLOCK },
	{ "p", HT_OTHER, HT_BLOCK },
	{ "pre", HT_OTHER, HT_BLOCK },
	{ "script", HT_OTHER, HT_RAW },
	{ "section", HT_OTHER, HT_BLOCK },
	{ "style", HT_OTHER, HT_RAW },
	{ "table", HT_OTHER, HT_BLOCK },
	{ "tbody", HT_OTHER, HT_BLOCK },
	{ "td", HT_OTHER, HT_BLOCK },
	{ "textarea", HT_OTHER, HT_RAW },
	{ "tfoot", HT_OTHER, HT_BLOCK },
	{ "th", HT_OTHER, HT_BLOCK },
	{ "thead", HT_OTHER, HT_BLOCK },
	{ "title", HT_OTHER, HT_RAW },
	{ "tr", HT_OTHER, HT_BLOCK },
	{ "ul", HT_OTHER, HT_BLOCK },
	{ "xmp", HT_OTHER, HT_RAW },
};

static int
html_tag_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct html_tag *)elem)->name);
}

static const struct html_tag *
html_tag_find(const char *name)
{
	return bsearch(name, html_tags, sizeof(html_tags) /
	    sizeof(html_tags[0]), sizeof(html_tags[0]), html_tag_cmp);
}

struct html_scanner {
	struct pool *pool;
	struct html_doc doc;
	size_t links_cap, forms_cap, imgs_cap, refresh_cap;
	enum html_state state;
	bool finished;

	/* The tag being read. */
	char tag[HTML_TAG_NAME_MAX + 1];
	size_t tag_len;
	bool tag_bad;		/* too long or with a NUL: no known tag */
	bool tag_end;
	size_t n_attrs;
	bool attrs_counted;	/* this tag counted in doc.attrs_cut */

	/* The attribute being read. */
	char aname[HTML_ATTR_NAME_MAX + 1];
	size_t aname_len;
	bool aname_bad;
	int cur;		/* enum html_attr whose value is read */
	bool have[HA_N];
	bool cut[HA_N];
	size_t val_len[HA_N];
	char val[HA_N][HTML_ATTR_VALUE_MAX + 1];

	/* RAWTEXT: the element and how much of "</name" was seen. */
	const char *raw_name;
	size_t raw_match;

	/* "<!--[if": how much of "if" was seen. */
	size_t cond_match;

	/* A character reference in text. */
	char ent[HTML_ENTITY_MAX + 1];
	size_t ent_len;

	/* A UTF-8 sequence in text. */
	unsigned char u8[4];
	size_t u8_len, u8_need;

	/* The open link, if any. */
	bool link_open;
	bool link_keep;		/* it is doc.links[link_idx] */
	size_t link_idx;
	char link_tag[HTML_TAG_NAME_MAX + 1];
	char ltext[HTML_LINK_TEXT_MAX + 1];
	size_t ltext_len;
	bool ltext_cut;
	bool space_pending;

	bool form_open;
};

/* Makes room for element n of an array that doubles in the pool. */
static void *
html_grow(struct pool *pool, void *arr, size_t *cap, size_t n, size_t elem,
    size_t max)
{
	size_t ncap;
	void *na;

	if (n < *cap)
		return arr;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > max)
		ncap = max;
	na = pool_alloc(pool, ncap * elem);
	if (n > 0)
		memcpy(na, arr, n * elem);
	*cap = ncap;
	return na;
}

struct html_scanner *
html_scanner_new(struct pool *pool)
{
	struct html_scanner *s = pool_alloc(pool, sizeof(*s));

	s->pool = pool;
	s->state = HS_TEXT;
	s->cur = HA_NONE;
	return s;
}

/* Decodes the character references of an attribute value into a string
 * from the pool (never longer than the value). */
static char *
html_attr_decode(struct pool *pool, const char *v, size_t len,
    size_t *len_r)
{
	char *out = pool_alloc(pool, len + 1);
	size_t o = 0, i = 0;

	while (i < len) {
		size_t j, n;
		uint32_t cp;
		bool semi, used;
		char u[4];

		if (v[i] != '&') {
			out[o++] = v[i++];
			continue;
		}
		for (j = i + 1; j < len && j - i - 1 < HTML_ENTITY_MAX &&
		    (html_is_alnum(v[j]) || (v[j] == '#' && j == i + 1)); j++)
			;
		if (j < len && html_is_alnum(v[j]) &&
		    j - i - 1 == HTML_ENTITY_MAX) {
			/* Too long to be a reference. */
			out[o++] = v[i++];
			continue;
		}
		semi = j < len && v[j] == ';';
		n = html_charref(v + i + 1, j - i - 1, semi,
		    j < len ? (unsigned char)v[j] : -1, true, &cp, &used);
		if (n == 0) {
			out[o++] = v[i++];
			continue;
		}
		/* A reference is never shorter than its UTF-8 ("&#1;" is 4
		 * bytes for 1, "&#x10000;" 9 for 4), so out has room. */
		size_t ul = html_utf8_put(cp, u);
		memcpy(out + o, u, ul);
		o += ul;
		i += 1 + n + (used ? 1 : 0);
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* The decoded value of attribute a of the current tag, or NULL. */
static const char *
html_attr_get(struct html_scanner *s, enum html_attr a, size_t *len_r)
{
	size_t len;

	if (!s->have[a])
		return NULL;
	return html_attr_decode(s->pool, s->val[a], s->val_len[a],
	    len_r != NULL ? len_r : &len);
}

/* True if the attribute's value, decoded and trimmed, is word (any
 * case). */
static bool
html_attr_is(struct html_scanner *s, enum html_attr a, const char *word)
{
	size_t len, wl = strlen(word);
	const char *v = html_attr_get(s, a, &len);

	if (v == NULL)
		return false;
	while (len > 0 && html_is_space(v[0])) {
		v++;
		len--;
	}
	while (len > 0 && html_is_space(v[len - 1]))
		len--;
	return len == wl && strncasecmp(v, word, wl) == 0;
}

static void
html_link_text_space(struct html_scanner *s)
{
	if (s->link_open)
		s->space_pending = true;
}

/* A visible code point of the text. */
static void
html_text_cp(struct html_scanner *s, uint32_t cp)
{
	char u[4];
	size_t n, need;
	bool sp;

	if (cp == 0 || html_cp_is_invisible(cp))
		return;
	if (html_cp_is_space(cp)) {
		html_link_text_space(s);
		return;
	}
	s->doc.text_chars++;
	if (!s->link_open || !s->link_keep || s->ltext_cut)
		return;
	n = html_utf8_put(cp, u);
	sp = s->space_pending && s->ltext_len > 0;
	need = n + (sp ? 1 : 0);
	if (need > HTML_LINK_TEXT_MAX - s->ltext_len) {
		s->ltext_cut = true;
		return;
	}
	if (sp)
		s->ltext[s->ltext_len++] = ' ';
	s->space_pending = false;
	memcpy(s->ltext + s->ltext_len, u, n);
	s->ltext_len += n;
}

/* A UTF-8 sequence cut by markup or the end is one U+FFFD. */
static void
html_text_flush(struct html_scanner *s)
{
	if (s->u8_need > 0) {
		s->u8_need = 0;
		s->u8_len = 0;
		html_text_cp(s, 0xFFFD);
	}
}

/* A byte of text, decoded from UTF-8 across calls. */
static void
html_text_byte(struct html_scanner *s, unsigned char c)
{
	if (s->u8_need > 0) {
		if ((c & 0xC0) == 0x80) {
			s->u8[s->u8_len++] = c;
			if (s->u8_len == s->u8_need) {
				size_t i = 0;
				uint32_t cp = html_utf8_next(
				    (const char *)s->u8, s->u8_len, &i);

				s->u8_need = 0;
				s->u8_len = 0;
				html_text_cp(s, cp & 0x80000000u ? 0xFFFD : cp);
			}
			return;
		}
		html_text_flush(s);
	}
	if (c < 0x80) {
		html_text_cp(s, c);
		return;
	}
	if (c >= 0xC2 && c <= 0xDF)
		s->u8_need = 2;
	else if ((c & 0xF0) == 0xE0)
		s->u8_need = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		s->u8_need = 4;
	else {
		html_text_cp(s, 0xFFFD);
		return;
	}
	s->u8[0] = c;
	s->u8_len = 1;
}

/* The end of a character reference in text; c is the byte after it (-1
 * at the end of input). Returns true if c was its ';' (consumed). */
static bool
html_charref_end(struct html_scanner *s, int c)
{
	bool semi = c == ';', used = false;
	uint32_t cp = 0;
	size_t n, i;

	n = html_charref(s->ent, s->ent_len, semi, c, false, &cp, &used);
	if (n == 0)
		html_text_cp(s, '&');
	else
		html_text_cp(s, cp);
	for (i = n; i < s->ent_len; i++)
		html_text_cp(s, (unsigned char)s->ent[i]);
	s->ent_len = 0;
	return used;
}

static void
html_link_close(struct html_scanner *s)
{
	struct html_link *l;

	if (!s->link_open)
		return;
	s->link_open = false;
	if (!s->link_keep)
		return;
	l = &s->doc.links[s->link_idx];
	l->text = pool_strndup(s->pool, s->ltext, s->ltext_len);
	l->text_len = s->ltext_len;
	l->text_cut = s->ltext_cut;
}

/* A link of the current tag (its href is present). */
static void
html_link_add(struct html_scanner *s, bool is_area)
{
	struct html_doc *d = &s->doc;
	struct html_link *l;
	bool keep = d->n_links < HTML_LINKS_MAX;

	d->links_seen++;
	if (keep) {
		d->links = html_grow(s->pool, d->links, &s->links_cap,
		    d->n_links, sizeof(*d->links), HTML_LINKS_MAX);
		l = &d->links[d->n_links];
		memset(l, 0, sizeof(*l));
		l->href = html_attr_get(s, HA_HREF, &l->href_len);
		l->href_cut = s->cut[HA_HREF];
		l->text = "";
		l->is_area = is_area;
		d->n_links++;
	}
	if (is_area)
		return;
	s->link_idx = d->n_links - 1;
	s->link_open = true;
	s->link_keep = keep;
	memcpy(s->link_tag, s->tag, s->tag_len + 1);
	s->ltext_len = 0;
	s->ltext_cut = false;
	s->space_pending = false;
}

static void
html_form_add(struct html_scanner *s)
{
	struct html_doc *d = &s->doc;
	struct html_form *f;

	s->form_open = true;
	d->forms_seen++;
	if (d->n_forms == HTML_FORMS_MAX)
		return;
	d->forms = html_grow(s->pool, d->forms, &s->forms_cap, d->n_forms,
	    sizeof(*d->forms), HTML_FORMS_MAX);
	f = &d->forms[d->n_forms++];
	f->action = html_attr_get(s, HA_ACTION, NULL);
	f->has_password = false;
}

/* The URL of a refresh (HTML 4.2.5.3 "shared declarative refresh
 * steps"): "5; url='http://...'"; "" for none; NULL if no refresh. */
static const char *
html_refresh_url(struct pool *pool, const char *c, size_t len)
{
	size_t i = 0, j, end;

	while (i < len && html_is_space(c[i]))
		i++;
	j = i;
	while (i < len && (html_is_digit(c[i]) || c[i] == '.'))
		i++;
	if (i == j)
		return NULL;
	while (i < len && html_is_space(c[i]))
		i++;
	if (i < len && (c[i] == ';' || c[i] == ','))
		i++;
	while (i < len && html_is_space(c[i]))
		i++;
	if (len - i >= 3 && strncasecmp(c + i, "url", 3) == 0) {
		j = i + 3;
		while (j < len && html_is_space(c[j]))
			j++;
		if (j < len && c[j] == '=') {
			j++;
			while (j < len && html_is_space(c[j]))
				j++;
			i = j;
		}
	}
	end = len;
	if (i < len && (c[i] == '"' || c[i] == '\'')) {
		const char *q = memchr(c + i + 1, c[i], len - i - 1);

		i++;
		if (q != NULL)
			end = (size_t)(q - c);
	} else {
		while (end > i && html_is_space(c[end - 1]))
			end--;
	}
	return pool_strndup(pool, c + i, end - i);
}

/* Resets the per-tag state for a new tag. */
static void
html_tag_begin(struct html_scanner *s, bool end)
{
	s->tag_len = 0;
	s->tag[0] = '\0';
	s->tag_bad = false;
	s->tag_end = end;
	s->n_attrs = 0;
	s->attrs_counted = false;
	s->cur = HA_NONE;
	memset(s->have, 0, sizeof(s->have));
}

static void
html_tag_start_tag(struct html_scanner *s, const struct html_tag *tag)
{
	struct html_doc *d = &s->doc;
	const char *t = s->tag;
	enum html_tag_id id = tag != NULL ? tag->id : HT_OTHER;
	size_t n;

	if (id == HT_A || (t[0] == 'v' && t[1] == ':')) {
		/* An <a> start tag ends the open one (HTML 13.2.6.4.7); so
		 * does a VML shape with a link (Outlook's buttons). */
		if (t[0] == 'a' || s->have[HA_HREF])
			html_link_close(s);
		if (s->have[HA_HREF])
			html_link_add(s, false);
	} else if (id == HT_AREA) {
		if (s->have[HA_HREF])
			html_link_add(s, true);
	} else if (id == HT_BASE) {
		if (s->have[HA_HREF] && d->base == NULL)
			d->base = html_attr_get(s, HA_HREF, NULL);
	} else if (id == HT_IMG) {
		if (s->have[HA_SRC]) {
			d->imgs_seen++;
			if (d->n_imgs < HTML_IMGS_MAX) {
				d->imgs = html_grow(s->pool, d->imgs,
				    &s->imgs_cap, d->n_imgs, sizeof(*d->imgs),
				    HTML_IMGS_MAX);
				d->imgs[d->n_imgs++] = html_attr_get(s, HA_SRC,
				    NULL);
			}
		}
	} else if (id == HT_FORM) {
		/* A <form> inside a form is ignored (HTML 13.2.6.4.7). */
		if (!s->form_open)
			html_form_add(s);
	} else if (id == HT_INPUT) {
		if (html_attr_is(s, HA_TYPE, "password")) {
			d->password_inputs++;
			if (s->form_open && d->n_forms > 0 &&
			    d->forms_seen == d->n_forms)
				d->forms[d->n_forms - 1].has_password = true;
		}
	} else if (id == HT_META) {
		if (html_attr_is(s, HA_HTTP_EQUIV, "refresh") &&
		    s->have[HA_CONTENT] && d->n_refresh < HTML_REFRESH_MAX) {
			const char *c = html_attr_get(s, HA_CONTENT, &n);
			const char *url = html_refresh_url(s->pool, c, n);

			if (url != NULL) {
				d->refresh = html_grow(s->pool, d->refresh,
				    &s->refresh_cap, d->n_refresh,
				    sizeof(*d->refresh), HTML_REFRESH_MAX);
				d->refresh[d->n_refresh++] = url;
			}
		}
	}
	if (tag != NULL && (tag->flags & HT_RAW)) {
		s->raw_name = tag->name;
		s->raw_match = 0;
		s->state = HS_RAWTEXT;
	}
}

/* A tag is complete ('>'). */
static void
html_tag_emit(struct html_scanner *s)
{
	const struct html_tag *tag;

	s->state = HS_TEXT;
	if (s->tag_bad)
		return;
	tag = html_tag_find(s->tag);
	if (tag != NULL && (tag->flags & HT_BLOCK))
		html_link_text_space(s);
	if (!s->tag_end) {
		html_tag_start_tag(s, tag);
		return;
	}
	if (s->link_open && strcmp(s->tag, s->link_tag) == 0)
		html_link_close(s);
	else if (tag != NULL && tag->id == HT_FORM)
		s->form_open = false;
}

static void
html_tag_name_byte(struct html_scanner *s, unsigned char c)
{
	if (c == 0) {
		s->tag_bad = true;
		return;
	}
	if (s->tag_len == HTML_TAG_NAME_MAX) {
		s->tag_bad = true;
		return;
	}
	s->tag[s->tag_len++] = (char)html_lower(c);
	s->tag[s->tag_len] = '\0';
}

static void
html_attr_begin(struct html_scanner *s)
{
	s->n_attrs++;
	s->aname_len = 0;
	s->aname_bad = false;
	s->cur = HA_NONE;
	if (s->n_attrs > HTML_ATTRS_MAX && !s->attrs_counted) {
		s->attrs_counted = true;
		s->doc.attrs_cut++;
	}
}

static void
html_attr_name_byte(struct html_scanner *s, unsigned char c)
{
	if (c == 0 || s->aname_len == HTML_ATTR_NAME_MAX) {
		s->aname_bad = true;
		return;
	}
	s->aname[s->aname_len++] = (char)html_lower(c);
}

/* The attribute's name is complete: is it one we keep? The first of
 * duplicate attributes wins (HTML 13.2.5.33). */
static void
html_attr_name_end(struct html_scanner *s)
{
	s->cur = HA_NONE;
	if (s->aname_bad || s->n_attrs > HTML_ATTRS_MAX)
		return;
	for (int a = 0; a < HA_N; a++) {
		if (strlen(html_attr_names[a]) == s->aname_len &&
		    memcmp(html_attr_names[a], s->aname, s->aname_len) == 0) {
			if (s->have[a])
				return;
			s->have[a] = true;
			s->cut[a] = false;
			s->val_len[a] = 0;
			s->val[a][0] = '\0';
			s->cur = a;
			return;
		}
	}
}

static void
html_attr_value_byte(struct html_scanner *s, unsigned char c)
{
	static const char fffd[] = "\xEF\xBF\xBD";
	int a = s->cur;
	size_t n = c == 0 ? 3 : 1;

	if (a == HA_NONE)
		return;
	if (n > HTML_ATTR_VALUE_MAX - s->val_len[a]) {
		s->cut[a] = true;
		return;
	}
	if (c == 0)
		memcpy(s->val[a] + s->val_len[a], fffd, 3);
	else
		s->val[a][s->val_len[a]] = (char)c;
	s->val_len[a] += n;
	s->val[a][s->val_len[a]] = '\0';
}

/* n bytes of an attribute value, none of them NUL. */
static void
html_attr_value_run(struct html_scanner *s, const char *v, size_t n)
{
	int a = s->cur;
	size_t room;

	if (a == HA_NONE)
		return;
	room = HTML_ATTR_VALUE_MAX - s->val_len[a];
	if (n > room) {
		n = room;
		s->cut[a] = true;
	}
	memcpy(s->val[a] + s->val_len[a], v, n);
	s->val_len[a] += n;
	s->val[a][s->val_len[a]] = '\0';
}

static void
html_attr_value_end(struct html_scanner *s)
{
	s->cur = HA_NONE;
}

/* One byte through the tokenizer. */
static void
html_byte(struct html_scanner *s, unsigned char c)
{
	for (;;) {
		switch (s->state) {
		case HS_TEXT:
			if (c == '<') {
				html_text_flush(s);
				s->state = HS_TAG_OPEN;
			} else if (c == '&') {
				html_text_flush(s);
				s->ent_len = 0;
				s->state = HS_CHARREF;
			} else {
				html_text_byte(s, c);
			}
			return;
		case HS_CHARREF:
			if (html_is_alnum(c) || (c == '#' && s->ent_len == 0)) {
				if (s->ent_len < HTML_ENTITY_MAX) {
					s->ent[s->ent_len++] = (char)c;
					return;
				}
				/* Too long to be a reference: text. */
				html_text_cp(s, '&');
				for (size_t i = 0; i < s->ent_len; i++)
					html_text_cp(s,
					    (unsigned char)s->ent[i]);
				s->ent_len = 0;
				s->state = HS_TEXT;
				continue;
			}
			s->state = HS_TEXT;
			if (html_charref_end(s, c))
				return;
			continue;
		case HS_TAG_OPEN:
			if (c == '!') {
				s->state = HS_MARKUP_DECL;
				return;
			}
			if (c == '/') {
				s->state = HS_END_TAG_OPEN;
				return;
			}
			if (html_is_alpha(c)) {
				html_tag_begin(s, false);
				s->state = HS_TAG_NAME;
				continue;
			}
			if (c == '?') {
				s->state = HS_BOGUS_COMMENT;
				return;
			}
			html_text_cp(s, '<');
			s->state = HS_TEXT;
			continue;
		case HS_END_TAG_OPEN:
			if (html_is_alpha(c)) {
				html_tag_begin(s, true);
				s->state = HS_TAG_NAME;
				continue;
			}
			if (c == '>') {
				s->state = HS_TEXT;
				return;
			}
			s->state = HS_BOGUS_COMMENT;
			continue;
		case HS_TAG_NAME:
			if (html_is_space(c) || c == '/') {
				s->state = HS_BEFORE_ATTR_NAME;
				return;
			}
			if (c == '>') {
				html_tag_emit(s);
				return;
			}
			html_tag_name_byte(s, c);
			return;
		case HS_BEFORE_ATTR_NAME:
			if (html_is_space(c) || c == '/')
				return;
			if (c == '>') {
				html_tag_emit(s);
				return;
			}
			html_attr_begin(s);
			/* "=" as the first byte of a name is part of it. */
			html_attr_name_byte(s, c);
			s->state = HS_ATTR_NAME;
			return;
		case HS_ATTR_NAME:
			if (html_is_space(c) || c == '/' || c == '>') {
				html_attr_name_end(s);
				s->state = HS_AFTER_ATTR_NAME;
				continue;
			}
			if (c == '=') {
				html_attr_name_end(s);
				s->state = HS_BEFORE_ATTR_VALUE;
				return;
			}
			html_attr_name_byte(s, c);
			return;
		case HS_AFTER_ATTR_NAME:
			if (html_is_space(c))
				return;
			if (c == '/') {
				s->state = HS_BEFORE_ATTR_NAME;
				return;
			}
			if (c == '=') {
				s->state = HS_BEFORE_ATTR_VALUE;
				return;
			}
			if (c == '>') {
				html_tag_emit(s);
				return;
			}
			html_attr_begin(s);
			s->state = HS_ATTR_NAME;
			continue;
		case HS_BEFORE_ATTR_VALUE:
			if (html_is_space(c))
				return;
			if (c == '"') {
				s->state = HS_ATTR_VALUE_DQ;
				return;
			}
			if (c == '\'') {
				s->state = HS_ATTR_VALUE_SQ;
				return;
			}
			if (c == '>') {
				html_attr_value_end(s);
				html_tag_emit(s);
				return;
			}
			s->state = HS_ATTR_VALUE_UQ;
			continue;
		case HS_ATTR_VALUE_DQ:
		case HS_ATTR_VALUE_SQ:
			if (c == (s->state == HS_ATTR_VALUE_DQ ? '"' : '\'')) {
				html_attr_value_end(s);
				s->state = HS_AFTER_ATTR_VALUE_Q;
				return;
			}
			html_attr_value_byte(s, c);
			return;
		case HS_ATTR_VALUE_UQ:
			if (html_is_space(c)) {
				html_attr_value_end(s);
				s->state = HS_BEFORE_ATTR_NAME;
				return;
			}
			if (c == '>') {
				html_attr_value_end(s);
				html_tag_emit(s);
				return;
			}
			html_attr_value_byte(s, c);
			return;
		case HS_AFTER_ATTR_VALUE_Q:
			if (html_is_space(c) || c == '/') {
				s->state = HS_BEFORE_ATTR_NAME;
				return;
			}
			if (c == '>') {
				html_tag_emit(s);
				return;
			}
			s->state = HS_BEFORE_ATTR_NAME;
			continue;
		case HS_MARKUP_DECL:
			if (c == '-') {
				s->state = HS_MARKUP_DASH;
				return;
			}
			/* <!DOCTYPE>, <![CDATA[ in HTML content, <![endif]>:
			 * all end at the first '>'. */
			s->state = HS_BOGUS_COMMENT;
			continue;
		case HS_MARKUP_DASH:
			if (c == '-') {
				s->state = HS_COMMENT_START;
				return;
			}
			s->state = HS_BOGUS_COMMENT;
			continue;
		case HS_COMMENT_START:
			if (c == '-') {
				s->state = HS_COMMENT_START_DASH;
				return;
			}
			if (c == '>') {
				/* "<!-->" (HTML 13.2.5.43, abrupt closing) */
				s->state = HS_TEXT;
				return;
			}
			if (c == '[') {
				s->cond_match = 0;
				s->state = HS_COMMENT_COND;
				return;
			}
			s->state = HS_COMMENT;
			continue;
		case HS_COMMENT_COND:
			if (html_lower(c) == "if"[s->cond_match]) {
				if (++s->cond_match == 2)
					s->state = HS_COND_HEAD;
				return;
			}
			s->state = HS_COMMENT;
			continue;
		case HS_COND_HEAD:
			/* Outlook renders what follows "<!--[if mso]>": scan
			 * it as markup; "<![endif]-->" is a bogus comment. */
			if (c == '>')
				s->state = HS_TEXT;
			return;
		case HS_COMMENT_START_DASH:
			if (c == '-') {
				s->state = HS_COMMENT_END;
				return;
			}
			if (c == '>') {
				s->state = HS_TEXT;
				return;
			}
			s->state = HS_COMMENT;
			continue;
		case HS_COMMENT:
			if (c == '-')
				s->state = HS_COMMENT_END_DASH;
			return;
		case HS_COMMENT_END_DASH:
			if (c == '-') {
				s->state = HS_COMMENT_END;
				return;
			}
			s->state = HS_COMMENT;
			continue;
		case HS_COMMENT_END:
			if (c == '>') {
				s->state = HS_TEXT;
				return;
			}
			if (c == '!') {
				s->state = HS_COMMENT_END_BANG;
				return;
			}
			if (c == '-')
				return;
			s->state = HS_COMMENT;
			continue;
		case HS_COMMENT_END_BANG:
			if (c == '-') {
				s->state = HS_COMMENT_END_DASH;
				return;
			}
			if (c == '>') {
				s->state = HS_TEXT;
				return;
			}
			s->state = HS_COMMENT;
			continue;
		case HS_BOGUS_COMMENT:
			if (c == '>')
				s->state = HS_TEXT;
			return;
		case HS_RAWTEXT: {
			size_t nl = strlen(s->raw_name);
			size_t m = s->raw_match;
			int want;

			if (m < 2 + nl) {
				want = m == 0 ? '<' : m == 1 ? '/' :
				    s->raw_name[m - 2];
				if (html_lower(c) == want)
					s->raw_match++;
				else
					s->raw_match = c == '<' ? 1 : 0;
				return;
			}
			if (html_is_space(c) || c == '/' || c == '>') {
				html_tag_begin(s, true);
				memcpy(s->tag, s->raw_name, nl + 1);
				s->tag_len = nl;
				s->state = HS_BEFORE_ATTR_NAME;
				continue;
			}
			s->raw_match = c == '<' ? 1 : 0;
			return;
		}
		}
		return;
	}
}

void
html_scanner_feed(struct html_scanner *s, const char *data, size_t len)
{
	size_t room = HTML_INPUT_MAX - s->doc.bytes;

	if (s->finished)
		return;
	if (len > room) {
		len = room;
		s->doc.input_cut = true;
	}
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)data[i];

		/* Fast paths, with the same effect as html_byte(): ASCII
		 * text outside links, and the inside of quoted values. */
		if (s->state == HS_TEXT && c < 0x80 && c != '<' && c != '&' &&
		    s->u8_need == 0 && !s->link_open) {
			if (c > 0x20 || (c != 0 && !html_cp_is_space(c)))
				s->doc.text_chars++;
			i++;
			continue;
		}
		if (s->state == HS_ATTR_VALUE_DQ || s->state == HS_ATTR_VALUE_SQ) {
			char q = s->state == HS_ATTR_VALUE_DQ ? '"' : '\'';
			size_t j = i;

			while (j < len && data[j] != q && data[j] != '\0')
				j++;
			if (j > i) {
				html_attr_value_run(s, data + i, j - i);
				i = j;
				continue;
			}
		}
		html_byte(s, c);
		i++;
	}
	s->doc.bytes += len;
}

const struct html_doc *
html_scanner_finish(struct html_scanner *s)
{
	if (s->finished)
		return &s->doc;
	s->finished = true;
	switch (s->state) {
	case HS_TEXT:
		html_text_flush(s);
		break;
	case HS_CHARREF:
		(void)html_charref_end(s, -1);
		break;
	case HS_TAG_OPEN:
		html_text_cp(s, '<');
		break;
	case HS_END_TAG_OPEN:
		html_text_cp(s, '<');
		html_text_cp(s, '/');
		break;
	default:
		/* EOF in a tag or comment: dropped (HTML 13.2.5.8 ...). */
		break;
	}
	html_link_close(s);
	return &s->doc;
}

const struct html_doc *
html_scan(const char *in, size_t len, struct pool *pool)
{
	struct html_scanner *s = html_scanner_new(pool);

	html_scanner_feed(s, in, len);
	return html_scanner_finish(s);
}

/* ---------------------------------------------------------------- */
/* Plain-text URLs */

static bool
html_prefix_ci(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && strncasecmp(s, p, n) == 0;
}

/* Where a URL that starts at i ends: at white space (ASCII, NBSP, the
 * Unicode spaces U+2000-U+200B, U+2028, U+2029, U+3000), a control
 * character, < > " ` or the end. */
static size_t
html_url_run(const char *t, size_t i, size_t len)
{
	while (i < len) {
		unsigned char c = (unsigned char)t[i];

		if (c <= 0x20 || c == 0x7F || c == '<' || c == '>' ||
		    c == '"' || c == '`')
			break;
		if (c == 0xC2 && i + 1 < len &&
		    (unsigned char)t[i + 1] == 0xA0)
			break;
		if (c == 0xE2 && i + 2 < len &&
		    (unsigned char)t[i + 1] == 0x80 &&
		    ((unsigned char)t[i + 2] <= 0x8B ||
		    (unsigned char)t[i + 2] == 0xA8 ||
		    (unsigned char)t[i + 2] == 0xA9))
			break;
		if (c == 0xE3 && i + 2 < len &&
		    (unsigned char)t[i + 1] == 0x80 &&
		    (unsigned char)t[i + 2] == 0x80)
			break;
		i++;
	}
	return i;
}

/* Cuts trailing punctuation off t[start..end), and closing brackets
 * that open nothing inside. */
static size_t
html_url_trim(const char *t, size_t start, size_t end)
{
	long paren = 0, square = 0, curly = 0;

	for (size_t i = start; i < end; i++) {
		switch (t[i]) {
		case '(': paren++; break;
		case ')': paren--; break;
		case '[': square++; break;
		case ']': square--; break;
		case '{': curly++; break;
		case '}': curly--; break;
		}
	}
	while (end > start) {
		char c = t[end - 1];

		if (c != '\0' && strchr(".,;:!?'*", c) != NULL) {
			end--;
		} else if (c == ')' && paren < 0) {
			paren++;
			end--;
		} else if (c == ']' && square < 0) {
			square++;
			end--;
		} else if (c == '}' && curly < 0) {
			curly++;
			end--;
		} else {
			break;
		}
	}
	return end;
}

size_t
html_text_urls(const char *text, size_t len, struct html_text_url *urls,
    size_t max, size_t *seen_r)
{
	size_t n = 0, seen = 0, i = 0;

	while (i < len) {
		size_t skip = 0, end;
		bool www = false;
		char prev = i > 0 ? text[i - 1] : ' ';
		bool boundary = !html_is_alnum(prev) && prev != '.' &&
		    prev != '-' && prev != '@' && prev != '_';

		if (boundary) {
			if (html_prefix_ci(text + i, len - i, "http://"))
				skip = 7;
			else if (html_prefix_ci(text + i, len - i, "https://"))
				skip = 8;
			else if (prev != '/' &&
			    html_prefix_ci(text + i, len - i, "www.") &&
			    i + 4 < len && (html_is_alnum(text[i + 4]) ||
			    (unsigned char)text[i + 4] >= 0x80)) {
				skip = 4;
				www = true;
			}
		}
		if (skip == 0) {
			i++;
			continue;
		}
		end = html_url_trim(text, i, html_url_run(text, i + skip, len));
		if (end <= i + skip) {
			i += skip;
			continue;
		}
		if (n < max) {
			urls[n].off = i;
			urls[n].len = end - i;
			urls[n].www = www;
			n++;
		}
		seen++;
		i = end;
	}
	if (seen_r != NULL)
		*seen_r = seen;
	return n;
}

/* ---------------------------------------------------------------- */
/* URLs */

/* A cursor over a URL that skips tabs, CR and LF (WHATWG URL 4.4:
 * "remove all ASCII tab or newline"). */
struct html_cur {
	const char *s;
	size_t i, end;
};

static inline int
html_cur_peek(struct html_cur *c)
{
	while (c->i < c->end && (c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
	    c->s[c->i] == '\r'))
		c->i++;
	return c->i < c->end ? (unsigned char)c->s[c->i] : -1;
}

static inline int
html_cur_take(struct html_cur *c)
{
	int ch = html_cur_peek(c);

	if (ch >= 0)
		c->i++;
	return ch;
}

enum html_parse {
	HP_OK,
	HP_RELATIVE,		/* no scheme and no "//": base decides */
	HP_NOHOST,		/* other scheme, or an invalid host */
};

static bool
html_scheme_special(const char *s)
{
	return strcmp(s, "http") == 0 || strcmp(s, "https") == 0 ||
	    strcmp(s, "ftp") == 0 || strcmp(s, "ws") == 0 ||
	    strcmp(s, "wss") == 0;
}

/*
 * Percent-decodes the bytes of c from its position to end (skipping
 * tabs and newlines) into out (outlen bytes, NUL-terminated). Returns the
 * length, or -1 if it does not fit (then out holds a cut prefix).
 */
static long
html_pct_decode(struct html_cur c, size_t end, char *out, size_t outlen,
    bool *pct_r)
{
	size_t o = 0;
	int ch;

	c.end = end;
	out[0] = '\0';
	while ((ch = html_cur_take(&c)) >= 0) {
		if (ch == '%') {
			struct html_cur d = c;
			int h1 = html_cur_take(&d), h2 = html_cur_take(&d);

			if (h1 >= 0 && h2 >= 0 && html_is_hex(h1) &&
			    html_is_hex(h2)) {
				ch = html_hex_value(h1) * 16 +
				    html_hex_value(h2);
				c = d;
				if (pct_r != NULL)
					*pct_r = true;
			}
		}
		if (o + 1 >= outlen) {
			out[o] = '\0';
			return -1;
		}
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return (long)o;
}

/* One part of an IPv4 address (WHATWG URL 3.5 "IPv4 number parser").
 * Returns 0 with *v_r (capped at 2^32) and *plain_r (decimal without a
 * leading zero), or -1. */
static int
html_ipv4_number(const char *p, size_t len, uint64_t *v_r, bool *plain_r)
{
	unsigned base = 10;
	uint64_t v = 0;

	*plain_r = true;
	if (len >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		len -= 2;
		*plain_r = false;
	} else if (len >= 2 && p[0] == '0') {
		base = 8;
		p++;
		len--;
		*plain_r = false;
	}
	if (len == 0 && base == 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int d;

		if (base == 16 && html_is_hex(p[i]))
			d = html_hex_value(p[i]);
		else if (base == 8 && p[i] >= '0' && p[i] <= '7')
			d = p[i] - '0';
		else if (base == 10 && html_is_digit(p[i]))
			d = p[i] - '0';
		else
			return -1;
		v = v * base + (uint64_t)d;
		if (v > 0xFFFFFFFFull)
			v = 0x100000000ull;
	}
	*v_r = v;
	return 0;
}

/* True if the last label of host (without trailing dot) is a number. */
static bool
html_host_ends_in_number(const char *host)
{
	const char *last = strrchr(host, '.');
	size_t n;

	last = last != NULL ? last + 1 : host;
	n = strlen(last);
	if (n == 0)
		return false;
	if (strspn(last, "0123456789") == n)
		return true;
	return n >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') &&
	    strspn(last + 2, "0123456789abcdefABCDEF") == n - 2;
}

/* WHATWG URL 3.5 "IPv4 parser" of host into u (dotted quad). */
static int
html_ipv4_parse(const char *host, struct html_url *u)
{
	uint64_t parts[4], addr = 0;
	size_t n = 0;
	const char *p = host;
	bool plain_all = true;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		bool plain;

		if (n == 4)
			return -1;
		if (html_ipv4_number(p, len, &parts[n], &plain) < 0)
			return -1;
		plain_all = plain_all && plain;
		n++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if (parts[i] > 255)
			return -1;
		addr = addr << 8 | parts[i];
	}
	if (parts[n - 1] >= (1ull << (8 * (5 - n))))
		return -1;
	addr = (addr << (8 * (5 - n))) | parts[n - 1];
	(void)snprintf(u->host, sizeof(u->host), "%u.%u.%u.%u",
	    (unsigned)(addr >> 24) & 255, (unsigned)(addr >> 16) & 255,
	    (unsigned)(addr >> 8) & 255, (unsigned)addr & 255);
	u->kind = HTML_HOST_IPV4;
	u->ip_encoded = n != 4 || !plain_all;
	return 0;
}

/* Forbidden domain code points (WHATWG URL 3.2) after decoding. */
static bool
html_host_forbidden(unsigned char c)
{
	return c <= 0x20 || c == 0x7F || strchr("#/:<>?@[\\]^|%", c) != NULL;
}

/* The host in hb (percent-decoded, NUL-terminated) into u. */
static int
html_host_finish(char *hb, size_t len, struct html_url *u)
{
	bool ascii = true;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)hb[i];

		if (c >= 0x80)
			ascii = false;
		else if (html_host_forbidden(c))
			return -1;
	}
	if (len > 0 && hb[len - 1] == '.') {
		hb[--len] = '\0';
		u->trailing_dot = true;
	}
	if (len == 0)
		return -1;
	if (ascii) {
		if (len > HTML_URL_HOST_MAX)
			return -1;
		for (i = 0; i < len; i++)
			u->host[i] = (char)html_lower(hb[i]);
		u->host[len] = '\0';
	} else {
		char *out = NULL;

		/* UTS #46 non-transitional processing, as browsers do: it
		 * maps fullwidth letters and dots, upper case, and the
		 * ideographic full stop. */
		if (idn2_to_ascii_8z(hb, &out, IDN2_NONTRANSITIONAL) !=
		    IDN2_OK) {
			idn2_free(out);
			return -1;
		}
		len = strlen(out);
		if (len > 0 && out[len - 1] == '.') {
			len--;
			u->trailing_dot = true;
		}
		if (len == 0 || len > HTML_URL_HOST_MAX) {
			idn2_free(out);
			return -1;
		}
		for (i = 0; i < len; i++) {
			if (html_host_forbidden((unsigned char)out[i])) {
				idn2_free(out);
				return -1;
			}
			u->host[i] = (char)html_lower(out[i]);
		}
		u->host[len] = '\0';
		idn2_free(out);
	}
	if (html_host_ends_in_number(u->host))
		return html_ipv4_parse(u->host, u);
	u->kind = HTML_HOST_NAME;
	return 0;
}

/*
 * The authority at c (after the scheme's slashes): userinfo, host, port
 * (WHATWG URL 4.4 authority, host and port states for a special URL).
 */
static int
html_authority_parse(struct html_cur c, struct html_url *u)
{
	/* Decoded host: room for a UTF-8 host whose A-labels fit in
	 * HTML_URL_HOST_MAX bytes. */
	char hb[4 * (HTML_URL_HOST_MAX + 2)];
	size_t start = c.i, end, at = (size_t)-1, hend, pos;
	struct html_cur h;
	long hl;
	int ch;

	/* Where the authority ends, and its last '@'. */
	while ((ch = html_cur_peek(&c)) >= 0) {
		if (ch == '/' || ch == '\\' || ch == '?' || ch == '#')
			break;
		if (ch == '@')
			at = c.i;
		c.i++;
	}
	end = c.i;
	h.s = c.s;
	h.end = end;
	h.i = start;
	if (at != (size_t)-1) {
		u->has_userinfo = true;
		(void)html_pct_decode(h, at, u->userinfo, sizeof(u->userinfo),
		    NULL);
		h.i = at + 1;
	}
	/* The host: to ':' outside brackets. */
	pos = h.i;
	if (html_cur_peek(&h) == '[') {
		char v6[INET6_ADDRSTRLEN];
		struct in6_addr a6;
		size_t n = 0;

		h.i++;
		while ((ch = html_cur_take(&h)) >= 0 && ch != ']') {
			if (n + 1 >= sizeof(v6))
				return -1;
			v6[n++] = (char)ch;
		}
		if (ch != ']')
			return -1;
		v6[n] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1 ||
		    inet_ntop(AF_INET6, &a6, u->host, sizeof(u->host)) == NULL)
			return -1;
		u->kind = HTML_HOST_IPV6;
		hend = h.i;
		ch = html_cur_peek(&h);
		if (ch >= 0 && ch != ':')
			return -1;
	} else {
		while ((ch = html_cur_peek(&h)) >= 0 && ch != ':')
			h.i++;
		hend = h.i;
		h.i = pos;
		hl = html_pct_decode(h, hend, hb, sizeof(hb), &u->host_percent);
		if (hl < 0)
			return -1;
		if (memchr(hb, '\0', (size_t)hl) != NULL)
			return -1;
		if (html_host_finish(hb, (size_t)hl, u) < 0)
			return -1;
		h.i = hend;
	}
	/* The port: digits, at most 65535; empty is none. */
	if (html_cur_peek(&h) == ':') {
		unsigned long port = 0;
		bool any = false;

		h.i++;
		while ((ch = html_cur_take(&h)) >= 0) {
			if (!html_is_digit(ch))
				return -1;
			port = port * 10 + (unsigned long)(ch - '0');
			if (port > 65535)
				return -1;
			any = true;
		}
		u->port = any ? (int)port : -1;
	}
	return 0;
}

static enum html_parse
html_url_parse_1(const char *url, size_t len, struct html_url *u)
{
	struct html_cur c;
	size_t b = 0, e = len, n = 0;
	char sch[HTML_URL_SCHEME_MAX + 1];
	int ch;

	memset(u, 0, sizeof(*u));
	u->port = -1;
	u->kind = HTML_HOST_NONE;
	while (b < e && (unsigned char)url[b] <= 0x20)
		b++;
	while (e > b && (unsigned char)url[e - 1] <= 0x20)
		e--;
	c.s = url;
	c.i = b;
	c.end = e;

	/* The scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	if ((ch = html_cur_peek(&c)) >= 0 && html_is_alpha(ch)) {
		struct html_cur s = c;
		bool too_long = false;

		while ((ch = html_cur_peek(&s)) >= 0 && (html_is_alnum(ch) ||
		    ch == '+' || ch == '-' || ch == '.')) {
			if (n < HTML_URL_SCHEME_MAX)
				sch[n++] = (char)html_lower(ch);
			else
				too_long = true;
			s.i++;
		}
		if (ch == ':') {
			if (too_long)
				return HP_NOHOST;
			sch[n] = '\0';
			memcpy(u->scheme, sch, n + 1);
			s.i++;
			c = s;
			if (!html_scheme_special(u->scheme))
				return HP_NOHOST;
			/* "special authority ignore slashes state" */
			while ((ch = html_cur_peek(&c)) == '/' || ch == '\\')
				c.i++;
			if (html_authority_parse(c, u) == 0)
				return HP_OK;
			return HP_NOHOST;
		}
	}
	/* No scheme: "//host" (or with backslashes) or a relative path. */
	ch = html_cur_peek(&c);
	if (ch == '/' || ch == '\\') {
		struct html_cur s = c;

		s.i++;
		ch = html_cur_peek(&s);
		if (ch == '/' || ch == '\\') {
			while ((ch = html_cur_peek(&s)) == '/' || ch == '\\')
				s.i++;
			if (html_authority_parse(s, u) == 0)
				return HP_OK;
			u->kind = HTML_HOST_NONE;
			return HP_NOHOST;
		}
	}
	return HP_RELATIVE;
}

int
html_url_parse(const char *url, size_t len, struct html_url *u_r)
{
	if (html_url_parse_1(url, len, u_r) == HP_OK)
		return 0;
	u_r->kind = HTML_HOST_NONE;
	u_r->host[0] = '\0';
	return -1;
}

int
html_url_parse_ref(const char *href, size_t len, const char *base,
    struct html_url *u_r)
{
	enum html_parse r = html_url_parse_1(href, len, u_r);

	if (r == HP_OK)
		return 0;
	if (r == HP_RELATIVE && base != NULL &&
	    html_url_parse_1(base, strlen(base), u_r) == HP_OK)
		return 0;
	u_r->kind = HTML_HOST_NONE;
	u_r->host[0] = '\0';
	return -1;
}

/* Top-level domains that are mostly file names in a text. */
static const char *const html_tld_files[] = { "zip", "mov" };

int
html_text_host(const char *text, size_t len, struct html_url *u_r)
{
	struct html_text_url tu;
	struct html_cur c;
	const psl_ctx_t *psl;
	char tld[64];		/* a label: at most 63 bytes (RFC 1035) */
	size_t b = 0, e = len, nend, i, dot = (size_t)-1;

	memset(u_r, 0, sizeof(*u_r));
	u_r->port = -1;
	if (html_text_urls(text, len, &tu, 1, NULL) == 1) {
		if (!tu.www)
			return html_url_parse(text + tu.off, tu.len, u_r);
		c.s = text + tu.off;
		c.i = 0;
		c.end = tu.len;
		memcpy(u_r->scheme, "http", 5);
		if (html_authority_parse(c, u_r) == 0)
			return 0;
		u_r->kind = HTML_HOST_NONE;
		u_r->host[0] = '\0';
		return -1;
	}
	/* The whole text as one name. */
	while (b < e && text[b] != '\0' &&
	    strchr(" ([{<\"'", text[b]) != NULL)
		b++;
	while (e > b && text[e - 1] != '\0' &&
	    strchr(" .,;:!?)]}>\"'", text[e - 1]) != NULL)
		e--;
	for (nend = b; nend < e && text[nend] != '/' && text[nend] != '?' &&
	    text[nend] != '#'; nend++) {
		unsigned char ch = (unsigned char)text[nend];

		if (ch == '.')
			dot = nend;
		else if (!html_is_alnum(ch) && ch != '-' && ch < 0x80)
			return -1;
	}
	for (i = nend; i < e; i++)
		if ((unsigned char)text[i] <= 0x20)
			return -1;
	if (dot == (size_t)-1 || dot == b || dot + 1 >= nend ||
	    nend - dot - 1 >= sizeof(tld))
		return -1;
	for (i = 0; i < nend - dot - 1; i++)
		tld[i] = (char)html_lower(text[dot + 1 + i]);
	tld[i] = '\0';
	for (i = 0; i < sizeof(html_tld_files) / sizeof(html_tld_files[0]); i++)
		if (strcmp(tld, html_tld_files[i]) == 0)
			return -1;
	/* psl_builtin() is libpsl's compiled-in list: read-only, no
	 * loading, safe on any thread. */
	psl = psl_builtin();
	if (psl != NULL && !psl_is_public_suffix2(psl, tld,
	    PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
		return -1;
	c.s = text + b;
	c.i = 0;
	c.end = nend - b;
	memcpy(u_r->scheme, "http", 5);
	if (html_authority_parse(c, u_r) == 0 && u_r->kind == HTML_HOST_NAME)
		return 0;
	u_r->kind = HTML_HOST_NONE;
	u_r->host[0] = '\0';
	return -1;
}

/* ---------------------------------------------------------------- */
/* Skeletons, scripts, distance */

struct html_confusable {
	uint32_t cp;
	char ascii;
};

/* Sorted by code point. A subset of Unicode's confusables.txt: the
 * letters that pass for Latin ones in a domain name. */
static const struct html_confusable html_confusables[] = {
	{ 0x0131, 'i' },	/* LATIN SMALL LETTER DOTLESS I */
	{ 0x0237, 'j' },	/* LATIN SMALL LETTER DOTLESS J */
	{ 0x0251, 'a' },	/* LATIN SMALL LETTER ALPHA */
	{ 0x0261, 'g' },	/* LATIN SMALL LETTER SCRIPT G */
	{ 0x0269, 'i' },	/* LATIN SMALL LETTER IOTA */
	{ 0x026A, 'i' },	/* LATIN LETTER SMALL CAPITAL I */
	{ 0x028F, 'y' },	/* LATIN LETTER SMALL CAPITAL Y */
	{ 0x03B1, 'a' },	/* GREEK SMALL LETTER ALPHA */
	{ 0x03B3, 'y' },	/* GREEK SMALL LETTER GAMMA */
	{ 0x03B7, 'n' },	/* GREEK SMALL LETTER ETA */
	{ 0x03B9, 'i' },	/* GREEK SMALL LETTER IOTA */
	{ 0x03BA, 'k' },	/* GREEK SMALL LETTER KAPPA */
	{ 0x03BD, 'v' },	/* GREEK SMALL LETTER NU */
	{ 0x03BF, 'o' },	/* GREEK SMALL LETTER OMICRON */
	{ 0x03C1, 'p' },	/* GREEK SMALL LETTER RHO */
	{ 0x03C4, 't' },	/* GREEK SMALL LETTER TAU */
	{ 0x03C5, 'u' },	/* GREEK SMALL LETTER UPSILON */
	{ 0x03C7, 'x' },	/* GREEK SMALL LETTER CHI */
	{ 0x03F2, 'c' },	/* GREEK LUNATE SIGMA SYMBOL */
	{ 0x03F3, 'j' },	/* GREEK LETTER YOT */
	{ 0x0430, 'a' },	/* CYRILLIC SMALL LETTER A */
	{ 0x0435, 'e' },	/* CYRILLIC SMALL LETTER IE */
	{ 0x043A, 'k' },	/* CYRILLIC SMALL LETTER KA */
	{ 0x043E, 'o' },	/* CYRILLIC SMALL LETTER O */
	{ 0x0440, 'p' },	/* CYRILLIC SMALL LETTER ER */
	{ 0x0441, 'c' },	/* CYRILLIC SMALL LETTER ES */
	{ 0x0443, 'y' },	/* CYRILLIC SMALL LETTER U */
	{ 0x0445, 'x' },	/* CYRILLIC SMALL LETTER HA */
	{ 0x0455, 's' },	/* CYRILLIC SMALL LETTER DZE */
	{ 0x0456, 'i' },	/* CYRILLIC SMALL LETTER BYELORUSSIAN-UKR. I */
	{ 0x0458, 'j' },	/* CYRILLIC SMALL LETTER JE */
	{ 0x0461, 'w' },	/* CYRILLIC SMALL LETTER OMEGA */
	{ 0x0475, 'v' },	/* CYRILLIC SMALL LETTER IZHITSA */
	{ 0x04BB, 'h' },	/* CYRILLIC SMALL LETTER SHHA */
	{ 0x04CF, 'l' },	/* CYRILLIC SMALL LETTER PALOCHKA */
	{ 0x0501, 'd' },	/* CYRILLIC SMALL LETTER KOMI DE */
	{ 0x051B, 'q' },	/* CYRILLIC SMALL LETTER QA */
	{ 0x051D, 'w' },	/* CYRILLIC SMALL LETTER WE */
	{ 0x0561, 'w' },	/* ARMENIAN SMALL LETTER AYB */
	{ 0x0566, 'q' },	/* ARMENIAN SMALL LETTER ZA */
	{ 0x0570, 'h' },	/* ARMENIAN SMALL LETTER HO */
	{ 0x0578, 'n' },	/* ARMENIAN SMALL LETTER VO */
	{ 0x057D, 'u' },	/* ARMENIAN SMALL LETTER SEH */
	{ 0x0581, 'g' },	/* ARMENIAN SMALL LETTER CO */
	{ 0x0585, 'o' },	/* ARMENIAN SMALL LETTER OH */
	{ 0x1D00, 'a' },	/* LATIN LETTER SMALL CAPITAL A */
	{ 0x1D04, 'c' },	/* LATIN LETTER SMALL CAPITAL C */
	{ 0x1D0F, 'o' },	/* LATIN LETTER SMALL CAPITAL O */
	{ 0x1D1C, 'u' },	/* LATIN LETTER SMALL CAPITAL U */
	{ 0x1D20, 'v' },	/* LATIN LETTER SMALL CAPITAL V */
	{ 0x1D21, 'w' },	/* LATIN LETTER SMALL CAPITAL W */
	{ 0x1D22, 'z' },	/* LATIN LETTER SMALL CAPITAL Z */
	{ 0xA731, 's' },	/* LATIN LETTER SMALL CAPITAL S */
};

static int
html_confusable_cmp(const void *key, const void *elem)
{
	uint32_t k = *(const uint32_t *)key;
	uint32_t e = ((const struct html_confusable *)elem)->cp;

	return k < e ? -1 : k > e ? 1 : 0;
}

/* The ASCII letter cp imitates, or 0. */
static char
html_confusable(uint32_t cp)
{
	const struct html_confusable *c;

	if (cp >= 'A' && cp <= 'Z')
		return (char)(cp + 32);
	if (cp == '0')
		return 'o';
	if (cp == '1')
		return 'l';
	if (cp < 0x80)
		return (char)cp;
	/* Fullwidth ASCII (U+FF01-U+FF5E). */
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		return html_confusable(cp - 0xFEE0);
	c = bsearch(&cp, html_confusables, sizeof(html_confusables) /
	    sizeof(html_confusables[0]), sizeof(html_confusables[0]),
	    html_confusable_cmp);
	return c != NULL ? c->ascii : 0;
}

int
html_skeleton(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0, r, w;

	if (outlen == 0)
		return -1;
	while (i < len) {
		size_t at = i;
		uint32_t cp = html_utf8_next(s, len, &i);
		char a = cp & 0x80000000u ? 0 : html_confusable(cp);

		if (a != 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = a;
		} else {
			if (i - at >= outlen - o)
				return -1;
			memcpy(out + o, s + at, i - at);
			o += i - at;
		}
	}
	/* "rn" looks like "m", "vv" like "w". */
	for (r = 0, w = 0; r < o; w++) {
		if (r + 1 < o && out[r] == 'r' && out[r + 1] == 'n') {
			out[w] = 'm';
			r += 2;
		} else if (r + 1 < o && out[r] == 'v' && out[r + 1] == 'v') {
			out[w] = 'w';
			r += 2;
		} else {
			out[w] = out[r++];
		}
	}
	out[w] = '\0';
	return (int)w;
}

enum html_script {
	SC_LATIN = 1 << 0,
	SC_GREEK = 1 << 1,
	SC_CYRILLIC = 1 << 2,
	SC_ARMENIAN = 1 << 3,
	SC_HEBREW = 1 << 4,
	SC_ARABIC = 1 << 5,
	SC_DEVANAGARI = 1 << 6,
	SC_THAI = 1 << 7,
	SC_GEORGIAN = 1 << 8,
	SC_CHEROKEE = 1 << 9,
	SC_HIRAGANA = 1 << 10,
	SC_KATAKANA = 1 << 11,
	SC_BOPOMOFO = 1 << 12,
	SC_HAN = 1 << 13,
	SC_HANGUL = 1 << 14,
};

struct html_script_range {
	uint32_t lo, hi;
	unsigned script;
};

/* Sorted; the letters of each script, roughly by Unicode block. */
static const struct html_script_range html_script_ranges[] = {
	{ 0x0041, 0x005A, SC_LATIN }, { 0x0061, 0x007A, SC_LATIN },
	{ 0x00C0, 0x00D6, SC_LATIN }, { 0x00D8, 0x00F6, SC_LATIN },
	{ 0x00F8, 0x02AF, SC_LATIN },
	{ 0x0370, 0x03FF, SC_GREEK },
	{ 0x0400, 0x052F, SC_CYRILLIC },
	{ 0x0531, 0x058F, SC_ARMENIAN },
	{ 0x0590, 0x05FF, SC_HEBREW },
	{ 0x0600, 0x06FF, SC_ARABIC }, { 0x0750, 0x077F, SC_ARABIC },
	{ 0x08A0, 0x08FF, SC_ARABIC },
	{ 0x0900, 0x097F, SC_DEVANAGARI },
	{ 0x0E00, 0x0E7F, SC_THAI },
	{ 0x10A0, 0x10FF, SC_GEORGIAN },
	{ 0x1100, 0x11FF, SC_HANGUL },
	{ 0x13A0, 0x13FF, SC_CHEROKEE },
	{ 0x1C80, 0x1C8F, SC_CYRILLIC },
	{ 0x1D00, 0x1D7F, SC_LATIN },
	{ 0x1E00, 0x1EFF, SC_LATIN },
	{ 0x1F00, 0x1FFF, SC_GREEK },
	{ 0x2C60, 0x2C7F, SC_LATIN },
	{ 0x2D00, 0x2D2F, SC_GEORGIAN },
	{ 0x2DE0, 0x2DFF, SC_CYRILLIC },
	{ 0x3041, 0x309F, SC_HIRAGANA },
	{ 0x30A0, 0x30FF, SC_KATAKANA },
	{ 0x3105, 0x312F, SC_BOPOMOFO },
	{ 0x3131, 0x318F, SC_HANGUL },
	{ 0x31A0, 0x31BF, SC_BOPOMOFO },
	{ 0x31F0, 0x31FF, SC_KATAKANA },
	{ 0x3400, 0x4DBF, SC_HAN },
	{ 0x4E00, 0x9FFF, SC_HAN },
	{ 0xA640, 0xA69F, SC_CYRILLIC },
	{ 0xA720, 0xA7FF, SC_LATIN },
	{ 0xAB30, 0xAB6F, SC_LATIN },
	{ 0xAB70, 0xABBF, SC_CHEROKEE },
	{ 0xAC00, 0xD7AF, SC_HANGUL },
	{ 0xF900, 0xFAFF, SC_HAN },
	{ 0xFF21, 0xFF3A, SC_LATIN }, { 0xFF41, 0xFF5A, SC_LATIN },
	{ 0x20000, 0x3134F, SC_HAN },
};

static unsigned
html_script_of(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(html_script_ranges) /
	    sizeof(html_script_ranges[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct html_script_range *r = &html_script_ranges[mid];

		if (cp < r->lo)
			hi = mid;
		else if (cp > r->hi)
			lo = mid + 1;
		else
			return r->script;
	}
	return 0;
}

bool
html_label_mixed_scripts(const char *s, size_t len)
{
	static const unsigned allowed[] = {
		SC_LATIN | SC_HAN | SC_HIRAGANA | SC_KATAKANA,
		SC_LATIN | SC_HAN | SC_HANGUL,
		SC_LATIN | SC_HAN | SC_BOPOMOFO,
	};
	unsigned set = 0;
	size_t i = 0;

	while (i < len) {
		uint32_t cp = html_utf8_next(s, len, &i);

		if (!(cp & 0x80000000u))
			set |= html_script_of(cp);
	}
	if ((set & (set - 1)) == 0)
		return false;
	for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
		if ((set & ~allowed[k]) == 0)
			return false;
	return true;
}

/* Decodes up to HTML_LABEL_CP_MAX code points of s into cp. */
static size_t
html_cps(const char *s, size_t len, uint32_t *cp)
{
	size_t i = 0, n = 0;

	while (i < len && n < HTML_LABEL_CP_MAX)
		cp[n++] = html_utf8_next(s, len, &i);
	return n;
}

unsigned
html_edit_distance(const char *a, size_t alen, const char *b, size_t blen)
{
	uint32_t ca[HTML_LABEL_CP_MAX], cb[HTML_LABEL_CP_MAX];
	unsigned rows[3][HTML_LABEL_CP_MAX + 1];
	size_t na = html_cps(a, alen, ca), nb = html_cps(b, blen, cb);
	unsigned *pp, *p, *cur;

	/* Three rows of the optimal string alignment table: i-2, i-1, i. */
	for (size_t j = 0; j <= nb; j++)
		rows[1][j] = (unsigned)j;
	pp = rows[0];
	p = rows[1];
	cur = rows[2];
	for (size_t i = 1; i <= na; i++) {
		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= nb; j++) {
			unsigned cost = ca[i - 1] == cb[j - 1] ? 0 : 1;
			unsigned v = p[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (p[j - 1] + cost < v)
				v = p[j - 1] + cost;
			if (i > 1 && j > 1 && ca[i - 1] == cb[j - 2] &&
			    ca[i - 2] == cb[j - 1] && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		unsigned *t = pp;
		pp = p;
		p = cur;
		cur = t;
	}
	return p[nb];
}
