"""The outbound connection cache: a connection with nothing waiting for
its domain stays open for [queue] connection_idle, and the next message
to that domain, submitted one at a time, goes over it (RSET first).

- one submission after the other, each waiting for the previous one to
  arrive: one connection with the idle time, one each without it;
- the remote server stopped while the connection is idle: the next
  message still arrives, once it is back;
- a server that closes a reused connection (421 to its next MAIL): the
  message handed to the idle connection gets a fresh one, and is neither
  lost nor deferred;
- a shutdown with an idle connection open is clean (the fixtures check
  the sanitizers and the exit code at teardown).

Every wait is bounded.
"""
import subprocess

import pytest

from conftest import CLI_TIMEOUT, Instance, Server
from test_outbound import (REMOTE_USER, free_port_on, queue_rows,
                           remote_template, sender_overrides, submit,
                           wait_for)
# remote_template and peers are fixtures of those modules.
from test_outbound_peers import PLAIN, peers, sendmail  # noqa: F401


def connections(sender):
    """TCP connections the sender's client opened (its "connected" lines)."""
    return sum(1 for l in sender.log().splitlines()
               if " smtp-client mx=" in l and " connected" in l)


@pytest.fixture
def idle_pair(remote_template, instance, tmp_path):
    """start(**overrides) -> (sender, remote, port): the remote Correio on
    127.0.0.2 and the sending one; both stopped (and checked) at the end."""
    started = []
    dest = str(tmp_path / "remote")
    subprocess.run(["cp", "-a", remote_template.dir, dest], check=True,
                   timeout=CLI_TIMEOUT)
    remote_inst = Instance(dest)

    def start(**overrides):
        port = free_port_on("127.0.0.2")
        remote = Server(remote_inst, {"smtp.listen": f"127.0.0.2:{port}",
                                      "queue.deliver": "0"})
        remote.start()
        started.append(remote)
        o = sender_overrides(port)
        o.update(overrides)
        sender = Server(instance, o)
        sender.start()
        started.append(sender)
        return sender, remote, port
    yield start
    errors = []
    for s in reversed(started):
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def submit_one_at_a_time(sender, remote, n, first=0):
    for i in range(first, first + n):
        submit(sender, [REMOTE_USER], subject=f"trickle {i}")
        wait_for(f"message {i} in the remote INBOX",
                 lambda i=i: remote.inst.count(REMOTE_USER) == i + 1,
                 server=sender)


def test_trickled_messages_share_one_idle_connection(idle_pair):
    sender, remote, _ = idle_pair(**{"queue.connection_idle": "30s"})
    submit_one_at_a_time(sender, remote, 4)
    wait_for("an empty queue", lambda: queue_rows(sender) == [],
             server=sender)
    log = sender.log()
    assert connections(sender) == 1, log
    assert log.count(" reuse message=") == 3, log
    assert " idle seconds=30" in log, log
    # the shutdown at teardown closes the idle connection, cleanly


def test_connection_idle_0_closes_each_connection(idle_pair):
    sender, remote, _ = idle_pair(**{"queue.connection_idle": "0"})
    submit_one_at_a_time(sender, remote, 3)
    log = sender.log()
    assert connections(sender) == 3, log
    assert " idle seconds=" not in log, log
    assert " reuse message=" not in log, log


def test_idle_time_runs_out_with_quit(idle_pair):
    sender, remote, _ = idle_pair(**{"queue.connection_idle": "1s"})
    submit_one_at_a_time(sender, remote, 1)
    wait_for("the idle connection closed",
             lambda: "state idle -> quit" in sender.log(), server=sender)
    submit_one_at_a_time(sender, remote, 1, first=1)
    assert connections(sender) == 2, sender.log()


def test_remote_stopped_while_idle_loses_nothing(idle_pair):
    sender, remote, port = idle_pair(**{"queue.connection_idle": "60s"})
    submit_one_at_a_time(sender, remote, 1)
    remote.stop()
    wait_for("the idle connection seen closed",
             lambda: " idle closed" in sender.log(), server=sender)
    submit(sender, [REMOTE_USER], subject="while it was away")
    wait_for("a deferral", lambda: " deferred " in sender.log(),
             server=sender)
    back = Server(remote.inst, {"smtp.listen": f"127.0.0.2:{port}",
                                "queue.deliver": "0"})
    back.start()
    try:
        wait_for("the second message", lambda: back.inst.count(
            REMOTE_USER) == 2, server=sender)
        wait_for("an empty queue", lambda: queue_rows(sender) == [],
                 server=sender)
    finally:
        back.stop()
    assert back.inst.count(REMOTE_USER) == 2


def test_idle_connection_closed_by_server_gets_a_fresh_one(instance, peers):
    """The peer says 421 to a second MAIL on a connection: each message
    handed to the idle connection gets a new one, none is deferred."""
    port = free_port_on(PLAIN)
    peer = peers(PLAIN, port, mail_421_after=1)
    o = sender_overrides(port)
    o["queue.connection_idle"] = "30s"
    sender = Server(instance, o).start()
    try:
        for i in range(3):
            sendmail(instance, f"pat{i}@plain.test", f"message {i}")
            wait_for(f"message {i}", lambda i=i: len(peer.messages) == i + 1,
                     server=sender)
        wait_for("an empty queue", lambda: queue_rows(sender) == [],
                 server=sender)
        log = sender.log()
        assert len({m["conn"] for m in peer.messages}) == 3, peer.messages
        assert log.count("reconnect reason=\"reused connection lost\"") \
            == 2, log
        assert " deferred " not in log, log
    finally:
        sender.stop()
