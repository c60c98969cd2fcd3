# Sourced by bench/run.sh: the path through the gateway firmware itself. The relay from
# run.sh (tunnels on 0.0.0.0:7443, SOCKS5 on 127.0.0.1:1080) takes a second location,
# "gwbench"; the gateway (192.0.2.2, host side 192.0.2.1) is provisioned through its own
# console language (--batch): device key made on the device, CSR signed by the test
# intermediate, relay root in its trust store, two tcp mappings to the iperf3 and echo
# servers on 192.0.2.1. It runs on two devices in turn, the same flash each time: a TAP
# (path "gateway", `--net tap:gwtap0`) and one end of a veth pair through AF_PACKET (path
# "gwpacket", `--net packet:gwpk0`: what a Linux box with a port of its own runs), both
# with the virtio-net header offloads. Measured only when the build has the tunnel service
# (`show tunnel` does not say "not available") and the tunnel comes up within 20 s;
# otherwise the rows say why, and no figure is made up.

# gw_status PATH PHASE: the gateway's own accounting (show status, show tunnel) at this
# phase, beside its RSS: into bench-logs/status-gateway-PHASE.txt, and its figures into
# the results ("status" lines).
gw_status() {
    local n0 i
    n0=$(wc -l < "$T_TMP/$1.log")
    printf 'show status\nshow tunnel\n' >&4
    for ((i = 0; i < 20; i++)); do
        sleep 0.1
        grep -q '^streams: ' <(tail -n +"$((n0 + 1))" "$T_TMP/$1.log") && break
    done
    tail -n +"$((n0 + 1))" "$T_TMP/$1.log" > "$T_TMP/status-$1-$2.txt"
    fig status "$1" "$2" "$(sed -n 's/^ram: *//p' "$T_TMP/status-$1-$2.txt" | head -n 1)"
}

gateway_path() {
    local state G=$T_TMP/gw tok
    # A build without the tunnel service says "state: not available ..." here.
    state=$(printf 'show tunnel\n' | timeout 3 "$GATEWAY" 2>&1 | grep -m1 'not available' || true)
    if [ -n "$state" ]; then
        b_log "gateway: the tunnel service is not in this build ($state)"
        gw_na "not available in this build"
        return 0
    fi
    rm -rf "$G"      # a run before this one (BENCH_RUNS) left its flash and console
    mkdir -p "$G"
    # The relay learns the location (a restart re-reads the config; test_relay_gw is gone).
    "$RELAY" token gwbench > "$G/token.txt"
    tok=$(sed -n 's/^token for gwbench.*: //p' "$G/token.txt")
    grep '^location' "$G/token.txt" >> "$T_TMP/relay.conf"
    b_stop "$RELAY_PID"
    mv "$T_TMP/relay.log" "$T_TMP/relay-1.log"
    t_spawn relay "$RELAY" --config "$T_TMP/relay.conf"
    RELAY_PID=${T_PIDS[-1]}
    b_wait_log relay 'listening: tunnels' 10 || { gw_na "relay restart failed"; return 0; }

    # Key and CSR made on the device; the CSR is signed as a factory would.
    printf '%s\n' "set tunnel location gwbench" "tunnel key generate" "commit" "tunnel csr" \
        > "$G/p1.txt"
    "$GATEWAY" --flash "$G/flash.img" --batch "$G/p1.txt" > "$G/p1.log" 2>&1 || true
    sed -n '/-----BEGIN CERTIFICATE REQUEST-----/,/-----END CERTIFICATE REQUEST-----/p' \
        "$G/p1.log" > "$G/gw.csr"
    if ! openssl x509 -req -in "$G/gw.csr" -CA "$P/inter.pem" -CAkey "$P/inter.key" \
        -CAcreateserial -days 30 -out "$G/gw.pem" 2> "$G/sign.log"; then
        b_log "gateway: no CSR from the device (see bench-logs/gateway-provision.log)"
        cp "$G/p1.log" "$T_TMP/gateway-provision.log"
        gw_na "provisioning failed: no CSR (bench-logs/gateway-provision.log)"
        return 0
    fi
    {
        echo "set net address 192.0.2.2/24 gateway 192.0.2.1"
        echo "host add mail.example.test 192.0.2.1"
        echo "host add bench-host 192.0.2.1"
        echo "set tunnel relay mail.example.test:7443"
        echo "tunnel cert import"
        cat "$G/gw.pem" "$P/inter.pem"
        echo
        echo "trust import relay"
        cat "$P/root.pem"
        echo
        echo "trust import"
        cat "$P/root.pem"
        echo
        echo "mapping add iperf.bench.test:5201 bench-host:5201 tcp"
        echo "mapping add echo.bench.test:7 bench-host:7007 tcp"
        echo "commit"
    } > "$G/p2.txt"
    if ! "$GATEWAY" --flash "$G/flash.img" --batch "$G/p2.txt" > "$G/p2.log" 2>&1; then
        cat "$G/p1.log" "$G/p2.log" > "$T_TMP/gateway-provision.log"
        gw_na "provisioning failed (bench-logs/gateway-provision.log)"
        return 0
    fi
    want_path gateway && gateway_run gateway tap:gwtap0 "$tok"
    want_path gwpacket && gateway_run gwpacket packet:gwpk0 "$tok"
    gw_wire tap:gwtap0            # the TAP again (and the veth gone) for the mail section
    return 0
}

