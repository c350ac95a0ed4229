/*
 * test_quarantine.c - unit tests of held mail: the store's quarantine
 * (store/store-quarantine.c and the hold path of store_deliver) and
 * filter/quarantine.c (tokens, release addresses, the digest, the secret
 * file).
 *
 * Each test opens a store in a fresh mkdtemp() directory and checks
 * results through store.h, the blob files on disk and, where the
 * interface does not show it, the database itself.
 *
 * SECURITY: test code; the inputs are ours, some of them hostile on
 * purpose (encoded control characters in a subject, forged tokens).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "filter/quarantine.h"
#include "store/store.h"

#define TEST_HELD_MAX 16

struct fixture {
	char dir[64];
	char data[128];
	struct store *store;
	int64_t alice, bob;
	struct quarantine_secret secret;
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

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_quarantine.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->data, sizeof(fx->data), "%s/data", fx->dir);
	if (store_open(fx->data, &fx->store, &error) < 0 ||
	    store_domain_add(fx->store, "example.com", &error) < 0 ||
	    store_user_add(fx->store, "alice@example.com", "secret1",
	    &error) < 0 ||
	    store_user_add(fx->store, "bob@example.com", "secret2",
	    &error) < 0 ||
	    store_user_lookup(fx->store, "alice@example.com", &fx->alice,
	    &error) != 1 ||
	    store_user_lookup(fx->store, "bob@example.com", &fx->bob,
	    &error) != 1) {
		fprintf(stderr, "setup: %s\n", error);
		return -1;
	}
	memset(&fx->secret, 0x42, sizeof(fx->secret));
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

/* Regular files under DATA/blobs. */
static int
test_count_blobs(const struct fixture *fx)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/blobs", fx->data);
	test_file_count = 0;
	assert_int_equal(nftw(path, test_count_entry, 16, FTW_PHYS), 0);
	return test_file_count;
}

/* A one-integer query, from a separate connection. */
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

/* Holds data for users (n of them) with expiry expires; ids_r gets the
 * quarantine ids. */
static void
test_hold(struct fixture *fx, const char *data, const int64_t *users,
    size_t n, time_t expires, double score, int64_t *ids_r)
{
	struct store_quarantine_hold h = { 0 };
	struct store_delivery d = { 0 };
	struct store_delivery *batch[1] = { &d };
	const char *error = NULL;

	h.score = score;
	h.symbols = "GTUBE(1000.00) MISSING_DATE(1.00)";
	h.reason = "spam";
	h.peer = "192.0.2.7";
	h.expires = expires;
	h.ids_r = ids_r;
	d.data = data;
	d.size = strlen(data);
	d.users = users;
	d.n_users = n;
	d.internal_date = time(NULL) - 100;
	d.envelope_from = "spammer@remote.example";
	d.hdr_from = "Spammer <spammer@remote.example>";
	d.hdr_subject = "Cheap";
	d.hdr_date = "Mon, 7 Dec 2026 01:00:00 +0000";
	d.quarantine = &h;
	if (store_deliver(fx->store, batch, 1, &error) < 0)
		fail_msg("hold: %s", error);
	assert_int_equal(d.result, 0);
}

struct test_held {
	size_t n;
	struct store_quarantine_info v[TEST_HELD_MAX];
	char rcpt[TEST_HELD_MAX][64];
	char symbols[TEST_HELD_MAX][64];
};

static int
test_held_cb(void *ctx, const struct store_quarantine_info *q)
{
	struct test_held *h = ctx;

	assert_true(h->n < TEST_HELD_MAX);
	h->v[h->n] = *q;
	snprintf(h->rcpt[h->n], sizeof(h->rcpt[0]), "%s", q->rcpt);
	snprintf(h->symbols[h->n], sizeof(h->symbols[0]), "%s", q->symbols);
	h->n++;
	return 0;
}

static size_t
test_count_held(struct fixture *fx, int64_t user_id, unsigned flags)
{
	struct test_held h = { 0 };
	const char *error = NULL;

	assert_int_equal(store_quarantine_list(fx->store, user_id, flags, 0,
	    test_held_cb, &h, &error), 0);
	return h.n;
}

/* The last message of a listing, its strings copied. */
struct test_message {
	uint32_t uid;
	unsigned flags;
	char subject[64], date[64], sender[64];
};

