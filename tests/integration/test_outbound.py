"""Outbound delivery: `correio serve` delivers its queue over SMTP.

The sending Correio (example.test) takes a message on its submission port
and its queue runner delivers it, resolving the domain through the test
resolver's zones (conftest.DNS_ZONES) and connecting to [queue] port on
the exchanges' addresses:

- a "remote" Correio (its own `correio init`, domain remote.test, a
  self-signed certificate) on 127.0.0.2, reached over STARTTLS;
- backup.test, whose first exchange (127.0.0.9) is dead;
- small SMTP servers in this file on 127.0.0.3 (4xx, then 250) and
  127.0.0.4 (550);
- nullmx.test (RFC 7505): failed at once.

A recipient given up on gets the sender a DSN (RFC 3464) in the INBOX.

Every wait is bounded; the test's own servers are shut down in finally.
"""
import os
import re
import smtplib
import socket
import socketserver
import ssl
import subprocess
import threading
import time

import pytest

from conftest import (CLI_TIMEOUT, DOMAIN, PASSWORD, Instance, Server,
                      run_cli)

ALICE = f"alice@{DOMAIN}"
REMOTE_DOMAIN = "remote.test"
REMOTE_USER = f"rita@{REMOTE_DOMAIN}"
BACKUP_USER = "bert@backup.test"
DELIVERY_TIMEOUT = 60       # from submission to a result, under ASan


def free_port_on(*addresses):
    """A port free on every address (the remote's and the test servers')."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addresses[0], 0))
            port = s.getsockname()[1]
        ok = True
        for a in addresses[1:]:
            with socket.socket() as t:
                try:
                    t.bind((a, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise AssertionError("no common free port")


# --- the sending side ----------------------------------------------------------

def sender_overrides(port):
    return {"auth.failure_delay": "0", "queue.port": str(port),
            "queue.interval": "1s", "queue.retry_min": "1s",
            "queue.retry_max": "2s", "queue.timeout": "10s",
            "queue.connect_timeout": "3s", "queue.data_timeout": "10s",
            "log.level": "debug"}


def submit(server, rcpts, subject="outbound", body="Hello from afar.\r\n",
           smtputf8=False):
    """smtplib on the submission port: STARTTLS, AUTH, the message (with
    MAIL ... SMTPUTF8 if asked)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    msg = (f"From: Alice <{ALICE}>\r\nTo: {', '.join(rcpts)}\r\n"
           f"Subject: {subject}\r\n\r\n{body}").encode()
    with smtplib.SMTP("127.0.0.1", server.sub_port, timeout=10) as s:
        s.ehlo("client.example.org")
        s.starttls(context=ctx)
        s.ehlo("client.example.org")
        s.login(ALICE, PASSWORD)
        s.sendmail(ALICE, rcpts, msg,
                   mail_options=["SMTPUTF8"] if smtputf8 else [])


def queue_rows(server):
    p = server.cli_ok("queue", "list")
    return [l.split("\t") for l in p.stdout.splitlines() if l]


def queue_show(server, qid):
    return server.cli_ok("queue", "show", qid).stdout


def wait_for(what, cond, timeout=DELIVERY_TIMEOUT, server=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.25)
    log = server.log()[-6000:] if server is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


# --- the remote Correio ---------------------------------------------------------

@pytest.fixture(scope="module")
def remote_template(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("remote") / "inst")
    p = run_cli(["init", "--dir", inst.dir, "--domain", REMOTE_DOMAIN,
                 "--hostname", "mx.remote.test"])
    assert p.returncode == 0, p.stderr
    inst.cli_ok("user", "add", "--password-stdin", REMOTE_USER,
                input=PASSWORD + "\n")
    inst.cli_ok("domain", "add", "backup.test")
    inst.cli_ok("user", "add", "--password-stdin", BACKUP_USER,
                input=PASSWORD + "\n")
    return inst


@pytest.fixture
def outbound(remote_template, instance, tmp_path):
    """(sender, remote, port): the sending Correio and the remote one,
    which listens for SMTP on 127.0.0.2:port."""
    dest = str(tmp_path / "remote")
    subprocess.run(["cp", "-a", remote_template.dir, dest], check=True,
                   timeout=CLI_TIMEOUT)
    remote_inst = Instance(dest)
    port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.9")
    remote = Server(remote_inst, {"smtp.listen": f"127.0.0.2:{port}",
                                  "queue.deliver": "0"})
    sender = Server(instance, sender_overrides(port))
    started = []
    try:
        remote.start()
        started.append(remote)
        sender.start()
        started.append(sender)
        yield sender, remote, port
    finally:
        errors = []
        for s in started:
            try:
                s.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


