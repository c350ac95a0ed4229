"""Hostile and broken POP3 clients: unknown commands, over-long lines
before and after login (limits at max-1, max, max+1), NUL bytes, bad
message numbers, wrong argument counts, garbage, floods of pipelined
commands from a client that does not read, byte-by-byte drips, clients
that vanish in the middle of a RETR, and the shutdown of a server with
POP3 sessions open. The server answers -ERR with a reason, or closes;
it never crashes, leaks descriptors, or grows without bound."""
import os
import random
import signal
import socket
import ssl
import time

import pytest

from conftest import (DOMAIN, IO_TIMEOUT, PASSWORD, make_message, pop3_connect,
                      pop3_login, smtp_deliver)

ALICE = f"alice@{DOMAIN}"
pytestmark = pytest.mark.server(**{"pop3.allow_plaintext": "loopback",
                                   "auth.failure_delay": "0"})
LINE_MAX = 255          # RFC 2449 4, CRLF included, after login
AUTH_LINE_MAX = 2048    # before login (PASS, AUTH PLAIN)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_unknown_commands(server):
    with pop3_connect(server) as c:
        for cmd in ("HELO", "EHLO x", "GET / HTTP/1.1", "LAST", "XTND XMIT",
                    "UIDLX 1", "1234", "RETR1", "ÄÖÜ", "-ERR", "+OK"):
            r = c.err(cmd)
            assert r == b"-ERR Unknown command", (cmd, r)
        c.login()
        assert c.err("LAST") == b"-ERR Unknown command"
        c.ok("NOOP")


def test_empty_and_blank_lines(server):
    with pop3_connect(server) as c:
        assert c.err("") == b"-ERR Empty command"
        assert c.err("    ") == b"-ERR Empty command"
        assert c.err(" CAPA") == b"-ERR Unknown command"
        c.send("CAPA   \r\n")
        assert c.readline().startswith(b"+OK")
        c.read_multi()


def test_bad_message_numbers(server):
    for i in range(2):
        smtp_deliver(server, ALICE, make_message(f"n {i}"))
    with pop3_login(server) as c:
        for cmd in ("RETR 0", "RETR 3", "RETR 4294967295", "DELE 0",
                    "LIST 3", "TOP 3 0", "UIDL 99"):
            assert c.err(cmd) == b"-ERR No such message", cmd
        for cmd in ("RETR -1", "RETR +1", "RETR 1x", "RETR x",
                    "RETR 4294967296", "RETR 99999999999", "LIST 0x1",
                    "DELE 1.0", "TOP 1 1e3", "TOP 1 -1", "UIDL \x7f"):
            r = c.err(cmd)
            assert r.startswith(b"-ERR Invalid"), (cmd, r)
        c.ok("STAT")


def test_wrong_argument_counts(server):
    smtp_deliver(server, ALICE, make_message("args"))
    with pop3_connect(server) as c:
        c.err("USER")
        c.err(f"USER {ALICE} extra")
        c.err("CAPA x")
        c.err("STLS x")
        c.err("QUIT now")
        c.login()
        for cmd in ("STAT 1", "RETR", "RETR 1 2", "DELE", "DELE 1 2",
                    "TOP 1", "TOP 1 2 3", "LIST 1 2", "UIDL 1 2", "RSET 1",
                    "NOOP 1", "QUIT 1"):
            c.err(cmd)
        c.ok("STAT")


def test_line_limit_after_login(server):
    """RFC 2449 4: 255 octets with CRLF; max-1 and max pass, max+1 is
    refused, and the session goes on with the next line."""
    with pop3_login(server) as c:
        for total in (LINE_MAX - 1, LINE_MAX):
            line = "NOOP" + " " * (total - 6)
            assert c.cmd(line) == b"+OK", total
        line = "NOOP" + " " * (LINE_MAX + 1 - 6)
        assert c.err(line) == b"-ERR Line too long"
        c.ok("NOOP")
        # much longer, in pieces: the rest of the line is dropped
        c.send("LIST " + "1" * 100000)
        assert c.readline() == b"-ERR Line too long"
        c.send("1" * 100000 + "\r\nNOOP\r\n")
        assert c.readline() == b"+OK"


