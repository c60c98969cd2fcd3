#!/usr/bin/env bash
# bench_tls.sh [GATEWAY] [N] [MIB]: TLS from the gateway on lwIP (TAP, in a network namespace
# of its own) against OpenSSL on the host side, with OpenSSL's own client beside it:
#   - handshakes: N `tls probe`s each against a P-256 and an RSA-2048 s_server (connect to
#     verified chain, the gateway's own clock);
#   - bulk: MIB MiB through one TLS connection of the gateway's stack (tls_bulk: tls_conn on
#     lwIP), fetched from s_server -WWW and echoed by socat's OpenSSL, and the same transfers
#     by openssl s_client (kernel TCP) with the same suite, TLS 1.2;
#   - the RAM one TLS connection takes.
# tls_bulk comes from the same build tree (tests/integration/tls_bulk). Needs root
# (namespace, TAP). Not part of `make test`.
. "$(dirname "$0")/../tests/integration/lib.sh"
t_enter_netns "$@"
GW=$(realpath "${1:-build/x86_64/gateway}")
N=${2:-50}
MIB=${3:-64}
BULK=$(dirname "$GW")/tests/integration/tls_bulk
[ -x "$BULK" ] || t_fail "no $BULK: build the tree of $GW"
PKI=$T_TMP/pki
sh "$T_DIR/../unit/make_pki.sh" "$PKI" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh"
ip tuntap add dev gwtap0 mode tap
ip addr add 192.0.2.1/24 dev gwtap0
ip link set gwtap0 up
t_spawn ec openssl s_server -accept 192.0.2.1:4431 -cert "$PKI/leaf-ec.pem" \
    -key "$PKI/leaf-ec.key" -cert_chain "$PKI/inter.pem" -quiet
t_spawn rsa openssl s_server -accept 192.0.2.1:4432 -cert "$PKI/leaf-rsa.pem" \
    -key "$PKI/leaf-rsa.key" -cert_chain "$PKI/inter.pem" -quiet
sleep 0.5
t_provision "$GW" "$T_TMP/flash.img" "set net address 192.0.2.2/24 gateway 192.0.2.1" \
    "host add mail.example.test 192.0.2.1" "trust import" "$(cat "$PKI/root.pem")" ""

for kind in ec:4431 rsa:4432; do
    name=${kind%:*} port=${kind#*:}
    { echo "tls probe mail.example.test:$port"
      for ((i = 0; i < N; i++)); do echo "tls probe mail.example.test:$port"; done
    } > "$T_TMP/$name.txt"
    "$GW" --flash "$T_TMP/flash.img" --net tap:gwtap0 --batch "$T_TMP/$name.txt" \
        > "$T_TMP/$name.out" 2>&1 || { tail "$T_TMP/$name.out"; t_fail "$name probes"; }
    # the first probe warms ARP up and is left out
    grep '^handshake: ' "$T_TMP/$name.out" | tail -n +2 | awk -v k="$name" '
        { v = $2; s += v; n++; if (n == 1 || v < lo) lo = v; if (v > hi) hi = v }
        END { printf "handshake %-4s server, chain of 2 to an RSA-2048 root: mean %.1f ms, " \
              "min %d, max %d over %d\n", k == "ec" ? "P-256" : "RSA-2048", s / n, lo, hi, n }'
done

# ---- bulk: the gateway's stack beside OpenSSL's client, the same servers and suite ------
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
bulk() {
    timeout 300 "$BULK" --net tap:gwtap0 --addr 192.0.2.2/24 --name mail.example.test \
        --ca "$PKI/root.pem" --mib "$MIB" "$@" < /dev/null > "$T_TMP/bulk.out" 2>&1 ||
        { cat "$T_TMP/bulk.out"; t_fail "tls_bulk $*"; }
    grep '^tls_bulk: ' "$T_TMP/bulk.out" | sed 's/^tls_bulk: //'
}
# s_client: TLS 1.2 and BearSSL's choice of suite (ECDHE-ECDSA-AES128-GCM-SHA256)
sclient() {
    openssl s_client -quiet -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 \
        -CAfile "$PKI/root.pem" -verify_return_error -verify_hostname mail.example.test \
        -servername mail.example.test "$@" 2> /dev/null
}
elapsed() { local t0=$1 t1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
mibs() { printf '%.1f' "$(echo "$1 / 1048576 / $2" | bc -l)"; }

printf 'bulk, %d MiB through one TLS 1.2 connection (AES-128-GCM), gateway 192.0.2.2 on TAP\n' "$MIB"
printf '  get from s_server -WWW  gateway (tls_conn on lwIP, 4 KiB records): %s\n' \
    "$(bulk --server 192.0.2.1:4444 --mode get /bulk.bin)"
for mfl in "" "-maxfraglen 4096"; do
    t0=$(date +%s.%N)
    got=$({ printf 'GET /bulk.bin HTTP/1.0\r\n\r\n' | sclient -connect 192.0.2.1:4444 $mfl ||
            true; } | wc -c)
    dt=$(elapsed "$t0")
    printf '  get from s_server -WWW  openssl s_client (kernel TCP%s): %s MiB/s (%d bytes in %.2f s)\n' \
        "${mfl:+, 4 KiB records}" "$(mibs "$got" "$dt")" "$got" "$dt"
done
printf '  echo through socat      gateway (tls_conn on lwIP, 4 KiB records): %s\n' \
    "$(bulk --server 192.0.2.1:4443 --mode echo)"
# s_client waits for more after its input ends (-quiet): stop it once all came back
t0=$(date +%s.%N)
sclient -connect 192.0.2.1:4443 < "$PKI/bulk.bin" > "$T_TMP/echo.bin" &
pid=$!
for ((i = 0; i < 30000; i++)); do
    [ "$(stat -c %s "$T_TMP/echo.bin")" -ge $((MIB << 20)) ] && break
    sleep 0.01
done
dt=$(elapsed "$t0")
kill "$pid" 2> /dev/null || true
wait "$pid" 2> /dev/null || true
got=$(stat -c %s "$T_TMP/echo.bin")
exact=$(cmp -s "$T_TMP/echo.bin" "$PKI/bulk.bin" && echo byte-exact || echo DIFFERENT)
printf '  echo through socat      openssl s_client (kernel TCP): %s MiB/s each way (%d bytes back in %.2f s, %s)\n' \
    "$(mibs "$got" "$dt")" "$got" "$dt" "$exact"

# ---- RAM --------------------------------------------------------------------------------
if command -v gdb > /dev/null; then
    gdb -batch -ex 'print sizeof(struct tls_conn)' -ex 'print sizeof(struct tls_client)' \
        -ex 'print sizeof(struct tls_verify)' -ex 'print sizeof(((struct tls_client *)0)->buf)' \
        -ex 'print sizeof(struct tcp_pcb)' "$GW" 2>/dev/null |
        awk '{ v[NR] = $3 }
             END { printf "RAM per TLS connection: struct tls_conn %d B (tls_client %d, of it " \
                   "verifier %d and record buffers %d: 16 KiB in, 4 KiB out) + lwIP tcp_pcb " \
                   "%d B + at most one receive window of pbufs\n", v[1], v[2], v[3], v[4], v[5] }'
fi
