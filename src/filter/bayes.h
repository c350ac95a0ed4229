/*
 * bayes.h - the statistical classifier: tokens of a message, learnt as
 * spam or ham into token counts kept in the store (store.h, store-bayes.c),
 * combined by Robinson's method with Fisher's chi-square into one spam
 * probability, reported as a SpamAssassin-like BAYES_xx symbol.
 *
 * Tokens (bayes_tokenize):
 *  - "subject:" and "from:" words of those fields (RFC 2047 decoded); of
 *    an address in From:, the address and "from:@domain" too;
 *  - "url:" and the host of every http/https link in the text parts (after
 *    their Content-Transfer-Encoding, HTML included), and "url:" and its
 *    last two labels;
 *  - the words of the decoded text of every text part (mime_text_extract:
 *    charset to UTF-8, HTML stripped), case-folded (mime_text_fold);
 * a word is a run of ASCII letters and digits, '$', '\'' and '-' (and
 * '.' or ',' between digits) and non-ASCII characters other than spaces
 * and punctuation, at least BAYES_WORD_MIN bytes; a longer word than
 * BAYES_WORD_MAX is one "skip:" token of its first character and length
 * class. Each distinct token counts once per message, and at most
 * BAYES_TOKENS_MAX per message are kept (headers first, then links, then
 * the text). Tokens are 64-bit SipHash-2-4 values under a fixed key
 * (the stored counts depend on it: it never changes).
 *
 * Classifying (bayes_classify): each token's spam probability is
 * Robinson's f(w) = (s x + n p(w)) / (s + n), s = 1, x = 0.5, n the
 * messages with the token and p(w) the ratio of its spam and ham
 * frequencies; tokens with |f - 0.5| < BAYES_MIN_STRENGTH say nothing;
 * the [bayes] clues most significant are combined by Fisher's method,
 * H = C^-1(-2 sum ln f, 2N), S = C^-1(-2 sum ln(1 - f), 2N),
 * p = (1 + S - H) / 2 (as SpamBayes does), C^-1 the chi-square survival
 * function, exact for even degrees of freedom. No verdict before
 * [bayes] min_learns spam and ham messages were learnt.
 *
 * Global and per user: every learn of a user's message counts in the
 * global table (user id 0) and, with [bayes] per_user, in the user's.
 * For a user whose own table is ready (min_learns of each class), a token
 * the user's table knows takes its f(w) from there, any other token from
 * the global table: the user's own judgement wins where there is one, the
 * global table covers the rest. Before that, only the global table is
 * used. The symbol's detail names the tables used.
 *
 * Learning (bayes_learn): one transaction per message on the writer
 * (store_bayes_learn), each message once per table, by a content hash
 * (SHA-256, truncated to 64 bits, of its Message-ID, Subject and body
 * without CR); learning it as the other class first unlearns it. From IMAP:
 * bayes_copy_class() on the writer after a COPY or MOVE tells whether
 * it went into Junk (spam) or out of Junk into another mailbox than Trash
 * (ham); bayes_learn_copy_submit() then learns the copies on the writer,
 * BAYES_LEARN_CHUNK messages per job, never on the loop.
 *
 * SECURITY: the message is hostile. The tokenizer is linear in its
 * input: it reads at most BAYES_MESSAGE_MAX bytes of a message it parses
 * itself, at most BAYES_TEXT_MAX bytes of text, BAYES_URL_SCAN_MAX
 * decoded bytes for links, and keeps at most BAYES_TOKENS_MAX tokens,
 * in heap buffers with caps. No token text reaches a log or the store
 * (only hashes); the detail of the symbol is numbers.
 */
#ifndef FILTER_BAYES_H
#define FILTER_BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct config;
struct deliverq;
struct mime_part;
struct spam_msg;
struct spam_result;
struct store;

/* Bytes of a message the tokenizer parses itself (bayes_tokenize with no
 * tree; bayes_learn_copy reads this much of a stored message). */
#define BAYES_MESSAGE_MAX (2 * 1024 * 1024)
/* Bytes of decoded text tokenized (mime_text_extract's output). */
#define BAYES_TEXT_MAX (256 * 1024)
/* Bytes of a decoded Subject: or From: tokenized. */
#define BAYES_HEADER_MAX 4096
/* Decoded text-part bytes scanned for links, all parts together. */
#define BAYES_URL_SCAN_MAX (1024 * 1024)
/* Link tokens per message. */
#define BAYES_URLS_MAX 200
/* Bytes of a link's host name (RFC 1035 2.3.4, written form). */
#define BAYES_HOST_MAX 253
/* A word has at least this many bytes (a CJK character is three) ... */
#define BAYES_WORD_MIN 3
/* ... and at most this many; a longer one is a "skip:" token. */
#define BAYES_WORD_MAX 40
/* Length classes of skip tokens: every 10 bytes, the last open-ended. */
#define BAYES_SKIP_STEP 10
#define BAYES_SKIP_CLASSES 20
/* Distinct tokens kept from one message (STORE_BAYES_TOKENS_MAX or less). */
#define BAYES_TOKENS_MAX 1000
/* The most tokens [bayes] clues may combine. */
#define BAYES_CLUES_MAX 500
/* Robinson's strength of the prior and the probability of an unknown
 * token. */
