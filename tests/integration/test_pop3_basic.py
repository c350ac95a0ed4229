"""POP3 basics with poplib and a raw socket: greeting and CAPA, USER/PASS
and AUTH PLAIN, failed logins (the [AUTH] code, the delay, the block
after auth.max_failures), every TRANSACTION command, the UPDATE state
at QUIT, the maildrop lock ([IN-USE]), pipelining, and the session
limits and login timeout.

Plain-text login is allowed here (pop3.allow_plaintext=loopback);
test_pop3_tls.py covers the default."""
import base64
import poplib
import re
import socket
import time

import pytest

from conftest import (DOMAIN, IO_TIMEOUT, PASSWORD, make_message, pop3_connect,
                      pop3_login, smtp_deliver, split_stored)

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
pytestmark = pytest.mark.server(**{"pop3.allow_plaintext": "loopback",
                                   "auth.failure_delay": "0"})

# RFC 2449 capabilities the issue asks for, before login on a plain
# connection with the loopback allowance.
REQUIRED_CAPA = {"TOP", "UIDL", "USER", "SASL PLAIN", "RESP-CODES",
                 "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "STLS"}


def capa(c):
    _, lines = c.multi("CAPA")
    return [l.decode() for l in lines]


def deliver(server, n, rcpt=ALICE, prefix="msg"):
    """Delivers N messages over SMTP; returns them as sent."""
    msgs = []
    for i in range(n):
        m = make_message(f"{prefix} {i + 1}", body_lines=[f"body {i + 1}"])
        smtp_deliver(server, rcpt, m)
        msgs.append(m)
    return msgs


def plain(user, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


# --- greeting and CAPA -------------------------------------------------------

def test_greeting_and_capa(server):
    with pop3_connect(server) as c:
        assert c.greeting.startswith(b"+OK "), c.greeting
        caps = capa(c)
        assert not (REQUIRED_CAPA - set(caps)), caps
        impl = [x for x in caps if x.startswith("IMPLEMENTATION ")]
        assert impl == ["IMPLEMENTATION Correio"], caps
        c.login()
        after = capa(c)
        # the login capabilities are gone once logged in
        for gone in ("USER", "SASL PLAIN", "STLS"):
            assert gone not in after, after
        assert {"TOP", "UIDL", "PIPELINING"} <= set(after)


def test_poplib_session(server):
    msgs = deliver(server, 3)
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=IO_TIMEOUT)
    try:
        assert p.getwelcome().startswith(b"+OK")
        assert "UIDL" in p.capa()
        p.user(ALICE)
        assert p.pass_(PASSWORD).startswith(b"+OK")
        stored = [server.get(ALICE, uid) for uid in (1, 2, 3)]
        count, size = p.stat()
        assert count == 3 and size == sum(len(s) for s in stored)
        resp, listing, _ = p.list()
        assert listing == [f"{i + 1} {len(s)}".encode()
                           for i, s in enumerate(stored)]
        for i in range(3):
            resp, lines, octets = p.retr(i + 1)
            assert resp == f"+OK {len(stored[i])} octets".encode()
            assert b"\r\n".join(lines) + b"\r\n" == stored[i]
            assert split_stored(stored[i])[2] == msgs[i]
        assert p.noop().startswith(b"+OK")
    finally:
        assert p.quit().startswith(b"+OK")
    # nothing was deleted
    assert server.count(ALICE) == 3


def test_list_and_uidl_of_one(server):
    deliver(server, 2)
    with pop3_login(server) as c:
        size2 = len(server.get(ALICE, 2))
        assert c.ok("LIST 2") == f"+OK 2 {size2}".encode()
        r = c.ok("UIDL 2")
        m = re.fullmatch(rb"\+OK 2 (\d+)\.2", r)
        assert m, r
        _, lines = c.multi("UIDL")
        assert lines == [b"1 " + m.group(1) + b".1", b"2 " + m.group(1) + b".2"]
        c.err("LIST 3")
        c.err("UIDL 0")
        c.err("RETR 3")


def test_uidl_values_are_valid_and_stable(server):
    """RFC 1939 7: unique-id is 1 to 70 characters 0x21..0x7E, the same
    in every session."""
    deliver(server, 3)
    with pop3_login(server) as c:
        _, first = c.multi("UIDL")
        c.ok("QUIT")
    with pop3_login(server) as c:
        _, again = c.multi("UIDL")
        c.ok("DELE 1")
        c.ok("QUIT")
    assert first == again
    for line in first:
        uid = line.split(b" ")[1]
        assert 1 <= len(uid) <= 70 and all(0x21 <= b <= 0x7e for b in uid)
    with pop3_login(server) as c:
        _, after = c.multi("UIDL")
    # the numbers change, the unique ids do not
    assert [l.split()[1] for l in after] == [l.split()[1] for l in first[1:]]
    assert [l.split()[0] for l in after] == [b"1", b"2"]


def test_top(server):
    body = [f"line {i}" for i in range(1, 6)]
    smtp_deliver(server, ALICE, make_message("top", body_lines=body))
    stored = server.get(ALICE, 1)
    header = stored.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    with pop3_login(server) as c:
        for n in (0, 1, 3, 5, 100):
            _, lines = c.multi(f"TOP 1 {n}")
            want = header + b"".join(l.encode() + b"\r\n" for l in body[:n])
            assert b"".join(l + b"\r\n" for l in lines) == want, n
        c.err("TOP 1")
        c.err("TOP 1 x")
        c.err("TOP 1 -1")
        c.err("TOP 2 1")
        # TOP does not count as a retrieval and changes nothing
        assert c.retr(1) == stored


def test_dele_rset_and_update(server):
    deliver(server, 4)
    sizes = [len(server.get(ALICE, uid)) for uid in (1, 2, 3, 4)]
    with pop3_login(server) as c:
        assert c.ok("DELE 2") == b"+OK Message 2 deleted"
        c.ok("DELE 4")
        assert c.ok("STAT") == f"+OK 2 {sizes[0] + sizes[2]}".encode()
        # deleted messages are not listed, and cannot be used
        _, lines = c.multi("LIST")
        assert lines == [f"1 {sizes[0]}".encode(), f"3 {sizes[2]}".encode()]
        _, lines = c.multi("UIDL")
        assert [l.split()[0] for l in lines] == [b"1", b"3"]
        for cmd in ("RETR 2", "TOP 2 0", "DELE 2", "LIST 4", "UIDL 4"):
            assert b"deleted" in c.err(cmd), cmd
        # RSET: all of them back
        assert c.ok("RSET") == f"+OK 4 messages ({sum(sizes)} octets)".encode()
        assert c.ok("STAT") == f"+OK 4 {sum(sizes)}".encode()
        c.ok("DELE 1")
        c.ok("DELE 3")
        # nothing is deleted before QUIT
        assert server.count(ALICE) == 4
        assert c.ok("QUIT") == b"+OK Bye, 2 deleted"
        assert c.closed()
    assert [m[0] for m in server.messages(ALICE)] == [2, 4]


def test_dropped_connection_deletes_nothing(server):
    """RFC 1939 6: without QUIT there is no UPDATE state."""
    deliver(server, 3)
    c = pop3_login(server)
    c.ok("DELE 1")
    c.ok("DELE 2")
    c.close()
    # the lock goes with the session: a new one logs in and sees all
    for _ in range(50):
        try:
            with pop3_login(server) as c2:
                assert c2.ok("STAT").startswith(b"+OK 3 ")
                c2.ok("QUIT")
            break
        except AssertionError as e:
            assert "IN-USE" in str(e), e
            time.sleep(0.1)
    else:
        raise AssertionError("the maildrop stayed locked")
    assert server.count(ALICE) == 3
    assert "reason=\"disconnected\"" in server.log()


def test_quit_without_deletions_and_in_authorization(server):
    with pop3_connect(server) as c:
        assert c.ok("QUIT") == b"+OK Bye"
        assert c.closed()
    with pop3_login(server) as c:
        assert c.ok("QUIT") == b"+OK Bye"
        assert c.closed()


def test_new_mail_waits_for_the_next_session(server):
    """The maildrop is fixed at login (RFC 1939 5: message numbers stay
    valid for the whole session)."""
    deliver(server, 2)
    with pop3_login(server) as c:
        deliver(server, 1, prefix="late")
        assert c.ok("STAT").startswith(b"+OK 2 ")
        c.err("RETR 3")
        _, lines = c.multi("LIST")
        assert len(lines) == 2
        c.ok("DELE 1")
        c.ok("QUIT")
    with pop3_login(server) as c:
        assert c.ok("STAT").startswith(b"+OK 2 ")
        assert b"Subject: late 1\r\n" in c.retr(2)


def test_empty_maildrop(server):
    with pop3_login(server) as c:
        assert c.ok("STAT") == b"+OK 0 0"
        assert c.multi("LIST")[1] == []
        assert c.multi("UIDL")[1] == []
        c.err("RETR 1")
        c.err("DELE 1")
        c.ok("RSET")
        assert c.ok("QUIT") == b"+OK Bye"


# --- login -------------------------------------------------------------------

def test_user_pass_with_spaces_in_the_password(server):
    """RFC 1939 7: PASS takes the rest of the line (the test password has
    spaces); a PASS without USER is refused."""
    with pop3_connect(server) as c:
        c.err("PASS " + PASSWORD)
        c.ok(f"USER {ALICE}")
        assert c.ok(f"PASS {PASSWORD}").startswith(b"+OK Logged in")
        assert c.err("USER x") == b"-ERR Not allowed after login"


def test_wrong_password_has_auth_code(server):
    with pop3_connect(server) as c:
        c.ok(f"USER {ALICE}")
        assert c.err("PASS wrong") == b"-ERR [AUTH] Authentication failed"
        # a new USER is needed after a failure
        c.err(f"PASS {PASSWORD}")
        c.ok(f"USER {ALICE}")
        c.ok(f"PASS {PASSWORD}")
    with pop3_connect(server) as c:
        c.ok("USER nobody@example.test")
        assert c.err("PASS x") == b"-ERR [AUTH] Authentication failed"
        c.ok(f"USER {'x' * 500}@{DOMAIN}")
        assert c.err("PASS x") == b"-ERR [AUTH] Authentication failed"
    log = server.log()
    assert "pop3 auth failed" in log and "result=fail" in log
    assert PASSWORD not in log and "PASS" not in log


def test_poplib_wrong_password(server):
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=IO_TIMEOUT)
    try:
        p.user(ALICE)
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            p.pass_("not it")
    finally:
        p.quit()


