"""TLS for IMAP with real clients: STARTTLS on the imap port (openssl
s_client, imaplib.starttls, curl imap:// --ssl-reqd), implicit TLS on the
imaps port (imaplib.IMAP4_SSL, openssl s_client, curl imaps://), the
default policy (no passwords in the clear: LOGINDISABLED, PRIVACYREQUIRED),
and commands pipelined after STARTTLS being dropped.

The certificate is the self-signed one `init` made for mail.example.test:
clients either trust it explicitly (cafile) or do not verify (--insecure)."""
import imaplib
import re
import socket
import ssl
import subprocess

import pytest

from conftest import (DOMAIN, HOSTNAME, IO_TIMEOUT, PASSWORD, imap_connect,
                      imap_quote, make_message, smtp_deliver)

ALICE = f"alice@{DOMAIN}"
TOOL_TIMEOUT = 30


def no_verify():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def caps_of(text):
    if isinstance(text, bytes):
        text = text.decode()
    m = re.search(r"CAPABILITY ([^\]]*)", text, re.I)
    assert m, text
    return set(m.group(1).upper().split())


def run(args, input=b""):
    p = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TOOL_TIMEOUT)
    return p, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def curl(url, *extra):
    return run(["curl", "--silent", "--show-error", "--max-time", "20", "--insecure",
                "--user", f"{ALICE}:{PASSWORD}", *extra, url])


# --- the default policy: no passwords in the clear -----------------------------

def test_plain_port_advertises_logindisabled(server):
    with imap_connect(server) as c:
        caps = caps_of(c.greeting)
        assert "STARTTLS" in caps and "LOGINDISABLED" in caps, caps
        assert "AUTH=PLAIN" not in caps, caps
        r = c.cmd(f"LOGIN {ALICE} {imap_quote(PASSWORD)}")
        assert r.status == "NO" and r.text.startswith("[PRIVACYREQUIRED]"), r
        r = c.cmd("AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4")
        assert r.status == "NO", r
        c.expect("SELECT INBOX", "BAD")
    # Refused before the password was even looked at: no failure counted.
    assert "result=fail" not in server.log()


def test_starttls_then_login_raw(server):
    with imap_connect(server) as c:
        c.ok("STARTTLS")
        assert c.buf == b"", f"bytes after the OK: {c.buf!r}"
        c.tls_handshake()
        caps = caps_of(c.ok("CAPABILITY").one("CAPABILITY"))
        assert "AUTH=PLAIN" in caps and "LOGINDISABLED" not in caps, caps
        assert "STARTTLS" not in caps, caps
        c.expect("STARTTLS", "BAD")
        c.login()
        c.ok("SELECT INBOX")
    assert re.search(r"imap login .*user=alice@example.test .*result=ok", server.log())


def test_starttls_discards_pipelined_commands(server):
    """Commands sent in the clear after STARTTLS, before the handshake,
    must not be run inside TLS (the STARTTLS injection, CVE-2011-0411)."""
    with imap_connect(server) as c:
        c.send("s1 STARTTLS\r\ns2 CAPABILITY\r\ns3 LOGOUT\r\n")
        line = c.readline()
        assert line.startswith(b"s1 OK"), line
        c.buf = b""                     # the plain-text rest is not TLS
        c.tls_handshake()
        assert c.silent(1.0), f"pipelined command answered under TLS: {c.buf!r}"
        c.login()
        c.ok("NOOP")


def test_imaplib_starttls(server):
    smtp_deliver(server, ALICE, make_message("over starttls"))
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    try:
        assert "LOGINDISABLED" in m.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            m.login(ALICE, PASSWORD)
        typ, _ = m.starttls(ssl_context=no_verify())
        assert typ == "OK"
        assert "AUTH=PLAIN" in m.capabilities and "LOGINDISABLED" not in m.capabilities
        typ, _ = m.login(ALICE, PASSWORD)
        assert typ == "OK"
        typ, data = m.select("INBOX")
        assert data == [b"1"]
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        assert data[0][1] == server.get(ALICE, 1)
    finally:
        m.logout()


def test_certificate_verifies_for_hostname(server):
    """The certificate of `init` names the host: a client that trusts it
    can verify the server by name (imaps and STARTTLS)."""
    ctx = ssl.create_default_context(cafile=server.inst.cert)
    raw = socket.create_connection(("127.0.0.1", server.imaps_port), timeout=IO_TIMEOUT)
    with ctx.wrap_socket(raw, server_hostname=HOSTNAME) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        greeting = s.recv(4096)
        assert greeting.startswith(b"* OK"), greeting
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    try:
        ctx = ssl.create_default_context(cafile=server.inst.cert)
        m.host = HOSTNAME           # the name imaplib verifies against
        m.starttls(ssl_context=ctx)
        assert m.login(ALICE, PASSWORD)[0] == "OK"
    finally:
        m.logout()


# --- implicit TLS -----------------------------------------------------------------

def test_imaps_imaplib(server):
    msg = make_message("over imaps", ["secret"])
    smtp_deliver(server, ALICE, msg)
    m = imaplib.IMAP4_SSL("127.0.0.1", server.imaps_port, ssl_context=no_verify(),
                          timeout=IO_TIMEOUT)
    try:
        assert "AUTH=PLAIN" in m.capabilities and "LOGINDISABLED" not in m.capabilities
        typ, _ = m.login(ALICE, PASSWORD)
        assert typ == "OK"
        typ, data = m.select("INBOX")
        assert data == [b"1"]
        typ, data = m.uid("FETCH", "1", "(BODY.PEEK[])")
        assert data[0][1] == server.get(ALICE, 1)
        assert data[0][1].endswith(msg)
        typ, data = m.append("Drafts", "(\\Draft)", None, make_message("draft via imaps"))
        assert typ == "OK"
    finally:
        m.logout()
    assert server.count(ALICE, "Drafts") == 1


