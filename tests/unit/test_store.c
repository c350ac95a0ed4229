/*
 * test_store.c - unit tests of the embedded store (store/store-sqlite.c,
 * store/store-blob.c) and of core/password.c.
 *
 * Each test opens a store in DIR/data of a fresh mkdtemp() directory (so
 * store_open must create the data directory), works through store.h, and
 * checks results through store.h, the blob files on disk, and, where the
 * interface does not show it, the SQLite database itself.
 *
 * SECURITY: test code; the inputs are ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/password.h"
#include "store/store.h"

#define TEST_LIST_MAX 64

struct fixture {
	char dir[64];			/* as made by mkdtemp */
	char data[128];			/* dir/data */
	struct store *store;
};

/* Strings collected by the list callbacks. */
struct test_list {
	size_t count;
	char *items[TEST_LIST_MAX];
};

static int
test_rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
test_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *error = NULL;
	int n;

	if (fx == NULL)
		return -1;
	n = snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_store.XXXXXX");
	if (n < 0 || (size_t)n >= sizeof(fx->dir) || mkdtemp(fx->dir) == NULL)
		return -1;
	n = snprintf(fx->data, sizeof(fx->data), "%s/data", fx->dir);
	if (n < 0 || (size_t)n >= sizeof(fx->data))
		return -1;
	if (store_open(fx->data, &fx->store, &error) < 0) {
		fprintf(stderr, "store_open: %s\n", error);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
test_teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(&fx->store);
	(void)nftw(fx->dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void
test_list_free(struct test_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	l->count = 0;
}

static int
test_list_add(void *ctx, const char *s)
{
	struct test_list *l = ctx;

	assert_true(l->count < TEST_LIST_MAX);
	l->items[l->count++] = strdup(s);
	return 0;
}

static int
test_alias_cb(void *ctx, const char *alias, const char *target)
{
	struct test_list *l = ctx;
	char *s;

	assert_true(l->count < TEST_LIST_MAX);
	assert_true(asprintf(&s, "%s>%s", alias, target) > 0);
	l->items[l->count++] = s;
	return 0;
}

/* Returns 0 to go on; stops after one. */
static int
test_stop_cb(void *ctx, const char *s)
{
	(void)s;
	(*(int *)ctx)++;
	return -1;
}

struct test_mailboxes {
	size_t count;
	struct {
		char name[32];
		char special_use[32];
		uint32_t uidvalidity, uidnext;
		uint64_t messages, bytes;
	} mb[16];
};

static int
test_mailbox_cb(void *ctx, const struct store_mailbox_info *info)
{
	struct test_mailboxes *m = ctx;

	assert_true(m->count < 16);
	snprintf(m->mb[m->count].name, 32, "%s", info->name);
	snprintf(m->mb[m->count].special_use, 32, "%s",
	    info->special_use != NULL ? info->special_use : "");
	m->mb[m->count].uidvalidity = info->uidvalidity;
	m->mb[m->count].uidnext = info->uidnext;
	m->mb[m->count].messages = info->messages;
	m->mb[m->count].bytes = info->bytes;
	m->count++;
	return 0;
}

struct test_messages {
	size_t count;
	struct {
		uint32_t uid;
		uint64_t modseq, size;
		time_t internal_date;
		char envelope_from[64], from[64], subject[64], date[64];
		bool has_subject;
		unsigned flags;
	} m[16];
};

static int
test_message_cb(void *ctx, const struct store_message_info *info)
{
	struct test_messages *l = ctx;

	assert_true(l->count < 16);
	l->m[l->count].uid = info->uid;
	l->m[l->count].modseq = info->modseq;
	l->m[l->count].size = info->size;
	l->m[l->count].internal_date = info->internal_date;
	l->m[l->count].flags = info->flags;
	snprintf(l->m[l->count].envelope_from, 64, "%s", info->envelope_from);
	snprintf(l->m[l->count].from, 64, "%s",
	    info->hdr_from != NULL ? info->hdr_from : "");
	snprintf(l->m[l->count].subject, 64, "%s",
	    info->hdr_subject != NULL ? info->hdr_subject : "");
	l->m[l->count].has_subject = info->hdr_subject != NULL;
	snprintf(l->m[l->count].date, 64, "%s",
	    info->hdr_date != NULL ? info->hdr_date : "");
	l->count++;
	return 0;
}

static int test_file_count;

static int
test_count_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		test_file_count++;
	return 0;
}

/* Counts the regular files under DATA/blobs. */
static int
test_count_blobs(const struct fixture *fx)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/blobs", fx->data);
	test_file_count = 0;
	assert_int_equal(nftw(path, test_count_entry, 16, FTW_PHYS), 0);
	return test_file_count;
}

/* Runs a one-integer query on the database, from a separate connection. */
static long long
test_db_int(const struct fixture *fx, const char *sql)
{
	char path[256];
	sqlite3 *db;
	sqlite3_stmt *stmt;
	long long v;

	snprintf(path, sizeof(path), "%s/correio.db", fx->data);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

static void
test_db_exec(const struct fixture *fx, const char *sql)
{
	char path[256];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/correio.db", fx->data);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_add_user(struct fixture *fx, const char *address)
{
	const char *error = NULL;

	if (store_user_add(fx->store, address, "secret", &error) < 0)
		fail_msg("store_user_add %s: %s", address, error);
}

static int64_t
test_user_id(struct fixture *fx, const char *address)
{
	enum store_rcpt_result res;
	const char *error = NULL;
	int64_t ids[4];
	size_t n;

	assert_int_equal(store_rcpt_resolve(fx->store, address, ids, 4, &n,
	    &res, &error), 0);
	assert_int_equal(res, STORE_RCPT_LOCAL);
	assert_int_equal(n, 1);
	return ids[0];
}

static void
test_alias_add(struct fixture *fx, const char *alias, const char *t1,
    const char *t2)
{
	const char *targets[2] = { t1, t2 };
	const char *error = NULL;

	if (store_alias_add(fx->store, alias, targets, t2 != NULL ? 2 : 1,
	    &error) < 0)
		fail_msg("store_alias_add %s: %s", alias, error);
}

static void
test_resolve(struct fixture *fx, const char *address, size_t max,
    enum store_rcpt_result expect_res, size_t expect_n, int64_t *ids)
{
	enum store_rcpt_result res;
	const char *error = NULL;
	size_t n = 99;

	if (store_rcpt_resolve(fx->store, address, ids, max, &n, &res,
	    &error) < 0)
		fail_msg("store_rcpt_resolve %s: %s", address, error);
	assert_int_equal(res, expect_res);
	assert_int_equal(n, expect_n);
}

static bool
test_has_id(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == id)
			return true;
	}
	return false;
}

/* Reads a message's body through store_message_open. */
static char *
test_read_message(struct fixture *fx, const char *address,
    const char *mailbox, uint32_t uid, uint64_t *size_r)
{
	const char *error = NULL;
	uint64_t size;
	char *buf;
	ssize_t n;
	int fd, flags;

	if (store_message_open(fx->store, address, mailbox, uid, &fd, &size,
	    &error) != 0)
		fail_msg("store_message_open %s %s %u: %s", address, mailbox,
		    uid, error != NULL ? error : "not found");
	flags = fcntl(fd, F_GETFL);
	assert_int_equal(flags & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	buf = malloc(size + 1);
	assert_non_null(buf);
	n = read(fd, buf, size + 1);
	assert_int_equal(n, (ssize_t)size);
	close(fd);
	*size_r = size;
	return buf;
}

/* --- tests --- */

static void
test_open_creates(void **state)
{
	struct fixture *fx = *state;
	char path[256];
	struct stat st;

	assert_int_equal(stat(fx->data, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/blobs", fx->data);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/correio.db", fx->data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(test_db_int(fx, "PRAGMA user_version"), 10);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM sqlite_schema"
	    " WHERE name = 'blob_text'"), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM sqlite_schema"
	    " WHERE name = 'dmarc_results'"), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM"
	    " pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM sqlite_schema"
	    " WHERE type = 'table' AND name IN ('domains', 'users', 'aliases',"
	    " 'mailboxes', 'blobs', 'messages')"), 6);
	/* messages are found by (mailbox_id, uid) through an index */
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM"
	    " pragma_index_list('messages') il WHERE il.\"unique\" = 1 AND"
	    " (SELECT group_concat(name) FROM pragma_index_info(il.name))"
	    " = 'mailbox_id,uid'"), 1);
}

