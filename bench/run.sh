#!/usr/bin/env bash
# make bench (issue 9): the tunnel against the real alternatives, side by side in one run,
# inside one network namespace this script creates (nothing leaves the machine; every
# process it starts is stopped at exit). Writes bench/results.md. Needs root.
#
#   bash bench/run.sh BUILD_DIR          (BUILD_DIR: the x86_64 tree, e.g. build/x86_64)
#
# Knobs (environment): BENCH_SECS (iperf3 seconds per run, default 3), BENCH_RTT (echoes per
# RTT run, 2000), BENCH_RATE_SECS (3), BENCH_RATE_CONC (8), BENCH_HOLD ("100 1000"),
# BENCH_MAILS (1000), BENCH_LARGE (10 mails with an attachment of BENCH_LARGE_BYTES, 1900000), BENCH_SCALE_N (10000),
# BENCH_ONLY (space-separated sections: paths mail image suites store scale; default all), BENCH_PATHS
# (raw ssh stunnel relay gateway gwpacket; default all), BENCH_RUNS (3: the paths and the mail
# section are measured that many times; results.md gives each figure's median and range),
# BENCH_OUT (results file, default bench/results.md), BENCH_SCALE_INTO=1 (make bench-scale:
# write only section 7 into the existing results file, the other sections stay), BENCH_PROFILE=1 (perf profile of the
# gateway during each iperf3 run: build/x86_64/bench-logs/perf-gateway-*.txt; =all: of every
# process, idle included, by process and symbol: perf-PATH-*.txt), BENCH_GATEWAY and
# BENCH_RELAY (other images of the gateway and the relay: A/B of one change), BENCH_CASES (the
# iperf3 runs per path, comma-separated; default "1 up,1 down,100 up,100 down"), BENCH_MAIL_ROWS
# (the gateway's mail rows: tls imaps wan).
#
# Paths (each gets the same iperf3 server on 127.0.0.1:5201 and echo server on :7007):
#   raw      loopback, the ceiling
#   ssh      ssh -R through OpenSSH's sshd (temp host key, authorized key made now)
#   stunnel  stunnel client -> stunnel server, mutual TLS (test PKI made now)
# iperf3 has no SOCKS5: on the relay and gateway paths it runs under proxychains4, whose
# library (preloaded) does the SOCKS5 handshake inside iperf3's connect() and then leaves
# the socket alone, as a cloud application with a SOCKS5 library does; no forwarding
# process sits in the path (ssh -R and stunnel are reached at a plain port).
#   relay    relay SOCKS5 -> tunnel (TLS 1.2 + yamux) -> test_relay_gw: the relay and our
#            protocol code, with a kernel-socket test gateway instead of lwIP
#   gateway  relay SOCKS5 -> the gateway firmware (lwIP, TAP): measured when the build has
#            the tunnel service, else the row says "not available in this build"
#   gwpacket the same gateway on one end of a veth pair through AF_PACKET (--net packet)
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/integration/lib.sh"
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
t_enter_netns "$@"
. "$REPO/tests/integration/dovecot.sh"
cd "$REPO"

SECS=${BENCH_SECS:-3}
RTT_N=${BENCH_RTT:-2000}
RATE_SECS=${BENCH_RATE_SECS:-3}
RATE_CONC=${BENCH_RATE_CONC:-8}
HOLD=${BENCH_HOLD:-100 1000}
MAILS=${BENCH_MAILS:-1000}
LARGE=${BENCH_LARGE:-10}
# 1.9 MB of EDIFACT is 2.5 MB as base64: ten mails over 2 MiB, about 26 MB in all.
LARGE_BYTES=${BENCH_LARGE_BYTES:-1900000}
SCALE_N=${BENCH_SCALE_N:-10000}
RUNS=${BENCH_RUNS:-3}
[[ "$RUNS" =~ ^[1-9][0-9]?$ ]] || t_fail "BENCH_RUNS must be 1 to 99"
RUN=1                # the run the figures belong to (sections measured once: run 1)
ONLY=${BENCH_ONLY:-paths mail image suites store scale}
PATHS=${BENCH_PATHS:-raw ssh stunnel relay gateway gwpacket}
OUT=${BENCH_OUT:-$REPO/bench/results.md}
T0=$(date +%s)
# The source as it was when the run began (what make bench built): edits during the run
# must not mark it dirty.
GIT=$(git -C "$REPO" describe --always --dirty 2> /dev/null || echo unknown)
B=$BUILD/bench
RELAY=${BENCH_RELAY:-$BUILD/relay/relay}
TESTGW=$BUILD/tests/integration/test_relay_gw
GATEWAY=${BENCH_GATEWAY:-$BUILD/gateway}   # another image of the gateway: A/B of one change
DATA=$T_TMP/data.txt          # one figure per line: run|section|path|key|value
CMDS=$T_TMP/commands.txt      # the commands behind the figures, for results.md
: > "$DATA"
: > "$CMDS"
ulimit -n 16384      # 1000 held streams: a socket each at client, path, echo server; the
                     # scale section's relay: a socket per simulated gateway (10,000)
