/*
 * test_config.c - unit tests of the configuration loader (core/config.c).
 *
 * Each test writes a config file into a fresh mkdtemp() directory, loads
 * it, and checks either the values or the exact error message, including
 * its "FILE:LINE: " prefix. The listen, size and duration parsers are also
 * tested directly, with every limit at max-1, max and max+1.
 *
 * SECURITY: test code; the inputs are ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <ini.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

struct fixture {
	char dir[64];		/* as made by mkdtemp */
	char *real_dir;		/* realpath() of dir */
	char path[PATH_MAX];	/* dir/correio.ini */
	char expected[PATH_MAX + 1024];
	struct config *config;
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
	int n;

	if (fx == NULL)
		return -1;
	n = snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_config.XXXXXX");
	if (n < 0 || (size_t)n >= sizeof(fx->dir))
		return -1;
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->real_dir = realpath(fx->dir, NULL);
	if (fx->real_dir == NULL)
		return -1;
	n = snprintf(fx->path, sizeof(fx->path), "%s/correio.ini", fx->dir);
	if (n < 0 || (size_t)n >= sizeof(fx->path))
		return -1;
	*state = fx;
	return 0;
}

static int
test_teardown(void **state)
{
	struct fixture *fx = *state;

	config_free(&fx->config);
	if (nftw(fx->dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return -1;
	free(fx->real_dir);
	free(fx);
	return 0;
}

static void
test_write_len(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
test_write(const char *path, const char *text)
{
	test_write_len(path, text, strlen(text));
}

/* Writes text as the config file and loads it. */
static int
test_load(struct fixture *fx, const char *text, const char *const *overrides,
    size_t n_overrides, const char **error_r)
{
	config_free(&fx->config);
	test_write(fx->path, text);
	return config_load(fx->path, overrides, n_overrides, &fx->config,
	    error_r);
}

static const char *
test_expect(struct fixture *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns fx->path followed by the formatted text. */
static const char *
test_expect(struct fixture *fx, const char *fmt, ...)
{
	size_t off = strlen(fx->path);
	va_list ap;
	int n;

	memcpy(fx->expected, fx->path, off);
	va_start(ap, fmt);
	n = vsnprintf(fx->expected + off, sizeof(fx->expected) - off, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(fx->expected) - off);
	return fx->expected;
}

/* Loads text, which must fail with fx->path followed by suffix. */
static void
test_load_fails(struct fixture *fx, const char *text, const char *suffix)
{
	const char *error = NULL;

	assert_int_equal(test_load(fx, text, NULL, 0, &error), -1);
	assert_null(fx->config);
	assert_non_null(error);
	assert_string_equal(error, test_expect(fx, "%s", suffix));
}

/* Loads text with one override, which must fail with exactly message. */
static void
test_override_fails(struct fixture *fx, const char *text, const char *o,
    const char *message)
{
	const char *error = NULL;

	assert_int_equal(test_load(fx, text, &o, 1, &error), -1);
	assert_null(fx->config);
	assert_string_equal(error, message);
}

static void
test_check_addr(const struct config_listen *l, size_t i, const char *addr,
    unsigned port)
{
	const struct sockaddr_storage *ss;
	char buf[INET6_ADDRSTRLEN];

	assert_true(i < l->count);
	ss = &l->addrs[i];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		assert_int_equal(l->addr_lens[i], sizeof(*sin));
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf,
		    sizeof(buf)));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		assert_int_equal(ss->ss_family, AF_INET6);
		assert_int_equal(l->addr_lens[i], sizeof(*sin6));
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
		    sizeof(buf)));
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_string_equal(buf, addr);
}

#define MINIMAL "[server]\ndata_dir = /var/lib/correio\n"

/* --- whole files ------------------------------------------------------ */

static void
test_load_full(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	struct config *c;

	assert_int_equal(test_load(fx,
	    "; Correio test config\n"
	    "# every key set\n"
	    "[server]\n"
	    "hostname = mx.example.org\n"
	    "data_dir = /var/lib/correio\n"
	    "user = correio\n"
	    "max_message_size = 10M\n"
	    "\n"
	    "[smtp]\n"
	    "listen = 127.0.0.1:2525, [::1]:2525\n"
	    "max_recipients = 50\n"
	    "max_errors = 5\n"
	    "max_sessions = 200\n"
	    "timeout = 5m\n"
	    "data_timeout = 1h\n"
	    "[submission]\n"
	    "listen = 127.0.0.1:587\n"
	    "[submissions]\n"
	    "listen = 127.0.0.2:465\n"
	    "[imap]\n"
	    "listen = *:143\n"
	    "[imaps]\n"
	    "listen = [::]:993\n"
	    "[pop3]\n"
	    "listen = 127.0.0.1:110\n"
	    "allow_plaintext = loopback\n"
	    "max_sessions = 300\n"
	    "login_timeout = 30s\n"
	    "timeout = 1h\n"
	    "[pop3s]\n"
	    "listen = [2001:db8::1]:995\n"
	    "[tls]\n"
	    "cert = /etc/ssl/cert.pem\n"
	    "key = /etc/ssl/key.pem\n"
	    "[log]\n"
	    "level = debug\n", NULL, 0, &error), 0);
	c = fx->config;
	assert_non_null(c);
	assert_string_equal(c->path, test_expect(fx, "%s", ""));
	assert_string_equal(c->hostname, "mx.example.org");
	assert_string_equal(c->data_dir, "/var/lib/correio");
	assert_string_equal(c->user, "correio");
	assert_int_equal(c->max_message_size, 10 * 1024 * 1024);

	assert_int_equal(c->smtp_listen.count, 2);
	assert_string_equal(c->smtp_listen.text, "127.0.0.1:2525, [::1]:2525");
	test_check_addr(&c->smtp_listen, 0, "127.0.0.1", 2525);
	test_check_addr(&c->smtp_listen, 1, "::1", 2525);
	assert_int_equal(c->smtp_max_recipients, 50);
	assert_int_equal(c->smtp_max_errors, 5);
	assert_int_equal(c->smtp_max_sessions, 200);
	assert_int_equal(c->smtp_timeout, 300);
	assert_int_equal(c->smtp_data_timeout, 3600);

	assert_int_equal(c->submission_listen.count, 1);
	test_check_addr(&c->submission_listen, 0, "127.0.0.1", 587);
	assert_int_equal(c->submissions_listen.count, 1);
	test_check_addr(&c->submissions_listen, 0, "127.0.0.2", 465);
	assert_int_equal(c->imap_listen.count, 2);
	test_check_addr(&c->imap_listen, 0, "0.0.0.0", 143);
	test_check_addr(&c->imap_listen, 1, "::", 143);
	assert_int_equal(c->imaps_listen.count, 1);
	test_check_addr(&c->imaps_listen, 0, "::", 993);
	assert_int_equal(c->pop3_listen.count, 1);
	test_check_addr(&c->pop3_listen, 0, "127.0.0.1", 110);
	assert_int_equal(c->pop3_allow_plaintext, CONFIG_PLAINTEXT_LOOPBACK);
	assert_int_equal(c->pop3_max_sessions, 300);
	assert_int_equal(c->pop3_login_timeout, 30);
	assert_int_equal(c->pop3_timeout, 3600);
	assert_int_equal(c->pop3s_listen.count, 1);
	test_check_addr(&c->pop3s_listen, 0, "2001:db8::1", 995);

	assert_string_equal(c->tls_cert, "/etc/ssl/cert.pem");
	assert_string_equal(c->tls_key, "/etc/ssl/key.pem");
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);

	config_free(&fx->config);
	assert_null(fx->config);
	config_free(&fx->config);	/* freeing NULL is fine */
}

