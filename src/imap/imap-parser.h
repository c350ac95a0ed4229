/*
 * imap-parser.h - the IMAP command parser: an incremental tokenizer that
 * turns the client's bytes into a tag, a command name and a tree of
 * arguments (atoms, strings, literals, lists), plus the small helpers every
 * command needs: argument accessors, numbers, sequence sets and quoting for
 * output.
 *
 * RFC 9051 (IMAP4rev2) 4 and 9, RFC 3501 (IMAP4rev1) 4 and 9, RFC 7888
 * (LITERAL+ / LITERAL-), RFC 3516 (BINARY literal8), RFC 5182 (SEARCHRES
 * "$"), RFC 7162 (CONDSTORE/QRESYNC mod-sequence values).
 *
 * The parser knows nothing about what a command means: it only knows the
 * lexical rules of the protocol, and one syntactic special case (FETCH
 * attributes such as BODY[HEADER.FIELDS (From To)]<0.100> are one atom).
 *
 * SECURITY: every byte comes from the network, before and after
 * authentication. Every buffer is bounded: the command line (everything
 * outside literal data) by line_max, each literal by literal_max, all the
 * literals of one command by IMAP_CMD_LITERAL_FACTOR * literal_max, list
 * nesting by IMAP_LIST_DEPTH_MAX and the number of arguments by
 * IMAP_ARGS_MAX. Strings from literals may contain NUL bytes: use len.
 */
#ifndef IMAP_IMAP_PARSER_H
#define IMAP_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct pool;

/* A command line: every byte of a command outside literal data, CRLFs
 * included (a command with literals is several lines on the wire; they
 * count together). Dovecot uses 64 KiB; RFC 7162 4 asks for at least
 * 8192 octets. */
#define IMAP_LINE_MAX (64 * 1024)
/* The same before authentication: LOGIN, AUTHENTICATE, STARTTLS, ID and
 * CAPABILITY never need more. */
#define IMAP_LINE_MAX_PREAUTH (8 * 1024)
/* Literal size before authentication (LOGIN with literal user/password,
 * AUTHENTICATE with SASL-IR). After login the server passes its
 * APPENDLIMIT. */
#define IMAP_LITERAL_MAX_PREAUTH (8 * 1024)
/* All literals of one command together (MULTIAPPEND, RFC 3502) may hold at
 * most this many times the per-literal limit. */
#define IMAP_CMD_LITERAL_FACTOR 4
/* Nesting of parenthesised lists, e.g. a SEARCH program or a FETCH list. */
#define IMAP_LIST_DEPTH_MAX 32
/* Arguments in one command, counting list elements and the lists. */
#define IMAP_ARGS_MAX 10000
/* Length of a tag. RFC 9051 sets none; real clients use fewer than 16. */
#define IMAP_TAG_MAX 64
/* Ranges in one sequence set ("1,3,5:7" is three). */
#define IMAP_SEQSET_RANGES_MAX 10000
/* imap_quote() writes longer strings as literals rather than quoted. */
#define IMAP_QUOTED_OUT_MAX 1024

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* an atom (never "NIL": see IMAP_ARG_NIL) */
	IMAP_ARG_NIL,		/* the atom NIL, in any case; str as typed */
	IMAP_ARG_STRING,	/* quoted string, unescaped */
	IMAP_ARG_LITERAL,	/* {n} or {n+} literal; ~{n} also sets literal8 */
	IMAP_ARG_LIST,		/* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	/* ATOM/NIL/STRING/LITERAL: the bytes, NUL-terminated. Only a literal
	 * may contain NUL bytes itself, so use len for it. */
	const char *str;
	size_t len;
	bool literal8;			/* ~{n}: RFC 3516 literal8 */
	const struct imap_arg *list;	/* LIST: its elements */
	size_t n_list;
};

struct imap_command {
	const char *tag;
	const char *name;		/* upper-cased, e.g. "UID" */
	const struct imap_arg *args;	/* after the name; never NULL */
	size_t n_args;
};

struct imap_parser;

