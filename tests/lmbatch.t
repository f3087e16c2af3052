#!/bin/sh
# lmbatch: spec §3.1 (fastai LMDataLoader) through the tools: the T=23 and
# T=25 examples, shuffle invariants, splits, show_batch, damaged streams.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# A vocab of fastai's 9 specials then w9..w299, where token K has id K,
# and documents holding consecutive ids, so every id says where it came
# from.  (numz -v refuses a vocab without the specials at 0..8.)
printf 'xxunk\nxxpad\nxxbos\nxxeos\nxxfld\nxxrep\nxxwrep\nxxup\nxxmaj\n' >wv
i=9
while [ $i -lt 300 ]; do echo w$i >>wv; i=$((i + 1)); done
mkdocs() {  # mkdocs SPLIT LEN...: documents of ids 0.., continuing the ids
	split=$1; shift
	for len in "$@"; do
		s=; k=0
		while [ $k -lt "$len" ]; do
			case $next in
			[0-8]) t=$(sed -n "$((next + 1))p" wv) ;;
			*) t=w$next ;;
			esac
			s="$s $t"; next=$((next + 1)); k=$((k + 1)); done
		printf '%s\t\t%s\n' "$split" "${s# }"
	done
}
flip() {
	b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
param() {   # param FILE KEY: a header parameter
	head -c 600 "$1" | strings | sed -n "s/^$2=//p" | head -1
}

# T = 23: docs [0..4],[5..10],[11..18],[19,20],[21,22]; bs 4, seq_len 3
next=0; mkdocs train 5 6 8 2 2 >t23.tok
numz -q -v wv -o t23.ids t23.tok
check "T=23 batches" lmbatch -q -b 4 -l 3 --no-shuffle -o t23.lmb t23.ids
is "$(param t23.lmb train_batches) $(param t23.lmb bs) $(param t23.lmb seq_len)" \
   "2 4 3" "T=23: header says 2 batches, bs 4, seq_len 3"
lmbatch --dump t23.lmb >t23.txt
is "$(awk -F'\t' '$3 == 0 { printf "%s|", $5 }' t23.txt)" \
   "0 1 2|5 6 7|10 11 12|15 16 17|" "T=23: x0"
is "$(awk -F'\t' '$3 == 0 { printf "%s|", $6 }' t23.txt)" \
   "1 2 3|6 7 8|11 12 13|16 17 18|" "T=23: y0 = x0 + 1"
is "$(awk -F'\t' '$3 == 1 { printf "%s|", $5 }' t23.txt)" \
   "3 4|8 9|13 14|18 19|" "T=23: x1 (last_len 2)"
is "$(awk -F'\t' '$3 == 1 { printf "%s|", $6 }' t23.txt)" \
   "4 5|9 10|14 15|19 20|" "T=23: y1"
is "$(cat t23.tok | numz -v wv | lmbatch -b 4 -l 3 --no-shuffle |
      lmbatch --dump | md5sum)" "$(md5sum <t23.txt)" \
   "cat x.tok | numz -v | lmbatch | lmbatch --dump gives the same batches"
exits 1 "a piped id stream is spooled in TMPDIR" \
      sh -c 'cat t23.ids | TMPDIR=/nonexistent lmbatch -b 4 -l 3 -o x.lmb'
errmatch 'TMPDIR' "... and says so"
check "a regular id stream is mapped, no spool" \
      env TMPDIR=/nonexistent lmbatch -b 4 -l 3 --no-shuffle -o x.lmb t23.ids
check "... with the same batches" cmp x.lmb t23.lmb
is "$(lmbatch --dump -v wv t23.lmb | awk -F'\t' 'NR == 5 { print $5 "|" $6 }')" \
   "xxeos xxfld|xxfld xxrep" "--dump -v prints tokens"

# T = 25: ... [21,22,23],[24]
next=0; mkdocs train 5 6 8 2 3 1 >t25.tok
numz -q -v wv t25.tok | lmbatch -q -b 4 -l 3 --no-shuffle | lmbatch --dump >t25.txt
is "$(awk -F'\t' '$3 == 0 { split($5, x, " "); printf "%s ", x[1] }' t25.txt)" \
   "0 6 12 18 " "T=25: x0 rows start at 0, 6, 12, 18"
is "$(awk -F'\t' '$3 == 1 { printf "%s|", $5 }' t25.txt)" \
   "3 4 5|9 10 11|15 16 17|21 22 23|" "T=25: x1"
is "$(awk -F'\t' '$3 == 1 { n = split($6, y, " "); printf "%s ", y[n] }' t25.txt)" \
   "6 12 18 24 " "T=25: y1's last column is 6, 12, 18, 24"