static void
test_load_defaults(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	char host[256];
	struct config *c;

	assert_int_equal(test_load(fx, MINIMAL, NULL, 0, &error), 0);
	c = fx->config;
	memset(host, 0, sizeof(host));
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_string_equal(c->hostname, host);
	assert_string_equal(c->data_dir, "/var/lib/correio");
	assert_string_equal(c->user, "");
	assert_int_equal(c->max_message_size, 25 * 1024 * 1024);
	assert_int_equal(c->max_buffered, 512ULL * 1024 * 1024);
	assert_int_equal(c->smtp_listen.count, 0);
	assert_string_equal(c->smtp_listen.text, "");
	assert_int_equal(c->smtp_max_recipients, 100);
	assert_int_equal(c->smtp_max_errors, 10);
	assert_int_equal(c->smtp_max_sessions, 1000);
	assert_int_equal(c->smtp_timeout, 300);
	assert_int_equal(c->smtp_data_timeout, 600);
	assert_int_equal(c->submission_listen.count, 0);
	assert_int_equal(c->submissions_listen.count, 0);
	assert_int_equal(c->imap_listen.count, 0);
	assert_int_equal(c->imaps_listen.count, 0);
	assert_int_equal(c->pop3_listen.count, 0);
	assert_int_equal(c->pop3_allow_plaintext, CONFIG_PLAINTEXT_NO);
	assert_int_equal(c->pop3_max_sessions, 10000);
	assert_int_equal(c->pop3_login_timeout, 60);
	assert_int_equal(c->pop3_timeout, 600);
	assert_int_equal(c->pop3s_listen.count, 0);
	assert_non_null(c->pop3s_listen.text);
	assert_string_equal(c->tls_cert, "");
	assert_string_equal(c->tls_key, "");
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
}

/* Comments, indentation, CRLF, a BOM, blank values and inline comments. */
static void
test_load_syntax_variants(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	struct config *c;

	assert_int_equal(test_load(fx,
	    "\xEF\xBB\xBF; a BOM first\r\n"
	    "[server]\r\n"
	    "    data_dir = /srv/mail\r\n"
	    "    user =\r\n"
	    "\t hostname = a-b.example ; inline comment\r\n"
	    "  # comment\r\n"
	    "  [smtp]\n"
	    "\tmax_errors = 7\n"
	    "\tmax_sessions: 8\n"
	    "\tlisten = \n"
	    "[tls]\n"
	    "cert=c.pem\n"
	    "key=k.pem", NULL, 0, &error), 0);
	c = fx->config;
	assert_string_equal(c->data_dir, "/srv/mail");
	assert_string_equal(c->user, "");
	assert_string_equal(c->hostname, "a-b.example");
	assert_int_equal(c->smtp_max_errors, 7);
	assert_int_equal(c->smtp_max_sessions, 8);
	assert_int_equal(c->smtp_listen.count, 0);
	/* the last line has no newline and is still read */
	assert_non_null(strstr(c->tls_key, "/k.pem"));
}

/* --- errors in the file ----------------------------------------------- */

static void
test_error_unknown_section(void **state)
{
	struct fixture *fx = *state;

	test_load_fails(fx, MINIMAL "\n[smpt]\nlisten = 127.0.0.1:25\n",
	    ":4: unknown section [smpt]");
	/* an empty unknown section is caught too, at its header */
	test_load_fails(fx, MINIMAL "[extra]\n; nothing\n",
	    ":3: unknown section [extra]");
	/* section names are case-sensitive */
	test_load_fails(fx, "[Server]\ndata_dir = /d\n",
	    ":1: unknown section [Server]");
	test_load_fails(fx, "data_dir = /d\n",
	    ":1: key 'data_dir' is not in a section");
}

static void
test_error_unknown_key(void **state)
{
	struct fixture *fx = *state;

	test_load_fails(fx, MINIMAL "[smtp]\nlsten = 127.0.0.1:25\n",
	    ":4: unknown key 'lsten' in [smtp]");
	/* a key of another section */
	test_load_fails(fx, MINIMAL "[imap]\nmax_errors = 3\n",
	    ":4: unknown key 'max_errors' in [imap]");
}

static void
test_error_duplicate_key(void **state)
{
	struct fixture *fx = *state;

	test_load_fails(fx, "[server]\ndata_dir = /a\nuser = x\n"
	    "data_dir = /b\n",
	    ":4: duplicate key 'data_dir' in [server] (first set on line 2)");
	/* also when the section is opened a second time */
	test_load_fails(fx, "[smtp]\nmax_errors = 1\n" MINIMAL
	    "[smtp]\nmax_errors = 2\n",
	    ":6: duplicate key 'max_errors' in [smtp] (first set on line 2)");
	/* the same key name in two sections is two keys */
	assert_int_equal(test_load(fx, MINIMAL "[imap]\nlisten = *:143\n"
	    "[pop3]\nlisten = *:110\n", NULL, 0, &(const char *){ NULL }), 0);
}

