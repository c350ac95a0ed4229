/*
 * store.h - everything Correio keeps: domains, users, aliases, mailboxes,
 * messages. The one interface every other part of the server uses.
 *
 * The embedded backend (store-sqlite.c) keeps metadata in DATA_DIR/correio.db
 * (SQLite, WAL mode) and message bodies as immutable files under
 * DATA_DIR/blobs/. The interface is narrow and speaks in addresses, names
 * and numbers, never SQL, so that a PostgreSQL backend can implement it.
 *
 * Threads: a struct store is one connection; use it from one thread at a
 * time. The server opens one for the event loop (reads) and one for the
 * delivery thread (store_deliver).
 *
 * Names: addresses and domains are compared case-insensitively (ASCII); the
 * store keeps them lower-cased. Callers pass domains as A-labels (IDNA
 * conversion happens before the store, see mime/addr.h).
 *
 * Errors: functions return 0 (or a documented non-negative value) on
 * success and -1 on failure with *error_r set to a message that stays valid
 * until the next store call from the same thread.
 *
 * SECURITY: addresses and mailbox names may come from the network; they are
 * only ever bound as SQL parameters. Blob file names are made by the store,
 * never from peer data.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store;

/* Limits (checked by the store; callers may check earlier). */
#define STORE_ADDRESS_MAX 320		/* local part 64 + @ + domain 255 */
#define STORE_ALIAS_DEPTH_MAX 8		/* alias -> alias -> ... chains */
#define STORE_ALIAS_TARGETS_MAX 1000	/* users one alias may expand to */
#define STORE_PASSWORD_MAX 511	/* libxcrypt refuses longer passphrases */

/* Mailboxes every new user gets, with their RFC 6154 SPECIAL-USE role. */
#define STORE_MAILBOX_INBOX "INBOX"

/*
 * Opens (and on first use creates) the store in data_dir: the directory,
 * blobs/ and the schema. Returns 0 or -1.
 */
int
store_open(const char *data_dir, struct store **store_r, const char **error_r);

/* Closes the connection; sets *storep to NULL. */
void
store_close(struct store **storep);

/*
 * SQLite's data_version of this connection: it changes when another
 * connection (another process, or this process's writer thread) commits.
 * Cheap; lets a reader notice writes it did not make. Returns 0 or -1.
 */
int
store_data_version(struct store *store, int64_t *version_r,
    const char **error_r);

/* --- domains --- */

int
store_domain_add(struct store *store, const char *domain, const char **error_r);

/* Fails if users or aliases of the domain still exist. */
int
store_domain_del(struct store *store, const char *domain, const char **error_r);

/* Calls cb for each domain, sorted. cb returns 0 to go on, -1 to stop. */
int
store_domain_list(struct store *store,
    int (*cb)(void *ctx, const char *domain), void *ctx,
    const char **error_r);

/* Returns 1 if the domain is hosted here, 0 if not, -1 on error. */
int
store_domain_exists(struct store *store, const char *domain,
    const char **error_r);

/* --- users --- */

/*
 * Adds a user with a yescrypt password hash and the standard mailboxes
 * (INBOX, Sent, Drafts, Junk, Trash, Archive). Fails if the domain is not
 * hosted, or the address is already a user or an alias.
 */
int
store_user_add(struct store *store, const char *address, const char *password,
    const char **error_r);

/* Deletes the user, its mailboxes and messages (and blobs no one uses). */
int
store_user_del(struct store *store, const char *address, const char **error_r);

int
store_user_passwd(struct store *store, const char *address,
    const char *password, const char **error_r);

/* Calls cb for each user (of domain, or of all domains if NULL), sorted. */
int
store_user_list(struct store *store, const char *domain,
    int (*cb)(void *ctx, const char *address), void *ctx,
    const char **error_r);

/*
 * Checks a password in constant time with respect to the stored hash.
 * Returns 1 if it matches, 0 if it does not or the user does not exist
 * (the same work is done either way), -1 on error.
 */
int
store_user_check_password(struct store *store, const char *address,
    const char *password, const char **error_r);

/* --- aliases --- */

/*
 * Adds targets to an alias (creating it). The alias must be in a hosted
 * domain and not be a user; every target must be an existing user or
 * alias (forwarding to other domains needs outbound delivery).
 */
int
store_alias_add(struct store *store, const char *alias,
    const char *const *targets, size_t n_targets, const char **error_r);

/* Removes the given targets, or the whole alias if n_targets is 0. */
int
store_alias_del(struct store *store, const char *alias,
    const char *const *targets, size_t n_targets, const char **error_r);

/* Calls cb for each (alias, target) pair, of one alias or of all. */
int
store_alias_list(struct store *store, const char *alias,
    int (*cb)(void *ctx, const char *alias, const char *target), void *ctx,
    const char **error_r);

/* --- recipients --- */

enum store_rcpt_result {
	STORE_RCPT_LOCAL,	/* users_r holds the users it reaches */
	STORE_RCPT_UNKNOWN,	/* hosted domain, no such user or alias */
	STORE_RCPT_NOT_HOSTED,	/* the domain is not ours */
};

