#!/bin/sh
# contract: the common tool contract, probed adversarially on all eight
# tools: -h/--help, unknown flags and bad values (exit 2), missing files,
# directories, empty files, /dev/null, random bytes, the wrong kind of
# stream, truncated and bit-flipped inputs (exit 1, "tool: " on stderr, no
# output and no temp file left), -o into a missing directory, onto
# /dev/full and /dev/null (the device must survive), binary data refused
# on a terminal, stdin and pipes, and SIGINT/SIGTERM mid-run (no partial
# file; awdtrain and clastrain save a complete, resumable checkpoint).
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export ULMFIT_HOME="$T/home"
mkdir out adir

# ---- fixtures, made with the tools themselves ------------------------------
awk 'BEGIN { srand(7); split("the movie was i liked it hated plot film a", f, " ")
  for (i = 0; i < 200; i++) { lab = i % 2; split(lab ? "good great" : "bad awful", w, " ")
    s = "xxbos"; n = 3 + int(rand() * 8); k = int(rand() * n)
    for (j = 0; j < n; j++) { s = s " " f[1 + int(rand() * 10)]; if (j == k) s = s " " w[1 + int(rand() * 2)] }
    printf "%s\t%s\t%s\n", (i < 160 ? "train" : "valid"), (lab ? "pos" : "neg"), s } }' >d.tok
S="--emb 16 --hid 32"
check "fixture: numz" numz -q -w vocab -f 1 -o d.ids d.tok
check "fixture: lmbatch" lmbatch -q -b 8 -l 10 -e 2 -o d.lmb d.ids
check "fixture: awdtrain" awdtrain -q $S -v vocab -o lm.pth d.lmb
check "fixture: encsave" encsave -o enc.pth lm.pth
check "fixture: clastrain" clastrain -q -e enc.pth -v vocab -b 16 -o c.pth d.ids
echo hello >a.txt && tar czf a.tar.gz a.txt
head -c 4096 /dev/urandom >garbage
: >empty
# truncated (half, first 20 bytes, all but the last byte) and bit-flipped
# (a byte in the middle) copies of every binary input
for f in d.ids d.lmb lm.pth enc.pth c.pth a.tar.gz; do
	sz=$(wc -c <"$f")
	head -c $((sz / 2)) "$f" >"half.$f"
	head -c 20 "$f" >"head.$f"
	head -c $((sz - 1)) "$f" >"cut.$f"
	cp "$f" "flip.$f"
	printf '\377' | dd of="flip.$f" bs=1 seek=$((sz / 2)) conv=notrunc 2>/dev/null
done

