/*
 * config.c - the INI configuration file and -o overrides (see config.h).
 *
 * One table, config_keys[], declares every key: its section, name, type,
 * the field of struct config it fills, its default and its bounds. Loading
 * is: apply the defaults of the table, read the file with inih, apply the
 * -o overrides, then check what only the whole config can tell (required
 * keys, the computed host name default, the TLS cert/key pair).
 *
 * inih is fed through our own line reader (ini_parse_stream) rather than
 * ini_parse(): the reader counts lines, so every error carries the exact
 * line of the key that caused it, even after inih has seen a syntax error
 * earlier in the file (inih goes on after errors and only returns the line
 * of the first one). The reader also
 *  - rejects lines longer than inih's line buffer, which inih would
 *    otherwise cut silently, reading the rest as another line;
 *  - rejects NUL bytes;
 *  - checks every [section] header, so that an empty unknown section is
 *    caught too and the error points at the header;
 *  - strips leading white space before inih sees the line, so indented
 *    keys are plain keys and never become inih's multi-line continuation
 *    of the previous value.
 * inih itself reports only the remaining syntax errors (a '[' with no ']',
 * a line with no '='), by returning their line number.
 *
 * SECURITY: the file and the overrides come from the administrator, not
 * from the network, but everything is validated strictly so that a typo
 * stops the server instead of silently weakening a default. Listen
 * addresses are numeric only: loading the config never does a DNS lookup.
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include <ini.h>

#include "core/xalloc.h"

enum config_type {
	CONFIG_TYPE_STRING,	/* any text, may be empty */
	CONFIG_TYPE_PATH,	/* relative: joined to the config file's dir */
	CONFIG_TYPE_SIZE,	/* uint64_t bytes, K/M/G suffix */
	CONFIG_TYPE_DURATION,	/* unsigned seconds, s/m/h suffix */
	CONFIG_TYPE_UINT,	/* unsigned */
	CONFIG_TYPE_LISTEN,	/* struct config_listen */
	CONFIG_TYPE_LOGLEVEL,	/* enum log_level */
	CONFIG_TYPE_HOSTNAME,	/* a syntactically valid domain name */
	CONFIG_TYPE_PLAINTEXT,	/* enum config_plaintext: no, loopback */
	CONFIG_TYPE_RESOLVER,	/* a string checked by config_resolver_check */
	CONFIG_TYPE_BOOL,	/* bool: yes or no */
	CONFIG_TYPE_NUMBER,	/* double, a decimal number from min to max */
	CONFIG_TYPE_DOMAINS,	/* domain names, stored lower case and
				 * separated by one space */
	CONFIG_TYPE_SOCKETS,	/* struct config_sockets ([milter]) */
	CONFIG_TYPE_ON_FAILURE,	/* enum config_on_failure */
	CONFIG_TYPE_MILTER_LISTENERS,	/* CONFIG_MILTER_* flags */
};

/* The key must have a non-empty value after the file and the overrides. */
#define CONFIG_KEY_REQUIRED	0x01

struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;		/* of the field in struct config */
	const char *default_value;	/* NULL: required or computed */
	uint64_t min, max;	/* SIZE, DURATION and UINT only */
	unsigned flags;
};

#define CONFIG_FIELD(field)	offsetof(struct config, field)
#define CONFIG_KIB		((uint64_t)1024)
#define CONFIG_MIB		(CONFIG_KIB * 1024)
#define CONFIG_GIB		(CONFIG_MIB * 1024)

