/*
 * html.h - what the spam filter needs to know of an HTML text: its links
 * and the text they show, forms, <base>, images, <meta> refresh; the URLs
 * of a plain text; the host a URL really goes to; and the tools to tell
 * a lookalike domain (confusable skeletons, mixed scripts, edit distance).
 *
 * The scanner is not an HTML5 parser: it is the HTML5 tokenizer's state
 * machine (WHATWG HTML 13.2.5: tags, attributes in any quoting, comments,
 * "bogus comments", raw text elements) without tree construction, and it
 * only keeps what the phishing checks read. Where a mail client's parser
 * and this one disagree, a phisher may hide a link; the places known to
 * differ are listed at html_scanner_feed(). Outlook's downlevel-hidden
 * conditional comments (<!--[if mso]> ... <![endif]-->) are scanned as
 * HTML, as Outlook renders them.
 *
 * URLs are read as WHATWG URL (url.spec.whatwg.org) reads them in a
 * browser: tabs and newlines removed, backslashes as slashes and any
 * number of slashes after a special scheme, the last '@' of the authority
 * ending the userinfo, percent-decoding and UTS #46 mapping of the host
 * (libidn2), and the IPv4 parser that takes "3232235777", "0xC0.0xA8.1.1"
 * and "0300.0250.1.1" for 192.168.1.1.
 *
 * Skeletons follow UTS #39 section 4 (confusable detection) with a
 * compact table of the confusables seen in phishing, not the whole
 * confusables.txt; see html_skeleton().
 *
 * SECURITY: every input is peer data (the body of a message, any bytes,
 * NUL included). The scanner is one pass over at most HTML_INPUT_MAX
 * bytes with constant work per byte; everything it keeps is bounded by
 * the limits below, and its memory comes from the caller's pool (at most
 * about twice the input's size plus 26 KiB of state). No function keeps
 * global state: all of them may run on any thread at once.
 */
#ifndef FILTER_HTML_H
#define FILTER_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

/* Bytes of one HTML text the scanner reads; the rest is ignored
 * (html_doc.input_cut). */
#define HTML_INPUT_MAX (1024 * 1024)
/* Links (<a href>, <area href>, <v:* href>) kept per document; more are
 * counted (links_seen) but not kept. */
#define HTML_LINKS_MAX 1000
/* Bytes of an attribute value kept, before entities are decoded; the
 * rest of the value is dropped (html_link.href_cut). */
#define HTML_ATTR_VALUE_MAX 4096
/* Bytes of the visible text of one link (UTF-8, cut at a character). */
#define HTML_LINK_TEXT_MAX 256
/* Bytes of a tag name: a longer name is no tag the scanner knows. */
#define HTML_TAG_NAME_MAX 32
/* Bytes of an attribute name: a longer name is no attribute it knows. */
#define HTML_ATTR_NAME_MAX 32
/* Attributes read per tag; the ones after are skipped (counted in
 * html_doc.attrs_cut). */
#define HTML_ATTRS_MAX 64
/* Bytes after '&' of a character reference ("&#x1F600;" is 8). */
#define HTML_ENTITY_MAX 32
/* Forms, images and <meta> refreshes kept per document. */
#define HTML_FORMS_MAX 32
#define HTML_IMGS_MAX 256
#define HTML_REFRESH_MAX 8

/* A URL's scheme and host, as html_url_parse() returns them. */
#define HTML_URL_SCHEME_MAX 32
#define HTML_URL_HOST_MAX 253	/* RFC 1035 2.3.4, without the final dot */
/* Code points of a label that html_edit_distance() compares. */
#define HTML_LABEL_CP_MAX 64
/* Bytes of a skeleton (html_skeleton()) of one label or domain. */
#define HTML_SKELETON_MAX 1024

struct html_link {
	const char *href;	/* entities decoded, NUL-terminated */
	size_t href_len;	/* no NUL inside: NUL became U+FFFD */
	bool href_cut;		/* longer than HTML_ATTR_VALUE_MAX */
	/* The text a reader sees: tags removed (a block tag such as <br>,
	 * <p>, <div>, <td> or an <img> is a space), entities decoded,
	 * zero-width characters and soft hyphens removed, runs of white
	 * space one space, no space at the ends. UTF-8, NUL-terminated;
	 * "" for <area> and image links. */
	const char *text;
	size_t text_len;
	bool text_cut;		/* longer than HTML_LINK_TEXT_MAX */
	bool is_area;		/* <area>: no text */
};

