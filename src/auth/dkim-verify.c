/*
 * dkim-verify.c - verifying the DKIM signatures of a message (RFC 6376 6,
 * RFC 8463, RFC 8301), with the keys from DNS (3.6.2).
 *
 * dkim_verify_start() does all the hashing at once: the header hash of
 * every signature, and the body hashes in one pass per canonicalization
 * that feeds every signature using it (each with its own l= budget). Then
 * it asks for the keys, one TXT lookup per signature, and the last answer
 * completes the verification. The message is not kept.
 *
 * Results follow RFC 8601 2.7.1: fail when the message does not match (body
 * hash, signature), when the key is too small or the algorithm is rsa-sha1
 * (RFC 8301), or the signature has expired; permerror when the signature
 * or the key record is malformed, there is no key, or the key is revoked;
 * temperror when the lookup failed for now; policy for a timestamp in the
 * future.
 *
 * SECURITY: the message and the DNS answers are hostile. At most
 * DKIM_SIGS_MAX signatures are verified (the others are only counted), so
 * a message costs at most that many lookups, header hashes and public key
 * operations, and two passes over its body. Text from the message that
 * goes into a result is escaped.
 */
#include "auth/dkim-private.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"

struct dkim_verifier {
	struct event_base *base;
	struct dkim_keysource ks;
	size_t active;			/* verifications in progress */
};

struct dkim_verify;

/* One signature being verified. */
struct dkim_vsig {
	struct dkim_verify *v;
	struct dkim_sig_result *res;
	struct dkim_sig sig;
	bool decided;			/* res->status is final */
	unsigned char md[EVP_MAX_MD_SIZE];	/* the header hash */
	size_t md_len;
	EVP_MD_CTX *body;		/* the body hash, while hashing */
	uint64_t body_left;		/* l=: bytes still to hash */
	void *lookup;			/* the key lookup in progress */
};

struct dkim_verify {
	struct dkim_verifier *verifier;
	struct dkim_verify_result *result;
	struct dkim_vsig *sigs;
	size_t n_sigs;
	size_t pending;			/* lookups not answered */
	struct event *later;		/* completion without any lookup */
	dkim_verify_callback *cb;
	void *ctx;
};

const char *
dkim_status_name(enum dkim_status status)
{
	switch (status) {
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_NEUTRAL:
		return "neutral";
	case DKIM_TEMPERROR:
		return "temperror";
	case DKIM_PERMERROR:
		return "permerror";
	case DKIM_POLICY:
		return "policy";
	}
	return "permerror";
}

const char *
dkim_alg_name(enum dkim_alg alg)
{
	switch (alg) {
	case DKIM_ALG_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ALG_ED25519_SHA256:
		return "ed25519-sha256";
	case DKIM_ALG_RSA_SHA1:
		return "rsa-sha1";
	}
	return "?";
}

void
dkim_verify_result_free(struct dkim_verify_result **resultp)
{
	struct pool *pool;

	if (*resultp == NULL)
		return;
	pool = (*resultp)->pool;
	pool_free(&pool);
	*resultp = NULL;
}

/* --- the key source of the resolver --- */

static void *
dkim_dns_lookup(void *ctx, const char *name, dns_query_callback *cb,
    void *cb_ctx)
{
	return dns_query(ctx, name, DNS_TYPE_TXT, cb, cb_ctx);
}

static void
dkim_dns_cancel(void *ctx, void *handle)
{
	struct dns_query *q = handle;

	dns_query_cancel(&q);
}

struct dkim_verifier *
dkim_verifier_new(struct event_base *base, struct dns *dns)
{
	struct dkim_keysource ks = { dkim_dns_lookup, dkim_dns_cancel, dns };

	return dkim_verifier_new_source(base, &ks);
}

struct dkim_verifier *
dkim_verifier_new_source(struct event_base *base,
    const struct dkim_keysource *ks)
{
	struct dkim_verifier *v = xcalloc(1, sizeof(*v));

	v->base = base;
	v->ks = *ks;
	return v;
}

void
dkim_verifier_free(struct dkim_verifier **verifierp)
{
	if (*verifierp == NULL)
		return;
	/* a verification left would call back into freed memory */
	assert((*verifierp)->active == 0);
	free(*verifierp);
	*verifierp = NULL;
}

/* --- results --- */

static void
dkim_decide(struct dkim_vsig *vs, enum dkim_status status, const char *reason)
{
	vs->res->status = status;
	vs->res->reason = reason;
	vs->decided = true;
}

