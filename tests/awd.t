#!/bin/sh
# AWD-LSTM LM parity with PyTorch: the unit test binary writes a tiny model,
# a batch, the dropout masks it drew, its loss and gradients; awd_ref.py
# rebuilds the model from torch ops (float64, torch's LSTM kernel) and
# compares everything within 1e-4 relative: dropout off, dropout with the
# masks replayed, a batch of one row (TAR skipped), a batch one token long.
. "$(dirname "$0")/lib.sh"
B=${ULMFIT_BUILD:-$(dirname "$0")/../build}
[ -x "$B/tests/awd" ] || missing "$B/tests/awd (make units)"
$PY -c 'import torch' 2>/dev/null || missing "python3-torch (import torch in $PY)"
check "awd --dump writes fixtures" "$B/tests/awd" --dump "$T/fx"
$PY "$(dirname "$0")/ref/awd_ref.py" "$T/fx/off" "$T/fx/drop" "$T/fx/bs1" \
	"$T/fx/len1" \
	>"$T/ref.out" 2>"$T/ref.err"
ok $? "awd_ref.py exits 0"
sed 's/^/#   /' "$T/ref.err" | head -20
while IFS= read -r line; do
	case $line in
	"ok "*) ok 0 "torch: ${line#ok * - }" ;;
	"not ok "*) ok 1 "torch: ${line#not ok * - }" ;;
	esac
done <"$T/ref.out"
is "$(grep -c '^ok' "$T/ref.out")" 76 "76 parity checks ran"

# blas_setup(): OpenBLAS's own AVX2/AVX-512 choice is kept; when it fell
# back to an older kernel (simulated), the AVX kernel is set and the
# program re-executed once; a user's OPENBLAS_CORETYPE is respected
K=$B/tests/kernels
flags=$(grep -m1 '^flags' /proc/cpuinfo)
want=none
case $flags in *avx2*) case $flags in *fma*) want=Haswell ;; esac ;; esac
case $flags in *avx512f*) case $flags in *avx512bw*) want=SkylakeX ;; esac ;; esac
if [ $want != none ]; then
	is "$(env -u OPENBLAS_CORETYPE ULMFIT_BLAS_DETECT_FAILED=1 "$K" --corename)" \
	   "$want $want" "a failed detection is replaced by $want after a re-exec"
fi
is "$(OPENBLAS_CORETYPE=Prescott "$K" --corename)" "Prescott Prescott" \
   "OPENBLAS_CORETYPE set by the user is kept"
done_testing
