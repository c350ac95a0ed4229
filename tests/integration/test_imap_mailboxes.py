"""Mailbox commands: LIST (and LIST-EXTENDED: SUBSCRIBED, SPECIAL-USE,
RETURN (CHILDREN STATUS ...)), LSUB, CREATE, DELETE, RENAME (INBOX,
hierarchies), SUBSCRIBE/UNSUBSCRIBE, STATUS (SIZE too), mailbox names in
modified UTF-7 (IMAP4rev1) and UTF-8 (after ENABLE UTF8=ACCEPT), names
that are invalid or try to escape the user's namespace."""
import re

import pytest

from conftest import (DOMAIN, fetch_items, imap_login, imap_parse, make_message,
                      smtp_deliver)

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback"})

SPECIAL = {"Archive": "\\Archive", "Drafts": "\\Drafts", "Junk": "\\Junk",
           "Sent": "\\Sent", "Trash": "\\Trash"}


def listing(r, kind="LIST"):
    """{name (bytes, as sent): [attributes]} from LIST/LSUB responses."""
    out = {}
    for u in r.find(kind + " "):
        parts = imap_parse(u)
        assert parts[0].upper() == kind.encode() and len(parts) >= 4, u
        attrs, delim, name = parts[1], parts[2], parts[3]
        assert delim == b"/", u
        out[name] = [a.decode() for a in attrs]
    return out


def status_items(line):
    """'STATUS name (K v K v)' -> (name, {K: int})."""
    parts = imap_parse(line)
    assert parts[0].upper() == b"STATUS", line
    lst = parts[2]
    return parts[1], {lst[i].decode().upper(): int(lst[i + 1]) for i in range(0, len(lst), 2)}


def has(attrs, a):
    return a.lower() in [x.lower() for x in attrs]


# --- LIST --------------------------------------------------------------------

def test_list_default_mailboxes(server):
    with imap_login(server) as c:
        r = c.ok('LIST "" "*"')
        mb = listing(r)
        assert set(mb) == {b"INBOX", *[n.encode() for n in SPECIAL]}, r
        for name, use in SPECIAL.items():
            assert has(mb[name.encode()], use), (name, mb)
            assert has(mb[name.encode()], "\\HasNoChildren")
        assert not any(a in SPECIAL.values() for a in mb[b"INBOX"])
        # The hierarchy delimiter and the root (RFC 9051 6.3.9).
        r = c.ok('LIST "" ""')
        assert r.one("LIST") == b'LIST (\\Noselect) "/" ""', r


def test_create_hierarchy_and_list_patterns(server):
    with imap_login(server) as c:
        c.ok('CREATE "Work/Projects/Alpha"')          # parents are created too
        c.ok('CREATE "Work/Notes/"')                  # a trailing delimiter is allowed
        mb = listing(c.ok('LIST "" "Work*"'))
        assert set(mb) == {b"Work", b"Work/Projects", b"Work/Projects/Alpha", b"Work/Notes"}
        assert has(mb[b"Work"], "\\HasChildren")
        assert has(mb[b"Work/Projects/Alpha"], "\\HasNoChildren")
        # % does not cross the delimiter; * does.
        assert set(listing(c.ok('LIST "" "%"'))) == {b"INBOX", b"Work",
                                                     *[n.encode() for n in SPECIAL]}
        assert set(listing(c.ok('LIST "" "Work/%"'))) == {b"Work/Projects", b"Work/Notes"}
        assert set(listing(c.ok('LIST "Work/" "%"'))) == {b"Work/Projects", b"Work/Notes"}
        assert set(listing(c.ok('LIST "" "*Alpha"'))) == {b"Work/Projects/Alpha"}
        assert set(listing(c.ok('LIST "" "work"'))) == set()     # case-sensitive
        assert set(listing(c.ok('LIST "" "inbox"'))) == {b"INBOX"}  # except INBOX
        c.ok('SELECT "Work/Projects/Alpha"')
    boxes = server.mailboxes(ALICE)
    assert "Work/Projects/Alpha" in boxes and "Work/Notes" in boxes


