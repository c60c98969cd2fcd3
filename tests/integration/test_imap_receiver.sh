#!/usr/bin/env bash
# The IMAP receiver end to end (issue 7), inside a network namespace this test creates:
#
#   Dovecot (192.0.2.1:143/993) <--mapping-- gateway (lwIP on TAP 192.0.2.2) --mutual TLS +
#   yamux--> relay --> SPOOL/loc1/new
#
#   - provisioned over the console language (--batch): identity, trust, mappings, and
#     `set imap ...` with security starttls through a tcp mapping (the gateway checks
#     Dovecot's chain against the *virtual* name mail.example.test), after delete;
#   - 50 generated market mails (3 of ~2.9 MiB) end up in the spool exactly once, byte-exact
#     (the spool file names carry the SHA-256), and the INBOX is empty afterwards;
#   - IDLE: a mail appended while the receiver idles reaches the spool within seconds;
#   - a second copy of an already delivered mail is answered "already have it" by the relay:
#     no second spool file, and it still leaves the INBOX;
#   - security off through a tls mapping to 993 with after seen, then implicit TLS through a
#     tcp mapping to 993 with after move: each applied on the server;
#   - `show imap` reports state, capabilities and counters.
#
# Usage: test_imap_receiver.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
P=$T_TMP/pki
FLASH=$T_TMP/flash.img
SPOOL=$T_TMP/spool/loc1/new
LARGE=2200000

# ---- PKI, wire, Dovecot, relay (as in test_gateway_tunnel.sh) ----
sh "$MAKE_PKI" "$P" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh failed"
(cd "$P" && export SAN=DNS:relay.example.test &&
 openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out relay.key &&
 openssl req -new -config ca.cnf -key relay.key -subj "/O=Gateway Test Lab/CN=relay.example.test" \
    -out relay.csr &&
 openssl ca -batch -config ca.cnf -notext -preserveDN -cert inter.pem -keyfile inter.key \
    -in relay.csr -out relay.pem -extensions v3_leaf -startdate 20240101000000Z \
    -enddate 20400101000000Z && cat relay.pem inter.pem > relay-chain.pem) \
    >> "$T_TMP/pki.log" 2>&1 || t_fail "relay certificate"
ip tuntap add dev gwtap0 mode tap
ip addr add 192.0.2.1/24 dev gwtap0
ip link set gwtap0 up
dv_start "$T_TMP/dv" "$P/chain-ec.pem" "$P/leaf-ec.key" 192.0.2.1 143 993
dv_fill 50 3 $LARGE

mkdir -p "$T_TMP/spool"
"$RELAY" token loc1 > "$T_TMP/token-loc1.txt"
cat > "$T_TMP/relay.conf" <<EOC
listen 192.0.2.1:7443
cert pki/relay-chain.pem key pki/relay.key
client-ca pki/inter.pem
socks 127.0.0.1:1080
$(grep '^location' "$T_TMP/token-loc1.txt")
spool spool
EOC
t_spawn relay "$RELAY" --config "$T_TMP/relay.conf"
t_wait_log relay 'listening: tunnels' 10

# ---- provisioning ----
batch() { # NAME LINES...
    printf '%s\n' "${@:2}" > "$T_TMP/$1.txt"
    "$GW" --flash "$FLASH" --batch "$T_TMP/$1.txt" > "$T_TMP/$1.out" 2>&1 ||
        { cat "$T_TMP/$1.out"; t_fail "batch $1"; }
}
batch identity "set system hostname gw-imap" "set net address 192.0.2.2/24 gateway 192.0.2.1" \
    "set tunnel location loc1" "tunnel key generate" "commit" "tunnel csr"
sed -n '/BEGIN CERTIFICATE REQUEST/,/END CERTIFICATE REQUEST/p' "$T_TMP/identity.out" > "$P/gw.csr"
openssl x509 -req -in "$P/gw.csr" -CA "$P/inter.pem" -CAkey "$P/inter.key" -CAcreateserial \
    -days 30 -out "$P/gw.pem" 2> /dev/null || t_fail "the test CA cannot sign the CSR"
batch setup "tunnel cert import" "$(cat "$P/gw.pem" "$P/inter.pem")" "" \
    "trust import" "$(cat "$P/root.pem")" "" \
    "host add relay.example.test 192.0.2.1" "host add mailhost 192.0.2.1" \
    "set tunnel relay relay.example.test:7443" \
    "mapping add mail.example.test:143 mailhost:143 tcp" \
    "mapping add imaps.example.test:143 mailhost:993 tls sni mail.example.test" \
    "mapping add mail.example.test:993 mailhost:993 tcp" \
    "set imap server mail.example.test:143" "set imap security starttls" \
    "set imap user $DV_USER" "set imap password $DV_PASS" "set imap folder INBOX" \
    "set imap after delete" "set imap poll 5" "set imap enabled yes" "commit"
