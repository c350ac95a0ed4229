"""Outbound delivery to real SMTP servers other than Correio: aiosmtpd
peers (python3-aiosmtpd) on their own loopback addresses, reached through
the test resolver's zones (conftest.DNS_ZONES) on the sending server's
[queue] port.

- plain.test (127.0.0.5): no CHUNKING, no PIPELINING, no SMTPUTF8, no
  STARTTLS: DATA with dot-stuffing, one command at a time.
- utf8.test (127.0.0.6): SMTPUTF8 (RFC 6531).
- badtls.test (127.0.0.7): STARTTLS offered, then the handshake breaks (or
  STARTTLS is refused).
- silent.test (127.0.0.8): takes connections and never greets.
- chunk.test (127.0.0.10): a small scripted server with CHUNKING and
  without PIPELINING (aiosmtpd has no BDAT): one chunk at a time.
- hostile.test (127.0.0.11): replies beyond the client's limits.
- loopaddr.test, loopname.test, selfbackup.test: MX that point back at
  the sending server (RFC 5321 5.1).

Also: several messages to one domain over one connection (RSET between),
the per-connection and per-domain limits, the runner woken by new mail
(with [queue] interval at an hour), and a stop between the final dot and
its reply (the message is sent again: a duplicate, never a loss).

Every wait is bounded; the peers are stopped in finally.
"""
import asyncio
import re
import socket
import socketserver
import ssl
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from conftest import Server, run_cli
from test_outbound import (ALICE, Sink, free_port_on, queue_rows,
                           queue_show, sender_overrides, submit, wait_dsn,
                           wait_for)

PLAIN, UTF8, BADTLS, SILENT, CHUNK, HOSTILE = (
    "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.10",
    "127.0.0.11")
BDAT_CHUNK = 256 * 1024  # SMTP_CLIENT_BDAT_CHUNK
HOLD_TIMEOUT = 30       # a peer holding a reply waits this long at most


# --- the peers -------------------------------------------------------------------

class Peer:
    """An aiosmtpd server on ADDRESS:PORT that keeps what it receives.

    starttls: None (not offered), "break" (220, then garbage instead of a
    handshake) or "refuse" (454). mail_421_after: answer 421 to the MAIL
    after that many on one connection. data_replies: one per DATA, the
    last one repeats. hold: DATA waits (bounded) until release()."""

    def __init__(self, address, port, smtputf8=False, starttls=None,
                 mail_421_after=None, data_replies=("250 2.0.0 OK",),
                 hold=False):
        self.lock = threading.Lock()
        self.messages = []      # dicts: conn, mail_from, rcpts, options, data
        self.mails = []         # (conn, MAIL options) of every MAIL
        self.rsets = []         # conn of every RSET
        self.connections = 0    # that said EHLO or HELO
        self.conn_peers = []
        self.open = 0
        self.max_open = 0
        self.mail_421_after = mail_421_after
        self.data_replies = list(data_replies)
        self.hold = hold
        self.held = threading.Event()
        self.released = threading.Event()
        tls = None
        if starttls is not None:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.controller = PeerController(
            self, starttls, hostname=address, port=port,
            enable_SMTPUTF8=smtputf8, tls_context=tls,
            server_hostname=f"peer-{address}")
        self.controller.start()

    def stop(self):
        self.released.set()
        self.controller.stop()

    def release(self):
        self.released.set()

    def _conn(self, session):
        with self.lock:
            if getattr(session, "peer_conn", None) is None:
                self.connections += 1
                session.peer_conn = self.connections
                self.conn_peers.append((session.peer, time.monotonic()))
                session.peer_mails = 0
                self.open += 1
                self.max_open = max(self.max_open, self.open)
            return session.peer_conn

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        self._conn(session)
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self._conn(session)
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            if getattr(session, "peer_conn", None) is not None:
                self.open -= 1
        return "221 Bye"

    async def handle_RSET(self, server, session, envelope):
        conn = self._conn(session)
        with self.lock:
            self.rsets.append(conn)
        return "250 OK"

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        conn = self._conn(session)
        with self.lock:
            self.mails.append((conn, list(mail_options)))
            session.peer_mails += 1
            n = session.peer_mails
        if self.mail_421_after is not None and n > self.mail_421_after:
            return "421 4.7.0 too many messages on this connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_DATA(self, server, session, envelope):
        conn = self._conn(session)
        with self.lock:
            self.messages.append({
                "conn": conn, "mail_from": envelope.mail_from,
                "rcpts": list(envelope.rcpt_tos),
                "options": list(envelope.mail_options),
                "data": envelope.original_content})
            n = len(self.messages)
        if self.hold and n == 1:
            self.held.set()
            deadline = time.monotonic() + HOLD_TIMEOUT
            while not self.released.is_set() and \
                    time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        return self.data_replies[min(n, len(self.data_replies)) - 1]


