# Sourced by bench/run.sh: the mail section. A Dovecot of its own (tests/integration/dovecot.sh)
# with generated market mails in INBOX; mbsync (FSync on) and fetchmail (to bench_mda, which
# fsyncs like the relay's spool) each fetch the whole mailbox into an empty Maildir; the
# gateway's IMAP receiver into the relay spool when the build has it.

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

mail_bench() {
    local D=$T_TMP/dovecot
    b_log "mail: Dovecot with $MAILS generated market mails ($LARGE with a large attachment)"
    dv_start "$D" "$P/chain-ec.pem" "$P/leaf-ec.key" 127.0.0.1 143 993
    dv_fill "$MAILS" "$LARGE" "$LARGE_BYTES"
    # Dovecot indexes the Maildir once, before anyone is timed.
    dv_count INBOX > "$T_TMP/dv-count.txt" 2>&1 || true
    local total n
    read -r n total < <(maildir_stats "$D/Maildir")
    fig mail source mailbox "$n $total"
    fig mail source fs "$(df -T "$T_TMP" | awk 'NR == 2 { print $2 }')"
    cmd "mail source: Dovecot $(dovecot --version | cut -d' ' -f1) (tests/integration/dovecot.sh: dv_start, dv_fill $MAILS $LARGE $LARGE_BYTES), IMAP on 127.0.0.1:143 without TLS (loopback; both clients alike)"

    # ---- mbsync, FSync on
    local M=$T_TMP/mbsync
    mkdir -p "$M/mail"
    cat > "$M/mbsyncrc" <<EOF
FSync yes
IMAPAccount bench
Host 127.0.0.1
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

    # ---- fetchmail, each message through bench_mda (fsync file and directory)
    local F=$T_TMP/fetchmail
    mkdir -p "$F/Maildir"/{tmp,new,cur}
    cat > "$F/fetchmailrc" <<EOF
set no syslog
poll 127.0.0.1 with proto IMAP port 143 auth password
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

    # ---- the gateway's IMAP receiver (slot)
    local state
    state=$(printf 'show imap\n' | timeout 3 "$GATEWAY" 2>&1 | grep -m1 'not available' || true)
    if [ -n "$state" ]; then
        fig mail gateway result "n/a"
    else
        # The receiver exists: its run needs the gateway tunnel up (gateway_path.sh) and a
        # mapping to this Dovecot; not wired yet in this bench.
        fig mail gateway result "pending"
    fi
    dv_stop
}
