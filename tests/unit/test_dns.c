/*
 * test_dns.c - unit tests of src/dns without a network: name checks and
 * their limits, wire names, reverse names, the parsing of libunbound's
 * answers (fed struct ub_result values built here), MX ordering with a
 * fixed random source, null MX, and which failures are temporary.
 *
 * SECURITY: test code; the inputs are ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "dns/dns-private.h"
#include "dns/dns-route.h"

/* --- dns_name_escape (SPF names of any octets) --------------------------- */

static void
test_name_escape(void **state)
{
	char out[DNS_NAME_TEXT_MAX], name[300];
	const char *error = NULL;

	(void)state;
	assert_int_equal(dns_name_escape("Foo.Example.ORG.", out, sizeof(out),
	    &error), 0);
	assert_string_equal(out, "foo.example.org");
	/* RFC 2181 11: any octet; escaped as \DDD for libunbound. */
	assert_int_equal(dns_name_escape("macro%percent  space.ex_ample.com",
	    out, sizeof(out), &error), 0);
	assert_string_equal(out, "macro\\037percent\\032\\032space.ex_ample.com");
	assert_int_equal(dns_name_escape("a\\b:c/d\xc3\xa9.test", out,
	    sizeof(out), &error), 0);
	assert_string_equal(out, "a\\092b\\058c\\047d\\195\\169.test");
	/* Limits: labels of 1 to 63 octets, names of 253. */
	assert_int_equal(dns_name_escape("", out, sizeof(out), &error), -1);
	assert_int_equal(dns_name_escape(".", out, sizeof(out), &error), -1);
	assert_int_equal(dns_name_escape("a..b", out, sizeof(out), &error), -1);
	assert_string_equal(error, "empty label");
	assert_int_equal(dns_name_escape(".a", out, sizeof(out), &error), -1);
	memset(name, 'a', 63);
	strcpy(name + 63, ".test");
	assert_int_equal(dns_name_escape(name, out, sizeof(out), &error), 0);
	memset(name, 'a', 64);
	strcpy(name + 64, ".test");
	assert_int_equal(dns_name_escape(name, out, sizeof(out), &error), -1);
	assert_string_equal(error, "label longer than 63 octets");
	/* 253 octets of escapes fill the buffer exactly. */
	for (size_t i = 0; i < 253; i++)
		name[i] = (char)(i % 64 == 63 ? '.' : ' ');
	name[253] = '\0';
	assert_int_equal(dns_name_escape(name, out, sizeof(out), &error), 0);
	assert_true(strlen(out) < sizeof(out));
	name[253] = ' ';
	name[254] = '\0';
	assert_int_equal(dns_name_escape(name, out, sizeof(out), &error), -1);
	assert_int_equal(dns_name_escape("a.b", out, 100, &error), -1);
}

/* --- dns_name_normalize -------------------------------------------------- */

static int
norm(const char *in, unsigned flags, char *out, const char **error)
{
	return dns_name_normalize(in, flags, out, DNS_NAME_MAX + 1, error);
}

static void
test_name_valid(void **state)
{
	char out[DNS_NAME_MAX + 1];
	const char *error = NULL;

	(void)state;
	assert_int_equal(norm("Example.ORG", 0, out, &error), 0);
	assert_string_equal(out, "example.org");
	assert_int_equal(norm("example.org.", 0, out, &error), 0);
	assert_string_equal(out, "example.org");
	assert_int_equal(norm("localhost", DNS_NAME_HOST, out, &error), 0);
	assert_string_equal(out, "localhost");
	assert_int_equal(norm("_dmarc.example.org", 0, out, &error), 0);
	assert_string_equal(out, "_dmarc.example.org");
	assert_int_equal(norm("sel._domainkey.example.org", 0, out, &error), 0);
	/* RFC 1123 2.1: a label may start with a digit. */
	assert_int_equal(norm("1and1.example", DNS_NAME_HOST, out, &error), 0);
	/* IDNA 2008 */
	assert_int_equal(norm("B\xc3\xbc" "cher.example", DNS_NAME_HOST, out,
	    &error), 0);
	assert_string_equal(out, "xn--bcher-kva.example");
	assert_int_equal(norm("_dmarc.b\xc3\xbc" "cher.example", 0, out,
	    &error), 0);
	assert_string_equal(out, "_dmarc.xn--bcher-kva.example");
}

