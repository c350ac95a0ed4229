/*
 * imap-parser.c - incremental IMAP command parser (see imap-parser.h).
 *
 * RFC 9051 9 (formal syntax):
 *   command     = tag SP (command-any / command-auth / ...) CRLF
 *   tag         = 1*<any ASTRING-CHAR except "+">
 *   atom        = 1*ATOM-CHAR
 *   ATOM-CHAR   = <any CHAR except atom-specials>
 *   atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                 quoted-specials / resp-specials
 *   quoted      = DQUOTE *QUOTED-CHAR DQUOTE
 *   literal     = "{" number64 ["+"] "}" CRLF *CHAR8     (RFC 7888 adds "+")
 *   literal8    = "~{" number64 ["+"] "}" CRLF *OCTET    (RFC 3516)
 *
 * The parser is a byte-at-a-time state machine: every byte is looked at
 * once, in whatever chunks it arrives, which is what makes feeding one byte
 * at a time equivalent to feeding everything. Only the current token is
 * buffered (in tok); finished arguments go to the per-command pool, and
 * literal data to heap blocks that are freed with the command.
 *
 * Atoms are a little wider than ATOM-CHAR, as every server has them: "%"
 * and "*" (LIST patterns, "1:*"), "]" (astrings such as "[Gmail]/Sent"),
 * a leading "\" (flags), and a "[...]" section after the first character
 * that runs to its "]" across spaces, parentheses and quoted strings
 * (FETCH BODY[HEADER.FIELDS (From)]<0.100>, kept verbatim).
 *
 * SECURITY: sees raw network bytes, before authentication too. The line
 * limit is checked before each byte is buffered; a rejected command is
 * discarded byte by byte up to its end without buffering; literal data is
 * buffered only as it arrives, never allocated ahead from the announced
 * size.
 */
#include "imap/imap-parser.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/utf8.h"
#include "core/xalloc.h"

/* Chunk size of the per-command pool. */
#define IMAP_PARSER_POOL_CHUNK 8192
/* The token buffer keeps at most this much memory between commands. */
#define IMAP_PARSER_TOK_KEEP 4096

enum imap_parser_state {
	IMAP_PST_TAG,			/* start of a command: the tag */
	IMAP_PST_BEFORE_NAME,		/* spaces after the tag */
	IMAP_PST_NAME,			/* the command name */
	IMAP_PST_ARGS,			/* between arguments */
	IMAP_PST_ATOM,
	IMAP_PST_ATOM_BRACKET,		/* inside the [...] of an atom */
	IMAP_PST_ATOM_BRACKET_QUOTED,	/* a quoted string inside [...] */
	IMAP_PST_ATOM_BRACKET_ESC,	/* after "\" in that string */
	IMAP_PST_QUOTED,
	IMAP_PST_QUOTED_ESC,		/* after "\" in a quoted string */
	IMAP_PST_LITERAL_SIZE,		/* after "{": digits */
	IMAP_PST_LITERAL_CLOSE,		/* after "+": "}" */
	IMAP_PST_LITERAL_CR,		/* after "}" */
	IMAP_PST_LITERAL_LF,		/* after "}\r" */
	IMAP_PST_LITERAL_DATA,		/* the literal's bytes */
	IMAP_PST_EOL_LF,		/* CR at the end of the command */
	IMAP_PST_SKIP,			/* error: discarding to the end */
	IMAP_PST_SKIP_LITERAL,		/* discarding a {n+} literal's data */
	IMAP_PST_CLOSED,		/* must close: take and refuse all */
};

/* While a rejected command is discarded, the end of each line is watched
 * for a literal announcement, so that the end of the command is found
 * where the client thinks it is. */
enum imap_skip_tail {
	IMAP_TAIL_NONE,
	IMAP_TAIL_OPEN,		/* "{" */
	IMAP_TAIL_SIZE,		/* "{" 1*DIGIT */
	IMAP_TAIL_PLUS,		/* "{" 1*DIGIT "+" */
	IMAP_TAIL_CLOSE,	/* ... "}" */
	IMAP_TAIL_CR,		/* ... "}" CR */
};

/* What one byte did. */
enum imap_step {
	IMAP_STEP_NEXT,		/* taken */
	IMAP_STEP_AGAIN,	/* not taken; look at it again in the new state */
	IMAP_STEP_DONE,		/* taken; the command is complete */
	IMAP_STEP_CONTINUE,	/* taken; a synchronizing literal follows */
	IMAP_STEP_ERROR,	/* taken; the command ends with p->error */
};

struct imap_arg_node {
	struct imap_arg arg;
	struct imap_arg_node *next;
};

/* The arguments of one open list (level 0: the command's arguments). */
struct imap_arg_level {
	struct imap_arg_node *head, *tail;
	size_t n;
};

/* Literal data of the current command (heap, freed with the command). */
struct imap_literal_block {
	char *data;
	struct imap_literal_block *next;
};

