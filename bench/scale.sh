# Sourced by bench/run.sh: the relay at scale (issue 18). A relay of its own with SCALE_N
# locations (sim0 .. simN-1) and simulated gateways (bench/sim_gateways.c: our TLS client,
# yamux and hello on kernel sockets, reconnecting as the firmware does), each with its own
# certificate (CN = its location), in two processes (the machine's two cores):
#
#   idle       SCALE_N tunnels up at once: the relay's RSS before and with them, per tunnel,
#              after two keepalive rounds; none lost
#   storm      the relay SIGKILLed and started again: seconds until every gateway is back,
#              attempts, and the relay's refusals by cause meanwhile
#   handshakes handshakes per CPU-second of the server: the relay (all its threads) and
#              openssl s_server with the same suite, key and client-certificate check, each
#              driven by openssl s_time for SCALE_HS_SECS
#   load       100 tunnels moving data at once (bench/scale_load.c: one download per
#              location through SOCKS5) and a 1-byte echo through a 101st gateway served by
#              its own process: Gbit/s, per-tunnel spread (Jain's index), echo p50/p99 idle
#              and under load
#
# The PKI and the SCALE_N certificates are made once (openssl, two at a time: a few minutes
# for 10,000) and kept in BUILD/bench-scale for the next run. The simulated gateways dial
# from 127.1.0.1 .. 127.1.3.232 (1000 source addresses, as gateways behind many NATs), so
# the relay's per-source limits see what a real fleet looks like.

scale_certs() {
    local C=$1 n=$2
    if [ -f "$C/certs/sim$((n - 1)).pem" ] && [ -f "$C/pki/inter.key" ]; then
        b_log "scale: $n gateway certificates kept from an earlier run ($C)"
        return 0
    fi
    rm -rf "$C"
    mkdir -p "$C/certs"
    sh "$REPO/tests/unit/make_pki.sh" "$C/pki" > "$T_TMP/scale-pki.log" 2>&1 ||
        { b_log "scale: make_pki.sh failed"; return 1; }
    openssl x509 -in "$C/pki/inter.pem" -outform DER -out "$C/inter.der"
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/key.pem"
    b_log "scale: making $n gateway certificates (once; kept in $C)"
    seq 0 $((n - 1)) | xargs -P 2 -I{} sh -c '
        openssl req -new -key "$1/key.pem" -subj "/O=Gateway Test Lab/CN=sim$2" |
        openssl x509 -req -CA "$1/pki/inter.pem" -CAkey "$1/pki/inter.key" \
            -set_serial "$((5000 + $2))" -days 3650 -out "$1/certs/sim$2.leaf" 2> /dev/null &&
        cat "$1/certs/sim$2.leaf" "$1/pki/inter.pem" > "$1/certs/sim$2.pem" &&
        rm "$1/certs/sim$2.leaf"' _ "$C" {}
    [ -f "$C/certs/sim$((n - 1)).pem" ]
}

# CPU seconds a process (all its threads) has used: utime + stime.
cpu_s() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

metric() { # NAME: the relay's metric, from its metrics listener
    curl -sS --max-time 5 http://127.0.0.1:9101/metrics | awk -v m="$1" '$1 == m { print $2 }'
}

scale_relay() { # LOGNAME: start the scale relay; sets SRPID
    t_spawn "$1" "$RELAY" --config "$SC/relay.conf"
    SRPID=${T_PIDS[-1]}
    b_wait_log "$1" 'listening: tunnels' 60
}

scale_sims() { # FIRST COUNT NAME [ARGS]: simulated gateways in the background
    local first=$1 count=$2 name=$3
    shift 3
    t_spawn "$name" "$B/sim_gateways" --relay 127.0.0.1:8443 --ca "$SC/inter.der" \
        --name mail.example.test --key "$SC/key.pem" --certs "$SC/certs" --count "$count" \
        --first "$first" --secs 900 "$@"
}

