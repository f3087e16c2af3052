#!/bin/sh
# awdtrain: a tiny LM learns a tiny corpus, fastai's epoch table and logs,
# pipes and separate validation streams, checkpoints torch.load reads (16
# keys, tied storage, fastai's opt state), a frozen stage trains only the
# embedding/decoder, bit-identical --resume after SIGINT mid-epoch, and
# refusal of bad input.
. "$(dirname "$0")/lib.sh"
REF=$(cd "$(dirname "$0")" && pwd)/ref/pretrained_ref.py
cd "$T" || exit 1
TAB=$(printf '\t')

exits 0 "-h exits 0" awdtrain -h
is "$(head -c 15 "$T/.out")" "usage: awdtrain" "-h prints the usage on stdout"
exits 2 "no -o" awdtrain d.lmb
exits 2 "two starting points" awdtrain -c a.pth --resume b.pth -o x.pth d.lmb
exits 2 "-p without -P" awdtrain -p w.pth -v vocab -o x.pth d.lmb
exits 2 "three streams" awdtrain -o x.pth a b c
exits 2 "bad lr" awdtrain -o x.pth -l 1e-2:1e-3 d.lmb
exits 2 "--freeze-to out of range" awdtrain -o x.pth --freeze-to 5 d.lmb
exits 2 "sizes with a checkpoint" awdtrain -c a.pth --emb 8 -o x.pth d.lmb
exits 1 "missing stream" awdtrain -o x.pth nothere.lmb
errmatch "nothere.lmb" "names the missing file"

# a corpus with a cycle of 16 words: learnable except right after xxbos
awk 'BEGIN { srand(3); split("the cat sat on mat . a dog ran in park and bird flew over tree", f, " ")
  for (i = 0; i < 300; i++) { s = "xxbos"; n = 5 + int(rand() * 20); k = int(rand() * 16)
    for (j = 0; j < n; j++) s = s " " f[1 + (k + j) % 16]
    printf "%s\t\t%s\n", (i < 250 ? "train" : "valid"), s } }' >d.tok
check "numz" numz -q -w vocab -f 1 -o d.ids d.tok
check "lmbatch 10 epochs" lmbatch -q -b 8 -l 10 -e 10 -o d10.lmb d.ids
S="--emb 16 --hid 32 --drop-mult 0.2"
awdtrain -q $S -l 3e-2 -v vocab -o lm.pth --log log.tsv d10.lmb >table 2>err
ok $? "10 epochs from scratch"
is "$(head -1 table)" \
   "epoch     train_loss  valid_loss  accuracy  perplexity  time    " \
   "fastai's table header"
is "$(sed -n 2p table | sed 's/[0-9]/9/g')" \
   "9         9.999999    9.999999    9.999999  99.999999   99:99     " \
   "fastai's row layout (%.6f, mm:ss, padding)"
vl=$(tail -1 table | awk '{print $3}') acc=$(tail -1 table | awk '{print $4}')
check "valid loss falls below 0.6 (was ln 32 = 3.47): $vl" \
	awk -v v="$vl" 'BEGIN { exit !(v < 0.6) }'
check "accuracy above 0.8: $acc" awk -v v="$acc" 'BEGIN { exit !(v > 0.8) }'
is "$(tail -1 table | awk '{printf "%.4f", exp($3)}')" \
   "$(tail -1 table | awk '{printf "%.4f", $5}')" "perplexity = exp(valid_loss)"
is "$(wc -l <log.tsv | tr -d ' ')" 11 "--log: header + one line per epoch"
is "$(head -1 log.tsv)" \
   "epoch${TAB}train_loss${TAB}valid_loss${TAB}accuracy${TAB}perplexity${TAB}time" \
   "--log TSV header"
is "$(tail -1 log.tsv | cut -f1-5)" \
   "$(tail -1 table | awk -v OFS="$TAB" '{print $1,$2,$3,$4,$5}')" "--log rows = the table's"

