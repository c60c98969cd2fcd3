#!/usr/bin/env bash
# The gateway owns one end of a veth pair through AF_PACKET (the kernel has no address on
# it); the other end carries the namespace's address. Ping and 10 MiB echo, byte-exact.
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
GW=$1

ip link add gwp0 type veth peer name gwp1
ip link set gwp0 up
ip addr add 192.0.2.1/24 dev gwp1
ip link set gwp1 up
t_veth_no_offload gwp1

t_provision "$GW" "$T_TMP/flash.img" "set net address 192.0.2.2/24 gateway 192.0.2.1"
t_spawn gateway "$GW" --flash "$T_TMP/flash.img" --net packet:gwp0
t_wait_log gateway 'net: address 192\.0\.2\.2 ' 10
t_wait_log gateway 'link up on packet' 5
t_ping 192.0.2.2
t_echo 192.0.2.2 7 $((10 * 1024 * 1024))
t_log "ok"
