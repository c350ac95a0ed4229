/*
 * spam.h - the spam score of one message: named symbols with weights,
 * their sum, and the action the thresholds choose.
 *
 * Every check (filter/spam-*.c and the other modules of src/filter/)
 * adds symbols to a struct spam_result with spam_add(); a symbol's weight
 * is its default from the table in spam-symbols.c, or the administrator's
 * ([spam] scores). A symbol counts once per message, however often its
 * check fires (a hundred bad links are one HTML_LINK_MISMATCH), so that
 * one message cannot pile up a score from repetition alone. Some symbols
 * hold the message in quarantine whatever the score (malware: a message
 * that carries an executable is never delivered).
 *
 * The content checks read a struct spam_msg: the message as received, its
 * MIME tree (parsed once), and what they need to know of this server. They
 * are pure functions of it, run on a worker thread (they take CPU: MIME
 * decoding, HTML, attachments); they also collect the host names of the
 * links in the message for the URI blocklists, which the DNS stage asks
 * on the loop.
 *
 * SECURITY: the message is hostile. Details kept with a symbol are capped
 * (SPAM_DETAIL_MAX) and escaped before they reach a log line or a header
 * (spam_header_render); at most SPAM_HITS_MAX symbols are kept.
 */
#ifndef FILTER_SPAM_H
#define FILTER_SPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct buf;
struct mime_part;
struct pool;

/* Symbols kept for one message; there are fewer than this in the table. */
#define SPAM_HITS_MAX 128
/* Bytes of one symbol's detail (peer text, escaped, cut). */
#define SPAM_DETAIL_MAX 120
/* Link host names collected from one message for URI blocklists. */
#define SPAM_URI_HOSTS_MAX 64
/* The X-Spam-Status field at its longest (every symbol, folded). */
#define SPAM_HEADER_MAX (SPAM_HITS_MAX * 48 + 256)

/* Flags of a symbol definition. */
#define SPAM_SYM_HOLD	0x01	/* quarantine whatever the score */

struct spam_symbol_def {
	const char *name;	/* upper case, [A-Z0-9_] */
	double score;		/* default weight; negative for ham signs */
	unsigned flags;		/* SPAM_SYM_* */
	const char *description;	/* one line, for docs and the CLI */
};

/* What the thresholds decide, in increasing order of severity. */
enum spam_action {
	SPAM_ACTION_INBOX,	/* deliver as usual */
	SPAM_ACTION_JUNK,	/* deliver to the recipient's Junk */
	SPAM_ACTION_QUARANTINE,	/* hold, outside the mailboxes */
	SPAM_ACTION_REJECT,	/* 550 5.7.1 before the 250 */
};

/* "inbox", "junk", "quarantine", "reject". */
const char *
spam_action_name(enum spam_action action);

/* Every symbol the checks can add, and how many. */
extern const struct spam_symbol_def spam_symbols[];
extern const size_t spam_n_symbols;

/* The index of symbol name in spam_symbols[], or -1. */
int
spam_symbol_find(const char *name);

/* The weights in force: the table's defaults with [spam] scores on top. */
struct spam_weights {
	double *score;		/* spam_n_symbols of them */
};

/*
 * Parses [spam] scores, "NAME=WEIGHT NAME=WEIGHT ..." (spaces or commas
 * between the pairs; a weight is a decimal number, maybe negative),
 * into *w, which starts with the defaults. Returns 0, or -1 with
 * *error_r set (a static string or one in w) for an unknown symbol or a
 * bad number. spam_weights_free() releases it either way.
 */
int
spam_weights_parse(struct spam_weights *w, const char *spec,
    const char **error_r);
void
spam_weights_free(struct spam_weights *w);

struct spam_hit {
	int symbol;		/* index in spam_symbols[] */
	double score;		/* the weight in force */
	char detail[SPAM_DETAIL_MAX + 1];	/* printable ASCII, may be "" */
};

struct spam_result {
	const struct spam_weights *weights;	/* NULL: the defaults */
	struct spam_hit hits[SPAM_HITS_MAX];
	size_t n_hits;
	double score;		/* sum of the hits' scores */
	bool hold;		/* a SPAM_SYM_HOLD symbol was added */
};

/* Empties r and sets the weights it adds with (NULL for the defaults). */
void
spam_result_init(struct spam_result *r, const struct spam_weights *weights);

/*
 * Adds symbol (which must be in spam_symbols[]: an unknown name is a
 * programming error and asserts) with a detail made from fmt (may be
 * NULL), which is escaped to printable ASCII and cut at SPAM_DETAIL_MAX.
 * A symbol already in r is not added again. Returns true if it was added.
 */
bool
spam_add(struct spam_result *r, const char *symbol, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True if r has symbol. */
bool
spam_has(const struct spam_result *r, const char *symbol);

struct spam_thresholds {
	double junk;		/* score >= junk: Junk */
	double quarantine;	/* score >= quarantine: hold */
	double reject;		/* score >= reject: 550 */
};

/* The action for r: by its score, at least quarantine when r->hold. */
enum spam_action
spam_result_action(const struct spam_result *r,
    const struct spam_thresholds *t);

/*
 * Appends the header fields that report r, each ending in CRLF:
 *   X-Spam-Score: 7.5
 *   X-Spam-Status: Yes, score=7.5 required=5.0 action=junk
 *   	tests=HEADER_NO_DATE(1.0),HTML_LINK_MISMATCH(4.0),...
 * ("No" below the Junk threshold; symbols by decreasing weight; folded
 * at 78 columns). Returns 0, or -1 if out would pass its max.
 */
int
spam_header_render(const struct spam_result *r,
    const struct spam_thresholds *t, enum spam_action action,
    struct buf *out);

/*
 * Removes the X-Spam-Score, X-Spam-Status, X-Spam-Flag and X-Spam-Level
 * fields from the header block of msg (len bytes), which only this server
 * may write: a sender's copy would otherwise pass for our verdict. The
 * bytes after them move up; returns the new length.
 */
size_t
spam_header_strip(char *msg, size_t len);

/* Host names of the message's links, collected once each (lower case,
 * no trailing dot), for the URI blocklists. */
struct spam_uris {
	char *hosts[SPAM_URI_HOSTS_MAX];
	size_t n;
};

/*
 * Adds host (len bytes) to u unless it is there already or u is full;
 * the copy comes from pool. Host names that are not valid DNS names
 * (dns_name_normalize) are dropped. Returns true if it was added.
 */
bool
spam_uris_add(struct spam_uris *u, struct pool *pool, const char *host,
    size_t len);

/* What the content checks read. */
struct spam_msg {
	const char *data;	/* header and body as received (without our
				 * trace fields) */
	size_t len;
	const struct mime_part *root;	/* mime_parse() of data */
	struct pool *pool;	/* for the checks' scratch memory */
	time_t now;
	const char *hostname;	/* this server's name ([server] hostname) */
	/* The domains this server hosts, lower case. */
	const char *const *local_domains;
	size_t n_local_domains;
	/* Filled by the checks: link hosts for the URI blocklists. */
	struct spam_uris uris;
	/* The decoded text, once spam_msg_text() (spam-content.h) made it. */
	const char *text;
	size_t text_len;
};

/* True if domain (any case) is one of m's hosted domains or a
 * subdomain of one. */
bool
spam_msg_is_local_domain(const struct spam_msg *m, const char *domain,
    size_t len);

#endif
