/*
 * test_spam_html.c - the phishing checks on whole messages (mime_parse,
 * then spam_check_html): each symbol fires on its crafted phishing
 * message, and none fires on a newsletter with many links, a reply with
 * a quoted link, or mail from paypal.com linking to paypal.com. Also the
 * link hosts handed to the URI blocklists, encodings, and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pool.h"
#include "filter/html.h"
#include "filter/spam-html.h"
#include "filter/spam.h"
#include "mime/mime.h"

/* This server hosts examplebank.org (and mail.corp.example). */
static const char *const locals[] = { "examplebank.org", "corp.example" };

static struct pool *pool;
static struct spam_msg m;
static struct spam_result r;

static int
setup(void **state)
{
	(void)state;
	pool = pool_new(64 * 1024);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pool_free(&pool);
	return 0;
}

/* Runs the checks on a whole message. */
static void
check_n(const char *msg, size_t len)
{
	struct mime_part *root;
	const char *error;

	assert_int_equal(mime_parse(msg, len, pool, &root, &error), 0);
	memset(&m, 0, sizeof(m));
	m.data = msg;
	m.len = len;
	m.root = root;
	m.pool = pool;
	m.hostname = "mx.examplebank.org";
	m.local_domains = locals;
	m.n_local_domains = 2;
	spam_result_init(&r, NULL);
	spam_check_html(&m, &r);
}

static void
check(const char *msg)
{
	check_n(msg, strlen(msg));
}

/* A one-part HTML message from address. */
static void
check_html(const char *from, const char *html)
{
	check(pool_printf(pool, "From: Sender <%s>\r\n"
	    "To: user@examplebank.org\r\nSubject: test\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n\r\n%s\r\n", from, html));
}

static void
check_plain(const char *from, const char *text)
{
	check(pool_printf(pool, "From: <%s>\r\nTo: user@examplebank.org\r\n"
	    "Subject: test\r\n\r\n%s\r\n", from, text));
}

/* The detail of symbol in r, or NULL if it is not there. */
static const char *
detail(const char *sym)
{
	int idx = spam_symbol_find(sym);

	assert_true(idx >= 0);
	for (size_t i = 0; i < r.n_hits; i++)
		if (r.hits[i].symbol == idx)
			return r.hits[i].detail;
	return NULL;
}

static void
fires(const char *sym, const char *in_detail)
{
	const char *d = detail(sym);

	if (d == NULL)
		fail_msg("%s did not fire", sym);
	if (in_detail != NULL && strstr(d, in_detail) == NULL)
		fail_msg("%s: detail '%s' lacks '%s'", sym, d, in_detail);
}

static void
quiet(const char *sym)
{
	const char *d = detail(sym);

	if (d != NULL)
		fail_msg("%s fired: %s", sym, d);
}

/* No symbol at all. */
static void
clean(void)
{
	if (r.n_hits > 0)
		fail_msg("%s fired: %s", spam_symbols[r.hits[0].symbol].name,
		    r.hits[0].detail);
}

/* Quoted-printable (RFC 2045 6.7) of s, lines of at most 76. */
static char *
qp_encode(const char *s)
{
	size_t n = strlen(s), o = 0, col = 0;
	char *out = pool_alloc(pool, n * 4 + 1);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (col >= 72) {
			memcpy(out + o, "=\r\n", 3);
			o += 3;
			col = 0;
		}
		if (c == '=' || c >= 0x80) {
			o += (size_t)snprintf(out + o, 4, "=%02X", c);
			col += 3;
		} else {
			out[o++] = (char)c;
			col++;
		}
	}
	out[o] = '\0';
	return out;
}

static bool
has_uri(const char *host)
{
	for (size_t i = 0; i < m.uris.n; i++)
		if (strcmp(m.uris.hosts[i], host) == 0)
			return true;
	return false;
}

