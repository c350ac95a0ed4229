/*
 * test_mime.c - the MIME part tree, IMAP renderings and decoders.
 * RFC 5322, RFC 2045-2047, RFC 2231, RFC 9051 6.4.5 and 7.5.2.
 *
 * Golden files: every tests/data/mime/NAME.eml is parsed, and its
 * BODYSTRUCTURE, BODY, ENVELOPE and extracted text are compared byte for
 * byte with NAME.bodystructure, NAME.body, NAME.envelope and NAME.text
 * (each optional). After a deliberate change, CORREIO_MIME_REGEN=1
 * rewrites them; review the diff before committing it.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/pool.h"
#include "mime/header.h"
#include "mime/mime-decode.h"
#include "mime/mime-imap.h"
#include "mime/mime.h"

#define BIG (64u * 1024 * 1024)

static struct pool *pool;

static int
setup(void **state)
{
	pool = pool_new(4096);
	return 0;
}

static int
teardown(void **state)
{
	pool_free(&pool);
	return 0;
}

/* Reads a whole file; NULL if it does not exist. */
static char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return data;
}

static struct mime_part *
parse(const char *msg, size_t len)
{
	struct mime_part *root = NULL;
	const char *error = NULL;

	assert_int_equal(mime_parse(msg, len, pool, &root, &error), 0);
	assert_non_null(root);
	assert_int_equal(root->header_start, 0);
	assert_int_equal(root->body_end, len);
	return root;
}

static struct mime_part *
parse_str(const char *msg)
{
	return parse(msg, strlen(msg));
}

static char *
bodystructure(const char *msg, const struct mime_part *root, bool extended)
{
	struct buf b;
	char *s;

	buf_init(&b, BIG);
	assert_int_equal(mime_imap_bodystructure(msg, strlen(msg), root,
	    extended, &b), 0);
	s = pool_strdup(pool, b.data != NULL ? b.data : "");
	buf_release(&b);
	return s;
}

static char *
envelope(const char *msg)
{
	struct buf b;
	char *s;

	buf_init(&b, BIG);
	assert_int_equal(mime_imap_envelope(msg, strlen(msg),
	    parse_str(msg), &b), 0);
	s = pool_strdup(pool, b.data != NULL ? b.data : "");
	buf_release(&b);
	return s;
}

/*
 * Golden files.
 */

static void
golden_check(const char *dir, const char *name, const char *ext,
    const struct buf *got, int *checked)
{
	char path[4096];
	size_t len;
	char *want;

	assert_true(snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext) <
	    (int)sizeof(path));
	if (getenv("CORREIO_MIME_REGEN") != NULL) {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(got->data != NULL ? got->data : "", 1,
		    got->len, f), got->len);
		fclose(f);
		return;
	}
	want = read_file(path, &len);
	if (want == NULL)
		return;
	if (len != got->len || memcmp(want, got->data, len) != 0) {
		print_error("%s: got\n%.*s\nwant\n%s\n", path, (int)got->len,
		    got->data != NULL ? got->data : "", want);
		free(want);
		fail();
	}
	free(want);
	(*checked)++;
}

static void
test_golden(void **state)
{
	const char *data = getenv("CORREIO_TEST_DATA");
	char dir[4096];
	struct dirent *e;
	int messages = 0, checked = 0;
	DIR *d;

	assert_non_null(data);
	assert_true(snprintf(dir, sizeof(dir), "%s/mime", data) < (int)sizeof(dir));
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name), len;
		char name[1024], path[4096];
		struct mime_part *root;
		struct buf b;
		char *msg;

		if (n < 5 || strcmp(e->d_name + n - 4, ".eml") != 0)
			continue;
		assert_true(n - 4 < sizeof(name));
		memcpy(name, e->d_name, n - 4);
		name[n - 4] = '\0';
		assert_true(snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) <
		    (int)sizeof(path));
		msg = read_file(path, &len);
		assert_non_null(msg);
		root = parse(msg, len);
		buf_init(&b, BIG);
		assert_int_equal(mime_imap_bodystructure(msg, len, root, true, &b), 0);
		golden_check(dir, name, "bodystructure", &b, &checked);
		buf_reset(&b);
		assert_int_equal(mime_imap_bodystructure(msg, len, root, false, &b), 0);
		golden_check(dir, name, "body", &b, &checked);
		buf_reset(&b);
		assert_int_equal(mime_imap_envelope(msg, len, root, &b), 0);
		golden_check(dir, name, "envelope", &b, &checked);
		buf_reset(&b);
		mime_text_extract(msg, len, root, &b);
		golden_check(dir, name, "text", &b, &checked);
		buf_release(&b);
		free(msg);
		messages++;
	}
	closedir(d);
	assert_true(messages >= 25);
	if (getenv("CORREIO_MIME_REGEN") == NULL)
		assert_true(checked >= 3 * messages);
}

/* RFC 3501 7.4.2 and 6.4.5 examples, also kept as golden files. */
static void
test_rfc_examples(void **state)
{
	static const char *const names[] = { "rfc3501-simple", "rfc3501-multipart" };
	static const char *const body[] = {
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)",
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
		"\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" "
		"\"BASE64\" 4554 73) \"MIXED\")",
	};
	static const char env[] =
	    "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	    "\"IMAP4rev1 WG mtg summary and minutes\" "
	    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	    "((NIL NIL \"imap\" \"cac.washington.edu\")) "
	    "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
	    "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
	    "\"<B27397-0100000@cac.washington.edu>\")";

	for (size_t i = 0; i < 2; i++) {
		char path[4096];
		size_t len;
		char *msg;
		struct mime_part *root;

		assert_true(snprintf(path, sizeof(path), "%s/mime/%s.eml",
		    getenv("CORREIO_TEST_DATA"), names[i]) < (int)sizeof(path));
		msg = read_file(path, &len);
		assert_non_null(msg);
		root = parse(msg, len);
		assert_string_equal(bodystructure(msg, root, false), body[i]);
		if (i == 0) {
			/* BODY[HEADER] of the example is 342 octets. */
			assert_int_equal(root->body_start, 342);
			assert_string_equal(envelope(msg), env);
		}
		free(msg);
	}
}

static void
run_all(const char *msg, size_t len);

/*
 * The part tree.
 */

