#!/usr/bin/python3
"""bench/pytorch_reference.py -- the reference benchmark of bench/README.md
implemented in PyTorch, so that s2s's figures can be put beside PyTorch's
on the same machine.  Prints JSON lines on stdout.

Run from the repository root with Debian's python and PyTorch
(apt-get install python3-torch), e.g.

    /usr/bin/python3 bench/pytorch_reference.py --configs S --torch-threads 1 --blas-threads 2
    /usr/bin/python3 bench/pytorch_reference.py --configs S --no-throughput --epochs 1 \\
        --save /tmp/S.pt
    /usr/bin/python3 bench/pytorch_reference.py --configs S --no-throughput --load /tmp/S.pt
    /usr/bin/python3 bench/pytorch_reference.py --configs A --selftest

Threads: PyTorch has two pools on this build: its own (OpenMP,
torch.set_num_threads, --torch-threads) and OpenBLAS's (pthreads, read once
from OPENBLAS_NUM_THREADS when the library loads, --blas-threads).  When
--blas-threads differs from the environment, the script sets
OPENBLAS_NUM_THREADS and re-executes itself before importing torch.  The
BLAS thread count actually in force is read back from OpenBLAS and printed,
with the kernel OpenBLAS picked (openblas_get_corename).
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as they are.

Config A (bench/README.md, config A): bidirectional LSTM encoder
(2 x 128, packed: padding is never read in either direction), decoder
LSTMCell 256 stepped one target position at a time with input feeding,
Luong "general" attention masked to each sentence's own source positions,
dropout 0.2 on both embeddings and on the attentional state h~ (the
dropped h~ feeds both the output layer and the next step, as in
OpenNMT-py).  Teacher-forced steps run on the batch sorted by target
length, shrinking as sentences end (as a packed sequence): no step of a
finished sentence is computed.  --selftest checks that path against a
naive per-sentence loop written from the equations.

Figures (bench/README.md):
  data              split and vocabulary sizes
  train_throughput  target tokens (non-pad, <eos> included) per second over
                    --steps optimiser steps after --warmup steps, batches
                    0, 1, 2, ... of epoch 0's order (as `s2s bench`)
  dev_perplexity    with --epochs N: after each epoch
  test_quality      test BLEU-4 / chrF of greedy batched decoding
  decode_batched    batch 64 over the whole test split, sentences/s
  decode_batch1     batch 1 over the first 500 test sentences
  selftest          with --selftest (config A): batched/packed loss against
                    a naive per-sentence loop, batched against batch-1 greedy
"""
import argparse
import json
import os
import sys
import time

CONFIGS = {  # cell, layers, embed, hidden, batch
    "S": ("lstm", 1, 256, 256, 64),
    "M": ("lstm", 2, 256, 512, 64),
    "G": ("gru", 1, 256, 256, 64),
    "R": ("rnn", 1, 256, 256, 64),
    "A": ("lstm", 1, 256, 256, 64),  # with attention: see ATTENTION
}
# configs that are BENCHMARK.md's attention model, with their dropout: a
# bidirectional encoder of H/2 per direction, input feeding, "general"
ATTENTION = {"A": 0.2}
PAD, UNK, SOS, EOS = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<sos>", "<eos>"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.environ.get("S2S_TATOEBA") or "corpora/tatoeba/eng-fra.txt",
                   help="English<TAB>French corpus (default: %(default)s)")
    p.add_argument("--configs", default="S", help="comma list of S,M,G,R,A (default S)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="OPENBLAS_NUM_THREADS (re-executes if the environment differs)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--no-throughput", action="store_true")
    p.add_argument("--epochs", type=int, default=0,
                   help="train the first config this many epochs, then decoding figures")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batching", choices=["grouped", "random"], default="grouped",
                   help="grouped (default): shuffle, sort chunks of 100 batches by length, "
                   "shuffle batch order, as the s2s batcher; random: plain shuffle")
    p.add_argument("--decode-batch", type=int, default=64)
    p.add_argument("--decode-n1", type=int, default=500)
    p.add_argument("--max-len", type=int, default=20, help="greedy decoding limit")
    p.add_argument("--save", help="save the trained model after each epoch (with --epochs)")
    p.add_argument("--load", help="load a saved model and measure decoding figures")
    p.add_argument("--epoch-batches", type=int, default=0,
                   help="for testing: stop each epoch after this many batches")
    p.add_argument("--selftest", action="store_true",
                   help="check the attention model's batched loss and greedy decoding "
                   "against naive per-sentence loops, then exit (non-zero on failure)")
    return p.parse_args()


