#!/usr/bin/env bash
# Delivery limits (issue 18), with fake gateways (test_relay_gw) of two locations:
#
#   limit delivery-stall 3: a gateway that stops in the middle of a message (100000 of
#   2 MB sent, the tunnel alive) has its delivery reset after 3 to 4 s, logged and counted,
#   and its tmp file removed;
#   limit location-deliveries 1: while that delivery hangs, a second one of loc1 (another
#   tunnel) is answered "error" with "quota: 1 deliveries of this location in flight", and
#   loc2 stores its mail meanwhile;
#   limit location-spool-messages 2: with two messages in loc1's spool the third is
#   answered "quota: the spool holds 2 messages", loc2 still stores; once the consumer has
#   taken one message away, the third is stored. Nothing is left in tmp/.
#   Every gateway that exits after its answer is seen gone within 2 s (its close could
#   arrive while the relay answered, and a tunnel stayed open with nothing to wake it).
#
# Usage: test_relay_deliveries.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
r_gwcert gw1 loc1
r_gwcert gw2 loc2
"$RELAY" token loc2 > "$T_TMP/token-loc2.txt"
r_config "$(grep '^location' "$T_TMP/token-loc2.txt")" "limit location-deliveries 1" \
    "limit location-spool-messages 2" "limit delivery-stall 3"
r_relay
S1=$T_TMP/spool/loc1 S2=$T_TMP/spool/loc2
metric() { curl -sS --max-time 5 http://127.0.0.1:9100/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
head -c 2000000 /dev/urandom > "$T_TMP/big.eml"
for i in 1 2 3; do printf 'Subject: mail %s\r\n\r\nbody %s\r\n' "$i" "$i" > "$T_TMP/m$i.eml"; done
# deliver LOC CERT FILE: one delivery on a tunnel of its own; the answer in $T_TMP/answer
deliver() {
    local args=(--cert "$P/$2-chain.pem" --key "$P/$2.key" --location "$1")
    "$GW" "${GWARGS[@]}" "${args[@]}" --deliver "$3" --exit-after-deliveries \
        > "$T_TMP/answer" 2>&1 || { cat "$T_TMP/answer"; t_fail "delivery run ($1 $3)"; }
    grep -m1 '^delivery ' "$T_TMP/answer"
    tunnels_open "$LINGER"
}
# tunnels_open N: the relay notices within 2 s that a gateway which got its answer and
# exited has gone (its FIN may come while the relay still answers), N tunnels left open
tunnels_open() {
    local i n
    for ((i = 0; i < 20; i++)); do
        n=$(metric relay_tunnels_open)
        [ "$n" = "$1" ] && return 0
        sleep 0.1
    done
    t_fail "$n tunnels open 2 s after the gateway exited, want $1"
}
expect() { # LOC CERT FILE ANSWER
    local got
    got=$(deliver "$1" "$2" "$3")
    [[ "$got" == "delivery $3: $4"* ]] || t_fail "$1 $(basename "$3"): '$got', want '$4'"
}

# ---- a delivery that hangs mid-body holds loc1's one slot ----
r_gw stall gw1 --deliver "$T_TMP/big.eml" --stall-after 100000
LINGER=1                                               # the stalled gateway's tunnel
for ((i = 0; i < 50; i++)); do
    [ -n "$(ls -A "$S1/tmp")" ] && break
    sleep 0.1
done
[ -n "$(ls -A "$S1/tmp")" ] || t_fail "the stalled delivery has no tmp file"
expect loc1 gw1 "$T_TMP/m1.eml" "error (quota: 1 deliveries of this location in flight (limit location-deliveries))"
expect loc2 gw2 "$T_TMP/m1.eml" "stored"
t_log "location-deliveries 1: loc1's second delivery answered quota while the first hangs; loc2 stored"
t_wait_log relay 'delivery: location=loc1 tunnel=[0-9]+ stream=[0-9]+ dropped: no byte for 3 s after 100000 bytes \(limit delivery-stall\)' 6
t_wait_log stall 'stream reset' 5
[ -z "$(ls -A "$S1/tmp")" ] || t_fail "the stalled delivery's tmp file is still there"
[ "$(metric 'relay_refusals_total{cause="delivery_stall"}')" = 1 ] || t_fail "stall not counted"
t_log "delivery-stall 3: the hung delivery reset after 100000 bytes, its tmp file removed"

# ---- the spool quota ----
LINGER=0
expect loc1 gw1 "$T_TMP/m1.eml" "stored"
expect loc1 gw1 "$T_TMP/m2.eml" "stored"
expect loc1 gw1 "$T_TMP/m3.eml" "error (quota: the spool holds 2 messages (limit location-spool-messages))"
expect loc2 gw2 "$T_TMP/m2.eml" "stored"
rm "$(ls -d "$S1"/new/* | head -n 1)"                 # the consumer takes one away
sleep 1.1                                              # the relay counts again at most 1/s
expect loc1 gw1 "$T_TMP/m3.eml" "stored"
[ "$(ls "$S1/new" | wc -l)" = 2 ] || t_fail "loc1's spool: $(ls "$S1/new" | wc -l) messages"
[ "$(ls "$S2/new" | wc -l)" = 2 ] || t_fail "loc2's spool: $(ls "$S2/new" | wc -l) messages"
[ -z "$(ls -A "$S1/tmp")$(ls -A "$S2/tmp")" ] || t_fail "tmp/ is not empty: $(ls "$S1/tmp" "$S2/tmp")"
[ "$(metric 'relay_refusals_total{cause="spool_quota"}')" = 1 ] || t_fail "quota not counted"
[ "$(metric 'relay_refusals_total{cause="location_deliveries"}')" = 1 ] ||
    t_fail "the in-flight refusal not counted"
[ "$(metric relay_deliveries_in_flight)" = 0 ] || t_fail "deliveries still counted in flight"
t_log "location-spool-messages 2: loc1's third answered quota (loc2 unaffected), stored once" \
      "the consumer took one away; tmp/ empty"
t_log "ok"
