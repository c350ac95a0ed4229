/*
 * config.h - the INI configuration file (inih) and -o overrides.
 *
 * Every key is declared once, in the key table of config.c, with its type,
 * default and check. Unknown sections, unknown keys, duplicate keys and bad
 * values stop the load with "FILE:LINE: message" (or "-o KEY=VALUE: message"
 * for an override). docs/configuration.md documents every key.
 *
 * SECURITY: the file is trusted (root-owned) but still fully validated so a
 * typo cannot silently weaken a default.
 */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/log.h"

/* At most this many addresses in one listen key. */
#define CONFIG_LISTEN_MAX 16

/* One parsed "listen" value: numeric addresses only, so that loading the
 * config never does a DNS lookup. Forms: "127.0.0.1:25", "[::1]:25",
 * "*:25" (all IPv4 and IPv6 addresses), several separated by commas or
 * spaces. An empty value means the listener is off (count == 0). */
struct config_listen {
	size_t count;
	struct sockaddr_storage addrs[CONFIG_LISTEN_MAX];
	socklen_t addr_lens[CONFIG_LISTEN_MAX];
	char *text;		/* the value as written, for logs */
};

/* [milter] servers: at most this many, each "inet:IPv4:PORT",
 * "inet:[IPv6]:PORT" or "unix:/absolute/path" (Postfix's syntax, numeric
 * addresses only), separated by spaces or commas. Empty: no milter. */
#define CONFIG_SOCKETS_MAX 8
struct config_sockets {
	size_t count;
	struct sockaddr_storage addrs[CONFIG_SOCKETS_MAX];
	socklen_t addr_lens[CONFIG_SOCKETS_MAX];
	char *text;		/* the value as written, for logs */
};

/* [milter] on_failure: what a milter that is down or broken means. */
enum config_on_failure {
	CONFIG_ON_FAILURE_ACCEPT,	/* go on without it */
	CONFIG_ON_FAILURE_TEMPFAIL,	/* 451 4.7.1: the sender retries */
};

/* [milter] listeners: which listeners run the milters. */
#define CONFIG_MILTER_SMTP		0x01	/* [smtp], port 25 */
#define CONFIG_MILTER_SUBMISSION	0x02	/* [submission], [submissions] */

/* Whether passwords may be sent without TLS. */
enum config_plaintext {
	CONFIG_PLAINTEXT_NO,		/* never */
	CONFIG_PLAINTEXT_LOOPBACK,	/* from a loopback peer only */
};

struct config {
	char *path;		/* the file that was loaded */

	/* [server] */
	char *hostname;		/* default: the machine's host name */
	char *data_dir;		/* required */
	char *user;		/* drop to this user when started as root */
	uint64_t max_message_size;	/* bytes; default 25 MiB */
	uint64_t max_buffered;		/* message bytes in memory, all sessions */

	/* [smtp] inbound, port 25 */
	struct config_listen smtp_listen;
	unsigned smtp_max_recipients;	/* default 100 */
	unsigned smtp_max_errors;	/* default 10 */
	unsigned smtp_max_sessions;	/* default 1000 */
	unsigned smtp_timeout;		/* seconds, default 300 */
	unsigned smtp_data_timeout;	/* seconds, default 600 */

	/* [submission] 587 (STARTTLS) and [submissions] 465 (implicit TLS);
	 * the [smtp] limits and timeouts apply to them too */
	struct config_listen submission_listen;
	enum config_plaintext submission_allow_plaintext;	/* default no */
	struct config_listen submissions_listen;
	struct config_listen imap_listen;
	enum config_plaintext imap_allow_plaintext;	/* default no */
	unsigned imap_max_sessions;		/* default 10000 */
	unsigned imap_max_sessions_per_user;	/* default 50 */
	unsigned imap_login_timeout;	/* seconds before login, 60 */
	unsigned imap_timeout;		/* seconds idle after login, 30m */
	struct config_listen imaps_listen;
	struct config_listen pop3_listen;
	enum config_plaintext pop3_allow_plaintext;	/* default no */
	unsigned pop3_max_sessions;		/* default 10000 */
	unsigned pop3_login_timeout;	/* seconds before login, 60 */
	unsigned pop3_timeout;		/* seconds idle after login, 10m */
	struct config_listen pop3s_listen;

