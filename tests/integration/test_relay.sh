#!/usr/bin/env bash
# The relay with real peers, inside a network namespace of its own: curl as the cloud
# application (--socks5-hostname), a fake gateway made of our own TLS + yamux + SOCKS5 code
# (test_relay_gw), Python echo/source services and an HTTP server on 127.0.0.1.
#
#   relay_check_config  --check says "configuration OK" or names file, line and reason;
#                       in a cgroup with a memory limit, the limit is what the limits must fit
#   curl through the relay fetches a file byte-exact; the per-stream log line is written
#   wrong token and unknown location: the same refusal, nothing learned
#   location configured but not connected: 0x03; unmapped target: 0x02; refused port: 0x05
#   a certificate whose CN is no configured location: tunnel refused
#   64 MiB through the splice (figure printed), 200 concurrent streams byte-exact (figure)
#   a second tunnel of the same location is accepted and streams use both
#   mail delivery: stored with fsync into SPOOL/loc1/new, the duplicate "already have it"
#   relay killed and restarted: the gateway reconnects, new streams work
#   metrics: Prometheus text on its own listener
#
# Usage: test_relay.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
RELAY=$1 GW=$2 MAKE_PKI=$3
ulimit -n 16384      # 1000 idle streams: a socket each at the client, relay, gateway, echo
PY="python3 $T_DIR/test_relay_socks.py"
P=$T_TMP/pki
SOCKS=1080

sh "$MAKE_PKI" "$P" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh failed"
# Gateway certificates: CN = Location ID, issued by the lab intermediate (the gateway CA).
gwcert() { # NAME CN
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/$1.key"
    openssl req -new -key "$P/$1.key" -subj "/O=Gateway Test Lab/CN=$2" -out "$P/$1.csr"
    openssl x509 -req -in "$P/$1.csr" -CA "$P/inter.pem" -CAkey "$P/inter.key" \
        -CAcreateserial -days 30 -out "$P/$1.pem" 2> /dev/null
    cat "$P/$1.pem" "$P/inter.pem" > "$P/$1-chain.pem"
}
gwcert gw1 loc1
gwcert gw2 loc2
gwcert intruder nowhere

