"""Hostile and malformed input over a raw socket: command lines and
literals over their limits (before and after login), APPENDLIMIT,
parenthesis nesting, huge sequence sets, garbage bytes, unknown commands,
commands in the wrong state, 8-bit junk in quoted strings, bad tags,
clients that vanish mid-command. The answer is BAD or NO with a reason,
the connection goes on unless RFC 9051 allows closing it, and nothing
crashes: every test ends with the server's clean exit (the `server`
fixture's teardown checks the sanitizer output)."""
import random
import socket

import pytest

from conftest import (DOMAIN, PASSWORD, imap_connect, imap_login, imap_quote,
                      make_message, smtp_deliver)

ALICE = f"alice@{DOMAIN}"
pytestmark = pytest.mark.server(**{"imap.allow_plaintext": "loopback",
                                   "auth.failure_delay": "0"})

LINE_MAX = 64 * 1024            # imap-parser.h IMAP_LINE_MAX
LINE_MAX_PREAUTH = 8 * 1024     # IMAP_LINE_MAX_PREAUTH
LITERAL_MAX_PREAUTH = 8 * 1024  # IMAP_LITERAL_MAX_PREAUTH


def still_works(c):
    """The session is alive and answers."""
    r = c.cmd("NOOP")
    assert r.status == "OK", r


def with_message(server):
    smtp_deliver(server, ALICE, make_message("hostile"))


# --- command line length -----------------------------------------------------

def test_long_line_before_login(server):
    with imap_connect(server) as c:
        # Just under the limit: a normal answer.
        r = c.cmd("NOOP " + "x" * (LINE_MAX_PREAUTH - 200))
        assert r.status in ("OK", "BAD"), r
        r = c.cmd("NOOP " + "x" * (LINE_MAX_PREAUTH + 100))
        assert r.status == "BAD", r
        still_works(c)
        c.login()


def test_long_line_after_login(server):
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        # A long but legal line: a set of 5000 UIDs (~35 KB).
        uids = ",".join(str(i) for i in range(100001, 110000, 2))
        assert 30000 < len(uids) < LINE_MAX - 100
        r = c.cmd("UID FETCH " + uids + " (FLAGS)")
        assert r.status == "OK", r
        r = c.cmd("NOOP " + "x" * (LINE_MAX + 10))
        assert r.status == "BAD", r
        still_works(c)
        c.ok("SELECT INBOX")


def test_very_long_line_does_not_exhaust_the_server(server):
    """4 MiB without a line end: the server answers BAD (or closes) without
    buffering it all, and the other sessions are fine."""
    with imap_login(server) as other, imap_connect(server) as c:
        c.send("a1 NOOP ")
        chunk = b"y" * 65536
        try:
            for _ in range(64):
                c.sock.sendall(chunk)
        except OSError:         # the server closed, or stopped reading
            pass
        try:
            c.send("\r\n")
        except OSError:
            pass
        line = b""
        try:
            line = c.readline(10)
        except EOFError:
            pass
        assert line == b"" or b"BAD" in line or line.startswith(b"* BYE"), line
        still_works(other)


def test_line_split_across_many_packets(server):
    """One byte at a time: the parser keeps its place."""
    with imap_connect(server) as c:
        cmd = f"s1 LOGIN {ALICE} {imap_quote(PASSWORD)}\r\n".encode()
        for i in range(len(cmd)):
            c.sock.sendall(cmd[i:i + 1])
        assert c.read_response("s1").status == "OK"
        still_works(c)


# --- literals ----------------------------------------------------------------

def test_literal_over_preauth_limit(server):
    with imap_connect(server) as c:
        c.send(f"l1 LOGIN {{{LITERAL_MAX_PREAUTH + 1}}}\r\n")
        line = c.readline()
        assert line.startswith(b"l1 BAD"), f"expected BAD without '+', got {line!r}"
        still_works(c)
        c.login()


@pytest.mark.server(**{"server.max_message_size": "10000"})
def test_append_literal_at_appendlimit(server):
    with imap_login(server) as c:
        caps = c.ok("CAPABILITY").one("CAPABILITY")
        assert b"APPENDLIMIT=10000" in caps
        for n in (9999, 10000):
            msg = b"Subject: x\r\n\r\n" + b"a" * (n - 16) + b"\r\n"
            assert len(msg) == n
            r = c.append_literal("INBOX", msg)
            assert r.status == "OK", (n, r)
        # One more: refused before the data is sent (no "+").
        c.send("big APPEND INBOX {10001}\r\n")
        line = c.readline()
        assert line.startswith(b"big BAD") or line.startswith(b"big NO"), line
        still_works(c)
        # A huge size, too.
        c.send("huge APPEND INBOX {18446744073709551615}\r\n")
        line = c.readline()
        assert line.startswith(b"huge BAD") or line.startswith(b"huge NO"), line
        c.send("huge2 APPEND INBOX {99999999999999999999999}\r\n")
        line = c.readline()
        assert line.startswith(b"huge2 BAD") or line.startswith(b"huge2 NO"), line
        still_works(c)
    assert server.count(ALICE) == 2


