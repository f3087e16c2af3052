#!/bin/sh
# check_loop.sh N [LOGDIR]: issue 16's robustness run.  Clones this
# checkout's HEAD once into a temp folder and runs `bash .ci/run` (make
# check) there N times in a row while two busy loops at nice 19 keep both
# cores busy, stopping at the first failure.  Each run's whole output is
# kept as LOGDIR/run-K.log (default LOGDIR: ./check-loop.HEAD), so a
# failure's diagnostics survive the test's temporary folders; a summary
# line per run goes to stdout.  Exit 0 when all N passed.
set -u
[ $# -ge 1 ] && [ "$1" -gt 0 ] 2>/dev/null ||
	{ echo "usage: check_loop.sh N [LOGDIR]" >&2; exit 2; }
n=$1
head=$(git rev-parse --short HEAD) || exit 1
logs=$(mkdir -p "${2:-check-loop.$head}" && cd "${2:-check-loop.$head}" && pwd) ||
	exit 1
d=$(mktemp -d "${TMPDIR:-/tmp}/check-loop.XXXXXX") || exit 1
on="$d/on"
touch "$on"
trap 'rm -rf "$d"' EXIT
trap 'exit 130' INT TERM
git clone -q . "$d/repo" || exit 1
# the load: two shell loops at the lowest priority, while $on exists
for i in 1 2; do
	nice -n 19 sh -c "while [ -e '$on' ]; do i=0
		while [ \$i -lt 100000 ]; do i=\$((i + 1)); done; done" &
done
echo "check_loop: $head, $n runs, logs in $logs, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
k=1
while [ "$k" -le "$n" ]; do
	t0=$(date +%s)
	(cd "$d/repo" && bash .ci/run) >"$logs/run-$k.log" 2>&1
	rc=$?
	echo "run $k: exit $rc, $(( $(date +%s) - t0 )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
	[ "$rc" -eq 0 ] || { grep -n 'not ok\|^#' "$logs/run-$k.log" | head -40; exit 1; }
	k=$((k + 1))
done
