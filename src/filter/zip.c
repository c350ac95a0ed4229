/*
 * zip.c - the ZIP directory and entry reader (see zip.h).
 *
 * PKWARE APPNOTE.TXT 6.3: 4.3.16 EOCD, 4.3.14-4.3.15 ZIP64 EOCD and
 * locator, 4.3.12 central directory, 4.3.7 local header, 4.5 extra
 * fields (4.5.3 ZIP64, and WinZip AES 0x9901); RFC 1951 through zlib.
 *
 * SECURITY: every read goes through zip_rd16/32/64 after a range check
 * done with zip_range_ok(), which compares by subtraction in 64 bits so
 * that no offset or size from the archive can overflow. Loops advance by
 * at least one header per step and stop at fixed counts or at the end of
 * their region. Inflation writes into a bounded struct buf and stops one
 * byte past what the directory promised, which is how a lying size is
 * caught without inflating a bomb.
 */
#include "filter/zip.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/buf.h"
#include "core/xalloc.h"

#define ZIP_SIG_LOCAL		0x04034b50u
#define ZIP_SIG_CENTRAL		0x02014b50u
#define ZIP_SIG_EOCD		0x06054b50u
#define ZIP_SIG_EOCD64		0x06064b50u
#define ZIP_SIG_LOCATOR64	0x07064b50u
#define ZIP_SIG_SPAN		0x08074b50u

#define ZIP_LOCAL_SIZE		30	/* APPNOTE 4.3.7, without name/extra */
#define ZIP_CENTRAL_SIZE	46	/* 4.3.12 */
#define ZIP_EOCD64_SIZE		56	/* 4.3.14, without extensible data */
#define ZIP_LOCATOR64_SIZE	20	/* 4.3.15 */

#define ZIP_EXTRA_ZIP64		0x0001
#define ZIP_EXTRA_AES		0x9901

/* Bytes inflated per zlib call. */
#define ZIP_INFLATE_CHUNK	(64 * 1024)

static uint16_t
zip_rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
zip_rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t
zip_rd64(const unsigned char *p)
{
	return (uint64_t)zip_rd32(p) | ((uint64_t)zip_rd32(p + 4) << 32);
}

/* True if [off, off + n) lies within [0, len). */
static bool
zip_range_ok(uint64_t len, uint64_t off, uint64_t n)
{
	return off <= len && n <= len - off;
}

bool
zip_looks_like(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t sig;

	if (len < 4)
		return false;
	sig = zip_rd32(p);
	return sig == ZIP_SIG_LOCAL || sig == ZIP_SIG_EOCD ||
	    sig == ZIP_SIG_SPAN || sig == 0x30304b50u /* "PK00" */;
}

void
zip_close(struct zip_archive *z)
{
	free(z->entries);
	z->entries = NULL;
	z->n_entries = 0;
}

/* The last EOCD in the search window whose comment fits; -1 if none. */
static int64_t
zip_eocd_find(const unsigned char *d, size_t len)
{
	size_t lo = len > ZIP_EOCD_SEARCH_MAX ? len - ZIP_EOCD_SEARCH_MAX : 0;
	size_t pos;

	if (len < ZIP_EOCD_SIZE)
		return -1;
	pos = len - ZIP_EOCD_SIZE;
	for (;;) {
		if (zip_rd32(d + pos) == ZIP_SIG_EOCD &&
		    zip_rd16(d + pos + 20) <= len - pos - ZIP_EOCD_SIZE)
			return (int64_t)pos;
		if (pos == lo)
			return -1;
		pos--;
	}
}

/* Where the central directory is, from the EOCD (and ZIP64 EOCD). */
struct zip_dir {
	uint64_t n_entries;
	uint64_t size;
	uint64_t offset;	/* as recorded, before the base shift */
	uint64_t end;		/* where it must end in the buffer */
	bool zip64;
};