static void
test_mismatch(void **state)
{
	(void)state;
	check_html("service@alerts.example",
	    "<p>Your account is limited. <a href=\"http://evil.example/login\">"
	    "www.paypal.com</a></p>");
	fires("HTML_LINK_MISMATCH", "text=www.paypal.com href=evil.example");
	/* The text a reader sees, through markup and entities. */
	check_html("a@alerts.example", "<a href=\"http://evil.example/\">"
	    "https://<b>www</b>.paypal&#46;com/signin</a>");
	fires("HTML_LINK_MISMATCH", "text=www.paypal.com");
	check_html("a@alerts.example", "<a href=\"http://evil.example/\">"
	    "PayPal.com</a>");
	fires("HTML_LINK_MISMATCH", "text=paypal.com href=evil.example");
	/* The userinfo trick, whatever the text. */
	check_html("a@alerts.example", "<a href=\"http://www.paypal.com@"
	    "evil.example/\">Log in</a>");
	fires("HTML_LINK_MISMATCH", "userinfo=www.paypal.com host=evil.example");
	/* A relative href goes where <base> says. */
	check_html("a@alerts.example", "<base href=\"http://evil.example/\">"
	    "<a href=\"/signin\">www.paypal.com</a>");
	fires("HTML_LINK_MISMATCH", "href=evil.example");
	/* The text shows an address, the link goes to a name. */
	check_html("a@alerts.example", "<a href=\"http://evil.example/\">"
	    "http://10.1.2.3/</a>");
	fires("HTML_LINK_MISMATCH", "text=10.1.2.3");

	/* Same registered domain: not a mismatch. */
	check_html("a@shop.example", "<a href=\"https://www.paypal.com/x\">"
	    "www.paypal.com</a> <a href=\"https://paypal.com\">PayPal.com</a>"
	    "<a href=\"http://www.example.com/\">example.com</a>"
	    "<a href=\"https://news.bbc.co.uk/a\">bbc.co.uk</a>");
	quiet("HTML_LINK_MISMATCH");
	/* Text that is not a domain name. */
	check_html("a@shop.example", "<a href=\"http://evil.example/\">Click "
	    "here</a> <a href=\"http://evil.example/\">index.html</a>"
	    "<a href=\"http://evil.example/\">invoice.zip</a>"
	    "<a href=\"http://evil.example/\">Visit paypal.com today</a>"
	    "<a href=\"mailto:x@evil.example\">support@paypal.com</a>"
	    "<a href=\"http://evil.example/\"><img src=logo.png alt="
	    "\"paypal.com\"></a>");
	quiet("HTML_LINK_MISMATCH");
	/* A different registered domain under one suffix. */
	check_html("a@shop.example", "<a href=\"https://news.bbc.co.uk/a\">"
	    "www.itv.co.uk</a>");
	fires("HTML_LINK_MISMATCH", "href=news.bbc.co.uk");
}

static void
test_redirectors(void **state)
{
	(void)state;
	/* Outlook Safe Links: the target is in url=. */
	check_html("a@corp.example", "<a href=\"https://nam02.safelinks."
	    "protection.outlook.com/?url=https%3A%2F%2Fwww.paypal.com%2Fsignin"
	    "&amp;data=05%7C01\">https://www.paypal.com/signin</a>");
	quiet("HTML_LINK_MISMATCH");
	check_html("a@corp.example", "<a href=\"https://nam02.safelinks."
	    "protection.outlook.com/?url=https%3A%2F%2Fevil.example%2Fsignin"
	    "&amp;data=05%7C01\">https://www.paypal.com/signin</a>");
	fires("HTML_LINK_MISMATCH", "href=evil.example");
	/* Proofpoint URL Defense v2 and v3. */
	check_html("a@corp.example", "<a href=\"https://urldefense.proofpoint"
	    ".com/v2/url?u=https-3A__evil.example_x&amp;d=DwMF\">"
	    "www.paypal.com</a>");
	fires("HTML_LINK_MISMATCH", "href=evil.example");
	check_html("a@corp.example", "<a href=\"https://urldefense.proofpoint"
	    ".com/v2/url?u=https-3A__www.paypal.com_x&amp;d=DwMF\">"
	    "www.paypal.com</a>");
	quiet("HTML_LINK_MISMATCH");
	check_html("a@corp.example", "<a href=\"https://urldefense.com/v3/"
	    "__https://evil.example/x__;!!ABC\">www.paypal.com</a>");
	fires("HTML_LINK_MISMATCH", "href=evil.example");
	/* Google's redirect, nested inside Safe Links. */
	check_html("a@corp.example", "<a href=\"https://eur01.safelinks."
	    "protection.outlook.com/?url=https%3A%2F%2Fwww.google.com%2Furl"
	    "%3Fq%3Dhttps%253A%252F%252Fevil.example%252F\">www.paypal.com"
	    "</a>");
	fires("HTML_LINK_MISMATCH", "href=evil.example");
	/* The target of a redirector is checked even when the text shows
	 * no host, and goes to the URI list. */
	check_html("a@corp.example", "<a href=\"https://nam02.safelinks."
	    "protection.outlook.com/?url=https%3A%2F%2Fpaypa1.com%2F\">Click "
	    "here</a>");
	fires("LOOKALIKE_BRAND", "paypa1.com");
	assert_true(has_uri("paypa1.com"));
	/* A bulk sender's click tracker: the target is opaque. */
	check_html("news@shop.example", "<a href=\"https://shop.us1.list-manage"
	    ".com/track/click?u=1&amp;id=2\">www.shop.example</a>");
	quiet("HTML_LINK_MISMATCH");
	/* ... unless the text shows a brand the sender is not. */
	check_html("news@shop.example", "<a href=\"https://shop.us1.list-manage"
	    ".com/track/click?u=1&amp;id=2\">www.paypal.com</a>");
	fires("HTML_LINK_MISMATCH", "text=www.paypal.com");
	check_html("news@paypal.com", "<a href=\"https://u1.ct.sendgrid.net/"
	    "ls/click?upn=x\">www.paypal.com</a>");
	quiet("HTML_LINK_MISMATCH");
}

