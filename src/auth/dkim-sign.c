/*
 * dkim-sign.c - DKIM signing (RFC 6376 5, RFC 8463) and the private keys
 * of the data directory: dkim/DOMAIN/SELECTOR.pem.
 *
 * Signatures are relaxed/relaxed (the canonicalization that survives
 * the white space changes relays make), with t= and without l= (a body
 * that may be extended is a body anyone may extend) or x=. The signed
 * fields are the recommended ones of 5.4.1 that are present, each as many
 * times as it occurs, plus From: once more than it occurs: "oversigned",
 * so that a second From: added later breaks the signature (8.15).
 *
 * SECURITY: private keys are files of mode 0600 in directories of mode
 * 0700, owned by the server's user (the CLI writes them after dropping to
 * that user, as every data directory file). They are wiped from memory
 * when freed (EVP_PKEY_free does). The message being signed comes from an
 * authenticated user; its header is split with the verifier's bounds.
 */
#include "auth/dkim-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "mime/addr.h"
#include "mime/mime-imap.h"

#define DKIM_DIR "dkim"
#define DKIM_RSA_BITS_NEW 2048		/* RFC 8301 3.2: at least 2048 */
#define DKIM_FOLD 72			/* where signature lines are folded */

struct dkim_key {
	char *domain;
	char *selector;
	enum dkim_alg alg;
	unsigned bits;
	EVP_PKEY *pkey;
	char *record;
};

struct dkim_keys {
	struct dkim_key *keys;
	size_t n;
};

static char dkim_errbuf[512];

bool
dkim_selector_valid(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > DNS_LABEL_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return label > 0 && s[len - 1] != '-';
}

/* --- loading --- */

/* No passphrase: an encrypted key is refused, never asked for. */
static int
dkim_no_password(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* The TXT record of a key: "v=DKIM1; k=rsa; p=..." (3.6.1, RFC 8463). */
static char *
dkim_key_record(EVP_PKEY *pkey, enum dkim_alg alg)
{
	unsigned char der[2048], *p = der;
	char b64[4 * (sizeof(der) / 3 + 1) + 1];
	size_t len = sizeof(der);
	int n;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		if (EVP_PKEY_get_raw_public_key(pkey, der, &len) != 1)
			return NULL;
	} else {
		n = i2d_PUBKEY(pkey, NULL);
		if (n <= 0 || (size_t)n > sizeof(der) ||
		    i2d_PUBKEY(pkey, &p) != n)
			return NULL;
		len = (size_t)n;
	}
	if (dkim_base64_encode(der, len, b64, sizeof(b64)) < 0)
		return NULL;
	return xasprintf("v=DKIM1; k=%s; p=%s",
	    alg == DKIM_ALG_ED25519_SHA256 ? "ed25519" : "rsa", b64);
}