# the same stream through a pipe gives the same model
check "lmbatch 2 epochs" lmbatch -q -b 8 -l 10 -e 2 -o d2.lmb d.ids
check "file" awdtrain -q $S -o f.pth --log f.jsonl d2.lmb
lmbatch -q -b 8 -l 10 -e 2 d.ids | awdtrain -q $S -o g.pth - >/dev/null
ok $? "lmbatch | awdtrain -"
check "--log x.jsonl writes JSON lines" grep -q '^{"epoch":1,"train_loss":[0-9.]*,"valid_loss":[0-9.]*,"accuracy":[0-9.]*,"perplexity":[0-9.]*,"time":[0-9.]*}$' f.jsonl
check "separate streams" lmbatch -q -b 8 -l 10 -e 2 --valid-out v.lmb -o t.lmb d.ids
check "awdtrain train.lmb valid.lmb" awdtrain -q $S -o h.pth t.lmb v.lmb
is "$(awk 'NR > 1 {print $3}' "$T/.out")" "$(awk -F'\t' '{print $0}' f.jsonl | sed 's/.*"valid_loss":\([0-9.]*\).*/\1/')" \
   "same valid losses as the combined stream"

# interrupted mid-epoch (SIGINT through the handler), resumed: bit-identical
AWDTRAIN_STOP_AT=65 awdtrain -q $S -l 3e-2 -v vocab -o r.pth d10.lmb >/dev/null 2>"$T/.err"
ok $(($? != 130)) "SIGINT at step 65 exits 130"
errmatch "interrupted at epoch 1, batch 15; saved r.pth" "says where it stopped"
cp r.pth r0.pth
awdtrain -q --resume r.pth -o r.pth d10.lmb >rtable 2>err
ok $? "--resume finishes the run"
is "$(tail -1 rtable | cut -c1-58)" "$(tail -1 table | cut -c1-58)" \
   "the resumed run prints the same last row (time aside)"
exits 1 "--resume of a finished run is refused" awdtrain -q --resume r.pth -o r2.pth d10.lmb
errmatch "finished" "says the run finished"
exits 1 "--resume with another stream is refused" awdtrain -q --resume lm.pth -o r3.pth d2.lmb

# a frozen stage (fastai freeze(): only embedding + decoder train)
check "-c lm.pth --freeze" awdtrain -q -c lm.pth --freeze -l 1e-2 -o fz.pth d2.lmb

# refusals
numz -q -w vocab2 -f 1 -o e.ids d.tok >/dev/null 2>&1
printf 'extra\n' >>vocab2
numz -q -v vocab2 -o e.ids d.tok && lmbatch -q -b 8 -l 10 -o e.lmb e.ids
exits 1 "a checkpoint with another vocab is refused" awdtrain -q -c lm.pth -o x.pth e.lmb
errmatch "vocab" "the message names the vocab"
exits 1 "-v with another vocab is refused" awdtrain -q $S -v vocab2 -o x.pth d2.lmb
head -c 3000 lm.pth >trunc.pth
exits 1 "a truncated checkpoint is refused" awdtrain -q -c trunc.pth -o x.pth d2.lmb
head -c 20000 d2.lmb >trunc.lmb
exits 1 "a truncated stream is refused" awdtrain -q $S -o x.pth trunc.lmb
check "no half-written output" test ! -e x.pth
exits 1 "a validation stream alone is refused" awdtrain -q $S -o x.pth v.lmb

"$PY" -c 'import torch' 2>/dev/null || done_testing

# fastai's load_pretrained: a tiny fastai-v1 legacy LM (WT103's format) and
# its itos, rows matched to our vocab, then frozen
check "pretrained fixtures" "$PY" "$REF" make pf
awk 'BEGIN { srand(5); split("the movie w5 w299 , unseen café w17", f, " ")
  for (i = 0; i < 60; i++) { s = "xxbos"; for (j = 0; j < 12; j++) s = s " " f[1 + int(rand() * 8)]
    printf "%s\t\t%s\n", (i < 50 ? "train" : "valid"), s } }' >p.tok
numz -q -v pf/new.vocab -o p.ids p.tok && lmbatch -q -b 4 -l 8 -o p.lmb p.ids
check "-p wgts.pth -P itos.pkl -v vocab" awdtrain -q -p pf/v1_legacy_bare.pth \
	-P pf/itos2.pkl -v pf/new.vocab --emb 6 --hid 10 -l 1e-2 -o pt.pth p.lmb
"$PY" - <<'PY'; ok $? "-p: LSTMs = fastai's load_pretrained result and frozen; embedding trained"
import torch
e = torch.load('pf/expected_lm.pth')
e = e.get('model', e)
m = torch.load('pt.pth')['model']
for k in m:
    assert torch.equal(e[k], m[k]) == ('rnns' in k), k
