/*
 * store-text.c - the embedded store backend, full-text side: an SQLite
 * FTS5 trigram index over the text IMAP SEARCH BODY and TEXT look at.
 *
 * The index narrows a search down; it never decides one. It answers with
 * candidate messages, a superset of the matches, and SEARCH then checks
 * each candidate on the message itself. That is what lets it be small
 * and simple:
 *
 *   - It is contentless (content=''), with detail=column: per trigram,
 *     the blobs and columns it occurs in, no positions and no copy of the
 *     text. A needle becomes the AND of its trigrams, which every match
 *     satisfies and a few non-matches do too.
 *   - The text is folded (mime_text_fold) by the caller before it is
 *     indexed and before a needle is split, and the tokenizer is case
 *     sensitive: folding is done once, by the same function that SEARCH
 *     matches with, so the index cannot disagree with it.
 *   - It is keyed by blob, so copies share an entry. A blob's entry is
 *     not removed when the blob goes (a contentless table needs the old
 *     text to do that); a stale entry only makes a candidate that the
 *     check then drops, also when a new blob reuses the id.
 *   - It is filled off the delivery path, by the writer thread when it
 *     has nothing else to do (store_text_index_some); a blob without an
 *     entry yet (blobs.indexed = 0), or whose text could not be indexed
 *     (2), is always a candidate.
 *
 * Needles of fewer than three characters have no trigram; for them the
 * caller looks at every message.
 */
#include "store/store-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"

#define STORE_TEXT_HEADER_MAX (16 * 1024 * 1024)
#define STORE_TEXT_BODY_MAX (16 * 1024 * 1024)
/* One idle call stops after this long, to keep new jobs waiting little. */
#define STORE_TEXT_SLICE_NS (20 * 1000 * 1000)

enum {
	STORE_TEXT_NONE = 0,	/* not indexed yet */
	STORE_TEXT_DONE = 1,
	STORE_TEXT_FAILED = 2,	/* no entry: always a candidate */
};

static uint64_t
store_text_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The whole blob in a malloc'd buffer (NUL-terminated), or NULL. */
static char *
store_text_read_blob(struct store *store, const char *name, uint64_t size)
{
	const char *error;
	char *data;
	int fd;

	if (store_blob_open(store, name, size, &fd, &error) < 0) {
		log_warning("store index blob=%s error=\"%s\"", name, error);
		return NULL;
	}
	if (store_read_range(fd, 0, size, &data) < 0)
		log_warning("store index blob=%s error=\"short read\"", name);
	(void)close(fd);
	return data;
}

/* Indexes one blob (inside the write transaction). */
static int
store_text_index_blob(struct store *store, store_text_fn *extract,
    int64_t id, const char *name, uint64_t size, struct buf *header,
    struct buf *body, const char **error_r)
{
	int state = STORE_TEXT_FAILED, rc = SQLITE_DONE;
	sqlite3_stmt *stmt;
	char *data;

	buf_reset(header);
	buf_reset(body);
	data = store_text_read_blob(store, name, size);
	if (data != NULL && extract(data, (size_t)size, header, body) == 0)
		state = STORE_TEXT_DONE;
	free(data);
	if (state == STORE_TEXT_DONE) {
		stmt = store_stmt_once(store, "INSERT INTO blob_text"
		    " (rowid, header, body) VALUES (?1, ?2, ?3)", error_r);
		if (stmt == NULL)
			return -1;
		if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK ||
		    sqlite3_bind_text(stmt, 2, header->len ? header->data : "",
		    (int)header->len, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(stmt, 3, body->len ? body->data : "",
		    (int)body->len, SQLITE_STATIC) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE)
			store_db_error(store, error_r, "index text");
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE)
			return -1;
	}
	stmt = store_stmt_once(store, "UPDATE blobs SET indexed = ?2"
	    " WHERE id = ?1", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 2, state) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "mark blob indexed");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_text_version(struct store *store, int64_t version, const char **error_r)
{
	sqlite3_stmt *stmt;
	int64_t have = -1;
	int rc;

	stmt = store_stmt_once(store, "SELECT value FROM counters"
	    " WHERE name = 'text_index'", error_r);
	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		have = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "read text index version");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return -1;
	if (have == version)
		return 0;
	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	stmt = store_stmt_once(store, "INSERT OR REPLACE INTO counters"
	    " (name, value) VALUES ('text_index', ?1)", error_r);
	if (stmt == NULL)
		goto fail;
	rc = sqlite3_bind_int64(stmt, 1, version) == SQLITE_OK ?
	    sqlite3_step(stmt) : SQLITE_ERROR;
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "write text index version");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE ||
	    store_exec_sql(store, "INSERT INTO blob_text (blob_text)"
	    " VALUES ('delete-all'); UPDATE blobs SET indexed = 0"
	    " WHERE indexed <> 0", error_r) < 0 ||
	    store_tx_commit(store, error_r) < 0)
		goto fail;
	log_info("store text index version=%lld was=%lld: made again",
	    (long long)version, (long long)have);
	return 0;
fail:
	store_tx_rollback(store);
	return -1;
}

