"""DKIM (RFC 6376, RFC 8463, RFC 8301) against real peers.

Signing: keys made by `correio dkim generate` sign what alice@example.test
submits; the message travels to a second Correio (remote.test on
127.0.0.2, as in test_outbound.py), is read back from its store over
IMAP, and must verify with dkimpy's `dkimverify` and OpenDKIM (the
`opendkim` binary in its test mode, -t: no daemon, no milter), rsa-sha256
and ed25519-sha256 both.

Verifying: messages signed by dkimpy (`dkimsign`: rsa, ed25519, simple and
relaxed) and by OpenDKIM (rsa; `opendkim -t` with Mode s, since
`opendkim-testmsg` only signs rsa-sha1) must pass `correio dkim verify`; a changed body or signed header field must fail; revoked, missing
and weak keys, and rsa-sha1, are reported as such.

Every key is served by a private loopback unbound of this module (the
session's zones plus the records printed by `correio dkim generate` and
the outside signers' ones); every peer is pointed at it: dkimpy through
dnspython's default resolver, OpenDKIM through an unbound configuration
(ResolverConfiguration). No lookup leaves the machine.
"""
import base64
import imaplib
import os
import re
import smtplib
import ssl
import stat
import subprocess

import pytest

from conftest import (CLI_TIMEOUT, DNS_ZONES, DOMAIN, PASSWORD, Instance,
                      Server, run_cli, unbound_start, unbound_stop)
from test_outbound import (REMOTE_USER, free_port_on, remote_template,  # noqa: F401
                           sender_overrides, submit, wait_for)

ALICE = f"alice@{DOMAIN}"
SIGNER = "signer.test"          # the outside signers' domain
PYTHON = "/usr/bin/python3"

# dkimpy's own dkimverify program, with dnspython's default resolver set
# to the test unbound (argv: ADDRESS PORT, then dkimverify's options).
DKIMVERIFY = """import sys, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv.pop(1)]
r.port = int(sys.argv.pop(1))
dns.resolver.default_resolver = r
from dkim.dkimverify import main
main()
"""


def zone_records(text):
    """The records of zone-file text: lines that are not comments, with
    their character-strings joined into one (parentheses allowed)."""
    out = []
    text = re.sub(r";[^\n\"]*$", "", text, flags=re.M)
    for m in re.finditer(r"^(\S+)\s+(?:IN\s+)?TXT\s+\(?([^)]*?)\)?\s*$",
                         text.replace("\n\t", " ").replace("\n ", " "),
                         flags=re.M):
        strings = re.findall(r'"([^"]*)"', m.group(2))
        out.append((m.group(1), "".join(strings)))
    return out


def txt(name, value):
    """A local-data line for unbound: the value in 255-byte strings."""
    chunks = [value[i:i + 255] for i in range(0, len(value), 255)]
    return f"{name} TXT " + " ".join(f'"{c}"' for c in chunks)


def run(args, input=None):
    p = subprocess.run([str(a) for a in args], input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=CLI_TIMEOUT)
    return p


@pytest.fixture(scope="module")
def dkim_env(template_instance, tmp_path_factory):
    base = tmp_path_factory.mktemp("dkim")
    inst = Instance(base / "inst")
    subprocess.run(["cp", "-a", template_instance.dir, inst.dir], check=True,
                   timeout=CLI_TIMEOUT)
    gen = inst.cli_ok("dkim", "generate", DOMAIN)
    own = zone_records(gen.stdout)

    # the outside signers' keys, made by their own tools
    keys = base / "keys"
    keys.mkdir()
    for name, ktype in (("rsa", "rsa"), ("ed", "ed25519")):
        p = run(["dknewkey", "--ktype", ktype, keys / name])
        assert p.returncode == 0, p.stderr
    p = run(["opendkim-genkey", "-D", keys, "-d", SIGNER, "-s", "odk"])
    assert p.returncode == 0, p.stderr
    p = run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
             "rsa_keygen_bits:512", "-out", keys / "weak.pem"])
    assert p.returncode == 0, p.stderr
    weak_pub = run(["openssl", "pkey", "-in", keys / "weak.pem", "-pubout",
                    "-outform", "DER"]).stdout
    signer = [
        txt(f"rsa._domainkey.{SIGNER}.", (keys / "rsa.dns").read_text().strip()),
        txt(f"ed._domainkey.{SIGNER}.", (keys / "ed.dns").read_text().strip()),
        txt(f"odk._domainkey.{SIGNER}.",
            zone_records((keys / "odk.txt").read_text())[0][1]),
        txt(f"weak._domainkey.{SIGNER}.", "v=DKIM1; k=rsa; p=" +
            base64.b64encode(weak_pub).decode()),
        # the rsa key, revoked (RFC 6376 3.6.1: empty p=)
        txt(f"revoked._domainkey.{SIGNER}.", "v=DKIM1; k=rsa; p="),
        # the rsa key again, in testing mode and strict
        txt(f"strict._domainkey.{SIGNER}.", (keys / "rsa.dns").read_text()
            .strip().replace("v=DKIM1;", "v=DKIM1; t=y:s;")),
    ]
    zones = dict(DNS_ZONES)
    zones[DOMAIN] = DNS_ZONES[DOMAIN] + [txt(n, v) for n, v in own]
    zones[SIGNER] = signer
    proc, resolver = unbound_start(base, zones)
    try:
        yield {"inst": inst, "records": own, "keys": keys,
               "resolver": resolver, "gen": gen}
    finally:
        unbound_stop(proc)


