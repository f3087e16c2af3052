"""PyTorch side of tests/pretrained.t (Debian's /usr/bin/python3, torch 1.13).

    pretrained_ref.py make DIR

writes into DIR:
  itos2.pkl, itos4.pkl   the old (pretrained) vocab, a pickled list of str,
                         protocols 2 and 4, fastai v1's special tokens first
                         (itos0.pkl, itos1.pkl: protocols 0 and 1, refused)
  old.vocab, new.vocab   the old vocab and the new (fine-tuning) vocab in
                         our text format (one escaped token a line)
  v1_legacy_bare.pth     a tiny fastai-v1 AWD-LSTM LM state dict (19 keys:
                         v2's 16 plus 0.rnns.N.module.weight_hh_l0), saved
                         in torch's legacy format, as WT103's lstm_fwd.pth
  v1_legacy_model.pth    the same wrapped as {'model': sd}, legacy format
  v1_zip_model.pth       the same as {'model': sd, 'opt': {...}}, zip format
  v2_zip_bare.pth        fastai v2's 16 keys (no module.weight_hh_l0), zip
  v1_nobias.pth          v1 without 1.decoder.bias, legacy
  expected_lm.pth        fastai's load_pretrained (restated below) into a
                         v2 LM for new.vocab: 16 keys
  expected_clas.pth      the same into a classifier's encoder (model[0]:
                         14 keys 0.module.*)
  expected_nobias.pth    v1_nobias.pth into the v2 LM (last key untouched)
  evil.pkl, evil.pth     pickles whose loading would run os.system

Sizes (also in tests/unit/pretrained.c): emb 6, hidden 10, 3 layers.
"""
import collections
import os
import pickle
import sys

import torch

EMB, HID, LAYERS = 6, 10, 3

V1_SPECIALS = ['xxunk', 'xxpad', 'xxbos', 'xxeos', 'xxfld', 'xxmaj', 'xxup',
               'xxrep', 'xxwrep']
V2_SPECIALS = ['xxunk', 'xxpad', 'xxbos', 'xxeos', 'xxfld', 'xxrep',
               'xxwrep', 'xxup', 'xxmaj']

# The old vocab: awkward tokens (space, backslash, tab, newline, non-ASCII),
# a duplicate ('the' again: fastai's dict keeps the last index), and enough
# entries that pickles need LONG_BINPUT / memo indices above 255.
OLD = (V1_SPECIALS + ['the', ',', '.', 'of', 'new york', 'back\\slash',
                      'tab\there', 'line\nbreak', 'lit\\n', 'caf\u00e9',
                      '\u65e5\u672c', '\U0001F600', 'the', 'cr\rx']
       + ['w%d' % i for i in range(300)])
NEW_WORDS = ['the', 'movie', 'new york', 'caf\u00e9', 'w5', 'w299',
             'tab\there', 'line\nbreak', 'back\\slash', 'lit\\n', 'unseen',
             '\U0001F600', 'w17', ',', 'cr\rx', 'xxmaj']


def new_vocab():
    v = list(V2_SPECIALS)
    v += [w for w in NEW_WORDS if w not in v]
    v += ['xxfake'] * (8 - len(v) % 8)
    return v


def escape(t):
    """Our .tok / vocab escaping (tokfile.h)."""
    return (t.replace('\\', '\\\\').replace('\n', '\\n').replace('\t', '\\t')
            .replace('\r', '\\r').replace(' ', '\u2581'))


def write_vocab(path, toks):
    with open(path, 'wb') as f:
        for t in toks:
            f.write(escape(t).encode('utf-8') + b'\n')


def sizes():
    """(in, out) of each LSTM: the last one outputs emb_sz."""
    out = []
    for l in range(LAYERS):
        i = EMB if l == 0 else HID
        o = EMB if l == LAYERS - 1 else HID
        out.append((i, o))
    return out


def v1_state_dict(V, g):
    """fastai v1's LM state dict: WeightDropout kept module.weight_hh_l0
    (the dropped-out copy) next to weight_hh_l0_raw; the embedding, its
    EmbeddingDropout view and the decoder share one tensor."""
    sd = collections.OrderedDict()
    emb = torch.randn(V, EMB, generator=g)
    sd['0.encoder.weight'] = emb
    sd['0.encoder_dp.emb.weight'] = emb
    for l, (i, o) in enumerate(sizes()):
        raw = torch.randn(4 * o, o, generator=g)
        keep = (torch.rand(4 * o, o, generator=g) > 0.5).float()
        sd['0.rnns.%d.weight_hh_l0_raw' % l] = raw
        sd['0.rnns.%d.module.weight_ih_l0' % l] = torch.randn(4 * o, i,
                                                              generator=g)
        sd['0.rnns.%d.module.weight_hh_l0' % l] = raw * keep * 2
        sd['0.rnns.%d.module.bias_ih_l0' % l] = torch.randn(4 * o,
                                                            generator=g)
        sd['0.rnns.%d.module.bias_hh_l0' % l] = torch.randn(4 * o,
                                                            generator=g)
    sd['1.decoder.weight'] = emb
    sd['1.decoder.bias'] = torch.randn(V, generator=g)
    return sd


def v2_lm_keys(V):
    """A fastai v2 LM's state dict (spec §11.2), zeros."""
    sd = collections.OrderedDict()
    sd['0.encoder.weight'] = torch.zeros(V, EMB)
    sd['0.encoder_dp.emb.weight'] = torch.zeros(V, EMB)
    for l, (i, o) in enumerate(sizes()):
        sd['0.rnns.%d.weight_hh_l0_raw' % l] = torch.zeros(4 * o, o)
        sd['0.rnns.%d.module.weight_ih_l0' % l] = torch.zeros(4 * o, i)
        sd['0.rnns.%d.module.bias_ih_l0' % l] = torch.zeros(4 * o)
        sd['0.rnns.%d.module.bias_hh_l0' % l] = torch.zeros(4 * o)
    sd['1.decoder.weight'] = torch.zeros(V, EMB)
    sd['1.decoder.bias'] = torch.zeros(V)
    return sd


