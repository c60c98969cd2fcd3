#!/usr/bin/env bash
# The relay's `spool lmtp` (issue 19), with fake gateways (test_relay_gw) and Dovecot as the
# mail store (dovecot.sh's dvs_start: LMTP, IMAPS and the relay's Sieve script, configured
# from the files an operator installs, tools/store), in the test's network namespace:
#
#   stored: a message lands in its location's mailbox and reads back over IMAPS (curl)
#   byte for byte behind the one X-Relay-Delivery header: lines that start with a dot, a
#   line of only a dot, 8-bit bytes, a 2000-byte line, 3.3 MB of base64 EDIFACT; the relay
#   writes nothing to disk (it has no spool directory)
#   exactly once: the same message again, to the same relay, to a restarted one (which
#   remembers nothing) and after the consumer deleted the first copy, is answered "stored"
#   and the store keeps nothing more: its duplicate test has the key
#   a mailbox the store does not have (550 to RCPT TO): "rejected", counted
#   (relay_deliveries_total{answer="rejected"}), logged; nothing stored
#   the store stopped: "error (store unavailable: ...)"; started again: stored; over its
#   UNIX socket (spool lmtp unix:PATH): stored
#   a gateway that stops in the middle of a message (limit delivery-stall 3): the delivery
#   is dropped and its LMTP transaction closed without the end of data: the store keeps
#   nothing; meanwhile (limit location-deliveries 1) loc1's next delivery is held back
#   ("quota: 1 deliveries of this location in flight"): one store connection per delivery
#   stores that misbehave (lmtp_fake.py): 452 at the end of data: "error (store refused:
#   452 ...)"; one that never greets, one that stops reading in the middle of a message:
#   "error (store timeout ...)" after limit store-timeout 2
#
# Usage: test_relay_lmtp.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
r_setup "$@"
# Small socket buffers: a store that stops reading is felt within a few hundred KiB.
sysctl -qw net.ipv4.tcp_rmem="4096 32768 65536" net.ipv4.tcp_wmem="4096 32768 65536"
r_gwcert gw1 loc1
r_gwcert gw2 loc2
"$RELAY" token loc2 > "$T_TMP/token-loc2.txt"
STORE=$T_TMP/store
dvs_start "$STORE" "$P/chain-ec.pem" "$P/leaf-ec.key" 127.0.0.1 2424 2993 \
    "loc1@relay.example:pw-loc1"
