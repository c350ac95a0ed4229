/*
 * spam-attach.h - dangerous attachments and the EICAR test file: the
 * content stage's malware check.
 *
 * Every leaf part of the MIME tree that is not text, or that has a file
 * name (Content-Disposition filename, else Content-Type name; RFC 2183,
 * RFC 2045, RFC 2231 decoded by the MIME parser, RFC 2047 words in it
 * decoded here as mail clients do), is decoded (RFC 2045 6.7, 6.8) and
 * judged by its CONTENT: magic bytes (own checks for PE/MZ, ELF, Mach-O,
 * Java class, LNK, OLE2 directories, ZIP) and libmagic's MIME type; then
 * by its name. ZIP archives (filter/zip.h), and the OOXML and
 * OpenDocument files that are ZIP archives, are opened, nested ones too,
 * and each entry is judged the same way. Symbols (spam-symbols.c):
 *   EICAR                      the EICAR test file, in a part or a zip (HOLD)
 *   ATTACH_EXECUTABLE          PE, ELF, Mach-O, MSI, Java class or jar,
 *                              LNK, disk image, by content (HOLD)
 *   ATTACH_DANGEROUS_NAME      an extension Windows runs (.exe .js ...) (HOLD)
 *   ATTACH_DOUBLE_EXT          invoice.pdf.exe, padding before the real
 *                              extension, bidi controls (U+202E) in a name
 *   ATTACH_MACRO               a macro-enabled office file: .docm-style
 *                              name, OOXML with vbaProject.bin, OLE2 with
 *                              a VBA/Macros storage, OpenDocument Basic
 *                              or Scripts (HOLD)
 *   ATTACH_ARCHIVE_EXECUTABLE  any of the four above inside an archive or
 *                              an office document (HOLD)
 *   ATTACH_ENCRYPTED_ARCHIVE   an encrypted zip entry (HOLD)
 *   ATTACH_NAME_MISMATCH       the content contradicts the name (an
 *                              executable called .pdf)
 *   ATTACH_UNREADABLE_ARCHIVE  a zip that is corrupt, bomb-like, nested
 *                              too deep, or too large to look into
 * Text parts without a file name are only checked for EICAR.
 *
 * Not done: RAR, 7z, gzip, tar, cab and ISO contents (ISO/IMG are caught
 * by name and content, the others only by the names and content checks
 * of the archive itself); deflate64, bzip2 and other zip methods (their
 * entries are judged by name only); Excel 4.0 macro sheets, PowerPoint 97
 * VBA, RTF and PDF active content; executables inside OLE packages.
 *
 * Threads: the check runs on worker threads. libmagic handles are not
 * thread-safe, so each thread lazily opens its own on first use (loading
 * the compiled database, /usr/lib/file/magic.mgc: a few ms and an mmap
 * of about 8 MB shared through the page cache); it is closed when the
 * thread exits, or by spam_attach_thread_done(). Without a database the
 * own magic checks still run (logged once per thread).
 *
 * SECURITY: every attachment is hostile. Decoding is capped per part
 * (SPAM_ATTACH_DECODED_MAX), inflation per message (ZIP_INFLATE_TOTAL_MAX,
 * shared by nested archives), nesting by ZIP_DEPTH_MAX (recursion is
 * bounded by it), libmagic sees at most SPAM_ATTACH_MAGIC_MAX bytes per
 * object and runs at most SPAM_ATTACH_MAGIC_CALLS_MAX times per message,
 * with its CDF and ELF parsers off (own checks cover those; they are
 * where libmagic's past CVEs were). File names reach details only
 * through spam_add(), which escapes them.
 */
#ifndef FILTER_SPAM_ATTACH_H
#define FILTER_SPAM_ATTACH_H

#include <stddef.h>

struct spam_msg;
struct spam_result;

/* Decoded bytes of one part kept; past it, only that prefix is judged
 * (a zip cut there is unreadable). Above the default message size. */
#define SPAM_ATTACH_DECODED_MAX (32 * 1024 * 1024)
/* Bytes of a zip entry inflated to judge it by its first bytes. */
#define SPAM_ATTACH_PEEK_MAX (64 * 1024)
/* A zip entry that is itself a zip or an OLE2 file is inflated whole
 * when it is at most this large; larger, it is unreadable. */
#define SPAM_ATTACH_CONTAINER_MAX (8 * 1024 * 1024)
/* Bytes of an object libmagic looks at. */
#define SPAM_ATTACH_MAGIC_MAX (256 * 1024)
/* libmagic calls per message (parts and zip entries whose first bytes
 * the own checks do not recognise: not text, images, PDF, zip, OLE2 or
 * an executable); each costs about a millisecond, so this caps the CPU
 * a message of random binary entries can take. The own checks and the
 * name checks go on past it. */
#define SPAM_ATTACH_MAGIC_CALLS_MAX 64
/* The EICAR file is at most this long (the string, then white space). */
#define SPAM_ATTACH_EICAR_MAX 128
/* Raw bytes of a text part without a name that is checked for EICAR. */
#define SPAM_ATTACH_EICAR_RAW_MAX 4096
/* Bytes of an OLE2 file searched for directory entries. */
#define SPAM_ATTACH_OLE_SCAN_MAX SPAM_ATTACH_CONTAINER_MAX
/* Bytes of a file name judged (after RFC 2047 decoding; a longer one
 * keeps its end), and of the "outer.zip/inner.exe" path kept for a
 * symbol's detail. Parameter values are at most MIME_FIELD_VALUE_MAX
 * (16 KiB), which decodes to less than this. */
#define SPAM_ATTACH_NAME_MAX (64 * 1024)
#define SPAM_ATTACH_PATH_MAX 512

/*
 * Adds the symbols above to r for the attachments of m (m->root, over
 * m->data); scratch memory is m->pool's or freed before it returns.
 * Runs on any thread (see Threads above); never fails: what cannot be
 * read is ATTACH_UNREADABLE_ARCHIVE or, for a part, judged as it is.
 */
void
spam_check_attachments(struct spam_msg *m, struct spam_result *r);

/* Closes the calling thread's libmagic handle, if it has one (a worker
 * that exits does it anyway; tests call it to be leak-clean). */
void
spam_attach_thread_done(void);

#endif
