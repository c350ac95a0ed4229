/*
 * test_milter.c - the milter codec (filter/milter-proto.c): the packet
 * reader (limits at max-1/max/max+1, byte at a time), every reply type
 * with valid, malformed and hostile data, the negotiation masks, the
 * encoders byte for byte, the header split and the header changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/buf.h"
#include "core/config.h"
#include "filter/milter.h"

/* A packet on the wire: length, cmd, data. */
static size_t
wire(unsigned char *out, unsigned char cmd, const void *data, size_t len)
{
	uint32_t n = (uint32_t)len + 1;

	out[0] = (unsigned char)(n >> 24);
	out[1] = (unsigned char)(n >> 16);
	out[2] = (unsigned char)(n >> 8);
	out[3] = (unsigned char)n;
	out[4] = cmd;
	if (len > 0)
		memcpy(out + 5, data, len);
	return len + 5;
}

/* Parses one reply from cmd and data (len bytes); returns the parse. */
static int
parse(unsigned char cmd, const void *data, size_t len, struct milter_reply *r,
    const char **error)
{
	struct milter_packet p = { cmd, data, len };

	*error = NULL;
	return milter_reply_parse(&p, r, error);
}

/* Same, for a NUL-terminated string sent with its NUL. */
static int
parse_str(unsigned char cmd, const char *s, struct milter_reply *r)
{
	const char *error;

	return parse(cmd, s, strlen(s) + 1, r, &error);
}

/* ---- reader ---- */

static void
test_reader_whole_and_bytewise(void **state)
{
	unsigned char w[64];
	struct milter_reader r;
	struct milter_packet p;
	size_t n, used, total = 0;
	int packets = 0;

	(void)state;
	n = wire(w, 'y', "550 x", 6);
	n += wire(w + n, 'c', NULL, 0);

	/* All at once: the first packet uses only its own bytes. */
	milter_reader_init(&r, 100);
	assert_int_equal(milter_reader_feed(&r, w, n, &used, &p),
	    MILTER_READ_PACKET);
	assert_int_equal(used, 11);
	assert_int_equal(p.cmd, 'y');
	assert_int_equal(p.data_len, 6);
	assert_memory_equal(p.data, "550 x", 6);
	assert_int_equal(milter_reader_feed(&r, w + used, n - used, &used, &p),
	    MILTER_READ_PACKET);
	assert_int_equal(used, 5);
	assert_int_equal(p.cmd, 'c');
	assert_int_equal(p.data_len, 0);
	assert_int_equal(milter_reader_feed(&r, w, 0, &used, &p),
	    MILTER_READ_MORE);
	milter_reader_free(&r);

	/* One byte at a time: the same packets. */
	milter_reader_init(&r, 100);
	for (size_t i = 0; i < n; i++) {
		enum milter_read_status st = milter_reader_feed(&r, w + i, 1,
		    &used, &p);

		assert_int_equal(used, 1);
		total += used;
		if (st == MILTER_READ_PACKET) {
			packets++;
			if (packets == 1) {
				assert_int_equal(i, 10);
				assert_int_equal(p.cmd, 'y');
				assert_memory_equal(p.data, "550 x", 6);
			} else {
				assert_int_equal(i, n - 1);
				assert_int_equal(p.cmd, 'c');
			}
		} else {
			assert_int_equal(st, MILTER_READ_MORE);
		}
	}
	assert_int_equal(packets, 2);
	assert_int_equal(total, n);
	milter_reader_free(&r);
}

static void
test_reader_limits(void **state)
{
	static unsigned char w[MILTER_PACKET_MAX + 8];
	struct milter_reader r;
	struct milter_packet p;
	size_t used;

	(void)state;
	memset(w, 'x', sizeof(w));
	/* max - 1 and max: read whole */
	for (size_t len = MILTER_PACKET_MAX - 1; len <= MILTER_PACKET_MAX;
	    len++) {
		size_t n = wire(w, 'b', w + 5, len - 1);

		milter_reader_init(&r, MILTER_PACKET_MAX);
		assert_int_equal(milter_reader_feed(&r, w, n, &used, &p),
		    MILTER_READ_PACKET);
		assert_int_equal(used, n);
		assert_int_equal(p.data_len, len - 1);
		milter_reader_free(&r);
	}
	/* max + 1: refused as soon as the length is in, before any data */
	wire(w, 'b', NULL, 0);
	w[0] = (unsigned char)((MILTER_PACKET_MAX + 1) >> 24);
	w[1] = (unsigned char)((MILTER_PACKET_MAX + 1) >> 16);
	w[2] = (unsigned char)((MILTER_PACKET_MAX + 1) >> 8);
	w[3] = (unsigned char)(MILTER_PACKET_MAX + 1);
	milter_reader_init(&r, MILTER_PACKET_MAX);
	assert_int_equal(milter_reader_feed(&r, w, 3, &used, &p),
	    MILTER_READ_MORE);
	assert_int_equal(milter_reader_feed(&r, w + 3, 100, &used, &p),
	    MILTER_READ_TOO_BIG);
	assert_int_equal(used, 1);
	milter_reader_free(&r);
	/* A hostile 4 GB length too. */
	memset(w, 0xff, 4);
	milter_reader_init(&r, MILTER_PACKET_MAX);
	assert_int_equal(milter_reader_feed(&r, w, 4, &used, &p),
	    MILTER_READ_TOO_BIG);
	milter_reader_free(&r);
	/* Length 0: no command byte. */
	memset(w, 0, 8);
	milter_reader_init(&r, MILTER_PACKET_MAX);
	assert_int_equal(milter_reader_feed(&r, w, 8, &used, &p),
	    MILTER_READ_EMPTY);
	assert_int_equal(used, 4);
	milter_reader_free(&r);
}