# ---- configuration ----
mkdir -p "$T_TMP/spool"
tok() { "$RELAY" token "$1" > "$T_TMP/token-$1.txt"; }
tok loc1
tok loc2
TOKEN1=$(sed -n 's/^token for loc1.*: //p' "$T_TMP/token-loc1.txt")
TOKEN2=$(sed -n 's/^token for loc2.*: //p' "$T_TMP/token-loc2.txt")
[ ${#TOKEN1} = 32 ] || t_fail "relay token printed no token"
CONF=$T_TMP/relay.conf
cat > "$CONF" <<EOF
# relay for test_relay.sh
listen 127.0.0.1:7443
cert pki/chain-ec.pem key pki/leaf-ec.key
client-ca pki/inter.pem
socks 127.0.0.1:$SOCKS
$(grep '^location' "$T_TMP/token-loc1.txt")
$(grep '^location' "$T_TMP/token-loc2.txt")
spool spool
metrics 127.0.0.1:9100
# 1000 idle streams of loc1 below; the handshake flood against a smaller cap
limit location-streams 1024
limit handshakes 64
EOF
out=$("$RELAY" --check --config "$CONF") || t_fail "--check refused a good config: $out"
[ "$out" = "configuration OK" ] || t_fail "--check said: $out"
sed 's/^socks .*/socks 127.0.0.1:99999/' "$CONF" > "$T_TMP/bad.conf"
out=$("$RELAY" --check --config "$T_TMP/bad.conf" 2>&1) && t_fail "--check accepted a bad port"
echo "$out" | grep -q "bad.conf:5: socks: '127.0.0.1:99999' is not an IPv4 ADDR:PORT" ||
    t_fail "--check did not name line and reason: $out"
t_log "relay --check: good config OK, bad one named: $out"
check_bad() { # SED-EXPRESSION EXPECTED-MESSAGE
    sed "$1" "$CONF" > "$T_TMP/bad.conf"
    out=$("$RELAY" --check --config "$T_TMP/bad.conf" 2>&1) && t_fail "--check accepted: $1"
    echo "$out" | grep -qF "$2" || t_fail "--check for '$1' said: $out (want: $2)"
}
check_bad 's/^location loc1 token-sha256 .*/location loc1 token-sha256 abc/' \
    "bad.conf:6: location loc1: token-sha256 must be 64 hex digits"
check_bad 's/^location loc2 /location loc1 /' "bad.conf:7: location: 'loc1' is configured twice"
check_bad 's/^location loc2 /location ..\/etc /' "bad.conf:7: location: '../etc' is not a Location ID"
check_bad 's/^spool .*/spool nowhere/' "spool $T_TMP/nowhere: not a directory"
check_bad '/^client-ca/d' "bad.conf: no 'client-ca' directive"
check_bad 's/^listen .*/listne 127.0.0.1:7443/' "bad.conf:2: unknown directive 'listne'"
check_bad 's/^cert .*/cert pki\/chain-ec.pem key pki\/leaf-rsa.key/' \
    "leaf-rsa.key: the key does not belong to the first certificate of the chain"
t_log "relay --check: bad token, duplicate or unsafe location, spool, missing directive, typo," \
      "key not matching the chain: each named"

# ---- --check in a cgroup with a memory limit (a container, systemd's MemoryMax=): the limit,
# not the machine's memory, bounds what the limits may need (about 300 MiB here)
cg=
mnt=$(awk '$(NF-2) == "cgroup" && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
cgpath=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)
if [ -n "$mnt" ] && mkdir "$mnt$cgpath/relay-check-$$" 2> /dev/null; then
    cg=$mnt$cgpath/relay-check-$$
    limit_file=memory.limit_in_bytes
else                                     # cgroup v2: a child with the memory controller
    mnt=$(awk '$(NF-2) == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
    cgpath=$(awk -F: '$1 == "0" { print $3; exit }' /proc/self/cgroup)
    if [ -n "$mnt" ] && grep -qw memory "$mnt$cgpath/cgroup.controllers" 2> /dev/null &&
        { grep -qw memory "$mnt$cgpath/cgroup.subtree_control" ||
          echo +memory > "$mnt$cgpath/cgroup.subtree_control"; } 2> /dev/null &&
        mkdir "$mnt$cgpath/relay-check-$$" 2> /dev/null; then
        cg=$mnt$cgpath/relay-check-$$
        limit_file=memory.max
    fi
fi
if [ -n "$cg" ]; then
    in_cg() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
    cg_fail() { rmdir "$cg"; t_fail "$@"; }      # the cgroup goes with the test
    echo $((128 << 20)) > "$cg/$limit_file"
    out=$(in_cg "$RELAY" --check --config "$CONF" 2>&1) && cg_fail "--check under 128 MiB: $out"
    echo "$out" | grep -qE "need about [0-9]+ MiB of memory .*its cgroup's memory limit allows 128 MiB" ||
        cg_fail "--check under a 128 MiB cgroup said: $out"
    echo $((64 << 30)) > "$cg/$limit_file"
    out=$(in_cg "$RELAY" --check --config "$CONF" 2>&1) || cg_fail "--check under 64 GiB: $out"
    rmdir "$cg"
    t_log "relay --check in a cgroup: 128 MiB too little for the limits, named; 64 GiB OK"
else
    t_log "relay --check in a cgroup: not checked, no memory cgroup could be made here"
fi

# ---- peers ----
t_spawn services $PY serve 7007 7008
mkdir -p "$T_TMP/www"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom > "$T_TMP/www/file.bin"
t_spawn http python3 -u -m http.server --bind 127.0.0.1 --directory "$T_TMP/www" 8080
t_wait_log http 'Serving HTTP' 10
t_spawn relay "$RELAY" --config "$CONF"
RELAY_PID=${T_PIDS[-1]}
t_wait_log relay 'listening: tunnels' 10
t_wait_log services 'serving' 10

GWARGS=(--relay 127.0.0.1:7443 --ca "$P/root.der" --name mail.example.test
        --map mail.example.test:143=7007 --map source.example.test:9=7008
        --map web.example.test:80=8080 --map closed.example.test:1=7999)
t_spawn gw1 "$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" \
    --location loc1 --reconnect
t_wait_log gw1 'tunnel up' 10
t_wait_log relay 'tunnel up: location=loc1 tunnel=[0-9]+ .*live=1' 5

# ---- curl through the relay ----
curl -sS --max-time 60 --socks5-hostname 127.0.0.1:$SOCKS --proxy-user "loc1:$TOKEN1" \
    -o "$T_TMP/got.bin" http://web.example.test/file.bin || t_fail "curl through the relay"
cmp "$T_TMP/got.bin" "$T_TMP/www/file.bin" || t_fail "curl: file differs"
t_wait_log relay 'stream: location=loc1 tunnel=[0-9]+ client=127.0.0.1:[0-9]+ target="web.example.test:80" up=[0-9]+ down=[0-9]+ duration=[0-9.]+s verdict="ok"' 5
t_log "curl --socks5-hostname: 3 MiB file byte-exact"

# ---- refusals ----
curl_err() { # USER:PASS URL -> curl's exit code and message
    curl -sS --max-time 20 --socks5-hostname 127.0.0.1:$SOCKS --proxy-user "$1" "$2" \
        -o /dev/null 2>&1 | sed 's/^curl: ([0-9]*) //'; echo "rc=${PIPESTATUS[0]}"
}
wrong=$(curl_err "loc1:not-the-token" http://web.example.test/file.bin)
unknown=$(curl_err "nosuchloc:$TOKEN1" http://web.example.test/file.bin)
t_log "wrong token: $wrong"
[ "$wrong" = "$unknown" ] || t_fail "unknown location answered differently: $unknown"
echo "$wrong" | grep -q 'rc=97' || t_fail "wrong token not refused as a SOCKS5 failure"
[ "$($PY reply $SOCKS loc1 bad-token web.example.test 80)" = "auth refused" ] || t_fail "auth"
[ "$($PY reply $SOCKS nosuchloc bad web.example.test 80)" = "auth refused" ] || t_fail "auth"
rep=$($PY reply $SOCKS loc2 "$TOKEN2" web.example.test 80)
[ "$rep" = "reply 3" ] || t_fail "location not connected: $rep, want reply 3"
rep=$($PY reply $SOCKS loc1 "$TOKEN1" unmapped.example.test 80)
[ "$rep" = "reply 2" ] || t_fail "unmapped host: $rep, want reply 2"
rep=$($PY reply $SOCKS loc1 "$TOKEN1" web.example.test 81)
[ "$rep" = "reply 2" ] || t_fail "unmapped port: $rep, want reply 2"
rep=$($PY reply $SOCKS loc1 "$TOKEN1" closed.example.test 1)
[ "$rep" = "reply 5" ] || t_fail "refused internal port: $rep, want reply 5"
t_wait_log relay 'target="unmapped.example.test:80" .*verdict="no mapping \(0x02\)"' 5
t_log "refusals: 0x03 not connected, 0x02 unmapped host and port, 0x05 refused"

t_spawn intruder "$GW" "${GWARGS[@]}" --cert "$P/intruder-chain.pem" --key "$P/intruder.key" \
    --location nowhere
t_wait_log relay 'tunnel refused: .*certificate CN "nowhere" is not a configured location' 10
# A gateway of loc2 whose hello names loc1: authorize exactly what is routed on.
t_spawn liar "$GW" "${GWARGS[@]}" --cert "$P/gw2-chain.pem" --key "$P/gw2.key" --location loc1
t_wait_log liar 'hello refused: hello names location' 10
t_log "tunnels refused: unknown CN, hello naming another location"

# ---- throughput and concurrency ----
$PY get $SOCKS loc1 "$TOKEN1" source.example.test 9 $((64 * 1024 * 1024)) > "$T_TMP/get.txt" ||
    { cat "$T_TMP/get.txt"; t_fail "64 MiB through the relay"; }
t_log "single stream through relay splice: $(cat "$T_TMP/get.txt")"
$PY echo $SOCKS loc1 "$TOKEN1" mail.example.test 143 200 65536 > "$T_TMP/echo.txt" ||
    { cat "$T_TMP/echo.txt"; t_fail "200 concurrent streams"; }
t_log "concurrency: $(cat "$T_TMP/echo.txt")"

# ---- memory: the relay's RSS with 0 and 1000 idle streams open ----
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$RELAY_PID/status"; }
rss0=$(rss)
t_spawn hold $PY hold $SOCKS loc1 "$TOKEN1" mail.example.test 143 1000 5
t_wait_log hold 'holding 1000 streams' 60
rss1=$(rss)
t_log "memory: relay RSS ${rss0} KiB with one idle tunnel, ${rss1} KiB with 1000 idle streams" \
      "open: $(( (rss1 - rss0) * 1024 / 1000 )) bytes per stream"
t_wait_log relay 'stream: .*duration=[5-9]' 20

# ---- HA: a second tunnel of loc1 ----
t_spawn gw1b "$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" \
    --location loc1 --reconnect
GW1B_PID=${T_PIDS[-1]}
t_wait_log relay 'tunnel up: location=loc1 .*live=2' 10
$PY echo $SOCKS loc1 "$TOKEN1" mail.example.test 143 20 1000 > /dev/null || t_fail "HA streams"
n=$(grep -oE 'stream: location=loc1 tunnel=[0-9]+' "$T_TMP/relay.log" | sort -u | wc -l)
[ "$n" -ge 2 ] || t_fail "streams did not use both tunnels"
t_log "HA: second tunnel accepted, streams spread over $n tunnels"

# ---- mail delivery ----
printf 'From: a@example.test\r\nSubject: test\r\n\r\nhello\r\n' > "$T_TMP/mail1.eml"
head -c 300000 /dev/urandom >> "$T_TMP/mail1.eml"
"$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" --location loc1 \
    --deliver "$T_TMP/mail1.eml" --deliver "$T_TMP/mail1.eml" --exit-after-deliveries \
    > "$T_TMP/deliver.log" 2>&1 || { cat "$T_TMP/deliver.log"; t_fail "delivery run"; }
grep -q "delivery $T_TMP/mail1.eml: stored" "$T_TMP/deliver.log" || t_fail "not stored"
grep -q "delivery $T_TMP/mail1.eml: already have it" "$T_TMP/deliver.log" ||
    t_fail "duplicate not recognised"
files=("$T_TMP"/spool/loc1/new/*)
[ ${#files[@]} = 1 ] || t_fail "expected one message in new/, got ${#files[@]}"
cmp "${files[0]}" "$T_TMP/mail1.eml" || t_fail "spooled message differs"
sha=$(sha256sum "$T_TMP/mail1.eml" | cut -d' ' -f1)
grep -q "^$sha 1700000000 1 " "$T_TMP/spool/loc1/.relay-index" || t_fail "index line missing"
[ -z "$(ls -A "$T_TMP/spool/loc1/tmp")" ] || t_fail "tmp/ not empty"
t_log "delivery: stored in new/ byte-exact, duplicate answered 'already have it'"

# ---- metrics ----
t_wait_log relay 'tunnel down: location=loc1 .*live=2' 10
curl -sS --max-time 5 http://127.0.0.1:9100/metrics > "$T_TMP/metrics.txt" || t_fail "metrics"
grep -q '^relay_location_tunnels{location="loc1"} 2$' "$T_TMP/metrics.txt" ||
    t_fail "metrics: loc1 should have 2 tunnels"
grep -q '^relay_deliveries_total{answer="duplicate"} 1$' "$T_TMP/metrics.txt" ||
    t_fail "metrics: one duplicate"
# The tunnel that carried 64 MiB and then rested gave its buffers' pages back (and worked on).
[ "$(sed -n 's/^relay_tunnel_trims_total //p' "$T_TMP/metrics.txt")" -ge 1 ] ||
    t_fail "metrics: no idle tunnel was trimmed"
t_log "metrics: $(wc -l < "$T_TMP/metrics.txt") lines of Prometheus text"

# ---- handshake flood (rathole #508): caps on unauthenticated connections, a deadline ----
# 100 idle connections from one address: 32 admitted (limit handshakes-per-source), the
# rest refused at accept, each refusal counted and (a line a second) logged; the admitted
# ones are closed when no first byte came within 3 s (limit first-byte).
t_spawn flood $PY flood 7443 100 12
t_wait_log flood 'flooding with 100 connections' 10
curl -sS --max-time 5 http://127.0.0.1:9100/metrics > "$T_TMP/metrics.txt"
grep -q '^relay_handshakes_pending 32$' "$T_TMP/metrics.txt" || t_fail "pending not capped at 32"
refused=$(sed -n 's/^relay_refusals_total{cause="handshakes_per_source"} //p' "$T_TMP/metrics.txt")
[ "$refused" -ge 68 ] || t_fail "only $refused connections refused beyond the per-source cap"
grep -q 'tunnel refused: peer=127.0.0.1:[0-9]* stage=accept reason="32 connections not yet authenticated from this address (limit handshakes-per-source)"' \
    "$T_TMP/relay.log" || t_fail "no log line for the per-source refusal"
t_wait_log relay 'stage=first byte reason="no first byte within 3 s \(limit first-byte\)"' 10
sleep 1.2
# Into a file first: grep -q stops reading at its match, and curl, still writing a page
# larger than a pipe's buffer, would fail the pipeline (pipefail).
curl -sS --max-time 5 http://127.0.0.1:9100/metrics > "$T_TMP/metrics.txt"
grep -q '^relay_handshakes_pending 0$' "$T_TMP/metrics.txt" ||
    t_fail "handshakes still pending after the first-byte deadline"
$PY echo $SOCKS loc1 "$TOKEN1" mail.example.test 143 5 1000 > /dev/null || t_fail "after flood"
t_log "handshake flood: 32 pending from one address, $refused refused at accept, the rest" \
      "closed at the 3 s first-byte deadline; tunnels up meanwhile kept working"

# ---- a dead link is detected by keepalive, on both sides ----
kill -STOP "$GW1B_PID"
t_wait_log relay 'tunnel down: location=loc1 .*reason="link dead: no ping reply"' 25
kill -CONT "$GW1B_PID"
t_wait_log gw1b 'tunnel lost' 10
t_log "relay: a gateway that stopped answering pings is dropped (dead link detected)"

# ---- relay killed and restarted ----
kill "$RELAY_PID"
wait "$RELAY_PID" 2> /dev/null || true      # its listening sockets are gone with it
t_wait_log gw1 'tunnel lost' 10
mv "$T_TMP/relay.log" "$T_TMP/relay-1.log"
t_spawn relay "$RELAY" --config "$CONF"
t_wait_log relay 'tunnel up: location=loc1' 15
$PY echo $SOCKS loc1 "$TOKEN1" mail.example.test 143 10 100000 > /dev/null ||
    t_fail "streams after the relay restart"
t_log "relay restarted: the gateway reconnected, streams work"

# The dedup index survives restarts: from .relay-index, and without it from new/'s names.
deliver_again() {
    "$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" --location loc1 \
        --deliver "$T_TMP/mail1.eml" --exit-after-deliveries > "$T_TMP/deliver.log" 2>&1 ||
        { cat "$T_TMP/deliver.log"; t_fail "delivery run"; }
    grep -q "delivery $T_TMP/mail1.eml: already have it" "$T_TMP/deliver.log" ||
        t_fail "duplicate not recognised after a restart ($1)"
}
deliver_again "index file"
RELAY_PID=${T_PIDS[-1]}
kill "$RELAY_PID"
wait "$RELAY_PID" 2> /dev/null || true
rm "$T_TMP/spool/loc1/.relay-index"
mv "$T_TMP/relay.log" "$T_TMP/relay-2.log"
t_spawn relay "$RELAY" --config "$CONF"
t_wait_log relay 'spool: location=loc1 messages known=1' 10
t_wait_log relay 'tunnel up: location=loc1' 15
deliver_again "names in new/"
t_log "dedup after restarts: from the index file, and rebuilt from new/ without it"
t_log "ok"
