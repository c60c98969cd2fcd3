#!/usr/bin/env bash
# bench_tls.sh [GATEWAY] [N]: TLS handshakes from the gateway on lwIP (TAP, in a network
# namespace of its own) against OpenSSL's s_server on the host side, N each for a P-256 and
# an RSA-2048 server; prints handshake times (connect to verified chain, the gateway's own
# clock) and the RAM one TLS connection takes. Needs root (namespace, TAP).
. "$(dirname "$0")/../tests/integration/lib.sh"
t_enter_netns "$@"
GW=${1:-build/x86_64/gateway}
N=${2:-50}
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
if command -v gdb > /dev/null; then
    gdb -batch -ex 'print sizeof(struct tls_conn)' -ex 'print sizeof(struct tls_stream)' \
        -ex 'print sizeof(struct tls_verify)' -ex 'print sizeof(struct tcp_pcb)' "$GW" 2>/dev/null |
        awk 'NR == 1 { c = $3 } NR == 2 { s = $3 } NR == 3 { v = $3 } NR == 4 { p = $3 }
             END { printf "RAM per TLS connection: struct tls_conn %d B (tls_stream %d, of it " \
                   "verifier %d and record buffers 33178) + lwIP tcp_pcb %d B + at most one " \
                   "receive window of pbufs\n", c, s, v, p }'
fi
