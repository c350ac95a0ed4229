/*
 * spam-html.c - the phishing checks: link text against href, bare IP
 * links, URL shorteners, lookalikes of hosted domains and of brands, IDN
 * homographs, forms, refreshes, HTML without text (see spam-html.h).
 *
 * References: RFC 2045/2046 (the parts), WHATWG HTML and URL (through
 * filter/html.c), UTS #39 (skeletons, mixed scripts), UTS #46 and RFC
 * 5890-5893 (IDNA, libidn2), RFC 7489 3.2 (organizational domain, the
 * "registered domain" compared here).
 *
 * SECURITY: every byte of the message is the sender's. Bounds are in
 * spam-html.h; the fixed arrays below hold only names checked against
 * their size (DNS_NAME_MAX, HTML_SKELETON_MAX).
 */
#include "filter/spam-html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "auth/auth-check.h"
#include "auth/dmarc.h"
#include "core/buf.h"
#include "core/pool.h"
#include "dns/dns-name.h"
#include "filter/html.h"
#include "mime/mime-decode.h"
#include "mime/mime.h"

/* ---------------------------------------------------------------- */
/* Fixed lists */

#define BRAND_WORD 0x01	/* a common word: no edit-distance test */

struct spam_html_brand {
	const char *domain;	/* its registered domain; the label is the
				 * part before the first dot */
	unsigned flags;
};

/* Brands phished the most (APWG and vendor reports): the registered
 * domain users know them by. Their other domains with the same label
 * (paypal.de, amazon.co.uk) are theirs too by the "same label" rule. */
static const struct spam_html_brand spam_html_brands[] = {
	{ "paypal.com", 0 },
	{ "apple.com", BRAND_WORD },
	{ "icloud.com", 0 },
	{ "microsoft.com", 0 },
	{ "microsoftonline.com", 0 },
	{ "office365.com", 0 },
	{ "office.com", BRAND_WORD },
	{ "outlook.com", BRAND_WORD },
	{ "live.com", BRAND_WORD },
	{ "sharepoint.com", 0 },
	{ "onedrive.com", 0 },
	{ "google.com", 0 },
	{ "gmail.com", 0 },
	{ "amazon.com", 0 },
	{ "netflix.com", 0 },
	{ "facebook.com", 0 },
	{ "instagram.com", 0 },
	{ "whatsapp.com", 0 },
	{ "linkedin.com", 0 },
	{ "twitter.com", 0 },
	{ "yahoo.com", 0 },
	{ "ebay.com", 0 },
	{ "dhl.com", 0 },
	{ "fedex.com", 0 },
	{ "ups.com", 0 },
	{ "usps.com", 0 },
	{ "chase.com", BRAND_WORD },
	{ "wellsfargo.com", 0 },
	{ "bankofamerica.com", 0 },
	{ "citibank.com", 0 },
	{ "americanexpress.com", 0 },
	{ "hsbc.com", 0 },
	{ "barclays.co.uk", 0 },
	{ "dropbox.com", 0 },
	{ "docusign.com", 0 },
	{ "adobe.com", BRAND_WORD },
	{ "wetransfer.com", 0 },
	{ "coinbase.com", 0 },
	{ "binance.com", 0 },
	{ "steampowered.com", 0 },
	{ "steamcommunity.com", 0 },
};

struct spam_html_shortener {
	const char *host;
	const char *owner;	/* registered domain whose mail may use it */
};

static const struct spam_html_shortener spam_html_shorteners[] = {
	{ "bit.ly", NULL }, { "bitly.com", NULL }, { "tinyurl.com", NULL },
	{ "t.co", "twitter.com" }, { "goo.gl", "google.com" },
	{ "ow.ly", NULL }, { "is.gd", NULL }, { "v.gd", NULL },
	{ "buff.ly", NULL }, { "rebrand.ly", NULL }, { "cutt.ly", NULL },
	{ "shorturl.at", NULL }, { "tiny.cc", NULL }, { "t.ly", NULL },
	{ "rb.gy", NULL }, { "bl.ink", NULL }, { "s.id", NULL },
	{ "shorte.st", NULL }, { "adf.ly", NULL }, { "bit.do", NULL },
	{ "clck.ru", NULL }, { "x.co", NULL }, { "lnkd.in", "linkedin.com" },
	{ "qrco.de", NULL }, { "urlz.fr", NULL }, { "surl.li", NULL },
};