# gw_na WHY: neither gateway path was measured
gw_na() {
    local p
    for p in gateway gwpacket; do
        want_path "$p" && fig info "$p" na "$1"
    done
}

# gw_wire NET: the host's side of the gateway's device, 192.0.2.1; the other device gone
# (one address, one wire).
gw_wire() {
    if [ "$1" = tap:gwtap0 ]; then
        ip link del gwpk1 2> /dev/null || true
        if ! ip link show gwtap0 > /dev/null 2>&1; then
            ip tuntap add dev gwtap0 mode tap
            ip addr add 192.0.2.1/24 dev gwtap0
            ip link set gwtap0 up
        fi
        ip neigh flush dev gwtap0    # the last run's gateway may have had another address
    else
        ip link del gwtap0 2> /dev/null || true
        ip link del gwpk1 2> /dev/null || true
        ip link add gwpk0 type veth peer name gwpk1
        ip link set gwpk0 up
        ip addr add 192.0.2.1/24 dev gwpk1
        ip link set gwpk1 up
    fi
}

# gateway_run PATH NET TOKEN: the provisioned gateway on device NET, measured as PATH
# (TOKEN: the relay's for location gwbench).
gateway_run() {
    local path=$1 net=$2 tok=$3 G=$T_TMP/gw ups i
    gw_wire "$net"
    ups=$(grep -c 'tunnel up: location=gwbench' "$T_TMP/relay.log" || true)
    rm -f "$G/console"
    # The console on a pipe kept open (EOF on the console would stop the gateway).
    mkfifo "$G/console"
    exec 4<> "$G/console"
    "$GATEWAY" --flash "$G/flash.img" --net "$net" < "$G/console" > "$T_TMP/$path.log" 2>&1 &
    T_PIDS+=($!)
    local gpid=$!
    for ((i = 0; i < 200; i++)); do      # this gateway's tunnel: one more "up" than before
        [ "$(grep -c 'tunnel up: location=gwbench' "$T_TMP/relay.log" || true)" -gt "$ups" ] &&
            break
        sleep 0.1
    done
    if [ "$i" = 200 ]; then
        b_log "$path: tunnel did not come up within 20 s"
        fig info "$path" na "tunnel did not come up within 20 s (bench-logs/$path.log)"
        b_stop "$gpid"
        return 0
    fi
    t_socks_conf gwbench "$tok" "$G/socks.conf"
    cmd "$path: gateway --flash F --net $net (192.0.2.2; provisioned with --batch: key, CSR, chain, trust, mappings iperf.bench.test:5201 and echo.bench.test:7 to 192.0.2.1); proxychains4 -q -f CONF iperf3 -c iperf.bench.test -p 5201 (CONF: socks5 127.0.0.1 1080 gwbench TOKEN)"
    MEM_PIDS=("gateway=$gpid" "relay=$RELAY_PID")
    PROFILE_PID=$gpid RES_PID=$gpid RES_ELF=$GATEWAY RES_STATUS=gw_status
    measure "$path" "socks=$G/socks.conf" --socks 127.0.0.1:1080 gwbench "$tok" echo.bench.test 7
    PROFILE_PID= RES_PID= RES_STATUS=
    b_stop "$gpid"
}
