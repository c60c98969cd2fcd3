#!/usr/bin/env bash
# Group commit of the Maildir spool (issue 21): deliveries of one location that end in the
# same turn of the relay's event loop share the fsync of new/ and the index append and its
# fsync. A fake gateway keeps 4 deliveries in flight (as the gateway's pipeline does) and
# sends 24 messages; the relay runs under `strace -f -e trace=fsync`:
#
#   every message is answered "stored", is in new/ and has its index line (nothing is
#   answered before its group lasts, nothing is lost from a group);
#   the relay made fewer fsyncs than 3 per message (one per file, then one of new/ and one
#   of the index per group: 72 without grouping), and relay_spool_commit_groups_total
#   counts fewer groups than messages, relay_spool_commit_grouped_total all of them;
#   the files of a group are fsynced by several threads at once (fsync_pool.c: a journal
#   commits fsyncs that wait together once).
#
#   then the fsync of new/ fails (strace injects EIO) for the first group: each of its
#   members is answered "error" and stays in new/ (unsettled, as test_relay_spool_full
#   has it for one), the others are stored; the same messages again are all answered
#   "already have it", and new/ holds one copy of each.
#
#   then each thread's first fsync of a file fails (strace counts per thread; done in the
#   group commit since the files' writeback starts as their bytes come): exactly those
#   members are answered "error", their tmp files removed, a line each, the rest stored;
#   the retry (a relay restarted) stores them, once.
#
#   then the gateway is killed while its group commits (strace holds every fsync for
#   1.5 s, the kill comes 0.5 s into the first): the relay lives on, what the group held is
#   durable (new/ and the index hold each member once), the tunnel's end is logged; the
#   gateway's retry (it never had the answers) is answered "already have it" for those and
#   "stored" for the rest, nothing twice, nothing left in tmp/.
#
# Usage: test_relay_group_commit.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
command -v strace > /dev/null || t_fail "strace is needed to count the fsyncs"
r_gwcert gw1 loc1
r_config
r_relay strace -f -qq -o "$T_TMP/fsync.txt" -e trace=fsync
S1=$T_TMP/spool/loc1
N=24
args=()
for ((i = 0; i < N; i++)); do
    { printf 'Subject: mail %s\r\n\r\n' "$i"; head -c 20000 /dev/urandom | base64; } > "$T_TMP/m$i.eml"
    args+=(--deliver "$T_TMP/m$i.eml")
done
deliver() { # --deliver FILE...: 4 in flight, as the gateway's pipeline; answers in answers
    "$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" --delivery-version 2 \
        --in-flight 4 "$@" --exit-after-deliveries > "$T_TMP/answers" 2>&1 ||
        { cat "$T_TMP/answers"; t_fail "the delivery run failed"; }
}
deliver "${args[@]}"
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
kill "$RELAY_PID"
wait "${T_PIDS[-2]}" 2> /dev/null || true     # strace, once its relay is gone
f=$(grep -c 'fsync.*= 0$' "$T_TMP/fsync.txt" || true)     # whole, or resumed after a wait
[ "$f" -gt 0 ] || { cat "$T_TMP/fsync.txt"; t_fail "no fsync seen by strace"; }
[ "$f" -lt $((3 * N)) ] || t_fail "$f fsyncs for $N messages: not fewer than 3 each"
th=$(awk '/fsync/ { print $1 }' "$T_TMP/fsync.txt" | sort -u | wc -l)
[ "$th" -gt 1 ] || t_fail "all fsyncs in one thread: the group's files one after the other"
t_log "$N messages, 4 in flight: all stored and indexed, $f fsyncs (3 each: $((3 * N))), $groups groups," \
      "fsyncs from $th threads"