/* Click trackers of bulk senders: the target is opaque, so the link
 * text cannot be compared with it. */
static const char *const spam_html_trackers[] = {
	"list-manage.com", "mcsv.net", "mailchi.mp", "sendgrid.net",
	"mandrillapp.com", "rs6.net", "exct.net", "hubspotlinks.com",
	"awstrack.me", "sparkpostmail.com", "createsend.com", "klclick.com",
};

/* ---------------------------------------------------------------- */
/* State of one run */

/* Priorities of hosts for m->uris, most important first. */
enum {
	PRIO_FIRED,
	PRIO_FORM,
	PRIO_LINK,
	PRIO_IMG,
	PRIO_N,
};

struct spam_html_host {
	char *name;
	char *org;		/* its registered domain, once asked */
	unsigned prio;
	bool checked;		/* the lookalike checks ran */
};

/* A registered domain split for comparing. */
/* A label is at most 63 bytes as an A-label (RFC 1035 2.3.4), so at
 * most 63 code points of up to 4 bytes as a U-label. */
#define SPAM_HTML_ULABEL_MAX (4 * 63 + 1)

struct spam_html_name {
	char org[DNS_NAME_MAX + 1];	/* A-labels */
	char label[SPAM_HTML_ULABEL_MAX];	/* its first label, Unicode */
	char skel[SPAM_HTML_ULABEL_MAX];	/* html_skeleton(label) */
	size_t label_cps;		/* code points of label */
	bool label_ascii;
};

struct spam_html_target {
	const char *domain;	/* registered domain, A-labels */
	bool local;
	unsigned flags;
	struct spam_html_name n;
};

struct spam_html {
	struct spam_msg *m;
	struct spam_result *r;
	struct pool *pool;	/* freed at the end */
	bool have_from;
	char from[DNS_NAME_MAX + 1];
	char from_org[DNS_NAME_MAX + 1];
	struct spam_html_target *targets;
	size_t n_targets;
	/* Open addressing, 2 * SPAM_HTML_HOSTS_MAX slots; order[] keeps
	 * the order they came in. */
	struct spam_html_host *slots;
	struct spam_html_host **order;
	size_t n_hosts;
	size_t links;		/* judged so far */
	size_t bytes;		/* decoded so far */
	size_t parts;
	size_t plain_chars;	/* most visible characters of a text/plain */
	bool html_notext;
	size_t notext_links;
};

#define SPAM_HTML_SLOTS (2 * SPAM_HTML_HOSTS_MAX)

/* ---------------------------------------------------------------- */
/* Host table */

static uint32_t
spam_html_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The entry of host, or NULL. */
static struct spam_html_host *
spam_html_host_find(struct spam_html *h, const char *host)
{
	size_t i = spam_html_hash(host) % SPAM_HTML_SLOTS;

	while (h->slots[i].name != NULL) {
		if (strcmp(h->slots[i].name, host) == 0)
			return &h->slots[i];
		i = (i + 1) % SPAM_HTML_SLOTS;
	}
	return NULL;
}

/* The entry of host, made if there is room; NULL when the table is full. */
static struct spam_html_host *
spam_html_host_get(struct spam_html *h, const char *host, unsigned prio)
{
	size_t i = spam_html_hash(host) % SPAM_HTML_SLOTS;

	while (h->slots[i].name != NULL) {
		if (strcmp(h->slots[i].name, host) == 0) {
			if (prio < h->slots[i].prio)
				h->slots[i].prio = prio;
			return &h->slots[i];
		}
		i = (i + 1) % SPAM_HTML_SLOTS;
	}
	if (h->n_hosts == SPAM_HTML_HOSTS_MAX)
		return NULL;
	h->slots[i].name = pool_strdup(h->pool, host);
	h->slots[i].prio = prio;
	h->order[h->n_hosts++] = &h->slots[i];
	return &h->slots[i];
}

/* ---------------------------------------------------------------- */
/* Names */

