#!/usr/bin/env bash
# bench_delay (bench/bench_delay.c), the mail bench's WAN: between a TAP and a stream socket
# it delays exactly the frames of one port, 25 ms each way, and drops at a full queue.
# A UDP echo host (bench_delay_peer.py, 192.0.2.2) sits on the socket side; from the TAP's
# side datagrams to port 7443 come back after at least 50 ms, to port 7000 at once, and a
# burst larger than the queue loses what does not fit, counted.
#
#   test_bench_delay.sh BENCH_DELAY
. "$(dirname "$0")/lib.sh"
t_enter_netns "$@"
DELAY=$1

ip tuntap add dev dtap0 mode tap
ip addr add 192.0.2.1/24 dev dtap0
ip link set dtap0 up
# As in the bench, a gateway used the TAP before, with a virtio-net header and checksum and
# TSO offloads (board/linux/netif_tap.c): they stay on the device after it is gone, and
# bench_delay, without the header, must turn them off or the host's checksums are never made.
python3 - <<'PY'
import fcntl, os, struct
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH22x", b"dtap0", 0x0002 | 0x1000 | 0x4000))
fcntl.ioctl(fd, 0x400454D0, 0x01 | 0x02)   # TUNSETOFFLOAD: TUN_F_CSUM | TUN_F_TSO4
os.close(fd)
PY

t_spawn delay "$DELAY" --tap dtap0 --listen "$T_TMP/wire.sock" --port 7443 --delay-ms 25 \
    --queue 8
DELAY_PID=${T_PIDS[-1]}
t_wait_log delay 'serving' 5
t_spawn peer python3 "$T_DIR/bench_delay_peer.py" "$T_TMP/wire.sock"
t_wait_log delay 'client connected' 5

# probe PORT N: N echoes one at a time (1 s timeout each), "min median max" RTT in ms.
probe() {
    python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
rtts = []
for i in range(n):
    t = time.monotonic()
    s.sendto(b"probe %d" % i, ("192.0.2.2", port))
    try:
        while s.recv(100) != b"probe %d" % i:
            pass
        rtts.append((time.monotonic() - t) * 1000)
    except socket.timeout:
        pass
if len(rtts) < n:
    print("lost %d of %d" % (n - len(rtts), n))
else:
    rtts.sort()
    print("%.1f %.1f %.1f" % (rtts[0], rtts[len(rtts) // 2], rtts[-1]))
PY
}
probe 7000 1 > /dev/null      # ARP is resolved before anything is timed
read -r lmin lmed lmax <<< "$(probe 7000 20)"
[ "$lmin" != lost ] || t_fail "echoes on port 7000 lost: $lmed $lmax"
read -r wmin wmed wmax <<< "$(probe 7443 20)"
[ "$wmin" != lost ] || t_fail "echoes on port 7443 lost: $wmed $wmax"
t_log "port 7000 (undelayed) RTT min/median/max $lmin/$lmed/$lmax ms; port 7443 $wmin/$wmed/$wmax ms"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 50 else 1)" "$wmin" ||
    t_fail "port 7443: RTT $wmin ms, expected at least 50 ms (25 ms each way)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 150 else 1)" "$wmed" ||
    t_fail "port 7443: median RTT $wmed ms, expected about 50 ms"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 25 else 1)" "$lmed" ||
    t_fail "port 7000: median RTT $lmed ms, expected no added delay"

# 30 datagrams at once towards a queue of 8: what does not fit is dropped and counted.
got=$(python3 - <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(30):
    s.sendto(b"burst %d" % i, ("192.0.2.2", 7443))
s.settimeout(0.5)
n = 0
try:
    while True:
        s.recv(100)
        n += 1
except socket.timeout:
    pass
print(n)
PY
)
kill -USR1 "$DELAY_PID"
for ((i = 0; i < 20; i++)); do grep -q 'stats:' "$T_TMP/delay.log" && break; sleep 0.1; done
stats=$(grep 'stats:' "$T_TMP/delay.log" | tail -n 1)
dropped=$(sed -n 's/.*dropped_queue_full=\([0-9]*\).*/\1/p' <<< "$stats")
t_log "burst of 30 into a queue of 8: $got came back; $stats"
[ "$got" -ge 1 ] && [ "$got" -le 8 ] || t_fail "burst: $got of 30 came back, expected 1 to 8"
[ "$dropped" = $((30 - got)) ] || t_fail "burst: $dropped counted as dropped, expected $((30 - got))"
t_log "ok"
