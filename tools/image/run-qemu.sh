#!/usr/bin/env bash
# make qemu: boot the gateway image under QEMU with its serial console on this terminal,
# contained the way the tests are. As root it enters a network namespace of its own, where a
# veth carries the default route passt wants; passt runs there (-4 -D none) and is QEMU's
# only network. The guest reaches the namespace's loopback through passt's gateway address,
# and passt forwards the namespace's port 10007 to the gateway's echo service (port 7).
# Nothing can leave the machine; the namespace and passt disappear when QEMU exits.
#
#   run-qemu.sh ARCH IMAGEDIR [FLASHTOOL]
#
# The flash disk IMAGEDIR/flash.img is kept between runs (delete it for a factory-fresh box);
# a new one is a formatted empty store made by flashtool, or an erased chip without it.
# ARCH aarch64-virt is the bare-metal image (make qemu-virt): IMAGEDIR holds gateway.elf,
# and its flash is the 64 MiB pflash bank (256 KiB erase blocks), booted by qemu-virt.sh.
set -euo pipefail
ARCH=${1:?usage: run-qemu.sh ARCH IMAGEDIR [FLASHTOOL]}
IMG=$(readlink -f "${2:?usage: run-qemu.sh ARCH IMAGEDIR [FLASHTOOL]}")
FLASHTOOL=${3:-}
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "make qemu: needs root for the network namespace that contains passt (try: sudo make qemu)" >&2
    exit 1
fi
if [ -z "${GW_QEMU_IN_NETNS:-}" ]; then
    exec env GW_QEMU_IN_NETNS=1 unshare --net -- bash "$0" "$@"
fi

flash=$IMG/flash.img
flash_kib=256
geometry=()
boot=(bash "$here/qemu.sh" "$ARCH" "$IMG" "$flash")
if [ "$ARCH" = aarch64-virt ]; then
    flash_kib=$((64 * 1024))
    geometry=(--size 64M --block 256K)
    boot=(bash "$here/qemu-virt.sh" "$IMG/gateway.elf" "$flash")
fi
if [ ! -f "$flash" ]; then
    if [ -n "$FLASHTOOL" ] && [ -x "$FLASHTOOL" ]; then
        "$FLASHTOOL" create "$flash" "${geometry[@]}" > /dev/null
    else
        head -c $((flash_kib * 1024)) /dev/zero | tr '\0' '\377' > "$flash"
    fi
fi

ip link set lo up
ip link add gwv0 type veth peer name gwv1
ip addr add 192.0.2.1/24 dev gwv0
ip link set gwv0 up
ip link set gwv1 up
ip route add default via 192.0.2.254 dev gwv0

run=$(mktemp -d /tmp/gw-qemu.XXXXXX)
passt_pid=
cleanup() {
    [ -n "$passt_pid" ] && kill "$passt_pid" 2> /dev/null && wait "$passt_pid" 2> /dev/null
    rm -rf "$run"
}
trap cleanup EXIT
sock=$run/passt.sock
passt -4 -D none -f -e --runas 0 -m 1500 -s "$sock" -t 10007:7 > "$run/passt.log" 2>&1 &
passt_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { cat "$run/passt.log"; echo "make qemu: passt did not start" >&2; exit 1; }

cat <<TXT
make qemu: the gateway image for $ARCH in a private network namespace
  console   this terminal: help, show status, show log; Ctrl-D at an empty prompt powers off,
            Ctrl-A x pulls the plug (QEMU quits), Ctrl-A c the QEMU monitor
  network   passt inside the namespace: the gateway gets 192.0.2.1 by DHCP; it reaches
            services on the namespace's loopback (127.0.0.1) at 192.0.2.254
  from another terminal, inside the namespace:
            nsenter --net=/proc/$$/ns/net python3 $(cd "$here/../.." && pwd)/tests/integration/echo_check.py 127.0.0.1 10007 1000000 60 32768
            (the namespace's port 10007 is the gateway's echo service, port 7)
  flash     $flash (kept between runs)

TXT
GW_QEMU_SERIAL=mon "${boot[@]}" "$sock" || true