/* The registered domain of host (lower-case A-labels) into out. */
static int
spam_html_org(const char *host, char *out, size_t outlen)
{
	return dmarc_org_domain(host, out, outlen);
}

/* The registered domain of host: kept in its entry of the host table if
 * it has one (the Public Suffix List is asked once per host), else in
 * buf (DNS_NAME_MAX + 1 bytes). NULL if there is none. */
static const char *
spam_html_org_of(struct spam_html *h, const char *host, char *buf)
{
	struct spam_html_host *e = spam_html_host_find(h, host);

	if (e != NULL && e->org != NULL)
		return e->org;
	if (spam_html_org(host, buf, DNS_NAME_MAX + 1) < 0)
		return NULL;
	if (e != NULL)
		e->org = pool_strdup(h->pool, buf);
	return buf;
}

static bool
spam_html_same_org(struct spam_html *h, const char *a, const char *b)
{
	char ba[DNS_NAME_MAX + 1], bb[DNS_NAME_MAX + 1];
	const char *oa = spam_html_org_of(h, a, ba);
	const char *ob = spam_html_org_of(h, b, bb);

	if (oa == NULL || ob == NULL)
		return strcmp(a, b) == 0;
	return strcmp(oa, ob) == 0;
}

/* True if host's registered domain is the From: domain's. */
static bool
spam_html_from_org(struct spam_html *h, const char *host)
{
	char buf[DNS_NAME_MAX + 1];
	const char *o;

	if (!h->have_from)
		return false;
	o = spam_html_org_of(h, host, buf);
	return o != NULL ? strcmp(o, h->from_org) == 0 :
	    strcmp(host, h->from) == 0;
}

/* True if host is name or a subdomain of it. */
static bool
spam_html_host_in(const char *host, const char *name)
{
	size_t hl = strlen(host), nl = strlen(name);

	if (hl == nl)
		return strcmp(host, name) == 0;
	return hl > nl && host[hl - nl - 1] == '.' &&
	    strcmp(host + hl - nl, name) == 0;
}

/* Unicode form of an A-label name into out; a label that does not
 * decode stays as it is. */
static void
spam_html_to_unicode(const char *a, char *out, size_t outlen)
{
	char *u = NULL;

	size_t n;

	if (strstr(a, "xn--") != NULL &&
	    idn2_to_unicode_8z8z(a, &u, 0) == IDN2_OK &&
	    (n = strlen(u)) < outlen) {
		memcpy(out, u, n + 1);
	} else {
		n = strlen(a);
		if (n >= outlen)
			n = outlen - 1;
		memcpy(out, a, n);
		out[n] = '\0';
	}
	idn2_free(u);
}

static size_t
spam_html_cps(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Splits a registered domain (org) into n. Returns -1 if it has only
 * one label. */
static int
spam_html_name_from_org(const char *org, struct spam_html_name *n)
{
	char u[HTML_SKELETON_MAX];
	const char *dot;
	size_t len;

	if (strlen(org) >= sizeof(n->org))
		return -1;
	memcpy(n->org, org, strlen(org) + 1);
	spam_html_to_unicode(n->org, u, sizeof(u));
	dot = strchr(u, '.');
	if (dot == NULL || dot == u)
		return -1;
	len = (size_t)(dot - u);
	if (len >= sizeof(n->label))
		return -1;
	memcpy(n->label, u, len);
	n->label[len] = '\0';
	if (html_skeleton(n->label, len, n->skel, sizeof(n->skel)) < 0)
		return -1;
	n->label_cps = spam_html_cps(n->label);
	n->label_ascii = true;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)n->label[i] >= 0x80)
			n->label_ascii = false;
	return 0;
}

/* Splits host's registered domain into n. Returns -1 if it has none. */
static int
spam_html_name_split(struct spam_html *h, const char *host,
    struct spam_html_name *n)
{
	char buf[DNS_NAME_MAX + 1];
	const char *org = spam_html_org_of(h, host, buf);

	return org != NULL ? spam_html_name_from_org(org, n) : -1;
}

/* True if the labels of host hold target as whole labels that are not
 * its registered domain: "paypal.com.evil.example". */