/*
 * Resolves a recipient address: a user, or an alias expanded (recursively,
 * at most STORE_ALIAS_DEPTH_MAX deep, cycles ignored) to the distinct users
 * it reaches. Up to max_users user ids are written to users_r and their
 * number to *n_users_r. Returns 0 or -1.
 */
int
store_rcpt_resolve(struct store *store, const char *address,
    int64_t *users_r, size_t max_users, size_t *n_users_r,
    enum store_rcpt_result *result_r, const char **error_r);

/* --- delivery --- */

/*
 * The outbound part of a delivery (submission, sendmail): the message is
 * also queued for remote recipients, sharing the delivery's blob. The
 * queue entry is committed in the same transaction as the local copies.
 */
struct store_queue_entry {
	const char *sender;		/* envelope sender, "" for <> */
	const char *const *rcpts;	/* remote addresses, domain A-label */
	size_t n_rcpts;
	/* Bytes at the start of the stored message that are for local
	 * copies only (the Return-Path line, RFC 5321 4.4): the deliverer
	 * sends the message from here. */
	size_t data_offset;
	int64_t user_id;		/* the submitting user, 0 if none */
	/* Submitted with SMTPUTF8 (RFC 6531), or found to need it: the
	 * deliverer asks the next hop for it. */
	bool smtputf8;
	int64_t id_r;			/* set by store_deliver: the queue id */
};

struct store_dmarc_row;

/* A message held by the spam filter instead of delivered (the
 * quarantine): one row per user of the delivery, pointing at its blob. */
struct store_quarantine_hold {
	double score;
	const char *symbols;	/* "NAME(score) ...", printable ASCII */
	const char *reason;	/* why it is held, one line for the user */
	const char *peer;	/* the client's address */
	time_t expires;		/* then it is deleted */
	int64_t *ids_r;		/* n_users ids, set by store_deliver (the
				 * caller provides the array), 0 for a user
				 * skipped */
};

/* One message to deliver to one or more users' mailbox. */
struct store_delivery {
	const char *data;	/* the complete message, as it is stored */
	size_t size;
	const int64_t *users;	/* distinct user ids (store_rcpt_resolve) */
	size_t n_users;
	const char *mailbox;	/* "INBOX" (later also "Junk") */
	time_t internal_date;
	const char *envelope_from;	/* "" for the null sender */
	const char *hdr_from;	/* header values for listings, or NULL */
	const char *hdr_subject;
	const char *hdr_date;
	/* IMAP renderings cached with the message (see mime/mime-imap.h),
	 * or NULL: then IMAP computes them when asked. */
	const char *envelope;
	const char *body;
	const char *bodystructure;
	/* Initial flags and keywords (IMAP APPEND); 0 and NULL otherwise.
	 * keywords is a space-separated list, checked by the caller. */
	unsigned flags;
	const char *keywords;
	/* Remote recipients to queue the message for, or NULL. */
	struct store_queue_entry *queue;
	/* The DMARC evaluation to record with it, or NULL. */
	const struct store_dmarc_row *dmarc;
	/* Non-NULL: hold the message in the quarantine for its users
	 * instead of delivering it to mailbox (which is then ignored). */
	const struct store_quarantine_hold *quarantine;
	/* Result, set by store_deliver: 0 delivered, -1 failed. */
	int result;
	const char *error;	/* when result is -1; a static string */
	/* For a delivery to one user: the UIDVALIDITY and UID it got
	 * (RFC 4315 APPENDUID). */
	uint32_t uidvalidity_r;
	uint32_t uid_r;
};

/*
 * Delivers a batch of messages durably, with one flush for the whole
 * batch (group commit): every body is written to its own blob file, the
 * blobs are made durable (fsync/syncfs), and only then is the metadata for
 * the whole batch committed in one transaction. When this returns, each
 * delivery with result 0 survives a crash. A user deleted since
 * store_rcpt_resolve is skipped (and logged). A delivery with a queue
 * part is also queued (the queue row in the same transaction, pointing
 * at the same blob), and its queue->id_r set. Blocks on disk: call it off
 * the event loop. Returns 0 if every delivery succeeded, -1 otherwise.
 */
int
store_deliver(struct store *store, struct store_delivery *const *batch,
    size_t n, const char **error_r);

/* --- the outbound queue --- */

/*
 * Queued mail waits for the deliverer (the SMTP client). Each recipient
 * has its own state, attempt count, next attempt time and last error, and
 * is kept with its domain, by which the deliverer groups them. A message
 * leaves the queue when it has no recipient left to try (or is deleted);
 * its blob goes with it unless a local copy still uses it.
 */

#define STORE_QUEUE_PENDING "pending"	/* never tried */
#define STORE_QUEUE_DEFERRED "deferred"	/* failed for now, will retry */
#define STORE_QUEUE_FAILED "failed"	/* given up; kept until deleted */

struct store_queue_rcpt {
	const char *address;
	const char *state;		/* STORE_QUEUE_* */
	unsigned attempts;
	time_t next_attempt;
	const char *last_error;		/* NULL if none */
};

struct store_queue_info {
	int64_t id;
	const char *sender;		/* "" for <> */
	time_t created;
	uint64_t size;			/* of the stored message */
	int64_t user_id;		/* who submitted it, 0 if unknown */
	bool smtputf8;			/* see store_queue_entry */
	const struct store_queue_rcpt *rcpts;
	size_t n_rcpts;
};