static void
test_name_invalid(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", "a..b", ".a", "a...", "a b", "a\tb", "a@b",
		"a\\.b", "a/b", "a\x7f", "a,b", "\xff\xfe", "\xe2\x98\x83.x",
	};
	char out[DNS_NAME_MAX + 1];
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (norm(bad[i], 0, out, &error) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(error);
	}
	/* Host names: no underscore, no hyphen at either end of a label. */
	assert_int_equal(norm("a_b.example", DNS_NAME_HOST, out, &error), -1);
	assert_int_equal(norm("-a.example", DNS_NAME_HOST, out, &error), -1);
	assert_int_equal(norm("a-.example", DNS_NAME_HOST, out, &error), -1);
	assert_int_equal(norm("a-b.example", DNS_NAME_HOST, out, &error), 0);
	assert_int_equal(norm("-a.example", 0, out, &error), 0);
}

static void
test_name_limits(void **state)
{
	char in[600], out[DNS_NAME_MAX + 1];
	const char *error;

	(void)state;
	/* A label of 63, 64 octets. */
	memset(in, 'a', 63);
	strcpy(in + 63, ".x");
	assert_int_equal(norm(in, 0, out, &error), 0);
	memset(in, 'a', 64);
	strcpy(in + 64, ".x");
	assert_int_equal(norm(in, 0, out, &error), -1);
	assert_non_null(strstr(error, "63"));

	/* Names of 252, 253, 254 characters: labels of 63 and a last one. */
	for (size_t total = 252; total <= 254; total++) {
		size_t n = 0;

		while (total - n > 64) {
			memset(in + n, 'b', 63);
			in[n + 63] = '.';
			n += 64;
		}
		memset(in + n, 'c', total - n);
		in[total] = '\0';
		assert_int_equal(strlen(in), total);
		assert_int_equal(norm(in, 0, out, &error), total <= 253 ? 0 : -1);
		if (total <= 253) {
			assert_string_equal(out, in);
			/* With a trailing dot: the same name, still valid. */
			in[total] = '.';
			in[total + 1] = '\0';
			assert_int_equal(norm(in, 0, out, &error), 0);
			assert_int_equal(strlen(out), total);
		} else {
			assert_non_null(strstr(error, "253"));
		}
	}
	/* A UTF-8 label far too long for libidn2 is refused before it. */
	memset(in, 0, sizeof(in));
	for (size_t i = 0; i + 2 < 500; i += 2)
		memcpy(in + i, "\xc3\xbc", 2);
	assert_int_equal(norm(in, 0, out, &error), -1);
	/* Output buffer too small. */
	assert_int_equal(dns_name_normalize("a.b", 0, out, 10, &error), -1);
}

/* --- dns_name_from_wire ---------------------------------------------------- */