/* Peer text for a result: printable, bounded. */
static const char *
dkim_escape(struct pool *pool, const char *s, size_t len)
{
	char tmp[LOG_ESCAPE_MAX];

	log_escape(tmp, sizeof(tmp), s, len);
	return pool_strdup(pool, tmp);
}

static void
dkim_verify_free(struct dkim_verify *v)
{
	for (size_t i = 0; i < v->n_sigs; i++) {
		struct dkim_vsig *vs = &v->sigs[i];

		if (vs->lookup != NULL)
			v->verifier->ks.cancel(v->verifier->ks.ctx, vs->lookup);
		EVP_MD_CTX_free(vs->body);
		OPENSSL_cleanse(&vs->sig, sizeof(vs->sig));
	}
	free(v->sigs);
	if (v->later != NULL)
		event_free(v->later);
	v->verifier->active--;
	free(v);
}

static void
dkim_verify_finish(struct dkim_verify *v)
{
	struct dkim_verify_result *result = v->result;
	dkim_verify_callback *cb = v->cb;
	void *ctx = v->ctx;

	v->result = NULL;
	/* the handle is gone before the callback runs */
	dkim_verify_free(v);
	cb(ctx, result);
}

static void
dkim_verify_later_cb(evutil_socket_t fd, short what, void *arg)
{
	dkim_verify_finish(arg);
}

void
dkim_verify_cancel(struct dkim_verify **verifyp)
{
	struct dkim_verify *v = *verifyp;

	if (v == NULL)
		return;
	*verifyp = NULL;
	dkim_verify_result_free(&v->result);
	dkim_verify_free(v);
}

/* --- the key --- */

/* Checks the key record against the signature and verifies it. */
static void
dkim_verify_with_record(struct dkim_vsig *vs, const struct dkim_keyrec *rec)
{
	const struct dkim_sig *sig = &vs->sig;
	struct pool *pool = vs->v->result->pool;
	const char *error, *at;
	EVP_PKEY *key;
	bool too_small;
	unsigned bits;
	int r;

	vs->res->testing = rec->testing;
	if (rec->revoked) {
		dkim_decide(vs, DKIM_PERMERROR, "key revoked");
		return;
	}
	if (!rec->sha256_ok) {
		dkim_decide(vs, DKIM_PERMERROR, "key h= does not allow sha256");
		return;
	}
	if (rec->rsa != (sig->alg == DKIM_ALG_RSA_SHA256)) {
		dkim_decide(vs, DKIM_PERMERROR, "key type (k=) does not match a=");
		return;
	}
	/* t=s: i= must be in d= itself, not a subdomain (3.6.1) */
	at = strrchr(sig->identity, '@');
	if (rec->strict && at != NULL && strcasecmp(at + 1, sig->domain) != 0) {
		dkim_decide(vs, DKIM_PERMERROR,
		    "i= is a subdomain of d= but the key says t=s");
		return;
	}
	key = dkim_keyrec_pkey(rec, &too_small, &bits, &error);
	vs->res->key_bits = bits;
	if (key == NULL) {
		dkim_decide(vs, too_small ? DKIM_FAIL : DKIM_PERMERROR, error);
		return;
	}
	r = dkim_pkey_verify(key, sig->alg, vs->md, vs->md_len, sig->b,
	    sig->b_len);
	EVP_PKEY_free(key);
	if (r != 1)
		dkim_decide(vs, DKIM_FAIL, "signature verification failed");
	else if (vs->res->partial_body)
		dkim_decide(vs, DKIM_PASS, pool_strdup(pool, "signature "
		    "verified; l= leaves part of the body unsigned"));
	else
		dkim_decide(vs, DKIM_PASS, "signature verified");
}

static void
dkim_key_cb(void *ctx, struct dns_result *r)
{
	struct dkim_vsig *vs = ctx;
	struct dkim_verify *v = vs->v;
	struct pool *pool = v->result->pool;
	struct dkim_keyrec *rec;
	const char *error = NULL;

	vs->lookup = NULL;
	if (r->status == DNS_NXDOMAIN || r->status == DNS_NODATA) {
		dkim_decide(vs, DKIM_PERMERROR, "no key");
	} else if (r->status != DNS_OK) {
		dkim_decide(vs, dns_status_temporary(r->status) ?
		    DKIM_TEMPERROR : DKIM_PERMERROR, pool_printf(pool,
		    "key lookup failed: %s", dns_status_name(r->status)));
	} else {
		/* several records: the first that parses (3.6.2.2) */
		rec = xmalloc(sizeof(*rec));
		for (size_t i = 0; i < r->count; i++) {
			const char *e;

			if (dkim_keyrec_parse(r->rr.txt[i].data,
			    r->rr.txt[i].len, rec, &e) == 0) {
				error = NULL;
				dkim_verify_with_record(vs, rec);
				break;
			}
			if (error == NULL)
				error = e;
		}
		if (error != NULL)
			dkim_decide(vs, DKIM_PERMERROR, pool_printf(pool,
			    "bad key record: %s", error));
		OPENSSL_cleanse(rec, sizeof(*rec));
		free(rec);
	}
	dns_result_free(&r);
	assert(v->pending > 0);
	if (--v->pending == 0)
		dkim_verify_finish(v);
}

