/*
 * store-quarantine.c - held mail in the embedded store (schema 10): list,
 * get, release, delete, expire and digest bookkeeping (see store.h).
 *
 * A held message is one quarantine row per user, written by
 * store_deliver (store-sqlite.c) in the batch transaction after its blob
 * is durable, exactly like a delivery. Releasing it makes the message row
 * a delivery would have made (next UID and MODSEQ of INBOX, the arrival
 * time as internal date, the cached header values) pointing at the same
 * blob, and deletes the quarantine row, in one transaction: the blob is
 * never copied and never without a row that uses it. Held blobs are not
 * indexed for SEARCH (most expire, and the index keeps entries of gone
 * blobs): a release makes the indexer take the blob. Deleting and
 * expiring drop the row and then the blob if nothing else uses it
 * (STMT_BLOB_DELETE_UNUSED counts quarantine rows); the file is unlinked
 * after the commit, so a crash in between leaves an orphan file, never a
 * row without its file.
 *
 * SECURITY: the header values, the sender and the symbols come from the
 * message (hostile); they are only bound as SQL parameters here, and the
 * callers escape them before they print or log them. Ownership
 * (user_id) is checked in the same statement that finds the row, so a
 * self-release cannot reach another user's mail.
 */
#include "store/store-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"

#define STORE_QUARANTINE_COLUMNS \
	"q.id, q.user_id, q.rcpt, q.size, q.created, q.expires, q.score," \
	" q.symbols, q.reason, q.envelope_from, q.peer, q.hdr_from," \
	" q.hdr_subject, q.hdr_date, q.digested"

static const char *
store_quarantine_col(sqlite3_stmt *stmt, int i, bool null_ok)
{
	const char *s = (const char *)sqlite3_column_text(stmt, i);

	if (s == NULL && !null_ok)
		return "";
	return s;
}

/* Fills info from a row of STORE_QUARANTINE_COLUMNS. */
static void
store_quarantine_row(sqlite3_stmt *stmt, struct store_quarantine_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = sqlite3_column_int64(stmt, 0);
	info->user_id = sqlite3_column_int64(stmt, 1);
	info->rcpt = store_quarantine_col(stmt, 2, false);
	info->size = (uint64_t)sqlite3_column_int64(stmt, 3);
	info->created = (time_t)sqlite3_column_int64(stmt, 4);
	info->expires = (time_t)sqlite3_column_int64(stmt, 5);
	info->score = sqlite3_column_double(stmt, 6);
	info->symbols = store_quarantine_col(stmt, 7, false);
	info->reason = store_quarantine_col(stmt, 8, false);
	info->envelope_from = store_quarantine_col(stmt, 9, false);
	info->peer = store_quarantine_col(stmt, 10, false);
	info->hdr_from = store_quarantine_col(stmt, 11, true);
	info->hdr_subject = store_quarantine_col(stmt, 12, true);
	info->hdr_date = store_quarantine_col(stmt, 13, true);
	info->digested = sqlite3_column_int(stmt, 14) != 0;
}

