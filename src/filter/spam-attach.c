/*
 * spam-attach.c - dangerous attachments and the EICAR test file (see
 * spam-attach.h).
 *
 * RFC 2045 (Content-Transfer-Encoding), RFC 2183 (Content-Disposition
 * filename), RFC 2231 (parameter values, decoded by the MIME parser; a
 * value in an unknown charset is percent-decoded here), RFC 2047 (encoded
 * words in file names, which RFC 2047 5 forbids and every client reads).
 * Formats judged by their first bytes: PE/COFF (Microsoft PE Format,
 * "MZ" then "PE\0\0" at e_lfanew), ELF, Mach-O (thin and universal), Java
 * class files, Shell Link (MS-SHLLINK 2.1), Compound File Binary
 * (MS-CFB 2.2 header, 2.6 directory entries), ISO 9660 (the "CD001"
 * volume descriptor at 32769), ZIP (filter/zip.h), OOXML (ECMA-376 Part
 * 2: [Content_Types].xml; vbaProject.bin holds the VBA project, MS-OVBA)
 * and OpenDocument (the "mimetype" entry; Basic/ and Scripts/ hold
 * macros). The EICAR file is as EICAR defines it: the 68-byte string at
 * offset 0, then only white space, 128 bytes at most.
 *
 * SECURITY: all input is hostile. Each object is decoded or inflated
 * into a struct buf with a fixed max; every read of a header field is
 * checked against the object's length; the OLE2 directory is found by a
 * linear scan of 128-byte slots (no sector chains to follow, so no
 * loops); zip nesting recurses at most ZIP_DEPTH_MAX deep, and all zips
 * of a message share one inflate budget. Names go into details through
 * spam_add() (escaped, cut); NUL bytes in names become '?' in paths.
 * The EICAR string is kept in two halves so this file and the binary
 * built from it are not themselves the test file to a virus scanner.
 */
#include "filter/spam-attach.h"

#include <magic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "filter/spam.h"
#include "filter/zip.h"
#include "mime/mime-decode.h"
#include "mime/mime.h"

/* The EICAR string, in two halves (see SECURITY above). */
static const char attach_eicar_a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
static const char attach_eicar_b[] = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
#define ATTACH_EICAR_A_LEN (sizeof(attach_eicar_a) - 1)
#define ATTACH_EICAR_LEN (ATTACH_EICAR_A_LEN + sizeof(attach_eicar_b) - 1)

/* What a check found, before the depth decides the symbol. */
enum attach_find {
	ATTACH_FIND_EXEC,
	ATTACH_FIND_NAME,
	ATTACH_FIND_DOUBLE,
	ATTACH_FIND_MACRO,
};

static const char *const attach_find_symbols[] = {
	[ATTACH_FIND_EXEC] = "ATTACH_EXECUTABLE",
	[ATTACH_FIND_NAME] = "ATTACH_DANGEROUS_NAME",
	[ATTACH_FIND_DOUBLE] = "ATTACH_DOUBLE_EXT",
	[ATTACH_FIND_MACRO] = "ATTACH_MACRO",
};

/* Kinds of content, as far as a name can contradict them. */
enum attach_fam {
	ATTACH_FAM_NONE,	/* not known, or nothing a name promises */
	ATTACH_FAM_EXEC,
	ATTACH_FAM_PDF,
	ATTACH_FAM_IMAGE,
	ATTACH_FAM_ZIP,
	ATTACH_FAM_OLE,
	ATTACH_FAM_HTML,
	ATTACH_FAM_TEXT,
};

struct attach_kind {
	enum attach_fam fam;
	const char *what;	/* for details: "PE executable", a MIME type */
	bool zip;		/* open it as an archive */
	bool ole;		/* scan its OLE2 directory */
	bool msi;		/* an OLE2 installer (MSI/MSP) */
	bool vba;		/* an OLE2 file with a VBA or Macros storage */
};

struct attach_scan {
	struct spam_msg *m;
	struct spam_result *r;
	magic_t magic;		/* NULL: own checks only */
	size_t budget;		/* bytes all zips may still inflate */
	unsigned magic_calls;
	struct buf path;	/* "invoice.zip/x/evil.exe" */
};

/*
 * One libmagic handle per thread.
 */

static pthread_once_t attach_magic_once = PTHREAD_ONCE_INIT;
static pthread_key_t attach_magic_key;
static __thread magic_t attach_magic;
static __thread bool attach_magic_broken;

static void
attach_magic_destroy(void *m)
{
	magic_close(m);
}

static void
attach_magic_key_make(void)
{
	if (pthread_key_create(&attach_magic_key, attach_magic_destroy) != 0)
		log_error("spam attach: pthread_key_create failed");
}

static magic_t
attach_magic_get(void)
{
	size_t bytes = SPAM_ATTACH_MAGIC_MAX;
	magic_t m;

	if (attach_magic != NULL || attach_magic_broken)
		return attach_magic;
	(void)pthread_once(&attach_magic_once, attach_magic_key_make);
	/* No decompression, and no CDF or ELF parsing: the own checks do
	 * those, and they are where libmagic's parsers had their bugs. */
	m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS |
	    MAGIC_NO_CHECK_CDF | MAGIC_NO_CHECK_ELF);
	if (m == NULL || magic_load(m, NULL) != 0) {
		log_error("spam attach: libmagic unusable (%s): own magic "
		    "checks only", m != NULL && magic_error(m) != NULL ?
		    magic_error(m) : "magic_open failed");
		if (m != NULL)
			magic_close(m);
		attach_magic_broken = true;
		return NULL;
	}
	(void)magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes);
	attach_magic = m;
	(void)pthread_setspecific(attach_magic_key, m);
	return m;
}

