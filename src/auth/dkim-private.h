/*
 * dkim-private.h - the pieces of DKIM shared by the verifier and the
 * signer, and tested on their own: the tag-list parser, base64,
 * canonicalization, the header field splitter, the signature and key
 * record parsers. Not for use outside src/auth/dkim-*.c and the tests.
 *
 * SECURITY: everything here parses peer data; every function bounds what
 * it reads by an explicit length (NUL bytes are data, not ends).
 */
#ifndef AUTH_DKIM_PRIVATE_H
#define AUTH_DKIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "auth/dkim.h"

/* --- tag lists (RFC 6376 3.2) --- */

struct dkim_tag {
	char name[DKIM_TAG_NAME_MAX + 1];
	const char *value;	/* into the input; leading and trailing
				 * white space removed, inner kept */
	size_t len;
};

struct dkim_taglist {
	struct dkim_tag tags[DKIM_TAGS_MAX];
	size_t n;
};

/*
 * Parses the tag list s (len bytes; folding white space allowed where RFC
 * 6376 3.2 allows FWS) into tl, whose values point into s. Refuses input
 * longer than DKIM_TAGLIST_MAX, more than DKIM_TAGS_MAX tags, a tag name
 * longer than DKIM_TAG_NAME_MAX or not ALPHA *(ALPHA / DIGIT / "_"), a
 * value character outside VALCHAR (NUL and other controls included), a
 * missing '=', and a duplicate tag (3.2: "MUST be interpreted as a
 * syntax error"). Returns 0, or -1 with *error_r set to a static message.
 */
int
dkim_taglist_parse(const char *s, size_t len, struct dkim_taglist *tl,
    const char **error_r);

/* The tag called name (case-sensitive, 3.2), or NULL. */
const struct dkim_tag *
dkim_taglist_get(const struct dkim_taglist *tl, const char *name);

/* --- base64 (RFC 2045 6.8 alphabet, white space ignored: RFC 6376 3.5
 * b=, bh=, 3.6.1 p=) --- */

/*
 * Decodes s (len bytes) into out (outsize bytes at most); white space
 * (SP, HTAB, CR, LF) is skipped anywhere. Padding is required to a
 * multiple of 4 and allowed only at the end. Returns the decoded length,
 * or -1 on a bad character, bad padding, or output over outsize.
 */
ssize_t
dkim_base64_decode(const char *s, size_t len, unsigned char *out,
    size_t outsize);

/* Encodes n bytes into out (NUL-terminated; outsize at least
 * 4 * ((n + 2) / 3) + 1). Returns the length, or -1 if out is too small. */
ssize_t
dkim_base64_encode(const unsigned char *in, size_t n, char *out,
    size_t outsize);

/* --- canonicalization (RFC 6376 3.4) --- */

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* Receives canonical output, in pieces. */
typedef void dkim_canon_output(void *ctx, const char *data, size_t len);

/*
 * Canonicalizes one header field (name, colon, value, folding, with or
 * without its final CRLF: field, len) and passes the result to out, with
 * a CRLF at the end if crlf is set (the DKIM-Signature field itself is
 * hashed without: 3.7).
 */
void
dkim_canon_header(enum dkim_canon canon, const char *field, size_t len,
    bool crlf, dkim_canon_output *out, void *ctx);

/*
 * Canonicalizes a body (len bytes, the part after the empty line) and
 * passes the result to out. Returns the length of the canonical body.
 */
uint64_t
dkim_canon_body(enum dkim_canon canon, const char *body, size_t len,
    dkim_canon_output *out, void *ctx);

/* --- the header of a message --- */

struct dkim_field {
	const char *start;	/* the name */
	size_t len;		/* up to and including the final CRLF */
	size_t name_len;	/* 0 if the line has no colon */
};

/*
 * Splits the header of msg into at most max fields (written to fields),
 * and finds the body: *body_off_r is where it starts (len if there is no
 * empty line). Returns the number of fields, or -1 if there are more than
 * max.
 */
ssize_t
dkim_header_split(const char *msg, size_t len, struct dkim_field *fields,
    size_t max, size_t *body_off_r);

/* True if the field's name is name (ASCII, case-insensitive). */
bool
dkim_field_is(const struct dkim_field *f, const char *name, size_t name_len);

