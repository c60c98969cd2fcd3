#!/bin/bash
# The IMAP engine (proto/imap_client) with our BearSSL TLS on kernel sockets, against a real
# Dovecot in this test's network namespace: STARTTLS on 143 with the certificate checked
# for mail.example.test, implicit TLS on 993, plain; each after-action leaves the server
# as the operator asked; every message arrives byte-exact (2.9 MiB ones included); IDLE
# hears of a message appended while idle within two seconds. Then hostile servers: each
# STARTTLS attack is refused with a clear verdict and the password never leaves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
CLIENT=$1 MAKE_PKI=$2

sh "$MAKE_PKI" "$T_TMP/pki" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh failed"
dv_start "$T_TMP/dv" "$T_TMP/pki/chain-ec.pem" "$T_TMP/pki/leaf-ec.key" 127.0.0.1

session() {   # session NAME ARGS...: run the client; its output in $T_TMP/NAME.out
    local name=$1; shift
    mkdir -p "$T_TMP/$name"
    "$CLIENT" --user "$DV_USER" --pass "$DV_PASS" --out "$T_TMP/$name" \
        --ca "$T_TMP/pki/root.der" --host mail.example.test "$@" > "$T_TMP/$name.out" 2>&1
}

check_fetched() {   # check_fetched NAME FIRST LAST LARGE_BYTES: files byte-exact
    local name=$1 first=$2 last=$3 large=$4 i size
    for ((i = first; i <= last; i++)); do
        size=0
        ((i <= LARGE_LAST)) && size=$large
        dv_mail "$i" "$size" | cmp -s - "$T_TMP/$name/$i" ||
            t_fail "$name: message $i differs from what was put into the mailbox"
    done
}

# --- STARTTLS, delete: 30 mails, 3 of them large, fetched and expunged.
LARGE_LAST=3
dv_fill 30 3 2200000
start=$(date +%s.%N)
session starttls --connect 127.0.0.1:143 --mode starttls --after delete --trace "$T_TMP/trace.starttls" ||
    { cat "$T_TMP/starttls.out"; t_fail "STARTTLS session"; }
secs=$(echo "$(date +%s.%N) - $start" | bc)
grep -q '^fetched 30 messages' "$T_TMP/starttls.out" || t_fail "starttls: $(tail -1 "$T_TMP/starttls.out")"
check_fetched starttls 1 30 2200000
[ "$(dv_count INBOX)" = 0 ] || t_fail "after delete INBOX still holds $(dv_count INBOX)"
t_log "starttls + delete: $(grep '^fetched' "$T_TMP/starttls.out") in ${secs}s, byte-exact; INBOX empty"
# Nothing of the session but the greeting, CAPABILITY and the STARTTLS OK went in clear.
grep -q 'Begin TLS' "$T_TMP/trace.starttls" || t_fail "no STARTTLS OK in the plaintext trace"
grep -q 'SEARCH\|FETCH' "$T_TMP/trace.starttls" && t_fail "mail data seen in clear"

# --- implicit TLS on 993, seen: messages stay, flagged \Seen.
LARGE_LAST=0
dv_fill 10
session tls --connect 127.0.0.1:993 --mode tls --after seen ||
    { cat "$T_TMP/tls.out"; t_fail "implicit TLS session"; }
grep -q '^fetched 10 messages' "$T_TMP/tls.out" || t_fail "tls: $(tail -1 "$T_TMP/tls.out")"
[ "$(dv_count INBOX)" = 10 ] || t_fail "seen: INBOX should keep its 10 messages"
[ "$(dv_count INBOX UNSEEN)" = 0 ] || t_fail "seen: $(dv_count INBOX UNSEEN) still unseen"
session tls2 --connect 127.0.0.1:993 --mode tls --after seen || t_fail "second seen session"
grep -q '^fetched 0 messages' "$T_TMP/tls2.out" || t_fail "seen messages fetched again"
t_log "tls + seen: 10 fetched, all \\Seen, none fetched again"
dv_doveadm expunge -u "$DV_USER" mailbox INBOX all

