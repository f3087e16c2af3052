#!/bin/sh
# faults: what a tool leaves when it is killed, interrupted, fed by a writer
# that dies, or runs out of disk (issue 16).
#
#   - SIGKILL of awdtrain and clastrain at 24 points each, chosen from a
#     seeded sequence over the system calls of a clean run (strace's fault
#     injection stops the tool at the Nth call: no timing): the output is
#     absent or byte-identical to a checkpoint the run writes, it loads,
#     the log has whole lines only, and no temp file is visible;
#   - SIGINT sent from outside at a fixed call, then --resume: the same
#     bytes as an uninterrupted run;
#   - a writer killed mid-pipe: the reader says "truncated stream", exit 1,
#     no output;
#   - a disk that fills up (ulimit -f) under every writer: exit 1, a
#     message naming the file, no output, no NAME.tmp.PID.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# strace is a test dependency (scripts/deps.sh): missing, this fails
command -v strace >/dev/null 2>&1
ok $? "strace is installed"
# one thread: the traced calls all come from the main thread, in order
export OPENBLAS_NUM_THREADS=1
# LeakSanitizer cannot run under ptrace (make asan)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
SYS=write,fsync,linkat,rename,renameat,renameat2

# A corpus with two labels and a learnable cycle of words.
awk 'BEGIN { srand(5); split("the cat sat on mat . a dog ran in park and bird flew over tree", f, " ")
  for (i = 0; i < 300; i++) { s = "xxbos"; n = 5 + int(rand() * 20); k = int(rand() * 16)
    for (j = 0; j < n; j++) s = s " " f[1 + (k + j) % 16]
    s = s " " (i % 2 ? "good" : "bad")
    printf "%s\t%s\t%s\n", (i < 250 ? "train" : "valid"), (i % 2 ? "pos" : "neg"), s } }' >d.tok
check "numz" numz -q -w vocab -f 1 -o d.ids d.tok
check "lmbatch, 3 epochs" lmbatch -q -b 8 -l 10 -e 3 -o d3.lmb d.ids
S="-j 1 --emb 16 --hid 32 --drop-mult 0.2"
check "awdtrain" awdtrain -q $S -v vocab -o lm.pth d3.lmb
check "encsave" encsave -q -o enc.pth lm.pth

AWD="awdtrain -q $S -v ../vocab -o x.pth --log x.tsv ../d3.lmb"
CLAS="clastrain -q -j 1 -e ../enc.pth -v ../vocab -o x.pth --log x.tsv -n 3 -b 16 -l 1e-2 --seed 1 ../d.ids"

sum() { # sum FILE: its checksum, or "absent"
	if [ -e "$1" ]; then cksum <"$1" | cut -d' ' -f1; else echo absent; fi
}
# killat DIR SYSCALL K CMD...: run CMD in a fresh DIR, SIGKILL at the Kth
# SYSCALL (at its entry: the call does not happen); prints the exit status
killat() {
	d=$1 s=$2 k=$3; shift 3
	rm -rf "$d"; mkdir "$d"
	{ (cd "$d" && exec strace -qq -o /dev/null -e trace="$s" \
		-e inject="$s:signal=KILL:when=$k" "$@") >/dev/null 2>&1
	  echo $?; } 2>/dev/null  # not the shell's "Killed"
}
# points N COUNT SEED: N distinct numbers in 1..COUNT from a seeded LCG
points() {
	awk -v n="$1" -v c="$2" -v s="$3" 'BEGIN { if (n > c) n = c
	  while (got < n) { s = (s * 1103515245 + 12345) % 2147483648
	    p = 1 + int(s / 65536) % c; if (!(p in seen)) { seen[p]; got++; print p } } }'
}

