/*
 * spam-content.c - GTUBE and the header anomalies of spam-content.h.
 *
 * RFC 5322 3.6 (the fields every message should have: Date, From,
 * Message-ID), 3.3 (the date), 3.6.2 (Reply-To), 3.6.7 (Received);
 * RFC 2369 and 2919 (List-Unsubscribe, List-Id).
 *
 * What counts as an anomaly is what spam does and legitimate mail
 * rarely does: a missing Date: or Message-ID: (every real mail program
 * writes both, RFC 6409 8.2/8.3 has the submission server add them), a
 * Date: days ahead (sorts the message to the top of an inbox), a
 * Received: field naming this server that this server did not write
 * (a forged trail), a Reply-To: that sends the answers to a freemail
 * mailbox, a display name that shows another address than the one that
 * sent ("PayPal <service@paypal.com>" <x@evil.example>).
 *
 * SECURITY: every value is peer data read through header_get (bounded)
 * and mime_addr_list_foreach; display names are RFC 2047-decoded into a
 * bounded buffer.
 */
#include "filter/spam-content.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/dmarc.h"
#include "core/buf.h"
#include "core/pool.h"
#include "dns/dns-name.h"
#include "mime/header.h"
#include "mime/mime-decode.h"
#include "mime/mime-imap.h"
#include "mime/mime.h"

/* Display-name bytes decoded and searched for an address. */
#define SPAM_NAME_MAX 1024

static const char *const spam_freemail[] = {
	"aol.com", "gmail.com", "googlemail.com", "gmx.com", "gmx.de",
	"gmx.net", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "icloud.com",
	"live.com", "mail.com", "mail.ru", "me.com", "msn.com", "outlook.com",
	"proton.me", "protonmail.com", "qq.com", "rambler.ru", "web.de",
	"yahoo.co.jp", "yahoo.co.uk", "yahoo.com", "yahoo.fr", "yandex.com",
	"yandex.ru", "zoho.com", "163.com", "126.com",
};

bool
spam_domain_is_freemail(const char *domain)
{
	for (size_t i = 0; i < sizeof(spam_freemail) / sizeof(spam_freemail[0]);
	    i++)
		if (strcmp(domain, spam_freemail[i]) == 0)
			return true;
	return false;
}

const char *
spam_msg_text(struct spam_msg *m, size_t *len_r)
{
	if (m->text == NULL) {
		struct buf b;

		buf_init(&b, SPAM_TEXT_MAX);
		mime_text_extract(m->data, m->len, m->root, &b);
		m->text = pool_strndup(m->pool, b.data != NULL ? b.data : "",
		    b.len);
		m->text_len = b.len;
		buf_release(&b);
	}
	*len_r = m->text_len;
	return m->text;
}

/* The first address of a header field: its domain, lower case, into
 * out; false if there is none. */
struct spam_first_addr {
	char local[256];
	char domain[DNS_NAME_MAX + 1];
	bool found;
};

static void
spam_first_addr_cb(void *ctx, const char *local, size_t local_len,
    const char *domain, size_t domain_len)
{
	struct spam_first_addr *a = ctx;

	if (a->found || local_len >= sizeof(a->local) ||
	    domain_len >= sizeof(a->domain))
		return;
	memcpy(a->local, local, local_len);
	a->local[local_len] = '\0';
	for (size_t i = 0; i < domain_len; i++)
		a->domain[i] = (char)tolower((unsigned char)domain[i]);
	a->domain[domain_len] = '\0';
	while (domain_len > 0 && a->domain[domain_len - 1] == '.')
		a->domain[--domain_len] = '\0';
	a->found = domain_len > 0;
}

static bool
spam_field_addr(const struct spam_msg *m, size_t hlen, const char *name,
    struct spam_first_addr *a)
{
	char *v = header_get(m->data, hlen, name, m->pool);

	memset(a, 0, sizeof(*a));
	if (v == NULL)
		return false;
	(void)mime_addr_list_foreach(v, strlen(v), spam_first_addr_cb, a);
	return a->found;
}

/* The organizational domain of d into out (d itself if that fails). */
static void
spam_org(const char *d, char *out, size_t outlen)
{
	if (dmarc_org_domain(d, out, outlen) < 0)
		(void)snprintf(out, outlen, "%s", d);
}

