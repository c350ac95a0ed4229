/*
 * addr.c - domain and address normalization (see addr.h). RFC 5890/5891
 * (IDNA 2008) through libidn2, RFC 5321 4.1.2 for the domain syntax.
 */
#include "mime/addr.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "core/pool.h"

/* RFC 5321 Domain: labels of letters, digits and inner hyphens. */
static bool
addr_domain_ascii_ok(const char *d)
{
	size_t label = 0, total = 0;
	char prev = '.';

	for (const char *p = d; *p != '\0'; p++, total++) {
		char c = *p;

		if (c == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		prev = c;
	}
	return total > 0 && total <= ADDR_DOMAIN_MAX && label > 0 && prev != '-';
}

char *
addr_domain_normalize(const char *domain, struct pool *pool,
    const char **error_r)
{
	bool ascii = true;
	char *out;

	for (const char *p = domain; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	if (ascii) {
		out = pool_strdup(pool, domain);
	} else {
		char *a = NULL;
		int rc = idn2_to_ascii_8z(domain, &a,
		    IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);

		if (rc != IDN2_OK) {
			*error_r = "invalid international domain name";
			return NULL;
		}
		out = pool_strdup(pool, a);
		idn2_free(a);
	}
	for (char *p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!addr_domain_ascii_ok(out)) {
		*error_r = "invalid domain name";
		return NULL;
	}
	return out;
}

char *
addr_normalize(const char *address, struct pool *pool, const char **error_r)
{
	const char *at = strrchr(address, '@');
	char *local, *domain;
	size_t llen;

	if (at == NULL || at == address || at[1] == '\0') {
		*error_r = "address must be local@domain";
		return NULL;
	}
	llen = (size_t)(at - address);
	if (llen > ADDR_LOCAL_MAX) {
		*error_r = "local part too long";
		return NULL;
	}
	domain = addr_domain_normalize(at + 1, pool, error_r);
	if (domain == NULL)
		return NULL;
	local = pool_strndup(pool, address, llen);
	for (char *p = local; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x21 && *p != ' ') {
			*error_r = "control character in local part";
			return NULL;
		}
		*p = (char)tolower((unsigned char)*p);
	}
	return pool_printf(pool, "%s@%s", local, domain);
}
