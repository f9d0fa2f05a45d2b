# Set-up on a fresh Debian 12 machine: `make demo` or `make test`.
# Both install missing Debian packages, fetch the default model, configure and
# build in ./build, then run the demo or the whole test suite.

BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
COMPACTOR ?= $(BUILD_DIR)/bin/compactor

.PHONY: all deps model configure build demo test unit parity integration clean

all: build

deps:
	scripts/install_deps.sh

model: deps
	scripts/fetch_model.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

demo: build model
	$(COMPACTOR) run

test: build model
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L 'unit|parity|integration'

unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L unit

parity: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L parity

integration: build model
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L integration

clean:
	rm -rf $(BUILD_DIR)
