/*
 * store-bayes.c - the statistical classifier's tables (see store.h):
 * token counts by hash (bayes_tokens), message totals (bayes_totals) and
 * the messages learnt (bayes_trained), global (user id 0) and per user,
 * in schema 10 (store-sqlite.c).
 *
 * Learning one message is one write transaction (or one savepoint of the
 * caller's batch), so a crash never leaves a message half counted: its
 * tokens, the totals and the record that it was learnt change together.
 * Unlearning subtracts what learning added; counts never go below zero
 * (a token may have been expired in between), and a token row at zero
 * is deleted. Expiry is bounded: each learn deletes at most expire_max of
 * the oldest tokens (by atime, the last time a message with the token was
 * learnt) and of the oldest learnt-message records, through the indexes
 * on those times, so its cost does not grow with the tables.
 *
 * The statements are prepared once per call and reused for every token
 * of the message (a message has at most STORE_BAYES_TOKENS_MAX).
 *
 * SECURITY: tokens are hashes and the message hash a digest: nothing the
 * peer wrote reaches SQL, and everything is bound as parameters.
 */
#include "store/store.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store-private.h"

/* Tokens bound to one insert, and looked up by one statement (two
 * lookups each, within SQLite's 500 terms of a compound select). */
#define STORE_BAYES_CHUNK 64
#define STORE_BAYES_READ_CHUNK 32
/* The page cache of a connection that learns in batches, KiB. */
#define STORE_BAYES_BATCH_CACHE_KIB "65536"
/* Room for the SQL text of such a statement. */
#define STORE_BAYES_SQL_MAX (STORE_BAYES_READ_CHUNK * 200 + 512)

/*
 * BSTMT_TOKENS_READ: the counts of STORE_BAYES_READ_CHUNK tokens (?2 on)
 * in the global table and in user ?1's, as rows (index in the chunk,
 * 0 global / 1 user, spam, ham). A UNION ALL of point lookups: an IN
 * list would make SQLite build an ephemeral table at every step, whose
 * memory (malloc'd and trimmed each time) cost more than the lookups.
 */
static void
store_bayes_read_sql(char *sql, size_t size)
{
	size_t len = 0;
	int k;

	for (int i = 0; i < STORE_BAYES_READ_CHUNK; i++) {
		k = snprintf(sql + len, size - len, "%sSELECT %d, 0, spam, ham"
		    " FROM bayes_tokens WHERE user_id = 0 AND token = ?%d"
		    " UNION ALL SELECT %d, 1, spam, ham FROM bayes_tokens"
		    " WHERE user_id = ?1 AND token = ?%d", i > 0 ?
		    " UNION ALL " : "", i, i + 2, i, i + 2);
		assert(k > 0 && (size_t)k < size - len);
		len += (size_t)k;
	}
}

/* The statements, cached in store->bstmts (prepared on first use). */
enum store_bayes_stmt {
	BSTMT_TRAINED_GET,
	BSTMT_TRAINED_SET,
	BSTMT_TRAINED_DEL,
	BSTMT_TOKEN_ADD,
	BSTMT_TOKEN_SUB,
	BSTMT_TOKEN_ZERO,
	BSTMT_TOTALS_ADD,
	BSTMT_TOKEN_ADD_CHUNK,	/* STORE_BAYES_CHUNK rows; made at run time */
	BSTMT_TOKENS_READ,	/* STORE_BAYES_CHUNK tokens; made at run time */
	BSTMT_TOTALS_READ,
	BSTMT_EXPIRE_TOKENS,
	BSTMT_EXPIRE_TRAINED,
	BSTMT_EXPIRE_DUE,
	BSTMT_COUNT
};

_Static_assert(BSTMT_COUNT <= STORE_BSTMT_MAX, "store->bstmts too small");

