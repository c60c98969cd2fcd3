#!/usr/bin/env bash
# Floods against the relay (issue 18), inside a network namespace this test creates: the
# real gateway (firmware on TAP 192.0.2.2, provisioned through its console language as
# imap_e2e.sh does) must still get its tunnel, and curl its download, while anyone else
# holds as many connections as they can.
#
#   tunnel listener, 600 connections reopened as they close (relay_flood.py), half of them
#   sending nothing, half a TLS record header and then a byte a second:
#     - from one source address: the gateway's handshake (its tunnel restarted by a commit)
#       completes within 5 s; the relay logged the per-source refusals and closed idle ones
#       at the first-byte deadline;
#     - from 50 source addresses (198.18.0.1-50 on the namespace's loopback): the same;
#   SOCKS5 listener, likewise (idle, and a greeting and authentication a byte a second):
#     - 5000 connections from one address (more than the relay had slots for in all):
#       curl (another address) downloads through the gateway within 10 s;
#     - 600 from 50 addresses: the same;
#   every refusal counted (relay_refusals_total{cause=...}) and logged at most once a second
#   per cause; once the floods stop, nothing is left pending.
#
# Usage: test_relay_flood.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
E2E_SOCKS=192.0.2.1:1080               # a local address the flood's sources can reach
. "$T_DIR/imap_e2e.sh"
ulimit -n 16384
FLOOD="python3 $T_DIR/relay_flood.py"

# ---- the lab: PKI (the relay's certificate names relay2.example.test too, so a commit can
# move the gateway's tunnel from one name to the other), the TAP wire, a web server ----
e2e_pki
(cd "$P" && export SAN=DNS:relay.example.test,DNS:relay2.example.test &&
 openssl req -new -config ca.cnf -key relay.key \
    -subj "/O=Gateway Test Lab/CN=relay.example.test" -out relay.csr &&
 openssl ca -batch -config ca.cnf -notext -preserveDN -cert inter.pem -keyfile inter.key \
    -in relay.csr -out relay.pem -extensions v3_leaf -startdate 20240101000000Z \
    -enddate 20400101000000Z && cat relay.pem inter.pem > relay-chain.pem) \
    >> "$T_TMP/pki.log" 2>&1 || t_fail "relay certificate with two names"
e2e_wire
for i in $(seq 1 50); do ip addr add "198.18.0.$i/32" dev lo; done
mkdir -p "$T_TMP/www"
head -c 300000 /dev/urandom > "$T_TMP/www/file"
(cd "$T_TMP/www" && exec python3 -m http.server 8080 --bind 192.0.2.1) > "$T_TMP/http.log" 2>&1 &
T_PIDS+=($!)
E2E_RELAY_EXTRA="metrics 127.0.0.1:9100"
e2e_relay_config
e2e_relay_start
RELAY_PID=$E2E_RELAY_PID
E2E_SETUP_EXTRA=("set imap enabled no" "host add relay2.example.test 192.0.2.1"
    "mapping add web.example.test:80 192.0.2.1:8080 tcp")
e2e_provision
e2e_gateway_start
t_wait_log gw 'tunnel: relay relay.example.test:7443 up' 20

