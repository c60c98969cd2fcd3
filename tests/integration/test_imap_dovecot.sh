#!/bin/bash
# The Dovecot test helper itself (dovecot.sh): a mailbox filled with generated market mails
# is listed and fetched by curl over IMAP with STARTTLS and over IMAPS, byte-exact, and
# the message count and a large message are what dv_fill promised.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=mail.example.test -addext subjectAltName=DNS:mail.example.test \
    -keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" > "$T_TMP/openssl.log" 2>&1 ||
    t_fail "openssl could not make a certificate"

dv_start "$T_TMP/dv" "$T_TMP/cert.pem" "$T_TMP/key.pem" 127.0.0.1 1143 1993
dv_fill 5 1 2200000
n=$(dv_count INBOX)
[ "$n" = 5 ] || t_fail "INBOX holds $n messages, expected 5"
t_log "Dovecot up, INBOX holds $n generated mails (one of ~2.1 MiB)"

auth=(--user "$DV_USER:$DV_PASS" --max-time 20 -s -S)
# STARTTLS on the plain port, certificate pinned as the CA.
list=$(curl "${auth[@]}" --ssl-reqd --cacert "$T_TMP/cert.pem" \
    --resolve mail.example.test:1143:127.0.0.1 imap://mail.example.test:1143/ ) ||
    t_fail "curl LIST with STARTTLS"
grep -q 'INBOX' <<< "$list" || t_fail "no INBOX in LIST: $list"
grep -q 'Archive' <<< "$list" || t_fail "no Archive in LIST: $list"

for uid in 1 3; do
    curl "${auth[@]}" --ssl-reqd --cacert "$T_TMP/cert.pem" \
        --resolve mail.example.test:1143:127.0.0.1 \
        "imap://mail.example.test:1143/INBOX;UID=$uid" > "$T_TMP/fetch.$uid" ||
        t_fail "curl FETCH UID $uid with STARTTLS"
    dv_mail "$uid" $((uid == 1 ? 2200000 : 0)) | cmp -s - "$T_TMP/fetch.$uid" ||
        t_fail "UID $uid fetched differs from the generated mail"
done
t_log "STARTTLS: LIST and FETCH of UID 1 ($(stat -c %s "$T_TMP/fetch.1") bytes) and 3 byte-exact"

curl "${auth[@]}" --cacert "$T_TMP/cert.pem" --resolve mail.example.test:1993:127.0.0.1 \
    "imaps://mail.example.test:1993/INBOX;UID=2" > "$T_TMP/fetch.imaps" ||
    t_fail "curl FETCH over IMAPS"
dv_mail 2 0 | cmp -s - "$T_TMP/fetch.imaps" || t_fail "UID 2 over IMAPS differs"

dv_append INBOX 6
n=$(dv_count INBOX)
[ "$n" = 6 ] || t_fail "after dv_append INBOX holds $n, expected 6"
t_log "IMAPS FETCH byte-exact; dv_append made message 6"
t_log "PASS"