struct imap_parser {
	size_t line_max;
	size_t literal_max;
	bool utf8;

	enum imap_parser_state state;
	bool finished;		/* last verdict was DONE or ERROR */
	bool must_close;
	const char *error;

	/* The current command. */
	struct pool *pool;
	size_t line_len;	/* bytes outside literal data so far */
	size_t n_args;		/* every argument, lists included */
	size_t depth;		/* open lists */
	struct imap_arg_level levels[IMAP_LIST_DEPTH_MAX + 1];
	bool have_tag;
	char tag[IMAP_TAG_MAX + 1];
	const char *name;
	bool need_sep;		/* an argument just ended: SP, ")" or EOL next */
	uint64_t lit_total;	/* literal bytes accepted in this command */
	struct imap_literal_block *blocks;
	/* Literal bytes held by every parser that shares in_use. */
	uint64_t *in_use, in_use_max;

	/* The current token. */
	struct buf tok;
	bool quoted_8bit;
	bool lit_plus;
	bool lit8;
	bool lit_digits;
	uint64_t lit_size;
	uint64_t lit_left;
	struct buf lit;

	/* Discarding. */
	enum imap_skip_tail tail;
	bool tail_plus;
	uint64_t tail_size;
	uint64_t skip_left;
};

/* RFC 9051 ATOM-CHAR: CHAR except atom-specials. */
static bool
imap_is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case '%': case '*':
	case '"': case '\\': case ']':
		return false;
	default:
		return true;
	}
}

/* What an atom argument may hold (see the file comment). */
static bool
imap_is_arg_atom_char(unsigned char c)
{
	return imap_is_atom_char(c) || c == '%' || c == '*' || c == ']';
}

/* RFC 9051 tag: ASTRING-CHAR except "+". */
static bool
imap_is_tag_char(unsigned char c)
{
	return (imap_is_atom_char(c) || c == ']') && c != '+';
}

static char
imap_ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static char
imap_ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
imap_ascii_eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (imap_ascii_lower(a[i]) != imap_ascii_lower(b[i]))
			return false;
	return true;
}

static void
imap_parser_blocks_free(struct imap_parser *p)
{
	struct imap_literal_block *b = p->blocks;

	while (b != NULL) {
		free(b->data);
		b = b->next;
	}
	p->blocks = NULL;
}

/* Forgets the previous command and gets ready for the next one. */
static void
imap_parser_clear(struct imap_parser *p)
{
	/* The blocks list lives in the pool: free the data first. */
	imap_parser_blocks_free(p);
	if (p->in_use != NULL)
		*p->in_use -= p->lit_total;
	pool_clear(p->pool);
	if (p->tok.cap > IMAP_PARSER_TOK_KEEP)
		buf_release(&p->tok);
	else
		buf_reset(&p->tok);
	p->tok.max = p->line_max;
	buf_release(&p->lit);
	p->state = p->must_close ? IMAP_PST_CLOSED : IMAP_PST_TAG;
	p->finished = false;
	p->error = NULL;
	p->line_len = 0;
	p->n_args = 0;
	p->depth = 0;
	memset(&p->levels[0], 0, sizeof(p->levels[0]));
	p->have_tag = false;
	p->tag[0] = '\0';
	p->name = NULL;
	p->need_sep = false;
	p->lit_total = 0;
	p->tail = IMAP_TAIL_NONE;
	p->skip_left = 0;
}

struct imap_parser *
imap_parser_new(size_t line_max, size_t literal_max)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->line_max = line_max;
	p->literal_max = literal_max;
	p->pool = pool_new(IMAP_PARSER_POOL_CHUNK);
	buf_init(&p->tok, line_max);
	buf_init(&p->lit, 0);
	imap_parser_clear(p);
	return p;
}

void
imap_parser_free(struct imap_parser **parserp)
{
	struct imap_parser *p = *parserp;

	if (p == NULL)
		return;
	imap_parser_blocks_free(p);
	if (p->in_use != NULL)
		*p->in_use -= p->lit_total;
	pool_free(&p->pool);
	buf_release(&p->tok);
	buf_release(&p->lit);
	free(p);
	*parserp = NULL;
}

void
imap_parser_set_limits(struct imap_parser *p, size_t line_max,
    size_t literal_max)
{
	p->line_max = line_max;
	p->literal_max = literal_max;
	/* A lower limit takes effect through line_len; never shrink the
	 * token buffer under the token being read. */
	if (line_max > p->tok.max)
		p->tok.max = line_max;
}

void
imap_parser_set_budget(struct imap_parser *p, uint64_t *in_use, uint64_t max)
{
	p->in_use = in_use;
	p->in_use_max = max;
}

void
imap_parser_set_utf8(struct imap_parser *p, bool utf8)
{
	p->utf8 = utf8;
}

