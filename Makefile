# Parley: `make demo` and `make test` do all the set-up on a fresh Debian 12 machine (as root).
#   make deps   install the Debian packages Parley needs (only those missing)
#   make build  build everything, tests included, once (debug)
#   make test   build, then every test (and a short smoke run of the demo)
#   make demo   build, then the live demo
#   make bench  build optimised, then the benchmark tables (Benchmarks/)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# The Swift toolchain: on these machines in /opt/swift, on PATH only for login shells.
export PATH := $(PATH):/opt/swift/usr/bin

# Exactly what Parley needs from Debian: pkg-config and the six C libraries' development packages
# (libsonic: the speech time-stretch the audio jitter buffer uses); python3 (the Python client and its
# example, run against live daemons; a test connects to the control socket as another user); for the
# device tests a PulseAudio daemon and its tools, and qemu + busybox-static + kmod to boot Debian's own
# kernel with the vivid camera driver in a small VM (Scripts/vivid-vm; the kernel package is downloaded
# into a cache, never installed).
DEBIAN_PACKAGES := pkg-config libopus-dev libvpx-dev libsrtp2-dev libpulse-dev libv4l-dev libsonic-dev python3 pulseaudio pulseaudio-utils qemu-system-x86 busybox-static kmod

SWIFT_BUILD_FLAGS ?=
# Suites that run on real time. Swift Testing runs tests on a pool as wide as the machine has cores, so
# in one process with the long CPU-bound virtual-time suites they could wait tens of seconds for a thread
# and miss their peers' timeouts; in their own process they cannot.
REAL_TIME_TESTS := ParleyRuntimeTests|ParleyControlTests|ParleyEngineTests
# Suites that need real devices: run with a PulseAudio daemon the set-up starts (PULSE_TESTS: the
# parleyd call that captures from it), and (VM_TESTS) on the vivid camera inside a VM.
DEVICE_TESTS := ParleyDevicesTests
PULSE_TESTS := PulseCallTests
VM_TESTS := V4L2Vivid
DEMO_SECONDS ?= 20

.PHONY: deps build test demo bench bench-nio clean

deps:
	@missing=""; \
	for package in $(DEBIAN_PACKAGES); do \
	  dpkg -s "$$package" >/dev/null 2>&1 || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v swift >/dev/null || { echo "make deps: no Swift toolchain on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }

build: deps
	swift build --build-tests $(SWIFT_BUILD_FLAGS)

test: build
	@echo "== demo smoke run: two parleyd on loopback, a 4 s encrypted call; media must flow both ways =="
	"$$(swift build --show-bin-path)/parley" demo --seconds 4
	@echo "== real-time tests (real sockets, threads and clocks, parleyd processes), in a process of their own =="
	swift test --skip-build --filter '$(REAL_TIME_TESTS)' --skip '$(PULSE_TESTS)|$(VM_TESTS)'
	@echo "== all other tests =="
	swift test --skip-build --skip '$(REAL_TIME_TESTS)|$(DEVICE_TESTS)'
	@echo "== device tests: PulseAudio on a daemon started here (Scripts/pulse-test-env), files, V4L2 mode choice =="
	Scripts/pulse-test-env run -- swift test --skip-build --filter '$(DEVICE_TESTS)' --skip '$(VM_TESTS)'
	@echo "== a parleyd call capturing from PulseAudio (alone: the device tests share the daemon's one null sink) =="
	Scripts/pulse-test-env run -- swift test --skip-build --filter '$(PULSE_TESTS)'
	@echo "== V4L2 tests on the kernel's vivid driver, inside a small qemu VM (Scripts/vivid-vm) =="
	Scripts/vivid-vm run -- "$$(swift build --show-bin-path)/ParleyPackageTests.xctest" --testing-library swift-testing --filter 'V4L2VividTests'
	@echo "== a parleyd call whose camera is vivid, in the VM (two emulated CPUs: two engines share them) =="
	PARLEY_VIVID_CPUS=2 Scripts/vivid-vm run -- "$$(swift build --show-bin-path)/ParleyPackageTests.xctest" --testing-library swift-testing --filter 'V4L2VividCallTests'

demo: build
	"$$(swift build --show-bin-path)/parley" demo --seconds $(DEMO_SECONDS)

bench: deps
	swift build -c release $(SWIFT_BUILD_FLAGS)
	"$$(swift build -c release --show-bin-path)/parley-codec-bench"
	@echo
	"$$(swift build -c release --show-bin-path)/parley-wire-bench"
	@echo
	"$$(swift build -c release --show-bin-path)/parley-security-bench"
	@echo
	"$$(swift build -c release --show-bin-path)/parley-transport-bench"
	@echo
	"$$(swift build -c release --show-bin-path)/parley-control-bench"
	@echo
	"$$(swift build -c release --show-bin-path)/parley-session-bench"
	@echo
	"$$(swift build -c release --show-bin-path)/parley-call-bench"

# swift-nio against the hand-written UDP loop, in a package of its own so CI never builds swift-nio
# (Benchmarks/NIOComparison/README.md holds the results and the decision they support).
bench-nio: deps
	swift build -c release --package-path Benchmarks/NIOComparison --scratch-path .build-nio
	"$$(swift build -c release --package-path Benchmarks/NIOComparison --scratch-path .build-nio --show-bin-path)/parley-nio-comparison"

clean:
	rm -rf .build .build-nio
