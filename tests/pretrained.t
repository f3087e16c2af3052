#!/bin/sh
# fastai's load_pretrained against a Python restatement of it run on
# torch 1.13 (tests/ref/pretrained_ref.py): a tiny fastai-v1 AWD-LSTM LM
# in torch's legacy format (as WT103's lstm_fwd.pth), wrapped or not, its
# itos pickled with protocols 2 and 4; the itos as a vocab through numz;
# refusals of hostile, truncated and mis-sized files.
. "$(dirname "$0")/lib.sh"
B=${ULMFIT_BUILD:-$(dirname "$0")/../build}/tests/pretrained
REF="$(dirname "$0")/ref/pretrained_ref.py"
[ -x "$B" ] || missing "$B (make units)"
$PY -c 'import torch' 2>/dev/null || missing "python3-torch (import torch in $PY)"

F=$T/fx
check "the script writes the fixtures" $PY "$REF" make "$F"

# the same LM from every file and every form of the old vocab
for w in v1_legacy_bare v1_legacy_model v1_zip_model v2_zip_bare; do
	for v in itos2.pkl itos4.pkl old.vocab; do
		check "$w.pth + $v: the tensors fastai's load_pretrained gives" \
			"$B" load "$F/$w.pth" "$F/$v" "$F/new.vocab" lm \
			"$F/expected_lm.pth"
	done
done
"$B" load "$F/v1_legacy_bare.pth" "$F/itos2.pkl" "$F/new.vocab" lm \
	>/dev/null 2>"$T/report"
is "$(head -1 "$T/report")" \
	"$F/v1_legacy_bare.pth: legacy (pre-1.6) format, a bare state dict, 19 tensors; clean_raw_keys dropped 3" \
	"report: legacy, 19 keys, the 3 module.weight_hh_l0 dropped"
is "$(sed -n 2p "$T/report")" \
	"$F/v1_legacy_bare.pth: 22 of the 32 tokens found in the pretrained vocab (323 tokens); 10 got the mean embedding row and mean decoder bias" \
	"report: 22 tokens matched, 10 mean rows"
is "$(grep -c ' -> ' "$T/report")" 16 "report: 16 tensors copied"
grep -q 'module.weight_hh_l0 ->' "$T/report"; ok $((!$?)) \
	"no module.weight_hh_l0 was copied"
"$B" load "$F/v1_legacy_model.pth" "$F/itos2.pkl" "$F/new.vocab" lm \
	>/dev/null 2>"$T/report"
grep -q "{'model': ...}" "$T/report"; ok $? "report: {'model': ...} unwrapped"

check "into awd.h's own LM table (lm_tensors)" "$B" load \
	"$F/v1_legacy_bare.pth" "$F/itos4.pkl" "$F/new.vocab" awd \
	"$F/expected_lm.pth"
check "into a classifier's encoder: the first 14 tensors" "$B" load \
	"$F/v1_legacy_bare.pth" "$F/itos4.pkl" "$F/new.vocab" clas \
	"$F/expected_clas.pth"
grep -q '2 file tensors left unused' "$T/.err"; ok $? \
	"... the decoder's 2 tensors are left unused"
check "no decoder bias: the model's last parameter keeps its value" \
	"$B" load "$F/v1_nobias.pth" "$F/itos2.pkl" "$F/new.vocab" lm \
	"$F/expected_nobias.pth"
exits 1 "the comparison can fail (bias expected zero)" "$B" load \
	"$F/v1_legacy_bare.pth" "$F/itos2.pkl" "$F/new.vocab" lm \
	"$F/expected_nobias.pth"

# the itos as a vocab: numz gives the same ids and the same vocab identity
printf 'train\tpos\txxbos the new\342\226\201york caf\303\251 w299 unseen\n' \
	>"$T/a.tok"
for v in itos2.pkl itos4.pkl old.vocab; do
	numz -q -v "$F/$v" -o "$T/$v.ids" "$T/a.tok" 2>"$T/.err"
	ok $? "numz -v $v"
done
hdr() { od -A n -j 8 -N 4 -t u4 "$1"; od -A n -j 16 -N 8 -t x8 "$1"; }
is "$(hdr "$T/itos2.pkl.ids")" "$(hdr "$T/old.vocab.ids")" \
	"protocol 2 .pkl: the stream header's vocab size and xxh64 = text's"
is "$(hdr "$T/itos4.pkl.ids")" "$(hdr "$T/old.vocab.ids")" \
	"protocol 4 .pkl: the same"
want=$(printf 'train\tpos\txxbos the new\342\226\201york caf\303\251 w299 xxunk')
for p in "itos2.pkl.ids old.vocab" "itos4.pkl.ids old.vocab" \
         "old.vocab.ids itos4.pkl"; do
	set -- $p
	numz -d -v "$F/$2" "$T/$1" >"$T/back.tok" 2>"$T/.err"
	is "$(cat "$T/back.tok")" "$want" "a stream made with ${1%.ids} decodes with $2"
done
numz -d -v "$F/new.vocab" "$T/itos4.pkl.ids" >/dev/null 2>"$T/.err"
ok $((!$?)) "... and not with another vocab"

# refusals
exits 1 "a pickle calling os.system is refused as a vocab" \
	numz -v "$F/evil.pkl" "$T/a.tok"
errmatch "evil.pkl: .*posix system" "... naming the global"
exits 1 "... and as weights" "$B" load "$F/evil.pth" "$F/itos2.pkl" \
	"$F/new.vocab" lm
errmatch "evil.pth: .*posix system" "... naming the global"
test ! -e "$F/pwned"; ok $? "nothing ran"
for p in 0 1; do
	exits 1 "a protocol $p pickle is refused as a vocab" \
		numz -v "$F/itos$p.pkl" "$T/a.tok"
	errmatch "itos$p.pkl: a protocol $p pickle.*protocol 2 or newer" \
		"... saying to re-save it"
done
head -c 20000 "$F/v1_legacy_bare.pth" >"$T/cut.pth"
exits 1 "a truncated legacy file is refused" "$B" load "$T/cut.pth" \
	"$F/itos2.pkl" "$F/new.vocab" lm
errmatch "cut.pth: .*truncated" "... saying it is truncated"
head -c 1000 "$F/itos4.pkl" >"$T/cut.pkl"
exits 1 "a truncated itos is refused" "$B" load "$F/v1_legacy_bare.pth" \
	"$T/cut.pkl" "$F/new.vocab" lm
errmatch "cut.pkl: .*itos" "... saying what was expected"
exits 1 "a model of another size is refused" "$B" load \
	"$F/v1_legacy_bare.pth" "$F/itos2.pkl" "$F/new.vocab" wide
errmatch "at position 2 the file's '0.rnns.0.weight_hh_l0_raw' \(40x10\) does not fit the model's '0.rnns.0.weight_hh_l0_raw' \(48x12\)" \
	"... naming both tensors and shapes"
{ cat "$F/old.vocab"; echo extra; } >"$T/big.vocab"
exits 1 "an itos longer than the embedding is refused" "$B" load \
	"$F/v1_legacy_bare.pth" "$T/big.vocab" "$F/new.vocab" lm
errmatch "0.encoder.weight has 323 rows but .*big.vocab has 324 tokens" \
	"... saying which vocab to give"
exits 1 "weights given as the vocab are refused" "$B" load \
	"$F/v1_legacy_bare.pth" "$F/v1_legacy_bare.pth" "$F/new.vocab" lm
errmatch "legacy .pth" "... with a hint"
done_testing
