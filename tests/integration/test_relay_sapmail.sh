#!/usr/bin/env bash
# The SAP Cloud SDK's mail client (npm @sap-cloud-sdk/mail-client 3.23.0, tests/sapmail)
# through the relay's SOCKS5 method 0x80 to a plant's MTA (issue 19), all real but the two
# BTP services the SDK asks first, inside a network namespace this test creates:
#
#   cloud app (node, VCAP_SERVICES) --HTTP--> token_service.mjs (XSUAA: a JWT signed by
#   the test's key; destination service: MAIL, OnPremise, location loc1)
#   cloud app --SOCKS5 0x80 (JWT, base64 "loc1")--> relay 127.0.0.1:1080 ==tunnel==>
#   gateway (lwIP on TAP 192.0.2.2, tcp mapping mta.plant.test:25) --> Postfix 192.0.2.1:2525
#   (Debian's, a private instance with its own config, queue and mail directories here)
#
#   - the app's EDIFACT APERAK (UNOC, with bytes >= 0x80) arrives in the MTA's Maildir, its
#     attachment byte-exact, its Message-ID the app's;
#   - the same app, when XSUAA hands it a token signed by another key, an expired token, or
#     a token for another location, or a token for another audience, is refused: auth
#     status 01 01 for all but the other location, reply 0x05 to its CONNECT for that one,
#     each with its own line in the relay's log; no mail.
#
# Usage: test_relay_sapmail.sh GATEWAY RELAY MAKE_PKI SAPMAIL_DIR
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3 APP=$4
[ -d "$APP/node_modules/@sap-cloud-sdk/mail-client" ] ||
    t_fail "$APP/node_modules is missing: make deps installs the SDK (npm ci)"
. "$(dirname "$0")/imap_e2e.sh"
chmod 711 "$T_TMP"                       # Postfix's daemons (user postfix) reach their dirs
UAA=http://127.0.0.1:8900
ISS=$UAA/oauth/token

# ---- the plant's MTA: Postfix on 192.0.2.1:2525, delivering to a Maildir ----
mta_start() {
    local d=$T_TMP/mta
    mkdir -p "$d/conf" "$d/queue" "$d/data" "$d/mail"
    chown nobody:nogroup "$d/mail"
    chown postfix "$d/data"
    cat > "$d/conf/main.cf" <<EOC
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.plant.test
mydomain = plant.test
mydestination =
inet_interfaces = 192.0.2.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8 192.0.2.0/24
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP
virtual_mailbox_domains = edi.plant.test
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = inline:{ aperak@edi.plant.test=plant/aperak/ }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 100
maillog_file = $d/maillog
maillog_file_prefixes = $d
biff = no
alias_maps =
alias_database =
EOC
    cat > "$d/conf/master.cf" <<'EOC'
2525      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOC
    postfix -c "$d/conf" check > "$T_TMP/mta-check.log" 2>&1 ||
        { cat "$T_TMP/mta-check.log" "$d/maillog"; t_fail "postfix check"; }
    postfix -c "$d/conf" start > "$T_TMP/mta-start.log" 2>&1 ||
        { cat "$T_TMP/mta-start.log" "$d/maillog"; t_fail "postfix start"; }
    MTA_CONF=$d/conf
    MAILDIR=$d/mail/plant/aperak
    local i
    for ((i = 0; i < 50; i++)); do
        (exec 3<> /dev/tcp/192.0.2.1/2525) 2> /dev/null && return 0
        sleep 0.1
    done
    t_fail "postfix is not listening on 192.0.2.1:2525"
}
mta_stop() { [ -n "${MTA_CONF:-}" ] && postfix -c "$MTA_CONF" stop > /dev/null 2>&1 || true; }
trap 'rc=$?; mta_stop; t_cleanup "$rc"' EXIT

