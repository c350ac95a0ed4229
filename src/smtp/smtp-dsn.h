/*
 * smtp-dsn.h - delivery status notifications (RFC 3464 multipart/report,
 * RFC 6522) for recipients the deliverer gave up on.
 *
 * SECURITY: the diagnostic texts come from remote servers; the caller
 * passes them escaped (printable ASCII, capped), and they are written one
 * per line. The returned message's header is the original's, cut at
 * SMTP_DSN_HEADERS_MAX.
 */
#ifndef SMTP_SMTP_DSN_H
#define SMTP_SMTP_DSN_H

#include <stddef.h>
#include <time.h>

struct buf;

#define SMTP_DSN_HEADERS_MAX (64 * 1024)	/* of the original, returned */

struct smtp_dsn_rcpt {
	const char *address;
	const char *status;	/* RFC 3463 "5.1.1" */
	const char *diagnostic;	/* the reply or reason, escaped */
};

/*
 * Appends to out a complete DSN from MAILER-DAEMON@hostname to sender
 * (not empty: nothing is sent about a null sender, RFC 3461 6.2), with
 * a Return-Path: <> line first; *data_offset_r gets the offset after that
 * line. msg/len is the original message (its header is returned).
 * Returns 0, or -1 if out's limit was reached.
 */
int
smtp_dsn_build(struct buf *out, const char *hostname, const char *sender,
    time_t arrival, const struct smtp_dsn_rcpt *rcpts, size_t n,
    const char *msg, size_t len, size_t *data_offset_r);

/* The RFC 3463 status in an SMTP reply text ("550 5.1.1 ..."), copied to
 * buf (at least 12 bytes); else def. Returns buf or def. */
const char *
smtp_dsn_status(const char *reply, const char *def, char *buf, size_t size);

#endif
