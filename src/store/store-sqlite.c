/*
 * store-sqlite.c - the embedded store backend: metadata in SQLite
 * (DATA_DIR/correio.db, WAL mode), message bodies in store-blob.c.
 *
 * Implements store.h: domains, users (yescrypt hashes, see
 * core/password.h), aliases, recipient resolution, group-committed
 * delivery, and the mailbox and message listings. The mailbox columns are
 * those IMAP needs (RFC 3501 UIDVALIDITY/UIDNEXT, RFC 6154 SPECIAL-USE,
 * RFC 7162 HIGHESTMODSEQ); messages carry flags and a MODSEQ.
 *
 * Durability: synchronous=FULL, so every COMMIT fsyncs the WAL. Blobs are
 * flushed (store_blob_sync) before the transaction that points at them is
 * committed, so a crash can leave an orphan blob file but never a message
 * row without its body.
 *
 * SECURITY: addresses, domains, mailbox names, passwords and header values
 * may come from the network. They are validated for length and syntax and
 * only ever bound as SQL parameters; the SQL text is constant. Error
 * messages repeat an address only after it passed validation. The
 * database is created mode 0600 (it holds password hashes) and opened
 * with SQLITE_DBCONFIG_DEFENSIVE and trusted_schema=OFF.
 */
#include "store/store-private.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/password.h"
#include "core/xalloc.h"

#define STORE_DB_NAME "correio.db"
#define STORE_BLOBS_DIR "blobs"
#define STORE_SCHEMA_VERSION 10
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_LOCAL_MAX 64		/* RFC 5321 4.5.3.1.1 */
#define STORE_DOMAIN_MAX 255		/* RFC 5321 4.5.3.1.2 */
#define STORE_LABEL_MAX 63		/* RFC 1035 2.3.4 */
#define STORE_UID_MAX 4294967295LL	/* RFC 3501 2.3.1.1: 32 bits */

/*
 * The schema. Names are stored lower-cased (ASCII) and compared with the
 * default BINARY collation. UNIQUE (mailbox_id, uid) is also the index
 * for fetching a mailbox's messages in UID order; (mailbox_id, modseq)
 * serves CONDSTORE (RFC 7162) and messages(blob_id) finds unused blobs.
 * uidvalidity comes from the 'uidvalidity' counter, which only grows, so
 * a value is never reused, even for a mailbox deleted and made again.
 */
static const char store_schema[] =
	"CREATE TABLE counters ("
	"  name TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO counters (name, value) VALUES ('uidvalidity', 0);"
	"CREATE TABLE domains ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE"
	");"
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id),"
	"  address TEXT NOT NULL UNIQUE,"
	"  password TEXT NOT NULL,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX users_domain ON users(domain_id);"
	"CREATE TABLE aliases ("
	"  id INTEGER PRIMARY KEY,"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id),"
	"  alias TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  UNIQUE (alias, target)"
	");"
	"CREATE INDEX aliases_domain ON aliases(domain_id);"
	"CREATE TABLE mailboxes ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  special_use TEXT,"
	"  uidvalidity INTEGER NOT NULL"
	"    CHECK (uidvalidity BETWEEN 1 AND 4294967295),"
	"  uidnext INTEGER NOT NULL DEFAULT 1"
	"    CHECK (uidnext BETWEEN 1 AND 4294967296),"
	"  highestmodseq INTEGER NOT NULL DEFAULT 1,"
	"  subscribed INTEGER NOT NULL DEFAULT 1,"
	"  UNIQUE (user_id, name)"
	");"
	"CREATE TABLE blobs ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  size INTEGER NOT NULL,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  mailbox_id INTEGER NOT NULL"
	"    REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),"
	"  blob_id INTEGER NOT NULL REFERENCES blobs(id),"
	"  size INTEGER NOT NULL,"
	"  internal_date INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  keywords TEXT NOT NULL DEFAULT '',"
	"  envelope_from TEXT NOT NULL,"
	"  hdr_from TEXT,"
	"  hdr_subject TEXT,"
	"  hdr_date TEXT,"
	"  UNIQUE (mailbox_id, uid)"
	");"
	"CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);"
	"CREATE INDEX messages_blob ON messages(blob_id);";

/*
 * Schema changes, in order: store_schema_migrations[i] takes version
 * i + 1 to i + 2. A new store gets store_schema (version 1) and then
 * every migration, so the upgrade path is the path every test takes.
 *
 * 2: IMAP. Cached ENVELOPE/BODY/BODYSTRUCTURE renderings; expunged UIDs
 *    with their MODSEQ (RFC 7162 QRESYNC VANISHED); subscriptions in
 *    their own table, since a name can be subscribed without a mailbox
 *    (RFC 9051 6.3.7).
 * 3: a full-text index for SEARCH (store-text.c): a contentless FTS5
 *    trigram table over folded text, by blob, and which blobs are in it.
 * 4: the cached renderings move from messages to blob_render, by blob:
 *    copies share them, and message rows get narrow again (a FETCH of
 *    flags or a SELECT reads a tenth of the pages).
 * 5: user and mailbox ids are never used twice. SQLite gives the id of
 *    a deleted last row to the next one; a session that still held the
 *    old id (a logged-in user, a selected mailbox) then reached the new
 *    user's or mailbox's mail. The ids now come from counters that a
 *    trigger keeps at the highest id ever given.
 * 6: the outbound queue (submission, sendmail): a message row pointing at
 *    a blob (blobs are shared with local copies; a blob is kept while a
 *    message or a queue row uses it), and its recipients, each with its
 *    domain, state, attempts, next attempt time and last error. Queue ids
 *    are AUTOINCREMENT: an id the admin saw is never another message's.
 * 7: queue recipients may be 'failed' (the deliverer gave up on them).
 * 8: a queue entry says whether it was submitted with SMTPUTF8 (RFC 6531),
 *    which the deliverer needs to know for the next hop.
 * 9: every DMARC evaluation of inbound mail, one row each, with what an
 *    aggregate report (RFC 7489 7.2, appendix C) lists: source address,
 *    From: domain, the policy published and applied, and the DKIM and
 *    SPF results with their domains.
 * 10: the spam filter. Held messages (the quarantine: a blob per
 *    message, one row per recipient user, with the score, the symbols
 *    and an expiry); the statistical classifier's token counts, global
 *    (user_id 0) and per user, its message totals and which messages it
 *    learnt (by content hash, so that each is learnt once and can be
 *    unlearnt), with indexes on their times for the bounded expiry of
 *    old tokens (store-bayes.c); greylisting triplets; allow and block
 *    lists, global (owner '') or of a hosted domain or a user. A held
 *    message keeps the header values a message row caches (hdr_date
 *    too), so that its release makes the same row a delivery would;
 *    each release is noted (quarantine_released, kept an hour) so that
 *    a server sees the releases another process (the CLI) made and
 *    tells IMAP sessions.
 */
static const char *const store_schema_migrations[] = {
	"ALTER TABLE messages ADD COLUMN envelope TEXT;"
	"ALTER TABLE messages ADD COLUMN body TEXT;"
	"ALTER TABLE messages ADD COLUMN bodystructure TEXT;"
	"CREATE TABLE expunged ("
	"  mailbox_id INTEGER NOT NULL"
	"    REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox_id, uid)"
	") WITHOUT ROWID;"
	"CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);"
	"CREATE TABLE subscriptions ("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY (user_id, name)"
	") WITHOUT ROWID;"
	"INSERT INTO subscriptions (user_id, name)"
	"  SELECT user_id, name FROM mailboxes WHERE subscribed = 1;"
	"ALTER TABLE mailboxes DROP COLUMN subscribed;",

	"ALTER TABLE blobs ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX blobs_unindexed ON blobs(id) WHERE indexed = 0;"
	"CREATE VIRTUAL TABLE blob_text USING fts5(header, body,"
	"  content='', detail='column', tokenize='trigram case_sensitive 1');",

	"CREATE TABLE blob_render ("
	"  blob_id INTEGER PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,"
	"  envelope TEXT,"
	"  body TEXT,"
	"  bodystructure TEXT"
	");"
	"INSERT OR IGNORE INTO blob_render"
	"  SELECT blob_id, envelope, body, bodystructure FROM messages"
	"  WHERE envelope IS NOT NULL OR body IS NOT NULL"
	"   OR bodystructure IS NOT NULL;"
	"ALTER TABLE messages DROP COLUMN envelope;"
	"ALTER TABLE messages DROP COLUMN body;"
	"ALTER TABLE messages DROP COLUMN bodystructure;",

	"INSERT INTO counters (name, value)"
	"  SELECT 'user_id', coalesce(max(id), 0) FROM users;"
	"INSERT INTO counters (name, value)"
	"  SELECT 'mailbox_id', coalesce(max(id), 0) FROM mailboxes;"
	"CREATE TRIGGER users_id_once AFTER INSERT ON users BEGIN"
	"  UPDATE counters SET value = max(value, NEW.id)"
	"   WHERE name = 'user_id';"
	" END;"
	"CREATE TRIGGER mailboxes_id_once AFTER INSERT ON mailboxes BEGIN"
	"  UPDATE counters SET value = max(value, NEW.id)"
	"   WHERE name = 'mailbox_id';"
	" END;",

	"CREATE TABLE queue ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  blob_id INTEGER NOT NULL REFERENCES blobs(id),"
	"  data_offset INTEGER NOT NULL DEFAULT 0,"
	"  sender TEXT NOT NULL,"
	"  user_id INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX queue_blob ON queue(blob_id);"
	"CREATE TABLE queue_rcpts ("
	"  id INTEGER PRIMARY KEY,"
	"  queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (state IN ('pending', 'deferred')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  UNIQUE (queue_id, address)"
	");"
	"CREATE INDEX queue_rcpts_due ON queue_rcpts(next_attempt);"
	"CREATE INDEX queue_rcpts_domain ON queue_rcpts(domain, queue_id);",

	/* 7: a recipient the deliverer gave up on stays, state 'failed',
	 * so that `correio queue` shows why (SQLite cannot alter a CHECK:
	 * the table is made again). */
	"CREATE TABLE queue_rcpts7 ("
	"  id INTEGER PRIMARY KEY,"
	"  queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (state IN ('pending', 'deferred', 'failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  UNIQUE (queue_id, address)"
	");"
	"INSERT INTO queue_rcpts7 SELECT id, queue_id, address, domain, state,"
	"  attempts, next_attempt, last_error FROM queue_rcpts;"
	"DROP TABLE queue_rcpts;"
	"ALTER TABLE queue_rcpts7 RENAME TO queue_rcpts;"
	"CREATE INDEX queue_rcpts_due ON queue_rcpts(next_attempt);"
	"CREATE INDEX queue_rcpts_domain ON queue_rcpts(domain, queue_id);",

	/* 8: entries queued before knew nothing of SMTPUTF8: 0, and the
	 * deliverer still sees non-ASCII addresses for itself. */
	"ALTER TABLE queue ADD COLUMN smtputf8 INTEGER NOT NULL DEFAULT 0;",

	"CREATE TABLE dmarc_results ("
	" id INTEGER PRIMARY KEY,"
	" time INTEGER NOT NULL,"
	" source_ip TEXT NOT NULL,"
	" header_from TEXT NOT NULL,"
	" policy_domain TEXT NOT NULL,"
	" policy TEXT NOT NULL,"		/* p= or sp= that applied */
	" pct INTEGER NOT NULL,"
	" disposition TEXT NOT NULL,"		/* none, quarantine, reject */
	" dmarc TEXT NOT NULL,"		/* pass, fail */
	" dkim TEXT NOT NULL,"		/* "d=result ...", or "" */
	" spf_domain TEXT NOT NULL,"
	" spf TEXT NOT NULL);"
	"CREATE INDEX dmarc_results_domain ON dmarc_results(policy_domain, time);",

	"CREATE TABLE quarantine ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" blob_id INTEGER NOT NULL REFERENCES blobs(id),"
	" size INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" score REAL NOT NULL,"
	" symbols TEXT NOT NULL,"		/* "NAME(score) ..." */
	" reason TEXT NOT NULL,"		/* why held, for the user */
	" envelope_from TEXT NOT NULL,"
	" rcpt TEXT NOT NULL,"
	" peer TEXT NOT NULL,"
	" hdr_from TEXT,"
	" hdr_subject TEXT,"
	" hdr_date TEXT,"			/* for the message row */
	" digested INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX quarantine_user ON quarantine(user_id, id);"
	"CREATE INDEX quarantine_expires ON quarantine(expires);"
	"CREATE INDEX quarantine_blob ON quarantine(blob_id);"
	"CREATE TABLE quarantine_released ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" user_id INTEGER NOT NULL,"
	" time INTEGER NOT NULL);"
	"CREATE TABLE bayes_tokens ("
	" user_id INTEGER NOT NULL,"		/* 0: global */
	" token INTEGER NOT NULL,"		/* 64-bit hash */
	" spam INTEGER NOT NULL DEFAULT 0,"
	" ham INTEGER NOT NULL DEFAULT 0,"
	" atime INTEGER NOT NULL,"
	" PRIMARY KEY (user_id, token)) WITHOUT ROWID;"
	/* the classifier's bounded expiry takes the oldest first */
	"CREATE INDEX bayes_tokens_atime ON bayes_tokens(atime);"
	"CREATE TABLE bayes_totals ("
	" user_id INTEGER PRIMARY KEY,"
	" spam INTEGER NOT NULL DEFAULT 0,"
	" ham INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE bayes_trained ("
	" user_id INTEGER NOT NULL,"
	" msg_hash INTEGER NOT NULL,"
	" class INTEGER NOT NULL CHECK (class IN (0, 1)),"	/* 1 spam */
	" time INTEGER NOT NULL,"
	" PRIMARY KEY (user_id, msg_hash)) WITHOUT ROWID;"
	"CREATE INDEX bayes_trained_time ON bayes_trained(time);"
	"CREATE TABLE greylist ("
	" net TEXT NOT NULL,"			/* /24 or /64 */
	" sender TEXT NOT NULL,"
	" rcpt TEXT NOT NULL,"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" passed INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (net, sender, rcpt)) WITHOUT ROWID;"
	"CREATE INDEX greylist_last ON greylist(last_seen);"
	"CREATE TABLE spam_lists ("
	" id INTEGER PRIMARY KEY,"
	" owner TEXT NOT NULL,"		/* '', a domain or an address */
	" entry TEXT NOT NULL,"		/* an address or a domain */
	" kind TEXT NOT NULL CHECK (kind IN ('allow', 'block')),"
	" created INTEGER NOT NULL,"
	" UNIQUE (owner, entry));"
	"CREATE INDEX spam_lists_entry ON spam_lists(entry);",
};

