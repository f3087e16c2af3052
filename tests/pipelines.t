#!/bin/sh
# Every experiment Makefile in pipelines/ runs end to end on a tiny
# generated corpus laid out as the real one (IMDB's folders, the npm
# packages' tarballs), with tiny models: pipelines/imdb and imdb-direct on
# a fastai-v1 WT103-style weights file and pickled itos (written by torch,
# tests/ref/pretrained_ref.py) and on pipelines/pretrain's own output;
# pipelines/demo on a fake spam-assassin and sotu package.  Checks: each
# stage's file, the plots, up-to-date means nothing runs, a changed
# variable re-runs only the stages after it, a failing command fails its
# target and leaves no stale file (pipefail, .DELETE_ON_ERROR).
. "$(dirname "$0")/lib.sh"
need make gnuplot perl jq awk untar tok numz lmbatch awdtrain encsave clastrain infer
$PY -c 'import torch' 2>/dev/null || missing "python3-torch (import torch in $PY)"
P=$(cd "$(dirname "$0")/../pipelines" && pwd)
REF="$(dirname "$0")/ref/pretrained_ref.py"
BIN=$(dirname "$(command -v awdtrain)")
# tiny sizes for every pipeline; one thread: same results every run
TINY="BIN=$BIN THREADS=1 EMB=6 HID=10"
mk() { make --no-print-directory "$@" >"$T/.out" 2>"$T/.err"; }
mtime() { stat -c %y "$1"; }
png() { [ "$(od -A n -N 4 -t x1 "$1" 2>/dev/null | tr -d ' ')" = 89504e47 ]; }

# A corpus with IMDB's layout: train/{pos,neg}, test/{pos,neg}, unsup.
# Words from a fixed list (awk's rand after srand(1): the same every run);
# positive reviews lean on good words, negative ones on bad words.
gen() {   # gen DIR
	awk -v d="$1" 'BEGIN {
		srand(1)
		nw = split("the a movie film plot actor story scene it was is and of to this that i but very really", w, " ")
		np = split("good great wonderful fine loved best", pw, " ")
		nn = split("bad awful boring worst hated poor", nw2, " ")
		n = split("train/pos train/neg test/pos test/neg unsup", f, " ")
		for (k = 1; k <= n; k++) {
			system("mkdir -p " d "/" f[k])
			for (i = 0; i < 12; i++) {
				s = ""
				for (j = 0; j < 30 + int(rand() * 20); j++) {
					r = rand()
					if (r < 0.25 && f[k] ~ /pos/) t = pw[1 + int(rand() * np)]
					else if (r < 0.25 && f[k] ~ /neg/) t = nw2[1 + int(rand() * nn)]
					else t = w[1 + int(rand() * nw)]
					s = s (j ? " " : "") (j % 9 == 0 ? toupper(substr(t, 1, 1)) substr(t, 2) : t)
				}
				print s "." > (d "/" f[k] "/" i "_" k ".txt")
				close(d "/" f[k] "/" i "_" k ".txt")
			}
		}
	}'
}
gen "$T/imdb"
check "the tiny IMDB corpus: 60 reviews" test "$(find "$T/imdb" -name '*.txt' | wc -l)" -eq 60

# WT103-style weights as fastai v1 saved them (legacy format, emb 6,
# hidden 10, 3 layers) and the itos pickle, named as in wt103-fwd.tgz
check "torch writes the WT103-style fixture" $PY "$REF" make "$T/fx"
mkdir -p "$T/wt103"
cp "$T/fx/v1_legacy_bare.pth" "$T/wt103/lstm_fwd.pth"
cp "$T/fx/itos2.pkl" "$T/wt103/itos_wt103.pkl"

# --- pipelines/imdb: seed 002 ---------------------------------------
I="-C $P/imdb W=$T/iw DATA=$T/imdb PRETRAINED=$T/wt103 $TINY BS=4 SL=8 CLAS_BS=4 EPOCHS=1 MIN_FREQ=1"
mk $I; ok $? "pipelines/imdb runs on the tiny corpus and the WT103-style files"
sed 's/^/#   /' "$T/.err" | tail -5
for f in data.path pretrained.path all.tok vocab lm.ids clas.ids lm1.lmb \
         stage1.pth lm.pth finetuned1.pth clas1.pth clas2.pth clas3.pth \
         clas.pth eval.txt lm1.log lm2.log clas4.log; do
	test -s "$T/iw/$f"; ok $? "imdb: $f"