static void
test_domain(void **state)
{
	struct fixture *fx = *state;
	struct test_list l = { 0 };
	const char *error = NULL;
	char longdom[300];
	int stops = 0;

	assert_int_equal(store_domain_add(fx->store, "Example.COM", &error), 0);
	assert_int_equal(store_domain_add(fx->store, "b.org", &error), 0);
	assert_int_equal(store_domain_add(fx->store, "a.net", &error), 0);
	assert_int_equal(store_domain_add(fx->store, "example.com", &error),
	    -1);
	assert_non_null(strstr(error, "already exists"));

	/* syntax */
	assert_int_equal(store_domain_add(fx->store, "", &error), -1);
	assert_int_equal(store_domain_add(fx->store, "a..b", &error), -1);
	assert_int_equal(store_domain_add(fx->store, ".a.b", &error), -1);
	assert_int_equal(store_domain_add(fx->store, "a.b.", &error), -1);
	assert_int_equal(store_domain_add(fx->store, "-a.b", &error), -1);
	assert_int_equal(store_domain_add(fx->store, "a-.b", &error), -1);
	assert_int_equal(store_domain_add(fx->store, "a_b.c", &error), -1);
	assert_int_equal(store_domain_add(fx->store, "x@y.z", &error), -1);
	assert_int_equal(store_domain_add(fx->store, "a b.c", &error), -1);
	/* a label of 63 is fine, of 64 is not */
	memset(longdom, 'a', 63);
	strcpy(longdom + 63, ".com");
	assert_int_equal(store_domain_add(fx->store, longdom, &error), 0);
	memset(longdom, 'a', 64);
	strcpy(longdom + 64, ".com");
	assert_int_equal(store_domain_add(fx->store, longdom, &error), -1);
	/* 255 bytes in total is fine, 256 is not */
	for (int i = 0; i < 256; i += 2) {
		longdom[i] = 'b';
		longdom[i + 1] = '.';
	}
	longdom[254] = 'b';
	longdom[255] = '\0';
	assert_int_equal(store_domain_add(fx->store, longdom, &error), 0);
	longdom[255] = 'b';
	longdom[256] = '\0';
	assert_int_equal(store_domain_add(fx->store, longdom, &error), -1);
	assert_int_equal(store_domain_exists(fx->store, longdom, &error), 0);
	longdom[255] = '\0';
	assert_int_equal(store_domain_del(fx->store, longdom, &error), 0);
	memset(longdom, 'a', 63);
	strcpy(longdom + 63, ".com");
	assert_int_equal(store_domain_del(fx->store, longdom, &error), 0);

	assert_int_equal(store_domain_exists(fx->store, "EXAMPLE.com", &error),
	    1);
	assert_int_equal(store_domain_exists(fx->store, "example.org", &error),
	    0);
	assert_int_equal(store_domain_exists(fx->store, "", &error), 0);

	assert_int_equal(store_domain_list(fx->store, test_list_add, &l,
	    &error), 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.items[0], "a.net");
	assert_string_equal(l.items[1], "b.org");
	assert_string_equal(l.items[2], "example.com");
	test_list_free(&l);
	/* a callback returning -1 stops the listing */
	assert_int_equal(store_domain_list(fx->store, test_stop_cb, &stops,
	    &error), 0);
	assert_int_equal(stops, 1);

	/* refused while it has users or aliases */
	test_add_user(fx, "u@example.com");
	assert_int_equal(store_domain_del(fx->store, "example.com", &error),
	    -1);
	assert_non_null(strstr(error, "1 users"));
	test_alias_add(fx, "al@example.com", "u@example.com", NULL);
	assert_int_equal(store_user_del(fx->store, "u@example.com", &error), 0);
	assert_int_equal(store_domain_del(fx->store, "example.com", &error),
	    -1);
	assert_non_null(strstr(error, "1 aliases"));
	assert_int_equal(store_alias_del(fx->store, "al@example.com", NULL, 0,
	    &error), 0);
	assert_int_equal(store_domain_del(fx->store, "Example.Com", &error), 0);
	assert_int_equal(store_domain_exists(fx->store, "example.com", &error),
	    0);
	assert_int_equal(store_domain_del(fx->store, "example.com", &error),
	    -1);
	assert_non_null(strstr(error, "no such domain"));

	assert_int_equal(store_domain_list(fx->store, test_list_add, &l,
	    &error), 0);
	assert_int_equal(l.count, 2);
	test_list_free(&l);
}

static void
test_user_add(void **state)
{
	static const char *const names[] = {
		"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash",
	};
	static const char *const roles[] = {
		"", "\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash",
	};
	struct fixture *fx = *state;
	struct test_mailboxes m = { 0 };
	struct test_list l = { 0 };
	const char *error = NULL;
	char addr[400];

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	assert_int_equal(store_domain_add(fx->store, "other.org", &error), 0);
	test_add_user(fx, "Alice@Example.COM");
	test_add_user(fx, "zed@other.org");
	test_add_user(fx, "bob@example.com");

	assert_int_equal(store_user_add(fx->store, "ALICE@example.com", "x",
	    &error), -1);
	assert_non_null(strstr(error, "already exists"));
	assert_int_equal(store_user_add(fx->store, "carol@example.net", "x",
	    &error), -1);
	assert_non_null(strstr(error, "not hosted"));
	assert_int_equal(store_user_add(fx->store, "carol@example.com", "",
	    &error), -1);
	assert_int_equal(store_user_add(fx->store, "carol@example.com", NULL,
	    &error), -1);

	/* syntax and limits */
	assert_int_equal(store_user_add(fx->store, "example.com", "x",
	    &error), -1);
	assert_int_equal(store_user_add(fx->store, "a@b@example.com", "x",
	    &error), -1);
	assert_int_equal(store_user_add(fx->store, "@example.com", "x",
	    &error), -1);
	assert_int_equal(store_user_add(fx->store, "carol@", "x", &error), -1);
	assert_int_equal(store_user_add(fx->store, "ca rol@example.com", "x",
	    &error), -1);
	assert_int_equal(store_user_add(fx->store, "", "x", &error), -1);
	assert_int_equal(store_user_add(fx->store, NULL, "x", &error), -1);
	memset(addr, 'l', 64);
	strcpy(addr + 64, "@example.com");
	assert_int_equal(store_user_add(fx->store, addr, "x", &error), 0);
	memset(addr, 'l', 65);
	strcpy(addr + 65, "@example.com");
	assert_int_equal(store_user_add(fx->store, addr, "x", &error), -1);
	assert_non_null(strstr(error, "local part"));
	/* STORE_ADDRESS_MAX: 64 + '@' + 255 = 320 is the most; 321 fails
	 * (the domain is not hosted, but length is checked first) */
	memset(addr, 'l', 64);
	addr[64] = '@';
	memset(addr + 65, 'd', 256);
	addr[321] = '\0';
	assert_int_equal(store_user_add(fx->store, addr, "x", &error), -1);
	assert_non_null(strstr(error, "longer than"));
	addr[320] = '\0';
	assert_int_equal(store_user_add(fx->store, addr, "x", &error), -1);
	assert_non_null(strstr(error, "not hosted"));

	assert_int_equal(store_user_list(fx->store, NULL, test_list_add, &l,
	    &error), 0);
	assert_int_equal(l.count, 4);
	assert_string_equal(l.items[0], "alice@example.com");
	assert_string_equal(l.items[1], "bob@example.com");
	assert_int_equal(strncmp(l.items[2], "llll", 4), 0);
	assert_string_equal(l.items[3], "zed@other.org");
	test_list_free(&l);
	assert_int_equal(store_user_list(fx->store, "OTHER.org", test_list_add,
	    &l, &error), 0);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0], "zed@other.org");
	test_list_free(&l);
	assert_int_equal(store_user_list(fx->store, "nope.org", test_list_add,
	    &l, &error), -1);

	/* the standard mailboxes, INBOX first then by name */
	assert_int_equal(store_mailbox_list(fx->store, "alice@EXAMPLE.com",
	    test_mailbox_cb, &m, &error), 0);
	assert_int_equal(m.count, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(m.mb[i].name, names[i]);
		assert_string_equal(m.mb[i].special_use, roles[i]);
		assert_int_equal(m.mb[i].uidnext, 1);
		assert_int_equal(m.mb[i].messages, 0);
		assert_int_equal(m.mb[i].bytes, 0);
		assert_true(m.mb[i].uidvalidity > 0);
		for (size_t j = 0; j < i; j++)
			assert_true(m.mb[i].uidvalidity !=
			    m.mb[j].uidvalidity);
	}
	assert_int_equal(store_mailbox_list(fx->store, "nobody@example.com",
	    test_mailbox_cb, &m, &error), -1);

	/* stored lower-cased, with a yescrypt hash */
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM users WHERE"
	    " address = 'alice@example.com' AND password LIKE '$y$%'"), 1);
}