# ---- the gateway's handshake, timed: a commit moves the tunnel to the other name ----
NAME=relay.example.test
ups() { grep -c "tunnel: relay $1:7443 up" "$T_TMP/gw.log" || true; }
retunnel() { # WHEN: restart the tunnel; it must be up again within 5 s
    local next=relay2.example.test n t0 t1 i
    [ "$NAME" = relay2.example.test ] && next=relay.example.test
    n=$(ups "$next")
    t0=$(date +%s%N)
    console "set tunnel relay $next:7443" "commit"
    for ((i = 0; i < 100 && $(ups "$next") <= n; i++)); do sleep 0.05; done
    t1=$(date +%s%N)
    [ "$(ups "$next")" -gt "$n" ] ||
        t_fail "$1: the gateway's tunnel was not up again within 5 s"
    NAME=$next
    t_log "$1: tunnel up again $(( (t1 - t0) / 1000000 )) ms after the commit" \
          "($(grep "tunnel: relay $next:7443 up" "$T_TMP/gw.log" | tail -n 1 | grep -o 'handshake [0-9]* ms'))"
}
metric() { curl -sS --max-time 5 http://127.0.0.1:9100/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
refusals() { metric "relay_refusals_total{cause=\"$1\"}"; }
flood() { # NAME PORT COUNT SECONDS MODE SOURCES...
    local name=$1; shift
    t_spawn "$name" $FLOOD 192.0.2.1 "$@"
    FLOOD_PID=${T_PIDS[-1]}
}
flood_end() {
    wait "$FLOOD_PID" 2> /dev/null || true
    t_log "$(tail -n 1 "$T_TMP/$1.log")"
}
retunnel "no flood"
sources=()
for i in $(seq 1 50); do sources+=("198.18.0.$i"); done

# ---- tunnel listener: 600 connections from one address ----
flood tflood1 7443 600 12 mix-tls 198.18.0.1
sleep 3
retunnel "600 idle and slow-TLS connections from one address"
n=$(refusals handshakes_per_source)
[ "${n:-0}" -gt 0 ] || t_fail "no per-source refusals counted"
grep -q 'tunnel refused: peer=198.18.0.1:[0-9]* stage=accept reason="32 connections not yet authenticated from this address (limit handshakes-per-source)"' \
    "$T_TMP/relay.log" || t_fail "the per-source refusal is not in the relay's log"
t_wait_log relay 'tunnel refused: peer=198.18.0.1:[0-9]* stage=first byte reason="no first byte within 3 s' 10
flood_end tflood1
t_log "the relay refused $n at accept (one log line a second at most: $(grep -c 'limit handshakes-per-source' "$T_TMP/relay.log"))"

# ---- tunnel listener: 600 connections from 50 addresses ----
flood tflood50 7443 600 14 mix-tls "${sources[@]}"
t_wait_log tflood50 'flood: 600 open' 10
sleep 2
retunnel "600 idle and slow-TLS connections from 50 addresses"
t_wait_log relay 'stage=client hello reason="no whole ClientHello within 10 s \(limit handshake\)"' 15
flood_end tflood50
t_log "slow ClientHellos closed at the 10 s deadline: $(refusals handshake_time) so far;" \
      "idle ones at the 3 s first-byte deadline: $(refusals first_byte)"

# ---- SOCKS5: 5000 connections from one address, then 600 from 50 ----
download() { # WHEN
    local t0 t1
    t0=$(date +%s%N)
    curl -sS --max-time 10 --socks5-hostname 192.0.2.1:1080 --proxy-user "loc1:$E2E_TOKEN" \
        http://web.example.test/file -o "$T_TMP/got" || t_fail "$1: curl through the relay"
    t1=$(date +%s%N)
    cmp -s "$T_TMP/got" "$T_TMP/www/file" || t_fail "$1: the download differs"
    t_log "$1: curl downloaded 300000 bytes byte-exact in $(( (t1 - t0) / 1000000 )) ms"
}
download "no flood"
flood sflood1 1080 5000 12 mix-socks 198.18.0.1
sleep 3
download "5000 idle and slow SOCKS5 connections from one address"
[ "$(refusals socks_per_source)" -gt 0 ] || t_fail "no SOCKS5 per-source refusals counted"
grep -q 'socks refused: client=198.18.0.1:[0-9]* reason="128 clients not yet authenticated from this address (limit socks-per-source)"' \
    "$T_TMP/relay.log" || t_fail "the SOCKS5 per-source refusal is not in the relay's log"
t_wait_log relay 'socks refused: client=198.18.0.1:[0-9]* reason="no request within 5 s \(limit socks-auth\)"' 10
flood_end sflood1
flood sflood50 1080 600 10 mix-socks "${sources[@]}"
t_wait_log sflood50 'flood: 600 open' 10
sleep 2
download "600 idle and slow SOCKS5 connections from 50 addresses"
flood_end sflood50

# ---- afterwards: nothing left pending; the tunnel never went down ----
sleep 6
[ "$(metric relay_handshakes_pending)" = 0 ] || t_fail "handshakes still pending after the floods"
[ "$(metric relay_socks_open)" = 0 ] || t_fail "SOCKS5 clients still open after the floods"
grep -q 'tunnel down: location=loc1 .*reason="link dead' "$T_TMP/relay.log" &&
    t_fail "the gateway's tunnel died during the floods"
t_log "refusals by cause: $(curl -sS http://127.0.0.1:9100/metrics | sed -n 's/^relay_refusals_total{cause="\([a-z_]*\)"} \([1-9][0-9]*\)$/\1=\2/p' | tr '\n' ' ')"
t_log "relay log lines: $(wc -l < "$T_TMP/relay.log") (refusals at most one a second per cause)"
kill "$E2E_GW_PID"
t_log "PASS"
