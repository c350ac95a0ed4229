/*
 * bayes.c - the statistical classifier (see bayes.h): tokenizer, token
 * and message hashes, Robinson-Fisher chi-square combining, classifying
 * on a storeq worker, learning on the writer, and learning from IMAP
 * COPY and MOVE into and out of Junk.
 *
 * References: Gary Robinson, "A Statistical Approach to the Spam
 * Problem" (Linux Journal, 2003) for f(w) and Fisher's combining as
 * SpamBayes implements it; J.-P. Aumasson and D. J. Bernstein, "SipHash:
 * a fast short-input PRF" (2012) for the token hash; RFC 6154 for the
 * \Junk and \Trash mailboxes; RFC 6851 (MOVE).
 *
 * SECURITY: every byte of the message is hostile. The tokenizer works in
 * heap buffers with caps (struct buf), reads each byte a bounded number
 * of times, and keeps at most BAYES_TOKENS_MAX tokens in a fixed-size
 * open-addressing set; a word longer than BAYES_WORD_MAX becomes one
 * token of constant size. No token text is logged or stored.
 */
#include "filter/bayes.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "filter/spam.h"
#include "mime/mime-decode.h"
#include "mime/mime.h"
#include "store/deliverq.h"
#include "store/store.h"

/* Bytes of an address in From: kept as one token. */
#define BAYES_ADDR_MAX STORE_ADDRESS_MAX
/* The token set: a power of two above twice BAYES_TOKENS_MAX. */
#define BAYES_SET_CAP 2048
/* Bytes of a token text shown to a bayes_token_fn. */
#define BAYES_TOKEN_TEXT_MAX 512

/* The token hash key: fixed, since the stored counts are by hash. */
static const unsigned char bayes_key[16] = {
	0x63, 0x6f, 0x72, 0x72, 0x65, 0x69, 0x6f, 0x2d,
	0x62, 0x61, 0x79, 0x65, 0x73, 0x2d, 0x76, 0x31,
};

void
bayes_config_default(struct bayes_config *bc_r)
{
	bc_r->enabled = true;
	bc_r->per_user = true;
	bc_r->autolearn = true;
	bc_r->min_learns = 50;
	bc_r->clues = 150;
	bc_r->expire_days = 180;
}

void
bayes_config_from(const struct config *cfg, struct bayes_config *bc_r)
{
	bc_r->enabled = cfg->bayes_enabled;
	bc_r->per_user = cfg->bayes_per_user;
	bc_r->autolearn = cfg->bayes_autolearn;
	bc_r->min_learns = cfg->bayes_min_learns;
	bc_r->clues = cfg->bayes_clues > BAYES_CLUES_MAX ? BAYES_CLUES_MAX :
	    cfg->bayes_clues;
	bc_r->expire_days = cfg->bayes_expire_days;
}

/* --- SipHash-2-4 --- */

struct bayes_sip {
	uint64_t v0, v1, v2, v3;
	unsigned char tail[8];
	size_t ntail;
	uint64_t len;
};

#define BAYES_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void
bayes_sip_round(struct bayes_sip *s)
{
	s->v0 += s->v1;
	s->v1 = BAYES_ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = BAYES_ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = BAYES_ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = BAYES_ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = BAYES_ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = BAYES_ROTL(s->v2, 32);
}

static uint64_t
bayes_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void
bayes_sip_init(struct bayes_sip *s, const unsigned char key[16])
{
	uint64_t k0 = bayes_le64(key), k1 = bayes_le64(key + 8);

	s->v0 = k0 ^ 0x736f6d6570736575ULL;
	s->v1 = k1 ^ 0x646f72616e646f6dULL;
	s->v2 = k0 ^ 0x6c7967656e657261ULL;
	s->v3 = k1 ^ 0x7465646279746573ULL;
	s->ntail = 0;
	s->len = 0;
}

static void
bayes_sip_block(struct bayes_sip *s, uint64_t m)
{
	s->v3 ^= m;
	bayes_sip_round(s);
	bayes_sip_round(s);
	s->v0 ^= m;
}