static bool
spam_same_org(const char *a, const char *b)
{
	char oa[DNS_NAME_MAX + 1], ob[DNS_NAME_MAX + 1];

	spam_org(a, oa, sizeof(oa));
	spam_org(b, ob, sizeof(ob));
	return strcmp(oa, ob) == 0;
}

static bool
spam_addr_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_' || c == '+' ||
	    c == '%';
}

/*
 * Finds "local@domain.tld" in text (a display name); writes its domain,
 * lower case, into out. Returns true if there is one.
 */
static bool
spam_find_addr(const char *text, size_t len, char *out, size_t outlen)
{
	for (size_t i = 1; i + 1 < len; i++) {
		size_t e, dots = 0;

		if (text[i] != '@' || !spam_addr_char((unsigned char)text[i - 1]))
			continue;
		for (e = i + 1; e < len && (isalnum((unsigned char)text[e]) ||
		    text[e] == '.' || text[e] == '-'); e++)
			dots += text[e] == '.';
		while (e > i + 1 && text[e - 1] == '.') {
			e--;
			dots--;
		}
		if (dots == 0 || e - i - 1 >= outlen)
			continue;
		for (size_t k = i + 1; k < e; k++)
			out[k - i - 1] = (char)tolower((unsigned char)text[k]);
		out[e - i - 1] = '\0';
		return true;
	}
	return false;
}

/* The display name part of a From: value: what comes before the last
 * '<' (the whole value when there is no angle address). */
static void
spam_from_name(const struct spam_msg *m, const char *from,
    const struct spam_first_addr *addr, struct spam_result *r)
{
	const char *lt = strrchr(from, '<');
	char dom[DNS_NAME_MAX + 1];
	struct buf name;

	if (lt == NULL || lt == from)
		return;
	buf_init(&name, SPAM_NAME_MAX);
	mime_header_decode(from, (size_t)(lt - from), &name);
	if (name.len > 0 && spam_find_addr(name.data, name.len, dom,
	    sizeof(dom))) {
		bool shown_local = spam_msg_is_local_domain(m, dom,
		    strlen(dom));
		bool real_local = spam_msg_is_local_domain(m, addr->domain,
		    strlen(addr->domain));

		if (shown_local && !real_local)
			spam_add(r, "HEADER_FROM_NAME_LOCAL", "%s shown, %s sent",
			    dom, addr->domain);
		else if (!spam_same_org(dom, addr->domain))
			spam_add(r, "HEADER_FROM_NAME_ADDR", "%s shown, %s sent",
			    dom, addr->domain);
	}
	buf_release(&name);
}

static void
spam_check_date(const struct spam_msg *m, size_t hlen, struct spam_result *r)
{
	char *date = header_get(m->data, hlen, "Date", m->pool);
	time_t t;

	if (date == NULL) {
		spam_add(r, "HEADER_NO_DATE", NULL);
		return;
	}
	if (header_date_parse(date, strlen(date), &t) < 0) {
		spam_add(r, "HEADER_DATE_INVALID", "%.60s", date);
		return;
	}
	if (t > m->now && t - m->now > SPAM_DATE_FUTURE)
		spam_add(r, "HEADER_DATE_FUTURE", "%lld hours ahead",
		    (long long)((t - m->now) / 3600));
	else if (t < m->now && m->now - t > SPAM_DATE_PAST)
		spam_add(r, "HEADER_DATE_PAST", "%lld days old",
		    (long long)((m->now - t) / 86400));
}

/* True if the Received: value names host in its "by" clause (RFC 5322
 * 3.6.7, RFC 5321 4.4: "by" Domain). */
static bool
spam_received_by(const char *v, const char *host)
{
	size_t hl = strlen(host);

	for (const char *p = v; (p = strcasestr(p, "by")) != NULL; p += 2) {
		const char *q = p + 2;

		if ((p > v && !isspace((unsigned char)p[-1]) && p[-1] != ')') ||
		    !isspace((unsigned char)*q))
			continue;
		while (isspace((unsigned char)*q))
			q++;
		if (strncasecmp(q, host, hl) != 0)
			continue;
		q += hl;
		if (*q == '.')		/* the root: "mx.example.org." */
			q++;
		if (*q == '\0' || isspace((unsigned char)*q) || *q == ';' ||
		    *q == '(')
			return true;
	}
	return false;
}

