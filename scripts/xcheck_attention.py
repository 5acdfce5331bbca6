#!/usr/bin/python3
"""scripts/xcheck_attention.py -- cross-checks s2s's attention model (config A
of bench/README.md) against the PyTorch reference (bench/pytorch_reference.py,
class AttnSeq2Seq) from identical weights.

Run from the repository root, after `make`, with Debian's python3-torch:

    OMP_NUM_THREADS=1 /usr/bin/python3 scripts/xcheck_attention.py            # tiny shapes
    OMP_NUM_THREADS=1 /usr/bin/python3 scripts/xcheck_attention.py --full     # and A's own
    OMP_NUM_THREADS=1 /usr/bin/python3 scripts/xcheck_attention.py --real 100 # and A.yaml

(`make xcheck` does the first; `make xcheck XCHECK_FLAGS=--full` the second.)
It needs build/s2s and a slice of the Tatoeba corpus (--data, default
$S2S_TATOEBA or corpora/tatoeba/eng-fra.txt).  Everything runs on one thread
in a scratch directory and takes seconds (--full: about a minute).

For each shape (tiny: E 16, encoder 2 x 8, decoder 16, vocabularies of 100;
--full: A's E 256, 2 x 128, 256) it makes a small TSV from the corpus, trains
s2s on it with `s2s train` for a few steps and reads the parameters out of the
checkpoint (core/ckpt.h container, "params" section laid out as
seq2seq/model.c reserves it), loads them into AttnSeq2Seq, and compares:

  score     per-pair forced-decoding log-probabilities (`s2s score`) against
            PyTorch's in float64 (absolute tolerance 1e-4);
  dev loss  the dev loss s2s's trainer logged last against the reference's
            dev_loss() (1e-5);
  greedy    `s2s translate --beam 1` against PyTorch's greedy decoding (a
            difference is allowed only where PyTorch's top two logits are
            within 1e-4 of each other: a tie float rounding may break);
  grad      the gradient of one training batch (s2s's first, its batcher
            replayed), with dropout 0 and 0.2, on 1 and 2 threads: s2s runs
            one SGD step with lr 1e-30 (the initial parameters, to the bit)
            and one with lr 2^20 (w1 = w0 - lr g, exact but for one rounding),
            so g = (w0 - w1) / lr; PyTorch computes the gradient at w0 with
            s2s's dropout masks (its RNG replayed: core/rng.c xoshiro256**,
            seeded and drawn as seq2seq/train.c and step.c do, per thread's
            share of the batch).  Tolerance 1e-4 of each tensor's largest
            entry; as a control, the masks of another step must be off by
            more than 1e-2;
  adam      the parameters after 8-10 Adam steps (lr 1e-3, clip 0.3 so that
            it bites, dropout 0.2 with s2s's masks, across an epoch's end, on 1
            and 2 threads) against torch.optim.Adam + clip_grad_norm_ from the
            same w0 (tolerance: 3 times PyTorch float32's own deviation).

With --real STEPS it also trains configs/A.yaml itself (the whole corpus,
batch 64, lr 1e-3, clip 5, dropout 0.2, 2 threads) for STEPS steps in s2s and
in PyTorch from the same initial weights, batches and masks, checks that the
reference builds the same vocabularies, and compares the parameters and the
dev loss after those steps (about 3 s a step, plus a minute).

PyTorch runs in float64 (the reference) and float32; s2s's deviation from the
float64 result is printed beside PyTorch float32's, the noise floor of the
same computation in single precision.  Exit status 0 when every check is
within its tolerance, 1 otherwise.
"""
import argparse
import functools
import importlib.util
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--s2s", default=os.path.join(ROOT, "build", "s2s"), help="the s2s binary")
    p.add_argument("--data", default=os.environ.get("S2S_TATOEBA")
                   or os.path.join(ROOT, "corpora", "tatoeba", "eng-fra.txt"),
                   help="English<TAB>French corpus to take pairs from")
    p.add_argument("--full", action="store_true", help="also A's real shapes (E 256, 2x128, 256)")
    p.add_argument("--real", type=int, default=0, metavar="STEPS",
                   help="also train configs/A.yaml itself (the whole corpus, batch 64, clip 5, "
                   "2 threads) this many steps in both and compare (about 3 s a step)")
    p.add_argument("--golden", action="store_true",
                   help="print the PyTorch figures tests/seq2seq_attention.c pins, and exit")
    p.add_argument("--keep", help="work in this directory and keep it (default: a temp dir)")
    p.add_argument("-v", "--verbose", action="store_true", help="per-tensor figures")
    return p.parse_args()


ARGS = parse_args()
try:
    import torch  # noqa: F401