void
imap_parser_reset(struct imap_parser *p)
{
	p->must_close = false;
	imap_parser_clear(p);
}

const char *
imap_parser_error_tag(const struct imap_parser *p)
{
	return p->have_tag ? p->tag : NULL;
}

bool
imap_parser_must_close(const struct imap_parser *p)
{
	return p->must_close;
}

/* Starts discarding the command; the byte at hand is looked at again.
 * An error inside a literal announcement ("Line too long" on its CRLF)
 * hands what was read of it to the tail watcher, so that the client's
 * literal is still seen. */
static enum imap_step
imap_parser_fail(struct imap_parser *p, const char *error)
{
	p->error = error;
	p->tail_size = p->lit_size;
	p->tail_plus = p->lit_plus;
	switch (p->state) {
	case IMAP_PST_LITERAL_SIZE:
		p->tail = p->lit_digits ? IMAP_TAIL_SIZE : IMAP_TAIL_OPEN;
		break;
	case IMAP_PST_LITERAL_CLOSE:
		p->tail = IMAP_TAIL_PLUS;
		break;
	case IMAP_PST_LITERAL_CR:
		p->tail = IMAP_TAIL_CLOSE;
		break;
	case IMAP_PST_LITERAL_LF:
		p->tail = IMAP_TAIL_CR;
		break;
	default:
		p->tail = IMAP_TAIL_NONE;
		break;
	}
	p->state = IMAP_PST_SKIP;
	return IMAP_STEP_AGAIN;
}

/* Appends a byte of the current token (bounded by the line limit). */
static enum imap_step
imap_parser_tok_add(struct imap_parser *p, char c)
{
	if (buf_append(&p->tok, &c, 1) < 0)
		return imap_parser_fail(p, "Line too long");
	return IMAP_STEP_NEXT;
}

/* Adds an argument to the innermost open list. */
static struct imap_arg *
imap_parser_arg_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg_level *lv = &p->levels[p->depth];
	struct imap_arg_node *node = pool_alloc(p->pool, sizeof(*node));

	node->arg.type = type;
	if (lv->tail == NULL)
		lv->head = node;
	else
		lv->tail->next = node;
	lv->tail = node;
	lv->n++;
	return &node->arg;
}

/* Turns the innermost level into an array (pool) and empties it. */
static const struct imap_arg *
imap_parser_level_take(struct imap_parser *p, size_t *n_r)
{
	struct imap_arg_level *lv = &p->levels[p->depth];
	struct imap_arg *arr = pool_alloc(p->pool, lv->n * sizeof(*arr));
	size_t i = 0;

	for (struct imap_arg_node *n = lv->head; n != NULL; n = n->next)
		arr[i++] = n->arg;
	*n_r = lv->n;
	memset(lv, 0, sizeof(*lv));
	return arr;
}

/* Adds the token as a string argument of the given type. */
static void
imap_parser_tok_to_arg(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *a = imap_parser_arg_add(p, type);

	a->str = pool_strndup(p->pool, p->tok.len > 0 ? p->tok.data : "",
	    p->tok.len);
	a->len = p->tok.len;
	buf_reset(&p->tok);
	p->state = IMAP_PST_ARGS;
	p->need_sep = true;
}

static enum imap_step
imap_parser_atom_end(struct imap_parser *p)
{
	const char *s = p->tok.data;
	size_t len = p->tok.len;

	if (len == 1 && s[0] == '\\')
		return imap_parser_fail(p, "Invalid atom");
	imap_parser_tok_to_arg(p, imap_ascii_eq_nocase(s, len, "NIL") ?
	    IMAP_ARG_NIL : IMAP_ARG_ATOM);
	return IMAP_STEP_AGAIN;
}

/* The literal's data is complete: it becomes an argument. */
static void
imap_parser_literal_end(struct imap_parser *p)
{
	struct imap_arg *a = imap_parser_arg_add(p, IMAP_ARG_LITERAL);
	struct imap_literal_block *b;
	size_t len;

	if (p->lit_size == 0) {
		a->str = pool_strdup(p->pool, "");
		a->len = 0;
	} else {
		b = pool_alloc(p->pool, sizeof(*b));
		b->data = buf_steal(&p->lit, &len);
		b->next = p->blocks;
		p->blocks = b;
		a->str = b->data;
		a->len = len;
	}
	a->literal8 = p->lit8;
	p->state = IMAP_PST_ARGS;
	p->need_sep = true;
}

