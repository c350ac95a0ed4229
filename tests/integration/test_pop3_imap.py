"""POP3 and IMAP on the same mailbox: UIDL values are IMAP's UIDVALIDITY
and UID; a message deleted over POP3 disappears from IMAP (at once for a
session in IDLE); one expunged or moved over IMAP disappears from the
next POP3 session and cannot be retrieved in the current one; and many
POP3, IMAP and SMTP sessions at once lose and duplicate nothing."""
import random
import re
import threading
import time

import pytest

from conftest import (DOMAIN, PASSWORD, fetch_items, imap_connect,
                      imap_login, make_message, pop3_connect, pop3_login,
                      smtp_deliver)

ALICE = f"alice@{DOMAIN}"
pytestmark = pytest.mark.server(**{"pop3.allow_plaintext": "loopback",
                                   "imap.allow_plaintext": "loopback",
                                   "auth.failure_delay": "0"})
NOTIFY_TIMEOUT = 3      # "at once", with slack for ASan


def deliver(server, n, prefix="m"):
    for i in range(n):
        smtp_deliver(server, ALICE, make_message(f"{prefix} {i + 1}"))


def imap_uids(c):
    r = c.ok("UID SEARCH ALL")
    line = r.one("SEARCH")
    return [int(x) for x in line.split()[1:]]


def test_uidl_is_uidvalidity_and_uid(server):
    deliver(server, 3)
    with imap_login(server) as c:
        r = c.ok("SELECT INBOX")
        uv = int(re.search(rb"\[UIDVALIDITY (\d+)\]", r.raw).group(1))
        c.ok("STORE 2 +FLAGS (\\Deleted)")
        c.ok("EXPUNGE")
        uids = imap_uids(c)
    assert uids == [1, 3]
    with pop3_login(server) as p:
        _, lines = p.multi("UIDL")
    assert lines == [f"{i + 1} {uv}.{u}".encode() for i, u in enumerate(uids)]


def test_pop3_delete_is_seen_by_idle(server):
    deliver(server, 3)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.send("i1 IDLE\r\n")
        assert c.readline().startswith(b"+")
        with pop3_login(server) as p:
            p.ok("DELE 2")
            p.ok("DELE 3")
            # nothing yet: deletions wait for QUIT
            assert c.silent(0.5)
            assert p.ok("QUIT") == b"+OK Bye, 2 deleted"
        seen = set()
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        while len(seen) < 2 and time.monotonic() < deadline:
            m, _ = c.wait_untagged(rb"^\* (\d+) EXPUNGE$",
                                   max(0.1, deadline - time.monotonic()))
            seen.add(m.group(0))
        # highest first, so each number is right when applied
        assert seen == {b"* 3 EXPUNGE", b"* 2 EXPUNGE"}
        c.send("DONE\r\n")
        c.read_response("i1")
        assert imap_uids(c) == [1]


def test_pop3_delete_seen_by_a_selected_session(server):
    deliver(server, 2)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        with pop3_login(server) as p:
            p.ok("DELE 1")
            p.ok("QUIT")
        r = c.ok("NOOP")
        assert r.find("1 EXPUNGE"), r.raw
        assert imap_uids(c) == [2]
        # STATUS from another session agrees
    with imap_login(server) as c:
        r = c.ok("STATUS INBOX (MESSAGES)")
        assert b"MESSAGES 1" in r.raw


def test_imap_expunge_during_pop3_session(server):
    deliver(server, 3)
    with pop3_login(server) as p:
        before = p.retr(2)
        with imap_login(server) as c:
            c.ok("SELECT INBOX")
            c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
            c.ok("EXPUNGE")
        # the session keeps its numbering; the message is gone
        assert p.ok("STAT").startswith(b"+OK 3 ")
        assert b"removed by another session" in p.err("RETR 2")
        assert b"removed by another session" in p.err("TOP 2 0")
        assert p.retr(3) != before
        # deleting it again is harmless
        p.ok("DELE 2")
        p.ok("DELE 3")
        assert p.ok("QUIT") == b"+OK Bye, 2 deleted"
    assert [m[0] for m in server.messages(ALICE)] == [1]
    with pop3_login(server) as p:
        assert p.ok("STAT").startswith(b"+OK 1 ")


def test_imap_move_out_of_inbox(server):
    deliver(server, 2)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("MOVE 1 Archive")
    with pop3_login(server) as p:
        assert p.ok("STAT").startswith(b"+OK 1 ")
        _, lines = p.multi("UIDL")
        assert lines[0].endswith(b".2")
    # and a message moved into the INBOX is new mail for POP3
    with imap_login(server) as c:
        c.ok("SELECT Archive")
        c.ok("MOVE 1 INBOX")
    with pop3_login(server) as p:
        _, lines = p.multi("UIDL")
        assert [l.split(b".")[-1] for l in lines] == [b"2", b"3"]


