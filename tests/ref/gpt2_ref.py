#!/usr/bin/python3
"""gpt2_ref.py: GPT-2's maths in plain torch.nn (Hugging Face's key names
and Conv1D weight layout), for tests/gpt2.t.

usage: gpt2_ref.py DIR            write a tiny random GPT-2 folder:
         config.json, vocab.json + merges.txt (a small byte-level BPE),
         model.safetensors (written by hand: the safetensors package is
         not in Debian) and bin/pytorch_model.bin (torch.save of
         GPT2LMHeadModel's state dict: "transformer." keys, lm_head tied,
         attn.bias masks) with bin/config.json + tokenizer beside it, and
         the same in torch's legacy (pre-1.6) format in legacy/
       gpt2_ref.py bench P N THREADS   tokens/s generating N greedy
         tokens after P with GPT-2 124M shapes, random weights, a KV
         cache (bench/gpt2.sh)
       gpt2_ref.py DIR IDS N      reference for the prompt ids in file
         IDS: DIR/ref.logits (T x V float32, every prompt position) and
         DIR/ref.greedy (N greedy ids, each step recomputing the whole
         sequence: no cache), computed in float64
"""
import json
import math
import os
import struct
import sys

import torch
from torch import nn

CFG = dict(vocab_size=0, n_positions=96, n_embd=48, n_layer=3, n_head=4,
           n_inner=None, layer_norm_epsilon=1e-5,
           activation_function="gelu_new", model_type="gpt2")


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) +
          list(range(ord("¡"), ord("¬") + 1)) +
          list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


MERGES = ["Ġ t", "h e", "Ġt he", "Ġ a", "i n", "e r", "Ġ w", "o n",
          "r e", "Ġ g", "Ġg re", "a t", "Ġgre at", "o w", "p ow", "Ġ p",
          "Ġp ow", "Ġpow er"]


def tokenizer():
    b2u = bytes_to_unicode()
    vocab = [b2u[b] for b in range(256)]
    for m in MERGES:
        a, b = m.split()
        vocab.append(a + b)
    vocab.append("<|endoftext|>")
    return {t: i for i, t in enumerate(vocab)}


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                       (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):        # Hugging Face's: weight (in, out)
    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.empty(nf))

    def forward(self, x):       # as transformers' Conv1D: addmm on 2-D
        shape = x.shape[:-1] + (self.weight.shape[1],)
        x = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return x.view(shape)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["n_embd"]
        self.nh = c["n_head"]
        self.c_attn = Conv1D(3 * C, C)
        self.c_proj = Conv1D(C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.nh
        q, k, v = (t.view(B, T, self.nh, hs).transpose(1, 2)
                   for t in (q, k, v))
        w = q @ k.transpose(-1, -2) / math.sqrt(hs)
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        w = w.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (w @ v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["n_embd"]
        inner = c["n_inner"] or 4 * C
        self.c_fc = Conv1D(inner, C)
        self.c_proj = Conv1D(C, inner)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["n_embd"]
        eps = c["layer_norm_epsilon"]
        self.ln_1 = nn.LayerNorm(C, eps=eps)
        self.attn = Attention(c)
        self.ln_2 = nn.LayerNorm(C, eps=eps)
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["n_positions"], c["n_embd"])
        self.h = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])

    def forward(self, ids):
        pos = torch.arange(ids.shape[1])
        x = self.wte(ids) + self.wpe(pos)
        for b in self.h:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.t()     # tied LM head


def write_safetensors(path, tensors):
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dt = {torch.float32: "F32", torch.bool: "BOOL"}[t.dtype]
        b = t.numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load(d):
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    m = GPT2(c)
    sd = torch.load(os.path.join(d, "bin", "pytorch_model.bin"))
    sd = {k[len("transformer."):]: v for k, v in sd.items()
          if k.startswith("transformer.") and not k.endswith(".attn.bias")}
    m.load_state_dict(sd)
    return m.eval()