# ---- the gateway: provisioned as imap_e2e.sh does, one tcp mapping to the MTA ----
provision() {
    batch identity "set system hostname gw-plant" "$E2E_NET" \
        "set tunnel location loc1" "tunnel key generate" "commit" "tunnel csr"
    sed -n '/BEGIN CERTIFICATE REQUEST/,/END CERTIFICATE REQUEST/p' "$T_TMP/identity.out" > "$P/gw.csr"
    openssl x509 -req -in "$P/gw.csr" -CA "$P/inter.pem" -CAkey "$P/inter.key" -CAcreateserial \
        -days 30 -out "$P/gw.pem" 2> /dev/null || t_fail "the test CA cannot sign the CSR"
    batch setup "tunnel cert import" "$(cat "$P/gw.pem" "$P/inter.pem")" "" \
        "trust import relay" "$(cat "$P/root.pem")" "" \
        "host add relay.example.test $E2E_SERVER" "host add mtahost $E2E_SERVER" \
        "set tunnel relay relay.example.test:$E2E_TUNNEL_PORT" \
        "mapping add mta.plant.test:25 mtahost:2525 tcp" "commit"
}

e2e_pki
e2e_wire
mta_start
t_log "Postfix (private instance) on 192.0.2.1:2525, Maildir delivery for edi.plant.test"
openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/uaa.key"
openssl pkey -in "$P/uaa.key" -pubout -out "$P/uaa.pub"
# aud: the connectivity binding's clientid, which XSUAA puts in the aud of the tokens it
# issues to that client; the app's own (sb-app) tokens are no credential for the relay.
E2E_RELAY_EXTRA="jwt-issuer $ISS key $P/uaa.pub aud sb-conn locations loc1 kid uaa-1"
e2e_relay_config
e2e_relay_start
provision
e2e_gateway_start
t_wait_log relay 'tunnel up: location=loc1' 15

# ---- the BTP services and the app's bindings ----
cat > "$T_TMP/destination.json" <<'EOC'
{"Name": "edi-mta", "Type": "MAIL", "ProxyType": "OnPremise",
 "Authentication": "BasicAuthentication", "CloudConnectorLocationId": "loc1",
 "mail.smtp.host": "mta.plant.test", "mail.smtp.port": "25", "mail.user": "edi",
 "mail.password": "unused-the-mta-offers-no-auth", "mail.from": "edi@cloud.example.test"}
EOC
t_spawn uaa node "$APP/token_service.mjs" 8900 "$P/uaa.key" "$ISS" loc1 "$T_TMP/token-mode" \
    "$T_TMP/destination.json"
t_wait_log uaa 'listening on 8900' 10
cred() { # CLIENT: an XSUAA-issued binding's credentials
    printf '"clientid": "%s", "clientsecret": "secret", "url": "%s", "uaadomain": "127.0.0.1", "xsappname": "%s", "identityzone": "provider", "tenantid": "provider-zone"' "$1" "$UAA" "$1"
}
export VCAP_SERVICES="{
 \"xsuaa\": [{\"label\": \"xsuaa\", \"name\": \"uaa\", \"tags\": [\"xsuaa\"], \"plan\": \"application\",
   \"credentials\": {$(cred sb-app)}}],
 \"destination\": [{\"label\": \"destination\", \"name\": \"dest\", \"tags\": [\"destination\"],
   \"plan\": \"lite\", \"credentials\": {$(cred sb-dest), \"uri\": \"$UAA\"}}],
 \"connectivity\": [{\"label\": \"connectivity\", \"name\": \"conn\", \"tags\": [\"connectivity\"],
   \"plan\": \"lite\", \"credentials\": {$(cred sb-conn), \"token_service_url\": \"$UAA\",
   \"onpremise_proxy_host\": \"127.0.0.1\", \"onpremise_proxy_port\": \"20003\",
   \"onpremise_proxy_http_port\": \"20003\", \"onpremise_socks5_proxy_port\": \"1080\"}}]}"

