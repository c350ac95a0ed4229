/*
 * test_dkim.c - DKIM (auth/dkim.h, auth/dkim-private.h): the tag-list
 * parser and base64 at and past their limits, canonicalization (the RFC
 * 6376 3.4.5 example and the edge cases), signature and key record
 * parsing with hostile input, key sizes, and the whole path: keys made and
 * loaded from a data directory, a message signed, then verified through a
 * key source plugged in for the test (answers come from the loop, as DNS
 * answers do), with cancellation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "auth/dkim-private.h"
#include "core/buf.h"
#include "core/pool.h"

/* --- tag lists --- */

static int
test_tl(const char *s, struct dkim_taglist *tl, const char **error_r)
{
	return dkim_taglist_parse(s, strlen(s), tl, error_r);
}

static void
test_taglist_ok(void **state)
{
	struct dkim_taglist tl;
	const char *error = NULL;
	const struct dkim_tag *t;

	assert_int_equal(test_tl(" v = 1 ;a=rsa-sha256;\r\n\tb=ab\r\n cd ;"
	    "x_1=;", &tl, &error), 0);
	assert_int_equal(tl.n, 4);
	t = dkim_taglist_get(&tl, "v");
	assert_int_equal(t->len, 1);
	assert_memory_equal(t->value, "1", 1);
	t = dkim_taglist_get(&tl, "b");
	/* inner folding kept, the ends trimmed */
	assert_int_equal(t->len, 7);
	assert_memory_equal(t->value, "ab\r\n cd", 7);
	assert_int_equal(dkim_taglist_get(&tl, "x_1")->len, 0);
	/* names are case-sensitive (3.2) */
	assert_null(dkim_taglist_get(&tl, "V"));
	assert_int_equal(test_tl("p=", &tl, &error), 0);
	assert_int_equal(tl.n, 1);
}

static void
test_taglist_bad(void **state)
{
	static const char *const bad[] = {
		"", "  \r\n ", "v=1;;a=b", "1v=1", "=1", "v", "v 1",
		"v=1; v=2", "a=b c;a=d", "v=1\x01", "v=1; b=\x7f", "v=\xc3\xa9",
		"_x=1", "v=1 ; ; ",
	};
	struct dkim_taglist tl;
	const char *error;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(test_tl(bad[i], &tl, &error), -1);
		assert_non_null(error);
	}
	/* a NUL byte is data, and not a VALCHAR */
	assert_int_equal(dkim_taglist_parse("a=b\0c", 5, &tl, &error), -1);
	assert_string_equal(error, "bad character in a tag value");
	assert_int_equal(dkim_taglist_parse("a=b\0", 4, &tl, &error), -1);
	assert_int_equal(test_tl("v=1; v=1", &tl, &error), -1);
	assert_string_equal(error, "duplicate tag");
}

static void
test_taglist_limits(void **state)
{
	struct dkim_taglist tl;
	const char *error;
	struct buf b;
	char name[DKIM_TAG_NAME_MAX + 2];

	/* DKIM_TAGS_MAX tags, then one more */
	buf_init(&b, 1 << 20);
	for (int i = 0; i < DKIM_TAGS_MAX; i++)
		assert_int_equal(buf_printf(&b, "t%d=%d;", i, i), 0);
	assert_int_equal(dkim_taglist_parse(b.data, b.len, &tl, &error), 0);
	assert_int_equal(tl.n, DKIM_TAGS_MAX);
	assert_int_equal(buf_printf(&b, "last=1"), 0);
	assert_int_equal(dkim_taglist_parse(b.data, b.len, &tl, &error), -1);
	assert_string_equal(error, "too many tags");

	/* a name of DKIM_TAG_NAME_MAX, then one more */
	memset(name, 'n', sizeof(name));
	name[DKIM_TAG_NAME_MAX] = '\0';
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s=1", name), 0);
	assert_int_equal(dkim_taglist_parse(b.data, b.len, &tl, &error), 0);
	assert_string_equal(tl.tags[0].name, name);
	name[DKIM_TAG_NAME_MAX] = 'n';
	name[DKIM_TAG_NAME_MAX + 1] = '\0';
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s=1", name), 0);
	assert_int_equal(dkim_taglist_parse(b.data, b.len, &tl, &error), -1);
	assert_string_equal(error, "tag name too long");

	/* DKIM_TAGLIST_MAX bytes, then one more: a huge record */
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "p="), 0);
	while (b.len < DKIM_TAGLIST_MAX)
		assert_int_equal(buf_append(&b, "A", 1), 0);
	assert_int_equal(dkim_taglist_parse(b.data, b.len, &tl, &error), 0);
	assert_int_equal(tl.tags[0].len, DKIM_TAGLIST_MAX - 2);
	assert_int_equal(buf_append(&b, "A", 1), 0);
	assert_int_equal(dkim_taglist_parse(b.data, b.len, &tl, &error), -1);
	assert_string_equal(error, "tag list too long");
	buf_release(&b);
}

/* Every prefix of a valid list, copied so that ASan sees any read past
 * its end. */