/*
 * Calls cb for each queued message by id (only the one with id if id is
 * not 0), with its recipients. Strings live during the callback. cb
 * returns 0 to go on, -1 to stop. Returns 0, STORE_E_NOTFOUND (id given
 * and not queued) or -1.
 */
int
store_queue_list(struct store *store, int64_t id,
    int (*cb)(void *ctx, const struct store_queue_info *info), void *ctx,
    const char **error_r);

/*
 * Opens a queued message read-only: 0 with an fd the caller closes, its
 * size and the offset the deliverer sends it from; STORE_E_NOTFOUND; -1.
 */
int
store_queue_open(struct store *store, int64_t id, int *fd_r,
    uint64_t *size_r, uint64_t *offset_r, const char **error_r);

/* Removes a message from the queue (and its blob if nothing else uses
 * it). Returns 0, STORE_E_NOTFOUND or -1. Writes. */
int
store_queue_delete(struct store *store, int64_t id, const char **error_r);

/*
 * Makes the recipients still to be tried due at now: those of message id,
 * or of every message if id is 0. *n_r gets how many. Returns 0,
 * STORE_E_NOTFOUND (id given and not queued) or -1. Writes.
 */
int
store_queue_flush(struct store *store, int64_t id, time_t now, size_t *n_r,
    const char **error_r);

/* One recipient due for delivery (store_queue_due). */
struct store_queue_due {
	int64_t queue_id;
	const char *sender;		/* "" for <> */
	time_t created;
	const char *domain;		/* lower case */
	const char *address;
	unsigned attempts;
	bool smtputf8;			/* see store_queue_entry */
};

/*
 * Calls cb for each recipient to try at now (state pending or deferred,
 * next_attempt <= now), at most limit of them, ordered by message, domain
 * and recipient, so that a message's recipients of one domain come
 * together. Strings live during the callback; cb returns 0 to go on, -1
 * to stop. Only reads. Returns 0 or -1.
 */
int
store_queue_due(struct store *store, time_t now, size_t limit,
    int (*cb)(void *ctx, const struct store_queue_due *due), void *ctx,
    const char **error_r);

enum store_queue_outcome {
	STORE_QUEUE_SENT,	/* delivered: the recipient leaves the queue */
	STORE_QUEUE_RETRY,	/* deferred until next_attempt */
	STORE_QUEUE_GIVEUP,	/* failed for good: state 'failed' */
};

struct store_queue_result {
	const char *address;
	enum store_queue_outcome outcome;
	time_t next_attempt;	/* STORE_QUEUE_RETRY only */
	const char *error;	/* the reply or reason; NULL for SENT */
};

/*
 * Records the results of one delivery attempt of message queue_id, in one
 * transaction: each attempted recipient gets attempts + 1 and its new
 * state, and sent ones are removed. A message left without recipients
 * leaves the queue, its blob too unless a local copy uses it. A message
 * deleted meanwhile is not an error. Writes: the writer thread only.
 * Returns 0 or -1.
 */
int
store_queue_update(struct store *store, int64_t queue_id,
    const struct store_queue_result *results, size_t n,
    const char **error_r);

/* --- reading --- */

struct store_mailbox_info {
	const char *name;
	const char *special_use;	/* "\\Sent", ... or NULL */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t messages;
	uint64_t bytes;
};

/* Calls cb for each mailbox of a user, INBOX first then by name. */
int
store_mailbox_list(struct store *store, const char *address,
    int (*cb)(void *ctx, const struct store_mailbox_info *info), void *ctx,
    const char **error_r);

struct store_message_info {
	uint32_t uid;
	uint64_t modseq;
	uint64_t size;
	time_t internal_date;
	const char *envelope_from;
	const char *hdr_from;		/* may be NULL */
	const char *hdr_subject;	/* may be NULL */
	const char *hdr_date;		/* may be NULL */
	unsigned flags;			/* STORE_FLAG_* */
};

#define STORE_FLAG_SEEN		0x01
#define STORE_FLAG_ANSWERED	0x02
#define STORE_FLAG_FLAGGED	0x04
#define STORE_FLAG_DELETED	0x08
#define STORE_FLAG_DRAFT	0x10
#define STORE_FLAGS_ALL		0x1f

/* Calls cb for each message of a mailbox, by UID. */
int
store_message_list(struct store *store, const char *address,
    const char *mailbox,
    int (*cb)(void *ctx, const struct store_message_info *info), void *ctx,
    const char **error_r);

/*
 * Opens the stored body of one message read-only. Returns 0 with a file
 * descriptor the caller closes, and its size; 1 if there is no such
 * message; -1 on error.
 */
int
store_message_open(struct store *store, const char *address,
    const char *mailbox, uint32_t uid, int *fd_r, uint64_t *size_r,
    const char **error_r);

/* --- IMAP: mailboxes and messages by id --- */

/*
 * Results beyond 0 and -1 for the calls below that can fail for a reason
 * the client should hear about. *error_r is set for each of them too.
 */