@pytest.fixture
def signing(dkim_env, tmp_path):
    """An instance of example.test with keys; a copy for each test."""
    dest = str(tmp_path / "inst")
    subprocess.run(["cp", "-a", dkim_env["inst"].dir, dest], check=True,
                   timeout=CLI_TIMEOUT)
    return Instance(dest)


def correio_verify(inst, resolver, msg, out=None):
    """`correio dkim verify` on MSG: (exit code, [(result, fields)]); the
    output too if OUT (a list) is given."""
    p = run_cli(["dkim", "verify", "-c", inst.conf, "-o",
                 f"dns.resolver={resolver}"], input=msg)
    lines = []
    for line in p.stdout.splitlines():
        if line.startswith(";"):
            continue
        result, rest = line.split(" ", 1)
        fields = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', rest))
        fields = {k: v.strip('"') for k, v in fields.items()}
        lines.append((result, fields))
    if out is not None:
        out.append(p.stdout)
    return p.returncode, lines


def dkimverify(msg, resolver, index=0):
    addr, port = resolver.split("@")
    p = run([PYTHON, "-c", DKIMVERIFY, addr, port, "--index", index],
            input=msg)
    return p.returncode == 0 and b"signature ok" in p.stdout


def opendkim_verify(msg, resolver, tmp_path):
    """OpenDKIM's results, {a=: result}, from its test mode."""
    addr, port = resolver.split("@")
    ub = tmp_path / "opendkim-unbound.conf"
    # libunbound refuses "test." unless told (RFC 6761 6.2)
    ub.write_text("server:\n    do-not-query-localhost: no\n"
                  '    local-zone: "test." nodefault\n'
                  'forward-zone:\n    name: "."\n'
                  f"    forward-addr: {addr}@{port}\n")
    conf = tmp_path / "opendkim.conf"
    conf.write_text(f"Mode v\nResolverConfiguration {ub}\nSyslog no\n")
    f = tmp_path / "opendkim-msg.eml"
    f.write_bytes(msg)
    p = run(["opendkim", "-t", f, "-x", conf, "-vvv"])
    out = (p.stdout + p.stderr).decode(errors="replace")
    results = {}
    for m in re.finditer(r"dkim=(\w+)[^\n]*?header\.a=([\w-]+)", out):
        results.setdefault(m.group(2), m.group(1))
    assert results, f"no DKIM result from opendkim:\n{out}"
    return results


def imap_fetch_all(server, user):
    """Every message of USER's INBOX, fetched over IMAP."""
    with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10) as m:
        m.login(user, PASSWORD)
        m.select("INBOX")
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        assert typ == "OK", data
        return [d[1] for d in data if isinstance(d, tuple)]


def tamper(msg, old, new):
    assert old in msg
    return msg.replace(old, new, 1)


# --- keys -------------------------------------------------------------------

