"""Fixtures for the integration tests: a real `correio serve` on a free
loopback port, its admin CLI, and a raw-socket SMTP client.

    CORREIO_BIN=$PWD/build-asan/correio python3 -m pytest tests/integration

Every instance is made by `correio init` (domain example.test, host name
mail.example.test) with the users alice, bob and carol @example.test. The
init is done once per run into a template directory, which each test copies
(`cp -a`, which keeps the owner of data/ that init chowned).

No lookup leaves the machine: a private unbound (the session fixture
`dns_server`) listens on a loopback address with a static root zone, serving
only the test zones of DNS_ZONES below, and every server a test starts, and
every `correio dns` the tests run, gets `-o dns.resolver=IP@PORT` for it
(DNS_RESOLVER). Reverse lookups too: 127.in-addr.arpa is one of its zones.

Every wait is bounded: sockets have timeouts, subprocesses have timeouts,
and the server must stop within STOP_TIMEOUT of SIGTERM.
"""
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import time

import pytest

DOMAIN = "example.test"
HOSTNAME = "mail.example.test"
USERS = ("alice", "bob", "carol")
PASSWORD = "correct horse battery staple"

CLI_TIMEOUT = 30        # one admin command, under ASan
START_TIMEOUT = 15      # from exec to "serve ready"
STOP_TIMEOUT = 10       # from SIGTERM to exit
IO_TIMEOUT = 10         # one socket read

# What the sanitizers print when they find something. Any of these in the
# server's stderr fails the test that ran it.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer",
                     "runtime error:", "ERROR: UndefinedBehaviorSanitizer")


# --- test DNS -----------------------------------------------------------------
#
# The zones of the tests' private unbound, as {zone: [records]}, records in
# zone-file syntax with absolute names. Any name outside them (and any name
# inside them without records) gets NXDOMAIN, and nothing is asked of any
# other server: the root zone is static. Add zones here for new tests.
DNS_ZONES = {
    # MX with two preferences; the first exchange's address has nothing
    # listening, the second is the machine.
    "twomx.test": [
        "twomx.test. MX 10 mx-dead.twomx.test.",
        "twomx.test. MX 20 mx-live.twomx.test.",
        "mx-dead.twomx.test. A 127.0.0.9",
        "mx-live.twomx.test. A 127.0.0.1",
    ],
    # No MX: the implicit MX is the domain itself (RFC 5321 5.1).
    "implicit.test": [
        "implicit.test. A 127.0.0.1",
    ],
    # Null MX (RFC 7505): accepts no mail.
    "nullmx.test": [
        "nullmx.test. MX 0 .",
        "nullmx.test. A 127.0.0.1",
    ],
    # Both address families, and no MX.
    "dual.test": [
        "dual.test. AAAA ::1",
        "dual.test. A 127.0.0.1",
    ],
    # An exchange that is a CNAME (RFC 5321 5.1 says it should not be;
    # resolvers follow it anyway).
    "cname.test": [
        "cname.test. MX 10 alias.cname.test.",
        "alias.cname.test. CNAME mx-live.twomx.test.",
    ],
    # Three exchanges of equal preference: tried in random order.
    "equal.test": [
        "equal.test. MX 10 a.equal.test.",
        "equal.test. MX 10 b.equal.test.",
        "equal.test. MX 10 c.equal.test.",
        "equal.test. MX 20 z.equal.test.",
        "a.equal.test. A 127.0.0.11",
        "b.equal.test. A 127.0.0.12",
        "c.equal.test. A 127.0.0.13",
        "z.equal.test. A 127.0.0.14",
    ],
    # An exchange that is not a host name, one without address, one good.
    "badmx.test": [
        "badmx.test. MX 10 bad_host.badmx.test.",
        "badmx.test. MX 20 noaddr.badmx.test.",
        "badmx.test. MX 30 mx-live.twomx.test.",
        "noaddr.badmx.test. TXT \"no address here\"",
    ],
    # MX whose exchanges have no address at all.
    "deadend.test": [
        "deadend.test. MX 10 nowhere.deadend.test.",
    ],
    # TXT: two character-strings, joined by the resolver (RFC 7208 3.3);
    # and one with a quote and a backslash, printed escaped.
    "txt.test": [
        "txt.test. TXT \"v=spf1 ip4:127.0.0.1 \" \"-all\"",
        "odd.txt.test. TXT \"a\\\"b\\\\c\"",
    ],
    # An internationalized domain: bücher.test.
    "xn--bcher-kva.test": [
        "xn--bcher-kva.test. MX 10 mx-live.twomx.test.",
    ],
    # The test servers' own domain.
    "example.test": [
        "example.test. MX 10 mail.example.test.",
        "mail.example.test. A 127.0.0.1",
        "loopback1.example.test. A 127.0.0.1",
        "loopback2.example.test. A 127.0.0.2",
    ],
    # Outbound delivery (test_outbound.py): the remote Correio listens on
    # 127.0.0.2, the test's small SMTP servers on 127.0.0.3 and .4, all
    # on the port the sending server is told ([queue] port).
    "remote.test": [
        "remote.test. MX 10 mx.remote.test.",
        "mx.remote.test. A 127.0.0.2",
    ],
    # First exchange dead (nothing on 127.0.0.9), the second the remote.
    "backup.test": [
        "backup.test. MX 10 mx-dead.backup.test.",
        "backup.test. MX 20 mx.remote.test.",
        "mx-dead.backup.test. A 127.0.0.9",
    ],
    "tempfail.test": [
        "tempfail.test. MX 10 mx.tempfail.test.",
        "mx.tempfail.test. A 127.0.0.3",
    ],
    "reject.test": [
        "reject.test. MX 10 mx.reject.test.",
        "mx.reject.test. A 127.0.0.4",
    ],
    # SPF (test_spf.py); the test clients connect from 127.0.0.1.
    "spf.test": [
        'pass.spf.test. TXT "v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.0/8 -all"',
        'fail.spf.test. TXT "v=spf1 ip4:192.0.2.1 exp=exp.spf.test -all"',
        'exp.spf.test. TXT "%{d} does not send mail from %{i}"',
        'bare.spf.test. TXT "v=spf1 -all"',
        'soft.spf.test. TXT "v=spf1 ~all"',
        'include.spf.test. TXT "v=spf1 include:pass.spf.test -all"',
        'helo.spf.test. TXT "v=spf1 a -all"',
        'helo.spf.test. A 127.0.0.1',
        'broken.spf.test. TXT "v=spf1 ip4:127.0.0.1/33 -all"',
    ],
    # test_outbound_peers.py: aiosmtpd peers, each on its own address,
    # on the sending server's [queue] port. plain: no CHUNKING, no
    # PIPELINING, no SMTPUTF8; utf8: SMTPUTF8; badtls: a STARTTLS that
    # breaks or is refused; silent: accepts connections, never greets.
    "plain.test": [
        "plain.test. MX 10 mx.plain.test.",
        "mx.plain.test. A 127.0.0.5",
    ],
    "utf8.test": [
        "utf8.test. MX 10 mx.utf8.test.",
        "mx.utf8.test. A 127.0.0.6",
    ],
    "badtls.test": [
        "badtls.test. MX 10 mx.badtls.test.",
        "mx.badtls.test. A 127.0.0.7",
    ],
    "silent.test": [
        "silent.test. MX 10 mx.silent.test.",
        "mx.silent.test. A 127.0.0.8",
    ],
    # CHUNKING without PIPELINING (a small scripted server: aiosmtpd has
    # no BDAT).
    "chunk.test": [
        "chunk.test. MX 10 mx.chunk.test.",
        "mx.chunk.test. A 127.0.0.10",
    ],
    # A hostile server: replies beyond the client's limits.
    "hostile.test": [
        "hostile.test. MX 10 mx.hostile.test.",
        "mx.hostile.test. A 127.0.0.11",
    ],
    # MX that point back at the sending server (RFC 5321 5.1): by its
    # listen address (127.0.0.1), by its host name, and as a backup MX
    # between a dead exchange and the plain peer.
    "loopaddr.test": [
        "loopaddr.test. MX 10 mx.loopaddr.test.",
        "mx.loopaddr.test. A 127.0.0.1",
    ],
    "loopname.test": [
        "loopname.test. MX 10 mail.example.test.",
    ],
    "selfbackup.test": [
        "selfbackup.test. MX 10 mx-dead.backup.test.",
        "selfbackup.test. MX 20 mail.example.test.",
        "selfbackup.test. MX 30 mx.plain.test.",
    ],
    # Reverse lookups of the addresses the tests use.
    "127.in-addr.arpa": [
        "1.0.0.127.in-addr.arpa. PTR loopback1.example.test.",
        "2.0.0.127.in-addr.arpa. PTR loopback2.example.test.",
    ],
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa": [],
}

