#!/bin/bash
# `make install` as a packager runs it: tools/install.sh into a DESTDIR, twice (an existing
# relay.conf is kept), with PREFIX=/usr and another PREFIX; the installed man pages render
# without warnings and `man` finds them by name; the unit passes `systemd-analyze verify`;
# the example relay.conf, completed with a PKI, a location and a spool, passes `relay --check`.
#
#   test_docs_install.sh SRCDIR GATEWAY RELAY FLASHTOOL
set -euo pipefail
src=$1 gateway=$2 relay=$3 flashtool=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# tools/install.sh reads BUILD/x86_64/...: a build tree of links to this tree's binaries.
mkdir -p "$tmp/build/x86_64/relay"
ln -s "$gateway" "$tmp/build/x86_64/gateway"
ln -s "$relay" "$tmp/build/x86_64/relay/relay"
ln -s "$flashtool" "$tmp/build/x86_64/flashtool"

root=$tmp/root
DESTDIR=$root PREFIX=/usr BUILD=$tmp/build ARCHES=x86_64 bash "$src/tools/install.sh"

for f in usr/bin/relay usr/bin/flashtool usr/lib/gateway/x86_64/gateway; do
    [ -x "$root/$f" ] && [ ! -L "$root/$f" ] || fail "$f not installed as an executable file"
done
[ "$(readlink "$root/usr/sbin/gateway")" = ../lib/gateway/x86_64/gateway ] \
    || fail "usr/sbin/gateway is not the link to the x86_64 image"
for f in usr/share/man/man1/flashtool.1 usr/share/man/man8/gateway.8 \
         usr/share/man/man8/relay.8 usr/lib/systemd/system/relay.service \
         usr/share/doc/gateway/relay.conf.example usr/share/doc/gateway/README.md \
         usr/share/doc/gateway/protocol.md usr/share/doc/gateway/store/90-relay-store.conf \
         usr/share/doc/gateway/store/relay-dedup.sieve etc/relay/relay.conf; do
    [ -f "$root/$f" ] || fail "$f not installed"
    [ "$(stat -c %a "$root/$f")" = 644 ] || fail "$f: mode $(stat -c %a "$root/$f"), not 644"
done
"$root/usr/bin/relay" token loc1 | grep -q '^location loc1 token-sha256 [0-9a-f]\{64\}$' \
    || fail "the installed relay does not run"
"$root/usr/bin/flashtool" --help | grep -q 'flashtool create' || fail "flashtool does not run"

# The installed pages: clean rendering, and man finds them by name.
for p in man1/flashtool.1 man8/gateway.8 man8/relay.8; do
    w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$root/usr/share/man/$p" 2>&1 >/dev/null)
    [ -z "$w" ] || fail "man --warnings -l $p: $w"
done
MANPATH=$root/usr/share/man man -w relay | grep -q "$root/usr/share/man/man8/relay.8" \
    || fail "man -w relay does not find the installed page"
MANPATH=$root/usr/share/man MANWIDTH=80 man 8 relay 2>/dev/null | grep -q 'token-sha256' \
    || fail "man 8 relay does not show the page"

# The unit names the installed paths.
unit=$root/usr/lib/systemd/system/relay.service
grep -qx 'ExecStart=/usr/bin/relay --config /etc/relay/relay.conf' "$unit" \
    || fail "ExecStart of the installed unit"
grep -qx 'ExecStartPre=/usr/bin/relay --check --config /etc/relay/relay.conf' "$unit" \
    || fail "ExecStartPre of the installed unit"

# A second install keeps an edited relay.conf.
echo '# edited by the operator' >> "$root/etc/relay/relay.conf"
DESTDIR=$root PREFIX=/usr BUILD=$tmp/build ARCHES=x86_64 bash "$src/tools/install.sh" >/dev/null 2>&1
grep -q 'edited by the operator' "$root/etc/relay/relay.conf" || fail "relay.conf was overwritten"

# Another PREFIX: paths in the unit follow it; the config stays in SYSCONFDIR.
DESTDIR=$tmp/opt PREFIX=/opt/gw BUILD=$tmp/build ARCHES=x86_64 bash "$src/tools/install.sh" >/dev/null 2>&1
grep -qx 'ExecStart=/opt/gw/bin/relay --config /etc/relay/relay.conf' \
    "$tmp/opt/opt/gw/lib/systemd/system/relay.service" || fail "PREFIX=/opt/gw: unit paths"
[ -x "$tmp/opt/opt/gw/bin/relay" ] && [ -f "$tmp/opt/etc/relay/relay.conf" ] \
    || fail "PREFIX=/opt/gw: files"
# Captured first: under an outer make (make test) this make says "Leaving directory" after
# the line, and a grep -q that stopped reading would kill it with SIGPIPE.
dry=$(cd "$src" && make -n install DESTDIR=/x PREFIX=/y 2>&1) || fail "make -n install: $dry"
grep -q "PREFIX='/y' DESTDIR='/x'" <<< "$dry" \
    || fail "make -n install does not pass PREFIX and DESTDIR to tools/install.sh"

# systemd's own check of the unit, against the installed binary and man page.
if command -v systemd-analyze >/dev/null; then
    mkdir "$tmp/unit"
    sed "s#/usr/bin/relay#$root/usr/bin/relay#" "$unit" > "$tmp/unit/relay.service"
    ( cd "$tmp/unit" && MANPATH=$root/usr/share/man systemd-analyze verify ./relay.service ) \
        || fail "systemd-analyze verify relay.service"
    systemd-analyze security --offline=yes "$tmp/unit/relay.service" 2>&1 | tail -1
else
    echo "note: systemd-analyze not installed: unit not verified"
fi

# The example configuration is valid once completed the way its comments say.
sh "$src/tests/unit/make_pki.sh" "$tmp/pki" >/dev/null 2>&1
mkdir -p "$tmp/etc" "$tmp/spool"
cp "$tmp/pki/chain-ec.pem" "$tmp/etc/relay-chain.pem"
cp "$tmp/pki/root.pem" "$tmp/etc/gateway-ca.pem"
sed -e "s#^key .*#key $tmp/pki/leaf-ec.key#" -e "s#^spool .*#spool $tmp/spool#" \
    "$root/usr/share/doc/gateway/relay.conf.example" > "$tmp/etc/relay.conf"
out=$("$relay" --check --config "$tmp/etc/relay.conf" 2>&1 || true)
case $out in *"no 'location' directive"*) ;; *) fail "example without a location: $out" ;; esac
"$relay" token loc1 | grep '^location ' >> "$tmp/etc/relay.conf"
out=$("$relay" --check --config "$tmp/etc/relay.conf" 2>&1) || fail "relay --check: $out"
[ "$out" = "configuration OK" ] || fail "relay --check said: $out"

echo "ok: make install layout, man pages, unit and example configuration"
