/*
 * store-private.h - internals shared by the files of the embedded store
 * backend (store-sqlite.c: metadata in SQLite; store-blob.c: message
 * bodies as files). Not for use outside src/store/.
 *
 * SECURITY: blob names are made here from random bytes, never from peer
 * data; all files are opened relative to the blobs directory descriptor
 * with O_NOFOLLOW.
 */
#ifndef STORE_STORE_PRIVATE_H
#define STORE_STORE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

/* A blob is named by 16 random bytes in hex, and stored as XX/<name>
 * where XX is the first two hex digits. */
#define STORE_BLOB_ID_BYTES 16
#define STORE_BLOB_NAME_SIZE (STORE_BLOB_ID_BYTES * 2 + 1)
#define STORE_BLOB_PATH_SIZE (2 + 1 + STORE_BLOB_NAME_SIZE)

/* One recipient may go through at most this many aliases (bounds the
 * work of store_rcpt_resolve on a large alias graph). */
#define STORE_ALIAS_EXPAND_MAX 1000

/* Header values cached for listings are cut to this many bytes. */
#define STORE_HEADER_CACHE_MAX 1000

/* Cached prepared statements; the SQL is in store-sqlite.c. */
enum store_stmt {
	STMT_BEGIN_READ,
	STMT_BEGIN_WRITE,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_DOMAIN_ID,
	STMT_DOMAIN_INSERT,
	STMT_DOMAIN_DELETE,
	STMT_DOMAIN_USAGE,
	STMT_USER_ID,
	STMT_USER_ID_EXISTS,
	STMT_USER_HASH,
	STMT_USER_INSERT,
	STMT_USER_DELETE,
	STMT_USER_PASSWD,
	STMT_USER_BLOBS,
	STMT_ALIAS_EXISTS,
	STMT_ALIAS_COUNT,
	STMT_ALIAS_TARGETS,
	STMT_ALIAS_INSERT,
	STMT_ALIAS_DELETE_ALL,
	STMT_ALIAS_DELETE_ONE,
	STMT_UIDVALIDITY_NEXT,
	STMT_MAILBOX_INSERT,
	STMT_SUBSCRIBE,
	STMT_MAILBOX_UIDVALIDITY,
	STMT_MAILBOX_ID,
	STMT_MAILBOX_ALLOC,
	STMT_BLOB_INSERT,
	STMT_BLOB_DELETE_UNUSED,
	STMT_MESSAGE_INSERT,
	STMT_RENDER_INSERT,
	STMT_MESSAGE_BLOB,
	STMT_QUEUE_INSERT,
	STMT_QUEUE_RCPT_INSERT,
	STMT_QUARANTINE_INSERT,
	STMT_COUNT
};

/* Statements of store-mailbox.c, cached the same way. */
enum store_mstmt {
	MSTMT_MAILBOX_GET,
	MSTMT_MAILBOX_FIND,
	MSTMT_MAILBOX_STATE,
	MSTMT_CHANGES,
	MSTMT_EXPUNGED,
	MSTMT_SCAN,
	MSTMT_SCAN_FLAGS,
	MSTMT_MODSEQ_NEXT,
	MSTMT_FLAGS_SET,
	MSTMT_COUNT
};

/* Statements of store-bayes.c (its enum store_bayes_stmt), cached the
 * same way: a message's learn or lookup runs a dozen of them, and
 * preparing them each time cost more than running them. */
#define STORE_BSTMT_MAX 16

struct store {
	sqlite3 *db;
	int blobs_fd;			/* DATA_DIR/blobs, O_DIRECTORY */
	sqlite3_stmt *stmts[STMT_COUNT];
	sqlite3_stmt *mstmts[MSTMT_COUNT];
	sqlite3_stmt *bstmts[STORE_BSTMT_MAX];
};

/* A growing list of malloc'd strings. */
struct store_names {
	char **names;
	size_t count, cap;
};

void
store_names_add(struct store_names *list, const char *name);

void
store_names_free(struct store_names *list);

/* --- shared by store-sqlite.c and store-mailbox.c --- */

/* Sets *error_r to "what: <SQLite's message>" and returns -1. */
int
store_db_error(struct store *store, const char **error_r, const char *what);

/* The cached statement id, prepared on first use; NULL on error. */
sqlite3_stmt *
store_stmt(struct store *store, enum store_stmt id, const char **error_r);

/* Resets a cached statement after use (releases its read snapshot). */
void
store_stmt_done(sqlite3_stmt *stmt);

/* An uncached statement, for listings whose callbacks may call back into
 * the store; the caller finalizes it. */
