#!/usr/bin/env bash
# Whole-system boot test (issue 8) for one architecture: build the image from Debian's kernel
# and the static gateway, boot it under QEMU (TCG), drive its serial console, check the DHCP
# lease and the echo service through passt, provision the box at the console, bring the
# tunnel up to a real relay, reach Dovecot through both mappings with curl as the cloud
# application, let the IMAP receiver move 50 market mails into the relay's spool, power-cut
# (also during a commit) and boot again (boot_test.py).
#
#   test_qemu_boot.sh ARCH GATEWAY RELAY [FLASHTOOL [BOOT_TEST_OPTIONS...]]
#
# Contained like the integration tests: this script re-runs itself in a network namespace of
# its own, where a veth carries the default route passt wants; passt runs there with -4 -D
# none, and QEMU's only NIC is a stream netdev on passt's socket. Nothing leaves the machine.
# The peers live on the namespace's loopback, which the guest reaches as 192.0.2.254 (passt
# maps its gateway address to the loopback): the relay (tunnels on 4443, SOCKS5 on 1080,
# spool in the temp dir) and Dovecot (143 with STARTTLS, 993), with certificates from the lab
# PKI (tests/unit/make_pki.sh) whose intermediate also signs the box's CSR.
. "$(dirname "$0")/../integration/lib.sh"
# The mailbox the IMAP receiver empties (boot_test.py types the same at the console).
export DV_USER=market DV_PASS=Qemu-imap-S3cret
. "$(dirname "$0")/../integration/dovecot.sh"
. "$(dirname "$0")/peers.sh"
usage="usage: test_qemu_boot.sh ARCH GATEWAY RELAY [FLASHTOOL [BOOT_TEST_OPTIONS...]]"
ARCH=${1:?$usage}
GW=${2:?$usage}
RELAY=${3:?$usage}
FLASHTOOL=${4:-}
EXTRA=("${@:5}")
T_NAME="test_qemu_boot_$ARCH"
t_enter_netns "$@"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
start=$SECONDS

command -v "qemu-system-$ARCH" > /dev/null || t_fail "no qemu-system-$ARCH (run make deps)"
[ -x "$GW" ] || t_fail "no gateway binary at $GW (make $ARCH)"
[ -x "$RELAY" ] || t_fail "no relay binary at $RELAY"

bash "$top/tools/image/mkimage.sh" "$ARCH" "$GW" "$T_TMP/image" > "$T_TMP/mkimage.log" 2>&1 ||
    { cat "$T_TMP/mkimage.log"; t_fail "make image"; }
sed 's/^/  /' "$T_TMP/image/image.txt"

# The box's flash: a formatted, empty store (as a factory would ship it), or an erased chip.
if [ -n "$FLASHTOOL" ]; then
    "$FLASHTOOL" create "$T_TMP/flash.img" > /dev/null || t_fail "flashtool create"
else
    head -c $((256 * 1024)) /dev/zero | tr '\0' '\377' > "$T_TMP/flash.img"
fi

qemu_peers "$top"

# boot_test.py kills its QEMU itself on every path; the trap covers passt, relay and Dovecot.
python3 "$here/boot_test.py" --arch "$ARCH" --image "$T_TMP/image" --flash "$T_TMP/flash.img" \
    --sock "$sock" --qemu "$top/tools/image/qemu.sh" --echo-port 10007 \
    --echo-bytes $((8 * 1024 * 1024)) --guest-ip 192.0.2.1 ${FLASHTOOL:+--flashtool "$FLASHTOOL"} \
    --log "$T_TMP/console.log" --workdir "$T_TMP" --pki "$P" --token="$TOKEN" \
    --spool "$T_TMP/spool/LOC-QEMU-1/new" --dv "$here/dv.sh" --dv-dir "$T_TMP/dv" \
    "${EXTRA[@]}" || t_fail "see the console log below"
t_log "ok in $((SECONDS - start)) s"
