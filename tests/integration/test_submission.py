"""Submission (RFC 6409) on the [submission] port with STARTTLS and the
[submissions] port with implicit TLS (RFC 8314), with real clients
(smtplib, swaks) and a raw client for what they will not send: AUTH PLAIN
and LOGIN (RFC 4954) only after TLS, failures answered 535 and counted
with IMAP's and POP3's, sender and From: ownership, Date: and Message-ID:
added, local recipients delivered and remote ones queued durably."""
import base64
import re
import smtplib
import ssl
import subprocess

import pytest

from conftest import (DOMAIN, HOSTNAME, PASSWORD, SMTPClient, make_message,
                      split_stored)

# queue.deliver=0: these tests look at the queue itself, and their remote
# domain does not exist (the deliverer would fail it at once);
# test_outbound.py delivers.
pytestmark = pytest.mark.server(**{"auth.failure_delay": "0",
                                   "queue.deliver": "0"})

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"
REMOTE = "friend@remote.example.org"
TOOL_TIMEOUT = 30


def no_verify():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def plain(user, password, authz=""):
    return b64(f"{authz}\0{user}\0{password}")


def submit_client(server):
    """smtplib on the submission port, after STARTTLS."""
    s = smtplib.SMTP("127.0.0.1", server.sub_port, timeout=10)
    s.ehlo("client.example.org")
    s.starttls(context=no_verify())
    s.ehlo("client.example.org")
    return s


def raw_tls(server):
    """The raw client on the submission port, after EHLO and STARTTLS."""
    c = SMTPClient(server.sub_port)
    c.ehlo()
    c.starttls()
    c.ehlo()
    return c


def raw_login(server, user=ALICE):
    c = raw_tls(server)
    c.expect(f"AUTH PLAIN {plain(user, PASSWORD)}", 235, "235 2.7.0")
    return c


def simple_message(sender=ALICE, to=BOB, subject="hello", extra=()):
    hdr = [f"From: Alice <{sender}>", f"To: <{to}>", f"Subject: {subject}"]
    hdr += list(extra)
    return ("\r\n".join(hdr) + "\r\n\r\nHi there.\r\n").encode()


def queue_list(server):
    p = server.cli_ok("queue", "list")
    rows = []
    for line in p.stdout.splitlines():
        f = line.split("\t")
        assert len(f) == 5, f"bad queue list line {line!r}"
        rows.append(f)
    return rows


# --- real clients ------------------------------------------------------------

def test_smtplib_starttls_auth_plain_local_delivery(server):
    s = submit_client(server)
    assert "PLAIN" in s.esmtp_features.get("auth", "")
    assert "LOGIN" in s.esmtp_features.get("auth", "")
    s.login(ALICE, PASSWORD)
    msg = simple_message(subject="first submission")
    refused = s.sendmail(ALICE, [BOB], msg)
    assert refused == {}
    s.quit()
    assert server.count(BOB) == 1
    stored = server.get(BOB, 1)
    _, received, rest = split_stored(stored)
    assert b"with ESMTPSA" in received
    # Date and Message-ID were added, at the top of the message
    assert re.search(rb"^Date: \w{3}, \d{2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n",
                     rest, re.M), rest
    m = re.search(rb"^Message-ID: <[^>@]+@([^>]+)>\r\n", rest, re.M)
    assert m and m.group(1).decode() == HOSTNAME, rest
    assert rest.endswith(msg)
    # nothing queued, nothing copied to Sent
    assert queue_list(server) == []
    assert server.count(ALICE, "Sent") == 0


def test_date_and_message_id_kept_when_present(server):
    s = submit_client(server)
    s.login(ALICE, PASSWORD)
    msg = simple_message(extra=("Date: Mon, 02 Nov 2026 10:00:00 +0000",
                                "Message-ID: <own.1@example.test>"))
    s.sendmail(ALICE, [BOB], msg)
    s.quit()
    _, _, rest = split_stored(server.get(BOB, 1))
    assert rest == msg
    assert rest.count(b"Message-ID:") == 1 and rest.count(b"Date:") == 1


