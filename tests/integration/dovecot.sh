# A real Dovecot for integration tests: sourced after lib.sh, inside the test's network
# namespace (t_enter_netns), so it listens only where the test put addresses. Nothing of
# the system's Dovecot configuration is read: the instance has its own config, base_dir,
# state, log and Maildir under one directory, and runs as root (tests and CI are root)
# with its login and internal processes dropped to Dovecot's users (or nobody).
# DV_UNPRIVILEGED=1 (set before sourcing) runs it as the calling user instead, for a user
# without root (make run through passt): every process and the mail are that user's, no
# chroot, and ports that user may bind (above 1023).
#
#   dv_start DIR CERT KEY ADDR [IMAP_PORT [IMAPS_PORT]]
#        Start Dovecot in the foreground (t_spawn "dovecot", killed at exit) with one user
#        $DV_USER / $DV_PASS (passwd-file), Maildir in DIR/Maildir, IMAP on ADDR:IMAP_PORT
#        (default 143, STARTTLS offered, plaintext login allowed) and IMAPS on
#        ADDR:IMAPS_PORT (default 993) with CERT (chain PEM, leaf first) and KEY. Returns
#        when both ports accept connections. Sets DV_DIR. Log: DIR/dovecot.log.
#        DV_EXTRA (lines of dovecot.conf appended last) changes the defaults, e.g.
#        "imap_capability = IMAP4rev1 LITERAL+" to hide extensions.
#   dv_fill N [LARGE [LARGE_BYTES [FOLDER [FIRST]]]]
#        Put N generated market mails (MIME, one EDIFACT attachment each: UTILMD, MSCONS,
#        APERAK in turn) into INBOX (or FOLDER, a folder of the namespace: Archive), as
#        Maildir files written directly into new/, numbered from FIRST (default 1). The first
#        LARGE of them (default 0) carry EDIFACT of about LARGE_BYTES (default 2.5 MiB; base64
#        makes the message 4/3 of that).
#        Message i's Message-ID is <market-i@example.test>; files are made by dv_mail.
#   dv_mail I SIZE   print market mail number I, its attachment about SIZE bytes (0: small).
#   dv_append FOLDER I [SIZE]   append mail I through doveadm save (Dovecot notices it, as
#        it would a delivery: IDLE clients hear of it).
#   dv_count FOLDER [QUERY]   number of messages in FOLDER (doveadm search; QUERY default ALL).
#   dv_doveadm ARGS...        doveadm against this instance.
#   dv_stop                   stop Dovecot (also happens at the test's exit via t_spawn).
#
# A second instance as the relay's mail store (`spool lmtp`), configured from the files an
# operator installs (tools/store: 90-relay-store.conf, relay-dedup.sieve):
#   dvs_start DIR CERT KEY ADDR LMTP_PORT IMAPS_PORT USER:PASS...
#        LMTP on ADDR:LMTP_PORT (and the UNIX socket DIR/run/lmtp), IMAPS on
#        ADDR:IMAPS_PORT, a mailbox per USER (an address: loc1@relay.example) in
#        DIR/home/USER/Maildir, the relay's Sieve script before anything else. t_spawn'd as
#        "store" (DVS_PID); returns when both ports accept connections. Sets DVS_DIR.
#        DVS_EXTRA (dovecot.conf lines) is appended last.
#   dvs_doveadm ARGS...       doveadm against the store.
#   dvs_stop / dvs_restart    stop it (doveadm stop: deliveries under way end first); start
#                             it again with the same configuration.
# Needs: dovecot-imapd (make deps), openssl for a certificate if the test makes one; the
# store dovecot-lmtpd and dovecot-sieve.

DV_USER=${DV_USER:-market}
DV_PASS=${DV_PASS:-m4rket-Pass}
DV_MAIL_USER=nobody                 # owner of the Maildir; Dovecot refuses UID 0 for mail
[ -n "${DV_UNPRIVILEGED:-}" ] && DV_MAIL_USER=$(id -un)

dv_unprivileged_user() {
    if id "$1" > /dev/null 2>&1; then echo "$1"; else echo nobody; fi
}