static bool
spam_html_embeds(const char *host, const char *host_org, const char *target)
{
	size_t hl = strlen(host), ol = strlen(host_org), tl = strlen(target);
	const char *p = host;

	if (hl <= ol)
		return false;
	/* Only the subdomain part, before ".host_org". */
	hl -= ol + 1;
	while (p + tl < host + hl + 1) {
		const char *hit = strstr(p, target);

		if (hit == NULL || hit + tl > host + hl)
			return false;
		if ((hit == host || hit[-1] == '.') && hit[tl] == '.')
			return true;
		p = hit + 1;
	}
	return false;
}

/*
 * Does the host (split in hn) look like target t? Returns a short reason
 * or NULL.
 */
static const char *
spam_html_looks_like(const char *host, const struct spam_html_name *hn,
    const struct spam_html_target *t)
{
	size_t a = hn->label_cps, b = t->n.label_cps;

	if (strcmp(hn->org, t->n.org) == 0)
		return NULL;
	if (spam_html_embeds(host, hn->org, t->n.org))
		return "contains";
	if (strcmp(hn->label, t->n.label) == 0)
		return NULL;
	if (strcmp(hn->skel, t->n.skel) == 0)
		return "confusable";
	if (!(t->flags & BRAND_WORD) && a >= SPAM_HTML_EDIT_MIN &&
	    b >= SPAM_HTML_EDIT_MIN && (a > b ? a - b : b - a) <= 1 &&
	    html_edit_distance(hn->label, strlen(hn->label), t->n.label,
	    strlen(t->n.label)) == 1)
		return "one edit from";
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Checks of one host */

/* Lookalike and homograph checks of a domain name; the details say
 * where it was ("link", "from"). Returns true if a symbol was added. */
static bool
spam_html_name_check(struct spam_html *h, const char *host, const char *where)
{
	struct spam_html_name hn;
	char u[HTML_SKELETON_MAX];
	bool fired = false;
	const char *why;

	if (spam_msg_is_local_domain(h->m, host, strlen(host)))
		return false;
	/* IDN: a label that mixes scripts. */
	if (strstr(host, "xn--") != NULL) {
		const char *p = u;

		spam_html_to_unicode(host, u, sizeof(u));
		for (;;) {
			const char *dot = strchr(p, '.');
			size_t len = dot != NULL ? (size_t)(dot - p) :
			    strlen(p);

			if (html_label_mixed_scripts(p, len)) {
				fired |= spam_add(h->r, "IDN_HOMOGRAPH",
				    "%s=%s mixed scripts", where, host);
				break;
			}
			if (dot == NULL)
				break;
			p = dot + 1;
		}
	}
	if (spam_html_name_split(h, host, &hn) < 0)
		return fired;
	for (size_t i = 0; i < h->n_targets; i++) {
		const struct spam_html_target *t = &h->targets[i];

		if ((why = spam_html_looks_like(host, &hn, t)) == NULL)
			continue;
		if (!hn.label_ascii && strcmp(why, "confusable") == 0)
			fired |= spam_add(h->r, "IDN_HOMOGRAPH",
			    "%s=%s looks like %s", where, host, t->domain);
		fired |= spam_add(h->r, t->local ? "LOOKALIKE_LOCAL" :
		    "LOOKALIKE_BRAND", "%s=%s %s %s", where, host, why,
		    t->domain);
		/* Other targets can still fire the other symbol. */
	}
	return fired;
}

static bool
spam_html_shortener_check(struct spam_html *h, const char *host)
{
	for (size_t i = 0; i < sizeof(spam_html_shorteners) /
	    sizeof(spam_html_shorteners[0]); i++) {
		const struct spam_html_shortener *s = &spam_html_shorteners[i];

		if (!spam_html_host_in(host, s->host))
			continue;
		if (s->owner != NULL && h->have_from &&
		    strcmp(h->from_org, s->owner) == 0)
			return false;
		return spam_add(h->r, "URL_SHORTENER", "host=%s", host);
	}
	return false;
}

/*
 * The checks of a URL's host (a link, form, refresh or plain-text URL;
 * an image only goes to the URI list), and its entry for m->uris.
 */
static void
spam_html_url_check(struct spam_html *h, const struct html_url *u,
    unsigned prio)
{
	struct spam_html_host *e;
	bool fired = false;

	if (u->kind == HTML_HOST_IPV4 || u->kind == HTML_HOST_IPV6) {
		if (prio == PRIO_IMG)
			return;
		spam_add(h->r, "HTML_LINK_IP", "host=%s", u->host);
		if (u->ip_encoded)
			spam_add(h->r, "HTML_LINK_IP_ENCODED", "host=%s",
			    u->host);
		return;
	}
	if (u->kind != HTML_HOST_NAME)
		return;
	e = spam_html_host_get(h, u->host, prio);
	if (e == NULL || prio == PRIO_IMG || e->checked)
		return;
	e->checked = true;
	fired |= spam_html_shortener_check(h, u->host);
	fired |= spam_html_name_check(h, u->host, "link");
	if (fired)
		e->prio = PRIO_FIRED;
}

/* ---------------------------------------------------------------- */
/* Redirectors */

static int
spam_html_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The value of query parameter name in url (percent-decoded, from the
 * pool), or NULL. With proofpoint, '-' is '%' and '_' is '/' first
 * (URL Defense v2 encoding).
 */
static char *
spam_html_query_param(struct pool *pool, const char *url, const char *name,
    bool proofpoint)
{
	const char *q = strchr(url, '?'), *p, *end;
	size_t nl = strlen(name);

	if (q == NULL)
		return NULL;
	for (p = q + 1; *p != '\0'; p = *end == '\0' ? end : end + 1) {
		end = p + strcspn(p, "&#");
		if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 &&
		    p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t vl = (size_t)(end - v), o = 0;
			char *out = pool_alloc(pool, vl + 1);

			for (size_t i = 0; i < vl; i++) {
				char c = v[i];

				if (proofpoint && c == '-')
					c = '%';
				else if (proofpoint && c == '_')
					c = '/';
				else if (c == '+')
					c = ' ';
				if (c == '%' && i + 2 < vl &&
				    spam_html_hex(v[i + 1]) >= 0 &&
				    spam_html_hex(v[i + 2]) >= 0) {
					c = (char)(spam_html_hex(v[i + 1]) *
					    16 + spam_html_hex(v[i + 2]));
					i += 2;
				}
				out[o++] = c;
			}
			out[o] = '\0';
			return out;
		}
		if (*end == '#')
			break;
	}
	return NULL;
}

