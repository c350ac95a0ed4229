"""STARTTLS (RFC 3207) with smtplib, swaks, openssl s_client and a raw
socket: delivery, trace headers, state reset, and the discarding of
commands pipelined after STARTTLS (CVE-2011-0411)."""
import re
import smtplib
import ssl
import subprocess

import pytest

from conftest import (DOMAIN, HOSTNAME, IO_TIMEOUT, make_message, split_stored,
                      unfold)

ALICE, BOB, CAROL = (f"{u}@{DOMAIN}" for u in ("alice", "bob", "carol"))
SENDER = "sender@remote.example.org"
TLS_DETAILS = re.compile(r"\(version=TLSv1\.3 cipher=\S+ bits=\d+(/\d+)?\)")


def no_verify_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_smtplib_starttls_delivery(server):
    msg = make_message("over tls", ["secret text"])
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.example.org",
                      timeout=IO_TIMEOUT) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        code, text = s.starttls(context=no_verify_context())
        assert code == 220 and text.startswith(b"2.0.0 Ready to start TLS")
        s.ehlo()
        assert not s.has_extn("starttls"), "STARTTLS still offered under TLS"
        assert s.has_extn("pipelining") and s.has_extn("chunking")
        assert s.sendmail(SENDER, [ALICE, BOB], msg) == {}
    for rcpt in (ALICE, BOB):
        stored = server.get(rcpt, 1)
        rp, received, rest = split_stored(stored)
        text = unfold(received)
        assert rest == msg
        assert re.search(r"\bwith ESMTPS\b", text), text
        assert TLS_DETAILS.search(text), text
    assert "smtp starttls" in server.log()


def test_certificate_verifies_for_hostname(server):
    """The self-signed certificate of `init` names the host name, so a
    client that trusts it can verify the server."""
    with server.connect() as c:
        c.ehlo()
        c.starttls(cafile=server.inst.cert, server_hostname=HOSTNAME)
        assert c.sock.version() == "TLSv1.3"
        c.ehlo()


def test_swaks_tls_delivery(server):
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{server.port}", "--tls",
                        "--from", SENDER, "--to", CAROL, "--ehlo", "swaks.example.org",
                        "--header", "Subject: swaks over tls", "--body", "tls body"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    assert "<-  220 2.0.0 Ready to start TLS" in out, out
    assert re.search(r"TLS started with cipher TLSv1\.3", out), out
    assert re.search(r"<~  250 2\.0\.0 Ok: delivered as \S+", out), out
    rows = server.messages(CAROL)
    assert len(rows) == 1 and rows[0][4] == "swaks over tls"
    stored = server.get(CAROL, rows[0][0])
    text = unfold(split_stored(stored)[1])
    assert re.search(r"\bwith ESMTPS\b", text) and TLS_DETAILS.search(text), text


def test_openssl_s_client_starttls(server):
    script = (f"EHLO openssl.example.org\r\n"
              f"MAIL FROM:<{SENDER}>\r\n"
              f"RCPT TO:<{ALICE}>\r\n"
              f"DATA\r\n").encode()
    body = make_message("via s_client")
    script += body + b".\r\nQUIT\r\n"
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}",
                        "-starttls", "smtp", "-name", "openssl.example.org",
                        "-servername", HOSTNAME, "-CAfile", server.inst.cert,
                        "-verify_return_error", "-verify_hostname", HOSTNAME,
                        "-quiet", "-ign_eof"],
                       input=script, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    # The exit code is not checked here: s_client fails when the peer
    # closes without close_notify (test_quit_under_tls_sends_close_notify).
    assert "verify return:1" in err, err
    # EHLO under TLS: no STARTTLS any more.
    assert "250-PIPELINING" in out and "STARTTLS" not in out, out
    assert re.search(r"^354 ", out, re.M), out
    assert re.search(r"^250 2\.0\.0 Ok: delivered as \S+", out, re.M), out
    assert re.search(r"^221 ", out, re.M), out
    assert split_stored(server.get(ALICE, 1))[2] == body


