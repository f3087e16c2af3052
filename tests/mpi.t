#!/bin/sh
# mpi: data-parallel awdtrain under mpirun -np 2 (dist.h).  The same
# global batches split over two ranks give the single process's weights
# within float tolerance; -np 1 gives its bytes; rank 0 alone writes the
# table and the log; a rank killed mid-run fails the job at once (mpirun
# exits non-zero, no rank is left) and --resume finishes the run;
# clastrain refuses mpirun -np 2 (not data-parallel yet).
#
# Tolerance 1e-4 (absolute, on weights and Adam state of size ~1): each
# rank averages the loss over its rows and the weighted gradients are
# summed over ranks, where the single process averages over all rows at
# once; the float32 sums differ in order (~1e-7 relative per step) and
# Adam's division by sqrt(v) carries that forward.  Measured: ~2e-6 after
# 2 epochs; a different seed differs by ~1.
. "$(dirname "$0")/lib.sh"
need mpirun "$PY"
B=${ULMFIT_BUILD:?run under make test}
[ "$(cat "$B/mpi-build" 2>/dev/null)" = 1 ] ||
	missing "Open MPI in this build ($B/mpi-build is not 1: libopenmpi-dev)"
cd "$T" || exit 1
# Open MPI leaks at exit by design: its libraries only (ASan builds)
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$OLDPWD" &&
	cd "$(dirname "$0")" && pwd)/lsan-mpi.supp"
# Open MPI's libraries keep no frame pointers: the slow unwinder finds the
# frames the suppressions name
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS ASAN_OPTIONS
# root in CI; two cores; shared memory only, no network
MP="timeout $HANG mpirun --allow-run-as-root --oversubscribe --mca btl self,vader"

cat >cmp.py <<'PYEOF'
# cmp.py A.pth B.pth: "DIFF SCALE", the largest |a-b| and |a| over every
# float32 storage (weights and Adam state) of two checkpoints of one tool
import sys, zipfile, array
def stores(p):
    z = zipfile.ZipFile(p)
    return {n.split("/")[2]: z.read(n) for n in z.namelist()
            if n.count("/") == 2 and n.split("/")[1] == "data"}
a, b = stores(sys.argv[1]), stores(sys.argv[2])
if a.keys() != b.keys() or not a:
    sys.exit("different storages")
d = s = 0.0
for k in a:
    if len(a[k]) != len(b[k]):
        sys.exit("storage %s: sizes differ" % k)
    for u, v in zip(array.array("f", a[k]), array.array("f", b[k])):
        d = max(d, abs(u - v)); s = max(s, abs(u))
print("%.3e %.3e" % (d, s))
PYEOF
close() { # close A B TOL DESC: max |A-B| < TOL and the weights not all 0
	r=$($PY cmp.py "$1" "$2" 2>&1)
	echo "$r" | awk -v t="$3" '{ exit !($1 < t && $2 > 0.1) }'
	ok $? "$4 ($r)"
}

awk 'BEGIN { srand(3); split("the cat sat on mat . a dog ran in park and bird flew over tree", f, " ")
  for (i = 0; i < 300; i++) { s = "xxbos"; n = 5 + int(rand() * 20); k = int(rand() * 16)
    for (j = 0; j < n; j++) s = s " " f[1 + (k + j) % 16]
    printf "%s\t\t%s\n", (i < 250 ? "train" : "valid"), s } }' >d.tok
