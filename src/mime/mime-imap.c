/*
 * mime-imap.c - ENVELOPE, BODY/BODYSTRUCTURE, sections and header field
 * filters for IMAP (see mime-imap.h).
 *
 * RFC 9051 7.5.2 and RFC 3501 7.4.2 (ENVELOPE, BODY, BODYSTRUCTURE), RFC
 * 9051 6.4.5 (section specifications), RFC 9051 4.3 (strings: quoted and
 * literal), RFC 5322 3.4 and 4.4 (address lists, groups, obsolete
 * syntax), RFC 2231 (parameter values in BODYSTRUCTURE), RFC 3282
 * (Content-Language).
 *
 * SECURITY: header values and parameters are peer data; they reach the
 * client only as IMAP strings built here (quoted with escapes, or literals
 * with an exact length), never as raw protocol text. Address parsing keeps
 * at most MIME_ADDR_TOKENS_MAX tokens per address and is linear in the
 * field length.
 */
#include "mime/mime-imap.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "mime/mime-decode.h"
#include "mime/mime.h"

/* The part shown for a multipart without parts (as Dovecot does). */
#define MIME_IMAP_EMPTY_PART \
	"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)"

/* An output buffer that remembers whether an append failed. */
struct imap_w {
	struct buf *out;
	bool failed;
};

static void
imap_w_add(struct imap_w *w, const char *s, size_t n)
{
	if (buf_append(w->out, s, n) < 0)
		w->failed = true;
}

static void
imap_w_puts(struct imap_w *w, const char *s)
{
	imap_w_add(w, s, strlen(s));
}

static void
imap_w_size(struct imap_w *w, size_t n)
{
	if (buf_printf(w->out, "%zu", n) < 0)
		w->failed = true;
}

/* An IMAP string (RFC 9051 4.3): quoted, or a literal if s holds CR, LF
 * or 8-bit bytes. NUL bytes cannot be sent and are dropped. */
static void
imap_w_string(struct imap_w *w, const char *s, size_t n)
{
	size_t nuls = 0, i = 0;
	bool literal = false;

	if (s == NULL)
		s = "";
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];

		if (c == 0)
			nuls++;
		else if (c == '\r' || c == '\n' || c >= 0x80)
			literal = true;
	}
	if (literal) {
		if (buf_printf(w->out, "{%zu}\r\n", n - nuls) < 0)
			w->failed = true;
	} else {
		imap_w_add(w, "\"", 1);
	}
	while (i < n) {
		size_t run = i;

		while (run < n && s[run] != '\0' &&
		    (literal || (s[run] != '"' && s[run] != '\\')))
			run++;
		imap_w_add(w, s + i, run - i);
		if (run < n && s[run] != '\0') {
			imap_w_add(w, "\\", 1);
			imap_w_add(w, s + run, 1);
		}
		i = run + 1;
	}
	if (!literal)
		imap_w_add(w, "\"", 1);
}

static void
imap_w_nstring(struct imap_w *w, const char *s)
{
	if (s == NULL)
		imap_w_add(w, "NIL", 3);
	else
		imap_w_string(w, s, strlen(s));
}

/* A token (type, subtype, parameter name, encoding) in upper case. */
static void
imap_w_upper(struct imap_w *w, const char *s)
{
	size_t n = strlen(s);
	char *u = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		u[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];
	imap_w_string(w, u, n);
	free(u);
}

/*
 * Address lists (RFC 5322 3.4, obsolete forms of 4.4).
 */

enum addr_tok_type {
	TOK_WORD,	/* atom (dots included) */
	TOK_QUOTED,	/* quoted-string, s/n without the quotes */
	TOK_LITERAL,	/* domain literal, brackets included */
	TOK_SPECIAL,	/* < > @ , ; : */
};

struct addr_tok {
	enum addr_tok_type type;
	const char *s;
	size_t n;
	bool space_before;
};

