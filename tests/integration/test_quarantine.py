"""The quarantine: held mail the user does not see until it is released.

Messages are held with `correio quarantine hold` (durably, like an SMTP
delivery: the spam pipeline holds mail the same way), then listed, shown,
released (imaplib sees it in INBOX; a raw IDLE sees it arrive, whether
the CLI or the server released it), deleted, expired (by the server's sweep and by the
CLI), and listed in digests (sent by the CLI and by the server at
[quarantine] digest_time). Users release their own held mail by sending
to a digest entry's release address over submission (smtplib, logged
in): the owner gets 250 and the message; another user, a bad token and
port 25 get the unknown-user answer, and nothing is released."""
import email
import email.policy
import imaplib
import os
import re
import smtplib
import ssl
import time

import pytest

from conftest import DOMAIN, PASSWORD, imap_login, wait_for

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
NOTIFY_TIMEOUT = 3

pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback",
                                   "auth.failure_delay": "0",
                                   "queue.deliver": "0"})

RELEASE_RE = re.compile(r"mailto:(quarantine-release\+(\d+)\.[a-z2-7]{16}@"
                        + re.escape(DOMAIN) + ")")


def held_message(subject="Cheap pills", body="Buy now!"):
    return (f"From: Spammer <spam@remote.example.org>\r\n"
            f"To: <{ALICE}>\r\n"
            f"Subject: {subject}\r\n"
            f"Date: Mon, 7 Dec 2026 01:00:00 +0000\r\n"
            f"Message-ID: <{time.time_ns()}@remote.example.org>\r\n"
            f"\r\n{body}\r\n").encode()


def hold(srv, address, msg, *opts):
    p = srv.cli_ok("quarantine", "hold", address, *opts, "-", input=msg)
    ids = [int(x) for x in p.stdout.split()]
    assert ids, p.stdout
    return ids


def qlist(srv, address=None):
    args = ["quarantine", "list"] + ([address] if address else [])
    p = srv.cli_ok(*args)
    return [line.split("\t") for line in p.stdout.splitlines() if line]


def blob_files(srv):
    n = 0
    for _, _, files in os.walk(os.path.join(srv.inst.dir, "data", "blobs")):
        n += len(files)
    return n


def no_verify():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def submit_login(srv, user):
    s = smtplib.SMTP("127.0.0.1", srv.sub_port, timeout=10)
    s.ehlo("client.example.org")
    s.starttls(context=no_verify())
    s.ehlo("client.example.org")
    s.login(user, PASSWORD)
    return s


def reply_message(sender, to):
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: release\r\n"
            f"\r\nplease\r\n").encode()


def imaplib_inbox(srv, user=ALICE):
    """imaplib: (number of messages, [raw message, ...]) of INBOX."""
    with imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10) as m:
        m.login(user, PASSWORD)
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        n = int(data[0])
        msgs = []
        for i in range(1, n + 1):
            typ, data = m.fetch(str(i), "(BODY.PEEK[])")
            assert typ == "OK", data
            msgs.append(data[0][1])
        m.logout()
    return n, msgs


def digest_of(srv, user=ALICE):
    """Sends the digest now; returns the digest message's text."""
    p = srv.cli_ok("quarantine", "digest", user)
    assert p.stdout.strip() == "1 digests sent", p.stdout
    n, msgs = imaplib_inbox(srv, user)
    return msgs[-1]


def release_addresses(digest):
    msg = email.message_from_bytes(digest, policy=email.policy.default)
    text = msg.get_content()
    return {int(m.group(2)): m.group(1) for m in RELEASE_RE.finditer(text)}


# --- list, show, release, delete -------------------------------------------

def test_hold_list_show(server):
    ids = hold(server, ALICE, held_message(),
               "--score", "12.5", "--reason", "looks like spam",
               "--symbols", "GTUBE(1000.00)")
    rows = qlist(server)
    assert len(rows) == 1
    r = rows[0]
    assert int(r[0]) == ids[0]
    assert r[1] == ALICE
    assert r[4] == "12.5"
    assert r[5] == "Spammer <spam@remote.example.org>"
    assert r[6] == "Cheap pills"
    assert r[7] == "looks like spam"
    assert qlist(server, BOB) == []
    assert len(qlist(server, ALICE)) == 1
    # Held mail is in no mailbox.
    assert imaplib_inbox(server)[0] == 0
    assert server.count(ALICE) == 0
    p = server.cli_ok("quarantine", "show", ids[0])
    head, _, body = p.stdout.partition("\n\n")
    assert f"id: {ids[0]}" in head
    assert "score: 12.50" in head
    assert "symbols: GTUBE(1000.00)" in head
    assert "reason: looks like spam" in head
    assert f"recipient: {ALICE}" in head
    assert "subject: Cheap pills" in head
    assert "Buy now!" in body and "Subject: Cheap pills" in body
    # Unknown ids and users.
    p = server.cli("quarantine", "show", ids[0] + 100)
    assert p.returncode == 1 and "no held message" in p.stderr
    p = server.cli("quarantine", "list", f"nobody@{DOMAIN}")
    assert p.returncode == 1 and "no such user" in p.stderr
    p = server.cli("quarantine", "show", "x")
    assert p.returncode == 2


