/*
 * store-mailbox.c - the embedded store backend, IMAP side: mailboxes by
 * user id (create, delete, rename, subscriptions, state with counts),
 * change scans for sessions, message scans for FETCH, and the writes of
 * STORE, EXPUNGE, COPY and MOVE.
 *
 * RFC 9051 (IMAP4rev2) mailbox naming and 6.3.x semantics, RFC 7162
 * (CONDSTORE/QRESYNC: every change takes a new MODSEQ, expunged UIDs are
 * kept with theirs), RFC 4315 (UIDPLUS: COPYUID), RFC 6851 (MOVE).
 *
 * Mailbox names are UTF-8 with "/" as the hierarchy separator; the first
 * level "INBOX" is case-insensitive and kept as "INBOX".
 *
 * SECURITY: names and keywords come from IMAP clients. Names are checked
 * (UTF-8, no controls, no empty, "." or ".." levels, limits) before they
 * reach the database, and only ever bound as parameters; a user id scopes
 * every query, so no name can reach another user's mailboxes.
 */
#include "store/store-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/utf8.h"
#include "core/xalloc.h"

#define MAILBOX_STATE_COLUMNS \
	"SELECT mb.id, mb.name, mb.special_use, mb.uidvalidity, mb.uidnext," \
	" mb.highestmodseq, count(m.id)," \
	" coalesce(sum((m.flags & 1) = 0), 0)," \
	" coalesce(sum((m.flags & 8) <> 0), 0)," \
	" coalesce(sum(m.size), 0)," \
	" EXISTS (SELECT 1 FROM subscriptions s" \
	"  WHERE s.user_id = mb.user_id AND s.name = mb.name)" \
	" FROM mailboxes mb LEFT JOIN messages m ON m.mailbox_id = mb.id "

static const char *const store_mstmt_sql[MSTMT_COUNT] = {
	[MSTMT_MAILBOX_GET] = MAILBOX_STATE_COLUMNS
	    "WHERE mb.user_id = ?1 AND mb.name = ?2 GROUP BY mb.id",
	[MSTMT_MAILBOX_FIND] =
	    "SELECT id, name, special_use, uidvalidity, uidnext,"
	    " highestmodseq FROM mailboxes WHERE user_id = ?1 AND name = ?2",
	[MSTMT_MAILBOX_STATE] =
	    "SELECT id, name, special_use, uidvalidity, uidnext,"
	    " highestmodseq FROM mailboxes WHERE id = ?1",
	[MSTMT_CHANGES] =
	    "SELECT uid, flags, keywords, modseq FROM messages"
	    " WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
	[MSTMT_EXPUNGED] =
	    "SELECT uid, modseq FROM expunged"
	    " WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
	[MSTMT_SCAN] =
	    "SELECT m.uid, m.flags, m.keywords, m.modseq, m.size,"
	    " m.internal_date, r.envelope, r.body, r.bodystructure, b.name"
	    " FROM messages m JOIN blobs b ON b.id = m.blob_id"
	    " LEFT JOIN blob_render r ON r.blob_id = m.blob_id"
	    " WHERE m.mailbox_id = ?1 AND m.uid BETWEEN ?2 AND ?3"
	    " ORDER BY m.uid",
	[MSTMT_SCAN_FLAGS] =
	    "SELECT uid, flags, keywords, modseq, size, internal_date,"
	    " NULL, NULL, NULL, NULL FROM messages"
	    " WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
	[MSTMT_MODSEQ_NEXT] =
	    "UPDATE mailboxes SET highestmodseq = highestmodseq + 1"
	    " WHERE id = ?1 RETURNING highestmodseq",
	[MSTMT_FLAGS_SET] =
	    "UPDATE messages SET flags = ?3, keywords = ?4, modseq = ?5"
	    " WHERE mailbox_id = ?1 AND uid = ?2",
};

/* Each mailbox_state row's strings are copied here, so that they stay
 * valid after the statement is reset (until the next call). */
static __thread char mailbox_name_buf[STORE_MAILBOX_NAME_MAX + 1];
static __thread char mailbox_special_buf[64];

static sqlite3_stmt *
store_mstmt(struct store *store, enum store_mstmt id, const char **error_r)
{
	if (store->mstmts[id] == NULL &&
	    sqlite3_prepare_v3(store->db, store_mstmt_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &store->mstmts[id], NULL) !=
	    SQLITE_OK) {
		store_db_error(store, error_r, "prepare");
		store->mstmts[id] = NULL;
		return NULL;
	}
	return store->mstmts[id];
}

/* --- names --- */

/*
 * Checks a mailbox name and returns it normalised (first level INBOX in
 * upper case) in a malloc'd string. Returns 0, STORE_E_INVALID or
 * STORE_E_LIMIT.
 */
static int
store_mailbox_name_check(const char *name, char **norm_r,
    const char **error_r)
{
	size_t len = strlen(name), levels = 1, start = 0;
	char *norm;

	*norm_r = NULL;
	if (len == 0) {
		store_error_set(error_r, "empty mailbox name");
		return STORE_E_INVALID;
	}
	if (len > STORE_MAILBOX_NAME_MAX) {
		store_error_set(error_r, "mailbox name too long");
		return STORE_E_LIMIT;
	}
	if (!utf8_valid(name, len)) {
		store_error_set(error_r, "mailbox name is not UTF-8");
		return STORE_E_INVALID;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i < len && (c < 0x20 || c == 0x7f || c == '*' ||
		    c == '%')) {
			store_error_set(error_r, "invalid character in "
			    "mailbox name");
			return STORE_E_INVALID;
		}
		if (i < len && c != '/')
			continue;
		/* a level ends at i */
		if (i == start || (i - start == 1 && name[start] == '.') ||
		    (i - start == 2 && name[start] == '.' &&
		    name[start + 1] == '.')) {
			store_error_set(error_r, "empty, . or .. level in "
			    "mailbox name");
			return STORE_E_INVALID;
		}
		if (i < len && ++levels > STORE_MAILBOX_LEVELS_MAX) {
			store_error_set(error_r, "mailbox name too deep");
			return STORE_E_LIMIT;
		}
		start = i + 1;
	}
	norm = xstrdup(name);
	if (strncasecmp(norm, "INBOX", 5) == 0 &&
	    (norm[5] == '\0' || norm[5] == '/'))
		memcpy(norm, "INBOX", 5);
	*norm_r = norm;
	return 0;
}

