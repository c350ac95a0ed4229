/*
 * header.c - single header field lookup (see header.h). RFC 5322 2.2.
 */
#include "mime/header.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "core/pool.h"

/* Finds the start of the value of field name; sets *end_r to the end of the
 * (possibly folded) field body. Returns NULL if there is none. */
static const char *
header_find(const char *msg, size_t len, const char *name, const char **end_r)
{
	size_t nlen = strlen(name);
	const char *p = msg, *end = msg + (len < HEADER_SCAN_MAX ? len : HEADER_SCAN_MAX);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;

		/* Empty line: end of the header block. */
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return NULL;
		if ((size_t)(end - p) > nlen &&
		    strncasecmp(p, name, nlen) == 0) {
			const char *colon = p + nlen;

			/* RFC 5322 4.5: obsolete white space before the
			 * colon ("From : x"), which readers still honour. */
			while (colon < next && (*colon == ' ' || *colon == '\t'))
				colon++;
			if (colon >= next || *colon != ':') {
				p = next;
				continue;
			}
			/* The body runs on over continuation lines. */
			while (next < end && (*next == ' ' || *next == '\t')) {
				eol = memchr(next, '\n', (size_t)(end - next));
				next = eol != NULL ? eol + 1 : end;
			}
			*end_r = next;
			return colon + 1;
		}
		p = next;
	}
	return NULL;
}

char *
header_get(const char *msg, size_t len, const char *name, struct pool *pool)
{
	const char *v, *end;
	char *out;
	size_t o = 0;
	bool space = false;

	v = header_find(msg, len, name, &end);
	if (v == NULL)
		return NULL;
	out = pool_alloc(pool, HEADER_VALUE_MAX + 1);
	for (; v < end && o < HEADER_VALUE_MAX; v++) {
		char c = *v;

		/* Unfold: CRLF + WSP is white space (RFC 5322 2.2.3); runs of
		 * white space become one space; control bytes are dropped. */
		if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
			space = o > 0;
			continue;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f)
			continue;
		if (space && o < HEADER_VALUE_MAX - 1)
			out[o++] = ' ';
		space = false;
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

int
header_has(const char *msg, size_t len, const char *name)
{
	const char *end;

	return header_find(msg, len, name, &end) != NULL;
}

size_t
header_block_len(const char *msg, size_t len)
{
	/* An empty line first: no header at all. */
	if ((len > 0 && msg[0] == '\n') ||
	    (len > 1 && msg[0] == '\r' && msg[1] == '\n'))
		return 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 1;
		if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
			return i + 1;
	}
	return len;
}

int
header_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	/* The C locale (the program never calls setlocale): English day
	 * and month names, as RFC 5322 3.3 requires. */
	if (localtime_r(&t, &tm) == NULL)
		return -1;
	return strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 ?
	    -1 : 0;
}

/* Skips white space and comments (CFWS); -1 for unbalanced or too deep
 * comments. */
static int
header_date_cfws(const char *s, size_t len, size_t *pos)
{
	size_t i = *pos;
	unsigned depth = 0;

	while (i < len) {
		char c = s[i];

		if (depth == 0 && (c == ' ' || c == '\t' || c == '\r' ||
		    c == '\n')) {
			i++;
		} else if (c == '(') {
			if (++depth > HEADER_DATE_COMMENT_DEPTH)
				return -1;
			i++;
		} else if (depth > 0 && c == ')') {
			depth--;
			i++;
		} else if (depth > 0 && c == '\\' && i + 1 < len) {
			i += 2;
		} else if (depth > 0) {
			i++;
		} else {
			break;
		}
	}
	if (depth > 0)
		return -1;
	*pos = i;
	return 0;
}

/* Reads 1 to max digits; -1 if there are none or more than max. */
static int
header_date_num(const char *s, size_t len, size_t *pos, unsigned max,
    unsigned *n_r, unsigned *digits_r)
{
	size_t i = *pos;
	unsigned n = 0, d = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (++d > max)
			return -1;
		n = n * 10 + (unsigned)(s[i] - '0');
		i++;
	}
	if (d == 0)
		return -1;
	*pos = i;
	*n_r = n;
	if (digits_r != NULL)
		*digits_r = d;
	return 0;
}

/* Reads letters into word (lower case); their count, 0 if none. */
static size_t
header_date_word(const char *s, size_t len, size_t *pos, char *word,
    size_t size)
{
	size_t i = *pos, n = 0;

	while (i < len && ((s[i] >= 'a' && s[i] <= 'z') ||
	    (s[i] >= 'A' && s[i] <= 'Z'))) {
		if (n + 1 >= size)
			return 0;
		word[n++] = (char)(s[i] | 0x20);
		i++;
	}
	word[n] = '\0';
	*pos = i;
	return n;
}

