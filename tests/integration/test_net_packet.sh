#!/usr/bin/env bash
# The gateway owns one end of a veth pair through AF_PACKET (the kernel has no address on
# it); the other end carries the namespace's address. Ping and 10 MiB echo, byte-exact,
# twice: with the host's offloads on, its TSO hands the gateway merged frames and the
# gateway's merged frames reach the host whole (both counted: bytes per frame above one
# Ethernet frame's 1514); then with them off, the host sends one segment per frame, as a
# wire does, and GRO on the gateway's port (which it switches on) merges them again.
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
GW=$1

ip link add gwp0 type veth peer name gwp1
ip link set gwp0 up
ip addr add 192.0.2.1/24 dev gwp1
ip link set gwp1 up
t_provision "$GW" "$T_TMP/flash.img" "set net address 192.0.2.2/24 gateway 192.0.2.1"

# host_rx FIELD: bytes (1) or packets (2) gwp1 received, the gateway's frames as the host
# saw them (/proc/net/dev is this namespace's; /sys/class/net is not)
host_rx() { awk -v f="$1" '$1 == "gwp1:" { print $(f + 1) }' /proc/net/dev; }

# run_echo PHASE: start the gateway, ping, echo; sets gf gb (frames and bytes the gateway
# received, from show status) and hf hb (what the host received during the echo).
run_echo() {
    local phase=$1 f0 b0 line
    mkfifo "$T_TMP/console-$phase"
    exec 3<> "$T_TMP/console-$phase"
    "$GW" --flash "$T_TMP/flash.img" --net packet:gwp0 < "$T_TMP/console-$phase" \
        > "$T_TMP/gw-$phase.log" 2>&1 &
    T_PIDS+=($!)
    local pid=$!
    t_wait_log "gw-$phase" 'net: address 192\.0\.2\.2 ' 10
    t_wait_log "gw-$phase" 'link up on packet' 5
    t_ping 192.0.2.2
    f0=$(host_rx 2) b0=$(host_rx 1)
    t_echo 192.0.2.2 7 $((10 * 1024 * 1024))
    hf=$(($(host_rx 2) - f0)) hb=$(($(host_rx 1) - b0))
    printf 'show status\n' >&3
    t_wait_log "gw-$phase" '^frames: ' 5
    line=$(grep -m1 '^frames: ' "$T_TMP/gw-$phase.log")
    kill "$pid"
    wait "$pid" 2> /dev/null || true
    local keep=() q                   # gone: the cleanup at exit must not signal its PID
    for q in "${T_PIDS[@]}"; do [ "$q" = "$pid" ] || keep+=("$q"); done
    T_PIDS=(${keep[@]+"${keep[@]}"})
    exec 3>&-
    read -r gf gb <<< "$(sed -n 's/^frames: *rx \([0-9]*\) (\([0-9]*\) B.*/\1 \2/p' <<< "$line")"
}

# merged frames both ways: bytes per frame received by the gateway and by the host
run_echo on
t_log "offloads on: gateway received $gf frames ($gb B), host received $hf ($hb B)"
[ "$gf" -gt 0 ] && [ "$((gb / gf))" -gt 1514 ] ||
    t_fail "no merged frames reached the gateway ($gb B in $gf frames)"
[ "$hf" -gt 0 ] && [ "$((hb / hf))" -gt 1514 ] ||
    t_fail "the gateway sent no merged frames ($hb B in $hf frames)"
grep -q 'no virtio-net header' "$T_TMP/gw-on.log" && t_fail "PACKET_VNET_HDR refused"

t_veth_no_offload gwp1
run_echo off
t_log "host offloads off: gateway received $gf frames ($gb B), host received $hf ($hb B)"
[ "$gf" -gt 0 ] && [ "$((gb / gf))" -gt 1514 ] ||
    t_fail "GRO on the gateway's port merged nothing ($gb B in $gf frames)"
ethtool -k gwp0 | grep -q '^generic-receive-offload: on' || t_fail "GRO is off on gwp0"
t_log "ok"