/* ---- replies ---- */

static void
test_reply_simple(void **state)
{
	static const struct {
		unsigned char cmd;
		enum milter_reply_type type;
	} t[] = {
		{ 'a', MILTER_REPLY_ACCEPT }, { 'c', MILTER_REPLY_CONTINUE },
		{ 'r', MILTER_REPLY_REJECT }, { 't', MILTER_REPLY_TEMPFAIL },
		{ 'd', MILTER_REPLY_DISCARD }, { 'p', MILTER_REPLY_PROGRESS },
		{ 's', MILTER_REPLY_SKIP }, { '4', MILTER_REPLY_SHUTDOWN },
		{ 'f', MILTER_REPLY_SHUTDOWN },
	};
	struct milter_reply r;
	const char *error;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(parse(t[i].cmd, NULL, 0, &r, &error), 0);
		assert_int_equal(r.type, t[i].type);
		/* these carry nothing */
		assert_int_equal(parse(t[i].cmd, "x", 1, &r, &error), -1);
		assert_non_null(error);
	}
	/* Envelope and body changes parse, to be refused. */
	assert_int_equal(parse('e', "<a@b>", 6, &r, &error), 0);
	assert_int_equal(r.type, MILTER_REPLY_OTHER_MOD);
	assert_int_equal(parse('+', "<a@b>", 6, &r, &error), 0);
	assert_int_equal(r.type, MILTER_REPLY_OTHER_MOD);
	assert_int_equal(parse('b', "body", 4, &r, &error), 0);
	assert_int_equal(r.type, MILTER_REPLY_OTHER_MOD);
	/* Unknown, and the MTA's own commands, are errors. */
	assert_int_equal(parse('Z', NULL, 0, &r, &error), -1);
	assert_int_equal(parse('B', NULL, 0, &r, &error), -1);
	assert_int_equal(parse(0, NULL, 0, &r, &error), -1);
}

static void
test_reply_optneg_and_masks(void **state)
{
	unsigned char d[20];
	struct milter_reply r;
	const char *error;
	uint32_t a, p;

	(void)state;
	memset(d, 0, sizeof(d));
	d[3] = 6;
	d[4] = 0; d[5] = 0; d[6] = 0x01; d[7] = 0xff;	/* every action */
	d[8] = 0xff; d[9] = 0xff; d[10] = 0xff; d[11] = 0xff;
	assert_int_equal(parse('O', d, 12, &r, &error), 0);
	assert_int_equal(r.type, MILTER_REPLY_OPTNEG);
	assert_int_equal(r.version, 6);
	assert_int_equal(r.actions, 0x1ff);
	assert_int_equal(r.protocol, 0xffffffffu);
	assert_int_equal(milter_negotiate(&r, &a, &p, &error), 0);
	/* masked with the offer: no body, envelope or symlist change, no
	 * RCPT_REJ, no bigger packets */
	assert_int_equal(a, MILTER_ACT_ADDHDRS | MILTER_ACT_CHGHDRS |
	    MILTER_ACT_QUARANTINE);
	assert_int_equal(p, MILTER_PROTOCOL_OFFERED);
	assert_int_equal(p & MILTER_P_RCPT_REJ, 0);
	assert_int_equal(p & 0x10000000u, 0);
	/* only what the milter asked, when that is less */
	d[7] = MILTER_ACT_ADDHDRS;
	d[8] = 0; d[9] = 0; d[10] = 0x10; d[11] = 0x01;	/* NR_CONN|NOCONNECT */
	assert_int_equal(parse('O', d, 12, &r, &error), 0);
	assert_int_equal(milter_negotiate(&r, &a, &p, &error), 0);
	assert_int_equal(a, MILTER_ACT_ADDHDRS);
	assert_int_equal(p, MILTER_P_NR_CONN | MILTER_P_NOCONNECT);
	/* macro lists after the words are allowed */
	assert_int_equal(parse('O', d, 20, &r, &error), 0);
	/* too short */
	assert_int_equal(parse('O', d, 11, &r, &error), -1);
	/* versions */
	d[3] = 1;
	assert_int_equal(parse('O', d, 12, &r, &error), 0);
	assert_int_equal(milter_negotiate(&r, &a, &p, &error), -1);
	d[3] = 2;
	assert_int_equal(parse('O', d, 12, &r, &error), 0);
	assert_int_equal(milter_negotiate(&r, &a, &p, &error), 0);
	d[3] = 7;
	assert_int_equal(parse('O', d, 12, &r, &error), 0);
	assert_int_equal(milter_negotiate(&r, &a, &p, &error), -1);
	/* negotiate wants an OPTNEG */
	assert_int_equal(parse('c', NULL, 0, &r, &error), 0);
	assert_int_equal(milter_negotiate(&r, &a, &p, &error), -1);
}

