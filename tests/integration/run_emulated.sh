#!/usr/bin/env bash
# run_emulated.sh EMULATOR GATEWAY TEST [ARGS...]: run an integration test with a gateway
# image of another architecture, through a user-mode emulator (qemu-aarch64-static): the
# test gets a one-line wrapper in place of the binary, so every way it starts the gateway
# (--batch, a console on a pipe) runs the foreign image. Exit 77 (skipped) when the image
# was not built.
set -euo pipefail
emu=$1 gw=$2 test=$3
shift 3
if [ ! -x "$gw" ]; then
    echo "$(basename "$test" .sh): SKIP: no $gw (build it: make aarch64)"
    exit 77
fi
command -v "$emu" > /dev/null || { echo "run_emulated: $emu not installed" >&2; exit 1; }
dir=$(mktemp -d /tmp/gw-emulated.XXXXXX)
trap 'rm -rf "$dir"' EXIT
printf '#!/bin/sh\nexec %q %q "$@"\n' "$(command -v "$emu")" "$gw" > "$dir/gateway"
chmod +x "$dir/gateway"
bash "$test" "$dir/gateway" "$@"
