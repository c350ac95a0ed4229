"""Inbound SMTP, the happy paths: greeting, EHLO, delivery with real
clients, trace headers, byte-exact storage, aliases, dot-unstuffing."""
import re
import smtplib
import subprocess

import pytest

from conftest import (DOMAIN, HOSTNAME, IO_TIMEOUT, make_message, split_stored,
                      unfold)

ALICE, BOB, CAROL = (f"{u}@{DOMAIN}" for u in ("alice", "bob", "carol"))
SENDER = "sender@remote.example.org"


def test_greeting(server):
    with server.connect() as c:
        assert c.greeting.code == 220
        assert c.greeting.first == f"220 {HOSTNAME} ESMTP Correio"


def test_ehlo_keywords(server):
    with server.connect() as c:
        r = c.ehlo()
        assert r.lines[0].split()[0] == HOSTNAME
        kw = {l.split()[0].upper(): l for l in r.lines[1:]}
        for k in ("PIPELINING", "SIZE", "STARTTLS", "ENHANCEDSTATUSCODES",
                  "8BITMIME", "SMTPUTF8", "CHUNKING"):
            assert k in kw, f"{k} not advertised: {r.raw!r}"
        # 25M is the init default, in powers of 1024.
        assert kw["SIZE"] == f"SIZE {25 * 1024 * 1024}"


@pytest.mark.server(**{"server.max_message_size": "100K"})
def test_ehlo_size_follows_config(server):
    with server.connect() as c:
        r = c.ehlo()
        assert f"SIZE {100 * 1024}" in r.lines


def test_helo_then_mail(server):
    with server.connect() as c:
        r = c.expect("HELO client.example.org", 250)
        assert len(r.lines) == 1 and HOSTNAME in r.lines[0]
        c.expect(f"MAIL FROM:<{SENDER}>", 250, "250 2.1.0")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "250 2.1.5")
        c.expect("DATA", 354)
        c.send(make_message("helo") + b".\r\n")
        c.expect_reply(250, "250 2.0.0")
    stored = server.get(ALICE, 1)
    _, received, _ = split_stored(stored)
    # RFC 3848: plain SMTP after HELO, not ESMTP.
    assert re.search(r"\bwith SMTP\b", unfold(received)), received


def test_commands_are_case_insensitive(server):
    with server.connect() as c:
        c.expect("ehlo client.example.org", 250)
        c.expect(f"mail from:<{SENDER}>", 250)
        c.expect(f"rcpt to:<{ALICE}>", 250)
        c.expect("data", 354)
        c.send(make_message("lower") + b".\r\n")
        c.expect_reply(250)
        c.expect("quit", 221)
    assert server.count(ALICE) == 1


def test_recipient_domain_is_case_insensitive(server):
    with server.connect() as c:
        r = c.send_mail(SENDER, ["alice@EXAMPLE.Test"], make_message("case"))
        assert r.code == 250, r.raw
    assert server.count(ALICE) == 1


def test_smtplib_plain_delivery(server):
    msg = make_message("via smtplib", ["line one", "", "line three"])
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.example.org",
                      timeout=IO_TIMEOUT) as s:
        s.ehlo()
        refused = s.sendmail(SENDER, [ALICE], msg)
        assert refused == {}
    rows = server.messages(ALICE)
    assert len(rows) == 1
    uid, _, sender, size, subject = rows[0]
    # The sender column is the From: header (make_message: "<SENDER>").
    assert sender == f"<{SENDER}>" and subject == "via smtplib"
    stored = server.get(ALICE, uid)
    rp, received, rest = split_stored(stored)
    assert rp == f"Return-Path: <{SENDER}>".encode()
    assert rest == msg
    assert size == len(stored)
    assert "with ESMTP" in unfold(received)
    assert "ESMTPS" not in unfold(received)


def test_swaks_plain_delivery(server):
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{server.port}",
                        "--from", SENDER, "--to", BOB, "--ehlo", "swaks.example.org",
                        "--header", "Subject: from swaks", "--body", "swaks body"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    assert re.search(r"<-  250 2\.0\.0 Ok: delivered as \S+", out), out
    rows = server.messages(BOB)
    assert len(rows) == 1 and rows[0][4] == "from swaks"
    stored = server.get(BOB, rows[0][0])
    assert b"\r\n\r\nswaks body\r\n" in stored
    assert "from swaks.example.org" in unfold(split_stored(stored)[1])


