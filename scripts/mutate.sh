#!/bin/sh
# mutate.sh: does the suite catch real bugs?  Each mutation below plants
# one (a flipped sign in the LSTM backward, a dropout not applied, a vocab
# hash not checked, ...) in a copy of the tree, never in the tree itself,
# builds it, and runs the tests that should catch it: KILLED when one of
# them fails, SURVIVED when all pass (a missing test).  A mutation whose
# text is not found fails the whole run: the table must not rot silently.
#
# usage: sh scripts/mutate.sh [NAME ...]     (make mutate)
# Exit 0 when every mutant is killed, 1 otherwise.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/ulmfit-mutate.XXXXXX")
[ -n "${MUTATE_KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
trap 'exit 1' INT TERM HUP
B=build-mutate

# name@file@text to find@text to put instead@tests (B/: the build tree;
# \n in a text is a newline)
MUTANTS='lstm-bwd-df-sign@kernels/lstm_elem.h@*df = dct * cprev@*df = -dct * cprev@B/tests/kernels B/tests/awd
lstm-bwd-dc-carry@kernels/lstm_elem.h@return dct * f;@return dct;@B/tests/kernels B/tests/awd
dropout-no-rescale@kernels/cpu/dropout.c@float keep = 1.0f / (1.0f - p);@float keep = 1.0f;@B/tests/kernels B/tests/awd
dropout-not-applied@kernels/cpu/dropout.c@y[i] = x[i] * mask[i];@y[i] = x[i] * (mask[i] * 0.0f + 1.0f);@B/tests/kernels B/tests/awd
vocab-hash-unchecked@libcore/core/stream.c@r->hdr.vocab_n != vocab_n || r->hdr.vocab_xxh64 != vocab_xxh64@r->hdr.vocab_n != vocab_n@B/tests/stream tests/lmbatch.t tests/contract.t
trailer-sum-unchecked@libcore/core/stream.c@if (get_u64(b) != digest || want_nrec@if ((get_u64(b) != digest && 0) || want_nrec@B/tests/stream tests/lmbatch.t
lm-target-offset@libcore/data/lmb.c@memcpy(y + (size_t)r * b->len, row + 1,@memcpy(y + (size_t)r * b->len, row,@B/tests/lmb tests/awdtrain.t
adam-debias-step@kernels/cpu/adam.c@(1 - pow(mom, (double)step))@(1 - pow(mom, (double)step + 1))@B/tests/optim B/tests/kernels
tok-no-xxmaj@libcore/text/tokrules.c@mark = "xxmaj ";@mark = NULL;@B/tests/tokenizer tests/tok.t
stale-temp-kept@libcore/core/util.c@		unlink(full);@		(void)full;@tests/faults.t'

say() { printf '%s\n' "$*" >&2; }

# one copy of the tree, built once; each mutant rebuilds only what it touches
say "mutate: copying the tree to $W"
mkdir "$W/t"
(cd "$SRC" && git ls-files -z | xargs -0 tar cf - 2>/dev/null) | tar xf - -C "$W/t" ||
	{ say "mutate: cannot copy the tree"; exit 1; }
# uncommitted work counts too: copy what git lists as modified or new
(cd "$SRC" && git ls-files -z -m -o --exclude-standard) >"$W/extra"
if [ -s "$W/extra" ]; then
	(cd "$SRC" && xargs -0 tar cf - <"$W/extra" 2>/dev/null) | tar xf - -C "$W/t"
fi
if [ -d "$SRC/../shared" ] && [ ! -e "$W/shared" ]; then
	ln -s "$(cd "$SRC/../shared" && pwd)" "$W/shared"
fi
cd "$W/t" || exit 1
say "mutate: building the unmutated tree"
make -s -j2 B=$B all units >"$W/build.log" 2>&1 ||
	{ tail -20 "$W/build.log" >&2; say "mutate: the unmutated tree does not build"; exit 1; }

# apply FILE FROM TO: replace the one occurrence of FROM, or fail
apply() {
	python3 - "$1" "$2" "$3" <<'EOF'
import sys
path, a, b = sys.argv[1], sys.argv[2].replace("\\n", "\n"), sys.argv[3].replace("\\n", "\n")
s = open(path).read()
k = s.count(a)
if k != 1:
    sys.exit("%s: the mutation text is there %d times, want 1: %r" % (path, k, a))
open(path, "w").write(s.replace(a, b))
EOF
}

runtests() {  # runtests TESTS: 0 when all pass
	t=$(echo "$1" | sed "s|B/|$B/|g")
	PATH="$W/t/$B/bin:$PATH" ULMFIT_BUILD="$W/t/$B" ULMFIT_SHARED="$W/shared" \
		prove --exec '' $t >"$W/prove.log" 2>&1 </dev/null
}

# the chosen tests must pass on the unmutated tree, or a kill means nothing
want=${*:-}
killed=0 survived=0 table= checked=
IFS_SAVE=$IFS
printf "%s\n" "$MUTANTS" >"$W/list"
while IFS='@' read -r name file from to tests <&9; do
	IFS=$IFS_SAVE
	[ -z "$want" ] || case " $want " in *" $name "*) ;; *) continue ;; esac
	case "$checked" in *"<$tests>"*) ;; *)
		if ! runtests "$tests"; then
			tail -20 "$W/prove.log" >&2
			say "mutate: $name: its tests fail before the mutation"; exit 1
		fi
		checked="$checked<$tests>" ;;
	esac
	cp "$file" "$W/orig"
	apply "$file" "$from" "$to" || exit 1
	if ! make -s -j2 B=$B all units >"$W/build.log" 2>&1 </dev/null; then
		r="KILLED (does not build)"
	elif runtests "$tests"; then
		r=SURVIVED
	else
		r=KILLED
	fi
	cp "$W/orig" "$file"
	touch "$file"
	# the next mutant's baseline must run on the unmutated build
	make -s -j2 B=$B all units >"$W/build.log" 2>&1 </dev/null ||
		{ say "mutate: the restored tree does not build"; exit 1; }
	case $r in KILLED*) killed=$((killed + 1)) ;; *) survived=$((survived + 1)) ;; esac
	line=$(printf '%-22s %-22s %-38s %s' "$name" "$file" "$(echo "$tests" | sed "s|B/|$B/|g" | cut -c1-38)" "$r")
	say "$line"
	table="$table$line
"
done 9<"$W/list"
make -s -j2 B=$B all units >/dev/null 2>&1
printf '%-22s %-22s %-38s %s\n' mutation file tests result
printf '%s' "$table"
echo "killed $killed, survived $survived"
[ "$survived" -eq 0 ]
