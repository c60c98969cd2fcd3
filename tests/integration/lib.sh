# Shared harness for integration tests. Each test runs inside a network namespace of its
# own (unshare --net): only lo and the devices the test creates exist there, so no packet
# can leave the machine, and everything vanishes when the test's processes exit.
set -euo pipefail

T_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T_NAME=$(basename "$0" .sh)
T_PIDS=()

t_log() { printf '%s: %s\n' "$T_NAME" "$*"; }
t_fail() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; exit 1; }

# Re-run this script inside a fresh network namespace (needs root).
t_enter_netns() {
    [ "$(id -u)" = 0 ] || t_fail "needs root for network namespaces and TAP devices"
    if [ -z "${T_IN_NETNS:-}" ]; then
        exec env T_IN_NETNS=1 unshare --net -- bash "$0" "$@"
    fi
    T_TMP=$(mktemp -d "/tmp/gw-$T_NAME.XXXXXX")
    trap t_cleanup EXIT
    ip link set lo up
}

# t_cleanup [STATUS]: kill what t_spawn started, show the logs of a failure, exit STATUS
# (default: the last command's). A trap that does more first passes its $? here: under
# set -e, `(exit $rc); t_cleanup` ends the trap at `(exit 1)`, and nothing is cleaned up.
t_cleanup() {
    local rc=${1:-$?}
    for pid in "${T_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${T_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$rc" != 0 ] && [ -d "$T_TMP" ]; then
        for f in "$T_TMP"/*.log; do
            [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
        done
    fi
    # T_KEEP=1: a failed test leaves its directory (logs, PKI) for a look
    [ -n "${T_KEEP:-}" ] && [ "$rc" != 0 ] && echo "kept $T_TMP" || rm -rf "$T_TMP"
    exit "$rc"
}

# t_socks_conf LOCATION TOKEN FILE: proxychains4's configuration for the relay's SOCKS5 entry
# on 127.0.0.1:1080 (RFC 1929: the location and its token; the name goes to the relay,
# proxy_dns), so iperf3 speaks SOCKS5 as a cloud application with a SOCKS5 library would.
t_socks_conf() {
    printf '%s\n' strict_chain quiet_mode proxy_dns "remote_dns_subnet 224" \
        "tcp_read_time_out 15000" "tcp_connect_time_out 8000" "[ProxyList]" \
        "socks5 127.0.0.1 1080 $1 $2" > "$3"
}

# t_spawn NAME CMD...: run in the background, output to $T_TMP/NAME.log, killed at exit.
t_spawn() {
    local name=$1; shift
    "$@" > "$T_TMP/$name.log" 2>&1 < /dev/null &
    T_PIDS+=($!)
}

# t_child PID NAME: the child of PID (a wrapper such as strace) that runs NAME, waited for
# up to 5 s; fails the test without one. By name: strace forks short-lived children of its
# own at start (its ptrace checks), and the tracee is strace too until its exec.
t_child() {
    local pid=$1 name=$2 c i
    for ((i = 0; i < 50; i++)); do
        for c in $(cat "/proc/$pid/task/$pid/children" 2> /dev/null); do
            [ "$(cat "/proc/$c/comm" 2> /dev/null)" = "$name" ] && { echo "$c"; return 0; }
        done
        sleep 0.1
    done
    t_fail "no $name under $pid"
}

# t_relay CONF [WRAPPER...]: $RELAY with CONF, logged as "relay", under WRAPPER (strace, say)
# when given; waits until it listens. T_RELAY_PID is the relay itself, whose wrapper (if
# any) is T_PIDS[-2]: killed, the wrapper lets its child run on, so both are listed.
t_relay() {
    local conf=$1; shift
    t_spawn relay "$@" "$RELAY" --config "$conf"
    T_RELAY_PID=${T_PIDS[-1]}
    t_wait_log relay 'listening: tunnels' 10
    if [ $# -gt 0 ]; then
        T_RELAY_PID=$(t_child "$T_RELAY_PID" relay)
        T_PIDS+=("$T_RELAY_PID")
    fi
}

# t_passt NAME SOCK: passt as a guest's network on the UNIX socket SOCK (port 10007 to the
# guest's echo), logged as NAME, with the first call the veth that carries its default route
# (passt exits without one): 192.0.2.1/24 here, the guest's gateway 192.0.2.254.
t_passt() {
    local name=$1 sock=$2 i
    if ! ip link show gwv0 > /dev/null 2>&1; then
        ip link add gwv0 type veth peer name gwv1
        ip addr add 192.0.2.1/24 dev gwv0
        ip link set gwv0 up
        ip link set gwv1 up
        ip route add default via 192.0.2.254 dev gwv0
    fi
    t_spawn "$name" passt -4 -D none -f -e --runas 0 -m 1500 -s "$sock" -t 10007:7
    for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && return 0; sleep 0.1; done
    t_fail "passt did not create $sock"
}

# t_wait_log NAME REGEX SECONDS: wait until the log shows a line matching REGEX.
t_wait_log() {
    local name=$1 re=$2 secs=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        grep -qE "$re" "$T_TMP/$name.log" 2>/dev/null && return 0
        sleep 0.1
    done
    t_fail "no '$re' in $name's log within ${secs}s"
}

# t_provision GW FLASH COMMANDS...: write the commands (one per argument) to the flash
# through --batch, as a factory would, and commit them.
t_provision() {
    local gw=$1 flash=$2; shift 2
    printf '%s\n' "$@" commit > "$T_TMP/provision.txt"
    "$gw" --flash "$flash" --batch "$T_TMP/provision.txt" > "$T_TMP/provision.log" 2>&1 ||
        { cat "$T_TMP/provision.log"; t_fail "provisioning failed"; }
}

# t_ping ADDR: three echo requests must be answered.
t_ping() {
    ping -c 3 -i 0.2 -W 2 "$1" > "$T_TMP/ping.log" 2>&1 ||
        { cat "$T_TMP/ping.log"; t_fail "no answer to ping $1"; }
    t_log "ping $1: $(grep -oE '[0-9]+ received' "$T_TMP/ping.log")"
}

# t_echo HOST PORT BYTES [LOCKSTEP]: the echo service returns every byte.
t_echo() {
    python3 "$T_DIR/echo_check.py" "$1" "$2" "$3" 120 ${4:-} || t_fail "echo through $1:$2"
}

# A veth pair's kernel side would hand the gateway segments with checksums left to
# offload (and TSO super-frames); a real NIC puts finished frames on the wire.
t_veth_no_offload() {
    ethtool -K "$1" tx off tso off gso off > /dev/null 2>&1 ||
        t_fail "cannot turn off offloads on $1 (ethtool)"
}