def test_smtplib_auth_login(server):
    s = submit_client(server)
    s.user, s.password = ALICE, PASSWORD
    code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    assert code == 235, text
    s.sendmail(ALICE, [CAROL], simple_message(to=CAROL))
    s.quit()
    assert server.count(CAROL) == 1


def test_auth_login_with_initial_response(server):
    with raw_tls(server) as c:
        c.expect(f"AUTH LOGIN {b64(ALICE)}", 334, "334 UGFzc3dvcmQ6")
        c.expect(b64(PASSWORD), 235, "235 2.7.0")


def test_smtps_implicit_tls(server):
    s = smtplib.SMTP_SSL("127.0.0.1", server.subs_port, timeout=10,
                         context=no_verify())
    s.ehlo("client.example.org")
    assert "STARTTLS" not in s.esmtp_features
    assert "PLAIN" in s.esmtp_features.get("auth", "")
    s.login(BOB, PASSWORD)
    s.sendmail(BOB, [ALICE], simple_message(sender=BOB, to=ALICE))
    s.quit()
    assert server.count(ALICE) == 1
    _, received, _ = split_stored(server.get(ALICE, 1))
    assert b"with ESMTPSA" in received and b"TLS" in received


@pytest.mark.parametrize("auth", ["PLAIN", "LOGIN"])
def test_swaks_auth_starttls(server, auth):
    p = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{server.sub_port}", "--tls",
         "--auth", auth, "--auth-user", ALICE, "--auth-password", PASSWORD,
         "--from", ALICE, "--to", BOB, "--h-From", f"<{ALICE}>",
         "--header", "Subject: swaks " + auth],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TOOL_TIMEOUT)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    assert "235 2.7.0" in out
    assert server.count(BOB) == 1


def test_swaks_implicit_tls(server):
    p = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{server.subs_port}", "--tlsc",
         "--auth", "PLAIN", "--auth-user", CAROL, "--auth-password", PASSWORD,
         "--from", CAROL, "--to", ALICE, "--h-From", f"<{CAROL}>"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TOOL_TIMEOUT)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    assert server.count(ALICE) == 1


def test_alias_of_the_user_is_owned(server):
    server.cli_ok("alias", "add", f"sales@{DOMAIN}", ALICE)
    with raw_login(server) as c:
        msg = simple_message(sender=f"sales@{DOMAIN}")
        r = c.send_mail(f"sales@{DOMAIN}", [BOB], msg, ehlo=False)
        assert r.code == 250, r.raw
    assert server.count(BOB) == 1


def test_case_of_the_address_does_not_matter(server):
    with raw_login(server, user="Alice@Example.TEST") as c:
        msg = simple_message(sender="ALICE@example.test")
        r = c.send_mail("Alice@EXAMPLE.test", [BOB], msg, ehlo=False)
        assert r.code == 250, r.raw


# --- refusals ----------------------------------------------------------------

def test_no_auth_before_tls(server):
    with SMTPClient(server.sub_port) as c:
        r = c.ehlo()
        assert "STARTTLS" in r.text
        assert "AUTH" not in r.text
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 538, "538 5.7.11")
        c.expect("AUTH LOGIN", 538, "538 5.7.11")
        c.expect(f"MAIL FROM:<{ALICE}>", 530, "530 5.7.0")


def test_mail_before_auth(server):
    with raw_tls(server) as c:
        c.expect(f"MAIL FROM:<{ALICE}>", 530, "530 5.7.0")
        c.expect(f"RCPT TO:<{BOB}>", 503)
        c.expect("DATA", 503)


def test_wrong_password(server):
    s = submit_client(server)
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login(ALICE, "wrong")
    assert e.value.smtp_code == 535
    assert b"5.7.8" in e.value.smtp_error
    s.close()
    with raw_tls(server) as c:
        c.expect(f"AUTH PLAIN {plain('nobody@' + DOMAIN, PASSWORD)}", 535,
                 "535 5.7.8")
        c.expect(f"AUTH PLAIN {plain(BOB, PASSWORD, authz=ALICE)}", 535)
        c.expect("AUTH LOGIN", 334)
        c.expect(b64(ALICE), 334)
        c.expect(b64("wrong"), 535, "535 5.7.8")
        # still usable after failures
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 235)
    assert "result=fail" in server.log()
    assert PASSWORD not in server.log()


