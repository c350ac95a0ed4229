/*
 * store-spamlist.c - the spam filter's allow and block lists (see
 * store.h): one row per (owner, entry), owner '' for every recipient, a
 * hosted domain for its users, or one user's address.
 *
 * SECURITY: entries and owners are checked by the caller (the CLI); the
 * filter's lookups bind the sender's addresses as parameters, never as
 * SQL text.
 */
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/store-private.h"

static const char *
store_spam_kind_name(enum store_spam_list_kind kind)
{
	return kind == STORE_SPAM_ALLOW ? "allow" : "block";
}

static enum store_spam_list_kind
store_spam_kind_parse(const char *s)
{
	return s != NULL && strcmp(s, "allow") == 0 ? STORE_SPAM_ALLOW :
	    STORE_SPAM_BLOCK;
}

int
store_spam_list_add(struct store *store, const char *owner, const char *entry,
    enum store_spam_list_kind kind, time_t now, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "INSERT INTO spam_lists (owner, entry,"
	    " kind, created) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (owner, entry)"
	    " DO UPDATE SET kind = excluded.kind, created = excluded.created",
	    error_r);
	if (stmt == NULL)
		return -1;
	if (store_bind_text(stmt, 1, owner) != SQLITE_OK ||
	    store_bind_text(stmt, 2, entry) != SQLITE_OK ||
	    store_bind_text(stmt, 3, store_spam_kind_name(kind)) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (int64_t)now) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "add to the spam list");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_spam_list_del(struct store *store, const char *owner, const char *entry,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc, n = 0;

	stmt = store_stmt_once(store, "DELETE FROM spam_lists"
	    " WHERE owner = ?1 AND entry = ?2 RETURNING id", error_r);
	if (stmt == NULL)
		return -1;
	if (store_bind_text(stmt, 1, owner) != SQLITE_OK ||
	    store_bind_text(stmt, 2, entry) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			n++;
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "delete from the spam list");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? n > 0 : -1;
}

int
store_spam_list_list(struct store *store, const char *owner,
    int (*cb)(void *ctx, const char *owner, const char *entry,
    enum store_spam_list_kind kind, time_t created), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "SELECT owner, entry, kind, created"
	    " FROM spam_lists WHERE ?1 IS NULL OR owner = ?1"
	    " ORDER BY owner, entry", error_r);
	if (stmt == NULL)
		return -1;
	if (store_bind_text(stmt, 1, owner) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			const char *o = (const char *)sqlite3_column_text(stmt,
			    0);
			const char *e = (const char *)sqlite3_column_text(stmt,
			    1);
			const char *k = (const char *)sqlite3_column_text(stmt,
			    2);

			if (cb(ctx, o != NULL ? o : "", e != NULL ? e : "",
			    store_spam_kind_parse(k),
			    (time_t)sqlite3_column_int64(stmt, 3)) < 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list the spam lists");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_spam_list_match(struct store *store, const char *const *entries,
    size_t n, void (*cb)(void *ctx, const char *owner, const char *entry,
    enum store_spam_list_kind kind), void *ctx, const char **error_r)
{
	char sql[256 + STORE_SPAM_LIST_MATCH_MAX * 8];
	sqlite3_stmt *stmt;
	size_t len;
	int rc = SQLITE_OK;

	if (n > STORE_SPAM_LIST_MATCH_MAX)
		n = STORE_SPAM_LIST_MATCH_MAX;
	if (n == 0)
		return 0;
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT owner, entry, kind"
	    " FROM spam_lists WHERE entry IN (?1");
	for (size_t i = 1; i < n; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, ", ?%zu",
		    i + 1);
	(void)snprintf(sql + len, sizeof(sql) - len, ")");
	if ((stmt = store_stmt_once(store, sql, error_r)) == NULL)
		return -1;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
		rc = store_bind_text(stmt, (int)i + 1, entries[i]);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			const char *o = (const char *)sqlite3_column_text(stmt,
			    0);
			const char *e = (const char *)sqlite3_column_text(stmt,
			    1);
			const char *k = (const char *)sqlite3_column_text(stmt,
			    2);

			cb(ctx, o != NULL ? o : "", e != NULL ? e : "",
			    store_spam_kind_parse(k));
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "match the spam lists");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}
