/*
 * quarantine.c - release addresses and tokens, the digest, release with
 * ham training, and the server's sweeps (see quarantine.h).
 *
 * RFC 2104 HMAC and FIPS 180-4 SHA-256 (OpenSSL) make the tokens, RFC
 * 4648 6 base32 (lower case) writes them; RFC 6068 mailto: URIs carry the
 * release addresses; RFC 5322 and RFC 2045/2046 shape the digest (one
 * text/plain part in UTF-8, 8bit), RFC 2047 decodes what it quotes of
 * the held messages, and RFC 3834 5 marks it Auto-Submitted.
 *
 * SECURITY: see quarantine.h. The secret file is opened with O_NOFOLLOW
 * and must be exactly QUARANTINE_SECRET_BYTES long; the token check
 * never says which part of an address was wrong.
 */
#include "filter/quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "mime/header.h"
#include "mime/mime-decode.h"
#include "store/deliverq.h"
#include "store/store.h"

/* The ham trainer (quarantine_set_train_ham): set at start-up only. */
static quarantine_train_fn *quarantine_train_ham;
static void *quarantine_train_ctx;

/* Domain separation of the HMAC input: a key used for nothing else
 * today, but the input says what it is for. */
#define QUARANTINE_HMAC_LABEL "correio quarantine release v1"

static const char quarantine_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static __thread char quarantine_error[256];

static int
quarantine_fail(const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
quarantine_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(quarantine_error, sizeof(quarantine_error), fmt, ap);
	va_end(ap);
	*error_r = quarantine_error;
	return -1;
}

/* --- the secret --- */

static int
quarantine_secret_read(int fd, struct quarantine_secret *secret,
    const char **error_r)
{
	unsigned char extra;
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(secret->key)) {
		n = read(fd, secret->key + got, sizeof(secret->key) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return quarantine_fail(error_r, "%s: %s",
			    QUARANTINE_SECRET_FILE, n < 0 ? strerror(errno) :
			    "too short");
		got += (size_t)n;
	}
	if (read(fd, &extra, 1) != 0)
		return quarantine_fail(error_r, "%s: not %d bytes long",
		    QUARANTINE_SECRET_FILE, QUARANTINE_SECRET_BYTES);
	return 0;
}

/* Writes a new secret under a temporary name and links it into place:
 * the file appears complete or not at all, and if another process won
 * the race its secret is the one everybody reads. */
static int
quarantine_secret_create(const char **error_r)
{
	unsigned char key[QUARANTINE_SECRET_BYTES];
	char tmp[64];
	int fd, ret = -1, n;

	n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", QUARANTINE_SECRET_FILE,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return quarantine_fail(error_r, "secret file name too long");
	if (RAND_bytes(key, sizeof(key)) != 1)
		return quarantine_fail(error_r, "no random bytes for %s",
		    QUARANTINE_SECRET_FILE);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		OPENSSL_cleanse(key, sizeof(key));
		return quarantine_fail(error_r, "create %s: %s", tmp,
		    strerror(errno));
	}
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) < 0)
		quarantine_fail(error_r, "write %s: %s", tmp, strerror(errno));
	else if (link(tmp, QUARANTINE_SECRET_FILE) < 0 && errno != EEXIST)
		quarantine_fail(error_r, "link %s: %s", QUARANTINE_SECRET_FILE,
		    strerror(errno));
	else
		ret = 0;
	OPENSSL_cleanse(key, sizeof(key));
	(void)close(fd);
	(void)unlink(tmp);
	if (ret == 0) {
		/* the directory entry, durably */
		if ((fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			(void)fsync(fd);
			(void)close(fd);
		}
	}
	return ret;
}