/* A multi-line 550 reply of exactly want bytes: lines of 100
 * ("550-" + 96 + CRLF), the last one cut to fit. Returns the parse. */
static int
replycode_of_len(size_t want, struct milter_reply *r)
{
	char *s = malloc(want + 1);
	size_t pos = 0;
	int ret;

	while (want - pos > 110) {
		memcpy(s + pos, "550-", 4);
		memset(s + pos + 4, 'b', 96);
		memcpy(s + pos + 100, "\r\n", 2);
		pos += 102;
	}
	memcpy(s + pos, "550 ", 4);
	memset(s + pos + 4, 'c', want - pos - 4);
	s[want] = '\0';
	assert_int_equal(strlen(s), want);
	ret = parse_str('y', s, r);
	free(s);
	return ret;
}

static void
test_reply_replycode(void **state)
{
	struct milter_reply r;
	const char *error;
	char big[MILTER_REPLY_MAX + 16];

	(void)state;
	assert_int_equal(parse_str('y', "550 5.7.1 Go away", &r), 0);
	assert_int_equal(r.type, MILTER_REPLY_REPLYCODE);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.text, "550 5.7.1 Go away");
	assert_int_equal(r.text_len, 17);
	assert_int_equal(parse_str('y', "451 4.7.1 later", &r), 0);
	assert_int_equal(r.code, 451);
	assert_int_equal(parse_str('y', "554", &r), 0);
	assert_int_equal(parse_str('y', "550 no enhanced code", &r), 0);
	assert_int_equal(parse_str('y', "550-5.7.1 one\r\n550 5.7.1 two", &r),
	    0);
	assert_int_equal(r.code, 550);

	/* not 4xx/5xx, malformed codes */
	assert_int_equal(parse_str('y', "250 ok", &r), -1);
	assert_int_equal(parse_str('y', "350 go on", &r), -1);
	assert_int_equal(parse_str('y', "55", &r), -1);
	assert_int_equal(parse_str('y', "5x0 no", &r), -1);
	assert_int_equal(parse_str('y', "590 no", &r), -1);
	assert_int_equal(parse_str('y', "", &r), -1);
	assert_int_equal(parse_str('y', "550x", &r), -1);
	/* lines: continuation marks, codes, breaks */
	assert_int_equal(parse_str('y', "550-5.7.1 only", &r), -1);
	assert_int_equal(parse_str('y', "550 a\r\n550 b", &r), -1);
	assert_int_equal(parse_str('y', "550-a\r\n451 b", &r), -1);
	assert_int_equal(parse_str('y', "550 a\r\n", &r), -1);
	assert_int_equal(parse_str('y', "550-a\r\n", &r), -1);
	assert_int_equal(parse_str('y', "550 a\nX-Injected: 1", &r), -1);
	assert_int_equal(parse_str('y', "550 a\rb", &r), -1);
	assert_int_equal(parse_str('y', "550 bell\a", &r), -1);
	assert_int_equal(parse_str('y', "550 caf\xc3\xa9", &r), -1);
	/* enhanced status codes */
	assert_int_equal(parse_str('y', "550 4.7.1 wrong class", &r), -1);
	assert_int_equal(parse_str('y', "451 5.7.1 wrong class", &r), -1);
	assert_int_equal(parse_str('y', "550 5.7 short", &r), -1);
	assert_int_equal(parse_str('y', "550 5.7.1234 long", &r), -1);
	assert_int_equal(parse_str('y', "550 5.7.1x", &r), -1);
	assert_int_equal(parse_str('y', "550 5.100.100 ok", &r), 0);
	/* termination: exactly one NUL, at the end */
	assert_int_equal(parse('y', "550 a", 5, &r, &error), -1);
	assert_int_equal(parse('y', "550 a\0b", 8, &r, &error), -1);
	assert_int_equal(parse('y', "550 a\0\0", 7, &r, &error), -1);
	assert_int_equal(parse('y', NULL, 0, &r, &error), -1);

	/* one line at MILTER_REPLY_LINE_MAX, and one more */
	memset(big, 'a', sizeof(big));
	memcpy(big, "550 ", 4);
	big[MILTER_REPLY_LINE_MAX] = '\0';
	assert_int_equal(parse_str('y', big, &r), 0);
	big[MILTER_REPLY_LINE_MAX] = 'a';
	big[MILTER_REPLY_LINE_MAX + 1] = '\0';
	assert_int_equal(parse_str('y', big, &r), -1);

	/* the whole reply at MILTER_REPLY_MAX - 1, MAX and MAX + 1 */
	assert_int_equal(replycode_of_len(MILTER_REPLY_MAX - 1, &r), 0);
	assert_int_equal(replycode_of_len(MILTER_REPLY_MAX, &r), 0);
	assert_int_equal(replycode_of_len(MILTER_REPLY_MAX + 1, &r), -1);
}

