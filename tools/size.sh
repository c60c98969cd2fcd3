#!/usr/bin/env bash
# make size: the stripped size of each static image and what each component costs in it.
# aarch64-virt is the bare-metal image (build/aarch64-virt/gateway.elf, make virt).
set -euo pipefail
for arch in "$@"; do
    img=build/$arch/gateway
    map=build/$arch/gateway.map
    strip=strip
    case $arch in
    aarch64) strip=aarch64-linux-gnu-strip ;;
    aarch64-virt)
        strip=aarch64-linux-gnu-strip
        img=build/$arch/gateway.elf
        map=build/$arch/gateway.elf.map ;;
    esac
    tmp=$(mktemp)
    $strip -o "$tmp" "$img"
    bytes=$(stat -c %s "$tmp")
    rm -f "$tmp"
    python3 tools/size_report.py "$arch" "$bytes" "$map"
done
