/*
 * test_spam_attach.c - the attachment checks (filter/spam-attach.h) on
 * whole MIME messages, through mime_parse() and spam_check_attachments().
 *
 * Golden messages: every tests/data/attach/NAME.eml (tests/data/attach/
 * make.py writes them) lists in X-Test-Expect the attachment symbols it
 * must get, exactly ("-" for ham: PDF invoices, an .ics invite, docx,
 * xlsx, a zip of PDFs, images, a plain .doc). EICAR messages are built
 * here at run time from the standard 68-byte string (split, so that this
 * file is not the test file), in a part, in a text body, and in zips
 * stored, deflated and nested; nesting and threads are tested here too.
 */
#include <dirent.h>
#include <pthread.h>
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
#include "filter/spam-attach.h"
#include "filter/spam.h"
#include "filter/zip.h"
#include "mime/mime.h"
#include "zip-build.h"

#define MSG_MAX (64u * 1024 * 1024)

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
	spam_attach_thread_done();
	return 0;
}

/* The EICAR string, put together at run time. */
static void
eicar_put(struct buf *b)
{
	assert_int_equal(buf_puts(b, "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"), 0);
	assert_int_equal(buf_puts(b, "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"),
	    0);
}

static void
base64_put(struct buf *b, const unsigned char *d, size_t n)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (uint32_t)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		q[0] = a[v >> 18 & 63];
		q[1] = a[v >> 12 & 63];
		q[2] = i + 1 < n ? a[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? a[v & 63] : '=';
		assert_int_equal(buf_append(b, q, 4), 0);
		col += 4;
		if (col >= 76) {
			assert_int_equal(buf_puts(b, "\r\n"), 0);
			col = 0;
		}
	}
	assert_int_equal(buf_puts(b, "\r\n"), 0);
}

/* A message with one base64 attachment. */
static void
msg_with(struct buf *m, const char *ctype, const char *filename,
    const void *d, size_t n)
{
	buf_init(m, MSG_MAX);
	assert_int_equal(buf_printf(m,
	    "From: a@example.org\r\nTo: b@example.test\r\nSubject: t\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	    "--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
	    "--b1\r\nContent-Type: %s\r\n"
	    "Content-Transfer-Encoding: base64\r\n", ctype), 0);
	if (filename != NULL)
		assert_int_equal(buf_printf(m, "Content-Disposition: attachment;"
		    " filename=\"%s\"\r\n", filename), 0);
	assert_int_equal(buf_puts(m, "\r\n"), 0);
	base64_put(m, d, n);
	assert_int_equal(buf_puts(m, "--b1--\r\n"), 0);
}

/* Runs the check; r gets the symbols. */
static void
check(const char *msg, size_t len, struct spam_result *r)
{
	struct spam_msg m;
	struct mime_part *root = NULL;
	const char *error = NULL;

	assert_int_equal(mime_parse(msg, len, pool, &root, &error), 0);
	memset(&m, 0, sizeof(m));
	m.data = msg;
	m.len = len;
	m.root = root;
	m.pool = pool;
	spam_result_init(r, NULL);
	spam_check_attachments(&m, r);
}

/* The attachment symbols of r, sorted, space-separated ("-" if none). */
static void
symbols_of(const struct spam_result *r, char *out, size_t outlen)
{
	const char *names[SPAM_HITS_MAX];
	size_t n = 0, used = 0;

	for (size_t i = 0; i < r->n_hits; i++) {
		const char *s = spam_symbols[r->hits[i].symbol].name;

		if (strncmp(s, "ATTACH_", 7) == 0 || strcmp(s, "EICAR") == 0)
			names[n++] = s;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0;
		    k--) {
			const char *t = names[k];

			names[k] = names[k - 1];
			names[k - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + used, outlen - used, "%s%s",
		    i > 0 ? " " : "", names[i]);

		assert_true(w > 0 && (size_t)w < outlen - used);
		used += (size_t)w;
	}
	if (n == 0)
		snprintf(out, outlen, "-");
}

