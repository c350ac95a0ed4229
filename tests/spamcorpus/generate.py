#!/usr/bin/python3
"""tests/spamcorpus/generate.py - a labelled corpus of ham and spam,
generated, for the spam filter's tests and for bench/spam.

    tests/spamcorpus/generate.py OUTDIR [--seed N] [--now EPOCH] [--scale K]

Writes 2,000 RFC 5322 messages (CRLF line ends; K times as many with
--scale K) as OUTDIR/msg-NNNNN.eml, half legitimate mail ("ham") and half
spam, phishing and malware, and OUTDIR/labels.tsv, one line per message:

    file  class  category  split  expected

class is ham or spam; category is one of CATEGORIES below; split is train
or test, half of each category each (stratified; which half is fixed by
the seed); expected is the spam symbol that a crafted message exists to
make fire (HTML_LINK_MISMATCH, ATTACH_EXECUTABLE, ...), "-" for the rest
(ham, and bulk spam that only the classifier and the sum of small signs
catch).

The corpus is a pure function of (seed, now, scale): the same arguments
give byte-identical files. `now` (default DEFAULT_NOW) is the moment the
messages' Date: fields are relative to; a checker that judges "a Date far
in the future or past" must be run near it, so the tests and the
benchmark pass the current time (the default keeps the files
reproducible without a clock).

What the messages are: RFC 5322 (header fields, Date and Message-ID
syntax), MIME (RFC 2045-2049: multipart/alternative and mixed, base64 and
quoted-printable), RFC 2047 encoded words in Subject and display names,
RFC 2369/2919/8058 list header fields, RFC 5545 calendar objects,
RFC 3490 IDNA (xn-- labels). Attachments are built here from nothing:
a small valid PDF, a zip (PKWARE APPNOTE: stored, deflated, and
traditional-PKWARE-encrypted entries), Office Open XML macro files
(a zip holding word/vbaProject.bin with an OLE2 signature), and tiny
PE and ELF headers, which are not programs: no code, nothing runs.
The EICAR and GTUBE strings are the industry's harmless test strings.

The receiving side is the hosted domain HOSTED_DOMAIN (users in
RECIPIENTS) on RECEIVING_HOST: a checker must run with
`server.hostname` set to RECEIVING_HOST and HOSTED_DOMAIN hosted for the
hosted-domain checks (lookalikes, forged Received, From display name of
ours) to apply.

Python 3 standard library only. SECURITY: writes only into OUTDIR; the
output is hostile mail by design (for a filter to judge), but holds no
working executable.
"""

import argparse
import base64
import binascii
import calendar
import datetime
import os
import random
import struct
import sys
import uuid
import zipfile
import zlib
import io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import words as W  # noqa: E402

SEED = 20261207
DEFAULT_NOW = calendar.timegm((2026, 12, 1, 12, 0, 0))
HOSTED_DOMAIN = "example.test"
RECEIVING_HOST = "mx.example.test"
RECIPIENTS = ["alice", "bob", "carol"]

GTUBE = ("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL"
         "*C.34X")
# Built from two halves so that this source file is not itself the
# test file a virus scanner on the machine would flag.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" +
         "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()

# The symbol each crafted category exists to make fire. The names are
# the spam filter's (src/filter/spam-symbols.c: the header checks of
# spam-content.c, the phishing checks of spam-html.c, the attachment
# checks of spam-attach.c); the categories not named here are judged only
# by the total (bench/spam measures those).
CHECKS = {
    "phish_link_mismatch": "HTML_LINK_MISMATCH",
    "phish_ip": "HTML_LINK_IP",
    "phish_ip_decimal": "HTML_LINK_IP_ENCODED",
    "phish_shortener": "URL_SHORTENER",
    "phish_lookalike_local": "LOOKALIKE_LOCAL",
    "phish_lookalike_brand": "LOOKALIKE_BRAND",
    "phish_idn": "IDN_HOMOGRAPH",
    "phish_form": "HTML_FORM_EXTERNAL",
    "malware_exe_content": "ATTACH_EXECUTABLE",
    "malware_elf": "ATTACH_EXECUTABLE",
    "malware_double_ext": "ATTACH_DOUBLE_EXT",
    "malware_macro_docm": "ATTACH_MACRO",
    "malware_macro_xlsm": "ATTACH_MACRO",
    "malware_zip_exe": "ATTACH_ARCHIVE_EXECUTABLE",
    "malware_zip_encrypted": "ATTACH_ENCRYPTED_ARCHIVE",
    "malware_eicar": "EICAR",
    "malware_eicar_zip": "EICAR",
    "hdr_no_date": "HEADER_NO_DATE",
    "hdr_no_message_id": "HEADER_NO_MESSAGE_ID",
    "hdr_date_future": "HEADER_DATE_FUTURE",
    "hdr_date_past": "HEADER_DATE_PAST",
    "hdr_replyto_freemail": "HEADER_REPLYTO_FREEMAIL",
    "hdr_from_name_addr": "HEADER_FROM_NAME_ADDR",
    "hdr_from_name_local": "HEADER_FROM_NAME_LOCAL",
    "hdr_forged_received": "HEADER_FORGED_RECEIVED",
    "gtube": "GTUBE",
}

# (category, class, messages at scale 1). Every count is even, so that
# each category splits exactly in half. 1,000 ham and 1,000 spam.
CATEGORIES = [
    ("newsletter", "ham", 120),
    ("reply", "ham", 130),
    ("invoice", "ham", 80),
    ("calendar", "ham", 60),
    ("mailinglist", "ham", 130),
    ("intl_de", "ham", 40),
    ("intl_fr", "ham", 40),
    ("intl_pt", "ham", 40),
    ("intl_ja", "ham", 40),
    ("intl_ru", "ham", 40),
    ("notification", "ham", 120),
    ("alternative", "ham", 100),
    ("commercial", "ham", 60),

    ("pharmacy", "spam", 90),
    ("loan", "spam", 70),
    ("crypto", "spam", 80),
    ("dating", "spam", 70),
    ("seo", "spam", 80),
    ("phish_link_mismatch", "spam", 50),
    ("phish_ip", "spam", 30),
    ("phish_ip_decimal", "spam", 20),
    ("phish_shortener", "spam", 30),
    ("phish_lookalike_local", "spam", 30),
    ("phish_lookalike_brand", "spam", 40),
    ("phish_idn", "spam", 30),
    ("phish_form", "spam", 30),
    ("malware_exe_content", "spam", 30),
    ("malware_elf", "spam", 10),
    ("malware_double_ext", "spam", 30),
    ("malware_macro_docm", "spam", 20),
    ("malware_macro_xlsm", "spam", 20),
    ("malware_zip_exe", "spam", 30),
    ("malware_zip_encrypted", "spam", 20),
    ("malware_eicar", "spam", 10),
    ("malware_eicar_zip", "spam", 10),
    ("hdr_no_date", "spam", 20),
    ("hdr_no_message_id", "spam", 20),
    ("hdr_date_future", "spam", 20),
    ("hdr_date_past", "spam", 20),
    ("hdr_replyto_freemail", "spam", 20),
    ("hdr_from_name_addr", "spam", 20),
    ("hdr_from_name_local", "spam", 20),
    ("hdr_forged_received", "spam", 20),
    ("gtube", "spam", 10),
]

LABELS = "labels.tsv"
LABELS_HEADER = "file\tclass\tcategory\tsplit\texpected"

CRLF = "\r\n"
DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
               "Sep", "Oct", "Nov", "Dec"]


# ================================================================ MIME

def crlf(b):
    """Every line end of b (bytes) as CRLF."""
    return b.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(
        b"\n", b"\r\n")


def wrap(text, width=72):
    """Text with each paragraph's lines cut at width (at spaces)."""
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        cur = ""
        for w in line.split(" "):
            if cur and len(cur) + 1 + len(w) > width:
                out.append(cur)
                cur = w
            else:
                cur = cur + " " + w if cur else w
        out.append(cur)
    return "\n".join(out)


def b64_body(data):
    s = base64.b64encode(data)
    return b"".join(s[i:i + 76] + b"\r\n" for i in range(0, len(s), 76))


def qp_body(data):
    return crlf(binascii.b2a_qp(data.replace(b"\r\n", b"\n"),
                                istext=True))


def fold(name, value):
    """name: value, folded at spaces to lines of at most 78 columns where
    the value allows (RFC 5322 2.2.3); a value with its own CRLF folds is
    kept as it is."""
    line = name + ": " + value
    if len(line) <= 78 or " " not in value or CRLF in value:
        return line
    out = []
    cur = name + ":"
    for tok in value.split(" "):
        if len(cur) + 1 + len(tok) > 78 and cur != name + ":":
            out.append(cur)
            cur = "\t" + tok
        else:
            cur = cur + " " + tok
    out.append(cur)
    return CRLF.join(out)


def encoded_words(text, charset, kind="B"):
    """RFC 2047 encoded words for text, each at most 75 characters,
    separated by spaces. Each word is whole characters (and, for
    ISO-2022-JP, a complete escape run)."""
    words = []
    chunk = ""
    prefix = "=?%s?%s?" % ("UTF-8" if charset == "utf-8" else
                          charset.upper(), kind)

    def enc(s):
        raw = s.encode(charset)
        if kind == "B":
            return base64.b64encode(raw).decode()
        out = []
        for c in raw:
            if c == 0x20:
                out.append("_")
            elif c < 128 and (chr(c).isalnum() or chr(c) in "!*+-/"):
                out.append(chr(c))
            else:
                out.append("=%02X" % c)
        return "".join(out)

    for ch in text:
        trial = chunk + ch
        if len(prefix) + len(enc(trial)) + 2 > 75 and chunk:
            words.append(prefix + enc(chunk) + "?=")
            chunk = ch
        else:
            chunk = trial
    if chunk:
        words.append(prefix + enc(chunk) + "?=")
    return " ".join(words)


def header_text(text, charset="utf-8", kind="B"):
    """text as is if it is ASCII, else RFC 2047 encoded."""
    if text.isascii():
        return text
    return encoded_words(text, charset, kind)


def mailbox(name, addr, charset="utf-8", kind="Q"):
    """A From/To mailbox: Display Name <addr>, quoted where RFC 5322
    needs it, encoded where it is not ASCII; or just the address."""
    if not name:
        return addr
    if not name.isascii():
        return "%s <%s>" % (encoded_words(name, charset, kind), addr)
    if any(c in name for c in '.,@<>()[]:;"\\'):
        return '"%s" <%s>' % (name.replace("\\", "\\\\")
                              .replace('"', '\\"'), addr)
    return "%s <%s>" % (name, addr)


class Part:
    """One MIME entity: header fields (name, ASCII value) and the body as
    bytes with CRLF line ends (already transfer-encoded)."""

    def __init__(self, headers, body):
        self.headers = headers
        self.body = body

    def render(self):
        h = "".join(fold(n, v) + CRLF for n, v in self.headers)
        return h.encode("ascii") + b"\r\n" + self.body


def text_part(text, subtype="plain", charset="utf-8", cte=None):
    """A text/SUBTYPE part; cte is chosen from the content when None:
    7bit for ASCII (and ISO-2022-JP), quoted-printable otherwise."""
    raw = crlf(text.encode(charset))
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    if cte is None:
        cte = "7bit" if raw.isascii() else "quoted-printable"
    if cte == "base64":
        body = b64_body(raw)
    elif cte == "quoted-printable":
        body = qp_body(raw)
    else:
        body = raw
    ctype = "text/%s; charset=%s" % (subtype, "UTF-8" if charset == "utf-8"
                                      else charset)
    return Part([("Content-Type", ctype),
                 ("Content-Transfer-Encoding", cte)], body)


def attachment(data, ctype, filename, disposition="attachment"):
    return Part([("Content-Type", '%s; name="%s"' % (ctype, filename)),
                 ("Content-Disposition", '%s; filename="%s"'
                  % (disposition, filename)),
                 ("Content-Transfer-Encoding", "base64")], b64_body(data))


def multipart(subtype, parts, boundary, preamble=None, params=""):
    body = b""
    if preamble:
        body += preamble.encode("ascii") + b"\r\n\r\n"
    for p in parts:
        body += b"--" + boundary.encode() + b"\r\n" + p.render()
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return Part([("Content-Type", 'multipart/%s; boundary="%s"%s'
                  % (subtype, boundary, params))], body)


def message_bytes(headers, part):
    """The whole message: top header fields, MIME-Version, the part's
    own fields and its body."""
    h = "".join(fold(n, v) + CRLF for n, v in headers)
    h += "MIME-Version: 1.0" + CRLF
    return h.encode("ascii") + part.render()


# ================================================================ files