metric() { curl -sS --max-time 5 http://127.0.0.1:9100/metrics | awk -v m="$1" '$1 == m { print $2 }'; }

# lmtp_conf TARGET [LINE...]: the relay's configuration, spool lmtp TARGET; loc2's mailbox
# is one the store does not have.
lmtp_conf() {
    local target=$1
    shift
    {
        echo "listen 127.0.0.1:7443"
        echo "cert pki/chain-ec.pem key pki/leaf-ec.key"
        echo "client-ca pki/inter.pem"
        echo "socks 127.0.0.1:$SOCKS"
        echo "metrics 127.0.0.1:9100"
        echo "spool lmtp $target"
        echo "$(grep '^location' "$T_TMP/token-loc1.txt") mailbox loc1@relay.example"
        echo "$(grep '^location' "$T_TMP/token-loc2.txt") mailbox nobody@relay.example"
        [ $# = 0 ] || printf '%s\n' "$@"
    } > "$CONF"
}
RUN=0
relay_restart() { # TARGET [LINE...]: the relay again, on a new configuration
    if [ -n "${RELAY_PID:-}" ]; then
        kill "$RELAY_PID"
        wait "$RELAY_PID" 2> /dev/null || true
        mv "$T_TMP/relay.log" "$T_TMP/relay-$((RUN++)).log"
    fi
    lmtp_conf "$@"
    r_relay
}
# deliver LOC CERT FILE: one delivery on a tunnel of its own; prints the answer line
deliver() {
    "$GW" "${GWARGS[@]}" --cert "$P/$2-chain.pem" --key "$P/$2.key" --location "$1" \
        --deliver "$3" --exit-after-deliveries > "$T_TMP/answer" 2>&1 ||
        { cat "$T_TMP/answer"; t_fail "delivery run ($1 $3)"; }
    grep -m1 '^delivery ' "$T_TMP/answer"
}
expect() { # LOC CERT FILE ANSWER
    local got
    got=$(deliver "$1" "$2" "$3")
    [[ "$got" == "delivery $3: $4"* ]] || t_fail "$1 $(basename "$3"): '$got', want '$4...'"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
copies() { # FILE: how many messages with FILE's key loc1's mailbox holds
    dvs_doveadm search -u loc1@relay.example mailbox INBOX \
        HEADER X-Relay-Delivery "loc1/$(sha "$1")" | wc -l
}
# stored_exact FILE: loc1's copy of FILE, read over IMAPS, is the relay's header and FILE
stored_exact() {
    local uid first
    uid=$(dvs_doveadm search -u loc1@relay.example mailbox INBOX \
              HEADER X-Relay-Delivery "loc1/$(sha "$1")" | awk '{ print $2 }')
    [ -n "$uid" ] || t_fail "$(basename "$1") is not in the store"
    curl -sS --max-time 20 --cacert "$P/root.pem" --resolve mail.example.test:2993:127.0.0.1 \
        --user loc1@relay.example:pw-loc1 "imaps://mail.example.test:2993/INBOX;UID=$uid" \
        -o "$T_TMP/fetched" || t_fail "curl could not read UID $uid over IMAPS"
    first=$(head -n 1 "$T_TMP/fetched")
    [[ "$first" =~ ^X-Relay-Delivery:\ loc1/$(sha "$1")\;\ uidvalidity=1700000000\;\ uid=[0-9]+$'\r'$ ]] ||
        t_fail "$(basename "$1"): first line '$first' is not the relay's header"
    tail -c +$((${#first} + 2)) "$T_TMP/fetched" | cmp -s - "$1" ||
        t_fail "$(basename "$1") differs from what the gateway sent, behind the header"
}

# ---- stored, byte-exact behind the header ----
{
    printf 'From: EDI Supplier <edi@supplier.example.test>\r\nSubject: dots\r\n\r\n'
    printf '.a line that starts with a dot\r\n.\r\n..two dots\r\nUTF-8: \xc3\xa4\xc3\xb6\xc3\xbc\r\n'
    head -c 2000 /dev/zero | tr '\0' x
    printf '\r\nlast line\r\n'
} > "$T_TMP/dots.eml"
dv_mail 7 2500000 > "$T_TMP/big.eml"
printf 'Subject: second\r\n\r\nanother\r\n' > "$T_TMP/m2.eml"
printf 'Subject: third\r\n\r\nand one more\r\n' > "$T_TMP/m3.eml"
relay_restart 127.0.0.1:2424
expect loc1 gw1 "$T_TMP/dots.eml" "stored (stored)"
expect loc1 gw1 "$T_TMP/big.eml" "stored (stored)"
stored_exact "$T_TMP/dots.eml"
stored_exact "$T_TMP/big.eml"
[ -z "$(ls -A "$T_TMP/spool")" ] || t_fail "the relay wrote into a spool directory"
t_log "stored: dotted lines, 8-bit bytes, a long line and 3.3 MB read back over IMAPS" \
      "byte-exact behind the X-Relay-Delivery header; nothing on the relay's disk"

# ---- exactly once: again, to a restarted relay, after the consumer deleted it ----
expect loc1 gw1 "$T_TMP/dots.eml" "stored (stored)"
relay_restart 127.0.0.1:2424
expect loc1 gw1 "$T_TMP/dots.eml" "stored (stored)"
[ "$(copies "$T_TMP/dots.eml")" = 1 ] || t_fail "the store holds $(copies "$T_TMP/dots.eml") copies"
dvs_doveadm expunge -u loc1@relay.example mailbox INBOX HEADER X-Relay-Delivery \
    "loc1/$(sha "$T_TMP/dots.eml")" || t_fail "the consumer could not delete"
expect loc1 gw1 "$T_TMP/dots.eml" "stored (stored)"
[ "$(copies "$T_TMP/dots.eml")" = 0 ] || t_fail "delivered again after the consumer took it"
grep -q 'sieve: .*discard action' "$STORE/dovecot.log" || t_fail "the store's duplicate test did not act"
! grep 'duplicate db' "$STORE/dovecot.log" || t_fail "the store's duplicate database failed (above)"
t_log "exactly once: delivered again (same relay, restarted relay, after the consumer" \
      "deleted it): 'stored' each time, one copy, then none: the store's duplicate test"

# ---- a mailbox the store does not have ----
expect loc2 gw2 "$T_TMP/m2.eml" "rejected (store rejected: 550 5.1.1 <nobody@relay.example>"
grep -q 'delivery: location=loc2 .*verdict="store rejected: 550 5.1.1 <nobody@relay.example>.*(RCPT TO)"' \
    "$T_TMP/relay.log" || t_fail "no delivery line with the store's 550"
[ "$(metric 'relay_deliveries_total{answer="rejected"}')" = 1 ] || t_fail "rejection not counted"
t_log "a mailbox the store lacks: 550 to RCPT TO answered 'rejected', logged and counted"

# ---- the store stopped, started again; its UNIX socket ----
dvs_stop
expect loc1 gw1 "$T_TMP/m2.eml" "error (store unavailable: connect 127.0.0.1:2424: Connection refused)"
dvs_restart
expect loc1 gw1 "$T_TMP/m2.eml" "stored (stored)"
relay_restart "unix:$STORE/run/lmtp"
expect loc1 gw1 "$T_TMP/m3.eml" "stored (stored)"
stored_exact "$T_TMP/m2.eml"
stored_exact "$T_TMP/m3.eml"
t_log "store stopped: 'error (store unavailable ...)'; back: stored; over unix:PATH: stored"

# ---- a gateway that stops mid-message: nothing half-stored; one connection per delivery ----
relay_restart 127.0.0.1:2424 "limit delivery-stall 3" "limit location-deliveries 1"
dv_mail 8 2500000 > "$T_TMP/stalled.eml"
r_gw stall gw1 --deliver "$T_TMP/stalled.eml" --stall-after 100000
for ((i = 0; i < 50; i++)); do
    [ "$(metric relay_deliveries_in_flight)" = 1 ] && break
    sleep 0.1
done
[ "$(metric relay_deliveries_in_flight)" = 1 ] || t_fail "the stalled delivery is not in flight"
expect loc1 gw1 "$T_TMP/m3.eml" "error (quota: 1 deliveries of this location in flight"
t_wait_log relay 'delivery: location=loc1 tunnel=[0-9]+ stream=[0-9]+ dropped: no byte for 3 s' 6
sleep 0.5
[ "$(copies "$T_TMP/stalled.eml")" = 0 ] || t_fail "the store kept a message cut short"
t_log "a gateway stalled mid-message: dropped after 3 s, the store kept nothing of it;" \
      "meanwhile location-deliveries 1 held loc1's next delivery back"

# ---- stores that misbehave ----
fake() { # MODE PORT
    python3 "$T_DIR/lmtp_fake.py" "$1" "$2" > "$T_TMP/fake-$1.log" 2>&1 &
    T_PIDS+=($!)
    for ((i = 0; i < 50; i++)); do dv_port_open 127.0.0.1 "$2" && return 0; sleep 0.1; done
    t_fail "lmtp_fake.py $1 did not listen"
}
fake tempfail 2525
fake silent 2526
fake noread 2527
relay_restart 127.0.0.1:2525 "limit store-timeout 2"
expect loc1 gw1 "$T_TMP/m2.eml" "error (store refused: 452 4.2.2 Mailbox is full (the end of data))"
relay_restart 127.0.0.1:2526 "limit store-timeout 2"
expect loc1 gw1 "$T_TMP/m2.eml" \
    "error (store timeout: nothing for 2 s (limit store-timeout) waiting for the greeting)"
relay_restart 127.0.0.1:2527 "limit store-timeout 2"
head -c 4000000 /dev/urandom > "$T_TMP/random.eml"
expect loc1 gw1 "$T_TMP/random.eml" \
    "error (store timeout: nothing for 2 s (limit store-timeout) waiting for it to take the message)"
[ "$(metric relay_deliveries_in_flight)" = 0 ] || t_fail "deliveries still counted in flight"
t_log "452 at the end of data: error; a store that never greets or stops reading: error" \
      "after store-timeout 2"
t_log "ok"
