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
                        but all become one token, the marker alone, which is what
                        <unk> is to word S
  score HYP             corpus BLEU-4 on the protocol's word tokens of HYP
                        (one translation of OUT.test.fr per line) after
                        joining marked pieces, against the English side of
                        the test split: the figure `s2s eval` gives

The corpus is $S2S_TATOEBA (default corpora/tatoeba/eng-fra.txt), as for
configs/S.yaml.
Train with configs/S.yaml changed in: data.train OUT.tsv, max_len 0 (the
pairs are already those word S keeps), min_count 1, decode.max_len 30.
"""
import os
import subprocess
import sys
from collections import Counter

from protocol import bleu4, kept_pairs, split_of, tokenize

MARK = "\u25a0"


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
    return os.environ.get("S2S_TATOEBA") or "corpora/tatoeba/eng-fra.txt"


def prepare(out, pieces, sides):
    pairs = [(e, f) for f, e in kept_pairs(corpus())]  # (English, French)
    train = [k for k in range(len(pairs)) if split_of(k) == "train"]
    spell_en = spelling(pairs, train, 0, out + "_en", pieces)
    spell_fr = spelling(pairs, train, 1, out + "_fr", pieces)
    if sides == "target":
        spell_fr = {w: MARK for w in spell_fr}
    with open(out + ".tsv", "w", encoding="utf-8") as f, \
         open(out + ".test.fr", "w", encoding="utf-8") as t:
        for k, (e, r) in enumerate(pairs):
            fr = " ".join(spell_fr.get(w, w) for w in r)
            f.write(" ".join(spell_en.get(w, w) for w in e) + "\t" + fr + "\n")
            if split_of(k) == "test":
                t.write(fr + "\n")
    print(f"{len(pairs)} pairs; spelled types: English {len(spell_en)}, "
          f"French {len(spell_fr)}")


def score(hyp):
    refs = [e for k, (_, e) in enumerate(kept_pairs(corpus())) if split_of(k) == "test"]
    with open(hyp, encoding="utf-8") as f:
        hyps = [tokenize(l.replace(MARK + " ", "")) for l in f]
    if len(hyps) != len(refs):
        sys.exit(f"{hyp}: {len(hyps)} lines, but the test split has {len(refs)} pairs")
    print(f"{bleu4(hyps, refs):.2f}")


if __name__ == "__main__":
    if 3 <= len(sys.argv) <= 5 and sys.argv[1] == "prepare" and \
            (len(sys.argv) < 4 or sys.argv[3].isdigit()) and \
            (len(sys.argv) < 5 or sys.argv[4] in ("both", "target")):
        prepare(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2000,
                sys.argv[4] if len(sys.argv) > 4 else "both")
    elif len(sys.argv) == 3 and sys.argv[1] == "score":
        score(sys.argv[2])
    else:
        sys.exit(__doc__)