def test_hold_for_alias_holds_per_user(server):
    server.cli_ok("alias", "add", f"team@{DOMAIN}", ALICE, BOB)
    ids = hold(server, f"team@{DOMAIN}", held_message())
    assert len(ids) == 2
    assert {r[1] for r in qlist(server)} == {ALICE, BOB}
    assert blob_files(server) == 1      # one blob, two rows


def test_release_seen_by_imaplib(server):
    ids = hold(server, ALICE, held_message(subject="not spam really",
                                           body="Order pills-free now"))
    assert imaplib_inbox(server)[0] == 0
    p = server.cli_ok("quarantine", "release", ids[0])
    assert f"released {ids[0]} to {ALICE} INBOX uid 1" in p.stdout
    n, msgs = imaplib_inbox(server)
    assert n == 1
    assert b"Subject: not spam really" in msgs[0]
    assert qlist(server) == []
    # Once.
    p = server.cli("quarantine", "release", ids[0])
    assert p.returncode == 1 and "no held message" in p.stderr
    # The blob is the message's now, and SEARCH finds its text.
    assert blob_files(server) == 1
    with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10) as m:
        m.login(ALICE, PASSWORD)
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "BODY", "pills-free")
        assert typ == "OK" and data[0] == b"1", data
        typ, data = m.search(None, "BODY", "nothing-like-this")
        assert typ == "OK" and data[0] == b"", data
        m.logout()


def test_cli_release_seen_by_idle(server):
    """`correio quarantine release` is another process: the server notices
    its release note and the IDLE session hears of the message."""
    ids = hold(server, ALICE, held_message(subject="released by the admin"))
    c = imap_login(server)
    with c:
        r = c.ok("SELECT INBOX")
        assert b"* 0 EXISTS" in r.raw
        c.send("i1 IDLE\r\n")
        assert c.readline().startswith(b"+")
        t0 = time.monotonic()
        server.cli_ok("quarantine", "release", ids[0])
        m, _ = c.wait_untagged(rb"^\* (\d+) EXISTS$", NOTIFY_TIMEOUT)
        assert m.group(1) == b"1"
        assert time.monotonic() - t0 < NOTIFY_TIMEOUT
        c.send("DONE\r\n")
        assert c.read_response("i1").status == "OK"
        r = c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])")
        assert b"released by the admin" in r.raw


def test_delete_frees_blob(server):
    ids = hold(server, ALICE, held_message())
    assert blob_files(server) == 1
    server.cli_ok("quarantine", "delete", ids[0])
    assert qlist(server) == []
    assert blob_files(server) == 0
    p = server.cli("quarantine", "delete", ids[0])
    assert p.returncode == 1 and "no held message" in p.stderr
    assert imaplib_inbox(server)[0] == 0


# --- expiry ------------------------------------------------------------------

@pytest.mark.server(**{"quarantine.expire_interval": "1s"})
def test_server_expires_held_mail(server):
    keep = hold(server, ALICE, held_message(subject="keep"))
    gone = hold(server, ALICE, held_message(subject="gone"),
                "--retention", "1s")
    wait_for(lambda: [int(r[0]) for r in qlist(server)] == keep,
             timeout=10, what="the expired message to go")
    assert "quarantine expired messages=1" in server.log()
    assert blob_files(server) == 1
    assert gone[0] not in [int(r[0]) for r in qlist(server)]


def test_cli_expire(server):
    hold(server, ALICE, held_message(), "--retention", "1s")
    hold(server, BOB, held_message())
    time.sleep(2.1)
    p = server.cli_ok("quarantine", "expire")
    assert p.stdout.strip() == "1 expired"
    assert [r[1] for r in qlist(server)] == [BOB]
    assert server.cli_ok("quarantine", "expire").stdout.strip() == "0 expired"


# --- digests -----------------------------------------------------------------

def test_digest(server):
    a = hold(server, ALICE, held_message(subject="=?utf-8?q?J=C3=A4ger_Angebot?="),
             "--score", "11", "--reason", "spam score 11")
    b = hold(server, ALICE, held_message(subject="Second"),
             "--score", "31.5", "--reason", "malware: EICAR")
    digest = digest_of(server)
    msg = email.message_from_bytes(digest, policy=email.policy.default)
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert str(msg["To"]) == ALICE
    assert "2 held messages" in msg["Subject"]
    text = msg.get_content()
    assert "Jäger Angebot" in text
    assert "Second" in text
    assert "Score:    11.0" in text and "Score:    31.5" in text
    assert "malware: EICAR" in text
    assert "Spammer <spam@remote.example.org>" in text
    addrs = release_addresses(digest)
    assert set(addrs) == {a[0], b[0]}
    # Listed once: a second digest has nothing to say.
    p = server.cli_ok("quarantine", "digest")
    assert p.stdout.strip() == "0 digests sent"
    # Still held, now marked digested.
    assert len(qlist(server, ALICE)) == 2
    p = server.cli_ok("quarantine", "digest", BOB)
    assert p.stdout.strip() == "0 digests sent"