def test_delivered_to_remote_correio_over_starttls(outbound):
    """The remote Correio offers CHUNKING: BDAT, so nothing is
    dot-stuffed and nothing must be un-stuffed."""
    sender, remote, _ = outbound
    submit(sender, [REMOTE_USER], subject="over the wire",
           body="Line one.\r\n.leading dot\r\n..two dots\r\n")
    wait_for("the remote INBOX", lambda: remote.inst.count(REMOTE_USER) == 1,
             server=sender)
    rows = remote.inst.messages(REMOTE_USER)
    assert ALICE in rows[0][2] and rows[0][4] == "over the wire"
    stored = remote.inst.get(REMOTE_USER, rows[0][0])
    assert b"\r\n.leading dot\r\n..two dots\r\n" in stored
    # the sender's Return-Path line was not sent (the remote adds its own)
    assert stored.count(b"Return-Path:") == 1
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    log = sender.log()
    assert "mx=mx.remote.test ip=127.0.0.2 tls version=TLSv1." in log, log
    assert "mx=mx.remote.test ip=127.0.0.2 content=bdat" in log, log
    assert "content=data" not in log
    assert f"to=<{REMOTE_USER}>" in log and "result=sent" in log


def test_every_hop_is_recorded(outbound):
    """The remote's Received header names our host, our address and the
    TLS version and cipher; our log line for the delivery names the
    exchange, its address, the same TLS version and cipher, and the
    reply."""
    sender, remote, _ = outbound
    submit(sender, [REMOTE_USER], subject="traced")
    wait_for("the remote INBOX", lambda: remote.inst.count(REMOTE_USER) == 1,
             server=sender)
    stored = remote.inst.get(REMOTE_USER, 1)
    head = stored.split(b"\r\n\r\n", 1)[0].decode()
    received = re.findall(r"^Received: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*",
                          head, re.M)
    # the first Received is the remote's: it took it from us
    hop = " ".join(received[0].split())
    m = re.match(r"Received: from mail\.example\.test \(\[127\.0\.0\.1\]\)"
                 r" by mx\.remote\.test \(Correio\) with ESMTPS id \S+"
                 r" \(version=(TLSv1\.[23]) cipher=(\S+) bits=\d+/\d+\)"
                 rf" for <{re.escape(REMOTE_USER)}>; ", hop)
    assert m, received
    version, cipher = m.groups()
    # and the second is ours, from the submission
    assert "by mail.example.test (Correio) with ESMTPSA" in \
        " ".join(received[1].split()), received
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    line = [l for l in sender.log().splitlines()
            if f"smtp-client to=<{REMOTE_USER}>" in l]
    assert len(line) == 1, line
    assert (f"domain=remote.test mx=mx.remote.test ip=127.0.0.2 "
            f"tls=\"version={version} cipher={cipher} ") in line[0], line
    assert re.search(r'result=sent reply="250 2\.0\.0 Ok: delivered as '
                     r'\S+"$', line[0]), line


def test_big_message_in_several_chunks(outbound):
    """Above SMTP_CLIENT_BDAT_CHUNK (256 KiB): several BDAT chunks,
    pipelined, and the remote stores every byte."""
    sender, remote, _ = outbound
    body = "".join(f"line {i:06d} " + "x" * 60 + "\r\n" for i in range(9000))
    submit(sender, [REMOTE_USER], subject="big", body=body)
    wait_for("the remote INBOX", lambda: remote.inst.count(REMOTE_USER) == 1,
             server=sender)
    stored = remote.inst.get(REMOTE_USER, 1)
    assert stored.endswith(b"\r\n\r\n" + body.encode())
    log = sender.log()
    m = re.search(r"content=bdat size=(\d+) chunks=(\d+)", log)
    assert m and int(m.group(2)) == (int(m.group(1)) - 1) // 262144 + 1 \
        and int(m.group(2)) >= 3, m and m.group(0)


def test_sendmail_to_a_remote_address(outbound):
    """A local program's message, end to end: sendmail queues it, the
    running server notices the write and delivers it."""
    sender, remote, _ = outbound
    p = run_cli(["sendmail", "-C", sender.inst.conf, "-f", ALICE,
                 REMOTE_USER], input="Subject: cron says hi\n\nall done\n")
    assert p.returncode == 0, p.stderr
    wait_for("the remote INBOX", lambda: remote.inst.count(REMOTE_USER) == 1,
             server=sender)
    rows = remote.inst.messages(REMOTE_USER)
    assert rows[0][4] == "cron says hi"
    stored = remote.inst.get(REMOTE_USER, rows[0][0])
    assert stored.endswith(b"\r\n\r\nall done\r\n")
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)


