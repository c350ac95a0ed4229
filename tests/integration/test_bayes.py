"""The statistical classifier, through real clients: Python's imaplib
moves and copies messages into and out of Junk, and `correio spam stats`
must show them learnt (spam into Junk, ham out of it, moved back: spam
again, the earlier learn undone); `correio spam train` over a Maildir and
an mbox made here; and what must not train (APPEND into Junk, delivery,
copies into Trash)."""
import imaplib
import re

import pytest

from conftest import (DOMAIN, PASSWORD, make_message, smtp_deliver, wait_for)

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback"})

LEARN_TIMEOUT = 20      # the writer learns after the MOVE's reply


def stats(inst, address=None):
    """`correio spam stats [ADDRESS]` as {table: {key: value}}."""
    args = ["spam", "stats"] + ([address] if address else [])
    p = inst.cli_ok(*args)
    out = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if not parts or "=" in parts[0]:
            continue
        kv = dict(x.split("=", 1) for x in parts[1:])
        out[parts[0]] = {k: (int(v) if v.isdigit() else v) for k, v in kv.items()}
    return out


def counts(inst, address):
    s = stats(inst, address)
    return (s[address]["spam"], s[address]["ham"],
            s["global"]["spam"], s["global"]["ham"])


def wait_counts(server, address, want):
    return wait_for(lambda: counts(server, address) == want,
                    timeout=LEARN_TIMEOUT,
                    what=f"bayes counts {want}, have {counts(server, address)}")


def imap(server, user=ALICE):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    c.login(user, PASSWORD)
    return c


def uids(c, mailbox):
    typ, _ = c.select(mailbox)
    assert typ == "OK"
    typ, data = c.uid("SEARCH", "ALL")
    assert typ == "OK"
    return data[0].split()


def spammy(n):
    return make_message(
        subject=f"cheap pills casino winner {n}",
        body_lines=["CLAIM your lottery prize now", "",
                    f"http://prizes.example/claim/{n} viagra bitcoin {n}"])


def test_move_into_junk_out_and_back(server):
    smtp_deliver(server, ALICE, spammy(1))
    c = imap(server)
    try:
        (uid,) = uids(c, "INBOX")
        typ, data = c.uid("MOVE", uid, "Junk")
        assert typ == "OK", data
        # spam for alice and globally
        wait_counts(server, ALICE, (1, 0, 1, 0))
        assert re.search(r"bayes learn user=\d+ class=spam messages=1 "
                         r"learnt=1", server.log())

        # out of Junk: ham, the spam learn undone
        (uid,) = uids(c, "Junk")
        typ, data = c.uid("MOVE", uid, "INBOX")
        assert typ == "OK", data
        wait_counts(server, ALICE, (0, 1, 0, 1))
        assert "class=ham messages=1 learnt=0 relearnt=1" in server.log()

        # and back: spam again
        (uid,) = uids(c, "INBOX")
        typ, data = c.uid("MOVE", uid, "Junk")
        assert typ == "OK", data
        wait_counts(server, ALICE, (1, 0, 1, 0))
        s = stats(server, ALICE)
        assert s[ALICE]["learnt"] == 1 and s["global"]["learnt"] == 1
        assert s[ALICE]["tokens"] > 5
        assert s[ALICE]["ready"] == "no"    # 50 of each by default

        # Junk to Trash: not ham (deleting spam says nothing new)
        (uid,) = uids(c, "Junk")
        typ, data = c.uid("MOVE", uid, "Trash")
        assert typ == "OK", data
        # a later learn tells us the writer got past it
        smtp_deliver(server, ALICE, spammy(2))
        (uid,) = uids(c, "INBOX")
        c.uid("MOVE", uid, "Junk")
        wait_counts(server, ALICE, (2, 0, 2, 0))
    finally:
        c.logout()
    # bob learnt nothing for himself
    s = stats(server, BOB)
    assert s[BOB]["spam"] == 0 and s[BOB]["ham"] == 0


