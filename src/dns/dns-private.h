/*
 * dns-private.h - what dns.c and dns-route.c share, and what the unit
 * tests reach into. Not for other subsystems.
 */
#ifndef DNS_DNS_PRIVATE_H
#define DNS_DNS_PRIVATE_H

#include <unbound.h>

#include "dns/dns.h"

/*
 * Turns libunbound's answer (ub_err, ub) to a query for rrtype of name
 * (normalized) into a new result. ub may be NULL when ub_err is not 0;
 * it is not freed here.
 */
struct dns_result *
dns_result_from_ub(const char *name, uint16_t rrtype, int ub_err,
    const struct ub_result *ub);

/* A result with no records, status and error set (error is copied). */
struct dns_result *
dns_result_new_status(const char *name, uint16_t rrtype,
    enum dns_status status, const char *error);

/* The loop the resolver runs on. */
struct event_base *
dns_event_base(struct dns *dns);

#endif