enum imap_parse_result {
	IMAP_PARSE_MORE,	/* consumed everything given; need more bytes */
	IMAP_PARSE_CONTINUE,	/* a synchronizing literal {n} was announced:
				 * send "+ ..." and feed more */
	IMAP_PARSE_DONE,	/* a whole command (through its CRLF) in *cmd_r */
	IMAP_PARSE_ERROR,	/* syntax error or limit; see imap_parser_feed */
};

/*
 * Creates a parser. line_max bounds a command's bytes outside literal data
 * (IMAP_LINE_MAX_PREAUTH before login); literal_max bounds each literal
 * (IMAP_LITERAL_MAX_PREAUTH before login, the APPENDLIMIT after). Quoted
 * strings are 7-bit until imap_parser_set_utf8(). Never returns NULL.
 */
struct imap_parser *
imap_parser_new(size_t line_max, size_t literal_max);

/* Frees the parser and everything a returned command points to; sets
 * *parserp to NULL. NULL is fine. */
void
imap_parser_free(struct imap_parser **parserp);

/* Changes the limits, e.g. after login. They apply from the next byte. */
void
imap_parser_set_limits(struct imap_parser *p, size_t line_max,
    size_t literal_max);

/*
 * Makes literals count against a budget shared by many parsers: *in_use
 * holds the literal bytes of every parser's current command, and a
 * literal that would take it over max is refused ("try again later"),
 * the way one over literal_max is. Set it before the first literal; the
 * counter must outlive the parser.
 */
void
imap_parser_set_budget(struct imap_parser *p, uint64_t *in_use, uint64_t max);

/*
 * Allows 8-bit data in quoted strings (RFC 9051 IMAP4rev2, RFC 6855
 * UTF8=ACCEPT). When on, such a string must be valid UTF-8 ("Invalid
 * UTF-8 in quoted string"); when off (the default) any 8-bit byte in a
 * quoted string is an error ("8-bit data in quoted string"). Literals may
 * always hold any bytes; atoms are always 7-bit.
 */
void
imap_parser_set_utf8(struct imap_parser *p, bool utf8);

/*
 * Feeds len bytes. The parser takes bytes up to the verdict it returns and
 * sets *consumed_r to their number; the caller removes them from its input
 * and calls again with the rest (and whatever arrives later). It never
 * looks at a byte twice and never takes a byte past the end of a command,
 * so after DONE the caller may read raw lines itself (IDLE, AUTHENTICATE).
 * Feeding a byte at a time gives the same verdicts as feeding everything.
 *
 * MORE: every byte was taken; call again when more arrive.
 * CONTINUE: a synchronizing literal {n} was announced (the bytes through
 *   the CRLF after it were taken): send "+ OK" and feed the literal data.
 *   To refuse it instead (RFC 9051 7.5: a tagged NO/BAD rather than "+"),
 *   answer imap_parser_error_tag() and call imap_parser_reset(): the client
 *   then sends no data and the next line is a new command.
 * DONE: *cmd_r holds the command. It and everything it points to stay
 *   valid until the next imap_parser_feed() or imap_parser_reset().
 * ERROR: *error_r is a short reason for the client ("Line too long",
 *   "Literal too large", ...). The tag, if it was read, is in
 *   imap_parser_error_tag(). The bytes through the end of the offending
 *   command were taken (an over-long line is discarded as it arrives, never
 *   buffered), so the next feed starts a new command, except:
 *   - a synchronizing literal larger than the limit ends the command at
 *     once: the client gets no "+" and sends no data;
 *   - a non-synchronizing literal {n+} larger than the limit: the client
 *     sends the data anyway (RFC 7888 4), so imap_parser_must_close()
 *     becomes true and the caller must answer and close the connection.
 *     Non-synchronizing literals within the limit inside a rejected command
 *     are read and discarded.
 *   When must_close is set, every later feed returns ERROR and takes all.
 *
 * Leniency (documented choices): several spaces between arguments, and
 * spaces before the CRLF or around list parentheses, are accepted; a bare
 * LF ends a line like CRLF. Everything else follows the RFC 9051 grammar.
 */
enum imap_parse_result
imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
    size_t *consumed_r, struct imap_command *cmd_r, const char **error_r);

/* The tag of the command that failed, or NULL if the error came before a
 * whole tag was read (answer with "*"). Also the tag of the command being
 * read after CONTINUE. Valid until the next feed or reset. */
