"""CHUNKING / BDAT (RFC 3030) over a raw socket: chunks are taken byte for
byte (no dot-stuffing, no end-of-data line), every chunk's bytes are read
even when the command fails, and the size limit holds across chunks."""
import re

import pytest

from conftest import DOMAIN, make_message, split_stored

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
SENDER = "sender@remote.example.org"


def bdat(n, last=False):
    return f"BDAT {n}{' LAST' if last else ''}\r\n".encode()


def begin(c, rcpts=(ALICE,)):
    c.ehlo()
    c.expect(f"MAIL FROM:<{SENDER}>", 250)
    for r in rcpts:
        c.expect(f"RCPT TO:<{r}>", 250)


def expect_octets(c):
    r = c.expect_reply(250, "250 2.0.0")
    assert re.search(r"\d+ octets received", r.first), r.raw
    return r


def test_single_chunk_last(server):
    msg = make_message("one chunk")
    with server.connect() as c:
        begin(c, (ALICE, BOB))
        c.send(bdat(len(msg), True) + msg)
        c.expect_reply(250, "250 2.0.0 Ok: delivered as ")
    for r in (ALICE, BOB):
        stored = server.get(r, 1)
        rp, received, rest = split_stored(stored)
        assert rest == msg
        assert "with ESMTP" in received.decode()


def test_chunks_are_raw_octets(server):
    """Inside a chunk, "." lines, CRLF.CRLF and command text are content;
    no dot is removed; 8-bit octets pass unchanged; a CRLF may be split
    between two chunks."""
    parts = [b"Subject: raw\r\nContent-Type: application/octet-stream\r\n\r\n",
             b"..stays doubled\r\n.\r\nQUIT\r\nRSET\r\n",
             b"\xff\xfe\x80\x00\x01 high and low octets \xe2\x82\xac\r",
             b"\n.\r\n",
             b"tail\r\n"]
    with server.connect() as c:
        begin(c)
        for p in parts:
            c.send(bdat(len(p)) + p)
            expect_octets(c)
        c.send(bdat(0, True))
        c.expect_reply(250, "250 2.0.0 Ok: delivered")
        c.expect("NOOP", 250)
    assert split_stored(server.get(ALICE, 1))[2] == b"".join(parts)


def test_octets_received_counts(server):
    with server.connect() as c:
        begin(c)
        c.send(bdat(10) + b"0123456789")
        r = expect_octets(c)
        assert re.search(r"\b10 octets", r.first), r.raw
        c.send(bdat(5) + b"abcde")
        r = expect_octets(c)
        # Either this chunk's size or the running total, per server.
        assert re.search(r"\b(5|15) octets", r.first), r.raw
        c.send(bdat(0, True))
        c.expect_reply(250)
    assert split_stored(server.get(ALICE, 1))[2] == b"0123456789abcde"


def test_pipelined_bdat_transaction(server):
    msg = make_message("pipelined bdat")
    a, b = msg[:37], msg[37:]
    with server.connect() as c:
        c.send(f"EHLO client.example.org\r\nMAIL FROM:<{SENDER}>\r\n"
               f"RCPT TO:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\n".encode()
               + bdat(len(a)) + a + bdat(len(b)) + b + bdat(0, True) + b"QUIT\r\n")
        c.expect_reply(250)         # EHLO
        c.expect_reply(250, "250 2.1.0")
        c.expect_reply(250, "250 2.1.5")
        c.expect_reply(250, "250 2.1.5")
        expect_octets(c)
        expect_octets(c)
        c.expect_reply(250, "250 2.0.0 Ok: delivered")
        c.expect_reply(221)
        assert c.closed()
    for r in (ALICE, BOB):
        assert split_stored(server.get(r, 1))[2] == msg


def test_large_chunk(start_server):
    """One chunk bigger than the server's input buffer high-water mark."""
    server = start_server(**{"server.max_message_size": "2M"})
    body = bytes(range(256)) * 4096     # 1 MiB, every octet value
    msg = b"Subject: big\r\n\r\n" + body
    with server.connect(timeout=30) as c:
        begin(c)
        c.send(bdat(len(msg), True) + msg)
        c.expect_reply(250, "250 2.0.0 Ok: delivered", timeout=30)
    assert split_stored(server.get(ALICE, 1))[2] == msg


@pytest.mark.parametrize("setup", ["none", "helo-only", "mail-only", "bad-rcpt"])
def test_bdat_without_transaction_consumes_chunk(server, setup):
    """The chunk's bytes are read and dropped, never run as commands (here
    they hold a whole transaction)."""
    chunk = (f"EHLO evil.example\r\nMAIL FROM:<evil@attacker.example>\r\n"
             f"RCPT TO:<{BOB}>\r\nDATA\r\nsmuggled\r\n.\r\nQUIT\r\n").encode()
    with server.connect() as c:
        if setup != "none":
            c.ehlo()
        if setup in ("mail-only", "bad-rcpt"):
            c.expect(f"MAIL FROM:<{SENDER}>", 250)
        if setup == "bad-rcpt":
            c.expect(f"RCPT TO:<nobody@{DOMAIN}>", 550)
        c.send(bdat(len(chunk), True) + chunk + b"NOOP\r\n")
        r = c.reply()
        assert r.code in (503, 554), r.raw
        r = c.reply()
        assert r.first.startswith("250 2.0.0 Ok") and "delivered" not in r.first, \
            f"chunk bytes run as commands: {r.raw!r} {c.buf!r}"
        assert c.silent(0.3), f"chunk bytes run as commands: {c.buf!r}"
    assert server.count(BOB) == 0
    assert server.count(ALICE) == 0


