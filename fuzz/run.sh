#!/bin/sh
# run.sh FUZZ_B SECONDS HARNESS...: fuzz each harness for SECONDS of wall
# time from its seeds (FUZZ_B/corpus/NAME, grown in place) and its
# regressions (fuzz/regress/NAME), then print the table: harness, CPU
# seconds, executions, findings.  A finding (crash, leak, timeout, OOM)
# is saved as FUZZ_B/findings/NAME-*; copy it to fuzz/regress/NAME/ once
# understood.  The per-input timeout (60 s of wall time) is a hang guard,
# generous so that a loaded machine does not turn a slow input into one.  Exit 1 if any harness found something.
set -u
B=$1 S=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$B/findings" "$B/logs"
bad=0
printf '%-9s %8s %12s %9s %s\n' harness cpu_s execs exec/s findings >"$B/table"
for h; do
	mkdir -p "$B/corpus/$h"
	reg="$HERE/regress/$h"
	[ -d "$reg" ] || reg=
	before=$(ls "$B/findings" | grep -c "^$h-" || true)
	# times: the children's user+sys CPU, before and after
	t0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	(cd "$B/findings" && exec "../fuzz/fuzz-$h" -max_total_time="$S" \
		-print_final_stats=1 -close_fd_mask=3 -timeout=60 \
		-rss_limit_mb=2048 -artifact_prefix="$h-" \
		"../corpus/$h" $reg) >"$B/logs/$h" 2>&1
	rc=$?
	t1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	hz=$(getconf CLK_TCK)
	cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz }')
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/logs/$h")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$B/logs/$h")
	after=$(ls "$B/findings" | grep -c "^$h-" || true)
	found=$((after - before))
	if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then found="exit $rc"; fi
	[ "$found" = 0 ] || bad=1
	printf '%-9s %8s %12s %9s %s\n' "$h" "$cpu" "${execs:-?}" "${rate:-?}" \
		"$found" >>"$B/table"
	tail -1 "$B/table"
done
echo "fuzzed $S s per harness; corpora in $B/corpus, logs in $B/logs"
cat "$B/table"
if [ "$bad" -ne 0 ]; then
	echo "findings in $B/findings (see $B/logs):"
	ls "$B/findings"
fi
exit "$bad"