const char *
imap_parser_error_tag(const struct imap_parser *p);

/* True after a non-synchronizing literal too large to accept: the client
 * is sending data the server will not read, so the connection must be
 * closed after the error reply (RFC 7888 4). */
bool
imap_parser_must_close(const struct imap_parser *p);

/* Forgets any partial command and the must-close state (STARTTLS:
 * nothing read before the handshake may be used after it). */
void
imap_parser_reset(struct imap_parser *p);

/*
 * Argument helpers. Each returns false if the argument is not of the kind
 * asked for; a NULL argument is never of any kind.
 */

/* astring (atom, NIL as a name, quoted string or literal). False if the
 * bytes contain a NUL: names and passwords must not be truncated by C
 * string functions. Binary data (APPEND) should use ->str/->len. */
bool
imap_arg_astring(const struct imap_arg *a, const char **str_r, size_t *len_r);

/* nstring: quoted string, literal, or NIL (*str_r = NULL, *len_r = 0).
 * False if the bytes contain a NUL. */
bool
imap_arg_nstring(const struct imap_arg *a, const char **str_r, size_t *len_r);

/* string: quoted string or literal only. False if it contains a NUL. */
bool
imap_arg_string(const struct imap_arg *a, const char **str_r, size_t *len_r);

/* An atom (or NIL): *str_r is its text. */
bool
imap_arg_atom(const struct imap_arg *a, const char **str_r);

/* True if a is an atom (or NIL) equal to s, case-insensitively. */
bool
imap_arg_atom_eq(const struct imap_arg *a, const char *s);

/* A list: its elements. */
bool
imap_arg_list(const struct imap_arg *a, const struct imap_arg **list_r,
    size_t *n_r);

/*
 * number (RFC 9051 9): 1*DIGIT up to 4294967295, leading zeros allowed.
 * Returns 0, or -1 if s is empty, not all digits or too big. Callers that
 * need an nz-number check for 0 themselves.
 */
int
imap_number_parse(const char *s, size_t len, uint32_t *r);

/* number64 / mod-sequence-value (RFC 9051 9, RFC 7162 7): up to
 * 2^63 - 1. Same returns as imap_number_parse. */
int
imap_number64_parse(const char *s, size_t len, uint64_t *r);

/*
 * Output quoting. Each returns 0, or -1 if out would pass its max (then
 * out is left as it was).
 */

/* Writes s as a quoted string if it is short (IMAP_QUOTED_OUT_MAX) and
 * holds only 7-bit text without CR, LF or NUL; else as a literal
 * "{n}\r\n" followed by the bytes. s == NULL writes NIL. */
int
imap_quote(struct buf *out, const char *s, size_t len);

/* Writes a mailbox name or other astring: as an atom if it is one (and is
 * not "NIL" and has no "[", which section-aware parsers misread), else
 * like imap_quote(). */
int
imap_write_astring(struct buf *out, const char *s, size_t len);

/*
 * Sequence sets (RFC 9051 9 sequence-set, RFC 5182 "$").
 */
struct imap_seq_range {
	/* '*' is stored as UINT32_MAX (so a literal 4294967295 means the
	 * same, as in Dovecot). lo <= hi after parsing. */
	uint32_t lo, hi;
};

struct imap_seqset {
	struct imap_seq_range *ranges;	/* in the order given, not merged */
	size_t n;
	bool has_star;			/* some range uses '*' */
	bool saved;			/* "$": the saved search result, n == 0 */
};

/*
 * Parses "1", "1:5", "5:1" (stored as 1:5), "*", "1:*", "*:3", comma
 * lists, or "$" alone. Rejects 0, empty parts, numbers over 4294967295
 * and more than IMAP_SEQSET_RANGES_MAX ranges. The ranges are allocated
 * from pool. Returns 0, or -1 with *error_r.
 */
int
imap_seqset_parse(const char *s, size_t len, struct pool *pool,
    struct imap_seqset *set_r, const char **error_r);

/* Is n in the set, with star_value in place of '*' (the highest sequence
 * number or UID in use; RFC 9051 9: "5:*" with star_value 3 is 3:5)? A
 * saved ("$") set contains nothing here: the caller resolves it. */
bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n,
    uint32_t star_value);

#endif
