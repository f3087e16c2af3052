#!/bin/sh
# .pth files against torch 1.13: ours through torch.load bit for bit,
# torch.save's (zip and legacy) through our reader, and spec §12's facts.
# Python starts twice (torch is slow to import): once to write torch's
# files, once to check ours.
. "$(dirname "$0")/lib.sh"
B=${ULMFIT_BUILD:-$(dirname "$0")/../build}/tests/pth
REF="$(dirname "$0")/ref/pth_ref.py"
[ -x "$B" ] || skip_all "no $B (make units)"
$PY -c 'import torch' 2>/dev/null || skip_all "no torch for $PY"

mkdir "$T/torch"
check "torch.save writes the fixtures" $PY "$REF" save "$T/torch"

# torch.save -> ours
for f in zip legacy learner param sd sdl; do
	"$B" dump "$T/torch/$f.pth" >"$T/$f.got" 2>"$T/.err"
	check "we read torch's $f.pth: names, dtypes, shapes, ties, values" \
		cmp "$T/torch/$f.want" "$T/$f.got"
done
is "$(grep -c . "$T/zip.got")" 321 "all 321 tensors of the zip fixture"
is "$(grep '^0.encoder_dp' "$T/zip.got" | cut -d' ' -f4)" 0.encoder.weight \
	"a tied key points at its first name"

# ours -> torch.load (checked all at once below)
check "we write a checkpoint" "$B" write "$T/ours.pth"
check "we write spec §12's sd.pth" "$B" sd "$T/sd.pth"
for f in zip legacy lm; do
	check "we re-save torch's $f.pth" "$B" resave "$T/torch/$f.pth" \
		"$T/re$f.pth"
done
$PY "$REF" verify "$T" >"$T/verify" 2>&1
while read -r line; do
	case $line in
	ok:*) ok 0 "torch: ${line#ok: }" ;;
	MISMATCH:*) ok 1 "torch: ${line#MISMATCH: }" ;;
	*) echo "# $line" ;;
	esac
done <"$T/verify"
is "$(grep -c "^ok:" "$T/verify")" 33 "all 33 torch-side checks ran"

# damage
head -c 1000 "$T/ours.pth" >"$T/cut.pth"
exits 1 "a truncated file is refused" "$B" dump "$T/cut.pth"
errmatch 'damaged or truncated' "... with a sentence saying what to do"
exits 1 "a text file is refused" "$B" dump "$REF"
errmatch 'not a PyTorch checkpoint' "... saying it is not a checkpoint"
exits 1 "a broadcast view (expand) is refused, not copied" \
	"$B" dump "$T/torch/bcast.pth"
errmatch 'broadcast view' "... saying so"
done_testing