/* The name for a lookup: normalised if valid, else as given (it then
 * matches nothing). Returns a malloc'd string. */
static char *
store_mailbox_lookup_name(const char *name)
{
	const char *ignored;
	char *norm;

	if (store_mailbox_name_check(name, &norm, &ignored) != 0)
		return xstrdup(name);
	return norm;
}

/* --- reading --- */

static void
store_mailbox_state_read(sqlite3_stmt *stmt, bool counts,
    struct store_mailbox_state *mb)
{
	const char *name = (const char *)sqlite3_column_text(stmt, 1);
	const char *special = (const char *)sqlite3_column_text(stmt, 2);

	memset(mb, 0, sizeof(*mb));
	mb->id = sqlite3_column_int64(stmt, 0);
	(void)snprintf(mailbox_name_buf, sizeof(mailbox_name_buf), "%s",
	    name != NULL ? name : "");
	mb->name = mailbox_name_buf;
	if (special != NULL) {
		(void)snprintf(mailbox_special_buf,
		    sizeof(mailbox_special_buf), "%s", special);
		mb->special_use = mailbox_special_buf;
	}
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 3);
	mb->uidnext = (uint32_t)sqlite3_column_int64(stmt, 4);
	mb->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 5);
	if (!counts)
		return;
	mb->messages = (uint64_t)sqlite3_column_int64(stmt, 6);
	mb->unseen = (uint64_t)sqlite3_column_int64(stmt, 7);
	mb->deleted = (uint64_t)sqlite3_column_int64(stmt, 8);
	mb->bytes = (uint64_t)sqlite3_column_int64(stmt, 9);
	mb->subscribed = sqlite3_column_int(stmt, 10) != 0;
}

int
store_mailbox_list_user(struct store *store, int64_t user_id,
    int (*cb)(void *ctx, const struct store_mailbox_state *mb), void *ctx,
    const char **error_r)
{
	struct store_mailbox_state mb;
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, MAILBOX_STATE_COLUMNS
	    "WHERE mb.user_id = ?1 GROUP BY mb.id ORDER BY mb.name", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			store_mailbox_state_read(stmt, true, &mb);
			if (cb(ctx, &mb) != 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list mailboxes");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
store_mailbox_by_name(struct store *store, int64_t user_id, const char *name,
    bool counts, struct store_mailbox_state *mb_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	char *lookup = store_mailbox_lookup_name(name);
	int rc;

	if ((stmt = store_mstmt(store, counts ? MSTMT_MAILBOX_GET :
	    MSTMT_MAILBOX_FIND, error_r)) == NULL) {
		free(lookup);
		return -1;
	}
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, lookup) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		store_mailbox_state_read(stmt, counts, mb_r);
	else if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "look up mailbox");
	store_stmt_done(stmt);
	free(lookup);
	if (rc == SQLITE_DONE) {
		store_error_set(error_r, "no such mailbox");
		return STORE_E_NOTFOUND;
	}
	return rc == SQLITE_ROW ? 0 : -1;
}

int
store_mailbox_get(struct store *store, int64_t user_id, const char *name,
    struct store_mailbox_state *mb_r, const char **error_r)
{
	return store_mailbox_by_name(store, user_id, name, true, mb_r,
	    error_r);
}

int
store_mailbox_find(struct store *store, int64_t user_id, const char *name,
    struct store_mailbox_state *mb_r, const char **error_r)
{
	return store_mailbox_by_name(store, user_id, name, false, mb_r,
	    error_r);
}

int
store_mailbox_changes(struct store *store, int64_t mailbox_id,
    uint64_t since_modseq, struct store_mailbox_state *mb_r,
    void (*on_message)(void *ctx, const struct store_message_flags *m),
    void (*on_expunged)(void *ctx, uint32_t uid, uint64_t modseq),
    void *ctx, const char **error_r)
{
	struct store_message_flags m;
	sqlite3_stmt *stmt;
	int rc, ret = -1;

	/* One read transaction: the state and the rows agree. */
	if (store_tx_begin(store, false, error_r) < 0)
		return -1;
	if ((stmt = store_mstmt(store, MSTMT_MAILBOX_STATE, error_r)) == NULL)
		goto out;
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		store_mailbox_state_read(stmt, false, mb_r);
	else if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "read mailbox");
	store_stmt_done(stmt);
	if (rc == SQLITE_DONE) {
		store_error_set(error_r, "mailbox was deleted");
		ret = STORE_E_NOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	if (since_modseq >= mb_r->highestmodseq) {
		ret = 0;	/* nothing changed: the common case */
		goto out;
	}

	if (on_message != NULL) {
		if ((stmt = store_mstmt(store, MSTMT_CHANGES, error_r)) == NULL)
			goto out;
		if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 2, (int64_t)since_modseq) !=
		    SQLITE_OK) {
			rc = SQLITE_ERROR;
		} else {
			while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
				const char *kw = (const char *)
				    sqlite3_column_text(stmt, 2);

				m.uid = (uint32_t)sqlite3_column_int64(stmt, 0);
				m.flags = (unsigned)sqlite3_column_int64(stmt,
				    1);
				m.keywords = kw != NULL ? kw : "";
				m.modseq = (uint64_t)sqlite3_column_int64(stmt,
				    3);
				on_message(ctx, &m);
			}
		}
		if (rc != SQLITE_DONE)
			store_db_error(store, error_r, "read changes");
		store_stmt_done(stmt);
		if (rc != SQLITE_DONE)
			goto out;
	}
	if (on_expunged != NULL && since_modseq > 0) {
		if ((stmt = store_mstmt(store, MSTMT_EXPUNGED,
		    error_r)) == NULL)
			goto out;
		if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 2, (int64_t)since_modseq) !=
		    SQLITE_OK) {
			rc = SQLITE_ERROR;
		} else {
			while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
				on_expunged(ctx,
				    (uint32_t)sqlite3_column_int64(stmt, 0),
				    (uint64_t)sqlite3_column_int64(stmt, 1));
		}
		if (rc != SQLITE_DONE)
			store_db_error(store, error_r, "read expunges");
		store_stmt_done(stmt);
		if (rc != SQLITE_DONE)
			goto out;
	}
	ret = 0;
