#!/usr/bin/env python3
"""Connections that try to hold a listener's slots, for the relay's flood tests.

    relay_flood.py HOST PORT COUNT SECONDS MODE SOURCE...

COUNT connections at once to HOST:PORT, each bound to one of the SOURCE addresses in turn,
for SECONDS; a connection the server closes (or refuses) is opened again at once (at most
REOPEN_PER_S a second in all, so the flood itself stays bounded). MODE:
  idle         connect and send nothing
  slow-tls     a TLS handshake record header, then one byte a second (never a whole
               ClientHello in time)
  slow-socks   a SOCKS5 greeting and user/password request, one byte a second
  mix-tls      half idle, half slow-tls
  mix-socks    half idle, half slow-socks
Prints "flood: COUNT open" once they all were open at the same time, then at the end
"flood: done opens=N closed_by_server=M most_open=K".
"""
import errno
import selectors
import socket
import sys
import time

REOPEN_PER_S = 2000
OPENS_MAX = 400000

TLS_BYTES = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]) + bytes(500)
SOCKS_BYTES = b"\x05\x01\x02" + b"\x01\x04loc1\x20" + b"x" * 32


class Conn:
    def __init__(self, slot, slow):
        self.slot = slot
        self.slow = slow
        self.sock = None
        self.sent = 0
        self.next_byte = 0.0


def main(a):
    host, port, count, secs, mode = a[0], int(a[1]), int(a[2]), float(a[3]), a[4]
    sources = a[5:] or ["0.0.0.0"]
    payload = TLS_BYTES if mode.endswith("tls") else SOCKS_BYTES
    sel = selectors.DefaultSelector()
    conns = [Conn(i, mode.startswith("slow") or (mode.startswith("mix") and i % 2 == 1))
             for i in range(count)]
    opens = closed = most = 0
    open_now = 0
    announced = False
    end = time.monotonic() + secs
    budget, budget_at = REOPEN_PER_S, time.monotonic()
    todo = list(conns)

    def close(c, by_server):
        nonlocal closed, open_now
        if c.sock is not None:
            sel.unregister(c.sock)
            c.sock.close()
            c.sock = None
            open_now -= 1
            if by_server:
                closed += 1
        todo.append(c)

    while time.monotonic() < end and opens < OPENS_MAX:
        now = time.monotonic()
        if now - budget_at >= 0.1:
            budget, budget_at = REOPEN_PER_S // 10, now
        while todo and budget > 0:
            c = todo.pop()
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.bind((sources[c.slot % len(sources)], 0))
                s.connect((host, port))
            except BlockingIOError:
                pass
            except OSError as e:
                s.close()
                if e.errno not in (errno.ECONNREFUSED, errno.EADDRNOTAVAIL):
                    raise
                todo.insert(0, c)
                break
            c.sock, c.sent, c.next_byte = s, 0, now + 1.0
            sel.register(s, selectors.EVENT_READ, c)
            opens += 1
            budget -= 1
            open_now += 1
        most = max(most, open_now)
        if not announced and open_now == count:
            print("flood: %d open" % count, flush=True)
            announced = True
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                data = c.sock.recv(4096)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                close(c, True)
        now = time.monotonic()
        for c in conns:
            if c.sock is not None and c.slow and now >= c.next_byte:
                c.next_byte = now + 1.0
                try:
                    c.sock.send(payload[c.sent % len(payload):][:1])
                    c.sent += 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    close(c, True)
    for c in conns:
        if c.sock is not None:
            c.sock.close()
    print("flood: done opens=%d closed_by_server=%d most_open=%d" % (opens, closed, most),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