static void
test_reply_quarantine(void **state)
{
	static char big[MILTER_QUARANTINE_MAX + 4];
	struct milter_reply r;
	const char *error;

	(void)state;
	assert_int_equal(parse_str('q', "Infected (Eicar)", &r), 0);
	assert_int_equal(r.type, MILTER_REPLY_QUARANTINE);
	assert_string_equal(r.text, "Infected (Eicar)");
	assert_int_equal(parse('q', "x", 1, &r, &error), -1);
	memset(big, 'q', sizeof(big));
	big[MILTER_QUARANTINE_MAX] = '\0';
	assert_int_equal(parse_str('q', big, &r), 0);
	big[MILTER_QUARANTINE_MAX] = 'q';
	big[MILTER_QUARANTINE_MAX + 1] = '\0';
	assert_int_equal(parse_str('q', big, &r), -1);
}

/* name NUL value NUL, with an optional index in front. */
static size_t
hdr(unsigned char *out, int index, const char *name, const char *value)
{
	size_t n = 0;

	if (index >= 0) {
		out[0] = 0; out[1] = 0; out[2] = 0;
		out[3] = (unsigned char)index;
		n = 4;
	}
	memcpy(out + n, name, strlen(name) + 1);
	n += strlen(name) + 1;
	memcpy(out + n, value, strlen(value) + 1);
	return n + strlen(value) + 1;
}

static void
test_reply_headers(void **state)
{
	static unsigned char d[MILTER_HEADER_VALUE_MAX + 512];
	static char big[MILTER_HEADER_VALUE_MAX + 4];
	struct milter_reply r;
	const char *error;
	size_t n;

	(void)state;
	n = hdr(d, -1, "X-Virus-Scanned", "ClamAV");
	assert_int_equal(parse('h', d, n, &r, &error), 0);
	assert_int_equal(r.type, MILTER_REPLY_ADDHEADER);
	assert_string_equal(r.name, "X-Virus-Scanned");
	assert_string_equal(r.value, "ClamAV");
	n = hdr(d, 2, "X-Spam", "");
	assert_int_equal(parse('m', d, n, &r, &error), 0);
	assert_int_equal(r.type, MILTER_REPLY_CHGHEADER);
	assert_int_equal(r.index, 2);
	assert_int_equal(r.value_len, 0);
	n = hdr(d, 0, "DKIM-Signature", "v=1;\n\tb=abc");
	assert_int_equal(parse('i', d, n, &r, &error), 0);
	assert_int_equal(r.type, MILTER_REPLY_INSHEADER);
	assert_int_equal(r.index, 0);
	n = hdr(d, -1, "X-Fold", "a\r\n b");
	assert_int_equal(parse('h', d, n, &r, &error), 0);
	n = hdr(d, -1, "X-Utf8", "caf\xc3\xa9");
	assert_int_equal(parse('h', d, n, &r, &error), 0);

	/* hostile: injection, header end, controls, bad names */
	n = hdr(d, -1, "X-A", "1\r\nX-Injected: yes");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "X-A", "1\nX-Injected: yes");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "X-A", "1\r\n\r\nbody");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "X-A", "ends in a break\n");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "X-A", "bare\rcr");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "X-A", "esc\x1b[31m");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "X-A", "del\x7f");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "X:A", "v");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "X A", "v");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	n = hdr(d, -1, "", "v");
	assert_int_equal(parse('h', d, n, &r, &error), -1);
	/* framing: missing NULs, bytes after, no index */
	assert_int_equal(parse('h', "X-A\0v", 5, &r, &error), -1);
	assert_int_equal(parse('h', "X-A", 3, &r, &error), -1);
	assert_int_equal(parse('h', "X-A\0v\0z", 7, &r, &error), -1);
	assert_int_equal(parse('m', "\0\0\0", 3, &r, &error), -1);
	assert_int_equal(parse('m', "\0\0\0\1X\0", 6, &r, &error), -1);

	/* name at MILTER_HEADER_NAME_MAX - 1, MAX, MAX + 1 */
	for (int delta = -1; delta <= 1; delta++) {
		memset(big, 'N', sizeof(big));
		big[MILTER_HEADER_NAME_MAX + delta] = '\0';
		n = hdr(d, -1, big, "v");
		assert_int_equal(parse('h', d, n, &r, &error),
		    delta <= 0 ? 0 : -1);
	}
	/* value at MILTER_HEADER_VALUE_MAX - 1, MAX, MAX + 1 */
	for (int delta = -1; delta <= 1; delta++) {
		memset(big, 'v', sizeof(big));
		big[MILTER_HEADER_VALUE_MAX + delta] = '\0';
		n = hdr(d, 1, "X-Big", big);
		assert_int_equal(parse('m', d, n, &r, &error),
		    delta <= 0 ? 0 : -1);
	}
}

