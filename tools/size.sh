#!/usr/bin/env bash
# make size: the stripped size of each static image and what each component costs in it.
set -euo pipefail
for arch in "$@"; do
    img=build/$arch/gateway
    strip=strip
    [ "$arch" = aarch64 ] && strip=aarch64-linux-gnu-strip
    tmp=$(mktemp)
    $strip -o "$tmp" "$img"
    bytes=$(stat -c %s "$tmp")
    rm -f "$tmp"
    python3 tools/size_report.py "$arch" "$bytes" "build/$arch/gateway.map"
done