def test_quit_under_tls_sends_close_notify(server):
    """RFC 8446 6.1: each party MUST send close_notify before closing its
    write side. Without it, strict clients (openssl s_client) fail with
    "unexpected eof" and cannot tell a QUIT from a truncation attack.
    (Debian's Python 3.11.2 ssl cannot tell the two apart, hence s_client.)"""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}",
                        "-starttls", "smtp", "-quiet", "-ign_eof"],
                       input=b"EHLO openssl.example.org\r\nQUIT\r\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    assert re.search(r"^221 ", out, re.M), out + err
    assert "unexpected eof" not in err, \
        f"the server closed TCP without a TLS close_notify:\n{err}"
    assert p.returncode == 0, out + err


def test_starttls_discards_pipelined_noop(server):
    with server.connect() as c:
        c.ehlo()
        # One write: the NOOP is in the same packet as STARTTLS.
        c.send(b"STARTTLS\r\nNOOP\r\n")
        c.expect_reply(220, "220 2.0.0 Ready to start TLS")
        # The plain-text side sees only the 220.
        assert c.silent(0.5), f"more plain text after the 220: {c.buf!r}"
        c.tls_handshake()
        # Under TLS, nothing arrives until we speak: the NOOP was dropped.
        assert c.silent(1.0), f"pipelined NOOP was answered: {c.buf!r}"
        r = c.cmd("EHLO client.example.org")
        assert r.code == 250 and r.lines[0].startswith(HOSTNAME), r.raw


def test_starttls_discards_pipelined_transaction(server):
    with server.connect() as c:
        c.ehlo()
        c.send(f"STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\n"
               f"RCPT TO:<{ALICE}>\r\n".encode())
        c.expect_reply(220)
        assert c.silent(0.5)
        c.tls_handshake()
        assert c.silent(0.5), f"injected commands answered: {c.buf!r}"
        c.ehlo()
        # The injected MAIL did not survive the handshake.
        c.expect(f"RCPT TO:<{ALICE}>", 503, "503 5.5.1")
        c.expect("DATA", 503, "503 5.5.1")


def test_starttls_resets_session(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.starttls()
        # RFC 3207 4.2: EHLO must be given again, the transaction is gone.
        c.expect(f"MAIL FROM:<{SENDER}>", 503, "503 5.5.1")
        r = c.ehlo()
        kw = [l.split()[0].upper() for l in r.lines[1:]]
        assert "STARTTLS" not in kw, r.raw
        c.expect(f"RCPT TO:<{ALICE}>", 503, "503 5.5.1")
        r = c.send_mail(SENDER, [ALICE], make_message("after reset"), ehlo=False)
        assert r.code == 250
    assert server.count(ALICE) == 1


def test_starttls_twice_refused(server):
    with server.connect() as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.cmd("STARTTLS")
        assert 500 <= r.code < 600, r.raw
        c.expect("NOOP", 250)


def test_starttls_with_argument_refused(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("STARTTLS now", 501)
        c.expect("NOOP", 250)


def test_garbage_handshake_closes_session(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("STARTTLS", 220)
        c.send(b"this is not a TLS client hello\r\n" * 4)
        assert c.closed(IO_TIMEOUT), f"session not closed: {c.buf!r}"
    # The server is fine afterwards.
    with server.connect() as c:
        c.ehlo()


@pytest.mark.server(**{"tls.cert": "", "tls.key": "", "imaps.listen": "",
                       "pop3s.listen": "", "submissions.listen": ""})
def test_no_tls_configured(server):
    with server.connect() as c:
        r = c.ehlo()
        assert "STARTTLS" not in [l.split()[0].upper() for l in r.lines[1:]]
        r = c.cmd("STARTTLS")
        assert r.code in (454, 502), r.raw
        r = c.send_mail(SENDER, [ALICE], make_message("plain only"), ehlo=False)
        assert r.code == 250
