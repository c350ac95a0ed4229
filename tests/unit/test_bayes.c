/*
 * test_bayes.c - unit tests of the statistical classifier
 * (filter/bayes.c) and its tables (store/store-bayes.c).
 *
 * The math against known values (SipHash's published vector, chi-square
 * tables and closed forms); the tokenizer on crafted messages, at its
 * limits (word length at max-1, max, max+1; a 1 MB word; a million
 * words; binary bytes; every prefix of a message); the content hash;
 * and classification after training on a small synthetic corpus in a
 * temporary store: verdicts, learning once, relearning as the other
 * class, unlearning, per-user tables, expiry, and which IMAP copies are
 * learnt.
 *
 * SECURITY: test code; the inputs are ours (some deliberately hostile).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/pool.h"
#include "filter/bayes.h"
#include "filter/spam.h"
#include "mime/mime-decode.h"
#include "mime/mime.h"
#include "store/store.h"

/* --- helpers --- */

/* The tokens a message gives, as text. */
struct toks {
	char **s;
	size_t n, cap;
};

static void
toks_cb(void *ctx, const char *tok, size_t len)
{
	struct toks *t = ctx;

	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->s = realloc(t->s, t->cap * sizeof(*t->s));
		assert_non_null(t->s);
	}
	t->s[t->n] = strndup(tok, len);
	assert_non_null(t->s[t->n]);
	t->n++;
}

static bool
toks_has(const struct toks *t, const char *s)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->s[i], s) == 0)
			return true;
	return false;
}

static bool
toks_has_prefix(const struct toks *t, const char *s)
{
	for (size_t i = 0; i < t->n; i++)
		if (strncmp(t->s[i], s, strlen(s)) == 0)
			return true;
	return false;
}

static void
toks_free(struct toks *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	memset(t, 0, sizeof(*t));
}

/* Tokenizes msg (parsed by bayes_tokenize) into tk; returns the count. */
static size_t
tokenize(const char *msg, size_t len, struct toks *tk, bool *truncated_r)
{
	struct bayes_tokens t;
	size_t n;

	bayes_tokens_init(&t);
	bayes_tokenize(msg, len, NULL, &t, tk != NULL ? toks_cb : NULL, tk);
	n = t.n;
	if (tk != NULL)
		assert_int_equal(tk->n, n);
	if (truncated_r != NULL)
		*truncated_r = t.truncated;
	bayes_tokens_free(&t);
	return n;
}

/* --- SipHash, the math --- */