@pytest.mark.server(**{"auth.failure_delay": "1s"})
def test_failed_login_answer_is_delayed(server):
    with pop3_connect(server) as c:
        c.ok(f"USER {ALICE}")
        t0 = time.monotonic()
        c.err("PASS wrong")
        assert time.monotonic() - t0 >= 0.9


@pytest.mark.server(**{"auth.max_failures": "3", "auth.block_time": "1h"})
def test_address_blocked_after_max_failures(server):
    with pop3_connect(server) as c:
        for _ in range(3):
            c.ok(f"USER {ALICE}")
            assert b"[AUTH]" in c.err("PASS wrong")
        c.ok(f"USER {ALICE}")
        # now even the right password is refused, with SYS/TEMP
        assert c.err(f"PASS {PASSWORD}").startswith(b"-ERR [SYS/TEMP]")
        assert c.err(f"AUTH PLAIN {plain(ALICE, PASSWORD)}").startswith(
            b"-ERR [SYS/TEMP]")
    assert "result=blocked" in server.log()


def test_auth_plain_initial_response(server):
    with pop3_connect(server) as c:
        r = c.ok(f"AUTH PLAIN {plain(ALICE, PASSWORD)}")
        assert r.startswith(b"+OK Logged in")
        c.ok("STAT")