def test_generate_prints_records_and_keeps_private_keys_private(dkim_env,
                                                                signing):
    recs = dkim_env["records"]
    assert [n.split(".")[0].split("-")[0] for n, _ in recs] == \
        ["rsa", "ed25519"]
    assert all(n.endswith(f"._domainkey.{DOMAIN}.") for n, _ in recs)
    assert recs[0][1].startswith("v=DKIM1; k=rsa; p=MII")
    assert recs[1][1].startswith("v=DKIM1; k=ed25519; p=")
    assert "restart" in dkim_env["gen"].stderr
    data = os.path.join(signing.dir, "data", "dkim", DOMAIN)
    files = sorted(os.listdir(data))
    assert len(files) == 2 and all(f.endswith(".pem") for f in files)
    for f in files:
        st = os.stat(os.path.join(data, f))
        assert stat.S_IMODE(st.st_mode) == 0o600
        # owned like the rest of the data directory (the server's user)
        assert st.st_uid == os.stat(os.path.join(signing.dir, "data")).st_uid
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    # show prints the same records again
    show = signing.cli_ok("dkim", "show", DOMAIN)
    assert zone_records(show.stdout) == recs


def test_generate_refusals(signing):
    p = signing.cli("dkim", "generate", "not-hosted.test")
    assert p.returncode == 1 and "not a hosted domain" in p.stderr
    p = signing.cli("dkim", "generate", DOMAIN, "--selector", "s1")
    assert p.returncode == 2 and "--algorithm" in p.stderr
    p = signing.cli("dkim", "generate", DOMAIN, "--selector", "bad_sel",
                    "--algorithm", "rsa")
    assert p.returncode == 2 and "bad selector" in p.stderr
    p = signing.cli("dkim", "generate", DOMAIN, "--algorithm", "dsa")
    assert p.returncode == 2
    p = signing.cli_ok("dkim", "generate", DOMAIN, "--selector", "extra",
                       "--algorithm", "ed25519")
    recs = zone_records(p.stdout)
    assert len(recs) == 1 and recs[0][0] == f"extra._domainkey.{DOMAIN}."
    p = signing.cli("dkim", "generate", DOMAIN, "--selector", "extra",
                    "--algorithm", "ed25519")
    assert p.returncode == 1 and "exists already" in p.stderr
    p = signing.cli("dkim", "show", "example.org")
    assert p.returncode == 1


# --- signing: submission to a remote Correio, verified by the peers ----------

@pytest.fixture
def outbound_signed(remote_template, signing, dkim_env, tmp_path):  # noqa: F811
    dest = str(tmp_path / "remote")
    subprocess.run(["cp", "-a", remote_template.dir, dest], check=True,
                   timeout=CLI_TIMEOUT)
    port = free_port_on("127.0.0.2")
    resolver = dkim_env["resolver"]
    remote = Server(Instance(dest), {"smtp.listen": f"127.0.0.2:{port}",
                                     "queue.deliver": "0",
                                     "imap.allow_plaintext": "loopback",
                                     "dns.resolver": resolver})
    sender = Server(signing, dict(sender_overrides(port),
                                  **{"dns.resolver": resolver}))
    started = []
    try:
        remote.start()
        started.append(remote)
        sender.start()
        started.append(sender)
        yield sender, remote
    finally:
        errors = []
        for s in started:
            try:
                s.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


def test_submitted_mail_verifies_with_dkimpy_and_opendkim(outbound_signed,
                                                          dkim_env, tmp_path):
    sender, remote = outbound_signed
    resolver = dkim_env["resolver"]
    assert "dkim keys=2" in sender.log()
    submit(sender, [REMOTE_USER], subject="signed  twice",
           body="Dual signing.\r\n\r\n  spaced   line \r\n\r\n\r\n")
    wait_for("the remote INBOX", lambda: remote.inst.count(REMOTE_USER) == 1,
             server=sender)
    msg = imap_fetch_all(remote, REMOTE_USER)[0]
    head = msg.split(b"\r\n\r\n", 1)[0]
    sigs = re.findall(rb"(?m)^DKIM-Signature:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*",
                      head)
    assert len(sigs) == 2, head
    assert b"a=rsa-sha256" in sigs[0] and b"a=ed25519-sha256" in sigs[1]
    for s in sigs:
        unfolded = re.sub(rb"\r\n[ \t]+", b" ", s)
        assert b"c=relaxed/relaxed" in unfolded and b"t=" in unfolded
        assert b" l=" not in unfolded and b" x=" not in unfolded
        # From: oversigned (RFC 6376 8.15)
        assert re.search(rb"h=From:From:", unfolded, re.I), unfolded

    # dkimpy, both signatures
    assert dkimverify(msg, resolver, 0)
    assert dkimverify(msg, resolver, 1)
    # OpenDKIM, both signatures
    assert opendkim_verify(msg, resolver, tmp_path) == \
        {"rsa-sha256": "pass", "ed25519-sha256": "pass"}
    # and Correio itself
    rc, lines = correio_verify(sender.inst, resolver, msg)
    assert rc == 0 and [r for r, _ in lines] == ["pass", "pass"], lines

    # a changed body, a changed signed header: every verifier says no
    for bad in (tamper(msg, b"Dual signing.", b"Dual signing!"),
                tamper(msg, b"Subject: signed  twice", b"Subject: signed thrice")):
        assert not dkimverify(bad, resolver, 0)
        assert not dkimverify(bad, resolver, 1)
        assert set(opendkim_verify(bad, resolver, tmp_path).values()) == \
            {"fail"}
        rc, lines = correio_verify(sender.inst, resolver, bad)
        assert rc == 1 and [r for r, _ in lines] == ["fail", "fail"], lines
    rc, lines = correio_verify(sender.inst, resolver,
                               tamper(msg, b"Dual signing.", b"Dual signing!"))
    assert lines[0][1]["reason"] == "body hash mismatch"