static void
test_siphash_vectors(void **state)
{
	unsigned char key[16], msg[64];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	/* the paper's appendix A, and the first of the reference vectors */
	assert_true(bayes_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(bayes_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	/* the streaming token hash does not depend on where the prefix
	 * ends, across block boundaries */
	assert_true(bayes_token_hash("subject:", "hello", 5) ==
	    bayes_token_hash("", "subject:hello", 13));
	assert_true(bayes_token_hash("subj", "ect:hello", 9) ==
	    bayes_token_hash("subject:hel", "lo", 2));
	assert_true(bayes_token_hash("", "abcdefghijklmnopq", 17) ==
	    bayes_token_hash("abcdefgh", "ijklmnopq", 9));
	assert_true(bayes_token_hash("", "hello", 5) !=
	    bayes_token_hash("", "hellp", 5));
}

static void
test_chi2q_known_values(void **state)
{
	(void)state;
	/* closed forms for even v: v=2 e^-m; v=4 e^-m (1 + m);
	 * v=6 e^-m (1 + m + m^2/2) */
	assert_true(fabs(bayes_chi2q(2, 2) - exp(-1)) < 1e-15);
	assert_true(fabs(bayes_chi2q(10, 4) - 6 * exp(-5)) < 1e-15);
	assert_true(fabs(bayes_chi2q(10, 4) - 0.040427681994512805) < 1e-15);
	assert_true(fabs(bayes_chi2q(8, 6) - exp(-4) * 13) < 1e-14);
	/* table values: the upper 5%, 50% and 95% points */
	assert_true(fabs(bayes_chi2q(5.991, 2) - 0.05) < 1e-4);
	assert_true(fabs(bayes_chi2q(9.488, 4) - 0.05) < 1e-4);
	assert_true(fabs(bayes_chi2q(18.307, 10) - 0.05) < 1e-4);
	assert_true(fabs(bayes_chi2q(23.209, 10) - 0.01) < 1e-4);
	assert_true(fabs(bayes_chi2q(3.940, 10) - 0.95) < 1e-4);
	assert_true(fabs(bayes_chi2q(9.342, 10) - 0.50) < 1e-3);
	assert_true(fabs(bayes_chi2q(124.342, 100) - 0.05) < 1e-4);
	assert_true(fabs(bayes_chi2q(77.929, 100) - 0.95) < 1e-4);
	/* edges: nothing, and so far out that e^-m alone underflows */
	assert_true(bayes_chi2q(0, 300) == 1.0);
	assert_true(bayes_chi2q(-1, 2) == 1.0);
	assert_true(bayes_chi2q(0.002, 300) <= 1.0);
	assert_true(bayes_chi2q(0.002, 300) > 0.999999);
	assert_true(bayes_chi2q(2000, 300) < 1e-100);
	assert_true(bayes_chi2q(1600, 1000) >= 0);
	assert_true(bayes_chi2q(1600, 1000) < 1e-20);
	/* monotonic in x2 */
	for (double x = 1; x < 400; x += 7)
		assert_true(bayes_chi2q(x, 300) >= bayes_chi2q(x + 7, 300) -
		    1e-12);
}

static void
test_robinson_and_combine(void **state)
{
	double f[300];

	(void)state;
	assert_true(bayes_robinson(0, 0, 100, 100) == 0.5);
	assert_true(bayes_robinson(5, 5, 0, 100) == 0.5);
	/* p = 1, n = 1: (0.5 + 1) / 2 */
	assert_true(fabs(bayes_robinson(1, 0, 10, 10) - 0.75) < 1e-15);
	assert_true(fabs(bayes_robinson(0, 1, 10, 10) - 0.25) < 1e-15);
	assert_true(fabs(bayes_robinson(10, 0, 10, 10) - 10.5 / 11) < 1e-15);
	/* equal frequencies: 0.5 whatever n */
	assert_true(fabs(bayes_robinson(10, 20, 50, 100) - 0.5) < 1e-15);
	/* p(w) = (3/10) / (3/10 + 1/20) = 6/7, n = 4 */
	assert_true(fabs(bayes_robinson(3, 1, 10, 20) -
	    (0.5 + 4 * 6.0 / 7) / 5) < 1e-15);
	/* more than the total (after unlearning): capped */
	assert_true(bayes_robinson(50, 0, 10, 10) < 1);

	assert_true(bayes_combine(NULL, 0) == 0.5);
	/* one clue: S = 1 - (1 - f) = f, H = 1 - f: the result is f */
	f[0] = 0.99;
	assert_true(fabs(bayes_combine(f, 1) - 0.99) < 1e-12);
	f[0] = 0.2;
	assert_true(fabs(bayes_combine(f, 1) - 0.2) < 1e-12);
	/* opposite clues cancel */
	f[0] = 0.9;
	f[1] = 0.1;
	assert_true(fabs(bayes_combine(f, 2) - 0.5) < 1e-12);
	for (size_t i = 0; i < 300; i++)
		f[i] = 0.99;
	assert_true(bayes_combine(f, 300) > 0.999);
	for (size_t i = 0; i < 300; i++)
		f[i] = 0.01;
	assert_true(bayes_combine(f, 300) < 0.001);
	/* extreme values stay finite */
	f[0] = 0;
	f[1] = 1;
	assert_true(isfinite(bayes_combine(f, 2)));
}

static void
test_symbol_buckets(void **state)
{
	(void)state;
	assert_string_equal(bayes_symbol(0), "BAYES_00");
	assert_string_equal(bayes_symbol(0.0099), "BAYES_00");
	assert_string_equal(bayes_symbol(0.01), "BAYES_05");
	assert_string_equal(bayes_symbol(0.0499), "BAYES_05");
	assert_string_equal(bayes_symbol(0.05), "BAYES_20");
	assert_string_equal(bayes_symbol(0.3999), "BAYES_20");
	assert_string_equal(bayes_symbol(0.4), "BAYES_50");
	assert_string_equal(bayes_symbol(0.5999), "BAYES_50");
	assert_string_equal(bayes_symbol(0.6), "BAYES_80");
	assert_string_equal(bayes_symbol(0.9499), "BAYES_80");
	assert_string_equal(bayes_symbol(0.95), "BAYES_95");
	assert_string_equal(bayes_symbol(0.9899), "BAYES_95");
	assert_string_equal(bayes_symbol(0.99), "BAYES_99");
	assert_string_equal(bayes_symbol(1), "BAYES_99");
	/* every bucket is a symbol of the table, and the weights go up */
	{
		const char *s[] = { "BAYES_00", "BAYES_05", "BAYES_20",
		    "BAYES_50", "BAYES_80", "BAYES_95", "BAYES_99" };
		double last = -100;

		for (size_t i = 0; i < 7; i++) {
			int k = spam_symbol_find(s[i]);

			assert_true(k >= 0);
			assert_true(spam_symbols[k].score > last);
			last = spam_symbols[k].score;
		}
		assert_true(spam_symbols[spam_symbol_find("BAYES_00")].score < 0);
		/* p >= 0.99 alone makes a message Junk (junk_score 5). */
		assert_true(spam_symbols[spam_symbol_find("BAYES_99")].score
		    >= 5);
	}
}

/* --- the tokenizer --- */

static const char msg_basic[] =
    "From: \"Prize Office\" <Winner@Lottery.Example>\r\n"
    "To: alice@example.test\r\n"
    "Subject: =?utf-8?q?You_WON_=E2=82=AC1,000.00?=\r\n"
    "Message-ID: <abc@lottery.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "CLAIM your prize now now now at http://Claim.Prizes.Example/x?y=1\r\n"
    "ПРИВЕТ it's a one-off, ok? an ab\r\n"
    "--b\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<div class=3D\"hidden\"><a href=3D\"https://user@evil.example:8080/p=\r\n"
    "ath\">Visit</a> <b>bonus</b><script>stealcookies()</script></div>\r\n"
    "--b--\r\n";

static void
test_tokenize_basic(void **state)
{
	struct toks tk = { 0 };

	(void)state;
	tokenize(msg_basic, sizeof(msg_basic) - 1, &tk, NULL);
	/* header words, case-folded, RFC 2047 decoded, prefixed */
	assert_true(toks_has(&tk, "subject:you"));
	assert_true(toks_has(&tk, "subject:won"));
	/* a currency sign is part of the word; a comma and a dot between
	 * digits too */
	assert_true(toks_has(&tk, "subject:\xe2\x82\xac" "1,000.00"));
	assert_true(toks_has(&tk, "from:prize"));
	assert_true(toks_has(&tk, "from:winner@lottery.example"));
	assert_true(toks_has(&tk, "from:@lottery.example"));
	/* links: the host, lower case, its last two labels; userinfo and
	 * port dropped; a QP soft break inside the link is decoded */
	assert_true(toks_has(&tk, "url:claim.prizes.example"));
	assert_true(toks_has(&tk, "url:prizes.example"));
	assert_true(toks_has(&tk, "url:evil.example"));
	assert_false(toks_has_prefix(&tk, "url:user"));
	/* body words: folded, apostrophes and dashes inside kept */
	assert_true(toks_has(&tk, "claim"));
	assert_true(toks_has(&tk, "prize"));
	assert_true(toks_has(&tk, "привет"));
	assert_true(toks_has(&tk, "it's"));
	assert_true(toks_has(&tk, "one-off"));
	assert_true(toks_has(&tk, "visit"));
	assert_true(toks_has(&tk, "bonus"));
	/* HTML markup and scripts are not text */
	assert_false(toks_has(&tk, "div"));
	assert_false(toks_has(&tk, "class"));
	assert_false(toks_has(&tk, "hidden"));
	assert_false(toks_has(&tk, "stealcookies"));
	/* too short, and upper case never */
	assert_false(toks_has(&tk, "ok"));
	assert_false(toks_has(&tk, "ab"));
	assert_false(toks_has(&tk, "CLAIM"));
	/* duplicates once */
	{
		size_t now = 0;

		for (size_t i = 0; i < tk.n; i++)
			if (strcmp(tk.s[i], "now") == 0)
				now++;
		assert_int_equal(now, 1);
	}
	/* the To: field is not tokenized */
	assert_false(toks_has_prefix(&tk, "to:"));
	toks_free(&tk);
}

/* A message whose body is one word of n bytes of 'a' (then " end"). */
static char *
msg_word(size_t n, size_t *len_r)
{
	struct buf b;

	buf_init(&b, n + 256);
	assert_int_equal(buf_puts(&b, "Subject: x\r\n\r\n"), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf_append(&b, "a", 1), 0);
	assert_int_equal(buf_puts(&b, " end\r\n"), 0);
	*len_r = b.len;
	return buf_steal(&b, len_r);
}

static void
test_tokenize_word_limits(void **state)
{
	struct toks tk = { 0 };
	char *m, want[64];
	size_t len;

	(void)state;
	/* max - 1 and max: a word */
	for (size_t n = BAYES_WORD_MAX - 1; n <= BAYES_WORD_MAX; n++) {
		m = msg_word(n, &len);
		tokenize(m, len, &tk, NULL);
		memset(want, 'a', n);
		want[n] = '\0';
		assert_true(toks_has(&tk, want));
		assert_false(toks_has_prefix(&tk, "skip:"));
		toks_free(&tk);
		free(m);
	}
	/* max + 1: a skip token of its first letter and length class */
	m = msg_word(BAYES_WORD_MAX + 1, &len);
	tokenize(m, len, &tk, NULL);
	assert_true(toks_has(&tk, "skip:a:40"));
	assert_true(toks_has(&tk, "end"));
	toks_free(&tk);
	free(m);
	/* min - 1 and min */
	m = msg_word(BAYES_WORD_MIN - 1, &len);
	tokenize(m, len, &tk, NULL);
	assert_int_equal(tk.n, 1);	/* "end" only */
	toks_free(&tk);
	free(m);
	m = msg_word(BAYES_WORD_MIN, &len);
	tokenize(m, len, &tk, NULL);
	assert_true(toks_has(&tk, "aaa"));
	toks_free(&tk);
	free(m);
	/* a huge word: one token of the last length class, at once */
	m = msg_word(1024 * 1024, &len);
	tokenize(m, len, &tk, NULL);
	(void)snprintf(want, sizeof(want), "skip:a:%d",
	    BAYES_SKIP_CLASSES * BAYES_SKIP_STEP);
	assert_true(toks_has(&tk, want));
	toks_free(&tk);
	free(m);
}

static void
test_tokenize_many_tokens(void **state)
{
	struct buf b;
	bool truncated = false;
	size_t n, len;
	char *m;

	(void)state;
	/* a million distinct words: the token cap holds, and the text cap
	 * bounds the work */
	buf_init(&b, 16 * 1024 * 1024);
	assert_int_equal(buf_puts(&b, "Subject: many\r\n\r\n"), 0);
	for (unsigned i = 0; i < 1000000; i++)
		assert_int_equal(buf_printf(&b, "w%u ", i), 0);
	m = buf_steal(&b, &len);
	n = tokenize(m, len, NULL, &truncated);
	assert_int_equal(n, BAYES_TOKENS_MAX);
	assert_true(truncated);
	free(m);

	/* cap - 1 and cap distinct words (with "subject:many") */
	for (unsigned k = BAYES_TOKENS_MAX - 2; k <= BAYES_TOKENS_MAX; k++) {
		buf_init(&b, 1024 * 1024);
		assert_int_equal(buf_puts(&b, "Subject: many\r\n\r\n"), 0);
		for (unsigned i = 0; i < k; i++)
			assert_int_equal(buf_printf(&b, "w%04u ", i), 0);
		m = buf_steal(&b, &len);
		n = tokenize(m, len, NULL, &truncated);
		assert_int_equal(n, k + 1 > BAYES_TOKENS_MAX ?
		    BAYES_TOKENS_MAX : k + 1);
		assert_true(truncated == (k + 1 >= BAYES_TOKENS_MAX));
		free(m);
	}
}

static void
test_tokenize_hostile(void **state)
{
	struct toks tk = { 0 };
	unsigned char bin[65536];
	uint32_t x = 12345;

	(void)state;
	/* binary: any bytes, NULs, invalid UTF-8 */
	for (size_t i = 0; i < sizeof(bin); i++) {
		x = x * 1103515245 + 12345;
		bin[i] = (unsigned char)(x >> 16);
	}
	tokenize((const char *)bin, sizeof(bin), NULL, NULL);
	/* nothing at all */
	assert_int_equal(tokenize("", 0, NULL, NULL), 0);
	/* invalid UTF-8 and U+FFFD separate words; no token holds them */
	{
		static const char bad[] = "\r\nabc\xff\xfe" "def\xef\xbf\xbd"
		    "ghi\xc3";

		tokenize(bad, sizeof(bad) - 1, &tk, NULL);
	}
	assert_true(toks_has(&tk, "abc"));
	assert_true(toks_has(&tk, "def"));
	assert_true(toks_has(&tk, "ghi"));
	for (size_t i = 0; i < tk.n; i++)
		assert_true(mime_utf8_is_valid(tk.s[i], strlen(tk.s[i])));
	toks_free(&tk);
	/* "http://" with nothing, or junk, after it */
	{
		static const char links[] = "\r\nhttp:// https://@ http://... "
		    "http://[::1]/ HTTP://HOST.EXAMPLE";

		tokenize(links, sizeof(links) - 1, &tk, NULL);
	}
	assert_true(toks_has(&tk, "url:host.example"));
	assert_false(toks_has(&tk, "url:"));
	toks_free(&tk);
	/* a very long host is not a token */
	{
		struct buf b;
		char *m;
		size_t len;

		buf_init(&b, 8192);
		assert_int_equal(buf_puts(&b, "\r\nhttp://"), 0);
		for (int i = 0; i < 300; i++)
			assert_int_equal(buf_puts(&b, "a"), 0);
		assert_int_equal(buf_puts(&b, ".example/ x"), 0);
		m = buf_steal(&b, &len);
		tokenize(m, len, &tk, NULL);
		assert_false(toks_has_prefix(&tk, "url:"));
		toks_free(&tk);
		free(m);
	}
	/* every prefix of a MIME message tokenizes (no read past the end:
	 * ASan watches) */
	for (size_t n = 0; n <= sizeof(msg_basic) - 1; n++) {
		char *m = malloc(n + 1);

		assert_non_null(m);
		memcpy(m, msg_basic, n);
		tokenize(m, n, NULL, NULL);
		free(m);
	}
}

static void
test_msg_hash(void **state)
{
	static const char crlf[] = "Subject: a\r\nMessage-ID: <1@x>\r\n\r\n"
	    "body line\r\nsecond\r\n";
	static const char lf[] = "Subject: a\nMessage-ID: <1@x>\n\n"
	    "body line\nsecond\n";
	static const char traced[] = "Return-Path: <s@x>\r\n"
	    "Received: from a by b\r\nX-Spam-Score: 1\r\n"
	    "Subject: a\r\nMessage-ID: <1@x>\r\n\r\nbody line\r\nsecond\r\n";
	static const char other_body[] = "Subject: a\r\nMessage-ID: <1@x>\r\n"
	    "\r\nbody line\r\nthird\r\n";
	static const char other_id[] = "Subject: a\r\nMessage-ID: <2@x>\r\n"
	    "\r\nbody line\r\nsecond\r\n";
	static const char other_subject[] = "Subject: b\r\nMessage-ID: <1@x>"
	    "\r\n\r\nbody line\r\nsecond\r\n";
	uint64_t h = bayes_msg_hash(crlf, sizeof(crlf) - 1, NULL);

	(void)state;
	assert_true(h != 0);
	assert_true(bayes_msg_hash(lf, sizeof(lf) - 1, NULL) == h);
	assert_true(bayes_msg_hash(traced, sizeof(traced) - 1, NULL) == h);
	assert_true(bayes_msg_hash(other_body, sizeof(other_body) - 1,
	    NULL) != h);
	assert_true(bayes_msg_hash(other_id, sizeof(other_id) - 1, NULL) != h);
	assert_true(bayes_msg_hash(other_subject, sizeof(other_subject) - 1,
	    NULL) != h);
}

/* --- with a store --- */

struct fixture {
	char dir[64];
	char data[128];
	struct store *store;
	struct bayes_config bc;
};

static int
test_rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
test_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *error = NULL;
	int n;

	if (fx == NULL)
		return -1;
	n = snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_bayes.XXXXXX");
	if (n < 0 || (size_t)n >= sizeof(fx->dir) || mkdtemp(fx->dir) == NULL)
		return -1;
	n = snprintf(fx->data, sizeof(fx->data), "%s/data", fx->dir);
	if (n < 0 || (size_t)n >= sizeof(fx->data))
		return -1;
	if (store_open(fx->data, &fx->store, &error) < 0) {
		fprintf(stderr, "store_open: %s\n", error);
		return -1;
	}
	bayes_config_default(&fx->bc);
	fx->bc.min_learns = 20;
	*state = fx;
	return 0;
}

static int
test_teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(&fx->store);
	(void)nftw(fx->dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static const char *const words_spam[] = {
	"viagra", "casino", "winner", "lottery", "prize", "bitcoin",
	"investment", "guaranteed", "unsubscribe", "cheap", "offer",
	"limited", "click", "urgent", "credit", "loan", "pharmacy", "free",
	"bonus", "million",
};
static const char *const words_ham[] = {
	"meeting", "agenda", "project", "review", "lunch", "tomorrow",
	"report", "budget", "thanks", "regards", "schedule", "notes",
	"deadline", "draft", "team", "minutes", "office", "invoice",
	"attached", "question",
};
static const char *const words_common[] = {
	"the", "and", "you", "for", "this", "with", "have", "that", "are",
	"your", "will", "from",
};

static uint32_t rng = 42;

static uint32_t
rnd(uint32_t n)
{
	rng = rng * 1664525u + 1013904223u;
	return (rng >> 8) % n;
}

/* A synthetic message: mostly words of its class, some common ones, a
 * few of the other class (a real corpus is never clean). */
static char *
synth(bool spam, unsigned serial, size_t *len_r)
{
	const char *const *own = spam ? words_spam : words_ham;
	const char *const *other = spam ? words_ham : words_spam;
	struct buf b;

	buf_init(&b, 64 * 1024);
	assert_int_equal(buf_printf(&b, "From: %s <%s%u@%s>\r\n"
	    "Subject: %s %s\r\nMessage-ID: <%u.%d@synth>\r\n\r\n",
	    spam ? "Deals" : "Colleague", spam ? "promo" : "bob", serial,
	    spam ? "deals.example" : "work.example", own[rnd(20)],
	    own[rnd(20)], serial, spam), 0);
	for (int i = 0; i < 60; i++) {
		uint32_t r = rnd(10);
		const char *w = r < 6 ? own[rnd(20)] : r < 9 ?
		    words_common[rnd(12)] : other[rnd(20)];

		assert_int_equal(buf_printf(&b, "%s%s", w, i % 12 == 11 ?
		    "\r\n" : " "), 0);
	}
	if (spam)
		assert_int_equal(buf_printf(&b, "\r\nhttp://www.deals.example/"
		    "%u\r\n", serial), 0);
	return buf_steal(&b, len_r);
}

static void
train(struct fixture *fx, int64_t user, unsigned n_each, unsigned base)
{
	const char *error = NULL;

	assert_int_equal(store_bayes_batch_begin(fx->store, &error), 0);
	for (unsigned i = 0; i < n_each * 2; i++) {
		enum bayes_learn_result res;
		size_t len;
		char *m = synth(i % 2 == 0, base + i, &len);

		assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, user,
		    i % 2 == 0 ? BAYES_SPAM : BAYES_HAM, time(NULL), &res,
		    &error), 0);
		assert_int_equal(res, BAYES_LEARN_NEW);
		free(m);
	}
	assert_int_equal(store_bayes_batch_end(fx->store, true, &error), 0);
}