PY
# a bare state dict as fastai's learn.save(with_opt=False) writes it
"$PY" - <<'PY'; ok $? "torch.save of a fastai-style bare state dict"
import torch
m = torch.load('lm.pth')['model']
sd = {k: v.clone() for k, v in m.items()}
sd['0.encoder_dp.emb.weight'] = sd['0.encoder.weight']
sd['1.decoder.weight'] = sd['0.encoder.weight']
torch.save(sd, 'fastai.pth')
PY
check "-c a fastai file (no metadata: sizes and vocab from the shapes)" \
	awdtrain -q -c fastai.pth -l 1e-3 -o fa.pth d2.lmb
exits 1 "a fastai file of another vocab size is refused" \
	awdtrain -q -c fastai.pth -o x.pth e.lmb
errmatch "rows" "says the embedding has another number of rows"

"$PY" - <<'PY'; ok $? "torch.load: {model, opt}, fastai's 16 keys, tied storage, resume == uninterrupted, freeze kept the LSTMs"
import torch
d = torch.load('lm.pth')
assert set(d) == {'model', 'opt'}, set(d)
m = d['model']
keys = ['0.encoder.weight', '0.encoder_dp.emb.weight']
for l in range(3):
    keys += ['0.rnns.%d.weight_hh_l0_raw' % l, '0.rnns.%d.module.weight_ih_l0' % l,
             '0.rnns.%d.module.bias_ih_l0' % l, '0.rnns.%d.module.bias_hh_l0' % l]
keys += ['1.decoder.weight', '1.decoder.bias']
assert list(m) == keys, list(m)
V = m['0.encoder.weight'].shape[0]
assert m['0.encoder.weight'].shape == (V, 16)
assert m['0.rnns.0.weight_hh_l0_raw'].shape == (128, 32)
assert m['0.rnns.2.weight_hh_l0_raw'].shape == (64, 16)
assert m['0.encoder.weight'].data_ptr() == m['1.decoder.weight'].data_ptr()
assert m['0.encoder.weight'].data_ptr() == m['0.encoder_dp.emb.weight'].data_ptr()
assert len(d['opt']['state']) == 14 and len(d['opt']['hypers']) == 4
r = torch.load('r.pth')['model']
for k in keys:
    assert torch.equal(m[k], r[k]), k
f = torch.load('fz.pth')['model']
for k in keys:
    assert torch.equal(m[k], f[k]) == ('rnns' in k), k
g = torch.load('g.pth')['model']
h = torch.load('f.pth')['model']
for k in keys:
    assert torch.equal(g[k], h[k]), k
PY

# the LSTM state of a mid-epoch checkpoint: float32 records next to the
# weights that torch.load (and so fastai's learn.load) never sees; a
# checkpoint of the earlier format (the state as hex in the metadata)
# still resumes to the same run; one with neither is refused
"$PY" - <<'PY'; ok $? "mid-epoch: ulmfit/state.L.{h,c} records of (rows, out) float32, invisible to torch.load"
import torch, zipfile, struct
z = zipfile.ZipFile('r0.pth')
top = z.namelist()[0].split('/')[0]
meta = dict(l.split('=', 1) for l in z.read(top + '/ulmfit/meta').decode().splitlines())
rows, outs = int(meta['hidden_rows']), [32, 32, 16]
st = sorted(n for n in z.namelist() if '/ulmfit/state.' in n)
assert st == ['%s/ulmfit/state.%d.%s' % (top, l, k) for l in range(3) for k in 'ch'], st
for l in range(3):
    for k in 'hc':
        d = z.read('%s/ulmfit/state.%d.%s' % (top, l, k))
        assert len(d) == 4 * rows * outs[l], (l, k, len(d))
        assert any(struct.unpack('<%df' % (rows * outs[l]), d)), 'state all zero'
d = torch.load('r0.pth')
assert set(d) == {'model', 'opt'} and len(d['model']) == 16, list(d['model'])
# the same file as the earlier format wrote it, and one without any state
hx = ''.join(z.read('%s/ulmfit/state.%d.%s' % (top, l, k)).hex()
             for l in range(3) for k in 'hc')
