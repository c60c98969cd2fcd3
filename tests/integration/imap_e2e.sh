# End-to-end setup shared by the IMAP receiver tests (sourced after lib.sh and dovecot.sh,
# inside the test's network namespace): the lab PKI, a TAP wire (192.0.2.1 is every internal
# server and the relay, the gateway is 192.0.2.2), Dovecot, the relay with its spool, and
# a gateway flash provisioned over the console language with the receiver enabled.
#
#   e2e_setup N LARGE             PKI, wire, Dovecot holding N mails (LARGE of them ~2.9 MiB),
#                                 relay configured and started (e2e_relay), flash provisioned
#   e2e_pki, e2e_wire, e2e_relay_config, e2e_provision   the steps, for tests that need
#                                 another order; E2E_RELAY_EXTRA (relay.conf lines),
#                                 E2E_SPOOL (the spool line: spool lmtp ...) with
#                                 E2E_MAILBOX (loc1's mailbox there) and
#                                 E2E_SETUP_EXTRA (an array of console lines before the last
#                                 commit) add to the defaults
#   e2e_relay_start [WRAPPER...] / e2e_gateway_start   (re)start them; E2E_RELAY_PID (the
#                                 relay itself), E2E_GW_PID
#   e2e_relay_restart SIGNAL [WRAPPER...]   the relay stopped with SIGNAL and started again
#                                 (under WRAPPER), until the running gateway's tunnel is back
#   e2e_wait_tmp WHAT             until a delivery's bytes are in the relay's loc1 tmp/
#   console LINES...              type lines at the running gateway's console
#   spool_count / wait_spool N SECONDS / in_spool I SIZE   (exactly once, byte-exact)
# Needs GW, RELAY, MAKE_PKI set; uses E2E_LARGE_BYTES (default 2200000).
# Where things are, set before sourcing (the defaults are the TAP wire above; make run
# without root puts the servers on 127.0.0.1 behind passt):
#   E2E_LISTEN       Dovecot and the relay's tunnels listen here (192.0.2.1)
#   E2E_SERVER       the address the gateway reaches them at (192.0.2.1)
#   E2E_IMAP_PORT, E2E_IMAPS_PORT, E2E_TUNNEL_PORT   (143, 993, 7443)
#   E2E_SOCKS        the relay's SOCKS5 entry (127.0.0.1:1080)
#   E2E_NET          the gateway's address line (set net address 192.0.2.2/24 gateway 192.0.2.1)
#   E2E_GW_NET       the gateway's --net (tap:gwtap0)
#   E2E_WIRE         the function e2e_setup calls for the wire (e2e_wire)
E2E_LISTEN=${E2E_LISTEN:-192.0.2.1}
E2E_SERVER=${E2E_SERVER:-192.0.2.1}
E2E_IMAP_PORT=${E2E_IMAP_PORT:-143}
E2E_IMAPS_PORT=${E2E_IMAPS_PORT:-993}
E2E_TUNNEL_PORT=${E2E_TUNNEL_PORT:-7443}
E2E_SOCKS=${E2E_SOCKS:-127.0.0.1:1080}
E2E_NET=${E2E_NET:-set net address 192.0.2.2/24 gateway 192.0.2.1}
E2E_GW_NET=${E2E_GW_NET:-tap:gwtap0}
E2E_WIRE=${E2E_WIRE:-e2e_wire}
P=$T_TMP/pki
FLASH=$T_TMP/flash.img
SPOOL=$T_TMP/spool/loc1/new
E2E_LARGE_BYTES=${E2E_LARGE_BYTES:-2200000}

e2e_pki() {
    sh "$MAKE_PKI" "$P" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh failed"
    (cd "$P" && export SAN=DNS:relay.example.test &&
     openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out relay.key &&
     openssl req -new -config ca.cnf -key relay.key \
        -subj "/O=Gateway Test Lab/CN=relay.example.test" -out relay.csr &&
     openssl ca -batch -config ca.cnf -notext -preserveDN -cert inter.pem -keyfile inter.key \
        -in relay.csr -out relay.pem -extensions v3_leaf -startdate 20240101000000Z \
        -enddate 20400101000000Z && cat relay.pem inter.pem > relay-chain.pem) \
        >> "$T_TMP/pki.log" 2>&1 || t_fail "relay certificate"
}

e2e_relay_start() { # [WRAPPER...]
    t_relay "$T_TMP/relay.conf" "$@"
    E2E_RELAY_PID=$T_RELAY_PID
}

