# Sourced by bench/run.sh: relay scale. A relay of its own (locations sim0 .. simN-1) and
# SCALE_N simulated idle gateways in one process (bench/sim_gateways.c: our TLS client,
# yamux and hello on kernel sockets), each with its own certificate (CN = its location).
# Figures: tunnels the relay accepted, its RSS before and after (per tunnel), the time to
# bring them up, and whether they survive the relay's keepalive for a while.

scale_bench() {
    local C=$T_TMP/scale i hex rss0 rss1 hwm1 up line
    mkdir -p "$C/certs" "$C/spool"
    b_log "scale: $SCALE_N gateway certificates"
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/key.pem"
    # One key for every simulated gateway (the relay routes on the certificate's CN only);
    # a certificate each, two openssl processes at a time.
    seq 0 $((SCALE_N - 1)) | xargs -P 2 -I{} sh -c '
        openssl req -new -key "$1/key.pem" -subj "/O=Gateway Test Lab/CN=sim$2" |
        openssl x509 -req -CA "$3/inter.pem" -CAkey "$3/inter.key" -set_serial "$((5000 + $2))" \
            -days 30 -out "$1/certs/sim$2.leaf" 2> /dev/null &&
        cat "$1/certs/sim$2.leaf" "$3/inter.pem" > "$1/certs/sim$2.pem"' _ "$C" {} "$P"
    hex=$(printf bench | sha256sum | cut -d' ' -f1)
    {
        echo "listen 127.0.0.1:8443"
        echo "cert $P/chain-ec.pem key $P/leaf-ec.key"
        echo "client-ca $P/inter.pem"
        echo "socks 127.0.0.1:1081"
        echo "spool $C/spool"
        for ((i = 0; i < SCALE_N; i++)); do echo "location sim$i token-sha256 $hex"; done
    } > "$C/relay.conf"
    t_spawn relay-scale "$RELAY" --config "$C/relay.conf"
    local rpid=${T_PIDS[-1]}
    if ! b_wait_log relay-scale 'listening: tunnels' 10; then
        fig scale relay failed "relay did not start: $(tail -n 1 "$T_TMP/relay-scale.log")"
        return 0
    fi
    sleep 0.5
    rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$rpid/status")
    b_log "scale: $SCALE_N simulated gateways"
    t_spawn sim "$B/sim_gateways" --relay 127.0.0.1:8443 --ca "$P/root.der" \
        --name mail.example.test --key "$C/key.pem" --certs "$C/certs" --count "$SCALE_N" \
        --conc 16 --secs 200
    local spid=${T_PIDS[-1]}
    cmd "scale: relay with $SCALE_N locations; sim_gateways --relay 127.0.0.1:8443 --count $SCALE_N --conc 16 (one process, a TLS 1.2 + yamux tunnel and hello per simulated gateway, then idle)"
    if ! b_wait_log sim '^tunnels up=' 150; then
        fig scale sim failed "simulated gateways did not finish within 150 s"
        b_stop "$spid" "$rpid"
        return 0
    fi
    line=$(grep -m1 '^tunnels up=' "$T_TMP/sim.log")
    sleep 1
    rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$rpid/status")
    hwm1=$(awk '/^VmHWM/ { print $2 }' "/proc/$rpid/status")
    fig scale sim line "$line"
    fig scale relay rss "$rss0 $rss1 $hwm1"
    fig scale sim rss "$(awk '/^VmRSS/ { print $2 }' "/proc/$spid/status")"
    # Idle for two keepalive rounds of the relay (5 s each): tunnels must stay up.
    b_log "scale: holding them idle for 12 s"
    sleep 12
    fig scale sim lost "$(grep -c '^lost ' "$T_TMP/sim.log" || true)"
    fig scale relay rss_after_idle "$(awk '/^VmRSS/ { print $2 }' "/proc/$rpid/status")"
    grep -m1 -oE 'tunnel refused: [^"]*"[^"]*"' "$T_TMP/relay-scale.log" > "$T_TMP/scale-refusal.txt" || true
    grep -m1 -iE 'too many|limit|refus|closed at accept' "$T_TMP/relay-scale.log" >> "$T_TMP/scale-refusal.txt" || true
    fig scale relay refusal "$(head -n 1 "$T_TMP/scale-refusal.txt")"
    b_stop "$spid" "$rpid"
}
