# pipelines/common.mk: what every experiment Makefile shares.
#
# - bash with -e and pipefail: a tool that fails inside a pipe fails its
#   rule; .DELETE_ON_ERROR: a failed rule leaves no stale target (the
#   tools themselves never leave a half-written file either).
# - $(call vars,STAGE,OPTIONS): a stamp file $(W)/STAGE.vars holding the
#   options of one stage.  It is rewritten (so made newer) at parse time
#   only when the options changed, so a target that lists it as a
#   prerequisite is re-made when, and only when, its own options or its
#   inputs changed: `make LR=...` re-runs the classifier, not the LM.
# - $(call opt,FLAG,VALUE): "FLAG VALUE" when VALUE is set, nothing
#   otherwise (for options some builds of the tools lack: --device,
#   --precision).
# - the plot rule: $(W)/NAME.png from NAME's logs with pipelines/plot.sh.
SHELL       = /bin/bash
.SHELLFLAGS = -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:

PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
BIN  ?= $(abspath $(PIPELINES)/../build/bin)
export PATH := $(BIN):$(PATH)
W    ?= work
PLOT ?= $(PIPELINES)/plot.sh

vars = $(shell mkdir -p $(W) && f=$(W)/$(1).vars && v='$(strip $(2))' && \
  { [ -f $$f ] && [ "$$(cat $$f)" = "$$v" ] || printf '%s\n' "$$v" >$$f; } && \
  echo $$f)
opt  = $(if $(strip $(2)),$(1) $(strip $(2)))

# compute threads, device and precision of the training tools; DEVICE and
# PRECISION are passed only when set (the tools take --precision fp32|bf16
# but no --device yet: `make DEVICE=cuda` fails at the first training
# step, saying so)
THREADS   ?=
DEVICE    ?=
PRECISION ?=
TRAIN_OPTS = $(call opt,-j,$(THREADS)) $(call opt,--device,$(DEVICE)) \
             $(call opt,--precision,$(PRECISION))
# infer takes the same three: a model trained in bf16 is evaluated in bf16
INFER_OPTS = $(TRAIN_OPTS)
# a sub-make that `make -n` must not run (a recipe naming $(MAKE) itself
# runs even under -n; this one also fetches)
SUBMAKE = $(MAKE)