def test_imaps_greeting_capabilities(server):
    with imap_connect(server, tls=True) as c:
        greet = caps_of(c.greeting)
        caps = caps_of(c.ok("CAPABILITY").one("CAPABILITY"))
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
        # A client that believes the greeting (RFC 9051 7.2.2) must not
        # be told that login is disabled on the TLS port.
        assert greet == caps, (greet, caps)


def test_imaps_starttls_refused(server):
    with imap_connect(server, tls=True) as c:
        c.expect("STARTTLS", "BAD")
        c.login()
        c.ok("SELECT INBOX")


def test_imaps_plain_client_gets_nothing_useful(server):
    """A client that speaks plain text to the imaps port does not get an
    IMAP greeting, and the server survives."""
    s = socket.create_connection(("127.0.0.1", server.imaps_port), timeout=5)
    try:
        s.sendall(b"a1 LOGIN alice x\r\n")
        try:
            data = s.recv(4096)
        except (socket.timeout, ConnectionResetError):
            data = b""
        assert not data.startswith(b"* OK"), data
    finally:
        s.close()
    with imap_connect(server, tls=True) as c:
        c.login()


# --- openssl s_client --------------------------------------------------------------

def s_client_script():
    return (f"a1 LOGIN {ALICE} {imap_quote(PASSWORD)}\r\n"
            "a2 SELECT INBOX\r\n"
            "a3 FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])\r\n"
            "a4 LOGOUT\r\n").encode()


def check_s_client_output(p, out, err):
    assert "a1 OK" in out, out + err
    assert re.search(r"^\* 1 EXISTS", out, re.M), out
    assert "Subject: via s_client" in out, out
    assert re.search(r"^\* BYE", out, re.M) and "a4 OK" in out, out
    # The server ends TLS properly (close_notify) after LOGOUT.
    assert "unexpected eof" not in err, err
    assert p.returncode == 0, out + err


def test_openssl_s_client_starttls(server):
    smtp_deliver(server, ALICE, make_message("via s_client"))
    p, out, err = run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.imap_port}",
                       "-starttls", "imap", "-servername", HOSTNAME,
                       "-CAfile", server.inst.cert, "-verify_return_error",
                       "-verify_hostname", HOSTNAME, "-quiet", "-ign_eof"],
                      input=s_client_script())
    assert "verify return:1" in err, err
    check_s_client_output(p, out, err)


def test_openssl_s_client_imaps(server):
    smtp_deliver(server, ALICE, make_message("via s_client"))
    p, out, err = run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.imaps_port}",
                       "-servername", HOSTNAME, "-CAfile", server.inst.cert,
                       "-verify_return_error", "-quiet", "-ign_eof"],
                      input=s_client_script())
    assert re.search(r"^\* OK ", out, re.M), out
    check_s_client_output(p, out, err)


# --- curl ----------------------------------------------------------------------

def test_curl_imap_starttls_fetch(server):
    msg = make_message("for curl", ["line one", "line two"])
    smtp_deliver(server, ALICE, msg)
    p, out, err = curl(f"imap://127.0.0.1:{server.imap_port}/INBOX;UID=1", "--ssl-reqd")
    assert p.returncode == 0, err
    assert p.stdout == server.get(ALICE, 1)


def test_curl_imap_without_tls_cannot_log_in(server):
    smtp_deliver(server, ALICE, make_message("not for plain curl"))
    p, out, err = curl(f"imap://127.0.0.1:{server.imap_port}/INBOX;UID=1")
    assert p.returncode != 0, out
    assert "not for plain curl" not in out


def test_curl_imaps_list_search_fetch(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"curl {i}", [f"body {i}"]))
    base = f"imaps://127.0.0.1:{server.imaps_port}"
    p, out, err = curl(base + "/")
    assert p.returncode == 0, err
    names = re.findall(r'^\* LIST \([^)]*\) "/" (\S+)', out, re.M)
    assert set(names) >= {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}, out
    p, out, err = curl(base + "/INBOX?SUBJECT%20%22curl%201%22")
    assert p.returncode == 0, err
    assert out.strip() == "* SEARCH 2", out
    p, out, err = curl(base + "/INBOX;UID=3;SECTION=TEXT")
    assert p.returncode == 0, err
    assert p.stdout == b"body 2\r\n"
    p, out, err = curl(base + "/INBOX", "--request", "EXAMINE INBOX")
    assert p.returncode == 0 and re.search(r"^\* 3 EXISTS", out, re.M), out + err


def test_curl_imaps_append(server, tmp_path):
    msg = make_message("uploaded by curl", ["uploaded body"])
    f = tmp_path / "msg.eml"
    f.write_bytes(msg)
    p, out, err = curl(f"imaps://127.0.0.1:{server.imaps_port}/Sent", "--upload-file", str(f))
    assert p.returncode == 0, err
    rows = server.messages(ALICE, "Sent")
    assert [r[4] for r in rows] == ["uploaded by curl"]
    assert server.get(ALICE, rows[0][0], "Sent") == msg


def test_curl_imaps_wrong_password(server):
    p = subprocess.run(["curl", "--silent", "--max-time", "20", "--insecure", "--user",
                        f"{ALICE}:wrong", f"imaps://127.0.0.1:{server.imaps_port}/"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TOOL_TIMEOUT)
    assert p.returncode == 67, p     # CURLE_LOGIN_DENIED