out:
	if (ret == 0 && store_tx_commit(store, error_r) < 0)
		ret = -1;
	if (ret != 0)
		store_tx_rollback(store);
	return ret;
}

int
store_message_scan(struct store *store, int64_t mailbox_id,
    const uint32_t *ranges, size_t n_ranges, bool full,
    int (*cb)(void *ctx, const struct store_message_meta *m), void *ctx,
    const char **error_r)
{
	struct store_message_meta m;
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE;

	/* Each range is one indexed range scan; the statement is reset
	 * between ranges so that no snapshot is held across them. */
	for (size_t r = 0; r < n_ranges && rc == SQLITE_DONE; r++) {
		if ((stmt = store_mstmt(store, full ? MSTMT_SCAN :
		    MSTMT_SCAN_FLAGS, error_r)) == NULL)
			return -1;
		if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 2, ranges[2 * r]) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 3, ranges[2 * r + 1]) !=
		    SQLITE_OK) {
			rc = SQLITE_ERROR;
		} else {
			while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
				const char *kw = (const char *)
				    sqlite3_column_text(stmt, 2);
				const char *blob = (const char *)
				    sqlite3_column_text(stmt, 9);

				memset(&m, 0, sizeof(m));
				m.uid = (uint32_t)sqlite3_column_int64(stmt, 0);
				m.flags = (unsigned)sqlite3_column_int64(stmt,
				    1);
				m.keywords = kw != NULL ? kw : "";
				m.modseq = (uint64_t)sqlite3_column_int64(stmt,
				    3);
				m.size = (uint64_t)sqlite3_column_int64(stmt, 4);
				m.internal_date = (time_t)sqlite3_column_int64(
				    stmt, 5);
				m.envelope = (const char *)sqlite3_column_text(
				    stmt, 6);
				m.body = (const char *)sqlite3_column_text(stmt,
				    7);
				m.bodystructure = (const char *)
				    sqlite3_column_text(stmt, 8);
				if (blob != NULL)
					(void)snprintf(m.blob, sizeof(m.blob),
					    "%s", blob);
				if (cb(ctx, &m) != 0) {
					rc = SQLITE_DONE;
					r = n_ranges;
					break;
				}
			}
		}
		if (rc != SQLITE_DONE)
			store_db_error(store, error_r, "scan messages");
		store_stmt_done(stmt);
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_message_sizes(struct store *store, int64_t mailbox_id,
    int (*cb)(void *ctx, uint32_t uid, uint64_t size), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	/* the (mailbox_id, uid) index gives the order; no other column or
	 * table is read, unlike store_message_scan */
	stmt = store_stmt_once(store, "SELECT uid, size FROM messages"
	    " WHERE mailbox_id = ?1 ORDER BY uid", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (cb(ctx, (uint32_t)sqlite3_column_int64(stmt, 0),
			    (uint64_t)sqlite3_column_int64(stmt, 1)) != 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list message sizes");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_message_meta_open(struct store *store,
    const struct store_message_meta *m, int *fd_r, const char **error_r)
{
	/* names are ours, but the database is on disk: check */
	if (strlen(m->blob) != STORE_BLOB_NAME_SIZE - 1 ||
	    strspn(m->blob, "0123456789abcdef") != STORE_BLOB_NAME_SIZE - 1) {
		store_error_set(error_r, "bad blob name in database");
		return -1;
	}
	return store_blob_open(store, m->blob, m->size, fd_r, error_r);
}

/* --- writing: helpers --- */

/* Takes the next MODSEQ of a mailbox (in a write transaction): 1 with
 * it, 0 if the mailbox is gone, -1. */
static int
store_modseq_next(struct store *store, int64_t mailbox_id,
    uint64_t *modseq_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_mstmt(store, MSTMT_MODSEQ_NEXT, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*modseq_r = (uint64_t)sqlite3_column_int64(stmt, 0);
	else if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "next modseq");
	store_stmt_done(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		store_error_set(error_r, "no such mailbox");
		return 0;
	}
	return -1;
}

/* Runs a one-shot statement with int64 parameters, ignoring rows. */
static int
store_exec_ints(struct store *store, const char *sql, const int64_t *args,
    size_t n, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = SQLITE_OK;

	if ((stmt = store_stmt_once(store, sql, error_r)) == NULL)
		return -1;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_int64(stmt, (int)i + 1, args[i]);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			;
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, sql);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Does the user have a mailbox called name? 1, 0 or -1. */
static int
store_mailbox_exists(struct store *store, int64_t user_id, const char *name,
    int64_t *id_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "SELECT id FROM mailboxes"
	    " WHERE user_id = ?1 AND name = ?2", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, name) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && id_r != NULL)
		*id_r = sqlite3_column_int64(stmt, 0);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_db_error(store, error_r, "look up mailbox");
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Does the user have a mailbox below name ("name/...")? 1, 0 or -1. */
static int
store_mailbox_has_inferiors(struct store *store, int64_t user_id,
    const char *name, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	/* "/" + 1 == "0": the range holds exactly the names "name/..." */
	stmt = store_stmt_once(store, "SELECT 1 FROM mailboxes"
	    " WHERE user_id = ?1 AND name > ?2 || '/' AND name < ?2 || '0'"
	    " LIMIT 1", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, name) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_db_error(store, error_r, "look up inferiors");
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
store_mailbox_count(struct store *store, int64_t user_id, int64_t *n_r,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "SELECT count(*) FROM mailboxes"
	    " WHERE user_id = ?1", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*n_r = sqlite3_column_int64(stmt, 0);
	else
		store_db_error(store, error_r, "count mailboxes");
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Creates name and its missing superiors (in a write transaction).
 * Returns 0, STORE_E_EXISTS (name itself exists), STORE_E_LIMIT or -1.
 */
static int
store_mailbox_create_levels(struct store *store, int64_t user_id,
    char *name, const char *special_use, const char **error_r)
{
	int64_t count;
	int rc;

	rc = store_mailbox_exists(store, user_id, name, NULL, error_r);
	if (rc != 0) {
		if (rc > 0) {
			store_error_set(error_r, "mailbox exists");
			return STORE_E_EXISTS;
		}
		return -1;
	}
	if (store_mailbox_count(store, user_id, &count, error_r) < 0)
		return -1;
	/* Superiors first, each at its "/": name is cut there in place. */
	for (char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		rc = store_mailbox_exists(store, user_id, name, NULL, error_r);
		if (rc == 0) {
			if (count >= STORE_MAILBOXES_MAX)
				rc = -2;
			else if (store_mailbox_insert(store, user_id, name,
			    NULL, error_r) < 0)
				rc = -1;
			count++;
		}
		*p = '/';
		if (rc == -2) {
			store_error_set(error_r, "too many mailboxes");
			return STORE_E_LIMIT;
		}
		if (rc < 0)
			return -1;
	}
	if (count >= STORE_MAILBOXES_MAX) {
		store_error_set(error_r, "too many mailboxes");
		return STORE_E_LIMIT;
	}
	return store_mailbox_insert(store, user_id, name, special_use,
	    error_r);
}

/* Ends a write: commits if ret is 0, else rolls back. */
static int
store_write_end(struct store *store, int ret, const char **error_r)
{
	if (ret == 0 && store_tx_commit(store, error_r) < 0)
		ret = -1;
	if (ret != 0)
		store_tx_rollback(store);
	return ret;
}

/* --- mailboxes --- */

int
store_mailbox_create(struct store *store, int64_t user_id, const char *name,
    const char *special_use, const char **error_r)
{
	char *norm;
	int ret;

	if ((ret = store_mailbox_name_check(name, &norm, error_r)) != 0)
		return ret;
	if (store_tx_begin(store, true, error_r) < 0) {
		free(norm);
		return -1;
	}
	ret = store_mailbox_create_levels(store, user_id, norm, special_use,
	    error_r);
	ret = store_write_end(store, ret, error_r);
	free(norm);
	return ret;
}

int
store_mailbox_delete(struct store *store, int64_t user_id, const char *name,
    const char **error_r)
{
	struct store_names unused = { 0 };
	sqlite3_stmt *stmt;
	int64_t mailbox_id, *blob_ids = NULL;
	size_t n_blobs = 0, cap = 0;
	char *norm = store_mailbox_lookup_name(name);
	int rc, ret = -1;

	if (strcmp(norm, STORE_MAILBOX_INBOX) == 0) {
		free(norm);
		store_error_set(error_r, "INBOX cannot be deleted");
		return STORE_E_INVALID;
	}
	if (store_tx_begin(store, true, error_r) < 0) {
		free(norm);
		return -1;
	}
	rc = store_mailbox_exists(store, user_id, norm, &mailbox_id, error_r);
	if (rc <= 0) {
		if (rc == 0) {
			store_error_set(error_r, "no such mailbox");
			ret = STORE_E_NOTFOUND;
		}
		goto out;
	}
	rc = store_mailbox_has_inferiors(store, user_id, norm, error_r);
	if (rc != 0) {
		if (rc > 0) {
			store_error_set(error_r, "mailbox has inferiors, "
			    "delete them first");
			ret = STORE_E_INVALID;
		}
		goto out;
	}
	stmt = store_stmt_once(store, "SELECT DISTINCT blob_id FROM messages"
	    " WHERE mailbox_id = ?1", error_r);
	if (stmt == NULL)
		goto out;
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (n_blobs == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				blob_ids = xrealloc(blob_ids,
				    cap * sizeof(*blob_ids));
			}
			blob_ids[n_blobs++] = sqlite3_column_int64(stmt, 0);
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list mailbox blobs");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		goto out;
	/* messages and expunged rows go with it (ON DELETE CASCADE) */
	if (store_exec_ints(store, "DELETE FROM mailboxes WHERE id = ?1",
	    &mailbox_id, 1, error_r) < 0)
		goto out;
	if (store_blobs_release(store, blob_ids, n_blobs, &unused,
	    error_r) < 0)
		goto out;
	ret = 0;
out:
	ret = store_write_end(store, ret, error_r);
	if (ret == 0) {
		for (size_t i = 0; i < unused.count; i++)
			store_blob_unlink(store, unused.names[i]);
	}
	store_names_free(&unused);
	free(blob_ids);
	free(norm);
	return ret;
}

/* RENAME INBOX: its messages move to a new mailbox `to`, keeping their
 * UIDs (the new mailbox has a new UIDVALIDITY); INBOX records them as
 * expunged (RFC 9051 6.3.6). In a write transaction. */
static int
store_mailbox_rename_inbox(struct store *store, int64_t user_id,
    char *to, const char **error_r)
{
	int64_t inbox_id, to_id, args[3];
	uint64_t modseq;
	int rc;

	rc = store_mailbox_exists(store, user_id, STORE_MAILBOX_INBOX,
	    &inbox_id, error_r);
	if (rc <= 0) {
		if (rc == 0) {
			store_error_set(error_r, "no INBOX");
			return STORE_E_NOTFOUND;
		}
		return -1;
	}
	if ((rc = store_mailbox_create_levels(store, user_id, to, NULL,
	    error_r)) != 0)
		return rc;
	if (store_mailbox_exists(store, user_id, to, &to_id, error_r) <= 0)
		return -1;
	if (store_modseq_next(store, inbox_id, &modseq, error_r) <= 0)
		return -1;
	args[0] = inbox_id;
	args[1] = to_id;
	args[2] = (int64_t)modseq;
	if (store_exec_ints(store,
	    "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)"
	    " SELECT ?1, uid, ?3 FROM messages WHERE mailbox_id = ?1",
	    args, 3, error_r) < 0 ||
	    store_exec_ints(store,
	    "UPDATE mailboxes SET uidnext = (SELECT uidnext FROM mailboxes"
	    " WHERE id = ?1), highestmodseq = (SELECT highestmodseq"
	    " FROM mailboxes WHERE id = ?1) WHERE id = ?2", args, 2,
	    error_r) < 0 ||
	    store_exec_ints(store,
	    "UPDATE messages SET mailbox_id = ?2 WHERE mailbox_id = ?1",
	    args, 2, error_r) < 0)
		return -1;
	return 0;
}

/* Would the inferiors of from, renamed under a name of to_len bytes, keep
 * names of at most STORE_MAILBOX_NAME_MAX bytes? 0, STORE_E_LIMIT, -1. */
static int
store_rename_inferiors_fit(struct store *store, int64_t user_id,
    const char *from, size_t to_len, const char **error_r)
{
	sqlite3_stmt *stmt;
	int64_t longest = 0;
	int rc;

	stmt = store_stmt_once(store, "SELECT max(length(CAST(name AS BLOB)))"
	    " FROM mailboxes WHERE user_id = ?1"
	    " AND name > ?2 || '/' AND name < ?2 || '0'", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, from) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		longest = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "measure inferiors");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return -1;
	if (longest > 0 && (uint64_t)longest - strlen(from) + to_len >
	    STORE_MAILBOX_NAME_MAX) {
		store_error_set(error_r, "an inferior's new name would be "
		    "too long");
		return STORE_E_LIMIT;
	}
	return 0;
}

int
store_mailbox_rename(struct store *store, int64_t user_id, const char *from,
    const char *to, const char **error_r)
{
	sqlite3_stmt *stmt;
	char *from_norm = store_mailbox_lookup_name(from), *to_norm = NULL;
	size_t from_len = strlen(from_norm);
	int64_t from_id;
	int rc, ret;

	if ((ret = store_mailbox_name_check(to, &to_norm, error_r)) != 0)
		goto done;
	if (strcmp(to_norm, STORE_MAILBOX_INBOX) == 0 ||
	    strcmp(to_norm, from_norm) == 0) {
		store_error_set(error_r, "mailbox exists");
		ret = STORE_E_EXISTS;
		goto done;
	}
	if (strncmp(to_norm, from_norm, from_len) == 0 &&
	    to_norm[from_len] == '/') {
		store_error_set(error_r, "cannot rename a mailbox into "
		    "itself");
		ret = STORE_E_INVALID;
		goto done;
	}
	if (store_tx_begin(store, true, error_r) < 0) {
		ret = -1;
		goto done;
	}
	if (strcmp(from_norm, STORE_MAILBOX_INBOX) == 0) {
		ret = store_mailbox_rename_inbox(store, user_id, to_norm,
		    error_r);
		ret = store_write_end(store, ret, error_r);
		goto done;
	}
	ret = -1;
	rc = store_mailbox_exists(store, user_id, from_norm, &from_id,
	    error_r);
	if (rc <= 0) {
		if (rc == 0) {
			store_error_set(error_r, "no such mailbox");
			ret = STORE_E_NOTFOUND;
		}
		goto out;
	}
	rc = store_mailbox_exists(store, user_id, to_norm, NULL, error_r);
	if (rc != 0) {
		if (rc > 0) {
			store_error_set(error_r, "mailbox exists");
			ret = STORE_E_EXISTS;
		}
		goto out;
	}
	/* The inferiors' new names must stay within the name limit. */
	if ((rc = store_rename_inferiors_fit(store, user_id, from_norm,
	    strlen(to_norm), error_r)) != 0) {
		ret = rc;
		goto out;
	}
	/* The mailbox and its inferiors, and their subscriptions (substr
	 * of a BLOB counts bytes, of TEXT characters: ?4 is in bytes). A
	 * renamed inferior that collides with an existing name violates
	 * UNIQUE (user_id, name): then nothing is renamed. */
	for (int table = 0; table < 2; table++) {
		stmt = store_stmt_once(store, table == 0 ?
		    "UPDATE mailboxes SET name = ?3 ||"
		    " CAST(substr(CAST(name AS BLOB), ?4) AS TEXT)"
		    " WHERE user_id = ?1 AND (name = ?2 OR"
		    " (name > ?2 || '/' AND name < ?2 || '0'))" :
		    "UPDATE OR REPLACE subscriptions"
		    " SET name = ?3 ||"
		    " CAST(substr(CAST(name AS BLOB), ?4) AS TEXT)"
		    " WHERE user_id = ?1 AND (name = ?2 OR"
		    " (name > ?2 || '/' AND name < ?2 || '0'))", error_r);
		if (stmt == NULL)
			goto out;
		if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
		    store_bind_text(stmt, 2, from_norm) != SQLITE_OK ||
		    store_bind_text(stmt, 3, to_norm) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 4, (int64_t)from_len + 1) !=
		    SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		if (rc == SQLITE_CONSTRAINT) {
			store_error_set(error_r, "an inferior's new name "
			    "exists");
			ret = STORE_E_EXISTS;
		} else if (rc != SQLITE_DONE) {
			store_db_error(store, error_r, "rename mailbox");
		}
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE)
			goto out;
	}
	/* the superiors of the new name, within the mailbox limit */
	for (char *p = strchr(to_norm, '/'); p != NULL;
	    p = strchr(p + 1, '/')) {
		int64_t count;

		*p = '\0';
		rc = store_mailbox_exists(store, user_id, to_norm, NULL,
		    error_r);
		if (rc == 0 && store_mailbox_count(store, user_id, &count,
		    error_r) < 0)
			rc = -1;
		else if (rc == 0 && count >= STORE_MAILBOXES_MAX) {
			store_error_set(error_r, "too many mailboxes");
			ret = STORE_E_LIMIT;
			rc = -1;
		} else if (rc == 0 && store_mailbox_insert(store, user_id,
		    to_norm, NULL, error_r) < 0)
			rc = -1;
		*p = '/';
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	ret = store_write_end(store, ret, error_r);
done:
	free(from_norm);
	free(to_norm);
	return ret;
}

int
store_subscription_set(struct store *store, int64_t user_id,
    const char *name, bool subscribed, const char **error_r)
{
	sqlite3_stmt *stmt;
	char *norm = NULL;
	int64_t count = 0;
	int rc, ret;

	if (subscribed) {
		if ((ret = store_mailbox_name_check(name, &norm,
		    error_r)) != 0)
			return ret;
	} else {
		norm = store_mailbox_lookup_name(name);
	}
	if (store_tx_begin(store, true, error_r) < 0) {
		free(norm);
		return -1;
	}
	ret = -1;
	if (subscribed) {
		stmt = store_stmt_once(store, "SELECT count(*) FROM"
		    " subscriptions WHERE user_id = ?1", error_r);
		if (stmt == NULL)
			goto out;
		if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			count = sqlite3_column_int64(stmt, 0);
		else
			store_db_error(store, error_r, "count subscriptions");
		sqlite3_finalize(stmt);
		if (rc != SQLITE_ROW)
			goto out;
		if (count >= STORE_SUBSCRIPTIONS_MAX) {
			store_error_set(error_r, "too many subscriptions");
			ret = STORE_E_LIMIT;
			goto out;
		}
	}
	stmt = store_stmt_once(store, subscribed ?
	    "INSERT OR IGNORE INTO subscriptions (user_id, name)"
	    " VALUES (?1, ?2)" :
	    "DELETE FROM subscriptions WHERE user_id = ?1 AND name = ?2",
	    error_r);
	if (stmt == NULL)
		goto out;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, norm) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "subscribe");
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		ret = 0;
out:
	ret = store_write_end(store, ret, error_r);
	free(norm);
	return ret;
}

