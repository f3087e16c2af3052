#!/bin/sh
# encsave = learn.save_encoder: from torch's LM files (bare, fastai v1
# legacy {model,opt} with dropout copies, classifier), checked with torch.
. "$(dirname "$0")/lib.sh"
B=${ULMFIT_BUILD:-$(dirname "$0")/../build}/tests/pth
REF="$(dirname "$0")/ref/pth_ref.py"

exits 0 "encsave -h" encsave -h
exits 2 "a bad flag exits 2" encsave -Z
exits 1 "a missing file exits 1" encsave -o "$T/x.pth" "$T/nope.pth"
errmatch "encsave: $T/nope.pth: No such file" "... naming the file"
[ -x "$B" ] || { ok 1 "no $B (make units)"; done_testing; }
"$B" sd "$T/sd.pth"
exits 1 "a state dict without an encoder is refused" \
	encsave -o "$T/x.pth" "$T/sd.pth"
errmatch "no AWD-LSTM encoder" "... saying what it looked for"
test ! -e "$T/x.pth"; ok $? "... leaving no output file"
ls "$T" | grep -q tmp; ok $((!$?)) "... nor a temp file"

$PY -c 'import torch' 2>/dev/null || { ok 1 "no torch for $PY"; done_testing; }
check "torch writes LM, fastai-v1 and classifier files" \
	$PY "$REF" encsave-inputs "$T"
for f in lm v1 clas; do
	check "encsave $f.pth" encsave -o "$T/enc_$f.pth" "$T/$f.pth"
done
encsave -v -o "$T/enc_v1.pth" "$T/v1.pth" 2>"$T/v1.err"
is "$(head -1 "$T/v1.err")" \
	"encsave: $T/v1.pth: dropped 3 dropout copies (fastai v1's module.weight_hh_l0)" \
	"v1's module.weight_hh_l0 copies are dropped (clean_raw_keys)"
check "encsave of an encoder file (pipe in, pipe out)" \
	sh -c "encsave <'$T/enc_lm.pth' | cat >'$T/enc_again.pth'"
$PY "$REF" encsave-check "$T" >"$T/verify" 2>&1
while read -r line; do
	case $line in
	ok:*) ok 0 "torch: ${line#ok: }" ;;
	MISMATCH:*) ok 1 "torch: ${line#MISMATCH: }" ;;
	*) echo "# $line" ;;
	esac
done <"$T/verify"
is "$(grep -c '^ok:' "$T/verify")" 16 "all 16 torch-side checks ran"

# our metadata rides along
"$B" resave "$T/lm.pth" "$T/ours.pth" "$(printf 'vocab_xxh64=0123456789abcdef\nkind=lm\nbptt=72\n')"
encsave -o "$T/enc_ours.pth" "$T/ours.pth"
"$B" meta "$T/enc_ours.pth" >"$T/meta"
check "the vocab hash is carried" grep -qx vocab_xxh64=0123456789abcdef "$T/meta"
check "other keys are carried" grep -qx bptt=72 "$T/meta"
check "kind becomes encoder" grep -qx kind=encoder "$T/meta"
is "$(grep -c '^kind=' "$T/meta")" 1 "... once"
check "sizes from the shapes" grep -qx n_layers=3 "$T/meta"
check "the parent is the source file's hash" grep -qE '^parent_xxh64=[0-9a-f]{16}$' "$T/meta"

# ---- hostile checkpoints (issue 16) ----------------------------------------
# A small LM of ours (awdtrain, one epoch on a tiny corpus), then files that
# lie about it: each must be refused with a sentence, never crash or read
# outside a storage.  tests/ref/pth_hostile.py writes them.
HOST=$(cd "$(dirname "$0")" && pwd)/ref/pth_hostile.py
B=$(cd "$(dirname "$B")" && pwd)/pth
cd "$T" || exit 1
awk 'BEGIN { srand(5); split("the cat sat on mat . a dog ran in park", f, " ")
  for (i = 0; i < 120; i++) { s = "xxbos"; n = 4 + int(rand() * 8)
    for (j = 0; j < n; j++) s = s " " f[1 + int(rand() * 11)]
    printf "%s\t\t%s\n", (i < 100 ? "train" : "valid"), s } }' >h.tok
numz -q -w hvocab -f 1 -o h.ids h.tok && lmbatch -q -b 4 -l 8 -e 1 -o h.lmb h.ids
check "awdtrain writes a small LM" awdtrain -q --emb 4 --hid 8 --layers 2 \
	-l 1e-2 -v hvocab -o hlm.pth h.lmb