void
spam_attach_thread_done(void)
{
	if (attach_magic != NULL) {
		(void)pthread_setspecific(attach_magic_key, NULL);
		magic_close(attach_magic);
		attach_magic = NULL;
	}
	attach_magic_broken = false;
}

/*
 * Details: the path of the object being judged.
 */

static const char *
attach_path(const struct attach_scan *s)
{
	return s->path.data != NULL ? s->path.data : "";
}

/* Appends "/name" (or name, first) as far as it fits; returns the
 * length to go back to. */
static size_t
attach_path_push(struct attach_scan *s, const char *name, size_t len)
{
	size_t mark = s->path.len;

	if (mark > 0)
		(void)buf_append(&s->path, "/", 1);
	for (size_t i = 0; i < len && s->path.len < s->path.max; i++) {
		char c = name[i] == '\0' ? '?' : name[i];

		(void)buf_append(&s->path, &c, 1);
	}
	if (s->path.data == NULL)
		(void)buf_append(&s->path, "", 0);
	return mark;
}

static void
attach_path_pop(struct attach_scan *s, size_t mark)
{
	if (s->path.data != NULL) {
		s->path.len = mark;
		s->path.data[mark] = '\0';
	}
}

/* depth 0 is an attachment: its own symbol; deeper, it is inside an
 * archive or a document. */
static void
attach_found(struct attach_scan *s, unsigned depth, enum attach_find f,
    const char *what)
{
	spam_add(s->r, depth == 0 ? attach_find_symbols[f] :
	    "ATTACH_ARCHIVE_EXECUTABLE", "%s %s", attach_path(s), what);
}

static void
attach_unreadable(struct attach_scan *s, const char *why)
{
	spam_add(s->r, "ATTACH_UNREADABLE_ARCHIVE", "%s: %s", attach_path(s),
	    why);
}

/*
 * Names.
 */

/* Extensions Windows (or a mail reader on it) runs or mounts: Gmail's
 * blocked list, Outlook's Level 1 scripts, and disk images. */
static const char *const attach_ext_dangerous[] = {
	"ade", "adp", "app", "application", "appref-ms", "appx",
	"appxbundle", "bas", "bat", "cab", "chm", "cmd", "com", "cpl",
	"diagcab", "diagcfg", "diagpack", "dll", "dmg", "ex", "ex_", "exe",
	"gadget", "hlp", "hta", "img", "inf", "ins", "iso", "isp", "jnlp",
	"js", "jse", "lnk", "mde", "msc", "msh", "msh1", "msh1xml", "msh2",
	"msh2xml", "mshxml", "msi", "msix", "msixbundle", "msp", "mst",
	"nsh", "pif", "ps1", "ps1xml", "ps2", "ps2xml", "psc1", "psc2",
	"psd1", "psm1", "reg", "scf", "scr", "sct", "settingcontent-ms",
	"shb", "shs", "sys", "url", "vb", "vbe", "vbs", "vhd", "vhdx", "vxd",
	"website", "ws", "wsb", "wsc", "wsf", "wsh", "xbap", "xll", "xnk",
	/* Executable archives (also ATTACH_FAM_ZIP below). */
	"jar", "apk",
	NULL,
};

/* Office formats that carry macros by definition (ECMA-376 Part 1). */
static const char *const attach_ext_macro[] = {
	"docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm",
	"ppam", "sldm", NULL,
};

/* What a double extension pretends to be. */
static const char *const attach_ext_decoy[] = {
	"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods",
	"rtf", "txt", "csv", "xml", "htm", "html", "jpg", "jpeg", "png",
	"gif", "bmp", "tif", "tiff", "webp", "svg", "mp3", "mp4", "wav",
	"avi", "mov", "zip", "rar", "7z", "eml", "msg", "ics", NULL,
};

struct attach_ext_fam {
	const char *ext;
	enum attach_fam fam;
};

/* What a name promises, first match wins (jar is a zip before it is
 * dangerous). */
static const struct attach_ext_fam attach_ext_fams[] = {
	{ "pdf", ATTACH_FAM_PDF },
	{ "jpg", ATTACH_FAM_IMAGE }, { "jpeg", ATTACH_FAM_IMAGE },
	{ "png", ATTACH_FAM_IMAGE }, { "gif", ATTACH_FAM_IMAGE },
	{ "bmp", ATTACH_FAM_IMAGE }, { "tif", ATTACH_FAM_IMAGE },
	{ "tiff", ATTACH_FAM_IMAGE }, { "webp", ATTACH_FAM_IMAGE },
	{ "zip", ATTACH_FAM_ZIP }, { "docx", ATTACH_FAM_ZIP },
	{ "xlsx", ATTACH_FAM_ZIP }, { "pptx", ATTACH_FAM_ZIP },
	{ "docm", ATTACH_FAM_ZIP }, { "xlsm", ATTACH_FAM_ZIP },
	{ "pptm", ATTACH_FAM_ZIP }, { "odt", ATTACH_FAM_ZIP },
	{ "ods", ATTACH_FAM_ZIP }, { "odp", ATTACH_FAM_ZIP },
	{ "epub", ATTACH_FAM_ZIP }, { "jar", ATTACH_FAM_ZIP },
	{ "apk", ATTACH_FAM_ZIP },
	{ "doc", ATTACH_FAM_OLE }, { "xls", ATTACH_FAM_OLE },
	{ "ppt", ATTACH_FAM_OLE }, { "msg", ATTACH_FAM_OLE },
	{ "htm", ATTACH_FAM_HTML }, { "html", ATTACH_FAM_HTML },
	{ "txt", ATTACH_FAM_TEXT }, { "csv", ATTACH_FAM_TEXT },
	{ "ics", ATTACH_FAM_TEXT }, { "vcf", ATTACH_FAM_TEXT },
	{ "log", ATTACH_FAM_TEXT },
};

