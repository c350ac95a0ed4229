"""tests/spamcorpus/verdict.py - reading spam verdicts and scoring them
against the corpus labels: what tests/integration/test_spamcorpus.py
and bench/spam share.

  * parse_correio(text): the X-Spam-Score / X-Spam-Status fields that
    `correio spam check FILE` prints (the format of spam_header_render in
    src/filter/spam.h) -> Verdict(action, score, symbols);
    parse_correio_batch(text, paths) for several files at once.
  * parse_rspamc(text): the plain output of `rspamc [symbols] FILE...`
    (one "Results for file: ..." block per file) -> {file: Verdict}.
  * Scores(...): confusion matrix, precision, recall, false-positive
    rate (with a Wilson upper bound, since a few hundred ham allow no
    finer claim), and the rate per category.

Python 3 standard library only. SECURITY: parses the output of local
programs given files of this corpus; nothing here is run.
"""

import collections
import math
import re

# Actions that count as "classified spam": everything but the INBOX.
CORREIO_SPAM_ACTIONS = ("junk", "quarantine", "reject")
CORREIO_ACTIONS = ("inbox",) + CORREIO_SPAM_ACTIONS
# Rspamd's actions (rspamd.com/doc/configuration/metrics): "no action"
# and "greylist" deliver to the INBOX (greylisting only delays);
# "add header" and "rewrite subject" are its Junk; "soft reject" is a
# temporary failure, "reject" a refusal.
RSPAMD_SPAM_ACTIONS = ("add header", "rewrite subject", "soft reject",
                       "reject")


class Verdict:
    def __init__(self, action, score, symbols, required=None):
        self.action = action
        self.score = score
        self.symbols = symbols          # {name: weight}
        self.required = required

    def __repr__(self):
        return "Verdict(%r, %r, %r)" % (self.action, self.score,
                                        sorted(self.symbols))

    def as_tuple(self):
        return self.action, self.score, self.symbols