static void
test_wire_name(void **state)
{
	char out[DNS_NAME_TEXT_MAX];
	size_t pos = 0;

	(void)state;
	{
		static const uint8_t w[] = "\x02mx\x07" "example\x03org\x00";

		assert_int_equal(dns_name_from_wire(w, sizeof(w) - 1, &pos, out,
		    sizeof(out)), 0);
		assert_string_equal(out, "mx.example.org");
		assert_int_equal(pos, sizeof(w) - 1);
	}
	{
		static const uint8_t root[] = { 0 };

		pos = 0;
		assert_int_equal(dns_name_from_wire(root, 1, &pos, out,
		    sizeof(out)), 0);
		assert_string_equal(out, ".");
	}
	{
		/* A dot, a space and a control octet inside a label. */
		static const uint8_t w[] = { 4, 'a', '.', ' ', 1, 1, 'b', 0 };

		pos = 0;
		assert_int_equal(dns_name_from_wire(w, sizeof(w), &pos, out,
		    sizeof(out)), 0);
		assert_string_equal(out, "a\\046\\032\\001.b");
	}
	{
		/* A compression pointer; a label running past the end; no
		 * terminating root label. */
		static const uint8_t ptr[] = { 1, 'a', 0xc0, 0x00 };
		static const uint8_t past[] = { 5, 'a', 'b', 0 };
		static const uint8_t noend[] = { 1, 'a' };

		pos = 0;
		assert_int_equal(dns_name_from_wire(ptr, sizeof(ptr), &pos, out,
		    sizeof(out)), -1);
		assert_int_equal(dns_name_from_wire(past, sizeof(past), &pos,
		    out, sizeof(out)), -1);
		assert_int_equal(dns_name_from_wire(noend, sizeof(noend), &pos,
		    out, sizeof(out)), -1);
		assert_int_equal(pos, 0);
	}
	{
		/* 255 octets on the wire is the limit; 256 is refused. Four
		 * labels of 63 (256 octets) + root = 257: too long. Three of
		 * 63 and one of 61: 64*3 + 62 + 1 = 255. */
		uint8_t w[300];
		size_t n = 0;

		for (int l = 0; l < 3; l++) {
			w[n++] = 63;
			memset(w + n, 0xff, 63);	/* worst case for escapes */
			n += 63;
		}
		w[n++] = 61;
		memset(w + n, 'x', 61);
		n += 61;
		w[n++] = 0;
		assert_int_equal(n, 255);
		pos = 0;
		assert_int_equal(dns_name_from_wire(w, n, &pos, out,
		    sizeof(out)), 0);
		assert_int_equal(strlen(out), 3 * 63 * 4 + 3 + 61);
		/* 256 octets: the last label one longer. */
		n = 3 * 64;
		w[n++] = 62;
		memset(w + n, 'x', 62);
		n += 62;
		w[n++] = 0;
		assert_int_equal(n, 256);
		pos = 0;
		assert_int_equal(dns_name_from_wire(w, n, &pos, out,
		    sizeof(out)), -1);
	}
}

static void
test_ptr_name(void **state)
{
	char out[DNS_PTR_NAME_MAX + 1];
	struct in_addr a4;
	struct in6_addr a6;

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.10", &a4), 1);
	assert_int_equal(dns_ptr_name(AF_INET, &a4, out, sizeof(out)), 0);
	assert_string_equal(out, "10.2.0.192.in-addr.arpa");
	assert_int_equal(inet_pton(AF_INET6, "4321:0:1:2:3:4:567:89ab", &a6),
	    1);
	assert_int_equal(dns_ptr_name(AF_INET6, &a6, out, sizeof(out)), 0);
	/* RFC 3596 2.5's example */
	assert_string_equal(out, "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0."
	    "1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa");
	assert_int_equal(strlen(out), DNS_PTR_NAME_MAX);
	assert_int_equal(dns_ptr_name(AF_UNIX, &a4, out, sizeof(out)), -1);
	assert_int_equal(dns_ptr_name(AF_INET6, &a6, out, sizeof(out) - 1),
	    -1);
}

/* --- dns_result_from_ub ---------------------------------------------------- */

/* A struct ub_result of up to 8 records, as libunbound would give it. */
struct fake_ub {
	struct ub_result ub;
	char *data[9];
	int len[9];
};

static void
fake_ub_init(struct fake_ub *f, int rcode)
{
	memset(f, 0, sizeof(*f));
	f->ub.data = f->data;
	f->ub.len = f->len;
	f->ub.rcode = rcode;
	f->ub.nxdomain = rcode == 3;
}

static void
fake_ub_add(struct fake_ub *f, const void *rdata, int len)
{
	size_t n = 0;

	while (f->data[n] != NULL)
		n++;
	f->data[n] = (char *)rdata;
	f->len[n] = len;
	f->ub.havedata = 1;
}

