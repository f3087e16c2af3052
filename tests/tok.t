#!/bin/sh
# tok: inputs as fastai reads them, .tok output, options, parallel
# determinism, bad input.  Token-level fidelity is tests/unit/tokenizer.c.
. "$(dirname "$0")/lib.sh"
TAB=$(printf '\t')

exits 0 "tok -h exits 0" tok -h
cp "$T/.out" "$T/help"
check "usage on stdout" grep -q '^usage: tok' "$T/help"
exits 2 "unknown flag exits 2" tok --bogus
exits 2 "unknown rule exits 2" tok -x no_such_rule
exits 2 "bad -j exits 2" tok -j 0
exits 1 "missing input exits 1" tok "$T/nope.txt"
errmatch '^tok: .*nope.txt: No such file' "message names the file"

# stdin, one document
printf 'Hello World. I'"'"'M here!\n' | tok -q >"$T/o" 2>"$T/e"
is "$(cat "$T/o")" "train${TAB}${TAB}xxbos xxmaj hello xxmaj world . xxup i 'm here !" "stdin: one document, split train"

# plain files: one document each, --split/--label, --lines
printf 'One.\nTwo lines.\r\n' >"$T/a.txt"
: >"$T/empty.txt"
tok -q --split train --label x "$T/a.txt" "$T/empty.txt" >"$T/o"
is "$(cat "$T/o")" "train${TAB}x${TAB}xxbos xxmaj one . \\n xxmaj two lines .
train${TAB}x${TAB}xxbos" "plain files: a document per file, \\r\\n read as \\n, empty file"
tok -q -l "$T/a.txt" >"$T/o"
is "$(cut -f3 "$T/o")" "xxbos xxmaj one .
xxbos xxmaj two lines ." "--lines: a document per line"
printf 'a\rb\r\nc\n' | tok -q -l >"$T/o"
is "$(cut -f3 "$T/o" | tr '\n' ,)" "xxbos a,xxbos b,xxbos c," "--lines: CR and CRLF end lines too (Python's text mode)"

# options
printf 'Hello <br /> WORLD' | tok -q --no-bos --eos >"$T/o"
is "$(cut -f3 "$T/o")" "xxmaj hello \\n▁ xxup world xxeos" "--no-bos --eos (and \"\\n \" is one token)"
printf 'Hello WORLD' | tok -q -x replace_all_caps,replace_maj >"$T/o"
is "$(cut -f3 "$T/o")" "xxbos hello world" "-x drops rules"
printf 'Hello WORLD' | tok -q -r lowercase >"$T/o"
is "$(cut -f3 "$T/o")" "xxbos hello world" "-r keeps only the named rules"
printf 'Hello WORLD' | tok -q -r fix_html >"$T/o"
is "$(cut -f3 "$T/o")" "Hello WORLD" "without lowercase there is no xxbos (as fastai)"

# malformed UTF-8 and NUL bytes: replaced, never a crash
printf 'ok \377\376 then\000 NUL' | tok -q >"$T/o"
is "$(cut -f3 "$T/o")" "xxbos ok $(printf '\357\277\275 \357\277\275') then $(printf '\357\277\275') xxup nul" \
   "invalid bytes and NUL become U+FFFD"

# from_folder: label = parent, split = grandparent; sorted; --folders
mkdir -p "$T/imdb/train/pos" "$T/imdb/train/neg" "$T/imdb/test/pos" "$T/imdb/unsup" "$T/imdb/.hidden"
printf 'Great film!' >"$T/imdb/train/pos/1.txt"
printf 'Also great.' >"$T/imdb/train/pos/0.txt"
printf 'Bad film.' >"$T/imdb/train/neg/5.TXT"
printf 'ignored' >"$T/imdb/train/neg/notes.md"
printf 'Test one.' >"$T/imdb/test/pos/9.txt"
printf 'No label.' >"$T/imdb/unsup/2.txt"
printf 'Top.' >"$T/imdb/readme.txt"
printf 'hidden' >"$T/imdb/.hidden/h.txt"
tok -q "$T/imdb" >"$T/o"
is "$(cat "$T/o")" "${TAB}${TAB}xxbos xxmaj top .
test${TAB}pos${TAB}xxbos xxmaj test one .
train${TAB}neg${TAB}xxbos xxmaj bad film .
train${TAB}pos${TAB}xxbos xxmaj also great .
train${TAB}pos${TAB}xxbos xxmaj great film !
${TAB}unsup${TAB}xxbos xxmaj no label ." "folder: labels, splits, sorted order, *.txt only, hidden skipped"
tok -q --folders train,unsup --folders train "$T/imdb/" >"$T/o"
ok $? "--folders, given twice: exit 0 (under ASan: nothing leaked)"
is "$(cut -f1,2 "$T/o" | tr '\t\n' ':,')" "train:neg,train:pos,train:pos,:unsup," "--folders picks top-level folders (root files skipped)"

# CSV: RFC 4180 quotes, embedded quotes and newlines, columns
cat >"$T/d.csv" <<'CSV'
label,text,is_valid,title
pos,"He said ""Wow""
twice, really",False,T1
neg,plain text,True,"A, B"

