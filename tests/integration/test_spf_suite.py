"""The openspf RFC 7208 test suite (tests/data/spf/rfc7208-tests.yml,
release 2014.04 with the 2019.08 additions; see its LICENSE), run against
the SPF evaluator of src/auth/spf.c.

Each scenario's zone is served to the evaluator by the in-memory resolver
of tests/spf/spf-zone.c, through the same interface as the server's
resolver: the C driver tests/spf/spf_suite.c reads the zone and the cases
this test writes, runs every case on a libevent loop and prints each
result. A case passes when the result is one of those the suite allows
and, where the suite gives an explanation, when the exp= explanation is
that text ("DEFAULT": no explanation from exp=).

The zones follow the suite's conventions (and pyspf's driver): an "SPF"
record is served as TXT unless the name has TXT records of its own
("TXT: NONE" means none at all), since RFC 7208 3.1 uses TXT only; a
record given as a list of strings is one record of those strings joined;
"TIMEOUT" makes every lookup of the name that has no answer a timeout
(temperror); binary escapes (\\xEF) are octets.
"""
import os
import subprocess

import pytest
import yaml

import conftest

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "..", "data", "spf", "rfc7208-tests.yml")
DRIVER_TIMEOUT = 120


def driver_path():
    return os.path.join(os.path.dirname(conftest.correio_bin()), "tests",
                        "spf", "spf_suite")


def octets(value):
    """Suite text as octets: YAML turns "\\xEF" into U+00EF."""
    return str(value).encode("latin-1")


def hexs(b):
    return b.hex() if b else "-"


def zone_lines(zonedata):
    """The records of a scenario as driver lines."""
    lines = []
    for name, records in zonedata.items():
        owner = hexs(octets(name))
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        for r in records:
            if r == "TIMEOUT":
                lines.append(f"{owner} TIMEOUT")
                continue
            (rtype, value), = r.items()
            if rtype == "SPF":
                if has_txt:
                    continue    # RFC 7208 3.1: type SPF is not used
                rtype = "TXT"
            if rtype == "TXT":
                if value == "NONE":
                    continue
                parts = value if isinstance(value, list) else [value]
                if not parts:
                    continue    # no character-string: a malformed TXT
                data = b"".join(octets(p) for p in parts)
                lines.append(f"{owner} TXT {hexs(data)}")
            elif rtype == "MX":
                pref, host = value
                lines.append(f"{owner} MX {int(pref)} {hexs(octets(host))}")
            elif rtype in ("PTR", "CNAME"):
                lines.append(f"{owner} {rtype} {hexs(octets(value))}")
            elif rtype in ("A", "AAAA"):
                lines.append(f"{owner} {rtype} {value}")
            else:
                raise AssertionError(f"unknown record type {rtype}")
    return lines


def explanation_ok(want, got):
    if want is None:
        return True
    if want == "DEFAULT":
        return got is None
    if got is None:
        return False
    # The suite writes the IPv6 nibbles of %{i} in upper case, RFC 7208
    # 7.3's own example in lower case: letters may differ in case only.
    return got == want or got.lower() == want.lower()


def test_spf_suite(tmp_path):
    driver = driver_path()
    assert os.access(driver, os.X_OK), f"{driver}: build it first"
    with open(SUITE, encoding="utf-8") as f:
        scenarios = list(yaml.safe_load_all(f))
    total = passed = 0
    failures = []
    for n, sc in enumerate(scenarios):
        zone = tmp_path / f"zone{n}"
        cases = tmp_path / f"cases{n}"
        zone.write_text("\n".join(zone_lines(sc["zonedata"])) + "\n")
        tests = sc["tests"]
        cases.write_text("".join(
            f"{name} {t['host']} {hexs(octets(t.get('helo', '')))} "
            f"{hexs(octets(t.get('mailfrom', '')))}\n"
            for name, t in tests.items()))
        p = subprocess.run([driver, str(zone), str(cases)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=DRIVER_TIMEOUT, env=conftest.child_env())
        stderr = p.stderr.decode("utf-8", "replace")
        assert conftest.sanitizer_report(stderr) is None, stderr
        assert p.returncode == 0, f"{sc['description']}: {stderr}"
        got = {}
        for line in p.stdout.decode().splitlines():
            name, result, exp_hex, detail_hex = line.split(" ")
            exp = None if exp_hex == "-" else bytes.fromhex(exp_hex).decode(
                "latin-1")
            detail = "" if detail_hex == "-" else bytes.fromhex(
                detail_hex).decode("latin-1")
            got[name] = (result, exp, detail)
        for name, t in tests.items():
            total += 1
            want = t["result"] if isinstance(t["result"], list) else [t["result"]]
            result, exp, detail = got.get(name, ("missing", None, ""))
            if result in want and explanation_ok(t.get("explanation"), exp):
                passed += 1
            else:
                failures.append(f"{sc['description']} / {name}: got {result} "
                                f"({detail}) exp={exp!r}; want {want} "
                                f"exp={t.get('explanation')!r}")
    print(f"SPF suite: {passed}/{total} cases pass")
    assert total >= 200, f"only {total} cases read from the suite"
    assert not failures, f"SPF suite: {passed}/{total} cases pass; failing:\n" + \
        "\n".join(failures)
