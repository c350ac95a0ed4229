"""What POP3 sends of a message, byte for byte: RETR and TOP of messages
with lines that start with dots, bare LF line ends (stored by IMAP
APPEND), no final line end, 8-bit bytes; a large message streamed to a
client that does not read (the server's memory stays flat); and
fetchmail (the Debian package) fetching every message into an mbox over
POP3, STLS and POP3S, compared byte for byte with the store."""
import os
import re
import secrets
import subprocess
import time

import pytest

from conftest import (DOMAIN, HOSTNAME, PASSWORD, imap_login, make_message,
                      pop3_connect, pop3_login, smtp_deliver)

ALICE = f"alice@{DOMAIN}"
pytestmark = pytest.mark.server(**{"pop3.allow_plaintext": "loopback",
                                   "imap.allow_plaintext": "loopback"})
FETCHMAIL = "/usr/bin/fetchmail"
FETCHMAIL_TIMEOUT = 120


def crlf(data):
    """Bare LFs made CRLF, and a CRLF added at the end if missing: what a
    POP3 client gets of a stored message."""
    data = re.sub(rb"(?<!\r)\n", b"\r\n", data)
    if data and not data.endswith(b"\n"):
        data += b"\n" if data.endswith(b"\r") else b"\r\n"
    return data


def append(server, data):
    """Stores DATA as it is (bare LFs and all) with IMAP APPEND."""
    with imap_login(server) as c:
        r = c.append_literal("INBOX", data)
        assert r.status == "OK", r.raw


# Messages no SMTP client could send as they are, stored by APPEND.
ODD_MESSAGES = [
    b"Subject: bare LF\n\nline one\n.dot line\n..two dots\n.\nlast\n",
    b"Subject: no final line end\r\n\r\nlast line without CRLF",
    b"Subject: mixed\r\n\r\na\nb\r\n.c\n\r\n.\r\n",
    b"Subject: ends with CR\r\n\r\nx\r",
    b"Subject: dot at end\r\n\r\n.",
    b"Subject: bare CR\r\n\r\nbefore\rafter\r\n\r.\r\n",
    b".Subject-less first line with a dot\r\n\r\nbody\r\n",
    b"Subject: 8bit \xc3\xa9\xff\r\n\r\nbin \x00\x01\x7f\x80\xfe\r\n",
]


def test_retr_every_kind_of_message(server):
    for m in ODD_MESSAGES:
        append(server, m)
    smtp_deliver(server, ALICE, make_message("dots", [".", "..", ". x", ".y"]))
    stored = [server.get(ALICE, uid) for uid in range(1, len(ODD_MESSAGES) + 2)]
    assert stored[:len(ODD_MESSAGES)] == ODD_MESSAGES
    with pop3_login(server) as c:
        for i, s in enumerate(stored):
            got = c.retr(i + 1)
            assert got == crlf(s), (i, got, s)
            # the sizes listed are the stored ones: exact for CRLF mail
            if b"\n" not in s.replace(b"\r\n", b""):
                assert c.ok(f"LIST {i + 1}") == f"+OK {i + 1} {len(s)}".encode()


def test_raw_stuffing_on_the_wire(server):
    """The bytes on the wire, not what a client library makes of them."""
    append(server, b"Subject: x\n\n.\n..\nend")
    with pop3_login(server) as c:
        c.send("RETR 1\r\n")
        c.readline()
        deadline = time.monotonic() + 5
        while b"\r\n.\r\n" not in c.buf and time.monotonic() < deadline:
            c._fill(1)
        assert c.buf == b"Subject: x\r\n\r\n..\r\n...\r\nend\r\n.\r\n"


