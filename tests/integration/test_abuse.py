"""Abuse of the server itself (issue 12), with real clients (raw sockets,
smtplib, imaplib, poplib) from several loopback addresses (127.0.0.0/8 is
all on lo, so 127.0.1.x and 127.0.2.x are different /24s):

- [limits]: connections at once and per minute, per address and per /24,
  on SMTP, submission, IMAP and POP3 (421 4.7.0, * BYE [UNAVAILABLE],
  -ERR [SYS/TEMP]; implicit TLS just closes), limits not hit, loopback
  exempt by default;
- [smtp] greet_pause: a client that talks first gets 554 5.7.1 and is
  closed, one that waits is greeted; submission has no pause;
- [smtp] max_unknown_recipients: 421 4.7.0 past it, counted apart from
  max_errors;
- [auth]: one count for IMAP, POP3 and SMTP AUTH; an account banned from
  many addresses but not from its owner's network, and the ban ends;
- [submission] max_messages_per_hour and max_recipients_per_hour: 451
  4.7.1.

Every refusal is checked in the log too. No timing assertions: a ban that
ends is polled for with a deadline."""
import base64
import imaplib
import poplib
import smtplib
import socket
import ssl
import time

import pytest

from conftest import (DOMAIN, HOSTNAME, IO_TIMEOUT, PASSWORD, IMAPClient,
                      POP3Client, SMTPClient, imap_quote, make_message,
                      wait_for)

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"

# Loopback counted like any peer, plain-text logins on loopback, no
# failure delay (the delay has its own tests).
COUNTED = {"limits.exempt_loopback": "no",
           "imap.allow_plaintext": "loopback",
           "pop3.allow_plaintext": "loopback",
           "submission.allow_plaintext": "loopback",
           "auth.failure_delay": "0",
           "queue.deliver": "0"}


def connect_from(cls, port, src="127.0.0.1", greeting=True):
    """A raw client of class cls (SMTPClient, IMAPClient, POP3Client)
    whose connection comes from source address src."""
    c = cls.__new__(cls)
    c.timeout = IO_TIMEOUT
    c.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT,
                                      source_address=(src, 0))
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.buf, c.eof, c.n = b"", False, 0
    c.greeting = None
    if greeting:
        c.greeting = c.reply() if cls is SMTPClient else c.readline()
    return c


def read_to_eof(c):
    """Everything the server still sends before it closes (bytes); fails
    if it does not close within the timeout."""
    data = c.buf
    c.sock.settimeout(IO_TIMEOUT)
    while True:
        try:
            chunk = c.sock.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            raise AssertionError(f"not closed; got {data!r}")
        if not chunk:
            break
        data += chunk
    c.buf = b""
    return data


def log_lines(server, *needles):
    return [line for line in server.log().splitlines()
            if all(n in line for n in needles)]


PROTOCOLS = {
    # name: (client class, port attribute, refusal prefix)
    "smtp": (SMTPClient, "port", b"421 4.7.0 " + HOSTNAME.encode() +
             b" Too many connections"),
    "submission": (SMTPClient, "sub_port", b"421 4.7.0 " + HOSTNAME.encode() +
                   b" Too many connections"),
    "imap": (IMAPClient, "imap_port", b"* BYE [UNAVAILABLE] Too many "
             b"connections"),
    "pop3": (POP3Client, "pop3_port", b"-ERR [SYS/TEMP] Too many "
             b"connections"),
}


# --- [limits] -----------------------------------------------------------------

@pytest.mark.parametrize("proto", sorted(PROTOCOLS))
def test_sessions_per_address(start_server, proto):
    cls, port_attr, refusal = PROTOCOLS[proto]
    server = start_server(**COUNTED, **{"limits.ip_sessions": "3"})
    port = getattr(server, port_attr)
    held = [connect_from(cls, port, "127.0.1.1") for _ in range(3)]
    for c in held:
        greeting = c.greeting.raw if cls is SMTPClient else c.greeting
        assert not greeting.startswith(refusal[:5]), greeting
    # the 4th at once: refused, and closed
    c = connect_from(cls, port, "127.0.1.1", greeting=False)
    data = read_to_eof(c)
    assert data.startswith(refusal), data
    assert data.count(b"\r\n") == 1, data
    c.close()
    # another address (even of the same /24) is not limited by it
    other = connect_from(cls, port, "127.0.1.2")
    other.close()
    wait_for(lambda: log_lines(server, "result=refused",
                               "limit=ip_sessions", "peer=127.0.1.1"),
             what="the refusal logged")
    assert not log_lines(server, "result=refused", "peer=127.0.1.2")
    # one ends: another may come
    held.pop().close()
    deadline = time.monotonic() + IO_TIMEOUT
    while True:
        c = connect_from(cls, port, "127.0.1.1", greeting=False)
        first = c.readline() if cls is not SMTPClient else c.reply().raw
        c.close()
        if not first.startswith(refusal):
            break
        assert time.monotonic() < deadline, "the slot was never freed"
        time.sleep(0.05)
    for c in held:
        c.close()


