"""Review of the IMAP server: one test per bug found, each a strict xfail
that fails today because of the bug (the reason says which), plus a few
plain tests of behaviour real clients rely on that was checked and is
right.

Memory and work are measured on the server process itself
(/proc/PID/status VmHWM, /proc/PID/io rchar), never as elapsed time
(machines are shared and noisy): where only time shows a bug, the work is
multiplied until with and without the fix are far apart (10x and more),
and a generous bound serves only as a hang guard. Every wait is bounded,
and every test waits for the server to be idle again before it ends, so
that the fixture's clean stop still holds.
"""
import os
import re
import socket
import time

import pytest

from conftest import (DOMAIN, child_env, imap_login, make_message,
                      smtp_deliver, wait_for)

ALICE = f"alice@{DOMAIN}"
pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback"})


def proc_status(server, key):
    """A /proc/PID/status value of the server, in kB."""
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{server.proc.pid}/status")


def proc_rchar(server):
    """Bytes the server read with read()/pread() so far."""
    with open(f"/proc/{server.proc.pid}/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar")


@pytest.fixture
def lean_server(request, monkeypatch, start_server):
    """The server fixture, with ASan's quarantine (by default 256 MB of
    freed memory held back to catch use after free) cut to 1 MB: VmHWM
    then measures memory in use, not how much was allocated and freed.
    Builds without ASan ignore it."""
    opts = os.environ.get("ASAN_OPTIONS", child_env()["ASAN_OPTIONS"])
    monkeypatch.setenv("ASAN_OPTIONS", opts + ":quarantine_size_mb=1")
    overrides = {}
    for m in reversed(list(request.node.iter_markers("server"))):
        overrides.update(m.kwargs)
    return start_server(**overrides)


def fill_by_copy(c, doublings, timeout=120):
    """The selected mailbox's messages, doubled by COPY into itself (blobs
    are shared, so this is cheap): 2**doublings times as many."""
    for _ in range(doublings):
        c.ok("COPY 1:* " + "INBOX", timeout=timeout)
    c.ok("NOOP", timeout=timeout)


# --- another user's mail -------------------------------------------------------

def test_deleted_selected_mailbox_id_reused_by_another_user(server):
    with imap_login(server) as a1, imap_login(server) as a2, \
            imap_login(server, user="bob") as b:
        a1.ok("CREATE Tmp")             # the highest mailbox id
        a1.ok("SELECT Tmp")
        a2.ok("DELETE Tmp")             # a1 is not told: it is not in IDLE
        b.ok("CREATE Secret")           # gets Tmp's id back
        r = b.append_literal("Secret", make_message(
            "bob private", ["bob's secret body"]))
        assert r.status == "OK", r
        # a1 may be closed (BYE) or told nothing; it must never see bob's
        # message.
        seen = b""
        for tag, cmd in (("n1", "NOOP"), ("f1", "FETCH 1 BODY.PEEK[]"),
                         ("f2", "UID FETCH 1:* BODY.PEEK[]")):
            try:
                a1.send(f"{tag} {cmd}\r\n")
                r = a1.read_response(tag, timeout=5)
                seen += r.raw
            except (OSError, EOFError):
                seen += a1.buf
                break
        assert b"bob's secret body" not in seen, seen
        assert b"bob private" not in seen, seen


# --- memory -------------------------------------------------------------------

@pytest.mark.server(**{"server.max_message_size": "2M"})
def test_fetch_of_large_messages_is_not_buffered_whole(server):
    body = (b"x" * 998 + b"\r\n") * 2000            # ~2 MB
    with imap_login(server) as c:
        r = c.append_literal("INBOX", b"Subject: big\r\n\r\n" + body)
        assert r.status == "OK", r
        c.ok("SELECT INBOX")
        fill_by_copy(c, 6)                          # 64 messages, one blob
        before = proc_status(server, "VmHWM")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.send("f1 FETCH 1:64 BODY.PEEK[]\r\n")
        time.sleep(3)
        grown = proc_status(server, "VmHWM") - before
    # The output high-water mark is 256 KB; one message in memory at a
    # time is 2 MB. 128 MB of messages must not all be held at once.
    assert grown < 64 * 1024, f"server peak RSS grew by {grown} kB"


