#!/usr/bin/env bash
# Bulk data through one TLS connection of the gateway's own stack (tls_conn: BearSSL on lwIP
# TCP, on a TAP device in this test's network namespace): 64 MiB written and echoed back
# byte-exact by socat's OpenSSL (PIPE), then 64 MiB fetched from openssl s_server -WWW.
# Both peers keep to the 4 KiB maximum fragment length the gateway asks for.
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
BULK=$1
MIB=${GW_TLS_BULK_MIB:-64}
PKI=$T_TMP/pki
sh "$T_DIR/../unit/make_pki.sh" "$PKI" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh"
ip tuntap add dev gwtap0 mode tap
ip addr add 192.0.2.1/24 dev gwtap0
ip link set gwtap0 up
head -c $((MIB << 20)) /dev/urandom > "$PKI/bulk.bin"
t_spawn echo socat OPENSSL-LISTEN:4443,bind=192.0.2.1,reuseaddr,fork,cert="$PKI/chain-ec.pem",key="$PKI/leaf-ec.key",verify=0 PIPE
(cd "$PKI" && exec openssl s_server -quiet -accept 192.0.2.1:4444 -cert leaf-ec.pem \
    -key leaf-ec.key -cert_chain inter.pem -WWW) > "$T_TMP/www.log" 2>&1 < /dev/null &
T_PIDS+=($!)
for p in 4443 4444; do
    for ((i = 0; i < 50; i++)); do
        ss -ltn | grep -q "192.0.2.1:$p " && break
        sleep 0.1
    done
done
run() {
    local name=$1; shift
    timeout 300 "$BULK" --net tap:gwtap0 --addr 192.0.2.2/24 --name mail.example.test \
        --ca "$PKI/root.pem" --mib "$MIB" "$@" < /dev/null > "$T_TMP/$name.out" 2>&1 ||
        { cat "$T_TMP/$name.out"; t_fail "$name"; }
    t_log "$(grep '^tls_bulk: ' "$T_TMP/$name.out")"
}
run echo --server 192.0.2.1:4443 --mode echo
grep -q "^tls_bulk: echo $MIB MiB in .* byte-exact$" "$T_TMP/echo.out" || t_fail "echo not byte-exact"
run get --server 192.0.2.1:4444 --mode get /bulk.bin
t_log "ok"