/* X-Test-Expect's value, its words sorted as symbols_of() sorts. */
static void
expect_of(const char *msg, char *out, size_t outlen)
{
	const char *p = strstr(msg, "X-Test-Expect: ");
	char tmp[1024], *words[32], *save = NULL;
	size_t n = 0, used = 0;
	const char *end;

	assert_non_null(p);
	p += strlen("X-Test-Expect: ");
	end = strpbrk(p, "\r\n");
	assert_non_null(end);
	assert_true((size_t)(end - p) < sizeof(tmp));
	memcpy(tmp, p, (size_t)(end - p));
	tmp[end - p] = '\0';
	for (char *w = strtok_r(tmp, " ", &save); w != NULL && n < 32;
	    w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(words[k - 1], words[k]) > 0;
		    k--) {
			char *t = words[k];

			words[k] = words[k - 1];
			words[k - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + used, outlen - used, "%s%s",
		    i > 0 ? " " : "", words[i]);

		assert_true(w > 0 && (size_t)w < outlen - used);
		used += (size_t)w;
	}
}

static char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *d;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	d = malloc((size_t)n + 1);
	assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
	d[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return d;
}

static void
test_golden(void **state)
{
	const char *data = getenv("CORREIO_TEST_DATA");
	char dir[4096];
	DIR *d;
	struct dirent *e;
	int seen = 0, failed = 0;

	assert_non_null(data);
	assert_true(snprintf(dir, sizeof(dir), "%s/attach", data) <
	    (int)sizeof(dir));
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name), len;
		char path[8192], want[1024], got[1024];
		struct spam_result r;
		char *msg;

		if (nl < 5 || strcmp(e->d_name + nl - 4, ".eml") != 0)
			continue;
		assert_true(snprintf(path, sizeof(path), "%s/%s", dir,
		    e->d_name) < (int)sizeof(path));
		msg = read_file(path, &len);
		check(msg, len, &r);
		symbols_of(&r, got, sizeof(got));
		expect_of(msg, want, sizeof(want));
		if (strcmp(want, got) != 0) {
			print_error("%s: want %s, got %s\n", e->d_name, want, got);
			for (size_t i = 0; i < r.n_hits; i++)
				print_error("  %s: %s\n",
				    spam_symbols[r.hits[i].symbol].name,
				    r.hits[i].detail);
			failed++;
		}
		/* Ham is never held; a HOLD symbol always holds. */
		if (strcmp(want, "-") == 0)
			assert_false(r.hold);
		if (strstr(got, "EXECUTABLE") != NULL ||
		    strstr(got, "MACRO") != NULL ||
		    strstr(got, "DANGEROUS") != NULL ||
		    strstr(got, "ENCRYPTED") != NULL)
			assert_true(r.hold);
		free(msg);
		pool_clear(pool);
		seen++;
	}
	closedir(d);
	assert_true(seen >= 30);
	assert_int_equal(failed, 0);
}

static void
expect_symbols(const struct buf *m, const char *want)
{
	struct spam_result r;
	char got[1024];

	check(m->data, m->len, &r);
	symbols_of(&r, got, sizeof(got));
	if (strcmp(want, got) != 0) {
		for (size_t i = 0; i < r.n_hits; i++)
			print_error("  %s: %s\n",
			    spam_symbols[r.hits[i].symbol].name,
			    r.hits[i].detail);
		fail_msg("want %s, got %s", want, got);
	}
	pool_clear(pool);
}

