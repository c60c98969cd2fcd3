#!/usr/bin/env bash
# The gateway on passt through the QEMU stream protocol: it gets its address by DHCP from
# passt and echoes 10 MiB byte-exact through passt's port forward. passt runs inside this
# test's namespace (-4 -D none), whose default route rides on a spare veth, so nothing can
# leave the machine. (passt does not forward inbound ICMP to its guest: no ping here; the
# ping tests are the TAP and AF_PACKET ones.) Debian 12's passt (2023-03) stalls for 250 ms
# at a time when both directions of one connection are full at once, with any guest stack,
# so the echo here keeps at most 32 KiB in flight; the full-duplex runs are TAP and packet.
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
GW=$1

sock=$T_TMP/passt.sock
t_passt passt "$sock"

t_spawn gateway "$GW" --flash "$T_TMP/flash.img" --net "stream:$sock"   # factory default: DHCP
t_wait_log gateway 'net: address 192\.0\.2\.1 .*\(dhcp\)' 15
t_echo 127.0.0.1 10007 $((10 * 1024 * 1024)) 32768

# The link follows the peer: passt gone means link down, and back when it returns.
kill "${T_PIDS[0]}"; wait "${T_PIDS[0]}" 2>/dev/null || true
t_wait_log gateway 'link down on stream' 5
t_passt passt2 "$sock"
t_wait_log gateway 'reconnected to' 10
t_echo 127.0.0.1 10007 $((1024 * 1024)) 32768
t_log "ok"
