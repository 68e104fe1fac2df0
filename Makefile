# geb - CPU inference for GEB-1.3B-family models.  Plain make, no configure.
#
#   make            build ./geb
#   make run        build and run the default model in models/ (English + Chinese prompt)
#   make test       unit + fixture + CLI tests, then the same under ASan/UBSan
#   make asan       only the sanitizer build and its test run
#   make fixtures   regenerate test fixtures with the Python references (needs Debian python3 modules)
#   make bench      build a GEB-1.3B-shaped checkpoint once and run `geb bench` on it
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
WERROR  ?=
CFLAGS  ?=
PYTHON  ?= /usr/bin/python3
MODEL   ?= models/geb-tiny

BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -Iinclude $(OPT) -g -Wall -Wextra \
              -Wshadow -Wno-unused-parameter -pthread -MMD -MP $(if $(WERROR),-Werror)
LDLIBS  = -lm -pthread

SRCS     := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/%.o)
TESTS    := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c))

# Each instruction-set kernel file is compiled for its own ISA; the dispatcher
# in kernels.c picks one at run time from CPUID, so one binary runs anywhere.
ARCH := $(shell $(CC) -dumpmachine)
ifneq (,$(findstring x86_64,$(ARCH)))
ISA_avx2   = -mavx2 -mfma -mf16c
ISA_avx512 = -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c
ISA_avx512_vnni = $(ISA_avx512) -mavx512vnni
# AMX tiles for the BF16 GEMM, where the compiler has them (gcc 11+, clang 12+).
AMX := $(shell $(CC) -mamx-tile -mamx-bf16 -E -x c /dev/null >/dev/null 2>&1 && echo -mamx-tile -mamx-bf16)
ISA_avx512_bf16 = $(ISA_avx512) -mavx512bf16 $(AMX)
endif
ifneq (,$(findstring aarch64,$(ARCH)))
ISA_neon_dot = -march=armv8.2-a+dotprod
endif

.PHONY: all run test asan check fixtures bench fuzz clean neon
all: geb

geb: $(BUILD)/geb
	cp $< $@

$(BUILD)/geb: $(BUILD)/main.o $(LIB_OBJS)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# --version: the commit and the flags of this build
GEB_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null)
$(BUILD)/main.o: EXTRA = -DGEB_COMMIT='"$(or $(GEB_COMMIT),unknown)"' -DGEB_BUILD_FLAGS='"$(strip $(OPT) $(CFLAGS))"'
$(BUILD)/kernels_avx2.o: EXTRA = $(ISA_avx2)
$(BUILD)/kernels_avx512.o: EXTRA = $(ISA_avx512)
$(BUILD)/qk_avx2.o: EXTRA = $(ISA_avx2)
$(BUILD)/qk_avx512.o: EXTRA = $(ISA_avx512)
$(BUILD)/qk_avx512_vnni.o: EXTRA = $(ISA_avx512_vnni)
$(BUILD)/qk_avx512_bf16.o: EXTRA = $(ISA_avx512_bf16)
$(BUILD)/qk_neon_dot.o: EXTRA = $(ISA_neon_dot)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(BASE_CFLAGS) $(EXTRA) $(CFLAGS) -c -o $@ $<

$(BUILD)/test_%.o: tests/test_%.c | $(BUILD)
	$(CC) $(BASE_CFLAGS) -Itests $(CFLAGS) -c -o $@ $<

$(BUILD)/test_%: $(BUILD)/test_%.o $(LIB_OBJS)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# test_types also runs the VNNI kernels with vpdpbusd emulated in AVX2.
$(BUILD)/test_types: $(BUILD)/qk_vnni_emu.o
$(BUILD)/qk_vnni_emu.o: tests/qk_vnni_emu.c | $(BUILD)
	$(CC) $(BASE_CFLAGS) $(ISA_avx2) -Isrc $(CFLAGS) -c -o $@ $<

$(BUILD):
	mkdir -p $@

# </dev/null: piped stdin would be read as part of the prompt.
# geb prints only the continuation, so `echo` ends each with a newline.
run: geb
	@echo '$$ ./geb -m $(MODEL) -n 64 -s 1 -p "The best way to"'
	@./geb -m $(MODEL) -n 64 -s 1 -p "The best way to" </dev/null && echo
	@echo '$$ ./geb -m $(MODEL) -n 64 -s 1 -p "人生"'
	@./geb -m $(MODEL) -n 64 -s 1 -p "人生" </dev/null && echo

# `check` runs the suite on one build; `test` runs it on the normal build and
# then again with AddressSanitizer + UBSan.
check: $(BUILD)/geb $(TESTS)
	GEB_BIN=$(BUILD)/geb bash tests/run.sh $(BUILD)

test:
	$(MAKE) --no-print-directory check
	$(MAKE) --no-print-directory asan

# A sanitizer report exits 86, so a leak on an error path (which exits 1 by
# itself) still fails the test that expects 1.
asan:
	ASAN_OPTIONS=detect_leaks=1:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1 \
	$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" check

fixtures:
	$(PYTHON) tools/gen_tok_fixtures.py
	$(PYTHON) tools/ref_model.py
	$(PYTHON) tools/gen_bad_fixtures.py
	$(PYTHON) tools/ref_torch_llama.py
	$(PYTHON) tools/gen_pt_fixtures.py
	$(PYTHON) tools/ref_bf16_act.py
	$(PYTHON) tools/chat_ref/ids.py

neon:
	bash tests/run_neon.sh

bench: geb
	bash tools/bench.sh

fuzz:
	bash tests/fuzz/run.sh

clean:
	rm -rf build build-asan build-arm build-fuzz geb

-include $(wildcard $(BUILD)/*.d)