static int
header_date_zone(const char *s, size_t len, size_t *pos, long *offset_r)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "ut", 0 }, { "gmt", 0 }, { "utc", 0 },
		{ "est", -5 }, { "edt", -4 }, { "cst", -6 }, { "cdt", -5 },
		{ "mst", -7 }, { "mdt", -6 }, { "pst", -8 }, { "pdt", -7 },
	};
	char word[8];
	size_t i = *pos;

	if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;
		unsigned hhmm, digits;

		i++;
		if (header_date_num(s, len, &i, 4, &hhmm, &digits) < 0 ||
		    digits != 4 || hhmm / 100 > 23 || hhmm % 100 > 59)
			return -1;
		*offset_r = sign * (long)((hhmm / 100) * 3600 +
		    (hhmm % 100) * 60);
		*pos = i;
		return 0;
	}
	if (header_date_word(s, len, &i, word, sizeof(word)) == 0)
		return -1;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
		if (strcmp(word, zones[z].name) == 0) {
			*offset_r = zones[z].hours * 3600L;
			*pos = i;
			return 0;
		}
	/* Military zones: one letter but J; RFC 5322 4.3 says their
	 * meaning is unknown, take +0000. */
	if (word[1] == '\0' && word[0] != 'j') {
		*offset_r = 0;
		*pos = i;
		return 0;
	}
	return -1;
}

int
header_date_parse(const char *s, size_t len, time_t *r)
{
	static const char months[][4] = {
		"jan", "feb", "mar", "apr", "may", "jun",
		"jul", "aug", "sep", "oct", "nov", "dec",
	};
	static const unsigned mdays[] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};
	unsigned day, year, hour, min, sec = 0, digits;
	char word[8];
	size_t pos = 0, save;
	long offset;
	int mon = -1;
	struct tm tm;
	time_t t;

	if (header_date_cfws(s, len, &pos) < 0)
		return -1;
	/* [day-of-week ","] */
	save = pos;
	if (header_date_word(s, len, &pos, word, sizeof(word)) > 0) {
		if (header_date_cfws(s, len, &pos) < 0 || pos >= len ||
		    s[pos] != ',')
			return -1;
		pos++;
		if (header_date_cfws(s, len, &pos) < 0)
			return -1;
	} else {
		pos = save;
	}
	if (header_date_num(s, len, &pos, 2, &day, NULL) < 0 ||
	    header_date_cfws(s, len, &pos) < 0 ||
	    header_date_word(s, len, &pos, word, sizeof(word)) != 3)
		return -1;
	for (int m = 0; m < 12; m++)
		if (strcmp(word, months[m]) == 0)
			mon = m;
	if (mon < 0 || header_date_cfws(s, len, &pos) < 0 ||
	    header_date_num(s, len, &pos, 4, &year, &digits) < 0)
		return -1;
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (digits == 3)
		year += 1900;
	if (header_date_cfws(s, len, &pos) < 0 ||
	    header_date_num(s, len, &pos, 2, &hour, NULL) < 0 ||
	    header_date_cfws(s, len, &pos) < 0 || pos >= len || s[pos] != ':')
		return -1;
	pos++;
	if (header_date_cfws(s, len, &pos) < 0 ||
	    header_date_num(s, len, &pos, 2, &min, &digits) < 0 ||
	    digits != 2 || header_date_cfws(s, len, &pos) < 0)
		return -1;
	if (pos < len && s[pos] == ':') {
		pos++;
		if (header_date_cfws(s, len, &pos) < 0 ||
		    header_date_num(s, len, &pos, 2, &sec, &digits) < 0 ||
		    digits != 2 || header_date_cfws(s, len, &pos) < 0)
			return -1;
	}
	if (header_date_zone(s, len, &pos, &offset) < 0 ||
	    header_date_cfws(s, len, &pos) < 0 || pos != len)
		return -1;
	if (year < 1900 || day < 1 || day > mdays[mon] || hour > 23 ||
	    min > 59 || sec > 60)
		return -1;
	if (mon == 1 && day == 29 &&
	    !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = (int)day;
	tm.tm_hour = (int)hour;
	tm.tm_min = (int)min;
	tm.tm_sec = (int)(sec == 60 ? 59 : sec);
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*r = t - offset;
	return 0;
}

int
header_message_id(const char *host, char *buf, size_t size)
{
	unsigned char rnd[12];
	char hex[sizeof(rnd) * 2 + 1];
	struct timespec ts;
	int n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();
	for (size_t i = 0; i < sizeof(rnd); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(buf, size, "<%lld.%s@%s>", (long long)ts.tv_sec, hex,
	    host);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
header_count(const char *msg, size_t len, const char *name)
{
	const char *p = msg, *lim = msg + (len < HEADER_SCAN_MAX ? len :
	    HEADER_SCAN_MAX), *end;
	int n = 0;

	while (p < lim && header_find(p, (size_t)(lim - p), name, &end) !=
	    NULL) {
		n++;
		p = end;
	}
	return n;
}