def test_first_mx_dead_second_alive(outbound):
    sender, remote, _ = outbound
    submit(sender, [BACKUP_USER], subject="via backup")
    wait_for("the backup INBOX", lambda: remote.inst.count(BACKUP_USER) == 1,
             server=sender)
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    log = sender.log()
    assert "mx=mx-dead.backup.test ip=127.0.0.9 error=" in log, log


def test_null_mx_fails_permanently(outbound):
    sender, _, _ = outbound
    submit(sender, ["nobody@nullmx.test"])

    def failed():
        rows = queue_rows(sender)
        return rows and "state=failed" in queue_show(sender, rows[0][0]) and rows
    rows = wait_for("a failed recipient", failed, server=sender)
    show = queue_show(sender, rows[0][0])
    assert "nullmx" in show, show
    assert "attempts=1" in show, show
    dsn = wait_dsn(sender)
    assert b"Final-Recipient: rfc822; nobody@nullmx.test" in dsn
    assert b"Status: 5.1.10" in dsn


DSN_SUBJECT = "Undelivered Mail Returned to Sender"


def wait_dsn(server):
    """The DSN in alice's INBOX, checked for the RFC 3464 layout."""
    def found():
        return [r for r in server.inst.messages(ALICE) if r[4] == DSN_SUBJECT]
    rows = wait_for("a DSN", found, server=server)
    assert len(rows) == 1, rows
    dsn = server.inst.get(ALICE, rows[0][0])
    assert dsn.startswith(b"Return-Path: <>\r\n"), dsn[:200]
    head = dsn.split(b"\r\n\r\n", 1)[0]
    assert b"multipart/report; report-type=delivery-status" in head
    assert b"Auto-Submitted: auto-replied" in head
    assert f"To: <{ALICE}>".encode() in head
    for part in (b"Content-Type: message/delivery-status",
                 b"Content-Type: text/rfc822-headers",
                 b"Reporting-MTA: dns; mail.example.test",
                 b"Action: failed"):
        assert part in dsn, dsn
    return dsn


# --- small SMTP servers ---------------------------------------------------------