def test_server_sends_digest_at_digest_time(start_server):
    # The hour is now: the first tick of the runner sends it.
    srv = start_server(**{"imap.allow_plaintext": "loopback",
                          "quarantine.digest_time":
                          str(time.localtime().tm_hour)})
    hold(srv, BOB, held_message(subject="for the digest"))
    srv.stop()
    srv = start_server(**{"imap.allow_plaintext": "loopback",
                          "quarantine.digest_time":
                          str(time.localtime().tm_hour)})
    wait_for(lambda: "quarantine digest user=" in srv.log(), timeout=10,
             what="the digest")
    n, msgs = imaplib_inbox(srv, BOB)
    assert n == 1
    assert b"for the digest" in msgs[0]
    assert imaplib_inbox(srv, ALICE)[0] == 0


# --- self-release over submission -------------------------------------------

def test_self_release_by_owner(server):
    ids = hold(server, ALICE, held_message(subject="my invoice"))
    addr = release_addresses(digest_of(server))[ids[0]]
    c = imap_login(server)
    with c:
        c.ok("SELECT INBOX")            # the digest: 1 EXISTS
        c.send("i1 IDLE\r\n")
        assert c.readline().startswith(b"+")
        with submit_login(server, ALICE) as s:
            refused = s.sendmail(ALICE, [addr], reply_message(ALICE, addr))
            assert refused == {}
        m, _ = c.wait_untagged(rb"^\* (\d+) EXISTS$", NOTIFY_TIMEOUT)
        assert m.group(1) == b"2"
        c.send("DONE\r\n")
        assert c.read_response("i1").status == "OK"
    n, msgs = imaplib_inbox(server)
    assert n == 2
    assert b"Subject: my invoice" in msgs[1]
    # Only the held message arrived: the vehicle went nowhere.
    assert not any(b"please" in m for m in msgs)
    assert server.cli_ok("queue", "list").stdout == ""
    assert qlist(server) == []
    assert "quarantine=released" in server.log()


def test_self_release_rcpt_reply(server):
    ids = hold(server, ALICE, held_message())
    addr = release_addresses(digest_of(server))[ids[0]]
    with submit_login(server, ALICE) as s:
        s.mail(ALICE)
        code, text = s.rcpt(addr)
        assert code == 250, text
        assert b"released" in text
        # The same address again: it is gone now.
        code, text = s.rcpt(addr)
        assert code == 550 and b"5.1.1" in text
        s.rset()


def test_self_release_other_user_refused(server):
    ids = hold(server, ALICE, held_message())
    addr = release_addresses(digest_of(server))[ids[0]]
    with submit_login(server, BOB) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail(BOB, [addr], reply_message(BOB, addr))
        code, text = e.value.recipients[addr]
        assert code == 550 and b"User unknown" in text
    assert [int(r[0]) for r in qlist(server)] == ids
    assert imaplib_inbox(server, BOB)[0] == 0
    assert imaplib_inbox(server, ALICE)[0] == 1      # the digest only


def test_self_release_bad_token_refused(server):
    ids = hold(server, ALICE, held_message())
    addr = release_addresses(digest_of(server))[ids[0]]
    local, domain = addr.split("@")
    flipped = local[:-1] + ("a" if local[-1] != "a" else "b")
    other_id = re.sub(r"\+\d+\.", f"+{ids[0] + 1}.", local)
    with submit_login(server, ALICE) as s:
        s.mail(ALICE)
        for bad in (flipped, other_id, local[:-1], local.upper()[:-1] + "!"):
            code, text = s.rcpt(f"{bad}@{domain}")
            assert code in (550, 501), (bad, code, text)
        code, text = s.rcpt(f"nobody@{DOMAIN}")
        assert code == 550
        s.rset()
    assert [int(r[0]) for r in qlist(server)] == ids
    # The token is case-insensitive: the same address upper-cased works.
    with submit_login(server, ALICE) as s:
        s.mail(ALICE)
        code, text = s.rcpt(f"{local.upper()}@{domain}")
        assert code == 250, text
        s.rset()
    assert qlist(server) == []


def test_inbound_port25_unknown_user(server):
    ids = hold(server, ALICE, held_message())
    addr = release_addresses(digest_of(server))[ids[0]]
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as s:
        s.ehlo("mx.remote.example.org")
        s.mail("someone@remote.example.org")
        code, text = s.rcpt(addr)
        code2, text2 = s.rcpt(f"nobody@{DOMAIN}")
        s.rset()
    assert code == code2 == 550
    # The same words as for any unknown user: no oracle.
    assert (text.replace(addr.encode(), b"X")
            == text2.replace(f"nobody@{DOMAIN}".encode(), b"X"))
    assert [int(r[0]) for r in qlist(server)] == ids