static void
test_link_ip(void **state)
{
	(void)state;
	check_html("a@shop.example", "<a href=\"http://192.168.10.1/login\">"
	    "Log in</a>");
	fires("HTML_LINK_IP", "host=192.168.10.1");
	quiet("HTML_LINK_IP_ENCODED");
	check_html("a@shop.example", "<a href=\"http://3232235777/x\">Log in"
	    "</a>");
	fires("HTML_LINK_IP", "host=192.168.1.1");
	fires("HTML_LINK_IP_ENCODED", "host=192.168.1.1");
	check_html("a@shop.example", "<a href=\"http://0xC0.0250.1.1/\">x</a>");
	fires("HTML_LINK_IP_ENCODED", NULL);
	check_html("a@shop.example", "<a href=\"https://[2001:db8::1]/x\">x</a>");
	fires("HTML_LINK_IP", "host=2001:db8::1");
	/* Forms and plain text too. */
	check_html("a@shop.example", "<form action=\"http://10.0.0.1/p\">");
	fires("HTML_LINK_IP", NULL);
	check_plain("a@shop.example", "Confirm at http://0x7f000001/ now.");
	fires("HTML_LINK_IP", "host=127.0.0.1");
	fires("HTML_LINK_IP_ENCODED", NULL);
	/* An image from an address is not a link; an address is no URI. */
	check_html("a@shop.example", "<img src=\"http://10.0.0.1/p.gif\">"
	    "<a href=\"http://shop.example/\">shop</a>");
	quiet("HTML_LINK_IP");
	assert_int_equal(m.uris.n, 1);
	assert_string_equal(m.uris.hosts[0], "shop.example");
	/* A name that ends in digits is not an address. */
	check_html("a@shop.example", "<a href=\"http://123.shop.example/\">x"
	    "</a>");
	quiet("HTML_LINK_IP");
}

static void
test_shortener(void **state)
{
	(void)state;
	check_html("a@shop.example", "<a href=\"https://bit.ly/3xYz\">Your "
	    "parcel</a>");
	fires("URL_SHORTENER", "host=bit.ly");
	check_plain("a@shop.example", "Track it: https://tinyurl.com/abc");
	fires("URL_SHORTENER", "host=tinyurl.com");
	check_html("a@shop.example", "<a href=\"https://www.cutt.ly/x\">x</a>");
	fires("URL_SHORTENER", "host=www.cutt.ly");
	/* t.co in Twitter's own mail is not a sign. */
	check_html("info@twitter.com", "<a href=\"https://t.co/abc\">x</a>");
	quiet("URL_SHORTENER");
	check_html("info@shop.example", "<a href=\"https://t.co/abc\">x</a>");
	fires("URL_SHORTENER", "host=t.co");
	/* Not a shortener: a name that ends like one. */
	check_html("a@shop.example", "<a href=\"https://notbit.ly/x\">x</a>"
	    "<a href=\"https://bit.ly.shop.example/\">y</a>");
	quiet("URL_SHORTENER");
}