except ImportError:
    sys.exit("xcheck: needs PyTorch: run with Debian's /usr/bin/python3 and "
             "`apt-get install python3-torch`")

# the reference model, imported as it is (its argument parser reads sys.argv)
sys.dont_write_bytecode = True  # no __pycache__ beside bench/pytorch_reference.py
_argv = sys.argv
sys.argv = [os.path.join(ROOT, "bench", "pytorch_reference.py"), "--configs", "A"]
_spec = importlib.util.spec_from_file_location("pytorch_reference", sys.argv[0])
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)
sys.argv = _argv
import torch.nn as nn  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "bench"))
from protocol import tokenize  # noqa: E402

torch.set_num_threads(1)
PAD, UNK, SOS, EOS = ref.PAD, ref.UNK, ref.SOS, ref.EOS
FAILS = []


def check(name, ok, msg):
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {msg}", flush=True)
    if not ok:
        FAILS.append(name)


# ------------------------------------------------------------ s2s's files

def read_ckpt(path):
    """Sections of a core/ckpt.h file: {tag: bytes}."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:8] == b"S2SCKPT\0", f"{path}: not an s2s checkpoint"
    nsec = struct.unpack_from("<I", b, 12)[0]
    pos, out = 24, {}
    for _ in range(nsec):
        tag = b[pos:pos + 8].rstrip(b"\0").decode()
        n = struct.unpack_from("<Q", b, pos + 8)[0]
        out[tag] = b[pos + 24:pos + 24 + n]
        pos += 24 + n + (-n % 8)
    assert b[pos:pos + 8] == b"S2SCKEND", f"{path}: bad trailer"
    return out


def ckpt_model(path):
    """(vocab_src, vocab_tgt, flat float32 parameters) of a checkpoint."""
    s = read_ckpt(path)
    voc = [[ln.split("\t")[0] for ln in s[k].decode().split("\n") if ln] for k in ("vsrc", "vtgt")]
    assert voc[0][:4] == ref.SPECIALS and voc[1][:4] == ref.SPECIALS
    return voc[0], voc[1], np.frombuffer(s["params"], dtype="<f4").copy()


def layout(E, h, H, Vs, Vt):
    """Config A's parameters in s2s's flat buffer under the reference's
    names: the blocks seq2seq/model.c reserves, in its order, each a list
    of (name, shape). A cell's block is [W_ih | W_hh | b_ih | b_hh]
    (cells/lstm.c)."""
    D = 2 * h

    def lstm(X, n, name, sfx):
        return [(f"{name}.weight_ih{sfx}", (4 * n, X)), (f"{name}.weight_hh{sfx}", (4 * n, n)),
                (f"{name}.bias_ih{sfx}", (4 * n,)), (f"{name}.bias_hh{sfx}", (4 * n,))]
    return [[("src_emb.weight", (Vs, E))], [("tgt_emb.weight", (Vt, E))],
            lstm(E, h, "enc", "_l0"), lstm(E, h, "enc", "_l0_reverse"),  # forward, backward
            lstm(E + H, H, "dec", ""),                                   # reads [embedding; h~]
            [("w_a.weight", (H, D))], [("w_c.weight", (H, D + H))],      # no bridge: 2h == H
            [("out.weight", (Vt, H))], [("out.bias", (Vt,))]]


def offsets(E, h, H, Vs, Vt):
    """(name, shape, offset) of each tensor and the buffer's length: every
    block starts on a multiple of 16 floats (core/params.c)."""
    out, off = [], 0
    for block in layout(E, h, H, Vs, Vt):
        off = (off + 15) & ~15
        for name, shape in block:
            out.append((name, shape, off))
            off += int(np.prod(shape))
    return out, off


def flat_to_state(flat, E, h, H, Vs, Vt):
    blocks, n = offsets(E, h, H, Vs, Vt)
    assert n == flat.size, f"parameter count {flat.size}, layout {n}"
    return {name: torch.from_numpy(flat[off:off + int(np.prod(shape))]
                                   .astype(np.float64).reshape(shape))
            for name, shape, off in blocks}


def make_model(st, E, h, H, Vs, Vt, dtype, dropout=0.0):
    m = ref.AttnSeq2Seq(E, 2 * h, Vs, Vt, dropout)
    assert m.enc.hidden_size == h and m.dec.hidden_size == H
    m.load_state_dict({k: v.clone() for k, v in st.items()})
    return m.to(dtype)


def run(cmd, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    if r.returncode != 0:
        sys.exit(f"xcheck: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def s2s_train(work, tag, shape, **over):
    """Trains with config A's settings but `shape` and `over`; returns the
    checkpoint path."""
    E, h, H, vocab = shape
    t = dict(batch=32, max_steps=20, optimizer="adam", lr=0.01, clip=5.0, dropout=0.0, seed=1,
             threads=1)
    t.update(over)
    run_dir = os.path.join(work, tag)
    cfg = f"""data:
  train: {work}/train.tsv
  dev: {work}/dev.tsv
  test: {work}/dev.tsv
  split_every: 0
  src_column: 2
  tgt_column: 1
  min_len: 1
  max_len: 10
  min_count: 1
  max_vocab: {vocab}