struct addr_parser {
	const char *p, *end;
	struct addr_tok *toks;	/* MIME_ADDR_TOKENS_MAX */
	size_t n_toks;
	const char *comment;	/* last comment of the current address */
	size_t comment_len;
	bool in_group;
	size_t count;	/* (name adl mailbox host) written, groups included */
	struct imap_w *w;	/* NULL: addresses go to cb instead */
	mime_addr_fn *cb;
	void *cb_ctx;
	/* The parts of the address being written. */
	struct buf name, route, local, host;
};

static bool
addr_is_special(char c)
{
	return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' ||
	    c == ':';
}

/* Next token, or false at the end. Comments are remembered, not
 * returned. */
static bool
addr_tok_next(struct addr_parser *ap, struct addr_tok *t)
{
	const char *p = ap->p, *end = ap->end;

	t->space_before = false;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n')) {
			p++;
			t->space_before = true;
		}
		if (p >= end || *p != '(')
			break;
		{
			size_t level = 0;
			const char *start = p + 1;

			for (; p < end; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				else if (*p == '(')
					level++;
				else if (*p == ')' && --level == 0)
					break;
			}
			ap->comment = start;
			ap->comment_len = (size_t)((p < end ? p : end) - start);
			if (p < end)
				p++;
			t->space_before = true;
		}
	}
	if (p >= end) {
		ap->p = p;
		return false;
	}
	t->s = p;
	if (*p == '"') {
		t->type = TOK_QUOTED;
		t->s = ++p;
		while (p < end && *p != '"') {
			if (*p == '\\' && p + 1 < end)
				p++;
			p++;
		}
		t->n = (size_t)(p - t->s);
		if (p < end)
			p++;
	} else if (*p == '[') {
		t->type = TOK_LITERAL;
		while (p < end && *p != ']') {
			if (*p == '\\' && p + 1 < end)
				p++;
			p++;
		}
		if (p < end)
			p++;
		t->n = (size_t)(p - t->s);
	} else if (addr_is_special(*p)) {
		t->type = TOK_SPECIAL;
		t->n = 1;
		p++;
	} else {
		t->type = TOK_WORD;
		while (p < end && !addr_is_special(*p) && *p != ' ' &&
		    *p != '\t' && *p != '\r' && *p != '\n' && *p != '"' &&
		    *p != '(' && *p != '[')
			p++;
		t->n = (size_t)(p - t->s);
	}
	ap->p = p;
	return true;
}

static bool
addr_tok_is(const struct addr_tok *t, char c)
{
	return t->type == TOK_SPECIAL && t->s[0] == c;
}

/* Appends a token's text; quoted-pairs lose their backslash. */
static void
addr_text_add(struct buf *b, const char *s, size_t n, bool unescape)
{
	size_t i = 0;

	while (i < n) {
		size_t run = i;

		while (run < n && !(unescape && s[run] == '\\'))
			run++;
		(void)buf_append(b, s + i, run - i);
		if (run >= n)
			break;
		/* A quoted-pair; a lone backslash at the end stays. */
		(void)buf_append(b, s + run + (run + 1 < n), 1);
		i = run + 2;
	}
}

static void
addr_tok_add(struct buf *b, const struct addr_tok *t)
{
	addr_text_add(b, t->s, t->n, t->type == TOK_QUOTED);
}

/* A phrase: its tokens, a space where there was white space. */
static void
addr_phrase(struct buf *b, const struct addr_tok *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].space_before && b->len > 0)
			(void)buf_append(b, " ", 1);
		addr_tok_add(b, &t[i]);
	}
}

/* The words of a local part or domain: joined as written, but a word
 * after white space that is not next to a dot ends it (garbage). */
static size_t
addr_dotted(struct buf *b, const struct addr_tok *t, size_t n, bool local)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (t[i].type == TOK_SPECIAL)
			break;
		if (i > 0 && t[i].space_before && b->len > 0 &&
		    b->data[b->len - 1] != '.' && t[i].s[0] != '.') {
			if (!local)
				break;
			(void)buf_append(b, " ", 1);
		}
		addr_tok_add(b, &t[i]);
	}
	return i;
}

