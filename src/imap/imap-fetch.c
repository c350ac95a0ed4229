/*
 * imap-fetch.c - IMAP commands on messages: FETCH, STORE, COPY, MOVE,
 * EXPUNGE, UID EXPUNGE, CLOSE and APPEND.
 *
 * RFC 9051 6.4 and 7.5.2 (FETCH items), RFC 3501; RFC 3516 BINARY,
 * RFC 4315 UIDPLUS (APPENDUID, COPYUID, UID EXPUNGE), RFC 6851 MOVE,
 * RFC 7162 CONDSTORE (MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE) and QRESYNC
 * (VANISHED), RFC 7888 LITERAL+.
 *
 * Writes (STORE, COPY, MOVE, EXPUNGE, APPEND, the \Seen that BODY[]
 * sets) go to the delivery worker and the command waits for them: a
 * reply is sent only once the change is committed (and fsynced). A long
 * FETCH is produced in steps of IMAP_FETCH_CHUNK messages and waits
 * while its output is above IMAP_OUTPUT_HIGH.
 *
 * SECURITY: the fetch attributes, section specs and partial ranges are
 * peer data: parsed with explicit limits (IMAP_SECTION_DEPTH_MAX,
 * IMAP_FETCH_ITEMS_MAX, IMAP_HEADER_FIELDS_MAX); offsets are checked
 * against the message size. Message bodies are opened through the store
 * only.
 */
#include "imap/imap-private.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "filter/bayes.h"
#include "imap/imap-date.h"
#include "mime/header.h"
#include "mime/mime-decode.h"
#include "mime/mime-imap.h"
#include "mime/mime.h"
#include "store/store.h"

#define IMAP_FETCH_ITEMS_MAX 64		/* attributes in one FETCH */
#define IMAP_SECTION_DEPTH_MAX 32	/* numbers in a section part */
#define IMAP_HEADER_FIELDS_MAX 64	/* names in HEADER.FIELDS */

enum imap_fetch_type {
	FETCH_UID,
	FETCH_FLAGS,
	FETCH_INTERNALDATE,
	FETCH_RFC822_SIZE,
	FETCH_ENVELOPE,
	FETCH_BODYSTRUCTURE,
	FETCH_BODY_STRUCT,	/* BODY without a section */
	FETCH_MODSEQ,
	FETCH_RFC822,
	FETCH_RFC822_HEADER,
	FETCH_RFC822_TEXT,
	FETCH_BODY,		/* BODY[section]<partial> */
	FETCH_BINARY,
	FETCH_BINARY_SIZE,
};

enum imap_section_spec {
	SECTION_ALL,		/* the part (or message) as a whole */
	SECTION_HEADER,
	SECTION_HEADER_FIELDS,
	SECTION_HEADER_FIELDS_NOT,
	SECTION_TEXT,
	SECTION_MIME,
};

struct imap_fetch_item {
	enum imap_fetch_type type;
	bool peek;
	uint32_t path[IMAP_SECTION_DEPTH_MAX];
	size_t depth;
	enum imap_section_spec spec;
	const char **fields;
	size_t n_fields;
	bool partial;
	uint64_t partial_start, partial_len;
	const char *echo;	/* "BODY[...]" as the reply names it */
};

struct imap_cmd_ctx {
	struct imap_fetch_item items[IMAP_FETCH_ITEMS_MAX];
	size_t n_items;
	bool need_body;		/* some item reads the message itself */
	bool sets_seen;
	uint64_t changedsince;
	bool vanished;
	uint32_t *ranges;	/* UID ranges of the set */
	size_t n_ranges;
	size_t next;		/* next view index to look at */
	uint64_t seen_modseq;	/* MODSEQ of our own \Seen change */
	uint32_t *reported;	/* UIDs whose FLAGS we sent */
	size_t n_reported, cap_reported;
	bool unknown_cte;
	struct buf out;
};

void
imap_cmd_ctx_free(struct imap_conn *c)
{
	struct imap_cmd_ctx *f = c->cmd;

	if (f == NULL)
		return;
	free(f->reported);
	buf_release(&f->out);
	free(f);
	c->cmd = NULL;
}

/* --- FETCH attribute parsing --- */

static int
imap_fetch_section(struct imap_conn *c, struct imap_fetch_item *it,
    const char *s, size_t len, const char **error_r)
{
	const char *p = s, *end = s + len;

	it->spec = SECTION_ALL;
	/* part numbers: 1.2.3 */
	while (p < end && isdigit((unsigned char)*p)) {
		uint32_t n = 0;

		while (p < end && isdigit((unsigned char)*p)) {
			if (n > 100000000) {
				*error_r = "Invalid section number";
				return -1;
			}
			n = n * 10 + (uint32_t)(*p++ - '0');
		}
		if (n == 0 || it->depth == IMAP_SECTION_DEPTH_MAX) {
			*error_r = "Invalid section number";
			return -1;
		}
		it->path[it->depth++] = n;
		if (p < end && *p == '.')
			p++;
		else
			break;
	}
	if (p == end)
		return 0;
	if ((size_t)(end - p) == 6 && strncasecmp(p, "HEADER", 6) == 0) {
		it->spec = SECTION_HEADER;
	} else if ((size_t)(end - p) == 4 && strncasecmp(p, "TEXT", 4) == 0) {
		it->spec = SECTION_TEXT;
	} else if ((size_t)(end - p) == 4 && strncasecmp(p, "MIME", 4) == 0 &&
	    it->depth > 0) {
		it->spec = SECTION_MIME;
	} else if ((size_t)(end - p) > 13 &&
	    strncasecmp(p, "HEADER.FIELDS", 13) == 0) {
		const char *q = p + 13;
		const char **fields;
		size_t n = 0;

		it->spec = SECTION_HEADER_FIELDS;
		if ((size_t)(end - q) > 4 && strncasecmp(q, ".NOT", 4) == 0) {
			it->spec = SECTION_HEADER_FIELDS_NOT;
			q += 4;
		}
		if (end - q < 3 || q[0] != ' ' || q[1] != '(' ||
		    end[-1] != ')') {
			*error_r = "Invalid HEADER.FIELDS";
			return -1;
		}
		q += 2;
		fields = pool_alloc(c->cmd_pool,
		    IMAP_HEADER_FIELDS_MAX * sizeof(*fields));
		while (q < end - 1) {
			const char *w = q;
			size_t wl;

			while (q < end - 1 && *q != ' ')
				q++;
			wl = (size_t)(q - w);
			/* quoted field names: drop the quotes */
			if (wl >= 2 && w[0] == '"' && w[wl - 1] == '"') {
				w++;
				wl -= 2;
			}
			if (wl == 0 || n == IMAP_HEADER_FIELDS_MAX) {
				*error_r = "Invalid HEADER.FIELDS list";
				return -1;
			}
			for (size_t i = 0; i < wl; i++) {
				unsigned char ch = (unsigned char)w[i];

				/* RFC 5322 ftext */
				if (ch < 33 || ch > 126 || ch == ':') {
					*error_r = "Invalid header field name";
					return -1;
				}
			}
			fields[n++] = pool_strndup(c->cmd_pool, w, wl);
			while (q < end - 1 && *q == ' ')
				q++;
		}
		if (n == 0) {
			*error_r = "Empty HEADER.FIELDS list";
			return -1;
		}
		it->fields = fields;
		it->n_fields = n;
	} else {
		*error_r = "Invalid section";
		return -1;
	}
	if (it->type != FETCH_BODY) {
		*error_r = "BINARY takes part numbers only";
		return -1;
	}
	return 0;
}