static const char *const store_stmt_sql[STMT_COUNT] = {
	[STMT_BEGIN_READ] = "BEGIN",
	[STMT_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_SAVEPOINT] = "SAVEPOINT delivery",
	[STMT_RELEASE] = "RELEASE delivery",
	[STMT_ROLLBACK_TO] = "ROLLBACK TO delivery",
	[STMT_DOMAIN_ID] = "SELECT id FROM domains WHERE name = ?1",
	[STMT_DOMAIN_INSERT] = "INSERT INTO domains (name) VALUES (?1)",
	[STMT_DOMAIN_DELETE] = "DELETE FROM domains WHERE id = ?1",
	[STMT_DOMAIN_USAGE] =
	    "SELECT (SELECT count(*) FROM users WHERE domain_id = ?1),"
	    " (SELECT count(DISTINCT alias) FROM aliases"
	    "  WHERE domain_id = ?1)",
	[STMT_USER_ID] = "SELECT id FROM users WHERE address = ?1",
	[STMT_USER_ID_EXISTS] = "SELECT id FROM users WHERE id = ?1",
	[STMT_USER_HASH] = "SELECT password FROM users WHERE address = ?1",
	/* The id: one above any ever given (schema version 5). */
	[STMT_USER_INSERT] =
	    "INSERT INTO users (id, domain_id, address, password, created)"
	    " VALUES ((SELECT value + 1 FROM counters WHERE name = 'user_id'),"
	    " ?1, ?2, ?3, ?4)",
	[STMT_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
	[STMT_USER_PASSWD] =
	    "UPDATE users SET password = ?2 WHERE address = ?1",
	[STMT_USER_BLOBS] =
	    "SELECT m.blob_id FROM messages m"
	    " JOIN mailboxes mb ON mb.id = m.mailbox_id WHERE mb.user_id = ?1"
	    " UNION SELECT blob_id FROM quarantine WHERE user_id = ?1",
	[STMT_ALIAS_EXISTS] = "SELECT 1 FROM aliases WHERE alias = ?1 LIMIT 1",
	[STMT_ALIAS_COUNT] = "SELECT count(*) FROM aliases WHERE alias = ?1",
	[STMT_ALIAS_TARGETS] =
	    "SELECT target FROM aliases WHERE alias = ?1 ORDER BY target",
	[STMT_ALIAS_INSERT] =
	    "INSERT OR IGNORE INTO aliases (domain_id, alias, target)"
	    " VALUES (?1, ?2, ?3)",
	[STMT_ALIAS_DELETE_ALL] = "DELETE FROM aliases WHERE alias = ?1",
	[STMT_ALIAS_DELETE_ONE] =
	    "DELETE FROM aliases WHERE alias = ?1 AND target = ?2",
	/* Time-based, but strictly increasing even if the clock steps back
	 * or many mailboxes are made in the same second. */
	[STMT_UIDVALIDITY_NEXT] =
	    "UPDATE counters SET value = max(value + 1, ?1)"
	    " WHERE name = 'uidvalidity' RETURNING value",
	[STMT_MAILBOX_INSERT] =
	    "INSERT INTO mailboxes (id, user_id, name, special_use,"
	    " uidvalidity, uidnext, highestmodseq)"
	    " VALUES ((SELECT value + 1 FROM counters"
	    " WHERE name = 'mailbox_id'), ?1, ?2, ?3, ?4, 1, 1)",
	[STMT_SUBSCRIBE] =
	    "INSERT OR IGNORE INTO subscriptions (user_id, name)"
	    " VALUES (?1, ?2)",
	[STMT_MAILBOX_ID] =
	    "SELECT mb.id FROM mailboxes mb JOIN users u ON u.id = mb.user_id"
	    " WHERE u.address = ?1 AND mb.name = ?2",
	[STMT_MAILBOX_ALLOC] =
	    "UPDATE mailboxes SET uidnext = uidnext + 1,"
	    " highestmodseq = highestmodseq + 1"
	    " WHERE user_id = ?1 AND name = ?2"
	    " RETURNING id, uidnext - 1, highestmodseq",
	/* indexed: 0 to be indexed for SEARCH, 2 never (queue only). */
	[STMT_BLOB_INSERT] =
	    "INSERT INTO blobs (name, size, created, indexed)"
	    " VALUES (?1, ?2, ?3, ?4)",
	/* A blob is used by messages, the outbound queue and the quarantine. */
	[STMT_BLOB_DELETE_UNUSED] =
	    "DELETE FROM blobs WHERE id = ?1 AND NOT EXISTS"
	    " (SELECT 1 FROM messages WHERE blob_id = ?1) AND NOT EXISTS"
	    " (SELECT 1 FROM queue WHERE blob_id = ?1) AND NOT EXISTS"
	    " (SELECT 1 FROM quarantine WHERE blob_id = ?1) RETURNING name",
	[STMT_QUEUE_INSERT] =
	    "INSERT INTO queue (blob_id, data_offset, sender, user_id,"
	    " created, smtputf8) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STMT_QUEUE_RCPT_INSERT] =
	    "INSERT OR IGNORE INTO queue_rcpts (queue_id, address, domain,"
	    " next_attempt) VALUES (?1, ?2, ?3, ?4)",
	[STMT_MESSAGE_INSERT] =
	    "INSERT INTO messages (mailbox_id, uid, blob_id, size,"
	    " internal_date, modseq, flags, keywords, envelope_from,"
	    " hdr_from, hdr_subject, hdr_date)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?11, ?12, ?7, ?8, ?9, ?10)",
	[STMT_RENDER_INSERT] =
	    "INSERT INTO blob_render (blob_id, envelope, body, bodystructure)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[STMT_MAILBOX_UIDVALIDITY] =
	    "SELECT uidvalidity FROM mailboxes WHERE id = ?1",
	[STMT_QUARANTINE_INSERT] =
	    "INSERT INTO quarantine (user_id, blob_id, size, created, expires,"
	    " score, symbols, reason, envelope_from, rcpt, peer, hdr_from,"
	    " hdr_subject, hdr_date) SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
	    " ?9, address, ?10, ?11, ?12, ?13 FROM users WHERE id = ?1",
	[STMT_MESSAGE_BLOB] =
	    "SELECT b.name, b.size FROM users u"
	    " JOIN mailboxes mb ON mb.user_id = u.id"
	    " JOIN messages m ON m.mailbox_id = mb.id"
	    " JOIN blobs b ON b.id = m.blob_id"
	    " WHERE u.address = ?1 AND mb.name = ?2 AND m.uid = ?3",
};

/* The mailboxes every new user gets (RFC 6154 roles). */
static const struct {
	const char *name;
	const char *special_use;
} store_default_mailboxes[] = {
	{ STORE_MAILBOX_INBOX, NULL },
	{ "Sent", "\\Sent" },
	{ "Drafts", "\\Drafts" },
	{ "Junk", "\\Junk" },
	{ "Trash", "\\Trash" },
	{ "Archive", "\\Archive" },
};

/* The error message of the last failed store call in this thread. */
static __thread char store_error_buf[512];

/* --- errors --- */

static void
store_error_vset(const char **error_r, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
store_error_vset(const char **error_r, const char *fmt, va_list ap)
{
	char tmp[sizeof(store_error_buf)];

	/* Formatted into tmp first: an argument may point into
	 * store_error_buf (a previous error). Truncation is fine. */
	(void)vsnprintf(tmp, sizeof(tmp), fmt, ap);
	memcpy(store_error_buf, tmp, sizeof(store_error_buf));
	*error_r = store_error_buf;
}

void
store_error_set(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	store_error_vset(error_r, fmt, ap);
	va_end(ap);
}

void
store_error_errno(const char **error_r, int err, const char *fmt, ...)
{
	char what[256], ebuf[128];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	store_error_set(error_r, "%s: %s", what,
	    strerror_r(err, ebuf, sizeof(ebuf)));
}

/* Sets *error_r to "what: <SQLite's message>" and returns -1. */
int
store_db_error(struct store *store, const char **error_r, const char *what)
{
	store_error_set(error_r, "%s: %s", what, sqlite3_errmsg(store->db));
	return -1;
}

/* --- statements and transactions --- */

/* Returns the cached statement id, preparing it on first use. */
sqlite3_stmt *
store_stmt(struct store *store, enum store_stmt id, const char **error_r)
{
	if (store->stmts[id] == NULL &&
	    sqlite3_prepare_v3(store->db, store_stmt_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &store->stmts[id], NULL) != SQLITE_OK) {
		store_db_error(store, error_r, "prepare");
		store->stmts[id] = NULL;
		return NULL;
	}
	return store->stmts[id];
}

/* Resets a statement after use: a statement left running would hold a
 * read snapshot open (stale reads, blocked WAL checkpoints). */
void
store_stmt_done(sqlite3_stmt *stmt)
{
	(void)sqlite3_reset(stmt);
	(void)sqlite3_clear_bindings(stmt);
}

int
store_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(stmt, i);
	return sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

/* Binds a header value for listings, cut to STORE_HEADER_CACHE_MAX bytes
 * on a UTF-8 character boundary. */
int
store_bind_header(sqlite3_stmt *stmt, int i, const char *s)
{
	size_t len;

	if (s == NULL)
		return sqlite3_bind_null(stmt, i);
	len = strnlen(s, STORE_HEADER_CACHE_MAX + 1);
	if (len > STORE_HEADER_CACHE_MAX) {
		len = STORE_HEADER_CACHE_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	return sqlite3_bind_text(stmt, i, s, (int)len, SQLITE_TRANSIENT);
}

/* Runs a statement that returns no rows (or whose rows are ignored). */
int
store_exec(struct store *store, enum store_stmt id, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, id, error_r)) == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_db_error(store, error_r, store_stmt_sql[id]);
	return 0;
}

/* Runs a statement on an error path: leaves the error buffer (which
 * holds the error being reported) alone. */
static void
store_exec_quiet(struct store *store, enum store_stmt id)
{
	sqlite3_stmt *stmt;

	if (store->stmts[id] == NULL &&
	    sqlite3_prepare_v3(store->db, store_stmt_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &store->stmts[id], NULL) != SQLITE_OK) {
		store->stmts[id] = NULL;
		return;
	}
	stmt = store->stmts[id];
	(void)sqlite3_step(stmt);
	store_stmt_done(stmt);
}

int
store_exec_sql(struct store *store, const char *sql, const char **error_r)
{
	char *msg = NULL;

	if (sqlite3_exec(store->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		store_error_set(error_r, "%s", msg != NULL ? msg :
		    sqlite3_errmsg(store->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Starts a transaction: a write one takes the write lock at once, so it
 * cannot fail half way with SQLITE_BUSY (busy_timeout waits for it). */
int
store_tx_begin(struct store *store, bool write, const char **error_r)
{
	return store_exec(store, write ? STMT_BEGIN_WRITE : STMT_BEGIN_READ,
	    error_r);
}

int
store_tx_commit(struct store *store, const char **error_r)
{
	return store_exec(store, STMT_COMMIT, error_r);
}

/* Rolls back if a transaction is open (SQLite may have ended it already
 * after an I/O error). Keeps the caller's error message intact. */
void
store_tx_rollback(struct store *store)
{
	if (sqlite3_get_autocommit(store->db) == 0)
		store_exec_quiet(store, STMT_ROLLBACK);
}

/*
 * Runs a one-row query with one text parameter and returns its first
 * column: 1 with *val_r set, 0 if there is no row, -1 on error.
 */
int
store_lookup_id(struct store *store, enum store_stmt id, const char *key,
    int64_t *val_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, id, error_r)) == NULL)
		return -1;
	if (store_bind_text(stmt, 1, key) != SQLITE_OK) {
		store_stmt_done(stmt);
		return store_db_error(store, error_r, "bind");
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && val_r != NULL)
		*val_r = sqlite3_column_int64(stmt, 0);
	store_stmt_done(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_db_error(store, error_r, "query");
}

/* Prepares an uncached statement for a listing, so that list callbacks
 * may call back into the store without disturbing it. */
sqlite3_stmt *
store_stmt_once(struct store *store, const char *sql, const char **error_r)
{
	sqlite3_stmt *stmt = NULL;

	if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		store_db_error(store, error_r, "prepare");
		sqlite3_finalize(stmt);
		return NULL;
	}
	return stmt;
}

/* --- names --- */

static void
store_lowercase(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	}
}

/* Bytes allowed in addresses and domains here: no controls, no space
 * (quoted local parts are unquoted before the store). UTF-8 is allowed
 * for SMTPUTF8 local parts. */
static bool
store_name_char_ok(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

/*
 * Checks the syntax of an address and returns a lower-cased copy in
 * *norm_r (the caller frees it) with *domain_r pointing at its domain.
 */
static int
store_address_normalize(const char *address, char **norm_r,
    const char **domain_r, const char **error_r)
{
	size_t len, at = SIZE_MAX;

	*norm_r = NULL;
	if (address == NULL || address[0] == '\0') {
		store_error_set(error_r, "empty address");
		return -1;
	}
	len = strnlen(address, STORE_ADDRESS_MAX + 1);
	if (len > STORE_ADDRESS_MAX) {
		store_error_set(error_r, "address longer than %d bytes",
		    STORE_ADDRESS_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (address[i] == '@') {
			if (at != SIZE_MAX) {
				store_error_set(error_r,
				    "address has more than one '@'");
				return -1;
			}
			at = i;
		} else if (!store_name_char_ok((unsigned char)address[i])) {
			store_error_set(error_r,
			    "address has an invalid character");
			return -1;
		}
	}
	if (at == SIZE_MAX) {
		store_error_set(error_r, "address has no '@'");
		return -1;
	}
	if (at == 0) {
		store_error_set(error_r, "address has an empty local part");
		return -1;
	}
	if (at > STORE_LOCAL_MAX) {
		store_error_set(error_r, "local part longer than %d bytes",
		    STORE_LOCAL_MAX);
		return -1;
	}
	if (at == len - 1) {
		store_error_set(error_r, "address has an empty domain");
		return -1;
	}
	if (len - at - 1 > STORE_DOMAIN_MAX) {
		store_error_set(error_r, "domain longer than %d bytes",
		    STORE_DOMAIN_MAX);
		return -1;
	}
	*norm_r = xstrndup(address, len);
	store_lowercase(*norm_r);
	*domain_r = *norm_r + at + 1;
	return 0;
}

/* Checks the length and bytes of a domain, returns a lower-cased copy. */
static int
store_domain_normalize(const char *domain, char **norm_r,
    const char **error_r)
{
	size_t len;

	*norm_r = NULL;
	if (domain == NULL || domain[0] == '\0') {
		store_error_set(error_r, "empty domain");
		return -1;
	}
	len = strnlen(domain, STORE_DOMAIN_MAX + 1);
	if (len > STORE_DOMAIN_MAX) {
		store_error_set(error_r, "domain longer than %d bytes",
		    STORE_DOMAIN_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (domain[i] == '@' ||
		    !store_name_char_ok((unsigned char)domain[i])) {
			store_error_set(error_r,
			    "domain has an invalid character");
			return -1;
		}
	}
	*norm_r = xstrndup(domain, len);
	store_lowercase(*norm_r);
	return 0;
}

/* A hosted domain must be a host name in A-labels (RFC 1123 2.1,
 * RFC 5890): letters, digits and hyphens in labels of 1 to 63 bytes. */
static int
store_domain_check_hostname(const char *domain, const char **error_r)
{
	size_t label = 0;
	const char *p;

	for (p = domain; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > STORE_LABEL_MAX ||
			    p[-1] == '-' || p[-(ptrdiff_t)label] == '-') {
				store_error_set(error_r, "domain is not a "
				    "valid host name (labels of 1-63 letters, "
				    "digits and inner hyphens)");
				return -1;
			}
			if (*p == '\0')
				return 0;
			label = 0;
		} else if ((*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-') {
			label++;
		} else {
			store_error_set(error_r, "domain has a character "
			    "other than letters, digits, '-' and '.' (use "
			    "A-labels for international names)");
			return -1;
		}
	}
}

/* IMAP: INBOX is case-insensitive, every other name is not (RFC 3501
 * 5.1). */
const char *
store_mailbox_name(const char *name)
{
	if (name != NULL && strcasecmp(name, STORE_MAILBOX_INBOX) == 0)
		return STORE_MAILBOX_INBOX;
	return name;
}

/* --- open and close --- */

static int
store_pragma(struct store *store, const char *sql, const char *expect,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *val;
	int rc, ret = 0;

	if ((stmt = store_stmt_once(store, sql, error_r)) == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = store_db_error(store, error_r, sql);
	} else if (expect != NULL) {
		val = rc == SQLITE_ROW ?
		    (const char *)sqlite3_column_text(stmt, 0) : NULL;
		if (val == NULL || strcasecmp(val, expect) != 0) {
			store_error_set(error_r, "%s: got %s", sql,
			    val != NULL ? val : "nothing");
			ret = -1;
		}
	}
	sqlite3_finalize(stmt);
	return ret;
}

int
store_data_version(struct store *store, int64_t *version_r,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt_once(store, "PRAGMA data_version",
	    error_r)) == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*version_r = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return store_db_error(store, error_r, "data_version");
	return 0;
}

/* Creates the schema on first use, or checks its version. Two processes
 * may open a new store at once: BEGIN IMMEDIATE makes one wait. */
static int
store_schema_init(struct store *store, const char **error_r)
{
	sqlite3_stmt *stmt;
	int version, rc;

	if (store_tx_begin(store, true, error_r) < 0)
		return -1;
	if ((stmt = store_stmt_once(store, "PRAGMA user_version",
	    error_r)) == NULL)
		goto fail;
	rc = sqlite3_step(stmt);
	version = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	if (version < 0) {
		store_db_error(store, error_r, "PRAGMA user_version");
		goto fail;
	}
	if (version == 0) {
		if (store_exec_sql(store, store_schema, error_r) < 0)
			goto fail;
		version = 1;
	}
	if (version > STORE_SCHEMA_VERSION) {
		store_error_set(error_r, "database schema version %d, this "
		    "program knows %d", version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (version < STORE_SCHEMA_VERSION) {
		char sql[64];

		for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
			if (store_exec_sql(store,
			    store_schema_migrations[v - 1], error_r) < 0)
				goto fail;
		}
		/* PRAGMA cannot take parameters; the number is ours. */
		(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    STORE_SCHEMA_VERSION);
		if (store_exec_sql(store, sql, error_r) < 0)
			goto fail;
	}
	if (store_tx_commit(store, error_r) < 0)
		goto fail;
	return 0;
fail:
	store_tx_rollback(store);
	return -1;
}

/*
 * A VFS that is the default unix one except that it leaves relative file
 * names relative. SQLite makes every name absolute (getcwd) before it opens
 * the database and its -wal and -shm files; but the server enters the data
 * directory as root and then drops privileges, and the new user may not be
 * allowed to search the directories above it (/root/..., a 0700 temp dir).
 * Relative names only need the data directory itself, which it owns. The
 * working directory never changes after that, so the names stay right.
 */
#define STORE_VFS_NAME "correio-relative"

static sqlite3_vfs store_vfs;
static int (*store_vfs_unix_fullpathname)(sqlite3_vfs *, const char *, int, char *);
static pthread_once_t store_vfs_once = PTHREAD_ONCE_INIT;

static int
store_vfs_fullpathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	size_t len = strlen(name);

	if (name[0] == '/')
		return store_vfs_unix_fullpathname(vfs, name, n, out);
	if (n <= 0 || len >= (size_t)n)
		return SQLITE_CANTOPEN;
	memcpy(out, name, len + 1);
	return SQLITE_OK;
}

static void
store_vfs_register(void)
{
	sqlite3_vfs *unix_vfs = sqlite3_vfs_find(NULL);

	if (unix_vfs == NULL)
		return;
	store_vfs = *unix_vfs;
	store_vfs.zName = STORE_VFS_NAME;
	store_vfs.pNext = NULL;
	store_vfs_unix_fullpathname = unix_vfs->xFullPathname;
	store_vfs.xFullPathname = store_vfs_fullpathname;
	if (sqlite3_vfs_register(&store_vfs, 0) != SQLITE_OK)
		store_vfs_unix_fullpathname = NULL;
}

static int
store_db_open(struct store *store, const char *data_dir, int dir_fd,
    const char **error_r)
{
	char *path;
	int fd, rc;

	/* Made here, not by SQLite, to get mode 0600 whatever the umask:
	 * the database holds password hashes, and SQLite gives its -wal and
	 * -shm files the mode of the database file. */
	/* Only when it does not exist yet (O_EXCL): closing any descriptor
	 * of the database file drops every POSIX lock this process holds on
	 * it, including those of SQLite connections already open here (the
	 * server opens two), and another process would then checkpoint and
	 * delete the WAL under them. */
	fd = openat(dir_fd, STORE_DB_NAME,
	    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno != EEXIST) {
		store_error_errno(error_r, errno, "%s/%s", data_dir,
		    STORE_DB_NAME);
		return -1;
	}
	if (fd >= 0)
		(void)close(fd);

	path = xasprintf("%s/%s", data_dir, STORE_DB_NAME);
	/* NOMUTEX: a struct store is used by one thread at a time. */
	pthread_once(&store_vfs_once, store_vfs_register);
	rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
	    store_vfs_unix_fullpathname != NULL ? STORE_VFS_NAME : NULL);
	free(path);
	if (rc != SQLITE_OK) {
		store_error_set(error_r, "%s/%s: %s", data_dir, STORE_DB_NAME,
		    store->db != NULL ? sqlite3_errmsg(store->db) :
		    sqlite3_errstr(rc));
		return -1;
	}
	(void)sqlite3_extended_result_codes(store->db, 1);
	(void)sqlite3_db_config(store->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (sqlite3_busy_timeout(store->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK)
		return store_db_error(store, error_r, "busy_timeout");
	if (store_pragma(store, "PRAGMA journal_mode = WAL", "wal",
	    error_r) < 0 ||
	    store_pragma(store, "PRAGMA synchronous = FULL", NULL,
	    error_r) < 0 ||
	    store_pragma(store, "PRAGMA foreign_keys = ON", NULL,
	    error_r) < 0 ||
	    store_pragma(store, "PRAGMA foreign_keys", "1", error_r) < 0 ||
	    store_pragma(store, "PRAGMA trusted_schema = OFF", NULL,
	    error_r) < 0)
		return -1;
	return store_schema_init(store, error_r);
}

int
store_open(const char *data_dir, struct store **store_r, const char **error_r)
{
	struct store *store;
	int dir_fd;

	*store_r = NULL;
	if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		store_error_errno(error_r, errno, "mkdir %s", data_dir);
		return -1;
	}
	dir_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		store_error_errno(error_r, errno, "open %s", data_dir);
		return -1;
	}
	store = xcalloc(1, sizeof(*store));
	store->blobs_fd = -1;
	if (mkdirat(dir_fd, STORE_BLOBS_DIR, 0700) < 0 && errno != EEXIST) {
		store_error_errno(error_r, errno, "mkdir %s/%s", data_dir,
		    STORE_BLOBS_DIR);
		goto fail;
	}
	/* blobs/ may be a symlink to another file system (the admin's
	 * choice); the files inside are opened with O_NOFOLLOW. */
	store->blobs_fd = openat(dir_fd, STORE_BLOBS_DIR,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (store->blobs_fd < 0) {
		store_error_errno(error_r, errno, "open %s/%s", data_dir,
		    STORE_BLOBS_DIR);
		goto fail;
	}
	if (store_db_open(store, data_dir, dir_fd, error_r) < 0)
		goto fail;
	(void)close(dir_fd);
	*store_r = store;
	return 0;
fail:
	(void)close(dir_fd);
	/* the message lives in the thread-local buffer; closing keeps it */
	store_close(&store);
	return -1;
}

void
store_close(struct store **storep)
{
	struct store *store = *storep;

	if (store == NULL)
		return;
	*storep = NULL;
	for (size_t i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(store->stmts[i]);
	for (size_t i = 0; i < MSTMT_COUNT; i++)
		sqlite3_finalize(store->mstmts[i]);
	for (size_t i = 0; i < STORE_BSTMT_MAX; i++)
		sqlite3_finalize(store->bstmts[i]);
	if (store->db != NULL && sqlite3_close(store->db) != SQLITE_OK)
		log_warning("store close error=\"%s\"",
		    sqlite3_errmsg(store->db));
	if (store->blobs_fd >= 0)
		(void)close(store->blobs_fd);
	free(store);
}

/* --- domains --- */

int
store_domain_add(struct store *store, const char *domain, const char **error_r)
{
	sqlite3_stmt *stmt;
	char *name;
	int rc;

	if (store_domain_normalize(domain, &name, error_r) < 0)
		return -1;
	if (store_domain_check_hostname(name, error_r) < 0)
		goto fail;
	if ((stmt = store_stmt(store, STMT_DOMAIN_INSERT, error_r)) == NULL)
		goto fail;
	if (store_bind_text(stmt, 1, name) != SQLITE_OK) {
		store_stmt_done(stmt);
		store_db_error(store, error_r, "bind");
		goto fail;
	}
	rc = sqlite3_step(stmt);
	store_stmt_done(stmt);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		store_error_set(error_r, "domain %s already exists", name);
		goto fail;
	}
	if (rc != SQLITE_DONE) {
		store_db_error(store, error_r, "insert domain");
		goto fail;
	}
	free(name);
	return 0;
fail:
	free(name);
	return -1;
}

int
store_domain_del(struct store *store, const char *domain, const char **error_r)
{
	sqlite3_stmt *stmt;
	int64_t id, users, aliases;
	char *name;
	int rc;

	if (store_domain_normalize(domain, &name, error_r) < 0)
		return -1;
	if (store_tx_begin(store, true, error_r) < 0)
		goto fail;
	rc = store_lookup_id(store, STMT_DOMAIN_ID, name, &id, error_r);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(error_r, "no such domain: %s", name);
		goto rollback;
	}
	if ((stmt = store_stmt(store, STMT_DOMAIN_USAGE, error_r)) == NULL)
		goto rollback;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW) {
		store_db_error(store, error_r, "count domain users");
		store_stmt_done(stmt);
		goto rollback;
	}
	users = sqlite3_column_int64(stmt, 0);
	aliases = sqlite3_column_int64(stmt, 1);
	store_stmt_done(stmt);
	if (users > 0 || aliases > 0) {
		store_error_set(error_r, "domain %s still has %lld users and "
		    "%lld aliases", name, (long long)users, (long long)aliases);
		goto rollback;
	}
	if ((stmt = store_stmt(store, STMT_DOMAIN_DELETE, error_r)) == NULL)
		goto rollback;
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_DONE) {
		store_db_error(store, error_r, "delete domain");
		store_stmt_done(stmt);
		goto rollback;
	}
	store_stmt_done(stmt);
	if (store_tx_commit(store, error_r) < 0)
		goto rollback;
	free(name);
	return 0;
rollback:
	store_tx_rollback(store);
fail:
	free(name);
	return -1;
}

