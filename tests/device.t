#!/bin/sh
# device.t: the tools on the check device (--device check, or
# ULMFIT_DEVICE=check, the default device of kern_default()): LM
# training (forward, backward, clipping, Adam, checkpoints), -c and
# --resume loading them, the classifier's training and inference, LM
# generation.  With ULMFIT_CHECK=log every host access of tensor memory
# is listed (file:line by addr2line) instead of fatal: the results must
# equal the CPU's bit for bit, and there must be no access at all.
# Without the log the first access kills the tool (the strict run).  A
# CPU run maps no CUDA library.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
need addr2line unzip

awk 'BEGIN { srand(3); split("the cat sat on mat . a dog ran in park and bird flew over tree", f, " ")
  for (i = 0; i < 300; i++) { s = "xxbos"; n = 5 + int(rand() * 20); k = int(rand() * 16)
    for (j = 0; j < n; j++) s = s " " f[1 + (k + j) % 16]
    printf "%s\t\t%s\n", (i < 250 ? "train" : "valid"), s } }' >d.tok
check "numz" numz -q -w vocab -f 1 -o d.ids d.tok
check "lmbatch" lmbatch -q -b 8 -l 10 -e 2 -o d.lmb d.ids
S="--emb 16 --hid 32 --drop-mult 0.2 --clip 0.5 -l 3e-2"

# run DEV NAME CMD...: CMD on device DEV with the access log in NAME.log
run() {
	dev=$1 name=$2; shift 2
	ULMFIT_DEVICE=$dev ULMFIT_CHECK=log "$@" >"$name.out" 2>"$name.log"
}
# where WHO NAME: the file:line of each access logged in NAME.log
where() {
	grep '^check: host access' "$2.log" | while read -r _ _ _ f pc _; do
		case $f in */*) ;; *) f=$(command -v "$1") ;; esac
		addr2line -e "$f" "$pc"; done | sed 's|.*/libcore/|libcore/|' | sort -u
}
# the checkpoint's records (zip members' bytes; the zip's times differ)
recs() { unzip -p "$1" | cksum; }
# none WHERE: no host access was logged (the accesses on stdout)
none() { grep . "$1"; [ $? -ne 0 ]; }

check "LM, CPU" run cpu lmc awdtrain -q $S -o lmc.pth d.lmb
check "LM, check device" run check lmk awdtrain -q $S -o lmk.pth d.lmb
is "$(recs lmk.pth)" "$(recs lmc.pth)" "LM training: check == CPU bit for bit (weights, Adam state)"
notime() { sed 's/ [0-9][0-9]:[0-9][0-9] *$//' "$1"; }
is "$(notime lmk.out)" "$(notime lmc.out)" "... and the same table (times aside)"
where awdtrain lmk >lmk.where
check "LM: no host access of tensor memory" none lmk.where

S2="--clip 0.5 -l 1e-2"
check "LM -c, CPU" run cpu cc awdtrain -q $S2 -c lmc.pth -o cc.pth d.lmb
check "LM -c, check" run check ck awdtrain -q $S2 -c lmc.pth -o ck.pth d.lmb
is "$(recs ck.pth)" "$(recs cc.pth)" "LM -c (a checkpoint loaded): check == CPU"
where awdtrain ck >ck.where
check "LM -c: no host access" none ck.where

check "encsave" encsave -q -o enc.pth lmc.pth
awk 'BEGIN { srand(7); split("the cat sat on mat . a dog", f, " ")
  for (i = 0; i < 60; i++) { lab = i % 2; s = "xxbos"; n = 3 + int(rand() * 8)
    for (j = 0; j < n; j++) s = s " " f[1 + int(rand() * 8)] (j == 1 ? (lab ? " park" : " tree") : "")
    printf "%s\t%s\t%s\n", (i < 48 ? "train" : "valid"), (lab ? "pos" : "neg"), s } }' >c.tok
check "numz (classes)" numz -q -v vocab -o c.ids c.tok
C="-e enc.pth -v vocab -n 2 -b 8 --unfreeze --seed 1"
check "classifier, CPU" run cpu clc clastrain -q $C -o clc.pth c.ids
check "classifier, check" run check clk clastrain -q $C -o clk.pth c.ids
is "$(recs clk.pth)" "$(recs clc.pth)" "classifier training (BatchNorm, head, encoder): check == CPU"
where clastrain clk >clk.where
check "classifier: no host access" none clk.where

