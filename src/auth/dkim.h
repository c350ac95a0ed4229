/*
 * dkim.h - DomainKeys Identified Mail: verifying the signatures of a
 * message, and signing the mail of hosted domains.
 *
 * RFC 6376 (DKIM), RFC 8463 (ed25519-sha256), RFC 8301 (rsa-sha1 and RSA
 * keys under 1024 bits are not accepted), RFC 8601 2.7.1 (result names).
 *
 * Verifying: dkim_verify_start() hashes the message at once (it need not
 * be kept afterwards), asks for the keys of its signatures (TXT records of
 * SELECTOR._domainkey.DOMAIN) through the project's resolver, and calls
 * back once, from the loop, with one result per signature. Nothing blocks
 * the loop but the hashing itself (linear in the message size).
 *
 * Signing: the private keys live in the data directory, as
 * dkim/DOMAIN/SELECTOR.pem (PKCS#8 PEM, mode 0600, owned by the server's
 * user), one key per selector, RSA or Ed25519. dkim_keys_load() reads them
 * all (at `serve` start); dkim_sign() makes the DKIM-Signature fields for
 * a message whose From: domain has keys: relaxed/relaxed, one signature
 * per key (an RSA and an Ed25519 key give dual signing), t= set, no l=
 * and no x=.
 *
 * SECURITY: verified messages and key records are hostile. Every parser
 * has limits (below) and reports what it refused; keys are bounded in size
 * (RSA 1024 to 8192 bits), at most DKIM_SIGS_MAX signatures of a message
 * are verified (the others are counted, not verified), and the signatures
 * are checked with OpenSSL only after all the syntax checks.
 */
#ifndef AUTH_DKIM_H
#define AUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dns/dns.h"

struct buf;
struct event_base;
struct pool;

/* Signatures of one message that are verified; the rest are ignored (and
 * counted: struct dkim_verify_result n_ignored). */
#define DKIM_SIGS_MAX 10
/* Header fields of a verified message, at most (RFC 5322 sets no limit;
 * more than this is not a real message). */
#define DKIM_FIELDS_MAX 1000
/* A DKIM-Signature field (name, value, folding) or a key record. */
#define DKIM_TAGLIST_MAX 8192
/* Tags of one tag list (RFC 6376 3.2); a signature has 13 kinds. */
#define DKIM_TAGS_MAX 32
/* Length of a tag name. */
#define DKIM_TAG_NAME_MAX 32
/* Names in h=. */
#define DKIM_H_MAX 64
/* RSA key sizes accepted: RFC 8301 3.2 (verifiers MUST refuse < 1024)
 * and a bound on the cost of a hostile key. */
#define DKIM_RSA_BITS_MIN 1024
#define DKIM_RSA_BITS_MAX 8192
/* A timestamp (t=) this far in the future is still accepted: clocks
 * differ (RFC 6376 3.5 t=). */
#define DKIM_CLOCK_SKEW 300
/* Keys of one domain used for signing, at most. */
#define DKIM_SIGN_KEYS_MAX 4

/* RFC 8601 2.7.1 results, per signature. */
enum dkim_status {
	DKIM_PASS,
	DKIM_FAIL,		/* hash or signature wrong, key too small,
				 * rsa-sha1, expired */
	DKIM_NEUTRAL,		/* not used by the verifier so far */
	DKIM_TEMPERROR,		/* the key lookup failed for now */
	DKIM_PERMERROR,		/* malformed signature or key, no key,
				 * revoked key */
	DKIM_POLICY,		/* acceptable syntax, refused by local policy
				 * (timestamp in the future) */
};

/* "pass", "fail", "neutral", "temperror", "permerror", "policy". */
const char *
dkim_status_name(enum dkim_status status);

/* The outcome of one signature. Strings may be NULL when the signature
 * was too malformed to have them; they are escaped for logs already
 * (printable ASCII). */
struct dkim_sig_result {
	enum dkim_status status;
	const char *reason;	/* "signature verified", "body hash
				 * mismatch", "key revoked", "no key", ... */
	const char *domain;	/* d= */
	const char *selector;	/* s= */
	const char *algorithm;	/* a= */
	const char *identity;	/* i=, or "@" d= by default */
	const char *b;		/* the first 12 characters of b=, to tell
				 * signatures apart (RFC 6008) */
	unsigned key_bits;	/* of the key, when one was loaded */
	bool testing;		/* the key record says t=y (RFC 6376 3.6.1) */
	bool partial_body;	/* l= signed only part of the body: content
				 * followed that no signature covers */
};

struct dkim_verify_result {
	size_t n_sigs;			/* signatures verified */
	struct dkim_sig_result *sigs;	/* in the order of the header */
	size_t n_ignored;		/* DKIM-Signature fields past
					 * DKIM_SIGS_MAX, not verified */
	struct pool *pool;		/* holds everything above */
};

/* Frees a result; sets *resultp to NULL, does nothing if NULL. */
void
dkim_verify_result_free(struct dkim_verify_result **resultp);