/* --- signatures (RFC 6376 3.5) --- */

struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char domain[DNS_NAME_MAX + 1];		/* d=, lower case */
	char selector[DNS_NAME_MAX + 1];	/* s=, lower case */
	char identity[DNS_NAME_MAX + 66];	/* i=, or "@" d= */
	const char *alg_text;			/* a= as given (in the field) */
	size_t alg_len;
	struct {
		const char *name;
		size_t len;
	} h[DKIM_H_MAX];
	size_t n_h;
	unsigned char b[DKIM_RSA_BITS_MAX / 8];
	size_t b_len;
	char b_text[13];			/* first 12 characters of b= */
	unsigned char bh[EVP_MAX_MD_SIZE];
	size_t bh_len;
	bool has_l;
	uint64_t l;
	bool has_t, has_x;
	uint64_t t, x;
};

/*
 * Parses the value of a DKIM-Signature field (after the colon; value, len
 * bytes) into sig. Checks every rule of 3.5 and 6.1.1 that needs no key
 * and no clock: v=1; the required tags; a= known; c= known; h= listing
 * From; i= in d= (or a subdomain); q= dns/txt; b= and bh= valid base64
 * of sensible sizes; l=, t= and x= numbers (x= after t=). Returns 0, or -1
 * with *error_r set to a static message, and sig filled as far as it got
 * (domain, selector, alg_text may be set for the report).
 */
int
dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig,
    const char **error_r);

/* --- key records (RFC 6376 3.6.1, RFC 8463 4) --- */

struct dkim_keyrec {
	bool rsa;		/* k=rsa (the default), else k=ed25519 */
	bool sha256_ok;		/* h= absent or lists sha256 */
	bool revoked;		/* p= empty */
	bool testing;		/* t=y */
	bool strict;		/* t=s: i= must be in d= itself */
	unsigned char p[2048];	/* p= decoded */
	size_t p_len;
};

/*
 * Parses a key record (TXT data, len bytes). Returns 0, or -1 with
 * *error_r set to a static message (a record that is not DKIM1, unknown
 * k=, a service other than email, bad base64 or a p= too large).
 */
int
dkim_keyrec_parse(const char *s, size_t len, struct dkim_keyrec *rec,
    const char **error_r);

/*
 * Makes the public key of a parsed record (not revoked): RSA from a
 * SubjectPublicKeyInfo (or a bare RSAPublicKey, which some signers
 * publish), Ed25519 from the raw 32 bytes. Checks the size (RSA
 * DKIM_RSA_BITS_MIN..MAX; a smaller key is reported with *too_small_r).
 * Returns the key (EVP_PKEY_free) or NULL with *error_r set.
 */
EVP_PKEY *
dkim_keyrec_pkey(const struct dkim_keyrec *rec, bool *too_small_r,
    unsigned *bits_r, const char **error_r);

/* --- hashing and signatures --- */

/*
 * Hashes the header data of a signature (3.7): the fields named by h=
 * (the last unused instance of each, bottom up; a name with no instance
 * left adds nothing), then the signature field sigfield (sigfield_len
 * bytes) with the value of its b= tag removed, without its final CRLF.
 * Writes the digest to md (EVP_MAX_MD_SIZE bytes) and returns its
 * length, or -1.
 */
int
dkim_hash_header(const EVP_MD *mdtype, enum dkim_canon canon,
    const struct dkim_field *fields, size_t n_fields,
    const struct dkim_sig *sig, const char *sigfield, size_t sigfield_len,
    unsigned char *md);

/* Signs, or verifies (returns 1 good, 0 bad, -1 error), a header hash with
 * key as alg: RSASSA-PKCS1-v1_5 for RSA, PureEd25519 of the SHA-256
 * hash for Ed25519 (RFC 8463 3). */
int
dkim_pkey_verify(EVP_PKEY *key, enum dkim_alg alg, const unsigned char *md,
    size_t md_len, const unsigned char *sig, size_t sig_len);
int
dkim_pkey_sign(EVP_PKEY *key, enum dkim_alg alg, const unsigned char *md,
    size_t md_len, unsigned char *sig, size_t *sig_len);

#endif
