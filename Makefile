# gpt2lab — build, demo, test.
#   make demo   install missing Debian packages, build release, run the demo
#   make test   same set-up, then the whole test suite (release build, testing enabled)
#   make bench  benchmarks (see bench/README.md)
#   make fuzz   build the libFuzzer targets (ASan) and run each FUZZ_SECONDS (see fuzz/README.md)
#   make fuzz-smoke  replay seeds + mutants through the fuzz targets, no sanitizer (what CI runs)
#   make bundle  dist/gpt2lab-linux-x86_64.tar.xz: runs without Swift or these packages (docs/cluster.md)

SWIFT      ?= swift
# chromium: headless, for BrowserTests (the report as a browser shows it); ~124 MB, ~35 s to install.
# libdnnl-dev: oneDNN (~39 MB installed), the bf16 GEMM where it measures faster than widened sgemm.
# patchelf, xz-utils: make bundle sets the run paths of the bundled binary and libraries, and packs the tarball.
# ca-certificates: SwiftPM fetches the Swift packages over https (git Recommends it; this set-up skips Recommends).
DEB_PKGS   := libopenblas-dev libdnnl-dev libhdf5-dev libpng-dev libcairo2-dev fonts-dejavu-core pkg-config chromium patchelf binutils xz-utils ca-certificates
ARCH       := $(shell uname -m)
ifeq ($(ARCH),x86_64)
# AVX2 + FMA (what x86-64-v3 names; this Swift spells it "haswell"). Runs on any x86 since 2013.
CPU_FLAGS  := -Xswiftc -target-cpu -Xswiftc haswell
endif
SWIFT_FLAGS := -c release $(CPU_FLAGS)
BIN        := .build/release/gpt2lab
# OpenBLAS threads: the engine parallelises itself; keep BLAS from oversubscribing.
export OPENBLAS_NUM_THREADS ?= 1

# Fuzzing: its own scratch path, since every module is rebuilt with the sanitizers.
FUZZ_TARGETS ?= safetensors hdf5 testsets tokenizer manifest torch evals
FUZZ_SECONDS ?= 60
FUZZ_WORKERS ?= 1
FUZZ_BUILD := .build-fuzz-asan
FUZZ_FLAGS := -c release --scratch-path $(FUZZ_BUILD) -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library

.PHONY: all setup build demo test bench clean fuzz fuzz-build fuzz-smoke bundle

all: build

# Installs only what is missing (needs root or sudo on a fresh Debian machine). Without Recommends: with them
# chromium also pulls in avahi, perl and printing. On a minimal Debian 12 (debootstrap minbase plus Swift's
# prerequisites) this still installs 226 packages, systemd and dbus among them (chromium → libgtk-3-0 → dconf).
setup:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: setup
	$(SWIFT) build $(SWIFT_FLAGS) --product gpt2lab

demo: build
	@./scripts/demo.sh $(BIN)

test: setup
	@./scripts/check-imports.sh
	$(SWIFT) test $(SWIFT_FLAGS) -Xswiftc -enable-testing

# The relocatable tarball (scripts/bundle.sh: 2–4 min here, mostly xz), then its check: ldd resolves inside
# it, and it runs in a chroot holding only glibc, as the build's binary does (scripts/check-bundle.sh).
bundle: build
	@./scripts/bundle.sh $(BIN)
	@./scripts/check-bundle.sh dist/gpt2lab-linux-x86_64.tar.xz $(BIN)

bench: build
	@./bench/run.sh

fuzz-build: setup
	GPT2LAB_FUZZ=1 $(SWIFT) build $(FUZZ_FLAGS) --product gpt2lab-fuzz

fuzz: fuzz-build
	@FUZZ_WORKERS=$(FUZZ_WORKERS) ./fuzz/run.sh $(FUZZ_BUILD)/release $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: setup
	$(SWIFT) test $(SWIFT_FLAGS) -Xswiftc -enable-testing --filter FuzzTests

clean:
	rm -rf .build $(FUZZ_BUILD) dist