static bool
attach_ext_in(const char *ext, size_t n, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == n && strncasecmp(ext, *list, n) == 0)
			return true;
	return false;
}

static enum attach_fam
attach_ext_fam(const char *ext, size_t n)
{
	for (size_t i = 0; i < sizeof(attach_ext_fams) /
	    sizeof(attach_ext_fams[0]); i++)
		if (strlen(attach_ext_fams[i].ext) == n &&
		    strncasecmp(ext, attach_ext_fams[i].ext, n) == 0)
			return attach_ext_fams[i].fam;
	if (attach_ext_in(ext, n, attach_ext_dangerous))
		return ATTACH_FAM_EXEC;
	return ATTACH_FAM_NONE;
}

/* The last path element of name: after the last '/' or '\\'. */
static void
attach_name_base(const char **name, size_t *len)
{
	for (size_t i = *len; i > 0; i--)
		if ((*name)[i - 1] == '/' || (*name)[i - 1] == '\\') {
			*name += i;
			*len -= i;
			return;
		}
}

/* Windows drops trailing dots and spaces from a file name, so
 * "evil.exe. " is evil.exe. */
static size_t
attach_name_trim(const char *name, size_t len)
{
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '.' ||
	    name[len - 1] == '\t'))
		len--;
	return len;
}

/* The extension of a base name (already trimmed), without the dot;
 * false if there is none. */
static bool
attach_name_ext(const char *name, size_t len, const char **ext_r,
    size_t *ext_len_r, size_t *dot_r)
{
	for (size_t i = len; i > 0; i--)
		if (name[i - 1] == '.') {
			if (i == len)
				return false;
			*ext_r = name + i;
			*ext_len_r = len - i;
			*dot_r = i - 1;
			return true;
		}
	return false;
}

/* U+202A-U+202E (embeddings, overrides), U+2066-U+2069 (isolates) and
 * U+061C (Arabic letter mark), in UTF-8: they make "exe.pdf" of
 * "fdp.exe". */
static bool
attach_has_bidi(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] == 0xd8 && p[i + 1] == 0x9c)
			return true;
		if (i + 2 < len && p[i] == 0xe2 &&
		    ((p[i + 1] == 0x80 && p[i + 2] >= 0xaa && p[i + 2] <= 0xae) ||
		    (p[i + 1] == 0x81 && p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9)))
			return true;
	}
	return false;
}

/* White space before an extension (ASCII, tab, U+00A0 and the U+2000
 * block spaces): how "report.pdf      .js" pushes ".js" out of sight.
 * Returns the bytes of it before end and their count of spaces. */
static size_t
attach_pad_before(const char *s, size_t end, size_t *spaces_r)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = end, spaces = 0;

	for (;;) {
		if (i >= 1 && (p[i - 1] == ' ' || p[i - 1] == '\t' ||
		    p[i - 1] == '_')) {
			i--;
		} else if (i >= 2 && p[i - 2] == 0xc2 && p[i - 1] == 0xa0) {
			i -= 2;
		} else if (i >= 3 && p[i - 3] == 0xe2 && p[i - 2] == 0x80 &&
		    p[i - 1] >= 0x80 && p[i - 1] <= 0x8a) {
			i -= 3;
		} else if (i >= 3 && p[i - 3] == 0xe3 && p[i - 2] == 0x80 &&
		    p[i - 1] == 0x80) {
			i -= 3;
		} else {
			break;
		}
		spaces++;
	}
	*spaces_r = spaces;
	return end - i;
}

/* Judges one candidate name (a base name, maybe cut at a NUL). */
static void
attach_name_check_one(struct attach_scan *s, const char *name, size_t len,
    unsigned depth)
{
	const char *ext, *pext;
	size_t elen, plen, dot, pdot, pad, spaces;
	bool dangerous;

	len = attach_name_trim(name, len);
	if (attach_has_bidi(name, len))
		attach_found(s, depth, ATTACH_FIND_DOUBLE,
		    "bidi control in the name");
	if (!attach_name_ext(name, len, &ext, &elen, &dot))
		return;
	if (attach_ext_in(ext, elen, attach_ext_macro))
		attach_found(s, depth, ATTACH_FIND_MACRO,
		    "macro-enabled office name");
	/* A CLSID as the extension, "x.{3050f4d8-...}": Explorer runs the
	 * class's handler (HTML Application, for one). */
	dangerous = attach_ext_in(ext, elen, attach_ext_dangerous) ||
	    (elen > 2 && ext[0] == '{' && ext[elen - 1] == '}');
	if (!dangerous)
		return;
	attach_found(s, depth, ATTACH_FIND_NAME, "dangerous extension");
	pad = attach_pad_before(name, dot, &spaces);
	if (spaces >= 3) {
		attach_found(s, depth, ATTACH_FIND_DOUBLE,
		    "padding before the extension");
		return;
	}
	if (attach_name_ext(name, dot - pad, &pext, &plen, &pdot) &&
	    attach_ext_in(pext, plen, attach_ext_decoy))
		attach_found(s, depth, ATTACH_FIND_DOUBLE,
		    "decoy extension before a dangerous one");
}