# The part of dovecot.conf every instance here shares: where it keeps its state and logs,
# who it runs as (the Maildir belongs to an unprivileged user: Dovecot never accesses mail as
# root), plain logins from the passwd-file DIR/users.
# dv_conf_head DIR ADDR PROTOCOLS INSTANCE LOGIN_USER INTERNAL_USER
dv_conf_head() {
    local dir=$1 addr=$2 protocols=$3 instance=$4 login=$5 internal=$6
    cat <<EOF
protocols = $protocols
listen = $addr
base_dir = $dir/run
state_dir = $dir/state
instance_name = $instance
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
default_login_user = $login
default_internal_user = $internal
default_internal_group = $(id -gn "$internal")
first_valid_uid = 1
first_valid_gid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN $dir/users
}
EOF
}

# IMAP (port 0: none) and IMAPS with the test's certificate; one login process kept ready
# (one per connection would be slow to start); auth as AUTH_USER (the test's files live in a
# root-only temp dir: auth reads the users file as root); no artificial delays (tests poll
# quickly and IDLE for long).
# dv_conf_imap CERT KEY IMAP_PORT IMAPS_PORT AUTH_USER
dv_conf_imap() {
    local cert=$1 key=$2 imap=$3 imaps=$4 auth=$5
    cat <<EOF
ssl = yes
ssl_cert = <$cert
ssl_key = <$key
ssl_min_protocol = TLSv1.2
service imap-login {
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
  process_min_avail = 1
  chroot =
}
service anvil {
  chroot =
}
service auth {
  user = $auth
}
service auth-worker {
  user = $auth
}
imap_idle_notify_interval = 1 secs
mailbox_idle_check_interval = 1 secs
login_trusted_networks =
EOF
}

dv_write_conf() {
    local dir=$1 cert=$2 key=$3 addr=$4 imap=$5 imaps=$6
    local login internal auth=root
    login=$(dv_unprivileged_user dovenull)
    internal=$(dv_unprivileged_user dovecot)
    # Without root there is nobody to drop to: everything runs as the caller.
    [ -n "${DV_UNPRIVILEGED:-}" ] && login=$DV_MAIL_USER internal=$DV_MAIL_USER auth=$DV_MAIL_USER
    cat > "$dir/dovecot.conf" <<EOF
# Generated by tests/integration/dovecot.sh: a throwaway instance, nothing shared.
$(dv_conf_head "$dir" "$addr" imap "gw-test-$$" "$login" "$internal")
debug_log_path = $dir/dovecot.log
userdb {
  driver = static
  args = uid=$(id -u "$DV_MAIL_USER") gid=$(id -g "$DV_MAIL_USER") home=$dir/home
}
mail_location = maildir:$dir/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Archive {
    auto = create
  }
}
$(dv_conf_imap "$cert" "$key" "$imap" "$imaps" "$auth")
${DV_EXTRA:-}
EOF
    printf '%s:{PLAIN}%s\n' "$DV_USER" "$DV_PASS" > "$dir/users"
}

dv_start() {
    local dir=$1 cert=$2 key=$3 addr=$4 imap=${5:-143} imaps=${6:-993} i
    DV_DIR=$dir
    mkdir -p "$dir/run" "$dir/state" "$dir/home" "$dir/Maildir"/{new,cur,tmp}
    if [ -z "${DV_UNPRIVILEGED:-}" ]; then
        # Dovecot's unprivileged processes must reach base_dir and the Maildir: every parent
        # becomes traversable (not listable); the mail belongs to the mail user.
        local up=$dir
        while [ "$up" != / ] && [ -n "$up" ]; do chmod o+x "$up"; up=$(dirname "$up"); done
        chown -R "$DV_MAIL_USER:$(id -gn "$DV_MAIL_USER")" "$dir/home" "$dir/Maildir"
    fi
    dv_write_conf "$dir" "$cert" "$key" "$addr" "$imap" "$imaps"
    t_spawn dovecot dovecot -F -c "$dir/dovecot.conf"
    for ((i = 0; i < 100; i++)); do
        if dv_port_open "$addr" "$imap" && dv_port_open "$addr" "$imaps"; then
            return 0
        fi
        sleep 0.1
    done
    cat "$dir/dovecot.log" 2>/dev/null || true
    t_fail "Dovecot did not listen on $addr:$imap and $addr:$imaps within 10 s"
}

dv_port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2> /dev/null
}

dv_doveadm() {
    doveadm -c "$DV_DIR/dovecot.conf" "$@"
}

dv_stop() {
    doveadm -c "$DV_DIR/dovecot.conf" stop > /dev/null 2>&1 || true
}

