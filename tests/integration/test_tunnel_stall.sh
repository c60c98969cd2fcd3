#!/usr/bin/env bash
# One cloud client cannot tear down the tunnel (issue 16, item 2), inside a network namespace
# this test creates: the real gateway on TAP, the relay, Dovecot with the IMAP receiver on,
# and an internal service that accepts and never reads (hardening_peers.py sink).
#
#   - 16 SOCKS5 streams push 2 MiB each to the sink: their data fills the gateway's yamux
#     receive pool (512 KiB, less than two windows), which used to stop the tunnel's input,
#     its keepalive and every other stream until the relay found the link dead;
#   - meanwhile another client downloads 8 MiB through another mapping (byte-exact), 20
#     streams echo through a third, and the receiver delivers two mails (one of ~1.3 MB)
#     appended while the attack runs; then a second wave of 16 streams comes;
#   - for longer than the relay's and the gateway's dead-link time (15 s after an unanswered
#     ping) the tunnel stays up: no "tunnel down" in the relay's log, no dead link in the
#     gateway's, and `show tunnel` still reports a keepalive round-trip time; the stalled
#     streams are the ones reset (the gateway's pool policy names them in its log).
#
# Usage: test_tunnel_stall.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
. "$T_DIR/imap_e2e.sh"
PY="python3 $T_DIR/test_relay_socks.py"
PEERS="python3 $T_DIR/hardening_peers.py"
SOCKS=1080
WATCH_S=25                          # > 15 s keepalive dead time (+ one 5 s ping interval)

E2E_SETUP_EXTRA=("mapping add sink.example.test:9 192.0.2.1:7009 tcp"
    "mapping add source.example.test:9 192.0.2.1:7008 tcp"
    "mapping add echo.example.test:7 192.0.2.1:7007 tcp")
e2e_setup 0 0                       # PKI, TAP wire, Dovecot (empty INBOX), relay, flash
SERVE_ADDR=192.0.2.1 t_spawn services $PY serve 7007 7008
t_spawn sink $PEERS sink 192.0.2.1 7009
t_wait_log services 'serving' 10
t_wait_log sink 'listening' 10
TOKEN=$E2E_TOKEN
e2e_gateway_start
t_wait_log gw 'tunnel: relay relay.example.test:7443 up' 20
t_wait_log gw 'imap: logged in' 20
t_log "tunnel up, receiver logged in (INBOX empty)"

start=$(date +%s)
$PEERS push $SOCKS loc1 "$TOKEN" sink.example.test 9 16 $((2 << 20)) $WATCH_S \
    > "$T_TMP/push1.log" 2>&1 &
P1=$!
t_wait_log push1 'pushing 16 streams' 15
sleep 1                             # the pool is full by now

# ---- meanwhile: a download, echoes and mail on the same tunnel ----
$PY get $SOCKS loc1 "$TOKEN" source.example.test 9 $((8 << 20)) > "$T_TMP/get.txt" 2>&1 ||
    { cat "$T_TMP/get.txt"; t_fail "the download during the attack"; }
t_log "during the attack: $(cat "$T_TMP/get.txt") (8 MiB through another mapping)"
dv_append INBOX 1
dv_append INBOX 2 1000000
$PEERS push $SOCKS loc1 "$TOKEN" sink.example.test 9 16 $((2 << 20)) $WATCH_S \
    > "$T_TMP/push2.log" 2>&1 &
P2=$!
t_wait_log push2 'pushing 16 streams' 15
$PY echo $SOCKS loc1 "$TOKEN" echo.example.test 7 20 100000 > "$T_TMP/echo.txt" 2>&1 ||
    { cat "$T_TMP/echo.txt"; t_fail "new streams during the second wave"; }
t_log "during the second wave: $(cat "$T_TMP/echo.txt")"
wait_spool 2 30
in_spool 1 0
in_spool 2 1000000
t_log "during the attack: the receiver delivered 2 mails (one of $(dv_mail 2 1000000 | wc -c) bytes), byte-exact"

# ---- the tunnel outlives the dead-link time ----
while (($(date +%s) < start + WATCH_S)); do sleep 0.5; done
wait $P1 $P2 || true
! grep -q 'tunnel down' "$T_TMP/relay.log" ||
    { grep 'tunnel down' "$T_TMP/relay.log"; t_fail "the relay took the tunnel down"; }
! grep -q 'link dead' "$T_TMP/gw.log" || t_fail "the gateway found the link dead"
console "show tunnel"
t_wait_log gw 'relay 1: +relay.example.test:7443 +up for [0-9]+ s, rtt [0-9]+ ms' 5
t_log "after ${WATCH_S}s: no tunnel down, $(grep -o 'up for [0-9]* s, rtt [0-9]* ms' "$T_TMP/gw.log" | tail -1)"
grep -q 'bytes on the full receive pool, no progress for' "$T_TMP/gw.log" ||
    t_fail "no stalled stream was reset (the pool policy's log line)"
t_log "stalled streams: $(tail -n1 "$T_TMP/push1.log"); $(tail -n1 "$T_TMP/push2.log")"
t_log "relay: $(grep -c 'target="sink.example.test:9" .*verdict="stream reset by the gateway"' \
    "$T_TMP/relay.log") sink streams reset by the gateway (pool policy: $(grep -c \
    'no progress for' "$T_TMP/gw.log") log lines, at most one a second)"
t_log PASS
