#!/usr/bin/env bash
# Per-location stream caps and idle streams (issue 18), with the fake gateway
# (test_relay_gw) of two locations and Python SOCKS5 clients:
#
#   limit location-streams 4: loc1 holds 4 streams; a 5th through loc1 gets 0x01 with the
#   verdict "location has 4 streams open (limit location-streams)", counted; loc2's token
#   is not held back by loc1's: its stream connects;
#   limit socks-idle 3: the 4 held streams, idle, are closed within 3 to 4 s ("no byte
#   either way for 3 s"), while a stream that moves a byte a second stays; then loc1 gets
#   streams again.
#
# Usage: test_relay_streams.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
r_gwcert gw1 loc1
r_gwcert gw2 loc2
"$RELAY" token loc2 > "$T_TMP/token-loc2.txt"
TOKEN2=$(sed -n 's/^token for loc2.*: //p' "$T_TMP/token-loc2.txt")
r_config "$(grep '^location' "$T_TMP/token-loc2.txt")" "limit location-streams 4" \
    "limit socks-idle 3"
t_spawn services $PY serve 7007 7008
t_wait_log services 'serving' 10
r_relay
r_gw gw1 gw1 --map echo.example.test:7=7007
r_gw gw2 gw2 --location loc2 --map echo.example.test:7=7007
t_wait_log relay 'tunnel up: location=loc1' 10
t_wait_log relay 'tunnel up: location=loc2' 10
metric() { curl -sS --max-time 5 http://127.0.0.1:9100/metrics | awk -v m="$1" '$1 == m { print $2 }'; }

# ---- the cap: 4 streams of loc1 held, a 5th refused, loc2 unaffected ----
t_spawn hold $PY hold $SOCKS loc1 "$TOKEN1" echo.example.test 7 4 30
t_wait_log hold 'holding 4 streams' 10
r=$($PY reply $SOCKS loc1 "$TOKEN1" echo.example.test 7)
[ "$r" = "reply 1" ] || t_fail "a 5th stream of loc1: $r, want reply 1"
t_wait_log relay 'stream: location=loc1 .* verdict="location has 4 streams open \(limit location-streams\)"' 5
r=$($PY reply $SOCKS loc2 "$TOKEN2" echo.example.test 7)
[ "$r" = "reply 0" ] || t_fail "loc2 while loc1 is at its cap: $r, want reply 0"
[ "$(metric 'relay_refusals_total{cause="location_streams"}')" = 1 ] ||
    t_fail "the refusal is not counted"
t_log "location-streams 4: loc1's 5th stream got 0x01 (logged, counted), loc2 connected"

# ---- idle streams closed; a stream that moves a byte a second stays ----
for ((i = 0; i < 60; i++)); do
    [ "$(grep -c 'verdict="no byte either way for 3 s (limit socks-idle)"' "$T_TMP/relay.log")" -ge 4 ] && break
    sleep 0.1
done
n=$(grep -c 'verdict="no byte either way for 3 s (limit socks-idle)"' "$T_TMP/relay.log" || true)
[ "$n" = 4 ] || t_fail "$n idle streams closed, want the 4 held ones"
python3 - "$T_DIR" $SOCKS "$TOKEN1" > "$T_TMP/ticker.log" 2>&1 <<'PY' ||
import sys, time
sys.path.insert(0, sys.argv[1])
import test_relay_socks as t
s, rep = t.socks_connect(int(sys.argv[2]), "loc1", sys.argv[3], "echo.example.test", 7)
assert rep == 0, rep
for i in range(6):
    s.sendall(b"x")
    assert t.recv_exact(s, 1) == b"x"
    time.sleep(1)
print("ticker: 6 echoes over 6 s, still open")
PY
    { cat "$T_TMP/ticker.log"; t_fail "the busy stream was closed"; }
grep -q 'ticker: 6 echoes' "$T_TMP/ticker.log" || t_fail "the busy stream did not finish"
[ "$(metric 'relay_refusals_total{cause="socks_idle"}')" = 4 ] || t_fail "idle closes not counted"
t_log "socks-idle 3: the 4 idle streams closed after 3-4 s (logged, counted), then a stream" \
      "with a byte a second stayed open for 6 s"
t_log "ok"