static void
test_lookalike_local(void **state)
{
	(void)state;
	/* Skeleton (1 for l), edit distance, transposition, rn for m,
	 * our domain inside another. */
	static const char *const hosts[] = {
		"examp1ebank.org", "examplebanc.org", "examplebnak.org",
		"exarnplebank.org", "login.examplebank.org.evil.test",
		"examplebank.org-secure.example", "examp1ebank.com",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		char *html = pool_printf(pool, "<a href=\"https://%s/login\">"
		    "Sign in</a>", hosts[i]);

		check_html("it@shop.example", html);
		if (strcmp(hosts[i], "examplebank.org-secure.example") == 0) {
			/* "examplebank.org-secure" is not our name as labels. */
			quiet("LOOKALIKE_LOCAL");
			continue;
		}
		fires("LOOKALIKE_LOCAL", hosts[i]);
		quiet("LOOKALIKE_BRAND");
	}
	/* The From: domain. */
	check_html("it-support@examp1ebank.org", "<p>Reset your password.</p>");
	fires("LOOKALIKE_LOCAL", "from=examp1ebank.org");
	check_plain("it@corp-example.example", "hello");
	quiet("LOOKALIKE_LOCAL");
	/* Ourselves, our subdomains, the same name elsewhere: no. */
	check_html("it@examplebank.org", "<a href=\"https://examplebank.org/\">"
	    "a</a><a href=\"https://webmail.examplebank.org/\">b</a>"
	    "<a href=\"https://examplebank.com/\">c</a>"
	    "<a href=\"https://corp.example/\">d</a>"
	    "<a href=\"https://www.examples.org/\">e</a>");
	quiet("LOOKALIKE_LOCAL");
	/* Short labels ("corp") get no edit-distance test, only skeletons. */
	check_html("a@shop.example", "<a href=\"https://carp.example/\">x</a>");
	quiet("LOOKALIKE_LOCAL");
	check_html("a@shop.example", "<a href=\"https://c0rp.example/\">x</a>");
	fires("LOOKALIKE_LOCAL", "c0rp.example");
}

static void
test_lookalike_brand(void **state)
{
	static const char *const bad[] = {
		"paypa1.com", "paypall.com", "paypai.com", "arnazon.com",
		"rnicrosoft.com", "g00gle.com", "vvellsfargo.com",
		"paypal.com.account-verify.example", "dh1.com",
		"netf1ix.net", "docusing.com",
	};
	static const char *const good[] = {
		"paypal.com", "www.paypal.com", "paypal.de", "paypal.co.uk",
		"amazon.co.jp", "ups.com", "www.ups.com", "apply.com",
		"chaser.example", "adore.example", "dhx.com", "paypalobjects.com",
		"mypaypal-news.example", "gmail.com", "icloud.com",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_html("a@shop.example", pool_printf(pool,
		    "<a href=\"https://%s/\">Verify</a>", bad[i]));
		fires("LOOKALIKE_BRAND", bad[i]);
		quiet("LOOKALIKE_LOCAL");
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		check_html("a@shop.example", pool_printf(pool,
		    "<a href=\"https://%s/\">Verify</a>", good[i]));
		quiet("LOOKALIKE_BRAND");
	}
	/* The From: domain too. */
	check_plain("service@paypa1.com", "Your account");
	fires("LOOKALIKE_BRAND", "from=paypa1.com");
	check_plain("service@paypal.com", "Your account");
	clean();
}