def test_line_limit_before_login(server):
    """PASS and AUTH lines may be longer before login (a password of 511
    bytes, a PLAIN response), up to POP3_AUTH_LINE_MAX."""
    with pop3_connect(server) as c:
        c.ok(f"USER {ALICE}")
        r = c.cmd("PASS " + "p" * (AUTH_LINE_MAX - 7))
        assert r == b"-ERR [AUTH] Authentication failed"
        c.ok(f"USER {ALICE}")
        assert c.err("PASS " + "p" * (AUTH_LINE_MAX - 6)) == \
            b"-ERR Line too long"
        assert c.cmd("AUTH PLAIN") == b"+ "
        assert c.err("A" * (AUTH_LINE_MAX + 10)) == b"-ERR Line too long"
        # the AUTH is over; commands work again
        c.login()


def test_nul_bytes_and_bare_lf(server):
    with pop3_connect(server) as c:
        assert c.err("CA\0PA") == b"-ERR NUL byte in command"
        c.send(f"USER {ALICE}\n")       # LF alone ends a line too
        assert c.readline() == b"+OK Send the password"
        c.send(f"PASS {PASSWORD}\n")
        assert c.readline().startswith(b"+OK Logged in")
        assert c.err("STAT\0") == b"-ERR NUL byte in command"


def test_too_many_errors_closes(server):
    with pop3_connect(server) as c:
        for _ in range(19):
            c.err("BOGUS")
        c.send("BOGUS\r\n")
        assert c.readline() == b"-ERR Unknown command"
        assert c.readline() == b"-ERR Too many invalid commands"
        assert c.closed()
    assert "reason=\"too many errors\"" in server.log()


def test_garbage(server):
    rnd = random.Random(1939)
    for _ in range(20):
        blob = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 5000)))
        with pop3_connect(server) as c:
            c.send(blob + b"\r\nCAPA\r\n")
            # whatever it made of that: answers or a close, and no crash
            try:
                while True:
                    c.readline(timeout=3)
            except (EOFError, TimeoutError):
                pass
    with pop3_login(server) as c:
        c.ok("STAT")


def test_tls_garbage_on_pop3s(server):
    with socket.create_connection(("127.0.0.1", server.pop3s_port),
                                  timeout=IO_TIMEOUT) as s:
        s.sendall(b"USER alice\r\nPASS x\r\n" * 100)
        s.settimeout(5)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        assert b"+OK" not in data
    with pop3_login(server) as c:
        c.ok("NOOP")


