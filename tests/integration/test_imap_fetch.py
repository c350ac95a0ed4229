"""FETCH (every item of the issue, compared byte for byte with what SMTP
received and `correio message get` prints), STORE, SEARCH, COPY, MOVE,
EXPUNGE, UID EXPUNGE and APPEND (synchronizing, LITERAL+, literal8,
8-bit and binary content), over a raw socket and imaplib."""
import base64
import datetime
import imaplib
import re

import pytest

from conftest import (DOMAIN, IO_TIMEOUT, PASSWORD, fetch_items, imap_login,
                      make_message, smtp_deliver, split_stored)

ALICE = f"alice@{DOMAIN}"
pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback"})

ATTACHMENT = bytes(range(256)) * 4          # NUL bytes and every octet
TEXT_PART = "Hello Alice,\r\nthe report is attached. Caf\u00e9.".encode()


def multipart_message():
    b64 = base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n")
    return (b"From: Sender Name <sender@remote.example.org>\r\n"
            b"To: Alice <alice@example.test>, bob@example.test\r\n"
            b"Cc: carol@example.test\r\n"
            b"Reply-To: replies@remote.example.org\r\n"
            b"Subject: =?UTF-8?B?Q2Fmw6kgcmVwb3J0?=\r\n"
            b"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <mp1@remote.example.org>\r\n"
            b"In-Reply-To: <parent@remote.example.org>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
            b"\r\n"
            b"preamble\r\n"
            b"--XYZ\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n" + TEXT_PART + b"\r\n"
            b"--XYZ\r\n"
            b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
            b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"\r\n" + b64 +
            b"--XYZ--\r\n"
            b"epilogue\r\n")


def nested_message():
    inner = (b"From: Inner <inner@x.example>\r\nSubject: inner subj\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: multipart/alternative; boundary=IN\r\n\r\n"
             b"--IN\r\nContent-Type: text/plain\r\n\r\nplain inner\r\n"
             b"--IN\r\nContent-Type: text/html\r\n\r\n<p>html inner</p>\r\n--IN--\r\n")
    return (b"From: Outer <outer@x.example>\r\nTo: alice@example.test\r\n"
            b"Subject: fwd\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n"
            b"--OUT\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            b"--OUT\r\nContent-Type: message/rfc822\r\n\r\n" + inner +
            b"\r\n--OUT--\r\n"), inner


def fetch1(c, items, seq="1", uid=False):
    """FETCH one message; returns {ITEM: value} of its FETCH response(s),
    merged (a FLAGS change may come in the same or another response)."""
    r = c.ok(f"{'UID ' if uid else ''}FETCH {seq} {items}")
    out = {}
    for u in r.untagged:
        if re.match(rb"\d+ FETCH ", u):
            out.update(fetch_items(u)[1])
    return out, r


def header_of(stored):
    return stored[:stored.index(b"\r\n\r\n") + 4]


@pytest.fixture
def mp(server):
    """Alice's INBOX holds the multipart message (UID 1); returns
    (server, sent bytes, stored bytes)."""
    msg = multipart_message()
    smtp_deliver(server, ALICE, msg)
    stored = server.get(ALICE, 1)
    assert split_stored(stored)[2] == msg
    return server, msg, stored


# --- FETCH -------------------------------------------------------------------

def test_fetch_body_is_byte_exact(mp):
    server, msg, stored = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, _ = fetch1(c, "(BODY.PEEK[] RFC822.SIZE)")
        assert d[b"BODY[]"] == stored
        assert int(d[b"RFC822.SIZE"]) == len(stored)
        # The message as sent is the end of it, after the trace headers.
        assert d[b"BODY[]"].endswith(msg)


def test_fetch_flags_internaldate_uid_modseq(mp):
    server, _, _ = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, r = fetch1(c, "(FLAGS INTERNALDATE UID MODSEQ)")
        assert d[b"FLAGS"] == [] and d[b"UID"] == b"1", r
        m = re.fullmatch(rb"(\d{2}|[ \d]\d)-([A-Z][a-z]{2})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-]\d{4})",
                         d[b"INTERNALDATE"])
        assert m, d[b"INTERNALDATE"]
        when = datetime.datetime.strptime(d[b"INTERNALDATE"].decode().strip(),
                                          "%d-%b-%Y %H:%M:%S %z")
        now = datetime.datetime.now(datetime.timezone.utc)
        assert abs((now - when).total_seconds()) < 3600, (when, now)
        assert len(d[b"MODSEQ"]) == 1 and int(d[b"MODSEQ"][0]) > 0
        before = int(d[b"MODSEQ"][0])
        c.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
        d, r = fetch1(c, "(FLAGS MODSEQ)")
        assert d[b"FLAGS"] == [b"\\Flagged"], r
        assert int(d[b"MODSEQ"][0]) > before


def test_fetch_envelope(mp):
    server, _, _ = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, r = fetch1(c, "ENVELOPE")
        env = d[b"ENVELOPE"]
        assert len(env) == 10, env
        date, subject, frm, sender, reply_to, to, cc, bcc, irt, mid = env
        assert date == b"Mon, 02 Nov 2026 10:00:00 +0000"
        assert subject == b"=?UTF-8?B?Q2Fmw6kgcmVwb3J0?="       # as in the header
        assert frm == [[b"Sender Name", None, b"sender", b"remote.example.org"]]
        assert sender == frm                                 # defaults to From
        assert reply_to == [[None, None, b"replies", b"remote.example.org"]]
        assert to == [[b"Alice", None, b"alice", b"example.test"],
                      [None, None, b"bob", b"example.test"]]
        assert cc == [[None, None, b"carol", b"example.test"]]
        assert bcc is None
        assert irt == b"<parent@remote.example.org>"
        assert mid == b"<mp1@remote.example.org>"