static void
test_homograph(void **state)
{
	(void)state;
	/* p + Cyrillic а + ypal: mixed scripts and a brand's skeleton. */
	check_html("a@shop.example", "<a href=\"https://xn--pypal-4ve.com/\">"
	    "Sign in</a>");
	fires("IDN_HOMOGRAPH", "xn--pypal-4ve.com");
	fires("LOOKALIKE_BRAND", "confusable paypal.com");
	/* Written in UTF-8 in the href: the same host. */
	check_html("a@shop.example", "<a href=\"https://p\xd0\xb0ypal.com/\">"
	    "Sign in</a>");
	fires("IDN_HOMOGRAPH", "xn--pypal-4ve.com");
	/* All Cyrillic (no mixing): аррӏе is apple by its skeleton. */
	check_html("a@shop.example", "<a href=\"https://\xd0\xb0\xd1\x80\xd1\x80"
	    "\xd3\x8f\xd0\xb5.com/\">Sign in</a>");
	fires("IDN_HOMOGRAPH", "looks like apple.com");
	/* Greek ο in google. */
	check_html("a@shop.example", "<a href=\"https://g\xce\xbf\xce\xbfgle.com/"
	    "\">x</a>");
	fires("IDN_HOMOGRAPH", NULL);
	fires("LOOKALIKE_BRAND", "google.com");
	/* Mixed scripts imitating nothing still fire. */
	check_html("a@shop.example", "<a href=\"https://p\xd0\xb0yroll.example/"
	    "\">x</a>");
	fires("IDN_HOMOGRAPH", "mixed scripts");
	quiet("LOOKALIKE_BRAND");
	/* A hosted domain imitated in the From: address (UTF-8, RFC 6532). */
	check_plain("it@ex\xd0\xb0mplebank.org", "Reset your password");
	fires("IDN_HOMOGRAPH", "from=");
	fires("LOOKALIKE_LOCAL", "from=");
	/* Real IDNs are fine. */
	check_html("a@shop.example", "<p>Partner sites in Germany, Japan and "
	    "Russia:</p><a href=\"https://m\xc3\xbcnchen.de/\">"
	    "m\xc3\xbcnchen.de</a><a href=\"https://xn--bcher-kva.example/\">"
	    "b</a><a href=\"https://\xe4\xbe\x8b\xe3\x81\x88.jp/\">c</a>"
	    "<a href=\"https://\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80."
	    "\xd1\x80\xd1\x84/\">d</a>");
	clean();
}

static void
test_forms(void **state)
{
	(void)state;
	check_html("billing@shop.example", "<form action=\"https://collect."
	    "evil.example/p\" method=post><input name=card></form>");
	fires("HTML_FORM_EXTERNAL", "action=collect.evil.example");
	/* A password field: always. */
	check_html("it@shop.example", "<form action=\"https://www.shop.example"
	    "/login\"><input type=password name=p></form>");
	fires("HTML_FORM_EXTERNAL", "password");
	check_html("it@shop.example", "<input type=\"password\">");
	fires("HTML_FORM_EXTERNAL", "password");
	/* A form to the sender's own site, without a password: no. */
	check_html("survey@shop.example", "<form action=\"https://www.shop."
	    "example/survey\"><input type=radio name=q></form>"
	    "<form action=\"/rel\"></form><form></form>");
	quiet("HTML_FORM_EXTERNAL");
	/* A relative action resolved against <base>. */
	check_html("a@shop.example", "<base href=\"https://evil.example/\">"
	    "<form action=\"post.php\"></form>");
	fires("HTML_FORM_EXTERNAL", "evil.example");
	/* No From: any form that posts somewhere is external. */
	check("Subject: x\r\nContent-Type: text/html\r\n\r\n"
	    "<form action=\"https://shop.example/x\"></form>\r\n");
	fires("HTML_FORM_EXTERNAL", NULL);
	/* The form's host goes to the URI lists before links. */
	assert_true(has_uri("shop.example"));
}

static void
test_refresh(void **state)
{
	(void)state;
	check_html("a@shop.example", "<meta http-equiv=\"refresh\" content="
	    "\"0; url=https://evil.example/x\">");
	fires("HTML_META_REFRESH", "url=evil.example");
	assert_true(has_uri("evil.example"));
	check_html("a@shop.example", "<meta http-equiv=\"refresh\" content="
	    "\"0; url=https://www.shop.example/x\"><meta http-equiv=refresh "
	    "content=30><meta http-equiv=refresh content=\"5; url=/x\">");
	quiet("HTML_META_REFRESH");
	check_html("a@shop.example", "<meta http-equiv=\"refresh\" content="
	    "\"0; url=http://3232235777/\">");
	fires("HTML_META_REFRESH", NULL);
	fires("HTML_LINK_IP_ENCODED", NULL);
}

