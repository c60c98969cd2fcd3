#!/usr/bin/env bash
# The receiver while the relay's streams fill the gateway's stream table:
#
#   - the relay lets loc1 hold more streams than the gateway has slots (limit
#     location-streams 1100); a SOCKS5 client opens streams to an internal server that
#     never accepts, until one is refused: the gateway refuses the relay's streams 16 slots
#     short of its 1024, the slots its own deliveries may take;
#   - three mails appended meanwhile (IDLE tells of them) are stored at once, each once,
#     with no delivery ever short of a stream, while the client still holds its streams;
#   - the client lets its streams go and the server goes away; the session read each body
#     once (Dovecot's count).
# (Before, the relay's streams could take every slot, and the mail stayed on the server
# until IDLE's renewal, 28 minutes.)
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
[ "${held:-0}" -ge 1000 ] && [ "$held" -le 1008 ] ||
    t_fail "held ${held:-no} streams before one was refused, want 1000..1008 (1024 less 16 kept)"
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

# ---- the streams let go; each body was read once ----
# (the client's FIN half-closes each stream; the server's end, gone, resets the rest)
touch "$T_TMP/release"
t_wait_log holder released 10
kill "$SINK_PID"
console "set imap enabled no" "commit"
for ((i = 0; i < 100 && $(grep -c 'Disconnected.*body_count=' "$DV_DIR/dovecot.log") == 0; i++)); do sleep 0.1; done
fetched=$(grep -m1 -o 'Disconnected.*body_count=[0-9]*' "$DV_DIR/dovecot.log" | sed 's/.*body_count=//')
[ "$fetched" = 3 ] || t_fail "the session read ${fetched:-no count of} bodies, want 3"
t_log "the session read each of the 3 bodies once"
t_log PASS