static void
addr_w_text(struct imap_w *w, const struct buf *b, const char *if_empty)
{
	if (b->len > 0)
		imap_w_string(w, b->data, b->len);
	else if (if_empty != NULL)
		imap_w_string(w, if_empty, strlen(if_empty));
	else
		imap_w_add(w, "NIL", 3);
}

/* Writes one address of the tokens collected. */
static void
addr_emit(struct addr_parser *ap)
{
	const struct addr_tok *t = ap->toks;
	size_t n = ap->n_toks, lt = n, at = n, i;
	struct buf *name = &ap->name, *route = &ap->route, *local = &ap->local,
	    *host = &ap->host;
	bool bare;

	for (i = 0; i < n && lt == n; i++)
		if (addr_tok_is(&t[i], '<'))
			lt = i;
	if (n == 0)
		goto done;
	buf_reset(name);
	buf_reset(route);
	buf_reset(local);
	buf_reset(host);
	bare = lt == n;
	if (!bare) {
		/* name-addr: phrase "<" [route ":"] addr-spec ">" */
		size_t s = lt + 1, e = s;

		addr_phrase(name, t, lt);
		while (e < n && !addr_tok_is(&t[e], '>'))
			e++;
		if (s < e && addr_tok_is(&t[s], '@')) {
			size_t colon = s;

			while (colon < e && !addr_tok_is(&t[colon], ':'))
				colon++;
			for (i = s; i < colon; i++)
				addr_tok_add(route, &t[i]);
			s = colon < e ? colon + 1 : e;
		}
		for (at = s; at < e && !addr_tok_is(&t[at], '@'); at++)
			;
		for (i = s; i < at; i++) {
			if (i > s && t[i].space_before && local->len > 0 &&
			    local->data[local->len - 1] != '.' && t[i].s[0] != '.')
				(void)buf_append(local, " ", 1);
			addr_tok_add(local, &t[i]);
		}
		if (at < e)
			(void)addr_dotted(host, t + at + 1, e - at - 1, false);
		if (name->len == 0 && local->len == 0 && host->len == 0 &&
		    route->len == 0)
			goto done;	/* "<>" */
	} else {
		for (at = 0; at < n && !addr_tok_is(&t[at], '@'); at++)
			;
		if (at == n) {
			/* No address at all: a word is a local mailbox
			 * name, more words a display name. */
			size_t words = 0;

			for (i = 0; i < n; i++)
				words += t[i].type != TOK_SPECIAL;
			if (words == 0)
				goto done;
			if (words == 1) {
				for (i = 0; t[i].type == TOK_SPECIAL; i++)
					;
				addr_tok_add(local, &t[i]);
			} else {
				addr_phrase(name, t, n);
			}
		} else {
			(void)addr_dotted(local, t, at, true);
			(void)addr_dotted(host, t + at + 1, n - at - 1, false);
		}
		/* "a@b (Ann)": the comment names the address. */
		if (name->len == 0 && ap->comment != NULL) {
			const char *c = ap->comment;
			size_t cl = ap->comment_len;

			while (cl > 0 && (*c == ' ' || *c == '\t')) {
				c++;
				cl--;
			}
			while (cl > 0 && (c[cl - 1] == ' ' || c[cl - 1] == '\t'))
				cl--;
			addr_text_add(name, c, cl, true);
		}
	}
	if (ap->w == NULL) {
		if (local->len > 0 && host->len > 0)
			ap->cb(ap->cb_ctx, local->data, local->len, host->data,
			    host->len);
		ap->count++;
		goto done;
	}
	imap_w_add(ap->w, "(", 1);
	addr_w_text(ap->w, name, NULL);
	imap_w_add(ap->w, " ", 1);
	addr_w_text(ap->w, route, NULL);
	imap_w_add(ap->w, " ", 1);
	addr_w_text(ap->w, local, "MISSING_MAILBOX");
	imap_w_add(ap->w, " ", 1);
	addr_w_text(ap->w, host, "MISSING_DOMAIN");
	imap_w_add(ap->w, ")", 1);
	ap->count++;
done:
	ap->n_toks = 0;
	ap->comment = NULL;
	ap->comment_len = 0;
}