class BrokenTLS(SMTP):
    """Says yes to STARTTLS, then sends something that is not TLS."""

    async def smtp_STARTTLS(self, arg):
        await self.push("220 2.0.0 Ready to start TLS")
        self.transport.write(b"this is not a TLS handshake\r\n")
        self.transport.close()


class RefusedTLS(SMTP):
    async def smtp_STARTTLS(self, arg):
        await self.push("454 4.7.0 TLS not available right now")


class PeerController(Controller):
    def __init__(self, handler, starttls, **kw):
        self.starttls = starttls
        super().__init__(handler, **kw)

    def factory(self):
        cls = {"break": BrokenTLS, "refuse": RefusedTLS}.get(self.starttls,
                                                              SMTP)
        return cls(self.handler, **self.SMTP_kwargs)


class ChunkHandler(socketserver.StreamRequestHandler):
    """CHUNKING, no PIPELINING: reads each BDAT chunk's octets exactly
    and answers it with the server's next chunk reply."""

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        srv = self.server
        self.connection.settimeout(10)
        self.reply("220 chunk.test ESMTP")
        chunks = []
        while True:
            line = self.rfile.readline(2048)
            if not line:
                return
            cmd = line.decode("latin-1").strip()
            srv.commands.append(cmd)
            word = cmd.split(" ")[0].upper()
            if word == "EHLO":
                self.reply("250-chunk.test")
                self.reply("250-CHUNKING")
                self.reply("250 SIZE 10000000")
            elif word == "BDAT":
                args = cmd.split(" ")
                n = int(args[1])
                data = self.rfile.read(n)
                assert len(data) == n
                chunks.append(data)
                k = len(srv.chunks) + len(chunks) - 1
                r = srv.chunk_replies[min(k, len(srv.chunk_replies) - 1)]
                if len(args) > 2 and args[2].upper() == "LAST":
                    srv.chunks.extend(chunks)
                    chunks = []
                self.reply(r or f"250 2.0.0 {n} octets received")
            elif word == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class ChunkSink(Sink):
    def __init__(self, address, chunk_replies=(None,)):
        self.chunk_replies = list(chunk_replies)
        self.chunks = []
        super().__init__(address, None, ChunkHandler)


# --- the sending side -----------------------------------------------------------

def sendmail(inst, rcpt, subject, body="hi\n"):
    p = run_cli(["sendmail", "-C", inst.conf, "-f", ALICE, rcpt],
                input=f"Subject: {subject}\n\n{body}")
    assert p.returncode == 0, p.stderr


def failed_show(server):
    """`queue show` of the first entry once a recipient failed, or None."""
    rows = queue_rows(server)
    if not rows:
        return None
    show = queue_show(server, rows[0][0])
    return show if "state=failed" in show else None


@pytest.fixture
def peers():
    """start(address, **kw) -> Peer; every peer is stopped at the end."""
    started = []

    def start(address, port, **kw):
        p = Peer(address, port, **kw)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()


@pytest.fixture
def sending(instance):
    """start(port, **overrides) -> the sending Correio, stopped (and
    checked) at the end."""
    started = []

    def start(port, **overrides):
        o = sender_overrides(port)
        o.update(overrides)
        s = Server(instance, o)
        started.append(s)
        return s.start()
    yield start
    errors = []
    for s in started:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


