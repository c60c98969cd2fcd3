#!/usr/bin/env bash
# A slow metrics scraper (issue 16, item 9): scrapers connect with a 1 KiB receive buffer,
# ask for the metrics (45 KiB with 1000 locations) and never read. The relay's socket
# buffers are kept small in this namespace (tcp_wmem), as on a busy host, so the answer
# cannot all be handed to the kernel at once.
#
#   meanwhile the relay serves on: a SOCKS5 stream through the tunnel and a second scrape
#   each finish within a second (a blocking send() once held the loop a second per
#   scraper)
#   a scraper that has not taken its answer after 5 s is closed, and the relay says so
#
# Usage: test_relay_metrics_slow.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
sysctl -qw net.ipv4.tcp_wmem="4096 16384 16384" || t_fail "cannot set tcp_wmem in the namespace"
r_gwcert gw1 loc1
# 1000 more locations: their lines make the answer big.
mapfile -t sims < <(for i in $(seq 1000); do
    printf 'location sim%04d token-sha256 %064d\n' "$i" "$i"; done)
r_config "${sims[@]}"
t_spawn services $PY serve 7007 7008
r_relay
r_gw gw1 gw1 --map mail.example.test:143=7007
t_wait_log gw1 'tunnel up' 10
t_wait_log services 'serving' 10
size=$(curl -sS --max-time 5 http://127.0.0.1:9100/metrics | wc -c)
[ "$size" -gt 40000 ] || t_fail "the metrics are only $size bytes"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
t_spawn slow $PY slowscrape 9100 4 7
t_wait_log slow 'stalling 4 scrapers' 10
sleep 0.2
t0=$(ms)
$PY echo $SOCKS loc1 "$TOKEN1" mail.example.test 143 1 1000 > "$T_TMP/echo.txt" ||
    { cat "$T_TMP/echo.txt"; t_fail "SOCKS5 stream while scrapers stall"; }
t1=$(ms)
curl -sS --max-time 10 http://127.0.0.1:9100/metrics > "$T_TMP/metrics.txt" ||
    t_fail "second scrape"
t2=$(ms)
[ "$(wc -c < "$T_TMP/metrics.txt")" -gt 40000 ] || t_fail "second scrape: short answer"
t_log "4 scrapers not reading: a SOCKS5 stream took $((t1 - t0)) ms, a scrape $((t2 - t1)) ms"
# The old relay blocked a second per stalled scraper (3.8 s for these four); the limits leave
# room for starting python3 and curl on a loaded machine.
[ $((t1 - t0)) -lt 2500 ] || t_fail "the SOCKS5 stream waited $((t1 - t0)) ms"
[ $((t2 - t1)) -lt 2500 ] || t_fail "the second scrape waited $((t2 - t1)) ms"

t_wait_log slow 'scraper 3:' 15
grep 'scraper' "$T_TMP/slow.log" | grep -v 'stalling' | grep -v 'closed by the relay' &&
    t_fail "a scraper was not closed"
t_wait_log relay 'scraper 127.0.0.1:[0-9]+ took [0-9]+ of [0-9]+ bytes in 5 s: closed' 2
t_log "slow scrapers: $(grep -c 'closed by the relay' "$T_TMP/slow.log") closed by the relay" \
      "after 5 s ($(grep -m1 'scraper 0' "$T_TMP/slow.log"))"
t_log "ok"