#define STORE_E_NOTFOUND 1	/* no such mailbox / message */
#define STORE_E_EXISTS 2	/* the name is taken */
#define STORE_E_LIMIT 3		/* too many mailboxes, names too long */
#define STORE_E_INVALID 4	/* not allowed (delete INBOX, ...) */

#define STORE_MAILBOX_NAME_MAX 1000	/* bytes of a UTF-8 mailbox name */
#define STORE_MAILBOX_LEVELS_MAX 32	/* "/"-separated levels */
#define STORE_MAILBOXES_MAX 10000	/* per user */
#define STORE_KEYWORD_MAX 100		/* bytes of one keyword */
#define STORE_KEYWORDS_MAX 50		/* keywords on one message */
#define STORE_SUBSCRIPTIONS_MAX 10000	/* per user */

/* Looks a user up: 1 with the id, 0 if there is no such user, -1. */
int
store_user_lookup(struct store *store, const char *address,
    int64_t *user_id_r, const char **error_r);

/* The state of one mailbox. Strings stay valid until the next call. */
struct store_mailbox_state {
	int64_t id;
	const char *name;
	const char *special_use;	/* "\\Sent", ... or NULL */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint64_t messages;
	uint64_t unseen;	/* without \Seen */
	uint64_t deleted;	/* with \Deleted */
	uint64_t bytes;
	bool subscribed;
};

/*
 * Calls cb for each mailbox of a user, sorted by name (byte order), with
 * its counts. Returns 0 or -1.
 */
int
store_mailbox_list_user(struct store *store, int64_t user_id,
    int (*cb)(void *ctx, const struct store_mailbox_state *mb), void *ctx,
    const char **error_r);

/* One mailbox by name ("INBOX" in any case): 0, STORE_E_NOTFOUND, -1. */
int
store_mailbox_get(struct store *store, int64_t user_id, const char *name,
    struct store_mailbox_state *mb_r, const char **error_r);

/* The same without the counts (messages, unseen, deleted, bytes are 0),
 * which take a pass over the mailbox's messages. */
int
store_mailbox_find(struct store *store, int64_t user_id, const char *name,
    struct store_mailbox_state *mb_r, const char **error_r);

/*
 * Creates a mailbox, and every missing superior level of its name ("a"
 * and "a/b" for "a/b/c"), each with a fresh UIDVALIDITY, subscribed.
 * The name must be valid UTF-8 without control characters, empty levels,
 * or a level "." or ".."; at most STORE_MAILBOX_NAME_MAX bytes and
 * STORE_MAILBOX_LEVELS_MAX levels. Returns 0, STORE_E_EXISTS,
 * STORE_E_INVALID, STORE_E_LIMIT or -1. Writes: call off the event loop.
 */
int
store_mailbox_create(struct store *store, int64_t user_id, const char *name,
    const char *special_use, const char **error_r);

/*
 * Deletes a mailbox with its messages (and blobs no one else uses).
 * INBOX and mailboxes with inferiors cannot be deleted (STORE_E_INVALID).
 * Returns 0, STORE_E_NOTFOUND, STORE_E_INVALID or -1. Writes.
 */
int
store_mailbox_delete(struct store *store, int64_t user_id, const char *name,
    const char **error_r);

/*
 * Renames a mailbox and its inferiors ("a/x" follows "a"); superior
 * levels of the new name are created. Renaming INBOX moves its messages
 * to a new mailbox and leaves INBOX empty (RFC 9051 6.3.6). Each renamed
 * mailbox keeps its UIDVALIDITY. Returns 0, STORE_E_NOTFOUND,
 * STORE_E_EXISTS, STORE_E_INVALID, STORE_E_LIMIT or -1. Writes.
 */
int
store_mailbox_rename(struct store *store, int64_t user_id, const char *from,
    const char *to, const char **error_r);

/* Adds or removes a subscription; the mailbox need not exist (RFC 9051
 * 6.3.7). Returns 0, STORE_E_LIMIT or -1. Writes. */
int
store_subscription_set(struct store *store, int64_t user_id,
    const char *name, bool subscribed, const char **error_r);

/* Calls cb for each subscribed name, sorted. */
int
store_subscription_list(struct store *store, int64_t user_id,
    int (*cb)(void *ctx, const char *name), void *ctx, const char **error_r);

/* What a session learns about one message (flags and keywords). */
struct store_message_flags {
	uint32_t uid;
	unsigned flags;		/* STORE_FLAG_* */
	const char *keywords;	/* space-separated, sorted, "" if none */
	uint64_t modseq;
};

/*
 * Reads, in one snapshot, a mailbox's state and what changed since
 * since_modseq: on_message for each message with MODSEQ above it (all
 * messages when since_modseq is 0), by UID, and on_expunged for each UID
 * expunged with a MODSEQ above it (none when since_modseq is 0). Either
 * callback may be NULL. Returns 0, STORE_E_NOTFOUND (the mailbox is gone)
 * or -1.
 */
int
store_mailbox_changes(struct store *store, int64_t mailbox_id,
    uint64_t since_modseq, struct store_mailbox_state *mb_r,
    void (*on_message)(void *ctx, const struct store_message_flags *m),
    void (*on_expunged)(void *ctx, uint32_t uid, uint64_t modseq),
    void *ctx, const char **error_r);

