/*
 * fuzz_zip.c - the ZIP reader (filter/zip.h) on arbitrary bytes: open,
 * then read every entry as a prefix and whole, within a small budget;
 * invariants: entries lie inside the buffer and do not overlap, reads
 * never pass what they asked the budget for. Then the attachment check
 * (filter/spam-attach.h) on a message carrying the same bytes as a zip
 * attachment, which nests, sniffs and names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "filter/spam-attach.h"
#include "filter/spam.h"
#include "filter/zip.h"
#include "mime/mime.h"

/* Inflate budget per input: enough for the seeds, small for speed. */
#define FUZZ_BUDGET (4u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_zip_read(const uint8_t *data, size_t size)
{
	struct zip_archive z;
	const char *error = NULL;
	size_t budget = FUZZ_BUDGET;
	struct buf out;

	if (zip_open(&z, data, size, &error) != 0) {
		if (error == NULL)
			abort();
		zip_close(&z);
		return;
	}
	buf_init(&out, FUZZ_BUDGET);
	for (size_t i = 0; i < z.n_entries; i++) {
		const struct zip_entry *e = &z.entries[i];
		size_t maxes[2] = { 64, FUZZ_BUDGET };

		if (e->data_offset > size || e->comp_size > size - e->data_offset ||
		    e->name < (const char *)data ||
		    e->name + e->name_len > (const char *)data + size)
			abort();
		for (int k = 0; k < 2; k++) {
			size_t before = budget;
			enum zip_read rd;

			buf_reset(&out);
			rd = zip_entry_read(&z, e, maxes[k], &budget, &out,
			    &error);
			if (out.len > before - budget || out.len > maxes[k])
				abort();
			if (rd == ZIP_READ_WHOLE && out.len != e->size)
				abort();
		}
	}
	buf_release(&out);
	zip_close(&z);
}

static void
fuzz_attach(const uint8_t *data, size_t size)
{
	static const char head[] = "From: a@example.org\r\n"
	    "Content-Type: application/zip; name=\"f.zip\"\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n";
	struct pool *pool = pool_new(4096);
	struct mime_part *root = NULL;
	const char *error = NULL;
	struct spam_msg m;
	struct spam_result r;
	char *msg = malloc(sizeof(head) - 1 + size + 1);

	memcpy(msg, head, sizeof(head) - 1);
	memcpy(msg + sizeof(head) - 1, data, size);
	if (mime_parse(msg, sizeof(head) - 1 + size, pool, &root, &error) != 0)
		abort();
	memset(&m, 0, sizeof(m));
	m.data = msg;
	m.len = sizeof(head) - 1 + size;
	m.root = root;
	m.pool = pool;
	spam_result_init(&r, NULL);
	spam_check_attachments(&m, &r);
	pool_free(&pool);
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_zip_read(data, size);
	fuzz_attach(data, size);
	return 0;
}
