/*
 * tls.h - OpenSSL contexts for the server side, and the self-signed
 * certificate that `correio init` makes.
 *
 * SECURITY: TLS 1.2 or newer only, no renegotiation, no compression. The
 * private key is read before privileges are dropped.
 */
#ifndef CORE_TLS_H
#define CORE_TLS_H

#include <openssl/ssl.h>

/*
 * Makes a server context from a PEM certificate chain and a PEM private
 * key. Returns NULL with *error_r set (valid until the next call).
 */
SSL_CTX *
tls_server_ctx_new(const char *cert_path, const char *key_path,
    const char **error_r);

/*
 * Writes a new self-signed certificate for hostname (ECDSA P-256, with the
 * name as CN and subjectAltName, valid for ten years) and its key (mode
 * 0600). Returns 0 or -1.
 */
int
tls_selfsigned_write(const char *hostname, const char *cert_path,
    const char *key_path, const char **error_r);

/* Describes a session for a Received: header, e.g.
 * "version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256". */
int
tls_describe(SSL *ssl, char *dst, size_t dstlen);

#endif
