"""A crash (SIGKILL) while messages are being delivered loses nothing that
was acknowledged with 250, and leaves a database that is intact and that a
restarted server keeps using."""
import threading
import time

from conftest import DOMAIN, SMTPClient, db_integrity, make_message, split_stored

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
SENDER = "sender@remote.example.org"
SENDERS = 20
RUN_SECONDS = 2.0


def sender_loop(port, n, acked, stop):
    """Sends messages until stopped or the server dies; records every
    subject that was answered 250."""
    i = 0
    while not stop.is_set() and i < 10000:
        subject = f"crash-{n}-{i}"
        i += 1
        msg = make_message(subject)
        try:
            with SMTPClient(port, timeout=5) as c:
                r = c.send_mail(SENDER, [ALICE, BOB], msg)
                if r.code == 250:
                    acked.append((subject, msg))
        except (OSError, EOFError, AssertionError, TimeoutError):
            return      # the server is gone


def stored_subjects(server, address):
    return {row[4] for row in server.messages(address)}


def test_sigkill_loses_no_acknowledged_message(start_server, tmp_path):
    server = start_server()
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=sender_loop,
                                args=(server.port, n, acked, stop), daemon=True)
               for n in range(SENDERS)]
    for t in threads:
        t.start()
    time.sleep(RUN_SECONDS)
    server.kill()               # in the middle of deliveries
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a sender did not stop"
    assert len(acked) > 20, f"too few deliveries before the crash: {len(acked)}"

    assert db_integrity(server.inst.dir, tmp_path) == ["ok"]

    # Every acknowledged message is there, for both recipients, and whole.
    for address in (ALICE, BOB):
        have = stored_subjects(server, address)
        missing = [s for s, _ in acked if s not in have]
        assert not missing, f"{len(missing)} acknowledged messages lost for {address}: {missing[:5]}"
    rows = server.messages(ALICE)
    by_subject = {row[4]: row[0] for row in rows}
    for subject, msg in acked[:5] + acked[-5:]:
        assert split_stored(server.get(ALICE, by_subject[subject]))[2] == msg

    # A new server on the same data goes on where the old one stopped.
    again = start_server()
    with again.connect() as c:
        r = c.send_mail(SENDER, [ALICE], make_message("after the crash"))
        assert r.code == 250, r.raw
    assert "after the crash" in stored_subjects(again, ALICE)
    uids = [row[0] for row in again.messages(ALICE)]
    assert uids == sorted(set(uids)), "UIDs repeat after the crash"
