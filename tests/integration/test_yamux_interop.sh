#!/usr/bin/env bash
# Our yamux (test_yamux_interop, C) against js-libp2p's @chainsafe/libp2p-yamux
# (tests/interop/yamux_peer.mjs, installed by `make deps`) over TCP on 127.0.0.1, in a
# network namespace of its own. Twice: our side as the client (odd IDs, as the gateway) and
# as the server (even IDs, as the relay). Each run: both sides open 100 streams of up to
# 64 KiB and 2 of 16 MiB, echo the other's, half-close both ways, check every byte.
#
# Usage: test_yamux_interop.sh C_DRIVER INTEROP_DIR
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
DRIVER=$1 INTEROP=$2
[ -d "$INTEROP/node_modules/@chainsafe/libp2p-yamux" ] ||
    t_fail "$INTEROP/node_modules is missing: run make deps"
ARGS=(--streams 100 --bytes 65536 --big $((16 * 1024 * 1024)))

run() { # ROLE_OF_C PORT
    local c_mode=$1 port=$2 node_mode
    [ "$c_mode" = --connect ] && node_mode=--listen || node_mode=--connect
    if [ "$node_mode" = --listen ]; then
        t_spawn node-$port node "$INTEROP/yamux_peer.mjs" --listen "$port" "${ARGS[@]}"
        t_wait_log node-$port 'node: listening' 20
        timeout 150 "$DRIVER" --connect "$port" "${ARGS[@]}" > "$T_TMP/c-$port.log" 2>&1 ||
            { cat "$T_TMP/c-$port.log"; t_fail "our yamux as the client"; }
    else
        t_spawn c-$port timeout 150 "$DRIVER" --listen "$port" "${ARGS[@]}"
        t_wait_log c-$port 'c: listening' 10
        timeout 150 node "$INTEROP/yamux_peer.mjs" --connect "$port" "${ARGS[@]}" \
            > "$T_TMP/node-$port.log" 2>&1 ||
            { cat "$T_TMP/node-$port.log"; t_fail "our yamux as the server"; }
    fi
    t_wait_log c-$port 'c: verified 102 own streams, echoed 102' 150
    t_wait_log node-$port 'node: verified 102 own streams, echoed 102' 150
    t_log "our yamux as $( [ "$c_mode" = --connect ] && echo client || echo server ):"
    grep -h 'MiB\|verified' "$T_TMP/c-$port.log" "$T_TMP/node-$port.log" | sed 's/^/    /'
}
run --connect 7101
run --listen 7102
t_log "ok"