/* The path of url after its authority ("" if none). */
static const char *
spam_html_path(const char *url)
{
	const char *p = strstr(url, "//");

	if (p == NULL)
		return "";
	p += 2;
	p += strcspn(p, "/?#");
	return p;
}

/*
 * If u (parsed from href) is a redirector whose target is in the URL,
 * returns the target (from the pool), else NULL.
 */
static char *
spam_html_unwrap(struct pool *pool, const char *href,
    const struct html_url *u)
{
	const char *path = spam_html_path(href);

	if (spam_html_host_in(u->host, "safelinks.protection.outlook.com"))
		return spam_html_query_param(pool, href, "url", false);
	if ((strcmp(u->host, "google.com") == 0 ||
	    strcmp(u->host, "www.google.com") == 0) &&
	    strncmp(path, "/url?", 5) == 0) {
		char *t = spam_html_query_param(pool, href, "q", false);

		return t != NULL ? t :
		    spam_html_query_param(pool, href, "url", false);
	}
	if (strcmp(u->host, "urldefense.proofpoint.com") == 0 &&
	    strncmp(path, "/v2/url?", 8) == 0)
		return spam_html_query_param(pool, href, "u", true);
	if (strcmp(u->host, "urldefense.com") == 0 &&
	    strncmp(path, "/v3/__", 6) == 0) {
		const char *b = path + 6, *e = strstr(b, "__");

		if (e == NULL)
			return NULL;
		return pool_strndup(pool, b, (size_t)(e - b));
	}
	return NULL;
}

static bool
spam_html_is_tracker(const char *host)
{
	for (size_t i = 0; i < sizeof(spam_html_trackers) /
	    sizeof(spam_html_trackers[0]); i++)
		if (spam_html_host_in(host, spam_html_trackers[i]))
			return true;
	return false;
}

/* True if host is (under) a brand's or a hosted domain's registered
 * domain. */
