/*
 * quarantine.h - held mail, above the store: release addresses and their
 * tokens, the daily digest, the release that trains the classifier, and
 * the server's periodic sweeps.
 *
 * The store keeps held messages (store.h, "the quarantine"); this module
 * decides what users see of them. Every held message has a release
 * address, quarantine-release+ID.TOKEN@DOMAIN, where DOMAIN is the
 * owner's own domain and TOKEN an HMAC-SHA256 of the id and the owner's
 * user id under a per-instance secret (QUARANTINE_SECRET_FILE in the data
 * directory), cut to QUARANTINE_TOKEN_BYTES and written in base32. The
 * digest lists held messages with their release addresses as mailto:
 * links; the owner, logged in on submission, sends any message to one,
 * and the server releases the held message to the owner's INBOX instead
 * of relaying anything (smtp-server.c, RCPT). Anyone else, and any
 * inbound message on port 25, gets the answer an unknown address gets.
 *
 * SECURITY: the token is the only thing between a guessed address and
 * another user's held mail; it binds the id to the owner, so a token
 * leaked in one user's digest releases nothing for someone else, and it
 * is compared in constant time (CRYPTO_memcmp). The secret never leaves
 * the data directory (mode 0600) and is wiped from memory when freed.
 * Header values of held messages are hostile: the digest decodes them
 * (RFC 2047), replaces control characters and cuts them before it puts
 * them in a message.
 */
#ifndef FILTER_QUARANTINE_H
#define FILTER_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct config;
struct deliverq;
struct event_base;
struct store;

/* The per-instance secret, in the data directory. */
#define QUARANTINE_SECRET_FILE "quarantine.key"
#define QUARANTINE_SECRET_BYTES 32
/* Bytes of HMAC-SHA256 kept in a token: 80 bits, 16 base32 characters. */
#define QUARANTINE_TOKEN_BYTES 10
#define QUARANTINE_TOKEN_LEN 16
/* The local part of release addresses, before "+ID.TOKEN". */
#define QUARANTINE_RELEASE_LOCAL "quarantine-release"
/* Digits of a held message's id in a release address, at most. */
#define QUARANTINE_ID_DIGITS_MAX 18
/* Held messages listed in one digest; the rest come in the next one. */
#define QUARANTINE_DIGEST_ENTRIES_MAX 100
/* Bytes of one digest message, at most. */
#define QUARANTINE_DIGEST_MAX (256 * 1024)
/* Bytes of a sender or subject shown in a digest, at most. */
#define QUARANTINE_DIGEST_FIELD_MAX 200
/* Users digested by one writer-thread job of the server. */
#define QUARANTINE_DIGEST_USERS_PER_JOB 50
/* Expiry batches one sweep job runs, at most (then the next sweep). */
#define QUARANTINE_EXPIRE_BATCHES_MAX 20
/* The server looks at the clock for the digest hour this often. */
#define QUARANTINE_TICK_SECONDS 60
/* ... and for releases made by other processes (the CLI) this often. */
#define QUARANTINE_POLL_SECONDS 1

struct quarantine_secret {
	unsigned char key[QUARANTINE_SECRET_BYTES];
};

/*
 * Reads the secret from QUARANTINE_SECRET_FILE in the current directory
 * (the data directory: `correio serve` and the CLI are in it), creating
 * it first (mode 0600, random bytes, made durable, installed atomically
 * so that two processes agree) if it does not exist. Returns 0 or -1.
 */
int
quarantine_secret_load(struct quarantine_secret *secret, const char **error_r);

/* Wipes the secret. */
void
quarantine_secret_wipe(struct quarantine_secret *secret);

/* The token of held message id of user user_id: QUARANTINE_TOKEN_LEN
 * lower-case base32 characters and a NUL. */
void
quarantine_token(const struct quarantine_secret *secret, int64_t id,
    int64_t user_id, char token_r[QUARANTINE_TOKEN_LEN + 1]);

/* Whether token (len bytes, any case) is the token of id for user_id.
 * Constant time in the token's bytes. */
bool
quarantine_token_verify(const struct quarantine_secret *secret, int64_t id,
    int64_t user_id, const char *token, size_t len);

/*
 * Parses the local part of a release address (len bytes, not
 * NUL-terminated): "quarantine-release+ID.TOKEN", the fixed part in any
 * case, ID decimal without leading zeros (1 to QUARANTINE_ID_DIGITS_MAX
 * digits), TOKEN QUARANTINE_TOKEN_LEN base32 characters. Returns 0 with
 * the id and a pointer to the token inside local (*token_r), or -1 for
 * anything else.
 */
