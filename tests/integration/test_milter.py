"""The milter client (src/filter/milter.c) against real Debian milters
and hostile fake ones, through `correio spam milter`, which runs the
client inbound SMTP uses.

Real peers, started by this module on loopback with private configs in
its temporary directory and stopped by pid:
  - clamav-daemon (clamd) with a DatabaseDirectory holding only two tiny
    signatures written here (the EICAR test file's md5:size and its
    body string: freshclam cannot download anything here), and two
    clamav-milters pointed at it: one on a unix socket with OnInfected
    Reject (and a RejectMsg), one on a TCP port with OnInfected
    Quarantine. Both add X-Virus-Scanned/X-Virus-Status (AddHeader).
  - rspamd in the foreground (-f) with a minimal config: one proxy
    worker with milter = yes and self_scan on a loopback port, no Redis
    and no Lua plugins; GTUBE is detected by its core.
  - opendkim in the foreground as a signing milter (Mode s, a key made
    by opendkim-genkey): it inserts a DKIM-Signature (with
    SMFIP_HDR_LEADSPC) that must verify, with dkimpy, on the message as
    Correio would store it (`--output`), and fail once the body changes.
Fake milters (Python sockets, in threads of this process) play a
milter that is down or never accepts (connect timeout), one that sends
oversized packets, garbage, header
injections, too many changes, nothing at all, endless progress, and a
well-behaved one that records every command Correio sends.
"""
import base64
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import free_port, run_cli

START_TIMEOUT = 120     # a peer's start, on a loaded machine
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + \
    b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"     # built in two halves
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
IS_ROOT = os.geteuid() == 0

CLEAN = ("From: a@example.org\r\nTo: alice@example.test\r\n"
         "Subject: hello\r\nMessage-ID: <1@example.org>\r\n"
         "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\nJust a note.\r\n")
SPAM = ("From: a@example.org\r\nTo: alice@example.test\r\n"
        "Subject: spam\r\n\r\n" + GTUBE + "\r\n")
VIRUS = ("From: a@example.org\r\nTo: alice@example.test\r\n"
         "Subject: invoice\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
         "--b1\r\nContent-Type: application/octet-stream; name=\"e.com\"\r\n"
         "Content-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"e.com\"\r\n\r\n" +
         base64.b64encode(EICAR).decode() + "\r\n--b1--\r\n")