/* Judges a file name as Windows would see it, and as a program that
 * stops at a NUL byte would. */
static void
attach_name_check(struct attach_scan *s, const char *name, size_t len,
    unsigned depth)
{
	const char *nul;

	attach_name_base(&name, &len);
	attach_name_check_one(s, name, len, depth);
	nul = memchr(name, '\0', len);
	if (nul != NULL)
		attach_name_check_one(s, name, (size_t)(nul - name), depth);
}

/*
 * Content.
 */

static uint32_t
attach_rd32le(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t
attach_rd32be(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* The EICAR file: its string at offset 0, then only space, tab, CR, LF
 * or ^Z, 128 bytes in all. */
static bool
attach_is_eicar(const unsigned char *d, size_t n, bool complete)
{
	if (!complete || n < ATTACH_EICAR_LEN || n > SPAM_ATTACH_EICAR_MAX ||
	    memcmp(d, attach_eicar_a, ATTACH_EICAR_A_LEN) != 0 ||
	    memcmp(d + ATTACH_EICAR_A_LEN, attach_eicar_b,
	    ATTACH_EICAR_LEN - ATTACH_EICAR_A_LEN) != 0)
		return false;
	for (size_t i = ATTACH_EICAR_LEN; i < n; i++)
		if (d[i] != ' ' && d[i] != '\t' && d[i] != '\r' &&
		    d[i] != '\n' && d[i] != 0x1a)
			return false;
	return true;
}

static const unsigned char attach_ole_sig[8] = {
	0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1,
};

/* MS-CFB 2.6.1: a directory entry is 128 bytes, the name in UTF-16LE
 * (64 bytes with its NUL, length in bytes at 64), the type at 66 (1
 * storage, 2 stream, 5 root), the CLSID at 80. Directory sectors are
 * whole sectors after the 512-byte header (version 3) or the 4096-byte
 * one (version 4), so every entry starts at a multiple of 128: scanning
 * those slots finds them all without following the FAT. */
static bool
attach_ole_name_is(const unsigned char *e, const char *name)
{
	size_t n = strlen(name);
	uint16_t bytes = (uint16_t)(e[64] | (e[65] << 8));

	if (bytes != (n + 1) * 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char lo = e[2 * i], hi = e[2 * i + 1];

		if (hi != 0 || (lo | 0x20) != ((unsigned char)name[i] | 0x20))
			return false;
	}
	return e[2 * n] == 0 && e[2 * n + 1] == 0;
}

/* {000C1084-0000-0000-C000-000000000046} (MSI) and 000C1086 (MSP): the
 * root entry's CLSID, first three fields little-endian. */
static bool
attach_ole_clsid_is_msi(const unsigned char *c)
{
	static const unsigned char tail[14] = {
		0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
	};

	return (c[0] == 0x84 || c[0] == 0x86) && c[1] == 0x10 &&
	    memcmp(c + 2, tail, sizeof(tail)) == 0;
}

static void
attach_ole_scan(const unsigned char *d, size_t n, struct attach_kind *k)
{
	static const char *const vba_names[] = {
		"VBA", "_VBA_PROJECT_CUR", "_VBA_PROJECT", "Macros",
	};

	if (n > SPAM_ATTACH_OLE_SCAN_MAX)
		n = SPAM_ATTACH_OLE_SCAN_MAX;
	for (size_t off = 512; n >= 128 && off <= n - 128; off += 128) {
		const unsigned char *e = d + off;
		unsigned char type = e[66];

		if (type == 5 && attach_ole_name_is(e, "Root Entry") &&
		    attach_ole_clsid_is_msi(e + 80))
			k->msi = true;
		if (type != 1 && type != 2)
			continue;
		for (size_t i = 0; i < sizeof(vba_names) / sizeof(vba_names[0]);
		    i++)
			if (attach_ole_name_is(e, vba_names[i]))
				k->vba = true;
	}
}

/* Text: no bytes but printable ones, white space, escape and UTF-8 in
 * the first ATTACH_TEXT_SNIFF bytes. libmagic has nothing to add to text
 * for these checks but HTML, and it costs about a millisecond a call
 * (its text rules are regular expressions); HTML is found here. */
#define ATTACH_TEXT_SNIFF 4096
#define ATTACH_HTML_SNIFF 1024

static void
attach_sniff_text(const unsigned char *d, size_t n, struct attach_kind *k)
{
	static const char *const html[] = {
		"<!doctype html", "<html", "<head", "<body", "<script",
		"<iframe", "<meta ",
	};
	size_t m = n < ATTACH_TEXT_SNIFF ? n : ATTACH_TEXT_SNIFF;
	size_t h = n < ATTACH_HTML_SNIFF ? n : ATTACH_HTML_SNIFF;

	if (n == 0)
		return;
	for (size_t i = 0; i < m; i++)
		if (d[i] < 0x20 && d[i] != '\t' && d[i] != '\n' &&
		    d[i] != '\r' && d[i] != '\f' && d[i] != 0x1b)
			return;
	k->fam = ATTACH_FAM_TEXT;
	k->what = "text";
	for (size_t i = 0; i < h; i++) {
		if (d[i] != '<')
			continue;
		for (size_t t = 0; t < sizeof(html) / sizeof(html[0]); t++) {
			size_t tl = strlen(html[t]);

			if (h - i >= tl &&
			    strncasecmp((const char *)d + i, html[t], tl) == 0) {
				k->fam = ATTACH_FAM_HTML;
				k->what = "HTML";
				return;
			}
		}
	}
}

/* The own magic checks: the formats that must never be missed. */
static void
attach_sniff(const unsigned char *d, size_t n, struct attach_kind *k)
{
	static const unsigned char lnk[20] = {
		0x4c, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02, 0x00, 0x00, 0x00,
		0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
	};
	uint32_t be;

	if (n >= 0x40 && d[0] == 'M' && d[1] == 'Z') {
		uint32_t pe = attach_rd32le(d + 0x3c);

		if (pe <= n - 4 && memcmp(d + pe, "PE\0\0", 4) == 0) {
			k->fam = ATTACH_FAM_EXEC;
			k->what = "PE executable";
			return;
		}
	}
	if (n >= 5 && memcmp(d, "\177ELF", 4) == 0 && (d[4] == 1 || d[4] == 2)) {
		k->fam = ATTACH_FAM_EXEC;
		k->what = "ELF executable";
		return;
	}
	if (n >= 8) {
		be = attach_rd32be(d);
		if (be == 0xfeedface || be == 0xfeedfacf || be == 0xcefaedfe ||
		    be == 0xcffaedfe) {
			k->fam = ATTACH_FAM_EXEC;
			k->what = "Mach-O executable";
			return;
		}
		/* 0xcafebabe is a Java class (major version >= 45) or a
		 * universal Mach-O (a few architectures). */
		if (be == 0xcafebabe) {
			uint32_t nfat = attach_rd32be(d + 4);

			if ((d[6] << 8 | d[7]) >= 45) {
				k->fam = ATTACH_FAM_EXEC;
				k->what = "Java class";
				return;
			}
			if (nfat >= 1 && nfat <= 30) {
				k->fam = ATTACH_FAM_EXEC;
				k->what = "Mach-O universal executable";
				return;
			}
		}
	}
	if (n >= sizeof(lnk) && memcmp(d, lnk, sizeof(lnk)) == 0) {
		k->fam = ATTACH_FAM_EXEC;
		k->what = "Windows shortcut";
		return;
	}
	if (n >= 32774 && memcmp(d + 32769, "CD001", 5) == 0) {
		k->fam = ATTACH_FAM_EXEC;
		k->what = "ISO 9660 disk image";
		return;
	}
	if (n >= 512 && memcmp(d, attach_ole_sig, sizeof(attach_ole_sig)) == 0) {
		k->ole = true;
		k->fam = ATTACH_FAM_OLE;
		k->what = "OLE2 compound file";
		attach_ole_scan(d, n, k);
		if (k->msi) {
			k->fam = ATTACH_FAM_EXEC;
			k->what = "MSI installer";
		}
		return;
	}
	if (zip_looks_like(d, n)) {
		k->zip = true;
		k->fam = ATTACH_FAM_ZIP;
		k->what = "zip archive";
		return;
	}
	/* Readers take "%PDF-" anywhere in the first 1024 bytes. */
	if (n >= 5 && memmem(d, n < 1024 ? n : 1024, "%PDF-", 5) != NULL) {
		k->fam = ATTACH_FAM_PDF;
		k->what = "PDF";
		return;
	}
	/* The common images, so that they cost no libmagic call. */
	if ((n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) ||
	    (n >= 3 && memcmp(d, "\xff\xd8\xff", 3) == 0) ||
	    (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 ||
	    memcmp(d, "GIF89a", 6) == 0))) {
		k->fam = ATTACH_FAM_IMAGE;
		k->what = "image";
		return;
	}
	attach_sniff_text(d, n, k);
}

static bool
attach_mime_in(const char *mime, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(mime, *list) == 0)
			return true;
	return false;
}

