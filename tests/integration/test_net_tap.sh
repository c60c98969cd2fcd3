#!/usr/bin/env bash
# The gateway on a TAP device, static address: it answers ping and echoes 10 MiB byte-exact.
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
GW=$1

ip tuntap add dev gwtap0 mode tap
ip addr add 192.0.2.1/24 dev gwtap0
ip link set gwtap0 up

t_provision "$GW" "$T_TMP/flash.img" "set net address 192.0.2.2/24 gateway 192.0.2.1"
t_spawn gateway "$GW" --flash "$T_TMP/flash.img" --net tap:gwtap0
t_wait_log gateway 'net: address 192\.0\.2\.2 ' 10
t_ping 192.0.2.2
t_echo 192.0.2.2 7 $((10 * 1024 * 1024))
t_log "ok"
