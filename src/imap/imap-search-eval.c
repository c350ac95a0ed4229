/*
 * imap-search-eval.c - SEARCH and UID SEARCH: evaluates a search program
 * (parsed by imap-search.c) over the selected mailbox.
 *
 * RFC 9051 6.4.4, RFC 3501 6.4.4, RFC 4731 ESEARCH (RETURN MIN MAX COUNT
 * ALL), RFC 7162 3.1.5 (MODSEQ search key and result).
 *
 * Header and body keys match case-insensitively on decoded text (RFC 2047
 * words, transfer encodings and charsets to UTF-8, see mime-decode.h).
 * Flags, sizes and dates come from the store; the message itself is read
 * only when a key needs it, once per message.
 *
 * Dates: BEFORE/ON/SINCE compare the internal date's day in UTC;
 * SENTBEFORE/SENTON/SENTSINCE the day written in the Date header, in its
 * own time zone (RFC 9051 6.4.4 leaves the zone to the server).
 *
 * SECURITY: the program is bounded by the parser (depth, key count);
 * text keys scan at most IMAP_SEARCH_TEXT_MAX bytes of decoded text per
 * message.
 */
#include "imap/imap-private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "imap/imap-search.h"
#include "mime/header.h"
#include "mime/mime-decode.h"
#include "mime/mime.h"
#include "store/store.h"

#define IMAP_SEARCH_TEXT_MAX (4 * 1024 * 1024)	/* decoded text looked at */
#define IMAP_SEARCH_SLICE_NS (10 * 1000 * 1000)	/* then other sessions */

/* What is known of the message being looked at. */
struct imap_search_msg {
	struct imap_conn *c;
	const struct store_message_meta *m;
	size_t seq;
	uint32_t max_uid;
	bool loaded, load_failed;
	char *data;
	size_t len;
	struct mime_part *root;
	struct pool *pool;
	bool have_text;
	struct buf text;	/* decoded body text */
	struct buf tmp;
};

static int
imap_search_load(struct imap_search_msg *sm)
{
	const char *error;

	if (sm->loaded)
		return sm->load_failed ? -1 : 0;
	sm->loaded = true;
	if (imap_message_read(sm->c, sm->m, &sm->data) < 0) {
		sm->load_failed = true;
		return -1;
	}
	sm->len = sm->m->size;
	if (mime_parse(sm->data, sm->len, sm->pool, &sm->root, &error) < 0) {
		sm->load_failed = true;
		return -1;
	}
	return 0;
}

/* A header field's decoded text contains s (or, for "", exists). */
static bool
imap_search_header(struct imap_search_msg *sm, const char *name,
    const char *s, size_t len)
{
	if (imap_search_load(sm) < 0)
		return false;
	if (len == 0)
		return header_has(sm->data + sm->root->header_start,
		    sm->root->body_start - sm->root->header_start, name) != 0;
	buf_reset(&sm->tmp);
	mime_header_text(sm->data, sm->len, sm->root, name, &sm->tmp);
	return sm->tmp.len > 0 && mime_text_contains(sm->tmp.data,
	    sm->tmp.len, s, len);
}

static bool
imap_search_body(struct imap_search_msg *sm, const char *s, size_t len)
{
	if (imap_search_load(sm) < 0)
		return false;
	if (!sm->have_text) {
		mime_text_extract(sm->data, sm->len, sm->root, &sm->text);
		sm->have_text = true;
	}
	if (len == 0)
		return true;
	return sm->text.len > 0 && mime_text_contains(sm->text.data,
	    sm->text.len, s, len);
}

/* The whole header, decoded field by field, for TEXT. */
static bool
imap_search_all_headers(struct imap_search_msg *sm, const char *s,
    size_t len)
{
	struct mime_header_field f;
	size_t pos = sm->root->header_start;
	bool found = false;

	while (!found && mime_header_field_next(sm->data,
	    sm->root->body_start, &pos, &f)) {
		buf_reset(&sm->tmp);
		mime_header_decode(sm->data + f.start, f.value_end - f.start,
		    &sm->tmp);
		found = sm->tmp.len > 0 && mime_text_contains(sm->tmp.data,
		    sm->tmp.len, s, len);
	}
	return found;
}

