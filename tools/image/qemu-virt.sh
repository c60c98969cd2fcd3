#!/usr/bin/env bash
# Boot the bare-metal gateway (board/virt, make virt) on QEMU's virt machine: the one place
# that knows its QEMU command line, used by make qemu-virt (tools/image/run-qemu.sh) and by
# the QEMU system test (tests/qemu/test_qemu_virt.sh).
#
#   qemu-virt.sh IMAGE FLASH_IMAGE PASST_SOCKET
#
# IMAGE is build/aarch64-virt/gateway.elf, loaded by -kernel and entered at EL1 with the
# device tree at the start of RAM. FLASH_IMAGE (exactly 64 MiB) is the second CFI pflash
# bank, the box's configuration flash. The NIC is virtio-net over virtio-mmio on QEMU's
# stream netdev, connected to passt's UNIX socket: nothing else; virtio-rng gives entropy.
# No -no-reboot: the console's reboot is a PSCI reset and must restart the image.
# Environment:
#   GW_QEMU_ACCEL   auto (KVM on an aarch64 host with /dev/kvm, else TCG), kvm or tcg
#   GW_QEMU_SERIAL  mon (serial line and QEMU monitor on this terminal; Ctrl-A x quits) or
#                   stdio (the serial line alone, for a program driving it)
#   GW_QEMU_MEM     guest RAM (default 16M: the whole job fits)
#   GW_QEMU_VIRTIO  legacy (QEMU 7.2's default transport) or modern (virtio-mmio version 2)
#   GW_QEMU_APPEND  the gateway's command line (--mac XX:XX:..., --clock unset)
set -euo pipefail

IMAGE=${1:?usage: qemu-virt.sh IMAGE FLASH_IMAGE PASST_SOCKET}
FLASH=${2:?usage: qemu-virt.sh IMAGE FLASH_IMAGE PASST_SOCKET}
SOCK=${3:?usage: qemu-virt.sh IMAGE FLASH_IMAGE PASST_SOCKET}
accel=${GW_QEMU_ACCEL:-auto}
serial=${GW_QEMU_SERIAL:-mon}
mem=${GW_QEMU_MEM:-16M}
transport=${GW_QEMU_VIRTIO:-legacy}
append=${GW_QEMU_APPEND:-}

die() { printf 'qemu-virt.sh: error: %s\n' "$*" >&2; exit 1; }
[ -f "$IMAGE" ] || die "no $IMAGE (make virt)"
[ -f "$FLASH" ] || die "no flash image $FLASH"
[ "$(stat -c %s "$FLASH")" = $((64 * 1024 * 1024)) ] ||
    die "$FLASH must be exactly 64 MiB (a pflash bank of QEMU's virt machine)"
[ -S "$SOCK" ] || die "no passt socket at $SOCK"

. "$(dirname "$0")/qemu-common.sh"
qemu_pick_accel aarch64
qemu_pick_serial
cpu=cortex-a53
[ "$accel" = kvm ] && cpu=host

case "$transport" in
legacy) mmio=() ;;
modern) mmio=(-global virtio-mmio.force-legacy=false) ;;
*) die "GW_QEMU_VIRTIO must be legacy or modern" ;;
esac

[ "$serial" = mon ] && echo "qemu: bare-metal aarch64 on virt under $accel, $mem RAM" >&2
exec qemu-system-aarch64 -M virt -accel "$accel" -cpu "$cpu" -smp 1 -m "$mem" -nodefaults \
    "${io[@]}" "${mmio[@]}" -kernel "$IMAGE" ${append:+-append "$append"} \
    -drive "if=pflash,unit=1,format=raw,file=$FLASH" \
    -device virtio-rng-device \
    -netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$SOCK" \
    -device virtio-net-device,netdev=n0