static bool
spam_html_is_target(struct spam_html *h, const char *host)
{
	char buf[DNS_NAME_MAX + 1];
	const char *org = spam_html_org_of(h, host, buf);

	if (org == NULL)
		return false;
	for (size_t i = 0; i < h->n_targets; i++)
		if (strcmp(org, h->targets[i].n.org) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------- */
/* Links */

static void
spam_html_link(struct spam_html *h, const struct html_link *l,
    const char *base)
{
	struct html_url u, t, w;
	const char *href = l->href;
	bool same;

	if (h->links == SPAM_HTML_LINKS_MAX)
		return;
	h->links++;
	if (html_url_parse_ref(l->href, l->href_len, base, &u) < 0)
		return;
	spam_html_url_check(h, &u, PRIO_LINK);

	/* http://paypal.com@evil.example/: the userinfo shows a name. */
	if (u.has_userinfo && u.kind != HTML_HOST_NONE) {
		size_t ul = strcspn(u.userinfo, ":");

		if (html_text_host(u.userinfo, ul, &t) == 0 &&
		    t.kind == HTML_HOST_NAME && (u.kind != HTML_HOST_NAME ||
		    !spam_html_same_org(h, t.host, u.host)))
			spam_add(h->r, "HTML_LINK_MISMATCH",
			    "userinfo=%s host=%s", t.host, u.host);
	}

	/* Where a redirector sends the reader: that host is checked and
	 * listed too, and it is what the text is compared with. */
	for (int i = 0; i < SPAM_HTML_UNWRAP_MAX && u.kind == HTML_HOST_NAME;
	    i++) {
		char *target = spam_html_unwrap(h->pool, href, &u);

		if (target == NULL || html_url_parse(target, strlen(target),
		    &w) < 0)
			break;
		href = target;
		u = w;
		spam_html_url_check(h, &u, PRIO_LINK);
	}

	/* The text against where the link goes. */
	if (l->text_len == 0 ||
	    html_text_host(l->text, l->text_len, &t) < 0)
		return;
	if (u.kind == HTML_HOST_NAME && t.kind == HTML_HOST_NAME) {
		if (spam_html_is_tracker(u.host) &&
		    (!spam_html_is_target(h, t.host) ||
		    spam_html_from_org(h, t.host)))
			return;
		same = spam_html_same_org(h, t.host, u.host);
	} else {
		same = t.kind == u.kind && strcmp(t.host, u.host) == 0;
	}
	if (same)
		return;
	spam_add(h->r, "HTML_LINK_MISMATCH", "text=%s href=%s", t.host,
	    u.host);
	if (u.kind == HTML_HOST_NAME)
		(void)spam_html_host_get(h, u.host, PRIO_FIRED);
}

/* A form, a refresh: posts or goes to another registered domain than
 * From:'s? */
static bool
spam_html_external(struct spam_html *h, const struct html_url *u)
{
	if (u->kind == HTML_HOST_NONE)
		return false;
	if (!h->have_from || u->kind != HTML_HOST_NAME)
		return true;
	return !spam_html_from_org(h, u->host);
}

static void
spam_html_doc(struct spam_html *h, const struct html_doc *d)
{
	struct html_url u;
	size_t i;

	for (i = 0; i < d->n_links; i++)
		spam_html_link(h, &d->links[i], d->base);

	for (i = 0; i < d->n_forms && h->links < SPAM_HTML_LINKS_MAX; i++) {
		const struct html_form *f = &d->forms[i];
		bool have = f->action != NULL && html_url_parse_ref(f->action,
		    strlen(f->action), d->base, &u) == 0;

		h->links++;
		if (have)
			spam_html_url_check(h, &u, PRIO_FORM);
		if (f->has_password)
			spam_add(h->r, "HTML_FORM_EXTERNAL",
			    "form with a password field%s%s",
			    have ? " to " : "", have ? u.host : "");
		else if (have && spam_html_external(h, &u))
			spam_add(h->r, "HTML_FORM_EXTERNAL", "action=%s",
			    u.host);
	}
	if (d->password_inputs > 0)
		spam_add(h->r, "HTML_FORM_EXTERNAL", "a password field");

	for (i = 0; i < d->n_refresh && h->links < SPAM_HTML_LINKS_MAX; i++) {
		h->links++;
		if (html_url_parse_ref(d->refresh[i], strlen(d->refresh[i]),
		    NULL, &u) < 0)
			continue;
		spam_html_url_check(h, &u, PRIO_FORM);
		if (spam_html_external(h, &u))
			spam_add(h->r, "HTML_META_REFRESH", "url=%s", u.host);
	}

	for (i = 0; i < d->n_imgs; i++)
		if (html_url_parse_ref(d->imgs[i], strlen(d->imgs[i]), d->base,
		    &u) == 0)
			spam_html_url_check(h, &u, PRIO_IMG);

	if (d->links_seen >= SPAM_HTML_NOTEXT_LINKS &&
	    d->text_chars < SPAM_HTML_NOTEXT_CHARS && !h->html_notext) {
		h->html_notext = true;
		h->notext_links = d->links_seen;
	}
}

/* Visible characters of a plain text: code points not white space. */
static size_t
spam_html_plain_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xC0) != 0x80 && c > 0x20)
			n++;
	}
	return n;
}

