/*
 * imap-search.c - SEARCH program parser (see imap-search.h).
 *
 * RFC 9051 9:
 *   search         = "SEARCH" [search-return-opts] SP search-program
 *   search-return-opts = SP "RETURN" SP "(" [search-return-opt
 *                    *(SP search-return-opt)] ")"
 *   search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)
 *   search-key     = "ALL" / "ANSWERED" / "BCC" SP astring / ... /
 *                    "(" search-key *(SP search-key) ")"
 * RFC 7162 3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP
 *                 mod-sequence-valzer
 * RFC 3501 adds NEW, OLD, RECENT (kept: old clients still send them).
 *
 * SECURITY: recursion is bounded by IMAP_SEARCH_DEPTH_MAX and the tree
 * by IMAP_SEARCH_KEYS_MAX; peer text in error messages is escaped and cut.
 */
#include "imap/imap-search.h"

#include <string.h>

#include "core/pool.h"
#include "core/utf8.h"
#include "imap/imap-date.h"

/* Peer text quoted in an error message is cut to this many bytes. */
#define IMAP_SEARCH_ERROR_TEXT_MAX 40

enum imap_search_argkind {
	IMAP_SKA_NONE,
	IMAP_SKA_STRING,	/* astring */
	IMAP_SKA_DATE,
	IMAP_SKA_SIZE,		/* number64 */
	IMAP_SKA_SECONDS,	/* nz-number */
	IMAP_SKA_SEQSET,
	IMAP_SKA_HEADER,	/* astring astring */
	IMAP_SKA_KEYWORD,	/* flag-keyword: an atom */
	IMAP_SKA_NOT,
	IMAP_SKA_OR,
	IMAP_SKA_MODSEQ,
};

struct imap_search_def {
	const char *name;
	enum imap_search_op op;
	enum imap_search_argkind arg;
};

static const struct imap_search_def imap_search_defs[] = {
	{ "ALL", IMAP_SK_ALL, IMAP_SKA_NONE },
	{ "ANSWERED", IMAP_SK_ANSWERED, IMAP_SKA_NONE },
	{ "BCC", IMAP_SK_BCC, IMAP_SKA_STRING },
	{ "BEFORE", IMAP_SK_BEFORE, IMAP_SKA_DATE },
	{ "BODY", IMAP_SK_BODY, IMAP_SKA_STRING },
	{ "CC", IMAP_SK_CC, IMAP_SKA_STRING },
	{ "DELETED", IMAP_SK_DELETED, IMAP_SKA_NONE },
	{ "DRAFT", IMAP_SK_DRAFT, IMAP_SKA_NONE },
	{ "FLAGGED", IMAP_SK_FLAGGED, IMAP_SKA_NONE },
	{ "FROM", IMAP_SK_FROM, IMAP_SKA_STRING },
	{ "HEADER", IMAP_SK_HEADER, IMAP_SKA_HEADER },
	{ "KEYWORD", IMAP_SK_KEYWORD, IMAP_SKA_KEYWORD },
	{ "LARGER", IMAP_SK_LARGER, IMAP_SKA_SIZE },
	{ "MODSEQ", IMAP_SK_MODSEQ, IMAP_SKA_MODSEQ },
	{ "NEW", IMAP_SK_NEW, IMAP_SKA_NONE },
	{ "NOT", IMAP_SK_NOT, IMAP_SKA_NOT },
	{ "OLD", IMAP_SK_OLD, IMAP_SKA_NONE },
	{ "OLDER", IMAP_SK_OLDER, IMAP_SKA_SECONDS },
	{ "ON", IMAP_SK_ON, IMAP_SKA_DATE },
	{ "OR", IMAP_SK_OR, IMAP_SKA_OR },
	{ "RECENT", IMAP_SK_RECENT, IMAP_SKA_NONE },
	{ "SEEN", IMAP_SK_SEEN, IMAP_SKA_NONE },
	{ "SENTBEFORE", IMAP_SK_SENTBEFORE, IMAP_SKA_DATE },
	{ "SENTON", IMAP_SK_SENTON, IMAP_SKA_DATE },
	{ "SENTSINCE", IMAP_SK_SENTSINCE, IMAP_SKA_DATE },
	{ "SINCE", IMAP_SK_SINCE, IMAP_SKA_DATE },
	{ "SMALLER", IMAP_SK_SMALLER, IMAP_SKA_SIZE },
	{ "SUBJECT", IMAP_SK_SUBJECT, IMAP_SKA_STRING },
	{ "TEXT", IMAP_SK_TEXT, IMAP_SKA_STRING },
	{ "TO", IMAP_SK_TO, IMAP_SKA_STRING },
	{ "UID", IMAP_SK_UID, IMAP_SKA_SEQSET },
	{ "UNANSWERED", IMAP_SK_UNANSWERED, IMAP_SKA_NONE },
	{ "UNDELETED", IMAP_SK_UNDELETED, IMAP_SKA_NONE },
	{ "UNDRAFT", IMAP_SK_UNDRAFT, IMAP_SKA_NONE },
	{ "UNFLAGGED", IMAP_SK_UNFLAGGED, IMAP_SKA_NONE },
	{ "UNKEYWORD", IMAP_SK_UNKEYWORD, IMAP_SKA_KEYWORD },
	{ "UNSEEN", IMAP_SK_UNSEEN, IMAP_SKA_NONE },
	{ "YOUNGER", IMAP_SK_YOUNGER, IMAP_SKA_SECONDS },
};