def test_three_recipients_byte_exact(server):
    # 8-bit text, tabs, trailing spaces, empty lines, a line of 998 octets
    # plus CRLF (the longest allowed), and lines that start with dots.
    body = (b"From: Sender <sender@remote.example.org>\r\n"
            b"To: alice@example.test, bob@example.test, carol@example.test\r\n"
            b"Subject: three\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n"
            b"Ol\xc3\xa1, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x93\xa7\r\n"
            b"\ttab-indented   \r\n"
            b"\r\n\r\n"
            + b"x" * 998 + b"\r\n"
            b".leading dot (stuffed on the wire)\r\n"
            b"last line\r\n")
    # On the wire the leading dot is doubled; stored, it is single.
    wire = body.replace(b"\r\n.leading", b"\r\n..leading")
    expected = body
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}> BODY=8BITMIME", 250)
        for r in (ALICE, BOB, CAROL):
            c.expect(f"RCPT TO:<{r}>", 250, "250 2.1.5")
        c.expect("DATA", 354, "354")
        c.send(wire + b".\r\n")
        r = c.expect_reply(250, "250 2.0.0 Ok: delivered as ")
        qid = r.first.split()[-1]
        c.expect("QUIT", 221)
        assert c.closed()
    for rcpt in (ALICE, BOB, CAROL):
        rows = server.messages(rcpt)
        assert len(rows) == 1, f"{rcpt}: {rows}"
        stored = server.get(rcpt, rows[0][0])
        rp, received, rest = split_stored(stored)
        assert rp == f"Return-Path: <{SENDER}>".encode()
        assert rest == expected, f"{rcpt}: body differs"
        assert qid in unfold(received)
        assert rows[0][3] == len(stored)
        assert server.mailboxes(rcpt)["INBOX"][1] == 1


def test_received_header(server):
    with server.connect() as c:
        c.expect("EHLO helo.client.example.org", 250)
        r = c.send_mail(SENDER, [ALICE], make_message("trace"), ehlo=False)
        assert r.code == 250
    stored = server.get(ALICE, 1)
    rp, received, rest = split_stored(stored)
    text = unfold(received)
    assert rp == f"Return-Path: <{SENDER}>".encode()
    assert text.startswith("Received: from helo.client.example.org")
    assert "127.0.0.1" in text
    assert f"by {HOSTNAME}" in text
    assert re.search(r"\bwith ESMTP\b", text), text
    # A date at the end, after the semicolon (RFC 5322 3.6.7).
    assert re.search(r";\s*\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\s*$",
                     text), text
    # Folded with CRLF + TAB, never a bare LF.
    assert b"\r\n\t" in received
    assert b"\n" not in received.replace(b"\r\n", b"")