def test_mail_of_a_domain_without_keys_is_not_signed(outbound_signed,
                                                     dkim_env):
    sender, remote = outbound_signed
    # bob's alias in another hosted domain, without keys
    sender.cli_ok("domain", "add", "other.test")
    sender.cli_ok("alias", "add", "alice@other.test", ALICE)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    msg = (f"From: <alice@other.test>\r\nTo: {REMOTE_USER}\r\n"
           "Subject: unsigned\r\n\r\nNo key for other.test.\r\n").encode()
    with smtplib.SMTP("127.0.0.1", sender.sub_port, timeout=10) as s:
        s.starttls(context=ctx)
        s.login(ALICE, PASSWORD)
        s.sendmail("alice@other.test", [REMOTE_USER], msg)
    wait_for("the remote INBOX", lambda: remote.inst.count(REMOTE_USER) == 1,
             server=sender)
    got = imap_fetch_all(remote, REMOTE_USER)[0]
    assert b"DKIM-Signature" not in got
    rc, lines = correio_verify(sender.inst, dkim_env["resolver"], got)
    assert rc == 1 and lines == [("none", {"reason": "no DKIM-Signature"})]


def test_sendmail_signs_too(signing, dkim_env):
    msg = (f"From: Alice <{ALICE}>\nTo: bob@{DOMAIN}\nSubject: cron\n\n"
           "Output of a job.\n")
    p = run_cli(["sendmail", "-C", signing.conf, f"bob@{DOMAIN}"], input=msg)
    assert p.returncode == 0, p.stderr
    rows = signing.messages(f"bob@{DOMAIN}")
    stored = signing.get(f"bob@{DOMAIN}", rows[0][0])
    assert stored.count(b"DKIM-Signature:") == 2
    # under the trace fields
    assert stored.index(b"Received:") < stored.index(b"DKIM-Signature:")
    assert dkimverify(stored, dkim_env["resolver"], 0)
    assert dkimverify(stored, dkim_env["resolver"], 1)
    rc, lines = correio_verify(signing, dkim_env["resolver"], stored)
    assert rc == 0 and [r for r, _ in lines] == ["pass", "pass"], lines


# --- verifying what others signed --------------------------------------------

MESSAGE = (f"From: Sam <sam@{SIGNER}>\r\nTo: {ALICE}\r\n"
           "Subject: from the outside\r\nDate: Mon, 2 Nov 2026 10:00:00 +0100\r\n"
           f"Message-ID: <1@{SIGNER}>\r\n\r\n"
           "Hello  Alice,\r\n\r\nthis was  signed   elsewhere.  \r\n\r\n\r\n"
           ).encode()


def dkimsign(keys, selector, keyfile, alg, hcanon, bcanon, msg=MESSAGE):
    p = run(["dkimsign", "--signalg", alg, "--hcanon", hcanon, "--bcanon",
             bcanon, selector, SIGNER, keys / keyfile], input=msg)
    assert p.returncode == 0, p.stderr
    out = p.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert out.startswith(b"DKIM-Signature:")
    return out


@pytest.mark.parametrize("selector,keyfile,alg", [
    ("rsa", "rsa.key", "rsa-sha256"),
    ("ed", "ed.key", "ed25519-sha256"),
])
@pytest.mark.parametrize("canon", ["simple/simple", "relaxed/relaxed",
                                   "relaxed/simple", "simple/relaxed"])