ARGS = parse_args()
if ARGS.blas_threads is not None and os.environ.get("OPENBLAS_NUM_THREADS") != str(ARGS.blas_threads):
    os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.blas_threads)
    os.execv(sys.executable, [sys.executable] + sys.argv)

import ctypes  # noqa: E402
import resource  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence  # noqa: E402,E501

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when imported
from protocol import bleu4, kept_pairs, split_of  # noqa: E402

torch.set_num_threads(ARGS.torch_threads)


def openblas_info():
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return (int(lib.openblas_get_num_threads()), lib.openblas_get_config().decode(),
                lib.openblas_get_corename().decode())
    except (OSError, AttributeError):
        return None, None, None


BLAS_THREADS, BLAS_CONFIG, BLAS_CORE = openblas_info()


def git_commit():
    import subprocess
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


COMMIT = git_commit()


def emit(figure, config, **kw):
    d = {"figure": figure, "impl": "pytorch", "config": config,
         "torch_threads": torch.get_num_threads(), "blas_threads": BLAS_THREADS,
         "blas_core": BLAS_CORE}
    d.update(kw)
    d["torch"] = torch.__version__
    d["commit"] = COMMIT
    print(json.dumps(d), flush=True)


# ------------------------------------------------------------------ data

def load_data(path):
    t0 = time.perf_counter()
    kept = kept_pairs(path)
    split = {"train": [], "dev": [], "test": []}
    for i, p in enumerate(kept):
        split[split_of(i)].append(p)

    def vocab(side):
        cnt = {}
        for p in split["train"]:
            for w in p[side]:
                cnt[w] = cnt.get(w, 0) + 1
        words = sorted((w for w, c in cnt.items() if c >= 2), key=lambda w: (-cnt[w], w))
        return SPECIALS + words
    itos_src, itos_tgt = vocab(0), vocab(1)
    return kept, split, itos_src, itos_tgt, time.perf_counter() - t0


class Split:
    """Padded id arrays of one split: src (N,10), tgt_in (N,11) = <sos> y,
    tgt_out (N,11) = y <eos>, and lengths."""

    def __init__(self, pairs, stoi_src, stoi_tgt):
        n = len(pairs)
        self.n = n
        self.src = np.zeros((n, 10), dtype=np.int64)
        self.tgt_in = np.zeros((n, 11), dtype=np.int64)
        self.tgt_out = np.zeros((n, 11), dtype=np.int64)
        self.src_len = np.zeros(n, dtype=np.int64)
        self.tgt_len = np.zeros(n, dtype=np.int64)  # with <eos>
        self.ref = []
        for k, (s, t) in enumerate(pairs):
            self.src[k, :len(s)] = [stoi_src.get(w, UNK) for w in s]
            y = [stoi_tgt.get(w, UNK) for w in t]
            self.tgt_in[k, 0] = SOS
            self.tgt_in[k, 1:len(y) + 1] = y
            self.tgt_out[k, :len(y)] = y
            self.tgt_out[k, len(y)] = EOS
            self.src_len[k] = len(s)
            self.tgt_len[k] = len(y) + 1
            self.ref.append(t)

    def batch(self, idx):
        idx = np.asarray(idx)
        T, U = int(self.src_len[idx].max()), int(self.tgt_len[idx].max())
        return (torch.from_numpy(self.src[idx, :T]), torch.from_numpy(self.src_len[idx]),
                torch.from_numpy(self.tgt_in[idx, :U]), torch.from_numpy(self.tgt_out[idx, :U]),
                torch.from_numpy(self.tgt_len[idx]))


