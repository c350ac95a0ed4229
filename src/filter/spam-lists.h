/*
 * spam-lists.h - the administrator's allow and block lists
 * (`correio spam allow|block`, store.h), applied to a message's senders:
 * its envelope sender and its From: address, each by the address, its
 * domain and that domain's parents.
 *
 * An entry applies when it is global (owner ""), or when every
 * recipient of the message has it, by its own address or its domain: a
 * message to several people is not blocked or let through for all of
 * them because one of them asked.
 *
 * An allow entry lets through only a sender that authenticated: the
 * envelope sender with SPF pass, the From: domain with DMARC pass.
 * Otherwise anyone could put an allowlisted address in From:. A match
 * that did not authenticate is reported (ALLOWLIST_UNAUTH, weight 0).
 * Nothing lets through a message that a holding symbol (malware) holds.
 *
 * SECURITY: the addresses come from the message; they are normalized
 * to lower case and bounded before they are looked up.
 */
#ifndef FILTER_SPAM_LISTS_H
#define FILTER_SPAM_LISTS_H

#include <stdbool.h>
#include <stddef.h>

#include "filter/spam.h"

struct store;

/* Parent domains looked up per address ("a.b.example.org" gives
 * a.b.example.org, b.example.org, example.org). */
#define SPAM_LISTS_DOMAIN_LEVELS 6

struct spam_lists_input {
	const char *mail_from;		/* envelope sender, "" for <> */
	bool mail_from_authenticated;	/* SPF pass */
	const char *from_domain_authenticated;	/* DMARC pass: its
					 * domain, or NULL */
	const char *const *rcpts;	/* the recipients' addresses */
	size_t n_rcpts;
};

/*
 * Adds ALLOWLIST, ALLOWLIST_UNAUTH or BLOCKLIST to r for m's senders, as
 * the lists in store say. Runs on a worker thread with its store.
 * Returns 0, or -1 with *error_r set (then nothing is added).
 */
int
spam_check_lists(struct store *store, const struct spam_msg *m,
    const struct spam_lists_input *in, struct spam_result *r,
    const char **error_r);

/*
 * The entries an address or a domain is looked up as, lower case, into
 * out (from pool): the address itself (if it has a local part), then its
 * domain and parent domains down to two labels. Returns their count (at
 * most 1 + SPAM_LISTS_DOMAIN_LEVELS), 0 for an empty address.
 */
size_t
spam_lists_candidates(const char *addr, struct pool *pool, const char **out);

#endif