/* Everything stored about one message. Strings stay valid until the
 * next call on this store. */
struct store_message_meta {
	uint32_t uid;
	unsigned flags;
	const char *keywords;
	uint64_t modseq;
	uint64_t size;
	time_t internal_date;
	const char *envelope;		/* cached renderings, or NULL */
	const char *body;
	const char *bodystructure;
	char blob[48];			/* for store_message_meta_open */
};

/*
 * Calls cb, by UID, for each message of a mailbox whose UID is in one of
 * the n_ranges ranges [ranges[2i], ranges[2i+1]]. Without full, only the
 * flags, sizes and dates are read: the cached renderings are NULL and
 * blob is empty (so the message cannot be opened), which makes a scan of
 * flags several times quicker. cb returns 0 to go on, -1 to stop.
 * Returns 0 or -1.
 */
int
store_message_scan(struct store *store, int64_t mailbox_id,
    const uint32_t *ranges, size_t n_ranges, bool full,
    int (*cb)(void *ctx, const struct store_message_meta *m), void *ctx,
    const char **error_r);

/*
 * Calls cb with the UID and size of each message of a mailbox, by UID,
 * and reads nothing else (a POP3 maildrop listing; store_message_scan
 * reads every column). cb returns 0 to go on, -1 to stop. Returns 0 or
 * -1.
 */
int
store_message_sizes(struct store *store, int64_t mailbox_id,
    int (*cb)(void *ctx, uint32_t uid, uint64_t size), void *ctx,
    const char **error_r);

/* Opens the body of a message found by store_message_scan, read-only.
 * Returns 0 with an fd the caller closes, or -1. */
int
store_message_meta_open(struct store *store,
    const struct store_message_meta *m, int *fd_r, const char **error_r);

enum store_flags_mode {
	STORE_FLAGS_REPLACE,
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE,
};

/* A flag change (IMAP STORE) over UID ranges of one mailbox. */
struct store_flags_change {
	int64_t mailbox_id;
	const uint32_t *ranges;		/* pairs lo, hi */
	size_t n_ranges;
	enum store_flags_mode mode;
	unsigned flags;
	const char *keywords;		/* space-separated, checked */
	bool conditional;		/* RFC 7162 UNCHANGEDSINCE given */
	uint64_t unchangedsince;	/* its value (0 fails every message) */
	/* Results: UIDs not changed because their MODSEQ was above
	 * unchangedsince (malloc'd, caller frees), and the new MODSEQ. */
	uint32_t *modified;
	size_t n_modified;
	uint64_t modseq;
};

/* Applies a flag change. Messages whose flags do not change keep their
 * MODSEQ. Returns 0, STORE_E_NOTFOUND, STORE_E_LIMIT (too many keywords)
 * or -1. Writes. */
int
store_flags_update(struct store *store, struct store_flags_change *change,
    const char **error_r);

/*
 * Expunges the messages with \Deleted in the UID ranges (all of the
 * mailbox when ranges is NULL), remembering their UIDs with a new MODSEQ
 * (RFC 7162 QRESYNC). Returns 0 with the number expunged in *n_r,
 * STORE_E_NOTFOUND or -1. Writes.
 */
int
store_expunge(struct store *store, int64_t mailbox_id,
    const uint32_t *ranges, size_t n_ranges, size_t *n_r,
    const char **error_r);

/*
 * Expunges exactly the messages in the UID ranges, with or without
 * \Deleted (POP3 removes the messages marked by DELE this way, at QUIT),
 * in one transaction, like store_expunge otherwise. UIDs that are gone
 * already are skipped. n_ranges 0 expunges nothing. Returns 0 with the
 * number expunged in *n_r, STORE_E_NOTFOUND or -1. Writes.
 */
int
store_expunge_uids(struct store *store, int64_t mailbox_id,
    const uint32_t *ranges, size_t n_ranges, size_t *n_r,
    const char **error_r);

/* COPY or MOVE of the messages in UID ranges to another mailbox of the
 * same user, sharing their blobs. */
struct store_copy {
	int64_t from_mailbox_id;
	const uint32_t *ranges;
	size_t n_ranges;
	int64_t user_id;
	const char *to;			/* destination mailbox name */
	bool move;			/* also expunge them from the source */
	/* Results (RFC 4315 COPYUID): malloc'd arrays of n UIDs in the
	 * source and the destination, and the destination's UIDVALIDITY. */
	uint32_t *from_uids;
	uint32_t *to_uids;
	size_t n;
	uint32_t uidvalidity;
};

/* Returns 0, STORE_E_NOTFOUND (no such destination; [TRYCREATE]) or -1.
 * Writes. */
int
store_message_copy(struct store *store, struct store_copy *copy,
    const char **error_r);

/* Reads len bytes at offset of an open message (store_message_meta_open,
 * store_queue_open) into a malloc'd, NUL-terminated buffer. Returns 0, or
 * -1 on an error or a short file. Blocks on disk. */
int
store_read_range(int fd, uint64_t offset, uint64_t len, char **data_r);