check "infer --eval, CPU" run cpu ec infer -q --eval c.ids clc.pth
check "infer --eval, check" run check ek infer -q --eval c.ids clc.pth
is "$(cat ek.out)" "$(cat ec.out)" "infer --eval: check == CPU"
check "infer --generate, CPU" run cpu gc infer -q -v vocab --generate "the cat" -n 8 -s 3 lmc.pth
check "infer --generate, check" run check gk infer -q -v vocab --generate "the cat" -n 8 -s 3 lmc.pth
is "$(cat gk.out)" "$(cat gc.out)" "infer --generate: check == CPU"
cat ek.log gk.log >inf.log
where infer inf >inf.where
check "infer: no host access" none inf.where

# the check fails on a logged access
echo 'libcore/learn/fit.c:1' >plant.where
exits 1 "the no-access check fails on a logged access" none plant.where

# strict: the first access kills the tool
ULMFIT_DEVICE=check awdtrain -q $S -o strict.pth d.lmb >/dev/null 2>&1
is "$?" 0 "awdtrain on the strict check device"
is "$(recs strict.pth)" "$(recs lmc.pth)" "... and the same checkpoint as the CPU's"
# --device: the same devices as ULMFIT_DEVICE, the option winning
check "awdtrain --device check (strict)" env ULMFIT_DEVICE=cpu awdtrain -q --device check $S -o dev.pth d.lmb
is "$(recs dev.pth)" "$(recs lmc.pth)" "  the CPU's checkpoint"
check "clastrain --device check (strict)" clastrain -q --device check $C -o devc.pth c.ids
is "$(recs devc.pth)" "$(recs clc.pth)" "  the CPU's checkpoint"
check "infer --device check --eval (strict)" sh -c 'infer -q --device check --eval c.ids clc.pth >deve.out'
is "$(cat deve.out)" "$(cat ec.out)" "  the CPU's answer"
# the option really picks the check device: it protects every tensor
# again after each operation (mprotect PROT_NONE), the CPU does not
need strace
pn() { strace -f -e trace=mprotect -o "$1.tr" "$@" >/dev/null 2>&1; grep -c 'PROT_NONE' "$1.tr"; }
ncpu=$(pn infer -q -j 1 --device cpu --eval c.ids clc.pth)
nchk=$(pn infer -q -j 1 --device check --eval c.ids clc.pth)
check "--device check protects tensors ($nchk PROT_NONE calls, cpu $ncpu)" test "$nchk" -gt $((10 * ncpu + 100))
exits 2 "--device tpu: a usage error" awdtrain -q --device tpu $S -o x.pth d.lmb
errmatch "^awdtrain: --device: want cpu, cuda or check" "  says so"
# cuda: refused with the reason where there is no GPU (CUDA=0 build, no
# driver, no device); where one runs, the checkpoint is written
infer -q --device cuda --eval c.ids clc.pth >cu.out 2>"$T/.err"; rc=$?
if [ $rc -eq 0 ]; then ok 0 "infer --device cuda ran on a GPU"
else is "$rc" 1 "infer --device cuda without a usable GPU: exit 1"
	errmatch "^infer: --device cuda: ." "  with the reason"; fi
exits 1 "an unknown ULMFIT_DEVICE is refused" env ULMFIT_DEVICE=tpu awdtrain -q $S -o x.pth d.lmb
errmatch "ULMFIT_DEVICE=tpu: not cpu, cuda or check" "  says so"

# a CPU run maps no CUDA library
LD_DEBUG=libs awdtrain -q $S -o ld.pth d.lmb >/dev/null 2>ld.log
check "LD_DEBUG ran" grep -q 'calling init' ld.log
exits 1 "a CPU run loads no CUDA library (libcuda, libcudart, libcublas, libnccl, libkern_cuda)" grep -q 'libcuda\|libcudart\|libcublas\|libnccl\|libkern_cuda' ld.log
done_testing
