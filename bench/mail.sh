# Sourced by bench/run.sh: the mail section. A Dovecot of its own (tests/integration/dovecot.sh)
# with generated market mails in INBOX, on 192.0.2.1 (the host side of the gateway's TAP wire;
# every client reaches it there): the gateway's IMAP receiver delivers the whole mailbox
# through its tunnel into the relay's spool (tests/integration/imap_e2e.sh sets it up, as the
# receiver tests do); then mbsync (FSync on) and fetchmail (to bench_mda, which fsyncs like
# the relay's spool) each fetch it into an empty Maildir.

# run_timed NAME CMD...: wall seconds and the largest peak RSS (KiB) among CMD and its
# descendants (getrusage RUSAGE_CHILDREN), into $T_TMP/NAME.time as "secs maxrss_kib rc".
run_timed() {
    local name=$1; shift
    python3 - "$T_TMP/$name.time" "$@" > "$T_TMP/$name.log" 2>&1 <<'EOF' || true
import resource, subprocess, sys, time
t = time.monotonic()
try:
    rc = subprocess.call(sys.argv[2:], timeout=600)
except subprocess.TimeoutExpired:
    rc = "timeout"
el = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write("%.3f %d %s\n" % (el, rss, rc))
EOF
}

# maildir_stats DIR: "messages bytes" of the Maildir's new/ and cur/
maildir_stats() {
    local n b
    n=$(find "$1/new" "$1/cur" -type f 2> /dev/null | wc -l)
    b=$(find "$1/new" "$1/cur" -type f -printf '%s\n' 2> /dev/null | awk '{ s += $1 } END { print s + 0 }')
    echo "$n $b"
}

mail_record() { # TOOL DIR
    local secs rss rc n b
    read -r secs rss rc < "$T_TMP/$1.time"
    read -r n b < <(maildir_stats "$2")
    fig mail "$1" result "$rc $secs $rss $n $b"
}