/*
 * Full-text index for IMAP SEARCH BODY and TEXT (store-text.c). It gives
 * candidates, a superset of the messages whose text contains a needle;
 * the caller checks each candidate on the message itself.
 */

struct buf;

/*
 * Fills header and body with the text of a message as SEARCH TEXT and
 * BODY look at it, already folded (mime_text_fold). Returns -1 if that
 * cannot be done completely (the message then is always a candidate).
 */
typedef int store_text_fn(const char *data, size_t len, struct buf *header,
    struct buf *body);

/*
 * The index was made by extract functions of this version: if the store's
 * is another (or none), empties it, to be made again by
 * store_text_index_some. Writes.
 */
int
store_text_version(struct store *store, int64_t version, const char **error_r);

/*
 * Indexes up to max messages not indexed yet, for a few milliseconds at
 * most, in one transaction. Returns how many (0: none left), or -1.
 * Writes (the writer thread calls it when it has nothing else to do).
 */
int
store_text_index_some(struct store *store, store_text_fn *extract, size_t max,
    const char **error_r);

/* A needle: folded text; in the body only (BODY) or anywhere (TEXT). */
struct store_text_term {
	const char *folded;
	size_t len;
	bool body_only;
};

/*
 * The UIDs (ascending, malloc'd) of a mailbox's messages that may contain
 * every needle. Returns 1 with them, 0 if no needle is long enough for
 * the index (three characters; then every message is a candidate), -1.
 */
int
store_text_candidates(struct store *store, int64_t mailbox_id,
    const struct store_text_term *terms, size_t n_terms, uint32_t **uids_r,
    size_t *n_r, const char **error_r);

/* --- the quarantine (store-quarantine.c) --- */

/*
 * Held mail: a message the spam filter (or an administrator) keeps out of
 * the user's mailboxes until it is released, deleted or expires. Each
 * held copy is one row per user, pointing at a blob that store_deliver
 * wrote durably (struct store_quarantine_hold); the blob stays while a
 * message, a queue entry or a quarantine row uses it.
 */

/* Rows store_quarantine_expire removes in one transaction, at most. */
#define STORE_QUARANTINE_EXPIRE_MAX 1000
/* Users store_quarantine_users returns at most in one call. */
#define STORE_QUARANTINE_USERS_MAX 1000

/* One held message. Strings live during the callback only. */
struct store_quarantine_info {
	int64_t id;
	int64_t user_id;
	const char *rcpt;		/* the user's address */
	uint64_t size;
	time_t created;			/* when it arrived */
	time_t expires;			/* when store_quarantine_expire drops it */
	double score;
	const char *symbols;		/* "NAME(score) ...", may be "" */
	const char *reason;		/* one line, may be "" */
	const char *envelope_from;	/* "" for <> */
	const char *peer;		/* the client's address, may be "" */
	const char *hdr_from;		/* raw header values, or NULL */
	const char *hdr_subject;
	const char *hdr_date;
	bool digested;			/* already listed in a digest */
};

/* Flags of store_quarantine_list. */
#define STORE_QUARANTINE_UNDIGESTED 0x01	/* only rows not digested */

/*
 * Calls cb for each held message of user_id (all users if 0), newest
 * first (by id, descending), at most limit of them (0: no limit); with
 * STORE_QUARANTINE_UNDIGESTED only those not digested yet. cb returns 0
 * to go on, -1 to stop. Only reads. Returns 0 or -1.
 */
int
store_quarantine_list(struct store *store, int64_t user_id, unsigned flags,
    size_t limit,
    int (*cb)(void *ctx, const struct store_quarantine_info *info), void *ctx,
    const char **error_r);

/*
 * One held message: cb is called once with it (may be NULL), and if fd_r
 * is not NULL the blob is opened read-only (the caller closes *fd_r; read
 * its bytes with store_read_range(*fd_r, 0, info->size, ...)). With
 * user_id not 0 the row must belong to that user. Returns 0,
 * STORE_E_NOTFOUND (no such row, or another user's) or -1.
 */
int
store_quarantine_get(struct store *store, int64_t id, int64_t user_id,
    int (*cb)(void *ctx, const struct store_quarantine_info *info), void *ctx,
    int *fd_r, const char **error_r);

/*
 * Releases a held message in one transaction: a message row in the
 * user's INBOX pointing at the same blob (next UID and MODSEQ of the
 * mailbox, internal date = arrival, the cached IMAP renderings of the
 * blob shared), and the quarantine row deleted. With user_id not 0 the
 * row must belong to that user (self-release). *user_id_r (if not NULL)
 * gets the owner, *uid_r (if not NULL) the new UID. The caller tells IMAP
 * sessions (deliverq notify_user). Returns 0, STORE_E_NOTFOUND, or -1
 * (also when the user has no INBOX). Writes.
 */
int
store_quarantine_release(struct store *store, int64_t id, int64_t user_id,
    int64_t *user_id_r, uint32_t *uid_r, const char **error_r);

/*
 * Deletes a held message (and its blob if nothing else uses it). With
 * user_id not 0 the row must belong to that user. Returns 0,
 * STORE_E_NOTFOUND or -1. Writes.
 */
int
store_quarantine_delete(struct store *store, int64_t id, int64_t user_id,
    const char **error_r);