static void
test_offsets(void **state)
{
	const char *m =
	    "Content-Type: multipart/mixed; boundary=b\r\n"	/* 0..43 */
	    "\r\n"						/* 43..45 */
	    "pre\r\n"						/* 45..50 */
	    "--b\r\n"						/* 50..55 */
	    "Content-Type: text/plain\r\n"			/* 55..81 */
	    "\r\n"						/* 81..83 */
	    "one\r\n"						/* 83..88 */
	    "two\r\n"						/* 88..93 */
	    "\r\n"						/* 93..95 */
	    "--b--\r\n"						/* 95..102 */
	    "epi\r\n";
	struct mime_part *root = parse_str(m), *p;

	assert_true(root->is_multipart);
	assert_int_equal(root->body_start, 45);
	assert_int_equal(root->header_lines, 2);
	assert_int_equal(root->n_children, 1);
	p = &root->children[0];
	assert_ptr_equal(p->parent, root);
	assert_int_equal(p->header_start, 55);
	assert_int_equal(p->body_start, 83);
	/* The CRLF before the delimiter belongs to it (RFC 2046 5.1.1). */
	assert_int_equal(p->body_end, 93);
	assert_int_equal(p->body_lines, 2);
	assert_int_equal(p->header_lines, 2);

	/* LF only, and a body whose last line has no line end. */
	root = parse_str("Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n\nx\n--b\n\ny");
	assert_int_equal(root->n_children, 2);
	assert_int_equal(root->children[0].body_start, 48);
	assert_int_equal(root->children[0].body_end, 49);
	assert_int_equal(root->children[0].body_lines, 0);
	assert_int_equal(root->children[1].body_start, 55);
	assert_int_equal(root->children[1].body_end, 56);

	/* A single part: the body is everything after the empty line. */
	root = parse_str("Subject: x\r\n\r\nbody\r\n");
	assert_false(root->is_multipart);
	assert_string_equal(root->type, "text");
	assert_string_equal(root->subtype, "plain");
	assert_int_equal(root->body_start, 14);
	assert_int_equal(root->body_lines, 1);
	assert_null(root->encoding);
	assert_null(root->params);
}

static void
test_content_type(void **state)
{
	struct mime_part *p;

	p = parse_str("Content-Type: Text/HTML ; Charset=\"ISO-8859-1\" ;"
	    " FORMAT=flowed\r\nContent-Transfer-Encoding: BASE64\r\n\r\n");
	assert_string_equal(p->type, "text");
	assert_string_equal(p->subtype, "html");
	assert_int_equal(p->n_params, 2);
	assert_string_equal(p->params[0].name, "charset");
	assert_string_equal(p->params[0].value, "ISO-8859-1");
	assert_string_equal(mime_param_get(p->params, p->n_params, "format"),
	    "flowed");
	assert_string_equal(p->encoding, "base64");

	/* Comments, quoted-pairs, a missing value, an unquoted value with
	 * spaces, garbage between parameters. */
	p = parse_str("Content-Type: (c) application/x-thing (c2); a=\"q\\\"uo\\\\te\""
	    " (c3); novalue; b = foo bar.txt; @@@; c=\"semi;colon\"\r\n\r\n");
	assert_string_equal(p->type, "application");
	assert_string_equal(p->subtype, "x-thing");
	assert_int_equal(p->n_params, 3);
	assert_string_equal(p->params[0].value, "q\"uo\\te");
	assert_string_equal(p->params[1].value, "foo bar.txt");
	assert_string_equal(p->params[2].value, "semi;colon");

	/* Invalid types fall back to text/plain; duplicate fields: the
	 * first counts. */
	p = parse_str("Content-Type: image\r\nContent-Type: image/png\r\n\r\n");
	assert_string_equal(p->type, "text");
	assert_string_equal(p->subtype, "plain");
	p = parse_str("Content-Type: te(xt/plain\r\n\r\n");
	assert_string_equal(p->type, "text");
	p = parse_str("Content-Type: text/pl@in\r\n\r\n");
	assert_string_equal(p->subtype, "pl");

	/* Disposition, and the other Content-* fields. */
	p = parse_str("Content-Disposition: ATTACHMENT; Filename=\"a b.txt\"\r\n"
	    "Content-ID:  <x@y>  \r\nContent-Description: some\r\n thing\r\n"
	    "Content-MD5: abc=\r\nContent-Language: en\r\n"
	    "Content-Location: /x\r\n\r\n");
	assert_string_equal(p->disposition, "attachment");
	assert_int_equal(p->n_disp_params, 1);
	assert_string_equal(p->disp_params[0].name, "filename");
	assert_string_equal(p->disp_params[0].value, "a b.txt");
	assert_string_equal(p->id, "<x@y>");
	assert_string_equal(p->description, "some thing");
	assert_string_equal(p->md5, "abc=");
	assert_string_equal(p->language, "en");
	assert_string_equal(p->location, "/x");
}

static void
test_rfc2231(void **state)
{
	struct mime_part *p;

	/* RFC 2231 3: continuations, out of order. */
	p = parse_str("Content-Type: message/external-body; access-type=URL;\r\n"
	    " URL*1=\"cool.html\"; URL*0=\"ftp://\"; url*2=\"\"\r\n\r\n");
	assert_string_equal(mime_param_get(p->params, p->n_params, "url"),
	    "ftp://cool.html");
	assert_int_equal(p->n_params, 2);

	/* RFC 2231 4 and 4.1: charset, language, mixed sections. */
	p = parse_str("Content-Type: application/x-stuff;\r\n"
	    " title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
	    " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
	    " title*2=\"isn't it!\"\r\n\r\n");
	assert_string_equal(mime_param_get(p->params, p->n_params, "title"),
	    "This is even more ***fun*** isn't it!");

	/* Charset to UTF-8; the RFC 2231 form wins over a plain one. */
	p = parse_str("Content-Disposition: attachment; filename=\"old.txt\";"
	    " filename*=ISO-8859-1''%E9t%E9.txt\r\n\r\n");
	assert_int_equal(p->n_disp_params, 1);
	assert_string_equal(p->disp_params[0].value, "\xc3\xa9t\xc3\xa9.txt");

	/* Unknown charset: kept encoded under "name*". */
	p = parse_str("Content-Type: text/plain; name*=x-nope'fr'%E9t%E9\r\n\r\n");
	assert_string_equal(p->params[0].name, "name*");
	assert_string_equal(p->params[0].value, "x-nope'fr'%E9t%E9");

	/* A gap stops the joining; a missing section 0 falls back to a
	 * plain parameter or drops the name. */
	p = parse_str("Content-Type: text/plain; a*0=x; a*2=z; b*1=y; b=plain;"
	    " c*1=only\r\n\r\n");
	assert_string_equal(mime_param_get(p->params, p->n_params, "a"), "x");
	assert_string_equal(mime_param_get(p->params, p->n_params, "b"), "plain");
	assert_null(mime_param_get(p->params, p->n_params, "c"));

	/* Bad escapes stay; %00 is dropped; encoded without quotes. */
	p = parse_str("Content-Type: text/plain; a*=utf-8''%ZZ%4%41%00b;"
	    " b*=noquotes%41\r\n\r\n");
	assert_string_equal(mime_param_get(p->params, p->n_params, "a"), "%ZZ%4Ab");
	assert_string_equal(mime_param_get(p->params, p->n_params, "b"), "noquotesA");

	/* Section numbers past the limit are not RFC 2231. */
	p = parse_str("Content-Type: text/plain; a*0=x; a*998=y; a*999=z;"
	    " a*1000=w\r\n\r\n");
	assert_string_equal(mime_param_get(p->params, p->n_params, "a"), "x");
	assert_string_equal(mime_param_get(p->params, p->n_params, "a*1000"), "w");
	assert_int_equal(p->n_params, 2);

	/* BODYSTRUCTURE sends non-ASCII values in RFC 2231 form. */
	assert_string_equal(bodystructure("Content-Type: text/plain;"
	    " name*=utf-8''%E2%82%AC\r\n\r\n",
	    parse_str("Content-Type: text/plain; name*=utf-8''%E2%82%AC\r\n\r\n"),
	    false), "(\"TEXT\" \"PLAIN\" (\"NAME*\" \"utf-8''%E2%82%AC\" "
	    "\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)");
}

