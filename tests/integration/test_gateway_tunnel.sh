#!/usr/bin/env bash
# The real gateway's tunnel, end to end, inside a network namespace this test creates:
#
#   cloud (curl, Python clients) --SOCKS5 127.0.0.1:1080--> relay --mutual TLS + yamux-->
#   gateway (lwIP on TAP 192.0.2.2) --mappings--> Dovecot, echo and source services on 192.0.2.1
#
#   - the gateway is provisioned through its console language (--batch), as an operator
#     would: network, relay, Location ID, key made on the box, CSR signed by the test CA,
#     chain import, trust store, host table, mappings;
#   - curl fetches a message from Dovecot over IMAP with STARTTLS through a `tcp` mapping
#     (curl checks Dovecot's chain end to end), and over plain IMAP through a `tls` mapping
#     to Dovecot's 993 (the gateway checks it): both byte-exact;
#   - refusals: unmapped host and port get 0x02 from the gateway itself (the relay knows no
#     mappings and forwards every request as it came, so this is also what a malicious relay
#     meets), location not connected (0x03), wrong token, refused internal port (0x05), a tls
#     mapping whose certificate does not match (0x04, with the TLS verdict in the log);
#   - 64 MiB byte-exact through one stream (the tunnel's TLS over lwIP both ways), 200
#     concurrent streams byte-exact, 100 downloads of 256 KiB at once byte-exact; 8 iperf3
#     streams at once each way share the tunnel fairly;
#   - the gateway starts before its relay (first attempts fail, it keeps trying); a link
#     that goes silent (relay stopped) is found dead by keepalive within 15 s; the relay
#     killed and restarted: the gateway reconnects (backoff) and streams work;
#     `show tunnel` and `show mappings` report state and counters.
#
# Usage: test_gateway_tunnel.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
. "$T_DIR/imap_e2e.sh"
ulimit -n 8192
PY="python3 $T_DIR/test_relay_socks.py"
SOCKS=1080

# ---- the lab (imap_e2e.sh): PKI, the TAP wire (192.0.2.1 is every internal server and
# the relay), Dovecot, the relay's configuration (not started yet), the box provisioned
# through its console language with more mappings and the IMAP receiver off ----
e2e_pki
e2e_wire
dv_start "$T_TMP/dv" "$P/chain-ec.pem" "$P/leaf-ec.key" 192.0.2.1 143 993
dv_fill 3 1 600000
SERVE_ADDR=192.0.2.1 t_spawn services $PY serve 7007 7008
t_wait_log services 'serving' 10
t_spawn iperf3 iperf3 -s -B 192.0.2.1 -p 5201
"$RELAY" token loc2 > "$T_TMP/token-loc2.txt"
TOKEN2=$(sed -n 's/^token for loc2.*: //p' "$T_TMP/token-loc2.txt")
E2E_RELAY_EXTRA="$(grep '^location' "$T_TMP/token-loc2.txt")
metrics 127.0.0.1:9100
limit location-streams 256"            # 200 streams of loc1 at once below
e2e_relay_config
TOKEN=$E2E_TOKEN
start_relay() {
    e2e_relay_start
    RELAY_PID=$E2E_RELAY_PID
}
E2E_SETUP_EXTRA=("mapping add echo.example.test:7 192.0.2.1:7007 tcp"
    "mapping add source.example.test:9 192.0.2.1:7008 tcp"
    "mapping add closed.example.test:1 192.0.2.1:7999 tcp"
    "mapping add badname.example.test:993 192.0.2.1:993 tls"
    "mapping add iperf.example.test:5201 192.0.2.1:5201 tcp"
    "set imap enabled no")
e2e_provision
t_log "provisioned over the console language: key on the box, CSR signed, chain, trust, mappings"

# ---- the gateway, console on a pipe we keep open ----
mkfifo "$T_TMP/console"
exec 3<> "$T_TMP/console"
"$GW" --flash "$FLASH" --net tap:gwtap0 < "$T_TMP/console" > "$T_TMP/gw.log" 2>&1 &
T_PIDS+=($!)
GW_PID=$!
console() { printf '%s\n' "$@" >&3; }
# The relay is not there yet: the first attempts fail, and the gateway keeps trying.
t_wait_log gw 'tunnel: relay relay.example.test:7443: connect failed: connection refused; retry in' 10
start_relay
t_wait_log gw 'tunnel: relay relay.example.test:7443 up' 20
t_wait_log relay 'tunnel up: location=loc1' 5
t_log "first attempts failed (no relay yet), then tunnel up: $(grep -m1 'tunnel: relay .* up' "$T_TMP/gw.log" | sed 's/^.*tunnel: //')"