@pytest.mark.server(**{"server.max_message_size": "10000"})
def test_nonsync_literal_over_appendlimit(server):
    """LITERAL+ over the limit: the data is already on its way, so the
    server may only refuse and close (RFC 7888 4)."""
    with imap_login(server) as other, imap_login(server) as c:
        c.send(b"big APPEND INBOX {10001+}\r\n" + b"a" * 10001 + b"\r\n")
        assert c.closed(10), c.buf
        # (A reset may eat the BYE: the unread data was still on its way.)
        assert c.buf == b"" or c.buf.startswith(b"* BYE") or b"big BAD" in c.buf \
            or b"big NO" in c.buf, c.buf
        still_works(other)
    assert server.count(ALICE) == 0


def test_literal_then_disconnect(server):
    with imap_login(server) as c:
        c.send("a1 APPEND INBOX {5000}\r\n")
        assert c.readline().startswith(b"+")
        c.send(b"Subject: half\r\n\r\n" + b"z" * 1000)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
    assert server.count(ALICE) == 0


def test_literal_with_bad_size_syntax(server):
    with imap_login(server) as c:
        for bad in ("SELECT {abc}", "SELECT {-1}", "SELECT {1", "SELECT {}",
                    "SELECT {5+"):
            r = c.cmd(bad)
            assert r.status == "BAD", (bad, r)
        still_works(c)


# --- nesting, sequence sets, numbers -------------------------------------------

def test_deep_parenthesis_nesting(server):
    with_message(server)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.cmd("SEARCH " + "(" * 5 + "ALL" + ")" * 5)
        assert r.status == "OK" and r.one("SEARCH") == b"SEARCH 1", r
        for depth in (40, 1000, 20000):
            r = c.cmd("SEARCH " + "(" * depth + "ALL" + ")" * depth)
            assert r.status == "BAD", (depth, r)
        r = c.cmd("FETCH 1 " + "(" * 100 + "FLAGS" + ")" * 100)
        assert r.status == "BAD", r
        r = c.cmd("SEARCH " + "NOT " * 5000 + "ALL")
        assert r.status in ("OK", "BAD"), r
        r = c.cmd("SEARCH " + "OR ALL " * 3000 + "ALL")
        assert r.status in ("OK", "BAD"), r
        # Unbalanced.
        assert c.cmd("SEARCH (ALL").status == "BAD"
        assert c.cmd("SEARCH ALL)").status == "BAD"
        assert c.cmd("FETCH 1 (FLAGS").status == "BAD"
        still_works(c)


def test_huge_sequence_sets(server):
    with_message(server)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        r = c.cmd("FETCH " + ",".join(str(i) for i in range(1, 12001)) + " FLAGS")
        assert r.status == "BAD", r
        r = c.cmd("UID FETCH " + ",".join(f"{i}:{i + 1}" for i in range(1, 20000, 3)) + " FLAGS")
        assert r.status == "BAD", r
        r = c.ok("UID FETCH 1:4294967295 (UID)")
        assert r.one("1 FETCH") == b"1 FETCH (UID 1)"
        r = c.ok("UID FETCH 4294967295:1 (UID)")
        assert len(r.untagged) == 1
        for bad in ("FETCH 4294967296 FLAGS", "UID FETCH 1:99999999999999999999 FLAGS",
                    "FETCH 0 FLAGS", "FETCH 0:1 FLAGS", "FETCH -1 FLAGS", "FETCH 1:: FLAGS",
                    "FETCH ,1 FLAGS", "FETCH 1, FLAGS", "FETCH *:*:* FLAGS"):
            r = c.cmd(bad)
            assert r.status == "BAD", (bad, r)
        r = c.ok("UID SEARCH UID 1:4294967295")
        assert r.one("SEARCH") == b"SEARCH 1"
        still_works(c)


