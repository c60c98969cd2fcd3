#!/usr/bin/env bash
# Time before TLS: a gateway that boots without an RTC (--clock unset) refuses to check
# certificates until SNTP sets its clock, and says why; with `set net ntp` towards a real
# NTP server (chronyd, serving its own clock inside this test's network namespace) the
# clock becomes valid by SNTP and the same probe succeeds against openssl s_server. The
# first SNTP answer writes the last-known-good time to flash; a board clock two hours behind
# that floor is not valid (probe refused) until SNTP corrects it, and an NTP server whose
# clock is three days behind it is not believed.
#
# The gateway runs on a TAP device (192.0.2.2); s_server and chronyd listen on the host side
# (192.0.2.1). ntp.example.test and mail.example.test come from the static host table.
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
GW=$1
PKI=$T_TMP/pki
FLASH=$T_TMP/flash.img
# Bounded waits, in tenths of a second.
WAIT_TENTHS=300

sh "$T_DIR/../unit/make_pki.sh" "$PKI" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh"

ip tuntap add dev gwtap0 mode tap
ip addr add 192.0.2.1/24 dev gwtap0
ip link set gwtap0 up

t_spawn s_server openssl s_server -accept 192.0.2.1:4431 -cert "$PKI/leaf-ec.pem" \
    -key "$PKI/leaf-ec.key" -cert_chain "$PKI/inter.pem" -quiet

# chronyd as a stratum-1 server of its own clock: no upstream, no control socket, no
# files outside $T_TMP, and it never steers the system clock (-x). make deps unpacks Debian's
# chrony under build/deps/chrony rather than install it (it conflicts with other time daemons).
CHRONY=$T_DIR/../../build/deps/chrony/usr
CHRONYD=$CHRONY/sbin/chronyd
[ -x "$CHRONYD" ] || t_fail "no chronyd at $CHRONYD (run make deps)"
cat > "$T_TMP/chrony.conf" <<EOF
local stratum 1
allow 192.0.2.0/24
port 123
bindaddress 192.0.2.1
cmdport 0
bindcmdaddress /
pidfile $T_TMP/chronyd.pid
EOF
chrony_start() {
    t_spawn "chronyd$1" "$CHRONYD" -d -x -u root -f "$T_TMP/chrony.conf"
    CHRONY_PID=${T_PIDS[-1]}
    local i
    for ((i = 0; i < WAIT_TENTHS; i++)); do
        ss -lun | grep -q "192.0.2.1:123 " && return 0
        sleep 0.1
    done
    t_fail "chronyd does not listen on 192.0.2.1:123"
}
chrony_start 1
for ((i = 0; i < WAIT_TENTHS; i++)); do
    ss -ltn | grep -q "192.0.2.1:4431 " && break
    sleep 0.1
done

NET="set net address 192.0.2.2/24 gateway 192.0.2.1"
t_provision "$GW" "$FLASH" "$NET" "host add mail.example.test 192.0.2.1" \
    "host add ntp.example.test 192.0.2.1" "trust import" "$(cat "$PKI/root.pem")" ""

# batch CASE EXPECTED-RC GATEWAY-OPTION LINES...: --batch with the network up
batch() {
    local name=$1 want=$2 opt=$3 rc=0; shift 3
    printf '%s\n' "$@" > "$T_TMP/$name.txt"
    timeout 60 "$GW" --flash "$FLASH" --net tap:gwtap0 "$opt" --batch "$T_TMP/$name.txt" \
        > "$T_TMP/$name.out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || { cat "$T_TMP/$name.out"; t_fail "$name: exit $rc, wanted $want"; }
}
# expect CASE LINE: the output of CASE has exactly this line
expect() {
    grep -qxF -- "$2" "$T_TMP/$1.out" || { cat "$T_TMP/$1.out"; t_fail "$1: no line '$2'"; }
}
OK="verdict: ok: chain anchored at \"CN=Lab Root CA, O=Gateway Test Lab\""
BAD_TIME="verdict: time not valid yet"

