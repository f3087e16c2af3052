"""PyTorch side of tests/pth.t (run with Debian's /usr/bin/python3, torch 1.13).

    pth_ref.py save DIR       torch.save fixtures into DIR (zip and legacy),
                              their dumps (DIR/NAME.want) and lm.pth
    pth_ref.py verify DIR     everything about our files in DIR (see verify())
    pth_ref.py dump FILE      one line per state-dict tensor, the format of
                              `build/tests/pth dump` (name dtype shape tie crc32)
    pth_ref.py check FILE     torch.load our test checkpoint and compare
                              every value bit for bit with fill() below
    pth_ref.py layout FILE    zip layout facts of spec §12.1 for our file
    pth_ref.py encoder FILE   check an encsave output (14 keys, ties, shapes)
    pth_ref.py lm FILE V      torch.save a small LM state dict (16 keys, tied),
                              as fastai's learn.save ({'model','opt'} if V<0)
    pth_ref.py encsave-inputs DIR   lm.pth, v1.pth (fastai v1 style, legacy
                              format, with the module.weight_hh_l0 copies)
                              and clas.pth (0.module. prefix + a head)
    pth_ref.py encsave-check DIR    enc_{lm,v1,clas,again}.pth against them

Prints what it found; exits 1 on any mismatch.
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile
import zlib

import torch


def fill(k, i):
    """Exact float32 values: a 24-bit integer times a power of two (as
    tests/unit/pth.c)."""
    u = (i * 2654435761 + k * 40503) & 0xFFFFFFFF
    m = (u & 0xFFFFFF) - 0x800000
    return m * 2.0 ** (-20 + (u >> 29))


def filled(k, shape):
    n = 1
    for s in shape:
        n *= s
    return torch.tensor([fill(k, i) for i in range(n)],
                        dtype=torch.float32).reshape(shape)


DT = {torch.float32: 'f32', torch.float64: 'f64', torch.float16: 'f16',
      torch.bfloat16: 'bf16', torch.int64: 'i64', torch.int32: 'i32',
      torch.int16: 'i16', torch.int8: 'i8', torch.uint8: 'u8',
      torch.bool: 'bool'}


def unwrap(obj):
    if isinstance(obj, dict) and isinstance(obj.get('model'), dict):
        return obj['model']
    return obj


def dump(path, out=sys.stdout):
    sd = unwrap(torch.load(path))
    first = {}
    for name, t in sd.items():
        if not torch.is_tensor(t):
            continue
        key = (t.storage().data_ptr(), t.storage_offset())
        tie = first.setdefault(key, name)
        if t.is_floating_point():
            data = t.detach().float().contiguous().numpy().tobytes()
        else:
            data = t.detach().long().contiguous().numpy().tobytes()
        shape = ','.join(str(s) for s in t.shape)
        print('%s %s (%s) %s %08x' % (name, DT[t.dtype], shape, tie,
                                      zlib.crc32(data)), file=out)
    obj = torch.load(path)
    if isinstance(obj, dict) and 'opt' in obj and isinstance(obj['model'], dict):
        st, hy = obj['opt']['state'], obj['opt']['hypers']
        st, hy = getattr(st, 'items', st), getattr(hy, 'items', hy)
        lr = float(hy[0]['lr']) if len(hy) else -1.0
        print('opt %d %d %.17g' % (len(st), len(hy), lr), file=out)


def fixtures():
    """A state dict with every kind of thing torch.save may write."""
    g = torch.Generator().manual_seed(0)
    sd = collections.OrderedDict()
    emb = torch.randn(11, 4, generator=g)
    sd['0.encoder.weight'] = emb
    sd['0.encoder_dp.emb.weight'] = emb          # tied: one storage
    big = torch.randn(40, generator=g)
    sd['view'] = big[3:15].view(3, 4)            # offset into a storage
    sd['viewT'] = big[0:12].view(4, 3).t()       # strided (non-contiguous)
    sd['f64'] = torch.randn(5, dtype=torch.float64, generator=g)
    sd['f16'] = torch.randn(6, generator=g).half()
    sd['bf16'] = torch.randn(6, generator=g).bfloat16()
    sd['i32'] = torch.arange(-3, 4, dtype=torch.int32)
    sd['u8'] = torch.arange(250, 256, dtype=torch.uint8)
    sd['b'] = torch.tensor([True, False, True])
    sd['i64'] = torch.tensor(2**40 + 5)
    sd['zero_d'] = torch.tensor(3.5)
    sd['empty'] = torch.zeros(0, 3)
    sd['five_d'] = torch.randn(2, 1, 3, 1, 2, generator=g)
    sd['1.decoder.weight'] = emb
    # a module's state dict carries _metadata (BUILD) and num_batches_tracked
    head = torch.nn.Sequential(torch.nn.BatchNorm1d(4),
                               torch.nn.Linear(4, 2, bias=False))
    for k, v in head.state_dict().items():
        sd['1.layers.' + k] = v
    for k in range(300):                         # > 256 memo slots
        sd['many.%d' % k] = torch.full((1 + k % 3,), float(k))
    return sd


class L:
    """Stands for fastcore's L (not installed here): pickled the same way,
    GLOBAL 'fastcore.foundation L', NEWOBJ, BUILD {'items': [...]}."""
    def __init__(self, items):
        self.items = items


L.__module__ = 'fastcore.foundation'


def save(d):
    sd = fixtures()
    torch.save(sd, os.path.join(d, 'zip.pth'))
    torch.save(sd, os.path.join(d, 'legacy.pth'),
               _use_new_zipfile_serialization=False)
    # fastai's learn.save: {'model', 'opt'}; the opt state holds tensors,
    # plain types, numpy float64 lrs (from np.array) and fastcore L lists
    m = torch.nn.Sequential(torch.nn.BatchNorm1d(4))
    import numpy as np
    import types
    fc = types.ModuleType('fastcore.foundation')
    fc.L = L
    sys.modules['fastcore'] = types.ModuleType('fastcore')
    sys.modules['fastcore.foundation'] = fc
    w = m.state_dict()['0.weight']
    state = [{'force_train': True, 'do_wd': False, 'grad_avg': w * 0.5,
              'sqr_avg': w * 0.25, 'step': 3}, {'do_wd': False}]
    hypers = L([{'wd': 0.01, 'sqr_mom': 0.99, 'lr': np.float64(1e-3) / 3,
                 'mom': np.float64(0.95), 'eps': 1e-5}])
    torch.save({'model': m.state_dict(), 'opt': {'state': state,
                                                 'hypers': hypers}},
               os.path.join(d, 'learner.pth'), pickle_protocol=2)
    # spec §12 acceptance: sd.pth
    sd = collections.OrderedDict()
    sd['a.weight'] = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    sd['a.bias'] = torch.tensor([1., 2., 3.])
    sd['n'] = torch.tensor(7, dtype=torch.int64)
    torch.save(sd, os.path.join(d, 'sd.pth'))
    torch.save(sd, os.path.join(d, 'sdl.pth'),
               _use_new_zipfile_serialization=False)
    # a tensor pickled as a Parameter (torch.save(model.parameters...))
    p = collections.OrderedDict(w=torch.nn.Parameter(torch.ones(2)))
    torch.save(p, os.path.join(d, 'param.pth'))
    # a broadcast view: 1000 elements of a 1-element storage
    torch.save({'b': torch.zeros(1).expand(1000)}, os.path.join(d, 'bcast.pth'))
    for f in ('zip', 'legacy', 'learner', 'param', 'sd', 'sdl'):
        with open(os.path.join(d, f + '.want'), 'w') as out:
            dump(os.path.join(d, f + '.pth'), out)
    lm(os.path.join(d, 'lm.pth'), 50)


def verify(d):
    """Our files written by tests/pth.t into d (ours.pth, sd.pth, relm.pth,
    rezip.pth, relegacy.pth) against torch and spec §12."""
    check(os.path.join(d, 'ours.pth'))
    layout(os.path.join(d, 'ours.pth'))
    sd = os.path.join(d, 'sd.pth')
    z = zipfile.ZipFile(sd)
    got = ' '.join('%s:%d' % (i.filename, i.file_size) for i in z.infolist())
    expect(got == 'sd/data.pkl:307 sd/byteorder:6 sd/data/0:24 '
           'sd/data/1:12 sd/data/2:8 sd/version:2',
           'sd.pth entries and sizes as torch 1.13 (plus byteorder): ' + got)
    t = zipfile.ZipFile(os.path.join(d, 'torch', 'sd.pth'))
    expect(z.read('sd/data.pkl') == t.read('sd/data.pkl'),
           "our data.pkl is byte-identical to torch.save's")
    expect(all(z.read('sd/data/%d' % i) == t.read('sd/data/%d' % i)
               for i in range(3)), "data records byte-identical too")
    layout(sd, False)
    sdl = os.path.join(d, 'torch', 'sdl.pth')
    raw = open(sdl, 'rb').read()
    f = io.BytesIO(raw)

    pids = {}

    class U(pickle.Unpickler):
        def persistent_load(self, pid):
            pids[pid[2]] = pid
            return pid

        def find_class(self, mod, name):
            if (mod, name) == ('collections', 'OrderedDict'):
                return collections.OrderedDict
            if name.endswith('Storage'):
                return name
            return lambda *a: None
    for _ in range(4):
        U(f).load()
    keys = U(f).load()
    counts = []
    size = {'FloatStorage': 4, 'LongStorage': 8}
    for k in keys:
        n = struct.unpack('<q', f.read(8))[0]
        counts.append(n)
        expect(n == pids[k][4], 'legacy count %d == numel of storage' % n)
        f.seek(n * size[pids[k][1]], 1)
    expect(f.tell() == len(raw), 'legacy data ends the file')
    # keys are memory addresses: 9 digits in the spec's run (595 bytes)
    keylen = 2 * sum(len(k) for k in keys)
    expect(len(raw) - keylen == 595 - 2 * 3 * 9,
           'legacy sd.pth is %d bytes with %d bytes of keys (595 with '
           '9-digit keys)' % (len(raw), keylen))
    counts.sort()
    expect(counts == [1, 3, 6], 'legacy counts (spec: 1, 6, 3 in key '
           'order; keys are addresses) %s' % counts)
    z = zipfile.ZipFile(os.path.join(d, 'relm.pth'))
    recs = [n for n in z.namelist() if '/data/' in n]
    expect(len(recs) == 14, '16 LM keys -> %d storage records' % len(recs))
    for f in ('zip', 'legacy'):
        a = io.StringIO()
        dump(os.path.join(d, 're' + f + '.pth'), a)
        got = [l.split(' ', 2)[0] + ' ' + l.split(' ', 2)[2]
               for l in a.getvalue().splitlines()]
        want = [l.split(' ', 2)[0] + ' ' + l.split(' ', 2)[2]
                for l in open(os.path.join(d, 'torch', f + '.want')).read().splitlines()]
        expect(got == want, 'torch %s -> us -> torch: same tensors' % f)


bad = 0


def expect(cond, what):
    global bad
    print(('ok' if cond else 'MISMATCH') + ': ' + what)
    if not cond:
        bad += 1


def check(path):
    """Our fixture (tests/unit/pth.c write) through torch.load."""
    obj = torch.load(path)
    expect(isinstance(obj, dict) and set(obj) == {'model', 'opt'},
           "top level is {'model','opt'} (fastai's learn.load unwraps it)")
    sd = obj['model']
    expect(type(sd) is collections.OrderedDict, 'model is an OrderedDict')
    want = [('0.encoder.weight', 0, (7, 5)),
            ('0.encoder_dp.emb.weight', 0, (7, 5)),
            ('0.rnns.0.weight_hh_l0_raw', 1, (2, 1, 3, 1, 2)),
            ('scalar', 2, ()), ('empty', 3, (0, 4)),
            ('1.decoder.weight', 0, (7, 5)), ('1.decoder.bias', 4, (7,))]
    for k in range(300):
        want.append(('many.%d' % k, 10 + k, (1 + k % 3,)))
    names = [n for n in sd if n != '1.layers.0.0.num_batches_tracked']
    expect(names == [w[0] for w in want], 'keys in our order')
    exact = True
    for name, k, shape in want:
        t = sd[name]
        ref = filled(k, shape)
        if t.dtype != torch.float32 or tuple(t.shape) != shape or \
           t.numpy().tobytes() != ref.numpy().tobytes():
            exact = False
            print('# differs: %s %s %s' % (name, t.dtype, tuple(t.shape)))
    expect(exact, 'every float tensor is bit-exact')
    n = sd['1.layers.0.0.num_batches_tracked']
    expect(n.dtype == torch.int64 and n.shape == () and
           n.item() == 123456789012345, 'int64 0-d tensor')
    e = sd['0.encoder.weight']
    expect(sd['0.encoder_dp.emb.weight'].data_ptr() == e.data_ptr() and
           sd['1.decoder.weight'].data_ptr() == e.data_ptr(),
           'tied tensors share memory after torch.load')
    opt = obj['opt']
    st, hy = opt['state'], opt['hypers']
    expect(st[0]['step'] == 70000 and st[0]['do_wd'] is False and
           st[0]['grad_avg'].data_ptr() == sd['1.decoder.bias'].data_ptr()
           and st[1] == {}, 'opt state: ints, bools, a shared tensor')
    h = hy[0]
    expect(h['lr'] == 1e-3 / 3 and str(h['mom']) == '-0.0' and
           h['big'] == -5000000000 and h['neg'] == -2 and h['none'] is None,
           'opt hypers: floats bit-exact, big and negative ints, None')


def layout(path, records_meta=True):
    z = zipfile.ZipFile(path)
    infos = z.infolist()
    top = os.path.splitext(os.path.basename(path))[0]
    names = [i.filename for i in infos]
    expect(all(n.startswith(top + '/') for n in names),
           'every record is under %s/' % top)
    rel = [n[len(top) + 1:] for n in names]
    data = [r for r in rel if r.startswith('data/')]
    expect(rel[0] == 'data.pkl' and rel[1] == 'byteorder' and
           rel[2:2 + len(data)] == data and data == sorted(data) and
           rel[2 + len(data)] == 'version',
           'records: data.pkl, byteorder, data/* sorted as strings, version')
    if records_meta:
        expect(rel[-1] == 'ulmfit/meta', 'our metadata record comes last')
    expect(z.read(top + '/version') == b'3\n' and
           z.read(top + '/byteorder') == b'little', 'version and byteorder')
    raw = open(path, 'rb').read()
    aligned = stored = flags = True
    for i in infos:
        off = i.header_offset
        nl, xl = struct.unpack('<HH', raw[off + 26:off + 30])
        start = off + 30 + nl + xl
        aligned &= start % 64 == 0
        aligned &= raw[off + 30 + nl:off + 32 + nl] == b'FB'
        stored &= i.compress_type == 0
        flags &= i.flag_bits == 0x808
    expect(aligned, 'every record starts at a multiple of 64 (FB padding)')
    expect(stored and flags, 'stored entries, flags 0x0808')
    expect(z.testzip() is None, 'every CRC is right')


def encoder(path):
    obj = torch.load(path)
    keys = list(obj)
    expect(type(obj) is collections.OrderedDict and len(keys) == 14 and
           keys[0] == 'encoder.weight', 'bare state dict of 14 keys, '
           'encoder.weight first')
    expect(obj['encoder_dp.emb.weight'].data_ptr() ==
           obj['encoder.weight'].data_ptr(), 'embedding ties kept')
    expect(not any(k.startswith('0.') or k.startswith('1.') for k in keys),
           'no module prefix')
    for k in keys:
        print('%s %s' % (k, tuple(obj[k].shape)))


def lm(path, V, E=6, H=10, L=3):
    """A small fastai LM state dict (16 keys, embedding tied 3 ways)."""
    g = torch.Generator().manual_seed(1)
    sd = collections.OrderedDict()
    emb = torch.randn(abs(V), E, generator=g)
    sd['0.encoder.weight'] = emb
    sd['0.encoder_dp.emb.weight'] = emb
    for l in range(L):
        i = E if l == 0 else H
        o = E if l == L - 1 else H
        sd['0.rnns.%d.weight_hh_l0_raw' % l] = torch.randn(4 * o, o, generator=g)
        sd['0.rnns.%d.module.weight_ih_l0' % l] = torch.randn(4 * o, i, generator=g)
        sd['0.rnns.%d.module.bias_ih_l0' % l] = torch.randn(4 * o, generator=g)
        sd['0.rnns.%d.module.bias_hh_l0' % l] = torch.randn(4 * o, generator=g)
    sd['1.decoder.weight'] = emb
    sd['1.decoder.bias'] = torch.randn(abs(V), generator=g)
    if V < 0:
        # fastai v1 also saved the dropped-out copy of weight_hh
        for l in range(L):
            w = sd['0.rnns.%d.weight_hh_l0_raw' % l]
            sd['0.rnns.%d.module.weight_hh_l0' % l] = w * 0.5
        # fastai v1's learn.save: OptimWrapper.state_dict(), whose opt_func
        # is a functools.partial of torch's Adam
        import functools
        params = [v for k, v in sd.items() if k != '0.encoder_dp.emb.weight'
                  and k != '1.decoder.weight']
        params = [torch.nn.Parameter(p.clone()) for p in params]
        adam = torch.optim.Adam(params, betas=(0.9, 0.99))
        params[0].grad = torch.ones_like(params[0])
        adam.step()
        opt = {'opt_state': adam.state_dict(), 'lr': [1e-3], 'wd': [0.01],
               'beta': [0.99],
               'opt_func': functools.partial(torch.optim.Adam,
                                             betas=(0.9, 0.99)),
               'true_wd': True, 'bn_wd': True}
        torch.save({'model': sd, 'opt': opt}, path,
                   _use_new_zipfile_serialization=False)
    else:
        torch.save(sd, path)
    z = zipfile.is_zipfile(path) and zipfile.ZipFile(path)
    if z:
        recs = [n for n in z.namelist() if '/data/' in n]
        expect(len(recs) == 14 and len(sd) == 16,
               'torch writes %d records for %d keys' % (len(recs), len(sd)))


def clas(path, V=50, E=6, H=10, L=3):
    lm(path + '.tmp', V, E, H, L)
    src = torch.load(path + '.tmp')
    os.unlink(path + '.tmp')
    sd = collections.OrderedDict()
    for k, v in src.items():
        if k.startswith('0.'):
            sd['0.module.' + k[2:]] = v
    head = torch.nn.Sequential(torch.nn.BatchNorm1d(3 * E),
                               torch.nn.Linear(3 * E, 2, bias=False))
    for k, v in head.state_dict().items():
        sd['1.layers.0.' + k] = v
    torch.save(sd, path)


def encsave_inputs(d):
    lm(os.path.join(d, 'lm.pth'), 50)
    lm(os.path.join(d, 'v1.pth'), -50)
    clas(os.path.join(d, 'clas.pth'))


def encsave_check(d):
    for src, out, pre in (('lm', 'lm', '0.'), ('v1', 'v1', '0.'),
                          ('clas', 'clas', '0.module.'),
                          ('lm', 'again', '0.')):
        s = unwrap(torch.load(os.path.join(d, src + '.pth')))
        e = torch.load(os.path.join(d, 'enc_' + out + '.pth'))
        keys = list(e)
        want = [k[len(pre):] for k in s if k.startswith(pre) and
                '.module.weight_hh_l0' not in k]
        expect(type(e) is collections.OrderedDict and keys == want and
               len(keys) == 14 and keys[0] == 'encoder.weight',
               '%s: 14 keys, encoder.weight first, no prefix' % out)
        expect(all(torch.equal(e[k], s[pre + k]) and
                   e[k].dtype == torch.float32 for k in keys),
               '%s: every tensor equal to the source' % out)
        expect(e['encoder_dp.emb.weight'].data_ptr() ==
               e['encoder.weight'].data_ptr(), '%s: embedding tie kept' % out)
        z = zipfile.ZipFile(os.path.join(d, 'enc_' + out + '.pth'))
        recs = [n for n in z.namelist() if '/data/' in n]
        expect(len(recs) == 13, '%s: 13 storage records' % out)


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'save':
        save(sys.argv[2])
    elif cmd == 'verify':
        verify(sys.argv[2])
    elif cmd == 'dump':
        dump(sys.argv[2])
    elif cmd == 'check':
        check(sys.argv[2])
    elif cmd == 'layout':
        layout(sys.argv[2], len(sys.argv) < 4)
    elif cmd == 'encoder':
        encoder(sys.argv[2])
    elif cmd == 'encsave-inputs':
        encsave_inputs(sys.argv[2])
    elif cmd == 'encsave-check':
        encsave_check(sys.argv[2])
    elif cmd == 'lm':
        lm(sys.argv[2], int(sys.argv[3]))
    sys.exit(1 if bad else 0)
