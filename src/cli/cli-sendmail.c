/*
 * cli-sendmail.c - `correio sendmail` (also run as `sendmail`): the
 * sendmail-compatible entry point for local programs (cron, scripts),
 * in the manner of Postfix's and OpenSMTPD's sendmail.
 *
 * Reads one message on standard input and submits it through the store
 * directly: recipients in hosted domains are delivered to their INBOX,
 * the others queued for the deliverer, in one durable write. Lines may end
 * in LF (they are stored with CRLF). Date:, Message-ID: and From: are
 * added when missing; with -t the recipients come from To:, Cc: and Bcc:
 * and Bcc: is removed. The message is signed with DKIM when its From:
 * domain has keys (auth/dkim.h), like a message from submission.
 *
 * Options (the usual sendmail subset): -t, -f SENDER, -F NAME, -i and -oi
 * (a lone "." does not end the input), -C FILE (the config); -o* other
 * than -oi, -v, -bm, -B, -N, -R, -U are accepted and ignored.
 *
 * SECURITY: the message and arguments come from a local user, who is
 * trusted like Postfix trusts local submitters (any -f is allowed). The
 * store is opened as the server's user (cli_open), so only root and that
 * user can submit this way. The message is bounded by [server]
 * max_message_size before it is kept in memory.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/dkim.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/utf8.h"
#include "mime/addr.h"
#include "mime/header.h"
#include "mime/mime-imap.h"
#include "store/store.h"

#define SENDMAIL_RCPTS_MAX 1000		/* recipients of one message */
#define SENDMAIL_USERS_MAX 1000		/* local users it may reach */
#define SENDMAIL_LINE_MAX 998		/* RFC 5322 2.1.1, without CRLF */

static const char cli_sendmail_help[] =
"usage: correio sendmail [-t] [-i] [-f SENDER] [-F NAME] [-C FILE] [RECIPIENT...]\n"
"\n"
"Reads a message on standard input and submits it: recipients in hosted\n"
"domains get it in their INBOX, the others are queued for delivery.\n"
"Date:, Message-ID: and From: are added when the message has none.\n"
"  -t          take the recipients from To:, Cc: and Bcc: too (Bcc: is\n"
"              removed)\n"
"  -i, -oi     a line with a single '.' does not end the message\n"
"  -f SENDER   the envelope sender (default: your login name at the host\n"
"              name of the config)\n"
"  -F NAME     the full name for an added From: header\n"
"  -C FILE     the configuration (default: $CORREIO_CONFIG or\n"
"              " CLI_DEFAULT_CONFIG ")\n"
"Other sendmail options (-o..., -v, -bm, -B, -N, -R, -U) are ignored.\n";

struct sendmail {
	struct pool *pool;
	struct config *config;
	struct store *store;
	const char *sender;
	/* Recipients: local users (deduplicated) and remote addresses. */
	int64_t users[SENDMAIL_USERS_MAX];
	size_t n_users;
	const char *remote[SENDMAIL_RCPTS_MAX];
	size_t n_remote;
	size_t n_rcpts;
	const char *error;	/* the first recipient error */
};

/* Reads standard input into msg with CRLF line ends, up to a lone "."
 * unless dots is set. Returns 0, or -1 with a message printed. */
static int
sendmail_read(struct buf *msg, bool dots)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		size_t len = (size_t)n;

		if (line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (!dots && len == 1 && line[0] == '.')
			break;
		if (buf_append(msg, line, len) < 0 ||
		    buf_append(msg, "\r\n", 2) < 0) {
			ret = cli_fail("sendmail: message larger than "
			    "max_message_size");
			break;
		}
	}
	if (ret == 0 && ferror(stdin))
		ret = cli_fail("sendmail: reading standard input: %s",
		    strerror(errno));
	free(line);
	return ret;
}

/* The end of the header block: the offset of the empty line that ends
 * it, or of the first line that is not a header field (then the message
 * has no empty line there). *sep_r says whether the empty line exists. */
