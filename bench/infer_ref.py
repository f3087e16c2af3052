#!/usr/bin/python3
"""infer_ref.py make DIR V E H | predict DIR [THREADS] | whole N CMD... |
resident N TEXTFILE CMD...: bench/infer_latency.sh.

make: a text classifier with random weights in fastai's layout (a plain
state dict, as learn.save(with_opt=False) writes it: 0.module.* encoder,
1.layers.* head, 2 classes, lin_ftrs 50) at vocab V, emb E, hidden H, 3
layers; DIR/clas.pth, DIR/vocab (xxunk ... xxmaj, then w0 w1 ...) and
DIR/review (one short review of vocab words, 40 words).

predict: PyTorch 1.13 as a user would run it for one review: import torch,
torch.load the file, build the model, predict.  Prints, tab-separated, the
ms from process start to torch imported, the load+build ms, the predict ms
of a fresh model (first call) and of a warm one (mean of 5: the model
already loaded, its best case), then the probabilities.

whole: runs CMD N times (stdout discarded) and prints the median wall ms
and the median CPU ms (user + system, from wait4) of the whole process.

resident: starts CMD once and writes the first line of TEXTFILE to its
stdin N + 1 times, each time waiting for its output line; prints the ms of
the first answer (includes the load) and the median of the other N.
"""
import sys
import time

T0 = time.time()
if sys.argv[1] in ('make', 'predict'):
    import torch                                # noqa: E402
    import torch.nn as nn                       # noqa: E402
    import torch.nn.functional as F             # noqa: E402
    Module = nn.Module
else:
    Module = object
T_IMPORT = time.time()
SPECIALS = ['xxunk', 'xxpad', 'xxbos', 'xxeos', 'xxfld', 'xxrep', 'xxwrep',
            'xxup', 'xxmaj']
L, NH, NC = 3, 50, 2


def make(d, V, E, H):
    torch.manual_seed(1)
    sd = {}
    sd['0.module.encoder.weight'] = torch.empty(V, E).uniform_(-0.1, 0.1)
    sd['0.module.encoder_dp.emb.weight'] = sd['0.module.encoder.weight']
    for l in range(L):
        i = E if l == 0 else H
        o = E if l == L - 1 else H
        k = o ** -0.5
        p = '0.module.rnns.%d.' % l
        sd[p + 'weight_hh_l0_raw'] = torch.empty(4 * o, o).uniform_(-k, k)
        sd[p + 'module.weight_ih_l0'] = torch.empty(4 * o, i).uniform_(-k, k)
        sd[p + 'module.bias_ih_l0'] = torch.empty(4 * o).uniform_(-k, k)
        sd[p + 'module.bias_hh_l0'] = torch.empty(4 * o).uniform_(-k, k)
    for j, (n, m) in enumerate(((3 * E, NH), (NH, NC))):
        p = '1.layers.%d.' % j
        sd[p + '0.weight'] = torch.ones(n)
        sd[p + '0.bias'] = torch.full((n,), 1e-3)
        sd[p + '0.running_mean'] = torch.zeros(n)
        sd[p + '0.running_var'] = torch.ones(n)
        sd[p + '0.num_batches_tracked'] = torch.tensor(0)
        sd[p + '2.weight'] = torch.empty(m, n).uniform_(-n ** -0.5, n ** -0.5)
    torch.save(sd, d + '/clas.pth')
    with open(d + '/vocab', 'w') as f:
        f.write(''.join(t + '\n' for t in SPECIALS))
        f.write(''.join('w%d\n' % i for i in range(V - len(SPECIALS))))
    import random
    random.seed(1)
    with open(d + '/review', 'w') as f:
        f.write(' '.join('w%d' % random.randint(0, 2000) for _ in range(40))
                + '\n')


