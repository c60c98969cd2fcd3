#!/usr/bin/env bash
# Whole-system test of the bare-metal image (issue 20): build/aarch64-virt/gateway.elf on
# QEMU's virt machine with no kernel and -m 16M, driven over its serial console through
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

# ---- the lab PKI, as test_qemu_boot.sh makes it ----
P=$T_TMP/pki
sh "$top/tests/unit/make_pki.sh" "$P" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh failed"
issue() { # NAME SUBJECT SAN: a P-256 leaf by the Lab Intermediate CA, and NAME-chain.pem
    (cd "$P" && export SAN=$3 &&
     openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" &&
     openssl req -new -config ca.cnf -key "$1.key" -subj "$2" -out "$1.csr" &&
     openssl ca -batch -config ca.cnf -notext -preserveDN -cert inter.pem -keyfile inter.key \
        -in "$1.csr" -out "$1.pem" -extensions v3_leaf -startdate 20240101000000Z \
        -enddate 20400101000000Z && cat "$1.pem" inter.pem > "$1-chain.pem") \
        >> "$T_TMP/pki.log" 2>&1 || t_fail "issue $1"
}
issue relay "/O=Gateway Test Lab/CN=relay.example" "DNS:relay.example"
issue dovecot "/O=Gateway Test Lab/CN=imap.example" "DNS:imap.example,DNS:mail.internal"

ip link add gwv0 type veth peer name gwv1
ip addr add 192.0.2.1/24 dev gwv0
ip link set gwv0 up
ip link set gwv1 up
ip route add default via 192.0.2.254 dev gwv0

sock=$T_TMP/passt.sock
t_spawn passt passt -4 -D none -f -e --runas 0 -m 1500 -s "$sock" -t 10007:7
for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || t_fail "passt did not create $sock"

# ---- the peers on the namespace's loopback (the guest's 192.0.2.254) ----
dv_start "$T_TMP/dv" "$P/dovecot-chain.pem" "$P/dovecot.key" 127.0.0.1 143 993
dv_fill 50
ln -s dv/dovecot.log "$T_TMP/dovecot-server.log"
mkdir -p "$T_TMP/spool"
"$RELAY" token LOC-QEMU-1 > "$T_TMP/token.txt" || t_fail "relay token"
TOKEN=$(sed -n 's/^token for LOC-QEMU-1.*: //p' "$T_TMP/token.txt")
cat > "$T_TMP/relay.conf" <<EOC
listen 127.0.0.1:4443
cert $P/relay-chain.pem key $P/relay.key
client-ca $P/inter.pem
socks 127.0.0.1:1080
$(grep '^location' "$T_TMP/token.txt")
spool $T_TMP/spool
EOC
t_spawn relay "$RELAY" --config "$T_TMP/relay.conf"
t_wait_log relay 'listening: tunnels' 10
t_log "peers: relay on 127.0.0.1:4443 (SOCKS5 1080), Dovecot on 127.0.0.1:143/993 with 50 market mails"

python3 "$here/boot_test.py" --board virt --arch aarch64 --image "$GW" --mem 16M \
    --flash "$T_TMP/flash.img" --sock "$sock" --qemu "$top/tools/image/qemu-virt.sh" \
    --echo-port 10007 --echo-bytes $((8 * 1024 * 1024)) --guest-ip 192.0.2.1 \
    --flashtool "$FLASHTOOL" --log "$T_TMP/console.log" --workdir "$T_TMP" --pki "$P" \
    --token="$TOKEN" --spool "$T_TMP/spool/LOC-QEMU-1/new" --dv "$here/dv.sh" \
    --dv-dir "$T_TMP/dv" "${EXTRA[@]}" || t_fail "see the console log below"
t_log "ok in $((SECONDS - start)) s"
