/*
 * dkim-parse.c - DKIM's syntax: tag lists (RFC 6376 3.2), base64,
 * splitting a message header into fields, DKIM-Signature fields (3.5,
 * 6.1.1) and key records (3.6.1, RFC 8463 4).
 *
 * SECURITY: all of it is peer data (a message, a DNS answer). Inputs are
 * bounded by explicit lengths and by the limits of dkim.h, decoded into
 * fixed-size fields whose size is checked before each write, and refused
 * with a short static reason that ends up in logs and in
 * Authentication-Results.
 */
#include "auth/dkim-private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dns/dns-name.h"

static bool
dkim_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
dkim_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
dkim_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* --- tag lists --- */

int
dkim_taglist_parse(const char *s, size_t len, struct dkim_taglist *tl,
    const char **error_r)
{
	size_t pos = 0;

	tl->n = 0;
	if (len > DKIM_TAGLIST_MAX) {
		*error_r = "tag list too long";
		return -1;
	}
	while (pos < len && dkim_is_ws(s[pos]))
		pos++;
	if (pos == len) {
		*error_r = "empty tag list";
		return -1;
	}
	while (pos < len) {
		struct dkim_tag *tag;
		size_t name, name_len, v, vend;

		if (tl->n >= DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		/* tag-name = ALPHA *ALNUMPUNC */
		name = pos;
		if (!dkim_is_alpha(s[pos])) {
			*error_r = "bad tag name";
			return -1;
		}
		while (pos < len && (dkim_is_alpha(s[pos]) ||
		    dkim_is_digit(s[pos]) || s[pos] == '_'))
			pos++;
		name_len = pos - name;
		if (name_len > DKIM_TAG_NAME_MAX) {
			*error_r = "tag name too long";
			return -1;
		}
		while (pos < len && dkim_is_ws(s[pos]))
			pos++;
		if (pos == len || s[pos] != '=') {
			*error_r = "missing '=' after a tag name";
			return -1;
		}
		pos++;
		while (pos < len && dkim_is_ws(s[pos]))
			pos++;
		/* tag-value: VALCHARs (%x21-3A / %x3C-7E) and white space */
		v = pos;
		while (pos < len && s[pos] != ';') {
			unsigned char c = (unsigned char)s[pos];

			if (!dkim_is_ws(s[pos]) && (c < 0x21 || c > 0x7e)) {
				*error_r = "bad character in a tag value";
				return -1;
			}
			pos++;
		}
		vend = pos;
		while (vend > v && dkim_is_ws(s[vend - 1]))
			vend--;
		for (size_t i = 0; i < tl->n; i++)
			if (strlen(tl->tags[i].name) == name_len &&
			    memcmp(tl->tags[i].name, s + name, name_len) == 0) {
				*error_r = "duplicate tag";
				return -1;
			}
		tag = &tl->tags[tl->n++];
		memcpy(tag->name, s + name, name_len);
		tag->name[name_len] = '\0';
		tag->value = s + v;
		tag->len = vend - v;
		if (pos < len)
			pos++;		/* the ';' */
		while (pos < len && dkim_is_ws(s[pos]))
			pos++;
	}
	return 0;
}

const struct dkim_tag *
dkim_taglist_get(const struct dkim_taglist *tl, const char *name)
{
	for (size_t i = 0; i < tl->n; i++)
		if (strcmp(tl->tags[i].name, name) == 0)
			return &tl->tags[i];
	return NULL;
}

/* --- base64 --- */

static const char dkim_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
dkim_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t
dkim_base64_decode(const char *s, size_t len, unsigned char *out,
    size_t outsize)
{
	unsigned acc = 0, bits = 0, pad = 0;
	size_t n = 0, chars = 0;

	for (size_t i = 0; i < len; i++) {
		int v;

		if (dkim_is_ws(s[i]))
			continue;
		chars++;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = dkim_b64_value(s[i])) < 0)
			return -1;
		acc = ((acc << 6) | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outsize)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* whole quanta only; "=" after 3 characters, "==" after 2 */
	if (chars % 4 != 0 || pad > 2 || (pad == 1 && bits != 2) ||
	    (pad == 2 && bits != 4))
		return -1;
	return (ssize_t)n;
}

