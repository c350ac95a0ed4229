"""Idle and slow clients, and the session limit. The timeouts are set to
seconds for the test; the server must end such sessions with 421 4.4.2."""
import time

import pytest

from conftest import DOMAIN, make_message

ALICE = f"alice@{DOMAIN}"
SENDER = "sender@remote.example.org"
FAST = {"smtp.timeout": "2s", "smtp.data_timeout": "3s"}


def expect_timeout_421(c, start, low, high):
    r = c.reply(timeout=high + 2)
    elapsed = time.monotonic() - start
    assert r.code == 421 and r.first.startswith("421 4.4.2"), r.raw
    assert "Timeout" in r.text or "timeout" in r.text, r.raw
    assert low <= elapsed <= high, f"421 after {elapsed:.2f}s, expected {low}..{high}s"
    assert c.closed(5), f"not closed after 421: {c.buf!r}"


def drip(c, data, interval, until):
    """Sends DATA one byte per INTERVAL (waiting by reading, so an early
    reply is seen at once) until a reply arrives or UNTIL seconds pass.
    Returns True if the server spoke (or closed) before the end."""
    deadline = time.monotonic() + until
    i = 0
    while time.monotonic() < deadline:
        try:
            c.send(data[i % len(data):i % len(data) + 1])
        except OSError:
            return True
        i += 1
        if not c.silent(interval):
            return True
    return False


@pytest.mark.server(**FAST)
def test_idle_after_greeting(server):
    with server.connect() as c:
        start = time.monotonic()
        expect_timeout_421(c, start, 1.5, 5)


@pytest.mark.server(**FAST)
def test_idle_in_transaction(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        start = time.monotonic()
        expect_timeout_421(c, start, 1.5, 5)
    assert server.count(ALICE) == 0


@pytest.mark.server(**FAST)
def test_active_session_not_timed_out(server):
    """The timeout is per command: a client that keeps talking stays."""
    with server.connect() as c:
        start = time.monotonic()
        while time.monotonic() - start < 4.5:
            assert c.silent(1.0)
            c.expect("NOOP", 250)
        r = c.send_mail(SENDER, [ALICE], make_message("still here"))
        assert r.code == 250


@pytest.mark.server(**FAST)
def test_dripping_command(server):
    """A command sent one byte at a time must still be complete within
    the timeout (slowloris): each byte does not restart the clock."""
    with server.connect() as c:
        c.ehlo()
        start = time.monotonic()
        spoke = drip(c, b"NOOP " + b"x" * 400, 0.25, 8)
        assert spoke, "no reply to a command dripping in for 8s (timeout 2s)"
        expect_timeout_421(c, start, 1.5, 5)


@pytest.mark.server(**FAST)
def test_dripping_data(server):
    """DATA as whole lines, each in time for the command timeout, but the
    whole content not within data_timeout."""
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        start = time.monotonic()
        c.send(b"Subject: slow\r\n\r\n")
        spoke = False
        while time.monotonic() - start < 8:
            if not c.silent(0.4):
                spoke = True
                break
            try:
                c.send(b"one more line\r\n")
            except OSError:
                spoke = True
                break
        assert spoke, "DATA dripping for 8s was not cut (data_timeout 3s)"
        expect_timeout_421(c, start, 2.5, 6)
    assert server.count(ALICE) == 0


@pytest.mark.server(**FAST)
def test_dripping_bdat_chunk(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.send(b"BDAT 100000 LAST\r\n")
        start = time.monotonic()
        spoke = drip(c, b"0123456789", 0.2, 8)
        assert spoke, "BDAT chunk dripping for 8s was not cut"
        expect_timeout_421(c, start, 1.5, 6)
    assert server.count(ALICE) == 0


@pytest.mark.server(**FAST)
def test_timeout_in_pipelined_half_command(server):
    """A complete command followed by the start of another: the second
    is not complete in time."""
    with server.connect() as c:
        c.send(b"NOOP\r\nNO")
        c.expect_reply(250)
        start = time.monotonic()
        expect_timeout_421(c, start, 1.5, 5)


@pytest.mark.server(**{"smtp.max_sessions": "3"})
def test_session_limit(server):
    clients = []
    try:
        for _ in range(3):
            c = server.connect()
            assert c.greeting.code == 220
            clients.append(c)
        with server.connect(greeting=False) as extra:
            r = extra.reply()
            assert r.code == 421 and r.first.startswith("421 4.7.0"), r.raw
            assert extra.closed()
        # The sessions that were in are unaffected.
        for c in clients:
            c.expect("NOOP", 250)
        # A slot that frees up can be used again.
        clients[0].expect("QUIT", 221)
        assert clients[0].closed()
        clients[0].close()
        ok = None
        for _ in range(50):     # the server frees the slot right after QUIT
            with server.connect(greeting=False) as c:
                r = c.reply()
                if r.code == 220:
                    ok = c.send_mail(SENDER, [ALICE], make_message("in again"))
                    break
                assert r.code == 421
                assert c.closed()
        assert ok is not None and ok.code == 250
    finally:
        for c in clients:
            c.close()


@pytest.mark.server(**FAST)
def test_idle_under_tls(server):
    with server.connect() as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        start = time.monotonic()
        expect_timeout_421(c, start, 1.5, 5)


@pytest.mark.server(**FAST, **{"smtp.max_sessions": "1"})
def test_stalled_tls_handshake(server):
    """STARTTLS answered, then the client never starts the handshake: the
    server must close the session after the timeout and free its slot."""
    with server.connect() as c:
        c.ehlo()
        c.expect("STARTTLS", 220)
        start = time.monotonic()
        # The server may send a TLS alert before it closes; any bytes are fine.
        deadline = start + 8
        while not c.eof and time.monotonic() < deadline:
            c._fill(deadline - time.monotonic())
        # While the staller is still connected, is its slot free?
        with server.connect(greeting=False) as other:
            r = other.reply()
        assert c.eof, "a stalled TLS handshake was not closed within 8s " \
                      f"(timeout 2s); a new session got {r.raw!r}"
        assert 1.5 <= time.monotonic() - start <= 8
        assert r.code == 220, r.raw