static void
addr_group_end(struct addr_parser *ap)
{
	if (ap->w != NULL)
		imap_w_puts(ap->w, "(NIL NIL NIL NIL)");
	ap->count++;
	ap->in_group = false;
}

/* Writes the addresses of the list in [s, s + n) (unfolded); returns how
 * many (NIL NIL ...) entries were written. With w NULL, each address
 * goes to cb instead. */
static size_t
addr_list_run(struct imap_w *w, mime_addr_fn *cb, void *cb_ctx,
    const char *s, size_t n)
{
	struct addr_parser ap;
	struct addr_tok t;
	bool angle = false, route = false, has_at = false;
	size_t words = 0;

	memset(&ap, 0, sizeof(ap));
	ap.p = s;
	ap.end = s + n;
	ap.w = w;
	ap.cb = cb;
	ap.cb_ctx = cb_ctx;
	ap.toks = xmalloc(MIME_ADDR_TOKENS_MAX * sizeof(*ap.toks));
	buf_init(&ap.name, SIZE_MAX);
	buf_init(&ap.route, SIZE_MAX);
	buf_init(&ap.local, SIZE_MAX);
	buf_init(&ap.host, SIZE_MAX);
	while (addr_tok_next(&ap, &t)) {
		if (t.type == TOK_SPECIAL) {
			char c = t.s[0];

			if (c == '<') {
				angle = true;
				route = false;
			} else if (c == '>') {
				angle = false;
			} else if (c == '@') {
				has_at = true;
				/* "<@a,@b:" starts a source route */
				if (angle && ap.n_toks > 0 &&
				    addr_tok_is(&ap.toks[ap.n_toks - 1], '<'))
					route = true;
			} else if (c == ':' && angle && route) {
				route = false;
			} else if ((c == ',' && !route) || c == ';') {
				addr_emit(&ap);
				if (c == ';' && ap.in_group)
					addr_group_end(&ap);
				angle = route = has_at = false;
				words = 0;
				continue;
			} else if (c == ':' && !angle && !ap.in_group && !has_at &&
			    words > 0) {
				/* group: display-name ":" [list] ";" */
				struct buf name;

				if (w != NULL) {
					buf_init(&name, SIZE_MAX);
					addr_phrase(&name, ap.toks, ap.n_toks);
					imap_w_puts(w, "(NIL NIL ");
					imap_w_string(w, name.data, name.len);
					imap_w_puts(w, " NIL)");
					buf_release(&name);
				}
				ap.count++;
				ap.in_group = true;
				ap.n_toks = 0;
				ap.comment = NULL;
				words = 0;
				continue;
			}
		} else {
			words++;
		}
		if (ap.n_toks < MIME_ADDR_TOKENS_MAX)
			ap.toks[ap.n_toks++] = t;
	}
	addr_emit(&ap);
	if (ap.in_group)
		addr_group_end(&ap);
	free(ap.toks);
	buf_release(&ap.name);
	buf_release(&ap.route);
	buf_release(&ap.local);
	buf_release(&ap.host);
	return ap.count;
}

static size_t
addr_list(struct imap_w *w, const char *s, size_t n)
{
	return addr_list_run(w, NULL, NULL, s, n);
}

size_t
mime_addr_list_foreach(const char *s, size_t n, mime_addr_fn *cb, void *ctx)
{
	return addr_list_run(NULL, cb, ctx, s, n);
}

/* The unfolded value of a field into b (max: the raw length). */
static void
env_value(const char *msg, const struct mime_header_field *f, struct buf *b)
{
	buf_init(b, f->value_end - f->value_start);
	mime_header_field_unfold(msg, f, b);
}

/* An address list field: "(" addresses ")" or NIL into out; returns the
 * number of entries. */