# imap_sync_cb synced a session in IDLE whatever its output level: a
# client in IDLE that did not read made the server buffer every change
# without bound (IMAP_OUTPUT_HIGH was only checked between commands).
# Fixed (the sync waits for the output to drain); kept as a regression
# test.
def test_idle_session_that_does_not_read_is_not_buffered_without_bound(
        lean_server):
    server = lean_server
    # 512 messages with 50 long keywords: each FETCH FLAGS line is ~5 KB,
    # so one STORE 1:* of \Seen is ~2.5 MB for every session in IDLE.
    kws = " ".join(f"k{j:02d}" + "x" * 96 for j in range(50))
    with imap_login(server) as c:
        r = c.append_literal("INBOX", make_message("kw"))
        assert r.status == "OK", r
        c.ok("SELECT INBOX")
        fill_by_copy(c, 9)
        c.ok(f"STORE 1:* +FLAGS.SILENT ({kws})")
        idler = imap_login(server)              # and it does not read
        idler.ok("SELECT INBOX", timeout=30)
        idler.send("i1 IDLE\r\n")
        assert idler.readline().startswith(b"+")
        before = proc_status(server, "VmHWM")
        for i in range(40):                     # ~100 MB for the idler
            c.ok(f"STORE 1:* {'+' if i % 2 == 0 else '-'}FLAGS.SILENT "
                 "(\\Seen)", timeout=60)
        time.sleep(1)
        grown = proc_status(server, "VmHWM") - before
        assert grown < 48 * 1024, f"server peak RSS grew by {grown} kB"
        # Nothing is lost: once the session in IDLE reads, it is told
        # the state the messages ended in (the last STORE took \Seen off).
        idler.send("DONE\r\n")
        r = idler.read_response("i1", timeout=120)
        idler.close()
        assert r.status == "OK", r.raw[-300:]
        last = {}
        for u in r.untagged:
            m = re.match(rb"(\d+) FETCH \(.*FLAGS \(([^)]*)\)", u)
            if m:
                last[int(m.group(1))] = m.group(2)
        assert len(last) == 512, sorted(last)[:10]
        assert not [n for n, f in last.items() if b"\\Seen" in f]


# --- the event loop blocks --------------------------------------------------------

# imap_sync_expunged looked for duplicates in v->expunged linearly for
# every tombstone: a session that synced after k expunges spent O(k^2) on
# the event loop (32768 expunges: seconds during which no session was
# served). Fixed (sort and merge once the store is done); kept as a
# regression test.
#
# No timing assertion: the work is multiplied until the difference is
# one of orders of magnitude, and a generous bound only guards against a
# hang. 48 sessions in IDLE (imap.max_sessions_per_user is 50; the
# expunger is the 49th) each sync 65536 tombstones on the loop, before the
# loop answers anyone else: O(k^2) was ~10 s per session under ASan on a
# small machine, ~8 minutes in all; O(k log k) is well under a second for
# all of them, next to the ~10 s the EXPUNGE itself takes.
def test_sync_after_mass_expunge_is_not_quadratic(server):
    doublings, n_idlers, hang_guard = 16, 48, 180
    idlers = []
    with imap_login(server) as c:
        r = c.append_literal("INBOX", make_message("many"))
        assert r.status == "OK", r
        c.ok("SELECT INBOX")
        fill_by_copy(c, doublings)              # 65536 messages
        c.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)", timeout=120)
        try:
            for _ in range(n_idlers):
                w = imap_login(server)
                idlers.append(w)
                w.ok("ENABLE QRESYNC")          # one short VANISHED line
                w.ok("SELECT INBOX", timeout=60)
                w.send("i IDLE\r\n")
                w.wait_untagged(rb"^\+", timeout=60)
            deadline = time.monotonic() + hang_guard
            c.ok("EXPUNGE", timeout=hang_guard)
            for w in idlers:
                w.wait_untagged(rb"^\* VANISHED 1:%d$" % (1 << doublings),
                                timeout=max(deadline - time.monotonic(), 1))
            # and every session is still served
            for w in idlers:
                w.send("DONE\r\n")
                assert w.read_response("i", timeout=60).status == "OK"
            c.ok("NOOP")
        finally:
            for w in idlers:
                w.close()


def test_select_with_many_distinct_keywords_lists_a_bounded_set(server):
    """2000 distinct keywords in a mailbox (one user can make them with a
    few STOREs): SELECT, which used to compare each keyword with all the
    ones listed so far (quadratic, on the event loop), lists at most 1000
    in FLAGS; each message still shows its own in FETCH FLAGS."""
    n = 40
    with imap_login(server) as c:
        r = c.append_literal("INBOX", make_message("kw"))
        assert r.status == "OK", r
        c.ok("SELECT INBOX")
        fill_by_copy(c, 6)                      # 64 messages
        for i in range(1, n + 1):
            c.send(f"s{i} STORE {i} +FLAGS.SILENT (" +
                   " ".join(f"m{i}k{j}" for j in range(50)) + ")\r\n")
        for i in range(1, n + 1):
            r = c.read_response(f"s{i}", timeout=60)
            assert r.status == "OK", r
        with imap_login(server) as w:
            r = w.ok("SELECT INBOX", timeout=600)
            flags = r.one("FLAGS")
            assert flags.count(b" m") == 1000, flags[:200]
            r = w.ok("FETCH 40 FLAGS")
            assert r.one("40 FETCH").count(b"m40k") == 50, r


