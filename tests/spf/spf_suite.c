/*
 * spf_suite.c - runs SPF evaluations against a zone, for the openspf
 * RFC 7208 test suite (tests/integration/test_spf_suite.py writes the
 * files and judges the results).
 *
 *   spf_suite ZONE_FILE CASES_FILE
 *
 * ZONE_FILE, one record per line, names and text in hex ("-" if empty):
 *   NAME_HEX A|AAAA ADDRESS
 *   NAME_HEX MX PREFERENCE EXCHANGE_HEX
 *   NAME_HEX PTR|CNAME TARGET_HEX
 *   NAME_HEX TXT DATA_HEX
 *   NAME_HEX TIMEOUT
 * CASES_FILE, one evaluation per line:
 *   CASE_NAME IP HELO_HEX MAILFROM_HEX
 * Output, one line per case:
 *   CASE_NAME RESULT EXPLANATION_HEX|- MECHANISM_OR_PROBLEM_HEX|-
 *
 * Each evaluation runs on a libevent loop with the zone resolver of
 * spf-zone.c, exactly as the server runs it with its own resolver.
 *
 * SECURITY: test code; the inputs are the tests' own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/spf.h"
#include "dns/dns.h"
#include "spf-zone.h"

#define SUITE_LINE_MAX 16384

struct suite_case {
	struct event_base *base;
	const struct spf_result *result;
	bool done;
	char *explanation;
	char *detail;
	enum spf_status status;
};

/* Decodes hex (or "-", empty) into a new string; *len_r its length. */
static char *
hex_decode(const char *hex, size_t *len_r)
{
	size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
	char *out = malloc(n + 1);

	if (out == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (char)v;
	}
	out[n] = '\0';
	if (len_r != NULL)
		*len_r = n;
	return out;
}

static void
hex_print(const char *s)
{
	if (s == NULL || *s == '\0') {
		fputs("-", stdout);
		return;
	}
	for (; *s != '\0'; s++)
		printf("%02x", (unsigned char)*s);
}

static int
load_zone(struct spf_zone *zone, const char *path)
{
	char line[SUITE_LINE_MAX];
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *name_hex = strtok(line, " \n"), *type = strtok(NULL, " \n");
		char *a1 = strtok(NULL, " \n"), *a2 = strtok(NULL, " \n");
		char *name, *data = NULL;
		size_t len = 0;
		uint16_t rrtype;
		int r;

		if (name_hex == NULL || type == NULL)
			continue;
		name = hex_decode(name_hex, NULL);
		if (strcmp(type, "TIMEOUT") == 0) {
			rrtype = SPF_ZONE_TIMEOUT;
			data = strdup("");
		} else if ((rrtype = dns_type_parse(type)) == 0 || a1 == NULL) {
			fprintf(stderr, "%s: bad line type %s\n", path, type);
			fclose(f);
			free(name);
			return -1;
		} else if (rrtype == DNS_TYPE_MX) {
			char *ex = hex_decode(a2 != NULL ? a2 : "-", NULL);

			if (asprintf(&data, "%s %s", a1, ex) < 0)
				abort();
			free(ex);
		} else if (rrtype == DNS_TYPE_A || rrtype == DNS_TYPE_AAAA) {
			data = strdup(a1);
		} else {
			data = hex_decode(a1, &len);
		}
		if (data == NULL)
			abort();
		if (rrtype != DNS_TYPE_TXT)
			len = strlen(data);
		r = spf_zone_add(zone, name, rrtype, data, len);
		/* A name no resolver can ask for is simply not there. */
		if (r < 0)
			fprintf(stderr, "spf_suite: zone name skipped\n");
		free(name);
		free(data);
	}
	fclose(f);
	return 0;
}

static void
case_done(void *ctx, const struct spf_result *result)
{
	struct suite_case *sc = ctx;

	sc->done = true;
	sc->status = result->status;
	sc->explanation = result->explanation != NULL ?
	    strdup(result->explanation) : NULL;
	sc->detail = strdup(result->problem != NULL ? result->problem :
	    result->mechanism != NULL ? result->mechanism : "");
	event_base_loopbreak(sc->base);
}

int
main(int argc, char **argv)
{
	char line[SUITE_LINE_MAX];
	struct event_base *base;
	struct spf_zone *zone;
	struct spf_dns sd;
	FILE *f;
	int ret = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: spf_suite ZONE_FILE CASES_FILE\n");
		return 2;
	}
	base = event_base_new();
	zone = spf_zone_new(base);
	if (base == NULL || load_zone(zone, argv[1]) < 0)
		return 1;
	spf_zone_dns(zone, &sd);
	if ((f = fopen(argv[2], "r")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *name = strtok(line, " \n"), *ip = strtok(NULL, " \n");
		char *helo_hex = strtok(NULL, " \n"), *mail_hex = strtok(NULL, " \n");
		struct spf_request req = { 0 };
		struct suite_case sc = { 0 };
		struct spf_check *check;
		const char *error;
		char *helo, *mail;

		if (name == NULL || ip == NULL || helo_hex == NULL ||
		    mail_hex == NULL)
			continue;
		helo = hex_decode(helo_hex, NULL);
		mail = hex_decode(mail_hex, NULL);
		req.ip = ip;
		req.helo = helo;
		req.mail_from = mail;
		req.hostname = "receiver.example.net";
		sc.base = base;
		check = spf_check_start(base, &sd, &req, case_done, &sc, &error);
		if (check == NULL) {
			printf("%s error - -\n", name);
			ret = 1;
		} else {
			/* Bounded: every evaluation ends by its own timer. */
			while (!sc.done && event_base_dispatch(base) == 0)
				;
			printf("%s %s ", name, sc.done ?
			    spf_status_name(sc.status) : "unfinished");
			hex_print(sc.explanation);
			putchar(' ');
			hex_print(sc.detail);
			putchar('\n');
			spf_check_free(&check);
		}
		if (spf_zone_pending(zone) != 0) {
			fprintf(stderr, "spf_suite: %s left queries pending\n",
			    name);
			ret = 1;
		}
		free(sc.explanation);
		free(sc.detail);
		free(helo);
		free(mail);
	}
	fclose(f);
	spf_zone_free(&zone);
	event_base_free(base);
	return ret;
}
