/*
 * spam-content.h - the content checks that need nothing but the message
 * and this server's names: the GTUBE test string and header anomalies.
 *
 * SECURITY: the message is hostile; every field is read through the
 * bounded header and MIME readers (mime/header.h, mime/mime.h), and the
 * decoded text is capped at SPAM_TEXT_MAX.
 */
#ifndef FILTER_SPAM_CONTENT_H
#define FILTER_SPAM_CONTENT_H

#include <stdbool.h>
#include <stddef.h>

#include "filter/spam.h"

/* The GTUBE string (SpamAssassin's Generic Test for Unsolicited Bulk
 * Email): a message that holds it is spam to every filter. */
#define SPAM_GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

/* A Date: this far ahead of the clock is in the future (RFC 5322 has
 * none: clocks are wrong by minutes, not days), this far behind in the
 * past. */
#define SPAM_DATE_FUTURE (24 * 3600)
#define SPAM_DATE_PAST (30 * 24 * 3600)

/*
 * Adds GTUBE, HEADER_* symbols for m (see spam-symbols.c). Runs on any
 * thread; uses m->pool for scratch memory.
 */
void
spam_check_content(struct spam_msg *m, struct spam_result *r);

/*
 * The decoded text of m's text parts (mime_text_extract), computed once
 * and kept in m (from m->pool), at most SPAM_TEXT_MAX bytes; "" when the
 * message has none. For the checks that read words (GTUBE, the
 * classifier).
 */
const char *
spam_msg_text(struct spam_msg *m, size_t *len_r);

/* Decoded text looked at per message. */
#define SPAM_TEXT_MAX (1024 * 1024)

/* True if domain (lower case) is a freemail provider's. */
bool
spam_domain_is_freemail(const char *domain);

#endif