# --- DATA, dot-stuffing, and waking up ------------------------------------------

def test_data_to_a_peer_without_chunking(peers, sending):
    """No CHUNKING, no PIPELINING: DATA, one command at a time; a line
    that starts with a dot arrives as it was written. The runner is woken
    by the submission itself: the interval is an hour."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port)
    sender = sending(port, **{"queue.interval": "1h"})
    submit(sender, ["pat@plain.test"], subject="dots",
           body="Line one.\r\n.leading dot\r\n..two dots\r\n")
    wait_for("the message at the peer", lambda: peer.messages, server=sender)
    m = peer.messages[0]
    assert m["rcpts"] == ["pat@plain.test"] and m["mail_from"] == ALICE
    assert b"\r\n.leading dot\r\n..two dots\r\n" in m["data"], m["data"]
    # the sender's Return-Path line stays at home
    assert b"Return-Path:" not in m["data"]
    assert "SMTPUTF8" not in m["options"]
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    log = sender.log()
    assert "content=data" in log and "content=bdat" not in log, log


def test_sendmail_and_flush_wake_the_runner(peers, sending):
    """Other processes write to the store: sendmail's message is noticed
    without waiting for the interval (an hour here), and so is `queue
    flush` of a deferred one (retry_min is an hour too)."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port, data_replies=("451 4.3.0 not now",
                                            "250 2.0.0 OK"))
    sender = sending(port, **{"queue.interval": "1h",
                              "queue.retry_min": "1h",
                              "queue.retry_max": "2h"})
    sendmail(sender.inst, "pat@plain.test", "by sendmail")

    def deferred():
        rows = queue_rows(sender)
        return rows and "state=deferred" in queue_show(sender, rows[0][0])
    wait_for("a deferred recipient", deferred, server=sender)
    assert len(peer.messages) == 1
    sender.cli_ok("queue", "flush")
    wait_for("delivery after flush", lambda: len(peer.messages) == 2,
             server=sender)
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    assert b"Subject: by sendmail" in peer.messages[1]["data"]


# --- connection reuse ----------------------------------------------------------

def queue_by_sendmail(inst, n, domain="plain.test"):
    """n messages queued while no server runs: the first scan finds them
    all at once."""
    for i in range(n):
        sendmail(inst, f"pat{i}@{domain}", f"message {i}")


def test_messages_to_one_domain_share_a_connection(instance, peers,
                                                   sending):
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port)
    queue_by_sendmail(instance, 3)
    sender = sending(port, **{"queue.max_per_domain": "1"})
    wait_for("three messages", lambda: len(peer.messages) == 3,
             server=sender)
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    assert {m["conn"] for m in peer.messages} == {1}, peer.messages
    assert peer.connections == 1
    # RFC 5321: RSET before each further message
    assert peer.rsets == [1, 1], peer.rsets
    subjects = sorted(m["data"].split(b"Subject: ")[1].split(b"\r\n")[0]
                      for m in peer.messages)
    assert subjects == [b"message 0", b"message 1", b"message 2"]
    assert sender.log().count(" reuse message=") == 2


def test_more_than_100_recipients_in_one_domain(instance, peers, sending):
    """RFC 5321 4.5.3.1.8 lets a server take only 100 recipients: 150 go
    as two transactions of the same message, found by one scan and sent
    over one connection."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port)
    rcpts = [f"r{i:03d}@plain.test" for i in range(150)]
    p = run_cli(["sendmail", "-C", instance.conf, "-f", ALICE] + rcpts,
                input="Subject: to many\n\nhello all\n")
    assert p.returncode == 0, p.stderr
    sender = sending(port, **{"queue.max_per_domain": "1"})
    wait_for("two transactions", lambda: len(peer.messages) == 2,
             server=sender)
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    got = sorted(r for m in peer.messages for r in m["rcpts"])
    assert got == rcpts
    assert sorted(len(m["rcpts"]) for m in peer.messages) == [50, 100]
    assert {m["conn"] for m in peer.messages} == {1}
    assert peer.messages[0]["data"] == peer.messages[1]["data"]


def test_per_connection_and_per_domain_limits(instance, peers, sending):
    """max_per_connection=2: no connection carries more than two of six
    messages (so there are at least three), and max_per_domain=2: never
    more than two connections at once."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port)
    queue_by_sendmail(instance, 6)
    sender = sending(port, **{"queue.max_per_domain": "2",
                              "queue.max_per_connection": "2"})
    wait_for("six messages", lambda: len(peer.messages) == 6, server=sender)
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    per_conn = {}
    for m in peer.messages:
        per_conn[m["conn"]] = per_conn.get(m["conn"], 0) + 1
    assert max(per_conn.values()) == 2, per_conn
    assert len(per_conn) >= 3, per_conn
    assert peer.max_open <= 2, peer.max_open