static const char *const imap_months[] = { "jan", "feb", "mar", "apr",
    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };

/* The day of an RFC 5322 date ("[Mon, ] 2 Jan 2006 ..."), as midnight
 * UTC of that day; -1 if it cannot be read. */
static time_t
imap_rfc5322_day(const char *s)
{
	struct tm tm = { 0 };
	const char *p = s;
	int day = 0, year = 0, mon = -1, digits = 0;

	if (s == NULL)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (isalpha((unsigned char)*p)) {
		while (isalpha((unsigned char)*p))
			p++;
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
	}
	while (isdigit((unsigned char)*p) && digits < 2) {
		day = day * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0)
		return -1;
	while (*p == ' ' || *p == '\t' || *p == '-')
		p++;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(p, imap_months[i], 3) == 0)
			mon = i;
	}
	if (mon < 0)
		return -1;
	p += 3;
	while (*p == ' ' || *p == '\t' || *p == '-')
		p++;
	digits = 0;
	while (isdigit((unsigned char)*p) && digits < 4) {
		year = year * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 2)	/* RFC 5322 4.3 obsolete years */
		year += year < 50 ? 2000 : 1900;
	else if (digits == 3)
		year += 1900;
	else if (digits != 4)
		return -1;
	if (day < 1 || day > 31)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	return timegm(&tm);
}

static time_t
imap_day_utc(time_t t)
{
	return t - (((t % 86400) + 86400) % 86400);
}