	/* [auth] failed logins, counted per peer address (all protocols) */
	unsigned auth_max_failures;	/* then the address is blocked */
	unsigned auth_block_time;	/* seconds, default 15m */
	unsigned auth_failure_delay;	/* seconds before a failure reply */
	/* [auth] sender authentication of inbound mail */
	bool auth_spf_reject_fail;	/* answer an SPF fail with 550 */
	bool auth_dmarc_enforce;	/* apply DMARC reject/quarantine */

	/* Abuse of the server itself (docs/notes/abuse.md) */
	/* [limits] connections per peer address and network, every listener
	 * (core/connlimit.h); 0 turns a limit off */
	unsigned limits_ip_sessions;	/* at once from one address, 50 */
	unsigned limits_net_sessions;	/* ... from one /24 or /48, 200 */
	unsigned limits_ip_rate;	/* new per minute, one address, 120 */
	unsigned limits_net_rate;	/* ... one network, 600 */
	bool limits_exempt_loopback;	/* loopback peers: no limits, yes */
	/* [smtp] port 25 only: a pause before the greeting */
	unsigned smtp_greet_pause;	/* seconds, default 1; 0: none */
	/* [smtp] unknown recipients per session, then 421; 0: no limit */
	unsigned smtp_max_unknown_recipients;	/* default 5 */
	/* [auth] more on failed logins (core/authlimit.h) */
	unsigned auth_max_delay;	/* the doubling delay stops here, 30s */
	unsigned auth_user_max_failures;	/* per account, 0: off; 30 */
	unsigned auth_user_block_time;	/* seconds, default 15m */
	/* [submission] per user and hour, in memory; 0: no limit */
	unsigned submission_max_messages_per_hour;	/* default 200 */
	unsigned submission_max_recipients_per_hour;	/* default 1000 */

	/* [spam] the filter's pipeline and thresholds */
	bool spam_enabled;		/* score inbound mail (port 25) */
	bool spam_submission;		/* and submitted mail */
	double spam_junk_score;		/* from this score: Junk */
	double spam_quarantine_score;	/* from this score: held */
	double spam_reject_score;	/* from this score: 550 */
	char *spam_scores;		/* "SYMBOL=WEIGHT ..." overrides */

	/* [milter] external content filters (filter/milter.h) */
	struct config_sockets milter_servers;	/* none: off */
	enum config_on_failure milter_on_failure;	/* default tempfail */
	unsigned milter_connect_timeout;	/* seconds, default 10 */
	unsigned milter_timeout;	/* seconds per reply, default 30 */
	unsigned milter_message_timeout;	/* whole check, default 300 */
	unsigned milter_listeners;	/* CONFIG_MILTER_*, default smtp */
	/* [quarantine] held mail (filter/quarantine.h) */
	unsigned quarantine_retention;	/* seconds a held message is kept */
	unsigned quarantine_expire_interval;	/* seconds between sweeps */
	bool quarantine_digest;		/* send users a daily digest */
	unsigned quarantine_digest_time;	/* hour of day (local), 0-23 */
	/* [bayes] the statistical classifier (filter/bayes.h) */
	bool bayes_enabled;		/* classify inbound mail */
	unsigned bayes_min_learns;	/* spam and ham each before a verdict */
	bool bayes_per_user;		/* a table per user besides the global */
	bool bayes_autolearn;		/* learn from IMAP moves to/from Junk */
	unsigned bayes_clues;		/* most significant tokens combined */
	unsigned bayes_expire_days;	/* tokens not learnt since: expire */