def test_create_errors(server):
    with imap_login(server) as c:
        c.ok("CREATE Box")
        r = c.cmd("CREATE Box")
        assert r.status == "NO" and r.text.startswith("[ALREADYEXISTS]"), r
        for inbox in ("INBOX", "inbox", "InBoX"):
            assert c.cmd(f"CREATE {inbox}").status == "NO"
        c.expect("CREATE", "BAD")
    assert set(server.mailboxes(ALICE)) == {"INBOX", "Box", *SPECIAL}


@pytest.mark.parametrize("name", ['"../etc"', '"/abs"', '"a//b"', '"a/./b"', '"a/../b"',
                                  '"x*y"', '"x%y"', '"' + "n" * 1001 + '"',
                                  '"' + "/".join(["d"] * 300) + '"', '"tab\there"',
                                  '"Bad&Name"', '"&AGE-"', '"&Jjo"'])
def test_create_invalid_names(server, name):
    with imap_login(server) as c:
        r = c.cmd(f"CREATE {name}")
        assert r.status in ("NO", "BAD"), r
        c.ok("NOOP")
        assert set(listing(c.ok('LIST "" "*"'))) == {b"INBOX", *[n.encode() for n in SPECIAL]}
    assert set(server.mailboxes(ALICE)) == {"INBOX", *SPECIAL}


def test_create_empty_name(server_checked_in_test):
    server = server_checked_in_test
    try:
        with imap_login(server) as c:
            r = c.cmd('CREATE ""')
            assert r.status in ("NO", "BAD"), r
            c.ok("NOOP")
    finally:
        server.stop()


def test_mailboxes_are_per_user(server):
    with imap_login(server) as c:
        c.ok('CREATE "Private/Alice"')
        smtp_deliver(server, ALICE, make_message("for alice only"))
    with imap_login(server, "bob") as c:
        mb = listing(c.ok('LIST "" "*"'))
        assert b"Private" not in mb and b"Private/Alice" not in mb
        r = c.cmd('SELECT "Private/Alice"')
        assert r.status == "NO", r
        r = c.ok("SELECT INBOX")
        assert r.find("0 EXISTS"), r
        # Nothing in a name reaches another user's mailboxes.
        for name in ("../alice@example.test/INBOX", "~alice/INBOX", "#shared/INBOX",
                     "alice@example.test/INBOX"):
            assert c.cmd(f'SELECT "{name}"').status in ("NO", "BAD")


# --- DELETE ------------------------------------------------------------------

def test_delete(server):
    with imap_login(server) as c:
        c.ok("CREATE Tmp")
        st = c.ok("STATUS Tmp (UIDVALIDITY)").one("STATUS")
        old_validity = status_items(st)[1]["UIDVALIDITY"]
        r = c.append_literal("Tmp", make_message("in tmp"))
        assert r.status == "OK", r
        c.ok("DELETE Tmp")
        assert b"Tmp" not in listing(c.ok('LIST "" "*"'))
        r = c.cmd("STATUS Tmp (MESSAGES)")
        assert r.status == "NO" and r.text.startswith("[NONEXISTENT]"), r
        r = c.cmd("DELETE Tmp")
        assert r.status == "NO" and r.text.startswith("[NONEXISTENT]"), r
        # A new mailbox of the same name is a new mailbox.
        c.ok("CREATE Tmp")
        _, st = status_items(c.ok("STATUS Tmp (MESSAGES UIDVALIDITY UIDNEXT)").one("STATUS"))
        assert st["MESSAGES"] == 0 and st["UIDVALIDITY"] != old_validity and st["UIDNEXT"] == 1
        assert c.cmd("DELETE INBOX").status == "NO"
        assert c.cmd("DELETE inbox").status == "NO"


