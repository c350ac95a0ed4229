"""The resolver (src/dns) through `correio dns mx` and `correio dns query`,
against the tests' private unbound (conftest.DNS_ZONES): MX routing by
preference, implicit MX, null MX, CNAME'd exchanges, IDNA, both address
families, TXT joining and escaping, PTR, NXDOMAIN and NODATA, a timeout,
and hostile names. Temporary failures exit 75, permanent ones 1."""
import socket

import pytest

import conftest
from conftest import run_cli

EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75


def dns(inst, *args, resolver=None, timeout=None):
    """`correio dns ARGS -c CONF -o dns.resolver=...` (the test resolver
    unless another is given)."""
    cmd = ["dns"] + [str(a) for a in args] + ["-c", inst.conf]
    cmd += ["-o", f"dns.resolver={resolver or conftest.DNS_RESOLVER}"]
    if timeout is not None:
        cmd += ["-o", f"dns.timeout={timeout}"]
    return run_cli(cmd)


def parse_route(p):
    """`dns mx` output as (header dict, [(pref, name, [addrs] or None, rest)])."""
    lines = p.stdout.splitlines()
    assert lines and lines[0].startswith("; "), p.stdout
    head = dict(kv.split("=", 1) for kv in lines[0][2:].split())
    hosts = []
    for line in lines[1:]:
        f = line.split(" ")
        if len(f) >= 3 and f[2] == "-":
            hosts.append((int(f[0]), f[1], None, " ".join(f[3:])))
        else:
            hosts.append((int(f[0]), f[1], f[2:], ""))
    return head, hosts


def parse_query(p):
    lines = p.stdout.splitlines()
    assert lines and lines[0].startswith("; "), p.stdout
    head = dict(kv.split("=", 1) for kv in lines[0][2:].split())
    return head, lines[1:]


def one_line_error(p):
    err = p.stderr.strip("\n")
    assert err.startswith("correio: "), p.stderr
    assert "\n" not in err, p.stderr
    return err


# --- MX routes ----------------------------------------------------------------

def test_mx_two_preferences_in_order(instance):
    p = dns(instance, "mx", "twomx.test")
    assert p.returncode == 0, p.stderr
    head, hosts = parse_route(p)
    assert head["domain"] == "twomx.test"
    assert head["route"] == "mx"
    assert head["status"] == "ok"
    assert head["secure"] == "no"   # no trust anchor yet
    assert hosts == [(10, "mx-dead.twomx.test", ["127.0.0.9"], ""),
                     (20, "mx-live.twomx.test", ["127.0.0.1"], "")]


def test_mx_implicit_when_no_mx(instance):
    p = dns(instance, "mx", "implicit.test")
    assert p.returncode == 0, p.stderr
    head, hosts = parse_route(p)
    assert head["route"] == "implicit"
    assert hosts == [(0, "implicit.test", ["127.0.0.1"], "")]


def test_mx_implicit_both_families_ipv6_first(instance):
    p = dns(instance, "mx", "dual.test")
    assert p.returncode == 0, p.stderr
    head, hosts = parse_route(p)
    assert head["route"] == "implicit"
    assert hosts == [(0, "dual.test", ["::1", "127.0.0.1"], "")]


def test_mx_null_is_permanent(instance):
    p = dns(instance, "mx", "nullmx.test")
    assert p.returncode == EXIT_FAIL, p.stdout + p.stderr
    head, hosts = parse_route(p)
    assert head["status"] == "nullmx"
    assert hosts == []      # its A record must not become an implicit MX
    err = one_line_error(p)
    assert "permanent failure (nullmx)" in err
    assert "RFC 7505" in err


def test_mx_cname_exchange_followed(instance):
    p = dns(instance, "mx", "cname.test")
    assert p.returncode == 0, p.stderr
    _, hosts = parse_route(p)
    assert hosts == [(10, "alias.cname.test", ["127.0.0.1"], "")]