# "IP@PORT" of the running test resolver (set by the dns_server fixture).
DNS_RESOLVER = None
DNS_ADDRESS = "127.0.0.53"
DNS_START_TIMEOUT = 15


def dns_query_packet(name, qtype=1, qid=0x4321):
    """A DNS query (RD set) for NAME, as bytes."""
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split("."))
    return (qid.to_bytes(2, "big") + b"\x01\x00" + b"\x00\x01" + b"\x00" * 6
            + q + b"\x00" + qtype.to_bytes(2, "big") + b"\x00\x01")


def dns_free_port(address):
    """A port free for both UDP and TCP on ADDRESS a moment ago."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((address, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((address, port))
                except OSError:
                    continue
                return port
    raise AssertionError(f"no free port on {address}")


def unbound_config(tmpdir, address, port, zones):
    """The private unbound's config: loopback only, static root, no
    trust anchor, no remote control, no privileges dropped."""
    lines = [
        "server:",
        f"    interface: {address}@{port}",
        f"    port: {port}",
        "    do-daemonize: no",
        '    username: ""',
        '    chroot: ""',
        f'    directory: "{tmpdir}"',
        f'    pidfile: "{tmpdir}/unbound.pid"',
        "    use-syslog: no",
        '    logfile: ""',
        "    verbosity: 1",
        "    do-ip6: no",
        '    module-config: "iterator"',
        "    access-control: 127.0.0.0/8 allow",
        # Nothing is ever asked of another server.
        '    local-zone: "." static',
    ]
    for zone, records in zones.items():
        lines.append(f'    local-zone: "{zone}." static')
        for r in records:
            lines.append(f"    local-data: '{r}'")
    lines += ["remote-control:", "    control-enable: no", ""]
    return "\n".join(lines)


def unbound_start(tmpdir, zones):
    """Starts a private unbound serving ZONES in TMPDIR; returns (proc,
    "IP@PORT"). Stop it with unbound_stop(proc)."""
    unbound = shutil.which("unbound") or "/usr/sbin/unbound"
    if not os.access(unbound, os.X_OK):
        pytest.exit("unbound is not installed (scripts/install-deps)", 2)
    proc = None
    for attempt in range(3):
        port = dns_free_port(DNS_ADDRESS)
        conf = tmpdir / "unbound.conf"
        conf.write_text(unbound_config(tmpdir, DNS_ADDRESS, port, zones))
        check = subprocess.run([unbound + "-checkconf", str(conf)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=CLI_TIMEOUT)
        assert check.returncode == 0, f"unbound-checkconf:\n{check.stdout}"
        log = open(tmpdir / f"unbound-{port}.log", "wb")
        proc = subprocess.Popen([unbound, "-d", "-c", str(conf)],
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        if dns_wait_ready(proc, DNS_ADDRESS, port):
            break
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)
        proc = None
    assert proc is not None, "the test unbound did not start: " + \
        (tmpdir / f"unbound-{port}.log").read_text(errors="replace")
    return proc, f"{DNS_ADDRESS}@{port}"


def unbound_stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session", autouse=True)
def dns_server(tmp_path_factory):
    """The tests' private resolver; yields "IP@PORT" (also DNS_RESOLVER).
    Stopped by its pid at the end of the session."""
    global DNS_RESOLVER
    proc, DNS_RESOLVER = unbound_start(tmp_path_factory.mktemp("unbound"),
                                       DNS_ZONES)
    yield DNS_RESOLVER
    DNS_RESOLVER = None
    unbound_stop(proc)


def dns_wait_ready(proc, address, port):
    """True once the unbound at ADDRESS:PORT answers a query; False if it
    exits first or does not answer within DNS_START_TIMEOUT."""
    deadline = time.monotonic() + DNS_START_TIMEOUT
    pkt = dns_query_packet("implicit.test")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(pkt, (address, port))
                data = s.recv(4096)
                if data[:2] == pkt[:2]:
                    return True
            except OSError:
                pass
        time.sleep(0.05)
    return False


def dns_overrides():
    """The -o arguments that point a correio at the test resolver."""
    assert DNS_RESOLVER is not None, "the dns_server fixture is not running"
    return ["-o", f"dns.resolver={DNS_RESOLVER}"]


_BIN = None


def correio_bin():
    """The binary under test, checked once per run."""
    global _BIN
    if _BIN is not None:
        return _BIN
    b = os.environ.get("CORREIO_BIN")
    if not b:
        here = os.path.dirname(os.path.abspath(__file__))
        b = os.path.join(here, "..", "..", "build-asan", "correio")
    b = os.path.abspath(b)
    if not os.access(b, os.X_OK):
        pytest.exit(f"CORREIO_BIN={b} is not an executable; build first", 2)
    _BIN = b
    return b


def child_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS",
                   "detect_leaks=1:abort_on_error=0:strict_string_checks=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    env.pop("CORREIO_CONFIG", None)
    return env


def sanitizer_report(text):
    for m in SANITIZER_MARKERS:
        if m in text:
            return m
    return None


def run_cli(args, input=None, timeout=CLI_TIMEOUT, check_sanitizers=True):
    """Runs `correio ARGS...`; returns a CompletedProcess with text output."""
    if isinstance(input, str):
        input = input.encode()
    p = subprocess.run([correio_bin()] + [str(a) for a in args], input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=child_env())
    p.stdout_bytes = p.stdout
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    if check_sanitizers:
        m = sanitizer_report(p.stderr)
        assert m is None, f"correio {args}: sanitizer report ({m}):\n{p.stderr}"
    return p


def free_port():
    """A loopback port that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- instances ---------------------------------------------------------------