def test_user_then_auth_plain(server):
    """A USER name given before AUTH is replaced by the AUTH identity."""
    with pop3_connect(server) as c:
        c.ok(f"USER {BOB}")
        c.ok(f"AUTH PLAIN {plain(ALICE, PASSWORD)}")
        c.ok("QUIT")
    assert f"user={ALICE} reason=\"quit\"" in server.log()


def test_auth_plain_continuation_and_cancel(server):
    with pop3_connect(server) as c:
        assert c.cmd("AUTH PLAIN") == b"+ "
        assert c.err("*") == b"-ERR Authentication cancelled"
        assert c.cmd("auth plain") == b"+ "
        c.ok(plain(ALICE, PASSWORD))
        c.ok("STAT")


def test_auth_plain_failures(server):
    with pop3_connect(server) as c:
        assert c.err(f"AUTH PLAIN {plain(ALICE, 'wrong')}") == \
            b"-ERR [AUTH] Authentication failed"
        c.err("AUTH PLAIN not-base64!")
        assert c.cmd("AUTH PLAIN") == b"+ "
        c.err("%%%%")
        # authorization identity: only oneself
        assert b"another user" in c.err(
            f"AUTH PLAIN {plain(ALICE, PASSWORD, authzid=BOB)}")
        c.ok(f"AUTH PLAIN {plain(ALICE, PASSWORD, authzid=ALICE)}")


