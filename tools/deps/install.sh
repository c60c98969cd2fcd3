#!/usr/bin/env bash
# make deps: install the Debian packages the build and the tests need, then fetch the pinned
# Debian source packages of lwIP and BearSSL with apt's own tools, check their upstream
# tarballs against the SHA-256 sums committed beside this script, and unpack them (with
# Debian's patches applied) under build/deps/. Idempotent: a second run does nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out="$top/build/deps"
sums="$here/sources.sha256"

# Source packages we compile ourselves, pinned to exact Debian versions.
sources=(lwip=2.1.3+dfsg1-2 bearssl=0.6+dfsg.1-3)

# Build: musl for x86_64 and aarch64, CMake, clang for the fuzzers.
# Tests: QEMU user mode, passt, iproute2 for namespaces, ping, python3 for the test harness.
packages=(
  build-essential cmake ninja-build musl-tools musl-dev musl-dev:arm64
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
  clang libclang-rt-14-dev dpkg-dev xz-utils file
  qemu-user-static passt iproute2 iputils-ping ethtool python3 procps
)

log() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

missing_packages() {
  local p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      printf '%s\n' "$p"
  done
}

# deb-src entries mirror the machine's own Debian deb entries: we never name a mirror here.
enable_deb_src() {
  local f dst=/etc/apt/sources.list.d/gateway-deb-src
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    case "$f" in "$dst".sources) continue ;; esac
    grep -q '^URIs:.*debian' "$f" || continue
    awk 'BEGIN{RS=""; ORS="\n\n"} /URIs:[^\n]*debian/ && /Types:[^\n]*deb/ {
           sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f"
  done > "$dst.sources.tmp"
  if [ -f /etc/apt/sources.list ]; then
    grep -E '^deb [^#]*debian' /etc/apt/sources.list | sed 's/^deb /deb-src /' > "$dst.list.tmp" || true
  fi
  [ -s "$dst.sources.tmp" ] && mv "$dst.sources.tmp" "$dst.sources" || rm -f "$dst.sources.tmp"
  [ -s "$dst.list.tmp" ] 2>/dev/null && mv "$dst.list.tmp" "$dst.list" || rm -f "$dst.list.tmp"
}

have_src() { apt-cache showsrc "${1%%=*}" 2>/dev/null | grep -q "^Version: ${1#*=}\$"; }

install_packages() {
  local need_update=0 miss
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    [ "$(id -u)" = 0 ] || die "arm64 must be added as a dpkg architecture (run as root)"
    dpkg --add-architecture arm64
    need_update=1
  fi
  local s
  for s in "${sources[@]}"; do have_src "$s" || need_update=2; done
  if [ "$need_update" = 2 ]; then
    [ "$(id -u)" = 0 ] || die "deb-src entries are missing (run make deps as root)"
    enable_deb_src
  fi
  miss=$(missing_packages)
  if [ "$need_update" != 0 ] || [ -n "$miss" ]; then
    [ "$(id -u)" = 0 ] || die "missing packages (run make deps as root): $miss"
    log "apt-get update"
    apt-get update -qq
  fi
  if [ -n "$miss" ]; then
    log "installing:" $miss
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss >/dev/null
  fi
  for s in "${sources[@]}"; do have_src "$s" || die "apt has no source package $s"; done
}

fetch_sources() {
  mkdir -p "$out/dl"
  local s name ver dir
  for s in "${sources[@]}"; do
    name=${s%%=*}; ver=${s#*=}
    dir="$out/$name"
    [ -f "$dir/.verified" ] && continue
    log "fetching source package $name $ver"
    (cd "$out/dl" && apt-get source --download-only -qq "$s" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    # The upstream tarballs and Debian's patches must match what we reviewed.
    (cd "$out/dl" && grep -E " ${name}_" "$sums" | sha256sum --strict --check --quiet) ||
      die "checksum mismatch for $name $ver (see $sums)"
    rm -rf "$dir" "$dir.tmp"
    dpkg-source --no-check -x "$out/dl/${name}_${ver#*:}.dsc" "$dir.tmp" >/dev/null
    mv "$dir.tmp" "$dir"
    touch "$dir/.verified"
  done
}

install_packages
fetch_sources
[ -n "${GW_DEPS_QUIET:-}" ] || log "ok"