int
store_subscription_list(struct store *store, int64_t user_id,
    int (*cb)(void *ctx, const char *name), void *ctx, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "SELECT name FROM subscriptions"
	    " WHERE user_id = ?1 ORDER BY name", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (cb(ctx, (const char *)sqlite3_column_text(stmt,
			    0)) != 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list subscriptions");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* --- flags --- */

/* Keywords are compared case-insensitively (RFC 9051 2.3.2). */
static bool
store_keyword_in(const char *list, const char *kw, size_t kw_len)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == kw_len && strncasecmp(p, kw, n) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static int
store_keyword_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Applies mode with keywords `change` to `old`, writing the sorted result
 * to out (a malloc'd string). Returns 0, or STORE_E_LIMIT if the result
 * would have more than STORE_KEYWORDS_MAX keywords.
 */
static int
store_keywords_apply(const char *old, const char *change,
    enum store_flags_mode mode, char **out_r)
{
	const char *words[2 * STORE_KEYWORDS_MAX + 2];
	size_t lens[2 * STORE_KEYWORDS_MAX + 2];
	size_t n = 0, total = 0;
	char *buf, *w;
	const char *src[2] = { mode == STORE_FLAGS_REPLACE ? "" : old,
	    mode == STORE_FLAGS_REMOVE ? "" : change };

	*out_r = NULL;
	for (int s = 0; s < 2; s++) {
		const char *p = src[s];

		p += strspn(p, " ");
		while (*p != '\0') {
			size_t len = strcspn(p, " ");
			bool dup = false;

			for (size_t i = 0; i < n && !dup; i++)
				dup = lens[i] == len &&
				    strncasecmp(words[i], p, len) == 0;
			if (!dup && !(mode == STORE_FLAGS_REMOVE &&
			    store_keyword_in(change, p, len))) {
				if (n == STORE_KEYWORDS_MAX)
					return STORE_E_LIMIT;
				words[n] = p;
				lens[n++] = len;
				total += len + 1;
			}
			p += len;
			p += strspn(p, " ");
		}
	}
	/* copy out as NUL-terminated words, sort, join */
	buf = xmalloc(total + 1);
	w = buf;
	{
		char *ptrs[2 * STORE_KEYWORDS_MAX + 2];

		for (size_t i = 0; i < n; i++) {
			memcpy(w, words[i], lens[i]);
			w[lens[i]] = '\0';
			ptrs[i] = w;
			w += lens[i] + 1;
		}
		qsort(ptrs, n, sizeof(ptrs[0]), store_keyword_cmp);
		*out_r = xmalloc(total + 1);
		(*out_r)[0] = '\0';
		w = *out_r;
		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(ptrs[i]);

			if (i > 0)
				*w++ = ' ';
			memcpy(w, ptrs[i], len);
			w += len;
		}
		*w = '\0';
	}
	free(buf);
	return 0;
}

struct store_flag_row {
	uint32_t uid;
	unsigned flags;
	char *keywords;
	uint64_t modseq;
};

/* Reads uid, flags, keywords, modseq (and blob_id into ids) of the
 * messages in ranges. */
static int
store_rows_read(struct store *store, int64_t mailbox_id,
    const uint32_t *ranges, size_t n_ranges, struct store_flag_row **rows_r,
    int64_t **blob_ids_r, size_t *n_r, const char **error_r)
{
	struct store_flag_row *rows = NULL;
	int64_t *blob_ids = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE;

	stmt = store_stmt_once(store, "SELECT uid, flags, keywords, modseq,"
	    " blob_id FROM messages WHERE mailbox_id = ?1"
	    " AND uid BETWEEN ?2 AND ?3 ORDER BY uid", error_r);
	if (stmt == NULL)
		return -1;
	for (size_t r = 0; r < n_ranges && rc == SQLITE_DONE; r++) {
		sqlite3_reset(stmt);
		if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 2, ranges[2 * r]) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 3, ranges[2 * r + 1]) !=
		    SQLITE_OK) {
			rc = SQLITE_ERROR;
			break;
		}
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			const char *kw = (const char *)sqlite3_column_text(
			    stmt, 2);

			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				rows = xrealloc(rows, cap * sizeof(*rows));
				blob_ids = xrealloc(blob_ids,
				    cap * sizeof(*blob_ids));
			}
			rows[n].uid = (uint32_t)sqlite3_column_int64(stmt, 0);
			rows[n].flags = (unsigned)sqlite3_column_int64(stmt,
			    1);
			rows[n].keywords = xstrdup(kw != NULL ? kw : "");
			rows[n].modseq = (uint64_t)sqlite3_column_int64(stmt,
			    3);
			blob_ids[n] = sqlite3_column_int64(stmt, 4);
			n++;
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "read messages");
	sqlite3_finalize(stmt);
	*rows_r = rows;
	*n_r = n;
	if (blob_ids_r != NULL)
		*blob_ids_r = blob_ids;
	else
		free(blob_ids);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