def test_auth_plain_empty_initial_response(server):
    """RFC 5034 4: "=" is an empty initial response: not a login."""
    with pop3_connect(server) as c:
        assert b"[AUTH]" in c.err("AUTH PLAIN =")


def test_auth_other_mechanisms_and_list(server):
    with pop3_connect(server) as c:
        assert b"Unsupported" in c.err("AUTH CRAM-MD5")
        assert b"Unsupported" in c.err("AUTH LOGIN")
        _, mechs = c.multi("AUTH")
        assert mechs == [b"PLAIN"]
        c.err("AUTH PLAIN a b")


def test_apop_is_not_offered(server):
    with pop3_connect(server) as c:
        # no <timestamp> in the greeting, and APOP is unknown
        assert b"<" not in c.greeting
        assert c.err(f"APOP {ALICE} 0123456789abcdef0123456789abcdef") == \
            b"-ERR Unknown command"


def test_maildrop_in_use(server):
    """RFC 2449 8.1.1: a second session of the same user gets [IN-USE]
    (after the password check); another user is not affected."""
    deliver(server, 1)
    with pop3_login(server) as c:
        with pop3_connect(server) as c2:
            c2.ok(f"USER {ALICE}")
            assert c2.err(f"PASS {PASSWORD}") == \
                b"-ERR [IN-USE] Mailbox is locked by another POP3 session"
            # a wrong password still gets [AUTH], not [IN-USE]
            c2.ok(f"USER {ALICE}")
            assert b"[AUTH]" in c2.err("PASS wrong")
        with pop3_login(server, "bob") as b:
            b.ok("STAT")
        c.ok("DELE 1")
        c.ok("QUIT")
        assert c.closed()
    with pop3_login(server) as c:
        assert c.ok("STAT") == b"+OK 0 0"
    assert "result=in-use" in server.log()


def test_in_use_wins_by_order_of_checks(server):
    """Two logins of one user at the same moment: exactly one gets the
    maildrop."""
    conns = [pop3_connect(server) for _ in range(4)]
    try:
        for c in conns:
            c.send(f"USER {ALICE}\r\nPASS {PASSWORD}\r\n")
        results = []
        for c in conns:
            assert c.readline().startswith(b"+OK")
            results.append(c.readline())
        assert sum(r.startswith(b"+OK") for r in results) == 1, results
        assert sum(b"[IN-USE]" in r for r in results) == 3, results
    finally:
        for c in conns:
            c.close()


# --- pipelining and states ---------------------------------------------------

def test_pipelining(server):
    """RFC 2449 6.6: commands sent together are answered in order."""
    deliver(server, 3)
    stored = [server.get(ALICE, uid) for uid in (1, 2, 3)]
    with pop3_connect(server) as c:
        c.send(f"CAPA\r\nUSER {ALICE}\r\nPASS {PASSWORD}\r\nSTAT\r\n"
               "LIST\r\nRETR 1\r\nTOP 2 0\r\nRETR 3\r\nDELE 2\r\nNOOP\r\n"
               "UIDL 3\r\nQUIT\r\n")
        assert c.readline().startswith(b"+OK")
        assert c.read_multi()
        assert c.readline().startswith(b"+OK")
        assert c.readline().startswith(b"+OK Logged in")
        assert c.readline().startswith(b"+OK 3 ")
        assert c.readline().startswith(b"+OK")
        assert len(c.read_multi()) == 3
        for i in (0, 2):
            if i == 2:
                assert c.readline().startswith(b"+OK")
                top = b"".join(l + b"\r\n" for l in c.read_multi())
                assert stored[1].startswith(top)
            assert c.readline() == f"+OK {len(stored[i])} octets".encode()
            assert b"".join(l + b"\r\n" for l in c.read_multi()) == stored[i]
        assert c.readline() == b"+OK Message 2 deleted"
        assert c.readline() == b"+OK"
        assert c.readline().startswith(b"+OK 3 ")
        assert c.readline() == b"+OK Bye, 1 deleted"
        assert c.closed()
    assert [m[0] for m in server.messages(ALICE)] == [1, 3]


