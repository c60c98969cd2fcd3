#!/usr/bin/env bash
# The IMAP receiver end to end (issue 7), inside a network namespace this test creates:
#
#   Dovecot (192.0.2.1:143/993) <--mapping-- gateway (lwIP on TAP 192.0.2.2) --mutual TLS +
#   yamux--> relay --> SPOOL/loc1/new
#
#   - provisioned over the console language (--batch): identity, trust, mappings, and
#     `set imap ...` with security starttls through a tcp mapping (the gateway checks
#     Dovecot's chain against the *virtual* name mail.example.test), after delete;
#   - 50 generated market mails (3 of ~2.9 MiB) end up in the spool exactly once, byte-exact
#     (the spool file names carry the SHA-256), and the INBOX is empty afterwards;
#   - IDLE: a mail appended while the receiver idles reaches the spool within seconds;
#   - a second copy of an already delivered mail is answered "already have it" by the relay:
#     no second spool file, and it still leaves the INBOX;
#   - each message is read once from the server (delivery version 2): Dovecot's count of
#     bodies fetched in the first session is the number of messages, asked in one UID
#     FETCH per batch (the session's command bytes stay small);
#   - security off through a tls mapping to 993 with after seen, then implicit TLS through a
#     tcp mapping to 993 with after move: each applied on the server;
#   - pipelining: with the relay stopped, 16 deliveries go in flight (show imap), then all
#     are stored once; a relay with limit location-deliveries 3 says so in its hello
#     answer and the gateway keeps 3 in flight, none answered "quota:";
#   - `show imap` reports state, capabilities and counters.
#
# Usage: test_imap_receiver.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
. "$(dirname "$0")/imap_e2e.sh"
LARGE=$E2E_LARGE_BYTES
e2e_setup 50 3
t_log "provisioned: receiver on mail.example.test:143 (tcp mapping), starttls, after delete"
e2e_gateway_start