/* --- hashing --- */

struct dkim_body_fanout {
	struct dkim_vsig *sigs;
	size_t n;
	enum dkim_canon canon;
};

static void
dkim_body_feed(void *ctx, const char *data, size_t len)
{
	struct dkim_body_fanout *f = ctx;

	for (size_t i = 0; i < f->n; i++) {
		struct dkim_vsig *vs = &f->sigs[i];
		size_t n = len;

		if (vs->body == NULL || vs->sig.bcanon != f->canon)
			continue;
		if (vs->sig.has_l && n > vs->body_left)
			n = (size_t)vs->body_left;
		if (n == 0)
			continue;
		(void)EVP_DigestUpdate(vs->body, data, n);
		if (vs->sig.has_l)
			vs->body_left -= n;
	}
}

/* The body hashes of every signature not decided yet, one pass per
 * canonicalization used. */
static void
dkim_verify_bodies(struct dkim_verify *v, const char *body, size_t len)
{
	static const enum dkim_canon canons[] = {
		DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED
	};
	struct dkim_body_fanout f = { v->sigs, v->n_sigs, 0 };

	for (size_t c = 0; c < 2; c++) {
		bool any = false;
		uint64_t total;

		for (size_t i = 0; i < f.n; i++) {
			struct dkim_vsig *vs = &v->sigs[i];

			if (vs->decided || vs->sig.bcanon != canons[c])
				continue;
			vs->body = EVP_MD_CTX_new();
			if (vs->body == NULL ||
			    EVP_DigestInit_ex(vs->body, EVP_sha256(), NULL) != 1) {
				dkim_decide(vs, DKIM_TEMPERROR, "internal error");
				continue;
			}
			vs->body_left = vs->sig.l;
			any = true;
		}
		if (!any)
			continue;
		f.canon = canons[c];
		total = dkim_canon_body(canons[c], body, len, dkim_body_feed, &f);
		for (size_t i = 0; i < f.n; i++) {
			struct dkim_vsig *vs = &v->sigs[i];
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned md_len = 0;

			if (vs->body == NULL)
				continue;
			if (EVP_DigestFinal_ex(vs->body, md, &md_len) != 1)
				dkim_decide(vs, DKIM_TEMPERROR, "internal error");
			else if (vs->sig.has_l && vs->sig.l > total)
				dkim_decide(vs, DKIM_PERMERROR,
				    "l= is longer than the body");
			else if (md_len != vs->sig.bh_len ||
			    CRYPTO_memcmp(md, vs->sig.bh, md_len) != 0)
				dkim_decide(vs, DKIM_FAIL, "body hash mismatch");
			else if (vs->sig.has_l && vs->sig.l < total)
				vs->res->partial_body = true;
			EVP_MD_CTX_free(vs->body);
			vs->body = NULL;
		}
	}
}

/* Parses one DKIM-Signature field and does the checks that need no
 * key; the header hash too. */