	/* [dns] */
	char *dns_resolver;	/* forwarders "IP[@port]", separated by commas
				 * or spaces; empty: /etc/resolv.conf */
	unsigned dns_timeout;	/* seconds per query, default 10 */

	/* [queue] the outbound deliverer (smtp-queue, smtp-client) */
	unsigned queue_deliver;		/* 1: serve delivers; 0: mail waits */
	unsigned queue_interval;	/* seconds between queue scans */
	unsigned queue_retry_min;	/* first retry after, seconds */
	unsigned queue_retry_max;	/* back-off doubles up to this */
	unsigned queue_lifetime;	/* then a deferred recipient fails */
	unsigned queue_max_connections;	/* connections at once, in all */
	unsigned queue_max_per_domain;	/* connections to one domain */
	unsigned queue_max_per_connection; /* messages per connection */
	unsigned queue_port;		/* remote SMTP port, 25 */
	unsigned queue_connect_timeout;	/* seconds to connect */
	unsigned queue_timeout;		/* per reply (RFC 5321 4.5.3.2) */
	unsigned queue_data_timeout;	/* for the reply to the final dot */
	unsigned queue_connection_idle;	/* an idle connection kept, 0: no */
	char *queue_tls_verify_domains;	/* TLS with a verified certificate
					 * required: lower case, one space
					 * between names; empty: none */
	char *queue_tls_ca_file;	/* their trusted CAs (PEM); empty: the
					 * system's default verify paths */

	/* [tls] */
	char *tls_cert;		/* PEM chain; empty: no TLS */
	char *tls_key;

	/* [log] */
	enum log_level log_level;
};

/*
 * Loads path, then applies overrides ("section.key=value" strings, in
 * order; an override replaces the file's value). Relative cert, key and
 * data_dir paths are taken relative to the directory of the file.
 * Returns 0 and a config to free with config_free(), or -1 with *error_r
 * set to a message that stays valid until the next config_load() call.
 */
int
config_load(const char *path, const char *const *overrides, size_t n_overrides,
    struct config **config_r, const char **error_r);

void
config_free(struct config **configp);

/*
 * Parses a listen value into *listen_r (see struct config_listen). Returns
 * 0, or -1 with *error_r set to a static message. On success
 * listen_r->text is a new copy of value that the caller frees (config_free()
 * does it for the listeners of a config); on error *listen_r is unchanged.
 */
int
config_listen_parse(const char *value, struct config_listen *listen_r,
    const char **error_r);

/*
 * Parses one milter socket spec (see struct config_sockets) into *ss and
 * *len_r. Returns 0, or -1 with *error_r set to a static message.
 */
int
config_socket_parse(const char *spec, size_t spec_len,
    struct sockaddr_storage *ss, socklen_t *len_r, const char **error_r);

/* At most this many forwarders in [dns] resolver. */
#define CONFIG_RESOLVER_MAX 8

/*
 * Checks a [dns] resolver value: a list of numeric "IPv4[@port]" or
 * "IPv6[@port]" items (libunbound's syntax, no brackets) separated by
 * commas or spaces, at most CONFIG_RESOLVER_MAX of them. An empty value
 * is valid (the system's resolv.conf). Returns 0, or -1 with *error_r set
 * to a static message.
 */
int
config_resolver_check(const char *value, const char **error_r);

/*
 * Whether domain (any case, an optional trailing dot) is one of list, a
 * value normalized by config_load() as [queue] tls_verify_domains is
 * (lower case names separated by one space). An empty list has none.
 */
bool
config_domain_listed(const char *list, const char *domain);

/* Parses a size: a number with an optional K, M or G suffix (powers of
 * 1024). Returns 0 or -1. */
int
config_size_parse(const char *value, uint64_t *size_r);

/* Parses a duration: a number of seconds with an optional s, m, h or d
 * suffix. Returns 0 or -1. */
int
config_duration_parse(const char *value, unsigned *seconds_r);

#endif
