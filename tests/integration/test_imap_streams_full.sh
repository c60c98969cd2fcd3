#!/usr/bin/env bash
# The receiver while the relay's streams fill the gateway's stream table:
#
#   - the relay lets loc1 hold more streams than the gateway has slots (limit
#     location-streams 1100); a SOCKS5 client opens streams to an internal server that
#     never accepts, until one is refused: the gateway refuses the relay's streams 16 slots
#     short of its 1024, the slots its own deliveries may take;
#   - three mails appended meanwhile (IDLE tells of them) are stored at once, each once,
#     with no delivery ever short of a stream, while the client still holds its streams;
#   - the client lets its streams go and the server goes away;
#   - the relay is stopped (SIGTERM) in the body of a fourth mail (strace holds its writes
#     20 ms each): it sends GoAway and closes its listeners, takes and answers that delivery
#     ("stored", not cut) and only then exits; the fifth mail of the same batch finds the
#     tunnel taking no stream: the receiver leaves it unread and delivers it to the relay
#     started next, with no new mail to wake it;
#   - the relay's spool at its quota (location-spool-messages 5): a sixth mail is answered
#     error, and the receiver searches for it again on its own (2 s, then 4 ...) until a
#     consumer has taken the spool's mail and it is stored;
#   - the session read each body once, 5's and 6's twice (Dovecot's count).
# (Before, the relay's streams could take every slot, and the mail stayed on the server
# until IDLE's renewal, 28 minutes; a stopping relay cut its deliveries.)
#
# Usage: test_imap_streams_full.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
E2E_RELAY_EXTRA="limit location-streams 1100"
E2E_SETUP_EXTRA=("mapping add hold.example.test:7 mailhost:7009 tcp")
. "$(dirname "$0")/imap_e2e.sh"
e2e_setup 0 0
t_spawn sink python3 -c '
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 7009))
s.listen(4096)          # connections wait in the backlog, never accepted
print("listening", flush=True)
time.sleep(600)'
SINK_PID=${T_PIDS[-1]}
t_wait_log sink listening 10
e2e_gateway_start
t_wait_log gw 'imap: logged in' 30
for ((i = 0; i < 100; i++)); do
    console "show imap"
    sleep 0.1
    grep -q '^imap: .*session, idle' "$T_TMP/gw.log" && break
done
grep -q '^imap: .*session, idle' "$T_TMP/gw.log" || t_fail "the receiver is not in IDLE after 10 s"

# ---- the relay's streams take every slot the gateway gives them ----
rm -f "$T_TMP/release"
cat > "$T_TMP/holder.py" <<'PY'
import os, resource, sys, time
sys.path.insert(0, sys.argv[1])
import test_relay_socks as t
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
held, rep = [], 0
while len(held) < 1100 and rep == 0:
    s, rep = t.socks_connect(int(sys.argv[2]), "loc1", sys.argv[3], "hold.example.test", 7)
    if rep == 0:
        held.append(s)
    else:
        s.close()
print("holding %d streams, then reply %d" % (len(held), rep), flush=True)
for _ in range(1200):
    if os.path.exists(sys.argv[4]):
        break
    time.sleep(0.1)
for s in held:
    s.close()
print("released", flush=True)
PY
t_spawn holder python3 "$T_TMP/holder.py" "$T_DIR" "${E2E_SOCKS##*:}" "$E2E_TOKEN" "$T_TMP/release"
t_wait_log holder 'holding' 60
held=$(sed -n 's/^holding \([0-9]*\) streams.*/\1/p' "$T_TMP/holder.log")
[ "${held:-0}" = 1008 ] ||
    t_fail "held ${held:-no} streams before one was refused, want 1008 (1024 less 16 kept)"
grep -q 'stream limit reached' "$T_TMP/gw.log" ||
    t_fail "the refused stream was not the gateway's stream table: $(cat "$T_TMP/holder.log")"
t_log "the relay's streams hold all they may: $held held, the next refused by the gateway"

