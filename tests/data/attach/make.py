#!/usr/bin/env python3
"""Generates the attachment test messages of tests/unit/test_spam_attach.c.

    python3 tests/data/attach/make.py      (from the repository root)

Each NAME.eml is one message; its X-Test-Expect field lists the attachment
symbols (filter/spam-attach.c) it must get, no more and no fewer (empty:
ham). Samples are synthetic: PE, ELF, Mach-O, Java class, LNK and ISO
files are headers only, OLE2 files are minimal compound files written
here, zips come from Python's zipfile (deterministic: fixed dates), and
the one encrypted zip from Info-ZIP's `zip -P` (Debian's zip), committed
as it came out (its encryption header is random). No EICAR file is
written here: test_spam_attach.c builds those at run time, so that no
committed file is a virus scanner's test file.
"""
import io
import os
import struct
import subprocess
import tempfile
import zipfile
import zlib
from email.message import EmailMessage
from email import policy

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = (2026, 1, 2, 3, 4, 6)


def pe():
    b = bytearray(512)
    b[0:2] = b'MZ'
    struct.pack_into('<I', b, 0x3c, 0x80)
    b[0x80:0x84] = b'PE\0\0'
    struct.pack_into('<HHIIIHH', b, 0x84, 0x14c, 1, 0, 0, 0, 0xe0, 0x0102)
    return bytes(b)


def elf():
    b = bytearray(64)
    b[0:7] = b'\x7fELF\x02\x01\x01'
    struct.pack_into('<HHI', b, 16, 2, 62, 1)
    return bytes(b)


def macho():
    return struct.pack('<IiiIIII', 0xfeedfacf, 0x01000007, 3, 2, 0, 0, 0) + b'\0' * 64


def java_class():
    return b'\xca\xfe\xba\xbe\x00\x00\x00\x34' + b'\0' * 64


def lnk():
    return struct.pack('<I', 0x4c) + bytes.fromhex('0114020000000000c000000000000046') + b'\0' * 56


def iso():
    b = bytearray(40960)
    b[32768:32774] = b'\x01CD001'
    return bytes(b)


def png():
    raw = b'\0\xff\0\0'
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


def pdf(title):
    return (b'%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n'
            b'2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n'
            b'% ' + title.encode() + b'\n' + b'0' * 2000 +
            b'\ntrailer << /Root 1 0 R >>\n%%EOF\n')


def ole(entries, clsid=b'\0' * 16):
    """A version 3 compound file: header, one FAT sector, one directory
    sector. entries: (name, type, child) after the root; type 1 storage,
    2 stream (empty); siblings chain through right_sibling."""
    FREE, END, FAT = 0xffffffff, 0xfffffffe, 0xfffffffd
    hdr = bytearray(512)
    hdr[0:8] = bytes.fromhex('d0cf11e0a1b11ae1')
    struct.pack_into('<HHHHH', hdr, 24, 0x3e, 3, 0xfffe, 9, 6)
    struct.pack_into('<IIIIIIIII', hdr, 40, 0, 1, 1, 0, 4096, END, 0, END, 0)
    struct.pack_into('<I', hdr, 76, 0)
    for i in range(1, 109):
        struct.pack_into('<I', hdr, 76 + 4 * i, FREE)
    fat = bytearray(512)
    for i in range(128):
        struct.pack_into('<I', fat, 4 * i, FREE)
    struct.pack_into('<II', fat, 0, FAT, END)
    d = bytearray(512)

    def ent(i, name, typ, child, right, cls=b'\0' * 16):
        e = bytearray(128)
        n = name.encode('utf-16-le') + b'\0\0'
        e[0:len(n)] = n
        struct.pack_into('<HBB', e, 64, len(n), typ, 1)
        struct.pack_into('<III', e, 68, FREE, right, child)
        e[80:96] = cls
        struct.pack_into('<II', e, 116, END, 0)
        d[128 * i:128 * i + 128] = e

    ent(0, 'Root Entry', 5, 1 if entries else FREE, FREE, clsid)
    for i, (name, typ, child, right) in enumerate(entries, 1):
        ent(i, name, typ, child, right)
    for i in range(len(entries) + 1, 4):
        struct.pack_into('<III', d, 128 * i + 68, FREE, FREE, FREE)
    return bytes(hdr + fat + d)