# The gateway's run, in a subshell: the e2e helpers end their shell on failure, which here
# ends only this row. It prints "rc secs gateway_rss relay_rss messages bytes".
mail_gateway() (
    local n0=${#T_PIDS[@]} secs i t0 p
    trap 'for p in "${T_PIDS[@]:n0}"; do kill "$p" 2> /dev/null || true; done' EXIT
    GW=$GATEWAY MAKE_PKI=$REPO/tests/unit/make_pki.sh
    . "$REPO/tests/integration/imap_e2e.sh"
    P=$MAIL_PKI FLASH=$T_TMP/mail-flash.img
    rm -rf "$T_TMP/spool"
    # The default after-action: the mailbox stays whole for mbsync and fetchmail.
    E2E_SETUP_EXTRA=("set imap after seen")
    e2e_relay
    e2e_provision > /dev/null
    t0=$(date +%s.%N)
    e2e_gateway_start
    # Bounded: 3 minutes in all, or 30 s without a new message in the spool.
    local last=0 since=0 c
    for ((i = 0; i < 1800; i++)); do
        c=$(spool_count)
        [ "$c" -ge "$1" ] && break
        if [ "$c" != "$last" ]; then last=$c since=$i; elif ((i - since > 300)); then break; fi
        sleep 0.1
    done
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
    console "show imap"
    sleep 0.5
    read -r n b < <(maildir_stats "$T_TMP/spool/loc1")
    echo "$([ "$n" -ge "$1" ] && echo 0 || echo timeout) $secs $(hwm "$E2E_GW_PID") $(hwm "$E2E_RELAY_PID") $n $b"
    cp "$T_TMP/gw.log" "$T_TMP/mail-gateway.log"
    cp "$T_TMP/relay.log" "$T_TMP/mail-relay.log"
)

mail_bench() {
    local D=$T_TMP/dovecot
    b_log "mail: Dovecot with $MAILS generated market mails ($LARGE with a large attachment)"
    # The receiver tests' wire (unless the gateway path made it) and lab PKI (imap_e2e.sh):
    # Dovecot's chain, the relay's, the CA that signs the gateway's CSR.
    MAIL_PKI=$T_TMP/mail-pki
    (MAKE_PKI=$REPO/tests/unit/make_pki.sh; . "$REPO/tests/integration/imap_e2e.sh"
     P=$MAIL_PKI; ip link show gwtap0 > /dev/null 2>&1 || e2e_wire; e2e_pki) ||
        { b_log "mail: lab wire or PKI failed"; return 0; }
    dv_start "$D" "$MAIL_PKI/chain-ec.pem" "$MAIL_PKI/leaf-ec.key" 192.0.2.1 143 993
    dv_fill "$MAILS" "$LARGE" "$LARGE_BYTES"
    # Dovecot indexes the Maildir once, before anyone is timed.
    dv_count INBOX > "$T_TMP/dv-count.txt" 2>&1 || true
    local total n
    read -r n total < <(maildir_stats "$D/Maildir")
    fig mail source mailbox "$n $total"
    fig mail source fs "$(df -T "$T_TMP" | awk 'NR == 2 { print $2 }')"
    cmd "mail source: Dovecot $(dovecot --version | cut -d' ' -f1) (tests/integration/dovecot.sh: dv_start, dv_fill $MAILS $LARGE $LARGE_BYTES), IMAP on 192.0.2.1:143 (a local address; the gateway reaches it over its TAP wire)"

    # ---- the gateway's IMAP receiver, first: it only marks the mail \Seen
    b_log "mail: gateway"
    local res
    res=$(mail_gateway "$n" 2> "$T_TMP/mail-gateway-setup.log") || res="failed"
    fig mail gateway result "$res"
    cmd "gateway: gateway --flash F --net tap:gwtap0 (tests/integration/imap_e2e.sh: e2e_provision; set imap security starttls through a tcp mapping, set imap after seen); relay --config CONF (spool); time from start to the last message in the spool; peak RSS of gateway, relay"

    # ---- mbsync, FSync on
    local M=$T_TMP/mbsync
    mkdir -p "$M/mail"
    cat > "$M/mbsyncrc" <<EOF
FSync yes
IMAPAccount bench
Host 192.0.2.1
Port 143
User $DV_USER
Pass $DV_PASS
SSLType None
AuthMechs LOGIN PLAIN

IMAPStore remote
Account bench

MaildirStore local
Path $M/mail/
Inbox $M/mail/INBOX

Channel bench
Far :remote:INBOX
Near :local:INBOX
Sync Pull
Create Near
SyncState $M/state/
EOF
    mkdir -p "$M/state"
    b_log "mail: mbsync"
    run_timed mbsync mbsync -c "$M/mbsyncrc" -q bench
    mail_record mbsync "$M/mail/INBOX"
    cmd "mbsync $(mbsync --version | cut -d' ' -f2): mbsync -c RC -q bench (FSync yes, Sync Pull, Maildir)"

    # ---- mbsync over IMAPS, as an operator would run it (the gateway reads over STARTTLS):
    # the same, into a Maildir of its own. Dovecot's certificate is named mail.example.test
    # and mbsync dials the address, so the leaf itself is the trusted certificate (isync
    # accepts a server certificate listed in CertificateFile whatever its names).
    local MT=$T_TMP/mbsync-tls
    mkdir -p "$MT/mail" "$MT/state"
    sed -e "s|^Port 143|Port 993|" -e "s|^SSLType None|SSLType IMAPS\nCertificateFile $MAIL_PKI/leaf-ec.pem|" \
        -e "s|$M/|$MT/|g" "$M/mbsyncrc" > "$MT/mbsyncrc"
    b_log "mail: mbsync over IMAPS"
    run_timed mbsync-tls mbsync -c "$MT/mbsyncrc" -q bench
    mail_record mbsync-tls "$MT/mail/INBOX"
    cmd "mbsync over TLS: the same with Port 993, SSLType IMAPS, CertificateFile (Dovecot's leaf)"

    # ---- fetchmail, each message through bench_mda (fsync file and directory)
    local F=$T_TMP/fetchmail
    mkdir -p "$F/Maildir"/{tmp,new,cur}
    cat > "$F/fetchmailrc" <<EOF
set no syslog
poll 192.0.2.1 with proto IMAP port 143 auth password
    user "$DV_USER" there with password "$DV_PASS" is root here
    sslproto '' keep fetchall no rewrite
    mda "$B/bench_mda $F/Maildir"
EOF
    chmod 600 "$F/fetchmailrc"
    b_log "mail: fetchmail"
    FETCHMAILHOME=$F run_timed fetchmail fetchmail -f "$F/fetchmailrc" --nosyslog \
        --pidfile "$F/pid" --idfile "$F/ids"
    mail_record fetchmail "$F/Maildir"
    cmd "fetchmail $(fetchmail --version 2> /dev/null | sed -n 's/^This is fetchmail release \([^ ,+]*\).*/\1/p'): fetchmail -f RC (IMAP, keep, fetchall, mda \"bench_mda MAILDIR\": tmp/, fsync, rename to new/, fsync dir)"

    dv_stop
}
