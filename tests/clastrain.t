#!/bin/sh
# clastrain: a separable task learned to 100%, fastai's table and logs, the
# four stages of gradual unfreezing as four commands (what trains and what
# stays), checkpoints torch.load reads, bit-identical resume after SIGINT,
# refusal of mismatched encoders/vocabs/labels, and usage errors.
. "$(dirname "$0")/lib.sh"
REF=$(cd "$(dirname "$0")" && pwd)/ref/clas_ref.py
cd "$T" || exit 1
TAB=$(printf '\t')

exits 0 "-h exits 0" clastrain -h
is "$(head -c 16 "$T/.out")" "usage: clastrain" "-h prints the usage on stdout"
exits 2 "no starting point" clastrain -o x.pth d.ids
exits 2 "two starting points" clastrain -e a.pth -c b.pth -o x.pth d.ids
exits 2 "no -o" clastrain -e a.pth d.ids
exits 2 "-o - (stdout carries the table)" clastrain -e a.pth -o - d.ids
exits 2 "three streams" clastrain -e a.pth -o x.pth a b c
exits 2 "bad lr" clastrain -e a.pth -o x.pth -l 1e-2:1e-3 d.ids
exits 2 "bad --moms" clastrain -e a.pth -o x.pth --moms 0.8,0.7 d.ids
exits 2 "--freeze-to out of range" clastrain -e a.pth -o x.pth --freeze-to 7 d.ids
exits 2 "-b 1 (BatchNorm needs 2 rows)" clastrain -e a.pth -o x.pth -b 1 d.ids
exits 1 "missing encoder" clastrain -e nothere.pth -o x.pth d.ids
errmatch "nothere.pth" "names the missing file"

"$PY" -c 'import torch' 2>/dev/null || missing "python3-torch (import torch in $PY)"
check "reference encoder (torch.save, save_encoder's 14 keys)" "$PY" "$REF" files .

# a separable task: the label is carried by one word
awk 'BEGIN { srand(7); split("the movie was i liked it hated plot film a", f, " ")
  for (i = 0; i < 400; i++) { lab = i % 2; split(lab ? "good great" : "bad awful", w, " ")
    s = "xxbos"; n = 3 + int(rand() * 8); k = int(rand() * n)
    for (j = 0; j < n; j++) { s = s " " f[1 + int(rand() * 10)]; if (j == k) s = s " " w[1 + int(rand() * 2)] }
    printf "%s\t%s\t%s\n", (i < 320 ? "train" : "valid"), (lab ? "pos" : "neg"), s } }' >data.tok
check "numz" numz -q -v vocab -o data.ids data.tok

clastrain -q -e enc.pth -v vocab -o c.pth -n 8 -l 1e-2 -b 16 --unfreeze \
	--log log.tsv --seed 1 data.ids >table 2>err
ok $? "8 unfrozen epochs train"
is "$(head -1 table)" "epoch     train_loss  valid_loss  accuracy  time    " \
   "fastai's table header"
is "$(sed -n 2p table | sed 's/[0-9]/9/g')" \
   "9         9.999999    9.999999    9.999999  99:99     " \
   "fastai's row layout (%.6f, mm:ss, padding)"
is "$(tail -1 table | awk '{print $4}')" "1.000000" "a separable task is learned to 100%"
is "$(wc -l <log.tsv | tr -d ' ')" 9 "--log: header + one line per epoch"
is "$(head -1 log.tsv)" "epoch${TAB}train_loss${TAB}valid_loss${TAB}accuracy${TAB}time" \
   "--log TSV header"
is "$(tail -1 log.tsv | cut -f1-4)" "$(tail -1 table | awk -v OFS="$TAB" '{print $1,$2,$3,$4}')" \
   "--log rows = the table's"
infer -q c.pth "the movie was good" "the plot was awful" >pred
is "$(cut -f2 pred | tr '\n' ' ')" "pos neg " "infer uses the labels and vocab recorded in the checkpoint"
infer -q --eval data.ids --split valid c.pth >ev
is "$(head -1 ev | cut -f2)" "1.000000" "infer --eval agrees: 100% on valid"

clastrain -q -e enc.pth -o j.pth -b 16 --log log.jsonl data.ids >/dev/null
"$PY" -c '
import json
r = [json.loads(l) for l in open("log.jsonl")]
assert len(r) == 1 and r[0]["epoch"] == 0 and 0 <= r[0]["accuracy"] <= 1
assert set(r[0]) == {"epoch", "train_loss", "valid_loss", "accuracy", "time"}
'; ok $? "--log .jsonl: JSON lines"

