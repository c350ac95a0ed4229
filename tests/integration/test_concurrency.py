"""Many sessions at once: every message answered 250 is stored exactly
once, with UIDs that are dense and unique per mailbox."""
import re
import resource
import threading

import pytest

from conftest import DOMAIN, SMTPClient, make_message, split_stored

USERS = [f"{u}@{DOMAIN}" for u in ("alice", "bob", "carol")]
SENDER = "sender@remote.example.org"


def run_threads(n, target, timeout=120):
    errors = []
    results = [None] * n

    def wrap(i):
        try:
            results[i] = target(i)
        except BaseException as e:     # reported below, with its index
            errors.append(f"session {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    alive = sum(t.is_alive() for t in threads)
    assert alive == 0, f"{alive} sessions still running after {timeout}s"
    assert not errors, "\n".join(errors[:10])
    return results


def check_mailboxes(server, expected):
    """EXPECTED: {user: set of subjects}."""
    for user, subjects in expected.items():
        rows = server.messages(user)
        got = [r[4] for r in rows]
        assert len(got) == len(set(got)), f"{user}: duplicates"
        assert set(got) == subjects, f"{user}: missing {subjects - set(got)}, " \
                                     f"extra {set(got) - subjects}"
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), \
            f"{user}: UIDs not dense: {[r[0] for r in rows]}"


def test_200_concurrent_sessions(server):
    n = 200
    barrier = threading.Barrier(n, timeout=60)

    def session(i):
        with SMTPClient(server.port, timeout=60) as c:
            assert c.greeting.code == 220, c.greeting.raw
            barrier.wait()          # every session is open at this point
            r = c.send_mail(SENDER, [USERS[i % 3]], make_message(f"c-{i}"))
            assert r.code == 250 and "delivered" in r.first, r.raw
            c.expect("QUIT", 221)
            return r.first.split()[-1]

    ids = run_threads(n, session)
    assert len(set(ids)) == n, "queue ids are not unique"
    expected = {u: {f"c-{i}" for i in range(n) if i % 3 == k} for k, u in enumerate(USERS)}
    check_mailboxes(server, expected)
    peak = max(int(m) for m in re.findall(r"smtp connect .*sessions=(\d+)", server.log()))
    assert peak >= n, f"at most {peak} sessions were open at once"
    assert server.log().count("result=250") == n


def test_concurrent_multi_recipient_data_and_bdat(server):
    sessions, per_session = 20, 6

    def session(i):
        with SMTPClient(server.port, timeout=60) as c:
            c.ehlo()
            for j in range(per_session):
                msg = make_message(f"m-{i}-{j}")
                c.expect(f"MAIL FROM:<{SENDER}>", 250)
                for u in USERS:
                    c.expect(f"RCPT TO:<{u}>", 250)
                if j % 2:
                    c.send(f"BDAT {len(msg)} LAST\r\n".encode() + msg)
                    r = c.reply()
                else:
                    c.expect("DATA", 354)
                    c.send(msg + b".\r\n")
                    r = c.reply()
                assert r.code == 250, r.raw
            c.expect("QUIT", 221)

    run_threads(sessions, session)
    subjects = {f"m-{i}-{j}" for i in range(sessions) for j in range(per_session)}
    check_mailboxes(server, {u: subjects for u in USERS})
    # Every copy is the message that was sent.
    rows = server.messages(USERS[1])
    uid, _, _, _, subject = rows[len(rows) // 2]
    stored = split_stored(server.get(USERS[1], uid))[2]
    assert f"Subject: {subject}\r\n".encode() in stored


def test_thousand_idle_sessions_and_the_limit(start_server):
    """The default session limit (1000) is reachable: 1000 open sessions
    all answer, and the next one gets 421 4.7.0."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2200:
        pytest.skip(f"RLIMIT_NOFILE {soft} is too low for 1000 sessions")
    server = start_server()
    n = 1000
    clients = []
    try:
        for _ in range(n):
            clients.append(SMTPClient(server.port, timeout=30, greeting=False))
        for c in clients:
            r = c.reply()
            assert r.code == 220, r.raw
        with SMTPClient(server.port, timeout=30, greeting=False) as extra:
            r = extra.reply()
            assert r.code == 421 and r.first.startswith("421 4.7.0"), r.raw
            assert extra.closed()
        for c in clients:
            c.send(b"NOOP\r\n")
        for c in clients:
            c.expect_reply(250)
        r = clients[-1].send_mail(SENDER, [USERS[0]], make_message("at the limit"))
        assert r.code == 250
    finally:
        for c in clients:
            c.close()
    assert server.count(USERS[0]) == 1