def test_mx_nxdomain_is_permanent(instance):
    p = dns(instance, "mx", "nxdomain.test")
    assert p.returncode == EXIT_FAIL, p.stdout + p.stderr
    head, hosts = parse_route(p)
    assert head["status"] == "nxdomain"
    assert hosts == []
    assert "permanent failure (nxdomain)" in one_line_error(p)


def test_mx_unusable_exchanges_are_listed_but_skipped(instance):
    p = dns(instance, "mx", "badmx.test")
    assert p.returncode == 0, p.stderr
    _, hosts = parse_route(p)
    assert [(h[0], h[1]) for h in hosts] == [
        (10, "bad_host.badmx.test"), (20, "noaddr.badmx.test"),
        (30, "mx-live.twomx.test")]
    assert hosts[0][2] is None and hosts[0][3].startswith("badname (permanent)")
    assert hosts[1][2] is None and hosts[1][3].startswith("nodata (permanent)")
    assert hosts[2][2] == ["127.0.0.1"]


def test_mx_no_exchange_with_address_is_permanent(instance):
    p = dns(instance, "mx", "deadend.test")
    assert p.returncode == EXIT_FAIL, p.stdout + p.stderr
    head, _ = parse_route(p)
    assert head["status"] == "nodata"
    assert "no exchange of the domain has an address" in one_line_error(p)


def test_mx_equal_preferences_all_listed_before_higher(instance):
    """Equal preferences come in random order (checked by the unit tests
    with a fixed random source); here: all of them, before the next."""
    seen_first = set()
    for _ in range(3):
        p = dns(instance, "mx", "equal.test")
        assert p.returncode == 0, p.stderr
        _, hosts = parse_route(p)
        assert sorted(h[1] for h in hosts[:3]) == \
            ["a.equal.test", "b.equal.test", "c.equal.test"]
        assert all(h[0] == 10 for h in hosts[:3])
        assert hosts[3][:3] == (20, "z.equal.test", ["127.0.0.14"])
        seen_first.add(hosts[0][1])
    assert seen_first <= {"a.equal.test", "b.equal.test", "c.equal.test"}


@pytest.mark.parametrize("domain", ["bücher.test", "BÜCHER.test", "xn--bcher-kva.test",
                                    "XN--BCHER-KVA.TEST."])
def test_mx_idna_domain(instance, domain):
    p = dns(instance, "mx", domain)
    assert p.returncode == 0, p.stderr
    head, hosts = parse_route(p)
    assert head["domain"] == "xn--bcher-kva.test"
    assert hosts == [(10, "mx-live.twomx.test", ["127.0.0.1"], "")]


def test_mx_trailing_dot_and_case_are_the_same_domain(instance):
    p = dns(instance, "mx", "TwoMX.Test.")
    assert p.returncode == 0, p.stderr
    head, hosts = parse_route(p)
    assert head["domain"] == "twomx.test"
    assert [h[1] for h in hosts] == ["mx-dead.twomx.test", "mx-live.twomx.test"]


# --- single queries -----------------------------------------------------------

def test_query_mx_records(instance):
    p = dns(instance, "query", "twomx.test", "MX")
    assert p.returncode == 0, p.stderr
    head, recs = parse_query(p)
    assert head["status"] == "ok" and head["type"] == "MX"
    assert sorted(recs) == ["10 mx-dead.twomx.test", "20 mx-live.twomx.test"]


def test_query_a_and_aaaa(instance):
    p = dns(instance, "query", "dual.test", "a")
    assert p.returncode == 0, p.stderr
    assert parse_query(p)[1] == ["127.0.0.1"]
    p = dns(instance, "query", "dual.test", "AAAA")
    assert p.returncode == 0, p.stderr
    assert parse_query(p)[1] == ["::1"]


def test_query_txt_strings_joined(instance):
    p = dns(instance, "query", "txt.test", "TXT")
    assert p.returncode == 0, p.stderr
    assert parse_query(p)[1] == ['"v=spf1 ip4:127.0.0.1 -all"']


