/*
 * dns-name.c - checking and normalizing domain names, wire names as text,
 * reverse-lookup names (see dns-name.h).
 *
 * RFC 1035 2.3.1, 2.3.4 and 3.1 (name syntax and limits), RFC 1123 2.1
 * (host names may start with a digit), RFC 5890-5894 through libidn2
 * (IDNA 2008: UTF-8 labels become "xn--" A-labels), RFC 3596 2.5 (ip6.arpa).
 *
 * SECURITY: every input is untrusted. Names are converted label by label
 * into fixed-size buffers whose sizes are checked before each copy; a
 * UTF-8 label goes to libidn2 alone, with its length capped first.
 */
#include "dns/dns-name.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <idn2.h>

/* A UTF-8 label longer than this cannot make a valid A-label: a label of
 * 63 code points of 4 bytes each. */
#define DNS_ULABEL_MAX (DNS_LABEL_MAX * 4)

static bool
dns_name_octet_plain(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

/* Checks one ASCII label (already lower case) of len bytes. */
static int
dns_name_label_check(const char *label, size_t len, unsigned flags,
    const char **error_r)
{
	if (len == 0) {
		*error_r = "empty label";
		return -1;
	}
	if (len > DNS_LABEL_MAX) {
		*error_r = "label longer than 63 octets";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)label[i];

		if (!dns_name_octet_plain(c) ||
		    ((flags & DNS_NAME_HOST) != 0 && c == '_')) {
			*error_r = "bad character in label";
			return -1;
		}
	}
	if ((flags & DNS_NAME_HOST) != 0 &&
	    (label[0] == '-' || label[len - 1] == '-')) {
		*error_r = "label starts or ends with a hyphen";
		return -1;
	}
	return 0;
}

int
dns_name_escape(const char *name, char *out, size_t outlen,
    const char **error_r)
{
	size_t n = strlen(name), used = 0, label = 0;

	if (outlen < DNS_NAME_TEXT_MAX) {
		*error_r = "output buffer too small";
		return -1;
	}
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0) {
		*error_r = "empty name";
		return -1;
	}
	if (n > DNS_NAME_MAX) {
		*error_r = "name longer than 253 octets";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0) {
				*error_r = "empty label";
				return -1;
			}
			label = 0;
			out[used++] = '.';
			continue;
		}
		if (++label > DNS_LABEL_MAX) {
			*error_r = "label longer than 63 octets";
			return -1;
		}
		/* At most 4 bytes per octet of DNS_NAME_MAX octets: the
		 * buffer of DNS_NAME_TEXT_MAX always has room. */
		if (dns_name_octet_plain(c))
			out[used++] = (char)tolower(c);
		else
			used += (size_t)snprintf(out + used, outlen - used,
			    "\\%03u", c);
	}
	out[used] = '\0';
	return 0;
}