# Found by this review and fixed since (37f7863): kept as a regression test.
def test_fetch_envelope_and_bodystructure_come_from_the_cache(server):
    body = ["y" * 998] * 100                    # ~100 KB each
    for i in range(10):
        smtp_deliver(server, ALICE, make_message(f"cached {i}", body))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("FETCH 1:* (FLAGS)")               # warm up the statements
        before = proc_rchar(server)
        r = c.ok("FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)")
        read = proc_rchar(server) - before
        assert len(r.find("")) >= 10
    assert read < 300 * 1024, f"the server read {read} bytes for 1 MB of " \
        "messages whose renderings are cached"


# --- protocol -------------------------------------------------------------------

def test_delete_of_the_selected_mailbox_is_answered(server):
    with imap_login(server) as c:
        c.ok("CREATE Old")
        c.ok("SELECT Old")
        r = c.cmd("DELETE Old")
        assert r.status == "OK", r
        c.ok("LIST \"\" \"*\"")


def test_conditional_silent_store_reports_modseq(server):
    smtp_deliver(server, ALICE, make_message("condstore"))
    with imap_login(server) as c:
        c.ok("ENABLE CONDSTORE")
        c.ok("SELECT INBOX")
        r = c.ok("STORE 1 (UNCHANGEDSINCE 1000000) +FLAGS.SILENT (\\Seen)")
        fetches = [u for u in r.untagged if re.match(rb"1 FETCH ", u)]
        assert fetches, r
        assert b"MODSEQ" in fetches[0], r


def test_condstore_fetch_responses_carry_uid_and_modseq(server):
    smtp_deliver(server, ALICE, make_message("condstore uid"))
    with imap_login(server) as c:
        c.ok("ENABLE CONDSTORE")
        c.ok("SELECT INBOX")
        r1 = c.ok("STORE 1 +FLAGS (\\Flagged)")
        r2 = c.ok("FETCH 1 BODY[TEXT]")         # sets \Seen
        for r in (r1, r2):
            f = [u for u in r.untagged if u.startswith(b"1 FETCH ")]
            assert f and b"FLAGS" in f[0], r
            assert b"UID 1" in f[0] and b"MODSEQ" in f[0], r


def test_silent_store_still_reports_changes_made_by_others(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"silent {i}"))
    with imap_login(server) as a, imap_login(server) as b:
        a.ok("SELECT INBOX")
        b.ok("SELECT INBOX")
        b.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
        # a has not heard of it yet; Apple Mail style silent STORE:
        r1 = a.ok("STORE 1:3 +FLAGS.SILENT (\\Seen)")
        r2 = a.ok("NOOP")
        told = [u for u in r1.untagged + r2.untagged
                if re.match(rb"2 FETCH ", u) and b"\\Flagged" in u]
        assert told, (r1, r2)


def test_rename_cannot_push_inferior_names_past_the_limits(server):
    with imap_login(server) as c:
        c.ok("ENABLE UTF8=ACCEPT")
        child = "c" * 900
        c.ok(f"CREATE \"p/{child}\"")
        r = c.cmd("RENAME p \"" + "q" * 900 + "\"")
        if r.status != "OK":
            return                              # refused: fine
        # Accepted: every mailbox LIST shows must be usable.
        r = c.ok("LIST \"\" \"*\"")
        for u in r.find("LIST"):
            name = u.rsplit(b" \"/\" ", 1)[1]
            if name.startswith(b"{"):
                name = name.split(b"\r\n", 1)[1]
            name = name.strip(b'"').decode()
            if name.startswith("q"):
                s = c.cmd("STATUS {%d+}\r\n%s (MESSAGES)" % (
                    len(name.encode()), name))
                assert s.status == "OK", (len(name), s)


# bad_count counted every BAD of the whole session and never reset: a
# long-lived session that got 20 BADs over hours (RFC-mandated BAD for
# FETCH 1:* in an empty mailbox, say) was closed, although every other
# command worked. Fixed; kept as a regression test.
def test_bad_counter_is_about_consecutive_errors(server):
    with imap_login(server) as c:
        c.ok("CREATE Empty")
        c.ok("SELECT Empty")
        for i in range(25):
            r = c.cmd("FETCH 1:* (FLAGS)")      # empty: BAD (RFC 9051 9)
            assert r.status == "BAD", r
            c.ok("NOOP")
        # ...but IMAP_BAD_MAX (20) BADs in a row still end the session.
        for i in range(20):
            c.send(f"b{i} FETCH 1:* (FLAGS)\r\n")
        assert c.closed(timeout=10), c.buf[-300:]
        assert b"* BYE Too many invalid commands" in c.buf, c.buf[-300:]


