#!/usr/bin/python3
"""clas_ref.py fix OUT | files DIR | train DIR | bench DIR N [THREADS]:
PyTorch references for the classifier.

fix OUT:

Builds fastai's text classifier for a tiny config in plain PyTorch (the
modules written out as fastai defines them: AWD_LSTM with its dropouts at
0, SentenceEncoder with real_bs/max_len/detach per chunk, masked_concat_pool,
PoolingLinearClassifier of LinBnDrop layers), runs two fixed batches in eval
and train mode, and writes inputs and results to OUT for tests/unit/clas.c.

OUT format: records of u32 name_len, name, u32 dtype (0 f32, 1 u32),
u32 ndim, u32 dims[ndim], little-endian data; until EOF.

files DIR: for tests/infer.t, files as fastai would write them: DIR/vocab,
DIR/clas.pth (torch.save of a random 3-class classifier's state dict,
fastai's key names, full size rules: bptt 72, max_len 1440, lin_ftrs 50),
DIR/enc.pth (its encoder, as save_encoder writes it), DIR/lm.pth (a
random LM on the same encoder, tied decoder), DIR/texts (one text a line) and
the answers PyTorch gives: DIR/want_probs (one line of probabilities per
text, learn.predict) and DIR/want_gen (greedy continuation of the first
text, 12 words, no_unk).

train DIR: fastai's training loop by hand on a fastai-layout file: writes
DIR/vocab, DIR/start.pth (a 2-class classifier), DIR/data.tok (4 training
documents of distinct lengths > 72, so one batch of 4 in a known order and
two chunks each; 2 valid), and DIR/want.pth: the state dict after
freeze_to(-2); fit_one_cycle(3, slice(1e-3, 1e-2), wd=0.1) with every
dropout 0, AR 2 / TAR 1, clip 0.5 per group, fastai's Adam.  That is
clastrain -c start.pth --freeze-to -2 -l 1e-3:1e-2 -n 3 -b 4 --wd 0.1
--clip 0.5 --drop-mult 0 --ps 0.
"""
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

MODE = sys.argv[1]
if MODE == 'bench':
    V, E, H, L, NC, NH, BPTT, MAXLEN, PAD = 60008, 400, 1152, 3, 2, 50, 72, 1440, 1
elif MODE == 'files':
    V, E, H, L, NC, NH, BPTT, MAXLEN, PAD = 24, 8, 12, 3, 3, 50, 72, 1440, 1
elif MODE == 'train':
    V, E, H, L, NC, NH, BPTT, MAXLEN, PAD = 24, 8, 12, 3, 2, 50, 72, 1440, 1
else:
    V, E, H, L, NC, NH, BPTT, MAXLEN, PAD = 40, 6, 10, 3, 3, 5, 4, 8, 1
ALPHA, BETA = 2.0, 1.0
torch.manual_seed(1234)
rec = []


def put(name, t):
    t = t.detach().clone().contiguous()
    if t.dtype == torch.float32:
        rec.append((name, 0, t))
    else:
        rec.append((name, 1, t.to(torch.int64)))


def lay_out(l):
    return E if l == L - 1 else H


def lay_in(l):
    return E if l == 0 else H