def test_query_txt_escaped(instance):
    p = dns(instance, "query", "odd.txt.test", "TXT")
    assert p.returncode == 0, p.stderr
    # a"b\c: the quote is \034, the backslash \092 (RFC 1035 5.1).
    assert parse_query(p)[1] == ['"a\\034b\\092c"']


@pytest.mark.parametrize("addr,name", [("127.0.0.1", "loopback1.example.test"),
                                       ("127.0.0.2", "loopback2.example.test")])
def test_query_ptr_of_address(instance, addr, name):
    p = dns(instance, "query", addr, "PTR")
    assert p.returncode == 0, p.stderr
    head, recs = parse_query(p)
    rev = ".".join(reversed(addr.split("."))) + ".in-addr.arpa"
    assert head["name"] == rev
    assert recs == [name]


def test_query_ptr_without_record_is_nxdomain(instance):
    p = dns(instance, "query", "127.0.0.3", "PTR")
    assert p.returncode == EXIT_FAIL
    assert parse_query(p)[0]["status"] == "nxdomain"


def test_query_ptr_ipv6_asks_ip6_arpa(instance):
    p = dns(instance, "query", "::1", "PTR")
    head, _ = parse_query(p)
    assert head["name"] == "1." + "0." * 31 + "ip6.arpa"
    # The test zone for it is empty: not libunbound's own "localhost".
    assert p.returncode == EXIT_FAIL and head["status"] == "nxdomain"


def test_query_cname_reported(instance):
    p = dns(instance, "query", "alias.cname.test", "A")
    assert p.returncode == 0, p.stderr
    head, recs = parse_query(p)
    assert head["canonname"] == "mx-live.twomx.test"
    assert recs == ["127.0.0.1"]


def test_query_nodata_is_permanent(instance):
    p = dns(instance, "query", "implicit.test", "MX")
    assert p.returncode == EXIT_FAIL
    head, recs = parse_query(p)
    assert head["status"] == "nodata" and head["rcode"] == "0"
    assert recs == []
    assert "permanent failure (nodata)" in one_line_error(p)


def test_query_nxdomain_is_permanent(instance):
    p = dns(instance, "query", "nxdomain.test", "A")
    assert p.returncode == EXIT_FAIL
    head, _ = parse_query(p)
    assert head["status"] == "nxdomain" and head["rcode"] == "3"


def test_query_underscore_names_allowed(instance):
    """_dmarc and _domainkey names are not host names, but are queried."""
    p = dns(instance, "query", "_dmarc.txt.test", "TXT")
    assert p.returncode == EXIT_FAIL
    assert parse_query(p)[0]["status"] == "nxdomain"


# --- failures: temporary ------------------------------------------------------

