#!/usr/bin/env bash
# `tls probe` from the gateway against OpenSSL's s_server, one case per certificate problem
# an operator meets, each asserting the exact verdict line. The gateway runs on a TAP device
# (192.0.2.2) in a network namespace this test creates; the servers listen on the host side
# (192.0.2.1). The PKI is made by openssl now (tests/unit/make_pki.sh, plus an IP-address
# leaf for 192.0.2.1 and the gateway's own certificate, signed for its CSR).
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
GW=$1
PKI=$T_TMP/pki
FLASH=$T_TMP/flash.img

sh "$T_DIR/../unit/make_pki.sh" "$PKI" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh"
# issue NAME SUBJECT SAN: a P-256 leaf by the Lab Intermediate CA, valid 2024..2040
issue() {
    (cd "$PKI" && export SAN=$3 &&
     openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" &&
     openssl req -new -config ca.cnf -key "$1.key" -subj "$2" -out "$1.csr" &&
     openssl ca -batch -config ca.cnf -notext -preserveDN -cert inter.pem -keyfile inter.key \
        -in "$1.csr" -out "$1.pem" -extensions v3_leaf -startdate 20240101000000Z \
        -enddate 20400101000000Z) >> "$T_TMP/pki.log" 2>&1 || t_fail "issue $1"
}
issue ip192 "/O=Gateway Test Lab/CN=Lab IP Server" "IP:192.0.2.1"

ip tuntap add dev gwtap0 mode tap
ip addr add 192.0.2.1/24 dev gwtap0
ip link set gwtap0 up

# server NAME PORT CERT [s_server options...]: the certificate's key is CERT's .key
server() {
    local name=$1 port=$2 cert=$3; shift 3
    t_spawn "$name" openssl s_server -accept "192.0.2.1:$port" -cert "$PKI/$cert.pem" \
        -key "$PKI/$cert.key" -quiet "$@"
}
server chain 4431 leaf-ec -cert_chain "$PKI/inter.pem"
server leafonly 4432 leaf-ec
server expired 4433 expired -cert_chain "$PKI/inter.pem"
server notyet 4434 notyet -cert_chain "$PKI/inter.pem"
server wrongname 4435 wrongname -cert_chain "$PKI/inter.pem"
server selfsigned 4436 selfsigned
server ipsan 4437 ip192 -cert_chain "$PKI/inter.pem"
server rsa 4438 leaf-rsa -cert_chain "$PKI/inter.pem"
server mtls 4439 leaf-ec -cert_chain "$PKI/inter.pem" -Verify 2 -verify_return_error \
    -CAfile "$PKI/root.pem" -chainCAfile "$PKI/inter.pem"
server clientonly 4442 clientonly -cert_chain "$PKI/inter.pem"
# Not TLS servers: one accepts and never speaks, one closes after the ClientHello.
cat > "$T_TMP/plain.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    c, _ = s.accept()
    if sys.argv[2] == "close":
        c.recv(4096)             # the ClientHello read: close with FIN, not RST
        c.close()
    else:
        held.append(c)
PY
t_spawn silent python3 "$T_TMP/plain.py" 4440 hold
t_spawn closer python3 "$T_TMP/plain.py" 4441 close
for p in 4431 4432 4433 4434 4435 4436 4437 4438 4439 4440 4441 4442; do
    for ((i = 0; i < 50; i++)); do
        ss -ltn | grep -q "192.0.2.1:$p " && break
        sleep 0.1
    done
done

NET="set net address 192.0.2.2/24 gateway 192.0.2.1"
HOSTS=("host add mail.example.test 192.0.2.1" "host add other.example.test 192.0.2.1")
# trust PEMFILE...: a fresh flash holding the network, the host table and these anchors
trust() {
    rm -f "$FLASH"
    t_provision "$GW" "$FLASH" "$NET" "${HOSTS[@]}" "trust import" \
        "$(for f in "$@"; do cat "$PKI/$f.pem"; done)" ""
}

# probe CASE EXPECTED-RC LINES...: run the lines through --batch with the network up; the
# output goes to $T_TMP/CASE.out
probe() {
    local name=$1 want=$2 rc=0; shift 2
    printf '%s\n' "$@" > "$T_TMP/$name.txt"
    timeout 60 "$GW" --flash "$FLASH" --net tap:gwtap0 --batch "$T_TMP/$name.txt" \
        > "$T_TMP/$name.out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || { cat "$T_TMP/$name.out"; t_fail "$name: exit $rc, wanted $want"; }
}
# verdict CASE TEXT: the probe's verdict line is exactly TEXT
verdict() {
    local got
    got=$(grep '^verdict: ' "$T_TMP/$1.out" | tail -n 1)
    [ "$got" = "verdict: $2" ] || { cat "$T_TMP/$1.out"; t_fail "$1: got '$got', wanted 'verdict: $2'"; }
    t_log "$1: $got"
}
LAB='O=Gateway Test Lab'
OK_ROOT="ok: chain anchored at \"CN=Lab Root CA, $LAB\""
OK_INTER="ok: chain anchored at \"CN=Lab Intermediate CA, $LAB\""