static void
test_uidvalidity_not_reused(void **state)
{
	struct fixture *fx = *state;
	struct test_mailboxes m1 = { 0 }, m2 = { 0 };
	const char *error = NULL;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "a@example.com");
	assert_int_equal(store_mailbox_list(fx->store, "a@example.com",
	    test_mailbox_cb, &m1, &error), 0);
	assert_int_equal(store_user_del(fx->store, "a@example.com", &error), 0);
	test_add_user(fx, "a@example.com");
	assert_int_equal(store_mailbox_list(fx->store, "a@example.com",
	    test_mailbox_cb, &m2, &error), 0);
	assert_int_equal(m1.count, 6);
	assert_int_equal(m2.count, 6);
	for (size_t i = 0; i < 6; i++) {
		for (size_t j = 0; j < 6; j++)
			assert_true(m2.mb[i].uidvalidity !=
			    m1.mb[j].uidvalidity);
	}
	/* time based: not below the time the store was made */
	assert_true(m1.mb[0].uidvalidity >= 1700000000u);
}

static void
test_password(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	char *hash, longpw[STORE_PASSWORD_MAX + 2];

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	assert_int_equal(store_user_add(fx->store, "alice@example.com",
	    "correct horse", &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", "correct horse", &error), 1);
	assert_int_equal(store_user_check_password(fx->store,
	    "ALICE@Example.com", "correct horse", &error), 1);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", "correct horsE", &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", "correct hors", &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", "", &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "bob@example.com", "correct horse", &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.org", "correct horse", &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "not an address", "correct horse", &error), 0);

	assert_int_equal(store_user_passwd(fx->store, "Alice@example.com",
	    "battery staple", &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", "correct horse", &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", "battery staple", &error), 1);
	assert_int_equal(store_user_passwd(fx->store, "bob@example.com",
	    "battery staple", &error), -1);
	assert_non_null(strstr(error, "no such user"));
	assert_int_equal(store_user_passwd(fx->store, "alice@example.com",
	    "", &error), -1);

	/* libxcrypt takes at most PASSWORD_MAX bytes */
	memset(longpw, 'p', PASSWORD_MAX);
	longpw[PASSWORD_MAX] = '\0';
	assert_int_equal(store_user_passwd(fx->store, "alice@example.com",
	    longpw, &error), 0);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", longpw, &error), 1);
	longpw[PASSWORD_MAX] = 'p';
	longpw[PASSWORD_MAX + 1] = '\0';
	assert_int_equal(store_user_passwd(fx->store, "alice@example.com",
	    longpw, &error), -1);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", longpw, &error), 0);

	/* core/password directly */
	assert_int_equal(password_hash("pw", &hash, &error), 0);
	assert_int_equal(strncmp(hash, "$y$", 3), 0);
	assert_int_equal(password_verify("pw", hash), 1);
	assert_int_equal(password_verify("pW", hash), 0);
	assert_int_equal(password_verify("pw", NULL), 0);
	assert_int_equal(password_verify("pw", "garbage"), 0);
	assert_int_equal(password_verify("pw", ""), 0);
	free(hash);
}

static void
test_alias(void **state)
{
	struct fixture *fx = *state;
	struct test_list l = { 0 };
	const char *error = NULL;
	const char *bad[] = { "u1@example.com", "ghost@example.com" };
	const char *one[] = { "u1@example.com" };
	int64_t ids[8], u1, u2, u3;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	assert_int_equal(store_domain_add(fx->store, "example.org", &error), 0);
	test_add_user(fx, "u1@example.com");
	test_add_user(fx, "u2@example.com");
	test_add_user(fx, "u3@example.org");
	u1 = test_user_id(fx, "u1@example.com");
	u2 = test_user_id(fx, "u2@example.com");
	u3 = test_user_id(fx, "u3@example.org");

	/* invalid: unknown target (nothing is added), alias = user, domain
	 * not hosted, target itself, remote target, no targets */
	assert_int_equal(store_alias_add(fx->store, "a@example.com", bad, 2,
	    &error), -1);
	assert_non_null(strstr(error, "ghost@example.com"));
	test_resolve(fx, "a@example.com", 8, STORE_RCPT_UNKNOWN, 0, ids);
	assert_int_equal(store_alias_add(fx->store, "u2@example.com", one, 1,
	    &error), -1);
	assert_non_null(strstr(error, "is a user"));
	assert_int_equal(store_alias_add(fx->store, "a@example.net", one, 1,
	    &error), -1);
	assert_non_null(strstr(error, "not hosted"));
	bad[1] = "A@example.com";
	assert_int_equal(store_alias_add(fx->store, "a@example.com", bad, 2,
	    &error), -1);
	bad[1] = "x@gmail.com";
	assert_int_equal(store_alias_add(fx->store, "a@example.com", bad, 2,
	    &error), -1);
	assert_int_equal(store_alias_add(fx->store, "a@example.com", one, 0,
	    &error), -1);

	/* c -> u3; b -> c, u2, u3; a -> b, c, u1; then c -> a closes a
	 * cycle. u3 is reached three ways, but counted once. */
	test_alias_add(fx, "c@example.com", "U3@example.org", NULL);
	test_alias_add(fx, "b@example.com", "c@example.com", "u2@example.com");
	test_alias_add(fx, "b@example.com", "u3@example.org", NULL);
	test_alias_add(fx, "A@Example.com", "b@example.com", "c@example.com");
	test_alias_add(fx, "a@example.com", "u1@example.com", NULL);
	test_alias_add(fx, "c@example.com", "a@example.com", NULL);
	/* adding a target again is harmless */
	test_alias_add(fx, "c@example.com", "a@example.com", NULL);
	/* a user cannot take an alias's address */
	assert_int_equal(store_user_add(fx->store, "b@example.com", "x",
	    &error), -1);
	assert_non_null(strstr(error, "alias"));

	test_resolve(fx, "a@example.com", 8, STORE_RCPT_LOCAL, 3, ids);
	assert_true(test_has_id(ids, 3, u1));
	assert_true(test_has_id(ids, 3, u2));
	assert_true(test_has_id(ids, 3, u3));
	test_resolve(fx, "B@EXAMPLE.COM", 8, STORE_RCPT_LOCAL, 3, ids);
	test_resolve(fx, "c@example.com", 8, STORE_RCPT_LOCAL, 3, ids);
	/* exactly enough room is fine, one less fails */
	test_resolve(fx, "a@example.com", 3, STORE_RCPT_LOCAL, 3, ids);
	{
		enum store_rcpt_result res;
		size_t n;

		assert_int_equal(store_rcpt_resolve(fx->store, "a@example.com",
		    ids, 2, &n, &res, &error), -1);
		assert_non_null(strstr(error, "more than 2"));
		assert_int_equal(store_rcpt_resolve(fx->store,
		    "u1@example.com", ids, 0, &n, &res, &error), -1);
	}

	assert_int_equal(store_alias_list(fx->store, "b@example.com",
	    test_alias_cb, &l, &error), 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.items[0], "b@example.com>c@example.com");
	assert_string_equal(l.items[1], "b@example.com>u2@example.com");
	assert_string_equal(l.items[2], "b@example.com>u3@example.org");
	test_list_free(&l);
	assert_int_equal(store_alias_list(fx->store, NULL, test_alias_cb, &l,
	    &error), 0);
	assert_int_equal(l.count, 8);
	assert_string_equal(l.items[0], "a@example.com>b@example.com");
	assert_string_equal(l.items[7], "c@example.com>u3@example.org");
	test_list_free(&l);

	/* remove one target, then a whole alias */
	one[0] = "u2@example.com";
	assert_int_equal(store_alias_del(fx->store, "b@example.com", one, 1,
	    &error), 0);
	test_resolve(fx, "b@example.com", 8, STORE_RCPT_LOCAL, 2, ids);
	assert_false(test_has_id(ids, 2, u2));
	assert_int_equal(store_alias_del(fx->store, "b@example.com", one, 1,
	    &error), -1);
	one[0] = "u3@example.org";
	assert_int_equal(store_alias_del(fx->store, "b@example.com", one, 1,
	    &error), 0);
	assert_int_equal(store_alias_del(fx->store, "c@example.com", NULL, 0,
	    &error), 0);
	assert_int_equal(store_alias_del(fx->store, "c@example.com", NULL, 0,
	    &error), -1);
	assert_non_null(strstr(error, "no such alias"));
	/* b -> c is now dangling: b reaches nobody */
	test_resolve(fx, "b@example.com", 8, STORE_RCPT_UNKNOWN, 0, ids);
	test_resolve(fx, "a@example.com", 8, STORE_RCPT_LOCAL, 1, ids);
	assert_int_equal(ids[0], u1);

	/* postmaster is not magic: unknown until someone is it */
	test_resolve(fx, "postmaster@example.com", 8, STORE_RCPT_UNKNOWN, 0,
	    ids);
	test_alias_add(fx, "postmaster@example.com", "u1@example.com", NULL);
	test_resolve(fx, "Postmaster@example.com", 8, STORE_RCPT_LOCAL, 1, ids);
	test_resolve(fx, "postmaster@example.org", 8, STORE_RCPT_UNKNOWN, 0,
	    ids);
}

