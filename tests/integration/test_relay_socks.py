#!/usr/bin/env python3
"""Peers for the relay tests (each bounded in count and time):

  serve ECHO_PORT SOURCE_PORT         echo service (echoes until EOF, then closes) and a
                                      source (sends SIZE bytes of a pattern, the size first
                                      asked as 12 ASCII digits, then closes); runs until killed;
                                      on $SERVE_ADDR (default 127.0.0.1)
  echo SOCKS_PORT USER PASS HOST PORT STREAMS BYTES
                                      STREAMS concurrent SOCKS5 clients through the relay,
                                      each sends BYTES (its own pattern), half-closes, and
                                      must get exactly those bytes back
  get SOCKS_PORT USER PASS HOST PORT BYTES
                                      one SOCKS5 client reads BYTES from the source, checks
                                      the pattern, prints MiB/s
  gets SOCKS_PORT USER PASS HOST PORT STREAMS BYTES
                                      STREAMS of those downloads at once, each checked
  abort SOCKS_PORT USER PASS HOST PORT  asks the source for 1 GB, half-closes, reads 1 MiB,
                                      then resets the connection
  reply SOCKS_PORT USER PASS HOST PORT  prints the SOCKS5 reply code (or "auth N")
  flood PORT CONNECTIONS SECONDS       opens CONNECTIONS TCP connections that never speak
                                      (a handshake flood), prints "flooding", holds them
  hold SOCKS_PORT USER PASS HOST PORT STREAMS SECONDS
                                      opens STREAMS connections, prints "holding", keeps
                                      them open (idle) for SECONDS, then closes them
  names SOCKS_PORT USER PASS PORT     one CONNECT per byte value 0..255 to the name
                                      "esc" BYTE "z", and one to a name of every byte
                                      1..255; prints how many of each reply code came back
  raw SOCKS_PORT USER PASS HEX        authenticates, then sends the bytes HEX as the
                                      request: prints the reply code, or "closed"
  authfail SOCKS_PORT USER_HEX        an RFC 1929 user name of any bytes: prints the status
  slowscrape PORT N SECONDS           N scrapers with a tiny receive buffer each ask for
                                      the metrics and do not read; prints "stalling"; after
                                      SECONDS reads what is there: prints each one's bytes
                                      and whether the relay had closed it
"""
import os
import socket
import struct
import sys
import threading
import time

DEADLINE = 120