@pytest.fixture
def silent_resolver():
    """A UDP socket that receives queries and never answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield f"127.0.0.1@{s.getsockname()[1]}"
    s.close()


def test_query_timeout_is_temporary(instance, silent_resolver):
    p = dns(instance, "query", "twomx.test", "MX", resolver=silent_resolver,
            timeout="1s")
    assert p.returncode == EXIT_TEMPFAIL, p.stdout + p.stderr
    assert parse_query(p)[0]["status"] == "timeout"
    assert "temporary failure (timeout)" in one_line_error(p)


def test_mx_timeout_is_temporary(instance, silent_resolver):
    p = dns(instance, "mx", "twomx.test", resolver=silent_resolver,
            timeout="1s")
    assert p.returncode == EXIT_TEMPFAIL, p.stdout + p.stderr
    head, hosts = parse_route(p)
    assert head["status"] == "timeout" and hosts == []


def test_second_forwarder_used_when_first_is_silent(instance, silent_resolver):
    both = f"{silent_resolver}, {conftest.DNS_RESOLVER}"
    p = dns(instance, "mx", "implicit.test", resolver=both, timeout="30s")
    assert p.returncode == 0, p.stdout + p.stderr
    assert parse_route(p)[1] == [(0, "implicit.test", ["127.0.0.1"], "")]


# --- hostile names ------------------------------------------------------------

LONG_OK = ".".join(["a" * 63] * 3 + ["b" * 56]) + ".test"   # 253 characters
assert len(LONG_OK) == 253


@pytest.mark.parametrize("name,why", [
    ("a" * 64 + ".test", "label longer than 63"),
    (LONG_OK + "x", "longer than 253"),
    ("a" * 63 + "." + ("b" * 63 + ".") * 4 + "test", "longer than 253"),
    ("a..test", "empty label"),
    (".test", "empty label"),
    ("test..", "empty label"),
    ("..", "empty label"),
    (".", "empty name"),
    ("", "empty name"),
    ("bad host.test", "bad character"),
    ("bad\thost.test", "bad character"),
    ("a@b.test", "bad character"),
    ("a\\.b.test", "bad character"),
    ("xn--bcher-kva.test\x7f", "bad character"),
    ("-lead.test", "hyphen"),
    ("trail-.test", "hyphen"),
    ("under_score.test", "bad character"),
    ("a\u200db.test", "IDNA"),
    ("\u2603.test", "IDNA"),  # a snowman: DISALLOWED in IDNA 2008
])
def test_mx_hostile_names_rejected(instance, name, why):
    # "--" so that a name starting with "-" is not taken for an option.
    p = run_cli(["dns", "-c", instance.conf, "-o",
                 f"dns.resolver={conftest.DNS_RESOLVER}", "mx", "--", name])
    assert p.returncode == EXIT_FAIL, p.stdout + p.stderr
    head, hosts = parse_route(p)
    assert head["status"] == "badname" and hosts == []
    err = one_line_error(p)
    assert "permanent failure (badname)" in err and why in err, err


def test_mx_longest_name_is_asked(instance):
    p = dns(instance, "mx", LONG_OK)
    assert p.returncode == EXIT_FAIL
    assert parse_route(p)[0]["status"] == "nxdomain"   # asked, not refused
    p = dns(instance, "mx", LONG_OK + ".")
    assert parse_route(p)[0]["status"] == "nxdomain"


@pytest.mark.parametrize("name", ["a" * 64 + ".test", "a..b.test", "sp ace.test",
                                  "x" * 300])
def test_query_hostile_names_rejected(instance, name):
    p = dns(instance, "query", name, "TXT")
    assert p.returncode == EXIT_FAIL, p.stdout + p.stderr
    assert parse_query(p)[0]["status"] == "badname"


# --- usage and config ---------------------------------------------------------

@pytest.mark.parametrize("args", [["dns"], ["dns", "mx"], ["dns", "mx", "a", "b"],
                                  ["dns", "query", "a.test"],
                                  ["dns", "query", "a.test", "SOA"],
                                  ["dns", "frob", "a.test"]])
def test_usage_errors(instance, args):
    p = run_cli(args + ["-c", instance.conf])
    assert p.returncode == EXIT_USAGE, p.stdout + p.stderr
    one_line_error(p)


@pytest.mark.parametrize("value", ["localhost", "127.0.0.1@0", "127.0.0.1@65536",
                                   "[::1]@53", "127.0.0.1:53", "1.2.3.4@x"])
def test_bad_resolver_config(instance, value):
    p = dns(instance, "mx", "twomx.test", resolver=value)
    assert p.returncode == EXIT_FAIL
    err = one_line_error(p)
    assert "dns.resolver" in err, err


def test_ipv6_forwarder_syntax_accepted(instance):
    """An IPv6 forwarder with a port is accepted by the config and by
    libunbound (nothing listens there: the second one answers)."""
    p = dns(instance, "mx", "implicit.test",
            resolver=f"::1@{conftest.free_port()} {conftest.DNS_RESOLVER}",
            timeout="30s")
    assert p.returncode == 0, p.stdout + p.stderr


def test_server_runs_with_the_test_resolver(server):
    """Every test server gets -o dns.resolver=... for the test resolver."""
    assert f"dns.resolver={conftest.DNS_RESOLVER}" in server.cmdline()
    assert server.running()
