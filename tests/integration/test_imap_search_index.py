"""SEARCH TEXT and BODY with the full-text index (store-text.c).

The index only narrows a search down: its answers must be the same as a
search that reads every message. These tests deliver messages whose text
hides in encodings (RFC 2047 words, base64, quoted-printable, charsets),
search before the writer thread has indexed them and after, and check the
index is really used: with its entries wiped behind the server's back, a
word the index no longer knows is no longer found.
"""
import base64
import sqlite3

import pytest

from conftest import DOMAIN, imap_login, smtp_deliver, wait_for

ALICE = f"alice@{DOMAIN}"
pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback"})


def msg(subject, body, headers=b"", cte=None, charset="utf-8"):
    h = (b"From: Sender <sender@remote.example.org>\r\n"
         b"To: alice@example.test\r\n"
         b"Subject: " + subject + b"\r\n"
         b"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n" + headers +
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n")
    if cte == "base64":
        h += b"Content-Transfer-Encoding: base64\r\n"
        body = base64.encodebytes(body).replace(b"\n", b"\r\n")
    elif cte == "qp":
        h += b"Content-Transfer-Encoding: quoted-printable\r\n"
    return h + b"\r\n" + body + b"\r\n"


# seq: message. Needles below say which of them must match.
MESSAGES = [
    msg(b"plain one", b"the quetzalcoatl flies at dawn"),
    msg(b"=?UTF-8?B?UXVldHphbGNvYXRs?= in the subject", b"nothing here"),
    msg(b"encoded body", "M\u00dcNCHEN und Quetzalcoatl".encode(), cte="base64"),
    msg(b"qp body", b"Sch=C3=B6ne Gr=C3=BC=C3=9Fe, quetzal=\r\ncoatl", cte="qp"),
    msg(b"latin1", "K\u00f6ln \u00e9t\u00e9".encode("latin-1"), charset="iso-8859-1"),
    msg(b"cyrillic", "\u041f\u0420\u0418\u0412\u0415\u0422 \u043c\u0438\u0440".encode()),
    msg(b"header only", b"plain body", headers=b"X-Tag: zebrafish-42\r\n"),
    msg(b"split word", b"quetz alcoatl is not the word"),
]

NEEDLES = {
    # (key, needle): sequence numbers that match
    ("TEXT", "quetzalcoatl"): [1, 2, 3, 4],
    ("BODY", "quetzalcoatl"): [1, 3, 4],
    ("BODY", "QUETZALCOATL"): [1, 3, 4],
    ("TEXT", "m\u00fcnchen"): [3],
    ("BODY", "gr\u00fc\u00dfe"): [4],
    ("TEXT", "k\u00d6ln \u00c9T\u00c9"): [5],
    ("BODY", "\u043f\u0440\u0438\u0432\u0435\u0442"): [6],
    ("TEXT", "zebrafish-42"): [7],
    ("BODY", "zebrafish"): [],
    ("TEXT", "x-tag: zebra"): [7],
    ("TEXT", "to: alice"): list(range(1, 9)),
    ("BODY", "qu"): [1, 3, 4, 8],           # too short for a trigram
    ("TEXT", "alcoatl is"): [8],
    ("BODY", "not-in-any-message"): [],
}


def db(server):
    return sqlite3.connect(f"file:{server.inst.dir}/data/correio.db?mode=ro",
                           uri=True, timeout=10)


def unindexed(server):
    with db(server) as d:
        return d.execute("SELECT count(*) FROM blobs WHERE indexed = 0").fetchone()[0]


def search(c, key, needle):
    lit = needle.encode()
    c.send(f"s1 SEARCH CHARSET UTF-8 {key} {{{len(lit)}+}}\r\n".encode() + lit + b"\r\n")
    r = c.read_response("s1")
    assert r.status == "OK", r
    line = r.one("SEARCH").decode()
    return [int(x) for x in line.split()[1:]]


def all_results(server):
    with imap_login(server) as c:
        c.ok("EXAMINE INBOX")
        return {k: search(c, *k) for k in NEEDLES}


def deliver_all(server):
    for m in MESSAGES:
        smtp_deliver(server, ALICE, m)


def test_index_and_scan_agree(server):
    deliver_all(server)
    wait_for(lambda: unindexed(server) == 0, what="the index to catch up")
    assert all_results(server) == NEEDLES


def test_index_is_used(server):
    deliver_all(server)
    wait_for(lambda: unindexed(server) == 0, what="the index to catch up")
    assert search_one(server, "BODY", "quetzalcoatl") == [1, 3, 4]
    server.stop()
    # Wipe the index but leave the blobs marked indexed: the server must
    # now find nothing for a needle of three characters or more, and
    # still find short needles (which the index cannot narrow).
    with sqlite3.connect(f"{server.inst.dir}/data/correio.db") as d:
        d.execute("INSERT INTO blob_text(blob_text) VALUES ('delete-all')")
    server.start()
    assert search_one(server, "BODY", "quetzalcoatl") == []
    assert search_one(server, "BODY", "qu") == [1, 3, 4, 8]
    server.stop()
    # Marked not indexed, the blobs are indexed again when the server
    # has nothing else to do, and the answers come back.
    with sqlite3.connect(f"{server.inst.dir}/data/correio.db") as d:
        d.execute("UPDATE blobs SET indexed = 0")
    server.start()
    assert search_one(server, "BODY", "quetzalcoatl") == [1, 3, 4]  # unindexed: scanned
    wait_for(lambda: unindexed(server) == 0, what="the index to catch up")
    assert all_results(server) == NEEDLES


def search_one(server, key, needle):
    with imap_login(server) as c:
        c.ok("EXAMINE INBOX")
        return search(c, key, needle)


def test_candidates_are_checked(server):
    """Every trigram of the needle is in message 8, but not the needle:
    the index names it, the check drops it."""
    deliver_all(server)
    wait_for(lambda: unindexed(server) == 0, what="the index to catch up")
    assert search_one(server, "BODY", "quetzalcoatl") == [1, 3, 4]
    with db(server) as d:
        rows = d.execute("SELECT rowid FROM blob_text WHERE blob_text MATCH "
                         "'body : (\"que\" AND \"uet\" AND \"etz\" AND \"alc\" "
                         "AND \"coa\" AND \"atl\")'").fetchall()
    assert len(rows) == 4, rows       # messages 1, 3, 4 and 8


def test_search_combined_keys_and_copies(server):
    deliver_all(server)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("CREATE Saved")
        c.ok("COPY 1:4 Saved")
        wait_for(lambda: unindexed(server) == 0, what="the index to catch up")
        c.ok("SELECT Saved")
        assert search(c, "BODY", "quetzalcoatl") == [1, 3, 4]
        r = c.ok("SEARCH OR BODY quetzalcoatl SUBJECT latin1")
        assert r.one("SEARCH").decode().split()[1:] == ["1", "3", "4"]
        r = c.ok("SEARCH NOT BODY quetzalcoatl")
        assert r.one("SEARCH").decode().split()[1:] == ["2"]
        r = c.ok("UID SEARCH TEXT quetzalcoatl BODY dawn")
        assert len(r.one("SEARCH").decode().split()[1:]) == 1
        # Expunged messages drop out though their blob stays indexed.
        c.ok("STORE 1 +FLAGS (\\Deleted)")
        c.ok("EXPUNGE")
        assert search(c, "BODY", "quetzalcoatl") == [2, 3]


def test_long_search_in_slices(server):
    """A search that reads a few hundred messages runs in slices of the
    event loop (other sessions go first between them); the answer must be
    the same as in one piece, and a session that sends commands meanwhile
    is answered."""
    n = 400
    with server.connect() as s:
        for i in range(n):
            body = b"zq marks this one\r\n" if i % 7 == 0 else b"nothing\r\n"
            r = s.send_mail("sender@remote.example.org", [ALICE],
                            msg(f"slice {i}".encode(), body))
            assert r.code == 250, r.raw
    with imap_login(server) as a, imap_login(server) as b:
        a.ok("EXAMINE INBOX")
        b.ok("EXAMINE INBOX")
        # Two-character needles are not narrowed by the index: every
        # message is read.
        a.send(b"s1 SEARCH BODY zq\r\ns2 UID SEARCH RETURN (COUNT) BODY zq\r\n")
        assert b.ok("NOOP").status == "OK"
        r1 = a.read_response("s1")
        r2 = a.read_response("s2")
        assert r1.status == "OK" and r2.status == "OK", (r1, r2)
        want = [i + 1 for i in range(n) if i % 7 == 0]
        assert [int(x) for x in r1.one("SEARCH").decode().split()[1:]] == want
        assert r2.one("ESEARCH").decode().endswith(f"UID COUNT {len(want)}"), r2
        a.ok("LOGOUT")


def test_index_of_another_version_is_made_again(server):
    """An index made by another version of the text extraction (the
    counter 'text_index') is emptied at start and made again."""
    deliver_all(server)
    wait_for(lambda: unindexed(server) == 0, what="the index to catch up")
    server.stop()
    with sqlite3.connect(f"{server.inst.dir}/data/correio.db") as d:
        d.execute("UPDATE counters SET value = value + 100 WHERE name = 'text_index'")
        assert d.total_changes == 1
        # What an old version put there: a word no message has.
        d.execute("INSERT INTO blob_text(rowid, header, body) "
                  "SELECT id, '', 'stale-word-here' FROM blobs")
    server.start()
    wait_for(lambda: "text index version=" in server.log(), what="the index reset")
    wait_for(lambda: unindexed(server) == 0, what="the index to catch up")
    with db(server) as d:
        assert d.execute("SELECT count(*) FROM blob_text WHERE blob_text MATCH "
                         "'\"ale\" AND \"-wo\"'").fetchone()[0] == 0
    assert all_results(server) == NEEDLES