def test_bdat_syntax_errors(server):
    with server.connect() as c:
        begin(c)
        for bad in ("BDAT", "BDAT abc", "BDAT -1", "BDAT 10 FIRST", "BDAT 1.5"):
            r = c.cmd(bad)
            assert r.code == 501, f"{bad!r}: {r.raw!r}"
        # The transaction is intact.
        c.send(bdat(3, True) + b"x\r\n")
        c.expect_reply(250, "250 2.0.0 Ok: delivered")
    assert split_stored(server.get(ALICE, 1))[2] == b"x\r\n"


@pytest.mark.server(**{"server.max_message_size": "10K"})
def test_bdat_at_size_limit(server):
    msg = b"Subject: s\r\n\r\n" + b"y" * (10240 - 14)
    assert len(msg) == 10240
    with server.connect() as c:
        begin(c)
        c.send(bdat(len(msg), True) + msg)
        c.expect_reply(250, "250 2.0.0 Ok: delivered")
    assert split_stored(server.get(ALICE, 1))[2] == msg


@pytest.mark.server(**{"server.max_message_size": "10K"})
def test_bdat_over_size_limit_single_chunk(server):
    msg = b"y" * (10240 + 1)
    with server.connect() as c:
        begin(c)
        c.send(bdat(len(msg), True) + msg + b"NOOP\r\n")
        c.expect_reply(552, "552 5.3.4")
        c.expect_reply(250, "250 2.0.0 Ok")     # the chunk was consumed
        assert c.silent(0.3)
        # A new transaction in the same session works.
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{BOB}>", 250)
        c.send(bdat(4, True) + b"ok\r\n")
        c.expect_reply(250, "250 2.0.0 Ok: delivered")
    assert server.count(ALICE) == 0
    assert server.count(BOB) == 1


@pytest.mark.server(**{"server.max_message_size": "10K"})
def test_bdat_over_size_limit_across_chunks(server):
    with server.connect() as c:
        begin(c)
        c.send(bdat(8000) + b"a" * 8000)
        expect_octets(c)
        c.send(bdat(8000) + b"b" * 8000)
        c.expect_reply(552, "552 5.3.4")
        # RFC 3030: the rest of the transaction fails too.
        c.send(bdat(100, True) + b"c" * 100)
        r = c.reply()
        assert 500 <= r.code < 600, r.raw
        c.expect("NOOP", 250)
        c.expect("RSET", 250)
    assert server.count(ALICE) == 0
    assert "result=250" not in server.log()


def test_bdat_chunk_announced_over_size(start_server):
    """A chunk size beyond the limit (here beyond any buffer) is refused
    without the server trying to hold it."""
    server = start_server(**{"server.max_message_size": "10K"})
    with server.connect() as c:
        begin(c)
        c.send(bdat(10 ** 15, True) + b"z" * 20000)
        # Either refused at once (and then the bytes are commands), or the
        # chunk is counted and the 552 comes at its end: the client gives
        # up here and closes; the server must stay up and clean.
        assert c.silent(1.0) or c.reply().code in (552, 500, 501)
    with server.connect() as c:
        c.ehlo()


def test_data_after_bdat_refused(server):
    with server.connect() as c:
        begin(c)
        c.send(bdat(5) + b"hello")
        expect_octets(c)
        c.expect("DATA", 503, "503 5.5.1")
        # The BDAT transaction can still be finished.
        c.send(bdat(7, True) + b" world!")
        c.expect_reply(250, "250 2.0.0 Ok: delivered")
    assert split_stored(server.get(ALICE, 1))[2] == b"hello world!"


def test_data_then_bdat_transactions(server):
    m1 = make_message("by data")
    m2 = make_message("by bdat")
    with server.connect() as c:
        r = c.send_mail(SENDER, [ALICE], m1)
        assert r.code == 250
        # The DATA transaction is over: BDAT needs a new MAIL.
        c.send(bdat(3, True) + b"x\r\n")
        r = c.reply()
        assert r.code == 503, r.raw
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.send(bdat(len(m2), True) + m2)
        c.expect_reply(250, "250 2.0.0 Ok: delivered")
        # And back to DATA.
        r = c.send_mail(SENDER, [ALICE], m1, ehlo=False)
        assert r.code == 250
    rows = server.messages(ALICE)
    assert [r[4] for r in rows] == ["by data", "by bdat", "by data"]
    assert split_stored(server.get(ALICE, 2))[2] == m2


def test_bdat_slow_chunk(server):
    """A chunk that arrives in small pieces."""
    msg = make_message("slow chunk")
    with server.connect() as c:
        begin(c)
        c.send(bdat(len(msg), True))
        for i in range(0, len(msg), 7):
            c.send(msg[i:i + 7])
        c.expect_reply(250, "250 2.0.0 Ok: delivered")
    assert split_stored(server.get(ALICE, 1))[2] == msg
