#!/bin/bash
# docs/operator-guide.md, replayed: the guide's console steps against this build, on a TAP
# device in a network namespace of the test's own, with the lab PKI, Dovecot with market
# mails as the mail server (and openssl s_server for a server without its intermediate),
# a relay (two, for HA), curl as the cloud application. Each check is a line the guide
# shows; when one fails, the guide (or the code) has to change. GUIDE_OUT=DIR keeps every
# step's output there.
#
#   test_docs_guide.sh GATEWAY RELAY FLASHTOOL MAKE_PKI
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 FT=$3 MAKE_PKI=$4
cd "$T_TMP"
ip tuntap add tap0 mode tap
ip addr add 192.0.2.1/24 dev tap0
ip link set tap0 up

sh "$MAKE_PKI" pki > pki.log 2>&1 || t_fail "make_pki"
mkdir -p relay spool spool2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout relay/gateway-ca.key \
  -out relay/gateway-ca.pem -subj "/O=Example Utility/CN=Example Gateway CA" -days 3650 2>/dev/null
cat pki/wild.pem pki/inter.pem > relay/relay-chain.pem
cp pki/wild.key relay/relay-key.pem

# step NAME [--net] LINES...: run the lines through --batch; output in NAME.out
step() {
    local name=$1 net=(); shift
    [ "$1" = --net ] && { net=(--net tap:tap0); shift; }
    printf '%s\n' "$@" > "$name.txt"
    "$GW" --flash gw.img "${net[@]}" --batch "$name.txt" > "$name.out" 2>&1
}
has() {   # has NAME TEXT: NAME.out holds TEXT (a fixed string)
    grep -qF -- "$2" "$1.out" || { cat "$1.out"; t_fail "$1: no '$2'"; }
}

# 2. first boot; 3. network
step boot "show version" "show status" || t_fail "first boot"
has boot "flash: no configuration store yet: formatting 256 KiB"
has boot "sntp:     off: no server configured (set net ntp HOST)"
has boot "config:   committed"
has boot "imap:      off"
step network "set system hostname gw-lab" "set net address 192.0.2.2/24 gateway 192.0.2.1" \
    "host add relay.example.test 192.0.2.1" "host add mail.example.test 192.0.2.1" "commit" \
    "show config" || t_fail "network"
has network "host add mail.example.test 192.0.2.1"
# 4. time
step time --net "set net ntp 192.0.2.1" "commit" "show status" || t_fail "time"
has time "time: asking 192.0.2.1 by SNTP"
has time "sntp:     server 192.0.2.1 (192.0.2.1): asking since"
has time "net:      en link up, address 192.0.2.2"
# 5. relay and Location ID
step relay "set tunnel relay relay.example.test:8443" "set tunnel location loc1" "commit" \
    "show tunnel" || t_fail "relay"
has relay "last error: no device identity (tunnel key generate, tunnel csr, tunnel cert import)"
# 6. key and CSR; 7. certificate
step key "tunnel key generate" "commit" "tunnel csr" || t_fail "key"
has key "new P-256 device key in the candidate (commit to keep); 'tunnel csr' prints its certificate request"
sed -n '/BEGIN CERTIFICATE REQUEST/,/END CERTIFICATE REQUEST/p' key.out > loc1.csr
[ "$(openssl req -in loc1.csr -noout -subject)" = "subject=CN = loc1" ] || t_fail "CSR subject"
openssl x509 -req -in loc1.csr -CA relay/gateway-ca.pem -CAkey relay/gateway-ca.key \
    -CAcreateserial -out loc1.pem -days 825 2>/dev/null || t_fail "signing"
step cert "tunnel cert import" "$(cat loc1.pem relay/gateway-ca.pem)" "" "commit" "show tunnel" \
    || t_fail "cert import"
has cert "device certificate chain of 2 certificates in the candidate (commit to keep)"
has cert "chain:     present"
# 8. trust store
step trust "trust import relay" "$(cat pki/root.pem)" "" "trust import" "$(cat pki/root.pem)" "" \
    "commit" "trust list" || t_fail "trust"
has trust "1 certificate added to the candidate relay trust store (commit to keep)"
has trust "1 certificate added to the candidate trust store (commit to keep)"
has trust "relay trust store (the tunnel): 1 certificate"
has trust "trust store (tls mappings, IMAP receiver): 1 certificate"
has trust "subject     CN=Lab Root CA, O=Gateway Test Lab"

