#!/usr/bin/env bash
# The receiver while the tunnel up refuses every new stream (its stream table full):
#
#   - the relay lets loc1 hold more streams than the gateway has slots (limit
#     location-streams 1100); a SOCKS5 client opens streams to an internal server that
#     never accepts, until one is refused: the gateway's 1024 slots are in use;
#   - a mail appended meanwhile (IDLE tells of it) stays on the server, not read: the
#     receiver says no stream is free and when it searches again, and while the slots stay
#     full it searches again with a growing wait (2, 4, 8 s), not once a turn;
#   - the client lets its streams go and the server goes away: the mail is stored once within that wait, with no new
#     mail to wake the receiver (before, it waited for IDLE's renewal, 28 minutes), the
#     INBOX is empty, and Dovecot counts one body read in the session.
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

# ---- the gateway's stream table filled through the relay ----
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
[ "${held:-0}" -ge 1000 ] || t_fail "held ${held:-no} streams before one was refused, want the gateway's ~1024"
grep -q 'stream limit reached' "$T_TMP/gw.log" ||
    t_fail "the refused stream was not the gateway's stream table: $(cat "$T_TMP/holder.log")"
t_log "the gateway's stream table is full: $held streams held, the next refused"

# ---- a mail while no stream is free: left on the server, unread; searched again later ----
dv_append INBOX 1
t_wait_log gw 'UID [0-9]*: no tunnel stream now: left on the server' 15
t_wait_log gw 'no tunnel stream free .* searched again in 2 s' 5
t_wait_log gw 'searched again in 8 s' 20
[ "$(spool_count)" = 0 ] && [ "$(dv_count INBOX)" = 1 ] ||
    t_fail "with no stream free: spool $(spool_count), INBOX $(dv_count INBOX), want 0 and 1"
console "show imap"
t_wait_log gw '^next poll: in [0-9]* s \(no tunnel stream was free\)' 5
tries=$(grep -c 'no tunnel stream now' "$T_TMP/gw.log")
[ "$tries" -le 4 ] || t_fail "$tries searches in ~14 s with no stream free: no backoff"
t_log "no stream free: the mail stays on the server, searched again after 2, 4, 8 s ($tries tries)"

# ---- the streams freed: the mail goes at the next search, no new mail needed ----
# (the client's FIN half-closes each stream; the server's end, gone, resets the rest)
touch "$T_TMP/release"
t_wait_log holder released 10
kill "$SINK_PID"
wait_spool 1 25
in_spool 1 0
for ((i = 0; i < 100 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "INBOX holds $(dv_count INBOX) after the mail was stored"
console "set imap enabled no" "commit"
for ((i = 0; i < 100 && $(grep -c 'Disconnected.*body_count=' "$DV_DIR/dovecot.log") == 0; i++)); do sleep 0.1; done
fetched=$(grep -m1 -o 'Disconnected.*body_count=[0-9]*' "$DV_DIR/dovecot.log" | sed 's/.*body_count=//')
[ "$fetched" = 1 ] || t_fail "the session read ${fetched:-no count of} bodies, want 1 (none while no stream was free)"
t_log "streams freed: the mail stored once at the next search, read from the server once"
t_log PASS