def epoch_batches(sp, B, seed, epoch, mode):
    """Batches (lists of pair indices) of one epoch, from (seed, epoch) alone."""
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(sp.n)
    if mode == "random":
        return [perm[i:i + B] for i in range(0, sp.n, B)]
    chunk = 100 * B
    for c0 in range(0, sp.n, chunk):
        c = perm[c0:c0 + chunk]
        # source length desc, target length desc, index asc
        perm[c0:c0 + chunk] = c[np.lexsort((c, -sp.tgt_len[c], -sp.src_len[c]))]
    batches = [perm[i:i + B] for i in range(0, sp.n, B)]
    return [batches[b] for b in rng.permutation(len(batches))]


# ------------------------------------------------------------------ model

class Seq2Seq(nn.Module):
    def __init__(self, cell, L, E, H, Vs, Vt):
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        kw = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.src_emb = nn.Embedding(Vs, E)
        self.tgt_emb = nn.Embedding(Vt, E)
        self.enc = rnn(E, H, L, batch_first=True, **kw)
        self.dec = rnn(E, H, L, batch_first=True, **kw)
        self.out = nn.Linear(H, Vt)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def encode(self, src, src_len):
        # pack the ids, then embed only the real tokens: the final state of
        # each layer is each sequence's own at its length
        pk = pack_padded_sequence(src, src_len, batch_first=True, enforce_sorted=False)
        pk = PackedSequence(self.src_emb(pk.data), pk.batch_sizes, pk.sorted_indices,
                            pk.unsorted_indices)
        _, state = self.enc(pk)
        return state  # (L, B, H), or a pair for the LSTM, in batch order

    def loss(self, src, src_len, tgt_in, tgt_out, tgt_len, reduction="mean"):
        state = self.encode(src, src_len)
        # teacher forcing: the decoder sees <sos> y_1 .. y_n, packed by target
        # length (nn.LSTM permutes the initial state to match)
        pk = pack_padded_sequence(torch.stack((tgt_in, tgt_out), -1), tgt_len,
                                  batch_first=True, enforce_sorted=False)
        x = PackedSequence(self.tgt_emb(pk.data[:, 0]), pk.batch_sizes, pk.sorted_indices,
                           pk.unsorted_indices)
        h, _ = self.dec(x, state)
        return F.cross_entropy(self.out(h.data), pk.data[:, 1], reduction=reduction)

    def greedy(self, src, src_len, max_len):
        """Greedy decoding of a batch: lists of target ids, without <eos>."""
        B = src.shape[0]
        state = self.encode(src, src_len)
        tok = torch.full((B, 1), SOS, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        outs = []
        for _ in range(max_len):
            h, state = self.dec(self.tgt_emb(tok), state)
            nxt = self.out(h[:, -1]).argmax(-1)
            outs.append(nxt)
            done = done | (nxt == EOS)
            if bool(done.all()):
                break
            tok = nxt.unsqueeze(1)
        ids = torch.stack(outs, 1).tolist()
        res = []
        for row in ids:
            res.append(row[:row.index(EOS)] if EOS in row else row)
        return res


class AttnSeq2Seq(nn.Module):
    """BENCHMARK.md config A: biLSTM encoder (H/2 per direction), LSTM
    decoder with input feeding, Luong "general" attention, dropout."""

    def __init__(self, E, H, Vs, Vt, dropout):
        super().__init__()
        self.H = H
        self.src_emb = nn.Embedding(Vs, E)
        self.tgt_emb = nn.Embedding(Vt, E)
        self.enc = nn.LSTM(E, H // 2, 1, batch_first=True, bidirectional=True)
        self.dec = nn.LSTMCell(E + H, H)       # input [embedding(y_t-1); h~_t-1]
        self.w_a = nn.Linear(H, H, bias=False)  # score = h_t^T W_a mem_s
        self.w_c = nn.Linear(2 * H, H, bias=False)  # h~ = tanh(W_c [c_t; h_t])
        self.out = nn.Linear(H, Vt)
        self.drop = nn.Dropout(dropout)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def encode(self, src, src_len):
        """memory (B,T,H), keys W_a memory, mask (B,T) of real source
        positions, decoder initial state: each direction's final (h, c),
        concatenated forward then backward."""
        T = src.shape[1]
        pk = pack_padded_sequence(src, src_len, batch_first=True, enforce_sorted=False)
        pk = PackedSequence(self.drop(self.src_emb(pk.data)), pk.batch_sizes, pk.sorted_indices,
                            pk.unsorted_indices)
        out, (h, c) = self.enc(pk)  # h, c: (2, B, H/2) in batch order, [fwd, bwd]
        mem, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        mask = torch.arange(T).unsqueeze(0) < src_len.unsqueeze(1)
        return mem, self.w_a(mem), mask, (torch.cat((h[0], h[1]), 1), torch.cat((c[0], c[1]), 1))

    def step(self, e, feed, state, mem, keys, mask):
        """One decoder step for the rows given: embedded input e, previous
        h~ feed, state (h, c).  Returns h, c, and h~ after dropout."""
        h, c = self.dec(torch.cat((e, feed), 1), state)
        s = torch.bmm(keys, h.unsqueeze(2)).squeeze(2).masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, 1)
        ctx = torch.bmm(a.unsqueeze(1), mem).squeeze(1)
        return h, c, self.drop(torch.tanh(self.w_c(torch.cat((ctx, h), 1))))

    def loss(self, src, src_len, tgt_in, tgt_out, tgt_len, reduction="mean"):
        mem, keys, mask, (h, c) = self.encode(src, src_len)
        # teacher forcing on the batch sorted by target length: step t runs
        # the first n_t rows, those whose target is longer than t
        lens, order = torch.sort(tgt_len, descending=True, stable=True)
        mem, keys, mask, h, c = mem[order], keys[order], mask[order], h[order], c[order]
        emb = self.drop(self.tgt_emb(tgt_in[order]))
        gold = tgt_out[order]
        feed = mem.new_zeros(src.shape[0], self.H)
        lens = lens.tolist()
        outs, ys = [], []
        for t in range(lens[0]):
            n = sum(1 for k in lens if k > t)
            h, c, feed = self.step(emb[:n, t], feed[:n], (h[:n], c[:n]), mem[:n], keys[:n],
                                   mask[:n])
            outs.append(feed)
            ys.append(gold[:n, t])
        return F.cross_entropy(self.out(torch.cat(outs)), torch.cat(ys), reduction=reduction)

    def greedy(self, src, src_len, max_len):
        """Greedy decoding of a batch: lists of target ids, without <eos>."""
        B = src.shape[0]
        mem, keys, mask, (h, c) = self.encode(src, src_len)
        tok = torch.full((B,), SOS, dtype=torch.long)
        feed = mem.new_zeros(B, self.H)
        done = torch.zeros(B, dtype=torch.bool)
        outs = []
        for _ in range(max_len):
            h, c, feed = self.step(self.tgt_emb(tok), feed, (h, c), mem, keys, mask)
            tok = self.out(feed).argmax(-1)
            outs.append(tok)
            done = done | (tok == EOS)
            if bool(done.all()):
                break
        ids = torch.stack(outs, 1).tolist()
        return [row[:row.index(EOS)] if EOS in row else row for row in ids]


def naive_attn_nll(model, src, src_len, tgt_in, tgt_out, tgt_len):
    """Summed NLL and token count of config A, one sentence at a time and
    one position at a time, from the equations and the raw weights: no
    padding, no packing, no batching (dropout is not applied)."""
    p = dict(model.named_parameters())

    def lstm(x, h, c, w, sfx=""):
        g = (p[w + ".weight_ih" + sfx] @ x + p[w + ".bias_ih" + sfx]
             + p[w + ".weight_hh" + sfx] @ h + p[w + ".bias_hh" + sfx])
        i, f, gg, o = g.chunk(4)  # PyTorch's gate order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        return torch.sigmoid(o) * torch.tanh(c), c

    nll, ntok = 0.0, 0
    for b in range(src.shape[0]):
        S = int(src_len[b])
        xs = [p["src_emb.weight"][src[b, s]] for s in range(S)]
        hf = cf = hb = cb = xs[0].new_zeros(model.H // 2)
        fwd, bwd = [None] * S, [None] * S
        for s in range(S):
            hf, cf = lstm(xs[s], hf, cf, "enc", "_l0")
            fwd[s] = hf
        for s in reversed(range(S)):
            hb, cb = lstm(xs[s], hb, cb, "enc", "_l0_reverse")
            bwd[s] = hb
        mem = [torch.cat((fwd[s], bwd[s])) for s in range(S)]
        h, c = torch.cat((hf, hb)), torch.cat((cf, cb))
        feed = h.new_zeros(model.H)
        for t in range(int(tgt_len[b])):
            h, c = lstm(torch.cat((p["tgt_emb.weight"][tgt_in[b, t]], feed)), h, c, "dec")
            a = torch.softmax(torch.stack([h @ (p["w_a.weight"] @ m) for m in mem]), 0)
            ctx = sum(a[s] * mem[s] for s in range(S))
            feed = torch.tanh(p["w_c.weight"] @ torch.cat((ctx, h)))
            logits = p["out.weight"] @ feed + p["out.bias"]
            nll += float(-torch.log_softmax(logits, 0)[tgt_out[b, t]])
            ntok += 1
    return nll, ntok


def flops_per_token(cell, L, E, H, V, src_tgt_ratio):
    """Multiply-adds x 2 x 3 (forward + backward) per target token, from
    the shapes: recurrent layers on both sides, output projection."""
    g = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    layer = lambda i: g * H * (i + H)  # noqa: E731
    rec = sum(layer(E if l == 0 else H) for l in range(L))
    return 2 * 3 * (rec * (1 + src_tgt_ratio) + H * V)


def flops_per_token_attn(E, H, V, src_tgt_ratio, attended):
    """The same count for config A: per source token the biLSTM (two
    directions of H/2) and the keys W_a; per target token the decoder LSTM
    (input E + H), scores and context over the `attended` real source
    positions (mean over target tokens), W_c and the output layer."""
    h = H // 2
    per_src = 2 * 4 * h * (E + h) + H * H
    per_tgt = 4 * H * (E + H + H) + 2 * H * attended + 2 * H * H + H * V
    return 2 * 3 * (per_src * src_tgt_ratio + per_tgt)


# ------------------------------------------------------------------ metrics

def chrf(hyps, refs, N=6, beta=2.0):
    """Corpus chrF as sacreBLEU's CHRF defaults (and seq2seq/metrics.h)."""
    hyp_n, ref_n, match_n = [0] * N, [0] * N, [0] * N
    for h, ref in zip(hyps, refs):
        hs, rs = "".join(h), "".join(ref)
        for n in range(1, N + 1):
            hc, rc = {}, {}
            for i in range(len(hs) - n + 1):
                hc[hs[i:i + n]] = hc.get(hs[i:i + n], 0) + 1
            for i in range(len(rs) - n + 1):
                rc[rs[i:i + n]] = rc.get(rs[i:i + n], 0) + 1
            hyp_n[n - 1] += max(len(hs) - n + 1, 0)
            ref_n[n - 1] += max(len(rs) - n + 1, 0)
            match_n[n - 1] += sum(min(v, rc.get(g, 0)) for g, v in hc.items())
    P = R = 0.0
    k = 0
    for n in range(N):
        if hyp_n[n] > 0 and ref_n[n] > 0:
            P += match_n[n] / hyp_n[n]
            R += match_n[n] / ref_n[n]
            k += 1
    if k == 0:
        return 0.0
    P, R = P / k, R / k
    b2 = beta * beta
    return 0.0 if P + R == 0 else 100 * (1 + b2) * P * R / (b2 * P + R)


# ------------------------------------------------------------------ figures

def make_model(name, Vs, Vt, seed):
    cell, L, E, H, _ = CONFIGS[name]
    torch.manual_seed(seed)
    if name in ATTENTION:
        model = AttnSeq2Seq(E, H, Vs, Vt, ATTENTION[name])
    else:
        model = Seq2Seq(cell, L, E, H, Vs, Vt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    return model, opt


def train_step(model, opt, b):
    opt.zero_grad(set_to_none=True)
    loss = model.loss(*b)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return loss.item()


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def throughput(name, train, Vs, Vt):
    cell, L, E, H, B = CONFIGS[name]
    model, opt = make_model(name, Vs, Vt, ARGS.seed)
    model.train()
    batches = epoch_batches(train, B, ARGS.seed, 0, ARGS.batching)
    tok = src_tok = attended = 0
    t0 = time.perf_counter()
    for k in range(ARGS.warmup + ARGS.steps):
        if k == ARGS.warmup:
            t0 = time.perf_counter()
        idx = batches[k % len(batches)]
        b = train.batch(idx)
        train_step(model, opt, b)
        if k >= ARGS.warmup:
            tok += int(train.tgt_len[idx].sum())
            src_tok += int(train.src_len[idx].sum())
            attended += int((train.src_len[idx] * train.tgt_len[idx]).sum())
    secs = time.perf_counter() - t0
    if name in ATTENTION:
        fpt = flops_per_token_attn(E, H, Vt, src_tok / tok, attended / tok)
    else:
        fpt = flops_per_token(cell, L, E, H, Vt, src_tok / tok)
    emit("train_throughput", name, steps=ARGS.steps, warmup=ARGS.warmup, batching=ARGS.batching,
         tokens_per_s=round(tok / secs), seconds=round(secs, 2),
         gflops=round(tok / secs * fpt / 1e9, 1), mflop_per_token=round(fpt / 1e6, 2),
         params=sum(p.numel() for p in model.parameters()), peak_rss_mb=round(peak_rss_mb()))


def dev_loss(model, sp, B=64):
    model.eval()
    nll, n = 0.0, 0
    with torch.inference_mode():
        for i in range(0, sp.n, B):
            idx = np.arange(i, min(i + B, sp.n))
            nll += float(model.loss(*sp.batch(idx), reduction="sum"))
            n += int(sp.tgt_len[idx].sum())
    model.train()
    return nll / n


def decode_figures(name, model, test, itos_tgt, epochs):
    model.eval()
    B = ARGS.decode_batch
    hyps = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        for i in range(0, test.n, B):
            idx = np.arange(i, min(i + B, test.n))
            src, src_len = test.batch(idx)[:2]
            hyps += model.greedy(src, src_len, ARGS.max_len)
        secs = time.perf_counter() - t0
        words = [[itos_tgt[t] for t in h] for h in hyps]
        quality = {"bleu": round(bleu4(words, test.ref), 2),
                   "chrf": round(chrf(words, test.ref), 2)}
        try:  # for reference: NLTK counts >= 1 n-gram per sentence and order
            import warnings
            from nltk.translate.bleu_score import corpus_bleu
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quality["nltk_corpus_bleu"] = round(
                    100 * corpus_bleu([[r] for r in test.ref], words), 2)
        except Exception:  # noqa: BLE001 (NLTK missing or failing: leave it out)
            pass
        emit("test_quality", name, epochs=epochs, sentences=test.n, **quality)
        emit("decode_batched", name, batch=B, sentences=test.n,
             sentences_per_s=round(test.n / secs), seconds=round(secs, 2))
        n1 = min(ARGS.decode_n1, test.n)
        lat = []
        for k in range(n1):
            a = time.perf_counter()
            src, src_len = test.batch([k])[:2]
            model.greedy(src, src_len, ARGS.max_len)
            lat.append(time.perf_counter() - a)
        emit("decode_batch1", name, sentences=n1, sentences_per_s=round(n1 / sum(lat)),
             median_ms=round(1e3 * float(np.median(lat)), 3))


def selftest(name, train, dev, Vs, Vt):
    """Config A's batched/packed teacher-forced loss against the naive
    per-sentence loop (dropout off, same weights, after a few training
    steps so that they are not just the initial ones), in float64 and
    float32; then batched greedy decoding against batch 1.  Batches of dev
    sentences in file order, which mixes source and target lengths."""
    model, opt = make_model(name, Vs, Vt, ARGS.seed)
    model.train()
    for idx in epoch_batches(train, CONFIGS[name][4], ARGS.seed, 0, "random")[:5]:
        train_step(model, opt, train.batch(idx))
    model.eval()
    ok = True
    for dtype, tol in ((torch.float64, 1e-5), (torch.float32, 1e-5)):
        model.to(dtype)
        worst = 0.0
        with torch.no_grad():
            for i in (0, 64):
                idx = np.arange(i, i + 64)
                b = dev.batch(idx)
                assert b[1].min() < b[1].max() and b[4].min() < b[4].max()
                batched = float(model.loss(*b))
                nll, n = naive_attn_nll(model, *b)
                worst = max(worst, abs(batched - nll / n))
        ok &= worst <= tol
        emit("selftest", name, check="loss_batched_vs_naive", dtype=str(dtype)[6:],
             max_abs_diff=float(f"{worst:.3g}"), tolerance=tol, ok=worst <= tol)
    model.to(torch.float64)
    with torch.no_grad():
        idx = np.arange(0, 64)
        src, src_len = dev.batch(idx)[:2]
        batched = model.greedy(src, src_len, ARGS.max_len)
        single = [model.greedy(*dev.batch([k])[:2], ARGS.max_len)[0] for k in idx]
    same = sum(x == y for x, y in zip(batched, single))
    ok &= same == len(idx)
    emit("selftest", name, check="greedy_batched_vs_batch1", dtype="float64",
         sentences=len(idx), identical=same, ok=same == len(idx))
    return ok


def main():
    names = ARGS.configs.split(",")
    for n in names:
        if n not in CONFIGS:
            sys.exit(f"pytorch_reference: unknown config {n!r} ({', '.join(CONFIGS)})")
    if ARGS.selftest and names[0] not in ATTENTION:
        sys.exit(f"pytorch_reference: --selftest checks an attention config "
                 f"({', '.join(ATTENTION)}), not {names[0]!r}")
    print(f"# torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"openblas threads {BLAS_THREADS}, core {BLAS_CORE}, {BLAS_CONFIG}",
          file=sys.stderr, flush=True)
    kept, split, itos_src, itos_tgt, load_s = load_data(ARGS.data)
    stoi_src = {w: i for i, w in enumerate(itos_src)}
    stoi_tgt = {w: i for i, w in enumerate(itos_tgt)}
    emit("data", names[0], kept=len(kept), train=len(split["train"]), dev=len(split["dev"]),
         test=len(split["test"]), vocab_src=len(itos_src), vocab_tgt=len(itos_tgt),
         load_seconds=round(load_s, 3))
    train = Split(split["train"], stoi_src, stoi_tgt)
    dev = Split(split["dev"], stoi_src, stoi_tgt)
    test = Split(split["test"], stoi_src, stoi_tgt)
    Vs, Vt = len(itos_src), len(itos_tgt)

    if ARGS.selftest:
        sys.exit(0 if selftest(names[0], train, dev, Vs, Vt) else 1)
    if not ARGS.no_throughput:
        for n in names:
            throughput(n, train, Vs, Vt)

    name = names[0]
    if ARGS.load:
        model, _ = make_model(name, Vs, Vt, ARGS.seed)
        ck = torch.load(ARGS.load)
        model.load_state_dict(ck["model"])
        decode_figures(name, model, test, itos_tgt, ck.get("epochs"))
    elif ARGS.epochs > 0:
        B = CONFIGS[name][4]
        model, opt = make_model(name, Vs, Vt, ARGS.seed)
        model.train()
        for e in range(ARGS.epochs):
            t0, tok = time.perf_counter(), 0
            batches = epoch_batches(train, B, ARGS.seed, e, ARGS.batching)
            if ARGS.epoch_batches > 0:
                batches = batches[:ARGS.epoch_batches]
            for idx in batches:
                train_step(model, opt, train.batch(idx))
                tok += int(train.tgt_len[idx].sum())
            secs = time.perf_counter() - t0
            d = dev_loss(model, dev)
            emit("dev_perplexity", name, epoch=e + 1, batching=ARGS.batching,
                 dev_loss=round(d, 4), dev_perplexity=round(float(np.exp(d)), 3),
                 epoch_seconds=round(secs, 1), tokens_per_s=round(tok / secs),
                 peak_rss_mb=round(peak_rss_mb()))
            if ARGS.save:  # after every epoch, so that a cut-short run can be decoded
                torch.save({"model": model.state_dict(), "epochs": e + 1, "config": name},
                           ARGS.save)
        decode_figures(name, model, test, itos_tgt, ARGS.epochs)


if __name__ == "__main__":
    main()
