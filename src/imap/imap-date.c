/*
 * imap-date.c - IMAP date and date-time (see imap-date.h).
 *
 * RFC 9051 9:
 *   date           = date-text / DQUOTE date-text DQUOTE
 *   date-text      = date-day "-" date-month "-" date-year
 *   date-day       = 1*2DIGIT
 *   date-day-fixed = (SP DIGIT) / 2DIGIT
 *   date-month     = "Jan" / "Feb" / ... / "Dec"
 *   date-year      = 4DIGIT
 *   date-time      = DQUOTE date-day-fixed "-" date-month "-" date-year
 *                    SP time SP zone DQUOTE
 *   time           = 2DIGIT ":" 2DIGIT ":" 2DIGIT
 *   zone           = ("+" / "-") 4DIGIT
 *
 * Calendar arithmetic is done on the proleptic Gregorian calendar with
 * days_from_civil (H. Hinnant), so no time zone or locale is involved.
 *
 * SECURITY: network input; fixed-length fields, checked before use.
 */
#include "imap/imap-date.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

static const char imap_month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool
imap_date_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at s as a number, or -1. */
static int
imap_date_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!imap_date_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static char
imap_date_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* "Jan".."Dec", any case, at s (3 bytes): 1..12, or -1. */
static int
imap_date_month(const char *s)
{
	for (int m = 0; m < 12; m++) {
		const char *name = imap_month_names[m];

		if (imap_date_lower(s[0]) == imap_date_lower(name[0]) &&
		    imap_date_lower(s[1]) == imap_date_lower(name[1]) &&
		    imap_date_lower(s[2]) == imap_date_lower(name[2]))
			return m + 1;
	}
	return -1;
}

static bool
imap_date_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
imap_date_month_days(int y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return m == 2 && imap_date_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t
imap_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Parses "-Mon-yyyy" at s (9 bytes) for the given day; sets *days_r. */
static int
imap_date_rest(const char *s, int day, int64_t *days_r)
{
	int month, year;

	if (s[0] != '-' || s[4] != '-')
		return -1;
	if ((month = imap_date_month(s + 1)) < 0)
		return -1;
	if ((year = imap_date_digits(s + 5, 4)) < 0)
		return -1;
	if (day < 1 || day > imap_date_month_days(year, month))
		return -1;
	*days_r = imap_days_from_civil(year, (unsigned)month, (unsigned)day);
	return 0;
}

int
imap_date_parse(const char *s, size_t len, time_t *r)
{
	int64_t days;
	int day;
	size_t dlen;

	/* date-day = 1*2DIGIT */
	if (len == 10)
		dlen = 1;
	else if (len == 11)
		dlen = 2;
	else
		return -1;
	if ((day = imap_date_digits(s, dlen)) < 0 ||
	    imap_date_rest(s + dlen, day, &days) < 0)
		return -1;
	*r = (time_t)(days * 86400);
	return 0;
}

int
imap_datetime_parse(const char *s, size_t len, time_t *r)
{
	int64_t days, secs;
	int day, hh, mm, ss, zh, zm;
	const char *t;

	/* date-day-fixed, and a bare one-digit day as clients send it. */
	if (len == 26 && s[0] == ' ') {
		day = imap_date_digits(s + 1, 1);
		t = s + 2;
	} else if (len == 26) {
		day = imap_date_digits(s, 2);
		t = s + 2;
	} else if (len == 25) {
		day = imap_date_digits(s, 1);
		t = s + 1;
	} else {
		return -1;
	}
	if (day < 0 || imap_date_rest(t, day, &days) < 0)
		return -1;
	t += 9;
	/* " hh:mm:ss +zzzz" */
	if (t[0] != ' ' || t[3] != ':' || t[6] != ':' || t[9] != ' ' ||
	    (t[10] != '+' && t[10] != '-'))
		return -1;
	hh = imap_date_digits(t + 1, 2);
	mm = imap_date_digits(t + 4, 2);
	ss = imap_date_digits(t + 7, 2);
	zh = imap_date_digits(t + 11, 2);
	zm = imap_date_digits(t + 13, 2);
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 ||
	    zh < 0 || zh > 23 || zm < 0 || zm > 59)
		return -1;
	secs = days * 86400 + hh * 3600 + mm * 60 + ss;
	/* The zone is local time minus UTC: subtract it to get UTC. */
	if (t[10] == '+')
		secs -= zh * 3600 + zm * 60;
	else
		secs += zh * 3600 + zm * 60;
	*r = (time_t)secs;
	return 0;
}

int
imap_datetime_write(struct buf *out, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		return -1;
	return buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	    tm.tm_mday, imap_month_names[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}