static int
zip_dir_find(const unsigned char *d, size_t len, struct zip_dir *dir,
    const char **error_r)
{
	int64_t found = zip_eocd_find(d, len);
	uint64_t eocd, loc, e64;
	uint16_t disk, cd_disk, n_disk, n_total;
	uint32_t cd_size, cd_off;
	bool need64;

	if (found < 0) {
		*error_r = "no end of central directory record";
		return -1;
	}
	eocd = (uint64_t)found;
	disk = zip_rd16(d + eocd + 4);
	cd_disk = zip_rd16(d + eocd + 6);
	n_disk = zip_rd16(d + eocd + 8);
	n_total = zip_rd16(d + eocd + 10);
	cd_size = zip_rd32(d + eocd + 12);
	cd_off = zip_rd32(d + eocd + 16);
	need64 = disk == 0xffff || cd_disk == 0xffff || n_disk == 0xffff ||
	    n_total == 0xffff || cd_size == 0xffffffffu ||
	    cd_off == 0xffffffffu;

	memset(dir, 0, sizeof(*dir));
	/* APPNOTE 4.3.15: the locator sits right before the EOCD. */
	if (eocd >= ZIP_LOCATOR64_SIZE &&
	    zip_rd32(d + eocd - ZIP_LOCATOR64_SIZE) == ZIP_SIG_LOCATOR64) {
		uint64_t rec, size64;

		loc = eocd - ZIP_LOCATOR64_SIZE;
		if (zip_rd32(d + loc + 4) != 0 || zip_rd32(d + loc + 16) > 1) {
			*error_r = "multi-disk archive";
			return -1;
		}
		rec = zip_rd64(d + loc + 8);
		/* Where the record says, or (with data before the archive)
		 * right before the locator. */
		if (zip_range_ok(loc, rec, ZIP_EOCD64_SIZE) &&
		    zip_rd32(d + rec) == ZIP_SIG_EOCD64)
			e64 = rec;
		else if (loc >= ZIP_EOCD64_SIZE &&
		    zip_rd32(d + loc - ZIP_EOCD64_SIZE) == ZIP_SIG_EOCD64)
			e64 = loc - ZIP_EOCD64_SIZE;
		else {
			*error_r = "ZIP64 end of central directory missing";
			return -1;
		}
		size64 = zip_rd64(d + e64 + 4);
		if (size64 < ZIP_EOCD64_SIZE - 12 ||
		    size64 - (ZIP_EOCD64_SIZE - 12) > loc - e64 -
		    ZIP_EOCD64_SIZE) {
			*error_r = "ZIP64 end of central directory cut off";
			return -1;
		}
		if (zip_rd32(d + e64 + 16) != 0 || zip_rd32(d + e64 + 20) != 0 ||
		    zip_rd64(d + e64 + 24) != zip_rd64(d + e64 + 32)) {
			*error_r = "multi-disk archive";
			return -1;
		}
		dir->n_entries = zip_rd64(d + e64 + 32);
		dir->size = zip_rd64(d + e64 + 40);
		dir->offset = zip_rd64(d + e64 + 48);
		dir->end = e64;
		dir->zip64 = true;
	} else if (need64) {
		*error_r = "ZIP64 values without a ZIP64 locator";
		return -1;
	} else {
		if (disk != 0 || cd_disk != 0 || n_disk != n_total) {
			*error_r = "multi-disk archive";
			return -1;
		}
		dir->n_entries = n_total;
		dir->size = cd_size;
		dir->offset = cd_off;
		dir->end = eocd;
	}
	if (dir->size > dir->end || dir->offset > dir->end - dir->size) {
		*error_r = "central directory outside the archive";
		return -1;
	}
	if (dir->n_entries > ZIP_ENTRIES_MAX) {
		*error_r = "too many entries";
		return -1;
	}
	if (dir->n_entries > dir->size / ZIP_CENTRAL_SIZE) {
		*error_r = "entry count larger than the central directory";
		return -1;
	}
	return 0;
}

/* Reads the ZIP64 extra field values that the 32-bit fields defer to,
 * in APPNOTE 4.5.3's order, and notes AES. */
