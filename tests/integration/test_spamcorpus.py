"""The generated spam corpus (tests/spamcorpus/generate.py): that it is what
its labels say, and -- once `correio spam check` exists -- that Correio's
filter judges it as the labels expect.

The first part tests the generator itself, with no Correio: counts,
ham/spam balance, a stratified split, determinism (same seed, same bytes),
that every message is well-formed RFC 5322/MIME that Python's email
package parses without a defect, and that each crafted message really
holds what its category claims (a link whose text shows another domain, a
PE header inside a zip, a Reply-To at a freemail domain...) while the ham
holds none of it. A generator bug would otherwise show up later as a
"filter bug".

The second part, assert_verdicts(), is what the lead connects to the
filter: given check(path) -> (action, score, symbols), every crafted spam
message must fire its expected symbol and no ham may be quarantined or
rejected. test_correio_spam_check runs it through `correio spam check`
(100 files per run when it takes several), is skipped while that command
does not exist, and leaves out the categories whose symbol is not yet in
`correio spam symbols` (their check has not landed).
"""
import email
import email.policy
import email.utils
import html.parser
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import correio_bin, child_env, dns_overrides, sanitizer_report

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "spamcorpus"))
import generate as G  # noqa: E402
import verdict as V  # noqa: E402
import words as W  # noqa: E402

# Dates are relative to now, so that a checker run now judges them as
# fresh (or, for the crafted ones, as far in the future or past).
NOW = int(time.time())
DAY = 86400
CHECK_TIMEOUT = 60        # one `correio spam check` under ASan
CHECK_WORKERS = 2         # the machine has two cores


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("spamcorpus"))
    G.generate(d, now=NOW)
    return d, G.read_labels(d)


def load(d, row):
    with open(os.path.join(d, row["file"]), "rb") as f:
        return f.read()


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


# --- what a message holds ----------------------------------------------------

class Links(html.parser.HTMLParser):
    """<a href> with their text, and <form action>s."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []       # [href, text]
        self.forms = []
        self._a = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self._a = [a["href"], ""]
            self.links.append(self._a)
        elif tag == "form" and a.get("action"):
            self.forms.append(a["action"])

    def handle_endtag(self, tag):
        if tag == "a":
            self._a = None

    def handle_data(self, data):
        if self._a is not None:
            self._a[1] += data


TWO_LEVEL = ("co.uk", "com.br", "com.au", "co.jp")


def host_of(url):
    m = re.match(r"[a-z]+://([^/:?#]+)", url, re.I)
    return m.group(1).lower() if m else None


def site(host):
    """The registrable domain of host, for the suffixes this corpus uses
    (the filter asks libpsl; two levels, or three under TWO_LEVEL)."""
    labels = host.lower().strip(".").split(".")
    n = 3 if ".".join(labels[-2:]) in TWO_LEVEL else 2
    return ".".join(labels[-n:])


def domain_shown(text):
    """The host name a link's text shows, if it shows one."""
    m = re.search(r"(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?:[/:]|$)",
                  text.strip().lower())
    return m.group(1) if m else None


class Info:
    """What the tests look at in one message."""

    def __init__(self, data):
        self.data = data
        self.msg = parse(data)
        self.html = []
        self.text = []
        self.attachments = []     # (filename, content type, bytes)
        for p in self.msg.walk():
            if p.is_multipart():
                continue
            ct = p.get_content_type()
            fn = p.get_filename()
            if fn or not ct.startswith("text/") or ct == "text/calendar":
                self.attachments.append((fn, ct, p.get_payload(decode=True)))
            elif ct == "text/html":
                self.html.append(p.get_content())
            else:
                self.text.append(p.get_content())
        lk = Links()
        for h in self.html:
            lk.feed(h)
        self.links = lk.links
        self.forms = lk.forms
        self.hosts = set(host_of(h) for h, _ in self.links
                         if host_of(h)) | set(
            host_of(f) for f in self.forms if host_of(f))
        for t in self.text:
            for u in re.findall(r"https?://[^\s<>\"]+", t):
                self.hosts.add(host_of(u))
        self.hosts.discard(None)
        name, addr = email.utils.parseaddr(str(self.msg["From"] or ""))
        self.from_name, self.from_addr = name, addr.lower()
        self.from_domain = addr.rpartition("@")[2].lower()

    def zip_members(self):
        """[(attachment name, ZipInfo, zip)] of the zip attachments."""
        out = []
        for fn, ct, b in self.attachments:
            if b[:4] == b"PK\x03\x04":
                z = zipfile.ZipFile(io.BytesIO(b))
                out += [(fn, i, z) for i in z.infolist()]
        return out


