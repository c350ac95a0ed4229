/*
 * test_zip.c - the ZIP reader of the attachment checks (filter/zip.h):
 * APPNOTE.TXT 6.3 archives written here (tests/unit/zip-build.h) and by
 * Python's zipfile and Info-ZIP (tests/data/attach/zip, made by
 * tests/data/attach/make.py); then malformed, truncated, overlapping,
 * bomb-like and lying ones, every limit at max-1/max/max+1, and every
 * prefix and every byte of a valid archive damaged (ASan and UBSan watch).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "filter/zip.h"
#include "zip-build.h"

static unsigned char *
read_data(const char *rel, size_t *len_r)
{
	char path[4096];
	const char *dir = getenv("CORREIO_TEST_DATA");
	FILE *f;
	long n;
	unsigned char *d;

	assert_non_null(dir);
	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, rel) <
	    (int)sizeof(path));
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	d = malloc((size_t)n + 1);
	assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len_r = (size_t)n;
	return d;
}

/* Reads entry i whole (max 1 MiB) into out; returns the verdict. */
static enum zip_read
read_entry(const struct zip_archive *z, size_t i, struct buf *out)
{
	size_t budget = ZIP_INFLATE_TOTAL_MAX;
	const char *error = NULL;

	buf_reset(out);
	return zip_entry_read(z, &z->entries[i], 1024 * 1024, &budget, out,
	    &error);
}

static int
open_buf(struct zip_archive *z, const struct buf *b, const char **error_r)
{
	*error_r = NULL;
	return zip_open(z, b->data, b->len, error_r);
}

static void
put16_at(struct buf *b, size_t off, uint16_t v)
{
	b->data[off] = (char)v;
	b->data[off + 1] = (char)(v >> 8);
}

static void
put32_at(struct buf *b, size_t off, uint32_t v)
{
	put16_at(b, off, (uint16_t)v);
	put16_at(b, off + 2, (uint16_t)(v >> 16));
}

/* Where the EOCD of an archive without comment starts. */
static size_t
eocd_of(const struct buf *b)
{
	return b->len - ZIP_EOCD_SIZE;
}

static const char text[] = "The quick brown fox jumps over the lazy dog. "
    "The quick brown fox jumps over the lazy dog. 0123456789";

static void
test_stored_and_deflated(void **state)
{
	struct zb b;
	struct zip_archive z;
	struct buf out;
	const char *error;

	zb_init(&b);
	zb_add(&b, "a.txt", text, sizeof(text) - 1, 0);
	zb_add(&b, "dir/b.txt", text, sizeof(text) - 1, ZB_DEFLATE);
	zb_add(&b, "dir/", "", 0, 0);
	zb_finish(&b, false, "a comment");
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	assert_int_equal(z.n_entries, 3);
	assert_false(z.zip64);
	assert_int_equal(z.base, 0);
	assert_int_equal(z.entries[0].name_len, 5);
	assert_memory_equal(z.entries[0].name, "a.txt", 5);
	assert_int_equal(z.entries[0].method, ZIP_METHOD_STORED);
	assert_int_equal(z.entries[1].method, ZIP_METHOD_DEFLATE);
	assert_int_equal(z.entries[1].size, sizeof(text) - 1);
	assert_true(z.entries[1].comp_size < z.entries[1].size);
	assert_false(z.entries[1].encrypted);
	assert_true(z.entries[2].is_dir);
	assert_false(z.entries[1].is_dir);

	buf_init(&out, 1024 * 1024);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(read_entry(&z, i, &out), ZIP_READ_WHOLE);
		assert_int_equal(out.len, sizeof(text) - 1);
		assert_memory_equal(out.data, text, out.len);
	}
	assert_int_equal(read_entry(&z, 2, &out), ZIP_READ_WHOLE);
	assert_int_equal(out.len, 0);
	buf_release(&out);
	zip_close(&z);
	zb_free(&b);
}