/* Parses one attribute atom (BODY.PEEK[1.2]<0.100>, FLAGS, ...). */
static int
imap_fetch_item_parse(struct imap_conn *c, struct imap_cmd_ctx *f,
    const char *s, const char **error_r)
{
	static const struct {
		const char *name;
		enum imap_fetch_type type;
	} simple[] = {
		{ "UID", FETCH_UID }, { "FLAGS", FETCH_FLAGS },
		{ "INTERNALDATE", FETCH_INTERNALDATE },
		{ "RFC822.SIZE", FETCH_RFC822_SIZE },
		{ "ENVELOPE", FETCH_ENVELOPE },
		{ "BODYSTRUCTURE", FETCH_BODYSTRUCTURE },
		{ "BODY", FETCH_BODY_STRUCT }, { "MODSEQ", FETCH_MODSEQ },
		{ "RFC822", FETCH_RFC822 },
		{ "RFC822.HEADER", FETCH_RFC822_HEADER },
		{ "RFC822.TEXT", FETCH_RFC822_TEXT },
	};
	struct imap_fetch_item *it;
	const char *br = strchr(s, '['), *close, *p;
	size_t name_len = br != NULL ? (size_t)(br - s) : strlen(s);

	if (f->n_items == IMAP_FETCH_ITEMS_MAX) {
		*error_r = "Too many FETCH items";
		return -1;
	}
	it = &f->items[f->n_items];
	memset(it, 0, sizeof(*it));
	if (br == NULL) {
		for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]);
		    i++) {
			if (strcasecmp(s, simple[i].name) == 0) {
				it->type = simple[i].type;
				f->n_items++;
				if (it->type == FETCH_RFC822 ||
				    it->type == FETCH_RFC822_TEXT)
					f->sets_seen = true;
				/* ENVELOPE, BODY and BODYSTRUCTURE come
				 * from the store's cache when it has them
				 * (imap_fetch_needs_message) */
				if (it->type >= FETCH_RFC822)
					f->need_body = true;
				if (it->type == FETCH_MODSEQ)
					c->condstore = true;
				return 0;
			}
		}
		*error_r = "Unknown FETCH item";
		return -1;
	}
	if (name_len == 4 && strncasecmp(s, "BODY", 4) == 0) {
		it->type = FETCH_BODY;
	} else if (name_len == 9 && strncasecmp(s, "BODY.PEEK", 9) == 0) {
		it->type = FETCH_BODY;
		it->peek = true;
	} else if (name_len == 6 && strncasecmp(s, "BINARY", 6) == 0) {
		it->type = FETCH_BINARY;
	} else if (name_len == 11 && strncasecmp(s, "BINARY.PEEK", 11) == 0) {
		it->type = FETCH_BINARY;
		it->peek = true;
	} else if (name_len == 11 && strncasecmp(s, "BINARY.SIZE", 11) == 0) {
		it->type = FETCH_BINARY_SIZE;
		it->peek = true;
	} else {
		*error_r = "Unknown FETCH item";
		return -1;
	}
	close = strchr(br, ']');
	if (close == NULL) {
		*error_r = "Missing ]";
		return -1;
	}
	if (imap_fetch_section(c, it, br + 1, (size_t)(close - br - 1),
	    error_r) < 0)
		return -1;
	p = close + 1;
	if (*p == '<') {
		char *endp;
		unsigned long long a, b;

		if (it->type == FETCH_BINARY_SIZE) {
			*error_r = "BINARY.SIZE takes no partial";
			return -1;
		}
		errno = 0;
		a = strtoull(p + 1, &endp, 10);
		if (errno != 0 || endp == p + 1 || *endp != '.' ||
		    !isdigit((unsigned char)endp[1])) {
			*error_r = "Invalid partial";
			return -1;
		}
		b = strtoull(endp + 1, &endp, 10);
		if (errno != 0 || *endp != '>' || endp[1] != '\0' || b == 0 ||
		    a > UINT32_MAX || b > UINT32_MAX) {
			*error_r = "Invalid partial";
			return -1;
		}
		it->partial = true;
		it->partial_start = a;
		it->partial_len = b;
	} else if (*p != '\0') {
		*error_r = "Junk after section";
		return -1;
	}
	it->echo = pool_printf(c->cmd_pool, "%s[%.*s]",
	    it->type == FETCH_BODY ? "BODY" : it->type == FETCH_BINARY ?
	    "BINARY" : "BINARY.SIZE", (int)(close - br - 1), br + 1);
	if (!it->peek)
		f->sets_seen = true;
	f->need_body = true;
	f->n_items++;
	return 0;
}

/* --- FETCH rendering --- */

/* Reads a message body whole into out. Returns 0 or -1. */
static int
imap_message_buf(struct imap_conn *c, const struct store_message_meta *m,
    struct buf *out)
{
	char *data;

	if (imap_message_read(c, m, &data) < 0)
		return -1;
	buf_release(out);
	out->data = data;
	out->len = m->size;
	out->cap = m->size;
	out->max = m->size;
	return 0;
}

/* Appends a literal (literal8 if binary with NUL) with the bytes. */
static void
imap_literal_write(struct buf *out, const char *data, size_t len,
    bool binary)
{
	bool nul = binary && memchr(data, '\0', len) != NULL;

	buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len);
	buf_append(out, data, len);
}

/* Finds the bytes a BODY[section] names; returns 0, or -1 if the
 * section does not exist (the reply is then NIL). */
static int
imap_section_bytes(struct imap_conn *c, const struct imap_fetch_item *it,
    const char *msg, size_t len, const struct mime_part *root,
    struct buf *tmp, const char **data_r, size_t *len_r)
{
	const struct mime_part *part = root, *hdr_part;