static void
test_no_text(void **state)
{
	(void)state;
	/* Image spam: three linked images, nothing to read. */
	check_html("a@shop.example", "<a href=\"https://x.example/1\"><img src="
	    "\"https://x.example/a.jpg\"></a><a href=\"https://x.example/2\">"
	    "<img src=\"https://x.example/b.jpg\"></a><a href=\"https://x."
	    "example/3\">Go</a>");
	fires("HTML_ONLY_NO_TEXT", "3 links");
	/* Two links are not many. */
	check_html("a@shop.example", "<a href=\"https://x.example/1\"><img></a>"
	    "<a href=\"https://x.example/2\"><img></a>");
	quiet("HTML_ONLY_NO_TEXT");
	/* Enough text. */
	check_html("a@shop.example", "<a href=\"https://x.example/1\">1</a>"
	    "<a href=\"https://x.example/2\">2</a><a href=\"https://x.example/"
	    "3\">3</a><p>Dear customer, here is the list of this week's "
	    "offers.</p>");
	quiet("HTML_ONLY_NO_TEXT");
	/* Script and comments are not text. */
	check_html("a@shop.example", "<!-- a long comment that is not text at "
	    "all, none of it --><script>var not_text = 'xxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxx';</script><a href=\"https://x.example/1\">"
	    "</a><a href=\"https://x.example/2\"></a><a href=\"https://x."
	    "example/3\"></a>");
	fires("HTML_ONLY_NO_TEXT", NULL);
	/* A text/plain alternative with text: not "only". */
	check("From: a@shop.example\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\n"
	    "Dear customer, here is the list of this week's offers.\r\n"
	    "--b\r\nContent-Type: text/html\r\n\r\n"
	    "<a href=\"https://x.example/1\"><img></a><a href=\"https://x."
	    "example/2\"><img></a><a href=\"https://x.example/3\"><img></a>\r\n"
	    "--b--\r\n");
	quiet("HTML_ONLY_NO_TEXT");
}

/* A newsletter with many links: tracked, social, images, footer. */
static void
test_ham_newsletter(void **state)
{
	char *html = "";
	const char *plain;

	(void)state;
	for (int i = 0; i < 30; i++)
		html = pool_printf(pool, "%s<tr><td><a href=\"https://shop.us1."
		    "list-manage.com/track/click?u=abc&amp;id=%d\"><img src="
		    "\"https://cdn.shop.example/i/%d.jpg\" alt=\"Offer %d\"></a>"
		    "<h2><a href=\"https://www.shop.example/p/%d?utm_source=news"
		    "\">Spring jacket, model %d</a></h2><p>Warm, light and "
		    "waterproof. Now 20%% off until Sunday.</p></td></tr>",
		    html, i, i, i, i, i);
	html = pool_printf(pool, "<html><head><title>News</title><style>td "
	    "{ padding: 4px }</style></head><body><a href=\"https://www.shop."
	    "example/view/123\">View this email in your browser</a><table>%s"
	    "</table><p><a href=\"https://www.facebook.com/shopexample\">"
	    "Facebook</a> <a href=\"https://www.instagram.com/shopexample\">"
	    "Instagram</a> <a href=\"https://twitter.com/shopexample\">X</a>"
	    " <a href=\"https://www.linkedin.com/company/shop\">LinkedIn</a>"
	    "</p><p>Shop Example Ltd, 1 High Street. <a href=\"https://www."
	    "shop.example/\">www.shop.example</a> | <a href=\"https://shop.us1."
	    "list-manage.com/track/click?u=abc&amp;id=99\">www.shop.example"
	    "</a> | <a href=\"https://shop.us1.list-manage.com/unsubscribe?u="
	    "abc\">Unsubscribe</a> | <a href=\"mailto:help@shop.example\">"
	    "help@shop.example</a></p><img src=\"https://shop.us1.list-manage"
	    ".com/track/open.php?u=abc\" width=1 height=1></body></html>",
	    html);
	plain = "Spring offers at https://www.shop.example/ - unsubscribe: "
	    "https://shop.us1.list-manage.com/unsubscribe?u=abc";
	html = qp_encode(html);
	check(pool_printf(pool, "From: Shop Example <news@shop.example>\r\n"
	    "To: user@examplebank.org\r\nSubject: Spring offers\r\n"
	    "List-Id: <news.shop.example>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"==b\"\r\n\r\n"
	    "--==b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n"
	    "--==b\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n"
	    "--==b--\r\n", plain, html));
	clean();
	/* The hosts, for the URI blocklists: links before images. */
	assert_true(has_uri("www.shop.example"));
	assert_true(has_uri("shop.us1.list-manage.com"));
	assert_true(has_uri("www.facebook.com"));
	assert_true(has_uri("cdn.shop.example"));
	for (size_t i = 0; i < m.uris.n; i++)
		if (strcmp(m.uris.hosts[i], "cdn.shop.example") == 0)
			assert_int_equal(i, m.uris.n - 1);
}