def test_null_sender(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(make_message("bounce") + b".\r\n")
        c.expect_reply(250)
    assert server.get(ALICE, 1).startswith(b"Return-Path: <>\r\n")


def test_alias_expands_and_dedups(instance, start_server):
    # The alias is made before the server starts: test_store_live.py has
    # the admin commands that run while it serves.
    instance.cli_ok("alias", "add", f"team@{DOMAIN}", ALICE, BOB)
    server = start_server()
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<team@{DOMAIN}>", 250, "250 2.1.5")
        c.expect(f"RCPT TO:<{ALICE}>", 250, "250 2.1.5")
        c.expect("DATA", 354)
        msg = make_message("to the team")
        c.send(msg + b".\r\n")
        c.expect_reply(250)
    assert server.count(ALICE) == 1
    assert server.count(BOB) == 1
    assert server.count(CAROL) == 0
    assert split_stored(server.get(BOB, 1))[2] == msg


def test_same_recipient_twice_stored_once(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(make_message("twice") + b".\r\n")
        c.expect_reply(250)
    assert server.count(ALICE) == 1


def test_dot_unstuffing(server):
    wire = (b"Subject: dots\r\n\r\n"
            b"..x\r\n"          # -> .x
            b"..\r\n"           # -> .
            b"...\r\n"          # -> ..
            b".. .\r\n"         # -> . .
            b"a.\r\n"           # unchanged
            b" .\r\n"           # unchanged
            b"x\r\n")
    expected = (b"Subject: dots\r\n\r\n"
                b".x\r\n.\r\n..\r\n. .\r\na.\r\n .\r\nx\r\n")
    with server.connect() as c:
        r = c.send_mail(SENDER, [ALICE], wire)
        assert r.code == 250, r.raw
    assert split_stored(server.get(ALICE, 1))[2] == expected


def test_smtplib_dot_stuffing_roundtrip(server):
    msg = make_message("roundtrip", [".", "..", ".hidden", "a line", ".", "end"])
    with smtplib.SMTP("127.0.0.1", server.port, timeout=IO_TIMEOUT) as s:
        assert s.sendmail(SENDER, [CAROL], msg) == {}
    assert split_stored(server.get(CAROL, 1))[2] == msg


def test_empty_message(server):
    with server.connect() as c:
        r = c.send_mail(SENDER, [ALICE], b"")
        assert r.code == 250, r.raw
    assert split_stored(server.get(ALICE, 1))[2] == b""


def test_message_and_mailbox_list(server):
    sizes = []
    with server.connect() as c:
        c.ehlo()
        # With a From: header, and without one (then: the envelope sender).
        r = c.send_mail("s0@remote.example.org", [ALICE],
                        make_message("first", sender="Zoe <s0@remote.example.org>"),
                        ehlo=False)
        assert r.code == 250
        r = c.send_mail("s1@remote.example.org", [ALICE],
                        b"Subject: second\r\n\r\nno From header\r\n", ehlo=False)
        assert r.code == 250
    rows = server.messages(ALICE)
    assert [r[0] for r in rows] == [1, 2]
    assert [r[2] for r in rows] == ["Zoe <s0@remote.example.org>", "<s1@remote.example.org>"]
    assert [r[4] for r in rows] == ["first", "second"]
    for uid, date, _, size, _ in rows:
        assert re.match(r"\d{4}-\d\d-\d\d", date), date
        stored = server.get(ALICE, uid)
        assert size == len(stored)
        sizes.append(size)
    boxes = server.mailboxes(ALICE)
    assert boxes["INBOX"][1] == 2
    assert boxes["INBOX"][2] == sum(sizes)
    # The standard mailboxes with their SPECIAL-USE roles, empty.
    for name, use in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Junk", "\\Junk"),
                      ("Trash", "\\Trash"), ("Archive", "\\Archive")):
        assert boxes[name] == (use, 0, 0), boxes
    assert server.mailboxes(BOB)["INBOX"][1] == 0


def test_several_transactions_in_one_session(server):
    with server.connect() as c:
        c.ehlo()
        ids = []
        for i in range(3):
            r = c.send_mail(SENDER, [ALICE, BOB], make_message(f"n{i}"), ehlo=False)
            assert r.code == 250
            ids.append(r.first.split()[-1])
        assert len(set(ids)) == 3, ids
    assert [r[4] for r in server.messages(ALICE)] == ["n0", "n1", "n2"]
    assert server.count(BOB) == 3


def test_rset_abandons_transaction(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("RSET", 250, "250 2.0.0")
        c.expect("DATA", 503, "503 5.5.1")
        # A fresh transaction works after RSET.
        r = c.send_mail(SENDER, [BOB], make_message("after rset"), ehlo=False)
        assert r.code == 250
    assert server.count(ALICE) == 0
    assert server.count(BOB) == 1


def test_smtputf8_sender(server):
    sender = "jösé@example.org"
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{sender}> SMTPUTF8", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        msg = make_message("ütf8 subject", ["Grüße"], sender=sender)
        c.send(msg + b".\r\n")
        c.expect_reply(250)
    stored = server.get(ALICE, 1)
    rp, received, rest = split_stored(stored)
    assert rp == f"Return-Path: <{sender}>".encode()
    assert re.search(r"\bwith UTF8SMTP\b", unfold(received)), received
    assert rest == msg
    assert sender in server.messages(ALICE)[0][2]


def test_smtputf8_required_for_utf8_sender(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<jösé@example.org>", 553, "553 5.6.7")
        # The session goes on.
        c.expect(f"MAIL FROM:<{SENDER}>", 250)


def test_quit_closes(server):
    with server.connect() as c:
        c.expect("QUIT", 221, "221 2.0.0")
        assert c.closed(), "connection not closed after QUIT"


def test_noop_rset_vrfy_help(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("NOOP", 250, "250 2.0.0")
        c.expect("RSET", 250, "250 2.0.0")
        c.expect(f"VRFY {ALICE}", 252)
        c.expect("VRFY nobody-here", 252)   # does not reveal who exists
        r = c.expect("HELP", 214)
        assert "MAIL" in r.text


def test_serve_log_line_per_message(server):
    msg = make_message("logged")
    with server.connect() as c:
        r = c.send_mail(SENDER, [ALICE], msg)
        qid = r.first.split()[-1]
    log = server.log()
    m = re.search(rf"conn=\S+ smtp message id={re.escape(qid)} peer=127\.0\.0\.1 "
                  rf"from=<{re.escape(SENDER)}> to=<{re.escape(ALICE)}> size=(\d+) "
                  rf"result=250", log)
    assert m, log
    assert int(m.group(1)) == len(msg)


def test_every_listener_is_served(server):
    """init's config sets every listener, and this release serves them
    all: no "not started" warning."""
    log = server.log()
    assert "not started" not in log, log
    for name in ("submission", "submissions"):
        assert f'{name}="127.0.0.1:' in log, log


def test_postmaster_without_domain(server):
    """RFC 5321 4.1.1.3: <Postmaster> with no domain is accepted and reaches
    this host's postmaster: here the postmaster alias of the hosted domain
    (the host name's domain is not hosted)."""
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        # Not configured yet: refused like any unknown user.
        c.expect("RCPT TO:<Postmaster>", 550, "550 5.1.1")
    server.cli_ok("alias", "add", f"postmaster@{DOMAIN}", CAROL)
    msg = make_message("to the postmaster")
    with server.connect() as c:
        r = c.send_mail(SENDER, ["Postmaster"], msg)
        assert r.code == 250, r.raw
    assert server.count(CAROL) == 1
    assert split_stored(server.get(CAROL, 1))[2] == msg
