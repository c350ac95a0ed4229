/*
 * authlimit.h - failed logins counted per peer address and per account,
 * shared by every protocol that takes passwords (IMAP, POP3, submission),
 * so that guessing on one protocol counts against the others too.
 *
 * Each failure makes the reply to it wait: failure_delay after the first,
 * doubling with every further failure of the address or of the account
 * (whichever has more), up to max_delay. An address with max_failures
 * failures within block_time is refused every login for block_time. An
 * account with user_max_failures failures from any addresses within
 * user_block_time is refused logins for user_block_time - except from
 * the networks it logged in from successfully before (AUTHLIMIT_GOOD
 * of them, for AUTHLIMIT_GOOD_TIME): a botnet spreading guesses over many
 * addresses is stopped, while the owner, at home or at work, still gets
 * in. The price: an owner on a new network during an attack waits for
 * the ban to end (it always ends; a ban is never extended by the
 * failures made during it), and a real owner's own mistakes count too.
 * The counts keep no password, only the address, a keyed hash of the
 * lower-cased user name, times and counters.
 *
 * IPv6 peers are counted by their /64 (one host commonly owns a whole
 * /64); "networks" of an account are IPv4 /24s and IPv6 /48s.
 *
 * Each kind of entry has a table of fixed size (AUTHLIMIT_ENTRIES): when
 * a probe window is full the least useful entry is reused (an idle one,
 * then one without a ban, the oldest first), so a flood of addresses or
 * user names cannot grow memory; it can only make the server forget some
 * counts early.
 *
 * Logs: authlimit_log_failure() writes the one line per failed login that
 * contrib/fail2ban/filter.d/correio.conf matches:
 *   conn=ID SUBSYSTEM auth failed service=SERVICE peer=IP user="USER"
 *   mech=MECH result=fail delay=N
 * (SUBSYSTEM is the log's word for the protocol, "smtp", "imap" or
 * "pop3"; SERVICE is "submission", "imap" or "pop3")
 * and authlimit_log_refusal() one per login refused by a ban.
 *
 * SECURITY: sees peer addresses and user names (hostile; escaped before
 * they are logged), never passwords. Loop thread only.
 */
#ifndef CORE_AUTHLIMIT_H
#define CORE_AUTHLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#define AUTHLIMIT_ENTRIES 16384	/* addresses (and accounts) at once */
#define AUTHLIMIT_PROBE 16		/* slots looked at per lookup */
#define AUTHLIMIT_GOOD 2		/* networks remembered per account */
#define AUTHLIMIT_GOOD_TIME (30 * 24 * 3600)	/* ... for this long */
#define AUTHLIMIT_NET4_BITS 24
#define AUTHLIMIT_NET6_BITS 48

struct authlimit_config {
	unsigned max_failures;		/* per address, >= 1 */
	unsigned block_time;		/* seconds an address is refused */
	unsigned failure_delay;		/* seconds, first failure (0: none) */
	unsigned max_delay;		/* seconds, the doubling stops here */
	unsigned user_max_failures;	/* per account, 0: never banned */
	unsigned user_block_time;	/* seconds an account is refused */
};

/* Why a login is refused. */
enum authlimit_scope {
	AUTHLIMIT_NONE,
	AUTHLIMIT_IP,
	AUTHLIMIT_USER,
};

struct authlimit;

/* Tables with these limits (copied). Never fails (aborts on OOM). */
struct authlimit *
authlimit_new(const struct authlimit_config *config);

void
authlimit_free(struct authlimit **ap);

/*
 * May sa try to log in as user (NULL or "": the address only) at now?
 * Returns 0 if so, else the seconds the refusal still lasts, with
 * scope_r (may be NULL) saying whether the address or the account is
 * banned.
 */
unsigned
authlimit_check(struct authlimit *a, const struct sockaddr *sa,
    const char *user, time_t now, enum authlimit_scope *scope_r);

/* Records a failed login (user may be NULL or "": counted for the address
 * only); returns the seconds to wait before answering it. */
unsigned
authlimit_fail(struct authlimit *a, const struct sockaddr *sa,
    const char *user, time_t now);

/* A successful login: forgets the address's failures and the account's,
 * and remembers the network as one the account logs in from. */
void
authlimit_success(struct authlimit *a, const struct sockaddr *sa,
    const char *user, time_t now);

/* The fail2ban line of a failed login; user and mech are escaped here. */
void
authlimit_log_failure(const char *conn_id, const char *subsystem,
    const char *service, const char *peer, const char *user,
    const char *mech, unsigned delay);

/* The line of a login refused by authlimit_check(). */
void
authlimit_log_refusal(const char *conn_id, const char *subsystem,
    const char *service, const char *peer, const char *user,
    enum authlimit_scope scope, unsigned seconds);

/* Entries that hold anything at now (for tests: bounded memory). */
size_t
authlimit_live(const struct authlimit *a, time_t now);

/* Is this peer on a loopback address (127.0.0.0/8, ::1, ::ffff:127.x)? */
bool
authlimit_is_loopback(const struct sockaddr *sa);

#endif