# The APERAK: UNOC (ISO 8859-1), so some bytes are >= 0x80; segments end in "'" + CRLF.
printf "UNA:+.? '\r\nUNB+UNOC:3+9900000000001:500+9900000000002:500+261206:0915+APK4711'\r\nUNH+1+APERAK:D:07B:UN:2.1i'\r\nBGM+313+APK4711'\r\nDTM+137:202612060915?+00:303'\r\nRFF+ACE:ORD4711'\r\nNAD+MR+9900000000002::293'\r\nNAD+MS+9900000000001::293'\r\nERC+Z10'\r\nFTX+ABO+++Pr\xfcfung abgeschlossen, Gr\xf6\xdfe 42 \xb0C'\r\nUNT+9+1'\r\nUNZ+1+APK4711'\r\n" > "$T_TMP/aperak.edi"

send() { # MESSAGE_ID: the app's output in $T_TMP/app.log; its exit status
    (cd "$APP" && timeout 60 node app.mjs edi-mta "$T_TMP/aperak.edi" "$1") \
        > "$T_TMP/app.log" 2>&1
}

# ---- the APERAK arrives intact ----
echo ok > "$T_TMP/token-mode"
# (on failure the hops' own words too: which of relay, gateway and Postfix closed it)
send aperak-1@cloud.example.test || {
    cat "$T_TMP/app.log"; tail -n 5 "$T_TMP/relay.log" "$T_TMP/gw.log" "$T_TMP/mta/maillog" || true
    t_fail "the SDK could not send"; }
for ((i = 0; i < 100; i++)); do
    [ -n "$(ls "$MAILDIR/new" 2> /dev/null)" ] && break
    sleep 0.1
done
[ "$(ls "$MAILDIR/new" 2> /dev/null | wc -l)" = 1 ] || t_fail "no mail (or more) in the MTA's Maildir"
python3 - "$MAILDIR/new/"* "$T_TMP/aperak.edi" <<'PY' || t_fail "the APERAK did not arrive intact"
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
want = open(sys.argv[2], "rb").read()
assert msg["Message-ID"] == "<aperak-1@cloud.example.test>", msg["Message-ID"]
parts = [p for p in msg.walk() if p.get_content_type() == "application/edifact"]
assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
got = parts[0].get_payload(decode=True)
assert got == want, (len(got), len(want))
PY
grep -q 'stream: location=loc1 .*target="mta.plant.test:25" .*verdict="ok" auth=jwt' \
    "$T_TMP/relay.log" || t_fail "no stream line for the SDK's session"
t_log "the SDK's APERAK ($(stat -c %s "$T_TMP/aperak.edi") bytes, UNOC) arrived byte-exact through 0x80, the tunnel and Postfix"

# ---- refusals with the real client ----
refused() { # MODE LOG_REGEX
    echo "$1" > "$T_TMP/token-mode"
    if send "refused-$1@cloud.example.test"; then
        t_fail "$1: the SDK sent mail with a token it should not have passed"
    fi
    t_wait_log relay "$2" 5
}
refused bad-signature 'socks refused: client=127.0.0.1:[0-9]+ method=0x80 reason="signature does not verify'
grep -q 'Authentication failed' "$T_TMP/app.log" || { cat "$T_TMP/app.log"; t_fail "bad signature: the SDK did not see 01 01"; }
refused expired 'socks refused: .*method=0x80 reason="token expired [0-9]+ s ago"'
refused other-location 'stream: location=- .*target="mta.plant.test:25" .*verdict="token not for location loc1 \(claim locations\) \(0x05\)" auth=jwt'
grep -qi 'ConnectionRefused\|rejected' "$T_TMP/app.log" || { cat "$T_TMP/app.log"; t_fail "other location: the SDK did not see 0x05"; }
refused other-audience 'socks refused: .*method=0x80 reason="token.s aud does not name sb-conn"'
grep -q 'Authentication failed' "$T_TMP/app.log" || { cat "$T_TMP/app.log"; t_fail "other audience: the SDK did not see 01 01"; }
sleep 1
[ "$(ls "$MAILDIR/new" | wc -l)" = 1 ] || t_fail "a refused token delivered mail"
t_log "refused: bad signature (01 01), expired (01 01), another location (0x05), another audience (01 01), each logged; no mail"
t_log "ok"
