#!/bin/sh
# infer --gpt2's generation speed: tokens/s with GPT-2 124M shapes
# (random weights, greedy, KV cache) next to PyTorch on the same model in
# the same run (tests/ref/gpt2_ref.py's torch.nn GPT-2 with a KV cache,
# torch.no_grad), and our time per token against the memory floor: the
# best time to read every weight of the same model once, in place, with
# the same threads (gpt2_bench.c's read_floor).
#   sh bench/gpt2.sh            (from the top of the tree, after make)
# GPT2_BENCH_THREADS (default 2), GPT2_BENCH_TOKENS (default 64 new
# tokens after a 16-token prompt).
set -eu
B=${ULMFIT_BUILD:-build}
THR=${GPT2_BENCH_THREADS:-2}
N=${GPT2_BENCH_TOKENS:-64}
PY=/usr/bin/python3
D=$(mktemp -d "${TMPDIR:-/tmp}/gpt2bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
[ -f "$B/libcore.a" ] && [ -f "$B/libkern.a" ] || { echo "gpt2.sh: run make first" >&2; exit 1; }
cc -std=c11 -D_GNU_SOURCE -O2 -pthread -Ilibcore -Ikernels \
	-I/usr/include/x86_64-linux-gnu -o "$D/gpt2_bench" bench/gpt2_bench.c \
	"$B/libcore.a" "$B/libkern.a" "$B/libcore.a" -lcjson -lpcre2-8 \
	-lopenblas -lxxhash -lz -lm -pthread
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, threads $THR"
echo "GPT-2 124M shapes (V 50257, C 768, 12 layers, 12 heads), random weights, 16-token prompt, $N new tokens"
c=$(env -u OPENBLAS_CORETYPE "$D/gpt2_bench" 16 "$N" "$THR")
ct=$(echo "$c" | cut -f1) ours=$(echo "$c" | cut -f2) ms=$(echo "$c" | cut -f3)
fl=$(echo "$c" | cut -f4) bw=$(echo "$c" | cut -f5)
t1=$(env -u OPENBLAS_CORETYPE $PY tests/ref/gpt2_ref.py bench 16 "$N" "$THR")
t2=$(OPENBLAS_CORETYPE=$ct $PY tests/ref/gpt2_ref.py bench 16 "$N" "$THR")
best=$(echo "$t1 $t2" | awk '{print ($1 > $2) ? $1 : $2}')
printf '%-28s %10s %10s\n' "" "tok/s" "ms/token"
printf '%-28s %10s %10s\n' "ours ($ct)" "$ours" "$ms"
printf '%-28s %10s %10s\n' "torch (OPENBLAS_CORETYPE unset)" "$t1" "$(echo "$t1" | awk '{printf "%.2f", 1000 / $1}')"
printf '%-28s %10s %10s\n' "torch ($ct)" "$t2" "$(echo "$t2" | awk '{printf "%.2f", 1000 / $1}')"
echo "ours / best torch: $(echo "$ours $best" | awk '{printf "%.2fx", $1 / $2}')"
echo "memory floor: $fl ms/token (498 MB of weights at $bw GB/s); ours is $(echo "$ms $fl" | awk '{printf "%.2fx", $1 / $2}') the floor"
a=$(env -u OPENBLAS_CORETYPE "$D/gpt2_bench" att 64 300 1000 | awk '{printf "%s%d positions %s us", (NR > 1 ? ", " : ""), $1, $2}')
echo "attention, one new token, one layer (12 heads of 64), CPU time: $a"
echo "gelu_new, one new token (12 layers of 3072), CPU time: $(env -u OPENBLAS_CORETYPE "$D/gpt2_bench" gelu) us"
