/*
 * test_html.c - the HTML link scanner (valid, malformed and hostile
 * markup, every limit at max-1/max/max+1, byte-at-a-time feeding), the
 * plain-text URL finder, the URL host parser with the tricks phishers
 * use, the text-shows-a-domain test, skeletons, mixed scripts and the
 * edit distance (filter/html.h).
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
#include "core/utf8.h"
#include "filter/html.h"

static struct pool *pool;

/* malloc that never returns NULL (tests abort instead). */
static void *
test_alloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		abort();
	return p;
}

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

/* Scans s whole, and again one byte at a time; both must agree. */
static const struct html_doc *
scan_n(const char *s, size_t len)
{
	const struct html_doc *d = html_scan(s, len, pool), *b;
	struct html_scanner *sc = html_scanner_new(pool);
	size_t i;

	for (i = 0; i < len; i++)
		html_scanner_feed(sc, s + i, 1);
	b = html_scanner_finish(sc);
	assert_int_equal(d->n_links, b->n_links);
	assert_int_equal(d->links_seen, b->links_seen);
	for (i = 0; i < d->n_links; i++) {
		assert_int_equal(d->links[i].href_len, b->links[i].href_len);
		assert_memory_equal(d->links[i].href, b->links[i].href,
		    d->links[i].href_len);
		assert_string_equal(d->links[i].text, b->links[i].text);
		assert_int_equal(d->links[i].is_area, b->links[i].is_area);
		/* Link text is always UTF-8, hrefs never hold NUL. */
		assert_true(utf8_valid(d->links[i].text, d->links[i].text_len));
		assert_int_equal(strlen(d->links[i].href), d->links[i].href_len);
	}
	assert_int_equal(d->n_forms, b->n_forms);
	for (i = 0; i < d->n_forms; i++) {
		assert_int_equal(d->forms[i].has_password,
		    b->forms[i].has_password);
		if (d->forms[i].action == NULL)
			assert_null(b->forms[i].action);
		else
			assert_string_equal(d->forms[i].action,
			    b->forms[i].action);
	}
	assert_int_equal(d->password_inputs, b->password_inputs);
	if (d->base == NULL)
		assert_null(b->base);
	else
		assert_string_equal(d->base, b->base);
	assert_int_equal(d->n_imgs, b->n_imgs);
	for (i = 0; i < d->n_imgs; i++)
		assert_string_equal(d->imgs[i], b->imgs[i]);
	assert_int_equal(d->n_refresh, b->n_refresh);
	for (i = 0; i < d->n_refresh; i++)
		assert_string_equal(d->refresh[i], b->refresh[i]);
	assert_int_equal(d->text_chars, b->text_chars);
	assert_int_equal(d->attrs_cut, b->attrs_cut);
	return d;
}

static const struct html_doc *
scan(const char *s)
{
	return scan_n(s, strlen(s));
}

/* The one link of s: its href and text. */
static void
one_link(const char *s, const char *href, const char *text)
{
	const struct html_doc *d = scan(s);

	assert_int_equal(d->n_links, 1);
	assert_string_equal(d->links[0].href, href);
	assert_string_equal(d->links[0].text, text);
}

static void
no_link(const char *s)
{
	assert_int_equal(scan(s)->n_links, 0);
}

static void
test_links_valid(void **state)
{
	const struct html_doc *d;

	(void)state;
	one_link("<a href=\"http://a.example/\">A</a>", "http://a.example/",
	    "A");
	one_link("<a href='http://a.example/'>A</a>", "http://a.example/", "A");
	one_link("<a href=http://a.example/>A</a>", "http://a.example/", "A");
	one_link("<A HREF=\"x\" CLASS=b>A</A>", "x", "A");
	one_link("<a class=\"b\" target=_blank\nhref = \"x\" >A</a>", "x", "A");
	/* Tags inside the text are stripped, a block tag is a space. */
	one_link("<a href=x><b>www.pay</b><span>pal</span>.com</a>", "x",
	    "www.paypal.com");
	one_link("<a href=x>one<br>two</a>", "x", "one two");
	one_link("<a href=x>  one \t\r\n two   </a>", "x", "one two");
	one_link("<a href=x>one&nbsp;&nbsp;two</a>", "x", "one two");
	one_link("<a href=x>one\xc2\xa0two</a>", "x", "one two");
	/* Invisible characters and soft hyphens go. */
	one_link("<a href=x>pay\xe2\x80\x8bpal&shy;.com</a>", "x",
	    "paypal.com");
	one_link("<a href=x>pay&zwj;pal&#8203;.com</a>", "x", "paypal.com");
	/* Entities in text and in the href. */
	one_link("<a href=\"a?x=1&amp;y=2\">&lt;www&period;b&#46;c&#x2E;d&gt;"
	    "</a>", "a?x=1&y=2", "<www.b.c.d>");
	one_link("<a href=\"http&#58;//e&#x76;il.example\">t</a>",
	    "http://evil.example", "t");
	/* UTF-8 text passes. */
	one_link("<a href=x>caf\xc3\xa9 \xe2\x82\xac</a>", "x",
	    "caf\xc3\xa9 \xe2\x82\xac");

	/* A new <a> closes the open one; </a> closes it; text after is
	 * not link text. */
	d = scan("<a href=1>one<a href=2>two</a>three");
	assert_int_equal(d->n_links, 2);
	assert_string_equal(d->links[0].text, "one");
	assert_string_equal(d->links[1].text, "two");
	assert_int_equal(d->text_chars, 3 + 3 + 5);
	/* <a> without href is no link but closes the open one. */
	d = scan("<a href=1>one<a name=x>two</a>");
	assert_int_equal(d->n_links, 1);
	assert_string_equal(d->links[0].text, "one");
	/* <area> has no text and does not disturb an open <a>. */
	d = scan("<a href=1>o<area href=2>ne</a>");
	assert_int_equal(d->n_links, 2);
	assert_string_equal(d->links[0].text, "one");
	assert_string_equal(d->links[1].href, "2");
	assert_true(d->links[1].is_area);
	assert_string_equal(d->links[1].text, "");
	/* An image link has no text; the image is a space. */
	one_link("<a href=x><img src=i.png></a>", "x", "");
	one_link("<a href=x>a<img src=i.png>b</a>", "x", "a b");
	/* VML buttons in Outlook's conditional comments are links. */
	d = scan("<!--[if mso]><v:roundrect href=\"http://v.example/\">"
	    "<center>Pay now</center></v:roundrect><![endif]-->"
	    "<!--[if !mso]><!--><a href=\"http://a.example/\">Pay</a>"
	    "<!--<![endif]-->");
	assert_int_equal(d->n_links, 2);
	assert_string_equal(d->links[0].href, "http://v.example/");
	assert_string_equal(d->links[0].text, "Pay now");
	assert_string_equal(d->links[1].href, "http://a.example/");
	assert_string_equal(d->links[1].text, "Pay");
	/* An unterminated link ends at the end. */
	one_link("<a href=x>open to the end", "x", "open to the end");
}