static size_t
env_addresses(const char *msg, const struct mime_header_field *f,
    struct buf *out)
{
	struct imap_w w = { out, false };
	struct buf v, items;
	size_t n;

	if (f == NULL) {
		(void)buf_puts(out, "NIL");
		return 0;
	}
	env_value(msg, f, &v);
	buf_init(&items, SIZE_MAX);
	w.out = &items;
	n = addr_list(&w, v.data != NULL ? v.data : "", v.len);
	if (n > 0) {
		(void)buf_append(out, "(", 1);
		(void)buf_append(out, items.data, items.len);
		(void)buf_append(out, ")", 1);
	} else {
		(void)buf_puts(out, "NIL");
	}
	buf_release(&v);
	buf_release(&items);
	return n;
}

enum env_field {
	ENV_DATE,
	ENV_SUBJECT,
	ENV_FROM,
	ENV_SENDER,
	ENV_REPLY_TO,
	ENV_TO,
	ENV_CC,
	ENV_BCC,
	ENV_IN_REPLY_TO,
	ENV_MESSAGE_ID,
	ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

static void
env_nstring(struct imap_w *w, const char *msg,
    const struct mime_header_field *f)
{
	struct buf v;

	if (f == NULL) {
		imap_w_add(w, "NIL", 3);
		return;
	}
	env_value(msg, f, &v);
	imap_w_string(w, v.data != NULL ? v.data : "", v.len);
	buf_release(&v);
}

static void
imap_envelope(struct imap_w *w, const char *msg, size_t len,
    const struct mime_part *part)
{
	struct mime_header_field fields[ENV_COUNT], f;
	bool have[ENV_COUNT] = { false };
	size_t pos = part->header_start, end = part->body_start;
	struct buf from, list;

	if (end > len)
		end = len;
	while (mime_header_field_next(msg, end, &pos, &f)) {
		for (int i = 0; i < ENV_COUNT; i++) {
			if (!have[i] && mime_header_field_is(msg, &f, env_names[i])) {
				fields[i] = f;
				have[i] = true;
				break;
			}
		}
	}
#define ENV_F(i) (have[i] ? &fields[i] : NULL)
	buf_init(&from, SIZE_MAX);
	buf_init(&list, SIZE_MAX);
	imap_w_add(w, "(", 1);
	env_nstring(w, msg, ENV_F(ENV_DATE));
	imap_w_add(w, " ", 1);
	env_nstring(w, msg, ENV_F(ENV_SUBJECT));
	imap_w_add(w, " ", 1);
	(void)env_addresses(msg, ENV_F(ENV_FROM), &from);
	imap_w_add(w, from.data, from.len);
	for (int i = ENV_SENDER; i <= ENV_BCC; i++) {
		imap_w_add(w, " ", 1);
		buf_reset(&list);
		/* RFC 9051 7.5.2: Sender and Reply-To default to From. */
		if (env_addresses(msg, ENV_F(i), &list) == 0 &&
		    (i == ENV_SENDER || i == ENV_REPLY_TO))
			imap_w_add(w, from.data, from.len);
		else
			imap_w_add(w, list.data, list.len);
	}
	imap_w_add(w, " ", 1);
	env_nstring(w, msg, ENV_F(ENV_IN_REPLY_TO));
	imap_w_add(w, " ", 1);
	env_nstring(w, msg, ENV_F(ENV_MESSAGE_ID));
	imap_w_add(w, ")", 1);
#undef ENV_F
	buf_release(&from);
	buf_release(&list);
}

int
mime_imap_envelope(const char *msg, size_t len, const struct mime_part *part,
    struct buf *out)
{
	struct imap_w w = { out, false };