int
quarantine_secret_load(struct quarantine_secret *secret, const char **error_r)
{
	struct stat st;
	int fd, ret;

	fd = open(QUARANTINE_SECRET_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (quarantine_secret_create(error_r) < 0)
			return -1;
		fd = open(QUARANTINE_SECRET_FILE, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	if (fd < 0)
		return quarantine_fail(error_r, "open %s: %s",
		    QUARANTINE_SECRET_FILE, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return quarantine_fail(error_r, "%s: not a regular file",
		    QUARANTINE_SECRET_FILE);
	}
	ret = quarantine_secret_read(fd, secret, error_r);
	(void)close(fd);
	if (ret < 0)
		quarantine_secret_wipe(secret);
	return ret;
}

void
quarantine_secret_wipe(struct quarantine_secret *secret)
{
	OPENSSL_cleanse(secret->key, sizeof(secret->key));
}

/* --- tokens and addresses --- */

void
quarantine_token(const struct quarantine_secret *secret, int64_t id,
    int64_t user_id, char token_r[QUARANTINE_TOKEN_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char input[128];
	uint64_t bits = 0;
	int n, nbits = 0;
	size_t out = 0;

	n = snprintf(input, sizeof(input), "%s\n%" PRId64 "\n%" PRId64,
	    QUARANTINE_HMAC_LABEL, id, user_id);
	if (n < 0 || (size_t)n >= sizeof(input) ||
	    HMAC(EVP_sha256(), secret->key, (int)sizeof(secret->key),
	    (const unsigned char *)input, (size_t)n, mac, &mac_len) == NULL ||
	    mac_len < QUARANTINE_TOKEN_BYTES)
		abort();	/* cannot happen with SHA-256 */
	/* 10 bytes are exactly 16 base32 characters of 5 bits. */
	for (size_t i = 0; i < QUARANTINE_TOKEN_BYTES; i++) {
		bits = (bits << 8) | mac[i];
		nbits += 8;
		while (nbits >= 5) {
			nbits -= 5;
			token_r[out++] = quarantine_b32[(bits >> nbits) & 31];
		}
	}
	token_r[out] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
}

bool
quarantine_token_verify(const struct quarantine_secret *secret, int64_t id,
    int64_t user_id, const char *token, size_t len)
{
	char want[QUARANTINE_TOKEN_LEN + 1], got[QUARANTINE_TOKEN_LEN];
	bool ok;

	if (len != QUARANTINE_TOKEN_LEN)
		return false;
	/* Lower case: some clients change the case of what they copy. */
	for (size_t i = 0; i < len; i++)
		got[i] = token[i] >= 'A' && token[i] <= 'Z' ?
		    (char)(token[i] - 'A' + 'a') : token[i];
	quarantine_token(secret, id, user_id, want);
	ok = CRYPTO_memcmp(want, got, QUARANTINE_TOKEN_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

int
quarantine_release_parse(const char *local, size_t len, int64_t *id_r,
    const char **token_r)
{
	const size_t plen = sizeof(QUARANTINE_RELEASE_LOCAL) - 1;
	const char *p, *end = local + len;
	int64_t id = 0;
	size_t digits = 0;

	if (len <= plen + 1 ||
	    strncasecmp(local, QUARANTINE_RELEASE_LOCAL, plen) != 0 ||
	    local[plen] != '+')
		return -1;
	p = local + plen + 1;
	while (p < end && *p >= '0' && *p <= '9') {
		if (digits == 0 && *p == '0')
			return -1;	/* one spelling per id */
		if (++digits > QUARANTINE_ID_DIGITS_MAX)
			return -1;
		id = id * 10 + (*p - '0');
		p++;
	}
	if (digits == 0 || p == end || *p != '.')
		return -1;
	p++;
	if ((size_t)(end - p) != QUARANTINE_TOKEN_LEN)
		return -1;
	for (const char *q = p; q < end; q++) {
		char c = *q >= 'A' && *q <= 'Z' ? (char)(*q - 'A' + 'a') : *q;

		if (strchr(quarantine_b32, c) == NULL || c == '\0')
			return -1;
	}
	*id_r = id;
	*token_r = p;
	return 0;
}

int
quarantine_release_address(const struct quarantine_secret *secret,
    int64_t id, int64_t user_id, const char *domain, char *out, size_t size)
{
	char token[QUARANTINE_TOKEN_LEN + 1];
	int n;

	quarantine_token(secret, id, user_id, token);
	n = snprintf(out, size, "%s+%" PRId64 ".%s@%s",
	    QUARANTINE_RELEASE_LOCAL, id, token, domain);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* --- the digest --- */

/* Appends a header value of a held message for people to read: RFC
 * 2047-decoded, control characters as spaces, at most
 * QUARANTINE_DIGEST_FIELD_MAX bytes (cut on a character boundary). */
static void
quarantine_put_field(struct buf *msg, const char *value)
{
	struct buf dec;
	size_t len;

	if (value == NULL || value[0] == '\0') {
		(void)buf_puts(msg, "(none)");
		return;
	}
	buf_init(&dec, QUARANTINE_DIGEST_FIELD_MAX * 4);
	mime_header_decode(value, strlen(value), &dec);
	len = dec.len;
	if (len > QUARANTINE_DIGEST_FIELD_MAX) {
		len = QUARANTINE_DIGEST_FIELD_MAX;
		while (len > 0 && ((unsigned char)dec.data[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)dec.data[i];

		if (c < 0x20 || c == 0x7f)
			dec.data[i] = ' ';
	}
	if (len > 0)
		(void)buf_append(msg, dec.data, len);
	if (len < dec.len)
		(void)buf_puts(msg, "...");
	buf_release(&dec);
}

struct quarantine_digest {
	const struct quarantine_secret *secret;
	const char *domain;
	struct buf *body;
	int64_t *ids;
	size_t n;
	char first_release[STORE_ADDRESS_MAX + 1];
};

static int
quarantine_digest_entry(void *ctx, const struct store_quarantine_info *q)
{
	struct quarantine_digest *dg = ctx;
	struct buf *b = dg->body;
	char date[HEADER_DATE_SIZE], expires[HEADER_DATE_SIZE];
	char addr[STORE_ADDRESS_MAX + 1];

	if (dg->n >= QUARANTINE_DIGEST_ENTRIES_MAX)
		return -1;
	if (header_date(q->created, date, sizeof(date)) < 0)
		(void)snprintf(date, sizeof(date), "-");
	if (header_date(q->expires, expires, sizeof(expires)) < 0)
		(void)snprintf(expires, sizeof(expires), "-");
	if (quarantine_release_address(dg->secret, q->id, q->user_id,
	    dg->domain, addr, sizeof(addr)) < 0)
		return 0;	/* a domain too long for an address */
	(void)buf_printf(b, "%zu. Received: %s\r\n   From:     ", dg->n + 1,
	    date);
	quarantine_put_field(b, q->hdr_from != NULL ? q->hdr_from :
	    q->envelope_from);
	(void)buf_puts(b, "\r\n   Subject:  ");
	quarantine_put_field(b, q->hdr_subject);
	(void)buf_printf(b, "\r\n   Score:    %.1f\r\n   Reason:   ", q->score);
	quarantine_put_field(b, q->reason);
	(void)buf_printf(b, "\r\n   Expires:  %s\r\n"
	    "   Release:  mailto:%s\r\n\r\n", expires, addr);
	if (dg->n == 0)
		(void)snprintf(dg->first_release, sizeof(dg->first_release),
		    "%s", addr);
	dg->ids[dg->n++] = q->id;
	return 0;
}

int
quarantine_digest_compose(struct store *store,
    const struct quarantine_secret *secret, const char *hostname,
    int64_t user_id, const char *address, time_t now, struct buf *msg,
    int64_t *ids_r, size_t *n_r, const char **error_r)
{
	struct quarantine_digest dg;
	struct buf body;
	char date[HEADER_DATE_SIZE], msgid[HEADER_MSGID_SIZE];
	const char *domain = strrchr(address, '@');
	int r;

	*n_r = 0;
	if (domain == NULL || domain[1] == '\0')
		return quarantine_fail(error_r, "bad address %s", address);
	domain++;
	memset(&dg, 0, sizeof(dg));
	dg.secret = secret;
	dg.domain = domain;
	dg.ids = ids_r;
	buf_init(&body, QUARANTINE_DIGEST_MAX - 4096);
	dg.body = &body;
	if (store_quarantine_list(store, user_id, STORE_QUARANTINE_UNDIGESTED,
	    QUARANTINE_DIGEST_ENTRIES_MAX, quarantine_digest_entry, &dg,
	    error_r) < 0) {
		buf_release(&body);
		return -1;
	}
	if (dg.n == 0) {
		buf_release(&body);
		return 0;
	}
	if (header_date(now, date, sizeof(date)) < 0 ||
	    header_message_id(hostname, msgid, sizeof(msgid)) < 0) {
		buf_release(&body);
		return quarantine_fail(error_r, "host name too long");
	}
	r = buf_printf(msg, "Date: %s\r\n"
	    "From: Mail quarantine <postmaster@%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: %zu held message%s not delivered to you\r\n"
	    "Message-ID: %s\r\n", date, domain, address, dg.n,
	    dg.n == 1 ? "" : "s", msgid);
	/* With one entry, a plain reply releases it. */
	if (r == 0 && dg.n == 1)
		r = buf_printf(msg, "Reply-To: <%s>\r\n", dg.first_release);
	if (r == 0)
		r = buf_puts(msg, "Auto-Submitted: auto-generated\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n");
	if (r == 0 && dg.n == 1)
		r = buf_puts(msg,
		    "This server held a message addressed to you because it\r\n"
		    "looks like spam or is dangerous. It is not in any of your\r\n"
		    "folders.\r\n\r\n"
		    "To get it into your INBOX, reply to this message, or send\r\n"
		    "any message from your own account to its release address\r\n"
		    "below: the server releases it and sends nothing on.\r\n");
	else if (r == 0)
		r = buf_printf(msg,
		    "This server held %zu messages addressed to you because\r\n"
		    "they look like spam or are dangerous. They are not in any\r\n"
		    "of your folders.\r\n\r\n"
		    "To get one into your INBOX, send any message from your own\r\n"
		    "account to its release address below: the server releases\r\n"
		    "it and sends nothing on.\r\n", dg.n);
	if (r == 0)
		r = buf_puts(msg, "Held mail is deleted after its expiry date."
		    "\r\n\r\n");
	if (r == 0)
		r = buf_append(msg, body.data, body.len);
	buf_release(&body);
	if (r < 0)
		return quarantine_fail(error_r, "digest too long");
	*n_r = dg.n;
	return 0;
}

int
quarantine_digest_send(struct store *store,
    const struct quarantine_secret *secret, const char *hostname,
    int64_t user_id, time_t now, size_t *n_r, const char **error_r)
{
	int64_t ids[QUARANTINE_DIGEST_ENTRIES_MAX];
	char address[STORE_ADDRESS_MAX + 1], subject[64];
	char from[STORE_ADDRESS_MAX + 32];
	struct store_delivery d;
	struct store_delivery *batch[1] = { &d };
	struct buf msg;
	size_t n;
	int r;

	*n_r = 0;
	r = store_user_address(store, user_id, address, sizeof(address),
	    error_r);
	if (r <= 0)
		return r == 0 ? 0 : -1;	/* a user deleted meanwhile */
	buf_init(&msg, QUARANTINE_DIGEST_MAX);
	if (quarantine_digest_compose(store, secret, hostname, user_id, address,
	    now, &msg, ids, &n, error_r) < 0) {
		buf_release(&msg);
		return -1;
	}
	if (n == 0) {
		buf_release(&msg);
		return 0;
	}
	(void)snprintf(subject, sizeof(subject),
	    "%zu held message%s not delivered to you", n, n == 1 ? "" : "s");
	(void)snprintf(from, sizeof(from), "Mail quarantine <postmaster@%s>",
	    strrchr(address, '@') + 1);
	memset(&d, 0, sizeof(d));
	d.data = msg.data;
	d.size = msg.len;
	d.users = &user_id;
	d.n_users = 1;
	d.mailbox = STORE_MAILBOX_INBOX;
	d.internal_date = now;
	d.envelope_from = "";
	d.hdr_from = from;
	d.hdr_subject = subject;
	if (store_deliver(store, batch, 1, error_r) < 0 || d.result != 0) {
		buf_release(&msg);
		return -1;
	}
	buf_release(&msg);
	if (store_quarantine_mark_digested(store, user_id, ids, n,
	    error_r) < 0)
		return -1;
	*n_r = n;
	return 0;
}

/* --- release and expiry --- */

void
quarantine_set_train_ham(quarantine_train_fn *train, void *ctx)
{
	quarantine_train_ham = train;
	quarantine_train_ctx = ctx;
}

/* The size of a held message, from store_quarantine_get. */
static int
quarantine_size_cb(void *ctx, const struct store_quarantine_info *info)
{
	*(uint64_t *)ctx = info->size;
	return 0;
}

/* Reads a held message for the classifier: 0 with a malloc'd copy,
 * STORE_E_NOTFOUND or -1. */
static int
quarantine_read(struct store *store, int64_t id, int64_t user_id,
    char **data_r, size_t *len_r, const char **error_r)
{
	uint64_t size = 0;
	int fd, r;

	r = store_quarantine_get(store, id, user_id, quarantine_size_cb,
	    &size, &fd, error_r);
	if (r != 0)
		return r;
	r = store_read_range(fd, 0, size, data_r);
	(void)close(fd);
	if (r < 0)
		return quarantine_fail(error_r, "cannot read held message");
	*len_r = (size_t)size;
	return 0;
}

int
quarantine_release(struct store *store, int64_t id, int64_t user_id,
    int64_t *user_id_r, uint32_t *uid_r, const char **error_r)
{
	quarantine_train_fn *train = quarantine_train_ham;
	const char *terr;
	char *data = NULL;
	size_t len = 0;
	int64_t owner = 0;
	int r;

	/* The bytes are read first: once released the row is gone (the
	 * blob stays, now the message's). */
	if (train != NULL) {
		r = quarantine_read(store, id, user_id, &data, &len, error_r);
		if (r != 0)
			return r;
	}
	r = store_quarantine_release(store, id, user_id, &owner, uid_r,
	    error_r);
	if (r == 0 && train != NULL &&
	    train(quarantine_train_ctx, store, owner, data, len, &terr) < 0)
		log_warning("quarantine release id=%" PRId64 " user=%" PRId64
		    " train=ham error=\"%s\"", id, owner, terr);
	free(data);
	if (r == 0 && user_id_r != NULL)
		*user_id_r = owner;
	return r;
}

int
quarantine_expire(struct store *store, time_t now, size_t *n_r,
    const char **error_r)
{
	size_t n, total = 0;

	*n_r = 0;
	for (unsigned i = 0; i < QUARANTINE_EXPIRE_BATCHES_MAX; i++) {
		if (store_quarantine_expire(store, now,
		    STORE_QUARANTINE_EXPIRE_MAX, &n, error_r) < 0) {
			*n_r = total;
			return -1;
		}
		total += n;
		if (n < STORE_QUARANTINE_EXPIRE_MAX)
			break;
	}
	*n_r = total;
	return 0;
}

/* --- the server's sweeps --- */

struct quarantine_runner {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;		/* the loop's, reads only */
	struct deliverq *dq;
	const struct quarantine_secret *secret;
	quarantine_notify_fn *notify;
	void *notify_ctx;
	struct event *tick;
	struct event *poll;		/* releases by other processes */
	int64_t data_version;
	int64_t released_last;		/* last release note seen */
	time_t next_expire;
	long digest_day;		/* the local day last digested, or -1 */
	bool expire_busy;		/* an expiry job is under way */
	unsigned digest_jobs;		/* digest jobs under way */
	int64_t digest_after;		/* user id the next job starts after */
};

struct quarantine_job {
	struct deliverq_job job;
	struct quarantine_runner *r;
	time_t now;
	size_t n_done;			/* expired, or users digested */
	int64_t users[QUARANTINE_DIGEST_USERS_PER_JOB];
	size_t n_users;
	bool digested[QUARANTINE_DIGEST_USERS_PER_JOB];
	char error[256];
};

static int
quarantine_expire_run(struct store *store, struct deliverq_job *job)
{
	struct quarantine_job *j = (struct quarantine_job *)job;
	const char *error;

	if (quarantine_expire(store, j->now, &j->n_done, &error) < 0) {
		(void)snprintf(j->error, sizeof(j->error), "%s", error);
		return -1;
	}
	return 0;
}

static void
quarantine_expire_done(struct deliverq_job *job)
{
	struct quarantine_job *j = (struct quarantine_job *)job;

	j->r->expire_busy = false;
	if (job->result < 0)
		log_error("quarantine expire error=\"%s\"", j->error);
	else if (j->n_done > 0)
		log_info("quarantine expired messages=%zu", j->n_done);
	free(j);
}

static int
quarantine_digest_run(struct store *store, struct deliverq_job *job)
{
	struct quarantine_job *j = (struct quarantine_job *)job;
	const char *error;
	size_t n;

	for (size_t i = 0; i < j->n_users; i++) {
		if (quarantine_digest_send(store, j->r->secret,
		    j->r->cfg->hostname, j->users[i], j->now, &n,
		    &error) < 0) {
			log_error("quarantine digest user=%" PRId64
			    " error=\"%s\"", j->users[i], error);
			continue;
		}
		if (n > 0) {
			j->digested[i] = true;
			j->n_done++;
			log_info("quarantine digest user=%" PRId64
			    " entries=%zu", j->users[i], n);
		}
	}
	return 0;
}

static void quarantine_digest_next(struct quarantine_runner *r, time_t now);

static void
quarantine_digest_done(struct deliverq_job *job)
{
	struct quarantine_job *j = (struct quarantine_job *)job;
	struct quarantine_runner *r = j->r;
	bool more = j->n_users == QUARANTINE_DIGEST_USERS_PER_JOB;
	time_t now = j->now;

	for (size_t i = 0; i < j->n_users; i++) {
		if (j->digested[i] && r->notify != NULL)
			r->notify(r->notify_ctx, j->users[i]);
	}
	r->digest_jobs--;
	free(j);
	/* One job at a time: the writer thread stays free for mail. */
	if (more)
		quarantine_digest_next(r, now);
}

/* Submits a digest job for the next users with undigested held mail. */
static void
quarantine_digest_next(struct quarantine_runner *r, time_t now)
{
	struct quarantine_job *j = xcalloc(1, sizeof(*j));
	const char *error;

	if (store_quarantine_users(r->store, r->digest_after, j->users,
	    QUARANTINE_DIGEST_USERS_PER_JOB, &j->n_users, &error) < 0) {
		log_error("quarantine digest error=\"%s\"", error);
		free(j);
		return;
	}
	if (j->n_users == 0) {
		free(j);
		return;
	}
	r->digest_after = j->users[j->n_users - 1];
	j->r = r;
	j->now = now;
	j->job.run = quarantine_digest_run;
	j->job.done = quarantine_digest_done;
	r->digest_jobs++;
	deliverq_submit(r->dq, &j->job);
}

static void
quarantine_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct quarantine_runner *r = arg;
	time_t now = time(NULL);
	struct timeval tv = { QUARANTINE_TICK_SECONDS, 0 };
	struct tm tm;
	long day;

	(void)fd;
	(void)what;
	if (now >= r->next_expire && !r->expire_busy) {
		struct quarantine_job *j = xcalloc(1, sizeof(*j));

		j->r = r;
		j->now = now;
		j->job.run = quarantine_expire_run;
		j->job.done = quarantine_expire_done;
		r->expire_busy = true;
		r->next_expire = now + r->cfg->quarantine_expire_interval;
		deliverq_submit(r->dq, &j->job);
	}
	localtime_r(&now, &tm);
	day = (long)(tm.tm_year + 1900) * 1000 + tm.tm_yday;
	if (r->cfg->quarantine_digest && r->digest_jobs == 0 &&
	    (unsigned)tm.tm_hour == r->cfg->quarantine_digest_time &&
	    day != r->digest_day) {
		r->digest_day = day;
		r->digest_after = 0;
		quarantine_digest_next(r, now);
	}
	/* Often enough for the expire interval and for the digest hour. */
	if (r->cfg->quarantine_expire_interval < QUARANTINE_TICK_SECONDS)
		tv.tv_sec = r->cfg->quarantine_expire_interval;
	evtimer_add(r->tick, &tv);
}

static void
quarantine_released_cb(void *ctx, int64_t user_id)
{
	struct quarantine_runner *r = ctx;

	if (r->notify != NULL)
		r->notify(r->notify_ctx, user_id);
}

/*
 * `correio quarantine release` writes the store from another process,
 * which tells nobody: a change of the store's data_version makes the
 * runner read the release notes it has not seen and tell IMAP sessions
 * (an IDLE sees the message arrive). The writer thread's commits change
 * data_version too; a look that finds nothing new costs one read by
 * primary key.
 */
static void
quarantine_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct quarantine_runner *r = arg;
	const char *error;
	int64_t v;

	(void)fd;
	(void)what;
	if (store_data_version(r->store, &v, &error) < 0) {
		log_error("quarantine poll error=\"%s\"", error);
		return;
	}
	if (v == r->data_version)
		return;
	r->data_version = v;
	if (store_quarantine_released(r->store, r->released_last,
	    quarantine_released_cb, r, &r->released_last, &error) < 0)
		log_error("quarantine poll error=\"%s\"", error);
}

struct quarantine_runner *
quarantine_runner_new(struct event_base *base, const struct config *cfg,
    struct store *store, struct deliverq *dq,
    const struct quarantine_secret *secret, quarantine_notify_fn *notify,
    void *notify_ctx)
{
	struct quarantine_runner *r = xcalloc(1, sizeof(*r));
	struct timeval now = { 0, 0 }, poll = { QUARANTINE_POLL_SECONDS, 0 };
	const char *error;

	r->base = base;
	r->cfg = cfg;
	r->store = store;
	r->dq = dq;
	r->secret = secret;
	r->notify = notify;
	r->notify_ctx = notify_ctx;
	r->digest_day = -1;
	r->tick = evtimer_new(base, quarantine_tick_cb, r);
	evtimer_add(r->tick, &now);
	if (store_data_version(store, &r->data_version, &error) < 0 ||
	    store_quarantine_released(store, 0, NULL, NULL, &r->released_last,
	    &error) < 0)
		log_error("quarantine poll error=\"%s\"", error);
	r->poll = event_new(base, -1, EV_PERSIST, quarantine_poll_cb, r);
	evtimer_add(r->poll, &poll);
	log_info("quarantine runner started retention=%u expire_interval=%u "
	    "digest=%s digest_time=%u", cfg->quarantine_retention,
	    cfg->quarantine_expire_interval,
	    cfg->quarantine_digest ? "yes" : "no", cfg->quarantine_digest_time);
	return r;
}

void
quarantine_runner_free(struct quarantine_runner **rp)
{
	struct quarantine_runner *r = *rp;

	if (r == NULL)
		return;
	if (r->tick != NULL)
		event_free(r->tick);
	if (r->poll != NULL)
		event_free(r->poll);
	free(r);
	*rp = NULL;
}
