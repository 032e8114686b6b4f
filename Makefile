# vramq: the two commands are `make run` and `make test`.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
PYTEST := /usr/bin/python3 -m pytest
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime

.PHONY: deps build build-asan run test unit e2e e2e-release e2e-asan browser format format-check tidy tidy-only clean bench fuzz fuzz-replay install deb

FUZZ_TARGETS := fuzz_http_request fuzz_catalog fuzz_config fuzz_job_record fuzz_worker_protocol fuzz_multipart
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 120

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVRAMQ_SANITIZE=ON

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	$(BUILD)/vramq serve --gpus auto --data-dir ./vramq-data

# Installs under PREFIX (default /usr/local; DESTDIR is honoured): binaries, the systemd unit,
# docs, examples and contrib/ (docs/operations.md, "Installing"); as root, without DESTDIR, it
# also creates the user jobs run as (vramq-job).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)
	@# The user jobs run as (run_as in the example configuration), on this host only.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! getent passwd vramq-job >/dev/null; then \
	  useradd --system --user-group --create-home --home-dir /var/lib/vramq-job \
	    --shell /usr/sbin/nologin vramq-job && echo "created the user vramq-job (jobs run as it)"; \
	fi

# A Debian package (build/vramq_VERSION_ARCH.deb) of the same files under /usr.
deb: build
	cd $(BUILD) && cpack -G DEB

unit: build build-asan fuzz-replay
	$(BUILD)/vramq-unit-tests
	$(PYTEST) -q -p no:cacheprovider tests/python
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(ASAN_BUILD)/vramq-unit-tests

# Every input in the fuzz corpus (tests/fuzz/corpus/TARGET/), crashes found included, run
# through its target under the sanitizers.
fuzz-replay: build-asan
	@for t in $(FUZZ_TARGETS); do \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(ASAN_BUILD)/$$t-replay tests/fuzz/corpus/$$t > /dev/null || { echo "fuzz replay: $$t failed"; exit 1; }; \
	done; echo "fuzz corpus replayed: $(FUZZ_TARGETS)"

# libFuzzer with clang-16 (installed here on demand): each target runs FUZZ_SECONDS on its
# corpus; new inputs that reach new code are added to it. Results: $(FUZZ_BUILD)/fuzz-report.md.
fuzz:
	@bash scripts/install-deps.sh --fuzz
	CC=clang-16 CXX=clang++-16 cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVRAMQ_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	bash bench/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
# The e2e tests mostly wait (on jobs, timers, servers), so they run E2E_WORKERS at a time
# (pytest-xdist); a file's tests stay on one worker, so that a module's fixture (the Slurm
# cluster) is made once. Each test has its own data dir, port, GPU lock dir and token file.
E2E_WORKERS ?= 4
E2E_PYTEST := $(PYTEST) -q -p no:cacheprovider -n $(E2E_WORKERS) --dist loadfile
e2e: e2e-release e2e-asan
e2e-release: build
	VRAMQ_BIN=$(CURDIR)/$(BUILD)/vramq $(E2E_PYTEST) tests/e2e
e2e-asan: build-asan
	VRAMQ_BIN=$(CURDIR)/$(ASAN_BUILD)/vramq VRAMQ_SANITIZED=1 $(E2E_PYTEST) tests/e2e

# The web dashboard in headless Chromium (Debian's), driven by playwright-core (pinned in
# tests/browser/package-lock.json); screenshots land in $(BUILD)/screenshots.
browser: build
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	cd tests/browser && VRAMQ_BIN=$(CURDIR)/$(BUILD)/vramq SCREENSHOTS=$(CURDIR)/$(BUILD)/screenshots \
	  node --test --test-concurrency=1 dashboard.test.mjs

# Style and static analysis are part of the suite, so that CI keeps them clean. clang-tidy
# needs CPU while the e2e and browser suites mostly wait on processes and sockets, so tidy runs
# beside them at the lowest CPU priority: the suites keep the CPU they had and tidy takes what
# they leave, instead of starting after them.
# Each step's wall time goes to $(BUILD)/steps.log (scripts/timed.sh) and is printed last, also
# when a step fails: the end of a CI log, all that a CI run shows, then says where the time went.
STEPS = $(CURDIR)/$(BUILD)/steps.log
TIMED = bash scripts/timed.sh $(STEPS)
SUB = $(MAKE) --no-print-directory
test:
	@mkdir -p $(BUILD); rm -f $(STEPS); \
	  trap 'echo "make test, step by step:"; cat $(STEPS) 2>/dev/null' EXIT; \
	  $(TIMED) deps $(SUB) deps && $(TIMED) format-check $(SUB) format-check && \
	  $(TIMED) build $(SUB) build && $(TIMED) build-asan $(SUB) build-asan && \
	  $(TIMED) unit $(SUB) unit && { \
	  nice -n 19 $(TIMED) tidy $(SUB) tidy-only > $(BUILD)/tidy-run.log 2>&1 & tidy=$$!; \
	  $(TIMED) e2e-release $(SUB) e2e-release && $(TIMED) e2e-asan $(SUB) e2e-asan && \
	  $(TIMED) browser $(SUB) browser; rc=$$?; \
	  wait $$tidy; trc=$$?; cat $(BUILD)/tidy-run.log; \
	  [ $$rc = 0 ] && [ $$trc = 0 ]; }

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check: deps
	clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp')
	@# g++ 12 destroys the temporaries of `c ? co_await x : y` twice (a use-after-free seen twice here).
	@! grep -rn -- '? co_await' src || { echo "use if/else instead of co_await inside ?:"; exit 1; }
	@# ... and evaluates both arms of a ?: in a co_await's arguments (seen: substr past the end).
	@! grep -rnE 'co_await[^;/]*\?[^;]*:' src | grep -v '^[^:]*:[0-9]*: *//' || \
	  { echo "compute ?: into a local before a co_await"; exit 1; }

# clang-tidy (checks in .clang-tidy) over every source file, using build/'s compile commands.
# tidy-only is tidy without building: test runs it beside suites that build nothing either.
tidy: build
	@$(MAKE) --no-print-directory tidy-only

tidy-only:
	run-clang-tidy-14 -p $(BUILD) -j $(JOBS) -quiet '$(CURDIR)/src/.*\.cpp$$' > $(BUILD)/tidy.log 2>&1 || \
	  { grep -E 'error:|warning:' $(BUILD)/tidy.log | grep -v 'warnings generated' | sort -u; exit 1; }
	@echo "clang-tidy: clean"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

bench:
	bash bench/run