static void
test_taglist_prefixes(void **state)
{
	static const char full[] = "v=1; a=rsa-sha256; d=example.test;\r\n"
	    "\ts=sel; h=from:to; bh=AAAA; b=BB\r\n\t CC;";
	struct dkim_taglist tl;
	const char *error;

	for (size_t n = 0; n <= sizeof(full) - 1; n++) {
		char *copy = malloc(n > 0 ? n : 1);

		memcpy(copy, full, n);
		(void)dkim_taglist_parse(copy, n, &tl, &error);
		for (size_t i = 0; i < tl.n; i++)
			assert_true(tl.tags[i].value + tl.tags[i].len <= copy + n);
		free(copy);
	}
}

/* --- base64 --- */

static void
test_base64(void **state)
{
	unsigned char out[16];
	char enc[32];

	assert_int_equal(dkim_base64_decode("YWJj", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(dkim_base64_decode(" Y W\r\n\tJ j ", 11, out,
	    sizeof(out)), 3);
	assert_int_equal(dkim_base64_decode("YWI=", 4, out, sizeof(out)), 2);
	assert_int_equal(dkim_base64_decode("YQ==", 4, out, sizeof(out)), 1);
	assert_int_equal(dkim_base64_decode("", 0, out, sizeof(out)), 0);
	assert_int_equal(dkim_base64_decode("YQ= =", 5, out, sizeof(out)), 1);
	/* bad: characters, padding, lengths, data after padding, NUL */
	assert_int_equal(dkim_base64_decode("YW*j", 4, out, sizeof(out)), -1);
	assert_int_equal(dkim_base64_decode("YWJ", 3, out, sizeof(out)), -1);
	assert_int_equal(dkim_base64_decode("YQ=", 3, out, sizeof(out)), -1);
	assert_int_equal(dkim_base64_decode("Y===", 4, out, sizeof(out)), -1);
	assert_int_equal(dkim_base64_decode("YQ==YWJj", 8, out, sizeof(out)),
	    -1);
	assert_int_equal(dkim_base64_decode("YWI=", 4, out, sizeof(out)), 2);
	assert_int_equal(dkim_base64_decode("YW==", 4, out, sizeof(out)), 1);
	assert_int_equal(dkim_base64_decode("YWJ=", 4, out, sizeof(out)), 2);
	assert_int_equal(dkim_base64_decode("YWJ\0", 4, out, sizeof(out)), -1);
	/* output bound: 3 bytes into 2 */
	assert_int_equal(dkim_base64_decode("YWJj", 4, out, 2), -1);
	assert_int_equal(dkim_base64_decode("YWJj", 4, out, 3), 3);

	assert_int_equal(dkim_base64_encode((const unsigned char *)"abcd", 4,
	    enc, sizeof(enc)), 8);
	assert_string_equal(enc, "YWJjZA==");
	assert_int_equal(dkim_base64_encode((const unsigned char *)"abcd", 4,
	    enc, 8), -1);
	assert_int_equal(dkim_base64_encode((const unsigned char *)"abcd", 4,
	    enc, 9), 8);
}

/* --- canonicalization --- */

static void
test_collect(void *ctx, const char *data, size_t len)
{
	assert_int_equal(buf_append(ctx, data, len), 0);
}

static void
test_canon_body_is(enum dkim_canon canon, const char *body, const char *want)
{
	struct buf b;
	uint64_t n;

	buf_init(&b, 1 << 16);
	n = dkim_canon_body(canon, body, strlen(body), test_collect, &b);
	assert_int_equal(n, strlen(want));
	assert_int_equal(b.len, strlen(want));
	if (b.len > 0)
		assert_memory_equal(b.data, want, b.len);
	buf_release(&b);
}

static void
test_canon_header_is(enum dkim_canon canon, const char *field, bool crlf,
    const char *want)
{
	struct buf b;

	buf_init(&b, 1 << 16);
	dkim_canon_header(canon, field, strlen(field), crlf, test_collect, &b);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_release(&b);
}

/* RFC 6376 3.4.5 */
static void
test_canon_rfc_example(void **state)
{
	static const char msg[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n"
	    " C \r\nD \t E\r\n\r\n\r\n";
	struct dkim_field f[8];
	size_t body;

	assert_int_equal(dkim_header_split(msg, sizeof(msg) - 1, f, 8, &body),
	    2);
	test_canon_header_is(DKIM_CANON_RELAXED, "A: X\r\n", true, "a:X\r\n");
	test_canon_header_is(DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", true,
	    "b:Y Z\r\n");
	test_canon_header_is(DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n", true,
	    "B : Y\t\r\n\tZ  \r\n");
	assert_int_equal(f[1].name_len, 1);
	assert_int_equal(f[1].len, strlen("B : Y\t\r\n\tZ  \r\n"));
	test_canon_body_is(DKIM_CANON_RELAXED, msg + body, " C\r\nD E\r\n");
	test_canon_body_is(DKIM_CANON_SIMPLE, msg + body, " C \r\nD \t E\r\n");
}

static void
test_canon_edges(void **state)
{
	/* empty bodies: simple is one CRLF, relaxed nothing */
	test_canon_body_is(DKIM_CANON_SIMPLE, "", "\r\n");
	test_canon_body_is(DKIM_CANON_RELAXED, "", "");
	test_canon_body_is(DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n");
	test_canon_body_is(DKIM_CANON_RELAXED, "\r\n\r\n", "");
	/* lines of white space: empty for relaxed only */
	test_canon_body_is(DKIM_CANON_RELAXED, " \t\r\n\t\r\n", "");
	test_canon_body_is(DKIM_CANON_SIMPLE, " \t\r\n\t\r\n", " \t\r\n\t\r\n");
	test_canon_body_is(DKIM_CANON_RELAXED, "a\r\n \r\n\r\nb\r\n\r\n",
	    "a\r\n\r\n\r\nb\r\n");
	/* no final CRLF: one is added */
	test_canon_body_is(DKIM_CANON_SIMPLE, "abc", "abc\r\n");
	test_canon_body_is(DKIM_CANON_RELAXED, "abc  ", "abc\r\n");
	/* WSP runs, leading WSP kept as one SP (relaxed) */
	test_canon_body_is(DKIM_CANON_RELAXED, "\t\t a  \t b \r\n",
	    " a b\r\n");
	/* a bare LF is content, not a line end */
	test_canon_body_is(DKIM_CANON_SIMPLE, "a\nb\r\n\r\n", "a\nb\r\n");
	/* NUL bytes are content too */
	{
		struct buf b;

		buf_init(&b, 64);
		assert_int_equal(dkim_canon_body(DKIM_CANON_RELAXED, "a\0 b",
		    4, test_collect, &b), 6);
		assert_memory_equal(b.data, "a\0 b\r\n", 6);
		buf_release(&b);
	}
	/* headers: folding, WSP around the colon, empty values */
	test_canon_header_is(DKIM_CANON_RELAXED, "SUBJect \t:  a\r\n  b \r\n",
	    true, "subject:a b\r\n");
	test_canon_header_is(DKIM_CANON_RELAXED, "X-Empty:\r\n", true,
	    "x-empty:\r\n");
	test_canon_header_is(DKIM_CANON_RELAXED, "X:   \r\n\t \r\n", false,
	    "x:");
	test_canon_header_is(DKIM_CANON_SIMPLE, "X: y\r\n", false, "X: y");
}

static void
test_header_split(void **state)
{
	static const char msg[] = "From: a\r\nSubject: b\r\n c\r\nX\r\n\r\nbody";
	struct dkim_field f[4];
	size_t body;

	assert_int_equal(dkim_header_split(msg, sizeof(msg) - 1, f, 4, &body),
	    3);
	assert_true(dkim_field_is(&f[0], "from", 4));
	assert_true(dkim_field_is(&f[1], "SUBJECT", 7));
	assert_int_equal(f[1].len, strlen("Subject: b\r\n c\r\n"));
	assert_int_equal(f[2].name_len, 0);	/* no colon */
	assert_false(dkim_field_is(&f[2], "X", 1));
	assert_string_equal(msg + body, "body");
	/* the limit: 3 fields into 2 */
	assert_int_equal(dkim_header_split(msg, sizeof(msg) - 1, f, 2, &body),
	    -1);
	/* no empty line: all header */
	assert_int_equal(dkim_header_split("A: b\r\nC: d", 10, f, 4, &body), 2);
	assert_int_equal(body, 10);
	assert_int_equal(f[1].len, 4);
}

/* --- signatures --- */

#define BH32 "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"

static int
test_sig(const char *value, struct dkim_sig *sig, const char **error_r)
{
	return dkim_sig_parse(value, strlen(value), sig, error_r);
}

static void
test_sig_parse_ok(void **state)
{
	struct dkim_sig *sig = malloc(sizeof(*sig));
	const char *error = NULL;

	assert_int_equal(test_sig(" v=1; a=rsa-sha256; d=Example.TEST;"
	    " s=Sel; c=relaxed;\r\n\th = from : to: FROM ; " BH32
	    " b=dGVzdA==; t=100; x=200; l=5; q=dns/txt; i=joe@sub.example.test;"
	    " z=ignored", sig, &error), 0);
	assert_int_equal(sig->alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(sig->hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(sig->bcanon, DKIM_CANON_SIMPLE);
	assert_string_equal(sig->domain, "example.test");
	assert_string_equal(sig->selector, "sel");
	assert_string_equal(sig->identity, "joe@sub.example.test");
	assert_int_equal(sig->n_h, 3);
	assert_int_equal(sig->h[1].len, 2);
	assert_memory_equal(sig->h[1].name, "to", 2);
	assert_int_equal(sig->b_len, 4);
	assert_int_equal(sig->bh_len, 32);
	assert_true(sig->has_l && sig->l == 5);
	assert_true(sig->has_t && sig->t == 100 && sig->x == 200);
	assert_string_equal(sig->b_text, "dGVzdA==");

	assert_int_equal(test_sig("v=1; a=ed25519-sha256; d=example.test; "
	    "s=s; c=simple/relaxed; h=from; " BH32 " b=dGVzdA==", sig,
	    &error), 0);
	assert_int_equal(sig->alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(sig->bcanon, DKIM_CANON_RELAXED);
	assert_string_equal(sig->identity, "@example.test");
	free(sig);
}

static void
test_sig_parse_bad(void **state)
{
	static const struct {
		const char *value;
		const char *error;
	} bad[] = {
		{ "v=2; a=rsa-sha256; d=e.test; s=s; h=from; " BH32 " b=dGVz",
		  "v= missing or not 1" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; b=dGVz",
		  "a required tag is missing (a, b, bh, d, h, s)" },
		{ "v=1; a=rsa-sha512; d=e.test; s=s; h=from; " BH32 " b=dGVz",
		  "unknown algorithm (a=)" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=to:subject; " BH32
		  " b=dGVz", "h= does not list From (RFC 6376 5.4)" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from::to; " BH32
		  " b=dGVz", "bad h= tag, or too many names" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz; i=joe@other.test", "i= is not in the domain of d=" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz; i=joe@xe.test", "i= is not in the domain of d=" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz; i=joe", "bad i= tag" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32 " b=dG*z",
		  "b= is not base64, or too long" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=dGVzdA==;"
		  " b=dGVz", "bh= is not a base64 hash of the right size" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; c=fancy; " BH32
		  " b=dGVz", "unknown canonicalization (c=)" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; c=simple/x; " BH32
		  " b=dGVz", "unknown canonicalization (c=)" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz; l=184467440737095516160", "bad l= tag" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz; l=-1", "bad l= tag" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz; t=200; x=100", "x= is before t=" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz; t=1234567890123", "bad t= tag" },
		{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz; q=http/well-known", "q= does not offer dns/txt" },
		{ "v=1; a=rsa-sha256; d=e..test; s=s; h=from; " BH32 " b=dGVz",
		  "bad d= tag" },
		{ "v=1; a=rsa-sha256; d=e.test.; s=s; h=from; " BH32 " b=dGVz",
		  "bad d= tag" },
		{ "v=1; a=rsa-sha256; d=e.test; s=a/b; h=from; " BH32 " b=dGVz",
		  "bad s= tag" },
		{ "v=1; v=1; a=rsa-sha256; d=e.test; s=s; h=from; " BH32
		  " b=dGVz", "duplicate tag" },
	};
	struct dkim_sig *sig = malloc(sizeof(*sig));
	const char *error;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(test_sig(bad[i].value, sig, &error), -1);
		assert_string_equal(error, bad[i].error);
	}
	free(sig);
}

static void
test_sig_limits(void **state)
{
	struct dkim_sig *sig = malloc(sizeof(*sig));
	const char *error;
	struct buf b;

	/* h= with DKIM_H_MAX names, then one more */
	buf_init(&b, 1 << 16);
	assert_int_equal(buf_puts(&b, "v=1; a=rsa-sha256; d=e.test; s=s; "
	    BH32 " b=dGVz; h=from"), 0);
	for (int i = 1; i < DKIM_H_MAX; i++)
		assert_int_equal(buf_puts(&b, ":to"), 0);
	assert_int_equal(dkim_sig_parse(b.data, b.len, sig, &error), 0);
	assert_int_equal(sig->n_h, DKIM_H_MAX);
	assert_int_equal(buf_puts(&b, ":to"), 0);
	assert_int_equal(dkim_sig_parse(b.data, b.len, sig, &error), -1);

	/* b= of an 8192-bit key (1024 bytes), then one byte more */
	for (size_t n = 1024; n <= 1025; n++) {
		unsigned char *raw = calloc(1, n);
		char *enc = malloc(2 * n);

		assert_true(dkim_base64_encode(raw, n, enc, 2 * n) > 0);
		buf_reset(&b);
		assert_int_equal(buf_printf(&b, "v=1; a=rsa-sha256; d=e.test; "
		    "s=s; h=from; " BH32 " b=%s", enc), 0);
		assert_int_equal(dkim_sig_parse(b.data, b.len, sig, &error),
		    n == 1024 ? 0 : -1);
		free(raw);
		free(enc);
	}
	buf_release(&b);
	free(sig);
}

/* --- key records --- */

static int
test_rec(const char *s, struct dkim_keyrec *rec, const char **error_r)
{
	return dkim_keyrec_parse(s, strlen(s), rec, error_r);
}

static void
test_keyrec(void **state)
{
	struct dkim_keyrec *rec = malloc(sizeof(*rec));
	const char *error = NULL;
	struct buf b;

	assert_int_equal(test_rec("v=DKIM1; k=rsa; h=sha1:sha256; t=y:s:x; "
	    "n=a note; p=dGVzdA==", rec, &error), 0);
	assert_true(rec->rsa && rec->sha256_ok && rec->testing && rec->strict);
	assert_false(rec->revoked);
	assert_int_equal(rec->p_len, 4);
	assert_int_equal(test_rec("p=", rec, &error), 0);
	assert_true(rec->revoked && rec->rsa && rec->sha256_ok);
	assert_int_equal(test_rec("k=ed25519; s=email:*; h=sha1; p=dGVzdA==",
	    rec, &error), 0);
	assert_false(rec->rsa);
	assert_false(rec->sha256_ok);

	assert_int_equal(test_rec("k=rsa; v=DKIM1; p=", rec, &error), -1);
	assert_string_equal(error, "key record is not v=DKIM1");
	assert_int_equal(test_rec("v=DKIM2; p=", rec, &error), -1);
	assert_int_equal(test_rec("v=DKIM1; k=dsa; p=", rec, &error), -1);
	assert_string_equal(error, "unknown key type (k=)");
	assert_int_equal(test_rec("v=DKIM1; s=web; p=", rec, &error), -1);
	assert_string_equal(error, "key is not for email (s=)");
	assert_int_equal(test_rec("v=DKIM1; k=rsa", rec, &error), -1);
	assert_string_equal(error, "key record without p=");
	assert_int_equal(test_rec("v=DKIM1; p=MIIB!", rec, &error), -1);
	assert_string_equal(error, "p= is not base64, or too long");
	assert_int_equal(test_rec("v=spf1 -all", rec, &error), -1);
	assert_int_equal(dkim_keyrec_parse("p=\0", 3, rec, &error), -1);

	/* p= of sizeof(rec->p) bytes, then more: an absurd key */
	buf_init(&b, 1 << 16);
	for (size_t n = sizeof(rec->p); n <= sizeof(rec->p) + 3; n += 3) {
		unsigned char *raw = calloc(1, n);
		char *enc = malloc(2 * n);

		assert_true(dkim_base64_encode(raw, n, enc, 2 * n) > 0);
		buf_reset(&b);
		assert_int_equal(buf_printf(&b, "p=%s", enc), 0);
		assert_int_equal(dkim_keyrec_parse(b.data, b.len, rec, &error),
		    n == sizeof(rec->p) ? 0 : -1);
		free(raw);
		free(enc);
	}
	buf_release(&b);
	free(rec);
}

/* A record for the public half of key, as p= would carry it. */
static void
test_rec_of(EVP_PKEY *key, bool spki, struct dkim_keyrec *rec)
{
	unsigned char *p = rec->p;
	int n;

	memset(rec, 0, sizeof(*rec));
	rec->rsa = true;
	n = spki ? i2d_PUBKEY(key, &p) : i2d_PublicKey(key, &p);
	assert_true(n > 0 && (size_t)n <= sizeof(rec->p));
	rec->p_len = (size_t)n;
}

/* An RSA public key with a random modulus of bits bits: generating a real
 * key that large would take minutes, and verification needs no primes. */
static EVP_PKEY *
test_rsa_public(int bits)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *n = BN_new(), *e = BN_new();
	OSSL_PARAM *params;
	EVP_PKEY *key = NULL;

	assert_int_equal(BN_rand(n, bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD),
	    1);
	assert_int_equal(BN_set_word(e, 65537), 1);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY,
	    params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return key;
}

static void
test_key_sizes(void **state)
{
	struct dkim_keyrec *rec = malloc(sizeof(*rec));
	const char *error;
	EVP_PKEY *key, *pub;
	bool small;
	unsigned bits;

	/* 1024 and 8192 bits: the bounds, accepted, as SPKI or PKCS#1 */
	for (int b = 1024; b <= 8192; b += 7168) {
		key = test_rsa_public(b);
		test_rec_of(key, b == 1024, rec);
		pub = dkim_keyrec_pkey(rec, &small, &bits, &error);
		assert_non_null(pub);
		assert_int_equal(bits, b);
		EVP_PKEY_free(pub);
		EVP_PKEY_free(key);
	}
	/* 1023 bits: too small (RFC 8301), a fail; 8200: too large */
	key = test_rsa_public(1023);
	test_rec_of(key, true, rec);
	assert_null(dkim_keyrec_pkey(rec, &small, &bits, &error));
	assert_true(small);
	assert_int_equal(bits, 1023);
	EVP_PKEY_free(key);
	key = test_rsa_public(8200);
	test_rec_of(key, true, rec);
	assert_null(dkim_keyrec_pkey(rec, &small, &bits, &error));
	assert_false(small);
	assert_string_equal(error, "RSA key too large (over 8192 bits)");
	EVP_PKEY_free(key);

	/* trailing bytes after the key, and garbage */
	key = test_rsa_public(2048);
	test_rec_of(key, true, rec);
	rec->p[rec->p_len++] = 0;
	assert_null(dkim_keyrec_pkey(rec, &small, &bits, &error));
	rec->p_len = 40;
	assert_null(dkim_keyrec_pkey(rec, &small, &bits, &error));
	EVP_PKEY_free(key);

	/* another type of key in a k=rsa record */
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	test_rec_of(key, true, rec);
	assert_null(dkim_keyrec_pkey(rec, &small, &bits, &error));
	assert_string_equal(error, "p= is not an RSA key (k=rsa)");
	/* Ed25519: raw 32 bytes only */
	rec->rsa = false;
	rec->p_len = 32;
	assert_non_null(pub = dkim_keyrec_pkey(rec, &small, &bits, &error));
	EVP_PKEY_free(pub);
	rec->p_len = 31;
	assert_null(dkim_keyrec_pkey(rec, &small, &bits, &error));
	EVP_PKEY_free(key);
	free(rec);
}

/* --- the whole path: keys, signing, verifying through a key source --- */

struct test_zone {
	const char *name;
	enum dns_status status;
	const char *txt;
};

struct test_source {
	struct event_base *base;
	const struct test_zone *zone;
	size_t n_zone;
	unsigned lookups, cancels;
};

struct test_query {
	struct test_source *src;
	struct event *ev;
	dns_query_callback *cb;
	void *cb_ctx;
	struct dns_result *r;
};

static void
test_query_cb(evutil_socket_t fd, short what, void *arg)
{
	struct test_query *q = arg;
	struct dns_result *r = q->r;
	dns_query_callback *cb = q->cb;
	void *ctx = q->cb_ctx;

	event_free(q->ev);
	free(q);
	cb(ctx, r);
}

static void *
test_lookup(void *ctx, const char *name, dns_query_callback *cb, void *cb_ctx)
{
	struct test_source *src = ctx;
	struct test_query *q = calloc(1, sizeof(*q));
	struct pool *pool = pool_new(1024);
	struct dns_result *r = pool_alloc(pool, sizeof(*r));
	struct timeval tv = { 0, 0 };

	src->lookups++;
	r->pool = pool;
	r->rrtype = DNS_TYPE_TXT;
	r->name = pool_strdup(pool, name);
	r->status = DNS_NXDOMAIN;
	for (size_t i = 0; i < src->n_zone; i++) {
		if (strcmp(src->zone[i].name, name) != 0)
			continue;
		r->status = src->zone[i].status;
		if (r->status == DNS_OK) {
			r->count = 1;
			r->rr.txt = pool_alloc(pool, sizeof(*r->rr.txt));
			r->rr.txt[0].data = pool_strdup(pool, src->zone[i].txt);
			r->rr.txt[0].len = strlen(src->zone[i].txt);
		}
	}
	q->src = src;
	q->cb = cb;
	q->cb_ctx = cb_ctx;
	q->r = r;
	/* answered from the loop, never from inside the call */
	q->ev = evtimer_new(src->base, test_query_cb, q);
	evtimer_add(q->ev, &tv);
	return q;
}

static void
test_cancel(void *ctx, void *handle)
{
	struct test_query *q = handle;
	struct test_source *src = ctx;

	src->cancels++;
	event_free(q->ev);
	dns_result_free(&q->r);
	free(q);
}

struct test_done {
	struct dkim_verify_result *result;
	unsigned calls;
};

static void
test_done_cb(void *ctx, struct dkim_verify_result *result)
{
	struct test_done *d = ctx;

	d->calls++;
	d->result = result;
}

struct test_keys {
	char records[4][2][1200];
	size_t n;
};

static void
test_key_cb(void *ctx, const struct dkim_key_info *info)
{
	struct test_keys *k = ctx;

	assert_true(k->n < 4);
	snprintf(k->records[k->n][0], sizeof(k->records[0][0]),
	    "%s._domainkey.%s", info->selector, info->domain);
	snprintf(k->records[k->n][1], sizeof(k->records[0][1]), "%s",
	    info->record);
	k->n++;
}

/* Verifies msg with the zone; returns the result (to be freed). */
static struct dkim_verify_result *
test_verify(struct test_source *src, const char *msg, size_t len, time_t now)
{
	struct dkim_verifier *v = dkim_verifier_new_source(src->base,
	    &(struct dkim_keysource){ test_lookup, test_cancel, src });
	struct test_done d = { NULL, 0 };

	(void)dkim_verify_start(v, msg, len, now, test_done_cb, &d);
	/* never called back from inside the start */
	assert_int_equal(d.calls, 0);
	assert_int_not_equal(event_base_dispatch(src->base), -1);
	assert_int_equal(d.calls, 1);
	dkim_verifier_free(&v);
	return d.result;
}

static void
test_sign_and_verify(void **state)
{
	char dir[] = "/tmp/test_dkim.XXXXXX";
	static const char msg[] = "From: Joe <joe@example.test>\r\n"
	    "To: ann@example.org\r\nSubject: hi\r\n\r\nHello  world.\r\n\r\n";
	struct test_zone zone[6];
	struct test_source src = { NULL, zone, 0, 0, 0 };
	struct test_keys keys;
	struct dkim_keys *dk;
	struct dkim_verify_result *r;
	const char *error;
	struct buf signed_msg, sigs;
	char *tampered, path[512];

	assert_non_null(mkdtemp(dir));
	assert_int_equal(dkim_key_generate(dir, "example.test", "r1",
	    DKIM_ALG_RSA_SHA256, &error), 0);
	assert_int_equal(dkim_key_generate(dir, "example.test", "e1",
	    DKIM_ALG_ED25519_SHA256, &error), 0);
	assert_int_equal(dkim_key_generate(dir, "example.test", "e1",
	    DKIM_ALG_ED25519_SHA256, &error), -1);
	assert_non_null(strstr(error, "exists already"));
	assert_int_equal(dkim_key_generate(dir, "example.test", "bad/sel",
	    DKIM_ALG_ED25519_SHA256, &error), -1);
	/* a file that is no key is skipped when loading */
	snprintf(path, sizeof(path), "%s/dkim/example.test/junk.pem", dir);
	{
		FILE *f = fopen(path, "w");

		fputs("not a key\n", f);
		fclose(f);
	}
	dk = dkim_keys_load(dir, &error);
	assert_non_null(dk);
	assert_int_equal(dkim_keys_count(dk), 2);
	memset(&keys, 0, sizeof(keys));
	dkim_keys_foreach(dk, "example.test", test_key_cb, &keys);
	assert_int_equal(keys.n, 2);
	/* sorted: RSA first */
	assert_string_equal(keys.records[0][0], "r1._domainkey.example.test");

	buf_init(&signed_msg, 1 << 16);
	buf_init(&sigs, 1 << 16);
	assert_int_equal(dkim_sign(dk, msg, sizeof(msg) - 1, 1000, &sigs,
	    &error), 2);
	assert_non_null(strstr(sigs.data, "h=From:From:Subject:To;"));
	assert_int_equal(buf_append(&signed_msg, sigs.data, sigs.len), 0);
	assert_int_equal(buf_append(&signed_msg, msg, sizeof(msg) - 1), 0);
	/* a domain without keys: nothing */
	buf_reset(&sigs);
	assert_int_equal(dkim_sign(dk, "From: a@other.test\r\n\r\nx\r\n", 25,
	    1000, &sigs, &error), 0);
	assert_int_equal(sigs.len, 0);

	src.base = event_base_new();
	zone[0] = (struct test_zone){ keys.records[0][0], DNS_OK,
	    keys.records[0][1] };
	zone[1] = (struct test_zone){ keys.records[1][0], DNS_OK,
	    keys.records[1][1] };
	src.n_zone = 2;
	r = test_verify(&src, signed_msg.data, signed_msg.len, 1000);
	assert_int_equal(r->n_sigs, 2);
	assert_int_equal(r->sigs[0].status, DKIM_PASS);
	assert_string_equal(r->sigs[0].algorithm, "rsa-sha256");
	assert_int_equal(r->sigs[0].key_bits, 2048);
	assert_int_equal(r->sigs[1].status, DKIM_PASS);
	assert_string_equal(r->sigs[1].algorithm, "ed25519-sha256");
	assert_string_equal(r->sigs[1].domain, "example.test");
	assert_string_equal(r->sigs[1].selector, "e1");
	dkim_verify_result_free(&r);

	/* the body changed; a signed field changed */
	tampered = malloc(signed_msg.len + 1);
	memcpy(tampered, signed_msg.data, signed_msg.len + 1);
	*strstr(tampered, "Hello") = 'J';
	r = test_verify(&src, tampered, signed_msg.len, 1000);
	assert_string_equal(r->sigs[0].reason, "body hash mismatch");
	assert_string_equal(r->sigs[1].reason, "body hash mismatch");
	dkim_verify_result_free(&r);
	memcpy(tampered, signed_msg.data, signed_msg.len + 1);
	strstr(tampered, "Subject: hi")[9] = 'H';
	r = test_verify(&src, tampered, signed_msg.len, 1000);
	assert_int_equal(r->sigs[0].status, DKIM_FAIL);
	assert_string_equal(r->sigs[1].reason, "signature verification failed");
	dkim_verify_result_free(&r);
	free(tampered);

	/* lookups that fail: temporary, permanent, revoked */
	zone[0].status = DNS_TIMEOUT;
	zone[1].status = DNS_NXDOMAIN;
	r = test_verify(&src, signed_msg.data, signed_msg.len, 1000);
	assert_int_equal(r->sigs[0].status, DKIM_TEMPERROR);
	assert_string_equal(r->sigs[0].reason, "key lookup failed: timeout");
	assert_int_equal(r->sigs[1].status, DKIM_PERMERROR);
	assert_string_equal(r->sigs[1].reason, "no key");
	dkim_verify_result_free(&r);
	zone[0] = (struct test_zone){ keys.records[0][0], DNS_OK,
	    "v=DKIM1; p=" };
	zone[1] = (struct test_zone){ keys.records[1][0], DNS_OK,
	    "v=DKIM1; k=ed25519; p=AAAA" };
	r = test_verify(&src, signed_msg.data, signed_msg.len, 1000);
	assert_int_equal(r->sigs[0].status, DKIM_PERMERROR);
	assert_string_equal(r->sigs[0].reason, "key revoked");
	assert_string_equal(r->sigs[1].reason,
	    "bad ed25519 key (p= is not 32 bytes)");
	dkim_verify_result_free(&r);

	/* cancelled before the answers: no callback, nothing leaks */
	{
		struct dkim_verifier *v = dkim_verifier_new_source(src.base,
		    &(struct dkim_keysource){ test_lookup, test_cancel, &src });
		struct test_done d = { NULL, 0 };
		struct dkim_verify *h;

		h = dkim_verify_start(v, signed_msg.data, signed_msg.len, 1000,
		    test_done_cb, &d);
		dkim_verify_cancel(&h);
		assert_null(h);
		assert_int_equal(src.cancels, 2);
		assert_int_equal(event_base_dispatch(src.base), 1);
		assert_int_equal(d.calls, 0);
		/* and a message without signatures, cancelled too */
		h = dkim_verify_start(v, msg, sizeof(msg) - 1, 1000,
		    test_done_cb, &d);
		dkim_verify_cancel(&h);
		assert_int_equal(d.calls, 0);
		dkim_verifier_free(&v);
	}

	/* no signature: a result from the loop, with none */
	r = test_verify(&src, msg, sizeof(msg) - 1, 1000);
	assert_int_equal(r->n_sigs, 0);
	dkim_verify_result_free(&r);

	event_base_free(src.base);
	buf_release(&signed_msg);
	buf_release(&sigs);
	dkim_keys_free(&dk);
	assert_null(dk);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* Signatures the verifier decides on without a key. */
static void
test_verify_without_key(void **state)
{
	struct test_source src = { event_base_new(), NULL, 0, 0, 0 };
	struct dkim_verify_result *r;
	struct buf m;

	buf_init(&m, 1 << 20);
	/* expired, in the future, rsa-sha1, malformed; then 8 more: two
	 * past the limit */
	assert_int_equal(buf_puts(&m,
	    "DKIM-Signature: v=1; a=rsa-sha256; d=e.test; s=s; h=from; "
	    BH32 " b=dGVz; t=50; x=100\r\n"
	    "DKIM-Signature: v=1; a=ed25519-sha256; d=e.test; s=s; h=from; "
	    BH32 " b=dGVz; t=9000\r\n"
	    "DKIM-Signature: v=1; a=rsa-sha1; d=e.test; s=s; h=from; "
	    "bh=AAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=dGVz\r\n"), 0);
	{
		static const char nul[] = "dkim-signature: v=1; a=rsa-sha256; "
		    "d=e.test; s=s; h=from; bh=\0\r\n";

		assert_int_equal(buf_append(&m, nul, sizeof(nul) - 1), 0);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf_puts(&m, "DKIM-Signature: garbage\r\n"), 0);
	assert_int_equal(buf_puts(&m, "From: a@e.test\r\n\r\nbody\r\n"), 0);
	r = test_verify(&src, m.data, m.len, 1000);
	assert_int_equal(src.lookups, 0);
	assert_int_equal(r->n_sigs, DKIM_SIGS_MAX);
	assert_int_equal(r->n_ignored, 2);
	assert_int_equal(r->sigs[0].status, DKIM_FAIL);
	assert_string_equal(r->sigs[0].reason, "signature expired (x=)");
	assert_int_equal(r->sigs[1].status, DKIM_POLICY);
	assert_int_equal(r->sigs[2].status, DKIM_FAIL);
	assert_string_equal(r->sigs[2].reason,
	    "rsa-sha1 not accepted (RFC 8301)");
	assert_int_equal(r->sigs[3].status, DKIM_PERMERROR);
	assert_string_equal(r->sigs[4].reason, "missing '=' after a tag name");
	assert_null(r->sigs[4].domain);
	dkim_verify_result_free(&r);

	/* too many header fields: one result says so */
	buf_reset(&m);
	for (int i = 0; i <= DKIM_FIELDS_MAX; i++)
		assert_int_equal(buf_puts(&m, "X: y\r\n"), 0);
	r = test_verify(&src, m.data, m.len, 1000);
	assert_int_equal(r->n_sigs, 1);
	assert_int_equal(r->sigs[0].status, DKIM_PERMERROR);
	dkim_verify_result_free(&r);

	/* the key name would be longer than a DNS name: d= of 243
	 * characters is a name, s=a._domainkey.d= is not */
	{
		char label[61];

		memset(label, 'a', 60);
		label[60] = '\0';
		buf_reset(&m);
		assert_int_equal(buf_printf(&m, "DKIM-Signature: v=1; "
		    "a=rsa-sha256; c=simple/relaxed; d=%s.%s.%s.%s.test; "
		    "s=a; h=from; " BH32 " b=dGVz\r\n\r\n", label, label,
		    label, label), 0);
	}
	r = test_verify(&src, m.data, m.len, 1000);
	assert_int_equal(r->sigs[0].status, DKIM_PERMERROR);
	assert_string_equal(r->sigs[0].reason, "key name too long");
	assert_int_equal(src.lookups, 0);
	dkim_verify_result_free(&r);
	buf_release(&m);
	event_base_free(src.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taglist_ok),
		cmocka_unit_test(test_taglist_bad),
		cmocka_unit_test(test_taglist_limits),
		cmocka_unit_test(test_taglist_prefixes),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_canon_rfc_example),
		cmocka_unit_test(test_canon_edges),
		cmocka_unit_test(test_header_split),
		cmocka_unit_test(test_sig_parse_ok),
		cmocka_unit_test(test_sig_parse_bad),
		cmocka_unit_test(test_sig_limits),
		cmocka_unit_test(test_keyrec),
		cmocka_unit_test(test_key_sizes),
		cmocka_unit_test(test_sign_and_verify),
		cmocka_unit_test(test_verify_without_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