static void
test_parse_mx(void **state)
{
	static const uint8_t mx1[] = "\x00\x0a\x02mx\x07" "example\x00";
	static const uint8_t mx2[] = "\x01\x00\x01.\x00";	/* escaped dot */
	static const uint8_t bad[] = "\x00\x0a\x02mx";	/* truncated */
	struct fake_ub f;
	struct dns_result *r;

	(void)state;
	fake_ub_init(&f, 0);
	fake_ub_add(&f, mx1, sizeof(mx1) - 1);
	fake_ub_add(&f, bad, sizeof(bad) - 1);
	fake_ub_add(&f, mx2, sizeof(mx2) - 1);
	f.ub.ttl = 300;
	f.ub.canonname = "Example.";
	r = dns_result_from_ub("example", DNS_TYPE_MX, 0, &f.ub);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->count, 2);
	assert_int_equal(r->malformed, 1);
	assert_int_equal(r->rr.mx[0].preference, 10);
	assert_string_equal(r->rr.mx[0].exchange, "mx.example");
	assert_int_equal(r->rr.mx[1].preference, 256);
	assert_string_equal(r->rr.mx[1].exchange, "\\046");
	assert_string_equal(r->canonname, "example");
	assert_int_equal(r->ttl, 300);
	assert_false(r->secure);
	dns_result_free(&r);
	assert_null(r);

	/* Every record malformed: an error, temporary. */
	fake_ub_init(&f, 0);
	fake_ub_add(&f, bad, sizeof(bad) - 1);
	r = dns_result_from_ub("example", DNS_TYPE_MX, 0, &f.ub);
	assert_int_equal(r->status, DNS_ERROR);
	assert_true(dns_status_temporary(r->status));
	dns_result_free(&r);
}

static void
test_parse_txt(void **state)
{
	static const uint8_t t1[] = "\x07v=spf1 \x04-all";
	static const uint8_t t2[] = "\x00\x03" "a\x00" "b";	/* NUL inside */
	static const uint8_t bad[] = "\x05" "abc";
	struct fake_ub f;
	struct dns_result *r;

	(void)state;
	fake_ub_init(&f, 0);
	fake_ub_add(&f, t1, sizeof(t1) - 1);
	fake_ub_add(&f, t2, sizeof(t2) - 1);
	fake_ub_add(&f, bad, sizeof(bad) - 1);
	fake_ub_add(&f, "", 0);		/* no character-string at all */
	f.ub.secure = 1;
	r = dns_result_from_ub("example", DNS_TYPE_TXT, 0, &f.ub);
	assert_int_equal(r->status, DNS_OK);
	assert_true(r->secure);
	assert_int_equal(r->count, 2);
	assert_int_equal(r->malformed, 2);
	assert_int_equal(r->rr.txt[0].len, 11);
	assert_string_equal(r->rr.txt[0].data, "v=spf1 -all");
	assert_int_equal(r->rr.txt[1].len, 3);
	assert_memory_equal(r->rr.txt[1].data, "a\0b", 4);
	dns_result_free(&r);
}

static void
test_parse_addresses_and_ptr(void **state)
{
	static const uint8_t a[] = { 127, 0, 0, 1 };
	static const uint8_t a_bad[] = { 127, 0, 0 };
	static const uint8_t aaaa[16] = { [15] = 1 };
	static const uint8_t ptr[] = "\x04host\x04test\x00";
	struct fake_ub f;
	struct dns_result *r;
	char text[INET6_ADDRSTRLEN];

	(void)state;
	fake_ub_init(&f, 0);
	fake_ub_add(&f, a_bad, sizeof(a_bad));
	fake_ub_add(&f, a, sizeof(a));
	r = dns_result_from_ub("h", DNS_TYPE_A, 0, &f.ub);
	assert_int_equal(r->count, 1);
	assert_int_equal(r->malformed, 1);
	assert_string_equal(inet_ntop(AF_INET, &r->rr.a[0], text,
	    sizeof(text)), "127.0.0.1");
	dns_result_free(&r);

	fake_ub_init(&f, 0);
	fake_ub_add(&f, a, sizeof(a));		/* 4 octets: not an AAAA */
	fake_ub_add(&f, aaaa, sizeof(aaaa));
	r = dns_result_from_ub("h", DNS_TYPE_AAAA, 0, &f.ub);
	assert_int_equal(r->count, 1);
	assert_string_equal(inet_ntop(AF_INET6, &r->rr.aaaa[0], text,
	    sizeof(text)), "::1");
	dns_result_free(&r);

	fake_ub_init(&f, 0);
	fake_ub_add(&f, ptr, sizeof(ptr) - 1);
	r = dns_result_from_ub("1.0.0.127.in-addr.arpa", DNS_TYPE_PTR, 0,
	    &f.ub);
	assert_int_equal(r->count, 1);
	assert_string_equal(r->rr.ptr[0], "host.test");
	dns_result_free(&r);
}

