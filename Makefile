# jitfarm - build, test, benchmark and install.
#
#   make                 build everything under build/
#   make demo            run the end-to-end demo on the embedded file store
#   make check           build and run every test (unit, integration, CLI)
#   make check-deploy    build the image and run the cluster in containers
#   make bench           build and run the benchmarks under bench/
#   make install         install to $(PREFIX) (default /usr/local)
#   make SANITIZE=address,undefined check   the same under sanitizers,
#                        built in build/san/ so both builds can coexist
#
# Dependencies come from Debian 12; when llvm-config-19, a pkg-config
# module or a test server is missing, scripts/install-deps.sh runs first.

PREFIX     ?= /usr/local
LLVM_CONFIG ?= llvm-config-19
CC         ?= cc
CXX        ?= c++
PKGS       := libevent libevent_pthreads hiredis libcurl check libseccomp libcrypto jansson
SANITIZE   ?=

ifeq ($(SANITIZE),)
BUILD      ?= build
else
BUILD      ?= build/san
endif

# --- dependency bootstrap ----------------------------------------------------
# Evaluated before anything else: a fresh machine gets its packages on the
# first `make`, without a separate step.
DEPS_OK := $(shell command -v $(LLVM_CONFIG) >/dev/null 2>&1 && \
	pkg-config --exists $(PKGS) 2>/dev/null && \
	command -v redis-server >/dev/null 2>&1 && command -v clang-19 >/dev/null 2>&1 && \
	{ command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; } && \
	command -v npm >/dev/null 2>&1 && \
	{ test ! -f tests/s3/package.json || test -x tests/s3/node_modules/.bin/s3rver; } && \
	{ test ! -f tests/deploy/package.json || test -d tests/deploy/node_modules/kubernetes-models; } && \
	{ test ! -f tests/cc/fetch-lua.sh || test -f tests/cc/lua/src/Makefile; } && \
	command -v promtool >/dev/null 2>&1 && command -v docker-compose >/dev/null 2>&1 && \
	command -v ccache >/dev/null 2>&1 && command -v sccache >/dev/null 2>&1 && \
	command -v dockerd >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 && \
	/usr/bin/python3 -c 'import botocore' >/dev/null 2>&1 && echo yes)
ifneq ($(DEPS_OK),yes)
ifneq ($(MAKECMDGOALS),clean)
$(info jitfarm: some dependencies are missing; running scripts/install-deps.sh)
DEPS_RC := $(shell sh scripts/install-deps.sh >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error dependencies are missing; see the command printed above)
endif
endif
endif

LLVM_INC   := $(shell $(LLVM_CONFIG) --includedir 2>/dev/null)
LLVM_LIBDIR := $(shell $(LLVM_CONFIG) --libdir 2>/dev/null)
LLVM_LIBS  := $(shell $(LLVM_CONFIG) --libs 2>/dev/null)
LLVM_VERSION := $(shell $(LLVM_CONFIG) --version 2>/dev/null)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN       := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	      -Wvla -Wwrite-strings -Wno-unused-parameter -Wno-format-truncation
HARDEN     := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIC
OPT        ?= -O2 -g
CPPFLAGS   += -D_GNU_SOURCE -I. -Iinclude -isystem $(LLVM_INC) $(PKG_CFLAGS) \
	      -DJF_BUILDING_LIB
CFLAGS     += -std=c11 $(OPT) $(WARN) $(HARDEN) -fvisibility=hidden -pthread
CXXFLAGS   += -std=c++17 $(OPT) -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
	      -fno-exceptions -fno-rtti -isystem $(LLVM_INC) -I. -Iinclude -D_GNU_SOURCE
LDFLAGS    += -pthread -Wl,-z,relro,-z,now -L$(LLVM_LIBDIR) -Wl,-rpath,$(LLVM_LIBDIR)
LDLIBS     += $(LLVM_LIBS) $(PKG_LIBS) -lstdc++ -lm