def test_huge_numbers_elsewhere(server):
    with_message(server)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        for bad in ("FETCH 1 (BODY[99999999999999999999])",
                    "FETCH 1 (BODY[" + ".".join(["1"] * 200) + "])",
                    "FETCH 1 (BODY[]<99999999999999999999.1>)",
                    "SEARCH LARGER 99999999999999999999999",
                    "SEARCH MODSEQ 99999999999999999999999",
                    "FETCH 1 (FLAGS) (CHANGEDSINCE 99999999999999999999999)",
                    "STORE 1 (UNCHANGEDSINCE 99999999999999999999999) +FLAGS (\\Seen)"):
            r = c.cmd(bad)
            assert r.status == "BAD", (bad, r)
        r = c.ok("FETCH 1 (BODY.PEEK[]<4294967295.4294967295>)")
        r = c.ok("FETCH 1 (BODY.PEEK[]<0.4294967295>)")
        still_works(c)


def test_many_fetch_items_and_header_fields(server):
    with_message(server)
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        fields = " ".join(f"X-F{i}" for i in range(3000))
        r = c.cmd(f"FETCH 1 (BODY.PEEK[HEADER.FIELDS ({fields})])")
        assert r.status in ("OK", "BAD"), r
        items = " ".join(["FLAGS", "UID", "RFC822.SIZE"] * 1000)
        r = c.cmd(f"FETCH 1 ({items})")
        assert r.status in ("OK", "BAD"), r
        # 10000+ arguments (IMAP_ARGS_MAX).
        r = c.cmd("SEARCH " + " ".join(["ALL"] * 12000))
        assert r.status == "BAD", r
        still_works(c)


# --- garbage and syntax ------------------------------------------------------

GARBAGE = [b"\x00\x00\x00\x00", b"\xff\xfe\xfd garbage \x80", b"\x16\x03\x01\x02\x00\x01\x00",
           b"GET / HTTP/1.1", b"* OK fake greeting", b"+ continuation", b")))(((",
           b"a1 \x00LOGIN", b"a2 NOOP \x00", b"\x1b[31mred"]


def test_garbage_lines(server):
    with imap_connect(server) as c:
        for g in GARBAGE:
            c.send(g + b"\r\n")
            line = c.readline()
            assert b" BAD " in line or line.startswith(b"* BAD"), (g, line)
        still_works(c)
        c.login()
        still_works(c)


def test_unknown_commands(server):
    with imap_connect(server) as c:
        for cmd in ("FROBNICATE", "XYZZY arg", "UID FROB 1", "SELECTX INBOX", "LOGINX a b"):
            r = c.cmd(cmd)
            assert r.status == "BAD", (cmd, r)
        c.login()
        for cmd in ("FROBNICATE", "UID FROB 1", "UID CAPABILITY", "UID SELECT INBOX"):
            r = c.cmd(cmd)
            assert r.status == "BAD", (cmd, r)
        still_works(c)


def test_commands_in_the_wrong_state(server):
    with_message(server)
    with imap_connect(server) as c:
        for cmd in ("SELECT INBOX", "EXAMINE INBOX", "LIST \"\" *", "CREATE X", "STATUS INBOX (MESSAGES)",
                    "APPEND INBOX {1+}\r\nx", "FETCH 1 FLAGS", "ENABLE CONDSTORE", "IDLE", "NAMESPACE",
                    "EXPUNGE", "CLOSE", "UNSELECT", "UID FETCH 1 FLAGS", "SUBSCRIBE INBOX"):
            r = c.cmd(cmd)
            assert r.status == "BAD", (cmd, r)
        c.login()
        still_works(c)
    # (A new session: too many BAD replies end a session.)
    with imap_login(server) as c:
        for cmd in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "EXPUNGE", "SEARCH ALL",
                    "COPY 1 Archive", "MOVE 1 Archive", "CLOSE", "UID EXPUNGE 1",
                    f"LOGIN {ALICE} x", "AUTHENTICATE PLAIN", "STARTTLS"):
            r = c.cmd(cmd)
            assert r.status == "BAD", (cmd, r)
        c.ok("SELECT INBOX")
        assert c.cmd("STARTTLS").status == "BAD"
        still_works(c)
    assert server.count(ALICE) == 1


def test_eight_bit_junk_in_quoted_strings(server):
    with imap_connect(server) as c:
        r = c.cmd(b'LOGIN "\xff\xfe" "\xc3\xa9"')
        assert r.status == "BAD", r
        c.login()
        for cmd in (b'SELECT "\xff"', b'CREATE "\xc3"', b'SEARCH SUBJECT "\x80\x81"',
                    b'LIST "" "\xfe*"', b'STATUS "\xff" (MESSAGES)'):
            r = c.cmd(cmd)
            assert r.status == "BAD", (cmd, r)
        c.ok("ENABLE UTF8=ACCEPT")
        # UTF-8 is allowed now, but not invalid UTF-8.
        for cmd in (b'CREATE "\xff\xfe"', b'CREATE "\xc3"', b'CREATE "\xed\xa0\x80"',
                    b'CREATE "\xc0\xaf"'):
            r = c.cmd(cmd)
            assert r.status in ("BAD", "NO"), (cmd, r)
        still_works(c)
    boxes = set(server.mailboxes(ALICE))
    assert boxes == {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}, boxes