int
quarantine_release_parse(const char *local, size_t len, int64_t *id_r,
    const char **token_r);

/* Writes the release address of held message id of user user_id in
 * domain into out. Returns 0, or -1 if size is too small. */
int
quarantine_release_address(const struct quarantine_secret *secret,
    int64_t id, int64_t user_id, const char *domain, char *out, size_t size);

/*
 * Composes the digest of user_id's held messages not digested yet (at
 * most QUARANTINE_DIGEST_ENTRIES_MAX, newest first), stores it in the
 * user's INBOX durably (store_deliver: this blocks on disk, so the server
 * calls it on the writer thread) and marks them digested. hostname names
 * this server (Message-ID). *n_r gets how many were listed: 0 means
 * nothing was sent. A crash between the delivery and the marking sends
 * those entries again in the next digest; nothing is lost. Returns 0 or
 * -1.
 */
int
quarantine_digest_send(struct store *store,
    const struct quarantine_secret *secret, const char *hostname,
    int64_t user_id, time_t now, size_t *n_r, const char **error_r);

/*
 * The digest message itself (quarantine_digest_send's first half, for
 * tests): appends it to msg; ids_r (QUARANTINE_DIGEST_ENTRIES_MAX of
 * them) gets the ids listed and *n_r their number. Returns 0 or -1.
 */
int
quarantine_digest_compose(struct store *store,
    const struct quarantine_secret *secret, const char *hostname,
    int64_t user_id, const char *address, time_t now, struct buf *msg,
    int64_t *ids_r, size_t *n_r, const char **error_r);

/*
 * Trains the statistical classifier: the message (len bytes) is ham for
 * user_id. Runs where the release runs (the writer thread in the server,
 * the CLI's own store otherwise), after the release committed, outside
 * any transaction. ctx is what quarantine_set_train_ham was given.
 * Returns 0 or -1.
 */
typedef int quarantine_train_fn(void *ctx, struct store *store,
    int64_t user_id, const char *data, size_t len, const char **error_r);

/*
 * LEAD: the one place the classifier (filter/bayes.*) plugs in. Call it
 * at start-up, before the first release and before any thread releases
 * (`correio serve` and `correio quarantine`: see the LEAD comments in
 * cli-serve.c and cli-quarantine.c), with a function that calls
 * bayes_learn(..., BAYES_HAM, ...) for user_id. While none is set a
 * release trains nothing. quarantine_release() is its only caller. NULL
 * removes it.
 */
void
quarantine_set_train_ham(quarantine_train_fn *train, void *ctx);

/*
 * Releases held message id to its owner's INBOX (store_quarantine_release;
 * user_id not 0: only if it is that user's) and then trains it as ham for
 * the owner through the quarantine_set_train_ham hook (a failure is logged,
 * the release stands). *user_id_r (if not NULL) gets the owner, *uid_r
 * (if not NULL) the new UID. Writes. Returns 0, STORE_E_NOTFOUND or -1.
 */
int
quarantine_release(struct store *store, int64_t id, int64_t user_id,
    int64_t *user_id_r, uint32_t *uid_r, const char **error_r);

/*
 * Expires held mail past its expiry at now, in bounded batches (at most
 * QUARANTINE_EXPIRE_BATCHES_MAX of STORE_QUARANTINE_EXPIRE_MAX). *n_r
 * gets how many went. Writes. Returns 0 or -1.
 */
int
quarantine_expire(struct store *store, time_t now, size_t *n_r,
    const char **error_r);

/* --- in `correio serve` --- */

struct quarantine_runner;

/* Tells IMAP sessions that user_id has new mail (a digest). */
typedef void quarantine_notify_fn(void *ctx, int64_t user_id);

/*
 * Starts the sweeps on the loop: every [quarantine] expire_interval an
 * expiry job, and once a day at [quarantine] digest_time (local time, if
 * [quarantine] digest) digest jobs, on the writer thread (dq). store is
 * the loop's connection (reads only), notify tells IMAP of each digest
 * and of each release made by another process (the CLI), which the
 * runner learns of within QUARANTINE_POLL_SECONDS.
 * secret and cfg must outlive the runner.
 */
struct quarantine_runner *
quarantine_runner_new(struct event_base *base, const struct config *cfg,
    struct store *store, struct deliverq *dq,
    const struct quarantine_secret *secret, quarantine_notify_fn *notify,
    void *notify_ctx);

/* Stops the timers (jobs under way finish); sets *rp to NULL. Call it
 * after deliverq_free, which runs the jobs' done callbacks. */
void
quarantine_runner_free(struct quarantine_runner **rp);

#endif