e2e_relay_restart() { # SIGNAL [WRAPPER...]
    local up0 i
    up0=$(grep -c ' up (location loc1' "$T_TMP/gw.log" || true)
    kill -"$1" "$E2E_RELAY_PID"
    wait "$E2E_RELAY_PID" 2> /dev/null || true
    e2e_relay_start "${@:2}"
    for ((i = 0; i < 100; i++)); do
        [ "$(grep -c ' up (location loc1' "$T_TMP/gw.log" || true)" -gt "$up0" ] && return 0
        sleep 0.1
    done
    t_fail "the gateway's tunnel did not come back in 10 s"
}

e2e_wait_tmp() { # WHAT
    local i
    for ((i = 0; i < 300; i++)); do
        [ -n "$(ls "$T_TMP/spool/loc1/tmp" 2> /dev/null)" ] && return 0
        sleep 0.1
    done
    t_fail "$1 did not reach the relay's tmp/ in 30 s"
}

e2e_relay_config() {
    mkdir -p "$T_TMP/spool"
    "$RELAY" token loc1 > "$T_TMP/token-loc1.txt"
    E2E_TOKEN=$(sed -n 's/^token for loc1.*: //p' "$T_TMP/token-loc1.txt")
    cat > "$T_TMP/relay.conf" <<EOC
listen $E2E_LISTEN:$E2E_TUNNEL_PORT
cert $P/relay-chain.pem key $P/relay.key
client-ca $P/inter.pem
socks $E2E_SOCKS
$(grep '^location' "$T_TMP/token-loc1.txt")${E2E_MAILBOX:+ mailbox $E2E_MAILBOX}
${E2E_SPOOL:-spool spool}
${E2E_RELAY_EXTRA:-}
EOC
}

e2e_relay() {
    e2e_relay_config
    e2e_relay_start
}

batch() { # NAME LINES...
    printf '%s\n' "${@:2}" > "$T_TMP/$1.txt"
    "$GW" --flash "$FLASH" --batch "$T_TMP/$1.txt" > "$T_TMP/$1.out" 2>&1 ||
        { cat "$T_TMP/$1.out"; t_fail "batch $1"; }
}

e2e_provision() {
    batch identity "set system hostname gw-imap" "$E2E_NET" \
        "set tunnel location loc1" "tunnel key generate" "commit" "tunnel csr"
    sed -n '/BEGIN CERTIFICATE REQUEST/,/END CERTIFICATE REQUEST/p' "$T_TMP/identity.out" > "$P/gw.csr"
    openssl x509 -req -in "$P/gw.csr" -CA "$P/inter.pem" -CAkey "$P/inter.key" -CAcreateserial \
        -days 30 -out "$P/gw.pem" 2> /dev/null || t_fail "the test CA cannot sign the CSR"
    batch setup "tunnel cert import" "$(cat "$P/gw.pem" "$P/inter.pem")" "" \
        "trust import relay" "$(cat "$P/root.pem")" "" "trust import" "$(cat "$P/root.pem")" "" \
        "host add relay.example.test $E2E_SERVER" "host add mailhost $E2E_SERVER" \
        "set tunnel relay relay.example.test:$E2E_TUNNEL_PORT" \
        "mapping add mail.example.test:143 mailhost:$E2E_IMAP_PORT tcp" \
        "mapping add imaps.example.test:143 mailhost:$E2E_IMAPS_PORT tls sni mail.example.test" \
        "mapping add mail.example.test:993 mailhost:$E2E_IMAPS_PORT tcp" \
        "set imap server mail.example.test:143" "set imap security starttls" \
        "set imap user $DV_USER" "set imap password $DV_PASS" "set imap folder INBOX" \
        "set imap after delete" "set imap poll 5" "set imap enabled yes" \
        ${E2E_SETUP_EXTRA[@]+"${E2E_SETUP_EXTRA[@]}"} "commit"
}

e2e_wire() {
    ip tuntap add dev gwtap0 mode tap
    ip addr add 192.0.2.1/24 dev gwtap0
    ip link set gwtap0 up
}

e2e_setup() { # N LARGE
    e2e_pki
    "$E2E_WIRE"
    dv_start "$T_TMP/dv" "$P/chain-ec.pem" "$P/leaf-ec.key" "$E2E_LISTEN" "$E2E_IMAP_PORT" "$E2E_IMAPS_PORT"
    dv_fill "$1" "$2" "$E2E_LARGE_BYTES"
    e2e_relay
    e2e_provision
}

# The gateway with its console on a pipe (console LINES... types at it).
e2e_gateway_start() {
    [ -p "$T_TMP/console" ] || mkfifo "$T_TMP/console"
    exec 3<> "$T_TMP/console"
    "$GW" --flash "$FLASH" --net "$E2E_GW_NET" < "$T_TMP/console" >> "$T_TMP/gw.log" 2>&1 &
    E2E_GW_PID=$!
    T_PIDS+=($E2E_GW_PID)
}
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