def test_copy_into_and_out_of_junk(server):
    for i in range(3):
        smtp_deliver(server, ALICE, spammy(10 + i))
    c = imap(server)
    try:
        inbox = uids(c, "INBOX")
        assert len(inbox) == 3
        typ, data = c.uid("COPY", b",".join(inbox), "Junk")
        assert typ == "OK", data
        wait_counts(server, ALICE, (3, 0, 3, 0))
        # the same messages copied again: learnt once
        typ, data = c.uid("COPY", inbox[0], "Junk")
        assert typ == "OK", data
        # a client that moves by COPY + STORE \Deleted + EXPUNGE: a copy
        # out of Junk trains ham
        junk = uids(c, "Junk")
        typ, data = c.uid("COPY", junk[0], "Archive")
        assert typ == "OK", data
        wait_counts(server, ALICE, (2, 1, 2, 1))
        # COPY within the same kind of mailbox: nothing
        typ, data = c.uid("COPY", junk[1], "Trash")
        assert typ == "OK", data
        c.select("INBOX")
        typ, data = c.uid("COPY", inbox[2], "Archive")
        assert typ == "OK", data
    finally:
        c.logout()
    assert "already=1" in server.log()
    wait_for(lambda: server.log().count("bayes learn user=") >= 3,
             timeout=LEARN_TIMEOUT, what="three learn lines")
    assert counts(server, ALICE) == (2, 1, 2, 1)


def test_append_and_delivery_do_not_train(server):
    smtp_deliver(server, ALICE, spammy(20))
    c = imap(server)
    try:
        typ, data = c.append("Junk", None, None, spammy(21))
        assert typ == "OK", data
        # a move that is learnt comes after them on the writer
        (uid,) = uids(c, "INBOX")
        c.uid("MOVE", uid, "Junk")
    finally:
        c.logout()
    wait_counts(server, ALICE, (1, 0, 1, 0))


@pytest.mark.server(**{"imap.allow_plaintext": "loopback",
                       "bayes.autolearn": "no"})
def test_autolearn_off(server):
    smtp_deliver(server, ALICE, spammy(30))
    c = imap(server)
    try:
        (uid,) = uids(c, "INBOX")
        typ, _ = c.uid("MOVE", uid, "Junk")
        assert typ == "OK"
        typ, _ = c.noop()
    finally:
        c.logout()
    assert counts(server, ALICE) == (0, 0, 0, 0)
    assert "bayes learn" not in server.log()


def test_train_maildir_and_mbox(instance, tmp_path):
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    for i in range(4):
        (md / "new" / f"{i}.host").write_bytes(spammy(100 + i))
    (md / "cur" / "9.host:2,S").write_bytes(spammy(109))
    (md / "tmp" / "x").write_bytes(spammy(110))     # never read: tmp/
    mbox = tmp_path / "ham.mbox"
    ham = []
    for i in range(3):
        m = make_message(subject=f"meeting agenda {i}",
                         body_lines=["Hi team,", "", "the report is attached",
                                     f"From the minutes of meeting {i}"])
        ham.append(m)
    # mboxrd: a body "From " is quoted with '>'
    text = b""
    for m in ham:
        body = re.sub(rb"(?m)^(>*From )", rb">\1", m.replace(b"\r\n", b"\n"))
        text += b"From sender@remote.example.org Mon Nov  2 10:00:00 2026\n"
        text += body + b"\n"
    mbox.write_bytes(text)
    single = tmp_path / "one.eml"
    single.write_bytes(make_message(subject="lunch tomorrow"))

    p = instance.cli_ok("spam", "train", "--spam", str(md))
    assert "spam: learnt 5, relearnt 0, skipped 0" in p.stdout, p.stdout
    p = instance.cli_ok("spam", "train", "--ham", "--user", ALICE, str(mbox),
                        str(single))
    assert "ham: learnt 4, relearnt 0, skipped 0" in p.stdout, p.stdout
    # again: every message skipped as already learnt
    p = instance.cli_ok("spam", "train", "--spam", str(md))
    assert "spam: learnt 0, relearnt 0, skipped 5 (already learnt)" in p.stdout
    s = stats(instance, ALICE)
    assert s["global"]["spam"] == 5 and s["global"]["ham"] == 4
    assert s[ALICE]["spam"] == 0 and s[ALICE]["ham"] == 4
    assert s["global"]["learnt"] == 9 and s["global"]["ready"] == "no"
    assert s["global"]["tokens"] > 20
    # the same message as a file and from the mbox is one message: the
    # mbox copy (">From" unquoted) hashes like the file
    one = tmp_path / "again.eml"
    one.write_bytes(ham[0])
    p = instance.cli_ok("spam", "train", "--ham", str(one))
    assert "skipped 1" in p.stdout, p.stdout
    # relearnt as spam: moved over
    p = instance.cli_ok("spam", "train", "--spam", str(one))
    assert "relearnt 1" in p.stdout, p.stdout
    s = stats(instance)
    assert s["global"]["spam"] == 6 and s["global"]["ham"] == 3
    # forget
    p = instance.cli_ok("spam", "train", "--forget", str(one))
    assert "forgotten 1" in p.stdout
    # ready with min_learns lowered
    p = instance.cli_ok("spam", "stats", "-o", "bayes.min_learns=3")
    assert "global spam=5 ham=3" in p.stdout and "ready=yes" in p.stdout


