"""The admin commands and the server share the store while it runs: what
one writes, the other sees at once, and the database stays intact."""
from conftest import DOMAIN, PASSWORD, db_integrity, make_message, split_stored

ALICE, BOB, CAROL = (f"{u}@{DOMAIN}" for u in ("alice", "bob", "carol"))
DAVE = f"dave@{DOMAIN}"
SENDER = "sender@remote.example.org"


def deliver(server, rcpts, subject):
    msg = make_message(subject)
    with server.connect() as c:
        r = c.send_mail(SENDER, rcpts, msg)
        assert r.code == 250, r.raw
    return msg


def integrity(server, tmp_path):
    return db_integrity(server.inst.dir, tmp_path)


def test_message_list_between_deliveries(server):
    """Every delivery is visible to `message list` as soon as it is
    answered 250, also after an earlier `message list`."""
    for i in range(1, 4):
        deliver(server, [ALICE], f"visible {i}")
        rows = server.messages(ALICE)
        assert [r[4] for r in rows] == [f"visible {k}" for k in range(1, i + 1)], \
            f"after delivery {i}, message list shows {rows}"


def test_user_added_while_serving(server):
    server.cli_ok("user", "add", "--password-stdin", DAVE, input=PASSWORD + "\n")
    msg = deliver(server, [DAVE], "to the new user")
    assert server.count(DAVE) == 1
    assert split_stored(server.get(DAVE, 1))[2] == msg


def test_alias_added_while_serving(server):
    server.cli_ok("alias", "add", f"team@{DOMAIN}", ALICE, BOB)
    deliver(server, [f"team@{DOMAIN}", ALICE], "to the team")
    assert server.count(ALICE) == 1
    assert server.count(BOB) == 1


def test_user_deleted_while_serving(server):
    server.cli_ok("user", "del", CAROL)
    with server.connect() as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect(f"RCPT TO:<{CAROL}>", 550, "550 5.1.1")


def test_domain_added_while_serving(server):
    server.cli_ok("domain", "add", "second.test")
    server.cli_ok("user", "add", "--password-stdin", "eve@second.test", input="pw\n")
    deliver(server, ["eve@second.test"], "second domain")
    assert server.count("eve@second.test") == 1


def test_database_intact_after_admin_writes_while_serving(server, tmp_path):
    """Deliveries and admin writes interleaved: after a clean stop every
    message and every user is there, and SQLite finds no corruption."""
    deliver(server, [BOB], "one")
    server.messages(BOB)
    server.cli_ok("user", "add", "--password-stdin", DAVE, input=PASSWORD + "\n")
    deliver(server, [DAVE], "two")
    deliver(server, [BOB], "three")
    server.cli_ok("alias", "add", f"team@{DOMAIN}", ALICE)
    deliver(server, [f"team@{DOMAIN}"], "four")
    server.stop()
    assert integrity(server, tmp_path) == ["ok"]
    assert [r[4] for r in server.messages(BOB)] == ["one", "three"]
    assert [r[4] for r in server.messages(DAVE)] == ["two"]
    assert [r[4] for r in server.messages(ALICE)] == ["four"]
    assert DAVE in server.cli_ok("user", "list").stdout.split()
