# Shared set-up of the relay's one-scenario regression tests (test_relay_*.sh), sourced
# after lib.sh once t_enter_netns ran: the lab PKI (make_pki.sh), gateway certificates made
# by openssl, a relay.conf for location loc1, the relay and the fake gateway
# (test_relay_gw) in the test's namespace. test_relay.sh, the broad one, has its own.
#
#   r_setup RELAY GW MAKE_PKI     PKI in $P; sets RELAY GW PY SOCKS CONF TOKEN1 GWARGS
#   r_gwcert NAME CN [EXT...]     $P/NAME-chain.pem and NAME.key, issued by the lab
#                                 intermediate; EXT are openssl extension lines
#                                 ("extendedKeyUsage = serverAuth")
#   r_config [LINE...]            $CONF: tunnels 7443, socks $SOCKS, metrics 9100, spool
#                                 $T_TMP/spool, location loc1, then the LINEs
#   r_relay [WRAPPER...]          starts the relay (under WRAPPER, e.g. strace), waits for it
#                                 to listen; RELAY_PID is the relay itself, not the wrapper
#                                 (both are killed at exit)
#   r_gw NAME CERT [ARG...]       a fake gateway of loc1 with certificate CERT (r_gwcert's
#                                 NAME), in the background as NAME
#   r_fds                         the relay's open descriptors, counted in /proc

r_setup() {
    RELAY=$1 GW=$2
    PY="python3 $T_DIR/test_relay_socks.py"
    P=$T_TMP/pki
    SOCKS=1080
    CONF=$T_TMP/relay.conf
    sh "$3" "$P" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh failed"
    "$RELAY" token loc1 > "$T_TMP/token-loc1.txt"
    TOKEN1=$(sed -n 's/^token for loc1.*: //p' "$T_TMP/token-loc1.txt")
    GWARGS=(--relay 127.0.0.1:7443 --ca "$P/root.der" --name mail.example.test --location loc1)
    mkdir -p "$T_TMP/spool"
}

r_gwcert() {
    local name=$1 cn=$2; shift 2
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/$name.key"
    openssl req -new -key "$P/$name.key" -subj "/O=Gateway Test Lab/CN=$cn" -out "$P/$name.csr"
    printf '%s\n' basicConstraints=CA:FALSE "$@" > "$P/$name.ext"
    openssl x509 -req -in "$P/$name.csr" -CA "$P/inter.pem" -CAkey "$P/inter.key" \
        -CAcreateserial -days 30 -extfile "$P/$name.ext" -out "$P/$name.pem" 2> /dev/null ||
        t_fail "openssl could not issue $name"
    cat "$P/$name.pem" "$P/inter.pem" > "$P/$name-chain.pem"
}

r_config() {
    {
        echo "listen 127.0.0.1:7443"
        echo "cert pki/chain-ec.pem key pki/leaf-ec.key"
        echo "client-ca pki/inter.pem"
        echo "socks 127.0.0.1:$SOCKS"
        echo "spool spool"
        echo "metrics 127.0.0.1:9100"
        grep '^location' "$T_TMP/token-loc1.txt"
        [ $# = 0 ] || printf '%s\n' "$@"
    } > "$CONF"
}

r_relay() { # [WRAPPER...]
    t_relay "$CONF" "$@"
    RELAY_PID=$T_RELAY_PID
}

r_gw() {
    local name=$1 cert=$2; shift 2
    t_spawn "$name" "$GW" "${GWARGS[@]}" --cert "$P/$cert-chain.pem" --key "$P/$cert.key" "$@"
}

r_fds() {
    ls "/proc/$RELAY_PID/fd" | wc -l
}