static void
test_eicar_part(void **state)
{
	struct buf e, m;

	buf_init(&e, 4096);
	eicar_put(&e);
	assert_int_equal(e.len, 68);
	/* The classic: eicar.com (a dangerous name too). */
	msg_with(&m, "application/octet-stream", "eicar.com", e.data, e.len);
	expect_symbols(&m, "ATTACH_DANGEROUS_NAME EICAR");
	buf_release(&m);
	/* Another name, and no name. */
	msg_with(&m, "application/octet-stream", "test.txt", e.data, e.len);
	expect_symbols(&m, "EICAR");
	buf_release(&m);
	msg_with(&m, "application/octet-stream", NULL, e.data, e.len);
	expect_symbols(&m, "EICAR");
	buf_release(&m);
	/* Trailing white space up to 128 bytes in all; one more is not
	 * the test file. */
	while (e.len < SPAM_ATTACH_EICAR_MAX)
		assert_int_equal(buf_append(&e, e.len % 2 ? " " : "\n", 1), 0);
	msg_with(&m, "application/octet-stream", "t.txt", e.data, e.len);
	expect_symbols(&m, "EICAR");
	buf_release(&m);
	assert_int_equal(buf_append(&e, " ", 1), 0);
	msg_with(&m, "application/octet-stream", "t.txt", e.data, e.len);
	expect_symbols(&m, "-");
	buf_release(&m);
	/* Something other than white space after it. */
	buf_reset(&e);
	eicar_put(&e);
	assert_int_equal(buf_puts(&e, "x"), 0);
	msg_with(&m, "application/octet-stream", "t.txt", e.data, e.len);
	expect_symbols(&m, "-");
	buf_release(&m);
	/* Cut by one byte. */
	msg_with(&m, "application/octet-stream", "t.txt", e.data, 67);
	expect_symbols(&m, "-");
	buf_release(&m);
	buf_release(&e);
}

/* EICAR as the text of a message, and of a text part without a name. */
static void
test_eicar_text(void **state)
{
	struct buf m;

	buf_init(&m, 4096);
	assert_int_equal(buf_puts(&m, "From: a@example.org\r\nSubject: t\r\n\r\n"),
	    0);
	eicar_put(&m);
	assert_int_equal(buf_puts(&m, "\r\n"), 0);
	expect_symbols(&m, "EICAR");
	buf_reset(&m);
	assert_int_equal(buf_puts(&m, "From: a@example.org\r\n"
	    "Content-Type: multipart/alternative; boundary=x\r\n\r\n"
	    "--x\r\nContent-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"), 0);
	/* The string has no "=": quoted-printable leaves it as it is. */
	eicar_put(&m);
	assert_int_equal(buf_puts(&m, "\r\n--x--\r\n"), 0);
	expect_symbols(&m, "EICAR");
	buf_release(&m);
}

static void
test_eicar_zip(void **state)
{
	struct buf e, m;
	unsigned char *z, *outer;
	size_t zlen, olen;

	buf_init(&e, 4096);
	eicar_put(&e);
	for (unsigned opts = 0; opts <= ZB_DEFLATE; opts += ZB_DEFLATE) {
		z = zb_one("test.txt", e.data, e.len, opts, &zlen);
		msg_with(&m, "application/zip", "files.zip", z, zlen);
		expect_symbols(&m, "EICAR");
		buf_release(&m);
		/* Nested. */
		outer = zb_one("inner.zip", z, zlen, ZB_DEFLATE, &olen);
		msg_with(&m, "application/zip", "files.zip", outer, olen);
		expect_symbols(&m, "EICAR");
		buf_release(&m);
		free(outer);
		free(z);
	}
	/* Encrypted: not seen, but held as encrypted. */
	z = zb_one("test.txt", e.data, e.len, ZB_ENCRYPTED, &zlen);
	msg_with(&m, "application/zip", "files.zip", z, zlen);
	expect_symbols(&m, "ATTACH_ENCRYPTED_ARCHIVE");
	buf_release(&m);
	free(z);
	buf_release(&e);
}

/* Zips in zips down to ZIP_DEPTH_MAX are looked into; one deeper is
 * unreadable. */