/* Classifies msg for user: the symbol added (NULL if none). */
static const char *
classify(struct fixture *fx, const char *msg, size_t len, int64_t user,
    struct bayes_verdict *v, char *detail, size_t dsize)
{
	struct spam_result r;
	struct spam_msg m = { 0 };
	struct pool *pool = pool_new(4096);
	struct mime_part *root;
	const char *error = NULL, *sym = NULL;

	assert_int_equal(mime_parse(msg, len, pool, &root, &error), 0);
	m.data = msg;
	m.len = len;
	m.root = root;
	m.pool = pool;
	m.now = time(NULL);
	spam_result_init(&r, NULL);
	assert_int_equal(bayes_classify(fx->store, &fx->bc, &m, user, &r, v,
	    &error), 0);
	assert_true(r.n_hits <= 1);
	if (r.n_hits == 1) {
		sym = spam_symbols[r.hits[0].symbol].name;
		if (detail != NULL)
			(void)snprintf(detail, dsize, "%s", r.hits[0].detail);
	}
	pool_free(&pool);
	return sym;
}

static void
test_classify_trained(void **state)
{
	struct fixture *fx = *state;
	struct bayes_verdict v;
	struct store_bayes_stats st;
	const char *error = NULL, *sym;
	char detail[SPAM_DETAIL_MAX + 1];
	char *m;
	size_t len;

	/* nothing learnt: no verdict, no symbol */
	m = synth(true, 9000, &len);
	assert_null(classify(fx, m, len, 0, &v, NULL, 0));
	assert_false(v.ready);
	free(m);

	/* min_learns - 1 of each: still none */
	train(fx, 0, fx->bc.min_learns - 1, 0);
	m = synth(true, 9001, &len);
	assert_null(classify(fx, m, len, 0, &v, NULL, 0));
	assert_false(v.ready);
	free(m);
	/* one more of each: min_learns, a verdict */
	train(fx, 0, 1, 500);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.spam, fx->bc.min_learns);
	assert_int_equal(st.ham, fx->bc.min_learns);
	assert_int_equal(st.learnt, 2 * fx->bc.min_learns);
	assert_true(st.tokens > 40);
	train(fx, 0, 20, 1000);

	/* unseen messages of each class */
	for (unsigned i = 0; i < 10; i++) {
		m = synth(true, 10000 + i, &len);
		sym = classify(fx, m, len, 0, &v, detail, sizeof(detail));
		assert_non_null(sym);
		assert_true(v.ready);
		assert_true(v.p > 0.95);
		assert_true(strcmp(sym, "BAYES_95") == 0 ||
		    strcmp(sym, "BAYES_99") == 0);
		assert_non_null(strstr(detail, "table=global"));
		assert_false(v.user_table);
		free(m);
		m = synth(false, 20000 + i, &len);
		sym = classify(fx, m, len, 0, &v, NULL, 0);
		assert_true(v.p < 0.05);
		assert_true(strcmp(sym, "BAYES_00") == 0 ||
		    strcmp(sym, "BAYES_05") == 0);
		free(m);
	}
	/* only clues: fewer clues allowed, still a verdict */
	fx->bc.clues = 1;
	m = synth(true, 30000, &len);
	(void)classify(fx, m, len, 0, &v, NULL, 0);
	assert_int_equal(v.n_clues, 1);
	free(m);
	/* off: nothing */
	fx->bc.enabled = false;
	m = synth(true, 30001, &len);
	assert_null(classify(fx, m, len, 0, &v, NULL, 0));
	free(m);
}

