"""The spam filter's pipeline end to end through inbound SMTP (port 25)
and submission, with Python's smtplib and swaks as the clients.

GTUBE is refused with 550 5.7.1 before anything is stored; a message
whose header anomalies pass the Junk threshold lands in Junk with an
X-Spam-Status "Yes" verdict; a clean one lands in INBOX with "No"; a
sender's forged X-Spam-* fields never survive; every message log line
carries the score, the action and the symbols; the thresholds and
weights of the config are the ones applied; `[spam] enabled = no`
turns the filter off; `[spam] submission` checks submitted mail; and
`correio spam check` says on the command line what the server does.
"""
import re
import smtplib
import subprocess

import pytest

from conftest import (DOMAIN, HOSTNAME, PASSWORD, child_env, correio_bin,
                      free_port, make_message, run_cli, split_stored, unfold, wait_for)

ALICE = f"alice@{DOMAIN}"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

# Header anomalies that add up past 5: no Date (1.5), no Message-ID
# (1.5), the display name shows another domain's address (2.5), Reply-To
# a freemail mailbox (2).
ANOMALOUS = (
    "From: \"security@bank.example\" <alerts@mailer.example.org>\r\n"
    f"To: <{ALICE}>\r\n"
    "Reply-To: <claims.desk@gmail.com>\r\n"
    "Subject: Your account\r\n"
    "X-Spam-Status: No, score=-100.0 forged\r\n"
    "X-Spam-Score: -100\r\n"
    "\r\n"
    "Please confirm your details.\r\n").encode()


def stored_fields(stored):
    """The X-Spam-Score value and the unfolded X-Spam-Status value of a
    stored message, which must be ours: right after the trace fields,
    once each."""
    assert stored.count(b"\r\nX-Spam-Status: ") == 1, stored[:2000]
    assert stored.count(b"\r\nX-Spam-Score: ") == 1, stored[:2000]
    m = re.search(rb"\r\nX-Spam-Score: ([^\r]*)\r\n", stored)
    status = re.search(rb"\r\nX-Spam-Status: (.*?)\r\n(?![ \t])", stored,
                       re.S)
    _, _, rest = split_stored(stored)
    assert b"X-Spam-" not in rest.split(b"\r\n\r\n", 1)[0], rest[:500]
    return float(m.group(1)), unfold(status.group(1))


def symbols_of(status):
    m = re.search(r"tests=(.*)$", status)
    return {t.strip().split("(")[0] for t in m.group(1).split(",")}


def send(server, msg, sender="sender@remote.example.org", rcpt=ALICE):
    s = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    try:
        s.ehlo("client.example.org")
        return s.sendmail(sender, [rcpt], msg)
    finally:
        s.quit()


def test_gtube_rejected_before_storing(server):
    msg = make_message(subject="gtube", body_lines=["test", GTUBE])
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(server, msg)
    assert e.value.smtp_code == 550
    assert e.value.smtp_error.startswith(b"5.7.1")
    assert server.count(ALICE) == 0 and server.count(ALICE, "Junk") == 0
    line = wait_for(lambda: re.search(
        r"smtp message id=\S+ peer=\S+ result=rejected reason=spam "
        r"spam=(\d+\.\d) action=reject symbols=\"([^\"]*)\"", server.log()),
        what="the rejection's log line")
    assert float(line.group(1)) >= 1000
    assert "GTUBE(1000.0)" in line.group(2)
    # The session goes on: the next message is taken.
    send(server, make_message(subject="after"))
    assert server.count(ALICE) == 1


def test_gtube_base64_and_bdat(server):
    """GTUBE hidden in a base64 body, sent with BDAT (swaks --pipe is not
    needed: raw BDAT over the test client)."""
    import base64
    body = base64.b64encode(GTUBE.encode()).decode()
    msg = make_message(subject="b64", body_lines=[body],
                       extra_headers=["Content-Transfer-Encoding: base64"])
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.example.org>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        r = c.reply()
        assert r.code == 550 and r.lines[0].startswith("5.7.1"), r.raw
    assert server.count(ALICE) == 0