# ---- IMAP through both mappings with curl as the cloud application ----
sx=(--socks5-hostname 127.0.0.1:$SOCKS --proxy-user "loc1:$TOKEN" -sS --max-time 30
    --user "$DV_USER:$DV_PASS")
curl "${sx[@]}" --ssl-reqd --cacert "$P/root.pem" "imap://mail.example.test:143/INBOX;UID=1" \
    > "$T_TMP/starttls.eml" || t_fail "curl IMAP STARTTLS through the tcp mapping"
dv_mail 1 600000 | cmp -s - "$T_TMP/starttls.eml" || t_fail "STARTTLS fetch differs"
curl "${sx[@]}" "imap://imaps.example.test:143/INBOX;UID=2" > "$T_TMP/tlsmap.eml" ||
    t_fail "curl plain IMAP through the tls mapping"
dv_mail 2 0 | cmp -s - "$T_TMP/tlsmap.eml" || t_fail "tls-mapping fetch differs"
# Dovecot ends TLS with close_notify and resets TCP after LOGOUT: a clean close, not a failure
t_wait_log gw 'stream [0-9]+ to imaps.example.test:143 closed: ' 5
t_log "curl: IMAP STARTTLS over the tcp mapping ($(stat -c %s "$T_TMP/starttls.eml") bytes)" \
      "and plain IMAP over the tls mapping, both byte-exact"

# ---- refusals ----
rep() { $PY reply $SOCKS "$@"; }
r=$(rep loc1 "$TOKEN" unmapped.example.test 143); [ "$r" = "reply 2" ] || t_fail "unmapped host: $r"
r=$(rep loc1 "$TOKEN" mail.example.test 144); [ "$r" = "reply 2" ] || t_fail "unmapped port: $r"
r=$(rep loc2 "$TOKEN2" mail.example.test 143); [ "$r" = "reply 3" ] || t_fail "not connected: $r"
r=$(rep loc1 wrong-token mail.example.test 143); [ "$r" = "auth refused" ] || t_fail "token: $r"
r=$(rep loc1 "$TOKEN" closed.example.test 1); [ "$r" = "reply 5" ] || t_fail "refused port: $r"
r=$(rep loc1 "$TOKEN" badname.example.test 993); [ "$r" = "reply 4" ] || t_fail "bad TLS: $r"
# The relay forwards any request as it came; the gateway alone decides. An internal address
# that is no virtual host (what a malicious relay would ask for) reaches nothing.
r=$(rep loc1 "$TOKEN" 192.0.2.1 7007); [ "$r" = "reply 2" ] || t_fail "internal address: $r"
r=$(rep loc1 "$TOKEN" mailhost 143); [ "$r" = "reply 2" ] || t_fail "internal name: $r"
t_wait_log gw 'to badname.example.test:993 refused \(0x04 .*\): name mismatch: wanted 192.0.2.1' 5
t_log "refusals: 0x02 unmapped host and port, 0x02 for internal addresses and names asked" \
      "directly, 0x03 not connected, auth, 0x05, 0x04 with the TLS verdict"
# Every byte value in a host name (ESC, CR, LF, DEL, UTF-8 ...): the gateway refuses each
# (0x02), and its log, which is the operator's console, holds none of them raw.
r=$($PY names $SOCKS loc1 "$TOKEN" 80) || t_fail "names: $r"
[ "$r" = "257 requests: reply 1: 1 reply 2: 256" ] || t_fail "names: $r"
t_wait_log gw 'to esc\\xffz:80 refused \(0x02' 5
python3 - "$T_TMP/gw.log" <<'PY' || t_fail "the gateway's console shows raw network bytes"
import sys
data = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
bad = [l for l in data.split(b"\n") if any(c < 0x20 or c > 0x7e for c in l)]
for l in bad[:5]:
    print(repr(l[:160]))
sys.exit(1 if bad else 0)
PY
for want in 'esc\x1bz:80' 'esc\x0dz:80' 'esc\x0az:80' 'esc\x7fz:80' 'esc\x5cz:80'; do
    grep -qF -- "to $want refused" "$T_TMP/gw.log" || t_fail "no '$want' in the gateway's log"