int
store_domain_list(struct store *store,
    int (*cb)(void *ctx, const char *domain), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "SELECT name FROM domains ORDER BY name",
	    error_r);
	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (cb(ctx, (const char *)sqlite3_column_text(stmt, 0)) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list domains");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_domain_exists(struct store *store, const char *domain,
    const char **error_r)
{
	const char *ignored;
	char *name;
	int rc;

	/* a name that could not have been added is simply not hosted */
	if (store_domain_normalize(domain, &name, &ignored) < 0)
		return 0;
	rc = store_lookup_id(store, STMT_DOMAIN_ID, name, NULL, error_r);
	free(name);
	return rc;
}

/* --- users --- */

static int
store_password_check(const char *password, const char **error_r)
{
	size_t len;

	if (password == NULL || password[0] == '\0') {
		store_error_set(error_r, "empty password");
		return -1;
	}
	len = strnlen(password, STORE_PASSWORD_MAX + 1);
	if (len > STORE_PASSWORD_MAX || len > PASSWORD_MAX) {
		store_error_set(error_r, "password longer than %d bytes",
		    PASSWORD_MAX < STORE_PASSWORD_MAX ? PASSWORD_MAX :
		    STORE_PASSWORD_MAX);
		return -1;
	}
	return 0;
}

static int
store_hash(const char *password, char **hash_r, const char **error_r)
{
	const char *err;

	if (store_password_check(password, error_r) < 0)
		return -1;
	if (password_hash(password, hash_r, &err) < 0) {
		store_error_set(error_r, "password hash: %s", err);
		return -1;
	}
	return 0;
}