def test_delete_parent_keeps_children(server):
    with imap_login(server) as c:
        c.ok('CREATE "Parent/Child"')
        r = c.cmd("DELETE Parent")
        # Either refused, or the parent goes (\Noselect); never the child.
        assert r.status in ("OK", "NO"), r
        mb = listing(c.ok('LIST "" "Parent*"'))
        assert b"Parent/Child" in mb, mb
        c.ok('SELECT "Parent/Child"')
        c.ok("UNSELECT")
        c.ok('DELETE "Parent/Child"')
        c.ok("DELETE Parent")
        assert listing(c.ok('LIST "" "Parent*"')) == {}


# --- RENAME ------------------------------------------------------------------

def test_rename_moves_children(server):
    with imap_login(server) as c:
        c.ok('CREATE "Work/Projects/Alpha"')
        r = c.append_literal("Work/Projects", make_message("project mail"))
        assert r.status == "OK", r
        c.ok('RENAME "Work" "Job"')
        mb = listing(c.ok('LIST "" "*"'))
        assert {b"Job", b"Job/Projects", b"Job/Projects/Alpha"} <= set(mb)
        assert not any(n.startswith(b"Work") for n in mb), mb
        c.ok('SELECT "Job/Projects"')
        d = fetch_items(c.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]").one("1 FETCH"))[1]
        assert d[b"BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: project mail\r\n\r\n"
        # Into a new hierarchy level, creating the parent.
        c.ok('RENAME "Job/Projects/Alpha" "Other/Beta"')
        assert {b"Other", b"Other/Beta"} <= set(listing(c.ok('LIST "" "*"')))


def test_rename_errors(server):
    with imap_login(server) as c:
        c.ok("CREATE A")
        c.ok("CREATE B")
        r = c.cmd("RENAME A B")
        assert r.status == "NO" and r.text.startswith("[ALREADYEXISTS]"), r
        r = c.cmd("RENAME Nope C")
        assert r.status == "NO" and r.text.startswith("[NONEXISTENT]"), r
        assert c.cmd('RENAME A "A/Sub"').status == "NO"
        assert c.cmd('RENAME A "../x"').status in ("NO", "BAD")
        assert c.cmd("RENAME A INBOX").status == "NO"
        c.expect("RENAME A", "BAD")
    assert {"A", "B"} <= set(server.mailboxes(ALICE))


def test_rename_inbox_moves_messages(server):
    for i in range(2):
        smtp_deliver(server, ALICE, make_message(f"inbox {i}"))
    with imap_login(server) as c:
        c.ok("RENAME INBOX Old")
        _, st = status_items(c.ok("STATUS Old (MESSAGES)").one("STATUS"))
        assert st["MESSAGES"] == 2
        # INBOX still exists, empty (RFC 9051 6.3.6).
        _, st = status_items(c.ok("STATUS INBOX (MESSAGES UIDNEXT)").one("STATUS"))
        assert st["MESSAGES"] == 0 and st["UIDNEXT"] >= 1
        assert b"INBOX" in listing(c.ok('LIST "" "*"'))
    smtp_deliver(server, ALICE, make_message("after rename"))
    assert [x[4] for x in server.messages(ALICE)] == ["after rename"]
    assert [x[4] for x in server.messages(ALICE, "Old")] == ["inbox 0", "inbox 1"]


def test_rename_non_ascii_parent_keeps_children(server):
    with imap_login(server) as c:
        c.ok("ENABLE UTF8=ACCEPT")
        c.ok('CREATE "P\u00e8re/enfant"')
        c.ok('RENAME "P\u00e8re" "M\u00e8re"')
    boxes = set(server.mailboxes(ALICE))
    assert "M\u00e8re/enfant" in boxes, boxes


# --- names: modified UTF-7 and UTF-8 -----------------------------------------

def test_modified_utf7_names_for_rev1_clients(server):
    with imap_login(server) as c:
        c.ok('CREATE "Caf&AOk-/&ZeVnLIqe-"')
        mb = listing(c.ok('LIST "" "*"'))
        assert b"Caf&AOk-" in mb and b"Caf&AOk-/&ZeVnLIqe-" in mb, mb
        c.ok('SELECT "Caf&AOk-/&ZeVnLIqe-"')
        # "&" itself is "&-".
        c.ok('CREATE "A&-B"')
        assert b"A&-B" in listing(c.ok('LIST "" "A*"'))
        # 8-bit in a quoted string is not IMAP4rev1.
        c.expect('CREATE "Caf\u00e9"', "BAD")
        r = c.cmd('CREATE "Bad&Name"')
        assert r.status == "NO", r
    boxes = server.mailboxes(ALICE)
    # Stored in UTF-8.
    assert "Caf\u00e9/\u65e5\u672c\u8a9e" in boxes and "A&B" in boxes, boxes


def test_utf8_names_after_enable(server):
    with imap_login(server) as c:
        c.ok("ENABLE UTF8=ACCEPT")
        c.ok('CREATE "\u00dcn\u00efcode/\u65e5\u672c\u8a9e"')
        c.ok('CREATE "A&B"')                 # "&" is an ordinary character now
        mb = listing(c.ok('LIST "" "*"'))
        assert "\u00dcn\u00efcode/\u65e5\u672c\u8a9e".encode() in mb, mb
        assert b"A&B" in mb
        c.ok('SELECT "\u00dcn\u00efcode/\u65e5\u672c\u8a9e"')
        r = c.ok('STATUS "\u00dcn\u00efcode" (MESSAGES)')
        assert status_items(r.one("STATUS"))[0] == "\u00dcn\u00efcode".encode()
        c.expect(b'CREATE "bad \xff utf8"', "BAD")
    # A rev1 session sees the same names in modified UTF-7.
    with imap_login(server) as c:
        mb = listing(c.ok('LIST "" "*"'))
        assert b"&ANw-n&AO8-code/&ZeVnLIqe-" in mb and b"A&-B" in mb, mb
        c.ok('SELECT "&ANw-n&AO8-code"')
    assert "\u00dcn\u00efcode/\u65e5\u672c\u8a9e" in server.mailboxes(ALICE)


def test_mailbox_name_as_literal(server):
    with imap_login(server) as c:
        name = b"Lit/Name With Spaces"
        c.send(f"l1 CREATE {{{len(name)}}}\r\n")
        assert c.readline().startswith(b"+")
        c.send(name + b"\r\n")
        assert c.read_response("l1").status == "OK"
        assert name in listing(c.ok('LIST "" "Lit/*"'))
        c.ok('SELECT "Lit/Name With Spaces"')


# --- SUBSCRIBE, LSUB, LIST-EXTENDED ------------------------------------------

def test_subscribe_unsubscribe_lsub(server):
    with imap_login(server) as c:
        c.ok('CREATE "News/Tech"')
        c.ok('UNSUBSCRIBE "News/Tech"')
        subs = listing(c.ok('LSUB "" "*"'), "LSUB")
        assert b"News/Tech" not in subs
        c.ok('SUBSCRIBE "News/Tech"')
        subs = listing(c.ok('LSUB "" "*"'), "LSUB")
        assert b"News/Tech" in subs and b"INBOX" in subs
        sub = listing(c.ok('LIST (SUBSCRIBED) "" "News*"'))
        assert b"News/Tech" in sub and has(sub[b"News/Tech"], "\\Subscribed")
        c.ok('UNSUBSCRIBE "News/Tech"')
        assert b"News/Tech" not in listing(c.ok('LIST (SUBSCRIBED) "" "*"'))
        r = c.ok('LIST "" "News*" RETURN (SUBSCRIBED)')
        mb = listing(r)
        assert b"News/Tech" in mb and not has(mb[b"News/Tech"], "\\Subscribed"), r
    # Subscriptions are kept across sessions.
    with imap_login(server) as c:
        c.ok('SUBSCRIBE "News/Tech"')
    with imap_login(server) as c:
        assert b"News/Tech" in listing(c.ok('LSUB "" "News/*"'), "LSUB")


def test_list_special_use(server):
    with imap_login(server) as c:
        c.ok("CREATE Plain")
        mb = listing(c.ok('LIST (SPECIAL-USE) "" "*"'))
        assert set(mb) == {n.encode() for n in SPECIAL}, mb
        mb = listing(c.ok('LIST "" "*" RETURN (SPECIAL-USE)'))
        assert b"Plain" in mb and b"INBOX" in mb
        for name, use in SPECIAL.items():
            assert has(mb[name.encode()], use)


def test_list_return_children_and_status(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"st {i}", ["x" * 100 * i]))
    with imap_login(server) as c:
        c.ok('CREATE "Dir/Sub"')
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        sizes = [int(fetch_items(u)[1][b"RFC822.SIZE"])
                 for u in c.ok("FETCH 1:* RFC822.SIZE").untagged]
        c.ok("UNSELECT")
        r = c.ok('LIST "" "*" RETURN (CHILDREN STATUS (MESSAGES UNSEEN SIZE))')
        mb = listing(r)
        assert has(mb[b"Dir"], "\\HasChildren") and has(mb[b"Dir/Sub"], "\\HasNoChildren")
        statuses = dict(status_items(u) for u in r.find("STATUS"))
        assert statuses[b"INBOX"] == {"MESSAGES": 3, "UNSEEN": 2, "SIZE": sum(sizes)}, r
        assert statuses[b"Dir/Sub"] == {"MESSAGES": 0, "UNSEEN": 0, "SIZE": 0}
        # Each STATUS follows the LIST of its mailbox (RFC 5819 2).
        lines = r.untagged
        for i, u in enumerate(lines):
            if u.startswith(b"STATUS "):
                assert i > 0 and lines[i - 1].startswith(b"LIST ")
                assert imap_parse(lines[i - 1])[3] == status_items(u)[0], lines
        c.expect('LIST "" "*" RETURN (BOGUS)', "BAD")
        c.expect('LIST (BOGUS) "" "*"', "BAD")


