#!/usr/bin/python3
"""scripts/bleu_crosscheck.py — corpus BLEU-4 of a hypothesis file against a
reference file (one tokenized sentence per line, tokens split on white
space) as NLTK's corpus_bleu computes it, times 100, to cross-check
seq2seq/metrics.c.

    S2S_CROSSCHECK_DIR=/tmp/xc ./build/tests/seq2seq_metrics \\
        --filter 'bleu/agrees_with_nltk_corpus_bleu'
    scripts/bleu_crosscheck.py /tmp/xc/hyp.txt /tmp/xc/ref.txt

NLTK (Debian: python3-nltk) is used with its defaults: uniform weights
over 1..4-grams and no smoothing. One difference from the benchmark's
definition: NLTK counts a hypothesis shorter than n tokens as having one
n-gram of order n (max(1, count)), so compare on hypotheses of at least 4
tokens.

With --chrf it also prints chrF (character 1..6-grams, beta 2, white space
removed, precision and recall averaged over the orders present in both
sides of the summed corpus statistics). That part is a plain re-statement
of sacreBLEU's CHRF defaults for when sacreBLEU is not installed, not
sacreBLEU itself.
"""
import sys
from collections import Counter


def chrf(hyps, refs, order=6, beta=2.0):
    stats = [[0, 0, 0] for _ in range(order)]
    for h, r in zip(hyps, refs):
        h = "".join(h.split())
        r = "".join(r.split())
        for n in range(1, order + 1):
            ch = Counter(h[i:i + n] for i in range(len(h) - n + 1))
            cr = Counter(r[i:i + n] for i in range(len(r) - n + 1))
            stats[n - 1][0] += sum(ch.values())
            stats[n - 1][1] += sum(cr.values())
            stats[n - 1][2] += sum((ch & cr).values())
    p = r = 0.0
    k = 0
    for nh, nr, m in stats:
        if nh > 0 and nr > 0:
            p += m / nh
            r += m / nr
            k += 1
    if k == 0:
        return 0.0
    p, r = p / k, r / k
    if p + r == 0:
        return 0.0
    b2 = beta * beta
    return 100.0 * (1 + b2) * p * r / (b2 * p + r)


def main(argv):
    args = [a for a in argv[1:] if a != "--chrf"]
    if len(args) != 2:
        sys.stderr.write("usage: bleu_crosscheck.py [--chrf] HYP REF\n")
        return 2
    try:
        from nltk.translate.bleu_score import corpus_bleu
    except ImportError:
        sys.stderr.write("bleu_crosscheck.py: NLTK is missing "
                         "(apt-get install python3-nltk)\n")
        return 1
    with open(args[0], encoding="utf-8") as f:
        hyp_lines = f.read().splitlines()
    with open(args[1], encoding="utf-8") as f:
        ref_lines = f.read().splitlines()
    if len(hyp_lines) != len(ref_lines):
        sys.stderr.write("bleu_crosscheck.py: %d hypotheses but %d references\n"
                         % (len(hyp_lines), len(ref_lines)))
        return 1
    hyps = [h.split() for h in hyp_lines]
    refs = [[r.split()] for r in ref_lines]
    print("nltk: BLEU %.12f" % (100.0 * corpus_bleu(refs, hyps)))
    if "--chrf" in argv:
        print("python: chrF %.12f" % chrf(hyp_lines, ref_lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