def pattern(seed, n):
    block = bytes((seed * 31 + i * 7 + (i >> 8)) & 0xFF for i in range(65536))
    return (block * (n // len(block) + 1))[:n]


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def socks_connect(port, user, pw, host, hport):
    """Returns (socket, reply code); code -1 means the authentication was refused."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"\x05\x01\x02")
    if recv_exact(s, 2) != b"\x05\x02":
        raise RuntimeError("relay did not choose user/password")
    u, p = user.encode(), pw.encode()
    s.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    st = recv_exact(s, 2)
    if st[1] != 0:
        return s, -1
    h = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + struct.pack(">H", hport))
    rep = recv_exact(s, 10)
    return s, rep[1]


def serve(echo_port, source_port):
    def echo(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)

    def source(c):
        with c:
            n = int(recv_exact(c, 12))
            data = pattern(1, min(n, 1 << 20))
            left = n
            while left:
                k = min(left, len(data))
                c.sendall(data[:k])
                left -= k

    def listen(port, fn):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((os.environ.get("SERVE_ADDR", "127.0.0.1"), port))
        ls.listen(512)
        while True:
            c, _ = ls.accept()
            threading.Thread(target=fn, args=(c,), daemon=True).start()

    threading.Thread(target=listen, args=(echo_port, echo), daemon=True).start()
    threading.Thread(target=listen, args=(source_port, source), daemon=True).start()
    print("serving", flush=True)
    time.sleep(3600)


def echo_clients(port, user, pw, host, hport, streams, nbytes):
    errors = []
    t0 = time.time()

    def one(i):
        try:
            s, rep = socks_connect(port, user, pw, host, hport)
            if rep != 0:
                raise RuntimeError("reply %d" % rep)
            data = pattern(i, nbytes)
            got = bytearray()
            s.settimeout(DEADLINE)

            def reader():
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    got.extend(d)

            r = threading.Thread(target=reader)
            r.start()
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            r.join(DEADLINE)
            s.close()
            if bytes(got) != data:
                raise RuntimeError("stream %d: %d bytes back, differ" % (i, len(got)))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors.append("stream %d: %s" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    dt = time.time() - t0
    if errors:
        print("\n".join(errors[:10]))
        print("%d of %d streams failed" % (len(errors), streams))
        return 1
    print("%d streams x %d bytes echoed byte-exact in %.2f s" % (streams, nbytes, dt))
    return 0


def fetch(port, user, pw, host, hport, nbytes):
    """Read nbytes from the source through SOCKS5: (None, seconds) or (what failed, 0)."""
    s, rep = socks_connect(port, user, pw, host, hport)
    if rep != 0:
        return "reply %d" % rep, 0
    with s:
        s.settimeout(DEADLINE)
        t0 = time.time()
        s.sendall(b"%012d" % nbytes)
        want = pattern(1, min(nbytes, 1 << 20))
        got = 0
        buf = bytearray()
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
            while len(buf) >= len(want) or (got + len(buf) == nbytes and buf):
                k = min(len(buf), len(want))
                if buf[:k] != want[:k]:
                    return "data differs at offset %d" % got, 0
                got += k
                del buf[:k]
        if got != nbytes:
            return "got %d of %d bytes" % (got, nbytes), 0
        return None, time.time() - t0


def get(port, user, pw, host, hport, nbytes):
    err, dt = fetch(port, user, pw, host, hport, nbytes)
    if err:
        print(err)
        return 1
    print("%d MiB byte-exact in %.2f s: %.1f MiB/s" % (nbytes >> 20, dt, nbytes / dt / 2**20))
    return 0


def gets(port, user, pw, host, hport, streams, nbytes):
    """STREAMS downloads from the source at once, each checked; a summary line."""
    results = ["did not finish"] * streams
    t0 = time.time()

    def one(i):
        try:
            results[i] = fetch(port, user, pw, host, hport, nbytes)[0]
        except Exception as e:  # noqa: BLE001 - reported per stream
            results[i] = repr(e)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, DEADLINE - (time.time() - t0)))
    bad = [(i, r) for i, r in enumerate(results) if r is not None]
    for i, r in bad[:5]:
        print("stream %d: %s" % (i, r))
    if bad:
        print("%d of %d downloads failed" % (len(bad), streams))
        return 1
    dt = time.time() - t0
    print("%d downloads x %d bytes byte-exact in %.2f s: %.1f MiB/s together"
          % (streams, nbytes, dt, streams * nbytes / dt / 2**20))
    return 0


def abort(port, user, pw, host, hport):
    """Ask the source for 1 GB, half-close, read a little, then reset (SO_LINGER 0)."""
    s, rep = socks_connect(port, user, pw, host, hport)
    if rep != 0:
        print("reply %d" % rep)
        return 1
    s.settimeout(DEADLINE)
    s.sendall(b"%012d" % (1 << 30))
    s.shutdown(socket.SHUT_WR)
    recv_exact(s, 1 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("reset after 1 MiB")
    return 0


def reply(port, user, pw, host, hport):
    s, rep = socks_connect(port, user, pw, host, hport)
    print("auth refused" if rep < 0 else "reply %d" % rep)
    return 0


def hold(port, user, pw, host, hport, streams, seconds):
    socks = []
    for _ in range(streams):
        s, rep = socks_connect(port, user, pw, host, hport)
        if rep != 0:
            print("reply %d" % rep)
            return 1
        socks.append(s)
    print("holding %d streams" % streams, flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()
    return 0


def flood(port, n, seconds):
    conns = []
    for _ in range(n):
        try:
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            pass
    print("flooding with %d connections" % len(conns), flush=True)
    time.sleep(seconds)
    for c in conns:
        c.close()
    return 0


def auth_only(port, user, pw):
    """A connection that passed RFC 1929 (user and pw as bytes), ready for the request."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"\x05\x01\x02")
    if recv_exact(s, 2) != b"\x05\x02":
        raise RuntimeError("relay did not choose user/password")
    s.sendall(bytes([1, len(user)]) + user + bytes([len(pw)]) + pw)
    if recv_exact(s, 2) != b"\x01\x00":
        raise RuntimeError("authentication refused")
    return s


def raw_request(port, user, pw, req):
    """Sends req after authenticating; the reply code, or None when the relay closed."""
    with auth_only(port, user, pw) as s:
        s.sendall(req)
        try:
            rep = recv_exact(s, 2)
        except (EOFError, ConnectionResetError):
            return None
        return rep[1]


def names(port, user, pw, hport):
    """A CONNECT to a name holding each byte value (0 is malformed), then to all of them."""
    codes = {}
    u, p = user.encode(), pw.encode()
    reqs = [b"esc" + bytes([b]) + b"z" for b in range(256)] + [bytes(range(1, 256))]
    for name in reqs:
        req = b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", hport)
        rep = raw_request(port, u, p, req)
        codes[rep] = codes.get(rep, 0) + 1
    print("%d requests: %s" % (len(reqs), " ".join("reply %s: %d" % (k, v) for k, v in
                                                    sorted(codes.items(), key=str))))
    return 0


def raw(port, user, pw, hexreq):
    rep = raw_request(port, user.encode(), pw.encode(), bytes.fromhex(hexreq))
    print("closed" if rep is None else "reply %d" % rep)
    return 0


def authfail(port, user_hex):
    u = bytes.fromhex(user_hex)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"\x05\x01\x02")
        recv_exact(s, 2)
        s.sendall(bytes([1, len(u)]) + u + b"\x01x")
        print("auth status %d" % recv_exact(s, 2)[1])
    return 0


def slowscrape(port, n, seconds):
    """Scrapers that ask and then do not read: a 1 KiB receive buffer each (set before
    connect, so the window is small from the start)."""
    conns = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        conns.append(s)
    print("stalling %d scrapers" % n, flush=True)
    time.sleep(seconds)
    for i, s in enumerate(conns):
        data = bytearray()
        closed = False
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    closed = True
                    break
                data += d
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        want = [int(x.split(b":")[1]) for x in head.split(b"\r\n")
                if x.lower().startswith(b"content-length:")]
        print("scraper %d: %d of %s body bytes, %s" % (i, len(body), want[0] if want else "?",
                                                      "closed by the relay" if closed
                                                      else "still open"), flush=True)
        s.close()
    return 0


def main(a):
    if a[0] == "serve":
        serve(int(a[1]), int(a[2]))
    elif a[0] == "echo":
        return echo_clients(int(a[1]), a[2], a[3], a[4], int(a[5]), int(a[6]), int(a[7]))
    elif a[0] == "get":
        return get(int(a[1]), a[2], a[3], a[4], int(a[5]), int(a[6]))
    elif a[0] == "abort":
        return abort(int(a[1]), a[2], a[3], a[4], int(a[5]))
    elif a[0] == "gets":
        return gets(int(a[1]), a[2], a[3], a[4], int(a[5]), int(a[6]), int(a[7]))
    elif a[0] == "flood":
        return flood(int(a[1]), int(a[2]), float(a[3]))
    elif a[0] == "hold":
        return hold(int(a[1]), a[2], a[3], a[4], int(a[5]), int(a[6]), float(a[7]))
    elif a[0] == "reply":
        return reply(int(a[1]), a[2], a[3], a[4], int(a[5]))
    elif a[0] == "names":
        return names(int(a[1]), a[2], a[3], int(a[4]))
    elif a[0] == "raw":
        return raw(int(a[1]), a[2], a[3], a[4])
    elif a[0] == "authfail":
        return authfail(int(a[1]), a[2])
    elif a[0] == "slowscrape":
        return slowscrape(int(a[1]), int(a[2]), float(a[3]))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