ifneq ($(SANITIZE),)
SANFLAGS   := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS     += $(SANFLAGS) -DJF_SANITIZE=1
CXXFLAGS   += $(SANFLAGS)
LDFLAGS    += $(SANFLAGS)
OPT        := -O1 -g
HARDEN     := -fstack-protector-strong -fPIC
endif

# --- sources -------------------------------------------------------------------
# Each folder's sources are picked up by wildcard; a new file needs no edit
# here. Files named *_main.c hold a program's main() and stay out of the
# library.
LIB_DIRS   := common compiler storage client worker runtime
LIB_C      := $(filter-out %_main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_CXX    := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cpp))
MASTER_C   := $(wildcard master/*.c)
CLI_C      := $(filter-out %_main.c cli/cc_dl.c,$(wildcard cli/*.c))
# jitfarm-cc: the `jitfarm cc` wrapper without LLVM, for fast cache hits
# (cli/cc_front_main.c says why); links only what its hit path needs.
CCFRONT_C  := $(wildcard cli/cc_front_main.c)
comma      := ,
CCFRONT_OBJ = $(patsubst %.c,$(OBJ)/%.o,$(CCFRONT_C) $(filter-out cli/cc_front_main.c,$(wildcard cli/cc*.c)) cli/opts.c cli/stats.c)
SUPPORT_C  := $(wildcard tests/support/*.c)
TEST_C     := $(wildcard tests/*/test_*.c)
# tests/deploy/test_containers.sh runs its own engine and takes minutes:
# `make check-deploy` runs it, once per CI run, not in every make check.
TEST_SH    := $(filter-out tests/deploy/test_containers.sh,$(sort $(wildcard tests/*/test_*.sh)))
BENCH_C    := $(wildcard bench/*.c)
EXAMPLE_C  := $(wildcard examples/*/*.c)
HEADERS    := $(wildcard include/jitfarm/*.h */*.h tests/*/*.h)

OBJ        := $(BUILD)/obj
TOBJ       := $(BUILD)/tobj
LIB_OBJ    := $(LIB_C:%.c=$(OBJ)/%.o) $(LIB_CXX:%.cpp=$(OBJ)/%.o)
# The test build compiles the same sources again with JF_TEST_HOOKS, which
# enables fault-injection hooks that never exist in a shipped binary.
TLIB_OBJ   := $(LIB_C:%.c=$(TOBJ)/%.o) $(LIB_CXX:%.cpp=$(TOBJ)/%.o)
MASTER_OBJ := $(MASTER_C:%.c=$(OBJ)/%.o)
TMASTER_OBJ := $(MASTER_C:%.c=$(TOBJ)/%.o)
CLI_OBJ    := $(CLI_C:%.c=$(OBJ)/%.o)
SUPPORT_OBJ := $(SUPPORT_C:%.c=$(TOBJ)/%.o)

LIBA       := $(BUILD)/lib/libjitfarm.a
LIBSO      := $(BUILD)/lib/libjitfarm.so.0
LIBSO_LINK := $(BUILD)/lib/libjitfarm.so
# pkg-config for a host built against this tree (the installed one is
# written by make install). Libs.private names what the archive needs,
# as the shared libraries of the library's dependencies (not check, which
# only the tests use), so `pkg-config --static` links libjitfarm.a into a
# host without the static archives of curl's own dependencies.
PCFILE     := $(BUILD)/lib/pkgconfig/jitfarm.pc
PC_LIBS    := $(shell pkg-config --libs $(filter-out check,$(PKGS)) 2>/dev/null)
TLIBA      := $(BUILD)/lib/libjitfarm-test.a
SUPPORTA   := $(BUILD)/lib/libjftest.a
JITFARM    := $(BUILD)/bin/jitfarm
MASTER     := $(if $(MASTER_C),$(BUILD)/bin/jitfarm-master)
CCFRONT    := $(if $(CCFRONT_C),$(BUILD)/bin/jitfarm-cc)
TMASTER    := $(if $(MASTER_C),$(BUILD)/test/bin/jitfarm-master)
TESTS      := $(TEST_C:tests/%.c=$(BUILD)/test/%)
BENCHES    := $(BENCH_C:bench/%.c=$(BUILD)/bench/%)
EXAMPLES   := $(EXAMPLE_C:examples/%.c=$(BUILD)/examples/%)

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all demo check check-unit check-deploy bench install clean deps
.DEFAULT_GOAL := all
.SECONDARY:

all: $(LIBA) $(LIBSO) $(LIBSO_LINK) $(PCFILE) $(JITFARM) $(MASTER) $(CCFRONT) $(EXAMPLES)

$(OBJ)/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(OBJ)/%.o: %.cpp $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(CXXFLAGS) -c $< -o $@

$(TOBJ)/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC[t]   $<"
	$(Q)$(CC) $(CPPFLAGS) -Itests/support -DJF_TEST_HOOKS=1 $(CFLAGS) -c $< -o $@

$(TOBJ)/%.o: %.cpp $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	@echo "  CXX[t]  $<"
	$(Q)$(CXX) $(CXXFLAGS) -DJF_TEST_HOOKS=1 -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(TLIBA): $(TLIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(SUPPORTA): $(SUPPORT_OBJ)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) -shared -Wl,-soname,libjitfarm.so.0 $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIBSO_LINK): $(LIBSO)
	$(Q)ln -sf libjitfarm.so.0 $@

# jitfarm.pc from scripts/jitfarm.pc.in: PC_SED(prefix, libdir, includedir)
PC_SED = sed -e 's|@PREFIX@|$(1)|g' -e 's|@LIBDIR@|$(2)|g' -e 's|@INCLUDEDIR@|$(3)|g' \
	-e 's|@LLVM_LIBDIR@|$(LLVM_LIBDIR)|g' -e 's|@LLVM_LIBS@|$(LLVM_LIBS)|g' \
	-e 's|@PKG_LIBS@|$(PC_LIBS)|g' scripts/jitfarm.pc.in

$(PCFILE): scripts/jitfarm.pc.in Makefile
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)$(call PC_SED,$(abspath $(BUILD)),$(abspath $(BUILD))/lib,$(CURDIR)/include) > $@

$(JITFARM): $(CLI_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBA) $(LDLIBS)

$(BUILD)/bin/jitfarm-master: $(MASTER_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(MASTER_OBJ) $(LIBA) $(LDLIBS)

# --as-needed: libLLVM and the rest stay out unless a pulled-in object
# needs them, which is the point of this binary.
$(BUILD)/bin/jitfarm-cc: $(CCFRONT_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(filter-out -Wl$(comma)-rpath$(comma)%,$(LDFLAGS)) -Wl,--as-needed -o $@ \
		$(CCFRONT_OBJ) $(LIBA) $(LDLIBS)

# The master as the tests run it: with the fault-injection hooks.
$(BUILD)/test/bin/jitfarm-master: $(TMASTER_OBJ) $(TLIBA)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(TMASTER_OBJ) $(TLIBA) $(LDLIBS)

$(BUILD)/test/%: $(TOBJ)/tests/%.o $(TLIBA) $(SUPPORTA)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(SUPPORTA) $(TLIBA) $(LDLIBS)

$(BUILD)/bench/%: $(OBJ)/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(BUILD)/examples/%: $(OBJ)/examples/%.o $(LIBA)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# --- running ---------------------------------------------------------------------
# Test programs find the build through these variables.
TEST_ENV := JF_BUILD=$(abspath $(BUILD)) JF_SRC=$(CURDIR) \
	JF_BIN=$(abspath $(BUILD))/bin JF_TEST_BIN=$(abspath $(BUILD))/test/bin \
	CK_DEFAULT_TIMEOUT=120 \
	ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:allocator_may_return_null=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

check: all $(TESTS) $(TMASTER) $(EXAMPLES)
	@$(TEST_ENV) sh tests/run.sh $(TESTS) $(TEST_SH)

# The image and the cluster in containers (needs root and docker.io).
check-deploy: all
	@$(TEST_ENV) bash tests/deploy/test_containers.sh

demo: all $(EXAMPLES)
	@$(TEST_ENV) sh scripts/demo.sh

bench: all $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $(TEST_ENV) $$b || exit 1; done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include/jitfarm $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(JITFARM) $(MASTER) $(CCFRONT) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/libjitfarm.so.0
	ln -sf libjitfarm.so.0 $(DESTDIR)$(PREFIX)/lib/libjitfarm.so
	install -m 0644 include/jitfarm/*.h $(DESTDIR)$(PREFIX)/include/jitfarm/
	$(call PC_SED,$(PREFIX),$(PREFIX)/lib,$(PREFIX)/include) \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/jitfarm.pc

clean:
	rm -rf build

deps:
	sh scripts/install-deps.sh

# --- coverage-guided fuzzing (tests/fuzz/) --------------------------------------
# libFuzzer harnesses, built with clang-19 under ASan and UBSan from their
# own objects of the library sources they exercise (never the gcc objects),
# with seeds that gen_corpus writes from real encodings. `make fuzz` runs
# each harness for FUZZ_SECONDS; `make check` runs each for a few seconds
# (tests/fuzz/test_fuzz.sh). Without clang-19 or its fuzzer runtime
# (libclang-rt-19-dev) nothing here is built, and the test says so.
FUZZ_CC      ?= clang-19
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_OK      := $(shell d=$$($(FUZZ_CC) -print-resource-dir 2>/dev/null) && \
	test -f "$$d/lib/linux/libclang_rt.fuzzer-$$(uname -m).a" && echo yes)
FUZZ_LIB_C   := $(wildcard common/*.c) worker/proto.c cli/cc_args.c $(wildcard cli/cc_path.c) \
	tests/fuzz/fuzz_common.c
FUZZ_SRC     := $(filter-out tests/fuzz/fuzz_common.c,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -O1 -g $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -pthread
FUZZ_LIBA    := $(FUZZ_DIR)/libjitfarm-fuzz.a
ifeq ($(FUZZ_OK),yes)
FUZZ_BINS    := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_SEEDS   := $(FUZZ_DIR)/seeds/.stamp
endif

.PHONY: fuzz fuzz-build

$(FUZZ_DIR)/obj/%.o: %.c $(HEADERS) tests/fuzz/fuzz.h Makefile
	@mkdir -p $(dir $@)
	@echo "  CC[fz]  $<"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_LIBA): $(FUZZ_LIB_C:%.c=$(FUZZ_DIR)/obj/%.o)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIBA)
	@echo "  LD[fz]  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(FUZZ_LIBA) $(LDLIBS)

$(FUZZ_DIR)/gen_corpus: $(FUZZ_DIR)/obj/tests/fuzz/gen_corpus.o $(FUZZ_LIBA)
	@echo "  LD[fz]  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(LDFLAGS) -o $@ $< $(FUZZ_LIBA) $(LDLIBS)

$(FUZZ_DIR)/seeds/.stamp: $(FUZZ_DIR)/gen_corpus
	@echo "  GEN     $(FUZZ_DIR)/seeds"
	$(Q)rm -rf $(FUZZ_DIR)/seeds && $(FUZZ_DIR)/gen_corpus $(FUZZ_DIR)/seeds && touch $@

fuzz-build: $(FUZZ_BINS) $(FUZZ_SEEDS)

fuzz: fuzz-build
	@$(TEST_ENV) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_REQUIRED=1 sh tests/fuzz/test_fuzz.sh

# make check runs tests/fuzz/test_fuzz.sh with the rest: build what it runs.
check: $(FUZZ_BINS) $(FUZZ_SEEDS)