static void
test_learn_once_relearn_forget(void **state)
{
	struct fixture *fx = *state;
	struct store_bayes_stats st0, st;
	enum bayes_learn_result res;
	const char *error = NULL;
	char *m;
	size_t len;
	time_t now = time(NULL);

	m = synth(true, 1, &len);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st0, &error), 0);
	assert_int_equal(st0.tokens, 0);
	assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, 0, BAYES_SPAM,
	    now, &res, &error), 0);
	assert_int_equal(res, BAYES_LEARN_NEW);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.spam, 1);
	assert_int_equal(st.ham, 0);
	assert_true(st.tokens > 10);
	/* once */
	assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, 0, BAYES_SPAM,
	    now, &res, &error), 0);
	assert_int_equal(res, BAYES_LEARN_ALREADY);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.spam, 1);
	/* the other class: moved over */
	assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, 0, BAYES_HAM,
	    now, &res, &error), 0);
	assert_int_equal(res, BAYES_LEARN_MOVED);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.spam, 0);
	assert_int_equal(st.ham, 1);
	assert_int_equal(st.learnt, 1);
	/* and back */
	assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, 0, BAYES_SPAM,
	    now, &res, &error), 0);
	assert_int_equal(res, BAYES_LEARN_MOVED);
	/* the quarantine's release hook: ham */
	assert_int_equal(bayes_train_ham(&fx->bc, fx->store, 0, m, len,
	    &error), 0);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.spam, 0);
	assert_int_equal(st.ham, 1);
	/* forget: every count back to nothing, the token rows gone */
	assert_int_equal(bayes_unlearn(fx->store, &fx->bc, m, len, 0, &res,
	    &error), 0);
	assert_int_equal(res, BAYES_LEARN_FORGOTTEN);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.spam, 0);
	assert_int_equal(st.ham, 0);
	assert_int_equal(st.tokens, 0);
	assert_int_equal(st.learnt, 0);
	assert_int_equal(bayes_unlearn(fx->store, &fx->bc, m, len, 0, &res,
	    &error), 0);
	assert_int_equal(res, BAYES_LEARN_UNKNOWN);
	free(m);
}


