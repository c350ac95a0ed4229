/*
 * milter-proto.c - the codec of the milter protocol (see milter.h): the
 * encoders of the MTA's commands, the bounded incremental reader of the
 * milter's packets, the validation of its replies, the header fields of
 * a message as HEADER sends them, and the application of header changes.
 *
 * The protocol is Sendmail's libmilter, version 6 (no RFC). Lines of
 * replies follow RFC 5321 4.2 (reply codes) and RFC 3463 (enhanced
 * status codes); header fields RFC 5322 2.2 (field names, folding).
 *
 * SECURITY: everything the reader and the reply parser see comes from
 * the milter, a separate program: a packet's length is checked against
 * the reader's max before any of its data is kept, every string must be
 * NUL-terminated inside its packet, and the texts that reach the SMTP
 * client or the stored message (replycodes, header names and values) are
 * validated so that they cannot carry control characters or line breaks
 * other than folds. The message's header is the sender's, also hostile:
 * it is only split, never trusted.
 */
#include "filter/milter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "core/buf.h"
#include "core/xalloc.h"

/* ---- the reader ---- */

void
milter_reader_init(struct milter_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->data = xmalloc(max > 0 ? max : 1);
}

void
milter_reader_free(struct milter_reader *r)
{
	free(r->data);
	r->data = NULL;
}

enum milter_read_status
milter_reader_feed(struct milter_reader *r, const void *in, size_t len,
    size_t *used_r, struct milter_packet *pkt_r)
{
	const unsigned char *p = in;
	size_t used = 0, want;

	if (r->done) {
		r->head_len = 0;
		r->have = 0;
		r->len = 0;
		r->done = false;
	}
	while (r->head_len < 4) {
		if (used == len) {
			*used_r = used;
			return MILTER_READ_MORE;
		}
		r->head[r->head_len++] = p[used++];
		if (r->head_len == 4) {
			r->len = (uint32_t)r->head[0] << 24 |
			    (uint32_t)r->head[1] << 16 |
			    (uint32_t)r->head[2] << 8 | (uint32_t)r->head[3];
			*used_r = used;
			if (r->len == 0)
				return MILTER_READ_EMPTY;
			if (r->len > r->max)
				return MILTER_READ_TOO_BIG;
		}
	}
	want = r->len - r->have;
	if (want > len - used)
		want = len - used;
	memcpy(r->data + r->have, p + used, want);
	r->have += want;
	used += want;
	*used_r = used;
	if (r->have < r->len)
		return MILTER_READ_MORE;
	r->done = true;
	pkt_r->cmd = r->data[0];
	pkt_r->data = r->data + 1;
	pkt_r->data_len = r->len - 1;
	return MILTER_READ_PACKET;
}

/* ---- replies ---- */

const char *
milter_reply_name(unsigned char cmd)
{
	switch (cmd) {
	case MILTER_REP_ADDRCPT: return "addrcpt";
	case MILTER_REP_DELRCPT: return "delrcpt";
	case MILTER_REP_ADDRCPT_PAR: return "addrcpt_par";
	case MILTER_REP_SHUTDOWN: return "shutdown";
	case MILTER_REP_ACCEPT: return "accept";
	case MILTER_REP_REPLBODY: return "replbody";
	case MILTER_REP_CONTINUE: return "continue";
	case MILTER_REP_DISCARD: return "discard";
	case MILTER_REP_CHGFROM: return "chgfrom";
	case MILTER_REP_CONN_FAIL: return "conn_fail";
	case MILTER_REP_ADDHEADER: return "addheader";
	case MILTER_REP_INSHEADER: return "insheader";
	case MILTER_REP_SETSYMLIST: return "setsymlist";
	case MILTER_REP_CHGHEADER: return "chgheader";
	case MILTER_REP_PROGRESS: return "progress";
	case MILTER_REP_QUARANTINE: return "quarantine";
	case MILTER_REP_REJECT: return "reject";
	case MILTER_REP_SKIP: return "skip";
	case MILTER_REP_TEMPFAIL: return "tempfail";
	case MILTER_REP_REPLYCODE: return "replycode";
	case MILTER_REP_OPTNEG: return "optneg";
	default: return "unknown";
	}
}