check "numz" numz -q -w vocab -f 1 -o d.ids d.tok
check "lmbatch: bs 8, 2 epochs" lmbatch -q -b 8 -l 10 -e 2 -o d.lmb d.ids
# no dropout: the ranks draw their own masks (dist.h), a single process
# its own; AR/TAR (alpha 2, beta 1) and clipping stay on
S="-q --emb 16 --hid 32 --drop-mult 0 --clip 0.5 -j 1 -l 3e-2"
check "one process" awdtrain $S -o one.pth d.lmb
cp "$T/.out" one.table
check "mpirun -np 2" $MP -np 2 awdtrain $S --log two.tsv -o two.pth d.lmb
cp "$T/.out" two.table
close one.pth two.pth 1e-4 "-np 2 gives the single process's weights"
awdtrain $S -s 7 -o seed7.pth d.lmb >/dev/null 2>&1
r=$($PY cmp.py one.pth seed7.pth | awk '{ print ($1 > 0.01) }')
is "$r" 1 "the comparison tells another seed's weights apart"
is "$(wc -l <two.table)" 3 "rank 0 alone prints the table (header, 2 epochs)"
is "$(wc -l <two.tsv)" 3 "rank 0 alone writes the log"
# the valid loss is reduced over ranks: the single process's to 1e-5
paste one.table two.table | awk 'NR > 1 { d = $3 - $9; if (d < 0) d = -d
	if (d > 1e-5 || $3 == "") bad = 1 } END { exit bad + 0 }'
ok $? "valid_loss over both ranks is the single process's"
mkdir np1     # the same base name: it names the archive's folder
check "mpirun -np 1" $MP -np 1 awdtrain $S -o np1/one.pth d.lmb
cmp -s one.pth np1/one.pth
ok $? "-np 1 writes the single process's bytes"

# rank 1 kills itself (SIGKILL) before step 60 (epoch 1): the job fails
# at once rather than hang; the hang guard would say 124
ULMFIT_DIST_DIE_AT=60 $MP -x ULMFIT_DIST_DIE_AT -np 2 awdtrain $S \
	-o k.pth d.lmb >k.out 2>k.err
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
ok $? "a killed rank fails the job (exit $rc)"
pgrep -f "$T/k.pth|-o k.pth" >/dev/null
ok $((!$?)) "no rank is left running"
is "$(wc -l <k.out)" 2 "epoch 0 finished and was saved before the kill"
check "--resume finishes the run" $MP -np 2 awdtrain -q --resume k.pth \
	-o k.pth d.lmb
close one.pth k.pth 1e-4 "killed and resumed: the single process's weights"

# SIGINT mid-epoch (every rank at step 60, through the real signal path):
# all stop at the same step, exit 130, and the checkpoint of epoch 1's
# start stays (rank 0 holds only its rows' LSTM state); --resume redoes
# epoch 1 and ends on the single process's weights
AWDTRAIN_STOP_AT=60 $MP -x AWDTRAIN_STOP_AT -np 2 awdtrain $S -o s.pth d.lmb \
	>s.out 2>s.err
is "$?" 130 "SIGINT mid-epoch: every rank stops, mpirun exits 130"
grep -q "saves at epoch ends" s.err
ok $? "and says the epoch's start stays the checkpoint"
check "--resume after SIGINT finishes the run" $MP -np 2 awdtrain -q \
	--resume s.pth -o s.pth d.lmb
close one.pth s.pth 1e-4 "interrupted and resumed: the single process's weights"
# a single process's mid-epoch checkpoint resumes as one process only
AWDTRAIN_STOP_AT=60 awdtrain $S -o m.pth d.lmb >/dev/null 2>&1
exits 1 "-np 2 refuses a mid-epoch checkpoint" $MP -np 2 awdtrain -q \
	--resume m.pth -o m.pth d.lmb
check "one process resumes it" awdtrain -q --resume m.pth -o m.pth d.lmb
close one.pth m.pth 1e-4 "and ends on the uninterrupted weights"

# clastrain is not data-parallel yet: it refuses rather than run N copies
$MP -np 2 clastrain -o c.pth x.cls y.cls >c.out 2>c.err
ok $((!$?)) "mpirun -np 2 clastrain fails"
grep -q "awdtrain's only" c.err
ok $? "and says why"
[ ! -e c.pth ]
ok $? "and writes nothing"
done_testing
