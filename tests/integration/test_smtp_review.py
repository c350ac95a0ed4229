"""Cases found in review: each once broke the server (a crash, a stall, a
lost acknowledgement)."""
import socket
import time

import pytest

from conftest import DOMAIN, HOSTNAME, make_message, split_stored, unfold

ALICE = f"alice@{DOMAIN}"
SENDER = "sender@remote.example.org"


def read_to_eof(s):
    """Everything the server sends until it closes (bounded by the socket
    timeout)."""
    buf = b""
    while True:
        d = s.recv(4000)
        if not d:
            return buf
        buf += d


def test_failed_ehlo_then_bdat_does_not_crash(server):
    """A failed EHLO in the middle of a transaction once cleared the HELO
    name, and a BDAT then dereferenced it: the whole server crashed. A
    failed EHLO now changes nothing (RFC 5321 4.1.4)."""
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("EHLO", 501, "501 5.5.4")
        c.expect("EHLO a\x7f", 501, "501 5.5.4")
        c.send(b"BDAT 3 LAST\r\nhi\n")
        c.expect_reply(250, "250 2.0.0")
    assert server.running()
    stored = server.get(ALICE, 1)
    assert stored.endswith(b"\r\n\r\nhi\n") or split_stored(stored)[2] == b"hi\n"


def test_pipelined_replies_beyond_the_output_cap(server):
    """More replies than the output cap (64 KB) in one pipelined burst: the
    server once stopped answering until the client sent another byte."""
    n = 3000
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        assert s.recv(200).startswith(b"220")
        s.sendall(b"EHLO x\r\n" + b"HELP\r\n" * n)
        buf = b""
        deadline = time.monotonic() + 20
        while buf.count(b"\r\n214 ") < n and time.monotonic() < deadline:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        assert buf.count(b"\r\n214 ") == n, \
            f"only {buf.count(b'214 ')} of {n} HELP replies arrived"
    finally:
        s.close()


def test_half_close_after_quit_gets_its_replies(server):
    """A client that sends its message and QUIT, then shuts down its
    sending side, still reads: it must get the 250 (the message is stored)
    and the 221, or it would send the message again."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.recv(200)
        s.sendall(b"EHLO x\r\n")
        buf = b""
        while not buf.endswith(b"250 CHUNKING\r\n"):
            buf += s.recv(4000)
        s.sendall(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n".encode())
        buf = b""
        while b"354 " not in buf:
            buf += s.recv(4000)
        msg = make_message("half-close")
        s.sendall(msg + b".\r\nQUIT\r\n")
        s.shutdown(socket.SHUT_WR)
        buf = read_to_eof(s)
    finally:
        s.close()
    assert buf.startswith(b"250 2.0.0"), buf
    assert b"\r\n221 2.0.0" in buf, buf
    assert split_stored(server.get(ALICE, 1))[2] == msg


def test_half_close_mid_data_stores_nothing(server):
    """End of input in the middle of DATA: nothing is stored or answered
    250, and the session is freed."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.recv(200)
        s.sendall(f"EHLO x\r\nMAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n"
                  "Subject: cut\r\n\r\nno end\r\n".encode())
        s.shutdown(socket.SHUT_WR)
        buf = read_to_eof(s)
    finally:
        s.close()
    assert b"354 " in buf and b"250 2.0.0" not in buf.split(b"354 ", 1)[1]
    assert server.count(ALICE) == 0


def test_ipv6_received_literal(start_server):
    """RFC 5321 4.1.3: an IPv6 peer appears as [IPv6:...] in Received."""
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    server = start_server(**{"smtp.listen": f"[::1]:{port}"})
    s = socket.create_connection(("::1", port), timeout=10)
    try:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(f"EHLO x\r\nMAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n".encode())
        while not f.readline().startswith(b"354"):
            pass
        s.sendall(make_message("v6") + b".\r\n")
        assert f.readline().startswith(b"250 2.0.0")
    finally:
        s.close()
    _, received, _ = split_stored(server.get(ALICE, 1))
    assert "([IPv6:::1])" in unfold(received), received
