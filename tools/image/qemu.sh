#!/usr/bin/env bash
# Boot the gateway image under QEMU: the one place that knows the QEMU command line, used by
# make qemu (tools/image/run-qemu.sh) and by the QEMU system tests (tests/qemu/).
#
#   qemu.sh ARCH IMAGEDIR FLASH_IMAGE PASST_SOCKET
#
# IMAGEDIR holds vmlinuz and initramfs.cpio.gz (make image). FLASH_IMAGE is a raw file, the
# box's flash, attached as a virtio disk. The NIC is virtio-net on QEMU's stream netdev,
# connected to passt's UNIX socket: nothing else. Environment:
#   GW_QEMU_ACCEL   auto (KVM when /dev/kvm works and ARCH is this machine's, else TCG),
#                   kvm or tcg
#   GW_QEMU_SERIAL  mon (the serial line and QEMU's monitor on this terminal; Ctrl-A x quits,
#                   Ctrl-A c the monitor) or stdio (the serial line alone on stdin/stdout,
#                   for a program driving it)
#   GW_QEMU_MEM     guest RAM (default 256M)
# The kernel reboots on panic, and -no-reboot turns any reboot into QEMU exiting.
set -euo pipefail

ARCH=${1:?usage: qemu.sh ARCH IMAGEDIR FLASH_IMAGE PASST_SOCKET}
IMG=${2:?usage: qemu.sh ARCH IMAGEDIR FLASH_IMAGE PASST_SOCKET}
FLASH=${3:?usage: qemu.sh ARCH IMAGEDIR FLASH_IMAGE PASST_SOCKET}
SOCK=${4:?usage: qemu.sh ARCH IMAGEDIR FLASH_IMAGE PASST_SOCKET}
accel=${GW_QEMU_ACCEL:-auto}
serial=${GW_QEMU_SERIAL:-mon}
mem=${GW_QEMU_MEM:-256M}

die() { printf 'qemu.sh: error: %s\n' "$*" >&2; exit 1; }
for f in "$IMG/vmlinuz" "$IMG/initramfs.cpio.gz" "$FLASH"; do
    [ -f "$f" ] || die "no $f (make image GW_ARCH=$ARCH)"
done
[ -S "$SOCK" ] || die "no passt socket at $SOCK"

. "$(dirname "$0")/qemu-common.sh"
qemu_pick_accel "$ARCH"
qemu_pick_serial

case "$ARCH" in
x86_64)
    machine=(-M q35 -accel "$accel")
    [ "$accel" = kvm ] && machine+=(-cpu host)
    con=ttyS0
    nic_rom=(,romfile=) ;;   # no iPXE option ROM: the kernel is loaded directly
aarch64)
    # cortex-a57 under TCG: -cpu max emulates pointer authentication, which costs a lot.
    machine=(-M virt -accel "$accel" -cpu "$([ "$accel" = kvm ] && echo host || echo cortex-a57)")
    con=ttyAMA0
    nic_rom=() ;;
*) die "unknown ARCH '$ARCH' (x86_64 or aarch64)" ;;
esac

[ "$serial" = mon ] && echo "qemu: $ARCH under $accel" >&2
exec "qemu-system-$ARCH" "${machine[@]}" -smp 1 -m "$mem" -no-reboot -nodefaults "${io[@]}" \
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initramfs.cpio.gz" \
    -append "console=$con quiet panic=-1" \
    -drive "file=$FLASH,format=raw,if=none,id=flash0,cache=writeback" \
    -device virtio-blk-pci,drive=flash0 \
    -netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$SOCK" \
    -device "virtio-net-pci,netdev=n0${nic_rom[*]:-}"