static int
zip_extra_parse(const unsigned char *x, size_t xlen, struct zip_entry *e,
    bool size32, bool comp32, bool off32, const char **error_r)
{
	size_t pos = 0;
	bool seen64 = false;

	while (xlen - pos >= 4) {
		uint16_t id = zip_rd16(x + pos);
		uint16_t n = zip_rd16(x + pos + 2);
		const unsigned char *v = x + pos + 4;
		size_t used = 0;

		if (n > xlen - pos - 4) {
			*error_r = "extra field cut off";
			return -1;
		}
		if (id == ZIP_EXTRA_ZIP64 && !seen64) {
			seen64 = true;
			if (size32) {
				if (n - used < 8)
					goto short64;
				e->size = zip_rd64(v + used);
				used += 8;
			}
			if (comp32) {
				if (n - used < 8)
					goto short64;
				e->comp_size = zip_rd64(v + used);
				used += 8;
			}
			if (off32) {
				if (n - used < 8)
					goto short64;
				e->local_offset = zip_rd64(v + used);
				used += 8;
			}
		} else if (id == ZIP_EXTRA_AES) {
			e->encrypted = true;
		}
		pos += 4 + (size_t)n;
	}
	if ((size32 || comp32 || off32) && !seen64) {
		*error_r = "ZIP64 extra field missing";
		return -1;
	}
	return 0;
short64:
	*error_r = "ZIP64 extra field too short";
	return -1;
}

/* One central directory entry at d[*pos], which must lie before end. */
static int
zip_central_parse(const unsigned char *d, uint64_t *pos, uint64_t end,
    struct zip_entry *e, const char **error_r)
{
	const unsigned char *h;
	uint16_t nlen, xlen, clen, disk;
	uint32_t size32, comp32, off32;

	if (!zip_range_ok(end, *pos, ZIP_CENTRAL_SIZE) ||
	    zip_rd32(d + *pos) != ZIP_SIG_CENTRAL) {
		*error_r = "central directory entry missing";
		return -1;
	}
	h = d + *pos;
	nlen = zip_rd16(h + 28);
	xlen = zip_rd16(h + 30);
	clen = zip_rd16(h + 32);
	if (end - *pos - ZIP_CENTRAL_SIZE < (uint64_t)nlen + xlen + clen) {
		*error_r = "central directory entry cut off";
		return -1;
	}
	if (nlen > ZIP_NAME_MAX) {
		*error_r = "entry name too long";
		return -1;
	}
	memset(e, 0, sizeof(*e));
	e->flags = zip_rd16(h + 8);
	e->method = zip_rd16(h + 10);
	e->crc = zip_rd32(h + 16);
	comp32 = zip_rd32(h + 20);
	size32 = zip_rd32(h + 24);
	disk = zip_rd16(h + 34);
	off32 = zip_rd32(h + 42);
	e->comp_size = comp32;
	e->size = size32;
	e->local_offset = off32;
	e->name = (const char *)h + ZIP_CENTRAL_SIZE;
	e->name_len = nlen;
	e->is_dir = nlen > 0 && e->name[nlen - 1] == '/';
	e->encrypted = (e->flags & (ZIP_FLAG_ENCRYPTED | ZIP_FLAG_STRONG)) != 0 ||
	    e->method == ZIP_METHOD_AES;
	if (disk != 0 && disk != 0xffff) {
		*error_r = "multi-disk archive";
		return -1;
	}
	if ((e->flags & ZIP_FLAG_CD_MASKED) != 0) {
		*error_r = "encrypted central directory";
		return -1;
	}
	if (zip_extra_parse(h + ZIP_CENTRAL_SIZE + nlen, xlen, e,
	    size32 == 0xffffffffu, comp32 == 0xffffffffu,
	    off32 == 0xffffffffu, error_r) < 0)
		return -1;
	*pos += ZIP_CENTRAL_SIZE + (uint64_t)nlen + xlen + clen;
	return 0;
}

/* Checks e's local header against the central directory and finds its
 * data, which must end by limit (the start of the directory). */