# internal hosts: Dovecot (IMAP 143 with STARTTLS, IMAPS 993) with five market mails, and a
# TLS server that sends its leaf only (994)
dv_start "$T_TMP/dovecot" "$T_TMP/pki/chain-ec.pem" "$T_TMP/pki/leaf-ec.key" 192.0.2.1
dv_fill 5
t_spawn s994 openssl s_server -quiet -accept 192.0.2.1:994 -cert pki/leaf-ec.pem \
    -key pki/leaf-ec.key -www
sleep 0.5

# 9. mappings
step map --net "mapping add mail.example.test:993 mail.example.test:993 tls" \
    "mapping add mail.example.test:143 mail.example.test:143 tcp" "commit" "mapping list" \
    "mapping check mail.example.test:993" "mapping check mail.example.test:143" || t_fail "mappings"
has map 'mail.example.test:993 -> mail.example.test:993 (192.0.2.1) tls: ok: chain anchored at "CN=Lab Root CA, O=Gateway Test Lab"'
has map "mail.example.test:143 -> mail.example.test:143 (192.0.2.1) tcp: ok: connected"
step wrongname --net "host add mailhost 192.0.2.1" "mapping add mailhost:993 mailhost:993 tls" \
    "commit" "mapping check mailhost:993" && t_fail "mapping check with the wrong name passed"
has wrongname "tls: name mismatch: wanted mailhost, certificate has mail.example.test, imap.example.test"
step sni --net "mapping del mailhost:993" "mapping add mailhost:993 mailhost:993 tls sni mail.example.test" \
    "commit" "mapping check mailhost:993" || t_fail "sni"
has sni 'mailhost:993 -> mailhost:993 (192.0.2.1) tls: ok: chain anchored at "CN=Lab Root CA, O=Gateway Test Lab"'
step nointer --net "mapping add mail.example.test:994 mail.example.test:994 tls" "commit" \
    "mapping check mail.example.test:994" && t_fail "a leaf-only server passed without its intermediate"
has nointer 'tls: unknown issuer "CN=Lab Intermediate CA, O=Gateway Test Lab" (not in trust store)'
step inter --net "trust import" "$(cat pki/inter.pem)" "" "commit" "mapping check mail.example.test:994" \
    || t_fail "intermediate"
has inter 'tls: ok: chain anchored at "CN=Lab Intermediate CA, O=Gateway Test Lab"'
step probe --net "tls probe mail.example.test:993" || t_fail "tls probe"
has probe "server chain (2 certificates):"
has probe 'verdict: ok: chain anchored at "CN=Lab Intermediate CA, O=Gateway Test Lab"'
# 10. IMAP settings: the password answered on the next line (the console asks for it);
# refused pairings of security mode and mapping kind
step imap "set imap server mail.example.test:143" "set imap security starttls" \
    "set imap user market" "set imap password" "m4rket-Pass" "set imap folder INBOX" \
    "set imap after move Archive" "set imap max-size 4096" "set imap batch 2" \
    "set imap enabled yes" "commit" "show imap" "show config" || t_fail "imap"
