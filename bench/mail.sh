# Sourced by bench/run.sh: the mail section. A Dovecot of its own (tests/integration/dovecot.sh)
# with generated market mails in INBOX, on 192.0.2.1 (the host side of the gateway's TAP wire;
# every client reaches it there): the gateway's IMAP receiver delivers the whole mailbox
# through its tunnel into the relay's spool (tests/integration/imap_e2e.sh sets it up, as the
# receiver tests do): over STARTTLS, over IMAPS, and over STARTTLS with 50 ms of round
# trip added between gateway and relay (bench_delay); then mbsync (FSync on; plain and IMAPS)
# fetches it into an empty Maildir, each of these BENCH_RUNS times, and fetchmail (to
# bench_mda, which fsyncs like the relay's spool) once.

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

# spool_files DIR: how many files DIR holds, into SPOOL_N, without a process (bash's glob,
# no command substitution): the gateway's clock below looks every 20 ms, and a find(1) each
# time would take CPU from the gateway.
spool_files() {
    local f
    shopt -s nullglob
    f=("$1"/*)
    shopt -u nullglob
    SPOOL_N=${#f[@]}
}

# lwip_window: "SND_BUF WND" in bytes, the send buffer of the gateway's tunnel connection
# (GW_TCP_SND_BUF_WAN) and its TCP receive window as net/port/lwipopts.h sets them
# (evaluated by the C preprocessor; empty if that fails).
lwip_window() {
    printf '#include "lwipopts.h"\nGW_TCP_SND_BUF_WAN;TCP_WND\n' |
        cc -E -P -I "$REPO/net/port" - 2> /dev/null | tail -n 1 |
        python3 -c 'import sys; print(" ".join(str(eval(x)) for x in sys.stdin.read().split(";")))' \
        2> /dev/null || true
}

# The gateway's run, in a subshell: the e2e helpers end their shell on failure, which here
# ends only this row. mail_gateway ROW N: ROW is tls (STARTTLS through a tcp mapping, as the
# receiver tests), imaps (implicit TLS: set imap security tls, through the tcp mapping to
# port 993, as mbsync's IMAPS; plain IMAP the gateway refuses over a tcp mapping, the
# password would cross in clear: firmware/config/config.c) or wan (tls, with bench_delay
# adding MAIL_WAN_MS of round trip between gateway and relay: the gateway on --net
# stream:SOCK, bench_delay between that socket and gwtap0, delaying only the relay's tunnel
# port; Dovecot, on the LAN side, stays undelayed). It prints "rc secs gateway_rss relay_rss
# messages bytes", and adds the gateway's `show status` ram line and, for wan, the measured
# RTT and bench_delay's counters as figures.
mail_gateway() (
    local row=$1 n0=${#T_PIDS[@]} secs i t0 t1 p wan_pid= sfd
    trap 'for p in "${T_PIDS[@]:n0}"; do kill "$p" 2> /dev/null || true; done' EXIT
    GW=$GATEWAY MAKE_PKI=$REPO/tests/unit/make_pki.sh
    [ "$row" = wan ] && E2E_GW_NET=stream:$T_TMP/wan.sock
    . "$REPO/tests/integration/imap_e2e.sh"
    P=$MAIL_PKI FLASH=$T_TMP/mail-flash.img
    rm -rf "$T_TMP/spool" "$FLASH" "$T_TMP/gw.log"
    # The after-action seen: the mailbox stays whole for the next row and for mbsync.
    E2E_SETUP_EXTRA=("set imap after seen")
    [ "$row" = imaps ] &&
        E2E_SETUP_EXTRA+=("set imap server mail.example.test:993" "set imap security tls")
    e2e_relay
    e2e_provision > /dev/null
    if [ "$row" = wan ]; then
        t_spawn wan "$B/bench_delay" --tap gwtap0 --listen "$T_TMP/wan.sock" \
            --port "$E2E_TUNNEL_PORT" --delay-ms "$(echo "scale=3; $MAIL_WAN_MS / 2" | bc)"
        wan_pid=${T_PIDS[-1]}
        b_wait_log wan serving 5 || { echo "failed: bench_delay did not start"; return 0; }
    fi
    ip neigh flush dev gwtap0    # the last row's gateway may have had another address
    # A fifo nobody writes: read -t on it waits 20 ms without a sleep(1) process.
    rm -f "$T_TMP/tick"
    mkfifo "$T_TMP/tick"
    exec {sfd}<> "$T_TMP/tick"
    # Microseconds from bash's clock (no process per look).
    t0=${EPOCHREALTIME/./}
    e2e_gateway_start
    # Bounded: MAIL_GW_SECS in all, or 30 s without a new message in the spool.
    local last=0 since=$t0 c now=$t0
    while :; do
        spool_files "$T_TMP/spool/loc1/new"
        c=$SPOOL_N
        now=${EPOCHREALTIME/./}
        [ "$c" -ge "$2" ] && break
        if [ "$c" != "$last" ]; then
            last=$c since=$now
        elif ((now - since > 30000000 || now - t0 > MAIL_GW_SECS * 1000000)); then
            break
        fi
        read -r -t 0.02 -u "$sfd" _ || true
    done
    t1=$now
    secs=$(printf '%d.%06d' $(((t1 - t0) / 1000000)) $(((t1 - t0) % 1000000)))
    local g0
    g0=$(wc -l < "$T_TMP/gw.log")
    console "show status" "show imap"
    for ((i = 0; i < 20; i++)); do
        sleep 0.1
        tail -n +"$((g0 + 1))" "$T_TMP/gw.log" | grep -q '^ram: ' && break
    done
    sleep 0.3
    tail -n +"$((g0 + 1))" "$T_TMP/gw.log" > "$T_TMP/mail-status-$row.txt"
    fig mail "gateway-$row" ram "$(sed -n 's/^ram: *//p' "$T_TMP/mail-status-$row.txt" | head -n 1)"
    if [ -n "$wan_pid" ]; then
        # The RTT the relay's kernel measured on the gateway's tunnel connection (ss -i:
        # smoothed rtt and minimum, ms): the delay as TCP sees it, not as configured.
        local ssl
        ssl=$(ss -tinH state established "( sport = :$E2E_TUNNEL_PORT )" 2> /dev/null |
            head -n 2 | tr '\n' ' ')
        # " rtt:" and " minrtt:" (not rcv_rtt, the receiver's estimate of an idle direction)
        fig mail gateway-wan rtt "$(grep -oE ' (min)?rtt:[0-9.]+' <<< " $ssl" | tr -d ' ' | tr '\n' ' ')"
        b_stop "$wan_pid"
        fig mail gateway-wan delay "$(sed -n 's/^bench_delay: stats: //p' "$T_TMP/wan.log" | tail -n 1)"
        cp "$T_TMP/wan.log" "$T_TMP/mail-bench_delay.log"
    fi
    read -r n b < <(maildir_stats "$T_TMP/spool/loc1")
    echo "$([ "$n" -ge "$2" ] && echo 0 || echo timeout) $secs $(hwm "$E2E_GW_PID") $(hwm "$E2E_RELAY_PID") $n $b"
    cp "$T_TMP/gw.log" "$T_TMP/mail-gateway-$row.log"
    cp "$T_TMP/relay.log" "$T_TMP/mail-relay-$row.log"
)

# Between the gateway's rows: every message unread again, without the gateway's keyword, so
# the next row (a fresh flash) fetches the whole mailbox.
mail_unseen() {
    dv_doveadm flags remove -u "$DV_USER" '\Seen $GatewayDelivered' mailbox INBOX ALL \
        > /dev/null 2>&1 || b_log "mail: doveadm flags remove failed"
}

mail_bench() {
    local D=$T_TMP/dovecot
    MAIL_WAN_MS=${BENCH_WAN_MS:-50}
    MAIL_GW_SECS=${BENCH_MAIL_GW_SECS:-300}
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
    fig mail source window "$(lwip_window)"
    fig mail source wan_ms "$MAIL_WAN_MS"
    cmd "mail source: Dovecot $(dovecot --version | cut -d' ' -f1) (tests/integration/dovecot.sh: dv_start, dv_fill $MAILS $LARGE $LARGE_BYTES), IMAP on 192.0.2.1:143 (a local address; the gateway reaches it over its TAP wire)"

    # mbsync, FSync on, over plain IMAP and over IMAPS (port 993, as an operator would run it
    # beside a gateway that reads over STARTTLS). Dovecot's certificate is named
    # mail.example.test and mbsync dials the address, so the leaf itself is the trusted
    # certificate (isync accepts a server certificate listed in CertificateFile whatever its
    # names). Each run into an empty Maildir.
    local M=$T_TMP/mbsync MT=$T_TMP/mbsync-tls
    mkdir -p "$M" "$MT"
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
    sed -e "s|^Port 143|Port 993|" -e "s|^SSLType None|SSLType IMAPS\nCertificateFile $MAIL_PKI/leaf-ec.pem|" \
        -e "s|$M/|$MT/|g" "$M/mbsyncrc" > "$MT/mbsyncrc"

    local res row label
    for ((RUN = 1; RUN <= RUNS; RUN++)); do
        # ---- the gateway's IMAP receiver: it only marks the mail \Seen, undone after each row
        for row in ${BENCH_MAIL_ROWS:-tls imaps wan}; do
            label=gateway-$row
            [ "$row" = tls ] && label=gateway
            b_log "mail: run $RUN of $RUNS: $label"
            res=$(mail_gateway "$row" "$n" 2> "$T_TMP/mail-$label-setup.log") || res="failed"
            fig mail "$label" result "$res"
            mail_unseen
        done
        cmd "gateway: gateway --flash F --net tap:gwtap0 (tests/integration/imap_e2e.sh: e2e_provision; set imap security starttls through a tcp mapping, set imap after seen); relay --config CONF (spool); time from the gateway's start to the last message in the spool (looked at every 20 ms); peak RSS of gateway, relay; then show status"
        cmd "gateway IMAPS: the same with set imap server mail.example.test:993, set imap security tls (implicit TLS through the tcp mapping to Dovecot's 993)"
        cmd "gateway, $MAIL_WAN_MS ms RTT to the relay: the same as gateway (STARTTLS) on --net stream:SOCK, with bench_delay --tap gwtap0 --listen SOCK --port 7443 --delay-ms $(echo "scale=3; $MAIL_WAN_MS / 2" | bc) between (bench/bench_delay.c: the frames of the relay's tunnel port wait that long each way, Dovecot's do not; this kernel has no sch_netem for tc netem); the RTT from ss -ti on the relay's tunnel socket"

        b_log "mail: run $RUN of $RUNS: mbsync"
        rm -rf "$M/mail" "$M/state" "$MT/mail" "$MT/state"
        mkdir -p "$M/mail" "$M/state" "$MT/mail" "$MT/state"
        run_timed mbsync mbsync -c "$M/mbsyncrc" -q bench
        mail_record mbsync "$M/mail/INBOX"
        cmd "mbsync $(mbsync --version | cut -d' ' -f2): mbsync -c RC -q bench (FSync yes, Sync Pull, Maildir)"
        b_log "mail: run $RUN of $RUNS: mbsync over IMAPS"
        run_timed mbsync-tls mbsync -c "$MT/mbsyncrc" -q bench
        mail_record mbsync-tls "$MT/mail/INBOX"
        cmd "mbsync over TLS: the same with Port 993, SSLType IMAPS, CertificateFile (Dovecot's leaf)"
    done
    RUN=1

    # ---- fetchmail, each message through bench_mda (fsync file and directory): once, as it
    # is no goal's peer
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
    cmd "fetchmail $(fetchmail --version 2> /dev/null | sed -n 's/^This is fetchmail release \([^ ,+]*\).*/\1/p'): fetchmail -f RC (IMAP, keep, fetchall, mda \"bench_mda MAILDIR\": tmp/, fsync, rename to new/, fsync dir), in the first run only"

    dv_stop
}