done
t_log "host names with every byte value: refused, and shown only as \\xHH on the console"

# ---- volume: 64 MiB through one stream, 200 streams at once ----
$PY get $SOCKS loc1 "$TOKEN" source.example.test 9 $((64 * 1024 * 1024)) > "$T_TMP/get.txt" ||
    { cat "$T_TMP/get.txt"; t_fail "64 MiB through the gateway"; }
t_log "64 MiB byte-exact from the internal host through the tunnel: $(cat "$T_TMP/get.txt")"
STREAMS=${GW_TUNNEL_STREAMS:-200}
$PY echo $SOCKS loc1 "$TOKEN" echo.example.test 7 "$STREAMS" 65536 > "$T_TMP/echo.txt" ||
    { cat "$T_TMP/echo.txt"; t_fail "$STREAMS concurrent streams"; }
t_log "$STREAMS concurrent streams: $(cat "$T_TMP/echo.txt")"
# 100 downloads at once: their internal connections' unread data can hold all of lwIP's
# receive pbufs; the board keeps a reserve for the tunnel's own frames, so it never stalls.
$PY gets $SOCKS loc1 "$TOKEN" source.example.test 9 100 $((256 * 1024)) > "$T_TMP/gets.txt" ||
    { cat "$T_TMP/gets.txt"; t_fail "100 downloads at once"; }
t_log "$(cat "$T_TMP/gets.txt")"
# Fair shares: 8 streams at once each way (iperf3 under proxychains4, as a cloud
# application with a SOCKS5 library), each carries at least a quarter of the busiest. The
# streams share the session's output queue and lwIP's send memory; when the first in the
# table always went first, one stream of 8 carried 216 times another.
t_socks_conf loc1 "$TOKEN" "$T_TMP/proxychains.conf"   # the relay's SOCKS5 entry, $SOCKS
for dir in up down; do
    timeout 60 proxychains4 -q -f "$T_TMP/proxychains.conf" iperf3 -c iperf.example.test \
        -p 5201 -t 3 -P 8 -J $([ $dir = down ] && echo -R) > "$T_TMP/fair-$dir.json" ||
        { cat "$T_TMP/fair-$dir.json"; t_fail "iperf3 -P 8 $dir through the gateway"; }
    python3 - "$T_TMP/fair-$dir.json" > "$T_TMP/fair-$dir.txt" <<'PY' ||
import json, sys
b = [s["receiver"]["bytes"] for s in json.load(open(sys.argv[1]))["end"]["streams"]]
print("MB per stream:", " ".join("%.0f" % (x / 1e6) for x in b))
sys.exit(len(b) != 8 or min(b) * 4 < max(b))
PY
        { cat "$T_TMP/fair-$dir.txt"; t_fail "8 streams $dir: one carried under a quarter of another"; }
    t_log "8 streams $dir at once, fair shares: $(cat "$T_TMP/fair-$dir.txt")"
done
# A client that half-closes, then resets: the relay resets the stream, and the gateway lets
# go of its half of the splice although the internal host still has data for it.
$PY abort $SOCKS loc1 "$TOKEN" source.example.test 9 > /dev/null || t_fail "abort client"
t_wait_log gw 'stream [0-9]+ to source.example.test:9 reset by the relay' 10
t_log "a half-closed stream reset by the relay is let go (show status checks 0 open below)"

# ---- what the operator sees ----
console "show tunnel" "show mappings"
t_wait_log gw 'relay 1: +relay.example.test:7443 +up for [0-9]+ s, rtt [0-9]+ ms' 5
# the suite agreed and the code running it: AES-GCM on AES-NI (VAES) and PCLMULQDQ
# (VPCLMULQDQ) where the CPU has them, else ChaCha20-Poly1305 (the gateway's order; the
# relay follows it)
t_wait_log gw 'tls: ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256 \((aes_vaes512|aes_vaes|aes_x86ni) \+ ghash_(vclmul32|vclmul16|clmul8)\)|CHACHA20-POLY1305 \(chacha20_[a-z0-9]+ \+ poly1305_[a-z]+\))$' 5
t_wait_log gw 'echo.example.test:7 -> 192.0.2.1:7007 tcp' 5
grep -A1 'echo.example.test:7 ->' "$T_TMP/gw.log" | grep -q "connections $STREAMS, active 0" ||
    { grep -A2 'echo.example.test:7 ->' "$T_TMP/gw.log"; t_fail "echo mapping counters"; }