static void
test_error_numbers(void **state)
{
	struct fixture *fx = *state;
	const char *msg = ":4: smtp.max_recipients: must be a number from 1 to "
	    "10000";
	const char *error = NULL;

	test_load_fails(fx, MINIMAL "[smtp]\nmax_recipients = ten\n", msg);
	test_load_fails(fx, MINIMAL "[smtp]\nmax_recipients = -1\n", msg);
	test_load_fails(fx, MINIMAL "[smtp]\nmax_recipients = +5\n", msg);
	test_load_fails(fx, MINIMAL "[smtp]\nmax_recipients = 5 # no\n", msg);
	test_load_fails(fx, MINIMAL "[smtp]\nmax_recipients = \n", msg);
	test_load_fails(fx, MINIMAL "[smtp]\nmax_recipients = "
	    "99999999999999999999999\n", msg);
	/* min-1, min, max, max+1 */
	test_load_fails(fx, MINIMAL "[smtp]\nmax_recipients = 0\n", msg);
	assert_int_equal(test_load(fx, MINIMAL "[smtp]\nmax_recipients = 1\n",
	    NULL, 0, &error), 0);
	assert_int_equal(fx->config->smtp_max_recipients, 1);
	assert_int_equal(test_load(fx, MINIMAL
	    "[smtp]\nmax_recipients = 10000\n", NULL, 0, &error), 0);
	assert_int_equal(fx->config->smtp_max_recipients, 10000);
	test_load_fails(fx, MINIMAL "[smtp]\nmax_recipients = 10001\n", msg);

	test_load_fails(fx, MINIMAL "[smtp]\nmax_errors = 1001\n",
	    ":4: smtp.max_errors: must be a number from 1 to 1000");
	test_load_fails(fx, MINIMAL "[smtp]\nmax_sessions = 100001\n",
	    ":4: smtp.max_sessions: must be a number from 1 to 100000");
	assert_int_equal(test_load(fx, MINIMAL
	    "[smtp]\nmax_sessions = 100000\nmax_errors = 1000\n",
	    NULL, 0, &error), 0);
	assert_int_equal(fx->config->smtp_max_sessions, 100000);
	assert_int_equal(fx->config->smtp_max_errors, 1000);
}

static void
test_error_sizes_durations(void **state)
{
	struct fixture *fx = *state;
	const char *size_msg = ":3: server.max_message_size: must be a size "
	    "from 1K to 1G (a number with an optional K, M or G suffix)";
	const char *error = NULL;

	test_load_fails(fx, MINIMAL "max_message_size = 1023\n", size_msg);
	test_load_fails(fx, MINIMAL "max_message_size = 1025M\n", size_msg);
	test_load_fails(fx, MINIMAL "max_message_size = 1073741825\n",
	    size_msg);
	test_load_fails(fx, MINIMAL "max_message_size = 10 MB\n", size_msg);
	assert_int_equal(test_load(fx, MINIMAL "max_message_size = 1K\n",
	    NULL, 0, &error), 0);
	assert_int_equal(fx->config->max_message_size, 1024);
	assert_int_equal(test_load(fx, MINIMAL "max_message_size = 1G\n",
	    NULL, 0, &error), 0);
	assert_int_equal(fx->config->max_message_size, 1024 * 1024 * 1024);

	test_load_fails(fx, MINIMAL "[smtp]\ntimeout = 0\n",
	    ":4: smtp.timeout: must be a duration from 1s to 1h "
	    "(a number with an optional s, m, h or d suffix)");
	test_load_fails(fx, MINIMAL "[smtp]\ntimeout = 3601\n",
	    ":4: smtp.timeout: must be a duration from 1s to 1h "
	    "(a number with an optional s, m, h or d suffix)");
	test_load_fails(fx, MINIMAL "[smtp]\ndata_timeout = 121m\n",
	    ":4: smtp.data_timeout: must be a duration from 1s to 2h "
	    "(a number with an optional s, m, h or d suffix)");
	test_load_fails(fx, MINIMAL "[smtp]\ndata_timeout = 1d\n",
	    ":4: smtp.data_timeout: must be a duration from 1s to 2h "
	    "(a number with an optional s, m, h or d suffix)");
	assert_int_equal(test_load(fx, MINIMAL
	    "[smtp]\ntimeout = 1h\ndata_timeout = 120m\n", NULL, 0, &error), 0);
	assert_int_equal(fx->config->smtp_timeout, 3600);
	assert_int_equal(fx->config->smtp_data_timeout, 7200);
	assert_int_equal(test_load(fx, MINIMAL
	    "[smtp]\ntimeout = 1s\ndata_timeout = 1\n", NULL, 0, &error), 0);
	assert_int_equal(fx->config->smtp_timeout, 1);
	assert_int_equal(fx->config->smtp_data_timeout, 1);
}

/* [quarantine]: durations in days, and the digest hour. */
static void
test_quarantine_keys(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;

	assert_int_equal(test_load(fx, MINIMAL, NULL, 0, &error), 0);
	assert_int_equal(fx->config->quarantine_retention, 30 * 86400);
	assert_int_equal(fx->config->quarantine_expire_interval, 3600);
	assert_true(fx->config->quarantine_digest);
	assert_int_equal(fx->config->quarantine_digest_time, 8);
	assert_int_equal(test_load(fx, MINIMAL "[quarantine]\nretention = 2d\n"
	    "digest = no\ndigest_time = 23\nexpire_interval = 1s\n", NULL, 0,
	    &error), 0);
	assert_int_equal(fx->config->quarantine_retention, 2 * 86400);
	assert_false(fx->config->quarantine_digest);
	assert_int_equal(fx->config->quarantine_digest_time, 23);
	assert_int_equal(fx->config->quarantine_expire_interval, 1);
	assert_int_equal(test_load(fx, MINIMAL
	    "[quarantine]\nretention = 3650d\n", NULL, 0, &error), 0);
	assert_int_equal(fx->config->quarantine_retention, 3650 * 86400U);
	test_load_fails(fx, MINIMAL "[quarantine]\nretention = 3651d\n",
	    ":4: quarantine.retention: must be a duration from 1m to 3650d "
	    "(a number with an optional s, m, h or d suffix)");
	test_load_fails(fx, MINIMAL "[quarantine]\nretention = 59\n",
	    ":4: quarantine.retention: must be a duration from 1m to 3650d "
	    "(a number with an optional s, m, h or d suffix)");
	test_load_fails(fx, MINIMAL "[quarantine]\nexpire_interval = 2d\n",
	    ":4: quarantine.expire_interval: must be a duration from 1s to "
	    "24h (a number with an optional s, m, h or d suffix)");
	test_load_fails(fx, MINIMAL "[quarantine]\ndigest_time = 24\n",
	    ":4: quarantine.digest_time: must be a number from 0 to 23");
}

