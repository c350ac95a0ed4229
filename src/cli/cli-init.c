/*
 * cli-init.c - `correio init`: a new instance in one directory.
 *
 * Writes DIR/correio.conf, DIR/tls/{cert,key}.pem (self-signed) and
 * DIR/data (the store), and adds the first domain. The config keeps every
 * secure default; the ports are unprivileged and on loopback, for a
 * development instance; an administrator edits them for production.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/pool.h"
#include "core/privs.h"
#include "core/tls.h"
#include "core/xalloc.h"
#include "mime/addr.h"
#include "store/store.h"

static const char cli_init_help[] =
"usage: correio init --dir DIR --domain DOMAIN [--hostname HOST] [--user USER]\n"
"\n"
"Creates a new instance in DIR: DIR/correio.conf, a self-signed TLS\n"
"certificate in DIR/tls/, and the data directory DIR/data with DOMAIN as its\n"
"first hosted domain. The listeners are on 127.0.0.1 with unprivileged ports\n"
"(SMTP 2525, submission 2587, submissions 2465, IMAP 2143, IMAPS 2993,\n"
"POP3 2110, POP3S 2995); edit the config for production.\n"
"\n"
"  --dir DIR        where to create the instance (must not hold a config)\n"
"  --domain DOMAIN  the first domain to host\n"
"  --hostname HOST  the server's name in greetings and the certificate\n"
"                   (default: mail.DOMAIN)\n"
"  --user USER      the account the server runs as when started as root\n"
"                   (default when run as root: 'correio' if that account\n"
"                   exists, else 'nobody')\n";

static int
cli_init_write_config(const char *path, const char *hostname, const char *user,
    const char **error_r)
{
	FILE *f = fopen(path, "wx");
	int ok;

	if (f == NULL) {
		*error_r = strerror(errno);
		return -1;
	}
	fprintf(f,
	    "# Correio configuration. Every key: docs/configuration.md.\n"
	    "# Relative paths are relative to this file's directory.\n"
	    "\n"
	    "[server]\n"
	    "hostname = %s\n"
	    "data_dir = data\n"
	    "user = %s\n"
	    "max_message_size = 25M\n"
	    "\n"
	    "[smtp]\n"
	    "# Inbound mail (port 25 in production).\n"
	    "listen = 127.0.0.1:2525\n"
	    "\n"
	    "[submission]\n"
	    "# Mail clients, STARTTLS then AUTH (port 587 in production).\n"
	    "listen = 127.0.0.1:2587\n"
	    "\n"
	    "[submissions]\n"
	    "# Mail clients over implicit TLS (port 465 in production).\n"
	    "listen = 127.0.0.1:2465\n"
	    "\n"
	    "[imap]\n"
	    "listen = 127.0.0.1:2143\n"
	    "\n"
	    "[imaps]\n"
	    "listen = 127.0.0.1:2993\n"
	    "\n"
	    "[pop3]\n"
	    "listen = 127.0.0.1:2110\n"
	    "\n"
	    "[pop3s]\n"
	    "listen = 127.0.0.1:2995\n"
	    "\n"
	    "[tls]\n"
	    "cert = tls/cert.pem\n"
	    "key = tls/key.pem\n"
	    "\n"
	    "[log]\n"
	    "level = info\n", hostname, user);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

/* Creates the store and its first domain as user, in a child process.
 * Returns 0 or -1 (message printed). */