static void
bayes_sip_update(struct bayes_sip *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	s->len += n;
	while (n > 0 && s->ntail > 0) {
		s->tail[s->ntail++] = *p++;
		n--;
		if (s->ntail == 8) {
			bayes_sip_block(s, bayes_le64(s->tail));
			s->ntail = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8)
		bayes_sip_block(s, bayes_le64(p));
	while (n-- > 0)
		s->tail[s->ntail++] = *p++;
}

static uint64_t
bayes_sip_final(struct bayes_sip *s)
{
	uint64_t b = s->len << 56;

	for (size_t i = 0; i < s->ntail; i++)
		b |= (uint64_t)s->tail[i] << (8 * i);
	bayes_sip_block(s, b);
	s->v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		bayes_sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t
bayes_siphash(const unsigned char key[16], const void *data, size_t len)
{
	struct bayes_sip s;

	bayes_sip_init(&s, key);
	bayes_sip_update(&s, data, len);
	return bayes_sip_final(&s);
}

uint64_t
bayes_token_hash(const char *prefix, const char *s, size_t len)
{
	struct bayes_sip sip;

	bayes_sip_init(&sip, bayes_key);
	bayes_sip_update(&sip, prefix, strlen(prefix));
	bayes_sip_update(&sip, s, len);
	return bayes_sip_final(&sip);
}

/* --- the token set --- */

void
bayes_tokens_init(struct bayes_tokens *t)
{
	memset(t, 0, sizeof(*t));
}

void
bayes_tokens_free(struct bayes_tokens *t)
{
	free(t->h);
	free(t->set);
	memset(t, 0, sizeof(*t));
}

/* What the tokenizer carries around. */
struct bayes_tok {
	struct bayes_tokens *t;
	bayes_token_fn *fn;
	void *ctx;
	struct buf text;	/* for fn: the token's text */
	size_t n_urls;
};

static bool
bayes_tok_full(const struct bayes_tok *tc)
{
	return tc->t->n >= BAYES_TOKENS_MAX;
}

/* Keeps the token prefix + s unless it is there already or t is full. */
static void
bayes_emit(struct bayes_tok *tc, const char *prefix, const char *s,
    size_t len)
{
	struct bayes_tokens *t = tc->t;
	uint64_t h = bayes_token_hash(prefix, s, len);
	size_t i;

	if (t->n >= BAYES_TOKENS_MAX) {
		t->truncated = true;
		return;
	}
	if (t->set == NULL) {
		t->set = xcalloc(BAYES_SET_CAP, sizeof(*t->set));
		t->set_cap = BAYES_SET_CAP;
		t->h = xcalloc(BAYES_TOKENS_MAX, sizeof(*t->h));
	}
	if (h == 0)
		h = 1;		/* 0 marks a free slot */
	for (i = (size_t)h & (t->set_cap - 1); t->set[i] != 0;
	    i = (i + 1) & (t->set_cap - 1))
		if (t->set[i] == h)
			return;
	t->set[i] = h;
	t->h[t->n++] = h;
	if (t->n == BAYES_TOKENS_MAX)
		t->truncated = true;	/* the rest is not looked at */
	if (tc->fn != NULL) {
		buf_reset(&tc->text);
		(void)buf_puts(&tc->text, prefix);
		(void)buf_append(&tc->text, s, len > BAYES_TOKEN_TEXT_MAX ?
		    BAYES_TOKEN_TEXT_MAX : len);
		tc->fn(tc->ctx, tc->text.data, tc->text.len);
	}
}

/* --- words --- */

/* The length of the UTF-8 sequence at s (n bytes left) and its code
 * point, or 0 if it is not valid. */
static size_t
bayes_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	uint32_t cp;
	size_t l;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		l = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		l = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		l = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (l > n)
		return 0;
	for (size_t i = 1; i < l; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 ||
	    cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	*cp_r = cp;
	return l;
}

/* Non-ASCII characters that separate words: spaces, punctuation,
 * U+FFFD and the byte order mark. */
static bool
bayes_cp_is_sep(uint32_t cp)
{
	return cp == 0xA0 || cp == 0xA1 || cp == 0xAB || cp == 0xAD ||
	    cp == 0xB7 || cp == 0xBB || cp == 0xBF ||
	    (cp >= 0x2000 && cp <= 0x206F) ||	/* general punctuation */
	    (cp >= 0x3000 && cp <= 0x303F) ||	/* CJK punctuation */
	    (cp >= 0xFF01 && cp <= 0xFF0F) ||	/* fullwidth punctuation */
	    cp == 0xFEFF || cp == 0xFFFD;
}

static bool
bayes_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* The bytes of the word character at s[i], or 0 for a separator. */
static size_t
bayes_word_char(const char *s, size_t n, size_t i, bool addr)
{
	unsigned char c = (unsigned char)s[i];
	uint32_t cp;
	size_t l;

	if (c >= 0x80) {
		l = bayes_utf8_seq((const unsigned char *)s + i, n - i, &cp);
		return l == 0 || bayes_cp_is_sep(cp) ? 0 : l;
	}
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    bayes_is_digit(c) || c == '$' || c == '\'' || c == '-')
		return 1;
	if (addr && (c == '@' || c == '.' || c == '_' || c == '+'))
		return 1;
	/* 1,000.00: a separator between digits belongs to the number */
	if ((c == '.' || c == ',') && i > 0 && i + 1 < n &&
	    bayes_is_digit((unsigned char)s[i - 1]) &&
	    bayes_is_digit((unsigned char)s[i + 1]))
		return 1;
	return 0;
}

/* The bytes of the separator at s[i] (a whole sequence if it is one). */
static size_t
bayes_sep_len(const char *s, size_t n, size_t i)
{
	uint32_t cp;
	size_t l;

	if ((unsigned char)s[i] < 0x80)
		return 1;
	l = bayes_utf8_seq((const unsigned char *)s + i, n - i, &cp);
	return l == 0 ? 1 : l;
}

/* A word too long to be one: "skip:" its first character and length
 * class (SpamBayes does the same). */
static void
bayes_emit_skip(struct bayes_tok *tc, const char *prefix, const char *w,
    size_t len)
{
	char tok[32];
	uint32_t cp;
	size_t l = bayes_utf8_seq((const unsigned char *)w, len, &cp);
	size_t cls = len / BAYES_SKIP_STEP;
	int k;

	if (l == 0)
		l = 1;
	if (cls > BAYES_SKIP_CLASSES)
		cls = BAYES_SKIP_CLASSES;
	k = snprintf(tok, sizeof(tok), "%s%.*s:%zu", prefix, (int)l, w,
	    cls * BAYES_SKIP_STEP);
	if (k < 0 || (size_t)k >= sizeof(tok))
		return;
	bayes_emit(tc, "skip:", tok, (size_t)k);
}

static void
bayes_word(struct bayes_tok *tc, const char *prefix, const char *w,
    size_t len, bool addr)
{
	const char *at;

	while (len > 0 && (w[0] == '\'' || w[0] == '-' ||
	    (addr && w[0] == '.'))) {
		w++;
		len--;
	}
	while (len > 0 && (w[len - 1] == '\'' || w[len - 1] == '-' ||
	    (addr && w[len - 1] == '.')))
		len--;
	if (len < BAYES_WORD_MIN)
		return;
	at = addr ? memchr(w, '@', len) : NULL;
	if (at != NULL) {
		size_t dlen = len - (size_t)(at - w);	/* with the '@' */

		if (len > BAYES_ADDR_MAX)
			return;
		bayes_emit(tc, prefix, w, len);
		if (dlen > 1 && dlen <= BAYES_HOST_MAX + 1)
			bayes_emit(tc, prefix, at, dlen);
		return;
	}
	if (len > BAYES_WORD_MAX) {
		bayes_emit_skip(tc, prefix, w, len);
		return;
	}
	bayes_emit(tc, prefix, w, len);
}

/* Every word of folded UTF-8 text s, with prefix. */
static void
bayes_words(struct bayes_tok *tc, const char *prefix, const char *s,
    size_t n, bool addr)
{
	size_t i = 0;

	while (i < n && !bayes_tok_full(tc)) {
		size_t start = i, l;

		while (i < n && (l = bayes_word_char(s, n, i, addr)) > 0)
			i += l;
		if (i == start) {
			i += bayes_sep_len(s, n, i);
			continue;
		}
		bayes_word(tc, prefix, s + start, i - start, addr);
	}
}

/* --- links --- */

static bool
bayes_host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    bayes_is_digit(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* The host of the link whose authority starts at s (n bytes left). */
static void
bayes_link(struct bayes_tok *tc, const char *s, size_t n)
{
	char host[BAYES_HOST_MAX + 1];
	size_t alen = 0, hstart = 0, hlen = 0, dots = 0, last = 0, prev = 0;
	bool numeric = true;

	/* the authority: up to a path, query, fragment or anything that
	 * cannot be in one; userinfo ends at its last '@' */
	while (alen < n && alen < BAYES_HOST_MAX * 2) {
		unsigned char c = (unsigned char)s[alen];

		if (c == '@')
			hstart = alen + 1;
		else if (!bayes_host_char(c) && c != ':' && c != '%' &&
		    c != '!' && c != '~' && c != '=' && c != '+' && c != ',' &&
		    c != ';' && c != '&')
			break;
		alen++;
	}
	for (size_t i = hstart; i < alen && bayes_host_char(
	    (unsigned char)s[i]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (hlen >= BAYES_HOST_MAX)
			return;
		host[hlen++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	while (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	/* the part was not converted from its charset: a host that is not
	 * UTF-8 is no host */
	if (hlen == 0 || host[0] == '.' || !mime_utf8_is_valid(host, hlen))
		return;
	for (size_t i = 0; i < hlen; i++) {
		if (host[i] == '.') {
			dots++;
			prev = last;
			last = i + 1;
		} else if (!bayes_is_digit((unsigned char)host[i])) {
			numeric = false;
		}
	}
	if (tc->n_urls >= BAYES_URLS_MAX)
		return;
	tc->n_urls++;
	bayes_emit(tc, "url:", host, hlen);
	if (numeric)
		bayes_emit(tc, "url:", "[ip]", 4);
	else if (dots >= 2)
		bayes_emit(tc, "url:", host + prev, hlen - prev);
}

/* Every http:// and https:// link in d (n bytes). */
static void
bayes_links(struct bayes_tok *tc, const char *d, size_t n)
{
	const char *p = d, *end = d + n, *q;

	while (p < end && (q = memmem(p, (size_t)(end - p), "://", 3)) !=
	    NULL) {
		size_t before = (size_t)(q - d);

		if ((before >= 4 && strncasecmp(q - 4, "http", 4) == 0) ||
		    (before >= 5 && strncasecmp(q - 5, "https", 5) == 0))
			bayes_link(tc, q + 3, (size_t)(end - q - 3));
		if (bayes_tok_full(tc) || tc->n_urls >= BAYES_URLS_MAX)
			return;
		p = q + 3;
	}
}

/* The links of every text part, after its transfer encoding, at most
 * BAYES_URL_SCAN_MAX bytes in all. */
static void
bayes_part_links(struct bayes_tok *tc, const char *msg, size_t len,
    const struct mime_part *root)
{
	const struct mime_part *part = root;
	size_t budget = BAYES_URL_SCAN_MAX;

	/* document order without recursion, as mime_text_extract */
	while (part != NULL && budget > 0 && !bayes_tok_full(tc)) {
		if (part->n_children > 0) {
			part = &part->children[0];
			continue;
		}
		if (strcmp(part->type, "text") == 0 && part->body_end <= len &&
		    part->body_start <= part->body_end) {
			const char *body = msg + part->body_start, *error;
			size_t blen = part->body_end - part->body_start;
			struct buf dec;

			buf_init(&dec, budget);
			if (mime_body_decode(part->encoding, body, blen, &dec,
			    &error) < 0 && dec.len == 0)
				(void)buf_append(&dec, body, blen > budget ?
				    budget : blen);
			if (dec.len > 0)
				bayes_links(tc, dec.data, dec.len);
			budget -= dec.len < budget ? dec.len : budget;
			buf_release(&dec);
		}
		for (;;) {
			const struct mime_part *parent = part->parent;

			if (part == root || parent == NULL) {
				part = NULL;
				break;
			}
			if ((size_t)(part - parent->children) + 1 <
			    parent->n_children) {
				part++;
				break;
			}
			part = parent;
		}
	}
}

/* --- the tokenizer --- */

/* The words of header field name of the message, with prefix. */
static void
bayes_header(struct bayes_tok *tc, const char *msg, size_t len,
    const struct mime_part *root, const char *name, const char *prefix,
    bool addr)
{
	struct buf raw, folded;

	buf_init(&raw, BAYES_HEADER_MAX);
	buf_init(&folded, BAYES_HEADER_MAX * 2);
	mime_header_text(msg, len, root, name, &raw);
	if (raw.len > 0) {
		(void)mime_text_fold(raw.data, raw.len, &folded);
		bayes_words(tc, prefix, folded.data != NULL ? folded.data : "",
		    folded.len, addr);
	}
	buf_release(&raw);
	buf_release(&folded);
}

void
bayes_tokenize(const char *msg, size_t len, const struct mime_part *root,
    struct bayes_tokens *t, bayes_token_fn *fn, void *ctx)
{
	struct bayes_tok tc = { .t = t, .fn = fn, .ctx = ctx };
	struct mime_part *parsed = NULL;
	struct pool *pool = NULL;
	struct buf text, folded;
	const char *error;

	if (root == NULL) {
		if (len > BAYES_MESSAGE_MAX)
			len = BAYES_MESSAGE_MAX;
		pool = pool_new(16 * 1024);
		if (mime_parse(msg, len, pool, &parsed, &error) < 0) {
			pool_free(&pool);
			return;
		}
		root = parsed;
	}
	buf_init(&tc.text, BAYES_TOKEN_TEXT_MAX + 64);
	bayes_header(&tc, msg, len, root, "subject", "subject:", false);
	bayes_header(&tc, msg, len, root, "from", "from:", true);
	bayes_part_links(&tc, msg, len, root);

	buf_init(&text, BAYES_TEXT_MAX);
	buf_init(&folded, BAYES_TEXT_MAX * 2);
	if (!bayes_tok_full(&tc))
		mime_text_extract(msg, len, root, &text);
	if (text.len > 0) {
		(void)mime_text_fold(text.data, text.len, &folded);
		buf_release(&text);	/* before the words: memory */
		bayes_words(&tc, "", folded.data != NULL ? folded.data : "",
		    folded.len, false);
	}
	buf_release(&text);
	buf_release(&folded);
	buf_release(&tc.text);
	pool_free(&pool);
}

uint64_t
bayes_msg_hash(const char *msg, size_t len, const struct mime_part *root)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct mime_part *parsed = NULL;
	struct pool *pool = NULL;
	struct buf mid;
	const char *error, *p, *end;
	EVP_MD_CTX *ctx;
	uint64_t h = 0;

	if (root == NULL) {
		if (len > BAYES_MESSAGE_MAX)
			len = BAYES_MESSAGE_MAX;
		pool = pool_new(16 * 1024);
		if (mime_parse(msg, len, pool, &parsed, &error) < 0) {
			pool_free(&pool);
			return 0;
		}
		root = parsed;
	}
	buf_init(&mid, BAYES_HEADER_MAX);
	mime_header_text(msg, len, root, "message-id", &mid);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();	/* out of memory */
	(void)EVP_DigestUpdate(ctx, "message-id:", 11);
	if (mid.len > 0)
		(void)EVP_DigestUpdate(ctx, mid.data, mid.len);
	(void)EVP_DigestUpdate(ctx, "\n", 1);
	buf_reset(&mid);
	mime_header_text(msg, len, root, "subject", &mid);
	(void)EVP_DigestUpdate(ctx, "subject:", 8);
	if (mid.len > 0)
		(void)EVP_DigestUpdate(ctx, mid.data, mid.len);
	(void)EVP_DigestUpdate(ctx, "\n", 1);
	p = msg + (root->body_start <= len ? root->body_start : len);
	end = msg + (root->body_end <= len ? root->body_end : len);
	if (end - p > BAYES_HASH_BODY_MAX)
		end = p + BAYES_HASH_BODY_MAX;
	while (p < end) {
		const char *cr = memchr(p, '\r', (size_t)(end - p));
		const char *seg_end = cr != NULL ? cr : end;

		if (seg_end > p)
			(void)EVP_DigestUpdate(ctx, p, (size_t)(seg_end - p));
		p = cr != NULL ? cr + 1 : end;
	}
	(void)EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 8; i++)
		h = (h << 8) | md[i];
	buf_release(&mid);
	pool_free(&pool);
	return h;
}

/* --- the math --- */

double
bayes_chi2q(double x2, unsigned v)
{
	double m = x2 / 2.0, lterm, sum;

	assert(v > 0 && v % 2 == 0);
	if (!(m > 0))
		return 1.0;
	/* sum_{i < v/2} e^-m m^i / i!, each term from the last in logs */
	lterm = -m;
	sum = exp(lterm);
	for (unsigned i = 1; i < v / 2; i++) {
		lterm += log(m / (double)i);
		sum += exp(lterm);
	}
	return sum < 1.0 ? sum : 1.0;
}

double
bayes_robinson(uint64_t spam, uint64_t ham, uint64_t nspam, uint64_t nham)
{
	double sr, hr, p, n = (double)spam + (double)ham;

	if (n == 0 || nspam == 0 || nham == 0)
		return BAYES_ROBINSON_X;
	sr = (double)spam / (double)nspam;
	hr = (double)ham / (double)nham;
	/* a count above its total (tokens outlive unlearning): at most 1 */
	if (sr > 1)
		sr = 1;
	if (hr > 1)
		hr = 1;
	p = sr / (sr + hr);
	return (BAYES_ROBINSON_S * BAYES_ROBINSON_X + n * p) /
	    (BAYES_ROBINSON_S + n);
}

double
bayes_combine(const double *f, size_t n)
{
	double ls = 0, lh = 0, s, h;

	if (n == 0)
		return 0.5;
	for (size_t i = 0; i < n; i++) {
		double p = f[i];

		/* f is in (0, 1) by construction; keep logs finite anyway */
		if (p < 1e-9)
			p = 1e-9;
		if (p > 1 - 1e-9)
			p = 1 - 1e-9;
		ls += log(1.0 - p);
		lh += log(p);
	}
	s = 1.0 - bayes_chi2q(-2.0 * ls, (unsigned)(2 * n));
	h = 1.0 - bayes_chi2q(-2.0 * lh, (unsigned)(2 * n));
	return (1.0 + s - h) / 2.0;
}

const char *
bayes_symbol(double p)
{
	if (p < 0.01)
		return "BAYES_00";
	if (p < 0.05)
		return "BAYES_05";
	if (p < 0.40)
		return "BAYES_20";
	if (p < 0.60)
		return "BAYES_50";
	if (p < 0.95)
		return "BAYES_80";
	if (p < 0.99)
		return "BAYES_95";
	return "BAYES_99";
}

/* --- classifying --- */

struct bayes_clue {
	double f;
	double strength;	/* |f - 0.5| */
	uint64_t h;		/* ties: by hash, so the order is stable */
	bool user;
};

static int
bayes_clue_cmp(const void *a, const void *b)
{
	const struct bayes_clue *x = a, *y = b;

	if (x->strength != y->strength)
		return x->strength > y->strength ? -1 : 1;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return 0;
}

int
bayes_classify(struct store *store, const struct bayes_config *bc,
    const struct spam_msg *m, int64_t user_id, struct spam_result *r,
    struct bayes_verdict *v_r, const char **error_r)
{
	struct bayes_verdict v = { .p = 0.5 };
	struct bayes_tokens t;
	struct store_bayes_read rd = { 0 };
	struct bayes_clue *clues = NULL;
	double *f = NULL;
	bool global_ready, user_ready;
	size_t n_clues = 0, use;
	int ret = -1;

	if (v_r != NULL)
		*v_r = v;
	if (!bc->enabled)
		return 0;
	if (!bc->per_user)
		user_id = STORE_BAYES_GLOBAL;
	bayes_tokens_init(&t);
	bayes_tokenize(m->data, m->len, m->root, &t, NULL, NULL);
	v.n_tokens = t.n;
	rd.global = xcalloc(t.n + 1, sizeof(*rd.global));
	if (user_id != STORE_BAYES_GLOBAL)
		rd.user = xcalloc(t.n + 1, sizeof(*rd.user));
	if (store_bayes_counts(store, user_id, t.h, t.n, &rd, error_r) < 0)
		goto out;
	global_ready = rd.global_spam >= bc->min_learns &&
	    rd.global_ham >= bc->min_learns;
	user_ready = user_id != STORE_BAYES_GLOBAL &&
	    rd.user_spam >= bc->min_learns && rd.user_ham >= bc->min_learns;
	ret = 0;
	if (!global_ready && !user_ready)
		goto out;
	v.ready = true;
	v.user_table = user_ready;
	v.nspam = user_ready ? rd.user_spam : rd.global_spam;
	v.nham = user_ready ? rd.user_ham : rd.global_ham;
	clues = xcalloc(t.n + 1, sizeof(*clues));
	for (size_t i = 0; i < t.n; i++) {
		struct bayes_clue c = { .h = t.h[i] };

		if (user_ready && rd.user[i].spam + rd.user[i].ham > 0) {
			c.f = bayes_robinson(rd.user[i].spam, rd.user[i].ham,
			    rd.user_spam, rd.user_ham);
			c.user = true;
		} else if (global_ready &&
		    rd.global[i].spam + rd.global[i].ham > 0) {
			c.f = bayes_robinson(rd.global[i].spam,
			    rd.global[i].ham, rd.global_spam, rd.global_ham);
		} else {
			continue;
		}
		c.strength = fabs(c.f - 0.5);
		if (c.strength >= BAYES_MIN_STRENGTH)
			clues[n_clues++] = c;
	}
	qsort(clues, n_clues, sizeof(*clues), bayes_clue_cmp);
	use = n_clues < bc->clues ? n_clues : bc->clues;
	f = xcalloc(use + 1, sizeof(*f));
	for (size_t i = 0; i < use; i++) {
		f[i] = clues[i].f;
		if (clues[i].user)
			v.n_user_clues++;
	}
	v.n_clues = use;
	v.p = bayes_combine(f, use);
	/* the detail: the tables the clues came from */
	(void)spam_add(r, bayes_symbol(v.p), "p=%.4f table=%s clues=%zu"
	    " user_clues=%zu", v.p, !user_ready ? "global" :
	    v.n_user_clues == use ? "user" : "user+global", use,
	    v.n_user_clues);
out:
	if (v_r != NULL)
		*v_r = v;
	free(f);
	free(clues);
	free(rd.global);
	free(rd.user);
	bayes_tokens_free(&t);
	return ret;
}

/* --- learning --- */

const char *
bayes_learn_result_name(enum bayes_learn_result res)
{
	switch (res) {
	case BAYES_LEARN_NEW:
		return "learnt";
	case BAYES_LEARN_ALREADY:
		return "already";
	case BAYES_LEARN_MOVED:
		return "relearnt";
	case BAYES_LEARN_FORGOTTEN:
		return "forgotten";
	case BAYES_LEARN_UNKNOWN:
		return "unknown";
	case BAYES_LEARN_EMPTY:
		return "empty";
	}
	return "?";
}

static enum bayes_learn_result
bayes_outcome(enum store_bayes_outcome o)
{
	switch (o) {
	case STORE_BAYES_LEARNT:
		return BAYES_LEARN_NEW;
	case STORE_BAYES_ALREADY:
		return BAYES_LEARN_ALREADY;
	case STORE_BAYES_RELEARNT:
		return BAYES_LEARN_MOVED;
	case STORE_BAYES_FORGOTTEN:
		return BAYES_LEARN_FORGOTTEN;
	case STORE_BAYES_UNKNOWN:
		break;
	}
	return BAYES_LEARN_UNKNOWN;
}

static int
bayes_learn_class(struct store *store, const struct bayes_config *bc,
    const char *msg, size_t len, int64_t user_id, int klass, time_t now,
    enum bayes_learn_result *res_r, const char **error_r)
{
	struct store_bayes_learn l = { 0 };
	struct mime_part *root = NULL;
	struct bayes_tokens t;
	struct pool *pool;
	int64_t users[STORE_BAYES_USERS_MAX];
	const char *error;
	int ret;

	if (len > BAYES_MESSAGE_MAX)
		len = BAYES_MESSAGE_MAX;
	pool = pool_new(16 * 1024);
	if (mime_parse(msg, len, pool, &root, &error) < 0) {
		pool_free(&pool);
		*error_r = error;
		return -1;
	}
	bayes_tokens_init(&t);
	bayes_tokenize(msg, len, root, &t, NULL, NULL);
	if (t.n == 0 && klass != STORE_BAYES_FORGET) {
		*res_r = BAYES_LEARN_EMPTY;
		bayes_tokens_free(&t);
		pool_free(&pool);
		return 0;
	}
	if (user_id != STORE_BAYES_GLOBAL && bc->per_user)
		users[l.n_users++] = user_id;
	users[l.n_users++] = STORE_BAYES_GLOBAL;
	l.users = users;
	l.msg_hash = bayes_msg_hash(msg, len, root);
	l.klass = klass;
	l.tokens = t.h;
	l.n_tokens = t.n;
	l.now = now;
	if (bc->expire_days > 0) {
		l.expire_before = now - (time_t)bc->expire_days * 86400;
		l.expire_max = BAYES_EXPIRE_BATCH;
	}
	ret = store_bayes_learn(store, &l, error_r);
	if (ret == 0)
		*res_r = bayes_outcome(l.outcome_r[0]);
	bayes_tokens_free(&t);
	pool_free(&pool);
	return ret;
}

int
bayes_learn(struct store *store, const struct bayes_config *bc,
    const char *msg, size_t len, int64_t user_id, enum bayes_class klass,
    time_t now, enum bayes_learn_result *res_r, const char **error_r)
{
	return bayes_learn_class(store, bc, msg, len, user_id,
	    klass == BAYES_SPAM ? STORE_BAYES_SPAM : STORE_BAYES_HAM, now,
	    res_r, error_r);
}

int
bayes_unlearn(struct store *store, const struct bayes_config *bc,
    const char *msg, size_t len, int64_t user_id,
    enum bayes_learn_result *res_r, const char **error_r)
{
	return bayes_learn_class(store, bc, msg, len, user_id,
	    STORE_BAYES_FORGET, time(NULL), res_r, error_r);
}

int
bayes_train_ham(void *ctx, struct store *store, int64_t user_id,
    const char *data, size_t len, const char **error_r)
{
	const struct bayes_config *bc = ctx;
	enum bayes_learn_result res;

	return bayes_learn(store, bc, data, len, user_id, BAYES_HAM,
	    time(NULL), &res, error_r);
}

/* --- learning from IMAP --- */

enum bayes_copy_learn
bayes_copy_class(struct store *store, const struct bayes_config *bc,
    int64_t user_id, int64_t from_id, const char *to, int64_t *to_id_r)
{
	struct store_mailbox_state mb;
	char from_use[64];
	int64_t owner = 0;
	bool from_junk, to_junk, to_trash;
	const char *error;

	*to_id_r = 0;
	if (!bc->autolearn)
		return BAYES_COPY_NONE;
	if (store_bayes_mailbox_use(store, from_id, from_use, sizeof(from_use),
	    &owner, &error) != 1 || owner != user_id)
		return BAYES_COPY_NONE;
	if (store_mailbox_find(store, user_id, to, &mb, &error) != 0)
		return BAYES_COPY_NONE;
	*to_id_r = mb.id;
	from_junk = strcasecmp(from_use, BAYES_USE_JUNK) == 0;
	to_junk = mb.special_use != NULL &&
	    strcasecmp(mb.special_use, BAYES_USE_JUNK) == 0;
	to_trash = mb.special_use != NULL &&
	    strcasecmp(mb.special_use, BAYES_USE_TRASH) == 0;
	if (to_junk && !from_junk)
		return BAYES_COPY_SPAM;
	if (from_junk && !to_junk && !to_trash)
		return BAYES_COPY_HAM;
	return BAYES_COPY_NONE;
}

struct bayes_learn_job {
	struct deliverq_job job;	/* first */
	struct deliverq *q;
	struct bayes_config bc;
	int64_t user_id, mailbox_id;
	enum bayes_class klass;
	uint32_t *uids;
	size_t n, next;
	size_t counts[BAYES_LEARN_EMPTY + 1];
	size_t failed;
};

/* A copy found by the scan of one chunk: enough to open it. */
struct bayes_found {
	struct store_message_meta *metas;
	size_t n, cap;
};

static int
bayes_found_cb(void *ctx, const struct store_message_meta *m)
{
	struct bayes_found *f = ctx;

	if (f->n < f->cap) {
		f->metas[f->n] = *m;
		/* only blob and size are used: the strings die with the
		 * scan */
		f->metas[f->n].keywords = NULL;
		f->metas[f->n].envelope = NULL;
		f->metas[f->n].body = NULL;
		f->metas[f->n].bodystructure = NULL;
		f->n++;
	}
	return 0;
}

static int
bayes_learn_job_run(struct store *store, struct deliverq_job *job)
{
	struct bayes_learn_job *j = (struct bayes_learn_job *)job;
	struct store_message_meta metas[BAYES_LEARN_CHUNK];
	uint32_t ranges[BAYES_LEARN_CHUNK * 2];
	struct bayes_found found = { metas, 0, BAYES_LEARN_CHUNK };
	size_t k = 0;
	const char *error;
	time_t now = time(NULL);

	for (; k < BAYES_LEARN_CHUNK && j->next + k < j->n; k++) {
		ranges[2 * k] = j->uids[j->next + k];
		ranges[2 * k + 1] = j->uids[j->next + k];
	}
	j->next += k;
	if (store_message_scan(store, j->mailbox_id, ranges, k, true,
	    bayes_found_cb, &found, &error) < 0) {
		log_error("bayes learn user=%lld error=\"%s\"",
		    (long long)j->user_id, error);
		j->failed += k;
		return -1;
	}
	/* copies expunged meanwhile are not found: not learnt */
	for (size_t i = 0; i < found.n; i++) {
		enum bayes_learn_result res;
		uint64_t size = found.metas[i].size;
		char *data = NULL;
		int fd;

		if (size > BAYES_MESSAGE_MAX)
			size = BAYES_MESSAGE_MAX;
		if (store_message_meta_open(store, &found.metas[i], &fd,
		    &error) < 0) {
			j->failed++;
			continue;
		}
		if (store_read_range(fd, 0, size, &data) < 0) {
			(void)close(fd);
			j->failed++;
			continue;
		}
		(void)close(fd);
		if (bayes_learn(store, &j->bc, data, (size_t)size, j->user_id,
		    j->klass, now, &res, &error) < 0) {
			log_error("bayes learn user=%lld error=\"%s\"",
			    (long long)j->user_id, error);
			j->failed++;
		} else {
			j->counts[res]++;
		}
		free(data);
	}
	return 0;
}

static void
bayes_learn_job_done(struct deliverq_job *job)
{
	struct bayes_learn_job *j = (struct bayes_learn_job *)job;

	if (j->next < j->n && !deliverq_stopping(j->q)) {
		deliverq_submit(j->q, &j->job);
		return;
	}
	log_info("bayes learn user=%lld class=%s messages=%zu learnt=%zu"
	    " relearnt=%zu already=%zu failed=%zu%s", (long long)j->user_id,
	    j->klass == BAYES_SPAM ? "spam" : "ham", j->n,
	    j->counts[BAYES_LEARN_NEW], j->counts[BAYES_LEARN_MOVED],
	    j->counts[BAYES_LEARN_ALREADY], j->failed,
	    j->next < j->n ? " stopped=shutdown" : "");
	free(j->uids);
	free(j);
}

void
bayes_learn_copy_submit(struct deliverq *q, const struct bayes_config *bc,
    int64_t user_id, int64_t to_id, enum bayes_copy_learn what,
    const uint32_t *uids, size_t n)
{
	struct bayes_learn_job *j;

	if (what == BAYES_COPY_NONE || n == 0 || user_id == STORE_BAYES_GLOBAL)
		return;
	if (n > BAYES_LEARN_COPY_MAX)
		n = BAYES_LEARN_COPY_MAX;
	j = xcalloc(1, sizeof(*j));
	j->q = q;
	j->bc = *bc;
	j->user_id = user_id;
	j->mailbox_id = to_id;
	j->klass = what == BAYES_COPY_SPAM ? BAYES_SPAM : BAYES_HAM;
	j->uids = xcalloc(n, sizeof(*j->uids));
	memcpy(j->uids, uids, n * sizeof(*uids));
	j->n = n;
	j->job.run = bayes_learn_job_run;
	j->job.done = bayes_learn_job_done;
	j->job.ctx = j;
	deliverq_submit(q, &j->job);
}
