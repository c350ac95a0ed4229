/*
 * spf-private.h - the SPF record parser and macro expander (spf-record.c),
 * shared by the evaluator (spf.c), the unit tests and the fuzz target. Not
 * for other subsystems: they use spf.h.
 *
 * SECURITY: records and macro values are hostile; see spf.h.
 */
#ifndef AUTH_SPF_PRIVATE_H
#define AUTH_SPF_PRIVATE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/spf.h"

struct buf;
struct pool;

enum spf_term_type {
	/* mechanisms (RFC 7208 5) */
	SPF_TERM_ALL,
	SPF_TERM_INCLUDE,
	SPF_TERM_A,
	SPF_TERM_MX,
	SPF_TERM_PTR,
	SPF_TERM_IP4,
	SPF_TERM_IP6,
	SPF_TERM_EXISTS,
	/* modifiers (RFC 7208 6) */
	SPF_TERM_REDIRECT,
	SPF_TERM_EXP,
	SPF_TERM_UNKNOWN,	/* an unknown modifier: checked, then ignored */
};

struct spf_term {
	enum spf_term_type type;
	/* The result when a mechanism matches: SPF_PASS ("+", the default),
	 * SPF_FAIL ("-"), SPF_SOFTFAIL ("~") or SPF_NEUTRAL ("?"). */
	enum spf_status qualifier;
	const char *text;	/* the term as written (printable ASCII) */
	/* The domain-spec (a macro-string, checked), or NULL: the current
	 * <domain>. For redirect= and exp=, always set. */
	const char *spec;
	unsigned cidr4, cidr6;	/* a, mx, ip4, ip6: prefix lengths */
	struct in_addr ip4;	/* ip4 */
	struct in6_addr ip6;	/* ip6 */
};

struct spf_record {
	struct spf_term *terms;	/* mechanisms and modifiers, in order */
	size_t n_terms;
	const struct spf_term *redirect;	/* or NULL */
	const struct spf_term *exp;		/* or NULL */
};

/*
 * Is data (len bytes) an SPF version 1 record: does it start with
 * "v=spf1" (any case, RFC 7208 4.5 and the ABNF's case-insensitive
 * strings) followed by a space or its end?
 */
bool
spf_record_is_v1(const char *data, size_t len);

/*
 * Parses a whole record (len bytes, may hold NUL bytes, starting with its
 * version) into *rec_r, allocated from pool. Every term is checked
 * (RFC 7208 4.6: an error anywhere makes the whole record a permerror),
 * domain-specs and modifier values as macro-strings, against the ABNF of
 * RFC 7208 12. Limits: SPF_RECORD_MAX bytes, SPF_TERMS_MAX terms.
 * Returns 0, or -1 with *error_r set to a message (static or from pool)
 * that quotes the faulty term, escaped and cut.
 */
int
spf_record_parse(const char *data, size_t len, struct pool *pool,
    struct spf_record *rec_r, const char **error_r);

/* Where a macro-string is used: a domain-spec or modifier value, or an
 * explanation (exp= TXT record, RFC 7208 6.2), which may hold spaces and
 * the letters c, r and t (RFC 7208 7.2). */
enum spf_macro_use {
	SPF_MACRO_DOMAIN,
	SPF_MACRO_EXPLAIN,
};

/* The values of the macro letters (RFC 7208 7.2), all NUL-terminated. */
struct spf_macro_env {
	const char *sender;	/* s */
	const char *local;	/* l */
	const char *sender_domain;	/* o */
	const char *domain;	/* d, the current <domain> */
	const char *ip;		/* i: dotted IPv4, or IPv6 nibbles */
	const char *ip_text;	/* c: IPv4 or RFC 5952 IPv6 */
	const char *ip_version;	/* v: "in-addr" or "ip6" */
	const char *helo;	/* h */
	const char *ptr;	/* p: validated name, or "unknown" */
	const char *receiver;	/* r */
	time_t now;		/* t */
};

/*
 * Checks the macro-string s (len bytes) for use. Sets *uses_p_r (may be
 * NULL) when it holds the %{p} macro, which needs DNS lookups first.
 * Returns 0, or -1 with *error_r set to a static message.
 */
int
spf_macro_check(const char *s, size_t len, enum spf_macro_use use,
    bool *uses_p_r, const char **error_r);

/*
 * Expands the macro-string s (len bytes) into out (appended, its max
 * bounds the result; SPF_EXPAND_MAX is the usual one), RFC 7208 7.3:
 * transformers, delimiters, URL escaping of upper-case letters. Returns 0,
 * or -1 with *error_r set (a syntax error, or the result too long).
 */
int
spf_macro_expand(const char *s, size_t len, enum spf_macro_use use,
    const struct spf_macro_env *env, struct buf *out, const char **error_r);

/*
 * Cuts an expanded domain to DNS_NAME_MAX octets by removing whole labels
 * from its left (RFC 7208 7.3), in place; a trailing dot does not count.
 * Returns name.
 */
char *
spf_domain_truncate(char *name);

/*
 * Does the domain-spec s (len bytes, a valid macro-string) end as the ABNF
 * wants: "." toplabel ["."], or a macro (RFC 7208 12, domain-end)?
 */
bool
spf_domain_end_valid(const char *s, size_t len);

#endif