static uint32_t
milter_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* data holds exactly one NUL-terminated string: its length, or -1. */
static int
milter_one_string(const unsigned char *data, size_t len, size_t *slen_r)
{
	const unsigned char *nul;

	if (len == 0 || data[len - 1] != '\0')
		return -1;
	nul = memchr(data, '\0', len);
	if (nul != data + len - 1)
		return -1;
	*slen_r = len - 1;
	return 0;
}

/* One line of a replycode (RFC 5321 4.2): "ddd", "ddd text" (last
 * == true) or "ddd-text". */
static int
milter_reply_line_check(const char *s, size_t len, bool last, int *code,
    const char **error_r)
{
	int c;

	if (len < 3 || len > MILTER_REPLY_LINE_MAX) {
		*error_r = len < 3 ? "replycode: line without a code" :
		    "replycode: line too long";
		return -1;
	}
	if ((s[0] != '4' && s[0] != '5') || s[1] < '0' || s[1] > '5' ||
	    s[2] < '0' || s[2] > '9') {
		*error_r = "replycode: not a 4xx or 5xx code";
		return -1;
	}
	c = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (*code != 0 && c != *code) {
		*error_r = "replycode: lines with different codes";
		return -1;
	}
	*code = c;
	if (len == 3) {
		if (!last) {
			*error_r = "replycode: continued line without text";
			return -1;
		}
		return 0;
	}
	if (s[3] != (last ? ' ' : '-')) {
		*error_r = last ? "replycode: last line marked as continued" :
		    "replycode: continued line not marked with '-'";
		return -1;
	}
	for (size_t i = 4; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch > 0x7e) {
			*error_r = "replycode: control or non-ASCII character";
			return -1;
		}
	}
	/* RFC 3463 2: class.subject.detail, the class that of the code. */
	if (len > 5 && s[4] >= '0' && s[4] <= '9' && s[5] == '.') {
		size_t i = 6, n;

		if (s[4] != s[0]) {
			*error_r = "replycode: enhanced status code of another "
			    "class";
			return -1;
		}
		for (int part = 0; part < 2; part++) {
			for (n = 0; i < len && s[i] >= '0' && s[i] <= '9';
			    i++)
				n++;
			if (n < 1 || n > 3 || (part == 0 &&
			    (i >= len || s[i] != '.'))) {
				*error_r = "replycode: malformed enhanced "
				    "status code";
				return -1;
			}
			if (part == 0)
				i++;
		}
		if (i < len && s[i] != ' ') {
			*error_r = "replycode: malformed enhanced status code";
			return -1;
		}
	}
	return 0;
}

static int
milter_replycode_check(const char *s, size_t len, int *code_r,
    const char **error_r)
{
	size_t pos = 0;
	int code = 0;

	if (len == 0 || len > MILTER_REPLY_MAX) {
		*error_r = len == 0 ? "replycode: empty" :
		    "replycode: too long";
		return -1;
	}
	while (pos < len) {
		const char *cr = memchr(s + pos, '\r', len - pos);
		const char *lf = memchr(s + pos, '\n', len - pos);
		size_t end;
		bool last;

		if (lf != NULL && (cr == NULL || lf < cr)) {
			*error_r = "replycode: bare LF";
			return -1;
		}
		if (cr != NULL && (cr + 1 == s + len || cr[1] != '\n')) {
			*error_r = "replycode: bare CR";
			return -1;
		}
		end = cr != NULL ? (size_t)(cr - s) : len;
		last = cr == NULL;
		if (cr != NULL && end + 2 == len) {
			*error_r = "replycode: ends in a line break";
			return -1;
		}
		if (milter_reply_line_check(s + pos, end - pos, last, &code,
		    error_r) < 0)
			return -1;
		pos = last ? len : end + 2;
	}
	*code_r = code;
	return 0;
}

