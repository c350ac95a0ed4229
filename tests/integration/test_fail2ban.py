"""The fail2ban filter and jail in contrib/fail2ban against a real log:
failed logins made with imaplib, poplib and smtplib against a running
server, the log saved, and Debian's fail2ban-regex run on it with the
filter. It must match exactly the failures, all from the client's address;
not the successful logins, not the logins refused by Correio's own ban,
and not an address smuggled into a user name. fail2ban-client --test then
loads the jail with the filter from a private copy of /etc/fail2ban (no
daemon is started). Needs fail2ban (scripts/install-deps)."""
import imaplib
import os
import poplib
import re
import shutil
import smtplib
import subprocess

import pytest

from conftest import DOMAIN, IO_TIMEOUT, PASSWORD, IMAPClient, imap_quote

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FILTER = os.path.join(ROOT, "contrib", "fail2ban", "filter.d", "correio.conf")
JAIL = os.path.join(ROOT, "contrib", "fail2ban", "jail.d", "correio.conf")
ALICE = f"alice@{DOMAIN}"
TOOL_TIMEOUT = 60
# 3 over IMAP (one with a hostile user name), 2 over POP3, 2 over SMTP
FAILURES = 7

pytestmark = pytest.mark.skipif(shutil.which("fail2ban-regex") is None,
                                reason="fail2ban is not installed "
                                "(scripts/install-deps)")


def make_failures(server):
    # a good login first, on each protocol: never matched (and before the
    # failures: a success forgets the address's count)
    imap = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    imap.login(ALICE, PASSWORD)
    imap.logout()
    pop = poplib.POP3("127.0.0.1", server.pop3_port, timeout=IO_TIMEOUT)
    pop.user(ALICE)
    pop.pass_(PASSWORD)
    pop.quit()
    smtp = smtplib.SMTP("127.0.0.1", server.sub_port, timeout=IO_TIMEOUT)
    smtp.ehlo()
    smtp.login(ALICE, PASSWORD)
    smtp.quit()
    for user, password in ((ALICE, "wrong-a"), ("nobody@" + DOMAIN, "x")):
        imap = imaplib.IMAP4("127.0.0.1", server.imap_port,
                             timeout=IO_TIMEOUT)
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(user, password)
        imap.logout()
    # a user name that names another address (imaplib does not quote user
    # names: the raw client does)
    with IMAPClient(server.imap_port) as c:
        r = c.cmd(f"LOGIN {imap_quote('x peer=6.6.6.6 y')} wrong-b")
        assert r.status == "NO", r
    for password in ("wrong-c", "wrong-d"):
        pop = poplib.POP3("127.0.0.1", server.pop3_port, timeout=IO_TIMEOUT)
        pop.user(ALICE)
        with pytest.raises(poplib.error_proto):
            pop.pass_(password)
        pop.quit()
    for password in ("wrong-e", "wrong-f"):
        smtp = smtplib.SMTP("127.0.0.1", server.sub_port, timeout=IO_TIMEOUT)
        smtp.ehlo()
        # one mechanism per try (login() would try LOGIN after PLAIN)
        smtp.user, smtp.password = ALICE, password
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.auth("PLAIN", smtp.auth_plain)
        smtp.close()
    # the address is banned by Correio now (max_failures): one more try is
    # refused without a check, logged as "auth refused", not counted
    imap = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=IO_TIMEOUT)
    with pytest.raises(imaplib.IMAP4.error):
        imap.login(ALICE, PASSWORD)
    imap.logout()


def fail2ban_regex(log, *options):
    p = subprocess.run(["fail2ban-regex", *options, log, FILTER],
                       capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


@pytest.mark.server(**{"imap.allow_plaintext": "loopback",
                       "pop3.allow_plaintext": "loopback",
                       "submission.allow_plaintext": "loopback",
                       "auth.failure_delay": "0",
                       "auth.max_failures": str(FAILURES),
                       "queue.deliver": "0"})
def test_fail2ban_regex_matches_the_failures(server, tmp_path):
    make_failures(server)
    text = server.log()
    assert len(re.findall(r" auth failed ", text)) == FAILURES, text
    assert " auth refused " in text
    assert "wrong-" not in text and PASSWORD not in text
    log = str(tmp_path / "correio.log")
    with open(log, "w") as f:
        f.write(text)
    out = fail2ban_regex(log)
    m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched",
                  out, re.M)
    assert m, out
    assert int(m.group(3)) == FAILURES, out
    # the address of each match: the client's, never the smuggled one
    ips = fail2ban_regex(log, "-o", "ip").split()
    assert ips == ["127.0.0.1"] * FAILURES, ips
    # and the user names it read
    rows = fail2ban_regex(log, "-o", "<F-USER>").split("\n")
    assert f"{ALICE}" in rows and "x peer=6.6.6.6 y" in rows, rows


def test_fail2ban_jail_loads(tmp_path):
    """The jail and the filter load into a copy of the system's fail2ban
    configuration (fail2ban-client --test starts no daemon)."""
    conf = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", conf)
    for f in (conf / "jail.d").iterdir():
        f.unlink()     # Debian's sshd jail needs a log this host lacks
    shutil.copy(FILTER, conf / "filter.d" / "correio.conf")
    log = tmp_path / "correio.log"
    log.write_text("")
    with open(JAIL) as f:
        jail = re.sub(r"(?m)^logpath\s*=.*$", f"logpath  = {log}", f.read())
    (conf / "jail.d" / "correio.conf").write_text(jail)
    p = subprocess.run(["fail2ban-client", "-c", str(conf), "--test"],
                       capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    out = p.stdout + p.stderr
    assert "configuration test is successful" in out, out
    assert "ERROR" not in out, out
