#!/bin/bash
# `make install`: the host tools, the firmware images, man pages, the relay's systemd unit,
# an example relay configuration and the docs, under DESTDIR/PREFIX.
#
#   PREFIX      default /usr/local
#   DESTDIR     default empty (staging root for packages and tests)
#   SYSCONFDIR  default /etc (relay.conf is put there only when none exists)
#   BUILD       default build (reads BUILD/x86_64/{relay/relay,flashtool,gateway} and
#               BUILD/aarch64/gateway; an architecture not built is skipped with a note)
#
# Layout:
#   PREFIX/bin/relay, PREFIX/bin/flashtool                  host programs
#   PREFIX/lib/gateway/ARCH/gateway                          firmware images: architecture-
#       dependent files that are not the host's commands (FHS /usr/lib), one per
#       target, to copy into a box's image (tools/image) or onto its disk
#   PREFIX/sbin/gateway -> ../lib/gateway/x86_64/gateway     the image that runs here
#   PREFIX/share/man/man1/flashtool.1, man8/{gateway,relay}.8
#   PREFIX/lib/systemd/system/relay.service
#   PREFIX/share/doc/gateway/{README.md,*.md,relay.conf.example}, .../store/ (tools/store)
#   SYSCONFDIR/relay/relay.conf                              only if absent
set -euo pipefail

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
BUILD=${BUILD:-build}
ARCHES=${ARCHES:-x86_64 aarch64}
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"

die() { echo "install: $*" >&2; exit 1; }
case $PREFIX in /*) ;; *) die "PREFIX must be an absolute path (got '$PREFIX')" ;; esac
case $SYSCONFDIR in /*) ;; *) die "SYSCONFDIR must be an absolute path" ;; esac

root=$DESTDIR
bindir=$PREFIX/bin
host=$BUILD/x86_64
for f in "$host/relay/relay" "$host/flashtool"; do
    [ -x "$f" ] || die "$f is not built (make x86_64, or BUILD=...)"
done

step() { echo "  $*"; }
step "programs in $root$bindir"
install -d -m 0755 "$root$bindir" "$root$PREFIX/sbin"
install -m 0755 "$host/relay/relay" "$host/flashtool" "$root$bindir/"

for arch in $ARCHES; do
    img=$BUILD/$arch/gateway
    if [ ! -x "$img" ]; then
        echo "install: note: $img is not built: no $arch image installed" >&2
        continue
    fi
    step "firmware image $root$PREFIX/lib/gateway/$arch/gateway"
    install -d -m 0755 "$root$PREFIX/lib/gateway/$arch"
    install -m 0755 "$img" "$root$PREFIX/lib/gateway/$arch/gateway"
done
if [ -x "$root$PREFIX/lib/gateway/x86_64/gateway" ]; then
    ln -sfn ../lib/gateway/x86_64/gateway "$root$PREFIX/sbin/gateway"
fi

step "man pages in $root$PREFIX/share/man"
install -d -m 0755 "$root$PREFIX/share/man/man1" "$root$PREFIX/share/man/man8"
install -m 0644 docs/man/flashtool.1 "$root$PREFIX/share/man/man1/"
install -m 0644 docs/man/gateway.8 docs/man/relay.8 "$root$PREFIX/share/man/man8/"

step "systemd unit $root$PREFIX/lib/systemd/system/relay.service"
install -d -m 0755 "$root$PREFIX/lib/systemd/system"
sed -e "s#/usr/bin/relay#$bindir/relay#g" -e "s#/etc/relay/#$SYSCONFDIR/relay/#g" \
    tools/systemd/relay.service > "$root$PREFIX/lib/systemd/system/relay.service"
chmod 0644 "$root$PREFIX/lib/systemd/system/relay.service"

doc=$root$PREFIX/share/doc/gateway
step "docs in $doc"
install -d -m 0755 "$doc"
install -m 0644 README.md docs/*.md tools/systemd/relay.conf.example "$doc/"
# Dovecot as the relay's mail store (spool lmtp): docs/operator-guide.md section 15.
install -d -m 0755 "$doc/store"
install -m 0644 tools/store/90-relay-store.conf tools/store/relay-dedup.sieve "$doc/store/"

conf=$root$SYSCONFDIR/relay/relay.conf
install -d -m 0755 "$root$SYSCONFDIR/relay"
if [ -e "$conf" ]; then
    step "$conf exists: kept (the example is $doc/relay.conf.example)"
else
    step "example configuration $conf (add a location; relay --check says what is missing)"
    install -m 0644 tools/systemd/relay.conf.example "$conf"
fi