# killtest NAME CMD: the SIGKILL test for one trainer
killtest() {
	name=$1; shift
	mkdir clean.$name
	(cd clean.$name && strace -qq -o ../trace.$name -e trace=$SYS "$@") >/dev/null 2>&1
	ok $? "$name: a clean run under strace"
	ncalls=$(grep -c '^[a-z]' trace.$name)
	# what the output may be: absent, or any state it passes through,
	# which is what it is just before each link or rename, and at the end
	# (-j 1 everywhere: the sums' order, so the bits, follow the threads)
	sum clean.$name/x.pth >good.$name
	for s in linkat rename; do
		nk=$(grep -c "^$s(" trace.$name)
		k=1
		while [ $k -le "$nk" ]; do
			killat v.$name $s $k "$@" >/dev/null
			sum v.$name/x.pth >>good.$name
			k=$((k + 1))
		done
	done
	echo absent >>good.$name
	is "$(sort -u good.$name | grep -vc absent)" 3 \
		"$name: 3 checkpoints (one an epoch) pass through x.pth"
	faults= killed=0 loads=0 present=0 stale=0
	for p in $(points 24 "$ncalls" 16); do
		# the Pth call of the clean run is the Kth of its kind
		s=$(sed -n "${p}p" trace.$name | sed 's/(.*//')
		k=$(head -n "$p" trace.$name | grep -c "^$s(")
		st=$(killat k.$name "$s" "$k" "$@")
		[ "$st" -eq 137 ] && killed=$((killed + 1))
		grep -qx "$(sum k.$name/x.pth)" good.$name ||
			faults="$faults $s#$k:not-a-checkpoint"
		if [ -e k.$name/x.tsv ] && [ -s k.$name/x.tsv ] &&
		   [ -n "$(tail -c 1 k.$name/x.tsv)" ]; then
			faults="$faults $s#$k:cut-log-line"
		fi
		if [ -e k.$name/x.pth ]; then
			present=$((present + 1))
			encsave -q -o /dev/null k.$name/x.pth 2>/dev/null &&
				loads=$((loads + 1))
		fi
		left=$(ls -A k.$name | grep -v '^x\.pth$' | grep -v '^x\.tsv$')
		# killed between the link and the rename (the one window): the
		# new checkpoint, whole, under x.pth.tmp.PID, which the next
		# writer of x.pth removes (its PID is dead)
		if [ "$s" = rename ] && [ -n "$left" ] &&
		   [ "$left" = "$(cd k.$name && ls x.pth.tmp.* 2>/dev/null)" ] &&
		   grep -qx "$(sum "k.$name/$left")" good.$name; then
			stale=$((stale + 1))
			(cd k.$name && encsave -q -o x.pth ../lm.pth)
			left=$(ls -A k.$name | grep -v '^x\.pth$' | grep -v '^x\.tsv$')
		fi
		[ -n "$left" ] && faults="$faults $s#$k:left:$(echo $left)"
	done
	is "$killed" 24 "$name: SIGKILL at 24 points of $ncalls calls"
	is "${faults:-none}" none "$name: each time the previous or the new checkpoint, whole lines in the log, no temp file"
	is "$loads" "$present" "$name: every checkpoint left loads ($present of 24 runs left one; $stale stale temp files removed by the next writer)"
}

killtest awdtrain $AWD
killtest clastrain $CLAS

# the one window: SIGKILL between the link of the finished file to
# x.pth.tmp.PID and its rename over the old x.pth
killat w rename 1 $AWD >/dev/null
tmpf=$(cd w && ls x.pth.tmp.* 2>/dev/null)
is "$(echo $tmpf | wc -w | tr -d ' ')" 1 "SIGKILL before the rename: one x.pth.tmp.PID"
grep -qx "$(sum "w/$tmpf")" good.awdtrain && grep -qx "$(sum w/x.pth)" good.awdtrain
ok $? "... the new checkpoint, whole, beside the previous one"
(cd w && encsave -q -o x.pth ../lm.pth)
is "$(ls -A w | tr '\n' ' ')" "x.pth x.tsv " "... removed by the next writer of x.pth (its PID is dead)"

# ---- SIGINT from outside at a fixed call, then --resume -------------------

# awdtrain reads its stream as it trains: SIGINT at a read late in the run
# lands mid-epoch
mkdir i1 i2
(cd i1 && strace -qq -o ../rtrace -e trace=read awdtrain -q $S -v ../vocab -o x.pth ../d3.lmb) >/dev/null 2>&1
ok $? "awdtrain: uninterrupted run"
k=$(($(grep -c '^read(' rtrace) - 8))
(cd i2 && strace -qq -o /dev/null -e trace=read -e inject=read:signal=INT:when=$k \
	awdtrain -q $S -v ../vocab -o x.pth ../d3.lmb) >/dev/null 2>"$T/.err"
