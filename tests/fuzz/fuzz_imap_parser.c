/*
 * fuzz_imap_parser.c - the IMAP command parser on arbitrary client bytes,
 * and the parsers that run on its output: sequence sets, SEARCH programs,
 * numbers, dates and modified UTF-7.
 *
 * The first input byte picks the chunk size (bits 0-4: 0 is "all at once")
 * and the mode (bit 5: UTF-8 quoted strings, bit 6: pre-auth limits). The
 * stream is parsed twice, chunked and whole, and the two must give the
 * same verdicts and commands. Every string argument is quoted with
 * imap_quote() and parsed back, and must come back unchanged; every valid
 * modified UTF-7 string must survive UTF-8 and back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "imap/imap-date.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "imap/imap-utf7.h"

/* Small limits, so that the fuzzer reaches them. */
#define FUZZ_LINE_MAX 512
#define FUZZ_LITERAL_MAX 256
#define FUZZ_LINE_MAX_SMALL 64
#define FUZZ_LITERAL_MAX_SMALL 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_dump(struct buf *out, const struct imap_arg *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];

		(void)buf_printf(out, " %d%s:", (int)a->type,
		    a->literal8 ? "~" : "");
		if (a->type == IMAP_ARG_LIST) {
			(void)buf_puts(out, "(");
			fuzz_dump(out, a->list, a->n_list);
			(void)buf_puts(out, ")");
			continue;
		}
		/* Invariants of every string argument. */
		if (a->str == NULL || a->str[a->len] != '\0')
			abort();
		if (a->type != IMAP_ARG_LITERAL &&
		    (memchr(a->str, '\0', a->len) != NULL ||
		    (a->type != IMAP_ARG_STRING && a->len == 0)))
			abort();
		(void)buf_printf(out, "%zu:", a->len);
		(void)buf_append(out, a->str, a->len);
	}
}

/* Parses the whole stream in chunks of chunk bytes (0: all) and writes
 * the verdicts and commands to out. */
static void
fuzz_run(const char *in, size_t len, size_t chunk, unsigned mode,
    struct buf *out,
    void (*on_command)(const struct imap_command *, bool, struct pool *),
    struct pool *pool)
{
	struct imap_parser *p = imap_parser_new(
	    mode & 2 ? FUZZ_LINE_MAX_SMALL : FUZZ_LINE_MAX,
	    mode & 2 ? FUZZ_LITERAL_MAX_SMALL : FUZZ_LITERAL_MAX);
	size_t off = 0;

	imap_parser_set_utf8(p, mode & 1);
	while (off < len) {
		size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;
		size_t consumed = SIZE_MAX;
		struct imap_command cmd;
		const char *error = NULL, *tag;
		enum imap_parse_result r;

		r = imap_parser_feed(p, in + off, n, &consumed, &cmd, &error);
		if (consumed > n || (r == IMAP_PARSE_MORE && consumed != n) ||
		    (r != IMAP_PARSE_MORE && consumed == 0))
			abort();
		off += consumed;
		switch (r) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_CONTINUE:
			(void)buf_printf(out, "|C@%zu", off);
			break;
		case IMAP_PARSE_DONE:
			if (cmd.tag == NULL || cmd.tag[0] == '\0' ||
			    strlen(cmd.tag) > IMAP_TAG_MAX || cmd.name == NULL ||
			    cmd.name[0] == '\0' || cmd.args == NULL ||
			    cmd.n_args > IMAP_ARGS_MAX)
				abort();
			(void)buf_printf(out, "|D@%zu %s %s", off, cmd.tag,
			    cmd.name);
			fuzz_dump(out, cmd.args, cmd.n_args);
			if (on_command != NULL)
				on_command(&cmd, mode & 1, pool);
			break;
		case IMAP_PARSE_ERROR:
			if (error == NULL)
				abort();
			tag = imap_parser_error_tag(p);
			(void)buf_printf(out, "|E@%zu %s %s", off,
			    tag != NULL ? tag : "*", error);
			break;
		}
		if (imap_parser_must_close(p)) {
			(void)buf_puts(out, "|close");
			break;
		}
	}
	imap_parser_free(&p);
}