static bool
imap_keyword_has(const char *list, const char *kw)
{
	size_t len = strlen(kw);
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == len && strncasecmp(p, kw, n) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static bool
imap_search_match(struct imap_search_msg *sm,
    const struct imap_search_key *k)
{
	const struct store_message_meta *m = sm->m;
	time_t day;

	switch (k->op) {
	case IMAP_SK_AND:
		for (size_t i = 0; i < k->n_children; i++) {
			if (!imap_search_match(sm, &k->children[i]))
				return false;
		}
		return true;
	case IMAP_SK_OR:
		return imap_search_match(sm, &k->children[0]) ||
		    imap_search_match(sm, &k->children[1]);
	case IMAP_SK_NOT:
		return !imap_search_match(sm, &k->children[0]);
	case IMAP_SK_ALL:
	case IMAP_SK_OLD:	/* \Recent is never set */
		return true;
	case IMAP_SK_NEW:
	case IMAP_SK_RECENT:
		return false;
	case IMAP_SK_ANSWERED:
		return (m->flags & STORE_FLAG_ANSWERED) != 0;
	case IMAP_SK_UNANSWERED:
		return (m->flags & STORE_FLAG_ANSWERED) == 0;
	case IMAP_SK_DELETED:
		return (m->flags & STORE_FLAG_DELETED) != 0;
	case IMAP_SK_UNDELETED:
		return (m->flags & STORE_FLAG_DELETED) == 0;
	case IMAP_SK_DRAFT:
		return (m->flags & STORE_FLAG_DRAFT) != 0;
	case IMAP_SK_UNDRAFT:
		return (m->flags & STORE_FLAG_DRAFT) == 0;
	case IMAP_SK_FLAGGED:
		return (m->flags & STORE_FLAG_FLAGGED) != 0;
	case IMAP_SK_UNFLAGGED:
		return (m->flags & STORE_FLAG_FLAGGED) == 0;
	case IMAP_SK_SEEN:
		return (m->flags & STORE_FLAG_SEEN) != 0;
	case IMAP_SK_UNSEEN:
		return (m->flags & STORE_FLAG_SEEN) == 0;
	case IMAP_SK_KEYWORD:
		return imap_keyword_has(m->keywords, k->str);
	case IMAP_SK_UNKEYWORD:
		return !imap_keyword_has(m->keywords, k->str);
	case IMAP_SK_LARGER:
		return m->size > k->number;
	case IMAP_SK_SMALLER:
		return m->size < k->number;
	case IMAP_SK_BEFORE:
		return imap_day_utc(m->internal_date) < k->date;
	case IMAP_SK_ON:
		return imap_day_utc(m->internal_date) == k->date;
	case IMAP_SK_SINCE:
		return imap_day_utc(m->internal_date) >= k->date;
	case IMAP_SK_OLDER:
		return time(NULL) - m->internal_date >= (time_t)k->number;
	case IMAP_SK_YOUNGER:
		return time(NULL) - m->internal_date < (time_t)k->number;
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE: {
		char *date;

		if (imap_search_load(sm) < 0)
			return false;
		date = header_get(sm->data + sm->root->header_start,
		    sm->root->body_start - sm->root->header_start, "Date",
		    sm->pool);
		day = imap_rfc5322_day(date);
		if (day < 0)
			return false;
		return k->op == IMAP_SK_SENTBEFORE ? day < k->date :
		    k->op == IMAP_SK_SENTON ? day == k->date : day >= k->date;
	}
	case IMAP_SK_FROM:
		return imap_search_header(sm, "From", k->str, k->str_len);
	case IMAP_SK_TO:
		return imap_search_header(sm, "To", k->str, k->str_len);
	case IMAP_SK_CC:
		return imap_search_header(sm, "Cc", k->str, k->str_len);
	case IMAP_SK_BCC:
		return imap_search_header(sm, "Bcc", k->str, k->str_len);
	case IMAP_SK_SUBJECT:
		return imap_search_header(sm, "Subject", k->str, k->str_len);
	case IMAP_SK_HEADER:
		return imap_search_header(sm, k->header_name, k->str,
		    k->str_len);
	case IMAP_SK_BODY:
		return imap_search_body(sm, k->str, k->str_len);
	case IMAP_SK_TEXT:
		if (imap_search_load(sm) < 0)
			return false;
		if (k->str_len == 0)
			return true;
		return imap_search_all_headers(sm, k->str, k->str_len) ||
		    imap_search_body(sm, k->str, k->str_len);
	case IMAP_SK_UID:
		return imap_seqset_contains(&k->set, m->uid, sm->max_uid);
	case IMAP_SK_SEQSET:
		return imap_seqset_contains(&k->set, (uint32_t)sm->seq,
		    (uint32_t)sm->c->view->n);
	case IMAP_SK_MODSEQ:
		return m->modseq >= k->number;
	}
	return false;
}

static bool
imap_search_uses_modseq(const struct imap_search_key *k)
{
	if (k->op == IMAP_SK_MODSEQ)
		return true;
	for (size_t i = 0; i < k->n_children; i++) {
		if (imap_search_uses_modseq(&k->children[i]))
			return true;
	}
	return false;
}

/* RFC 9051 9: a sequence number past the end of the mailbox is BAD,
 * in a search key as anywhere else. */
static bool
imap_search_seqsets_valid(const struct imap_search_key *k,
    const struct imap_view *v)
{
	if (k->op == IMAP_SK_SEQSET && !imap_view_seqset_valid(v, &k->set))
		return false;
	for (size_t i = 0; i < k->n_children; i++) {
		if (!imap_search_seqsets_valid(&k->children[i], v))
			return false;
	}
	return true;
}

/*
 * The full-text index (store_text_candidates). Its text is made here, by
 * the functions the keys above match with, so that it holds, folded,
 * everything TEXT and BODY could find: every header field decoded on its
 * own line (TEXT never matches across fields), and the body text.
 */
int
imap_search_index_text(const char *data, size_t len, struct buf *header,
    struct buf *body)
{
	struct pool *pool = pool_new(16 * 1024);
	struct mime_header_field f;
	struct mime_part *root;
	const char *error;
	struct buf text;
	size_t pos;
	int ret = 0;

	/* A message that does not parse matches no text key. */
	if (mime_parse(data, len, pool, &root, &error) < 0) {
		pool_free(&pool);
		return 0;
	}
	buf_init(&text, IMAP_SEARCH_TEXT_MAX);
	pos = root->header_start;
	while (ret == 0 && mime_header_field_next(data, root->body_start, &pos,
	    &f)) {
		buf_reset(&text);
		mime_header_decode(data + f.start, f.value_end - f.start,
		    &text);
		if (mime_text_fold(text.data != NULL ? text.data : "",
		    text.len, header) < 0 || buf_puts(header, "\n") < 0)
			ret = -1;
	}
	if (ret == 0) {
		buf_reset(&text);
		mime_text_extract(data, len, root, &text);
		if (mime_text_fold(text.data != NULL ? text.data : "",
		    text.len, body) < 0)
			ret = -1;
	}
	buf_release(&text);
	pool_free(&pool);
	return ret;
}

/* The needles every match must contain: TEXT and BODY keys that are
 * ANDed at the top of the program, folded, at most max of them. */
static size_t
imap_search_terms(const struct imap_search_key *k, struct pool *pool,
    struct store_text_term *terms, size_t n, size_t max)
{
	struct buf folded;

	if (k->op == IMAP_SK_AND) {
		for (size_t i = 0; i < k->n_children; i++)
			n = imap_search_terms(&k->children[i], pool, terms, n,
			    max);
		return n;
	}
	if ((k->op != IMAP_SK_TEXT && k->op != IMAP_SK_BODY) ||
	    k->str_len == 0 || n == max)
		return n;
	buf_init(&folded, SIZE_MAX);
	(void)mime_text_fold(k->str, k->str_len, &folded);
	terms[n].folded = pool_strndup(pool, folded.data, folded.len);
	terms[n].len = folded.len;
	terms[n].body_only = k->op == IMAP_SK_BODY;
	buf_release(&folded);
	return n + 1;
}

#define IMAP_SEARCH_TERMS_MAX 8

/*
 * The UID ranges of the view to look at: those of the index's candidates
 * when the program needs text the index knows, else the whole view. The
 * ranges are allocated from the command's pool; returns how many.
 */
static size_t
imap_search_ranges(struct imap_conn *c, const struct imap_search_key *root,
    uint32_t **ranges_r)
{
	struct imap_view *v = c->view;
	struct store_text_term terms[IMAP_SEARCH_TERMS_MAX];
	uint32_t *uids, *r;
	size_t n_terms, n_uids, n = 0;
	const char *error;
	int rc;

	*ranges_r = r = pool_alloc(c->cmd_pool, 2 * sizeof(*r));
	r[0] = v->uids[0];
	r[1] = v->uids[v->n - 1];
	n_terms = imap_search_terms(root, c->cmd_pool, terms, 0,
	    IMAP_SEARCH_TERMS_MAX);
	if (n_terms == 0)
		return 1;
	rc = store_text_candidates(c->server->store, v->id, terms, n_terms,
	    &uids, &n_uids, &error);
	if (rc < 0) {
		log_error("conn=%s imap search index error=\"%s\"", c->id,
		    error);
		return 1;	/* the slow way still gives the answer */
	}
	if (rc == 0)
		return 1;
	/* Candidates as runs of consecutive UIDs; most of the mailbox is
	 * quicker in one scan. */
	if (n_uids > v->n / 2) {
		free(uids);
		return 1;
	}
	*ranges_r = r = pool_alloc(c->cmd_pool, (n_uids + 1) * 2 * sizeof(*r));
	for (size_t i = 0; i < n_uids; i++) {
		if (n > 0 && uids[i] == r[2 * n - 1] + 1) {
			r[2 * n - 1] = uids[i];
			continue;
		}
		r[2 * n] = r[2 * n + 1] = uids[i];
		n++;
	}
	free(uids);
	return n;
}

/* A SEARCH in progress. It runs in slices of IMAP_SEARCH_SLICE_NS so that
 * one search of a large mailbox does not hold up every other session. */
struct imap_search_run {
	struct imap_conn *c;
	const struct imap_search_key *root;	/* in the command's pool */
	struct imap_search_return ret;
	bool modseq;
	uint32_t max_uid;
	uint32_t *ranges;	/* UID ranges still to look at */
	size_t n_ranges, next;
	uint32_t last_uid;	/* the last UID looked at */
	uint64_t slice_end;	/* CLOCK_MONOTONIC ns */
	bool paused;
	unsigned slices;
	uint32_t *hits;		/* UIDs or sequence numbers */
	size_t n_hits, cap_hits;
	uint64_t max_modseq;
	struct pool *pool;
	struct buf text, tmp;
};

static uint64_t
imap_search_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
imap_search_cb(void *ctx, const struct store_message_meta *m)
{
	struct imap_search_run *r = ctx;
	struct imap_search_msg sm = { .c = r->c, .m = m, .pool = r->pool,
	    .max_uid = r->max_uid };
	bool hit;

	if (imap_search_now_ns() > r->slice_end) {
		r->paused = true;
		return -1;	/* m is looked at in the next slice */
	}
	r->last_uid = m->uid;
	sm.seq = imap_view_seq(r->c->view, m->uid);
	if (sm.seq == 0)
		return 0;	/* not yet announced to this session */
	sm.text = r->text;
	sm.tmp = r->tmp;
	buf_reset(&sm.text);
	hit = imap_search_match(&sm, r->root);
	r->text = sm.text;
	r->tmp = sm.tmp;
	free(sm.data);
	pool_clear(r->pool);
	if (!hit)
		return 0;
	if (r->n_hits == r->cap_hits) {
		r->cap_hits = r->cap_hits == 0 ? 64 : r->cap_hits * 2;
		r->hits = xrealloc(r->hits, r->cap_hits * sizeof(*r->hits));
	}
	r->hits[r->n_hits++] = r->c->uid_cmd ? m->uid : (uint32_t)sm.seq;
	if (m->modseq > r->max_modseq)
		r->max_modseq = m->modseq;
	return 0;
}

void
imap_search_free(struct imap_conn *c)
{
	struct imap_search_run *r = c->search;

	if (r == NULL)
		return;
	buf_release(&r->text);
	buf_release(&r->tmp);
	pool_free(&r->pool);
	free(r->hits);
	free(r);
	c->search = NULL;
}

static void
imap_search_answer(struct imap_conn *c, struct imap_search_run *r)
{
	struct buf out;

	buf_init(&out, SIZE_MAX);
	/* RFC 9051 6.4.4: an IMAP4rev2 session gets ESEARCH even without
	 * RETURN, which then means RETURN (ALL). */
	if (r->ret.present || c->rev2) {
		unsigned f = r->ret.flags != 0 ? r->ret.flags :
		    IMAP_SEARCH_RETURN_ALL;

		/* RFC 4731 3.1 */
		buf_puts(&out, "* ESEARCH (TAG ");
		imap_quote(&out, c->tag, strlen(c->tag));
		buf_puts(&out, ")");
		if (c->uid_cmd)
			buf_puts(&out, " UID");
		if (r->n_hits > 0 && (f & IMAP_SEARCH_RETURN_MIN) != 0)
			buf_printf(&out, " MIN %u", r->hits[0]);
		if (r->n_hits > 0 && (f & IMAP_SEARCH_RETURN_MAX) != 0)
			buf_printf(&out, " MAX %u", r->hits[r->n_hits - 1]);
		if (r->n_hits > 0 && (f & IMAP_SEARCH_RETURN_ALL) != 0) {
			buf_puts(&out, " ALL ");
			imap_numset_write(&out, r->hits, r->n_hits);
		}
		if ((f & IMAP_SEARCH_RETURN_COUNT) != 0)
			buf_printf(&out, " COUNT %zu", r->n_hits);
		if (r->modseq && r->n_hits > 0)
			buf_printf(&out, " MODSEQ %llu",
			    (unsigned long long)r->max_modseq);
	} else {
		buf_puts(&out, "* SEARCH");
		for (size_t i = 0; i < r->n_hits; i++)
			buf_printf(&out, " %u", r->hits[i]);
		/* RFC 7162 3.1.5 */
		if (r->modseq && r->n_hits > 0)
			buf_printf(&out, " (MODSEQ %llu)",
			    (unsigned long long)r->max_modseq);
	}
	buf_puts(&out, "\r\n");
	imap_send_buf(c, &out);
	buf_release(&out);
	imap_reply(c, "OK %sSEARCH completed", c->uid_cmd ? "UID " : "");
}

void
imap_search_resume(struct imap_conn *c)
{
	struct imap_search_run *r = c->search;
	const char *error;

	c->wait = IMAP_WAIT_NONE;
	r->slices++;
	r->slice_end = imap_search_now_ns() + IMAP_SEARCH_SLICE_NS;
	while (r->next < r->n_ranges) {
		r->paused = false;
		if (store_message_scan(c->server->store, c->view->id,
		    &r->ranges[2 * r->next], 1, true, imap_search_cb, r,
		    &error) < 0) {
			log_error("conn=%s imap search error=\"%s\"", c->id,
			    error);
			imap_search_free(c);
			imap_reply(c, "NO [SERVERBUG] SEARCH failed");
			return;
		}
		if (!r->paused) {
			r->next++;
			continue;
		}
		/* The rest of this range after the next slice; the other
		 * sessions go first. */
		if (r->last_uid >= r->ranges[2 * r->next]) {
			if (r->last_uid == r->ranges[2 * r->next + 1]) {
				r->next++;
				continue;
			}
			r->ranges[2 * r->next] = r->last_uid + 1;
		}
		imap_yield(c, imap_search_resume);
		return;
	}
	log_debug("conn=%s imap search hits=%zu slices=%u", c->id, r->n_hits,
	    r->slices);
	imap_search_answer(c, r);
	imap_search_free(c);
}

void
imap_cmd_search(struct imap_conn *c, const struct imap_command *cmd)
{
	struct imap_search_run *r;
	struct imap_search_key *root;
	struct imap_search_return ret;
	struct imap_view *v = c->view;
	const char *charset = NULL, *error;

	if (imap_search_parse(cmd->args, cmd->n_args, c->cmd_pool, c->utf8,
	    &root, &charset, &ret, &error) < 0) {
		imap_bad(c, "%s", error);
		return;
	}
	if (charset != NULL && strcasecmp(charset, "UTF-8") != 0 &&
	    strcasecmp(charset, "US-ASCII") != 0) {
		imap_reply(c, "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported "
		    "charset");
		return;
	}
	if (!imap_search_seqsets_valid(root, v)) {
		imap_bad(c, "No such message");
		return;
	}
	if ((ret.flags & IMAP_SEARCH_RETURN_SAVE) != 0) {
		imap_reply(c, "NO [CANNOT] SAVE is not supported");
		return;
	}
	c->search = r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->root = root;
	r->ret = ret;
	r->modseq = imap_search_uses_modseq(root);
	if (r->modseq)
		c->condstore = true;
	r->max_uid = v->n > 0 ? v->uids[v->n - 1] : 0;
	r->pool = pool_new(16 * 1024);
	buf_init(&r->text, IMAP_SEARCH_TEXT_MAX);
	buf_init(&r->tmp, IMAP_SEARCH_TEXT_MAX);
	if (v->n > 0)
		r->n_ranges = imap_search_ranges(c, root, &r->ranges);
	imap_search_resume(c);
}