/* A field name (RFC 5322 2.2: printable ASCII but ':'). */
static int
milter_name_check(const char *s, size_t len, const char **error_r)
{
	if (len == 0 || len > MILTER_HEADER_NAME_MAX) {
		*error_r = len == 0 ? "header change: empty name" :
		    "header change: name too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == ':') {
			*error_r = "header change: bad character in name";
			return -1;
		}
	}
	return 0;
}

/* A field value: no control character; a line break (LF or CRLF) only
 * as part of a fold, followed by white space (RFC 5322 2.2.3). 8-bit
 * bytes pass (RFC 6532). */
static int
milter_value_check(const char *s, size_t len, const char **error_r)
{
	if (len > MILTER_HEADER_VALUE_MAX) {
		*error_r = "header change: value too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n') {
				*error_r = "header change: bare CR in value";
				return -1;
			}
			continue;
		}
		if (c == '\n') {
			if (i + 1 >= len || (s[i + 1] != ' ' &&
			    s[i + 1] != '\t')) {
				*error_r = "header change: line break in value "
				    "that is not a fold";
				return -1;
			}
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*error_r = "header change: control character in value";
			return -1;
		}
	}
	return 0;
}

/* [index] name NUL value NUL: exactly, filling r's header fields. */
static int
milter_header_reply(const unsigned char *d, size_t len, bool indexed,
    struct milter_reply *r, const char **error_r)
{
	const unsigned char *nul;
	size_t off = 0;

	if (indexed) {
		if (len < 4) {
			*error_r = "header change: no index";
			return -1;
		}
		r->index = milter_get32(d);
		off = 4;
	}
	nul = memchr(d + off, '\0', len - off);
	if (nul == NULL) {
		*error_r = "header change: name not terminated";
		return -1;
	}
	r->name = (const char *)d + off;
	r->name_len = (size_t)(nul - (d + off));
	off = (size_t)(nul - d) + 1;
	if (milter_one_string(d + off, len - off, &r->value_len) < 0) {
		*error_r = "header change: value not terminated, or bytes "
		    "after it";
		return -1;
	}
	r->value = (const char *)d + off;
	if (milter_name_check(r->name, r->name_len, error_r) < 0)
		return -1;
	return milter_value_check(r->value, r->value_len, error_r);
}

