#!/usr/bin/env bash
# Whole-system boot test (issue 8) for one architecture: build the image from Debian's kernel
# and the static gateway, boot it under QEMU (TCG), drive its serial console, check the DHCP
# lease and the echo service through passt, power-cut and boot again (boot_test.py).
#
#   test_qemu_boot.sh ARCH GATEWAY [FLASHTOOL [BOOT_TEST_OPTIONS...]]
#
# Contained like the integration tests: this script re-runs itself in a network namespace of
# its own, where a veth carries the default route passt wants; passt runs there with -4 -D
# none, and QEMU's only NIC is a stream netdev on passt's socket. Nothing leaves the machine.
. "$(dirname "$0")/../integration/lib.sh"
ARCH=${1:?usage: test_qemu_boot.sh ARCH GATEWAY [FLASHTOOL [BOOT_TEST_OPTIONS...]]}
GW=${2:?usage: test_qemu_boot.sh ARCH GATEWAY [FLASHTOOL [BOOT_TEST_OPTIONS...]]}
FLASHTOOL=${3:-}
EXTRA=("${@:4}")
T_NAME="test_qemu_boot_$ARCH"
t_enter_netns "$@"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
start=$SECONDS

command -v "qemu-system-$ARCH" > /dev/null || t_fail "no qemu-system-$ARCH (run make deps)"
[ -x "$GW" ] || t_fail "no gateway binary at $GW (make $ARCH)"

bash "$top/tools/image/mkimage.sh" "$ARCH" "$GW" "$T_TMP/image" > "$T_TMP/mkimage.log" 2>&1 ||
    { cat "$T_TMP/mkimage.log"; t_fail "make image"; }
sed 's/^/  /' "$T_TMP/image/image.txt"

# The box's flash: a formatted, empty store (as a factory would ship it), or an erased chip.
if [ -n "$FLASHTOOL" ]; then
    "$FLASHTOOL" create "$T_TMP/flash.img" > /dev/null || t_fail "flashtool create"
else
    head -c $((256 * 1024)) /dev/zero | tr '\0' '\377' > "$T_TMP/flash.img"
fi

ip link add gwv0 type veth peer name gwv1
ip addr add 192.0.2.1/24 dev gwv0
ip link set gwv0 up
ip link set gwv1 up
ip route add default via 192.0.2.254 dev gwv0

sock=$T_TMP/passt.sock
t_spawn passt passt -4 -D none -f -e --runas 0 -m 1500 -s "$sock" -t 10007:7
for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || t_fail "passt did not create $sock"

# boot_test.py kills its QEMU itself on every path; the trap covers passt.
python3 "$here/boot_test.py" --arch "$ARCH" --image "$T_TMP/image" --flash "$T_TMP/flash.img" \
    --sock "$sock" --qemu "$top/tools/image/qemu.sh" --echo-port 10007 \
    --echo-bytes $((8 * 1024 * 1024)) --guest-ip 192.0.2.1 ${FLASHTOOL:+--flashtool "$FLASHTOOL"} \
    --log "$T_TMP/console.log" --workdir "$T_TMP" "${EXTRA[@]}" || t_fail "see the console log below"
t_log "ok in $((SECONDS - start)) s"
