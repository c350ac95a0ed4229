"""SPF (RFC 7208) of inbound mail: `correio auth spf`, and the check that
port 25 makes at MAIL FROM, against the SPF records of the test resolver
(conftest.DNS_ZONES, zone spf.test). The test clients connect from
127.0.0.1, which pass.spf.test allows and fail.spf.test does not.

The full RFC 7208 behaviour (every mechanism, macro and limit) is tested
by the openspf suite in test_spf_suite.py; this file tests the server's
use of it: the resolver, the policy ([auth] spf_reject_fail), the replies,
the order of pipelined commands, and cancellation."""
import re
import smtplib
import socket

import pytest

import conftest
from conftest import DOMAIN, IO_TIMEOUT, make_message, run_cli, wait_for

ALICE = f"alice@{DOMAIN}"
EXPLANATION = "fail.spf.test does not send mail from 127.0.0.1"


def spf_cli(inst, *args):
    """`correio auth spf ARGS` with the test resolver."""
    return inst.cli("auth", "spf", *args, *conftest.dns_overrides())


def spf_log(server, sender):
    """The server's `smtp spf` log lines for SENDER."""
    return [l for l in server.log().splitlines()
            if " smtp spf " in l and f"from=<{sender}>" in l]


# --- the command line ---------------------------------------------------------

def test_cli_pass(instance):
    p = spf_cli(instance, "--ip", "127.0.0.1", "--mail-from",
                "someone@pass.spf.test", "--helo", "client.example.org")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == ("spf=pass identity=mailfrom domain=pass.spf.test "
                        "sender=someone@pass.spf.test ip=127.0.0.1")
    assert lines[1] == "reason: mechanism ip4:127.0.0.0/8 matched"


def test_cli_fail_with_explanation(instance):
    p = spf_cli(instance, "--ip", "127.0.0.1", "--mail-from",
                "<x@fail.spf.test>")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "spf=fail identity=mailfrom domain=fail.spf.test "
        "sender=x@fail.spf.test ip=127.0.0.1",
        "reason: mechanism -all matched",
        f"explanation: {EXPLANATION}",
    ]


def test_cli_other_results(instance):
    cases = [
        ("x@soft.spf.test", "127.0.0.1", "spf=softfail", "mechanism ~all"),
        ("x@include.spf.test", "127.0.0.1", "spf=pass",
         "mechanism include:pass.spf.test"),
        ("x@include.spf.test", "198.51.100.7", "spf=fail", "mechanism -all"),
        ("x@pass.spf.test", "192.0.2.44", "spf=pass", "ip4:192.0.2.0/24"),
        ("x@pass.spf.test", "::1", "spf=fail", "mechanism -all"),
        ("x@broken.spf.test", "127.0.0.1", "spf=permerror",
         "bad CIDR length"),
        # No SPF record: example.test has none, remote.example.org does
        # not exist at all.
        (ALICE, "127.0.0.1", "spf=none", "no SPF record"),
        ("x@remote.example.org", "127.0.0.1", "spf=none", "no SPF record"),
        ("x@[127.0.0.1]", "127.0.0.1", "spf=none", "not a valid domain"),
    ]
    for sender, ip, result, reason in cases:
        p = spf_cli(instance, "--ip", ip, "--mail-from", sender)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(result + " "), (sender, ip, p.stdout)
        assert reason in p.stdout.splitlines()[1], (sender, ip, p.stdout)


def test_cli_helo_identity(instance):
    p = spf_cli(instance, "--ip", "127.0.0.1", "--mail-from", "<>",
                "--helo", "helo.spf.test")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == (
        "spf=pass identity=helo domain=helo.spf.test "
        "sender=postmaster@helo.spf.test ip=127.0.0.1")
    p = spf_cli(instance, "--ip", "127.0.0.2", "--helo", "helo.spf.test")
    assert p.stdout.startswith("spf=fail identity=helo "), p.stdout


