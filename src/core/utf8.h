/*
 * utf8.h - UTF-8 validation (RFC 3629).
 */
#ifndef CORE_UTF8_H
#define CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Returns true if s[0..len) is well-formed UTF-8: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequence. NUL bytes are valid UTF-8; callers that must refuse them
 * check separately.
 */
bool
utf8_valid(const char *s, size_t len);

/* Returns true if s[0..len) is all ASCII (no byte above 0x7f). */
bool
utf8_is_ascii(const char *s, size_t len);

#endif