	imap_envelope(&w, msg, len, part);
	return w.failed ? -1 : 0;
}

/*
 * BODY and BODYSTRUCTURE.
 */

/* A parameter value that is not ASCII goes in RFC 2231 form when it is
 * UTF-8 (IMAP4rev1 strings are not UTF-8), else as a literal. */
static void
imap_w_param(struct imap_w *w, const struct mime_param *p)
{
	size_t n = strlen(p->value);
	bool ascii = true;

	for (size_t i = 0; i < n && ascii; i++)
		ascii = (unsigned char)p->value[i] < 0x80;
	if (ascii || !mime_utf8_is_valid(p->value, n)) {
		imap_w_upper(w, p->name);
		imap_w_add(w, " ", 1);
		imap_w_string(w, p->value, n);
		return;
	}
	{
		size_t nl = strlen(p->name);
		char *name = xmalloc(nl + 2);
		struct buf v;

		memcpy(name, p->name, nl);
		name[nl] = '*';
		name[nl + 1] = '\0';
		imap_w_upper(w, name);
		free(name);
		imap_w_add(w, " ", 1);
		buf_init(&v, SIZE_MAX);
		(void)buf_puts(&v, "utf-8''");
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p->value[i];

			char hex[3];

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') ||
			    (c != 0 && strchr("!#$&+-.^_`|~", (char)c) != NULL)) {
				(void)buf_append(&v, &p->value[i], 1);
				continue;
			}
			hex[0] = '%';
			hex[1] = "0123456789ABCDEF"[c >> 4];
			hex[2] = "0123456789ABCDEF"[c & 15];
			(void)buf_append(&v, hex, 3);
		}
		imap_w_string(w, v.data, v.len);
		buf_release(&v);
	}
}

static void
imap_w_params(struct imap_w *w, const struct mime_param *params, size_t n,
    bool text)
{
	bool charset = false;

	if (n == 0 && !text) {
		imap_w_add(w, "NIL", 3);
		return;
	}
	imap_w_add(w, "(", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			imap_w_add(w, " ", 1);
		imap_w_param(w, &params[i]);
		if (strcmp(params[i].name, "charset") == 0)
			charset = true;
	}
	/* RFC 2045 5.2: text defaults to us-ascii. */
	if (text && !charset) {
		if (n > 0)
			imap_w_add(w, " ", 1);
		imap_w_puts(w, "\"CHARSET\" \"US-ASCII\"");
	}
	imap_w_add(w, ")", 1);
}

static void
imap_w_disposition(struct imap_w *w, const struct mime_part *part)
{
	if (part->disposition == NULL) {
		imap_w_add(w, "NIL", 3);
		return;
	}
	imap_w_add(w, "(", 1);
	imap_w_upper(w, part->disposition);
	imap_w_add(w, " ", 1);
	imap_w_params(w, part->disp_params, part->n_disp_params, false);
	imap_w_add(w, ")", 1);
}

/* Content-Language (RFC 3282): a list of the comma-separated tags. */
static void
imap_w_language(struct imap_w *w, const char *lang)
{
	const char *p = lang;
	size_t n = 0;

	if (lang == NULL) {
		imap_w_add(w, "NIL", 3);
		return;
	}
	while (*p != '\0') {
		const char *s;

		if (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
			continue;
		}
		if (*p == '(') {
			size_t level = 0;

			for (; *p != '\0'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				else if (*p == '(')
					level++;
				else if (*p == ')' && --level == 0) {
					p++;
					break;
				}
			}
			continue;
		}
		for (s = p; *p != '\0' && *p != ' ' && *p != '\t' && *p != ',' &&
		    *p != '('; p++)
			;
		imap_w_add(w, n == 0 ? "(" : " ", 1);
		imap_w_string(w, s, (size_t)(p - s));
		n++;
	}
	imap_w_add(w, n == 0 ? "NIL" : ")", n == 0 ? 3 : 1);
}

