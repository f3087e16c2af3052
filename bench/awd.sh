#!/bin/sh
# Tokens/s of one AWD-LSTM LM training step (forward + backward, fastai's
# LM dropouts, AR/TAR; no optimizer step), ours next to PyTorch on the same
# model in the same run, at fastai's full size and a small size.
#   sh bench/awd.sh            (from the top of the tree, after make)
# AWD_BENCH_STEPS (default 3) timed steps after one warm-up step;
# AWD_BENCH_THREADS (default 2).  OPENBLAS_CORETYPE is removed for our
# run, so the figure is what a user gets from blas_setup()'s detection.
# PyTorch is run twice: with no OPENBLAS_CORETYPE (as a user gets it) and
# with the core type our run picked (its best case); the ratio is against
# the faster of the two.  Each size also prints its GEMM bound: the
# time of the step's products alone (gemm_bench step: every product, its
# shape and count, same threads and precision) and the fraction of it the
# whole step reaches (bound / best step time), fp32 and bf16.
set -eu
B=${ULMFIT_BUILD:-build}
STEPS=${AWD_BENCH_STEPS:-3}
THR=${AWD_BENCH_THREADS:-2}
PY=/usr/bin/python3
D=$(mktemp -d "${TMPDIR:-/tmp}/awdbench.XXXXXX")
trap 'rm -rf "$D"' EXIT
[ -f "$B/libcore.a" ] && [ -f "$B/libkern.a" ] || { echo "awd.sh: run make first" >&2; exit 1; }
for p in awd_bench gemm_bench; do
	cc -std=c11 -D_GNU_SOURCE -O2 -pthread -Ilibcore -Ikernels \
		-I/usr/include/x86_64-linux-gnu -o "$D/$p" bench/$p.c \
		"$B/libcore.a" "$B/libkern.a" "$B/libcore.a" -lopenblas -lxxhash -lm -pthread
done
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, threads $THR, $STEPS steps"
printf '%-6s %-34s %-10s %10s %10s %8s\n' size model blas 'tok/s' 'best' ratio
run() {   # name V E H B T
	name=$1; shift
	c=$(env -u OPENBLAS_CORETYPE "$D/awd_bench" "$@" "$STEPS" "$THR")
	ct=$(echo "$c" | cut -f2)
	t1=$(env -u OPENBLAS_CORETYPE $PY bench/awd_ref.py "$@" "$STEPS" "$THR")
	t2=$(OPENBLAS_CORETYPE=$ct $PY bench/awd_ref.py "$@" "$STEPS" "$THR")
	cm=$(echo "$c" | cut -f4) cb=$(echo "$c" | cut -f5)
	m1=$(echo "$t1" | cut -f3) b1=$(echo "$t1" | cut -f4)
	m2=$(echo "$t2" | cut -f3) b2=$(echo "$t2" | cut -f4)
	best=$(echo "$m1 $m2" | awk '{print ($1 > $2) ? $1 : $2}')
	desc="V=$1 E=$2 H=$3 bs=$4 sl=$5"
	printf '%-6s %-34s %-10s %10s %10s %8s\n' "$name" "C $desc" "$ct" "$cm" "$cb" \
		"$(echo "$cm $best" | awk '{printf "%.2fx", $1 / $2}')"
	# the same run before the packed recurrence (sgemm repacks W_hh at
	# every step) and with --precision bf16 where the CPU has it; the
	# ratios use tok/s per CPU second (awd_bench's last column), steadier
	# than wall time when other jobs share the cores
	cc7=$(echo "$c" | cut -f7)
	o=$(env -u OPENBLAS_CORETYPE ULMFIT_NO_PACKED_GEMM=1 "$D/awd_bench" "$@" "$STEPS" "$THR")
	printf '%-6s %-34s %-10s %10s %10s %8s\n' "" "C, W_hh repacked per step" "" \
		"$(echo "$o" | cut -f4)" "$(echo "$o" | cut -f5)" \
		"$(echo "$cc7 $(echo "$o" | cut -f7)" | awk '{printf "%.2fx", $1 / $2}')"
	echo "       (packed recurrence vs repacked, per CPU second: $cc7 vs $(echo "$o" | cut -f7) tok/s)"
	if grep -qw avx512_bf16 /proc/cpuinfo; then
		h=$(env -u OPENBLAS_CORETYPE AWD_BENCH_PRECISION=bf16 "$D/awd_bench" "$@" "$STEPS" "$THR")
		printf '%-6s %-34s %-10s %10s %10s %8s\n' "" "C --precision bf16" "" \
			"$(echo "$h" | cut -f4)" "$(echo "$h" | cut -f5)" \
			"$(echo "$(echo "$h" | cut -f7) $cc7" | awk '{printf "%.2fx", $1 / $2}')"
		echo "       (bf16 vs fp32, per CPU second: $(echo "$h" | cut -f7) vs $cc7 tok/s)"
	fi
	# the GEMM bound: the step's products alone (gemm_bench step), same
	# threads and precision; a step's best wall time against it
	g=$(env -u OPENBLAS_CORETYPE "$D/gemm_bench" step "$@" "$THR" 3)
	toks=$(($4 * $5))
	frac() { echo "$1 $2 $toks" | awk '{printf "%.0f%%", 100 * $1 * $2 / $3}'; }
	line="GEMMs alone $(echo "$g" | cut -f1) s a step: fp32 step at $(frac "$(echo "$g" | cut -f1)" "$cb") of that bound"
	if grep -qw avx512_bf16 /proc/cpuinfo; then
		line="$line; bf16 GEMMs $(echo "$g" | cut -f2) s, bf16 step at $(frac "$(echo "$g" | cut -f2)" "$(echo "$h" | cut -f5)")"
	fi
	echo "       ($line)"
	printf '%-6s %-34s %-10s %10s %10s\n' "" "torch" "(unset)" "$m1" "$b1"
	printf '%-6s %-34s %-10s %10s %10s\n' "" "torch" "$ct" "$m2" "$b2"
}
run small 16000 200 576 32 72
run full 60000 400 1152 64 72
