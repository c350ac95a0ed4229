/*
 * imap-search.h - parsing a SEARCH program into a tree of search keys.
 * Evaluation is elsewhere: this only checks the syntax and converts the
 * arguments (dates, numbers, sequence sets).
 *
 * RFC 9051 6.4.4 and RFC 3501 6.4.4 (SEARCH), RFC 4731 and RFC 9051 6.4.4.1
 * (ESEARCH result options), RFC 5182 (SEARCHRES: RETURN (SAVE) and "$"),
 * RFC 7162 3.1.5 (CONDSTORE: the MODSEQ key), RFC 5032 (WITHIN: OLDER and
 * YOUNGER).
 *
 * SECURITY: the arguments come from the network (already bounded by the
 * parser limits). The tree is bounded by IMAP_SEARCH_DEPTH_MAX and
 * IMAP_SEARCH_KEYS_MAX, so evaluating it recursively is safe. Error
 * messages quote peer text only escaped and cut short.
 */
#ifndef IMAP_IMAP_SEARCH_H
#define IMAP_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap/imap-parser.h"

struct pool;

/* Nesting of NOT, OR and parenthesised groups. */
#define IMAP_SEARCH_DEPTH_MAX 32
/* Keys in one program, every node of the tree counted. */
#define IMAP_SEARCH_KEYS_MAX 1000

enum imap_search_op {
	IMAP_SK_AND,		/* children: the implicit list or a ( group ) */
	IMAP_SK_OR,		/* exactly 2 children */
	IMAP_SK_NOT,		/* exactly 1 child */
	IMAP_SK_ALL,
	IMAP_SK_ANSWERED,
	IMAP_SK_BCC,		/* str */
	IMAP_SK_BEFORE,		/* date */
	IMAP_SK_BODY,		/* str */
	IMAP_SK_CC,		/* str */
	IMAP_SK_DELETED,
	IMAP_SK_DRAFT,
	IMAP_SK_FLAGGED,
	IMAP_SK_FROM,		/* str */
	IMAP_SK_HEADER,		/* header_name, str */
	IMAP_SK_KEYWORD,	/* str */
	IMAP_SK_LARGER,		/* number */
	IMAP_SK_NEW,
	IMAP_SK_OLD,
	IMAP_SK_ON,		/* date */
	IMAP_SK_RECENT,
	IMAP_SK_SEEN,
	IMAP_SK_SENTBEFORE,	/* date */
	IMAP_SK_SENTON,		/* date */
	IMAP_SK_SENTSINCE,	/* date */
	IMAP_SK_SINCE,		/* date */
	IMAP_SK_SMALLER,	/* number */
	IMAP_SK_SUBJECT,	/* str */
	IMAP_SK_TEXT,		/* str */
	IMAP_SK_TO,		/* str */
	IMAP_SK_UID,		/* set */
	IMAP_SK_SEQSET,		/* set: a bare sequence set */
	IMAP_SK_UNANSWERED,
	IMAP_SK_UNDELETED,
	IMAP_SK_UNDRAFT,
	IMAP_SK_UNFLAGGED,
	IMAP_SK_UNKEYWORD,	/* str */
	IMAP_SK_UNSEEN,
	IMAP_SK_MODSEQ,		/* number (entry name and type are ignored) */
	IMAP_SK_OLDER,		/* number: seconds (RFC 5032) */
	IMAP_SK_YOUNGER,	/* number: seconds (RFC 5032) */
};

struct imap_search_key {
	enum imap_search_op op;
	struct imap_search_key *children;	/* AND, OR, NOT */
	size_t n_children;
	const char *str;	/* string argument, NUL-terminated */
	size_t str_len;
	const char *header_name;	/* HEADER: the field name (value in str) */
	/* BEFORE, ON, SINCE, SENT*: the day as 00:00:00 UTC. The caller
	 * decides in which time zone a message's date falls on a day
	 * (RFC 9051 6.4.4 leaves it to the server). */
	time_t date;
	uint64_t number;		/* LARGER/SMALLER, MODSEQ, OLDER/YOUNGER */
	struct imap_seqset set;		/* UID, SEQSET */
};

/* ESEARCH result options (RFC 4731 3.1, RFC 5182 2.1). */
#define IMAP_SEARCH_RETURN_MIN		(1u << 0)
#define IMAP_SEARCH_RETURN_MAX		(1u << 1)
#define IMAP_SEARCH_RETURN_ALL		(1u << 2)
#define IMAP_SEARCH_RETURN_COUNT	(1u << 3)
#define IMAP_SEARCH_RETURN_SAVE		(1u << 4)

struct imap_search_return {
	bool present;		/* RETURN (...) was given: answer with ESEARCH */
	unsigned int flags;	/* IMAP_SEARCH_RETURN_*; "RETURN ()" is ALL */
};

/*
 * Parses the arguments of SEARCH (after "SEARCH", or after "UID SEARCH"):
 *   [RETURN (options)] [CHARSET name] key *(key)
 * Keys are case-insensitive. *root_r is an IMAP_SK_AND node whose
 * children are the top-level keys. *charset_r is the CHARSET name or NULL;
 * the caller accepts only UTF-8 and US-ASCII and otherwise answers
 * NO [BADCHARSET (UTF-8 US-ASCII)]. String arguments must be valid UTF-8
 * when utf8 (UTF8=ACCEPT enabled) or when the charset is absent, UTF-8 or
 * US-ASCII (others are left for the caller to reject).
 * Everything is allocated from pool. Returns 0, or -1 with *error_r, a
 * short reason for a BAD reply ("Unknown search key FOO",
 * "Missing argument for SINCE", "Invalid date", ...), allocated from pool
 * or static.
 */
int
imap_search_parse(const struct imap_arg *args, size_t n_args,
    struct pool *pool, bool utf8, struct imap_search_key **root_r,
    const char **charset_r, struct imap_search_return *ret_r,
    const char **error_r);

#endif
