/*
 * cli-dns.c - `correio dns mx DOMAIN` and `correio dns query NAME TYPE`:
 * the server's own resolver (src/dns), from the command line, with the
 * [dns] section of the config, as `serve` would use it.
 *
 * Output (stdout): a first line starting with ';' that says what was
 * asked and how it went (status=, secure=, ...), then one line per record
 * or, for `mx`, per exchange: "PREFERENCE EXCHANGE ADDRESS..." (or
 * "PREFERENCE EXCHANGE - STATUS (temporary|permanent): REASON" for an
 * exchange without an address). A failure also gets one line on stderr,
 * "correio: dns ...: temporary|permanent failure (STATUS): REASON".
 *
 * Exit codes: 0 an answer (a route), 1 a permanent failure or another
 * error, 2 usage, 75 (EX_TEMPFAIL, as sendmail uses it) a temporary
 * failure: try again later.
 *
 * SECURITY: names are given by the administrator but answers come from
 * the network: everything printed from an answer is escaped (names are
 * escaped when parsed, TXT data here). No privileges are dropped: nothing
 * of the data directory is touched.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "dns/dns-route.h"
#include "dns/dns.h"

#define CLI_DNS_OVERRIDES_MAX 64
#define CLI_EXIT_TEMPFAIL 75

static const char cli_dns_help[] =
"usage: correio dns mx DOMAIN [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"       correio dns query NAME TYPE [-c FILE] [-o SECTION.KEY=VALUE]...\n"
"\n"
"Asks the server's resolver, set up from the [dns] section of the config.\n"
"  mx DOMAIN        where mail for DOMAIN goes: its MX exchanges by\n"
"                   preference (random among equals), each with its IPv6\n"
"                   and IPv4 addresses; the domain itself if it has no MX\n"
"  query NAME TYPE  the records of TYPE (A, AAAA, MX, TXT, PTR, CNAME);\n"
"                   for PTR, NAME may be an IPv4 or IPv6 address\n"
"  -c, --config FILE  the configuration (default: $CORREIO_CONFIG or\n"
"                     " CLI_DEFAULT_CONFIG ")\n"
"  -o SECTION.KEY=VALUE\n"
"                     override a configuration key (may be repeated)\n"
"Exit status: 0 answered, 1 permanent failure, 75 temporary failure.\n";

struct cli_dns {
	struct event_base *base;
	struct dns_result *result;
	struct dns_route *route;
	bool done;
};

static void
cli_dns_query_cb(void *ctx, struct dns_result *result)
{
	struct cli_dns *c = ctx;

	c->result = result;
	c->done = true;
	event_base_loopbreak(c->base);
}

static void
cli_dns_route_cb(void *ctx, struct dns_route *route)
{
	struct cli_dns *c = ctx;

	c->route = route;
	c->done = true;
	event_base_loopbreak(c->base);
}

/* Prints TXT data as a quoted string, octets outside printable ASCII, the
 * quote and the backslash as \DDD (RFC 1035 5.1). */
static void
cli_dns_print_txt(const struct dns_txt *t)
{
	putchar('"');
	for (size_t i = 0; i < t->len; i++) {
		unsigned char ch = (unsigned char)t->data[i];

		if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
			printf("\\%03u", ch);
		else
			putchar(ch);
	}
	puts("\"");
}

static void
cli_dns_print_addr(int family, const void *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (inet_ntop(family, addr, text, sizeof(text)) == NULL)
		fputs("?", stdout);
	else
		fputs(text, stdout);
}

static int
cli_dns_failure(const char *what, enum dns_status status, const char *error)
{
	bool temp = dns_status_temporary(status);

	fprintf(stderr, "correio: dns %s: %s failure (%s): %s\n", what,
	    temp ? "temporary" : "permanent", dns_status_name(status),
	    error != NULL ? error : dns_status_name(status));
	return temp ? CLI_EXIT_TEMPFAIL : CLI_EXIT_FAIL;
}

static int
cli_dns_print_result(const char *what, const struct dns_result *r)
{
	printf("; name=%s type=%s status=%s rcode=%d secure=%s",
	    r->name[0] != '\0' ? r->name : "-", dns_type_name(r->rrtype),
	    dns_status_name(r->status), r->rcode, r->secure ? "yes" : "no");
	if (r->canonname != NULL && strcmp(r->canonname, r->name) != 0)
		printf(" canonname=%s", r->canonname);
	if (r->malformed > 0)
		printf(" malformed=%zu", r->malformed);
	putchar('\n');
	if (r->status != DNS_OK)
		return cli_dns_failure(what, r->status, r->error);
	for (size_t i = 0; i < r->count; i++) {
		switch (r->rrtype) {
		case DNS_TYPE_A:
			cli_dns_print_addr(AF_INET, &r->rr.a[i]);
			putchar('\n');
			break;
		case DNS_TYPE_AAAA:
			cli_dns_print_addr(AF_INET6, &r->rr.aaaa[i]);
			putchar('\n');
			break;
		case DNS_TYPE_MX:
			printf("%u %s\n", (unsigned)r->rr.mx[i].preference,
			    r->rr.mx[i].exchange);
			break;
		case DNS_TYPE_TXT:
			cli_dns_print_txt(&r->rr.txt[i]);
			break;
		default:
			printf("%s\n", r->rr.ptr[i]);
			break;
		}
	}
	return CLI_EXIT_OK;
}

