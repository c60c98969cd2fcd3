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
#   relay --check names a key file that is a private key, or a weak RSA key.
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
ISSUERS=("jwt-issuer $ISS key keys/ec.pub kid k1"
         "jwt-issuer $ISS key keys/rsa.crt kid r1 claim reach")

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
GOOD="{\"iss\":\"$ISS\",\"exp\":\"\$now+300\",\"iat\":\"\$now\",\"locations\":[\"loc1\",\"loc7\"]}"
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
    "{\"iss\":\"$ISS\",\"exp\":\"\$now+60\",\"reach\":\"loc1\"}" '{"kid":"r1"}')" \
    loc1 mail.example.test 143
expect $'reply 0\necho ok' $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"$ISS\",\"exp\":\"\$now+60\",\"locations\":\"loc1\"}")" - mail.example.test 143
t_wait_log relay 'stream: location=loc1 .*target="mail.example.test:143".*verdict="ok" auth=jwt' 5
t_log "ES256 and RS256 tokens for loc1 (and one with no Location ID) reach the mapping"
expect "reply 2" $JC try $SOCKS "$(tok ec ES256 "$GOOD")" loc1 nomap.example.test 143

# ---- refusals: each its code and its log line ----
expect "auth 1" $JC try $SOCKS "$(tok other ES256 "$GOOD")" loc1 mail.example.test 143
t_wait_log relay 'socks refused: client=127.0.0.1:[0-9]+ method=0x80 reason="signature does not verify with the issuer.s key"' 5
expect "auth 1" $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"$ISS\",\"exp\":\"\$now-3600\",\"locations\":\"loc1\"}")" loc1 mail.example.test 143
t_wait_log relay 'socks refused: .*method=0x80 reason="token expired 36[0-9][0-9] s ago"' 5
expect "reply 5" $JC try $SOCKS "$(tok ec ES256 \
    "{\"iss\":\"$ISS\",\"exp\":\"\$now+60\",\"locations\":[\"loc2\"]}")" loc1 mail.example.test 143
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
curl -s http://127.0.0.1:9100/metrics > "$T_TMP/metrics.txt"
for c in jwt_signature:1 jwt_expired:1 jwt_location:1 jwt_alg:2 jwt_issuer:1 \
         jwt_too_long:1 jwt_malformed:1; do
    grep -qx "relay_refusals_total{cause=\"${c%:*}\"} ${c#*:}" "$T_TMP/metrics.txt" ||
        t_fail "metrics: no relay_refusals_total{cause=\"${c%:*}\"} ${c#*:}"
done
grep -qx 'relay_socks_jwt_accepted_total 5' "$T_TMP/metrics.txt" || t_fail "metrics: accepted"
t_log "alg none, HS256, unknown iss, 16 KiB + 1 token, unconfigured location: refused, counted"

# ---- review finding: a host name with '"' cannot forge fields in the stream line ----
expect "reply 2" $JC try $SOCKS "$(tok ec ES256 "$GOOD")" loc1 'x" verdict="ok" location="loc9' 143
t_wait_log relay 'target="x%22 verdict=%22ok%22 location=%22loc9:143" .*verdict="no mapping \(0x02\)"' 5
grep -q 'target="x" verdict="ok"' "$T_TMP/relay.log" && t_fail "a forged field in the log"
t_log "a CONNECT host with '\"' is logged as one quoted field (%22)"

# ---- review finding: a reload that withdraws a credential closes its sessions ----
t_spawn hold-ec $JC hold $SOCKS "$(tok ec ES256 "$GOOD")" loc1 mail.example.test 143 20
t_spawn hold-rsa $JC hold $SOCKS "$(tok rsa RS256 \
    "{\"iss\":\"$ISS\",\"exp\":\"\$now+60\",\"reach\":\"loc1\"}" '{"kid":"r1"}')" \
    loc1 mail.example.test 143 20
t_spawn hold-pw $JC holdpw $SOCKS loc1 "$TOKEN1" mail.example.test 143 20
for h in hold-ec hold-rsa hold-pw; do t_wait_log $h holding 5; done
# The EC key is rotated (ec2 replaces ec) and loc1 gets a new token; the RSA line stays.
"$RELAY" token loc1 > "$T_TMP/token-loc1.txt"
r_config "jwt-issuer $ISS key keys/ec2.pub kid k1" "${ISSUERS[1]}"
kill -HUP "$RELAY_PID"
t_wait_log relay "reload: .* SOCKS5 sessions closed" 5
t_wait_log hold-ec 'closed by the relay' 5
t_wait_log hold-pw 'closed by the relay' 5
t_wait_log relay 'stream: location=loc1 .*verdict="closed: the jwt-issuer key it was authenticated with was changed or removed by a reload" auth=jwt' 5
t_wait_log relay "stream: location=loc1 .*verdict=\"closed: its location's token was changed by a reload\" auth=token" 5
sleep 1
grep -q 'closed' "$T_TMP/hold-rsa.log" && t_fail "the RSA session, whose key stayed, was closed"
expect "auth 1" $JC try $SOCKS "$(tok ec ES256 "$GOOD")" loc1 mail.example.test 143
expect $'reply 0\necho ok' $JC try $SOCKS "$(tok ec2 ES256 "$GOOD")" loc1 mail.example.test 143
t_log "reload: sessions of the rotated key and the changed token closed, the other stays"

# ---- relay --check on the key files ----
check() {   # check LINE WANT: --check fails naming WANT
    r_config "jwt-issuer $ISS key $1"
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
r_config "${ISSUERS[@]}"
"$RELAY" --check --config "$CONF" | grep -qx "configuration OK" || t_fail "--check"
t_log "--check names a private key, a 1024-bit RSA key and a missing file"
t_log "ok"