def test_anomalies_go_to_junk_forged_verdict_removed(server):
    send(server, ANOMALOUS)
    assert server.count(ALICE) == 0
    assert server.count(ALICE, "Junk") == 1
    stored = server.get(ALICE, 1, "Junk")
    score, status = stored_fields(stored)
    assert score >= 5
    assert status.startswith(f"Yes, score={score:.1f} required=5.0 "
                             "action=junk")
    assert {"HEADER_NO_DATE", "HEADER_NO_MESSAGE_ID",
            "HEADER_FROM_NAME_ADDR", "HEADER_REPLYTO_FREEMAIL"} <= \
        symbols_of(status)
    assert b"-100" not in stored and b"forged" not in stored
    # The message itself is otherwise what was sent.
    assert stored.endswith(b"\r\n\r\nPlease confirm your details.\r\n")
    line = wait_for(lambda: re.search(
        r"smtp message id=\S+ .*result=250 .*spam=(\S+) action=junk "
        r"symbols=\"([^\"]*)\"", server.log()), what="the log line")
    assert float(line.group(1)) == score
    assert "HEADER_FROM_NAME_ADDR(2.5)" in line.group(2)


def test_clean_message_inbox(server):
    send(server, make_message(subject="hello"))
    assert server.count(ALICE) == 1 and server.count(ALICE, "Junk") == 0
    score, status = stored_fields(server.get(ALICE, 1))
    assert score < 5
    assert status.startswith("No, score=")
    assert "action=inbox" in status


@pytest.mark.server(**{"spam.junk_score": "2", "spam.quarantine_score": "3",
                       "spam.reject_score": "4"})
def test_thresholds_from_config(server):
    # 6 points, over the reject threshold of 4.
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(server, ANOMALOUS)
    assert e.value.smtp_code == 550
    assert server.count(ALICE, "Junk") == 0


@pytest.mark.server(**{"spam.scores": "HEADER_NO_DATE=-10,"
                       "HEADER_FROM_NAME_ADDR=0"})
def test_weights_from_config(server):
    send(server, ANOMALOUS)
    assert server.count(ALICE) == 1
    score, status = stored_fields(server.get(ALICE, 1))
    assert score < 0
    assert "HEADER_NO_DATE(-10.0)" in status
    assert "HEADER_FROM_NAME_ADDR(0.0)" in status


@pytest.mark.server(**{"spam.enabled": "no"})
def test_filter_off(server):
    msg = make_message(subject="gtube", body_lines=[GTUBE])
    send(server, msg)
    stored = server.get(ALICE, 1)
    # Without the filter nothing is scored, and a sender's X-Spam fields
    # are not ours to remove.
    assert b"X-Spam-Score" not in stored.split(b"\r\n\r\n")[0]
    assert "spam=" not in server.log()


def test_bad_thresholds_refuse_to_start(instance):
    p = subprocess.run(
        [correio_bin(), "serve", "-c", instance.conf,
         "-o", "spam.junk_score=12", "-o", "spam.quarantine_score=10",
         "-o", f"smtp.listen=127.0.0.1:{free_port()}", "-o", "submission.listen=",
         "-o", "submissions.listen=", "-o", "imap.listen=",
         "-o", "imaps.listen=", "-o", "pop3.listen=", "-o", "pop3s.listen=",
         "-o", "dns.resolver=127.0.0.1@9"],
        capture_output=True, text=True, timeout=30, env=child_env())
    assert p.returncode != 0
    assert "junk_score <= quarantine_score <= reject_score" in p.stderr
    p = run_cli(["spam", "symbols", "-c", instance.conf, "-o",
                 "spam.scores=NOT_A_SYMBOL=1"])
    assert p.returncode == 1 and "unknown symbol" in p.stderr
    p = run_cli(["spam", "symbols", "-c", instance.conf, "-o",
                 "spam.junk_score=abc"])
    assert p.returncode != 0 and "junk_score" in p.stderr


def submit(server, msg, user=ALICE):
    s = smtplib.SMTP("127.0.0.1", server.sub_port, timeout=30)
    try:
        s.starttls()
        s.login(user, PASSWORD)
        return s.sendmail(user, [f"bob@{DOMAIN}"], msg)
    finally:
        s.quit()


@pytest.mark.server(**{"spam.submission": "yes"})
def test_submission_checked_when_enabled(server):
    msg = make_message(subject="out", sender=ALICE, to=f"bob@{DOMAIN}",
                       body_lines=["hi", GTUBE])
    with pytest.raises(smtplib.SMTPDataError) as e:
        submit(server, msg)
    assert e.value.smtp_code == 550
    assert server.count(f"bob@{DOMAIN}") == 0
    assert re.search(r"result=rejected reason=spam spam=\S+ action=reject",
                     server.log())
    # A clean submission goes through, without an X-Spam verdict (that is
    # for inbound mail).
    submit(server, make_message(subject="fine", sender=ALICE,
                                to=f"bob@{DOMAIN}"))
    stored = server.get(f"bob@{DOMAIN}", 1)
    assert b"X-Spam-Status" not in stored