def test_sessions_per_network(start_server):
    server = start_server(**COUNTED, **{"limits.ip_sessions": "10",
                                        "limits.net_sessions": "2"})
    a = connect_from(SMTPClient, server.port, "127.0.2.1")
    b = connect_from(SMTPClient, server.port, "127.0.2.200")
    assert a.greeting.code == 220 and b.greeting.code == 220
    # a third address of 127.0.2.0/24
    c = connect_from(SMTPClient, server.port, "127.0.2.77", greeting=False)
    data = read_to_eof(c)
    assert data.startswith(b"421 4.7.0 "), data
    # another /24 is another network
    d = connect_from(SMTPClient, server.port, "127.0.3.1")
    assert d.greeting.code == 220
    assert log_lines(server, "result=refused", "limit=net_sessions",
                     "peer=127.0.2.77")
    for x in (a, b, c, d):
        x.close()


@pytest.mark.parametrize("proto", ["smtp", "imap", "pop3"])
def test_rate_per_address(start_server, proto):
    cls, port_attr, refusal = PROTOCOLS[proto]
    server = start_server(**COUNTED, **{"limits.ip_rate": "3"})
    port = getattr(server, port_attr)
    # 3 in a minute pass, one after the other (none held open)
    for _ in range(3):
        c = connect_from(cls, port, "127.0.4.1")
        greeting = c.greeting.raw if cls is SMTPClient else c.greeting
        assert not greeting.startswith(refusal), greeting
        c.close()
    c = connect_from(cls, port, "127.0.4.1", greeting=False)
    data = read_to_eof(c)
    assert data.startswith(refusal), data
    c.close()
    assert log_lines(server, "result=refused", "limit=ip_rate",
                     "peer=127.0.4.1")
    # another address has its own rate
    c = connect_from(cls, port, "127.0.4.2")
    c.close()


def test_rate_per_network(start_server):
    server = start_server(**COUNTED, **{"limits.net_rate": "4"})
    for i in range(4):
        c = connect_from(SMTPClient, server.port, f"127.0.5.{i + 1}")
        assert c.greeting.code == 220
        c.close()
    c = connect_from(SMTPClient, server.port, "127.0.5.99", greeting=False)
    assert read_to_eof(c).startswith(b"421 4.7.0 ")
    assert log_lines(server, "result=refused", "limit=net_rate",
                     "peer=127.0.5.99")


def test_implicit_tls_refused_without_handshake(start_server):
    server = start_server(**COUNTED, **{"limits.ip_sessions": "1"})
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held = ctx.wrap_socket(socket.create_connection(
        ("127.0.0.1", server.imaps_port), timeout=IO_TIMEOUT,
        source_address=("127.0.6.1", 0)))
    assert held.recv(4096).startswith(b"* OK")
    raw = socket.create_connection(("127.0.0.1", server.imaps_port),
                                   timeout=IO_TIMEOUT,
                                   source_address=("127.0.6.1", 0))
    # closed before any handshake: the client's handshake fails
    with pytest.raises(OSError):
        ctx.wrap_socket(raw)
    raw.close()
    held.close()
    assert log_lines(server, "imap connect", "result=refused",
                     "peer=127.0.6.1")


def test_limits_not_hit(start_server):
    """The defaults, loopback counted: a busy client is not limited."""
    server = start_server(**COUNTED)
    held = [connect_from(SMTPClient, server.port, "127.0.7.1")
            for _ in range(20)]
    for c in held:
        assert c.greeting.code == 220
    for c in held:
        c.expect("QUIT", 221)
        c.close()
    imaps = [connect_from(IMAPClient, server.imap_port, "127.0.7.1")
             for _ in range(20)]
    for c in imaps:
        assert c.greeting.startswith(b"* OK"), c.greeting
        c.close()
    assert not log_lines(server, "result=refused")


def test_loopback_exempt_by_default(start_server):
    server = start_server(**{"limits.ip_sessions": "1",
                             "limits.ip_rate": "1"})
    held = [SMTPClient(server.port) for _ in range(5)]
    for c in held:
        assert c.greeting.code == 220
        c.close()
    assert not log_lines(server, "result=refused")


# --- [smtp] greet_pause -------------------------------------------------------

def test_early_talker_refused(start_server):
    server = start_server(**{"smtp.greet_pause": "3s"})
    c = SMTPClient(server.port, greeting=False)
    c.send(b"EHLO spammer.example\r\n")
    data = read_to_eof(c)
    assert data.startswith(b"554 5.7.1 "), data
    assert b"220" not in data, data
    assert log_lines(server, "smtp pregreet", "peer=127.0.0.1",
                     "result=554")
    assert log_lines(server, 'reason="early talker"')


