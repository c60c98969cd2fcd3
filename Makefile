# The front door. `make` builds both images, `make test` runs every suite that fits CI,
# `make deps` installs and fetches what they need (also run by the others when missing).
ARCHES      := x86_64 aarch64
BUILD       := build
DEPS_STAMP  := $(BUILD)/deps/lwip/.verified $(BUILD)/deps/bearssl/.verified
CMAKE_GEN   := -G Ninja
JOBS        ?= $(shell nproc)

.PHONY: all deps test test-unit test-asan test-aarch64 test-fuzz test-integration test-long \
        run size clean $(ARCHES) asan fuzz

all: $(ARCHES)

# Cheap when everything is there (a few dpkg queries), so every build runs it.
deps:
	@bash tools/deps/install.sh

$(DEPS_STAMP): deps

# One CMake tree per architecture; "host" is the glibc build for ASan/UBSan, "fuzz" clang's.
$(BUILD)/%/build.ninja: $(DEPS_STAMP)
	cmake -S . -B $(BUILD)/$* $(CMAKE_GEN) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/toolchain.cmake \
	  -DGW_ARCH=$* -DCMAKE_BUILD_TYPE=Release >/dev/null

$(ARCHES): %: deps $(BUILD)/%/build.ninja
	ninja -C $(BUILD)/$* -j $(JOBS)

$(BUILD)/asan/build.ninja: $(DEPS_STAMP)
	cmake -S . -B $(BUILD)/asan $(CMAKE_GEN) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/toolchain.cmake \
	  -DGW_ARCH=host -DGW_SANITIZE=ON >/dev/null
asan: deps $(BUILD)/asan/build.ninja
	ninja -C $(BUILD)/asan -j $(JOBS)

$(BUILD)/fuzz/build.ninja: $(DEPS_STAMP)
	cmake -S . -B $(BUILD)/fuzz $(CMAKE_GEN) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/toolchain.cmake \
	  -DGW_ARCH=host -DGW_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
fuzz: deps $(BUILD)/fuzz/build.ninja
	ninja -C $(BUILD)/fuzz -j $(JOBS)

CTEST := ctest --output-on-failure --timeout 600 -j $(JOBS)

test-unit: x86_64
	cd $(BUILD)/x86_64 && $(CTEST) -L unit
test-asan: asan
	cd $(BUILD)/asan && $(CTEST) -L unit
test-aarch64: aarch64
	cd $(BUILD)/aarch64 && $(CTEST) -L unit
test-fuzz: fuzz
	cd $(BUILD)/fuzz && $(CTEST) -L fuzz
# Integration tests need root (network namespaces, TAP); they run one at a time.
test-integration: x86_64
	cd $(BUILD)/x86_64 && ctest --output-on-failure --timeout 900 -L integration

# Everything that fits CI's time, in the order that fails fastest.
test: test-unit test-asan test-aarch64 test-fuzz test-integration
	@echo "make test: all suites passed"

# Longer suites (the full exhaustive power-cut workload, long fuzz runs) for nightly use.
test-long: x86_64
	cd $(BUILD)/x86_64 && GW_TEST_LONG=1 $(CTEST) -L 'unit|long'

# The product's main job on built-in defaults: Dovecot with market mails, the relay and the
# gateway (root: in a network namespace of their own, on TAP; otherwise unprivileged on
# loopback, the gateway through passt; tools/run-local.sh says what it set up), the mails
# travel into the relay's spool, curl reaches Dovecot through SOCKS5 and the tunnel; then
# the gateway's console on this terminal. Ctrl-D on an empty line stops everything.
# STORE=dovecot: the relay hands the mails to a mail store (Dovecot over LMTP) that the
# cloud side reads over IMAPS, instead of its Maildir spool.
STORE ?=
run: x86_64
	STORE=$(STORE) bash tools/run-local.sh $(BUILD)/x86_64/gateway $(BUILD)/x86_64/relay/relay

size: all virt
	bash tools/size.sh $(ARCHES) aarch64-virt

clean:
	rm -rf $(BUILD)/x86_64 $(BUILD)/aarch64 $(BUILD)/asan $(BUILD)/fuzz $(BUILD)/aarch64-virt

# The bare-metal box (issue 20): the same firmware, musl and toolchain as the aarch64 image,
# on board/virt (QEMU -M virt, no operating system) instead of Linux. Builds
# build/aarch64-virt/gateway.elf and the boot smoke test image.
VIRT := $(BUILD)/aarch64-virt
.PHONY: virt
$(VIRT)/build.ninja: $(DEPS_STAMP)
	cmake -S . -B $(VIRT) $(CMAKE_GEN) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/toolchain.cmake \
	  -DGW_ARCH=aarch64 -DGW_BOARD=virt -DCMAKE_BUILD_TYPE=Release >/dev/null
virt: deps $(VIRT)/build.ninja
	ninja -C $(VIRT) -j $(JOBS) gateway.elf virt_smoke.elf

# Boot it with the console on this terminal, the NIC on passt in a private network
# namespace (as make qemu), the configuration flash kept in build/aarch64-virt/flash.img.
.PHONY: qemu-virt
qemu-virt: virt x86_64
	bash tools/image/run-qemu.sh aarch64-virt $(VIRT) $(BUILD)/x86_64/flashtool

# QEMU system images (issue 8): Debian's kernel, busybox and the static gateway in an
# initramfs; `make qemu` boots it with the console on this terminal, the NIC on passt in a
# private network namespace. GW_ARCH=x86_64 (default) or aarch64.
GW_ARCH ?= x86_64
.PHONY: image qemu test-qemu
image: $(GW_ARCH)
	bash tools/image/mkimage.sh $(GW_ARCH) $(BUILD)/$(GW_ARCH)/gateway $(BUILD)/image-$(GW_ARCH)
qemu: image x86_64
	bash tools/image/run-qemu.sh $(GW_ARCH) $(BUILD)/image-$(GW_ARCH) $(BUILD)/x86_64/flashtool

# The QEMU system tests, both architectures under TCG, and the bare-metal image (needs root,
# like test-integration). `make test` runs them last.
test-qemu: x86_64 aarch64 virt
	cd $(BUILD)/x86_64 && ctest --output-on-failure --timeout 600 -L qemu
test: test-qemu

# Installation (issue 10): relay, flashtool, the gateway images as firmware files
# (PREFIX/lib/gateway/ARCH/gateway), man pages, the relay's systemd unit, docs, and an
# example /etc/relay/relay.conf when there is none. PREFIX (default /usr/local), DESTDIR.
PREFIX ?= /usr/local
.PHONY: install
install: all
	PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' BUILD='$(BUILD)' bash tools/install.sh

# Benchmarks against the real alternatives, side by side in one run (issue 9; needs root:
# one network namespace for everything). Writes bench/results.md; not part of `make test`.
# Both images are built for the per-architecture size; the bench tools are in the x86_64 tree.
.PHONY: bench bench-scale
bench: all
	bash bench/run.sh $(BUILD)/x86_64

# The relay at scale alone (issue 18; section 7 of make bench): 10,000 simulated gateways on
# one relay (RSS per idle tunnel), a reconnect storm after SIGKILL, handshakes per core beside
# openssl s_server, 100 tunnels moving data. Rewrites only that section of bench/results.md.
bench-scale: x86_64
	BENCH_ONLY=scale BENCH_SCALE_INTO=1 bash bench/run.sh $(BUILD)/x86_64