done
grep -q '^accuracy	' "$T/iw/eval.txt"; ok $? "imdb: eval.txt has the test accuracy"
is "$(awk '/^accuracy/ { split($3, a, "/"); print a[2] }' "$T/iw/eval.txt")" 24 \
	"imdb: evaluated on the 24 test reviews"
png "$T/iw/lm.png"; ok $? "imdb: lm.png is a PNG"
png "$T/iw/clas.png"; ok $? "imdb: clas.png is a PNG"
is "$(tail -n +2 "$T/iw/lm2.log" | wc -l)" 1 "imdb: EPOCHS=1: one unfrozen LM epoch"
is "$(numz -v "$T/iw/vocab" -d "$T/iw/clas.ids" | cut -f1 | sort -u | tr '\n' ' ')" \
	"test train " "imdb: the classifier sees train and test, not unsup"
mk -q $I; ok $? "imdb: up to date afterwards (make -q)"

# a changed classifier lr re-runs the classifier, not the LM
lm0=$(mtime "$T/iw/lm.pth") c0=$(mtime "$T/iw/clas1.pth")
mk -n $I CLAS_LR=0.03
grep -q '^clastrain .*-l 0.03 ' "$T/.out"; ok $? "imdb: CLAS_LR=0.03: clastrain re-runs with lr 0.03"
grep -q '^awdtrain\|^tok\|^numz\|^lmbatch' "$T/.out"; ok $((!$?)) "... and no awdtrain, tok, numz or lmbatch"
mk $I CLAS_LR=0.03; ok $? "imdb: CLAS_LR=0.03 runs"
is "$(mtime "$T/iw/lm.pth")" "$lm0" "... the LM checkpoint is untouched"
test "$(mtime "$T/iw/clas1.pth")" != "$c0"; ok $? "... the classifier is new"
mk -q $I CLAS_LR=0.03; ok $? "... and up to date with it"
mk -q $I; ok $((!$?)) "going back to the old lr is a change too"
# a changed LM lr re-runs the LM and what follows, not tok or numz
mk -n $I LM_LR=1e-3
grep -q '^awdtrain .*-c .*-l 1e-3' "$T/.out"; ok $? "imdb: LM_LR=1e-3 re-runs the unfrozen LM stage"
grep -q '^clastrain' "$T/.out"; ok $? "... and the classifier after it"
grep -q '^tok\|^numz\|^awdtrain .* -p ' "$T/.out"; ok $((!$?)) "... not tok, numz or the frozen stage"

# a failing tool fails its target and leaves nothing: a damaged
# checkpoint (newer than its inputs, so only infer re-runs).  (The -q
# above set the stamp back to the old lr: parsing writes it, so a dry run
# can only cause an extra run, never a missed one.)
mk $I CLAS_LR=0.03; ok $? "imdb: CLAS_LR=0.03 again: the classifier re-runs"
head -c 3000 "$T/iw/clas.pth" >"$T/cut.pth" && cat "$T/cut.pth" >"$T/iw/clas.pth"
mk $I CLAS_LR=0.03; ok $((!$?)) "imdb: infer on a damaged clas.pth fails the run"
test ! -e "$T/iw/eval.txt"; ok $? "... and leaves no eval.txt (.DELETE_ON_ERROR)"
# pipefail and .DELETE_ON_ERROR in every pipeline: the first command of
# a pipe fails, the last succeeds, the target was being written
for d in imdb imdb-direct pretrain demo sp; do
	make --no-print-directory -C "$P/$d" W="$T/pf" BIN="$BIN" \
	  --eval '$(W)/pf.txt: ; echo partial >$@; false | cat' "$T/pf/pf.txt" \
	  >"$T/.out" 2>"$T/.err"
	ok $((!$?)) "$d: a failure early in a pipe fails the rule (pipefail)"
	test ! -e "$T/pf/pf.txt"; ok $? "$d: ... and its half-written target is removed"
done

# --- pipelines/pretrain: writes WT103-style files awdtrain -p takes -------
R="-C $P/pretrain W=$T/pw TEXTS=$T/imdb/unsup $TINY BS=4 SL=8 MIN_FREQ=1"
mk $R; ok $? "pipelines/pretrain runs on a folder of texts"
sed 's/^/#   /' "$T/.err" | tail -5
for f in model/lstm_fwd.pth model/itos_wt103.pkl lm.log; do
	test -s "$T/pw/$f"; ok $? "pretrain: $f"
