#!/usr/bin/env bash
# make run: a complete local installation on built-in defaults, then the gateway's console on
# this terminal. Who runs it picks where it lives:
#
#   root      in a network namespace of its own, the gateway on a TAP device
#             (tools/run-local-netns.sh); nothing in it reaches your network
#   not root  on this machine's loopback, without any privilege: the gateway's network is
#             passt's (tools/run-local-passt.sh); the servers listen on 127.0.0.1 only, on
#             free high ports, and the gateway reaches them at passt's gateway address
#
# It sets up, with the lab PKI made now by openssl (root's addresses; not root: 127.0.0.1 and
# high ports for Dovecot and the relay, the gateway at 192.0.2.2 by passt's DHCP, reaching
# them at 192.0.2.1, which passt maps to 127.0.0.1):
#
#   Dovecot      192.0.2.1:143 (STARTTLS) and :993, user market, 5 generated market mails
#   relay        tunnels on 192.0.2.1:7443, SOCKS5 on 127.0.0.1:1080, spool in a temp dir
#   gateway      192.0.2.2 on TAP, provisioned through its console language (--batch):
#                device key made on the box, CSR signed by the lab CA, trust store,
#                mappings mail.example.test:143 (tcp) and imaps.example.test:143 (tls),
#                the IMAP receiver (STARTTLS, after-action: move to Archive)
#
# STORE=dovecot (make run STORE=dovecot): the relay hands the mails to a mail store instead
# of its Maildir spool, a second Dovecot configured from tools/store (LMTP on
# 127.0.0.1:24, IMAPS on 127.0.0.1:2993, the relay's Sieve duplicate test; not root: free
# high ports), loc1's mailbox loc1@relay.example (password pw-loc1); the cloud side, curl,
# reads the delivered mails there over IMAPS.
#
# It shows the tunnel coming up, the mails travelling from the mailbox into the relay's
# spool, and curl reaching Dovecot through the relay's SOCKS5 and the gateway; then it
# restarts the gateway with its console here. Ctrl-D on an empty line stops the gateway,
# and with it everything this script started; the temp dir (and the namespace) disappear.
#
# A mode file defines lab_enter (T_TMP, the exit trap, where things are: imap_e2e.sh's
# E2E_* variables), lab_said (what it set up, beyond the common lines), lab_rewire (the
# wire made ready for the gateway's second start), and LAB_WHERE,
# LAB_OTHER, LAB_NSENTER (where the lab is, and how another terminal gets into it).
set -euo pipefail
case "${STORE:-}" in
    "" | maildir) STORE= ;;
    dovecot) ;;
    *) echo "make run: STORE=$STORE: the relay's spool is maildir (the default) or dovecot" >&2
       exit 2 ;;
esac
GW=$(readlink -f "${1:?usage: run-local.sh GATEWAY RELAY}")
RELAY=$(readlink -f "${2:?usage: run-local.sh GATEWAY RELAY}")
top=$(cd "$(dirname "$0")/.." && pwd)
MAKE_PKI=$top/tests/unit/make_pki.sh
. "$top/tests/integration/lib.sh"
if [ "$(id -u)" = 0 ]; then
    . "$top/tools/run-local-netns.sh"
else
    . "$top/tools/run-local-passt.sh"
fi
lab_enter "$GW" "$RELAY"
. "$top/tests/integration/dovecot.sh"
. "$top/tests/integration/imap_e2e.sh"
say() { printf 'make run: %s\n' "$*"; }

say "setting up the lab $LAB_WHERE"
E2E_SETUP_EXTRA=("set imap after move Archive")
if [ -n "$STORE" ]; then
    E2E_SPOOL="spool lmtp 127.0.0.1:$LAB_LMTP_PORT" E2E_MAILBOX=loc1@relay.example
fi
e2e_setup 5 1
say "Dovecot on $E2E_LISTEN holds $(dv_count INBOX) market mails; relay listening; box provisioned"
lab_said
if [ -n "$STORE" ]; then
    dvs_start "$T_TMP/store" "$P/chain-ec.pem" "$P/leaf-ec.key" 127.0.0.1 "$LAB_LMTP_PORT" \
        "$LAB_STORE_PORT" loc1@relay.example:pw-loc1
    say "the mail store: a second Dovecot, LMTP on 127.0.0.1:$LAB_LMTP_PORT for the relay" \
        "(spool lmtp), IMAPS on 127.0.0.1:$LAB_STORE_PORT for the cloud, from tools/store"
fi
# curl as the cloud side of the store: IMAPS with loc1's mailbox user (ARGS... after it)
store_curl() {
    curl -sS --max-time 20 --cacert "$P/root.pem" \
        --resolve "mail.example.test:$LAB_STORE_PORT:127.0.0.1" \
        --user loc1@relay.example:pw-loc1 "$@"
}