def is_pe(b):
    if b[:2] != b"MZ" or len(b) < 0x40:
        return False
    off = int.from_bytes(b[0x3c:0x40], "little")
    return b[off:off + 4] == b"PE\0\0"


def is_elf(b):
    return b[:4] == b"\x7fELF"


EXEC_EXT = (".exe", ".scr", ".com", ".pif", ".bat", ".js", ".vbs")
DECIMAL_HOST = re.compile(r"^(?:\d{8,10}|0x[0-9a-f]{8}|0\d+(?:\.0\d*){3})$")
DOTTED_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?$")


def xn_homograph_of(host, targets):
    """True if a label of host is an A-label whose U-label mixes Latin
    with Cyrillic and whose Latin skeleton is one of targets' labels."""
    skeleton = {v: k for k, v in G.HOMOGLYPHS.items()}
    for label in host.split("."):
        if not label.startswith("xn--"):
            continue
        u = label.encode().decode("idna")
        if any(c in skeleton for c in u):
            sk = "".join(skeleton.get(c, c) for c in u)
            if sk in targets:
                return True
    return False


def date_of(info):
    v = info.msg["Date"]
    return None if v is None else \
        email.utils.parsedate_to_datetime(str(v)).timestamp()


BRAND_LABELS = [d.split(".")[0] for _, d in W.BRANDS]


