/*
 * log.h - one line per event, on stderr.
 *
 * Lines look like
 *   2026-11-21T10:00:00Z info conn=4f2a1c smtp rcpt from=<a@b> result=250
 * with the connection id first (when there is one) and key=value pairs.
 * Peer text must go through log_escape() before it is logged.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
};

/* Sets the lowest level that is written. The default is info. */
void
log_set_level(enum log_level level);

/* Parses "debug", "info", "warning" or "error". Returns 0 or -1. */
int
log_level_parse(const char *name, enum log_level *level_r);

bool
log_enabled(enum log_level level);

/* Writes one line. Thread-safe: a line is written with a single write(2). */
void
log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) \
	do { if (log_enabled(LOG_LEVEL_DEBUG)) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/*
 * Copies at most len bytes of untrusted text into dst (of dstlen bytes,
 * at least 4) so that it is safe to log: bytes outside printable ASCII,
 * the double quote and the backslash become \xHH, and the result is cut
 * (with "...") so it fits. Returns dst.
 */
char *
log_escape(char *dst, size_t dstlen, const char *src, size_t len);

/* Size of a stack array that holds an escaped, capped piece of peer text. */
#define LOG_ESCAPE_MAX 256

#endif