/* ---- encoders ---- */

static void
test_encoders(void **state)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct buf b;
	const char *nv[] = { "j", "mx.example.test", "{skip}", NULL,
	    "{daemon_name}", "smtp" };
	unsigned char head[5];

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(milter_put_optneg(&b, 6, 0x31, 0x1fffff), 0);
	assert_int_equal(b.len, 17);
	assert_memory_equal(b.data, "\0\0\0\x0dO\0\0\0\x06\0\0\0\x31"
	    "\0\x1f\xff\xff", 17);

	buf_reset(&b);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(2525);
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	assert_int_equal(milter_put_connect(&b, "[192.0.2.7]",
	    (struct sockaddr *)&sin), 0);
	assert_int_equal(b.len, 5 + 12 + 1 + 2 + 10);
	assert_memory_equal(b.data, "\0\0\0\x1a" "C[192.0.2.7]\0" "4\x09\xdd"
	    "192.0.2.7\0", b.len);

	buf_reset(&b);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(25);
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	assert_int_equal(milter_put_connect(&b, "h",
	    (struct sockaddr *)&sin6), 0);
	assert_memory_equal(b.data + 4, "Ch\0" "6\0\x19" "2001:db8::1\0",
	    b.len - 4);

	buf_reset(&b);
	assert_int_equal(milter_put_connect(&b, "localhost", NULL), 0);
	assert_memory_equal(b.data, "\0\0\0\x0c" "Clocalhost\0U", b.len);

	buf_reset(&b);
	assert_int_equal(milter_put_macros(&b, 'C', nv, 3), 0);
	assert_memory_equal(b.data + 4, "DC" "j\0mx.example.test\0"
	    "{daemon_name}\0smtp\0", b.len - 4);

	buf_reset(&b);
	assert_int_equal(milter_put_mail(&b, "a@example.org"), 0);
	assert_memory_equal(b.data, "\0\0\0\x11" "M<a@example.org>\0", b.len);
	buf_reset(&b);
	assert_int_equal(milter_put_mail(&b, ""), 0);
	assert_memory_equal(b.data, "\0\0\0\x04" "M<>\0", b.len);
	buf_reset(&b);
	assert_int_equal(milter_put_rcpt(&b, "u@x"), 0);
	assert_memory_equal(b.data, "\0\0\0\x07" "R<u@x>\0", b.len);
	buf_reset(&b);
	assert_int_equal(milter_put_helo(&b, "client.example"), 0);
	assert_memory_equal(b.data, "\0\0\0\x10" "Hclient.example\0", b.len);
	buf_reset(&b);
	assert_int_equal(milter_put_header(&b, "Subject", 7, "hi", 2), 0);
	assert_memory_equal(b.data, "\0\0\0\x0c" "LSubject\0hi\0", b.len);
	buf_reset(&b);
	assert_int_equal(milter_put_simple(&b, 'E'), 0);
	assert_int_equal(milter_put_simple(&b, 'Q'), 0);
	assert_memory_equal(b.data, "\0\0\0\x01" "E" "\0\0\0\x01" "Q", 10);
	milter_body_head(head, 65535);
	assert_memory_equal(head, "\0\x01\0\0B", 5);

	/* A packet never passes MILTER_PACKET_MAX. */
	buf_reset(&b);
	{
		char *big = malloc(MILTER_PACKET_MAX);

		memset(big, 'x', MILTER_PACKET_MAX);
		assert_int_equal(milter_put_packet(&b, 'B', big,
		    MILTER_PACKET_MAX - 1), 0);
		assert_int_equal(milter_put_packet(&b, 'B', big,
		    MILTER_PACKET_MAX), -1);
		free(big);
	}
	/* and never passes out's max, leaving out as it was */
	buf_release(&b);
	buf_init(&b, 8);
	assert_int_equal(milter_put_mail(&b, "long@example.org"), -1);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

