/*
 * zip-build.h - a small ZIP writer for tests (APPNOTE.TXT 6.3 4.3): valid
 * archives, stored or deflated, with ZIP64 records on request, which the
 * tests then damage byte by byte. Header-only (static inline) so that each
 * test takes what it uses.
 */
#ifndef TESTS_ZIP_BUILD_H
#define TESTS_ZIP_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/buf.h"

#define ZB_MAX (64u * 1024 * 1024)

/* zb_add options */
#define ZB_DEFLATE	0x01
#define ZB_ENCRYPTED	0x02	/* flag bit 0 and a 12-byte header */
#define ZB_ZIP64	0x04	/* 0xffffffff in the CD, ZIP64 extra field */
#define ZB_DESCRIPTOR	0x08	/* sizes in a data descriptor */

struct zb {
	struct buf out;		/* local headers and data, then all */
	struct buf cd;
	uint64_t n;
};

static inline void
zb_put16(struct buf *b, uint16_t v)
{
	unsigned char p[2] = { (unsigned char)v, (unsigned char)(v >> 8) };

	(void)buf_append(b, p, 2);
}

static inline void
zb_put32(struct buf *b, uint32_t v)
{
	zb_put16(b, (uint16_t)v);
	zb_put16(b, (uint16_t)(v >> 16));
}

static inline void
zb_put64(struct buf *b, uint64_t v)
{
	zb_put32(b, (uint32_t)v);
	zb_put32(b, (uint32_t)(v >> 32));
}

static inline void
zb_init(struct zb *z)
{
	buf_init(&z->out, ZB_MAX);
	buf_init(&z->cd, ZB_MAX);
	z->n = 0;
}

static inline void
zb_free(struct zb *z)
{
	buf_release(&z->out);
	buf_release(&z->cd);
}

/* Raw deflate of data into a malloc'd buffer. */
static inline unsigned char *
zb_deflate(const void *data, size_t len, size_t *out_len)
{
	z_stream s;
	size_t cap = deflateBound(NULL, len) + 64;
	unsigned char *o = malloc(cap);

	memset(&s, 0, sizeof(s));
	deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
	s.next_in = (Bytef *)data;
	s.avail_in = (uInt)len;
	s.next_out = o;
	s.avail_out = (uInt)cap;
	deflate(&s, Z_FINISH);
	*out_len = cap - s.avail_out;
	deflateEnd(&s);
	return o;
}

