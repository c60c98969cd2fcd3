# The peers of the whole-system tests (sourced by test_qemu_boot.sh and test_qemu_virt.sh,
# inside their network namespace, after lib.sh and dovecot.sh): the lab PKI, the veth that
# carries passt's default route, passt on $T_TMP/passt.sock, Dovecot with 50 market mails and
# the relay, both on the namespace's loopback (the guest's 192.0.2.254). Sets P, sock, TOKEN.
#
#   qemu_peers TOP
qemu_peers() {
    local top=$1
    # ---- the lab PKI: its intermediate signs the box's CSR (boot_test.py), the relay's and
    # Dovecot's certificates; the box's trust store gets the root ----
    P=$T_TMP/pki
    sh "$top/tests/unit/make_pki.sh" "$P" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh failed"
    issue() { # NAME SUBJECT SAN: a P-256 leaf by the Lab Intermediate CA, and NAME-chain.pem
        (cd "$P" && export SAN=$3 &&
         openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" &&
         openssl req -new -config ca.cnf -key "$1.key" -subj "$2" -out "$1.csr" &&
         openssl ca -batch -config ca.cnf -notext -preserveDN -cert inter.pem -keyfile inter.key \
            -in "$1.csr" -out "$1.pem" -extensions v3_leaf -startdate 20240101000000Z \
            -enddate 20400101000000Z && cat "$1.pem" inter.pem > "$1-chain.pem") \
            >> "$T_TMP/pki.log" 2>&1 || t_fail "issue $1"
    }
    issue relay "/O=Gateway Test Lab/CN=relay.example" "DNS:relay.example"
    # curl and the receiver (starttls) check the virtual name through the tcp mapping, the tls
    # mapping checks the internal host name.
    issue dovecot "/O=Gateway Test Lab/CN=imap.example" "DNS:imap.example,DNS:mail.internal"

    sock=$T_TMP/passt.sock
    t_passt passt "$sock"

    # ---- the peers on the namespace's loopback (the guest's 192.0.2.254) ----
    dv_start "$T_TMP/dv" "$P/dovecot-chain.pem" "$P/dovecot.key" 127.0.0.1 143 993
    dv_fill 50
    ln -s dv/dovecot.log "$T_TMP/dovecot-server.log"   # shown with the other logs on failure
    mkdir -p "$T_TMP/spool"
    "$RELAY" token LOC-QEMU-1 > "$T_TMP/token.txt" || t_fail "relay token"
    TOKEN=$(sed -n 's/^token for LOC-QEMU-1.*: //p' "$T_TMP/token.txt")
    cat > "$T_TMP/relay.conf" <<EOC
listen 127.0.0.1:4443
cert $P/relay-chain.pem key $P/relay.key
client-ca $P/inter.pem
socks 127.0.0.1:1080
$(grep '^location' "$T_TMP/token.txt")
spool $T_TMP/spool
EOC
    t_spawn relay "$RELAY" --config "$T_TMP/relay.conf"
    t_wait_log relay 'listening: tunnels' 10
    t_log "peers: relay on 127.0.0.1:4443 (SOCKS5 1080), Dovecot on 127.0.0.1:143/993 with 50 market mails"
}