def test_fetch_bodystructure_multipart_with_attachment(mp):
    server, _, _ = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, r = fetch1(c, "(BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[2])")
        bs = d[b"BODYSTRUCTURE"]
        text, att = bs[0], bs[1]
        assert bs[2].upper() == b"MIXED"
        assert [x.upper() for x in bs[3]] == [b"BOUNDARY", b"XYZ"]
        assert [x.upper() for x in text[:2]] == [b"TEXT", b"PLAIN"]
        assert [x.lower() for x in text[2]] == [b"charset", b"utf-8"]
        assert text[5].upper() == b"8BIT"
        assert int(text[6]) == len(d[b"BODY[1]"]) == len(TEXT_PART)
        assert int(text[7]) in (1, 2)                       # text lines
        assert [x.upper() for x in att[:2]] == [b"APPLICATION", b"OCTET-STREAM"]
        assert att[2][0].upper() == b"NAME" and att[2][1] == b"data.bin"
        assert att[5].upper() == b"BASE64"
        assert int(att[6]) == len(d[b"BODY[2]"])
        disp = att[8]
        assert disp[0].upper() == b"ATTACHMENT"
        assert disp[1][0].upper() == b"FILENAME" and disp[1][1] == b"data.bin"
        # BODY (no extension data) is the same tree without it.
        d2, _ = fetch1(c, "BODY")
        assert d2[b"BODY"][0][:7] == text[:7] and d2[b"BODY"][2].upper() == b"MIXED"


def test_fetch_body_sets_seen_peek_does_not(mp):
    server, _, stored = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, _ = fetch1(c, "(BODY.PEEK[] BODY.PEEK[TEXT] BINARY.PEEK[1] RFC822.HEADER)")
        d, _ = fetch1(c, "FLAGS")
        assert d[b"FLAGS"] == []
        d, r = fetch1(c, "BODY[]")
        assert d[b"BODY[]"] == stored
        # The \Seen change is announced with the data (RFC 9051 6.4.5).
        assert d[b"FLAGS"] == [b"\\Seen"], r
        # And it is stored: another session sees it.
    with imap_login(server) as c2:
        c2.ok("SELECT INBOX")
        d, _ = fetch1(c2, "FLAGS")
        assert d[b"FLAGS"] == [b"\\Seen"]


@pytest.mark.parametrize("item", ["BODY[TEXT]", "BODY[1]", "RFC822", "RFC822.TEXT",
                                  "BINARY[2]", "BODY[HEADER]"])
def test_fetch_items_that_set_seen(mp, item):
    server, _, _ = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, r = fetch1(c, f"({item} FLAGS)")
        assert d[b"FLAGS"] == [b"\\Seen"], r


def test_fetch_rfc822_items(mp):
    server, _, stored = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, _ = fetch1(c, "RFC822.HEADER")
        assert d[b"RFC822.HEADER"] == header_of(stored)
        d, _ = fetch1(c, "FLAGS")
        assert d[b"FLAGS"] == [], "RFC822.HEADER must not set \\Seen"
        d, _ = fetch1(c, "(RFC822.TEXT RFC822)")
        assert d[b"RFC822.TEXT"] == stored[len(header_of(stored)):]
        assert d[b"RFC822"] == stored
        assert d[b"FLAGS"] == [b"\\Seen"]


def test_fetch_header_sections(mp):
    server, _, stored = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, r = fetch1(c, "(BODY.PEEK[HEADER] BODY.PEEK[HEADER.FIELDS (Subject From)] "
                         "BODY.PEEK[HEADER.FIELDS.NOT (Received Return-Path Content-Type "
                         "Message-ID Date MIME-Version In-Reply-To Reply-To "
                         "Authentication-Results X-Spam-Score X-Spam-Status)] "
                         "BODY.PEEK[TEXT])")
        assert d[b"BODY[HEADER]"] == header_of(stored)
        # The fields in message order, then the blank line.
        assert d[b"BODY[HEADER.FIELDS (SUBJECT FROM)]"] == (
            b"From: Sender Name <sender@remote.example.org>\r\n"
            b"Subject: =?UTF-8?B?Q2Fmw6kgcmVwb3J0?=\r\n\r\n"), r
        assert d[b"BODY[HEADER.FIELDS.NOT (RECEIVED RETURN-PATH CONTENT-TYPE MESSAGE-ID "
                 b"DATE MIME-VERSION IN-REPLY-TO REPLY-TO AUTHENTICATION-RESULTS "
                 b"X-SPAM-SCORE X-SPAM-STATUS)]"] == (
            b"From: Sender Name <sender@remote.example.org>\r\n"
            b"To: Alice <alice@example.test>, bob@example.test\r\n"
            b"Cc: carol@example.test\r\n"
            b"Subject: =?UTF-8?B?Q2Fmw6kgcmVwb3J0?=\r\n\r\n")
        assert d[b"BODY[TEXT]"] == stored[len(header_of(stored)):]
        # Field names match case-insensitively; a missing field gives "\r\n".
        d, _ = fetch1(c, "BODY.PEEK[HEADER.FIELDS (cc X-Missing)]")
        assert d[b"BODY[HEADER.FIELDS (CC X-MISSING)]"] == b"Cc: carol@example.test\r\n\r\n"