static void
test_parse_records_capped(void **state)
{
	static const uint8_t a[] = { 127, 0, 0, 1 };
	struct ub_result ub;
	char *data[DNS_RECORDS_MAX + 2];
	int len[DNS_RECORDS_MAX + 2];
	struct dns_result *r;

	(void)state;
	memset(&ub, 0, sizeof(ub));
	for (size_t i = 0; i < DNS_RECORDS_MAX + 1; i++) {
		data[i] = (char *)a;
		len[i] = 4;
	}
	data[DNS_RECORDS_MAX + 1] = NULL;
	ub.data = data;
	ub.len = len;
	ub.havedata = 1;
	r = dns_result_from_ub("h", DNS_TYPE_A, 0, &ub);
	assert_int_equal(r->count, DNS_RECORDS_MAX);
	assert_int_equal(r->malformed, 1);
	dns_result_free(&r);
}

static void
test_parse_failures(void **state)
{
	struct fake_ub f;
	struct dns_result *r;

	(void)state;
	fake_ub_init(&f, 3);
	r = dns_result_from_ub("nx", DNS_TYPE_A, 0, &f.ub);
	assert_int_equal(r->status, DNS_NXDOMAIN);
	assert_int_equal(r->rcode, 3);
	assert_false(dns_status_temporary(r->status));
	dns_result_free(&r);

	fake_ub_init(&f, 0);
	r = dns_result_from_ub("nodata", DNS_TYPE_MX, 0, &f.ub);
	assert_int_equal(r->status, DNS_NODATA);
	assert_false(dns_status_temporary(r->status));
	assert_int_equal(r->count, 0);
	dns_result_free(&r);

	fake_ub_init(&f, 2);
	r = dns_result_from_ub("sf", DNS_TYPE_A, 0, &f.ub);
	assert_int_equal(r->status, DNS_SERVFAIL);
	assert_true(dns_status_temporary(r->status));
	dns_result_free(&r);

	fake_ub_init(&f, 5);	/* REFUSED */
	r = dns_result_from_ub("ref", DNS_TYPE_A, 0, &f.ub);
	assert_int_equal(r->status, DNS_ERROR);
	assert_true(dns_status_temporary(r->status));
	assert_non_null(strstr(r->error, "RCODE 5"));
	dns_result_free(&r);

	fake_ub_init(&f, 2);
	f.ub.bogus = 1;
	f.ub.why_bogus = "signature expired \"\x01\"";
	r = dns_result_from_ub("bogus", DNS_TYPE_A, 0, &f.ub);
	assert_int_equal(r->status, DNS_BOGUS);
	assert_true(dns_status_temporary(r->status));
	/* Escaped for logs. */
	assert_null(strchr(r->error, '\x01'));
	assert_non_null(strstr(r->error, "signature expired"));
	dns_result_free(&r);

	r = dns_result_from_ub("err", DNS_TYPE_A, UB_SERVFAIL, NULL);
	assert_int_equal(r->status, DNS_ERROR);
	assert_int_equal(r->rcode, -1);
	assert_true(dns_status_temporary(r->status));
	dns_result_free(&r);

	assert_true(dns_status_temporary(DNS_TIMEOUT));
	assert_false(dns_status_temporary(DNS_NULLMX));
	assert_false(dns_status_temporary(DNS_BADNAME));
	assert_false(dns_status_temporary(DNS_OK));
}

