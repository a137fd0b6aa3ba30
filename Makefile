# The two commands: `make run` and `make test`. Everything else is a helper.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
SOURCES = $(shell git ls-files '*.cpp' '*.hpp' 2>/dev/null)

.PHONY: all deps configure build test run asan format format-check clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

# The daemon only; `make test` builds everything.
build: configure
	@cmake --build --preset $(PRESET) --target sluice

test: configure
	@cmake --build --preset $(PRESET)
	@ctest --preset $(PRESET)

run: build
	@scripts/run-local.sh $(BUILD_DIR)/sluice

asan:
	@$(MAKE) --no-print-directory test PRESET=asan

format:
	@clang-format -i $(SOURCES)

format-check: deps
	@clang-format --dry-run --Werror $(SOURCES)

clean:
	@rm -rf build