/* ---- the message's header ---- */

static void
test_fields(void **state)
{
	static const char msg[] =
	    "From: a@example.org\r\n"
	    "Subject: two\r\n\tlines\r\n"
	    "X-Empty:\r\n"
	    "\r\n"
	    "Body: not a field\r\n";
	struct milter_field f;
	struct buf v;
	size_t pos = 0;

	(void)state;
	buf_init(&v, 1000);
	assert_int_equal(milter_field_next(msg, sizeof(msg) - 1, &pos, &f), 1);
	assert_int_equal(f.name_len, 4);
	assert_memory_equal(f.name, "From", 4);
	assert_int_equal(milter_field_value(&f, false, &v), 0);
	assert_string_equal(v.data, "a@example.org");
	buf_reset(&v);
	assert_int_equal(milter_field_value(&f, true, &v), 0);
	assert_string_equal(v.data, " a@example.org");
	buf_reset(&v);
	assert_int_equal(milter_field_next(msg, sizeof(msg) - 1, &pos, &f), 1);
	assert_memory_equal(f.name, "Subject", 7);
	assert_int_equal(milter_field_value(&f, false, &v), 0);
	assert_string_equal(v.data, "two\n\tlines");	/* LF folds */
	assert_int_equal(f.end - f.start, strlen("Subject: two\r\n\tlines\r\n"));
	buf_reset(&v);
	assert_int_equal(milter_field_next(msg, sizeof(msg) - 1, &pos, &f), 1);
	assert_int_equal(f.value_len, 0);
	assert_int_equal(milter_field_next(msg, sizeof(msg) - 1, &pos, &f), 0);
	/* the body starts after the empty line */
	assert_string_equal(msg + pos, "Body: not a field\r\n");

	/* a line that is not a field ends the header there */
	pos = 0;
	assert_int_equal(milter_field_next("A: 1\r\nno colon here\r\n", 22,
	    &pos, &f), 1);
	assert_int_equal(milter_field_next("A: 1\r\nno colon here\r\n", 22,
	    &pos, &f), 0);
	assert_int_equal(pos, 6);
	/* header only, no CRLF at the end */
	pos = 0;
	assert_int_equal(milter_field_next("A: 1", 4, &pos, &f), 1);
	assert_int_equal(f.value_len, 2);
	assert_int_equal(milter_field_next("A: 1", 4, &pos, &f), 0);
	assert_int_equal(pos, 4);
	/* empty message */
	pos = 0;
	assert_int_equal(milter_field_next("", 0, &pos, &f), 0);
	/* byte-wise growth never reads past len */
	for (size_t len = 0; len < sizeof(msg) - 1; len++) {
		char *copy = malloc(len + 1);

		memcpy(copy, msg, len);
		pos = 0;
		while (milter_field_next(copy, len, &pos, &f) == 1)
			assert_true(f.end <= len);
		assert_true(pos <= len);
		free(copy);
	}
	buf_release(&v);
}

/* ---- header changes ---- */

static void
mod(struct milter_mod *m, unsigned char cmd, int index, const char *name,
    const char *value, bool leadspc)
{
	unsigned char d[512];
	struct milter_reply r;
	const char *error;
	size_t n = hdr(d, cmd == 'h' ? -1 : index, name, value);

	assert_int_equal(parse(cmd, d, n, &r, &error), 0);
	milter_mod_from_reply(m, &r, leadspc);
}

static void
apply(struct milter_mod *m, size_t n, const char *msg, const char *want)
{
	struct buf out;

	buf_init(&out, 1 << 16);
	assert_int_equal(milter_mods_apply(m, n, msg, strlen(msg), &out), 0);
	assert_string_equal(out.data, want);
	buf_release(&out);
	for (size_t i = 0; i < n; i++)
		milter_mod_clear(&m[i]);
}

