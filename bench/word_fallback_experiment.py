#!/usr/bin/env python3
"""Issue 11's last experiment: words where the word vocabulary has them,
SentencePiece pieces only for the rest (bench/README.md, "Subword units").

Word-level S maps every token seen fewer than twice in the train split to
<unk>. This keeps those tokens instead, spelled in the pieces of a small
unigram model (one per language, trained by `spm_train` on the train
split's word tokens), so the model sees word S's sentences except where
word S sees <unk>. Non-final pieces carry a marker (U+25A0, a symbol, so
s2s's punctuation splitting leaves it alone), and scoring joins them back.

  prepare OUT [PIECES] [both|target]
                        writes OUT.tsv (the kept pairs of the corpus, in
                        order, as word tokens and marked pieces, so s2s's
                        split_every puts each pair in the split it has in
                        word S) and OUT.test.fr (the test split's sources);
                        with `target`, rare source tokens are not spelled
                        but all become one token, MARK alone, which is what
                        <unk> is to word S
  score HYP             corpus BLEU-4 on the protocol's word tokens of HYP
                        (one translation of OUT.test.fr per line) after
                        joining marked pieces, against the English side of
                        the test split: the figure `s2s eval` gives

The corpus is $S2S_TATOEBA (default ../shared/corpora/eng-fra/eng-fra.txt).
Train with configs/S.yaml changed in: data.train OUT.tsv, max_len 0 (the
pairs are already those word S keeps), min_count 1, decode.max_len 30.
"""
import math
import os
import subprocess
import sys
import unicodedata
from collections import Counter

MARK = "\u25a0"


def words(text):
    """The protocol's word tokens: NFKC, lower case, punctuation apart."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(f" {c} " if unicodedata.category(c).startswith("P") else c
                   for c in text).split()


def kept_pairs(path):
    """(English, French) word tokens of the pairs word S keeps, in order."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "\t" not in line:
                continue
            en, fr = line.rstrip("\n").split("\t")[:2]
            e, r = words(en), words(fr)
            if 1 <= len(e) <= 10 and 1 <= len(r) <= 10:
                out.append((e, r))
    return out


def spelling(pairs, train, side, prefix, pieces):
    """Token -> marked pieces, for every token seen < 2 times in train."""
    with open(prefix + ".txt", "w", encoding="utf-8") as f:
        for k in train:
            f.write(" ".join(pairs[k][side]) + "\n")
    subprocess.run(["spm_train", f"--input={prefix}.txt",
                    f"--model_prefix={prefix}", f"--vocab_size={pieces}",
                    "--model_type=unigram", "--character_coverage=1.0",
                    "--byte_fallback=true",
                    "--minloglevel=2"], check=True, capture_output=True)
    count = Counter(w for k in train for w in pairs[k][side])
    rare = sorted({w for p in pairs for w in p[side] if count[w] < 2})
    enc = subprocess.run(["spm_encode", f"--model={prefix}.model"],
                         input="\n".join(rare) + "\n", capture_output=True,
                         text=True, check=True).stdout.split("\n")
    out = {}
    for w, e in zip(rare, enc):
        ps = e.split()
        if ps and ps[0] == "\u2581":
            ps = ps[1:]
        elif ps:
            ps[0] = ps[0].removeprefix("\u2581")
        out[w] = " ".join([p + MARK for p in ps[:-1]] + ps[-1:])
    return out


def corpus():
    return os.environ.get("S2S_TATOEBA", "../shared/corpora/eng-fra/eng-fra.txt")


def prepare(out, pieces, sides):
    pairs = kept_pairs(corpus())
    train = [k for k in range(len(pairs)) if k % 50 not in (0, 1)]
    spell_en = spelling(pairs, train, 0, out + "_en", pieces)
    spell_fr = spelling(pairs, train, 1, out + "_fr", pieces)
    if sides == "target":
        spell_fr = {w: MARK for w in spell_fr}
    with open(out + ".tsv", "w", encoding="utf-8") as f, \
         open(out + ".test.fr", "w", encoding="utf-8") as t:
        for k, (e, r) in enumerate(pairs):
            fr = " ".join(spell_fr.get(w, w) for w in r)
            f.write(" ".join(spell_en.get(w, w) for w in e) + "\t" + fr + "\n")
            if k % 50 == 0:
                t.write(fr + "\n")
    print(f"{len(pairs)} pairs; spelled types: English {len(spell_en)}, "
          f"French {len(spell_fr)}")


def bleu(hyps, refs):
    """Corpus BLEU-4, no smoothing (seq2seq/metrics.h)."""
    match, total, hl, rl = [0] * 4, [0] * 4, 0, 0
    for h, r in zip(hyps, refs):
        hl, rl = hl + len(h), rl + len(r)
        for n in range(1, 5):
            hc = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            match[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(0, len(h) - n + 1)
    if min(match) == 0:
        return 0.0
    logp = sum(math.log(match[i] / total[i]) for i in range(4)) / 4
    return 100 * math.exp(logp + min(0.0, 1 - rl / hl))


def score(hyp):
    refs = [e for k, (e, _) in enumerate(kept_pairs(corpus())) if k % 50 == 0]
    with open(hyp, encoding="utf-8") as f:
        hyps = [words(l.replace(MARK + " ", "")) for l in f]
    print(f"{bleu(hyps, refs):.2f}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2000,
                sys.argv[4] if len(sys.argv) > 4 else "both")
    elif len(sys.argv) == 3 and sys.argv[1] == "score":
        score(sys.argv[2])
    else:
        sys.exit(__doc__)