int
milter_reply_parse(const struct milter_packet *p, struct milter_reply *r,
    const char **error_r)
{
	const unsigned char *d = p->data;
	size_t len = p->data_len;

	memset(r, 0, sizeof(*r));
	r->cmd = p->cmd;
	switch (p->cmd) {
	case MILTER_REP_OPTNEG:
		/* Macro lists may follow the three words (SETSYMLIST was
		 * not offered; they are ignored). */
		if (len < 12) {
			*error_r = "optneg: too short";
			return -1;
		}
		r->type = MILTER_REPLY_OPTNEG;
		r->version = milter_get32(d);
		r->actions = milter_get32(d + 4);
		r->protocol = milter_get32(d + 8);
		return 0;
	case MILTER_REP_ACCEPT:
	case MILTER_REP_CONTINUE:
	case MILTER_REP_REJECT:
	case MILTER_REP_TEMPFAIL:
	case MILTER_REP_DISCARD:
	case MILTER_REP_PROGRESS:
	case MILTER_REP_SKIP:
	case MILTER_REP_SHUTDOWN:
	case MILTER_REP_CONN_FAIL:
		if (len != 0) {
			*error_r = "reply without data has data";
			return -1;
		}
		r->type = p->cmd == MILTER_REP_ACCEPT ? MILTER_REPLY_ACCEPT :
		    p->cmd == MILTER_REP_CONTINUE ? MILTER_REPLY_CONTINUE :
		    p->cmd == MILTER_REP_REJECT ? MILTER_REPLY_REJECT :
		    p->cmd == MILTER_REP_TEMPFAIL ? MILTER_REPLY_TEMPFAIL :
		    p->cmd == MILTER_REP_DISCARD ? MILTER_REPLY_DISCARD :
		    p->cmd == MILTER_REP_PROGRESS ? MILTER_REPLY_PROGRESS :
		    p->cmd == MILTER_REP_SKIP ? MILTER_REPLY_SKIP :
		    MILTER_REPLY_SHUTDOWN;
		return 0;
	case MILTER_REP_REPLYCODE:
		if (milter_one_string(d, len, &r->text_len) < 0) {
			*error_r = "replycode: not one terminated string";
			return -1;
		}
		r->type = MILTER_REPLY_REPLYCODE;
		r->text = (const char *)d;
		return milter_replycode_check(r->text, r->text_len, &r->code,
		    error_r);
	case MILTER_REP_QUARANTINE:
		if (milter_one_string(d, len, &r->text_len) < 0) {
			*error_r = "quarantine: not one terminated string";
			return -1;
		}
		if (r->text_len > MILTER_QUARANTINE_MAX) {
			*error_r = "quarantine: reason too long";
			return -1;
		}
		r->type = MILTER_REPLY_QUARANTINE;
		r->text = (const char *)d;
		return 0;
	case MILTER_REP_ADDHEADER:
		r->type = MILTER_REPLY_ADDHEADER;
		return milter_header_reply(d, len, false, r, error_r);
	case MILTER_REP_INSHEADER:
		r->type = MILTER_REPLY_INSHEADER;
		return milter_header_reply(d, len, true, r, error_r);
	case MILTER_REP_CHGHEADER:
		r->type = MILTER_REPLY_CHGHEADER;
		return milter_header_reply(d, len, true, r, error_r);
	case MILTER_REP_ADDRCPT:
	case MILTER_REP_DELRCPT:
	case MILTER_REP_ADDRCPT_PAR:
	case MILTER_REP_REPLBODY:
	case MILTER_REP_CHGFROM:
	case MILTER_REP_SETSYMLIST:
		r->type = MILTER_REPLY_OTHER_MOD;
		return 0;
	default:
		*error_r = "unknown reply command";
		return -1;
	}
}

int
milter_negotiate(const struct milter_reply *r, uint32_t *actions_r,
    uint32_t *protocol_r, const char **error_r)
{
	if (r->type != MILTER_REPLY_OPTNEG) {
		*error_r = "not an OPTNEG reply";
		return -1;
	}
	if (r->version < MILTER_VERSION_MIN || r->version > MILTER_VERSION) {
		*error_r = "unsupported protocol version";
		return -1;
	}
	*actions_r = r->actions & MILTER_ACTIONS_OFFERED;
	*protocol_r = r->protocol & MILTER_PROTOCOL_OFFERED;
	return 0;
}

/* ---- encoders ---- */

static int
milter_put_head(struct buf *out, unsigned char cmd, size_t len)
{
	unsigned char h[5];

	if (len > MILTER_PACKET_MAX - 1)
		return -1;
	h[0] = (unsigned char)((len + 1) >> 24);
	h[1] = (unsigned char)((len + 1) >> 16);
	h[2] = (unsigned char)((len + 1) >> 8);
	h[3] = (unsigned char)(len + 1);
	h[4] = cmd;
	return buf_append(out, h, sizeof(h));
}

int
milter_put_packet(struct buf *out, unsigned char cmd, const void *data,
    size_t len)
{
	size_t old = out->len;

	if (len > out->max || out->len > out->max - len ||
	    milter_put_head(out, cmd, len) < 0)
		return -1;
	if (len > 0 && buf_append(out, data, len) < 0) {
		out->len = old;
		out->data[old] = '\0';
		return -1;
	}
	return 0;
}

void
milter_body_head(unsigned char head[5], size_t len)
{
	head[0] = (unsigned char)((len + 1) >> 24);
	head[1] = (unsigned char)((len + 1) >> 16);
	head[2] = (unsigned char)((len + 1) >> 8);
	head[3] = (unsigned char)(len + 1);
	head[4] = MILTER_CMD_BODY;
}

