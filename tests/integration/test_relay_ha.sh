#!/usr/bin/env bash
# Several relays as one service (issue 18), inside a network namespace this test creates:
#
#   Dovecot (192.0.2.1) --mappings-- gateway A (firmware on TAP gwtap0, 192.0.2.2, loc1, INBOX)
#                                    gateway B (firmware on TAP gwtap1, 198.51.100.2, loc2,
#                                    folder Archive; it reaches 192.0.2.1 through the host)
#   each gateway dials three relays (192.0.2.1:7443, 7444, 7445; one process each, a spool
#   each, SOCKS5 on 127.0.0.1:1081..1083), provisioned through its console language as
#   imap_e2e.sh does (`trust import relay` for the relays' CA);
#
#   - both gateways have a tunnel to every relay; mail is appended to both folders while the
#     receivers deliver it (round robin over their tunnels), and curl downloads 4 MiB at
#     400 KiB/s through each location on every relay;
#   - relay 2 is SIGKILLed in the middle of a delivery's body (its tmp file growing: the
#     relay is stopped there, checked, then killed) and while the downloads run;
#   - the gateways keep their tunnels to relays 1 and 3 (no `down` for them on either
#     side); the downloads through relays 1 and 3 finish without a retry; those through relay
#     2 fail and the client, trying the next relay, gets the file through relay 3;
#   - every mail ends up exactly once, byte-exact, counted over the three relays' Maildirs
#     together (the file name carries the SHA-256), and both folders are empty;
#   - then one more mail, alone in its batch, and the relay that gets it is killed in its
#     body while the other stays up: the receiver searches again at the batch's end (IDLE
#     would not hear of that mail again) and the other relay stores it, once.
#
# A relay killed after writing a message durably but before the gateway read its "stored"
# would leave a second copy on the relay the gateway delivers to next (each relay dedups its
# own spool): at least once across relays. The kill here lands inside a body, which is the
# case that must lose nothing. The store mode closes that gap:
#
# store (issue 19): the same lab, the three relays with `spool lmtp` into one mail store (a
#   second Dovecot on 127.0.0.1: LMTP, IMAPS, the relay's Sieve duplicate test from
#   tools/store), each through lmtp_window.py, and 300 market mails (150 in each folder, 10
#   of ~1.6 MB) waiting when the gateways start;
#   - while they flow, relays are SIGKILLed at random moments and restarted (at least 10
#     kills in all), among them some at the one moment that matters: lmtp_window.py kills
#     the relay after the store's 250 to the end of data, before the relay reads it; the
#     store is restarted once (doveadm stop, start);
#   - mbsync, as a cloud consumer, pulls loc1's mailbox over IMAPS all along, and deletes
#     on the store what it took;
#   - at the end every mail is in the store exactly once: loc1's as mbsync took them (its
#     Maildir ends lines in LF, and it adds an X-TUID header), loc2's read back over IMAPS by curl byte-exact behind the
#     one X-Relay-Delivery header; the store's duplicate test discarded the re-deliveries
#     (at least one per kill in the window); both folders on the source server are empty;
#     no relay has a spool directory with anything in it;
#   - a reload points loc1 at a mailbox the store does not have: a new mail is answered
#     "rejected" (550 to RCPT TO), the gateway's `show imap` says so, and the mail stays on
#     the source server without being delivered again.
#
# Usage: test_relay_ha.sh GATEWAY RELAY MAKE_PKI [kill|store]
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3 MODE=${4:-kill}
. "$T_DIR/imap_e2e.sh"
ulimit -n 8192
# Small socket buffers in this namespace: a download at curl's --limit-rate then keeps its
# stream (and the relay) busy until the end, instead of landing whole in the client's
# receive buffer within a fraction of a second.
sysctl -qw net.ipv4.tcp_rmem="4096 32768 65536" net.ipv4.tcp_wmem="4096 32768 65536"
N=24                     # mails per folder
SIZE=1200000             # EDIFACT bytes each: about 1.6 MB as mail

