/*
 * zip.h - a ZIP archive reader over a buffer in memory, for the attachment
 * checks (filter/spam-attach.c): the directory, and the first bytes or
 * all of an entry, inflated.
 *
 * Format: PKWARE APPNOTE.TXT 6.3 (the .ZIP File Format Specification):
 * 4.3.16 end of central directory record (EOCD), 4.3.12 central directory
 * file headers, 4.3.7 local file headers, 4.3.14/4.3.15 the ZIP64 EOCD
 * record and locator, 4.5.3 the ZIP64 extended information extra field;
 * deflate is RFC 1951 (zlib, raw). Traditional encryption (flag bit 0),
 * strong encryption (bit 6) and WinZip AES (method 99, extra 0x9901) are
 * recognised, never decrypted. Multi-disk archives, an encrypted central
 * directory (bit 13) and methods other than stored and deflate (the
 * directory is read, the data is not) are not supported.
 *
 * ZIP64 is supported: the ZIP64 EOCD (found through its locator) and the
 * ZIP64 extra field of each central directory entry.
 *
 * zip_open() is strict where readers disagree, because an archive that
 * one program reads differently from another is how malware gets past a
 * scanner: it fails (the caller calls the archive unreadable) when
 *  - there is no EOCD in the last ZIP_EOCD_SEARCH_MAX bytes, or it or the
 *    directory is cut off or points outside the buffer;
 *  - the entry count is not what the directory holds (the directory's
 *    size must be taken up by exactly that many entries);
 *  - an entry's local header is missing or disagrees with the central
 *    directory (name, method, encryption, and CRC and sizes unless they
 *    are deferred to a data descriptor);
 *  - two entries' data overlap (David Fifield's overlapping-file bombs,
 *    and two names for one body), or data runs into the directory;
 *  - a limit below is passed: too many entries, a name too long, a
 *    compression ratio that only a zip bomb has.
 * Data before the archive (a self-extractor stub) is allowed: every
 * offset is then taken relative to where the directory really is.
 *
 * SECURITY: the buffer is hostile (an attachment). Every offset and size
 * is checked against the buffer before it is read, in 64-bit arithmetic
 * by subtraction; the EOCD search, the directory walk and each extra
 * field walk are bounded and always advance; memory is one array of at
 * most ZIP_ENTRIES_MAX entries, which point into the buffer. Inflation is
 * bounded by the caller's maximum and by a byte budget shared by every
 * entry (and every nested archive) of one message, so a bomb costs at
 * most that budget in CPU and memory.
 */
#ifndef FILTER_ZIP_H
#define FILTER_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* The EOCD record without its comment (APPNOTE 4.3.16). */
#define ZIP_EOCD_SIZE 22
/* The EOCD is in the last 64 KiB - 1 of comment plus itself. */
#define ZIP_EOCD_SEARCH_MAX (65535 + ZIP_EOCD_SIZE)
/* Entries read from one archive; more and it is unreadable. */
#define ZIP_ENTRIES_MAX 4096
/* Bytes of one entry name; longer and the archive is unreadable. */
#define ZIP_NAME_MAX 1024
/* An entry larger than ZIP_RATIO_MIN_SIZE that claims more than
 * ZIP_RATIO_MAX times its compressed size is a zip bomb (deflate's own
 * maximum is about 1032; text and office files stay under 20). */
#define ZIP_RATIO_MAX 200
#define ZIP_RATIO_MIN_SIZE (1024 * 1024)
/* Archives inside archives that callers open (the zip in the zip in the
 * attachment is depth 2); one deeper is unreadable. */
#define ZIP_DEPTH_MAX 4
/* The inflate budget callers give one message: all entries of all
 * archives, nested ones included, inflate at most this much in all. */
#define ZIP_INFLATE_TOTAL_MAX (32 * 1024 * 1024)

/* General purpose flag bits (APPNOTE 4.4.4). */
#define ZIP_FLAG_ENCRYPTED	0x0001
#define ZIP_FLAG_DESCRIPTOR	0x0008	/* CRC and sizes after the data */
#define ZIP_FLAG_STRONG		0x0040	/* strong encryption */
#define ZIP_FLAG_UTF8		0x0800
#define ZIP_FLAG_CD_MASKED	0x2000	/* encrypted central directory */

/* Compression methods (APPNOTE 4.4.5) this reader knows. */
#define ZIP_METHOD_STORED	0
#define ZIP_METHOD_DEFLATE	8
#define ZIP_METHOD_AES		99	/* WinZip AES: encrypted */

struct zip_entry {
	/* The name, name_len bytes into the archive's buffer (not
	 * NUL-terminated; may hold any byte, NUL included). */
	const char *name;
	size_t name_len;
	uint16_t flags;		/* ZIP_FLAG_* and others */
	uint16_t method;	/* ZIP_METHOD_* or another */
	uint32_t crc;
	uint64_t comp_size;	/* as the central directory says */
	uint64_t size;		/* uncompressed, as it says */
	uint64_t local_offset;	/* of the local header, in the buffer */
	uint64_t data_offset;	/* of the (compressed) data, in the buffer */
	bool encrypted;		/* bit 0 or 6, or AES */
	bool is_dir;		/* the name ends in '/' */
};

struct zip_archive {
	const unsigned char *data;	/* the caller's buffer */
	size_t len;
	/* Bytes before the archive proper (self-extractor stub). */
	uint64_t base;
	bool zip64;		/* a ZIP64 EOCD was used */
	struct zip_entry *entries;	/* in central directory order */
	size_t n_entries;
};

/*
 * Reads the directory of the archive in data (len bytes, which must
 * outlive *z) into *z. Returns 0, or -1 with *error_r set to a static
 * string (the archive is corrupt, unsupported or bomb-like; see the top
 * of this file). zip_close() releases *z either way.
 */
int
zip_open(struct zip_archive *z, const void *data, size_t len,
    const char **error_r);

/* Frees the entry array; *z is empty after it. */
void
zip_close(struct zip_archive *z);

/* True if data (len bytes) starts like a ZIP archive: a local header, an
 * empty archive's EOCD, or a spanning marker (APPNOTE 8.5.3). */
bool
zip_looks_like(const void *data, size_t len);

enum zip_read {
	ZIP_READ_WHOLE,		/* the whole entry; sizes and CRC checked */
	ZIP_READ_PREFIX,	/* its first max bytes; the entry is larger */
	ZIP_READ_UNSUPPORTED,	/* encrypted, or not stored nor deflate */
	ZIP_READ_BUDGET,	/* the budget does not cover what was asked */
	ZIP_READ_CORRUPT,	/* a bad deflate stream, or sizes or CRC
				 * other than the directory's */
};

/*
 * Appends the uncompressed data of entry e of z to out (whose max must
 * leave room for max more bytes): all of it if e->size <= max, else its
 * first max bytes. The bytes this needs (min(e->size, max)) are taken
 * from *budget first; if *budget is smaller nothing is read and
 * ZIP_READ_BUDGET is returned. On ZIP_READ_CORRUPT, *error_r says why and
 * out may hold part of the data. Never reads outside z's buffer, never
 * produces more than it asked the budget for.
 */
enum zip_read
zip_entry_read(const struct zip_archive *z, const struct zip_entry *e,
    size_t max, size_t *budget, struct buf *out, const char **error_r);

#endif