int
milter_put_optneg(struct buf *out, uint32_t version, uint32_t actions,
    uint32_t protocol)
{
	unsigned char d[12];
	uint32_t w[3] = { version, actions, protocol };

	for (int i = 0; i < 3; i++) {
		d[i * 4] = (unsigned char)(w[i] >> 24);
		d[i * 4 + 1] = (unsigned char)(w[i] >> 16);
		d[i * 4 + 2] = (unsigned char)(w[i] >> 8);
		d[i * 4 + 3] = (unsigned char)w[i];
	}
	return milter_put_packet(out, MILTER_CMD_OPTNEG, d, sizeof(d));
}

/* Appends strings, each with its NUL, to the packet being built in tmp. */
static int
milter_tmp_str(struct buf *tmp, const char *s, size_t len)
{
	if (buf_append(tmp, s, len) < 0)
		return -1;
	return buf_append(tmp, "", 1);
}

/* Builds a packet's data in a scratch buffer, then appends it. */
static int
milter_put_tmp(struct buf *out, unsigned char cmd, struct buf *tmp, int ok)
{
	int r = ok < 0 ? -1 : milter_put_packet(out, cmd, tmp->data, tmp->len);

	buf_release(tmp);
	return r;
}

int
milter_put_macros(struct buf *out, unsigned char stage,
    const char *const *nv, size_t n)
{
	struct buf tmp;
	int ok;

	buf_init(&tmp, MILTER_PACKET_MAX - 1);
	ok = buf_append(&tmp, &stage, 1);
	for (size_t i = 0; i < n && ok == 0; i++) {
		if (nv[2 * i + 1] == NULL)
			continue;
		if (milter_tmp_str(&tmp, nv[2 * i], strlen(nv[2 * i])) < 0 ||
		    milter_tmp_str(&tmp, nv[2 * i + 1],
		    strlen(nv[2 * i + 1])) < 0)
			ok = -1;
	}
	return milter_put_tmp(out, MILTER_CMD_MACRO, &tmp, ok);
}

int
milter_put_connect(struct buf *out, const char *hostname,
    const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned char fam, port[2] = { 0, 0 };
	const char *addr = NULL;
	struct buf tmp;
	int ok;

	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		fam = '4';
		memcpy(port, &sin->sin_port, 2);	/* network order */
		addr = inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		fam = '6';
		memcpy(port, &sin6->sin6_port, 2);
		addr = inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
	} else if (sa != NULL && sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const void *)sa;

		fam = 'L';
		addr = sun->sun_path;
	} else {
		fam = 'U';
	}
	if (fam != 'U' && addr == NULL)
		fam = 'U';
	buf_init(&tmp, MILTER_PACKET_MAX - 1);
	ok = milter_tmp_str(&tmp, hostname, strlen(hostname));
	if (ok == 0)
		ok = buf_append(&tmp, &fam, 1);
	if (ok == 0 && fam != 'U') {
		ok = buf_append(&tmp, port, 2);
		if (ok == 0)
			ok = milter_tmp_str(&tmp, addr, strlen(addr));
	}
	return milter_put_tmp(out, MILTER_CMD_CONNECT, &tmp, ok);
}

int
milter_put_helo(struct buf *out, const char *helo)
{
	struct buf tmp;

	buf_init(&tmp, MILTER_PACKET_MAX - 1);
	return milter_put_tmp(out, MILTER_CMD_HELO, &tmp,
	    milter_tmp_str(&tmp, helo, strlen(helo)));
}

/* "<addr>" NUL: MAIL and RCPT without ESMTP parameters. */
static int
milter_put_addr(struct buf *out, unsigned char cmd, const char *addr)
{
	struct buf tmp;
	int ok;

	buf_init(&tmp, MILTER_PACKET_MAX - 1);
	ok = buf_printf(&tmp, "<%s>", addr);
	if (ok == 0)
		ok = buf_append(&tmp, "", 1);
	return milter_put_tmp(out, cmd, &tmp, ok);
}