/* Plain-text URLs are found this many at a time. */
#define SPAM_HTML_URL_BATCH 64

static void
spam_html_plain(struct spam_html *h, const char *text, size_t len)
{
	struct html_text_url urls[SPAM_HTML_URL_BATCH];
	size_t off = 0, n, chars;
	struct html_url u;

	chars = spam_html_plain_chars(text, len);
	if (chars > h->plain_chars)
		h->plain_chars = chars;
	while (off < len && h->links < SPAM_HTML_LINKS_MAX) {
		n = html_text_urls(text + off, len - off, urls,
		    SPAM_HTML_URL_BATCH, NULL);
		if (n == 0)
			break;
		for (size_t i = 0; i < n && h->links < SPAM_HTML_LINKS_MAX;
		    i++) {
			h->links++;
			if (html_text_host(text + off + urls[i].off,
			    urls[i].len, &u) == 0)
				spam_html_url_check(h, &u, PRIO_LINK);
		}
		off += urls[n - 1].off + urls[n - 1].len;
	}
}

/* ---------------------------------------------------------------- */
/* Parts */

/* The next part in pre-order, or NULL. */
static const struct mime_part *
spam_html_part_next(const struct mime_part *p)
{
	if (p->n_children > 0)
		return &p->children[0];
	while (p->parent != NULL) {
		const struct mime_part *par = p->parent;
		size_t i = (size_t)(p - par->children);

		if (i + 1 < par->n_children)
			return &par->children[i + 1];
		p = par;
	}
	return NULL;
}

/* The decoded UTF-8 text of a part into out (max HTML_INPUT_MAX). */
static void
spam_html_part_text(const struct spam_msg *m, const struct mime_part *p,
    struct buf *out)
{
	const char *body = m->data + p->body_start, *cs, *error;
	size_t len = p->body_end - p->body_start;
	struct buf raw;

	buf_init(&raw, HTML_INPUT_MAX);
	if (mime_body_decode(p->encoding, body, len, &raw, &error) < 0 &&
	    raw.len == 0)
		(void)buf_append(&raw, body, len < HTML_INPUT_MAX ? len :
		    HTML_INPUT_MAX);
	cs = mime_param_get(p->params, p->n_params, "charset");
	if (cs == NULL || mime_charset_to_utf8(cs, raw.data, raw.len, out) < 0)
		mime_utf8_sanitize(raw.data, raw.len, out);
	buf_release(&raw);
}

static void
spam_html_parts(struct spam_html *h)
{
	const struct spam_msg *m = h->m;
	const struct mime_part *p;
	struct buf text;

	buf_init(&text, HTML_INPUT_MAX);
	for (p = m->root; p != NULL; p = spam_html_part_next(p)) {
		bool html, plain;

		if (p->is_multipart || p->is_message_rfc822 ||
		    strcmp(p->type, "text") != 0)
			continue;
		html = strcmp(p->subtype, "html") == 0;
		plain = strcmp(p->subtype, "plain") == 0;
		if (!html && !plain)
			continue;
		if (h->parts == SPAM_HTML_PARTS_MAX ||
		    h->bytes >= SPAM_HTML_BYTES_MAX)
			break;
		h->parts++;
		buf_reset(&text);
		spam_html_part_text(m, p, &text);
		if (text.len > SPAM_HTML_BYTES_MAX - h->bytes)
			text.len = SPAM_HTML_BYTES_MAX - h->bytes;
		h->bytes += text.len;
		if (html) {
			struct pool *pp = pool_new(64 * 1024);

			spam_html_doc(h, html_scan(text.data, text.len, pp));
			pool_free(&pp);
		} else {
			spam_html_plain(h, text.data, text.len);
		}
	}
	buf_release(&text);
}