static int
test_message_cb(void *ctx, const struct store_message_info *m)
{
	struct test_message *out = ctx;

	out->uid = m->uid;
	out->flags = m->flags;
	snprintf(out->subject, sizeof(out->subject), "%s",
	    m->hdr_subject != NULL ? m->hdr_subject : "(null)");
	snprintf(out->date, sizeof(out->date), "%s",
	    m->hdr_date != NULL ? m->hdr_date : "(null)");
	snprintf(out->sender, sizeof(out->sender), "%s", m->envelope_from);
	return 0;
}

/* --- the store --- */

/* A held delivery writes a blob and quarantine rows, no message rows,
 * in the same batch as an ordinary delivery. */
static void
test_hold_list_get(void **state)
{
	struct fixture *fx = *state;
	const char *msg = "Subject: Cheap\r\n\r\nbuy\r\n", *error = NULL;
	struct store_quarantine_hold h = { 0 };
	struct store_delivery d1 = { 0 }, d2 = { 0 };
	struct store_delivery *batch[2] = { &d1, &d2 };
	struct test_held held = { 0 };
	int64_t both[2] = { fx->alice, fx->bob }, ids[2] = { -1, -1 };
	time_t now = time(NULL);
	char *data;
	int fd;

	d1.data = "Subject: hi\r\n\r\nhello\r\n";
	d1.size = strlen(d1.data);
	d1.users = both;
	d1.n_users = 1;
	d1.mailbox = "INBOX";
	d1.envelope_from = "";
	h.score = 12.5;
	h.symbols = "GTUBE(1000.00)";
	h.reason = "spam";
	h.peer = "192.0.2.7";
	h.expires = now + 3600;
	h.ids_r = ids;
	d2.data = msg;
	d2.size = strlen(msg);
	d2.users = both;
	d2.n_users = 2;
	d2.mailbox = NULL;		/* ignored when held */
	d2.envelope_from = "x@remote.example";
	d2.hdr_subject = "Cheap";
	d2.quarantine = &h;
	assert_int_equal(store_deliver(fx->store, batch, 2, &error), 0);
	assert_int_equal(d1.result, 0);
	assert_int_equal(d2.result, 0);
	assert_true(ids[0] > 0);
	assert_true(ids[1] > ids[0]);
	assert_int_equal(test_count_blobs(fx), 2);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM messages"), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM quarantine"), 2);

	/* all users, newest first */
	assert_int_equal(store_quarantine_list(fx->store, 0, 0, 0,
	    test_held_cb, &held, &error), 0);
	assert_int_equal(held.n, 2);
	assert_int_equal(held.v[0].id, ids[1]);
	assert_int_equal(held.v[1].id, ids[0]);
	assert_string_equal(held.rcpt[0], "bob@example.com");
	assert_string_equal(held.rcpt[1], "alice@example.com");
	assert_string_equal(held.symbols[1], "GTUBE(1000.00)");
	assert_true(held.v[1].score > 12.49 && held.v[1].score < 12.51);
	assert_int_equal(held.v[1].expires, now + 3600);
	assert_true(held.v[1].created >= now && held.v[1].created <= now + 5);
	assert_int_equal(held.v[1].size, strlen(msg));
	assert_false(held.v[1].digested);
	/* one user's; and a limit */
	assert_int_equal(test_count_held(fx, fx->alice, 0), 1);
	memset(&held, 0, sizeof(held));
	assert_int_equal(store_quarantine_list(fx->store, 0, 0, 1,
	    test_held_cb, &held, &error), 0);
	assert_int_equal(held.n, 1);

	/* get: the bytes of the blob; owner checked */
	assert_int_equal(store_quarantine_get(fx->store, ids[0], fx->alice,
	    NULL, NULL, &fd, &error), 0);
	assert_int_equal(store_read_range(fd, 0, strlen(msg), &data), 0);
	assert_string_equal(data, msg);
	free(data);
	close(fd);
	assert_int_equal(store_quarantine_get(fx->store, ids[0], fx->bob,
	    NULL, NULL, &fd, &error), STORE_E_NOTFOUND);
	assert_int_equal(store_quarantine_get(fx->store, ids[1] + 1, 0,
	    NULL, NULL, NULL, &error), STORE_E_NOTFOUND);
}

