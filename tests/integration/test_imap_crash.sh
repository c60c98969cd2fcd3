#!/usr/bin/env bash
# Crash safety of the IMAP receiver (issue 7): nothing lost, nothing twice.
#
#   - 300 generated mails (10 of ~2.9 MiB, so kills land mid-message too); the gateway is
#     killed with SIGKILL at random moments (0.1..5 s after each start) and restarted, many
#     times; then the relay is killed and restarted at random moments while the gateway
#     runs; at the end the spool holds each of the 300 exactly once, byte-exact, and the
#     INBOX is empty (after delete applied to all of them).
#   - then one more mail, the batch's only and last delivery, and the relay killed while it
#     commits it (strace holds the relay's fsyncs 2 s, the kill 0.5 s into the first): the
#     batch ends with no tunnel, so the receiver waits in IDLE for one and then searches
#     again on its own (no new mail arrives to wake it); the relay, restarted, gets the
#     mail again, and it is in the spool once, the INBOX empty.
#
# Usage: test_imap_crash.sh GATEWAY RELAY MAKE_PKI [GATEWAY_KILLS] [RELAY_KILLS]
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3 KILLS=${4:-25} RKILLS=${5:-6}
N=300 NLARGE=10
. "$(dirname "$0")/imap_e2e.sh"
e2e_setup $N $NLARGE
RANDOM=$$

# ---- the gateway killed again and again ----
for ((k = 1; k <= KILLS; k++)); do
    e2e_gateway_start
    # 0.1 .. 5 s: before the tunnel is up, while hashing, mid-delivery, before the
    # relay's answer, between the answer and the after-action, in the after-action.
    sleep "$(printf '%d.%03d' $((RANDOM % 5)) $((100 + RANDOM % 900)))"
    kill -9 "$E2E_GW_PID"
    wait "$E2E_GW_PID" 2> /dev/null || true
done
t_log "gateway killed $KILLS times: spool $(spool_count), INBOX $(dv_count INBOX)"

# ---- the relay killed and restarted under a running gateway ----
e2e_gateway_start
for ((k = 1; k <= RKILLS && $(dv_count INBOX) > 0; k++)); do
    sleep "$(printf '0.%03d' $((200 + RANDOM % 800)))"
    kill -9 "$E2E_RELAY_PID"
    wait "$E2E_RELAY_PID" 2> /dev/null || true
    sleep 0.3
    e2e_relay_start
done
t_log "relay killed $((k - 1)) times: spool $(spool_count), INBOX $(dv_count INBOX)"

# ---- then it runs to the end ----
for ((i = 0; i < 1800 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "INBOX still holds $(dv_count INBOX) after 180 s"
[ "$(spool_count)" = $N ] || t_fail "spool holds $(spool_count) files, expected $N"
for ((i = 1; i <= N; i++)); do in_spool $i $((i <= NLARGE ? E2E_LARGE_BYTES : 0)); done
dups=$(grep -c 'already delivered' "$T_TMP/gw.log" || true)
t_log "all $N mails in the spool exactly once, byte-exact; INBOX empty; $dups re-deliveries answered 'already have it'"

# ---- the relay killed while it commits the batch's last delivery ----
e2e_relay_restart KILL strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:delay_enter=2000000
LAST=$((N + 1))
dv_append INBOX $LAST
e2e_wait_tmp "mail $LAST"          # its bytes are in tmp/: the commit's fsyncs begin
sleep 0.5
[ "$(spool_count)" = $N ] || t_fail "mail $LAST in new/ 0.5 s into a commit whose fsyncs take 2 s"
kill -9 "$E2E_RELAY_PID"
wait "${T_PIDS[-2]}" 2> /dev/null || true     # strace, once its relay is gone
e2e_relay_start
for ((i = 0; i < 300 && $(spool_count) < LAST; i++)); do sleep 0.1; done
[ "$(spool_count)" = $LAST ] || t_fail "mail $LAST: not delivered again within 30 s of the relay's restart (spool $(spool_count))"
in_spool $LAST 0
for ((i = 0; i < 100 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "INBOX holds $(dv_count INBOX) after mail $LAST was stored"
t_log "the relay killed 0.5 s into the commit of the batch's last delivery: delivered again once the relay was back, once, byte-exact; INBOX empty"
t_log PASS