def test_cli_usage_errors(instance):
    for args in (["--mail-from", "a@pass.spf.test"],
                 ["--ip", "not-an-ip", "--mail-from", "a@pass.spf.test"],
                 ["--ip", "127.0.0.1"],
                 ["--ip", "127.0.0.1", "--mail-from", "a" * 600 + "@x.test"],
                 ["--ip", "127.0.0.1", "--mail-from", "a@b.test", "extra"]):
        p = spf_cli(instance, *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert p.stderr.startswith("correio: auth spf"), p.stderr
    p = run_cli(["auth", "frobnicate"])
    assert p.returncode == 2 and "unknown action" in p.stderr


def test_cli_dead_resolver_is_temperror(instance):
    # Nothing listens on this port: every query times out.
    p = instance.cli("auth", "spf", "--ip", "127.0.0.1", "--mail-from",
                     "x@pass.spf.test", "-o", "dns.resolver=127.0.0.1@9",
                     "-o", "dns.timeout=1s")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("spf=temperror "), p.stdout
    assert "timeout" in p.stdout.splitlines()[1], p.stdout


# --- inbound SMTP ---------------------------------------------------------------

def smtplib_send(server, sender, helo="client.example.org"):
    msg = make_message("spf " + sender)
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname=helo,
                      timeout=IO_TIMEOUT) as s:
        return s.sendmail(sender, [ALICE], msg)


def test_smtp_pass_is_accepted_and_logged(server):
    assert smtplib_send(server, "news@pass.spf.test") == {}
    assert server.count(ALICE) == 1
    lines = spf_log(server, "news@pass.spf.test")
    assert len(lines) == 1, server.log()
    assert "identity=mailfrom domain=pass.spf.test result=pass" in lines[0]
    assert 'reason="ip4:127.0.0.0/8"' in lines[0] and "reply=250" in lines[0]
    # The result stays with the transaction until the message is logged.
    assert re.search(r"smtp message id=\S+ .*from=<news@pass\.spf\.test> "
                     r".*spf=pass", server.log()), server.log()


@pytest.mark.server(**{"auth.spf_reject_fail": "yes"})
def test_smtp_fail_rejected_with_explanation(server):
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        smtplib_send(server, "ceo@fail.spf.test")
    assert e.value.smtp_code == 550
    assert e.value.smtp_error.decode() == f"5.7.23 {EXPLANATION}"
    assert server.count(ALICE) == 0
    line, = spf_log(server, "ceo@fail.spf.test")
    assert "result=fail" in line and "reply=550" in line
    # Without exp=, the server's own words.
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        smtplib_send(server, "x@bare.spf.test")
    assert e.value.smtp_code == 550
    assert e.value.smtp_error.decode() == (
        "5.7.23 SPF validation failed: bare.spf.test does not allow "
        "127.0.0.1 to send its mail")
    # A pass still goes through on the same server; softfail too.
    assert smtplib_send(server, "x@pass.spf.test") == {}
    assert smtplib_send(server, "x@soft.spf.test") == {}
    assert server.count(ALICE) == 2


def test_smtp_fail_accepted_by_default(server):
    assert smtplib_send(server, "ceo@fail.spf.test") == {}
    assert server.count(ALICE) == 1
    line, = spf_log(server, "ceo@fail.spf.test")
    assert "result=fail" in line and "reply=250" in line
    assert f'explanation="{EXPLANATION}"' in line


@pytest.mark.server(**{"auth.spf_reject_fail": "yes"})
def test_smtp_null_sender_checks_helo(server):
    with server.connect() as c:
        c.expect("EHLO helo.spf.test", 250)
        c.expect("MAIL FROM:<>", 250)
        c.expect("RSET", 250)
    line = [l for l in server.log().splitlines() if " smtp spf " in l][-1]
    assert "identity=helo domain=helo.spf.test result=pass" in line, line
    # The same HELO name from an address it does not allow.
    with server.connect() as c:
        c.expect("EHLO bare.spf.test", 250)
        r = c.cmd("MAIL FROM:<>")
        assert r.code == 550 and r.first.startswith("550 5.7.23 "), r.raw