def cached_step(m, ids, past):
    """ids (1, T) at positions len(past)..: logits of the last, new past"""
    P = past[0][0].shape[2] if past else 0
    T = ids.shape[1]
    x = m.wte(ids) + m.wpe(torch.arange(P, P + T))
    new = []
    for i, b in enumerate(m.h):
        a = b.attn
        h = b.ln_1(x)
        C = h.shape[-1]
        q, k, v = a.c_attn(h).split(C, dim=2)
        hs = C // a.nh
        q, k, v = (t.view(1, T, a.nh, hs).transpose(1, 2) for t in (q, k, v))
        if past:
            k = torch.cat([past[i][0], k], 2)
            v = torch.cat([past[i][1], v], 2)
        new.append((k, v))
        w = q @ k.transpose(-1, -2) / math.sqrt(hs)
        if T > 1:
            mask = torch.tril(torch.ones(T, P + T, dtype=torch.bool), P)
            w = w.masked_fill(~mask, float("-inf"))
        y = (w.softmax(-1) @ v).transpose(1, 2).reshape(1, T, C)
        x = x + a.c_proj(y)
        x = x + b.mlp(b.ln_2(x))
    return m.ln_f(x[:, -1]) @ m.wte.weight.t(), new


def bench(P, N, thr):
    import time
    torch.set_num_threads(thr)
    c = dict(CFG, vocab_size=50257, n_positions=1024, n_embd=768,
             n_layer=12, n_head=12)
    torch.manual_seed(1)
    m = GPT2(c).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.02)
        ids = torch.tensor([[(i * 7919) % 50257 for i in range(P)]])
        lg, past = cached_step(m, ids, None)
        for i in range(N):
            if i == 1:
                t0 = time.perf_counter()
            nxt = lg.argmax(-1).view(1, 1)
            lg, past = cached_step(m, nxt, past)
        dt = (time.perf_counter() - t0) / (N - 1)
    print("%.2f" % (1 / dt))


def main():
    if sys.argv[1] == "bench":
        return bench(*map(int, sys.argv[2:5]))
    d = sys.argv[1]
    if len(sys.argv) == 2:
        os.makedirs(os.path.join(d, "bin"), exist_ok=True)
        enc = tokenizer()
        c = dict(CFG, vocab_size=len(enc))
        torch.manual_seed(1234)
        m = GPT2(c)
        with torch.no_grad():
            for n, p in m.named_parameters():
                if n.endswith("ln_1.weight") or n.endswith("ln_2.weight") \
                        or n == "ln_f.weight":
                    p.copy_(1 + 0.1 * torch.randn_like(p))
                else:
                    p.normal_(0, 0.2 if "w" in n.split(".")[-2][:2] else 0.1)
        ctx = c["n_positions"]
        mask = torch.tril(torch.ones(ctx, ctx, dtype=torch.bool))
        mask = mask.view(1, 1, ctx, ctx)
        st = {}
        for k, v in m.state_dict().items():
            st[k] = v
            if k.endswith("ln_1.weight"):       # HF's causal mask buffer
                st[k.replace("ln_1.weight", "attn.bias")] = mask
        write_safetensors(os.path.join(d, "model.safetensors"), st)
        sd = {"transformer." + k: v for k, v in st.items()}
        sd["lm_head.weight"] = m.wte.weight      # tied: one storage
        torch.save(sd, os.path.join(d, "bin", "pytorch_model.bin"))
        # the pre-1.6 format, as the 2019 uploads of GPT-2 on the Hub
        os.makedirs(os.path.join(d, "legacy"), exist_ok=True)
        torch.save(sd, os.path.join(d, "legacy", "pytorch_model.bin"),
                   _use_new_zipfile_serialization=False)
        for sub in (d, os.path.join(d, "bin"), os.path.join(d, "legacy")):
            with open(os.path.join(sub, "config.json"), "w") as f:
                json.dump(c, f, indent=2)
            with open(os.path.join(sub, "vocab.json"), "w") as f:
                json.dump(enc, f, ensure_ascii=False)
            with open(os.path.join(sub, "merges.txt"), "w") as f:
                f.write("#version: 0.2\n" + "\n".join(MERGES) + "\n")
        return
    m = load(d).double()        # float64: the exact answer to compare with
    with open(sys.argv[2]) as f:
        ids = [int(x) for x in f.read().split()]
    n = int(sys.argv[3])
    with torch.no_grad():
        x = torch.tensor([ids])
        lg = m(x)[0]
        with open(os.path.join(d, "ref.logits"), "wb") as f:
            f.write(lg.float().contiguous().numpy().astype("<f4").tobytes())
        out = []
        for _ in range(n):
            nxt = int(m(x)[0, -1].argmax())
            out.append(nxt)
            x = torch.cat([x, torch.tensor([[nxt]])], 1)
    with open(os.path.join(d, "ref.greedy"), "w") as f:
        f.write(" ".join(map(str, out)) + "\n")


if __name__ == "__main__":
    main()
