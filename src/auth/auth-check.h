/*
 * auth-check.h - the checks of one inbound message, end to end: its SPF
 * result (computed at MAIL FROM, or here), every DKIM signature, DMARC
 * of the From: domain, and the Authentication-Results field (RFC 8601)
 * that says so.
 *
 * Inbound SMTP runs it at the end of DATA; `correio auth check` runs the
 * same thing on a file, so what an administrator sees is what the server
 * does.
 *
 * SECURITY: the message is hostile. The From: domain is read from exactly
 * one From: field; a message with several From: fields, or whose From:
 * names more than one domain, cannot be matched to one DMARC policy
 * (RFC 7489 6.6.1): dmarc=permerror, and the message is treated as
 * quarantined, so that an extra From: cannot be used to slip past a
 * reject policy. A message without a From: address (no field, or none
 * that parses) has no author to impersonate: dmarc=none.
 */
#ifndef AUTH_AUTH_CHECK_H
#define AUTH_AUTH_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/authres.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "core/buf.h"
#include "dns/dns-name.h"

struct dkim_verifier;
struct dkim_verify_result;
struct dns;
struct event_base;
struct spf_dns;
struct spf_result;

/* The Authentication-Results field we write, at its longest: the field
 * name, our authserv-id (a host name), "; none" CRLF, and a resinfo for
 * SPF, DMARC and each of DKIM_SIGS_MAX signatures, all of whose values
 * the sender may choose (about 27 KB). Inbound SMTP keeps this much room
 * on top of the message; a field that did not fit would have to be
 * replaced by "none", which would hide a failure. */
#define AUTH_CHECK_HEADER_MAX (sizeof("Authentication-Results: ") + \
    DNS_NAME_MAX + sizeof("; none\r\n") + \
    (DKIM_SIGS_MAX + 2) * AUTHRES_RESINFO_MAX)
/* From: addresses looked at for their domain. */
#define AUTH_CHECK_FROM_MAX 100

struct auth_check_request {
	const char *authserv_id;	/* our hostname */
	const char *msg;		/* header and body, without our own
					 * trace fields; read during the
					 * call only */
	size_t len;
	time_t now;
	/* SPF: the result when it was checked already (inbound SMTP does at
	 * MAIL FROM), or NULL to check it here from ip, helo and
	 * mail_from. */
	const struct spf_result *spf;
	const char *ip;
	const char *helo;
	const char *mail_from;		/* "" for the null sender */
};

struct auth_check_result {
	const struct spf_result *spf;	/* NULL if not checked */
	struct dkim_verify_result *dkim;	/* NULL if none were read */
	struct dmarc_result dmarc;
	/* What to do with the message: DMARC's disposition, or quarantine
	 * for a From: that DMARC cannot judge (see above). */
	enum dmarc_policy disposition;
	struct buf header;		/* "Authentication-Results: ..." CRLF */
};

struct auth_check;

/* Receives the result, valid until the callback returns. */
typedef void auth_check_callback(void *ctx,
    const struct auth_check_result *result);

/*
 * Starts the checks of req. cb is called exactly once, from the loop,
 * never from inside this function, unless the check is cancelled. The
 * request's strings need not outlive the call, except req->spf, which
 * must stay valid until the callback. Returns the check (never NULL).
 */
struct auth_check *
auth_check_start(struct event_base *base, struct dns *dns,
    const struct spf_dns *spf_dns, struct dkim_verifier *verifier,
    const struct auth_check_request *req, auth_check_callback *cb,
    void *ctx);

/* Cancels a check whose callback has not run; sets *checkp to NULL. */
void
auth_check_cancel(struct auth_check **checkp);

/* auth_check_from_domain() failures. */
#define AUTH_CHECK_FROM_NONE (-1)	/* no From: address */
#define AUTH_CHECK_FROM_AMBIGUOUS (-2)	/* several fields or domains */

/*
 * The From: domain of msg, lower-cased, into out (outlen bytes). Returns
 * 0, or AUTH_CHECK_FROM_NONE or AUTH_CHECK_FROM_AMBIGUOUS with *why_r
 * set.
 */
int
auth_check_from_domain(const char *msg, size_t len, char *out, size_t outlen,
    const char **why_r);

#endif
