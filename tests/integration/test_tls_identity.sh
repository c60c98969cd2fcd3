#!/usr/bin/env bash
# The device identity at the console, through --batch: a key made on the box, a CSR that
# openssl accepts with the Location ID as CN, a chain signed for it that imports, and a
# chain for another key that is refused. No network: nothing leaves the process.
set -euo pipefail
GW=$1
T_NAME=test_tls_identity
TMP=$(mktemp -d "/tmp/gw-$T_NAME.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
fail() { echo "$T_NAME: FAIL: $*" >&2; for f in *.out; do echo "--- $f"; cat "$f"; done; exit 1; }
run() { local name=$1; shift; printf '%s\n' "$@" > "$name.txt"; "$GW" --flash flash.img --batch "$name.txt" > "$name.out" 2>&1; }

# A CSR needs a key and a location, and says so.
run nokey "tunnel csr" && fail "tunnel csr without a key succeeded"
grep -q "error: tunnel csr: no device key (tunnel key generate first)" nokey.out || fail "nokey message"
run noloc "tunnel key generate" "tunnel csr" && fail "tunnel csr without a location succeeded"
grep -q "error: tunnel csr: no Location ID" noloc.out || fail "noloc message"

run gen "set tunnel location loc-test-01" "tunnel key generate" "commit" "tunnel csr" || fail "csr"
sed -n '/BEGIN CERTIFICATE REQUEST/,/END CERTIFICATE REQUEST/p' gen.out > req.pem
openssl req -in req.pem -verify -noout 2>&1 | grep -q "verify OK" || fail "openssl req -verify"
[ "$(openssl req -in req.pem -noout -subject)" = "subject=CN = loc-test-01" ] || fail "CN"
# the same key gives the same request (RFC 6979), also after a reboot
run gen2 "tunnel csr" || fail "csr again"
cmp <(sed -n '/BEGIN/,/END/p' gen2.out) req.pem || fail "the CSR changed across boots"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -subj "/CN=Test Device CA" -days 30 2>/dev/null
openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial -out dev.pem \
    -days 30 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -subj /CN=loc-test-01 -out other.csr 2>/dev/null
openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out other.pem \
    -days 30 2>/dev/null

# A chain for another key is refused at the end of the paste and leaves nothing behind.
run other "tunnel cert import" "$(cat other.pem ca.pem)" "" "commit" && fail "other key imported"
grep -q "error: tunnel cert import: refused: the certificate is for another key" other.out ||
    fail "refusal message"
run show1 "show tunnel" || fail "show tunnel"
grep -q "chain:     none" show1.out || fail "a refused chain reached flash"

# The chain signed for the CSR imports and is kept.
run good "tunnel cert import" "$(cat dev.pem ca.pem)" "" "commit" || fail "good chain refused"
grep -q "device certificate chain of 2 certificates" good.out || fail "import summary"
run show2 "show tunnel" || fail "show tunnel"
grep -q "chain:     present" show2.out || fail "chain not kept"
echo "$T_NAME: ok"