#define BAYES_ROBINSON_S 1.0
#define BAYES_ROBINSON_X 0.5
/* A token with |f - 0.5| below this is no clue (SpamBayes's default). */
#define BAYES_MIN_STRENGTH 0.1
/* Messages one IMAP learn job learns before the writer takes other work
 * (a learn is a transaction of its own, with its fsync: a few keep the
 * writer from deliveries for well under a second). */
#define BAYES_LEARN_CHUNK 4
/* Bytes of a message body that go into its content hash. */
#define BAYES_HASH_BODY_MAX (1024 * 1024)
/* Messages one COPY or MOVE can have learnt (more are not learnt). */
#define BAYES_LEARN_COPY_MAX 10000
/* Old tokens one learn expires, at most (bounded cleanup). */
#define BAYES_EXPIRE_BATCH 2000

/* The SPECIAL-USE attributes (RFC 6154) that steer learning. */
#define BAYES_USE_JUNK "\\Junk"
#define BAYES_USE_TRASH "\\Trash"

/* The classes, as stored (store.h STORE_BAYES_*). */
enum bayes_class {
	BAYES_HAM = 0,
	BAYES_SPAM = 1,
};

/* The [bayes] settings (bayes_config_from). */
struct bayes_config {
	bool enabled;		/* classify */
	bool per_user;		/* users' own tables */
	bool autolearn;		/* learn from IMAP moves */
	unsigned min_learns;	/* of each class before a verdict */
	unsigned clues;		/* tokens combined, <= BAYES_CLUES_MAX */
	unsigned expire_days;	/* 0: never */
};

/* The [bayes] settings of cfg. */
void
bayes_config_from(const struct config *cfg, struct bayes_config *bc_r);

/* The defaults, for tests and tools without a config. */
void
bayes_config_default(struct bayes_config *bc_r);

/* --- tokens --- */

/* The distinct tokens of one message, in the order they were found. */
struct bayes_tokens {
	uint64_t *h;		/* n hashes */
	size_t n;
	bool truncated;		/* BAYES_TOKENS_MAX were reached: the rest
				 * of the message was not looked at */
	uint64_t *set;		/* open addressing, for duplicates */
	size_t set_cap;
};

/* Called with each distinct token's text (not NUL-terminated) as it is
 * kept, for tests and debugging. */
typedef void bayes_token_fn(void *ctx, const char *token, size_t len);

void
bayes_tokens_init(struct bayes_tokens *t);

/* Releases t's memory; t may be initialized again. */
void
bayes_tokens_free(struct bayes_tokens *t);

/*
 * Adds the tokens of msg (len bytes) to t, which must be empty. root is
 * its mime_parse() tree, or NULL: then the first BAYES_MESSAGE_MAX bytes
 * are parsed here. fn, if not NULL, sees each token kept. Never fails:
 * malformed input gives fewer tokens.
 */
void
bayes_tokenize(const char *msg, size_t len, const struct mime_part *root,
    struct bayes_tokens *t, bayes_token_fn *fn, void *ctx);

/* The hash of the token prefix followed by s (len bytes): SipHash-2-4
 * with the classifier's fixed key. */
uint64_t
bayes_token_hash(const char *prefix, const char *s, size_t len);

/* SipHash-2-4 of data under key (16 bytes), as in the paper by Aumasson
 * and Bernstein (tested against its vector). */
uint64_t
bayes_siphash(const unsigned char key[16], const void *data, size_t len);

/* The content hash a message is learnt by: the first 64 bits of SHA-256
 * of its Message-ID and Subject values and its body (its first
 * BAYES_HASH_BODY_MAX bytes) with CR bytes removed (so that
 * the stored copy, with our trace fields, and the file a user saved are
 * the same message). root as for bayes_tokenize. */
uint64_t
bayes_msg_hash(const char *msg, size_t len, const struct mime_part *root);

/* --- the math --- */

/*
 * The chi-square survival function Q(x2, v) = P(X > x2) for v degrees
 * of freedom, v even and > 0 (v odd asserts), exact for even v:
 * e^-m sum_{i < v/2} m^i / i!, m = x2 / 2, summed in logarithms so that
 * a large m cannot underflow the first term. At most 1.
 */
double
bayes_chi2q(double x2, unsigned v);

/* Robinson's f(w) of a token seen in spam spam and ham ham messages
 * when nspam and nham were learnt: x when it was never seen (or a total
 * is 0). */
double
bayes_robinson(uint64_t spam, uint64_t ham, uint64_t nspam, uint64_t nham);

/* Fisher-Robinson chi-square combining of n token probabilities (each
 * in (0, 1)): the spam probability, 0.5 for n 0. */
double
bayes_combine(const double *f, size_t n);

/* The symbol for probability p: "BAYES_00" (p < 0.01), "BAYES_05"
 * (< 0.05), "BAYES_20" (< 0.40), "BAYES_50" (< 0.60), "BAYES_80"
 * (< 0.95), "BAYES_95" (< 0.99), "BAYES_99". */