/* A prefix: exactly max bytes, for both methods, at the edges. */
static void
test_prefix(void **state)
{
	struct zb b;
	struct zip_archive z;
	struct buf out;
	const char *error;
	size_t n = sizeof(text) - 1;

	zb_init(&b);
	zb_add(&b, "s", text, n, 0);
	zb_add(&b, "d", text, n, ZB_DEFLATE);
	zb_finish(&b, false, NULL);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	buf_init(&out, 4096);
	for (size_t i = 0; i < 2; i++) {
		size_t maxes[] = { 0, 1, 10, n - 1, n, n + 1 };

		for (size_t k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++) {
			size_t budget = 1000;

			buf_reset(&out);
			assert_int_equal(zip_entry_read(&z, &z.entries[i],
			    maxes[k], &budget, &out, &error),
			    maxes[k] < n ? ZIP_READ_PREFIX : ZIP_READ_WHOLE);
			assert_int_equal(out.len, maxes[k] < n ? maxes[k] : n);
			assert_memory_equal(out.data != NULL ? out.data : "",
			    text, out.len);
			assert_int_equal(budget, 1000 - out.len);
		}
	}
	buf_release(&out);
	zip_close(&z);
	zb_free(&b);
}

/* The budget: max-1 refuses without reading, max reads and empties it. */
static void
test_budget(void **state)
{
	struct zb b;
	struct zip_archive z;
	struct buf out;
	const char *error;
	size_t n = sizeof(text) - 1, budget;

	zb_init(&b);
	zb_add(&b, "d", text, n, ZB_DEFLATE);
	zb_finish(&b, false, NULL);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	buf_init(&out, 4096);
	budget = n - 1;
	assert_int_equal(zip_entry_read(&z, &z.entries[0], 4096, &budget, &out,
	    &error), ZIP_READ_BUDGET);
	assert_int_equal(budget, n - 1);
	assert_int_equal(out.len, 0);
	budget = n;
	assert_int_equal(zip_entry_read(&z, &z.entries[0], 4096, &budget, &out,
	    &error), ZIP_READ_WHOLE);
	assert_int_equal(budget, 0);
	/* A prefix costs only what it reads. */
	buf_reset(&out);
	budget = 5;
	assert_int_equal(zip_entry_read(&z, &z.entries[0], 5, &budget, &out,
	    &error), ZIP_READ_PREFIX);
	assert_int_equal(budget, 0);
	buf_release(&out);
	zip_close(&z);
	zb_free(&b);
}

/* Archives other programs wrote. */
static void
test_foreign(void **state)
{
	static const struct {
		const char *file;
		size_t entries;
		bool zip64;
		bool encrypted;
	} cases[] = {
		{ "attach/zip/py-deflate.zip", 3, false, false },
		{ "attach/zip/py-stored.zip", 1, false, false },
		{ "attach/zip/py-zip64-local.zip", 1, false, false },
		{ "attach/zip/infozip-zip64.zip", 1, true, false },
		{ "attach/encrypted.zip", 1, false, true },
	};
	struct buf out;

	buf_init(&out, 1024 * 1024);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zip_archive z;
		const char *error = NULL;
		size_t len;
		unsigned char *d = read_data(cases[i].file, &len);

		if (zip_open(&z, d, len, &error) != 0)
			fail_msg("%s: %s", cases[i].file, error);
		assert_int_equal(z.n_entries, cases[i].entries);
		assert_int_equal(z.zip64, cases[i].zip64);
		for (size_t k = 0; k < z.n_entries; k++) {
			assert_int_equal(z.entries[k].encrypted,
			    cases[i].encrypted);
			assert_int_equal(read_entry(&z, k, &out),
			    cases[i].encrypted ? ZIP_READ_UNSUPPORTED :
			    ZIP_READ_WHOLE);
			if (!cases[i].encrypted)
				assert_int_equal(out.len, z.entries[k].size);
		}
		zip_close(&z);
		free(d);
	}
	buf_release(&out);
}

static void
test_zip64_built(void **state)
{
	struct zb b;
	struct zip_archive z;
	struct buf out;
	const char *error;

	zb_init(&b);
	zb_add(&b, "one", text, sizeof(text) - 1, ZB_ZIP64 | ZB_DEFLATE);
	zb_add(&b, "two", text, 10, ZB_ZIP64);
	zb_finish(&b, true, NULL);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	assert_true(z.zip64);
	assert_int_equal(z.n_entries, 2);
	assert_int_equal(z.entries[1].size, 10);
	assert_int_equal(z.entries[1].local_offset,
	    z.entries[0].data_offset + z.entries[0].comp_size);
	buf_init(&out, 4096);
	assert_int_equal(read_entry(&z, 0, &out), ZIP_READ_WHOLE);
	assert_memory_equal(out.data, text, sizeof(text) - 1);
	zip_close(&z);

	/* The ZIP64 extra field cut short: its 24 bytes say 16. */
	{
		size_t cd = b.out.len - ZIP_EOCD_SIZE - 20 - 56 - b.cd.len;

		put16_at(&b.out, cd + 46 + 3 + 2, 16);
		assert_int_equal(open_buf(&z, &b.out, &error), -1);
		zip_close(&z);
	}
	buf_release(&out);
	zb_free(&b);

	/* 0xffff counts without a locator. */
	zb_init(&b);
	zb_add(&b, "x", "x", 1, 0);
	zb_finish(&b, false, NULL);
	put16_at(&b.out, eocd_of(&b.out) + 10, 0xffff);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "ZIP64 values without a ZIP64 locator");
	zip_close(&z);
	zb_free(&b);
}

