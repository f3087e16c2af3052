#!/bin/sh
# fuzz_regress.t: every fuzz harness (fuzz/*.c), built with this tree's
# compiler and fuzz/driver.c instead of libFuzzer, over its regressions
# (fuzz/regress/NAME: each file a past finding, which crashed or broke an
# invariant before its fix), over fresh seeds from fuzz/seeds.sh (the
# tools' own outputs: every die() path of the readers they reach must come
# back to the harness without a leak), and over an empty and a one-byte
# input.  Under make asan this runs with ASan, UBSan and LeakSanitizer.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FZ=$ULMFIT_BUILD/fuzz
cd "$T"

harnesses=$(cd "$ROOT/fuzz" && ls *.c | grep -v -e '^catch\.c$' -e '^driver\.c$' |
	sed 's/\.c$//')
is "$(echo $harnesses)" "counts docsrc extract ids lmb pickle pth tok tokfile vocab" \
	"one harness per parser"
for rdir in "$ROOT"/fuzz/regress/*/; do
	rd=$(basename "$rdir")
	[ -f "$ROOT/fuzz/$rd.c" ]; ok $? "fuzz/regress/$rd belongs to a harness"
done

check "seeds.sh makes the seed corpora" sh "$ROOT/fuzz/seeds.sh" \
	"$ULMFIT_BUILD/bin" seeds
: >empty
printf 'x' >one
# runs NAME WHAT INPUT...: the harness says ok for every file
runs() {
	rh=$1 what=$2; shift 2
	nin=0
	for a; do
		if [ -d "$a" ]; then nin=$((nin + $(ls "$a" | wc -l)))
		else nin=$((nin + 1)); fi
	done
	"$FZ/fuzz-$rh" "$@" >"$T/.out" 2>"$T/.err"
	st=$?
	nok=$(grep -c '^ok ' "$T/.out")
	if [ "$st" -eq 0 ] && [ "$nok" -eq "$nin" ]; then ok 0 "fuzz-$rh: $what"
	else
		ok 1 "fuzz-$rh: $what"
		{ echo "exit $st, $nok of $nin inputs ok"
		  grep -v -e '^fuzz: ' -e '^untar: ' "$T/.err" | head -30; } |
			diag
	fi
}
for h in $harnesses; do
	[ -x "$FZ/fuzz-$h" ]; ok $? "fuzz-$h is built"
	runs "$h" "empty and one-byte inputs" empty one
	nseed=$(ls "seeds/$h" 2>/dev/null | wc -l)
	[ "$nseed" -gt 0 ]; ok $? "fuzz-$h: $nseed seeds"
	runs "$h" "the seeds" "seeds/$h"
	if [ -d "$ROOT/fuzz/regress/$h" ]; then
		runs "$h" "every past finding" "$ROOT/fuzz/regress/$h"
	fi
done
done_testing