static void
test_alias_depth(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	char name[32], target[32];
	int64_t ids[4];

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "u@example.com");
	/* a9 -> u, a8 -> a9, ..., a0 -> a1 */
	for (int i = 9; i >= 0; i--) {
		snprintf(name, sizeof(name), "a%d@example.com", i);
		if (i == 9)
			snprintf(target, sizeof(target), "u@example.com");
		else
			snprintf(target, sizeof(target), "a%d@example.com",
			    i + 1);
		test_alias_add(fx, name, target, NULL);
	}
	/* a2 .. a9 are 8 aliases deep: the user is reached */
	test_resolve(fx, "a2@example.com", 4, STORE_RCPT_LOCAL, 1, ids);
	/* a1 .. a9 are 9: too deep, so no user is reached */
	test_resolve(fx, "a1@example.com", 4, STORE_RCPT_UNKNOWN, 0, ids);
	test_resolve(fx, "a0@example.com", 4, STORE_RCPT_UNKNOWN, 0, ids);
}

/*
 * Four aliases that all point at each other (and one at the user): each
 * is expanded once, so this is cheap and reaches the user once. Walking
 * every path instead would go through 3^7 aliases.
 */
static void
test_alias_cycle_mesh(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	char name[32], target[32];
	int64_t ids[4];

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "u@example.com");
	test_alias_add(fx, "m0@example.com", "u@example.com", NULL);
	for (int i = 1; i < 4; i++) {
		snprintf(name, sizeof(name), "m%d@example.com", i);
		snprintf(target, sizeof(target), "m%d@example.com", i - 1);
		test_alias_add(fx, name, target, NULL);
	}
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "m%d@example.com", i);
		for (int j = 0; j < 4; j++) {
			if (j == i)
				continue;
			snprintf(target, sizeof(target), "m%d@example.com", j);
			test_alias_add(fx, name, target, NULL);
		}
	}
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "M%d@example.com", i);
		test_resolve(fx, name, 4, STORE_RCPT_LOCAL, 1, ids);
	}
}

/*
 * The depth limit counts the shortest path: s -> {b1, t}, b1 -> ... ->
 * b6 -> t, t -> t2 -> v. On the long path t is at depth 8 and t2 would
 * be too deep; on the short one t2 is at depth 3 and v is reached. (A
 * depth-first walk that marks t as done on the long path misses v.)
 */
static void
test_alias_depth_shortest(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	char name[32], target[32];
	int64_t ids[4], v;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "v@example.com");
	v = test_user_id(fx, "v@example.com");
	test_alias_add(fx, "t2@example.com", "v@example.com", NULL);
	test_alias_add(fx, "t@example.com", "t2@example.com", NULL);
	for (int i = 6; i >= 1; i--) {
		snprintf(name, sizeof(name), "b%d@example.com", i);
		if (i == 6)
			snprintf(target, sizeof(target), "t@example.com");
		else
			snprintf(target, sizeof(target), "b%d@example.com",
			    i + 1);
		test_alias_add(fx, name, target, NULL);
	}
	test_alias_add(fx, "s@example.com", "b1@example.com", "t@example.com");
	test_resolve(fx, "s@example.com", 4, STORE_RCPT_LOCAL, 1, ids);
	assert_int_equal(ids[0], v);
}

static void
test_rcpt_resolve(void **state)
{
	struct fixture *fx = *state;
	enum store_rcpt_result res;
	const char *error = NULL;
	int64_t ids[4], alice;
	size_t n;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "alice@example.com");
	alice = test_user_id(fx, "alice@example.com");
	assert_true(alice > 0);

	test_resolve(fx, "ALICE@example.COM", 4, STORE_RCPT_LOCAL, 1, ids);
	assert_int_equal(ids[0], alice);
	test_resolve(fx, "bob@example.com", 4, STORE_RCPT_UNKNOWN, 0, ids);
	test_resolve(fx, "alice@example.org", 4, STORE_RCPT_NOT_HOSTED, 0,
	    ids);
	test_resolve(fx, "alice@sub.example.com", 4, STORE_RCPT_NOT_HOSTED, 0,
	    ids);
	assert_int_equal(store_rcpt_resolve(fx->store, "no-at-sign", ids, 4,
	    &n, &res, &error), -1);
	assert_int_equal(n, 0);
	assert_int_equal(store_rcpt_resolve(fx->store, "a@b@example.com", ids,
	    4, &n, &res, &error), -1);
}