static const char *const store_bayes_sql[BSTMT_COUNT] = {
	[BSTMT_TRAINED_GET] = "SELECT class FROM bayes_trained"
	    " WHERE user_id = ?1 AND msg_hash = ?2",
	[BSTMT_TRAINED_SET] = "INSERT INTO bayes_trained"
	    " (user_id, msg_hash, class, time) VALUES (?1, ?2, ?3, ?4)"
	    " ON CONFLICT (user_id, msg_hash) DO UPDATE"
	    " SET class = excluded.class, time = excluded.time",
	[BSTMT_TRAINED_DEL] = "DELETE FROM bayes_trained"
	    " WHERE user_id = ?1 AND msg_hash = ?2",
	[BSTMT_TOKEN_ADD] = "INSERT INTO bayes_tokens"
	    " (user_id, token, spam, ham, atime) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (user_id, token) DO UPDATE"
	    " SET spam = spam + excluded.spam, ham = ham + excluded.ham,"
	    " atime = excluded.atime",
	[BSTMT_TOKEN_SUB] = "UPDATE bayes_tokens"
	    " SET spam = max(spam - ?3, 0), ham = max(ham - ?4, 0)"
	    " WHERE user_id = ?1 AND token = ?2",
	[BSTMT_TOKEN_ZERO] = "DELETE FROM bayes_tokens"
	    " WHERE user_id = ?1 AND token = ?2 AND spam = 0 AND ham = 0",
	[BSTMT_TOTALS_ADD] = "INSERT INTO bayes_totals (user_id, spam, ham)"
	    " VALUES (?1, max(?2, 0), max(?3, 0))"
	    " ON CONFLICT (user_id) DO UPDATE"
	    " SET spam = max(spam + ?2, 0), ham = max(ham + ?3, 0)",
	[BSTMT_TOTALS_READ] = "SELECT 0, spam, ham FROM bayes_totals"
	    " WHERE user_id = 0 UNION ALL SELECT 1, spam, ham"
	    " FROM bayes_totals WHERE user_id = ?1",
	/* the oldest first, through the indexes on the times */
	[BSTMT_EXPIRE_TOKENS] = "DELETE FROM bayes_tokens WHERE"
	    " (user_id, token) IN (SELECT user_id, token FROM bayes_tokens"
	    " WHERE atime < ?1 ORDER BY atime LIMIT ?2)",
	/* whether there is anything to expire: one index probe, where the
	 * deletes' subqueries each build an ephemeral table */
	[BSTMT_EXPIRE_DUE] = "SELECT (SELECT min(atime) FROM bayes_tokens) < ?1"
	    " OR (SELECT min(time) FROM bayes_trained) < ?1",
	[BSTMT_EXPIRE_TRAINED] = "DELETE FROM bayes_trained WHERE"
	    " (user_id, msg_hash) IN (SELECT user_id, msg_hash"
	    " FROM bayes_trained WHERE time < ?1 ORDER BY time LIMIT ?2)",
};

/* BSTMT_TOKEN_ADD for STORE_BAYES_CHUNK tokens: ?1 user, ?2 spam, ?3 ham,
 * ?4 atime, the tokens from ?5 (distinct: each row is its own upsert). */
static void
store_bayes_add_sql(char *sql, size_t size)
{
	size_t len;
	int k;

	k = snprintf(sql, size, "INSERT INTO bayes_tokens"
	    " (user_id, token, spam, ham, atime) VALUES ");
	assert(k > 0 && (size_t)k < size);
	len = (size_t)k;
	for (int i = 0; i < STORE_BAYES_CHUNK; i++) {
		k = snprintf(sql + len, size - len, "%s(?1,?%d,?2,?3,?4)",
		    i > 0 ? "," : "", i + 5);
		assert(k > 0 && (size_t)k < size - len);
		len += (size_t)k;
	}
	k = snprintf(sql + len, size - len, " ON CONFLICT (user_id, token)"
	    " DO UPDATE SET spam = spam + excluded.spam,"
	    " ham = ham + excluded.ham, atime = excluded.atime");
	assert(k > 0 && (size_t)k < size - len);
}