struct html_form {
	const char *action;	/* entities decoded; NULL without action= */
	bool has_password;	/* an <input type=password> inside it */
};

struct html_doc {
	struct html_link *links;
	size_t n_links;		/* kept, at most HTML_LINKS_MAX */
	size_t links_seen;	/* in the input */
	struct html_form *forms;
	size_t n_forms, forms_seen;
	/* <input type=password> anywhere, in a form or not. */
	size_t password_inputs;
	const char *base;	/* the first <base href>, or NULL */
	const char **imgs;	/* <img src> values */
	size_t n_imgs, imgs_seen;
	/* URLs of <meta http-equiv=refresh content="N; url=URL">, "" for a
	 * refresh without URL (the page itself). */
	const char **refresh;
	size_t n_refresh;
	/* Visible characters that are not white space (code points), in and
	 * out of links; not in comments, tags, <script>, <style>, <title>,
	 * <textarea>. */
	size_t text_chars;
	size_t bytes;		/* bytes read, at most HTML_INPUT_MAX */
	bool input_cut;		/* the input was longer */
	size_t attrs_cut;	/* tags with over HTML_ATTRS_MAX attributes */
};

struct html_scanner;

/* A scanner whose state and results come from pool (and live as long). */
struct html_scanner *
html_scanner_new(struct pool *pool);

/*
 * Scans the next len bytes of the document; the input may be cut
 * anywhere (a tag, an attribute value, a UTF-8 sequence or an entity may
 * span two calls): the result is the same as one call with all of it.
 * Bytes past HTML_INPUT_MAX are not read. NUL bytes are not text; in
 * names and values they become U+FFFD (as in HTML5), so "<a\0 href=x>"
 * is no link.
 *
 * Known differences from HTML5 (none makes a link disappear that a
 * browser shows, except the HTML_ATTRS_MAX cut): no tree construction,
 * so a link open across a table cell or a </p> keeps collecting text
 * until </a>, the next <a> or the end; <script> data has no escape
 * states; <noscript> is parsed (mail clients run no scripts);
 * <plaintext> is an ordinary tag; the only named references decoded are
 * amp lt gt quot apos nbsp shy period sol colon commat zwj zwnj (others
 * stay as they are).
 */
void
html_scanner_feed(struct html_scanner *s, const char *data, size_t len);

/*
 * Ends the input: a tag or comment still open at the end is dropped (as
 * HTML5 does at EOF), an open link ends. Returns the document, which
 * lives as long as the pool. Call once; feed no more afterwards.
 */
const struct html_doc *
html_scanner_finish(struct html_scanner *s);

/* html_scanner_new(), one html_scanner_feed() and html_scanner_finish(). */
const struct html_doc *
html_scan(const char *in, size_t len, struct pool *pool);

/* A plain-text URL: where it is in the text. */
struct html_text_url {
	size_t off, len;
	bool www;		/* "www." without a scheme */
};

/*
 * Finds the URLs of a plain text (UTF-8): "http://" and "https://" in any
 * case, and "www." followed by a name, at the start of the text or after
 * a character that is not a letter, digit, '.', '-' or '@'. A URL runs to
 * white space, a control character, < > " ` or the end, without trailing
 * punctuation (. , ; : ! ? ' and a ) ] } that closes nothing in it).
 * Stores at most max of them in urls and returns how many it stored;
 * *seen_r (may be NULL) gets how many there are. Linear in len.
 */
size_t
html_text_urls(const char *text, size_t len, struct html_text_url *urls,
    size_t max, size_t *seen_r);

enum html_host_kind {
	HTML_HOST_NONE,		/* no host: relative, mailto:, invalid */
	HTML_HOST_NAME,		/* a domain name (lower-case A-labels) */
	HTML_HOST_IPV4,		/* dotted quad */
	HTML_HOST_IPV6,		/* RFC 5952 text, without brackets */
};