/* Data before the archive: a self-extractor stub. */
static void
test_prepended(void **state)
{
	struct zb b;
	struct zip_archive z;
	struct buf all, out;
	const char *error;

	zb_init(&b);
	zb_add(&b, "a", text, sizeof(text) - 1, ZB_DEFLATE);
	zb_finish(&b, false, NULL);
	buf_init(&all, ZB_MAX);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_append(&all, "M", 1), 0);
	assert_int_equal(buf_append(&all, b.out.data, b.out.len), 0);
	assert_int_equal(open_buf(&z, &all, &error), 0);
	assert_int_equal(z.base, 1000);
	buf_init(&out, 4096);
	assert_int_equal(read_entry(&z, 0, &out), ZIP_READ_WHOLE);
	assert_memory_equal(out.data, text, sizeof(text) - 1);
	buf_release(&out);
	zip_close(&z);
	buf_release(&all);
	zb_free(&b);
}

/* The EOCD is found only in the last 65535 + 22 bytes. */
static void
test_eocd_window(void **state)
{
	struct zb b;
	struct zip_archive z;
	const char *error;
	size_t trail[] = { 65534, 65535, 65536 };
	char *comment = malloc(65536);

	memset(comment, 'c', 65535);
	comment[65535] = '\0';
	/* The longest comment. */
	zb_init(&b);
	zb_add(&b, "a", "a", 1, 0);
	zb_finish(&b, false, comment);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	zip_close(&z);
	zb_free(&b);
	free(comment);
	/* Bytes after an EOCD without comment: the EOCD must stay in the
	 * window. */
	for (size_t i = 0; i < 3; i++) {
		zb_init(&b);
		zb_add(&b, "a", "a", 1, 0);
		zb_finish(&b, false, NULL);
		for (size_t k = 0; k < trail[i]; k++)
			(void)buf_append(&b.out, "\0", 1);
		assert_int_equal(open_buf(&z, &b.out, &error),
		    trail[i] <= 65535 ? 0 : -1);
		if (trail[i] > 65535)
			assert_string_equal(error,
			    "no end of central directory record");
		zip_close(&z);
		zb_free(&b);
	}
}

static void
test_short_input(void **state)
{
	struct zip_archive z;
	const char *error;
	static const unsigned char eocd[ZIP_EOCD_SIZE] = { 'P', 'K', 5, 6 };

	assert_int_equal(zip_open(&z, "", 0, &error), -1);
	zip_close(&z);
	assert_int_equal(zip_open(&z, eocd, ZIP_EOCD_SIZE - 1, &error), -1);
	zip_close(&z);
	/* The empty archive is valid. */
	assert_int_equal(zip_open(&z, eocd, ZIP_EOCD_SIZE, &error), 0);
	assert_int_equal(z.n_entries, 0);
	zip_close(&z);
	assert_true(zip_looks_like(eocd, 4));
	assert_false(zip_looks_like(eocd, 3));
	assert_false(zip_looks_like("MZ\0\0", 4));
}

/* Entry counts: ZIP_ENTRIES_MAX - 1 and max open, max + 1 does not; a
 * count the directory cannot hold, or that leaves entries over. */