# A base64 body of about SIZE bytes of EDIFACT: segments repeated until large enough.
dv_edifact() {
    local kind=$1 i=$2 size=$3 seg n
    case $kind in
    UTILMD) seg="IDE+24+GW$i'LOC+172+DE0001234567890000000000000000$i'STS+7++E01'" ;;
    MSCONS) seg="NAD+DP++++Strasse::$i'QTY+220:$((i * 7 % 1000)).5'DTM+163:20261128000000?+00:303'" ;;
    *) seg="ERC+Z10'FTX+AAO+++Nachricht $i abgelehnt'RFF+ACE:MSG$i'" ;;
    esac
    printf "UNA:+.? 'UNB+UNOC:3+9900000000001:500+9900000000002:500+261128:1345+REF%s'" "$i"
    printf "UNH+%s+%s:D:11A:UN:5.2e'BGM+E01+DOC%s+9'" "$i" "$kind" "$i"
    n=$(( size > 0 ? size / ${#seg} + 1 : 3 ))
    local block=$seg k
    # Doubling keeps large bodies cheap to make in bash.
    for ((k = 1; k * 2 <= n; k *= 2)); do block=$block$block; done
    printf '%s' "$block"
    for ((; k < n; k++)); do printf '%s' "$seg"; done
    printf "UNT+%s+%s'UNZ+1+REF%s'" "$((n + 3))" "$i" "$i"
}

dv_mail() {
    local i=$1 size=${2:-0} kind
    case $((i % 3)) in 0) kind=UTILMD ;; 1) kind=MSCONS ;; *) kind=APERAK ;; esac
    printf 'Return-Path: <edi@supplier.example.test>\r\n'
    printf 'From: EDI Supplier <edi@supplier.example.test>\r\n'
    printf 'To: Market <market@example.test>\r\n'
    printf 'Subject: %s %s\r\n' "$kind" "$i"
    printf 'Date: Sat, 28 Nov 2026 13:45:%02d +0100\r\n' "$((i % 60))"
    printf 'Message-ID: <market-%s@example.test>\r\n' "$i"
    printf 'MIME-Version: 1.0\r\n'
    printf 'Content-Type: multipart/mixed; boundary="gw-%s"\r\n\r\n' "$i"
    printf -- '--gw-%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' "$i"
    printf 'Market message %s (%s).\r\n\r\n' "$i" "$kind"
    printf -- '--gw-%s\r\nContent-Type: application/EDIFACT; name="%s_%s.edi"\r\n' "$i" "$kind" "$i"
    printf 'Content-Transfer-Encoding: base64\r\n'
    printf 'Content-Disposition: attachment; filename="%s_%s.edi"\r\n\r\n' "$kind" "$i"
    dv_edifact "$kind" "$i" "$size" | base64 -w 76 | sed 's/$/\r/'
    printf -- '\r\n--gw-%s--\r\n' "$i"
}

dv_fill() {
    local n=$1 large=${2:-0} bytes=${3:-2621440} folder=${4:-INBOX} first=${5:-1} i size tmp
    local md=$DV_DIR/Maildir
    if [ "$folder" != INBOX ]; then          # Maildir++: the folder is a dot-directory
        md=$md/.$folder
        mkdir -p "$md/new" "$md/cur" "$md/tmp"
        chown -R "$DV_MAIL_USER" "$md"
    fi
    for ((i = first; i < first + n; i++)); do
        size=0
        ((i < first + large)) && size=$bytes
        tmp="$md/tmp/gen.$i"
        dv_mail "$i" "$size" > "$tmp"
        # Maildir delivery: write in tmp/, rename into new/ (Dovecot assigns UIDs in order
        # of the names it finds, so the names sort by i).
        chown "$DV_MAIL_USER" "$tmp"
        mv "$tmp" "$md/new/$(printf '%d.M%06dP1.gwtest' "$((1700000000 + i))" "$i"),S=$(stat -c %s "$tmp")"
    done
}

dv_append() {
    local folder=$1 i=$2 size=${3:-0}
    dv_mail "$i" "$size" | dv_doveadm save -u "$DV_USER" -m "$folder"
}

dv_count() {
    local folder=$1 query=${2:-ALL}
    # shellcheck disable=SC2086
    dv_doveadm search -u "$DV_USER" mailbox "$folder" $query | wc -l
}