@pytest.mark.server(**{"auth.max_failures": "3", "auth.block_time": "1h"})
def test_throttled_after_max_failures(server):
    with raw_tls(server) as c:
        for _ in range(3):
            c.expect(f"AUTH PLAIN {plain(ALICE, 'wrong')}", 535)
        # now even the right password is refused
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 454, "454 4.7.0")
        c.expect("AUTH LOGIN", 454)
    assert "result=blocked" in server.log()
    # the same table as IMAP and POP3: POP3 is blocked too
    from conftest import POP3Client
    with POP3Client(server.pop3s_port, tls=True) as p:
        p.ok(f"USER {ALICE}")
        assert p.err(f"PASS {PASSWORD}").startswith(b"-ERR [SYS/TEMP]")


@pytest.mark.server(**{"auth.max_failures": "2", "auth.block_time": "1h"})
def test_imap_failures_block_submission(server):
    from conftest import IMAPClient
    with IMAPClient(server.imaps_port, tls=True) as i:
        for _ in range(2):
            assert i.cmd(f'LOGIN "{ALICE}" "wrong"').status == "NO"
    with raw_tls(server) as c:
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 454)


def test_sender_not_owned(server):
    with raw_login(server) as c:
        c.expect(f"MAIL FROM:<{BOB}>", 550, "550 5.7.1")
        c.expect(f"MAIL FROM:<{REMOTE}>", 550, "550 5.7.1")
        c.expect("MAIL FROM:<>", 550, "550 5.7.1")
        c.expect(f"MAIL FROM:<nobody@{DOMAIN}>", 550, "550 5.7.1")
        # an alias of someone else
        c.expect(f"MAIL FROM:<postmaster@{DOMAIN}>", 550, "550 5.7.1")
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
    assert "sender not owned" in server.log()


def test_from_header_not_owned(server):
    with raw_login(server) as c:
        for frm in (f"From: <{BOB}>", f"From: Alice <{ALICE}>, <{BOB}>",
                    f"From : <{BOB}>", f"From: undisclosed: <{REMOTE}>;"):
            msg = (f"{frm}\r\nTo: <{BOB}>\r\nSubject: forged\r\n\r\nx\r\n").encode()
            r = c.send_mail(ALICE, [BOB], msg, ehlo=False)
            assert r.code == 550 and "5.7.1" in r.first, (frm, r.raw)
        # two From fields, the second forged
        msg = (f"From: <{ALICE}>\r\nFrom: <{BOB}>\r\n\r\nx\r\n").encode()
        r = c.send_mail(ALICE, [BOB], msg, ehlo=False)
        assert r.code == 550, r.raw
        # the session goes on
        r = c.send_mail(ALICE, [BOB], simple_message(), ehlo=False)
        assert r.code == 250, r.raw
    assert server.count(BOB) == 1


def test_port_25_unchanged(server):
    """No AUTH and no relaying on the inbound port."""
    with server.connect() as c:
        r = c.ehlo()
        assert "AUTH" not in r.text
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 502, "502 5.5.1")
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
        c.expect(f"RCPT TO:<{REMOTE}>", 554, "554 5.7.1")
        c.starttls()
        c.ehlo()
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 502)
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
        c.expect(f"RCPT TO:<{REMOTE}>", 554, "554 5.7.1")
    assert queue_list(server) == []


@pytest.mark.server(**{"submission.allow_plaintext": "loopback"})
def test_plaintext_on_loopback_when_allowed(server):
    with SMTPClient(server.sub_port) as c:
        r = c.ehlo()
        assert "AUTH PLAIN LOGIN" in r.text
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 235)
        r = c.send_mail(ALICE, [BOB], simple_message(), ehlo=False)
        assert r.code == 250
        received = split_stored(server.get(BOB, 1))[1]
        assert b"with ESMTPA " in received


def test_starttls_forgets_plaintext_login(server):
    """RFC 3207 4.2: nothing learned before TLS is kept."""
    s = smtplib.SMTP("127.0.0.1", server.sub_port, timeout=10)
    s.ehlo()
    s.starttls(context=no_verify())
    s.ehlo()
    s.login(ALICE, PASSWORD)
    s.quit()