struct imap_search_ctx {
	struct pool *pool;
	bool check_utf8;	/* string arguments must be UTF-8 */
	size_t keys;		/* nodes made so far */
	const char **error_r;
};

/* Peer text for an error message: printable ASCII, cut short. */
static const char *
imap_search_printable(struct pool *pool, const char *s, size_t len)
{
	size_t n = len > IMAP_SEARCH_ERROR_TEXT_MAX ?
	    IMAP_SEARCH_ERROR_TEXT_MAX : len;
	char *out = pool_alloc(pool, n + 4);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (n < len)
		memcpy(out + n, "...", 4);
	return out;
}

static bool
imap_search_name_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen && b[i] != '\0'; i++) {
		char c = a[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != b[i])
			return false;
	}
	return i == alen && b[i] == '\0';
}

static const struct imap_search_def *
imap_search_def_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(imap_search_defs) /
	    sizeof(imap_search_defs[0]); i++)
		if (imap_search_name_eq(name, len, imap_search_defs[i].name))
			return &imap_search_defs[i];
	return NULL;
}

/* Sets the error to "what name" ("Missing argument for SINCE"). */
static int
imap_search_fail(struct imap_search_ctx *ctx, const char *what,
    const char *name)
{
	*ctx->error_r = pool_printf(ctx->pool, "%s %s", what, name);
	return -1;
}

/* An astring argument, checked for UTF-8 when that is the charset. */
static int
imap_search_string(struct imap_search_ctx *ctx, const struct imap_arg *a,
    const char *keyname, const char **str_r, size_t *len_r)
{
	if (a == NULL)
		return imap_search_fail(ctx, "Missing argument for", keyname);
	if (!imap_arg_astring(a, str_r, len_r))
		return imap_search_fail(ctx, "Invalid argument for", keyname);
	if (ctx->check_utf8 && !utf8_valid(*str_r, *len_r))
		return imap_search_fail(ctx, "Invalid UTF-8 in argument for",
		    keyname);
	return 0;
}

static int
imap_search_key_parse(struct imap_search_ctx *ctx, const struct imap_arg *args,
    size_t n, size_t *pos, struct imap_search_key *key, unsigned depth);

/* Parses every element of args as a key, children of an AND node. */
static int
imap_search_group_parse(struct imap_search_ctx *ctx,
    const struct imap_arg *args, size_t n, struct imap_search_key *key,
    unsigned depth)
{
	size_t pos = 0;

	key->op = IMAP_SK_AND;
	if (n == 0) {
		*ctx->error_r = "Missing search key";
		return -1;
	}
	/* At most one child per element; the pool memory is bounded by the
	 * parser's argument limit. */
	key->children = pool_alloc(ctx->pool, n * sizeof(*key->children));
	while (pos < n) {
		if (imap_search_key_parse(ctx, args, n, &pos,
		    &key->children[key->n_children], depth) < 0)
			return -1;
		key->n_children++;
	}
	return 0;
}

static int
imap_search_modseq_parse(struct imap_search_ctx *ctx,
    const struct imap_arg *args, size_t n, size_t *pos,
    struct imap_search_key *key)
{
	const struct imap_arg *a = *pos < n ? &args[(*pos)++] : NULL;
	const char *s;

