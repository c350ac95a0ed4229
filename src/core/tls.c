/*
 * tls.c - OpenSSL server contexts and self-signed certificates (see tls.h).
 */
#include "core/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static char tls_errbuf[512];

/* Formats the OpenSSL error queue (first entry) after a prefix. */
static const char *
tls_error(const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown error";

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (snprintf(tls_errbuf, sizeof(tls_errbuf), "%s %s: %s", what,
	    path != NULL ? path : "", reason) < 0)
		return what;
	return tls_errbuf;
}

SSL_CTX *
tls_server_ctx_new(const char *cert_path, const char *key_path,
    const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_r = tls_error("cannot create TLS context", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Mail clients reconnect often; a small session cache helps them. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"correio", 7);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		*error_r = tls_error("cannot load certificate", cert_path);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_error("cannot load key", key_path);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error("key does not match certificate", key_path);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Writes a PEM object to a new file with the given mode. */
static int
tls_write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert,
    const char **error_r)
{
	FILE *f;
	int fd, ok;

	/* A fresh file, never through a symbolic link: replacing what is
	 * there (unlink removes a link itself, not its target) gives the
	 * new file our mode, not an old file's. */
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(tls_errbuf, sizeof(tls_errbuf), "cannot replace %s: %m", path);
		*error_r = tls_errbuf;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(tls_errbuf, sizeof(tls_errbuf), "cannot create %s: %m", path);
		*error_r = tls_errbuf;
		return -1;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		*error_r = "fdopen failed";
		return -1;
	}
	if (key != NULL)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		*error_r = tls_error("cannot write", path);
		return -1;
	}
	return 0;
}

int
tls_selfsigned_write(const char *hostname, const char *cert_path,
    const char *key_path, const char **error_r)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	char san[300];
	int ret = -1;

	if (key == NULL || x == NULL) {
		*error_r = tls_error("cannot make a key", NULL);
		goto out;
	}
	if (snprintf(san, sizeof(san), "DNS:%s", hostname) >= (int)sizeof(san)) {
		*error_r = "host name too long";
		goto out;
	}
	X509_set_version(x, 2);
	{
		unsigned char serial[16];
		BIGNUM *bn;

		if (RAND_bytes(serial, sizeof(serial)) != 1) {
			*error_r = "no randomness";
			goto out;
		}
		serial[0] &= 0x7f;
		bn = BN_bin2bn(serial, sizeof(serial), NULL);
		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(x, ext, -1)) {
		*error_r = tls_error("cannot add subjectAltName", NULL);
		goto out;
	}
	if (!X509_sign(x, key, EVP_sha256())) {
		*error_r = tls_error("cannot sign certificate", NULL);
		goto out;
	}
	if (tls_write_pem(key_path, 0600, key, NULL, error_r) < 0 ||
	    tls_write_pem(cert_path, 0644, NULL, x, error_r) < 0)
		goto out;
	ret = 0;
out:
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

int
tls_describe(SSL *ssl, char *dst, size_t dstlen)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int alg = 0, bits = c != NULL ? SSL_CIPHER_get_bits(c, &alg) : 0;
	int n = snprintf(dst, dstlen, "version=%s cipher=%s bits=%d/%d",
	    SSL_get_version(ssl), c != NULL ? SSL_CIPHER_get_name(c) : "none",
	    bits, alg);

	return n < 0 || (size_t)n >= dstlen ? -1 : 0;
}