static void
test_ham_reply(void **state)
{
	(void)state;
	check("From: Ana <ana@partner.example>\r\nTo: bob@examplebank.org\r\n"
	    "Subject: Re: the document\r\nIn-Reply-To: <1@examplebank.org>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "Thanks, I will read it tonight.\r\n\r\n"
	    "On Monday, Bob wrote:\r\n"
	    "> Here it is: https://docs.examplebank.org/d/42 (the draft).\r\n"
	    "> Also see www.partner.example/faq.\r\n"
	    "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	    "<div>Thanks, I will read it tonight.</div><blockquote>Here it is:"
	    " <a href=\"https://docs.examplebank.org/d/42\">https://docs."
	    "examplebank.org/d/42</a> (the draft).<br>Also see <a href=\""
	    "http://www.partner.example/faq\">www.partner.example/faq</a>."
	    "</blockquote>\r\n--b--\r\n");
	clean();
	assert_true(has_uri("docs.examplebank.org"));
	assert_true(has_uri("www.partner.example"));
}

static void
test_ham_paypal(void **state)
{
	(void)state;
	check("From: PayPal <service@paypal.com>\r\nTo: bob@examplebank.org\r\n"
	    "Subject: Your receipt\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/html; charset=\"UTF-8\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    /* base64 of: the receipt (PayPal links, a paypalobjects.com logo) */
	    "PGltZyBzcmM9Imh0dHBzOi8vd3d3LnBheXBhbG9iamVjdHMuY29tL2xvZ28ucG5n\r\n"
	    "Ij48cD5Zb3UgcGFpZCAxMi4wMCBFVVIgdG8gU2hvcCBFeGFtcGxlLjwvcD48YSBo\r\n"
	    "cmVmPSJodHRwczovL3d3dy5wYXlwYWwuY29tL215YWNjb3VudC9hY3Rpdml0eSI+\r\n"
	    "aHR0cHM6Ly93d3cucGF5cGFsLmNvbS9teWFjY291bnQ8L2E+IDxhIGhyZWY9Imh0\r\n"
	    "dHBzOi8vd3d3LnBheXBhbC5jb20vIj5QYXlQYWwuY29tPC9hPiA8YSBocmVmPSJo\r\n"
	    "dHRwczovL3d3dy5wYXlwYWwuY29tL3VzL3NtYXJ0L2NvbnRhY3QiPkhlbHAgJmFt\r\n"
	    "cDsgQ29udGFjdDwvYT4gPGEgaHJlZj0iaHR0cHM6Ly9wYXlwYWwubWUvc2hvcCI+\r\n"
	    "cGF5cGFsLm1lL3Nob3A8L2E+\r\n");
	clean();
	assert_true(has_uri("www.paypal.com"));
	assert_true(has_uri("www.paypalobjects.com"));
	/* The same links from someone else are still fine: they are
	 * PayPal's own. */
	check_html("receipts@shop.example", "<a href=\"https://www.paypal.com/"
	    "\">www.paypal.com</a>");
	clean();
}