/* ---------------------------------------------------------------- */

static void
spam_html_targets(struct spam_html *h)
{
	size_t nb = sizeof(spam_html_brands) / sizeof(spam_html_brands[0]);
	size_t nl = h->m->n_local_domains < SPAM_HTML_LOCAL_MAX ?
	    h->m->n_local_domains : SPAM_HTML_LOCAL_MAX;

	h->targets = pool_alloc(h->pool, (nb + nl) * sizeof(*h->targets));
	for (size_t i = 0; i < nl; i++) {
		struct spam_html_target *t = &h->targets[h->n_targets];

		t->domain = h->m->local_domains[i];
		t->local = true;
		if (spam_html_name_split(h, t->domain, &t->n) == 0)
			h->n_targets++;
	}
	for (size_t i = 0; i < nb; i++) {
		struct spam_html_target *t = &h->targets[h->n_targets];

		t->domain = spam_html_brands[i].domain;
		t->flags = spam_html_brands[i].flags;
		/* A brand that is also a hosted domain is not a lookalike
		 * target: it is us. */
		if (spam_msg_is_local_domain(h->m, t->domain,
		    strlen(t->domain)))
			continue;
		/* The list holds registered domains: no need to ask. */
		if (spam_html_name_from_org(t->domain, &t->n) == 0)
			h->n_targets++;
	}
}

/* The From: domain, as lower-case A-labels, into h. */
static void
spam_html_from(struct spam_html *h)
{
	char d[DNS_NAME_MAX + 1];
	const char *why;
	char *a = NULL;
	bool ascii = true;

	if (auth_check_from_domain(h->m->data, h->m->len, d, sizeof(d),
	    &why) != 0 || d[0] == '[')
		return;
	for (size_t i = 0; d[i] != '\0'; i++)
		if ((unsigned char)d[i] >= 0x80)
			ascii = false;
	if (!ascii) {
		if (idn2_to_ascii_8z(d, &a, IDN2_NONTRANSITIONAL) != IDN2_OK ||
		    strlen(a) >= sizeof(h->from)) {
			idn2_free(a);
			return;
		}
		memcpy(h->from, a, strlen(a) + 1);
		idn2_free(a);
	} else {
		memcpy(h->from, d, strlen(d) + 1);
	}
	if (spam_html_org(h->from, h->from_org, sizeof(h->from_org)) < 0)
		return;
	h->have_from = true;
}

void
spam_check_html(struct spam_msg *m, struct spam_result *r)
{
	struct spam_html h;

	memset(&h, 0, sizeof(h));
	h.m = m;
	h.r = r;
	h.pool = pool_new(16 * 1024);
	h.slots = pool_alloc(h.pool, SPAM_HTML_SLOTS * sizeof(*h.slots));
	h.order = pool_alloc(h.pool, SPAM_HTML_HOSTS_MAX * sizeof(*h.order));
	spam_html_targets(&h);
	spam_html_from(&h);
	if (h.have_from)
		(void)spam_html_name_check(&h, h.from, "from");

	if (m->root != NULL)
		spam_html_parts(&h);

	if (h.html_notext && h.plain_chars < SPAM_HTML_NOTEXT_CHARS)
		spam_add(r, "HTML_ONLY_NO_TEXT", "%zu links, no text",
		    h.notext_links);

	for (unsigned prio = 0; prio < PRIO_N; prio++)
		for (size_t i = 0; i < h.n_hosts; i++)
			if (h.order[i]->prio == prio)
				(void)spam_uris_add(&m->uris, m->pool,
				    h.order[i]->name, strlen(h.order[i]->name));
	pool_free(&h.pool);
}