/* The LF after "{n}" or "{n+}" was taken: accept or refuse the literal. */
static enum imap_step
imap_parser_literal_begin(struct imap_parser *p)
{
	uint64_t total_max = (uint64_t)p->literal_max;

	/* Saturating multiplication: a huge literal_max means no limit. */
	if (total_max > UINT64_MAX / IMAP_CMD_LITERAL_FACTOR)
		total_max = UINT64_MAX;
	else
		total_max *= IMAP_CMD_LITERAL_FACTOR;
	if (p->lit_size > p->literal_max ||
	    p->lit_size > total_max - p->lit_total) {
		p->error = "Literal too large";
		if (p->lit_plus) {
			/* RFC 7888 4: the data is on its way and we will
			 * not read it. */
			p->must_close = true;
			p->state = IMAP_PST_CLOSED;
		}
		/* A synchronizing literal: the client waits for "+" and
		 * sends nothing more of this command. */
		return IMAP_STEP_ERROR;
	}
	if (p->in_use != NULL && (*p->in_use >= p->in_use_max ||
	    p->lit_size > p->in_use_max - *p->in_use)) {
		p->error = "Too much data in flight on this server, "
		    "try again later";
		if (p->lit_plus) {
			p->must_close = true;
			p->state = IMAP_PST_CLOSED;
		}
		return IMAP_STEP_ERROR;
	}
	if (p->in_use != NULL)
		*p->in_use += p->lit_size;
	p->lit_total += p->lit_size;
	p->lit_left = p->lit_size;
	buf_release(&p->lit);
	buf_init(&p->lit, (size_t)p->lit_size);
	if (p->lit_size == 0)
		imap_parser_literal_end(p);
	else
		p->state = IMAP_PST_LITERAL_DATA;
	return p->lit_plus ? IMAP_STEP_NEXT : IMAP_STEP_CONTINUE;
}

static void
imap_parser_literal_start(struct imap_parser *p, bool lit8)
{
	p->lit8 = lit8;
	p->lit_plus = false;
	p->lit_digits = false;
	p->lit_size = 0;
	buf_reset(&p->tok);
	p->state = IMAP_PST_LITERAL_SIZE;
}

/* LF at the end of the command. */
static enum imap_step
imap_parser_eol(struct imap_parser *p)
{
	if (p->depth > 0)
		return imap_parser_fail(p, "Missing ')'");
	return IMAP_STEP_DONE;
}

static enum imap_step
imap_parser_args_byte(struct imap_parser *p, unsigned char c)
{
	size_t n;
	const struct imap_arg *list;
	struct imap_arg *a;

	switch (c) {
	case ' ':
		p->need_sep = false;
		return IMAP_STEP_NEXT;
	case '\r':
		p->state = IMAP_PST_EOL_LF;
		return IMAP_STEP_NEXT;
	case '\n':
		return imap_parser_eol(p);
	case ')':
		if (p->depth == 0)
			return imap_parser_fail(p, "Unexpected ')'");
		list = imap_parser_level_take(p, &n);
		p->depth--;
		a = imap_parser_arg_add(p, IMAP_ARG_LIST);
		a->list = list;
		a->n_list = n;
		p->need_sep = true;
		return IMAP_STEP_NEXT;
	default:
		break;
	}
	if (p->need_sep)
		return imap_parser_fail(p, "Missing space between arguments");
	if (c != '(' && c != '"' && c != '{' && c != '\\' &&
	    !imap_is_arg_atom_char(c))
		return imap_parser_fail(p, "Invalid character in atom");
	if (p->n_args >= IMAP_ARGS_MAX)
		return imap_parser_fail(p, "Too many arguments");
	p->n_args++;
	switch (c) {
	case '(':
		if (p->depth >= IMAP_LIST_DEPTH_MAX)
			return imap_parser_fail(p, "Too deep nesting");
		p->depth++;
		memset(&p->levels[p->depth], 0, sizeof(p->levels[0]));
		return IMAP_STEP_NEXT;
	case '"':
		buf_reset(&p->tok);
		p->quoted_8bit = false;
		p->state = IMAP_PST_QUOTED;
		return IMAP_STEP_NEXT;
	case '{':
		imap_parser_literal_start(p, false);
		return IMAP_STEP_NEXT;
	default:
		buf_reset(&p->tok);
		p->state = IMAP_PST_ATOM;
		return imap_parser_tok_add(p, (char)c);
	}
}

static enum imap_step
imap_parser_atom_byte(struct imap_parser *p, unsigned char c)
{
	if (c == '{' && p->tok.len == 1 && p->tok.data[0] == '~') {
		/* RFC 3516 literal8: "~{" */
		imap_parser_literal_start(p, true);
		return IMAP_STEP_NEXT;
	}
	if (c == '[') {
		/* Never the first byte here (that went through ARGS):
		 * "BODY[", not "[Gmail]". */
		p->state = IMAP_PST_ATOM_BRACKET;
		return imap_parser_tok_add(p, (char)c);
	}
	if (imap_is_arg_atom_char(c))
		return imap_parser_tok_add(p, (char)c);
	if (c == ' ' || c == ')' || c == '\r' || c == '\n')
		return imap_parser_atom_end(p);
	return imap_parser_fail(p, "Invalid character in atom");
}

