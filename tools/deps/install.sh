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
# Tests: QEMU user mode, passt, iproute2 for namespaces, ping, python3 for the test harness;
# Dovecot, curl, socat and chronyd as real peers (Dovecot's LMTP and Sieve for the relay's
# `spool lmtp` store, isync's mbsync as a cloud consumer of it); Postfix as the plant's MTA
# behind a tcp mapping (test_relay_sapmail runs a private instance of it; the package's own
# service is never configured or started by the tests); man-db to render the man pages, systemd for
# systemd-analyze (the relay unit is verified, never started); strace injects fsync failures
# (test_relay_spool_full).
# Benchmarks: iperf3 (under proxychains4 to speak SOCKS5; test_gateway_tunnel also runs it for
# the streams' fair shares) and the alternatives we compare with (ssh -R, stunnel, mbsync,
# fetchmail).
# chronyd is unpacked, not installed (fetch_chrony below): the chrony package conflicts with
# every other time daemon (systemd-timesyncd, on many machines), and installing it would
# start a service that steers the machine's clock. The libraries above are its own.
packages=(
  build-essential cmake ninja-build musl-tools musl-dev musl-dev:arm64
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
  clang libclang-rt-14-dev dpkg-dev xz-utils file
  qemu-user-static passt iproute2 iputils-ping ethtool python3 procps openssl
  dovecot-imapd dovecot-lmtpd dovecot-sieve curl socat man-db groff-base systemd strace
  libcap2 libedit2 libgnutls30 libnettle8 libseccomp2
  postfix
  iperf3 proxychains4 stunnel4 openssh-server openssh-client isync fetchmail
)

log() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: make deps never removes a package: apt's plan is read first, and a Remv
# line stops it (Postfix, for one, conflicts with any other MTA a machine may already run).
apt_install() {
  local plan removed
  plan=$(apt-get install -s --no-install-recommends "$@") || return 1
  removed=$(sed -n 's/^Remv \([^ ]*\).*/\1/p' <<< "$plan")
  [ -z "$removed" ] || die "installing $* would remove $(echo $removed): make deps removes" \
    "nothing; remove or replace them yourself, then run it again"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

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
    apt_install $miss
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

# --- QEMU system images (issue 8): QEMU, cpio, and Debian's kernels and busybox-static for
# x86_64 and arm64, downloaded with apt (which checks each .deb against the Release-signed
# index; we compare the SHA-256 with apt's record once more) and unpacked with dpkg-deb -x,
# never installed. Not pinned: Debian's archive keeps only the newest kernel build of a
# release, so a pin would break fresh machines within weeks. The version in use is recorded
# in build/deps/{kernel,busybox}-ARCH/.version; remove the folder to fetch the current one.
qemu_packages=(qemu-system-x86 qemu-system-arm cpio)
qemu_images=(kernel:x86_64:amd64 kernel:aarch64:arm64 busybox:x86_64:amd64 busybox:aarch64:arm64)

# deb_of KIND DEBARCH: the versioned binary package (kernel, busybox, or a package's own
# name), as NAME:ARCH=VERSION.
deb_of() {
  local name ver
  if [ "$1" = kernel ]; then
    # linux-image-amd64 (metapackage) depends on exactly one linux-image-6.x.y-N-amd64.
    name=$(apt-cache show --no-all-versions "linux-image-$2:$2" 2>/dev/null |
             sed -n "s/^Depends:.*\(linux-image-[0-9][^ ,]*-$2\) (= \([^)]*\)).*/\1/p" | head -n 1)
  elif [ "$1" = busybox ]; then
    name=busybox-static
  else
    name=$1
  fi
  [ -n "$name" ] || return 1
  ver=$(apt-cache show --no-all-versions "$name:$2" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
  [ -n "$ver" ] || return 1
  printf '%s:%s=%s\n' "$name" "$2" "$ver"
}

# fetch_deb DIR NAME:ARCH=VERSION: download one binary package with apt (which checks it
# against the Release-signed index), compare its SHA-256 with apt's record once more, unpack
# it into DIR with dpkg-deb -x (never installed) and record what it is in DIR/.version.
# A stale index names a build the archive has dropped: the caller refreshes and asks again.
fetch_deb() {
  local dir=$1 want=$2 deb sha
  mkdir -p "$out/dl"
  chmod 755 "$out/dl"
  rm -f "$out/dl/"*.deb
  (cd "$out/dl" && apt-get download -qq "$want" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  deb=$(ls "$out/dl/"*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || return 1
  sha=$(apt-cache show --no-all-versions "$want" | sed -n 's/^SHA256: //p' | head -n 1)
  [ -n "$sha" ] && echo "$sha  $deb" | sha256sum --strict --check --quiet ||
    die "$deb does not match apt's SHA-256 for $want"
  # (set -e does not reach into a function called with && or ||: each step says so itself)
  rm -rf "$dir" "$dir.tmp"
  dpkg-deb -x "$deb" "$dir.tmp" || die "cannot unpack $deb"
  printf 'package %s\nsha256 %s\n' "$want" "$sha" > "$dir.tmp/.version" &&
    mv "$dir.tmp" "$dir" || die "cannot write $dir"
  rm -f "$deb"
}

# fetch_deb_fresh DIR RESOLVER ARGS...: fetch_deb of what RESOLVER ARGS names, with one
# apt-get update and a second resolution if the first download fails.
fetch_deb_fresh() {
  local dir=$1 want; shift
  want=$("$@") || die "apt knows no package for: $*"
  log "fetching $want (unpacked, not installed)"
  fetch_deb "$dir" "$want" && return 0
  apt-get update -qq
  want=$("$@") || die "apt knows no package for: $*"
  fetch_deb "$dir" "$want" || die "cannot download $want"
}

fetch_qemu_images() {
  local p miss=() img kind arch debarch
  for p in "${qemu_packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || miss+=("$p")
  done
  local todo=()
  for img in "${qemu_images[@]}"; do
    IFS=: read -r kind arch debarch <<< "$img"
    [ -f "$out/$kind-$arch/.version" ] || todo+=("$img")
  done
  [ ${#miss[@]} = 0 ] && [ ${#todo[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "QEMU images: run make deps as root (missing: ${miss[*]} ${todo[*]})"
  if [ ${#miss[@]} != 0 ]; then
    log "installing:" "${miss[@]}"
    apt_install "${miss[@]}" 2>/dev/null || { apt-get update -qq && apt_install "${miss[@]}"; } ||
      die "cannot install ${miss[*]}"
  fi
  for img in "${todo[@]}"; do
    IFS=: read -r kind arch debarch <<< "$img"
    fetch_deb_fresh "$out/$kind-$arch" deb_of "$kind" "$debarch"
  done
}

# chronyd for test_tls_time (the NTP server the gateway's SNTP asks), unpacked under
# build/deps/chrony for this machine's architecture.
fetch_chrony() {
  [ -f "$out/chrony/.version" ] && return 0
  [ "$(id -u)" = 0 ] || die "chronyd: run make deps as root"
  fetch_deb_fresh "$out/chrony" deb_of chrony "$(dpkg --print-architecture)"
}

# The Node.js peers of the tests, each from its committed lock file (exact versions): the
# yamux peer of the interop test (tests/interop) and the SAP Cloud SDK mail client
# (tests/sapmail). npm ci runs again only when a lock file changes (it leaves
# node_modules/.package-lock.json newer than it).
install_interop() {
  local name dir stamp
  for name in interop sapmail; do
    dir="$top/tests/$name"
    stamp="$dir/node_modules/.package-lock.json"
    [ -f "$dir/package-lock.json" ] || continue
    if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]; then
      continue
    fi
    command -v npm > /dev/null || die "npm is missing: Node.js 20 and npm run tests/$name"
    log "npm ci in tests/$name"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error > /dev/null) ||
      die "npm ci in tests/$name failed"
  done
}

install_packages
fetch_sources
install_interop
fetch_qemu_images
fetch_chrony
[ -n "${GW_DEPS_QUIET:-}" ] || log "ok"