static void
test_types(void **state)
{
	(void)state;
	assert_int_equal(dns_type_parse("mx"), DNS_TYPE_MX);
	assert_int_equal(dns_type_parse("AAAA"), DNS_TYPE_AAAA);
	assert_int_equal(dns_type_parse("SOA"), 0);
	assert_string_equal(dns_type_name(DNS_TYPE_TXT), "TXT");
	assert_null(dns_type_name(6));
}

/* --- MX order and null MX -------------------------------------------------- */

static uint32_t test_rand_value;

/* Always the same pick: the highest allowed, or 0. */
static uint32_t
rand_high(uint32_t n)
{
	return n - 1;
}

static uint32_t
rand_zero(uint32_t n)
{
	(void)n;
	return 0;
}

/* A small LCG: deterministic, but not periodic over a few calls. */
static uint32_t
rand_counter(uint32_t n)
{
	test_rand_value = test_rand_value * 1103515245u + 12345u;
	return (test_rand_value >> 16) % n;
}

static void
mx_set(struct dns_mx *mx, const uint16_t *prefs, const char *const *names,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mx[i].preference = prefs[i];
		mx[i].exchange = (char *)names[i];
	}
}

static void
test_mx_sort(void **state)
{
	static const uint16_t prefs[] = { 20, 10, 30, 10, 10, 5 };
	static const char *const names[] = { "d", "a", "e", "b", "c", "first" };
	struct dns_mx mx[6];
	char seen[3][4];
	size_t distinct = 0;

	(void)state;
	mx_set(mx, prefs, names, 6);
	dns_mx_sort(mx, 6, rand_high);	/* identity shuffle */
	assert_int_equal(mx[0].preference, 5);
	assert_string_equal(mx[0].exchange, "first");
	for (int i = 1; i <= 3; i++)
		assert_int_equal(mx[i].preference, 10);
	assert_string_equal(mx[1].exchange, "a");	/* stable sort */
	assert_string_equal(mx[2].exchange, "b");
	assert_string_equal(mx[3].exchange, "c");
	assert_string_equal(mx[4].exchange, "d");
	assert_string_equal(mx[5].exchange, "e");

	mx_set(mx, prefs, names, 6);
	dns_mx_sort(mx, 6, rand_zero);	/* a different order of the 10s */
	assert_string_equal(mx[0].exchange, "first");
	assert_string_equal(mx[4].exchange, "d");
	assert_string_equal(mx[5].exchange, "e");
	assert_string_not_equal(mx[1].exchange, "a");

	/* Every exchange of the run stays in the run, whatever the random
	 * source says; the first one varies with it. */
	test_rand_value = 1;
	for (int round = 0; round < 60; round++) {
		char key[4];
		size_t k;

		mx_set(mx, prefs, names, 6);
		dns_mx_sort(mx, 6, rand_counter);
		key[0] = mx[1].exchange[0];
		key[1] = mx[2].exchange[0];
		key[2] = mx[3].exchange[0];
		key[3] = '\0';
		assert_true(strchr(key, 'a') && strchr(key, 'b') &&
		    strchr(key, 'c'));
		for (k = 0; k < distinct; k++)
			if (seen[k][0] == key[0])
				break;
		if (k == distinct && distinct < 3)
			memcpy(seen[distinct++], key, 4);
	}
	assert_int_equal(distinct, 3);

	dns_mx_sort(mx, 0, rand_zero);	/* nothing to do */
}

static void
test_mx_null(void **state)
{
	struct dns_mx mx[2] = {
		{ 0, (char *)"." },
		{ 10, (char *)"mx.example" },
	};

	(void)state;
	assert_true(dns_mx_is_null(mx, 1));
	assert_false(dns_mx_is_null(mx, 2));	/* "." among others */
	assert_false(dns_mx_is_null(mx + 1, 1));
	assert_false(dns_mx_is_null(mx, 0));
	mx[0].preference = 10;		/* preference is not checked */
	assert_true(dns_mx_is_null(mx, 1));
}