# 1. No RTC, no NTP server configured: no SNTP at all, TLS refuses, status says why.
batch unset_no_ntp 1 --clock=unset "show status" "tls probe mail.example.test:4431"
expect unset_no_ntp "$BAD_TIME"
expect unset_no_ntp "time:     not valid yet: board clock not set; TLS waits (source: board clock; last known good none yet)"
expect unset_no_ntp "sntp:     off: no server configured (set net ntp HOST)"
t_log "clock unset, no ntp server: $(grep '^verdict' "$T_TMP/unset_no_ntp.out")"

# 1b. A server name the box cannot resolve is named in the status; a host table entry
#     added later (commit) starts SNTP towards it.
t_provision "$GW" "$FLASH" "set net ntp time.example.test"
batch unknown_name 0 --clock=unset "show status" "host add time.example.test 192.0.2.1" \
    "commit" "show status"
expect unknown_name "sntp:     server time.example.test: not an IPv4 address nor a name in the host table (host add NAME A.B.C.D), and no DNS server configured"
grep -qE '^sntp:     server time.example.test \(192.0.2.1\): (waiting for the link and an address|asking since [0-9]+ s, no answer yet)$' \
    "$T_TMP/unknown_name.out" || { cat "$T_TMP/unknown_name.out"; t_fail "unknown_name: host add"; }
t_log "ntp server name unknown, then added to the host table: SNTP starts"

t_provision "$GW" "$FLASH" "host del time.example.test" "set net ntp ntp.example.test"

# console CASE GATEWAY-OPTION: the gateway with its console on a FIFO this shell writes to
# (say LINE); its output goes to $T_TMP/CASE.out.
console() {
    CASE=$1
    rm -f "$T_TMP/con"
    mkfifo "$T_TMP/con"
    "$GW" --flash "$FLASH" --net tap:gwtap0 "$2" < "$T_TMP/con" > "$T_TMP/$CASE.out" 2>&1 &
    GW_PID=$!
    T_PIDS+=("$GW_PID")
    exec 3> "$T_TMP/con"
}
say() { printf '%s\n' "$*" >&3; }
# await REGEX: bounded wait for a line of the console's output
await() {
    local i
    for ((i = 0; i < WAIT_TENTHS; i++)); do
        grep -qE -- "$1" "$T_TMP/$CASE.out" && return 0
        sleep 0.1
    done
    cat "$T_TMP/$CASE.out"
    t_fail "$CASE: no '$1' within $((WAIT_TENTHS / 10)) s"
}
# The console line goes away (the box runs on without one), then the box is stopped.
console_end() {
    exec 3>&-
    kill "$GW_PID" 2>/dev/null || true
    wait "$GW_PID" 2>/dev/null || true
}
# sntp_wait: ask `show status` until the time's source is SNTP
sntp_wait() {
    local i
    for ((i = 0; i < 60; i++)); do
        say "show status"
        sleep 0.5
        grep -q '^time:     valid, .*(source: sntp;' "$T_TMP/$CASE.out" && return 0
    done
    cat "$T_TMP/$CASE.out"
    t_fail "$CASE: SNTP never set the clock"
}

# 2. No RTC, ntp.example.test configured: SNTP sets the clock, the probe succeeds, and the
#    first answer becomes the last-known-good time on flash.
console unset_sntp --clock=unset
sntp_wait
await '^\[ *[0-9.]+\] time: set by SNTP from ntp.example.test: .* UTC \(was not valid\)$'
host_day=$(date -u +%Y-%m-%d)
await "^sntp:     server ntp.example.test \(192.0.2.1\): last answer [0-9]+ s ago \(set a clock that was not valid\), 1 answers$"
say "tls probe mail.example.test:4431"
await '^verdict: '
grep -qxF "$OK" "$T_TMP/unset_sntp.out" || { cat "$T_TMP/unset_sntp.out"; t_fail "unset_sntp: probe"; }
say "show status"
await "^time:     valid, .*\(source: sntp; last known good $host_day\)$"
console_end
t_log "clock unset, SNTP from chronyd: $(grep -m1 'time: set by SNTP' "$T_TMP/unset_sntp.out" | sed 's/^\[ *\([0-9.]*\)\] /at \1 s: /'); probe ok"