"$PY" - <<'PY'; ok $? "torch.load: {model, opt}, fastai's 26 keys, tied storage, int64 counters"
import torch
d = torch.load('c.pth')
assert set(d) == {'model', 'opt'}
m = d['model']
assert len(m) == 26, len(m)
k = list(m)
assert k[0] == '0.module.encoder.weight' and k[-1] == '1.layers.1.2.weight'
assert m['0.module.encoder.weight'].data_ptr() == m['0.module.encoder_dp.emb.weight'].data_ptr()
assert m['1.layers.0.0.num_batches_tracked'].dtype == torch.int64
assert int(m['1.layers.0.0.num_batches_tracked']) == 8 * 20
assert tuple(m['1.layers.0.2.weight'].shape) == (50, 24)
assert tuple(m['1.layers.1.2.weight'].shape) == (2, 50)
assert len(d['opt']['hypers']) == 5
PY

# gradual unfreezing: 4 stages, 4 commands (seed 002)
clastrain -q -e enc.pth -o s1.pth -l 2e-2 -b 16 --wd 0.1 --clip 0.1 data.ids >/dev/null &&
clastrain -q -c s1.pth -o s2.pth --freeze-to -2 -l 1e-2/2.6**4:1e-2 -b 16 data.ids >/dev/null 2>&1
exits 2 "lr must be numbers" clastrain -q -c s1.pth -o s2.pth --freeze-to -2 -l 1e-2/2.6**4:1e-2 -b 16 data.ids
check "stage 2: --freeze-to -2, slice lr" clastrain -q -c s1.pth -o s2.pth --freeze-to -2 -l 4.37664e-4:1e-2 -b 16 --wd 0.1 --clip 0.1 data.ids
check "stage 3: --freeze-to -3" clastrain -q -c s2.pth -o s3.pth --freeze-to -3 -l 2.18832e-4:5e-3 -b 16 --wd 0.1 --clip 0.1 data.ids
check "stage 4: --unfreeze, 2 epochs" clastrain -q -c s3.pth -o s4.pth --unfreeze -n 2 -l 4.37664e-5:1e-3 -b 16 --wd 0.1 --clip 0.1 data.ids
"$PY" - <<'PY'; ok $? "each stage trains exactly fastai's groups (embedding, rnns.0/1/2, head)"
import torch
enc = torch.load('enc.pth')
s = [torch.load('s%d.pth' % i)['model'] for i in (1, 2, 3, 4)]
def same(a, b, pre):
    return all(torch.equal(a[k], b[k]) for k in a if k.startswith(pre))
def encsame(sd, pre):
    return all(torch.equal(sd['0.module.' + k], v) for k, v in enc.items() if k.startswith(pre))
# stage 1 frozen: the whole encoder is the encoder file's
assert encsame(s[0], '')
assert not torch.equal(s[0]['1.layers.1.2.weight'], s[1]['1.layers.1.2.weight'])
# stage 2 (freeze_to -2): rnns.2 and the head move; embedding, rnns.0/1 not
assert same(s[0], s[1], '0.module.encoder') and same(s[0], s[1], '0.module.rnns.0')
assert same(s[0], s[1], '0.module.rnns.1')
assert not same(s[0], s[1], '0.module.rnns.2')
# stage 3 (freeze_to -3): rnns.1 moves too, rnns.0 and embedding not
assert same(s[1], s[2], '0.module.encoder') and same(s[1], s[2], '0.module.rnns.0')
assert not same(s[1], s[2], '0.module.rnns.1')
# stage 4: everything
assert not same(s[2], s[3], '0.module.encoder') and not same(s[2], s[3], '0.module.rnns.0')
# BatchNorm trains in every stage (train_bn)
assert not torch.equal(s[0]['1.layers.0.0.weight'], s[1]['1.layers.0.0.weight'])
PY

# SIGINT: a checkpoint, exit 130; --resume gives the same bytes as one run
mkdir r1 r2
clastrain -q -e enc.pth -v vocab -o r1/x.pth -n 3 -l 1e-2 -b 16 --unfreeze data.ids >r1/out
CLASTRAIN_STOP_AT=30 clastrain -q -e enc.pth -v vocab -o r2/x.pth -n 3 -l 1e-2 \
	-b 16 --unfreeze data.ids >r2/out 2>r2/err
is "$?" 130 "SIGINT: exit 130 after saving"
grep -q "resume" r2/err; ok $? "SIGINT: says how to resume"
is "$(ls r2 | tr '\n' ' ')" "err out x.pth " "SIGINT: no temp files left"
clastrain -q --resume r2/x.pth -o r2/x.pth data.ids >>r2/out
ok $? "--resume runs"
cmp -s r1/x.pth r2/x.pth; ok $? "interrupted + resumed == uninterrupted, byte for byte"
is "$(grep -v epoch r2/out | cut -c1-40)" "$(grep -v epoch r1/out | cut -c1-40)" \
   "the resumed run prints the same epochs"
exits 1 "--resume of a finished run" clastrain -q --resume r1/x.pth -o y.pth data.ids
errmatch "finished" "says the run finished"
exits 2 "--resume takes no new settings" clastrain -q --resume r2/x.pth -l 1e-3 -o y.pth data.ids