# ---- the fsync of new/ fails for a group: every member is answered "error" and stays in
# new/ unsettled; the retry settles each ("already have it"): one copy of each, never two
rm -f "$S1"/new/* "$S1/.relay-index"
mv "$T_TMP/relay.log" "$T_TMP/relay-count.log"
r_relay strace -f -qq -o /dev/null -P "$S1/new" -e trace=fsync -e inject=fsync:error=EIO:when=1
deliver "${args[@]}"
e=$(grep -c '^delivery .*: error (relay cannot write its spool)' "$T_TMP/answers" || true)
s=$(grep -c '^delivery .*: stored' "$T_TMP/answers" || true)
[ "$e" -ge 1 ] && [ $((e + s)) = "$N" ] || { cat "$T_TMP/answers"; t_fail "fsync of new/ failed: $e error, $s stored"; }
[ "$(grep -c 'spool_commit_group: .*fsync: I[^:]* error: .* stays in new/' "$T_TMP/relay.log")" = "$e" ] ||
    t_fail "not one line per member of the failed group"
[ "$(ls "$S1/new" | wc -l)" = "$N" ] || t_fail "new/ holds $(ls "$S1/new" | wc -l), want $N"
for ((i = 0; i < 50; i++)); do     # (4 live tunnels per location: wait for this one's end)
    [ "$(grep -c 'tunnel up:' "$T_TMP/relay.log")" = "$(grep -c 'tunnel down:' "$T_TMP/relay.log")" ] && break
    sleep 0.1
done
deliver "${args[@]}"
d=$(grep -c '^delivery .*: already have it' "$T_TMP/answers" || true)
[ "$d" = "$N" ] || { cat "$T_TMP/answers"; t_fail "the retry: $d of $N already have it"; }
[ "$(ls "$S1/new" | wc -l)" = "$N" ] || t_fail "after the retry new/ holds $(ls "$S1/new" | wc -l), want $N"
t_log "fsync of new/ failed for a group: its $e members error, left in new/; the retry: $N already have it, $N files"

# ---- a file's own fsync fails (it is done in the group commit now): that member alone is
# answered "error", its tmp file removed; the others of its group are stored; the retry
# stores it once
kill "$RELAY_PID"
wait "${T_PIDS[-2]}" 2> /dev/null || true     # strace, once its relay is gone
rm -f "$S1"/new/* "$S1/.relay-index"
mv "$T_TMP/relay.log" "$T_TMP/relay-newfail.log"
r_relay strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:when=1
deliver "${args[@]}"
e=$(grep -c '^delivery .*: error (relay cannot write its spool)' "$T_TMP/answers" || true)
s=$(grep -c '^delivery .*: stored' "$T_TMP/answers" || true)
[ "$e" -ge 1 ] && [ "$s" -ge 1 ] && [ $((e + s)) = "$N" ] ||
    { cat "$T_TMP/answers"; t_fail "files' fsyncs failed: $e error, $s stored"; }
[ "$(grep -c 'tmp_close_synced: .*: fsync: I[^:]* error' "$T_TMP/relay.log")" = "$e" ] ||
    t_fail "not one line for each of the $e failed fsyncs"
[ "$(ls "$S1/new" | wc -l)" = "$s" ] && [ "$(ls "$S1/tmp" | wc -l)" = 0 ] ||
    t_fail "new/ holds $(ls "$S1/new" | wc -l) (want $s), tmp/ $(ls "$S1/tmp" | wc -l) (want 0)"
[ "$(wc -l < "$S1/.relay-index")" = "$s" ] || t_fail "the index has $(wc -l < "$S1/.relay-index") lines"
# The retry by a relay without strace (its injection counts per thread: threads that had
# no fsync yet would fail theirs now); what it knows comes from the spool and its index.
kill "$RELAY_PID"
wait "${T_PIDS[-2]}" 2> /dev/null || true
mv "$T_TMP/relay.log" "$T_TMP/relay-filefail.log"
r_relay
deliver "${args[@]}"
s=$(grep -c '^delivery .*: stored' "$T_TMP/answers" || true)
d=$(grep -c '^delivery .*: already have it' "$T_TMP/answers" || true)
[ "$s" = "$e" ] && [ "$d" = $((N - e)) ] ||
    { cat "$T_TMP/answers"; t_fail "the retry: $s stored, $d already have it (want $e, $((N - e)))"; }
[ "$(ls "$S1/new" | wc -l)" = "$N" ] || t_fail "after the retry new/ holds $(ls "$S1/new" | wc -l), want $N"
t_log "$e files' fsyncs failed: those $e error (tmp removed), $((N - e)) stored; the retry stores them once"

# ---- the gateway dies while its group commits: what the group held is durable, the relay
# lives on, and the retry is answered from the spool for those, stored for the rest
kill "$RELAY_PID"
wait "$RELAY_PID" 2> /dev/null || true
rm -f "$S1"/new/* "$S1/.relay-index"
mv "$T_TMP/relay.log" "$T_TMP/relay-retry.log"
r_relay strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:delay_enter=1500000
K=4                                # (deliver's in-flight)
r_gw gw-killed gw1 --delivery-version 2 --in-flight $K "${args[@]:0:$((2 * K))}" --exit-after-deliveries
gwpid=${T_PIDS[-1]}
# The first message reaches tmp/ and its group commits with those of the K that completed in
# the same turn of the relay's loop; the loop is blocked meanwhile, so how many of the K are
# in tmp/ then (1 to K) depends on how their frames arrived.
for ((i = 0; i < 100; i++)); do
    [ -n "$(ls "$S1/tmp")" ] && break
    sleep 0.05
done
[ -n "$(ls "$S1/tmp")" ] || t_fail "no message reached tmp/"
sleep 0.5
[ -z "$(ls "$S1/new")" ] || t_fail "new/ has files 0.5 s into a commit whose fsyncs take 1.5 s each"
kill -9 "$gwpid"
t_wait_log relay 'tunnel down: location=loc1' 30
# The loop is blocked while a group commits: a scrape answered means every commit is over.
curl -sS --max-time 30 http://127.0.0.1:9100/metrics > /dev/null || t_fail "metrics after the drop"
kill -0 "$RELAY_PID" || t_fail "the relay died"
if grep -q '^delivery .*: ' "$T_TMP/gw-killed.log"; then
    t_fail "the killed gateway had an answer: $(grep '^delivery' "$T_TMP/gw-killed.log" | head -n 1)"
fi
n=$(ls "$S1/new" | wc -l)
((n >= 1 && n <= K)) || t_fail "after the drop new/ holds $n (want 1 to $K: the group under way)"
[ "$(wc -l < "$S1/.relay-index")" = "$n" ] ||
    t_fail "after the drop the index has $(wc -l < "$S1/.relay-index") lines, new/ $n files"
deliver "${args[@]:0:$((2 * K))}"
d=$(grep -c '^delivery .*: already have it' "$T_TMP/answers" || true)
s=$(grep -c '^delivery .*: stored' "$T_TMP/answers" || true)
[ "$d" = "$n" ] && [ "$s" = $((K - n)) ] ||
    { cat "$T_TMP/answers"; t_fail "the retry after the drop: $d already have it, $s stored (want $n, $((K - n)))"; }
[ "$(ls "$S1/new" | wc -l)" = $K ] && [ "$(wc -l < "$S1/.relay-index")" = $K ] &&
    [ -z "$(ls "$S1/tmp")" ] ||
    t_fail "after the retry new/ holds $(ls "$S1/new" | wc -l), the index $(wc -l < "$S1/.relay-index") lines, tmp/ $(ls "$S1/tmp" | wc -l)"
t_log "the gateway killed 0.5 s into its group's commit: the relay lived on, the $n committed durable;" \
      "the retry: $n already have it, $((K - n)) stored, $K files, tmp/ empty"
t_log "ok"