# First run: in the background, to show the job being done.
e2e_gateway_start
t_wait_log gw "tunnel: relay relay.example.test:$E2E_TUNNEL_PORT up" 30
say "$(grep -m1 -o 'tunnel: relay .* up ([^)]*)' "$T_TMP/gw.log")"
show_mail() { # FILE
    # header lines end in CRLF: the CR would send the cursor back over the subject
    printf '    %s  %s\n' "$(grep -m1 '^Subject:' "$1" | tr -d '\r' | cut -c1-60)" \
        "$(stat -c %s "$1") bytes"
}
if [ -z "$STORE" ]; then
    wait_spool 5 60
    say "the IMAP receiver delivered $(spool_count) mails into the relay's spool:"
    for f in "$SPOOL"/*; do show_mail "$f"; done
else
    for ((i = 0; i < 600; i++)); do
        n=$(dvs_doveadm search -u loc1@relay.example mailbox INBOX ALL | wc -l)
        [ "$n" -ge 5 ] && break
        sleep 0.1
    done
    [ "$n" -ge 5 ] || t_fail "the store holds $n mails after 60 s, expected 5"
    say "the IMAP receiver delivered $n mails through the relay into the mail store" \
        "(the relay's own disk holds $(find "$T_TMP/spool" -type f | wc -l) files)"
    say "the cloud side: curl reads loc1@relay.example's mailbox over IMAPS (127.0.0.1:$LAB_STORE_PORT):"
    mkdir -p "$T_TMP/cloud"
    for u in $(store_curl -X 'UID SEARCH ALL' "imaps://mail.example.test:$LAB_STORE_PORT/INBOX" |
               sed -n 's/^\* SEARCH//p' | tr -d '\r'); do
        store_curl "imaps://mail.example.test:$LAB_STORE_PORT/INBOX;UID=$u" -o "$T_TMP/cloud/$u" ||
            t_fail "curl could not read UID $u from the store"
        show_mail "$T_TMP/cloud/$u"
    done
    say "(each behind the relay's one header: $(head -n 1 "$T_TMP/cloud/$u" | tr -d '\r' |
        cut -c1-48)...)"
fi
for ((i = 0; i < 50 && $(dv_count Archive) < 5; i++)); do sleep 0.1; done
say "after-action on Dovecot: INBOX $(dv_count INBOX), Archive $(dv_count Archive)"
say "curl --socks5-hostname $E2E_SOCKS through the relay and the tunnel to Dovecot:"
if curl -sS --max-time 20 --socks5-hostname "$E2E_SOCKS" --proxy-user "loc1:$E2E_TOKEN" \
    --user "$DV_USER:$DV_PASS" --ssl-reqd --cacert "$P/root.pem" \
    "imap://mail.example.test:143/Archive;UID=1" -o "$T_TMP/fetched.eml"; then
    grep -m2 -E '^(Subject|From):' "$T_TMP/fetched.eml" | tr -d '\r' | sed 's/^/    /'
    say "($(stat -c %s "$T_TMP/fetched.eml") bytes, Dovecot's chain checked by curl end to end)"
else
    say "curl failed (see above)"
fi
kill "$E2E_GW_PID"
wait "$E2E_GW_PID" 2> /dev/null || true
exec 3>&-
lab_rewire

cat <<TXT

make run: the gateway again, with its console here (try: show status, show tunnel,
  show mappings, show imap, mapping check mail.example.test:143, help).
  From another terminal$LAB_OTHER:
    ${LAB_NSENTER}curl --socks5-hostname $E2E_SOCKS \\
      --proxy-user loc1:$E2E_TOKEN --user $DV_USER:$DV_PASS --ssl-reqd \\
      --cacert $P/root.pem imap://mail.example.test:143/Archive
$(if [ -n "$STORE" ]; then
    printf '  The mail store (IMAPS, user loc1@relay.example, password pw-loc1):\n'
    printf '    %scurl --cacert %s --resolve mail.example.test:%s:127.0.0.1 \\\n' \
        "$LAB_NSENTER" "$P/root.pem" "$LAB_STORE_PORT"
    printf '      --user loc1@relay.example:pw-loc1 imaps://mail.example.test:%s/INBOX\n' \
        "$LAB_STORE_PORT"
    printf '  Store: %s/store (removed at the end).' "$T_TMP"
else
    printf '  Spool: %s/spool (removed at the end).' "$T_TMP"
fi) Ctrl-D on an empty line stops everything.

TXT
rc=0
"$GW" --flash "$FLASH" --net "$E2E_GW_NET" || rc=$?
say "stopped; cleaning up"
exit "$rc"