def test_dkimpy_signatures_verify(dkim_env, signing, selector, keyfile, alg,
                                  canon):
    resolver = dkim_env["resolver"]
    h, b = canon.split("/")
    signed = dkimsign(dkim_env["keys"], selector, keyfile, alg, h, b)
    rc, lines = correio_verify(signing, resolver, signed)
    assert rc == 0, lines
    (result, f), = lines
    assert (result, f["d"], f["s"], f["a"]) == ("pass", SIGNER, selector, alg)
    # the body, a signed header, an unsigned one
    rc, lines = correio_verify(signing, resolver,
                               tamper(signed, b"Hello  Alice", b"Hello Bob"))
    assert rc == 1 and lines[0][0] == "fail"
    assert lines[0][1]["reason"] == "body hash mismatch"
    rc, lines = correio_verify(signing, resolver, tamper(
        signed, b"Subject: from the outside", b"Subject: from the inside"))
    assert rc == 1 and lines[0][0] == "fail"
    assert lines[0][1]["reason"] == "signature verification failed"
    rc, lines = correio_verify(signing, resolver,
                               b"X-Added: later\r\n" + signed)
    assert rc == 0 and lines[0][0] == "pass"
    # white space only: relaxed survives, simple does not
    respaced = tamper(signed, b"this was  signed", b"this was signed")
    rc, lines = correio_verify(signing, resolver, respaced)
    assert lines[0][0] == ("pass" if b == "relaxed" else "fail"), lines


def opendkim_sign(keys, canon, tmp_path, msg=MESSAGE):
    """MSG signed by OpenDKIM: its binary in test mode with Mode s prints
    the field it would insert; it goes on top of the message."""
    f = tmp_path / "opendkim-sign.eml"
    f.write_bytes(msg)
    conf = tmp_path / "opendkim-sign.conf"
    conf.write_text(f"Mode s\nDomain {SIGNER}\nSelector odk\n"
                    f"KeyFile {keys / 'odk.private'}\n"
                    "SignatureAlgorithm rsa-sha256\n"
                    f"Canonicalization {canon}\n"
                    # the key is in a pytest temporary directory
                    "RequireSafeKeys no\nSyslog no\n")
    p = run(["opendkim", "-t", f, "-x", conf, "-vvv"])
    out = (p.stdout + p.stderr).decode(errors="replace")
    m = re.search(r"hname='DKIM-Signature' hvalue='([^']*)'", out)
    assert m, f"opendkim did not sign:\n{out}"
    field = m.group(1).replace("\r\n", "\n").replace("\n", "\r\n")
    return b"DKIM-Signature: " + field.encode() + b"\r\n" + msg


@pytest.mark.parametrize("canon", ["relaxed/simple", "simple/simple",
                                   "relaxed/relaxed"])
def test_opendkim_signature_verifies(dkim_env, signing, tmp_path, canon):
    resolver = dkim_env["resolver"]
    signed = opendkim_sign(dkim_env["keys"], canon, tmp_path)
    assert f"c={canon};".encode() in signed
    rc, lines = correio_verify(signing, resolver, signed)
    assert rc == 0 and lines[0][0] == "pass", lines
    assert lines[0][1]["s"] == "odk" and lines[0][1]["bits"] == "2048"
    rc, lines = correio_verify(signing, resolver,
                               tamper(signed, b"elsewhere", b"here"))
    assert rc == 1 and lines[0][1]["reason"] == "body hash mismatch"
    rc, lines = correio_verify(signing, resolver,
                               tamper(signed, b"From: Sam", b"From: Max"))
    assert rc == 1 and lines[0][0] == "fail"


def test_opendkim_testmsg_rsa_sha1_is_refused(dkim_env, signing):
    # opendkim-testmsg signs with its library's default, rsa-sha1, which
    # RFC 8301 3.1 forbids verifiers to accept
    p = run(["opendkim-testmsg", "-C", "-d", SIGNER, "-s", "odk", "-k",
             dkim_env["keys"] / "odk.private"], input=MESSAGE)
    assert p.returncode == 0, p.stderr
    signed = p.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert signed.startswith(b"DKIM-Signature:") and b"a=rsa-sha1" in signed
    rc, lines = correio_verify(signing, dkim_env["resolver"], signed)
    assert rc == 1 and lines == [("fail", dict(
        lines[0][1], reason="rsa-sha1 not accepted (RFC 8301)"))], lines