def test_421_on_a_reused_connection_gets_a_new_one(instance, peers,
                                                   sending):
    """A server that takes one message per connection and says 421 to the
    next MAIL: each message gets a fresh connection, and none is
    deferred for it."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port, mail_421_after=1)
    queue_by_sendmail(instance, 3)
    sender = sending(port, **{"queue.max_per_domain": "1"})
    wait_for("three messages", lambda: len(peer.messages) == 3,
             server=sender)
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    assert len({m["conn"] for m in peer.messages}) == 3
    log = sender.log()
    assert "reconnect reason=\"reused connection lost\"" in log, log
    assert " deferred " not in log, log


# --- CHUNKING without PIPELINING -------------------------------------------------------

BIG_BODY = "".join(f"{i:05d} " + "y" * 70 + "\r\n" for i in range(8000))


def test_bdat_one_chunk_at_a_time(sending):
    port = free_port_on(CHUNK)
    sink = ChunkSink((CHUNK, port))
    try:
        sender = sending(port)
        submit(sender, ["pat@chunk.test"], subject="in pieces",
               body=".dot\r\n" + BIG_BODY)
        wait_for("an empty queue", lambda: sink.chunks and
                 queue_rows(sender) == [], server=sender)
    finally:
        sink.stop()
    bdats = [c for c in sink.commands if c.upper().startswith("BDAT")]
    sizes = [int(c.split()[1]) for c in bdats]
    assert len(bdats) >= 3 and all(n == BDAT_CHUNK for n in sizes[:-1])
    assert [c.upper().endswith(" LAST") for c in bdats] == \
        [False] * (len(bdats) - 1) + [True]
    data = b"".join(sink.chunks)
    assert sum(sizes) == len(data)
    # no dot-stuffing in chunks; no Return-Path line
    assert data.endswith(b"\r\n\r\n.dot\r\n" + BIG_BODY.encode())
    assert b"Return-Path:" not in data
    assert "DATA" not in sink.commands


def test_bdat_failed_chunk_ends_the_message(sending):
    """RFC 3030: after a failed chunk no other is sent; the reply
    decides the recipient's fate (5xx: failed, with a DSN)."""
    port = free_port_on(CHUNK)
    sink = ChunkSink((CHUNK, port), ["552 5.3.4 that is quite enough"])
    try:
        sender = sending(port)
        submit(sender, ["pat@chunk.test"], subject="too much",
               body=BIG_BODY)
        show = wait_for("a failed recipient", lambda: failed_show(sender),
                        server=sender)
        assert "552 5.3.4 that is quite enough" in show, show
        dsn = wait_dsn(sender)
        assert b"Status: 5.3.4" in dsn
    finally:
        sink.stop()
    bdats = [c for c in sink.commands if c.upper().startswith("BDAT")]
    assert len(bdats) == 1, sink.commands
    after = sink.commands[sink.commands.index(bdats[0]) + 1:]
    assert after == ["QUIT"], sink.commands


# --- SMTPUTF8 ------------------------------------------------------------------

