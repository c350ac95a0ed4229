"""PIPELINING (RFC 2920): commands sent in one write are answered in
order, one reply each, and a client that reads late loses nothing."""
import threading

from conftest import DOMAIN, HOSTNAME, make_message, split_stored

ALICE, BOB, CAROL = (f"{u}@{DOMAIN}" for u in ("alice", "bob", "carol"))
SENDER = "sender@remote.example.org"


def test_whole_transaction_in_one_write(server):
    msg = make_message("one write")
    with server.connect() as c:
        c.send(f"EHLO client.example.org\r\nMAIL FROM:<{SENDER}>\r\n"
               f"RCPT TO:<{ALICE}>\r\nRCPT TO:<nobody@{DOMAIN}>\r\n"
               f"RCPT TO:<x@relay.example>\r\nRCPT TO:<{BOB}>\r\n"
               f"DATA\r\n".encode() + msg + b".\r\nQUIT\r\n")
        codes = []
        r = c.reply()
        assert r.code == 250 and r.lines[0].startswith(HOSTNAME), r.raw
        for expected, prefix in ((250, "250 2.1.0"), (250, "250 2.1.5"),
                                 (550, "550 5.1.1"), (554, "554 5.7.1"),
                                 (250, "250 2.1.5"), (354, "354"),
                                 (250, "250 2.0.0 Ok: delivered"), (221, "221")):
            r = c.reply()
            codes.append(r.code)
            assert r.code == expected and r.first.startswith(prefix), \
                f"replies so far {codes}: {r.raw!r}"
        assert c.closed()
    assert split_stored(server.get(ALICE, 1))[2] == msg
    assert split_stored(server.get(BOB, 1))[2] == msg


def test_two_transactions_in_one_write(server):
    m1, m2 = make_message("first"), make_message("second")
    with server.connect() as c:
        c.ehlo()
        c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n".encode() + m1 +
               f".\r\nMAIL FROM:<{SENDER}>\r\nRCPT TO:<{CAROL}>\r\nDATA\r\n".encode() +
               m2 + b".\r\nNOOP\r\n")
        for code in (250, 250, 354, 250, 250, 250, 354, 250, 250):
            c.expect_reply(code)
        assert c.silent(0.3)
    assert split_stored(server.get(ALICE, 1))[2] == m1
    assert split_stored(server.get(CAROL, 1))[2] == m2


def test_rset_in_pipeline(server):
    with server.connect() as c:
        c.ehlo()
        c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nRSET\r\n"
               f"RCPT TO:<{ALICE}>\r\nDATA\r\nNOOP\r\n".encode())
        c.expect_reply(250)
        c.expect_reply(250)
        c.expect_reply(250)
        c.expect_reply(503)
        c.expect_reply(503)
        c.expect_reply(250)
    assert server.count(ALICE) == 0


def test_many_commands_client_reads_late(server):
    """20000 NOOPs in a row, with the replies read only once all are sent:
    more output than the server buffers, so it must pause and resume."""
    n = 20000
    with server.connect(timeout=30) as c:
        c.ehlo()
        sender = threading.Thread(target=c.send, args=(b"NOOP\r\n" * n + b"QUIT\r\n",),
                                  daemon=True)
        sender.start()
        sender.join(30)
        assert not sender.is_alive(), "could not send the NOOPs in 30s"
        for i in range(n):
            r = c.reply(timeout=30)
            assert r.code == 250, f"reply {i}: {r.raw!r}"
        c.expect_reply(221)
        assert c.closed()


def test_pipelined_greeting_race(server):
    """A client that talks before the greeting (not allowed, but seen in
    the wild) still gets the greeting first and then its replies."""
    with server.connect(greeting=False) as c:
        c.send(b"EHLO early.example\r\nNOOP\r\n")
        c.expect_reply(220)
        c.expect_reply(250)
        c.expect_reply(250)