int
store_text_index_some(struct store *store, store_text_fn *extract, size_t max,
    const char **error_r)
{
	uint64_t start = store_text_now_ns();
	struct buf header, body;
	struct {
		int64_t id;
		char name[STORE_BLOB_NAME_SIZE];
		uint64_t size;
	} *todo;
	sqlite3_stmt *stmt;
	size_t n = 0, done = 0;
	int rc;

	if (max == 0)
		return 0;
	stmt = store_stmt_once(store, "SELECT id, name, size FROM blobs"
	    " WHERE indexed = 0 ORDER BY id LIMIT ?1", error_r);
	if (stmt == NULL)
		return -1;
	todo = xcalloc(max, sizeof(*todo));
	if (sqlite3_bind_int64(stmt, 1, (int64_t)max) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && n < max) {
			todo[n].id = sqlite3_column_int64(stmt, 0);
			(void)snprintf(todo[n].name, sizeof(todo[n].name),
			    "%s", (const char *)sqlite3_column_text(stmt, 1));
			todo[n].size = (uint64_t)sqlite3_column_int64(stmt, 2);
			n++;
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		store_db_error(store, error_r, "list blobs to index");
	sqlite3_finalize(stmt);
	if ((rc != SQLITE_DONE && rc != SQLITE_ROW) || n == 0) {
		free(todo);
		return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
	}
	if (store_tx_begin(store, true, error_r) < 0) {
		free(todo);
		return -1;
	}
	buf_init(&header, STORE_TEXT_HEADER_MAX);
	buf_init(&body, STORE_TEXT_BODY_MAX);
	for (size_t i = 0; i < n; i++) {
		if (store_text_index_blob(store, extract, todo[i].id,
		    todo[i].name, todo[i].size, &header, &body, error_r) < 0)
			goto fail;
		done++;
		if (store_text_now_ns() - start > STORE_TEXT_SLICE_NS)
			break;
	}
	buf_release(&header);
	buf_release(&body);
	free(todo);
	if (store_tx_commit(store, error_r) < 0) {
		store_tx_rollback(store);
		return -1;
	}
	return (int)done;
fail:
	buf_release(&header);
	buf_release(&body);
	free(todo);
	store_tx_rollback(store);
	return -1;
}

#define STORE_TEXT_TRIGRAMS_MAX 24

static size_t
store_text_char_len(unsigned char c)
{
	if (c < 0xC0)
		return 1;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	return 4;
}

/* Appends the FTS5 query for one needle: the AND of its trigrams, as
 * quoted strings, at most STORE_TEXT_TRIGRAMS_MAX of them spread over it.
 * Returns false if the needle has fewer than three characters. */
static bool
store_text_query_term(struct buf *q, const struct store_text_term *t)
{
	size_t n = 0, pos = 0, stride = 1, chars = 0;

	/* characters in the needle, to spread the trigrams over it */
	for (size_t i = 0; i < t->len; i += store_text_char_len(
	    (unsigned char)t->folded[i]))
		chars++;
	if (chars < 3)
		return false;
	if (chars - 2 > STORE_TEXT_TRIGRAMS_MAX)
		stride = (chars - 2 + STORE_TEXT_TRIGRAMS_MAX - 1) /
		    STORE_TEXT_TRIGRAMS_MAX;
	if (q->len > 0)
		buf_puts(q, " AND ");
	if (t->body_only)
		buf_puts(q, "body : ");
	buf_puts(q, "(");
	for (size_t c = 0; pos < t->len && c + 2 < chars; c++) {
		size_t end = pos;

		for (int k = 0; k < 3 && end < t->len; k++)
			end += store_text_char_len((unsigned char)t->folded[end]);
		if (end > t->len)
			break;
		if (c % stride == 0 || c + 3 == chars) {
			if (n++ > 0)
				buf_puts(q, " AND ");
			buf_puts(q, "\"");
			for (size_t i = pos; i < end; i++) {
				if (t->folded[i] == '"')
					buf_puts(q, "\"\"");
				else
					buf_append(q, &t->folded[i], 1);
			}
			buf_puts(q, "\"");
		}
		pos += store_text_char_len((unsigned char)t->folded[pos]);
	}
	buf_puts(q, ")");
	return true;
}

int
store_text_candidates(struct store *store, int64_t mailbox_id,
    const struct store_text_term *terms, size_t n_terms, uint32_t **uids_r,
    size_t *n_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	struct buf q;
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*uids_r = NULL;
	*n_r = 0;
	buf_init(&q, SIZE_MAX);
	for (size_t i = 0; i < n_terms; i++)
		(void)store_text_query_term(&q, &terms[i]);
	if (q.len == 0) {
		buf_release(&q);
		return 0;
	}
	stmt = store_stmt_once(store, "SELECT m.uid FROM messages m"
	    " JOIN blobs b ON b.id = m.blob_id"
	    " WHERE m.mailbox_id = ?1 AND (b.indexed <> 1 OR m.blob_id IN"
	    "  (SELECT rowid FROM blob_text WHERE blob_text MATCH ?2))"
	    " ORDER BY m.uid", error_r);
	if (stmt == NULL) {
		buf_release(&q);
		return -1;
	}
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, q.data, (int)q.len, SQLITE_STATIC) !=
	    SQLITE_OK)
		rc = SQLITE_ERROR;
	else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				uids = xrealloc(uids, cap * sizeof(*uids));
			}
			uids[n++] = (uint32_t)sqlite3_column_int64(stmt, 0);
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "search text index");
	sqlite3_finalize(stmt);
	buf_release(&q);
	if (rc != SQLITE_DONE) {
		free(uids);
		return -1;
	}
	*uids_r = uids;
	*n_r = n;
	return 1;
}
