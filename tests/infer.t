#!/bin/sh
# infer: learn.predict on fastai-made files (torch.save'd by
# tests/ref/clas_ref.py) against PyTorch's answers, texts from arguments,
# files, folders and stdin, --json, --eval, --generate, and bad input.
. "$(dirname "$0")/lib.sh"
REF=$(cd "$(dirname "$0")" && pwd)/ref/clas_ref.py
cd "$T" || exit 1
TAB=$(printf '\t')

exits 0 "-h exits 0" infer -h
is "$(head -c 12 "$T/.out")" "usage: infer" "-h prints the usage on stdout"
exits 2 "no model: usage error" infer
exits 2 "unknown flag" infer --frobnicate m.pth
exits 2 "--temperature 0" infer --generate hi -t 0 m.pth
exits 2 "--show-results needs --eval" infer --show-results 3 m.pth
exits 2 "-b junk" infer -b x m.pth hi
exits 1 "missing model" infer nothere.pth "some text"
errmatch "nothere.pth" "the message names the file"

"$PY" -c 'import torch' 2>/dev/null || { done_testing; }
check "reference files (torch 1.13)" "$PY" "$REF" files .

# probs within 2e-5 of PyTorch, line by line: close GOT WANT
close() {
	awk -v want="$2" 'BEGIN { while ((getline l < want) > 0) w[++n] = l }
	{ k = split(w[NR], a, " "); if (NF - 2 != k) bad = 1
	  for (i = 1; i <= k; i++) { d = $(i + 2) - a[i]; if (d < 0) d = -d
	                              if (d > 2e-5) bad = 1 } }
	END { exit bad || NR != n }' FS="$TAB" "$1"
}
head -2 want_probs >want2
infer -q -v vocab clas.pth "i liked the movie" "the plot was awful" >got2
close got2 want2; ok $? "texts as arguments: probabilities == PyTorch (fastai file)"
is "$(cut -f1,2 got2 | tr '\n' ' ')" "1${TAB}2 2${TAB}2 " \
   "name = argument number, label = argmax (fastai file: labels 0..2)"
infer -q -v vocab clas.pth <texts >got4
close got4 want_probs; ok $? "stdin, one text a line, incl. a 2-chunk text: == PyTorch"
infer -q -v vocab -b 1 clas.pth <texts >got4b
close got4b want_probs; ok $? "-b 1 (predict's batch of one) gives the same"
mkdir -p dir/sub
sed -n 1p texts >dir/b.txt; sed -n 2p texts >dir/sub/a.txt
sed -n 3p texts >dir/c.md
infer -q -v vocab -f dir clas.pth >gotd
is "$(cut -f1 gotd | tr '\n' ' ')" "dir/b.txt dir/sub/a.txt " \
   "-f folder: every .txt under it, sorted, one document each"
head -2 want_probs >wantd
close gotd wantd; ok $? "-f folder: probabilities == PyTorch"
infer -q -v vocab --json clas.pth "i liked the movie" >gotj
"$PY" -c '
import json, sys
d = json.loads(open("gotj").read())
w = [float(x) for x in open("want_probs").readline().split()]
assert d["name"] == "1" and d["label"] == "2" and d["index"] == 2
assert all(abs(d["probs"][str(k)] - w[k]) < 2e-5 for k in range(3))
'; ok $? "--json: name, label, index, probs by label"

# the vocab is found beside the model (model.vocab, or vocab) without -v
cp vocab clas.vocab
infer -q clas.pth "i liked the movie" >gotv
is "$(cut -f3 gotv)" "$(cut -f3 got2 | head -1)" "vocab found beside the model"
rm clas.vocab
mkdir nov && cp clas.pth nov/
exits 1 "no vocab anywhere: refused" infer -q nov/clas.pth "hello"
errmatch "vocab" "says to give the vocab"
head -20 vocab >small.vocab
exits 1 "a vocab of another size is refused" infer -q -v small.vocab clas.pth hi
errmatch "20 tokens" "the message gives both sizes"

# --eval on a labelled id stream (labels are the fastai file's 0 1 2)
{ printf 'valid\t2\txxbos i liked the movie\n'
  printf 'valid\t0\txxbos the plot was awful\n'
  printf 'train\t2\txxbos a great film , great plot\n'; } >ev.tok
check "numz the eval set" numz -q -v vocab -o ev.ids ev.tok
infer -q --eval ev.ids clas.pth >gote
is "$(head -1 gote)" "accuracy${TAB}0.666667${TAB}2/3" "--eval: accuracy"
is "$(sed -n 3p gote | cut -f1,3,4)" "0${TAB}0.000000${TAB}1" "--eval: recall, support"
is "$(tail -3 gote | tr '\n' '|')" \
   "0${TAB}0${TAB}0${TAB}1|1${TAB}0${TAB}0${TAB}0|2${TAB}0${TAB}0${TAB}2|" \
   "--eval: confusion matrix (rows true, columns predicted)"