int
milter_put_mail(struct buf *out, const char *addr)
{
	return milter_put_addr(out, MILTER_CMD_MAIL, addr);
}

int
milter_put_rcpt(struct buf *out, const char *addr)
{
	return milter_put_addr(out, MILTER_CMD_RCPT, addr);
}

int
milter_put_header(struct buf *out, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
	struct buf tmp;
	int ok;

	buf_init(&tmp, MILTER_PACKET_MAX - 1);
	ok = milter_tmp_str(&tmp, name, name_len);
	if (ok == 0)
		ok = milter_tmp_str(&tmp, value, value_len);
	return milter_put_tmp(out, MILTER_CMD_HEADER, &tmp, ok);
}

int
milter_put_simple(struct buf *out, unsigned char cmd)
{
	return milter_put_packet(out, cmd, NULL, 0);
}

/* ---- the message's header ---- */

static bool
milter_is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

int
milter_field_next(const char *msg, size_t len, size_t *pos,
    struct milter_field *f)
{
	size_t p = *pos, name_end, end, line_end;

	if (p >= len)
		return 0;
	if (msg[p] == '\r' && p + 1 < len && msg[p + 1] == '\n') {
		*pos = p + 2;
		return 0;
	}
	if (msg[p] == '\n') {
		*pos = p + 1;
		return 0;
	}
	for (name_end = p; name_end < len &&
	    milter_is_ftext((unsigned char)msg[name_end]); name_end++)
		;
	if (name_end == p || name_end >= len || msg[name_end] != ':')
		return 0;	/* not a field: the body starts here */
	/* The field goes on while the next line starts with white space. */
	end = name_end + 1;
	for (;;) {
		const char *lf = memchr(msg + end, '\n', len - end);

		if (lf == NULL) {
			line_end = len;
			end = len;
			break;
		}
		end = (size_t)(lf - msg) + 1;
		if (end < len && (msg[end] == ' ' || msg[end] == '\t'))
			continue;
		line_end = (size_t)(lf - msg);
		if (line_end > name_end + 1 && msg[line_end - 1] == '\r')
			line_end--;
		break;
	}
	f->name = msg + p;
	f->name_len = name_end - p;
	f->value = msg + name_end + 1;
	f->value_len = line_end - (name_end + 1);
	f->start = p;
	f->end = end;
	*pos = end;
	return 1;
}

int
milter_field_value(const struct milter_field *f, bool leadspc,
    struct buf *out)
{
	const char *v = f->value;
	size_t n = f->value_len, i = 0;

	if (!leadspc)
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' ||
		    v[i] == '\n'))
			i++;
	while (i < n) {
		const char *cr = memchr(v + i, '\r', n - i);
		size_t run = cr != NULL ? (size_t)(cr - (v + i)) : n - i;

		if (buf_append(out, v + i, run) < 0)
			return -1;
		i += run;
		if (i < n) {
			/* CRLF of a fold becomes LF; a lone CR stays. */
			if (i + 1 < n && v[i + 1] == '\n')
				i++;
			else if (buf_append(out, "\r", 1) < 0)
				return -1;
			else
				i++;
		}
	}
	return 0;
}

/* ---- header changes ---- */

const char *
milter_mod_name(const struct milter_mod *m)
{
	switch (m->type) {
	case MILTER_MOD_ADD: return "add";
	case MILTER_MOD_INSERT: return "insert";
	case MILTER_MOD_CHANGE: return m->value[0] == '\0' ? "delete" :
	    "change";
	}
	return "?";
}