tokenizer: {{nfkc: true, lowercase: true, split_punct: true}}
model:
  embed: {E}
  encoder: {{cell: lstm, layers: 1, hidden: {h}, bidirectional: true}}
  decoder: {{cell: lstm, layers: 1, hidden: {H}}}
  attention: general
  input_feed: true
  dropout: {t['dropout']}
  init_range: 0.1
train:
  batch: {t['batch']}
  epochs: 1000
  max_steps: {t['max_steps']}
  optimizer: {t['optimizer']}
  lr: {t['lr']}
  beta1: 0.9
  beta2: 0.999
  eps: 1.0e-8
  clip: {t['clip']}
  teacher_forcing: 1.0
  threads: {t['threads']}
  seed: {t['seed']}
  eval_every: 0
  run_dir: {run_dir}
decode: {{max_len: 20, max_len_ratio: 0, beam: 1}}
"""
    path = os.path.join(work, tag + ".yaml")
    with open(path, "w") as f:
        f.write(cfg)
    run([ARGS.s2s, "train", path])
    return os.path.join(run_dir, "last.ckpt")


# ------------------------------------------------------- s2s's randomness

M64 = (1 << 64) - 1


class Rng:
    """core/rng.c: xoshiro256** seeded through splitmix64."""

    def __init__(self, seed):
        x, self.s = seed & M64, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            self.s.append(mix64(x))

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64  # noqa: E731
        r = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return r

    def below(self, n):
        th = (-n) % (1 << 64) % n
        while True:
            x = self.next()
            if x >= th:
                return x % n

    def shuffle(self, a):
        for i in range(len(a), 1, -1):
            j = self.below(i)
            a[i - 1], a[j] = a[j], a[i - 1]

    def floats(self, n):
        """n draws of s2s_rng_float, as exact float64."""
        return np.array([(self.next() >> 40) for _ in range(n)], dtype=np.float64) * 2.0 ** -24


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


@functools.lru_cache(maxsize=2)
def s2s_epoch_batches(n, B, seed, epoch):
    """corpora/batch.c epoch_order with length_grouping 0: lists of pair
    indices per batch, in the order trained."""
    r = Rng(mix64((seed ^ mix64((epoch + 0x9E3779B97F4A7C15) & M64)) & M64))
    perm = list(range(n))
    r.shuffle(perm)
    nb = (n + B - 1) // B
    border = list(range(nb))
    r.shuffle(border)
    return [perm[b * B:b * B + B] for b in border]


def s2s_batch_rows(sp, idx):
    """s2s_batch_fill's row order: source length desc, target length desc,
    pair index asc."""
    return sorted(idx, key=lambda k: (-sp.src_len[k], -sp.tgt_len[k], k))


def s2s_shares(shape_args, src_len, tgt_len, nt):
    """seq2seq/train.c split_rows: where each thread's share of the batch
    starts, from the costs s2s_model_flops_per_token gives (config A)."""
    E, h, H, Vs, Vt = shape_args
    D = 2 * h
    enc = 2 * 4 * h * (E + h) + H * D                # both directions, keys
    dec = 4 * H * (E + H + H) + Vt * H + H * (D + H)  # decoder (input feeding), out, W_c

    def flops(r):
        return 2.0 * 3.0 * ((dec + 2.0 * D * r) + enc * r)
    ce, cd = flops(1.0) - flops(0.0), flops(0.0)
    B = len(src_len)
    total = 0.0
    for k in range(B):
        total += ce * src_len[k] + cd * tgt_len[k]
    start, cum, r = [0], 0.0, 0
    for t in range(1, nt):
        goal = total * t / nt
        while r < B:
            c = ce * src_len[r] + cd * tgt_len[r]
            if cum + c / 2 > goal:
                break
            cum += c
            r += 1
        start.append(r)
    return start + [B]


class S2SMasks(nn.Module):
    """Stands in for AttnSeq2Seq.drop: hands out s2s's dropout masks of one
    training step, in the order and layout the reference's loss() asks for
    them.  s2s draws them (seq2seq/step.c, train.c step_rng) per thread's
    share of the batch, each from its own stream: the source embeddings over
    the share's packed source (time-major), then per target step the target
    embeddings and then h~ of that step's rows (the share's rows stably
    sorted by target length)."""

    def __init__(self, p, seed, step, src_len, tgt_len, E, H, dtype, shares):
        super().__init__()
        p32 = float(np.float32(p))
        keep = float(np.float32(1.0) / (np.float32(1.0) - np.float32(p)))
        B, T, U = len(src_len), max(src_len), max(tgt_len)
        src = torch.zeros(B, T, E, dtype=dtype)
        emb = torch.zeros(B, U, E, dtype=dtype)
        feed = torch.zeros(B, U, H, dtype=dtype)
        for t in range(len(shares) - 1):
            r = Rng(seed ^ ((0x9E3779B97F4A7C15 * (step + 1)) & M64) ^ (t << 48))

            def mk(n, d):
                return torch.tensor(np.where(r.floats(n * d) < p32, 0.0, keep).reshape(n, d),
                                    dtype=dtype)
            mine = list(range(shares[t], shares[t + 1]))  # sorted by source length already
            for pos in range(T):
                rows = [b for b in mine if src_len[b] > pos]
                if rows:
                    src[rows, pos] = mk(len(rows), E)
            order = sorted(mine, key=lambda b: -tgt_len[b])
            for u in range(U):
                rows = [b for b in order if tgt_len[b] > u]
                if rows:
                    emb[rows, u] = mk(len(rows), E)
                    feed[rows, u] = mk(len(rows), H)
        # the reference's decoder rows: the whole batch stably sorted by target length
        self.order = sorted(range(B), key=lambda b: -tgt_len[b])
        self.src, self.emb, self.fd, self.calls = src, emb[self.order], feed[self.order], 0
        self.src_len = torch.tensor(src_len)

    def forward(self, x):
        if not self.training:
            return x
        self.calls += 1
        if self.calls == 1:  # packed source embeddings: map (b, t) to PyTorch's packing
            B, T = self.src.shape[:2]
            code = torch.arange(B * T).view(B, T)
            pk = ref.pack_padded_sequence(code, self.src_len, batch_first=True,
                                          enforce_sorted=False).data
            return x * self.src.reshape(B * T, -1)[pk].to(x.dtype)
        if self.calls == 2:  # target embeddings (B, U, E), rows sorted by target length
            return x * self.emb.to(x.dtype)
        return x * self.fd[:x.shape[0], self.calls - 3].to(x.dtype)  # h~ of step calls-3

    def again(self):
        """The same masks for another pass (another dtype)."""
        self.calls = 0
        return self


# ------------------------------------------------------------------ checks

def load_pairs(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            c = line.rstrip("\n").split("\t")
            tgt, src = tokenize(c[0]), tokenize(c[1])
            if 1 <= len(src) <= 10 and 1 <= len(tgt) <= 10:
                pairs.append((src, tgt))
    return pairs


def worst(a, b):
    return float(max((a - b).abs().max() for a, b in zip(a, b)))


def check_score(name, work, ckpt, model64, model32, sp):
    out = run([ARGS.s2s, "score", "-m", ckpt, os.path.join(work, "pairs.tsv")])
    lp_s2s = np.array([float(ln.split("\t")[0]) for ln in out.splitlines()])
    assert len(lp_s2s) == sp.n
    lp = {}
    with torch.no_grad():
        for tag, m in (("64", model64), ("32", model32)):
            lp[tag] = np.array([-float(m.loss(*sp.batch([k]), reduction="sum"))
                                for k in range(sp.n)])
    d, d32 = np.abs(lp_s2s - lp["64"]).max(), np.abs(lp["32"] - lp["64"]).max()
    check(f"{name} score", d <= 1e-4,
          f"{sp.n} pairs, log-probabilities {lp['64'].min():.3f} .. {lp['64'].max():.3f}: "
          f"max |s2s - torch64| {d:.2e} (torch32 {d32:.2e}; s2s prints 6 decimals)")


def check_dev_loss(name, metrics, model64, dev):
    """The dev loss s2s's trainer logged last against the reference's
    dev_loss() (the figure behind bench/README.md's dev perplexities)."""
    with open(metrics) as f:
        rows = [ln.strip().split(",") for ln in f if ln.strip()]
    mine = float(rows[-1][rows[0].index("dev_loss")])
    theirs = ref.dev_loss(model64, dev)
    model64.eval()
    check(f"{name} dev loss", abs(mine - theirs) <= 1e-5,
          f"{dev.n} dev pairs: s2s train's logged {mine:.6f}, reference dev_loss() {theirs:.6f} "
          f"(perplexity {np.exp(theirs):.3f})")


def greedy_tie(model, sp, k, prefix):
    """Gap between PyTorch's two best logits after `prefix` (ids)."""
    mem, keys, mask, (h, c) = model.encode(*sp.batch([k])[:2])
    feed = mem.new_zeros(1, model.H)
    for tok in [SOS] + prefix:
        h, c, feed = model.step(model.tgt_emb(torch.tensor([tok])), feed, (h, c), mem, keys, mask)
    top = model.out(feed)[0].topk(2).values
    return float(top[0] - top[1])


def check_greedy(name, work, ckpt, model64, sp, itos_tgt, pairs):
    srcs = os.path.join(work, "src.txt")
    with open(srcs, "w", encoding="utf-8") as f:
        for s, _ in pairs:
            f.write(" ".join(s) + "\n")
    out = run([ARGS.s2s, "translate", "-m", ckpt, "--beam", "1", srcs]).splitlines()
    same, ties, bad = 0, [], []
    with torch.no_grad():
        for k in range(sp.n):
            ids = model64.greedy(*sp.batch([k])[:2], 20)[0]
            mine = tokenize(" ".join(itos_tgt[i] for i in ids))
            theirs = tokenize(out[k])
            if mine == theirs:
                same += 1
                continue
            j = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b),
                     min(len(mine), len(theirs)))
            # the ids of the common prefix, from PyTorch's output
            gap = greedy_tie(model64, sp, k, ids[:j]) if j <= len(ids) else float("inf")
            (ties.append if gap < 1e-4 else bad.append)((k, gap, out[k], " ".join(mine)))
    toks = [tokenize(o) for o in out]
    check(f"{name} greedy", not bad,
          f"{same}/{sp.n} translations identical, {len(ties)} differ at a tie "
          f"({len(set(out))} distinct, {sum(map(len, toks)) / len(toks):.1f} tokens on average, "
          f"{sum(t.count('<unk>') for t in toks)} <unk>)"
          + "".join(f"\n      pair {k}: logit gap {g:.2e}: s2s '{a}' torch '{b}'"
                    for k, g, a, b in bad[:5]))
    return out


