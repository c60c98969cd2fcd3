#!/usr/bin/env bash
# Delivery version 2 (issue 21: one read of each message on the gateway), with fake
# gateways (test_relay_gw) against the relay's Maildir spool:
#
#   a gateway that offers version 2 gets it, and its message (no hash in the header, the
#   SHA-256 in a trailer after the body) is stored under its SHA-256; the same bytes again
#   are answered "already have it" at the end, their tmp file dropped; a wrong trailer is
#   answered "error (SHA-256 mismatch)" and leaves nothing in new/ or tmp/;
#   a gateway that offers nothing (one from before version 2) delivers version 1 to the
#   same relay, and the two versions dedup each other;
#   a relay with `limit delivery-version 1` (or one from before) agrees version 1 with a
#   gateway that offers 2, and the message is stored.
#
# Usage: test_relay_delivery_v2.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
r_gwcert gw1 loc1
r_config
r_relay
S1=$T_TMP/spool/loc1
for i in 1 2 3 4; do printf 'Subject: mail %s\r\n\r\nbody %s\r\n' "$i" "$i" > "$T_TMP/m$i.eml"; done
head -c 300000 /dev/urandom | base64 > "$T_TMP/big.eml"      # more than one window
# deliver FILE [ARG...]: one delivery on a tunnel of its own; prints its answer line and the
# version the hello agreed
deliver() {
    local f=$1 i; shift
    "$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" --deliver "$f" \
        --exit-after-deliveries "$@" > "$T_TMP/answer" 2>&1 ||
        { cat "$T_TMP/answer"; t_fail "delivery run ($f $*)"; }
    # (the relay takes 4 live tunnels per location: the next run waits for this one's end)
    for ((i = 0; i < 50; i++)); do
        [ "$(grep -c 'tunnel up:' "$T_TMP/relay.log")" = "$(grep -c 'tunnel down:' "$T_TMP/relay.log")" ] && break
        sleep 0.1
    done
    grep -m1 -o 'delivery version [0-9]' "$T_TMP/answer"
    grep -m1 '^delivery /' "$T_TMP/answer"
}
expect() { # FILE "ANSWER" VERSION [ARG...]
    local f=$1 want=$2 ver=$3 got; shift 3
    got=$(deliver "$f" "$@")
    [[ "$got" == "delivery version $ver"$'\n'"delivery $f: $want"* ]] ||
        t_fail "$(basename "$f") $*: '$got', want version $ver and '$want'"
}
stored() { ls "$S1/new" | grep -c "\.$(sha256sum < "$1" | cut -c1-64)\." || true; }

expect "$T_TMP/m1.eml" "stored" 2 --delivery-version 2
[ "$(stored "$T_TMP/m1.eml")" = 1 ] || t_fail "m1 is not in new/ under its SHA-256: $(ls "$S1/new")"
expect "$T_TMP/big.eml" "stored" 2 --delivery-version 2
[ "$(stored "$T_TMP/big.eml")" = 1 ] || t_fail "the big one is not in new/ under its SHA-256"
cmp -s "$T_TMP/big.eml" "$S1/new/$(ls "$S1/new" | grep "$(sha256sum < "$T_TMP/big.eml" | cut -c1-64)")" ||
    t_fail "the big one differs from what was sent"
expect "$T_TMP/m1.eml" "already have it" 2 --delivery-version 2
expect "$T_TMP/m2.eml" "error (SHA-256 mismatch)" 2 --delivery-version 2 --bad-trailer
[ "$(stored "$T_TMP/m2.eml")" = 0 ] || t_fail "a message with a wrong trailer was stored"
[ -z "$(ls -A "$S1/tmp")" ] || t_fail "tmp/ is not empty: $(ls "$S1/tmp")"
t_log "version 2: stored under its SHA-256, the same again already-have-it, a bad trailer refused"

expect "$T_TMP/m2.eml" "stored" 1
expect "$T_TMP/m1.eml" "already have it" 1
expect "$T_TMP/m2.eml" "already have it" 2 --delivery-version 2
t_log "a gateway from before (version 1) stores on the same relay; the versions dedup each other"

kill "$RELAY_PID"
wait "$RELAY_PID" 2> /dev/null || true
r_config "limit delivery-version 1"
: > "$T_TMP/relay.log"
r_relay
expect "$T_TMP/m3.eml" "stored" 1 --delivery-version 2
[ "$(stored "$T_TMP/m3.eml")" = 1 ] || t_fail "m3 is not in new/"
[ "$(ls "$S1/new" | wc -l)" = 4 ] || t_fail "new/ holds $(ls "$S1/new" | wc -l) messages, want 4"
[ -z "$(ls -A "$S1/tmp")" ] || t_fail "tmp/ is not empty: $(ls "$S1/tmp")"
t_log "limit delivery-version 1: a gateway offering 2 delivers version 1, stored"
t_log "ok"