def test_flags_do_not_matter_to_pop3(server):
    """POP3 sees every message of the INBOX, \\Deleted or not, and deletes
    what DELE names whatever its flags; it changes no flags itself."""
    deliver(server, 3)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS (\\Deleted)")
        c.ok("STORE 2 +FLAGS (\\Flagged \\Seen)")
    with pop3_login(server) as p:
        assert p.ok("STAT").startswith(b"+OK 3 ")
        p.retr(3)
        p.ok("DELE 2")
        p.ok("QUIT")
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.ok("FETCH 1:* (UID FLAGS)")
        got = {fetch_items(u)[1][b"UID"]: fetch_items(u)[1][b"FLAGS"]
               for u in r.untagged if b"FETCH" in u}
        assert got == {b"1": [b"\\Deleted"], b"3": []}, got


def test_imap_and_pop3_sessions_of_one_user_together(server):
    """The POP3 lock is for POP3 only: IMAP sessions come and go."""
    deliver(server, 1)
    with pop3_login(server) as p:
        with imap_login(server) as c:
            c.ok("SELECT INBOX")
            smtp_deliver(server, ALICE, make_message("during"))
            r = c.ok("NOOP")
            assert r.find("2 EXISTS"), r.raw
        assert p.ok("STAT").startswith(b"+OK 1 ")


@pytest.mark.server(**{"auth.max_failures": "3", "auth.block_time": "1h"})
def test_failed_logins_count_across_protocols(server):
    """One table of failures per address for IMAP and POP3: two wrong
    IMAP passwords and one wrong POP3 password block the address on
    both."""
    with imap_connect(server) as c:
        for _ in range(2):
            c.expect(f'LOGIN {ALICE} "wrong"', "NO", "AUTHENTICATIONFAILED")
    with pop3_login(server, "bob") as p:
        p.ok("QUIT")
    # a success resets the count: start over
    with imap_connect(server) as c:
        for _ in range(2):
            c.expect(f'LOGIN {ALICE} "wrong"', "NO", "AUTHENTICATIONFAILED")
    with pop3_connect(server) as p:
        p.ok(f"USER {ALICE}")
        assert b"[AUTH]" in p.err("PASS wrong")
        p.ok(f"USER {ALICE}")
        assert p.err(f"PASS {PASSWORD}").startswith(b"-ERR [SYS/TEMP]")
    with imap_connect(server) as c:
        c.expect(f'LOGIN {ALICE} "{PASSWORD}"', "NO", "UNAVAILABLE")


def test_concurrent_pop3_imap_smtp(server):
    """SMTP delivers while a fetchmail-like POP3 client fetches and
    deletes in a loop and IMAP sessions read and flag messages: every
    message is retrieved over POP3 exactly once, and the INBOX ends
    empty."""
    n_msgs = 60
    subjects = [f"c {i}" for i in range(n_msgs)]
    fetched = []
    errors = []
    done = threading.Event()

    def smtp():
        for s in subjects:
            smtp_deliver(server, ALICE, make_message(s))
            time.sleep(random.random() * 0.02)

    def pop3():
        while True:
            finished = done.is_set()
            try:
                p = pop3_login(server)
            except AssertionError as e:
                if "IN-USE" in str(e):
                    time.sleep(0.05)
                    continue
                raise
            with p:
                n = int(p.ok("STAT").split()[1])
                for i in range(1, n + 1):
                    msg = p.retr(i)
                    m = re.search(rb"\r\nSubject: (c \d+)\r\n", msg)
                    assert m, msg[:300]
                    fetched.append(m.group(1).decode())
                    p.ok(f"DELE {i}")
                assert p.ok("QUIT").startswith(b"+OK Bye")
            if finished and n == 0:
                return
            time.sleep(0.05)

    def imap(k):
        with imap_login(server) as c:
            c.ok("SELECT INBOX")
            while not done.is_set():
                # UID sets: "1:*" is BAD in an empty mailbox (RFC 9051 9),
                # and POP3 may have emptied it since the last EXISTS.
                r = c.ok("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                if r.untagged:
                    c.ok("UID STORE 1:* +FLAGS (\\Seen)")
                time.sleep(0.03)

    def wrap(fn, *a):
        try:
            fn(*a)
        except BaseException as e:      # reported below
            errors.append(f"{fn.__name__}: {type(e).__name__}: {e}")
            done.set()

    threads = [threading.Thread(target=wrap, args=(pop3,), daemon=True)]
    threads += [threading.Thread(target=wrap, args=(imap, k), daemon=True)
                for k in range(2)]
    for t in threads:
        t.start()
    wrap(smtp)
    done.set()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "sessions still running"
    assert not errors, errors
    assert sorted(fetched) == sorted(subjects), \
        (set(subjects) - set(fetched), len(fetched))
    assert server.count(ALICE) == 0