is "$(wc -l <t25.txt | tr -d ' ')" 8 "T=25: 2 batches of 4 rows"

# Shuffled: 30 documents of 1..7 tokens, 3 epochs, plus a valid split
next=0
mkdocs train 3 1 7 2 5 4 6 2 3 1 7 5 4 2 6 3 5 1 2 7 4 3 6 2 5 1 4 7 3 2 >sh.tok
mkdocs valid 4 6 3 5 2 >>sh.tok
numz -q -v wv -o sh.ids sh.tok
starts=$(awk -F'\t' 'NR == FNR { id[$1] = NR - 1; next }
	$1 == "train" { split($3, t, " "); printf "%s ", id[t[1]] }' wv sh.tok)
check "shuffled, 3 epochs" lmbatch -q -b 3 -l 4 -e 3 -s 7 -o sh.lmb sh.ids
lmbatch --dump sh.lmb >sh.txt
is "$(awk -F'\t' '{ nx = split($5, x, " "); split($6, y, " ");
	for (t = 2; t <= nx; t++) if (x[t] != y[t - 1]) bad++ }
	END { print bad + 0 }' sh.txt)" 0 "every batch: x[:,1:] == y[:,:-1]"
is "$(awk -F'\t' '{ k = $1 " " $2 " " $4; split($5, x, " ")
	if (k in last && $3 == prev[k] + 1) { n++; if (x[1] != last[k]) bad++ }
	m = split($6, y, " "); last[k] = y[m]; prev[k] = $3 }
	END { print (n > 0) " " bad + 0 }' sh.txt)" "1 0" \
   "every row: y_b[:,-1] == x_{b+1}[:,0]"
# inside a row each step is +1 within a document, or the end of one
# document followed by the start of another: documents stay whole
is "$(awk -F'\t' -v s="$starts" 'BEGIN { split(s, a, " "); for (i in a) st[a[i]] = 1 }
	$2 == "train" { nx = split($5, x, " "); split($6, y, " ")
	for (t = 1; t <= nx; t++) if (y[t] != x[t] + 1 && !(y[t] in st)) bad++ }
	END { print bad + 0 }' sh.txt)" 0 "shuffled rows are whole documents joined"
is "$(awk -F'\t' '$2 == "train" && $3 == 0 && $4 == 0 { printf "%s|", $5 }' sh.txt |
      tr '|' '\n' | sort -u | wc -l | tr -d ' ')" 3 "each epoch has its own order"
is "$(awk -F'\t' '$2 == "valid" { print $3, $4, $5, $6 }' sh.txt | sort | uniq -c |
      awk '$1 != 3' | wc -l | tr -d ' ')" 0 "valid batches are the same in every epoch"
is "$(awk -F'\t' '$1 == 0 && $2 == "valid" && $3 == 0 && $4 == 0 { print $5 }' sh.txt)" \
   "113 114 115 116" "valid keeps input order (train has 113 tokens)"
lmbatch -q -b 3 -l 4 -e 3 -s 7 -o sh2.lmb sh.ids
check "same seed, same bytes" cmp sh.lmb sh2.lmb
lmbatch -q -b 3 -l 4 -e 3 -s 8 -o sh3.lmb sh.ids
check "another seed, another order" sh -c '! cmp -s sh.lmb sh3.lmb'
is "$(awk -F'\t' '{ print $1 $2 }' sh.txt | uniq | tr '\n' ' ')" \
   "0train 0valid 1train 1valid 2train 2valid " \
   "one stream: per epoch, train batches then valid batches"
is "$(param sh.lmb valid_batches) $(param sh.lmb valid_tokens) $(param sh.lmb train_docs)" \
   "2 20 30" "header: valid_batches, valid_tokens, train_docs"
is "$(awk -F'\t' '$2 == "valid" && $1 == 0 { print $3 }' sh.txt | uniq | wc -l | tr -d ' ')" \
   2 "valid: bl = (20-1)/3 = 6, 2 batches of seq_len 4"

# --val-bs, --valid-out
lmbatch -q -b 3 -l 4 -e 2 --val-bs 2 -o tr.lmb --valid-out va.lmb sh.ids
is "$(lmbatch --dump tr.lmb | cut -f1,2 | sort -u | tr '\n' ' ')" \
   "$(printf '0\ttrain 1\ttrain ')" "--valid-out: the main stream holds train batches"
is "$(lmbatch --dump va.lmb | awk -F'\t' '{ print $1, $2, $4 }' | sort -u | tr '\n' ' ')" \
   "0 valid 0 0 valid 1 " "--valid-out: valid batches once, val_bs 2 rows"