static void
test_counts(void **state)
{
	size_t counts[] = { ZIP_ENTRIES_MAX - 1, ZIP_ENTRIES_MAX,
	    ZIP_ENTRIES_MAX + 1 };
	struct zb b;
	struct zip_archive z;
	const char *error;

	for (size_t i = 0; i < 3; i++) {
		zb_init(&b);
		for (size_t k = 0; k < counts[i]; k++) {
			char name[32];

			snprintf(name, sizeof(name), "f%zu", k);
			zb_add(&b, name, "", 0, 0);
		}
		zb_finish(&b, false, NULL);
		assert_int_equal(open_buf(&z, &b.out, &error),
		    counts[i] <= ZIP_ENTRIES_MAX ? 0 : -1);
		if (counts[i] > ZIP_ENTRIES_MAX)
			assert_string_equal(error, "too many entries");
		else
			assert_int_equal(z.n_entries, counts[i]);
		zip_close(&z);
		zb_free(&b);
	}

	zb_init(&b);
	zb_add(&b, "a", "a", 1, 0);
	zb_add(&b, "b", "b", 1, 0);
	zb_finish(&b, false, NULL);
	/* A huge count. */
	put16_at(&b.out, eocd_of(&b.out) + 8, 4000);
	put16_at(&b.out, eocd_of(&b.out) + 10, 4000);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error,
	    "entry count larger than the central directory");
	zip_close(&z);
	/* One more than there are: the next "entry" is the EOCD. */
	put16_at(&b.out, eocd_of(&b.out) + 8, 3);
	put16_at(&b.out, eocd_of(&b.out) + 10, 3);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	zip_close(&z);
	/* One fewer: the directory holds an entry the count hides. */
	put16_at(&b.out, eocd_of(&b.out) + 8, 1);
	put16_at(&b.out, eocd_of(&b.out) + 10, 1);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error,
	    "central directory holds more than its entries");
	zip_close(&z);
	/* Multi-disk. */
	put16_at(&b.out, eocd_of(&b.out) + 8, 2);
	put16_at(&b.out, eocd_of(&b.out) + 10, 2);
	put16_at(&b.out, eocd_of(&b.out) + 4, 1);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "multi-disk archive");
	zip_close(&z);
	zb_free(&b);
}

/* Names: ZIP_NAME_MAX - 1 and max open, max + 1 does not. */
static void
test_name_max(void **state)
{
	size_t lens[] = { ZIP_NAME_MAX - 1, ZIP_NAME_MAX, ZIP_NAME_MAX + 1 };

	for (size_t i = 0; i < 3; i++) {
		struct zb b;
		struct zip_archive z;
		const char *error;
		char *name = malloc(lens[i] + 1);

		memset(name, 'n', lens[i]);
		name[lens[i]] = '\0';
		zb_init(&b);
		zb_add(&b, name, "x", 1, 0);
		zb_finish(&b, false, NULL);
		assert_int_equal(open_buf(&z, &b.out, &error),
		    lens[i] <= ZIP_NAME_MAX ? 0 : -1);
		if (lens[i] <= ZIP_NAME_MAX)
			assert_int_equal(z.entries[0].name_len, lens[i]);
		zip_close(&z);
		zb_free(&b);
		free(name);
	}
}

/* The local header must agree with the directory. */
static void
test_local_mismatch(void **state)
{
	struct zb b;
	struct zip_archive z;
	const char *error;
	size_t second;

	zb_init(&b);
	zb_add(&b, "a.pdf", text, 20, 0);
	second = zb_add(&b, "b.pdf", text, 20, 0);
	zb_finish(&b, false, NULL);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	zip_close(&z);

	/* Another name in the local header ("b.exe" vs "b.pdf"). */
	memcpy(b.out.data + second + 30 + 2, "exe", 3);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error,
	    "local header name differs from the directory");
	zip_close(&z);
	memcpy(b.out.data + second + 30 + 2, "pdf", 3);
	/* Another method. */
	put16_at(&b.out, second + 8, 8);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	zip_close(&z);
	put16_at(&b.out, second + 8, 0);
	/* Encrypted in one, not the other. */
	put16_at(&b.out, second + 6, 1);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	zip_close(&z);
	put16_at(&b.out, second + 6, 0);
	/* Another size. */
	put32_at(&b.out, second + 22, 19);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error,
	    "local header sizes differ from the directory");
	zip_close(&z);
	put32_at(&b.out, second + 22, 20);
	/* No local header at all. */
	b.out.data[second] = 'X';
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "local header missing");
	zip_close(&z);
	zb_free(&b);
}