int
store_quarantine_list(struct store *store, int64_t user_id, unsigned flags,
    size_t limit,
    int (*cb)(void *ctx, const struct store_quarantine_info *info), void *ctx,
    const char **error_r)
{
	struct store_quarantine_info info;
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "SELECT " STORE_QUARANTINE_COLUMNS
	    " FROM quarantine q WHERE (?1 = 0 OR q.user_id = ?1)"
	    " AND (?2 = 0 OR q.digested = 0) ORDER BY q.id DESC LIMIT ?3",
	    error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 2, (flags & STORE_QUARANTINE_UNDIGESTED) !=
	    0) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, limit == 0 ? -1 :
	    (int64_t)limit) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			store_quarantine_row(stmt, &info);
			if (cb(ctx, &info) < 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list quarantine");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_quarantine_get(struct store *store, int64_t id, int64_t user_id,
    int (*cb)(void *ctx, const struct store_quarantine_info *info), void *ctx,
    int *fd_r, const char **error_r)
{
	struct store_quarantine_info info;
	char name[STORE_BLOB_NAME_SIZE];
	const char *text;
	sqlite3_stmt *stmt;
	uint64_t size = 0;
	int rc, ret = 0;

	stmt = store_stmt_once(store, "SELECT " STORE_QUARANTINE_COLUMNS
	    ", b.name, b.size FROM quarantine q JOIN blobs b ON b.id = q.blob_id"
	    " WHERE q.id = ?1 AND (?2 = 0 OR q.user_id = ?2)", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, user_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(stmt);
		store_error_set(error_r, "no held message %lld", (long long)id);
		return STORE_E_NOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		store_db_error(store, error_r, "find held message");
		sqlite3_finalize(stmt);
		return -1;
	}
	text = (const char *)sqlite3_column_text(stmt, 15);
	if (text == NULL || strlen(text) != STORE_BLOB_NAME_SIZE - 1) {
		sqlite3_finalize(stmt);
		store_error_set(error_r, "bad blob name in database");
		return -1;
	}
	memcpy(name, text, STORE_BLOB_NAME_SIZE);
	size = (uint64_t)sqlite3_column_int64(stmt, 16);
	store_quarantine_row(stmt, &info);
	if (cb != NULL)
		(void)cb(ctx, &info);
	sqlite3_finalize(stmt);
	if (fd_r != NULL && store_blob_open(store, name, size, fd_r,
	    error_r) < 0)
		ret = -1;
	return ret;
}

/* The row a release needs, read inside its transaction. */
struct store_quarantine_held {
	int64_t user_id;
	int64_t blob_id;
	struct store_delivery d;	/* what a delivery would have had */
	struct store_names strings;	/* owns the strings of d */
};

/* Returns 1 with the row, 0 if none (or another user's), -1. */
static int
store_quarantine_find(struct store *store, int64_t id, int64_t user_id,
    struct store_quarantine_held *h, const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *s;
	int rc;

	stmt = store_stmt_once(store, "SELECT user_id, blob_id, size, created,"
	    " envelope_from, hdr_from, hdr_subject, hdr_date FROM quarantine"
	    " WHERE id = ?1 AND (?2 = 0 OR user_id = ?2)", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, user_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char **fields[4] = { &h->d.envelope_from, &h->d.hdr_from,
		    &h->d.hdr_subject, &h->d.hdr_date };

		h->user_id = sqlite3_column_int64(stmt, 0);
		h->blob_id = sqlite3_column_int64(stmt, 1);
		h->d.size = (size_t)sqlite3_column_int64(stmt, 2);
		h->d.internal_date = (time_t)sqlite3_column_int64(stmt, 3);
		for (int i = 0; i < 4; i++) {
			s = (const char *)sqlite3_column_text(stmt, 4 + i);
			if (s == NULL) {
				*fields[i] = i == 0 ? "" : NULL;
				continue;
			}
			store_names_add(&h->strings, s);
			*fields[i] = h->strings.names[h->strings.count - 1];
		}
	} else if (rc != SQLITE_DONE) {
		store_db_error(store, error_r, "find held message");
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Runs sql, a "DELETE FROM quarantine ... RETURNING blob_id" with ?1 and
 * ?2 bound to a and b, inside the caller's transaction, adding each blob
 * id to *ids (grown as needed). Returns 0 or -1.
 */
static int
store_quarantine_drop(struct store *store, const char *sql, int64_t a,
    int64_t b, int64_t **ids, size_t *n, size_t *cap, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt_once(store, sql, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, a) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, b) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (*n == *cap) {
				*cap = *cap == 0 ? 16 : *cap * 2;
				*ids = xrealloc(*ids, *cap * sizeof(**ids));
			}
			(*ids)[(*n)++] = sqlite3_column_int64(stmt, 0);
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "delete held message");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs sql with ?1 bound to v, ignoring rows. Returns 0 or -1. */
static int
store_exec_sql_int(struct store *store, const char *sql, int64_t v,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt_once(store, sql, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, v) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			;
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "quarantine update");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Notes a release of user_id's (see store_quarantine_released). */
static int
store_quarantine_note(struct store *store, int64_t user_id,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "INSERT INTO quarantine_released"
	    " (user_id, time) VALUES (?1, ?2)", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (int64_t)time(NULL)) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "note release");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_quarantine_release(struct store *store, int64_t id, int64_t user_id,
    int64_t *user_id_r, uint32_t *uid_r, const char **error_r)
{
	struct store_quarantine_held h;
	int64_t mailbox_id, uid, modseq, *blobs = NULL;
	size_t n_blobs = 0, cap_blobs = 0;
	int rc;

	memset(&h, 0, sizeof(h));
	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	rc = store_quarantine_find(store, id, user_id, &h, error_r);
	if (rc <= 0) {
		store_tx_rollback(store);
		store_names_free(&h.strings);
		if (rc == 0) {
			store_error_set(error_r, "no held message %lld",
			    (long long)id);
			return STORE_E_NOTFOUND;
		}
		return -1;
	}
	/* Always INBOX: the filter held it as spam, the user says it is
	 * not. */
	rc = store_mailbox_alloc(store, h.user_id, STORE_MAILBOX_INBOX,
	    &mailbox_id, &uid, &modseq, error_r);
	if (rc == 0)
		store_error_set(error_r, "user %lld has no INBOX",
		    (long long)h.user_id);
	if (rc <= 0)
		goto fail;
	if (store_message_insert(store, &h.d, mailbox_id, uid, modseq,
	    h.blob_id, error_r) < 0 ||
	    store_exec_sql_int(store, "UPDATE blobs SET indexed = 0"
	    " WHERE id = ?1 AND indexed = 2", h.blob_id, error_r) < 0)
		goto fail;
	if (store_quarantine_drop(store, "DELETE FROM quarantine"
	    " WHERE id = ?1 AND user_id = ?2 RETURNING blob_id", id,
	    h.user_id, &blobs, &n_blobs, &cap_blobs, error_r) < 0 ||
	    store_quarantine_note(store, h.user_id, error_r) < 0)
		goto fail;
	free(blobs);
	if (store_tx_commit(store, error_r) < 0) {
		store_tx_rollback(store);
		store_names_free(&h.strings);
		return -1;
	}
	store_names_free(&h.strings);
	if (user_id_r != NULL)
		*user_id_r = h.user_id;
	if (uid_r != NULL)
		*uid_r = (uint32_t)uid;
	return 0;
fail:
	free(blobs);
	store_tx_rollback(store);
	store_names_free(&h.strings);
	return -1;
}