def wait_listening(proc, what, port=None, path=None, log=None):
    """Waits until something accepts on port (or the unix socket path)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = open(log).read() if log and os.path.exists(log) else ""
            pytest.fail(f"{what} exited with {proc.returncode}:\n{text}")
        try:
            if path is not None:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(1)
                s.connect(path)
            else:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{what} did not start within {START_TIMEOUT}s")


def stop(proc):
    """Stops a peer this module started, by its pid."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def start(args, log):
    return subprocess.Popen(args, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def clamav(tmp_path_factory):
    for b in ("clamd", "clamav-milter"):
        assert shutil.which(b) or os.path.exists(f"/usr/sbin/{b}"), \
            f"{b} is not installed (scripts/install-deps)"
    d = tmp_path_factory.mktemp("clamav")
    db = d / "db"
    db.mkdir()
    # Only these two signatures: the EICAR file by md5:size (.hdb), and
    # its body string anywhere (.ndb, target 0).
    (db / "correio.hdb").write_text(
        f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Correio-EICAR-File\n")
    (db / "correio.ndb").write_text(
        "Correio-EICAR-Body:0:*:" +
        b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE".hex() + "\n")
    clamd_port = free_port()
    (d / "clamd.conf").write_text(f"""Foreground yes
TCPSocket {clamd_port}
TCPAddr 127.0.0.1
DatabaseDirectory {db}
LogFile {d}/clamd.log
PidFile {d}/clamd.pid
TemporaryDirectory {d}
""")
    procs = []
    try:
        clamd = start(["clamd", "-c", str(d / "clamd.conf")],
                      str(d / "clamd.out"))
        procs.append(clamd)
        wait_listening(clamd, "clamd", port=clamd_port,
                       log=str(d / "clamd.out"))
        sock = str(d / "reject.sock")
        qport, rport = free_port(), free_port()
        # The server drops to an unprivileged user, which cannot reach a
        # socket in pytest's 0700 tree: over SMTP the milters are TCP.
        for name, listen, infected in (
                ("reject", f"unix:{sock}", "Reject"),
                ("reject_inet", f"inet:{rport}@127.0.0.1", "Reject"),
                ("quarantine", f"inet:{qport}@127.0.0.1", "Quarantine")):
            (d / f"{name}.conf").write_text(f"""Foreground yes
MilterSocket {listen}
ClamdSocket tcp:127.0.0.1:{clamd_port}
OnInfected {infected}
OnClean Accept
RejectMsg Virus found: %v
AddHeader Replace
LogFile {d}/{name}.log
PidFile {d}/{name}.pid
TemporaryDirectory {d}
""")
            p = start(["clamav-milter", "-c", str(d / f"{name}.conf")],
                      str(d / f"{name}.out"))
            procs.append(p)
            if name == "reject":
                wait_listening(p, "clamav-milter", path=sock,
                               log=str(d / f"{name}.out"))
            else:
                wait_listening(p, "clamav-milter",
                               port=qport if name == "quarantine" else rport,
                               log=str(d / f"{name}.out"))
        yield {"reject": f"unix:{sock}",
               "reject_inet": f"inet:127.0.0.1:{rport}",
               "quarantine": f"inet:127.0.0.1:{qport}"}
    finally:
        for p in reversed(procs):
            stop(p)


@pytest.fixture(scope="module")
def rspamd():
    assert shutil.which("rspamd"), "rspamd is not installed (scripts/install-deps)"
    # Outside pytest's 0700 tree: the workers run as _rspamd.
    d = tempfile.mkdtemp(prefix="correio-rspamd-")
    port = free_port()
    # A tiny public suffix list: the full one takes rspamd minutes to
    # compile on a loaded machine. No Lua plugins, no Redis; the DNS
    # server is a closed port (nothing may leave the machine).
    with open(os.path.join(d, "tld.dat"), "w") as f:
        f.write("test\norg\ncom\n")
    with open(os.path.join(d, "rspamd.conf"), "w") as f:
        f.write(f"""options {{
  url_tld = "{d}/tld.dat";
  disable_hyperscan = true;
  pidfile = "{d}/rspamd.pid";
  dns {{ nameserver = ["127.0.0.1:9"]; timeout = 1s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "{d}/rspamd.log"; level = "info"; }}
actions {{ reject = 15; add_header = 6; greylist = 4; }}
worker "rspamd_proxy" {{
  bind_socket = "127.0.0.1:{port}";
  milter = yes;
  timeout = 60s;
  count = 1;
  upstream "local" {{ default = yes; self_scan = yes; }}
}}
""")
    args = ["rspamd", "-f", "-c", os.path.join(d, "rspamd.conf")]
    if IS_ROOT:
        shutil.chown(d, "_rspamd", "_rspamd")
        for n in os.listdir(d):
            shutil.chown(os.path.join(d, n), "_rspamd", "_rspamd")
        args += ["-u", "_rspamd", "-g", "_rspamd"]
    proc = start(args, os.path.join(d, "rspamd.out"))
    try:
        wait_listening(proc, "rspamd", port=port,
                       log=os.path.join(d, "rspamd.log"))
        yield f"inet:127.0.0.1:{port}"
    finally:
        stop(proc)
        shutil.rmtree(d, ignore_errors=True)


def milter(instance, tmp_path, servers, msg, *opts, rcpts=("alice@example.test",),
           on_failure=None, timeout=None, ip="192.0.2.7"):
    """`correio spam milter` on msg; returns (exit code, {key: [values]})."""
    f = tmp_path / "msg.eml"
    f.write_bytes(msg.encode() if isinstance(msg, str) else msg)
    args = ["spam", "milter", "-c", instance.conf, "-o",
            f"milter.servers={servers}", "--ip", ip, "--helo",
            "client.example.org", "--mail-from", "a@example.org"]
    for r in rcpts:
        args += ["--rcpt", r]
    if on_failure:
        args += ["-o", f"milter.on_failure={on_failure}"]
    if timeout:
        args += ["-o", f"milter.timeout={timeout}"]
    args += list(opts) + [str(f)]
    p = run_cli(args)
    out = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(": ")
        out.setdefault(k, []).append(v)
    return p.returncode, out, p


# --- clamav-milter + clamd -----------------------------------------------------

def test_clamav_eicar_rejected(instance, tmp_path, clamav):
    rc, out, p = milter(instance, tmp_path, clamav["reject"], VIRUS)
    assert rc == 0, p.stderr
    assert out["verdict"] == ["reject"], p.stdout
    assert out["milter"] == [clamav["reject"]]
    # clamav-milter's RejectMsg, through a replycode
    assert len(out["reply"]) == 1
    assert out["reply"][0].startswith("550 5.7.1 Virus found: Correio-EICAR")
    assert "failed" not in out


def test_clamav_clean_accepted_with_its_headers(instance, tmp_path, clamav):
    rc, out, p = milter(instance, tmp_path, clamav["reject"], CLEAN)
    assert rc == 0, p.stderr
    assert out["verdict"] == ["accept"], p.stdout
    headers = out.get("header", [])
    assert "add X-Virus-Status: Clean" in headers, p.stdout
    assert any(h.startswith("add X-Virus-Scanned: clamav-milter")
               for h in headers), p.stdout
    assert "reply" not in out and "failed" not in out


def test_clamav_eicar_quarantined(instance, tmp_path, clamav):
    rc, out, p = milter(instance, tmp_path, clamav["quarantine"], VIRUS)
    assert rc == 0, p.stderr
    assert out["verdict"] == ["quarantine"], p.stdout
    assert out["quarantine"] and out["quarantine"][0], p.stdout
    assert any(h.startswith("add X-Virus-Status: Infected (Correio-EICAR")
               for h in out.get("header", [])), p.stdout


# --- rspamd ---------------------------------------------------------------------

def test_rspamd_gtube_rejected(instance, tmp_path, rspamd):
    rc, out, p = milter(instance, tmp_path, rspamd, SPAM)
    assert rc == 0, p.stderr
    assert out["verdict"] == ["reject"], p.stdout
    assert out["reply"][0].startswith("5"), p.stdout
    assert "Gtube" in out["reply"][0] or "GTUBE" in out["reply"][0], p.stdout


def test_rspamd_clean_accepted(instance, tmp_path, rspamd):
    rc, out, p = milter(instance, tmp_path, rspamd, CLEAN)
    assert rc == 0, p.stderr
    assert out["verdict"] == ["accept"], p.stdout
    assert "failed" not in out


def test_chain_first_non_accept_decides(instance, tmp_path, clamav, rspamd):
    both = f"{clamav['reject']} {rspamd}"
    # clean: both accept; clamav's headers are kept
    rc, out, p = milter(instance, tmp_path, both, CLEAN)
    assert out["verdict"] == ["accept"], p.stdout
    assert "add X-Virus-Status: Clean" in out["header"]
    # GTUBE: clamav accepts, rspamd rejects
    rc, out, p = milter(instance, tmp_path, both, SPAM)
    assert out["verdict"] == ["reject"], p.stdout
    assert out["milter"] == [rspamd]
    # EICAR: clamav rejects first
    rc, out, p = milter(instance, tmp_path, both, VIRUS)
    assert out["verdict"] == ["reject"], p.stdout
    assert out["milter"] == [clamav["reject"]]


# --- opendkim -------------------------------------------------------------------

@pytest.fixture(scope="module")
def opendkim(tmp_path_factory):
    assert shutil.which("opendkim") or os.path.exists("/usr/sbin/opendkim"), \
        "opendkim is not installed (scripts/install-deps)"
    d = tmp_path_factory.mktemp("opendkim")
    subprocess.run(["opendkim-genkey", "-D", str(d), "-d", "example.org",
                    "-s", "sel"], check=True, timeout=60)
    port = free_port()
    (d / "opendkim.conf").write_text(f"""Mode s
Domain example.org
Selector sel
KeyFile {d}/sel.private
Socket inet:{port}@127.0.0.1
PidFile {d}/opendkim.pid
Syslog no
RequireSafeKeys false
""")
    proc = start(["opendkim", "-f", "-x", str(d / "opendkim.conf")],
                 str(d / "opendkim.out"))
    try:
        wait_listening(proc, "opendkim", port=port,
                       log=str(d / "opendkim.out"))
        txt = (d / "sel.txt").read_text()
        key = "".join(re.findall(r'"([^"]*)"', txt))
        yield f"inet:127.0.0.1:{port}", key
    finally:
        stop(proc)


def test_opendkim_signature_verifies_on_the_stored_message(instance, tmp_path,
                                                            opendkim):
    import dkim      # python3-dkim
    spec, key = opendkim
    out_file = tmp_path / "signed.eml"
    # opendkim signs mail from its internal hosts (loopback)
    rc, out, p = milter(instance, tmp_path, spec, CLEAN, "--output",
                        str(out_file), ip="127.0.0.1")
    assert rc == 0, p.stderr
    assert out["verdict"] == ["accept"], p.stdout
    assert out["header"][0].startswith("insert 0 DKIM-Signature: v=1;"), \
        p.stdout
    signed = out_file.read_bytes()
    assert signed.startswith(b"DKIM-Signature: v=1;")
    assert signed.endswith(CLEAN.encode())

    def dns(name, timeout=5):
        assert name == b"sel._domainkey.example.org."
        return key.encode()
    assert dkim.verify(signed, dnsfunc=dns)
    assert not dkim.verify(signed.replace(b"Just a note", b"Just a nose"),
                           dnsfunc=dns)


# --- a milter that is down ------------------------------------------------------

def test_down_on_failure_accept_and_tempfail(instance, tmp_path):
    dead = f"inet:127.0.0.1:{free_port()}"      # nothing listens there
    rc, out, p = milter(instance, tmp_path, dead, CLEAN, on_failure="accept")
    assert rc == 0, p.stderr
    assert out["verdict"] == ["accept"], p.stdout
    assert "cannot connect" in out["failed"][0], p.stdout
    rc, out, p = milter(instance, tmp_path, dead, CLEAN, on_failure="tempfail")
    assert out["verdict"] == ["tempfail"], p.stdout
    assert out["reply"] == ["451 4.7.1 Service unavailable - try again later"]
    assert "cannot connect" in out["failed"][0]
    # tempfail is the default
    rc, out, p = milter(instance, tmp_path, dead, CLEAN)
    assert out["verdict"] == ["tempfail"], p.stdout
    # a unix socket that does not exist
    rc, out, p = milter(instance, tmp_path, f"unix:{tmp_path}/none.sock",
                        CLEAN, on_failure="tempfail")
    assert out["verdict"] == ["tempfail"], p.stdout


def test_down_then_working_milter(instance, tmp_path, rspamd):
    dead = f"inet:127.0.0.1:{free_port()}"
    # accept: the dead one is left out, rspamd still judges
    rc, out, p = milter(instance, tmp_path, f"{dead} {rspamd}", SPAM,
                        on_failure="accept")
    assert out["verdict"] == ["reject"], p.stdout
    assert out["milter"] == [rspamd]
    assert dead in out["failed"][0]
    # tempfail: the first failure decides
    rc, out, p = milter(instance, tmp_path, f"{dead} {rspamd}", SPAM,
                        on_failure="tempfail")
    assert out["verdict"] == ["tempfail"], p.stdout


# --- fake milters ---------------------------------------------------------------

SMFIP_NR_ALL = 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x40000 | \
    0x80000 | 0x80      # NR_CONN..NR_BODY, NR_HDR (not NR_UNKN)


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_exact(conn, n):
    b = b""
    while len(b) < n:
        c = conn.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def read_pkt(conn):
    h = read_exact(conn, 4)
    if h is None:
        return None, None
    (n,) = struct.unpack(">I", h)
    d = read_exact(conn, n)
    if d is None:
        return None, None
    return d[:1], d[1:]


class FakeMilter:
    """A milter on a loopback port: each connection runs handler(conn)."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.spec = f"inet:127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = False
        self.errors = []
        self.threads = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, conn):
        conn.settimeout(20)
        try:
            self.handler(conn)
        except OSError:
            pass        # Correio closed: what a failure path does
        except Exception as e:     # noqa: BLE001 -- reported by the test
            self.errors.append(e)
        finally:
            conn.close()

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        for t in self.threads:
            t.join(timeout=10)
        self.sock.close()
        assert not self.errors, self.errors


@pytest.fixture
def fake():
    made = []

    def make(handler):
        m = FakeMilter(handler)
        made.append(m)
        return m.spec
    yield make
    for m in made:
        m.close()


def conversation(actions=0x1ff, protocol=0, on_eob=None, record=None,
                 on_optneg=None):
    """A handler: OPTNEG answered with actions and protocol; every step
    answered 'c' unless protocol says no reply; at EOB, on_eob(conn)."""
    nr = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
          b"T": 0x10000, b"L": 0x80, b"N": 0x40000, b"B": 0x80000}

    def handler(conn):
        while True:
            cmd, data = read_pkt(conn)
            if cmd is None:
                return
            if record is not None:
                record.append((cmd, data))
            if cmd == b"O":
                if on_optneg is not None:
                    on_optneg(conn)
                    return
                conn.sendall(pkt(b"O", struct.pack(">III", 6, actions,
                                                   protocol)))
            elif cmd in (b"D", b"A"):
                continue
            elif cmd == b"Q":
                return
            elif cmd == b"E":
                if on_eob is None:
                    conn.sendall(pkt(b"c"))
                else:
                    on_eob(conn)
            elif not protocol & nr.get(cmd, 0):
                conn.sendall(pkt(b"c"))
    return handler


def test_fake_records_what_correio_sends(instance, tmp_path, fake):
    """Every step, in order, with its macros; body in chunks of at most
    65535; header values without the leading space."""
    rec = []
    spec = fake(conversation(record=rec, on_eob=lambda c: c.sendall(
        pkt(b"h", b"X-Fake\0yes\0") + pkt(b"a"))))
    body = "".join(f"line {i:06d} " + "x" * 60 + "\r\n" for i in range(2000))
    msg = ("From: a@example.org\r\nSubject: big\r\n\tfolded\r\n\r\n" + body)
    rc, out, p = milter(instance, tmp_path, spec, msg,
                        rcpts=("alice@example.test", "bob@example.test"))
    assert out["verdict"] == ["accept"], p.stdout + p.stderr
    assert out["header"] == ["add X-Fake: yes"]
    cmds = [c for c, _ in rec]
    seq = b"".join(c for c in cmds if c != b"D")
    assert seq.startswith(b"OCHMRRTLLN"), seq
    assert seq.endswith(b"EQ"), seq
    # OPTNEG: version 6, the offer
    v, a, pr = struct.unpack(">III", rec[0][1])
    assert (v, a) == (6, 0x31)
    assert pr & 0x80 and pr & 0x100000 and not pr & 0x800
    data = {}
    for c, d in rec:
        data.setdefault(c, []).append(d)
    assert data[b"C"][0] == b"[192.0.2.7]\x004\x00\x00192.0.2.7\x00"
    assert data[b"H"][0] == b"client.example.org\x00"
    assert data[b"M"][0] == b"<a@example.org>\x00"
    assert data[b"R"] == [b"<alice@example.test>\x00", b"<bob@example.test>\x00"]
    assert data[b"L"] == [b"From\x00a@example.org\x00",
                          b"Subject\x00big\n\tfolded\x00"]
    chunks = data[b"B"]
    assert all(len(c) <= 65535 for c in chunks) and len(chunks) >= 3
    assert b"".join(chunks) == body.encode()
    macros = b"".join(d for c, d in rec if c == b"D")
    for m in (b"j\x00", b"{daemon_name}\x00smtp\x00", b"{client_addr}\x00192.0.2.7\x00",
              b"{mail_addr}\x00a@example.org\x00", b"{rcpt_addr}\x00bob@example.test\x00",
              b"i\x00"):
        assert m in macros, (m, macros)


def test_fake_no_reply_steps_and_skips(instance, tmp_path, fake):
    """A milter that skips steps (NOCONNECT, NOHELO, NOHDRS) and answers
    none of the others (NR_*): only EOB is answered, and it works."""
    rec = []
    spec = fake(conversation(protocol=SMFIP_NR_ALL | 0x01 | 0x02 | 0x20,
                             record=rec, on_eob=lambda c: c.sendall(
                                 pkt(b"y", b"550 5.7.1 no thanks\0"))))
    rc, out, p = milter(instance, tmp_path, spec, CLEAN)
    assert out["verdict"] == ["reject"], p.stdout + p.stderr
    assert out["reply"] == ["550 5.7.1 no thanks"]
    seq = b"".join(c for c, _ in rec if c != b"D")
    assert b"C" not in seq and b"H" not in seq and b"L" not in seq, seq


def test_fake_refused_modifications_are_ignored(instance, tmp_path, fake):
    """chgfrom, addrcpt, replbody were not offered: ignored, counted;
    the header change that was offered is kept."""
    spec = fake(conversation(on_eob=lambda c: c.sendall(
        pkt(b"e", b"<evil@example.org>\0") + pkt(b"+", b"<evil@example.org>\0") +
        pkt(b"b", b"new body") + pkt(b"m", b"\0\0\0\x01Subject\0[SPAM] hello\0") +
        pkt(b"c"))))
    rc, out, p = milter(instance, tmp_path, spec, CLEAN)
    assert out["verdict"] == ["accept"], p.stdout + p.stderr
    assert out["ignored"] == ["3"]
    assert out["header"] == ["change 1 Subject: [SPAM] hello"]


def test_fake_multiline_reply_discard_tempfail(instance, tmp_path, fake):
    spec = fake(conversation(on_eob=lambda c: c.sendall(
        pkt(b"y", b"550-5.7.1 first\r\n550 5.7.1 second\0"))))
    rc, out, p = milter(instance, tmp_path, spec, CLEAN)
    assert out["reply"] == ["550-5.7.1 first", "550 5.7.1 second"], p.stdout
    spec = fake(conversation(on_eob=lambda c: c.sendall(pkt(b"d"))))
    rc, out, p = milter(instance, tmp_path, spec, CLEAN)
    assert out["verdict"] == ["discard"], p.stdout
    spec = fake(conversation(on_eob=lambda c: c.sendall(pkt(b"t"))))
    rc, out, p = milter(instance, tmp_path, spec, CLEAN)
    assert out["verdict"] == ["tempfail"], p.stdout
    assert out["reply"][0].startswith("451 4.7.1")
    assert "failed" not in out      # a verdict, not a failure


def hostile(name):
    """Handlers that break the protocol in one way each."""
    def oversized(conn):
        read_pkt(conn)
        conn.sendall(struct.pack(">I", 0x7FFFFFFF) + b"h" + b"x" * 1000)
        time.sleep(2)

    def garbage(conn):
        read_pkt(conn)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + os.urandom(300))
        time.sleep(2)

    def silent(conn):
        read_pkt(conn)
        time.sleep(4)

    def close_early(conn):
        read_pkt(conn)

    def empty_packet(conn):
        read_pkt(conn)
        conn.sendall(b"\0\0\0\0")
        time.sleep(2)

    handlers = {
        "oversized": oversized,
        "garbage": garbage,
        "silent": silent,
        "close": close_early,
        "empty": empty_packet,
        # a change before the end of the message
        "early-mod": conversation(on_optneg=lambda c: c.sendall(
            pkt(b"h", b"X-A\0v\0"))),
        # a header injection at EOB
        "inject": conversation(on_eob=lambda c: c.sendall(
            pkt(b"h", b"X-A\0v\r\nX-Injected: 1\0") + pkt(b"a"))),
        # a name with ':'
        "bad-name": conversation(on_eob=lambda c: c.sendall(
            pkt(b"h", b"X:A\0v\0") + pkt(b"a"))),
        # a replycode that is not an error code
        "bad-reply": conversation(on_eob=lambda c: c.sendall(
            pkt(b"y", b"250 2.0.0 fine\0"))),
        # more changes than kept
        "too-many": conversation(on_eob=lambda c: c.sendall(
            b"".join(pkt(b"h", f"X-N{i}\0v\0".encode()) for i in range(65)) +
            pkt(b"a"))),
        # version 99
        "version": conversation(on_optneg=lambda c: c.sendall(
            pkt(b"O", struct.pack(">III", 99, 0, 0)))),
    }
    if name == "skip":
        # SKIP is for body chunks only
        def skip(conn):
            read_pkt(conn)
            conn.sendall(pkt(b"O", struct.pack(">III", 6, 0, 0x400)))
            while True:
                cmd, _ = read_pkt(conn)
                if cmd in (None, b"C"):
                    break
            conn.sendall(pkt(b"s"))
            time.sleep(1)
        return skip
    return handlers[name]


@pytest.mark.parametrize("name,why", [
    ("oversized", "over"),
    ("garbage", "protocol error"),
    ("silent", "no reply"),
    ("close", "closed"),
    ("empty", "empty packet"),
    ("early-mod", "reply to OPTNEG"),
    ("inject", "not a fold"),
    ("bad-name", "bad character in name"),
    ("bad-reply", "not a 4xx or 5xx"),
    ("too-many", "more than 64"),
    ("version", "version"),
    ("skip", "skip reply outside the body"),
])
def test_fake_hostile(instance, tmp_path, fake, name, why):
    spec = fake(hostile(name))
    for mode in ("accept", "tempfail"):
        t0 = time.monotonic()
        rc, out, p = milter(instance, tmp_path, spec, CLEAN,
                            on_failure=mode, timeout="1s")
        assert rc == 0, p.stderr
        assert time.monotonic() - t0 < 15
        assert out["verdict"] == [mode], p.stdout + p.stderr
        assert why in out["failed"][0], p.stdout
        # nothing of a broken milter is kept
        assert "header" not in out, p.stdout


def test_fake_progress_resets_the_reply_timeout(instance, tmp_path, fake):
    def slow_eob(conn):
        for _ in range(6):      # 3 s of progress, with a 1 s timeout
            time.sleep(0.5)
            conn.sendall(pkt(b"p"))
        conn.sendall(pkt(b"a"))
    spec = fake(conversation(on_eob=slow_eob))
    rc, out, p = milter(instance, tmp_path, spec, CLEAN, timeout="1s")
    assert out["verdict"] == ["accept"], p.stdout + p.stderr
    assert "failed" not in out
    # but not the whole check's
    rc, out, p = milter(instance, tmp_path, spec, CLEAN,
                        "-o", "milter.message_timeout=2s", timeout="1s",
                        on_failure="tempfail")
    assert out["verdict"] == ["tempfail"], p.stdout
    assert "took over 2s" in out["failed"][0]


def test_config_errors(instance, tmp_path):
    for bad in ("milter.servers=inet:localhost:1", "milter.servers=tcp:1.2.3.4:5",
                "milter.on_failure=maybe", "milter.listeners=imap"):
        p = run_cli(["spam", "milter", "-c", instance.conf, "-o", bad],
                    input=CLEAN)
        assert p.returncode == 1, (bad, p.stdout, p.stderr)
        assert bad.split("=")[0].split(".")[1] in p.stderr, p.stderr
    p = run_cli(["spam", "milter", "-c", instance.conf], input=CLEAN)
    assert p.returncode == 1 and "servers is empty" in p.stderr


def test_fake_skip_ends_the_body(instance, tmp_path, fake):
    """SKIP after the first body chunk: the rest is not sent, EOB is."""
    rec = []

    def handler(conn):
        while True:
            cmd, data = read_pkt(conn)
            if cmd is None or cmd == b"Q":
                return
            rec.append(cmd)
            if cmd == b"O":
                conn.sendall(pkt(b"O", struct.pack(">III", 6, 0x31, 0x400)))
            elif cmd == b"B":
                conn.sendall(pkt(b"s"))
            elif cmd == b"E":
                conn.sendall(pkt(b"a"))
            elif cmd not in (b"D", b"A"):
                conn.sendall(pkt(b"c"))
    spec = fake(handler)
    msg = "Subject: x\r\n\r\n" + "y" * 200000 + "\r\n"
    rc, out, p = milter(instance, tmp_path, spec, msg)
    assert out["verdict"] == ["accept"], p.stdout + p.stderr
    assert rec.count(b"B") == 1 and rec[-1] == b"E", rec


def test_connect_timeout(instance, tmp_path):
    """A listener whose accept queue is full drops the SYN: the connect
    hangs until [milter] connect_timeout."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fill = []
    try:
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fill.append(c)
        time.sleep(0.3)
        t0 = time.monotonic()
        rc, out, p = milter(instance, tmp_path, f"inet:127.0.0.1:{port}",
                            CLEAN, "-o", "milter.connect_timeout=2s",
                            on_failure="tempfail")
        took = time.monotonic() - t0
        assert out["verdict"] == ["tempfail"], p.stdout + p.stderr
        assert "timed out after 2s" in out["failed"][0]
        assert 1.5 < took < 10, took
    finally:
        for c in fill:
            c.close()
        s.close()


# --- over SMTP: the end of DATA asks the milters ------------------------------

def test_smtp_eicar_rejected_clean_stored_with_headers(start_server, clamav):
    srv = start_server(**{"milter.servers": clamav["reject_inet"]})
    with srv.connect() as c:
        r = c.send_mail("a@example.org", ["alice@example.test"],
                        VIRUS.encode())
        assert r.code == 550 and "Virus found" in r.raw.decode(), r.raw
        r = c.send_mail("a@example.org", ["alice@example.test"],
                        CLEAN.encode(), ehlo=False)
        assert r.code == 250, r.raw
        c.cmd("QUIT")
    msgs = srv.messages("alice@example.test")
    assert len(msgs) == 1
    stored = srv.get("alice@example.test", msgs[0][0])
    assert b"X-Virus-Status: Clean\r\n" in stored


def test_smtp_milter_down_tempfails(start_server):
    srv = start_server(**{"milter.servers": f"inet:127.0.0.1:{free_port()}",
                          "milter.on_failure": "tempfail"})
    with srv.connect() as c:
        r = c.send_mail("a@example.org", ["alice@example.test"],
                        CLEAN.encode())
        assert r.code == 451 and "4.7.1" in r.raw.decode(), r.raw
        c.cmd("QUIT")
    assert srv.count("alice@example.test") == 0