def test_submission_not_checked_by_default(server):
    msg = make_message(subject="out", sender=ALICE, to=f"bob@{DOMAIN}",
                       body_lines=["hi", GTUBE])
    submit(server, msg)
    assert server.count(f"bob@{DOMAIN}") == 1


def test_swaks_forged_received(server):
    """swaks sending a message whose Received: claims our host name."""
    data = ("Received: from x (x [192.0.2.1]) by " + HOSTNAME +
            " (Postfix) with ESMTP id 1; Mon, 7 Dec 2026 10:00:00 +0000\r\n"
            "Date: %DATE%\r\nMessage-ID: <%MESSAGEID%>\r\n"
            "From: <sender@remote.example.org>\r\nTo: %TO%\r\n"
            "Subject: relayed?\r\n\r\nhello\r\n")
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{server.port}",
                        "--to", ALICE, "--from", "sender@remote.example.org",
                        "--helo", "client.example.org", "--data", data],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    stored = server.get(ALICE, 1)
    _, status = stored_fields(stored)
    assert "HEADER_FORGED_RECEIVED" in symbols_of(status)


def test_cli_check_matches_server(server, tmp_path):
    f = tmp_path / "m.eml"
    f.write_bytes(ANOMALOUS)
    g = tmp_path / "g.eml"
    g.write_bytes(make_message(body_lines=[GTUBE]))
    p = server.cli_ok("spam", "check", str(f))
    m = re.search(r"^X-Spam-Score: (\S+)\r?$", p.stdout, re.M)
    assert m, p.stdout
    assert re.search(r"^action: junk ", p.stdout, re.M), p.stdout
    assert re.search(r"^symbol: HEADER_FROM_NAME_ADDR 2\.50 "
                     r"bank\.example shown, mailer\.example\.org sent$",
                     p.stdout, re.M), p.stdout
    send(server, ANOMALOUS)
    score, _ = stored_fields(server.get(ALICE, 1, "Junk"))
    assert float(m.group(1)) == score
    # Several files: each after its name, in order.
    p = server.cli_ok("spam", "check", str(f), str(g), str(f))
    names = re.findall(r"^==> (\S+) <==$", p.stdout, re.M)
    assert names == [str(f), str(g), str(f)]
    actions = re.findall(r"^action: (\w+)", p.stdout, re.M)
    assert actions == ["junk", "reject", "junk"]
    # A file that cannot be read: an error, the others still checked.
    p = server.cli("spam", "check", str(f), str(tmp_path / "missing"))
    assert p.returncode == 1
    assert re.findall(r"^action: (\w+)", p.stdout, re.M) == ["junk"]


def anomalous_from(sender):
    return ANOMALOUS.replace(b"<alerts@mailer.example.org>",
                             f"<{sender}>".encode())


def test_block_list_global_and_per_user(server):
    server.cli_ok("spam", "block", "Evil.Example")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(server, make_message(subject="hi"), sender="x@mx.evil.example")
    assert e.value.smtp_code == 550
    assert re.search(r'symbols="BLOCKLIST\(20\.0\)', server.log())
    # The From: address counts too.
    with pytest.raises(smtplib.SMTPDataError):
        send(server, make_message(subject="hi", sender="x@evil.example"))
    server.cli_ok("spam", "unlist", "evil.example")
    send(server, make_message(subject="hi", sender="x@evil.example"))
    assert server.count(ALICE) == 1
    # Alice's own block list: only her mail is refused, not a message
    # that also goes to Bob.
    server.cli_ok("spam", "block", "pest@remote.example.org", "--for", ALICE)
    p = server.cli_ok("spam", "lists")
    assert f"{ALICE}\tblock\tpest@remote.example.org\t" in p.stdout
    with pytest.raises(smtplib.SMTPDataError):
        send(server, make_message(subject="to alice"),
             sender="pest@remote.example.org")
    s = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    s.sendmail("pest@remote.example.org", [ALICE, f"bob@{DOMAIN}"],
               make_message(subject="to both"))
    s.quit()
    assert server.count(f"bob@{DOMAIN}") == 1
    assert server.count(ALICE) == 2
    # Bad entries and owners.
    p = server.cli("spam", "block", "not a domain")
    assert p.returncode == 2
    p = server.cli("spam", "block", "x.example", "--for", "nobody@example.test")
    assert p.returncode == 1 and "no such user" in p.stderr
    p = server.cli("spam", "unlist", "never.example")
    assert p.returncode == 1 and "not on the list" in p.stderr


