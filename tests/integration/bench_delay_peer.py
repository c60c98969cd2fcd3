#!/usr/bin/env python3
"""The far end of bench_delay's wire for test_bench_delay.sh: a host 192.0.2.2 on the
stream socket (QEMU's framing: 4-byte big-endian length, Ethernet frame) that answers ARP
and sends every UDP datagram addressed to it back to its sender (addresses and ports
swapped: the IPv4 and UDP checksums stay valid, a one's-complement sum does not depend on
order). Stops when the socket closes.

usage: bench_delay_peer.py SOCKET
"""
import socket
import struct
import sys
import time

MAC = bytes.fromhex("020000000002")
IP = socket.inet_aton("192.0.2.2")


def reply(f):
    if len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01" and f[38:42] == IP:
        arp = f[14:22][:6] + b"\x00\x02" + MAC + IP + f[22:28] + f[28:32]
        return f[6:12] + MAC + b"\x08\x06" + arp
    if len(f) >= 42 and f[12:14] == b"\x08\x00" and f[23] == 17 and f[30:34] == IP:
        ihl = (f[14] & 0x0F) * 4
        ip = f[14:14 + ihl]
        ip = ip[:12] + ip[16:20] + ip[12:16] + ip[20:]
        udp = f[14 + ihl:]
        udp = udp[2:4] + udp[0:2] + udp[4:]
        return f[6:12] + MAC + b"\x08\x00" + ip + udp
    return None


def main():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(50):                       # bench_delay may still be starting: 5 s
        try:
            s.connect(sys.argv[1])
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit("peer: cannot connect to %s" % sys.argv[1])
    print("peer: connected", flush=True)
    buf = b""
    while True:
        data = s.recv(65536)
        if not data:
            return
        buf += data
        while len(buf) >= 4:
            (n,) = struct.unpack(">I", buf[:4])
            if len(buf) < 4 + n:
                break
            frame, buf = buf[4:4 + n], buf[4 + n:]
            r = reply(frame)
            if r is not None:
                s.sendall(struct.pack(">I", len(r)) + r)


if __name__ == "__main__":
    main()