static void
spam_check_received(const struct spam_msg *m, size_t hlen,
    struct spam_result *r)
{
	struct mime_header_field f;
	size_t pos = 0;
	struct buf v;

	if (m->hostname == NULL || m->hostname[0] == '\0')
		return;
	buf_init(&v, HEADER_VALUE_MAX * 4);
	while (mime_header_field_next(m->data, hlen, &pos, &f)) {
		if (f.name_len == 0 || !mime_header_field_is(m->data, &f,
		    "Received"))
			continue;
		buf_reset(&v);
		mime_header_field_unfold(m->data, &f, &v);
		if (v.len > 0 && spam_received_by(v.data, m->hostname)) {
			spam_add(r, "HEADER_FORGED_RECEIVED", "by %s",
			    m->hostname);
			break;
		}
	}
	buf_release(&v);
}

static void
spam_check_subject(const struct spam_msg *m, size_t hlen,
    struct spam_result *r)
{
	char *subj = header_get(m->data, hlen, "Subject", m->pool);
	size_t upper = 0, lower = 0;
	struct buf d;

	if (subj == NULL)
		return;
	buf_init(&d, HEADER_VALUE_MAX * 4);
	mime_header_decode(subj, strlen(subj), &d);
	for (size_t i = 0; i < d.len; i++) {
		unsigned char c = (unsigned char)d.data[i];

		upper += c >= 'A' && c <= 'Z';
		lower += c >= 'a' && c <= 'z';
	}
	buf_release(&d);
	if (upper >= 10 && lower == 0)
		spam_add(r, "HEADER_SUBJECT_ALLCAPS", NULL);
}

void
spam_check_content(struct spam_msg *m, struct spam_result *r)
{
	size_t hlen = header_block_len(m->data, m->len), tlen;
	struct spam_first_addr from, reply;
	const char *text;
	char *fromv;

	/* GTUBE: in the raw message, or in the decoded text (a base64 or
	 * quoted-printable body). */
	if (memmem(m->data, m->len, SPAM_GTUBE, sizeof(SPAM_GTUBE) - 1) !=
	    NULL)
		spam_add(r, "GTUBE", NULL);
	else if ((text = spam_msg_text(m, &tlen)) != NULL &&
	    memmem(text, tlen, SPAM_GTUBE, sizeof(SPAM_GTUBE) - 1) != NULL)
		spam_add(r, "GTUBE", "encoded");

	spam_check_date(m, hlen, r);
	if (!header_has(m->data, hlen, "Message-ID"))
		spam_add(r, "HEADER_NO_MESSAGE_ID", NULL);
	spam_check_received(m, hlen, r);
	spam_check_subject(m, hlen, r);
	if (header_has(m->data, hlen, "List-Id") &&
	    header_has(m->data, hlen, "List-Unsubscribe"))
		spam_add(r, "HEADER_LIST_ID", NULL);

	if (!spam_field_addr(m, hlen, "From", &from)) {
		spam_add(r, "HEADER_NO_FROM", NULL);
		return;
	}
	if ((fromv = header_get(m->data, hlen, "From", m->pool)) != NULL)
		spam_from_name(m, fromv, &from, r);
	/* A Reply-To: elsewhere is how lists and helpdesks work; to a
	 * freemail mailbox, while the mail claims a company, is how
	 * advance-fee and CEO fraud collect answers. */
	if (spam_field_addr(m, hlen, "Reply-To", &reply) &&
	    !spam_same_org(reply.domain, from.domain) &&
	    !header_has(m->data, hlen, "List-Id")) {
		if (spam_domain_is_freemail(reply.domain))
			spam_add(r, "HEADER_REPLYTO_FREEMAIL", "%s, from %s",
			    reply.domain, from.domain);
		else
			spam_add(r, "HEADER_REPLYTO_OTHER", "%s, from %s",
			    reply.domain, from.domain);
	}
}
