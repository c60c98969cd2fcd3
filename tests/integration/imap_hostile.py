#!/usr/bin/env python3
"""A hostile IMAP server for test_imap_session.sh: one connection, one scripted attack on
STARTTLS (the attacks of "Why TLS is better without STARTTLS", USENIX Security 2021).
It writes every line the client sent to LOG, so the test can prove the password never
went out.

    imap_hostile.py ADDR PORT MODE LOG
MODE: no-starttls | preauth | inject-after-ok | starttls-no | tagged-injection
"""
import socket
import sys

addr, port, mode, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
CAPS = b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR\r\n"

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, port))
srv.listen(1)
srv.settimeout(30)
print("listening", flush=True)
conn, _ = srv.accept()
conn.settimeout(10)
seen = open(log, "wb")
buf = b""


def line():
    """The client's next line, or None once it closed."""
    global buf
    while b"\r\n" not in buf:
        try:
            data = conn.recv(4096)
        except (socket.timeout, ConnectionError):
            return None
        if not data:
            return None
        buf += data
    ln, buf = buf.split(b"\r\n", 1)
    seen.write(ln + b"\n")
    seen.flush()
    return ln


if mode == "preauth":
    conn.sendall(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] Logged in as market\r\n")
else:
    conn.sendall(b"* OK IMAP ready\r\n")
while True:
    ln = line()
    if ln is None:
        break
    tag, _, cmd = ln.partition(b" ")
    cmd = cmd.upper()
    if cmd == b"CAPABILITY":
        caps = CAPS.replace(b" STARTTLS", b"") if mode == "no-starttls" else CAPS
        if mode == "tagged-injection":
            # The OK for the STARTTLS the client has not sent yet, ahead of time.
            conn.sendall(caps + b"g2 OK Begin TLS negotiation now.\r\n" + tag + b" OK done\r\n")
        else:
            conn.sendall(caps + tag + b" OK done\r\n")
    elif cmd == b"STARTTLS":
        if mode == "starttls-no":
            conn.sendall(tag + b" NO STARTTLS not available\r\n")
        elif mode == "inject-after-ok":
            # Plaintext injected behind the OK in the same packet: it must never be taken
            # as having come through TLS.
            conn.sendall(tag + b" OK Begin TLS negotiation now.\r\n"
                         b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
        else:
            conn.sendall(tag + b" OK Begin TLS negotiation now.\r\n")
    else:
        conn.sendall(tag + b" OK fine\r\n")
seen.close()
conn.close()