# --- hostile input -----------------------------------------------------------

def test_auth_hostile_input(server):
    with raw_tls(server) as c:
        c.expect("AUTH PLAIN not-base64!", 501, "501 5.5.2")
        c.expect("AUTH PLAIN", 334)
        c.expect("####", 501, "501 5.5.2")
        c.expect("AUTH PLAIN", 334)
        c.expect("*", 501, "501 5.0.0")
        c.expect("AUTH LOGIN", 334)
        c.expect("*", 501)
        c.expect("AUTH LOGIN", 334)
        c.expect("=", 334)     # an empty user name
        c.expect(b64("x"), 535)
        c.expect("AUTH CRAM-MD5", 504, "504 5.5.4")
        c.expect("AUTH", 501)
        c.expect("AUTH PLAIN " + b64("\0\0"), 535)
        c.expect("AUTH PLAIN " + b64("no nul at all"), 535)
        c.expect("AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}\0x"), 535)
    with raw_tls(server) as c:
        # over-long AUTH line, then a normal command still works
        c.send(b"AUTH PLAIN " + b"A" * 5000 + b"\r\n")
        assert c.reply().code == 500
        c.expect("NOOP", 250)
        # over-long SASL response
        c.expect("AUTH PLAIN", 334)
        c.send(b"QUFB" * 1000 + b"\r\n")
        assert c.reply().code == 500
        c.expect("NOOP", 250)
        # longer than a command, shorter than the AUTH limit
        c.expect("NOOP " + "x" * 600, 500, "500 5.5.2")
        # bare LF in a response
        c.expect("AUTH PLAIN", 334)
        c.send(b"AAAA\n")
        c.send(b"NOOP\r\n")
        r = c.reply()
        assert r.code == 500, r.raw
        assert c.reply().code == 250      # the NOOP, as a command again
        # a password with NUL inside, via LOGIN
        c.expect("AUTH LOGIN " + b64(ALICE), 334)
        c.expect(b64(PASSWORD + "\0"), 535)
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 235)
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 503)
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
        c.expect("NOOP " + "x" * 600, 500)   # the AUTH limit is gone
    assert PASSWORD not in server.log()


def test_auth_in_transaction_refused(server):
    with SMTPClient(server.sub_port) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 235)
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 503)


def test_auth_needs_ehlo(server):
    with SMTPClient(server.sub_port) as c:
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 503)


# --- the queue -----------------------------------------------------------------