def test_quoted_string_syntax(server):
    with imap_login(server) as c:
        for cmd in ('SELECT "INBOX', 'SELECT "IN\\XBOX"', 'SELECT "a\rb"', 'SELECT INBOX"',
                    'SELECT "INBOX""'):
            r = c.cmd(cmd)
            assert r.status in ("BAD", "NO"), (cmd, r)
        c.ok('SELECT "INBOX"')
        c.ok('CREATE "quote\\"and\\\\slash"')
        r = c.ok('LIST "" "quote*"')
        assert r.one("LIST").endswith(b'"quote\\"and\\\\slash"'), r
        still_works(c)


def test_bad_tags(server):
    with imap_connect(server) as c:
        for raw, in ((b"\r\n",), (b" NOOP\r\n",), (b"a" * 200 + b" NOOP\r\n",),
                     (b"a\x00b NOOP\r\n",), (b"a{b NOOP\r\n",), (b"a+b NOOP\r\n",),
                     (b"*NOOP\r\n",)):
            c.send(raw)
            line = c.readline()
            assert b"BAD" in line, (raw, line)
            assert len(line) < 300
        still_works(c)


def test_too_many_bad_commands_close_the_session(server):
    with imap_connect(server) as c:
        closed = False
        for i in range(100):
            try:
                c.send(f"b{i} FROBNICATE\r\n")
                line = c.readline()
            except (EOFError, OSError):
                closed = True
                break
            if line.startswith(b"* BYE"):
                assert c.closed(5)
                closed = True
                break
            assert line.startswith(f"b{i} BAD".encode()), line
        assert closed, "100 invalid commands and the session goes on"
        assert i >= 5, "closed after very few BAD commands"
    with imap_login(server) as c2:
        still_works(c2)


# --- clients that go away -----------------------------------------------------

def test_disconnect_in_the_middle_of_everything(server):
    for i in range(5):
        smtp_deliver(server, ALICE, make_message(f"big {i}", ["x" * 900] * 300))
    partials = [
        b"a1 LOGIN {10}\r\nalice",
        f"a1 LOGIN {ALICE} {imap_quote(PASSWORD)}\r\na2 SELECT INBOX\r\na3 FETCH 1:* BODY[]\r\n".encode(),
        f"a1 LOGIN {ALICE} {imap_quote(PASSWORD)}\r\na2 SELECT INBOX\r\na3 IDLE\r\n".encode(),
        f"a1 LOGIN {ALICE} {imap_quote(PASSWORD)}\r\na2 APPEND INBOX {{100000+}}\r\nabc".encode(),
        b"a1 AUTHENTICATE PLAIN\r\n",
        f"a1 LOGIN {ALICE} {imap_quote(PASSWORD)}\r\na2 SELECT INBOX\r\na3 SEARCH TEXT x\r\n".encode(),
    ]
    for p in partials:
        s = socket.create_connection(("127.0.0.1", server.imap_port), timeout=5)
        s.sendall(p)
        # Close at once, with a RST (SO_LINGER 0) for half of them.
        if len(p) % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    with imap_login(server) as c:
        r = c.ok("SELECT INBOX")
        assert r.find("5 EXISTS"), r
    assert server.count(ALICE) == 5


def test_fetch_without_reading_the_answer(server):
    """A client that asks for a lot and never reads: the server must not
    buffer everything (it stops at its high-water mark), and it must be
    able to stop cleanly with that session stuck."""
    for i in range(20):
        smtp_deliver(server, ALICE, make_message(f"unread {i}", ["y" * 990] * 200))
    c = imap_login(server)
    c.ok("SELECT INBOX")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for i in range(10):
        c.send(f"f{i} FETCH 1:* BODY.PEEK[]\r\n")
    with imap_login(server) as other:
        other.ok("SELECT INBOX")
        still_works(other)
    server.stop()
    c.close()


# --- a seeded fuzz of mutated commands ---------------------------------------

