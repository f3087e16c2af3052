# pipelines/imdb.mk: what pipelines/imdb and pipelines/imdb-direct share:
# the model size (SIZE=full: fastai's AWD-LSTM on WT103's weights;
# SIZE=small: a small one on pipelines/pretrain's, made on demand) and
# the two input folders, IMDB's and the pretrained weights', one line
# each in $(W)/data.path and $(W)/pretrained.path (untar imdb and untar
# wt103-fwd, or DATA and PRETRAINED: local copies).  Included after
# common.mk and SIZE, before the rules that use EMB and HID.
DATA   ?=
ifeq ($(SIZE),small)
PRETRAIN_W ?= $(abspath ../pretrain/work)
PRETRAINED ?= $(PRETRAIN_W)/model
EMB ?= 64
HID ?= 192
else
PRETRAINED ?=
EMB ?= 400
HID ?= 1152
endif
LAYERS ?= 3
export ULMFIT_HOME ?= $(HOME)/.ulmfit

$(W)/data.path: $(call vars,data,$(DATA))
	d='$(DATA)'; [ -n "$$d" ] || d=$$(untar -q imdb); \
	test -d "$$d/train" || { echo "$$d: no train/ folder: not fastai's IMDB layout" >&2; exit 1; }; \
	cd "$$d" && pwd >$(abspath $@)
$(W)/pretrained.path: $(call vars,pretrained,$(PRETRAINED))
	d='$(PRETRAINED)'; \
	if [ -z "$$d" ]; then d=$$(untar -q wt103-fwd); \
	elif [ $(SIZE) = small ] && [ ! -d "$$d" ]; then \
	  $(SUBMAKE) -C ../pretrain W=$(PRETRAIN_W) EMB=$(EMB) HID=$(HID) all >&2; fi; \
	cd "$$d" && pwd >$(abspath $@)
WGTS = $$(ls "$$(cat $(W)/pretrained.path)"/*.pth | head -n 1)
ITOS ?= $$(ls "$$(cat $(W)/pretrained.path)"/*.pkl | head -n 1)