/* A message of more tokens than one statement takes (the store binds
 * them in chunks): every token counted once, in the right table, moved
 * and forgotten exactly. */
static void
test_store_counts_chunks(void **state)
{
	struct fixture *fx = *state;
	struct store_bayes_read rd = { 0 };
	struct store_bayes_stats st;
	struct bayes_tokens t;
	enum bayes_learn_result res;
	const char *error = NULL;
	struct buf b;
	char *m;
	size_t len;

	buf_init(&b, 64 * 1024);
	assert_int_equal(buf_puts(&b, "Subject: chunks\r\n\r\n"), 0);
	for (unsigned i = 0; i < 333; i++)
		assert_int_equal(buf_printf(&b, "tok%u ", i), 0);
	m = buf_steal(&b, &len);
	bayes_tokens_init(&t);
	bayes_tokenize(m, len, NULL, &t, NULL, NULL);
	assert_int_equal(t.n, 334);
	rd.global = calloc(t.n, sizeof(*rd.global));
	rd.user = calloc(t.n, sizeof(*rd.user));
	assert_non_null(rd.global);
	assert_non_null(rd.user);

	assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, 3, BAYES_SPAM,
	    time(NULL), &res, &error), 0);
	assert_int_equal(store_bayes_counts(fx->store, 3, t.h, t.n, &rd,
	    &error), 0);
	assert_int_equal(rd.global_spam, 1);
	assert_int_equal(rd.user_spam, 1);
	for (size_t i = 0; i < t.n; i++) {
		assert_int_equal(rd.global[i].spam, 1);
		assert_int_equal(rd.global[i].ham, 0);
		assert_int_equal(rd.user[i].spam, 1);
	}
	/* another user's table is not read into user */
	assert_int_equal(store_bayes_counts(fx->store, 4, t.h, t.n, &rd,
	    &error), 0);
	assert_int_equal(rd.user_spam, 0);
	for (size_t i = 0; i < t.n; i++) {
		assert_int_equal(rd.user[i].spam, 0);
		assert_int_equal(rd.global[i].spam, 1);
	}
	/* the global table only: user is left at zero */
	assert_int_equal(store_bayes_counts(fx->store, 0, t.h, t.n, &rd,
	    &error), 0);
	assert_non_null(rd.user);
	for (size_t i = 0; i < t.n; i++) {
		assert_int_equal(rd.user[i].spam, 0);
		assert_int_equal(rd.global[i].spam, 1);
	}
	/* twice as ham: moved over once */
	for (int k = 0; k < 2; k++)
		assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, 3,
		    BAYES_HAM, time(NULL), &res, &error), 0);
	assert_int_equal(store_bayes_counts(fx->store, 3, t.h, t.n, &rd,
	    &error), 0);
	for (size_t i = 0; i < t.n; i++) {
		assert_int_equal(rd.global[i].spam, 0);
		assert_int_equal(rd.global[i].ham, 1);
		assert_int_equal(rd.user[i].ham, 1);
	}
	assert_int_equal(store_bayes_stats(fx->store, 3, &st, &error), 0);
	assert_int_equal(st.tokens, t.n);
	/* forgotten: nothing left anywhere */
	assert_int_equal(bayes_unlearn(fx->store, &fx->bc, m, len, 3, &res,
	    &error), 0);
	assert_int_equal(store_bayes_stats(fx->store, 3, &st, &error), 0);
	assert_int_equal(st.tokens, 0);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.tokens, 0);
	/* a token list longer than the store takes is refused */
	assert_int_equal(store_bayes_counts(fx->store, 3, t.h,
	    STORE_BAYES_TOKENS_MAX + 1, &rd, &error), -1);
	free(rd.global);
	free(rd.user);
	bayes_tokens_free(&t);
	free(m);
}