static int
cli_dns_print_route(const char *what, const struct dns_route *route)
{
	printf("; domain=%s route=%s status=%s secure=%s\n",
	    route->domain[0] != '\0' ? route->domain : "-",
	    route->implicit ? "implicit" : "mx",
	    dns_status_name(route->status), route->secure ? "yes" : "no");
	if (route->status != DNS_OK)
		return cli_dns_failure(what, route->status, route->error);
	for (size_t h = 0; h < route->n_hosts; h++) {
		const struct dns_mx_host *host = &route->hosts[h];

		printf("%u %s", (unsigned)host->preference, host->name);
		if (host->n_addrs == 0)
			printf(" - %s (%s): %s", dns_status_name(host->status),
			    dns_status_temporary(host->status) ? "temporary" :
			    "permanent", host->error != NULL ? host->error :
			    "no address");
		for (size_t i = 0; i < host->n_addrs; i++) {
			putchar(' ');
			cli_dns_print_addr(host->addrs[i].family,
			    &host->addrs[i].u);
		}
		putchar('\n');
	}
	return CLI_EXIT_OK;
}

int
cli_dns(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *overrides[CLI_DNS_OVERRIDES_MAX];
	const char *config_path = NULL, *error, *action;
	char what[DNS_NAME_TEXT_MAX + 64], ptrname[DNS_PTR_NAME_MAX + 1];
	struct config *cfg = NULL;
	struct dns *dns = NULL;
	struct dns_query *query = NULL;
	struct dns_route_req *route_req = NULL;
	struct cli_dns c;
	size_t n_over = 0;
	int ch, ret = CLI_EXIT_FAIL;

	memset(&c, 0, sizeof(c));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'o':
			if (n_over >= CLI_DNS_OVERRIDES_MAX)
				return cli_usage("dns: too many -o options");
			overrides[n_over++] = optarg;
			break;
		case 'h':
			fputs(cli_dns_help, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage("dns: bad option or missing value '%.64s' "
			    "(try 'correio dns --help')", argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage("dns: missing action: mx or query "
		    "(try 'correio dns --help')");
	action = argv[0];
	if (strcmp(action, "mx") == 0) {
		if (argc != 2)
			return cli_usage("dns mx: expected one DOMAIN");
	} else if (strcmp(action, "query") == 0) {
		if (argc != 3)
			return cli_usage("dns query: expected NAME and TYPE");
		if (dns_type_parse(argv[2]) == 0)
			return cli_usage("dns query: unknown type '%.32s' "
			    "(A, AAAA, MX, TXT, PTR or CNAME)", argv[2]);
	} else {
		return cli_usage("dns: unknown action '%.64s' (mx or query)",
		    action);
	}

	if (config_load(cli_config_path(config_path), overrides, n_over, &cfg,
	    &error) < 0)
		return cli_fail("%s", error);
	log_set_level(cfg->log_level);
	c.base = event_base_new();
	if (c.base == NULL) {
		cli_fail("cannot create the event loop");
		goto out;
	}
	if ((dns = dns_new(c.base, cfg, &error)) == NULL) {
		cli_fail("%s", error);
		goto out;
	}
	if (strcmp(action, "mx") == 0) {
		if (snprintf(what, sizeof(what), "mx %.*s", DNS_NAME_TEXT_MAX,
		    argv[1]) < 0)
			what[0] = '\0';
		route_req = dns_mx_route(dns, argv[1], cli_dns_route_cb, &c);
	} else {
		uint16_t type = dns_type_parse(argv[2]);
		const char *name = argv[1];
		struct in6_addr a6;
		struct in_addr a4;

		/* PTR of an address: its in-addr.arpa or ip6.arpa name. */
		if (type == DNS_TYPE_PTR && inet_pton(AF_INET, name, &a4) == 1)
			name = dns_ptr_name(AF_INET, &a4, ptrname,
			    sizeof(ptrname)) == 0 ? ptrname : name;
		else if (type == DNS_TYPE_PTR &&
		    inet_pton(AF_INET6, name, &a6) == 1)
			name = dns_ptr_name(AF_INET6, &a6, ptrname,
			    sizeof(ptrname)) == 0 ? ptrname : name;
		if (snprintf(what, sizeof(what), "query %.*s %s",
		    DNS_NAME_TEXT_MAX, name, dns_type_name(type)) < 0)
			what[0] = '\0';
		query = dns_query(dns, name, type, cli_dns_query_cb, &c);
	}
	while (!c.done)
		if (event_base_dispatch(c.base) < 0)
			break;
	if (!c.done) {
		cli_fail("dns %s: the event loop stopped", what);
		goto out;
	}
	query = NULL;		/* answered: the handles are gone */
	route_req = NULL;
	if (c.route != NULL)
		ret = cli_dns_print_route(what, c.route);
	else
		ret = cli_dns_print_result(what, c.result);
	fflush(stdout);
out:
	dns_query_cancel(&query);
	dns_route_cancel(&route_req);
	dns_result_free(&c.result);
	dns_route_free(&c.route);
	dns_free(&dns);
	if (c.base != NULL)
		event_base_free(c.base);
	config_free(&cfg);
	return ret;
}
