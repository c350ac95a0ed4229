"""Clients that vanish at every stage of a session. Under ASan, the point
is that nothing is used after it is freed (the teardown reads the log);
the server must stay up and keep serving."""
import os
import socket
import struct
import time

import pytest

from conftest import DOMAIN, SMTPClient, make_message

ALICE = f"alice@{DOMAIN}"
SENDER = "sender@remote.example.org"


def vanish(c, reset=True):
    """Closes the client socket; with RESET, with an RST (SO_LINGER 0)."""
    if reset:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.sock.close()


def server_still_serves(server):
    with server.connect() as c:
        r = c.send_mail(SENDER, [ALICE], make_message("after the vanishing"))
        assert r.code == 250, r.raw


@pytest.mark.parametrize("reset", [True, False], ids=["rst", "fin"])
def test_vanish_right_after_final_dot(server, reset):
    n = 20
    for i in range(n):
        c = server.connect()
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(make_message(f"vanish {i}") + b".\r\n")
        vanish(c, reset)
    server_still_serves(server)
    # Each message was either stored or not; none twice.
    subjects = [r[4] for r in server.messages(ALICE)]
    assert len(subjects) == len(set(subjects))
    assert "after the vanishing" in subjects


@pytest.mark.parametrize("stage", ["connect", "mid-command", "ehlo", "mail", "data",
                                   "bdat", "starttls-220", "tls-handshake", "tls-session",
                                   "pipelined-unread"])
def test_vanish_at_stage(server, stage):
    for _ in range(5):
        c = server.connect(greeting=(stage != "connect"))
        if stage == "mid-command":
            c.send(b"MAIL FROM:<half")
        if stage in ("ehlo", "mail", "data", "bdat", "starttls-220", "tls-handshake",
                     "tls-session"):
            c.ehlo()
        if stage in ("mail", "data", "bdat"):
            c.expect(f"MAIL FROM:<{SENDER}>", 250)
            c.expect(f"RCPT TO:<{ALICE}>", 250)
        if stage == "data":
            c.expect("DATA", 354)
            c.send(b"Subject: half\r\n\r\nsome text")
        if stage == "bdat":
            c.send(b"BDAT 100000 LAST\r\n" + b"x" * 5000)
        if stage in ("starttls-220", "tls-handshake", "tls-session"):
            c.expect("STARTTLS", 220)
        if stage == "tls-handshake":
            # The start of a ClientHello record, and no more.
            c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20)
        if stage == "tls-session":
            c.tls_handshake()
            c.ehlo()
            c.expect(f"MAIL FROM:<{SENDER}>", 250)
        if stage == "pipelined-unread":
            c.send(b"NOOP\r\n" * 5000)
        vanish(c)
    server_still_serves(server)
    assert server.count(ALICE) == 1


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rst_before_greeting(server, n):
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def connect_gets_220(server, within=3.0):
    """True if a new session gets 220 within WITHIN seconds (retrying on
    421, as the server frees closed sessions asynchronously)."""
    deadline = time.monotonic() + within
    while True:
        with SMTPClient(server.port, greeting=False) as c:
            r = c.reply()
            if r.code == 220:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@pytest.mark.server(**{"smtp.max_sessions": "3"})
def test_reset_sessions_are_freed(server):
    """A peer that resets the connection before reading the greeting must
    not keep its session slot: with max_sessions=3, six such peers must
    not lock everybody out."""
    rst_before_greeting(server, 6)
    assert connect_gets_220(server), \
        "sessions of reset connections are never freed: new sessions get 421"
    server_still_serves(server)


def test_reset_sessions_do_not_spin(server):
    """After peers reset their connections, an idle server uses no CPU."""
    rst_before_greeting(server, 5)
    assert connect_gets_220(server)
    pid = server.proc.pid
    before = cpu_seconds(pid)
    time.sleep(1.0)             # measuring CPU use over a second of idleness
    used = cpu_seconds(pid) - before
    assert used < 0.3, f"idle server used {used:.2f}s of CPU in 1s (busy loop)"


@pytest.mark.server(**{"smtp.timeout": "2s", "smtp.max_sessions": "2"})
def test_client_that_never_reads_is_dropped(server):
    """A client that sends commands but never reads the replies is closed
    after the write timeout, and its slot is freed."""
    hog = SMTPClient(server.port)
    try:
        hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            hog.sock.settimeout(10)
            hog.send(b"NOOP\r\n" * 200000)
        except OSError:
            pass                # the server closed us: fine
        deadline = time.monotonic() + 15
        # Either timer may fire first: the write timeout (the hog does not
        # read) or the command timeout (its commands wait behind the
        # replies it does not read).
        timed_out = lambda: "write timeout" in server.log() or 'reason="timeout"' in server.log()
        while not timed_out() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert timed_out(), "the hog was never timed out"
        # Both slots can be used again.
        assert connect_gets_220(server)
        # Two at once; retried for a while, since the probe's own session
        # above is freed asynchronously too.
        deadline = time.monotonic() + 3
        while True:
            with SMTPClient(server.port) as a:
                assert a.greeting.code == 220, a.greeting.raw
                with SMTPClient(server.port, greeting=False) as b:
                    r = b.reply()
                if r.code == 220:
                    a.expect("NOOP", 250)
                    break
            assert time.monotonic() < deadline, \
                f"the hog's session was not freed: {r.raw!r}"
            time.sleep(0.1)
    finally:
        hog.close()
