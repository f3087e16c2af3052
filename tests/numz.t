#!/bin/sh
# numz: spec §2 (fastai Numericalize) through the tool, round trips,
# pipes, damaged or foreign streams, and the exit-status contract.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
TAB=$(printf '\t')

# All ids of a stream, concatenated: lmbatch with bs 1 and a long seq_len
# makes one row, x = S[0, T-1) and y = S[1, T).
ids_of() {  # ids_of FILE.ids
	lmbatch -q -b 1 -l 100000 --no-shuffle --train-tags '*' "$1" |
	lmbatch --dump | awk -F'\t' '{ n = split($6, y, " "); print $5 " " y[n] }'
}
# flip FILE OFFSET: xor one byte with 0x01
flip() {
	b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# §2: the two texts, already split on spaces
printf 'train\t\tThis is an example of text\n' >two.tok
printf 'train\t\tthis is another text\n' >>two.tok
check "min_freq 1 builds" numz -f 1 -w v1 -o two1.ids two.tok
is "$(wc -l <v1 | tr -d ' ')" 24 "min_freq 1: 17 entries padded to 24"
is "$(sed -n 1,9p v1 | tr '\n' ' ')" \
   "xxunk xxpad xxbos xxeos xxfld xxrep xxwrep xxup xxmaj " \
   "the 9 specials first, in canonical order"
is "$(sed -n 10,17p v1 | tr '\n' ' ')" \
   "is text This an example of this another " \
   "vocab[9..16] = is text This an example of this another"
is "$(sed -n 18,24p v1 | sort -u)" xxfake "then xxfake padding"
is "$(ids_of two1.ids)" "11 9 12 13 14 10 15 9 16 10" \
   "first text encodes to [11,9,12,13,14,10] (the second follows)"

check "min_freq 2 builds" numz -f 2 -w v2 -o two2.ids two.tok
is "$(wc -l <v2 | tr -d ' ')" 16 "min_freq 2: 11 entries padded to 16"
is "$(sed -n 10,11p v2 | tr '\n' ' ')" "is text " "min_freq 2: specials + is text"
is "$(ids_of two2.ids)" "0 9 0 0 0 10 0 9 0 10" \
   "min_freq 2: first text encodes to [0,9,0,0,0,10]"

printf 'train\t\txxbos xxmaj this is an example of text\n' >rules.tok
printf 'train\t\txxbos this is another text\n' >>rules.tok
numz -q -f 2 -w vr -o rules.ids rules.tok
is "$(ids_of rules.ids)" "2 8 9 10 0 0 0 11 2 9 10 0 11" \
   "rules applied: [2,8,9,10,0,0,0,11] and [2,9,10,0,11]"

# the same through the real tokenizer
printf 'This is an example of text\nthis is another text\n' >two.txt
tok -q -l two.txt | numz -q -f 2 -w vt >tokt.ids
is "$(ids_of tokt.ids)" "2 8 9 10 0 0 0 11 2 9 10 0 11" \
   "tok | numz -f 2: [2,8,9,10,0,0,0,11] and [2,9,10,0,11]"

# counts {a:4, b:2, c:2, d:1}
printf 'train\tx\ta b a c\nvalid\ty\ta d b c a\n' >abcd.tok
numz -q -m 12 -f 1 -w va -o /dev/null abcd.tok
is "$(sed -n '10,$p' va | tr '\n' ' ')" \
   "a b c xxfake xxfake xxfake xxfake " \
   "max_vocab 12, min_freq 1: specials + a b c, d cut, 4 xxfake (16)"
numz -q -w vd -o /dev/null abcd.tok
is "$(sed -n '10,$p' vd | sort | uniq -c | tr -s ' ' | tr '\n' '|')" \
   " 1 a| 6 xxfake|" "defaults (min_freq 3): specials + a, 6 xxfake"
numz -q --max-vocab=12 --min-freq=1 -w vl -o /dev/null abcd.tok
check "--max-vocab/--min-freq are -m/-f" cmp va vl

# the xxfake rule when the length is a multiple of 8: 9 + 15 = 24 -> 32
i=0; : >w15.tok
while [ $i -lt 15 ]; do printf 'train\t\tw%02d\n' $i >>w15.tok; i=$((i + 1)); done
numz -q -f 1 -w v15 -o /dev/null w15.tok
is "$(wc -l <v15 | tr -d ' ')" 32 "24 entries get 8 more xxfake (never 24)"
is "$(sed -n 10p v15) $(sed -n 24p v15) $(sed -n 25p v15)" "w00 w14 xxfake" \
   "equal counts keep first-occurrence order"

# round trip: escapes, unicode, ▁, empty documents, labels and splits
{
	printf 'train\tpos\txxbos xxmaj it\\\\s a\\tb c\\nd \342\226\201x caf\303\251 \342\200\246\n'
	printf 'valid\tneg\t\n'
	printf 'unsup\t\txxbos \\\\ xxunk caf\303\251 it\\\\s\n'
	printf 'test\tlabel with\342\226\201space\txxbos a\\tb\n'
} >rt.tok
check "build from a file" numz -f 1 -w vrt -o rt.ids rt.tok
numz -d -v vrt -o rt.back rt.ids
check "round trip tok -> ids -> tok is exact" cmp rt.tok rt.back
cat rt.tok | numz -q -f 1 -w vpipe >rt.pipe.ids
check "a pipe is spooled: same vocab as from a file" cmp vrt vpipe
check "a pipe is spooled: same id stream as from a file" cmp rt.ids rt.pipe.ids
exits 1 "a pipe needs the spool in TMPDIR" \
      sh -c 'cat rt.tok | TMPDIR=/nonexistent numz -q -f 1 -w vx -o x.ids'
errmatch 'TMPDIR' "... and says so"
check "a regular file is read twice, no spool" \
      env TMPDIR=/nonexistent numz -q -f 1 -w vx -o x.ids rt.tok
numz -q -f 1 -w vstdin -o rt.stdin.ids <rt.tok
check "a regular stdin is rewound: same ids" cmp rt.ids rt.stdin.ids
head -2 rt.tok >p1.tok; tail -2 rt.tok >p2.tok
numz -q -f 1 -w vmulti -o rt.multi.ids p1.tok - <p2.tok
check "several inputs count and encode as their concatenation" \
      cmp rt.ids rt.multi.ids
check "-v applies a vocab in one pass" numz -v vrt -o rt.v.ids rt.tok
check "... giving the same stream, params aside" \
      sh -c 'numz -d -v vrt rt.v.ids | cmp - rt.tok'
is "$(cat rt.tok | numz -v vrt | numz -d -v vrt | md5sum)" \
   "$(md5sum <rt.tok)" "pipe round trip: cat | numz -v | numz -d -v"

# unknown words -> xxunk, labels and splits kept
printf 'test\tpos\txxbos never seen caf\303\251\n' >unk.tok
is "$(numz -v vrt unk.tok | numz -d -v vrt)" \
   "$(printf 'test\tpos\txxbos xxunk xxunk caf\303\251')" \
   "unknown tokens decode as xxunk; split and label kept"
is "$(numz -v vrt unk.tok | head -c 300 | strings | grep -c '^tool=numz$')" 1 \
   "the header says who made the stream"

# damaged and foreign streams are refused with exit 1
sz=$(wc -c <rt.ids)
cp rt.ids bad.ids; flip bad.ids $((sz - 45))
exits 1 "a flipped byte in a record is refused" numz -d -v vrt bad.ids
errmatch 'corrupt stream \(record' "... as a corrupt record"
cp rt.ids bad.ids; flip bad.ids 20
exits 1 "a flipped byte in the header is refused" numz -d -v vrt bad.ids
errmatch 'corrupt id stream header' "... as a corrupt header"
head -c $((sz - 30)) rt.ids >trunc.ids
exits 1 "a truncated stream is refused" numz -d -v vrt trunc.ids
errmatch 'truncated' "... as truncated"
exits 1 "a stream made with another vocab is refused" numz -d -v v1 rt.ids
errmatch 'another vocab' "... saying so"
exits 1 "a .tok file is not an id stream" numz -d -v vrt rt.tok
errmatch 'not an id stream' "... saying so"
printf 'xxunk\n\nxxbos\n' >badvocab
exits 1 "a vocab with an empty line is refused" numz -v badvocab rt.tok
printf 'train no tabs here\n' >bad.tok
exits 1 "a line without the two tabs is refused" numz -f 1 -w vb -o b.ids bad.tok
errmatch 'bad.tok: line 1' "... naming file and line"
check "... leaving no output files" sh -c '! ls vb b.ids vb.tmp.* b.ids.tmp.* 2>/dev/null'

# usage errors exit 2, missing input exits 1 and writes nothing
exits 0 "-h exits 0" numz -h
cp "$T/.out" help.out
check "-h prints usage on stdout" grep -q '^usage: numz' help.out
exits 2 "a bad flag exits 2" numz --bogus
exits 2 "neither -v nor -w exits 2" numz rt.tok
exits 2 "-v with -w exits 2" numz -v vrt -w x rt.tok
exits 2 "-w and -o naming one file exits 2" numz -w same -o same rt.tok
exits 2 "-d without -v exits 2" numz -d rt.ids
exits 2 "-m 0 exits 2" numz -m 0 -w x rt.tok
exits 2 "-f junk exits 2" numz -f 3x -w x rt.tok
exits 1 "a missing input exits 1" numz -w nv -o n.ids rt.tok missing.tok
errmatch 'missing.tok: No such file' "... with tool: file: reason"
check "... and leaves no output file" sh -c '! ls nv n.ids nv.tmp.* n.ids.tmp.* 2>/dev/null'
exits 1 "a missing vocab exits 1" numz -v nosuch -o n.ids rt.tok
check "... and leaves no output file" sh -c '! ls n.ids n.ids.tmp.* 2>/dev/null'

# issue 16: a raw TAB among the tokens (two documents merged), a NUL byte,
# and vocabs without the specials at 0..8 are refused, naming the problem
printf 'train\t\tone doc\ttrain\t\tanother doc\n' >tab.tok
for m in "-v v1" "-w tabv"; do
	exits 1 "numz $m: a raw TAB among the tokens" numz -q $m -o tab.ids tab.tok
	errmatch "^numz: tab.tok: line 1: a raw TAB among the tokens" "... says so"
	check "... and leaves no output" sh -c '! ls tab.ids tabv tab.ids.tmp.* 2>/dev/null'
done
printf 'train\t\tone\000doc\n' >nul.tok
exits 1 "a NUL byte in a .tok line" numz -q -v v1 -o nul.ids nul.tok
errmatch "^numz: nul.tok: line 1: a NUL byte" "... says so"
printf 'abc\n' >tiny.vocab
exits 1 "a 4-byte vocab" numz -q -v tiny.vocab -o t.ids two.tok
errmatch "^numz: tiny.vocab: 1 token; a vocab starts with fastai's 9 special" \
	"... says the specials are missing"
sed 's/^xxunk$/xxunq/' v1 >edited.vocab
exits 1 "a vocab with xxunk edited" numz -q -v edited.vocab -o t.ids two.tok
errmatch '^numz: edited.vocab: id 0 is "xxunq", not xxunk' "... names the id"
exits 1 "... refused for -d too" numz -d -v edited.vocab two1.ids
sed '1,9d' v1 >nospec.vocab
exits 1 "a vocab without the specials" numz -q -v nospec.vocab -o t.ids two.tok
check "... no output" sh -c '! ls t.ids t.ids.tmp.* 2>/dev/null'

# shards counted apart (numz -c, in parallel) and merged (--counts) give
# the vocab one pass over the whole corpus gives, ties included: tokens
# seen equally often keep their order of first occurrence across shards
awk 'BEGIN { for (i = 0; i < 2400; i++) {
	printf "%s\t%d\t", i % 10 ? "train" : "valid", i % 2
	for (j = 0; j < 8; j++) printf "%sw%d", j ? " " : "", (i * 7 + j * j) % (40 + i / 30)
	printf " t%d\n", int(i / 150) }
}' >corpus.tok
split -l 700 corpus.tok shard.
check "shards counted in parallel (xargs -P 2)" \
	sh -c 'ls shard.?? | xargs -P 2 -I{} numz -q -c {}.counts {}'
