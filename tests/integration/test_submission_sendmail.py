"""`correio sendmail` (and the `sendmail` name): a message on standard
input from a local program, recipients as arguments or (-t) from the
header, -f, -F, -i/-oi; local recipients delivered, remote ones queued;
Date:, Message-ID: and From: added as needed. Run with no server: it
writes to the store directly."""
import os
import re

from conftest import DOMAIN, HOSTNAME, correio_bin, run_cli, split_stored

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"
REMOTE = "friend@remote.example.org"


def sendmail(inst, args, text):
    return run_cli(["sendmail", "-C", inst.conf] + list(args), input=text)


def header_of(stored):
    rest = split_stored(stored)[2]
    return rest.split(b"\r\n\r\n", 1)[0]


def queue_rows(inst):
    p = inst.cli_ok("queue", "list")
    return [l.split("\t") for l in p.stdout.splitlines() if l]


def test_recipients_as_arguments(instance):
    p = sendmail(instance, [BOB, CAROL], "Subject: cron\n\nline 1\n.\nafter\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "" and p.stderr == ""
    for who in (BOB, CAROL):
        assert instance.count(who) == 1
    stored = instance.get(BOB, 1)
    rp, received, rest = split_stored(stored)
    assert b"Correio sendmail" in received
    hdr = header_of(stored)
    # From, Date and Message-ID added; the sender is the login name
    login = __import__("pwd").getpwuid(os.getuid()).pw_name
    assert rp == f"Return-Path: <{login}@{HOSTNAME}>".encode()
    assert f"From: <{login}@{HOSTNAME}>".encode() in hdr
    assert re.search(rb"(?m)^Date: ", hdr)
    assert re.search(rb"(?m)^Message-ID: <[^>]+@" + HOSTNAME.encode() + rb">", hdr)
    # LF became CRLF; a lone dot ended the input
    assert rest.endswith(b"\r\n\r\nline 1\r\n"), rest


def test_dash_i_keeps_lone_dots(instance):
    for opt in ("-i", "-oi"):
        p = sendmail(instance, [opt, BOB], "Subject: dots\n\na\n.\nb\n")
        assert p.returncode == 0, p.stderr
    for uid in (1, 2):
        assert instance.get(BOB, uid).endswith(b"a\r\n.\r\nb\r\n")


def test_dash_f_and_dash_F(instance):
    p = sendmail(instance, ["-f", ALICE, "-F", 'Alice "A" Liddell', BOB],
                 "Subject: named\n\nhi\n")
    assert p.returncode == 0, p.stderr
    stored = instance.get(BOB, 1)
    assert stored.startswith(f"Return-Path: <{ALICE}>".encode())
    assert f'From: "Alice \\"A\\" Liddell" <{ALICE}>'.encode() in header_of(stored)
    # a From: already there is kept
    p = sendmail(instance, ["-f", ALICE, BOB],
                 f"From: Someone <{CAROL}>\nDate: Mon, 02 Nov 2026 10:00:00 +0000\n"
                 "Message-ID: <x@y>\n\nhi\n")
    assert p.returncode == 0, p.stderr
    hdr = header_of(instance.get(BOB, 2))
    assert hdr.count(b"From:") == 1 and f"<{CAROL}>".encode() in hdr
    assert hdr.count(b"Date:") == 1 and hdr.count(b"Message-ID:") == 1


def test_dash_t_reads_recipients_and_drops_bcc(instance):
    text = (f"From: <{ALICE}>\nTo: Bob <{BOB}>,\n  {REMOTE}\n"
            f"Cc: <{CAROL}>\nBcc: <{ALICE}>\nSubject: t\n\nbody\n")
    p = sendmail(instance, ["-t", "-f", ALICE], text)
    assert p.returncode == 0, p.stderr
    for who in (ALICE, BOB, CAROL):
        assert instance.count(who) == 1, who
    hdr = header_of(instance.get(CAROL, 1))
    assert b"Bcc" not in hdr
    assert b"To: Bob" in hdr and b"Cc: <" in hdr
    rows = queue_rows(instance)
    assert len(rows) == 1 and rows[0][1] == ALICE and rows[0][2] == REMOTE
    show = instance.cli_ok("queue", "show", rows[0][0]).stdout
    assert "Bcc" not in show and "Subject: t" in show


def test_remote_only_is_queued(instance):
    p = sendmail(instance, ["-f", ALICE, REMOTE, f"Other <x@Remote.Example.ORG>"],
                 "Subject: out\n\nbody\n")
    assert p.returncode == 0, p.stderr
    rows = queue_rows(instance)
    assert len(rows) == 1
    assert rows[0][2] == f"{REMOTE},x@remote.example.org"
    assert "Subject: out" in instance.cli_ok("queue", "show", rows[0][0]).stdout


def test_no_body_header_separation(instance):
    """A message without a header: the text is the body."""
    p = sendmail(instance, [BOB], "just a line of text\nand another\n")
    assert p.returncode == 0, p.stderr
    stored = instance.get(BOB, 1)
    assert stored.endswith(b"\r\n\r\njust a line of text\r\nand another\r\n")


def test_errors(instance):
    p = sendmail(instance, [], "x\n")
    assert p.returncode == 2
    p = sendmail(instance, [f"nobody@{DOMAIN}", BOB], "Subject: x\n\nx\n")
    assert p.returncode == 1 and "no such user" in p.stderr
    assert instance.count(BOB) == 0
    p = sendmail(instance, ["-f", "not an address", BOB], "x\n")
    assert p.returncode == 1
    p = sendmail(instance, ["-bs"], "")
    assert p.returncode == 2
    p = sendmail(instance, ["-t"], "Subject: nobody\n\nx\n")
    assert p.returncode == 1 and "no recipients" in p.stderr


def test_sendmail_name(instance, tmp_path):
    """Installed as `sendmail`, the binary is sendmail."""
    link = tmp_path / "sendmail"
    os.symlink(correio_bin(), link)
    import subprocess
    from conftest import child_env
    p = subprocess.run([str(link), "-C", instance.conf, BOB],
                       input=b"Subject: via link\n\nx\n", env=child_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, p.stderr
    assert instance.count(BOB) == 1


def test_server_sees_sendmail_mail(server):
    p = sendmail(server.inst, ["-f", ALICE, BOB], "Subject: live\n\nx\n")
    assert p.returncode == 0, p.stderr
    assert server.count(BOB) == 1