/* The cached statement id (reset it after use), or NULL. */
static sqlite3_stmt *
store_bayes_stmt(struct store *store, enum store_bayes_stmt id,
    const char **error_r)
{
	char sql[STORE_BAYES_SQL_MAX];
	const char *text = store_bayes_sql[id];

	if (store->bstmts[id] != NULL)
		return store->bstmts[id];
	if (id == BSTMT_TOKEN_ADD_CHUNK) {
		store_bayes_add_sql(sql, sizeof(sql));
		text = sql;
	} else if (id == BSTMT_TOKENS_READ) {
		store_bayes_read_sql(sql, sizeof(sql));
		text = sql;
	}
	if (sqlite3_prepare_v3(store->db, text, -1, SQLITE_PREPARE_PERSISTENT,
	    &store->bstmts[id], NULL) != SQLITE_OK) {
		store_db_error(store, error_r, "prepare");
		store->bstmts[id] = NULL;
		return NULL;
	}
	return store->bstmts[id];
}

int
store_bayes_counts(struct store *store, int64_t user_id,
    const uint64_t *tokens, size_t n, struct store_bayes_read *r,
    const char **error_r)
{
	struct store_bayes_count *user;
	sqlite3_stmt *stmt = NULL;
	int rc;

	r->global_spam = r->global_ham = r->user_spam = r->user_ham = 0;
	if (n > STORE_BAYES_TOKENS_MAX) {
		store_error_set(error_r, "too many tokens");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		r->global[i].spam = r->global[i].ham = 0;
		if (r->user != NULL)
			r->user[i].spam = r->user[i].ham = 0;
	}
	/* the user's rows only for a user (user 0's are the global ones) */
	user = user_id == STORE_BAYES_GLOBAL ? NULL : r->user;
	if (store_tx_begin(store, false, error_r) < 0)
		return -1;
	if ((stmt = store_bayes_stmt(store, BSTMT_TOTALS_READ, error_r)) ==
	    NULL)
		goto fail;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			uint64_t spam = (uint64_t)sqlite3_column_int64(stmt, 1);
			uint64_t ham = (uint64_t)sqlite3_column_int64(stmt, 2);

			if (sqlite3_column_int(stmt, 0) == 0) {
				r->global_spam = spam;
				r->global_ham = ham;
			} else if (user_id != STORE_BAYES_GLOBAL) {
				r->user_spam = spam;
				r->user_ham = ham;
			}
		}
	}
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE) {
		store_db_error(store, error_r, "read bayes totals");
		goto fail;
	}
	if ((stmt = store_bayes_stmt(store, BSTMT_TOKENS_READ, error_r)) ==
	    NULL)
		goto fail;
	rc = SQLITE_DONE;
	for (size_t i = 0; i < n && rc == SQLITE_DONE; i +=
	    STORE_BAYES_READ_CHUNK) {
		sqlite3_reset(stmt);
		if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
			rc = SQLITE_ERROR;
		/* a short last chunk repeats its last token */
		for (size_t k = 0; k < STORE_BAYES_READ_CHUNK &&
		    rc == SQLITE_DONE; k++) {
			size_t j = i + k < n ? i + k : n - 1;

			if (sqlite3_bind_int64(stmt, (int)k + 2,
			    (int64_t)tokens[j]) != SQLITE_OK)
				rc = SQLITE_ERROR;
		}
		if (rc != SQLITE_DONE)
			break;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			size_t j = i + (size_t)sqlite3_column_int(stmt, 0);
			struct store_bayes_count *c;

			if (j >= n)
				continue;	/* padding */
			if (sqlite3_column_int(stmt, 1) == 0)
				c = &r->global[j];
			else if (user != NULL)
				c = &user[j];
			else
				continue;
			c->spam = (uint64_t)sqlite3_column_int64(stmt, 2);
			c->ham = (uint64_t)sqlite3_column_int64(stmt, 3);
		}
	}
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE) {
		store_db_error(store, error_r, "read bayes tokens");
		goto fail;
	}
	return store_tx_commit(store, error_r);
fail:
	store_tx_rollback(store);
	return -1;
}

/* The statements of one learn. */
struct store_bayes_tx {
	struct store *store;
	sqlite3_stmt *st[BSTMT_COUNT];
};