static void
test_error_listen_loglevel_hostname(void **state)
{
	struct fixture *fx = *state;

	test_load_fails(fx, MINIMAL "[smtp]\nlisten = 127.0.0.1:0\n",
	    ":4: smtp.listen: '127.0.0.1:0': the port must be a number from "
	    "1 to 65535");
	test_load_fails(fx, MINIMAL "[imaps]\nlisten = *:993, localhost:993\n",
	    ":4: imaps.listen: 'localhost:993': not a numeric IPv4 address "
	    "(host names are not allowed)");
	test_load_fails(fx, MINIMAL "[pop3]\nlisten = 127.0.0.1\n",
	    ":4: pop3.listen: '127.0.0.1': missing ':port' after the address");
	/* RFC 1939 3: the autologout timer is at least 10 minutes */
	test_load_fails(fx, MINIMAL "[pop3]\ntimeout = 9m\n",
	    ":4: pop3.timeout: must be a duration from 10m to 24h (a number "
	    "with an optional s, m, h or d suffix)");
	test_load_fails(fx, MINIMAL "[pop3]\nallow_plaintext = yes\n",
	    ":4: pop3.allow_plaintext: must be no or loopback");
	test_load_fails(fx, MINIMAL "[log]\nlevel = verbose\n",
	    ":4: log.level: must be one of debug, info, warning, error");
	test_load_fails(fx, MINIMAL "[log]\nlevel = INFO\n",
	    ":4: log.level: must be one of debug, info, warning, error");
	test_load_fails(fx, MINIMAL "hostname = -mx.example.org\n",
	    ":3: server.hostname: '-mx.example.org' is not a valid domain "
	    "name");
	test_load_fails(fx, MINIMAL "hostname = mx..example.org\n",
	    ":3: server.hostname: 'mx..example.org' is not a valid domain "
	    "name");
	test_load_fails(fx, MINIMAL "hostname = mx_1.example.org\n",
	    ":3: server.hostname: 'mx_1.example.org' is not a valid domain "
	    "name");
	test_load_fails(fx, MINIMAL "hostname = mx.example.org.\n",
	    ":3: server.hostname: 'mx.example.org.' is not a valid domain "
	    "name");
	test_load_fails(fx, MINIMAL "hostname =\n",
	    ":3: server.hostname: '' is not a valid domain name");
}

static void
test_error_hostname_limits(void **state)
{
	struct fixture *fx = *state;
	char label63[64], label64[65], name[400], text[600];
	const char *error = NULL;
	int n;

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';

	n = snprintf(text, sizeof(text), MINIMAL "hostname = %s.example\n",
	    label63);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	assert_int_equal(test_load(fx, text, NULL, 0, &error), 0);

	n = snprintf(text, sizeof(text), MINIMAL "hostname = %s.example\n",
	    label64);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	n = snprintf(name, sizeof(name), ":3: server.hostname: '%s.example' "
	    "is not a valid domain name", label64);
	assert_true(n > 0 && (size_t)n < sizeof(name));
	test_load_fails(fx, text, name);

	/* a name of 253 characters (max) and 254 (max+1), via -o since
	 * such a line does not fit inih's line buffer */
	for (size_t len = 252; len <= 254; len++) {
		char o[300];
		const char *op = o;
		size_t i;

		n = snprintf(o, sizeof(o), "server.hostname=");
		assert_true(n > 0);
		for (i = 0; i < len; i++)
			o[(size_t)n + i] = (i % 4 == 3) ? '.' : 'a';
		o[(size_t)n + len] = '\0';
		if (o[(size_t)n + len - 1] == '.')
			o[(size_t)n + len - 1] = 'b';
		config_free(&fx->config);
		test_write(fx->path, MINIMAL);
		assert_int_equal(config_load(fx->path, &op, 1, &fx->config,
		    &error), len <= 253 ? 0 : -1);
	}
}

static void
test_error_required_and_tls(void **state)
{
	struct fixture *fx = *state;

	test_load_fails(fx, "[smtp]\nmax_errors = 3\n",
	    ": server.data_dir is required");
	test_load_fails(fx, "", ": server.data_dir is required");
	test_load_fails(fx, "[server]\ndata_dir =\n",
	    ": server.data_dir is required");
	test_load_fails(fx, MINIMAL "[tls]\ncert = /c.pem\n",
	    ": tls.cert and tls.key must be set together");
	test_load_fails(fx, MINIMAL "[tls]\nkey = /k.pem\n",
	    ": tls.cert and tls.key must be set together");
}

static void
test_error_syntax(void **state)
{
	struct fixture *fx = *state;
	const char *syntax = "syntax error (expected [section], key = value "
	    "or a comment)";
	char suffix[128];
	int n;

	n = snprintf(suffix, sizeof(suffix), ":4: %s", syntax);
	assert_true(n > 0 && (size_t)n < sizeof(suffix));
	test_load_fails(fx, MINIMAL "\nthis is not a key\n", suffix);
	test_load_fails(fx, MINIMAL "\n[smtp\nmax_errors = 1\n", suffix);

	/* the first error wins, whichever kind it is */
	n = snprintf(suffix, sizeof(suffix), ":2: %s", syntax);
	assert_true(n > 0 && (size_t)n < sizeof(suffix));
	test_load_fails(fx, "[server]\ngarbage\nfoo = 1\n", suffix);
	test_load_fails(fx, "[server]\nfoo = 1\ngarbage\n",
	    ":2: unknown key 'foo' in [server]");
	test_load_fails(fx, "[server]\n[smtp\nfoo = 1\n", suffix);
}

static void
test_error_line_limits(void **state)
{
	struct fixture *fx = *state;
	const int max = INI_MAX_LINE - 3;	/* characters per line */
	char text[INI_MAX_LINE * 2], suffix[128];
	const char *error = NULL;
	size_t off;
	int n;

	/* a "data_dir = /xxx" line of max-1, max and max+1 characters */
	for (int len = max - 1; len <= max + 1; len++) {
		n = snprintf(text, sizeof(text), "[server]\ndata_dir = /");
		assert_true(n > 0);
		off = (size_t)n;
		memset(text + off, 'x', (size_t)len - strlen("data_dir = /"));
		off += (size_t)len - strlen("data_dir = /");
		memcpy(text + off, "\n[smtp]\n", sizeof("\n[smtp]\n"));
		if (len <= max) {
			assert_int_equal(test_load(fx, text, NULL, 0, &error),
			    0);
			assert_int_equal(strlen(fx->config->data_dir),
			    (size_t)len - strlen("data_dir = "));
		} else {
			n = snprintf(suffix, sizeof(suffix), ":2: line too "
			    "long (at most %d characters)", max);
			assert_true(n > 0 && (size_t)n < sizeof(suffix));
			test_load_fails(fx, text, suffix);
		}
	}

	/* a NUL byte is not silently taken as the end of the line */
	config_free(&fx->config);
	test_write_len(fx->path, MINIMAL "user = a\0b\n",
	    sizeof(MINIMAL "user = a\0b\n") - 1);
	assert_int_equal(config_load(fx->path, NULL, 0, &fx->config, &error),
	    -1);
	assert_string_equal(error, test_expect(fx, ":3: NUL byte in line"));
}

