#!/bin/sh
# cuda.t: the CUDA backend (kernels/cuda) on a machine with or without a
# GPU.  Every operation of the kernel headers (first parameter struct
# kern *k) has a twin cuda_<name> of the same form in kernels/cuda/cuda.h,
# defined in libkern_cuda.a and exercised by tests/gpu/check.c; the
# checker itself fails on a header with a kernel that has no twin, on a
# twin of another form and on a missing symbol, so it cannot pass having
# checked nothing.  libkern_cuda.a must exist whenever nvcc does (unless
# the build was made with CUDA=0); gpucheck says SKIP without a device
# and must pass with one.
. "$(dirname "$0")/lib.sh"
R=$(cd "$(dirname "$0")/.." && pwd)
BLD=${ULMFIT_BUILD:-$R/build}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# "ret|name|params" for each function declared in the given headers whose
# first parameter is struct kern *k (comments, preprocessor lines and
# spacing removed; bodies of static inline functions ignored)
cat >"$T/decls.pl" <<'EOF'
local $/;
for my $f (@ARGV) {
	open my $h, '<', $f or die "$f: $!\n";
	my $s = <$h>;
	$s =~ s{/\*.*?\*/}{ }gs;
	$s =~ s{//[^\n]*}{ }g;
	$s =~ s{^\s*#[^\n]*}{ }gm;
	for my $st (split /[;{}]/, $s) {
		$st =~ s/\s+/ /g; $st =~ s/^ //; $st =~ s/ $//;
		next unless $st =~ /^(.*?)\b(\w+) ?\((struct kern \*k\b.*)\)$/;
		my ($r, $n, $p) = ($1, $2, $3);
		$r =~ s/ $//; $r =~ s/^extern //;
		$p =~ s/ ?([*,()]) ?/$1/g; $r =~ s/ ?\* ?/*/g;
		print "$r|$n|$p\n";
	}
}
EOF
decls() { perl "$T/decls.pl" "$@"; }

# cover CUDA_H HEADER...: every kernel of the headers has its twin in
# CUDA_H (missing ones on stdout).  Not twinned, by design (cuda.h says
# why): kern_init (the twin is cuda_kern_init(k, threads)) and
# kern_par_for (a host thread pool).
cover() {
	cu=$1; shift
	decls "$@" | grep -v -e '|kern_init|' -e '|kern_par_for|' |
		sed 's/|/|cuda_/' | sort -u >"$T/want" || return 1
	decls "$cu" | sort -u >"$T/have" || return 1
	[ -s "$T/want" ] || { echo "no kernels found in $*"; return 1; }
	comm -23 "$T/want" "$T/have" | grep . && return 1
	return 0
}

# defined SYMS CUDA_H: every cuda_ function of CUDA_H is in the symbol
# list SYMS (one name a line)
defined() {
	perl -ne 'print "$1\n" while /\b(cuda_\w+) ?\(/g' "$2" | sort -u >"$T/names"
	[ -s "$T/names" ] || { echo "no cuda_ names in $2"; return 1; }
	sort -u "$1" | comm -23 "$T/names" - | grep . && return 1
	return 0
}

H="$R/kernels/ctx.h $(ls "$R"/kernels/*.h | grep -v '/ctx\.h$')"
CU=$R/kernels/cuda/cuda.h

# ---- the declarations: every kernel has a twin of the same form ----
check "every kernel of kernels/*.h has a cuda_ twin of the same form in cuda.h" cover "$CU" $H
decls $H >"$T/all"
nk=$(grep -c . "$T/all")
check "the checker sees the kernels ($nk, more than 60)" test "$nk" -gt 60
check "cuda_kern_init(struct kern *k, int threads) is declared" \
	grep -qx 'int|cuda_kern_init|struct kern\*k,int threads' "$T/have"

# ---- the checker fails when it should ----
mkdir "$T/h" && cp $H "$T/h/" && cp "$CU" "$T/cuda.h"
echo 'void ops_extra(struct kern *k, float *x,
                long n);' >>"$T/h/ops.h"
exits 1 "coverage fails on a header with a kernel that has no twin" \
	cover "$T/cuda.h" "$T"/h/*.h
cp "$T/.out" "$T/missing"
check "... and names it" grep -q '|cuda_ops_extra|' "$T/missing"
sed 's/cuda_ops_scale(struct kern \*k, float \*x, float a, size_t n)/cuda_ops_scale(struct kern *k, float *x, float a, long n)/' \
	"$CU" >"$T/cuda.h"
exits 1 "(the test edits a twin's form)" cmp -s "$CU" "$T/cuda.h"
exits 1 "coverage fails on a twin whose parameters differ" cover "$T/cuda.h" $H
grep -v 'cuda_lstm_cell_bwd' "$CU" | grep -v '^ *const float \*tc, const float \*dh' >"$T/cuda.h"
exits 1 "coverage fails on a kernel whose twin is not declared" cover "$T/cuda.h" $H

# ---- cuda.h is C ----
printf '#include "cuda/cuda.h"\nint main(void) { return cuda_kern_init(0, 1); }\n' >"$T/c.c"
check "cuda.h compiles as C11 with -Wall -Wextra -Werror" \
	${CC:-cc} -std=c11 -Wall -Wextra -Werror -I"$R/libcore" -I"$R/kernels" \
	-fsyntax-only "$T/c.c"

# ---- gpucheck calls every twin ----
perl -ne 'print "$1\n" while /\b(cuda_\w+) ?\(/g' "$R/tests/gpu/check.c" >"$T/called"
check "tests/gpu/check.c calls every function of cuda.h" defined "$T/called" "$CU"

# ---- the dispatch (kernels/dispatch.h): every kernel listed, every CPU
# kernel starting with its KERN_TWIN line ----
# listed DISPATCH_H HEADER...: every kernel of the headers is in KERN_MEM
# or KERN_OPS of DISPATCH_H (missing ones on stdout)
listed() {
	dh=$1; shift
	decls "$@" | grep -v -e '|kern_init|' -e '|kern_par_for|' |
		cut -d'|' -f2 | sort -u >"$T/kn" || return 1
	[ -s "$T/kn" ] || { echo "no kernels"; return 1; }
	perl -0ne 's{/\*.*?\*/}{}gs; while (/\bX\((?:[^,()]+, )?(\w+)[,)]/g) { print "$1\n" }' \
		"$dh" | sort -u >"$T/dn"
	comm -23 "$T/kn" "$T/dn" | grep . && return 1
	return 0
}
# twinned DIR: every kernel of dispatch.h defined in DIR/*.c begins with
# KERN_TWIN(k, name, ...) or KERN_TWIN_RET (the unprefixed ones on stdout)
twinned() {
	cut -d'|' -f2 "$T/dn" >"$T/dn1"
	perl -e 'my %n = map { chomp; $_ => 1 } do { open my $f, "<", shift; <$f> };
		local $/; my $bad = 0; my $seen = 0;
		for my $f (@ARGV) { open my $h, "<", $f or die; my $s = <$h>;
			while ($s =~ /^(\w+)\((struct kern \*k\b[^{]*)\)\n\{\n\s*(.*)\n/mg) {
				next unless $n{$1}; $seen++;
				my ($name, $first) = ($1, $3);
				next if $first =~ /^KERN_TWIN(_RET)?\(k, \Q$name\E,/;
				print "$f: $name\n"; $bad = 1; } }
		print "no kernel definitions seen\n" and exit 1 unless $seen > 60;
		exit $bad' "$T/dn1" "$1"/*.c
}
D=$R/kernels/dispatch.h
check "every kernel of kernels/*.h is in dispatch.h's KERN_MEM/KERN_OPS" listed "$D" $H
grep -v '^	X(void, ops_scale,' "$D" >"$T/dispatch.h"
exits 1 "(the test removes ops_scale from a copy of the list)" cmp -s "$D" "$T/dispatch.h"
exits 1 "... the check fails on a kernel missing from the list" listed "$T/dispatch.h" $H
check "every CPU kernel begins with its KERN_TWIN line" twinned "$R/kernels/cpu"
mkdir "$T/cpu" && cp "$R"/kernels/cpu/*.c "$T/cpu/"
sed -i '/KERN_TWIN(k, ops_axpy,/d' "$T/cpu/ops.c"
exits 1 "... the check fails on a kernel without it" twinned "$T/cpu"
cp "$T/.out" "$T/untwinned"
check "... and names it" grep -q 'ops.c: ops_axpy' "$T/untwinned"

# ---- the library: built whenever nvcc is there ----
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
state=$(cat "$BLD/cuda-build" 2>/dev/null)
if [ -z "$NVCC" ] && [ "$state" != 1 ]; then
	skip "libkern_cuda.a: no nvcc on PATH or in /usr/local/cuda/bin"
	skip "gpucheck: no nvcc"
	done_testing
fi
if [ "$state" = 0 ]; then
	skip "libkern_cuda.a: this build was made with CUDA=0 ($NVCC is there)"
	skip "gpucheck: CUDA=0"
	done_testing
fi
check "nvcc is there ($NVCC), so the build has libkern_cuda.a" test -s "$BLD/libkern_cuda.a"
check "... and libkern_cuda.so" test -s "$BLD/libkern_cuda.so"
nm -D --defined-only "$BLD/libkern_cuda.so" 2>/dev/null | awk '{ print $3 }' >"$T/dsyms"
check "libkern_cuda.so exports the table kern_cuda_ops" grep -qx kern_cuda_ops "$T/dsyms"
check "... and cuda_kern_init, cuda_kern_why" sh -c "grep -qx cuda_kern_init '$T/dsyms' && grep -qx cuda_kern_why '$T/dsyms'"
# NCCL (kernels/cuda/coll.cu, ctx.h's kern_coll_*): the collectives are
# in the table, and the library links libnccl when the build has NCCL
check "... and cuda_kern_coll_id, _init, _sum, _fini" sh -c "for f in id init sum fini; do grep -qx cuda_kern_coll_\$f '$T/dsyms' || exit 1; done"
cat >"$T/tab.c" <<'EOF2'
/* tab.c LIB: kern_cuda_ops's collective entries are LIB's cuda_ twins */
#include <dlfcn.h>
#include <stdio.h>
#include "dispatch.h"
int
main(int argc, char **argv)
{
	void *l = dlopen(argc > 1 ? argv[1] : "", RTLD_NOW | RTLD_LOCAL);
	if (!l)
		return printf("%s\n", dlerror()), 1;
	const struct kern_ops *o = dlsym(l, "kern_cuda_ops");
	int bad = !o;
#define E(n) if (o && (void *)o->n != dlsym(l, "cuda_" #n)) \
		printf("%s\n", #n), bad = 1;
	E(kern_coll_id) E(kern_coll_init) E(kern_coll_sum) E(kern_coll_fini)
	E(kern_sync)
	return bad;
}
EOF2
# under make asan the library is instrumented: so is the program that
# loads it (the ASan runtime must come first)
san=
[ "${ULMFIT_SAN:-0}" = 1 ] && san="-fsanitize=address,undefined"
${CC:-cc} -std=gnu11 -Wall -Wextra -Werror $san -I"$R/libcore" \
	-I"$R/kernels" -o "$T/tab" "$T/tab.c" -ldl 2>"$T/tab.err"
check "the table check compiles" test -x "$T/tab"
check "kern_cuda_ops holds the collectives (kern_coll_* -> cuda_kern_coll_*)" "$T/tab" "$BLD/libkern_cuda.so"
readelf -d "$BLD/libkern_cuda.so" >"$T/dyn" 2>&1
if [ "$(cat "$BLD/nccl-build" 2>/dev/null)" = 1 ]; then
	check "this build has NCCL: libkern_cuda.so links libnccl" grep -q 'NEEDED.*\[libnccl\.so' "$T/dyn"
	check "... found through its rpath" grep -q 'R.*PATH.*/lib64' "$T/dyn"
else
	exits 1 "this build has no NCCL (NCCL=0): libkern_cuda.so does not link libnccl" grep -q 'libnccl' "$T/dyn"
fi
# a CPU run of a tool does not load it, nor any CUDA library
printf 'train\t\txxbos a b c a b c a b c a b\n' >"$T/t.tok"
numz -q -w "$T/vocab" -f 1 -o "$T/t.ids" "$T/t.tok" &&
	lmbatch -q -b 2 -l 3 -e 1 -o "$T/t.lmb" "$T/t.ids" &&
	LD_DEBUG=libs awdtrain -q --emb 4 --hid 4 -o "$T/t.pth" "$T/t.lmb" >/dev/null 2>"$T/ld"
check "LD_DEBUG=libs awdtrain on the CPU ran" grep -q 'calling init' "$T/ld"
exits 1 "... and loaded no libcuda, libcudart, libcublas, libnccl, libkern_cuda.so" grep -q 'libcuda\|libcudart\|libcublas\|libnccl\|libkern_cuda' "$T/ld"
ULMFIT_DEVICE=cuda LD_DEBUG=libs awdtrain -q --emb 4 --hid 4 -o "$T/u.pth" "$T/t.lmb" >/dev/null 2>"$T/ld2"
check "(ULMFIT_DEVICE=cuda does load them: the check can fail)" grep -q 'libkern_cuda' "$T/ld2"
nm -g --defined-only "$BLD/libkern_cuda.a" 2>/dev/null |
	awk '$2 == "T" { print $3 }' >"$T/syms"
check "libkern_cuda.a defines every function of cuda.h" defined "$T/syms" "$CU"
sed '/^cuda_ops_scale$/d' "$T/syms" >"$T/syms2"
exits 1 "... a check that fails when one is missing" defined "$T/syms2" "$CU"
# the fatbins keep ptxas' options: one cubin per -gencode, no fused
# multiply-adds the CPU build does not make
strings -a "$BLD/libkern_cuda.a" >"$T/strings"
for a in sm_80 sm_90; do
	check "the library holds $a device code built with -fmad false" \
		grep -q -- "-arch $a .*-fmad false" "$T/strings"
done

# ---- gpucheck: SKIP without a device, a passing table with one ----
G=$BLD/tests/gpu/check
check "tests/gpu/check is built" test -x "$G"
# (under make asan: the CUDA driver maps memory where ASan's shadow gap is)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}protect_shadow_gap=0" \
	timeout "$HANG" "$G" >"$T/g.out" 2>"$T/g.err"; rc=$?
if head -1 "$T/g.out" | grep -q '^SKIP: no CUDA device (.*)$'; then
	is "$rc" 0 "gpucheck without a device: SKIP, exit 0"
	skip "$(head -1 "$T/g.out" | sed 's/^SKIP: //')"
else
	is "$rc" 0 "gpucheck on this machine's device: every twin within its limit"
	check "... its table lists every case PASS" grep -q '^gpucheck: 0 of [1-9][0-9]* cases failed$' "$T/g.out"
	sed 's/^/#   /' "$T/g.out" | tail -70
fi
done_testing