static void
test_mods(void **state)
{
	static const char msg[] = "Received: one\r\nSubject: s\r\n"
	    "X-Spam: old1\r\nx-spam: old2\r\n\r\nbody\r\n";
	struct milter_mod m[4];
	struct buf small;

	(void)state;
	mod(&m[0], 'h', 0, "X-Virus-Scanned", "ClamAV", false);
	assert_string_equal(milter_mod_name(&m[0]), "add");
	assert_string_equal(m[0].value, " ClamAV");
	apply(m, 1, msg, "Received: one\r\nSubject: s\r\n"
	    "X-Spam: old1\r\nx-spam: old2\r\nX-Virus-Scanned: ClamAV\r\n"
	    "\r\nbody\r\n");

	/* insert at the top, and past the end (appends) */
	mod(&m[0], 'i', 0, "DKIM-Signature", "v=1;\n\tb=x", false);
	mod(&m[1], 'i', 99, "X-Last", "z", false);
	apply(m, 2, msg, "DKIM-Signature: v=1;\r\n\tb=x\r\nReceived: one\r\n"
	    "Subject: s\r\nX-Spam: old1\r\nx-spam: old2\r\nX-Last: z\r\n"
	    "\r\nbody\r\n");

	/* change the 2nd X-Spam (any case), delete the 1st, change a
	 * missing one (added), delete a missing one (nothing) */
	mod(&m[0], 'm', 2, "X-SPAM", "new2", false);
	mod(&m[1], 'm', 1, "X-Spam", "", false);
	assert_string_equal(milter_mod_name(&m[1]), "delete");
	mod(&m[2], 'm', 1, "X-Status", "added", false);
	mod(&m[3], 'm', 3, "Subject", "", false);
	apply(m, 4, msg, "Received: one\r\nSubject: s\r\nX-SPAM: new2\r\n"
	    "X-Status: added\r\n\r\nbody\r\n");

	/* index 0 of a change means the first */
	mod(&m[0], 'm', 0, "Subject", "[SPAM] s", false);
	apply(m, 1, msg, "Received: one\r\nSubject: [SPAM] s\r\n"
	    "X-Spam: old1\r\nx-spam: old2\r\n\r\nbody\r\n");

	/* with HDR_LEADSPC the value is taken as it is */
	mod(&m[0], 'h', 0, "X-Tight", "v", true);
	apply(m, 1, "A: 1\r\n\r\n", "A: 1\r\nX-Tight:v\r\n\r\n");

	/* no header at all; no blank line */
	mod(&m[0], 'h', 0, "X-A", "1", false);
	apply(m, 1, "", "X-A: 1\r\n");
	mod(&m[0], 'h', 0, "X-A", "1", false);
	apply(m, 1, "A: 1\r\nnot a field\r\n",
	    "A: 1\r\nX-A: 1\r\nnot a field\r\n");

	/* out's max is respected */
	mod(&m[0], 'h', 0, "X-A", "1", false);
	buf_init(&small, 10);
	assert_int_equal(milter_mods_apply(m, 1, msg, strlen(msg), &small),
	    -1);
	assert_true(small.len <= 10);
	buf_release(&small);
	milter_mod_clear(&m[0]);
}

/* ---- [milter] specs ---- */

