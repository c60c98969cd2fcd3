#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_net_input (record format in fuzz_net_input.c): a peer at
10.9.0.2 that resolves by ARP, connects to the echo service, sends in order, out of order,
past the window and as one merged 64 KiB frame, closes and resets; ICMP, UDP and IPv4
fragments. Run by hand when the format changes:
    python3 tests/fuzz/net_input_seeds.py tests/fuzz/corpus/net_input"""
import os
import struct
import sys

OUR_MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000002")
OUR_IP = bytes([10, 9, 0, 1])
PEER_IP = bytes([10, 9, 0, 2])
ISN = 5000          # the peer's own sequence numbers
SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def vnet(gso=0, flags=2, hdr_len=0, gso_size=0):
    """struct virtio_net_hdr: flags (2: data valid), gso_type, hdr_len, gso_size, csum_*."""
    return struct.pack("<BBHHHH", flags, gso, hdr_len, gso_size, 0, 0)


def frame(payload, aimed=True, head=None, ethertype=0x0800):
    eth = OUR_MAC + PEER_MAC + struct.pack(">H", ethertype)
    body = (head or vnet()) + eth + payload
    return bytes([0 | (4 if aimed else 0)]) + struct.pack(">H", len(body)) + body


def ipv4(proto, payload, ident=1, frag=0):
    # the checksum is filled in by the harness for aimed frames
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto,
                       0, PEER_IP, OUR_IP) + payload


def tcp(seq, ack, flags, data=b"", sport=40000, dport=7, win=65535):
    return ipv4(6, struct.pack(">HHIIBBHHH", sport, dport, seq & 0xffffffff, ack, 5 << 4,
                               flags, win, 0, 0) + data)


def arp_reply():
    return frame(struct.pack(">HHBBH", 1, 0x0800, 6, 4, 2) + PEER_MAC + PEER_IP + OUR_MAC +
                 OUR_IP, ethertype=0x0806)


FAST, SLOW, FLUSH, AGE = b"\x01", b"\x05", b"\x02", b"\x03"


def handshake(sport=40000):
    # the SYN-ACK waits for ARP: the reply comes first
    return (arp_reply() + frame(tcp(ISN, 0, SYN, sport=sport)) + FLUSH +
            frame(tcp(ISN + 1, 1, ACK, sport=sport)))


def seeds():
    data = bytes(range(256)) * 6
    yield "echo_in_order", (handshake() + frame(tcp(ISN + 1, 1, ACK | PSH, b"hello\n")) + FLUSH +
                            frame(tcp(ISN + 7, 7, ACK | FIN)) + FAST + FLUSH + SLOW)
    # a lost segment: three after the gap wait out of order, then the gap fills
    s = handshake()
    for k in (1, 2, 3):
        s += frame(tcp(ISN + 1 + 1460 * k, 1, ACK, data[:1460]))
    s += frame(tcp(ISN + 1, 1, ACK, data[:1460])) + FAST + FLUSH
    yield "out_of_order", s
    # past the window: lwIP 2.1.3 trapped on it without tcp_guard
    yield "past_window", (handshake() + frame(tcp(ISN + 1 + 70000, 1, ACK, data[:1460])) +
                          frame(tcp(ISN + 1 + 2000, 1, ACK, data[:1460])) + FAST)
    # one merged TCP/IPv4 frame of 64 KiB, as GRO or the host's TSO hands it over
    big = tcp(ISN + 1, 1, ACK | PSH, (data * 43)[:65535 - 24 - 40])
    yield "merged_frame", (handshake() +
                           frame(big, head=vnet(gso=1, flags=1, hdr_len=54, gso_size=1460)) +
                           FLUSH + FAST)
    # 1-byte segments to a reader that waits: 44 full segments fill the echo's send buffer
    # (its replies are never acknowledged), then 1-byte ones queue unread, in order and
    # released by a gap
    s = handshake()
    for k in range(44):
        s += frame(tcp(ISN + 1 + 1460 * k, 1, ACK, data[:1460])) + FLUSH
    at = ISN + 1 + 44 * 1460
    s += b"".join(frame(tcp(at + i, 1, ACK | PSH, b"z")) for i in range(100))
    s += b"".join(frame(tcp(at + 101 + i, 1, ACK | PSH, b"y")) for i in range(30))
    yield "small_segments", s + frame(tcp(at + 100, 1, ACK | PSH, b"g")) + FLUSH + FAST
    yield "reset", handshake() + frame(tcp(ISN + 1, 0, RST)) + FLUSH
    yield "syn_flood", arp_reply() + b"".join(frame(tcp(ISN, 0, SYN, sport=41000 + i))
                                              for i in range(12)) + SLOW + FLUSH
    icmp = struct.pack(">BBHHH", 8, 0, 0xf7fd, 1, 1) + b"\0\0"
    yield "icmp_udp", (arp_reply() + frame(ipv4(1, icmp)) +
                       frame(ipv4(17, struct.pack(">HHHH", 5353, 53, 12, 0) + b"abcd")) + FLUSH)
    # fragments: the first two of three, then the ageing drops them
    udp = struct.pack(">HHHH", 5353, 9, 8 + 3000, 0) + data[:3000]
    yield "fragments", (frame(ipv4(17, udp[:1480], ident=7, frag=0x2000)) +
                        frame(ipv4(17, udp[1480:2960], ident=7, frag=0x2000 | 185)) + AGE + AGE)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
