/*
 * dmarc.h - DMARC (RFC 7489): the policy of the RFC5322.From domain,
 * identifier alignment of the SPF and DKIM results, and the disposition.
 *
 * The check looks up "_dmarc.<From domain>" (TXT), and when that has no
 * record, "_dmarc.<organizational domain>" (RFC 7489 6.6.3), asynchronously
 * through dns.h. The organizational domain comes from the Public Suffix
 * List (libpsl and Debian's publicsuffix package, whichever is newer).
 *
 * DMARC needs the SPF and DKIM results first; it does not compute them.
 * The caller passes the domain SPF authenticated (only when SPF passed)
 * and the d= domains of the signatures that passed.
 *
 * SECURITY: records come from DNS and the From domain from the message;
 * both are untrusted. Records longer than DMARC_RECORD_MAX, or with more
 * than DMARC_TAGS_MAX tags, are not policy records; every string kept is
 * bounded.
 */
#ifndef AUTH_DMARC_H
#define AUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>

struct dns;
struct event_base;

/* A DMARC record is short; anything near this is not one. */
#define DMARC_RECORD_MAX 2048
#define DMARC_TAGS_MAX 32
/* Reporting addresses kept of rua= (RFC 7489 6.3), for aggregate
 * reports; the rest are dropped. */
#define DMARC_RUA_MAX 512

enum dmarc_policy {
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

/* RFC 8601 2.7.1 result names. */
enum dmarc_status {
	DMARC_NONE,		/* no policy published */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,	/* the record could not be read now */
	DMARC_PERMERROR,	/* the message has no usable From domain */
};

struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;	/* p when the record has no sp= */
	bool has_sp;
	unsigned pct;		/* 0..100, default 100 */
	bool adkim_strict;	/* adkim=s */
	bool aspf_strict;	/* aspf=s */
	char rua[DMARC_RUA_MAX + 1];	/* as published, may be empty */
};

/*
 * Parses a TXT record. Returns 1 with *rec filled if it is a DMARC
 * record (it starts with "v=DMARC1"), 0 if it is not one (other TXT
 * records at the name are ignored, RFC 7489 6.6.3), -1 with *error_r
 * set if it starts like one but is malformed in a way that means no
 * policy (a missing or bad p= with no valid rua=, RFC 7489 6.6.3 step 6).
 * A bad p= with a rua= is taken as p=none, as that step says.
 */
int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec,
    const char **error_r);

/*
 * Writes the organizational domain of domain (lower-case ASCII, no
 * trailing dot) into out: the public suffix and one more label. A domain
 * that is itself a public suffix, or that libpsl does not take, is its
 * own organizational domain. Returns 0, or -1 if it does not fit.
 */
int
dmarc_org_domain(const char *domain, char *out, size_t outlen);

/* Relaxed alignment: same organizational domain; strict: equal names
 * (RFC 7489 3.1). Both compared without case. */
bool
dmarc_aligned(const char *a, const char *b, bool strict);

struct dmarc_input {
	const char *from_domain;	/* of RFC5322.From; NULL if none */
	const char *spf_domain;		/* SPF passed for it, else NULL */
	const char *const *dkim_domains;	/* d= of the passing signatures */
	size_t n_dkim;
};

struct dmarc_result {
	enum dmarc_status status;
	enum dmarc_policy policy;	/* published for this domain (p/sp) */
	enum dmarc_policy disposition;	/* to apply, after pct */
	bool spf_aligned;
	bool dkim_aligned;
	bool sampled_out;	/* pct made the disposition milder */
	char from_domain[256];	/* header.from, normalized */
	char policy_domain[256];	/* where the record was found */
	struct dmarc_record record;	/* when status is PASS or FAIL */
	char reason[160];	/* for logs and `correio auth check` */
};

/*
 * The evaluation of RFC 7489 6.6.2 once a record is known: alignment,
 * pass or fail, and the disposition after pct (random draw, so pct=0
 * and pct=100 are the only deterministic ones). at_org tells whether
 * rec was found at the organizational domain rather than at the From
 * domain itself (then sp= applies, RFC 7489 6.3). r->from_domain and
 * r->policy_domain must be set.
 */
void
dmarc_evaluate(const struct dmarc_record *rec, bool at_org,
    const struct dmarc_input *in, struct dmarc_result *r);

/* "none", "pass", "fail", "temperror", "permerror"; the policy names
 * "none", "quarantine", "reject". */
const char *
dmarc_status_name(enum dmarc_status status);
const char *
dmarc_policy_name(enum dmarc_policy policy);

struct dmarc_check;

/* Receives the result, valid only during the call. */
typedef void dmarc_callback(void *ctx, const struct dmarc_result *result);

/*
 * Starts the check of in (copied: it need not outlive the call). cb is
 * called exactly once, from the loop, never from inside this function,
 * unless the check is cancelled first. Returns the check (never NULL).
 */
struct dmarc_check *
dmarc_check_start(struct event_base *base, struct dns *dns,
    const struct dmarc_input *in, dmarc_callback *cb, void *ctx);

/* Cancels a check whose callback has not run; sets *checkp to NULL. */
void
dmarc_check_cancel(struct dmarc_check **checkp);

#endif