def ole_plain():
    return ole([('WordDocument', 2, 0xffffffff, 0xffffffff)])


def ole_vba():
    # Root -> WordDocument, Macros (storage) -> VBA (storage) -> dir
    return ole([('WordDocument', 2, 0xffffffff, 2),
                ('Macros', 1, 3, 0xffffffff),
                ('VBA', 1, 4, 0xffffffff),
                ('dir', 2, 0xffffffff, 0xffffffff)])


def vba_project():
    return ole([('VBA', 1, 2, 3), ('dir', 2, 0xffffffff, 0xffffffff),
                ('PROJECT', 2, 0xffffffff, 0xffffffff)])


def msi():
    # {000C1084-0000-0000-C000-000000000046}, the MSI database class.
    clsid = bytes.fromhex('84100c0000000000c000000000000046')
    return ole([('\u4840\u3f3f', 2, 0xffffffff, 0xffffffff)], clsid)


def zbytes(members, method=zipfile.ZIP_DEFLATED):
    f = io.BytesIO()
    with zipfile.ZipFile(f, 'w', method) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, DATE), data, compress_type=method)
    return f.getvalue()


CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
      'openxmlformats.org/package/2006/content-types"><Default Extension="xml" '
      'ContentType="application/xml"/><Override PartName="/word/document.xml" '
      'ContentType="application/vnd.openxmlformats-officedocument.'
      'wordprocessingml.document.main+xml"/></Types>')


def docx(macros=False):
    m = [('[Content_Types].xml', CT),
         ('_rels/.rels', '<?xml version="1.0"?><Relationships/>'),
         ('docProps/app.xml', '<?xml version="1.0"?><Properties/>'),
         ('word/document.xml', '<?xml version="1.0"?><w:document><w:body>'
          + 'Quarterly report. ' * 200 + '</w:body></w:document>'),
         ('word/media/image1.png', png())]
    if macros:
        m.append(('word/vbaProject.bin', vba_project()))
    return zbytes(m)


def xlsx():
    return zbytes([('[Content_Types].xml', CT.replace('word', 'xl')),
                   ('xl/workbook.xml', '<?xml version="1.0"?><workbook/>'),
                   ('xl/worksheets/sheet1.xml', '<?xml version="1.0"?><worksheet>'
                    + '<row><c>1</c></row>' * 300 + '</worksheet>')])


def odt_basic():
    return zbytes([('mimetype', 'application/vnd.oasis.opendocument.text'),
                   ('content.xml', '<?xml version="1.0"?><office:document-content/>'),
                   ('Basic/script-lc.xml', '<?xml version="1.0"?><library:libraries/>'),
                   ('Basic/Standard/Module1.xml', '<?xml version="1.0"?><script:module/>')],
                  zipfile.ZIP_STORED)


def jar():
    return zbytes([('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\nMain-Class: Main\n'),
                   ('Main.class', java_class())])


def bomb():
    return zbytes([('zeros.txt', b'\0' * (8 * 1024 * 1024))])


def encrypted():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, 'statement.pdf'), 'wb') as f:
            f.write(pdf('statement'))
        os.utime(os.path.join(d, 'statement.pdf'), (1767322000, 1767322000))
        subprocess.run(['zip', '-q', '-X', '-P', 'infected', 'enc.zip', 'statement.pdf'],
                       cwd=d, check=True)
        with open(os.path.join(d, 'enc.zip'), 'rb') as f:
            return f.read()