is $? 130 "awdtrain: SIGINT at read $k: exit 130"
errmatch "interrupted at epoch [0-9]+, batch [1-9]" "... mid-epoch"
is "$(ls -A i2)" x.pth "... a checkpoint, no temp file"
(cd i2 && awdtrain -q -j 1 --resume x.pth -o x.pth ../d3.lmb) >/dev/null 2>"$T/.err"
ok $? "... --resume finishes"
cmp -s i1/x.pth i2/x.pth; ok $? "... byte-identical to the uninterrupted run"

# clastrain holds its data in memory: SIGINT at the write of epoch 0's log
# row (a regular file: not interrupted)
mkdir j1 j2
(cd j1 && strace -qq -o ../wtrace -e trace=write $CLAS) >/dev/null 2>&1
ok $? "clastrain: uninterrupted run"
k=$(grep '^write(' wtrace | grep -n '"0\\t' | head -1 | cut -d: -f1)
(cd j2 && strace -qq -o /dev/null -e trace=write -e inject=write:signal=INT:when=$k \
	$CLAS) >/dev/null 2>"$T/.err"
is $? 130 "clastrain: SIGINT at write $k: exit 130"
is "$(ls -A j2 | tr '\n' ' ')" "x.pth x.tsv " "... a checkpoint, no temp file"
(cd j2 && clastrain -q -j 1 --resume x.pth -o x.pth ../d.ids) >/dev/null 2>"$T/.err"
ok $? "... --resume finishes"
cmp -s j1/x.pth j2/x.pth; ok $? "... byte-identical to the uninterrupted run"

# ---- a writer killed mid-pipe ------------------------------------------------

for i in 1 2 3 4 5 6 7 8; do cat d.tok; done >big.tok
{ strace -qq -o /dev/null -e trace=write -e inject=write:signal=KILL:when=3 \
	numz -q -v vocab big.tok; :; } 2>/dev/null | lmbatch -q -o p.lmb - 2>"$T/.err"
is $? 1 "numz killed mid-pipe: lmbatch exits 1"
errmatch "^lmbatch: -: truncated stream" "... says truncated stream"
check "... no output" sh -c '! ls p.lmb p.lmb.tmp.* 2>/dev/null'
{ strace -qq -o /dev/null -e trace=write -e inject=write:signal=KILL:when=3 \
	lmbatch -q -b 8 -l 10 -e 3 d.ids; :; } 2>/dev/null |
	awdtrain -q $S -o p.pth - >/dev/null 2>"$T/.err"
is $? 1 "lmbatch killed mid-pipe: awdtrain exits 1"
errmatch "^awdtrain: -: truncated stream" "... says truncated stream"
check "... no output" sh -c '! ls p.pth p.pth.tmp.* 2>/dev/null'

# ---- a full disk under every writer (ulimit -f: 512-byte blocks in sh) ----

full() {    # full BLOCKS DESCRIPTION FILE CMD...: in a fresh folder
	b=$1 d=$2 f=$3; shift 3
	rm -rf full; mkdir full
	(cd full && ulimit -f "$b" && exec "$@") >/dev/null 2>"$T/.err"
	is $? 1 "$d on a full disk: exit 1"
	errmatch "^[a-z]+: $f: .*(File too large|write error)" "... naming $f"
	is "$(ls -A full | tr '\n' ' ')" "" "... no output, no temp file"
}
full 40 tok out.tok tok -q -o out.tok ../big.tok
full 40 "tok -L" out.tok tok -q -o out.tok -L l.tsv ../big.tok
full 20 numz n.ids numz -q -v ../vocab -o n.ids ../big.tok
full 20 "numz -w" n.ids numz -q -w nv -o n.ids ../big.tok
full 20 lmbatch o.lmb lmbatch -q -b 8 -l 10 -e 3 -o o.lmb ../d.ids
full 100 awdtrain x.pth awdtrain -q $S -v ../vocab -o x.pth ../d3.lmb
full 100 clastrain x.pth clastrain -q -j 1 -e ../enc.pth -v ../vocab -o x.pth -b 16 ../d.ids
full 100 encsave e.pth encsave -q -o e.pth ../lm.pth

done_testing