	if (it->depth > 0) {
		part = mime_imap_section(root, it->path, it->depth);
		if (part == NULL)
			return -1;
	}
	/* HEADER and TEXT of a part need a message/rfc822 part: they are
	 * about the encapsulated message (RFC 9051 6.4.5) */
	hdr_part = part;
	if (it->depth > 0 && (it->spec == SECTION_HEADER ||
	    it->spec == SECTION_TEXT || it->spec == SECTION_HEADER_FIELDS ||
	    it->spec == SECTION_HEADER_FIELDS_NOT)) {
		if (!part->is_message_rfc822 || part->n_children != 1)
			return -1;
		hdr_part = &part->children[0];
	}
	switch (it->spec) {
	case SECTION_ALL:
		if (it->depth == 0) {
			*data_r = msg;
			*len_r = len;
		} else {
			*data_r = msg + part->body_start;
			*len_r = part->body_end - part->body_start;
		}
		return 0;
	case SECTION_MIME:
		*data_r = msg + part->header_start;
		*len_r = part->body_start - part->header_start;
		return 0;
	case SECTION_HEADER:
		*data_r = msg + hdr_part->header_start;
		*len_r = hdr_part->body_start - hdr_part->header_start;
		return 0;
	case SECTION_TEXT:
		*data_r = msg + hdr_part->body_start;
		*len_r = hdr_part->body_end - hdr_part->body_start;
		return 0;
	case SECTION_HEADER_FIELDS:
	case SECTION_HEADER_FIELDS_NOT:
		buf_reset(tmp);
		mime_header_filter(msg, hdr_part->header_start,
		    hdr_part->body_start, it->fields, it->n_fields,
		    it->spec == SECTION_HEADER_FIELDS_NOT, tmp);
		*data_r = tmp->data != NULL ? tmp->data : "";
		*len_r = tmp->len;
		return 0;
	}
	return -1;
}

struct imap_fetch_msg {
	struct imap_conn *c;
	struct imap_cmd_ctx *f;
	struct buf msg;
	struct buf tmp;
	struct pool *pool;
	size_t hint;		/* view index the next message likely has */
};

/* Does some item need more than flags, sizes and dates? */
static bool
imap_fetch_full(const struct imap_cmd_ctx *f)
{
	if (f->need_body)
		return true;
	for (size_t i = 0; i < f->n_items; i++) {
		if (f->items[i].type == FETCH_ENVELOPE ||
		    f->items[i].type == FETCH_BODYSTRUCTURE ||
		    f->items[i].type == FETCH_BODY_STRUCT)
			return true;
	}
	return false;
}