neg,,1,x
CSV
tok -q "$T/d.csv" >"$T/o"
is "$(cat "$T/o")" "train${TAB}pos${TAB}xxbos xxmaj he said \" wow \" \\n twice , really
train${TAB}neg${TAB}xxbos plain text
train${TAB}neg${TAB}xxbos nan" "csv: quotes, embedded newline, blank line, empty text is nan (pandas)" 2>/dev/null
tok -q --valid-col is_valid "$T/d.csv" >"$T/o"
is "$(cut -f1 "$T/o" | tr '\n' ,)" "train,valid,valid," "--valid-col sets the split"
tok -q --text-col title,text --label-col label "$T/d.csv" >"$T/o"
is "$(sed -n 2p "$T/o" | cut -f3)" "xxbos xxfld 1 xxup a , b xxfld 2 plain text" "several text columns joined with xxfld marks"
printf '\357\273\277text\nHi\n' | tok -q -c >"$T/o"
is "$(cut -f3 "$T/o")" "xxbos xxmaj hi" "csv: a UTF-8 BOM before the header is dropped"
printf 'text\nHello\n' | tok -q -c >"$T/o"
is "$(cut -f3 "$T/o")" "xxbos xxmaj hello" "-c reads stdin as CSV"
exits 1 "csv without the text column fails" tok -q --text-col body "$T/d.csv"
errmatch 'no column "body"' "... and says which column"
printf 'text\n"open quote\n' >"$T/bad.csv"
exits 1 "unterminated quote fails" tok -q -o "$T/bad.tok" "$T/bad.csv"
check "no output file is left behind" test ! -e "$T/bad.tok"

# lengths side file
tok -q -L "$T/len" "$T/imdb" >"$T/o"
is "$(tr '\n' ' ' <"$T/len")" "4 5 5 5 5 5 " "-L: token count per document"
is "$(awk -F'\t' '{print split($3, a, " ")}' "$T/o" | tr '\n' ' ')" "4 5 5 5 5 5 " "-L counts match the .tok lines"

# -j 1 and -j 2 give identical output on many documents
i=0
: >"$T/many.txt"
while [ $i -lt 3000 ]; do
	echo "Doc $i: It's GREAT... isn't it?? <br />See www.x$i.com/A & e.g. ah ah ah :) $i,000\$!"
	i=$((i + 1))
done >"$T/many.txt"
tok -q -l -j 1 -L "$T/l1" "$T/many.txt" >"$T/j1"
tok -q -l -j 2 -L "$T/l2" "$T/many.txt" >"$T/j2"
is "$(wc -l <"$T/j1" | tr -d ' ')" 3000 "3000 documents"
check "-j 1 and -j 2 outputs are identical" cmp "$T/j1" "$T/j2"
check "-j 1 and -j 2 lengths are identical" cmp "$T/l1" "$T/l2"
is "$(sed -n 8p "$T/j1" | cut -f3)" "xxbos xxmaj doc 7 : xxmaj it 's xxup great … is n't it ? ? \\n xxmaj see xxrep 3 w .x7.com / a & e.g. xxwrep 3 ah :) 7 , xxrep 3 0 $ !" "a busy line tokenizes as expected"
tok -q -l -j 3 -o "$T/j3" "$T/many.txt"
check "-j 3 -o file is identical too" cmp "$T/j1" "$T/j3"

# a 10 MB single line: one document (that it takes linear time is judged
# by CPU time, not by a deadline, in tests/unit/tokenizer.c)
yes "It's a GREAT film, isn't it?" | head -c 10000000 | tr '\n' ' ' >"$T/big.txt"
tok -q -L "$T/big.len" "$T/big.txt" >"$T/big.tok"
is "$(wc -l <"$T/big.tok" | tr -d ' ')" 1 "10 MB single line: one document"
is "$(cat "$T/big.len")" "$((1 + 12 * 344827 + 7))" "10 MB single line: every copy tokenized"

# An independent Python reference (tests/ref/tok_ref.py: fastai's rules with
# Python's re and html, spaCy's algorithm over the same data with Python's
# re) on 1500 generated review-like lines full of hard cases and 500 lines
# of random characters from many scripts.
R=$(dirname "$0")/ref
if [ -x "$PY" ]; then
	"$PY" "$R/tok_corpus.py" 1500 7 >"$T/syn.txt"
	"$PY" "$R/tok_ref.py" "$(dirname "$0")/data/spacy_en_tokenizer.json" \
		<"$T/syn.txt" >"$T/syn.ref"
	tok -q -l -j 2 "$T/syn.txt" | cut -f3 >"$T/syn.tok"
	is "$(wc -l <"$T/syn.tok" | tr -d ' ')" 2000 "reference corpus: 2000 documents"
	check "tok agrees with the Python reference on every line" cmp "$T/syn.ref" "$T/syn.tok"
	[ $bad -eq 0 ] || diff "$T/syn.ref" "$T/syn.tok" | head -6 | diag
fi
done_testing
