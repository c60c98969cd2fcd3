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
#     together (the file name carries the SHA-256), and both folders are empty.
#
# A relay killed after writing a message durably but before the gateway read its "stored"
# would leave a second copy on the relay the gateway delivers to next (each relay dedups its
# own spool): at least once across relays, exactly once in the one store the cloud-consumer
# issue brings. The kill here lands inside a body, which is the case that must lose nothing.
#
# Usage: test_relay_ha.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
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
for r in 1 2 3; do
    mkdir -p "$T_TMP/spool-$r"
    cat > "$T_TMP/relay-$r.conf" <<EOC
listen 192.0.2.1:$((7442 + r))
cert $P/relay-chain.pem key $P/relay.key
client-ca $P/inter.pem
socks 127.0.0.1:$((1080 + r))
metrics 127.0.0.1:$((9100 + r))
spool spool-$r
$(grep '^location' "$T_TMP/token-loc1.txt")
$(grep '^location' "$T_TMP/token-loc2.txt")
EOC
    t_spawn "relay-$r" "$RELAY" --config "$T_TMP/relay-$r.conf"
    RPID[r]=${T_PIDS[-1]}
    t_wait_log "relay-$r" 'listening: tunnels' 10
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
t_spawn gwa "$GW" --flash "$T_TMP/gwa.img" --net tap:gwtap0
GWA_PID=${T_PIDS[-1]}
t_spawn gwb "$GW" --flash "$T_TMP/gwb.img" --net tap:gwtap1
GWB_PID=${T_PIDS[-1]}
for g in gwa gwb; do
    for port in 7443 7444 7445; do
        t_wait_log "$g" "tunnel: relay relay.example.test:$port up" 20
    done
done
for r in 1 2 3; do
    t_wait_log "relay-$r" 'tunnel up: location=loc1' 5
    t_wait_log "relay-$r" 'tunnel up: location=loc2' 5
done
t_log "two gateways, each with a tunnel to each of three relays"

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
victim=${RPID[2]}
killed=
for ((try = 0; try < 400; try++)); do
    [ -z "$killed" ] || break
    f=$(find "$T_TMP/spool-2" -path '*/tmp/*' -type f -size -600k -size +1k 2> /dev/null |
        head -n 1 || true)
    if [ -n "$f" ]; then
        kill -STOP "$victim"
        # Stopped: is that body still unfinished? (It may have been renamed meanwhile.)
        if [ -f "$f" ]; then
            kill -KILL "$victim"
            killed=$(stat -c %s "$f")
        else
            kill -CONT "$victim"
        fi
    fi
    [ -n "$killed" ] || sleep 0.01
done
[ -n "$killed" ] || t_fail "relay 2 never held a delivery's body in the window"
wait "$victim" 2> /dev/null || true
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
kill "$GWA_PID" "$GWB_PID"
t_log "PASS"