static void
test_per_user(void **state)
{
	struct fixture *fx = *state;
	struct store_bayes_stats st;
	struct bayes_verdict v;
	enum bayes_learn_result res;
	const char *error = NULL;
	char detail[SPAM_DETAIL_MAX + 1];
	char *m;
	size_t len;

	/* a user's learns count for them and globally */
	train(fx, 7, fx->bc.min_learns, 0);
	assert_int_equal(store_bayes_stats(fx->store, 7, &st, &error), 0);
	assert_int_equal(st.spam, fx->bc.min_learns);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.spam, fx->bc.min_learns);
	assert_int_equal(store_bayes_stats(fx->store, 8, &st, &error), 0);
	assert_int_equal(st.spam, 0);
	/* user 7: their own table decides */
	m = synth(true, 5000, &len);
	assert_non_null(classify(fx, m, len, 7, &v, detail, sizeof(detail)));
	assert_true(v.user_table);
	assert_true(v.n_user_clues > 0);
	assert_non_null(strstr(detail, "table=user"));
	/* user 8 learnt nothing: the global table */
	assert_non_null(classify(fx, m, len, 8, &v, detail, sizeof(detail)));
	assert_false(v.user_table);
	assert_non_null(strstr(detail, "table=global"));
	/* user 7 calls this very message ham: for them it moves over; the
	 * global table follows, as it learnt it from them */
	assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, 7, BAYES_HAM,
	    time(NULL), &res, &error), 0);
	assert_int_equal(res, BAYES_LEARN_NEW);
	assert_int_equal(store_bayes_stats(fx->store, 7, &st, &error), 0);
	assert_int_equal(st.ham, fx->bc.min_learns + 1);
	/* without per_user only the global table learns */
	fx->bc.per_user = false;
	free(m);
	m = synth(true, 5001, &len);
	assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, 8, BAYES_SPAM,
	    time(NULL), &res, &error), 0);
	assert_int_equal(store_bayes_stats(fx->store, 8, &st, &error), 0);
	assert_int_equal(st.spam, 0);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_int_equal(st.spam, fx->bc.min_learns + 1);
	free(m);
}