def test_smtputf8_to_a_peer_that_offers_it(peers, sending):
    port = free_port_on(UTF8)
    peer = peers(UTF8, port, smtputf8=True)
    sender = sending(port)
    rcpt = "jos\u00e9@utf8.test"
    submit(sender, [rcpt], subject="caf\u00e9", smtputf8=True)
    wait_for("the message at the peer", lambda: peer.messages, server=sender)
    m = peer.messages[0]
    assert "SMTPUTF8" in m["options"], m
    assert m["rcpts"] == [rcpt]
    assert "Subject: caf\u00e9".encode() in m["data"]
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)


def test_smtputf8_needed_but_not_offered_fails_with_5_6_7(peers, sending):
    """RFC 6531: a UTF-8 address cannot go to a server without SMTPUTF8;
    it fails for good, before MAIL, with a DSN."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port)
    sender = sending(port)
    submit(sender, ["jos\u00e9@plain.test"], subject="for jos\u00e9",
           smtputf8=True)
    show = wait_for("a failed recipient", lambda: failed_show(sender),
                    server=sender)
    assert "5.6.7" in show and "SMTPUTF8" in show, show
    dsn = wait_dsn(sender)
    assert b"Status: 5.6.7" in dsn, dsn
    assert peer.mails == [] and peer.messages == []


def test_smtputf8_ascii_message_still_goes_to_an_older_peer(peers, sending):
    """Submitted with SMTPUTF8 but needing none of it: delivered, without
    the parameter, as Postfix does."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port)
    sender = sending(port)
    submit(sender, ["pat@plain.test"], subject="plain ascii", smtputf8=True)
    wait_for("the message at the peer", lambda: peer.messages, server=sender)
    assert "SMTPUTF8" not in peer.messages[0]["options"]


# --- TLS ------------------------------------------------------------------------

def test_tls_handshake_failure_falls_back_to_cleartext(peers, sending):
    port = free_port_on(BADTLS)
    peer = peers(BADTLS, port, starttls="break")
    sender = sending(port)
    submit(sender, ["pat@badtls.test"], subject="in the clear")
    wait_for("the message at the peer", lambda: peer.messages, server=sender)
    wait_for("an empty queue", lambda: queue_rows(sender) == [], server=sender)
    log = sender.log()
    assert "mx=mx.badtls.test ip=127.0.0.7 tls=failed" in log, log
    assert "fallback=cleartext" in log
    assert "tls=skipped" in log
    assert "tls=\"none\" result=sent" in log
    # the same address twice: the broken try and the cleartext one
    assert peer.connections == 2, peer.conn_peers
    assert " deferred " not in log


def test_starttls_refused_goes_on_in_the_clear(peers, sending):
    port = free_port_on(BADTLS)
    peer = peers(BADTLS, port, starttls="refuse")
    sender = sending(port)
    submit(sender, ["pat@badtls.test"], subject="refused")
    wait_for("the message at the peer", lambda: peer.messages, server=sender)
    log = sender.log()
    assert "starttls=refused" in log, log
    assert peer.connections == 1


# --- a peer that never answers ------------------------------------------------------

def test_silent_peer_times_out_and_is_retried(sending):
    """Connections are accepted (the kernel's backlog) but nobody ever
    greets: the reply timeout defers the recipient, and it is tried
    again."""
    port = free_port_on(SILENT)
    lsock = socket.socket()
    try:
        lsock.bind((SILENT, port))
        lsock.listen(16)
        sender = sending(port, **{"queue.timeout": "2s"})
        submit(sender, ["pat@silent.test"], subject="anyone there")

        def tried_twice():
            rows = queue_rows(sender)
            if not rows:
                return False
            m = re.search(r"state=deferred attempts=(\d+)",
                          queue_show(sender, rows[0][0]))
            return m is not None and int(m.group(1)) >= 2
        wait_for("two attempts", tried_twice, server=sender)
        log = sender.log()
        assert "timeout in state greeting" in log, log
    finally:
        lsock.close()