# lr of the gradient-reading SGD step: a power of two, so lr * g is exact and
# w1 = w0 - lr g rounds to a few 1e-8 of lr |g|, not of |w0|
LR_G = 2.0 ** 20


def check_grad(name, work, shape, sp, shape_args, dropout, threads=1):
    E, h, H, _ = shape
    B = 32
    kw = dict(batch=B, max_steps=1, optimizer="sgd", clip=0, dropout=dropout, threads=threads)
    c0 = s2s_train(work, f"g0_{dropout}_{threads}", shape, lr=1e-30, **kw)
    c1 = s2s_train(work, f"g1_{dropout}_{threads}", shape, lr=float(LR_G), **kw)
    w0, w1 = ckpt_model(c0)[2], ckpt_model(c1)[2]
    g_s2s = flat_to_state((w0.astype(np.float64) - w1.astype(np.float64)) / LR_G, *shape_args)
    st0 = flat_to_state(w0, *shape_args)
    idx = s2s_batch_rows(sp, s2s_epoch_batches(sp.n, B, 1, 0)[0])
    b = sp.batch(idx)
    g = {}
    runs = (("64", torch.float64, 0), ("32", torch.float32, 0))
    if dropout:
        runs += (("control", torch.float64, 1),)  # the masks of step 2
    for tag, dt, mstep in runs:
        m = make_model(st0, *shape_args, dt, dropout)
        m.train()
        if dropout:
            sl, tl = [int(x) for x in b[1]], [int(x) for x in b[4]]
            m.drop = S2SMasks(dropout, 1, mstep, sl, tl, E, H, dt,
                              s2s_shares(shape_args, sl, tl, threads))
        m.zero_grad()
        m.loss(*b).backward()
        g[tag] = {n: p.grad.detach().to(torch.float64) if p.grad is not None
                  else torch.zeros_like(p, dtype=torch.float64) for n, p in m.named_parameters()}
        if dropout:
            assert m.drop.calls == 2 + max(int(x) for x in b[4]), "mask calls"
    rows, worst_rel, worst32, control = [], 0.0, 0.0, 0.0
    for n in g["64"]:
        ref64, s = g["64"][n], g_s2s[n]
        scale = float(ref64.abs().max()) or 1.0
        rel = float((s - ref64).abs().max()) / scale
        rel32 = float((g["32"][n] - ref64).abs().max()) / scale
        worst_rel, worst32 = max(worst_rel, rel), max(worst32, rel32)
        if "control" in g:
            control = max(control, float((s - g["control"][n]).abs().max()) / scale)
        rows.append(f"      {n:28s} max|g| {scale:.2e}  s2s {rel:.1e}  torch32 {rel32:.1e}")
    norm = float(torch.sqrt(sum((v ** 2).sum() for v in g["64"].values())))
    ctl = f"; control, other masks: {control:.1e}" if "control" in g else ""
    check(f"{name} grad dropout {dropout}, {threads} thread{'s' if threads > 1 else ''}",
          worst_rel <= 1e-4 and (not ctl or control > 1e-2),
          f"batch 1 of {len(idx)} pairs (s2s's first), global norm {norm:.4f}: "
          f"max over tensors of max|s2s - torch64| / max|torch64| {worst_rel:.1e} "
          f"(torch32 {worst32:.1e}{ctl})" + ("\n" + "\n".join(rows) if ARGS.verbose else ""))