/* Every key Correio knows. docs/configuration.md documents each one. */
static const struct config_key config_keys[] = {
	{ "server", "hostname", CONFIG_TYPE_HOSTNAME,
	    CONFIG_FIELD(hostname), NULL, 0, 0, 0 },
	{ "server", "data_dir", CONFIG_TYPE_PATH,
	    CONFIG_FIELD(data_dir), NULL, 0, 0, CONFIG_KEY_REQUIRED },
	{ "server", "user", CONFIG_TYPE_STRING,
	    CONFIG_FIELD(user), "", 0, 0, 0 },
	{ "server", "max_message_size", CONFIG_TYPE_SIZE,
	    CONFIG_FIELD(max_message_size), "25M", CONFIG_KIB, CONFIG_GIB, 0 },
	{ "server", "max_buffered", CONFIG_TYPE_SIZE,
	    CONFIG_FIELD(max_buffered), "512M", CONFIG_KIB, 64 * CONFIG_GIB, 0 },

	{ "smtp", "listen", CONFIG_TYPE_LISTEN,
	    CONFIG_FIELD(smtp_listen), "", 0, 0, 0 },
	{ "smtp", "max_recipients", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(smtp_max_recipients), "100", 1, 10000, 0 },
	{ "smtp", "max_errors", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(smtp_max_errors), "10", 1, 1000, 0 },
	{ "smtp", "max_sessions", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(smtp_max_sessions), "1000", 1, 100000, 0 },
	{ "smtp", "timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(smtp_timeout), "300s", 1, 3600, 0 },
	{ "smtp", "data_timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(smtp_data_timeout), "600s", 1, 7200, 0 },

	{ "submission", "listen", CONFIG_TYPE_LISTEN,
	    CONFIG_FIELD(submission_listen), "", 0, 0, 0 },
	{ "submission", "allow_plaintext", CONFIG_TYPE_PLAINTEXT,
	    CONFIG_FIELD(submission_allow_plaintext), "no", 0, 0, 0 },
	{ "submissions", "listen", CONFIG_TYPE_LISTEN,
	    CONFIG_FIELD(submissions_listen), "", 0, 0, 0 },
	{ "imap", "listen", CONFIG_TYPE_LISTEN,
	    CONFIG_FIELD(imap_listen), "", 0, 0, 0 },
	{ "imap", "allow_plaintext", CONFIG_TYPE_PLAINTEXT,
	    CONFIG_FIELD(imap_allow_plaintext), "no", 0, 0, 0 },
	{ "imap", "max_sessions", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(imap_max_sessions), "10000", 1, 1000000, 0 },
	{ "imap", "max_sessions_per_user", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(imap_max_sessions_per_user), "50", 1, 10000, 0 },
	{ "imap", "login_timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(imap_login_timeout), "60s", 1, 3600, 0 },
	/* RFC 9051 5.4: at least 30 minutes once logged in */
	{ "imap", "timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(imap_timeout), "30m", 30 * 60, 24 * 3600, 0 },
	{ "imaps", "listen", CONFIG_TYPE_LISTEN,
	    CONFIG_FIELD(imaps_listen), "", 0, 0, 0 },
	{ "pop3", "listen", CONFIG_TYPE_LISTEN,
	    CONFIG_FIELD(pop3_listen), "", 0, 0, 0 },
	{ "pop3", "allow_plaintext", CONFIG_TYPE_PLAINTEXT,
	    CONFIG_FIELD(pop3_allow_plaintext), "no", 0, 0, 0 },
	{ "pop3", "max_sessions", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(pop3_max_sessions), "10000", 1, 1000000, 0 },
	{ "pop3", "login_timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(pop3_login_timeout), "60s", 1, 3600, 0 },
	/* RFC 1939 3: the autologout timer is at least 10 minutes */
	{ "pop3", "timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(pop3_timeout), "10m", 10 * 60, 24 * 3600, 0 },
	{ "pop3s", "listen", CONFIG_TYPE_LISTEN,
	    CONFIG_FIELD(pop3s_listen), "", 0, 0, 0 },

	{ "auth", "max_failures", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(auth_max_failures), "10", 1, 100000, 0 },
	{ "auth", "block_time", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(auth_block_time), "15m", 1, 24 * 3600, 0 },
	{ "auth", "failure_delay", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(auth_failure_delay), "2s", 0, 60, 0 },
	/* RFC 7208 8.4: rejecting a fail is the receiver's choice; by
	 * default the result only feeds DMARC and the spam score. */
	{ "auth", "spf_reject_fail", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(auth_spf_reject_fail), "no", 0, 0, 0 },
	/* RFC 7489 6.6.4/6.7: the domain owner's p= is applied unless
	 * the admin overrides it (then results are only recorded). */
	{ "auth", "dmarc_enforce", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(auth_dmarc_enforce), "yes", 0, 0, 0 },

	/* Abuse of the server itself: connection limits on every listener
	 * (core/connlimit.h), the greeting pause and the unknown-recipient
	 * limit of port 25, more login counting (core/authlimit.h) and the
	 * hourly limits of a submission user. Defaults a busy MX and the
	 * benchmarks (on loopback, exempt) do not reach. */
	{ "limits", "ip_sessions", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(limits_ip_sessions), "50", 0, 1000000, 0 },
	{ "limits", "net_sessions", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(limits_net_sessions), "200", 0, 1000000, 0 },
	{ "limits", "ip_rate", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(limits_ip_rate), "120", 0, 1000000, 0 },
	{ "limits", "net_rate", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(limits_net_rate), "600", 0, 1000000, 0 },
	{ "limits", "exempt_loopback", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(limits_exempt_loopback), "yes", 0, 0, 0 },
	{ "smtp", "greet_pause", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(smtp_greet_pause), "1s", 0, 60, 0 },
	{ "smtp", "max_unknown_recipients", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(smtp_max_unknown_recipients), "5", 0, 10000, 0 },
	{ "auth", "max_delay", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(auth_max_delay), "30s", 0, 600, 0 },
	{ "auth", "user_max_failures", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(auth_user_max_failures), "30", 0, 1000000, 0 },
	{ "auth", "user_block_time", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(auth_user_block_time), "15m", 1, 24 * 3600, 0 },
	{ "submission", "max_messages_per_hour", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(submission_max_messages_per_hour), "200", 0,
	    1000000, 0 },
	{ "submission", "max_recipients_per_hour", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(submission_max_recipients_per_hour), "1000", 0,
	    1000000, 0 },

	/* The spam filter (filter/spam.h): on port 25, and optionally on
	 * the submission ports for outbound spam. Weights are in
	 * SpamAssassin's units (filter/spam-symbols.c). */
	{ "spam", "enabled", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(spam_enabled), "yes", 0, 0, 0 },
	{ "spam", "submission", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(spam_submission), "no", 0, 0, 0 },
	{ "spam", "junk_score", CONFIG_TYPE_NUMBER,
	    CONFIG_FIELD(spam_junk_score), "5", 0, 1000, 0 },
	{ "spam", "quarantine_score", CONFIG_TYPE_NUMBER,
	    CONFIG_FIELD(spam_quarantine_score), "10", 0, 1000, 0 },
	{ "spam", "reject_score", CONFIG_TYPE_NUMBER,
	    CONFIG_FIELD(spam_reject_score), "15", 0, 1000, 0 },
	{ "spam", "scores", CONFIG_TYPE_STRING,
	    CONFIG_FIELD(spam_scores), "", 0, 0, 0 },

	/* External content filters over the milter protocol
	 * (filter/milter.h), in order; Postfix's milter_* defaults are
	 * 30s to connect, 30s per command and 300s for the content. */
	{ "milter", "servers", CONFIG_TYPE_SOCKETS,
	    CONFIG_FIELD(milter_servers), "", 0, 0, 0 },
	{ "milter", "on_failure", CONFIG_TYPE_ON_FAILURE,
	    CONFIG_FIELD(milter_on_failure), "tempfail", 0, 0, 0 },
	{ "milter", "connect_timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(milter_connect_timeout), "10s", 1, 300, 0 },
	{ "milter", "timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(milter_timeout), "30s", 1, 3600, 0 },
	{ "milter", "message_timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(milter_message_timeout), "300s", 1, 7200, 0 },
	{ "milter", "listeners", CONFIG_TYPE_MILTER_LISTENERS,
	    CONFIG_FIELD(milter_listeners), "smtp", 0, 0, 0 },
	/* The quarantine (filter/quarantine.h): held mail is kept this
	 * long, swept this often, and listed to its owner in a digest once
	 * a day at this hour (local time) with a release address each. */
	{ "quarantine", "retention", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(quarantine_retention), "30d", 60, 3650 * 86400U, 0 },
	{ "quarantine", "expire_interval", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(quarantine_expire_interval), "1h", 1, 86400, 0 },
	{ "quarantine", "digest", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(quarantine_digest), "yes", 0, 0, 0 },
	{ "quarantine", "digest_time", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(quarantine_digest_time), "8", 0, 23, 0 },
	/* The statistical classifier (filter/bayes.h): a verdict only once
	 * min_learns of each class were learnt; clues is at most
	 * BAYES_CLUES_MAX; expire_days 0 keeps tokens for ever. */
	{ "bayes", "enabled", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(bayes_enabled), "yes", 0, 0, 0 },
	{ "bayes", "min_learns", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(bayes_min_learns), "50", 1, 1000000, 0 },
	{ "bayes", "per_user", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(bayes_per_user), "yes", 0, 0, 0 },
	{ "bayes", "autolearn", CONFIG_TYPE_BOOL,
	    CONFIG_FIELD(bayes_autolearn), "yes", 0, 0, 0 },
	{ "bayes", "clues", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(bayes_clues), "150", 1, 500, 0 },
	{ "bayes", "expire_days", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(bayes_expire_days), "180", 0, 36500, 0 },

	{ "dns", "resolver", CONFIG_TYPE_RESOLVER,
	    CONFIG_FIELD(dns_resolver), "", 0, 0, 0 },
	{ "dns", "timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(dns_timeout), "10s", 1, 300, 0 },

	{ "queue", "deliver", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(queue_deliver), "1", 0, 1, 0 },
	{ "queue", "interval", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(queue_interval), "30s", 1, 3600, 0 },
	{ "queue", "retry_min", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(queue_retry_min), "5m", 1, 24 * 3600, 0 },
	{ "queue", "retry_max", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(queue_retry_max), "4h", 1, 7 * 24 * 3600, 0 },
	/* RFC 5321 4.5.4.1: give up after at least 4-5 days */
	{ "queue", "lifetime", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(queue_lifetime), "120h", 1, 30 * 24 * 3600, 0 },
	{ "queue", "max_connections", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(queue_max_connections), "20", 1, 10000, 0 },
	{ "queue", "max_per_domain", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(queue_max_per_domain), "4", 1, 1000, 0 },
	{ "queue", "max_per_connection", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(queue_max_per_connection), "100", 1, 10000, 0 },
	{ "queue", "port", CONFIG_TYPE_UINT,
	    CONFIG_FIELD(queue_port), "25", 1, 65535, 0 },
	{ "queue", "connect_timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(queue_connect_timeout), "30s", 1, 600, 0 },
	/* RFC 5321 4.5.3.2: 5 minutes for most replies, 10 after the dot */
	{ "queue", "timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(queue_timeout), "5m", 1, 3600, 0 },
	{ "queue", "data_timeout", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(queue_data_timeout), "10m", 1, 7200, 0 },
	/* Postfix's smtp_connection_cache_time_limit is 2s too */
	{ "queue", "connection_idle", CONFIG_TYPE_DURATION,
	    CONFIG_FIELD(queue_connection_idle), "2s", 0, 300, 0 },
	{ "queue", "tls_verify_domains", CONFIG_TYPE_DOMAINS,
	    CONFIG_FIELD(queue_tls_verify_domains), "", 0, 0, 0 },
	{ "queue", "tls_ca_file", CONFIG_TYPE_PATH,
	    CONFIG_FIELD(queue_tls_ca_file), "", 0, 0, 0 },

	{ "tls", "cert", CONFIG_TYPE_PATH,
	    CONFIG_FIELD(tls_cert), "", 0, 0, 0 },
	{ "tls", "key", CONFIG_TYPE_PATH,
	    CONFIG_FIELD(tls_key), "", 0, 0, 0 },

	{ "log", "level", CONFIG_TYPE_LOGLEVEL,
	    CONFIG_FIELD(log_level), "info", 0, 0, 0 },
};

#define CONFIG_N_KEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

/* Room for a message naming a path of PATH_MAX bytes and a long value. */
#define CONFIG_ERROR_MAX	8192
/* Room for the message of one bad value, without the location. */
#define CONFIG_VALUE_ERROR_MAX	512
/* A RFC 1035 2.3.4 name: 255 octets on the wire, 253 characters written. */
#define CONFIG_HOSTNAME_MAX	253
#define CONFIG_LABEL_MAX	63

#define CONFIG_STR2(x)	#x
#define CONFIG_STR(x)	CONFIG_STR2(x)

/*
 * The last error of config_load(). A static buffer: the config is loaded on
 * the main thread, and the message must outlive the call (config.h).
 */
static char config_error_buf[CONFIG_ERROR_MAX];

/* State of one file parse, shared by the line reader and the handler. */
struct config_parse {
	struct config *config;
	const char *path;	/* as given, for messages */
	const char *base_dir;	/* absolute directory of the file */
	FILE *fp;
	char *line;		/* getline() buffer */
	size_t line_cap;
	int lineno;		/* of the line inih is working on */
	int section_line;	/* of the last [section] header */
	int key_lines[CONFIG_N_KEYS];	/* line of each key set, or 0 */
	bool failed;
	int error_line;		/* of the error; INT_MAX: no line */
};

static void
config_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
config_error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* A message longer than the buffer is cut; that is fine for a message,
	 * and vsnprintf always NUL-terminates. */
	if (vsnprintf(config_error_buf, sizeof(config_error_buf), fmt, ap) < 0)
		snprintf(config_error_buf, sizeof(config_error_buf),
		    "config: cannot format error message");
	va_end(ap);
}

/* Like snprintf into a message buffer; cutting a message is acceptable. */
static void
config_msg(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
config_msg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, msglen, fmt, ap) < 0 && msglen > 0)
		msg[0] = '\0';
	va_end(ap);
}

static bool
config_section_known(const char *section, size_t len)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		if (strlen(config_keys[i].section) == len &&
		    memcmp(config_keys[i].section, section, len) == 0)
			return true;
	}
	return false;
}

static const struct config_key *
config_key_lookup(const char *section, const char *name)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

/* Parses a run of decimal digits that fills all of [s, end). */
static int
config_digits_parse(const char *s, const char *end, uint64_t *value_r)
{
	uint64_t v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value_r = v;
	return 0;
}

int
config_size_parse(const char *value, uint64_t *size_r)
{
	const char *end = value + strlen(value);
	uint64_t v, mult = 1;

	if (end > value) {
		switch (end[-1]) {
		case 'K': case 'k': mult = CONFIG_KIB; end--; break;
		case 'M': case 'm': mult = CONFIG_MIB; end--; break;
		case 'G': case 'g': mult = CONFIG_GIB; end--; break;
		default: break;
		}
	}
	if (config_digits_parse(value, end, &v) < 0)
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*size_r = v * mult;
	return 0;
}

int
config_duration_parse(const char *value, unsigned *seconds_r)
{
	const char *end = value + strlen(value);
	uint64_t v, mult = 1;

	if (end > value) {
		switch (end[-1]) {
		case 'S': case 's': mult = 1; end--; break;
		case 'M': case 'm': mult = 60; end--; break;
		case 'H': case 'h': mult = 3600; end--; break;
		case 'D': case 'd': mult = 86400; end--; break;
		default: break;
		}
	}
	if (config_digits_parse(value, end, &v) < 0)
		return -1;
	if (v > UINT_MAX / mult)
		return -1;
	*seconds_r = (unsigned)(v * mult);
	return 0;
}

/* Writes a size the way a user would: "1K", "25M", "1G" or bytes. */
static void
config_size_format(uint64_t v, char *out, size_t outlen)
{
	if (v != 0 && v % CONFIG_GIB == 0)
		config_msg(out, outlen, "%lluG",
		    (unsigned long long)(v / CONFIG_GIB));
	else if (v != 0 && v % CONFIG_MIB == 0)
		config_msg(out, outlen, "%lluM",
		    (unsigned long long)(v / CONFIG_MIB));
	else if (v != 0 && v % CONFIG_KIB == 0)
		config_msg(out, outlen, "%lluK",
		    (unsigned long long)(v / CONFIG_KIB));
	else
		config_msg(out, outlen, "%llu", (unsigned long long)v);
}

static void
config_duration_format(uint64_t v, char *out, size_t outlen)
{
	/* Days from two on: "24h" stays as the limits have always read. */
	if (v > 86400 && v % 86400 == 0)
		config_msg(out, outlen, "%llud",
		    (unsigned long long)(v / 86400));
	else if (v != 0 && v % 3600 == 0)
		config_msg(out, outlen, "%lluh",
		    (unsigned long long)(v / 3600));
	else if (v != 0 && v % 60 == 0)
		config_msg(out, outlen, "%llum", (unsigned long long)(v / 60));
	else
		config_msg(out, outlen, "%llus", (unsigned long long)v);
}

/*
 * True if name is a syntactically valid domain name (RFC 1035 2.3.1 as
 * relaxed by RFC 1123 2.1): dot-separated labels of 1 to 63 letters,
 * digits and hyphens, not starting or ending with a hyphen, at most 253
 * characters, no trailing dot. A single label ("localhost") is allowed.
 */
static bool
config_hostname_valid(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > CONFIG_HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || name[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > CONFIG_LABEL_MAX)
			return false;
	}
	return true;
}

static void
config_listen_set_port(struct sockaddr_storage *ss, in_port_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Adds one address (family AF_INET or AF_INET6, addr in network order). */
static int
config_listen_add(struct config_listen *l, int family, const void *addr,
    in_port_t port, const char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
		len = sizeof(*sin6);
	}
	config_listen_set_port(&ss, port);

	/* The same address twice would fail later, at bind(), with a less
	 * helpful message. The sockaddrs were zeroed, so memcmp is exact. */
	for (size_t i = 0; i < l->count; i++) {
		if (l->addr_lens[i] == len &&
		    memcmp(&l->addrs[i], &ss, len) == 0) {
			*error_r = "address listed twice";
			return -1;
		}
	}
	if (l->count == CONFIG_LISTEN_MAX) {
		*error_r = "too many addresses (at most "
		    CONFIG_STR(CONFIG_LISTEN_MAX) ")";
		return -1;
	}
	l->addrs[l->count] = ss;
	l->addr_lens[l->count] = len;
	l->count++;
	return 0;
}

/* Parses one "host:port" item of len bytes (not NUL-terminated). */
static int
config_listen_parse_item(struct config_listen *l, const char *item,
    size_t len, const char **error_r)
{
	const char *end = item + len, *host, *host_end, *port;
	char hostbuf[INET6_ADDRSTRLEN];
	uint64_t portnum;
	size_t host_len;

	if (item[0] == '[') {
		host = item + 1;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL) {
			*error_r = "missing ']' after the IPv6 address";
			return -1;
		}
		if (host_end + 1 == end || host_end[1] != ':') {
			*error_r = "missing ':port' after the address";
			return -1;
		}
		port = host_end + 2;
	} else {
		host = item;
		host_end = memrchr(item, ':', len);
		if (host_end == NULL) {
			*error_r = "missing ':port' after the address";
			return -1;
		}
		port = host_end + 1;
	}

	if (config_digits_parse(port, end, &portnum) < 0 ||
	    portnum < 1 || portnum > 65535) {
		*error_r = "the port must be a number from 1 to 65535";
		return -1;
	}

	host_len = (size_t)(host_end - host);
	if (host_len == 0) {
		*error_r = "missing address before ':port' "
		    "(use '*' for all addresses)";
		return -1;
	}
	if (item[0] != '[' && host_len == 1 && host[0] == '*') {
		struct in_addr any4;

		any4.s_addr = htonl(INADDR_ANY);
		if (config_listen_add(l, AF_INET, &any4, (in_port_t)portnum,
		    error_r) < 0)
			return -1;
		return config_listen_add(l, AF_INET6, &in6addr_any,
		    (in_port_t)portnum, error_r);
	}
	if (host_len >= sizeof(hostbuf)) {
		*error_r = item[0] == '[' ? "not a numeric IPv6 address" :
		    "not a numeric IPv4 address (host names are not allowed)";
		return -1;
	}
	memcpy(hostbuf, host, host_len);
	hostbuf[host_len] = '\0';

	if (item[0] == '[') {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, hostbuf, &a6) != 1) {
			*error_r = "not a numeric IPv6 address";
			return -1;
		}
		return config_listen_add(l, AF_INET6, &a6, (in_port_t)portnum,
		    error_r);
	} else {
		struct in_addr a4;

		if (memchr(hostbuf, ':', host_len) != NULL) {
			*error_r = "an IPv6 address must be in brackets, "
			    "as in [::1]:25";
			return -1;
		}
		if (inet_pton(AF_INET, hostbuf, &a4) != 1) {
			*error_r = "not a numeric IPv4 address "
			    "(host names are not allowed)";
			return -1;
		}
		return config_listen_add(l, AF_INET, &a4, (in_port_t)portnum,
		    error_r);
	}
}

static bool
config_listen_is_sep(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

/*
 * config_listen_parse(), but on error also points *item_r and *item_len_r at
 * the item that failed (NULL/0 if none), so config_load() can name it.
 * On success listen_r->text is a new copy of value; on error *listen_r is
 * unchanged.
 */
static int
config_listen_parse_full(const char *value, struct config_listen *listen_r,
    const char **error_r, const char **item_r, size_t *item_len_r)
{
	struct config_listen l;
	const char *p = value;

	memset(&l, 0, sizeof(l));
	*item_r = NULL;
	*item_len_r = 0;
	for (;;) {
		const char *start;

		while (*p != '\0' && config_listen_is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && !config_listen_is_sep(*p))
			p++;
		if (config_listen_parse_item(&l, start, (size_t)(p - start),
		    error_r) < 0) {
			*item_r = start;
			*item_len_r = (size_t)(p - start);
			return -1;
		}
	}
	l.text = xstrdup(value);
	*listen_r = l;
	return 0;
}

int
config_listen_parse(const char *value, struct config_listen *listen_r,
    const char **error_r)
{
	const char *item;
	size_t item_len;

	return config_listen_parse_full(value, listen_r, error_r, &item,
	    &item_len);
}

/* ---- [milter]: socket specs, on_failure, listeners ---- */

int
config_socket_parse(const char *spec, size_t spec_len,
    struct sockaddr_storage *ss, socklen_t *len_r, const char **error_r)
{
	if (spec_len > 5 && memcmp(spec, "inet:", 5) == 0) {
		struct config_listen l;

		memset(&l, 0, sizeof(l));
		if (config_listen_parse_item(&l, spec + 5, spec_len - 5,
		    error_r) < 0)
			return -1;
		if (l.count != 1) {
			*error_r = "'*' is not an address to connect to";
			return -1;
		}
		*ss = l.addrs[0];
		*len_r = l.addr_lens[0];
		return 0;
	}
	if (spec_len > 5 && (memcmp(spec, "unix:", 5) == 0 ||
	    memcmp(spec, "local:", 6) == 0)) {
		size_t skip = spec[0] == 'u' ? 5 : 6;
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		size_t plen = spec_len - skip;

		if (plen == 0 || spec[skip] != '/') {
			*error_r = "the socket path must be absolute";
			return -1;
		}
		if (plen >= sizeof(sun->sun_path)) {
			*error_r = "the socket path is too long";
			return -1;
		}
		memset(ss, 0, sizeof(*ss));
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, spec + skip, plen);
		*len_r = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    plen + 1);
		return 0;
	}
	*error_r = "expected inet:IP:PORT, inet:[IPv6]:PORT or unix:/PATH";
	return -1;
}

/* Parses [milter] servers into *r; on error *r is unchanged and msg set. */
static int
config_sockets_parse(const char *value, struct config_sockets *r,
    char *msg, size_t msglen)
{
	struct config_sockets l;
	const char *p = value, *error;

	memset(&l, 0, sizeof(l));
	for (;;) {
		const char *start;

		while (*p != '\0' && config_listen_is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && !config_listen_is_sep(*p))
			p++;
		if (l.count == CONFIG_SOCKETS_MAX) {
			config_msg(msg, msglen, "too many servers (at most "
			    CONFIG_STR(CONFIG_SOCKETS_MAX) ")");
			return -1;
		}
		if (config_socket_parse(start, (size_t)(p - start),
		    &l.addrs[l.count], &l.addr_lens[l.count], &error) < 0) {
			config_msg(msg, msglen, "'%.*s': %s", (int)(p - start),
			    start, error);
			return -1;
		}
		l.count++;
	}
	l.text = xstrdup(value);
	free(r->text);
	*r = l;
	return 0;
}

/* Parses [milter] listeners: "smtp", "submission", both, or "none". */
static int
config_milter_listeners_parse(const char *value, unsigned *r, char *msg,
    size_t msglen)
{
	const char *p = value;
	unsigned v = 0;

	for (;;) {
		const char *start;
		size_t len;

		while (*p != '\0' && config_listen_is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && !config_listen_is_sep(*p))
			p++;
		len = (size_t)(p - start);
		if (len == 4 && memcmp(start, "smtp", 4) == 0)
			v |= CONFIG_MILTER_SMTP;
		else if (len == 10 && memcmp(start, "submission", 10) == 0)
			v |= CONFIG_MILTER_SUBMISSION;
		else if (!(len == 4 && memcmp(start, "none", 4) == 0)) {
			config_msg(msg, msglen, "'%.*s': must be smtp, "
			    "submission or none", (int)len, start);
			return -1;
		}
	}
	*r = v;
	return 0;
}

/* Checks one "IP[@port]" forwarder of len bytes (not NUL-terminated). */
static int
config_resolver_check_item(const char *item, size_t len, const char **error_r)
{
	const char *at = memchr(item, '@', len);
	size_t host_len = at != NULL ? (size_t)(at - item) : len;
	char hostbuf[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct in_addr a4;
	uint64_t port;

	if (at != NULL && (config_digits_parse(at + 1, item + len, &port) < 0 ||
	    port < 1 || port > 65535)) {
		*error_r = "the port after '@' must be a number from 1 to 65535";
		return -1;
	}
	if (host_len == 0 || host_len >= sizeof(hostbuf)) {
		*error_r = "not a numeric IP address";
		return -1;
	}
	memcpy(hostbuf, item, host_len);
	hostbuf[host_len] = '\0';
	if (inet_pton(AF_INET, hostbuf, &a4) != 1 &&
	    inet_pton(AF_INET6, hostbuf, &a6) != 1) {
		*error_r = "not a numeric IP address (IP or IP@port; "
		    "host names and brackets are not allowed)";
		return -1;
	}
	return 0;
}

int
config_resolver_check(const char *value, const char **error_r)
{
	const char *p = value;
	size_t n = 0;

	for (;;) {
		const char *start;

		while (*p != '\0' && config_listen_is_sep(*p))
			p++;
		if (*p == '\0')
			return 0;
		start = p;
		while (*p != '\0' && !config_listen_is_sep(*p))
			p++;
		if (++n > CONFIG_RESOLVER_MAX) {
			*error_r = "too many forwarders (at most "
			    CONFIG_STR(CONFIG_RESOLVER_MAX) ")";
			return -1;
		}
		if (config_resolver_check_item(start, (size_t)(p - start),
		    error_r) < 0)
			return -1;
	}
}

static void
config_string_replace(char **fieldp, char *value)
{
	free(*fieldp);
	*fieldp = value;
}

/*
 * Parses a list of domain names separated by commas or spaces into a new
 * string of the names in lower case, without a trailing dot, separated by
 * one space (what config_domain_listed() reads). Returns it, or NULL with
 * the reason in msg.
 */
static char *
config_domains_parse(const char *value, char *msg, size_t msglen)
{
	size_t vlen = strlen(value), n = 0;
	char *out = xmalloc(vlen + 1), *name = xmalloc(vlen + 1);
	const char *p = value;

	for (;;) {
		const char *start;
		size_t len;

		while (*p != '\0' && config_listen_is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && !config_listen_is_sep(*p))
			p++;
		len = (size_t)(p - start);
		/* A fully qualified "example.com." is the same domain. */
		if (len > 1 && start[len - 1] == '.')
			len--;
		for (size_t i = 0; i < len; i++)
			name[i] = (char)tolower((unsigned char)start[i]);
		name[len] = '\0';
		if (!config_hostname_valid(name)) {
			config_msg(msg, msglen, "'%.*s' is not a valid domain "
			    "name", (int)(p - start), start);
			free(name);
			free(out);
			return NULL;
		}
		if (n > 0)
			out[n++] = ' ';
		memcpy(out + n, name, len);
		n += len;
	}
	out[n] = '\0';
	free(name);
	return out;
}

bool
config_domain_listed(const char *list, const char *domain)
{
	size_t dlen = strlen(domain);
	const char *p = list;

	if (dlen > 1 && domain[dlen - 1] == '.')
		dlen--;
	while (*p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t len = sp != NULL ? (size_t)(sp - p) : strlen(p);

		if (len == dlen && strncasecmp(p, domain, dlen) == 0)
			return true;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	return false;
}

/*
 * Checks value against key and stores it in config. Returns 0, or -1 with
 * the reason (without the key's name) in msg.
 */
static int
config_key_set(struct config *config, const struct config_key *key,
    const char *value, const char *base_dir, char *msg, size_t msglen)
{
	void *field = (char *)config + key->offset;
	char lo[32], hi[32];
	const char *error;
	uint64_t v;
	unsigned secs;

	switch (key->type) {
	case CONFIG_TYPE_STRING:
		config_string_replace(field, xstrdup(value));
		return 0;
	case CONFIG_TYPE_PATH:
		if (value[0] == '\0' || value[0] == '/')
			config_string_replace(field, xstrdup(value));
		else
			config_string_replace(field,
			    xasprintf("%s/%s", base_dir, value));
		return 0;
	case CONFIG_TYPE_RESOLVER:
		if (config_resolver_check(value, &error) < 0) {
			config_msg(msg, msglen, "'%s': %s", value, error);
			return -1;
		}
		config_string_replace(field, xstrdup(value));
		return 0;
	case CONFIG_TYPE_DOMAINS: {
		char *list = config_domains_parse(value, msg, msglen);

		if (list == NULL)
			return -1;
		config_string_replace(field, list);
		return 0;
	}
	case CONFIG_TYPE_HOSTNAME:
		if (!config_hostname_valid(value)) {
			config_msg(msg, msglen, "'%s' is not a valid domain "
			    "name", value);
			return -1;
		}
		config_string_replace(field, xstrdup(value));
		return 0;
	case CONFIG_TYPE_SIZE:
		if (config_size_parse(value, &v) < 0 ||
		    v < key->min || v > key->max) {
			config_size_format(key->min, lo, sizeof(lo));
			config_size_format(key->max, hi, sizeof(hi));
			config_msg(msg, msglen, "must be a size from %s to %s "
			    "(a number with an optional K, M or G suffix)",
			    lo, hi);
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	case CONFIG_TYPE_DURATION:
		if (config_duration_parse(value, &secs) < 0 ||
		    secs < key->min || secs > key->max) {
			config_duration_format(key->min, lo, sizeof(lo));
			config_duration_format(key->max, hi, sizeof(hi));
			config_msg(msg, msglen, "must be a duration from %s to "
			    "%s (a number with an optional s, m, h or d suffix)",
			    lo, hi);
			return -1;
		}
		*(unsigned *)field = secs;
		return 0;
	case CONFIG_TYPE_UINT:
		if (config_digits_parse(value, value + strlen(value), &v) < 0 ||
		    v < key->min || v > key->max) {
			config_msg(msg, msglen, "must be a number from %llu "
			    "to %llu", (unsigned long long)key->min,
			    (unsigned long long)key->max);
			return -1;
		}
		*(unsigned *)field = (unsigned)v;
		return 0;
	case CONFIG_TYPE_LISTEN: {
		struct config_listen *l = field, parsed;
		const char *item;
		size_t item_len;

		if (config_listen_parse_full(value, &parsed, &error, &item,
		    &item_len) < 0) {
			if (item != NULL)
				config_msg(msg, msglen, "'%.*s': %s",
				    (int)item_len, item, error);
			else
				config_msg(msg, msglen, "%s", error);
			return -1;
		}
		free(l->text);
		*l = parsed;
		return 0;
	}
	case CONFIG_TYPE_NUMBER: {
		char *end;
		double d;
		size_t i;

		/* Digits with at most one '.', no sign, no exponent. */
		for (i = 0; value[i] != '\0'; i++)
			if (!isdigit((unsigned char)value[i]) &&
			    value[i] != '.')
				break;
		errno = 0;
		d = value[i] == '\0' && i > 0 ? strtod(value, &end) : -1;
		if (errno != 0 || d < (double)key->min || d > (double)key->max ||
		    (value[0] != '\0' && *end != '\0')) {
			config_msg(msg, msglen, "must be a number from %llu "
			    "to %llu", (unsigned long long)key->min,
			    (unsigned long long)key->max);
			return -1;
		}
		*(double *)field = d;
		return 0;
	}
	case CONFIG_TYPE_SOCKETS:
		return config_sockets_parse(value, field, msg, msglen);
	case CONFIG_TYPE_ON_FAILURE:
		if (strcmp(value, "accept") == 0) {
			*(enum config_on_failure *)field =
			    CONFIG_ON_FAILURE_ACCEPT;
		} else if (strcmp(value, "tempfail") == 0) {
			*(enum config_on_failure *)field =
			    CONFIG_ON_FAILURE_TEMPFAIL;
		} else {
			config_msg(msg, msglen, "must be accept or tempfail");
			return -1;
		}
		return 0;
	case CONFIG_TYPE_MILTER_LISTENERS:
		return config_milter_listeners_parse(value, field, msg,
		    msglen);
	case CONFIG_TYPE_PLAINTEXT:
		if (strcmp(value, "no") == 0) {
			*(enum config_plaintext *)field = CONFIG_PLAINTEXT_NO;
		} else if (strcmp(value, "loopback") == 0) {
			*(enum config_plaintext *)field =
			    CONFIG_PLAINTEXT_LOOPBACK;
		} else {
			config_msg(msg, msglen, "must be no or loopback");
			return -1;
		}
		return 0;
	case CONFIG_TYPE_BOOL:
		if (strcmp(value, "yes") == 0) {
			*(bool *)field = true;
		} else if (strcmp(value, "no") == 0) {
			*(bool *)field = false;
		} else {
			config_msg(msg, msglen, "must be yes or no");
			return -1;
		}
		return 0;
	case CONFIG_TYPE_LOGLEVEL:
		if (log_level_parse(value, field) < 0) {
			config_msg(msg, msglen, "must be one of debug, info, "
			    "warning, error");
			return -1;
		}
		return 0;
	}
	abort();
}

/*
 * The line reader given to inih. Hands inih one line at a time with its
 * leading white space (and a UTF-8 BOM on line 1) removed, and checks
 * what inih cannot: line length, NUL bytes and section names. Returns
 * NULL at the end of the file or at the first error, which stops inih.
 */
static char *
config_parse_read(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	const char *s, *end;
	ssize_t n;
	size_t len, content;

	if (p->failed)
		return NULL;
	errno = 0;
	n = getline(&p->line, &p->line_cap, p->fp);
	if (n < 0) {
		if (ferror(p->fp)) {
			p->failed = true;
			p->error_line = INT_MAX;
			config_error_set("%s: cannot read: %s", p->path,
			    strerror(errno != 0 ? errno : EIO));
		}
		return NULL;
	}
	p->lineno++;
	len = (size_t)n;
	if (memchr(p->line, '\0', len) != NULL) {
		p->failed = true;
		p->error_line = p->lineno;
		config_error_set("%s:%d: NUL byte in line", p->path,
		    p->lineno);
		return NULL;
	}

	/* inih needs room for "\r\n\0" after the content of a line (ini.h). */
	content = len;
	if (content > 0 && p->line[content - 1] == '\n')
		content--;
	if (content > 0 && p->line[content - 1] == '\r')
		content--;
	if (num < 4 || content > (size_t)num - 3) {
		p->failed = true;
		p->error_line = p->lineno;
		config_error_set("%s:%d: line too long (at most %d characters)",
		    p->path, p->lineno, num - 3);
		return NULL;
	}

	s = p->line;
	if (p->lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (*s != '\0' && isspace((unsigned char)*s))
		s++;

	/* A "[section]" header: check the name here, so that an empty
	 * unknown section is caught and the error names the header's line. A
	 * '[' without ']' is left to inih, which reports a syntax error. */
	if (*s == '[') {
		end = strchr(s + 1, ']');
		p->section_line = p->lineno;
		if (end != NULL &&
		    !config_section_known(s + 1, (size_t)(end - s - 1))) {
			p->failed = true;
			p->error_line = p->lineno;
			config_error_set("%s:%d: unknown section [%.*s]",
			    p->path, p->lineno, (int)(end - s - 1), s + 1);
			return NULL;
		}
	}
	memcpy(str, s, len - (size_t)(s - p->line) + 1);
	return str;
}

/* The inih handler: called for each "key = value" line. */
static int
config_parse_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_parse *p = user;
	const struct config_key *key;
	char msg[CONFIG_VALUE_ERROR_MAX];
	size_t idx;

	if (p->failed)
		return 0;
	p->failed = true;
	p->error_line = p->lineno;
	if (section[0] == '\0') {
		config_error_set("%s:%d: key '%s' is not in a section",
		    p->path, p->lineno, name);
		return 0;
	}
	if (!config_section_known(section, strlen(section))) {
		/* The reader catches these already; kept as a safety net. */
		p->error_line = p->section_line;
		config_error_set("%s:%d: unknown section [%s]", p->path,
		    p->section_line, section);
		return 0;
	}
	key = config_key_lookup(section, name);
	if (key == NULL) {
		config_error_set("%s:%d: unknown key '%s' in [%s]", p->path,
		    p->lineno, name, section);
		return 0;
	}
	idx = (size_t)(key - config_keys);
	if (p->key_lines[idx] != 0) {
		config_error_set("%s:%d: duplicate key '%s' in [%s] "
		    "(first set on line %d)", p->path, p->lineno, name,
		    section, p->key_lines[idx]);
		return 0;
	}
	p->key_lines[idx] = p->lineno;
	if (config_key_set(p->config, key, value, p->base_dir, msg,
	    sizeof(msg)) < 0) {
		config_error_set("%s:%d: %s.%s: %s", p->path, p->lineno,
		    section, name, msg);
		return 0;
	}
	p->failed = false;
	p->error_line = 0;
	return 1;
}

/* Reads the file into config. Returns 0, or -1 with config_error_buf set. */
static int
config_load_file(struct config *config, const char *path, FILE *fp,
    const char *base_dir)
{
	struct config_parse p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.config = config;
	p.path = path;
	p.base_dir = base_dir;
	p.fp = fp;
	ret = ini_parse_stream(config_parse_read, &p, config_parse_handler, &p);
	free(p.line);

	/* inih returns the line of the first syntax error it saw; since our
	 * reader stops at our first error, an inih error on an earlier line
	 * is the first error of the file. */
	if (ret > 0 && (!p.failed || ret < p.error_line)) {
		config_error_set("%s:%d: syntax error (expected [section], "
		    "key = value or a comment)", path, ret);
		return -1;
	}
	if (p.failed)
		return -1;
	if (ret < 0) {
		config_error_set("%s: cannot parse (inih error %d)", path, ret);
		return -1;
	}
	return 0;
}

/* Applies one "section.key=value" override. */
static int
config_load_override(struct config *config, const char *o,
    const char *base_dir)
{
	const struct config_key *key;
	const char *eq, *dot;
	char msg[CONFIG_VALUE_ERROR_MAX];
	char *section, *name;
	int ret = -1;

	eq = strchr(o, '=');
	dot = eq == NULL ? NULL : memchr(o, '.', (size_t)(eq - o));
	if (eq == NULL || dot == NULL || dot == o || dot + 1 == eq) {
		config_error_set("-o %s: expected section.key=value", o);
		return -1;
	}
	section = xstrndup(o, (size_t)(dot - o));
	name = xstrndup(dot + 1, (size_t)(eq - dot - 1));
	if (!config_section_known(section, strlen(section)))
		config_error_set("-o %s: unknown section [%s]", o, section);
	else if ((key = config_key_lookup(section, name)) == NULL)
		config_error_set("-o %s: unknown key '%s' in [%s]", o, name,
		    section);
	else if (config_key_set(config, key, eq + 1, base_dir, msg,
	    sizeof(msg)) < 0)
		config_error_set("-o %s: %s.%s: %s", o, section, name, msg);
	else
		ret = 0;
	free(section);
	free(name);
	return ret;
}

/* The checks that need the whole config, after the file and overrides. */
static int
config_load_finish(struct config *config, const char *path)
{
	char host[CONFIG_HOSTNAME_MAX + 2];

	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_key *key = &config_keys[i];
		char **fieldp = (char **)((char *)config + key->offset);

		if ((key->flags & CONFIG_KEY_REQUIRED) != 0 &&
		    (*fieldp == NULL || **fieldp == '\0')) {
			config_error_set("%s: %s.%s is required", path,
			    key->section, key->name);
			return -1;
		}
	}

	if (config->hostname == NULL) {
		/* gethostname() may truncate without NUL-terminating. */
		memset(host, 0, sizeof(host));
		if (gethostname(host, sizeof(host) - 1) < 0) {
			config_error_set("%s: server.hostname is not set and "
			    "gethostname() failed: %s", path, strerror(errno));
			return -1;
		}
		if (!config_hostname_valid(host)) {
			config_error_set("%s: server.hostname is not set and "
			    "the machine's host name '%s' is not a valid "
			    "domain name", path, host);
			return -1;
		}
		config->hostname = xstrdup(host);
	}

	if ((config->tls_cert[0] == '\0') != (config->tls_key[0] == '\0')) {
		config_error_set("%s: tls.cert and tls.key must be set "
		    "together", path);
		return -1;
	}
	/* Checked here so that a typo stops the start, not each delivery
	 * to a listed domain; smtp_client_verify_ctx_new() reads the file. */
	if (config->queue_tls_ca_file[0] != '\0' &&
	    access(config->queue_tls_ca_file, R_OK) < 0) {
		config_error_set("%s: queue.tls_ca_file '%s': %s", path,
		    config->queue_tls_ca_file, strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns the absolute directory of path, or NULL with errno set. */
static char *
config_base_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	abs = realpath(dir, NULL);
	free(dir);
	return abs;
}

int
config_load(const char *path, const char *const *overrides, size_t n_overrides,
    struct config **config_r, const char **error_r)
{
	struct config *config;
	const char *base;
	char msg[CONFIG_VALUE_ERROR_MAX];
	char *base_dir;
	FILE *fp;

	*config_r = NULL;
	*error_r = config_error_buf;
	config_error_buf[0] = '\0';

	fp = fopen(path, "re");
	if (fp == NULL) {
		config_error_set("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	base_dir = config_base_dir(path);
	if (base_dir == NULL) {
		config_error_set("%s: cannot resolve the file's directory: %s",
		    path, strerror(errno));
		fclose(fp);
		return -1;
	}

	config = xcalloc(1, sizeof(*config));
	/* Absolute, so that the file can be found again after chdir(). */
	base = strrchr(path, '/');
	config->path = xasprintf("%s/%s", strcmp(base_dir, "/") == 0 ? "" :
	    base_dir, base == NULL ? path : base + 1);

	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_key *key = &config_keys[i];

		if (key->default_value == NULL)
			continue;
		/* A default that fails its own check is a bug in the table. */
		if (config_key_set(config, key, key->default_value, base_dir,
		    msg, sizeof(msg)) < 0)
			abort();
	}

	if (config_load_file(config, path, fp, base_dir) < 0)
		goto fail;
	for (size_t i = 0; i < n_overrides; i++) {
		if (config_load_override(config, overrides[i], base_dir) < 0)
			goto fail;
	}
	if (config_load_finish(config, path) < 0)
		goto fail;

	fclose(fp);
	free(base_dir);
	*config_r = config;
	return 0;

fail:
	fclose(fp);
	free(base_dir);
	config_free(&config);
	return -1;
}

void
config_free(struct config **configp)
{
	struct config *config = *configp;

	if (config == NULL)
		return;
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_key *key = &config_keys[i];
		void *field = (char *)config + key->offset;

		switch (key->type) {
		case CONFIG_TYPE_STRING:
		case CONFIG_TYPE_PATH:
		case CONFIG_TYPE_HOSTNAME:
		case CONFIG_TYPE_RESOLVER:
		case CONFIG_TYPE_DOMAINS:
			free(*(char **)field);
			break;
		case CONFIG_TYPE_LISTEN:
			free(((struct config_listen *)field)->text);
			break;
		case CONFIG_TYPE_SOCKETS:
			free(((struct config_sockets *)field)->text);
			break;
		case CONFIG_TYPE_ON_FAILURE:
		case CONFIG_TYPE_MILTER_LISTENERS:
			break;
		case CONFIG_TYPE_SIZE:
		case CONFIG_TYPE_DURATION:
		case CONFIG_TYPE_UINT:
		case CONFIG_TYPE_NUMBER:
		case CONFIG_TYPE_LOGLEVEL:
		case CONFIG_TYPE_PLAINTEXT:
		case CONFIG_TYPE_BOOL:
			break;
		}
	}
	free(config->path);
	free(config);
	*configp = NULL;
}