	if (a != NULL && (a->type == IMAP_ARG_STRING ||
	    a->type == IMAP_ARG_LITERAL)) {
		/* entry-name SP entry-type-req: parsed and ignored, as
		 * there are no per-flag mod-sequences here. */
		a = *pos < n ? &args[(*pos)++] : NULL;
		if (a == NULL) {
			*ctx->error_r = "Missing argument for MODSEQ";
			return -1;
		}
		if (!imap_arg_atom_eq(a, "priv") && !imap_arg_atom_eq(a, "shared") &&
		    !imap_arg_atom_eq(a, "all")) {
			*ctx->error_r = "Invalid entry type for MODSEQ";
			return -1;
		}
		a = *pos < n ? &args[(*pos)++] : NULL;
	}
	if (a == NULL) {
		*ctx->error_r = "Missing argument for MODSEQ";
		return -1;
	}
	/* mod-sequence-valzer = "0" / mod-sequence-value (RFC 7162 7) */
	if (!imap_arg_atom(a, &s) ||
	    imap_number64_parse(s, a->len, &key->number) < 0) {
		*ctx->error_r = "Invalid number for MODSEQ";
		return -1;
	}
	return 0;
}

static int
imap_search_key_parse(struct imap_search_ctx *ctx, const struct imap_arg *args,
    size_t n, size_t *pos, struct imap_search_key *key, unsigned depth)
{
	const struct imap_arg *a = &args[(*pos)++], *next;
	const struct imap_search_def *def;
	const char *s, *name, *str;
	size_t len;
	uint32_t secs;

	memset(key, 0, sizeof(*key));
	if (++ctx->keys > IMAP_SEARCH_KEYS_MAX) {
		*ctx->error_r = "Too many search keys";
		return -1;
	}
	if (a->type == IMAP_ARG_LIST) {
		if (depth >= IMAP_SEARCH_DEPTH_MAX) {
			*ctx->error_r = "Search program nested too deeply";
			return -1;
		}
		return imap_search_group_parse(ctx, a->list, a->n_list, key,
		    depth + 1);
	}
	if (!imap_arg_atom(a, &s)) {
		*ctx->error_r = "Invalid search key";
		return -1;
	}
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '*' || s[0] == '$') {
		key->op = IMAP_SK_SEQSET;
		return imap_seqset_parse(s, a->len, ctx->pool, &key->set,
		    ctx->error_r);
	}
	def = imap_search_def_find(s, a->len);
	if (def == NULL)
		return imap_search_fail(ctx, "Unknown search key",
		    imap_search_printable(ctx->pool, s, a->len));
	key->op = def->op;
	name = def->name;
	if (def->arg == IMAP_SKA_NONE)
		return 0;
	if (def->arg == IMAP_SKA_MODSEQ)
		return imap_search_modseq_parse(ctx, args, n, pos, key);
	if (def->arg == IMAP_SKA_NOT || def->arg == IMAP_SKA_OR) {
		if (depth >= IMAP_SEARCH_DEPTH_MAX) {
			*ctx->error_r = "Search program nested too deeply";
			return -1;
		}
		key->n_children = def->arg == IMAP_SKA_OR ? 2 : 1;
		key->children = pool_alloc(ctx->pool,
		    key->n_children * sizeof(*key->children));
		for (size_t i = 0; i < key->n_children; i++) {
			if (*pos >= n)
				return imap_search_fail(ctx,
				    "Missing argument for", name);
			if (imap_search_key_parse(ctx, args, n, pos,
			    &key->children[i], depth + 1) < 0)
				return -1;
		}
		return 0;
	}
	next = *pos < n ? &args[(*pos)++] : NULL;
	if (next == NULL)
		return imap_search_fail(ctx, "Missing argument for", name);
	switch (def->arg) {
	case IMAP_SKA_STRING:
		return imap_search_string(ctx, next, name, &key->str,
		    &key->str_len);
	case IMAP_SKA_HEADER:
		if (imap_search_string(ctx, next, name, &key->header_name,
		    &len) < 0)
			return -1;
		next = *pos < n ? &args[(*pos)++] : NULL;
		return imap_search_string(ctx, next, name, &key->str,
		    &key->str_len);
	case IMAP_SKA_DATE:
		/* date = date-text / DQUOTE date-text DQUOTE */
		if (!imap_arg_astring(next, &str, &len) ||
		    imap_date_parse(str, len, &key->date) < 0) {
			*ctx->error_r = "Invalid date";
			return -1;
		}
		return 0;
	case IMAP_SKA_SIZE:
		if (!imap_arg_atom(next, &str) ||
		    imap_number64_parse(str, next->len, &key->number) < 0)
			return imap_search_fail(ctx, "Invalid number for", name);
		return 0;
	case IMAP_SKA_SECONDS:
		if (!imap_arg_atom(next, &str) ||
		    imap_number_parse(str, next->len, &secs) < 0 || secs == 0)
			return imap_search_fail(ctx, "Invalid number for", name);
		key->number = secs;
		return 0;
	case IMAP_SKA_SEQSET:
		if (!imap_arg_atom(next, &str)) {
			*ctx->error_r = "Invalid sequence set";
			return -1;
		}
		return imap_seqset_parse(str, next->len, ctx->pool, &key->set,
		    ctx->error_r);
	case IMAP_SKA_KEYWORD:
		if (!imap_arg_atom(next, &str))
			return imap_search_fail(ctx, "Invalid argument for", name);
		key->str = str;
		key->str_len = next->len;
		return 0;
	default:
		break;
	}
	*ctx->error_r = "Invalid search key";
	return -1;
}

