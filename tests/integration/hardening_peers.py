#!/usr/bin/env python3
"""Peers for the hardening tests (issue 16: test_mapping_commit.sh, test_tunnel_stall.sh),
python3 stdlib only, each bounded in time or run until the test kills it:

  dns ADDR RELEASE_DIR NAME=IP[@held] ...
        A DNS server on ADDR:53 (UDP) that answers A queries for the NAMEs (TTL 0, so the
        gateway keeps nothing). A NAME marked @held is answered only once the file
        RELEASE_DIR/NAME exists: the test opens a window in which the gateway waits for
        the answer, does what it wants in it (a commit), then lets the answer go. Every
        query (retransmissions too) is answered; other names get NXDOMAIN. Logs one line
        per query ("query NAME") and per answer ("answered NAME").
  canary ADDR PORT...
        TCP listeners that should never see a connection: each one that comes is logged
        ("canary: connection to PORT from HOST"), greeted like an IMAP server (so a receiver
        misled into it would show what it sends: CAPABILITY is answered, so a LOGIN would
        follow), and every line it sends is logged by its first two words ("canary PORT:
        got TAG COMMAND").
  sink ADDR PORT
        An internal service that accepts every connection and never reads from it (the
        stalled consumer): the connections are kept open until the process is killed.
  push SOCKS_PORT USER PASS HOST PORT STREAMS BYTES SECONDS
        STREAMS SOCKS5 clients through the relay, each pushing BYTES (to a sink) and then
        waiting, until its connection ends (reset or closed by the tunnel) or SECONDS have
        passed since the start; prints "pushing" once all are connected, then a summary
        line (how many the tunnel ended, how many are still open), and exits 0.
"""
import os
import socket
import struct
import sys
import threading
import time


def log(msg):
    print(msg, flush=True)


def qname(pkt):
    """The question's name and the offset just past QTYPE/QCLASS, or (None, 0)."""
    labels, i = [], 12
    while i < len(pkt):
        n = pkt[i]
        if n == 0:
            return ".".join(labels).lower(), i + 5
        if n & 0xC0:
            return None, 0
        labels.append(pkt[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return None, 0


def dns(addr, release_dir, specs):
    table, held = {}, set()
    for spec in specs:
        name, ip = spec.split("=", 1)
        if ip.endswith("@held"):
            ip = ip[:-len("@held")]
            held.add(name.lower())
        table[name.lower()] = socket.inet_aton(ip)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    waiting = []                       # (name, reply, peer) held back
    lock = threading.Lock()

    def releaser():
        while True:
            time.sleep(0.05)
            with lock:
                for item in list(waiting):
                    if os.path.exists(os.path.join(release_dir, item[0])):
                        s.sendto(item[1], item[2])
                        log("answered %s" % item[0])
                        waiting.remove(item)

    threading.Thread(target=releaser, daemon=True).start()
    log("dns: serving on %s:53" % addr)
    while True:
        pkt, peer = s.recvfrom(2048)
        if len(pkt) < 12:
            continue
        name, end = qname(pkt)
        if name is None:
            continue
        qtype = struct.unpack(">H", pkt[end - 4:end - 2])[0]
        log("query %s" % name)
        question = pkt[12:end]
        if name in table and qtype == 1:
            head = pkt[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0)
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + table[name]
            reply = head + question + answer
        else:
            rcode = 0 if name in table else 3
            reply = pkt[:2] + struct.pack(">H", 0x8180 | rcode) + struct.pack(
                ">HHHH", 1, 0, 0, 0) + question
        with lock:
            if name in held and not os.path.exists(os.path.join(release_dir, name)):
                waiting.append((name, reply, peer))
                continue
        s.sendto(reply, peer)
        log("answered %s" % name)


def canary(addr, ports):
    def talk(c, port):
        with c:
            c.settimeout(30)
            c.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN] canary\r\n")
            buf = b""
            try:
                while True:
                    d = c.recv(4096)
                    if not d:
                        return
                    buf += d
                    while b"\r\n" in buf:
                        line, buf = buf.split(b"\r\n", 1)
                        words = line.decode("ascii", "replace").split()
                        log("canary %d: got %s" % (port, " ".join(words[:2])))
                        if len(words) > 1 and words[1].upper() == "CAPABILITY":
                            c.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN\r\n")
                            c.sendall(words[0].encode() + b" OK\r\n")
                        elif words:
                            c.sendall(words[0].encode() + b" NO canary\r\n")
            except OSError:
                return

    def listen(port):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(16)
        while True:
            c, peer = ls.accept()
            log("canary: connection to %d from %s" % (port, peer[0]))
            threading.Thread(target=talk, args=(c, port), daemon=True).start()

    for p in ports:
        threading.Thread(target=listen, args=(p,), daemon=True).start()
    log("canary: listening on %s" % " ".join(str(p) for p in ports))
    time.sleep(3600)


def sink(addr, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(64)
    held = []
    log("sink: listening on %s:%d" % (addr, port))
    while True:
        c, _ = ls.accept()
        held.append(c)                 # never read: the peer's window closes


def socks_connect(port, user, pw, host, hport):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"\x05\x01\x02")
    if s.recv(2) != b"\x05\x02":
        raise RuntimeError("relay did not choose user/password")
    u, p = user.encode(), pw.encode()
    s.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    if s.recv(2)[1:] != b"\x00":
        raise RuntimeError("authentication refused")
    h = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + struct.pack(">H", hport))
    rep = s.recv(10)
    if len(rep) < 2 or rep[1] != 0:
        raise RuntimeError("SOCKS5 reply %r" % rep[:2])
    return s


def push(port, user, pw, host, hport, streams, nbytes, seconds):
    deadline = time.time() + seconds
    socks = [socks_connect(port, user, pw, host, hport) for _ in range(streams)]
    log("pushing %d streams x %d bytes" % (streams, nbytes))
    result = ["stalled"] * streams
    sent = [0] * streams

    def one(i):
        s = socks[i]
        data = b"\x5a" * 65536
        try:
            while time.time() < deadline:
                s.settimeout(max(0.01, min(deadline - time.time(), 1.0)))
                try:
                    if sent[i] < nbytes:
                        sent[i] += s.send(data[:min(len(data), nbytes - sent[i])])
                    elif not s.recv(1):        # all sent: wait for the end
                        result[i] = "reset"
                        return
                except socket.timeout:
                    continue
        except OSError:
            result[i] = "reset"
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 5)
    log("push: %d streams: %d ended by the tunnel, %d still open after %.0f s; %d bytes "
        "taken" % (streams, result.count("reset"), result.count("stalled"), seconds,
                   sum(sent)))
    return 0


def main(a):
    if a[0] == "dns":
        dns(a[1], a[2], a[3:])
    elif a[0] == "canary":
        canary(a[1], [int(p) for p in a[2:]])
    elif a[0] == "sink":
        sink(a[1], int(a[2]))
    elif a[0] == "push":
        return push(int(a[1]), a[2], a[3], a[4], int(a[5]), int(a[6]), int(a[7]), float(a[8]))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