check "the whole corpus counted" numz -q -c whole.counts corpus.tok
is "$(head -1 whole.counts)" "#numz counts 1" "counts file: its first line"
is "$(tail -1 whole.counts)" "#end $((2400 * 9)) $(($(wc -l <whole.counts) - 2))" \
	"counts file: #end TOTAL DISTINCT"
check "shards' counts merged (-c --counts)" \
	numz -q --counts -c merged.counts shard.??.counts
check "... equal the whole corpus's counts" cmp whole.counts merged.counts
for f in 1 3; do
	check "vocab -f $f of the whole (two passes)" numz -q -f $f -m 64 -w whole$f.vocab -o whole$f.ids corpus.tok
	check "vocab -f $f from the shards' counts" numz -q -f $f -m 64 --counts -w merged$f.vocab shard.??.counts
	check "... the same vocab" cmp whole$f.vocab merged$f.vocab
done
check "merged in two steps (a tree)" sh -c 'numz -q --counts -c ab.counts shard.aa.counts shard.ab.counts &&
	numz -q -f 1 -m 64 --counts -w tree.vocab ab.counts shard.ac.counts shard.ad.counts'
check "... the same vocab" cmp whole1.vocab tree.vocab
check "shards merged out of order" numz -q -f 1 -m 64 --counts -w rev.vocab shard.ad.counts shard.ac.counts shard.ab.counts shard.aa.counts
check "... another vocab (the ties)" sh -c '! cmp -s whole1.vocab rev.vocab'
check "shards encoded with the merged vocab" sh -c 'for s in shard.??; do numz -q -v merged1.vocab -o $s.ids $s || exit 1; done'
numz -d -v whole1.vocab whole1.ids >whole1.dec
check "... the whole corpus's ids, in order (decoded, same vocab)" \
	sh -c 'numz -d -v merged1.vocab shard.??.ids | cmp - whole1.dec'