/* libmagic's MIME type, for what the own checks did not settle. */
static void
attach_magic_kind(struct attach_scan *s, const unsigned char *d, size_t n,
    struct attach_kind *k)
{
	static const char *const exec[] = {
		"application/vnd.microsoft.portable-executable",
		"application/x-dosexec", "application/x-msdownload",
		"application/x-executable", "application/x-sharedlib",
		"application/x-pie-executable", "application/x-mach-binary",
		"application/x-msi", "application/x-ms-installer",
		"application/x-java-applet", "application/java-archive",
		"application/x-ms-shortcut", "application/x-elf",
		"application/x-iso9660-image", "application/x-coff",
		"application/x-coffexec",
		"application/vnd.android.package-archive", NULL,
	};
	static const char *const zip[] = {
		"application/zip", "application/x-zip-compressed",
		"application/epub+zip", NULL,
	};
	static const char *const ole[] = {
		"application/x-ole-storage", "application/cdfv2",
		"application/msword", "application/vnd.ms-excel",
		"application/vnd.ms-powerpoint", "application/vnd.ms-office",
		"application/vnd.ms-outlook", NULL,
	};
	const char *mime;

	if (s->magic == NULL || s->magic_calls >= SPAM_ATTACH_MAGIC_CALLS_MAX ||
	    n == 0)
		return;
	s->magic_calls++;
	mime = magic_buffer(s->magic, d, n < SPAM_ATTACH_MAGIC_MAX ? n :
	    SPAM_ATTACH_MAGIC_MAX);
	if (mime == NULL)
		return;
	if (attach_mime_in(mime, exec)) {
		k->fam = ATTACH_FAM_EXEC;
		/* The database's strings live as long as the handle. */
		k->what = mime;
	} else if (attach_mime_in(mime, zip) ||
	    strncasecmp(mime, "application/vnd.openxmlformats-officedocument.",
	    46) == 0 ||
	    strncasecmp(mime, "application/vnd.oasis.opendocument.", 35) == 0) {
		k->fam = ATTACH_FAM_ZIP;
		k->what = mime;
		k->zip = true;
	} else if (attach_mime_in(mime, ole)) {
		k->fam = ATTACH_FAM_OLE;
		k->what = mime;
	} else if (strcasecmp(mime, "application/pdf") == 0) {
		k->fam = ATTACH_FAM_PDF;
		k->what = mime;
	} else if (strncasecmp(mime, "image/", 6) == 0 &&
	    strcasecmp(mime, "image/svg+xml") != 0) {
		k->fam = ATTACH_FAM_IMAGE;
		k->what = mime;
	} else if (strcasecmp(mime, "text/html") == 0) {
		k->fam = ATTACH_FAM_HTML;
		k->what = mime;
	} else if (strncasecmp(mime, "text/", 5) == 0) {
		k->fam = ATTACH_FAM_TEXT;
		k->what = mime;
	}
}

