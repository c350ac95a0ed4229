/*
 * smtp-dsn.c - builds delivery status notifications: RFC 3464
 * (message/delivery-status), RFC 6522 (multipart/report), RFC 3463
 * (status codes), RFC 3834 (Auto-Submitted), the original header as
 * text/rfc822-headers.
 *
 * SECURITY: diagnostics are remote text, escaped by the caller; the
 * original header is the user's own message, cut at SMTP_DSN_HEADERS_MAX
 * at a line end.
 */
#include "smtp/smtp-dsn.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "mime/header.h"

const char *
smtp_dsn_status(const char *reply, const char *def, char *buf, size_t size)
{
	const char *p;
	size_t n = 2;

	/* "ddd " then class "." subject "." detail, 1-3 digits each
	 * (RFC 3463 2), then a space or the end. */
	if (reply == NULL || strlen(reply) < 9 || reply[3] != ' ' ||
	    (reply[4] != '2' && reply[4] != '4' && reply[4] != '5') ||
	    reply[5] != '.')
		return def;
	p = reply + 4;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;

		while (p[n] >= '0' && p[n] <= '9' && digits < 4) {
			n++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return def;
		if (part == 0 && p[n++] != '.')
			return def;
	}
	if ((p[n] != ' ' && p[n] != '\0') || n + 1 > size)
		return def;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

int
smtp_dsn_build(struct buf *out, const char *hostname, const char *sender,
    time_t arrival, const struct smtp_dsn_rcpt *rcpts, size_t n,
    const char *msg, size_t len, size_t *data_offset_r)
{
	char date[HEADER_DATE_SIZE], adate[HEADER_DATE_SIZE];
	char msgid[HEADER_MSGID_SIZE], boundary[40];
	unsigned char rnd[8];
	size_t hlen;
	int r = 0;

	if (header_date(time(NULL), date, sizeof(date)) < 0 ||
	    header_date(arrival, adate, sizeof(adate)) < 0 ||
	    header_message_id(hostname, msgid, sizeof(msgid)) < 0 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	if (snprintf(boundary, sizeof(boundary), "=_dsn_%02x%02x%02x%02x"
	    "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	    rnd[5], rnd[6], rnd[7]) < 0)
		return -1;
	/* RFC 5321 6.1 / RFC 3461 6.2: a DSN has the null reverse-path. */
	r |= buf_puts(out, "Return-Path: <>\r\n");
	*data_offset_r = out->len;
	r |= buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Date: %s\r\nMessage-ID: %s\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n\r\n"
	    "This is a delivery status notification (RFC 3464).\r\n\r\n"
	    "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "This is the mail system at %s.\r\n\r\n"
	    "Your message could not be delivered to the recipients below.\r\n"
	    "The mail system gave up; it will not try again.\r\n\r\n",
	    hostname, sender, date, msgid, boundary, boundary, hostname);
	for (size_t i = 0; i < n; i++)
		r |= buf_printf(out, "<%s>: %s\r\n", rcpts[i].address,
		    rcpts[i].diagnostic);
	r |= buf_printf(out, "\r\n--%s\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; %s\r\nArrival-Date: %s\r\n",
	    boundary, hostname, adate);
	for (size_t i = 0; i < n; i++)
		r |= buf_printf(out, "\r\nFinal-Recipient: rfc822; %s\r\n"
		    "Action: failed\r\nStatus: %s\r\n"
		    "Diagnostic-Code: smtp; %s\r\nLast-Attempt-Date: %s\r\n",
		    rcpts[i].address, rcpts[i].status, rcpts[i].diagnostic,
		    date);
	r |= buf_printf(out, "\r\n--%s\r\n"
	    "Content-Type: text/rfc822-headers\r\n\r\n", boundary);
	hlen = header_block_len(msg, len);
	if (hlen > SMTP_DSN_HEADERS_MAX) {
		hlen = SMTP_DSN_HEADERS_MAX;
		while (hlen > 0 && msg[hlen - 1] != '\n')
			hlen--;
	}
	r |= buf_append(out, msg, hlen);
	if (hlen > 0 && msg[hlen - 1] != '\n')
		r |= buf_puts(out, "\r\n");
	r |= buf_printf(out, "\r\n--%s--\r\n", boundary);
	return r != 0 ? -1 : 0;
}
