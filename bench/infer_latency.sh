#!/bin/sh
# infer latency: one short review (40 words) through a text classifier
# with random weights, as a whole process (start, load, tokenize, predict,
# exit), at the demo's size (vocab 30000, emb 64, hidden 192, 3 layers:
# 10 MB) and fastai's full size (vocab 60008, emb 400, hidden 1152: 177
# MB); then the same review answered by one resident infer reading stdin
# lines (the throughput of stdin lines against --eval: bench/infer_stdin.sh).
# Beside each, PyTorch 1.13 on the same file in the same run:
# a whole python process (import torch, torch.load, build, predict) and
# its warm predict (model already loaded: its best case).  Wall and CPU
# (user + system) ms are medians of INFER_BENCH_RUNS runs (default 5);
# INFER_BENCH_THREADS (default 2).  Not a test: it prints figures.
set -eu
B=${ULMFIT_BUILD:-build}
PY=/usr/bin/python3
N=${INFER_BENCH_RUNS:-5}
THR=${INFER_BENCH_THREADS:-2}
export PATH="$(pwd)/$B/bin:$PATH"
command -v infer >/dev/null || { echo "infer_latency.sh: run make first" >&2; exit 1; }
$PY -c 'import torch' 2>/dev/null || { echo "infer_latency.sh: no python3-torch" >&2; exit 1; }
D=$(mktemp -d "${TMPDIR:-/tmp}/inferbench.XXXXXX")
trap 'rm -rf "$D"' EXIT
now() { date +%s.%N; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, threads $THR, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-30s %10s %10s %10s %8s\n' size what "C wall" "C cpu" "torch" ratio
ratio() { echo "$1 $2" | awk '{printf "%.2fx", $2 / $1}'; }
for size in "demo 30000 64 192" "full 60008 400 1152"; do
	set -- $size
	d=$D/$1
	mkdir -p "$d"
	$PY bench/infer_ref.py make "$d" "$2" "$3" "$4"
	rev=$(cat "$d/review")
	c=$($PY bench/infer_ref.py whole "$N" infer -q -j "$THR" "$d/clas.pth" "$rev")
	t=$($PY bench/infer_ref.py whole "$N" $PY bench/infer_ref.py predict "$d" "$THR")
	tp=$($PY bench/infer_ref.py predict "$d" "$THR")
	cw=${c%%	*} cc=${c##*	} tw=${t%%	*}
	tpw=$(echo "$tp" | cut -f4)
	printf '%-5s %-30s %10s %10s %10s %8s\n' "$1" "one review, whole process ms" \
		"$cw" "$cc" "$tw" "$(ratio "$cw" "$tw")"
	printf '%-5s %-30s %10s %10s %10s %8s\n' "" "  vs torch warm predict ms" \
		"" "" "$tpw" "$(ratio "$cw" "$tpw")"
	r=$($PY bench/infer_ref.py resident "$N" "$d/review" infer -q -j "$THR" "$d/clas.pth")
	printf '%-5s %-30s %10s %10s %10s %8s\n' "" "resident: first answer ms" \
		"${r%%	*}" "" "" ""
	printf '%-5s %-30s %10s %10s %10s %8s\n' "" "resident: next answers ms" \
		"${r##*	}" "" "$tpw" "$(ratio "${r##*	}" "$tpw")"
done
echo "(ratio: torch / ours, > 1 is ours faster)"