def test_fetch_mime_parts_and_binary(mp):
    server, _, stored = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, r = fetch1(c, "(BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2.MIME] BODY.PEEK[2] "
                         "BINARY.PEEK[2] BINARY.SIZE[2] BINARY.SIZE[1])")
        assert d[b"BODY[1]"] == TEXT_PART
        assert d[b"BODY[1.MIME]"] == (b"Content-Type: text/plain; charset=utf-8\r\n"
                                      b"Content-Transfer-Encoding: 8bit\r\n\r\n")
        assert d[b"BODY[2.MIME]"] == (
            b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
            b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
        assert base64.b64decode(d[b"BODY[2]"]) == ATTACHMENT
        assert d[b"BODY[2]"] in stored
        # BINARY decodes the base64, NUL bytes and all, as a literal8.
        assert d[b"BINARY[2]"] == ATTACHMENT
        assert b"BINARY[2] ~{1024}\r\n" in r.raw
        assert int(d[b"BINARY.SIZE[2]"]) == len(ATTACHMENT)
        assert int(d[b"BINARY.SIZE[1]"]) == len(TEXT_PART)


def test_fetch_partial(mp):
    server, _, stored = mp
    assert len(stored) > 2100
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, r = fetch1(c, "(BODY.PEEK[]<0.10>)")
        assert d[b"BODY[]<0>"] == stored[:10], r
        d, r = fetch1(c, "(BODY.PEEK[]<2000.1000>)")
        assert d[b"BODY[]<2000>"] == stored[2000:3000], r
        d, r = fetch1(c, f"(BODY.PEEK[]<{len(stored) + 5}.10>)")
        assert d[b"BODY[]<%d>" % (len(stored) + 5)] == b"", r
        d, r = fetch1(c, "(BINARY.PEEK[2]<1.4> BODY.PEEK[1]<6.5>)")
        assert d[b"BINARY[2]<1>"] == ATTACHMENT[1:5], r
        assert d[b"BODY[1]<6>"] == TEXT_PART[6:11]
        d, r = fetch1(c, "FLAGS")
        assert d[b"FLAGS"] == []
        # Partial BODY (no PEEK) sets \Seen too.
        d, r = fetch1(c, "BODY[]<0.10>")
        assert d[b"FLAGS"] == [b"\\Seen"], r


def test_fetch_nested_message_rfc822(server):
    msg, inner = nested_message()
    smtp_deliver(server, ALICE, msg)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        d, r = fetch1(c, "(BODYSTRUCTURE BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.1] "
                         "BODY.PEEK[2.2] BODY.PEEK[2.1.MIME])")
        assert d[b"BODY[2]"] == inner
        assert d[b"BODY[2.HEADER]"] == header_of(inner)
        assert d[b"BODY[2.1]"] == b"plain inner"
        assert d[b"BODY[2.2]"] == b"<p>html inner</p>"
        assert d[b"BODY[2.1.MIME]"] == b"Content-Type: text/plain\r\n\r\n"
        part = d[b"BODYSTRUCTURE"][1]
        assert [x.upper() for x in part[:2]] == [b"MESSAGE", b"RFC822"]
        assert int(part[6]) == len(inner)
        env, body = part[7], part[8]
        assert env[1] == b"inner subj"
        assert env[2] == [[b"Inner", None, b"inner", b"x.example"]]
        assert body[2].upper() == b"ALTERNATIVE"


def test_fetch_macros(mp):
    server, _, stored = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        fast, _ = fetch1(c, "FAST")
        assert set(fast) == {b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE"}, fast
        al, _ = fetch1(c, "ALL")
        assert set(al) == {b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE", b"ENVELOPE"}, al
        full, _ = fetch1(c, "FULL")
        assert set(full) == {b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE", b"ENVELOPE", b"BODY"}
        assert int(full[b"RFC822.SIZE"]) == len(stored)


def test_uid_fetch_always_returns_uid(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"uid {i}"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        r = c.ok("UID FETCH 2:* (FLAGS)")
        got = [fetch_items(u) for u in r.untagged]
        assert [(s, d[b"UID"]) for s, d in got] == [(1, b"2"), (2, b"3")], r
        r = c.ok("UID FETCH 1 (FLAGS)")             # expunged: nothing
        assert not r.untagged, r
        r = c.ok("UID FETCH 3:2 (UID)")             # ranges are unordered
        assert len(r.untagged) == 2


def test_fetch_sizes_match_message_list(server):
    for i in range(25):
        smtp_deliver(server, ALICE, make_message(f"bulk {i}", ["x" * (i * 37)]))
    rows = {uid: size for uid, _, _, size, _ in server.messages(ALICE)}
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.ok("FETCH 1:* (UID RFC822.SIZE)")
        got = {int(d[b"UID"]): int(d[b"RFC822.SIZE"]) for _, d in map(fetch_items, r.untagged)}
        assert got == rows
        r = c.ok("FETCH 1:* (BODY.PEEK[])")
        assert len(r.untagged) == 25
        for u in r.untagged:
            seq, d = fetch_items(u)
            assert d[b"BODY[]"] == server.get(ALICE, seq)


def test_fetch_errors(mp):
    server, _, _ = mp
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        for bad in ("FETCH 1 (BOGUS)", "FETCH 1 ()", "FETCH 0 FLAGS", "FETCH x FLAGS",
                    "FETCH 1 BODY[1.MIME.X]", "FETCH 1 BODY[]<5.>", "FETCH 1"):
            c.expect(bad, "BAD")
        c.ok("FETCH 1 FLAGS")


def deep_multipart(n):
    part = b"Content-Type: text/plain\r\n\r\nleaf\r\n"
    for i in range(n):
        part = (b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) +
                part + b"\r\n--b%d--\r\n" % i)
    return b"From: x@y.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n" + part


def deep_rfc822(n):
    m = b"Content-Type: text/plain\r\n\r\nleaf\r\n"
    for i in range(n):
        m = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % i + m
    return b"From: x@y.example\r\n" + m


MALFORMED = [
    deep_multipart(200),
    deep_rfc822(300),
    b"From: x@y.example\r\nSubject: unterminated\r\nContent-Type: multipart/mixed; "
    b"boundary=\"Q\"\r\n\r\n--Q\r\nContent-Type: text/plain\r\n\r\nno end\r\n",
    b"From: x@y.example\r\nSubject: no boundary\r\nContent-Type: multipart/mixed\r\n\r\n"
    b"--Q\r\n\r\nx\r\n--Q--\r\n",
    b"From: x@y.example\r\nSubject: bad base64\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!!@@@@====\r\n",
    b"From: x@y.example\r\nSubject: bad qp\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n=ZZ=\r\n=4\r\n=\r\n",
    b"From: x@y.example\r\nSubject: =?UTF-8?B?broken?= =?x?Q?y?= =?UTF-8?Q?=ZZ?= =?\r\n\r\nx\r\n",
    b"From: \"unterminated <x@y.example\r\nTo: ,,,,@,<>,\"\"@\r\nCc: (((\r\nSubject: addr\r\n\r\nx\r\n",
    b"Content-Type: text/plain; charset=\"x\"; name*0*=utf-8''a%; name*1=b; name*99=c; name*=\r\n"
    b"Content-Disposition: attachment; filename*=''\r\n\r\nx\r\n",
    b"Content-Type: multipart/mixed; boundary=\"" + b"b" * 300 + b"\"\r\n\r\n--" + b"b" * 300 +
    b"\r\n\r\nx\r\n--" + b"b" * 300 + b"--\r\n",
    b"no header at all, just text\r\n",
    b"\r\n\r\n",
    b"Subject: 8-bit \xff\xfe header \xc3\r\nFrom: \xe9@\xe9\r\n\r\n\x00\x01 body\r\n",
]


def test_malformed_mime_messages(server):
    """Messages a MIME parser can trip on: every FETCH item answers (or
    says NO [UNKNOWN-CTE] for BINARY of an undecodable part), BODY[] stays
    byte-exact, and SEARCH goes through them."""
    for m in MALFORMED:
        smtp_deliver(server, ALICE, m)
    n = len(MALFORMED)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.ok("FETCH 1:* (BODYSTRUCTURE ENVELOPE BODY RFC822.SIZE)")
        assert len(r.untagged) == n, r
        for u in r.untagged:
            seq, d = fetch_items(u)
            assert d[b"BODYSTRUCTURE"] and len(d[b"ENVELOPE"]) == 10, u[:300]
        for seq in range(1, n + 1):
            d, _ = fetch1(c, "(BODY.PEEK[] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2.1.1] "
                             "BODY.PEEK[HEADER] BODY.PEEK[TEXT])", seq=str(seq))
            assert d[b"BODY[]"] == server.get(ALICE, seq)
            assert d[b"BODY[]"].endswith(MALFORMED[seq - 1])
            for item in ("BINARY.PEEK[1]", "BINARY.SIZE[1]", "BINARY.PEEK[]"):
                r = c.cmd(f"FETCH {seq} ({item})")
                assert r.status == "OK" or (r.status == "NO" and "UNKNOWN-CTE" in r.text), r
        for q in ("TEXT leaf", "SUBJECT broken", "FROM unterminated", "BODY x", "HEADER To x"):
            c.ok(f"SEARCH {q}")
        r = c.ok("SEARCH TEXT leaf")
        assert set(r.one("SEARCH").split()[1:]) >= {b"2"}, r


# --- STORE -------------------------------------------------------------------

def flags_of(c, seq="1"):
    d, _ = fetch1(c, "FLAGS", seq)
    return sorted(d[b"FLAGS"])


def test_store_flags(server):
    smtp_deliver(server, ALICE, make_message("store"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.ok("STORE 1 +FLAGS (\\Flagged \\Answered)")
        assert sorted(fetch_items(r.one("1 FETCH"))[1][b"FLAGS"]) == [b"\\Answered", b"\\Flagged"]
        r = c.ok("STORE 1 -FLAGS (\\Answered)")
        assert fetch_items(r.one("1 FETCH"))[1][b"FLAGS"] == [b"\\Flagged"]
        r = c.ok("STORE 1 FLAGS (\\Draft \\Seen)")
        assert sorted(fetch_items(r.one("1 FETCH"))[1][b"FLAGS"]) == [b"\\Draft", b"\\Seen"]
        # .SILENT: no FETCH answer, but the change is made.
        r = c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        assert not r.untagged, r
        assert flags_of(c) == [b"\\Deleted", b"\\Draft", b"\\Seen"]
        r = c.ok("STORE 1 FLAGS.SILENT ()")
        assert not r.untagged and flags_of(c) == []
        r = c.ok("STORE 1 -FLAGS.SILENT (\\Seen)")   # removing an absent flag
        assert flags_of(c) == []
        # A single flag without parentheses is accepted too.
        c.ok("STORE 1 +FLAGS \\Seen")
        assert flags_of(c) == [b"\\Seen"]
        r = c.ok("UID STORE 1 +FLAGS (\\Flagged)")
        d = fetch_items(r.one("1 FETCH"))[1]
        assert d[b"UID"] == b"1", r
    with imap_login(server) as c2:
        c2.ok("EXAMINE INBOX")
        assert flags_of(c2) == [b"\\Flagged", b"\\Seen"]


def test_store_keywords(server):
    smtp_deliver(server, ALICE, make_message("keywords"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS ($Label1 Work \\Seen)")
        assert flags_of(c) == [b"$Label1", b"Work", b"\\Seen"]
        c.ok("STORE 1 -FLAGS (work)")       # keywords are case-insensitive
        assert flags_of(c) == [b"$Label1", b"\\Seen"]
    with imap_login(server) as c:
        r = c.ok("SELECT INBOX")
        flags = r.one("FLAGS").decode()
        perm = [u for u in r.untagged if b"PERMANENTFLAGS" in u][0].decode()
        assert "$Label1" in flags and "$Label1" in perm and "\\*" in perm, r
        r = c.ok("SEARCH KEYWORD $label1")
        assert r.one("SEARCH") == b"SEARCH 1"


def test_store_errors(server):
    smtp_deliver(server, ALICE, make_message("store errors"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        for bad in ("STORE 1 +FLAGS (\\Bogus)", "STORE 1 +FLAGS (a(b)", "STORE 1 FROBS (\\Seen)",
                    "STORE 1 +FLAGS", "STORE 1"):
            c.expect(bad, "BAD")
        assert flags_of(c) == []
        # A UID that does not exist is no error (RFC 9051 6.4.9).
        r = c.ok("UID STORE 5 +FLAGS (\\Seen)")
        assert not r.untagged, r
        assert flags_of(c) == []


def test_sequence_number_past_the_end_is_bad(server):
    smtp_deliver(server, ALICE, make_message("one message"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        bad = [cmd for cmd in ("FETCH 5 FLAGS", "STORE 5 +FLAGS (\\Seen)", "COPY 5 Archive",
                               "SEARCH 5")
               if c.cmd(cmd).status != "BAD"]
        c.ok("SELECT Archive")
        if c.cmd("FETCH * FLAGS").status != "BAD":    # "*" in an empty mailbox
            bad.append("FETCH * FLAGS (empty)")
        assert not bad, f"not BAD: {bad}"


# --- SEARCH ------------------------------------------------------------------

SEARCH_MSGS = {
    # seq: message
    1: multipart_message(),
    2: (b"From: plain@remote.example.org\r\nTo: alice@example.test\r\n"
        b"Subject: plain hello\r\nDate: Mon, 02 Nov 2026 12:00:00 +0000\r\n"
        b"Message-ID: <plain@remote.example.org>\r\n\r\njust text\r\nzebra crossing\r\n"),
    3: (b"From: =?UTF-8?Q?J=C3=B6rg?= <joerg@remote.example.org>\r\nTo: alice@example.test\r\n"
        b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_M=FCnchen?=\r\n"
        b"Date: Wed, 15 Jan 2025 08:00:00 +0000\r\nMessage-ID: <enc@remote.example.org>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" +
        base64.encodebytes("Der B\u00e4r schl\u00e4ft unter dem Baum, quokka\r\n"
                           .encode()).replace(b"\n", b"\r\n")),
}
OLD_MSG = (b"From: someone@old.example\r\nTo: alice@example.test\r\nSubject: old news\r\n"
           b"Date: Tue, 31 Dec 2019 23:00:00 +0000\r\n\r\nancient text\r\n")


@pytest.fixture
def searchbox(server):
    """INBOX with 4 messages, UIDs 2..5 (UID 1 was expunged):
    1 multipart "Café report" (large), 2 "plain hello" (\\Seen \\Answered),
    3 RFC 2047 "Grüße aus München" with a base64 body (\\Deleted \\Draft),
    4 appended, dated 2020-01-01 (\\Flagged $Work)."""
    smtp_deliver(server, ALICE, make_message("filler"))
    for seq in (1, 2, 3):
        smtp_deliver(server, ALICE, SEARCH_MSGS[seq])
    c = imap_login(server)
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    r = c.append_literal("INBOX", OLD_MSG, flags="\\Flagged $Work",
                         date="01-Jan-2020 12:00:00 +0000")
    assert r.status == "OK", r
    c.ok("STORE 2 +FLAGS.SILENT (\\Seen \\Answered)")
    c.ok("STORE 3 +FLAGS.SILENT (\\Deleted \\Draft)")
    c.ok("NOOP")
    yield c
    c.close()


def search(c, query, uid=False):
    r = c.cmd(f"{'UID ' if uid else ''}SEARCH {query}")
    assert r.status == "OK", (query, r)
    line = r.one("SEARCH")
    return [int(x) for x in line.split()[1:]]


def search_lit(c, prefix, text, suffix=""):
    """SEARCH with TEXT as a synchronizing literal (how IMAP4rev1 clients
    send 8-bit search strings)."""
    data = text.encode()
    tag = c.next_tag()
    c.send(f"{tag} SEARCH {prefix} {{{len(data)}}}\r\n")
    line = c.readline()
    assert line.startswith(b"+"), line
    c.send(data + suffix.encode() + b"\r\n")
    r = c.read_response(tag)
    assert r.status == "OK", r
    return [int(x) for x in r.one("SEARCH").split()[1:]]


SEARCH_CASES = [
    ("ALL", [1, 2, 3, 4]),
    ("SUBJECT report", [1]),                    # RFC 2047 B, decoded
    ("SUBJECT PLAIN", [2]),
    ("SUBJECT nothing-like-this", []),
    ("BODY QUOKKA", [3]),                       # base64 body, decoded, any case
    ("BODY zebra", [2]),
    ("BODY remote.example.org", []),            # BODY is not the header
    ("TEXT remote.example.org", [1, 2, 3]),     # TEXT is
    ("TEXT zebra", [2]),
    ("BODY attached", [1]),                     # inside a multipart
    ("FROM joerg", [3]),
    ('FROM "Sender Name"', [1]),
    ("TO bob", [1]),
    ("CC carol", [1]),
    ("BCC carol", []),
    ("HEADER Message-ID mp1", [1]),
    ("HEADER Reply-To replies", [1]),
    ("LARGER 1500", [1]),
    ("SMALLER 1500", [2, 3, 4]),
    ("SEEN", [2]),
    ("UNSEEN", [1, 3, 4]),
    ("ANSWERED", [2]),
    ("UNANSWERED", [1, 3, 4]),
    ("FLAGGED", [4]),
    ("UNFLAGGED", [1, 2, 3]),
    ("DELETED", [3]),
    ("UNDELETED", [1, 2, 4]),
    ("DRAFT", [3]),
    ("UNDRAFT", [1, 2, 4]),
    ("KEYWORD $Work", [4]),
    ("UNKEYWORD $Work", [1, 2, 3]),
    ("BEFORE 1-Feb-2020", [4]),
    ("ON 1-Jan-2020", [4]),
    ("SINCE 1-Feb-2020", [1, 2, 3]),
    ("SENTBEFORE 1-Jan-2020", [4]),
    ("SENTON 15-Jan-2025", [3]),
    ("SENTSINCE 1-Nov-2026", [1, 2]),
    ("1:2", [1, 2]),
    ("2,4", [2, 4]),
    ("*", [4]),
    ("UID 3:4", [2, 3]),
    ("UID 4:*", [3, 4]),
    ("UID 1", []),
    ("OR SUBJECT plain SUBJECT report", [1, 2]),
    ("NOT SEEN", [1, 3, 4]),
    ("(SEEN ANSWERED)", [2]),
    ("OR FLAGGED DELETED", [3, 4]),
    ("NOT OR SEEN DELETED", [1, 4]),
    ("UNSEEN NOT DELETED LARGER 100", [1, 4]),
    ("OR (FROM joerg) (TEXT ancient)", [3, 4]),
]


def test_search_keys(searchbox):
    c = searchbox
    wrong = []
    for query, want in SEARCH_CASES:
        got = search(c, query)
        if got != want:
            wrong.append(f"SEARCH {query}: got {got}, want {want}")
    assert not wrong, "\n".join(wrong)


def test_uid_search(searchbox):
    c = searchbox
    assert search(c, "SUBJECT plain", uid=True) == [3]
    assert search(c, "ALL", uid=True) == [2, 3, 4, 5]
    assert search(c, "UID 2:3", uid=True) == [2, 3]
    assert search(c, "2:3", uid=True) == [3, 4]          # sequence numbers


def test_search_charset_utf8_literals(searchbox):
    c = searchbox
    assert search_lit(c, "CHARSET UTF-8 SUBJECT", "caf\u00e9") == [1]
    assert search_lit(c, "CHARSET UTF-8 SUBJECT", "M\u00dcNCHEN") == [3]
    assert search_lit(c, "CHARSET UTF-8 SUBJECT", "gr\u00fc\u00dfe") == [3]
    assert search_lit(c, "CHARSET UTF-8 BODY", "b\u00e4r schl\u00e4ft") == [3]
    assert search_lit(c, "CHARSET UTF-8 TEXT", "CAF\u00c9") == [1]
    assert search_lit(c, "CHARSET UTF-8 FROM", "j\u00f6rg") == [3]
    assert search(c, "CHARSET US-ASCII SUBJECT plain") == [2]
    assert search(c, "CHARSET utf-8 SUBJECT plain") == [2]


def test_search_utf8_quoted_after_enable(searchbox):
    c = searchbox
    # IMAP4rev1 quoted strings are 7-bit (RFC 3501 9).
    c.expect('SEARCH CHARSET UTF-8 SUBJECT "caf\u00e9"', "BAD")
    c.ok("ENABLE UTF8=ACCEPT")
    assert search(c, 'SUBJECT "caf\u00e9"') == [1]
    assert search(c, 'BODY "B\u00c4R"') == [3]


def test_search_bad_charset_and_syntax(searchbox):
    c = searchbox
    r = c.cmd("SEARCH CHARSET KOI8-R SUBJECT x")
    assert r.status == "NO" and r.text.startswith("[BADCHARSET"), r
    for bad in ("SEARCH FROBNICATE", "SEARCH SINCE 31-Feb-2020", "SEARCH LARGER x",
                "SEARCH OR SEEN", "SEARCH (SEEN", "SEARCH SUBJECT", "SEARCH UID x"):
        c.expect(bad, "BAD")
    r = c.cmd(b"SEARCH CHARSET UTF-8 SUBJECT {2}\r\n\xff\xfe")
    assert r.status in ("BAD", "NO"), r
    assert search(c, "ALL") == [1, 2, 3, 4]


def test_search_decodes_charsets_and_html(server):
    """Bodies are matched on decoded text: quoted-printable Latin-1, raw
    Latin-1 with a charset, HTML without its tags and entities."""
    msgs = [
        b"From: a@b.example\r\nSubject: qp latin\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Bj=F6rk sings in Reykjav=EDk, na=EFve caf=E9\r\n",
        b"From: a@b.example\r\nSubject: raw latin\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe r\xe9sum\xe9\r\n",
        b"From: a@b.example\r\nSubject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hidden<b>word</b> fish &amp; chips</p>\r\n",
        b"From: a@b.example\r\nSubject: folded\r\nX-Folded: part one\r\n\tpart two\r\n"
        b"X-Multi: first\r\nX-Multi: second\r\n\r\nx\r\n",
    ]
    for m in msgs:
        smtp_deliver(server, ALICE, m)
    with imap_login(server) as c:
        c.ok("ENABLE UTF8=ACCEPT")
        c.ok("SELECT INBOX")
        cases = [('BODY "bj\u00f6rk"', [1]), ('BODY "REYKJAV\u00cdK"', [1]),
                 ('TEXT "caf\u00e9"', [1]), ('BODY "gr\u00fc\u00dfe"', [2]),
                 ('BODY "R\u00c9SUM\u00c9"', [2]), ("BODY hiddenword", [3]),
                 ('BODY "fish & chips"', [3]), ("BODY amp", []), ("BODY <p>", []),
                 ('HEADER X-Folded "part two"', [4]), ("HEADER X-Multi second", [4]),
                 ('HEADER X-Multi ""', [4]), ('HEADER X-None ""', [])]
        wrong = [f"{q}: {search(c, q)} != {want}" for q, want in cases if search(c, q) != want]
        assert not wrong, wrong
        d, _ = fetch1(c, "BODY.PEEK[HEADER.FIELDS (X-Multi X-Folded)]", seq="4")
        assert d[b"BODY[HEADER.FIELDS (X-MULTI X-FOLDED)]"] == (
            b"X-Folded: part one\r\n\tpart two\r\nX-Multi: first\r\nX-Multi: second\r\n\r\n")


def esearch(c, query, uid=False):
    r = c.cmd(f"{'UID ' if uid else ''}SEARCH {query}")
    assert r.status == "OK", r
    line = r.one("ESEARCH").decode()
    m = re.match(r'ESEARCH \(TAG "([^"]+)"\)( UID)?(.*)$', line)
    assert m and m.group(1) == r.tag, line
    items = m.group(3).split()
    return bool(m.group(2)), dict(zip(items[::2], items[1::2]))


def seqset(s):
    out = []
    for part in s.split(","):
        lo, _, hi = part.partition(":")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def test_esearch_return_options(searchbox):
    c = searchbox
    uid, d = esearch(c, "RETURN (MIN MAX COUNT ALL) UNSEEN")
    assert not uid
    assert d["MIN"] == "1" and d["MAX"] == "4" and d["COUNT"] == "3"
    assert seqset(d["ALL"]) == [1, 3, 4]
    uid, d = esearch(c, "RETURN (MIN MAX COUNT ALL) UNSEEN", uid=True)
    assert uid and d["MIN"] == "2" and d["MAX"] == "5" and d["COUNT"] == "3"
    assert seqset(d["ALL"]) == [2, 4, 5]
    _, d = esearch(c, "RETURN (COUNT) ALL")
    assert d == {"COUNT": "4"}
    _, d = esearch(c, "RETURN () 1:3")             # () means ALL
    assert seqset(d["ALL"]) == [1, 2, 3]
    # Nothing found: only COUNT 0 (RFC 4731 3.1).
    _, d = esearch(c, "RETURN (MIN MAX COUNT ALL) SUBJECT nothing-like-this")
    assert d == {"COUNT": "0"}
    c.expect("SEARCH RETURN (BOGUS) ALL", "BAD")


def test_search_after_enable_imap4rev2_answers_esearch(searchbox):
    c = searchbox
    c.ok("ENABLE IMAP4rev2")
    r = c.ok("SEARCH UNSEEN")
    assert not r.find("SEARCH "), r
    line = r.one("ESEARCH").decode()
    assert line == f'ESEARCH (TAG "{r.tag}") ALL 1,3:4', r


def test_search_with_imaplib(searchbox, server):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    try:
        m.login(ALICE, PASSWORD)
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "FROM", "joerg")
        assert (typ, data) == ("OK", [b"3"])
        typ, data = m.uid("SEARCH", "UNSEEN")
        assert (typ, data) == ("OK", [b"2 4 5"])
        m.literal = "M\u00fcnchen".encode()
        typ, data = m.search("UTF-8", "SUBJECT")
        assert (typ, data) == ("OK", [b"3"])
    finally:
        m.logout()


# --- COPY and MOVE -----------------------------------------------------------

def copyuid(text):
    m = re.search(r"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", text)
    assert m, text
    return int(m.group(1)), seqset(m.group(2)), seqset(m.group(3))


def test_copy_with_copyuid(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"copy {i}"))
    with imap_login(server) as c:
        st = c.ok("STATUS Archive (UIDVALIDITY)").one("STATUS").decode()
        validity = int(re.search(r"UIDVALIDITY (\d+)", st).group(1))
        c.ok("SELECT INBOX")
        c.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Keep)")
        r = c.ok("COPY 2:3 Archive")
        v, src, dst = copyuid(r.text)
        assert v == validity and src == [2, 3] and len(dst) == 2
        r = c.ok("UID COPY 1 Archive")
        v, src, dst2 = copyuid(r.text)
        assert src == [1] and dst2[0] > max(dst)
        r = c.cmd("COPY 1 NoSuchBox")
        assert r.status == "NO" and r.text.startswith("[TRYCREATE]"), r
        # Source unchanged; copies are byte-identical and keep their flags.
        assert len(c.ok("SEARCH ALL").one("SEARCH").split()) == 4
        originals = {u: server.get(ALICE, u) for u in (1, 2, 3)}
        c.ok("SELECT Archive")
        d, _ = fetch1(c, "(BODY.PEEK[] FLAGS)", seq=str(dst[0]), uid=True)
        assert d[b"BODY[]"] == originals[2]
        assert sorted(d[b"FLAGS"]) == [b"$Keep", b"\\Flagged"]
    assert server.count(ALICE) == 3 and server.count(ALICE, "Archive") == 3


def test_move_with_copyuid_and_expunge(server):
    for i in range(4):
        smtp_deliver(server, ALICE, make_message(f"move {i}"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        original = server.get(ALICE, 2)
        r = c.ok("MOVE 2:3 Trash")
        codes = [u for u in r.untagged if u.startswith(b"OK [COPYUID")]
        assert codes, r
        _, src, dst = copyuid(codes[0].decode())
        assert src == [2, 3]
        exp = [int(u.split()[0]) for u in r.untagged if u.endswith(b" EXPUNGE")]
        # Applying the EXPUNGE responses leaves UIDs 1 and 4.
        uids = [1, 2, 3, 4]
        for n in exp:
            del uids[n - 1]
        assert uids == [1, 4], r
        r = c.ok("UID MOVE 4 Archive")
        assert c.ok("UID SEARCH ALL").one("SEARCH") == b"SEARCH 1"
        c.ok("SELECT Trash")
        d, _ = fetch1(c, "BODY.PEEK[]", seq=str(dst[0]), uid=True)
        assert d[b"BODY[]"] == original
    assert server.count(ALICE) == 1
    assert server.count(ALICE, "Trash") == 2 and server.count(ALICE, "Archive") == 1


def test_move_with_qresync_sends_vanished(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"qmove {i}"))
    with imap_login(server) as c:
        c.ok("ENABLE QRESYNC")
        c.ok("SELECT INBOX")
        r = c.ok("UID MOVE 2 Archive")
        assert r.find("VANISHED 2"), r
        assert not [u for u in r.untagged if u.endswith(b"EXPUNGE")], r


# --- EXPUNGE and UID EXPUNGE -------------------------------------------------

def test_expunge(server):
    for i in range(5):
        smtp_deliver(server, ALICE, make_message(f"exp {i}"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        r = c.ok("EXPUNGE")
        exp = [int(u.split()[0]) for u in r.untagged if u.endswith(b" EXPUNGE")]
        uids = [1, 2, 3, 4, 5]
        for n in exp:
            del uids[n - 1]
        assert uids == [1, 3, 5], r
        r = c.ok("FETCH 1:* (UID)")
        assert [fetch_items(u)[1][b"UID"] for u in r.untagged] == [b"1", b"3", b"5"]
        r = c.ok("EXPUNGE")                  # nothing left to expunge
        assert not r.untagged, r
    assert [x[0] for x in server.messages(ALICE)] == [1, 3, 5]


def test_uid_expunge_only_given_uids(server):
    for i in range(4):
        smtp_deliver(server, ALICE, make_message(f"uidexp {i}"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
        r = c.ok("UID EXPUNGE 2:4")
        # UIDs 2 and 3 were \Deleted and in the set; 1 is not in the set,
        # 4 is not \Deleted.
        assert [int(u.split()[0]) for u in r.untagged if u.endswith(b"EXPUNGE")] in ([2, 2], [3, 2])
        r = c.ok("FETCH 1:* (UID FLAGS)")
        got = [(d[b"UID"], d[b"FLAGS"]) for _, d in map(fetch_items, r.untagged)]
        assert got == [(b"1", [b"\\Deleted"]), (b"4", [])]
        c.expect("UID EXPUNGE", "BAD")
    assert [x[0] for x in server.messages(ALICE)] == [1, 4]


def test_expunge_with_qresync_sends_vanished(server):
    for i in range(4):
        smtp_deliver(server, ALICE, make_message(f"vexp {i}"))
    with imap_login(server) as c:
        c.ok("ENABLE QRESYNC")
        c.ok("SELECT INBOX")
        c.ok("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
        r = c.ok("EXPUNGE")
        assert r.one("VANISHED") == b"VANISHED 2:3", r


# --- APPEND ------------------------------------------------------------------

BINARY_MSG = (b"From: a@b.example\r\nSubject: binary\r\n\r\n"
              b"NUL \x00 bytes \x01\x02\xff\xfe and 8-bit caf\xc3\xa9 \x80\x81\r\n"
              b"bare CR \r in the middle\r\n" + bytes(range(256)) + b"\r\n")


def appenduid(text):
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", text)
    assert m, text
    return int(m.group(1)), int(m.group(2))


def test_append_synchronizing_with_flags_and_date(server):
    msg = make_message("appended", ["body of the appended message"])
    with imap_login(server) as c:
        st = c.ok("STATUS Drafts (UIDVALIDITY UIDNEXT)").one("STATUS").decode()
        validity = int(re.search(r"UIDVALIDITY (\d+)", st).group(1))
        uidnext = int(re.search(r"UIDNEXT (\d+)", st).group(1))
        r = c.append_literal("Drafts", msg, flags="\\Seen \\Draft $Later",
                             date="01-Jan-2020 12:34:56 +0200")
        assert r.status == "OK", r
        assert appenduid(r.text) == (validity, uidnext)
        c.ok("SELECT Drafts")
        d, _ = fetch1(c, "(FLAGS INTERNALDATE BODY.PEEK[] RFC822.SIZE)", seq=str(uidnext), uid=True)
        assert sorted(d[b"FLAGS"]) == [b"$Later", b"\\Draft", b"\\Seen"]
        when = datetime.datetime.strptime(d[b"INTERNALDATE"].decode().strip(),
                                          "%d-%b-%Y %H:%M:%S %z")
        assert when == datetime.datetime(2020, 1, 1, 10, 34, 56, tzinfo=datetime.timezone.utc)
        assert d[b"BODY[]"] == msg and int(d[b"RFC822.SIZE"]) == len(msg)
    # Stored as given: no trace headers are added to APPENDed mail.
    assert server.get(ALICE, uidnext, "Drafts") == msg


def test_append_literal_plus_and_binary_content(server):
    with imap_login(server) as c:
        # LITERAL+: everything in one go, no continuation request.
        tag = c.next_tag()
        c.send(f"{tag} APPEND INBOX (\\Flagged) {{{len(BINARY_MSG)}+}}\r\n".encode() +
               BINARY_MSG + b"\r\n")
        r = c.read_response(tag)
        assert r.status == "OK", r
        assert not r.find("+"), "continuation for a non-synchronizing literal"
        _, uid = appenduid(r.text)
        c.ok("SELECT INBOX")
        d, _ = fetch1(c, "(BODY.PEEK[] RFC822.SIZE FLAGS)", seq=str(uid), uid=True)
        assert d[b"BODY[]"] == BINARY_MSG
        assert int(d[b"RFC822.SIZE"]) == len(BINARY_MSG)
        assert d[b"FLAGS"] == [b"\\Flagged"]
    assert server.get(ALICE, uid) == BINARY_MSG


def test_append_synchronizing_binary_and_literal8(server):
    with imap_login(server) as c:
        r = c.append_literal("INBOX", BINARY_MSG)
        assert r.status == "OK", r
        _, uid1 = appenduid(r.text)
        # RFC 3516 literal8.
        tag = c.next_tag()
        c.send(f"{tag} APPEND INBOX ~{{{len(BINARY_MSG)}}}\r\n")
        assert c.readline().startswith(b"+")
        c.send(BINARY_MSG + b"\r\n")
        r = c.read_response(tag)
        assert r.status == "OK", r
        _, uid2 = appenduid(r.text)
        c.ok("SELECT INBOX")
        for uid in (uid1, uid2):
            d, _ = fetch1(c, "(BODY.PEEK[] BINARY.PEEK[1])", seq=str(uid), uid=True)
            assert d[b"BODY[]"] == BINARY_MSG
            assert d[b"BINARY[1]"] == BINARY_MSG[BINARY_MSG.index(b"\r\n\r\n") + 4:]
    assert server.get(ALICE, uid1) == BINARY_MSG == server.get(ALICE, uid2)


def test_append_to_selected_mailbox_sends_exists(server):
    smtp_deliver(server, ALICE, make_message("first"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.append_literal("INBOX", make_message("second"))
        assert r.status == "OK" and r.find("2 EXISTS"), r
        d, _ = fetch1(c, "BODY.PEEK[HEADER.FIELDS (Subject)]", seq="2")
        assert d[b"BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: second\r\n\r\n"


def test_append_errors(server):
    with imap_login(server) as c:
        r = c.append_literal("NoSuchBox", make_message("x"))
        assert r.status == "NO" and r.text.startswith("[TRYCREATE]"), r
        r = c.cmd("APPEND INBOX {0+}\r\n")
        assert r.status in ("NO", "BAD"), r
        r = c.append_literal("INBOX", make_message("x"), flags="\\Bogus")
        assert r.status == "BAD", r
        r = c.append_literal("INBOX", make_message("x"), date="32-Jan-2020 00:00:00 +0000")
        assert r.status == "BAD", r
        c.expect("APPEND INBOX", "BAD")
        c.ok("NOOP")
    assert server.count(ALICE) == 0


def test_append_with_imaplib(server):
    msg = make_message("via imaplib", ["line 1", "line 2"])
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    try:
        m.login(ALICE, PASSWORD)
        when = datetime.datetime(2021, 6, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
        typ, data = m.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(when), msg)
        assert typ == "OK" and b"APPENDUID" in data[0], data
        m.select("Sent")
        typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == msg, data
        assert b"\\Seen" in data[0][0]
    finally:
        m.logout()
    assert server.get(ALICE, 1, "Sent") == msg