sqlite3_stmt *
store_stmt_once(struct store *store, const char *sql, const char **error_r);

/* Binds text (NULL binds NULL). */
int
store_bind_text(sqlite3_stmt *stmt, int i, const char *s);

/* Runs SQL text that takes no parameters (setup, maintenance). */
int
store_exec_sql(struct store *store, const char *sql, const char **error_r);

/* Runs a cached statement whose rows are ignored. */
int
store_exec(struct store *store, enum store_stmt id, const char **error_r);

/* Transactions: a write one takes the write lock at once. */
int
store_tx_begin(struct store *store, bool write, const char **error_r);

int
store_tx_commit(struct store *store, const char **error_r);

void
store_tx_rollback(struct store *store);

/* A one-row query with one text parameter: 1 with its first column,
 * 0 if no row, -1. */
int
store_lookup_id(struct store *store, enum store_stmt id, const char *key,
    int64_t *val_r, const char **error_r);

/* "INBOX" for any case of it, else name itself. */
const char *
store_mailbox_name(const char *name);

/* Takes the next UIDVALIDITY (inside a write transaction). */
int
store_uidvalidity_next(struct store *store, uint32_t *uidvalidity_r,
    const char **error_r);

/* Inserts one mailbox row with a fresh UIDVALIDITY, subscribed (inside a
 * write transaction). */
int
store_mailbox_insert(struct store *store, int64_t user_id, const char *name,
    const char *special_use, const char **error_r);

/*
 * Deletes the blob rows of blob_ids no message uses any more (inside a
 * write transaction) and adds their file names to unused, to be unlinked
 * after the commit.
 */
int
store_blobs_release(struct store *store, const int64_t *blob_ids, size_t n,
    struct store_names *unused, const char **error_r);

/*
 * Inserts the queue rows of a delivery whose blob row is blob_id (inside
 * the delivery's write transaction); sets q->id_r. Returns 0 or -1.
 */
int
store_queue_insert(struct store *store, struct store_queue_entry *q,
    int64_t blob_id, time_t now, const char **error_r);

/* Binds a header value for listings, cut to STORE_HEADER_CACHE_MAX bytes
 * on a UTF-8 character boundary (NULL binds NULL). */
int
store_bind_header(sqlite3_stmt *stmt, int i, const char *s);

/*
 * Takes the next UID and MODSEQ of a user's mailbox (inside a write
 * transaction). Returns 1 with them, 0 if the user has no such mailbox,
 * -1 on error.
 */
int
store_mailbox_alloc(struct store *store, int64_t user_id, const char *name,
    int64_t *mailbox_id_r, int64_t *uid_r, int64_t *modseq_r,
    const char **error_r);

/*
 * Inserts one message row for delivery d (its size, internal date,
 * envelope sender, header values, flags and keywords) in mailbox_id with
 * uid and modseq, pointing at blob_id (inside a write transaction).
 * Returns 0 or -1.
 */
int
store_message_insert(struct store *store, const struct store_delivery *d,
    int64_t mailbox_id, int64_t uid, int64_t modseq, int64_t blob_id,
    const char **error_r);

/* Formats an error into this thread's store error buffer, sets *error_r. */
void
store_error_set(const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Same, followed by ": " and strerror(err). */
void
store_error_errno(const char **error_r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Writes size bytes of data to a new blob file (mode 0600, created with
 * O_EXCL under a fresh random name, its XX/ directory made if needed).
 * The file is closed but NOT yet durable: see store_blob_sync(). Returns 0
 * with the name in name_r, or -1 (nothing is left behind).
 */
int
store_blob_write(struct store *store, const char *data, size_t size,
    char name_r[STORE_BLOB_NAME_SIZE], const char **error_r);

/*
 * Makes every blob written so far durable, with their directory entries:
 * one syncfs(2) of the file system holding blobs/. Returns 0 or -1.
 */
int
store_blob_sync(struct store *store, const char **error_r);

/* Removes a blob file; a missing file is not an error. Failures are
 * logged (the file is then an orphan, harmless but wasted space). */
void
store_blob_unlink(struct store *store, const char *name);

/*
 * Opens a blob read-only and checks that it is a regular file of the
 * expected size. Returns 0 with the fd, or -1.
 */
int
store_blob_open(struct store *store, const char *name, uint64_t size,
    int *fd_r, const char **error_r);

/* Deletes user_id's classifier tables (inside store_user_del's write
 * transaction; store-bayes.c). Returns 0 or -1. */
int
store_bayes_user_drop(struct store *store, int64_t user_id,
    const char **error_r);

#endif