/* Resets the statements (they are the store's, cached). */
static void
store_bayes_tx_free(struct store_bayes_tx *tx)
{
	for (size_t i = 0; i < BSTMT_COUNT; i++)
		if (tx->st[i] != NULL)
			store_stmt_done(tx->st[i]);
}

/* Runs statement id with up to 5 integer parameters; rows are ignored. */
static int
store_bayes_run(struct store_bayes_tx *tx, enum store_bayes_stmt id,
    size_t n, const int64_t *args, const char **error_r)
{
	sqlite3_stmt *stmt = tx->st[id];
	int rc = SQLITE_OK;

	sqlite3_reset(stmt);
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_int64(stmt, (int)i + 1, args[i]);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			;
	}
	if (rc != SQLITE_DONE)
		return store_db_error(tx->store, error_r, "bayes learn");
	return 0;
}

/* Adds delta (+1 or -1) in klass to every token and to the total of
 * table user. */
static int
store_bayes_apply(struct store_bayes_tx *tx, int64_t user,
    const struct store_bayes_learn *l, int klass, int delta,
    const char **error_r)
{
	int64_t spam = klass == STORE_BAYES_SPAM ? 1 : 0;
	int64_t ham = klass == STORE_BAYES_HAM ? 1 : 0;

	size_t i = 0;

	if (delta > 0) {
		/* whole chunks in one statement, the rest one by one */
		sqlite3_stmt *stmt = tx->st[BSTMT_TOKEN_ADD_CHUNK];

		for (; l->n_tokens - i >= STORE_BAYES_CHUNK;
		    i += STORE_BAYES_CHUNK) {
			int rc = SQLITE_OK;

			sqlite3_reset(stmt);
			if (sqlite3_bind_int64(stmt, 1, user) != SQLITE_OK ||
			    sqlite3_bind_int64(stmt, 2, spam) != SQLITE_OK ||
			    sqlite3_bind_int64(stmt, 3, ham) != SQLITE_OK ||
			    sqlite3_bind_int64(stmt, 4, (int64_t)l->now) !=
			    SQLITE_OK)
				rc = SQLITE_ERROR;
			for (size_t k = 0; k < STORE_BAYES_CHUNK &&
			    rc == SQLITE_OK; k++)
				rc = sqlite3_bind_int64(stmt, (int)k + 5,
				    (int64_t)l->tokens[i + k]);
			if (rc == SQLITE_OK)
				rc = sqlite3_step(stmt);
			if (rc != SQLITE_DONE)
				return store_db_error(tx->store, error_r,
				    "bayes learn");
		}
	}
	for (; i < l->n_tokens; i++) {
		int64_t tok = (int64_t)l->tokens[i];

		if (delta > 0) {
			int64_t a[5] = { user, tok, spam, ham, (int64_t)l->now };

			if (store_bayes_run(tx, BSTMT_TOKEN_ADD, 5, a,
			    error_r) < 0)
				return -1;
		} else {
			int64_t a[4] = { user, tok, spam, ham };

			if (store_bayes_run(tx, BSTMT_TOKEN_SUB, 4, a,
			    error_r) < 0 ||
			    store_bayes_run(tx, BSTMT_TOKEN_ZERO, 2, a,
			    error_r) < 0)
				return -1;
		}
	}
	{
		int64_t a[3] = { user, spam * delta, ham * delta };

		return store_bayes_run(tx, BSTMT_TOTALS_ADD, 3, a, error_r);
	}
}

/* The class table user learnt msg_hash as: 1 with it, 0 if none, -1. */
static int
store_bayes_trained(struct store_bayes_tx *tx, int64_t user,
    uint64_t msg_hash, int *klass_r, const char **error_r)
{
	sqlite3_stmt *stmt = tx->st[BSTMT_TRAINED_GET];
	int rc;

	sqlite3_reset(stmt);
	if (sqlite3_bind_int64(stmt, 1, user) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (int64_t)msg_hash) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*klass_r = sqlite3_column_int(stmt, 0);
		sqlite3_reset(stmt);
		return 1;
	}
	if (rc != SQLITE_DONE)
		return store_db_error(tx->store, error_r, "bayes trained");
	return 0;
}