static void
attach_kind_get(struct attach_scan *s, const unsigned char *d, size_t n,
    struct attach_kind *k)
{
	memset(k, 0, sizeof(*k));
	k->what = "data";
	attach_sniff(d, n, k);
	if (k->fam == ATTACH_FAM_NONE)
		attach_magic_kind(s, d, n, k);
}

/* An attachment whose content is not what its name says. Renamed
 * office files (a .doc that is a docx, an .xls that is HTML or text, as
 * many exports are) are not worth a symbol; binary content under
 * another binary name, or an executable under any other name, is. */
static void
attach_mismatch_check(struct attach_scan *s, const char *name, size_t len,
    const struct attach_kind *k)
{
	const char *ext;
	size_t elen, dot;
	enum attach_fam want;

	attach_name_base(&name, &len);
	len = attach_name_trim(name, len);
	if (!attach_name_ext(name, len, &ext, &elen, &dot))
		return;
	want = attach_ext_fam(ext, elen);
	if (want == ATTACH_FAM_NONE || k->fam == ATTACH_FAM_NONE ||
	    want == k->fam || k->fam == ATTACH_FAM_TEXT)
		return;
	if (k->fam == ATTACH_FAM_HTML && want != ATTACH_FAM_PDF &&
	    want != ATTACH_FAM_IMAGE)
		return;
	if ((want == ATTACH_FAM_ZIP && k->fam == ATTACH_FAM_OLE) ||
	    (want == ATTACH_FAM_OLE && k->fam == ATTACH_FAM_ZIP))
		return;
	spam_add(s->r, "ATTACH_NAME_MISMATCH", "%s is %s", attach_path(s),
	    k->what);
}

static void attach_scan_zip(struct attach_scan *s, const unsigned char *d,
    size_t n, unsigned depth);

/*
 * Judges one object: a part's decoded body (depth 0) or a zip entry
 * (depth >= 1). complete: d is all of it, not a prefix.
 */
static void
attach_scan_object(struct attach_scan *s, const char *name, size_t name_len,
    const unsigned char *d, size_t n, bool complete, unsigned depth)
{
	struct attach_kind k;
	const char *ext;
	size_t elen, dot, blen = name_len;
	const char *base = name;

	if (attach_is_eicar(d, n, complete))
		spam_add(s->r, "EICAR", "%s", attach_path(s));
	attach_kind_get(s, d, n, &k);
	if (k.fam == ATTACH_FAM_EXEC)
		attach_found(s, depth, ATTACH_FIND_EXEC, k.what);
	if (k.vba)
		attach_found(s, depth, ATTACH_FIND_MACRO, "VBA macros");
	if (depth == 0 && name != NULL)
		attach_mismatch_check(s, name, name_len, &k);
	/* A .zip (or docx, jar, ...) that no check recognised is opened
	 * anyway: one that is not a zip is unreadable. */
	if (!k.zip && k.fam == ATTACH_FAM_NONE && name != NULL) {
		attach_name_base(&base, &blen);
		blen = attach_name_trim(base, blen);
		if (attach_name_ext(base, blen, &ext, &elen, &dot) &&
		    attach_ext_fam(ext, elen) == ATTACH_FAM_ZIP)
			k.zip = true;
	}
	if (k.zip) {
		if (!complete)
			attach_unreadable(s, "too large to look into");
		else
			attach_scan_zip(s, d, n, depth + 1);
	}
}

/* True if an entry must be read whole to be judged: it is a container. */
static bool
attach_is_container(const unsigned char *d, size_t n)
{
	return zip_looks_like(d, n) ||
	    (n >= sizeof(attach_ole_sig) &&
	    memcmp(d, attach_ole_sig, sizeof(attach_ole_sig)) == 0);
}

/* Reads entry e (its first bytes, or all of it for a container) and
 * judges it. */