ssize_t
dkim_base64_encode(const unsigned char *in, size_t n, char *out,
    size_t outsize)
{
	size_t o = 0;

	if (outsize == 0 || (n + 2) / 3 > (outsize - 1) / 4)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = dkim_b64[(v >> 18) & 63];
		out[o++] = dkim_b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? dkim_b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? dkim_b64[v & 63] : '=';
	}
	out[o] = '\0';
	return (ssize_t)o;
}

/* --- the header of a message --- */

ssize_t
dkim_header_split(const char *msg, size_t len, struct dkim_field *fields,
    size_t max, size_t *body_off_r)
{
	size_t pos = 0, n = 0;

	while (pos < len) {
		const char *nl, *colon;
		size_t e, name_len;

		/* the empty line: the body follows */
		if (msg[pos] == '\r' && pos + 1 < len && msg[pos + 1] == '\n') {
			*body_off_r = pos + 2;
			return (ssize_t)n;
		}
		if (msg[pos] == '\n') {
			*body_off_r = pos + 1;
			return (ssize_t)n;
		}
		/* the field and its continuation lines */
		e = pos;
		do {
			nl = memchr(msg + e, '\n', len - e);
			e = nl != NULL ? (size_t)(nl - msg) + 1 : len;
		} while (e < len && (msg[e] == ' ' || msg[e] == '\t'));
		if (n >= max)
			return -1;
		nl = memchr(msg + pos, '\n', e - pos);
		colon = memchr(msg + pos, ':', (nl != NULL ? (size_t)(nl - msg) :
		    e) - pos);
		name_len = 0;
		if (colon != NULL) {
			name_len = (size_t)(colon - (msg + pos));
			/* RFC 5322 4.5.3 obsolete syntax: WSP before ':' */
			while (name_len > 0 && (msg[pos + name_len - 1] == ' ' ||
			    msg[pos + name_len - 1] == '\t'))
				name_len--;
		}
		fields[n].start = msg + pos;
		fields[n].len = e - pos;
		fields[n].name_len = name_len;
		n++;
		pos = e;
	}
	*body_off_r = len;
	return (ssize_t)n;
}

bool
dkim_field_is(const struct dkim_field *f, const char *name, size_t name_len)
{
	return f->name_len == name_len && name_len > 0 &&
	    strncasecmp(f->start, name, name_len) == 0;
}

/* --- signatures --- */

static bool
dkim_value_is(const struct dkim_tag *t, const char *s)
{
	return t->len == strlen(s) && strncasecmp(t->value, s, t->len) == 0;
}

