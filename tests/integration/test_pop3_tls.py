"""TLS for POP3 with real clients: STLS on the pop3 port (poplib.stls,
openssl s_client -starttls pop3, curl pop3:// --ssl-reqd), implicit TLS
on the pop3s port (poplib.POP3_SSL, curl pop3s://), the default policy
(no passwords in the clear: no USER or SASL in CAPA, USER and AUTH
refused), and commands pipelined after STLS being dropped.

The certificate is the self-signed one `init` made for mail.example.test:
clients either trust it explicitly (cafile) or do not verify (--insecure)."""
import poplib
import re
import socket
import ssl
import subprocess

import pytest

from conftest import (DOMAIN, HOSTNAME, IO_TIMEOUT, PASSWORD, make_message,
                      pop3_connect, smtp_deliver)

ALICE = f"alice@{DOMAIN}"
TOOL_TIMEOUT = 30


def no_verify():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def run(args, input=b""):
    p = subprocess.run(args, input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TOOL_TIMEOUT)
    return p, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def curl(url, *extra):
    return run(["curl", "--silent", "--show-error", "--max-time", "20",
                "--insecure", "--user", f"{ALICE}:{PASSWORD}", *extra, url])


def capa(c):
    c.send("CAPA\r\n")
    assert c.readline().startswith(b"+OK")
    return {l.decode() for l in c.read_multi()}


# --- the default policy: no passwords in the clear -----------------------------

def test_plain_port_refuses_passwords(server):
    with pop3_connect(server) as c:
        caps = capa(c)
        assert "STLS" in caps, caps
        assert "USER" not in caps and "SASL PLAIN" not in caps, caps
        assert b"STLS" in c.err(f"USER {ALICE}")
        assert b"USER first" in c.err(f"PASS {PASSWORD}")
        assert b"STLS" in c.err("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4")
        c.send("AUTH\r\n")
        assert c.readline().startswith(b"+OK")
        assert c.read_multi() == []
        c.err("STAT")
    # refused before any password was looked at: no failure counted
    assert "result=fail" not in server.log()


@pytest.mark.server(**{"pop3.allow_plaintext": "loopback"})
def test_loopback_allowance_is_for_loopback_only(server):
    """The allowance is checked against the peer address: on 127.0.0.1
    it holds (test_pop3_basic.py logs in that way), so here only the
    CAPA difference is checked; a non-loopback peer is not available in
    the test environment."""
    with pop3_connect(server) as c:
        caps = capa(c)
        assert {"USER", "SASL PLAIN", "STLS"} <= caps, caps


def test_stls_then_login_raw(server):
    smtp_deliver(server, ALICE, make_message("after stls"))
    with pop3_connect(server) as c:
        assert c.ok("STLS") == b"+OK Begin TLS negotiation"
        assert c.buf == b""
        c.tls_handshake()
        caps = capa(c)
        # RFC 2595 4: STLS is not offered again; logins are
        assert "STLS" not in caps and {"USER", "SASL PLAIN"} <= caps, caps
        c.login()
        assert b"Subject: after stls\r\n" in c.retr(1)
        assert c.err("STLS") == b"-ERR Not allowed after login"
        c.ok("QUIT")
    assert re.search(r"conn=\S+ pop3 tls peer=127\.0\.0\.1 version=TLSv1\.[23]",
                     server.log())


def test_stls_drops_pipelined_commands(server):
    """RFC 2595 4 (and the STARTTLS injection attacks): what follows STLS
    in the same packet is not executed after the handshake."""
    with pop3_connect(server) as c:
        c.send(f"STLS\r\nUSER {ALICE}\r\n")
        assert c.readline() == b"+OK Begin TLS negotiation"
        c.tls_handshake()
        # the USER was dropped, so PASS has no user
        assert b"USER first" in c.err(f"PASS {PASSWORD}")
        c.login()


def test_stls_forgets_user_given_before(server):
    with pop3_connect(server) as c:
        c.ok("STLS")
        c.tls_handshake()
        c.ok(f"USER {ALICE}")
        c.err("STLS")                       # already active
        c.ok(f"PASS {PASSWORD}")


def test_stls_arguments_and_twice(server):
    with pop3_connect(server) as c:
        c.err("STLS now")
        c.ok("STLS")
        c.tls_handshake()
        assert c.err("STLS") == b"-ERR TLS is already active"


def test_poplib_stls(server):
    smtp_deliver(server, ALICE, make_message("poplib stls", ["x"]))
    ctx = ssl.create_default_context(cafile=server.inst.cert)
    ctx.check_hostname = False      # the certificate names mail.example.test
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=IO_TIMEOUT)
    try:
        p.stls(context=ctx)
        p.user(ALICE)
        p.pass_(PASSWORD)
        _, lines, _ = p.retr(1)
        assert b"Subject: poplib stls" in lines
    finally:
        p.quit()