static int
store_bayes_learn_one(struct store_bayes_tx *tx, int64_t user,
    const struct store_bayes_learn *l, enum store_bayes_outcome *out_r,
    const char **error_r)
{
	int64_t key[4] = { user, (int64_t)l->msg_hash, l->klass,
	    (int64_t)l->now };
	int old = -1, rc;

	rc = store_bayes_trained(tx, user, l->msg_hash, &old, error_r);
	if (rc < 0)
		return -1;
	if (rc == 0)
		old = -1;
	if (l->klass == STORE_BAYES_FORGET) {
		if (old < 0) {
			*out_r = STORE_BAYES_UNKNOWN;
			return 0;
		}
		*out_r = STORE_BAYES_FORGOTTEN;
		if (store_bayes_apply(tx, user, l, old, -1, error_r) < 0)
			return -1;
		return store_bayes_run(tx, BSTMT_TRAINED_DEL, 2, key, error_r);
	}
	if (old == l->klass) {
		*out_r = STORE_BAYES_ALREADY;
		return 0;
	}
	*out_r = old < 0 ? STORE_BAYES_LEARNT : STORE_BAYES_RELEARNT;
	if (old >= 0 && store_bayes_apply(tx, user, l, old, -1, error_r) < 0)
		return -1;
	if (store_bayes_apply(tx, user, l, l->klass, 1, error_r) < 0)
		return -1;
	return store_bayes_run(tx, BSTMT_TRAINED_SET, 4, key, error_r);
}

/* Deletes up to max of the oldest tokens and learnt-message records
 * from before `before`; adds how many tokens to *n_r. */
