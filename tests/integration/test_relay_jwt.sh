#!/usr/bin/env bash
# SOCKS5 method 0x80 (SAP's connectivity dialect, issue 19) with a raw client that sends
# SAP's bytes (jwt_client.py) and tokens signed by the test's keys (tests/sapmail/mint.mjs):
#
#   without a jwt-issuer line the relay refuses method 0x80 (05 ff), as it always did;
#   SIGHUP adds the issuers (an EC P-256 and an RSA key); then 05 80;
#   ES256 and RS256 tokens for loc1 reach the gateway's mapping, echo byte-exact; a token
#   naming one location works without a Location ID;
#   refusals, each with its own code and log line: a bad signature, an expired token
#   (01 01), a token for another location (01 00, then reply 0x05), alg none and HS256,
#   an unknown issuer, a JWT over 16 KiB (01 01 at once, before its bytes are read), a
#   token for a location the relay does not have (0x03); counted by cause in the metrics;
#   review finding: a reload that rotates the issuer key, or changes loc1's RFC 1929
#   token, closes the sessions authenticated with the old one (a log line each); a session
#   whose credential is unchanged stays;
#   review finding: a CONNECT host with '"' is logged quoted, as %22: no forged fields;
#   review 2: a token of the issuer for another audience (aud) fails (01 01); an issuer
#   reaches only the locations its line allows (the RSA line: loc1, so its token for loc2
#   gets 0x05, the EC line's, `*`, 0x03); 17 clients of one address that send 2000 bytes of
#   a declared 16000-byte token: the 17th is refused (16 buffers per address), while 20
#   that declared 16000 bytes but sent 5 hold none; the session that a reload left alone
#   is seen echoing after it (not just "no close in 1 s"); a reload that removes a JWT
#   session's location, or takes it from its issuer's line, closes the session;
#   relay --check names a key file that is a private key, or a weak RSA key, an issuer
#   line without aud or locations, and a location it names that is not configured.
#
# Usage: test_relay_jwt.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
MINT="node $T_DIR/../sapmail/mint.mjs"
JC="python3 $T_DIR/jwt_client.py"
K=$T_TMP/keys
mkdir -p "$K"
for k in ec ec2 other; do
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/$k.key"
    openssl pkey -in "$K/$k.key" -pubout -out "$K/$k.pub"
done
openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.key"
openssl req -new -x509 -key "$K/rsa.key" -subj /CN=issuer -days 1 -out "$K/rsa.crt"
openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$K/weak.key"
openssl pkey -in "$K/weak.key" -pubout -out "$K/weak.pub"
ISS=https://uaa.relay.test
AUD='"aud":["other-app","relay-test"],'
"$RELAY" token loc2 > "$T_TMP/token-loc2.txt"
LOC2=$(grep '^location' "$T_TMP/token-loc2.txt")
ISSUERS=("jwt-issuer $ISS key keys/ec.pub aud relay-test locations * kid k1"
         "jwt-issuer $ISS key keys/rsa.crt aud relay-test locations loc1 kid r1 claim reach"
         "$LOC2")

r_gwcert gw1 loc1
r_config
t_spawn services $PY serve 7007 7008
t_wait_log services serving 5
r_relay
r_gw gw1 gw1 --map mail.example.test:143=7007
t_wait_log gw1 'tunnel up' 10

tok() {   # tok KEY ALG CLAIMS [HEADER]: a compact JWS (header kid k1 unless given)
    local h=${4:-}
    [ -n "$h" ] || h='{"kid":"k1"}'
    $MINT "$K/$1.key" "$2" "$3" "$h"
}
GOOD="{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now+300\",\"iat\":\"\$now\",\"locations\":[\"loc1\",\"loc7\"]}"
expect() {   # expect WANT CMD...: the client's output must be WANT
    local got
    got=$("${@:2}") || t_fail "client failed: ${*:2}"
    [ "$got" = "$1" ] || t_fail "${*:2}: '$got', want '$1'"
}