static void
test_comments_raw(void **state)
{
	const struct html_doc *d;

	(void)state;
	no_link("<!-- <a href=x>no</a> -->");
	no_link("<!-- a -- b <a href=x> -- -->");
	no_link("<!-- <a href=x> --!>");
	no_link("<!DOCTYPE html><?xml <a href=x>?>");
	/* "<!-->" and "<!--->" close at once (HTML5). */
	one_link("<!--><a href=x>y</a>", "x", "y");
	one_link("<!---><a href=x>y</a>", "x", "y");
	/* "--!>" closes too; "- ->" does not. */
	one_link("<!-- c --!><a href=x>y</a>", "x", "y");
	no_link("<!-- c - -><a href=x>y</a>");
	/* A bogus comment ends at the first '>'. */
	one_link("<!x <b> ><a href=x>y</a>", "x", "y");
	one_link("</ x><a href=x>y</a>", "x", "y");
	/* Script and style hold no markup and no text. */
	d = scan("<script>var a = '<a href=x>no</a>';</script>"
	    "<style>a { color: red }</style>t");
	assert_int_equal(d->n_links, 0);
	assert_int_equal(d->text_chars, 1);
	no_link("<SCRIPT>x</scripty><a href=x>no</a></script >");
	one_link("<script>x</SCRIPT/><a href=x>yes</a>", "x", "yes");
	no_link("<title><a href=x>t</a></title>");
	no_link("<textarea><a href=x>t</a></textarea>");
	/* An unterminated script swallows the rest. */
	no_link("<script><a href=x>no</a>");
	/* "<" that starts no tag is text. */
	d = scan("a < b <3 <a href=x>y</a>");
	assert_int_equal(d->n_links, 1);
	assert_int_equal(d->text_chars, 1 + 1 + 1 + 2 + 1);
}

static void
test_forms_meta(void **state)
{
	const struct html_doc *d;

	(void)state;
	d = scan("<form action=\"https://f.example/p\" method=post>"
	    "<input type=text name=u><input TYPE=\"Password\" name=p></form>"
	    "<form><input type=submit></form>");
	assert_int_equal(d->n_forms, 2);
	assert_string_equal(d->forms[0].action, "https://f.example/p");
	assert_true(d->forms[0].has_password);
	assert_null(d->forms[1].action);
	assert_false(d->forms[1].has_password);
	assert_int_equal(d->password_inputs, 1);
	/* A form inside a form is ignored, as HTML5 does. */
	d = scan("<form action=a><form action=b><input type=password></form>");
	assert_int_equal(d->n_forms, 1);
	assert_string_equal(d->forms[0].action, "a");
	assert_true(d->forms[0].has_password);
	/* A password field outside any form still counts. */
	d = scan("<input type=password>");
	assert_int_equal(d->n_forms, 0);
	assert_int_equal(d->password_inputs, 1);
	/* type=pass&#119;ord is a password field too. */
	assert_int_equal(scan("<input type=\"pass&#119;ord\">")->
	    password_inputs, 1);

	/* The first <base href> counts. */
	d = scan("<base target=x><base href=\"http://b1.example/\">"
	    "<base href=http://b2.example/>");
	assert_string_equal(d->base, "http://b1.example/");
	d = scan("<img src=\"http://i.example/p.gif\" width=1><img alt=x>"
	    "<IMG SRC=//j.example/q>");
	assert_int_equal(d->n_imgs, 2);
	assert_int_equal(d->imgs_seen, 2);
	assert_string_equal(d->imgs[0], "http://i.example/p.gif");
	assert_string_equal(d->imgs[1], "//j.example/q");

	/* Refresh: the URL in its forms. */
	d = scan("<meta http-equiv=\"refresh\" content=\"0; url=http://r1/\">"
	    "<META HTTP-EQUIV=REFRESH CONTENT=\"5;URL='http://r2/x'\">"
	    "<meta http-equiv=refresh content=\"3\">"
	    "<meta http-equiv=refresh content=\"1, http://r3/\">"
	    "<meta http-equiv=refresh content=\"x; url=http://no/\">"
	    "<meta http-equiv=content-type content=\"0; url=http://no/\">"
	    "<meta http-equiv=refresh content='0 ; url = \"http://r4/\"'>");
	assert_int_equal(d->n_refresh, 5);
	assert_string_equal(d->refresh[0], "http://r1/");
	assert_string_equal(d->refresh[1], "http://r2/x");
	assert_string_equal(d->refresh[2], "");
	assert_string_equal(d->refresh[3], "http://r3/");
	assert_string_equal(d->refresh[4], "http://r4/");
}