class Instance:
    """A directory made by `correio init`, plus its admin CLI."""

    def __init__(self, path):
        self.dir = str(path)
        self.conf = os.path.join(self.dir, "correio.conf")
        self.cert = os.path.join(self.dir, "tls", "cert.pem")

    def cli(self, *args, input=None, timeout=CLI_TIMEOUT):
        """`correio CMD -c CONF ARGS...`: cli("user", "add", ...)."""
        args = [str(a) for a in args]
        # -c goes after the action, which every subcommand accepts.
        return run_cli(args + ["-c", self.conf], input=input, timeout=timeout)

    def cli_ok(self, *args, input=None):
        p = self.cli(*args, input=input)
        assert p.returncode == 0, f"correio {args} -> {p.returncode}: {p.stderr}"
        return p

    def messages(self, address, mailbox="INBOX"):
        """`message list` as a list of (uid, date, sender, size, subject)."""
        p = self.cli_ok("message", "list", address, mailbox)
        rows = []
        for line in p.stdout.splitlines():
            if not line:
                continue
            f = line.split("\t")
            assert len(f) >= 5, f"bad message list line {line!r}"
            rows.append((int(f[0]), f[1], f[2], int(f[3]), "\t".join(f[4:])))
        return rows

    def count(self, address, mailbox="INBOX"):
        return len(self.messages(address, mailbox))

    def get(self, address, uid, mailbox="INBOX"):
        """`message get` as bytes, exactly as printed."""
        p = self.cli_ok("message", "get", address, mailbox, uid)
        return p.stdout_bytes

    def mailboxes(self, address):
        """`mailbox list` as {name: (special_use, count, bytes)}."""
        p = self.cli_ok("mailbox", "list", address)
        out = {}
        for line in p.stdout.splitlines():
            f = line.split("\t")
            assert len(f) == 4, f"bad mailbox list line {line!r}"
            out[f[0]] = (f[1], int(f[2]), int(f[3]))
        return out

    def total_messages(self):
        return sum(self.count(f"{u}@{DOMAIN}") for u in USERS)