def crafted_holds(category, info, data):
    """What each crafted category claims about its messages."""
    c = category
    if c == "phish_link_mismatch":
        return any(domain_shown(t) and host_of(h) and
                   site(domain_shown(t)) != site(host_of(h))
                   for h, t in info.links)
    if c == "phish_ip":
        return any(DOTTED_HOST.match(h or "") for h in info.hosts)
    if c == "phish_ip_decimal":
        return any(DECIMAL_HOST.match(h or "") for h in info.hosts)
    if c == "phish_shortener":
        return any(h in W.SHORTENERS for h in info.hosts)
    if c == "phish_lookalike_local":
        return any(G.levenshtein(site(h), G.HOSTED_DOMAIN) == 1
                   for h in info.hosts | {info.from_domain})
    if c == "phish_lookalike_brand":
        return any(G.levenshtein(site(h), d) == 1 for h in info.hosts
                   for _, d in W.BRANDS)
    if c == "phish_idn":
        return any(xn_homograph_of(h, BRAND_LABELS) for h in info.hosts)
    if c == "phish_form":
        return any(site(host_of(f)) != site(info.from_domain)
                   for f in info.forms)
    if c == "malware_exe_content":
        return any(is_pe(b) and not (fn or "").lower().endswith(EXEC_EXT)
                   for fn, _, b in info.attachments)
    if c == "malware_elf":
        return any(is_elf(b) for _, _, b in info.attachments)
    if c == "malware_double_ext":
        return any(re.search(r"\.[a-z]{3,4}(\.[a-z]{2,3})$", fn or "") and
                   fn.lower().endswith(EXEC_EXT)
                   for fn, _, b in info.attachments)
    if c in ("malware_macro_docm", "malware_macro_xlsm"):
        ext = "." + c[-4:]
        return any(fn.endswith(ext) and i.filename.endswith("/vbaProject.bin")
                   and z.read(i)[:8] == bytes.fromhex("d0cf11e0a1b11ae1")
                   for fn, i, z in info.zip_members())
    if c == "malware_zip_exe":
        return any(i.filename.lower().endswith(EXEC_EXT) and is_pe(z.read(i))
                   for _, i, z in info.zip_members())
    if c == "malware_zip_encrypted":
        pw = re.search(r"password\s+is\s+(\d+)", "\n".join(info.text))
        return pw is not None and any(
            i.flag_bits & 1 and is_pe(z.read(i, pwd=pw.group(1).encode()))
            for _, i, z in info.zip_members())
    if c == "malware_eicar":
        return any(b == G.EICAR for _, _, b in info.attachments)
    if c == "malware_eicar_zip":
        return any(z.read(i) == G.EICAR for _, i, z in info.zip_members())
    if c == "hdr_no_date":
        return info.msg["Date"] is None and info.msg["Message-ID"] is not None
    if c == "hdr_no_message_id":
        return info.msg["Message-ID"] is None and info.msg["Date"] is not None
    if c == "hdr_date_future":
        return date_of(info) > NOW + 2 * DAY
    if c == "hdr_date_past":
        return date_of(info) < NOW - 45 * DAY
    if c == "hdr_replyto_freemail":
        rt = email.utils.parseaddr(str(info.msg["Reply-To"] or ""))[1]
        return rt.rpartition("@")[2] in W.FREEMAIL and \
            info.from_domain not in W.FREEMAIL
    if c == "hdr_from_name_addr":
        m = re.search(r"@([a-z0-9.-]+)", info.from_name)
        return m is not None and m.group(1) != info.from_domain and \
            m.group(1) != G.HOSTED_DOMAIN
    if c == "hdr_from_name_local":
        return "@" + G.HOSTED_DOMAIN in info.from_name and \
            info.from_domain != G.HOSTED_DOMAIN
    if c == "hdr_forged_received":
        return any("by " + G.RECEIVING_HOST in str(v)
                   for v in info.msg.get_all("Received", []))
    if c == "gtube":
        return G.GTUBE.encode() in data or any(G.GTUBE in t for t in
                                              info.text + info.html)
    raise AssertionError("no property for " + c)


# --- the generator -----------------------------------------------------------

def test_counts_and_balance(corpus):
    d, rows = corpus
    assert len(rows) >= 2000
    ham = [r for r in rows if r["class"] == "ham"]
    spam = [r for r in rows if r["class"] == "spam"]
    assert len(ham) == len(spam) == len(rows) // 2
    assert set(r["class"] for r in rows) == {"ham", "spam"}
    files = sorted(f for f in os.listdir(d) if f != G.LABELS)
    assert files == sorted(r["file"] for r in rows)
    assert len(set(r["file"] for r in rows)) == len(rows)


def test_split_is_half_and_stratified(corpus):
    _, rows = corpus
    assert set(r["split"] for r in rows) == {"train", "test"}
    for cat, _, n in G.CATEGORIES:
        sp = [r["split"] for r in rows if r["category"] == cat]
        assert len(sp) == n
        assert sp.count("train") == sp.count("test") == n // 2, cat
    for cls in ("ham", "spam"):
        sp = [r["split"] for r in rows if r["class"] == cls]
        assert sp.count("train") == sp.count("test")