/* Returns a fresh UIDVALIDITY (in a write transaction). */
int
store_uidvalidity_next(struct store *store, uint32_t *uidvalidity_r,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int64_t val = -1;

	if ((stmt = store_stmt(store, STMT_UIDVALIDITY_NEXT, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, (int64_t)time(NULL)) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		val = sqlite3_column_int64(stmt, 0);
	else
		store_db_error(store, error_r, "uidvalidity");
	store_stmt_done(stmt);
	if (val < 0)
		return -1;
	if (val < 1 || val > (int64_t)UINT32_MAX) {
		store_error_set(error_r, "uidvalidity counter exhausted");
		return -1;
	}
	*uidvalidity_r = (uint32_t)val;
	return 0;
}

/* Creates a mailbox with a fresh UIDVALIDITY (in a write transaction). */
int
store_mailbox_insert(struct store *store, int64_t user_id, const char *name,
    const char *special_use, const char **error_r)
{
	sqlite3_stmt *stmt;
	uint32_t uidvalidity;
	int rc;

	if (store_uidvalidity_next(store, &uidvalidity, error_r) < 0)
		return -1;
	if ((stmt = store_stmt(store, STMT_MAILBOX_INSERT, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, name) != SQLITE_OK ||
	    store_bind_text(stmt, 3, special_use) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, uidvalidity) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "insert mailbox");
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return -1;
	if ((stmt = store_stmt(store, STMT_SUBSCRIBE, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, name) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "subscribe mailbox");
	store_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_add(struct store *store, const char *address, const char *password,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *domain;
	char *addr, *hash = NULL;
	int64_t domain_id, user_id;
	int rc;

	if (store_address_normalize(address, &addr, &domain, error_r) < 0)
		return -1;
	/* Hash before taking the write lock: it takes a while. */
	if (store_hash(password, &hash, error_r) < 0)
		goto fail;
	if (store_tx_begin(store, true, error_r) < 0)
		goto fail;
	rc = store_lookup_id(store, STMT_DOMAIN_ID, domain, &domain_id,
	    error_r);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(error_r, "domain %s is not hosted here",
			    domain);
		goto rollback;
	}
	rc = store_lookup_id(store, STMT_ALIAS_EXISTS, addr, NULL, error_r);
	if (rc != 0) {
		if (rc > 0)
			store_error_set(error_r, "%s is an alias", addr);
		goto rollback;
	}
	rc = store_lookup_id(store, STMT_USER_ID, addr, NULL, error_r);
	if (rc != 0) {
		if (rc > 0)
			store_error_set(error_r, "user %s already exists",
			    addr);
		goto rollback;
	}
	if ((stmt = store_stmt(store, STMT_USER_INSERT, error_r)) == NULL)
		goto rollback;
	if (sqlite3_bind_int64(stmt, 1, domain_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, addr) != SQLITE_OK ||
	    store_bind_text(stmt, 3, hash) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (int64_t)time(NULL)) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE) {
		store_db_error(store, error_r, "insert user");
		goto rollback;
	}
	user_id = sqlite3_last_insert_rowid(store->db);
	for (size_t i = 0; i < sizeof(store_default_mailboxes) /
	    sizeof(store_default_mailboxes[0]); i++) {
		if (store_mailbox_insert(store, user_id,
		    store_default_mailboxes[i].name,
		    store_default_mailboxes[i].special_use, error_r) < 0)
			goto rollback;
	}
	if (store_tx_commit(store, error_r) < 0)
		goto rollback;
	free(hash);
	free(addr);
	return 0;
rollback:
	store_tx_rollback(store);
fail:
	free(hash);
	free(addr);
	return -1;
}

void
store_names_add(struct store_names *list, const char *name)
{
	if (list->count == list->cap) {
		list->cap = list->cap == 0 ? 8 : list->cap * 2;
		list->names = xrealloc(list->names,
		    list->cap * sizeof(*list->names));
	}
	list->names[list->count++] = xstrdup(name);
}

static bool
store_names_has(const struct store_names *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->names[i], name) == 0)
			return true;
	}
	return false;
}