# ---- lab: PKI, two TAP wires, Dovecot, a web server ----
e2e_pki
e2e_wire
ip tuntap add dev gwtap1 mode tap
ip addr add 198.51.100.1/24 dev gwtap1
ip link set gwtap1 up
dv_start "$T_TMP/dv" "$P/chain-ec.pem" "$P/leaf-ec.key" 192.0.2.1 143 993
if [ "$MODE" = store ]; then
    STORE=$T_TMP/store
    dvs_start "$STORE" "$P/chain-ec.pem" "$P/leaf-ec.key" 127.0.0.1 2424 2993 \
        loc1@relay.example:pw-loc1 loc2@relay.example:pw-loc2
    N=150 NLARGE=5
    dv_fill $N $NLARGE "$SIZE" INBOX 1
    dv_fill $N $NLARGE "$SIZE" Archive 1001
fi
mkdir -p "$T_TMP/www"
head -c $((4 << 20)) /dev/urandom > "$T_TMP/www/big"
(cd "$T_TMP/www" && exec python3 -m http.server 8080 --bind 192.0.2.1) > "$T_TMP/http.log" 2>&1 &
T_PIDS+=($!)

# ---- three relays, the same locations and tokens ----
"$RELAY" token loc1 > "$T_TMP/token-loc1.txt"
"$RELAY" token loc2 > "$T_TMP/token-loc2.txt"
TOKEN1=$(sed -n 's/^token for loc1.*: //p' "$T_TMP/token-loc1.txt")
TOKEN2=$(sed -n 's/^token for loc2.*: //p' "$T_TMP/token-loc2.txt")
RPID=()
relay_conf() { # R [MAILBOX1]: relay R's configuration (store mode: loc1's mailbox)
    local r=$1 spool="spool spool-$1" m1="" m2=""
    mkdir -p "$T_TMP/spool-$r"
    if [ "$MODE" = store ]; then
        # Each relay reaches the store through its own lmtp_window.py (port 2430+R).
        spool="spool lmtp 127.0.0.1:$((2430 + r))"
        m1=" mailbox ${2:-loc1@relay.example}" m2=" mailbox loc2@relay.example"
    fi
    cat > "$T_TMP/relay-$r.conf" <<EOC
listen 192.0.2.1:$((7442 + r))
cert $P/relay-chain.pem key $P/relay.key
client-ca $P/inter.pem
socks 127.0.0.1:$((1080 + r))
metrics 127.0.0.1:$((9100 + r))
$spool
$(grep '^location' "$T_TMP/token-loc1.txt")$m1
$(grep '^location' "$T_TMP/token-loc2.txt")$m2
EOC
}
RELAY_WRAP=()            # a command the relays start under (strace), none at first
relay_start() { # R: (again) with its log appended to, its PID in relay-R.pid
    local r=$1 n i
    touch "$T_TMP/relay-$r.log"
    n=$(grep -c 'listening: tunnels' "$T_TMP/relay-$r.log" || true)
    ${RELAY_WRAP[@]+"${RELAY_WRAP[@]}"} "$RELAY" --config "$T_TMP/relay-$r.conf" >> "$T_TMP/relay-$r.log" 2>&1 \
        < /dev/null &
    disown $!                                # no "Killed" line on the terminal for each kill
    RPID[r]=$!
    T_PIDS+=($!)
    if [ ${#RELAY_WRAP[@]} -gt 0 ]; then     # the relay is the wrapper's child
        RPID[r]=$(t_child $! relay)
        T_PIDS+=("${RPID[r]}")
    fi
    echo "${RPID[r]}" > "$T_TMP/relay-$r.pid"
    for ((i = 0; i < 100; i++)); do
        [ "$(grep -c 'listening: tunnels' "$T_TMP/relay-$r.log" || true)" -gt "${n:-0}" ] && return 0
        sleep 0.1
    done
    t_fail "relay $r did not start again"
}
for r in 1 2 3; do
    relay_conf "$r"
    if [ "$MODE" = store ]; then
        # The window: the 5th and 25th end-of-data replies through each relay's proxy.
        python3 "$T_DIR/lmtp_window.py" $((2430 + r)) 2424 "$T_TMP/relay-$r.pid" 5,25 \
            > "$T_TMP/window-$r.log" 2>&1 &
        T_PIDS+=($!)
    fi
    relay_start "$r"
done

# ---- two gateways, provisioned through their console language ----
provision() { # NAME FLASH NET LOCATION FOLDER
    local name=$1 flash=$2
    printf '%s\n' "set system hostname $name" "$3" "set tunnel location $4" \
        "tunnel key generate" commit "tunnel csr" > "$T_TMP/$name-id.txt"
    "$GW" --flash "$flash" --batch "$T_TMP/$name-id.txt" > "$T_TMP/$name-id.out" 2>&1 ||
        { cat "$T_TMP/$name-id.out"; t_fail "$name: identity"; }
    sed -n '/BEGIN CERTIFICATE REQUEST/,/END CERTIFICATE REQUEST/p' "$T_TMP/$name-id.out" \
        > "$P/$name.csr"
    openssl x509 -req -in "$P/$name.csr" -CA "$P/inter.pem" -CAkey "$P/inter.key" \
        -CAcreateserial -days 30 -out "$P/$name.pem" 2> /dev/null || t_fail "$name: CSR"
    printf '%s\n' "tunnel cert import" "$(cat "$P/$name.pem" "$P/inter.pem")" "" \
        "trust import relay" "$(cat "$P/root.pem")" "" "trust import" "$(cat "$P/root.pem")" "" \
        "host add relay.example.test 192.0.2.1" "host add mailhost 192.0.2.1" \
        "set tunnel relay relay.example.test:7443 relay.example.test:7444 relay.example.test:7445" \
        "mapping add mail.example.test:143 mailhost:143 tcp" \
        "mapping add web.example.test:80 mailhost:8080 tcp" \
        "set imap server mail.example.test:143" "set imap security starttls" \
        "set imap user $DV_USER" "set imap password $DV_PASS" "set imap folder $5" \
        "set imap after delete" "set imap poll 2" "set imap enabled yes" commit \
        > "$T_TMP/$name-setup.txt"
    "$GW" --flash "$flash" --batch "$T_TMP/$name-setup.txt" > "$T_TMP/$name-setup.out" 2>&1 ||
        { cat "$T_TMP/$name-setup.out"; t_fail "$name: setup"; }
}
provision gwa "$T_TMP/gwa.img" "set net address 192.0.2.2/24 gateway 192.0.2.1" loc1 INBOX
provision gwb "$T_TMP/gwb.img" "set net address 198.51.100.2/24 gateway 198.51.100.1" loc2 Archive
# Gateway A with its console on a pipe (`show imap` in the store mode).
mkfifo "$T_TMP/gwa-console"
exec 3<> "$T_TMP/gwa-console"
"$GW" --flash "$T_TMP/gwa.img" --net tap:gwtap0 < "$T_TMP/gwa-console" > "$T_TMP/gwa.log" 2>&1 &
GWA_PID=$!
T_PIDS+=($GWA_PID)
t_spawn gwb "$GW" --flash "$T_TMP/gwb.img" --net tap:gwtap1
GWB_PID=${T_PIDS[-1]}
# Bring back every relay that died (ours, or lmtp_window.py's: the store mode's receivers
# deliver from their first tunnel on, so a relay may meet its kill window before the other
# gateway has reached it).
keep_relays() {
    local r
    for r in 1 2 3; do
        if ! kill -0 "${RPID[r]}" 2> /dev/null; then
            sleep "0.$((2 + RANDOM % 4))"
            relay_start "$r"
        fi
    done
}
for ((i = 0, all = 0; i < 200 && !all; i++)); do
    all=1
    for g in gwa gwb; do
        for port in 7443 7444 7445; do
            grep -q "tunnel: relay relay.example.test:$port up" "$T_TMP/$g.log" || all=0
        done
    done
    ((all)) || { keep_relays; sleep 0.1; }
done
((all)) || t_fail "not every gateway had a tunnel to every relay within 20 s"
for r in 1 2 3; do
    t_wait_log "relay-$r" 'tunnel up: location=loc1' 5
    t_wait_log "relay-$r" 'tunnel up: location=loc2' 5
done
t_log "two gateways, each with a tunnel to each of three relays"

# ---- store mode: 300 mails through relays that keep dying, into one store ----
if [ "$MODE" = store ]; then
    # loc1's cloud consumer: mbsync over IMAPS (mail.example.test is 127.0.0.1 in its own
    # mount namespace's /etc/hosts), taking each new mail out of its Maildir once pulled;
    # its next round deletes on the store what it took.
    C=$T_TMP/consumer
    mkdir -p "$C/near" "$C/processed"
    printf '127.0.0.1 mail.example.test\n' > "$T_TMP/hosts"
    cat > "$C/mbsyncrc" <<EOC
IMAPAccount store
Host mail.example.test
Port 2993
User loc1@relay.example
Pass pw-loc1
AuthMechs LOGIN
SSLType IMAPS
SystemCertificates no
CertificateFile $P/root.pem

IMAPStore far
Account store

MaildirStore near
Path $C/near/
Inbox $C/near/inbox

Channel loc1
Far :far:INBOX
Near :near:INBOX
Create Near
Sync All
Expunge Far
SyncState *
EOC
    consume() {
        unshare --mount -- sh -c "mount --bind '$T_TMP/hosts' /etc/hosts &&
            exec mbsync -q -c '$C/mbsyncrc' loc1" >> "$C/mbsync.log" 2>&1 ||
            echo "mbsync: exit status $?" >> "$C/mbsync.log"
        local f
        for f in "$C"/near/inbox/new/* "$C"/near/inbox/cur/*; do
            [ -f "$f" ] && mv "$f" "$C/processed/"
        done
        return 0
    }
    (while [ ! -e "$C/stop" ]; do consume; sleep 0.5; done) &
    CONSUMER=$!
    T_PIDS+=($CONSUMER)

    # Kill a relay (the next one at random) each time 25 more mails have left the source
    # server; bring back every relay that died (ours or lmtp_window.py's); restart the store
    # once half of them are through.
    kills=0 restarted=0 t0=$SECONDS
    while :; do
        left=$(( $(dv_count INBOX) + $(dv_count Archive) ))
        [ "$left" = 0 ] && break
        ((SECONDS - t0 < 240)) || t_fail "$left mails still on the source server after 240 s"
        keep_relays
        if ((2 * N - left >= 25 * (kills + 1))); then
            sleep "0.$((RANDOM % 10))"
            victim=$((1 + RANDOM % 3))
            kill -KILL "${RPID[victim]}" 2> /dev/null && kills=$((kills + 1))
        fi
        if ((!restarted && left <= N)); then
            dvs_restart
            restarted=1
            t_log "store restarted (doveadm stop, start) with $left mails still to go"
        fi
        sleep 0.1
    done
    window=$(cat "$T_TMP"/window-[123].log | grep -c "^killed relay" || true)
    t_log "all $((2 * N)) mails left the source server in $((SECONDS - t0)) s: relays" \
          "SIGKILLed $kills times at random, $window times after the store's 250; store" \
          "restarted $restarted time"
    ((kills + window >= 10)) || t_fail "only $((kills + window)) relay kills"
    ((window >= 3)) || t_fail "only $window kills after the store's 250"
    ((restarted == 1)) || t_fail "the store was not restarted"
    # Every relay start but the first three followed a kill of ours: none died on its own
    # (keep_relays would hide a crash by starting it again).
    starts=$(cat "$T_TMP"/relay-[123].log | grep -c 'listening: tunnels' || true)
    ((starts <= 3 + kills + window)) ||
        t_fail "$starts relay starts for $((kills + window)) kills: a relay died on its own"

    # The consumer's last rounds: everything it has not yet taken, and its deletions.
    touch "$C/stop"
    wait "$CONSUMER" 2> /dev/null || true
    for ((i = 0; i < 20; i++)); do
        consume
        [ "$(dvs_doveadm search -u loc1@relay.example mailbox INBOX ALL | wc -l)" = 0 ] &&
            [ -z "$(ls -A "$C/near/inbox/new" "$C/near/inbox/cur")" ] && break
    done
    [ "$(dvs_doveadm search -u loc1@relay.example mailbox INBOX ALL | wc -l)" = 0 ] ||
        t_fail "mbsync left loc1's mailbox holding mail"

    # Every mail once: loc1's as mbsync took them, loc2's read over IMAPS by curl.
    declare -A want
    for ((i = 1; i <= N; i++)); do
        for k in $i $((1000 + i)); do
            size=0
            (( (k - 1) % 1000 < NLARGE )) && size=$SIZE
            dv_mail "$k" "$size" > "$T_TMP/orig"
            loc=loc1
            ((k > 1000)) && loc=loc2
            want["$loc/$(sha256sum < "$T_TMP/orig" | cut -d' ' -f1)"]="$k $size"
        done
    done
    key() { head -n 1 "$1" | sed -n 's/^X-Relay-Delivery: \([^;]*\);.*/\1/p'; }
    declare -A seen
    for f in "$C"/processed/*; do
        k=$(key "$f")
        [ -n "${want[$k]:-}" ] || t_fail "mbsync took a mail not sent, or not behind the header: $f"
        [ -z "${seen[$k]:-}" ] || t_fail "loc1's mail ${want[$k]% *} is in the store twice"
        seen[$k]=1
        read -r k size <<< "${want[$k]}"
        # (mbsync's own copy: lines end in LF, and it adds its X-TUID header)
        dv_mail "$k" "$size" | tr -d '\r' | cmp -s - <(tail -n +2 "$f" | sed '/^X-TUID: /d') ||
            t_fail "loc1's mail $k differs behind the header (mbsync's copy)"
    done
    uids=$(curl -sS --max-time 30 --cacert "$P/root.pem" --resolve mail.example.test:2993:127.0.0.1 \
               --user loc2@relay.example:pw-loc2 -X 'UID SEARCH ALL' \
               imaps://mail.example.test:2993/INBOX | sed -n 's/^\* SEARCH//p' | tr -d '\r')
    args=()
    mkdir -p "$T_TMP/curl"
    for u in $uids; do
        args+=("imaps://mail.example.test:2993/INBOX;UID=$u" -o "$T_TMP/curl/$u")
    done
    [ "${#args[@]}" -gt 0 ] || t_fail "loc2's mailbox is empty"
    curl -sS --max-time 120 --cacert "$P/root.pem" --resolve mail.example.test:2993:127.0.0.1 \
        --user loc2@relay.example:pw-loc2 "${args[@]}" || t_fail "curl could not read loc2's mail"
    for f in "$T_TMP"/curl/*; do
        k=$(key "$f")
        [ -n "${want[$k]:-}" ] || t_fail "loc2's mailbox holds a mail not sent: UID ${f##*/}"
        [ -z "${seen[$k]:-}" ] || t_fail "loc2's mail ${want[$k]% *} is in the store twice"
        seen[$k]=1
        first=$(head -n 1 "$f")
        read -r k size <<< "${want[$k]}"
        dv_mail "$k" "$size" | cmp -s - <(tail -c +$((${#first} + 2)) "$f") ||
            t_fail "loc2's mail $k differs from what the gateway read, behind the header"
    done
    [ "${#seen[@]}" = $((2 * N)) ] || t_fail "the store got ${#seen[@]} of $((2 * N)) mails"
    discards=$(grep -c 'sieve: .*discard action' "$STORE/dovecot.log" || true)
    ((discards >= window)) || t_fail "$window relays died after the store's 250, $discards re-deliveries discarded"
    [ -z "$(find "$T_TMP"/spool-[123] -type f)" ] || t_fail "a relay wrote a spool: $(find "$T_TMP"/spool-[123] -type f)"
    t_log "the store: all $((2 * N)) mails exactly once (loc1's $(ls "$C/processed" | wc -l)" \
          "taken by mbsync, loc2's $(ls "$T_TMP/curl" | wc -l) read by curl byte-exact behind the" \
          "header); $discards re-deliveries discarded by its duplicate test; nothing in the" \
          "relays' spools; both source folders empty"

    # ---- the store refuses for good: "rejected", shown, not delivered again ----
    keep_relays
    for r in 1 2 3; do
        relay_conf "$r" nobody@relay.example
        kill -HUP "${RPID[r]}"
    done
    for r in 1 2 3; do t_wait_log "relay-$r" 'reload: .* read again' 10; done
    dv_append INBOX 500
    t_wait_log gwa "imap: UID [0-9]+ left on the server, not delivered again: store rejected: 550 5.1.1 <nobody@relay.example>" 30
    console() { printf '%s\n' "$@" >&3; }
    console "show imap"
    t_wait_log gwa "rejected:  1 message by the relay's store, left on the server" 10
    t_wait_log gwa "last error: UID [0-9]+ left on the server, not delivered again: store rejected: 550" 10
    sleep 6                                  # three polls: it is not fetched again
    n=$(cat "$T_TMP"/relay-[123].log | grep -c 'verdict="store rejected: 550' || true)
    [ "$n" = 1 ] || t_fail "the rejected mail was delivered $n times"
    [ "$(dv_count INBOX)" = 1 ] || t_fail "the rejected mail is not on the source server"
    sum=0
    for r in 1 2 3; do
        v=$(curl -sS --max-time 5 "http://127.0.0.1:$((9100 + r))/metrics" |
            awk '$1 == "relay_deliveries_total{answer=\"rejected\"}" { print $2 }')
        sum=$((sum + ${v:-0}))
    done
    [ "$sum" = 1 ] || t_fail "relay_deliveries_total{answer=\"rejected\"} adds up to $sum"
    t_log "a mailbox the store lacks: 'rejected' (550), in show imap, counted, left on the" \
          "source server and not delivered again"
    kill "$GWA_PID" "$GWB_PID"
    t_log "PASS"
    exit 0
fi

# ---- mail flowing: appended to both folders while the receivers deliver ----
(for ((i = 1; i <= N; i++)); do
     dv_append INBOX "$i" "$SIZE"
     dv_append Archive "$((1000 + i))" "$SIZE"
     sleep 0.2
 done; echo "appended $N + $N") > "$T_TMP/appender.log" 2>&1 &
APPENDER=$!
T_PIDS+=($APPENDER)
t_wait_log relay-2 'delivery: location=loc[12] .*verdict="stored"' 30

# ---- downloads through each location on every relay; a client tries the next relay when
# its relay fails ----
fetch() { # LOC TOKEN RELAY: prints "via R" for the relay that served the file
    local loc=$1 tok=$2 first=$3 k r
    for ((k = 0; k < 3; k++)); do
        r=$(( (first - 1 + k) % 3 + 1 ))
        if curl -sS --max-time 30 --limit-rate 400K --socks5-hostname "127.0.0.1:$((1080 + r))" \
                --proxy-user "$loc:$tok" http://web.example.test/big -o "$T_TMP/dl-$loc-$first" \
                2> "$T_TMP/dl-$loc-$first.err" && cmp -s "$T_TMP/dl-$loc-$first" "$T_TMP/www/big"; then
            echo "via $r after $k retries"
            return 0
        fi
    done
    echo "failed"
    return 1
}
DL=()
for r in 1 2 3; do
    fetch loc1 "$TOKEN1" "$r" > "$T_TMP/fetch-loc1-$r.txt" & DL+=($!)
    fetch loc2 "$TOKEN2" "$r" > "$T_TMP/fetch-loc2-$r.txt" & DL+=($!)
done
T_PIDS+=("${DL[@]}")
sleep 1.5

# ---- SIGKILL relay 2 inside a delivery's body ----
# kill_in_body R...: wait for one of relays R... to hold a delivery's body half written in
# its tmp/, stop it there, check the body is still unfinished, SIGKILL it; prints "R BYTES".
kill_in_body() {
    local try r f victim i
    for ((try = 0; try < 400; try++)); do
        for r in "$@"; do
            # (the Maildirs' tmp/ by name: T_TMP itself is under /tmp, and a -path
            # pattern with /tmp/ in it would match the index too)
            f=$(find "$T_TMP/spool-$r"/loc[12]/tmp -type f -size -600k -size +1k \
                2> /dev/null | head -n 1 || true)
            [ -n "$f" ] || continue
            victim=${RPID[r]}
            kill -STOP "$victim"
            # Stopped: is that body still unfinished? (It may have been renamed meanwhile.)
            if [ -f "$f" ]; then
                kill -KILL "$victim"
                for ((i = 0; i < 50; i++)); do   # (disowned by relay_start: no wait for it)
                    kill -0 "$victim" 2> /dev/null || break
                    sleep 0.05
                done
                echo "$r $(stat -c %s "$f")"
                return 0
            fi
            kill -CONT "$victim"
        done
        sleep 0.01
    done
    return 1
}
killed=$(kill_in_body 2) || t_fail "relay 2 never held a delivery's body in the window"
killed=${killed#* }
KILLED_AT=$(date +%s)
t_log "relay 2 SIGKILLed with a delivery $killed bytes into its body, downloads running"

# ---- the downloads: through relays 1 and 3 at once; relay 2's clients moved on ----
for p in "${DL[@]}"; do wait "$p" || true; done
for loc in loc1 loc2; do
    for r in 1 3; do
        [ "$(cat "$T_TMP/fetch-$loc-$r.txt")" = "via $r after 0 retries" ] ||
            t_fail "$loc's download through relay $r: $(cat "$T_TMP/fetch-$loc-$r.txt")"
    done
    [ "$(cat "$T_TMP/fetch-$loc-2.txt")" = "via 3 after 1 retries" ] ||
        t_fail "$loc's download through relay 2: $(cat "$T_TMP/fetch-$loc-2.txt") ($(cat "$T_TMP/dl-$loc-2.err"))"
done
t_log "downloads: through relays 1 and 3 finished byte-exact; relay 2's clients got the file" \
      "through relay 3"

# ---- every mail exactly once over the three spools, folders empty ----
wait "$APPENDER" || t_fail "appending mail failed"
for ((i = 0; i < 900; i++)); do
    [ "$(dv_count INBOX)" = 0 ] && [ "$(dv_count Archive)" = 0 ] && break
    sleep 0.1
done
[ "$(dv_count INBOX)" = 0 ] || t_fail "INBOX still holds $(dv_count INBOX)"
[ "$(dv_count Archive)" = 0 ] || t_fail "Archive still holds $(dv_count Archive)"
once() { # I
    local sha n f
    sha=$(dv_mail "$1" "$SIZE" | sha256sum | cut -d' ' -f1)
    n=$(find "$T_TMP"/spool-[123]/loc[12]/new -type f -name "*.$sha.*" | wc -l)
    [ "$n" = 1 ] || t_fail "mail $1 is in the spools $n times"
    f=$(find "$T_TMP"/spool-[123]/loc[12]/new -type f -name "*.$sha.*")
    dv_mail "$1" "$SIZE" | cmp -s - "$f" || t_fail "mail $1 differs in $f"
    echo "${f#$T_TMP/spool-}" | cut -d/ -f1
}
declare -A per
for ((i = 1; i <= N; i++)); do
    r=$(once "$i")
    per[$r]=$(( ${per[$r]:-0} + 1 ))
    r=$(once $((1000 + i)))
    per[$r]=$(( ${per[$r]:-0} + 1 ))
done
total=$(find "$T_TMP"/spool-[123]/loc[12]/new -type f | wc -l)
[ "$total" = $((2 * N)) ] || t_fail "the spools hold $total messages, expected $((2 * N))"
t_log "mail: all $((2 * N)) exactly once, byte-exact, over the three spools (relay 1: ${per[1]:-0}," \
      "relay 2 before it died: ${per[2]:-0}, relay 3: ${per[3]:-0}); both folders empty"

# ---- the gateways kept their other tunnels ----
for g in gwa gwb; do
    grep -qE 'tunnel: relay relay.example.test:744[35] down' "$T_TMP/$g.log" &&
        t_fail "$g lost a tunnel to a relay that stayed up"
    grep -q 'tunnel: relay relay.example.test:7444 down' "$T_TMP/$g.log" ||
        t_fail "$g did not notice relay 2 going away"
done
for r in 1 3; do
    grep -q 'tunnel down:' "$T_TMP/relay-$r.log" && t_fail "relay $r lost a tunnel"
done
t_log "gateways: the tunnels to relays 1 and 3 stayed up throughout; relay 2's were let go"

# ---- one more mail, its batch's last delivery, and its relay killed in the body while
# the other relay stays up: the batch ends with a tunnel up, so the receiver searches again
# rather than wait in IDLE for news that will not come, and the other relay gets it ----
# Relays 1 and 3 again, each write() held 20 ms by strace: a body then grows in tmp/ for
# about 2 s, long enough to be caught in it.
ups() { grep -c "tunnel: relay relay.example.test:$1 up" "$T_TMP/gwa.log" || true; }
u1=$(ups 7443) u3=$(ups 7445)
RELAY_WRAP=(strace -f -qq -o /dev/null -e trace=write -e inject=write:delay_enter=20000)
for r in 1 3; do
    kill "${RPID[r]}"
    for ((i = 0; i < 50; i++)); do kill -0 "${RPID[r]}" 2> /dev/null || break; sleep 0.1; done
    relay_start "$r"
done
for ((i = 0; i < 200; i++)); do
    (($(ups 7443) > u1 && $(ups 7445) > u3)) && break
    sleep 0.1
done
(($(ups 7443) > u1 && $(ups 7445) > u3)) || t_fail "gateway A did not come back to relays 1 and 3"
dv_append INBOX 100 "$SIZE"
hit=$(kill_in_body 1 3) || t_fail "neither relay 1 nor 3 held mail 100's body in the window"
for ((i = 0; i < 300; i++)); do
    [ "$(dv_count INBOX)" = 0 ] && break
    sleep 0.1
done
[ "$(dv_count INBOX)" = 0 ] ||
    t_fail "mail 100 still on the source server 30 s after relay ${hit% *} died in its body"
r=$(once 100)
[ "$r" != "${hit% *}" ] || t_fail "mail 100 in the spool of relay $r, killed in its body"
t_log "relay ${hit% *} SIGKILLed ${hit#* } bytes into the batch's last delivery: the receiver" \
      "searched again with the other tunnel up, relay $r stored it once"
kill "$GWA_PID" "$GWB_PID"
t_log "PASS"