def test_allow_list_needs_authentication(server):
    # pass.spf.test lets 127.0.0.0/8 send: SPF pass for the envelope.
    server.cli_ok("spam", "allow", "pass.spf.test")
    send(server, anomalous_from("news@pass.spf.test"),
         sender="news@pass.spf.test")
    assert server.count(ALICE) == 1, server.log()[-3000:]
    score, status = stored_fields(server.get(ALICE, 1))
    assert "ALLOWLIST(-20.0)" in status and score < 0
    # An allowed domain in From: only, unauthenticated: not let through.
    server.cli_ok("spam", "allow", "mailer.example.org")
    send(server, ANOMALOUS)
    assert server.count(ALICE, "Junk") == 1
    _, status = stored_fields(server.get(ALICE, 1, "Junk"))
    assert "ALLOWLIST_UNAUTH(0.0)" in status
    # GTUBE from an allowed, authenticated sender is still refused.
    with pytest.raises(smtplib.SMTPDataError):
        send(server, make_message(body_lines=[GTUBE],
                                  sender="news@pass.spf.test"),
             sender="news@pass.spf.test")


def attach_sample(name):
    import os
    path = os.path.join(os.environ["CORREIO_TEST_DATA"], "attach", name)
    with open(path, "rb") as f:
        return f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def quarantine_list(server, address=None):
    args = ["quarantine", "list"] + ([address] if address else [])
    p = server.cli_ok(*args)
    return [line.split("\t") for line in p.stdout.splitlines() if line]


def test_executable_held_not_delivered_then_released(server):
    """An executable attachment is held whatever the score: the client
    gets its 250 (the message is durable), the user sees nothing until
    the quarantine releases it, then it is in the INBOX with the verdict
    that held it."""
    import imaplib
    send(server, attach_sample("exe-named-pdf.eml"))
    assert server.count(ALICE) == 0 and server.count(ALICE, "Junk") == 0
    rows = quarantine_list(server, ALICE)
    assert len(rows) == 1, rows
    qid, rcpt = rows[0][0], rows[0][1]
    assert rcpt == ALICE
    assert "ATTACH_EXECUTABLE" in "\t".join(rows[0])
    assert re.search(r"action=quarantine symbols=\"[^\"]*ATTACH_EXECUTABLE",
                     server.log())
    p = server.cli_ok("quarantine", "show", qid)
    assert "ATTACH_EXECUTABLE" in p.stdout
    # IMAP sees nothing of it.
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.starttls(ssl_context=__import__("ssl")._create_unverified_context())
    m.login(ALICE, PASSWORD)
    typ, data = m.select("INBOX")
    assert data[0] == b"0"
    server.cli_ok("quarantine", "release", qid)
    m.noop()
    typ, data = m.search(None, "ALL")
    assert data[0].split() == [b"1"]
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (X-Spam-Status)])")
    assert b"action=quarantine" in data[0][1]
    m.logout()
    assert quarantine_list(server, ALICE) == []


def test_eicar_refused_macro_held(server):
    # EICAR, like GTUBE, is certain: refused before anything is stored.
    import base64
    eicar = (r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-"
             r"FILE!$H+H*")
    msg = (b"From: a@remote.example.org\r\nTo: " + ALICE.encode() +
           b"\r\nSubject: file\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
           b"Content-Type: application/octet-stream; name=test.com\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" +
           base64.b64encode(eicar.encode()) + b"\r\n--b--\r\n")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(server, msg)
    assert e.value.smtp_code == 550
    assert quarantine_list(server) == []
    # A macro-enabled document, an archive with an executable: held.
    send(server, attach_sample("macro-docx-vba.eml"))
    send(server, attach_sample("zip-exe.eml"))
    rows = quarantine_list(server, ALICE)
    assert len(rows) == 2
    text = "\n".join("\t".join(r) for r in rows)
    assert "ATTACH_MACRO" in text and "ATTACH_ARCHIVE_EXECUTABLE" in text
    # Ordinary attachments are delivered.
    for ham in ("ham-pdf-invoice.eml", "ham-ics-invite.eml",
                "ham-docx.eml", "ham-zip-pdfs.eml"):
        send(server, attach_sample(ham))
    assert server.count(ALICE) == 4
    assert len(quarantine_list(server, ALICE)) == 2
