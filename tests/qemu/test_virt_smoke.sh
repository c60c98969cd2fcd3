#!/usr/bin/env bash
# Boot tests of the bare-metal board (issue 20), each a QEMU virt machine under TCG with no
# network device at all: the smoke image (virt_smoke.c: musl's stdio, malloc, clocks,
# sleep and getrandom through the syscall shim) on both virtio-mmio transports and with
# RNDR; a stack overflow stopped by the guard page; an unserved system call named; a long
# paste into a console nobody reads for a while; and the firmware image refusing to start
# without entropy, in too little RAM or on a GICv3, and going through a console reboot
# (PSCI reset) and Ctrl-D (PSCI off). Every QEMU run is bounded by timeout.
#
#   test_virt_smoke.sh VIRT_BUILD_DIR     (build/aarch64-virt: virt_smoke.elf, gateway.elf)
set -euo pipefail
DIR=${1:?usage: test_virt_smoke.sh VIRT_BUILD_DIR}
T_NAME=test_virt_smoke
fail() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/gw-virt-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for f in virt_smoke.elf gateway.elf; do
    [ -f "$DIR/$f" ] || fail "no $DIR/$f (make virt)"
done

# boot NAME INPUT IMAGE QEMU_ARGS...: run QEMU with INPUT (a shell snippet writing to the
# serial line) on stdin; the output lands in $tmp/NAME.out, the exit status in $tmp/NAME.rc.
boot() {
    local name=$1 input=$2 image=$3
    shift 3
    local q=(timeout 60 qemu-system-aarch64 -M virt -accel tcg -smp 1 -nodefaults
             -display none -monitor none -serial stdio -kernel "$DIR/$image" "$@")
    set +e
    if [ -z "$input" ]; then
        "${q[@]}" < /dev/null > "$tmp/$name.out" 2> "$tmp/$name.err"
    else
        (eval "$input") | "${q[@]}" > "$tmp/$name.out" 2> "$tmp/$name.err"
    fi
    echo "${PIPESTATUS[-1]}" > "$tmp/$name.rc"
    set -e
}
# expect NAME REGEX...: each must be in the output
expect() {
    local name=$1 re
    shift
    for re in "$@"; do
        grep -aqE "$re" "$tmp/$name.out" ||
            { sed 's/^/  | /' "$tmp/$name.out" "$tmp/$name.err" >&2; fail "$name: no '$re'"; }
    done
}
exited() { # NAME STATUS: QEMU's exit status (0: the machine powered itself off)
    [ "$(cat "$tmp/$1.rc")" = "$2" ] ||
        { sed 's/^/  | /' "$tmp/$1.out" "$tmp/$1.err" >&2; fail "$1: QEMU exited $(cat "$tmp/$1.rc"), not $2"; }
}
nothing=''   # no input: the image runs to its end by itself
a53=(-cpu cortex-a53 -m 16M)

boot legacy "$nothing" virt_smoke.elf "${a53[@]}" -device virtio-rng-device -append "one two"
expect legacy 'hello from musl at EL1, argv\[0\] gateway, 2 arguments' '  argv\[2\] two' \
    'getrandom: 32 bytes' 'smoke: all ok' 'board: gateway stopped; power off'
exited legacy 0
echo "$T_NAME: smoke image on the legacy transport: stdio, malloc, clocks, sleep, virtio-rng"

boot modern "$nothing" virt_smoke.elf "${a53[@]}" -global virtio-mmio.force-legacy=false \
    -device virtio-rng-device
expect modern 'getrandom: 32 bytes' 'smoke: all ok'
exited modern 0
echo "$T_NAME: smoke image on virtio-mmio version 2"

boot rndr "$nothing" virt_smoke.elf -cpu max -m 16M
expect rndr 'getrandom: 32 bytes' 'smoke: all ok'
echo "$T_NAME: entropy from RNDR without a virtio-rng device (-cpu max)"

boot norng "$nothing" virt_smoke.elf "${a53[@]}"
expect norng 'getrandom: no entropy source \(ENOSYS\)' 'smoke: all ok'
echo "$T_NAME: no entropy source: getrandom fails (ENOSYS), never weak bytes"

boot overflow "$nothing" virt_smoke.elf "${a53[@]}" -append overflow
expect overflow 'panic: stack overflow \(the main stack ran into its guard page\)' \
    'during start-up: power off instead of a reset loop'
exited overflow 0
echo "$T_NAME: a stack overflow faults on the guard page and is reported"

boot unserved "$nothing" virt_smoke.elf "${a53[@]}" -append unserved
expect unserved 'board: system call 999 is not served on this board' \
    'smoke: system call 999: -1 \(Function not implemented\)'
echo "$T_NAME: an unserved system call is named and answered ENOSYS"

# 12,000 bytes sent at once while the image does not read: the 4 KiB ring fills, the FIFO
# holds the rest back, nothing is lost when reading resumes.
n=12000
want=$(python3 -c "
s = 0
for i in range($n):
    s = (s * 31 + (33 + i % 90)) % (1 << 64)
print(s)")
boot console "python3 -c \"import sys, time; time.sleep(1); sys.stdout.write(''.join(chr(33 + i % 90) for i in range($n))); sys.stdout.flush(); time.sleep(8)\"" \
    virt_smoke.elf "${a53[@]}" -append "console $n"
expect console "smoke: read $n bytes, sum $want"
echo "$T_NAME: a console paste of $n bytes while the image is busy arrives whole (flow control)"

boot gw_norng "$nothing" gateway.elf "${a53[@]}"
expect gw_norng 'no entropy source \(no virtio-rng device, no RNDR\): refusing to start' \
    'power off instead of a reset loop'
exited gw_norng 0
echo "$T_NAME: the firmware refuses to start without entropy and powers off"

boot gw_gicv3 "$nothing" gateway.elf -M virt,gic-version=3 -cpu cortex-a53 -m 16M
expect gw_gicv3 'board: cannot start: device tree: no GICv2'
exited gw_gicv3 0
echo "$T_NAME: a machine the board cannot run on is named on the console (GICv3)"

boot gw_small "$nothing" gateway.elf -cpu cortex-a53 -m 8M -device virtio-rng-device
expect gw_small '8 MiB of RAM do not hold the image, its stack and a heap'
exited gw_small 0
echo "$T_NAME: too little RAM is named (and the machine powered off)"

# The firmware without a NIC (and a flash bank QEMU keeps in memory): console reboot (PSCI
# reset), then Ctrl-D.
boot gw_reboot "sleep 3; printf 'reboot\r'; sleep 4; printf '\004'; sleep 3" gateway.elf \
    "${a53[@]}" -device virtio-rng-device
expect gw_reboot 'flash: CFI bank at' 'console: reboot' 'board: peak RAM use' \
    'board: gateway stopped; power off'
[ "$(grep -ac 'gateway .* on virt-aarch64 (lwIP' "$tmp/gw_reboot.out")" = 2 ] ||
    { sed 's/^/  | /' "$tmp/gw_reboot.out" >&2; fail "gw_reboot: the firmware did not start twice"; }
exited gw_reboot 0
echo "$T_NAME: console reboot restarts the image (PSCI reset), Ctrl-D powers off (PSCI off)"
echo "$T_NAME: ok"