def pdf_invoice(rng, number, vendor, customer, lines, currency):
    """A small, valid one-page PDF 1.4 (ISO 32000-1 7.5): catalog, pages,
    page, content stream (compressed or not), font, info, and an xref
    table with the real offsets."""
    y = 770
    ops = ["BT", "/F1 18 Tf", "72 %d Td" % y, "(%s) Tj" % vendor, "ET"]
    y -= 40
    texts = ["Invoice %s" % number, "Bill to: %s" % customer, ""]
    total = 0
    for desc, qty, price in lines:
        texts.append("%-30s %3d x %8.2f %s" % (desc, qty, price, currency))
        total += qty * price
    texts += ["", "Total: %.2f %s" % (total, currency),
              "Payment due within 30 days. Thank you for your business."]
    for t in texts:
        ops += ["BT", "/F1 11 Tf", "72 %d Td" % y,
                "(%s) Tj" % t.replace("\\", "").replace("(", "[")
                .replace(")", "]"), "ET"]
        y -= 16
    content = ("\n".join(ops) + "\n").encode("latin-1")
    compress = rng.random() < 0.6
    if compress:
        stream = zlib.compress(content, 6)
        sdict = "<< /Length %d /Filter /FlateDecode >>" % len(stream)
    else:
        stream = content
        sdict = "<< /Length %d >>" % len(stream)
    created = "D:2026%02d%02d%02d%02d00Z" % (rng.randint(1, 11),
                                            rng.randint(1, 28),
                                            rng.randint(0, 23),
                                            rng.randint(0, 59))
    producer = rng.choice(["LibreOffice 7.5", "Microsoft Word 2019",
                           "wkhtmltopdf 0.12.6", "ReportLab PDF Library",
                           "Ghostscript 10.0.0", "Skia/PDF m118"])
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        sdict.encode() + b"\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
        b"/Encoding /WinAnsiEncoding >>",
        ("<< /Producer (%s) /CreationDate (%s) /Title (Invoice %s) >>"
         % (producer, created, number)).encode(),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objs) + 1)
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n"
            b"startxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return bytes(out)


def pe_stub(rng):
    """The headers of a PE32 file (Microsoft PE/COFF: MZ, e_lfanew, PE
    signature, COFF header, optional header, one section header), with no
    code: enough for libmagic to say "PE32 executable", nothing that
    runs. Padded with zeros and a few strings to vary its size and
    hash."""
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    struct.pack_into("<H", dos, 2, 0x90)        # bytes on last page
    struct.pack_into("<H", dos, 4, 3)           # pages
    struct.pack_into("<H", dos, 8, 4)           # header paragraphs
    struct.pack_into("<H", dos, 0x18, 0x40)     # relocation table offset
    struct.pack_into("<I", dos, 0x3c, 0x80)     # e_lfanew
    msg = b"This program cannot be run in DOS mode.\r\r\n$"
    dos[0x4e:0x4e + len(msg)] = msg
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x14c, 1,
                       rng.randint(1500000000, 1790000000), 0, 0, 224,
                       0x0102)
    opt = bytearray(224)
    struct.pack_into("<HBB", opt, 0, 0x10b, 14, 0)      # PE32, linker 14
    struct.pack_into("<I", opt, 16, 0x1000)             # entry point RVA
    struct.pack_into("<I", opt, 28, 0x400000)           # image base
    struct.pack_into("<II", opt, 32, 0x1000, 0x200)     # alignments
    struct.pack_into("<HH", opt, 40, 6, 0)              # OS version
    struct.pack_into("<HH", opt, 48, 6, 0)              # subsystem version
    struct.pack_into("<I", opt, 56, 0x2000)             # size of image
    struct.pack_into("<I", opt, 60, 0x200)              # size of headers
    struct.pack_into("<H", opt, 68, rng.choice([2, 3]))  # GUI or console
    struct.pack_into("<I", opt, 92, 16)                 # data directories
    sect = struct.pack("<8sIIIIIIHHI", b".text\0\0\0", 0x100, 0x1000,
                       0x200, 0x200, 0, 0, 0, 0, 0x60000020)
    head = bytes(dos) + coff + bytes(opt) + sect
    head += bytes(0x200 - len(head))
    names = ["setup", "update", "helper", "loader", "viewer", "service"]
    pad = ("%s %d.%d\0" % (rng.choice(names), rng.randint(1, 9),
                           rng.randint(0, 99))).encode()
    body = pad + bytes(rng.randint(1, 6) * 128)
    return head + body


def elf_stub(rng):
    """An ELF64 header (System V gABI) of an x86-64 executable with one
    empty program header: "ELF 64-bit LSB executable" to libmagic, no
    code."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    hdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3e, 1, 0x401000, 64,
                              0, 0, 64, 56, 1, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 120, 120,
                     0x1000)
    return hdr + ph + bytes(rng.randint(1, 8) * 64)


ZIP_TIME = (2026, 11, 20, 9, 30, 0)


def zip_bytes(members, rng):
    """A zip (deflated members, fixed times, so byte-identical for the
    same input) of [(name, data)]."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 3
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return bio.getvalue()


def _zipcrypto_update(keys, c):
    keys[0] = zlib.crc32(bytes([c]), keys[0] ^ 0xffffffff) ^ 0xffffffff
    keys[1] = (keys[1] + (keys[0] & 0xff)) & 0xffffffff
    keys[1] = (keys[1] * 134775813 + 1) & 0xffffffff
    keys[2] = zlib.crc32(bytes([keys[1] >> 24]),
                         keys[2] ^ 0xffffffff) ^ 0xffffffff


def _zipcrypto(data, password, crc, rng):
    """Traditional PKWARE encryption (APPNOTE 6.1): a 12-byte header whose
    last byte is the CRC's high byte, then the data, each byte XORed with
    the key stream."""
    keys = [0x12345678, 0x23456789, 0x34567890]
    for c in password:
        _zipcrypto_update(keys, c)
    header = bytes(rng.randrange(256) for _ in range(11)) + \
        bytes([crc >> 24])
    out = bytearray()
    for c in header + data:
        t = (keys[2] | 2) & 0xffff
        out.append(c ^ (((t * (t ^ 1)) >> 8) & 0xff))
        _zipcrypto_update(keys, c)
    return bytes(out)


def zip_encrypted(members, password, rng):
    """A zip whose members are deflated, then encrypted with the
    traditional PKWARE cipher (general purpose flag bit 0): what
    zipfile reads with pwd=password, and what no filter can look into."""
    dostime = (ZIP_TIME[3] << 11) | (ZIP_TIME[4] << 5) | (ZIP_TIME[5] // 2)
    dosdate = ((ZIP_TIME[0] - 1980) << 9) | (ZIP_TIME[1] << 5) | ZIP_TIME[2]
    out = bytearray()
    central = bytearray()
    for name, data in members:
        n = name.encode()
        crc = zlib.crc32(data) & 0xffffffff
        co = zlib.compressobj(6, zlib.DEFLATED, -15)
        comp = co.compress(data) + co.flush()
        enc = _zipcrypto(comp, password, crc, rng)
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 1, 8, dostime,
                           dosdate, crc, len(enc), len(data), len(n), 0)
        out += n + enc
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 0x314, 20,
                               1, 8, dostime, dosdate, crc, len(enc),
                               len(data), len(n), 0, 0, 0, 0,
                               0o644 << 16, off) + n
    cd_off = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(members),
                       len(members), len(central), cd_off, 0)
    return bytes(out)


OOXML_TYPES = {
    "docm": ("word", "application/vnd.ms-word.document.macroEnabled.12",
             "application/vnd.ms-word.document.macroEnabled.main+xml",
             "document.xml"),
    "xlsm": ("xl", "application/vnd.ms-excel.sheet.macroEnabled.12",
             "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
             "workbook.xml"),
}


def ole_vba_stub(rng):
    """The start of an OLE2 compound file (MS-CFB: signature, version,
    byte order, sector shifts) with the stream names a VBA project holds,
    no macro source: a filter sees vbaProject.bin, not a working macro."""
    hdr = bytearray(512)
    hdr[0:8] = bytes.fromhex("d0cf11e0a1b11ae1")
    struct.pack_into("<HHHHH", hdr, 24, 0x3e, 3, 0xfffe, 9, 6)
    names = b"".join(s.encode("utf-16-le") + b"\0\0" for s in
                     ("Root Entry", "VBA", "dir", "_VBA_PROJECT",
                      "ThisDocument", "PROJECT", "PROJECTwm"))
    return bytes(hdr) + names + bytes(rng.randint(2, 6) * 64)


def ooxml_macro(kind, rng, text):
    """A macro-enabled Office Open XML file (ECMA-376 OPC: content types,
    relationships, the main part and vbaProject.bin) as zip bytes."""
    top, _, main_type, main = OOXML_TYPES[kind]
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="'
          'application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="bin" ContentType="application/'
          'vnd.ms-office.vbaProject"/><Override PartName="/%s/%s" '
          'ContentType="%s"/></Types>' % (top, main, main_type))
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="%s/%s"/></Relationships>' % (top, main))
    if kind == "docm":
        body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/'
                'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>%s'
                '</w:t></w:r></w:p></w:body></w:document>' % text)
    else:
        body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<workbook xmlns="http://schemas.openxmlformats.org/'
                'spreadsheetml/2006/main"><sheets><sheet name="%s" '
                'sheetId="1"/></sheets></workbook>' % text[:30])
    mrels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
             '2006/relationships"><Relationship Id="rId9" Type="http://'
             'schemas.microsoft.com/office/2006/relationships/vbaProject" '
             'Target="vbaProject.bin"/></Relationships>')
    return zip_bytes([("[Content_Types].xml", ct), ("_rels/.rels", rels),
                      ("%s/%s" % (top, main), body),
                      ("%s/_rels/%s.rels" % (top, main), mrels),
                      ("%s/vbaProject.bin" % top, ole_vba_stub(rng))], rng)


def ooxml_docx(rng, text):
    """A plain .docx (no macros): what legitimate mail attaches."""
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="'
          'application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Override PartName="/word/document.xml" ContentType="'
          'application/vnd.openxmlformats-officedocument.'
          'wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>')
    body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>%s'
            '</w:t></w:r></w:p></w:body></w:document>' % text)
    return zip_bytes([("[Content_Types].xml", ct), ("_rels/.rels", rels),
                      ("word/document.xml", body)], rng)


def png_image(rng, w=None, h=None):
    """A small valid PNG (RFC 2083): IHDR, one IDAT of a flat colour with
    a stripe, IEND."""
    w = w or rng.randint(8, 48)
    h = h or rng.randint(8, 48)
    col = bytes(rng.randrange(256) for _ in range(3))
    stripe = bytes(rng.randrange(256) for _ in range(3))
    rows = b"".join(b"\0" + b"".join(stripe if x == y % w else col
                                     for x in range(w)) for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(
            ">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def ics_event(rng, uid, organizer, attendees, summary, location, start,
              minutes, method="REQUEST"):
    """A VCALENDAR with one VEVENT (RFC 5545), lines folded at 75 octets."""
    def dt(t):
        return datetime.datetime.fromtimestamp(
            t, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "PRODID:-//%s//EN" % rng.choice(
        ["Google Inc//Google Calendar 70.9054", "Microsoft Corporation//"
         "Outlook 16.0 MIMEDIR", "Mozilla.org/NONSGML Mozilla Calendar V1.1",
         "Apple Inc.//macOS 14.1//EN"]), "VERSION:2.0",
             "CALSCALE:GREGORIAN", "METHOD:" + method, "BEGIN:VEVENT",
             "DTSTART:" + dt(start), "DTEND:" + dt(start + minutes * 60),
             "DTSTAMP:" + dt(start - 86400 * rng.randint(1, 9)),
             "ORGANIZER;CN=%s:mailto:%s" % organizer, "UID:" + uid]
    for name, addr in attendees:
        lines.append("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;"
                     "PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=%s:mailto:%s"
                     % (name, addr))
    lines += ["SUMMARY:" + summary, "LOCATION:" + location,
              "SEQUENCE:0", "STATUS:CONFIRMED", "TRANSP:OPAQUE",
              "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder",
              "TRIGGER:-P0DT0H15M0S", "END:VALARM", "END:VEVENT",
              "END:VCALENDAR"]
    out = []
    for line in lines:
        b = line.encode("utf-8")
        while len(b) > 75:
            cut = 75
            while cut > 0 and (b[cut] & 0xc0) == 0x80:
                cut -= 1
            out.append(b[:cut])
            b = b" " + b[cut:]
        out.append(b)
    return b"\r\n".join(out) + b"\r\n"


# ================================================================ names

def levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1,
                           prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


# Brand labels shorter than this get no edit-distance-1 lookalikes: one
# letter off "dhl" or "chase" is another ordinary name (case.com, dh.com),
# which no filter can call a forgery.
LOOKALIKE_MIN = 6

LOOKALIKE_SUBST = {"l": "1i", "i": "l1", "o": "0", "e": "3a", "a": "e4o",
                   "s": "5z", "m": "n", "n": "m", "p": "q", "g": "q",
                   "c": "e", "t": "f", "x": "k", "r": "n", "u": "v",
                   "y": "v", "f": "t", "d": "b", "b": "d"}


def lookalike(rng, label):
    """label changed by one substitution, deletion or doubling: edit
    distance 1 (Levenshtein), a valid DNS label."""
    while True:
        op = rng.random()
        i = rng.randrange(len(label))
        c = label[i]
        if op < 0.55 and c in LOOKALIKE_SUBST:
            new = label[:i] + rng.choice(LOOKALIKE_SUBST[c]) + label[i + 1:]
        elif op < 0.8 and len(label) > 4:
            new = label[:i] + label[i + 1:]
        else:
            new = label[:i] + c + label[i:]
        new = new.strip("-")
        if new != label and levenshtein(new, label) == 1:
            return new


# Cyrillic letters that look like Latin ones (UTS #39 confusables).
HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440",
              "c": "\u0441", "x": "\u0445", "y": "\u0443", "i": "\u0456",
              "s": "\u0455", "j": "\u0458"}


