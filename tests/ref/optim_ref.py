"""Plain-torch reference for tests/unit/optim.c (run with /usr/bin/python3).

    optim_ref.py OUTDIR

Writes OUTDIR/adam.bin: p, m, v (float32, in that order) for an array
with weight decay and one without, after three fastai Adam steps done with
torch tensor ops in fastai's order (weight_decay, average_grad with
dampening, average_sqr_grad, step_stat, adam_step); and OUTDIR/sched.txt:
lr of two groups and mom for every batch of fit_one_cycle(2 epochs, 37
batches, lr_max=[1e-3, 1e-2], pct_start=0.3), computed as fastai does
(combine_scheds with a float32 cumsum of the phase lengths, SchedCos,
pct_train += 1/(n_iter*n_epoch) after each batch).
"""
import math
import os
import sys

import torch


def fill(k, i):
    u = (i * 2654435761 + k * 40503) & 0xFFFFFFFF
    m = (u & 0xFFFFFF) - 0x800000
    return m * 2.0 ** (-20 + (u >> 29))


N = 1000
STEPS = [(1e-2, 0.8), (3e-3, 0.75), (7e-4, 0.7)]


def adam(do_wd, wd=0.1, sqr_mom=0.99, eps=1e-5):
    p = torch.tensor([fill(0, i) for i in range(N)], dtype=torch.float32)
    g = torch.tensor([fill(1, i) / 1024 for i in range(N)], dtype=torch.float32)
    m = torch.zeros(N)
    v = torch.zeros(N)
    for step, (lr, mom) in enumerate(STEPS, 1):
        if do_wd and wd != 0:
            p.mul_(1 - lr * wd)
        m.mul_(mom).add_(g, alpha=1 - mom)
        v.mul_(sqr_mom).addcmul_(g, g, value=1 - sqr_mom)
        debias1 = (1 - mom) * (1 - mom ** step) / (1 - mom)
        debias2 = (1 - sqr_mom) * (1 - sqr_mom ** step) / (1 - sqr_mom)
        p.addcdiv_(m, (v / debias2).sqrt() + eps, value=-lr / debias1)
    return p.numpy().tobytes() + m.numpy().tobytes() + v.numpy().tobytes()


def cos_anneal(start, end, pos):
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def combined(pct, start, middle, end):
    pcts = torch.cumsum(torch.tensor([0, pct, 1 - pct]), 0)  # float32

    def inner(pos):
        idx = min(int((pos >= pcts).nonzero().max()), len(pcts) - 2)
        t = (pos - pcts[idx]) / (pcts[idx + 1] - pcts[idx])
        a, b = [(start, middle), (middle, end)][idx]
        return cos_anneal(a, b, t.item())
    return inner


def sched(out):
    n_epoch, n_iter, pct = 2, 37, 0.3
    lrs = [1e-3, 1e-2]
    f = [combined(pct, lr / 25, lr, lr / 1e5) for lr in lrs]
    fm = combined(pct, 0.8, 0.7, 0.8)
    for epoch in range(n_epoch):
        pos = epoch / n_epoch
        for b in range(n_iter):
            out.write('%r %r %r\n' % (f[0](pos), f[1](pos), fm(pos)))
            pos += 1. / (n_iter * n_epoch)


if __name__ == '__main__':
    d = sys.argv[1]
    with open(os.path.join(d, 'adam.bin'), 'wb') as o:
        o.write(adam(True) + adam(False))
    with open(os.path.join(d, 'sched.txt'), 'w') as o:
        sched(o)
