"""Every error reply of inbound SMTP, and the limits at max-1, max, max+1:
command line 512, text line 1000, message size, recipients, errors."""

import pytest

from conftest import DOMAIN, make_message, split_stored

ALICE, BOB, CAROL = (f"{u}@{DOMAIN}" for u in ("alice", "bob", "carol"))
SENDER = "sender@remote.example.org"


def start_data(c, rcpts=(ALICE,), mail_args=""):
    c.ehlo()
    c.expect(f"MAIL FROM:<{SENDER}>{mail_args}", 250)
    for r in rcpts:
        c.expect(f"RCPT TO:<{r}>", 250)
    c.expect("DATA", 354)


def sized_message(n):
    """A message of exactly N octets: CRLF lines of at most 80 octets,
    none starting with a dot (so nothing is unstuffed)."""
    head = b"Subject: sized\r\n\r\n"
    assert n >= len(head) + 3
    left = n - len(head)
    lines = []
    while left > 0:
        k = min(80, left)
        if left - k in (1, 2):          # never leave a stub shorter than CRLF+1
            k -= 3
        lines.append(b"a" * (k - 2) + b"\r\n")
        left -= k
    m = head + b"".join(lines)
    assert len(m) == n
    return m


def ehlo_size(c):
    r = c.ehlo()
    for l in r.lines:
        if l.upper().startswith("SIZE "):
            return int(l.split()[1])
    raise AssertionError(f"no SIZE in {r.raw!r}")


# --- sequence errors ---------------------------------------------------------

@pytest.mark.parametrize("cmd", [f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>", "DATA",
                                 "BDAT 0 LAST"])
def test_transaction_commands_need_ehlo(server, cmd):
    with server.connect() as c:
        c.expect(cmd, 503, "503 5.5.1")
        c.expect("NOOP", 250)
    assert server.total_messages() == 0


def test_rcpt_before_mail(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"RCPT TO:<{ALICE}>", 503, "503 5.5.1")


