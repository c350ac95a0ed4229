/*
 * fuzz_dns.c - DNS answers and names as the network and mail give them:
 * the rdata parsers behind dns_result_from_ub(), wire names, and
 * dns_name_normalize() on the same bytes as text.
 *
 * Input: one octet choosing the type (A, AAAA, MX, TXT, PTR), then
 * records, each a 2-octet big-endian length and that many octets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DNS_RECORDS 80

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { DNS_TYPE_A, DNS_TYPE_AAAA,
	    DNS_TYPE_MX, DNS_TYPE_TXT, DNS_TYPE_PTR };
	char *rdata[FUZZ_DNS_RECORDS + 1];
	int len[FUZZ_DNS_RECORDS + 1];
	char name[DNS_NAME_TEXT_MAX], norm[DNS_NAME_MAX + 1];
	struct ub_result ub;
	struct dns_result *r;
	const char *error;
	size_t pos = 1, n = 0, wpos = 0;
	char *s;

	if (size < 1 || size > 65536)
		return 0;
	memset(&ub, 0, sizeof(ub));
	while (n < FUZZ_DNS_RECORDS && size - pos >= 2) {
		size_t l = ((size_t)data[pos] << 8) | data[pos + 1];

		pos += 2;
		if (l > size - pos)
			l = size - pos;
		/* Each record in its own allocation, so ASan sees overreads. */
		rdata[n] = malloc(l > 0 ? l : 1);
		if (rdata[n] == NULL)
			abort();
		memcpy(rdata[n], data + pos, l);
		len[n++] = (int)l;
		pos += l;
	}
	rdata[n] = NULL;
	ub.data = rdata;
	ub.len = len;
	ub.havedata = n > 0;
	r = dns_result_from_ub("fuzz.test", types[data[0] % 5], 0, &ub);
	if (r->count + r->malformed != n || (r->status == DNS_OK) !=
	    (r->count > 0))
		abort();
	for (size_t i = 0; i < r->count && r->rrtype == DNS_TYPE_TXT; i++)
		if (r->rr.txt[i].data[r->rr.txt[i].len] != '\0')
			abort();
	dns_result_free(&r);
	for (size_t i = 0; i < n; i++)
		free(rdata[i]);

	(void)dns_name_from_wire(data + 1, size - 1, &wpos, name, sizeof(name));
	s = malloc(size);
	if (s == NULL)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (dns_name_normalize(s, data[0] & 1 ? DNS_NAME_HOST : 0, norm,
	    sizeof(norm), &error) == 0 && strlen(norm) > DNS_NAME_MAX)
		abort();
	free(s);
	return 0;
}