def test_patient_client_greeted(start_server):
    server = start_server(**{"smtp.greet_pause": "1s"})
    c = SMTPClient(server.port)    # waits for the greeting
    assert c.greeting.code == 220
    c.ehlo()
    r = c.send_mail("sender@remote.example.org", [ALICE],
                    make_message("patient"), ehlo=False)
    assert r.code == 250, r.raw
    c.expect("QUIT", 221)
    assert not log_lines(server, "smtp pregreet")
    # a client that leaves during the pause is just gone
    c = SMTPClient(server.port, greeting=False)
    c.close()


def test_shutdown_during_the_pause(start_server):
    server = start_server(**{"smtp.greet_pause": "30s"})
    c = SMTPClient(server.port, greeting=False)
    wait_for(lambda: log_lines(server, "smtp connect"), what="the connect")
    server.stop()    # SIGTERM: a clean exit, no sanitizer report
    data = read_to_eof(c)
    assert data.startswith(b"421 4.3.2 "), data
    assert b"220" not in data, data


def test_no_pause_on_submission(start_server):
    server = start_server(**{"smtp.greet_pause": "5s"})
    c = SMTPClient(server.sub_port, greeting=False)
    # talking first on 587 is allowed: the greeting, then the EHLO reply
    c.send(b"EHLO client.example\r\n")
    assert c.reply().code == 220
    assert c.reply().code == 250
    c.close()
    assert not log_lines(server, "smtp pregreet")


# --- [smtp] max_unknown_recipients --------------------------------------------

@pytest.mark.server(**{"smtp.max_unknown_recipients": "3",
                       "smtp.max_errors": "100"})