def test_list_multiple_patterns(server):
    with imap_login(server) as c:
        c.ok("CREATE Alpha")
        c.ok("CREATE Beta")
        mb = listing(c.ok('LIST "" ("Alpha" "Beta" "Sent")'))
        assert set(mb) == {b"Alpha", b"Beta", b"Sent"}, mb


# --- STATUS ------------------------------------------------------------------

def test_status_items(server):
    for i in range(3):
        smtp_deliver(server, ALICE, make_message(f"status {i}"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        sel = c.ok("SELECT INBOX")
        validity = int(re.search(rb"UIDVALIDITY (\d+)", sel.raw).group(1))
        hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", sel.raw).group(1))
        size = sum(int(fetch_items(u)[1][b"RFC822.SIZE"])
                   for u in c.ok("FETCH 1:* RFC822.SIZE").untagged)
        c.ok("UNSELECT")
        r = c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)")
        name, st = status_items(r.one("STATUS"))
        assert name == b"INBOX"
        assert st == {"MESSAGES": 3, "UIDNEXT": 4, "UIDVALIDITY": validity, "UNSEEN": 2,
                      "DELETED": 1, "SIZE": size, "HIGHESTMODSEQ": hms}, r
        assert server.mailboxes(ALICE)["INBOX"][2] == size
        # RECENT (IMAP4rev1) is accepted.
        _, st = status_items(c.ok("STATUS INBOX (RECENT)").one("STATUS"))
        assert "RECENT" in st
        r = c.cmd("STATUS Nope (MESSAGES)")
        assert r.status == "NO" and r.text.startswith("[NONEXISTENT]"), r
        c.expect("STATUS INBOX (BOGUS)", "BAD")
        c.expect("STATUS INBOX", "BAD")
        c.expect("STATUS INBOX ()", "BAD")


def test_status_of_selected_mailbox_is_current(server):
    smtp_deliver(server, ALICE, make_message("one"))
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        smtp_deliver(server, ALICE, make_message("two"))
        _, st = status_items(c.ok("STATUS INBOX (MESSAGES UIDNEXT)").one("STATUS"))
        assert st == {"MESSAGES": 2, "UIDNEXT": 3}
