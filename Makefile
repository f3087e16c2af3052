# ULMFiT as Unix tools.  `make` builds every tool in $(B)/bin; `make test`
# runs the suite (TAP, under prove); `make asan` runs it again under
# AddressSanitizer + UBSan; `make fuzz` fuzzes every parser (fuzz/);
# `make valgrind` runs the tools under memcheck; `make check` does deps +
# test + asan + a short fuzz pass + valgrind (CI).
B        ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
# -march: the reference kernels are plain C; let the compiler use the CPU.
XCFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
            -Ilibcore -Ikernels -I/usr/include/x86_64-linux-gnu
# libcore/*/*.cc (the SentencePiece shim, text/sp.cc) is C++; the tools stay C.
XCXXFLAGS := -std=c++17 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Ilibcore
LDLIBS   := -lcjson -larchive -lcurl -lutf8proc -lpcre2-8 -lopenblas -lxxhash -lz -lm -pthread \
            -lsentencepiece_train -lsentencepiece -lstdc++
PREFIX   ?= /usr/local

TOOLS    := $(sort $(basename $(notdir $(wildcard tools/*.c))))
CORE_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard libcore/*/*.c)) \
            $(patsubst %.cc,$(B)/%.o,$(wildcard libcore/*/*.cc))
KERN_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard kernels/cpu/*.c))
UNITS    := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/*.c))
BINS     := $(TOOLS:%=$(B)/bin/%)

all: $(BINS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<
$(B)/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(XCXXFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libcore.a: $(CORE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^
$(B)/libkern.a: $(KERN_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/bin/%: $(B)/tools/%.o $(B)/libcore.a $(B)/libkern.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcore.a $(B)/libkern.a $(B)/libcore.a $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libcore.a $(B)/libkern.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcore.a $(B)/libkern.a $(B)/libcore.a $(LDLIBS)

units: $(UNITS)

# Fuzz harnesses (fuzz/*.c but the shared catch.c and driver.c), one per
# parser.  Linked with FUZZ_WRAP so that a die() inside the library comes
# back to the harness (fuzz/catch.h).  In B they run saved inputs through
# fuzz/driver.c (tests/fuzz_regress.t); `make fuzz` builds them again
# with clang and libFuzzer in FUZZ_B and fuzzes each for FUZZ_SECONDS.
# (-Wno-string-concatenation: spacy_en.c's tables split long literals;
# -Wno-unknown-pragmas: the kernels' GCC optimize pragmas;
# -fsanitize-link-c++-runtime: clang links C, and libcore/text/sp.cc's UBSan
# checks need the C++ half of the runtime.)
FUZZERS   := $(sort $(basename $(notdir $(filter-out fuzz/catch.c fuzz/driver.c,$(wildcard fuzz/*.c)))))
FUZZ_BINS := $(FUZZERS:%=$(B)/fuzz/fuzz-%)
FUZZ_MAIN ?= $(B)/fuzz/driver.o
comma     := ,
FUZZ_WRAP := $(patsubst %,-Wl$(comma)--wrap=%,exit malloc calloc realloc \
             free strdup strndup asprintf vasprintf fopen fdopen fclose open \
             close opendir fdopendir closedir XXH64_createState XXH64_freeState)
FUZZ_B       ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined

$(B)/fuzz/fuzz-%: $(B)/fuzz/%.o $(B)/fuzz/catch.o $(FUZZ_MAIN) $(B)/libcore.a $(B)/libkern.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(FUZZ_WRAP) -o $@ $< $(B)/fuzz/catch.o $(FUZZ_MAIN) $(B)/libcore.a $(B)/libkern.a $(B)/libcore.a $(LDLIBS)

fuzzers: $(FUZZ_BINS)

# make fuzz FUZZ_SECONDS=5: each harness for 5 s (CI's short pass)
fuzz: all
	$(MAKE) B=$(FUZZ_B) CC=clang CXX=clang++ FUZZ_MAIN= \
	  CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-string-concatenation -Wno-unknown-pragmas" \
	  LDFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer -fsanitize-link-c++-runtime" fuzzers
	sh fuzz/seeds.sh $(B)/bin $(FUZZ_B)/corpus
	sh fuzz/run.sh $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZERS)

# Tool tests find the tools on PATH; unit tests are executables.  TESTS
# narrows the run: make test TESTS=tests/numz.t
# Test files run side by side, one per CPU (TEST_JOBS=1: one at a time):
# each works in its own temp folder and waits for signs, not times, so a
# busy machine slows them and changes nothing else.
TESTS ?= $(sort $(filter-out tests/valgrind.t,$(wildcard tests/*.t))) $(UNITS)
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
# (MAKEFLAGS=: a test that runs make, pipelines.t, must not inherit this
# make's -j and jobserver.)
test: all units fuzzers
	MAKEFLAGS= PATH="$(CURDIR)/$(B)/bin:$$PATH" ULMFIT_BUILD="$(CURDIR)/$(B)" \
	  prove --exec '' -j$(TEST_JOBS) $(PROVEFLAGS) $(TESTS)

SAN := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
       -fno-sanitize-recover=undefined
# A sanitizer's report exits 86, never 1: tests that count "exit 1" as a
# refusal (the byte-flip and truncation children) must not take a memory
# error for one.
asan:
	ASAN_OPTIONS="$${ASAN_OPTIONS:+$$ASAN_OPTIONS:}exitcode=86" \
	UBSAN_OPTIONS="$${UBSAN_OPTIONS:+$$UBSAN_OPTIONS:}exitcode=86" \
	  $(MAKE) B=$(B)-asan CFLAGS="$(SAN)" LDFLAGS="$(SAN)" \
	  ULMFIT_SAN=1 test

# The tools' common paths under valgrind memcheck (not under asan: the
# sanitizers and valgrind do not mix).
valgrind: all
	MAKEFLAGS= PATH="$(CURDIR)/$(B)/bin:$$PATH" ULMFIT_BUILD="$(CURDIR)/$(B)" \
	  prove --exec '' $(PROVEFLAGS) tests/valgrind.t

deps:
	sh scripts/deps.sh

# The builds run one job per CPU (TEST_JOBS); the tests' own -j is prove's.
check: deps
	$(MAKE) -j$(TEST_JOBS) test
	$(MAKE) -j$(TEST_JOBS) asan
	$(MAKE) -j$(TEST_JOBS) fuzz FUZZ_SECONDS=5
	$(MAKE) -j$(TEST_JOBS) valgrind

# mutate: plants known bugs in a copy of the tree; each must fail a test
mutate:
	sh scripts/mutate.sh

bench: deps all
	sh bench/run.sh $(B)

demo: deps all
	$(MAKE) -C pipelines/demo BIN="$(CURDIR)/$(B)/bin"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin
	for s in 1 5 7; do for f in man/man$$s/*.$$s; do [ -f "$$f" ] && \
	  install -m 644 $$f $(DESTDIR)$(PREFIX)/share/man/man$$s; done; done; true
	# the CUDA backend, which kern_init finds at $$ORIGIN/../lib/ulmfit
	if [ "$(CUDA)" = 1 ]; then install -d $(DESTDIR)$(PREFIX)/lib/ulmfit && \
	  install -m 755 $(B)/libkern_cuda.so $(DESTDIR)$(PREFIX)/lib/ulmfit; fi

clean:
	rm -rf $(B) $(B)-asan $(FUZZ_B)

# ---- CUDA backend (kernels/cuda) ----
# When nvcc is found (on PATH, else /usr/local/cuda/bin) and CUDA is not 0,
# `make` also builds $(B)/libkern_cuda.a (the CUDA twins of kernels.h, for
# sm_80 and sm_90; -fmad=false: no contractions the CPU build does not
# make), $(B)/libkern_cuda.so (the same with the dispatch table, which
# kern_init loads for KERN_CUDA) and $(B)/tests/gpu/check; `make gpucheck` runs that check on a
# machine with a GPU (without one it prints SKIP), then tests/gpu/nccl.sh
# (mpirun -np 2 on two GPUs through NCCL; SKIP with fewer).  `make
# CUDA=0`: none of it.  $(B)/cuda-build records which it was, for tests/cuda.t.
NVCC      ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
CUDA      ?= $(if $(NVCC),1,0)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCCFLAGS := -std=c++17 -O2 -g -fmad=false \
             -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -Xcompiler -Wall,-Wextra,-Werror,-fPIC -Werror all-warnings \
             -D_GNU_SOURCE -Ilibcore -Ikernels
CUDA_OBJ  := $(patsubst %.cu,$(B)/%.o,$(wildcard kernels/cuda/*.cu))
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart
# NCCL (kernels/cuda/coll.cu: the data-parallel all-reduce on the device)
# when the CUDA install has nccl.h and libnccl; `make NCCL=0`: coll.cu
# answers "not available" and dist.c sums through the host
NCCL      ?= $(if $(and $(wildcard $(CUDA_HOME)/include/nccl.h),$(wildcard $(CUDA_HOME)/lib64/libnccl.so)),1,0)
ifeq ($(NCCL),1)
NVCCFLAGS += -DULMFIT_NCCL
CUDA_LIBS += -lnccl
endif

all: $(B)/cuda-build
$(B)/cuda-build: cuda-build-force
	@mkdir -p $(@D); echo $(CUDA) | cmp -s - $@ || echo $(CUDA) >$@
ifeq ($(CUDA),1)
all: $(B)/libkern_cuda.a $(B)/libkern_cuda.so $(B)/tests/gpu/check
all: $(B)/nccl-build
$(B)/nccl-build: cuda-build-force
	@mkdir -p $(@D); echo $(NCCL) | cmp -s - $@ || echo $(NCCL) >$@
$(B)/kernels/cuda/coll.o: $(B)/nccl-build
$(B)/kernels/cuda/%.o: kernels/cuda/%.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c -o $@ $<
$(B)/libkern_cuda.a: $(CUDA_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
# the backend kern_init(k, KERN_CUDA, n) dlopens (ctx.c): the twins, the
# table kern_cuda_ops of dispatch.h (table.c), cuda_kern_init and its
# own copy of core/util.c (die)
$(B)/kernels/cuda/table.o: kernels/cuda/table.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -fPIC -MMD -MP -c -o $@ $<
$(B)/kernels/cuda/util.pic.o: libcore/core/util.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -fPIC -MMD -MP -c -o $@ $<
$(B)/libkern_cuda.so: $(CUDA_OBJ) $(B)/kernels/cuda/table.o $(B)/kernels/cuda/util.pic.o
	$(CC) $(LDFLAGS) -shared -Wl,-z,defs -o $@ $^ $(CUDA_LIBS) -lstdc++ -lm
$(B)/tests/gpu/check: $(B)/tests/gpu/check.o $(B)/libkern_cuda.a $(B)/libcore.a $(B)/libkern.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libkern_cuda.a $(B)/libcore.a $(B)/libkern.a $(B)/libcore.a $(LDLIBS) $(CUDA_LIBS)
gpucheck: $(B)/tests/gpu/check all
	$(B)/tests/gpu/check
	PATH="$(CURDIR)/$(B)/bin:$$PATH" ULMFIT_BUILD="$(CURDIR)/$(B)" sh tests/gpu/nccl.sh
else
gpucheck:
	@echo "gpucheck: this build has no CUDA (CUDA=0 or no nvcc)" >&2; exit 1
endif
.PHONY: gpucheck cuda-build-force
# ---- end CUDA backend ----

# ---- MPI (Open MPI) ----
# When `mpicc --showme` answers (Open MPI's libopenmpi-dev) and MPI is not
# 0, libcore/learn/dist.c is built with ULMFIT_MPI and the tools link
# libmpi: `mpirun -np N awdtrain ...` trains data-parallel (dist.h).  A
# plain run never starts MPI.  `make MPI=0`: single-process dist.c.
# $(B)/mpi-build records which it was, for tests/mpi.t.
MPI       ?= $(if $(shell mpicc --showme:link 2>/dev/null),1,0)
ifeq ($(MPI),1)
XCFLAGS   += -DULMFIT_MPI $(patsubst -I%,-isystem %,$(shell mpicc --showme:compile))
LDLIBS    += $(shell mpicc --showme:link)
endif
all: $(B)/mpi-build
$(B)/mpi-build: mpi-build-force
	@mkdir -p $(@D); echo $(MPI) | cmp -s - $@ || echo $(MPI) >$@
$(B)/libcore/learn/dist.o: $(B)/mpi-build
.PHONY: mpi-build-force
# ---- end MPI ----

.PHONY: all units fuzzers fuzz valgrind test asan deps check bench demo install clean mutate
.SECONDARY:
-include $(shell find $(B) -name '*.d' 2>/dev/null)