static int
zip_local_check(const struct zip_archive *z, struct zip_entry *e,
    uint64_t limit, const char **error_r)
{
	const unsigned char *h;
	uint64_t off;
	uint16_t lflags, lmethod, lnlen, lxlen;
	uint32_t lcrc, lcomp, lsize;

	if (e->local_offset > UINT64_MAX - z->base) {
		*error_r = "local header outside the archive";
		return -1;
	}
	off = z->base + e->local_offset;
	if (!zip_range_ok(limit, off, ZIP_LOCAL_SIZE) ||
	    zip_rd32(z->data + off) != ZIP_SIG_LOCAL) {
		*error_r = "local header missing";
		return -1;
	}
	h = z->data + off;
	lflags = zip_rd16(h + 6);
	lmethod = zip_rd16(h + 8);
	lcrc = zip_rd32(h + 14);
	lcomp = zip_rd32(h + 18);
	lsize = zip_rd32(h + 22);
	lnlen = zip_rd16(h + 26);
	lxlen = zip_rd16(h + 28);
	if (!zip_range_ok(limit, off + ZIP_LOCAL_SIZE,
	    (uint64_t)lnlen + lxlen)) {
		*error_r = "local header cut off";
		return -1;
	}
	if (lnlen != e->name_len ||
	    memcmp(h + ZIP_LOCAL_SIZE, e->name, lnlen) != 0) {
		*error_r = "local header name differs from the directory";
		return -1;
	}
	if (lmethod != e->method ||
	    (lflags & ZIP_FLAG_ENCRYPTED) != (e->flags & ZIP_FLAG_ENCRYPTED)) {
		*error_r = "local header differs from the directory";
		return -1;
	}
	/* Without a data descriptor, the local header has CRC and sizes
	 * (or 0xffffffff and a ZIP64 extra field, 4.5.3). */
	if ((lflags & ZIP_FLAG_DESCRIPTOR) == 0 && lcomp != 0xffffffffu &&
	    lsize != 0xffffffffu &&
	    (lcrc != e->crc || lcomp != e->comp_size || lsize != e->size)) {
		*error_r = "local header sizes differ from the directory";
		return -1;
	}
	e->data_offset = off + ZIP_LOCAL_SIZE + lnlen + lxlen;
	if (!zip_range_ok(limit, e->data_offset, e->comp_size)) {
		*error_r = "entry data outside the archive";
		return -1;
	}
	return 0;
}

static int
zip_entry_offset_cmp(const void *a, const void *b)
{
	const struct zip_entry *x = *(const struct zip_entry *const *)a;
	const struct zip_entry *y = *(const struct zip_entry *const *)b;

	if (x->local_offset != y->local_offset)
		return x->local_offset < y->local_offset ? -1 : 1;
	return 0;
}

/* No two entries share bytes: each one's local header and data end
 * before the next one's local header starts. */
static int
zip_overlap_check(const struct zip_archive *z, const char **error_r)
{
	const struct zip_entry **order;
	int ret = 0;

	if (z->n_entries < 2)
		return 0;
	order = xcalloc(z->n_entries, sizeof(*order));
	for (size_t i = 0; i < z->n_entries; i++)
		order[i] = &z->entries[i];
	qsort(order, z->n_entries, sizeof(*order), zip_entry_offset_cmp);
	for (size_t i = 0; i + 1 < z->n_entries; i++) {
		uint64_t end = order[i]->data_offset + order[i]->comp_size;

		if (end > z->base + order[i + 1]->local_offset) {
			*error_r = "entries overlap";
			ret = -1;
			break;
		}
	}
	free(order);
	return ret;
}

/* Sizes that cannot be honest: a stored entry whose sizes differ, or a
 * compression ratio only a bomb reaches. */
static int
zip_size_check(const struct zip_entry *e, const char **error_r)
{
	if (e->method == ZIP_METHOD_STORED && !e->encrypted &&
	    e->comp_size != e->size) {
		*error_r = "stored entry with two sizes";
		return -1;
	}
	if (e->size > ZIP_RATIO_MIN_SIZE &&
	    e->size / ZIP_RATIO_MAX > e->comp_size) {
		*error_r = "compression ratio of a zip bomb";
		return -1;
	}
	return 0;
}

int
zip_open(struct zip_archive *z, const void *data, size_t len,
    const char **error_r)
{
	struct zip_dir dir;
	uint64_t pos, cd_start;

	memset(z, 0, sizeof(*z));
	z->data = data;
	z->len = len;
	if (zip_dir_find(z->data, len, &dir, error_r) < 0)
		return -1;
	/* The directory ends where the EOCD (or ZIP64 EOCD) starts; any
	 * difference from its recorded offset is data before the archive. */
	z->base = dir.end - dir.size - dir.offset;
	z->zip64 = dir.zip64;
	cd_start = z->base + dir.offset;
	if (dir.n_entries > 0)
		z->entries = xcalloc((size_t)dir.n_entries, sizeof(*z->entries));
	pos = cd_start;
	for (uint64_t i = 0; i < dir.n_entries; i++) {
		struct zip_entry *e = &z->entries[i];

		if (zip_central_parse(z->data, &pos, dir.end, e, error_r) < 0)
			return -1;
		z->n_entries++;
		if (zip_local_check(z, e, cd_start, error_r) < 0 ||
		    zip_size_check(e, error_r) < 0)
			return -1;
	}
	/* Readers that walk the directory by its size and ones that walk
	 * it by the count must see the same entries. */
	if (pos != dir.end) {
		*error_r = "central directory holds more than its entries";
		return -1;
	}
	return zip_overlap_check(z, error_r);
}