static void
test_error_cannot_open(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX + 64], expected[PATH_MAX + 128];
	const char *error = NULL;
	struct config *c;
	int n;

	n = snprintf(path, sizeof(path), "%s/missing.ini", fx->dir);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	c = (struct config *)&n;	/* must be set to NULL */
	assert_int_equal(config_load(path, NULL, 0, &c, &error), -1);
	assert_null(c);
	n = snprintf(expected, sizeof(expected), "%s: cannot open: %s", path,
	    strerror(ENOENT));
	assert_true(n > 0 && (size_t)n < sizeof(expected));
	assert_string_equal(error, expected);
}

/* --- overrides -------------------------------------------------------- */

static void
test_overrides(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	const char *const ov[] = {
		"smtp.max_recipients=7",
		"smtp.listen=127.0.0.1:3000",
		"log.level=error",
		"smtp.max_recipients=8",	/* the later one wins */
		"server.user=",
	};

	assert_int_equal(test_load(fx, MINIMAL "user = correio\n"
	    "[smtp]\nmax_recipients = 50\nlisten = 127.0.0.1:25\n",
	    ov, sizeof(ov) / sizeof(ov[0]), &error), 0);
	assert_int_equal(fx->config->smtp_max_recipients, 8);
	assert_int_equal(fx->config->smtp_listen.count, 1);
	test_check_addr(&fx->config->smtp_listen, 0, "127.0.0.1", 3000);
	assert_string_equal(fx->config->smtp_listen.text, "127.0.0.1:3000");
	assert_int_equal(fx->config->log_level, LOG_LEVEL_ERROR);
	assert_string_equal(fx->config->user, "");

	/* an override can supply the required data_dir */
	{
		const char *o = "server.data_dir=/srv/x";

		assert_int_equal(test_load(fx, "[smtp]\n", &o, 1, &error), 0);
		assert_string_equal(fx->config->data_dir, "/srv/x");
	}
	/* ... and can turn a listener off */
	{
		const char *o = "smtp.listen=";

		assert_int_equal(test_load(fx, MINIMAL "[smtp]\n"
		    "listen = *:25\n", &o, 1, &error), 0);
		assert_int_equal(fx->config->smtp_listen.count, 0);
	}
}

static void
test_overrides_errors(void **state)
{
	struct fixture *fx = *state;

	test_override_fails(fx, MINIMAL, "smtp.max_recipients=0",
	    "-o smtp.max_recipients=0: smtp.max_recipients: must be a number "
	    "from 1 to 10000");
	test_override_fails(fx, MINIMAL, "smtp.listen=example.com:25",
	    "-o smtp.listen=example.com:25: smtp.listen: 'example.com:25': "
	    "not a numeric IPv4 address (host names are not allowed)");
	test_override_fails(fx, MINIMAL, "smtp.max_recipients",
	    "-o smtp.max_recipients: expected section.key=value");
	test_override_fails(fx, MINIMAL, "max_recipients=5",
	    "-o max_recipients=5: expected section.key=value");
	test_override_fails(fx, MINIMAL, ".listen=5",
	    "-o .listen=5: expected section.key=value");
	test_override_fails(fx, MINIMAL, "smtp.=5",
	    "-o smtp.=5: expected section.key=value");
	test_override_fails(fx, MINIMAL, "smtp.nope=1",
	    "-o smtp.nope=1: unknown key 'nope' in [smtp]");
	test_override_fails(fx, MINIMAL, "smpt.listen=*:25",
	    "-o smpt.listen=*:25: unknown section [smpt]");
	/* the value may contain '.' and '=' */
	test_override_fails(fx, MINIMAL, "server.hostname=a=b.example",
	    "-o server.hostname=a=b.example: server.hostname: 'a=b.example' "
	    "is not a valid domain name");
	/* a pair check sees the overrides too */
	test_override_fails(fx, MINIMAL, "tls.cert=/c.pem",
	    test_expect(fx, ": tls.cert and tls.key must be set together"));
	/* an error in the file comes first */
	test_override_fails(fx, MINIMAL "bogus = 1\n", "smtp.nope=1",
	    test_expect(fx, ":3: unknown key 'bogus' in [server]"));
}

/* --- paths ------------------------------------------------------------ */

static void
test_relative_paths(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	char expected[PATH_MAX + 64], sub[PATH_MAX + 64], cwd[PATH_MAX];
	const char *o = "tls.key=keys/o.pem";
	int n;

	assert_int_equal(test_load(fx, "[server]\ndata_dir = data\n"
	    "[tls]\ncert = /etc/ssl/cert.pem\nkey = ../key.pem\n",
	    NULL, 0, &error), 0);
	n = snprintf(expected, sizeof(expected), "%s/data", fx->real_dir);
	assert_true(n > 0 && (size_t)n < sizeof(expected));
	assert_string_equal(fx->config->data_dir, expected);
	assert_string_equal(fx->config->tls_cert, "/etc/ssl/cert.pem");
	n = snprintf(expected, sizeof(expected), "%s/../key.pem",
	    fx->real_dir);
	assert_true(n > 0 && (size_t)n < sizeof(expected));
	assert_string_equal(fx->config->tls_key, expected);

	/* relative overrides are relative to the file's directory too */
	assert_int_equal(test_load(fx, "[server]\ndata_dir = ./d\n"
	    "[tls]\ncert = c.pem\nkey = k.pem\n", &o, 1, &error), 0);
	n = snprintf(expected, sizeof(expected), "%s/keys/o.pem",
	    fx->real_dir);
	assert_true(n > 0 && (size_t)n < sizeof(expected));
	assert_string_equal(fx->config->tls_key, expected);
	n = snprintf(expected, sizeof(expected), "%s/./d", fx->real_dir);
	assert_true(n > 0 && (size_t)n < sizeof(expected));
	assert_string_equal(fx->config->data_dir, expected);

	/* a file in a subdirectory, loaded by a relative path: paths and
	 * config->path are absolute and do not depend on the cwd */
	n = snprintf(sub, sizeof(sub), "%s/etc", fx->dir);
	assert_true(n > 0 && (size_t)n < sizeof(sub));
	assert_int_equal(mkdir(sub, 0700), 0);
	n = snprintf(sub, sizeof(sub), "%s/etc/c.ini", fx->dir);
	assert_true(n > 0 && (size_t)n < sizeof(sub));
	test_write(sub, "[server]\ndata_dir = ../var\n");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	config_free(&fx->config);
	n = config_load("etc/c.ini", NULL, 0, &fx->config, &error);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(n, 0);
	n = snprintf(expected, sizeof(expected), "%s/etc/../var",
	    fx->real_dir);
	assert_true(n > 0 && (size_t)n < sizeof(expected));
	assert_string_equal(fx->config->data_dir, expected);
	n = snprintf(expected, sizeof(expected), "%s/etc/c.ini", fx->real_dir);
	assert_true(n > 0 && (size_t)n < sizeof(expected));
	assert_string_equal(fx->config->path, expected);

	/* and errors name the file as it was given */
	assert_int_equal(chdir(fx->dir), 0);
	test_write(sub, "[server]\ndata_dir = ../var\nnope = 1\n");
	config_free(&fx->config);
	n = config_load("etc/c.ini", NULL, 0, &fx->config, &error);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(n, -1);
	assert_string_equal(error, "etc/c.ini:3: unknown key 'nope' in "
	    "[server]");
}