void
store_names_free(struct store_names *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->names[i]);
	free(list->names);
	list->names = NULL;
	list->count = list->cap = 0;
}

int
store_blobs_release(struct store *store, const int64_t *blob_ids, size_t n,
    struct store_names *unused, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	for (size_t i = 0; i < n; i++) {
		stmt = store_stmt(store, STMT_BLOB_DELETE_UNUSED, error_r);
		if (stmt == NULL)
			return -1;
		if (sqlite3_bind_int64(stmt, 1, blob_ids[i]) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			store_names_add(unused,
			    (const char *)sqlite3_column_text(stmt, 0));
			rc = sqlite3_step(stmt);
		}
		if (rc != SQLITE_DONE)
			store_db_error(store, error_r, "delete blob");
		store_stmt_done(stmt);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/*
 * Deletes the user (mailboxes and messages go by ON DELETE CASCADE) and
 * every blob only its messages used. Blob rows go in the transaction;
 * their files are unlinked after the commit, so a crash in between
 * leaves orphan files, never a row without its file.
 */
int
store_user_del(struct store *store, const char *address, const char **error_r)
{
	sqlite3_stmt *stmt;
	struct store_names unused = { 0 };
	const char *domain;
	char *addr;
	int64_t user_id, *blob_ids = NULL;
	size_t n_blobs = 0, cap_blobs = 0;
	int rc;

	if (store_address_normalize(address, &addr, &domain, error_r) < 0)
		return -1;
	if (store_tx_begin(store, true, error_r) < 0)
		goto fail;
	rc = store_lookup_id(store, STMT_USER_ID, addr, &user_id, error_r);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(error_r, "no such user: %s", addr);
		goto rollback;
	}

	if ((stmt = store_stmt(store, STMT_USER_BLOBS, error_r)) == NULL)
		goto rollback;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (n_blobs == cap_blobs) {
				cap_blobs = cap_blobs == 0 ? 64 : cap_blobs * 2;
				blob_ids = xrealloc(blob_ids,
				    cap_blobs * sizeof(*blob_ids));
			}
			blob_ids[n_blobs++] = sqlite3_column_int64(stmt, 0);
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list user blobs");
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		goto rollback;

	if ((stmt = store_stmt(store, STMT_USER_DELETE, error_r)) == NULL)
		goto rollback;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "delete user");
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		goto rollback;
	/* the user's classifier goes too (the global table keeps what it
	 * learnt from them) */
	if (store_bayes_user_drop(store, user_id, error_r) < 0)
		goto rollback;

	if (store_blobs_release(store, blob_ids, n_blobs, &unused,
	    error_r) < 0)
		goto rollback;
	if (store_tx_commit(store, error_r) < 0)
		goto rollback;

	for (size_t i = 0; i < unused.count; i++)
		store_blob_unlink(store, unused.names[i]);
	store_names_free(&unused);
	free(blob_ids);
	free(addr);
	return 0;
rollback:
	store_tx_rollback(store);
fail:
	store_names_free(&unused);
	free(blob_ids);
	free(addr);
	return -1;
}

int
store_user_passwd(struct store *store, const char *address,
    const char *password, const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *domain;
	char *addr, *hash = NULL;
	int rc, ret = -1;

	if (store_address_normalize(address, &addr, &domain, error_r) < 0)
		return -1;
	if (store_hash(password, &hash, error_r) < 0)
		goto out;
	if ((stmt = store_stmt(store, STMT_USER_PASSWD, error_r)) == NULL)
		goto out;
	if (store_bind_text(stmt, 1, addr) != SQLITE_OK ||
	    store_bind_text(stmt, 2, hash) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "update password");
	else if (sqlite3_changes(store->db) == 0)
		store_error_set(error_r, "no such user: %s", addr);
	else
		ret = 0;
out:
	free(hash);
	free(addr);
	return ret;
}

