#!/bin/sh
# GEMM rate at the full-size LM's shapes: OpenBLAS sgemm (fp32) against
# gemm_bf16 (bf16 operands, fp32 sums: --precision bf16), GFLOP/s per
# thread CPU second, best of GEMM_BENCH_REPS (default 3) alternated runs,
# 1 thread (GEMM_BENCH_THREADS).  OPENBLAS_CORETYPE unset, as bench/awd.sh
# does: OpenBLAS's own kernel choice is its fastest here.  Skipped (a line
# says so) on a CPU without AVX512-BF16.
set -eu
B=${ULMFIT_BUILD:-build}
[ -f "$B/libcore.a" ] && [ -f "$B/libkern.a" ] || { echo "gemm.sh: run make first" >&2; exit 1; }
if ! grep -qw avx512_bf16 /proc/cpuinfo; then
	echo "gemm.sh: this CPU has no AVX512-BF16: no bf16 GEMM to measure"
	exit 0
fi
D=$(mktemp -d "${TMPDIR:-/tmp}/gemmbench.XXXXXX")
trap 'rm -rf "$D"' EXIT
cc -std=c11 -D_GNU_SOURCE -O2 -pthread -Ilibcore -Ikernels \
	-I/usr/include/x86_64-linux-gnu -o "$D/gemm_bench" bench/gemm_bench.c \
	"$B/libcore.a" "$B/libkern.a" "$B/libcore.a" -lopenblas -lxxhash -lm -pthread
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
env -u OPENBLAS_CORETYPE "$D/gemm_bench" "${GEMM_BENCH_THREADS:-1}" "${GEMM_BENCH_REPS:-3}"
echo "(GFLOP/s per thread CPU second; ratio: bf16 / fp32)"