struct html_url {
	/* Lower case, without ':'; "" for a URL without scheme. */
	char scheme[HTML_URL_SCHEME_MAX + 1];
	enum html_host_kind kind;
	/* The host a browser connects to, percent-decoded, UTS #46-mapped
	 * (IDNA 2008 A-labels, lower case), without a trailing dot; an IPv4
	 * address as a dotted quad. "" when kind is HTML_HOST_NONE. */
	char host[HTML_URL_HOST_MAX + 1];
	/* The userinfo before the last '@' of the authority, percent-
	 * decoded, cut at HTML_URL_HOST_MAX bytes; "" if none. A URL such as
	 * http://paypal.com@evil.example/ shows it and goes elsewhere. */
	char userinfo[HTML_URL_HOST_MAX + 1];
	bool has_userinfo;
	/* IPv4 not written as four decimal numbers without leading zeros:
	 * "3232235777", hexadecimal or octal parts, fewer than four parts. */
	bool ip_encoded;
	bool host_percent;	/* the host was percent-encoded */
	bool trailing_dot;	/* the host ended with '.' */
	int port;		/* -1 if none (or empty) */
};

/*
 * Parses url (len bytes, not NUL-terminated) as a browser reads an
 * absolute URL or a scheme-relative one ("//host/..."). Leading and
 * trailing control characters and spaces are ignored and tabs, CR and LF
 * removed anywhere. Only the special schemes (http, https, ftp, ws, wss)
 * have a host here; the others (mailto:, javascript:, data:, cid: ...)
 * are HTML_HOST_NONE with their scheme set.
 * Returns 0 with u_r filled and a host (kind is not HTML_HOST_NONE); -1
 * otherwise (u_r->kind is HTML_HOST_NONE, the scheme is set if there was
 * one): no host, a relative URL, or a host a browser would refuse
 * (forbidden code points, bad IPv4 or IPv6, bad port, IDNA failure).
 */
int
html_url_parse(const char *url, size_t len, struct html_url *u_r);

/*
 * html_url_parse() of href, resolved against base (a URL or NULL) as a
 * relative reference: a scheme-relative href takes base's scheme, and a
 * path-relative one ("/login", "x.php") base's host. Returns as
 * html_url_parse().
 */
int
html_url_parse_ref(const char *href, size_t len, const char *base,
    struct html_url *u_r);

/*
 * The host that a link's visible text shows, if it shows one: the first
 * URL in it (html_text_urls(): "https://www.paypal.com/...",
 * "www.paypal.com"), or else the whole text as one name with a dot and a
 * top-level domain of the Public Suffix List ("PayPal.com",
 * "paypal.com/signin"; not "click here", "index.html", "invoice.zip" or
 * an e-mail address), surrounding punctuation and brackets ignored.
 * Returns 0 with u_r's host set (IPv4 for an address in a URL), or -1.
 */
int
html_text_host(const char *text, size_t len, struct html_url *u_r);

/*
 * Writes the UTS #39-style skeleton of s (UTF-8, a label or a domain, as
 * lower case as IDNA leaves it) to out (outlen bytes, NUL-terminated):
 * each code point in the table of confusables becomes the ASCII letter
 * it imitates (Cyrillic a e o p c y x i j d s q w h l, Greek o a v p i k
 * t u x n y, Armenian o n u h q g, Latin small capitals and dotless i,
 * fullwidth ASCII), other code points stay, then 0 becomes o, 1 becomes
 * l, "rn" becomes m and "vv" w. Bytes that are not UTF-8 stay as they
 * are. Returns the length, or -1 if it does not fit.
 */
int
html_skeleton(const char *s, size_t len, char *out, size_t outlen);

/*
 * True if the label (UTF-8) mixes scripts in a way UTS #39 5.2 calls
 * more than "highly restrictive": letters from two of Latin, Greek,
 * Cyrillic, Armenian, Georgian, Cherokee, Hebrew, Arabic, Han, Hiragana,
 * Katakana, Hangul, Thai, Devanagari, except Latin with Han and the
 * Japanese kana, Latin with Han and Hangul, and Latin with Han and
 * Bopomofo. Digits, '-' and code points of other scripts do not count.
 */
bool
html_label_mixed_scripts(const char *s, size_t len);

/*
 * The Damerau-Levenshtein distance (optimal string alignment: insertion,
 * deletion, substitution, transposition of neighbours) between two UTF-8
 * strings, counted in code points. Strings longer than HTML_LABEL_CP_MAX
 * code points are compared on their first HTML_LABEL_CP_MAX.
 */
unsigned
html_edit_distance(const char *a, size_t alen, const char *b, size_t blen);

#endif
