"""Sessions see each other's changes, and mail arriving over SMTP: IDLE
over a raw socket (EXISTS, FETCH FLAGS, EXPUNGE, VANISHED), the same at
the end of ordinary commands, no EXPUNGE during FETCH/STORE/SEARCH,
CONDSTORE (MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE with MODIFIED) and
QRESYNC (SELECT resync with VANISHED (EARLIER))."""
import random
import re
import time

import pytest

from conftest import (DOMAIN, fetch_items, imap_connect, imap_login, make_message,
                      smtp_deliver)

ALICE = f"alice@{DOMAIN}"
pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback"})

# The issue asks for "within one second"; allow some slack for ASan.
NOTIFY_TIMEOUT = 3


def idle(c, tag="i1"):
    c.send(f"{tag} IDLE\r\n")
    line = c.readline()
    assert line.startswith(b"+"), line
    return tag


def done(c, tag="i1"):
    c.send("DONE\r\n")
    r = c.read_response(tag)
    assert r.status == "OK", r
    return r


def selected(server, n_msgs=0, enable=None, user="alice"):
    c = imap_login(server, user)
    if enable:
        c.ok(f"ENABLE {enable}")
    r = c.ok("SELECT INBOX")
    assert r.find(f"{n_msgs} EXISTS"), r
    return c, r


def select_value(r, key):
    m = re.search(rb"\[" + key.encode() + rb" (\d+)\]", r.raw)
    assert m, (key, r)
    return int(m.group(1))


def deliver(server, n, prefix="m"):
    for i in range(n):
        smtp_deliver(server, ALICE, make_message(f"{prefix} {i}"))


# --- IDLE --------------------------------------------------------------------

def test_idle_sees_smtp_delivery(server):
    deliver(server, 1)
    c, _ = selected(server, 1)
    with c:
        idle(c)
        t0 = time.monotonic()
        smtp_deliver(server, ALICE, make_message("arrives during idle"))
        m, _ = c.wait_untagged(rb"^\* (\d+) EXISTS$", NOTIFY_TIMEOUT)
        assert m.group(1) == b"2"
        assert time.monotonic() - t0 < NOTIFY_TIMEOUT
        done(c)
        r = c.ok("FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject)])")
        assert b"Subject: arrives during idle" in r.one("2 FETCH")


def test_idle_sees_several_deliveries_and_other_recipients_do_not(server):
    a, _ = selected(server, 0)
    b, _ = selected(server, 0, user="bob")
    with a, b:
        idle(a)
        idle(b)
        for i in range(3):
            smtp_deliver(server, ALICE, make_message(f"burst {i}"))
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        last = 0
        while last < 3:
            m, _ = a.wait_untagged(rb"^\* (\d+) EXISTS$", max(0.1, deadline - time.monotonic()))
            last = int(m.group(1))
        assert last == 3
        assert b.silent(0.5), f"bob was told of alice's mail: {b.buf!r}"
        done(a)
        done(b)


def test_idle_sees_flag_changes_of_another_session(server):
    deliver(server, 2)
    a, _ = selected(server, 2)
    b, _ = selected(server, 2)
    with a, b:
        idle(a)
        b.ok("STORE 2 +FLAGS (\\Flagged $Important)")
        m, _ = a.wait_untagged(rb"^\* 2 FETCH ", NOTIFY_TIMEOUT)
        line = m.string
        d = fetch_items(line[2:])[1]
        assert sorted(d[b"FLAGS"]) == [b"$Important", b"\\Flagged"], line
        done(a)


def test_idle_sees_expunge_of_another_session(server):
    deliver(server, 3)
    a, _ = selected(server, 3)
    b, _ = selected(server, 3)
    with a, b:
        idle(a)
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        a.wait_untagged(rb"^\* 2 EXPUNGE$", NOTIFY_TIMEOUT)
        done(a)
        r = a.ok("FETCH 1:* (UID)")
        assert [fetch_items(u)[1][b"UID"] for u in r.untagged] == [b"1", b"3"]


def test_idle_with_qresync_sees_vanished(server):
    deliver(server, 3)
    a, _ = selected(server, 3, enable="QRESYNC")
    b, _ = selected(server, 3)
    with a, b:
        idle(a)
        b.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        m, seen = a.wait_untagged(rb"^\* VANISHED ([\d:,]+)$", NOTIFY_TIMEOUT)
        uids = m.group(1)
        if uids != b"1,3":
            m2, more = a.wait_untagged(rb"^\* VANISHED ([\d:,]+)$", NOTIFY_TIMEOUT)
            uids = b",".join(sorted([uids, m2.group(1)]))
            seen += more
        assert uids == b"1,3", seen
        assert not [s for s in seen if s.endswith(b"EXPUNGE")], seen
        done(a)