def check_adam(name, work, shape, sp, shape_args, steps, dropout, clip, lr=1e-3, threads=1):
    E, h, H, _ = shape
    B = 32
    c0 = s2s_train(work, "a0", shape, batch=B, max_steps=1, optimizer="sgd", lr=1e-30, clip=0,
                   dropout=dropout)
    ck = s2s_train(work, f"adam{steps}_{threads}", shape, batch=B, max_steps=steps,
                   optimizer="adam", lr=lr, clip=clip, dropout=dropout, threads=threads)
    st0 = flat_to_state(ckpt_model(c0)[2], *shape_args)
    st_s2s = flat_to_state(ckpt_model(ck)[2], *shape_args)
    nb = (sp.n + B - 1) // B
    res, clipped = {}, 0
    for tag, dt in (("64", torch.float64), ("32", torch.float32)):
        m = make_model(st0, *shape_args, dt, dropout)
        m.train()
        opt = torch.optim.Adam(m.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
        for s in range(steps):
            idx = s2s_batch_rows(sp, s2s_epoch_batches(sp.n, B, 1, s // nb)[s % nb])
            b = sp.batch(idx)
            if dropout:
                sl, tl = [int(x) for x in b[1]], [int(x) for x in b[4]]
                m.drop = S2SMasks(dropout, 1, s, sl, tl, E, H, dt,
                                  s2s_shares(shape_args, sl, tl, threads))
            opt.zero_grad(set_to_none=True)
            m.loss(*b).backward()
            norm = nn.utils.clip_grad_norm_(m.parameters(), clip)
            clipped += tag == "64" and float(norm) > clip
            opt.step()
        res[tag] = {n: p.detach().to(torch.float64) for n, p in m.named_parameters()}
    moved = worst([res["64"][n] for n in st0], [st0[n] for n in st0])
    d = worst([st_s2s[n] for n in st0], [res["64"][n] for n in st0])
    d32 = worst([res["32"][n] for n in st0], [res["64"][n] for n in st0])
    rows = [f"      {n:28s} s2s {float((st_s2s[n] - res['64'][n]).abs().max()):.1e}  "
            f"torch32 {float((res['32'][n] - res['64'][n]).abs().max()):.1e}" for n in st0]
    check(f"{name} adam dropout {dropout}, {threads} thread{'s' if threads > 1 else ''}",
          d <= max(1e-5, 3 * d32),
          f"{steps} steps of {B} ({nb} batches per epoch, {clipped} clipped at {clip}), "
          f"lr {lr}: parameters moved up to {moved:.3f}; max |s2s - torch64| {d:.1e} "
          f"(torch32 {d32:.1e})" + ("\n" + "\n".join(rows) if ARGS.verbose else ""))


def check_real(work, steps, threads=2):
    """configs/A.yaml as it is (the corpus, batch 64, lr 1e-3, clip 5,
    dropout 0.2, A's sizes) for `steps` steps, in s2s and in PyTorch from the
    same initial weights over the same batches with the same masks; then the
    parameters and the dev loss of both."""
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(ROOT, "configs", "A.yaml")) as f:
        base = f.read()

    def run_a(tag, **over):
        over = dict(dict(threads=threads, run_dir=os.path.join(work, tag), epochs=1000,
                         max_steps=steps), **over)
        text = re.sub(r"(?m)^  train: .*$", f"  train: {ARGS.data}", base)
        for k, v in over.items():
            text, n = re.subn(rf"(?m)^  {k}: .*$", f"  {k}: {v}", text)
            if not n:
                text = text.replace("\ntrain:\n", f"\ntrain:\n  {k}: {v}\n")
        path = os.path.join(work, tag + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        run([ARGS.s2s, "train", path])
        return os.path.join(work, tag, "last.ckpt")
    c0 = run_a("w0", optimizer="sgd", lr="1.0e-30", clip=0, max_steps=1)
    ck = run_a("adam")
    itos_src, itos_tgt, w0 = ckpt_model(c0)
    flat = ckpt_model(ck)[2]
    _, split, ref_src, ref_tgt, _ = ref.load_data(ARGS.data)
    check("A real vocabularies", (ref_src, ref_tgt) == (itos_src, itos_tgt),
          f"s2s's {len(itos_src)} / {len(itos_tgt)} entries and the reference's "
          f"{len(ref_src)} / {len(ref_tgt)}, in the same order")
    Vs, Vt = len(itos_src), len(itos_tgt)
    shape_args = (256, 128, 256, Vs, Vt)
    st0, st_s2s = flat_to_state(w0, *shape_args), flat_to_state(flat, *shape_args)
    stoi_src = {w: i for i, w in enumerate(itos_src)}
    stoi_tgt = {w: i for i, w in enumerate(itos_tgt)}
    train = ref.Split(split["train"], stoi_src, stoi_tgt)
    dev = ref.Split(split["dev"], stoi_src, stoi_tgt)
    B, nb = 64, (train.n + 63) // 64
    models = {tag: make_model(st0, *shape_args, dt, 0.2).train()
              for tag, dt in (("64", torch.float64), ("32", torch.float32))}
    opts = {tag: torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
            for tag, m in models.items()}
    losses = []
    for s in range(steps):
        idx = s2s_batch_rows(train, s2s_epoch_batches(train.n, B, 1, s // nb)[s % nb])
        b = train.batch(idx)
        sl, tl = [int(x) for x in b[1]], [int(x) for x in b[4]]
        masks = S2SMasks(0.2, 1, s, sl, tl, 256, 256, torch.float64,
                         s2s_shares(shape_args, sl, tl, threads))
        for tag, m in models.items():
            m.drop = masks.again()
            opts[tag].zero_grad(set_to_none=True)
            loss = m.loss(*b)
            loss.backward()
            nn.utils.clip_grad_norm_(m.parameters(), 5.0)
            opts[tag].step()
            if tag == "64":
                losses.append(float(loss))
    res = {tag: {n: p.detach().to(torch.float64) for n, p in m.named_parameters()}
           for tag, m in models.items()}
    d = worst([st_s2s[n] for n in st0], [res["64"][n] for n in st0])
    d32 = worst([res["32"][n] for n in st0], [res["64"][n] for n in st0])
    check("A real adam", d <= max(1e-5, 3 * d32),
          f"{steps} steps of 64 on {threads} threads, train loss {losses[0]:.4f} -> "
          f"{losses[-1]:.4f}: max |s2s - torch64| over {flat.size:,} parameters {d:.1e} "
          f"(torch32 {d32:.1e})")
    mine = ref.dev_loss(make_model(st_s2s, *shape_args, torch.float64, 0.2), dev)
    theirs = ref.dev_loss(models["64"], dev)
    check("A real dev loss", abs(mine - theirs) <= 1e-4,
          f"{dev.n} dev pairs after {steps} steps: s2s's weights {mine:.6f}, PyTorch's "
          f"{theirs:.6f} (perplexity {np.exp(theirs):.2f})")


def make_data(work, stride, n_train, n_dev):
    with open(ARGS.data, encoding="utf-8") as f:
        lines = [ln for ln in f.read().split("\n")[:60000:stride] if ln.count("\t") == 1]
    with open(os.path.join(work, "train.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines[:n_train]) + "\n")
    with open(os.path.join(work, "dev.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines[n_train:n_train + n_dev]) + "\n")


def one_shape(name, work, shape, adam_steps, train_steps):
    E, h, H, vocab = shape
    os.makedirs(work, exist_ok=True)
    make_data(work, 211, 200, 40)
    print(f"# {name}: E {E}, encoder 2 x {h}, decoder {H}, vocabularies <= {vocab or 'all'}",
          flush=True)
    ck = s2s_train(work, "trained", shape, max_steps=train_steps)
    itos_src, itos_tgt, flat = ckpt_model(ck)
    Vs, Vt = len(itos_src), len(itos_tgt)
    shape_args = (E, h, H, Vs, Vt)
    st = flat_to_state(flat, *shape_args)
    stoi_src = {w: i for i, w in enumerate(itos_src)}
    stoi_tgt = {w: i for i, w in enumerate(itos_tgt)}
    train = ref.Split(load_pairs(os.path.join(work, "train.tsv")), stoi_src, stoi_tgt)
    pairs = load_pairs(os.path.join(work, "train.tsv")) + load_pairs(os.path.join(work, "dev.tsv"))
    with open(os.path.join(work, "pairs.tsv"), "w", encoding="utf-8") as f:
        for s, t in pairs:
            f.write(" ".join(t) + "\t" + " ".join(s) + "\n")
    allp = ref.Split(pairs, stoi_src, stoi_tgt)
    m64 = make_model(st, *shape_args, torch.float64).eval()
    m32 = make_model(st, *shape_args, torch.float32).eval()
    check_score(name, work, ck, m64, m32, allp)
    check_dev_loss(name, os.path.join(work, "trained", "metrics.csv"), m64,
                   ref.Split(load_pairs(os.path.join(work, "dev.tsv")), stoi_src, stoi_tgt))
    check_greedy(name, work, ck, m64, allp, itos_tgt, pairs)
    for p in (0.0, 0.2):
        check_grad(name, work, shape, train, shape_args, p)
    check_grad(name, work, shape, train, shape_args, 0.2, threads=2)
    check_adam(name, work, shape, train, shape_args, adam_steps, 0.2, 0.3)
    check_adam(name, work, shape, train, shape_args, adam_steps, 0.2, 0.3, threads=2)


def golden():
    """The figures tests/seq2seq_attention.c (attention_reference) pins: the
    reference model in float64 with the parameters of that test (config A's
    shape, small: E 3, biLSTM 2 x 2, LSTM 4, V 9 / 8; flat parameter i is
    ((37 i + 11) mod 101 - 50) / 250 in s2s's layout, its padding included) on that test's three
    pairs: each pair's summed NLL, and of the gradient of the batch's mean
    loss its L2 norm and its dot product with u_i = ((53 i + 7) mod 97 - 48) / 48."""
    shape_args = (3, 2, 4, 9, 8)
    blocks, n = offsets(*shape_args)
    i = np.arange(n)
    flat = (((37 * i + 11) % 101 - 50).astype(np.float32) / np.float32(250)).astype(np.float32)
    u = ((53 * i + 7) % 97 - 48) / 48.0
    m = make_model(flat_to_state(flat, *shape_args), *shape_args, torch.float64)
    src = torch.tensor([[4, 5, 6, 7], [8, 4, 5, 0], [6, 0, 0, 0]])
    tin = torch.tensor([[SOS, 4, 5, 0, 0], [SOS, 6, 7, 4, 5], [SOS, 0, 0, 0, 0]])
    tout = torch.tensor([[4, 5, EOS, 0, 0], [6, 7, 4, 5, EOS], [EOS, 0, 0, 0, 0]])
    sl, tl = torch.tensor([4, 3, 1]), torch.tensor([3, 5, 1])
    m.eval()
    with torch.no_grad():
        rows = [float(m.loss(src[k:k + 1], sl[k:k + 1], tin[k:k + 1], tout[k:k + 1],
                             tl[k:k + 1], reduction="sum")) for k in range(3)]
    m.zero_grad()
    m.loss(src, sl, tin, tout, tl).backward()
    g, ps = np.zeros(n), dict(m.named_parameters())
    for name, shape, off in blocks:
        g[off:off + int(np.prod(shape))] = ps[name].grad.numpy().ravel()
    print(f"params {n}")
    print("row_nll {" + ", ".join(f"{x:.10f}" for x in rows) + "}")
    print(f"grad_norm {np.sqrt((g * g).sum()):.10f}  grad_dot_u {(g * u).sum():.10f}")


def main():
    if ARGS.golden:
        golden()
        return
    if not os.path.exists(ARGS.s2s):
        sys.exit(f"xcheck: {ARGS.s2s} not found (make first)")
    if not os.path.exists(ARGS.data):
        sys.exit(f"xcheck: corpus {ARGS.data} not found (--data or S2S_TATOEBA; bench/README.md)")
    work = ARGS.keep or tempfile.mkdtemp(prefix="s2s-xcheck-")
    shapes = [("tiny", (16, 8, 16, 100), 10, 300)]
    if ARGS.full:
        shapes.append(("A-size", (256, 128, 256, 0), 8, 60))
    for name, shape, steps, train_steps in shapes:
        one_shape(name, os.path.join(work, name), shape, steps, train_steps)
    if ARGS.real:
        print(f"# configs/A.yaml on {ARGS.data}, {ARGS.real} steps", flush=True)
        check_real(os.path.join(work, "real"), ARGS.real)
    if not ARGS.keep:
        import shutil
        shutil.rmtree(work)
    print("xcheck:", "FAILED: " + ", ".join(FAILS) if FAILS else "s2s's config A = PyTorch's "
          "AttnSeq2Seq from identical weights, within every tolerance")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
