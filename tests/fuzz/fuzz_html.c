/*
 * fuzz_html.c - the phishing checks' parsers on arbitrary bytes: the HTML
 * scanner (whole, and fed in two pieces split where the first byte says:
 * both must agree), the URL host parser (alone and against a base), the
 * plain-text URL finder, the text-shows-a-host test, skeletons, mixed
 * scripts and the edit distance; then the input as a whole message
 * through mime_parse() and spam_check_html().
 *
 * Invariants: the limits of filter/html.h hold (links, their href and
 * text lengths, no NUL in an href, link text valid UTF-8); a parsed host
 * is non-empty, at most HTML_URL_HOST_MAX bytes, lower case, without
 * forbidden code points, and an IPv4 or IPv6 host reads back with
 * inet_pton(); URL offsets stay inside the text; a skeleton's length is
 * what it returns; the distance is at most the longer length.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/utf8.h"
#include "filter/html.h"
#include "filter/spam-html.h"
#include "filter/spam.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_locals[] = { "examplebank.org" };

static void
fuzz_check_url(const struct html_url *u, int r)
{
	unsigned char a[16];
	size_t n = strlen(u->host);

	if (r < 0) {
		if (u->kind != HTML_HOST_NONE || n != 0)
			abort();
		return;
	}
	if (u->kind == HTML_HOST_NONE || n == 0 || n > HTML_URL_HOST_MAX)
		abort();
	if (strlen(u->userinfo) > HTML_URL_HOST_MAX ||
	    strlen(u->scheme) > HTML_URL_SCHEME_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u->host[i];

		if (c <= 0x20 || c >= 0x7F || (c >= 'A' && c <= 'Z') ||
		    strchr("#/<>?@[\\]^|%", c) != NULL)
			abort();
		if (c == ':' && u->kind != HTML_HOST_IPV6)
			abort();
	}
	if (u->kind == HTML_HOST_IPV4 && inet_pton(AF_INET, u->host, a) != 1)
		abort();
	if (u->kind == HTML_HOST_IPV6 && inet_pton(AF_INET6, u->host, a) != 1)
		abort();
	if (u->port < -1 || u->port > 65535)
		abort();
}

static void
fuzz_check_doc(const struct html_doc *d)
{
	if (d->n_links > HTML_LINKS_MAX || d->n_links > d->links_seen ||
	    d->n_forms > HTML_FORMS_MAX || d->n_forms > d->forms_seen ||
	    d->n_imgs > HTML_IMGS_MAX || d->n_imgs > d->imgs_seen ||
	    d->n_refresh > HTML_REFRESH_MAX || d->bytes > HTML_INPUT_MAX)
		abort();
	for (size_t i = 0; i < d->n_links; i++) {
		const struct html_link *l = &d->links[i];
		struct html_url u;

		if (l->href_len > HTML_ATTR_VALUE_MAX ||
		    strlen(l->href) != l->href_len ||
		    l->text_len > HTML_LINK_TEXT_MAX ||
		    strlen(l->text) != l->text_len ||
		    !utf8_valid(l->text, l->text_len) ||
		    (l->text_len > 0 && (l->text[0] == ' ' ||
		    l->text[l->text_len - 1] == ' ')) ||
		    strstr(l->text, "  ") != NULL)
			abort();
		fuzz_check_url(&u, html_url_parse_ref(l->href, l->href_len,
		    d->base, &u));
		fuzz_check_url(&u, html_text_host(l->text, l->text_len, &u));
	}
}

static bool
fuzz_same_doc(const struct html_doc *a, const struct html_doc *b)
{
	if (a->n_links != b->n_links || a->links_seen != b->links_seen ||
	    a->n_forms != b->n_forms || a->n_imgs != b->n_imgs ||
	    a->n_refresh != b->n_refresh || a->text_chars != b->text_chars ||
	    a->password_inputs != b->password_inputs ||
	    (a->base == NULL) != (b->base == NULL))
		return false;
	for (size_t i = 0; i < a->n_links; i++)
		if (strcmp(a->links[i].href, b->links[i].href) != 0 ||
		    strcmp(a->links[i].text, b->links[i].text) != 0)
			return false;
	for (size_t i = 0; i < a->n_imgs; i++)
		if (strcmp(a->imgs[i], b->imgs[i]) != 0)
			return false;
	return a->base == NULL || strcmp(a->base, b->base) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pool *pool = pool_new(64 * 1024);
	const struct html_doc *d, *d2;
	struct html_scanner *sc;
	struct html_text_url urls[16];
	struct html_url u;
	char sk[HTML_SKELETON_MAX];
	size_t split, n, seen;
	int k;

	/* The scanner, whole and in two pieces. */
	d = html_scan(s, size, pool);
	fuzz_check_doc(d);
	split = size > 0 ? data[0] % (size + 1) : 0;
	sc = html_scanner_new(pool);
	html_scanner_feed(sc, s, split);
	html_scanner_feed(sc, s + split, size - split);
	d2 = html_scanner_finish(sc);
	if (!fuzz_same_doc(d, d2))
		abort();

	/* URLs. */
	fuzz_check_url(&u, html_url_parse(s, size, &u));
	fuzz_check_url(&u, html_url_parse_ref(s, size, "http://b.example/",
	    &u));
	fuzz_check_url(&u, html_text_host(s, size, &u));
	n = html_text_urls(s, size, urls, 16, &seen);
	if (n > 16 || n > seen)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (urls[i].len == 0 || urls[i].off > size ||
		    urls[i].len > size - urls[i].off)
			abort();
		fuzz_check_url(&u, html_text_host(s + urls[i].off, urls[i].len,
		    &u));
	}

	/* Lookalike tools. */
	k = html_skeleton(s, size, sk, sizeof(sk));
	if (k >= 0 && (size_t)k != strlen(sk) && memchr(s, 0, size) == NULL)
		abort();
	(void)html_label_mixed_scripts(s, size);
	if (html_edit_distance(s, size / 2, s + size / 2, size - size / 2) >
	    HTML_LABEL_CP_MAX)
		abort();

	/* The whole check, on the bytes as a message. */
	{
		struct mime_part *root;
		struct spam_msg m;
		struct spam_result r;
		const char *error;

		if (mime_parse(s, size, pool, &root, &error) == 0) {
			memset(&m, 0, sizeof(m));
			m.data = s;
			m.len = size;
			m.root = root;
			m.pool = pool;
			m.local_domains = fuzz_locals;
			m.n_local_domains = 1;
			spam_result_init(&r, NULL);
			spam_check_html(&m, &r);
			if (m.uris.n > SPAM_URI_HOSTS_MAX)
				abort();
		}
	}
	pool_free(&pool);
	return 0;
}