static void
dkim_verify_parse(struct dkim_verify *v, struct dkim_vsig *vs,
    const struct dkim_field *fields, size_t n_fields,
    const struct dkim_field *f, time_t now)
{
	struct pool *pool = v->result->pool;
	struct dkim_sig *sig = &vs->sig;
	const char *value = f->start + f->name_len, *error;
	size_t vlen = f->len - f->name_len;
	uint64_t t_now = now > 0 ? (uint64_t)now : 0;
	int md_len;

	/* past the colon (and any WSP before it) */
	while (vlen > 0 && *value != ':') {
		value++;
		vlen--;
	}
	value++;
	vlen--;
	if (dkim_sig_parse(value, vlen, sig, &error) < 0)
		dkim_decide(vs, DKIM_PERMERROR, error);
	vs->res->domain = sig->domain[0] != '\0' ?
	    pool_strdup(pool, sig->domain) : NULL;
	vs->res->selector = sig->selector[0] != '\0' ?
	    pool_strdup(pool, sig->selector) : NULL;
	vs->res->algorithm = sig->alg_text != NULL ?
	    dkim_escape(pool, sig->alg_text, sig->alg_len) : NULL;
	vs->res->b = sig->b_text[0] != '\0' ?
	    dkim_escape(pool, sig->b_text, strlen(sig->b_text)) : NULL;
	if (vs->decided)
		return;
	vs->res->identity = dkim_escape(pool, sig->identity,
	    strlen(sig->identity));
	if (sig->alg == DKIM_ALG_RSA_SHA1) {
		dkim_decide(vs, DKIM_FAIL, "rsa-sha1 not accepted (RFC 8301)");
		return;
	}
	if (sig->has_x && sig->x < t_now) {
		dkim_decide(vs, DKIM_FAIL, "signature expired (x=)");
		return;
	}
	if (sig->has_t && sig->t > t_now + DKIM_CLOCK_SKEW) {
		dkim_decide(vs, DKIM_POLICY, "timestamp in the future (t=)");
		return;
	}
	md_len = dkim_hash_header(EVP_sha256(), sig->hcanon, fields, n_fields,
	    sig, f->start, f->len, vs->md);
	if (md_len < 0) {
		dkim_decide(vs, DKIM_TEMPERROR, "internal error");
		return;
	}
	vs->md_len = (size_t)md_len;
}

struct dkim_verify *
dkim_verify_start(struct dkim_verifier *verifier, const char *msg, size_t len,
    time_t now, dkim_verify_callback *cb, void *ctx)
{
	static const char name[] = "DKIM-Signature";
	const size_t name_len = sizeof(name) - 1;
	struct dkim_verify *v = xcalloc(1, sizeof(*v));
	struct dkim_verify_result *result;
	struct dkim_field *fields;
	struct pool *pool;
	size_t body_off = 0, n_sigs = 0;
	ssize_t n;

	v->verifier = verifier;
	v->cb = cb;
	v->ctx = ctx;
	verifier->active++;
	pool = pool_new(4096);
	result = pool_alloc(pool, sizeof(*result));
	result->pool = pool;
	v->result = result;

	fields = xmalloc(DKIM_FIELDS_MAX * sizeof(*fields));
	n = dkim_header_split(msg, len, fields, DKIM_FIELDS_MAX, &body_off);
	if (n < 0) {
		/* one result that says why nothing was verified */
		result->sigs = pool_alloc(pool, sizeof(*result->sigs));
		result->n_sigs = 1;
		result->sigs[0].status = DKIM_PERMERROR;
		result->sigs[0].reason = "too many header fields to verify";
		n = 0;
	} else {
		for (ssize_t i = 0; i < n; i++) {
			if (!dkim_field_is(&fields[i], name, name_len))
				continue;
			if (n_sigs < DKIM_SIGS_MAX)
				n_sigs++;
			else
				result->n_ignored++;
		}
		result->sigs = pool_alloc(pool, (n_sigs > 0 ? n_sigs : 1) *
		    sizeof(*result->sigs));
		result->n_sigs = n_sigs;
		v->sigs = xcalloc(n_sigs > 0 ? n_sigs : 1, sizeof(*v->sigs));
		v->n_sigs = n_sigs;
	}
	for (ssize_t i = 0, k = 0; i < n && (size_t)k < n_sigs; i++) {
		struct dkim_vsig *vs;

		if (!dkim_field_is(&fields[i], name, name_len))
			continue;
		vs = &v->sigs[k];
		vs->v = v;
		vs->res = &result->sigs[k];
		k++;
		dkim_verify_parse(v, vs, fields, (size_t)n, &fields[i], now);
	}
	free(fields);
	if (n_sigs > 0)
		dkim_verify_bodies(v, msg + body_off, len - body_off);

	/* the keys of the signatures still undecided */
	for (size_t i = 0; i < n_sigs; i++) {
		struct dkim_vsig *vs = &v->sigs[i];
		char qname[2 * DNS_NAME_MAX + 16];
		int qlen;

		if (vs->decided)
			continue;
		qlen = snprintf(qname, sizeof(qname), "%s._domainkey.%s",
		    vs->sig.selector, vs->sig.domain);
		if (qlen < 0 || (size_t)qlen > DNS_NAME_MAX) {
			dkim_decide(vs, DKIM_PERMERROR, "key name too long");
			continue;
		}
		v->pending++;
		vs->lookup = verifier->ks.lookup(verifier->ks.ctx, qname,
		    dkim_key_cb, vs);
	}
	if (v->pending == 0) {
		struct timeval tv = { 0, 0 };

		/* never call back from inside this function */
		v->later = evtimer_new(verifier->base, dkim_verify_later_cb, v);
		evtimer_add(v->later, &tv);
	}
	return v;
}
