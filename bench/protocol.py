"""The reference task's text side in Python (../shared/BENCHMARK.md), as
s2s does it: word tokens, the pairs kept, the split, corpus BLEU-4.
bench/pytorch_reference.py and bench/word_fallback_experiment.py share it,
so their figures stand beside `s2s eval`'s."""
import math
import unicodedata

PUNCT = {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"}


def lower_cp(c):
    # simple (per-code-point) lower-casing; str.lower() of a whole string
    # would apply the final-sigma rule and the one multi-code-point mapping
    l = c.lower()
    if len(l) == 1:
        return l
    return "i" if c == "\u0130" else c


def tokenize(s):
    s = unicodedata.normalize("NFKC", s)
    out = []
    for c in s:
        c = lower_cp(c)
        out.append(" " + c + " " if unicodedata.category(c) in PUNCT else c)
    return "".join(out).split()


def kept_pairs(path):
    """(French, English) word tokens of the pairs kept (1..10 tokens a
    side), in the file's order."""
    kept = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 2:
                continue
            tgt, src = tokenize(cols[0]), tokenize(cols[1])  # French -> English
            if 1 <= len(src) <= 10 and 1 <= len(tgt) <= 10:
                kept.append((src, tgt))
    return kept


def split_of(i):
    """The split of the i-th kept pair (split_every 50)."""
    return "test" if i % 50 == 0 else "dev" if i % 50 == 1 else "train"


def bleu4(hyps, refs):
    """Corpus BLEU-4 as bench/README.md / seq2seq/metrics.h: clipped n-gram
    precisions 1..4, geometric mean, brevity penalty, no smoothing."""
    match, total, c, r = [0] * 4, [0] * 4, 0, 0
    for h, ref in zip(hyps, refs):
        c += len(h)
        r += len(ref)
        for n in range(1, 5):
            hc, rc = {}, {}
            for i in range(len(h) - n + 1):
                g = tuple(h[i:i + n])
                hc[g] = hc.get(g, 0) + 1
            for i in range(len(ref) - n + 1):
                g = tuple(ref[i:i + n])
                rc[g] = rc.get(g, 0) + 1
            match[n - 1] += sum(min(v, rc.get(g, 0)) for g, v in hc.items())
            total[n - 1] += max(len(h) - n + 1, 0)
    if c == 0 or min(match) == 0:
        return 0.0
    lp = sum(math.log(m / t) for m, t in zip(match, total)) / 4
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return 100 * bp * math.exp(lp)