# ---- the relay's mail store ----

dvs_write_conf() {
    local dir=$1 cert=$2 key=$3 addr=$4 lmtp=$5 imaps=$6 store
    local login internal auth=root
    store=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tools/store" && pwd)
    login=$(dv_unprivileged_user dovenull)
    internal=$(dv_unprivileged_user dovecot)
    [ -n "${DV_UNPRIVILEGED:-}" ] && login=$DV_MAIL_USER internal=$DV_MAIL_USER auth=$DV_MAIL_USER
    cp "$store/relay-dedup.sieve" "$dir/relay-dedup.sieve"
    cat > "$dir/dovecot.conf" <<EOF
# Generated by tests/integration/dovecot.sh: the relay's mail store, a throwaway instance.
# (LMTP as Debian's dovecot-lmtpd turns it on in /etc/dovecot; this file includes none.)
$(dv_conf_head "$dir" "$addr" "imap lmtp" "gw-store-$$" "$login" "$internal")
# No allow_all_users: LMTP asks the passdb, so an unknown mailbox is refused at RCPT.
userdb {
  driver = static
  args = uid=$(id -u "$DV_MAIL_USER") gid=$(id -g "$DV_MAIL_USER") home=$dir/home/%u
}
mail_location = maildir:~/Maildir
$(dv_conf_imap "$cert" "$key" 0 "$imaps" "$auth")
# What an operator installs (tools/store/90-relay-store.conf), at this test's address,
# port and paths:
$(sed -e "s|address = 127.0.0.1|address = $addr|" -e "s|port = 24\$|port = $lmtp|" \
      -e "s|/etc/dovecot/sieve/relay-dedup.sieve|$dir/relay-dedup.sieve|" \
      "$store/90-relay-store.conf")
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
${DVS_EXTRA:-}
EOF
    : > "$dir/users"
}

dvs_start() {
    local dir=$1 cert=$2 key=$3 addr=$4 lmtp=$5 imaps=$6 u
    shift 6
    DVS_DIR=$dir DVS_ARGS=("$addr" "$lmtp" "$imaps")
    mkdir -p "$dir/run" "$dir/state" "$dir/home"
    dvs_write_conf "$dir" "$cert" "$key" "$addr" "$lmtp" "$imaps"
    for u in "$@"; do
        printf '%s:{PLAIN}%s\n' "${u%%:*}" "${u#*:}" >> "$dir/users"
        # The home made beforehand, as the operator guide says: Dovecot makes it only at
        # the first store, after the duplicate test's lock, which then fails (logged) and
        # leaves the first delivery unlocked against a concurrent second one.
        mkdir -p "$dir/home/${u%%:*}"
    done
    if [ -z "${DV_UNPRIVILEGED:-}" ]; then
        local up=$dir
        while [ "$up" != / ] && [ -n "$up" ]; do chmod o+x "$up"; up=$(dirname "$up"); done
        chown -R "$DV_MAIL_USER:$(id -gn "$DV_MAIL_USER")" "$dir/home"
    fi
    # Global scripts are compiled by the operator: the mail user may not write beside them.
    sievec -c "$dir/dovecot.conf" "$dir/relay-dedup.sieve" ||
        t_fail "sievec could not compile the relay's Sieve script"
    dvs_run
}

dvs_run() {
    local i
    t_spawn store dovecot -F -c "$DVS_DIR/dovecot.conf"
    DVS_PID=${T_PIDS[-1]}
    for ((i = 0; i < 100; i++)); do
        if dv_port_open "${DVS_ARGS[0]}" "${DVS_ARGS[1]}" &&
           dv_port_open "${DVS_ARGS[0]}" "${DVS_ARGS[2]}"; then
            return 0
        fi
        sleep 0.1
    done
    cat "$DVS_DIR/dovecot.log" 2> /dev/null || true
    t_fail "the store did not listen on ${DVS_ARGS[0]}:${DVS_ARGS[1]} and :${DVS_ARGS[2]} within 10 s"
}

dvs_doveadm() {
    doveadm -c "$DVS_DIR/dovecot.conf" "$@"
}

dvs_stop() {
    dvs_doveadm stop > /dev/null 2>&1 || true
    wait "$DVS_PID" 2> /dev/null || true
}

dvs_restart() {
    dvs_stop
    dvs_run
}
