#!/bin/sh
# nccl.sh: data-parallel training with the gradients summed by NCCL on
# the devices (learn/dist.h, kernels/cuda/coll.cu); `make gpucheck` runs
# it after tests/gpu/check.
#
# mpirun -np 2 awdtrain --device cuda and mpirun -np 2 clastrain --device
# cuda on a small corpus (tests/mpi.t's) must end on the weights and Adam
# state of one process on --device cpu within 1e-4 (absolute, on values
# of size ~1: mpi.t's tolerance, for the same reason: the sums over ranks
# differ from one process's in order only; the CUDA twins are within 1e-5
# relative of the CPU kernels, tests/gpu/check).  NCCL_TOL=x changes it.
# NCCL_DEBUG=INFO's banner shows that NCCL ran, and each run's "N buckets
# per step" line that the buckets went through it.
#
# NCCL wants one GPU per rank: with fewer than 2 visible GPUs (a 1-GPU
# machine included) this is unrunnable and the script prints SKIP and the
# reason, exit 0.  tests/gpu/check's kern_coll_sum row (a communicator of
# one rank) is what runs on one GPU.  Exit 1 when a check fails.
#
# NCCL_SH_DEV=cpu: the same runs with --device cpu for the ranks too and
# no NCCL banner expected (MPI through the host): checks this script's
# plumbing on a machine without GPUs.
B=${ULMFIT_BUILD:?run from make gpucheck (ULMFIT_BUILD: the build dir)}
TOL=${NCCL_TOL:-1e-4}
PY=${PY:-python3}
DEV=${NCCL_SH_DEV:-cuda}
skip() { echo "SKIP: nccl.sh: $*"; exit 0; }
for c in mpirun awdtrain clastrain encsave numz lmbatch "$PY"; do
	command -v "$c" >/dev/null 2>&1 || skip "no $c on PATH"
done
[ "$DEV" = cpu ] || [ "$(cat "$B/nccl-build" 2>/dev/null)" = 1 ] ||
	skip "this build has no NCCL ($B/nccl-build is not 1: make NCCL=0, or no nccl.h)"
[ "$(cat "$B/mpi-build" 2>/dev/null)" = 1 ] ||
	skip "this build has no MPI ($B/mpi-build is not 1)"
if [ "$DEV" = cpu ]; then
	ngpu=2
elif [ -n "${CUDA_VISIBLE_DEVICES+x}" ]; then
	ngpu=$(echo "$CUDA_VISIBLE_DEVICES" | tr ',' '\n' | grep -c .)
else
	ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
fi
[ "$ngpu" -ge 2 ] || skip "$ngpu GPU(s) visible; NCCL needs one GPU per rank, so mpirun -np 2 needs 2 (unrunnable on a 1-GPU machine)"

CMP=$(cd "$(dirname "$0")/.." && pwd)/ref/pth_diff.py
T=$(mktemp -d "${TMPDIR:-/tmp}/nccl.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
n=0 bad=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
	echo "not ok $n - $2"; bad=1; fi; }
MP="timeout 600 mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x NCCL_DEBUG=INFO"

close() { # close A B DESC: max |A-B| < TOL and the weights not all 0
	r=$("$PY" "$CMP" "$1" "$2" 2>&1)
	echo "$r" | awk -v t="$TOL" '{ exit !($1 < t && $2 > 0.1) }'
	ok $? "$3 ($r, tolerance $TOL)"
}
nccl_ran() { # nccl_ran ERR TOOL BUCKETS DESC
	{ [ "$DEV" = cpu ] || grep -q "NCCL INFO.*NCCL version" "$1"; } &&
		grep -q "^$2: $3 buckets per step" "$1"
	ok $? "$4"
}

awk 'BEGIN { srand(3); split("the cat sat on mat . a dog ran in park and bird flew over tree", f, " ")
  for (i = 0; i < 300; i++) { s = "xxbos"; n = 5 + int(rand() * 20); k = int(rand() * 16)
    for (j = 0; j < n; j++) s = s " " f[1 + (k + j) % 16]
    printf "%s\t\t%s\n", (i < 250 ? "train" : "valid"), s } }' >d.tok
numz -q -w vocab -f 1 -o d.ids d.tok && lmbatch -q -b 8 -l 10 -e 2 -o d.lmb d.ids
ok $? "a corpus: numz, lmbatch -b 8 -e 2"
S="--emb 16 --hid 32 --clip 0.5 -j 1 -s 2 -l 3e-2"
awdtrain -q $S --device cpu -o one.pth d.lmb >/dev/null 2>one.err
ok $? "awdtrain, one process, --device cpu"
$MP -np 2 awdtrain $S --device $DEV -o two.pth d.lmb >/dev/null 2>two.err
ok $? "mpirun -np 2 awdtrain --device $DEV"
nccl_ran two.err awdtrain 4 "... NCCL ran (--device cuda), 4 buckets a step"
close one.pth two.pth "awdtrain: 2 ranks on $DEV give one CPU process's weights"

encsave -q -o enc.pth one.pth
awk 'BEGIN { srand(5); split("the cat sat on mat . a dog ran in park and bird flew over tree", f, " ")
  for (i = 0; i < 150; i++) { lab = i % 2; s = "xxbos"; n = 3 + int(rand() * 90)
    if (i % 37 == 0) n = 1500 + int(rand() * 100)
    for (j = 0; j < n; j++) { w = f[1 + int(rand() * 16)]
      if (w == "dog" || w == "cat") w = lab ? "dog" : "cat"; s = s " " w }
    printf "%s\t%s\t%s\n", (i < 110 ? "train" : "valid"), (lab ? "pos" : "neg"), s } }' >c.tok
numz -q -v vocab -o c.ids c.tok
ok $? "a labelled stream"
C="-b 10 -n 2 -l 3e-3 -j 1 -s 1 --unfreeze"
clastrain -q $C --device cpu -e enc.pth -o cone.pth c.ids >/dev/null 2>cone.err
ok $? "clastrain, one process, --device cpu"
$MP -np 2 clastrain $C --device $DEV -e enc.pth -o ctwo.pth c.ids \
	>/dev/null 2>ctwo.err
ok $? "mpirun -np 2 clastrain --device $DEV"
nccl_ran ctwo.err clastrain 5 "... NCCL ran (--device cuda), 5 buckets a step"
close cone.pth ctwo.pth "clastrain: 2 ranks on $DEV give one CPU process's weights"
# the host path on the same devices, for comparison
$MP -x ULMFIT_DIST_NCCL=0 -np 2 clastrain $C --device $DEV -e enc.pth \
	-o chost.pth c.ids >/dev/null 2>chost.err
ok $? "mpirun -np 2 clastrain --device $DEV, ULMFIT_DIST_NCCL=0 (MPI through the host)"
close cone.pth chost.pth "... the same weights"
[ "$bad" -ne 0 ] && sed 's/^/#   /' ./*.err | tail -40
echo "1..$n"
exit "$bad"
