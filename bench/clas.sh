#!/bin/sh
# The classifier at fastai's full size (vocab 60008, emb 400, hidden 1152,
# 3 layers; reviews of 100-500 tokens): clastrain training documents/s
# (one unfrozen epoch, bs 32, dropout and AR/TAR on), infer latency for one
# review (a whole process: start, load 177 MB, tokenize, predict) and
# throughput over many, next to PyTorch 1.13 on the same model in the same
# run (dropout off, model already loaded: its best case).  PyTorch runs with
# OPENBLAS_CORETYPE unset (as a user gets it) and set to the core type we
# detect.  CLAS_BENCH_DOCS (default 80: 72 train, 8 valid), CLAS_BENCH_THREADS
# (default 2).  Not a test: it prints figures.
set -eu
B=${ULMFIT_BUILD:-build}
PY=/usr/bin/python3
N=${CLAS_BENCH_DOCS:-80}
THR=${CLAS_BENCH_THREADS:-2}
export PATH="$(pwd)/$B/bin:$PATH"
command -v clastrain >/dev/null || { echo "clas.sh: run make first" >&2; exit 1; }
$PY -c 'import torch' 2>/dev/null || { echo "clas bench: no torch, skipped"; exit 0; }
D=$(mktemp -d "${TMPDIR:-/tmp}/clasbench.XXXXXX")
trap 'rm -rf "$D"' EXIT
now() { date +%s.%N; }
ct=
grep -qw avx512f /proc/cpuinfo && ct=SkylakeX
[ -z "$ct" ] && grep -qw avx2 /proc/cpuinfo && ct=Haswell

$PY tests/ref/clas_ref.py bench "$D" "$N" "$THR"
numz -q -v "$D/vocab" -o "$D/docs.ids" "$D/docs.tok"
ntrain=$(grep -c '^train' "$D/docs.tok")
used=$((ntrain / 32 * 32))
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, threads $THR, load $(cut -d' ' -f1 /proc/loadavg)"

t0=$(now)
clastrain -q -j "$THR" -e "$D/enc.pth" -v "$D/vocab" -o "$D/c.pth" -n 1 -b 32 \
	--unfreeze --log "$D/log.tsv" "$D/docs.ids" >/dev/null
t1=$(now)
epoch=$(tail -1 "$D/log.tsv" | cut -f5)
cut -f3 "$D/docs.tok" | sed 's/^xxbos //' >"$D/reviews"
head -1 "$D/reviews" >"$D/one"
t2=$(now)
infer -q -j "$THR" "$D/c.pth" "$(cat "$D/one")" >/dev/null
t3=$(now)
head -64 "$D/reviews" | infer -q -j "$THR" -b 32 "$D/c.pth" >/dev/null
t4=$(now)

c_train=$(echo "$used $epoch" | awk '{printf "%.3f", $1 / $2}')
c_one=$(echo "$t2 $t3" | awk '{printf "%.0f", ($2 - $1) * 1000}')
c_many=$(echo "$t3 $t4 $c_one" | awk '{printf "%.2f", 64 / ($2 - $1 - $3 / 1000)}')
t_unset=$(env -u OPENBLAS_CORETYPE $PY tests/ref/clas_ref.py bench "$D" "$N" "$THR")
t_set=$t_unset
[ -n "$ct" ] && t_set=$(OPENBLAS_CORETYPE=$ct $PY tests/ref/clas_ref.py bench "$D" "$N" "$THR")
best() { echo "$t_unset $t_set" | awk -v f="$1" -v hi="$2" '{
	a = $f; b = $(f + 3); if (hi) print (a > b ? a : b); else print (a < b ? a : b) }'; }
printf '%-34s %12s %12s %12s %8s\n' "" "C (ours)" "torch" "torch $ct" "vs best"
printf '%-34s %12s %12s %12s %8s\n' "train docs/s (bs 32, unfrozen)" "$c_train" \
	"$(echo "$t_unset" | cut -f1)" "$(echo "$t_set" | cut -f1)" \
	"$(echo "$c_train $(best 1 1)" | awk '{printf "%.2fx", $1 / $2}')"
printf '%-34s %12s %12s %12s %8s\n' "predict one review, ms" "$c_one" \
	"$(echo "$t_unset" | cut -f2)" "$(echo "$t_set" | cut -f2)" \
	"$(echo "$c_one $(best 2 0)" | awk '{printf "%.2fx", $2 / $1}')"
printf '%-34s %12s %12s %12s %8s\n' "eval docs/s (64 reviews, bs 32)" "$c_many" \
	"$(echo "$t_unset" | cut -f3)" "$(echo "$t_set" | cut -f3)" \
	"$(echo "$c_many $(best 3 1)" | awk '{printf "%.2fx", $1 / $2}')"
echo "(ours: train = one epoch incl. validation of $((N - ntrain)) docs; predict = a whole infer process incl. loading; eval excludes the load)"