static enum imap_step
imap_parser_bracket_byte(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ']':
		p->state = IMAP_PST_ATOM;
		break;
	case '[':
		return imap_parser_fail(p, "Nested '[' in atom");
	case '"':
		p->state = IMAP_PST_ATOM_BRACKET_QUOTED;
		break;
	case '\r':
	case '\n':
		return imap_parser_fail(p, "Missing ']'");
	case '{':
		return imap_parser_fail(p, "Literal inside [] not supported");
	default:
		if (c < 0x20 || c >= 0x7f)
			return imap_parser_fail(p, "Invalid character in atom");
		break;
	}
	return imap_parser_tok_add(p, (char)c);
}

static enum imap_step
imap_parser_bracket_quoted_byte(struct imap_parser *p, unsigned char c)
{
	if (p->state == IMAP_PST_ATOM_BRACKET_ESC) {
		if (c != '"' && c != '\\')
			return imap_parser_fail(p, "Invalid escape in quoted string");
		p->state = IMAP_PST_ATOM_BRACKET_QUOTED;
		return imap_parser_tok_add(p, (char)c);
	}
	switch (c) {
	case '"':
		p->state = IMAP_PST_ATOM_BRACKET;
		break;
	case '\\':
		p->state = IMAP_PST_ATOM_BRACKET_ESC;
		break;
	case '\r':
	case '\n':
		return imap_parser_fail(p, "Unterminated quoted string");
	default:
		if (c < 0x20 || c >= 0x7f)
			return imap_parser_fail(p, "Invalid character in atom");
		break;
	}
	return imap_parser_tok_add(p, (char)c);
}

static enum imap_step
imap_parser_quoted_byte(struct imap_parser *p, unsigned char c)
{
	if (p->state == IMAP_PST_QUOTED_ESC) {
		/* RFC 9051 9: quoted-specials are the only escapes. */
		if (c != '"' && c != '\\')
			return imap_parser_fail(p, "Invalid escape in quoted string");
		p->state = IMAP_PST_QUOTED;
		return imap_parser_tok_add(p, (char)c);
	}
	switch (c) {
	case '"':
		if (p->quoted_8bit && !utf8_valid(p->tok.data, p->tok.len))
			return imap_parser_fail(p, "Invalid UTF-8 in quoted string");
		imap_parser_tok_to_arg(p, IMAP_ARG_STRING);
		return IMAP_STEP_NEXT;
	case '\\':
		p->state = IMAP_PST_QUOTED_ESC;
		return IMAP_STEP_NEXT;
	case '\r':
	case '\n':
		/* TEXT-CHAR excludes CR and LF: the line ends here. */
		return imap_parser_fail(p, "Unterminated quoted string");
	case '\0':
		return imap_parser_fail(p, "NUL in quoted string");
	default:
		if (c >= 0x80) {
			/* RFC 9051 9 QUOTED-CHAR allows UTF-8 (IMAP4rev2,
			 * RFC 6855 UTF8=ACCEPT); validated at the end. */
			if (!p->utf8)
				return imap_parser_fail(p,
				    "8-bit data in quoted string");
			p->quoted_8bit = true;
		}
		return imap_parser_tok_add(p, (char)c);
	}
}

static enum imap_step
imap_parser_literal_byte(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case IMAP_PST_LITERAL_SIZE:
		if (c >= '0' && c <= '9') {
			unsigned d = c - '0';

			/* Saturate: any size this big is refused anyway. */
			if (p->lit_size > (UINT64_MAX - d) / 10)
				p->lit_size = UINT64_MAX;
			else
				p->lit_size = p->lit_size * 10 + d;
			p->lit_digits = true;
			return IMAP_STEP_NEXT;
		}
		if (c == '+' && p->lit_digits) {
			p->lit_plus = true;
			p->state = IMAP_PST_LITERAL_CLOSE;
			return IMAP_STEP_NEXT;
		}
		if (c == '}' && p->lit_digits) {
			p->state = IMAP_PST_LITERAL_CR;
			return IMAP_STEP_NEXT;
		}
		return imap_parser_fail(p, "Invalid literal size");
	case IMAP_PST_LITERAL_CLOSE:
		if (c != '}')
			return imap_parser_fail(p, "Invalid literal size");
		p->state = IMAP_PST_LITERAL_CR;
		return IMAP_STEP_NEXT;
	case IMAP_PST_LITERAL_CR:
		if (c == '\r') {
			p->state = IMAP_PST_LITERAL_LF;
			return IMAP_STEP_NEXT;
		}
		if (c == '\n') {
			p->state = IMAP_PST_LITERAL_LF;
			return IMAP_STEP_AGAIN;
		}
		return imap_parser_fail(p, "Missing CRLF after literal size");
	default:	/* IMAP_PST_LITERAL_LF */
		if (c != '\n')
			return imap_parser_fail(p, "Missing CRLF after literal size");
		return imap_parser_literal_begin(p);
	}
}

