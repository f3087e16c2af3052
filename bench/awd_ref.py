#!/usr/bin/python3
"""The same AWD-LSTM language-model training step in PyTorch, for
bench/awd.sh: fastai's modules written out (EmbeddingDropout, RNNDropout,
WeightDropout on weight_hh_l0_raw, tied decoder with bias, CE + AR + TAR),
one step = zero_grad + forward + backward, hidden state carried detached.
usage: awd_ref.py V E H B T steps threads
prints: torch <TAB> threads <TAB> tok/s mean <TAB> tok/s best <TAB> CE"""
import sys
import time
import torch
import torch.nn.functional as F
from torch import _VF

V, E, H, B, T, steps, threads = (int(x) for x in sys.argv[1:8])
torch.set_num_threads(threads)
torch.manual_seed(1)
# awd_lstm_lm_config, drop_mult 1
embed_p, input_p, hidden_p, weight_p, output_p = 0.02, 0.25, 0.15, 0.2, 0.1
L = 3
P = lambda *s: torch.nn.Parameter(torch.empty(*s))
emb = P(V, E)
torch.nn.init.uniform_(emb, -0.1, 0.1)
rnn = []
for l in range(L):
    i, h = (E if l == 0 else H), (E if l == L - 1 else H)
    k = h ** -0.5
    w = [P(4 * h, i), P(4 * h, h), P(4 * h), P(4 * h)]
    for t in w:
        torch.nn.init.uniform_(t, -k, k)
    rnn.append(w)
dec_b = P(V)
torch.nn.init.zeros_(dec_b)
params = [emb, dec_b] + [t for w in rnn for t in w]
state = [(torch.zeros(1, B, E if l == L - 1 else H),) * 2 for l in range(L)]


def rnn_dp(x, p):
    m = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - p) / (1 - p)
    return x * m


def step(tok, y):
    global state
    m = emb.new_empty(V, 1).bernoulli_(1 - embed_p) / (1 - embed_p)
    x = F.embedding(tok, emb * m, 1)
    x = rnn_dp(x, input_p)
    new = []
    for l, (w_ih, w_hh, b_ih, b_hh) in enumerate(rnn):
        w = F.dropout(w_hh, weight_p, training=True)
        x, h, c = _VF.lstm(x, state[l], [w_ih, w, b_ih, b_hh], True, 1, 0.0,
                           True, False, True)
        new.append((h.detach(), c.detach()))
        if l < L - 1:
            x = rnn_dp(x, hidden_p)
    state = new
    raw = x
    dropped = rnn_dp(raw, output_p)
    logits = F.linear(dropped, emb, dec_b)
    ce = F.cross_entropy(logits.view(-1, V), y.view(-1))
    loss = ce + 2 * dropped.pow(2).mean() + (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
    loss.backward()
    return ce.item()


tok = torch.randint(0, V, (B, T))
y = torch.randint(0, V, (B, T))
times = []
for s in range(steps + 1):
    t0 = time.perf_counter()
    for p in params:
        p.grad = None
    ce = step(tok, y)
    if s:
        times.append(time.perf_counter() - t0)
print("torch\t%d\t%.1f\t%.1f\t%.4f" % (threads, B * T / (sum(times) / len(times)),
                                       B * T / min(times), ce))