trust root
probe valid_chain 0 "tls probe mail.example.test:4431"
verdict valid_chain "$OK_ROOT"
grep -q "  1: subject  CN=mail.example.test, $LAB" "$T_TMP/valid_chain.out" || t_fail "chain print"
grep -q "  2: subject  CN=Lab Intermediate CA, $LAB" "$T_TMP/valid_chain.out" || t_fail "chain print"
grep -q "     valid    2024-01-01 to 2040-01-01, EC P-256" "$T_TMP/valid_chain.out" || t_fail "validity"

probe leaf_only_root_stored 1 "tls probe mail.example.test:4432"
verdict leaf_only_root_stored "unknown issuer \"CN=Lab Intermediate CA, $LAB\" (not in trust store)"
probe expired 1 "tls probe mail.example.test:4433"
verdict expired "expired 2021-01-01"
probe notyet 1 "tls probe mail.example.test:4434"
verdict notyet "not yet valid until 2030-01-01"
probe wrongname 1 "tls probe mail.example.test:4435"
verdict wrongname "name mismatch: wanted mail.example.test, certificate has other.example.test"
probe rightname 0 "tls probe mail.example.test:4435 name other.example.test"
verdict rightname "$OK_ROOT"
probe clientonly 1 "tls probe mail.example.test:4442"
verdict clientonly "server certificate is not for server authentication (its extended key usage lacks serverAuth)"
probe selfsigned 1 "tls probe mail.example.test:4436"
verdict selfsigned "self-signed certificate \"CN=mail.example.test, $LAB\" (not in trust store)"
probe ip_san 0 "tls probe 192.0.2.1:4437"
verdict ip_san "$OK_ROOT"
probe ip_san_wrong 1 "tls probe 192.0.2.1:4431"
verdict ip_san_wrong "name mismatch: wanted 192.0.2.1, certificate has mail.example.test, imap.example.test"
probe rsa 0 "tls probe mail.example.test:4438"
verdict rsa "$OK_ROOT"
grep -q "RSA-2048" "$T_TMP/rsa.out" || t_fail "rsa: key type not shown"
probe refused 1 "tls probe 192.0.2.1:4400"
verdict refused "connect failed: connection refused"
probe closer 1 "tls probe mail.example.test:4441"
verdict closer "handshake failed: server closed the connection"
probe silent 1 "tls probe mail.example.test:4440"
verdict silent "handshake failed: timed out"
probe unknown_host 1 "tls probe nowhere.example.test:4431"
grep -q "error: tls probe: nowhere.example.test: not an IPv4 address nor a name in the host table" \
    "$T_TMP/unknown_host.out" || t_fail "unknown host message"

# A console on a pipe (not --batch): the lines after a probe wait for its verdict.
{ sleep 1; printf 'tls probe mail.example.test:4431\nshow version\n'; sleep 4; } |
    timeout 8 "$GW" --flash "$FLASH" --net tap:gwtap0 > "$T_TMP/pipe.out" 2>&1 || true
v=$(grep -n "^verdict: $OK_ROOT" "$T_TMP/pipe.out" | cut -d: -f1 | head -n 1)
g=$(grep -n '^gateway .* on linux' "$T_TMP/pipe.out" | cut -d: -f1 | head -n 1)
[ -n "$v" ] && [ -n "$g" ] && [ "$v" -lt "$g" ] ||
    { cat "$T_TMP/pipe.out"; t_fail "pipe console: the next line ran before the verdict"; }
t_log "pipe console: the next line waited for the verdict"

trust inter
probe leaf_only_inter_stored 0 "tls probe mail.example.test:4432"
verdict leaf_only_inter_stored "$OK_INTER"

# Mutual TLS: the device key made on the box, its CSR signed by the Lab Intermediate CA.
trust root
probe identity 0 "set tunnel location loc-test-01" "tunnel key generate" "commit" "tunnel csr"
sed -n '/BEGIN CERTIFICATE REQUEST/,/END CERTIFICATE REQUEST/p' "$T_TMP/identity.out" > "$PKI/dev.csr"
(cd "$PKI" && SAN=DNS:loc-test-01 openssl ca -batch -config ca.cnf -notext -cert inter.pem \
    -keyfile inter.key -in dev.csr -out dev.pem -extensions v3_leaf -startdate 20240101000000Z \
    -enddate 20400101000000Z) >> "$T_TMP/pki.log" 2>&1 || t_fail "signing the device CSR"