t_log "provisioned: receiver on mail.example.test:143 (tcp mapping), starttls, after delete"

# ---- the gateway, console on a pipe ----
mkfifo "$T_TMP/console"
exec 3<> "$T_TMP/console"
"$GW" --flash "$FLASH" --net tap:gwtap0 < "$T_TMP/console" > "$T_TMP/gw.log" 2>&1 &
T_PIDS+=($!)
console() { printf '%s\n' "$@" >&3; }

spool_count() { find "$SPOOL" -type f 2>/dev/null | wc -l; }
wait_spool() { # N SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [ "$(spool_count)" -ge "$1" ] && return 0
        sleep 0.1
    done
    t_fail "spool holds $(spool_count) messages after $2 s, expected $1"
}
in_spool() { # I SIZE: mail I is in the spool exactly once, byte-exact
    local sha f n
    sha=$(dv_mail "$1" "$2" | sha256sum | cut -d' ' -f1)
    n=$(find "$SPOOL" -type f -name "*.$sha.*" | wc -l)
    [ "$n" = 1 ] || t_fail "mail $1 is in the spool $n times"
    f=$(find "$SPOOL" -type f -name "*.$sha.*")
    dv_mail "$1" "$2" | cmp -s - "$f" || t_fail "mail $1 differs in the spool"
}

start=$(date +%s.%N)
wait_spool 50 120
secs=$(echo "$(date +%s.%N) - $start" | bc)
for ((i = 1; i <= 50; i++)); do in_spool $i $((i <= 3 ? LARGE : 0)); done
for ((i = 0; i < 50 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "after delete the INBOX still holds $(dv_count INBOX)"
[ "$(spool_count)" = 50 ] || t_fail "spool holds $(spool_count), expected 50"
t_log "starttls + delete: 50 mails (3 of ~2.9 MiB) in the spool exactly once, byte-exact, in ${secs}s (from boot); INBOX empty"

# ---- IDLE ----
sleep 1
start=$(date +%s.%N)
dv_append INBOX 51
wait_spool 51 10
secs=$(echo "$(date +%s.%N) - $start" | bc)
in_spool 51 0
t_log "IDLE: a mail appended while idle reached the spool ${secs}s later"

# ---- a duplicate: the relay already has it ----
dv_append INBOX 7
for ((i = 0; i < 100 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] || t_fail "the duplicate stayed in the INBOX"
[ "$(spool_count)" = 51 ] || t_fail "the duplicate made a second spool file"
grep -q 'imap: UID .* already delivered' "$T_TMP/gw.log" || t_fail "no 'already delivered' in the log"
t_log "duplicate: answered 'already have it', no second file, removed from the INBOX"

console "show imap"
sleep 1
grep -q 'delivered: 51 messages' "$T_TMP/gw.log" || { grep -A8 '^imap:' "$T_TMP/gw.log"; t_fail "show imap"; }
grep -q '^server: .*IDLE' "$T_TMP/gw.log" || t_fail "show imap: no capabilities"
t_log "show imap: $(grep -m1 '^imap:' "$T_TMP/gw.log"); $(grep -m1 '^delivered:' "$T_TMP/gw.log")"

# ---- security off through a tls mapping (993), after seen ----
for i in 60 61 62; do dv_append INBOX $i; done
console "set imap server imaps.example.test:143" "set imap security off" "set imap after seen" "commit"
wait_spool 54 30
for i in 60 61 62; do in_spool $i 0; done
for ((i = 0; i < 50 && $(dv_count INBOX UNSEEN) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 3 ] && [ "$(dv_count INBOX UNSEEN)" = 0 ] ||
    t_fail "after seen: INBOX $(dv_count INBOX), unseen $(dv_count INBOX UNSEEN)"
t_log "off through a tls mapping + seen: 3 delivered, kept on the server and \\Seen"

# ---- implicit TLS through a tcp mapping to 993, after move ----
dv_doveadm expunge -u "$DV_USER" mailbox INBOX all
for i in 70 71; do dv_append INBOX $i; done
console "set imap server mail.example.test:993" "set imap security tls" "set imap after move Archive" "commit"
wait_spool 56 30
for i in 70 71; do in_spool $i 0; done
for ((i = 0; i < 50 && $(dv_count INBOX) > 0; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] && [ "$(dv_count Archive)" = 2 ] ||
    t_fail "after move: INBOX $(dv_count INBOX), Archive $(dv_count Archive)"
t_log "tls through a tcp mapping + move Archive: 2 delivered and moved"

# ---- a refused pairing: off over a tcp mapping never sends the password in clear ----
console "set imap server mail.example.test:143" "set imap security off" "commit" "show imap"
sleep 2
grep -q 'security off needs a tls mapping' "$T_TMP/gw.log" || t_fail "off over a tcp mapping was not refused"
t_log "off over a tcp mapping: refused ($(grep -m1 -o 'security off needs a tls mapping[^)]*)' "$T_TMP/gw.log"))"
t_log PASS