def test_poplib_pop3s(server):
    msg = make_message("poplib pop3s", ["body"])
    smtp_deliver(server, ALICE, msg)
    ctx = ssl.create_default_context(cafile=server.inst.cert)
    ctx.check_hostname = False      # the certificate names mail.example.test
    p = poplib.POP3_SSL("127.0.0.1", server.pop3s_port, context=ctx,
                        timeout=IO_TIMEOUT)
    try:
        caps = p.capa()
        assert "USER" in caps and "STLS" not in caps, caps
        p.user(ALICE)
        p.pass_(PASSWORD)
        _, lines, _ = p.retr(1)
        assert b"\r\n".join(lines) + b"\r\n" == server.get(ALICE, 1)
        p.dele(1)
    finally:
        p.quit()
    assert server.count(ALICE) == 0


def test_pop3s_verifies_by_name(server):
    ctx = ssl.create_default_context(cafile=server.inst.cert)
    s = socket.create_connection(("127.0.0.1", server.pop3s_port),
                                 timeout=IO_TIMEOUT)
    t = ctx.wrap_socket(s, server_hostname=HOSTNAME)
    try:
        assert t.recv(100).startswith(b"+OK")
    finally:
        t.close()


@pytest.mark.server(**{"pop3.login_timeout": "1s"})
def test_pop3s_handshake_timeout(server):
    """A client that connects to pop3s and never starts the handshake is
    closed after the login timeout."""
    s = socket.create_connection(("127.0.0.1", server.pop3s_port),
                                 timeout=IO_TIMEOUT)
    try:
        s.settimeout(5)
        assert s.recv(100) == b""
    finally:
        s.close()
    assert "reason=\"tls handshake timeout\"" in server.log()


# --- openssl s_client --------------------------------------------------------

def test_openssl_s_client_starttls(server):
    smtp_deliver(server, ALICE, make_message("via s_client"))
    # -crlf turns each LF into CRLF
    script = f"USER {ALICE}\nPASS {PASSWORD}\nRETR 1\nQUIT\n".encode()
    p, out, err = run(["openssl", "s_client", "-connect",
                       f"127.0.0.1:{server.pop3_port}", "-starttls", "pop3",
                       "-quiet", "-crlf", "-ign_eof"], input=script)
    assert "Subject: via s_client" in out, out + err
    assert "+OK Bye" in out, out


# --- curl --------------------------------------------------------------------

def test_curl_pop3_stls_list_and_retr(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"curl {i}", [f"body {i}"]))
    base = f"pop3://127.0.0.1:{server.pop3_port}"
    p, out, err = curl(base + "/", "--ssl-reqd")
    assert p.returncode == 0, err
    sizes = [len(server.get(ALICE, uid)) for uid in (1, 2, 3)]
    assert out.split("\r\n")[:3] == [f"{i + 1} {s}" for i, s in enumerate(sizes)]
    p, out, err = curl(base + "/2", "--ssl-reqd")
    assert p.returncode == 0, err
    assert p.stdout == server.get(ALICE, 2)


def test_curl_pop3_without_tls_cannot_log_in(server):
    smtp_deliver(server, ALICE, make_message("not for plain curl"))
    p, out, err = curl(f"pop3://127.0.0.1:{server.pop3_port}/1")
    assert p.returncode != 0, out
    assert "not for plain curl" not in out


def test_curl_pop3s_retr_uidl_dele(server):
    msg = make_message("curl pop3s", [".starts with a dot", "..two", "."])
    smtp_deliver(server, ALICE, msg)
    smtp_deliver(server, ALICE, make_message("second"))
    base = f"pop3s://127.0.0.1:{server.pop3s_port}"
    p, out, err = curl(base + "/1")
    assert p.returncode == 0, err
    assert p.stdout == server.get(ALICE, 1)
    p, out, err = curl(base + "/", "--request", "UIDL")
    assert p.returncode == 0, err
    assert re.fullmatch(r"1 \d+\.1\r\n2 \d+\.2\r\n", out), out
    # curl's way to delete: DELE without a transfer (curl sends QUIT)
    p, out, err = curl(base + "/1", "--request", "DELE", "--list-only")
    assert p.returncode == 0, err
    assert [m[0] for m in server.messages(ALICE)] == [2]


def test_curl_pop3s_auth_plain(server):
    """curl logs in with AUTH PLAIN when CAPA offers SASL PLAIN; with
    --sasl-ir it sends the initial response on the AUTH line."""
    smtp_deliver(server, ALICE, make_message("sasl"))
    base = f"pop3s://127.0.0.1:{server.pop3s_port}"
    for extra in ((), ("--sasl-ir",)):
        p, out, err = curl(base + "/1", "--login-options", "AUTH=PLAIN",
                           "--verbose", *extra)
        assert p.returncode == 0, err
        assert "AUTH PLAIN" in err, err
        assert p.stdout == server.get(ALICE, 1)


@pytest.mark.server(**{"tls.cert": "", "tls.key": "", "pop3s.listen": "",
                       "imaps.listen": "", "submissions.listen": ""})
def test_no_tls_configured(server):
    with pop3_connect(server) as c:
        caps = capa(c)
        assert "STLS" not in caps, caps
        assert c.err("STLS") == b"-ERR STLS is not available"
