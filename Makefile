# The two commands: `make run` and `make test`. Everything else is a helper.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
SOURCES = $(shell git ls-files '*.cpp' '*.hpp' 2>/dev/null)

FUZZ_SECONDS ?= 30
JOBS ?= 2

.PHONY: all deps configure build test run asan fuzz tsan format format-check clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

# The daemon only; `make test` builds everything.
build: configure
	@cmake --build --preset $(PRESET) --target sluice

# The Node clients some integration tests drive (tests/node), from the committed lockfile.
NODE_DEPS := tests/node/node_modules/.package-lock.json
$(NODE_DEPS): tests/node/package-lock.json
	@cd tests/node && npm ci --no-audit --no-fund --loglevel=error

test: configure $(NODE_DEPS)
	@cmake --build --preset $(PRESET)
	@ctest --preset $(PRESET)

run: build
	@scripts/run-local.sh $(BUILD_DIR)/sluice

asan:
	@$(MAKE) --no-print-directory test PRESET=asan

# libFuzzer targets (tests/fuzz) built by clang with ASan and UBSan, each run for
# FUZZ_SECONDS; fails when one finds something (docs/testing.md).
fuzz: deps
	@scripts/install-deps.sh --fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzz.sh build/fuzz

# The integration tests under ThreadSanitizer, every broker with two I/O threads;
# fails on a test failure or on any race report (written to build/tsan/reports).
tsan: deps $(NODE_DEPS)
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	@rm -rf build/tsan/reports && mkdir -p build/tsan/reports
	@status=0; ctest --preset tsan $(TSAN_CTEST_ARGS) || status=$$?; \
	if ls build/tsan/reports/race.* >/dev/null 2>&1; then \
	  cat build/tsan/reports/race.*; echo "tsan: data races reported (build/tsan/reports)" >&2; exit 1; \
	fi; exit $$status

format:
	@clang-format -i $(SOURCES)

format-check: deps
	@clang-format --dry-run --Werror $(SOURCES)

clean:
	@rm -rf build