/*
 * Deletes up to max (at most STORE_QUARANTINE_EXPIRE_MAX) held messages
 * whose expiry is at or before now, oldest first, in one transaction,
 * and the blobs no one uses any more; *n_r gets how many went (call
 * again while it equals max). Notes of releases older than
 * STORE_QUARANTINE_RELEASED_KEEP go too. Returns 0 or -1. Writes.
 */
int
store_quarantine_expire(struct store *store, time_t now, size_t max,
    size_t *n_r, const char **error_r);

/*
 * Marks held messages of user_id as listed in a digest: the n ids given
 * (others' ids are ignored). Returns 0 or -1. Writes.
 */
int
store_quarantine_mark_digested(struct store *store, int64_t user_id,
    const int64_t *ids, size_t n, const char **error_r);

/*
 * The distinct users (ascending, above after_user_id) with held mail not
 * digested yet, at most max (<= STORE_QUARANTINE_USERS_MAX) into users_r;
 * *n_r gets how many. Only reads. Returns 0 or -1.
 */
int
store_quarantine_users(struct store *store, int64_t after_user_id,
    int64_t *users_r, size_t max, size_t *n_r, const char **error_r);

/*
 * Releases are noted with the owner (in the release's transaction) for
 * STORE_QUARANTINE_RELEASED_KEEP seconds, so that a server learns of
 * those another process made: calls cb for each user with a release
 * noted after id after_id (at most STORE_QUARANTINE_USERS_MAX of them),
 * and sets *last_id_r to the last id seen (after_id if none; pass 0 with
 * cb NULL to learn the current last id). Only reads. Returns 0 or -1.
 */
#define STORE_QUARANTINE_RELEASED_KEEP 3600
int
store_quarantine_released(struct store *store, int64_t after_id,
    void (*cb)(void *ctx, int64_t user_id), void *ctx, int64_t *last_id_r,
    const char **error_r);

/* The address of user id: 1 with it in addr_r (size bytes, at least
 * STORE_ADDRESS_MAX + 1), 0 if there is no such user, -1. */
int
store_user_address(struct store *store, int64_t user_id, char *addr_r,
    size_t size, const char **error_r);

/* One DMARC evaluation of an inbound message (RFC 7489 7.2): the rows
 * aggregate reports are made of. Strings are not NULL. */
struct store_dmarc_row {
	time_t time;
	const char *source_ip;
	const char *header_from;
	const char *policy_domain;
	const char *policy;		/* "none", "quarantine", "reject" */
	unsigned pct;
	const char *disposition;	/* what was done */
	const char *dmarc;		/* "pass", "fail" */
	const char *dkim;		/* "d=result ..." of each signature */
	const char *spf_domain;
	const char *spf;		/* SPF result name */
};

/* Records row. Writes: the writer thread only. Returns 0 or -1. */
int
store_dmarc_record(struct store *store, const struct store_dmarc_row *row,
    const char **error_r);

/* --- spam filter allow and block lists (store-spamlist.c) --- */

/* Addresses and domains one lookup matches at most. */
#define STORE_SPAM_LIST_MATCH_MAX 16

enum store_spam_list_kind {
	STORE_SPAM_ALLOW,
	STORE_SPAM_BLOCK,
};

/*
 * Adds entry (an address or a domain, lower case, checked by the
 * caller) to owner's list of kind: owner is "" (every recipient), a
 * hosted domain or a user address. An entry already listed by owner
 * changes kind. Returns 0, or -1 with *error_r set.
 */
int
store_spam_list_add(struct store *store, const char *owner, const char *entry,
    enum store_spam_list_kind kind, time_t now, const char **error_r);

/* Removes owner's entry. Returns 1 if it was listed, 0 if not, -1. */
int
store_spam_list_del(struct store *store, const char *owner, const char *entry,
    const char **error_r);

/* Calls cb for each entry of owner (NULL: every owner's), by owner then
 * entry. cb returns 0 to go on, -1 to stop. Returns 0 or -1. */
int
store_spam_list_list(struct store *store, const char *owner,
    int (*cb)(void *ctx, const char *owner, const char *entry,
    enum store_spam_list_kind kind, time_t created), void *ctx,
    const char **error_r);

/*
 * Looks up entries (at most STORE_SPAM_LIST_MATCH_MAX; more are
 * ignored) in every owner's list, and calls cb for each row found.
 * Returns 0 or -1.
 */
int
store_spam_list_match(struct store *store, const char *const *entries,
    size_t n, void (*cb)(void *ctx, const char *owner, const char *entry,
    enum store_spam_list_kind kind), void *ctx, const char **error_r);

/*
 * --- the statistical classifier (store-bayes.c; filter/bayes.h uses it) ---
 *
 * Token counts by 64-bit token hash, in one table per user and a global
 * one (user id STORE_BAYES_GLOBAL); message totals per table; and which
 * messages each table learnt, by a 64-bit content hash, with the class,
 * so that a message is learnt once and can be unlearnt or moved to the
 * other class. Token rows whose counts fall to zero are deleted; tokens
 * not learnt since a cut-off are expired a bounded number at a time.
 */

