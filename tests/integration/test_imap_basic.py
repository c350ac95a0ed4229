"""IMAP basics with imaplib and a raw socket: greeting and capabilities,
LOGIN and AUTHENTICATE PLAIN (SASL-IR and continuation), failed logins
(AUTHENTICATIONFAILED, the delay, the block after auth.max_failures),
SELECT/EXAMINE responses, NOOP, LOGOUT, NAMESPACE, ID, ENABLE, CLOSE,
UNSELECT, pipelining, and the session limits and login timeout.

Plain-text login is allowed here (imap.allow_plaintext=loopback) so that
the raw client can log in; test_imap_tls.py covers the default."""
import base64
import imaplib
import re
import time

import pytest

from conftest import (DOMAIN, IO_TIMEOUT, PASSWORD, imap_connect, imap_login,
                      imap_quote, make_message, smtp_deliver)

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback",
                                   "auth.failure_delay": "0"})

# The list (APPENDLIMIT has a value, checked separately).
REQUIRED_CAPS = {"IMAP4REV1", "IMAP4REV2", "LITERAL+", "ENABLE", "IDLE",
                 "NAMESPACE", "ID", "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN",
                 "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "ESEARCH",
                 "CONDSTORE", "QRESYNC", "STATUS=SIZE"}
PRELOGIN_CAPS = {"STARTTLS", "AUTH=PLAIN", "SASL-IR"}


def caps_of(text):
    """The capability names of a CAPABILITY response or [CAPABILITY ...]
    code, upper-cased."""
    if isinstance(text, bytes):
        text = text.decode()
    m = re.search(r"CAPABILITY ([^\]]*)", text, re.I)
    assert m, text
    return set(m.group(1).upper().split())