def test_top_of_odd_messages(server):
    append(server, b"H: 1\n\n.b1\nb2\n")
    append(server, b"H: 1\r\nH: 2\r\n")            # header only
    with pop3_login(server) as c:
        _, lines = c.multi("TOP 1 1")
        assert lines == [b"H: 1", b"", b".b1"]
        _, lines = c.multi("TOP 2 5")
        assert lines == [b"H: 1", b"H: 2"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.server(**{"server.max_message_size": "20M"})
def test_large_message_streams(server):
    """RETR of a 12 MB message to a client that reads nothing: the server
    stops at its output high-water mark instead of loading the message;
    then the client reads it all, byte for byte."""
    line = b"0123456789" * 7 + b"\r\n"
    body = [(b"." if i % 97 == 0 else b"") + line for i in range(12 * 1024 * 1024 // len(line))]
    msg = make_message("large") + b"".join(body)
    smtp_deliver(server, ALICE, msg)
    stored = server.get(ALICE, 1)
    with pop3_login(server) as c:
        time.sleep(0.5)
        before = rss_kib(server.proc.pid)
        c.send("RETR 1\r\n")
        time.sleep(2)
        grown = rss_kib(server.proc.pid) - before
        assert grown < 6 * 1024, f"RSS grew by {grown} KiB during RETR"
        # a second session is served meanwhile
        with pop3_login(server, "bob") as b:
            b.ok("STAT")
        assert c.readline() == f"+OK {len(stored)} octets".encode()
        got = b"".join(l + b"\r\n" for l in c.read_multi(timeout=120))
        assert got == stored
        c.ok("NOOP")


@pytest.mark.server(**{"server.max_message_size": "20M"})
def test_pipelined_retr_without_reading(server):
    """Many RETRs pipelined by a client that does not read: the server
    stops reading commands while its output is full, and serves
    everything once the client reads."""
    msg = make_message("big", ["x" * 998] * 2000)          # about 2 MB
    smtp_deliver(server, ALICE, msg)
    stored = server.get(ALICE, 1)
    with pop3_login(server) as c:
        before = rss_kib(server.proc.pid)
        c.send("RETR 1\r\n" * 20 + "QUIT\r\n")
        time.sleep(2)
        grown = rss_kib(server.proc.pid) - before
        assert grown < 8 * 1024, f"RSS grew by {grown} KiB"
        for _ in range(20):
            assert c.readline(timeout=60).startswith(b"+OK")
            assert b"".join(l + b"\r\n" for l in c.read_multi(60)) == stored
        assert c.readline() == b"+OK Bye"


# --- fetchmail ---------------------------------------------------------------

class Fetchmail:
    """fetchmail with a private rc file and home, delivering each message
    to an mbox through an MDA script that writes a separator line with a
    random token (so that message bytes cannot look like one)."""

    def __init__(self, tmp_path, server):
        self.dir = tmp_path / "fetchmail"
        self.dir.mkdir()
        self.mbox = self.dir / "mbox"
        self.token = secrets.token_hex(8)
        self.sep = f"From fetchmail-{self.token} Thu Jan  1 00:00:00 1970\n".encode()
        mda = self.dir / "mda.sh"
        mda.write_text("#!/bin/sh\n"
                       f"{{ printf 'From fetchmail-{self.token} Thu Jan  1 "
                       f"00:00:00 1970\\n'; cat; }} >> '{self.mbox}'\n")
        mda.chmod(0o700)
        self.mda = mda
        self.server = server

    def run(self, mode, options="", server_options=""):
        """mode: plain, stls or pop3s; options go to the user, server
        options (uidl) to the poll line. Returns the CompletedProcess."""
        s = self.server
        port = s.pop3s_port if mode == "pop3s" else s.pop3_port
        tls = {
            "plain": "sslproto ''",
            "stls": f"sslproto tls1.2+ sslcertck sslcertfile '{s.inst.cert}' "
                    f"sslcommonname {HOSTNAME}",
            "pop3s": f"ssl sslcertck sslcertfile '{s.inst.cert}' "
                     f"sslcommonname {HOSTNAME}",
        }[mode]
        rc = self.dir / "rc"
        rc.write_text(
            "set no syslog\nset invisible\nset no bouncemail\n"
            f"poll 127.0.0.1 service {port} protocol pop3 {server_options} "
            "auth password timeout 60 bad-header accept\n"
            f'  user "{ALICE}" there with password "{PASSWORD}" is root here\n'
            f"  {tls}\n"
            f"  no rewrite no stripcr no mimedecode {options}\n"
            f'  mda "{self.mda}"\n')
        rc.chmod(0o600)
        env = dict(os.environ, FETCHMAILHOME=str(self.dir), HOME=str(self.dir))
        return subprocess.run([FETCHMAIL, "-f", str(rc), "--nodetach",
                               "--verbose"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              timeout=FETCHMAIL_TIMEOUT)

    def messages(self):
        if not self.mbox.exists():
            return []
        data = self.mbox.read_bytes()
        assert data.startswith(self.sep), data[:200]
        return data[len(self.sep):].split(self.sep)


def fetchmail_messages(server):
    """A mix: SMTP mail with dot lines and From lines, odd APPENDed ones,
    and a 1 MB one."""
    smtp_deliver(server, ALICE, make_message("fm 1", [".leading dot", "From me",
                                                      "..", "."]))
    for m in ODD_MESSAGES:
        append(server, m)
    smtp_deliver(server, ALICE, make_message("fm big", ["y" * 900] * 1100))
    n = len(ODD_MESSAGES) + 2
    return [server.get(ALICE, uid) for uid in range(1, n + 1)]


@pytest.mark.parametrize("mode", ["plain", "stls", "pop3s"])
def test_fetchmail_to_mbox(server, tmp_path, mode):
    stored = fetchmail_messages(server)
    fm = Fetchmail(tmp_path, server)
    p = fm.run(mode, "fetchall keep")
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    got = fm.messages()
    assert len(got) == len(stored), out
    for i, (g, s) in enumerate(zip(got, stored)):
        assert g == crlf(s), (i, g[:300], s[:300])
    assert server.count(ALICE) == len(stored)
    if mode != "plain":
        assert re.search(r"conn=\S+ pop3 tls ", server.log())


def test_fetchmail_deletes_after_fetching(server, tmp_path):
    """fetchmail's default: RETR, DELE each, QUIT; then the INBOX is
    empty for IMAP too."""
    stored = fetchmail_messages(server)
    fm = Fetchmail(tmp_path, server)
    p = fm.run("stls")
    assert p.returncode == 0, p.stdout.decode("utf-8", "replace")
    assert [g for g in fm.messages()] == [crlf(s) for s in stored]
    assert server.count(ALICE) == 0
    with imap_login(server) as c:
        r = c.ok("SELECT INBOX")
        assert b"0 EXISTS" in r.raw
    # nothing new: fetchmail says so (exit 1)
    p = fm.run("stls")
    assert p.returncode == 1, p.stdout


def test_fetchmail_uidl_fetches_only_new_mail(server, tmp_path):
    smtp_deliver(server, ALICE, make_message("old 1"))
    smtp_deliver(server, ALICE, make_message("old 2"))
    fm = Fetchmail(tmp_path, server)
    p = fm.run("plain", "keep", "uidl")
    assert p.returncode == 0, p.stdout
    assert len(fm.messages()) == 2
    p = fm.run("plain", "keep", "uidl")
    assert p.returncode == 1, p.stdout      # nothing new
    assert len(fm.messages()) == 2
    smtp_deliver(server, ALICE, make_message("new 3"))
    p = fm.run("plain", "keep", "uidl")
    assert p.returncode == 0, p.stdout
    got = fm.messages()
    assert len(got) == 3 and b"Subject: new 3\r\n" in got[2]
    assert server.count(ALICE) == 3