/* Quotes s, parses it back and checks that the bytes are the same. */
static void
fuzz_quote_round_trip(const char *s, size_t len, bool astring)
{
	struct imap_parser *p;
	struct buf line;
	struct imap_command cmd;
	const char *error = NULL;
	size_t consumed, off = 0;
	enum imap_parse_result r;

	buf_init(&line, 4096);
	(void)buf_puts(&line, "a X ");
	if ((astring ? imap_write_astring(&line, s, len) :
	    imap_quote(&line, s, len)) < 0)
		abort();
	(void)buf_puts(&line, "\r\n");
	p = imap_parser_new(4096, 4096);
	do {
		r = imap_parser_feed(p, line.data + off, line.len - off,
		    &consumed, &cmd, &error);
		off += consumed;
	} while (r == IMAP_PARSE_CONTINUE);
	if (r != IMAP_PARSE_DONE || off != line.len || cmd.n_args != 1 ||
	    cmd.args[0].len != len || memcmp(cmd.args[0].str, s, len) != 0)
		abort();
	imap_parser_free(&p);
	buf_release(&line);
}

static void
fuzz_string(const char *s, size_t len, struct pool *pool)
{
	struct imap_seqset set;
	struct buf u8, u7;
	const char *error;
	uint32_t n32;
	uint64_t n64;
	time_t t;

	if (imap_seqset_parse(s, len, pool, &set, &error) == 0) {
		if (!set.saved && set.n == 0)
			abort();
		for (size_t i = 0; i < set.n; i++)
			if (set.ranges[i].lo == 0 ||
			    set.ranges[i].lo > set.ranges[i].hi)
				abort();
		(void)imap_seqset_contains(&set, 1, 10);
		(void)imap_seqset_contains(&set, UINT32_MAX - 1, 3);
	}
	(void)imap_number_parse(s, len, &n32);
	(void)imap_number64_parse(s, len, &n64);
	if (imap_date_parse(s, len, &t) == 0 && t % 86400 != 0)
		abort();
	if (imap_datetime_parse(s, len, &t) == 0) {
		struct buf out;

		buf_init(&out, 64);
		if (imap_datetime_write(&out, t) < 0 || out.len != 28)
			abort();
		buf_release(&out);
	}
	buf_init(&u8, 4096);
	buf_init(&u7, 8192);
	if (imap_utf7_to_utf8(s, len, &u8) == 0) {
		if (!imap_utf7_is_valid(s, len))
			abort();
		/* Canonical input comes back the same, but for runs in a
		 * row ("&AOQ-&APY-") that are merged. */
		if (imap_utf8_to_utf7(u8.data != NULL ? u8.data : "", u8.len,
		    &u7) < 0)
			abort();
		if (memmem(s, len, "-&", 2) == NULL &&
		    (u7.len != len || memcmp(u7.data != NULL ? u7.data : "", s,
		    len) != 0))
			abort();
	} else if (imap_utf7_is_valid(s, len)) {
		abort();
	}
	buf_reset(&u7);
	(void)imap_utf8_to_utf7(s, len, &u7);
	buf_release(&u8);
	buf_release(&u7);
	if (len < 300) {
		fuzz_quote_round_trip(s, len, false);
		if (memchr(s, '\0', len) == NULL)
			fuzz_quote_round_trip(s, len, true);
	}
}

static void
fuzz_args(const struct imap_arg *args, size_t n, struct pool *pool)
{
	for (size_t i = 0; i < n; i++) {
		if (args[i].type == IMAP_ARG_LIST)
			fuzz_args(args[i].list, args[i].n_list, pool);
		else
			fuzz_string(args[i].str, args[i].len, pool);
	}
}

static void
fuzz_command(const struct imap_command *cmd, bool utf8, struct pool *pool)
{
	struct imap_search_key *root;
	struct imap_search_return ret;
	const char *charset, *error;

	fuzz_args(cmd->args, cmd->n_args, pool);
	if (imap_search_parse(cmd->args, cmd->n_args, pool, utf8, &root,
	    &charset, &ret, &error) == 0) {
		if (root == NULL || root->op != IMAP_SK_AND ||
		    root->n_children == 0)
			abort();
	} else if (error == NULL) {
		abort();
	}
	if (cmd->n_args > 0)
		(void)imap_search_parse(cmd->args + 1, cmd->n_args - 1, pool,
		    utf8, &root, &charset, &ret, &error);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf chunked, whole;
	struct pool *pool;
	size_t chunk;
	unsigned mode;

	if (size < 1 || size > 1 << 16)
		return 0;
	chunk = data[0] & 0x1f;
	mode = (data[0] >> 5) & 3;
	data++;
	size--;
	pool = pool_new(4096);
	buf_init(&chunked, 1 << 22);
	buf_init(&whole, 1 << 22);
	fuzz_run((const char *)data, size, chunk, mode, &chunked, fuzz_command,
	    pool);
	fuzz_run((const char *)data, size, 0, mode, &whole, NULL, pool);
	if (chunked.len != whole.len ||
	    (whole.len > 0 && memcmp(chunked.data, whole.data, whole.len) != 0))
		abort();
	buf_release(&chunked);
	buf_release(&whole);
	pool_free(&pool);
	return 0;
}
