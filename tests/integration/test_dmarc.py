"""SPF, DKIM and DMARC end to end through inbound SMTP (port 25), with the
zones served by a private loopback unbound of this module.

A DMARC p=reject domain with a forged From: is refused at the end of DATA;
p=quarantine lands in Junk; an aligned message (by SPF, or by a dkimpy
signature) lands in INBOX with dmarc=pass. Every delivered message carries
one Authentication-Results field naming this server, and a forged one that
claims our name is removed. `correio auth check` says the same from the
command line.

The test clients connect from 127.0.0.1, so an SPF record naming
192.0.2.1 fails and one naming 127.0.0.0/8 passes. The domains are
second-level names under .test (not in the Public Suffix List: each is its
own organizational domain), so that relaxed alignment between them never
happens by accident.
"""
import os
import smtplib
import socket
import sqlite3
import subprocess

import pytest

from conftest import (CLI_TIMEOUT, DNS_ZONES, DOMAIN, HOSTNAME, PASSWORD,
                      run_cli, split_stored, unbound_start, unbound_stop,
                      unfold)

ALICE = f"alice@{DOMAIN}"
SPF_FAIL = 'TXT "v=spf1 ip4:192.0.2.1 -all"'
SPF_PASS = 'TXT "v=spf1 ip4:127.0.0.0/8 -all"'


