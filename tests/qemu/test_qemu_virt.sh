#!/usr/bin/env bash
# Whole-system test of the bare-metal image (issue 20): build/aarch64-virt/gateway.elf on
# QEMU's virt machine with no kernel and -m 16M (GW_QEMU_MEM=10M: the least that holds it), driven over its serial console through
# the same story as the Linux-kernel images (boot_test.py --board virt): DHCP lease and the
# echo service through passt, provisioning at the console (key, CSR signed by the lab CA,
# chain, trust, mappings, receiver), the tunnel up to a real relay, curl through SOCKS5 to
# Dovecot through both mappings byte-exact, 50 market mails moved into the relay's spool,
# power cuts (one during a commit: the pflash holds the old or the new configuration, never
# a mix), the receiver resuming without loss or duplicates, reboot and power-off by PSCI.
#
#   test_qemu_virt.sh GATEWAY_ELF RELAY FLASHTOOL [BOOT_TEST_OPTIONS...]
#
# Contained as test_qemu_boot.sh is (that script's peers, set up the same way): a network
# namespace of its own, a veth for passt's default route, passt with -4 -D none, QEMU's only
# NIC on passt's socket; the relay and Dovecot on the namespace's loopback (the guest's
# 192.0.2.254), certificates from the lab PKI. GW_QEMU_VIRTIO=modern runs it on virtio-mmio
# version 2 instead of QEMU 7.2's default legacy transport.
. "$(dirname "$0")/../integration/lib.sh"
export DV_USER=market DV_PASS=Qemu-imap-S3cret
. "$(dirname "$0")/../integration/dovecot.sh"
. "$(dirname "$0")/peers.sh"
usage="usage: test_qemu_virt.sh GATEWAY_ELF RELAY FLASHTOOL [BOOT_TEST_OPTIONS...]"
GW=${1:?$usage}
RELAY=${2:?$usage}
FLASHTOOL=${3:?$usage}
EXTRA=("${@:4}")
T_NAME="test_qemu_virt"
t_enter_netns "$@"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
start=$SECONDS

command -v qemu-system-aarch64 > /dev/null || t_fail "no qemu-system-aarch64 (run make deps)"
[ -f "$GW" ] || t_fail "no bare-metal image at $GW (make virt)"
[ -x "$RELAY" ] || t_fail "no relay binary at $RELAY"
[ -x "$FLASHTOOL" ] || t_fail "no flashtool at $FLASHTOOL"

# The box's flash: QEMU's second pflash bank, a formatted empty store as a factory ships it.
"$FLASHTOOL" create "$T_TMP/flash.img" --size 64M --block 256K > /dev/null ||
    t_fail "flashtool create"

qemu_peers "$top"

python3 "$here/boot_test.py" --board virt --arch aarch64 --image "$GW" --mem "${GW_QEMU_MEM:-16M}" \
    --flash "$T_TMP/flash.img" --sock "$sock" --qemu "$top/tools/image/qemu-virt.sh" \
    --echo-port 10007 --echo-bytes $((8 * 1024 * 1024)) --guest-ip 192.0.2.1 \
    --flashtool "$FLASHTOOL" --log "$T_TMP/console.log" --workdir "$T_TMP" --pki "$P" \
    --token="$TOKEN" --spool "$T_TMP/spool/LOC-QEMU-1/new" --dv "$here/dv.sh" \
    --dv-dir "$T_TMP/dv" "${EXTRA[@]}" || t_fail "see the console log below"
t_log "ok in $((SECONDS - start)) s"