void
milter_mod_from_reply(struct milter_mod *m, const struct milter_reply *r,
    bool leadspc)
{
	struct buf v;

	m->type = r->type == MILTER_REPLY_ADDHEADER ? MILTER_MOD_ADD :
	    r->type == MILTER_REPLY_INSHEADER ? MILTER_MOD_INSERT :
	    MILTER_MOD_CHANGE;
	m->index = r->index;
	m->name = xstrndup(r->name, r->name_len);
	/* The value was checked: at most MILTER_HEADER_VALUE_MAX bytes,
	 * every LF part of a fold; each LF may grow by a CR. */
	buf_init(&v, 2 * MILTER_HEADER_VALUE_MAX + 1);
	if (r->value_len > 0 && !leadspc)
		(void)buf_append(&v, " ", 1);
	for (size_t i = 0; i < r->value_len; i++) {
		char c = r->value[i];

		if (c == '\n' && (i == 0 || r->value[i - 1] != '\r'))
			(void)buf_append(&v, "\r", 1);
		(void)buf_append(&v, &c, 1);
	}
	m->value = buf_steal(&v, NULL);
}

void
milter_mod_clear(struct milter_mod *m)
{
	free(m->name);
	free(m->value);
	m->name = NULL;
	m->value = NULL;
}

struct milter_entry {
	const char *name;
	size_t name_len;
	const char *text;	/* the whole field with its CRLF */
	size_t len;
	char *owned;		/* text, when a change made it */
};

static void
milter_entry_render(struct milter_entry *e, const struct milter_mod *m)
{
	e->owned = xasprintf("%s:%s\r\n", m->name, m->value);
	e->text = e->owned;
	e->len = strlen(e->owned);
	e->name = e->owned;
	e->name_len = strlen(m->name);
}

int
milter_mods_apply(const struct milter_mod *mods, size_t n, const char *msg,
    size_t len, struct buf *out)
{
	struct milter_entry *e;
	struct milter_field f;
	size_t n_fields = 0, cap, count = 0, pos = 0, hdr_end;
	int ret = 0;

	while (milter_field_next(msg, len, &pos, &f) == 1)
		n_fields++;
	cap = n_fields + n + 1;
	e = xcalloc(cap, sizeof(*e));
	pos = 0;
	hdr_end = 0;
	while (milter_field_next(msg, len, &pos, &f) == 1) {
		e[count].name = f.name;
		e[count].name_len = f.name_len;
		e[count].text = msg + f.start;
		e[count].len = f.end - f.start;
		count++;
		hdr_end = f.end;
	}

	for (size_t i = 0; i < n; i++) {
		const struct milter_mod *m = &mods[i];
		size_t at = count, nlen = strlen(m->name), seen = 0, idx;

		switch (m->type) {
		case MILTER_MOD_ADD:
			break;
		case MILTER_MOD_INSERT:
			if (m->index < count)
				at = m->index;
			break;
		case MILTER_MOD_CHANGE:
			idx = m->index == 0 ? 1 : m->index;
			for (at = 0; at < count; at++)
				if (e[at].name_len == nlen &&
				    strncasecmp(e[at].name, m->name, nlen) == 0 &&
				    ++seen == idx)
					break;
			if (at < count) {
				free(e[at].owned);
				e[at].owned = NULL;
				if (m->value[0] == '\0') {
					memmove(&e[at], &e[at + 1],
					    (count - at - 1) * sizeof(*e));
					count--;
				} else {
					milter_entry_render(&e[at], m);
				}
				continue;
			}
			if (m->value[0] == '\0')
				continue;	/* nothing to delete */
			at = count;	/* fewer of them: added */
			break;
		}
		memmove(&e[at + 1], &e[at], (count - at) * sizeof(*e));
		memset(&e[at], 0, sizeof(*e));
		milter_entry_render(&e[at], m);
		count++;
	}

	for (size_t i = 0; i < count && ret == 0; i++)
		ret = buf_append(out, e[i].text, e[i].len);
	if (ret == 0)
		ret = buf_append(out, msg + hdr_end, len - hdr_end);
	for (size_t i = 0; i < count; i++)
		free(e[i].owned);
	free(e);
	return ret;
}
