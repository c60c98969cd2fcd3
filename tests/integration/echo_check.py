#!/usr/bin/env python3
"""Push N bytes through a TCP echo service and check every byte that comes back.

usage: echo_check.py HOST PORT BYTES [TIMEOUT_S [LOCKSTEP_BYTES]]
Sends a deterministic pseudo-random stream while reading the echo concurrently (so a
service with back-pressure does not deadlock us), compares it byte for byte, and prints
the throughput. With LOCKSTEP_BYTES, never has more than that many bytes unechoed in
flight (for peers that cope badly with both directions full at once).
Exits 1 on any mismatch, short read or timeout.
"""
import hashlib
import selectors
import socket
import sys
import time


def stream_bytes(n):
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha256(block.to_bytes(8, "big")).digest()
        block += 1
    return bytes(out[:n])


def main():
    host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    lockstep = int(sys.argv[5]) if len(sys.argv) > 5 else total
    data = stream_bytes(total)
    start = time.monotonic()
    s = socket.create_connection((host, port), timeout=10)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent = 0
    got = bytearray()
    while len(got) < total:
        if time.monotonic() - start > limit:
            print(f"echo_check: timeout after {limit}s: sent {sent}, received {len(got)}")
            return 1
        for key, ev in sel.select(timeout=1.0):
            if ev & selectors.EVENT_WRITE and sent < total:
                room = min(65536, lockstep - (sent - len(got)))
                try:
                    if room > 0:
                        sent += s.send(data[sent:sent + room])
                except BlockingIOError:
                    pass
                if sent == total:
                    sel.modify(s, selectors.EVENT_READ)
                    s.shutdown(socket.SHUT_WR)
            if ev & selectors.EVENT_READ:
                chunk = s.recv(262144)
                if not chunk:
                    print(f"echo_check: connection closed after {len(got)} of {total} bytes")
                    return 1
                got += chunk
    # After our FIN the service must finish and close: read to EOF.
    s.setblocking(True)
    s.settimeout(10)
    rest = s.recv(1)
    s.close()
    elapsed = time.monotonic() - start
    if bytes(got) != data:
        bad = next(i for i in range(total) if got[i] != data[i])
        print(f"echo_check: MISMATCH at byte {bad}")
        return 1
    if rest:
        print("echo_check: extra bytes after the echo")
        return 1
    print(f"echo_check: {total} bytes echoed byte-exact in {elapsed:.2f}s "
          f"({total * 8 / elapsed / 1e6:.1f} Mbit/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