scale_bench() {
    local n=$SCALE_N half i hex rss0 rss1 t0 t1 c0 c1 h0 h1 line
    SC=$BUILD/bench-scale
    half=$((n / 2))
    scale_certs "$SC" "$n" || { fig scale idle failed "no certificates"; return 0; }
    hex=$(printf bench | sha256sum | cut -d' ' -f1)
    mkdir -p "$T_TMP/scale-spool"
    {
        echo "listen 127.0.0.1:8443"
        echo "cert $SC/pki/chain-ec.pem key $SC/pki/leaf-ec.key"
        echo "client-ca $SC/pki/inter.pem"
        echo "socks 127.0.0.1:1081"
        echo "spool $T_TMP/scale-spool"
        echo "metrics 127.0.0.1:9101"
        for ((i = 0; i < n + 1; i++)); do echo "location sim$i token-sha256 $hex"; done
    } > "$SC/relay.conf"
    fig scale idle locations "$((n + 1))"
    "$RELAY" --check --config "$SC/relay.conf" > "$T_TMP/scale-check.txt" 2>&1 || true
    fig scale idle check "$(head -n 1 "$T_TMP/scale-check.txt")"
    cmd "scale: relay with $((n + 1)) locations (default limits); sim_gateways --count $half twice (--first 0, $half), --conc 32 each, --src 127.1.0.1 --nsrc 1000; certificates by openssl, once"

    # ---- idle: SCALE_N tunnels ----
    scale_relay scale-relay
    sleep 1
    rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$SRPID/status")
    b_log "scale: $n simulated gateways in two processes"
    t0=$(date +%s.%N)
    scale_sims 0 "$half" sim0 --conc 32 --src 127.1.0.1 --nsrc 1000
    local s0=${T_PIDS[-1]}
    scale_sims "$half" "$((n - half))" sim1 --conc 32 --src 127.1.0.1 --nsrc 1000
    local s1=${T_PIDS[-1]}
    if ! b_wait_log sim0 '^tunnels up=' 300 || ! b_wait_log sim1 '^tunnels up=' 300; then
        fig scale idle failed "the simulated gateways did not come up within 300 s"
        b_stop "$s0" "$s1" "$SRPID"
        return 0
    fi
    fig scale idle ramp "$(grep -h '^tunnels up=' "$T_TMP/sim0.log" "$T_TMP/sim1.log" | tr '\n' ' ')"
    b_log "scale: all up; idle for 15 s (three keepalive rounds)"
    sleep 15
    rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$SRPID/status")
    fig scale idle rss "$rss0 $rss1 $(awk '/^VmHWM/ { print $2 }' "/proc/$SRPID/status")"
    fig scale idle up "$(metric relay_tunnels_live)"
    # Tunnels the simulated gateways hold now (their status line a second), against n.
    local held=$(( $(grep '^t=' "$T_TMP/sim0.log" | tail -n 1 | sed 's/.*up=\([0-9]*\).*/\1/') \
                 + $(grep '^t=' "$T_TMP/sim1.log" | tail -n 1 | sed 's/.*up=\([0-9]*\).*/\1/') ))
    fig scale idle lost "$((n - held))"
    fig scale idle sim_rss "$(( $(awk '/^VmRSS/ { print $2 }' "/proc/$s0/status") + $(awk '/^VmRSS/ { print $2 }' "/proc/$s1/status") ))"

    # ---- storm: SIGKILL, start again, until every gateway is back ----
    b_log "scale: relay SIGKILLed and started again"
    kill -9 "$SRPID"
    wait "$SRPID" 2> /dev/null || true
    mv "$T_TMP/scale-relay.log" "$T_TMP/scale-relay-1.log"
    t0=$(date +%s.%N)
    scale_relay scale-relay
    if b_wait_log sim0 '^storm: all' 180 && b_wait_log sim1 '^storm: all' 180; then
        t1=$(date +%s.%N)
        fig scale storm back "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
        fig scale storm sims "$(grep -h '^storm: all' "$T_TMP/sim0.log" "$T_TMP/sim1.log" | tr '\n' ' ')"
    else
        fig scale storm failed "not every gateway back within 180 s: $(tail -n 1 "$T_TMP/sim0.log") / $(tail -n 1 "$T_TMP/sim1.log")"
    fi
    fig scale storm refusals "$(curl -sS --max-time 5 http://127.0.0.1:9101/metrics | sed -n 's/^relay_refusals_total{cause="\([a-z_]*\)"} \([1-9][0-9]*\)$/\1 \2/p' | tr '\n' ',' | sed 's/,$//')"
    fig scale storm threads "$(grep -o '[0-9]* handshake threads' "$T_TMP/scale-relay.log")"
    cmd "scale storm: kill -9 the relay, start it again (same configuration); each sim_gateways prints 'storm: all N back S s after the first loss' (backoff [d/2, d], d = 1 s doubling to 60 s, as firmware/tunnel.c)"
    b_stop "$s0" "$s1"

    # ---- handshakes per CPU-second: the relay and openssl s_server, one after the other ----
    local hs=${SCALE_HS_SECS:-8} suite=ECDHE-ECDSA-AES128-GCM-SHA256
    b_log "scale: handshakes per core (openssl s_time, $hs s each)"
    h0=$(metric relay_handshakes_total)
    c0=$(cpu_s "$SRPID")
    openssl s_time -connect 127.0.0.1:8443 -new -time "$hs" -cipher "$suite" \
        -cert "$SC/certs/sim0.pem" -key "$SC/key.pem" > "$T_TMP/stime-relay.txt" 2>&1 || true
    c1=$(cpu_s "$SRPID")
    h1=$(metric relay_handshakes_total)
    fig scale hs relay "$((h1 - h0)) $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')"
    b_stop "$SRPID"
    t_spawn s_server openssl s_server -accept 127.0.0.1:9443 -cert "$SC/pki/leaf-ec.pem" \
        -cert_chain "$SC/pki/inter.pem" -key "$SC/pki/leaf-ec.key" -Verify 1 \
        -CAfile "$SC/pki/inter.pem" -tls1_2 -cipher "$suite" -quiet -naccept 1000000
    local op=${T_PIDS[-1]}
    sleep 1
    c0=$(cpu_s "$op")
    openssl s_time -connect 127.0.0.1:9443 -new -time "$hs" -cipher "$suite" \
        -cert "$SC/certs/sim0.pem" -key "$SC/key.pem" > "$T_TMP/stime-openssl.txt" 2>&1 || true
    c1=$(cpu_s "$op")
    line=$(grep -m1 'connections in .* real seconds' "$T_TMP/stime-openssl.txt" | awk '{ print $1 }')
    fig scale hs openssl "${line:-0} $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')"
    fig scale hs versions "$(openssl version | cut -d' ' -f1-2); relay: BearSSL $(dpkg-query -W -f '${Version}' libbearssl-dev 2> /dev/null || echo 0.6)"
    b_stop "$op"
    cmd "scale handshakes: openssl s_time -connect ADDR -new -time $hs -cipher $suite -cert sim0.pem -key KEY against the relay (its tunnel listener) and against openssl s_server -tls1_2 -cipher $suite -Verify 1 -CAfile inter.pem (same key, chain and client CA); handshakes per CPU-second of the server process (utime + stime of all its threads)"

    # ---- load: 100 tunnels at once, a 1-byte echo through another ----
    b_log "scale: 100 tunnels moving data, echo through a 101st"
    scale_relay scale-relay-load
    scale_sims 0 100 simL --conc 32 --src 127.1.0.1 --nsrc 100
    local sl=${T_PIDS[-1]}
    scale_sims 100 1 simE --src 127.2.0.1 --nsrc 1
    local se=${T_PIDS[-1]}
    if b_wait_log simL '^tunnels up=100 ' 60 && b_wait_log simE '^tunnels up=1 ' 30; then
        "$B/scale_load" --socks 127.0.0.1:1081 --pass bench --first 0 --tunnels 100 \
            --secs "${SCALE_LOAD_SECS:-8}" --echo-user sim100 > "$T_TMP/scale-load.txt" 2>&1 || true
        fig scale load idle "$(grep '^idle rtt' "$T_TMP/scale-load.txt")"
        fig scale load load "$(grep '^load tunnels' "$T_TMP/scale-load.txt")"
        fig scale load rtt "$(grep '^load rtt' "$T_TMP/scale-load.txt")"
    else
        fig scale load failed "the 101 simulated gateways did not come up"
    fi
    cmd "scale load: sim_gateways --count 100 (one process) and --first 100 --count 1 (another, the echo's); scale_load --socks 127.0.0.1:1081 --pass bench --tunnels 100 --secs ${SCALE_LOAD_SECS:-8} --echo-user sim100 (one download per location from the gateway's byte source, 2000 1-byte echoes idle and under load)"
    b_stop "$sl" "$se" "$SRPID"
}