def test_every_category_present(corpus):
    _, rows = corpus
    cats = {}
    for r in rows:
        cats.setdefault(r["category"], set()).add((r["class"], r["expected"]))
    assert set(cats) == set(c for c, _, _ in G.CATEGORIES)
    for cat, cls, _ in G.CATEGORIES:
        assert cats[cat] == {(cls, G.CHECKS.get(cat, "-"))}, cat
    # What the issue asks the corpus to hold, by name.
    for want in ("newsletter", "reply", "invoice", "calendar", "mailinglist",
                 "intl_de", "intl_fr", "intl_pt", "intl_ja", "intl_ru",
                 "notification", "alternative"):
        assert cats[want] == {("ham", "-")}
    for sym in ("GTUBE", "EICAR", "HTML_LINK_MISMATCH", "ATTACH_EXECUTABLE",
                "ATTACH_DOUBLE_EXT", "ATTACH_MACRO", "HEADER_NO_DATE",
                "HEADER_NO_MESSAGE_ID", "HEADER_DATE_FUTURE",
                "HEADER_DATE_PAST", "HEADER_REPLYTO_FREEMAIL",
                "HEADER_FROM_NAME_ADDR", "HEADER_FROM_NAME_LOCAL",
                "HEADER_FORGED_RECEIVED"):
        assert sym in G.CHECKS.values()
    assert all(cls == "spam" for cat, cls, _ in G.CATEGORIES
               if cat in G.CHECKS)


def test_labels_file_format(corpus):
    d, rows = corpus
    with open(os.path.join(d, G.LABELS), "rb") as f:
        raw = f.read()
    lines = raw.decode("ascii").split("\n")
    assert lines[0] == G.LABELS_HEADER
    assert lines[-1] == "" and b"\r" not in raw
    assert all(len(l.split("\t")) == 5 for l in lines[1:-1])


def tree(d):
    out = {}
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def test_deterministic(corpus, tmp_path):
    d, _ = corpus
    again = str(tmp_path / "again")
    G.generate(again, now=NOW)
    a, b = tree(d), tree(again)
    assert a.keys() == b.keys()
    differ = [n for n in a if a[n] != b[n]]
    assert not differ, "same seed, different bytes: %s" % differ[:5]
    # Another seed is another corpus (same categories and counts).
    other = str(tmp_path / "other")
    G.generate(other, seed=G.SEED + 1, now=NOW)
    c = tree(other)
    assert c[G.LABELS] != a[G.LABELS]
    same = sum(1 for n in a if n != G.LABELS and a[n] == c.get(n))
    assert same == 0
    # now moves the dates, not the choices: the labels stay.
    later = str(tmp_path / "later")
    G.generate(later, now=NOW + 7 * DAY)
    assert tree(later)[G.LABELS] == a[G.LABELS]


def test_every_message_is_well_formed(corpus):
    d, rows = corpus
    problems = []
    for r in rows:
        data = load(d, r)
        bare = data.replace(b"\r\n", b"")
        if b"\r" in bare or b"\n" in bare:
            problems.append((r["file"], "bare CR or LF"))
        if any(len(l) > 998 for l in data.split(b"\r\n")):
            problems.append((r["file"], "line over 998 octets"))
        head = data.split(b"\r\n\r\n", 1)[0]
        if not head.isascii():
            problems.append((r["file"], "8-bit header"))
        m = parse(data)
        defects = list(m.defects)
        for p in m.walk():
            defects += p.defects
            if not p.is_multipart():
                try:
                    p.get_content()
                except Exception as e:          # noqa: BLE001
                    defects.append(e)
        for k in ("From", "To", "Subject"):
            if m[k] is None:
                defects.append("no " + k)
            else:
                str(m[k])       # decodes the RFC 2047 words
        if m["Date"] is not None:
            email.utils.parsedate_to_datetime(str(m["Date"]))
        if defects:
            problems.append((r["file"], r["category"], defects[:3]))
    assert not problems, problems[:10]


def test_crafted_messages_hold_what_they_claim(corpus):
    d, rows = corpus
    wrong = []
    for r in rows:
        if r["class"] != "spam" or r["category"] not in G.CHECKS:
            continue
        data = load(d, r)
        if not crafted_holds(r["category"], Info(data), data):
            wrong.append((r["file"], r["category"]))
    assert not wrong, wrong[:10]


# Signs that real ham shows too, and so does this corpus's, on purpose: a
# reply with a shortened link, a work address replying to a private one.
# A filter must not weigh them as proof.
HAM_OVERLAP = ("phish_shortener", "hdr_replyto_freemail")


