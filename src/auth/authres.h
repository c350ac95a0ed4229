/*
 * authres.h - the Authentication-Results header field (RFC 8601): writing
 * ours, and removing the ones that claim to be ours.
 *
 * A message gets one field, written by this server, naming its
 * authserv-id (the server's hostname) and one resinfo per method:
 *
 *	Authentication-Results: mx.example.org;
 *		spf=pass smtp.mailfrom=alice@example.com;
 *		dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256;
 *		dmarc=pass header.from=example.com
 *
 * SECURITY: values come from the message, the envelope and DNS. Every
 * value is written as an RFC 2045 token when it is one and as a quoted
 * string otherwise, with control characters and non-ASCII bytes replaced,
 * and cut at AUTHRES_VALUE_MAX, so nothing a sender chooses can end the
 * field, start another one, or add a property. A forged field that claims
 * this server's authserv-id is removed before ours is added (RFC 8601 5),
 * so a reader of the message can trust the fields naming this server.
 */
#ifndef AUTH_AUTHRES_H
#define AUTH_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* A value (a reason, an address, a domain) is cut after this many
 * bytes. */
#define AUTHRES_VALUE_MAX 200
/* What one value can take once written: a quoted string in which every
 * byte is escaped (authres_prop). */
#define AUTHRES_VALUE_OUT_MAX (2 * AUTHRES_VALUE_MAX + 2)
/* Method, result and property names are ours, and short. */
#define AUTHRES_NAME_MAX 32
/* Properties of one resinfo (dkim: header.d, .s, .a, .b). */
#define AUTHRES_PROPS_MAX 4
/* The most one resinfo can take: ";" CRLF TAB "method=result", a reason
 * and AUTHRES_PROPS_MAX properties, each " name=VALUE". */
#define AUTHRES_RESINFO_MAX (4 + 2 * AUTHRES_NAME_MAX + 1 + \
    (1 + AUTHRES_PROPS_MAX) * (2 + AUTHRES_NAME_MAX + AUTHRES_VALUE_OUT_MAX))
/* Comment nesting accepted while reading an authserv-id. */
#define AUTHRES_COMMENT_DEPTH_MAX 8

/* Starts the field: "Authentication-Results: ID". */
int
authres_begin(struct buf *out, const char *authserv_id);

/* Adds a resinfo: ";\r\n\tMETHOD=RESULT" and, if reason is not NULL,
 * " reason=VALUE". */
int
authres_method(struct buf *out, const char *method, const char *result,
    const char *reason);

/* Adds a property to the last resinfo: " PTYPE.PROPERTY=VALUE"
 * (prop is "smtp.mailfrom", "header.d", ...). */
int
authres_prop(struct buf *out, const char *prop, const char *value);

/* Ends the field: "; none" when no method was added (RFC 8601 2.2),
 * then CRLF. */
int
authres_end(struct buf *out, bool any_method);

/*
 * Returns true if the value of an Authentication-Results field (as it
 * stands after the colon, possibly folded) names authserv_id, compared
 * without case. A value whose authserv-id cannot be read is not ours.
 */
bool
authres_is_ours(const char *value, size_t len, const char *authserv_id);

/*
 * Removes, in place, every Authentication-Results field of the header
 * section of msg (len bytes) that names authserv_id. Returns the new
 * length; the bytes past it are left as they were.
 */
size_t
authres_strip(char *msg, size_t len, const char *authserv_id);

#endif