def test_idle_done_and_bad_continuation(server):
    c, _ = selected(server, 0)
    with c:
        idle(c, "i1")
        c.send("done\r\n")              # case-insensitive
        assert c.read_response("i1").status == "OK"
        idle(c, "i2")
        c.send("NOT-DONE\r\n")
        r = c.read_response("i2")
        assert r.status == "BAD", r
        c.ok("NOOP")
    # IDLE before login is refused.
    with imap_connect(server) as c2:
        c2.expect("IDLE", "BAD")


def test_idle_in_authenticated_state_then_select(server):
    with imap_login(server) as c:
        idle(c)
        done(c)
        c.ok("SELECT INBOX")


def test_disconnect_during_idle(server):
    deliver(server, 1)
    c, _ = selected(server, 1)
    idle(c)
    c.close()
    # The server goes on: a delivery notifies nobody, and new sessions work.
    smtp_deliver(server, ALICE, make_message("after the idle client left"))
    with imap_login(server) as c2:
        r = c2.ok("SELECT INBOX")
        assert r.find("2 EXISTS"), r


# --- changes at the end of commands ------------------------------------------

def test_noop_reports_changes_of_another_session(server):
    deliver(server, 3)
    a, _ = selected(server, 3)
    b, _ = selected(server, 3)
    with a, b:
        b.ok("STORE 1 +FLAGS (\\Seen)")
        b.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        r = b.append_literal("INBOX", make_message("appended by b"))
        assert r.status == "OK", r
        r = a.ok("NOOP")
        flags = [fetch_items(u) for u in r.untagged if b" FETCH " in u]
        assert any(s == 1 and d[b"FLAGS"] == [b"\\Seen"] for s, d in flags), r
        assert r.find("3 EXPUNGE"), r
        assert r.find("3 EXISTS"), r
        r = a.ok("FETCH 1:* (UID FLAGS)")
        got = [(d[b"UID"], d[b"FLAGS"]) for _, d in map(fetch_items, r.untagged)]
        assert got == [(b"1", [b"\\Seen"]), (b"2", []), (b"4", [])], r


def test_no_expunge_during_fetch_store_search(server):
    """RFC 9051 7.5.1: no EXPUNGE in answer to FETCH, STORE or SEARCH (the
    client's sequence numbers would shift under it); it comes with NOOP."""
    deliver(server, 4)
    a, _ = selected(server, 4)
    b, _ = selected(server, 4)
    with a, b:
        b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        # (UID FETCH/STORE/SEARCH may carry EXPUNGE: UIDs do not shift.)
        for cmd in ("FETCH 1:* (UID)", "STORE 4 +FLAGS (\\Flagged)", "SEARCH ALL"):
            r = a.ok(cmd)
            assert not [u for u in r.untagged if u.endswith(b"EXPUNGE")], (cmd, r)
        # Sequence numbers did not move: 4 is still UID 4.
        r = a.ok("FETCH 4 (UID FLAGS)")
        d = fetch_items(r.one("4 FETCH"))[1]
        assert d[b"UID"] == b"4" and d[b"FLAGS"] == [b"\\Flagged"], r
        r = a.ok("NOOP")
        assert r.find("2 EXPUNGE"), r
        r = a.ok("FETCH 3 (UID)")
        assert fetch_items(r.one("3 FETCH"))[1][b"UID"] == b"4"


def test_new_mail_reported_after_fetch(server):
    deliver(server, 1)
    a, _ = selected(server, 1)
    with a:
        smtp_deliver(server, ALICE, make_message("while selected"))
        r = a.ok("FETCH 1 (UID)")
        # EXISTS may come with any command.
        assert r.find("2 EXISTS"), r
        r = a.ok("FETCH 2 (UID)")
        assert fetch_items(r.one("2 FETCH"))[1][b"UID"] == b"2"


def test_many_sessions_all_notified(server):
    sessions = [selected(server, 0)[0] for _ in range(8)]
    try:
        for s in sessions:
            idle(s)
        smtp_deliver(server, ALICE, make_message("to everyone"))
        for s in sessions:
            s.wait_untagged(rb"^\* 1 EXISTS$", NOTIFY_TIMEOUT)
            done(s)
    finally:
        for s in sessions:
            s.close()


def test_mailbox_deleted_under_a_session(server):
    with imap_login(server) as a, imap_login(server) as b:
        a.ok("CREATE Doomed")
        a.ok("SELECT Doomed")
        b.ok("DELETE Doomed")
        # The selected mailbox is gone: the session is told and closed.
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        a.send("n1 NOOP\r\n")
        assert a.closed(NOTIFY_TIMEOUT), a.buf
        assert b"* BYE" in a.buf, a.buf
        assert time.monotonic() <= deadline + 1
        b.ok("NOOP")