static void
attach_scan_entry(struct attach_scan *s, const struct zip_archive *z,
    const struct zip_entry *e, unsigned depth)
{
	struct buf out;
	const char *error = "unknown";
	enum zip_read rd;

	buf_init(&out, SPAM_ATTACH_CONTAINER_MAX);
	rd = zip_entry_read(z, e, SPAM_ATTACH_PEEK_MAX, &s->budget, &out,
	    &error);
	if (rd == ZIP_READ_PREFIX && attach_is_container(
	    (const unsigned char *)out.data, out.len)) {
		buf_reset(&out);
		rd = zip_entry_read(z, e, SPAM_ATTACH_CONTAINER_MAX, &s->budget,
		    &out, &error);
	}
	switch (rd) {
	case ZIP_READ_UNSUPPORTED:
		/* Judged by its name only. */
		break;
	case ZIP_READ_BUDGET:
		attach_unreadable(s, "inflate budget used up");
		break;
	case ZIP_READ_CORRUPT:
		attach_unreadable(s, error);
		break;
	case ZIP_READ_WHOLE:
	case ZIP_READ_PREFIX:
		attach_scan_object(s, e->name, e->name_len,
		    (const unsigned char *)(out.data != NULL ? out.data : ""),
		    out.len, rd == ZIP_READ_WHOLE, depth);
		break;
	}
	buf_release(&out);
}

static bool
attach_entry_is(const struct zip_entry *e, const char *name)
{
	return e->name_len == strlen(name) &&
	    memcmp(e->name, name, e->name_len) == 0;
}

static bool
attach_entry_has_suffix(const struct zip_entry *e, const char *suffix)
{
	size_t n = strlen(suffix);

	return e->name_len >= n &&
	    strncasecmp(e->name + e->name_len - n, suffix, n) == 0;
}

static bool
attach_entry_has_prefix(const struct zip_entry *e, const char *prefix)
{
	size_t n = strlen(prefix);

	return e->name_len >= n && strncasecmp(e->name, prefix, n) == 0;
}

/* OpenDocument macros: Basic modules (Basic/LIB/MODULE.xml, besides
 * the library index files) and scripts (Scripts/...). */
static bool
attach_odf_is_macro(const struct zip_entry *e)
{
	if (e->is_dir)
		return false;
	if (attach_entry_has_prefix(e, "Scripts/"))
		return true;
	return attach_entry_has_prefix(e, "Basic/") &&
	    attach_entry_has_suffix(e, ".xml") &&
	    !attach_entry_has_suffix(e, "script-lc.xml") &&
	    !attach_entry_has_suffix(e, "script-lb.xml") &&
	    !attach_entry_has_suffix(e, "dialog-lc.xml") &&
	    !attach_entry_has_suffix(e, "dialog-lb.xml");
}

/* The entries of the zip d (n bytes), which are at depth >= 1. */
static void
attach_scan_zip(struct attach_scan *s, const unsigned char *d, size_t n,
    unsigned depth)
{
	struct zip_archive z;
	const char *error = "unknown";
	bool ooxml = false, odf = false, manifest = false, classes = false;
	bool dex = false, program;

	if (depth > ZIP_DEPTH_MAX) {
		attach_unreadable(s, "archives nested too deep");
		return;
	}
	if (zip_open(&z, d, n, &error) < 0) {
		attach_unreadable(s, error);
		zip_close(&z);
		return;
	}
	for (size_t i = 0; i < z.n_entries; i++) {
		const struct zip_entry *e = &z.entries[i];

		ooxml |= attach_entry_is(e, "[Content_Types].xml");
		odf |= attach_entry_is(e, "mimetype") && i == 0;
		manifest |= attach_entry_is(e, "META-INF/MANIFEST.MF");
		classes |= attach_entry_has_suffix(e, ".class");
		dex |= attach_entry_is(e, "classes.dex");
	}
	/* The archive itself is a program: a jar or an Android package
	 * (its classes are its own code, not more findings). */
	program = (manifest && classes) || dex;
	if (manifest && classes)
		attach_found(s, depth - 1, ATTACH_FIND_EXEC, "Java archive");
	if (dex)
		attach_found(s, depth - 1, ATTACH_FIND_EXEC, "Android package");
	for (size_t i = 0; i < z.n_entries; i++) {
		const struct zip_entry *e = &z.entries[i];
		size_t mark;

		if (e->is_dir || (program &&
		    (attach_entry_has_suffix(e, ".class") ||
		    attach_entry_has_suffix(e, ".dex"))))
			continue;
		mark = attach_path_push(s, e->name, e->name_len);
		/* A document's parts are named by its format, not by
		 * someone who wants them opened; its macros are its own. */
		if (ooxml && attach_entry_has_suffix(e, "vbaProject.bin")) {
			attach_path_pop(s, mark);
			attach_found(s, depth - 1, ATTACH_FIND_MACRO,
			    "VBA project (vbaProject.bin)");
			continue;
		}
		if (odf && attach_odf_is_macro(e)) {
			attach_path_pop(s, mark);
			attach_found(s, depth - 1, ATTACH_FIND_MACRO,
			    "OpenDocument macros");
			continue;
		}
		if (!ooxml && !odf)
			attach_name_check(s, e->name, e->name_len, depth);
		if (e->encrypted)
			spam_add(s->r, "ATTACH_ENCRYPTED_ARCHIVE", "%s",
			    attach_path(s));
		else
			attach_scan_entry(s, &z, e, depth);
		attach_path_pop(s, mark);
	}
	zip_close(&z);
}

/*
 * MIME parts.
 */

static bool
attach_encoding_known(const char *enc)
{
	return enc == NULL || strcasecmp(enc, "7bit") == 0 ||
	    strcasecmp(enc, "8bit") == 0 || strcasecmp(enc, "binary") == 0 ||
	    strcasecmp(enc, "base64") == 0 ||
	    strcasecmp(enc, "quoted-printable") == 0;
}

static int
attach_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 2231 4 "charset'lang'%XX...", left encoded by the parser for an
 * unknown charset: the bytes, percent-decoded. */