static size_t
sendmail_header_end(const char *msg, size_t len, bool *sep_r)
{
	size_t p = 0;

	*sep_r = false;
	while (p < len) {
		const char *eol = memchr(msg + p, '\n', len - p);
		size_t next = eol != NULL ? (size_t)(eol - msg) + 1 : len;
		size_t i;

		if (msg[p] == '\r' || msg[p] == '\n') {
			*sep_r = true;
			return p;
		}
		if (msg[p] != ' ' && msg[p] != '\t') {
			/* field-name: printable ASCII but ':' (RFC 5322 3.6.8) */
			for (i = p; i < next && msg[i] != ':'; i++)
				if ((unsigned char)msg[i] <= 32 ||
				    (unsigned char)msg[i] >= 127)
					break;
			/* "From :" (obsolete) has spaces before the colon */
			while (i < next && (msg[i] == ' ' || msg[i] == '\t'))
				i++;
			if (i == p || i >= next || msg[i] != ':')
				return p;
		} else if (p == 0) {
			return p;
		}
		p = next;
	}
	return p;
}

/* Is the field starting at p (of the header block) called name? */
static bool
sendmail_field_is(const char *p, size_t left, const char *name)
{
	size_t n = strlen(name), i;

	if (left <= n || strncasecmp(p, name, n) != 0)
		return false;
	for (i = n; i < left && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	return i < left && p[i] == ':';
}

/* Adds one recipient address (from an argument or a header). */
static void
sendmail_rcpt(struct sendmail *sm, const char *local, size_t llen,
    const char *domain, size_t dlen)
{
	enum store_rcpt_result res;
	const char *error, *norm, *dom;
	char *addr;
	size_t n;

	if (sm->n_rcpts >= SENDMAIL_RCPTS_MAX) {
		if (sm->error == NULL)
			sm->error = "too many recipients";
		return;
	}
	sm->n_rcpts++;
	addr = pool_printf(sm->pool, "%.*s@%.*s", (int)llen, local, (int)dlen,
	    domain);
	if ((norm = addr_normalize(addr, sm->pool, &error)) == NULL) {
		if (sm->error == NULL)
			sm->error = pool_printf(sm->pool, "<%s>: %s", addr,
			    error);
		return;
	}
	if (store_rcpt_resolve(sm->store, norm, sm->users + sm->n_users,
	    SENDMAIL_USERS_MAX - sm->n_users, &n, &res, &error) < 0) {
		if (sm->error == NULL)
			sm->error = pool_printf(sm->pool, "<%s>: %s", addr,
			    error);
		return;
	}
	switch (res) {
	case STORE_RCPT_LOCAL:
		/* keep each user once */
		for (size_t i = 0; i < n; i++) {
			int64_t u = sm->users[sm->n_users + i];
			size_t j;

			for (j = 0; j < sm->n_users; j++)
				if (sm->users[j] == u)
					break;
			if (j == sm->n_users)
				sm->users[sm->n_users++] = u;
		}
		if (n == 0 && sm->error == NULL)
			sm->error = pool_printf(sm->pool, "<%s>: no such user",
			    addr);
		return;
	case STORE_RCPT_UNKNOWN:
		if (sm->error == NULL)
			sm->error = pool_printf(sm->pool, "<%s>: no such user",
			    addr);
		return;
	case STORE_RCPT_NOT_HOSTED:
		break;
	}
	/* The local part stays as written; the domain in A-labels. */
	if ((dom = addr_domain_normalize(pool_strndup(sm->pool, domain, dlen),
	    sm->pool, &error)) == NULL) {
		if (sm->error == NULL)
			sm->error = pool_printf(sm->pool, "<%s>: %s", addr,
			    error);
		return;
	}
	addr = pool_printf(sm->pool, "%.*s@%s", (int)llen, local, dom);
	for (size_t i = 0; i < sm->n_remote; i++)
		if (strcmp(sm->remote[i], addr) == 0)
			return;
	sm->remote[sm->n_remote++] = addr;
}

static void
sendmail_rcpt_cb(void *ctx, const char *local, size_t llen,
    const char *domain, size_t dlen)
{
	sendmail_rcpt(ctx, local, llen, domain, dlen);
}

/* An argument: an address list ("a@b, Name <c@d>"), or a bare local
 * name, which gets the host name of the config. */
static void
sendmail_rcpt_arg(struct sendmail *sm, const char *arg)
{
	const char *host = sm->config->hostname;

	if (strchr(arg, '@') == NULL && strpbrk(arg, ",<>\"() ") == NULL) {
		sendmail_rcpt(sm, arg, strlen(arg), host, strlen(host));
		return;
	}
	if (mime_addr_list_foreach(arg, strlen(arg), sendmail_rcpt_cb,
	    sm) == 0 && sm->error == NULL)
		sm->error = pool_printf(sm->pool, "no address in '%.64s'", arg);
}

/*
 * Signs the message of out (from msg_off on) with the DKIM keys of its
 * From: domain and puts the signatures at msg_off; *hlen_r (the end of the
 * header) moves with them. Returns 0, or -1 with a message printed.
 */
static int
sendmail_sign(struct buf *out, size_t msg_off, size_t *hlen_r)
{
	struct dkim_keys *keys;
	struct buf sigs;
	const char *error;
	size_t old = out->len;
	int n, ret = 0;

	/* the current directory is the data directory (cli_open) */
	if ((keys = dkim_keys_load(".", &error)) == NULL) {
		cli_fail("sendmail: %s", error);
		return -1;
	}
	buf_init(&sigs, 16 * 1024);
	n = dkim_sign(keys, out->data + msg_off, out->len - msg_off,
	    time(NULL), &sigs, &error);
	if (n < 0) {
		ret = -1;
		cli_fail("sendmail: DKIM signing failed: %s", error);
	} else if (n > 0) {
		if (buf_append(out, sigs.data, sigs.len) < 0) {
			ret = -1;
			cli_fail("sendmail: message larger than "
			    "max_message_size");
		} else {
			memmove(out->data + msg_off + sigs.len,
			    out->data + msg_off, old - msg_off);
			memcpy(out->data + msg_off, sigs.data, sigs.len);
			*hlen_r += sigs.len;
		}
	}
	buf_release(&sigs);
	dkim_keys_free(&keys);
	return ret;
}

int
cli_sendmail(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sendmail sm;
	struct store_delivery d, *dp = &d;
	struct store_queue_entry q;
	struct passwd *pw;
	struct buf in, out;
	const char *config_path = NULL, *from_arg = NULL, *full_name = NULL;
	const char *error, *hdr, *body;
	char login[64], date[HEADER_DATE_SIZE], msgid[HEADER_MSGID_SIZE];
	bool extract = false, dots = false, sep;
	size_t hend, p, hlen, msg_off;
	int ch, ret = CLI_EXIT_FAIL, r = 0;

	memset(&sm, 0, sizeof(sm));
	memset(&q, 0, sizeof(q));
	/* Who runs us, before cli_open changes the user. */
	pw = getpwuid(getuid());
	(void)snprintf(login, sizeof(login), "%s", pw != NULL ?
	    pw->pw_name : "nobody");
	optind = 1;
	while ((ch = getopt_long(argc, argv, "C:c:f:r:F:tio:vb:B:N:R:UhX:L:",
	    opts, NULL)) != -1) {
		switch (ch) {
		case 'C':
		case 'c':
			config_path = optarg;
			break;
		case 'f':
		case 'r':	/* the old name of -f */
			from_arg = optarg;
			break;
		case 'F':
			full_name = optarg;
			break;
		case 't':
			extract = true;
			break;
		case 'i':
			dots = true;
			break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				dots = true;
			break;	/* other -o options: ignored */
		case 'b':
			if (strcmp(optarg, "m") != 0)
				return cli_usage("sendmail: -b%.16s is not "
				    "supported (only -bm)", optarg);
			break;
		case 'h':
			fputs(cli_sendmail_help, stdout);
			return CLI_EXIT_OK;
		case 'v':
		case 'B':
		case 'N':
		case 'R':
		case 'U':
		case 'X':
		case 'L':
			break;
		default:
			return cli_usage("sendmail: bad option or missing "
			    "value '%.64s' (try 'correio sendmail --help')",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc && !extract)
		return cli_usage("sendmail: no recipients (give them, or -t)");
	if (cli_open(cli_config_path(config_path), &sm.config, &sm.store) < 0)
		return CLI_EXIT_FAIL;
	sm.pool = pool_new(4096);
	buf_init(&in, (size_t)sm.config->max_message_size);
	buf_init(&out, (size_t)sm.config->max_message_size + 8192);
	if (sendmail_read(&in, dots) < 0)
		goto out;

	/* The sender: -f, else login@hostname. "<>" or "" is the null
	 * sender. */
	if (from_arg != NULL) {
		const char *f = from_arg;
		size_t n = strlen(f);

		if (n >= 2 && f[0] == '<' && f[n - 1] == '>')
			f = pool_strndup(sm.pool, f + 1, n - 2);
		if (f[0] != '\0' && (strchr(f, '@') == NULL ||
		    addr_normalize(f, sm.pool, &error) == NULL ||
		    strlen(f) > STORE_ADDRESS_MAX)) {
			ret = cli_fail("sendmail: bad sender '%.64s'", from_arg);
			goto out;
		}
		sm.sender = f;
	} else {
		sm.sender = pool_printf(sm.pool, "%s@%s", login,
		    sm.config->hostname);
	}

	/* Recipients: the arguments, and with -t the header's. */
	for (int i = optind; i < argc; i++)
		sendmail_rcpt_arg(&sm, argv[i]);
	hend = sendmail_header_end(in.data != NULL ? in.data : "", in.len,
	    &sep);
	if (extract) {
		for (p = 0; p < hend; ) {
			size_t e = p;

			/* the field and its continuation lines */
			do {
				const char *nl = memchr(in.data + e, '\n',
				    hend - e);

				e = nl != NULL ? (size_t)(nl - in.data) + 1 : hend;
			} while (e < hend && (in.data[e] == ' ' ||
			    in.data[e] == '\t'));
			if (sendmail_field_is(in.data + p, e - p, "To") ||
			    sendmail_field_is(in.data + p, e - p, "Cc") ||
			    sendmail_field_is(in.data + p, e - p, "Bcc")) {
				const char *colon = memchr(in.data + p, ':',
				    e - p);

				(void)mime_addr_list_foreach(colon + 1,
				    (size_t)(in.data + e - colon - 1),
				    sendmail_rcpt_cb, &sm);
			}
			p = e;
		}
	}
	if (sm.error != NULL) {
		ret = cli_fail("sendmail: %s; nothing was sent", sm.error);
		goto out;
	}
	if (sm.n_users == 0 && sm.n_remote == 0) {
		ret = cli_fail("sendmail: no recipients; nothing was sent");
		goto out;
	}

	/* The stored message: trace fields, added fields, the header
	 * (without Bcc: when -t), the body. */
	r |= buf_printf(&out, "Return-Path: <%s>\r\n", sm.sender);
	q.data_offset = out.len;
	if (header_date(time(NULL), date, sizeof(date)) < 0 ||
	    header_message_id(sm.config->hostname, msgid, sizeof(msgid)) < 0) {
		ret = cli_fail("sendmail: cannot make Date or Message-ID");
		goto out;
	}
	r |= buf_printf(&out, "Received: by %s (Correio sendmail, uid %u)"
	    "\r\n\t; %s\r\n", sm.config->hostname, (unsigned)getuid(), date);
	msg_off = out.len;
	hdr = in.data != NULL ? in.data : "";
	if (header_count(hdr, hend, "From") == 0) {
		if (full_name != NULL && full_name[0] != '\0') {
			/* a quoted-string, quotes and backslashes escaped */
			r |= buf_puts(&out, "From: \"");
			for (const char *s = full_name; *s != '\0'; s++) {
				if (*s == '"' || *s == '\\')
					r |= buf_append(&out, "\\", 1);
				if ((unsigned char)*s >= 32)
					r |= buf_append(&out, s, 1);
			}
			r |= buf_printf(&out, "\" <%s>\r\n", sm.sender);
		} else {
			r |= buf_printf(&out, "From: <%s>\r\n", sm.sender);
		}
	}
	if (header_count(hdr, hend, "Date") == 0)
		r |= buf_printf(&out, "Date: %s\r\n", date);
	if (header_count(hdr, hend, "Message-ID") == 0)
		r |= buf_printf(&out, "Message-ID: %s\r\n", msgid);
	for (p = 0; p < hend; ) {
		size_t e = p;

		do {
			const char *nl = memchr(hdr + e, '\n', hend - e);

			e = nl != NULL ? (size_t)(nl - hdr) + 1 : hend;
		} while (e < hend && (hdr[e] == ' ' || hdr[e] == '\t'));
		if (!(extract && sendmail_field_is(hdr + p, e - p, "Bcc")))
			r |= buf_append(&out, hdr + p, e - p);
		p = e;
	}
	hlen = out.len;
	if (!sep)
		r |= buf_append(&out, "\r\n", 2);
	body = hdr + hend;
	r |= buf_append(&out, body, in.len - hend);
	if (r != 0) {
		ret = cli_fail("sendmail: message larger than max_message_size");
		goto out;
	}

	/* DKIM-Signature fields go under the trace fields. */
	if (sendmail_sign(&out, msg_off, &hlen) < 0)
		goto out;

	memset(&d, 0, sizeof(d));
	d.data = out.data;
	d.size = out.len;
	d.users = sm.users;
	d.n_users = sm.n_users;
	d.mailbox = STORE_MAILBOX_INBOX;
	d.internal_date = time(NULL);
	d.envelope_from = sm.sender;
	body = out.data + q.data_offset;
	d.hdr_from = header_get(body, hlen - q.data_offset, "From", sm.pool);
	d.hdr_subject = header_get(body, hlen - q.data_offset, "Subject",
	    sm.pool);
	d.hdr_date = header_get(body, hlen - q.data_offset, "Date", sm.pool);
	if (sm.n_remote > 0) {
		q.sender = sm.sender;
		q.rcpts = sm.remote;
		q.n_rcpts = sm.n_remote;
		q.user_id = 0;
		q.id_r = 0;
		/* Local programs cannot say SMTPUTF8: it is found, as
		 * Postfix's smtputf8_autodetect_classes does for sendmail,
		 * from UTF-8 in the envelope or the header. */
		q.smtputf8 = !utf8_is_ascii(sm.sender, strlen(sm.sender)) ||
		    !utf8_is_ascii(out.data + q.data_offset,
		    hlen - q.data_offset);
		for (size_t i = 0; i < sm.n_remote && !q.smtputf8; i++)
			q.smtputf8 = !utf8_is_ascii(sm.remote[i],
			    strlen(sm.remote[i]));
		d.queue = &q;
	}
	if (store_deliver(sm.store, &dp, 1, &error) < 0) {
		ret = cli_fail("sendmail: %s", error);
		goto out;
	}
	/* Silent on success, like every sendmail (cron mails output). */
	ret = CLI_EXIT_OK;
out:
	buf_release(&in);
	buf_release(&out);
	pool_free(&sm.pool);
	cli_close(&sm.config, &sm.store);
	return ret;
}
