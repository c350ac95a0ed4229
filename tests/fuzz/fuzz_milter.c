/*
 * fuzz_milter.c - the milter client's reply reader and reply parser
 * (filter/milter-proto.c) on bytes as a milter sends them: the first
 * byte picks the chunk size the reader is fed with, the rest is the
 * stream. Every packet is parsed; header changes become mods and are
 * applied to a small message at the end, as the client would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "filter/milter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_msg[] = "Received: from x\r\nSubject: s\r\n"
    "X-Spam: 1\r\n\r\nbody\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_mod mods[MILTER_MODS_MAX];
	struct milter_reader r;
	struct milter_packet p;
	struct milter_reply rep;
	struct buf out;
	const char *error;
	size_t chunk, pos = 1, n_mods = 0;
	bool stop = false;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	milter_reader_init(&r, MILTER_PACKET_MAX);
	while (pos < size && !stop) {
		size_t len = size - pos < chunk ? size - pos : chunk, used;
		/* an exact-size copy, so that ASan sees reads past it */
		uint8_t *piece = malloc(len);

		if (piece == NULL)
			abort();
		memcpy(piece, data + pos, len);
		switch (milter_reader_feed(&r, piece, len, &used, &p)) {
		case MILTER_READ_MORE:
			break;
		case MILTER_READ_EMPTY:
		case MILTER_READ_TOO_BIG:
			stop = true;
			break;
		case MILTER_READ_PACKET:
			if (milter_reply_parse(&p, &rep, &error) < 0)
				break;
			if ((rep.type == MILTER_REPLY_ADDHEADER ||
			    rep.type == MILTER_REPLY_INSHEADER ||
			    rep.type == MILTER_REPLY_CHGHEADER) &&
			    n_mods < MILTER_MODS_MAX)
				milter_mod_from_reply(&mods[n_mods++], &rep,
				    (rep.index & 1) != 0);
			break;
		}
		if (used > len)
			abort();
		free(piece);
		pos += used;
	}
	milter_reader_free(&r);
	buf_init(&out, 1 << 22);
	(void)milter_mods_apply(mods, n_mods, fuzz_msg, sizeof(fuzz_msg) - 1,
	    &out);
	buf_release(&out);
	for (size_t i = 0; i < n_mods; i++)
		milter_mod_clear(&mods[i]);
	return 0;
}
