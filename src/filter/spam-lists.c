/*
 * spam-lists.c - the allow and block lists of spam-lists.h.
 */
#include "filter/spam-lists.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/pool.h"
#include "mime/header.h"
#include "mime/mime-imap.h"
#include "store/store.h"

/* An address longer than this is no address (RFC 5321 4.5.3.1.3). */
#define SPAM_LISTS_ADDR_MAX 320

size_t
spam_lists_candidates(const char *addr, struct pool *pool, const char **out)
{
	size_t len = strlen(addr), n = 0;
	const char *at, *d;
	char *low;

	if (len == 0 || len > SPAM_LISTS_ADDR_MAX)
		return 0;
	low = pool_strndup(pool, addr, len);
	for (char *p = low; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	while (len > 0 && low[len - 1] == '.')
		low[--len] = '\0';
	at = strrchr(low, '@');
	if (at != NULL && at > low && at[1] != '\0')
		out[n++] = low;
	d = at != NULL ? at + 1 : low;
	for (int level = 0; level < SPAM_LISTS_DOMAIN_LEVELS && *d != '\0';
	    level++) {
		const char *dot = strchr(d, '.');

		/* Down to two labels: "example.org", never "org". */
		if (dot == NULL || dot[1] == '\0')
			break;
		out[n++] = d;
		d = dot + 1;
	}
	return n;
}

/* What the rows found say, per kind. */
struct spam_lists_match {
	const struct spam_lists_input *in;
	struct pool *pool;
	bool global[2];			/* by kind */
	bool *rcpt[2];			/* by kind, per recipient */
	const char *entry[2];		/* one that matched, for the detail */
};

/* The domain of an address, or the address. */
static const char *
spam_lists_domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : addr;
}

static void
spam_lists_row(void *ctx, const char *owner, const char *entry,
    enum store_spam_list_kind kind)
{
	struct spam_lists_match *mt = ctx;
	const struct spam_lists_input *in = mt->in;

	bool ours = owner[0] == '\0';

	if (owner[0] == '\0')
		mt->global[kind] = true;
	for (size_t i = 0; i < in->n_rcpts; i++)
		if (strcasecmp(owner, in->rcpts[i]) == 0 ||
		    strcasecmp(owner, spam_lists_domain_of(in->rcpts[i])) == 0)
			ours = mt->rcpt[kind][i] = true;
	/* Another recipient's entries are none of this message's business,
	 * not even in the detail. */
	if (ours && mt->entry[kind] == NULL)
		mt->entry[kind] = pool_strdup(mt->pool, entry);
}

static bool
spam_lists_applies(const struct spam_lists_match *mt, int kind)
{
	if (mt->global[kind])
		return true;
	if (mt->in->n_rcpts == 0)
		return false;
	for (size_t i = 0; i < mt->in->n_rcpts; i++)
		if (!mt->rcpt[kind][i])
			return false;
	return true;
}

/* Looks addr up; sets *allow_r and *block_r (and the entries). */
static int
spam_lists_lookup(struct store *store, const struct spam_msg *m,
    const struct spam_lists_input *in, const char *addr, bool *allow_r,
    bool *block_r, const char **entry_r, const char **error_r)
{
	const char *cand[1 + SPAM_LISTS_DOMAIN_LEVELS];
	struct spam_lists_match mt;
	size_t n;

	*allow_r = *block_r = false;
	if ((n = spam_lists_candidates(addr, m->pool, cand)) == 0)
		return 0;
	memset(&mt, 0, sizeof(mt));
	mt.in = in;
	mt.pool = m->pool;
	for (int k = 0; k < 2; k++)
		mt.rcpt[k] = pool_alloc(m->pool, (in->n_rcpts + 1) *
		    sizeof(bool));
	for (int k = 0; k < 2; k++)
		memset(mt.rcpt[k], 0, (in->n_rcpts + 1) * sizeof(bool));
	if (store_spam_list_match(store, cand, n, spam_lists_row, &mt,
	    error_r) < 0)
		return -1;
	*allow_r = spam_lists_applies(&mt, STORE_SPAM_ALLOW);
	*block_r = spam_lists_applies(&mt, STORE_SPAM_BLOCK);
	*entry_r = *block_r ? mt.entry[STORE_SPAM_BLOCK] :
	    mt.entry[STORE_SPAM_ALLOW];
	return 0;
}

struct spam_lists_from {
	char addr[SPAM_LISTS_ADDR_MAX + 1];
	bool found;
};

static void
spam_lists_from_cb(void *ctx, const char *local, size_t local_len,
    const char *domain, size_t domain_len)
{
	struct spam_lists_from *f = ctx;

	if (f->found || local_len + 1 + domain_len > SPAM_LISTS_ADDR_MAX)
		return;
	memcpy(f->addr, local, local_len);
	f->addr[local_len] = '@';
	memcpy(f->addr + local_len + 1, domain, domain_len);
	f->addr[local_len + 1 + domain_len] = '\0';
	f->found = true;
}

int
spam_check_lists(struct store *store, const struct spam_msg *m,
    const struct spam_lists_input *in, struct spam_result *r,
    const char **error_r)
{
	struct spam_lists_from from;
	bool allow[2], block[2], auth[2];
	const char *entry[2] = { NULL, NULL }, *addr[2];
	size_t hlen = header_block_len(m->data, m->len);
	char *v;

	memset(&from, 0, sizeof(from));
	if ((v = header_get(m->data, hlen, "From", m->pool)) != NULL)
		(void)mime_addr_list_foreach(v, strlen(v), spam_lists_from_cb,
		    &from);
	addr[0] = in->mail_from != NULL ? in->mail_from : "";
	addr[1] = from.found ? from.addr : "";
	auth[0] = in->mail_from_authenticated;
	auth[1] = from.found && in->from_domain_authenticated != NULL &&
	    strcasecmp(spam_lists_domain_of(from.addr),
	    in->from_domain_authenticated) == 0;
	for (int i = 0; i < 2; i++)
		if (spam_lists_lookup(store, m, in, addr[i], &allow[i],
		    &block[i], &entry[i], error_r) < 0)
			return -1;
	if (block[0] || block[1])
		spam_add(r, "BLOCKLIST", "%s", block[0] ? entry[0] : entry[1]);
	if ((allow[0] && auth[0]) || (allow[1] && auth[1]))
		spam_add(r, "ALLOWLIST", "%s", allow[0] && auth[0] ? entry[0] :
		    entry[1]);
	else if (allow[0] || allow[1])
		spam_add(r, "ALLOWLIST_UNAUTH", "%s", allow[0] ? entry[0] :
		    entry[1]);
	return 0;
}