static void
test_specs(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *error;
	char path[200];

	(void)state;
#define SPEC(s) config_socket_parse(s, strlen(s), &ss, &len, &error)
	assert_int_equal(SPEC("inet:127.0.0.1:11332"), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 11332);
	assert_int_equal(SPEC("inet:[::1]:8891"), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(SPEC("unix:/run/clamav/clamav-milter.ctl"), 0);
	assert_int_equal(ss.ss_family, AF_UNIX);
	assert_int_equal(SPEC("local:/x"), 0);
	assert_int_equal(SPEC("inet:localhost:25"), -1);
	assert_int_equal(SPEC("inet:*:25"), -1);
	assert_int_equal(SPEC("inet:127.0.0.1"), -1);
	assert_int_equal(SPEC("inet:127.0.0.1:0"), -1);
	assert_int_equal(SPEC("inet:127.0.0.1:65536"), -1);
	assert_int_equal(SPEC("unix:relative"), -1);
	assert_int_equal(SPEC("unix:"), -1);
	assert_int_equal(SPEC("127.0.0.1:25"), -1);
	assert_int_equal(SPEC("tcp:127.0.0.1:25"), -1);
	/* the socket path at its limit and one past */
	memset(path, 'p', sizeof(path));
	memcpy(path, "unix:/", 6);
	path[5 + 107] = '\0';
	assert_int_equal(SPEC(path), 0);
	path[5 + 107] = 'p';
	path[5 + 108] = '\0';
	assert_int_equal(SPEC(path), -1);
#undef SPEC
}

/* ---- the client's contract: asynchronous callback, cancel ---- */

struct client_run {
	int calls;
	struct milter_result res;
	struct event_base *base;
};

static void
client_cb(void *ctx, const struct milter_result *res)
{
	struct client_run *run = ctx;

	run->calls++;
	run->res = *res;
	run->res.mods = NULL;
	event_base_loopbreak(run->base);
}

static void
client_loop(struct event_base *base, int ms)
{
	struct timeval tv = { 0, ms * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
client_config(struct milter_config *mc, const char *path)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&mc->servers[0].addr;

	memset(mc, 0, sizeof(*mc));
	mc->connect_timeout = 2;
	mc->timeout = 1;
	mc->message_timeout = 5;
	mc->hostname = "mx.example.test";
	if (path != NULL) {
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
		mc->servers[0].addr_len = sizeof(*sun);
		snprintf(mc->servers[0].name, sizeof(mc->servers[0].name),
		    "unix:%s", path);
		mc->n_servers = 1;
	}
}

static const char client_msg[] = "Subject: x\r\n\r\nbody\r\n";

static void
client_request(struct milter_request *req)
{
	static const char *const rcpts[] = { "alice@example.test" };

	memset(req, 0, sizeof(*req));
	req->mail_from = "a@example.org";
	req->rcpts = rcpts;
	req->n_rcpts = 1;
	req->msg = client_msg;
	req->len = sizeof(client_msg) - 1;
	req->queue_id = "T1";
}

static void
test_client_no_milter(void **state)
{
	struct client_run run = { 0 };
	struct milter_config mc;
	struct milter_request req;

	(void)state;
	run.base = event_base_new();
	client_config(&mc, NULL);
	client_request(&req);
	(void)milter_check_start(run.base, &mc, &req, client_cb, &run);
	assert_int_equal(run.calls, 0);		/* never from inside start */
	client_loop(run.base, 1000);
	assert_int_equal(run.calls, 1);
	assert_int_equal(run.res.verdict, MILTER_VERDICT_ACCEPT);
	assert_false(run.res.failed);
	event_base_free(run.base);
}

static void
test_client_down(void **state)
{
	struct client_run run = { 0 };
	struct milter_config mc;
	struct milter_request req;

	(void)state;
	run.base = event_base_new();
	client_config(&mc, "/nonexistent/correio-test-milter.sock");
	client_request(&req);
	for (int mode = 0; mode < 2; mode++) {
		run.calls = 0;
		mc.fail_tempfail = mode == 1;
		(void)milter_check_start(run.base, &mc, &req, client_cb, &run);
		assert_int_equal(run.calls, 0);
		client_loop(run.base, 2000);
		assert_int_equal(run.calls, 1);
		assert_true(run.res.failed);
		assert_non_null(strstr(run.res.error, "cannot connect"));
		if (mode == 1) {
			assert_int_equal(run.res.verdict,
			    MILTER_VERDICT_TEMPFAIL);
			assert_string_equal(run.res.reply,
			    MILTER_REPLY_TEMPFAIL_DEFAULT);
		} else {
			assert_int_equal(run.res.verdict,
			    MILTER_VERDICT_ACCEPT);
		}
	}
	event_base_free(run.base);
}

/* A milter that listens but never answers: cancelled mid-check, no
 * callback; a timeout otherwise. */
static void
test_client_cancel_and_timeout(void **state)
{
	struct client_run run = { 0 };
	struct milter_config mc;
	struct milter_request req;
	struct milter_check *check;
	struct sockaddr_un sun;
	char path[64];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/correio-test-milter-%d.sock",
	    (int)getpid());
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 8), 0);

	run.base = event_base_new();
	client_config(&mc, path);
	client_request(&req);
	check = milter_check_start(run.base, &mc, &req, client_cb, &run);
	client_loop(run.base, 200);
	assert_int_equal(run.calls, 0);
	milter_check_cancel(&check);
	assert_null(check);
	milter_check_cancel(&check);		/* NULL is fine */
	client_loop(run.base, 1500);
	assert_int_equal(run.calls, 0);

	/* left to run: the reply timeout (1s) fails it */
	mc.fail_tempfail = true;
	(void)milter_check_start(run.base, &mc, &req, client_cb, &run);
	client_loop(run.base, 4000);
	assert_int_equal(run.calls, 1);
	assert_int_equal(run.res.verdict, MILTER_VERDICT_TEMPFAIL);
	assert_non_null(strstr(run.res.error, "no reply to optneg"));
	event_base_free(run.base);
	close(fd);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_whole_and_bytewise),
		cmocka_unit_test(test_reader_limits),
		cmocka_unit_test(test_reply_simple),
		cmocka_unit_test(test_reply_optneg_and_masks),
		cmocka_unit_test(test_reply_replycode),
		cmocka_unit_test(test_reply_quarantine),
		cmocka_unit_test(test_reply_headers),
		cmocka_unit_test(test_encoders),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_mods),
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_client_no_milter),
		cmocka_unit_test(test_client_down),
		cmocka_unit_test(test_client_cancel_and_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