# ---- today's relay: no issuer, no method 0x80 ----
expect "method 0xff" $JC greet $SOCKS 80
expect "method 0x02" $JC greet $SOCKS 0280
t_log "without a jwt-issuer: 05 01 80 gets 05 ff"

# ---- the issuers, by reload ----
r_config "${ISSUERS[@]}"
kill -HUP "$RELAY_PID"
t_wait_log relay 'reload: .* 2 jwt-issuer keys' 5
expect "method 0x80" $JC greet $SOCKS 80
expect "method 0x80" $JC greet $SOCKS 000280      # the SAP Cloud SDK offers 00 and 80

# ---- tokens that work ----
expect $'reply 0\necho ok' $JC try $SOCKS "$(tok ec ES256 "$GOOD")" loc1 mail.example.test 143
expect $'reply 0\necho ok' $JC try $SOCKS "$(tok rsa RS256 \
    "{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now+60\",\"reach\":\"loc1\"}" '{"kid":"r1"}')" \
    loc1 mail.example.test 143
expect $'reply 0\necho ok' $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now+60\",\"locations\":\"loc1\"}")" - mail.example.test 143
t_wait_log relay 'stream: location=loc1 .*target="mail.example.test:143".*verdict="ok" auth=jwt' 5
t_log "ES256 and RS256 tokens for loc1 (and one with no Location ID) reach the mapping"
expect "reply 2" $JC try $SOCKS "$(tok ec ES256 "$GOOD")" loc1 nomap.example.test 143

# ---- refusals: each its code and its log line ----
expect "auth 1" $JC try $SOCKS "$(tok other ES256 "$GOOD")" loc1 mail.example.test 143
t_wait_log relay 'socks refused: client=127.0.0.1:[0-9]+ method=0x80 reason="signature does not verify with the issuer.s key"' 5
expect "auth 1" $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now-3600\",\"locations\":\"loc1\"}")" loc1 mail.example.test 143
t_wait_log relay 'socks refused: .*method=0x80 reason="token expired 36[0-9][0-9] s ago"' 5
expect "reply 5" $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now+60\",\"locations\":[\"loc2\"]}")" loc1 mail.example.test 143
t_wait_log relay 'stream: location=- .*target="mail.example.test:143".*verdict="token not for location loc1 \(claim locations\) \(0x05\)" auth=jwt' 5
t_log "bad signature: 01 01; expired: 01 01; token for loc2 asking loc1: 01 00 then 0x05"
expect "auth 1" $JC try $SOCKS "$(tok ec none "$GOOD")" loc1 mail.example.test 143
expect "auth 1" $JC try $SOCKS "$(tok ec ES256 "$GOOD" '{"kid":"k1","alg":"HS256"}')" \
    loc1 mail.example.test 143
t_wait_log relay 'reason="alg is not the one the issuer.s key allows \(ES256\)"' 5
expect "auth 1" $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"https://elsewhere\",\"exp\":\"\$now+60\",\"locations\":\"loc1\"}")" \
    loc1 mail.example.test 143
t_wait_log relay 'reason="no jwt-issuer for this iss and kid"' 5
expect "auth 1 closed" $JC toolong $SOCKS 16385
t_wait_log relay 'reason="JWT longer than 16384 bytes"' 5
expect "reply 3" $JC try $SOCKS "$(tok ec ES256 "$GOOD")" loc7 mail.example.test 143
expect "auth 1" $JC try $SOCKS "$(tok ec ES256 "$GOOD")" 'loc 1' mail.example.test 143
expect "auth 1" $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"$ISS\",\"aud\":\"other-app\",\"exp\":\"\$now+60\",\"locations\":\"loc1\"}")" \
    loc1 mail.example.test 143
t_wait_log relay 'reason="token.s aud does not name relay-test"' 5
t_log "a token of the issuer for another application (aud other-app): 01 01"
RSA_BOTH="{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now+60\",\"reach\":[\"loc1\",\"loc2\"]}"
expect "reply 5" $JC try $SOCKS "$(tok rsa RS256 "$RSA_BOTH" '{"kid":"r1"}')" \
    loc2 mail.example.test 143