/* --- dns_route_drop_self ------------------------------------------------- */

static struct dns_addr
v4(const char *text)
{
	struct dns_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, text, &a.u.v4), 1);
	return a;
}

static struct dns_addr
v6(const char *text)
{
	struct dns_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, text, &a.u.v6), 1);
	return a;
}

/* RFC 5321 5.1: never to ourselves, nor to those we are preferred to. */
static void
test_route_drop_self(void **state)
{
	struct dns_addr a1 = v4("192.0.2.1"), a2 = v4("192.0.2.2"),
	    a3 = v6("2001:db8::3"), a4 = v4("192.0.2.4");
	struct dns_addr own[2] = { v4("192.0.2.3"), v6("2001:db8::3") };
	struct dns_mx_host hosts[4] = {
		{ "mx1.example", 10, DNS_OK, NULL, 1, &a1 },
		{ "mx2.example", 20, DNS_OK, NULL, 1, &a2 },
		{ "backup.example", 20, DNS_OK, NULL, 1, &a3 },
		{ "mx4.example", 30, DNS_OK, NULL, 1, &a4 },
	};
	struct dns_route r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.hosts = hosts;
	/* we are backup (by address, IPv6): 20 and 30 go, the equal 20
	 * before us too */
	r.n_hosts = 4;
	assert_int_equal(dns_route_drop_self(&r, "me.example", own, 2), 3);
	assert_int_equal(r.n_hosts, 1);
	assert_string_equal(r.hosts[0].name, "mx1.example");
	/* not listed: nothing changes */
	r.n_hosts = 4;
	assert_int_equal(dns_route_drop_self(&r, "me.example", own, 1), 0);
	assert_int_equal(r.n_hosts, 4);
	assert_int_equal(dns_route_drop_self(&r, NULL, NULL, 0), 0);
	/* by name, without case or a final dot */
	assert_int_equal(dns_route_drop_self(&r, "MX4.Example.", NULL, 0), 1);
	assert_int_equal(r.n_hosts, 3);
	/* the best exchange is us: a loop, and the route is kept */
	r.n_hosts = 4;
	assert_int_equal(dns_route_drop_self(&r, "mx1.example.", NULL, 0),
	    -1);
	assert_int_equal(r.n_hosts, 4);
	own[0] = a1;
	assert_int_equal(dns_route_drop_self(&r, "x", own, 1), -1);
	/* an exchange without addresses is still us by name */
	hosts[1].n_addrs = 0;
	hosts[1].addrs = NULL;
	assert_int_equal(dns_route_drop_self(&r, "mx2.example", NULL, 0), 3);
	/* an empty own name matches nothing */
	r.n_hosts = 4;
	assert_int_equal(dns_route_drop_self(&r, "", NULL, 0), 0);
	/* an IPv4 address does not match an IPv6 one of the same bytes */
	own[0] = v6("::c000:204");
	assert_int_equal(dns_route_drop_self(&r, "x", own, 1), 0);
}

/* --- on a loop, with a forwarder that never answers ---------------------- */

struct loop_state {
	struct event_base *base;
	bool in_call;		/* inside dns_query() / dns_mx_route() */
	int answers;
	int want;
	enum dns_status last[8];
	bool called_inside;
	struct dns_route *route;
};

static void
loop_query_cb(void *ctx, struct dns_result *r)
{
	struct loop_state *ls = ctx;

	if (ls->in_call)
		ls->called_inside = true;
	ls->last[ls->answers++ % 8] = r->status;
	dns_result_free(&r);
	if (ls->answers >= ls->want)
		event_base_loopbreak(ls->base);
}

static void
loop_route_cb(void *ctx, struct dns_route *route)
{
	struct loop_state *ls = ctx;

	if (ls->in_call)
		ls->called_inside = true;
	ls->last[ls->answers++ % 8] = route->status;
	dns_route_free(&route);
	if (ls->answers >= ls->want)
		event_base_loopbreak(ls->base);
}