has imap "server:    mail.example.test:143, security starttls"
has imap "enabled:   yes"
has imap "imap:      mail.example.test:143, waiting to reconnect (in 0 s)"
has imap "delivered: 0 messages, 0 bytes; 0 already delivered"
# show config: the guide shows it up to the PEM of tunnel cert import, in this order
sed -n '/^set system hostname/,/^tunnel cert import$/p' imap.out > imap-config.out
cat > imap-config.want <<'CFG'
set system hostname gw-lab
set net address 192.0.2.2/24 gateway 192.0.2.1
set net ntp 192.0.2.1
host add relay.example.test 192.0.2.1
host add mail.example.test 192.0.2.1
host add mailhost 192.0.2.1
set tunnel relay relay.example.test:8443
set tunnel location loc1
mapping add mail.example.test:993 mail.example.test:993 tls
mapping add mail.example.test:143 mail.example.test:143 tcp
mapping add mailhost:993 mailhost:993 tls sni mail.example.test
mapping add mail.example.test:994 mail.example.test:994 tls
set imap server mail.example.test:143
set imap user market
set imap folder INBOX
set imap after move Archive
set imap max-size 4096
set imap batch 2
set imap enabled yes
set imap password ********
# tunnel key: present (secret, shown only by export)
tunnel cert import
CFG
diff imap-config.want imap-config.out || t_fail "imap: show config differs from the guide's"
step imapoff "set imap security off" "commit" && t_fail "security off through a tcp mapping was committed"
has imapoff "error: batch: stopped at line 2"
has imapoff "error: commit: imap security off needs a tls mapping, mail.example.test:143 is tcp (password in clear): nothing changed"
step imaptls "set imap server mail.example.test:993" "commit" && t_fail "starttls through a tls mapping was committed"
has imaptls "error: batch: stopped at line 2"
has imaptls "error: commit: imap security starttls needs a tcp mapping, mail.example.test:993 is tls (TLS twice: use off): nothing changed"
step imapnomap "set imap server mail.example.test:110" "commit" && t_fail "a server without a mapping was committed"
has imapnomap "error: batch: stopped at line 2"
has imapnomap "error: commit: imap server mail.example.test:110 is no mapping (mapping add it first): nothing changed"

# 13. the relay; 14. HA
"$RELAY" token loc1 > token.txt || t_fail "relay token"
TOKEN=$(sed -n 's/^token for loc1 (give it to the cloud application; it is not stored): //p' token.txt)
[ -n "$TOKEN" ] || t_fail "no token in: $(cat token.txt)"
cat > relay/relay.conf <<CONF
listen 192.0.2.1:8443
cert relay-chain.pem
key relay-key.pem
client-ca gateway-ca.pem
socks 127.0.0.1:1080
spool $T_TMP/spool
metrics 127.0.0.1:9100
$(grep '^location loc1 token-sha256 ' token.txt)
CONF
[ "$("$RELAY" --check --config relay/relay.conf)" = "configuration OK" ] || t_fail "relay --check"

# 10. the tunnel down (no relay yet): the receiver logs in and fetches nothing
rm -f con; mkfifo con; exec 3<> con
"$GW" --flash gw.img --net tap:tap0 < con > gw.log 2>&1 &
GWPID=$!
T_PIDS+=($GWPID)
t_wait_log gw 'imap: logged in, folder INBOX \(UIDVALIDITY [0-9]+, 5 messages\)' 10
t_wait_log gw 'warning: tunnel: relay relay.example.test:8443: connect failed: connection refused; retry in [0-9]+ ms' 10
echo "show imap" >&3
t_wait_log gw '^imap:      mail.example.test:143, session, idle$' 5
t_wait_log gw '^folder:    INBOX, UIDVALIDITY [0-9]+, 5 messages$' 5
t_wait_log gw '^caps:      IMAP4rev1 .* IDLE ' 5
t_wait_log gw '^last poll: [0-9]+ s ago$' 5
t_wait_log gw '^delivered: 0 messages, 0 bytes; 0 already delivered$' 5
[ "$(dv_count INBOX)" = 5 ] && [ -z "$(ls spool)" ] || t_fail "fetched with the tunnel down"
t_spawn relay1 "$RELAY" --config relay/relay.conf
t_wait_log gw "relay relay.example.test:8443 up \(location loc1" 20
t_wait_log relay1 'tunnel up: location=loc1 tunnel=[0-9]+ peer=192.0.2.2:[0-9]+ host="gw-lab"' 5
# 9. the cloud application: STARTTLS end to end through the tcp mapping (curl checks the
# server), plain IMAP through the tls mapping (the gateway did TLS), refusals
CURL=(curl -sS --max-time 20 --socks5-hostname "loc1:$TOKEN@127.0.0.1:1080" -u market:m4rket-Pass)
"${CURL[@]}" --ssl-reqd --cacert pki/root.pem imap://mail.example.test:143/ > c143.out 2>&1 \
    || t_fail "curl 143: $(cat c143.out)"
grep -qF 'INBOX' c143.out || t_fail "curl 143 listed no INBOX: $(cat c143.out)"
"${CURL[@]}" imap://mail.example.test:993/ > c993.out 2>&1 || t_fail "curl 993: $(cat c993.out)"
grep -qF 'INBOX' c993.out || t_fail "curl 993 listed no INBOX: $(cat c993.out)"
curl -sS --max-time 10 --socks5-hostname "loc1:$TOKEN@127.0.0.1:1080" telnet://mail.example.test:25 \
    < /dev/null > c25.out 2>&1 && t_fail "no mapping, but curl connected"
