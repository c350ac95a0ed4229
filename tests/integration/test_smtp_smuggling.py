"""SMTP smuggling (2023, CVE-2023-51764 and friends): only <CRLF>.<CRLF>
ends DATA. A bare LF or bare CR anywhere in the content makes the whole
message fail with one 550 5.6.0 at its real end, and nothing after a fake
end-of-data is ever taken for commands."""
import pytest

from conftest import DOMAIN, make_message, split_stored

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
SENDER = "sender@remote.example.org"

# Fake ends of data an attacker hopes a server or an intermediate accepts.
FAKE_ENDS = {
    "lf.lf": b"\n.\n",
    "cr.cr": b"\r.\r",
    "crlf.lf": b"\r\n.\n",
    "lf.crlf": b"\n.\r\n",
    "crlf.cr": b"\r\n.\r",
    "cr.crlf": b"\r.\r\n",
    "crlf.crcrlf": b"\r\n.\r\r\n",
    "crlf.lfcrlf": b"\r\n.\n\r\n",
    "lf.lfcrlf": b"\n.\n\r\n",
}

SMUGGLED = (f"MAIL FROM:<evil@attacker.example>\r\n"
            f"RCPT TO:<{BOB}>\r\n"
            f"DATA\r\n"
            f"From: <ceo@{DOMAIN}>\r\n"
            f"Subject: smuggled\r\n"
            f"\r\n"
            f"smuggled\r\n").encode()


def check_nothing_stored(server):
    assert server.count(ALICE) == 0
    assert server.count(BOB) == 0
    assert "result=250" not in server.log()


@pytest.mark.parametrize("pipelined", [False, True], ids=["stepwise", "pipelined"])
@pytest.mark.parametrize("name", list(FAKE_ENDS))
def test_fake_end_of_data(server, name, pipelined):
    fake = FAKE_ENDS[name]
    head = (f"EHLO client.example.org\r\nMAIL FROM:<{SENDER}>\r\n"
            f"RCPT TO:<{ALICE}>\r\nDATA\r\n").encode()
    content = b"Subject: hello\r\n\r\nhello" + fake + SMUGGLED + b".\r\n"
    with server.connect() as c:
        if pipelined:
            c.send(head + content + b"NOOP\r\n")
            assert c.expect_reply(250).lines[0].startswith("mail.example.test")
            c.expect_reply(250)
            c.expect_reply(250)
            c.expect_reply(354)
        else:
            c.ehlo()
            c.expect(f"MAIL FROM:<{SENDER}>", 250)
            c.expect(f"RCPT TO:<{ALICE}>", 250)
            c.expect("DATA", 354)
            c.send(content + b"NOOP\r\n")
        # Exactly one reply for the data, then the NOOP's.
        r = c.reply()
        assert r.code == 550 and r.first.startswith("550 5.6.0"), \
            f"{name}: data answered {r.raw!r}"
        r = c.reply()
        assert r.code == 250 and r.first.startswith("250 2.0.0 Ok"), \
            f"{name}: more replies than one for the data: {r.raw!r}"
        assert "delivered" not in r.first
        assert c.silent(0.3), f"{name}: extra replies {c.buf!r}"
    check_nothing_stored(server)


@pytest.mark.parametrize("content", [
    b"Subject: x\r\n\r\nbare\nlf in a line\r\n",
    b"Subject: x\r\n\r\nbare\rcr in a line\r\n",
    b"Subject: x\nTo: <alice@example.test>\n\nunix line ends\n",
    b"Subject: x\r\n\r\nends with bare lf\n",
    b"Subject: x\r\n\r\nends with bare cr\r",
    b"\n",
    b"Subject: x\r\n\r\n\r\r\n",
], ids=["lf-mid", "cr-mid", "unix", "lf-last", "cr-last", "lone-lf", "crcrlf"])
def test_bare_cr_or_lf_rejected(server, content):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(content + b"\r\n.\r\n" if not content.endswith(b"\r\n") else content + b".\r\n")
        c.expect_reply(550, "550 5.6.0")
        assert c.silent(0.3), f"extra replies {c.buf!r}"
        # The session is still good for a clean message.
        msg = make_message("clean")
        r = c.send_mail(SENDER, [BOB], msg, ehlo=False)
        assert r.code == 250, r.raw
    assert server.count(ALICE) == 0
    assert split_stored(server.get(BOB, 1))[2] == msg


def test_fake_end_split_across_writes(server):
    """The parser keeps its position across reads: a fake end that arrives
    one byte per packet is no more an end than in one piece."""
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        payload = b"Subject: slow\r\n\r\nhello\n.\n" + SMUGGLED + b".\r\n"
        for i in range(len(payload)):
            c.send(payload[i:i + 1])
        c.expect_reply(550, "550 5.6.0")
        assert c.silent(0.3), f"extra replies {c.buf!r}"
    check_nothing_stored(server)


def test_clean_message_byte_by_byte(server):
    """Control for the test above: CRLF.CRLF split over single-byte
    writes does end the data, and the content is stored exactly."""
    msg = make_message("bytewise", ["..dot", "x"])
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        payload = msg + b".\r\n"
        for i in range(len(payload)):
            c.send(payload[i:i + 1])
        c.expect_reply(250)
    assert split_stored(server.get(ALICE, 1))[2] == msg.replace(b"\r\n..dot", b"\r\n.dot")


def test_smuggling_in_second_transaction(server):
    """After a good message, a bad one in the same session is still
    refused as a whole."""
    with server.connect() as c:
        c.ehlo()
        r = c.send_mail(SENDER, [ALICE], make_message("good"), ehlo=False)
        assert r.code == 250
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: bad\r\n\r\nx\n.\n" + SMUGGLED + b".\r\nNOOP\r\n")
        c.expect_reply(550, "550 5.6.0")
        c.expect_reply(250)
        assert c.silent(0.3)
    assert server.count(ALICE) == 1
    assert server.count(BOB) == 0
