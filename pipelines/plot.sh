#!/bin/sh
# plot.sh: training curves as a PNG, from the --log TSV files of awdtrain
# and clastrain, with gnuplot.
#
#   plot.sh -o out.png [-t title] [-p pct_start] [-d div] [-f div_final]
#           [-m moms] LOG[@LR[@PCT[@DIV]]] ...
#
# Each LOG is one fit_one_cycle (one awdtrain or clastrain run; one line
# per epoch); several are drawn one after the other, as the stages of
# gradual unfreezing.  Four panels: train and valid loss per epoch,
# accuracy per epoch, and the learning rate and momentum over the
# one-cycle schedules.  The logs have no per-batch lr, so the schedule is
# fastai's (combined_cos: cosine from lr/div up to lr over pct_start of
# the run, then down to lr/div_final; momentum the other way) drawn from
# each run's LR (its top lr: a slice lo:hi draws hi) and the one-cycle
# options, which default to the tools' own (0.25, 25, 1e5, 0.8,0.7,0.8);
# PCT and DIV after a log override -p and -d for that run.
set -eu
usage() { echo "usage: plot.sh -o out.png [-t title] [-p pct] [-d div] [-f div_final] [-m moms] log[@lr] ..." >&2; exit 2; }
out= title=training pct=0.25 div=25 divf=1e5 moms=0.8,0.7,0.8
while getopts o:t:p:d:f:m: c; do
	case $c in
	o) out=$OPTARG ;; t) title=$OPTARG ;; p) pct=$OPTARG ;;
	d) div=$OPTARG ;; f) divf=$OPTARG ;; m) moms=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$out" ] && [ $# -gt 0 ] || usage
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot: not found (apt-get install gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/plot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# epochs.tsv: run, epoch end (x), train_loss, valid_loss, accuracy
# sched.tsv: x, lr, momentum (60 points per epoch)
e0=0 run=0 arrows=
for a; do
	IFS=@ read -r log lr rpct rdiv <<-E
	$a
	E
	lr=${lr##*:} rpct=${rpct:-$pct} rdiv=${rdiv:-$div}
	[ -r "$log" ] || { echo "plot.sh: $log: cannot read" >&2; exit 1; }
	head -1 "$log" | grep -q '^epoch	train_loss	valid_loss	accuracy' ||
		{ echo "plot.sh: $log: not a TSV training log (--log FILE.tsv)" >&2; exit 1; }
	run=$((run + 1))
	n=$(awk -v r=$run -v e0=$e0 -F'\t' 'NR > 1 { printf "%d\t%d\t%s\t%s\t%s\n", r, e0 + NR - 1, $2, $3, $4; k++ }
		END { print k + 0 > "/dev/stderr" }' "$log" 2>&1 >>"$tmp/epochs.tsv")
	[ "$n" -gt 0 ] || { echo "plot.sh: $log: no epochs" >&2; exit 1; }
	if [ -n "$lr" ]; then
		awk -v e0=$e0 -v n="$n" -v lr="$lr" -v pct="$rpct" -v div="$rdiv" \
		    -v divf="$divf" -v moms="$moms" 'BEGIN {
			split(moms, m, ","); pi = atan2(0, -1); k = 60 * n
			for (i = 0; i <= k; i++) {
				p = i / k
				if (p < pct) { q = p / pct; a = lr / div; b = lr; ma = m[1]; mb = m[2] }
				else { q = (p - pct) / (1 - pct); a = lr; b = lr / divf; ma = m[2]; mb = m[3] }
				c = (1 + cos(pi * (1 - q))) / 2
				printf "%g\t%g\t%g\n", e0 + p * n, a + c * (b - a), ma + c * (mb - ma)
			}
			print ""
		}' >>"$tmp/sched.tsv"
	fi
	[ $run -gt 1 ] && arrows="$arrows
set arrow from $e0, graph 0 to $e0, graph 1 nohead dt 2 lc rgb '#888888'"
	e0=$((e0 + n))
done
[ -s "$tmp/sched.tsv" ] || printf '0\tNaN\tNaN\n' >"$tmp/sched.tsv"

gnuplot <<EOF
set terminal pngcairo size 900,600 font ",9"
set output "$out"
set datafile separator "\t"
set multiplot layout 2,2 title "$title"
set xlabel "epoch"
set xrange [0:$e0]
set grid
# dashed lines: where one run (stage) ends and the next begins$arrows
set key top right
set title "loss"
plot "$tmp/epochs.tsv" using 2:3 with linespoints pt 7 ps 0.6 title "train", \
     "" using 2:4 with linespoints pt 7 ps 0.6 title "valid"
set title "accuracy (valid)"
set yrange [0:1]
set key bottom right
plot "$tmp/epochs.tsv" using 2:5 with linespoints pt 7 ps 0.6 lc 3 title "accuracy"
set yrange [*:*]
set title "learning rate (one-cycle, top group)"
set format y "%.1e"
plot "$tmp/sched.tsv" using 1:2 with lines lw 1.5 lc rgb "#d62728" title "lr"
set format y "%g"
set title "momentum (beta1)"
plot "$tmp/sched.tsv" using 1:3 with lines lw 1.5 lc rgb "#2ca02c" title "mom"
unset multiplot
EOF