t_wait_log relay 'stream: location=- .*verdict="location loc2 is not among its jwt-issuer line.s locations \(0x05\)" auth=jwt' 5
expect "reply 3" $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now+60\",\"locations\":\"loc2\"}")" \
    loc2 mail.example.test 143
t_log "the RSA line (locations loc1) does not reach loc2 (0x05); the EC line (*) does (0x03)"
expect "refused 0 of 20, 1 of 17" $JC flood $SOCKS 127.0.0.2 20 17
t_wait_log relay 'client=127.0.0.2:[0-9]+ method=0x80 reason="16 tokens being read from this address already"' 5
t_log "one address: 16 token buffers; declaring 16000 bytes without sending them takes none"
curl -s http://127.0.0.1:9100/metrics > "$T_TMP/metrics.txt"
for c in jwt_signature:1 jwt_expired:1 jwt_location:2 jwt_alg:2 jwt_issuer:1 \
         jwt_too_long:1 jwt_malformed:1 jwt_audience:1 jwt_source_buffers:1; do
    grep -qx "relay_refusals_total{cause=\"${c%:*}\"} ${c#*:}" "$T_TMP/metrics.txt" ||
        t_fail "metrics: no relay_refusals_total{cause=\"${c%:*}\"} ${c#*:}"
done
grep -qx 'relay_socks_jwt_accepted_total 6' "$T_TMP/metrics.txt" || t_fail "metrics: accepted"
t_log "alg none, HS256, unknown iss, 16 KiB + 1 token, unconfigured location: refused, counted"

# ---- review finding: a host name with '"' cannot forge fields in the stream line ----
expect "reply 2" $JC try $SOCKS "$(tok ec ES256 "$GOOD")" loc1 'x" verdict="ok" location="loc9' 143
t_wait_log relay 'target="x%22 verdict=%22ok%22 location=%22loc9:143" .*verdict="no mapping \(0x02\)"' 5
grep -q 'target="x" verdict="ok"' "$T_TMP/relay.log" && t_fail "a forged field in the log"
t_log "a CONNECT host with '\"' is logged as one quoted field (%22)"

# ---- review finding: a reload that withdraws a credential closes its sessions ----
t_spawn hold-ec $JC hold $SOCKS "$(tok ec ES256 "$GOOD")" loc1 mail.example.test 143 20
t_spawn hold-rsa $JC hold $SOCKS "$(tok rsa RS256 \
    "{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now+60\",\"reach\":\"loc1\"}" '{"kid":"r1"}')" \
    loc1 mail.example.test 143 20
t_spawn hold-pw $JC holdpw $SOCKS loc1 "$TOKEN1" mail.example.test 143 20
for h in hold-ec hold-rsa hold-pw; do t_wait_log $h holding 5; done
# The EC key is rotated (ec2 replaces ec) and loc1 gets a new token; the RSA line stays.
"$RELAY" token loc1 > "$T_TMP/token-loc1.txt"
r_config "jwt-issuer $ISS key keys/ec2.pub aud relay-test locations * kid k1" "${ISSUERS[1]}" \
    "$LOC2"
kill -HUP "$RELAY_PID"
t_wait_log relay "reload: .* SOCKS5 sessions closed" 5
t_wait_log hold-ec 'closed by the relay' 5
t_wait_log hold-pw 'closed by the relay' 5
t_wait_log relay 'stream: location=loc1 .*verdict="closed: the jwt-issuer key it was authenticated with was changed or removed by a reload" auth=jwt' 5
t_wait_log relay "stream: location=loc1 .*verdict=\"closed: its location's token was changed by a reload\" auth=token" 5
# A positive sign, not the absence of one: the session echoes after the reload's closes.
n=$(grep -c '^echo' "$T_TMP/hold-rsa.log")
t_wait_log hold-rsa "^echo $((n + 3))\$" 5
grep -q 'closed' "$T_TMP/hold-rsa.log" && t_fail "the RSA session, whose key stayed, was closed"
expect "auth 1" $JC try $SOCKS "$(tok ec ES256 "$GOOD")" loc1 mail.example.test 143
expect $'reply 0\necho ok' $JC try $SOCKS "$(tok ec2 ES256 "$GOOD")" loc1 mail.example.test 143
t_log "reload: sessions of the rotated key and the changed token closed, the other stays"