done
png "$T/pw/lm.png"; ok $? "pretrain: lm.png is a PNG"
is "$(od -A n -N 2 -t x1 "$T/pw/model/itos_wt103.pkl" | tr -d ' ')" 8002 \
	"pretrain: the itos is a protocol-2 pickle"
hdr() { od -A n -j 8 -N 4 -t u4 "$1"; od -A n -j 16 -N 8 -t x8 "$1"; }
numz -q -v "$T/pw/model/itos_wt103.pkl" -o "$T/a.ids" "$T/pw/gen.tok" &&
numz -q -v "$T/pw/itos.vocab" -o "$T/b.ids" "$T/pw/gen.tok"
ok $? "pretrain: numz reads the pickled itos"
is "$(hdr "$T/a.ids")" "$(hdr "$T/b.ids")" \
	"pretrain: the pickle is the same vocab (size, xxh64) as itos.vocab"
mk -q $R; ok $? "pretrain: up to date afterwards"

# SIZE=small without PRETRAINED: pipelines/pretrain makes the weights
# (variables given on the command line reach it too: TEXTS, BS, ...)
mk -C "$P/imdb" W="$T/smw" DATA="$T/imdb" SIZE=small PRETRAIN_W="$T/spw" \
  TEXTS="$T/imdb/unsup" BIN="$BIN" THREADS=1 EMB=6 HID=10 BS=4 SL=8 MIN_FREQ=1 \
  "$T/smw/stage1.pth"
ok $? "imdb SIZE=small: pretrains its own small LM, then fine-tunes it"
test -s "$T/spw/model/lstm_fwd.pth" && test -s "$T/smw/stage1.pth"; ok $? \
	"... pretrain's files in PRETRAIN_W, the frozen LM stage done"

# --- pipelines/imdb-direct: seed 000, on pretrain's own files -------
D="-C $P/imdb-direct W=$T/dw DATA=$T/imdb PRETRAINED=$T/pw/model $TINY BS=4 EPOCHS=1 MIN_FREQ=1"
mk $D; ok $? "pipelines/imdb-direct runs on pipelines/pretrain's weights and itos"
sed 's/^/#   /' "$T/.err" | tail -5
for f in vocab docs.ids wt103.pth enc.pth frozen.pth clas.pth eval.txt; do
	test -s "$T/dw/$f"; ok $? "imdb-direct: $f"
done
is "$(awk '/^accuracy/ { split($3, a, "/"); print a[2] }' "$T/dw/eval.txt")" 24 \
	"imdb-direct: evaluated on the 24 test reviews"
png "$T/dw/clas.png"; ok $? "imdb-direct: clas.png is a PNG"
mk -n $D EPOCHS=2
grep -q '^clastrain .*--unfreeze -n 2' "$T/.out"; ok $? "imdb-direct: EPOCHS=2 re-runs the unfrozen stage"
grep -q '^clastrain .* -e \|^awdtrain\|^tok' "$T/.out"; ok $((!$?)) "... not the frozen one, the encoder or tok"
mk $D PRETRAINED=$T/wt103; ok $? "imdb-direct runs on the torch-written WT103-style files"
mk -q $D PRETRAINED=$T/wt103; ok $? "... and is then up to date"

# --- pipelines/demo: fake npm packages, same layout ------------------
# spam-assassin: package/data/<group>/<id>.json ({id, group, text});
# sotu: package/data/<year>_<name>.txt
mkdir -p "$T/pk/spam/package/data/easy-ham-1" "$T/pk/spam/package/data/spam-2" \
	"$T/pk/sotu/package/data" "$T/dm/pretrain"
