/*
 * store-queue.c - the outbound queue of the embedded store (schemas 6-8):
 * messages waiting for the deliverer, and their recipients (see store.h).
 *
 * A queue row points at a blob like a message row does; the blob is
 * deleted only when neither uses it (STMT_BLOB_DELETE_UNUSED). Queue rows
 * are inserted by store_deliver, in the transaction that stores the local
 * copies, after the blob is durable, so an acknowledged submission
 * survives a crash.
 *
 * SECURITY: addresses come from authenticated users (submission) or
 * local programs (sendmail); they are only bound as SQL parameters.
 */
#include "store/store-private.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

int
store_queue_insert(struct store *store, struct store_queue_entry *q,
    int64_t blob_id, time_t now, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, STMT_QUEUE_INSERT, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, blob_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (int64_t)q->data_offset) != SQLITE_OK ||
	    store_bind_text(stmt, 3, q->sender != NULL ? q->sender : "") !=
	    SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, q->user_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, (int64_t)now) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 6, q->smtputf8 ? 1 : 0) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "insert queue entry");
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return -1;
	q->id_r = sqlite3_last_insert_rowid(store->db);
	for (size_t i = 0; i < q->n_rcpts; i++) {
		const char *addr = q->rcpts[i];
		const char *at = strrchr(addr, '@');
		char *domain;

		if (at == NULL || at[1] == '\0' ||
		    strlen(addr) > STORE_ADDRESS_MAX) {
			store_error_set(error_r, "bad queue recipient");
			return -1;
		}
		domain = xstrdup(at + 1);
		for (char *p = domain; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if ((stmt = store_stmt(store, STMT_QUEUE_RCPT_INSERT,
		    error_r)) == NULL) {
			free(domain);
			return -1;
		}
		if (sqlite3_bind_int64(stmt, 1, q->id_r) != SQLITE_OK ||
		    store_bind_text(stmt, 2, addr) != SQLITE_OK ||
		    store_bind_text(stmt, 3, domain) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 4, (int64_t)now) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		free(domain);
		if (rc != SQLITE_DONE)
			store_db_error(store, error_r, "insert queue recipient");
		store_stmt_done(stmt);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/* The recipients of one queue entry, read into a growing array. */
struct store_queue_rcpts {
	struct store_queue_rcpt *v;
	size_t n, cap;
	struct store_names strings;	/* owns the strings */
};

static int
store_queue_read_rcpts(struct store *store, int64_t id,
    struct store_queue_rcpts *r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "SELECT address, state, attempts,"
	    " next_attempt, last_error FROM queue_rcpts WHERE queue_id = ?1"
	    " ORDER BY id", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return store_db_error(store, error_r, "bind");
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_queue_rcpt *q;
		const char *s;

		if (r->n == r->cap) {
			r->cap = r->cap == 0 ? 8 : r->cap * 2;
			r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
		}
		q = &r->v[r->n++];
		memset(q, 0, sizeof(*q));
		/* Pointers into strings are taken once the array is read:
		 * the names list may move while it grows. */
		s = (const char *)sqlite3_column_text(stmt, 0);
		store_names_add(&r->strings, s != NULL ? s : "");
		s = (const char *)sqlite3_column_text(stmt, 1);
		store_names_add(&r->strings, s != NULL ? s : "");
		s = (const char *)sqlite3_column_text(stmt, 4);
		store_names_add(&r->strings, s != NULL ? s : "");
		q->attempts = (unsigned)sqlite3_column_int64(stmt, 2);
		q->next_attempt = (time_t)sqlite3_column_int64(stmt, 3);
		q->last_error = sqlite3_column_type(stmt, 4) == SQLITE_NULL ?
		    NULL : "";
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_db_error(store, error_r, "list queue recipients");
	for (size_t i = 0; i < r->n; i++) {
		r->v[i].address = r->strings.names[3 * i];
		r->v[i].state = r->strings.names[3 * i + 1];
		if (r->v[i].last_error != NULL)
			r->v[i].last_error = r->strings.names[3 * i + 2];
	}
	return 0;
}

static void
store_queue_rcpts_free(struct store_queue_rcpts *r)
{
	free(r->v);
	store_names_free(&r->strings);
	memset(r, 0, sizeof(*r));
}

int
store_queue_list(struct store *store, int64_t id,
    int (*cb)(void *ctx, const struct store_queue_info *info), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc, ret = 0;
	bool found = false;

	if (store_tx_begin(store, false, error_r) < 0)
		return -1;
	stmt = store_stmt_once(store, "SELECT q.id, q.sender, q.created,"
	    " b.size, q.user_id, q.smtputf8 FROM queue q"
	    " JOIN blobs b ON b.id = q.blob_id"
	    " WHERE ?1 = 0 OR q.id = ?1 ORDER BY q.id", error_r);
	if (stmt == NULL) {
		store_tx_rollback(store);
		return -1;
	}
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			struct store_queue_rcpts r = { 0 };
			struct store_queue_info info;
			const char *sender;

			found = true;
			memset(&info, 0, sizeof(info));
			info.id = sqlite3_column_int64(stmt, 0);
			sender = (const char *)sqlite3_column_text(stmt, 1);
			info.sender = sender != NULL ? sender : "";
			info.created = (time_t)sqlite3_column_int64(stmt, 2);
			info.size = (uint64_t)sqlite3_column_int64(stmt, 3);
			info.user_id = sqlite3_column_int64(stmt, 4);
			info.smtputf8 = sqlite3_column_int(stmt, 5) != 0;
			if (store_queue_read_rcpts(store, info.id, &r,
			    error_r) < 0) {
				store_queue_rcpts_free(&r);
				ret = -1;
				break;
			}
			info.rcpts = r.v;
			info.n_rcpts = r.n;
			rc = cb(ctx, &info);
			store_queue_rcpts_free(&r);
			if (rc < 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_db_error(store, error_r, "list queue");
	sqlite3_finalize(stmt);
	if (ret < 0) {
		store_tx_rollback(store);
		return -1;
	}
	if (store_tx_commit(store, error_r) < 0) {
		store_tx_rollback(store);
		return -1;
	}
	if (id != 0 && !found) {
		store_error_set(error_r, "no queued message %lld",
		    (long long)id);
		return STORE_E_NOTFOUND;
	}
	return 0;
}

int
store_queue_open(struct store *store, int64_t id, int *fd_r,
    uint64_t *size_r, uint64_t *offset_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	char name[STORE_BLOB_NAME_SIZE];
	const char *text;
	uint64_t size = 0, offset = 0;
	int rc;

	stmt = store_stmt_once(store, "SELECT b.name, b.size, q.data_offset"
	    " FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ?1",
	    error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(stmt, 0);
		if (text == NULL || strlen(text) != STORE_BLOB_NAME_SIZE - 1) {
			sqlite3_finalize(stmt);
			store_error_set(error_r, "bad blob name in database");
			return -1;
		}
		memcpy(name, text, STORE_BLOB_NAME_SIZE);
		size = (uint64_t)sqlite3_column_int64(stmt, 1);
		offset = (uint64_t)sqlite3_column_int64(stmt, 2);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE) {
		store_error_set(error_r, "no queued message %lld",
		    (long long)id);
		return STORE_E_NOTFOUND;
	}
	if (rc != SQLITE_ROW)
		return store_db_error(store, error_r, "find queued message");
	if (store_blob_open(store, name, size, fd_r, error_r) < 0)
		return -1;
	*size_r = size;
	*offset_r = offset > size ? size : offset;
	return 0;
}

/*
 * Runs sql, a "DELETE FROM queue ... RETURNING blob_id" with the queue id
 * as ?1, inside the caller's transaction: *blob_id_r is the deleted
 * entry's blob, or 0 if no row went. Returns 0 or -1.
 */
static int
store_queue_drop(struct store *store, const char *sql, int64_t id,
    const char *what, int64_t *blob_id_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	*blob_id_r = 0;
	if ((stmt = store_stmt_once(store, sql, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*blob_id_r = sqlite3_column_int64(stmt, 0);
		rc = sqlite3_step(stmt);
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, what);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Releases blob_id (0: none), commits the caller's transaction, then
 * unlinks the files no one uses any more: a crash in between leaves an
 * orphan file, never a row without its file. Rolls back on failure.
 * Returns 0 or -1.
 */
static int
store_queue_commit_release(struct store *store, int64_t blob_id,
    const char **error_r)
{
	struct store_names unused = { 0 };

	if ((blob_id != 0 &&
	    store_blobs_release(store, &blob_id, 1, &unused, error_r) < 0) ||
	    store_tx_commit(store, error_r) < 0) {
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
store_queue_delete(struct store *store, int64_t id, const char **error_r)
{
	int64_t blob_id;

	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	if (store_queue_drop(store, "DELETE FROM queue WHERE id = ?1"
	    " RETURNING blob_id", id, "delete queue entry", &blob_id,
	    error_r) < 0) {
		store_tx_rollback(store);
		return -1;
	}
	if (blob_id == 0) {
		store_tx_rollback(store);
		store_error_set(error_r, "no queued message %lld",
		    (long long)id);
		return STORE_E_NOTFOUND;
	}
	return store_queue_commit_release(store, blob_id, error_r);
}

int
store_queue_flush(struct store *store, int64_t id, time_t now, size_t *n_r,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc, found = 1;

	*n_r = 0;
	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	if (id != 0) {
		stmt = store_stmt_once(store, "SELECT 1 FROM queue"
		    " WHERE id = ?1", error_r);
		if (stmt == NULL)
			goto rollback;
		if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		sqlite3_finalize(stmt);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			store_db_error(store, error_r, "find queue entry");
			goto rollback;
		}
		found = rc == SQLITE_ROW;
	}
	if (!found) {
		store_tx_rollback(store);
		store_error_set(error_r, "no queued message %lld",
		    (long long)id);
		return STORE_E_NOTFOUND;
	}
	stmt = store_stmt_once(store, "UPDATE queue_rcpts SET next_attempt = ?2"
	    " WHERE ?1 = 0 OR queue_id = ?1", error_r);
	if (stmt == NULL)
		goto rollback;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (int64_t)now) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		*n_r = (size_t)sqlite3_changes(store->db);
	else
		store_db_error(store, error_r, "flush queue");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		goto rollback;
	if (store_tx_commit(store, error_r) < 0)
		goto rollback;
	return 0;
rollback:
	store_tx_rollback(store);
	return -1;
}

int
store_queue_due(struct store *store, time_t now, size_t limit,
    int (*cb)(void *ctx, const struct store_queue_due *due), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if (store_tx_begin(store, false, error_r) < 0)
		return -1;
	stmt = store_stmt_once(store, "SELECT r.queue_id, q.sender, q.created,"
	    " r.domain, r.address, r.attempts, q.smtputf8 FROM queue_rcpts r"
	    " JOIN queue q ON q.id = r.queue_id"
	    " WHERE r.next_attempt <= ?1 AND r.state IN ('pending', 'deferred')"
	    " ORDER BY r.queue_id, r.domain, r.id LIMIT ?2", error_r);
	if (stmt == NULL) {
		store_tx_rollback(store);
		return -1;
	}
	if (sqlite3_bind_int64(stmt, 1, (int64_t)now) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (int64_t)limit) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			struct store_queue_due d;
			const char *s;

			d.queue_id = sqlite3_column_int64(stmt, 0);
			s = (const char *)sqlite3_column_text(stmt, 1);
			d.sender = s != NULL ? s : "";
			d.created = (time_t)sqlite3_column_int64(stmt, 2);
			s = (const char *)sqlite3_column_text(stmt, 3);
			d.domain = s != NULL ? s : "";
			s = (const char *)sqlite3_column_text(stmt, 4);
			d.address = s != NULL ? s : "";
			d.attempts = (unsigned)sqlite3_column_int64(stmt, 5);
			d.smtputf8 = sqlite3_column_int(stmt, 6) != 0;
			if (cb(ctx, &d) < 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		store_db_error(store, error_r, "list due queue recipients");
		sqlite3_finalize(stmt);
		store_tx_rollback(store);
		return -1;
	}
	sqlite3_finalize(stmt);
	if (store_tx_commit(store, error_r) < 0) {
		store_tx_rollback(store);
		return -1;
	}
	return 0;
}

/* Applies one recipient's result inside the caller's transaction. */
static int
store_queue_update_rcpt(struct store *store, int64_t queue_id,
    const struct store_queue_result *r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if (r->outcome == STORE_QUEUE_SENT)
		stmt = store_stmt_once(store, "DELETE FROM queue_rcpts"
		    " WHERE queue_id = ?1 AND address = ?2", error_r);
	else
		stmt = store_stmt_once(store, "UPDATE queue_rcpts"
		    " SET state = ?3, attempts = attempts + 1,"
		    " next_attempt = ?4, last_error = ?5"
		    " WHERE queue_id = ?1 AND address = ?2", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, queue_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, r->address) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else if (r->outcome != STORE_QUEUE_SENT &&
	    (store_bind_text(stmt, 3, r->outcome == STORE_QUEUE_RETRY ?
	    STORE_QUEUE_DEFERRED : STORE_QUEUE_FAILED) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (int64_t)r->next_attempt) !=
	    SQLITE_OK ||
	    store_bind_text(stmt, 5, r->error != NULL ? r->error : "") !=
	    SQLITE_OK))
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "update queue recipient");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_queue_update(struct store *store, int64_t queue_id,
    const struct store_queue_result *results, size_t n,
    const char **error_r)
{
	int64_t blob_id;

	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (store_queue_update_rcpt(store, queue_id, &results[i],
		    error_r) < 0)
			goto rollback;
	/* The message leaves the queue with its last recipient. */
	if (store_queue_drop(store, "DELETE FROM queue WHERE id = ?1 AND"
	    " NOT EXISTS (SELECT 1 FROM queue_rcpts WHERE queue_id = ?1)"
	    " RETURNING blob_id", queue_id, "delete finished queue entry",
	    &blob_id, error_r) < 0)
		goto rollback;
	return store_queue_commit_release(store, blob_id, error_r);
rollback:
	store_tx_rollback(store);
	return -1;
}
