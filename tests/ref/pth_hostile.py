#!/usr/bin/env python3
"""Hostile .pth files for tests/pth.t, tests/encsave.t and tests/infer.t.

    pth_hostile.py make IN.pth OUT.pth CASE [ARG]
    pth_hostile.py make IN.pth <JOBS     (lines "OUT.pth CASE [ARG]": torch
                                          is imported once for all)
        OUT is IN (a checkpoint of ours, or torch's) written again by a
        small torch.save of our own that can lie: CASE says how.
          same              no lie (the control: it must load)
          stride NAME       NAME's last stride becomes 2**62
          offset NAME       NAME's storage offset becomes 2**63 - 10
          negstride NAME    NAME's last stride becomes -1
          view "NAME OFF SIZE STRIDE"  NAME's view: storage offset, sizes
                            and strides (comma-separated) as given
          wrap              the first optimizer moment gets a shape whose
                            element count wraps to 64 in 64 bits
          meta K=V          metadata line K=... replaced (K= alone drops it)
          version TEXT      the version record holds TEXT
          flipname          one byte of the metadata record's name, in the
                            central directory only, changed
    pth_hostile.py torch FILE...
        torch.load each FILE; print "refused: FILE" or "loaded: FILE".

The pickle is written by Python's pickler (protocol 2), as torch.save
does, with _rebuild_tensor_v2 and persistent ids for the storages; the zip
by zipfile (stored).  Only the values named above differ from a real one.
"""
import collections
import io
import pickle
import struct
import sys
import zipfile

import torch


class Storage:
    def __init__(self, key, stype, numel, data):
        self.key, self.stype, self.numel, self.data = key, stype, numel, data


class Tensor:
    def __init__(self, st, offset, size, stride):
        self.st, self.offset = st, offset
        self.size, self.stride = tuple(size), tuple(stride)

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (self.st, self.offset, self.size, self.stride, False,
                 collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', obj.stype, obj.key, 'cpu', obj.numel)
        return None


STYPE = {torch.float32: torch.FloatStorage, torch.int64: torch.LongStorage}


def convert(obj, storages):
    """Tensors -> Tensor stand-ins; tensors sharing memory share a key."""
    if torch.is_tensor(obj):
        base = obj.storage()
        ptr = base.data_ptr()
        if ptr not in storages:
            data = torch.tensor([], dtype=obj.dtype).set_(base).numpy()
            storages[ptr] = Storage(str(len(storages)), STYPE[obj.dtype],
                                    base.size(), data.tobytes())
        return Tensor(storages[ptr], obj.storage_offset(), obj.shape,
                      obj.stride())
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, convert(v, storages))
                                       for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: convert(v, storages) for k, v in obj.items()}
    if isinstance(obj, list):
        return [convert(v, storages) for v in obj]
    if isinstance(obj, tuple):
        return tuple(convert(v, storages) for v in obj)
    return obj


def find(obj, name):
    sd = obj['model'] if isinstance(obj, dict) and 'model' in obj else obj
    return sd[name]


def write(path, obj, storages, meta, version=b'3\n'):
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    top = path.rsplit('/', 1)[-1].rsplit('.', 1)[0]
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr(top + '/data.pkl', buf.getvalue())
        z.writestr(top + '/byteorder', b'little')
        for s in sorted(storages.values(), key=lambda s: s.key):
            z.writestr(top + '/data/' + s.key, s.data)
        z.writestr(top + '/version', version)
        if meta is not None:
            z.writestr(top + '/ulmfit/meta', meta)


def make(src, dst, case, arg=None):
    obj = torch.load(src)
    meta = None
    with zipfile.ZipFile(src) as z:
        for n in z.namelist():
            if n.endswith('/ulmfit/meta'):
                meta = z.read(n)
    storages = {}
    obj = convert(obj, storages)
    version = b'3\n'
    if case in ('stride', 'negstride', 'offset'):
        t = find(obj, arg)
        if case == 'offset':
            t.offset = 2**63 - 10
        else:
            t.stride = t.stride[:-1] + ((2**62) if case == 'stride' else -1,)
    elif case == 'view':
        # view NAME OFFSET SIZE STRIDE, SIZE and STRIDE comma-separated
        name, off, size, stride = arg.split(' ')
        t = find(obj, name)
        t.offset = int(off)
        t.size = tuple(int(x) for x in size.split(','))
        t.stride = tuple(int(x) for x in stride.split(','))
    elif case == 'wrap':
        st = obj['opt']['state']
        d = next(d for d in st if 'grad_avg' in d)
        t = d['grad_avg']
        # 2**32 * 2**32 * 64 = 64 (mod 2**64), stride 0 keeps every
        # element inside the storage
        t.size, t.stride = (2**32, 2**32, 64), (0, 0, 1)
    elif case == 'meta':
        k = arg.split('=', 1)[0] + '='
        lines = [l for l in meta.decode().split('\n') if l]
        lines = [(arg if l.startswith(k) else l) for l in lines]
        if arg == k:
            lines = [l for l in lines if not l.startswith(k)]
        meta = ('\n'.join(lines) + '\n').encode()
    elif case == 'version':
        version = (arg or '').encode().decode('unicode_escape').encode()
    elif case not in ('same', 'flipname'):
        sys.exit('unknown case ' + case)
    write(dst, obj, storages, meta, version)
    if case == 'flipname':
        data = bytearray(open(dst, 'rb').read())
        eocd = data.rindex(b'PK\x05\x06')
        cd = struct.unpack('<I', data[eocd + 16:eocd + 20])[0]
        at = data.index(b'ulmfit/meta', cd)
        data[at + len('ulmfit/')] ^= 0x01        # 'm' -> 'l': ulmfit/leta
        open(dst, 'wb').write(bytes(data))


def main():
    if sys.argv[1] == 'make' and len(sys.argv) == 3:
        for line in sys.stdin:              # OUT CASE [ARG...], one a line
            w = line.split(None, 2)
            if w:
                make(sys.argv[2], *[x.strip() for x in w])
    elif sys.argv[1] == 'make':
        make(*sys.argv[2:])
    elif sys.argv[1] == 'torch':
        for f in sys.argv[2:]:
            try:
                torch.load(f)
                print('loaded:', f)
            except Exception:
                print('refused:', f)
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
