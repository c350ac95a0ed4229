"""SIGTERM (and SIGINT): open sessions get 421 4.3.2, messages already
answered 250 are kept, half-received ones are not, and the exit code is 0."""
import signal
import socket
import time

import pytest

from conftest import DOMAIN, STOP_TIMEOUT, make_message, split_stored

ALICE = f"alice@{DOMAIN}"
SENDER = "sender@remote.example.org"


def expect_shutdown_421(c):
    r = c.reply()
    assert r.code == 421 and r.first.startswith("421 4.3.2"), r.raw
    assert "shutting down" in r.text
    assert c.closed(), f"not closed after 421: {c.buf!r}"


def stop_and_check(server, sig=None):
    """Waits for the exit (signalling first if SIG is given: a test that
    already sent SIGTERM must not send another one)."""
    start = time.monotonic()
    if sig is not None:
        server.signal(sig)
    rc = server.wait()
    assert rc == 0, server.log()[-3000:]
    assert time.monotonic() - start < STOP_TIMEOUT
    assert "serve stopped" in server.log()


def test_sigterm_no_sessions(server):
    stop_and_check(server, signal.SIGTERM)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_sigint_no_sessions(server):
    stop_and_check(server, signal.SIGINT)


@pytest.mark.parametrize("state", ["greeted", "ehlo", "in-transaction"])
def test_sigterm_idle_session(server, state):
    with server.connect() as c:
        if state != "greeted":
            c.ehlo()
        if state == "in-transaction":
            c.expect(f"MAIL FROM:<{SENDER}>", 250)
            c.expect(f"RCPT TO:<{ALICE}>", 250)
        server.signal(signal.SIGTERM)
        expect_shutdown_421(c)
    stop_and_check(server)
    assert server.count(ALICE) == 0


def test_sigterm_many_sessions(server):
    clients = [server.connect() for _ in range(10)]
    try:
        for c in clients[::2]:
            c.ehlo()
        server.signal(signal.SIGTERM)
        for c in clients:
            expect_shutdown_421(c)
    finally:
        for c in clients:
            c.close()
    stop_and_check(server)


def test_sigterm_during_data(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: half\r\n\r\nthe first half of a message\r\n")
        assert c.silent(0.3)
        server.signal(signal.SIGTERM)
        expect_shutdown_421(c)
    stop_and_check(server)
    assert server.count(ALICE) == 0


def test_sigterm_during_bdat(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.send(b"BDAT 1000 LAST\r\n" + b"x" * 100)
        assert c.silent(0.3)
        server.signal(signal.SIGTERM)
        expect_shutdown_421(c)
    stop_and_check(server)
    assert server.count(ALICE) == 0


def test_delivered_messages_survive_shutdown(server):
    msgs = [make_message(f"kept {i}") for i in range(3)]
    with server.connect() as c:
        c.ehlo()
        for m in msgs:
            assert c.send_mail(SENDER, [ALICE], m, ehlo=False).code == 250
        server.signal(signal.SIGTERM)
        expect_shutdown_421(c)
    stop_and_check(server)
    for i, m in enumerate(msgs, 1):
        assert split_stored(server.get(ALICE, i))[2] == m


def test_sigterm_with_pipelined_message(server):
    """A message whose final dot is in the same write as the SIGTERM race:
    the client gets either 250 (and it is stored) or 421 (and it is not)."""
    msg = make_message("race")
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        server.signal(signal.SIGTERM)
        r = c.reply()
        if r.code == 250:
            expect_shutdown_421(c)
            stored = 1
        else:
            assert r.code == 421, r.raw
            stored = 0
    stop_and_check(server)
    assert server.count(ALICE) == stored


def test_250_means_committed(server):
    """A message is stored before its 250: killing the server right after
    the reply (no clean shutdown) does not lose it."""
    msgs = []
    with server.connect() as c:
        c.ehlo()
        for i in range(3):
            msgs.append(make_message(f"durable {i}"))
            assert c.send_mail(SENDER, [ALICE], msgs[-1], ehlo=False).code == 250
        server.kill()
    for i, m in enumerate(msgs, 1):
        assert split_stored(server.get(ALICE, i))[2] == m