int
store_user_list(struct store *store, const char *domain,
    int (*cb)(void *ctx, const char *address), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	char *name = NULL;
	int rc;

	if (domain != NULL) {
		if (store_domain_normalize(domain, &name, error_r) < 0)
			return -1;
		rc = store_lookup_id(store, STMT_DOMAIN_ID, name, NULL,
		    error_r);
		if (rc <= 0) {
			if (rc == 0)
				store_error_set(error_r, "no such domain: %s",
				    name);
			free(name);
			return -1;
		}
		stmt = store_stmt_once(store, "SELECT u.address FROM users u"
		    " JOIN domains d ON d.id = u.domain_id WHERE d.name = ?1"
		    " ORDER BY u.address", error_r);
	} else {
		stmt = store_stmt_once(store,
		    "SELECT address FROM users ORDER BY address", error_r);
	}
	if (stmt == NULL) {
		free(name);
		return -1;
	}
	if (name != NULL && store_bind_text(stmt, 1, name) != SQLITE_OK) {
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
		store_db_error(store, error_r, "list users");
	sqlite3_finalize(stmt);
	free(name);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_user_lookup(struct store *store, const char *address,
    int64_t *user_id_r, const char **error_r)
{
	const char *domain, *ignored;
	char *addr;
	int rc;

	/* an address that cannot exist names no user */
	if (store_address_normalize(address, &addr, &domain, &ignored) < 0)
		return 0;
	rc = store_lookup_id(store, STMT_USER_ID, addr, user_id_r, error_r);
	free(addr);
	return rc;
}

int
store_user_check_password(struct store *store, const char *address,
    const char *password, const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *domain, *ignored, *text;
	char *addr, *hash = NULL;
	int rc, ret;

	if (password == NULL)
		return 0;
	/* An address that cannot exist is an unknown user: same work. */
	if (store_address_normalize(address, &addr, &domain, &ignored) < 0) {
		(void)password_verify(password, NULL);
		return 0;
	}
	if ((stmt = store_stmt(store, STMT_USER_HASH, error_r)) == NULL) {
		free(addr);
		return -1;
	}
	if (store_bind_text(stmt, 1, addr) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(stmt, 0);
		hash = xstrdup(text != NULL ? text : "");
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_db_error(store, error_r, "look up user");
	store_stmt_done(stmt);
	free(addr);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	/* hash NULL: the user does not exist; password_verify then does
	 * the same work against a dummy hash and returns 0. */
	ret = password_verify(password, hash);
	free(hash);
	return ret;
}

/* --- aliases --- */

/* Returns 1 if name is a user or an alias, 0 if not, -1 on error. */
static int
store_name_exists(struct store *store, const char *name, const char **error_r)
{
	int rc;

	rc = store_lookup_id(store, STMT_USER_ID, name, NULL, error_r);
	if (rc != 0)
		return rc;
	return store_lookup_id(store, STMT_ALIAS_EXISTS, name, NULL, error_r);
}

int
store_alias_add(struct store *store, const char *alias,
    const char *const *targets, size_t n_targets, const char **error_r)
{
	sqlite3_stmt *stmt;
	struct store_names norm = { 0 };
	const char *domain, *tdomain;
	char *name, *target;
	int64_t domain_id, count;
	int rc;

	if (store_address_normalize(alias, &name, &domain, error_r) < 0)
		return -1;
	if (n_targets == 0) {
		store_error_set(error_r, "alias %s: no targets", name);
		goto fail;
	}
	if (n_targets > STORE_ALIAS_TARGETS_MAX) {
		store_error_set(error_r, "alias %s: more than %d targets",
		    name, STORE_ALIAS_TARGETS_MAX);
		goto fail;
	}
	for (size_t i = 0; i < n_targets; i++) {
		if (store_address_normalize(targets[i], &target, &tdomain,
		    error_r) < 0) {
			store_error_set(error_r, "alias %s: target %zu: %s",
			    name, i + 1, *error_r);
			goto fail;
		}
		if (strcmp(target, name) == 0) {
			store_error_set(error_r, "alias %s: cannot target "
			    "itself", name);
			free(target);
			goto fail;
		}
		store_names_add(&norm, target);
		free(target);
	}

	if (store_tx_begin(store, true, error_r) < 0)
		goto fail;
	rc = store_lookup_id(store, STMT_DOMAIN_ID, domain, &domain_id,
	    error_r);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(error_r, "domain %s is not hosted here",
			    domain);
		goto rollback;
	}
	rc = store_lookup_id(store, STMT_USER_ID, name, NULL, error_r);
	if (rc != 0) {
		if (rc > 0)
			store_error_set(error_r, "%s is a user", name);
		goto rollback;
	}
	for (size_t i = 0; i < norm.count; i++) {
		rc = store_name_exists(store, norm.names[i], error_r);
		if (rc <= 0) {
			if (rc == 0)
				store_error_set(error_r, "alias %s: target %s "
				    "is not a user or alias here", name,
				    norm.names[i]);
			goto rollback;
		}
		if ((stmt = store_stmt(store, STMT_ALIAS_INSERT,
		    error_r)) == NULL)
			goto rollback;
		if (sqlite3_bind_int64(stmt, 1, domain_id) != SQLITE_OK ||
		    store_bind_text(stmt, 2, name) != SQLITE_OK ||
		    store_bind_text(stmt, 3, norm.names[i]) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		store_stmt_done(stmt);
		if (rc != SQLITE_DONE) {
			store_db_error(store, error_r, "insert alias");
			goto rollback;
		}
	}
	rc = store_lookup_id(store, STMT_ALIAS_COUNT, name, &count, error_r);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(error_r, "alias count: no result");
		goto rollback;
	}
	if (count > STORE_ALIAS_TARGETS_MAX) {
		store_error_set(error_r, "alias %s: more than %d targets",
		    name, STORE_ALIAS_TARGETS_MAX);
		goto rollback;
	}
	if (store_tx_commit(store, error_r) < 0)
		goto rollback;
	store_names_free(&norm);
	free(name);
	return 0;
rollback:
	store_tx_rollback(store);
fail:
	store_names_free(&norm);
	free(name);
	return -1;
}

int
store_alias_del(struct store *store, const char *alias,
    const char *const *targets, size_t n_targets, const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *domain, *tdomain;
	char *name, *target = NULL;
	int rc;

	if (store_address_normalize(alias, &name, &domain, error_r) < 0)
		return -1;
	if (store_tx_begin(store, true, error_r) < 0)
		goto fail;
	if (n_targets == 0) {
		stmt = store_stmt(store, STMT_ALIAS_DELETE_ALL, error_r);
		if (stmt == NULL)
			goto rollback;
		if (store_bind_text(stmt, 1, name) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		store_stmt_done(stmt);
		if (rc != SQLITE_DONE) {
			store_db_error(store, error_r, "delete alias");
			goto rollback;
		}
		if (sqlite3_changes(store->db) == 0) {
			store_error_set(error_r, "no such alias: %s", name);
			goto rollback;
		}
	}
	for (size_t i = 0; i < n_targets; i++) {
		if (store_address_normalize(targets[i], &target, &tdomain,
		    error_r) < 0) {
			store_error_set(error_r, "alias %s: target %zu: %s",
			    name, i + 1, *error_r);
			goto rollback;
		}
		stmt = store_stmt(store, STMT_ALIAS_DELETE_ONE, error_r);
		if (stmt == NULL)
			goto rollback;
		if (store_bind_text(stmt, 1, name) != SQLITE_OK ||
		    store_bind_text(stmt, 2, target) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			rc = sqlite3_step(stmt);
		store_stmt_done(stmt);
		if (rc != SQLITE_DONE) {
			store_db_error(store, error_r, "delete alias target");
			goto rollback;
		}
		if (sqlite3_changes(store->db) == 0) {
			store_error_set(error_r, "%s is not a target of alias "
			    "%s", target, name);
			goto rollback;
		}
		free(target);
		target = NULL;
	}
	if (store_tx_commit(store, error_r) < 0)
		goto rollback;
	free(name);
	return 0;
rollback:
	store_tx_rollback(store);
fail:
	free(target);
	free(name);
	return -1;
}

int
store_alias_list(struct store *store, const char *alias,
    int (*cb)(void *ctx, const char *alias, const char *target), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *domain;
	char *name = NULL;
	int rc;

	if (alias != NULL) {
		if (store_address_normalize(alias, &name, &domain,
		    error_r) < 0)
			return -1;
		stmt = store_stmt_once(store, "SELECT alias, target"
		    " FROM aliases WHERE alias = ?1 ORDER BY target", error_r);
	} else {
		stmt = store_stmt_once(store, "SELECT alias, target"
		    " FROM aliases ORDER BY alias, target", error_r);
	}
	if (stmt == NULL) {
		free(name);
		return -1;
	}
	if (name != NULL && store_bind_text(stmt, 1, name) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (cb(ctx, (const char *)sqlite3_column_text(stmt, 0),
			    (const char *)sqlite3_column_text(stmt, 1)) != 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list aliases");
	sqlite3_finalize(stmt);
	free(name);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* --- recipients --- */

struct store_expand {
	int64_t *users;
	size_t max_users;
	size_t n_users;
	/* Every alias met so far, in breadth-first order: this is also
	 * the queue of aliases to expand, and the set that cuts cycles. */
	struct store_names aliases;
	unsigned *depths;		/* of each alias; 1 for the address */
	size_t cap_depths;
};

static int
store_expand_user(struct store_expand *ex, int64_t id, const char **error_r)
{
	for (size_t i = 0; i < ex->n_users; i++) {
		if (ex->users[i] == id)
			return 0;
	}
	if (ex->n_users >= ex->max_users) {
		store_error_set(error_r, "recipient reaches more than %zu "
		    "users", ex->max_users);
		return -1;
	}
	ex->users[ex->n_users++] = id;
	return 0;
}

static void
store_expand_queue(struct store_expand *ex, const char *alias, unsigned depth)
{
	store_names_add(&ex->aliases, alias);
	if (ex->cap_depths < ex->aliases.cap) {
		ex->cap_depths = ex->aliases.cap;
		ex->depths = xrealloc(ex->depths,
		    ex->cap_depths * sizeof(*ex->depths));
	}
	ex->depths[ex->aliases.count - 1] = depth;
}

static void
store_expand_free(struct store_expand *ex)
{
	store_names_free(&ex->aliases);
	free(ex->depths);
	ex->depths = NULL;
	ex->cap_depths = 0;
}

/* Reads the targets of an alias into a list. */
static int
store_alias_targets(struct store *store, const char *alias,
    struct store_names *targets, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, STMT_ALIAS_TARGETS, error_r)) == NULL)
		return -1;
	if (store_bind_text(stmt, 1, alias) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			store_names_add(targets,
			    (const char *)sqlite3_column_text(stmt, 0));
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "alias targets");
	store_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Expands the queued aliases (the address itself at depth 1) breadth
 * first, adding the users they reach. Breadth first, every alias is met
 * first on its shortest path, so expanding each alias once (which cuts
 * cycles and diamonds) never hides a target that is within
 * STORE_ALIAS_DEPTH_MAX; aliases deeper than that are skipped and
 * logged. Targets that no longer exist (a deleted user) are skipped.
 */
static int
store_expand_aliases(struct store *store, struct store_expand *ex,
    const char **error_r)
{
	struct store_names targets = { 0 };
	char ebuf1[LOG_ESCAPE_MAX], ebuf2[LOG_ESCAPE_MAX];
	int64_t user_id;
	int rc;

	for (size_t head = 0; head < ex->aliases.count; head++) {
		/* the string stays put when the array grows */
		const char *alias = ex->aliases.names[head];
		unsigned depth = ex->depths[head];

		store_names_free(&targets);
		if (store_alias_targets(store, alias, &targets, error_r) < 0)
			goto fail;
		for (size_t i = 0; i < targets.count; i++) {
			const char *t = targets.names[i];

			rc = store_lookup_id(store, STMT_USER_ID, t, &user_id,
			    error_r);
			if (rc < 0)
				goto fail;
			if (rc > 0) {
				if (store_expand_user(ex, user_id, error_r) < 0)
					goto fail;
				continue;
			}
			if (store_names_has(&ex->aliases, t))
				continue;
			rc = store_lookup_id(store, STMT_ALIAS_EXISTS, t, NULL,
			    error_r);
			if (rc < 0)
				goto fail;
			if (rc == 0)
				continue;
			if (depth >= STORE_ALIAS_DEPTH_MAX) {
				log_warning("store alias=%s target=%s skipped "
				    "reason=\"aliases nested deeper than %d\"",
				    log_escape(ebuf1, sizeof(ebuf1), alias,
				    strlen(alias)), log_escape(ebuf2,
				    sizeof(ebuf2), t, strlen(t)),
				    STORE_ALIAS_DEPTH_MAX);
				continue;
			}
			if (ex->aliases.count >= STORE_ALIAS_EXPAND_MAX) {
				store_error_set(error_r, "recipient goes "
				    "through more than %d aliases",
				    STORE_ALIAS_EXPAND_MAX);
				goto fail;
			}
			store_expand_queue(ex, t, depth + 1);
		}
	}
	store_names_free(&targets);
	return 0;
fail:
	store_names_free(&targets);
	return -1;
}

int
store_rcpt_resolve(struct store *store, const char *address,
    int64_t *users_r, size_t max_users, size_t *n_users_r,
    enum store_rcpt_result *result_r, const char **error_r)
{
	struct store_expand ex = { .users = users_r, .max_users = max_users };
	const char *domain;
	char *addr;
	int64_t user_id;
	int rc;

	*n_users_r = 0;
	*result_r = STORE_RCPT_UNKNOWN;
	if (store_address_normalize(address, &addr, &domain, error_r) < 0)
		return -1;
	/* One read transaction: one consistent snapshot for all lookups. */
	if (store_tx_begin(store, false, error_r) < 0)
		goto fail;
	rc = store_lookup_id(store, STMT_DOMAIN_ID, domain, NULL, error_r);
	if (rc < 0)
		goto rollback;
	if (rc == 0) {
		*result_r = STORE_RCPT_NOT_HOSTED;
		goto done;
	}
	rc = store_lookup_id(store, STMT_USER_ID, addr, &user_id, error_r);
	if (rc < 0)
		goto rollback;
	if (rc > 0) {
		if (store_expand_user(&ex, user_id, error_r) < 0)
			goto rollback;
	} else {
		rc = store_lookup_id(store, STMT_ALIAS_EXISTS, addr, NULL,
		    error_r);
		if (rc < 0)
			goto rollback;
		if (rc > 0) {
			store_expand_queue(&ex, addr, 1);
			if (store_expand_aliases(store, &ex, error_r) < 0)
				goto rollback;
		}
	}
	/* An alias that reaches no user (all its targets deleted, or only
	 * a cycle of aliases) delivers nowhere: unknown, not accepted. */
	if (ex.n_users > 0) {
		*result_r = STORE_RCPT_LOCAL;
		*n_users_r = ex.n_users;
	}
done:
	if (store_tx_commit(store, error_r) < 0)
		goto rollback;
	store_expand_free(&ex);
	free(addr);
	return 0;
rollback:
	store_tx_rollback(store);
fail:
	*n_users_r = 0;
	*result_r = STORE_RCPT_UNKNOWN;
	store_expand_free(&ex);
	free(addr);
	return -1;
}

/* --- delivery --- */

/*
 * Takes the next UID and MODSEQ of a user's mailbox. Returns 1 with
 * them, 0 if the user has no such mailbox, -1 on error.
 */
int
store_mailbox_alloc(struct store *store, int64_t user_id, const char *name,
    int64_t *mailbox_id_r, int64_t *uid_r, int64_t *modseq_r,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, STMT_MAILBOX_ALLOC, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, name) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*mailbox_id_r = sqlite3_column_int64(stmt, 0);
		*uid_r = sqlite3_column_int64(stmt, 1);
		*modseq_r = sqlite3_column_int64(stmt, 2);
	} else if (rc != SQLITE_DONE) {
		/* the CHECK on uidnext fails once UIDs run out */
		store_db_error(store, error_r, "allocate uid");
	}
	store_stmt_done(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The cached IMAP renderings of a new blob, if there are any. */
static int
store_render_insert(struct store *store, const struct store_delivery *d,
    int64_t blob_id, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if (d->envelope == NULL && d->body == NULL && d->bodystructure == NULL)
		return 0;
	if ((stmt = store_stmt(store, STMT_RENDER_INSERT, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, blob_id) != SQLITE_OK ||
	    store_bind_text(stmt, 2, d->envelope) != SQLITE_OK ||
	    store_bind_text(stmt, 3, d->body) != SQLITE_OK ||
	    store_bind_text(stmt, 4, d->bodystructure) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "insert renderings");
	store_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_message_insert(struct store *store, const struct store_delivery *d,
    int64_t mailbox_id, int64_t uid, int64_t modseq, int64_t blob_id,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, STMT_MESSAGE_INSERT, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, uid) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, blob_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (int64_t)d->size) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, (int64_t)d->internal_date) !=
	    SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 6, modseq) != SQLITE_OK ||
	    store_bind_header(stmt, 7, d->envelope_from != NULL ?
	    d->envelope_from : "") != SQLITE_OK ||
	    store_bind_header(stmt, 8, d->hdr_from) != SQLITE_OK ||
	    store_bind_header(stmt, 9, d->hdr_subject) != SQLITE_OK ||
	    store_bind_header(stmt, 10, d->hdr_date) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 11, d->flags & STORE_FLAGS_ALL) !=
	    SQLITE_OK ||
	    store_bind_text(stmt, 12, d->keywords != NULL ? d->keywords :
	    "") != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "insert message");
	store_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
store_mailbox_uidvalidity(struct store *store, int64_t mailbox_id,
    uint32_t *uidvalidity_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, STMT_MAILBOX_UIDVALIDITY,
	    error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*uidvalidity_r = (uint32_t)sqlite3_column_int64(stmt, 0);
	else
		store_db_error(store, error_r, "read uidvalidity");
	store_stmt_done(stmt);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Returns 1 if a user with this id exists, 0 if not, -1 on error. */
static int
store_user_id_exists(struct store *store, int64_t user_id,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, STMT_USER_ID_EXISTS, error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	store_stmt_done(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_db_error(store, error_r, "look up user id");
}

/*
 * Holds a delivery for one user (schema 10): a quarantine row, with the
 * user's address as rcpt, pointing at blob_id. Returns 1 with its id, 0
 * if the user is gone, -1 on error.
 */
static int
store_quarantine_insert(struct store *store, const struct store_delivery *d,
    int64_t user_id, int64_t blob_id, time_t now, int64_t *id_r,
    const char **error_r)
{
	const struct store_quarantine_hold *h = d->quarantine;
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_stmt(store, STMT_QUARANTINE_INSERT,
	    error_r)) == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, blob_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, (int64_t)d->size) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (int64_t)now) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, (int64_t)h->expires) != SQLITE_OK ||
	    sqlite3_bind_double(stmt, 6, h->score) != SQLITE_OK ||
	    store_bind_text(stmt, 7, h->symbols != NULL ? h->symbols :
	    "") != SQLITE_OK ||
	    store_bind_header(stmt, 8, h->reason != NULL ? h->reason :
	    "") != SQLITE_OK ||
	    store_bind_header(stmt, 9, d->envelope_from != NULL ?
	    d->envelope_from : "") != SQLITE_OK ||
	    store_bind_header(stmt, 10, h->peer != NULL ? h->peer : "") !=
	    SQLITE_OK ||
	    store_bind_header(stmt, 11, d->hdr_from) != SQLITE_OK ||
	    store_bind_header(stmt, 12, d->hdr_subject) != SQLITE_OK ||
	    store_bind_header(stmt, 13, d->hdr_date) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "insert quarantine row");
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(store->db) == 0)
		return 0;
	*id_r = sqlite3_last_insert_rowid(store->db);
	return 1;
}