def test_unknown_recipients_limit(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<harvester@remote.example.org>", 250)
        # other mistakes do not count here
        for _ in range(5):
            c.expect("FOO", 500)
        for i in range(3):
            c.expect(f"RCPT TO:<nobody{i}@{DOMAIN}>", 550, "550 5.1.1")
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        r = c.cmd(f"RCPT TO:<nobody9@{DOMAIN}>")
        assert r.first.startswith("421 4.7.0 "), r.raw
        assert c.closed()
    assert log_lines(server, "result=421",
                     'reason="too many unknown recipients"', "unknown=4")
    assert log_lines(server, 'reason="too many unknown recipients"',
                     "smtp close")


@pytest.mark.server(**{"smtp.max_unknown_recipients": "3"})
def test_unknown_recipients_not_hit(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<sender@remote.example.org>", 250)
        for i in range(3):
            c.expect(f"RCPT TO:<gone{i}@{DOMAIN}>", 550)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(make_message("a list") + b".\r\n")
        assert c.reply().code == 250
        c.expect("QUIT", 221)
    assert server.count(ALICE) == 1
    assert not log_lines(server, "too many unknown recipients")


# --- [auth] -------------------------------------------------------------------

def imap_login_from(server, src, user, password):
    c = connect_from(IMAPClient, server.imap_port, src)
    try:
        return c.cmd(f"LOGIN {user} {imap_quote(password)}")
    finally:
        c.close()


def test_failures_counted_across_protocols(start_server):
    server = start_server(**COUNTED, **{"auth.max_failures": "3",
                                        "auth.block_time": "1h"})
    imap = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    with pytest.raises(imaplib.IMAP4.error):
        imap.login(ALICE, "wrong-1")
    imap.logout()
    pop = poplib.POP3("127.0.0.1", server.pop3_port, timeout=IO_TIMEOUT)
    pop.user(ALICE)
    with pytest.raises(poplib.error_proto):
        pop.pass_("wrong-2")
    pop.quit()
    smtp = smtplib.SMTP("127.0.0.1", server.sub_port, timeout=IO_TIMEOUT)
    smtp.ehlo()
    # one mechanism (login() would try LOGIN after PLAIN failed)
    smtp.user, smtp.password = ALICE, "wrong-3"
    with pytest.raises(smtplib.SMTPAuthenticationError):
        smtp.auth("PLAIN", smtp.auth_plain)
    smtp.close()
    # three failures from this address: IMAP refuses even the password
    r = imap_login_from(server, "127.0.0.1", ALICE, PASSWORD)
    assert r.status == "NO" and "UNAVAILABLE" in r.text, r
    for svc in ("imap", "pop3", "submission"):
        assert log_lines(server, "auth failed", f"service={svc}",
                         "peer=127.0.0.1", f'user="{ALICE}"')
    assert log_lines(server, "auth refused", "service=imap", "banned=ip")
    # never a password in the log
    assert "wrong-" not in server.log()
    assert PASSWORD not in server.log()


def test_account_ban_spares_owner_and_ends(start_server):
    server = start_server(**COUNTED, **{"auth.max_failures": "100",
                                        "auth.user_max_failures": "3",
                                        "auth.user_block_time": "8s"})
    # the owner logs in from home, 127.0.9.0/24
    r = imap_login_from(server, "127.0.9.1", ALICE, PASSWORD)
    assert r.status == "OK", r
    # three guesses, each from another network
    for n in (11, 12, 13):
        r = imap_login_from(server, f"127.0.{n}.1", ALICE, "guess")
        assert r.status == "NO", r
    # the account is banned, for every protocol, from a new network ...
    r = imap_login_from(server, "127.0.14.1", ALICE, PASSWORD)
    assert r.status == "NO" and "UNAVAILABLE" in r.text, r
    p = connect_from(POP3Client, server.pop3_port, "127.0.14.1")
    p.cmd(f"USER {ALICE}")
    line = p.cmd(f"PASS {PASSWORD}")
    assert line.startswith(b"-ERR [SYS/TEMP]"), line
    p.close()
    assert log_lines(server, "auth refused", "banned=user",
                     "peer=127.0.14.1")
    # ... only that account ...
    r = imap_login_from(server, "127.0.14.1", BOB, PASSWORD)
    assert r.status == "OK", r
    # ... but not from the owner's network
    r = imap_login_from(server, "127.0.9.50", ALICE, PASSWORD)
    assert r.status == "OK", r
    # and the ban ends
    deadline = time.monotonic() + 30
    while True:
        r = imap_login_from(server, "127.0.14.1", ALICE, PASSWORD)
        if r.status == "OK":
            break
        assert time.monotonic() < deadline, f"still banned: {r}"
        time.sleep(0.25)


def test_submission_auth_refused_for_banned_account(start_server):
    server = start_server(**COUNTED, **{"auth.max_failures": "100",
                                        "auth.user_max_failures": "2",
                                        "auth.user_block_time": "1h"})
    for n in (21, 22):
        r = imap_login_from(server, f"127.0.{n}.1", ALICE, "guess")
        assert r.status == "NO"
    c = connect_from(SMTPClient, server.sub_port, "127.0.23.1")
    c.ehlo()
    plain = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    r = c.cmd(f"AUTH PLAIN {plain}")
    assert r.first.startswith("454 4.7.0 "), r.raw
    c.close()
    assert log_lines(server, "auth refused", "service=submission",
                     "banned=user", "peer=127.0.23.1")


# --- [submission] hourly limits -----------------------------------------------

def submit(server, rcpts, subject):
    s = smtplib.SMTP("127.0.0.1", server.sub_port, timeout=IO_TIMEOUT)
    try:
        s.ehlo()
        s.login(ALICE, PASSWORD)
        return s.sendmail(ALICE, rcpts,
                          make_message(subject, sender=ALICE))
    finally:
        s.close()


def test_messages_per_hour(start_server):
    server = start_server(**COUNTED,
                          **{"submission.max_messages_per_hour": "2"})
    submit(server, [BOB], "one")
    submit(server, [BOB], "two")
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        submit(server, [BOB], "three")
    assert e.value.smtp_code == 451
    assert e.value.smtp_error.startswith(b"4.7.1"), e.value.smtp_error
    assert server.count(BOB) == 2
    assert log_lines(server, "smtp mail", f"user={ALICE}", "result=451",
                     'reason="messages per hour"', "limit=2")
    # another user has its own count
    s = smtplib.SMTP("127.0.0.1", server.sub_port, timeout=IO_TIMEOUT)
    s.ehlo()
    s.login(BOB, PASSWORD)
    s.sendmail(BOB, [ALICE], make_message("from bob", sender=BOB))
    s.close()


def test_recipients_per_hour(start_server):
    server = start_server(**COUNTED,
                          **{"submission.max_recipients_per_hour": "3"})
    carol = f"carol@{DOMAIN}"
    # 2 now, then 1 of 2 accepted: the message still goes to that one
    submit(server, [BOB, carol], "first")
    refused = submit(server, [BOB, carol], "second")
    assert list(refused) == [carol], refused
    assert refused[carol][0] == 451
    assert refused[carol][1].startswith(b"4.7.1")
    assert server.count(BOB) == 2 and server.count(carol) == 1
    assert log_lines(server, "smtp rcpt", "result=451",
                     'reason="recipients per hour"', "limit=3")


def test_hourly_limits_not_hit(start_server):
    server = start_server(**COUNTED)
    for i in range(5):
        submit(server, [BOB, f"carol@{DOMAIN}"], f"m{i}")
    assert server.count(BOB) == 5
    assert not log_lines(server, "per hour")