start=$(date +%s.%N)
wait_spool 50 120
secs=$(echo "$(date +%s.%N) - $start" | bc)
for ((i = 1; i <= 50; i++)); do in_spool $i $((i <= 3 ? LARGE : 0)); done
for ((i = 0; i < 50 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "after delete the INBOX still holds $(dv_count INBOX)"
[ "$(spool_count)" = 50 ] || t_fail "spool holds $(spool_count), expected 50"
t_log "starttls + delete: 50 mails (3 of ~2.9 MiB) in the spool exactly once, byte-exact, in ${secs}s (from boot); INBOX empty"

# ---- IDLE ----
sleep 1
start=$(date +%s.%N)
dv_append INBOX 51
wait_spool 51 10
secs=$(echo "$(date +%s.%N) - $start" | bc)
in_spool 51 0
t_log "IDLE: a mail appended while idle reached the spool ${secs}s later"

# ---- a duplicate: the relay already has it ----
dv_append INBOX 7
for ((i = 0; i < 100 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "the duplicate stayed in the INBOX"
[ "$(spool_count)" = 51 ] || t_fail "the duplicate made a second spool file"
grep -q 'imap: UID .* already delivered' "$T_TMP/gw.log" || t_fail "no 'already delivered' in the log"
t_log "duplicate: answered 'already have it', no second file, removed from the INBOX"

console "show imap"
sleep 1
grep -q 'delivered: 51 messages' "$T_TMP/gw.log" || { grep -A8 '^imap:' "$T_TMP/gw.log"; t_fail "show imap"; }
grep -q '^caps: .*IDLE' "$T_TMP/gw.log" || t_fail "show imap: no capabilities"
t_log "show imap: $(grep -m1 '^imap:' "$T_TMP/gw.log"); $(grep -m1 '^delivered:' "$T_TMP/gw.log")"

# ---- security off through a tls mapping (993), after seen ----
# (the configuration first: mails appended before it would be deleted by the old one)
logins=$(grep -c 'imap: logged in' "$T_TMP/gw.log")
console "set imap server imaps.example.test:143" "set imap security off" "set imap after seen" "commit"
for ((i = 0; i < 100 && $(grep -c 'imap: logged in' "$T_TMP/gw.log") == logins; i++)); do sleep 0.1; done
for i in 60 61 62; do dv_append INBOX $i; done
# One read per message (delivery version 2, issue 21): the first session fetched the 52
# messages above (the 50, the one appended while idle, the duplicate) once each, as Dovecot
# counts at the session's end (version 1 read each twice: 104).
for ((i = 0; i < 50 && $(grep -c 'Disconnected.*body_count=' "$DV_DIR/dovecot.log") == 0; i++)); do sleep 0.1; done
fetched=$(grep -m1 -o 'Disconnected.*body_count=[0-9]*' "$DV_DIR/dovecot.log" | sed 's/.*body_count=//')
[ "$fetched" = 52 ] || t_fail "the first session fetched ${fetched:-no count of} message bodies, want 52 (one read each)"
t_log "one read per message: the first session fetched 52 bodies for 52 messages"
# One command per batch: the messages found by a search are asked in one UID FETCH, not one
# each (52 would be ~1.5 KB of commands alone): all the session sent Dovecot stays small.
sent=$(grep -m1 -o 'Disconnected.* in=[0-9]*' "$DV_DIR/dovecot.log" | sed 's/.* in=//')
[ -n "$sent" ] && [ "$sent" -lt 1200 ] ||
    t_fail "the first session sent ${sent:-?} bytes of commands for 52 messages: one FETCH each?"
t_log "one FETCH per batch: the first session sent $sent bytes of commands"
# Mail 63 was read by a person before the receiver came to it (\Seen in its Maildir name):
# it is still delivered, since the receiver's own keyword, not \Seen, says what it delivered.
dv_mail 63 > "$DV_DIR/Maildir/tmp/read.63"
chown "$DV_MAIL_USER" "$DV_DIR/Maildir/tmp/read.63"
mv "$DV_DIR/Maildir/tmp/read.63" "$DV_DIR/Maildir/cur/1800000063.M63P1.gwtest:2,S"
wait_spool 55 30
for i in 60 61 62 63; do in_spool $i 0; done
kw() { dv_count INBOX 'KEYWORD $GatewayDelivered'; }
for ((i = 0; i < 50 && $(kw) < 4; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 4 ] && [ "$(dv_count INBOX UNSEEN)" = 0 ] && [ "$(kw)" = 4 ] ||
    t_fail "after seen: INBOX $(dv_count INBOX), unseen $(dv_count INBOX UNSEEN), marked $(kw)"
t_log "off through a tls mapping + seen: 4 delivered (one read by a person first), kept on the server, \\Seen and \$GatewayDelivered"

# ---- UIDVALIDITY changes (the folder was rebuilt): the same mails, unseen again, are new
# UIDs to us; the relay's SHA-256 dedup answers "already have it": no second spool file.
dups=$(grep -c 'already delivered' "$T_TMP/gw.log")
dv_doveadm flags remove -u "$DV_USER" '\Seen $GatewayDelivered' mailbox INBOX all
dv_doveadm mailbox update -u "$DV_USER" --uid-validity 4242 INBOX
console "set imap poll 2" "commit"      # the session restarts and selects again
for ((i = 0; i < 150 && $(dv_count INBOX UNSEEN) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX UNSEEN)" = 0 ] || t_fail "after the UIDVALIDITY change $(dv_count INBOX UNSEEN) stay unseen"
[ "$(spool_count)" = 55 ] || t_fail "after the UIDVALIDITY change the spool holds $(spool_count), expected 55"
[ "$(grep -c 'already delivered' "$T_TMP/gw.log")" -ge $((dups + 4)) ] || t_fail "no duplicate answers"
t_log "UIDVALIDITY changed to 4242: the 4 mails seen again as new, answered 'already have it', no new spool file"

# ---- implicit TLS through a tcp mapping to 993, after move ----
dv_doveadm expunge -u "$DV_USER" mailbox INBOX all
logins=$(grep -c 'imap: logged in' "$T_TMP/gw.log")
console "set imap server mail.example.test:993" "set imap security tls" "set imap after move Archive" "commit"
for ((i = 0; i < 100 && $(grep -c 'imap: logged in' "$T_TMP/gw.log") == logins; i++)); do sleep 0.1; done
for i in 70 71; do dv_append INBOX $i; done
wait_spool 57 30
for i in 70 71; do in_spool $i 0; done
for ((i = 0; i < 50 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] && [ "$(dv_count Archive)" = 2 ] ||
    t_fail "after move: INBOX $(dv_count INBOX), Archive $(dv_count Archive)"
t_log "tls through a tcp mapping + move Archive: 2 delivered and moved"

# ---- set imap max-size: a larger message stays on the server and is reported ----
console "set imap max-size 100000" "commit"
dv_append INBOX 80 400000
dv_append INBOX 81
wait_spool 58 30
in_spool 81 0
t_wait_log gw 'imap: UID [0-9]+: [0-9]+ bytes, over the 100000 of set imap max-size: left on the server' 10
[ "$(dv_count INBOX)" = 1 ] || t_fail "max-size: INBOX holds $(dv_count INBOX), expected the big one"
[ "$(spool_count)" = 58 ] || t_fail "max-size: the spool holds $(spool_count), expected 58"
t_log "max-size 100000: the ~530 KB mail left on the server and reported, the small one delivered"

# wait_in_flight N: asks "show imap" until it says N deliveries in flight (at most N), 10 s
wait_in_flight() {
    local i
    for ((i = 0; i < 50; i++)); do
        console "show imap"
        sleep 0.2
        grep -q "^in flight: $1 deliveries (at most $1)" "$T_TMP/gw.log" && return 0
    done
    return 1
}

# ---- pipelining: the next message is read while the relay stores the last ----
# The relay stopped: the receiver reads and sends messages until 16 deliveries are in flight
# (the relay's location-deliveries, said in its hello answer; one at a time before issue
# 21, then 4), then waits; resumed, all are stored once.
# (appended to another folder, then moved into INBOX at once: one search finds all 18)
dv_doveadm mailbox create -u "$DV_USER" Staging
for ((i = 90; i < 108; i++)); do dv_append Staging $i; done
kill -STOP "$E2E_RELAY_PID"
dv_doveadm move -u "$DV_USER" INBOX mailbox Staging all
wait_in_flight 16 || true
kill -CONT "$E2E_RELAY_PID"
grep -q '^in flight: 16 deliveries (at most 16)' "$T_TMP/gw.log" ||
    t_fail "with the relay stopped, never 16 deliveries in flight: $(grep '^in flight' "$T_TMP/gw.log" | sort | uniq -c | tr '\n' ' ')"
! grep -q '^in flight: 1[7-9] ' "$T_TMP/gw.log" || t_fail "more than 16 deliveries in flight"
wait_spool 76 30
for ((i = 90; i < 108; i++)); do in_spool $i 0; done
for ((i = 0; i < 50 && $(dv_count Archive) < 21; i++)); do sleep 0.1; done
[ "$(spool_count)" = 76 ] && [ "$(dv_count Archive)" = 21 ] ||
    t_fail "pipelining: spool $(spool_count) (want 76), Archive $(dv_count Archive) (want 21)"
! grep -q 'quota:' "$T_TMP/gw.log" || t_fail "a delivery beyond the relay's limit: $(grep -m1 'quota:' "$T_TMP/gw.log")"
t_log "pipelining: 16 deliveries in flight while the relay was stopped; resumed, 18 stored once and moved"

# ---- a relay with a lower limit says so in its hello answer: the pipeline is no deeper
# (a relay from before says nothing: 4), and nothing is answered "quota:"
ups=$(grep -c 'tunnel: relay .* up' "$T_TMP/gw.log")
kill "$E2E_RELAY_PID"
wait "$E2E_RELAY_PID" 2> /dev/null || true
echo "limit location-deliveries 3" >> "$T_TMP/relay.conf"
e2e_relay_start
for ((i = 0; i < 300 && $(grep -c 'tunnel: relay .* up' "$T_TMP/gw.log") == ups; i++)); do sleep 0.1; done
[ "$(grep -c 'tunnel: relay .* up' "$T_TMP/gw.log")" -gt "$ups" ] || t_fail "the tunnel did not come up again"
for ((i = 110; i < 116; i++)); do dv_append Staging $i; done
kill -STOP "$E2E_RELAY_PID"
dv_doveadm move -u "$DV_USER" INBOX mailbox Staging all
wait_in_flight 3 || true
sleep 0.5
console "show imap"
sleep 0.2
kill -CONT "$E2E_RELAY_PID"
grep -q '^in flight: 3 deliveries (at most 3)' "$T_TMP/gw.log" ||
    t_fail "location-deliveries 3: never 3 in flight: $(grep '^in flight' "$T_TMP/gw.log" | sort | uniq -c | tr '\n' ' ')"
! grep -qE '^in flight: ([4-9]|[1-9][0-9]) deliveries \(at most 3\)' "$T_TMP/gw.log" ||
    t_fail "more than 3 in flight with location-deliveries 3"
wait_spool 82 30
for ((i = 110; i < 116; i++)); do in_spool $i 0; done
! grep -q 'quota:' "$T_TMP/gw.log" || t_fail "a delivery beyond the relay's limit: $(grep -m1 'quota:' "$T_TMP/gw.log")"
t_log "location-deliveries 3 (in the hello answer): 3 in flight at most, none refused for quota, 6 stored"

# ---- a refused pairing: off over a tcp mapping never sends the password in clear ----
console "set imap server mail.example.test:143" "set imap security off" "commit" "show imap"
sleep 2
grep -q 'security off needs a tls mapping' "$T_TMP/gw.log" || t_fail "off over a tcp mapping was not refused"
t_log "off over a tcp mapping: refused ($(grep -m1 -o 'security off needs a tls mapping[^)]*)' "$T_TMP/gw.log"))"
t_log PASS