def homograph(rng, label):
    """label with one or two Latin letters swapped for Cyrillic
    look-alikes, as its xn-- A-label (RFC 3490 ToASCII)."""
    idx = [i for i, c in enumerate(label) if c in HOMOGLYPHS]
    pick = rng.sample(idx, min(len(idx), rng.choice([1, 1, 2])))
    u = "".join(HOMOGLYPHS[c] if i in pick else c
                for i, c in enumerate(label))
    return u.encode("idna").decode("ascii")


# ================================================================ the
# generator: one random.Random drives everything.

class Gen:
    def __init__(self, seed, now):
        self.rng = random.Random(seed)
        self.now = now

    # ---------------------------------------------------------- pieces

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p):
        return self.rng.random() < p

    def person(self):
        return self.pick(W.FIRST_NAMES), self.pick(W.LAST_NAMES)

    def org_label(self):
        r = self.rng.random()
        if r < 0.4:
            return "".join(self.pick(W.SYLLABLES)
                           for _ in range(self.rng.randint(2, 3)))
        if r < 0.8:
            a, b = self.rng.sample(W.ORG_WORDS, 2)
            return a + (self.pick(["", "-"]) if self.chance(0.5) else "") + b
        return self.pick(W.ORG_WORDS) + self.pick(W.SYLLABLES) + \
            self.pick(["", "hq", "app", "online", "group"])

    def ham_domain(self):
        return "%s.%s" % (self.org_label(), self.pick(W.HAM_TLDS))

    def spam_domain(self):
        if self.chance(0.5):
            label = "%s-%s" % (self.pick(["best", "top", "cheap", "super",
                                          "mega", "smart", "fast", "easy",
                                          "global", "pro", "my", "get"]),
                               self.pick(["meds", "deals", "offers",
                                          "cash", "loans", "coins", "date",
                                          "rank", "store", "shop", "promo",
                                          "club", "now", "online"]))
            if self.chance(0.4):
                label += str(self.rng.randint(1, 999))
        else:
            label = self.org_label()
        return "%s.%s" % (label, self.pick(W.SPAM_TLDS))

    def local_part(self, first, last):
        f, l = first.lower(), last.lower()
        return self.pick(["%s.%s" % (f, l), "%s%s" % (f[0], l), f,
                          "%s_%s" % (f, l), "%s%d" % (f, self.rng.randint(
                              1, 99)), "%s.%s" % (f[0], l)])

    def recipient(self):
        return "%s@%s" % (self.pick(RECIPIENTS), HOSTED_DOMAIN)

    def date(self, offset=None):
        """A Date: value, offset seconds from now, in a random zone.
        The default is what mail arriving now says: written a minute to
        a few hours ago, now and then a day or two (a queue, a laptop
        that was offline)."""
        if offset is None:
            offset = -self.rng.randint(30, 4 * 3600) if self.chance(0.95) \
                else -self.rng.randint(4 * 3600, 2 * 86400)
        t = self.now + offset
        tz = datetime.timezone(datetime.timedelta(
            minutes=self.pick([-480, -420, -300, -240, 0, 0, 60, 60, 120,
                               180, 330, 540, 600])))
        dt = datetime.datetime.fromtimestamp(t, tz)
        return "%s, %02d %s %d %02d:%02d:%02d %s" % (
            DAY_NAMES[dt.weekday()], dt.day, MONTH_NAMES[dt.month - 1],
            dt.year, dt.hour, dt.minute, dt.second, dt.strftime("%z")), t

    def token(self, n=16, alphabet="0123456789abcdef"):
        return "".join(self.pick(alphabet) for _ in range(n))

    def msgid(self, domain, mailer=None):
        """A Message-ID: value in the style of the mailer that wrote the
        message (Thunderbird and Apple Mail use UUIDs; filters know)."""
        r = self.rng.random()
        agent = mailer[1] if mailer else ""
        if "Thunderbird" in agent:
            return "<%s@%s>" % (uuid.UUID(int=self.rng.getrandbits(128),
                                          version=4), domain)
        if "Apple" in agent or "iPhone" in agent:
            return "<%s@%s>" % (str(uuid.UUID(int=self.rng.getrandbits(128),
                                              version=4)).upper(), domain)
        if domain in ("gmail.com",):
            return "<CA%s@mail.gmail.com>" % self.token(
                40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789+_-")
        if r < 0.3:
            return "<%s@%s>" % (uuid.UUID(int=self.rng.getrandbits(128),
                                          version=4), domain)
        if r < 0.6:
            return "<%s.%s@%s>" % (self.token(12), self.token(8), domain)
        if r < 0.8:
            return "<%d.%d.%d.JavaMail.%s@%s>" % (
                self.rng.randint(10**8, 10**9), self.rng.randint(1, 99),
                self.rng.randint(10**12, 10**13), self.pick(
                    ["root", "app", "svc", "mailer"]), domain)
        return "<%s%s@%s>" % (self.token(8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789"),
                              self.token(6), domain)

    def ip(self):
        """A documentation address (RFC 5737): never anyone's host."""
        return "%s.%d" % (self.pick(["192.0.2", "198.51.100",
                                     "203.0.113"]),
                          self.rng.randint(1, 254))

    def boundary(self):
        r = self.rng.random()
        if r < 0.3:
            return "----=_Part_%d_%d.%d" % (self.rng.randint(0, 99999),
                                            self.rng.randint(10**8, 10**9),
                                            self.rng.randint(10**12,
                                                             10**13))
        if r < 0.6:
            return "00000000000%s" % self.token(17)
        if r < 0.8:
            return "Apple-Mail=_%s" % str(uuid.UUID(
                int=self.rng.getrandbits(128), version=4)).upper()
        return "_%03d_%s_" % (self.rng.randint(0, 999), self.token(
            24, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))

    def mailer(self, bulk=False):
        if bulk:
            return self.pick([("X-Mailer", "PHPMailer 6.8.0 "
                               "(https://github.com/PHPMailer/PHPMailer)"),
                              ("X-Mailer", "MailChimp Mailer - **CID%s**"
                               % self.token(10)),
                              ("X-Mailer", "Sendinblue"),
                              ("X-Mailer", "Microsoft Outlook 16.0"),
                              None, None])
        return self.pick([("User-Agent", "Mozilla Thunderbird"),
                          ("X-Mailer", "Apple Mail (2.3731.700.6)"),
                          ("X-Mailer", "Microsoft Outlook 16.0"),
                          ("User-Agent", "Mutt/2.2.9 (2022-11-12)"),
                          ("User-Agent", "Roundcube Webmail/1.6.5"),
                          ("X-Mailer", "iPhone Mail (21B101)"),
                          None, None, None])

    def received(self, helo, ip, by, date, rcpt, proto="ESMTPS"):
        """One Received: value (RFC 5321 4.4), folded as MTAs do."""
        rid = self.token(self.rng.randint(10, 14),
                         "0123456789ABCDEFGHJKLMNPQRSTVWXYZ")
        return ("from %s (%s [%s])\r\n\tby %s (%s) with %s id %s\r\n"
                "\tfor <%s>; %s" % (helo, helo, ip, by, self.pick(
                    ["Postfix", "Exim 4.96", "Microsoft SMTP Server",
                     "OpenSMTPD", "Sendmail 8.17.1"]), proto, rid, rcpt,
                    date))

    def sent_from(self, domain, date, rcpt, hops=None):
        """The Received: fields the sender's own servers add (the last
        hop first): from an application or submission host to the
        outbound relay, each on the sender's internal network."""
        out = []
        n = hops if hops is not None else self.rng.randint(1, 2)
        by = "%s%d.%s" % (self.pick(["mail", "smtp", "out", "relay", "mta"]),
                          self.rng.randint(1, 20), domain)
        for _ in range(n):
            frm = self.pick(["app%d.%s" % (self.rng.randint(1, 9), domain),
                             "localhost", "web%d.int.%s" % (
                                 self.rng.randint(1, 9), domain)])
            out.append(("Received", self.received(
                frm, "10.%d.%d.%d" % (self.rng.randint(0, 255),
                                      self.rng.randint(0, 255),
                                      self.rng.randint(1, 254)),
                by, date, rcpt)))
            by = frm if frm != "localhost" else "submit.%s" % domain
        return out

    # ---------------------------------------------------------- text

    def fill(self, s, first=None):
        first = first or self.pick(W.FIRST_NAMES)
        return s.format(weekday=self.pick(W.WEEKDAYS),
                        month=self.pick(W.MONTHS),
                        hour=self.rng.randint(1, 12), first=first)

    def sentence(self, topic_words):
        """A plausible English sentence over the topic's nouns and the
        general vocabulary."""
        nouns = topic_words + W.GENERAL_NOUNS
        r = self.rng.random()
        n1, n2 = self.pick(nouns), self.pick(nouns)
        adj = self.pick(W.GENERAL_ADJ)
        verb = self.pick(W.GENERAL_VERBS)
        adv = self.fill(self.pick(W.ADVERBIALS))
        subj = self.pick(W.PRONOUNS)
        if r < 0.2:
            s = "%s %s the %s %s %s" % (subj, verb, adj, n1, adv)
        elif r < 0.35:
            s = "Could you take a look at the %s %s %s?" % (n1, n2, adv)
        elif r < 0.5:
            s = "the %s for the %s is %s, so %s %s it %s" % (
                n1, n2, adj, subj, verb, adv)
        elif r < 0.62:
            s = "%s think the %s %s needs another pass before %s %s it" % (
                subj, adj, n1, subj, verb)
        elif r < 0.72:
            s = "just a reminder that the %s %s is due %s" % (n1, n2, adv)
        elif r < 0.82:
            s = "%s %s the %s and the %s %s" % (subj, verb, n1, n2, adv)
        elif r < 0.9:
            s = "there are %d %ss left in the %s %s" % (
                self.rng.randint(2, 40), n1, adj, n2)
        else:
            s = "%s %s %s, and the %s looks %s now" % (
                subj, verb, self.pick(["it", "everything", "the rest",
                                       "both of them"]), n1, adj)
        s = s[0].upper() + s[1:]
        return s if s.endswith("?") else s + "."

    def paragraph(self, topic, n=None):
        words = W.TOPICS[topic]
        n = n or self.rng.randint(2, 5)
        return " ".join(self.sentence(words) for _ in range(n))

    def subject(self, topic):
        words = W.TOPICS[topic]
        r = self.rng.random()
        a, b = self.pick(words), self.pick(words + W.GENERAL_NOUNS)
        if r < 0.3:
            return "%s %s" % (a.capitalize(), b)
        if r < 0.5:
            return "Question about the %s" % a
        if r < 0.65:
            return "%s for %s" % (a.capitalize(), self.pick(
                W.WEEKDAYS + W.MONTHS))
        if r < 0.8:
            return "Updated %s %s" % (a, b)
        return "%s: %s %s" % (self.pick(["FYI", "Quick one", "Draft",
                                         "Follow-up", "Notes"]), a, b)

    def spam_sentence(self, topic):
        words = W.SPAM_TOPICS[topic]
        a, b, c = (self.pick(words) for _ in range(3))
        r = self.rng.random()
        pct = self.rng.choice([30, 50, 70, 75, 80, 90])
        if r < 0.15:
            s = "Get %s %s at %d%% off, %s" % (a, b, pct,
                                               self.pick(W.SPAM_PHRASES))
        elif r < 0.3:
            s = "our %s %s is %s and %s" % (a, b, self.pick(
                ["guaranteed", "approved", "trusted", "certified",
                 "discreet", "fast", "exclusive"]), self.pick(
                W.SPAM_PHRASES))
        elif r < 0.45:
            s = "thousands of customers already enjoy %s %s - %s" % (
                a, b, self.pick(W.SPAM_PHRASES))
        elif r < 0.55:
            s = "%s, %s and %s from only $%d.%02d" % (
                a, b, c, self.rng.randint(0, 99), self.rng.randint(0, 99))
        elif r < 0.7:
            s = "%s %s %s" % (self.pick(W.SPAM_PHRASES), a, b)
        elif r < 0.8:
            s = "why pay more for %s? %s %s today" % (a, b, self.pick(
                ["order", "apply", "join", "start", "claim"]))
        elif r < 0.9:
            s = "this %s offer on %s ends %s" % (b, a, self.fill(
                self.pick(["tonight", "in 24 hours", "on {weekday}",
                           "this week"])))
        else:
            s = "%s %s %s %s" % (a, self.pick(W.GENERAL_NOUNS), b,
                                 self.pick(W.SPAM_PHRASES))
        s = s[0].upper() + s[1:]
        return s + self.pick([".", "!", "!!", ".", "!"])

    def obfuscate(self, text):
        """Spammers' letter swaps, on some words."""
        subst = {"a": "@", "i": "1", "o": "0", "e": "3", "s": "$"}
        out = []
        for w in text.split(" "):
            if len(w) > 4 and self.chance(0.25):
                i = self.rng.randrange(len(w))
                c = w[i].lower()
                if c in subst:
                    w = w[:i] + subst[c] + w[i + 1:]
                elif self.chance(0.3):
                    w = ".".join(w)
            out.append(w)
        return " ".join(out)

    def hash_buster(self):
        return " ".join(self.pick(W.GENERAL_NOUNS + W.GENERAL_ADJ)
                        for _ in range(self.rng.randint(12, 40)))

    # ---------------------------------------------------------- HTML

    def html_doc(self, title, blocks, style=True):
        css = ("<style>body{font-family:Arial,sans-serif;color:#222}"
               "a{color:#1a5fb4}.btn{background:#1a5fb4;color:#fff;"
               "padding:10px 18px;text-decoration:none}</style>\n"
               if style else "")
        return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">"
                "\n<title>%s</title>\n%s</head>\n<body>\n%s\n</body>\n"
                "</html>\n" % (title, css, "\n".join(blocks)))

    @staticmethod
    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(
            ">", "&gt;")

    def alt(self, text, html, charset="utf-8"):
        p1 = text_part(wrap(text), "plain", charset)
        p2 = text_part(html, "html", charset,
                       self.pick(["quoted-printable", "quoted-printable",
                                  "base64"]))
        return multipart("alternative", [p1, p2], self.boundary())

    # ---------------------------------------------------------- assembly

    def headers(self, frm, to, subject, domain, date=True, msgid=True,
                received=True, rcpt=None, extra=(), bulk=False,
                date_offset=None):
        rcpt = rcpt or to
        d, _ = self.date(date_offset)
        h = []
        if received:
            h += self.sent_from(domain, d, rcpt)
        if date:
            h.append(("Date", d))
        h.append(("From", frm))
        h.append(("To", to))
        h.append(("Subject", subject))
        m = self.mailer(bulk)
        if msgid:
            h.append(("Message-ID", self.msgid(domain if msgid is True
                                               else msgid, m)))
        h += list(extra)
        if m:
            h.append(m)
        return h

    def to_field(self, addr=None):
        addr = addr or self.recipient()
        user = addr.split("@")[0]
        if self.chance(0.5):
            return mailbox("%s %s" % (user.capitalize(), self.pick(
                W.LAST_NAMES)), addr), addr
        return addr, addr

    def url(self, host, words=None, query=True):
        words = words or W.GENERAL_NOUNS
        path = "/".join(self.pick(words).lower().replace(" ", "-")
                        for _ in range(self.rng.randint(1, 3)))
        u = "https://%s/%s" % (host, path)
        if query and self.chance(0.5):
            u += "?%s=%s" % (self.pick(["id", "ref", "utm_source", "u",
                                        "c", "src"]), self.token(
                                            self.rng.randint(6, 16)))
        return u

    def title(self, topic):
        words = W.TOPICS[topic]
        n, adj = self.pick(words), self.pick(W.GENERAL_ADJ)
        return self.pick([
            "How to choose a %s %s" % (adj, n),
            "%d %s ideas for %s" % (self.rng.randint(3, 15), n,
                                    self.pick(W.MONTHS)),
            "The %s guide to %ss" % (adj, n),
            "What we learned about the %s" % n,
            "Inside the %s %s" % (adj, n),
            "Why every %s needs a %s" % (self.pick(W.GENERAL_NOUNS), n),
            "%s: a %s look back" % (n.capitalize(), adj),
        ])

    def signature(self, first, last, domain):
        if self.chance(0.4):
            return "%s" % first
        lines = ["%s %s" % (first, last)]
        if self.chance(0.6):
            lines.append(self.pick(["Project Manager", "Senior Engineer",
                                    "Account Director", "Office Manager",
                                    "Head of Operations", "Designer",
                                    "Sales Lead", "Research Associate"]))
        if self.chance(0.5):
            lines.append("%s | +%d %d %d" % (
                domain.split(".")[0].capitalize(), self.rng.randint(1, 49),
                self.rng.randint(100, 999), self.rng.randint(100000,
                                                              9999999)))
        if self.chance(0.4):
            lines.append("https://www.%s" % domain)
        return "\n".join(lines)

    # ============================================================ ham

    def ham_newsletter(self):
        dom = self.ham_domain()
        brand = dom.split(".")[0].replace("-", " ").title()
        n = self.rng.randint(12, 480)
        topic = self.pick(["newsletter", "newsletter", "software", "family"])
        arts = [self.title(topic) for _ in range(self.rng.randint(3, 8))]
        subject = self.pick(["%s Weekly #%d: %s", "%s Digest %d - %s",
                             "The %s Newsletter (%d): %s"]) % (
            brand, n, arts[0])
        tok = self.token(12)
        unsub = "https://%s/unsubscribe?u=%s" % (dom, tok)
        subs = ["www", "news", "blog", "events", "shop", "click", ""]
        blocks = ['<p style="font-size:11px"><a href="https://news.%s/'
                  'issues/%d">View this email in your browser</a></p>'
                  % (dom, n), "<h1>%s</h1>" % self.esc(brand)]
        text = ["%s - issue %d" % (brand, n), ""]
        for a in arts:
            host = "%s%s" % (self.pick(subs) + "." if self.chance(0.8)
                             else "", dom)
            host = host.lstrip(".")
            u = self.url(host, W.TOPICS[topic])
            para = self.paragraph(topic, self.rng.randint(2, 4))
            blocks.append('<h2><a href="%s">%s</a></h2>\n<p>%s</p>\n'
                          '<p><a href="%s">Read more</a></p>'
                          % (u, self.esc(a), self.esc(para), u))
            if self.chance(0.3):
                img = "https://img.%s/%s.jpg" % (dom, self.token(10))
                blocks.append('<img src="%s" alt="%s" width="560">'
                              % (img, self.esc(a)))
            text += [a, wrap(para), u, ""]
        if self.chance(0.35):
            u = "https://www.%s/events" % dom
            blocks.append('<p>All events: <a href="%s">www.%s/events</a></p>'
                          % (u, dom))
        if self.chance(0.12):
            blocks.append('<form action="https://survey.%s/vote" '
                          'method="post"><p>Did you like this issue?</p>'
                          '<input type="radio" name="v" value="yes"> Yes '
                          '<input type="radio" name="v" value="no"> No '
                          '<input type="submit" value="Vote"></form>' % dom)
        social = [("Twitter", "https://twitter.com/%s" % dom.split(".")[0]),
                  ("Facebook", "https://www.facebook.com/%s" %
                   dom.split(".")[0]),
                  ("LinkedIn", "https://www.linkedin.com/company/%s" %
                   dom.split(".")[0])]
        if self.chance(0.6):
            blocks.append("<p>" + " | ".join(
                '<a href="%s">%s</a>' % (u, t) for t, u in social) + "</p>")
        blocks.append('<p style="font-size:11px">You receive this because you'
                      ' subscribed at %s. <a href="%s">Unsubscribe</a> or '
                      '<a href="https://%s/preferences?u=%s">manage your '
                      'preferences</a>.<br>%s, %d %s Street</p>'
                      % (dom, unsub, dom, tok, brand, self.rng.randint(
                          1, 999), self.pick(W.LAST_NAMES)))
        text += ["Unsubscribe: " + unsub]
        part = self.alt("\n".join(text), self.html_doc(self.esc(subject),
                                                       blocks))
        frm = mailbox(brand, "%s@%s" % (self.pick(["news", "newsletter",
                                                   "hello", "digest"]),
                                         self.pick([dom, "news." + dom])))
        to, rcpt = self.to_field()
        extra = [("List-Id", '"%s Newsletter" <newsletter.%s>' % (brand, dom)),
                 ("List-Unsubscribe", "<mailto:unsubscribe-%s@%s>, <%s>"
                  % (tok, dom, unsub))]
        if self.chance(0.7):
            extra.append(("List-Unsubscribe-Post",
                          "List-Unsubscribe=One-Click"))
        if self.chance(0.4):
            extra.append(("Precedence", "bulk"))
        if self.chance(0.5):
            extra.append(("Feedback-ID", "%d:%s:newsletter" % (
                self.rng.randint(1, 999), dom.split(".")[0])))
        return message_bytes(self.headers(frm, to, header_text(subject), dom,
                                          rcpt=rcpt, extra=extra,
                                          bulk=True), part)

    def ham_reply(self):
        first, last = self.person()
        if self.chance(0.4):
            dom = self.pick(["gmail.com", "gmail.com", "yahoo.com",
                             "outlook.com", "icloud.com", "hotmail.com",
                             "gmx.de", "protonmail.com"])
        else:
            dom = self.ham_domain()
        addr = "%s@%s" % (self.local_part(first, last), dom)
        to, rcpt = self.to_field()
        me = rcpt.split("@")[0].capitalize()
        topic = self.pick(["work", "work", "family", "software"])
        orig_subject = self.subject(topic)
        subject = self.pick(["Re: ", "Re: ", "RE: ", "Re: Re: "]) + \
            orig_subject
        od, _ = self.date(-self.rng.randint(3 * 86400, 8 * 86400))
        orig_id = "<%s@%s>" % (self.token(20), HOSTED_DOMAIN)
        body = [self.fill(self.pick(W.HAM_OPENERS), me), ""]
        for _ in range(self.rng.randint(1, 3)):
            body += [self.paragraph(topic), ""]
        if self.chance(0.05):
            body += ["Here is the link I mentioned: https://%s/%s" % (
                self.pick(W.SHORTENERS), self.token(7,
                                                    "abcdefghijkmnpqrstuvwxyz"
                                                    "ABCDEFGHJKLMNPQRSTUVWXYZ"
                                                    "23456789")), ""]
        elif self.chance(0.06):
            body += ["The shared folder: https://docs.%s/d/%s/edit" % (
                self.ham_domain(), self.token(24)), ""]
        body += [self.pick(W.HAM_CLOSINGS), self.signature(first, last, dom)
                 if not dom.endswith(("gmail.com", "yahoo.com"))
                 else first, ""]
        body.append("On %s, %s <%s> wrote:" % (od, me, rcpt))
        for _ in range(self.rng.randint(1, 3)):
            for line in wrap(self.paragraph(topic), 70).split("\n"):
                body.append("> " + line)
            body.append(">")
        text = wrap("\n".join(body))
        extra = [("In-Reply-To", orig_id),
                 ("References", ("<%s@%s> " % (self.token(20), HOSTED_DOMAIN)
                                 if self.chance(0.3) else "") + orig_id)]
        if self.chance(0.03) and dom not in W.FREEMAIL:
            extra.append(("Reply-To", mailbox("%s %s" % (first, last),
                                              "%s.%s@%s" % (
                                                  first.lower(),
                                                  last.lower(),
                                                  self.pick(W.FREEMAIL)))))
        if self.chance(0.2):
            extra.append(("Cc", "%s@%s" % (self.pick(RECIPIENTS),
                                           HOSTED_DOMAIN)))
        r = self.rng.random()
        if r < 0.12:
            att = self.pick([
                ("docx", lambda: attachment(
                    ooxml_docx(self.rng, self.paragraph(topic)),
                    "application/vnd.openxmlformats-officedocument."
                    "wordprocessingml.document", "%s-%s.docx" % (
                        self.pick(W.TOPICS[topic]).replace(" ", "-"),
                        self.rng.randint(1, 9)))),
                ("zip", lambda: attachment(zip_bytes([
                    ("data/%s.csv" % self.pick(W.TOPICS[topic]).replace(
                        " ", "_"), "\n".join("%d,%s,%d" % (
                            i, self.pick(W.GENERAL_NOUNS),
                            self.rng.randint(1, 999))
                            for i in range(self.rng.randint(5, 40)))),
                    ("README.txt", self.paragraph(topic))], self.rng),
                    "application/zip", "export-%d.zip" % self.rng.randint(
                        1, 99))),
                ("png", lambda: attachment(png_image(self.rng), "image/png",
                                           "screenshot-%d.png" %
                                           self.rng.randint(1, 99))),
            ])[1]()
            part = multipart("mixed", [text_part(text), att],
                             self.boundary())
        elif r < 0.3:
            html = "<div>%s</div>" % "<br>\n".join(
                self.esc(l) for l in text.split("\n"))
            part = self.alt(text, self.html_doc(self.esc(subject), [html],
                                                style=False))
        else:
            part = text_part(text, cte=self.pick(["7bit", "quoted-printable",
                                                  None]))
        return message_bytes(self.headers(mailbox("%s %s" % (first, last),
                                                  addr), to, subject, dom,
                                          rcpt=rcpt, extra=extra), part)

    def ham_invoice(self):
        dom = self.ham_domain()
        vendor = dom.split(".")[0].replace("-", " ").title()
        num = "%s-%d-%05d" % (self.pick(["INV", "RE", "F", "BILL", "A"]),
                              2026, self.rng.randint(1, 99999))
        cur = self.pick(["EUR", "USD", "GBP", "BRL", "CHF"])
        items = [(self.pick(["Hosting plan", "Consulting hours",
                             "Support contract", "Licence renewal",
                             "Office supplies", "Design work",
                             "Translation", "Domain renewal",
                             "Cloud storage", "Maintenance"]),
                  self.rng.randint(1, 12),
                  self.rng.randint(500, 90000) / 100)
                 for _ in range(self.rng.randint(1, 5))]
        total = sum(q * p for _, q, p in items)
        to, rcpt = self.to_field()
        customer = "%s %s" % (rcpt.split("@")[0].capitalize(),
                              self.pick(W.LAST_NAMES))
        pdf = pdf_invoice(self.rng, num, vendor, customer, items, cur)
        month = self.pick(W.MONTHS)
        text = "\n".join([
            self.fill(self.pick(W.HAM_OPENERS),
                      rcpt.split("@")[0].capitalize()), "",
            wrap("please find attached invoice %s for %s. The amount due "
                 "is %.2f %s, payable within 30 days to the account shown "
                 "on the invoice." % (num, month, total, cur)), "",
            wrap("You can also see all your invoices at https://billing.%s/"
                 "invoices/%s. %s" % (dom, num, self.paragraph("work", 1))),
            "", self.pick(W.HAM_CLOSINGS), "%s Billing" % vendor, ""])
        if self.chance(0.4):
            body = self.alt(text, self.html_doc(
                "Invoice " + num, ["<p>%s</p>" % self.esc(p).replace(
                    "https://billing.%s/invoices/%s" % (dom, num),
                    '<a href="https://billing.%s/invoices/%s">billing.%s'
                    '</a>' % (dom, num, dom)) for p in text.split("\n\n")]))
        else:
            body = text_part(text)
        part = multipart("mixed", [body, attachment(
            pdf, "application/pdf", self.pick([
                "Invoice-%s.pdf" % num, "%s_invoice_%s.pdf" % (
                    vendor.replace(" ", ""), num), "invoice.pdf"]))],
            self.boundary())
        subject = self.pick(["Invoice %s from %s", "Your %s invoice %s",
                             "%s: invoice %s"])
        subject = subject % ((num, vendor) if subject.startswith("Invoice")
                             else (vendor, num))
        frm = mailbox("%s Billing" % vendor, "%s@%s" % (
            self.pick(["billing", "invoices", "accounts", "noreply"]), dom))
        return message_bytes(self.headers(frm, to, subject, dom, rcpt=rcpt),
                             part)

    def ham_calendar(self):
        first, last = self.person()
        dom = self.pick([self.ham_domain(), self.ham_domain(), "gmail.com"])
        org = "%s@%s" % (self.local_part(first, last), dom)
        to, rcpt = self.to_field()
        topic = self.pick(["work", "work", "family"])
        summary = self.pick(["%s review", "Weekly %s sync", "%s planning",
                             "Lunch: %s", "%s kickoff", "Call about the %s",
                             "%s workshop"]) % self.pick(W.TOPICS[topic])
        summary = summary[0].upper() + summary[1:]
        start = self.now + self.rng.randint(1, 30) * 86400 + \
            self.rng.randint(8, 17) * 3600 - self.now % 86400
        minutes = self.pick([15, 30, 30, 45, 60, 60, 90, 120])
        location = self.pick(["Room %d" % self.rng.randint(100, 600),
                              "https://meet.%s/%s" % (dom, self.token(10)),
                              "Cafe %s" % self.pick(W.LAST_NAMES),
                              "Main office, floor %d" % self.rng.randint(
                                  1, 12)])
        uid = "%s@%s" % (uuid.UUID(int=self.rng.getrandbits(128),
                                   version=4), dom)
        ics = ics_event(self.rng, uid, ("%s %s" % (first, last), org),
                        [(rcpt.split("@")[0].capitalize(), rcpt)] +
                        [(self.pick(W.FIRST_NAMES), "%s@%s" % (
                            self.pick(RECIPIENTS), HOSTED_DOMAIN))
                         for _ in range(self.rng.randint(0, 2))],
                        summary, location, start, minutes)
        when = datetime.datetime.fromtimestamp(start, datetime.timezone.utc)
        when_s = "%s %d %s %d %02d:%02d UTC" % (
            DAY_NAMES[when.weekday()], when.day, MONTH_NAMES[when.month - 1],
            when.year, when.hour, when.minute)
        text = "\n".join([
            "%s %s has invited you to: %s" % (first, last, summary), "",
            "When: %s (%d minutes)" % (when_s, minutes),
            "Where: %s" % location, "", wrap(self.paragraph(topic, 2)), "",
            "Invitation from %s" % org, ""])
        html = self.html_doc(self.esc(summary), [
            "<h3>%s</h3>" % self.esc(summary),
            "<p><b>When</b>: %s<br><b>Where</b>: %s</p>" % (
                when_s, self.esc(location)),
            "<p>%s</p>" % self.esc(self.paragraph(topic, 2))])
        calp = Part([("Content-Type", "text/calendar; charset=UTF-8; "
                      "method=REQUEST"),
                     ("Content-Transfer-Encoding", self.pick(
                         ["7bit", "base64"]))], ics)
        if calp.headers[1][1] == "base64":
            calp.body = b64_body(ics)
        inner = multipart("alternative", [text_part(text),
                                          text_part(html, "html"), calp],
                          self.boundary())
        parts = [inner]
        if self.chance(0.7):
            parts.append(attachment(ics, "application/ics", "invite.ics"))
        part = multipart("mixed", parts, self.boundary()) \
            if len(parts) > 1 else inner
        return message_bytes(self.headers(
            mailbox("%s %s" % (first, last), org), to,
            "Invitation: %s @ %s" % (summary, when_s), dom, rcpt=rcpt),
            part)

    def ham_mailinglist(self):
        proj = self.org_label()
        lhost = "lists.%s.org" % proj
        lname = "%s-%s" % (proj, self.pick(["dev", "users", "discuss",
                                            "announce", "devel"]))
        laddr = "%s@%s" % (lname, lhost)
        first, last = self.person()
        dom = self.pick([self.ham_domain(), "gmail.com", self.ham_domain()])
        addr = "%s@%s" % (self.local_part(first, last), dom)
        topic = self.pick(["software", "software", "software", "work"])
        r = self.rng.random()
        body = []
        if r < 0.2:
            sub = self.pick(W.TOPICS["software"])
            subject = "[PATCH v%d %d/%d] %s: %s the %s" % (
                self.rng.randint(1, 4), self.rng.randint(1, 5),
                self.rng.randint(5, 9), self.pick(["net", "mm", "fs",
                                                   "core", "parser", "io"]),
                self.pick(["fix", "avoid", "handle", "simplify", "check"]),
                sub)
            body += [wrap(self.paragraph("software")), "",
                     "Signed-off-by: %s %s <%s>" % (first, last, addr),
                     "---", " src/%s.c | %d ++--" % (sub.replace(" ", "_"),
                                                    self.rng.randint(2, 30)),
                     "", "diff --git a/src/%s.c b/src/%s.c" % (sub, sub),
                     "--- a/src/%s.c" % sub, "+++ b/src/%s.c" % sub,
                     "@@ -%d,6 +%d,7 @@" % ((self.rng.randint(10, 900),) * 2)]
            for _ in range(self.rng.randint(3, 9)):
                v = self.pick(W.TOPICS["software"]).replace(" ", "_")
                body.append(self.pick([" ", "-", "+", " "]) + "\t%s = %s(%s);"
                            % (v, self.pick(["get", "check", "alloc",
                                             "parse", "free"]) + "_" + v,
                               self.pick(["ctx", "buf", "len", "NULL"])))
            body.append("")
        elif r < 0.3:
            subject = "Re: %s" % self.pick([
                "spam getting through the filter", "new spam wave",
                "tuning the spam rules", "false positives on the list"])
            spamw = W.SPAM_TOPICS[self.pick(["pharmacy", "crypto", "loan"])]
            body += [wrap("Since %s we see a lot of messages about %s and %s "
                          "slipping through; most of them come from %s "
                          "hosts. %s" % (
                              self.pick(W.WEEKDAYS), self.pick(spamw),
                              self.pick(spamw), self.pick(
                                  ["residential", "new", "compromised"]),
                              self.paragraph("software", 2))), ""]
        else:
            subject = ("Re: " if self.chance(0.5) else "") + \
                self.subject(topic)
            body += [self.fill(self.pick(W.HAM_OPENERS), "all"), ""]
            if subject.startswith("Re:"):
                body += ["%s wrote:" % self.pick(W.FIRST_NAMES)]
                for line in wrap(self.paragraph(topic), 70).split("\n"):
                    body.append("> " + line)
                body.append("")
            for _ in range(self.rng.randint(1, 3)):
                body += [wrap(self.paragraph(topic)), ""]
            body += [self.pick(W.HAM_CLOSINGS), first, ""]
        subject = "[%s] %s" % (lname, subject)
        body += ["_" * 47, "%s mailing list" % lname, laddr,
                 "https://%s/mailman/listinfo/%s" % (lhost, lname), ""]
        d, _ = self.date()
        hdrs = [("Received", self.received(lhost, self.ip(),
                                           "mx1.%s" % lhost.split(".", 1)[1],
                                           d, laddr))]
        hdrs += self.sent_from(dom, d, laddr, hops=1)
        hdrs += [("Date", d), ("From", mailbox("%s %s" % (first, last),
                                               addr)),
                 ("To", laddr), ("Subject", subject),
                 ("Message-ID", self.msgid(dom))]
        if subject.count("Re:"):
            hdrs.append(("In-Reply-To", "<%s@%s>" % (self.token(16), proj)))
        hdrs += [("List-Id", "%s discussion <%s.%s>" % (proj.title(), lname,
                                                        lhost)),
                 ("List-Unsubscribe", "<https://%s/mailman/options/%s>, "
                  "<mailto:%s-request@%s?subject=unsubscribe>"
                  % (lhost, lname, lname, lhost)),
                 ("List-Archive", "<https://%s/pipermail/%s/>" % (lhost,
                                                                  lname)),
                 ("List-Post", "<mailto:%s>" % laddr),
                 ("List-Help", "<mailto:%s-request@%s?subject=help>"
                  % (lname, lhost)),
                 ("List-Subscribe", "<https://%s/mailman/listinfo/%s>, "
                  "<mailto:%s-request@%s?subject=subscribe>"
                  % (lhost, lname, lname, lhost)),
                 ("Precedence", "list"),
                 ("Sender", '"%s" <%s-bounces@%s>' % (lname, lname, lhost)),
                 ("Errors-To", "%s-bounces@%s" % (lname, lhost))]
        if self.chance(0.3):
            hdrs.append(("Reply-To", laddr))
        m = self.mailer()
        if m:
            hdrs.append(m)
        return message_bytes(hdrs, text_part("\n".join(body), cte=self.pick(
            ["7bit", "quoted-printable", None])))

    LANG_TLDS = {"de": ["de", "de", "at", "ch"], "fr": ["fr", "fr", "be"],
                 "pt": ["com.br", "pt", "com.br"], "ja": ["co.jp", "jp"],
                 "ru": ["ru", "ru", "su"]}
    LANG_FREEMAIL = {"de": ["gmx.de", "web.de"], "fr": ["orange.fr",
                                                       "free.fr"],
                     "pt": ["uol.com.br", "gmail.com"], "ja": ["gmail.com",
                                                            "yahoo.co.jp"],
                     "ru": ["mail.ru", "yandex.ru"]}

    def lang_text(self, lang, kind, charset):
        L = W.LANGS[lang]
        name = self.pick(L["names"])
        sents = [self.pick(L[kind]).format(name=name, day=self.pick(L["days"]),
                                           num=self.rng.randint(2, 45))
                 for _ in range(self.rng.randint(2, 6))]
        sep = "" if lang == "ja" else " "
        paras = []
        while sents:
            k = self.rng.randint(1, 3)
            paras.append(sep.join(sents[:k]))
            sents = sents[k:]
        greet = self.pick(L["greet"]).format(name=name)
        return greet, paras, self.pick(L["close"]), name

    def ham_intl(self, lang):
        L = W.LANGS[lang]
        charset = self.pick(L["charsets"])
        kind = "Q" if lang in ("de", "fr", "pt") and self.chance(0.7) \
            else "B"
        sender = self.pick(L["names"])
        if self.chance(0.3):
            dom = self.pick(self.LANG_FREEMAIL[lang])
        else:
            dom = "%s.%s" % (self.org_label(), self.pick(self.LANG_TLDS[lang]))
        addr = "%s.%s@%s" % (self.org_label()[:6], self.token(2, "abcdefgh"),
                             dom)
        greet, paras, close, _ = self.lang_text(lang, "ham", charset)
        width = 36 if lang == "ja" else 72
        text = "\n".join([greet, ""] + [wrap(p, width) if lang != "ja" else p
                                        for p in paras] + [""])
        text = text.replace("\n", "\n\n", 0)
        if lang == "de" and self.chance(0.25):
            idn = self.pick(["bäckerei-müller", "grün-und-blau", "schöne-reisen",
                             "überall-kaffee"]).encode("idna").decode()
            text += "\nhttps://www.%s.de/\n" % idn
        text += "\n%s\n%s\n" % (close, sender)
        subject = self.pick(L["subjects_ham"]).format(
            day=self.pick(L["days"]))
        extra = []
        if self.chance(0.35):
            subject = self.pick({"de": ["AW: ", "Re: "], "fr": ["RE : ",
                                                               "Re: "],
                                 "pt": ["Re: ", "RES: "], "ja": ["Re: "],
                                 "ru": ["Re: "]}[lang]) + subject
            extra.append(("In-Reply-To", "<%s@%s>" % (self.token(18),
                                                      HOSTED_DOMAIN)))
        if lang == "ja":
            cte = "7bit" if charset == "iso-2022-jp" else self.pick(
                ["base64", "8bit"])
        elif lang == "ru":
            cte = self.pick(["8bit", "base64", "quoted-printable"])
        else:
            cte = self.pick(["quoted-printable", "8bit", "quoted-printable"])
        if self.chance(0.25) and charset != "iso-2022-jp":
            html = self.html_doc(self.esc(subject), [
                "<p>%s</p>" % self.esc(p).replace("\n", "<br>\n")
                for p in text.split("\n\n")])
            part = multipart("alternative", [
                text_part(text, "plain", charset, cte),
                text_part(html, "html", charset, self.pick(
                    ["base64", "quoted-printable"]))], self.boundary())
        else:
            part = text_part(text, "plain", charset, cte)
        to, rcpt = self.to_field()
        return message_bytes(self.headers(
            mailbox(sender + " " + self.pick(W.LAST_NAMES)
                    if lang in ("de", "fr", "pt") else sender, addr,
                    charset, kind), to,
            header_text(subject, charset, kind), dom, rcpt=rcpt,
            extra=extra), part)

    NOTIFY = [
        ("Your order #{n} has shipped", "Your parcel is on its way. Track it "
         "at the link below; delivery is expected on {day}.", "orders"),
        ("Build #{n} passed", "All {k} jobs of the pipeline for the main "
         "branch passed in {k} minutes.", "ci"),
        ("Build #{n} failed", "Job test-{k} of the pipeline failed on the "
         "main branch. See the log for details.", "ci"),
        ("New sign-in to your account", "We noticed a new sign-in from "
         "Firefox on Linux. If this was you, there is nothing to do. If "
         "not, review your security settings.", "security"),
        ("Your password was changed", "The password of your account was "
         "changed on {day}. If you did not do this, reset it from the "
         "account page.", "security"),
        ("New comment on issue #{n}", "{first} commented: the {noun} is "
         "still slow after the last release; I attached a profile.",
         "github"),
        ("Your statement is ready", "Your monthly statement for {month} "
         "is now available in online banking.", "statements"),
        ("You are using {k}% of your storage", "Your plan includes 100 GB. "
         "Free up space or upgrade your plan to keep syncing.", "storage"),
        ("Receipt for your payment", "We received your payment of {amt}. "
         "Thank you. This receipt is for your records.", "billing"),
        ("Reminder: {noun} appointment on {day}", "This is a reminder of "
         "your appointment on {day} at {k}:00.", "reminders"),
        ("Your verification code", "Your code is {code}. It expires in 10 "
         "minutes. Never share it with anyone.", "verify"),
    ]

    def ham_notification(self):
        if self.chance(0.2):
            brand, dom = self.pick(W.BRANDS)
        else:
            dom = self.ham_domain()
            brand = dom.split(".")[0].replace("-", " ").title()
        subj, text, box = self.pick(self.NOTIFY)
        vals = dict(n=self.rng.randint(100, 99999), day=self.pick(
            W.WEEKDAYS), k=self.rng.randint(2, 95), first=self.pick(
            W.FIRST_NAMES), noun=self.pick(W.TOPICS["service"]),
            month=self.pick(W.MONTHS), amt="%.2f %s" % (
                self.rng.randint(100, 50000) / 100, self.pick(
                    ["EUR", "USD", "GBP"])), code=self.rng.randint(
                100000, 999999))
        subj, text = subj.format(**vals), text.format(**vals)
        link = self.url(self.pick(["www.", "", "app.", "my."]) + dom,
                        W.TOPICS["service"])
        to, rcpt = self.to_field()
        plain = "\n".join([self.pick(["Hi %s," % rcpt.split("@")[0]
                                      .capitalize(), "Hello,", ""]), "",
                           wrap(text), "", link, "",
                           wrap(self.paragraph("service", 1)), "",
                           "-- ", "The %s team" % brand,
                           "This is an automated message from %s." % dom, ""])
        if self.chance(0.6):
            show = self.pick(["View details", "Open", dom,
                              "www." + dom if not dom.startswith("www.")
                              else dom])
            html = self.html_doc(self.esc(subj), [
                "<p>%s</p>" % self.esc(text),
                '<p><a class="btn" href="%s">%s</a></p>' % (link, show),
                "<p>%s</p>" % self.esc(self.paragraph("service", 1)),
                '<p style="font-size:11px">%s &middot; <a href="https://%s/'
                'settings/notifications">Notification settings</a></p>'
                % (brand, dom)])
            part = self.alt(plain, html)
        else:
            part = text_part(plain)
        extra = []
        if self.chance(0.6):
            extra.append(("Auto-Submitted", "auto-generated"))
        frm = mailbox(brand, "%s@%s" % (self.pick(["no-reply", "noreply",
                                                   "notifications", box]),
                                         self.pick([dom, "mail." + dom])))
        return message_bytes(self.headers(frm, to, subj, dom, rcpt=rcpt,
                                          extra=extra), part)

    def ham_alternative(self):
        first, last = self.person()
        dom = self.pick([self.ham_domain(), self.ham_domain(), "gmail.com",
                         "outlook.com"])
        addr = "%s@%s" % (self.local_part(first, last), dom)
        to, rcpt = self.to_field()
        topic = self.pick(["work", "family", "work", "software"])
        subject = self.subject(topic)
        paras = [self.paragraph(topic) for _ in range(self.rng.randint(1, 4))]
        opener = self.fill(self.pick(W.HAM_OPENERS),
                           rcpt.split("@")[0].capitalize())
        close = self.pick(W.HAM_CLOSINGS)
        text = "\n\n".join([opener] + [wrap(p) for p in paras] +
                           [close + "\n" + first]) + "\n"
        blocks = ["<p>%s</p>" % self.esc(opener)]
        for p in paras:
            if self.chance(0.2) and dom not in W.FREEMAIL:
                u = self.url("www." + dom)
                p = p + ' <a href="%s">%s</a>' % (u, self.pick(
                    ["Details here.", "See the page.", "www." + dom]))
                blocks.append("<p>%s</p>" % p)
            else:
                blocks.append("<p>%s</p>" % self.esc(p))
        blocks.append("<p>%s<br>%s</p>" % (close, first))
        part = self.alt(text, self.html_doc(self.esc(subject), blocks,
                                            style=self.chance(0.5)))
        return message_bytes(self.headers(mailbox("%s %s" % (first, last),
                                                  addr), to, subject, dom,
                                          rcpt=rcpt), part)

    def ham_commercial(self):
        dom = self.ham_domain()
        shop = dom.split(".")[0].replace("-", " ").title()
        to, rcpt = self.to_field()
        pct = self.pick([10, 15, 20, 25, 30, 40, 50])
        items = [self.pick(W.TOPICS["shop"]) for _ in range(
            self.rng.randint(2, 6))]
        subject = self.pick([
            "%d%% off %s this weekend" % (pct, items[0]),
            "New arrivals: %s and %s" % (items[0], items[-1]),
            "Your member discount is waiting",
            "Free shipping on every %s until %s" % (items[0], self.pick(
                W.WEEKDAYS)),
            "Last chance: %s sale ends tonight" % shop])
        code = self.token(8, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        blocks = ["<h1>%s</h1>" % self.esc(subject),
                  "<p>Use code <b>%s</b> at checkout for %d%% off.</p>"
                  % (code, pct)]
        text = [subject, "", "Use code %s at checkout for %d%% off." % (
            code, pct), ""]
        for it in items:
            u = "https://shop.%s/%s/%s" % (dom, it.replace(" ", "-"),
                                           self.token(6))
            price = self.rng.randint(900, 49900) / 100
            blocks.append('<p><a href="%s"><img src="https://img.%s/%s.jpg" '
                          'alt="%s"></a><br>%s &mdash; %.2f</p>'
                          % (u, dom, self.token(8), it, it.title(), price))
            text += ["%s - %.2f" % (it.title(), price), u, ""]
        blocks.append("<p>%s</p>" % self.esc(self.paragraph("shop", 2)))
        unsub = "https://%s/email/unsubscribe?t=%s" % (dom, self.token(14))
        blocks.append('<p style="font-size:11px"><a href="%s">Unsubscribe'
                      '</a> &middot; <a href="https://www.%s/privacy">'
                      'Privacy</a></p>' % (unsub, dom))
        text += ["Unsubscribe: " + unsub]
        part = self.alt("\n".join(text), self.html_doc(self.esc(subject),
                                                       blocks))
        extra = [("List-Unsubscribe", "<%s>" % unsub),
                 ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
        if self.chance(0.5):
            extra.append(("List-Id", "<promotions.%s>" % dom))
        frm = mailbox(shop, "%s@%s" % (self.pick(["offers", "hello", "shop",
                                                  "news"]), dom))
        return message_bytes(self.headers(frm, to, subject, dom, rcpt=rcpt,
                                          extra=extra, bulk=True), part)

    # ============================================================ spam

    SPAM_NAMES = {
        "pharmacy": ["Pharmacy Online", "Canadian Meds", "Dr. %s",
                     "Health Store", "RxDirect", "Men's Health Center"],
        "loan": ["Loan Approval Dept", "Fast Cash", "%s Finance",
                 "Credit Team", "Funding Desk"],
        "crypto": ["Crypto Signals", "%s Capital", "Token Presale",
                   "Bitcoin Desk", "Wallet Rewards"],
        "dating": ["%s", "Lonely %s", "Singles Near You", "%s (26)",
                   "Match Alert"],
        "seo": ["%s - SEO Expert", "Ranking Team", "%s Digital",
                "Web Growth Agency", "%s Marketing"],
    }

    def spam_subject(self, topic):
        words = W.SPAM_TOPICS[topic]
        a, b = self.pick(words), self.pick(words)
        s = self.pick([
            "%s %s - %s" % (a.capitalize(), b, self.pick(W.SPAM_PHRASES)),
            "Get %s %s today" % (a, b),
            "%d%% off %s" % (self.pick([50, 70, 80, 90]), a),
            "Your %s %s is waiting" % (a, b),
            "%s: %s" % (self.pick(["Urgent", "Important", "Final notice",
                                   "Exclusive", "Hello"]), a),
            "Re: your %s" % a,
            "%s for you, %s" % (a.capitalize(), self.pick(RECIPIENTS)),
        ])
        if self.chance(0.15):
            s = s.upper()
        return s

    def spam_content(self, topic, anomaly=None, clean=None):
        """Bulk spam about topic; anomaly names a header anomaly to build
        in (hdr_* categories), else the headers are those of ordinary,
        often careful, bulk mail."""
        dom = self.spam_domain()
        linkdom = dom if self.chance(0.7) else self.spam_domain()
        name = self.pick(self.SPAM_NAMES[topic])
        if "%s" in name:
            name = name % self.pick(W.FIRST_NAMES if topic == "dating"
                                    else W.LAST_NAMES)
        local = self.pick(["info", "offers", "sales", "support", "news",
                           "contact", "hello", "admin", self.token(
                               6, "abcdefghijklmnopqrstuvwxyz")])
        addr = "%s@%s" % (local, dom)
        to, rcpt = self.to_field()
        if self.chance(0.1):
            to = "undisclosed-recipients:;"
        intl = self.chance(0.1)
        paras = []
        if intl:
            lang = self.pick(["de", "fr", "pt", "ru", "ja"])
            charset = self.pick(W.LANGS[lang]["charsets"])
            greet, lp, close, _ = self.lang_text(lang, "spam", charset)
            paras = [greet] + lp
            subject = header_text(self.pick(W.LANGS[lang]["subjects_spam"]),
                                  charset, "B")
        else:
            charset = "utf-8"
            subject = self.spam_subject(topic)
            paras.append(self.pick(W.SPAM_OPENERS))
            for _ in range(self.rng.randint(1, 4)):
                paras.append(" ".join(self.spam_sentence(topic) for _ in
                                      range(self.rng.randint(1, 3))))
            if topic == "pharmacy":
                paras.append("\n".join("%s %dmg x %d pills - $%d.%02d" % (
                    self.pick(["Viagra", "Cialis", "Levitra", "Tramadol",
                               "Xanax", "Generic " + self.pick(
                                   ["Viagra", "Cialis"])]),
                    self.pick([10, 20, 50, 100]), self.pick([10, 30, 60, 90]),
                    self.rng.randint(19, 199), self.rng.randint(0, 99))
                    for _ in range(self.rng.randint(2, 5))))
            if self.chance(0.2):
                paras = [paras[0]] + [self.obfuscate(p) for p in paras[1:]]
        cta = self.url(self.pick(["", "www.", "go.", "secure."]) + linkdom,
                       W.SPAM_TOPICS[topic])
        cta_text = self.pick(["Click here", "Order now", "Apply now",
                              "Claim your bonus", "See photos",
                              "Get started", "Visit our store",
                              "Start now", "Learn more"])
        unsub = "https://%s/unsub?e=%s" % (linkdom, self.token(10))
        footer = self.pick([
            "To stop receiving these emails, unsubscribe here: %s" % unsub,
            "You received this message because you opted in. Remove: %s"
            % unsub,
            "If you no longer wish to receive offers, click %s" % unsub,
            "%s Ltd, %d %s Road, %s. Opt out: %s" % (
                name, self.rng.randint(1, 999), self.pick(W.LAST_NAMES),
                self.pick(["Cyprus", "Panama", "Seychelles", "Delaware"]),
                unsub)])
        buster = self.hash_buster() if self.chance(0.15) else None
        text = "\n\n".join([wrap(p) for p in paras] + [
            "%s: %s" % (cta_text, cta), footer] +
            ([buster] if buster else [])) + "\n"
        blocks = ["<p>%s</p>" % self.esc(p).replace("\n", "<br>")
                  for p in paras]
        blocks.insert(self.rng.randint(1, len(blocks)),
                      '<p><a class="btn" href="%s">%s</a></p>'
                      % (cta, cta_text.upper() if self.chance(0.3)
                         else cta_text))
        if self.chance(0.4):
            blocks.insert(0, '<a href="%s"><img src="https://%s/img/%s.'
                          'jpg" width="600"></a>' % (cta, linkdom,
                                                     self.token(8)))
        blocks.append('<p style="font-size:9px;color:#999">%s</p>' %
                      self.esc(footer).replace(unsub, '<a href="%s">%s</a>'
                                               % (unsub, "unsubscribe")))
        if buster:
            blocks.append('<div style="display:none">%s</div>' % buster)
        html = self.html_doc(self.esc(subject), blocks, self.chance(0.5))
        r = self.rng.random()
        if r < 0.4:
            part = text_part(html, "html", charset, self.pick(
                ["base64", "quoted-printable", "7bit" if html.isascii()
                 else "base64"]))
        elif r < 0.75:
            part = multipart("alternative", [
                text_part(text, "plain", charset),
                text_part(html, "html", charset, self.pick(
                    ["base64", "quoted-printable"]))], self.boundary())
        else:
            part = text_part(text, "plain", charset)
        hdrs = self.spam_headers(mailbox(name, addr), to, subject, dom,
                                 rcpt, clean)
        return self.apply_anomaly(hdrs, anomaly, dom, rcpt), part

    def spam_headers(self, frm, to, subject, dom, rcpt, clean=None,
                     extra=()):
        """Spam's header fields: clean (as a careful bulk sender makes
        them) or botnet-style (a Received from a dynamic host)."""
        if clean is None:
            clean = self.chance(0.6)
        if clean:
            return self.headers(frm, to, subject, dom, rcpt=rcpt, bulk=True,
                                extra=extra)
        d, _ = self.date()
        helo = self.pick(["user-PC", "DESKTOP-%s" % self.token(
            7, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), "localhost",
            "[%s]" % self.ip(), "host-%s.dynamic.%s" % (
                self.ip().replace(".", "-"), self.pick(
                    ["example.net", "isp.example", "cable.example.org"]))])
        h = [("Received", "from %s ([%s])\r\n\tby %s with SMTP id %s;\r\n"
              "\t%s" % (helo, self.ip(), "smtp%d.%s" % (
                  self.rng.randint(1, 9), dom), self.token(10), d)),
             ("Date", d), ("From", frm), ("To", to), ("Subject", subject),
             ("Message-ID", self.msgid(self.pick([dom, helo.strip("[]")
                                                  if not helo.startswith("[")
                                                  else dom])))]
        h += list(extra)
        m = self.mailer(True)
        if m:
            h.append(m)
        if self.chance(0.2):
            h.append(("X-Priority", "1 (Highest)"))
        return h

    def apply_anomaly(self, hdrs, anomaly, dom, rcpt):
        if anomaly is None:
            return hdrs
        names = [n for n, _ in hdrs]
        if anomaly == "hdr_no_date":
            return [(n, v) for n, v in hdrs if n != "Date"]
        if anomaly == "hdr_no_message_id":
            return [(n, v) for n, v in hdrs if n != "Message-ID"]
        if anomaly in ("hdr_date_future", "hdr_date_past"):
            off = self.rng.randint(3, 400) * 86400 \
                if anomaly == "hdr_date_future" else \
                -self.rng.randint(60, 4000) * 86400
            d, _ = self.date(off)
            return [(n, d if n == "Date" else v) for n, v in hdrs]
        if anomaly == "hdr_replyto_freemail":
            first, last = self.person()
            i = names.index("Subject") + 1
            return hdrs[:i] + [("Reply-To", mailbox(
                "%s %s" % (first, last), "%s@%s" % (
                    self.local_part(first, last), self.pick(
                        ["gmail.com", "yahoo.com", "hotmail.com",
                         "outlook.com", "aol.com"]))))] + hdrs[i:]
        if anomaly in ("hdr_from_name_addr", "hdr_from_name_local"):
            if anomaly == "hdr_from_name_local":
                shown = "%s@%s" % (self.pick(["admin", "postmaster", "it",
                                              "support", "billing"] +
                                             RECIPIENTS), HOSTED_DOMAIN)
            else:
                brand, bdom = self.pick(W.BRANDS)
                shown = "%s@%s" % (self.pick(["service", "support",
                                              "security", "billing"]),
                                   self.pick([bdom, self.ham_domain()]))
            addr = "%s@%s" % (self.pick(["mailer", "bounce", "info",
                                         "noreply"]), dom)
            name = self.pick(["%s", "%s via Support", "Admin %s"]) % shown
            return [(n, '"%s" <%s>' % (name, addr) if n == "From" else v)
                    for n, v in hdrs]
        if anomaly == "hdr_forged_received":
            d = dict(hdrs).get("Date") or self.date()[0]
            forged = ("from %s (%s [%s])\r\n\tby %s (Postfix) with ESMTP id "
                      "%s\r\n\tfor <%s>; %s" % (
                          RECEIVING_HOST, RECEIVING_HOST, self.ip(),
                          RECEIVING_HOST, self.token(
                              11, "0123456789ABCDEF"), rcpt, d))
            i = self.rng.randint(0, names.index("Date")
                                 if "Date" in names else 0)
            return hdrs[:i] + [("Received", forged)] + hdrs[i:]
        raise ValueError(anomaly)

    # ---------------------------------------------------------- phishing

    PHISH_LURES = [
        ("Action required: verify your {brand} account",
         "We detected unusual activity on your {brand} account. To keep "
         "it safe, we have limited some features. Please verify your "
         "identity within 24 hours or your account will be suspended."),
        ("Your {brand} account has been limited",
         "Your recent payment could not be processed. Update your billing "
         "information to restore full access to your account."),
        ("Unusual sign-in activity",
         "Someone tried to sign in to your {brand} account from a new "
         "device. If this was not you, secure your account now."),
        ("{brand}: document shared with you",
         "A document has been shared with you and is waiting for your "
         "signature. Review the document before it expires."),
        ("Payment declined - update required",
         "We were unable to charge your card for your {brand} "
         "subscription. Update your payment details to avoid interruption."),
        ("Your parcel is on hold",
         "Your shipment could not be delivered because a customs fee of "
         "2.99 EUR is unpaid. Pay the fee to release the parcel."),
    ]
    LOCAL_LURES = [
        ("Mailbox quota exceeded",
         "Your mailbox has exceeded its storage limit and will stop "
         "receiving messages. Upgrade your mailbox now to keep your mail."),
        ("Password expires today",
         "The password of your {host} account expires today. Keep your "
         "current password by confirming it below."),
        ("{n} pending messages held",
         "{n} incoming messages are held on the server because of a "
         "delivery error. Release them from the webmail portal."),
    ]

    def compromised(self):
        """A host phishers use: a hacked site of someone else's."""
        return "%s%s.%s" % (self.pick(["", "www.", "blog.", "shop."]),
                            self.org_label(), self.pick(
                                W.SPAM_TLDS + W.HAM_TLDS))

    def phish_path(self, brand):
        return "/" + self.pick([
            "wp-content/uploads/%s/login.php" % brand.lower(),
            "%s/signin/" % brand.lower(), "secure/update/index.html",
            "account/verify?id=%s" % self.token(12),
            ".well-known/%s/auth" % self.token(5), "webmail/owa/auth.php",
            "%s-%s/" % (brand.lower(), self.token(6))])

    def phish(self, kind):
        local = kind == "phish_lookalike_local"
        if local:
            brand, bdom = HOSTED_DOMAIN.split(".")[0].title() + " IT", \
                HOSTED_DOMAIN
            subj, lure = self.pick(self.LOCAL_LURES)
        else:
            brand, bdom = self.pick(W.BRANDS)
            while kind == "phish_idn" and not any(
                    c in HOMOGLYPHS for c in bdom.split(".")[0]) or \
                    kind == "phish_lookalike_brand" and \
                    len(bdom.split(".")[0]) < LOOKALIKE_MIN:
                brand, bdom = self.pick(W.BRANDS)
            subj, lure = self.pick(self.PHISH_LURES)
        vals = dict(brand=brand, host=HOSTED_DOMAIN, n=self.rng.randint(
            3, 40))
        subj, lure = subj.format(**vals), lure.format(**vals)
        to, rcpt = self.to_field()
        evil = self.compromised()
        path = self.phish_path(brand.split()[0])
        fdom = self.pick([evil.split(".", 1)[1] if evil.count(".") > 1
                          else evil, self.spam_domain()])
        button = self.pick(["Verify now", "Sign in", "Review document",
                            "Update payment", "Restore access",
                            "Confirm identity", "Keep my password",
                            "Release messages", "Pay fee"])
        text_link = None     # the URL the text/plain part shows
        if kind == "phish_link_mismatch":
            shown = self.pick(["https://www.%s/signin" % bdom,
                               "www.%s" % bdom, "https://%s/account/"
                               "security" % bdom, "%s/verify" % bdom])
            href = "http://%s%s" % (evil, path)
            link = '<a href="%s">%s</a>' % (href, shown)
            text_link = shown
        elif kind in ("phish_ip", "phish_ip_decimal"):
            ip = self.ip()
            if kind == "phish_ip":
                host = ip + self.pick(["", "", ":8080", ":8443"])
            else:
                n = struct.unpack(">I", bytes(int(x) for x in
                                               ip.split(".")))[0]
                r = self.rng.random()
                host = str(n) if r < 0.7 else "0x%08x" % n if r < 0.85 \
                    else ".".join("0%o" % int(x) for x in ip.split("."))
            href = "http://%s%s" % (host, path)
            link = '<a href="%s">%s</a>' % (href, button)
        elif kind == "phish_shortener":
            href = "https://%s/%s" % (self.pick(W.SHORTENERS), self.token(
                self.rng.randint(5, 8), "abcdefghijkmnopqrstuvwxyz"
                "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
            link = '<a href="%s">%s</a>' % (href, button)
            text_link = href
        elif kind in ("phish_lookalike_local", "phish_lookalike_brand"):
            label, tld = bdom.split(".", 1)
            lk = "%s.%s" % (lookalike(self.rng, label), tld)
            fdom = lk
            href = "https://%s%s%s" % (self.pick(["", "www.", "login.",
                                                  "mail.", "secure."]), lk,
                                       path)
            link = '<a href="%s">%s</a>' % (href, button)
            text_link = href
        elif kind == "phish_idn":
            label, tld = bdom.split(".", 1)
            xn = "%s.%s" % (homograph(self.rng, label), tld)
            fdom = self.pick([xn, fdom])
            href = "https://%s%s" % (self.pick(["", "www."]) + xn, path)
            link = '<a href="%s">%s</a>' % (href, button)
            text_link = href
        elif kind == "phish_form":
            fdom = self.spam_domain()       # the form posts elsewhere
            href = "https://%s/%s/post.php" % (evil, self.token(8))
            link = ('<form action="%s" method="%s">\n'
                    '<p>Email address<br><input type="email" name="email" '
                    'value="%s"></p>\n<p>Password<br><input type="password" '
                    'name="%s"></p>\n<p><input type="submit" value="%s">'
                    '</p>\n</form>' % (href, self.pick(["post", "POST"]),
                                       rcpt, self.pick(["pass", "password",
                                                        "pwd"]), button))
        else:
            raise ValueError(kind)
        frm_local = self.pick(["service", "security", "no-reply", "support",
                               "account-update", "billing", "alert"])
        frm = mailbox(self.pick(["%s", "%s Support", "%s Security",
                                 "%s Service", "%s Account Team"])
                      % brand, "%s@%s" % (frm_local, fdom))
        blocks = ["<h2>%s</h2>" % self.esc(brand),
                  "<p>%s</p>" % self.pick(["Dear customer,", "Hello,",
                                           "Dear %s," % rcpt,
                                           "Dear user,"]),
                  "<p>%s</p>" % self.esc(lure), "<p>%s</p>" % link]
        if self.chance(0.5):
            blocks.append("<p>%s</p>" % self.esc(" ".join(
                self.spam_sentence("phish") for _ in range(
                    self.rng.randint(1, 2)))))
        if self.chance(0.4) and not local:
            blocks.append('<p style="font-size:10px">&copy; 2026 %s. All '
                          'rights reserved. <a href="https://www.%s/help">'
                          'Help Center</a> &middot; <a href="https://www.%s/'
                          'privacy">Privacy</a></p>' % (brand, bdom, bdom))
        else:
            blocks.append('<p style="font-size:10px">&copy; 2026 %s. This '
                          'is an automated message, please do not reply.'
                          '</p>' % brand)
        html = self.html_doc(self.esc(subj), blocks, self.chance(0.6))
        if kind != "phish_form" and self.chance(0.5):
            text = "\n\n".join(["Dear customer,", wrap(lure), "%s: %s" % (
                button, text_link or "see the HTML version of this "
                "message"), "%s" % brand]) + "\n"
            part = multipart("alternative", [
                text_part(text), text_part(html, "html", "utf-8", self.pick(
                    ["quoted-printable", "base64", "7bit"]))],
                self.boundary())
        else:
            part = text_part(html, "html", "utf-8", self.pick(
                ["quoted-printable", "base64", "7bit"]))
        hdrs = self.spam_headers(frm, to, subj, fdom, rcpt,
                                 clean=self.chance(0.75))
        return message_bytes(hdrs, part)

    # ---------------------------------------------------------- malware

    MALWARE_LURES = [
        ("Invoice {n}", "Please find the attached invoice {n} for payment. "
         "Kindly confirm receipt."),
        ("Payment advice {day}", "Attached is the payment advice for the "
         "transfer made on {day}. Please check the details."),
        ("Scanned document from {dev}", "You have a new scanned document. "
         "Pages: {k}. Device: {dev}."),
        ("Shipment notification {n}", "Your shipment {n} is ready. See the "
         "attached shipping documents for the delivery."),
        ("Your order #{n}", "Thank you for your order. The order details "
         "are attached."),
        ("Voice message from +{k}{n}", "You received a voice message "
         "lasting 0:{k}. Open the attachment to listen."),
        ("Resume - {first} {last}", "Hello, I am applying for the open "
         "position. My resume is attached. Best regards, {first}"),
        ("Outstanding balance - urgent", "Our records show an unpaid "
         "balance on your account. The statement is attached."),
        ("Purchase order {n}", "Please see the attached purchase order and "
         "send us your best quotation."),
    ]

    def malware(self, kind):
        subj, lure = self.pick(self.MALWARE_LURES)
        first, last = self.person()
        vals = dict(n=self.rng.randint(10000, 999999), day=self.pick(
            W.WEEKDAYS), dev=self.pick(["RICOH MP C3004", "HP LaserJet "
                                        "M479", "Canon iR-ADV C5535",
                                        "Xerox WorkCentre 7855"]),
            k=self.rng.randint(10, 59), first=first, last=last)
        subj, lure = subj.format(**vals), lure.format(**vals)
        stem = self.pick(["invoice_%d", "document_%d", "scan_%d", "order_%d",
                          "payment_%d", "INV-%d", "PO%d", "statement_%d",
                          "DHL_%d", "resume_%d"]) % self.rng.randint(100,
                                                                     99999)
        password = None
        if kind == "malware_exe_content":
            ext, ctype = self.pick([("pdf", "application/pdf"),
                                    ("jpg", "image/jpeg"),
                                    ("txt", "text/plain"),
                                    ("doc", "application/msword"),
                                    ("png", "image/png"),
                                    ("dat", "application/octet-stream")])
            att = [(pe_stub(self.rng), ctype, "%s.%s" % (stem, ext))]
        elif kind == "malware_elf":
            ext, ctype = self.pick([("pdf", "application/pdf"),
                                    ("bin", "application/octet-stream"),
                                    ("jpg", "image/jpeg")])
            att = [(elf_stub(self.rng), ctype, "%s.%s" % (stem, ext))]
        elif kind == "malware_double_ext":
            ext = self.pick(["pdf.exe", "doc.exe", "jpg.scr", "pdf.scr",
                             "xlsx.exe", "docx.com", "pdf.pif", "txt.exe",
                             "pdf.bat", "doc.js", "jpg.vbs"])
            if ext.endswith((".bat", ".js", ".vbs")):
                data = ("REM %s\r\necho %s\r\n" % (stem, self.token(12))
                        if ext.endswith(".bat") else
                        "// %s\r\nWScript.Echo(\"%s\");\r\n" % (
                            stem, self.token(12))).encode()
            else:
                data = pe_stub(self.rng)
            att = [(data, self.pick(["application/octet-stream",
                                     "application/x-msdownload",
                                     "application/pdf"]),
                    "%s.%s" % (stem, ext))]
        elif kind in ("malware_macro_docm", "malware_macro_xlsm"):
            k = "docm" if kind.endswith("docm") else "xlsm"
            att = [(ooxml_macro(k, self.rng, "Enable content to view "
                                "this document. " + self.paragraph("work",
                                                                   1)),
                    OOXML_TYPES[k][1], "%s.%s" % (stem, k))]
        elif kind == "malware_zip_exe":
            inner = self.pick(["%s.exe", "%s.pdf.exe", "%s.scr",
                               "%s.com"]) % stem
            members = [(inner, pe_stub(self.rng))]
            if self.chance(0.4):
                members.append(("readme.txt", lure))
            att = [(zip_bytes(members, self.rng), self.pick(
                ["application/zip", "application/x-zip-compressed",
                 "application/octet-stream"]), "%s.zip" % stem)]
        elif kind == "malware_zip_encrypted":
            password = str(self.rng.randint(1000, 9999))
            inner = self.pick(["%s.exe", "%s.doc", "%s.js", "%s.pdf.exe"]) \
                % stem
            att = [(zip_encrypted([(inner, pe_stub(self.rng))],
                                  password.encode(), self.rng),
                    "application/zip", "%s.zip" % stem)]
            lure += " The archive is protected, the password is %s." \
                % password
        elif kind == "malware_eicar":
            att = [(EICAR, self.pick(["application/octet-stream",
                                      "application/x-msdownload",
                                      "text/plain"]),
                    self.pick(["eicar.com", "eicar.com.txt", "%s.com"
                               % stem, "test.txt"]))]
        elif kind == "malware_eicar_zip":
            att = [(zip_bytes([(self.pick(["eicar.com", "%s.com" % stem]),
                                EICAR)], self.rng), "application/zip",
                    "%s.zip" % stem)]
        else:
            raise ValueError(kind)
        fdom = self.pick([self.ham_domain(), self.ham_domain(),
                          self.spam_domain()])
        frm = mailbox("%s %s" % (first, last) if self.chance(0.6) else
                      fdom.split(".")[0].title() + " Accounts",
                      "%s@%s" % (self.local_part(first, last), fdom))
        to, rcpt = self.to_field()
        text = "\n\n".join([self.pick(["Hello,", "Dear Sir/Madam,",
                                       "Hi,", "Good day,"]), wrap(lure),
                            self.pick(["Regards,", "Thank you,",
                                       "Best regards,"]) + "\n" + first]) \
            + "\n"
        parts = [text_part(text)] + [attachment(d, c, n) for d, c, n in att]
        part = multipart("mixed", parts, self.boundary())
        return message_bytes(self.spam_headers(frm, to, subj, fdom, rcpt,
                                               clean=self.chance(0.7)),
                             part)

    def gtube(self):
        topic = self.pick(list(self.SPAM_NAMES))
        hdrs, _ = self.spam_content(topic, clean=True)
        text = "\n\n".join([self.pick(["This is the GTUBE, the",
                                       "Test message:", "Hello,"]),
                            wrap(self.paragraph("work", 2)), GTUBE,
                            "-- \nspam filter test"]) + "\n"
        if self.chance(0.3):
            part = self.alt(text, self.html_doc("test", [
                "<p>%s</p>" % self.esc(p) for p in text.split("\n\n")]))
        else:
            part = text_part(text)
        return message_bytes(hdrs, part)

    # ---------------------------------------------------------- dispatch

    def build(self, category):
        if category.startswith("intl_"):
            return self.ham_intl(category[5:])
        if category in self.SPAM_NAMES:
            h, p = self.spam_content(category)
            return message_bytes(h, p)
        if category.startswith("phish_"):
            return self.phish(category)
        if category.startswith("malware_"):
            return self.malware(category)
        if category.startswith("hdr_"):
            h, p = self.spam_content(self.pick(list(self.SPAM_NAMES)),
                                     anomaly=category,
                                     clean=category != "hdr_forged_received"
                                     or None)
            if category == "hdr_replyto_freemail":
                frm = dict(h)["From"]
                assert not any(f in frm for f in W.FREEMAIL), frm
            return message_bytes(h, p)
        if category == "gtube":
            return self.gtube()
        return getattr(self, "ham_" + category)()


# ================================================================ corpus

def plan(seed, scale=1):
    """[(file, class, category, split, expected)] in file order: the
    categories interleaved (shuffled), each split half train, half test
    (which half is drawn from the seed)."""
    rng = random.Random(seed ^ 0x5EED)
    rows = []
    for cat, cls, n in CATEGORIES:
        n *= scale
        splits = ["train"] * (n // 2) + ["test"] * (n - n // 2)
        rng.shuffle(splits)
        for s in splits:
            rows.append((cls, cat, s, CHECKS.get(cat, "-")))
    rng.shuffle(rows)
    return [("msg-%05d.eml" % (i + 1),) + r for i, r in enumerate(rows)]


def generate(outdir, seed=SEED, now=DEFAULT_NOW, scale=1):
    """Writes the corpus into outdir (made if missing) and returns its
    rows as plan() does. Each message has its own random.Random seeded
    from (seed, its number), so one category's change does not reshuffle
    the others."""
    os.makedirs(outdir, exist_ok=True)
    rows = plan(seed, scale)
    for i, (name, cls, cat, split, exp) in enumerate(rows):
        g = Gen((seed * 1000003 + i) & 0xffffffffffff, now)
        data = g.build(cat)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    with open(os.path.join(outdir, LABELS), "w", newline="\n") as f:
        f.write(LABELS_HEADER + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    return rows


def read_labels(corpus_dir):
    """labels.tsv of corpus_dir as a list of dicts (file, class,
    category, split, expected)."""
    with open(os.path.join(corpus_dir, LABELS)) as f:
        lines = f.read().splitlines()
    keys = lines[0].split("\t")
    return [dict(zip(keys, l.split("\t"))) for l in lines[1:] if l]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--now", type=int, default=DEFAULT_NOW,
                    help="epoch seconds the Date: fields are relative to "
                    "(default %d; pass $(date +%%s) to check the corpus "
                    "now)" % DEFAULT_NOW)
    ap.add_argument("--scale", type=int, default=1,
                    help="K times the messages of every category")
    a = ap.parse_args()
    if a.scale < 1:
        ap.error("--scale must be at least 1")
    rows = generate(a.outdir, a.seed, a.now, a.scale)
    ham = sum(1 for r in rows if r[1] == "ham")
    print("%s: %d messages (%d ham, %d spam) and %s" % (
        a.outdir, len(rows), ham, len(rows) - ham, LABELS))


if __name__ == "__main__":
    main()