SEEDS = [b"a LOGIN alice@example.test \"x\"", b"a SELECT INBOX", b"a FETCH 1:* (FLAGS BODY[HEADER.FIELDS (A B)]<0.10>)",
         b"a SEARCH OR (FROM x) (NOT SEEN) UID 1:*", b"a STORE 1 +FLAGS.SILENT (\\Seen kw)",
         b"a LIST (SUBSCRIBED) \"\" (\"*\" \"%\") RETURN (STATUS (MESSAGES SIZE))",
         b"a APPEND INBOX (\\Seen) \"01-Jan-2020 00:00:00 +0000\" {3+}\r\nabc",
         b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", b"a SELECT INBOX (QRESYNC (1 1 1:2))",
         b"a STATUS INBOX (MESSAGES SIZE)", b"a ENABLE QRESYNC UTF8=ACCEPT", b"a ID (\"k\" \"v\")",
         b"a RENAME \"A/B\" \"C\"", b"a MOVE 1:2 Trash", b"a UID EXPUNGE 1:*"]
SPECIAL_BYTES = b"(){}[]<>\"\\*%:,+~ \x00\x7f\x80\xff\r\n0123456789"


def mutate(rng, s):
    b = bytearray(s)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(4)
        pos = rng.randrange(len(b) + 1)
        if op == 0 and b:
            del b[min(pos, len(b) - 1)]
        elif op == 1:
            b[pos:pos] = bytes([rng.choice(SPECIAL_BYTES)])
        elif op == 2 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        else:
            b[pos:pos] = b[pos:pos + rng.randint(1, 20)] * rng.randint(1, 50)
    return bytes(b).replace(b"\r\n", b" ")


def test_seeded_fuzz(server):
    with_message(server)
    rng = random.Random(20261122)
    sent = 0
    for conn in range(6):
        with imap_login(server) as c:
            c.ok("ENABLE CONDSTORE")
            c.ok("SELECT INBOX")
            for _ in range(15):
                cmd = mutate(rng, rng.choice(SEEDS))
                # A mutated literal size might wait for data: never send "{".
                cmd = cmd.replace(b"{", b"(")
                tag = b"z%d" % sent
                sent += 1
                try:
                    c.send(tag + b" " + cmd.split(b" ", 1)[-1] + b"\r\n")
                    c.send(tag + b"n NOOP\r\n")
                    # Read up to the NOOP's answer (or the end of the session).
                    for _ in range(100000):
                        if c.read_logical().startswith(tag + b"n "):
                            break
                except (EOFError, OSError):
                    break
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        still_works(c)


# --- lines read outside the command parser ------------------------------------

def test_authenticate_response_line_too_long(server):
    with imap_connect(server) as c:
        c.send("x1 AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith(b"+")
        c.send(b"QUFB" * 3000 + b"\r\n")            # 12000 base64 chars
        r = c.read_response("x1")
        assert r.status == "BAD", r
        still_works(c)
        c.login()


def test_idle_long_garbage_line(server):
    with imap_login(server) as c:
        c.ok("SELECT INBOX")
        c.send("i1 IDLE\r\n")
        assert c.readline().startswith(b"+")
        c.send("x" * 100 + "\r\n")
        r = c.read_response("i1")
        assert r.status == "BAD", r
        still_works(c)


@pytest.mark.server(**{"imap.allow_plaintext": "loopback",
                       "server.max_message_size": "100K", "server.max_buffered": "20K"})
def test_literals_share_the_memory_budget(server):
    """APPEND literals count against [server] max_buffered with the SMTP
    messages of every session: a literal that does not fit next to an SMTP
    message in progress is refused with a tagged BAD (try again later),
    the session goes on, and once the room comes back the APPEND works."""
    with server.connect() as s, imap_login(server) as c:
        s.ehlo()
        s.expect("MAIL FROM:<sender@remote.example.org>", 250)
        s.expect(f"RCPT TO:<alice@{DOMAIN}>", 250)
        s.expect("DATA", 354)
        s.send(b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 150)
        assert s.silent(0.3)                   # about 12K held by SMTP
        msg = b"Subject: appended\r\n\r\n" + (b"z" * 78 + b"\r\n") * 120   # about 9.6K
        c.send(f"a1 APPEND INBOX {{{len(msg)}}}\r\n".encode())
        r = c.read_response("a1")
        assert r.status == "BAD" and "try again later" in r.text, r
        still_works(c)
        s.send(b".\r\n")
        s.expect_reply(250, "250 2.0.0")
        r = c.append_literal("INBOX", msg)
        assert r.status == "OK", r
        r = c.ok("STATUS INBOX (MESSAGES)")
        assert "MESSAGES 2" in r.one("STATUS").decode(), r