static void
never_cb(void *ctx, struct dns_result *r)
{
	(void)ctx;
	dns_result_free(&r);
	fail_msg("a cancelled query's callback was called");
}

static void
never_route_cb(void *ctx, struct dns_route *route)
{
	(void)ctx;
	dns_route_free(&route);
	fail_msg("a cancelled route's callback was called");
}

/*
 * Cancelling (a session that goes away), bad names answered from the
 * loop and not from inside the call, the timeout, and dns_free() with
 * queries still pending. The forwarder is a UDP socket that reads
 * nothing, so no answer ever comes from the network.
 */
static void
test_loop_cancel_timeout(void **state)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct config cfg;
	struct loop_state ls;
	struct dns *dns;
	struct dns_query *q1, *q2, *q3;
	struct dns_route_req *rq;
	const char *error = NULL;
	char fwd[64];
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	assert_true(snprintf(fwd, sizeof(fwd), "127.0.0.1@%u",
	    (unsigned)ntohs(sin.sin_port)) > 0);

	memset(&cfg, 0, sizeof(cfg));
	cfg.dns_resolver = fwd;
	cfg.dns_timeout = 1;
	memset(&ls, 0, sizeof(ls));
	ls.base = event_base_new();
	assert_non_null(ls.base);
	dns = dns_new(ls.base, &cfg, &error);
	assert_non_null(dns);

	/* Cancelled at once, and after the loop ran: never called. */
	q1 = dns_query(dns, "cancel.test", DNS_TYPE_MX, never_cb, NULL);
	q2 = dns_query(dns, "later.test", DNS_TYPE_TXT, never_cb, NULL);
	dns_query_cancel(&q1);
	assert_null(q1);
	dns_query_cancel(&q1);		/* NULL: nothing */
	rq = dns_mx_route(dns, "route.test", never_route_cb, NULL);

	/* Answered from the loop: a bad name, a bad domain, a timeout. */
	ls.in_call = true;
	q3 = dns_query(dns, "bad..name", DNS_TYPE_A, loop_query_cb, &ls);
	(void)q3;
	(void)dns_mx_route(dns, "bad_domain.test", loop_route_cb, &ls);
	(void)dns_query(dns, "timeout.test", DNS_TYPE_A, loop_query_cb, &ls);
	ls.in_call = false;
	/* q2, the MX query of rq, the bad name, the timeout */
	assert_int_equal(dns_pending(dns), 4);
	ls.want = 2;
	event_base_dispatch(ls.base);
	assert_false(ls.called_inside);
	assert_int_equal(ls.answers, 2);
	assert_int_equal(ls.last[0], DNS_BADNAME);
	assert_int_equal(ls.last[1], DNS_BADNAME);
	dns_query_cancel(&q2);
	dns_route_cancel(&rq);
	assert_null(rq);

	ls.want = 3;
	event_base_dispatch(ls.base);
	assert_int_equal(ls.answers, 3);
	assert_int_equal(ls.last[2], DNS_TIMEOUT);
	assert_int_equal(dns_pending(dns), 0);

	/* Freed with a query and a route pending: no callback, no leak. */
	(void)dns_query(dns, "pending.test", DNS_TYPE_A, never_cb, NULL);
	rq = dns_mx_route(dns, "pending.test", never_route_cb, NULL);
	dns_route_cancel(&rq);	/* routes are cancelled before dns_free */
	dns_free(&dns);
	assert_null(dns);
	event_base_free(ls.base);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_escape),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_invalid),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_wire_name),
		cmocka_unit_test(test_ptr_name),
		cmocka_unit_test(test_parse_mx),
		cmocka_unit_test(test_parse_txt),
		cmocka_unit_test(test_parse_addresses_and_ptr),
		cmocka_unit_test(test_parse_records_capped),
		cmocka_unit_test(test_parse_failures),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_mx_sort),
		cmocka_unit_test(test_mx_null),
		cmocka_unit_test(test_route_drop_self),
		cmocka_unit_test(test_loop_cancel_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
