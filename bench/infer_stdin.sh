#!/bin/sh
# infer_stdin: documents/s of a resident infer classifying stdin lines (one
# review a line, read from a file) against batched --eval on the same
# reviews (tok -l + numz ids: the same tokens), in the same run, as a
# ratio; text classifiers with random weights at the demo's size (vocab
# 30000, emb 64, hidden 192) and fastai's full size (vocab 60008, emb
# 400, hidden 1152), reviews of 100-300 words.
#
# The load (start, map the checkpoint, vocab, tokenizer) is taken out
# exactly: each path runs on N1 and on N2 > N1 documents (the first N1 of
# the same N2) and its rate is (N2 - N1) / (t(N2) - t(N1)).  (Subtracting
# another process's load time, as this bench once did, charged the vocab
# and tokenizer start-up to stdin only.)  The four runs of a round
# alternate the two paths and the order flips every round; the rates and
# the ratio are medians over INFER_STDIN_RUNS rounds (default 3), wall
# clock and CPU (user + system) both.  Before timing, the two paths'
# answers are compared per document (labels and probabilities, --eval
# --json --show-results): the script fails if they differ.
# INFER_STDIN_SIZES (default "demo full"), INFER_BENCH_THREADS (default 2).
# Not a test: it prints figures.
set -eu
B=${ULMFIT_BUILD:-build}
PY=/usr/bin/python3
R=${INFER_STDIN_RUNS:-3}
THR=${INFER_BENCH_THREADS:-2}
SIZES=${INFER_STDIN_SIZES:-demo full}
export PATH="$(pwd)/$B/bin:$PATH"
command -v infer >/dev/null || { echo "infer_stdin.sh: run make first" >&2; exit 1; }
command -v jq >/dev/null || { echo "infer_stdin.sh: no jq" >&2; exit 1; }
$PY -c 'import torch' 2>/dev/null || { echo "infer_stdin.sh: no python3-torch (bench/infer_ref.py makes the models)" >&2; exit 1; }
D=$(mktemp -d "${TMPDIR:-/tmp}/inferstdin.XXXXXX")
trap 'rm -rf "$D"' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, threads $THR, load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
printf '%-5s %9s %9s %9s %7s %9s %9s %7s\n' size docs "stdin/s" "eval/s" "ratio" "stdin/cs" "eval/cs" "ratio"

# t DIR MODE N: one run; prints "wall cpu" seconds
t() {
	if [ "$2" = stdin ]; then
		/usr/bin/time -f '%e %U %S' -o "$1/time" \
			infer -q -j "$THR" -b 32 "$1/clas.pth" <"$1/docs.$3" >/dev/null
	else
		/usr/bin/time -f '%e %U %S' -o "$1/time" \
			infer -q -j "$THR" -b 32 --eval "$1/ids.$3" "$1/clas.pth" >/dev/null
	fi
	awk '{ print $1, $2 + $3 }' "$1/time"
}
med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for size in $SIZES; do
	case $size in
	demo) set -- demo 30000 64 192 128 512 ;;
	full) set -- full 60008 400 1152 32 128 ;;
	*) echo "infer_stdin.sh: size $size: want demo or full" >&2; exit 2 ;;
	esac
	d=$D/$1 n1=$5 n2=$6
	mkdir -p "$d"
	$PY bench/infer_ref.py make "$d" "$2" "$3" "$4"
	$PY -c "
import random; random.seed(2)
for i in range($n2):
    print(' '.join('w%d' % random.randint(0, 2000) for _ in range(random.randint(100, 300))))
" >"$d/docs.$n2"
	head -n "$n1" "$d/docs.$n2" >"$d/docs.$n1"
	for n in "$n1" "$n2"; do
		tok -q -j 1 -l --label 0 "$d/docs.$n" | numz -q -v "$d/vocab" -o "$d/ids.$n" -
	done
	# the same answers, document by document
	infer -q -j "$THR" -b 32 --json "$d/clas.pth" <"$d/docs.$n1" |
		jq -c '[.label, .probs]' >"$d/a.stdin"
	infer -q -j "$THR" -b 32 --json --eval "$d/ids.$n1" --show-results "$n1" \
		"$d/clas.pth" | jq -c 'select(.probs) | [.category_, .probs]' >"$d/a.eval"
	[ "$(wc -l <"$d/a.stdin")" -eq "$n1" ] && cmp -s "$d/a.stdin" "$d/a.eval" || {
		echo "infer_stdin.sh: $1: stdin and --eval answers differ" >&2; exit 1; }
	: >"$d/rates"
	r=0
	while [ $r -lt "$R" ]; do
		r=$((r + 1))
		if [ $((r % 2)) -eq 1 ]; then order="stdin eval"; else order="eval stdin"; fi
		for n in "$n1" "$n2"; do
			for m in $order; do
				echo "$m $n $(t "$d" "$m" "$n")" >>"$d/runs.$r"
			done
		done
		# rate per path: (n2 - n1) / (t(n2) - t(n1)), wall and cpu
		awk -v n1="$n1" -v n2="$n2" '
			{ w[$1, $2] = $3; c[$1, $2] = $4 }
			END {
				sw = (n2 - n1) / (w["stdin", n2] - w["stdin", n1])
				ew = (n2 - n1) / (w["eval", n2] - w["eval", n1])
				sc = (n2 - n1) / (c["stdin", n2] - c["stdin", n1])
				ec = (n2 - n1) / (c["eval", n2] - c["eval", n1])
				print sw, ew, sw / ew, sc, ec, sc / ec }' "$d/runs.$r" >>"$d/rates"
	done
	col() { cut -d' ' -f"$1" "$d/rates" | med; }
	printf '%-5s %9s %9.2f %9.2f %6.2fx %9.2f %9.2f %6.2fx\n' "$1" "$n1->$n2" \
		"$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)"
done
echo "(docs/s: the extra documents over the extra wall seconds (/s) or CPU seconds (/cs); ratio: stdin / --eval, median of $R alternated rounds; answers identical per document)"