@pytest.mark.server(**{"auth.spf_reject_fail": "yes"})
def test_smtp_pipelined_commands_keep_their_order(server):
    body = make_message("pipelined") + b".\r\n"
    with server.connect() as c:
        c.expect("EHLO client.example.org", 250)
        c.send(f"MAIL FROM:<a@fail.spf.test>\r\nRCPT TO:<{ALICE}>\r\n"
               f"DATA\r\nNOOP\r\n".encode())
        assert c.reply().first.startswith("550 5.7.23 ")
        assert c.reply().code == 503
        assert c.reply().code == 503
        assert c.reply().code == 250
        c.send(f"MAIL FROM:<a@pass.spf.test>\r\nRCPT TO:<{ALICE}>\r\n"
               f"DATA\r\n".encode())
        assert c.reply().first.startswith("250 2.1.0")
        assert c.reply().first.startswith("250 2.1.5")
        assert c.reply().code == 354
        c.send(body)
        assert c.reply().code == 250
        c.expect("QUIT", 221)
    assert server.count(ALICE) == 1


@pytest.mark.server(**{"auth.spf_reject_fail": "yes",
                       "dns.resolver": "127.0.0.1@9", "dns.timeout": "1s"})
def test_smtp_temperror_rejected_with_451(server):
    with server.connect() as c:
        c.expect("EHLO client.example.org", 250)
        r = c.cmd("MAIL FROM:<a@pass.spf.test>")
        assert r.code == 451 and r.first.startswith("451 4.4.3 "), r.raw
        c.expect(f"RCPT TO:<{ALICE}>", 503)
    line, = spf_log(server, "a@pass.spf.test")
    assert "result=temperror" in line and "reply=451" in line


@pytest.mark.server(**{"dns.resolver": "127.0.0.1@9", "dns.timeout": "1s"})
def test_smtp_temperror_accepted_by_default(server):
    assert smtplib_send(server, "a@pass.spf.test") == {}
    assert server.count(ALICE) == 1
    line, = spf_log(server, "a@pass.spf.test")
    assert "result=temperror" in line and "reply=250" in line


@pytest.mark.server(**{"dns.resolver": "127.0.0.1@9", "dns.timeout": "2s"})
def test_smtp_disconnect_during_check(server):
    """The session closes while its SPF query is in flight: the check is
    cancelled with it (teardown checks the sanitizers and a clean exit),
    and the server goes on."""
    for quit_first in (False, True):
        with server.connect() as c:
            c.expect("EHLO client.example.org", 250)
            c.send(b"MAIL FROM:<a@pass.spf.test>\r\n" +
                   (b"QUIT\r\n" if quit_first else b""))
            if quit_first:
                # A half-close: the pending MAIL and QUIT still get their
                # replies, in order, once the check is over.
                c.sock.shutdown(socket.SHUT_WR)
                assert c.reply(timeout=15).code == 250
                assert c.reply(timeout=15).code == 221
    with server.connect() as c:
        c.expect("EHLO client.example.org", 250)
    assert server.running()


@pytest.mark.server(**{"auth.spf_reject_fail": "yes"})
def test_submission_is_not_checked(server):
    msg = make_message("submitted", sender=ALICE, to=f"bob@{DOMAIN}")
    with smtplib.SMTP("127.0.0.1", server.sub_port, timeout=IO_TIMEOUT) as s:
        s.starttls()
        s.login(ALICE, "correct horse battery staple")
        assert s.sendmail(ALICE, [f"bob@{DOMAIN}"], msg) == {}
    assert " smtp spf " not in server.log()


@pytest.mark.server(**{"dns.resolver": "127.0.0.1@9", "dns.timeout": "5s",
                       "log.level": "debug"})
def test_smtp_shutdown_during_check(server):
    """SIGTERM while MAIL waits for its SPF query: the session is told 421
    at once and its check (and DNS query) cancelled; the server exits
    cleanly (stop() checks the exit code and the sanitizers)."""
    with server.connect() as c:
        c.expect("EHLO client.example.org", 250)
        c.send(b"MAIL FROM:<a@pass.spf.test>\r\n")
        wait_for(lambda: "spf query name=pass.spf.test" in server.log(),
                 what="the SPF query")
        server.stop()
        r = c.reply()
        assert r.code == 421, r.raw