class HostileHandler(socketserver.StreamRequestHandler):
    """Connection 1: an EHLO reply of 150 lines (the client reads 100 of
    one reply); 2: a 4000-byte reply line (it reads 2048); then a 5xx
    greeting."""

    def handle(self):
        srv = self.server
        with srv.lock:
            n = srv.connections
            srv.connections += 1
        self.connection.settimeout(10)
        if n >= 2:
            self.wfile.write(b"554 5.3.2 go away\r\n")
            return
        self.wfile.write(b"220 hostile.test ESMTP\r\n")
        self.rfile.readline(2048)
        if n == 0:
            self.wfile.write(b"250-hostile.test\r\n" +
                             b"250-PIPELINING\r\n" * 149 + b"250 OK\r\n")
        else:
            self.wfile.write(b"250 " + b"x" * 4000 + b"\r\n")
        self.rfile.readline(2048)     # until the client goes


def test_replies_beyond_the_limits_are_refused(sending):
    port = free_port_on(HOSTILE)
    sink = Sink((HOSTILE, port), None, HostileHandler)
    try:
        sender = sending(port)
        submit(sender, ["pat@hostile.test"], subject="hostile")
        wait_for("three connections", lambda: sink.connections >= 3,
                 server=sender)

        def deferred():
            rows = queue_rows(sender)
            show = rows and queue_show(sender, rows[0][0])
            return show and "greeting: 554 5.3.2 go away" in show
        wait_for("the third error recorded", deferred, server=sender)
    finally:
        sink.stop()
    log = sender.log()
    assert "mx=mx.hostile.test ip=127.0.0.11 error=\"malformed reply\"" \
        in log, log
    assert "error=\"reply line too long\"" in log
    # a 5xx greeting is no reason to fail the mail: the next address, and
    # then later (RFC 5321 3.1)
    assert "result=failed" not in log


# --- MX back at ourselves --------------------------------------------------------

@pytest.mark.parametrize("domain", ["loopaddr.test", "loopname.test"])
def test_mx_pointing_at_us_fails_as_a_loop(sending, domain):
    sender = sending(free_port_on("127.0.0.1"))
    submit(sender, [f"pat@{domain}"], subject="round and round")
    show = wait_for("a failed recipient", lambda: failed_show(sender),
                    server=sender)
    assert "loops back to myself" in show, show
    dsn = wait_dsn(sender)
    assert b"Status: 5.4.6" in dsn
    assert b"loops back to myself" in dsn


def test_as_backup_mx_only_better_exchanges_are_tried(peers, sending):
    """selfbackup.test: 10 dead, 20 us, 30 the plain peer. We may only
    hand the mail to the 10: it is deferred, and never reaches the 30."""
    port = free_port_on(PLAIN, "127.0.0.9")
    peer = peers(PLAIN, port)
    sender = sending(port)
    submit(sender, ["pat@selfbackup.test"], subject="backup")

    def deferred():
        rows = queue_rows(sender)
        return rows and "state=deferred" in queue_show(sender, rows[0][0])
    wait_for("a deferred recipient", deferred, server=sender)
    log = sender.log()
    assert "domain=selfbackup.test self-mx dropped=2 kept=1" in log, log
    assert "mx=mx-dead.backup.test ip=127.0.0.9" in log
    assert "mx=mx.plain.test ip=" not in log
    assert peer.mails == []


# --- stopping between the dot and its reply -----------------------------------------

def test_stop_after_the_dot_sends_again_and_loses_nothing(instance, peers):
    """RFC 5321 6.1: a duplicate rather than a loss. The peer has the
    message but has not answered the dot when the server stops; the
    recipient stays queued and is sent again after the restart."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port, hold=True)
    sender = Server(instance, sender_overrides(port))
    try:
        sender.start()
        submit(sender, ["pat@plain.test"], subject="twice")
        assert peer.held.wait(HOLD_TIMEOUT), sender.log()[-4000:]
    finally:
        sender.stop()
    assert "delivery aborted domain=plain.test" in sender.log()
    peer.release()
    again = Server(instance, sender_overrides(port))
    try:
        again.start()
        wait_for("the message again", lambda: len(peer.messages) == 2,
                 server=again)
        wait_for("an empty queue", lambda: queue_rows(again) == [],
                 server=again)
    finally:
        again.stop()
    assert peer.messages[0]["data"] == peer.messages[1]["data"]