static void
test_malformed(void **state)
{
	const struct html_doc *d;
	static const char nul_name[] = "<a\0 href=x>y</a>";
	static const char nul_value[] = "<a href=\"ev\0il\">y</a>";
	static const char nul_text[] = "<a href=x>pay\0pal</a>";
	static const char nul_attr[] = "<a h\0ref=x>y</a>";

	(void)state;
	/* A tag cut by the end of input is dropped (HTML5 EOF). */
	no_link("<a href=\"http://evil.example/");
	no_link("<a href=x");
	no_link("<a href=");
	no_link("<a");
	d = scan("text <");
	assert_int_equal(d->text_chars, 5);
	d = scan("text </");
	assert_int_equal(d->text_chars, 6);
	/* An unterminated quote runs on, as in a browser. */
	one_link("<a href=\"x>no</a><a href=\"y\">z</a>",
	    "x>no</a><a href=", "z");
	/* Quotes inside other quotes and stray quotes. */
	one_link("<a href=\"it's\">q</a>", "it's", "q");
	one_link("<a href='say \"hi\"'>q</a>", "say \"hi\"", "q");
	one_link("<a href=a\"b'c>q</a>", "a\"b'c", "q");
	one_link("<a title=\"x\"href=\"y\">q</a>", "y", "q");
	one_link("<a \"junk\" href=y>q</a>", "y", "q");
	/* Attributes without value, a slash between them, self-closing. */
	one_link("<a download href>q</a>", "", "q");
	one_link("<a/href=x>q</a>", "x", "q");
	one_link("<a href=x/>q</a>", "x/", "q");
	/* The first of duplicate attributes wins. */
	one_link("<a href=first href=second>q</a>", "first", "q");
	/* An end tag with attributes is an end tag. */
	one_link("<a href=x>q</a href=y>after", "x", "q");
	/* NUL: no tag name, no attribute name, U+FFFD in values, dropped
	 * from text. */
	assert_int_equal(scan_n(nul_name, sizeof(nul_name) - 1)->n_links, 0);
	d = scan_n(nul_value, sizeof(nul_value) - 1);
	assert_int_equal(d->n_links, 1);
	assert_string_equal(d->links[0].href, "ev\xef\xbf\xbdil");
	d = scan_n(nul_text, sizeof(nul_text) - 1);
	assert_string_equal(d->links[0].text, "paypal");
	assert_int_equal(scan_n(nul_attr, sizeof(nul_attr) - 1)->n_links, 0);
	/* Broken UTF-8 in text becomes U+FFFD. */
	one_link("<a href=x>a\xff" "b\xc3</a>", "x", "a\xef\xbf\xbd" "b"
	    "\xef\xbf\xbd");
	one_link("<a href=x>\xe2\x82</a>", "x", "\xef\xbf\xbd");
	/* Character references. */
	one_link("<a href=x>&amp &ampx &amp;x &unknown; &#x41;&#66&#0;"
	    "&#x110000;&#xD800;&#; &#x;&</a>", "x",
	    "& &x &x &unknown; AB\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd&#; "
	    "&#x;&");
	/* In attributes, "&lt=" and "&ltx" are not references. */
	one_link("<a href=\"?a&lt=1&ltb=2&lt;3&amp\">q</a>",
	    "?a&lt=1&ltb=2<3&", "q");
}

static void
test_limit_input(void **state)
{
	const char *link = "<a href=u>";
	size_t ll = strlen(link);
	char *buf = test_alloc(HTML_INPUT_MAX + 16);
	const struct html_doc *d;

	(void)state;
	/* The link's '>' at byte max-2, max-1 (the last read), max. */
	for (int k = -1; k <= 1; k++) {
		size_t end = HTML_INPUT_MAX + (size_t)k;	/* after '>' */

		memset(buf, ' ', end - ll);
		memcpy(buf + end - ll, link, ll);
		memset(buf + end, ' ', 8);
		d = html_scan(buf, end + 8, pool);
		assert_int_equal(d->bytes, HTML_INPUT_MAX);
		assert_true(d->input_cut);
		assert_int_equal(d->links_seen, k <= 0 ? 1 : 0);
	}
	/* Exactly max bytes: nothing cut. */
	memset(buf, 'x', HTML_INPUT_MAX);
	d = html_scan(buf, HTML_INPUT_MAX, pool);
	assert_false(d->input_cut);
	assert_int_equal(d->text_chars, HTML_INPUT_MAX);
	d = html_scan(buf, HTML_INPUT_MAX - 1, pool);
	assert_false(d->input_cut);
	/* Fed in two pieces, the limit is the same. */
	{
		struct html_scanner *s = html_scanner_new(pool);

		html_scanner_feed(s, buf, HTML_INPUT_MAX - 1);
		html_scanner_feed(s, buf, 2);
		d = html_scanner_finish(s);
		assert_true(d->input_cut);
		assert_int_equal(d->bytes, HTML_INPUT_MAX);
		assert_int_equal(d->text_chars, HTML_INPUT_MAX);
	}
	free(buf);
}

static char *
many_links(size_t n, size_t *len_r)
{
	char *buf = test_alloc(n * 10 + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * 10, "<a href=u>", 10);
	buf[n * 10] = '\0';
	*len_r = n * 10;
	return buf;
}