static void
test_nesting_depth(void **state)
{
	static const unsigned char elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };

	for (unsigned depth = ZIP_DEPTH_MAX - 1; depth <= ZIP_DEPTH_MAX + 1;
	    depth++) {
		size_t len;
		unsigned char *d = zb_one("payload.dat", elf, sizeof(elf),
		    ZB_DEFLATE, &len);
		struct buf m;

		/* d is at depth 1 (its entry at 1); wrap it. */
		for (unsigned i = 1; i < depth; i++) {
			size_t l2;
			unsigned char *w = zb_one("next.zip", d, len, 0, &l2);

			free(d);
			d = w;
			len = l2;
		}
		msg_with(&m, "application/zip", "n.zip", d, len);
		expect_symbols(&m, depth <= ZIP_DEPTH_MAX ?
		    "ATTACH_ARCHIVE_EXECUTABLE" : "ATTACH_UNREADABLE_ARCHIVE");
		buf_release(&m);
		free(d);
	}
}

/* Names inside zips: a NUL byte hides ".exe" from some programs. */
static void
test_zip_names(void **state)
{
	struct zb b;
	struct buf m;
	size_t off, cd;

	zb_init(&b);
	off = zb_add(&b, "photo.exeX.jpg", "hello", 5, 0);
	zb_finish(&b, false, NULL);
	cd = b.out.len - ZIP_EOCD_SIZE - b.cd.len;
	b.out.data[off + 30 + 9] = '\0';
	b.out.data[cd + 46 + 9] = '\0';
	msg_with(&m, "application/zip", "p.zip", b.out.data, b.out.len);
	expect_symbols(&m, "ATTACH_ARCHIVE_EXECUTABLE");
	buf_release(&m);
	zb_free(&b);

	/* Paths with backslashes, and a CLSID extension. */
	zb_init(&b);
	zb_add(&b, "docs\\x.{3050f4d8-98b5-11cf-bb82-00aa00bdce0b}", "h", 1, 0);
	zb_finish(&b, false, NULL);
	msg_with(&m, "application/zip", "p.zip", b.out.data, b.out.len);
	expect_symbols(&m, "ATTACH_ARCHIVE_EXECUTABLE");
	buf_release(&m);
	zb_free(&b);

	/* Ordinary names are nothing. */
	zb_init(&b);
	zb_add(&b, "2026/report.final.pdf", "%PDF-1.4\n", 9, 0);
	zb_add(&b, "notes.v2.txt", "hi", 2, 0);
	zb_finish(&b, false, NULL);
	msg_with(&m, "application/zip", "p.zip", b.out.data, b.out.len);
	expect_symbols(&m, "-");
	buf_release(&m);
	zb_free(&b);
}

/* Names: RFC 2231 with an unknown charset, RFC 2047 words, and the
 * Content-Type name when there is no filename. */
static void
test_part_names(void **state)
{
	static const char *const msgs[][2] = {
		{ "Content-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; "
		  "filename*=x-unknown''evil%2Eexe\r\n", "ATTACH_DANGEROUS_NAME" },
		{ "Content-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; "
		  "filename=\"=?UTF-8?B?c2Nhbi5zY3I=?=\"\r\n",
		  "ATTACH_DANGEROUS_NAME" },
		{ "Content-Type: application/octet-stream; name=\"a.vbs\"\r\n",
		  "ATTACH_DANGEROUS_NAME" },
		{ "Content-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; "
		  "filename*=UTF-8''invoice%E2%80%AEcod.js\r\n",
		  "ATTACH_DANGEROUS_NAME ATTACH_DOUBLE_EXT" },
		{ "Content-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; filename=\"report.docm\"\r\n",
		  "ATTACH_MACRO" },
		/* Padding alone, without a decoy extension. */
		{ "Content-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; "
		  "filename=\"readme      .js\"\r\n",
		  "ATTACH_DANGEROUS_NAME ATTACH_DOUBLE_EXT" },
		{ "Content-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; filename=\"read me.js\"\r\n",
		  "ATTACH_DANGEROUS_NAME" },
		{ "Content-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; filename=\"a.pdf.txt\"\r\n",
		  "-" },
		{ "Content-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; filename=\"v1.2.3.tar\"\r\n",
		  "-" },
	};

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct buf m;

		buf_init(&m, 65536);
		assert_int_equal(buf_printf(&m, "From: a@example.org\r\n"
		    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "--b\r\n%s\r\nx=1\r\n--b--\r\n", msgs[i][0]), 0);
		expect_symbols(&m, msgs[i][1]);
		buf_release(&m);
	}
}