static void
attach_rfc2231_raw(const char *v, struct buf *out)
{
	const char *p = strchr(v, '\'');

	if (p != NULL)
		p = strchr(p + 1, '\'');
	p = p != NULL ? p + 1 : v;
	while (*p != '\0') {
		int hi, lo;
		char c = *p;

		if (c == '%' && (hi = attach_hex(p[1])) >= 0 &&
		    (lo = attach_hex(p[2])) >= 0) {
			c = (char)(hi << 4 | lo);
			p += 3;
		} else {
			p++;
		}
		if (buf_append(out, &c, 1) < 0)
			return;
	}
}

/* The part's file name into out (UTF-8 where it was declared so);
 * false if it has none. */
static bool
attach_part_name(const struct mime_part *p, struct buf *out)
{
	const char *v;

	v = mime_param_get(p->disp_params, p->n_disp_params, "filename");
	if (v == NULL)
		v = mime_param_get(p->params, p->n_params, "name");
	if (v != NULL) {
		if (strstr(v, "=?") != NULL)
			mime_header_decode(v, strlen(v), out);
		else {
			size_t n = strlen(v);

			/* The end of a name is what matters: keep it. */
			if (n > out->max - out->len) {
				v += n - (out->max - out->len);
				n = out->max - out->len;
			}
			(void)buf_append(out, v, n);
		}
		return true;
	}
	v = mime_param_get(p->disp_params, p->n_disp_params, "filename*");
	if (v == NULL)
		v = mime_param_get(p->params, p->n_params, "name*");
	if (v != NULL) {
		attach_rfc2231_raw(v, out);
		return true;
	}
	return false;
}

static void
attach_part(struct attach_scan *s, const struct mime_part *p)
{
	const char *raw = s->m->data + p->body_start;
	size_t raw_len = p->body_end - p->body_start;
	const char *error = NULL;
	const unsigned char *d;
	struct buf name, dec;
	bool has_name, complete = true;
	size_t mark, n;

	if (p->is_multipart || p->is_message_rfc822)
		return;
	buf_init(&name, SPAM_ATTACH_NAME_MAX);
	has_name = attach_part_name(p, &name);
	if (!has_name && strcmp(p->type, "text") == 0) {
		/* A text part is only checked for EICAR, and only if it is
		 * small enough to be it. */
		buf_release(&name);
		if (raw_len > SPAM_ATTACH_EICAR_RAW_MAX)
			return;
		buf_init(&dec, SPAM_ATTACH_EICAR_RAW_MAX);
		if (mime_body_decode(p->encoding, raw, raw_len, &dec,
		    &error) == 0 && attach_is_eicar(
		    (const unsigned char *)(dec.data != NULL ? dec.data : ""),
		    dec.len, true)) {
			mark = attach_path_push(s, "(text)", 6);
			spam_add(s->r, "EICAR", "%s", attach_path(s));
			attach_path_pop(s, mark);
		}
		buf_release(&dec);
		return;
	}
	if (has_name && name.len > 0) {
		const char *other;

		mark = attach_path_push(s, name.data, name.len);
		attach_name_check(s, name.data, name.len, 0);
		/* Clients differ in which of the two names they show and
		 * save: a Content-Type name other than the filename is
		 * judged too. */
		other = mime_param_get(p->params, p->n_params, "name");
		if (other != NULL && mime_param_get(p->disp_params,
		    p->n_disp_params, "filename") != NULL &&
		    strcmp(other, name.data) != 0)
			attach_name_check(s, other, strlen(other), 0);
	} else {
		char what[64];
		int w = snprintf(what, sizeof(what), "(%s/%s)", p->type,
		    p->subtype);

		mark = attach_path_push(s, what, w > 0 && (size_t)w <
		    sizeof(what) ? (size_t)w : 0);
	}
	buf_init(&dec, SPAM_ATTACH_DECODED_MAX);
	if (!attach_encoding_known(p->encoding)) {
		/* Readers show such a body as it is. */
		d = (const unsigned char *)raw;
		n = raw_len;
	} else {
		if (mime_body_decode(p->encoding, raw, raw_len, &dec,
		    &error) < 0)
			complete = false;
		d = (const unsigned char *)(dec.data != NULL ? dec.data : "");
		n = dec.len;
	}
	attach_scan_object(s, has_name ? name.data : NULL, name.len, d, n,
	    complete, 0);
	buf_release(&dec);
	attach_path_pop(s, mark);
	buf_release(&name);
}

void
spam_check_attachments(struct spam_msg *m, struct spam_result *r)
{
	struct attach_scan s;
	const struct mime_part *p = m->root;

	memset(&s, 0, sizeof(s));
	s.m = m;
	s.r = r;
	s.magic = attach_magic_get();
	s.budget = ZIP_INFLATE_TOTAL_MAX;
	buf_init(&s.path, SPAM_ATTACH_PATH_MAX);
	/* Every leaf of the tree, in order, without recursion. */
	while (p != NULL) {
		if (p->n_children > 0) {
			p = &p->children[0];
			continue;
		}
		attach_part(&s, p);
		for (;;) {
			const struct mime_part *parent = p->parent;
			size_t i;

			if (parent == NULL) {
				p = NULL;
				break;
			}
			i = (size_t)(p - parent->children);
			if (i + 1 < parent->n_children) {
				p = &parent->children[i + 1];
				break;
			}
			p = parent;
		}
	}
	buf_release(&s.path);
}