noleft() {  # noleft DESC: out/ is empty: no output, no temp file
	is "$(ls -A out | tr '\n' ' ')" "" "$1: no output or temp file left"
	rm -rf out/* out/.[!.]*
}
fails() {   # fails STATUS TOOL DESC CMD...: exit status, "tool: " first, nothing left
	want=$1 tool=$2 d=$3; shift 3
	exits "$want" "$tool $d: exit $want" timeout $HANG "$@"
	errmatch "^$tool: " "$tool $d: message starts '$tool: '"
	! grep -q "Sanitizer\|runtime error" "$T/.err"
	ok $? "$tool $d: no sanitizer report"
	noleft "$tool $d"
}
bad_inputs() { # bad_inputs TOOL KIND 'CMD': @ in CMD is replaced by each bad input
	for i in nothere adir ${EMPTY-empty /dev/null} garbage $WRONG \
	         half.$2 head.$2 cut.$2 flip.$2; do
		eval "fails 1 $1 \"$2 <- $i\" $(echo "$3" | sed "s|@|$i|")"
	done
}
sig_status() { case $1 in INT) echo 130 ;; TERM) echo 143 ;; esac; }

# ---- usage: -h/--help on stdout, unknown flags and bad values exit 2 -------
for t in untar tok numz lmbatch awdtrain encsave clastrain infer; do
	for h in -h --help; do
		exits 0 "$t $h: exit 0" timeout $HANG $t $h
		is "$(head -1 "$T/.out" | cut -d' ' -f1-2)" "usage: $t" "$t $h: usage on stdout"
		is "$(wc -c <"$T/.err" | tr -d ' ')" 0 "$t $h: nothing on stderr"
	done
	fails 2 $t "--no-such-flag" $t --no-such-flag
	errmatch "unrecognized option '--no-such-flag'" "$t names the unknown long option"
	fails 2 $t "-Z" $t -Z
done
fails 2 untar "-r junk" untar -r many a.tar.gz
fails 2 tok "-j junk" tok -j x -o out/x d.tok
fails 2 numz "-m junk" numz -m 1e -w out/v -o out/x d.tok
fails 2 numz "no vocab" numz -o out/x d.tok
fails 2 lmbatch "-b 0" lmbatch -b 0 -o out/x d.ids
fails 2 lmbatch "-l junk" lmbatch -l 10x -o out/x d.ids
fails 2 awdtrain "no -o" awdtrain d.lmb
fails 2 awdtrain "-l junk" awdtrain -l fast -o out/x d.lmb
fails 2 awdtrain "-o - (the table is on stdout)" awdtrain $S -o - d.lmb
fails 2 encsave "-o without a value" encsave -o
fails 2 encsave "two inputs" encsave -o out/x lm.pth lm.pth
fails 2 clastrain "-b junk" clastrain -e enc.pth -b x -o out/x d.ids
fails 2 clastrain "-o -" clastrain -e enc.pth -o - d.ids
fails 2 infer "no model" infer
fails 2 infer "-b junk" infer -b 0 c.pth "text"

# ---- bad inputs: exit 1, a message, nothing written ------------------------
fails 1 tok "missing file" tok -q -o out/x nothere
# a directory is fastai's from_folder: an empty one is an empty corpus
# (UBSan once caught qsort(NULL, 0) here)
exits 0 "tok: an empty folder is an empty corpus" timeout $HANG tok -q -o out/x adir
is "$(wc -c <out/x | tr -d ' ')" 0 "tok: ... and gives no documents"
rm -f out/x
# an empty .tok is an empty corpus: a valid stream of no documents
exits 0 "numz: an empty .tok is fine" numz -q -v vocab -o e.ids empty
is "$(numz -q -d -v vocab e.ids 2>&1)" "" "numz: ... and gives a stream with no documents"
WRONG="d.lmb lm.pth" EMPTY= bad_inputs numz tok 'numz -q -v vocab -o out/x @'
unset EMPTY
WRONG="d.tok lm.pth"
for i in nothere adir empty /dev/null garbage $WRONG; do
	fails 1 numz "vocab <- $i" numz -q -v $i -o out/x d.tok
done
WRONG="d.tok d.lmb" bad_inputs numz ids 'numz -q -d -v vocab -o out/x @'
WRONG="d.tok d.lmb lm.pth" bad_inputs lmbatch ids 'lmbatch -q -o out/x @'
WRONG="d.tok d.ids" bad_inputs lmbatch lmb 'lmbatch -q --dump @'
# a vocab of the same size with one token changed is another vocab: the
# stream's vocab hash, not only its size, must match
sed 's/^movie$/film2/' vocab >vocab2
is "$(wc -l <vocab2)" "$(wc -l <vocab)" "vocab2: the same size as vocab"
! cmp -s vocab vocab2; ok $? "vocab2: another vocab"
for c in "numz -q -d -v vocab2 -o out/x d.ids" "lmbatch -q -v vocab2 -o out/x d.ids" \
         "lmbatch -q --dump -v vocab2 d.lmb" "awdtrain -q $S -v vocab2 -o out/x d.lmb"; do
	fails 1 ${c%% *} "$c: the stream's vocab hash differs" $c
	errmatch "another vocab" "$c: says it was made with another vocab"
done
WRONG="d.tok d.ids c.pth" bad_inputs awdtrain lmb 'awdtrain -q $S -o out/x @'
WRONG="enc.pth c.pth d.lmb" bad_inputs awdtrain lm.pth 'awdtrain -q -c @ -o out/x d.lmb'
WRONG="d.lmb d.ids" bad_inputs encsave lm.pth 'encsave -o out/x @'
WRONG="d.ids" bad_inputs clastrain enc.pth 'clastrain -q -e @ -b 16 -o out/x d.ids'
WRONG="d.tok d.lmb" bad_inputs clastrain ids 'clastrain -q -e enc.pth -b 16 -o out/x @'
WRONG="enc.pth d.lmb" bad_inputs clastrain c.pth 'clastrain -q -c @ -b 16 -o out/x d.ids'
WRONG="enc.pth lm.pth d.lmb" bad_inputs infer c.pth 'infer -q @ "the movie"'
WRONG="d.tok d.lmb" bad_inputs infer ids 'infer -q --eval @ c.pth'
WRONG="d.tok" bad_inputs untar a.tar.gz 'untar -q -f @'
for i in half head cut flip; do
	fails 1 untar "$i.a.tar.gz" untar -q -f $i.a.tar.gz
	errmatch "corrupt, truncated" "untar $i.a.tar.gz: says the archive is damaged"
	! grep -q "(null)" "$T/.err"; ok $? "untar $i.a.tar.gz: no '(null)' in the message"
done
rm -rf home

# ---- outputs: a missing directory, a full disk, /dev/null ------------------
# withpid CMD...: notes CMD's pid in ./pid, so that the check for a temp
# file in /dev looks for this run's (NAME.tmp.PID) and not for those of
# another suite running at the same time on the same machine
printf '#!/bin/sh\necho $$ >pid\nexec "$@"\n' >withpid && chmod +x withpid
dev_ok() {  # dev_ok DESC: /dev/full and /dev/null are still devices, no temp beside them
	pid=$(cat pid)
	[ -c /dev/full ] && [ -c /dev/null ] && [ -n "$pid" ] &&
		[ ! -e /dev/full.tmp.$pid ] && [ ! -e /dev/null.tmp.$pid ]
	st=$?
	ok $st "$1: /dev/full and /dev/null are still devices, no temp file in /dev"
	[ $st -eq 0 ] || ls -l /dev/full /dev/null /dev/full.tmp.$pid \
		/dev/null.tmp.$pid 2>&1 | diag
	rm -f pid
}
outputs() { # outputs TOOL 'CMD': @ in CMD is the output
	for o in nodir/x /dev/full /dev/null; do
		c="./withpid $(echo "$2" | sed "s|@|$o|")"
		if [ $o = /dev/null ]; then
			exits 0 "$1 -> $o: exit 0" timeout $HANG $c
			rm -f out/*
		else
			fails 1 $1 "-> $o" $c
			errmatch "^$1: $o: " "$1 -> $o: the message names $o"
		fi
		dev_ok "$1 -> $o"
	done
	[ ! -e nodir ]; ok $? "$1: nodir/ was not created"
}
outputs tok 'tok -q -o @ d.tok'
outputs tok 'tok -q -L @ -o out/x d.tok'
outputs numz 'numz -q -v vocab -o @ d.tok'
outputs numz 'numz -q -f 1 -w @ -o out/x d.tok'
outputs numz 'numz -q -d -v vocab -o @ d.ids'
outputs lmbatch 'lmbatch -q -b 8 -l 10 -o @ d.ids'
outputs lmbatch 'lmbatch -q -b 8 -l 10 --valid-out @ -o out/x d.ids'
outputs awdtrain 'awdtrain -q --emb 16 --hid 32 -o @ d.lmb'
outputs awdtrain 'awdtrain -q --emb 16 --hid 32 --log @ -o out/x d.lmb'
rm -f out/x
outputs encsave 'encsave -o @ lm.pth'
outputs clastrain 'clastrain -q -e enc.pth -b 16 -o @ d.ids'
outputs clastrain 'clastrain -q -e enc.pth -b 16 --log @ -o out/x d.ids'
rm -f out/x
# infer writes text on stdout
timeout $HANG infer -q c.pth "a good movie" >/dev/full 2>"$T/.err"
ok $(($? != 1)) "infer >/dev/full: exit 1"
errmatch "^infer: " "infer >/dev/full: message starts 'infer: '"

# ---- binary data on a terminal ---------------------------------------------
if script -qec true /dev/null >/dev/null 2>&1; then
	for c in "numz -q -v vocab d.tok" "lmbatch -q d.ids" "encsave lm.pth" \
	         "numz -q -v vocab -o /dev/tty d.tok" "encsave -o /dev/tty lm.pth"; do
		t=${c%% *}
		r=$(timeout $HANG script -qec "$c; echo rc=\$?" /dev/null </dev/null | tr -d '\r')
		is "$(echo "$r" | tail -1)" "rc=2" "$c on a terminal: exit 2"
		is "$(echo "$r" | head -1 | grep -c "^$t: .*refusing to write binary data to a terminal")" 1 \
		   "$c on a terminal: says why"
	done
fi

# ---- stdin and pipes --------------------------------------------------------
cat d.tok | numz -q -v vocab - | lmbatch -q -b 8 -l 10 - >p.lmb
ok $? "cat | numz - | lmbatch -"
cmp -s p.lmb "$(lmbatch -q -b 8 -l 10 -o q.lmb d.ids && echo q.lmb)"; ok $? "a pipe gives the same stream as files"
tok -q - <d.tok >t1 && tok -q d.tok >t2 && cmp -s t1 t2; ok $? "tok reads - like a file"
awdtrain -q $S -o out/p.pth - <d.lmb >/dev/null; ok $? "awdtrain reads the stream from stdin"
encsave <out/p.pth | encsave -o e2.pth && encsave -o e3.pth out/p.pth &&
	is "$(encsave -v -o /dev/null e2.pth 2>&1)" "$(encsave -v -o /dev/null e3.pth 2>&1)" \
	   "encsave: stdin to stdout to stdin gives the same tensors"
rm -f out/p.pth
is "$(printf 'a good movie\nan awful film\n' | infer -q c.pth | wc -l | tr -d ' ')" 2 \
   "infer: one line of stdin per document"
is "$(infer -q --eval - c.pth <d.ids | head -1 | cut -f1)" "accuracy" "infer --eval - reads stdin"
lmbatch -q -b 8 -l 10 - <cut.d.ids >out/x 2>"$T/.err"; ok $(($? != 1)) "a truncated stream on stdin: exit 1"
errmatch "^lmbatch: -: truncated" "it says: -: truncated"
is "$(wc -c <out/x | tr -d ' ')" 0 "a truncated stream on stdin: no batches written"
rm -f out/x

# ---- signals mid-run --------------------------------------------------------
# No sleep and no deadline: each signal is sent after a sign that the tool
# is where the test wants it (it opened a fifo), and the tool cannot finish
# before the signal is sent (it waits on a fifo or a full pipe the test
# holds).  Tools run under env --default-signal: a background job of a
# script starts with SIGINT ignored, a terminal's job does not.
mkfifo fifo sign in go stdo
# A reader blocked on a fifo that never ends: killed, it leaves nothing.
# The sign: the test's open of the writing end returns once CMD opened it.
for c in "tok -q -o out/x fifo" "numz -q -v vocab -o out/x fifo" \
         "numz -q -w out/v -o out/x fifo" "lmbatch -q -o out/x fifo" \
         "encsave -o out/x fifo" "awdtrain -q -o out/x fifo" \
         "clastrain -q -e enc.pth -o out/x fifo"; do
	for sig in INT TERM; do
		bg fifo $c >/dev/null 2>&1
		exec 3>fifo
		kill -$sig $p; rc_bg
		exec 3>&-
		is $rc $(sig_status $sig) "$c: SIG$sig ends it"
		noleft "$c: SIG$sig"
	done
done
# awdtrain and clastrain save a checkpoint on SIGINT/SIGTERM: complete,
# loadable and resumable, with no temp file beside it.  The sign: they open
# --log (a fifo here) after their handler is in place.  awdtrain reads its
# stream from a fifo that gets only half of it before the signal, the rest
# after (a read blocked in the middle must resume, not fail with EINTR);
# clastrain writes its table into a pipe the test has filled, so it waits
# there until the test drains the pipe, after the signal.
lmbatch -q -b 8 -l 10 -e 4 -o d4.lmb d.ids
half=$(($(wc -c <d4.lmb) / 2))
for sig in INT TERM; do
	{ head -c $half d4.lmb; read -r _ <go; tail -c +$((half + 1)) d4.lmb; } \
		>in 2>/dev/null 3>&- 4>&- 5>&- 6>&- 7>&- & w=$!
	bg "sign in" awdtrain -q $S --log sign -o out/a.pth in >/dev/null 2>"$T/.err"
	exec 4<sign
	kill -$sig $p
	exec 6<>go; echo go >&6
	rc_bg; wait $w
	exec 4<&- 6>&-
	is $rc $(sig_status $sig) "awdtrain: SIG$sig ends it"
	errmatch "^awdtrain: interrupted at epoch [0-9]+, batch [0-9]+; saved out/a.pth" \
	         "awdtrain SIG$sig: says where it stopped and what it saved"
	is "$(ls -A out | tr '\n' ' ')" "a.pth " "awdtrain SIG$sig: the checkpoint and no temp file"
	check "awdtrain SIG$sig: the checkpoint loads (encsave)" encsave -o e.pth out/a.pth
	check "awdtrain SIG$sig: --resume finishes the run" \
	      awdtrain -q --resume out/a.pth -o out/a.pth d4.lmb
	is "$(ls -A out | tr '\n' ' ')" "a.pth " "awdtrain SIG$sig resumed: only the checkpoint"
	rm -f out/*

	exec 5<>stdo
	$PY -c 'import fcntl, os; os.write(5, b"#" * fcntl.fcntl(5, fcntl.F_GETPIPE_SZ))'
	ok $? "clastrain SIG$sig: the pipe for its table is full"
	bg sign clastrain -q -e enc.pth -v vocab -b 16 --log sign -o out/c.pth \
		d.ids >stdo 2>"$T/.err"
	exec 4<sign
	kill -$sig $p
	cat stdo 5>&- >/dev/null & c=$!
	rc_bg
	exec 4<&- 5>&-
	wait $c
	is $rc $(sig_status $sig) "clastrain: SIG$sig ends it"
	errmatch "^clastrain: interrupted at epoch [0-9]+, batch [0-9]+; saved out/c.pth" \
	         "clastrain SIG$sig: says where it stopped and what it saved"
	is "$(ls -A out | tr '\n' ' ')" "c.pth " "clastrain SIG$sig: the checkpoint and no temp file"
	check "clastrain SIG$sig: the checkpoint loads (infer)" infer -q out/c.pth "a good movie"
	check "clastrain SIG$sig: --resume finishes the run" \
	      clastrain -q --resume out/c.pth -o out/c.pth d.ids
	is "$(ls -A out | tr '\n' ' ')" "c.pth " "clastrain SIG$sig resumed: only the checkpoint"
	rm -f out/*
done

# -j: every tool that computes (awdtrain, clastrain, infer) runs on all
# online CPUs unless -j N, as -h says (clastrain and infer ran their element
# loops on one thread without -j).  Counted as the threads each starts
# (strace: clones with CLONE_THREAD), not timed; and the results are those
# of -j N bit for bit (the same thread count gives the same bits).
if command -v strace >/dev/null 2>&1; then
	threads() {     # threads DIR [-j N]: threads each tool started
		d=$1; shift; j="$*"
		for t in awdtrain clastrain infer; do
			case $t in
			awdtrain) set -- awdtrain -q $j $S -o $d/a.pth d.lmb ;;
			clastrain) set -- clastrain -q $j -e enc.pth -b 16 -o $d/c.pth d.ids ;;
			infer) set -- infer -q $j --eval d.ids c.pth ;;
			esac
			strace -f -qq -e trace=clone,clone3 -o st.log "$@" \
				>$d/$t.out 2>/dev/null
			echo "$t $(grep -c CLONE_THREAD st.log)"
		done
	}
	N=$(getconf _NPROCESSORS_ONLN)
	mkdir -p j1 jd jn
	threads jd >jd/n
	threads jn -j $N >jn/n
	threads j1 -j 1 >j1/n
	for t in awdtrain clastrain infer; do
		def=$(sed -n "s/^$t //p" jd/n) jn=$(sed -n "s/^$t //p" jn/n)
		j1=$(sed -n "s/^$t //p" j1/n)
		is "$def" "$jn" "$t: the default starts the threads of -j $N (all online CPUs)"
		[ "$N" -gt 1 ] &&
			check "$t: ... more than -j 1 ($def > $j1)" test "$def" -gt "$j1"
	done
	for f in a.pth c.pth infer.out; do
		check "$f: the default = -j $N, bit for bit" cmp jd/$f jn/$f
	done
fi

done_testing