static void
test_limit_links(void **state)
{
	size_t len;

	(void)state;
	for (int k = -1; k <= 1; k++) {
		size_t n = HTML_LINKS_MAX + (size_t)k;
		char *buf = many_links(n, &len);
		const struct html_doc *d = html_scan(buf, len, pool);

		assert_int_equal(d->n_links, k < 0 ? n : HTML_LINKS_MAX);
		assert_int_equal(d->links_seen, n);
		free(buf);
	}
	/* 100,000 links: counted, a thousand kept. */
	{
		char *buf = many_links(100000, &len);
		const struct html_doc *d = html_scan(buf, len, pool);

		assert_true(len <= HTML_INPUT_MAX);
		assert_int_equal(d->n_links, HTML_LINKS_MAX);
		assert_int_equal(d->links_seen, 100000);
		free(buf);
	}
	/* Forms and images likewise. */
	{
		char *buf = test_alloc((HTML_FORMS_MAX + 1) * 13 + 1);
		const struct html_doc *d;

		for (size_t i = 0; i < HTML_FORMS_MAX + 1; i++)
			memcpy(buf + i * 13, "<form></form>", 13);
		buf[(HTML_FORMS_MAX + 1) * 13] = '\0';
		d = scan(buf);
		assert_int_equal(d->n_forms, HTML_FORMS_MAX);
		assert_int_equal(d->forms_seen, HTML_FORMS_MAX + 1);
		free(buf);
	}
}

/* An href of n bytes. */
static void
check_href_len(size_t n, bool cut)
{
	char *buf = test_alloc(n + 32);
	const struct html_doc *d;

	memcpy(buf, "<a href=\"", 9);
	memset(buf + 9, 'h', n);
	memcpy(buf + 9 + n, "\">t</a>", 8);
	d = html_scan(buf, strlen(buf), pool);
	assert_int_equal(d->n_links, 1);
	assert_int_equal(d->links[0].href_len, cut ? HTML_ATTR_VALUE_MAX : n);
	assert_int_equal(d->links[0].href_cut, cut);
	assert_string_equal(d->links[0].text, "t");
	free(buf);
}

static void
test_limit_attr_value(void **state)
{
	(void)state;
	check_href_len(HTML_ATTR_VALUE_MAX - 1, false);
	check_href_len(HTML_ATTR_VALUE_MAX, false);
	check_href_len(HTML_ATTR_VALUE_MAX + 1, true);
	/* A huge attribute (most of the input) costs nothing more. */
	check_href_len(HTML_INPUT_MAX - 64, true);
	/* A NUL at the limit does not overrun: U+FFFD needs 3 bytes. */
	{
		char *buf = test_alloc(HTML_ATTR_VALUE_MAX + 32);
		size_t n = HTML_ATTR_VALUE_MAX - 2, len;
		const struct html_doc *d;

		memcpy(buf, "<a href=\"", 9);
		memset(buf + 9, 'h', n);
		buf[9 + n] = '\0';
		memcpy(buf + 10 + n, "\">t</a>", 7);
		len = 17 + n;
		d = html_scan(buf, len, pool);
		assert_int_equal(d->links[0].href_len, n);
		assert_true(d->links[0].href_cut);
		free(buf);
	}
}

static void
check_text_len(size_t n, bool cut)
{
	char *buf = test_alloc(n + 32);
	const struct html_doc *d;

	memcpy(buf, "<a href=x>", 10);
	memset(buf + 10, 't', n);
	memcpy(buf + 10 + n, "</a>", 5);
	d = html_scan(buf, strlen(buf), pool);
	assert_int_equal(d->links[0].text_len, cut ? HTML_LINK_TEXT_MAX : n);
	assert_int_equal(d->links[0].text_cut, cut);
	assert_int_equal(strlen(d->links[0].text), d->links[0].text_len);
	assert_int_equal(d->text_chars, n);
	free(buf);
}

static void
test_limit_link_text(void **state)
{
	char buf[HTML_LINK_TEXT_MAX + 64];
	const struct html_doc *d;

	(void)state;
	check_text_len(HTML_LINK_TEXT_MAX - 1, false);
	check_text_len(HTML_LINK_TEXT_MAX, false);
	check_text_len(HTML_LINK_TEXT_MAX + 1, true);
	/* A character that would cross the limit is left out whole. */
	memcpy(buf, "<a href=x>", 10);
	memset(buf + 10, 't', HTML_LINK_TEXT_MAX - 1);
	memcpy(buf + 9 + HTML_LINK_TEXT_MAX, "\xc3\xa9</a>", 7);
	d = scan(buf);
	assert_int_equal(d->links[0].text_len, HTML_LINK_TEXT_MAX - 1);
	assert_true(d->links[0].text_cut);
	/* A space before the last byte is not kept at the limit. */
	memset(buf + 10, 't', HTML_LINK_TEXT_MAX - 1);
	memcpy(buf + 9 + HTML_LINK_TEXT_MAX, " u</a>", 7);
	d = scan(buf);
	assert_int_equal(d->links[0].text_len, HTML_LINK_TEXT_MAX - 1);
	assert_true(d->links[0].text_cut);
}

/* A VML tag name of n bytes with an href: a link if the name fits. */
static void
check_tag_len(size_t n, bool link)
{
	char buf[HTML_TAG_NAME_MAX + 64];

	memcpy(buf, "<v:", 3);
	memset(buf + 3, 'r', n - 2);
	(void)snprintf(buf + 1 + n, sizeof(buf) - 1 - n, " href=x>t");
	assert_int_equal(scan(buf)->n_links, link ? 1 : 0);
}