for out, extra in (('rh.pth', 'hidden=' + hx + '\n'), ('rn.pth', '')):
    w = zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED)
    for n in z.namelist():
        if '/ulmfit/state.' in n:
            continue
        data = z.read(n)
        if n.endswith('/ulmfit/meta'):
            data += extra.encode()
        w.writestr(zipfile.ZipInfo(n), data)
    w.close()
PY
awdtrain -q --resume rh.pth -o rh.pth d10.lmb >htable 2>err
ok $? "--resume of a checkpoint with the state as hex text (the earlier format)"
is "$(tail -1 htable | cut -c1-58)" "$(tail -1 table | cut -c1-58)" \
   "... continues to the uninterrupted run's last row"
"$PY" -c "import torch; a = torch.load('rh.pth')['model']; b = torch.load('lm.pth')['model']; assert all(torch.equal(a[k], b[k]) for k in a)"
ok $? "... and weights"
exits 1 "a mid-epoch checkpoint without its LSTM state is refused" \
	awdtrain -q --resume rn.pth -o rn2.pth d10.lmb
errmatch "rn.pth: no LSTM state in it" "... saying so"

# issue 16: a stream damaged in the middle.  A file is read through before
# training, so nothing is trained on and no -o is written; a pipe is
# checked record by record, and the message says which checkpoint is left
# (a good one: resuming it gives the uninterrupted run's bytes).
flip() {    # flip FILE OFFSET: xor one byte with 0x01
	b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
sz=$(stat -c %s d2.lmb)
cp d2.lmb mid.lmb; flip mid.lmb $((sz * 3 / 4))
cp d2.lmb end.lmb; flip end.lmb $((sz - 3))
for f in mid end; do
	exits 1 "$f.lmb: damaged $f, a file" awdtrain -q $S -o dm.pth --log dm.tsv $f.lmb
	errmatch "^awdtrain: $f.lmb: corrupt stream" "... says corrupt stream"
	check "... before any training: no -o, no log" sh -c '! ls dm.pth dm.tsv dm.pth.tmp.* 2>/dev/null'
done
exits 1 "... and as stdin from the file" sh -c "awdtrain -q $S -o dm.pth - <mid.lmb"
check "... no -o" sh -c '! ls dm.pth 2>/dev/null'
# (the zip's folder is named after the file: f.pth in folders, to cmp)
mkdir dp de
cat mid.lmb | awdtrain -q $S -o dp/f.pth - >/dev/null 2>"$T/.err"
is $? 1 "damaged mid-pipe: exit 1"
errmatch "^awdtrain: -: corrupt stream" "... says corrupt stream"
errmatch "^awdtrain: dp/f.pth holds the run after epoch 1 of 2; continue with: awdtrain --resume dp/f.pth -o dp/f.pth" \
	"... and which checkpoint is left, from which epoch"
check "... which resumes on the good stream" awdtrain -q --resume dp/f.pth -o dp/f.pth d2.lmb
cmp -s dp/f.pth f.pth; ok $? "... to the uninterrupted run's bytes"
cat end.lmb | awdtrain -q $S -o de/f.pth - >/dev/null 2>"$T/.err"
is $? 1 "damaged trailer through a pipe: exit 1"
errmatch "^awdtrain: de/f.pth holds the run after epoch 2 of 2$" "... says the run in it is complete"
cmp -s de/f.pth f.pth; ok $? "... and it is (every record was checked)"

# -j 1 and -j 2 train the same weights and Adam state, bit for bit: the
# GEMMs are cut over our pool by whole rows or columns of C, each summed
# as one thread sums it (kernels/cpu/blas.c).  Sizes where the products
# (e.g. 1152 x 1024 x 256) are cut; OpenBLAS's own threads did not give
# one thread's bits.
check "lmbatch bs 32 x 36" lmbatch -q -b 32 -l 36 -e 1 -o j.lmb d.ids
J="-q --emb 64 --hid 256 -s 3"
check "-j 1" awdtrain $J -j 1 -o j1.pth j.lmb
check "-j 2" awdtrain $J -j 2 -o j2.pth j.lmb
is "$($PY "$(dirname "$REF")/pth_diff.py" j1.pth j2.pth | cut -d' ' -f1)" \
   0.000e+00 "... every float of the two checkpoints is equal"
done_testing