static void
imap_body(struct imap_w *w, const char *msg, size_t len,
    const struct mime_part *part, bool extended)
{
	imap_w_add(w, "(", 1);
	if (part->is_multipart) {
		if (part->n_children == 0)
			imap_w_puts(w, MIME_IMAP_EMPTY_PART);
		for (size_t i = 0; i < part->n_children; i++)
			imap_body(w, msg, len, &part->children[i], extended);
		imap_w_add(w, " ", 1);
		imap_w_upper(w, part->subtype);
		if (extended) {
			imap_w_add(w, " ", 1);
			imap_w_params(w, part->params, part->n_params, false);
			imap_w_add(w, " ", 1);
			imap_w_disposition(w, part);
			imap_w_add(w, " ", 1);
			imap_w_language(w, part->language);
			imap_w_add(w, " ", 1);
			imap_w_nstring(w, part->location);
		}
	} else {
		bool text = strcmp(part->type, "text") == 0;

		imap_w_upper(w, part->type);
		imap_w_add(w, " ", 1);
		imap_w_upper(w, part->subtype);
		imap_w_add(w, " ", 1);
		imap_w_params(w, part->params, part->n_params, text);
		imap_w_add(w, " ", 1);
		imap_w_nstring(w, part->id);
		imap_w_add(w, " ", 1);
		imap_w_nstring(w, part->description);
		imap_w_add(w, " ", 1);
		imap_w_upper(w, part->encoding != NULL ? part->encoding : "7bit");
		imap_w_add(w, " ", 1);
		imap_w_size(w, part->body_end - part->body_start);
		if (text) {
			imap_w_add(w, " ", 1);
			imap_w_size(w, part->body_lines);
		} else if (part->is_message_rfc822 && part->n_children == 1) {
			imap_w_add(w, " ", 1);
			imap_envelope(w, msg, len, &part->children[0]);
			imap_w_add(w, " ", 1);
			imap_body(w, msg, len, &part->children[0], extended);
			imap_w_add(w, " ", 1);
			imap_w_size(w, part->body_lines);
		}
		if (extended) {
			imap_w_add(w, " ", 1);
			imap_w_nstring(w, part->md5);
			imap_w_add(w, " ", 1);
			imap_w_disposition(w, part);
			imap_w_add(w, " ", 1);
			imap_w_language(w, part->language);
			imap_w_add(w, " ", 1);
			imap_w_nstring(w, part->location);
		}
	}
	imap_w_add(w, ")", 1);
}

int
mime_imap_bodystructure(const char *msg, size_t len,
    const struct mime_part *root, bool extended, struct buf *out)
{
	struct imap_w w = { out, false };

	imap_body(&w, msg, len, root, extended);
	return w.failed ? -1 : 0;
}

/*
 * Sections.
 */

const struct mime_part *
mime_imap_section(const struct mime_part *root, const uint32_t *path,
    size_t depth)
{
	const struct mime_part *cur = root;
	bool message = true;	/* cur is a message (root or encapsulated) */

	for (size_t i = 0; i < depth; i++) {
		uint32_t n = path[i];

		if (n == 0)
			return NULL;
		if (cur->is_multipart) {
			if (n > cur->n_children)
				return NULL;
			cur = &cur->children[n - 1];
		} else if (!message || n != 1) {
			return NULL;
		}
		/* The next number goes into an encapsulated message. */
		message = false;
		if (i + 1 < depth && cur->is_message_rfc822 &&
		    cur->n_children == 1) {
			cur = &cur->children[0];
			message = true;
		}
	}
	return cur;
}

const struct mime_part *
mime_imap_section_message(const struct mime_part *part)
{
	if (part->is_message_rfc822 && part->n_children == 1)
		return &part->children[0];
	return NULL;
}

void
mime_header_filter(const char *msg, size_t start, size_t end,
    const char *const *fields, size_t n_fields, bool not, struct buf *out)
{
	struct mime_header_field f;
	size_t pos = start;

	while (mime_header_field_next(msg, end, &pos, &f)) {
		bool match = false;

		for (size_t i = 0; i < n_fields && !match; i++)
			match = mime_header_field_is(msg, &f, fields[i]);
		if (match == not)
			continue;
		if (buf_append(out, msg + f.start, f.end - f.start) < 0)
			return;
		if (msg[f.end - 1] != '\n' && buf_append(out, "\r\n", 2) < 0)
			return;
	}
	(void)buf_append(out, "\r\n", 2);
}
