"""The correio command line: --help, usage errors (exit 2, one line),
runtime errors (exit 1), config errors (FILE:LINE: message), and the
admin subcommands' rules."""
import os
import socket

import pytest

from conftest import DOMAIN, HOSTNAME, PASSWORD, USERS, Instance, free_port, run_cli

ALICE, BOB, CAROL = (f"{u}@{DOMAIN}" for u in USERS)
SUBCOMMANDS = ("init", "serve", "domain", "user", "alias", "mailbox", "message", "dns")


def one_line_error(p):
    err = p.stderr.strip("\n")
    assert err, "no message on stderr"
    assert "\n" not in err, f"more than one line on stderr: {p.stderr!r}"
    assert err.startswith("correio: "), err
    return err


# --- help --------------------------------------------------------------------

@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_subcommand_help(cmd):
    p = run_cli([cmd, "--help"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"usage: correio {cmd}"), p.stdout
    assert p.stderr == ""


@pytest.mark.parametrize("args", [["--help"], ["help"], ["-h"]])
def test_main_help(args):
    p = run_cli(args)
    assert p.returncode == 0
    for cmd in SUBCOMMANDS:
        assert f"  {cmd} " in p.stdout, p.stdout


# --- usage errors ------------------------------------------------------------

USAGE_ERRORS = [
    [],
    ["bogus"],
    ["init"],
    ["init", "--dir", "/nonexistent/x"],
    ["init", "--dir", "/nonexistent/x", "--domain", "not a domain"],
    ["init", "--dir", "/nonexistent/x", "--domain", "ok.test", "--bogus"],
    ["init", "--dir", "/nonexistent/x", "--domain", "ok.test", "extra"],
    ["serve", "--bogus"],
    ["serve", "-c", "CONF", "extra"],
    ["domain", "-c", "CONF"],
    ["domain", "frob", "-c", "CONF"],
    ["domain", "add", "-c", "CONF"],
    ["domain", "add", "bad..domain", "-c", "CONF"],
    ["domain", "list", "extra", "-c", "CONF"],
    ["user", "-c", "CONF"],
    ["user", "add", "-c", "CONF"],
    ["user", "add", "not-an-address", "-c", "CONF"],
    ["user", "add", "a@example.test", "b@example.test", "-c", "CONF"],
    ["user", "list", "--password-stdin", "-x", "-c", "CONF"],
    ["alias", "add", "x@example.test", "-c", "CONF"],
    ["alias", "add", "x@example.test", "not an address", "-c", "CONF"],
    ["alias", "-c", "CONF"],
    ["alias", "add", "x@example.test", "alice@example.test", "--password-stdin", "-c", "CONF"],
    ["mailbox", "-c", "CONF"],
    ["mailbox", "list", "-c", "CONF"],
    ["mailbox", "create", "alice@example.test", "-c", "CONF"],
    ["message", "-c", "CONF"],
    ["message", "list", "alice@example.test", "-c", "CONF"],
    ["message", "get", "alice@example.test", "INBOX", "-c", "CONF"],
    ["message", "get", "alice@example.test", "INBOX", "abc", "-c", "CONF"],
    ["message", "get", "alice@example.test", "INBOX", "0", "-c", "CONF"],
    ["message", "get", "alice@example.test", "INBOX", "99999999999", "-c", "CONF"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=[" ".join(a) or "(none)" for a in USAGE_ERRORS])
def test_usage_error(template_instance, args):
    args = [template_instance.conf if a == "CONF" else a for a in args]
    p = run_cli(args)
    assert p.returncode == 2, f"{args}: exit {p.returncode}, stderr {p.stderr!r}"
    one_line_error(p)
    assert p.stdout == ""


# --- config errors -----------------------------------------------------------

def conf_with(instance, extra_by_section, replace=None):
    """The instance's config with lines added at the end of sections, or
    one line replaced; returns (path, line number of the change)."""
    lines = open(instance.conf).read().split("\n")
    if replace:
        old, new = replace
        n = lines.index(old)
        lines[n] = new
        lineno = n + 1
    else:
        section, line = extra_by_section
        n = lines.index(f"[{section}]")
        lines.insert(n + 1, line)
        lineno = n + 2
    path = os.path.join(instance.dir, "bad.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path, lineno


CONFIG_ERRORS = [
    (("smtp", "lsten = 127.0.0.1:25"), None),
    (("smtp", "max_recipients = 0"), None),
    (("smtp", "max_errors = 10 # comment"), None),
    (("smtp", "timeout = 5 minutes"), None),
    (("smtp", "listen = localhost:25"), None),
    (("smtp", "listen = 127.0.0.1:70000"), None),
    (("server", "max_message_size = 10MB"), None),
    (("log", "level = loud"), None),
    (("server", "this is not an ini line"), None),
    (None, ("[smtp]", "[smpt]")),
    (None, ("listen = 127.0.0.1:2525", "listen = 127.0.0.1:2525\nlisten = 127.0.0.1:2526")),
]


@pytest.mark.parametrize("extra,replace", CONFIG_ERRORS,
                         ids=[str(e or r) for e, r in CONFIG_ERRORS])
def test_config_error_names_file_and_line(instance, extra, replace):
    path, lineno = conf_with(instance, extra, replace)
    if replace and "\n" in replace[1]:
        lineno += 1     # the duplicate is the second line
    p = run_cli(["serve", "-c", path], timeout=20)
    assert p.returncode == 1, f"exit {p.returncode}: {p.stderr}"
    first = p.stderr.strip().split("\n")[-1]
    assert first.startswith(f"{path}:{lineno}: ") or f"{path}:{lineno}: " in p.stderr, \
        p.stderr
    assert "serve ready" not in p.stderr


@pytest.mark.parametrize("override", ["smtp.nope=1", "nosection.key=1", "smtp.listen",
                                      "smtp.max_recipients=0", "smtp.timeout=-1",
                                      "server.max_message_size=1T"])
def test_bad_override(instance, override):
    p = run_cli(["serve", "-c", instance.conf, "-o", override], timeout=20)
    assert p.returncode == 1, f"exit {p.returncode}: {p.stderr}"
    assert f"-o {override}" in p.stderr, p.stderr
    assert "serve ready" not in p.stderr


def test_missing_config():
    p = run_cli(["serve", "-c", "/nonexistent/correio.conf"], timeout=20)
    assert p.returncode == 1
    assert "/nonexistent/correio.conf" in p.stderr
    p = run_cli(["user", "list", "-c", "/nonexistent/correio.conf"])
    assert p.returncode == 1
    one_line_error(p)


def test_serve_missing_certificate(instance):
    p = run_cli(["serve", "-c", instance.conf, "-o", f"smtp.listen=127.0.0.1:{free_port()}",
                 "-o", "tls.cert=/nonexistent/cert.pem"], timeout=20)
    assert p.returncode == 1, p.stderr
    assert "/nonexistent/cert.pem" in p.stderr
    assert "serve ready" not in p.stderr


def test_serve_port_in_use(instance):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = run_cli(["serve", "-c", instance.conf, "-o", f"smtp.listen=127.0.0.1:{port}"],
                    timeout=20)
    assert p.returncode == 1, p.stderr
    assert "serve ready" not in p.stderr


def test_serve_refuses_root_without_user(instance):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    p = run_cli(["serve", "-c", instance.conf, "-o", f"smtp.listen=127.0.0.1:{free_port()}",
                 "-o", "server.user="], timeout=20)
    assert p.returncode == 1, p.stderr
    assert "root" in p.stderr
    assert "serve ready" not in p.stderr


# --- init --------------------------------------------------------------------

def test_init_refuses_existing_instance(template_instance):
    p = run_cli(["init", "--dir", template_instance.dir, "--domain", "other.test"])
    assert p.returncode == 1
    one_line_error(p)


def test_init_writes_instance(tmp_path):
    d = str(tmp_path / "fresh")
    p = run_cli(["init", "--dir", d, "--domain", "Fresh.Test"])
    assert p.returncode == 0, p.stderr
    inst = Instance(d)
    conf = open(inst.conf).read()
    assert "hostname = mail.fresh.test" in conf
    assert os.path.isfile(inst.cert)
    assert os.stat(os.path.join(d, "tls", "key.pem")).st_mode & 0o077 == 0, \
        "TLS private key readable by group or others"
    p = inst.cli("domain", "list")
    assert p.returncode == 0 and p.stdout.split() == ["fresh.test"]


def test_instance_under_private_parent_dir(tmp_path):
    """pytest's tmp_path is under /tmp/pytest-of-root (mode 0700, root):
    an instance made there by root must work, since the server and the
    admin commands chdir into the data directory before dropping to the
    unprivileged user."""
    d = tmp_path / "inst"
    p = run_cli(["init", "--dir", str(d), "--domain", DOMAIN, "--hostname", HOSTNAME])
    assert p.returncode == 0, p.stderr
    inst = Instance(d)
    inst.cli_ok("user", "add", "--password-stdin", ALICE, input=PASSWORD + "\n")
    assert inst.count(ALICE) == 0


# --- admin rules -------------------------------------------------------------

def test_user_add_twice(instance):
    p = instance.cli("user", "add", "--password-stdin", ALICE, input="another\n")
    assert p.returncode == 1
    one_line_error(p)


def test_user_add_needs_hosted_domain(instance):
    p = instance.cli("user", "add", "--password-stdin", "x@not-hosted.test", input="pw\n")
    assert p.returncode == 1
    one_line_error(p)


def test_user_add_needs_password(instance):
    for pw in ("", "\n"):
        p = instance.cli("user", "add", "--password-stdin", f"dave@{DOMAIN}", input=pw)
        assert p.returncode == 1, p.stderr
        one_line_error(p)
    assert f"dave@{DOMAIN}" not in instance.cli_ok("user", "list").stdout


def test_user_list_add_del(instance):
    assert instance.cli_ok("user", "list").stdout.split() == sorted([ALICE, BOB, CAROL])
    instance.cli_ok("user", "add", "--password-stdin", f"Dave@{DOMAIN}", input="pw\n")
    assert f"dave@{DOMAIN}" in instance.cli_ok("user", "list", DOMAIN).stdout.split()
    instance.cli_ok("user", "del", CAROL)
    assert CAROL not in instance.cli_ok("user", "list").stdout.split()
    p = instance.cli("user", "del", CAROL)
    assert p.returncode == 1
    one_line_error(p)


def test_user_passwd(instance):
    instance.cli_ok("user", "passwd", "--password-stdin", ALICE, input="new password\n")
    p = instance.cli("user", "passwd", "--password-stdin", f"nobody@{DOMAIN}", input="x\n")
    assert p.returncode == 1
    one_line_error(p)


def test_alias_to_missing_target(instance):
    p = instance.cli("alias", "add", f"team@{DOMAIN}", f"nobody@{DOMAIN}")
    assert p.returncode == 1
    one_line_error(p)
    assert f"team@{DOMAIN}" not in instance.cli_ok("alias", "list").stdout


def test_alias_in_unhosted_domain(instance):
    p = instance.cli("alias", "add", "team@elsewhere.test", ALICE)
    assert p.returncode == 1
    one_line_error(p)


def test_alias_shadowing_user_refused(instance):
    p = instance.cli("alias", "add", ALICE, BOB)
    assert p.returncode == 1, "an alias with a user's address was accepted"
    one_line_error(p)


def test_alias_list_and_del(instance):
    instance.cli_ok("alias", "add", f"team@{DOMAIN}", ALICE, BOB)
    lines = instance.cli_ok("alias", "list").stdout.splitlines()
    assert sorted(lines) == [f"team@{DOMAIN}\t{ALICE}", f"team@{DOMAIN}\t{BOB}"]
    instance.cli_ok("alias", "del", f"team@{DOMAIN}", BOB)
    assert instance.cli_ok("alias", "list").stdout.splitlines() == [f"team@{DOMAIN}\t{ALICE}"]
    instance.cli_ok("alias", "del", f"team@{DOMAIN}")
    assert instance.cli_ok("alias", "list").stdout == ""


def test_domain_del_with_users(instance):
    p = instance.cli("domain", "del", DOMAIN)
    assert p.returncode == 1
    one_line_error(p)
    assert DOMAIN in instance.cli_ok("domain", "list").stdout.split()
    assert ALICE in instance.cli_ok("user", "list").stdout.split()


def test_domain_add_list_del(instance):
    instance.cli_ok("domain", "add", "second.test")
    assert sorted(instance.cli_ok("domain", "list").stdout.split()) == [DOMAIN, "second.test"]
    p = instance.cli("domain", "add", "second.test")
    assert p.returncode == 1
    one_line_error(p)
    instance.cli_ok("domain", "del", "second.test")
    assert instance.cli_ok("domain", "list").stdout.split() == [DOMAIN]
    p = instance.cli("domain", "del", "second.test")
    assert p.returncode == 1


def test_message_get_missing(instance):
    p = instance.cli("message", "get", ALICE, "INBOX", "1")
    assert p.returncode == 1
    one_line_error(p)
    assert p.stdout == ""


@pytest.mark.parametrize("args", [["mailbox", "list", f"nobody@{DOMAIN}"],
                                  ["message", "list", f"nobody@{DOMAIN}", "INBOX"],
                                  ["message", "list", ALICE, "NoSuchBox"]])
def test_lookup_errors(instance, args):
    p = instance.cli(*args)
    assert p.returncode == 1, f"{args}: exit {p.returncode} {p.stdout!r}"
    one_line_error(p)


def test_inbox_name_case_insensitive(instance):
    a = instance.cli_ok("message", "list", ALICE, "inbox").stdout
    assert a == instance.cli_ok("message", "list", ALICE, "INBOX").stdout
