/*
 * store-blob.c - message bodies as immutable files under DATA_DIR/blobs/.
 *
 * Each stored message body is one file, blobs/XX/<32 hex digits>, written
 * once and never changed; every local recipient's message row points at
 * the same blob. Durability is batched: files are written and closed
 * without fsync, and store_blob_sync() flushes the whole file system once
 * per delivery batch, before the metadata that points at the blobs is
 * committed (see store_deliver in store-sqlite.c).
 *
 * SECURITY: the message data is untrusted but only copied; file names are
 * made from getrandom(2) bytes, never from peer data. Every path is
 * relative to the blobs directory fd and opened with O_NOFOLLOW; files are
 * mode 0600 and directories 0700.
 */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"

/* Attempts at a fresh random name; a clash of 128 random bits means the
 * random source is broken, so give up quickly. */
#define STORE_BLOB_CREATE_TRIES 3

static int
store_blob_random_name(char name_r[STORE_BLOB_NAME_SIZE],
    const char **error_r)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[STORE_BLOB_ID_BYTES];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(rnd)) {
		n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			store_error_errno(error_r, errno, "getrandom");
			return -1;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		name_r[i * 2] = hex[rnd[i] >> 4];
		name_r[i * 2 + 1] = hex[rnd[i] & 0x0f];
	}
	name_r[STORE_BLOB_NAME_SIZE - 1] = '\0';
	return 0;
}

static void
store_blob_path(const char *name, char path_r[STORE_BLOB_PATH_SIZE])
{
	int n;

	n = snprintf(path_r, STORE_BLOB_PATH_SIZE, "%.2s/%s", name, name);
	/* name is always 32 hex digits, made by store_blob_random_name */
	if (n < 0 || (size_t)n >= STORE_BLOB_PATH_SIZE)
		abort();
}

/* Writes all of data to fd, retrying on EINTR and short writes. */
static int
store_blob_write_all(int fd, const char *data, size_t size)
{
	ssize_t n;

	while (size > 0) {
		n = write(fd, data, size > SSIZE_MAX ? SSIZE_MAX : size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			/* not expected for a regular file; avoid looping */
			errno = EIO;
			return -1;
		}
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

/*
 * Creates the blob file exclusively, making its XX/ directory if needed.
 * Returns the fd, -1 on error, or -2 if the name is already taken.
 */
static int
store_blob_create(struct store *store, const char *name, const char *path,
    const char **error_r)
{
	char dir[3];
	int fd;

	fd = openat(store->blobs_fd, path,
	    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 || errno != ENOENT)
		goto out;
	dir[0] = name[0];
	dir[1] = name[1];
	dir[2] = '\0';
	if (mkdirat(store->blobs_fd, dir, 0700) < 0 && errno != EEXIST) {
		store_error_errno(error_r, errno, "mkdir blobs/%s", dir);
		return -1;
	}
	fd = openat(store->blobs_fd, path,
	    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
out:
	if (fd < 0 && errno == EEXIST)
		return -2;
	if (fd < 0)
		store_error_errno(error_r, errno, "create blobs/%s", path);
	return fd;
}

int
store_blob_write(struct store *store, const char *data, size_t size,
    char name_r[STORE_BLOB_NAME_SIZE], const char **error_r)
{
	char path[STORE_BLOB_PATH_SIZE];
	int fd = -1, err;

	for (int try = 0; try < STORE_BLOB_CREATE_TRIES; try++) {
		if (store_blob_random_name(name_r, error_r) < 0)
			return -1;
		store_blob_path(name_r, path);
		fd = store_blob_create(store, name_r, path, error_r);
		if (fd >= 0)
			break;
		if (fd == -1)
			return -1;
	}
	if (fd < 0) {
		store_error_set(error_r, "create blob: name clash %d times",
		    STORE_BLOB_CREATE_TRIES);
		return -1;
	}
	if (store_blob_write_all(fd, data, size) < 0) {
		err = errno;
		(void)close(fd);
		(void)unlinkat(store->blobs_fd, path, 0);
		store_error_errno(error_r, err, "write blobs/%s", path);
		return -1;
	}
	/* close() can report a deferred write error (NFS, quota). */
	if (close(fd) < 0) {
		err = errno;
		(void)unlinkat(store->blobs_fd, path, 0);
		store_error_errno(error_r, err, "close blobs/%s", path);
		return -1;
	}
	return 0;
}

int
store_blob_sync(struct store *store, const char **error_r)
{
	/* One flush for the whole batch: syncfs writes back every dirty
	 * file and directory of the file system, so both the new files and
	 * their directory entries (and any new XX/ directories) are
	 * durable. Since Linux 5.8 it also reports writeback errors. */
	if (syncfs(store->blobs_fd) < 0) {
		store_error_errno(error_r, errno, "syncfs blobs");
		return -1;
	}
	return 0;
}

void
store_blob_unlink(struct store *store, const char *name)
{
	char path[STORE_BLOB_PATH_SIZE], ebuf[128];

	store_blob_path(name, path);
	if (unlinkat(store->blobs_fd, path, 0) < 0 && errno != ENOENT)
		log_warning("store blob unlink name=%s error=\"%s\"", name,
		    strerror_r(errno, ebuf, sizeof(ebuf)));
}

int
store_blob_open(struct store *store, const char *name, uint64_t size,
    int *fd_r, const char **error_r)
{
	char path[STORE_BLOB_PATH_SIZE];
	struct stat st;
	int fd;

	*fd_r = -1;
	store_blob_path(name, path);
	fd = openat(store->blobs_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		store_error_errno(error_r, errno, "open blobs/%s", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		store_error_errno(error_r, errno, "stat blobs/%s", path);
		(void)close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		store_error_set(error_r, "blobs/%s: not a regular file of "
		    "%llu bytes", path, (unsigned long long)size);
		(void)close(fd);
		return -1;
	}
	*fd_r = fd;
	return 0;
}

int
store_read_range(int fd, uint64_t offset, uint64_t len, char **data_r)
{
	uint64_t got = 0;
	char *data;

	*data_r = NULL;
	if (len >= SIZE_MAX)
		return -1;
	data = xmalloc((size_t)len + 1);
	while (got < len) {
		ssize_t n = pread(fd, data + got, (size_t)(len - got),
		    (off_t)(offset + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(data);
			return -1;
		}
		got += (uint64_t)n;
	}
	data[len] = '\0';
	*data_r = data;
	return 0;
}