/* Two directory entries for one body; a body running into the next. */
static void
test_overlap(void **state)
{
	struct zb b;
	struct zip_archive z;
	const char *error;
	size_t cd;

	zb_init(&b);
	zb_add(&b, "a", text, 30, 0);
	zb_add(&b, "a", text, 30, 0);
	zb_finish(&b, false, NULL);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	zip_close(&z);
	/* The second directory entry points at the first local header. */
	cd = b.out.len - ZIP_EOCD_SIZE - b.cd.len;
	put32_at(&b.out, cd + 46 + 1 + 42, 0);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "entries overlap");
	zip_close(&z);
	zb_free(&b);

	/* A compressed size that reaches into the next entry (with a
	 * descriptor, so the local header does not contradict it). */
	zb_init(&b);
	zb_add(&b, "a", text, 30, ZB_DEFLATE | ZB_DESCRIPTOR);
	zb_add(&b, "b", text, 30, ZB_DEFLATE | ZB_DESCRIPTOR);
	zb_finish(&b, false, NULL);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	zip_close(&z);
	cd = b.out.len - ZIP_EOCD_SIZE - b.cd.len;
	put32_at(&b.out, cd + 20, 60);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "entries overlap");
	zip_close(&z);
	/* Or into the directory. */
	put32_at(&b.out, cd + 20, (uint32_t)(b.out.data[cd + 46 + 1 + 20] &
	    0xff));
	put32_at(&b.out, cd + 46 + 1 + 20, 100000);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "entry data outside the archive");
	zip_close(&z);
	zb_free(&b);
}

/* Compression ratio: ZIP_RATIO_MAX exactly passes, one more is a bomb;
 * entries up to ZIP_RATIO_MIN_SIZE may have any ratio. Sizes that lie
 * are caught when the entry is read. */
static void
test_bomb(void **state)
{
	size_t big = 8u * 1024 * 1024;
	unsigned char *zeros = calloc(1, big);
	struct zb b;
	struct zip_archive z;
	struct buf out;
	const char *error;
	size_t cd, budget;
	uint32_t comp;
	static unsigned char rnd[8000];

	zb_init(&b);
	zb_add(&b, "zeros", zeros, big, ZB_DEFLATE);
	zb_finish(&b, false, NULL);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "compression ratio of a zip bomb");
	zip_close(&z);
	zb_free(&b);

	/* Small entries compress as they like. */
	zb_init(&b);
	zb_add(&b, "zeros", zeros, ZIP_RATIO_MIN_SIZE, ZB_DEFLATE);
	zb_finish(&b, false, NULL);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	zip_close(&z);
	zb_free(&b);

	/* Declared sizes around the ratio, with a descriptor so only the
	 * directory says them; the data does not compress, so that the
	 * ratio's sizes pass ZIP_RATIO_MIN_SIZE. */
	for (size_t i = 0, x = 88172645463325252u; i < sizeof(rnd); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		rnd[i] = (unsigned char)(x >> 24);
	}
	zb_init(&b);
	zb_add(&b, "t", rnd, sizeof(rnd), ZB_DEFLATE | ZB_DESCRIPTOR);
	zb_finish(&b, false, NULL);
	cd = b.out.len - ZIP_EOCD_SIZE - b.cd.len;
	comp = (uint32_t)((unsigned char)b.out.data[cd + 20] |
	    (unsigned char)b.out.data[cd + 21] << 8);
	assert_true((uint64_t)comp * ZIP_RATIO_MAX > ZIP_RATIO_MIN_SIZE);
	put32_at(&b.out, cd + 24, comp * ZIP_RATIO_MAX + ZIP_RATIO_MAX - 1);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	/* It lies: reading finds the stream shorter. */
	buf_init(&out, ZIP_INFLATE_TOTAL_MAX);
	budget = ZIP_INFLATE_TOTAL_MAX;
	assert_int_equal(zip_entry_read(&z, &z.entries[0], ZIP_INFLATE_TOTAL_MAX,
	    &budget, &out, &error), ZIP_READ_CORRUPT);
	assert_string_equal(error, "entry smaller than its size");
	zip_close(&z);
	put32_at(&b.out, cd + 24, comp * ZIP_RATIO_MAX + ZIP_RATIO_MAX);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "compression ratio of a zip bomb");
	zip_close(&z);

	/* A size smaller than the stream: caught one byte past it. */
	put32_at(&b.out, cd + 24, sizeof(rnd) - 1);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	buf_reset(&out);
	budget = ZIP_INFLATE_TOTAL_MAX;
	assert_int_equal(zip_entry_read(&z, &z.entries[0], 1024 * 1024, &budget,
	    &out, &error), ZIP_READ_CORRUPT);
	assert_string_equal(error, "entry larger than its size");
	assert_true(out.len <= sizeof(rnd) - 1);
	zip_close(&z);
	put32_at(&b.out, cd + 24, sizeof(rnd));
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	buf_reset(&out);
	assert_int_equal(read_entry(&z, 0, &out), ZIP_READ_WHOLE);
	assert_memory_equal(out.data, rnd, sizeof(rnd));
	zip_close(&z);
	/* A wrong CRC. */
	put32_at(&b.out, cd + 24, sizeof(text) - 1);
	b.out.data[cd + 16] ^= 1;
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	buf_reset(&out);
	assert_int_equal(read_entry(&z, 0, &out), ZIP_READ_CORRUPT);
	zip_close(&z);
	buf_release(&out);
	zb_free(&b);
	free(zeros);
}