# fastai's training loop done by hand in PyTorch (clas_ref.py train):
# freeze_to(-2), slice lrs, one-cycle lr/mom, wd (not on BatchNorm), clip
# per group, AR/TAR, Adam; dropout 0 so both see the same numbers
mkdir tp
check "reference training run (torch)" "$PY" "$REF" train tp
numz -q -v tp/vocab -o tp/data.ids tp/data.tok
check "the same stage with clastrain" clastrain -q -c tp/start.pth --freeze-to -2 \
	-l 1e-3:1e-2 -n 3 -b 4 --wd 0.1 --clip 0.5 --drop-mult 0 --ps 0 \
	-o tp/got.pth tp/data.ids
"$PY" - <<'PY'; ok $? "3 steps of fit_one_cycle == PyTorch (every tensor within 1% of its move; frozen ones exact)"
import torch
w = torch.load('tp/want.pth'); g = torch.load('tp/got.pth')['model']
s = torch.load('tp/start.pth')
assert set(w) == set(g), set(w) ^ set(g)
for k in w:
    a, b, c = w[k].double(), g[k].double(), s[k].double()
    d, mv = (a - b).abs().max().item(), (a - c).abs().max().item()
    if mv == 0:
        assert d == 0, k                # frozen stays bit-exact
    else:
        assert d <= 0.01 * mv + 1e-7, (k, d, mv)
assert int(g['1.layers.0.0.num_batches_tracked']) == 3
PY

# continuing from fastai's own learn.save file (no labels in it: the
# stream's sorted labels are taken when their number fits)
"$PY" -c '
import torch
m = torch.load("clas.pth")
m["1.layers.1.2.weight"] = m["1.layers.1.2.weight"][:2].clone()
torch.save(m, "fa.pth")'
check "continue from a fastai classifier file" clastrain -q -c fa.pth -o fa2.pth -b 16 data.ids
is "$(infer -q -v vocab fa2.pth 'the movie' | cut -f2 | grep -c -E '^(neg|pos)$')" 1 \
   "its labels are now the stream's"
exits 1 "3 classes in the file, 2 in the stream: refused" \
	clastrain -q -c clas.pth -o fa3.pth -b 16 data.ids
errmatch "3 classes" "says how many classes the model has"

# our own pipeline: lmbatch | awdtrain -> encsave -> clastrain -> infer
lmbatch -q -b 8 -l 10 -e 2 -v vocab -o lm.lmb data.ids &&
awdtrain -q --emb 16 --hid 24 -v vocab -l 1e-2 -o lm.pth lm.lmb >/dev/null &&
encsave lm.pth -o e2.pth
ok $? "awdtrain + encsave make an encoder"
clastrain -q -e e2.pth -o c2.pth -b 16 -n 4 --unfreeze -l 1e-2 data.ids >t2
is "$(tail -1 t2 | awk '{print $4}')" "1.000000" "clastrain on it learns the task"
is "$(infer -q c2.pth 'the movie was good' | cut -f2)" "pos" "infer on the result"
infer -q --generate "the movie" -n 5 -s 1 lm.pth >g
is "$(wc -w <g | tr -d ' ')" 7 "infer --generate on awdtrain's LM"

# refusals
sed 's/^movie$/film2/' vocab >vocab2                    # same size, other vocab
numz -q -v vocab2 -o data2.ids data.tok
exits 1 "continuing on a stream of another vocab is refused" \
	clastrain -q -c c.pth -o y.pth -b 16 data2.ids
errmatch "another vocab" "says another vocab"
{ cat vocab; printf 'extra\n'; } >vocab3
numz -q -v vocab3 -o data3.ids data.tok
exits 1 "an encoder with another vocab size is refused" \
	clastrain -q -e enc.pth -o y.pth -b 16 data3.ids
errmatch "rows" "gives the embedding rows"
exits 1 "-v with a vocab the stream was not made with" \
	clastrain -q -e enc.pth -v vocab2 -o y.pth -b 16 data.ids
exits 1 "a text file is not an encoder" clastrain -q -e texts -o y.pth data.ids
"$PY" -c '
import torch
d = torch.load("enc.pth")
d["rnns.3.weight_hh_l0_raw"] = torch.zeros(8, 3)
torch.save(d, "bad.pth")'
exits 1 "tensors that do not make an AWD-LSTM are refused" clastrain -q -e bad.pth -o y.pth -b 16 data.ids
printf 'valid\tmeh\txxbos the plot\n' >odd.tok; cat data.tok >>odd.tok
numz -q -v vocab -o odd.ids odd.tok
exits 1 "a validation label the training set lacks" clastrain -q -e enc.pth -o y.pth -b 16 odd.ids
errmatch "meh" "names the label"
head -c 100 data.ids >cut.ids
exits 1 "truncated stream" clastrain -q -e enc.pth -o y.pth -b 16 cut.ids
exits 1 "fewer documents than a batch" clastrain -q -e enc.pth -o y.pth -b 1000 data.ids
test ! -e y.pth; ok $? "no output file after a refusal"
done_testing
