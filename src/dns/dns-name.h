/*
 * dns-name.h - domain names: checking and normalizing the names we ask
 * for, and turning the wire-format names of answers into text.
 *
 * A name we ask for is always ASCII, lower case, without a trailing dot
 * (the root is never asked for). UTF-8 names are turned into A-labels
 * with IDNA 2008 (libidn2), as RFC 6531 3.2 wants for SMTPUTF8 domains.
 *
 * SECURITY: names come from mail (envelope domains, header fields, DKIM
 * selectors) and from DNS answers; both are untrusted. Every limit below is
 * checked before anything is copied.
 */
#ifndef DNS_DNS_NAME_H
#define DNS_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* RFC 1035 2.3.4: 255 octets on the wire, so 253 characters written
 * without the trailing dot; a label is 1 to 63 octets. */
#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63
#define DNS_WIRE_NAME_MAX 255
/* A wire name as text: every octet may need a "\DDD" escape. */
#define DNS_NAME_TEXT_MAX (DNS_WIRE_NAME_MAX * 4 + 1)
/* "f.e.d....ip6.arpa": 32 nibbles, each with its dot, then "ip6.arpa". */
#define DNS_PTR_NAME_MAX 72

/* Flags of dns_name_normalize(). */
#define DNS_NAME_HOST 0x01	/* a host name: letters, digits and hyphens
				 * only, no label starting or ending with a
				 * hyphen (RFC 1123 2.1, RFC 5321 4.1.2) */

/*
 * Checks name and writes its normalized form into out (of outlen bytes, at
 * least DNS_NAME_MAX + 1): lower-case ASCII, A-labels for any UTF-8 label,
 * no trailing dot. One trailing dot is accepted in name ("example.org.").
 * Without DNS_NAME_HOST, labels may hold letters, digits, '-' and '_'
 * (DKIM's "_domainkey", DMARC's "_dmarc", SRV-style names); nothing else,
 * since no name Correio asks for needs more.
 * Returns 0, or -1 with *error_r set to a static message.
 */
int
dns_name_normalize(const char *name, unsigned flags, char *out, size_t outlen,
    const char **error_r);

/*
 * Checks a name whose labels may hold any octet but NUL (RFC 2181 11;
 * SPF macros put local parts and HELO names into names, RFC 7208 7.3) and
 * writes it into out (outlen at least DNS_NAME_TEXT_MAX) in the text form
 * libunbound reads: ASCII letters in lower case, letters, digits, '-' and
 * '_' as they are, every other octet as "\DDD" (RFC 1035 5.1). A '.'
 * always separates labels. One trailing dot is accepted. Labels are 1 to
 * 63 octets, the name at most DNS_NAME_MAX octets without the trailing
 * dot. No IDNA conversion: the octets are the labels.
 * Returns 0, or -1 with *error_r set to a static message.
 */
int
dns_name_escape(const char *name, char *out, size_t outlen,
    const char **error_r);

/*
 * Reads the uncompressed wire-format name at data[*pos] (len bytes in all)
 * and writes it as text into out (outlen at least DNS_NAME_TEXT_MAX):
 * labels joined by dots, no trailing dot, "." for the root; octets other
 * than letters, digits, '-' and '_' are written as "\DDD" (RFC 1035 5.1),
 * so the text is printable and a '.' inside a label cannot pass for a
 * label separator. Compression pointers are refused: libunbound hands out
 * rdata with its names expanded. On success *pos is moved past the name.
 * Returns 0, or -1 if the name is malformed or runs past len.
 */
int
dns_name_from_wire(const uint8_t *data, size_t len, size_t *pos, char *out,
    size_t outlen);

/*
 * Writes the reverse-lookup name of an IPv4 or IPv6 address
 * ("4.3.2.1.in-addr.arpa", RFC 1035 3.5; nibbles under "ip6.arpa",
 * RFC 3596 2.5) into out (outlen at least DNS_PTR_NAME_MAX + 1).
 * family is AF_INET (addr is a struct in_addr) or AF_INET6 (a struct
 * in6_addr). Returns 0, or -1 for another family.
 */
int
dns_ptr_name(int family, const void *addr, char *out, size_t outlen);

#endif