# --- CONDSTORE ---------------------------------------------------------------

def modseq_of(d):
    return int(d[b"MODSEQ"][0])


def test_condstore_modseq_and_changedsince(server):
    deliver(server, 3)
    c, r = selected(server, 3, enable="CONDSTORE")
    with c:
        hms = select_value(r, "HIGHESTMODSEQ")
        r = c.ok("FETCH 1:* (MODSEQ)")
        mods = {s: modseq_of(d) for s, d in map(fetch_items, r.untagged)}
        assert max(mods.values()) == hms
        r = c.ok("STORE 2 +FLAGS (\\Seen)")
        d = fetch_items(r.one("2 FETCH"))[1]
        assert modseq_of(d) > hms
        after = modseq_of(d)
        # Only message 2 changed since hms.
        r = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})")
        got = [fetch_items(u) for u in r.untagged]
        assert [s for s, _ in got] == [2], r
        assert modseq_of(got[0][1]) == after
        r = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {after})")
        assert not r.untagged, r
        # SEARCH MODSEQ.
        r = c.ok(f"SEARCH MODSEQ {hms + 1}")
        assert re.match(rb"SEARCH 2 \(MODSEQ %d\)$" % after, r.one("SEARCH")), r
        # STATUS and a new SELECT see the new HIGHESTMODSEQ.
        st = c.ok("STATUS INBOX (HIGHESTMODSEQ)").one("STATUS")
        assert f"HIGHESTMODSEQ {after}".encode() in st
        assert select_value(c.ok("SELECT INBOX"), "HIGHESTMODSEQ") == after


def test_select_condstore_parameter_enables_it(server):
    deliver(server, 1)
    with imap_login(server) as c:
        r = c.ok("SELECT INBOX (CONDSTORE)")
        assert select_value(r, "HIGHESTMODSEQ") > 0
        r = c.ok("STORE 1 +FLAGS (\\Flagged)")
        assert b"MODSEQ (" in r.one("1 FETCH"), r


def test_condstore_unchangedsince(server):
    deliver(server, 3)
    a, r = selected(server, 3, enable="CONDSTORE")
    b, _ = selected(server, 3, enable="CONDSTORE")
    with a, b:
        r = a.ok("FETCH 1:3 (MODSEQ)")
        mods = {s: modseq_of(d) for s, d in map(fetch_items, r.untagged)}
        # Unchanged since: the store is done.
        r = a.ok(f"STORE 1 (UNCHANGEDSINCE {mods[1]}) +FLAGS (\\Answered)")
        assert not r.text.startswith("[MODIFIED"), r
        assert fetch_items(r.one("1 FETCH"))[1][b"FLAGS"] == [b"\\Answered"]
        # Another session changes message 2 first: a's conditional store
        # of 2 and 3 is done for 3 only, and 2 is reported MODIFIED.
        b.ok("STORE 2 +FLAGS (\\Flagged)")
        r = a.cmd(f"STORE 2:3 (UNCHANGEDSINCE {max(mods[2], mods[3])}) +FLAGS (\\Seen)")
        assert r.status == "OK" and r.text.startswith("[MODIFIED 2]"), r
        r = a.ok("FETCH 2:3 (FLAGS)")
        flags = {s: sorted(d[b"FLAGS"]) for s, d in map(fetch_items, r.untagged)}
        assert flags[2] == [b"\\Flagged"] and flags[3] == [b"\\Seen"], r
        c_bad = a.cmd("STORE 3 (UNCHANGEDSINCE x) +FLAGS (\\Seen)")
        assert c_bad.status == "BAD", c_bad