probe mtls_nochain 1 "tls probe mail.example.test:4439 client"
grep -q "error: tls probe: client: needs the device key and chain" "$T_TMP/mtls_nochain.out" ||
    t_fail "client without a chain"
probe import 0 "tunnel cert import" "$(cat "$PKI/dev.pem" "$PKI/inter.pem")" "" "commit"
probe mtls_without_client 1 "tls probe mail.example.test:4439"
verdict mtls_without_client "handshake failed: server sent fatal alert 40 (handshake_failure)"
probe mtls 0 "tls probe mail.example.test:4439 client"
verdict mtls "$OK_ROOT"

# Trust separation: the root is in the trust store of internal servers only, so as the tunnel
# checks (`relay`) it vouches for nothing; a relay anchor or `set tunnel trust shared` does.
probe relay_separate 1 "tls probe mail.example.test:4431 relay"
verdict relay_separate "unknown issuer \"CN=Lab Root CA, $LAB\" (not in trust store)"
probe relay_shared 0 "set tunnel trust shared" "commit" "tls probe mail.example.test:4431 relay"
verdict relay_shared "$OK_ROOT"
probe relay_anchor 0 "set tunnel trust separate" "trust import relay" "$(cat "$PKI/root.pem")" \
    "" "commit" "tls probe mail.example.test:4431 relay" "trust list"
verdict relay_anchor "$OK_ROOT"
grep -q '^relay trust store (the tunnel): 1 certificate$' "$T_TMP/relay_anchor.out" ||
    { cat "$T_TMP/relay_anchor.out"; t_fail "trust list: the relay store"; }
# The tunnel itself, to a server whose certificate the internal CA issued for the relay's
# name: refused while only the servers' store could vouch for it, and while the relay's own
# anchor is another CA (the case of an internal CA that would let anyone stand in for the
# relay and be handed all mail).
tunnel_try() { # CASE LINES...: the lines at a console on a pipe, then show tunnel
    local name=$1; shift
    { sleep 1; printf '%s\n' "$@" "set tunnel relay mail.example.test:4431" "commit"; sleep 4
      printf 'show tunnel\n'; sleep 1; } |
        timeout 10 "$GW" --flash "$FLASH" --net tap:gwtap0 > "$T_TMP/$name.out" 2>&1 || true
}
tunnel_try tunnel_none "trust del relay $(openssl x509 -in "$PKI/root.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | cut -c1-16)"
grep -q "tunnel: relay mail.example.test:4431: no relay trust anchors: import the relay's CA with \`trust import relay\`" \
    "$T_TMP/tunnel_none.out" || { cat "$T_TMP/tunnel_none.out"; t_fail "tunnel with no relay anchors"; }
tunnel_try tunnel_other "trust import relay" "$(cat "$PKI/other-root.pem")" ""
grep -q "tunnel: relay mail.example.test:4431: unknown issuer \"CN=Lab Root CA, $LAB\" (not in trust store)" \
    "$T_TMP/tunnel_other.out" || { cat "$T_TMP/tunnel_other.out"; t_fail "tunnel vouched for by a server CA"; }
t_log "trust separation: a CA of the internal servers never vouches for the relay"

# 50 handshakes in a row: the pools and the heap end where they were after the first (which
# warms ARP and lwIP's timers up).
lines=("tls probe mail.example.test:4431" "show status")
for ((i = 0; i < 50; i++)); do lines+=("tls probe mail.example.test:4431"); done
lines+=("show status")
probe fifty 0 "${lines[@]}"
[ "$(grep -c "^verdict: $OK_ROOT" "$T_TMP/fifty.out")" = 51 ] || t_fail "50 probes"
mem() { awk -v n="$1" '/^memory:/ { k++ } k == n && /^ *[A-Z_a-z]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+/ { print $1, $2 }' "$T_TMP/fifty.out"; }
# A pool may hold less after the fifty (the first probe's connection may still have been
# closing when the first status was taken), never more.
join <(mem 1 | sort) <(mem 2 | sort) | awk '$3 > $2 { print; bad = 1 } END { exit bad }' \
    > "$T_TMP/memdiff.log" || { cat "$T_TMP/memdiff.log"; t_fail "memory grew over 50 probes"; }
t_log "50 probes: pools in use before and after: $(mem 2 | tr '\n' ' ')"
t_log "handshake times (ms): $(grep '^handshake: ' "$T_TMP/fifty.out" | awk '{ s += $2; n++ } END { printf "mean %.1f over %d", s / n, n }')"
t_log "ok"