def test_train_errors(instance, tmp_path):
    p = instance.cli("spam", "train", str(tmp_path))
    assert p.returncode == 2 and "--spam, --ham or --forget" in p.stderr
    p = instance.cli("spam", "train", "--spam", "--ham", str(tmp_path))
    assert p.returncode == 2
    p = instance.cli("spam", "train", "--spam")
    assert p.returncode == 2
    # a directory that is no Maildir, a missing file: reported, exit 1,
    # the good path still learnt
    good = tmp_path / "good.eml"
    good.write_bytes(spammy(200))
    (tmp_path / "empty").mkdir()
    p = instance.cli("spam", "train", "--spam", str(tmp_path / "empty"),
                     str(tmp_path / "missing"), str(good))
    assert p.returncode == 1, p.stderr
    assert "no Maildir" in p.stderr and "No such file" in p.stderr
    assert "learnt 1" in p.stdout and "unreadable 2" in p.stdout
    p = instance.cli("spam", "train", "--spam", "--user", "nobody@" + DOMAIN,
                     str(good))
    assert p.returncode == 1 and "no such user" in p.stderr
    p = instance.cli("spam", "stats", "nobody@" + DOMAIN)
    assert p.returncode == 1
    # binary junk is a message too (an empty header, then bytes); an
    # empty file has no tokens: nothing to learn
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\r\n" + bytes(range(256)) * 64)
    (tmp_path / "empty.eml").write_bytes(b"")
    p = instance.cli("spam", "train", "--spam", str(junk),
                     str(tmp_path / "empty.eml"))
    assert p.returncode == 0, p.stderr
    assert "learnt 1," in p.stdout and "empty 1," in p.stdout, p.stdout


def test_move_many_in_chunks(server):
    """More messages than one learn job takes: the writer learns them in
    several jobs, and every one is learnt."""
    n = 11
    for i in range(n):
        smtp_deliver(server, ALICE, spammy(300 + i))
    c = imap(server)
    try:
        inbox = uids(c, "INBOX")
        assert len(inbox) == n
        typ, data = c.uid("MOVE", b"1:*", "Junk")
        assert typ == "OK", data
        # the session goes on while the writer learns
        typ, _ = c.noop()
        assert typ == "OK"
    finally:
        c.logout()
    wait_counts(server, ALICE, (n, 0, n, 0))
    assert f"class=spam messages={n} learnt={n} relearnt=0 already=0 " \
           f"failed=0" in server.log()


def test_stop_while_learning(server):
    """SIGTERM right after a large MOVE: the server stops cleanly (no
    leak, exit 0: the stop fixture checks), having learnt all of it or
    said what it left."""
    n = 12
    for i in range(n):
        smtp_deliver(server, ALICE, spammy(400 + i))
    c = imap(server)
    try:
        uids(c, "INBOX")
        typ, data = c.uid("MOVE", b"1:*", "Junk")
        assert typ == "OK", data
    finally:
        c.logout()
    assert server.stop() == 0
    log = server.log()
    assert (f"messages={n} learnt={n}" in log or
            "stopped=shutdown" in log), log[-3000:]
    spam = stats(server, ALICE)[ALICE]["spam"]
    assert 0 < spam <= n
