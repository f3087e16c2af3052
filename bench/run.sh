#!/bin/sh
# make bench: run every bench/*.sh with the build dir; each prints its own
# figures (and the PyTorch figure measured in the same run, as a ratio).
set -eu
B=${1:-build}
export PATH="$(pwd)/$B/bin:$PATH" ULMFIT_BUILD="$(pwd)/$B"
for s in bench/*.sh; do
	case $s in bench/run.sh|bench/ab.sh) continue ;; esac
	echo "== $s"
	sh "$s"
done