/*
 * Adds the metadata of one delivery (its blob row, one message per
 * user, or one quarantine row per user if it is held, and its queue
 * entry if it has one) inside a savepoint of the batch transaction, so
 * that one failing
 * delivery does not fail the others. Returns 0 with the number of
 * messages stored in *stored_r (0 if every user was gone: then nothing
 * is kept), or -1 (the savepoint is rolled back).
 */
static int
store_deliver_one(struct store *store, struct store_delivery *d,
    const char *blob_name, time_t now, size_t *stored_r,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *mailbox = d->mailbox != NULL ?
	    store_mailbox_name(d->mailbox) : STORE_MAILBOX_INBOX;
	char ebuf[LOG_ESCAPE_MAX];
	int64_t blob_id, mailbox_id, uid, modseq;
	size_t stored = 0;
	int rc;

	*stored_r = 0;
	if (store_exec(store, STMT_SAVEPOINT, error_r) < 0)
		return -1;
	if ((stmt = store_stmt(store, STMT_BLOB_INSERT, error_r)) == NULL)
		goto fail;
	/* A blob only the queue uses is never searched: not indexed. Nor
	 * is held mail until it is released (store_quarantine_release):
	 * most of it expires, and the index keeps entries of gone blobs. */
	if (store_bind_text(stmt, 1, blob_name) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (int64_t)d->size) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, (int64_t)now) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 4, d->n_users > 0 &&
	    d->quarantine == NULL ? 0 : 2) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "insert blob");
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		goto fail;
	blob_id = sqlite3_last_insert_rowid(store->db);
	if (store_render_insert(store, d, blob_id, error_r) < 0)
		goto fail;

	for (size_t u = 0; u < d->n_users && d->quarantine != NULL; u++) {
		int64_t qid = 0;

		rc = store_quarantine_insert(store, d, d->users[u], blob_id,
		    now, &qid, error_r);
		if (rc < 0)
			goto fail;
		if (d->quarantine->ids_r != NULL)
			d->quarantine->ids_r[u] = qid;
		if (rc == 0) {
			log_warning("store hold user=%lld skipped "
			    "reason=\"no such user\"", (long long)d->users[u]);
			continue;
		}
		stored++;
	}
	for (size_t u = 0; u < d->n_users && d->quarantine == NULL; u++) {
		rc = store_mailbox_alloc(store, d->users[u], mailbox,
		    &mailbox_id, &uid, &modseq, error_r);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			rc = store_user_id_exists(store, d->users[u], error_r);
			if (rc < 0)
				goto fail;
			if (rc == 0) {
				log_warning("store deliver user=%lld skipped "
				    "reason=\"no such user\"",
				    (long long)d->users[u]);
				continue;
			}
			/* The user deleted this mailbox (say, Junk):
			 * better in INBOX than lost. */
			log_warning("store deliver user=%lld mailbox=%s "
			    "missing, delivering to INBOX",
			    (long long)d->users[u], log_escape(ebuf,
			    sizeof(ebuf), mailbox, strlen(mailbox)));
			rc = store_mailbox_alloc(store, d->users[u],
			    STORE_MAILBOX_INBOX, &mailbox_id, &uid, &modseq,
			    error_r);
			if (rc < 0)
				goto fail;
			if (rc == 0) {
				log_warning("store deliver user=%lld skipped "
				    "reason=\"no INBOX\"",
				    (long long)d->users[u]);
				continue;
			}
		}
		if (store_message_insert(store, d, mailbox_id, uid, modseq,
		    blob_id, error_r) < 0)
			goto fail;
		if (d->n_users == 1) {
			if (store_mailbox_uidvalidity(store, mailbox_id,
			    &d->uidvalidity_r, error_r) < 0)
				goto fail;
			d->uid_r = (uint32_t)uid;
		}
		stored++;
	}
	if (d->queue != NULL && d->queue->n_rcpts > 0) {
		if (store_queue_insert(store, d->queue, blob_id, now,
		    error_r) < 0)
			goto fail;
		stored++;
	}
	if (stored == 0) {
		/* drop the unused blob row */
		if (store_exec(store, STMT_ROLLBACK_TO, error_r) < 0)
			goto fail;
	}
	/* In the same transaction: no fsync of its own. */
	if (stored > 0 && d->dmarc != NULL &&
	    store_dmarc_record(store, d->dmarc, error_r) < 0)
		goto fail;
	if (store_exec(store, STMT_RELEASE, error_r) < 0)
		goto fail;
	*stored_r = stored;
	return 0;
