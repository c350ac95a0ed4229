/*
 * spam.c - symbols, weights, the score, the action and the header that
 * reports them (see spam.h).
 *
 * SECURITY: details come from the message and are escaped here, once, so
 * that every consumer (log line, header field, CLI) gets printable ASCII
 * without quotes or backslashes.
 */
#include "filter/spam.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "dns/dns-name.h"
#include "mime/mime.h"

static const char *const spam_action_names[] = {
	[SPAM_ACTION_INBOX] = "inbox",
	[SPAM_ACTION_JUNK] = "junk",
	[SPAM_ACTION_QUARANTINE] = "quarantine",
	[SPAM_ACTION_REJECT] = "reject",
};

const char *
spam_action_name(enum spam_action action)
{
	return spam_action_names[action];
}

int
spam_symbol_find(const char *name)
{
	for (size_t i = 0; i < spam_n_symbols; i++)
		if (strcmp(spam_symbols[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* A weight: a decimal number within +-1000 (GTUBE's), no exponent. */
static int
spam_weight_parse(const char *s, size_t len, double *w_r)
{
	char tmp[32], *end;
	double w;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (!(tmp[i] >= '0' && tmp[i] <= '9') && tmp[i] != '.' &&
		    !(i == 0 && (tmp[i] == '-' || tmp[i] == '+')))
			return -1;
	errno = 0;
	w = strtod(tmp, &end);
	if (errno != 0 || *end != '\0' || end == tmp || !isfinite(w) ||
	    w > 1000 || w < -1000)
		return -1;
	*w_r = w;
	return 0;
}

int
spam_weights_parse(struct spam_weights *w, const char *spec,
    const char **error_r)
{
	const char *p = spec != NULL ? spec : "";

	w->score = xcalloc(spam_n_symbols, sizeof(*w->score));
	for (size_t i = 0; i < spam_n_symbols; i++)
		w->score[i] = spam_symbols[i].score;
	for (;;) {
		const char *start, *eq, *end;
		char name[64];
		int sym;
		double v;

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		start = p;
		while (*p != '\0' && *p != ' ' && *p != ',' && *p != '\t')
			p++;
		end = p;
		eq = memchr(start, '=', (size_t)(end - start));
		if (eq == NULL || eq == start ||
		    (size_t)(eq - start) >= sizeof(name)) {
			*error_r = "expected NAME=WEIGHT";
			return -1;
		}
		memcpy(name, start, (size_t)(eq - start));
		name[eq - start] = '\0';
		if ((sym = spam_symbol_find(name)) < 0) {
			*error_r = "unknown symbol (correio spam symbols "
			    "lists them)";
			return -1;
		}
		if (spam_weight_parse(eq + 1, (size_t)(end - eq - 1), &v) < 0) {
			*error_r = "a weight is a number from -1000 to 1000";
			return -1;
		}
		w->score[sym] = v;
	}
}

void
spam_weights_free(struct spam_weights *w)
{
	free(w->score);
	w->score = NULL;
}

void
spam_result_init(struct spam_result *r, const struct spam_weights *weights)
{
	r->weights = weights;
	r->n_hits = 0;
	r->score = 0;
	r->hold = false;
}

bool
spam_has(const struct spam_result *r, const char *symbol)
{
	int sym = spam_symbol_find(symbol);

	for (size_t i = 0; i < r->n_hits; i++)
		if (r->hits[i].symbol == sym)
			return true;
	return false;
}

/* Printable ASCII without '"' and '\\' (they become '?'), cut. */
static void
spam_detail_clean(char *d)
{
	for (; *d != '\0'; d++)
		if ((unsigned char)*d < 0x20 || (unsigned char)*d > 0x7e ||
		    *d == '"' || *d == '\\')
			*d = '?';
}

bool
spam_add(struct spam_result *r, const char *symbol, const char *fmt, ...)
{
	int sym = spam_symbol_find(symbol);
	struct spam_hit *h;
	va_list ap;

	assert(sym >= 0);
	for (size_t i = 0; i < r->n_hits; i++)
		if (r->hits[i].symbol == sym)
			return false;
	if (r->n_hits == SPAM_HITS_MAX)
		return false;
	h = &r->hits[r->n_hits++];
	h->symbol = sym;
	h->score = r->weights != NULL ? r->weights->score[sym] :
	    spam_symbols[sym].score;
	h->detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		/* Cut at SPAM_DETAIL_MAX: the rest is not needed. */
		(void)vsnprintf(h->detail, sizeof(h->detail), fmt, ap);
		va_end(ap);
		spam_detail_clean(h->detail);
	}
	r->score += h->score;
	if (spam_symbols[sym].flags & SPAM_SYM_HOLD)
		r->hold = true;
	return true;
}

enum spam_action
spam_result_action(const struct spam_result *r,
    const struct spam_thresholds *t)
{
	enum spam_action a = SPAM_ACTION_INBOX;

	if (r->score >= t->reject)
		a = SPAM_ACTION_REJECT;
	else if (r->score >= t->quarantine)
		a = SPAM_ACTION_QUARANTINE;
	else if (r->score >= t->junk)
		a = SPAM_ACTION_JUNK;
	if (r->hold && a < SPAM_ACTION_QUARANTINE)
		a = SPAM_ACTION_QUARANTINE;
	return a;
}

static int
spam_hit_cmp(const void *a, const void *b)
{
	const struct spam_hit *x = *(const struct spam_hit *const *)a;
	const struct spam_hit *y = *(const struct spam_hit *const *)b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(spam_symbols[x->symbol].name,
	    spam_symbols[y->symbol].name);
}

int
spam_header_render(const struct spam_result *r,
    const struct spam_thresholds *t, enum spam_action action,
    struct buf *out)
{
	const struct spam_hit *sorted[SPAM_HITS_MAX];
	size_t col, i;
	int rc = 0;

	for (i = 0; i < r->n_hits; i++)
		sorted[i] = &r->hits[i];
	qsort(sorted, r->n_hits, sizeof(sorted[0]), spam_hit_cmp);
	rc |= buf_printf(out, "X-Spam-Score: %.1f\r\n", r->score);
	rc |= buf_printf(out, "X-Spam-Status: %s, score=%.1f required=%.1f "
	    "action=%s\r\n\ttests=", action != SPAM_ACTION_INBOX ? "Yes" : "No",
	    r->score, t->junk, spam_action_name(action));
	col = 7;
	if (r->n_hits == 0)
		rc |= buf_puts(out, "none");
	for (i = 0; i < r->n_hits; i++) {
		char item[96];
		int n = snprintf(item, sizeof(item), "%s(%.1f)%s",
		    spam_symbols[sorted[i]->symbol].name, sorted[i]->score,
		    i + 1 < r->n_hits ? "," : "");

		if (n < 0 || (size_t)n >= sizeof(item))
			return -1;
		if (col > 8 && col + (size_t)n > 78) {
			rc |= buf_puts(out, "\r\n\t");
			col = 1;
		}
		rc |= buf_puts(out, item);
		col += (size_t)n;
	}
	rc |= buf_puts(out, "\r\n");
	return rc != 0 ? -1 : 0;
}

static bool
spam_field_is_ours(const char *msg, const struct mime_header_field *f)
{
	static const char *const names[] = {
		"X-Spam-Score", "X-Spam-Status", "X-Spam-Flag", "X-Spam-Level",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mime_header_field_is(msg, f, names[i]))
			return true;
	return false;
}

size_t
spam_header_strip(char *msg, size_t len)
{
	struct mime_header_field f;
	size_t pos = 0, end = len;

	/* The header block ends at the first empty line; fields moved up
	 * keep the search going from where the removed one started. */
	for (;;) {
		size_t at = pos;

		if (!mime_header_field_next(msg, end, &pos, &f))
			break;
		if (f.name_len > 0 && spam_field_is_ours(msg, &f)) {
			memmove(msg + f.start, msg + f.end, end - f.end);
			end -= f.end - f.start;
			pos = at;
		}
	}
	return end;
}

bool
spam_uris_add(struct spam_uris *u, struct pool *pool, const char *host,
    size_t len)
{
	char name[DNS_NAME_MAX + 1], norm[DNS_NAME_MAX + 1];
	const char *error;

	if (u->n == SPAM_URI_HOSTS_MAX || len == 0 || len >= sizeof(name))
		return false;
	memcpy(name, host, len);
	name[len] = '\0';
	if (memchr(name, '\0', len) != NULL ||
	    dns_name_normalize(name, DNS_NAME_HOST, norm, sizeof(norm),
	    &error) < 0)
		return false;
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->hosts[i], norm) == 0)
			return false;
	u->hosts[u->n++] = pool_strdup(pool, norm);
	return true;
}

bool
spam_msg_is_local_domain(const struct spam_msg *m, const char *domain,
    size_t len)
{
	while (len > 0 && domain[len - 1] == '.')
		len--;
	for (size_t i = 0; i < m->n_local_domains; i++) {
		const char *d = m->local_domains[i];
		size_t dl = strlen(d);

		if (len == dl && strncasecmp(domain, d, len) == 0)
			return true;
		if (len > dl && domain[len - dl - 1] == '.' &&
		    strncasecmp(domain + len - dl, d, dl) == 0)
			return true;
	}
	return false;
}