@pytest.fixture(scope="session")
def template_instance(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("template") / "inst")
    p = run_cli(["init", "--dir", inst.dir, "--domain", DOMAIN,
                 "--hostname", HOSTNAME])
    assert p.returncode == 0, f"init failed: {p.stderr}"
    for u in USERS:
        inst.cli_ok("user", "add", "--password-stdin", f"{u}@{DOMAIN}",
                    input=PASSWORD + "\n")
    return inst


@pytest.fixture
def instance(template_instance, tmp_path):
    dest = str(tmp_path / "inst")
    subprocess.run(["cp", "-a", template_instance.dir, dest], check=True,
                   timeout=CLI_TIMEOUT)
    return Instance(dest)


# --- the server --------------------------------------------------------------

class Server:
    """A running `correio serve` of an Instance."""

    def __init__(self, inst, overrides):
        self.inst = inst
        self.conf = inst.conf
        self.port = free_port()
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.pop3_port = free_port()
        self.pop3s_port = free_port()
        self.sub_port = free_port()
        self.subs_port = free_port()
        self.host = "127.0.0.1"
        self.overrides = dict(overrides)
        self.logpath = os.path.join(inst.dir, f"serve-{self.port}.log")
        self.proc = None
        self.returncode = None
        self.killed = False

    def cmdline(self):
        args = [correio_bin(), "serve", "-c", self.conf,
                "-o", f"smtp.listen=127.0.0.1:{self.port}",
                "-o", f"imap.listen=127.0.0.1:{self.imap_port}",
                "-o", f"imaps.listen=127.0.0.1:{self.imaps_port}",
                "-o", f"pop3.listen=127.0.0.1:{self.pop3_port}",
                "-o", f"pop3s.listen=127.0.0.1:{self.pop3s_port}",
                "-o", f"submission.listen=127.0.0.1:{self.sub_port}",
                "-o", f"submissions.listen=127.0.0.1:{self.subs_port}"]
        # Before the test's own overrides, so a test may point a server at
        # another (dead) resolver.
        args += dns_overrides()
        # Port 25 greets at once in tests (the default pause is 1s per
        # session); test_abuse.py turns the pause on where it tests it.
        args += ["-o", "smtp.greet_pause=0"]
        for k, v in self.overrides.items():
            args += ["-o", f"{k}={v}"]
        return args

    def start(self):
        # A port that was free when picked may be taken before the server
        # binds it (another client's ephemeral port, say): then the
        # server says so and exits, and it is started again on new ports.
        for attempt in range(3):
            if attempt > 0:
                self.logfile.close()
                self.port, self.imap_port, self.imaps_port = \
                    free_port(), free_port(), free_port()
                self.pop3_port, self.pop3s_port = free_port(), free_port()
                self.sub_port, self.subs_port = free_port(), free_port()
                self.logpath = os.path.join(self.inst.dir,
                                            f"serve-{self.port}.log")
            self.logfile = open(self.logpath, "wb")
            self.proc = subprocess.Popen(self.cmdline(), stdin=subprocess.DEVNULL,
                                         stdout=self.logfile,
                                         stderr=subprocess.STDOUT,
                                         env=child_env())
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if "serve ready" in self.log():
                    return self
                if self.proc.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"correio serve not ready within "
                                         f"{START_TIMEOUT}s:\n{self.log()}")
                time.sleep(0.02)
            if "Address already in use" not in self.log():
                break
        raise AssertionError(f"correio serve exited {self.proc.returncode} "
                             f"before it was ready:\n{self.log()}")

    # The admin CLI of the same instance.
    def cli(self, *args, input=None, timeout=CLI_TIMEOUT):
        return self.inst.cli(*args, input=input, timeout=timeout)

    def __getattr__(self, name):
        # messages(), count(), get(), mailboxes()... of the instance.
        if name in ("cli_ok", "messages", "count", "get", "mailboxes",
                    "total_messages"):
            return getattr(self.inst, name)
        raise AttributeError(name)

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
            self.returncode = None
            raise AssertionError(f"correio serve did not exit within {timeout}s "
                                 f"of SIGTERM:\n{self.log()[-4000:]}")
        finally:
            self.logfile.close()
        return self.returncode

    def stop(self):
        """SIGTERM, wait, and check a clean exit with no sanitizer report."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait()
        self.check_clean()
        return rc

    def kill(self):
        """SIGKILL (a crash, for durability tests): the exit code is then
        not checked, the log still is."""
        self.killed = True
        self.proc.kill()
        return self.wait()

    def check_clean(self):
        log = self.log()
        m = sanitizer_report(log)
        assert m is None, f"sanitizer report ({m}) in the server log:\n{log[-8000:]}"
        if self.killed:
            return
        assert self.proc.returncode == 0, \
            f"correio serve exited {self.proc.returncode}:\n{log[-4000:]}"

    def connect(self, **kw):
        return SMTPClient(self.port, **kw)


@pytest.fixture
def start_server(instance):
    """A factory: start_server(**{"smtp.timeout": "2s"}) -> Server.

    Keys are config keys (section.key); each becomes -o key=value. Every
    server started is stopped at teardown, which fails the test on a
    sanitizer report or a non-zero exit."""
    servers = []

    def start(**overrides):
        s = Server(instance, overrides)
        servers.append(s)
        return s.start()

    yield start
    errors = []
    for s in servers:
        try:
            if s.proc is not None and s.proc.returncode is None:
                s.stop()
            else:
                s.check_clean()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "server(**overrides): config overrides for the `server` "
        "fixture, e.g. @pytest.mark.server(**{'smtp.timeout': '2s'})")


@pytest.fixture
def server(request, start_server):
    """A running server; overrides come from @pytest.mark.server(...)."""
    overrides = {}
    for m in reversed(list(request.node.iter_markers("server"))):
        overrides.update(m.kwargs)
    return start_server(**overrides)


# --- a raw SMTP client -------------------------------------------------------

class Reply:
    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines          # text after "ddd-" / "ddd "
        self.raw = raw

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def first(self):
        return f"{self.code} {self.lines[0]}" if self.lines else str(self.code)

    def __repr__(self):
        return f"Reply({self.raw!r})"


class RawClient:
    """What the raw protocol clients below share: the socket (self.sock,
    self.timeout), closing it, `with`, and the TLS handshake (no
    certificate check unless cafile is given)."""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def tls_handshake(self, cafile=None, server_hostname=HOSTNAME):
        if cafile:
            ctx = ssl.create_default_context(cafile=cafile)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        return self.sock


class SMTPClient(RawClient):
    """A raw SMTP client: sends bytes as given, reads whole replies.

    Nothing is added to what is sent, and reads never block longer than
    the timeout: a missing reply is a failure, not a hang."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, greeting=True):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.greeting = self.reply() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, timeout):
        """Reads more into buf; False on timeout, True otherwise."""
        if self.eof:
            return True
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
        self.buf += chunk
        return True

    def readline(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            if self.eof:
                raise EOFError(f"connection closed; pending {self.buf!r}")
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                raise TimeoutError(f"no complete line within {timeout}s; "
                                   f"pending {self.buf!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, timeout=None):
        """One whole reply (every continuation line)."""
        lines, raw, code = [], b"", None
        while True:
            line = self.readline(timeout)
            raw += line + b"\r\n"
            m = re.match(rb"^(\d{3})([ -])(.*)$", line) or re.match(rb"^(\d{3})()$", line)
            assert m, f"malformed reply line {line!r}"
            c = int(m.group(1))
            assert code is None or c == code, f"code changed inside a reply: {raw!r}"
            code = c
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) != b"-":
                return Reply(code, lines, raw)

    def cmd(self, line, timeout=None):
        """Sends LINE + CRLF, returns the reply."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply(timeout)

    def expect(self, line, code, prefix=None, timeout=None):
        r = self.cmd(line, timeout)
        assert r.code == code, f"{line!r}: expected {code}, got {r.raw!r}"
        if prefix is not None:
            assert r.first.startswith(prefix), f"{line!r}: expected {prefix!r}, got {r.raw!r}"
        return r

    def expect_reply(self, code, prefix=None, timeout=None):
        r = self.reply(timeout)
        assert r.code == code, f"expected {code}, got {r.raw!r}"
        if prefix is not None:
            assert r.first.startswith(prefix), f"expected {prefix!r}, got {r.raw!r}"
        return r

    def ehlo(self, name="client.example.org"):
        return self.expect(f"EHLO {name}", 250)

    def silent(self, timeout=0.5):
        """True if nothing at all arrives within TIMEOUT (the peer may be
        waiting for us); the socket stays open."""
        if self.buf:
            return False
        if not self._fill(timeout):
            return True
        return not self.buf and not self.eof

    def closed(self, timeout=None):
        """True if the server closes the connection (EOF) within TIMEOUT
        with nothing more to read."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                return False
        return self.buf == b""

    def starttls(self, cafile=None, server_hostname=HOSTNAME):
        """STARTTLS, then the handshake. The caller has sent EHLO."""
        self.expect("STARTTLS", 220, "220 2.0.0")
        assert self.buf == b"", f"bytes after the 220: {self.buf!r}"
        self.tls_handshake(cafile, server_hostname)

    # A whole transaction, one command at a time.
    def send_mail(self, sender, rcpts, body, ehlo=True):
        """MAIL, RCPTs, DATA with BODY (already dot-stuffed, ending in CRLF).
        Returns the final reply."""
        if ehlo:
            self.ehlo()
        self.expect(f"MAIL FROM:<{sender}>", 250)
        for r in rcpts:
            self.expect(f"RCPT TO:<{r}>", 250)
        self.expect("DATA", 354)
        self.send(body + b".\r\n")
        return self.reply()


def first_field(data):
    """The first header field of data (with its continuation lines and
    CRLF) and what follows it."""
    lines = data.split(b"\r\n")
    n = 1
    while n < len(lines) and lines[n][:1] in (b"\t", b" "):
        n += 1
    field = b"\r\n".join(lines[:n]) + b"\r\n"
    return field, data[len(field):]


def split_stored(stored, auth_results=False):
    """Splits a stored message into (return_path_line, received_header,
    rest), checking the trace header layout: a Return-Path line, then a
    Received header (folded with CRLF + white space), then, for mail that
    came in on port 25, our Authentication-Results field and the spam
    filter's X-Spam-Score and X-Spam-Status, then the message. With auth_results, returns the field as a fourth element
    (None if there is none)."""
    assert stored.startswith(b"Return-Path: <"), stored[:200]
    rp, rest = stored.split(b"\r\n", 1)
    assert rest.startswith(b"Received: "), rest[:300]
    received, rest = first_field(rest)
    ar = None
    if rest.startswith(b"Authentication-Results: " + HOSTNAME.encode() +
                       b";"):
        ar, rest = first_field(rest)
    # The spam filter's verdict (port 25), ours like the trace fields.
    if rest.startswith(b"X-Spam-Score: "):
        _, rest = first_field(rest)
        assert rest.startswith(b"X-Spam-Status: "), rest[:300]
        _, rest = first_field(rest)
    if auth_results:
        return rp, received, rest, ar
    return rp, received, rest


def unfold(header):
    return re.sub(rb"\r\n[ \t]+", b" ", header).decode("utf-8", "replace")


def make_message(subject="test", body_lines=None, sender="sender@remote.example.org",
                 to="alice@example.test", extra_headers=()):
    """A small RFC 5322 message with CRLF line ends."""
    frm = sender if "<" in sender else f"<{sender}>"
    hdr = [f"From: {frm}", f"To: <{to}>", f"Subject: {subject}",
           "Date: Mon, 02 Nov 2026 10:00:00 +0000",
           f"Message-ID: <{abs(hash(subject))}.{time.time_ns()}@remote.example.org>"]
    hdr += list(extra_headers)
    if body_lines is None:
        body_lines = ["Hello,", "", "this is a test.", "-- ", "sender"]
    text = "\r\n".join(hdr) + "\r\n\r\n" + "\r\n".join(body_lines) + "\r\n"
    return text.encode("utf-8")


def wait_for(pred, timeout=10, interval=0.05, what="condition"):
    """Polls PRED (for things with no socket to read, e.g. a log line)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def db_integrity(inst_dir, tmp_path):
    """PRAGMA integrity_check of a stopped server's database, on a copy so
    that nothing is written into the data directory as root."""
    src = os.path.join(inst_dir, "data")
    dst = tmp_path / "dbcopy"
    dst.mkdir()
    for name in os.listdir(src):
        if name.startswith("correio.db"):
            shutil.copy(os.path.join(src, name), dst / name)
    db = sqlite3.connect(str(dst / "correio.db"))
    try:
        return [r[0] for r in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()


# --- a raw IMAP client -------------------------------------------------------

class IMAPResponse:
    """The result of one tagged command: the untagged and continuation
    responses that came before the tagged line, and the tagged line.

    Each untagged response is one logical response: its lines joined with
    literal data inline, exactly as on the wire ("... {5}\\r\\nhello ...")
    but without the final CRLF."""

    def __init__(self, tag, status, text, untagged, raw):
        self.tag = tag
        self.status = status            # "OK", "NO", "BAD"
        self.text = text                # after the status (str)
        self.untagged = untagged        # list of bytes, "* ..." removed
        self.raw = raw                  # every byte read, for messages

    def __repr__(self):
        return f"IMAPResponse({self.raw!r})"

    def find(self, prefix):
        """The untagged responses that start with PREFIX (bytes or str,
        case-insensitive), e.g. find("LIST") or find(b"3 FETCH")."""
        if isinstance(prefix, str):
            prefix = prefix.encode()
        p = prefix.upper()
        return [u for u in self.untagged if u[:len(p)].upper() == p]

    def one(self, prefix):
        r = self.find(prefix)
        assert len(r) == 1, f"expected one {prefix!r} response, got {self.raw!r}"
        return r[0]


class IMAPClient(RawClient):
    """A raw IMAP client: sends bytes as given, reads whole responses
    (literals included), never blocks longer than its timeout.

    cmd("SELECT INBOX") adds a tag ("a1", "a2"...) and returns an
    IMAPResponse; send()/readline()/read_response() give full control
    for IDLE, literals, pipelining and hostile input."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, tls=False,
                 greeting=True):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            self.tls_handshake()
        self.buf = b""
        self.eof = False
        self.n = 0
        self.greeting = self.readline() if greeting else None

    def next_tag(self):
        self.n += 1
        return f"a{self.n}"

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, timeout):
        if self.eof:
            return True
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
        self.buf += chunk
        return True

    def read_exact(self, n, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if self.eof:
                raise EOFError(f"connection closed; wanted {n} bytes, "
                               f"have {self.buf!r}")
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                raise TimeoutError(f"no {n} bytes within {timeout}s; "
                                   f"pending {self.buf[:200]!r}")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def readline(self, timeout=None):
        """One line, without its CRLF (literals are not followed)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            if self.eof:
                raise EOFError(f"connection closed; pending {self.buf!r}")
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                raise TimeoutError(f"no complete line within {timeout}s; "
                                   f"pending {self.buf[:300]!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_logical(self, timeout=None):
        """One response line with its literals inline."""
        out = b""
        for _ in range(100000):
            line = self.readline(timeout)
            out += line
            m = re.search(rb"~?\{(\d+)\+?\}$", line)
            if not m:
                return out
            out += b"\r\n" + self.read_exact(int(m.group(1)), timeout)
        raise AssertionError("too many literals in one response")

    def read_response(self, tag, timeout=None):
        """Reads up to and including the tagged line of TAG."""
        untagged, raw = [], b""
        t = tag.encode() if isinstance(tag, str) else tag
        for _ in range(10000000):
            line = self.read_logical(timeout)
            raw += line + b"\r\n"
            if line.startswith(b"* "):
                untagged.append(line[2:])
            elif line.startswith(b"+"):
                untagged.append(line)
            elif line.startswith(t + b" "):
                rest = line[len(t) + 1:].decode("utf-8", "replace")
                status, _, text = rest.partition(" ")
                return IMAPResponse(tag, status.upper(), text, untagged, raw)
            else:
                raise AssertionError(f"unexpected line {line!r} waiting for "
                                     f"{tag}; so far {raw[-2000:]!r}")
        raise AssertionError("response too long")

    def cmd(self, line, timeout=None):
        """Sends TAG LINE CRLF; returns the IMAPResponse."""
        tag = self.next_tag()
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(tag.encode() + b" " + line + b"\r\n")
        return self.read_response(tag, timeout)

    def ok(self, line, timeout=None):
        r = self.cmd(line, timeout)
        assert r.status == "OK", f"{line!r}: {r.raw[-3000:]!r}"
        return r

    def expect(self, line, status, code=None, timeout=None):
        r = self.cmd(line, timeout)
        assert r.status == status, f"{line!r}: expected {status}, got {r.raw[-3000:]!r}"
        if code is not None:
            assert r.text.upper().startswith(f"[{code.upper()}"), \
                f"{line!r}: expected [{code}], got {r.raw[-3000:]!r}"
        return r

    def login(self, user=f"alice@{DOMAIN}", password=PASSWORD):
        return self.ok(f"LOGIN {imap_quote(user)} {imap_quote(password)}")

    def append_literal(self, mailbox, data, flags="", date="", plus=False):
        """APPEND with a synchronizing (or LITERAL+) literal; returns the
        IMAPResponse (status checked by the caller)."""
        tag = self.next_tag()
        opt = (f" ({flags})" if flags else "") + (f' "{date}"' if date else "")
        head = f"{tag} APPEND {imap_quote(mailbox)}{opt} {{{len(data)}{'+' if plus else ''}}}\r\n"
        self.send(head)
        if not plus:
            line = self.readline()
            if not line.startswith(b"+"):
                r = self.read_response(tag) if not line.startswith(tag.encode()) else None
                raise AssertionError(f"no continuation for APPEND: {line!r} {r!r}")
        self.send(data + b"\r\n")
        return self.read_response(tag)

    def silent(self, timeout=0.5):
        """True if nothing arrives within TIMEOUT."""
        if self.buf:
            return False
        if not self._fill(timeout):
            return True
        return not self.buf and not self.eof

    def closed(self, timeout=None):
        """True if the server closes (EOF) within TIMEOUT; what it sent
        before that stays in buf."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                return False
        return True

    def wait_untagged(self, pattern, timeout=5):
        """Reads untagged lines until one matches the regex PATTERN
        (bytes); returns (match, lines read)."""
        deadline = time.monotonic() + timeout
        seen = []
        for _ in range(100000):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = self.read_logical(left)
            except TimeoutError:
                break
            seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m, seen
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s; "
                             f"got {seen!r}")