/*
 * Where keys come from: a TXT lookup with the semantics of dns_query()
 * (the callback is called once, later, from the loop, unless cancelled).
 * The verifier uses the resolver (dkim_verifier_new); unit tests may plug
 * their own.
 */
struct dkim_keysource {
	void *(*lookup)(void *ctx, const char *name, dns_query_callback *cb,
	    void *cb_ctx);
	void (*cancel)(void *ctx, void *handle);
	void *ctx;
};

struct dkim_verifier;
struct dkim_verify;

/* Receives the result, which the callback owns (dkim_verify_result_free).
 * The handle of the verification is gone when it is called. */
typedef void dkim_verify_callback(void *ctx, struct dkim_verify_result *result);

/* A verifier that asks dns for the keys. dns must outlive it. */
struct dkim_verifier *
dkim_verifier_new(struct event_base *base, struct dns *dns);

/* A verifier with another key source (*ks is copied). */
struct dkim_verifier *
dkim_verifier_new_source(struct event_base *base,
    const struct dkim_keysource *ks);

/* Frees the verifier, which has no verification in progress left; sets
 * *verifierp to NULL. */
void
dkim_verifier_free(struct dkim_verifier **verifierp);

/*
 * Verifies every DKIM-Signature of the message msg (len bytes, CRLF line
 * ends, starting with its header: a caller that holds trace fields of its
 * own in front, like smtp-server's Return-Path and Received, passes the
 * message after them). The message is read during the call only: it may
 * be freed when this returns. now is the time against which t= and x=
 * are checked.
 *
 * cb is called exactly once, from the loop and never from inside this
 * function, unless the verification is cancelled first; a message without
 * signatures gets a result with n_sigs == 0 ("none"). Returns the handle.
 */
struct dkim_verify *
dkim_verify_start(struct dkim_verifier *verifier, const char *msg, size_t len,
    time_t now, dkim_verify_callback *cb, void *ctx);

/* Cancels a verification (the session closed): its callback is not
 * called. Sets *verifyp to NULL; does nothing if it is NULL. */
void
dkim_verify_cancel(struct dkim_verify **verifyp);

/* --- signing --- */

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_RSA_SHA1,	/* recognized, never accepted (RFC 8301) */
};

/* "rsa-sha256", "ed25519-sha256", "rsa-sha1". */
const char *
dkim_alg_name(enum dkim_alg alg);

/* The private keys of the data directory, by domain. */
struct dkim_keys;

/* One key, as listed by dkim_keys_foreach(). */
struct dkim_key_info {
	const char *domain;
	const char *selector;
	enum dkim_alg alg;
	unsigned bits;
	const char *record;	/* the TXT record to publish: "v=DKIM1; ..." */
};

/*
 * Loads dkim/DOMAIN/SELECTOR.pem under dir (the data directory). Keys
 * that cannot be used (unreadable, another type, RSA outside 1024..8192
 * bits, a bad name) are skipped with a warning in the log; a missing dkim
 * directory gives an empty set. Returns the set, or NULL with *error_r
 * set (static text) if dir/dkim cannot be read.
 */
struct dkim_keys *
dkim_keys_load(const char *dir, const char **error_r);

/* Frees the keys (wiping them); sets *keysp to NULL. */
void
dkim_keys_free(struct dkim_keys **keysp);

/* Keys loaded in all. */
size_t
dkim_keys_count(const struct dkim_keys *keys);

/* Calls cb for each key of domain (of every domain if NULL), sorted by
 * domain, then algorithm, then selector. */
void
dkim_keys_foreach(const struct dkim_keys *keys, const char *domain,
    void (*cb)(void *ctx, const struct dkim_key_info *info), void *ctx);

/*
 * Makes a new key (RSA of 2048 bits or Ed25519) and writes it as
 * dir/dkim/DOMAIN/SELECTOR.pem, mode 0600, creating the directories (mode
 * 0700). domain must be normalized (lower case A-labels); selector must be
 * a valid selector (dkim_selector_valid). Refuses to replace an existing
 * key. Returns 0 or -1 with *error_r set to a message valid until the next
 * call.
 */
int
dkim_key_generate(const char *dir, const char *domain, const char *selector,
    enum dkim_alg alg, const char **error_r);

/* True if s is a selector: dot-separated labels of letters, digits and
 * '-' (RFC 6376 3.1), at most DNS_LABEL_MAX characters in all. */
bool
dkim_selector_valid(const char *s);

/*
 * Signs msg (len bytes, CRLF line ends, starting with its header) with
 * every key of the domain of its From: address, if it has keys: appends
 * one "DKIM-Signature: ...\r\n" field per key to out, to be put on top of
 * the message. The signed fields are those of RFC 6376 5.4.1 that are
 * present (and Message-ID, MIME-Version, Content-Type and
 * Content-Transfer-Encoding), each as many times as it occurs, and From:
 * once more (oversigned, so that no From: can be added). Returns the
 * number of signatures made (0: no From: domain with keys), or -1 with
 * *error_r set (out may have grown past its max).
 */
int
dkim_sign(const struct dkim_keys *keys, const char *msg, size_t len,
    time_t now, struct buf *out, const char **error_r);

#endif