/* Looks at one byte of the command line (not literal data). */
static enum imap_step
imap_parser_byte(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case IMAP_PST_TAG:
		if (imap_is_tag_char(c)) {
			if (p->tok.len >= IMAP_TAG_MAX)
				return imap_parser_fail(p, "Tag too long");
			return imap_parser_tok_add(p, (char)c);
		}
		if (p->tok.len == 0)
			return imap_parser_fail(p, c == ' ' || c == '\r' ||
			    c == '\n' ? "Missing tag" : "Invalid character in tag");
		if (c != ' ' && c != '\r' && c != '\n')
			return imap_parser_fail(p, "Invalid character in tag");
		memcpy(p->tag, p->tok.data, p->tok.len);
		p->tag[p->tok.len] = '\0';
		p->have_tag = true;
		buf_reset(&p->tok);
		if (c != ' ')
			return imap_parser_fail(p, "Missing command name");
		p->state = IMAP_PST_BEFORE_NAME;
		return IMAP_STEP_NEXT;
	case IMAP_PST_BEFORE_NAME:
		if (c == ' ')
			return IMAP_STEP_NEXT;
		if (c == '\r' || c == '\n')
			return imap_parser_fail(p, "Missing command name");
		if (!imap_is_atom_char(c))
			return imap_parser_fail(p, "Invalid character in command name");
		p->state = IMAP_PST_NAME;
		return IMAP_STEP_AGAIN;
	case IMAP_PST_NAME:
		if (imap_is_atom_char(c))
			return imap_parser_tok_add(p, imap_ascii_upper((char)c));
		if (c != ' ' && c != '\r' && c != '\n')
			return imap_parser_fail(p, "Invalid character in command name");
		p->name = pool_strndup(p->pool, p->tok.data, p->tok.len);
		buf_reset(&p->tok);
		p->state = IMAP_PST_ARGS;
		return c == ' ' ? IMAP_STEP_NEXT : IMAP_STEP_AGAIN;
	case IMAP_PST_ARGS:
		return imap_parser_args_byte(p, c);
	case IMAP_PST_ATOM:
		return imap_parser_atom_byte(p, c);
	case IMAP_PST_ATOM_BRACKET:
		return imap_parser_bracket_byte(p, c);
	case IMAP_PST_ATOM_BRACKET_QUOTED:
	case IMAP_PST_ATOM_BRACKET_ESC:
		return imap_parser_bracket_quoted_byte(p, c);
	case IMAP_PST_QUOTED:
	case IMAP_PST_QUOTED_ESC:
		return imap_parser_quoted_byte(p, c);
	case IMAP_PST_LITERAL_SIZE:
	case IMAP_PST_LITERAL_CLOSE:
	case IMAP_PST_LITERAL_CR:
	case IMAP_PST_LITERAL_LF:
		return imap_parser_literal_byte(p, c);
	case IMAP_PST_EOL_LF:
		if (c != '\n')
			return imap_parser_fail(p, "CR without LF");
		return imap_parser_eol(p);
	default:
		/* LITERAL_DATA, SKIP, SKIP_LITERAL and CLOSED are handled by
		 * imap_parser_feed. */
		abort();
	}
}

/* One byte of a command being discarded: the byte is always taken. */
static enum imap_step
imap_parser_skip_byte(struct imap_parser *p, unsigned char c)
{
	if (c == '\n') {
		if (p->tail != IMAP_TAIL_CLOSE && p->tail != IMAP_TAIL_CR)
			return IMAP_STEP_ERROR;
		p->tail = IMAP_TAIL_NONE;
		if (!p->tail_plus) {
			/* {n}: the client waits for a "+" that will not
			 * come; the command ends here. */
			return IMAP_STEP_ERROR;
		}
		if (p->tail_size > p->literal_max) {
			p->must_close = true;
			p->state = IMAP_PST_CLOSED;
			return IMAP_STEP_ERROR;
		}
		/* RFC 7888 4: read and discard the data, then the rest of
		 * the command. */
		p->skip_left = p->tail_size;
		if (p->skip_left > 0)
			p->state = IMAP_PST_SKIP_LITERAL;
		return IMAP_STEP_NEXT;
	}
	switch (p->tail) {
	case IMAP_TAIL_OPEN:
	case IMAP_TAIL_SIZE:
		if (c >= '0' && c <= '9') {
			unsigned d = c - '0';

			if (p->tail_size > (UINT64_MAX - d) / 10)
				p->tail_size = UINT64_MAX;
			else
				p->tail_size = p->tail_size * 10 + d;
			p->tail = IMAP_TAIL_SIZE;
			return IMAP_STEP_NEXT;
		}
		if (p->tail == IMAP_TAIL_SIZE && c == '+') {
			p->tail = IMAP_TAIL_PLUS;
			p->tail_plus = true;
			return IMAP_STEP_NEXT;
		}
		if (p->tail == IMAP_TAIL_SIZE && c == '}') {
			p->tail = IMAP_TAIL_CLOSE;
			return IMAP_STEP_NEXT;
		}
		break;
	case IMAP_TAIL_PLUS:
		if (c == '}') {
			p->tail = IMAP_TAIL_CLOSE;
			return IMAP_STEP_NEXT;
		}
		break;
	case IMAP_TAIL_CLOSE:
		if (c == '\r') {
			p->tail = IMAP_TAIL_CR;
			return IMAP_STEP_NEXT;
		}
		break;
	default:
		break;
	}
	if (c == '{') {
		p->tail = IMAP_TAIL_OPEN;
		p->tail_size = 0;
		p->tail_plus = false;
	} else {
		p->tail = IMAP_TAIL_NONE;
	}
	return IMAP_STEP_NEXT;
}