class Clas(Module):
    def __init__(self, sd):
        super().__init__()
        V, E = sd['0.module.encoder.weight'].shape
        self.emb = nn.Embedding(V, E, padding_idx=1)
        self.emb.weight.data = sd['0.module.encoder.weight']
        self.rnns = nn.ModuleList()
        for l in range(L):
            p = '0.module.rnns.%d.' % l
            w = sd[p + 'weight_hh_l0_raw']
            r = nn.LSTM(sd[p + 'module.weight_ih_l0'].shape[1], w.shape[1],
                        batch_first=True)
            r.weight_hh_l0.data = w
            r.weight_ih_l0.data = sd[p + 'module.weight_ih_l0']
            r.bias_ih_l0.data = sd[p + 'module.bias_ih_l0']
            r.bias_hh_l0.data = sd[p + 'module.bias_hh_l0']
            self.rnns.append(r)
        self.bn, self.lin = nn.ModuleList(), nn.ModuleList()
        for j in range(2):
            p = '1.layers.%d.' % j
            w = sd[p + '2.weight']
            bn = nn.BatchNorm1d(w.shape[1])
            bn.load_state_dict({k[len(p) + 2:]: v for k, v in sd.items()
                                if k.startswith(p + '0.')})
            lin = nn.Linear(w.shape[1], w.shape[0], bias=False)
            lin.weight.data = w
            self.bn.append(bn)
            self.lin.append(lin)
        self.eval()

    def forward(self, x):       # one document, shorter than bptt
        out = self.emb(x)
        for r in self.rnns:
            out, _ = r(out)
        z = torch.cat([out[:, -1], out.max(1)[0], out.mean(1)], 1)
        z = self.lin[0](self.bn[0](z)).relu()
        return F.softmax(self.lin[1](self.bn[1](z)), -1)


def predict(d, threads):
    torch.set_num_threads(threads)
    t0 = time.time()
    sd = torch.load(d + '/clas.pth')
    itos = open(d + '/vocab').read().split('\n')
    stoi = {w: i for i, w in enumerate(itos)}
    m = Clas(sd)
    t1 = time.time()
    words = open(d + '/review').read().split()
    with torch.no_grad():
        x = torch.tensor([[2] + [stoi.get(w, 0) for w in words]])
        p = m(x)
        t2 = time.time()
        for _ in range(5):
            m(x)
        t3 = time.time()
    print('%.0f\t%.0f\t%.1f\t%.1f\t%s' % (
        (T_IMPORT - T0) * 1000, (t1 - t0) * 1000, (t2 - t1) * 1000,
        (t3 - t2) / 5 * 1000, ' '.join('%.6f' % v for v in p[0].tolist())))


def whole(n, cmd):
    import os
    import subprocess
    walls, cpus = [], []
    for _ in range(n):
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, st, ru = os.wait4(p.pid, 0)
        walls.append((time.time() - t0) * 1000)
        cpus.append((ru.ru_utime + ru.ru_stime) * 1000)
        if st:
            sys.exit('infer_ref.py: %s failed' % cmd[0])
    print('%.0f\t%.0f' % (sorted(walls)[n // 2], sorted(cpus)[n // 2]))


def resident(n, text, cmd):
    import subprocess
    line = (open(text).readline().rstrip('\n') + '\n').encode()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ts = []
    for _ in range(n + 1):
        t0 = time.time()
        p.stdin.write(line)
        p.stdin.flush()
        if not p.stdout.readline():
            sys.exit('infer_ref.py: %s gave no answer' % cmd[0])
        ts.append((time.time() - t0) * 1000)
    p.stdin.close()
    p.wait()
    print('%.0f\t%.1f' % (ts[0], sorted(ts[1:])[n // 2]))


if sys.argv[1] == 'whole':
    whole(int(sys.argv[2]), sys.argv[3:])
elif sys.argv[1] == 'resident':
    resident(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
elif sys.argv[1] == 'make':
    make(sys.argv[2], *(int(a) for a in sys.argv[3:6]))
else:
    predict(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2)