static void
test_multipart_edge(void **state)
{
	struct mime_part *r;

	/* The longest live boundary wins: an outer one that the inner one
	 * is a prefix of closes the inner multipart. */
	r = parse_str("Content-Type: multipart/mixed; boundary=ab\r\n\r\n"
	    "--ab\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
	    "--a\r\n\r\nin\r\n--ab\r\n\r\nout\r\n--ab--\r\n");
	assert_int_equal(r->n_children, 2);
	assert_int_equal(r->children[0].n_children, 1);
	assert_false(r->children[1].is_multipart);
	/* The same boundary inside: the innermost wins. */
	r = parse_str("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "--x\r\n\r\na\r\n--x\r\n\r\nb\r\n--x--\r\n--x--\r\n");
	assert_int_equal(r->n_children, 1);
	assert_int_equal(r->children[0].n_children, 2);
	/* The boundary only counts as a prefix of the line. */
	r = parse_str("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "--xyz\r\n\r\na\r\n-x\r\n --x\r\n--x\r\n\r\nb\r\n");
	assert_int_equal(r->n_children, 2);
	assert_int_equal(r->children[1].body_end - r->children[1].body_start, 3);
	/* A close delimiter before any part; after it, boundaries are
	 * epilogue. */
	r = parse_str("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "--x--\r\n--x\r\n\r\nlate\r\n");
	assert_int_equal(r->n_children, 0);
	assert_string_equal(bodystructure("Content-Type: multipart/mixed;"
	    " boundary=x\r\n\r\n--x--\r\n--x\r\n\r\nlate\r\n", r, false),
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)"
	    " \"MIXED\")");
	/* Boundary parameter too long or empty: text/plain. */
	r = parse_str("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n");
	assert_false(r->is_multipart);
	assert_string_equal(r->type, "text");
	/* message/rfc822 whose header is cut by the delimiter still has
	 * its (empty) child. */
	r = parse_str("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "--x\r\nContent-Type: message/rfc822\r\n--x--\r\n");
	assert_int_equal(r->n_children, 1);
	assert_true(r->children[0].is_message_rfc822);
	assert_int_equal(r->children[0].n_children, 1);
	assert_int_equal(r->children[0].children[0].body_end,
	    r->children[0].children[0].header_start);
	/* ...and at the very end of the message. */
	r = parse_str("Content-Type: message/rfc822");
	assert_true(r->is_message_rfc822);
	assert_int_equal(r->children[0].header_start, r->body_start);
}

/* Nested multiparts (or messages) n deep, innermost a text part. */
static char *
nested(size_t n, bool message)
{
	struct buf b;

	buf_init(&b, BIG);
	for (size_t i = 0; i < n; i++) {
		if (message)
			assert_int_equal(buf_printf(&b, "Subject: %zu\r\n"
			    "Content-Type: message/rfc822\r\n\r\n", i), 0);
		else
			assert_int_equal(buf_printf(&b, "Content-Type: multipart/mixed;"
			    " boundary=b%03zu\r\n\r\n--b%03zu\r\n", i, i), 0);
	}
	assert_int_equal(buf_puts(&b, "Content-Type: text/html\r\n\r\nx\r\n"), 0);
	return b.data;
}

static size_t
tree_depth(const struct mime_part *p)
{
	size_t d = 0;

	while (p->n_children > 0) {
		p = &p->children[0];
		d++;
	}
	return d;
}

static void
test_depth_limit(void **state)
{
	for (int m = 0; m < 2; m++) {
		for (size_t n = MIME_DEPTH_MAX - 1; n <= MIME_DEPTH_MAX + 1; n++) {
			char *msg = nested(n, m == 1);
			struct mime_part *r = parse_str(msg);
			const struct mime_part *p = r;
			struct buf b;

			/* n containers, then the text part: MIME_DEPTH_MAX
			 * ancestors at most. */
			assert_int_equal(tree_depth(r),
			    n <= MIME_DEPTH_MAX ? n : MIME_DEPTH_MAX);
			while (p->n_children > 0)
				p = &p->children[0];
			if (n <= MIME_DEPTH_MAX) {
				assert_string_equal(p->subtype, "html");
			} else {
				/* The container too deep is an opaque body. */
				assert_string_equal(p->type, "text");
				assert_string_equal(p->subtype, "plain");
				assert_false(p->is_multipart || p->is_message_rfc822);
			}
			buf_init(&b, BIG);
			assert_int_equal(mime_imap_bodystructure(msg, strlen(msg), r,
			    true, &b), 0);
			buf_release(&b);
			free(msg);
		}
	}
}

static void
test_parts_limit(void **state)
{
	for (size_t n = MIME_PARTS_MAX - 2; n <= MIME_PARTS_MAX; n++) {
		struct buf b;
		struct mime_part *r;

		buf_init(&b, BIG);
		assert_int_equal(buf_puts(&b, "Content-Type: multipart/mixed;"
		    " boundary=p\r\n\r\n"), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_printf(&b, "--p\r\n\r\n%zu\r\n", i), 0);
		assert_int_equal(buf_puts(&b, "--p--\r\n"), 0);
		r = parse(b.data, b.len);
		/* The root counts: n children make n + 1 parts. */
		if (n + 1 <= MIME_PARTS_MAX) {
			assert_int_equal(r->n_children, n);
			assert_int_equal(r->children[n - 1].body_end -
			    r->children[n - 1].body_start, 4);
		} else {
			/* The part that would be one too many is not made:
			 * the last part runs to the end. */
			assert_int_equal(r->n_children, MIME_PARTS_MAX - 1);
			assert_int_equal(r->children[MIME_PARTS_MAX - 2].body_end,
			    b.len);
		}
		buf_release(&b);
	}
}

/* Closing parts at a delimiter can itself make a part (the empty child of
 * a message/rfc822 whose header the delimiter cuts): the part limit must
 * hold after that too. */
static void
test_parts_limit_close(void **state)
{
	for (size_t n = MIME_PARTS_MAX - 4; n <= MIME_PARTS_MAX - 2; n++) {
		struct buf b;
		struct mime_part *r;

		buf_init(&b, BIG);
		assert_int_equal(buf_puts(&b, "Content-Type: multipart/mixed;"
		    " boundary=p\r\n\r\n"), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_puts(&b, "--p\r\n\r\nx\r\n"), 0);
		assert_int_equal(buf_puts(&b, "--p\r\nContent-Type: message/rfc822\r\n"
		    "--p\r\n\r\nlast\r\n--p--\r\n"), 0);
		r = parse(b.data, b.len);
		/* root, n parts, the message and its child, the last part */
		if (n + 4 <= MIME_PARTS_MAX) {
			assert_int_equal(r->n_children, n + 2);
		} else if (n + 3 == MIME_PARTS_MAX) {
			/* The child is made; the last part is not: what
			 * follows is the body of the multipart. */
			assert_int_equal(r->n_children, n + 1);
			assert_true(r->children[n].is_message_rfc822);
			assert_int_equal(r->children[n].body_end, b.len -
			    strlen("\r\n--p\r\n\r\nlast\r\n--p--\r\n"));
		} else {
			/* No room for the child: an opaque text/plain body. */
			assert_int_equal(r->n_children, n + 1);
			assert_false(r->children[n].is_message_rfc822);
			assert_string_equal(r->children[n].type, "text");
		}
		run_all(b.data, b.len);
		buf_release(&b);
	}
}

static void
test_field_limits(void **state)
{
	struct buf b;
	struct mime_part *r;
	const char *v;

	/* Boundary length: MIME_BOUNDARY_ACCEPT_MAX is accepted. */
	for (size_t n = MIME_BOUNDARY_ACCEPT_MAX - 1;
	    n <= MIME_BOUNDARY_ACCEPT_MAX + 1; n++) {
		buf_init(&b, BIG);
		assert_int_equal(buf_printf(&b, "Content-Type: multipart/mixed;"
		    " boundary=\"%0*d\"\r\n\r\n--%0*d\r\n\r\nx\r\n", (int)n, 0,
		    (int)n, 0), 0);
		r = parse(b.data, b.len);
		assert_int_equal(r->is_multipart, n <= MIME_BOUNDARY_ACCEPT_MAX);
		assert_int_equal(r->n_children, n <= MIME_BOUNDARY_ACCEPT_MAX);
		buf_release(&b);
	}
	/* Parameters: MIME_PARAMS_MAX are kept. */
	for (size_t n = MIME_PARAMS_MAX - 1; n <= MIME_PARAMS_MAX + 1; n++) {
		buf_init(&b, BIG);
		assert_int_equal(buf_puts(&b, "Content-Type: text/plain"), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_printf(&b, ";\r\n p%zu=%zu", i, i), 0);
		assert_int_equal(buf_puts(&b, "\r\n\r\n"), 0);
		r = parse(b.data, b.len);
		assert_int_equal(r->n_params, n < MIME_PARAMS_MAX ? n : MIME_PARAMS_MAX);
		buf_release(&b);
	}
	/* Field values are cut at MIME_FIELD_VALUE_MAX. */
	buf_init(&b, BIG);
	assert_int_equal(buf_printf(&b, "Content-Type: text/plain; x=%0*d\r\n\r\n",
	    MIME_FIELD_VALUE_MAX, 0), 0);
	r = parse(b.data, b.len);
	v = mime_param_get(r->params, r->n_params, "x");
	assert_non_null(v);
	assert_int_equal(strlen(v), MIME_FIELD_VALUE_MAX - strlen(" text/plain; x="));
	buf_release(&b);
}

/*
 * Sections and header filters.
 */

static void
test_section(void **state)
{
	const char *m =
	    "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
	    "--o\r\n\r\none\r\n"
	    "--o\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
	    "--i\r\n\r\n2.1\r\n--i\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: innermost\r\n\r\n2.2.1\r\n--i--\r\n"
	    "--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: single\r\n\r\n3.1\r\n"
	    "--o--\r\n";
	struct mime_part *r = parse_str(m);
	const struct mime_part *p, *msg;
	uint32_t path[4];

#define SECTION(...) (memcpy(path, (uint32_t[]){ __VA_ARGS__ }, \
	sizeof((uint32_t[]){ __VA_ARGS__ })), mime_imap_section(r, path, \
	sizeof((uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t)))

	assert_ptr_equal(mime_imap_section(r, path, 0), r);
	assert_ptr_equal(SECTION(1), &r->children[0]);
	/* 2 is the message/rfc822 part; 2.HEADER the inner header. */
	p = SECTION(2);
	assert_true(p->is_message_rfc822);
	msg = mime_imap_section_message(p);
	assert_non_null(msg);
	assert_memory_equal(m + msg->header_start, "Subject: inner", 14);
	/* 2.1 is the first part of the encapsulated multipart. */
	p = SECTION(2, 1);
	assert_memory_equal(m + p->body_start, "2.1", 3);
	p = SECTION(2, 2, 1);
	assert_memory_equal(m + p->body_start, "2.2.1", 5);
	assert_ptr_equal(mime_imap_section_message(SECTION(2, 2)),
	    &SECTION(2, 2)->children[0]);
	/* 3.1: the encapsulated message is not multipart; part 1 is itself
	 * (its body). */
	p = SECTION(3, 1);
	assert_memory_equal(m + p->body_start, "3.1", 3);
	assert_ptr_equal(p, &r->children[2].children[0]);
	/* Nothing there. */
	assert_null(SECTION(0));
	assert_null(SECTION(4));
	assert_null(SECTION(1, 1));
	assert_null(SECTION(3, 2));
	assert_null(SECTION(3, 1, 1));
	assert_null(SECTION(2, 1, 1));
	assert_null(mime_imap_section_message(SECTION(1)));

	/* Not multipart: part 1 is the body of the message. */
	r = parse_str("Subject: s\r\n\r\nbody\r\n");
	assert_ptr_equal(SECTION(1), r);
	assert_null(SECTION(2));
	assert_null(SECTION(1, 1));
	/* A message/rfc822 root: 1 is the root, 1.1 the inner body. */
	r = parse_str("Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nx\r\n");
	assert_ptr_equal(SECTION(1), r);
	assert_ptr_equal(SECTION(1, 1), &r->children[0]);
	/* A multipart without parts has no part 1. */
	r = parse_str("Content-Type: multipart/mixed; boundary=z\r\n\r\nx\r\n");
	assert_null(SECTION(1));
#undef SECTION
}

static void
test_header_filter(void **state)
{
	const char *m = "From: a@b\r\nSubject: one\r\n two\r\nTo: c@d\r\n"
	    "subject: again\r\nbroken line\r\nX-Long:\r\n\tfolded\r\n\r\nbody\r\n";
	const char *const f1[] = { "SUBJECT", "x-long" };
	const char *const f2[] = { "from", "subject", "to", "x-long" };
	struct mime_part *r = parse_str(m);
	struct buf b;

	buf_init(&b, BIG);
	mime_header_filter(m, r->header_start, r->body_start, f1, 2, false, &b);
	assert_string_equal(b.data, "Subject: one\r\n two\r\nsubject: again\r\n"
	    "X-Long:\r\n\tfolded\r\n\r\n");
	buf_reset(&b);
	mime_header_filter(m, r->header_start, r->body_start, f1, 2, true, &b);
	assert_string_equal(b.data, "From: a@b\r\nTo: c@d\r\nbroken line\r\n\r\n");
	buf_reset(&b);
	mime_header_filter(m, r->header_start, r->body_start, f2, 4, true, &b);
	assert_string_equal(b.data, "broken line\r\n\r\n");
	buf_reset(&b);
	/* Nothing matches: only the empty line. */
	mime_header_filter(m, r->header_start, r->body_start, f1, 0, false, &b);
	assert_string_equal(b.data, "\r\n");
	buf_reset(&b);
	/* The end of the block (no empty line): the last line gets CRLF;
	 * LF-only lines stay as they are. */
	mime_header_filter("A: 1\nB: 2", 0, 9, f1, 0, true, &b);
	assert_string_equal(b.data, "A: 1\nB: 2\r\n\r\n");
	buf_release(&b);
	/* Cut at max. */
	buf_init(&b, 12);
	mime_header_filter(m, r->header_start, r->body_start, f1, 0, true, &b);
	assert_string_equal(b.data, "From: a@b\r\n");
	buf_release(&b);
}

/*
 * ENVELOPE details beyond the golden files.
 */

static void
test_envelope(void **state)
{
	assert_string_equal(envelope(""),
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* Empty Sender and Reply-To are the From list; empty values are
	 * empty strings; the first field counts. */
	assert_string_equal(envelope("From: a@b\r\nSender:\r\nReply-To: ,\r\n"
	    "Subject:\r\nSubject: second\r\nTo: x@y\r\nto: z@w\r\n\r\n"),
	    "(NIL \"\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	    "((NIL NIL \"a\" \"b\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL)");
	/* Quoting: quotes and backslashes escaped, CR/LF and 8-bit as
	 * literals, NUL dropped, folding removed, tabs kept. */
	assert_string_equal(envelope("Subject: a \"b\" \\c\r\n\td\r\n"
	    "Message-ID: <\xc3\xa9@x>\r\nIn-Reply-To: a\rbc\r\n\r\n"),
	    "(NIL \"a \\\"b\\\" \\\\c\td\" NIL NIL NIL NIL NIL NIL "
	    "\"abc\" {6}\r\n<\xc3\xa9@x>)");
	/* Address oddities. */
	assert_string_equal(envelope("From: \"\" <a@b>, Name <>, a@b@c,"
	    " \"x\"y z <p@q>, ;, g: h@i, j@k\r\n\r\n"),
	    "(NIL NIL ((NIL NIL \"a\" \"b\")(\"Name\" NIL \"MISSING_MAILBOX\""
	    " \"MISSING_DOMAIN\")(NIL NIL \"a\" \"b\")(\"xy z\" NIL \"p\" \"q\")"
	    "(NIL NIL \"g\" NIL)(NIL NIL \"h\" \"i\")(NIL NIL \"j\" \"k\")"
	    "(NIL NIL NIL NIL)) ((NIL NIL \"a\" \"b\")(\"Name\" NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"a\" \"b\")"
	    "(\"xy z\" NIL \"p\" \"q\")(NIL NIL \"g\" NIL)(NIL NIL \"h\" \"i\")"
	    "(NIL NIL \"j\" \"k\")(NIL NIL NIL NIL)) ((NIL NIL \"a\" \"b\")"
	    "(\"Name\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
	    "(NIL NIL \"a\" \"b\")(\"xy z\" NIL \"p\" \"q\")(NIL NIL \"g\" NIL)"
	    "(NIL NIL \"h\" \"i\")(NIL NIL \"j\" \"k\")(NIL NIL NIL NIL)) NIL NIL"
	    " NIL NIL NIL)");
	/* MIME_ADDR_TOKENS_MAX tokens per address; the rest is dropped. */
	for (size_t n = MIME_ADDR_TOKENS_MAX - 5; n <= MIME_ADDR_TOKENS_MAX - 3;
	    n++) {
		struct buf b;
		char *e;

		buf_init(&b, BIG);
		assert_int_equal(buf_puts(&b, "From:"), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(buf_puts(&b, " w"), 0);
		/* n words and "<a@b>": n + 5 tokens */
		assert_int_equal(buf_puts(&b, " <a@b>\r\n\r\n"), 0);
		e = envelope(b.data);
		if (n + 5 <= MIME_ADDR_TOKENS_MAX + 1)
			assert_non_null(strstr(e, " NIL \"a\" \"b\"))"));
		else
			assert_non_null(strstr(e, " NIL \"a\" \"MISSING_DOMAIN\"))"));
		buf_release(&b);
	}
	/* Envelope output that does not fit fails. */
	{
		const char *m = "Subject: 0123456789\r\n\r\n";
		struct buf b;

		buf_init(&b, 20);
		assert_int_equal(mime_imap_envelope(m, strlen(m), parse_str(m), &b),
		    -1);
		buf_release(&b);
		buf_init(&b, 20);
		assert_int_equal(mime_imap_bodystructure(m, strlen(m), parse_str(m),
		    false, &b), -1);
		buf_release(&b);
	}
}

/*
 * Decoders.
 */

static char *
hdr_decode(const char *in)
{
	struct buf b;
	char *s;

	buf_init(&b, BIG);
	mime_header_decode(in, strlen(in), &b);
	s = pool_strdup(pool, b.data != NULL ? b.data : "");
	buf_release(&b);
	return s;
}

static void
test_header_decode(void **state)
{
	/* RFC 2047 8 examples. */
	assert_string_equal(hdr_decode("=?ISO-8859-1?Q?a?="), "a");
	assert_string_equal(hdr_decode("=?ISO-8859-1?Q?a?= b"), "a b");
	assert_string_equal(hdr_decode("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?="), "ab");
	assert_string_equal(hdr_decode("=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?="), "ab");
	assert_string_equal(hdr_decode("=?ISO-8859-1?Q?a?=\r\n   =?ISO-8859-1?Q?b?="),
	    "ab");
	assert_string_equal(hdr_decode("=?ISO-8859-1?Q?a_b?="), "a b");
	assert_string_equal(hdr_decode("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?="), "a b");
	assert_string_equal(hdr_decode("(=?ISO-8859-1?Q?a?= b)"), "(a b)");
	assert_string_equal(hdr_decode("=?US-ASCII?Q?Keith_Moore?="), "Keith Moore");
	assert_string_equal(hdr_decode("=?ISO-8859-1?Q?Andr=E9?= Pirard"),
	    "Andr\xc3\xa9 Pirard");
	/* B, lower case, RFC 2231 language, a character split across
	 * words, lower-case hex. */
	assert_string_equal(hdr_decode("=?utf-8?b?w6k=?="), "\xc3\xa9");
	assert_string_equal(hdr_decode("=?UTF-8*en?Q?hi?="), "hi");
	assert_string_equal(hdr_decode("=?utf-8?B?4oI=?= =?utf-8?B?rA==?="),
	    "\xe2\x82\xac");
	assert_string_equal(hdr_decode("=?utf-8?q?=e2=82=ac?="), "\xe2\x82\xac");
	/* Unknown charset: the bytes if UTF-8, else U+FFFD. */
	assert_string_equal(hdr_decode("=?x-none?q?ok=C3=A9?="), "ok\xc3\xa9");
	assert_string_equal(hdr_decode("=?x-none?q?bad=E9?="), "bad\xef\xbf\xbd");
	/* Malformed words stay; encoded words inside other text count. */
	assert_string_equal(hdr_decode("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
	assert_string_equal(hdr_decode("=?utf-8?q?no end"), "=?utf-8?q?no end");
	assert_string_equal(hdr_decode("=??q?a?="), "=??q?a?=");
	assert_string_equal(hdr_decode("x=?utf-8?q?y?=z"), "xyz");
	assert_string_equal(hdr_decode("=?utf-8?q?a b?="), "=?utf-8?q?a b?=");
	/* Raw text: folds removed, invalid UTF-8 replaced, NUL dropped. */
	assert_string_equal(hdr_decode("a\r\n b\xff"), "a b\xef\xbf\xbd");
	{
		struct buf b;

		buf_init(&b, BIG);
		mime_header_decode("a\0b", 3, &b);
		assert_string_equal(b.data, "ab");
		buf_release(&b);
		/* Stops at max, at a character boundary. */
		buf_init(&b, 4);
		mime_header_decode("=?utf-8?q?ab=C3=A9?=", 20, &b);
		assert_string_equal(b.data, "ab\xc3\xa9");
		buf_release(&b);
		buf_init(&b, 3);
		mime_header_decode("=?utf-8?q?ab=C3=A9?=", 20, &b);
		assert_string_equal(b.data, "ab");
		buf_release(&b);
	}
}

static char *
body_decode(const char *enc, const char *in, int expect)
{
	const char *error = NULL;
	struct buf b;
	char *s;

	buf_init(&b, BIG);
	assert_int_equal(mime_body_decode(enc, in, strlen(in), &b, &error), expect);
	if (expect < 0)
		assert_non_null(error);
	s = pool_strndup(pool, b.data != NULL ? b.data : "", b.len);
	buf_release(&b);
	return s;
}

static void
test_body_decode(void **state)
{
	const char *error;
	struct buf b;

	assert_string_equal(body_decode(NULL, "as is=41", 0), "as is=41");
	assert_string_equal(body_decode("8BIT", "x", 0), "x");
	assert_string_equal(body_decode("binary", "x", 0), "x");
	/* base64: white space and garbage ignored, padding optional,
	 * quanta after '=' go on. */
	assert_string_equal(body_decode("base64", "SGVs\r\nbG8=", 0), "Hello");
	assert_string_equal(body_decode("Base64", "SG Vs*bG8", 0), "Hello");
	assert_string_equal(body_decode("base64", "YQ==Yg==", 0), "ab");
	assert_string_equal(body_decode("base64", "YWJj", 0), "abc");
	assert_string_equal(body_decode("base64", "Y", 0), "");
	assert_string_equal(body_decode("base64", "====", 0), "");
	/* quoted-printable. */
	assert_string_equal(body_decode("quoted-printable",
	    "a=3Db=3db =\r\nc\r\nd=\ne  \t\r\nf=  \r\ng", 0), "a=b=b c\r\nde\r\nfg");
	assert_string_equal(body_decode("quoted-printable", "=G1 =4 x=", 0),
	    "=G1 =4 x");
	assert_string_equal(body_decode("quoted-printable", "=E9=", 0), "\xe9");
	assert_string_equal(body_decode("quoted-printable", "a \n", 0), "a\n");
	/* Unknown encodings. */
	assert_string_equal(body_decode("x-uuencode", "x", -1), "");
	assert_string_equal(body_decode("", "x", -1), "");
	/* Too large: -1, with what fit. */
	buf_init(&b, 3);
	assert_int_equal(mime_body_decode("base64", "SGVsbG8=", 8, &b, &error), -1);
	assert_string_equal(b.data, "Hel");
	buf_reset(&b);
	assert_int_equal(mime_body_decode("quoted-printable", "ab=41", 5, &b,
	    &error), 0);
	assert_string_equal(b.data, "abA");
	buf_reset(&b);
	assert_int_equal(mime_body_decode("7bit", "abcd", 4, &b, &error), -1);
	buf_release(&b);
}

static char *
to_utf8(const char *cs, const char *in, size_t len, int expect)
{
	struct buf b;
	char *s;

	buf_init(&b, BIG);
	assert_int_equal(mime_charset_to_utf8(cs, in, len, &b), expect);
	s = pool_strndup(pool, b.data != NULL ? b.data : "", b.len);
	buf_release(&b);
	return s;
}

static void
test_charset(void **state)
{
	struct buf b;

	assert_string_equal(to_utf8("utf-8", "\xc3\xa9\xff", 3, 0),
	    "\xc3\xa9\xef\xbf\xbd");
	assert_string_equal(to_utf8("US-ASCII", "a\xc3\xa9", 3, 0), "a\xc3\xa9");
	assert_string_equal(to_utf8("iso-8859-1", "\xe9\x80", 2, 0),
	    "\xc3\xa9\xe2\x82\xac");
	assert_string_equal(to_utf8("ISO-8859-15", "\xa4", 1, 0), "\xe2\x82\xac");
	assert_string_equal(to_utf8("koi8-r", "\xc1", 1, 0), "\xd0\xb0");
	assert_string_equal(to_utf8("utf-16le", "a\0\xac\x20", 4, 0), "a\xe2\x82\xac");
	/* Invalid sequences: U+FFFD and on; a cut sequence at the end. */
	assert_string_equal(to_utf8("shift_jis", "a\x82\xa0\xff" "b\x82", 6, 0),
	    "a\xe3\x81\x82\xef\xbf\xbd" "b\xef\xbf\xbd");
	assert_string_equal(to_utf8("windows-1252", "\x81", 1, 0), "\xef\xbf\xbd");
	assert_string_equal(to_utf8("iso-2022-jp", "\x1b$B$\"\x1b(Bx", 9, 0),
	    "\xe3\x81\x82x");
	/* Unknown or suspicious names. */
	assert_string_equal(to_utf8("x-unknown", "a", 1, -1), "");
	assert_string_equal(to_utf8("utf-8//TRANSLIT", "a", 1, -1), "");
	assert_string_equal(to_utf8("../../etc/passwd", "a", 1, -1), "");
	assert_string_equal(to_utf8("", "a", 1, -1), "");
	assert_true(mime_charset_is_known("ks_c_5601-1987"));
	assert_true(mime_charset_is_known("UTF8"));
	assert_false(mime_charset_is_known("x-user-defined-nonsense"));
	{
		char name[MIME_CHARSET_NAME_MAX + 2];

		memset(name, 'a', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		assert_false(mime_charset_is_known(name));
	}
	/* Cut at max on a character boundary. */
	buf_init(&b, 5);
	assert_int_equal(mime_charset_to_utf8("iso-8859-1", "\xe9\xe9\xe9", 3, &b), 0);
	assert_string_equal(b.data, "\xc3\xa9\xc3\xa9");
	buf_release(&b);
	buf_init(&b, 3);
	mime_utf8_sanitize("ab\xc3\xa9", 4, &b);
	assert_string_equal(b.data, "ab");
	buf_release(&b);
	/* Validation: overlong, surrogate, above U+10FFFF, NUL. */
	assert_true(mime_utf8_is_valid("\xf0\x9f\x98\x80", 4));
	assert_false(mime_utf8_is_valid("\xc0\xaf", 2));
	assert_false(mime_utf8_is_valid("\xed\xa0\x80", 3));
	assert_false(mime_utf8_is_valid("\xf4\x90\x80\x80", 4));
	assert_false(mime_utf8_is_valid("a\0", 2));
	assert_false(mime_utf8_is_valid("\xe2\x82", 2));
}

static char *
extract(const char *msg, size_t max)
{
	struct buf b;
	char *s;

	buf_init(&b, max);
	mime_text_extract(msg, strlen(msg), parse_str(msg), &b);
	s = pool_strndup(pool, b.data != NULL ? b.data : "", b.len);
	buf_release(&b);
	return s;
}

static void
test_text_extract(void **state)
{
	const char *html = "Content-Type: text/html; charset=utf-8\r\n\r\n"
	    "<html><head><title>T</title><style>p{x:y}</style></head>"
	    "<body><!-- c <p> --><p>a&amp;b &lt;&gt; &quot;&apos;&nbsp;&#233;&#xE9;"
	    "&#0; &bogus; &#x110000;</p><SCRIPT>alert(1)</script>"
	    "<table><tr><td>1</td><td>2</td></tr></table>x<br/>y</body></html>";

	assert_string_equal(extract(html, BIG),
	    "\nT\n\na&b <> \"' \xc3\xa9\xc3\xa9\xef\xbf\xbd &bogus; \xef\xbf\xbd\n"
	    "\n\n 1  2 \n\nx\ny\n");
	/* Unclosed things swallow the rest. */
	assert_string_equal(extract("Content-Type: text/html\r\n\r\na<b", BIG),
	    "a\n");
	assert_string_equal(extract("Content-Type: text/html\r\n\r\na<script>b", BIG),
	    "a\n");
	assert_string_equal(extract("Content-Type: text/html\r\n\r\na<!--b", BIG),
	    "a\n");
	/* Only text parts, in order, decoded; message/rfc822 inside too. */
	assert_string_equal(extract("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "--x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n"
	    "--x\r\nContent-Type: image/png\r\n\r\nPNG\r\n"
	    "--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\ninner\r\n"
	    "--x\r\nContent-Type: text/plain; charset=x-unknown\r\n"
	    "Content-Transfer-Encoding: x-weird\r\n\r\nraw\xff\r\n--x--\r\n", BIG),
	    "caf\xc3\xa9\ninner\nraw\xef\xbf\xbd\n");
	/* Truncated at max, never in the middle of a character. */
	assert_string_equal(extract("Content-Type: text/plain; charset=utf-8\r\n\r\n"
	    "ab\xc3\xa9", 3), "ab\n");
	assert_string_equal(extract("\r\nabcdef", 4), "abcd");
	assert_string_equal(extract("\r\nabc", 0), "");
}

static void
test_header_text(void **state)
{
	const char *m = "To: a@b\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
	    " folded\r\nX: 1\r\nsubject: second\r\n\r\nSubject: body\r\n";
	struct mime_part *r = parse_str(m);
	struct buf b;

	buf_init(&b, BIG);
	mime_header_text(m, strlen(m), r, "Subject", &b);
	assert_string_equal(b.data, "caf\xc3\xa9 folded\nsecond");
	buf_reset(&b);
	mime_header_text(m, strlen(m), r, "missing", &b);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void
test_contains(void **state)
{
#define C(h, n) mime_text_contains(h, strlen(h), n, strlen(n))
	assert_true(C("Hello World", "world"));
	assert_true(C("hello", ""));
	assert_false(C("", "a"));
	assert_false(C("hell", "hello"));
	assert_true(C("aaab", "aab"));
	assert_true(C("abababc", "ababc"));
	/* Latin-1, Latin Extended-A, Greek, Cyrillic. */
	assert_true(C("CAF\xc3\x89", "caf\xc3\xa9"));
	assert_true(C("\xc5\x81\xc3\x93\xc4\x8e\xc5\xb9", "\xc5\x82\xc3\xb3\xc4\x8f\xc5\xba"));
	assert_true(C("\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3",
	    "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82"));
	assert_true(C("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\x81",
	    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd1\x91"));
	assert_true(C("\xc4\xb0stanbul", "istanbul"));
	/* No accent folding, no full folding. */
	assert_false(C("cafe", "caf\xc3\xa9"));
	assert_false(C("STRASSE", "stra\xc3\x9f" "e"));
	/* Invalid bytes only match themselves, and never half a
	 * character. */
	assert_true(C("a\xff" "b", "\xff" "B"));
	assert_false(C("\xc3\xa9", "\xc3"));
#undef C
}

/*
 * Hostile input: each of these must finish in well under a second
 * (run the test binary by hand to see), nothing is asserted about time.
 */

#define HOSTILE_SIZE (10u * 1024 * 1024)

static void
run_all(const char *msg, size_t len)
{
	struct mime_part *r = parse(msg, len);
	struct buf b;
	uint32_t path[3] = { 1, 1, 1 };

	buf_init(&b, 4 * HOSTILE_SIZE);
	(void)mime_imap_bodystructure(msg, len, r, true, &b);
	buf_reset(&b);
	(void)mime_imap_envelope(msg, len, r, &b);
	buf_reset(&b);
	mime_text_extract(msg, len, r, &b);
	buf_reset(&b);
	mime_header_text(msg, len, r, "subject", &b);
	buf_release(&b);
	(void)mime_imap_section(r, path, 3);
	pool_clear(pool);
}

static void
test_hostile(void **state)
{
	struct buf b;

	/* 50 nested multiparts whose boundaries are prefixes of each
	 * other, then 10 MB of lines that almost match them all. */
	buf_init(&b, BIG);
	for (int i = 0; i < MIME_DEPTH_MAX; i++)
		assert_int_equal(buf_printf(&b, "Content-Type: multipart/mixed;"
		    " boundary=\"%0*d\"\r\n\r\n--%0*d\r\n", 150 + i, 0, 150 + i, 0), 0);
	while (b.len < HOSTILE_SIZE)
		assert_int_equal(buf_printf(&b, "--%0*d1\r\n", 149, 0), 0);
	run_all(b.data, b.len);
	buf_reset(&b);

	/* 10 MB of delimiters: far more parts than MIME_PARTS_MAX. */
	assert_int_equal(buf_puts(&b, "Content-Type: multipart/mixed; boundary=a\r\n"
	    "\r\n"), 0);
	while (b.len < HOSTILE_SIZE)
		assert_int_equal(buf_puts(&b, "--a\r\n\r\n"), 0);
	run_all(b.data, b.len);
	buf_reset(&b);

	/* Alternating nesting and closing, many small parts. */
	while (b.len < HOSTILE_SIZE)
		assert_int_equal(buf_puts(&b, "Content-Type: multipart/mixed;"
		    " boundary=q\r\n\r\n--q\r\nContent-Type: message/rfc822\r\n\r\n"), 0);
	run_all(b.data, b.len);
	buf_reset(&b);

	/* One 10 MB header line, then one 10 MB folded Content-Type. */
	assert_int_equal(buf_puts(&b, "Subject: "), 0);
	while (b.len < HOSTILE_SIZE)
		assert_int_equal(buf_puts(&b, "=?a?q?x=?utf-8?b?aGk=?= "), 0);
	assert_int_equal(buf_puts(&b, "\r\nContent-Type: text/plain; a=b"), 0);
	while (b.len < 2 * HOSTILE_SIZE)
		assert_int_equal(buf_puts(&b, ";\r\n x*1*=%41"), 0);
	assert_int_equal(buf_puts(&b, "\r\n\r\n"), 0);
	run_all(b.data, b.len);
	buf_reset(&b);

	/* Encoded-word openers without an end. */
	assert_int_equal(buf_puts(&b, "Subject: "), 0);
	while (b.len < HOSTILE_SIZE)
		assert_int_equal(buf_puts(&b, "=?a?q?x=?abcdefghijklmnop?q?y"), 0);
	run_all(b.data, b.len);
	buf_reset(&b);

	/* A 10 MB address list, and one address of 10 MB. */
	assert_int_equal(buf_puts(&b, "To: "), 0);
	while (b.len < HOSTILE_SIZE)
		assert_int_equal(buf_puts(&b, "\"a\" <b@c>, g: (x) d@e;, "), 0);
	assert_int_equal(buf_puts(&b, "\r\nCc: <"), 0);
	while (b.len < 2 * HOSTILE_SIZE)
		assert_int_equal(buf_puts(&b, "a.b@c ((("), 0);
	assert_int_equal(buf_puts(&b, "\r\n\r\n"), 0);
	run_all(b.data, b.len);
	buf_reset(&b);

	/* 10 MB of HTML tags, entities and comment openers; and bare LFs,
	 * NUL bytes and CRs. */
	assert_int_equal(buf_puts(&b, "Content-Type: text/html\r\n\r\n"), 0);
	while (b.len < HOSTILE_SIZE)
		assert_int_equal(buf_puts(&b, "<p>&#12345678&amp;<!-<scrip</scrip"), 0);
	run_all(b.data, b.len);
	buf_reset(&b);
	while (b.len < HOSTILE_SIZE)
		assert_int_equal(buf_append(&b, "\n\0\r--\r\n:\n ", 10), 0);
	run_all(b.data, b.len);
	buf_release(&b);
}

/* mime_addr_list_foreach: the addresses of From:/To: for submission's
 * ownership check and sendmail -t. */
static void
test_addr_walk_cb(void *ctx, const char *local, size_t llen,
    const char *domain, size_t dlen)
{
	struct buf *b = ctx;

	(void)buf_printf(b, "%.*s@%.*s;", (int)llen, local, (int)dlen, domain);
}

static void
test_addr_walk(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a@b", "a@b;" },
		{ "Ann <a@b>, \"B, c\" <c@d>", "a@b;c@d;" },
		{ "group: x@y, <z@w>;, last@one", "x@y;z@w;last@one;" },
		{ "(comment) a@b (Ann)", "a@b;" },
		{ "\"quoted local\"@b", "quoted local@b;" },
		{ "no-at, <>, undisclosed-recipients:;", "" },
		{ "<@route,@r2:a@b>", "a@b;" },
		{ "a@b\r\n\t, c@d", "a@b;c@d;" },
	};
	struct buf b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 4096);
		(void)mime_addr_list_foreach(cases[i].in, strlen(cases[i].in),
		    test_addr_walk_cb, &b);
		assert_string_equal(b.data != NULL ? b.data : "", cases[i].out);
		buf_release(&b);
	}
}

static void
test_header_count(void **state)
{
	const char *m = "From: a@b\r\nTo: c@d\r\nFrom : e@f\r\n"
	    "From-X: no\r\n\r\nFrom: body@x\r\n";
	struct pool *hp = pool_new(256);

	assert_int_equal(header_count(m, strlen(m), "From"), 2);
	assert_int_equal(header_count(m, strlen(m), "To"), 1);
	assert_int_equal(header_count(m, strlen(m), "Date"), 0);
	/* white space before the colon is the same field (RFC 5322 4.5) */
	assert_string_equal(header_get("From : x@y\r\n\r\n", 14, "From",
	    hp), "x@y");
	pool_free(&hp);
}

static void
test_header_block_len(void **state)
{
	static const struct {
		const char *in;
		size_t len;
	} cases[] = {
		{ "A: b\r\n\r\nbody", 6 },
		{ "A: b\n\nbody", 5 },
		{ "A: b\r\nC: d\r\n\r\n", 12 },
		{ "\r\nbody", 0 },		/* no header at all */
		{ "\nbody", 0 },
		{ "A: b\r\n", 6 },		/* no empty line: all of it */
		{ "A: b", 4 },
		{ "", 0 },
		{ "A: b\r\n\r", 7 },		/* a lone CR: no end */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(header_block_len(cases[i].in,
		    strlen(cases[i].in)), cases[i].len);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_addr_walk),
		cmocka_unit_test(test_header_count),
		cmocka_unit_test(test_header_block_len),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_multipart_edge),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_parts_limit),
		cmocka_unit_test(test_parts_limit_close),
		cmocka_unit_test(test_field_limits),
		cmocka_unit_test(test_section),
		cmocka_unit_test(test_header_filter),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_header_decode),
		cmocka_unit_test(test_body_decode),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_text_extract),
		cmocka_unit_test(test_header_text),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