# 3. The floor: a board clock two hours behind the last known good time is not valid. With
#    the NTP server down, TLS refuses and status says why.
kill "$CHRONY_PID"; wait "$CHRONY_PID" 2>/dev/null || true
batch behind_floor 1 --clock=-7200 "show status" "tls probe mail.example.test:4431" "show status"
expect behind_floor "$BAD_TIME"
grep -qE "^time:     not valid yet: board clock behind the last known good time; TLS waits \(source: board clock; last known good $host_day\)$" \
    "$T_TMP/behind_floor.out" || { cat "$T_TMP/behind_floor.out"; t_fail "behind_floor: status"; }
grep -qE '^sntp:     server ntp.example.test \(192.0.2.1\): asking since [0-9]+ s, no answer yet$' \
    "$T_TMP/behind_floor.out" || { cat "$T_TMP/behind_floor.out"; t_fail "behind_floor: sntp line"; }
t_log "clock 2 h behind the floor, no NTP answer: $(grep '^verdict' "$T_TMP/behind_floor.out")"

# 4. The NTP server is back: SNTP steps the clock forward over the floor; TLS works again.
chrony_start 2
console behind_sntp --clock=-7200
sntp_wait
await '^\[ *[0-9.]+\] time: set by SNTP from ntp.example.test: .* UTC \(was not valid\)$'
say "tls probe mail.example.test:4431"
await '^verdict: '
grep -qxF "$OK" "$T_TMP/behind_sntp.out" || { cat "$T_TMP/behind_sntp.out"; t_fail "behind_sntp: probe"; }
console_end
t_log "clock 2 h behind, SNTP corrected it; probe ok"

# 5. A skewed but plausible clock (1 h ahead, no floor crossed) that SNTP corrects: the step
#    shows in the status.
console ahead_sntp --clock=3600
sntp_wait
await '^\[ *[0-9.]+\] time: set by SNTP from ntp.example.test: .* UTC \(stepped -(3599|3600|3601) s\)$'
say "show status"
await '^sntp:     server ntp.example.test \(192.0.2.1\): last answer [0-9]+ s ago \(step -(3599|3600|3601) s\), 1 answers$'
console_end
t_log "clock 1 h ahead: $(grep -m1 'time: set by SNTP' "$T_TMP/ahead_sntp.out" | sed 's/^\[ *[0-9.]*\] //')"

# 6. A lying NTP server: chronyd told (chronyc settime, its own clock only: -x) that it is
#    three days earlier. Its answer is behind the floor on flash: refused, the clock stays
#    not valid, and TLS waits.
kill "$CHRONY_PID"; wait "$CHRONY_PID" 2>/dev/null || true
sed -i "s|^cmdport 0$|manual|; s|^bindcmdaddress /$|bindcmdaddress $T_TMP/chronyd.sock|" \
    "$T_TMP/chrony.conf"
chrony_start 3
for ((i = 0; i < WAIT_TENTHS; i++)); do
    [ -S "$T_TMP/chronyd.sock" ] && break
    sleep 0.1
done
liar=$(($(date +%s) - 3 * 86400))
liar_day=$(date -u -d "@$liar" +%Y-%m-%d)
TZ=UTC "$CHRONY/bin/chronyc" -h "$T_TMP/chronyd.sock" settime "$(date -u -d "@$liar" '+%b %d, %Y %H:%M:%S')" \
    > "$T_TMP/chronyc.log" 2>&1 || { cat "$T_TMP/chronyc.log"; t_fail "chronyc settime"; }
console liar --clock=unset
await "^\[ *[0-9.]+\] warning: time: ntp.example.test answered $liar_day [0-9:]+ UTC: not believed \(behind the last known good time\)$"
say "show status"
await "^sntp:     server ntp.example.test \(192.0.2.1\): answered $liar_day, not believed \(behind the last known good time\)$"
await '^time:     not valid yet: board clock not set; TLS waits \(source: board clock;'
say "tls probe mail.example.test:4431"
await '^verdict: '
grep -qxF "$BAD_TIME" "$T_TMP/liar.out" || { cat "$T_TMP/liar.out"; t_fail "liar: probe"; }
console_end
t_log "NTP server 3 days behind the floor: refused; $(grep '^verdict' "$T_TMP/liar.out")"
t_log "ok"