/* Releases the blobs, commits, unlinks the unused files (see the top of
 * this file). Rolls back on failure. Returns 0 or -1. */
static int
store_quarantine_commit(struct store *store, const int64_t *blobs,
    size_t n_blobs, const char **error_r)
{
	struct store_names unused = { 0 };

	if (store_blobs_release(store, blobs, n_blobs, &unused,
	    error_r) < 0 || store_tx_commit(store, error_r) < 0) {
		store_tx_rollback(store);
		store_names_free(&unused);
		return -1;
	}
	for (size_t i = 0; i < unused.count; i++)
		store_blob_unlink(store, unused.names[i]);
	store_names_free(&unused);
	return 0;
}

int
store_quarantine_delete(struct store *store, int64_t id, int64_t user_id,
    const char **error_r)
{
	int64_t *blobs = NULL;
	size_t n_blobs = 0, cap_blobs = 0;
	int ret;

	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	if (store_quarantine_drop(store, "DELETE FROM quarantine WHERE id = ?1"
	    " AND (?2 = 0 OR user_id = ?2) RETURNING blob_id", id, user_id,
	    &blobs, &n_blobs, &cap_blobs, error_r) < 0) {
		store_tx_rollback(store);
		free(blobs);
		return -1;
	}
	if (n_blobs == 0) {
		store_tx_rollback(store);
		store_error_set(error_r, "no held message %lld", (long long)id);
		return STORE_E_NOTFOUND;
	}
	ret = store_quarantine_commit(store, blobs, n_blobs, error_r);
	free(blobs);
	return ret;
}