static int
cli_init_store(const char *datadir, const char *user, const char *domain)
{
	struct store *store = NULL;
	const char *error;
	int status, r;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_fail("init: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (privs_enter(datadir, user, &error) < 0 ||
		    store_open(".", &store, &error) < 0 ||
		    ((r = store_domain_exists(store, domain, &error)) == 0 &&
		    store_domain_add(store, domain, &error) < 0) || r < 0) {
			cli_fail("init: %s", error);
			store_close(&store);
			_exit(1);
		}
		store_close(&store);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int
cli_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "domain", required_argument, NULL, 'D' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *domain_in = NULL, *hostname = NULL, *user = "";
	const char *error;
	char *conf, *datadir, *tlsdir, *cert, *key, *domain;
	struct pool *pool = pool_new(1024);
	struct stat st;
	int ch, ret = CLI_EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'D': domain_in = optarg; break;
		case 'H': hostname = optarg; break;
		case 'u': user = optarg; break;
		case 'h':
			fputs(cli_init_help, stdout);
			pool_free(&pool);
			return CLI_EXIT_OK;
		default:
			pool_free(&pool);
			return cli_usage("init: bad option or missing value '%.64s' "
			    "(try 'correio init --help')", argv[optind - 1]);
		}
	}
	if (optind != argc || dir == NULL || domain_in == NULL) {
		pool_free(&pool);
		return cli_usage("init: --dir and --domain are required");
	}
	domain = addr_domain_normalize(domain_in, pool, &error);
	if (domain == NULL) {
		pool_free(&pool);
		return cli_usage("init: --domain %.255s: %s", domain_in, error);
	}
	if (hostname == NULL)
		hostname = pool_printf(pool, "mail.%s", domain);
	else if (addr_domain_normalize(hostname, pool, &error) == NULL) {
		pool_free(&pool);
		return cli_usage("init: --hostname %.255s: %s", hostname, error);
	}
	if (geteuid() == 0 && user[0] == '\0') {
		uid_t uid;
		gid_t gid;

		user = privs_lookup("correio", &uid, &gid, &error) == 0 ?
		    "correio" : "nobody";
	}
	conf = pool_printf(pool, "%s/correio.conf", dir);
	datadir = pool_printf(pool, "%s/data", dir);
	tlsdir = pool_printf(pool, "%s/tls", dir);
	cert = pool_printf(pool, "%s/cert.pem", tlsdir);
	key = pool_printf(pool, "%s/key.pem", tlsdir);
	if (stat(conf, &st) == 0) {
		ret = cli_fail("init: %s already exists", conf);
		goto out;
	}
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(tlsdir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(datadir, 0700) < 0 && errno != EEXIST)) {
		ret = cli_fail("init: cannot create directories in %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	if (geteuid() == 0) {
		uid_t uid;
		gid_t gid;

		if (privs_lookup(user, &uid, &gid, &error) < 0) {
			ret = cli_fail("init: %s", error);
			goto out;
		}
		/* Through a descriptor opened without following links, so that
		 * a link planted at DIR/data cannot redirect the chown. */
		int dfd = open(datadir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (dfd < 0 || fchown(dfd, uid, gid) < 0) {
			ret = cli_fail("init: chown %s: %s", datadir, strerror(errno));
			if (dfd >= 0)
				close(dfd);
			goto out;
		}
		close(dfd);
	}
	if (tls_selfsigned_write(hostname, cert, key, &error) < 0) {
		ret = cli_fail("init: %s", error);
		goto out;
	}
	/* The store is made as the server's user, in a child process (as
	 * root, privs_enter gives up root for good). The config is written
	 * last, so a failed init can simply be run again. */
	if (cli_init_store(datadir, user, domain) < 0)
		goto out;
	if (cli_init_write_config(conf, hostname, user, &error) < 0) {
		ret = cli_fail("init: cannot write %s: %s", conf, error);
		goto out;
	}
	printf("Created %s for domain %s (host name %s).\n", conf, domain, hostname);
	printf("Add a user:  correio user add -c %s user@%s\n", conf, domain);
	printf("and a postmaster (RFC 5321 4.5.1):\n"
	    "             correio alias add -c %s postmaster@%s user@%s\n",
	    conf, domain, domain);
	printf("Start:       correio serve -c %s\n", conf);
	ret = CLI_EXIT_OK;
out:
	pool_free(&pool);
	return ret;
}