check "... which are not all xxunk" grep -q " w1 " whole1.dec
# damaged or wrong counts files
head -n 5 whole.counts >cut.counts
exits 1 "a cut counts file" numz -q --counts -w x.vocab cut.counts
errmatch "^numz: cut.counts: cut short: no #end line" "... says so"
check "... no vocab" test ! -e x.vocab
exits 1 "a .tok file as counts" numz -q --counts -c x.counts corpus.tok
errmatch "^numz: corpus.tok: not a counts file \(make it with numz -c\)" "... says so"
sed '3p' whole.counts >dup.counts
exits 1 "a token counted twice" numz -q --counts -c x.counts dup.counts
errmatch "^numz: dup.counts: line 4: .* is counted twice" "... names the line"
sed '2s/\t.*/\t0/' whole.counts >zero.counts
exits 1 "a count of 0" numz -q --counts -c x.counts zero.counts
errmatch "^numz: zero.counts: line 2: not \"token TAB count\"" "... names the line"
sed '2s/\t\([0-9]*\)$/\t1\1/' whole.counts >sum.counts
exits 1 "a count that disagrees with #end" numz -q --counts -c x.counts sum.counts
errmatch "#end line does not match" "... says so"
check "... and leaves no output" test ! -e x.counts
exits 2 "-o with -c" numz -c x.counts -o x.ids corpus.tok
exits 2 "--counts without -w or -c" numz --counts whole.counts
exits 2 "-c with -v" numz -c x.counts -v v1 corpus.tok
check "-c reads stdin in one pass (a pipe)" sh -c 'cat corpus.tok | numz -q -c - >pipe.counts'
check "... the same counts" cmp whole.counts pipe.counts

# a full disk (ulimit -f, 512-byte blocks in sh): exit 1, a message naming
# the file, no output and no NAME.tmp.PID (SIGXFSZ used to kill numz)
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "train\t\tw%d is a test %d\n", i % 500, i }' >big.tok
for m in "-v v1" "-w fullv"; do
	(ulimit -f 20; numz -q $m -o full.ids big.tok) 2>"$T/.err"
	is $? 1 "numz $m on a full disk: exit 1"
	errmatch "^numz: full.ids: .*File too large" "... names the file"
	check "... and leaves nothing" sh -c '! ls full.ids fullv *.tmp.* 2>/dev/null'
done
done_testing