store_rows_free(struct store_flag_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].keywords);
	free(rows);
}

int
store_flags_update(struct store *store, struct store_flags_change *c,
    const char **error_r)
{
	struct store_flag_row *rows = NULL;
	sqlite3_stmt *stmt;
	size_t n = 0;
	uint64_t modseq = 0;
	int rc, ret = -1;

	c->modified = NULL;
	c->n_modified = 0;
	c->modseq = 0;
	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	if (store_rows_read(store, c->mailbox_id, c->ranges, c->n_ranges,
	    &rows, NULL, &n, error_r) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct store_flag_row *row = &rows[i];
		unsigned flags;
		char *keywords;

		/* RFC 7162 3.1.3: a message changed since UNCHANGEDSINCE
		 * is left alone and reported as MODIFIED. */
		if (c->conditional &&
		    row->modseq > c->unchangedsince) {
			if (c->modified == NULL)
				c->modified = xcalloc(n,
				    sizeof(*c->modified));
			c->modified[c->n_modified++] = row->uid;
			continue;
		}
		switch (c->mode) {
		case STORE_FLAGS_REPLACE:
			flags = c->flags;
			break;
		case STORE_FLAGS_ADD:
			flags = row->flags | c->flags;
			break;
		default:
			flags = row->flags & ~c->flags;
			break;
		}
		flags &= STORE_FLAGS_ALL;
		if ((rc = store_keywords_apply(row->keywords,
		    c->keywords != NULL ? c->keywords : "", c->mode,
		    &keywords)) != 0) {
			store_error_set(error_r, "too many keywords");
			ret = STORE_E_LIMIT;
			goto out;
		}
		if (flags == row->flags &&
		    strcmp(keywords, row->keywords) == 0) {
			free(keywords);
			continue;
		}
		if (modseq == 0) {
			rc = store_modseq_next(store, c->mailbox_id, &modseq,
			    error_r);
			if (rc <= 0) {
				free(keywords);
				if (rc == 0)
					ret = STORE_E_NOTFOUND;
				goto out;
			}
		}
		if ((stmt = store_mstmt(store, MSTMT_FLAGS_SET,
		    error_r)) == NULL) {
			free(keywords);
			goto out;
		}
		if (sqlite3_bind_int64(stmt, 1, c->mailbox_id) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 2, row->uid) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 3, flags) != SQLITE_OK ||
		    store_bind_text(stmt, 4, keywords) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 5, (int64_t)modseq) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE)
			store_db_error(store, error_r, "update flags");
		store_stmt_done(stmt);
		free(keywords);
		if (rc != SQLITE_DONE)
			goto out;
	}
	c->modseq = modseq;
	ret = 0;