/* Each thread has its own libmagic handle; results agree. */
struct thread_arg {
	const char *msg;
	size_t len;
	char got[1024];
	bool done_call;
};

static void *
thread_run(void *p)
{
	struct thread_arg *a = p;
	struct pool *tp = pool_new(4096);
	struct mime_part *root = NULL;
	const char *error = NULL;
	struct spam_msg m;
	struct spam_result r;

	for (int k = 0; k < 20; k++) {
		if (mime_parse(a->msg, a->len, tp, &root, &error) != 0)
			abort();
		memset(&m, 0, sizeof(m));
		m.data = a->msg;
		m.len = a->len;
		m.root = root;
		m.pool = tp;
		spam_result_init(&r, NULL);
		spam_check_attachments(&m, &r);
		symbols_of(&r, a->got, sizeof(a->got));
		pool_clear(tp);
	}
	pool_free(&tp);
	/* Half of them let the thread's exit close the handle. */
	if (a->done_call)
		spam_attach_thread_done();
	return NULL;
}

static void
test_threads(void **state)
{
	static const unsigned char pe_hdr[256] = { 'M', 'Z', [0x3c] = 0x80,
	    [0x80] = 'P', [0x81] = 'E' };
	struct thread_arg args[4];
	pthread_t t[4];
	struct buf m;

	msg_with(&m, "application/pdf", "invoice.pdf", pe_hdr, sizeof(pe_hdr));
	for (int i = 0; i < 4; i++) {
		args[i].msg = m.data;
		args[i].len = m.len;
		args[i].done_call = i % 2 == 0;
		assert_int_equal(pthread_create(&t[i], NULL, thread_run,
		    &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_string_equal(args[i].got,
		    "ATTACH_EXECUTABLE ATTACH_NAME_MISMATCH");
	}
	buf_release(&m);
}

/* The default thresholds (junk 5, quarantine 10, reject 15): the usual
 * malware combination is held, not refused; EICAR is refused. */
static void
test_actions(void **state)
{
	static const unsigned char pe_hdr[256] = { 'M', 'Z', [0x3c] = 0x80,
	    [0x80] = 'P', [0x81] = 'E' };
	struct spam_thresholds t = { 5, 10, 15 };
	struct spam_result r;
	struct buf m, e;

	msg_with(&m, "application/octet-stream", "invoice.pdf.exe", pe_hdr,
	    sizeof(pe_hdr));
	check(m.data, m.len, &r);
	assert_true(r.hold);
	assert_int_equal(spam_result_action(&r, &t), SPAM_ACTION_QUARANTINE);
	buf_release(&m);
	pool_clear(pool);
	buf_init(&e, 128);
	eicar_put(&e);
	msg_with(&m, "application/octet-stream", "e.txt", e.data, e.len);
	check(m.data, m.len, &r);
	assert_int_equal(spam_result_action(&r, &t), SPAM_ACTION_REJECT);
	buf_release(&m);
	buf_release(&e);
}

/* A body with an unknown transfer encoding is judged as it is; bytes
 * under a zip type without a name that are not a zip are nothing. */
static void
test_hostile_parts(void **state)
{
	static const unsigned char elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	struct buf m;

	buf_init(&m, 65536);
	assert_int_equal(buf_puts(&m, "From: a@example.org\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: x-weird\r\n\r\n"), 0);
	assert_int_equal(buf_append(&m, elf, sizeof(elf)), 0);
	expect_symbols(&m, "ATTACH_EXECUTABLE");
	buf_release(&m);
	/* Not a zip at all, under a zip type without a name: judged by
	 * content only, nothing. */
	msg_with(&m, "application/zip", NULL, "hello world", 11);
	expect_symbols(&m, "-");
	buf_release(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_golden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eicar_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eicar_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eicar_zip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nesting_depth, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_zip_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_part_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_parts, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