/* Reads dir/domain/file; returns 0 (added), or -1 (skipped, logged). */
static int
dkim_key_read(struct dkim_keys *keys, int dirfd, const char *domain,
    const char *file)
{
	struct dkim_key k;
	size_t flen = strlen(file);
	char selector[DNS_LABEL_MAX + 1];
	FILE *fp;
	int fd, bits;

	memset(&k, 0, sizeof(k));
	if (flen <= 4 || strcmp(file + flen - 4, ".pem") != 0)
		return -1;
	if (flen - 4 >= sizeof(selector)) {
		log_warning("dkim key domain=%s file=%.64s error=\"bad "
		    "selector\"", domain, file);
		return -1;
	}
	memcpy(selector, file, flen - 4);
	selector[flen - 4] = '\0';
	if (!dkim_selector_valid(selector)) {
		log_warning("dkim key domain=%s file=%.64s error=\"bad "
		    "selector\"", domain, file);
		return -1;
	}
	fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (fp = fdopen(fd, "r")) == NULL) {
		log_warning("dkim key domain=%s selector=%s error=\"%s\"",
		    domain, selector, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	k.pkey = PEM_read_PrivateKey(fp, NULL, dkim_no_password, NULL);
	fclose(fp);
	if (k.pkey == NULL) {
		log_warning("dkim key domain=%s selector=%s error=\"not a "
		    "PEM private key\"", domain, selector);
		return -1;
	}
	bits = EVP_PKEY_get_bits(k.pkey);
	if (EVP_PKEY_get_base_id(k.pkey) == EVP_PKEY_ED25519) {
		k.alg = DKIM_ALG_ED25519_SHA256;
	} else if (EVP_PKEY_get_base_id(k.pkey) == EVP_PKEY_RSA &&
	    bits >= DKIM_RSA_BITS_MIN && bits <= DKIM_RSA_BITS_MAX) {
		k.alg = DKIM_ALG_RSA_SHA256;
	} else {
		log_warning("dkim key domain=%s selector=%s error=\"neither "
		    "Ed25519 nor RSA of %d to %d bits\"", domain, selector,
		    DKIM_RSA_BITS_MIN, DKIM_RSA_BITS_MAX);
		EVP_PKEY_free(k.pkey);
		return -1;
	}
	k.bits = bits > 0 ? (unsigned)bits : 0;
	if ((k.record = dkim_key_record(k.pkey, k.alg)) == NULL) {
		log_warning("dkim key domain=%s selector=%s error=\"cannot "
		    "encode the public key\"", domain, selector);
		EVP_PKEY_free(k.pkey);
		return -1;
	}
	k.domain = xstrdup(domain);
	k.selector = xstrdup(selector);
	keys->keys = xrealloc(keys->keys, (keys->n + 1) * sizeof(*keys->keys));
	keys->keys[keys->n++] = k;
	return 0;
}

static void
dkim_domain_read(struct dkim_keys *keys, int top, const char *domain)
{
	char norm[DNS_NAME_MAX + 1];
	const char *error;
	struct dirent *de;
	size_t first = keys->n;
	DIR *d;
	int fd;

	/* only directories named like a normalized domain */
	if (dns_name_normalize(domain, DNS_NAME_HOST, norm, sizeof(norm),
	    &error) < 0 || strcmp(norm, domain) != 0) {
		log_warning("dkim keys dir=%.64s error=\"not a domain name\"",
		    domain);
		return;
	}
	fd = openat(top, domain, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		log_warning("dkim keys domain=%s error=\"%s\"", domain,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (keys->n - first >= DKIM_SIGN_KEYS_MAX) {
			log_warning("dkim keys domain=%s error=\"more than %d "
			    "keys: the others are not used\"", domain,
			    DKIM_SIGN_KEYS_MAX);
			break;
		}
		(void)dkim_key_read(keys, dirfd(d), domain, de->d_name);
	}
	closedir(d);
}

static int
dkim_key_cmp(const void *a, const void *b)
{
	const struct dkim_key *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	if (c != 0)
		return c;
	if (x->alg != y->alg)
		return x->alg < y->alg ? -1 : 1;
	return strcmp(x->selector, y->selector);
}

struct dkim_keys *
dkim_keys_load(const char *dir, const char **error_r)
{
	struct dkim_keys *keys = xcalloc(1, sizeof(*keys));
	struct dirent *de;
	DIR *d;
	int top, fd;

	top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0) {
		(void)snprintf(dkim_errbuf, sizeof(dkim_errbuf),
		    "cannot open %s: %s", dir, strerror(errno));
		*error_r = dkim_errbuf;
		free(keys);
		return NULL;
	}
	fd = openat(top, DKIM_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	close(top);
	if (fd < 0 && errno == ENOENT)
		return keys;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		(void)snprintf(dkim_errbuf, sizeof(dkim_errbuf),
		    "cannot read %s/" DKIM_DIR ": %s", dir, strerror(errno));
		*error_r = dkim_errbuf;
		if (fd >= 0)
			close(fd);
		free(keys);
		return NULL;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			dkim_domain_read(keys, dirfd(d), de->d_name);
	closedir(d);
	if (keys->n > 1)
		qsort(keys->keys, keys->n, sizeof(*keys->keys), dkim_key_cmp);
	return keys;
}

void
dkim_keys_free(struct dkim_keys **keysp)
{
	struct dkim_keys *keys = *keysp;

	if (keys == NULL)
		return;
	for (size_t i = 0; i < keys->n; i++) {
		EVP_PKEY_free(keys->keys[i].pkey);
		free(keys->keys[i].domain);
		free(keys->keys[i].selector);
		free(keys->keys[i].record);
	}
	free(keys->keys);
	free(keys);
	*keysp = NULL;
}

size_t
dkim_keys_count(const struct dkim_keys *keys)
{
	return keys != NULL ? keys->n : 0;
}

/* The first key of domain in the sorted array (keys->n if none). */
static size_t
dkim_keys_find(const struct dkim_keys *keys, const char *domain)
{
	size_t lo = 0, hi = keys->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(keys->keys[mid].domain, domain) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
dkim_keys_foreach(const struct dkim_keys *keys, const char *domain,
    void (*cb)(void *ctx, const struct dkim_key_info *info), void *ctx)
{
	size_t i = domain != NULL ? dkim_keys_find(keys, domain) : 0;

	for (; i < keys->n; i++) {
		const struct dkim_key *k = &keys->keys[i];
		struct dkim_key_info info = { k->domain, k->selector, k->alg,
		    k->bits, k->record };

		if (domain != NULL && strcmp(k->domain, domain) != 0)
			break;
		cb(ctx, &info);
	}
}

/* --- generating --- */

int
dkim_key_generate(const char *dir, const char *domain, const char *selector,
    enum dkim_alg alg, const char **error_r)
{
	char path[PATH_MAX];
	EVP_PKEY *pkey = NULL;
	FILE *fp = NULL;
	int fd = -1, ok = 0;

	*error_r = dkim_errbuf;
	if (!dkim_selector_valid(selector) || alg == DKIM_ALG_RSA_SHA1) {
		*error_r = "bad selector or algorithm";
		return -1;
	}
	(void)snprintf(path, sizeof(path), "%s/" DKIM_DIR, dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		goto syserr;
	if (snprintf(path, sizeof(path), "%s/" DKIM_DIR "/%s", dir,
	    domain) >= (int)sizeof(path))
		goto syserr;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		goto syserr;
	if (snprintf(path, sizeof(path), "%s/" DKIM_DIR "/%s/%s.pem", dir,
	    domain, selector) >= (int)sizeof(path))
		goto syserr;
	if (alg == DKIM_ALG_ED25519_SHA256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)DKIM_RSA_BITS_NEW);
	if (pkey == NULL) {
		*error_r = "cannot generate the key";
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		if (errno == EEXIST)
			(void)snprintf(dkim_errbuf, sizeof(dkim_errbuf),
			    "a key for selector %s of %s exists already (%s)",
			    selector, domain, path);
		else
			(void)snprintf(dkim_errbuf, sizeof(dkim_errbuf),
			    "cannot create %s: %s", path, strerror(errno));
		EVP_PKEY_free(pkey);
		return -1;
	}
	if ((fp = fdopen(fd, "w")) == NULL)
		close(fd);
	else if (PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL,
	    NULL) == 1 && fflush(fp) == 0 && fsync(fd) == 0)
		ok = 1;
	if (fp != NULL && fclose(fp) != 0)
		ok = 0;
	EVP_PKEY_free(pkey);
	if (!ok) {
		(void)snprintf(dkim_errbuf, sizeof(dkim_errbuf),
		    "cannot write %s: %s", path, strerror(errno));
		(void)unlink(path);
		return -1;
	}
	return 0;
syserr:
	(void)snprintf(dkim_errbuf, sizeof(dkim_errbuf), "cannot create %s: %s",
	    path, strerror(errno));
	return -1;
}

/* --- signing --- */

/* RFC 6376 5.4.1, and the fields that say how to read the body. Signed
 * in this order, each as often as it occurs. */
static const char *const dkim_signed_fields[] = {
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Resent-Date",
	"Resent-From", "Resent-To", "Resent-Cc", "In-Reply-To", "References",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive", "Message-ID",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
};

struct dkim_from {
	struct pool *pool;
	const char *domain;
};

static void
dkim_from_cb(void *ctx, const char *local, size_t local_len,
    const char *domain, size_t domain_len)
{
	struct dkim_from *f = ctx;
	const char *error;

	if (f->domain != NULL)
		return;
	f->domain = addr_domain_normalize(pool_strndup(f->pool, domain,
	    domain_len), f->pool, &error);
}

static void
dkim_body_md(void *ctx, const char *data, size_t len)
{
	(void)EVP_DigestUpdate(ctx, data, len);
}

/* Appends s to out, folding before it if the line would pass DKIM_FOLD. */
static int
dkim_fold_put(struct buf *out, size_t *col, const char *s, size_t len)
{
	int r = 0;

	if (*col + len > DKIM_FOLD && *col > 1) {
		r |= buf_append(out, "\r\n\t", 3);
		*col = 1;
	}
	r |= buf_append(out, s, len);
	*col += len;
	return r;
}

/* Makes one signature with key k into out. */
static int
dkim_sign_one(const struct dkim_key *k, const struct dkim_field *fields,
    size_t n_fields, const char *const *h, size_t n_h, const char *bh,
    time_t now, struct buf *out, const char **error_r)
{
	unsigned char md[EVP_MAX_MD_SIZE], sig[DKIM_RSA_BITS_MAX / 8];
	char b64[4 * (sizeof(sig) / 3 + 1) + 1], item[128];
	size_t start = out->len, col, sig_len = sizeof(sig);
	struct dkim_sig s;
	ssize_t b64_len;
	int r = 0, md_len;

	r |= buf_printf(out, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;"
	    " d=%s;\r\n\ts=%s; t=%lld;\r\n\th=", dkim_alg_name(k->alg),
	    k->domain, k->selector, (long long)now);
	col = 3;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < n_h; i++) {
		int n = snprintf(item, sizeof(item), "%s%s", h[i],
		    i + 1 < n_h ? ":" : ";");

		if (n < 0 || (size_t)n >= sizeof(item))
			return -1;
		r |= dkim_fold_put(out, &col, item, (size_t)n);
		s.h[s.n_h].name = h[i];
		s.h[s.n_h].len = strlen(h[i]);
		s.n_h++;
	}
	r |= buf_printf(out, "\r\n\tbh=%s;\r\n\tb=", bh);
	if (r != 0) {
		*error_r = "message too large to sign";
		return -1;
	}
	md_len = dkim_hash_header(EVP_sha256(), DKIM_CANON_RELAXED, fields,
	    n_fields, &s, out->data + start, out->len - start, md);
	if (md_len < 0 || dkim_pkey_sign(k->pkey, k->alg, md, (size_t)md_len,
	    sig, &sig_len) < 0 ||
	    (b64_len = dkim_base64_encode(sig, sig_len, b64, sizeof(b64))) < 0) {
		*error_r = "signing failed";
		return -1;
	}
	/* b= folded; its value is removed before hashing, so its folding
	 * does not matter to the hash */
	col = 4;
	for (ssize_t i = 0; i < b64_len; ) {
		size_t n = (size_t)(b64_len - i);

		if (col + n > DKIM_FOLD)
			n = DKIM_FOLD > col ? DKIM_FOLD - col : 1;
		r |= buf_append(out, b64 + i, n);
		i += (ssize_t)n;
		if (i < b64_len) {
			r |= buf_append(out, "\r\n\t ", 4);
			col = 2;
		}
	}
	r |= buf_append(out, "\r\n", 2);
	if (r != 0) {
		*error_r = "message too large to sign";
		return -1;
	}
	return 0;
}

int
dkim_sign(const struct dkim_keys *keys, const char *msg, size_t len,
    time_t now, struct buf *out, const char **error_r)
{
	const size_t n_names = sizeof(dkim_signed_fields) /
	    sizeof(dkim_signed_fields[0]);
	const char *h[DKIM_H_MAX];
	struct dkim_field *fields = NULL;
	struct dkim_from from;
	const struct dkim_field *ff = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	char bh[4 * (EVP_MAX_MD_SIZE / 3 + 1) + 1];
	unsigned md_len = 0;
	EVP_MD_CTX *ctx = NULL;
	size_t body_off, first, n_h = 0, n_from = 0;
	ssize_t n;
	int made = 0;

	memset(&from, 0, sizeof(from));
	if (keys == NULL || keys->n == 0)
		return 0;
	fields = xmalloc(DKIM_FIELDS_MAX * sizeof(*fields));
	n = dkim_header_split(msg, len, fields, DKIM_FIELDS_MAX, &body_off);
	if (n < 0) {
		*error_r = "too many header fields to sign";
		made = -1;
		goto out;
	}
	for (ssize_t i = 0; i < n; i++)
		if (dkim_field_is(&fields[i], "From", 4)) {
			ff = &fields[i];
			n_from++;
		}
	/* one From: (RFC 5322 3.6) whose domain has keys */
	if (n_from != 1)
		goto out;
	from.pool = pool_new(1024);
	{
		const char *colon = memchr(ff->start, ':', ff->len);

		(void)mime_addr_list_foreach(colon + 1, (size_t)(ff->start +
		    ff->len - colon - 1), dkim_from_cb, &from);
	}
	if (from.domain == NULL ||
	    (first = dkim_keys_find(keys, from.domain)) >= keys->n ||
	    strcmp(keys->keys[first].domain, from.domain) != 0)
		goto out;

	/* h=: the fields present, each as often as it occurs; From: once
	 * more */
	for (size_t k = 0; k < n_names; k++) {
		size_t count = 0, nl = strlen(dkim_signed_fields[k]);

		for (ssize_t i = 0; i < n; i++)
			if (dkim_field_is(&fields[i], dkim_signed_fields[k], nl))
				count++;
		if (k == 0)
			count++;
		for (; count > 0 && n_h < DKIM_H_MAX; count--)
			h[n_h++] = dkim_signed_fields[k];
	}
	/* the body hash, shared by every key */
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		*error_r = "cannot hash";
		made = -1;
		goto out;
	}
	(void)dkim_canon_body(DKIM_CANON_RELAXED, msg + body_off,
	    len - body_off, dkim_body_md, ctx);
	if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 ||
	    dkim_base64_encode(md, md_len, bh, sizeof(bh)) < 0) {
		*error_r = "cannot hash";
		made = -1;
		goto out;
	}
	for (size_t i = first; i < keys->n &&
	    strcmp(keys->keys[i].domain, from.domain) == 0; i++) {
		if (dkim_sign_one(&keys->keys[i], fields, (size_t)n, h, n_h, bh,
		    now, out, error_r) < 0) {
			made = -1;
			goto out;
		}
		made++;
	}
out:
	EVP_MD_CTX_free(ctx);
	pool_free(&from.pool);
	free(fields);
	return made;
}