# ---- review 2: a reload that removes a JWT session's location, or takes it from its
# issuer's line, closes it as an RFC 1929 session's (sessions authenticated for loc2, which
# has no gateway, before their CONNECT) ----
RSA_LINE2="jwt-issuer $ISS key keys/rsa.crt aud relay-test locations loc1,loc2 kid r1 claim reach"
EC2_LINE="jwt-issuer $ISS key keys/ec2.pub aud relay-test locations * kid k1"
r_config "$EC2_LINE" "$RSA_LINE2" "$LOC2"
kill -HUP "$RELAY_PID"
t_wait_log relay 'reload: .* 2 locations' 5
t_spawn hold-allow $JC hold $SOCKS "$(tok rsa RS256 "$RSA_BOTH" '{"kid":"r1"}')" loc2 - 0 20
t_wait_log hold-allow holding 5
r_config "$EC2_LINE" "${ISSUERS[1]}" "$LOC2"
kill -HUP "$RELAY_PID"
t_wait_log hold-allow 'closed by the relay' 5
t_wait_log relay 'stream: location=loc2 .*verdict="closed: its jwt-issuer line no longer allows its location \(reload\)" auth=jwt' 5
t_spawn hold-gone $JC hold $SOCKS "$(tok ec2 ES256 \
    "{\"iss\":\"$ISS\",$AUD\"exp\":\"\$now+60\",\"locations\":\"loc2\"}")" loc2 - 0 20
t_wait_log hold-gone holding 5
r_config "$EC2_LINE" "${ISSUERS[1]}"
kill -HUP "$RELAY_PID"
t_wait_log hold-gone 'closed by the relay' 5
t_wait_log relay 'stream: location=loc2 .*verdict="closed: its location was removed by a reload" auth=jwt' 5
t_log "reload: a JWT session whose location left its issuer's line, or the file, is closed"

# ---- relay --check on the key files ----
check() {   # check LINE WANT: --check fails naming WANT
    r_config "jwt-issuer $ISS key $1 aud relay-test locations *"
    if "$RELAY" --check --config "$CONF" > "$T_TMP/check.log" 2>&1; then
        t_fail "--check passed a jwt-issuer key $1"
    fi
    grep -q "relay.conf:[0-9]*: jwt-issuer $ISS: key .*$2" "$T_TMP/check.log" ||
        { cat "$T_TMP/check.log"; t_fail "--check: no '$2'"; }
}
cp "$K/ec.key" "$K/private.pem"
check keys/private.pem "a private key"
check keys/weak.pub "RSA key of 1024 bits"
check keys/missing.pem "cannot open"
check_line() {   # check_line LINE WANT: --check fails naming WANT
    r_config "$1"
    if "$RELAY" --check --config "$CONF" > "$T_TMP/check.log" 2>&1; then
        t_fail "--check passed '$1'"
    fi
    grep -q "relay.conf:[0-9]*: $2" "$T_TMP/check.log" ||
        { cat "$T_TMP/check.log"; t_fail "--check: no '$2'"; }
}
check_line "jwt-issuer $ISS key keys/ec.pub locations * kid k1" "jwt-issuer: expected ISS key FILE aud AUD locations"
check_line "jwt-issuer $ISS key keys/ec.pub aud relay-test kid k1" "jwt-issuer: expected ISS key FILE aud AUD locations"
check_line "jwt-issuer $ISS key keys/ec.pub aud relay-test locations loc1,loc9" "jwt-issuer $ISS: locations: no location loc9 is configured"
check_line "jwt-issuer $ISS key keys/ec.pub aud relay-test locations loc1,,loc2" "jwt-issuer: locations: expected \\* or Location IDs"
r_config "${ISSUERS[@]}"
"$RELAY" --check --config "$CONF" | grep -qx "configuration OK" || t_fail "--check"
t_log "--check names a private key, a 1024-bit RSA key, a missing file, a line without aud or locations, an unconfigured location"
t_log "ok"
