/*
 * imap-date.h - IMAP dates and date-times: parsing the SEARCH date and the
 * APPEND date-time, writing INTERNALDATE.
 *
 * RFC 9051 9 (date, date-text, date-time, zone), RFC 3501 9.
 *
 * Done by hand on purpose: strptime("%b") and strftime("%b") follow the
 * locale, and IMAP month names are always English.
 *
 * SECURITY: parses network input of bounded length; no allocation.
 */
#ifndef IMAP_IMAP_DATE_H
#define IMAP_IMAP_DATE_H

#include <stddef.h>
#include <time.h>

struct buf;

/*
 * Parses a date "1-Feb-1994" or "01-Feb-1994" (without quotes: the parser
 * already removed them). The month name is case-insensitive, the year has
 * four digits and the day must exist in that month. *r is the day at
 * 00:00:00 UTC. Returns 0, or -1 if s is not such a date.
 */
int
imap_date_parse(const char *s, size_t len, time_t *r);

/*
 * Parses a date-time "17-Jul-1996 02:44:25 -0700" (without quotes). The
 * day may be two digits, one digit, or a space and one digit
 * (" 7-Jul-1996 ..."). Hours 00-23, minutes 00-59, seconds 00-60, zone
 * +HHMM or -HHMM with HH 00-23 and MM 00-59. *r is the instant it names.
 * Returns 0, or -1.
 */
int
imap_datetime_parse(const char *s, size_t len, time_t *r);

/*
 * Writes t as a quoted date-time in UTC: "\"17-Jul-1996 09:44:25 +0000\"".
 * Returns 0, or -1 if out would pass its max or t is outside years
 * 0000-9999 (out is then unchanged).
 */
int
imap_datetime_write(struct buf *out, time_t t);

#endif