class SinkHandler(socketserver.StreamRequestHandler):
    """A minimal SMTP server; the server object says how RCPT is answered
    (rcpt_replies: one per connection, the last one repeats)."""

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        srv = self.server
        with srv.lock:
            n = srv.connections
            srv.connections += 1
        rcpt_reply = srv.rcpt_replies[min(n, len(srv.rcpt_replies) - 1)]
        self.connection.settimeout(10)
        self.reply("220 sink.test ESMTP")
        accepted = 0
        while True:
            line = self.rfile.readline(2048)
            if not line:
                return
            cmd = line.decode("latin-1").strip().upper()
            srv.commands.append(cmd)
            if cmd.startswith("EHLO"):
                self.reply("250-sink.test")
                self.reply("250-PIPELINING")
                self.reply("250 SIZE 1000000")
            elif cmd.startswith("MAIL"):
                self.reply("250 2.1.0 ok")
            elif cmd.startswith("RCPT"):
                self.reply(rcpt_reply)
                accepted += rcpt_reply.startswith("250")
            elif cmd == "DATA":
                if not accepted:
                    self.reply("554 5.5.1 no valid recipients")
                    continue
                self.reply("354 go ahead")
                data = []
                while True:
                    l = self.rfile.readline(4096)
                    if not l or l == b".\r\n":
                        break
                    data.append(l)
                srv.messages.append(b"".join(data))
                self.reply("250 2.0.0 queued")
            elif cmd == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class Sink(socketserver.ThreadingTCPServer):
    """Serves HANDLER on ADDRESS in a thread until stop()."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, rcpt_replies, handler=SinkHandler):
        self.rcpt_replies = rcpt_replies
        self.connections = 0
        self.commands = []
        self.messages = []
        self.lock = threading.Lock()
        super().__init__(address, handler)
        self.thread = threading.Thread(target=self.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=10)


def test_4xx_deferred_then_delivered(outbound):
    sender, _, port = outbound
    sink = Sink(("127.0.0.3", port), ["451 4.3.0 try again later",
                                      "250 2.1.5 ok"])
    try:
        submit(sender, ["tom@tempfail.test"], subject="patience")

        def deferred():
            rows = queue_rows(sender)
            return rows and "state=deferred" in queue_show(sender, rows[0][0])
        wait_for("a deferred recipient", deferred, server=sender)
        wait_for("delivery on retry", lambda: len(sink.messages) == 1,
                 server=sender)
        wait_for("an empty queue", lambda: queue_rows(sender) == [],
                 server=sender)
        assert sink.connections >= 2
        assert b"Subject: patience" in sink.messages[0]
        # MAIL and RCPT pipelined, the sender's size declared
        mails = [c for c in sink.commands if c.startswith("MAIL")]
        assert all("SIZE=" in m for m in mails), mails
    finally:
        sink.stop()
    assert "451 4.3.0 try again later" in sender.log()


def test_5xx_fails_permanently(outbound):
    sender, _, port = outbound
    sink = Sink(("127.0.0.4", port), ["550 5.1.1 no such user here"])
    try:
        submit(sender, ["ghost@reject.test"], subject="doomed")

        def failed():
            rows = queue_rows(sender)
            return rows and "state=failed" in queue_show(sender, rows[0][0]) \
                and rows
        wait_for("a failed recipient", failed, server=sender)
        rows = queue_rows(sender)       # read after the write, not during
        show = queue_show(sender, rows[0][0])
        assert "550 5.1.1 no such user here" in show, show
        assert rows[0][4].startswith("550 5.1.1"), rows
        assert sink.messages == []
        dsn = wait_dsn(sender)
        assert b"Final-Recipient: rfc822; ghost@reject.test" in dsn
        assert b"Status: 5.1.1" in dsn
        assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user here" in dsn
        assert b"Subject: doomed" in dsn      # the original header
        # not tried again
        n = sink.connections
        time.sleep(2.5)
        assert sink.connections == n
    finally:
        sink.stop()


def test_dsn_for_a_remote_sender_is_queued_and_delivered(outbound):
    """sendmail lets a local program name any sender: the DSN for a remote
    one is queued with the null reverse-path and delivered like other
    mail, here to the remote Correio."""
    sender, remote, port = outbound
    sink = Sink(("127.0.0.4", port), ["550 5.1.1 no such user here"])
    try:
        p = run_cli(["sendmail", "-C", sender.inst.conf, "-f", REMOTE_USER,
                     "ghost@reject.test"], input="Subject: from afar\n\nhi\n")
        assert p.returncode == 0, p.stderr

        def dsn_rows():
            return [r for r in remote.inst.messages(REMOTE_USER)
                    if r[4] == DSN_SUBJECT]
        rows = wait_for("the DSN at the remote", dsn_rows, server=sender)
        dsn = remote.inst.get(REMOTE_USER, rows[0][0])
        assert dsn.startswith(b"Return-Path: <>\r\n"), dsn[:200]
        assert b"Final-Recipient: rfc822; ghost@reject.test" in dsn
        # the DSN left the queue; the failed recipient stays, visible
        wait_for("only the failed entry", lambda: [r[2] for r in
                 queue_rows(sender)] == ["ghost@reject.test"], server=sender)
    finally:
        sink.stop()
    assert f"dsn to=<{REMOTE_USER}> failed=1 result=queued" in sender.log()


def test_no_dsn_for_a_null_sender(outbound):
    sender, _, port = outbound
    sink = Sink(("127.0.0.4", port), ["550 5.1.1 no such user here"])
    try:
        p = run_cli(["sendmail", "-C", sender.inst.conf, "-f", "<>",
                     "ghost@reject.test"], input="Subject: bounce\n\nx\n")
        assert p.returncode == 0, p.stderr

        def failed():
            rows = queue_rows(sender)
            return rows and "state=failed" in queue_show(sender, rows[0][0])
        wait_for("a failed recipient", failed, server=sender)
    finally:
        sink.stop()
    assert any(c.startswith("MAIL FROM:<> ") for c in sink.commands), \
        sink.commands
    assert "dsn to=" not in sender.log()
    assert [r for r in sender.inst.messages(ALICE)
            if r[4] == DSN_SUBJECT] == []


def test_lifetime_turns_deferral_into_failure(instance):
    port = free_port_on("127.0.0.3")
    overrides = sender_overrides(port)
    overrides["queue.lifetime"] = "3s"
    sender = Server(instance, overrides)
    sink = Sink(("127.0.0.3", port), ["451 4.3.0 try again later"])
    try:
        sender.start()
        submit(sender, ["tom@tempfail.test"], subject="too late")
        dsn = wait_dsn(sender)
        assert b"Final-Recipient: rfc822; tom@tempfail.test" in dsn
        assert b"Status: 4.4.7" in dsn
        assert b"Diagnostic-Code: smtp; 451 4.3.0 try again later" in dsn
        rows = queue_rows(sender)
        show = queue_show(sender, rows[0][0])
        assert "state=failed" in show, show
        assert sink.connections >= 2
    finally:
        sink.stop()
        sender.stop()
