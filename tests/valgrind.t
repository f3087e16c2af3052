#!/bin/sh
# valgrind.t: the tools' common paths under valgrind memcheck, on a tiny
# generated corpus: tok (one thread and two), numz -w / -v / -d / -c /
# --counts, lmbatch, awdtrain (a tiny model, a few batches), encsave, clastrain, infer
# (classify, --eval, --generate) and untar on a local archive.  Each run
# must exit 0 with no memcheck error and no definite or indirect leak at
# exit (--errors-for-leak-kinds=definite,indirect makes a leak an error,
# exit 99).  Suppressions: tests/valgrind.supp (third-party libraries
# only; each one says why).  Run by `make valgrind` on the plain build (the
# ASan build cannot run under valgrind).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$T"
command -v valgrind >/dev/null; ok $? "valgrind is installed"
export OPENBLAS_NUM_THREADS=1 ULMFIT_HOME="$T/home"
VG="valgrind -q --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --track-fds=no
    --suppressions=$ROOT/tests/valgrind.supp"
# vg DESCRIPTION TOOL ARGS...: TOOL under memcheck exits 0, no report
vg() {
	d=$1; shift
	# shellcheck disable=SC2086
	$VG "$@" >"$T/.out" 2>"$T/.err"
	st=$?
	if [ "$st" -eq 0 ] && ! grep -q '^==[0-9]*==' "$T/.err"; then
		ok 0 "$d"
	else
		ok 1 "$d"
		{ echo "exit $st"; head -40 "$T/.err"; } | diag
	fi
}

# the corpus: fastai's folder layout, 48 short reviews
words="the a movie film plot was great awful good bad i liked hated it
and but so very really actors story THE Movie don't #1 <br /> &amp; café"
for s in train valid; do for l in pos neg; do
	mkdir -p d/$s/$l
	for k in 1 2 3 4 5 6; do
		echo "$words" | tr ' ' '\n' | awk -v s="$s$l$k" '
		  BEGIN { for (i = 1; i <= length(s); i++) x += i * index("abcdefghijklmnopqrstuvwxyz0123456789", substr(s, i, 1)); srand(x) }
		  { w[NR] = $0 }
		  END { for (j = 0; j < 30; j++) printf "%s ", w[int(rand() * NR) + 1]; print "The END!" }' \
		  >d/$s/$l/$k.txt
	done
done; done
printf 'text,label\n"a ""quoted"" review",pos\nplain one,neg\n' >t.csv

T1=$(which tok)
vg "tok -j 1 (folder)" "$T1" -q -j 1 -o all.tok d
vg "tok -j 2 (folder, threads)" "$T1" -q -j 2 -o all2.tok d
cmp -s all.tok all2.tok; ok $? "tok: one thread and two agree"
vg "tok (CSV)" "$T1" -q -j 1 -o csv.tok t.csv
vg "tok --sp-train (SentencePiece, the C++ shim)" "$T1" -q --sp-train 80 -m sp.model d
vg "tok -j 2 --sp (pieces, threads)" "$T1" -q -j 2 --sp sp.model -o sp.tok d
vg "numz -w (build a vocab)" "$(which numz)" -q -f 1 -w vocab -o all.ids all.tok
vg "numz -v (apply a vocab)" "$(which numz)" -q -v vocab -o all2.ids all.tok
vg "numz -d (decode)" "$(which numz)" -q -d -v vocab -o back.tok all.ids
vg "numz -c (count)" "$(which numz)" -q -c all.counts all.tok
vg "numz --counts -w (vocab from counts)" "$(which numz)" -q -f 1 --counts -w vocab2 all.counts all.counts
vg "lmbatch" "$(which lmbatch)" -q -b 4 -l 8 -o lm.lmb --valid-out va.lmb all.ids
vg "awdtrain (tiny model, few batches)" "$(which awdtrain)" -q -v vocab \
	--emb 8 --hid 16 --layers 2 -j 1 -o lm.pth lm.lmb va.lmb
vg "encsave" "$(which encsave)" -q -o enc.pth lm.pth
vg "clastrain" "$(which clastrain)" -q -v vocab -e enc.pth -b 8 -j 1 \
	-o clas.pth all.ids
vg "infer (classify)" "$(which infer)" -q -v vocab -j 1 clas.pth \
	"i liked the movie" "the plot was awful"
vg "infer --eval" "$(which infer)" -q -v vocab -j 1 --eval all.ids clas.pth
vg "infer --generate" "$(which infer)" -q -v vocab -s 1 -n 3 \
	--generate "the movie" lm.pth
tar -czf arch.tgz d
vg "untar (a local archive)" "$(which untar)" -q arch.tgz
[ -f "$ULMFIT_HOME/data/arch/train/pos/1.txt" ]
ok $? "untar: the tree is in the cache"
done_testing