def unfold(text):
    """Header-style lines with their continuations (lines starting with
    a space or tab) joined, RFC 5322 2.2.3."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


_SYM = re.compile(r"([A-Z][A-Z0-9_]*)\((-?[0-9]+(?:\.[0-9]+)?)\)")


def parse_correio(text):
    """The verdict in `correio spam check` output:

        X-Spam-Score: 7.5
        X-Spam-Status: Yes, score=7.5 required=5.0 action=junk
        \ttests=HEADER_NO_DATE(1.5),HTML_LINK_MISMATCH(4.0)

    Raises ValueError when there is no X-Spam-Status field or it has no
    action."""
    status = score = None
    for line in unfold(text):
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-spam-status":
            status = value.strip()
        elif name.strip().lower() == "x-spam-score":
            try:
                score = float(value.strip())
            except ValueError:
                pass
    if status is None:
        raise ValueError("no X-Spam-Status field in %r" % text[:200])
    fields = dict(re.findall(r"(\w+)=(\S+)", status))
    action = fields.get("action", "").rstrip(",;").lower()
    if action not in CORREIO_ACTIONS:
        raise ValueError("no known action in X-Spam-Status: %r" % status)
    if "score" in fields:
        score = float(fields["score"].rstrip(",;"))
    required = float(fields["required"].rstrip(",;")) \
        if "required" in fields else None
    tests = status.split("tests=", 1)[1] if "tests=" in status else ""
    symbols = {n: float(w) for n, w in _SYM.findall(tests)}
    return Verdict(action, score, symbols, required)


def parse_correio_batch(text, paths):
    """The verdicts of one `correio spam check F1 F2 ...` run, in the
    order of paths: each file's lines follow "==> FILE <==" (as head(1)
    prints them); without those markers, a verdict begins at each
    X-Spam-Score line. None if the output does not match paths."""
    lines = text.replace("\r\n", "\n").split("\n")
    blocks, names, cur = [], [], None
    marked = any(l.startswith("==> ") and l.endswith(" <==") for l in lines)
    for l in lines:
        if marked and l.startswith("==> ") and l.endswith(" <=="):
            cur = []
            blocks.append(cur)
            names.append(l[4:-4])
            continue
        if not marked and l.lower().startswith("x-spam-score:"):
            cur = []
            blocks.append(cur)
        if cur is not None:
            cur.append(l)
    if len(blocks) != len(paths) or (marked and names != list(paths)):
        return None
    try:
        return [parse_correio("\n".join(b)) for b in blocks]
    except ValueError:
        return None


def parse_rspamc(text):
    """{file: Verdict} from rspamc's plain output, one block per file:

        Results for file: /path/msg.eml (0.012 seconds)
        [Metric: default]
        Action: add header
        Spam: true
        Score: 7.20 / 15.00
        Symbol: BAYES_SPAM (5.10)[99.98%]
        ...
    """
    out = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"Results for file: (.*?)(?: \([0-9.]+ seconds\))?$",
                     line)
        if m:
            cur = m.group(1)
            out[cur] = Verdict(None, None, {})
            continue
        if cur is None:
            continue
        v = out[cur]
        m = re.match(r"Action: (.*)$", line)
        if m:
            v.action = m.group(1).strip().lower()
            continue
        m = re.match(r"Score: (-?[0-9.]+) / (-?[0-9.]+)", line)
        if m:
            v.score, v.required = float(m.group(1)), float(m.group(2))
            continue
        m = re.match(r"Symbol: ([A-Za-z0-9_]+)(?: \((-?[0-9.]+)\))?", line)
        if m:
            v.symbols[m.group(1)] = float(m.group(2) or 0)
    return out


def wilson_upper(k, n, z=1.96):
    """The upper end of the Wilson score interval for k of n (95 %)."""
    if n == 0:
        return 1.0
    p = k / n
    d = 1 + z * z / n
    c = p + z * z / (2 * n)
    r = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (c + r) / d)


class Scores:
    """Counts from (class, category, predicted_spam) triples."""

    def __init__(self, triples=()):
        self.tp = self.fp = self.fn = self.tn = 0
        self.by_cat = collections.OrderedDict()   # cat: [class, hits, n]
        for t in triples:
            self.add(*t)

    def add(self, cls, category, predicted_spam):
        if cls not in ("ham", "spam"):
            raise ValueError("class %r" % cls)
        c = self.by_cat.setdefault(category, [cls, 0, 0])
        c[2] += 1
        if cls == "spam":
            if predicted_spam:
                self.tp += 1
                c[1] += 1
            else:
                self.fn += 1
        else:
            if predicted_spam:
                self.fp += 1
                c[1] += 1
            else:
                self.tn += 1

    @staticmethod
    def _ratio(a, b):
        return a / b if b else None

    @property
    def precision(self):
        return self._ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self):
        return self._ratio(self.tp, self.tp + self.fn)

    @property
    def fpr(self):
        return self._ratio(self.fp, self.fp + self.tn)

    @property
    def fpr_upper(self):
        return wilson_upper(self.fp, self.fp + self.tn)

    def goals(self, max_fpr=0.001, min_recall=0.95):
        """(fpr_met, recall_met) for the issue's goals."""
        return (self.fpr is not None and self.fpr <= max_fpr,
                self.recall is not None and self.recall >= min_recall)

    def lines(self, name):
        """The summary as printable lines."""
        def pct(x):
            return "-" if x is None else "%.2f %%" % (100 * x)
        return [
            "%s: spam %d/%d caught, ham %d/%d wrongly flagged"
            % (name, self.tp, self.tp + self.fn, self.fp, self.fp + self.tn),
            "%s: precision %s  recall %s  false-positive rate %s "
            "(95 %% upper bound %s)" % (name, pct(self.precision),
                                         pct(self.recall), pct(self.fpr),
                                         pct(self.fpr_upper)),
        ]

    def category_lines(self):
        """One line per category: flagged / messages (for ham, flagged
        is wrong; for spam, it is right)."""
        out = []
        for cat, (cls, hits, n) in self.by_cat.items():
            out.append("  %-4s %-24s %4d/%-4d flagged%s" % (
                cls, cat, hits, n, "" if (cls == "spam") == (hits == n)
                else "   <--"))
        return out