#define STORE_BAYES_GLOBAL 0		/* the user id of the global table */
/* Tokens of one message, at most (filter/bayes.h BAYES_TOKENS_MAX is
 * below it). */
#define STORE_BAYES_TOKENS_MAX 4096
/* Tables one learn writes, at most (a user's and the global one). */
#define STORE_BAYES_USERS_MAX 2

/* The classes, as stored (bayes_trained.class). */
#define STORE_BAYES_HAM 0
#define STORE_BAYES_SPAM 1
#define STORE_BAYES_FORGET (-1)		/* unlearn, whatever it was */

/* Counts of one token in one table. */
struct store_bayes_count {
	uint64_t spam, ham;
};

/* What classifying one message reads, in one snapshot. */
struct store_bayes_read {
	/* Messages learnt by the global table and by the user's (0 when
	 * user_id is STORE_BAYES_GLOBAL). */
	uint64_t global_spam, global_ham;
	uint64_t user_spam, user_ham;
	/* n counts each, set by store_bayes_counts (the caller provides
	 * the arrays; user may be NULL, then it is not read; for user_id
	 * STORE_BAYES_GLOBAL it is left at zeros). */
	struct store_bayes_count *global;
	struct store_bayes_count *user;
};

/*
 * Reads the totals of the global table and of user_id's, and the counts
 * of n tokens (n <= STORE_BAYES_TOKENS_MAX) into r->global and r->user,
 * in one read transaction. Only reads (a storeq worker's store).
 * Returns 0 or -1.
 */
int
store_bayes_counts(struct store *store, int64_t user_id,
    const uint64_t *tokens, size_t n, struct store_bayes_read *r,
    const char **error_r);

/* What store_bayes_learn did for one table. */
enum store_bayes_outcome {
	STORE_BAYES_LEARNT,	/* new: counted */
	STORE_BAYES_ALREADY,	/* learnt as this class before: nothing */
	STORE_BAYES_RELEARNT,	/* was the other class: moved over */
	STORE_BAYES_FORGOTTEN,	/* STORE_BAYES_FORGET: subtracted */
	STORE_BAYES_UNKNOWN,	/* STORE_BAYES_FORGET of a message the
				 * table never learnt: nothing */
};

/* One message to learn (or unlearn). */
struct store_bayes_learn {
	const int64_t *users;	/* tables: user ids, STORE_BAYES_GLOBAL for
				 * the global one; at most
				 * STORE_BAYES_USERS_MAX, distinct */
	size_t n_users;
	uint64_t msg_hash;	/* the message's content hash */
	int klass;		/* STORE_BAYES_SPAM, _HAM or _FORGET */
	const uint64_t *tokens;	/* distinct, n_tokens <= _TOKENS_MAX */
	size_t n_tokens;
	time_t now;		/* the tokens' new atime */
	/* Expire up to expire_max tokens (and learnt-message records)
	 * last learnt before this; 0: no expiry. */
	time_t expire_before;
	size_t expire_max;
	/* Results: n_users outcomes, and how many rows were expired. */
	enum store_bayes_outcome outcome_r[STORE_BAYES_USERS_MAX];
	size_t expired_r;
};

/*
 * Learns one message into each table of l, in one write transaction
 * (its own, or the caller's batch: store_bayes_batch_begin). For each
 * table: a message already learnt as l->klass is left alone; one learnt
 * as the other class is first unlearnt (its token counts and the total
 * of that class go down by one, never below zero); then its tokens get
 * one more in the class (atime now) and the total one more. FORGET only
 * unlearns. Writes: the writer thread only (or the CLI). Returns 0 or
 * -1 (nothing changed).
 */
int
store_bayes_learn(struct store *store, struct store_bayes_learn *l,
    const char **error_r);

/*
 * A batch: store_bayes_learn calls between begin and end share one write
 * transaction (the CLI trains thousands of messages with one fsync per
 * batch instead of one each). end commits (commit true) or rolls back.
 * Returns 0 or -1.
 */
int
store_bayes_batch_begin(struct store *store, const char **error_r);
int
store_bayes_batch_end(struct store *store, bool commit, const char **error_r);

/* What one table holds (correio spam stats). */
struct store_bayes_stats {
	uint64_t spam, ham;	/* messages learnt (the totals) */
	uint64_t tokens;	/* token rows */
	uint64_t learnt;	/* messages remembered as learnt */
	time_t oldest;		/* the oldest token's atime, 0 if none */
};

/* Reads the stats of user_id's table (STORE_BAYES_GLOBAL: the global
 * one). Only reads; counts the table's rows. Returns 0 or -1. */
int
store_bayes_stats(struct store *store, int64_t user_id,
    struct store_bayes_stats *stats_r, const char **error_r);

/*
 * The RFC 6154 SPECIAL-USE attribute of a mailbox by id, copied into
 * use_r (size bytes; "" for none), and its user. Returns 1, 0 if there is
 * no such mailbox, -1. Only reads. (IMAP learning asks it of the source
 * of a COPY or MOVE.)
 */
int
store_bayes_mailbox_use(struct store *store, int64_t mailbox_id,
    char *use_r, size_t size, int64_t *user_id_r, const char **error_r);

#endif
