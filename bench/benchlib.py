"""bench/benchlib.py - what the benchmark scripts share: process and port
helpers, a private loopback unbound, and a Correio instance.

Python 3 standard library only. Every server started through here is
stopped by its pid (Server.stop, or stop_all at exit).
"""

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time

START_TIMEOUT = 20       # seconds for a server to listen
STOP_TIMEOUT = 15        # seconds for a server to exit after SIGTERM

NAME = os.path.basename(sys.argv[0])
_servers = []


def log(msg):
    print(msg, flush=True)


def die(msg):
    print("%s: %s" % (NAME, msg), file=sys.stderr, flush=True)
    sys.exit(1)


def free_port(addr, kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def listening(addr, port):
    try:
        with socket.create_connection((addr, port), timeout=1):
            return True
    except OSError:
        return False


def wait_greeting(addr, port, prefix, timeout, alive=None):
    """Waits until addr:port greets with prefix (b"220", b"* OK")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection((addr, port), timeout=2) as s:
                s.settimeout(5)
                if s.recv(512).startswith(prefix):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def run(argv, timeout=60, input=None, check=True, env=None):
    r = subprocess.run(argv, input=input, capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        die("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                  r.stderr))
    return r


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def tree_digest(top):
    """Names, sizes, mtimes and contents of every file under top."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames) + sorted(dirnames):
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            h.update(("%s %d %d %d\n" % (p, st.st_mode, st.st_size,
                                         st.st_mtime_ns)).encode())
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_pid_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


def cpu_seconds(pid):
    """utime + stime of one process (all its threads), in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Server:
    """A process started here, stopped by its pid."""

    def __init__(self, name, argv, logpath):
        self.name = name
        self.logpath = logpath
        with open(logpath, "wb") as logf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=logf,
                                         stderr=subprocess.STDOUT)
        _servers.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print("%s: %s (pid %d) did not stop on SIGTERM within %ds; "
                      "killing it" % (NAME, self.name, self.proc.pid,
                                      STOP_TIMEOUT), file=sys.stderr)
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        if self in _servers:
            _servers.remove(self)


def stop_all():
    for s in list(reversed(_servers)):
        s.stop()


def start_unbound(tmpdir, address, zones):
    """A private unbound on address: static root, only the given zones
    ({zone: [records]}), nothing ever asked of another server. Returns
    (server, "address@port")."""
    unbound = "/usr/sbin/unbound"
    if not os.access(unbound, os.X_OK):
        die("unbound missing: run scripts/install-deps")
    port = free_port(address, socket.SOCK_DGRAM)
    lines = [
        "server:",
        "    interface: %s@%d" % (address, port),
        "    port: %d" % port,
        "    do-daemonize: no",
        '    username: ""',
        '    chroot: ""',
        '    directory: "%s"' % tmpdir,
        '    pidfile: "%s/unbound.pid"' % tmpdir,
        "    use-syslog: no",
        '    logfile: ""',
        "    verbosity: 1",
        "    do-ip6: no",
        '    module-config: "iterator"',
        "    access-control: 127.0.0.0/8 allow",
        '    local-zone: "." static',
    ]
    for zone, records in zones.items():
        lines.append('    local-zone: "%s." static' % zone)
        for r in records:
            lines.append("    local-data: '%s'" % r)
    lines += ["remote-control:", "    control-enable: no", ""]
    conf = os.path.join(tmpdir, "unbound.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines))
    run([unbound + "-checkconf", conf])
    srv = Server("unbound", [unbound, "-d", "-c", conf],
                 os.path.join(tmpdir, "unbound.log"))
    # Ready once a query is answered.
    deadline = time.monotonic() + START_TIMEOUT
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" \
        b"\x04test\x00\x00\x01\x00\x01"
    while time.monotonic() < deadline:
        if not srv.alive():
            break
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(query, (address, port))
                if s.recv(4096)[:2] == query[:2]:
                    return srv, "%s@%d" % (address, port)
            except OSError:
                pass
        time.sleep(0.05)
    die("unbound did not answer on %s:%d:\n%s"
        % (address, port, tail(srv.logpath)))


# Listeners `correio init` configures; a benchmark turns off those it
# does not use, so that its log holds only what the run caused.
CORREIO_LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps",
                     "pop3", "pop3s")


def start_correio(correio, directory, domain, hostname, users, listen,
                  options=(), logname=None):
    """Makes a Correio instance in directory (correio init) with users
    ({address: password}), then serves it with the listeners of listen
    ({"smtp": "127.0.0.2:2525", ...}; the others off) and the extra -o
    options. Returns (server, config path) once every listener greets."""
    conf = os.path.join(directory, "correio.conf")
    run([correio, "init", "--dir", directory, "--domain", domain,
         "--hostname", hostname])
    for address, password in users.items():
        run([correio, "user", "add", "-c", conf, "--password-stdin",
             address], input=password + "\n")
    argv = [correio, "serve", "-c", conf, "-o", "log.level=info"]
    for name in CORREIO_LISTENERS:
        argv += ["-o", "%s.listen=%s" % (name, listen.get(name, ""))]
    for o in options:
        argv += ["-o", o]
    srv = Server("correio " + domain, argv,
                 os.path.join(os.path.dirname(directory),
                              logname or os.path.basename(directory) +
                              ".log"))
    for name, where in listen.items():
        addr, port = where.rsplit(":", 1)
        greet = b"* OK" if name.startswith("imap") else \
            b"+OK" if name.startswith("pop3") else b"220"
        if name in ("imaps", "pop3s", "submissions"):
            continue   # TLS from the first byte: not probed here
        if not wait_greeting(addr, int(port), greet, START_TIMEOUT,
                             alive=srv.alive):
            die("correio (%s) did not start listening on %s:\n%s"
                % (domain, where, tail(srv.logpath)))
    return srv, conf
