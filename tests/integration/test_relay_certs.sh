#!/usr/bin/env bash
# Which gateway certificates the relay lets in (issue 16, item 6), with certificates made
# by openssl from the lab PKI (all chain to client-ca, all with CN loc1):
#
#   extended key usage serverAuth only: refused, the log says why; clientAuth, or
#   anyExtendedKeyUsage: let in
#   a certificate named by `revoked` (openssl's colon form) is refused, the log naming
#   its fingerprint; relay --check reads `revoked` and `revoked-file` and names a bad line
#   SIGHUP with the gateway's fingerprint added to the revoked-file (openssl's output line
#   as it is): its connected tunnel is closed and its reconnects refused; the other
#   gateway's tunnel stays and carries streams
#   SIGHUP with an invalid file: logged, and the running configuration stays
#   SIGHUP with the fingerprint taken out again: the gateway is let in again
#   SIGHUP with a location added and one removed: the new one authenticates (its gateway
#   not connected: 0x03), the removed one's tunnels are closed and no longer let in
#
# Usage: test_relay_certs.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
r_gwcert server loc1 "extendedKeyUsage = serverAuth"
r_gwcert client loc1 "extendedKeyUsage = clientAuth"
r_gwcert any loc1 "extendedKeyUsage = anyExtendedKeyUsage"
r_gwcert banned loc1 "extendedKeyUsage = clientAuth"
r_gwcert late loc1 "extendedKeyUsage = serverAuth, clientAuth"
fp_colons() { openssl x509 -noout -fingerprint -sha256 -in "$P/$1.pem" | sed 's/.*=//'; }
fp() { fp_colons "$1" | tr -d : | tr A-F a-f; }
REVOKED=$T_TMP/revoked.txt
echo "# gateways taken out of service" > "$REVOKED"
r_config "revoked $(fp_colons banned)" "revoked-file revoked.txt"

# ---- relay --check ----
out=$("$RELAY" --check --config "$CONF" 2>&1) || t_fail "--check: $out"
[ "$out" = "configuration OK" ] || t_fail "--check said: $out"
check_bad() { # WHAT EXPECTED-MESSAGE: the config with WHAT appended
    { cat "$CONF"; echo "$1"; } > "$T_TMP/bad.conf"
    out=$("$RELAY" --check --config "$T_TMP/bad.conf" 2>&1) && t_fail "--check accepted: $1"
    echo "$out" | grep -qF -- "$2" || t_fail "--check for '$1' said: $out (want: $2)"
}
check_bad "revoked 12:34" "bad.conf:10: revoked: expected the SHA-256 fingerprint"
check_bad "revoked-file nowhere.txt" "bad.conf:10: revoked-file: given twice"
sed 's/^revoked-file .*/revoked-file nowhere.txt/' "$CONF" > "$T_TMP/bad.conf"
out=$("$RELAY" --check --config "$T_TMP/bad.conf" 2>&1) && t_fail "--check: missing file"
echo "$out" | grep -qF "revoked-file $T_TMP/nowhere.txt: cannot open" || t_fail "--check: $out"
printf '%s\nnot-a-fingerprint\n' "$(fp banned)" > "$T_TMP/bad-revoked.txt"
sed 's/^revoked-file .*/revoked-file bad-revoked.txt/' "$CONF" > "$T_TMP/bad.conf"
out=$("$RELAY" --check --config "$T_TMP/bad.conf" 2>&1) && t_fail "--check: bad revoked line"
echo "$out" | grep -qF "bad-revoked.txt:2: not a SHA-256 fingerprint" || t_fail "--check: $out"
t_log "relay --check: revoked and revoked-file read; a bad fingerprint, a second file," \
      "a missing file and a bad line in it named"

# ---- extended key usage ----
t_spawn services $PY serve 7007 7008
r_relay
MAP=(--map mail.example.test:143=7007)
r_gw gw-server server "${MAP[@]}"
t_wait_log relay "tunnel refused: .* reason=\"certificate sha256=$(fp server) is not for TLS clients \(extended key usage: serverAuth; a gateway needs clientAuth\)\"" 10
r_gw gw-client client "${MAP[@]}" --reconnect
t_wait_log relay "tunnel up: location=loc1 .* cert=$(fp client)" 10
r_gw gw-any any "${MAP[@]}"
t_wait_log relay "tunnel up: location=loc1 .* cert=$(fp any)" 10
kill "${T_PIDS[-1]}"
t_log "extended key usage: serverAuth refused, clientAuth and anyExtendedKeyUsage let in"

# ---- revoked at start ----
r_gw gw-banned banned "${MAP[@]}"
t_wait_log relay "tunnel refused: .* reason=\"certificate sha256=$(fp banned) is revoked\"" 10
t_log "revoked certificate refused, its fingerprint in the log"