grep -qF "Can't complete SOCKS5 connection to mail.example.test. (2)" c25.out || t_fail "curl 25: $(cat c25.out)"
curl -sS --max-time 10 --socks5-hostname "loc1:wrong@127.0.0.1:1080" telnet://mail.example.test:143 \
    < /dev/null > cbad.out 2>&1 && t_fail "a wrong token was accepted"
grep -qF "User was rejected by the SOCKS5 server (1 1)." cbad.out || t_fail "curl bad token: $(cat cbad.out)"
t_wait_log gw 'warning: tunnel: stream [0-9]+ to mail.example.test:25 refused \(0x02 no mapping\): no mapping for that host and port' 5
t_wait_log relay1 'socks refused: client=127.0.0.1:[0-9]+ user="loc1" reason="authentication failed"' 5

# 11. the tunnel up: the five mails into the spool (batches of 2), then moved to Archive
for ((i = 0; i < 300 && $(find spool/loc1/new -type f | wc -l) < 5; i++)); do sleep 0.1; done
[ "$(find spool/loc1/new -type f | wc -l)" = 5 ] || t_fail "spool: $(ls spool/loc1/new | wc -l) of 5"
for ((i = 0; i < 100 && $(dv_count Archive) < 5; i++)); do sleep 0.1; done
[ "$(dv_count INBOX)" = 0 ] && [ "$(dv_count Archive)" = 5 ] ||
    t_fail "after move: INBOX $(dv_count INBOX), Archive $(dv_count Archive)"
SIZES=(0 988 944 980 992 944)
for u in 1 2 3 4 5; do
    t_wait_log gw "imap: UID $u \\(${SIZES[u]} bytes\\) stored" 5
    t_wait_log relay1 "delivery: location=loc1 tunnel=1 stream=[0-9]+ folder=\"INBOX\" uidvalidity=[0-9]+ uid=$u bytes=${SIZES[u]} sha256=[0-9a-f]{16} duration=[0-9.]+s verdict=\"stored\"" 5
done
echo "show imap" >&3
t_wait_log gw '^delivered: 5 messages, 4848 bytes; 0 already delivered$' 5
t_wait_log gw '^folder:    INBOX, UIDVALIDITY [0-9]+, 0 messages$' 5
# duplicates: the five moved back into INBOX come again; the relay has them
dv_doveadm move -u "$DV_USER" INBOX mailbox Archive ALL || t_fail "doveadm move"
for ((i = 0; i < 100 && $(grep -c 'already delivered$' gw.log) < 5; i++)); do sleep 0.1; done
for u in 6 7 8 9 10; do
    t_wait_log gw "imap: UID $u \\(${SIZES[u - 5]} bytes\\) already delivered" 10
done
for u in 6 10; do
    t_wait_log relay1 "delivery: location=loc1 tunnel=1 stream=[0-9]+ folder=\"INBOX\" uidvalidity=[0-9]+ uid=$u bytes=${SIZES[u - 5]} sha256=[0-9a-f]{16} duration=[0-9.]+s verdict=\"already have it\"" 5
done
for ((i = 0; i < 100 && $(dv_count Archive) < 5; i++)); do sleep 0.1; done
[ "$(find spool/loc1/new -type f | wc -l)" = 5 ] && [ "$(dv_count INBOX)" = 0 ] ||
    t_fail "duplicates: spool $(ls spool/loc1/new | wc -l), INBOX $(dv_count INBOX)"