# --- sessions that never end ----------------------------------------------------

def flood_without_reading(server, n_cmds=40000):
    """A connection that sends commands and never reads: the server's
    output for it fills every buffer and it stops reading too."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect(("127.0.0.1", server.imap_port))
    s.settimeout(0.5)
    data = b"a CAPABILITY\r\n" * n_cmds
    sent = 0
    try:
        while sent < len(data):
            sent += s.send(data[sent:sent + 65536])
    except (socket.timeout, BlockingIOError):
        pass
    return s


def imap_greets(server):
    """A new connection gets "* OK" (not "* BYE Too many sessions")."""
    with socket.create_connection(("127.0.0.1", server.imap_port),
                                  timeout=5) as s:
        return s.recv(4096).startswith(b"* OK")


# There was no write timeout on IMAP sessions (bufferevent_set_timeouts
# was never called) and a closing session was freed only once its output
# drained: a peer that never read kept its session, its buffers and its
# place in imap.max_sessions forever, even before login (the login
# timeout only queued a BYE). Fixed; kept as a regression test.
@pytest.mark.server(**{"imap.max_sessions": "3",
                       "imap.login_timeout": "1s"})
def test_peers_that_never_read_do_not_hold_sessions_forever(server):
    stuck = [flood_without_reading(server) for _ in range(3)]
    try:
        # The login timeout or the write timeout (before login they are
        # the same, so either may come first) closes them...
        wait_for(lambda: len(re.findall(r'imap close .*reason="(?:write )?'
                                        r'timeout"', server.log())) >= 3,
                 timeout=30, what="three sessions closed")
        # ...and frees them, so a new client gets in. (The bound is a
        # hang guard: the write timeout frees them a second after.)
        wait_for(lambda: imap_greets(server), timeout=30, interval=0.5,
                 what="a greeting once the stuck sessions are gone")
    finally:
        for s in stuck:
            s.close()


# The other half of the same fix: a closing session's last output gets
# IMAP_CLOSE_DRAIN (15 s), not the write timeout, which before login is
# imap.login_timeout (300 s here). The peer sends 400 CAPABILITY, ~130 KB
# of replies, which it never reads, then 20 bad commands: the server
# closes with BYE while most of the output still waits (a 536-byte MSS
# keeps the kernel's buffers small; without it the socket's send buffer
# on loopback grows past a megabyte). The session must then be dropped
# long before the write timeout; the bound is a hang guard.
@pytest.mark.server(**{"imap.max_sessions": "1",
                       "imap.login_timeout": "300s"})
def test_closing_session_gets_a_bounded_time_to_send_its_output(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    try:
        s.connect(("127.0.0.1", server.imap_port))
        s.sendall(b"a CAPABILITY\r\n" * 400 + b"b BOGUS\r\n" * 20)
        wait_for(lambda: 'reason="too many errors"' in server.log(),
                 timeout=30, what="the close after 20 BADs")
        assert not imap_greets(server)          # it still holds its place
        wait_for(lambda: re.search(r"imap drop .*unsent=[1-9]",
                                   server.log()),
                 timeout=90, what="the closing session dropped")
        wait_for(lambda: imap_greets(server), timeout=30, interval=0.5,
                 what="a greeting once the closing session is gone")
    finally:
        s.close()


# --- limits -------------------------------------------------------------------------

@pytest.mark.server(**{"server.max_message_size": "20M"})
def test_literals_of_commands_other_than_append_are_small(server):
    with imap_login(server) as c:
        c.send("a1 SELECT {16000000}\r\n")
        line = c.readline()
        if line.startswith(b"+"):
            # Accepted: send it, so that the session ends cleanly.
            c.send(b"x" * 16000000 + b"\r\n")
            r = c.read_response("a1", timeout=60)
            assert r.status in ("NO", "BAD"), r
        assert line.startswith(b"a1 "), \
            f"a 16 MB mailbox name was accepted for reading: {line!r}"
        c.ok("NOOP")


def test_deleted_user_id_is_not_given_to_the_next_user(server):
    """carol has the highest user id. Deleted while her session is logged
    in, her id must not go to the next user: her session must not reach
    dave's INBOX."""
    with imap_login(server, user="carol") as c:
        c.ok("SELECT INBOX")
        server.cli_ok("user", "del", f"carol@{DOMAIN}")
        server.cli_ok("user", "add", "--password-stdin", f"dave@{DOMAIN}",
                      input="dave's password\n")
        smtp_deliver(server, f"dave@{DOMAIN}", make_message("for dave only"))
        r = c.cmd("SELECT INBOX")
        assert r.status != "OK" or b"for dave only" not in \
            c.cmd("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]").raw, r