/* --- listen ----------------------------------------------------------- */

static void
test_listen_valid(void **state)
{
	struct config_listen l;
	const char *error = NULL;

	(void)state;
	assert_int_equal(config_listen_parse("127.0.0.1:25", &l, &error), 0);
	assert_int_equal(l.count, 1);
	test_check_addr(&l, 0, "127.0.0.1", 25);
	assert_string_equal(l.text, "127.0.0.1:25");
	free(l.text);

	assert_int_equal(config_listen_parse("[::1]:587", &l, &error), 0);
	assert_int_equal(l.count, 1);
	test_check_addr(&l, 0, "::1", 587);
	free(l.text);

	assert_int_equal(config_listen_parse("*:25", &l, &error), 0);
	assert_int_equal(l.count, 2);
	test_check_addr(&l, 0, "0.0.0.0", 25);
	test_check_addr(&l, 1, "::", 25);
	free(l.text);

	/* commas and/or white space, ports 1 and 65535 */
	assert_int_equal(config_listen_parse(" 127.0.0.1:1,[::1]:65535 "
	    "10.0.0.1:2525\t,  192.0.2.1:25,", &l, &error), 0);
	assert_int_equal(l.count, 4);
	test_check_addr(&l, 0, "127.0.0.1", 1);
	test_check_addr(&l, 1, "::1", 65535);
	test_check_addr(&l, 2, "10.0.0.1", 2525);
	test_check_addr(&l, 3, "192.0.2.1", 25);
	assert_string_equal(l.text, " 127.0.0.1:1,[::1]:65535 "
	    "10.0.0.1:2525\t,  192.0.2.1:25,");
	free(l.text);

	assert_int_equal(config_listen_parse("[2001:db8::a:b]:25, "
	    "[::ffff:192.0.2.1]:26", &l, &error), 0);
	assert_int_equal(l.count, 2);
	test_check_addr(&l, 0, "2001:db8::a:b", 25);
	test_check_addr(&l, 1, "::ffff:192.0.2.1", 26);
	free(l.text);

	/* empty: the listener is off */
	assert_int_equal(config_listen_parse("", &l, &error), 0);
	assert_int_equal(l.count, 0);
	assert_string_equal(l.text, "");
	free(l.text);
	assert_int_equal(config_listen_parse(" , ", &l, &error), 0);
	assert_int_equal(l.count, 0);
	free(l.text);
}

static void
test_listen_invalid(void **state)
{
	static const struct {
		const char *value;
		const char *error;
	} bad[] = {
		{ "127.0.0.1:0", "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:65536",
		    "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:99999999999999999999999",
		    "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:", "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:25x",
		    "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:-1",
		    "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:+25",
		    "the port must be a number from 1 to 65535" },
		{ "[::1]:0", "the port must be a number from 1 to 65535" },
		{ "*:smtp", "the port must be a number from 1 to 65535" },
		{ "127.0.0.1", "missing ':port' after the address" },
		{ "[::1]", "missing ':port' after the address" },
		{ "[::1]25", "missing ':port' after the address" },
		{ "*", "missing ':port' after the address" },
		{ "[::1:25", "missing ']' after the IPv6 address" },
		{ "localhost:25", "not a numeric IPv4 address "
		    "(host names are not allowed)" },
		{ "mail.example.com:25", "not a numeric IPv4 address "
		    "(host names are not allowed)" },
		{ "127.1:25", "not a numeric IPv4 address "
		    "(host names are not allowed)" },
		{ "256.0.0.1:25", "not a numeric IPv4 address "
		    "(host names are not allowed)" },
		{ "::1:25", "an IPv6 address must be in brackets, "
		    "as in [::1]:25" },
		{ "[127.0.0.1]:25", "not a numeric IPv6 address" },
		{ "[localhost]:25", "not a numeric IPv6 address" },
		{ "[*]:25", "not a numeric IPv6 address" },
		{ "[fe80::1%eth0]:25", "not a numeric IPv6 address" },
		{ ":25", "missing address before ':port' "
		    "(use '*' for all addresses)" },
		{ "[]:25", "missing address before ':port' "
		    "(use '*' for all addresses)" },
		{ "127.0.0.1:25,127.0.0.1:25", "address listed twice" },
		{ "*:25 0.0.0.0:25", "address listed twice" },
		{ "[::]:25 *:25", "address listed twice" },
		{ "127.0.0.1:25 127.0.0.1:bad", "the port must be a number "
		    "from 1 to 65535" },
	};
	struct config_listen l;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;

		/* on error *listen_r is unchanged */
		memset(&l, 0, sizeof(l));
		l.count = 99;
		if (config_listen_parse(bad[i].value, &l, &error) != -1)
			fail_msg("'%s' was accepted", bad[i].value);
		assert_int_equal(l.count, 99);
		assert_null(l.text);
		assert_non_null(error);
		if (strcmp(error, bad[i].error) != 0)
			fail_msg("'%s': got '%s', expected '%s'", bad[i].value,
			    error, bad[i].error);
	}
}

/* Writes n distinct addresses 10.0.0.1:25 ... into out, then tail. */
static void
test_listen_list(char *out, size_t outlen, size_t n, const char *tail)
{
	size_t off = 0;
	int w;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		w = snprintf(out + off, outlen - off, "10.0.0.%zu:25, ", i + 1);
		assert_true(w > 0 && (size_t)w < outlen - off);
		off += (size_t)w;
	}
	w = snprintf(out + off, outlen - off, "%s", tail);
	assert_true(w >= 0 && (size_t)w < outlen - off);
}