def test_key_problems_are_reported(dkim_env, signing):
    resolver, keys = dkim_env["resolver"], dkim_env["keys"]
    cases = [
        # (selector used, key file, algorithm, result, reason)
        ("revoked", "rsa.key", "rsa-sha256", "permerror", "key revoked"),
        ("nokey", "rsa.key", "rsa-sha256", "permerror", "no key"),
        ("weak", "weak.pem", "rsa-sha256", "fail",
         "RSA key too small (under 1024 bits, RFC 8301)"),
        ("rsa", "rsa.key", "rsa-sha1", "fail",
         "rsa-sha1 not accepted (RFC 8301)"),
        # an RSA signature checked against the Ed25519 key record
        ("ed", "rsa.key", "rsa-sha256", "permerror",
         "key type (k=) does not match a="),
    ]
    for selector, keyfile, alg, result, reason in cases:
        signed = dkimsign(keys, selector, keyfile, alg, "relaxed", "relaxed")
        rc, lines = correio_verify(signing, resolver, signed)
        assert rc == 1, (selector, lines)
        assert lines == [(result, dict(lines[0][1], reason=reason))], \
            (selector, lines)
    # t=y (testing) is reported; t=s refuses an i= in a subdomain
    signed = dkimsign(keys, "strict", "rsa.key", "rsa-sha256", "relaxed",
                      "relaxed")
    rc, lines = correio_verify(signing, resolver, signed)
    assert rc == 0 and lines[0][1].get("testing") == "yes", lines
    p = run(["dkimsign", "--identity", f"sam@sub.{SIGNER}", "strict", SIGNER,
             keys / "rsa.key"], input=MESSAGE)
    rc, lines = correio_verify(signing, resolver, p.stdout)
    assert rc == 1 and lines[0][0] == "permerror", lines


def test_several_signatures_each_get_a_result(dkim_env, signing):
    resolver, keys = dkim_env["resolver"], dkim_env["keys"]
    once = dkimsign(keys, "ed", "ed.key", "ed25519-sha256", "relaxed",
                    "simple")
    twice = dkimsign(keys, "revoked", "rsa.key", "rsa-sha256", "simple",
                     "simple", msg=once)
    rc, lines = correio_verify(signing, resolver, twice)
    assert rc == 0
    assert [(r, f["s"]) for r, f in lines] == [("permerror", "revoked"),
                                               ("pass", "ed")]
    # past the limit: counted, not verified
    many = once
    for _ in range(11):
        many = b"DKIM-Signature: v=1; a=rsa-sha256; d=x.test; s=s; " \
            b"h=from; bh=AAAA; b=AAAA\r\n" + many
    out = []
    rc, lines = correio_verify(signing, resolver, many, out)
    assert rc == 1 and len(lines) == 10
    assert all(r == "permerror" for r, _ in lines)
    assert "; 2 more signatures not verified (limit 10)" in out[0]


# dkimpy's library (its CLI has no option for it) signing with l=
DKIMSIGN_L = """import sys, dkim
m = sys.stdin.buffer.read()
k = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(dkim.sign(m, b"rsa", b"signer.test", k,
                                  length=True) + m)
"""


def test_body_length_tag(dkim_env, signing):
    resolver = dkim_env["resolver"]
    p = run([PYTHON, "-c", DKIMSIGN_L, dkim_env["keys"] / "rsa.key"],
            input=MESSAGE)
    assert p.returncode == 0, p.stderr
    signed = p.stdout
    assert re.search(rb";\s*l=\d+;", signed), signed
    rc, lines = correio_verify(signing, resolver, signed)
    assert rc == 0 and lines[0][1]["reason"] == "signature verified"
    # content after the signed length passes, and is said to be unsigned
    rc, lines = correio_verify(signing, resolver,
                               signed + b"Unsigned postscript.\r\n")
    assert rc == 0 and lines[0][0] == "pass"
    assert "l= leaves part of the body unsigned" in lines[0][1]["reason"]
    # a body shorter than l=
    rc, lines = correio_verify(signing, resolver,
                               tamper(signed, b"signed   elsewhere.  ", b""))
    assert rc == 1 and lines[0] == ("permerror", dict(
        lines[0][1], reason="l= is longer than the body"))
