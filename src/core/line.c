/*
 * line.c - bounded line finding in an evbuffer (see line.h).
 */
#include "core/line.h"

#include <event2/buffer.h>

enum line_result
line_next(struct evbuffer *in, size_t max, size_t *scanned, size_t *len_r)
{
	size_t have = evbuffer_get_length(in);
	size_t limit = have < max ? have : max;
	struct evbuffer_ptr start, end, found;

	if (*scanned < limit) {
		if (evbuffer_ptr_set(in, &start, *scanned, EVBUFFER_PTR_SET) < 0 ||
		    evbuffer_ptr_set(in, &end, limit, EVBUFFER_PTR_SET) < 0)
			return LINE_MORE;	/* cannot happen: both are inside */
		found = evbuffer_search_range(in, "\n", 1, &start, &end);
		if (found.pos >= 0) {
			*len_r = (size_t)found.pos + 1;
			*scanned = 0;
			return LINE_OK;
		}
		*scanned = limit;
	}
	if (limit >= max) {
		*scanned = 0;
		return LINE_TOO_LONG;
	}
	return LINE_MORE;
}

int
line_skip(struct evbuffer *in)
{
	struct evbuffer_ptr found = evbuffer_search(in, "\n", 1, NULL);

	if (found.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return 0;
	}
	evbuffer_drain(in, (size_t)found.pos + 1);
	return 1;
}