class AWD(nn.Module):
    """fastai AWD_LSTM with every dropout p = 0 (identities)."""
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(V, E, padding_idx=PAD)
        self.encoder.weight.data.uniform_(-0.1, 0.1)
        self.rnns = nn.ModuleList(
            [nn.LSTM(lay_in(l), lay_out(l), 1, batch_first=True)
             for l in range(L)])
        for l, r in enumerate(self.rnns):
            k = 1 / lay_out(l) ** 0.5
            for p in r.parameters():
                p.data.uniform_(-k, k)
        self.bs = 1
        self.reset()

    def reset(self):
        self.hidden = [(torch.zeros(1, self.bs, lay_out(l)),
                        torch.zeros(1, self.bs, lay_out(l)))
                       for l in range(L)]

    def _change_hidden(self, bs):
        new = []
        for l, (h, c) in enumerate(self.hidden):
            if bs < self.bs:
                h, c = h[:, :bs], c[:, :bs]
            else:
                z = torch.zeros(1, bs - self.bs, lay_out(l))
                h, c = torch.cat([h, z], 1), torch.cat([c, z], 1)
            new.append((h.contiguous(), c.contiguous()))
        self.hidden = new
        self.bs = bs

    def forward(self, inp):
        bs = inp.shape[0]
        if bs != self.bs:
            self._change_hidden(bs)
        out = self.encoder(inp)
        new_hidden = []
        for l, rnn in enumerate(self.rnns):
            out, nh = rnn(out, self.hidden[l])
            new_hidden.append(nh)
        self.hidden = [(h.detach(), c.detach()) for h, c in new_hidden]
        return out


def pad_tensor(t, bs):
    if t.size(0) < bs:
        return torch.cat([t, t.new_zeros(bs - t.size(0), *t.shape[1:])])
    return t


def sentence_encoder(m, x):
    bs, sl = x.shape
    m.reset()
    mask = x == PAD
    outs, masks = [], []
    for i in range(0, sl, BPTT):
        real_bs = int((x[:, i] != PAD).long().sum())
        o = m(x[:real_bs, i:min(i + BPTT, sl)])
        if sl - i <= MAXLEN:
            outs.append(o)
            masks.append(mask[:, i:min(i + BPTT, sl)])
    return torch.cat([pad_tensor(o, bs) for o in outs], 1), torch.cat(masks, 1)


def masked_concat_pool(output, mask, bptt):
    lens = output.shape[1] - mask.long().sum(dim=1)
    last_lens = mask[:, -bptt:].long().sum(dim=1)
    avg_pool = output.masked_fill(mask[:, :, None], 0).sum(dim=1)
    avg_pool.div_(lens.type(avg_pool.dtype)[:, None])
    max_pool = output.masked_fill(mask[:, :, None], -float('inf')).max(dim=1)[0]
    return torch.cat([output[torch.arange(0, output.size(0)), -last_lens - 1],
                      max_pool, avg_pool], 1)


awd = AWD()
bn0, lin0 = nn.BatchNorm1d(3 * E), nn.Linear(3 * E, NH, bias=False)
bn1, lin1 = nn.BatchNorm1d(NH), nn.Linear(NH, NC, bias=False)
# random BN state so the test sees every term (init is checked in C)
for bn in (bn0, bn1):
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-0.2, 0.2)
    bn.running_mean.uniform_(-0.1, 0.1)
    bn.running_var.uniform_(0.5, 2.0)
head = [bn0, lin0, bn1, lin1]

named = [('encoder.weight', awd.encoder.weight)]
for l, r in enumerate(awd.rnns):
    named += [('rnns.%d.weight_hh_l0_raw' % l, r.weight_hh_l0),
              ('rnns.%d.module.weight_ih_l0' % l, r.weight_ih_l0),
              ('rnns.%d.module.bias_ih_l0' % l, r.bias_ih_l0),
              ('rnns.%d.module.bias_hh_l0' % l, r.bias_hh_l0)]
named += [('bn0.weight', bn0.weight), ('bn0.bias', bn0.bias),
          ('lin0.weight', lin0.weight), ('bn1.weight', bn1.weight),
          ('bn1.bias', bn1.bias), ('lin1.weight', lin1.weight)]
for n, p in named:
    put('p.' + n, p)
bn_init = [(bn.running_mean.clone(), bn.running_var.clone())
           for bn in (bn0, bn1)]
for i, bn in enumerate((bn0, bn1)):
    put('p.bn%d.running_mean' % i, bn.running_mean)
    put('p.bn%d.running_var' % i, bn.running_var)