def test_ham_holds_no_crafted_sign(corpus):
    """The ham must not trip the checks by construction: none of the
    crafted properties (but the few HAM_OVERLAP ones, rarely), fresh Date
    and Message-ID, no address of ours in From, no Received of ours."""
    d, rows = corpus
    wrong = []
    overlap = {c: 0 for c in HAM_OVERLAP}
    n_ham = 0
    for r in rows:
        if r["class"] != "ham":
            continue
        n_ham += 1
        data = load(d, r)
        info = Info(data)
        for c in G.CHECKS:
            if c in ("hdr_date_future", "hdr_date_past"):
                continue
            if crafted_holds(c, info, data):
                if c in HAM_OVERLAP:
                    overlap[c] += 1
                else:
                    wrong.append((r["file"], r["category"], c))
        t = date_of(info)
        if t is None or not NOW - 6 * DAY < t <= NOW:
            wrong.append((r["file"], "Date %s" % info.msg["Date"]))
        if info.msg["Message-ID"] is None:
            wrong.append((r["file"], "no Message-ID"))
        if info.from_domain == G.HOSTED_DOMAIN or not info.from_domain:
            wrong.append((r["file"], "From " + info.from_addr))
        if any(is_pe(b) or is_elf(b) for _, _, b in info.attachments):
            wrong.append((r["file"], "executable"))
    assert not wrong, wrong[:10]
    for c, k in overlap.items():
        assert 0 < k < n_ham // 50, (c, k)


def test_ham_kinds(corpus):
    """Each ham category is what the issue describes."""
    d, rows = corpus
    seen = {}
    wrong = []
    for r in rows:
        if r["class"] != "ham":
            continue
        data = load(d, r)
        info = Info(data)
        m = info.msg
        c = r["category"]
        ok = True
        if c == "newsletter":
            ok = m["List-Id"] is not None and \
                m["List-Unsubscribe"] is not None and len(info.links) >= 5
            social = ("twitter.com", "facebook.com", "linkedin.com")
            ok = ok and all(site(h) == site(info.from_domain) or
                            site(h) in social for h in info.hosts)
        elif c in ("commercial", "invoice"):
            ok = all(site(h) == site(info.from_domain) for h in info.hosts)
        elif c == "notification":
            ok = all(site(h) == site(info.from_domain) for h in info.hosts)
        elif c == "reply":
            ok = m["In-Reply-To"] is not None and \
                str(m["Subject"]).lower().startswith("re") and \
                any("\n> " in t or t.startswith("> ") for t in info.text)
        elif c == "invoice":
            pass
        if c == "invoice":
            pdfs = [b for fn, ct, b in info.attachments
                    if ct == "application/pdf"]
            ok = ok and len(pdfs) == 1 and pdf_xref_ok(pdfs[0])
        elif c == "calendar":
            cals = [b for _, ct, b in info.attachments
                    if ct in ("text/calendar", "application/ics")]
            ok = bool(cals) and all(b.startswith(b"BEGIN:VCALENDAR\r\n") and
                                    b"METHOD:REQUEST" in b and
                                    b"BEGIN:VEVENT" in b for b in cals)
        elif c == "mailinglist":
            ok = m["List-Id"] is not None and m["List-Post"] is not None and \
                str(m["Precedence"]) == "list"
        elif c.startswith("intl_"):
            cs = [p.get_content_charset() for p in m.walk()
                  if p.get_content_maintype() == "text"]
            seen.setdefault(c, set()).update(cs)
            raw_subject = re.search(rb"\r\nSubject: (.*)", data).group(1)
            seen.setdefault(c + "-2047", set()).add(b"=?" in raw_subject)
        elif c == "alternative":
            ok = m.get_content_type() == "multipart/alternative"
        if not ok:
            wrong.append((r["file"], c))
    assert not wrong, wrong[:10]
    assert {"iso-2022-jp", "utf-8"} <= seen["intl_ja"]
    assert {"koi8-r", "utf-8"} <= seen["intl_ru"]
    for lang in ("de", "fr", "pt", "ja", "ru"):
        assert True in seen["intl_%s-2047" % lang], lang