def test_remote_recipients_are_queued(server):
    s = submit_client(server)
    s.login(ALICE, PASSWORD)
    msg = simple_message(to=REMOTE, subject="out")
    s.sendmail(ALICE, [REMOTE, "Other@Remote.Example.ORG", BOB], msg)
    s.quit()
    assert server.count(BOB) == 1
    rows = queue_list(server)
    assert len(rows) == 1, rows
    qid, sender, rcpts, next_attempt, last_error = rows[0]
    assert sender == ALICE
    # the local part is kept as written, the domain lower-cased
    assert rcpts.split(",") == [REMOTE, "Other@remote.example.org"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", next_attempt)
    assert last_error == "-"
    # queue show: envelope and headers, Message-ID added
    p = server.cli_ok("queue", "show", qid)
    assert f"sender: <{ALICE}>" in p.stdout
    assert f"recipient: <{REMOTE}>" in p.stdout
    assert "Subject: out" in p.stdout
    assert "Message-ID: <" in p.stdout
    assert "Hi there." not in p.stdout      # headers only
    assert "Return-Path" not in p.stdout    # not for the remote copy
    # one blob for the local copy and the queue
    blobs = server.inst.dir + "/data/blobs"
    n = subprocess.run(["find", blobs, "-type", "f"], stdout=subprocess.PIPE,
                       text=True).stdout.split()
    assert len(n) == 1, n


def test_queue_survives_restart_and_kill(start_server):
    server = start_server(**{"auth.failure_delay": "0", "queue.deliver": "0"})
    with raw_login(server) as c:
        r = c.send_mail(ALICE, [REMOTE], simple_message(to=REMOTE), ehlo=False)
        assert r.code == 250 and "queued as" in r.first, r.raw
    server.stop()
    server = start_server(**{"auth.failure_delay": "0", "queue.deliver": "0"})
    assert len(queue_list(server)) == 1
    with raw_login(server) as c:
        r = c.send_mail(ALICE, [REMOTE], simple_message(to=REMOTE, subject="2"),
                        ehlo=False)
        assert r.code == 250, r.raw
        server.kill()       # right after the 250
    server = start_server(**{"auth.failure_delay": "0", "queue.deliver": "0"})
    rows = queue_list(server)
    assert len(rows) == 2, rows
    for qid, *_ in rows:
        assert "Subject: " in server.cli_ok("queue", "show", qid).stdout


def test_queue_delete_and_flush(server):
    with raw_login(server) as c:
        for i in range(2):
            r = c.send_mail(ALICE, [REMOTE, BOB],
                            simple_message(to=REMOTE, subject=f"m{i}"),
                            ehlo=False)
            assert r.code == 250, r.raw
    rows = queue_list(server)
    assert len(rows) == 2
    p = server.cli_ok("queue", "flush")
    assert "2" in p.stdout
    server.cli_ok("queue", "flush", rows[0][0])
    server.cli_ok("queue", "delete", rows[0][0])
    assert [r[0] for r in queue_list(server)] == [rows[1][0]]
    p = server.cli("queue", "delete", rows[0][0])
    assert p.returncode == 1 and "no queued message" in p.stderr
    p = server.cli("queue", "show", "12345")
    assert p.returncode == 1
    p = server.cli("queue", "show", "x")
    assert p.returncode == 2
    # the local copies keep their blobs
    assert server.count(BOB) == 2
    assert b"Subject: m0" in server.get(BOB, 1)
    server.cli_ok("queue", "delete", rows[1][0])
    assert queue_list(server) == []
    assert b"Subject: m1" in server.get(BOB, 2)


def test_expunged_local_copy_keeps_queued_blob(server):
    """The blob is shared: deleting the local copy (user deleted) must not
    delete the body the queue still needs."""
    with raw_login(server) as c:
        r = c.send_mail(ALICE, [REMOTE, CAROL], simple_message(to=REMOTE),
                        ehlo=False)
        assert r.code == 250
    server.cli_ok("user", "del", CAROL)
    qid = queue_list(server)[0][0]
    assert "Hi there." not in server.cli_ok("queue", "show", qid).stdout
    assert "Subject: hello" in server.cli_ok("queue", "show", qid).stdout


def test_unknown_local_recipient_refused(server):
    with raw_login(server) as c:
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
        c.expect(f"RCPT TO:<nobody@{DOMAIN}>", 550, "550 5.1.1")
        c.expect("RCPT TO:<x@[192.0.2.1]>", 550)
        c.expect(f"RCPT TO:<{REMOTE}>", 250)


@pytest.mark.server(**{"tls.cert": "", "tls.key": "", "imaps.listen": "",
                       "pop3s.listen": "", "submissions.listen": ""})
def test_no_tls_no_auth(server):
    """Without [tls], port 587 offers neither STARTTLS nor AUTH (and
    [submissions] cannot be configured, see the log check below)."""
    with SMTPClient(server.sub_port) as c:
        r = c.ehlo()
        assert "STARTTLS" not in r.text and "AUTH" not in r.text
        c.expect(f"AUTH PLAIN {plain(ALICE, PASSWORD)}", 538)


def test_submissions_needs_tls(instance):
    from conftest import run_cli, free_port
    p = run_cli(["serve", "-c", instance.conf, "-o", "tls.cert=", "-o", "tls.key=",
                 "-o", "imaps.listen=", "-o", "pop3s.listen=",
                 "-o", f"smtp.listen=127.0.0.1:{free_port()}",
                 "-o", f"submission.listen=127.0.0.1:{free_port()}",
                 "-o", f"submissions.listen=127.0.0.1:{free_port()}"], timeout=20)
    assert p.returncode != 0
    assert "[submissions] needs [tls]" in p.stderr