# ---- mail while the relay's streams hold all they may: it goes at once ----
for i in 1 2 3; do dv_append INBOX $i; done
wait_spool 3 5
for i in 1 2 3; do in_spool $i 0; done
for ((i = 0; i < 100 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "INBOX holds $(dv_count INBOX) after the mails were stored"
! grep -q 'no tunnel stream now' "$T_TMP/gw.log" ||
    t_fail "a delivery found no stream: $(grep -m1 'no tunnel stream now' "$T_TMP/gw.log")"
[ "$(grep -c '^holding' "$T_TMP/holder.log")" = 1 ] && ! grep -q released "$T_TMP/holder.log" ||
    t_fail "the client did not hold its streams throughout"
t_log "3 mails stored once at once beside the $held streams, none short of a stream"

# ---- the streams let go ----
# (the client's FIN half-closes each stream; the server's end, gone, resets the rest)
touch "$T_TMP/release"
t_wait_log holder released 10
kill "$SINK_PID"

# ---- the relay stopped while it takes a delivery: answered first; the next mail waits ----
# Mails 4 (~2.9 MiB) and 5 reach INBOX at once: one search, one FETCH, 4's body first. The
# relay's writes are held 20 ms each (strace), so 4's body takes seconds; the gateway is
# stopped in it, then the relay gets SIGTERM, then the gateway goes on.
e2e_relay_restart TERM strace -f -qq -o /dev/null -e trace=write -e inject=write:delay_enter=20000
dv_doveadm mailbox create -u "$DV_USER" Staging
dv_append Staging 4 "$E2E_LARGE_BYTES"
dv_append Staging 5
dv_doveadm move -u "$DV_USER" INBOX mailbox Staging all
tmpdir=$T_TMP/spool/loc1/tmp
e2e_wait_tmp "mail 4"              # its body is under way
kill -STOP "$E2E_GW_PID"      # the relay then waits for the rest of 4's body
kill -TERM "$E2E_RELAY_PID"
t_wait_log relay 'stopping: GoAway to 1 tunnels, listeners closed; 1 deliveries in flight' 10
kill -CONT "$E2E_GW_PID"
t_wait_log gw 'imap: UID 5: no tunnel stream now: left on the server' 30
t_wait_log gw 'imap: UID 4 \([0-9]+ bytes\) stored' 30
! grep -qE 'UID 4: the tunnel went down|relay refused UID 4' "$T_TMP/gw.log" ||
    t_fail "mail 4's delivery was cut"
wait "${T_PIDS[-2]}" 2> /dev/null || true     # strace, once its relay is gone
grep -q 'relay: stopping$' "$T_TMP/relay.log" || t_fail "the relay did not stop after its delivery"
[ "$(spool_count)" = 4 ] && [ -z "$(ls "$tmpdir")" ] ||
    t_fail "after the stop: spool $(spool_count) (want 4), tmp/ $(ls "$tmpdir" | wc -l) (want 0)"
in_spool 4 "$E2E_LARGE_BYTES"
t_log "SIGTERM in mail 4's body: the relay sent GoAway, answered 4 (stored), then exited; mail 5 found no stream"
echo "limit location-spool-messages 5" >> "$T_TMP/relay.conf"
e2e_relay_start
wait_spool 5 30
in_spool 5 0
for ((i = 0; i < 100 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "INBOX holds $(dv_count INBOX) after mail 5 was stored"
t_log "mail 5 searched for again on its own, stored once by the next relay"

# ---- an error answer: searched for again later, on its own ----
dv_append INBOX 6
t_wait_log gw 'relay refused UID 6: quota: the spool holds 5 messages' 10
mkdir -p "$T_TMP/consumed"
mv "$SPOOL"/* "$T_TMP/consumed/"       # a consumer takes the spool's mail
wait_spool 1 20
in_spool 6 0
for ((i = 0; i < 100 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "INBOX holds $(dv_count INBOX) after mail 6 was stored"
t_log "an error answer (the spool's quota): mail 6 searched for again on its own, stored once the spool had room"

# ---- each body was read once (5's twice) ----
console "set imap enabled no" "commit"
for ((i = 0; i < 100 && $(grep -c 'Disconnected.*body_count=' "$DV_DIR/dovecot.log") == 0; i++)); do sleep 0.1; done
fetched=$(grep -m1 -o 'Disconnected.*body_count=[0-9]*' "$DV_DIR/dovecot.log" | sed 's/.*body_count=//' || true)
# (5's body came in the one FETCH behind 4's and was skipped while no stream took it: 6)
# (6's too: once refused, once stored: 8)
[ "$fetched" = 8 ] || t_fail "the session read ${fetched:-no count of} bodies, want 8"
t_log "the session read 8 bodies: each once, 5's and 6's a second time"
t_log PASS