def test_plain_tls_hello_on_the_pop3_port(server):
    """A client that speaks TLS at once on the STLS port gets errors and
    a close, not a crash."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection(("127.0.0.1", server.pop3_port),
                                 timeout=IO_TIMEOUT)
    with pytest.raises((ssl.SSLError, OSError)):
        ctx.wrap_socket(s, server_hostname="x").recv(10)
    s.close()
    with pop3_connect(server) as c:
        assert c.err("NOOP") == b"-ERR Log in first"


def test_pipelined_flood_without_reading(server):
    """A client that sends 100,000 CAPAs (15 MB of answers) and reads
    nothing: the server stops working through them at its output
    high-water mark (the commands wait in the kernel's buffers), its
    memory stays flat, and every answer comes once the client reads."""
    n = 100000
    payload = b"CAPA\r\n" * n
    with pop3_connect(server, rcvbuf=16384) as c:
        before = rss_kib(server.proc.pid)
        sent = c.send_some(payload, 3)
        time.sleep(1)
        grown = rss_kib(server.proc.pid) - before
        assert grown < 8 * 1024, f"RSS grew by {grown} KiB"
        got = 0
        while got < n:
            if sent < len(payload):
                sent += c.send_some(payload[sent:], 0.01)
            c._fill(1)
            k = c.buf.count(b"\r\n.\r\n")
            got += k
            if k:
                c.buf = c.buf[c.buf.rfind(b"\r\n.\r\n") + 5:]
        assert sent == len(payload)
        c.ok("QUIT")


@pytest.mark.server(**{"pop3.login_timeout": "2s"})
def test_slow_drip_before_login(server):
    """A command sent one byte every 0.3 s: the session is closed at the
    login timeout, however long the drip would go on."""
    with pop3_connect(server) as c:
        t0 = time.monotonic()
        try:
            for ch in b"USER " + b"a" * 100:
                c.send(bytes([ch]))
                time.sleep(0.3)
                if time.monotonic() - t0 > 6:
                    break
        except OSError:
            pass
        assert c.closed(timeout=5)
        assert time.monotonic() - t0 < 8


def test_disconnect_in_the_middle_of_retr(server):
    """Clients that vanish while a large message is being sent: the
    message file is closed and the session freed each time."""
    smtp_deliver(server, ALICE, make_message("big", ["z" * 998] * 3000))
    pid = server.proc.pid
    with pop3_login(server) as c:
        c.ok("QUIT")
    time.sleep(0.3)
    before = fds(pid)
    for _ in range(20):
        c = pop3_login(server)
        c.send("RETR 1\r\n")
        c.readline()
        c.sock.recv(1000)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()               # RST
        # the lock goes away with the session
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with pop3_connect(server) as c2:
                c2.ok(f"USER {ALICE}")
                if c2.cmd(f"PASS {PASSWORD}").startswith(b"+OK"):
                    c2.ok("QUIT")
                    break
            time.sleep(0.05)
    time.sleep(0.5)
    assert fds(pid) <= before, f"descriptors: {before} before, {fds(pid)} after"
    assert server.count(ALICE) == 1


def test_commands_after_quit_are_ignored(server):
    smtp_deliver(server, ALICE, make_message("x"))
    with pop3_login(server) as c:
        c.send("DELE 1\r\nQUIT\r\nRSET\r\nSTAT\r\n")
        assert c.readline() == b"+OK Message 1 deleted"
        assert c.readline() == b"+OK Bye, 1 deleted"
        assert c.closed()
        assert c.buf == b""
    assert server.count(ALICE) == 0


def test_many_garbage_connections_at_once(server):
    conns = []
    try:
        for i in range(100):
            c = pop3_connect(server)
            c.send(b"\xff\xfe" * 50 + b"\r\n" + b"USER " + b"x" * 300 + b"\r\n")
            conns.append(c)
        for c in conns:
            assert c.readline().startswith(b"-ERR")
    finally:
        for c in conns:
            c.close()
    with pop3_login(server) as c:
        c.ok("NOOP")


# --- shutdown ----------------------------------------------------------------

def test_shutdown_with_sessions_open(server):
    smtp_deliver(server, ALICE, make_message("shutdown", ["w" * 998] * 8000))
    idle = pop3_connect(server)
    logged = pop3_login(server, "bob")
    streaming = pop3_login(server, rcvbuf=16384)
    streaming.send("RETR 1\r\n")
    streaming.readline()
    time.sleep(0.3)
    server.signal(signal.SIGTERM)
    try:
        assert idle.readline() == b"-ERR [SYS/TEMP] Server shutting down"
        assert idle.closed()
        assert logged.readline() == b"-ERR [SYS/TEMP] Server shutting down"
        # the one in the middle of a message is closed without a line
        # inside the message: its answer just ends early
        assert streaming.closed(timeout=10)
        assert b"-ERR" not in streaming.buf
        assert not streaming.buf.endswith(b"\r\n.\r\n")
    finally:
        idle.close()
        logged.close()
        streaming.close()
    assert server.wait() == 0
    server.check_clean()
    assert server.count(ALICE) == 1


def test_shutdown_during_update(server):
    """A QUIT whose deletions are being committed gets its answer before
    the server exits; either way the client's answer and the store
    agree."""
    for i in range(5):
        smtp_deliver(server, ALICE, make_message(f"u {i}"))
    c = pop3_login(server)
    c.send("".join(f"DELE {i}\r\n" for i in range(1, 6)))
    for _ in range(5):
        c.readline()
    c.send("QUIT\r\n")
    server.signal(signal.SIGTERM)
    answer = c.readline()
    c.close()
    assert server.wait() == 0
    server.check_clean()
    if answer == b"+OK Bye, 5 deleted":
        assert server.count(ALICE) == 0
    else:
        assert answer == b"-ERR [SYS/TEMP] Server shutting down", answer
        assert server.count(ALICE) == 5