static void
test_listen_max(void **state)
{
	char list[1024];
	struct config_listen l;
	const char *error = NULL;

	(void)state;
	/* max-1, max */
	test_listen_list(list, sizeof(list), CONFIG_LISTEN_MAX - 1, "");
	assert_int_equal(config_listen_parse(list, &l, &error), 0);
	assert_int_equal(l.count, CONFIG_LISTEN_MAX - 1);
	free(l.text);
	test_listen_list(list, sizeof(list), CONFIG_LISTEN_MAX, "");
	assert_int_equal(config_listen_parse(list, &l, &error), 0);
	assert_int_equal(l.count, CONFIG_LISTEN_MAX);
	test_check_addr(&l, CONFIG_LISTEN_MAX - 1, "10.0.0.16", 25);
	free(l.text);
	/* max+1 */
	test_listen_list(list, sizeof(list), CONFIG_LISTEN_MAX + 1, "");
	assert_int_equal(config_listen_parse(list, &l, &error), -1);
	assert_string_equal(error, "too many addresses (at most 16)");

	/* "*" counts as two */
	test_listen_list(list, sizeof(list), CONFIG_LISTEN_MAX - 2, "*:25");
	assert_int_equal(config_listen_parse(list, &l, &error), 0);
	assert_int_equal(l.count, CONFIG_LISTEN_MAX);
	free(l.text);
	test_listen_list(list, sizeof(list), CONFIG_LISTEN_MAX - 1, "*:25");
	assert_int_equal(config_listen_parse(list, &l, &error), -1);
	assert_string_equal(error, "too many addresses (at most 16)");
}

/* --- sizes and durations ---------------------------------------------- */

