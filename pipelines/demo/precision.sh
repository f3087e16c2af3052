#!/bin/sh
# precision.sh W "SEEDS" BS L1 L2 L3 L4 WD: the demo's classifier recipe
# (four gradual-unfreezing stages, then infer --eval on the held-out
# e-mails) on each of the demo's three encoders, once in fp32 and once in
# bf16 per seed, paired: the same seed, batches and dropout masks, so a
# pair differs only by the rounding of the matrix products.  Called by
# `make precision` (pipelines/demo/Makefile), which passes the stage lrs.
# Each run's accuracies go to W/precision/results.txt ("seed kind
# precision stage1..stage4 final"); the summary printed at the end gives,
# per encoder and stage, the mean accuracy in each precision over the
# seeds, the mean paired difference (bf16 - fp32) with its standard error,
# and the largest single difference, in points.
set -eu
W=$1 SEEDS=$2 BS=$3 L1=$4 L2=$5 L3=$6 L4=$7 WD=$8
O=$W/precision
mkdir -p "$O"
: >"$O/results.txt"
lo() { awk -v x="$1" 'BEGIN { printf "%.3g", x / 2.6^4 }'; }
for s in $SEEDS; do
	for k in none ft pt; do
		for p in fp32 bf16; do
			d=$O/$s/$k/$p
			mkdir -p "$d"
			CL="clastrain -q -v $W/vocab -b $BS -s $s --wd $WD --precision $p"
			# fastai freezes only a pretrained encoder's first stage
			c1=
			[ "$k" = none ] && c1=--unfreeze
			$CL -e "$W/$k/enc.pth" $c1 -n 1 -l "$L1" \
				--log "$d/clas1.log" -o "$d/clas1.pth" "$W/docs.ids" >/dev/null
			$CL -c "$d/clas1.pth" --freeze-to -2 -n 1 -l "$(lo "$L2"):$L2" \
				--log "$d/clas2.log" -o "$d/clas2.pth" "$W/docs.ids" >/dev/null
			$CL -c "$d/clas2.pth" --freeze-to -3 -n 1 -l "$(lo "$L3"):$L3" \
				--log "$d/clas3.log" -o "$d/clas3.pth" "$W/docs.ids" >/dev/null
			$CL -c "$d/clas3.pth" --unfreeze -n 1 -l "$(lo "$L4"):$L4" \
				--log "$d/clas4.log" -o "$d/clas.pth" "$W/docs.ids" >/dev/null
			infer -q --precision "$p" -v "$W/vocab" --eval "$W/docs.ids" \
				--split valid "$d/clas.pth" >"$d/eval.txt"
			a=
			for i in 1 2 3 4; do
				a="$a $(tail -n 1 "$d/clas$i.log" | cut -f4)"
			done
			echo "$s $k $p$a $(awk '/^accuracy/ { print $2 }' "$d/eval.txt")" \
				>>"$O/results.txt"
			rm -f "$d"/*.pth
		done
	done
done
awk '
{ key = $1 " " $2; for (i = 4; i <= 8; i++) v[key, $3, i] = $i
  seen[key] = 1; kinds[$2] = 1 }
END {
	split("stage1,stage2,stage3,stage4,final", nm, ",")
	printf "%-6s %-8s %6s %8s %8s %16s %9s\n", "encoder", "stage", "seeds",
	       "fp32 %", "bf16 %", "bf16-fp32 (se)", "max |d|"
	nk = split("none ft pt", ks, " ")
	for (q = 1; q <= nk; q++) {
		k = ks[q]
		for (i = 4; i <= 8; i++) {
			n = sa = sb = sd = sdd = mx = 0
			for (key in seen) {
				split(key, f, " ")
				if (f[2] != k || !((key, "fp32", i) in v) ||
				    !((key, "bf16", i) in v))
					continue
				a = v[key, "fp32", i]; b = v[key, "bf16", i]; d = b - a
				n++; sa += a; sb += b; sd += d; sdd += d * d
				if (d < 0) d = -d
				if (d > mx) mx = d
			}
			if (!n)
				continue
			m = sd / n
			se = n > 1 ? sqrt((sdd - n * m * m) / (n - 1) / n) : 0
			printf "%-7s %-8s %6d %8.2f %8.2f %+9.2f (%4.2f) %9.1f\n", k,
			       nm[i - 3], n, 100 * sa / n, 100 * sb / n, 100 * m,
			       100 * se, 100 * mx
		}
	}
}' "$O/results.txt" | tee "$O/summary.txt"