int
store_quarantine_expire(struct store *store, time_t now, size_t max,
    size_t *n_r, const char **error_r)
{
	int64_t *blobs = NULL;
	size_t n_blobs = 0, cap_blobs = 0;
	int ret;

	*n_r = 0;
	if (max == 0)
		return 0;
	if (max > STORE_QUARANTINE_EXPIRE_MAX)
		max = STORE_QUARANTINE_EXPIRE_MAX;
	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	/* The expires index gives the oldest first; the batch is bounded
	 * so that the writer thread is not held for long. */
	if (store_quarantine_drop(store, "DELETE FROM quarantine WHERE id IN"
	    " (SELECT id FROM quarantine WHERE expires <= ?1"
	    " ORDER BY expires LIMIT ?2) RETURNING blob_id", (int64_t)now,
	    (int64_t)max, &blobs, &n_blobs, &cap_blobs, error_r) < 0) {
		store_tx_rollback(store);
		free(blobs);
		return -1;
	}
	if (store_exec_sql_int(store, "DELETE FROM quarantine_released"
	    " WHERE time < ?1", (int64_t)now - STORE_QUARANTINE_RELEASED_KEEP,
	    error_r) < 0) {
		store_tx_rollback(store);
		free(blobs);
		return -1;
	}
	ret = store_quarantine_commit(store, blobs, n_blobs, error_r);
	free(blobs);
	if (ret == 0)
		*n_r = n_blobs;
	return ret;
}

int
store_quarantine_mark_digested(struct store *store, int64_t user_id,
    const int64_t *ids, size_t n, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE;

	if (n == 0)
		return 0;
	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	stmt = store_stmt_once(store, "UPDATE quarantine SET digested = 1"
	    " WHERE id = ?1 AND user_id = ?2", error_r);
	if (stmt == NULL) {
		store_tx_rollback(store);
		return -1;
	}
	for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
		if (sqlite3_bind_int64(stmt, 1, ids[i]) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 2, user_id) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "mark digested");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		store_tx_rollback(store);
		return -1;
	}
	if (store_tx_commit(store, error_r) < 0) {
		store_tx_rollback(store);
		return -1;
	}
	return 0;
}

int
store_quarantine_users(struct store *store, int64_t after_user_id,
    int64_t *users_r, size_t max, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	size_t n = 0;
	int rc;

	*n_r = 0;
	if (max > STORE_QUARANTINE_USERS_MAX)
		max = STORE_QUARANTINE_USERS_MAX;
	stmt = store_stmt_once(store, "SELECT DISTINCT user_id FROM quarantine"
	    " WHERE digested = 0 AND user_id > ?1 ORDER BY user_id LIMIT ?2",
	    error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, after_user_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (int64_t)max) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while (n < max && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
			users_r[n++] = sqlite3_column_int64(stmt, 0);
		if (n == max)
			rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list quarantine users");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return -1;
	*n_r = n;
	return 0;
}

int
store_user_address(struct store *store, int64_t user_id, char *addr_r,
    size_t size, const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *s;
	int rc, ret;

	stmt = store_stmt_once(store, "SELECT address FROM users WHERE id = ?1",
	    error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		s = (const char *)sqlite3_column_text(stmt, 0);
		if (s == NULL || snprintf(addr_r, size, "%s", s) >= (int)size) {
			store_error_set(error_r, "address too long");
			ret = -1;
		} else {
			ret = 1;
		}
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		ret = store_db_error(store, error_r, "look up user");
	}
	sqlite3_finalize(stmt);
	return ret;
}

int
store_quarantine_released(struct store *store, int64_t after_id,
    void (*cb)(void *ctx, int64_t user_id), void *ctx, int64_t *last_id_r,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int64_t last = after_id;
	int rc;

	if (cb == NULL)
		stmt = store_stmt_once(store, "SELECT coalesce(max(id), 0), 0"
		    " FROM quarantine_released", error_r);
	else
		stmt = store_stmt_once(store, "SELECT id, user_id FROM"
		    " quarantine_released WHERE id > ?1 ORDER BY id LIMIT ?2",
		    error_r);
	if (stmt == NULL)
		return -1;
	if (cb != NULL && (sqlite3_bind_int64(stmt, 1, after_id) !=
	    SQLITE_OK || sqlite3_bind_int64(stmt, 2,
	    STORE_QUARANTINE_USERS_MAX) != SQLITE_OK)) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			last = sqlite3_column_int64(stmt, 0);
			if (cb != NULL)
				cb(ctx, sqlite3_column_int64(stmt, 1));
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "read releases");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return -1;
	*last_id_r = last;
	return 0;
}