static void
test_size_parse(void **state)
{
	static const struct {
		const char *in;
		uint64_t out;
	} good[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "1024", 1024 },
		{ "1K", 1024 },
		{ "1k", 1024 },
		{ "25M", 25ULL << 20 },
		{ "25m", 25ULL << 20 },
		{ "1G", 1ULL << 30 },
		{ "007K", 7ULL << 10 },
		{ "18446744073709551615", UINT64_MAX },
		{ "18014398509481983K", 18014398509481983ULL << 10 },
		{ "17592186044415M", 17592186044415ULL << 20 },
		{ "17179869183G", 17179869183ULL << 30 },
	};
	static const char *const bad[] = {
		"", "K", "G", "1KB", "1B", "1T", "-1", "+1", " 1", "1 ",
		"1 K", "1.5M", "0x10", "1KK",
		"18446744073709551616",		/* 2^64 */
		"99999999999999999999999",
		"18014398509481984K",		/* 2^54 K = 2^64 */
		"17592186044416M",		/* 2^44 M = 2^64 */
		"17179869184G",			/* 2^34 G = 2^64 */
		"99999999999999999999G",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		if (config_size_parse(good[i].in, &v) != 0)
			fail_msg("'%s' was rejected", good[i].in);
		assert_int_equal(v, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (config_size_parse(bad[i], &v) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(v, 12345);
	}
}

static void
test_duration_parse(void **state)
{
	static const struct {
		const char *in;
		unsigned out;
	} good[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "1s", 1 },
		{ "300s", 300 },
		{ "5m", 300 },
		{ "2h", 7200 },
		{ "1H", 3600 },
		{ "4294967295", 4294967295U },
		{ "4294967295s", 4294967295U },
		{ "71582788m", 71582788U * 60 },
		{ "1193046h", 1193046U * 3600 },
		{ "1d", 86400 },
		{ "30d", 30 * 86400 },
		{ "7D", 7 * 86400 },
		{ "49710d", 49710U * 86400 },	/* the last that fits */
	};
	static const char *const bad[] = {
		"", "s", "m", "1w", "1ms", "1 s", "-1", "+1", " 1", "1.5h",
		"1hs",
		"4294967296",			/* UINT_MAX + 1 */
		"71582789m",			/* > UINT_MAX seconds */
		"1193047h",
		"99999999999999999999999h",
		"49711d",			/* > UINT_MAX seconds */
		"d", "1dd", "1hd", "1.5d", "-1d",
	};
	unsigned v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		if (config_duration_parse(good[i].in, &v) != 0)
			fail_msg("'%s' was rejected", good[i].in);
		assert_int_equal(v, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (config_duration_parse(bad[i], &v) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(v, 12345);
	}
}

/* --- [queue] tls_verify_domains --------------------------------------- */

static void
test_queue_tls_verify_domains(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;

	assert_int_equal(test_load(fx, MINIMAL, NULL, 0, &error), 0);
	assert_string_equal(fx->config->queue_tls_verify_domains, "");
	assert_false(config_domain_listed("", "example.com"));
	assert_int_equal(test_load(fx, MINIMAL "[queue]\ntls_verify_domains = "
	    "Example.COM.,  mx.b-c.test\tx\n", NULL, 0, &error), 0);
	assert_string_equal(fx->config->queue_tls_verify_domains,
	    "example.com mx.b-c.test x");
	assert_true(config_domain_listed(
	    fx->config->queue_tls_verify_domains, "EXAMPLE.com."));
	assert_true(config_domain_listed(
	    fx->config->queue_tls_verify_domains, "x"));
	assert_false(config_domain_listed(
	    fx->config->queue_tls_verify_domains, "b-c.test"));
	assert_false(config_domain_listed(
	    fx->config->queue_tls_verify_domains, "example.co"));
	test_load_fails(fx, MINIMAL "[queue]\ntls_verify_domains = a.test, "
	    "b..test\n", ":4: queue.tls_verify_domains: 'b..test' is not a "
	    "valid domain name");
	test_load_fails(fx, MINIMAL "[queue]\ntls_verify_domains = a_b.test\n",
	    ":4: queue.tls_verify_domains: 'a_b.test' is not a valid domain "
	    "name");
}

/* --- [dns] ------------------------------------------------------------ */

static void
test_dns_keys(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	const char *o[] = { "dns.resolver=127.0.0.53@5353 ::1",
	    "dns.timeout=2s" };

	assert_int_equal(test_load(fx, MINIMAL, NULL, 0, &error), 0);
	assert_string_equal(fx->config->dns_resolver, "");
	assert_int_equal(fx->config->dns_timeout, 10);
	assert_int_equal(test_load(fx, MINIMAL "[dns]\nresolver = 192.0.2.1, "
	    "2001:db8::1@53\ntimeout = 1m\n", NULL, 0, &error), 0);
	assert_string_equal(fx->config->dns_resolver,
	    "192.0.2.1, 2001:db8::1@53");
	assert_int_equal(fx->config->dns_timeout, 60);
	assert_int_equal(test_load(fx, MINIMAL, o, 2, &error), 0);
	assert_string_equal(fx->config->dns_resolver, "127.0.0.53@5353 ::1");
	assert_int_equal(fx->config->dns_timeout, 2);

	test_load_fails(fx, MINIMAL "[dns]\nresolver = localhost\n",
	    ":4: dns.resolver: 'localhost': not a numeric IP address (IP or "
	    "IP@port; host names and brackets are not allowed)");
	test_load_fails(fx, MINIMAL "[dns]\ntimeout = 0\n",
	    ":4: dns.timeout: must be a duration from 1s to 5m (a number "
	    "with an optional s, m, h or d suffix)");
}

static void
test_dns_resolver_check(void **state)
{
	static const char *const good[] = {
		"", " ", "127.0.0.1", "127.0.0.1@1", "127.0.0.1@65535", "::1",
		"::1@53", "1.2.3.4,5.6.7.8", "1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 "
		"5.5.5.5 6.6.6.6 7.7.7.7 8.8.8.8",
	};
	static const char *const bad[] = {
		"localhost", "127.0.0.1@0", "127.0.0.1@65536", "127.0.0.1@",
		"@53", "[::1]", "[::1]@53", "127.0.0.1:53", "1.2.3.4@x",
		"1.2.3", "1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 "
		"7.7.7.7 8.8.8.8 9.9.9.9",
		"127.0.0.1@99999999999999999999999",
	};
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (config_resolver_check(good[i], &error) != 0)
			fail_msg("refused '%s': %s", good[i], error);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (config_resolver_check(bad[i], &error) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(error);
	}
}

/* --- [milter] ---------------------------------------------------------- */

static void
test_milter_keys(void **state)
{
	struct fixture *fx = *state;
	const char *error = NULL;
	struct config *c;
	char text[2048];
	int n;

	/* defaults: off, tempfail, smtp only */
	assert_int_equal(test_load(fx, MINIMAL, NULL, 0, &error), 0);
	c = fx->config;
	assert_int_equal(c->milter_servers.count, 0);
	assert_int_equal(c->milter_on_failure, CONFIG_ON_FAILURE_TEMPFAIL);
	assert_int_equal(c->milter_connect_timeout, 10);
	assert_int_equal(c->milter_timeout, 30);
	assert_int_equal(c->milter_message_timeout, 300);
	assert_int_equal(c->milter_listeners, CONFIG_MILTER_SMTP);

	assert_int_equal(test_load(fx, MINIMAL "[milter]\n"
	    "servers = inet:127.0.0.1:11332, unix:/run/clamav/milter.ctl "
	    "inet:[::1]:8891\non_failure = accept\ntimeout = 1m\n"
	    "connect_timeout = 2s\nmessage_timeout = 10m\n"
	    "listeners = smtp submission\n", NULL, 0, &error), 0);
	c = fx->config;
	assert_int_equal(c->milter_servers.count, 3);
	assert_int_equal(c->milter_servers.addrs[0].ss_family, AF_INET);
	assert_int_equal(c->milter_servers.addrs[1].ss_family, AF_UNIX);
	assert_int_equal(c->milter_servers.addrs[2].ss_family, AF_INET6);
	assert_int_equal(c->milter_on_failure, CONFIG_ON_FAILURE_ACCEPT);
	assert_int_equal(c->milter_timeout, 60);
	assert_int_equal(c->milter_connect_timeout, 2);
	assert_int_equal(c->milter_message_timeout, 600);
	assert_int_equal(c->milter_listeners,
	    CONFIG_MILTER_SMTP | CONFIG_MILTER_SUBMISSION);
	assert_int_equal(test_load(fx, MINIMAL "[milter]\nlisteners = none\n",
	    NULL, 0, &error), 0);
	assert_int_equal(fx->config->milter_listeners, 0);

	/* CONFIG_SOCKETS_MAX servers, and one more */
	n = snprintf(text, sizeof(text), MINIMAL "[milter]\nservers =");
	for (int i = 0; i < CONFIG_SOCKETS_MAX; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    " inet:127.0.0.1:%d", 1000 + i);
	assert_int_equal(test_load(fx, text, NULL, 0, &error), 0);
	assert_int_equal(fx->config->milter_servers.count, CONFIG_SOCKETS_MAX);
	(void)snprintf(text + n, sizeof(text) - (size_t)n, " unix:/x\n");
	assert_int_equal(test_load(fx, text, NULL, 0, &error), -1);
	assert_non_null(strstr(error, "too many servers"));

	test_load_fails(fx, MINIMAL "[milter]\nservers = inet:mx.example:25\n",
	    ":4: milter.servers: 'inet:mx.example:25': not a numeric IPv4 "
	    "address (host names are not allowed)");
	test_load_fails(fx, MINIMAL "[milter]\non_failure = reject\n",
	    ":4: milter.on_failure: must be accept or tempfail");
	test_load_fails(fx, MINIMAL "[milter]\nlisteners = smtp imap\n",
	    ":4: milter.listeners: 'imap': must be smtp, submission or none");
	test_load_fails(fx, MINIMAL "[milter]\ntimeout = 0\n",
	    ":4: milter.timeout: must be a duration from 1s to 1h (a number "
	    "with an optional s, m, h or d suffix)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
		T(test_load_full),
		T(test_load_defaults),
		T(test_load_syntax_variants),
		T(test_error_unknown_section),
		T(test_error_unknown_key),
		T(test_error_duplicate_key),
		T(test_error_numbers),
		T(test_error_sizes_durations),
		T(test_error_listen_loglevel_hostname),
		T(test_error_hostname_limits),
		T(test_error_required_and_tls),
		T(test_error_syntax),
		T(test_error_line_limits),
		T(test_error_cannot_open),
		T(test_overrides),
		T(test_overrides_errors),
		T(test_relative_paths),
		cmocka_unit_test(test_listen_valid),
		cmocka_unit_test(test_listen_invalid),
		cmocka_unit_test(test_listen_max),
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_duration_parse),
		T(test_quarantine_keys),
		T(test_queue_tls_verify_domains),
		T(test_dns_keys),
		cmocka_unit_test(test_dns_resolver_check),
		T(test_milter_keys),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