int
dns_name_normalize(const char *name, unsigned flags, char *out, size_t outlen,
    const char **error_r)
{
	size_t n = strlen(name), used = 0;
	const char *p = name, *end;

	if (outlen < DNS_NAME_MAX + 1) {
		*error_r = "output buffer too small";
		return -1;
	}
	if (n == 0 || strcmp(name, ".") == 0) {
		*error_r = "empty name";
		return -1;
	}
	/* One trailing dot: an absolute name, the same name. */
	end = name + n;
	if (end[-1] == '.')
		end--;

	while (p <= end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		const char *lend = dot != NULL ? dot : end;
		size_t llen = (size_t)(lend - p);
		bool ascii = true;
		char label[DNS_LABEL_MAX + 1];
		size_t alen;

		for (size_t i = 0; i < llen; i++)
			if ((unsigned char)p[i] >= 0x80)
				ascii = false;
		if (ascii) {
			if (llen == 0) {
				*error_r = "empty label";
				return -1;
			}
			if (llen > DNS_LABEL_MAX) {
				*error_r = "label longer than 63 octets";
				return -1;
			}
			for (size_t i = 0; i < llen; i++)
				label[i] = (char)tolower((unsigned char)p[i]);
			alen = llen;
		} else {
			char ulabel[DNS_ULABEL_MAX + 1];
			char *a = NULL;
			int rc;

			if (llen > DNS_ULABEL_MAX) {
				*error_r = "label longer than 63 octets";
				return -1;
			}
			memcpy(ulabel, p, llen);
			ulabel[llen] = '\0';
			rc = idn2_to_ascii_8z(ulabel, &a,
			    IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
			if (rc != IDN2_OK || a == NULL) {
				idn2_free(a);
				*error_r = "invalid international label (IDNA)";
				return -1;
			}
			alen = strlen(a);
			if (alen == 0 || alen > DNS_LABEL_MAX) {
				idn2_free(a);
				*error_r = "label longer than 63 octets";
				return -1;
			}
			for (size_t i = 0; i < alen; i++)
				label[i] = (char)tolower((unsigned char)a[i]);
			idn2_free(a);
		}
		if (dns_name_label_check(label, alen, flags, error_r) < 0)
			return -1;
		/* The label, and a dot before it unless it is the first. */
		if (alen + (used > 0 ? 1 : 0) > DNS_NAME_MAX - used) {
			*error_r = "name longer than 253 characters";
			return -1;
		}
		if (used > 0)
			out[used++] = '.';
		memcpy(out + used, label, alen);
		used += alen;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	out[used] = '\0';
	return 0;
}

int
dns_name_from_wire(const uint8_t *data, size_t len, size_t *pos, char *out,
    size_t outlen)
{
	size_t i = *pos, used = 0, wire = 0;

	if (outlen < DNS_NAME_TEXT_MAX)
		return -1;
	for (;;) {
		unsigned llen;

		if (i >= len)
			return -1;
		llen = data[i++];
		wire++;
		if (llen == 0)
			break;
		/* 0xC0: a compression pointer; 0x40, 0x80: reserved (RFC
		 * 6891 dropped the extended label types). */
		if (llen > DNS_LABEL_MAX)
			return -1;
		if (llen > len - i || llen > DNS_WIRE_NAME_MAX - wire)
			return -1;
		wire += llen;
		if (used > 0)
			out[used++] = '.';
		for (unsigned k = 0; k < llen; k++) {
			unsigned char c = data[i + k];

			/* Room: wire length <= 255, at most 4 chars per
			 * octet, and outlen >= DNS_NAME_TEXT_MAX. */
			if (dns_name_octet_plain(c)) {
				out[used++] = (char)c;
			} else {
				int w = snprintf(out + used, outlen - used,
				    "\\%03u", (unsigned)c);

				if (w != 4)
					return -1;
				used += 4;
			}
		}
		i += llen;
	}
	/* The root label counts too (RFC 1035 3.1: 255 octets or less). */
	if (wire > DNS_WIRE_NAME_MAX)
		return -1;
	if (used == 0)
		out[used++] = '.';
	out[used] = '\0';
	*pos = i;
	return 0;
}

int
dns_ptr_name(int family, const void *addr, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	int w;

	if (outlen < DNS_PTR_NAME_MAX + 1)
		return -1;
	if (family == AF_INET) {
		const uint8_t *b = addr;

		w = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa",
		    b[3], b[2], b[1], b[0]);
		return w > 0 && (size_t)w < outlen ? 0 : -1;
	}
	if (family == AF_INET6) {
		const uint8_t *b = addr;
		size_t used = 0;

		for (int k = 15; k >= 0; k--) {
			out[used++] = hex[b[k] & 0x0f];
			out[used++] = '.';
			out[used++] = hex[b[k] >> 4];
			out[used++] = '.';
		}
		memcpy(out + used, "ip6.arpa", sizeof("ip6.arpa"));
		return 0;
	}
	return -1;
}