def imap_quote(s):
    """A quoted string for IMAP (ASCII / UTF-8 text without CR or LF)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_parse(data):
    """Parses IMAP response data (atoms, quoted strings, literals, NIL,
    parenthesised lists) into Python: lists, bytes (strings and atoms),
    None (NIL). Returns the list of top-level items."""
    pos = 0
    n = len(data)

    def parse_item(i, depth):
        assert depth < 200, "nesting too deep"
        c = data[i:i + 1]
        if c == b"(":
            items, i = [], i + 1
            for _ in range(n + 1):
                while i < n and data[i:i + 1] == b" ":
                    i += 1
                if data[i:i + 1] == b")":
                    return items, i + 1
                assert i < n, f"unterminated list in {data[:300]!r}"
                v, i = parse_item(i, depth + 1)
                items.append(v)
            raise AssertionError("list too long")
        if c == b'"':
            out, i = bytearray(), i + 1
            while data[i:i + 1] != b'"':
                assert i < n, f"unterminated quoted string in {data[:300]!r}"
                if data[i:i + 1] == b"\\":
                    i += 1
                out += data[i:i + 1]
                i += 1
            return bytes(out), i + 1
        m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(data, i)
        if m:
            k = int(m.group(1))
            return data[m.end():m.end() + k], m.end() + k
        # An atom; "[" ... "]" sections are part of it (BODY[HEADER.FIELDS (A B)]).
        j, depth_b = i, 0
        while j < n:
            ch = data[j:j + 1]
            if ch == b"[":
                depth_b += 1
            elif ch == b"]":
                depth_b -= 1
            elif depth_b == 0 and ch in (b" ", b"(", b")"):
                break
            j += 1
        atom = data[i:j]
        return (None if atom.upper() == b"NIL" else atom), j

    items = []
    for _ in range(n + 1):
        while pos < n and data[pos:pos + 1] == b" ":
            pos += 1
        if pos >= n:
            return items
        v, pos = parse_item(pos, 0)
        items.append(v)
    return items


def fetch_items(resp_line):
    """'3 FETCH (UID 5 FLAGS (\\Seen) ...)' (without "* ") as
    (seq, {NAME: value}) with upper-case bytes names."""
    parts = imap_parse(resp_line)
    assert len(parts) == 3 and parts[1].upper() == b"FETCH", resp_line[:300]
    lst = parts[2]
    assert len(lst) % 2 == 0, resp_line[:300]
    d = {}
    for k in range(0, len(lst), 2):
        d[lst[k].upper()] = lst[k + 1]
    return int(parts[0]), d


def imap_connect(server, tls=False, **kw):
    """An IMAPClient on the server's imap (or imaps) port."""
    return IMAPClient(server.imaps_port if tls else server.imap_port, tls=tls, **kw)