# --valid-pct: RandomSplitter over all documents
lmbatch -q -b 2 -l 4 --valid-pct 0.25 -s 3 -o pct.lmb sh.ids
is "$(param pct.lmb valid_docs) $(param pct.lmb train_docs)" "8 27" \
   "--valid-pct 0.25 of 35 documents: int(8.75) = 8 valid"
lmbatch -q -b 2 -l 4 --valid-pct 0.25 -s 3 -o pct2.lmb sh.ids
check "--valid-pct with the same seed is reproducible" cmp pct.lmb pct2.lmb

# split tags
next=0; { mkdocs train 6 6; mkdocs unsup 6; mkdocs test 6; } >tags.tok
numz -q -v wv -o tags.ids tags.tok
lmbatch -b 2 -l 3 -o tags.lmb tags.ids 2>tags.err
check "other tags are skipped with a note" grep -q "skipped 2 documents" tags.err
is "$(param tags.lmb train_docs) $(param tags.lmb valid_docs)" "2 0" \
   "default tags: train -> train, valid -> valid"
lmbatch -q -b 2 -l 3 --train-tags 'train,unsup' --valid-tags test -o tags2.lmb tags.ids
is "$(param tags2.lmb train_docs) $(param tags2.lmb valid_docs)" "3 1" \
   "--train-tags train,unsup --valid-tags test"
lmbatch -q -b 2 -l 3 --train-tags '*' --valid-tags test -o tags3.lmb tags.ids
is "$(param tags3.lmb train_docs) $(param tags3.lmb valid_docs)" "3 1" \
   "an explicit tag wins over *"

# --show: fastai show_batch, the first training batch decoded
lmbatch -b 3 -l 4 -s 7 --show 2 -v wv sh.ids >show.txt
is "$(head -1 show.txt)" "$(printf '\ttext\ttext_')" "--show: columns text, text_"
is "$(tail -n +2 show.txt | cut -f2,3)" \
   "$(lmbatch --dump -v wv sh.lmb | awk -F'\t' '$1 == 0 && $2 == "train" && $3 == 0 && $4 < 2' | cut -f5,6)" \
   "--show rows are the first training batch of epoch 0"
check "--show alone writes no stream" test ! -s show.lmb

# damage and foreign streams: exit 1
sz=$(wc -c <t23.lmb)
cp t23.lmb bad.lmb; flip bad.lmb $((sz - 40))
exits 1 "a flipped byte is refused" lmbatch --dump bad.lmb
errmatch corrupt "... as corrupt"
head -c $((sz - 10)) t23.lmb >trunc.lmb
exits 1 "a truncated stream is refused" lmbatch --dump trunc.lmb
errmatch truncated "... as truncated"
numz -q -f 1 -w other -o /dev/null t23.tok
exits 1 "a batch stream made with another vocab is refused" lmbatch --dump -v other t23.lmb
errmatch 'another vocab' "... saying so"
exits 1 "an id stream made with another vocab is refused" lmbatch -v other --show 1 t23.ids
exits 1 "an id stream is not a batch stream" lmbatch --dump t23.ids
cp t23.ids bad.ids; flip bad.ids $(($(wc -c <t23.ids) - 45))
exits 1 "a damaged id stream is refused" lmbatch -b 4 -l 3 -o nb.lmb bad.ids
check "... and leaves no output" sh -c '! ls nb.lmb nb.lmb.tmp.* 2>/dev/null'
exits 1 "too few tokens for bs rows exits 1" lmbatch -b 50 -o nb.lmb t23.ids
errmatch 'lower -b' "... saying what to do"
check "... and leaves no output" sh -c '! ls nb.lmb nb.lmb.tmp.* 2>/dev/null'
exits 1 "no training documents exits 1" lmbatch --train-tags none -o nb.lmb t23.ids

# usage
exits 0 "-h exits 0" lmbatch -h
cp "$T/.out" help.out
check "-h prints usage on stdout" grep -q '^usage: lmbatch' help.out
exits 2 "a bad flag exits 2" lmbatch --bogus
exits 2 "-b 0 exits 2" lmbatch -b 0 t23.ids
exits 2 "--valid-pct 1.5 exits 2" lmbatch --valid-pct 1.5 t23.ids
exits 2 "--show without -v exits 2" lmbatch --show 3 t23.ids
exits 2 "--valid-pct with tags exits 2" lmbatch --valid-pct 0.1 --valid-tags x t23.ids
exits 1 "a missing input exits 1" lmbatch -o nb.lmb missing.ids
errmatch 'missing.ids: No such file' "... with tool: file: reason"
check "... and leaves no output" sh -c '! ls nb.lmb nb.lmb.tmp.* 2>/dev/null'
done_testing