def pad_chunk(t, M):
    l = M - len(t)
    return [PAD] * (l // BPTT * BPTT) + t + [PAD] * (l % BPTT)


def batch(tag, lens, labels, reg):
    for bn, (m, v) in zip((bn0, bn1), bn_init):   # each batch from the same
        bn.running_mean.copy_(m)                  # parameters
        bn.running_var.copy_(v)
    M = max(lens)
    docs = [torch.randint(2, V, (n,)).tolist() for n in lens]
    for d in docs:               # token 0 (xxunk) appears too
        d[len(d) // 2] = 0
    x = torch.tensor([pad_chunk(d, M) for d in docs])
    y = torch.tensor(labels)
    put(tag + '.x', x)
    put(tag + '.len', torch.tensor(lens))
    put(tag + '.y', y)

    def run(train):
        for mod in head:
            mod.train(train)
        out, mask = sentence_encoder(awd, x)
        z = masked_concat_pool(out, mask, BPTT)
        z = lin0(bn0(z)).relu()
        return lin1(bn1(z)), out

    with torch.no_grad():
        logits, _ = run(False)
    put(tag + '.eval.logits', logits)
    put(tag + '.eval.loss', F.cross_entropy(logits, y).reshape(1))
    for _, p in named:
        p.grad = None
    logits, out = run(True)
    ce = F.cross_entropy(logits, y)
    loss = ce
    if reg:
        loss = loss + ALPHA * out.float().pow(2).mean()
        if out.shape[0] > 1:
            loss = loss + BETA * (out[:, 1:] - out[:, :-1]).float().pow(2).mean()
    loss.backward()
    put(tag + '.train.logits', logits)
    put(tag + '.train.loss', ce.reshape(1))
    for n, p in named:
        put(tag + '.g.' + n, p.grad)
    for i, bn in enumerate((bn0, bn1)):
        put(tag + '.bn%d.running_mean' % i, bn.running_mean)
        put(tag + '.bn%d.running_var' % i, bn.running_var)



def files(d):
    words = ['the', 'movie', 'was', 'good', 'bad', 'great', 'awful', 'i',
             'liked', 'it', 'hated', 'plot', 'film', 'a']
    itos = ['xxunk', 'xxpad', 'xxbos', 'xxeos', 'xxfld', 'xxrep', 'xxwrep',
            'xxup', 'xxmaj'] + words + ['xxfake']
    assert len(itos) == V
    with open(d + '/vocab', 'w') as f:
        f.write(''.join(t + '\n' for t in itos))
    texts = ['i liked the movie', 'the plot was awful',
             'a great film , great plot',
             ' '.join(['the movie was good and the plot was bad'] * 12)]
    with open(d + '/texts', 'w') as f:
        f.write(''.join(t + '\n' for t in texts))
    with torch.no_grad():     # livelier than the init, so texts differ
        awd.encoder.weight.mul_(10)
        lin1.weight.mul_(20)
    model = {}
    model['0.module.encoder.weight'] = awd.encoder.weight.detach().clone()
    model['0.module.encoder_dp.emb.weight'] = model['0.module.encoder.weight']
    for l, r in enumerate(awd.rnns):
        pre = '0.module.rnns.%d.' % l
        model[pre + 'weight_hh_l0_raw'] = r.weight_hh_l0.detach().clone()
        model[pre + 'module.weight_ih_l0'] = r.weight_ih_l0.detach().clone()
        model[pre + 'module.bias_ih_l0'] = r.bias_ih_l0.detach().clone()
        model[pre + 'module.bias_hh_l0'] = r.bias_hh_l0.detach().clone()
    for i, (bn, lin) in enumerate(((bn0, lin0), (bn1, lin1))):
        pre = '1.layers.%d.' % i
        for k, v in bn.state_dict().items():
            model[pre + '0.' + k] = v.clone()
        model[pre + '2.weight'] = lin.weight.detach().clone()
    torch.save(model, d + '/clas.pth')
    enc = {k[len('0.module.'):]: v for k, v in model.items()
           if k.startswith('0.module.')}
    torch.save(enc, d + '/enc.pth')      # learn.save_encoder: 14 keys

    def ids(t):
        return [2] + [itos.index(w) if w in itos[:-1] else 0
                      for w in t.split()]

    for mod in head:
        mod.eval()
    with open(d + '/want_probs', 'w') as f:
        for t in texts:
            x = torch.tensor([ids(t)])
            with torch.no_grad():
                out, mask = sentence_encoder(awd, x)
                z = masked_concat_pool(out, mask, BPTT)
                z = lin0(bn0(z)).relu()
                p = F.softmax(lin1(bn1(z)), -1)[0]
            f.write(' '.join('%.6f' % v for v in p.tolist()) + '\n')

    # an LM on the same encoder: tied decoder, specials never chosen
    bias = torch.empty(V).uniform_(-0.1, 0.1)
    bias[:9] = -100.0
    bias[V - 1] = -100.0
    lm = {}
    for k, v in model.items():
        if k.startswith('0.module.'):
            lm['0.' + k[len('0.module.'):]] = v
    lm['1.decoder.weight'] = lm['0.encoder.weight']
    lm['1.decoder.bias'] = bias
    torch.save({'model': lm}, d + '/lm.pth')
    seq = ids(texts[0])
    for _ in range(12):
        with torch.no_grad():
            awd.reset()
            h = awd(torch.tensor([seq]))[0, -1]
            p = F.softmax(h @ awd.encoder.weight.t() + bias, -1)
        p[0] = 0
        seq.append(int(p.argmax()))
    with open(d + '/want_gen', 'w') as f:
        f.write(' '.join(itos[i] for i in seq[1:]) + '\n')


def bench(d, ndoc):
    """Full-size files for bench/clas.sh (first run) and PyTorch's figures
    on the same model, dropout off (an upper bound for torch's speed):
    one training step of 32 documents (unfrozen, Adam), predict of one
    review, eval of 64 documents.  Prints train docs/s, predict ms, eval
    docs/s, tab-separated."""
    import random
    torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    random.seed(1)
    if os.path.exists(d + '/enc.pth'):          # later runs: timings only
        docs = []
        for line in open(d + '/docs.tok'):
            docs.append([2] + [int(w[1:]) + 9 for w in
                               line.split('\t')[2].split()[1:]])
        return timings(docs)
    itos = ['xxunk', 'xxpad', 'xxbos', 'xxeos', 'xxfld', 'xxrep', 'xxwrep',
            'xxup', 'xxmaj'] + ['w%d' % i for i in range(V - 9)]
    with open(d + '/vocab', 'w') as f:
        f.write(''.join(t + '\n' for t in itos))
    enc = {'encoder.weight': awd.encoder.weight.detach()}
    enc['encoder_dp.emb.weight'] = enc['encoder.weight']
    for l, r in enumerate(awd.rnns):
        enc['rnns.%d.weight_hh_l0_raw' % l] = r.weight_hh_l0.detach()
        enc['rnns.%d.module.weight_ih_l0' % l] = r.weight_ih_l0.detach()
        enc['rnns.%d.module.bias_ih_l0' % l] = r.bias_ih_l0.detach()
        enc['rnns.%d.module.bias_hh_l0' % l] = r.bias_hh_l0.detach()
    torch.save(enc, d + '/enc.pth')
    docs = []
    with open(d + '/docs.tok', 'w') as f:
        for i in range(ndoc):
            n = random.randint(100, 500)   # IMDB reviews: ~270 tokens
            ids = [random.randint(9, 2000) for _ in range(n)]
            docs.append([2] + ids)
            f.write('%s\t%s\txxbos %s\n' % ('train' if i % 10 else 'valid',
                    'pos' if i % 2 else 'neg', ' '.join(itos[j] for j in ids)))
    return None


def timings(docs):
    import time
    params = [p for _, p in named]
    opt = torch.optim.Adam(params, lr=1e-4, eps=1e-5, betas=(0.9, 0.99))

    def batch(ds):
        M = max(len(x) for x in ds)
        ds = sorted(ds, key=len, reverse=True)
        return torch.tensor([pad_chunk(x, M) for x in ds])

    def fwd(x):
        out, mask = sentence_encoder(awd, x)
        z = masked_concat_pool(out, mask, BPTT)
        return lin1(bn1(lin0(bn0(z)).relu()))

    bs = 32
    for mod in head:
        mod.train()
    y = torch.tensor([i % 2 for i in range(bs)])
    t0 = time.time()
    loss = F.cross_entropy(fwd(batch(docs[:bs])), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    tt = time.time() - t0
    for mod in head:
        mod.eval()
    with torch.no_grad():
        x = batch(docs[:1])
        t0 = time.time()
        for _ in range(3):
            fwd(x)
        t1 = (time.time() - t0) / 3
        t0 = time.time()
        for b in range(2):
            fwd(batch(docs[b * bs:(b + 1) * bs]))
        te = time.time() - t0
    print('%.3f\t%.0f\t%.2f' % (bs / tt, t1 * 1000, 2 * bs / te))


def train(d):
    import math
    words = ['the', 'movie', 'was', 'good', 'bad', 'great', 'awful', 'i',
             'liked', 'it', 'hated', 'plot', 'film', 'a']
    itos = ['xxunk', 'xxpad', 'xxbos', 'xxeos', 'xxfld', 'xxrep', 'xxwrep',
            'xxup', 'xxmaj'] + words + ['xxfake']
    with open(d + '/vocab', 'w') as f:
        f.write(''.join(t + '\n' for t in itos))
    g = torch.Generator().manual_seed(5)
    lens, labels, splits = [77, 100, 85, 93, 40, 20], [0, 1, 1, 0, 1, 0], \
        ['train'] * 4 + ['valid'] * 2
    docs = [[2] + torch.randint(9, 23, (n - 1,), generator=g).tolist()
            for n in lens]
    with open(d + '/data.tok', 'w') as f:
        for s_, y_, x_ in zip(splits, labels, docs):
            f.write('%s\t%s\t%s\n' % (s_, ['neg', 'pos'][y_],
                                        ' '.join(itos[i] for i in x_)))
    with torch.no_grad():
        awd.encoder.weight.mul_(5)
    model = {'0.module.encoder.weight': awd.encoder.weight}
    model['0.module.encoder_dp.emb.weight'] = awd.encoder.weight
    groups = [[awd.encoder.weight]]
    for l, r in enumerate(awd.rnns):
        pre = '0.module.rnns.%d.' % l
        model[pre + 'weight_hh_l0_raw'] = r.weight_hh_l0
        model[pre + 'module.weight_ih_l0'] = r.weight_ih_l0
        model[pre + 'module.bias_ih_l0'] = r.bias_ih_l0
        model[pre + 'module.bias_hh_l0'] = r.bias_hh_l0
        groups.append([r.weight_hh_l0, r.weight_ih_l0, r.bias_ih_l0,
                       r.bias_hh_l0])
    for i, (bn, lin) in enumerate(((bn0, lin0), (bn1, lin1))):
        pre = '1.layers.%d.' % i
        for k, v in bn.state_dict().items():
            model[pre + '0.' + k] = v
        model[pre + '2.weight'] = lin.weight
    groups.append([bn0.weight, bn0.bias, lin0.weight, bn1.weight, bn1.bias,
                   lin1.weight])
    no_wd = {id(bn0.weight), id(bn0.bias), id(bn1.weight), id(bn1.bias)}
    torch.save({k: v.detach().clone() for k, v in model.items()},
               d + '/start.pth')

    # freeze_to(-2): groups 3 (rnns.2) and 4 (head) train
    train_groups = [3, 4]
    lo, hi, n_epoch, wd, clip = 1e-3, 1e-2, 3, 0.1, 0.5
    lr_max = [lo * (hi / lo) ** (i / 4) for i in range(5)]

    def combined(pct, start, middle, end, pos):
        pcts = torch.cumsum(torch.tensor([0, pct, 1 - pct]), 0)
        idx = min(int((pos >= pcts).nonzero().max()), 1)
        t = ((pos - pcts[idx]) / (pcts[idx + 1] - pcts[idx])).item()
        a, b = [(start, middle), (middle, end)][idx]
        return a + (1 + math.cos(math.pi * (1 - t))) * (b - a) / 2

    state = {}
    x = torch.tensor([pad_chunk(docs[i], 100) for i in (1, 3, 2, 0)])
    y = torch.tensor([labels[i] for i in (1, 3, 2, 0)])
    for mod in head:
        mod.train()
    pos = 0.0
    for step in range(1, n_epoch + 1):
        mom = combined(0.25, 0.8, 0.7, 0.8, pos)
        lrs = [combined(0.25, m / 25, m, m / 1e5, pos) for m in lr_max]
        for gi in range(5):
            for p in groups[gi]:
                p.grad = None
        out, mask = sentence_encoder(awd, x)
        z = masked_concat_pool(out, mask, BPTT)
        logits = lin1(bn1(lin0(bn0(z)).relu()))
        loss = F.cross_entropy(logits, y) + 2.0 * out.pow(2).mean() + \
            1.0 * (out[:, 1:] - out[:, :-1]).pow(2).mean()
        loss.backward()
        with torch.no_grad():
            for gi in train_groups:
                torch.nn.utils.clip_grad_norm_(groups[gi], clip)
            for gi in train_groups:
                lr = lrs[gi]
                for p in groups[gi]:
                    m, v = state.setdefault(id(p), [torch.zeros_like(p),
                                                    torch.zeros_like(p)])
                    if id(p) not in no_wd:
                        p.mul_(1 - lr * wd)
                    m.mul_(mom).add_(p.grad, alpha=1 - mom)
                    v.mul_(0.99).addcmul_(p.grad, p.grad, value=1 - 0.99)
                    debias1 = 1 - mom ** step
                    debias2 = 1 - 0.99 ** step
                    p.addcdiv_(m, (v / debias2).sqrt() + 1e-5,
                               value=-lr / debias1)
        pos += 1.0 / n_epoch
    torch.save({k: v.detach().clone() for k, v in model.items()},
               d + '/want.pth')


if MODE == 'train':
    train(sys.argv[2])
    sys.exit(0)

if MODE == 'bench':
    bench(sys.argv[2], int(sys.argv[3]))
    sys.exit(0)

if MODE == 'files':
    files(sys.argv[2])
    sys.exit(0)

# A: T = 12 (a multiple of bptt): 3 chunks, the first only warms up
# (max_len 8); AR/TAR on.  B: T = 10, lengths where rows join late and
# trailing padding meets a chunk start; no AR/TAR (fastai runs fewer rows
# on padded positions there, see clas.h).
batch('A', [12, 9, 6, 3], [0, 2, 1, 2], True)
batch('B', [10, 7, 3], [1, 0, 2], False)

with open(sys.argv[2], 'wb') as f:
    for name, dt, t in rec:
        nb = name.encode()
        f.write(struct.pack('<I', len(nb)) + nb)
        f.write(struct.pack('<II', dt, t.dim()))
        f.write(struct.pack('<%dI' % t.dim(), *t.shape))
        if dt == 0:
            f.write(t.numpy().astype('<f4').tobytes())
        else:
            f.write(t.numpy().astype('<u4').tobytes())