# ---- revoked while connected: SIGHUP ----
r_gw gw-late late "${MAP[@]}" --reconnect
t_wait_log relay "tunnel up: location=loc1 .* cert=$(fp late)" 10
openssl x509 -noout -fingerprint -sha256 -in "$P/late.pem" >> "$REVOKED"
kill -HUP "$RELAY_PID"
t_wait_log relay "reload: $CONF read again: 1 locations \(0 added, 0 removed\), 2 revoked certificates, 0 jwt-issuer keys, 1 tunnels closed, 0 SOCKS5 sessions closed" 5
t_wait_log relay "tunnel down: location=loc1 .* reason=\"certificate sha256=$(fp late) is revoked\"" 5
t_wait_log gw-late 'tunnel lost' 5
t_wait_log relay "tunnel refused: .* tunnel=[0-9]+ stage=handshake reason=\"certificate sha256=$(fp late) is revoked\"" 10
$PY echo $SOCKS loc1 "$TOKEN1" mail.example.test 143 4 10000 > "$T_TMP/echo.txt" ||
    { cat "$T_TMP/echo.txt"; t_fail "streams over the other tunnel"; }
tun=$(sed -n "s/.*tunnel up: location=loc1 tunnel=\([0-9]*\) .*cert=$(fp client)\$/\1/p" \
    "$T_TMP/relay.log")
[ -n "$tun" ] || t_fail "no tunnel number for the clientAuth gateway"
grep "tunnel down: location=loc1 tunnel=$tun " "$T_TMP/relay.log" &&
    t_fail "the clientAuth gateway's tunnel went down"
t_log "SIGHUP with the fingerprint added: the tunnel closed, reconnects refused," \
      "the other gateway's streams run on"

# ---- an invalid file: nothing changes ----
cp "$CONF" "$T_TMP/good.conf"
echo "revoked zz" >> "$CONF"
kill -HUP "$RELAY_PID"
t_wait_log relay "error: reload: $CONF:10: revoked: expected the SHA-256 fingerprint .*: the running configuration stays" 5
# The revoked list still holds: the gateway's next reconnect is refused too.
n=$(grep -c "tunnel refused: .*$(fp late) is revoked" "$T_TMP/relay.log")
for ((i = 0; i < 50; i++)); do
    [ "$(grep -c "tunnel refused: .*$(fp late) is revoked" "$T_TMP/relay.log")" -gt "$n" ] &&
        break
    sleep 0.1
done
[ "$i" -lt 50 ] || t_fail "no reconnect refused after the invalid reload"
grep "tunnel down: location=loc1 tunnel=$tun " "$T_TMP/relay.log" &&
    t_fail "the invalid reload closed a tunnel"
$PY echo $SOCKS loc1 "$TOKEN1" mail.example.test 143 1 1000 > /dev/null ||
    t_fail "streams after a bad reload"
t_log "SIGHUP with an invalid file: logged, the running configuration stays"

# ---- taken out of the list again ----
cp "$T_TMP/good.conf" "$CONF"
sed -i '/Fingerprint=/d' "$REVOKED"
n=$(grep -c "tunnel up: location=loc1 .* cert=$(fp late)" "$T_TMP/relay.log")
kill -HUP "$RELAY_PID"
t_wait_log relay "reload: .*, 1 revoked certificates, 0 jwt-issuer keys, 0 tunnels closed" 5
for ((i = 0; i < 100; i++)); do
    [ "$(grep -c "tunnel up: location=loc1 .* cert=$(fp late)" "$T_TMP/relay.log")" -gt "$n" ] &&
        break
    sleep 0.1
done
[ "$i" -lt 100 ] || t_fail "the gateway was not let in again"
t_log "SIGHUP with the fingerprint removed: the gateway is let in again"

# ---- locations: one added, one removed ----
"$RELAY" token loc2 > "$T_TMP/token-loc2.txt"
TOKEN2=$(sed -n 's/^token for loc2.*: //p' "$T_TMP/token-loc2.txt")
[ "$($PY reply $SOCKS loc2 "$TOKEN2" mail.example.test 143)" = "auth refused" ] ||
    t_fail "loc2 known before it was added"
sed -i '/^location loc1 /d' "$CONF"
grep '^location' "$T_TMP/token-loc2.txt" >> "$CONF"
kill -HUP "$RELAY_PID"
t_wait_log relay "reload: .* 1 locations \(1 added, 1 removed\), 1 revoked certificates, 0 jwt-issuer keys, 2 tunnels closed" 5
t_wait_log relay 'tunnel down: location=loc1 .*reason="location removed from the configuration"' 5
[ "$($PY reply $SOCKS loc2 "$TOKEN2" mail.example.test 143)" = "reply 3" ] ||
    t_fail "loc2 not usable after the reload"
[ "$($PY reply $SOCKS loc1 "$TOKEN1" mail.example.test 143)" = "auth refused" ] ||
    t_fail "loc1 still usable after it was removed"
t_wait_log relay 'tunnel refused: .*certificate CN "loc1" is not a configured location' 10
t_log "SIGHUP with a location added and one removed: the new one authenticates, the old" \
      "one's tunnels are closed and refused"
t_log "ok"