static void
test_limit_tag_name(void **state)
{
	char buf[256];

	(void)state;
	check_tag_len(HTML_TAG_NAME_MAX - 1, true);
	check_tag_len(HTML_TAG_NAME_MAX, true);
	check_tag_len(HTML_TAG_NAME_MAX + 1, false);
	/* A long name never matches a short one by a prefix. */
	(void)snprintf(buf, sizeof(buf), "<a%0*d href=x>t", 200, 0);
	assert_int_equal(scan(buf)->n_links, 0);
	/* Attribute names likewise: "href" + padding is not href. */
	(void)snprintf(buf, sizeof(buf), "<a href%0*d=x href=y>t", 100, 0);
	assert_string_equal(scan(buf)->links[0].href, "y");
}

/* href as attribute number n of a tag. */
static void
check_attrs(size_t n, bool link)
{
	char *buf = test_alloc(n * 8 + 64);
	const struct html_doc *d;
	size_t o = 2;

	memcpy(buf, "<a", 2);
	for (size_t i = 1; i < n; i++)
		o += (size_t)snprintf(buf + o, 8, " x%zu", i % 1000);
	(void)snprintf(buf + o, 32, " href=u>t</a>");
	d = scan(buf);
	assert_int_equal(d->links_seen, link ? 1 : 0);
	assert_int_equal(d->attrs_cut, link ? 0 : 1);
	free(buf);
}

static void
test_limit_attrs(void **state)
{
	(void)state;
	check_attrs(HTML_ATTRS_MAX - 1, true);
	check_attrs(HTML_ATTRS_MAX, true);
	check_attrs(HTML_ATTRS_MAX + 1, false);
	/* The count is per tag. */
	check_attrs(HTML_ATTRS_MAX + 100, false);
}

static void
test_limit_entity(void **state)
{
	char buf[128], want[64];
	size_t n;

	(void)state;
	/* "&#000...65;" with the reference HTML_ENTITY_MAX bytes long
	 * after '&' is decoded; one more byte and it is text. */
	for (int k = -1; k <= 1; k++) {
		n = HTML_ENTITY_MAX + (size_t)k;	/* bytes after '&' */
		(void)snprintf(buf, sizeof(buf), "<a href=x>&#%0*d;</a>",
		    (int)(n - 1), 65);
		if (k <= 0)
			(void)snprintf(want, sizeof(want), "A");
		else
			(void)snprintf(want, sizeof(want), "&#%0*d;",
			    (int)(n - 1), 65);
		one_link(buf, "x", want);
	}
}