def imap_login(server, user="alice", tls=False, **kw):
    """A logged-in IMAPClient (plain connections need
    imap.allow_plaintext=loopback)."""
    c = imap_connect(server, tls=tls, **kw)
    c.login(f"{user}@{DOMAIN}" if "@" not in user else user)
    return c


def smtp_deliver(server, rcpts, msg, sender="sender@remote.example.org"):
    """Delivers MSG (bytes, CRLF, not dot-stuffed) over SMTP; returns the
    final reply, checked to be 250."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    body = re.sub(rb"(?m)^\.", b"..", msg)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    with server.connect() as c:
        r = c.send_mail(sender, rcpts, body)
        assert r.code == 250, r.raw
        c.cmd("QUIT")
    return r


@pytest.fixture
def server_checked_in_test(request, instance):
    """Like `server` (same markers), but the test itself must end with
    server.stop(), which checks the exit and the sanitizer output inside
    the test. For tests marked xfail because the server crashes: their
    teardown then does not fail. At teardown a server still running is
    killed without a check."""
    overrides = {}
    for m in reversed(list(request.node.iter_markers("server"))):
        overrides.update(m.kwargs)
    s = Server(instance, overrides)
    s.start()
    yield s
    if s.proc is not None and s.proc.returncode is None:
        s.proc.kill()
        try:
            s.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            s.logfile.close()


# --- a raw POP3 client -------------------------------------------------------

class POP3Client(RawClient):
    """A raw POP3 client: sends bytes as given, reads status lines and
    multi-line answers, never blocks longer than its timeout.

    cmd("STAT") returns the status line (bytes, without CRLF);
    multi("LIST") returns (status line, [lines, unstuffed]) and
    retr(n) the message as bytes with CRLF line ends."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, tls=False,
                 greeting=True, rcvbuf=None):
        """rcvbuf: a small receive buffer, for a client that reads slowly
        (set before connecting, so that TCP's window stays small)."""
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            self.tls_handshake()
        self.buf = b""
        self.eof = False
        self.greeting = self.readline() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send_some(self, data, seconds):
        """Sends as much of DATA as the peer takes within SECONDS, without
        blocking on a full window; returns the bytes sent."""
        sent = 0
        deadline = time.monotonic() + seconds
        self.sock.setblocking(False)
        try:
            while sent < len(data) and time.monotonic() < deadline:
                try:
                    sent += self.sock.send(data[sent:sent + 65536])
                except BlockingIOError:
                    time.sleep(0.02)
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(self.timeout)
        return sent

    def _fill(self, timeout):
        if self.eof:
            return True
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(262144)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
        self.buf += chunk
        return True

    def readline(self, timeout=None):
        """One line without its CRLF."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            start = max(0, len(self.buf) - 1)
            if self.eof:
                raise EOFError(f"connection closed; pending {self.buf[:300]!r}")
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                raise TimeoutError(f"no complete line within {timeout}s; "
                                   f"pending {self.buf[:300]!r}")

    def read_multi(self, timeout=None):
        """The lines of a multi-line answer up to the "." line, each
        unstuffed, without CRLF."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return []
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                body, self.buf = self.buf[:i], self.buf[i + 5:]
                return [l[1:] if l.startswith(b".") else l
                        for l in body.split(b"\r\n")]
            start = max(0, len(self.buf) - 4)
            if self.eof:
                raise EOFError(f"connection closed in a multi-line answer; "
                               f"pending {self.buf[-300:]!r}")
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                raise TimeoutError(f"no end of answer within {timeout}s; "
                                   f"pending {self.buf[-300:]!r}")

    def cmd(self, line, timeout=None):
        """Sends LINE CRLF; returns the status line."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.readline(timeout)

    def ok(self, line, timeout=None):
        r = self.cmd(line, timeout)
        assert r.startswith(b"+OK"), f"{line!r}: {r!r}"
        return r

    def err(self, line, timeout=None):
        r = self.cmd(line, timeout)
        assert r.startswith(b"-ERR "), f"{line!r}: {r!r}"
        return r

    def multi(self, line, timeout=None):
        r = self.ok(line, timeout)
        return r, self.read_multi(timeout)

    def retr(self, n, timeout=None):
        """The message as sent, lines joined with CRLF (and a final CRLF)."""
        _, lines = self.multi(f"RETR {n}", timeout)
        return b"".join(l + b"\r\n" for l in lines)

    def login(self, user=f"alice@{DOMAIN}", password=PASSWORD):
        self.ok(f"USER {user}")
        return self.ok(f"PASS {password}")

    def silent(self, timeout=0.5):
        """True if nothing arrives within TIMEOUT."""
        if self.buf:
            return False
        if not self._fill(timeout):
            return True
        return not self.buf and not self.eof

    def closed(self, timeout=None):
        """True if the server closes (EOF) within TIMEOUT; what it sent
        before that stays in buf."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0 or not self._fill(left):
                return False
        return True


def pop3_connect(server, tls=False, **kw):
    """A POP3Client on the server's pop3 (or pop3s) port."""
    return POP3Client(server.pop3s_port if tls else server.pop3_port, tls=tls,
                      **kw)


def pop3_login(server, user="alice", tls=False, **kw):
    """A POP3Client in the TRANSACTION state (plain connections need
    pop3.allow_plaintext=loopback)."""
    c = pop3_connect(server, tls=tls, **kw)
    c.login(f"{user}@{DOMAIN}" if "@" not in user else user)
    return c