/* Adds an entry; returns the offset of its local header. */
static inline size_t
zb_add(struct zb *z, const char *name, const void *data, size_t len,
    unsigned opts)
{
	size_t off = z->out.len, nlen = strlen(name), clen = len;
	uint16_t method = (opts & ZB_DEFLATE) ? 8 : 0;
	uint16_t flags = 0;
	uint32_t crc = (uint32_t)crc32(0, data, (uInt)len);
	unsigned char *comp = NULL;
	const void *body = data;
	static const unsigned char enc_hdr[12] = { 1, 2, 3, 4, 5, 6, 7, 8,
	    9, 10, 11, 12 };
	bool z64 = (opts & ZB_ZIP64) != 0;

	if (opts & ZB_DEFLATE) {
		comp = zb_deflate(data, len, &clen);
		body = comp;
	}
	if (opts & ZB_ENCRYPTED) {
		flags |= 1;
		clen += 12;
	}
	if (opts & ZB_DESCRIPTOR)
		flags |= 8;
	/* Local header (4.3.7). */
	zb_put32(&z->out, 0x04034b50);
	zb_put16(&z->out, z64 ? 45 : 20);
	zb_put16(&z->out, flags);
	zb_put16(&z->out, method);
	zb_put32(&z->out, 0);
	zb_put32(&z->out, (opts & ZB_DESCRIPTOR) ? 0 : crc);
	zb_put32(&z->out, (opts & ZB_DESCRIPTOR) ? 0 :
	    z64 ? 0xffffffffu : (uint32_t)clen);
	zb_put32(&z->out, (opts & ZB_DESCRIPTOR) ? 0 :
	    z64 ? 0xffffffffu : (uint32_t)len);
	zb_put16(&z->out, (uint16_t)nlen);
	zb_put16(&z->out, z64 ? 20 : 0);
	(void)buf_append(&z->out, name, nlen);
	if (z64) {
		zb_put16(&z->out, 1);
		zb_put16(&z->out, 16);
		zb_put64(&z->out, len);
		zb_put64(&z->out, clen);
	}
	if (opts & ZB_ENCRYPTED)
		(void)buf_append(&z->out, enc_hdr, 12);
	(void)buf_append(&z->out, body, clen - ((opts & ZB_ENCRYPTED) ? 12 : 0));
	if (opts & ZB_DESCRIPTOR) {
		zb_put32(&z->out, 0x08074b50);
		zb_put32(&z->out, crc);
		zb_put32(&z->out, (uint32_t)clen);
		zb_put32(&z->out, (uint32_t)len);
	}
	/* Central directory header (4.3.12). */
	zb_put32(&z->cd, 0x02014b50);
	zb_put16(&z->cd, 0x031e);
	zb_put16(&z->cd, z64 ? 45 : 20);
	zb_put16(&z->cd, flags);
	zb_put16(&z->cd, method);
	zb_put32(&z->cd, 0);
	zb_put32(&z->cd, crc);
	zb_put32(&z->cd, z64 ? 0xffffffffu : (uint32_t)clen);
	zb_put32(&z->cd, z64 ? 0xffffffffu : (uint32_t)len);
	zb_put16(&z->cd, (uint16_t)nlen);
	zb_put16(&z->cd, z64 ? 28 : 0);
	zb_put16(&z->cd, 0);
	zb_put16(&z->cd, 0);
	zb_put16(&z->cd, 0);
	zb_put32(&z->cd, 0);
	zb_put32(&z->cd, z64 ? 0xffffffffu : (uint32_t)off);
	(void)buf_append(&z->cd, name, nlen);
	if (z64) {
		zb_put16(&z->cd, 1);
		zb_put16(&z->cd, 24);
		zb_put64(&z->cd, len);
		zb_put64(&z->cd, clen);
		zb_put64(&z->cd, off);
	}
	z->n++;
	free(comp);
	return off;
}

/* Appends the directory and the EOCD (with a ZIP64 EOCD and locator if
 * zip64); the archive is then z->out. */
static inline void
zb_finish(struct zb *z, bool zip64, const char *comment)
{
	uint64_t cd_off = z->out.len, cd_size = z->cd.len;
	size_t clen = comment != NULL ? strlen(comment) : 0;

	(void)buf_append(&z->out, z->cd.data != NULL ? z->cd.data : "",
	    z->cd.len);
	if (zip64) {
		uint64_t e64 = z->out.len;

		zb_put32(&z->out, 0x06064b50);
		zb_put64(&z->out, 44);
		zb_put16(&z->out, 45);
		zb_put16(&z->out, 45);
		zb_put32(&z->out, 0);
		zb_put32(&z->out, 0);
		zb_put64(&z->out, z->n);
		zb_put64(&z->out, z->n);
		zb_put64(&z->out, cd_size);
		zb_put64(&z->out, cd_off);
		zb_put32(&z->out, 0x07064b50);
		zb_put32(&z->out, 0);
		zb_put64(&z->out, e64);
		zb_put32(&z->out, 1);
	}
	zb_put32(&z->out, 0x06054b50);
	zb_put16(&z->out, 0);
	zb_put16(&z->out, 0);
	zb_put16(&z->out, zip64 ? 0xffff : (uint16_t)z->n);
	zb_put16(&z->out, zip64 ? 0xffff : (uint16_t)z->n);
	zb_put32(&z->out, zip64 ? 0xffffffffu : (uint32_t)cd_size);
	zb_put32(&z->out, zip64 ? 0xffffffffu : (uint32_t)cd_off);
	zb_put16(&z->out, (uint16_t)clen);
	(void)buf_append(&z->out, comment != NULL ? comment : "", clen);
}

/* A whole archive of one entry, into a malloc'd buffer. */
static inline unsigned char *
zb_one(const char *name, const void *data, size_t len, unsigned opts,
    size_t *len_r)
{
	struct zb z;
	unsigned char *p;

	zb_init(&z);
	zb_add(&z, name, data, len, opts);
	zb_finish(&z, false, NULL);
	p = (unsigned char *)buf_steal(&z.out, len_r);
	zb_free(&z);
	return p;
}

#endif