enum imap_parse_result
imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
    size_t *consumed_r, struct imap_command *cmd_r, const char **error_r)
{
	const unsigned char *d = (const unsigned char *)data;
	size_t i = 0, k;
	enum imap_step step;

	if (p->finished)
		imap_parser_clear(p);
	if (p->state == IMAP_PST_CLOSED) {
		*consumed_r = len;
		*error_r = "Connection must be closed";
		p->finished = true;
		return IMAP_PARSE_ERROR;
	}
	while (i < len) {
		switch (p->state) {
		case IMAP_PST_LITERAL_DATA:
			k = len - i;
			if (k > p->lit_left)
				k = (size_t)p->lit_left;
			/* Cannot fail: lit.max is the literal's size. */
			if (buf_append(&p->lit, d + i, k) < 0)
				abort();
			i += k;
			p->lit_left -= k;
			if (p->lit_left == 0)
				imap_parser_literal_end(p);
			continue;
		case IMAP_PST_SKIP_LITERAL:
			k = len - i;
			if (k > p->skip_left)
				k = (size_t)p->skip_left;
			i += k;
			p->skip_left -= k;
			if (p->skip_left == 0)
				p->state = IMAP_PST_SKIP;
			continue;
		case IMAP_PST_SKIP:
			step = imap_parser_skip_byte(p, d[i]);
			i++;
			break;
		default:
			/* The limit is checked before the byte is looked at,
			 * so nothing past line_max is ever buffered. */
			if (p->line_len >= p->line_max) {
				(void)imap_parser_fail(p, "Line too long");
				continue;
			}
			step = imap_parser_byte(p, d[i]);
			if (step == IMAP_STEP_AGAIN)
				continue;
			i++;
			p->line_len++;
			break;
		}
		switch (step) {
		case IMAP_STEP_NEXT:
		case IMAP_STEP_AGAIN:
			break;
		case IMAP_STEP_CONTINUE:
			*consumed_r = i;
			return IMAP_PARSE_CONTINUE;
		case IMAP_STEP_DONE:
			cmd_r->tag = p->tag;
			cmd_r->name = p->name;
			cmd_r->args = imap_parser_level_take(p, &cmd_r->n_args);
			p->finished = true;
			*consumed_r = i;
			return IMAP_PARSE_DONE;
		case IMAP_STEP_ERROR:
			*error_r = p->error;
			p->finished = true;
			*consumed_r = i;
			return IMAP_PARSE_ERROR;
		}
	}
	*consumed_r = i;
	return IMAP_PARSE_MORE;
}

/*
 * Argument helpers.
 */

static bool
imap_arg_is_string_type(const struct imap_arg *a)
{
	return a != NULL && (a->type == IMAP_ARG_STRING ||
	    a->type == IMAP_ARG_LITERAL);
}

bool
imap_arg_astring(const struct imap_arg *a, const char **str_r, size_t *len_r)
{
	if (a == NULL || a->type == IMAP_ARG_LIST ||
	    memchr(a->str, '\0', a->len) != NULL)
		return false;
	*str_r = a->str;
	*len_r = a->len;
	return true;
}

bool
imap_arg_string(const struct imap_arg *a, const char **str_r, size_t *len_r)
{
	if (!imap_arg_is_string_type(a) || memchr(a->str, '\0', a->len) != NULL)
		return false;
	*str_r = a->str;
	*len_r = a->len;
	return true;
}

bool
imap_arg_nstring(const struct imap_arg *a, const char **str_r, size_t *len_r)
{
	if (a != NULL && a->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		*len_r = 0;
		return true;
	}
	return imap_arg_string(a, str_r, len_r);
}

bool
imap_arg_atom(const struct imap_arg *a, const char **str_r)
{
	if (a == NULL || (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL))
		return false;
	*str_r = a->str;
	return true;
}

bool
imap_arg_atom_eq(const struct imap_arg *a, const char *s)
{
	if (a == NULL || (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL))
		return false;
	return imap_ascii_eq_nocase(a->str, a->len, s);
}

