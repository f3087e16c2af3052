#!/bin/sh
# ab.sh A B [BENCH...]: before/after figures in the same minutes.  A and B
# are two built checkouts (e.g. `git worktree add ../before c412ff8 &&
# make -C ../before`); each BENCH (default: clas awd gpt2 infer_latency)
# runs from A's tree, then B's, and the whole alternation twice, so that a
# change of load hits both sides.  Each script prints its figures beside
# PyTorch's from the same run: compare those ratios.  Not part of `make
# bench` (it needs two checkouts).
set -u
[ $# -ge 2 ] || { echo "usage: ab.sh BEFORE_DIR AFTER_DIR [BENCH...]" >&2; exit 2; }
A=$1 B=$2
shift 2
[ $# -gt 0 ] || set -- clas awd gpt2 infer_latency
for d in "$A" "$B"; do
	[ -x "$d/build/bin/clastrain" ] ||
		{ echo "ab.sh: $d: not built (make there first)" >&2; exit 1; }
done
for r in 1 2; do
	for d in "$A" "$B"; do
		for s in "$@"; do
			echo "== round $r $(git -C "$d" rev-parse --short HEAD) $s" \
			     "$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
			(cd "$d" && ULMFIT_BUILD=build sh "bench/$s.sh" 2>&1)
		done
	done
done