fail:
	/* After some errors (I/O, full disk) SQLite has already rolled the
	 * whole transaction back; then there is no savepoint left. */
	if (sqlite3_get_autocommit(store->db) == 0) {
		store_exec_quiet(store, STMT_ROLLBACK_TO);
		store_exec_quiet(store, STMT_RELEASE);
	}
	return -1;
}

/*
 * Marks a delivery failed. The per-delivery error is one of a few static
 * strings, valid forever: the caller may read it on another thread after
 * this connection has moved on to the next batch. Details go to the log
 * and, for the first failure, to the batch's *error_r.
 */
static void
store_deliver_fail(struct store_delivery *d, const char *error)
{
	d->result = -1;
	d->error = error;
}

/* Keeps the details of the first failure of a batch for *error_r. */
static void
store_deliver_detail(char *detail, size_t size, const char *err)
{
	if (detail[0] == '\0')
		(void)snprintf(detail, size, "%s", err);
}

int
store_deliver(struct store *store, struct store_delivery *const *batch,
    size_t n, const char **error_r)
{
	char (*names)[STORE_BLOB_NAME_SIZE];
	char detail[256] = "";
	bool *have_blob, *drop_blob;
	const char *err = NULL, *batch_error = NULL;
	time_t now = time(NULL);
	size_t n_blobs = 0, n_failed = 0, stored;

	if (n == 0)
		return 0;
	names = xcalloc(n, sizeof(*names));
	have_blob = xcalloc(n, sizeof(*have_blob));
	drop_blob = xcalloc(n, sizeof(*drop_blob));

	/* 1. Write every body to its own blob file. */
	for (size_t i = 0; i < n; i++) {
		struct store_delivery *d = batch[i];

		d->result = -1;
		d->error = NULL;
		d->uid_r = 0;
		d->uidvalidity_r = 0;
		/* A held message goes to no mailbox. */
		if ((d->mailbox == NULL && d->quarantine == NULL) ||
		    (d->data == NULL && d->size > 0) ||
		    (d->users == NULL && d->n_users > 0)) {
			store_deliver_fail(d, "invalid delivery");
			store_deliver_detail(detail, sizeof(detail),
			    "invalid delivery");
			continue;
		}
		if (d->queue != NULL && d->queue->rcpts == NULL &&
		    d->queue->n_rcpts > 0) {
			store_deliver_fail(d, "invalid delivery");
			store_deliver_detail(detail, sizeof(detail),
			    "invalid delivery");
			continue;
		}
		if (d->n_users == 0 &&
		    (d->queue == NULL || d->queue->n_rcpts == 0)) {
			d->result = 0;
			continue;
		}
		if (store_blob_write(store, d->data, d->size, names[i],
		    &err) < 0) {
			log_error("store deliver item=%zu error=\"%s\"", i,
			    err);
			store_deliver_detail(detail, sizeof(detail), err);
			store_deliver_fail(d, "cannot write message file");
			continue;
		}
		have_blob[i] = true;
		n_blobs++;
	}
	if (n_blobs == 0)
		goto done;

	/* 2. One flush makes all of them durable. */
	if (store_blob_sync(store, &err) < 0) {
		batch_error = "cannot flush message files";
		goto unlink;
	}

	/* 3. One transaction, one WAL fsync at COMMIT, for the batch. */
	if (store_tx_begin(store, true, &err) < 0) {
		batch_error = "cannot start transaction";
		goto unlink;
	}
	for (size_t i = 0; i < n; i++) {
		if (!have_blob[i])
			continue;
		if (store_deliver_one(store, batch[i], names[i], now, &stored,
		    &err) < 0) {
			if (sqlite3_get_autocommit(store->db) != 0) {
				/* SQLite ended the whole transaction */
				batch_error = "transaction failed";
				break;
			}
			log_error("store deliver item=%zu error=\"%s\"", i,
			    err);
			store_deliver_detail(detail, sizeof(detail), err);
			store_deliver_fail(batch[i], "cannot store message");
			continue;
		}
		if (stored == 0)
			drop_blob[i] = true;
		batch[i]->result = 0;
	}
	if (batch_error == NULL && store_tx_commit(store, &err) < 0)
		batch_error = "cannot commit transaction";
	if (batch_error != NULL)
		store_tx_rollback(store);

unlink:
	if (batch_error != NULL) {
		/* the batch-wide cause comes first in *error_r */
		detail[0] = '\0';
		store_deliver_detail(detail, sizeof(detail), err);
	}
	for (size_t i = 0; i < n; i++) {
		if (!have_blob[i])
			continue;
		if (batch_error != NULL)
			store_deliver_fail(batch[i], batch_error);
		/* Nothing points at these blobs: remove them now. */
		if (batch[i]->result != 0 || drop_blob[i])
			store_blob_unlink(store, names[i]);
	}
done:
	for (size_t i = 0; i < n; i++) {
		if (batch[i]->result != 0)
			n_failed++;
	}
	free(names);
	free(have_blob);
	free(drop_blob);
	if (n_failed > 0) {
		store_error_set(error_r, "%zu of %zu deliveries failed: %s%s%s",
		    n_failed, n, batch_error != NULL ? batch_error : "",
		    batch_error != NULL ? ": " : "", detail);
		return -1;
	}
	return 0;
}

/* --- reading --- */

int
store_mailbox_list(struct store *store, const char *address,
    int (*cb)(void *ctx, const struct store_mailbox_info *info), void *ctx,
    const char **error_r)
{
	struct store_mailbox_info info;
	sqlite3_stmt *stmt;
	const char *domain;
	char *addr;
	int64_t user_id;
	int rc;

	if (store_address_normalize(address, &addr, &domain, error_r) < 0)
		return -1;
	rc = store_lookup_id(store, STMT_USER_ID, addr, &user_id, error_r);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(error_r, "no such user: %s", addr);
		free(addr);
		return -1;
	}
	free(addr);
	stmt = store_stmt_once(store,
	    "SELECT mb.name, mb.special_use, mb.uidvalidity, mb.uidnext,"
	    " count(m.id), coalesce(sum(m.size), 0)"
	    " FROM mailboxes mb LEFT JOIN messages m ON m.mailbox_id = mb.id"
	    " WHERE mb.user_id = ?1 GROUP BY mb.id"
	    " ORDER BY mb.name <> 'INBOX', mb.name", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, user_id) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			info.name = (const char *)sqlite3_column_text(stmt, 0);
			info.special_use =
			    (const char *)sqlite3_column_text(stmt, 1);
			info.uidvalidity =
			    (uint32_t)sqlite3_column_int64(stmt, 2);
			info.uidnext = (uint32_t)sqlite3_column_int64(stmt, 3);
			info.messages = (uint64_t)sqlite3_column_int64(stmt, 4);
			info.bytes = (uint64_t)sqlite3_column_int64(stmt, 5);
			if (cb(ctx, &info) != 0) {
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

int
store_message_list(struct store *store, const char *address,
    const char *mailbox,
    int (*cb)(void *ctx, const struct store_message_info *info), void *ctx,
    const char **error_r)
{
	struct store_message_info info;
	sqlite3_stmt *stmt;
	const char *domain, *name = store_mailbox_name(mailbox);
	char *addr;
	int64_t mailbox_id = 0;
	int rc;

	if (store_address_normalize(address, &addr, &domain, error_r) < 0)
		return -1;
	if (name == NULL) {
		store_error_set(error_r, "no mailbox name");
		free(addr);
		return -1;
	}
	if ((stmt = store_stmt(store, STMT_MAILBOX_ID, error_r)) == NULL) {
		free(addr);
		return -1;
	}
	if (store_bind_text(stmt, 1, addr) != SQLITE_OK ||
	    store_bind_text(stmt, 2, name) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		mailbox_id = sqlite3_column_int64(stmt, 0);
	else if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "look up mailbox");
	store_stmt_done(stmt);
	free(addr);
	if (rc == SQLITE_DONE)
		store_error_set(error_r, "no such mailbox");
	if (rc != SQLITE_ROW)
		return -1;

	stmt = store_stmt_once(store,
	    "SELECT uid, modseq, size, internal_date, envelope_from,"
	    " hdr_from, hdr_subject, hdr_date, flags"
	    " FROM messages WHERE mailbox_id = ?1 ORDER BY uid", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, mailbox_id) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			info.uid = (uint32_t)sqlite3_column_int64(stmt, 0);
			info.modseq = (uint64_t)sqlite3_column_int64(stmt, 1);
			info.size = (uint64_t)sqlite3_column_int64(stmt, 2);
			info.internal_date =
			    (time_t)sqlite3_column_int64(stmt, 3);
			info.envelope_from =
			    (const char *)sqlite3_column_text(stmt, 4);
			info.hdr_from =
			    (const char *)sqlite3_column_text(stmt, 5);
			info.hdr_subject =
			    (const char *)sqlite3_column_text(stmt, 6);
			info.hdr_date =
			    (const char *)sqlite3_column_text(stmt, 7);
			info.flags = (unsigned)sqlite3_column_int64(stmt, 8);
			if (info.envelope_from == NULL)
				info.envelope_from = "";
			if (cb(ctx, &info) != 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "list messages");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_message_open(struct store *store, const char *address,
    const char *mailbox, uint32_t uid, int *fd_r, uint64_t *size_r,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	const char *domain, *ignored, *text;
	const char *name = store_mailbox_name(mailbox);
	char blob[STORE_BLOB_NAME_SIZE];
	char *addr;
	uint64_t size = 0;
	int rc;

	*fd_r = -1;
	*size_r = 0;
	/* an address that cannot exist names no message */
	if (name == NULL ||
	    store_address_normalize(address, &addr, &domain, &ignored) < 0)
		return 1;
	if ((stmt = store_stmt(store, STMT_MESSAGE_BLOB, error_r)) == NULL) {
		free(addr);
		return -1;
	}
	if (store_bind_text(stmt, 1, addr) != SQLITE_OK ||
	    store_bind_text(stmt, 2, name) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, uid) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(stmt, 0);
		size = (uint64_t)sqlite3_column_int64(stmt, 1);
		/* names are ours, but the database is on disk: check */
		if (text == NULL || strlen(text) != STORE_BLOB_NAME_SIZE - 1 ||
		    strspn(text, "0123456789abcdef") !=
		    STORE_BLOB_NAME_SIZE - 1) {
			store_error_set(error_r, "bad blob name in database");
			rc = SQLITE_CORRUPT;
		} else {
			memcpy(blob, text, STORE_BLOB_NAME_SIZE);
		}
	} else if (rc != SQLITE_DONE) {
		store_db_error(store, error_r, "look up message");
	}
	store_stmt_done(stmt);
	free(addr);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return -1;
	if (store_blob_open(store, blob, size, fd_r, error_r) < 0)
		return -1;
	*size_r = size;
	return 0;
}