check "encsave reads it" encsave -o henc.pth hlm.pth
"$B" flip hlm.pth >flip.lm 2>&1
ok $? "awdtrain's checkpoint: every one-bit flip is refused or harmless: $(cat flip.lm)"
"$B" flip henc.pth >flip.enc 2>&1
ok $? "encsave's encoder: every one-bit flip is refused or harmless: $(cat flip.enc)"
for f in lm clas; do
	"$B" flip $f.pth >flip.$f 2>&1
	ok $? "torch.save's $f.pth: every one-bit flip is refused or harmless: $(cat flip.$f)"
done

cat >jobs <<'EOF'
same.pth same
stride.pth stride 0.encoder.weight
offset.pth offset 0.rnns.0.module.weight_ih_l0
negstride.pth negstride 1.decoder.bias
wrap.pth wrap
wrapneg.pth view 0.encoder.weight 0 4294967297,4294967295,64 0,0,1
sat.pth view 0.encoder.weight 0 2147483647,2147483647,2147483647,64 0,0,0,1
zero.pth view 0.encoder.weight 0 1099511627776,16777216 1,1
v4.pth version 4\n
v0.pth version 
flip.pth flipname
nan.pth meta drop_mult=nan
neg.pth meta drop_mult=-3
fr.pth meta freeze_to=9
EOF
check "the hostile writer makes its files (torch imported once)" \
	$PY "$HOST" make hlm.pth <jobs
"$B" dump hlm.pth >d1; "$B" dump same.pth >d2
check "... reads as the original (the writer lies only where told)" cmp d1 d2
check "... encsave takes it" encsave -o x.pth same.pth
for f in stride offset negstride wrap; do
	exits 1 "encsave: $f.pth is refused" encsave -o x.pth $f.pth
	errmatch "^encsave: $f.pth: .*(damaged|supported)" "... with a sentence"
	exits 1 "awdtrain -c: $f.pth is refused" awdtrain -q -c $f.pth -o x.pth h.lmb
done
test ! -e x.pth || rm x.pth
exits 1 "a stride of 2^62 (was SIGSEGV)" encsave -o y.pth stride.pth
errmatch "reaches past the end of storage" "... reaches past the end of its storage"
test ! -e y.pth; ok $? "... and writes no output"
exits 1 "an offset of 2^63-10 (was: 40 bytes of heap read as weights)" \
	encsave -o y.pth offset.pth
errmatch "starts at element 9223372036854775798 of storage" "... starts past its storage"
exits 1 "a negative stride" encsave -o y.pth negstride.pth
errmatch "negative stride" "... says so"
exits 1 "an optimizer moment whose shape wraps to 64 elements" \
	awdtrain -q -c wrap.pth -o y.pth h.lmb
errmatch "dimension of 4294967296 elements" "... names the dimension"
exits 1 "sizes whose product wraps below zero (was: a 2^64-byte malloc)" \
	encsave -o y.pth wrapneg.pth
errmatch "dimension of 4294967297 elements" "... names the dimension"
exits 1 "sizes under 2^31 whose product overflows" encsave -o y.pth sat.pth
errmatch "more than 2\^40 elements" "... refused, the count saturating instead of wrapping"
exits 1 "sizes whose product wraps to 0 (was: an empty tensor of shape 2^40 x 2^24)" \
	encsave -o y.pth zero.pth
$PY "$HOST" torch stride.pth offset.pth negstride.pth >torch.out 2>&1
is "$(grep -c '^refused:' torch.out)" 3 "torch.load refuses the stride, offset and negative-stride files too"

exits 1 "a version record other than torch.save's '3\\n'" encsave -o y.pth v4.pth
errmatch "format version '4" "... names the version"
exits 1 "an empty version record" encsave -o y.pth v0.pth
exits 1 "the metadata record's name changed in the directory only" \
	encsave -o y.pth flip.pth
errmatch "local header names another record" "... is damage, not a bare fastai file"

exits 1 "awdtrain -c: drop_mult=nan in the metadata" awdtrain -q -c nan.pth -o y.pth h.lmb
errmatch "metadata drop_mult=nan is not a finite number" "... refused as --drop-mult nan is"
exits 1 "awdtrain -c: drop_mult=-3 in the metadata" awdtrain -q -c neg.pth -o y.pth h.lmb
errmatch "neg.pth: metadata drop_mult=-3: --drop-mult must be >= 0" \
	"... refused as --drop-mult -3 is"
exits 2 "... as the command line does" awdtrain -q -c hlm.pth --drop-mult -3 -o y.pth h.lmb
exits 1 "awdtrain -c: freeze_to=9 in the metadata" awdtrain -q -c fr.pth -o y.pth h.lmb
errmatch "metadata freeze_to=9 is not an integer from -4 to 3" "... range as --freeze-to's"
test ! -e y.pth; ok $? "no output from any refused run"
done_testing
