/*
 * spf-zone.h - a resolver for tests that answers from a zone held in
 * memory, behind the same interface as the server's (struct spf_dns), so
 * that the SPF evaluator runs unchanged against the openspf suite and the
 * unit tests' zones.
 *
 * It behaves as the production resolver does where SPF can tell: names
 * are checked and escaped by dns_name_escape() (a bad name is
 * DNS_BADNAME), matched without regard to case, CNAMEs are followed (at
 * most SPF_ZONE_CNAME_MAX, a loop is DNS_SERVFAIL), a name with records
 * of other types only is DNS_NODATA, an unknown name DNS_NXDOMAIN, and
 * answers arrive from the event loop, never from inside the query call.
 * A name marked TIMEOUT answers DNS_TIMEOUT for every type it has no
 * record of (the suite's "TIMEOUT" entries).
 *
 * SECURITY: test code; zones are the tests' own.
 */
#ifndef TESTS_SPF_ZONE_H
#define TESTS_SPF_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/spf.h"

#define SPF_ZONE_CNAME_MAX 10
#define SPF_ZONE_TIMEOUT 0xffff		/* rrtype of a TIMEOUT mark */

struct event_base;
struct spf_zone;

struct spf_zone *
spf_zone_new(struct event_base *base);

void
spf_zone_free(struct spf_zone **zonep);

/*
 * Adds a record. name is any octets but NUL; data is, by rrtype:
 * A and AAAA an address as text, MX "PREFERENCE NAME" (NAME "" or "."
 * for a null MX), PTR and CNAME a name, TXT the joined strings (len
 * bytes, may hold NUL), SPF_ZONE_TIMEOUT nothing. Returns 0, or -1 if
 * the data cannot be read.
 */
int
spf_zone_add(struct spf_zone *zone, const char *name, uint16_t rrtype,
    const char *data, size_t len);

/* Fills sd so that an evaluation asks zone. */
void
spf_zone_dns(struct spf_zone *zone, struct spf_dns *sd);

/* Queries asked so far, and queries not answered yet. */
size_t
spf_zone_queries(const struct spf_zone *zone);
size_t
spf_zone_pending(const struct spf_zone *zone);

#endif