static int
store_bayes_expire(struct store_bayes_tx *tx, time_t before, size_t max,
    size_t *n_r, const char **error_r)
{
	sqlite3_stmt *due = tx->st[BSTMT_EXPIRE_DUE];
	int64_t a[2] = { (int64_t)before, (int64_t)max };
	int rc;

	sqlite3_reset(due);
	if (sqlite3_bind_int64(due, 1, a[0]) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(due);
	if (rc != SQLITE_ROW)
		return store_db_error(tx->store, error_r, "bayes expire");
	if (sqlite3_column_int(due, 0) == 0) {
		sqlite3_reset(due);
		return 0;
	}
	sqlite3_reset(due);
	if (store_bayes_run(tx, BSTMT_EXPIRE_TOKENS, 2, a, error_r) < 0)
		return -1;
	*n_r += (size_t)sqlite3_changes(tx->store->db);
	return store_bayes_run(tx, BSTMT_EXPIRE_TRAINED, 2, a, error_r);
}

int
store_bayes_learn(struct store *store, struct store_bayes_learn *l,
    const char **error_r)
{
	struct store_bayes_tx tx = { .store = store };
	bool own = sqlite3_get_autocommit(store->db) != 0;
	int ret = -1;

	l->expired_r = 0;
	if (l->n_users == 0 || l->n_users > STORE_BAYES_USERS_MAX ||
	    l->n_tokens > STORE_BAYES_TOKENS_MAX ||
	    (l->n_users == 2 && l->users[0] == l->users[1]) ||
	    (l->klass != STORE_BAYES_SPAM && l->klass != STORE_BAYES_HAM &&
	    l->klass != STORE_BAYES_FORGET)) {
		store_error_set(error_r, "bad bayes learn request");
		return -1;
	}
	if (own) {
		if (store_tx_begin(store, true, error_r) < 0)
			return -1;
	} else if (store_exec_sql(store, "SAVEPOINT bayes", error_r) < 0) {
		return -1;
	}
	for (size_t i = 0; i < BSTMT_COUNT; i++) {
		tx.st[i] = store_bayes_stmt(store, (enum store_bayes_stmt)i,
		    error_r);
		if (tx.st[i] == NULL)
			goto out;
	}
	for (size_t u = 0; u < l->n_users; u++)
		if (store_bayes_learn_one(&tx, l->users[u], l,
		    &l->outcome_r[u], error_r) < 0)
			goto out;
	if (l->expire_before != 0 && l->expire_max > 0 &&
	    store_bayes_expire(&tx, l->expire_before, l->expire_max,
	    &l->expired_r, error_r) < 0)
		goto out;
	ret = 0;
out:
	store_bayes_tx_free(&tx);
	if (own) {
		if (ret == 0 && store_tx_commit(store, error_r) < 0)
			ret = -1;
		if (ret != 0)
			store_tx_rollback(store);
	} else if (ret == 0) {
		if (store_exec_sql(store, "RELEASE bayes", error_r) < 0)
			ret = -1;
	} else {
		/* keep the caller's error: this message's changes go, the
		 * batch goes on */
		const char *ignored;

		(void)store_exec_sql(store, "ROLLBACK TO bayes", &ignored);
		(void)store_exec_sql(store, "RELEASE bayes", &ignored);
	}
	return ret;
}

int
store_bayes_batch_begin(struct store *store, const char **error_r)
{
	/* A batch touches most pages of the token table, many times: with
	 * room for them all in the cache, each is written to the WAL once
	 * at the commit, not each time the cache spills. */
	if (store_exec_sql(store, "PRAGMA cache_size = -"
	    STORE_BAYES_BATCH_CACHE_KIB, error_r) < 0)
		return -1;
	return store_tx_begin(store, true, error_r);
}

int
store_bayes_batch_end(struct store *store, bool commit, const char **error_r)
{
	if (commit)
		return store_tx_commit(store, error_r) < 0 ?
		    (store_tx_rollback(store), -1) : 0;
	store_tx_rollback(store);
	return 0;
}

int
store_bayes_stats(struct store *store, int64_t user_id,
    struct store_bayes_stats *stats_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	memset(stats_r, 0, sizeof(*stats_r));
	stmt = store_stmt_once(store, "SELECT"
	    " (SELECT spam FROM bayes_totals WHERE user_id = ?1),"
	    " (SELECT ham FROM bayes_totals WHERE user_id = ?1),"
	    " (SELECT count(*) FROM bayes_tokens WHERE user_id = ?1),"
	    " (SELECT min(atime) FROM bayes_tokens WHERE user_id = ?1),"
	    " (SELECT count(*) FROM bayes_trained WHERE user_id = ?1)",
	    error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		stats_r->spam = (uint64_t)sqlite3_column_int64(stmt, 0);
		stats_r->ham = (uint64_t)sqlite3_column_int64(stmt, 1);
		stats_r->tokens = (uint64_t)sqlite3_column_int64(stmt, 2);
		stats_r->oldest = (time_t)sqlite3_column_int64(stmt, 3);
		stats_r->learnt = (uint64_t)sqlite3_column_int64(stmt, 4);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "bayes stats");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_bayes_mailbox_use(struct store *store, int64_t mailbox_id,
    char *use_r, size_t size, int64_t *user_id_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc, ret = 0;

	if (size > 0)
		use_r[0] = '\0';
	stmt = store_stmt_once(store, "SELECT user_id, special_use"
	    " FROM mailboxes WHERE id = ?1", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const unsigned char *use = sqlite3_column_text(stmt, 1);

		*user_id_r = sqlite3_column_int64(stmt, 0);
		if (use != NULL && size > 0)
			(void)snprintf(use_r, size, "%s", (const char *)use);
		ret = 1;
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		ret = store_db_error(store, error_r, "mailbox special use");
	sqlite3_finalize(stmt);
	return ret;
}

int
store_bayes_user_drop(struct store *store, int64_t user_id,
    const char **error_r)
{
	static const char *const sql[3] = {
		"DELETE FROM bayes_tokens WHERE user_id = ?1",
		"DELETE FROM bayes_totals WHERE user_id = ?1",
		"DELETE FROM bayes_trained WHERE user_id = ?1",
	};

	if (user_id == STORE_BAYES_GLOBAL)
		return 0;
	for (size_t i = 0; i < 3; i++) {
		sqlite3_stmt *stmt = store_stmt_once(store, sql[i], error_r);
		int rc;

		if (stmt == NULL)
			return -1;
		if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE)
			store_db_error(store, error_r, "bayes user drop");
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}
