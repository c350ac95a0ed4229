/*
 * addr.h - normalizing mail domains and addresses for lookups.
 *
 * Domains are compared as lower-case A-labels (IDNA 2008 via libidn2), so
 * that "Exämple.TEST" and "xn--exmple-cua.test" find the same domain.
 *
 * SECURITY: input comes from the network (RCPT TO) or the command line.
 */
#ifndef MIME_ADDR_H
#define MIME_ADDR_H

#include <stddef.h>

struct pool;

#define ADDR_LOCAL_MAX 64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255	/* RFC 5321 4.5.3.1.2 */

/*
 * Converts a domain (ASCII or UTF-8 U-labels) to its lower-case A-label
 * form, allocated from pool. Returns NULL with *error_r set if it is not a
 * valid domain name.
 */
char *
addr_domain_normalize(const char *domain, struct pool *pool,
    const char **error_r);

/*
 * Normalizes "local@domain": the domain as above, the local part
 * lower-cased (ASCII only; the store treats local parts
 * case-insensitively). Returns NULL with *error_r set if malformed.
 */
char *
addr_normalize(const char *address, struct pool *pool, const char **error_r);

#endif