i=0
for f in "$T"/imdb/train/pos/*.txt "$T"/imdb/test/pos/*.txt; do
	i=$((i + 1)); id=$(printf %05d $i)
	jq -n --arg id "$id" --rawfile t "$f" \
	  '{id: $id, group: "easy-ham-1", text: ("From: a@b\nSubject: hi\n\n" + $t)}' \
	  >"$T/pk/spam/package/data/easy-ham-1/$id.json"
done
for f in "$T"/imdb/train/neg/*.txt "$T"/imdb/test/neg/*.txt; do
	i=$((i + 1)); id=$(printf %05d $i)
	jq -n --arg id "$id" --rawfile t "$f" \
	  '{id: $id, group: "spam-2", text: ("From: x@y\nSubject: $$$\n\n" + $t)}' \
	  >"$T/pk/spam/package/data/spam-2/$id.json"
done
y=1949
for f in $(find "$T/imdb" -name '*.txt' | sort); do
	y=$((y + 1)); cp "$f" "$T/pk/sotu/package/data/${y}_someone.txt"
done
tar czf "$T/dm/spam.tgz" -C "$T/pk/spam" package
tar czf "$T/dm/pretrain/sotu.tgz" -C "$T/pk/sotu" package
M="-C $P/demo W=$T/dm $TINY N=20 CHARS=400 BS=4 SL=8 CLAS_BS=4 LM_EPOCHS=2 PT_FROM=1990 PT_BS=4"
mk $M; ok $? "pipelines/demo runs on fake npm packages of the same layout"
sed 's/^/#   /' "$T/.err" | tail -5
for k in none ft pt; do
	for f in enc.pth clas1.pth clas.pth eval.txt clas.png; do
		test -s "$T/dm/$k/$f"; ok $? "demo: $k/$f"
	done
done
is "$(tail -n +2 "$T/dm/table.txt" | cut -c1-4 | tr '\n' ' ')" "none ft:  pt:  " \
	"demo: the transfer table has the three encoders"
is "$(awk 'NR > 1 && $NF ~ /^[0-9]+\/8$/ && $(NF - 1) ~ /^[01]\.[0-9]+$/' "$T/dm/table.txt" | wc -l)" 3 \
	"demo: ... each with its accuracy on the 8 held-out e-mails"
sed 's/^/#   /' "$T/dm/table.txt"
is "$(wc -l <"$T/dm/pretrain/texts.list")" 20 "demo: PT_FROM=1990 keeps the 20 speeches from 1990 on"
grep -q 'found in the pretrained vocab' "$T/dm/pt/load.txt"; ok $? \
	"demo: the fine-tuned LM was loaded from the pretrained files"
png "$T/dm/pt/lm.png"; ok $? "demo: pt/lm.png is a PNG"
mk -q $M "$T/dm/table.txt" plots; ok $? "demo: up to date afterwards (make -q)"
mk -n $M CLAS_LR=0.01
grep -q '^awdtrain' "$T/.out"; ok $((!$?)) "demo: CLAS_LR: no LM re-runs"
is "$(grep -c '^clastrain .* -e ' "$T/.out")" 3 "... the three classifiers do"
# make precision: the classifier recipe paired in fp32 and bf16 (bf16
# needs AVX512-BF16, as tests/precision.t)
if grep -qw avx512_bf16 /proc/cpuinfo; then
	mk $M precision SEEDS="1 2"
	ok $? "demo: make precision SEEDS=\"1 2\""
	is "$(wc -l <"$T/dm/precision/results.txt")" 12 \
		"... 2 seeds x 3 encoders x 2 precisions"
	is "$(awk '$1 == "pt" && $3 == 2' "$T/dm/precision/summary.txt" | wc -l)" 5 \
		"... a summary row for each of pt's 4 stages and its final eval, over 2 seeds"
	ok $(awk '$3 != "fp32" && $3 != "bf16" || NF != 8 { b = 1 } END { print b + 0 }' \
		"$T/dm/precision/results.txt") "... every result line: seed, encoder, precision, 5 accuracies"
fi

# --- pipelines/sp: the same fake e-mails on SentencePiece subwords -------
mkdir -p "$T/sw" && cp "$T/dm/spam.tgz" "$T/sw/spam.tgz"
S="-C $P/sp W=$T/sw $TINY N=20 CHARS=400 BS=4 SL=8 CLAS_BS=4 LM_EPOCHS=2 SP=120"
mk $S; ok $? "pipelines/sp runs on the fake spam-assassin package"
sed 's/^/#   /' "$T/.err" | tail -5
grep -q '^2	' "$T/.out"; ok $? "sp: infer classifies the two new texts"
for f in sp.model docs.tok lm.pth clas.pth eval.txt; do
	test -s "$T/sw/$f"; ok $? "sp: $f"
done
grep -q '▁' "$T/sw/docs.tok"; ok $? "sp: the tokens are SentencePiece pieces"
grep -a -q 'sp_xxh64=' "$T/sw/clas.pth"; ok $? "sp: the classifier records the SentencePiece model"
grep -q '^accuracy	' "$T/sw/eval.txt"; ok $? "sp: held-out accuracy"
mk -q $S "$T/sw/eval.txt"; ok $? "sp: up to date afterwards (make -q)"
mk -n $S SP=100
grep -q '^tok --sp-train 100' "$T/.out"; ok $? "sp: SP=100 retrains the SentencePiece model"
done_testing
