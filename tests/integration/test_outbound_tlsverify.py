"""Outbound TLS with a verified certificate for the domains of [queue]
tls_verify_domains: the exchange must offer STARTTLS, its certificate
must verify against [queue] tls_ca_file (or the system's store) and name
the exchange; otherwise the recipients are deferred and nothing goes out
in cleartext. Other domains keep opportunistic TLS (test_outbound.py).

The remote Correio (test_outbound.py) has a self-signed certificate for
mx.remote.test, its MX; plain.test is an aiosmtpd peer without STARTTLS.
Every wait is bounded.
"""
import os
import shutil
import subprocess

import pytest

from conftest import CLI_TIMEOUT, Instance, Server, run_cli
from test_outbound import (REMOTE_USER, free_port_on, queue_rows,
                           queue_show, remote_template, sender_overrides,
                           submit, wait_for)
from test_outbound_peers import PLAIN, Peer

assert remote_template  # a fixture, used by name below


def deferred_show(server):
    """`queue show` of the first entry once it is deferred, or None."""
    rows = queue_rows(server)
    if not rows:
        return None
    show = queue_show(server, rows[0][0])
    return show if "state=deferred" in show else None


@pytest.fixture
def verifying(remote_template, instance, tmp_path):
    """start(**overrides) -> (sender, remote): the remote Correio on
    127.0.0.2 and a sender that requires verified TLS for remote.test."""
    started = []

    def start(**overrides):
        dest = str(tmp_path / "remote")
        subprocess.run(["cp", "-a", remote_template.dir, dest], check=True,
                       timeout=CLI_TIMEOUT)
        remote_inst = Instance(dest)
        port = free_port_on("127.0.0.2")
        remote = Server(remote_inst, {"smtp.listen": f"127.0.0.2:{port}",
                                      "queue.deliver": "0"})
        o = sender_overrides(port)
        o["queue.tls_verify_domains"] = "Example.org, REMOTE.test."
        o.update({k.replace("__", "."): v for k, v in overrides.items()})
        sender = Server(instance, o)
        remote.start()
        started.append(remote)
        sender.start()
        started.append(sender)
        return sender, remote
    yield start
    errors = []
    for s in started:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def test_verified_with_the_remote_cert_as_ca(verifying, instance,
                                            remote_template):
    # Root only, like the server's key: read before privileges drop.
    ca = os.path.join(instance.dir, "remote-ca.pem")
    shutil.copy(remote_template.cert, ca)
    os.chmod(ca, 0o600)
    sender, remote = verifying(queue__tls_ca_file=ca)
    submit(sender, [REMOTE_USER], subject="verified")
    wait_for("the remote INBOX", lambda: remote.inst.count(REMOTE_USER) == 1,
             server=sender)
    wait_for("an empty queue", lambda: queue_rows(sender) == [],
             server=sender)
    log = sender.log()
    assert "mx=mx.remote.test ip=127.0.0.2 tls version=TLSv1." in log, log
    assert "verified=yes" in log, log
    assert "verified=no" not in log, log


def test_unknown_ca_is_deferred_never_cleartext(verifying):
    """The system's store does not know the self-signed certificate."""
    sender, remote = verifying()
    submit(sender, [REMOTE_USER], subject="must not leak")
    show = wait_for("a deferred recipient", lambda: deferred_show(sender),
                    server=sender)
    assert "certificate" in show, show
    log = sender.log()
    assert "verification failed" in log, log
    assert "fallback=cleartext" not in log, log
    assert "verified=yes" not in log, log
    assert remote.inst.count(REMOTE_USER) == 0
    assert "must not leak" not in remote.log()


def test_no_starttls_is_deferred_never_cleartext(instance):
    port = free_port_on(PLAIN)
    peer = Peer(PLAIN, port)
    o = sender_overrides(port)
    o["queue.tls_verify_domains"] = "plain.test"
    sender = Server(instance, o)
    try:
        sender.start()
        submit(sender, ["pat@plain.test"], subject="no tls here")
        show = wait_for("a deferred recipient",
                        lambda: deferred_show(sender), server=sender)
        assert ("TLS required for plain.test but STARTTLS not offered"
                in show), show
        assert not peer.messages
        assert peer.connections >= 1 and not peer.mails, peer.mails
    finally:
        try:
            sender.stop()
        finally:
            peer.stop()


@pytest.mark.parametrize("key,value,error", [
    ("queue.tls_verify_domains", "remote.test, bad_domain",
     "'bad_domain' is not a valid domain name"),
    ("queue.tls_verify_domains", "-x.test", "'-x.test' is not a valid"),
    ("queue.tls_ca_file", "/nonexistent/ca.pem",
     "queue.tls_ca_file '/nonexistent/ca.pem'"),
])
def test_bad_values_are_refused_at_start(instance, key, value, error):
    p = run_cli(["serve", "-c", instance.conf, "-o", f"{key}={value}"])
    assert p.returncode != 0
    assert error in p.stderr, p.stderr