def zones(dkim_record):
    z = dict(DNS_ZONES)
    z.update({
        "dmarc-reject.test": [
            f"dmarc-reject.test. {SPF_FAIL}",
            '_dmarc.dmarc-reject.test. TXT "v=DMARC1; p=reject"',
        ],
        "dmarc-quar.test": [
            f"dmarc-quar.test. {SPF_FAIL}",
            '_dmarc.dmarc-quar.test. TXT "v=DMARC1; p=quarantine"',
        ],
        "dmarc-none.test": [
            f"dmarc-none.test. {SPF_FAIL}",
            '_dmarc.dmarc-none.test. TXT "v=DMARC1; p=none; '
            'rua=mailto:d@dmarc-none.test"',
        ],
        # SPF passes for the envelope domain, which is the From: domain.
        "dmarc-spf.test": [
            f"dmarc-spf.test. {SPF_PASS}",
            '_dmarc.dmarc-spf.test. TXT "v=DMARC1; p=reject"',
        ],
        # SPF fails; a dkimpy signature of the From: domain passes.
        "dmarc-dkim.test": [
            f"dmarc-dkim.test. {SPF_FAIL}",
            '_dmarc.dmarc-dkim.test. TXT "v=DMARC1; p=reject; adkim=s"',
            dkim_record,
        ],
        # The record is at the organizational domain: sp= for the
        # subdomain (RFC 7489 6.6.3).
        "dmarc-org.test": [
            f"sub.dmarc-org.test. {SPF_FAIL}",
            '_dmarc.dmarc-org.test. TXT "v=DMARC1; p=reject; sp=quarantine"',
        ],
        # SPF passes for another organization: not aligned.
        "dmarc-other.test": [
            f"dmarc-other.test. {SPF_PASS}",
        ],
    })
    return z


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("dmarc")
    p = subprocess.run(["dknewkey", "--ktype", "rsa", str(base / "sel")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=CLI_TIMEOUT)
    assert p.returncode == 0, p.stderr
    value = (base / "sel.dns").read_text().strip()
    chunks = [value[i:i + 255] for i in range(0, len(value), 255)]
    record = "sel._domainkey.dmarc-dkim.test. TXT " + \
        " ".join(f'"{c}"' for c in chunks)
    proc, resolver = unbound_start(base, zones(record))
    try:
        yield {"resolver": resolver, "key": base / "sel.key"}
    finally:
        unbound_stop(proc)


@pytest.fixture
def srv(env, start_server):
    return start_server(**{"dns.resolver": env["resolver"]})


def message(from_addr, subject, extra=b""):
    return extra + (f"From: <{from_addr}>\r\nTo: <{ALICE}>\r\n"
                    f"Subject: {subject}\r\n"
                    "Date: Sun, 22 Nov 2026 05:00:00 +0000\r\n"
                    f"Message-ID: <{subject.replace(' ', '.')}@test>\r\n"
                    "\r\nHello.\r\n").encode()


def dkim_sign(env, msg):
    p = subprocess.run(["dkimsign", "--hcanon", "relaxed", "--bcanon",
                        "relaxed", "sel", "dmarc-dkim.test", str(env["key"])],
                       input=msg, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=CLI_TIMEOUT)
    assert p.returncode == 0, p.stderr
    return p.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(srv, mail_from, msg):
    """Sends on port 25; returns None (250) or the SMTPDataError."""
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
        s.ehlo("client.example.org")
        try:
            s.sendmail(mail_from, [ALICE], msg)
        except smtplib.SMTPDataError as e:
            return e
    return None


def stored(srv, mailbox, subject):
    """The stored bytes of the one message with subject in mailbox, and
    its Authentication-Results field, unfolded."""
    rows = [r for r in srv.messages(ALICE, mailbox) if r[4] == subject]
    assert len(rows) == 1, (mailbox, subject, srv.messages(ALICE, mailbox))
    data = srv.get(ALICE, rows[0][0], mailbox)
    _, _, rest, ar = split_stored(data, auth_results=True)
    assert ar is not None, data[:600]
    return rest, unfold(ar)


def dmarc_rows(srv):
    """The recorded evaluations (for aggregate reports), oldest first."""
    path = os.path.join(srv.inst.dir, "data", "correio.db")
    assert os.path.exists(path)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(
            "SELECT source_ip, header_from, policy_domain, policy, pct,"
            " disposition, dmarc, dkim, spf_domain, spf"
            " FROM dmarc_results ORDER BY id").fetchall()
    finally:
        db.close()


def test_reject_policy_with_forged_from_is_refused(srv):
    err = send(srv, "bounce@dmarc-reject.test",
               message("ceo@dmarc-reject.test", "forged reject"))
    assert err is not None and err.smtp_code == 550, err
    assert b"5.7.1" in err.smtp_error and b"DMARC" in err.smtp_error
    assert srv.count(ALICE) == 0 and srv.count(ALICE, "Junk") == 0
    assert "dmarc=fail" in srv.log() and "disposition=reject" in srv.log()
    assert dmarc_rows(srv) == [
        ("127.0.0.1", "dmarc-reject.test", "dmarc-reject.test", "reject",
         100, "reject", "fail", "", "dmarc-reject.test", "fail")]


def test_quarantine_policy_goes_to_junk(srv):
    assert send(srv, "bounce@dmarc-quar.test",
                message("news@dmarc-quar.test", "forged quarantine")) is None
    assert srv.count(ALICE) == 0
    _, ar = stored(srv, "Junk", "forged quarantine")
    assert ar.startswith(f"Authentication-Results: {HOSTNAME};"), ar
    assert "spf=fail" in ar and "smtp.mailfrom=bounce@dmarc-quar.test" in ar
    assert "dkim=none" in ar
    assert "dmarc=fail" in ar and "header.from=dmarc-quar.test" in ar


def test_none_policy_goes_to_inbox_with_the_failure_recorded(srv):
    assert send(srv, "x@dmarc-none.test",
                message("x@dmarc-none.test", "policy none")) is None
    _, ar = stored(srv, "INBOX", "policy none")
    assert "dmarc=fail" in ar and "spf=fail" in ar


def test_spf_aligned_message_passes(srv):
    assert send(srv, "list@dmarc-spf.test",
                message("boss@dmarc-spf.test", "spf aligned")) is None
    rest, ar = stored(srv, "INBOX", "spf aligned")
    assert "spf=pass" in ar and "dmarc=pass" in ar, ar
    assert rest.startswith(b"From: <boss@dmarc-spf.test>")


def test_spf_pass_of_another_domain_is_not_aligned(srv):
    err = send(srv, "x@dmarc-other.test",
               message("ceo@dmarc-reject.test", "unaligned spf"))
    assert err is not None and err.smtp_code == 550


def test_dkim_aligned_message_passes_despite_spf_fail(srv, env):
    msg = dkim_sign(env, message("boss@dmarc-dkim.test", "dkim aligned"))
    assert send(srv, "bounce@dmarc-dkim.test", msg) is None
    rest, ar = stored(srv, "INBOX", "dkim aligned")
    assert "spf=fail" in ar
    assert "dkim=pass" in ar and "header.d=dmarc-dkim.test" in ar
    assert "header.s=sel" in ar and "dmarc=pass" in ar, ar
    # What was signed is stored unchanged below our trace fields.
    assert rest == msg
    assert dmarc_rows(srv) == [
        ("127.0.0.1", "dmarc-dkim.test", "dmarc-dkim.test", "reject", 100,
         "none", "pass", "dmarc-dkim.test=pass", "dmarc-dkim.test", "fail")]


def test_tampered_dkim_message_is_rejected(srv, env):
    msg = dkim_sign(env, message("boss@dmarc-dkim.test", "dkim tampered"))
    msg = msg.replace(b"Hello.", b"Hellp.")
    err = send(srv, "bounce@dmarc-dkim.test", msg)
    assert err is not None and err.smtp_code == 550
    assert "body hash mismatch" in srv.log()


def test_subdomain_gets_the_organizational_sp_policy(srv):
    assert send(srv, "x@sub.dmarc-org.test",
                message("x@sub.dmarc-org.test", "org sp")) is None
    _, ar = stored(srv, "Junk", "org sp")
    assert "dmarc=fail" in ar and "header.from=sub.dmarc-org.test" in ar
    (row,) = dmarc_rows(srv)
    assert row[1:7] == ("sub.dmarc-org.test", "dmarc-org.test", "quarantine",
                        100, "quarantine", "fail")


def test_several_from_domains_cannot_dodge_the_policy(srv):
    msg = message("ceo@dmarc-reject.test", "two from").replace(
        b"From: <ceo@dmarc-reject.test>",
        b"From: <ceo@dmarc-reject.test>, <me@dmarc-spf.test>")
    assert send(srv, "list@dmarc-spf.test", msg) is None
    assert srv.count(ALICE) == 0
    _, ar = stored(srv, "Junk", "two from")
    assert "dmarc=permerror" in ar


def test_forged_authentication_results_are_removed(srv):
    forged = (f"Authentication-Results: {HOSTNAME}; dmarc=pass "
              "header.from=dmarc-spf.test\r\n"
              "Authentication-Results: other.example; spf=pass\r\n").encode()
    assert send(srv, "list@dmarc-spf.test",
                message("a@dmarc-spf.test", "forged ar", forged)) is None
    rest, ar = stored(srv, "INBOX", "forged ar")
    data = rest.decode()
    # Ours is the only field naming us; the other server's stays.
    assert f"Authentication-Results: {HOSTNAME};" not in data
    assert "Authentication-Results: other.example; spf=pass" in data
    assert "dmarc=pass" in ar


def test_enforcement_can_be_turned_off(env, start_server):
    srv = start_server(**{"dns.resolver": env["resolver"],
                          "auth.dmarc_enforce": "no"})
    assert send(srv, "bounce@dmarc-reject.test",
                message("ceo@dmarc-reject.test", "not enforced")) is None
    _, ar = stored(srv, "INBOX", "not enforced")
    assert "dmarc=fail" in ar
    assert "(not enforced)" in srv.log()


def test_submission_is_not_checked(srv):
    with smtplib.SMTP("127.0.0.1", srv.sub_port, timeout=30) as s:
        s.starttls()
        s.login(ALICE, PASSWORD)
        s.sendmail(ALICE, [ALICE], message(ALICE, "from a user"))
    rows = [r for r in srv.messages(ALICE) if r[4] == "from a user"]
    data = srv.get(ALICE, rows[0][0])
    assert b"Authentication-Results:" not in data


def auth_check(srv, env, msg, *args):
    p = run_cli(["auth", "check", "-c", srv.conf, "-o",
                 f"dns.resolver={env['resolver']}", *args], input=msg)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_auth_check_explains_each_result(srv, env):
    out = auth_check(srv, env, message("ceo@dmarc-reject.test", "cli"),
                     "--ip", "127.0.0.1", "--helo", "client.example.org",
                     "--mail-from", "bounce@dmarc-reject.test")
    lines = out.splitlines()
    assert lines[0] == f"Authentication-Results: {HOSTNAME};"
    assert "spf: fail for mailfrom bounce@dmarc-reject.test: -all" in out
    assert "dkim: none" in out
    assert "dmarc: fail header.from=dmarc-reject.test policy=reject" in out
    assert lines[-1].startswith("action: reject")

    signed = dkim_sign(env, message("boss@dmarc-dkim.test", "cli dkim"))
    out = auth_check(srv, env, signed, "--ip", "192.0.2.1",
                     "--mail-from", "<>", "--helo", "dmarc-dkim.test")
    assert "dkim: pass d=dmarc-dkim.test s=sel a=rsa-sha256" in out
    assert "spf: pass for helo" in out
    assert "dmarc: pass" in out and out.splitlines()[-1] == \
        "action: deliver to INBOX"


def test_client_leaving_or_shutdown_during_the_check(start_server):
    """The DMARC lookup never gets an answer (a resolver that does not
    reply): a client that leaves meanwhile, and a server stopped
    meanwhile, lose nothing that was acknowledged and leak nothing (the
    sanitizers check at teardown)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        srv = start_server(**{"dns.resolver":
                              f"127.0.0.1@{mute.getsockname()[1]}",
                              "dns.timeout": "30s"})
        msg = message("ceo@dmarc-reject.test", "leaving")
        for leave in (True, False):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
            f = s.makefile("rb")
            assert f.readline().startswith(b"220")
            # MAIL waits for SPF, which cannot finish: a null sender
            # with an IP literal HELO has nothing to look up.
            s.sendall(b"HELO [127.0.0.1]\r\nMAIL FROM:<>\r\n"
                      b"RCPT TO:<" + ALICE.encode() + b">\r\nDATA\r\n")
            for _ in range(4):
                assert f.readline()[:1] in (b"2", b"3")
            s.sendall(msg + b".\r\n")
            if leave:
                s.close()
                f.close()
                continue
            srv.stop()
            # Stopped before the check ended: 421, never 250.
            reply = f.readline()
            assert reply.startswith(b"421"), reply
            s.close()
            f.close()
    assert srv.count(ALICE) == 0 and srv.count(ALICE, "Junk") == 0
    # Both sessions were closed while their content was being checked.
    assert srv.log().count("state=check") == 2, srv.log()


def test_message_without_from_address_is_not_judged(srv):
    """No From: at all, or none that parses: no author to impersonate,
    dmarc=none, INBOX (only an ambiguous From: goes to Junk)."""
    for subject, frm in (("no from", None),
                         ("group from", "From: undisclosed-recipients:;")):
        msg = message("x@dmarc-reject.test", subject)
        head, body = msg.split(b"\r\n", 1)
        msg = body if frm is None else frm.encode() + b"\r\n" + body
        assert send(srv, "bounce@dmarc-reject.test", msg) is None
        _, ar = stored(srv, "INBOX", subject)
        assert "dmarc=none" in ar, ar
    assert srv.count(ALICE, "Junk") == 0
def test_many_hostile_dkim_signatures_do_not_hide_the_results(srv):
    """Ten signatures (DKIM_SIGS_MAX) whose reported values are as long
    as they may be (d= and s= of 253 octets, a= and b= of quotes, each
    escaped twice) still leave room for the whole field: the DMARC and
    SPF failures stay in it, not a bare "none"."""
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    quotes = '"' * 64
    sig = (f"DKIM-Signature: v=1; a={quotes};\r\n"
           f"\tb={quotes[:12]}; h=from;\r\n"
           f"\td={name};\r\n"
           f"\ts={name}\r\n").encode()
    assert send(srv, "x@dmarc-none.test",
                message("x@dmarc-none.test", "many signatures",
                        sig * 10)) is None
    _, ar = stored(srv, "INBOX", "many signatures")
    assert ar.count("dkim=permerror") == 10, ar
    assert "spf=fail" in ar, ar
    assert "dmarc=fail" in ar and "header.from=dmarc-none.test" in ar, ar


def test_half_closed_pipelining_client_gets_every_reply(start_server):
    """A client that pipelines MAIL, RCPT, BDAT LAST (RFC 3030) and QUIT,
    then half-closes: EOF comes while MAIL waits for SPF, and the check of
    the content starts when that wait is over. Every command is still
    answered, and the message is stored (the resolver never replies, so
    SPF and DMARC end in temperror after dns.timeout)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        srv = start_server(**{"dns.resolver":
                              f"127.0.0.1@{mute.getsockname()[1]}",
                              "dns.timeout": "1s"})
        msg = message("x@dmarc-none.test", "half closed")
        with socket.create_connection(("127.0.0.1", srv.port),
                                      timeout=30) as s:
            f = s.makefile("rb")
            assert f.readline().startswith(b"220")
            s.sendall(b"EHLO client.example.org\r\n"
                      b"MAIL FROM:<x@dmarc-none.test>\r\n"
                      b"RCPT TO:<" + ALICE.encode() + b">\r\n" +
                      b"BDAT %d LAST\r\n" % len(msg) + msg + b"QUIT\r\n")
            s.shutdown(socket.SHUT_WR)
            replies = [line for line in f.read().split(b"\r\n") if line]
            f.close()
    final = [r for r in replies if not r.startswith(b"250-")]
    assert [r[:3] for r in final] == [b"250", b"250", b"250", b"250",
                                      b"221"], replies
    assert srv.count(ALICE) == 1