def plain_ir(user, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


def status_code(resp):
    """[CODE ...] at the start of a tagged reply's text, or None."""
    m = re.match(r"\[([A-Z-]+)", resp.text)
    return m.group(1) if m else None


# --- greeting and capabilities ----------------------------------------------

def test_greeting_and_capabilities_before_login(server):
    with imap_connect(server) as c:
        assert c.greeting.startswith(b"* OK [CAPABILITY "), c.greeting
        greet = caps_of(c.greeting)
        r = c.ok("CAPABILITY")
        caps = caps_of(r.one("CAPABILITY"))
        assert greet == caps
        missing = (REQUIRED_CAPS | PRELOGIN_CAPS) - caps
        assert not missing, f"missing {missing} in {caps}"
        # Loopback with allow_plaintext: login is allowed in the clear.
        assert "LOGINDISABLED" not in caps
        limit = [x for x in caps if x.startswith("APPENDLIMIT=")]
        assert len(limit) == 1 and int(limit[0].split("=")[1]) > 0, caps


def test_capabilities_after_login(server):
    with imap_connect(server) as c:
        r = c.login()
        in_ok = caps_of(r.text)
        caps = caps_of(c.ok("CAPABILITY").one("CAPABILITY"))
        assert in_ok == caps
        assert not (REQUIRED_CAPS - caps), REQUIRED_CAPS - caps
        # Login-only capabilities are gone once logged in.
        for gone in ("STARTTLS", "AUTH=PLAIN", "SASL-IR", "LOGINDISABLED"):
            assert gone not in caps, caps


@pytest.mark.server(**{"server.max_message_size": "123456"})
def test_appendlimit_is_max_message_size(server):
    with imap_login(server) as c:
        caps = caps_of(c.ok("CAPABILITY").one("CAPABILITY"))
        assert "APPENDLIMIT=123456" in caps, caps


def test_capability_takes_no_arguments(server):
    with imap_connect(server) as c:
        c.expect("CAPABILITY FOO", "BAD")
        c.ok("NOOP")


# --- LOGIN and AUTHENTICATE --------------------------------------------------

def test_imaplib_login_select_logout(server):
    smtp_deliver(server, ALICE, make_message("for imaplib"))
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    try:
        assert "IMAP4REV1" in m.capabilities
        typ, data = m.login(ALICE, PASSWORD)
        assert typ == "OK", data
        typ, data = m.select("INBOX")
        assert (typ, data) == ("OK", [b"1"])
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and data[0][1] == b"Subject: for imaplib\r\n\r\n", data
    finally:
        typ, _ = m.logout()
    assert typ == "BYE"


def test_login_with_literals(server):
    """LOGIN with the user and password as synchronizing literals."""
    with imap_connect(server) as c:
        user, pw = ALICE.encode(), PASSWORD.encode()
        c.send(f"l1 LOGIN {{{len(user)}}}\r\n")
        assert c.readline().startswith(b"+")
        c.send(user + f" {{{len(pw)}}}\r\n".encode())
        assert c.readline().startswith(b"+")
        c.send(pw + b"\r\n")
        r = c.read_response("l1")
        assert r.status == "OK", r
        c.ok("SELECT INBOX")


def test_login_wrong_state_after_login(server):
    with imap_login(server) as c:
        c.expect(f"LOGIN {ALICE} {imap_quote(PASSWORD)}", "BAD")
        c.expect(f"AUTHENTICATE PLAIN {plain_ir(ALICE, PASSWORD)}", "BAD")
        c.ok("NOOP")


def test_login_is_case_insensitive_on_the_address(server):
    with imap_connect(server) as c:
        c.login(ALICE.upper(), PASSWORD)
        c.ok("SELECT INBOX")


def test_authenticate_plain_sasl_ir(server):
    with imap_connect(server) as c:
        r = c.ok(f"AUTHENTICATE PLAIN {plain_ir(ALICE, PASSWORD)}")
        # No continuation: the initial response was used.
        assert not r.untagged, r
        assert "IMAP4REV2" in caps_of(r.text)
        c.ok("SELECT INBOX")
    assert re.search(r"imap login .*user=alice@example.test mech=plain result=ok",
                     server.log())
    assert PASSWORD not in server.log()


def test_authenticate_plain_continuation_raw(server):
    with imap_connect(server) as c:
        c.send("x1 AUTHENTICATE PLAIN\r\n")
        line = c.readline()
        assert line in (b"+", b"+ "), line
        c.send(plain_ir(ALICE, PASSWORD) + "\r\n")
        r = c.read_response("x1")
        assert r.status == "OK", r
        c.ok("SELECT INBOX")


def test_authenticate_plain_imaplib(server):
    """imaplib's authenticate() sends no initial response: it answers the
    server's continuation."""
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    try:
        typ, data = m.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{PASSWORD}".encode())
        assert typ == "OK", data
        assert m.state == "AUTH"
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
    finally:
        m.logout()


def test_authenticate_plain_authzid_self_ok_other_refused(server):
    with imap_connect(server) as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {plain_ir(ALICE, PASSWORD, authzid=BOB)}")
        assert r.status == "NO", r
        c.expect("SELECT INBOX", "BAD")         # still not logged in
        c.ok(f"AUTHENTICATE PLAIN {plain_ir(ALICE, PASSWORD, authzid=ALICE)}")
        c.ok("SELECT INBOX")


def test_authenticate_cancel_and_bad_base64(server):
    with imap_connect(server) as c:
        c.send("x1 AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith(b"+")
        c.send("*\r\n")
        r = c.read_response("x1")
        assert r.status == "BAD", r
        c.expect("AUTHENTICATE PLAIN !!!notbase64", "BAD")
        r = c.cmd("AUTHENTICATE PLAIN " + base64.b64encode(b"no nuls here").decode())
        assert r.status == "NO" and status_code(r) == "AUTHENTICATIONFAILED", r
        c.expect("SELECT INBOX", "BAD")
        c.ok(f"AUTHENTICATE PLAIN {plain_ir(ALICE, PASSWORD)}")


def test_authenticate_unknown_mechanism(server):
    with imap_connect(server) as c:
        r = c.cmd("AUTHENTICATE CRAM-MD5")
        assert r.status in ("NO", "BAD"), r
        assert not r.find("+"), "a continuation for an unsupported mechanism"
        c.login()


# --- failed logins -----------------------------------------------------------

def test_failed_login_authenticationfailed(server):
    with imap_connect(server) as c:
        wrong = c.cmd(f"LOGIN {ALICE} wrong-password")
        unknown = c.cmd(f"LOGIN nobody@{DOMAIN} {imap_quote(PASSWORD)}")
        sasl = c.cmd(f"AUTHENTICATE PLAIN {plain_ir(ALICE, 'nope')}")
        for r in (wrong, unknown, sasl):
            assert r.status == "NO" and status_code(r) == "AUTHENTICATIONFAILED", r
        # No user enumeration: an unknown user gets the same answer.
        assert wrong.text == unknown.text
        c.expect("SELECT INBOX", "BAD")
        # The connection goes on and a right password works.
        c.login()
        c.ok("SELECT INBOX")
    log = server.log()
    assert "wrong-password" not in log


@pytest.mark.server(**{"auth.failure_delay": "2s"})
def test_failed_login_is_delayed(server):
    with imap_connect(server) as c:
        t0 = time.monotonic()
        r = c.cmd(f"LOGIN {ALICE} wrong-password", timeout=15)
        took = time.monotonic() - t0
        assert r.status == "NO", r
        assert took >= 1.5, f"failure answered after {took:.2f}s, delay is 2s"
        # A good login is not delayed like that.
        t0 = time.monotonic()
        c.login()
        assert time.monotonic() - t0 < 1.5


@pytest.mark.server(**{"auth.max_failures": "3", "auth.block_time": "2s"})
def test_max_failures_blocks_the_address_for_a_while(server):
    for _ in range(3):
        with imap_connect(server) as c:
            r = c.cmd(f"LOGIN {ALICE} wrong-password")
            assert status_code(r) == "AUTHENTICATIONFAILED", r
    # Blocked now: even the right password is refused, by every mechanism.
    with imap_connect(server) as c:
        r = c.cmd(f"LOGIN {ALICE} {imap_quote(PASSWORD)}")
        assert r.status == "NO" and status_code(r) != "AUTHENTICATIONFAILED", r
        r = c.cmd(f"AUTHENTICATE PLAIN {plain_ir(ALICE, PASSWORD)}")
        assert r.status == "NO", r
        c.expect("SELECT INBOX", "BAD")
    # ... for a while: within a bounded time the block ends.
    deadline = time.monotonic() + 20
    while True:
        with imap_connect(server) as c:
            r = c.cmd(f"LOGIN {ALICE} {imap_quote(PASSWORD)}")
            if r.status == "OK":
                break
        assert time.monotonic() < deadline, f"still blocked after 20s: {r}"
        time.sleep(0.25)


@pytest.mark.server(**{"auth.max_failures": "2", "auth.block_time": "1h"})
def test_block_applies_to_imaps_too(server):
    for _ in range(2):
        with imap_connect(server) as c:
            c.expect(f"LOGIN {ALICE} wrong", "NO")
    with imap_connect(server, tls=True) as c:
        r = c.cmd(f"LOGIN {ALICE} {imap_quote(PASSWORD)}")
        assert r.status == "NO", r


# --- SELECT and EXAMINE -----------------------------------------------------

def select_info(r):
    """The SELECT/EXAMINE data as a dict."""
    raw = r.raw.decode("utf-8", "replace")
    info = {}
    m = re.search(r"^\* FLAGS \(([^)]*)\)", raw, re.M)
    info["flags"] = m.group(1).split() if m else None
    m = re.search(r"^\* OK \[PERMANENTFLAGS \(([^)]*)\)\]", raw, re.M)
    info["permanentflags"] = m.group(1).split() if m else None
    for key, pat in (("exists", r"^\* (\d+) EXISTS"), ("uidvalidity", r"\[UIDVALIDITY (\d+)\]"),
                     ("uidnext", r"\[UIDNEXT (\d+)\]"), ("highestmodseq", r"\[HIGHESTMODSEQ (\d+)\]"),
                     ("unseen", r"\[UNSEEN (\d+)\]")):
        m = re.search(pat, raw, re.M)
        info[key] = int(m.group(1)) if m else None
    return info


def test_select_responses(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"select {i}"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        c.ok("UNSELECT")
        r = c.ok("SELECT INBOX")
        assert r.text.startswith("[READ-WRITE]"), r
        info = select_info(r)
        for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"):
            assert f in info["flags"], info
        assert "\\*" in info["permanentflags"], info
        assert info["exists"] == 3
        assert info["uidnext"] == 4
        assert info["unseen"] == 2, "first unseen is message 2"
        assert info["uidvalidity"] and info["uidvalidity"] > 0
        assert info["highestmodseq"] and info["highestmodseq"] >= 1
        st = c.ok("STATUS INBOX (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)")
        s = st.one("STATUS").decode()
        assert f"UIDVALIDITY {info['uidvalidity']}" in s and "UIDNEXT 4" in s, s
        assert f"HIGHESTMODSEQ {info['highestmodseq']}" in s and "MESSAGES 3" in s, s


def test_examine_is_read_only(server):
    smtp_deliver(server, ALICE, make_message("examine me"))
    with imap_login(server) as c:
        r = c.ok("EXAMINE INBOX")
        assert r.text.startswith("[READ-ONLY]"), r
        info = select_info(r)
        assert info["exists"] == 1 and info["permanentflags"] == [], info
        # Reading the body does not set \Seen in a read-only mailbox.
        r = c.ok("FETCH 1 (BODY[])")
        assert b"\\Seen" not in r.raw, r
        r = c.ok("FETCH 1 (FLAGS)")
        assert b"\\Seen" not in r.one("1 FETCH"), r
        for cmd in ("STORE 1 +FLAGS (\\Flagged)", "EXPUNGE", "MOVE 1 Archive"):
            r = c.cmd(cmd)
            assert r.status == "NO" and status_code(r) == "READ-ONLY", (cmd, r)
        c.ok("COPY 1 Archive")          # copying out is allowed
    assert server.count(ALICE) == 1 and server.count(ALICE, "Archive") == 1
    assert server.mailboxes(ALICE)["INBOX"][1] == 1


def test_select_nonexistent_leaves_selected_state(server):
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.cmd("SELECT NoSuchBox")
        assert r.status == "NO" and status_code(r) == "NONEXISTENT", r
        # RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected.
        c.expect("FETCH 1 FLAGS", "BAD")


def test_select_is_case_insensitive_for_inbox_only(server):
    with imap_login(server) as c:
        c.ok("SELECT iNbOx")
        c.ok("SELECT Archive")
        c.expect("SELECT archive", "NO")


def test_reselect_sends_closed(server):
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.ok("SELECT Archive")
        closed = [u for u in r.untagged if b"[CLOSED]" in u]
        assert closed, r
        # [CLOSED] comes before the new mailbox's data (RFC 7162 3.2.11).
        assert r.untagged.index(closed[0]) < r.untagged.index(r.one("FLAGS")), r


def test_commands_need_a_selected_mailbox(server):
    with imap_login(server) as c:
        for cmd in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL",
                    "COPY 1 Archive", "EXPUNGE", "CLOSE", "UNSELECT", "UID FETCH 1 FLAGS"):
            c.expect(cmd, "BAD")
        c.ok("NOOP")


# --- CLOSE, UNSELECT, LOGOUT, NOOP ------------------------------------------

def test_close_expunges_unselect_does_not(server):
    for i in range(2):
        smtp_deliver(server, ALICE, make_message(f"close {i}"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        r = c.ok("UNSELECT")
        assert not r.find("1 EXPUNGE"), r
        assert server.count(ALICE) == 2
        c.ok("SELECT INBOX")
        r = c.ok("CLOSE")
        # CLOSE expunges silently (RFC 9051 6.4.1).
        assert not r.find("1 EXPUNGE"), r
        c.expect("FETCH 1 FLAGS", "BAD")
    rows = server.messages(ALICE)
    assert [x[4] for x in rows] == ["close 1"]


def test_close_after_examine_does_not_expunge(server):
    smtp_deliver(server, ALICE, make_message("keep me"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXAMINE INBOX")
        c.ok("CLOSE")
    assert server.count(ALICE) == 1


def test_logout(server):
    with imap_login(server) as c:
        r = c.ok("LOGOUT")
        assert r.one("BYE")
        assert c.closed(5), "the server did not close after LOGOUT"
        assert c.buf == b""


def test_noop_before_and_after_login(server):
    with imap_connect(server) as c:
        c.ok("NOOP")
        c.login()
        c.ok("NOOP")
        c.ok("SELECT INBOX")
        c.ok("NOOP")


# --- NAMESPACE, ID, ENABLE ---------------------------------------------------

def test_namespace(server):
    with imap_login(server) as c:
        r = c.ok("NAMESPACE")
        assert r.one("NAMESPACE") == b'NAMESPACE (("" "/")) NIL NIL', r
        c.expect("NAMESPACE x", "BAD")


def test_id_before_and_after_login(server):
    with imap_connect(server) as c:
        r = c.ok('ID ("name" "pytest" "version" "1.0")')
        assert re.match(rb'ID \("name" "Correio"', r.one("ID")), r
        c.login()
        r = c.ok("ID NIL")
        assert r.one("ID").startswith(b"ID ("), r
        # RFC 2971 3.3: at most 30 field-value pairs.
        many = " ".join(f'"k{i}" "v"' for i in range(31))
        c.expect(f"ID ({many})", "BAD")
        c.ok("NOOP")
    # The client's ID is logged (escaped).
    assert "pytest" in server.log()


def test_enable(server):
    with imap_connect(server) as c:
        c.expect("ENABLE CONDSTORE", "BAD")     # RFC 5161 3.1: after login only
        c.login()
        r = c.ok("ENABLE CONDSTORE X-UNKNOWN")
        assert r.one("ENABLED") == b"ENABLED CONDSTORE", r
        c.expect("ENABLE", "BAD")
        r = c.ok("ENABLE QRESYNC UTF8=ACCEPT")
        got = set(r.one("ENABLED").split()[1:])
        assert got == {b"QRESYNC", b"UTF8=ACCEPT"}, r
        # CONDSTORE is on: FETCH FLAGS responses to STORE carry MODSEQ.
        smtp_deliver(server, ALICE, make_message("enable"))
        c.ok("SELECT INBOX")
        r = c.ok("STORE 1 +FLAGS (\\Flagged)")
        assert re.search(rb"MODSEQ \(\d+\)", r.one("1 FETCH")), r


def test_enable_imap4rev2(server):
    with imap_login(server) as c:
        r = c.ok("ENABLE IMAP4rev2")
        assert r.one("ENABLED").upper() == b"ENABLED IMAP4REV2", r
        r = c.ok("SELECT INBOX")
        # RFC 9051 7.3.2: no RECENT in IMAP4rev2.
        assert not r.find("0 RECENT"), r


# --- pipelining --------------------------------------------------------------

def test_pipelined_commands_answered_in_order(server):
    smtp_deliver(server, ALICE, make_message("pipelined"))
    with imap_connect(server) as c:
        c.send(f"p1 LOGIN {ALICE} {imap_quote(PASSWORD)}\r\n"
               "p2 SELECT INBOX\r\np3 FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (Subject)])\r\n"
               "p4 NOOP\r\np5 LOGOUT\r\n")
        rs = [c.read_response(f"p{i}") for i in range(1, 6)]
        assert [r.status for r in rs] == ["OK"] * 5, rs
        assert b"Subject: pipelined" in rs[2].one("1 FETCH")
        assert c.closed(5)


# --- session limits ----------------------------------------------------------

@pytest.mark.server(**{"imap.max_sessions_per_user": "2"})
def test_max_sessions_per_user(server):
    a, b = imap_login(server), imap_login(server)
    with a, b, imap_connect(server) as c:
        r = c.cmd(f"LOGIN {ALICE} {imap_quote(PASSWORD)}")
        assert r.status == "NO" and status_code(r) == "LIMIT", r
        # Other users are not affected.
        with imap_login(server, "bob") as d:
            d.ok("SELECT INBOX")
        # When one of alice's sessions ends, she can log in again.
        a.ok("LOGOUT")
        assert a.closed(5)
        deadline = time.monotonic() + 10
        while c.cmd(f"LOGIN {ALICE} {imap_quote(PASSWORD)}").status != "OK":
            assert time.monotonic() < deadline, "the freed session was not counted"
            time.sleep(0.1)
        c.ok("SELECT INBOX")
        b.ok("NOOP")


@pytest.mark.server(**{"imap.max_sessions": "2"})
def test_max_sessions(server):
    with imap_connect(server) as a, imap_connect(server) as b:
        with imap_connect(server, greeting=False) as c:
            line = c.readline()
            assert line.startswith(b"* BYE"), line
            assert c.closed(5)
        a.ok("NOOP")
        b.login()


@pytest.mark.server(**{"imap.login_timeout": "1s"})
def test_login_timeout(server):
    with imap_connect(server) as c, imap_login(server) as logged:
        t0 = time.monotonic()
        assert c.closed(10), "not closed after the login timeout"
        assert time.monotonic() - t0 < 8
        assert c.buf.startswith(b"* BYE"), c.buf
        # The logged-in session has the (long) session timeout instead.
        logged.ok("NOOP")