# ---- fastai 2.7's text/learner.py, restated -------------------------------

def match_embeds(old_wgts, old_vocab, new_vocab):
    bias, wgts = old_wgts.get('1.decoder.bias', None), old_wgts['0.encoder.weight']
    wgts_m = wgts.mean(0)
    new_wgts = wgts.new_zeros((len(new_vocab), wgts.size(1)))
    if bias is not None:
        bias_m = bias.mean(0)
        new_bias = bias.new_zeros((len(new_vocab),))
    old_o2i = {w: i for i, w in enumerate(old_vocab)}
    for i, w in enumerate(new_vocab):
        idx = old_o2i.get(w, -1)
        new_wgts[i] = wgts[idx] if idx >= 0 else wgts_m
        if bias is not None:
            new_bias[i] = bias[idx] if idx >= 0 else bias_m
    old_wgts['0.encoder.weight'] = new_wgts
    if '0.encoder_dp.emb.weight' in old_wgts:
        old_wgts['0.encoder_dp.emb.weight'] = new_wgts.clone()
    old_wgts['1.decoder.weight'] = new_wgts.clone()
    if bias is not None:
        old_wgts['1.decoder.bias'] = new_bias
    return old_wgts


def _rm_module(n):
    t = n.split('.')
    for i in range(len(t) - 1, -1, -1):
        if t[i] == 'module':
            t.pop(i)
            break
    return '.'.join(t)


def clean_raw_keys(wgts):
    keys = list(wgts.keys())
    for k in keys:
        if f'{_rm_module(k)}_raw' in keys:
            del wgts[k]
    return wgts


def load_ignore_keys(model_sd, wgts):
    """zip(model keys, file keys); load_state_dict refuses other shapes."""
    for k1, k2 in zip(list(model_sd.keys()), wgts.keys()):
        if model_sd[k1].shape != wgts[k2].shape:
            raise RuntimeError('size mismatch for %s' % k1)
        model_sd[k1] = wgts[k2].data.clone()
    return model_sd


def load_pretrained(wgts_fname, vocab_fname, model_sd):
    with open(vocab_fname, 'rb') as f:
        old_vocab = pickle.load(f)
    wgts = torch.load(wgts_fname, map_location=lambda storage, loc: storage)
    if 'model' in wgts:
        wgts = wgts['model']
    wgts = match_embeds(wgts, old_vocab, NEW)
    return load_ignore_keys(model_sd, clean_raw_keys(wgts))


NEW = new_vocab()


class Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, ('touch ' + self.path,))


def make(d):
    os.makedirs(d, exist_ok=True)
    j = lambda n: os.path.join(d, n)
    g = torch.Generator().manual_seed(1234)
    for proto in (0, 1, 2, 4):
        with open(j('itos%d.pkl' % proto), 'wb') as f:
            pickle.dump(OLD, f, protocol=proto)
    write_vocab(j('old.vocab'), OLD)
    write_vocab(j('new.vocab'), NEW)

    sd = v1_state_dict(len(OLD), g)
    assert len(sd) == 19
    legacy = dict(_use_new_zipfile_serialization=False)
    torch.save(sd, j('v1_legacy_bare.pth'), **legacy)
    torch.save({'model': sd}, j('v1_legacy_model.pth'), **legacy)
    torch.save({'model': sd, 'opt': {'state': {}, 'hypers': []}},
               j('v1_zip_model.pth'))
    v2 = collections.OrderedDict((k, v) for k, v in sd.items()
                                 if '.module.weight_hh_l0' not in k)
    assert len(v2) == 16
    torch.save(v2, j('v2_zip_bare.pth'))
    nob = collections.OrderedDict((k, v) for k, v in sd.items()
                                  if k != '1.decoder.bias')
    torch.save(nob, j('v1_nobias.pth'), **legacy)

    lm = load_pretrained(j('v1_legacy_bare.pth'), j('itos2.pkl'),
                         v2_lm_keys(len(NEW)))
    torch.save(lm, j('expected_lm.pth'))
    enc = collections.OrderedDict(
        ('0.module.' + k[2:], v) for k, v in v2_lm_keys(len(NEW)).items()
        if k.startswith('0.'))
    assert len(enc) == 14
    torch.save(load_pretrained(j('v1_legacy_bare.pth'), j('itos4.pkl'), enc),
               j('expected_clas.pth'))
    torch.save(load_pretrained(j('v1_nobias.pth'), j('itos2.pkl'),
                               v2_lm_keys(len(NEW))),
               j('expected_nobias.pth'))
    # every fixture gives the same LM
    for f in ('v1_legacy_model.pth', 'v1_zip_model.pth', 'v2_zip_bare.pth'):
        other = load_pretrained(j(f), j('itos4.pkl'), v2_lm_keys(len(NEW)))
        assert all(torch.equal(lm[k], other[k]) for k in lm), f

    pwned = j('pwned')
    with open(j('evil.pkl'), 'wb') as f:
        pickle.dump(Evil(pwned), f, protocol=2)
    torch.save({'model': Evil(pwned)}, j('evil.pth'), **legacy)
    print('%d old tokens, %d new, %d v1 keys' % (len(OLD), len(NEW), len(sd)))


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'make':
        make(sys.argv[2])
    else:
        sys.exit(__doc__)
