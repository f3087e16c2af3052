#!/usr/bin/python3
"""PyTorch parity for the C AWD-LSTM language model (tests/awd.t).

Reads what `build/tests/awd --dump DIR` wrote (weights, batch, initial
state, the dropout masks our RNG drew, our loss and gradients), builds
the same model from PyTorch ops in float64 -- the embedding with
padding_idx and EmbeddingDropout's row mask, RNNDropout masks shared over
time, WeightDropout on weight_hh_l0_raw, torch's own LSTM kernel
(_VF.lstm, gate order i f g o), the tied decoder with bias, cross-entropy,
AR and TAR -- and compares loss, output, new state and every gradient.
Prints TAP lines.  Usage: awd_ref.py DIR [DIR...]"""
import sys
import numpy as np
import torch
import torch.nn.functional as F
from torch import _VF

TOL = 1e-4
n = 0
bad = 0


def ok(cond, msg):
    global n, bad
    n += 1
    if not cond:
        bad += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (n, msg))


def rel(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    s = max(np.abs(b).max(), 1e-12)
    return float(np.abs(a - b).max() / s)


def check(d):
    def f32(name, shape=None):
        x = np.fromfile("%s/%s" % (d, name), dtype="<f4")
        return x.reshape(shape) if shape else x

    lines = open(d + "/cfg.txt").read().split("\n")
    V, E, H, L, B, T, pad = (int(x) for x in lines[0].split()[:7])
    alpha, beta = (float(x) for x in lines[0].split()[7:9])
    ce_c, ar_c, tar_c, loss_c = (float(x) for x in lines[1].split()[:4])
    hits_c = int(lines[1].split()[4])
    tok = torch.from_numpy(np.fromfile(d + "/tok.bin", dtype="<u4").astype(np.int64)).view(B, T)
    y = torch.from_numpy(np.fromfile(d + "/y.bin", dtype="<u4").astype(np.int64)).view(B, T)

    def hid(l):
        return E if l == L - 1 else H

    def inp(l):
        return E if l == 0 else H

    flat = f32("params.bin")
    gflat = f32("grads.bin")
    names, shapes = ["0.encoder.weight"], [(V, E)]
    for l in range(L):
        h, i = hid(l), inp(l)
        names += ["0.rnns.%d.weight_hh_l0_raw" % l, "0.rnns.%d.module.weight_ih_l0" % l,
                  "0.rnns.%d.module.bias_ih_l0" % l, "0.rnns.%d.module.bias_hh_l0" % l]
        shapes += [(4 * h, h), (4 * h, i), (4 * h,), (4 * h,)]
    names.append("1.decoder.bias")
    shapes.append((V,))
    P, G, off = {}, {}, 0
    for nm, sh in zip(names, shapes):
        k = int(np.prod(sh))
        P[nm] = torch.tensor(flat[off:off + k].reshape(sh), dtype=torch.float64, requires_grad=True)
        G[nm] = gflat[off:off + k].reshape(sh)
        off += k
    assert off == flat.size, "params.bin size"

    def m64(name, shape):
        return torch.tensor(f32(name, shape), dtype=torch.float64)

    emb_mask = m64("emb_mask.bin", (V, 1))
    in_mask = m64("in_mask.bin", (B, 1, E))
    out_mask = m64("out_mask.bin", (B, 1, E))
    W = P["0.encoder.weight"]
    # EmbeddingDropout: mask whole vocab rows, then look up with padding_idx
    x = F.embedding(tok, W * emb_mask, pad)
    x = x * in_mask                                   # input_dp
    new_h, new_c = [], []
    for l in range(L):
        h = hid(l)
        w_hh = P["0.rnns.%d.weight_hh_l0_raw" % l] * m64("w_mask_%d.bin" % l, (4 * h, h))
        h0 = m64("h0_%d.bin" % l, (1, B, h))
        c0 = m64("c0_%d.bin" % l, (1, B, h))
        params = [P["0.rnns.%d.module.weight_ih_l0" % l], w_hh,
                  P["0.rnns.%d.module.bias_ih_l0" % l], P["0.rnns.%d.module.bias_hh_l0" % l]]
        x, hn, cn = _VF.lstm(x, (h0, c0), params, True, 1, 0.0, True, False, True)
        new_h.append(hn)
        new_c.append(cn)
        if l < L - 1:
            x = x * m64("hid_mask_%d.bin" % l, (B, 1, h))   # hidden_dps[l]
    raw = x
    dropped = raw * out_mask                          # output_dp
    logits = dropped @ W.t() + P["1.decoder.bias"]
    ce = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    ar = alpha * dropped.pow(2).mean()
    # fastai skips TAR when B == 1; with T == 1 its mean over an empty
    # tensor is NaN (the loss too) -- we take TAR as 0 there
    if B > 1 and T > 1:
        tar = beta * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
    else:
        tar = torch.zeros((), dtype=torch.float64)
    loss = ce + ar + tar
    loss.backward()
    hits = int((logits.argmax(-1) == y).sum())
    tag = d.rstrip("/").split("/")[-1]
    ok(abs(ce.item() - ce_c) <= TOL * abs(ce.item()), "%s: CE %.8f == torch %.8f" % (tag, ce_c, ce.item()))
    ok(abs(loss.item() - loss_c) <= TOL * abs(loss.item()),
       "%s: loss with AR/TAR %.8f == torch %.8f (ar %.3g tar %.3g)" % (tag, loss_c, loss.item(), ar_c, tar_c))
    ok(hits == hits_c, "%s: accuracy hits %d == torch %d" % (tag, hits_c, hits))
    ok(rel(f32("out.bin", (B, T, E)), raw.detach().numpy()) < TOL, "%s: encoder output" % tag)
    se = max(max(rel(f32("h1_%d.bin" % l), new_h[l].detach().numpy()),
                 rel(f32("c1_%d.bin" % l), new_c[l].detach().numpy())) for l in range(L))
    ok(se < TOL, "%s: new hidden state (h, c of every layer) rel %.2g" % (tag, se))
    for nm in names:
        r = rel(G[nm], P[nm].grad.numpy())
        ok(r < TOL, "%s: grad %s rel %.2g" % (tag, nm, r))


for d in sys.argv[1:]:
    check(d)
print("1..%d" % n)
sys.exit(1 if bad else 0)