static void
test_deliver(void **state)
{
	struct fixture *fx = *state;
	struct test_messages ml = { 0 };
	struct test_mailboxes mb = { 0 };
	const char *error = NULL;
	static const char body1[] = "Return-Path: <s@remote.example>\r\n"
	    "From: Sender <s@remote.example>\r\nSubject: one\r\n\r\nHello\r\n";
	static const char body2[] =
	    "Subject: two\r\n\r\nbinary \0\x01\xff ok\r\n";
	char body3[70000];
	int64_t alice, bob, carol, ab[2], b[1], ac[2], gone[2];
	struct store_delivery d1 = { 0 }, d2 = { 0 }, d3 = { 0 }, d4 = { 0 };
	struct store_delivery *batch[3] = { &d1, &d2, &d3 };
	struct store_delivery *batch2[1] = { &d4 };
	uint64_t size;
	char *got;
	int fd;

	for (size_t i = 0; i < sizeof(body3); i++)
		body3[i] = (char)('a' + i % 26);
	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "alice@example.com");
	test_add_user(fx, "bob@example.com");
	test_add_user(fx, "carol@example.com");
	alice = test_user_id(fx, "alice@example.com");
	bob = test_user_id(fx, "bob@example.com");
	carol = test_user_id(fx, "carol@example.com");
	ab[0] = alice;
	ab[1] = bob;
	b[0] = bob;
	ac[0] = alice;
	ac[1] = carol;

	d1.data = body1;
	d1.size = sizeof(body1) - 1;
	d1.users = ab;
	d1.n_users = 2;
	d1.mailbox = "INBOX";
	d1.internal_date = 1700000001;
	d1.envelope_from = "s@remote.example";
	d1.hdr_from = "Sender <s@remote.example>";
	d1.hdr_subject = "one";
	d1.hdr_date = "Tue, 14 Nov 2023 22:13:21 +0000";
	d2.data = body2;
	d2.size = sizeof(body2) - 1;
	d2.users = b;
	d2.n_users = 1;
	d2.mailbox = "inbox";
	d2.internal_date = 1700000002;
	d2.envelope_from = "";
	d3.data = body3;
	d3.size = sizeof(body3);
	d3.users = ac;
	d3.n_users = 2;
	d3.mailbox = "INBOX";
	d3.internal_date = 1700000003;
	d3.envelope_from = "t@remote.example";
	d3.hdr_subject = "three";
	d1.result = d2.result = d3.result = 99;

	if (store_deliver(fx->store, batch, 3, &error) < 0)
		fail_msg("store_deliver: %s", error);
	assert_int_equal(d1.result, 0);
	assert_int_equal(d2.result, 0);
	assert_int_equal(d3.result, 0);
	/* one blob per message, shared by its recipients */
	assert_int_equal(test_count_blobs(fx), 3);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 3);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM messages"), 5);

	/* alice: d1 then d3 */
	assert_int_equal(store_message_list(fx->store, "Alice@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 2);
	assert_int_equal(ml.m[0].uid, 1);
	assert_int_equal(ml.m[1].uid, 2);
	assert_true(ml.m[1].modseq > ml.m[0].modseq);
	assert_true(ml.m[0].modseq > 0);
	assert_int_equal(ml.m[0].size, sizeof(body1) - 1);
	assert_int_equal(ml.m[0].internal_date, 1700000001);
	assert_string_equal(ml.m[0].envelope_from, "s@remote.example");
	assert_string_equal(ml.m[0].from, "Sender <s@remote.example>");
	assert_string_equal(ml.m[0].subject, "one");
	assert_string_equal(ml.m[0].date, "Tue, 14 Nov 2023 22:13:21 +0000");
	assert_int_equal(ml.m[0].flags, 0);
	assert_int_equal(ml.m[1].size, sizeof(body3));
	assert_string_equal(ml.m[1].subject, "three");
	assert_string_equal(ml.m[1].from, "");
	/* bob: d1 then d2 (null sender, no header fields) */
	ml.count = 0;
	assert_int_equal(store_message_list(fx->store, "bob@example.com",
	    "inbox", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 2);
	assert_int_equal(ml.m[0].uid, 1);
	assert_int_equal(ml.m[1].uid, 2);
	assert_string_equal(ml.m[1].envelope_from, "");
	assert_false(ml.m[1].has_subject);
	/* carol: d3 only */
	ml.count = 0;
	assert_int_equal(store_message_list(fx->store, "carol@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 1);
	assert_int_equal(ml.m[0].uid, 1);
	ml.count = 0;
	assert_int_equal(store_message_list(fx->store, "carol@example.com",
	    "Sent", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 0);
	assert_int_equal(store_message_list(fx->store, "carol@example.com",
	    "Nope", test_message_cb, &ml, &error), -1);

	/* byte-exact bodies */
	got = test_read_message(fx, "alice@example.com", "INBOX", 1, &size);
	assert_int_equal(size, sizeof(body1) - 1);
	assert_memory_equal(got, body1, size);
	free(got);
	got = test_read_message(fx, "bob@example.com", "INBOX", 2, &size);
	assert_int_equal(size, sizeof(body2) - 1);
	assert_memory_equal(got, body2, size);
	free(got);
	got = test_read_message(fx, "carol@example.com", "INBOX", 1, &size);
	assert_int_equal(size, sizeof(body3));
	assert_memory_equal(got, body3, size);
	free(got);
	assert_int_equal(store_message_open(fx->store, "alice@example.com",
	    "INBOX", 3, &fd, &size, &error), 1);
	assert_int_equal(store_message_open(fx->store, "alice@example.com",
	    "Sent", 1, &fd, &size, &error), 1);
	assert_int_equal(store_message_open(fx->store, "dave@example.com",
	    "INBOX", 1, &fd, &size, &error), 1);

	/* counts and bytes per mailbox; UIDNEXT moved on */
	assert_int_equal(store_mailbox_list(fx->store, "alice@example.com",
	    test_mailbox_cb, &mb, &error), 0);
	assert_string_equal(mb.mb[0].name, "INBOX");
	assert_int_equal(mb.mb[0].messages, 2);
	assert_int_equal(mb.mb[0].bytes, sizeof(body1) - 1 + sizeof(body3));
	assert_int_equal(mb.mb[0].uidnext, 3);

	/* another batch: Junk has its own UIDs; a deleted user is skipped */
	gone[0] = alice;
	gone[1] = 999999;
	d4 = d1;
	d4.users = gone;
	d4.mailbox = "Junk";
	assert_int_equal(store_deliver(fx->store, batch2, 1, &error), 0);
	assert_int_equal(d4.result, 0);
	ml.count = 0;
	assert_int_equal(store_message_list(fx->store, "alice@example.com",
	    "Junk", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 1);
	assert_int_equal(ml.m[0].uid, 1);
	assert_int_equal(test_count_blobs(fx), 4);

	/* only deleted users: accepted, but nothing (not even a blob) kept */
	gone[0] = 999998;
	d4.n_users = 1;
	assert_int_equal(store_deliver(fx->store, batch2, 1, &error), 0);
	assert_int_equal(d4.result, 0);
	assert_int_equal(test_count_blobs(fx), 4);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 4);

	/* a mailbox the user no longer has: delivered to INBOX */
	test_db_exec(fx, "DELETE FROM mailboxes WHERE name = 'Junk' AND"
	    " user_id = (SELECT id FROM users WHERE address ="
	    " 'carol@example.com')");
	gone[0] = carol;
	assert_int_equal(store_deliver(fx->store, batch2, 1, &error), 0);
	assert_int_equal(d4.result, 0);
	ml.count = 0;
	assert_int_equal(store_message_list(fx->store, "carol@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 2);
	assert_int_equal(ml.m[1].uid, 2);

	/* an invalid delivery fails alone */
	d4.mailbox = NULL;
	d1.result = 99;
	batch[0] = &d4;
	batch[1] = &d1;
	assert_int_equal(store_deliver(fx->store, batch, 2, &error), -1);
	assert_non_null(strstr(error, "1 of 2"));
	assert_string_equal(d4.error, "invalid delivery");
	assert_int_equal(d4.result, -1);
	assert_non_null(d4.error);
	assert_int_equal(d1.result, 0);
}

static void
test_deliver_fails_cleanly(void **state)
{
	struct fixture *fx = *state;
	struct test_messages ml = { 0 };
	const char *error = NULL;
	char path[256];
	struct store_delivery d1 = { 0 }, d2 = { 0 };
	struct store_delivery *batch[2] = { &d1, &d2 };
	int64_t alice;
	sqlite3 *db;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "alice@example.com");
	alice = test_user_id(fx, "alice@example.com");
	d1.data = "x\r\n";
	d1.size = 3;
	d1.users = &alice;
	d1.n_users = 1;
	d1.mailbox = "INBOX";
	d1.envelope_from = "";
	d2 = d1;

	/* Another connection holds the write lock past busy_timeout: the
	 * transaction cannot start, so every delivery fails and its blob
	 * file is removed. */
	snprintf(path, sizeof(path), "%s/correio.db", fx->data);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(store_deliver(fx->store, batch, 2, &error), -1);
	assert_int_equal(d1.result, -1);
	assert_int_equal(d2.result, -1);
	assert_string_equal(d1.error, "cannot start transaction");
	assert_string_equal(d2.error, "cannot start transaction");
	assert_non_null(strstr(error, "2 of 2"));
	assert_int_equal(test_count_blobs(fx), 0);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	/* and the store works afterwards */
	assert_int_equal(store_deliver(fx->store, batch, 2, &error), 0);
	assert_int_equal(store_message_list(fx->store, "alice@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 2);
	assert_int_equal(ml.m[0].uid, 1);
	assert_int_equal(test_count_blobs(fx), 2);
}

static void
test_user_del_blobs(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	struct store_delivery d1 = { 0 }, d2 = { 0 };
	struct store_delivery *batch[2] = { &d1, &d2 };
	int64_t ab[2];
	uint64_t size;
	char *got;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "alice@example.com");
	test_add_user(fx, "bob@example.com");
	ab[0] = test_user_id(fx, "alice@example.com");
	ab[1] = test_user_id(fx, "bob@example.com");
	/* d1 to both, d2 to alice only */
	d1.data = "shared\r\n";
	d1.size = 8;
	d1.users = ab;
	d1.n_users = 2;
	d1.mailbox = "INBOX";
	d1.envelope_from = "";
	d2 = d1;
	d2.data = "alice only\r\n";
	d2.size = 12;
	d2.n_users = 1;
	assert_int_equal(store_deliver(fx->store, batch, 2, &error), 0);
	assert_int_equal(test_count_blobs(fx), 2);

	assert_int_equal(store_user_del(fx->store, "ALICE@example.com",
	    &error), 0);
	assert_int_equal(test_count_blobs(fx), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM mailboxes"), 6);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM messages"), 1);
	test_resolve(fx, "alice@example.com", 4, STORE_RCPT_UNKNOWN, 0, ab);
	assert_int_equal(store_user_del(fx->store, "alice@example.com",
	    &error), -1);
	got = test_read_message(fx, "bob@example.com", "INBOX", 1, &size);
	assert_int_equal(size, 8);
	assert_memory_equal(got, "shared\r\n", 8);
	free(got);

	assert_int_equal(store_user_del(fx->store, "bob@example.com", &error),
	    0);
	assert_int_equal(test_count_blobs(fx), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM mailboxes"), 0);
}

static void
test_reopen(void **state)
{
	struct fixture *fx = *state;
	struct test_list l = { 0 };
	struct test_messages ml = { 0 };
	struct test_mailboxes m1 = { 0 }, m2 = { 0 };
	const char *error = NULL;
	struct store_delivery d = { 0 };
	struct store_delivery *batch[1] = { &d };
	int64_t alice;
	uint64_t size;
	char *got;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	assert_int_equal(store_user_add(fx->store, "alice@example.com", "pw",
	    &error), 0);
	test_alias_add(fx, "info@example.com", "alice@example.com", NULL);
	alice = test_user_id(fx, "alice@example.com");
	d.data = "persisted\r\n";
	d.size = 11;
	d.users = &alice;
	d.n_users = 1;
	d.mailbox = "INBOX";
	d.envelope_from = "x@y.example";
	d.hdr_subject = "kept";
	assert_int_equal(store_deliver(fx->store, batch, 1, &error), 0);
	assert_int_equal(store_mailbox_list(fx->store, "alice@example.com",
	    test_mailbox_cb, &m1, &error), 0);

	store_close(&fx->store);
	assert_null(fx->store);
	if (store_open(fx->data, &fx->store, &error) < 0)
		fail_msg("store_open: %s", error);

	assert_int_equal(store_domain_exists(fx->store, "example.com", &error),
	    1);
	assert_int_equal(store_user_check_password(fx->store,
	    "alice@example.com", "pw", &error), 1);
	assert_int_equal(store_alias_list(fx->store, NULL, test_alias_cb, &l,
	    &error), 0);
	assert_int_equal(l.count, 1);
	test_list_free(&l);
	assert_int_equal(store_mailbox_list(fx->store, "alice@example.com",
	    test_mailbox_cb, &m2, &error), 0);
	assert_int_equal(m2.count, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(m1.mb[i].uidvalidity, m2.mb[i].uidvalidity);
	assert_int_equal(store_message_list(fx->store, "alice@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 1);
	assert_string_equal(ml.m[0].subject, "kept");
	got = test_read_message(fx, "alice@example.com", "INBOX", 1, &size);
	assert_int_equal(size, 11);
	assert_memory_equal(got, "persisted\r\n", 11);
	free(got);

	/* UIDs go on from where they were */
	assert_int_equal(store_deliver(fx->store, batch, 1, &error), 0);
	ml.count = 0;
	assert_int_equal(store_message_list(fx->store, "alice@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 2);
	assert_int_equal(ml.m[1].uid, 2);
}

/* The server uses two connections (loop and delivery thread): each sees
 * the other's commits at once (no statement left holding a snapshot). */
static void
test_two_connections(void **state)
{
	struct fixture *fx = *state;
	struct test_messages ml = { 0 };
	struct store *other = NULL;
	const char *error = NULL;
	struct store_delivery d = { 0 };
	struct store_delivery *batch[1] = { &d };
	int64_t ids[4];

	if (store_open(fx->data, &other, &error) < 0)
		fail_msg("store_open: %s", error);
	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_resolve(fx, "a@example.com", 4, STORE_RCPT_UNKNOWN, 0, ids);
	assert_int_equal(store_domain_exists(other, "example.com", &error), 1);
	assert_int_equal(store_user_add(other, "a@example.com", "pw", &error),
	    0);
	test_resolve(fx, "a@example.com", 4, STORE_RCPT_LOCAL, 1, ids);

	d.data = "hi\r\n";
	d.size = 4;
	d.users = ids;
	d.n_users = 1;
	d.mailbox = "INBOX";
	d.envelope_from = "";
	assert_int_equal(store_message_list(fx->store, "a@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 0);
	assert_int_equal(store_deliver(other, batch, 1, &error), 0);
	assert_int_equal(store_message_list(fx->store, "a@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 1);
	assert_int_equal(store_user_del(fx->store, "a@example.com", &error),
	    0);
	assert_int_equal(store_user_check_password(other, "a@example.com",
	    "pw", &error), 0);
	store_close(&other);
}

/* A delivery records its DMARC evaluation in the same transaction (schema
 * 9); a delivery that stores nothing records nothing. */
static void
test_dmarc_row(void **state)
{
	struct fixture *fx = *state;
	const struct store_dmarc_row row = {
		.time = 1700000000, .source_ip = "192.0.2.1",
		.header_from = "sub.example.org",
		.policy_domain = "example.org", .policy = "quarantine",
		.pct = 100, .disposition = "quarantine", .dmarc = "fail",
		.dkim = "", .spf_domain = "example.org", .spf = "fail",
	};
	static const char body[] = "Subject: a\r\n\r\nx\r\n";
	struct store_delivery d, *batch[1] = { &d };
	const char *error = NULL;
	int64_t alice, nobody = 999999;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "alice@example.com");
	alice = test_user_id(fx, "alice@example.com");
	memset(&d, 0, sizeof(d));
	d.data = body;
	d.size = strlen(body);
	d.users = &alice;
	d.n_users = 1;
	d.mailbox = "Junk";
	d.internal_date = 1700000000;
	d.envelope_from = "";
	d.dmarc = &row;
	assert_int_equal(store_deliver(fx->store, batch, 1, &error), 0);
	assert_int_equal(d.result, 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM dmarc_results"
	    " WHERE header_from = 'sub.example.org' AND policy_domain ="
	    " 'example.org' AND disposition = 'quarantine' AND pct = 100"), 1);
	d.users = &nobody;
	assert_int_equal(store_deliver(fx->store, batch, 1, &error), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM dmarc_results"),
	    1);
}

/* store_open(".") after chdir, as the server does */
static void
test_open_dot(void **state)
{
	struct fixture *fx = *state;
	struct store *store = NULL;
	const char *error = NULL;
	char cwd[PATH_MAX];
	struct stat st;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	store_close(&fx->store);
	assert_int_equal(chdir(fx->data), 0);
	if (store_open(".", &store, &error) < 0) {
		assert_int_equal(chdir(cwd), 0);
		fail_msg("store_open: %s", error);
	}
	assert_int_equal(store_domain_exists(store, "example.com", &error), 1);
	store_close(&store);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(stat(fx->data, &st), 0);
	if (store_open(fx->data, &fx->store, &error) < 0)
		fail_msg("store_open: %s", error);

	/* a data dir whose parent does not exist is an error */
	assert_int_equal(store_open("/nonexistent/dir/data", &store, &error),
	    -1);
	assert_null(store);
	assert_non_null(error);
}

/* Records expunged UIDs (store_mailbox_changes). */
struct test_expunged {
	size_t count;
	uint32_t uids[16];
};

static void
test_expunged_cb(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct test_expunged *e = ctx;

	(void)modseq;
	assert_true(e->count < 16);
	e->uids[e->count++] = uid;
}

/* store_expunge_uids (POP3 at QUIT): exactly the UIDs given, \Deleted
 * or not, with tombstones like store_expunge; store_expunge still takes
 * only \Deleted messages. */
static void
test_expunge_uids(void **state)
{
	struct fixture *fx = *state;
	struct test_messages ml = { 0 };
	struct test_expunged ex = { 0 };
	struct store_mailbox_state mb;
	struct store_flags_change fc = { 0 };
	const char *error = NULL;
	static const char body[] = "Subject: x\r\n\r\nbody\r\n";
	static const uint32_t two[2] = { 2, 2 };
	/* 1, 3 and 4, and 9 which does not exist */
	static const uint32_t pick[6] = { 1, 1, 3, 4, 9, 9 };
	struct store_delivery d[5], *batch[5];
	uint64_t modseq;
	int64_t alice;
	size_t n = 99;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "alice@example.com");
	alice = test_user_id(fx, "alice@example.com");
	memset(d, 0, sizeof(d));
	for (size_t i = 0; i < 5; i++) {
		d[i].data = body;
		d[i].size = sizeof(body) - 1;
		d[i].users = &alice;
		d[i].n_users = 1;
		d[i].mailbox = "INBOX";
		d[i].internal_date = 1700000000;
		d[i].envelope_from = "";
		batch[i] = &d[i];
	}
	assert_int_equal(store_deliver(fx->store, batch, 5, &error), 0);
	assert_int_equal(store_mailbox_get(fx->store, alice, "INBOX", &mb,
	    &error), 0);
	modseq = mb.highestmodseq;
	/* \Deleted on 2 only */
	fc.mailbox_id = mb.id;
	fc.ranges = two;
	fc.n_ranges = 1;
	fc.mode = STORE_FLAGS_ADD;
	fc.flags = STORE_FLAG_DELETED;
	assert_int_equal(store_flags_update(fx->store, &fc, &error), 0);
	free(fc.modified);

	/* no ranges: nothing, not the whole mailbox */
	assert_int_equal(store_expunge_uids(fx->store, mb.id, NULL, 0, &n,
	    &error), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_expunge_uids(fx->store, mb.id, pick, 3, &n,
	    &error), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_message_list(fx->store, "alice@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 2);
	assert_int_equal(ml.m[0].uid, 2);
	assert_int_equal(ml.m[1].uid, 5);
	/* IMAP sessions learn of them as expunged */
	assert_int_equal(store_mailbox_changes(fx->store, mb.id, modseq, &mb,
	    NULL, test_expunged_cb, &ex, &error), 0);
	assert_int_equal(ex.count, 3);
	assert_int_equal(ex.uids[0], 1);
	assert_int_equal(ex.uids[1], 3);
	assert_int_equal(ex.uids[2], 4);
	/* again: they are gone, nothing happens */
	assert_int_equal(store_expunge_uids(fx->store, mb.id, pick, 3, &n,
	    &error), 0);
	assert_int_equal(n, 0);
	/* store_expunge of everything takes only the \Deleted one */
	assert_int_equal(store_expunge(fx->store, mb.id, NULL, 0, &n, &error),
	    0);
	assert_int_equal(n, 1);
	ml.count = 0;
	assert_int_equal(store_message_list(fx->store, "alice@example.com",
	    "INBOX", test_message_cb, &ml, &error), 0);
	assert_int_equal(ml.count, 1);
	assert_int_equal(ml.m[0].uid, 5);
	/* a mailbox that does not exist has nothing to expunge */
	assert_int_equal(store_expunge_uids(fx->store, mb.id + 1000, pick, 1,
	    &n, &error), 0);
	assert_int_equal(n, 0);
}

/* Collects (uid, size) pairs; stops after `stop` of them if set. */
struct test_sizes {
	size_t count, stop;
	uint32_t uids[16];
	uint64_t sizes[16];
};

static int
test_sizes_cb(void *ctx, uint32_t uid, uint64_t size)
{
	struct test_sizes *t = ctx;

	assert_true(t->count < 16);
	t->uids[t->count] = uid;
	t->sizes[t->count] = size;
	t->count++;
	return t->stop != 0 && t->count == t->stop ? -1 : 0;
}

/* store_message_sizes (the POP3 maildrop): every message, by UID, with
 * its stored size, and nothing of other mailboxes. */
static void
test_message_sizes(void **state)
{
	struct fixture *fx = *state;
	struct test_sizes ts = { 0 };
	struct store_mailbox_state mb, junk;
	const char *error = NULL;
	static const char *const bodies[3] = { "Subject: a\r\n\r\nx\r\n",
	    "Subject: bb\r\n\r\nyy\r\n", "Subject: ccc\r\n\r\nzzz\r\n" };
	static const uint32_t two[2] = { 2, 2 };
	struct store_delivery d[4], *batch[4];
	int64_t alice;
	size_t n;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "alice@example.com");
	alice = test_user_id(fx, "alice@example.com");
	memset(d, 0, sizeof(d));
	for (size_t i = 0; i < 4; i++) {
		d[i].data = bodies[i % 3];
		d[i].size = strlen(bodies[i % 3]);
		d[i].users = &alice;
		d[i].n_users = 1;
		d[i].mailbox = i == 3 ? "Junk" : "INBOX";
		d[i].internal_date = 1700000000;
		d[i].envelope_from = "";
		batch[i] = &d[i];
	}
	assert_int_equal(store_deliver(fx->store, batch, 4, &error), 0);
	assert_int_equal(store_mailbox_get(fx->store, alice, "INBOX", &mb,
	    &error), 0);
	assert_int_equal(store_mailbox_get(fx->store, alice, "Junk", &junk,
	    &error), 0);
	assert_int_equal(store_expunge_uids(fx->store, mb.id, two, 1, &n,
	    &error), 0);
	assert_int_equal(store_message_sizes(fx->store, mb.id, test_sizes_cb,
	    &ts, &error), 0);
	assert_int_equal(ts.count, 2);
	assert_int_equal(ts.uids[0], 1);
	assert_int_equal(ts.sizes[0], strlen(bodies[0]));
	assert_int_equal(ts.uids[1], 3);
	assert_int_equal(ts.sizes[1], strlen(bodies[2]));
	/* the callback can stop it */
	memset(&ts, 0, sizeof(ts));
	ts.stop = 1;
	assert_int_equal(store_message_sizes(fx->store, mb.id, test_sizes_cb,
	    &ts, &error), 0);
	assert_int_equal(ts.count, 1);
	memset(&ts, 0, sizeof(ts));
	assert_int_equal(store_message_sizes(fx->store, junk.id, test_sizes_cb,
	    &ts, &error), 0);
	assert_int_equal(ts.count, 1);
	assert_int_equal(ts.sizes[0], strlen(bodies[0]));
	memset(&ts, 0, sizeof(ts));
	assert_int_equal(store_message_sizes(fx->store, junk.id + 1000,
	    test_sizes_cb, &ts, &error), 0);
	assert_int_equal(ts.count, 0);
}

/* Collects queue entries for test_queue. */
struct test_queue {
	int count;
	int64_t ids[8];
	size_t n_rcpts[8];
	char first_rcpt[8][64];
};

static int
test_queue_cb(void *ctx, const struct store_queue_info *q)
{
	struct test_queue *tq = ctx;

	assert_true(tq->count < 8);
	tq->ids[tq->count] = q->id;
	tq->n_rcpts[tq->count] = q->n_rcpts;
	snprintf(tq->first_rcpt[tq->count], 64, "%s",
	    q->n_rcpts > 0 ? q->rcpts[0].address : "");
	assert_string_equal(q->sender, "alice@example.com");
	tq->count++;
	return 0;
}

/* The queue shares blobs with local copies: neither deleting the local
 * copies nor the queue entry removes a blob the other still uses. */
static void
test_queue(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	const char *rcpts[] = { "Far@Remote.Example", "x@remote.example",
	    "x@remote.example" };
	struct store_queue_entry q1 = { 0 }, q2 = { 0 };
	struct store_delivery d1 = { 0 }, d2 = { 0 };
	struct store_delivery *batch[2] = { &d1, &d2 };
	struct test_queue tq = { 0 };
	int64_t bob;
	uint64_t size, offset;
	size_t n;
	int fd;

	assert_int_equal(store_domain_add(fx->store, "example.com", &error), 0);
	test_add_user(fx, "bob@example.com");
	bob = test_user_id(fx, "bob@example.com");
	q1.sender = "alice@example.com";
	q1.rcpts = rcpts;
	q1.n_rcpts = 3;		/* one twice: kept once */
	q1.data_offset = 4;
	/* d1: bob and the queue; d2: the queue only */
	d1.data = "RP\r\nshared\r\n";
	d1.size = 12;
	d1.users = &bob;
	d1.n_users = 1;
	d1.mailbox = "INBOX";
	d1.envelope_from = "alice@example.com";
	d1.queue = &q1;
	d2 = d1;
	d2.users = NULL;
	d2.n_users = 0;
	q2 = q1;
	q2.n_rcpts = 1;
	d2.queue = &q2;
	assert_int_equal(store_deliver(fx->store, batch, 2, &error), 0);
	assert_true(q1.id_r > 0 && q2.id_r > q1.id_r);
	assert_int_equal(test_count_blobs(fx), 2);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM queue_rcpts"), 3);
	/* the queue-only blob is never indexed for SEARCH */
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"
	    " WHERE indexed = 0"), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM queue_rcpts"
	    " WHERE domain = 'remote.example'"), 3);

	assert_int_equal(store_queue_list(fx->store, 0, test_queue_cb, &tq,
	    &error), 0);
	assert_int_equal(tq.count, 2);
	assert_int_equal(tq.n_rcpts[0], 2);
	assert_string_equal(tq.first_rcpt[0], "Far@Remote.Example");
	assert_int_equal(store_queue_list(fx->store, 9999, test_queue_cb, &tq,
	    &error), STORE_E_NOTFOUND);

	assert_int_equal(store_queue_open(fx->store, q1.id_r, &fd, &size,
	    &offset, &error), 0);
	assert_int_equal(size, 12);
	assert_int_equal(offset, 4);
	close(fd);

	/* the local copy goes: the blob stays for the queue */
	assert_int_equal(store_user_del(fx->store, "bob@example.com", &error),
	    0);
	assert_int_equal(test_count_blobs(fx), 2);
	assert_int_equal(store_queue_open(fx->store, q1.id_r, &fd, &size,
	    &offset, &error), 0);
	close(fd);

	assert_int_equal(store_queue_flush(fx->store, 0, 1, &n, &error), 0);
	assert_int_equal(n, 3);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM queue_rcpts"
	    " WHERE next_attempt = 1"), 3);
	assert_int_equal(store_queue_flush(fx->store, 9999, 1, &n, &error),
	    STORE_E_NOTFOUND);

	assert_int_equal(store_queue_delete(fx->store, q1.id_r, &error), 0);
	assert_int_equal(test_count_blobs(fx), 1);
	assert_int_equal(store_queue_delete(fx->store, q1.id_r, &error),
	    STORE_E_NOTFOUND);
	assert_int_equal(store_queue_delete(fx->store, q2.id_r, &error), 0);
	assert_int_equal(test_count_blobs(fx), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM queue_rcpts"), 0);
}

static int
test_due_cb(void *ctx, const struct store_queue_due *due)
{
	int *flags = ctx;

	/* bit 0: the ASCII entry's flag, bit 1: the UTF-8 one's */
	if (strcmp(due->address, "plain@remote.example") == 0)
		*flags |= due->smtputf8 ? 1 : 0;
	else if (strcmp(due->address, "jos\xc3\xa9@remote.example") == 0)
		*flags |= due->smtputf8 ? 2 : 0;
	else
		fail_msg("unexpected due address %s", due->address);
	*flags |= 4;
	return 0;
}

static int
test_utf8_list_cb(void *ctx, const struct store_queue_info *q)
{
	int *n_utf8 = ctx;

	*n_utf8 += q->smtputf8 ? 1 : 0;
	return 0;
}

/* Schema 8: a queue entry keeps its SMTPUTF8 flag for the deliverer; and
 * a connection's data_version moves with another connection's commit
 * (the queue runner notices sendmail that way), not with its own. */
static void
test_queue_smtputf8_and_data_version(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	const char *plain[] = { "plain@remote.example" };
	const char *utf8[] = { "jos\xc3\xa9@remote.example" };
	struct store_queue_entry q1 = { 0 }, q2 = { 0 };
	struct store_delivery d1 = { 0 }, d2 = { 0 };
	struct store_delivery *batch[2] = { &d1, &d2 };
	struct store *other = NULL;
	int64_t v1, v2, v3;
	int flags = 0, n_utf8 = 0;

	assert_int_equal(store_data_version(fx->store, &v1, &error), 0);
	assert_int_equal(store_open(fx->data, &other, &error), 0);
	q1.sender = "alice@example.com";
	q1.rcpts = plain;
	q1.n_rcpts = 1;
	q2 = q1;
	q2.rcpts = utf8;
	q2.smtputf8 = true;
	d1.data = "Subject: x\r\n\r\nhi\r\n";
	d1.size = strlen(d1.data);
	d1.mailbox = "INBOX";
	d1.envelope_from = "alice@example.com";
	d1.queue = &q1;
	d2 = d1;
	d2.queue = &q2;
	/* written by the other connection, as sendmail would */
	assert_int_equal(store_deliver(other, batch, 2, &error), 0);
	assert_int_equal(store_data_version(fx->store, &v2, &error), 0);
	assert_true(v2 != v1);
	assert_int_equal(store_queue_due(fx->store, time(NULL) + 1, 10,
	    test_due_cb, &flags, &error), 0);
	assert_int_equal(flags, 2 | 4);
	assert_int_equal(store_queue_list(fx->store, 0, test_utf8_list_cb,
	    &n_utf8, &error), 0);
	assert_int_equal(n_utf8, 1);
	/* its own reads and writes do not move it */
	assert_int_equal(store_queue_delete(fx->store, q1.id_r, &error), 0);
	assert_int_equal(store_data_version(fx->store, &v3, &error), 0);
	assert_true(v3 == v2);
	store_close(&other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_domain, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_user_add, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_uidvalidity_not_reused,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_password, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_alias, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_alias_depth, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_alias_cycle_mesh,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_alias_depth_shortest,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_resolve, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_deliver, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_deliver_fails_cleanly,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_user_del_blobs, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_reopen, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_two_connections,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_expunge_uids, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_message_sizes, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_dmarc_row, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_open_dot, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(
		    test_queue_smtputf8_and_data_version, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_queue, test_setup,
		    test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