/* A held user deleted meanwhile is skipped (id 0); all gone: no blob. */
static void
test_hold_user_gone(void **state)
{
	struct fixture *fx = *state;
	int64_t users[2] = { fx->alice, 9999 }, ids[2] = { -1, -1 };
	int64_t gone[1] = { 9999 }, id1[1] = { -1 };

	test_hold(fx, "x\r\n", users, 2, time(NULL) + 60, 1, ids);
	assert_true(ids[0] > 0);
	assert_int_equal(ids[1], 0);
	test_hold(fx, "y\r\n", gone, 1, time(NULL) + 60, 1, id1);
	assert_int_equal(id1[0], 0);
	assert_int_equal(test_count_blobs(fx), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 1);
}

/* Release: a message row in INBOX on the same blob, the row gone, the
 * next UID and MODSEQ; only the owner's, once. */
static void
test_release(void **state)
{
	struct fixture *fx = *state;
	const char *msg = "Subject: Cheap\r\n\r\nnot spam after all\r\n";
	const char *error = NULL;
	struct store_mailbox_state before, after;
	struct test_message info = { 0 };
	int64_t both[2] = { fx->alice, fx->bob }, ids[2], owner = 0;
	uint32_t uid = 0;
	uint64_t size;
	char buf[128];
	ssize_t n;
	int fd;

	test_hold(fx, msg, both, 2, time(NULL) + 60, 11, ids);
	assert_int_equal(test_db_int(fx, "SELECT indexed FROM blobs"), 2);
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "INBOX",
	    &before, &error), 0);
	/* bob cannot release alice's */
	assert_int_equal(store_quarantine_release(fx->store, ids[0], fx->bob,
	    NULL, NULL, &error), STORE_E_NOTFOUND);
	assert_int_equal(store_quarantine_release(fx->store, ids[0],
	    fx->alice, &owner, &uid, &error), 0);
	assert_int_equal(owner, fx->alice);
	assert_int_equal(uid, before.uidnext);
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "INBOX",
	    &after, &error), 0);
	assert_int_equal(after.messages, before.messages + 1);
	assert_int_equal(after.uidnext, before.uidnext + 1);
	assert_true(after.highestmodseq > before.highestmodseq);
	assert_int_equal(after.unseen, before.unseen + 1);
	/* the message as it arrived, with its cached header values */
	assert_int_equal(store_message_open(fx->store, "alice@example.com",
	    "INBOX", uid, &fd, &size, &error), 0);
	assert_int_equal(size, strlen(msg));
	n = read(fd, buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	close(fd);
	assert_int_equal(store_message_list(fx->store, "alice@example.com",
	    "INBOX", test_message_cb, &info, &error), 0);
	assert_int_equal(info.uid, uid);
	assert_string_equal(info.subject, "Cheap");
	assert_string_equal(info.date, "Mon, 7 Dec 2026 01:00:00 +0000");
	assert_string_equal(info.sender, "spammer@remote.example");
	assert_int_equal(info.flags, 0);
	/* the blob is shared, not copied; the row is gone; and now it is
	 * to be indexed for SEARCH, which it was not while held */
	assert_int_equal(test_count_blobs(fx), 1);
	assert_int_equal(test_db_int(fx, "SELECT indexed FROM blobs"), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM quarantine"), 1);
	assert_int_equal(store_quarantine_release(fx->store, ids[0], 0, NULL,
	    NULL, &error), STORE_E_NOTFOUND);
	/* deleting bob's held copy keeps the blob alice's message uses */
	assert_int_equal(store_quarantine_delete(fx->store, ids[1], 0,
	    &error), 0);
	assert_int_equal(test_count_blobs(fx), 1);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 1);
}

static void
test_released_cb(void *ctx, int64_t user_id)
{
	struct test_held *h = ctx;

	assert_true(h->n < TEST_HELD_MAX);
	h->v[h->n++].user_id = user_id;
}