static void
test_expire(void **state)
{
	struct fixture *fx = *state;
	struct store_bayes_stats st, st2;
	enum bayes_learn_result res;
	const char *error = NULL;
	char *m1, *m2;
	size_t len1, len2;
	time_t now = time(NULL);

	fx->bc.expire_days = 10;
	m1 = synth(true, 1, &len1);
	m2 = synth(false, 2, &len2);
	/* learnt 30 days ago: its tokens and record expire on the next
	 * learn; the totals stay */
	assert_int_equal(bayes_learn(fx->store, &fx->bc, m1, len1, 0,
	    BAYES_SPAM, now - 30 * 86400, &res, &error), 0);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st, &error), 0);
	assert_true(st.oldest <= now - 30 * 86400);
	assert_int_equal(bayes_learn(fx->store, &fx->bc, m2, len2, 0,
	    BAYES_HAM, now, &res, &error), 0);
	assert_int_equal(store_bayes_stats(fx->store, 0, &st2, &error), 0);
	assert_true(st2.oldest >= now - 10 * 86400);
	assert_int_equal(st2.learnt, 1);
	assert_int_equal(st2.spam, 1);
	assert_int_equal(st2.ham, 1);
	/* tokens of m2 that m1 had too were learnt again now: kept */
	assert_true(st2.tokens > 0);
	free(m1);
	free(m2);
}