def test_condstore_unchangedsince_zero_always_fails(server):
    deliver(server, 1)
    c, _ = selected(server, 1, enable="CONDSTORE")
    with c:
        r = c.cmd("STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
        flags = fetch_items(c.ok("FETCH 1 (FLAGS)").one("1 FETCH"))[1][b"FLAGS"]
        assert r.status == "OK" and r.text.startswith("[MODIFIED 1]"), r
        assert flags == [], "the conditional STORE was done"


# --- QRESYNC -----------------------------------------------------------------

def test_qresync_select_resync(server):
    deliver(server, 5)
    a, r = selected(server, 5, enable="QRESYNC")
    validity, hms = select_value(r, "UIDVALIDITY"), select_value(r, "HIGHESTMODSEQ")
    a.ok("LOGOUT")
    a.close()
    # While the client is away: a flag change, two expunges, one new message.
    b, _ = selected(server, 5)
    with b:
        b.ok("STORE 1 +FLAGS (\\Flagged)")
        b.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
    smtp_deliver(server, ALICE, make_message("new while away"))
    with imap_login(server) as c:
        c.ok("ENABLE QRESYNC")
        r = c.ok(f"SELECT INBOX (QRESYNC ({validity} {hms} 1:5))")
        assert r.find("4 EXISTS"), r
        assert r.one("VANISHED (EARLIER)") == b"VANISHED (EARLIER) 2,4", r
        changed = {int(d[b"UID"]): d for _, d in
                   (fetch_items(u) for u in r.untagged if b" FETCH " in u)}
        assert set(changed) == {1, 6}, r
        assert changed[1][b"FLAGS"] == [b"\\Flagged"] and b"MODSEQ" in changed[1]
        new_hms = select_value(r, "HIGHESTMODSEQ")
        assert new_hms > hms
        # Nothing changed since the new HIGHESTMODSEQ.
        r = c.ok(f"SELECT INBOX (QRESYNC ({validity} {new_hms}))")
        assert not r.find("VANISHED") and not [u for u in r.untagged if b" FETCH " in u], r
        # A UIDVALIDITY that does not match: no resync data at all.
        r = c.ok(f"SELECT INBOX (QRESYNC ({validity + 1} {hms}))")
        assert not r.find("VANISHED") and not [u for u in r.untagged if b" FETCH " in u], r


def test_qresync_uid_fetch_vanished(server):
    deliver(server, 4)
    c, r = selected(server, 4, enable="QRESYNC")
    with c:
        hms = select_value(r, "HIGHESTMODSEQ")
        with imap_login(server) as b:
            b.ok("SELECT INBOX")
            b.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
            b.ok("EXPUNGE")
            b.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        r = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
        assert r.one("VANISHED (EARLIER)") == b"VANISHED (EARLIER) 3", r
        fetched = [fetch_items(u)[1] for u in r.untagged if b" FETCH " in u]
        assert [(d[b"UID"], d[b"FLAGS"]) for d in fetched] == [(b"1", [b"\\Seen"])], r
        # VANISHED needs UID FETCH with CHANGEDSINCE.
        c.expect("UID FETCH 1:* (FLAGS) (VANISHED)", "BAD")
        c.expect(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)", "BAD")


def test_qresync_select_needs_enable(server):
    with imap_login(server) as c:
        c.expect("SELECT INBOX (QRESYNC (1 1))", "BAD")
        c.expect("SELECT INBOX (BOGUS)", "BAD")
        c.ok("SELECT INBOX")


def test_idle_view_stays_consistent_under_many_changes(server):
    """A session in IDLE applies every EXISTS and EXPUNGE it is sent to its
    own list of UIDs; after many deliveries, appends and expunges by others
    its list must be exactly the mailbox."""
    rng = random.Random(7)
    deliver(server, 5)
    a, _ = selected(server, 5)
    b, _ = selected(server, 5)
    model = [1, 2, 3, 4, 5]           # a's view: UIDs, None = not yet known
    with a, b:
        idle(a)
        for step in range(30):
            op = rng.randrange(3)
            if op == 0:
                smtp_deliver(server, ALICE, make_message(f"step {step}"))
            elif op == 1:
                assert b.append_literal("INBOX", make_message(f"app {step}")).status == "OK"
            else:
                r = b.ok("UID SEARCH ALL")
                uids = [int(x) for x in r.one("SEARCH").split()[1:]]
                if uids:
                    victims = rng.sample(uids, min(len(uids), rng.randint(1, 2)))
                    b.ok(f"UID STORE {','.join(map(str, victims))} +FLAGS.SILENT (\\Deleted)")
                    b.ok(f"UID EXPUNGE {','.join(map(str, victims))}")
        b.ok("NOOP")
        final = [int(x) for x in b.ok("UID SEARCH ALL").one("SEARCH").split()[1:]]
        # Apply what a is told in IDLE (until it has been quiet for a
        # second), then what comes with the end of the IDLE.
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                lines.append(a.read_logical(1.0))
            except TimeoutError:
                break
        told_in_idle = len(lines)
        lines += [b"* " + u for u in done(a).untagged]
        for line in lines:
            m = re.match(rb"^\* (\d+) (EXISTS|EXPUNGE)$", line)
            if not m:
                continue
            n = int(m.group(1))
            if m.group(2) == b"EXISTS":
                assert n >= len(model), (line, model)
                model += [None] * (n - len(model))
            else:
                assert 1 <= n <= len(model), (line, model)
                del model[n - 1]
        assert told_in_idle > 0
        assert len(model) == len(final), (model, final)
        r = a.ok("FETCH 1:* (UID)")
        got = [int(fetch_items(u)[1][b"UID"]) for u in r.untagged if b" FETCH " in u]
        assert got == final
        assert all(k is None or k == g for k, g in zip(model, got)), (model, got)