exits 1 "--eval with -v: a vocab that is not the stream's is refused, shown or not" \
      infer -q -v small.vocab --eval ev.ids clas.pth
infer -q --eval ev.ids --split valid clas.pth >gots
is "$(head -1 gots)" "accuracy${TAB}0.500000${TAB}1/2" "--split valid"
infer -q -v vocab --eval ev.ids --show-results 2 clas.pth >gotr
is "$(head -3 gotr | tr '\n' '|')" \
   "text${TAB}category${TAB}category_|xxbos i liked the movie${TAB}2${TAB}2|xxbos the plot was awful${TAB}0${TAB}2|" \
   "--show-results: text, category, category_"
infer -q --eval ev.ids --json clas.pth >gotej
"$PY" -c '
import json; d = json.load(open("gotej"))
assert d["total"] == 3 and d["correct"] == 2
assert d["classes"][2]["predicted"] == [0, 0, 2]' ; ok $? "--eval --json"
# stdin lines and --eval on the same 150 documents (tok -l + numz makes
# the tokens infer's tokenizer makes from the lines): every document's
# label and probabilities are the same, at the same batch size
awk 'BEGIN { srand(5); split("the movie was i liked it plot film a good great bad awful", f, " ")
  for (i = 0; i < 150; i++) { n = 2 + int(rand() * 40); s = ""
    for (j = 0; j < n; j++) s = s (j ? " " : "") f[1 + int(rand() * 13)]; print s } }' >s.txt
tok -q -j 1 -l --label 0 s.txt >s.tok && numz -q -v vocab -o s.ids s.tok
infer -q -b 16 --json clas.pth <s.txt | jq -c '[.label, .probs]' >s.stdin
infer -q -b 16 --json --eval s.ids --show-results 150 clas.pth >s.ej
jq -c 'select(.probs) | [.category_, .probs]' s.ej >s.eval
is "$(wc -l <s.stdin)" 150 "stdin lines: one answer per document"
check "stdin lines: every document's label and probabilities are --eval's" \
	cmp s.stdin s.eval
is "$(sort -u s.eval | wc -l)" 150 "  (150 different answers)"
is "$(tail -1 s.ej | jq .total)" 150 "--eval --json --show-results: the summary still comes last"
cat s.txt | infer -q -b 16 --json clas.pth | jq -c '[.label, .probs]' >s.pipe
check "stdin from a pipe: the same answers" cmp s.pipe s.stdin
printf 'valid\tpos\txxbos i liked it\n' >bad.tok
numz -q -v vocab -o bad.ids bad.tok
exits 1 "--eval: a label the model does not know" infer -q --eval bad.ids clas.pth
errmatch "pos" "names the label"
head -c 60 ev.ids >cut.ids
exits 1 "--eval: truncated stream refused" infer -q --eval cut.ids clas.pth

# generation (LMLearner.predict), greedy via a tiny temperature
infer -q -v vocab --generate "i liked the movie" -n 12 -t 0.01 -s 3 lm.pth >gotg
is "$(cat gotg)" "$(cat want_gen)" "--generate: greedy words == PyTorch's argmax"
infer -q -v vocab --generate "i liked the movie" -n 30 -s 7 lm.pth >g1
infer -q -v vocab --generate "i liked the movie" -n 30 -s 7 lm.pth >g2
is "$(cat g1)" "$(cat g2)" "--generate: same seed, same text"
is "$(wc -w <g1 | tr -d ' ')" 34 "--generate: the prompt and 30 words"
exits 1 "--generate with a classifier" infer -q -v vocab --generate hi clas.pth
errmatch "not a language model" "says it needs an LM"
exits 1 "classify with an LM" infer -q -v vocab lm.pth hi
errmatch "not a text classifier" "says it needs a classifier"
head -c 3000 clas.pth >trunc.pth
exits 1 "truncated checkpoint refused" infer -q -v vocab trunc.pth hi

# a full stdout is an error, not a silent success (issue 16)
infer -q -v vocab --generate "i liked the movie" -n 5 -s 3 lm.pth \
	>/dev/full 2>"$T/.err"
is $? 1 "--generate >/dev/full: exit 1"
errmatch "^infer: stdout: write error" "says the write failed"

# ---- hostile checkpoints (issue 16) ----------------------------------------
# A small classifier of ours with three labels (awdtrain, encsave,
# clastrain on a tiny corpus), then files that lie about it
# (tests/ref/pth_hostile.py): refused with a sentence, never a crash, a
# read outside a storage or a different answer.
HOST=$(dirname "$REF")/pth_hostile.py
PTH=${ULMFIT_BUILD:-$(dirname "$REF")/../../build}/tests/pth
awk 'BEGIN { srand(7); split("the movie was i liked it hated plot film a", f, " ")
  for (i = 0; i < 240; i++) { lab = i % 3
    split(lab == 0 ? "good great" : lab == 1 ? "bad awful" : "late early", w, " ")
    s = "xxbos"; n = 3 + int(rand() * 8); k = int(rand() * n)
    for (j = 0; j < n; j++) { s = s " " f[1 + int(rand() * 10)]; if (j == k) s = s " " w[1 + int(rand() * 2)] }
    printf "%s\t%s\t%s\n", (i < 180 ? "train" : "valid"),
           (lab == 0 ? "pos" : lab == 1 ? "neg" : "time"), s } }' >h.tok