# max-size: a larger mail stays on the server
dv_append INBOX 11 4000 || t_fail "doveadm save"
t_wait_log gw 'warning: imap: UID 11: 6235 bytes, over the 4096 of set imap max-size: left on the server' 10
echo "show imap" >&3
t_wait_log gw '^delivered: 5 messages, 4848 bytes; 5 already delivered$' 5
t_wait_log gw '^folder:    INBOX, UIDVALIDITY [0-9]+, 1 message$' 5
t_wait_log gw '^last error: UID 11: 6235 bytes, over the 4096 of set imap max-size: left on the server$' 5
[ "$(dv_count INBOX)" = 1 ] || t_fail "the large mail left INBOX"
# the password at the console: asked for, not echoed; the same one changes nothing
printf '%s\n' "set imap password" "m4rket-Pass" "commit" >&3
t_wait_log gw '^IMAP password: nothing to commit$' 5
grep -qF 'm4rket-Pass' gw.log && t_fail "the console echoed the password"
echo "show tunnel" >&3
t_wait_log gw '^relay 1:   relay.example.test:8443  up for' 5
# open streams: 0, or 1 when the relay's reset of curl's 143 stream has not ended it at the
# gateway yet (the guide says so; reported as a product issue)
t_wait_log gw '^streams:   [01] open \(limit 1024\), 1 refused since boot$' 5
grep -qF 'relay: spool: location=loc1 messages known=0' relay1.log || t_fail "relay: spool line"
curl -s --max-time 5 http://127.0.0.1:9100/metrics > metrics.out
grep -qx 'relay_location_tunnels{location="loc1"} 1' metrics.out || t_fail "metrics"
grep -qx 'relay_socks_auth_failures_total 1' metrics.out || t_fail "metrics: auth failures"
grep -qx 'relay_deliveries_total{answer="stored"} 5' metrics.out || t_fail "metrics: stored"
grep -qx 'relay_deliveries_total{answer="duplicate"} 5' metrics.out || t_fail "metrics: duplicates"
exec 3>&-
kill $GWPID; wait $GWPID || true

# 14. HA: a second relay
sed -e 's/:8443/:8444/' -e 's/:1080/:1081/' -e 's/:9100/:9101/' -e "s#$T_TMP/spool#$T_TMP/spool2#" \
    relay/relay.conf > relay/relay2.conf
t_spawn relay2 "$RELAY" --config relay/relay2.conf
step ha "set tunnel relay relay.example.test:8443 relay.example.test:8444" "commit" || t_fail "ha"
has ha "tunnel: 2 relays, location loc1"
exec 4<> con
"$GW" --flash gw.img --net tap:tap0 < con > gw2.log 2>&1 &
T_PIDS+=($!)
t_wait_log gw2 "relay relay.example.test:8443 up \(location loc1" 20
t_wait_log gw2 "relay relay.example.test:8444 up \(location loc1" 20
"${CURL[@]}" --socks5-hostname "loc1:$TOKEN@127.0.0.1:1081" --ssl-reqd --cacert pki/root.pem \
    imap://mail.example.test:143/ > c143b.out 2>&1 || t_fail "curl via relay 2: $(cat c143b.out)"
grep -qF 'INBOX' c143b.out || t_fail "curl via relay 2 listed no INBOX"
echo "show tunnel" >&4
t_wait_log gw2 "relay 2:   relay.example.test:8444  up for" 5
exec 4>&-

# 12. backup and restore
"$FT" info gw.img > ft-info.out || t_fail "flashtool info"
grep -q '^damage       0 damaged records or blocks$' ft-info.out || t_fail "info: $(cat ft-info.out)"
grep -q '^records      18 live ' ft-info.out || t_fail "info: records: $(cat ft-info.out)"
"$FT" verify gw.img > ft-verify.out || t_fail "flashtool verify"
grep -q '^gw.img: OK: [0-9]* keys, every record checked$' ft-verify.out || t_fail "verify"
"$FT" export gw.img > backup.txt || t_fail "export"
grep -qx 'set imap password m4rket-Pass' backup.txt || t_fail "the backup lacks the secret"
grep -qx 'tunnel key import' backup.txt || t_fail "the backup lacks the device key"
[ "$("$FT" create restored.img)" = "restored.img: 262144 bytes, 64 blocks of 4096 bytes, empty store" ] \
    || t_fail "create"
[ "$("$FT" import restored.img backup.txt)" = "restored.img: configuration imported from backup.txt" ] \
    || t_fail "import"
"$FT" verify restored.img > ft-verify2.out || t_fail "verify restored"
cmp <("$FT" export gw.img) <("$FT" export restored.img) || t_fail "the restored export differs"
if [ -n "${GUIDE_OUT:-}" ]; then mkdir -p "$GUIDE_OUT"; cp ./*.out ./*.log ./*.txt relay/*.conf "$GUIDE_OUT/"; fi
t_log "ok: the operator guide's steps give the guide's output"