/* RETURN (options): RFC 4731 3.1, RFC 5182 2.1. */
static int
imap_search_return_parse(struct imap_search_ctx *ctx,
    const struct imap_arg *a, struct imap_search_return *ret_r)
{
	static const struct {
		const char *name;
		unsigned int flag;
	} opts[] = {
		{ "MIN", IMAP_SEARCH_RETURN_MIN },
		{ "MAX", IMAP_SEARCH_RETURN_MAX },
		{ "ALL", IMAP_SEARCH_RETURN_ALL },
		{ "COUNT", IMAP_SEARCH_RETURN_COUNT },
		{ "SAVE", IMAP_SEARCH_RETURN_SAVE },
	};
	const struct imap_arg *list;
	size_t n;

	if (!imap_arg_list(a, &list, &n)) {
		*ctx->error_r = "Invalid RETURN options";
		return -1;
	}
	ret_r->present = true;
	for (size_t i = 0; i < n; i++) {
		const char *s;
		size_t j;

		if (!imap_arg_atom(&list[i], &s)) {
			*ctx->error_r = "Invalid RETURN options";
			return -1;
		}
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++) {
			if (imap_search_name_eq(s, list[i].len, opts[j].name)) {
				ret_r->flags |= opts[j].flag;
				break;
			}
		}
		if (j == sizeof(opts) / sizeof(opts[0]))
			return imap_search_fail(ctx, "Unknown RETURN option",
			    imap_search_printable(ctx->pool, s, list[i].len));
	}
	/* RFC 4731 3.1: an empty list is the same as (ALL). */
	if (n == 0)
		ret_r->flags = IMAP_SEARCH_RETURN_ALL;
	return 0;
}

int
imap_search_parse(const struct imap_arg *args, size_t n_args,
    struct pool *pool, bool utf8, struct imap_search_key **root_r,
    const char **charset_r, struct imap_search_return *ret_r,
    const char **error_r)
{
	struct imap_search_ctx ctx = {
		.pool = pool,
		.error_r = error_r,
	};
	struct imap_search_key *root;
	size_t pos = 0, len;
	const char *charset = NULL;

	memset(ret_r, 0, sizeof(*ret_r));
	*charset_r = NULL;
	*root_r = NULL;
	if (pos < n_args && imap_arg_atom_eq(&args[pos], "RETURN")) {
		if (pos + 1 >= n_args) {
			*error_r = "Missing argument for RETURN";
			return -1;
		}
		if (imap_search_return_parse(&ctx, &args[pos + 1], ret_r) < 0)
			return -1;
		pos += 2;
	}
	if (pos < n_args && imap_arg_atom_eq(&args[pos], "CHARSET")) {
		if (pos + 1 >= n_args ||
		    !imap_arg_astring(&args[pos + 1], &charset, &len)) {
			*error_r = "Missing argument for CHARSET";
			return -1;
		}
		pos += 2;
	}
	/* Strings are UTF-8 unless another charset was named; those the
	 * caller refuses with BADCHARSET, so they are not checked here. */
	ctx.check_utf8 = utf8 || charset == NULL ||
	    imap_search_name_eq(charset, strlen(charset), "UTF-8") ||
	    imap_search_name_eq(charset, strlen(charset), "US-ASCII");
	root = pool_alloc(pool, sizeof(*root));
	if (imap_search_group_parse(&ctx, args + pos, n_args - pos, root,
	    0) < 0)
		return -1;
	*root_r = root;
	*charset_r = charset;
	return 0;
}
