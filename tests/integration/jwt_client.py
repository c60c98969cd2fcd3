#!/usr/bin/env python3
"""A raw SOCKS5 method 0x80 client (SAP's connectivity dialect) for the relay's tests: it
sends exactly the bytes SAP's clients send, so the test can also send what they never
would. Each command is bounded in time (a 20 s socket timeout).

  greet PORT HEXMETHODS                 the greeting's methods: prints "method 0xNN"
  try PORT TOKEN LOC HOST HPORT         method 0x80 with TOKEN and Location ID LOC ("-" for
                                        none), then CONNECT HOST:HPORT; prints "auth N" when
                                        refused there, else "reply N", and after reply 0
                                        "echo ok" when 64 KiB came back byte-exact
  toolong PORT BYTES                    declares a BYTES-long JWT and sends 8 of them:
                                        prints the answer ("auth 1") and whether the
                                        relay closed ("closed")
  hold PORT TOKEN LOC HOST HPORT SECS   connects as try does (reply 0), prints "holding",
                                        then for up to SECS sends a byte every 0.2 s and
                                        prints "echo N" when the mapping's echo server
                                        returned it: a positive sign the session lives;
                                        ends with "closed by the relay" or "still open";
                                        HOST "-": no CONNECT, only waits for the close
  holdpw PORT USER PASS HOST HPORT SECS the same with RFC 1929
  flood PORT SRC N1 N2                  from address SRC: N1 clients that declare a 16000-
                                        byte JWT and send its first 5 bytes only, then N2
                                        that send 2000 bytes of it; after 1 s prints
                                        "refused R1 of N1, R2 of N2" (answered 01 01)
"""
import select
import base64
import socket
import struct
import sys
import time


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return bytes(buf)


def connect_request(host, hport):
    h = host.encode()
    return b"\x05\x01\x00\x03" + bytes([len(h)]) + h + struct.pack(">H", hport)


def jwt_session(port, token, loc):
    """(socket, None) after 01 00, or (None, "auth N")."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"\x05\x01\x80")
    m = recv_exact(s, 2)
    if m != b"\x05\x80":
        s.close()
        return None, "method 0x%02x" % m[1]
    tok = token.encode()
    lb = b"" if loc == "-" else base64.b64encode(loc.encode())
    s.sendall(b"\x01" + struct.pack(">I", len(tok)) + tok + bytes([len(lb)]) + lb)
    st = recv_exact(s, 2)
    if st != b"\x01\x00":
        s.close()
        return None, "auth %d" % st[1]
    return s, None


def pw_session(port, user, pw):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"\x05\x01\x02")
    recv_exact(s, 2)
    u, p = user.encode(), pw.encode()
    s.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    if recv_exact(s, 2) != b"\x01\x00":
        s.close()
        return None, "auth 1"
    return s, None


def connect(s, host, hport):
    s.sendall(connect_request(host, hport))
    rep = recv_exact(s, 10)
    return rep[1]


def greet(port, methods):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        m = bytes.fromhex(methods)
        s.sendall(b"\x05" + bytes([len(m)]) + m)
        print("method 0x%02x" % recv_exact(s, 2)[1])
    return 0


def try_(port, token, loc, host, hport):
    s, why = jwt_session(port, token, loc)
    if s is None:
        print(why)
        return 0
    with s:
        rep = connect(s, host, hport)
        print("reply %d" % rep)
        if rep != 0:
            return 0
        data = bytes((i * 7) & 0xFF for i in range(65536))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        print("echo ok" if bytes(got) == data else "echo differs (%d bytes)" % len(got))
    return 0


def toolong(port, n):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(b"\x05\x01\x80")
        recv_exact(s, 2)
        s.sendall(b"\x01" + struct.pack(">I", n) + b"eyJhbGci")
        st = recv_exact(s, 2)
        try:
            closed = s.recv(1) == b""
        except ConnectionResetError:
            closed = True
        print("auth %d%s" % (st[1], " closed" if closed else ""))
    return 0


def hold_authenticated(s, secs):
    """Authenticated, no CONNECT sent: waits up to secs for the relay to close."""
    print("holding", flush=True)
    s.settimeout(secs)
    t0 = time.time()
    try:
        while s.recv(4096):
            pass
        print("closed by the relay after %.1f s" % (time.time() - t0))
    except ConnectionResetError:
        print("closed by the relay after %.1f s" % (time.time() - t0))
    except socket.timeout:
        print("still open")
    return 0


def hold(s, why, host, hport, secs):
    if s is None:
        print(why)
        return 1
    with s:
        if host == "-":
            return hold_authenticated(s, secs)
        rep = connect(s, host, hport)
        if rep != 0:
            print("reply %d" % rep)
            return 1
        print("holding", flush=True)
        s.settimeout(2)
        t0 = time.time()
        n = 0
        try:
            while time.time() - t0 < secs:
                s.sendall(b"p")
                if s.recv(1) != b"p":
                    raise ConnectionResetError
                n += 1
                print("echo %d" % n, flush=True)
                time.sleep(0.2)
            print("still open")
        except (ConnectionResetError, BrokenPipeError):
            print("closed by the relay after %.1f s" % (time.time() - t0))
        except socket.timeout:
            print("no echo for 2 s")
    return 0


def flood(port, src, n1, n2):
    socks = []
    try:
        for i in range(n1 + n2):
            s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                         source_address=(src, 0))
            socks.append(s)
            s.sendall(b"\x05\x01\x80")
            recv_exact(s, 2)
            s.sendall(b"\x01" + struct.pack(">I", 16000) + (b"A" * 2000 if i >= n1 else b""))
        refused = [0, 0]
        t_end = time.time() + 1
        pending = list(socks)
        while pending and time.time() < t_end:
            r, _, _ = select.select(pending, [], [], max(0.0, t_end - time.time()))
            for s in r:
                pending.remove(s)
                try:
                    got = s.recv(2)
                except ConnectionResetError:
                    got = b""
                if got == b"\x01\x01":
                    refused[socks.index(s) >= n1] += 1
        print("refused %d of %d, %d of %d" % (refused[0], n1, refused[1], n2))
    finally:
        for s in socks:
            s.close()
    return 0


def main(a):
    if a[0] == "greet":
        return greet(int(a[1]), a[2])
    if a[0] == "try":
        return try_(int(a[1]), a[2], a[3], a[4], int(a[5]))
    if a[0] == "toolong":
        return toolong(int(a[1]), int(a[2]))
    if a[0] == "hold":
        s, why = jwt_session(int(a[1]), a[2], a[3])
        return hold(s, why, a[4], int(a[5]), float(a[6]))
    if a[0] == "flood":
        return flood(int(a[1]), a[2], int(a[3]), int(a[4]))
    if a[0] == "holdpw":
        s, why = pw_session(int(a[1]), a[2], a[3])
        return hold(s, why, a[4], int(a[5]), float(a[6]))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
