/*
 * fuzz_mime.c - the MIME parser and everything built on it, on arbitrary
 * message bytes: part tree invariants, ENVELOPE/BODY/BODYSTRUCTURE
 * (deterministic, and well-formed IMAP: balanced parentheses outside
 * strings, exact literal lengths), sections, header filters, transfer
 * and charset decoding, RFC 2047, text extraction and matching.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "mime/mime-decode.h"
#include "mime/mime-imap.h"
#include "mime/mime.h"

/* Renderings get this much room; a message of the fuzzer's size fits. */
#define FUZZ_OUT_MAX (4u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks that s is a sequence of IMAP atoms, strings and lists. */
static void
fuzz_check_imap(const char *s, size_t n)
{
	size_t depth = 0, i = 0;

	while (i < n) {
		char c = s[i];

		if (c == '(') {
			depth++;
			i++;
		} else if (c == ')') {
			if (depth == 0)
				abort();
			depth--;
			i++;
		} else if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0' ||
				    (unsigned char)s[i] >= 0x80)
					abort();
				if (s[i] == '\\') {
					i++;
					if (i >= n || (s[i] != '"' && s[i] != '\\'))
						abort();
				}
			}
			if (i >= n)
				abort();
			i++;
		} else if (c == '{') {
			size_t len = 0;

			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				len = len * 10 + (size_t)(s[i] - '0');
			if (n - i < 3 || s[i] != '}' || s[i + 1] != '\r' ||
			    s[i + 2] != '\n' || n - i - 3 < len)
				abort();
			i += 3;
			if (memchr(s + i, '\0', len) != NULL)
				abort();
			i += len;
		} else if (c == ' ' || (c >= '0' && c <= '9') || c == 'N' ||
		    c == 'I' || c == 'L') {
			i++;
		} else {
			abort();
		}
	}
	if (depth != 0)
		abort();
}

static void
fuzz_render(const char *msg, size_t size, const struct mime_part *root,
    int what)
{
	struct buf a, b;
	int ra, rb;

	buf_init(&a, FUZZ_OUT_MAX);
	buf_init(&b, FUZZ_OUT_MAX);
	if (what == 0) {
		ra = mime_imap_envelope(msg, size, root, &a);
		rb = mime_imap_envelope(msg, size, root, &b);
	} else {
		ra = mime_imap_bodystructure(msg, size, root, what == 2, &a);
		rb = mime_imap_bodystructure(msg, size, root, what == 2, &b);
	}
	if (ra != rb || a.len != b.len ||
	    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
		abort();
	if (ra == 0)
		fuzz_check_imap(a.data != NULL ? a.data : "", a.len);
	buf_release(&a);
	buf_release(&b);
}

/* Tree invariants, and each leaf decoded. */
static void
fuzz_walk(const char *msg, size_t size, const struct mime_part *root)
{
	const struct mime_part *p = root;
	struct buf dec;
	const char *error;

	buf_init(&dec, FUZZ_OUT_MAX);
	while (p != NULL) {
		if (p->header_start > p->body_start || p->body_start > p->body_end ||
		    p->body_end > size || p->type == NULL || p->subtype == NULL)
			abort();
		if (p->is_message_rfc822 && (p->n_children != 1 ||
		    p->children[0].header_start != p->body_start))
			abort();
		for (size_t i = 0; i < p->n_children; i++) {
			const struct mime_part *c = &p->children[i];

			if (c->parent != p || c->header_start < p->body_start ||
			    c->body_end > p->body_end ||
			    (i > 0 && c->header_start < p->children[i - 1].body_end))
				abort();
		}
		if (p->n_children > 0) {
			p = &p->children[0];
			continue;
		}
		buf_reset(&dec);
		(void)mime_body_decode(p->encoding, msg + p->body_start,
		    p->body_end - p->body_start, &dec, &error);
		for (;;) {
			if (p == root) {
				p = NULL;
				break;
			}
			if ((size_t)(p - p->parent->children) + 1 <
			    p->parent->n_children) {
				p++;
				break;
			}
			p = p->parent;
		}
	}
	buf_release(&dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_new(4096);
	const char *msg = (const char *)data, *error;
	static const uint32_t paths[][3] = {
		{ 1, 0, 0 }, { 2, 0, 0 }, { 1, 1, 0 }, { 2, 1, 0 }, { 1, 2, 1 },
		{ 2, 2, 1 }, { 3, 1, 1 },
	};
	static const char *const fields[] = { "Subject", "content-type", "X" };
	struct mime_part *root;
	struct buf out;

	if (mime_parse(msg, size, pool, &root, &error) < 0)
		abort();
	if (root->header_start != 0 || root->body_end != size)
		abort();
	fuzz_walk(msg, size, root);
	fuzz_render(msg, size, root, 0);
	fuzz_render(msg, size, root, 1);
	fuzz_render(msg, size, root, 2);

	buf_init(&out, FUZZ_OUT_MAX);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (size_t depth = 0; depth <= 3 && (depth == 0 ||
		    paths[i][depth - 1] != 0); depth++) {
			const struct mime_part *p = mime_imap_section(root, paths[i],
			    depth);
			const struct mime_part *m;

			if (p == NULL)
				continue;
			m = mime_imap_section_message(p);
			buf_reset(&out);
			mime_header_filter(msg, p->header_start, p->body_start,
			    fields, 3, depth % 2 == 0, &out);
			if (out.len < 2 || memcmp(out.data + out.len - 2, "\r\n", 2) != 0)
				abort();
			if (m != NULL) {
				buf_reset(&out);
				if (mime_imap_envelope(msg, size, m, &out) < 0)
					abort();
			}
		}
	}
	/* Small output limits exercise the cuts. */
	for (size_t max = 0; max < 8; max += 3) {
		struct buf small;

		buf_init(&small, max);
		mime_text_extract(msg, size, root, &small);
		if (small.len > max)
			abort();
		buf_release(&small);
	}
	buf_reset(&out);
	mime_text_extract(msg, size, root, &out);
	if (!mime_utf8_is_valid(out.data != NULL ? out.data : "", out.len))
		abort();
	if (size > 0 && out.len > 0)
		(void)mime_text_contains(out.data, out.len, msg,
		    size < 16 ? size : 16);
	buf_reset(&out);
	mime_header_text(msg, size, root, "subject", &out);
	if (!mime_utf8_is_valid(out.data != NULL ? out.data : "", out.len))
		abort();
	buf_reset(&out);
	mime_header_decode(msg, size, &out);
	if (!mime_utf8_is_valid(out.data != NULL ? out.data : "", out.len))
		abort();
	/* The first line as a charset name, the rest as text in it. */
	{
		const char *nl = memchr(msg, '\n', size < 80 ? size : 80);

		if (nl != NULL) {
			char *cs = pool_strndup(pool, msg, (size_t)(nl - msg));

			buf_reset(&out);
			if (mime_charset_to_utf8(cs, nl + 1,
			    size - (size_t)(nl + 1 - msg), &out) == 0 &&
			    !mime_utf8_is_valid(out.data != NULL ? out.data : "",
			    out.len))
				abort();
		}
	}
	buf_release(&out);
	pool_free(&pool);
	return 0;
}