def test_data_before_mail(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("DATA", 503, "503 5.5.1")


def test_data_before_rcpt(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect("DATA", 503, "503 5.5.1")


def test_nested_mail(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"MAIL FROM:<{SENDER}>", 503, "503 5.5.1")


def test_ehlo_resets_transaction(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.ehlo()
        c.expect(f"RCPT TO:<{ALICE}>", 503, "503 5.5.1")


def test_data_without_valid_recipient(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<nobody@{DOMAIN}>", 550)
        r = c.cmd("DATA")
        assert r.code in (503, 554), r.raw
        # The data was not started: a line of text is a (bad) command.
        c.expect("NOOP", 250)
    assert server.total_messages() == 0


# --- recipients --------------------------------------------------------------

def test_unknown_user(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<nobody@{DOMAIN}>", 550, "550 5.1.1")
        c.expect(f"RCPT TO:<{ALICE}>", 250)


@pytest.mark.parametrize("rcpt", ["someone@other.example", "alice@other.example",
                                  f"alice@sub.{DOMAIN}", "alice@[127.0.0.1]",
                                  f"alice@{DOMAIN}.evil.example"])
def test_relay_denied(server, rcpt):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 554, "554 5.7.1")
        r = c.cmd("DATA")
        assert r.code in (503, 554), r.raw
    assert server.total_messages() == 0


@pytest.mark.parametrize("rcpt", [f"bob%other.example@{DOMAIN}",
                                  f"other.example!bob@{DOMAIN}"])
def test_no_relay_through_local_part_tricks(server, rcpt):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code in (550, 554), r.raw


@pytest.mark.server(**{"smtp.max_recipients": "3"})
def test_too_many_recipients(server):
    msg = make_message("max rcpt")
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        for r in (ALICE, BOB, CAROL):
            c.expect(f"RCPT TO:<{r}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 452, "452 4.5.3")
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        c.expect_reply(250)
    for r in (ALICE, BOB, CAROL):
        assert server.count(r) == 1


@pytest.mark.server(**{"smtp.max_recipients": "2"})
def test_rejected_recipients_do_not_use_the_limit(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<nobody@{DOMAIN}>", 550)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect(f"RCPT TO:<{BOB}>", 250)
        c.expect(f"RCPT TO:<{CAROL}>", 452, "452 4.5.3")


# --- command syntax ----------------------------------------------------------

def test_unknown_command(server):
    with server.connect() as c:
        c.expect("FROBNICATE", 500, "500 5.5.1")
        c.expect("NOOP", 250)


@pytest.mark.parametrize("cmd", ["EXPN staff", "ETRN example.test", "AUTH PLAIN AGZvbwBiYXI="])
def test_not_implemented(server, cmd):
    with server.connect() as c:
        c.ehlo()
        c.expect(cmd, 502, "502 5.5.1")


@pytest.mark.parametrize("cmd", ["HELO", "EHLO", "HELO  ", "EHLO bad\x7fname"])
def test_helo_needs_a_name(server, cmd):
    with server.connect() as c:
        r = c.cmd(cmd)
        assert r.code == 501, r.raw
        c.expect(f"MAIL FROM:<{SENDER}>", 503)


@pytest.mark.parametrize("arg", ["FROM:alice@x.example", "FROM:<", "FROM:<a@b> BOGUS=1",
                                 "TO:<a@b>", "FROM:<a b@c.example>"])
def test_mail_syntax_errors(server, arg):
    with server.connect() as c:
        c.ehlo()
        r = c.cmd(f"MAIL {arg}")
        assert r.code in (501, 555), r.raw
        # No transaction was started.
        c.expect(f"RCPT TO:<{ALICE}>", 503)


def test_smtputf8_recipient_needs_smtputf8(server):
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<jösé@{DOMAIN}>", 553, "553 5.6.7")


def test_mail_utf8_without_smtputf8(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<jösé@example.org>", 553, "553 5.6.7")


def test_nul_in_command(server):
    with server.connect() as c:
        c.ehlo()
        r = c.cmd(b"NOOP \x00 hidden")
        assert r.code == 500, r.raw
        c.expect("NOOP", 250)


# --- command line length -----------------------------------------------------

@pytest.mark.parametrize("total", [511, 512])
def test_command_line_at_limit(server, total):
    line = b"NOOP " + b"x" * (total - 7)
    assert len(line) + 2 == total
    with server.connect() as c:
        c.expect(line, 250)


def test_command_line_over_limit(server):
    line = b"NOOP " + b"x" * (513 - 7)
    assert len(line) + 2 == 513
    with server.connect() as c:
        c.expect(line, 500, "500 5.5.2")
        c.expect("NOOP", 250)


def test_long_command_tail_is_not_a_command(server):
    """Only one reply for an over-long line: its tail (here "QUIT") must
    not be taken for a command of its own."""
    with server.connect() as c:
        c.ehlo()
        c.send(b"NOOP " + b"y" * 600 + b"QUIT\r\nNOOP\r\n")
        c.expect_reply(500, "500 5.5.2")
        c.expect_reply(250)
        assert c.silent(0.5), f"extra replies: {c.buf!r}"
        c.expect("NOOP", 250)


def test_very_long_command_line(server):
    with server.connect() as c:
        c.ehlo()
        c.send(b"MAIL FROM:<" + b"a" * 200000 + b"@x.example>\r\n")
        c.expect_reply(500, "500 5.5.2")
        c.expect("NOOP", 250)
        assert c.silent(0.3)


def test_bare_lf_ends_no_command(server):
    with server.connect() as c:
        c.ehlo()
        c.send(b"NOOP\n")
        c.expect_reply(500, "500 5.5.2")
        c.expect("NOOP", 250)


def test_bare_lf_in_pipelined_commands(server):
    with server.connect() as c:
        c.ehlo()
        c.send(f"MAIL FROM:<{SENDER}>\nRCPT TO:<{ALICE}>\r\nNOOP\r\n".encode())
        # "MAIL ...\nRCPT ...\r\n" is one bad line, or two lines of which
        # the first is bad: never an accepted MAIL.
        r = c.reply()
        assert r.code == 500 and r.first.startswith("500 5.5.2"), r.raw
        r = c.reply()
        if r.code == 503:       # the RCPT line was read on its own
            r = c.reply()
        assert r.code == 250 and "2.0.0" in r.first, r.raw
        assert c.silent(0.3)


# --- text line length (DATA) -------------------------------------------------

@pytest.mark.parametrize("total", [999, 1000])
def test_text_line_at_limit(server, total):
    msg = b"Subject: long line\r\n\r\n" + b"z" * (total - 2) + b"\r\nend\r\n"
    with server.connect() as c:
        start_data(c)
        c.send(msg + b".\r\n")
        c.expect_reply(250, "250 2.0.0")
    assert split_stored(server.get(ALICE, 1))[2] == msg


@pytest.mark.parametrize("total", [1001, 1002, 2500])
@pytest.mark.parametrize("where", ["header", "body", "last"])
def test_text_line_over_limit(server, where, total):
    long = b"z" * (total - 2) + b"\r\n"
    if where == "header":
        long = long[len(b"Subject: "):]
    if where == "header":
        msg = b"Subject: " + long + b"\r\nbody\r\n"
    elif where == "body":
        msg = b"Subject: x\r\n\r\n" + long + b"more\r\n"
    else:
        msg = b"Subject: x\r\n\r\n" + long
    with server.connect() as c:
        start_data(c)
        c.send(msg + b".\r\n")
        c.expect_reply(500, "500 5.5.2", timeout=5)
        assert c.silent(0.3), f"extra replies: {c.buf!r}"
        # The session goes on and a good message gets through.
        r = c.send_mail(SENDER, [BOB], make_message("after long line"), ehlo=False)
        assert r.code == 250
    assert server.count(ALICE) == 0
    assert server.count(BOB) == 1


def test_long_text_line_cannot_hide_end_of_data(server):
    """The part of an over-long line past 1000 octets is not at the start
    of a line: a dot there does not end the data, the real CRLF.CRLF does."""
    with server.connect() as c:
        start_data(c)
        c.send(b"Subject: x\r\n\r\n" + b"q" * 1000 + b".\r\nMAIL FROM:<evil@x.example>\r\n"
               b"more text\r\n.\r\n")
        c.expect_reply(500, "500 5.5.2")
        assert c.silent(0.5), f"extra replies: {c.buf!r}"
        c.expect("NOOP", 250)
    assert server.total_messages() == 0


# --- message size ------------------------------------------------------------

@pytest.mark.server(**{"server.max_message_size": "10K"})
@pytest.mark.parametrize("delta", [-1, 0])
def test_message_size_at_limit(server, delta):
    with server.connect() as c:
        limit = ehlo_size(c)
        assert limit == 10240
        msg = sized_message(limit + delta)
        c.expect(f"MAIL FROM:<{SENDER}> SIZE={len(msg)}", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        c.expect_reply(250, "250 2.0.0")
    assert split_stored(server.get(ALICE, 1))[2] == msg


@pytest.mark.server(**{"server.max_message_size": "10K"})
@pytest.mark.parametrize("extra", [1, 100, 2 * 1024 * 1024])
def test_message_size_over_limit(server, extra):
    with server.connect(timeout=30) as c:
        limit = ehlo_size(c)
        msg = sized_message(limit + extra)
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        c.expect_reply(552, "552 5.3.4")
        assert c.silent(0.3), f"extra replies: {c.buf!r}"
        c.expect("NOOP", 250)
    assert server.count(ALICE) == 0
    assert "result=250" not in server.log()


def test_dot_stuffing_does_not_count_toward_size(start_server):
    server = start_server(**{"server.max_message_size": "1K"})
    msg = sized_message(1024)
    # Every line starts with a dot on the wire: 1024 octets stored.
    body = msg.split(b"\r\n\r\n", 1)[1]
    wire_msg = msg.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + \
        b"".join(b".." + l[1:] + b"\r\n" for l in body.split(b"\r\n")[:-1])
    stored_msg = msg.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + \
        b"".join(b"." + l[1:] + b"\r\n" for l in body.split(b"\r\n")[:-1])
    assert len(stored_msg) == 1024 and len(wire_msg) > 1024
    with server.connect() as c:
        start_data(c)
        c.send(wire_msg + b".\r\n")
        c.expect_reply(250)
    assert split_stored(server.get(ALICE, 1))[2] == stored_msg


@pytest.mark.server(**{"server.max_message_size": "10K"})
def test_mail_size_parameter(server):
    with server.connect() as c:
        limit = ehlo_size(c)
        c.expect(f"MAIL FROM:<{SENDER}> SIZE={limit + 1}", 552, "552 5.3.4")
        r = c.cmd(f"MAIL FROM:<{SENDER}> SIZE=99999999999999999999999")
        assert r.code in (501, 552, 555), r.raw
        c.expect(f"MAIL FROM:<{SENDER}> SIZE={limit}", 250)


@pytest.mark.parametrize("param", ["SIZE=abc", "SIZE=", "SIZE=-1", "BODY=7BIT8"])
def test_mail_bad_parameter(server, param):
    with server.connect() as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{SENDER}> {param}")
        assert r.code in (501, 555), r.raw


# --- too many errors ---------------------------------------------------------

@pytest.mark.server(**{"smtp.max_errors": "3"})
def test_too_many_errors(server):
    with server.connect() as c:
        c.expect("FOO", 500)
        c.expect("BAR", 500)
        c.expect("NOOP", 250)           # good commands do not count
        c.send(b"BAZ\r\n")
        c.expect_reply(500)
        r = c.reply()
        assert r.code == 421 and r.first.startswith("421 4.7.0"), r.raw
        assert "Too many errors" in r.text
        assert c.closed(), f"not closed: {c.buf!r}"


@pytest.mark.server(**{"smtp.max_errors": "3"})
def test_too_many_unknown_recipients(server):
    """Failed RCPTs count too: a directory harvest ends the session."""
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<u1@{DOMAIN}>", 550)
        c.expect(f"RCPT TO:<u2@{DOMAIN}>", 550)
        c.send(f"RCPT TO:<u3@{DOMAIN}>\r\n".encode())
        c.expect_reply(550)
        c.expect_reply(421, "421 4.7.0")
        assert c.closed()


@pytest.mark.server(**{"smtp.max_errors": "2"})
def test_too_many_errors_pipelined(server):
    """Errors in one pipelined write: the session ends at the limit, and
    the commands after it are not executed."""
    with server.connect() as c:
        c.send(b"FOO\r\nBAR\r\nNOOP\r\nEHLO x.example\r\n")
        c.expect_reply(500)
        c.expect_reply(500)
        c.expect_reply(421, "421 4.7.0")
        assert c.closed()


@pytest.mark.parametrize("request_line", [b"GET / HTTP/1.0\r\n\r\n",
                                          b"POST /submit HTTP/1.1\r\nHost: x\r\n\r\n",
                                          b"CONNECT mail.example.test:25 HTTP/1.1\r\n\r\n"])
def test_http_request_closes(server, request_line):
    with server.connect() as c:
        c.send(request_line)
        r = c.reply()
        assert r.code == 421, r.raw
        assert c.closed(), f"not closed after HTTP request: {c.buf!r}"
    assert server.running()


# --- memory shared by all sessions ---------------------------------------------

@pytest.mark.server(**{"server.max_message_size": "100K", "server.max_buffered": "20K"})
def test_shared_memory_budget(server):
    """Message content held in memory by all sessions together is capped
    ([server] max_buffered): a message that would pass it is refused with a
    temporary 452 4.3.1 and nothing is stored, and the room comes back once
    the other session's message is done."""
    first = sized_message(12 * 1024)
    second = sized_message(8 * 1024)
    with server.connect() as a, server.connect() as b:
        for c in (a, b):
            c.ehlo()
            c.expect(f"MAIL FROM:<{SENDER}>", 250)
            c.expect(f"RCPT TO:<{ALICE}>", 250)
            c.expect("DATA", 354)
        # A holds 12K in memory, not finished yet.
        a.send(first)
        assert a.silent(0.3)
        # B's 8K does not fit next to it: temporary failure, not stored.
        b.send(second + b".\r\n")
        b.expect_reply(452, "452 4.3.1")
        # Not counted as a client error: the session goes on.
        b.expect("NOOP", 250)
        a.send(b".\r\n")
        a.expect_reply(250, "250 2.0.0")
        # A's memory is released: B's message now fits.
        r = b.send_mail(SENDER, [ALICE], second, ehlo=False)
        assert r.code == 250, r.raw
    stored = [split_stored(server.get(ALICE, uid))[2] for uid in (1, 2)]
    assert stored == [first, second]
    assert "reason=server-memory-full" in server.log()