static void
test_unreadable_entries(void **state)
{
	struct zb b;
	struct zip_archive z;
	struct buf out;
	const char *error;
	size_t off, cd;

	zb_init(&b);
	zb_add(&b, "enc", text, 20, ZB_ENCRYPTED);
	off = zb_add(&b, "bz", text, 20, 0);
	zb_add(&b, "bad", text, 20, ZB_DEFLATE);
	zb_finish(&b, false, NULL);
	cd = b.out.len - ZIP_EOCD_SIZE - b.cd.len;
	/* Method 12 (bzip2) in both headers of the second entry. */
	put16_at(&b.out, off + 8, 12);
	put16_at(&b.out, cd + 46 + 3 + 10, 12);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	assert_true(z.entries[0].encrypted);
	assert_true((z.entries[0].flags & ZIP_FLAG_ENCRYPTED) != 0);
	buf_init(&out, 4096);
	assert_int_equal(read_entry(&z, 0, &out), ZIP_READ_UNSUPPORTED);
	assert_int_equal(read_entry(&z, 1, &out), ZIP_READ_UNSUPPORTED);
	/* Garbage where the deflate stream is. */
	memset((char *)z.data + z.entries[2].data_offset, 0xff,
	    z.entries[2].comp_size);
	assert_int_equal(read_entry(&z, 2, &out), ZIP_READ_CORRUPT);
	zip_close(&z);
	/* AES (method 99) is encrypted too. */
	put16_at(&b.out, off + 8, 99);
	put16_at(&b.out, cd + 46 + 3 + 10, 99);
	assert_int_equal(open_buf(&z, &b.out, &error), 0);
	assert_true(z.entries[1].encrypted);
	zip_close(&z);
	/* An encrypted central directory is not read. */
	put16_at(&b.out, cd + 8, 0x2001);
	assert_int_equal(open_buf(&z, &b.out, &error), -1);
	assert_string_equal(error, "encrypted central directory");
	zip_close(&z);
	buf_release(&out);
	zb_free(&b);
}

/* Every prefix of a valid archive, and every byte of it changed. */
static void
test_hostile_bytes(void **state)
{
	struct zb b;
	struct buf out;
	size_t len;

	zb_init(&b);
	zb_add(&b, "a.txt", text, sizeof(text) - 1, ZB_DEFLATE);
	zb_add(&b, "b.bin", text, 40, 0);
	zb_add(&b, "c", text, sizeof(text) - 1, ZB_DEFLATE | ZB_ZIP64);
	zb_finish(&b, true, "x");
	len = b.out.len;
	buf_init(&out, 1024 * 1024);
	for (size_t cut = 0; cut < len; cut++) {
		struct zip_archive z;
		const char *error;
		/* A copy of exactly cut bytes, so ASan sees reads past it. */
		unsigned char *d = malloc(cut + 1);

		memcpy(d, b.out.data, cut);
		assert_int_equal(zip_open(&z, d, cut, &error), -1);
		zip_close(&z);
		free(d);
	}
	for (size_t i = 0; i < len; i++) {
		static const unsigned char vals[] = { 0x00, 0xff, 0x7f, 0x80 };

		for (size_t v = 0; v < sizeof(vals); v++) {
			struct zip_archive z;
			const char *error;
			unsigned char *d = malloc(len);

			memcpy(d, b.out.data, len);
			d[i] = vals[v];
			if (zip_open(&z, d, len, &error) == 0)
				for (size_t k = 0; k < z.n_entries; k++)
					(void)read_entry(&z, k, &out);
			zip_close(&z);
			free(d);
		}
	}
	buf_release(&out);
	zb_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stored_and_deflated),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_zip64_built),
		cmocka_unit_test(test_prepended),
		cmocka_unit_test(test_eocd_window),
		cmocka_unit_test(test_short_input),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_name_max),
		cmocka_unit_test(test_local_mismatch),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_unreadable_entries),
		cmocka_unit_test(test_hostile_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