/* Must the message itself be read, or does the store's cache do? */
static bool
imap_fetch_needs_message(const struct imap_cmd_ctx *f,
    const struct store_message_meta *m)
{
	if (f->need_body)
		return true;
	for (size_t i = 0; i < f->n_items; i++) {
		switch (f->items[i].type) {
		case FETCH_ENVELOPE:
			if (m->envelope == NULL)
				return true;
			break;
		case FETCH_BODYSTRUCTURE:
			if (m->bodystructure == NULL)
				return true;
			break;
		case FETCH_BODY_STRUCT:
			if (m->body == NULL)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

static void
imap_fetch_one(struct imap_fetch_msg *fm, const struct store_message_meta *m,
    size_t seq)
{
	struct imap_conn *c = fm->c;
	struct imap_cmd_ctx *f = fm->f;
	struct buf *out = &f->out;
	struct mime_part *root = NULL;
	const char *error;
	bool have_msg = false, first = true, flags_done = false;
	bool add_flags = f->seen_modseq != 0 && m->modseq == f->seen_modseq;

	if (imap_fetch_needs_message(f, m)) {
		if (imap_message_buf(c, m, &fm->msg) == 0) {
			have_msg = true;
			pool_clear(fm->pool);
			if (mime_parse(fm->msg.data, fm->msg.len, fm->pool,
			    &root, &error) < 0)
				root = NULL;
		}
	}
	buf_puts(out, "* ");
	buf_put_uint(out, seq);
	buf_puts(out, " FETCH (");
#define SEP() do { if (!first) buf_puts(out, " "); first = false; } while (0)
	if (c->uid_cmd) {
		SEP();
		buf_puts(out, "UID ");
		buf_put_uint(out, m->uid);
	}
	for (size_t i = 0; i < f->n_items; i++) {
		const struct imap_fetch_item *it = &f->items[i];
		const char *data = NULL;
		size_t len = 0;

		switch (it->type) {
		case FETCH_UID:
			if (c->uid_cmd)
				break;
			SEP();
			buf_puts(out, "UID ");
			buf_put_uint(out, m->uid);
			break;
		case FETCH_FLAGS:
			SEP();
			buf_puts(out, "FLAGS ");
			imap_flags_write(out, m->flags, m->keywords);
			flags_done = true;
			break;
		case FETCH_INTERNALDATE:
			SEP();
			buf_puts(out, "INTERNALDATE ");
			imap_datetime_write(out, m->internal_date);
			break;
		case FETCH_RFC822_SIZE:
			SEP();
			buf_puts(out, "RFC822.SIZE ");
			buf_put_uint(out, m->size);
			break;
		case FETCH_MODSEQ:
			SEP();
			buf_puts(out, "MODSEQ (");
			buf_put_uint(out, m->modseq);
			buf_puts(out, ")");
			break;
		case FETCH_ENVELOPE:
			SEP();
			buf_puts(out, "ENVELOPE ");
			if (m->envelope != NULL)
				buf_puts(out, m->envelope);
			else if (root != NULL)
				mime_imap_envelope(fm->msg.data, fm->msg.len,
				    root, out);
			else
				buf_puts(out, "(NIL NIL NIL NIL NIL NIL NIL "
				    "NIL NIL NIL)");
			break;
		case FETCH_BODYSTRUCTURE:
		case FETCH_BODY_STRUCT: {
			bool ext = it->type == FETCH_BODYSTRUCTURE;
			const char *cached = ext ? m->bodystructure : m->body;

			SEP();
			buf_puts(out, ext ? "BODYSTRUCTURE " : "BODY ");
			if (cached != NULL)
				buf_puts(out, cached);
			else if (root != NULL)
				mime_imap_bodystructure(fm->msg.data,
				    fm->msg.len, root, ext, out);
			else
				buf_puts(out, "(\"text\" \"plain\" NIL NIL NIL "
				    "\"7bit\" 0 0)");
			break;
		}
		case FETCH_RFC822:
		case FETCH_RFC822_HEADER:
		case FETCH_RFC822_TEXT:
			SEP();
			buf_puts(out, it->type == FETCH_RFC822 ? "RFC822 " :
			    it->type == FETCH_RFC822_HEADER ?
			    "RFC822.HEADER " : "RFC822.TEXT ");
			if (!have_msg || root == NULL) {
				buf_puts(out, "NIL");
				break;
			}
			if (it->type == FETCH_RFC822) {
				data = fm->msg.data;
				len = fm->msg.len;
			} else if (it->type == FETCH_RFC822_HEADER) {
				data = fm->msg.data + root->header_start;
				len = root->body_start - root->header_start;
			} else {
				data = fm->msg.data + root->body_start;
				len = root->body_end - root->body_start;
			}
			imap_literal_write(out, data, len, false);
			break;
		case FETCH_BODY:
		case FETCH_BINARY:
		case FETCH_BINARY_SIZE: {
			const char *name = it->echo;
			bool ok = have_msg && root != NULL &&
			    imap_section_bytes(c, it, fm->msg.data,
			    fm->msg.len, root, &fm->tmp, &data, &len) == 0;
			struct buf dec;

			SEP();
			if (it->type == FETCH_BODY) {
				buf_puts(out, name);
			} else {
				/* decode the part's transfer encoding */
				const struct mime_part *part = it->depth > 0 &&
				    root != NULL ? mime_imap_section(root,
				    it->path, it->depth) : NULL;

				buf_puts(out, name);
				buf_init(&dec, c->server->config->
				    max_message_size * 2);
				if (ok && part != NULL && !part->is_multipart &&
				    mime_body_decode(part->encoding, data, len,
				    &dec, &error) < 0) {
					f->unknown_cte = true;
					ok = false;
				}
				if (ok && part != NULL) {
					buf_release(&fm->tmp);
					fm->tmp = dec;
					data = fm->tmp.data != NULL ?
					    fm->tmp.data : "";
					len = fm->tmp.len;
				} else {
					buf_release(&dec);
				}
				if (it->type == FETCH_BINARY_SIZE) {
					if (ok)
						buf_printf(out, " %zu", len);
					else
						buf_puts(out, " 0");
					break;
				}
			}
			if (!ok) {
				buf_puts(out, " NIL");
				break;
			}
			if (it->partial) {
				if (it->partial_start >= len) {
					data = "";
					len = 0;
				} else {
					data += it->partial_start;
					len -= it->partial_start;
					if (len > it->partial_len)
						len = it->partial_len;
				}
				buf_printf(out, "<%llu>",
				    (unsigned long long)it->partial_start);
			}
			buf_puts(out, " ");
			imap_literal_write(out, data, len,
			    it->type == FETCH_BINARY);
			break;
		}
		}
	}
	if (add_flags && !flags_done) {
		/* RFC 9051 6.4.5: the \Seen we just set */
		SEP();
		buf_puts(out, "FLAGS ");
		imap_flags_write(out, m->flags, m->keywords);
		flags_done = true;
	}
	if (f->changedsince > 0 && !c->condstore)
		c->condstore = true;
	/* RFC 7162 3.1.4, 3.2.4: a flag change the client did not ask to
	 * see comes with the UID and MODSEQ once CONDSTORE is on */
	if (c->condstore && (f->changedsince > 0 || add_flags)) {
		bool have_modseq = false, have_uid = c->uid_cmd;

		for (size_t i = 0; i < f->n_items; i++) {
			have_modseq |= f->items[i].type == FETCH_MODSEQ;
			have_uid |= f->items[i].type == FETCH_UID;
		}
		if (!have_modseq) {
			SEP();
			buf_printf(out, "MODSEQ (%llu)",
			    (unsigned long long)m->modseq);
		}
		if (add_flags && !have_uid) {
			SEP();
			buf_printf(out, "UID %u", m->uid);
		}
	}
#undef SEP
	buf_puts(out, ")\r\n");
	if (flags_done) {
		if (f->n_reported == f->cap_reported) {
			f->cap_reported = f->cap_reported == 0 ? 64 :
			    f->cap_reported * 2;
			f->reported = xrealloc(f->reported,
			    f->cap_reported * 2 * sizeof(*f->reported));
		}
		f->reported[2 * f->n_reported] = m->uid;
		f->reported[2 * f->n_reported + 1] = m->uid;
		f->n_reported++;
	}
}

static bool
imap_uid_in_ranges(const uint32_t *r, size_t n, uint32_t uid)
{
	for (size_t i = 0; i < n; i++) {
		if (uid >= r[2 * i] && uid <= r[2 * i + 1])
			return true;
	}
	return false;
}

static int
imap_fetch_cb(void *ctx, const struct store_message_meta *m)
{
	struct imap_fetch_msg *fm = ctx;
	struct imap_cmd_ctx *f = fm->f;
	size_t seq;

	if (!imap_uid_in_ranges(f->ranges, f->n_ranges, m->uid))
		return 0;
	if (f->changedsince > 0 && m->modseq <= f->changedsince)
		return 0;
	/* messages come by UID, mostly one view index after another */
	if (fm->hint < fm->c->view->n && fm->c->view->uids[fm->hint] == m->uid)
		seq = fm->hint + 1;
	else if ((seq = imap_view_seq(fm->c->view, m->uid)) == 0)
		return 0;
	fm->hint = seq;
	imap_fetch_one(fm, m, seq);
	/* Large messages: no more of the chunk until this much is out
	 * (the view index after this message is seq). */
	if (f->out.len > IMAP_OUTPUT_HIGH) {
		f->next = seq;
		return -1;
	}
	return 0;
}

/* Produces the next steps of a FETCH; ends it when all is out. */
void
imap_fetch_resume(struct imap_conn *c)
{
	struct imap_cmd_ctx *f = c->cmd;
	struct imap_view *v = c->view;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct imap_fetch_msg fm = { .c = c, .f = f };
	const char *error;

	c->wait = IMAP_WAIT_NONE;
	buf_init(&fm.msg, SIZE_MAX);
	buf_init(&fm.tmp, SIZE_MAX);
	fm.pool = pool_new(16 * 1024);
	while (f->next < v->n) {
		size_t from = f->next, to = f->next;
		uint32_t r[2];

		/* the next chunk of the view that holds messages of the set */
		while (from < v->n && !imap_uid_in_ranges(f->ranges,
		    f->n_ranges, v->uids[from]))
			from++;
		if (from == v->n) {
			f->next = v->n;
			break;
		}
		to = from + IMAP_FETCH_CHUNK < v->n ? from + IMAP_FETCH_CHUNK :
		    v->n;
		r[0] = v->uids[from];
		r[1] = v->uids[to - 1];
		f->next = to;
		if (store_message_scan(c->server->store, v->id, r, 1,
		    imap_fetch_full(f), imap_fetch_cb, &fm, &error) < 0) {
			log_error("conn=%s imap fetch error=\"%s\"", c->id,
			    error);
			imap_send_buf(c, &f->out);
			buf_release(&fm.msg);
			buf_release(&fm.tmp);
			pool_free(&fm.pool);
			imap_cmd_ctx_free(c);
			imap_reply(c, "NO [SERVERBUG] FETCH failed");
			return;
		}
		imap_send_buf(c, &f->out);
		if (evbuffer_get_length(out) > IMAP_OUTPUT_HIGH &&
		    f->next < v->n) {
			c->wait = IMAP_WAIT_OUTPUT;
			buf_release(&fm.msg);
			buf_release(&fm.tmp);
			pool_free(&fm.pool);
			return;
		}
	}
	buf_release(&fm.msg);
	buf_release(&fm.tmp);
	pool_free(&fm.pool);
	/* the FLAGS we sent need no unsolicited FETCH */
	c->sync_skip = f->reported;
	c->n_sync_skip = f->n_reported;
	if (f->unknown_cte) {
		imap_reply(c, "NO [UNKNOWN-CTE] Cannot decode a part");
	} else {
		imap_reply(c, "OK %sFETCH completed", c->uid_cmd ? "UID " :
		    "");
	}
	imap_cmd_ctx_free(c);
}

/* QRESYNC UID FETCH ... (CHANGEDSINCE n VANISHED): expunged UIDs. */
struct imap_vanished_ctx {
	const uint32_t *ranges;
	size_t n_ranges;
	struct buf out;
};

static void
imap_vanished_cb(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct imap_vanished_ctx *vc = ctx;

	if (!imap_uid_in_ranges(vc->ranges, vc->n_ranges, uid))
		return;
	buf_printf(&vc->out, "%s%u", vc->out.len > 0 ? "," : "", uid);
}

/* The \Seen change a FETCH makes before it answers. */
struct imap_flags_job {
	struct deliverq_job job;
	struct store_flags_change change;
	int ret;
	bool silent;		/* STORE .SILENT */
	bool fetch;		/* the \Seen of a FETCH */
	char error[256];
};

static int
imap_flags_run(struct store *store, struct deliverq_job *job)
{
	struct imap_flags_job *j = (struct imap_flags_job *)job;
	const char *error = "";

	j->ret = store_flags_update(store, &j->change, &error);
	if (j->ret != 0)
		(void)snprintf(j->error, sizeof(j->error), "%s", error);
	return j->ret;
}

static void imap_store_done(struct imap_conn *c, struct imap_flags_job *j);

static void
imap_flags_done(struct deliverq_job *job)
{
	struct imap_flags_job *j = (struct imap_flags_job *)job;
	struct imap_conn *c = imap_write_conn(job);

	if (c == NULL) {
		free(j->change.modified);
		free(j);
		return;
	}
	if (j->ret == 0 && j->change.modseq != 0)
		imap_server_notify(c->server, c->user_id);
	if (j->fetch) {
		if (j->ret == 0)
			c->cmd->seen_modseq = j->change.modseq;
		else
			log_error("conn=%s imap fetch seen error=\"%s\"",
			    c->id, j->error);
		imap_fetch_resume(c);
	} else {
		imap_store_done(c, j);
	}
	free(j->change.modified);
	free(j);
	imap_resume(c);
}

/* The message set of FETCH, STORE, COPY and MOVE: a sequence set within
 * the mailbox (RFC 9051 9: a number past the end, or "*" in an empty
 * mailbox, is BAD), or a UID set, which may name UIDs not in use. Answers
 * BAD and returns -1 when it is neither. */
static int
imap_set_arg(struct imap_conn *c, const struct imap_arg *arg,
    struct imap_seqset *set)
{
	const char *error;

	if (imap_seqset_parse(arg->str, arg->len, c->cmd_pool, set,
	    &error) < 0 || set->saved) {
		imap_bad(c, "%s", set->saved ? "$ is not supported" : error);
		return -1;
	}
	if (!c->uid_cmd && !imap_view_seqset_valid(c->view, set)) {
		imap_bad(c, "No such message");
		return -1;
	}
	return 0;
}

void
imap_cmd_fetch(struct imap_conn *c, const struct imap_command *cmd)
{
	struct imap_cmd_ctx *f;
	struct imap_seqset set;
	const struct imap_arg *list;
	const char *error, *s;
	size_t n;

	if (cmd->n_args < 2 || cmd->n_args > 3 ||
	    cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_bad(c, "FETCH needs a sequence set and items");
		return;
	}
	if (imap_set_arg(c, &cmd->args[0], &set) < 0)
		return;
	f = xcalloc(1, sizeof(*f));
	buf_init(&f->out, SIZE_MAX);
	c->cmd = f;
	if (imap_arg_list(&cmd->args[1], &list, &n)) {
		if (n == 0) {
			imap_cmd_ctx_free(c);
			imap_bad(c, "Empty FETCH item list");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			if (!imap_arg_atom(&list[i], &s) ||
			    imap_fetch_item_parse(c, f, s, &error) < 0) {
				imap_cmd_ctx_free(c);
				imap_bad(c, "%s", list[i].type ==
				    IMAP_ARG_ATOM ? error : "Invalid item");
				return;
			}
		}
	} else if (imap_arg_atom(&cmd->args[1], &s)) {
		/* the macros (RFC 9051 6.4.5) */
		static const char *const all[] = { "FLAGS", "INTERNALDATE",
		    "RFC822.SIZE", "ENVELOPE", "BODY" };
		size_t nm = strcasecmp(s, "ALL") == 0 ? 4 :
		    strcasecmp(s, "FAST") == 0 ? 3 :
		    strcasecmp(s, "FULL") == 0 ? 5 : 0;

		if (nm == 0 && imap_fetch_item_parse(c, f, s, &error) < 0) {
			imap_cmd_ctx_free(c);
			imap_bad(c, "%s", error);
			return;
		}
		for (size_t i = 0; i < nm; i++)
			(void)imap_fetch_item_parse(c, f, all[i], &error);
	} else {
		imap_cmd_ctx_free(c);
		imap_bad(c, "Invalid FETCH items");
		return;
	}
	if (cmd->n_args == 3) {
		const struct imap_arg *mods;
		size_t nmods;

		if (!imap_arg_list(&cmd->args[2], &mods, &nmods)) {
			imap_cmd_ctx_free(c);
			imap_bad(c, "Invalid FETCH modifiers");
			return;
		}
		for (size_t i = 0; i < nmods; i++) {
			if (imap_arg_atom_eq(&mods[i], "CHANGEDSINCE") &&
			    i + 1 < nmods && mods[i + 1].type ==
			    IMAP_ARG_ATOM && imap_number64_parse(
			    mods[i + 1].str, mods[i + 1].len,
			    &f->changedsince) == 0 && f->changedsince > 0) {
				i++;
			} else if (imap_arg_atom_eq(&mods[i], "VANISHED") &&
			    c->qresync && c->uid_cmd) {
				f->vanished = true;
			} else {
				imap_cmd_ctx_free(c);
				imap_bad(c, "Invalid FETCH modifier");
				return;
			}
		}
		if (f->vanished && f->changedsince == 0) {
			imap_cmd_ctx_free(c);
			imap_bad(c, "VANISHED needs CHANGEDSINCE");
			return;
		}
		c->condstore = true;
	}
	f->n_ranges = imap_view_ranges(c->view, &set, c->uid_cmd, c->cmd_pool,
	    &f->ranges);
	if (f->vanished) {
		struct imap_vanished_ctx vc = { .ranges = f->ranges,
		    .n_ranges = f->n_ranges };
		struct store_mailbox_state mb;

		/* expunged UIDs in the set, above the view's too */
		if (set.n > 0) {
			uint32_t *r = pool_alloc(c->cmd_pool,
			    2 * set.n * sizeof(*r));

			for (size_t i = 0; i < set.n; i++) {
				r[2 * i] = set.ranges[i].lo;
				r[2 * i + 1] = set.ranges[i].hi;
			}
			vc.ranges = r;
			vc.n_ranges = set.n;
		}
		buf_init(&vc.out, SIZE_MAX);
		if (store_mailbox_changes(c->server->store, c->view->id,
		    f->changedsince, &mb, NULL, imap_vanished_cb, &vc,
		    &error) == 0 && vc.out.len > 0)
			imap_send(c, "* VANISHED (EARLIER) %s", vc.out.data);
		buf_release(&vc.out);
	}
	if (f->sets_seen && !c->view->readonly && f->n_ranges > 0) {
		struct imap_flags_job *j = xcalloc(1, sizeof(*j));

		j->fetch = true;
		j->change.mailbox_id = c->view->id;
		j->change.ranges = f->ranges;
		j->change.n_ranges = f->n_ranges;
		j->change.mode = STORE_FLAGS_ADD;
		j->change.flags = STORE_FLAG_SEEN;
		j->job.run = imap_flags_run;
		j->job.done = imap_flags_done;
		imap_write_submit(c, &j->job);
		return;
	}
	imap_fetch_resume(c);
}

/* --- STORE --- */

struct imap_report_ctx {
	struct imap_conn *c;
	struct buf out;
	bool modseq_only;	/* .SILENT with UNCHANGEDSINCE: the MODSEQ */
	uint64_t modseq;	/* of the messages this STORE changed */
};

static int
imap_report_cb(void *ctx, const struct store_message_meta *m)
{
	struct imap_report_ctx *rc = ctx;
	size_t seq = imap_view_seq(rc->c->view, m->uid);

	if (seq == 0 || (rc->modseq_only && m->modseq != rc->modseq))
		return 0;
	buf_printf(&rc->out, "* %zu FETCH (", seq);
	/* RFC 7162 3.2.4: with CONDSTORE, the UID too */
	if (rc->c->uid_cmd || rc->c->condstore)
		buf_printf(&rc->out, "UID %u ", m->uid);
	if (!rc->modseq_only) {
		buf_puts(&rc->out, "FLAGS ");
		imap_flags_write(&rc->out, m->flags, m->keywords);
		if (rc->c->condstore)
			buf_puts(&rc->out, " ");
	}
	if (rc->c->condstore)
		buf_printf(&rc->out, "MODSEQ (%llu)",
		    (unsigned long long)m->modseq);
	buf_puts(&rc->out, ")\r\n");
	return 0;
}

static void
imap_store_done(struct imap_conn *c, struct imap_flags_job *j)
{
	const char *error;

	if (j->ret != 0) {
		if (j->ret == STORE_E_LIMIT)
			imap_reply(c, "NO [LIMIT] %s", j->error);
		else if (j->ret == STORE_E_NOTFOUND)
			imap_reply(c, "NO [NONEXISTENT] %s", j->error);
		else {
			log_error("conn=%s imap store error=\"%s\"", c->id,
			    j->error);
			imap_reply(c, "NO [SERVERBUG] STORE failed");
		}
		return;
	}
	/* RFC 7162 3.1.3: a conditional STORE tells the new MODSEQs even
	 * when .SILENT */
	if (!j->silent || j->change.conditional) {
		struct imap_report_ctx rc = { .c = c,
		    .modseq_only = j->silent, .modseq = j->change.modseq };

		buf_init(&rc.out, SIZE_MAX);
		if (store_message_scan(c->server->store, c->view->id,
		    j->change.ranges, j->change.n_ranges, false,
		    imap_report_cb, &rc,
		    &error) < 0)
			log_error("conn=%s imap store report error=\"%s\"",
			    c->id, error);
		imap_send_buf(c, &rc.out);
		buf_release(&rc.out);
	}
	c->sync_skip = j->change.ranges;
	c->n_sync_skip = j->change.n_ranges;
	if (j->change.n_modified > 0) {
		struct buf set;

		buf_init(&set, SIZE_MAX);
		if (!c->uid_cmd) {
			/* MODIFIED speaks the command's numbers */
			for (size_t i = 0; i < j->change.n_modified; i++)
				j->change.modified[i] = (uint32_t)imap_view_seq(
				    c->view, j->change.modified[i]);
		}
		imap_numset_write(&set, j->change.modified,
		    j->change.n_modified);
		imap_reply(c, "OK [MODIFIED %s] Conditional STORE failed",
		    set.data);
		buf_release(&set);
		return;
	}
	imap_reply(c, "OK %sSTORE completed", c->uid_cmd ? "UID " : "");
}

void
imap_cmd_store(struct imap_conn *c, const struct imap_command *cmd)
{
	const struct imap_arg *args = cmd->args, *list;
	size_t n_args = cmd->n_args, n;
	struct imap_seqset set;
	struct imap_flags_job *j;
	const char *error, *item, *keywords;
	uint64_t unchangedsince = 0;
	enum store_flags_mode mode;
	unsigned flags;
	bool silent, conditional = false;

	if (n_args < 3 || args[0].type != IMAP_ARG_ATOM) {
		imap_bad(c, "STORE needs a set, an item and flags");
		return;
	}
	if (imap_set_arg(c, &args[0], &set) < 0)
		return;
	args++;
	n_args--;
	if (imap_arg_list(&args[0], &list, &n)) {
		/* RFC 7162 3.1.3: (UNCHANGEDSINCE modseq) */
		if (n != 2 || !imap_arg_atom_eq(&list[0], "UNCHANGEDSINCE") ||
		    list[1].type != IMAP_ARG_ATOM ||
		    imap_number64_parse(list[1].str, list[1].len,
		    &unchangedsince) < 0) {
			imap_bad(c, "Invalid STORE modifier");
			return;
		}
		c->condstore = conditional = true;
		args++;
		n_args--;
	}
	if (n_args < 2 || !imap_arg_atom(&args[0], &item)) {
		imap_bad(c, "STORE needs an item and flags");
		return;
	}
	if (strncasecmp(item, "+FLAGS", 6) == 0) {
		mode = STORE_FLAGS_ADD;
		item += 6;
	} else if (strncasecmp(item, "-FLAGS", 6) == 0) {
		mode = STORE_FLAGS_REMOVE;
		item += 6;
	} else if (strncasecmp(item, "FLAGS", 5) == 0) {
		mode = STORE_FLAGS_REPLACE;
		item += 5;
	} else {
		imap_bad(c, "Unknown STORE item");
		return;
	}
	if (*item != '\0' && strcasecmp(item, ".SILENT") != 0) {
		imap_bad(c, "Unknown STORE item");
		return;
	}
	silent = *item != '\0';
	args++;
	n_args--;
	if (n_args == 1 && imap_arg_list(&args[0], &list, &n)) {
		args = list;
		n_args = n;
	}
	if (imap_flags_parse(args, n_args, c->cmd_pool, &flags, &keywords,
	    &error) < 0) {
		imap_bad(c, "%s", error);
		return;
	}
	if (c->view->readonly) {
		imap_reply(c, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->silent = silent;
	j->change.mailbox_id = c->view->id;
	j->change.n_ranges = imap_view_ranges(c->view, &set, c->uid_cmd,
	    c->cmd_pool, (uint32_t **)&j->change.ranges);
	j->change.mode = mode;
	j->change.flags = flags;
	j->change.keywords = keywords;
	j->change.conditional = conditional;
	j->change.unchangedsince = unchangedsince;
	if (j->change.n_ranges == 0) {
		free(j);
		imap_reply(c, "OK %sSTORE completed", c->uid_cmd ? "UID " :
		    "");
		return;
	}
	/* .SILENT hides this STORE's own changes (the sync at its end
	 * skips the range): first tell what other sessions changed. */
	if (silent)
		(void)imap_sync(c, false, NULL, 0);
	j->job.run = imap_flags_run;
	j->job.done = imap_flags_done;
	imap_write_submit(c, &j->job);
}

/* --- COPY / MOVE --- */

struct imap_copy_job {
	struct deliverq_job job;
	struct store_copy copy;
	int ret;
	char error[256];
	/* The classifier learns from copies into and out of Junk
	 * (filter/bayes.h): what, and the destination's id. */
	struct bayes_config bayes;
	enum bayes_copy_learn learn;
	int64_t learn_mailbox;
};

static int
imap_copy_run(struct store *store, struct deliverq_job *job)
{
	struct imap_copy_job *j = (struct imap_copy_job *)job;
	const char *error = "";

	j->ret = store_message_copy(store, &j->copy, &error);
	if (j->ret != 0)
		(void)snprintf(j->error, sizeof(j->error), "%s", error);
	else if (j->copy.n > 0)
		j->learn = bayes_copy_class(store, &j->bayes, j->copy.user_id,
		    j->copy.from_mailbox_id, j->copy.to, &j->learn_mailbox);
	return j->ret;
}

static void
imap_copy_done(struct deliverq_job *job)
{
	struct imap_copy_job *j = (struct imap_copy_job *)job;
	struct deliverq *dq = ((struct imap_conn *)job->ctx)->server->deliverq;
	struct imap_conn *c = imap_write_conn(job);
	const char *what = j->copy.move ? "MOVE" : "COPY";
	struct buf code;

	/* after the commit, whether or not the session is still there; the
	 * reply does not wait for it */
	if (j->ret == 0 && j->learn != BAYES_COPY_NONE)
		bayes_learn_copy_submit(dq, &j->bayes, j->copy.user_id,
		    j->learn_mailbox, j->learn, j->copy.to_uids, j->copy.n);
	if (c == NULL)
		goto out;
	if (j->ret != 0) {
		if (j->ret == STORE_E_NOTFOUND)
			imap_reply(c, "NO [TRYCREATE] No such mailbox");
		else {
			log_error("conn=%s imap %s error=\"%s\"", c->id, what,
			    j->error);
			imap_reply(c, "NO [SERVERBUG] %s failed", what);
		}
		imap_resume(c);
		goto out;
	}
	imap_server_notify(c->server, c->user_id);
	buf_init(&code, SIZE_MAX);
	if (j->copy.n > 0) {
		buf_printf(&code, "COPYUID %u ", j->copy.uidvalidity);
		imap_numset_write(&code, j->copy.from_uids, j->copy.n);
		buf_puts(&code, " ");
		imap_numset_write(&code, j->copy.to_uids, j->copy.n);
	}
	if (j->copy.move) {
		/* RFC 6851 4.3: COPYUID comes untagged, before the
		 * EXPUNGEs */
		if (code.len > 0)
			imap_send(c, "* OK [%s] Moved", code.data);
		imap_reply(c, "OK %sMOVE completed", c->uid_cmd ? "UID " : "");
	} else if (code.len > 0) {
		imap_reply(c, "OK [%s] %sCOPY completed", code.data,
		    c->uid_cmd ? "UID " : "");
	} else {
		imap_reply(c, "OK %sCOPY completed", c->uid_cmd ? "UID " : "");
	}
	buf_release(&code);
	imap_resume(c);
out:
	free(j->copy.from_uids);
	free(j->copy.to_uids);
	free((char *)j->copy.to);
	free(j);
}

void
imap_cmd_copy(struct imap_conn *c, const struct imap_command *cmd)
{
	bool move = strcmp(cmd->name, "MOVE") == 0;
	struct imap_seqset set;
	struct imap_copy_job *j;
	struct buf name;

	if (cmd->n_args != 2 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_bad(c, "%s needs a set and a mailbox", cmd->name);
		return;
	}
	if (imap_set_arg(c, &cmd->args[0], &set) < 0)
		return;
	buf_init(&name, STORE_MAILBOX_NAME_MAX);
	if (imap_mailbox_arg(c, &cmd->args[1], &name) < 0) {
		buf_release(&name);
		return;
	}
	if (move && c->view->readonly) {
		buf_release(&name);
		imap_reply(c, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->copy.from_mailbox_id = c->view->id;
	j->copy.n_ranges = imap_view_ranges(c->view, &set, c->uid_cmd,
	    c->cmd_pool, (uint32_t **)&j->copy.ranges);
	j->copy.user_id = c->user_id;
	j->copy.to = xstrdup(name.data);
	j->copy.move = move;
	bayes_config_from(c->server->config, &j->bayes);
	buf_release(&name);
	j->job.run = imap_copy_run;
	j->job.done = imap_copy_done;
	imap_write_submit(c, &j->job);
}

/* --- EXPUNGE / CLOSE --- */

struct imap_expunge_job {
	struct deliverq_job job;
	int64_t mailbox_id;
	uint32_t *ranges;	/* NULL: the whole mailbox */
	size_t n_ranges;
	bool close;
	size_t n;
	int ret;
	char error[256];
};

static int
imap_expunge_run(struct store *store, struct deliverq_job *job)
{
	struct imap_expunge_job *j = (struct imap_expunge_job *)job;
	const char *error = "";

	j->ret = store_expunge(store, j->mailbox_id, j->ranges, j->n_ranges,
	    &j->n, &error);
	if (j->ret != 0)
		(void)snprintf(j->error, sizeof(j->error), "%s", error);
	return j->ret;
}

static void
imap_expunge_done(struct deliverq_job *job)
{
	struct imap_expunge_job *j = (struct imap_expunge_job *)job;
	struct imap_conn *c = imap_write_conn(job);

	if (c == NULL) {
		free(j);
		return;
	}
	if (j->ret != 0)
		log_error("conn=%s imap expunge error=\"%s\"", c->id, j->error);
	if (j->ret == 0 && j->n > 0)
		imap_server_notify(c->server, c->user_id);
	if (j->close) {
		/* RFC 9051 6.4.1: no EXPUNGE responses for CLOSE */
		imap_view_free(&c->view);
		c->state = IMAP_ST_AUTH;
		imap_reply(c, "OK CLOSE completed");
	} else if (j->ret != 0) {
		imap_reply(c, "NO [SERVERBUG] EXPUNGE failed");
	} else {
		imap_reply(c, "OK %sEXPUNGE completed", c->uid_cmd ? "UID " :
		    "");
	}
	free(j);
	imap_resume(c);
}

static void
imap_expunge_submit(struct imap_conn *c, uint32_t *ranges, size_t n,
    bool close)
{
	struct imap_expunge_job *j = xcalloc(1, sizeof(*j));

	j->mailbox_id = c->view->id;
	j->ranges = ranges;
	j->n_ranges = n;
	j->close = close;
	j->job.run = imap_expunge_run;
	j->job.done = imap_expunge_done;
	imap_write_submit(c, &j->job);
}

void
imap_cmd_expunge(struct imap_conn *c, const struct imap_command *cmd)
{
	struct imap_seqset set;
	uint32_t *ranges = NULL;
	const char *error;
	size_t n = 0;

	if (c->uid_cmd) {
		if (cmd->n_args != 1 || cmd->args[0].type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(cmd->args[0].str, cmd->args[0].len,
		    c->cmd_pool, &set, &error) < 0 || set.saved) {
			imap_bad(c, "UID EXPUNGE needs a UID set");
			return;
		}
		n = imap_view_ranges(c->view, &set, true, c->cmd_pool, &ranges);
		if (n == 0) {
			imap_reply(c, "OK UID EXPUNGE completed");
			return;
		}
	} else if (cmd->n_args != 0) {
		imap_bad(c, "EXPUNGE takes no arguments");
		return;
	}
	if (c->view->readonly) {
		imap_reply(c, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	imap_expunge_submit(c, ranges, n, false);
}

void
imap_cmd_close(struct imap_conn *c, const struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_bad(c, "CLOSE takes no arguments");
		return;
	}
	if (c->view->readonly) {
		imap_view_free(&c->view);
		c->state = IMAP_ST_AUTH;
		imap_reply(c, "OK CLOSE completed");
		return;
	}
	imap_expunge_submit(c, NULL, 0, true);
}

/* --- APPEND --- */

struct imap_append_job {
	struct deliverq_job job;
	int64_t user;		/* delivery.users points here */
	char *mailbox;
	struct pool *pool;
};

static void
imap_append_done(struct deliverq_job *job)
{
	struct imap_append_job *j = (struct imap_append_job *)job;
	struct imap_conn *c = imap_write_conn(job);
	struct store_delivery *d = &j->job.delivery;

	if (c != NULL) {
		if (d->result == 0 && d->uid_r != 0) {
			log_info("conn=%s imap append mailbox_id=- uid=%u "
			    "size=%zu", c->id, d->uid_r, d->size);
			imap_reply(c, "OK [APPENDUID %u %u] APPEND completed",
			    d->uidvalidity_r, d->uid_r);
		} else {
			log_error("conn=%s imap append error=\"%s\"", c->id,
			    d->error != NULL ? d->error : "not stored");
			imap_reply(c, "NO [SERVERBUG] APPEND failed");
		}
	}
	pool_free(&j->pool);
	free(j->mailbox);
	free(j);
	if (c != NULL)
		imap_resume(c);
}

void
imap_cmd_append(struct imap_conn *c, const struct imap_command *cmd)
{
	const struct imap_arg *args = cmd->args, *list, *msg = NULL;
	size_t n_args = cmd->n_args, n;
	struct store_mailbox_state mb;
	struct imap_append_job *j;
	struct store_delivery *d;
	const char *error, *keywords = "";
	unsigned flags = 0;
	time_t date = time(NULL);
	struct buf name;
	int rc;

	if (n_args < 2) {
		imap_bad(c, "APPEND needs a mailbox and a message");
		return;
	}
	/* mailbox [(flags)] [date-time] literal | UTF8 (literal8) */
	for (size_t i = 1; i < n_args; i++) {
		const struct imap_arg *a = &args[i];

		if (i == n_args - 1 && a->type == IMAP_ARG_LITERAL) {
			msg = a;
		} else if (i == n_args - 2 && imap_arg_atom_eq(a, "UTF8") &&
		    imap_arg_list(&args[i + 1], &list, &n) && n == 1 &&
		    list[0].type == IMAP_ARG_LITERAL && c->utf8) {
			msg = &list[0];	/* RFC 6855 4 */
			break;
		} else if (i == 1 && imap_arg_list(a, &list, &n)) {
			if (imap_flags_parse(list, n, c->cmd_pool, &flags,
			    &keywords, &error) < 0) {
				imap_bad(c, "%s", error);
				return;
			}
		} else if (a->type == IMAP_ARG_STRING &&
		    imap_datetime_parse(a->str, a->len, &date) == 0) {
			continue;
		} else {
			imap_bad(c, "Invalid APPEND arguments");
			return;
		}
	}
	if (msg == NULL) {
		imap_bad(c, "APPEND needs a message literal");
		return;
	}
	if (msg->len == 0) {
		imap_reply(c, "NO Empty message");
		return;
	}
	if (msg->len > c->server->config->max_message_size) {
		imap_reply(c, "NO [TOOBIG] Message too large");
		return;
	}
	buf_init(&name, STORE_MAILBOX_NAME_MAX);
	if (imap_mailbox_arg(c, &args[0], &name) < 0) {
		buf_release(&name);
		return;
	}
	rc = store_mailbox_find(c->server->store, c->user_id, name.data, &mb,
	    &error);
	if (rc != 0) {
		buf_release(&name);
		imap_reply(c, rc == STORE_E_NOTFOUND ?
		    "NO [TRYCREATE] No such mailbox" :
		    "NO [SERVERBUG] APPEND failed");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->user = c->user_id;
	j->mailbox = xstrdup(mb.name);
	j->pool = pool_new(1024);
	buf_release(&name);
	d = &j->job.delivery;
	/* The literal lives in the parser until the next command is read,
	 * and none is read before this job is done. */
	d->data = msg->str;
	d->size = msg->len;
	d->users = &j->user;
	d->n_users = 1;
	d->mailbox = j->mailbox;
	d->internal_date = date;
	d->envelope_from = "";
	d->hdr_from = header_get(msg->str, msg->len, "From", j->pool);
	d->hdr_subject = header_get(msg->str, msg->len, "Subject", j->pool);
	d->hdr_date = header_get(msg->str, msg->len, "Date", j->pool);
	d->flags = flags;
	d->keywords = pool_strdup(j->pool, keywords);
	j->job.done = imap_append_done;
	imap_write_submit(c, &j->job);
}