/* Parses a decimal tag of up to max_digits digits. Returns 0 or -1. */
static int
dkim_tag_uint(const struct dkim_tag *t, size_t max_digits, uint64_t *v_r)
{
	uint64_t v = 0;

	if (t->len == 0 || t->len > max_digits)
		return -1;
	for (size_t i = 0; i < t->len; i++) {
		unsigned d;

		if (!dkim_is_digit(t->value[i]))
			return -1;
		d = (unsigned)(t->value[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}

/* Copies a domain or selector value, normalized (lower case), into out
 * (DNS_NAME_MAX + 1 bytes). Returns 0 or -1. */
static int
dkim_tag_name(const struct dkim_tag *t, char *out)
{
	char tmp[DNS_NAME_MAX + 2];
	const char *error;

	if (t->len == 0 || t->len > DNS_NAME_MAX)
		return -1;
	memcpy(tmp, t->value, t->len);
	tmp[t->len] = '\0';
	/* no trailing dot in DKIM (dns_name_normalize takes one) */
	if (tmp[t->len - 1] == '.')
		return -1;
	return dns_name_normalize(tmp, 0, out, DNS_NAME_MAX + 1, &error);
}

/* Walks a colon-separated list (h=, q=, key h=, s=, t=), items trimmed of
 * white space; calls cb, which returns -1 to stop with an error. */
static int
dkim_colon_list(const struct dkim_tag *t,
    int (*cb)(void *ctx, const char *item, size_t len), void *ctx)
{
	size_t pos = 0;

	while (pos <= t->len) {
		const char *colon = memchr(t->value + pos, ':', t->len - pos);
		size_t end = colon != NULL ? (size_t)(colon - t->value) : t->len;
		size_t a = pos, b = end;

		while (a < b && dkim_is_ws(t->value[a]))
			a++;
		while (b > a && dkim_is_ws(t->value[b - 1]))
			b--;
		if (cb(ctx, t->value + a, b - a) < 0)
			return -1;
		pos = end + 1;
	}
	return 0;
}

static int
dkim_sig_h_item(void *ctx, const char *item, size_t len)
{
	struct dkim_sig *sig = ctx;

	if (len == 0 || sig->n_h >= DKIM_H_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)item[i] < 0x21 ||
		    (unsigned char)item[i] > 0x7e || dkim_is_ws(item[i]))
			return -1;
	sig->h[sig->n_h].name = item;
	sig->h[sig->n_h].len = len;
	sig->n_h++;
	return 0;
}

struct dkim_find {
	const char *want;
	bool found;
};

static int
dkim_find_item(void *ctx, const char *item, size_t len)
{
	struct dkim_find *f = ctx;

	if (len == strlen(f->want) && strncasecmp(item, f->want, len) == 0)
		f->found = true;
	return 0;
}

static bool
dkim_list_has(const struct dkim_tag *t, const char *want)
{
	struct dkim_find f = { want, false };

	(void)dkim_colon_list(t, dkim_find_item, &f);
	return f.found;
}

/* i=: [local-part] "@" domain, the domain d= or a subdomain of it. */
static int
dkim_sig_identity(const struct dkim_tag *t, struct dkim_sig *sig,
    const char **error_r)
{
	const char *at = NULL;
	char dom[DNS_NAME_MAX + 1];
	struct dkim_tag dt;
	size_t dlen, slen;

	for (size_t i = t->len; i > 0; i--)
		if (t->value[i - 1] == '@') {
			at = t->value + i - 1;
			break;
		}
	if (at == NULL || t->len >= sizeof(sig->identity)) {
		*error_r = "bad i= tag";
		return -1;
	}
	dt.value = at + 1;
	dt.len = (size_t)(t->value + t->len - dt.value);
	if (dkim_tag_name(&dt, dom) < 0) {
		*error_r = "bad i= tag";
		return -1;
	}
	dlen = strlen(dom);
	slen = strlen(sig->domain);
	/* RFC 6376 3.5 i=: the same as, or a subdomain of, d= */
	if (!(dlen == slen && strcmp(dom, sig->domain) == 0) &&
	    !(dlen > slen && dom[dlen - slen - 1] == '.' &&
	    strcmp(dom + dlen - slen, sig->domain) == 0)) {
		*error_r = "i= is not in the domain of d=";
		return -1;
	}
	memcpy(sig->identity, t->value, t->len);
	sig->identity[t->len] = '\0';
	return 0;
}

int
dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig,
    const char **error_r)
{
	struct dkim_taglist tl;
	const struct dkim_tag *t;
	ssize_t n;
	size_t want_bh;

	memset(sig, 0, sizeof(*sig));
	if (dkim_taglist_parse(value, len, &tl, error_r) < 0)
		return -1;
	/* d= and s= first: a report names them even if the rest is bad */
	if ((t = dkim_taglist_get(&tl, "d")) != NULL &&
	    dkim_tag_name(t, sig->domain) < 0) {
		sig->domain[0] = '\0';
		*error_r = "bad d= tag";
		return -1;
	}
	if ((t = dkim_taglist_get(&tl, "s")) != NULL &&
	    dkim_tag_name(t, sig->selector) < 0) {
		sig->selector[0] = '\0';
		*error_r = "bad s= tag";
		return -1;
	}
	if ((t = dkim_taglist_get(&tl, "a")) != NULL) {
		sig->alg_text = t->value;
		sig->alg_len = t->len;
	}
	if ((t = dkim_taglist_get(&tl, "b")) != NULL) {
		size_t k = 0;

		for (size_t i = 0; i < t->len && k < sizeof(sig->b_text) - 1;
		    i++)
			if (!dkim_is_ws(t->value[i]))
				sig->b_text[k++] = t->value[i];
		sig->b_text[k] = '\0';
	}
	if ((t = dkim_taglist_get(&tl, "v")) == NULL || !dkim_value_is(t, "1")) {
		*error_r = "v= missing or not 1";
		return -1;
	}
	if (sig->alg_text == NULL || dkim_taglist_get(&tl, "b") == NULL ||
	    dkim_taglist_get(&tl, "bh") == NULL || sig->domain[0] == '\0' ||
	    dkim_taglist_get(&tl, "h") == NULL || sig->selector[0] == '\0') {
		*error_r = "a required tag is missing (a, b, bh, d, h, s)";
		return -1;
	}
	t = dkim_taglist_get(&tl, "a");
	if (dkim_value_is(t, "rsa-sha256")) {
		sig->alg = DKIM_ALG_RSA_SHA256;
		want_bh = 32;
	} else if (dkim_value_is(t, "ed25519-sha256")) {
		sig->alg = DKIM_ALG_ED25519_SHA256;
		want_bh = 32;
	} else if (dkim_value_is(t, "rsa-sha1")) {
		sig->alg = DKIM_ALG_RSA_SHA1;
		want_bh = 20;
	} else {
		*error_r = "unknown algorithm (a=)";
		return -1;
	}
	t = dkim_taglist_get(&tl, "b");
	n = dkim_base64_decode(t->value, t->len, sig->b, sizeof(sig->b));
	if (n <= 0) {
		*error_r = "b= is not base64, or too long";
		return -1;
	}
	sig->b_len = (size_t)n;
	t = dkim_taglist_get(&tl, "bh");
	n = dkim_base64_decode(t->value, t->len, sig->bh, sizeof(sig->bh));
	if (n < 0 || (size_t)n != want_bh) {
		*error_r = "bh= is not a base64 hash of the right size";
		return -1;
	}
	sig->bh_len = (size_t)n;
	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	if ((t = dkim_taglist_get(&tl, "c")) != NULL) {
		const char *slash = memchr(t->value, '/', t->len);
		struct dkim_tag h = *t, b;

		if (slash != NULL) {
			h.len = (size_t)(slash - t->value);
			b.value = slash + 1;
			b.len = t->len - h.len - 1;
		}
		if (dkim_value_is(&h, "relaxed"))
			sig->hcanon = DKIM_CANON_RELAXED;
		else if (!dkim_value_is(&h, "simple")) {
			*error_r = "unknown canonicalization (c=)";
			return -1;
		}
		if (slash != NULL) {
			if (dkim_value_is(&b, "relaxed"))
				sig->bcanon = DKIM_CANON_RELAXED;
			else if (!dkim_value_is(&b, "simple")) {
				*error_r = "unknown canonicalization (c=)";
				return -1;
			}
		}
	}
	t = dkim_taglist_get(&tl, "h");
	if (dkim_colon_list(t, dkim_sig_h_item, sig) < 0) {
		*error_r = "bad h= tag, or too many names";
		return -1;
	}
	if (!dkim_list_has(t, "from")) {
		*error_r = "h= does not list From (RFC 6376 5.4)";
		return -1;
	}
	if ((t = dkim_taglist_get(&tl, "i")) != NULL) {
		if (dkim_sig_identity(t, sig, error_r) < 0)
			return -1;
	} else {
		(void)snprintf(sig->identity, sizeof(sig->identity), "@%s",
		    sig->domain);
	}
	if ((t = dkim_taglist_get(&tl, "q")) != NULL &&
	    !dkim_list_has(t, "dns/txt")) {
		*error_r = "q= does not offer dns/txt";
		return -1;
	}
	/* l=: 76 digits at most (3.5); anything past 2^64 is absurd */
	if ((t = dkim_taglist_get(&tl, "l")) != NULL) {
		if (dkim_tag_uint(t, 20, &sig->l) < 0) {
			*error_r = "bad l= tag";
			return -1;
		}
		sig->has_l = true;
	}
	/* t= and x=: 12 digits are enough until the year 33658 (3.5) */
	if ((t = dkim_taglist_get(&tl, "t")) != NULL) {
		if (dkim_tag_uint(t, 12, &sig->t) < 0) {
			*error_r = "bad t= tag";
			return -1;
		}
		sig->has_t = true;
	}
	if ((t = dkim_taglist_get(&tl, "x")) != NULL) {
		if (dkim_tag_uint(t, 12, &sig->x) < 0) {
			*error_r = "bad x= tag";
			return -1;
		}
		sig->has_x = true;
	}
	if (sig->has_t && sig->has_x && sig->x < sig->t) {
		*error_r = "x= is before t=";
		return -1;
	}
	return 0;
}

/* --- key records --- */

static int
dkim_keyrec_flag(void *ctx, const char *item, size_t len)
{
	struct dkim_keyrec *rec = ctx;

	if (len == 1 && item[0] == 'y')
		rec->testing = true;
	else if (len == 1 && item[0] == 's')
		rec->strict = true;
	return 0;	/* unknown flags are ignored (3.6.1) */
}

int
dkim_keyrec_parse(const char *s, size_t len, struct dkim_keyrec *rec,
    const char **error_r)
{
	struct dkim_taglist tl;
	const struct dkim_tag *t;
	ssize_t n;

	memset(rec, 0, sizeof(*rec));
	if (dkim_taglist_parse(s, len, &tl, error_r) < 0)
		return -1;
	/* v=, if present, MUST be the first tag (3.6.1) */
	if ((t = dkim_taglist_get(&tl, "v")) != NULL &&
	    (t != &tl.tags[0] || !(t->len == 5 &&
	    memcmp(t->value, "DKIM1", 5) == 0))) {
		*error_r = "key record is not v=DKIM1";
		return -1;
	}
	rec->rsa = true;
	if ((t = dkim_taglist_get(&tl, "k")) != NULL) {
		if (dkim_value_is(t, "ed25519"))
			rec->rsa = false;
		else if (!dkim_value_is(t, "rsa")) {
			*error_r = "unknown key type (k=)";
			return -1;
		}
	}
	rec->sha256_ok = (t = dkim_taglist_get(&tl, "h")) == NULL ||
	    dkim_list_has(t, "sha256");
	if ((t = dkim_taglist_get(&tl, "s")) != NULL &&
	    !dkim_list_has(t, "*") && !dkim_list_has(t, "email")) {
		*error_r = "key is not for email (s=)";
		return -1;
	}
	if ((t = dkim_taglist_get(&tl, "t")) != NULL)
		(void)dkim_colon_list(t, dkim_keyrec_flag, rec);
	if ((t = dkim_taglist_get(&tl, "p")) == NULL) {
		*error_r = "key record without p=";
		return -1;
	}
	n = dkim_base64_decode(t->value, t->len, rec->p, sizeof(rec->p));
	if (n < 0) {
		*error_r = "p= is not base64, or too long";
		return -1;
	}
	rec->p_len = (size_t)n;
	rec->revoked = n == 0;
	return 0;
}

EVP_PKEY *
dkim_keyrec_pkey(const struct dkim_keyrec *rec, bool *too_small_r,
    unsigned *bits_r, const char **error_r)
{
	const unsigned char *p = rec->p;
	EVP_PKEY *key;
	int bits;

	*too_small_r = false;
	*bits_r = 0;
	if (!rec->rsa) {
		/* RFC 8463 4: the raw 32-byte public key */
		if (rec->p_len != 32) {
			*error_r = "bad ed25519 key (p= is not 32 bytes)";
			return NULL;
		}
		key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    rec->p, rec->p_len);
		if (key == NULL)
			*error_r = "bad ed25519 key";
		else
			*bits_r = 256;
		return key;
	}
	key = d2i_PUBKEY(NULL, &p, (long)rec->p_len);
	if (key == NULL) {
		/* a bare RSAPublicKey (RFC 3447 A.1.1) */
		p = rec->p;
		key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)rec->p_len);
	}
	if (key == NULL || p != rec->p + rec->p_len) {
		EVP_PKEY_free(key);
		*error_r = "bad RSA key (p=)";
		return NULL;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		*error_r = "p= is not an RSA key (k=rsa)";
		return NULL;
	}
	bits = EVP_PKEY_get_bits(key);
	*bits_r = bits > 0 ? (unsigned)bits : 0;
	if (bits < DKIM_RSA_BITS_MIN) {
		EVP_PKEY_free(key);
		*too_small_r = true;
		*error_r = "RSA key too small (under 1024 bits, RFC 8301)";
		return NULL;
	}
	if (bits > DKIM_RSA_BITS_MAX) {
		EVP_PKEY_free(key);
		*error_r = "RSA key too large (over 8192 bits)";
		return NULL;
	}
	return key;
}