bool
imap_arg_list(const struct imap_arg *a, const struct imap_arg **list_r,
    size_t *n_r)
{
	if (a == NULL || a->type != IMAP_ARG_LIST)
		return false;
	*list_r = a->list;
	*n_r = a->n_list;
	return true;
}

/*
 * Numbers.
 */

static int
imap_number_parse_max(const char *s, size_t len, uint64_t max, uint64_t *r)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*r = v;
	return 0;
}

int
imap_number_parse(const char *s, size_t len, uint32_t *r)
{
	uint64_t v;

	if (imap_number_parse_max(s, len, UINT32_MAX, &v) < 0)
		return -1;
	*r = (uint32_t)v;
	return 0;
}

int
imap_number64_parse(const char *s, size_t len, uint64_t *r)
{
	return imap_number_parse_max(s, len, INT64_MAX, r);
}

/*
 * Output.
 */

static int
imap_buf_fail(struct buf *out, size_t orig_len)
{
	out->len = orig_len;
	if (out->data != NULL)
		out->data[orig_len] = '\0';
	return -1;
}

int
imap_quote(struct buf *out, const char *s, size_t len)
{
	size_t orig = out->len, start = 0;
	bool quotable = len <= IMAP_QUOTED_OUT_MAX;

	if (s == NULL)
		return buf_append(out, "NIL", 3);
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			quotable = false;
	}
	if (!quotable) {
		if (buf_printf(out, "{%zu}\r\n", len) < 0 ||
		    buf_append(out, s, len) < 0)
			return imap_buf_fail(out, orig);
		return 0;
	}
	if (buf_append(out, "\"", 1) < 0)
		return imap_buf_fail(out, orig);
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		if (buf_append(out, s + start, i - start) < 0 ||
		    buf_append(out, "\\", 1) < 0)
			return imap_buf_fail(out, orig);
		start = i;
	}
	if (buf_append(out, s + start, len - start) < 0 ||
	    buf_append(out, "\"", 1) < 0)
		return imap_buf_fail(out, orig);
	return 0;
}

int
imap_write_astring(struct buf *out, const char *s, size_t len)
{
	bool atom = s != NULL && len > 0 && !imap_ascii_eq_nocase(s, len, "NIL");

	for (size_t i = 0; i < len && atom; i++) {
		unsigned char c = (unsigned char)s[i];

		/* RFC 9051 ASTRING-CHAR = ATOM-CHAR / resp-specials, but
		 * not "[": parsers that know FETCH sections (this one too)
		 * read "a[b c]" as one atom. */
		if ((!imap_is_atom_char(c) && c != ']') || c == '[')
			atom = false;
	}
	if (atom)
		return buf_append(out, s, len);
	return imap_quote(out, s, len);
}

/*
 * Sequence sets.
 */

/* Parses a seq-number ("*" or nz-number) at s[*pos..len). */
static int
imap_seqset_number(const char *s, size_t len, size_t *pos,
    struct imap_seqset *set, uint32_t *r, const char **error_r)
{
	size_t start = *pos, i = start;

	if (i < len && s[i] == '*') {
		set->has_star = true;
		*r = UINT32_MAX;
		*pos = i + 1;
		return 0;
	}
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == start) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (imap_number_parse(s + start, i - start, r) < 0) {
		*error_r = "Number too big in sequence set";
		return -1;
	}
	if (*r == 0) {
		*error_r = "Invalid sequence number 0";
		return -1;
	}
	*pos = i;
	return 0;
}

int
imap_seqset_parse(const char *s, size_t len, struct pool *pool,
    struct imap_seqset *set_r, const char **error_r)
{
	size_t count = 1, pos = 0;

	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && s[0] == '$') {
		/* RFC 5182 2.1: the saved search result. */
		set_r->saved = true;
		return 0;
	}
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ',' && ++count > IMAP_SEQSET_RANGES_MAX) {
			*error_r = "Too many ranges in sequence set";
			return -1;
		}
	}
	set_r->ranges = pool_alloc(pool, count * sizeof(*set_r->ranges));
	for (;;) {
		struct imap_seq_range *r = &set_r->ranges[set_r->n];
		uint32_t lo, hi;

		if (imap_seqset_number(s, len, &pos, set_r, &lo, error_r) < 0)
			return -1;
		hi = lo;
		if (pos < len && s[pos] == ':') {
			pos++;
			if (imap_seqset_number(s, len, &pos, set_r, &hi,
			    error_r) < 0)
				return -1;
		}
		r->lo = lo < hi ? lo : hi;
		r->hi = lo < hi ? hi : lo;
		set_r->n++;
		if (pos == len)
			return 0;
		if (s[pos] != ',') {
			*error_r = "Invalid sequence set";
			return -1;
		}
		pos++;
	}
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n,
    uint32_t star_value)
{
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;

		if (lo == UINT32_MAX)
			lo = star_value;
		if (hi == UINT32_MAX)
			hi = star_value;
		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}
