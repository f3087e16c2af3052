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
[ -x "$B" ] || skip_all "no $B (make units)"
"$B" sd "$T/sd.pth"
exits 1 "a state dict without an encoder is refused" \
	encsave -o "$T/x.pth" "$T/sd.pth"
errmatch "no AWD-LSTM encoder" "... saying what it looked for"
test ! -e "$T/x.pth"; ok $? "... leaving no output file"
ls "$T" | grep -q tmp; ok $((!$?)) "... nor a temp file"

$PY -c 'import torch' 2>/dev/null || { done_testing; }
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
done_testing