static void
test_text_urls(void **state)
{
	struct html_text_url u[4];
	const char *t;
	size_t n, seen;

	(void)state;
	t = "See https://a.example/x?y=1, and (www.b.example/p). HTTP://C.EX";
	n = html_text_urls(t, strlen(t), u, 4, &seen);
	assert_int_equal(n, 3);
	assert_int_equal(seen, 3);
	assert_int_equal(u[0].len, strlen("https://a.example/x?y=1"));
	assert_memory_equal(t + u[0].off, "https://a.example/x?y=1", u[0].len);
	assert_false(u[0].www);
	assert_memory_equal(t + u[1].off, "www.b.example/p", u[1].len);
	assert_true(u[1].www);
	assert_memory_equal(t + u[2].off, "HTTP://C.EX", u[2].len);
	/* Balanced parentheses stay, a closing one that opens nothing goes. */
	t = "(https://en.wikipedia.org/wiki/Foo_(bar))";
	n = html_text_urls(t, strlen(t), u, 4, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(u[0].len, strlen("https://en.wikipedia.org/wiki/"
	    "Foo_(bar)"));
	/* Not at a word boundary, nothing after the scheme, e-mail. */
	t = "xhttp://a.example me@www.b.example http:// www. www.-x";
	assert_int_equal(html_text_urls(t, strlen(t), u, 4, NULL), 0);
	/* Ends at <, >, quotes, NBSP, ideographic space. */
	t = "<https://a.example/>\"https://b.example\" https://c.example"
	    "\xc2\xa0z https://d.example\xe3\x80\x80z";
	n = html_text_urls(t, strlen(t), u, 4, NULL);
	assert_int_equal(n, 4);
	assert_memory_equal(t + u[0].off, "https://a.example/", u[0].len);
	assert_memory_equal(t + u[1].off, "https://b.example", u[1].len);
	assert_memory_equal(t + u[2].off, "https://c.example", u[2].len);
	assert_memory_equal(t + u[3].off, "https://d.example", u[3].len);
	/* A quoted line in a reply. */
	t = "> On Monday you wrote:\n> https://docs.example.org/a\n";
	n = html_text_urls(t, strlen(t), u, 4, NULL);
	assert_int_equal(n, 1);
	assert_memory_equal(t + u[0].off, "https://docs.example.org/a",
	    u[0].len);
	/* More than max: stored up to max, all counted. */
	t = "http://1.e http://2.e http://3.e http://4.e http://5.e";
	n = html_text_urls(t, strlen(t), u, 2, &seen);
	assert_int_equal(n, 2);
	assert_int_equal(seen, 5);
}

/* Parses url; checks its host (NULL: no host). */
static struct html_url
url_host(const char *url, const char *host)
{
	struct html_url u;
	int r = html_url_parse(url, strlen(url), &u);

	if (host == NULL) {
		assert_int_equal(r, -1);
		assert_int_equal(u.kind, HTML_HOST_NONE);
		assert_string_equal(u.host, "");
	} else {
		if (r != 0)
			fail_msg("%s: no host", url);
		assert_string_equal(u.host, host);
	}
	return u;
}

static void
test_url_parse(void **state)
{
	struct html_url u;
	char buf[600];

	(void)state;
	u = url_host("http://www.example.com/path?q#f", "www.example.com");
	assert_string_equal(u.scheme, "http");
	assert_int_equal(u.kind, HTML_HOST_NAME);
	assert_int_equal(u.port, -1);
	assert_false(u.has_userinfo);
	url_host("HTTPS://WWW.Example.COM", "www.example.com");
	u = url_host("https://example.com:8443/", "example.com");
	assert_int_equal(u.port, 8443);
	url_host("https://example.com:/", "example.com");
	url_host("ftp://f.example/", "f.example");
	url_host("wss://w.example/", "w.example");
	/* The userinfo trick: the last '@' ends it. */
	u = url_host("http://paypal.com@evil.example/login", "evil.example");
	assert_true(u.has_userinfo);
	assert_string_equal(u.userinfo, "paypal.com");
	u = url_host("http://www.paypal.com:secure@evil.example/", "evil.example");
	assert_string_equal(u.userinfo, "www.paypal.com:secure");
	u = url_host("http://a@b@c.example:81/", "c.example");
	assert_string_equal(u.userinfo, "a@b");
	assert_int_equal(u.port, 81);
	url_host("http://paypal.com%40evil.example/", NULL);	/* '@' in host */
	/* A '@' after the authority is in the path. */
	u = url_host("http://good.example/@evil.example", "good.example");
	assert_false(u.has_userinfo);
	url_host("http://good.example\\@evil.example", "good.example");
	url_host("http://good.example?@evil.example", "good.example");
	url_host("http://good.example#@evil.example", "good.example");
	url_host("http://user@/", NULL);
	/* Slashes, backslashes, missing slashes, tabs and newlines. */
	url_host("http:\\\\evil.example\\x", "evil.example");
	url_host("http:/\\/evil.example", "evil.example");
	url_host("https:evil.example/x", "evil.example");
	url_host("http:////evil.example", "evil.example");
	url_host("h\tt\ntp\r://ev\til.exa\nmple/", "evil.example");
	url_host("  \x01 http://evil.example/ \x7f", "evil.example");
	url_host("  \x01 http://evil.example/ \x1f", "evil.example");
	url_host("//evil.example/x", "evil.example");
	url_host("\\\\evil.example/x", "evil.example");
	/* Percent-encoding, trailing dot. */
	u = url_host("http://%70ay%50al.com./", "paypal.com");
	assert_true(u.host_percent);
	assert_true(u.trailing_dot);
	url_host("http://pay%2epal.com/", "pay.pal.com");
	url_host("http://pay%zzpal.com/", NULL);	/* '%' left: forbidden */
	url_host("http://a%00b.example/", NULL);
	url_host("http://a%20b.example/", NULL);
	url_host("http://./", NULL);
	url_host("http:///", NULL);
	/* IPv4 in every form a browser takes. */
	u = url_host("http://192.168.1.1/", "192.168.1.1");
	assert_int_equal(u.kind, HTML_HOST_IPV4);
	assert_false(u.ip_encoded);
	u = url_host("http://3232235777/", "192.168.1.1");
	assert_int_equal(u.kind, HTML_HOST_IPV4);
	assert_true(u.ip_encoded);
	u = url_host("http://0xC0A80101/", "192.168.1.1");
	assert_true(u.ip_encoded);
	url_host("http://0xc0.0xa8.0x1.0x1/", "192.168.1.1");
	url_host("http://0300.0250.01.01/", "192.168.1.1");
	url_host("http://192.168.257/", "192.168.1.1");
	url_host("http://192.11010305/", "192.168.1.1");
	u = url_host("http://010.1.1.1/", "8.1.1.1");
	assert_true(u.ip_encoded);
	url_host("http://0x/", "0.0.0.0");
	url_host("http://1.2.3.4./", "1.2.3.4");
	url_host("http://%31%32%37.0.0.1/", "127.0.0.1");
	url_host("http://4294967295/", "255.255.255.255");
	url_host("http://4294967296/", NULL);
	url_host("http://1.2.3.256/", NULL);
	url_host("http://256.1.1.1/", NULL);
	url_host("http://1.2.3.4.5/", NULL);
	url_host("http://08.1.1.1/", NULL);
	url_host("http://0x1g.1.1.1/", NULL);
	url_host("http://1..1/", NULL);
	url_host("http://evil.123/", NULL);
	url_host("http://123.evil/", "123.evil");
	url_host("http://99999999999999999999999/", NULL);
	/* IPv6. */
	u = url_host("http://[2001:DB8::1]:8080/", "2001:db8::1");
	assert_int_equal(u.kind, HTML_HOST_IPV6);
	assert_int_equal(u.port, 8080);
	url_host("http://[::ffff:192.168.1.1]/", "::ffff:192.168.1.1");
	url_host("http://[::1/", NULL);
	url_host("http://[1.2.3.4]/", NULL);
	url_host("http://[::1]x/", NULL);
	url_host("http://[fe80::1%25eth0]/", NULL);
	/* Ports. */
	url_host("http://a.example:65535/", "a.example");
	url_host("http://a.example:65536/", NULL);
	url_host("http://a.example:8x/", NULL);
	/* IDNA (UTS #46): Unicode to A-labels, fullwidth mapped. */
	url_host("http://p\xd0\xb0ypal.com/", "xn--pypal-4ve.com");
	url_host("http://XN--PYPAL-4VE.com/", "xn--pypal-4ve.com");
	url_host("http://\xef\xbd\x90\xef\xbd\x81\xef\xbd\x99\xef\xbd\x90"
	    "\xef\xbd\x81\xef\xbd\x8c\xef\xbc\x8e\xef\xbd\x83\xef\xbd\x8f"
	    "\xef\xbd\x8d/", "paypal.com");
	url_host("http://M\xc3\x9cNCHEN.de/", "xn--mnchen-3ya.de");
	url_host("http://%C3%BCber.example/", "xn--ber-goa.example");
	url_host("http://\xff\xfe.example/", NULL);
	/* No host: other schemes, relative references. */
	u = url_host("mailto:a@paypal.com", NULL);
	assert_string_equal(u.scheme, "mailto");
	u = url_host("JavaScript:alert(1)", NULL);
	assert_string_equal(u.scheme, "javascript");
	url_host("data:text/html;base64,PGh0bWw+", NULL);
	url_host("cid:part1@x", NULL);
	url_host("file:///etc/passwd", NULL);
	url_host("/login", NULL);
	url_host("login.php?x", NULL);
	url_host("#top", NULL);
	url_host("", NULL);
	url_host("www.paypal.com", NULL);
	url_host("http", NULL);
	/* A scheme that is too long is no special scheme. */
	(void)snprintf(buf, sizeof(buf), "%0*d://a.example/", 40, 0);
	buf[0] = 'h';
	url_host(buf, NULL);
	/* Host length: HTML_URL_HOST_MAX bytes fit, one more does not. */
	for (int k = -1; k <= 1; k++) {
		size_t n = HTML_URL_HOST_MAX + (size_t)k;
		char host[HTML_URL_HOST_MAX + 2];

		memset(host, 'a', n);
		for (size_t i = 60; i < n; i += 61)
			host[i] = '.';
		host[n] = '\0';
		(void)snprintf(buf, sizeof(buf), "http://%s/", host);
		url_host(buf, k <= 0 ? host : NULL);
		/* With a trailing dot it is one byte longer and still fits. */
		(void)snprintf(buf, sizeof(buf), "http://%s./", host);
		url_host(buf, k <= 0 ? host : NULL);
	}
	/* A userinfo longer than the field is cut, the host still found. */
	{
		char *big = test_alloc(5000);

		memcpy(big, "http://", 7);
		memset(big + 7, 'u', 4000);
		(void)snprintf(big + 4007, 64, "@evil.example/");
		u = url_host(big, "evil.example");
		assert_int_equal(strlen(u.userinfo), HTML_URL_HOST_MAX);
		free(big);
	}
}

static void
test_url_ref(void **state)
{
	struct html_url u;

	(void)state;
	assert_int_equal(html_url_parse_ref("/login", 6, "http://evil.example/",
	    &u), 0);
	assert_string_equal(u.host, "evil.example");
	assert_int_equal(html_url_parse_ref("x.php", 5, "http://b.example/d/",
	    &u), 0);
	assert_string_equal(u.host, "b.example");
	assert_int_equal(html_url_parse_ref("/login", 6, NULL, &u), -1);
	/* An absolute href ignores the base. */
	assert_int_equal(html_url_parse_ref("http://a.example/", 17,
	    "http://b.example/", &u), 0);
	assert_string_equal(u.host, "a.example");
	/* mailto: stays without host; a bad host does not fall back. */
	assert_int_equal(html_url_parse_ref("mailto:x@y", 10,
	    "http://b.example/", &u), -1);
	assert_int_equal(html_url_parse_ref("http://[::1/", 12,
	    "http://b.example/", &u), -1);
	assert_int_equal(html_url_parse_ref("//c.example", 11,
	    "http://b.example/", &u), 0);
	assert_string_equal(u.host, "c.example");
	/* A base without host gives none. */
	assert_int_equal(html_url_parse_ref("/x", 2, "/y", &u), -1);
}

static void
text_host(const char *text, const char *host)
{
	struct html_url u;
	int r = html_text_host(text, strlen(text), &u);

	if (host == NULL) {
		if (r != -1)
			fail_msg("'%s' shows a host: %s", text, u.host);
	} else {
		if (r != 0)
			fail_msg("'%s' shows no host", text);
		assert_string_equal(u.host, host);
	}
}

static void
test_text_host(void **state)
{
	(void)state;
	text_host("https://www.paypal.com/signin", "www.paypal.com");
	text_host("Log in at https://www.paypal.com/signin now",
	    "www.paypal.com");
	text_host("www.PayPal.com", "www.paypal.com");
	text_host("PayPal.com", "paypal.com");
	text_host("paypal.com/signin?x=1", "paypal.com");
	text_host("(paypal.co.uk).", "paypal.co.uk");
	text_host("<amazon.de>", "amazon.de");
	text_host("http://1.2.3.4/", "1.2.3.4");
	text_host("http://paypal.com@evil.example/", "evil.example");
	/* Not domain names. */
	text_host("click here", NULL);
	text_host("Click here to visit paypal.com", NULL);
	text_host("index.html", NULL);
	text_host("invoice.pdf", NULL);
	text_host("invoice.zip", NULL);
	text_host("movie.mov", NULL);
	text_host("support@paypal.com", NULL);
	text_host("v1.2", NULL);
	text_host("3.14", NULL);
	text_host("Mr.Smith", NULL);
	text_host(".com", NULL);
	text_host("paypal.", NULL);
	text_host("", NULL);
	text_host("pay_pal.com", NULL);
	text_host("paypal.com:443", NULL);
	text_host("paypal.com/x y", NULL);
}

static void
skel(const char *in, const char *want)
{
	char out[HTML_SKELETON_MAX];

	assert_int_equal(html_skeleton(in, strlen(in), out, sizeof(out)),
	    (int)strlen(want));
	assert_string_equal(out, want);
}

static void
test_skeleton(void **state)
{
	char out[8];

	(void)state;
	skel("paypal", "paypal");
	/* Cyrillic а е о р с у х і ј ԁ ѕ ԛ ԝ һ ӏ */
	skel("\xd0\xb0\xd0\xb5\xd0\xbe\xd1\x80\xd1\x81\xd1\x83\xd1\x85\xd1\x96"
	    "\xd1\x98\xd4\x81\xd1\x95\xd4\x9b\xd4\x9d\xd2\xbb\xd3\x8f",
	    "aeopcyxijdsqwhl");
	/* Greek ο α ν ρ ι κ τ */
	skel("\xce\xbf\xce\xb1\xce\xbd\xcf\x81\xce\xb9\xce\xba\xcf\x84",
	    "oavpikt");
	/* p + Cyrillic а + ypal */
	skel("p\xd0\xb0ypal", "paypal");
	/* Fullwidth forms. */
	skel("\xef\xbd\x90\xef\xbd\x81\xef\xbc\xb9", "pay");
	/* ASCII tricks. */
	skel("paypa1", "paypal");
	skel("g00gle", "google");
	skel("rnicrosoft", "microsoft");
	skel("vvellsfargo", "wellsfargo");
	skel("arnazon", "amazon");
	skel("PayPal", "paypal");
	/* Other letters stay. */
	skel("m\xc3\xbcnchen", "m\xc3\xbcnchen");
	skel("\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87");
	/* Bytes that are not UTF-8 stay. */
	skel("a\xff" "b", "a\xff" "b");
	/* Too long for out. */
	assert_int_equal(html_skeleton("12345678", 8, out, sizeof(out)), -1);
	assert_int_equal(html_skeleton("1234567", 7, out, sizeof(out)), 7);
	assert_int_equal(html_skeleton("\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad",
	    9, out, sizeof(out)), -1);
	assert_int_equal(html_skeleton("", 0, out, sizeof(out)), 0);
}

static void
test_mixed_scripts(void **state)
{
	(void)state;
#define MIXED(s) html_label_mixed_scripts(s, strlen(s))
	assert_false(MIXED("paypal"));
	assert_false(MIXED("pay-pal-123"));
	assert_true(MIXED("p\xd0\xb0ypal"));		/* Latin + Cyrillic */
	assert_false(MIXED("\xd0\xb0\xd1\x80\xd1\x80"));	/* all Cyrillic */
	assert_true(MIXED("g\xce\xbf" "ogle"));		/* Latin + Greek */
	assert_false(MIXED("m\xc3\xbcnchen"));		/* Latin only */
	assert_false(MIXED("\xe4\xb8\xad\xe6\x96\x87" "abc"));	/* Han+Latin */
	/* Japanese: Han, Hiragana, Katakana and Latin together. */
	assert_false(MIXED("\xe6\x97\xa5\xe3\x81\xae\xe3\x82\xab" "jp"));
	/* Korean: Hangul, Han, Latin. */
	assert_false(MIXED("\xed\x95\x9c\xe4\xb8\xad" "kr"));
	/* Hangul and Katakana do not go together. */
	assert_true(MIXED("\xed\x95\x9c\xe3\x82\xab"));
	/* Cyrillic + Greek. */
	assert_true(MIXED("\xd0\xb0\xce\xbf"));
	/* Armenian + Latin. */
	assert_true(MIXED("g\xd6\x85" "ogle"));
	assert_false(MIXED(""));
	assert_false(MIXED("\xff\xfe"));
#undef MIXED
}

static void
test_edit_distance(void **state)
{
	char a[200], b[200];

	(void)state;
#define D(x, y) html_edit_distance(x, strlen(x), y, strlen(y))
	assert_int_equal(D("paypal", "paypal"), 0);
	assert_int_equal(D("paypal", "paypa"), 1);
	assert_int_equal(D("paypal", "paypall"), 1);
	assert_int_equal(D("paypal", "paypai"), 1);
	assert_int_equal(D("paypal", "papyal"), 1);	/* transposition */
	assert_int_equal(D("paypal", "apypal"), 1);
	assert_int_equal(D("kitten", "sitting"), 3);
	assert_int_equal(D("", "abc"), 3);
	assert_int_equal(D("abc", ""), 3);
	assert_int_equal(D("", ""), 0);
	/* Optimal string alignment: no edit of a transposed pair. */
	assert_int_equal(D("ca", "abc"), 3);
	/* Code points, not bytes. */
	assert_int_equal(D("payp\xc3\xa4l", "paypal"), 1);
	assert_int_equal(D("p\xd0\xb0ypal", "paypal"), 1);
	/* Beyond HTML_LABEL_CP_MAX code points only the start counts. */
	memset(a, 'a', sizeof(a));
	memset(b, 'a', sizeof(b));
	b[sizeof(b) - 1] = 'b';
	assert_int_equal(html_edit_distance(a, sizeof(a), b, sizeof(b)), 0);
	assert_int_equal(html_edit_distance(a, HTML_LABEL_CP_MAX, b,
	    HTML_LABEL_CP_MAX - 1), 1);
	b[HTML_LABEL_CP_MAX - 1] = 'b';
	assert_int_equal(html_edit_distance(a, sizeof(a), b, sizeof(b)), 1);
#undef D
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_links_valid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_comments_raw, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_forms_meta, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limit_input, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limit_links, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limit_attr_value, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limit_link_text, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limit_tag_name, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limit_attrs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limit_entity, setup,
		    teardown),
		cmocka_unit_test(test_text_urls),
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_url_ref),
		cmocka_unit_test(test_text_host),
		cmocka_unit_test(test_skeleton),
		cmocka_unit_test(test_mixed_scripts),
		cmocka_unit_test(test_edit_distance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