def test_commands_in_the_wrong_state(server):
    with pop3_connect(server) as c:
        for cmd in ("STAT", "LIST", "UIDL", "RETR 1", "TOP 1 1", "DELE 1",
                    "RSET", "NOOP"):
            assert c.err(cmd) == b"-ERR Log in first", cmd
        c.login()
        for cmd in (f"USER {ALICE}", "PASS x", "AUTH PLAIN", "STLS"):
            assert c.err(cmd) == b"-ERR Not allowed after login", cmd
        c.ok("NOOP")


def test_commands_are_case_insensitive(server):
    deliver(server, 1)
    with pop3_connect(server) as c:
        c.ok(f"user {ALICE}")
        c.ok(f"pAsS {PASSWORD}")
        c.ok("stat")
        assert c.multi("list")[1]
        c.ok("quit")


# --- sessions ----------------------------------------------------------------

@pytest.mark.server(**{"pop3.login_timeout": "1s"})
def test_login_timeout(server):
    with pop3_connect(server) as c:
        assert c.closed(timeout=5)
        assert b"-ERR Autologout" in c.buf


@pytest.mark.server(**{"pop3.max_sessions": "2"})
def test_max_sessions(server):
    a, b = pop3_connect(server), pop3_connect(server)
    try:
        with pop3_connect(server, greeting=False) as c:
            line = c.readline()
            assert line.startswith(b"-ERR [SYS/TEMP]"), line
            assert c.closed()
        a.ok("QUIT")
        assert a.closed()
        time.sleep(0.2)
        with pop3_connect(server) as c:
            assert c.greeting.startswith(b"+OK")
    finally:
        a.close()
        b.close()


def test_session_log_lines(server):
    deliver(server, 1)
    with pop3_login(server) as c:
        c.retr(1)
        c.ok("QUIT")
    log = server.log()
    assert re.search(r"conn=\S+ pop3 connect peer=127\.0\.0\.1 tls=no", log)
    assert re.search(rf"conn=\S+ pop3 login peer=127\.0\.0\.1 "
                     rf"user={re.escape(ALICE)} mech=user result=ok", log)
    assert re.search(r"conn=\S+ pop3 close peer=127\.0\.0\.1 "
                     rf"user={re.escape(ALICE)} reason=\"quit\" retrieved=1",
                     log)


def test_many_sessions_of_different_users(server):
    deliver(server, 1, rcpt=BOB)
    deliver(server, 2, rcpt="carol@" + DOMAIN)
    sessions = [pop3_login(server, u) for u in ("alice", "bob", "carol")]
    try:
        assert [s.ok("STAT").split()[1] for s in sessions] == \
            [b"0", b"1", b"2"]
    finally:
        for s in sessions:
            s.close()


def test_quit_response_before_close_even_when_client_half_closes(server):
    deliver(server, 1)
    s = socket.create_connection(("127.0.0.1", server.pop3_port),
                                 timeout=IO_TIMEOUT)
    s.sendall(f"USER {ALICE}\r\nPASS {PASSWORD}\r\nDELE 1\r\nQUIT\r\n"
              .encode())
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    # the server may see EOF before or after it read QUIT; either way
    # the answers it gave are whole lines
    assert data.startswith(b"+OK"), data
    assert data.endswith(b"\r\n"), data
    if b"+OK Bye, 1 deleted" in data:
        assert server.count(ALICE) == 0
    else:
        assert server.count(ALICE) == 1