# --- plain (security off, as over a tls mapping), move to Archive; a transcript for the
# fuzz corpus.
dv_fill 12
session move --connect 127.0.0.1:143 --mode plain --after move:Archive --trace "$T_TMP/trace.plain" ||
    { cat "$T_TMP/move.out"; t_fail "plain session with move"; }
grep -q '^fetched 12 messages' "$T_TMP/move.out" || t_fail "move: $(tail -1 "$T_TMP/move.out")"
[ "$(dv_count INBOX)" = 0 ] || t_fail "move: INBOX still holds $(dv_count INBOX)"
[ "$(dv_count Archive)" = 12 ] || t_fail "move: Archive holds $(dv_count Archive), expected 12"
t_log "plain + move Archive: 12 fetched, INBOX empty, Archive holds 12"
[ -n "${IMAP_TRACE_DIR:-}" ] && cp "$T_TMP/trace.plain" "$IMAP_TRACE_DIR/dovecot_plain_session"

# --- IDLE: a message appended while idle is fetched within two seconds.
"$CLIENT" --user "$DV_USER" --pass "$DV_PASS" --out "$T_TMP/idle" --connect 127.0.0.1:143 \
    --mode starttls --ca "$T_TMP/pki/root.der" --host mail.example.test --after delete \
    --idle --timeout 60 > "$T_TMP/idle.log" 2>&1 &
idle_pid=$!
T_PIDS+=($idle_pid)
mkdir -p "$T_TMP/idle"
t_wait_log idle '^idling' 20
sleep 0.5
start=$(date +%s.%N)
dv_append INBOX 99
for ((i = 0; i < 50; i++)); do
    grep -q '^fetched' "$T_TMP/idle.log" && break
    sleep 0.1
done
secs=$(echo "$(date +%s.%N) - $start" | bc)
wait "$idle_pid" || { cat "$T_TMP/idle.log"; t_fail "IDLE session"; }
grep -q '^fetched 1 messages' "$T_TMP/idle.log" || t_fail "idle: $(tail -1 "$T_TMP/idle.log")"
dv_mail 99 0 | cmp -s - "$T_TMP"/idle/* || t_fail "the message fetched in IDLE differs"
(( $(echo "$secs < 2.5" | bc) )) || t_fail "IDLE took ${secs}s to notice the new message"
t_log "IDLE: appended message fetched ${secs}s later"

# --- Wrong password: a clear verdict.
"$CLIENT" --user "$DV_USER" --pass wrong --out "$T_TMP" --connect 127.0.0.1:143 --mode starttls \
    --ca "$T_TMP/pki/root.der" --host mail.example.test > "$T_TMP/badpw.out" 2>&1 &&
    t_fail "a wrong password logged in"
grep -q 'verdict: login refused: .*Authentication failed' "$T_TMP/badpw.out" ||
    t_fail "wrong password: $(cat "$T_TMP/badpw.out")"
# --- The certificate is checked against the name we asked for.
session wrongname --connect 127.0.0.1:143 --mode starttls --host other.example.test &&
    t_fail "STARTTLS accepted a certificate for another name"
t_log "wrong password: $(grep verdict "$T_TMP/badpw.out"); wrong name: $(grep verdict "$T_TMP/wrongname.out")"

# --- Hostile servers: every attack refused before the password is sent.
port=2000
for mode in no-starttls preauth inject-after-ok starttls-no tagged-injection; do
    port=$((port + 1))
    python3 "$T_DIR/imap_hostile.py" 127.0.0.1 $port $mode "$T_TMP/hostile-$mode.seen" \
        > "$T_TMP/hostile-$mode.log" 2>&1 &
    T_PIDS+=($!)
    t_wait_log "hostile-$mode" listening 10
    session "h-$mode" --connect 127.0.0.1:$port --mode starttls --timeout 15 &&
        t_fail "$mode: the client went on"
    verdict=$(grep '^verdict' "$T_TMP/h-$mode.out") || t_fail "$mode: no verdict"
    if grep -qiE 'LOGIN|AUTHENTICATE|m4rket|bWFya2V0' "$T_TMP/hostile-$mode.seen" 2>/dev/null; then
        t_fail "$mode: credentials were sent: $(cat "$T_TMP/hostile-$mode.seen")"
    fi
    t_log "$mode: refused, no credentials sent ($verdict)"
done
t_log PASS
