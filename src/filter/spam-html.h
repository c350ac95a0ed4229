/*
 * spam-html.h - the phishing checks of the spam filter: what the links of
 * a message show and where they go, lookalike domains, forms, refreshes.
 *
 * spam_check_html() reads every text/html and text/plain part of the MIME
 * tree (inside message/rfc822 too, attachments too: an attached HTML
 * page is a common phishing carrier), decoded (Content-Transfer-Encoding,
 * then charset to UTF-8), scans the HTML for its links, forms, <base>,
 * images and refreshes (filter/html.h) and plain text for its URLs, and
 * adds these symbols (weights in spam-symbols.c):
 *
 *  HTML_LINK_MISMATCH   a link's text shows a URL or a domain name whose
 *                       registered domain (dmarc_org_domain) is not the
 *                       href's, or an href's userinfo is a domain name
 *                       (http://paypal.com@evil.example/). Known
 *                       redirectors are looked through (Outlook Safe
 *                       Links, Proofpoint URL Defense v2/v3, Google's
 *                       /url?q=); links through the click trackers of the
 *                       large senders (Mailchimp, SendGrid, ...) are not
 *                       judged unless the text shows a brand or a hosted
 *                       domain that the From: domain is not.
 *  HTML_LINK_IP         a link (or form, refresh, plain-text URL) to a
 *                       bare IPv4 or IPv6 address.
 *  HTML_LINK_IP_ENCODED the address written to hide it: one decimal
 *                       number, hexadecimal or octal parts, fewer than
 *                       four parts (http://3232235777/).
 *  URL_SHORTENER        a link to a URL shortener (a fixed list), unless
 *                       the From: domain owns it (t.co from twitter.com).
 *  LOOKALIKE_LOCAL      a link host or the From: domain looks like one of
 *                       this server's domains but is not one.
 *  LOOKALIKE_BRAND      the same for a fixed list of much-phished brands.
 *  IDN_HOMOGRAPH        an IDN label mixes scripts (UTS #39 "highly
 *                       restrictive" fails), or a non-ASCII registered
 *                       label's skeleton is a brand's or a hosted domain's.
 *  HTML_FORM_EXTERNAL   a form with a password field, or one that posts
 *                       to another registered domain than From:'s.
 *  HTML_META_REFRESH    <meta http-equiv=refresh> to another registered
 *                       domain than From:'s.
 *  HTML_ONLY_NO_TEXT    an HTML part with SPAM_HTML_NOTEXT_LINKS links or
 *                       more and fewer than SPAM_HTML_NOTEXT_CHARS visible
 *                       characters, and no text/plain part with that much.
 *
 * "Looks like" is: the same confusable skeleton (html_skeleton) of the
 * registered label, or a Damerau-Levenshtein distance of 1 between
 * registered labels of SPAM_HTML_EDIT_MIN code points or more (not for
 * brands that are common words: apple, chase, adobe, ...), or the
 * target's domain as labels inside the host (paypal.com.evil.example). A
 * host whose registered domain is the target's (sub.paypal.com) or whose
 * registered label is the target's (paypal.de) never looks like it.
 *
 * Every link host (domain names, not IP addresses) goes to m->uris with
 * spam_uris_add() for the URI blocklists, in this order so that a
 * message cannot push its worst host out of the SPAM_URI_HOSTS_MAX:
 * hosts that fired a symbol, then forms and refreshes, then links and
 * plain-text URLs, then images.
 *
 * SECURITY: the message is hostile. Work is bounded: at most
 * SPAM_HTML_PARTS_MAX parts and SPAM_HTML_BYTES_MAX decoded bytes in
 * all, each part at most HTML_INPUT_MAX bytes, at most
 * SPAM_HTML_LINKS_MAX links judged, and the per-host checks (a few dozen
 * comparisons of labels of at most HTML_LABEL_CP_MAX code points) run
 * once for each of at most SPAM_HTML_HOSTS_MAX distinct hosts. Memory
 * comes from private pools freed before return, but the host names
 * added to m->uris (from m->pool). Details are escaped by spam_add().
 * Thread-safe: no mutable globals (the Public Suffix List is loaded once
 * through pthread_once in dmarc.c, libidn2 and libpsl lookups are
 * reentrant).
 */
#ifndef FILTER_SPAM_HTML_H
#define FILTER_SPAM_HTML_H

#include "filter/spam.h"

/* Text parts (text/html, text/plain) decoded per message. */
#define SPAM_HTML_PARTS_MAX 32
/* Decoded bytes of all of them together. */
#define SPAM_HTML_BYTES_MAX (4 * 1024 * 1024)
/* Links, forms, refreshes and plain-text URLs judged per message. */
#define SPAM_HTML_LINKS_MAX 5000
/* Distinct host names that get the lookalike checks, per message. */
#define SPAM_HTML_HOSTS_MAX 512
/* Hosted domains compared with (the first ones of m->local_domains). */
#define SPAM_HTML_LOCAL_MAX 64
/* Code points a registered label needs for the edit-distance test. */
#define SPAM_HTML_EDIT_MIN 5
/* Redirectors looked through, one inside the other. */
#define SPAM_HTML_UNWRAP_MAX 3
/* HTML_ONLY_NO_TEXT: this many links or more, ... */
#define SPAM_HTML_NOTEXT_LINKS 3
/* ... and fewer visible characters than this. */
#define SPAM_HTML_NOTEXT_CHARS 40

/*
 * Runs the checks above on m and adds their symbols to r and the link
 * hosts to m->uris. Never fails: a part that does not decode is read as
 * far as it does.
 */
void
spam_check_html(struct spam_msg *m, struct spam_result *r);

#endif