const char *
bayes_symbol(double p);

/* --- classifying --- */

/* What bayes_classify found. */
struct bayes_verdict {
	bool ready;		/* enough was learnt: p is a verdict */
	double p;		/* the spam probability */
	bool user_table;	/* the user's table was used */
	size_t n_tokens;	/* of the message */
	size_t n_clues;		/* combined */
	size_t n_user_clues;	/* of them, from the user's table */
	uint64_t nspam, nham;	/* learnt, in the table(s) that decided */
};

/*
 * Classifies m for user_id (STORE_BAYES_GLOBAL: the global table only;
 * otherwise the user's table too, see the top of this file) and adds
 * the BAYES_xx symbol of the verdict to r, with the probability, the
 * tables and the clues as detail. Adds nothing when bc->enabled is off
 * or too little was learnt (v_r->ready false). Reads the store: run it
 * on a storeq worker (never the loop). v_r may be NULL. Returns 0, or -1
 * with *error_r set (a store error; nothing added).
 */
int
bayes_classify(struct store *store, const struct bayes_config *bc,
    const struct spam_msg *m, int64_t user_id, struct spam_result *r,
    struct bayes_verdict *v_r, const char **error_r);

/* --- learning --- */

enum bayes_learn_result {
	BAYES_LEARN_NEW,	/* learnt */
	BAYES_LEARN_ALREADY,	/* was learnt as this class: skipped */
	BAYES_LEARN_MOVED,	/* was the other class: unlearnt, learnt */
	BAYES_LEARN_FORGOTTEN,	/* bayes_unlearn: subtracted */
	BAYES_LEARN_UNKNOWN,	/* bayes_unlearn of a message not learnt */
	BAYES_LEARN_EMPTY,	/* no tokens: nothing learnt (it would only
				 * skew the totals) */
};

/* "learnt", "already", "relearnt", "forgotten", "unknown", "empty". */
const char *
bayes_learn_result_name(enum bayes_learn_result res);

/*
 * Learns msg (len bytes; parsed here) as klass: into the global table,
 * and user_id's with bc->per_user (user_id STORE_BAYES_GLOBAL: the global
 * one only), in one transaction (or the caller's batch,
 * store_bayes_batch_begin), expiring up to BAYES_EXPIRE_BATCH tokens not
 * learnt for bc->expire_days. *res_r is what happened to the first of
 * those tables (the user's when there is one). Writes: the writer
 * thread, or the CLI. Returns 0 or -1.
 */
int
bayes_learn(struct store *store, const struct bayes_config *bc,
    const char *msg, size_t len, int64_t user_id, enum bayes_class klass,
    time_t now, enum bayes_learn_result *res_r, const char **error_r);

/* Unlearns msg from the same tables, whatever it was learnt as. */
int
bayes_unlearn(struct store *store, const struct bayes_config *bc,
    const char *msg, size_t len, int64_t user_id,
    enum bayes_learn_result *res_r, const char **error_r);

/*
 * A trainer for the quarantine's release hook (filter/quarantine.h,
 * quarantine_set_train_ham, whose quarantine_train_fn this matches): ctx
 * is a const struct bayes_config * that outlives it; learns data as ham
 * for user_id (and globally) with bayes_learn, now. Returns 0 or -1.
 */
int
bayes_train_ham(void *ctx, struct store *store, int64_t user_id,
    const char *data, size_t len, const char **error_r);

/* --- learning from IMAP --- */

enum bayes_copy_learn {
	BAYES_COPY_NONE,	/* nothing to learn */
	BAYES_COPY_SPAM,	/* into Junk from elsewhere */
	BAYES_COPY_HAM,		/* out of Junk, not into Trash */
};

/*
 * After a COPY or MOVE by user_id from mailbox from_id to mailbox to
 * (the name given to store_message_copy) has committed, on the writer:
 * whether the copies are to be learnt, and the destination's id in
 * *to_id_r. Returns BAYES_COPY_NONE when autolearn is off or the
 * mailboxes are gone. Only reads.
 */
enum bayes_copy_learn
bayes_copy_class(struct store *store, const struct bayes_config *bc,
    int64_t user_id, int64_t from_id, const char *to, int64_t *to_id_r);

/*
 * On the loop thread: learns the messages with UIDs uids[0..n-1] of
 * mailbox to_id (the copies) as what bayes_copy_class said, for
 * user_id, through the writer q: jobs of BAYES_LEARN_CHUNK messages (a
 * transaction per message), other writes in between. At most
 * BAYES_LEARN_COPY_MAX of them. Copies uids; logs one line when done.
 * The jobs count in deliverq_pending() (shutdown waits for them); once
 * deliverq_free has begun, what is left is not learnt (and logged so).
 */
void
bayes_learn_copy_submit(struct deliverq *q, const struct bayes_config *bc,
    int64_t user_id, int64_t to_id, enum bayes_copy_learn what,
    const uint32_t *uids, size_t n);

#endif