def pdf_xref_ok(b):
    """The xref table's offsets point at the objects it names."""
    if not b.startswith(b"%PDF-1.") or not b.rstrip().endswith(b"%%EOF"):
        return False
    start = int(re.search(rb"startxref\n(\d+)\n", b).group(1))
    if b[start:start + 4] != b"xref":
        return False
    offs = re.findall(rb"(\d{10}) 00000 n ", b[start:])
    return all(b[int(o):].startswith(b"%d 0 obj" % i)
               for i, o in enumerate(offs, 1))


def test_command_line(tmp_path):
    """The generator runs as a program and says what it wrote."""
    out = tmp_path / "cli"
    p = subprocess.run([sys.executable, os.path.join(
        HERE, "..", "spamcorpus", "generate.py"), str(out), "--now",
        str(NOW)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "2000 messages (1000 ham, 1000 spam)" in p.stdout
    assert len(G.read_labels(str(out))) == 2000


# --- reading verdicts (also bench/spam's) ------------------------------------

def test_parse_correio_verdict():
    v = V.parse_correio(
        "X-Spam-Score: 7.5\r\n"
        "X-Spam-Status: Yes, score=7.5 required=5.0 action=junk\r\n"
        "\ttests=HTML_LINK_MISMATCH(4.0),HEADER_NO_DATE(1.5),\r\n"
        "\tAUTH_ALIGNED_PASS(-1),X_2(3.0)\r\n")
    assert v.action == "junk" and v.score == 7.5 and v.required == 5.0
    assert v.symbols == {"HTML_LINK_MISMATCH": 4.0, "HEADER_NO_DATE": 1.5,
                         "AUTH_ALIGNED_PASS": -1.0, "X_2": 3.0}
    v = V.parse_correio("X-Spam-Score: 0\nX-Spam-Status: No, score=0.0 "
                        "required=5.0 action=inbox\n")
    assert (v.action, v.score, v.symbols) == ("inbox", 0.0, {})
    with pytest.raises(ValueError):
        V.parse_correio("X-Spam-Score: 1\n")
    with pytest.raises(ValueError):
        V.parse_correio("X-Spam-Status: Yes, score=1 action=deliver\n")


def test_parse_correio_batch():
    out = ("==> /t/a.eml <==\nX-Spam-Score: 0.0\nX-Spam-Status: No, "
           "score=0.0 required=5.0 action=inbox\n\ttests=none\n"
           "action: inbox (score 0.0)\n"
           "==> /t/b.eml <==\nX-Spam-Score: 5.0\nX-Spam-Status: Yes, "
           "score=5.0 required=5.0 action=quarantine\n"
           "\ttests=ATTACH_ARCHIVE_EXECUTABLE(5.0)\n"
           "symbol: ATTACH_ARCHIVE_EXECUTABLE 5.00 x.zip/x.exe\n"
           "action: quarantine (ATTACH_ARCHIVE_EXECUTABLE: ...)\n")
    a, b = V.parse_correio_batch(out, ["/t/a.eml", "/t/b.eml"])
    assert (a.action, a.score, a.symbols) == ("inbox", 0.0, {})
    assert (b.action, b.symbols) == ("quarantine",
                                     {"ATTACH_ARCHIVE_EXECUTABLE": 5.0})
    assert V.parse_correio_batch(out, ["/t/b.eml", "/t/a.eml"]) is None
    assert V.parse_correio_batch(out, ["/t/a.eml"]) is None
    plain = out.replace("==> /t/a.eml <==\n", "").replace(
        "==> /t/b.eml <==\n", "")
    assert [v.action for v in V.parse_correio_batch(
        plain, ["x", "y"])] == ["inbox", "quarantine"]


def test_parse_rspamc():
    out = V.parse_rspamc(
        "Results for file: /t/msg-00001.eml (0.012 seconds)\n"
        "[Metric: default]\nAction: add header\nSpam: true\n"
        "Score: 7.20 / 15.00\nSymbol: BAYES_SPAM (5.10)[99.98%]\n"
        "Symbol: MIME_GOOD (-0.10)[text/plain]\n"
        "Message-ID: x@y\n\n"
        "Results for file: /t/msg-00002.eml (0.003 seconds)\n"
        "[Metric: default]\nAction: no action\nSpam: false\n"
        "Score: -1.00 / 15.00\n")
    a, b = out["/t/msg-00001.eml"], out["/t/msg-00002.eml"]
    assert (a.action, a.score, a.required) == ("add header", 7.2, 15.0)
    assert a.symbols == {"BAYES_SPAM": 5.1, "MIME_GOOD": -0.1}
    assert (b.action, b.score, b.symbols) == ("no action", -1.0, {})


def test_scores():
    s = V.Scores()
    for i in range(95):
        s.add("spam", "pharmacy", True)
    for i in range(5):
        s.add("spam", "loan", False)
    for i in range(999):
        s.add("ham", "reply", False)
    s.add("ham", "newsletter", True)
    assert (s.tp, s.fn, s.tn, s.fp) == (95, 5, 999, 1)
    assert s.recall == 0.95 and s.fpr == 0.001
    assert abs(s.precision - 95 / 96) < 1e-12
    assert s.goals() == (True, True)
    assert 0.001 < s.fpr_upper < 0.01
    s.add("ham", "reply", True)
    assert s.goals() == (False, True)
    assert V.Scores().precision is None
    assert V.wilson_upper(0, 500) > 0.005    # 0 of 500: no finer than that
    lines = "\n".join(s.category_lines())
    assert "loan" in lines and "<--" in lines
    with pytest.raises(ValueError):
        s.add("junk", "x", True)


# --- the filter's verdicts: FOR THE LEAD TO CONNECT ---------------------------

def assert_verdicts(check, corpus_dir, rows, workers=CHECK_WORKERS):
    """check(path) -> (action, score, symbols) is Correio's verdict on one
    message file (action: inbox|junk|quarantine|reject; symbols: the
    names that fired, a dict or a set). Asserts that

      * each crafted spam message (labels.tsv expected != "-") fires its
        expected symbol, and
      * no ham message is quarantined or rejected (Junk is allowed: a
        threshold question bench/spam measures, not a correctness one).

    Bulk spam (expected "-") is judged by the score alone, which depends
    on the classifier's training: bench/spam measures it. Every failure is
    listed, not only the first."""
    todo = [r for r in rows if r["class"] == "ham" or r["expected"] != "-"]

    def one(r):
        return r, check(os.path.join(corpus_dir, r["file"]))

    failures = []
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for r, (action, score, symbols) in ex.map(one, todo):
            if r["class"] == "ham" and action in ("quarantine", "reject"):
                failures.append("%s (ham, %s): action %s, score %s, %s"
                                % (r["file"], r["category"], action, score,
                                   sorted(symbols)))
            elif r["expected"] != "-" and r["expected"] not in symbols:
                failures.append("%s (%s): %s did not fire; got %s, score %s"
                                % (r["file"], r["category"], r["expected"],
                                   sorted(symbols), score))
    assert not failures, "%d wrong verdicts:\n%s" % (
        len(failures), "\n".join(failures[:60]))


def spam_check_available():
    try:
        p = subprocess.run([correio_bin(), "spam", "check", "--help"],
                           capture_output=True, timeout=CHECK_TIMEOUT,
                           env=child_env())
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def correio_argv(instance):
    """`correio spam check` of instance, as RECEIVING_HOST (so that the
    forged-Received check knows its own name)."""
    return [correio_bin(), "spam", "check", "-c", instance.conf,
            "-o", "server.hostname=" + G.RECEIVING_HOST] + dns_overrides()


def correio_run(argv):
    p = subprocess.run(argv, capture_output=True, timeout=CHECK_TIMEOUT * 10,
                       env=child_env())
    err = p.stderr.decode("utf-8", "replace")
    assert sanitizer_report(err) is None, err
    assert p.returncode == 0, "%s: exit %d: %s" % (argv[-1], p.returncode,
                                                   err)
    return p.stdout.decode("utf-8", "replace")


def correio_check(instance):
    """check() through `correio spam check FILE`."""
    def check(path):
        return V.parse_correio(correio_run(correio_argv(instance) +
                                           [path])).as_tuple()
    return check


def correio_check_batched(instance, paths, per_run=100):
    """check() answering from `correio spam check F1 F2 ...` runs over
    paths (one process per per_run files: much faster under ASan), or
    None if the command does not take several files."""
    argv = correio_argv(instance)
    if V.parse_correio_batch(correio_run(argv + paths[:2]),
                             paths[:2]) is None:
        return None
    got = {}

    def run(chunk):
        vs = V.parse_correio_batch(correio_run(argv + chunk), chunk)
        assert vs is not None, "batch output does not match %s..." % chunk[0]
        return zip(chunk, vs)
    chunks = [paths[i:i + per_run] for i in range(0, len(paths), per_run)]
    with ThreadPoolExecutor(max_workers=CHECK_WORKERS) as ex:
        for pairs in ex.map(run, chunks):
            got.update(pairs)
    return lambda path: got[path].as_tuple()


def known_symbols(instance):
    """The symbols of `correio spam symbols`: the checks that exist."""
    out = correio_run([correio_bin(), "spam", "symbols", "-c",
                       instance.conf])
    return set(l.split()[0] for l in out.splitlines() if l.strip())


def test_correio_spam_check(corpus, request):
    if not spam_check_available():
        pytest.skip("`correio spam check` is not there yet")
    d, rows = corpus
    instance = request.getfixturevalue("instance")
    # A category whose symbol is not in the table yet (its check has not
    # landed) is left out, and said so; every other is held to its label.
    known = known_symbols(instance)
    assert "GTUBE" in known
    waiting = sorted(set(r["expected"] for r in rows
                         if r["expected"] != "-") - known)
    rows = [r for r in rows if r["expected"] not in waiting]
    if waiting:
        print("test_correio_spam_check: not yet in the symbol table, not "
              "checked: " + " ".join(waiting))
    paths = [os.path.join(d, r["file"]) for r in rows
             if r["class"] == "ham" or r["expected"] != "-"]
    check = correio_check_batched(instance, paths) or correio_check(instance)
    assert_verdicts(check, d, rows)


def test_assert_verdicts_judges(corpus):
    """The hook itself: an oracle that knows the labels passes; one that
    misses a symbol or quarantines a ham fails, naming both."""
    d, rows = corpus
    label = {os.path.join(d, r["file"]): r for r in rows}

    def oracle(path):
        r = label[path]
        if r["class"] == "ham":
            return "junk" if r["category"] == "commercial" else "inbox", \
                1.0, {}
        return "junk", 6.0, {r["expected"]: 5.0} if r["expected"] != "-" \
            else {}
    assert_verdicts(oracle, d, rows)

    ham = next(r for r in rows if r["class"] == "ham")
    crafted = next(r for r in rows if r["category"] == "phish_idn")

    def broken(path):
        r = label[path]
        if r is ham:
            return "quarantine", 10.0, {"X": 10.0}
        if r is crafted:
            return "junk", 6.0, {"HTML_LINK_MISMATCH": 5.0}
        return oracle(path)
    with pytest.raises(AssertionError) as e:
        assert_verdicts(broken, d, rows)
    assert "2 wrong verdicts" in str(e.value)
    assert ham["file"] in str(e.value) and crafted["file"] in str(e.value)