static void
test_encodings(void **state)
{
	(void)state;
	/* Quoted-printable: =3D and soft breaks inside the href. */
	check("From: a@shop.example\r\nContent-Type: text/html\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "<a href=3D\"http://ev=\r\nil.example/\">www.pay=\r\npal.com</a>\r\n");
	fires("HTML_LINK_MISMATCH", "text=www.paypal.com href=evil.example");
	/* ISO-8859-1 text. */
	check("From: a@shop.example\r\n"
	    "Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
	    "<p>Caf\xe9</p><a href=\"http://evil.example/\">paypal.com</a>\r\n");
	fires("HTML_LINK_MISMATCH", NULL);
	/* An HTML attachment inside a forwarded message. */
	check("From: a@shop.example\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
	    "--o\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	    "--o\r\nContent-Type: message/rfc822\r\n\r\n"
	    "From: b@other.example\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=i\r\n\r\n"
	    "--i\r\nContent-Type: text/html; name=login.html\r\n"
	    "Content-Disposition: attachment; filename=login.html\r\n\r\n"
	    "<form action=\"https://evil.example/c\"><input type=password>"
	    "</form>\r\n--i--\r\n--o--\r\n");
	fires("HTML_FORM_EXTERNAL", "password");
	/* An unknown transfer encoding: the raw body is read. */
	check("From: a@shop.example\r\nContent-Type: text/html\r\n"
	    "Content-Transfer-Encoding: x-weird\r\n\r\n"
	    "<a href=\"https://bit.ly/x\">x</a>\r\n");
	fires("URL_SHORTENER", NULL);
	/* Other types are not read. */
	check("From: a@shop.example\r\nContent-Type: application/octet-stream"
	    "\r\n\r\n<a href=\"https://bit.ly/x\">x</a>\r\n");
	clean();
}

static void
test_uris_order(void **state)
{
	char *html = "";

	(void)state;
	/* 80 harmless hosts, then the lookalike: it still reaches the
	 * URI list, which holds SPAM_URI_HOSTS_MAX. */
	for (int i = 0; i < 80; i++)
		html = pool_printf(pool, "%s<a href=\"https://h%d.shop.example/"
		    "\">x</a>", html, i);
	html = pool_printf(pool, "%s<a href=\"https://paypa1.com/\">x</a>"
	    "<a href=\"HTTPS://WWW.Shop.Example./\">y</a>", html);
	check_html("a@shop.example", html);
	fires("LOOKALIKE_BRAND", NULL);
	assert_int_equal(m.uris.n, SPAM_URI_HOSTS_MAX);
	assert_string_equal(m.uris.hosts[0], "paypa1.com");
	assert_string_equal(m.uris.hosts[1], "h0.shop.example");
	/* Lower case, no trailing dot, each once. */
	check_html("a@shop.example", "<a href=\"HTTPS://WWW.Shop.Example./\">y"
	    "</a><a href=\"https://www.shop.example/x\">z</a>");
	assert_int_equal(m.uris.n, 1);
	assert_string_equal(m.uris.hosts[0], "www.shop.example");
}

static void
test_hostile(void **state)
{
	size_t n = 100000, len;
	char *msg, *p;
	const char *hdr = "From: a@shop.example\r\nContent-Type: text/html\r\n"
	    "\r\n";

	(void)state;
	/* 100,000 links to distinct hosts. */
	msg = malloc(strlen(hdr) + n * 40 + 1);
	assert_non_null(msg);
	p = msg + strlen(hdr);
	memcpy(msg, hdr, strlen(hdr));
	for (size_t i = 0; i < n; i++)
		p += snprintf(p, 40, "<a href=//h%zu.x.example>x</a>", i);
	len = (size_t)(p - msg);
	check_n(msg, len);
	assert_int_equal(m.uris.n, SPAM_URI_HOSTS_MAX);
	free(msg);

	/* No MIME tree, an empty message, a header only. */
	memset(&m, 0, sizeof(m));
	m.data = "";
	m.pool = pool;
	spam_result_init(&r, NULL);
	spam_check_html(&m, &r);
	clean();
	check("");
	clean();
	check("From: a@shop.example\r\n");
	clean();

	/* More text parts than SPAM_HTML_PARTS_MAX: the rest are not read. */
	for (int k = 0; k <= 1; k++) {
		char *body = "";

		for (int i = 0; i < SPAM_HTML_PARTS_MAX - 1 + k; i++)
			body = pool_printf(pool, "%s--b\r\nContent-Type: "
			    "text/plain\r\n\r\nhello\r\n", body);
		check(pool_printf(pool, "From: a@shop.example\r\n"
		    "Content-Type: multipart/mixed; boundary=b\r\n\r\n%s"
		    "--b\r\nContent-Type: text/plain\r\n\r\n"
		    "https://bit.ly/x\r\n--b--\r\n", body));
		if (k == 0)
			fires("URL_SHORTENER", NULL);
		else
			quiet("URL_SHORTENER");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirectors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_link_ip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shortener, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookalike_local, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookalike_brand, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_homograph, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ham_newsletter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ham_reply, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ham_paypal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_encodings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_uris_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
