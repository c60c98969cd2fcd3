#!/usr/bin/env bash
# Group commit of the Maildir spool (issue 21): deliveries of one location that end in the
# same turn of the relay's event loop share the fsync of new/ and the index append and its
# fsync. A fake gateway keeps 4 deliveries in flight (as the gateway's pipeline does) and
# sends 24 messages; the relay runs under `strace -c -e trace=fsync`:
#
#   every message is answered "stored", is in new/ and has its index line (nothing is
#   answered before its group lasts, nothing is lost from a group);
#   the relay made fewer fsyncs than 3 per message (one per file, then one of new/ and one
#   of the index per group: 72 without grouping), and relay_spool_commit_groups_total
#   counts fewer groups than messages, relay_spool_commit_grouped_total all of them.
#
# The fsync failures of a group's members: test_relay_spool_full.
#
# Usage: test_relay_group_commit.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
command -v strace > /dev/null || t_fail "strace is needed to count the fsyncs"
r_gwcert gw1 loc1
r_config
r_relay strace -f -qq -c -o "$T_TMP/fsync.txt" -e trace=fsync
S1=$T_TMP/spool/loc1
N=24
args=()
for ((i = 0; i < N; i++)); do
    { printf 'Subject: mail %s\r\n\r\n' "$i"; head -c 20000 /dev/urandom | base64; } > "$T_TMP/m$i.eml"
    args+=(--deliver "$T_TMP/m$i.eml")
done
"$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" --delivery-version 2 \
    --in-flight 4 "${args[@]}" --exit-after-deliveries > "$T_TMP/answers" 2>&1 ||
    { cat "$T_TMP/answers"; t_fail "the delivery run failed"; }
n=$(grep -c '^delivery .*: stored' "$T_TMP/answers" || true)
[ "$n" = "$N" ] || { cat "$T_TMP/answers"; t_fail "$n of $N answered stored"; }
[ "$(ls "$S1/new" | wc -l)" = "$N" ] || t_fail "new/ holds $(ls "$S1/new" | wc -l), want $N"
[ "$(wc -l < "$S1/.relay-index")" = "$N" ] ||
    t_fail "the index has $(wc -l < "$S1/.relay-index") lines, want $N"
m=$(curl -sS --max-time 5 http://127.0.0.1:9100/metrics) || t_fail "metrics"
groups=$(sed -n 's/^relay_spool_commit_groups_total //p' <<< "$m")
grouped=$(sed -n 's/^relay_spool_commit_grouped_total //p' <<< "$m")
[ "$grouped" = "$N" ] || t_fail "relay_spool_commit_grouped_total '$grouped', want $N"
[ -n "$groups" ] && [ "$groups" -lt "$N" ] ||
    t_fail "relay_spool_commit_groups_total '$groups': no group of more than one delivery"
# strace writes its count when the relay ends.
kill "$RELAY_PID"
for ((i = 0; i < 50; i++)); do [ -s "$T_TMP/fsync.txt" ] && break; sleep 0.1; done
f=$(awk '$NF == "fsync" { print $4 }' "$T_TMP/fsync.txt")
[ -n "$f" ] || { cat "$T_TMP/fsync.txt"; t_fail "no fsync count from strace"; }
[ "$f" -lt $((3 * N)) ] || t_fail "$f fsyncs for $N messages: not fewer than 3 each"
t_log "$N messages, 4 in flight: all stored and indexed, $f fsyncs (3 each: $((3 * N))), $groups groups"
t_log "ok"