static enum zip_read
zip_stored_read(const struct zip_archive *z, const struct zip_entry *e,
    size_t want, struct buf *out, const char **error_r)
{
	const unsigned char *p = z->data + e->data_offset;

	if (buf_append(out, p, want) < 0) {
		*error_r = "output buffer too small";
		return ZIP_READ_CORRUPT;
	}
	if (want < e->size)
		return ZIP_READ_PREFIX;
	if (crc32_z(0, p, want) != e->crc) {
		*error_r = "CRC mismatch";
		return ZIP_READ_CORRUPT;
	}
	return ZIP_READ_WHOLE;
}

static enum zip_read
zip_deflate_read(const struct zip_archive *z, const struct zip_entry *e,
    size_t want, struct buf *out, const char **error_r)
{
	bool whole = want == e->size;
	uint64_t left_in = e->comp_size;
	uLong crc = crc32_z(0, NULL, 0);
	enum zip_read ret = ZIP_READ_CORRUPT;
	unsigned char *chunk;
	size_t got = 0;
	z_stream s;
	int zr;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
		*error_r = "inflateInit2 failed";
		return ZIP_READ_CORRUPT;
	}
	chunk = xmalloc(ZIP_INFLATE_CHUNK);
	s.next_in = (Bytef *)(z->data + e->data_offset);
	for (;;) {
		/* Reading it whole, leave room for one byte more than
		 * promised, to catch a stream that runs past its size. */
		size_t room = want - got + (whole ? 1 : 0);
		uInt in_before;
		size_t n;

		if (room > ZIP_INFLATE_CHUNK)
			room = ZIP_INFLATE_CHUNK;
		/* zlib counts in uInt: feed comp_size in pieces. */
		if (s.avail_in == 0 && left_in > 0) {
			uInt feed = left_in > (1u << 30) ? (1u << 30) :
			    (uInt)left_in;

			s.avail_in = feed;
			left_in -= feed;
		}
		in_before = s.avail_in;
		s.next_out = chunk;
		s.avail_out = (uInt)room;
		zr = inflate(&s, Z_NO_FLUSH);
		n = room - s.avail_out;
		if (n > want - got) {
			*error_r = "entry larger than its size";
			goto out;
		}
		if (buf_append(out, chunk, n) < 0) {
			*error_r = "output buffer too small";
			goto out;
		}
		crc = crc32_z(crc, chunk, n);
		got += n;
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			*error_r = "bad deflate data";
			goto out;
		}
		if (!whole && got == want) {
			ret = ZIP_READ_PREFIX;
			goto out;
		}
		/* Every round consumes input or makes output; one that does
		 * neither has run out of input. */
		if (n == 0 && s.avail_in == in_before) {
			*error_r = "deflate data cut off";
			goto out;
		}
	}
	if (got != e->size) {
		*error_r = "entry smaller than its size";
		goto out;
	}
	if (crc != e->crc) {
		*error_r = "CRC mismatch";
		goto out;
	}
	ret = ZIP_READ_WHOLE;
out:
	inflateEnd(&s);
	free(chunk);
	return ret;
}

enum zip_read
zip_entry_read(const struct zip_archive *z, const struct zip_entry *e,
    size_t max, size_t *budget, struct buf *out, const char **error_r)
{
	size_t want;

	if (e->encrypted ||
	    (e->method != ZIP_METHOD_STORED && e->method != ZIP_METHOD_DEFLATE))
		return ZIP_READ_UNSUPPORTED;
	want = e->size < max ? (size_t)e->size : max;
	if (want > *budget)
		return ZIP_READ_BUDGET;
	*budget -= want;
	if (e->method == ZIP_METHOD_STORED)
		return zip_stored_read(z, e, want, out, error_r);
	return zip_deflate_read(z, e, want, out, error_r);
}