numz -q -w hvocab -f 1 -o h.ids h.tok && lmbatch -q -b 8 -l 10 -e 1 -o h.lmb h.ids
awdtrain -q --emb 4 --hid 8 --layers 2 -l 1e-2 -v hvocab -o hlm.pth h.lmb >/dev/null &&
encsave -o henc.pth hlm.pth
check "clastrain writes a small 3-label classifier" \
	clastrain -q -e henc.pth -v hvocab -o hclas.pth -n 1 -b 16 h.ids
infer -q hclas.pth "the movie was late" >want.h
is "$(cut -f2 want.h | grep -cx 'pos\|neg\|time')" 1 "infer names one of its labels"
"$PTH" flip hclas.pth >flip.out 2>&1
ok $? "every one-bit flip of clastrain's checkpoint is refused or harmless: $(cat flip.out)"
"$PY" "$HOST" make hclas.pth <<'JOBS'
same.pth same
stride.pth stride 0.module.encoder.weight
offset.pth offset 1.layers.1.2.weight
wrap.pth wrap
flip.pth flipname
three2.pth meta label.2=
nan.pth meta drop_mult=nan
neg.pth meta drop_mult=-3
ps.pth meta ps=1
bptt.pth meta bptt=0
JOBS
"$PY" "$HOST" make hlm.pth lstride.pth stride 1.decoder.weight
infer -q same.pth "the movie was late" >got.h
is "$(cat got.h)" "$(cat want.h)" "the hostile writer's control file gives the same answer"
exits 1 "classify: a stride past the storage (was SIGSEGV)" \
	infer -q stride.pth "the movie was late"
errmatch "^infer: stride.pth: .*reaches past the end of storage" "... with a sentence"
exits 1 "--eval: an offset of 2^63-10 (was: heap bytes read as weights)" \
	infer -q --eval h.ids offset.pth
errmatch "^infer: offset.pth: .*starts at element 9223372036854775798" "... with a sentence"
exits 1 "--generate: a stride past the storage" \
	infer -q -v hvocab --generate "the movie" -n 3 lstride.pth
errmatch "^infer: lstride.pth: .*reaches past the end" "... with a sentence"
exits 1 "clastrain -c: a stride past the storage" \
	clastrain -q -c stride.pth -o x.pth h.ids
exits 1 "clastrain -c: an optimizer moment whose shape wraps" \
	clastrain -q -c wrap.pth -o x.pth h.ids
errmatch "dimension of 4294967296" "... names the dimension"
exits 1 "the metadata record renamed in the directory (was: a bare file, label \"1\" for \"late\")" \
	infer -q flip.pth "the movie was late"
errmatch "^infer: flip.pth: record flip/ulmfit/leta: its local header names another record" \
	"... refused as damaged"
exits 1 "a head of 3 outputs with 2 labels in the metadata (was: a class named \"2\")" \
	infer -q three2.pth "the movie was late"
is "$(cat "$T/.err")" "infer: three2.pth: head has 3 outputs but 2 labels" "... says so"
exits 1 "clastrain -c: the same file" clastrain -q -c three2.pth -o x.pth h.ids
exits 1 "drop_mult=nan in the metadata" infer -q nan.pth "the movie"
errmatch "metadata drop_mult=nan is not a finite number" "... as --drop-mult nan is refused"
exits 1 "clastrain -c: drop_mult=nan" clastrain -q -c nan.pth -o x.pth h.ids
exits 1 "drop_mult=-3 in the metadata" infer -q neg.pth "the movie"
errmatch "drop_mult=-3: --drop-mult must be >= 0" "... as --drop-mult -3 is refused"
exits 2 "... as the command line refuses it" clastrain -q -c hclas.pth --drop-mult -3 -o x.pth h.ids
exits 1 "ps=1 in the metadata" infer -q ps.pth "the movie"
errmatch "ps=1: --ps must be in \[0, 1\)" "... as --ps 1 is refused"
exits 1 "bptt=0 in the metadata" infer -q bptt.pth "the movie"
errmatch "metadata bptt=0 is not an integer from 1" "... says so"
test ! -e x.pth; ok $? "no output from any refused run"
"$PY" "$HOST" torch stride.pth offset.pth >torch.out 2>&1
is "$(grep -c '^refused:' torch.out)" 2 "torch.load refuses the stride and offset files too"
done_testing