# Many short connections from one address: reuse TIME_WAIT ports (this namespace only).
# The ports our servers listen on are kept out of that range, or an earlier client connection
# may hold one (sshd once found 2222 taken).
sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000" \
    net.ipv4.ip_local_reserved_ports="1080-1081,2222,4431-4444,5000,5201,7007,7443,8443,9100,25201,27007,34443-34444,35201,37007,9101,9443"
for f in "$B/bench_echo" "$B/bench_mda" "$B/sim_gateways" "$B/scale_load" "$RELAY" \
    "$TESTGW"; do
    [ -x "$f" ] || t_fail "missing $f (build the x86_64 tree first: make x86_64)"
done
command -v proxychains4 > /dev/null || t_fail "no proxychains4 (make deps)"

keep_logs() {
    local rc=$?
    rm -rf "$BUILD/bench-logs"
    mkdir -p "$BUILD/bench-logs"
    cp "$T_TMP"/*.log "$T_TMP"/*.txt "$T_TMP"/*.json "$BUILD/bench-logs/" 2> /dev/null || true
    t_cleanup "$rc"
}
trap keep_logs EXIT

b_log() { printf '%s [%3ss] %s\n' "bench" "$(($(date +%s) - T0))" "$*"; }
fig() { printf '%s|%s|%s|%s|%s\n' "$RUN" "$@" >> "$DATA"; }
# The commands are the same in every run: said once.
cmd() { [ "$RUN" = 1 ] || return 0; printf '%s\n' "$*" >> "$CMDS"; }
want() { [[ " $ONLY " == *" $1 "* ]]; }
want_path() { want paths && [[ " $PATHS " == *" $1 "* ]]; }

# b_wait_log NAME REGEX SECONDS: like t_wait_log, but returns 1 instead of ending the run.
b_wait_log() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qE "$2" "$T_TMP/$1.log" 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}
# b_stop PID...: stop processes this script started, and reap them; they leave T_PIDS, so
# the cleanup at exit never signals a PID the system has since given to another process
# (BENCH_RUNS starts and stops many).
b_stop() {
    local p keep=()
    for p in "$@"; do kill "$p" 2> /dev/null || true; done
    for p in "$@"; do wait "$p" 2> /dev/null || true; done
    for p in "${T_PIDS[@]}"; do [[ " $* " == *" $p "* ]] || keep+=("$p"); done
    T_PIDS=(${keep[@]+"${keep[@]}"})
}
# The PID and all its descendants.
tree() {
    local p=$1 c
    echo "$p"
    for c in $(ps -o pid= --ppid "$p" 2> /dev/null); do tree "$c"; done
}
# hwm PID...: peak RSS in KiB, summed over the processes and their descendants.
hwm() {
    local p s=0 v
    for p in $(for q in "$@"; do tree "$q"; done); do
        v=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status" 2> /dev/null || true)
        s=$((s + ${v:-0}))
    done
    echo "$s"
}
# cpu_ms PID...: CPU time (user + system) in ms, summed over the processes and their
# descendants (/proc/PID/stat fields 14 and 15, in clock ticks).
TICK_MS=$((1000 / $(getconf CLK_TCK)))
cpu_ms() {
    local p s=0 v
    for p in $(for q in "$@"; do tree "$q"; done); do
        v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2> /dev/null || true)
        s=$((s + ${v:-0}))
    done
    echo $((s * TICK_MS))
}
# proc_calls PID: "reads writes switches": the process's read- and write-class system calls
# (/proc/PID/io syscr, syscw) and its context switches (voluntary + involuntary) so far.
proc_calls() {
    awk '/^syscr/ { r = $2 } /^syscw/ { w = $2 } END { printf "%d %d ", r, w }' "/proc/$1/io"
    awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$1/status"
}
# Peak RSS starts over from the current RSS (Linux: clear_refs 5).
hwm_reset() {
    local p
    for p in $(for q in "$@"; do tree "$q"; done); do
        echo 5 > "/proc/$p/clear_refs" 2> /dev/null || true
    done
}

# ---------------------------------------------------------------- test PKI and peers
P=$T_TMP/pki
sh tests/unit/make_pki.sh "$P" > "$T_TMP/pki.log" 2>&1 || t_fail "make_pki.sh failed"
gwcert() { # NAME CN: a gateway certificate (CN = Location ID) from the lab intermediate
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/$1.key"
    openssl req -new -key "$P/$1.key" -subj "/O=Gateway Test Lab/CN=$2" -out "$P/$1.csr"
    openssl x509 -req -in "$P/$1.csr" -CA "$P/inter.pem" -CAkey "$P/inter.key" \
        -CAcreateserial -days 30 -out "$P/$1.pem" 2> /dev/null
    cat "$P/$1.pem" "$P/inter.pem" > "$P/$1-chain.pem"
}
gwcert gw1 loc1
cmd "test PKI: tests/unit/make_pki.sh (RSA-2048 root, P-256 intermediate and leaves), gateway certificates by openssl req | openssl x509 -req"

t_spawn echo "$B/bench_echo" serve 7007
t_spawn iperf3 iperf3 -s -p 5201 --forceflush
b_wait_log echo serving 10 || t_fail "echo server"
b_wait_log iperf3 'Server listening' 10 || t_fail "iperf3 server"
cmd "targets: bench_echo serve 7007 (epoll echo); iperf3 -s -p 5201"

# resident PATH PHASE: what is resident in the firmware (RES_PID, its ELF RES_ELF) now, by
# symbol (bench/resident.py), and its mappings, into bench-logs.
RES_PID= RES_ELF=
resident() {
    [ -n "$RES_PID" ] && [ "$RUN" = 1 ] || return 0
    [ -n "${RES_STATUS:-}" ] && "$RES_STATUS" "$1" "$2"
    python3 "$REPO/bench/resident.py" "$RES_PID" "$RES_ELF" 40 > "$T_TMP/resident-$1-$2.txt" 2>&1 || true
    cp "/proc/$RES_PID/smaps" "$T_TMP/smaps-$1-$2.txt" 2> /dev/null || true
}

# ---------------------------------------------------------------- one path's figures
# measure PATH IPERF ECHO_ARGS... ; MEM_PIDS (label=pid ...) names what to weigh. IPERF: the
# iperf3 server's port on 127.0.0.1, socks=CONF (iperf.bench.test:5201 through the relay,
# proxychains4 with CONF from t_socks_conf), or - (no iperf3 runs).
# Streams are held open (BENCH_HOLD) in the first run only: a peak RSS with N streams varies
# little from run to run, and 1000 streams through ssh or stunnel take long to set up.
MEM_PIDS=()
measure() {
    local path=$1 iport=$2; shift 2
    local echo_args=("$@") out lbl pid n
    b_log "$path: memory idle"
    for lbl in "${MEM_PIDS[@]}"; do hwm_reset "${lbl#*=}"; done
    sleep 1
    for lbl in "${MEM_PIDS[@]}"; do fig mem "$path" "${lbl%%=*}|idle" "$(hwm "${lbl#*=}")"; done
    resident "$path" idle
    # Latency and connection rate on the fresh path (1000 streams just closed would
    # still be winding down in some peers).
    b_log "$path: RTT"
    out=$("$B/bench_echo" rtt "${echo_args[@]}" "$RTT_N" 2>&1) || true
    fig rtt "$path" line "$out"
    b_log "$path: connection rate"
    out=$("$B/bench_echo" rate "${echo_args[@]}" "$RATE_SECS" "$RATE_CONC" 2>&1) || true
    fig rate "$path" line "$out"
    local holds=$HOLD
    [ "$RUN" = 1 ] || holds=
    for n in $holds; do
        [ ${#MEM_PIDS[@]} -gt 0 ] || break
        for lbl in "${MEM_PIDS[@]}"; do hwm_reset "${lbl#*=}"; done
        t_spawn "hold-$path-$n" "$B/bench_echo" hold "${echo_args[@]}" "$n"
        pid=${T_PIDS[-1]}
        if b_wait_log "hold-$path-$n" '^holding|failed' 120 &&
            grep -q "^holding $n\$" "$T_TMP/hold-$path-$n.log"; then
            sleep 0.5
            for lbl in "${MEM_PIDS[@]}"; do
                fig mem "$path" "${lbl%%=*}|$n" "$(hwm "${lbl#*=}")"
            done
            resident "$path" "$n"
        else
            b_log "$path: could not hold $n streams: $(tail -n 1 "$T_TMP/hold-$path-$n.log")"
            for lbl in "${MEM_PIDS[@]}"; do fig mem "$path" "${lbl%%=*}|$n" "failed"; done
        fi
        b_stop "$pid"
        sleep 1
    done
    [ "$iport" = - ] && return 0
    local case args
    local cases=("1 up" "1 down" "100 up" "100 down")
    [ -n "${BENCH_CASES:-}" ] && IFS=, read -r -a cases <<< "$BENCH_CASES"
    for case in "${cases[@]}"; do
        set -- $case
        local via=()
        if [[ "$iport" == socks=* ]]; then       # the virtual host, through the relay
            via=(proxychains4 -q -f "${iport#socks=}")
            args=(-c iperf.bench.test -p 5201 -t "$SECS" -O 1 -J -P "$1")
        else
            args=(-c 127.0.0.1 -p "$iport" -t "$SECS" -O 1 -J -P "$1")
        fi
        [ "$2" = down ] && args+=(-R)
        local -A cpu0=()
        local sys0=
        [ -n "${RES_PID:-}" ] && sys0=$(proc_calls "$RES_PID")
        for lbl in "${MEM_PIDS[@]}"; do
            hwm_reset "${lbl#*=}"
            cpu0[$lbl]=$(cpu_ms "${lbl#*=}")
        done
        b_log "$path: iperf3 -P $1 $2"
        local prof=
        local scope=() sort=symbol
        if [ "${BENCH_PROFILE:-}" = all ]; then
            scope=(-a) sort=comm,symbol   # every process, the idle time included
        elif [ -n "${BENCH_PROFILE:-}" ] && [ -n "${PROFILE_PID:-}" ]; then
            scope=(-p "$PROFILE_PID")
        fi
        if [ ${#scope[@]} -gt 0 ] && command -v perf > /dev/null; then
            prof=$T_TMP/perf-$path-$1-$2
            perf record -q -F 499 -g "${scope[@]}" -o "$prof.data" -- sleep $((SECS + 1)) \
                > /dev/null 2>&1 &
        fi
        timeout $((SECS + 40)) ${via[@]+"${via[@]}"} iperf3 "${args[@]}" > "$T_TMP/iperf-$path-$1-$2.json" 2>&1 || true
        if [ -n "$prof" ]; then
            wait $! 2> /dev/null || true
            perf report -q -i "$prof.data" --stdio --no-children --sort "$sort" -g none \
                2> /dev/null | head -n 60 > "$prof.txt" || true
        fi
        out=$(python3 -c '
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    if j.get("error"):
        print("failed: iperf3: %s" % j["error"].replace("|", "/"))
    else:
        print("%.3f" % (j["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception as e:
    print("failed: no iperf3 result")
' "$T_TMP/iperf-$path-$1-$2.json")
        fig tput "$path" "$1 $2" "$out"
        # Shares: the smallest stream's bytes over the largest's (1.00: all equal).
        if [ "$1" -gt 1 ]; then fig fair "$path" "$1 $2" "$(python3 -c '
import json, sys
try:
    b = [s["receiver"]["bytes"] for s in json.load(open(sys.argv[1]))["end"]["streams"]]
    print("%.2f" % (min(b) / max(b)))
except Exception:
    print("failed")
' "$T_TMP/iperf-$path-$1-$2.json")"; fi
        # Bytes moved (iperf3's receiver) and each process's CPU time meanwhile: CPU per GB
        # holds still on a noisy machine where Gbit/s do not.
        local bytes
        bytes=$(python3 -c '
import json, sys
try:
    print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))
except Exception:
    print(0)
' "$T_TMP/iperf-$path-$1-$2.json")
        resident "$path" "iperf3-$1-$2"
        for lbl in "${MEM_PIDS[@]}"; do
            fig mem "$path" "${lbl%%=*}|iperf3 -P $1 $2" "$(hwm "${lbl#*=}")"
            fig cpu "$path" "${lbl%%=*}|$1 $2" "$(($(cpu_ms "${lbl#*=}") - cpu0[$lbl])) $bytes"
        done
        if [ -n "$sys0" ]; then
            local a b
            read -r -a a <<< "$sys0"
            read -r -a b <<< "$(proc_calls "$RES_PID")"
            fig calls "$path" "$1 $2" "$((b[0] - a[0])) $((b[1] - a[1])) $((b[2] - a[2])) $bytes"
        fi
    done
}

# ---------------------------------------------------------------- the paths, BENCH_RUNS times
paths_run() {
if want paths; then
cmd "throughput: iperf3 -c 127.0.0.1 -p PORT -t $SECS -O 1 -J -P 1|100 [-R] (up: client -> internal iperf3 server; down: -R)"
cmd "latency: bench_echo rtt [--socks RELAY USER PASS] HOST PORT $RTT_N (1-byte echoes on one connection, after 50 warm-up)"
cmd "connection rate: bench_echo rate ... $RATE_SECS $RATE_CONC (each: connect, SOCKS5 if any, 1-byte echo, close; $RATE_CONC at once)"
cmd "memory: VmHWM (peak RSS, reset with clear_refs 5 before each phase) summed over each process tree; streams held open by bench_echo hold ... N ($HOLD)"

fi
# ---- raw loopback
if want_path raw; then
MEM_PIDS=()
measure raw 5201 127.0.0.1 7007
fi

# ---- ssh -R through sshd
if want_path ssh; then
S=$T_TMP/ssh
rm -rf "$S"
mkdir -p "$S" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$S/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$S/user_key"
cp "$S/user_key.pub" "$S/authorized_keys"
cat > "$S/sshd_config" <<EOF
ListenAddress 127.0.0.1:2222
HostKey $S/host_key
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
AllowTcpForwarding yes
MaxStartups 100
LogLevel ERROR
EOF
t_spawn sshd /usr/sbin/sshd -D -e -f "$S/sshd_config"
SSHD_PID=${T_PIDS[-1]}
sleep 0.5
t_spawn ssh ssh -F /dev/null -i "$S/user_key" -p 2222 -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes \
    -o ServerAliveInterval=5 -N -v -R 127.0.0.1:25201:127.0.0.1:5201 \
    -R 127.0.0.1:27007:127.0.0.1:7007 root@127.0.0.1
SSH_PID=${T_PIDS[-1]}
if b_wait_log ssh 'remote forward success for: listen 127.0.0.1:27007' 15; then
    cipher=$(grep -oE 'cipher: [^ ]+' "$T_TMP/ssh.log" | head -n 1 | cut -d' ' -f2)
    fig info ssh cipher "$cipher"
    cmd "ssh: sshd -D -f CONF (127.0.0.1:2222, ed25519 host key); ssh -N -R 127.0.0.1:25201:127.0.0.1:5201 -R 127.0.0.1:27007:127.0.0.1:7007 root@127.0.0.1 (cipher $cipher)"
    MEM_PIDS=("ssh=$SSH_PID" "sshd=$SSHD_PID")
    measure ssh 25201 127.0.0.1 27007
else
    b_log "ssh -R did not come up"
    fig info ssh failed "ssh -R did not come up (see bench-logs/ssh.log)"
fi
b_stop "$SSH_PID"
b_stop "$SSHD_PID"
fi

# ---- stunnel pair, mutual TLS
if want_path stunnel; then
cat > "$T_TMP/stunnel-server.conf" <<EOF
foreground = yes
pid =
debug = 5
output = $T_TMP/stunnel-server.out
[iperf]
accept = 127.0.0.1:34443
connect = 127.0.0.1:5201
cert = $P/chain-ec.pem
key = $P/leaf-ec.key
CAfile = $P/root.pem
verifyChain = yes
requireCert = yes
[echo]
accept = 127.0.0.1:34444
connect = 127.0.0.1:7007
cert = $P/chain-ec.pem
key = $P/leaf-ec.key
CAfile = $P/root.pem
verifyChain = yes
requireCert = yes
EOF
cat > "$T_TMP/stunnel-client.conf" <<EOF
foreground = yes
pid =
debug = 5
output = $T_TMP/stunnel-client.out
client = yes
[iperf]
accept = 127.0.0.1:35201
connect = 127.0.0.1:34443
cert = $P/gw1-chain.pem
key = $P/gw1.key
CAfile = $P/root.pem
verifyChain = yes
checkHost = mail.example.test
[echo]
accept = 127.0.0.1:37007
connect = 127.0.0.1:34444
cert = $P/gw1-chain.pem
key = $P/gw1.key
CAfile = $P/root.pem
verifyChain = yes
checkHost = mail.example.test
EOF
t_spawn stunnel-server stunnel "$T_TMP/stunnel-server.conf"
STS_PID=${T_PIDS[-1]}
t_spawn stunnel-client stunnel "$T_TMP/stunnel-client.conf"
STC_PID=${T_PIDS[-1]}
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2> /dev/null; }
for ((i = 0; i < 50; i++)); do port_open 34444 && port_open 37007 && break; sleep 0.1; done
if "$B/bench_echo" rtt 127.0.0.1 37007 10 > "$T_TMP/stunnel-probe.txt" 2>&1; then
    # What the pair negotiates (stunnel logs it only at debug level 6, too costly here).
    proto=$(openssl s_client -connect 127.0.0.1:34444 -cert "$P/gw1.pem" -cert_chain "$P/inter.pem" -key "$P/gw1.key" \
        -CAfile "$P/root.pem" < /dev/null 2> /dev/null |
        sed -n 's/^New, \(TLSv[0-9.]*\), Cipher is \(.*\)/\1 \2/p' | head -n 1)
    fig info stunnel tls "$proto"
    cmd "stunnel: stunnel SERVER.conf (accept 127.0.0.1:34443 -> 5201, requireCert) and CLIENT.conf (client = yes, accept 35201 -> 34443, cert gw1, checkHost); $proto"
    MEM_PIDS=("stunnel client=$STC_PID" "stunnel server=$STS_PID")
    measure stunnel 35201 127.0.0.1 37007
else
    b_log "stunnel pair did not come up"
    fig info stunnel failed "stunnel did not come up (see bench-logs)"
fi
b_stop "$STC_PID" "$STS_PID"
cp "$T_TMP"/stunnel-client.out "$T_TMP/stunnel-client.log" 2> /dev/null || true
cp "$T_TMP"/stunnel-server.out "$T_TMP/stunnel-server.log" 2> /dev/null || true
fi

# ---- relay SOCKS5 -> test gateway (kernel sockets, our TLS + yamux)
if want_path relay || want_path gateway || want_path gwpacket; then
mkdir -p "$T_TMP/spool"
"$RELAY" token loc1 > "$T_TMP/token-loc1.txt"
TOKEN1=$(sed -n 's/^token for loc1.*: //p' "$T_TMP/token-loc1.txt")
cat > "$T_TMP/relay.conf" <<EOF
listen 0.0.0.0:7443
cert $P/chain-ec.pem key $P/leaf-ec.key
client-ca $P/inter.pem
socks 127.0.0.1:1080
$(grep '^location' "$T_TMP/token-loc1.txt")
spool $T_TMP/spool
# iperf3's 100 streams and its control stream, 1000 held streams: more than the default 100
limit location-streams 2048
EOF
t_spawn relay "$RELAY" --config "$T_TMP/relay.conf"
RELAY_PID=${T_PIDS[-1]}
b_wait_log relay 'listening: tunnels' 10 || t_fail "relay did not start"
fi
if want_path relay; then
t_spawn testgw "$TESTGW" --relay 127.0.0.1:7443 --ca "$P/root.der" --name mail.example.test \
    --cert "$P/gw1-chain.pem" --key "$P/gw1.key" --location loc1 \
    --map iperf.bench.test:5201=5201 --map echo.bench.test:7=7007
TESTGW_PID=${T_PIDS[-1]}
if b_wait_log testgw 'tunnel up' 10; then
    t_socks_conf loc1 "$TOKEN1" "$T_TMP/socks-loc1.conf"
    cmd "relay: relay --config CONF (tunnels 7443, socks 127.0.0.1:1080); test_relay_gw --relay 127.0.0.1:7443 --map iperf.bench.test:5201=5201 --map echo.bench.test:7=7007; proxychains4 -q -f CONF iperf3 -c iperf.bench.test -p 5201 (CONF: socks5 127.0.0.1 1080 loc1 TOKEN, proxy_dns); echo clients with --socks 127.0.0.1:1080 loc1 TOKEN echo.bench.test 7"
    MEM_PIDS=("relay=$RELAY_PID" "test_relay_gw=$TESTGW_PID")
    measure relay "socks=$T_TMP/socks-loc1.conf" --socks 127.0.0.1:1080 loc1 "$TOKEN1" echo.bench.test 7
else
    fig info relay failed "test gateway tunnel did not come up (see bench-logs)"
fi
b_stop "$TESTGW_PID"
fi

# ---- relay SOCKS5 -> the gateway firmware (lwIP on TAP, then on AF_PACKET)
if want_path gateway || want_path gwpacket; then
. "$REPO/bench/gateway_path.sh"
gateway_path
fi
if want_path relay || want_path gateway || want_path gwpacket; then
b_stop "$RELAY_PID"
fi
}
if want paths; then
    for ((RUN = 1; RUN <= RUNS; RUN++)); do
        b_log "paths: run $RUN of $RUNS"
        paths_run
    done
    RUN=1
fi

# ---------------------------------------------------------------- mail
if want mail; then
. "$REPO/bench/mail.sh"
mail_bench
fi

# ---------------------------------------------------------------- image
if want image; then
b_log "image: tools/size.sh"
arches=()
for a in x86_64 aarch64; do
    [ -f "$REPO/build/$a/gateway" ] && [ -f "$REPO/build/$a/gateway.map" ] && arches+=("$a")
done
if [ ${#arches[@]} -gt 0 ]; then
    bash tools/size.sh "${arches[@]}" > "$T_TMP/size.txt" 2>&1 || true
    cmd "image: bash tools/size.sh ${arches[*]} (as make size; images from build/ARCH)"
else
    echo "no images built (make all)" > "$T_TMP/size.txt"
fi
fi

# ---------------------------------------------------------------- TLS suites (bench_suites)
# The AEADs as BearSSL runs them: x86_64 natively, aarch64 under qemu-user (there only the
# ratio of the two suites means anything), three runs each.
if want suites; then
: > "$T_TMP/suites.txt"
A64=$BUILD/../aarch64/bench/bench_suites
for run in 1 2 3; do
    if [ -x "$BUILD/bench/bench_suites" ]; then
        "$BUILD/bench/bench_suites" 1 | sed "s/^/x86_64 run $run: /" >> "$T_TMP/suites.txt"
    fi
    if [ -x "$A64" ] && command -v qemu-aarch64-static > /dev/null; then
        qemu-aarch64-static "$A64" 1 | sed "s/^/aarch64 (qemu-user) run $run: /" \
            >> "$T_TMP/suites.txt"
    else
        echo "aarch64: no $A64 (make aarch64) or no qemu-aarch64-static" >> "$T_TMP/suites.txt"
    fi
done
cmd "suites: build/x86_64/bench/bench_suites 1; qemu-aarch64-static build/aarch64/bench/bench_suites 1 (bench/bench_suites.c: 16 KiB records sealed for 1 s per AEAD), three runs"
fi

# ---------------------------------------------------------------- flash store (bench_store)
if want store; then
if [ -x "$BUILD/bench_store" ]; then
    b_log "store: bench_store"
    "$BUILD/bench_store" "$T_TMP" > "$T_TMP/store.txt" 2>&1 || true
    cmd "store: bench_store DIR (bench/bench_store.c: RAM, bytes per commit, mount time)"
else
    echo "bench_store not built" > "$T_TMP/store.txt"
fi
fi

# ---------------------------------------------------------------- relay scale
if want scale; then
. "$REPO/bench/scale.sh"
scale_bench
fi

# ---------------------------------------------------------------- results
b_log "writing $OUT"
if [ -n "${BENCH_SCALE_INTO:-}" ]; then
    GIT=$GIT python3 "$REPO/bench/results.py" --scale-into "$OUT" "$DATA" "$CMDS" > "$OUT.tmp"
else
    SUITES_TXT=$T_TMP/suites.txt \
        python3 "$REPO/bench/results.py" "$DATA" "$CMDS" "$T_TMP/size.txt" "$T_TMP/store.txt" \
        "$((($(date +%s) - T0)))" "$GIT" > "$OUT.tmp"
fi
mv "$OUT.tmp" "$OUT"
b_log "done: $OUT"