/* Releases are noted for servers to tell IMAP; expiry prunes old notes. */
static void
test_released_notes(void **state)
{
	struct fixture *fx = *state;
	int64_t both[2] = { fx->alice, fx->bob }, ids[2], last = -1, last2;
	struct test_held h = { 0 };
	const char *error = NULL;
	size_t n;

	assert_int_equal(store_quarantine_released(fx->store, 0, NULL, NULL,
	    &last, &error), 0);
	assert_int_equal(last, 0);
	test_hold(fx, "x\r\n", both, 2, time(NULL) + 3600, 11, ids);
	assert_int_equal(store_quarantine_release(fx->store, ids[1], 0, NULL,
	    NULL, &error), 0);
	assert_int_equal(store_quarantine_release(fx->store, ids[0], 0, NULL,
	    NULL, &error), 0);
	assert_int_equal(store_quarantine_released(fx->store, last,
	    test_released_cb, &h, &last2, &error), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.v[0].user_id, fx->bob);
	assert_int_equal(h.v[1].user_id, fx->alice);
	assert_true(last2 > last);
	h.n = 0;
	assert_int_equal(store_quarantine_released(fx->store, last2,
	    test_released_cb, &h, &last, &error), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(last, last2);
	/* a failed release notes nothing */
	assert_int_equal(store_quarantine_release(fx->store, ids[0], 0, NULL,
	    NULL, &error), STORE_E_NOTFOUND);
	assert_int_equal(test_db_int(fx,
	    "SELECT count(*) FROM quarantine_released"), 2);
	/* kept STORE_QUARANTINE_RELEASED_KEEP seconds */
	assert_int_equal(store_quarantine_expire(fx->store, time(NULL), 10,
	    &n, &error), 0);
	assert_int_equal(test_db_int(fx,
	    "SELECT count(*) FROM quarantine_released"), 2);
	assert_int_equal(store_quarantine_expire(fx->store, time(NULL) +
	    STORE_QUARANTINE_RELEASED_KEEP + 1, 10, &n, &error), 0);
	assert_int_equal(test_db_int(fx,
	    "SELECT count(*) FROM quarantine_released"), 0);
}

/* Delete: the row, then the blob once nothing uses it. */
static void
test_delete(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	int64_t both[2] = { fx->alice, fx->bob }, ids[2], one[1];

	test_hold(fx, "shared\r\n", both, 2, time(NULL) + 60, 11, ids);
	test_hold(fx, "alone\r\n", both, 1, time(NULL) + 60, 11, one);
	assert_int_equal(test_count_blobs(fx), 2);
	assert_int_equal(store_quarantine_delete(fx->store, one[0], fx->bob,
	    &error), STORE_E_NOTFOUND);
	assert_int_equal(store_quarantine_delete(fx->store, one[0], fx->alice,
	    &error), 0);
	assert_int_equal(test_count_blobs(fx), 1);
	assert_int_equal(store_quarantine_delete(fx->store, one[0], 0,
	    &error), STORE_E_NOTFOUND);
	assert_int_equal(store_quarantine_delete(fx->store, ids[0], 0,
	    &error), 0);
	assert_int_equal(test_count_blobs(fx), 1);	/* bob's still held */
	assert_int_equal(store_quarantine_delete(fx->store, ids[1], 0,
	    &error), 0);
	assert_int_equal(test_count_blobs(fx), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM quarantine"), 0);
}

/* Expire: rows past their expiry, oldest first, in bounded batches. */
static void
test_expire(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	int64_t a[1] = { fx->alice }, id[1];
	time_t now = time(NULL);
	size_t n = 99;

	test_hold(fx, "old 1\r\n", a, 1, now - 30, 11, id);
	test_hold(fx, "old 2\r\n", a, 1, now - 20, 11, id);
	test_hold(fx, "old 3\r\n", a, 1, now, 11, id);	/* due: <= now */
	test_hold(fx, "young\r\n", a, 1, now + 1, 11, id);
	assert_int_equal(test_count_blobs(fx), 4);
	assert_int_equal(store_quarantine_expire(fx->store, now, 0, &n,
	    &error), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_quarantine_expire(fx->store, now, 2, &n,
	    &error), 0);
	assert_int_equal(n, 2);
	assert_int_equal(test_db_int(fx,
	    "SELECT min(expires) FROM quarantine"), now);
	assert_int_equal(store_quarantine_expire(fx->store, now, 2, &n,
	    &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_quarantine_expire(fx->store, now, 2, &n,
	    &error), 0);
	assert_int_equal(n, 0);
	assert_int_equal(test_count_blobs(fx), 1);
	assert_int_equal(test_count_held(fx, 0, 0), 1);
	/* through the filter's loop of batches */
	assert_int_equal(quarantine_expire(fx->store, now + 1, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(test_count_blobs(fx), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 0);
}

/* More than one batch: STORE_QUARANTINE_EXPIRE_MAX is a cap. */
static void
test_expire_cap(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	int64_t a[1] = { fx->alice }, id[1];
	size_t n;

	test_hold(fx, "1\r\n", a, 1, 1, 11, id);
	assert_int_equal(store_quarantine_expire(fx->store, time(NULL),
	    STORE_QUARANTINE_EXPIRE_MAX + 1, &n, &error), 0);
	assert_int_equal(n, 1);
}

/* Digest bookkeeping: users with undigested mail, marking. */
static void
test_digested(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	int64_t both[2] = { fx->alice, fx->bob }, ids[2], users[4];
	int64_t other[1];
	size_t n;

	test_hold(fx, "1\r\n", both, 2, time(NULL) + 60, 11, ids);
	assert_int_equal(store_quarantine_users(fx->store, 0, users, 4, &n,
	    &error), 0);
	assert_int_equal(n, 2);
	assert_int_equal(users[0], fx->alice);
	assert_int_equal(users[1], fx->bob);
	assert_int_equal(store_quarantine_users(fx->store, fx->alice, users,
	    4, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_quarantine_users(fx->store, 0, users, 1, &n,
	    &error), 0);
	assert_int_equal(n, 1);
	/* bob's id under alice's name marks nothing */
	other[0] = ids[1];
	assert_int_equal(store_quarantine_mark_digested(fx->store, fx->alice,
	    other, 1, &error), 0);
	assert_int_equal(test_count_held(fx, fx->bob,
	    STORE_QUARANTINE_UNDIGESTED), 1);
	assert_int_equal(store_quarantine_mark_digested(fx->store, fx->alice,
	    ids, 1, &error), 0);
	assert_int_equal(test_count_held(fx, fx->alice,
	    STORE_QUARANTINE_UNDIGESTED), 0);
	assert_int_equal(test_count_held(fx, fx->alice, 0), 1);
	assert_int_equal(store_quarantine_users(fx->store, 0, users, 4, &n,
	    &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(users[0], fx->bob);
}

/* Deleting a user frees the blobs of its held mail. */
static void
test_user_del(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	int64_t a[1] = { fx->alice }, id[1];

	test_hold(fx, "held\r\n", a, 1, time(NULL) + 60, 11, id);
	assert_int_equal(test_count_blobs(fx), 1);
	assert_int_equal(store_user_del(fx->store, "alice@example.com",
	    &error), 0);
	assert_int_equal(test_count_blobs(fx), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM quarantine"), 0);
	assert_int_equal(test_db_int(fx, "SELECT count(*) FROM blobs"), 0);
}

/* --- tokens and addresses --- */

static void
test_token(void **state)
{
	struct fixture *fx = *state;
	struct quarantine_secret other;
	char t1[QUARANTINE_TOKEN_LEN + 1], t2[QUARANTINE_TOKEN_LEN + 1];
	char upper[QUARANTINE_TOKEN_LEN + 1];

	quarantine_token(&fx->secret, 12, 3, t1);
	assert_int_equal(strlen(t1), QUARANTINE_TOKEN_LEN);
	assert_int_equal(strspn(t1, "abcdefghijklmnopqrstuvwxyz234567"),
	    QUARANTINE_TOKEN_LEN);
	quarantine_token(&fx->secret, 12, 3, t2);
	assert_string_equal(t1, t2);
	assert_true(quarantine_token_verify(&fx->secret, 12, 3, t1,
	    QUARANTINE_TOKEN_LEN));
	for (size_t i = 0; i <= QUARANTINE_TOKEN_LEN; i++)
		upper[i] = t1[i] >= 'a' && t1[i] <= 'z' ?
		    (char)(t1[i] - 'a' + 'A') : t1[i];
	assert_true(quarantine_token_verify(&fx->secret, 12, 3, upper,
	    QUARANTINE_TOKEN_LEN));
	/* bound to the id, the user and the secret */
	assert_false(quarantine_token_verify(&fx->secret, 13, 3, t1,
	    QUARANTINE_TOKEN_LEN));
	assert_false(quarantine_token_verify(&fx->secret, 12, 4, t1,
	    QUARANTINE_TOKEN_LEN));
	memset(&other, 0x43, sizeof(other));
	assert_false(quarantine_token_verify(&other, 12, 3, t1,
	    QUARANTINE_TOKEN_LEN));
	quarantine_token(&fx->secret, 12, 4, t2);
	assert_string_not_equal(t1, t2);
	/* length: max-1 and max+1 fail */
	assert_false(quarantine_token_verify(&fx->secret, 12, 3, t1,
	    QUARANTINE_TOKEN_LEN - 1));
	memcpy(t2, t1, sizeof(t2));
	assert_false(quarantine_token_verify(&fx->secret, 12, 3, "",
	    0));
	/* every single changed character fails */
	for (size_t i = 0; i < QUARANTINE_TOKEN_LEN; i++) {
		memcpy(t2, t1, sizeof(t2));
		t2[i] = t2[i] == 'a' ? 'b' : 'a';
		assert_false(quarantine_token_verify(&fx->secret, 12, 3, t2,
		    QUARANTINE_TOKEN_LEN));
	}
}

static void
test_release_parse(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *in;
		int64_t id;
	} good[] = {
		{ "quarantine-release+1.abcdefghijklmnop", 1 },
		{ "QUARANTINE-Release+42.ABCDEFGHIJKLMNOP", 42 },
		{ "quarantine-release+123456789012345678.a234567a234567aa",
		    123456789012345678LL },	/* 18 digits: the max */
		{ "quarantine-release+12345678901234567.abcdefghijklmnop",
		    12345678901234567LL },
	};
	static const char *const bad[] = {
		"",
		"quarantine-release",
		"quarantine-release+",
		"quarantine-release+.abcdefghijklmnop",
		"quarantine-release+1abcdefghijklmnop",
		"quarantine-release+01.abcdefghijklmnop",	/* leading 0 */
		"quarantine-release+0.abcdefghijklmnop",
		"quarantine-release+-1.abcdefghijklmnop",
		"quarantine-release+1234567890123456789.abcdefghijklmnop",
		"quarantine-release+1.abcdefghijklmno",		/* 15 */
		"quarantine-release+1.abcdefghijklmnopq",	/* 17 */
		"quarantine-release+1.abcdefghijklmno1",	/* not base32 */
		"quarantine-release+1.abcdefghijklmno8",
		"quarantine-release+1.abcdefghijklmno=",
		"quarantine-release-1.abcdefghijklmnop",
		"quarantine-releas+1.abcdefghijklmnop",
		"xquarantine-release+1.abcdefghijklmnop",
		"quarantine-release+1.abcdefghijklmnop.",
	};
	char addr[256];
	const char *token;
	int64_t id;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		id = 0;
		if (quarantine_release_parse(good[i].in, strlen(good[i].in),
		    &id, &token) != 0)
			fail_msg("'%s' was rejected", good[i].in);
		assert_int_equal(id, good[i].id);
		assert_int_equal(strlen(token), QUARANTINE_TOKEN_LEN);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = 7;
		if (quarantine_release_parse(bad[i], strlen(bad[i]), &id,
		    &token) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(id, 7);
	}
	/* a NUL inside is not part of a valid token */
	assert_int_equal(quarantine_release_parse(
	    "quarantine-release+1.abcdefgh\0jklmnop", 37, &id, &token), -1);
	/* the length is what counts, not a terminating NUL: every prefix of
	 * a valid local part but the whole fails */
	{
		const char *v = "quarantine-release+99.abcdefghijklmnop";

		for (size_t len = 0; len < strlen(v); len++)
			assert_int_equal(quarantine_release_parse(v, len, &id,
			    &token), -1);
	}
	/* made, then parsed and verified */
	assert_int_equal(quarantine_release_address(&fx->secret, 77, fx->bob,
	    "example.com", addr, sizeof(addr)), 0);
	assert_non_null(strstr(addr, "@example.com"));
	assert_int_equal(quarantine_release_parse(addr, strcspn(addr, "@"),
	    &id, &token), 0);
	assert_int_equal(id, 77);
	assert_true(quarantine_token_verify(&fx->secret, 77, fx->bob, token,
	    QUARANTINE_TOKEN_LEN));
	assert_false(quarantine_token_verify(&fx->secret, 77, fx->alice,
	    token, QUARANTINE_TOKEN_LEN));
	/* too small a buffer */
	assert_int_equal(quarantine_release_address(&fx->secret, 77, fx->bob,
	    "example.com", addr, 20), -1);
}

/* --- the digest --- */

static void
test_digest(void **state)
{
	struct fixture *fx = *state;
	struct store_quarantine_hold h = { 0 };
	struct store_delivery d = { 0 };
	struct store_delivery *batch[1] = { &d };
	struct store_mailbox_state mb;
	int64_t a[1] = { fx->alice }, id1[1], id2[1];
	int64_t ids[QUARANTINE_DIGEST_ENTRIES_MAX];
	char addr[256], *data;
	const char *error = NULL;
	struct buf msg;
	uint64_t size;
	size_t n;
	int fd;

	test_hold(fx, "one\r\n", a, 1, time(NULL) + 60, 11.25, id1);
	/* hostile: an encoded ESC and newline in the subject */
	h.score = 20;
	h.symbols = "";
	h.reason = "dangerous attachment";
	h.expires = time(NULL) + 60;
	h.ids_r = id2;
	d.data = "two\r\n";
	d.size = 5;
	d.users = a;
	d.n_users = 1;
	d.envelope_from = "";
	d.hdr_from = "=?utf-8?q?J=C3=BCrgen?= <j@remote.example>";
	d.hdr_subject = "=?utf-8?q?evil=1B[31m=0D=0ABcc:_x?=";
	d.quarantine = &h;
	assert_int_equal(store_deliver(fx->store, batch, 1, &error), 0);

	buf_init(&msg, QUARANTINE_DIGEST_MAX);
	assert_int_equal(quarantine_digest_compose(fx->store, &fx->secret,
	    "mx.example.com", fx->alice, "alice@example.com", time(NULL),
	    &msg, ids, &n, &error), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], id2[0]);	/* newest first */
	assert_int_equal(ids[1], id1[0]);
	assert_non_null(strstr(msg.data, "Subject: 2 held messages"));
	assert_non_null(strstr(msg.data, "\r\nTo: <alice@example.com>\r\n"));
	assert_non_null(strstr(msg.data, "charset=utf-8"));
	assert_non_null(strstr(msg.data, "J\xc3\xbcrgen <j@remote.example>"));
	assert_non_null(strstr(msg.data, "evil [31m"));
	assert_null(strchr(msg.data, '\x1b'));
	assert_null(strstr(msg.data, "\r\nBcc:"));
	assert_non_null(strstr(msg.data, "Score:    11.2"));
	assert_non_null(strstr(msg.data, "dangerous attachment"));
	/* two entries: no Reply-To (a reply could not pick one) */
	assert_null(strstr(msg.data, "Reply-To:"));
	assert_int_equal(quarantine_release_address(&fx->secret, id1[0],
	    fx->alice, "example.com", addr, sizeof(addr)), 0);
	assert_non_null(strstr(msg.data, addr));
	assert_int_equal(quarantine_release_address(&fx->secret, id2[0],
	    fx->alice, "example.com", addr, sizeof(addr)), 0);
	assert_non_null(strstr(msg.data, addr));
	buf_release(&msg);

	/* sent: in INBOX, entries digested, nothing the second time */
	assert_int_equal(quarantine_digest_send(fx->store, &fx->secret,
	    "mx.example.com", fx->alice, time(NULL), &n, &error), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "INBOX", &mb,
	    &error), 0);
	assert_int_equal(mb.messages, 1);
	assert_int_equal(store_message_open(fx->store, "alice@example.com",
	    "INBOX", 1, &fd, &size, &error), 0);
	assert_int_equal(store_read_range(fd, 0, size, &data), 0);
	close(fd);
	assert_non_null(strstr(data, addr));
	free(data);
	assert_int_equal(test_count_held(fx, fx->alice,
	    STORE_QUARANTINE_UNDIGESTED), 0);
	assert_int_equal(test_count_held(fx, fx->alice, 0), 2);
	assert_int_equal(quarantine_digest_send(fx->store, &fx->secret,
	    "mx.example.com", fx->alice, time(NULL), &n, &error), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "INBOX", &mb,
	    &error), 0);
	assert_int_equal(mb.messages, 1);
	/* bob has nothing held: no digest */
	assert_int_equal(quarantine_digest_send(fx->store, &fx->secret,
	    "mx.example.com", fx->bob, time(NULL), &n, &error), 0);
	assert_int_equal(n, 0);
	/* one entry: Reply-To is its release address */
	test_hold(fx, "three\r\n", a, 1, time(NULL) + 60, 11, id1);
	buf_init(&msg, QUARANTINE_DIGEST_MAX);
	assert_int_equal(quarantine_digest_compose(fx->store, &fx->secret,
	    "mx.example.com", fx->alice, "alice@example.com", time(NULL),
	    &msg, ids, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(quarantine_release_address(&fx->secret, id1[0],
	    fx->alice, "example.com", addr, sizeof(addr)), 0);
	{
		char want[300];

		snprintf(want, sizeof(want), "Reply-To: <%s>\r\n", addr);
		assert_non_null(strstr(msg.data, want));
	}
	buf_release(&msg);
}

/* A digest lists at most QUARANTINE_DIGEST_ENTRIES_MAX; the rest come
 * in the next one. */
static void
test_digest_max(void **state)
{
	struct fixture *fx = *state;
	int64_t a[1] = { fx->alice }, id[1];
	const char *error = NULL;
	char body[32];
	size_t n;

	for (int i = 0; i < QUARANTINE_DIGEST_ENTRIES_MAX + 1; i++) {
		snprintf(body, sizeof(body), "m %d\r\n", i);
		test_hold(fx, body, a, 1, time(NULL) + 60, 11, id);
	}
	assert_int_equal(quarantine_digest_send(fx->store, &fx->secret,
	    "mx.example.com", fx->alice, time(NULL), &n, &error), 0);
	assert_int_equal(n, QUARANTINE_DIGEST_ENTRIES_MAX);
	assert_int_equal(quarantine_digest_send(fx->store, &fx->secret,
	    "mx.example.com", fx->alice, time(NULL), &n, &error), 0);
	assert_int_equal(n, 1);
}

/* The release with its training hook. */
static int test_trained;
static int64_t test_trained_user;

static int
test_train(void *ctx, struct store *store, int64_t user_id,
    const char *data, size_t len, const char **error_r)
{
	assert_ptr_equal(ctx, &test_trained);
	(void)store;
	(void)error_r;
	assert_int_equal(len, 6);
	assert_memory_equal(data, "ham!\r\n", 6);
	test_trained++;
	test_trained_user = user_id;
	return 0;
}

static void
test_release_trains(void **state)
{
	struct fixture *fx = *state;
	int64_t b[1] = { fx->bob }, id[1], owner;
	const char *error = NULL;

	test_hold(fx, "ham!\r\n", b, 1, time(NULL) + 60, 11, id);
	quarantine_set_train_ham(test_train, &test_trained);
	test_trained = 0;
	assert_int_equal(quarantine_release(fx->store, id[0], fx->alice,
	    &owner, NULL, &error), STORE_E_NOTFOUND);
	assert_int_equal(test_trained, 0);
	assert_int_equal(quarantine_release(fx->store, id[0], fx->bob, &owner,
	    NULL, &error), 0);
	assert_int_equal(test_trained, 1);
	assert_int_equal(test_trained_user, fx->bob);
	assert_int_equal(owner, fx->bob);
	quarantine_set_train_ham(NULL, NULL);
}

/* --- the secret file --- */

static void
test_secret_file(void **state)
{
	struct fixture *fx = *state;
	struct quarantine_secret s1, s2;
	const char *error = NULL;
	char cwd[512];
	struct stat st;
	int fd;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->data), 0);
	assert_int_equal(quarantine_secret_load(&s1, &error), 0);
	assert_int_equal(stat(QUARANTINE_SECRET_FILE, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, QUARANTINE_SECRET_BYTES);
	assert_int_equal(quarantine_secret_load(&s2, &error), 0);
	assert_memory_equal(s1.key, s2.key, sizeof(s1.key));
	/* a file of the wrong size is refused, not used */
	assert_int_equal(truncate(QUARANTINE_SECRET_FILE,
	    QUARANTINE_SECRET_BYTES - 1), 0);
	assert_int_equal(quarantine_secret_load(&s2, &error), -1);
	assert_int_equal(truncate(QUARANTINE_SECRET_FILE,
	    QUARANTINE_SECRET_BYTES + 1), 0);
	assert_int_equal(quarantine_secret_load(&s2, &error), -1);
	/* a symbolic link is not followed */
	assert_int_equal(unlink(QUARANTINE_SECRET_FILE), 0);
	fd = open("elsewhere", O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s1.key, sizeof(s1.key)),
	    (ssize_t)sizeof(s1.key));
	close(fd);
	assert_int_equal(symlink("elsewhere", QUARANTINE_SECRET_FILE), 0);
	assert_int_equal(quarantine_secret_load(&s2, &error), -1);
	assert_int_equal(unlink(QUARANTINE_SECRET_FILE), 0);
	assert_int_equal(unlink("elsewhere"), 0);
	quarantine_secret_wipe(&s1);
	assert_int_equal(chdir(cwd), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_hold_list_get),
		T(test_hold_user_gone),
		T(test_release),
		T(test_released_notes),
		T(test_delete),
		T(test_expire),
		T(test_expire_cap),
		T(test_digested),
		T(test_user_del),
		T(test_token),
		T(test_release_parse),
		T(test_digest),
		T(test_digest_max),
		T(test_release_trains),
		T(test_secret_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