def msg(name, expect, parts, subject=None):
    m = EmailMessage(policy=policy.SMTP)
    m['From'] = 'Sender <sender@example.org>'
    m['To'] = 'alice@example.test'
    m['Subject'] = subject or name
    m['Date'] = 'Fri, 02 Jan 2026 03:04:05 +0000'
    m['Message-ID'] = '<%s@example.org>' % name
    m['X-Test-Expect'] = ' '.join(expect) if expect else '-'
    m.set_content('Please find the attached file.\n')
    for p in parts:
        data, maintype, subtype, filename = p[:4]
        extra = p[4] if len(p) > 4 else {}
        if maintype == 'text':
            m.add_attachment(data.decode() if isinstance(data, bytes) else data,
                             subtype=subtype, filename=filename, **extra)
        else:
            m.add_attachment(data, maintype=maintype, subtype=subtype,
                             filename=filename, **extra)
    m.set_boundary('==attach-' + name + '==')
    return m.as_bytes()


def main():
    enc_path = os.path.join(HERE, 'encrypted.zip')
    if not os.path.exists(enc_path):
        with open(enc_path, 'wb') as f:
            f.write(encrypted())
    with open(enc_path, 'rb') as f:
        enc = f.read()
    ICS = ('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Cal//EN\r\n'
           'METHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:42@example.org\r\n'
           'DTSTART:20260110T100000Z\r\nDTEND:20260110T110000Z\r\n'
           'SUMMARY:Planning\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n')
    OCT = ('application', 'octet-stream')
    cases = {
        # Ham: nothing fires.
        'ham-pdf-invoice': ([], [(pdf('invoice 2026-001'), 'application', 'pdf', 'invoice-2026-001.pdf')]),
        'ham-ics-invite': ([], [(ICS, 'text', 'calendar', 'invite.ics', {'params': {'method': 'REQUEST'}})]),
        'ham-docx': ([], [(docx(), 'application', 'vnd.openxmlformats-officedocument.wordprocessingml.document', 'report.docx')]),
        'ham-xlsx': ([], [(xlsx(), 'application', 'vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'budget.xlsx')]),
        'ham-zip-pdfs': ([], [(zbytes([('invoices/jan.pdf', pdf('jan')), ('invoices/feb.pdf', pdf('feb'))]),
                               'application', 'zip', 'invoices.zip')]),
        'ham-png': ([], [(png(), 'image', 'png', 'photo.png')]),
        'ham-doc': ([], [(ole_plain(), 'application', 'msword', 'letter.doc')]),
        'ham-csv': ([], [('a,b\r\n1,2\r\n', 'text', 'csv', 'data.csv')]),
        # Executables by content.
        'exe-pe': (['ATTACH_EXECUTABLE', 'ATTACH_DANGEROUS_NAME'], [(pe(),) + OCT + ('setup.exe',)]),
        'exe-named-pdf': (['ATTACH_EXECUTABLE', 'ATTACH_NAME_MISMATCH'], [(pe(), 'application', 'pdf', 'invoice.pdf')]),
        'exe-elf-noname': (['ATTACH_EXECUTABLE'], [(elf(),) + OCT + (None,)]),
        'exe-macho': (['ATTACH_EXECUTABLE'], [(macho(),) + OCT + ('update',)]),
        'exe-class': (['ATTACH_EXECUTABLE'], [(java_class(),) + OCT + ('Main.class',)]),
        'exe-jar': (['ATTACH_EXECUTABLE', 'ATTACH_DANGEROUS_NAME'], [(jar(), 'application', 'java-archive', 'tool.jar')]),
        'exe-msi': (['ATTACH_EXECUTABLE', 'ATTACH_DANGEROUS_NAME'], [(msi(),) + OCT + ('installer.msi',)]),
        'exe-lnk': (['ATTACH_EXECUTABLE', 'ATTACH_DANGEROUS_NAME'], [(lnk(),) + OCT + ('Documents.lnk',)]),
        'exe-iso': (['ATTACH_EXECUTABLE', 'ATTACH_DANGEROUS_NAME'], [(iso(),) + OCT + ('scan.img',)]),
        'exe-image-type': (['ATTACH_EXECUTABLE', 'ATTACH_NAME_MISMATCH'], [(pe(), 'image', 'jpeg', 'photo.jpg')]),
        # Names.
        'name-js': (['ATTACH_DANGEROUS_NAME'], [(b'WScript.Echo("hi");\r\n', 'application', 'javascript', 'invoice.js')]),
        'name-double': (['ATTACH_EXECUTABLE', 'ATTACH_DANGEROUS_NAME', 'ATTACH_DOUBLE_EXT'], [(pe(),) + OCT + ('invoice.pdf.exe',)]),
        'name-padding': (['ATTACH_DANGEROUS_NAME', 'ATTACH_DOUBLE_EXT'], [(b'x=1\r\n',) + OCT + ('report.pdf          .js',)]),
        'name-rtlo': (['ATTACH_DANGEROUS_NAME', 'ATTACH_DOUBLE_EXT'], [(b'x=1\r\n',) + OCT + ('invoice\u202efdp.scr',)]),
        'name-trailing-dot': (['ATTACH_DANGEROUS_NAME'], [(b'x=1\r\n',) + OCT + ('run.vbs. ',)]),
        'mismatch-html-pdf': (['ATTACH_NAME_MISMATCH'], [(b'<!DOCTYPE html><html><body><form action="https://example.net/login">'
                                                          b'<input name="password"></form></body></html>\r\n', 'application', 'pdf', 'statement.pdf')]),
        'mismatch-zip-png': (['ATTACH_NAME_MISMATCH'], [(zbytes([('a.pdf', pdf('a'))]), 'image', 'png', 'photo.png')]),
        'ham-html': ([], [(b'<html><body><p>Newsletter</p></body></html>\r\n', 'text', 'html', 'newsletter.html')]),
        # Macros.
        'macro-docm-name': (['ATTACH_MACRO'], [(docx(True), 'application', 'vnd.ms-word.document.macroEnabled.12', 'report.docm')]),
        'macro-docx-vba': (['ATTACH_MACRO'], [(docx(True), 'application', 'vnd.openxmlformats-officedocument.wordprocessingml.document', 'report.docx')]),
        'macro-doc-ole': (['ATTACH_MACRO'], [(ole_vba(), 'application', 'msword', 'letter.doc')]),
        'macro-odt-basic': (['ATTACH_MACRO'], [(odt_basic(), 'application', 'vnd.oasis.opendocument.text', 'letter.odt')]),
        # Archives.
        'zip-exe': (['ATTACH_ARCHIVE_EXECUTABLE'], [(zbytes([('readme.txt', 'hello'), ('setup.exe', pe())]), 'application', 'zip', 'docs.zip')]),
        'zip-disguised-exe': (['ATTACH_ARCHIVE_EXECUTABLE'], [(zbytes([('scan0001.txt', pe())]), 'application', 'zip', 'scan.zip')]),
        'zip-nested': (['ATTACH_ARCHIVE_EXECUTABLE'], [(zbytes([('inner.zip', zbytes([('deep/payload.dat', elf())]))]),
                                                       'application', 'zip', 'outer.zip')]),
        'zip-js': (['ATTACH_ARCHIVE_EXECUTABLE'], [(zbytes([('Invoice_0042.js', 'var a = 1;')]), 'application', 'zip', 'invoice.zip')]),
        'zip-docm': (['ATTACH_ARCHIVE_EXECUTABLE'], [(zbytes([('report.docx', docx(True))]), 'application', 'zip', 'report.zip')]),
        'zip-encrypted': (['ATTACH_ENCRYPTED_ARCHIVE'], [(enc, 'application', 'zip', 'statement.zip')]),
        'zip-corrupt': (['ATTACH_UNREADABLE_ARCHIVE'], [(zbytes([('a.pdf', pdf('a'))])[:-30], 'application', 'zip', 'broken.zip')]),
        'zip-bomb': (['ATTACH_UNREADABLE_ARCHIVE'], [(bomb(), 'application', 'zip', 'big.zip')]),
        'zip-not-a-zip': (['ATTACH_UNREADABLE_ARCHIVE'], [(b'\x01\x02\x03garbage' * 10, 'application', 'zip', 'files.zip')]),
    }
    for name, (expect, parts) in sorted(cases.items()):
        with open(os.path.join(HERE, name + '.eml'), 'wb') as f:
            f.write(msg(name, expect, parts))
    # A forwarded message (message/rfc822) carrying an executable.
    inner = EmailMessage(policy=policy.SMTP)
    inner['From'] = 'x@example.net'
    inner['Subject'] = 'inner'
    inner.set_content('inner text\n')
    inner.add_attachment(pe(), maintype='application', subtype='octet-stream', filename='tool.exe')
    inner.set_boundary('==inner==')
    outer = EmailMessage(policy=policy.SMTP)
    outer['From'] = 'Sender <sender@example.org>'
    outer['To'] = 'alice@example.test'
    outer['Subject'] = 'Fwd: inner'
    outer['Date'] = 'Fri, 02 Jan 2026 03:04:05 +0000'
    outer['Message-ID'] = '<fwd-exe@example.org>'
    outer['X-Test-Expect'] = 'ATTACH_EXECUTABLE ATTACH_DANGEROUS_NAME'
    outer.set_content('See the forwarded message.\n')
    outer.add_attachment(inner)
    outer.set_boundary('==outer==')
    with open(os.path.join(HERE, 'fwd-exe.eml'), 'wb') as f:
        f.write(outer.as_bytes())
    # filename and Content-Type name that differ.
    two = msg('name-two-names', ['ATTACH_DANGEROUS_NAME'],
              [(b'x=1\r\n',) + OCT + ('invoice.txt',)]).replace(
        b'application/octet-stream', b'application/octet-stream; name="invoice.hta"', 1)
    with open(os.path.join(HERE, 'name-two-names.eml'), 'wb') as f:
        f.write(two)
    # Seeds for tests/fuzz/fuzz_zip.
    corpus = os.path.join(HERE, '..', '..', 'fuzz', 'corpus', 'fuzz_zip')
    os.makedirs(corpus, exist_ok=True)
    seeds = {
        'pdfs.zip': zbytes([('a.pdf', pdf('a')), ('b/c.pdf', pdf('c'))]),
        'stored.zip': zbytes([('x.txt', 'stored text')], zipfile.ZIP_STORED),
        'nested.zip': zbytes([('inner.zip', zbytes([('deep.exe', pe())]))]),
        'docm.zip': docx(True),
        'empty.zip': zbytes([]),
        'encrypted.zip': enc,
        'truncated.zip': zbytes([('a.pdf', pdf('a'))])[:-30],
    }
    # Archives test_zip.c reads as written by other programs.
    zdir = os.path.join(HERE, 'zip')
    os.makedirs(zdir, exist_ok=True)
    with open(os.path.join(zdir, 'py-deflate.zip'), 'wb') as f:
        f.write(zbytes([('a.pdf', pdf('a')), ('dir/', ''), ('dir/b.txt', 'b' * 5000)]))
    with open(os.path.join(zdir, 'py-stored.zip'), 'wb') as f:
        f.write(zbytes([('x.txt', 'stored text')], zipfile.ZIP_STORED))
    f = io.BytesIO()
    with zipfile.ZipFile(f, 'w', zipfile.ZIP_DEFLATED) as z:
        with z.open(zipfile.ZipInfo('big.txt', DATE), 'w', force_zip64=True) as w:
            w.write(b'zip64 ' * 1000)
    with open(os.path.join(zdir, 'py-zip64-local.zip'), 'wb') as out:
        out.write(f.getvalue())
    izip = os.path.join(zdir, 'infozip-zip64.zip')
    if not os.path.exists(izip):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, 'notes.txt'), 'wb') as t:
                t.write(b'Info-ZIP with -fz writes ZIP64 records.\n' * 50)
            os.utime(os.path.join(d, 'notes.txt'), (1767322000, 1767322000))
            subprocess.run(['zip', '-q', '-X', '-fz', 'z.zip', 'notes.txt'], cwd=d, check=True)
            with open(os.path.join(d, 'z.zip'), 'rb') as r, open(izip, 'wb') as w:
                w.write(r.read())
    for name, data in seeds.items():
        with open(os.path.join(corpus, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