static void
test_copy_class(void **state)
{
	struct fixture *fx = *state;
	struct store_mailbox_state inbox, junk, trash, arch;
	const char *error = NULL;
	int64_t uid = 0, to = 0, other = 0;

	assert_int_equal(store_domain_add(fx->store, "example.test", &error), 0);
	assert_int_equal(store_user_add(fx->store, "a@example.test",
	    "a password", &error), 0);
	assert_int_equal(store_user_add(fx->store, "b@example.test",
	    "a password", &error), 0);
	assert_int_equal(store_user_lookup(fx->store, "a@example.test", &uid,
	    &error), 1);
	assert_int_equal(store_user_lookup(fx->store, "b@example.test",
	    &other, &error), 1);
	assert_int_equal(store_mailbox_find(fx->store, uid, "INBOX", &inbox,
	    &error), 0);
	assert_int_equal(store_mailbox_find(fx->store, uid, "Junk", &junk,
	    &error), 0);
	assert_int_equal(store_mailbox_find(fx->store, uid, "Trash", &trash,
	    &error), 0);
	assert_int_equal(store_mailbox_find(fx->store, uid, "Archive", &arch,
	    &error), 0);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, inbox.id,
	    "Junk", &to), BAYES_COPY_SPAM);
	assert_true(to == junk.id);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, arch.id,
	    "Junk", &to), BAYES_COPY_SPAM);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, junk.id,
	    "INBOX", &to), BAYES_COPY_HAM);
	assert_true(to == inbox.id);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, junk.id,
	    "inbox", &to), BAYES_COPY_HAM);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, junk.id,
	    "Archive", &to), BAYES_COPY_HAM);
	/* into Trash, within Junk, between other mailboxes: nothing */
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, junk.id,
	    "Trash", &to), BAYES_COPY_NONE);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, junk.id,
	    "Junk", &to), BAYES_COPY_NONE);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, inbox.id,
	    "Archive", &to), BAYES_COPY_NONE);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, inbox.id,
	    "Trash", &to), BAYES_COPY_NONE);
	/* a mailbox that is not there, or not the user's */
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, inbox.id,
	    "Nope", &to), BAYES_COPY_NONE);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, other, inbox.id,
	    "Junk", &to), BAYES_COPY_NONE);
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, 999999,
	    "Junk", &to), BAYES_COPY_NONE);
	/* autolearn off */
	fx->bc.autolearn = false;
	assert_int_equal(bayes_copy_class(fx->store, &fx->bc, uid, inbox.id,
	    "Junk", &to), BAYES_COPY_NONE);

	/* deleting the user deletes their table */
	{
		enum bayes_learn_result res;
		struct store_bayes_stats st;
		size_t len;
		char *m = synth(true, 3, &len);

		assert_int_equal(bayes_learn(fx->store, &fx->bc, m, len, uid,
		    BAYES_SPAM, time(NULL), &res, &error), 0);
		assert_int_equal(store_bayes_stats(fx->store, uid, &st,
		    &error), 0);
		assert_int_equal(st.spam, 1);
		assert_int_equal(store_user_del(fx->store, "a@example.test",
		    &error), 0);
		assert_int_equal(store_bayes_stats(fx->store, uid, &st,
		    &error), 0);
		assert_int_equal(st.spam, 0);
		assert_int_equal(st.tokens, 0);
		assert_int_equal(store_bayes_stats(fx->store, 0, &st,
		    &error), 0);
		assert_int_equal(st.spam, 1);
		free(m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_chi2q_known_values),
		cmocka_unit_test(test_robinson_and_combine),
		cmocka_unit_test(test_symbol_buckets),
		cmocka_unit_test(test_tokenize_basic),
		cmocka_unit_test(test_tokenize_word_limits),
		cmocka_unit_test(test_tokenize_many_tokens),
		cmocka_unit_test(test_tokenize_hostile),
		cmocka_unit_test(test_msg_hash),
		cmocka_unit_test_setup_teardown(test_classify_trained,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_learn_once_relearn_forget,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_store_counts_chunks,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_per_user, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_expire, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_copy_class, test_setup,
		    test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