grep -A2 'badname.example.test:993 ->' "$T_TMP/gw.log" | grep -q 'last error: name mismatch' ||
    t_fail "the tls mapping's last error is not shown"
console "mapping check imaps.example.test:143" "mapping check closed.example.test:1"
t_wait_log gw 'imaps.example.test:143 -> mailhost:993 \(192.0.2.1\) tls: ok: chain anchored at "CN=Lab Root CA' 10
t_wait_log gw 'closed.example.test:1 -> 192.0.2.1:7999 \(192.0.2.1\) tcp: connect failed: connection refused' 10
console "show status"
t_wait_log gw 'tunnel: +1 of 1 relay up, 0 streams open' 5
t_wait_log gw 'tls: +tunnel ECDHE-(ECDSA|RSA)-(AES128-GCM|CHACHA20-POLY1305)' 5
t_wait_log gw '(AES-GCM|ChaCha20-Poly1305) preferred$' 5
t_wait_log gw '^ram: +lwIP [0-9]+ KiB now of [0-9]+ KiB at its limits; TLS connections [1-9][0-9]* in use' 5
t_log "show tunnel, show mappings (state, rtt, counters, last error), mapping check, show status"
t_log "gateway memory: $(awk '/^VmHWM|^VmRSS/ { printf "%s %s kB  ", $1, $2 }' /proc/$GW_PID/status)"

# ---- a link that goes silent is found dead by keepalive, then the tunnel comes back ----
kill -STOP "$RELAY_PID"
t_wait_log gw 'no answer to keepalive ping for 15 s: link dead' 25
kill -CONT "$RELAY_PID"
ups() { grep -c 'tunnel: relay relay.example.test:7443 up' "$T_TMP/gw.log"; }
for ((i = 0; i < 300 && $(ups) < 2; i++)); do sleep 0.1; done
[ "$(ups)" -ge 2 ] || t_fail "the tunnel did not come back after the silent link"
t_log "silent link: found dead by keepalive within 15 s, tunnel back after the relay woke"

# ---- resilience: the relay goes away and comes back ----
kill "$RELAY_PID"
wait "$RELAY_PID" 2> /dev/null || true
t_wait_log gw 'tunnel: relay relay.example.test:7443 down: .*retry in' 20
mv "$T_TMP/relay.log" "$T_TMP/relay-1.log"
start_relay
for ((i = 0; i < 400 && $(ups) < 3; i++)); do sleep 0.1; done
[ "$(ups)" -ge 3 ] || t_fail "the tunnel did not come back after the relay restart"
$PY echo $SOCKS loc1 "$TOKEN" echo.example.test 7 10 100000 > /dev/null ||
    t_fail "streams after the relay came back"
t_log "relay restarted: the gateway reconnected with backoff, streams work"

# ---- the relay's CA withdrawn: the running tunnel goes at the commit, not at its next drop ----
RFP=$(openssl x509 -in "$P/root.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | cut -c1-16)
console "trust del relay $RFP" "commit"
t_wait_log gw 'tunnel: relay relay.example.test:7443 down: configuration changed' 10
t_wait_log gw "tunnel: relay relay.example.test:7443: no relay trust anchors" 10
t_log "the relay's CA withdrawn: the live tunnel was closed at the commit"

# ---- the gateway stops: GoAway and close, the relay lets the tunnel go at once ----
{ echo "trust import relay"; cat "$P/root.pem"; echo; echo "commit"; } >&3
for ((i = 0; i < 300 && $(ups) < 4; i++)); do sleep 0.1; done
[ "$(ups)" -ge 4 ] || t_fail "the tunnel did not come back with the relay's CA"
kill -TERM "$GW_PID"
wait "$GW_PID" 2> /dev/null || true
t_wait_log gw 'tunnel: relay relay.example.test:7443: closing \(the gateway stops\)$' 1
t_wait_log relay 'tunnel down: location=loc1 .* reason="closed by the gateway"' 2
t_log "the gateway stopped: the relay closed the tunnel at once, not at a keepalive timeout"
t_log "PASS"
