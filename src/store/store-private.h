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
	STMT_MAILBOX_ID,
	STMT_MAILBOX_ALLOC,
	STMT_BLOB_INSERT,
	STMT_BLOB_DELETE_UNUSED,
	STMT_MESSAGE_INSERT,
	STMT_MESSAGE_BLOB,
	STMT_COUNT
};

struct store {
	sqlite3 *db;
	int blobs_fd;			/* DATA_DIR/blobs, O_DIRECTORY */
	sqlite3_stmt *stmts[STMT_COUNT];
};

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

#endif