out:
	store_rows_free(rows, n);
	ret = store_write_end(store, ret, error_r);
	if (ret != 0) {
		free(c->modified);
		c->modified = NULL;
		c->n_modified = 0;
	}
	return ret;
}

/* --- expunge, copy, move --- */

/* Deletes the listed messages and records them as expunged with modseq
 * (in a write transaction). */
static int
store_rows_expunge(struct store *store, int64_t mailbox_id,
    const struct store_flag_row *rows, const bool *pick, size_t n,
    uint64_t modseq, const char **error_r)
{
	sqlite3_stmt *del, *tomb;
	int rc = SQLITE_DONE;

	del = store_stmt_once(store, "DELETE FROM messages"
	    " WHERE mailbox_id = ?1 AND uid = ?2", error_r);
	if (del == NULL)
		return -1;
	tomb = store_stmt_once(store, "INSERT OR REPLACE INTO expunged"
	    " (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)", error_r);
	if (tomb == NULL) {
		sqlite3_finalize(del);
		return -1;
	}
	for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
		if (pick != NULL && !pick[i])
			continue;
		sqlite3_reset(del);
		sqlite3_reset(tomb);
		if (sqlite3_bind_int64(del, 1, mailbox_id) != SQLITE_OK ||
		    sqlite3_bind_int64(del, 2, rows[i].uid) != SQLITE_OK ||
		    sqlite3_bind_int64(tomb, 1, mailbox_id) != SQLITE_OK ||
		    sqlite3_bind_int64(tomb, 2, rows[i].uid) != SQLITE_OK ||
		    sqlite3_bind_int64(tomb, 3, (int64_t)modseq) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else if ((rc = sqlite3_step(del)) == SQLITE_DONE)
			rc = sqlite3_step(tomb);
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "expunge");
	sqlite3_finalize(del);
	sqlite3_finalize(tomb);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* store_expunge and store_expunge_uids: the messages in the ranges,
 * those with \Deleted only if deleted_only. */
static int
store_expunge_ranges(struct store *store, int64_t mailbox_id,
    const uint32_t *ranges, size_t n_ranges, bool deleted_only, size_t *n_r,
    const char **error_r)
{
	static const uint32_t all[2] = { 1, UINT32_MAX };
	struct store_flag_row *rows = NULL;
	struct store_names unused = { 0 };
	int64_t *blob_ids = NULL;
	bool *pick = NULL;
	size_t n = 0, n_picked = 0, n_blobs = 0;
	uint64_t modseq;
	int rc, ret = -1;

	*n_r = 0;
	if (ranges == NULL) {
		ranges = all;
		n_ranges = 1;
	}
	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	if (store_rows_read(store, mailbox_id, ranges, n_ranges, &rows,
	    &blob_ids, &n, error_r) < 0)
		goto out;
	pick = xcalloc(n + 1, sizeof(*pick));
	for (size_t i = 0; i < n; i++) {
		if (!deleted_only ||
		    (rows[i].flags & STORE_FLAG_DELETED) != 0) {
			pick[i] = true;
			blob_ids[n_blobs++] = blob_ids[i];
			n_picked++;
		}
	}
	if (n_picked == 0) {
		ret = 0;
		goto out;
	}
	rc = store_modseq_next(store, mailbox_id, &modseq, error_r);
	if (rc <= 0) {
		if (rc == 0)
			ret = STORE_E_NOTFOUND;
		goto out;
	}
	if (store_rows_expunge(store, mailbox_id, rows, pick, n, modseq,
	    error_r) < 0)
		goto out;
	if (store_blobs_release(store, blob_ids, n_blobs, &unused,
	    error_r) < 0)
		goto out;
	ret = 0;
out:
	ret = store_write_end(store, ret, error_r);
	if (ret == 0) {
		*n_r = n_picked;
		for (size_t i = 0; i < unused.count; i++)
			store_blob_unlink(store, unused.names[i]);
	}
	store_names_free(&unused);
	store_rows_free(rows, n);
	free(blob_ids);
	free(pick);
	return ret;
}

int
store_expunge(struct store *store, int64_t mailbox_id,
    const uint32_t *ranges, size_t n_ranges, size_t *n_r,
    const char **error_r)
{
	return store_expunge_ranges(store, mailbox_id, ranges, n_ranges, true,
	    n_r, error_r);
}

int
store_expunge_uids(struct store *store, int64_t mailbox_id,
    const uint32_t *ranges, size_t n_ranges, size_t *n_r,
    const char **error_r)
{
	if (n_ranges == 0) {
		*n_r = 0;
		return 0;	/* NULL ranges would mean the whole mailbox */
	}
	return store_expunge_ranges(store, mailbox_id, ranges, n_ranges, false,
	    n_r, error_r);
}

int
store_message_copy(struct store *store, struct store_copy *c,
    const char **error_r)
{
	struct store_flag_row *rows = NULL;
	sqlite3_stmt *stmt = NULL;
	char *to = store_mailbox_lookup_name(c->to);
	int64_t to_id;
	uint64_t to_modseq = 0, from_modseq;
	uint32_t first_uid = 0;
	size_t n = 0;
	int rc, ret = -1;

	c->from_uids = NULL;
	c->to_uids = NULL;
	c->n = 0;
	c->uidvalidity = 0;
	if (store_tx_begin(store, true, error_r) < 0) {
		free(to);
		return -1;
	}
	rc = store_mailbox_exists(store, c->user_id, to, &to_id, error_r);
	if (rc <= 0) {
		if (rc == 0) {
			store_error_set(error_r, "no such mailbox");
			ret = STORE_E_NOTFOUND;
		}
		goto out;
	}
	if (store_rows_read(store, c->from_mailbox_id, c->ranges,
	    c->n_ranges, &rows, NULL, &n, error_r) < 0)
		goto out;
	if (n == 0) {
		ret = 0;
		goto out;
	}
	/* a block of n UIDs and one MODSEQ in the destination */
	stmt = store_stmt_once(store, "UPDATE mailboxes"
	    " SET uidnext = uidnext + ?2, highestmodseq = highestmodseq + 1"
	    " WHERE id = ?1 RETURNING uidnext - ?2, highestmodseq,"
	    " uidvalidity", error_r);
	if (stmt == NULL)
		goto out;
	if (sqlite3_bind_int64(stmt, 1, to_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (int64_t)n) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		first_uid = (uint32_t)sqlite3_column_int64(stmt, 0);
		to_modseq = (uint64_t)sqlite3_column_int64(stmt, 1);
		c->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 2);
		rc = sqlite3_step(stmt);
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "allocate uids");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		goto out;

	stmt = store_stmt_once(store, "INSERT INTO messages (mailbox_id, uid,"
	    " blob_id, size, internal_date, modseq, flags, keywords,"
	    " envelope_from, hdr_from, hdr_subject, hdr_date)"
	    " SELECT ?3, ?4, blob_id, size, internal_date, ?5,"
	    " flags, keywords, envelope_from, hdr_from, hdr_subject, hdr_date"
	    " FROM messages"
	    " WHERE mailbox_id = ?1 AND uid = ?2", error_r);
	if (stmt == NULL)
		goto out;
	c->from_uids = xcalloc(n, sizeof(*c->from_uids));
	c->to_uids = xcalloc(n, sizeof(*c->to_uids));
	rc = SQLITE_DONE;
	for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(stmt);
		if (sqlite3_bind_int64(stmt, 1, c->from_mailbox_id) !=
		    SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 2, rows[i].uid) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 3, to_id) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 4, (int64_t)first_uid +
		    (int64_t)i) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 5, (int64_t)to_modseq) !=
		    SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		c->from_uids[i] = rows[i].uid;
		c->to_uids[i] = first_uid + (uint32_t)i;
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "copy message");
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		goto out;
	if (c->move) {
		rc = store_modseq_next(store, c->from_mailbox_id, &from_modseq,
		    error_r);
		if (rc <= 0) {
			if (rc == 0)
				ret = STORE_E_NOTFOUND;
			goto out;
		}
		if (store_rows_expunge(store, c->from_mailbox_id, rows, NULL,
		    n, from_modseq, error_r) < 0)
			goto out;
	}
	c->n = n;
	ret = 0;
out:
	ret = store_write_end(store, ret, error_r);
	if (ret != 0) {
		free(c->from_uids);
		free(c->to_uids);
		c->from_uids = NULL;
		c->to_uids = NULL;
		c->n = 0;
	}
	store_rows_free(rows, n);
	free(to);
	return ret;
}
