#!/usr/bin/env python3
"""A mail store that misbehaves, for the relay's `spool lmtp` (test_relay_lmtp.sh): an LMTP
server on 127.0.0.1:PORT that serves each connection in one of these ways and logs one line
per connection to stdout ("MODE: ..."):

  tempfail   a normal session up to the end of data, then "452 4.2.2 Mailbox is full"
  silent     accepts the connection and never says a word
  noread     a normal session up to 354, then reads nothing more (the relay's bytes pile up)
  stored     a normal session, "250 2.0.0 Saved"; the message (its bytes after the end of
             data is undone) goes to DIR/msg-N when DIR is given

usage: lmtp_fake.py MODE PORT [DIR]
"""
import os
import socket
import sys
import threading
import time


def session(conn, mode, n, out_dir):
    f = conn.makefile("rb")

    def say(line):
        conn.sendall(line.encode() + b"\r\n")

    if mode == "silent":
        print(f"{mode}: connection {n}, saying nothing", flush=True)
        time.sleep(600)
        return
    say("220 fake LMTP ready")
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.strip().upper()
        if cmd.startswith(b"LHLO"):
            say("250-fake")
            say("250 PIPELINING")
        elif cmd.startswith(b"MAIL FROM:") or cmd.startswith(b"RCPT TO:"):
            say("250 2.1.0 OK")
        elif cmd == b"DATA":
            say("354 go ahead")
            if mode == "noread":
                print(f"{mode}: connection {n}, reading nothing after 354", flush=True)
                time.sleep(600)
                return
            data = bytearray()
            while True:
                dl = f.readline()
                if not dl or dl == b".\r\n":
                    break
                data += dl[1:] if dl.startswith(b".") else dl
            print(f"{mode}: connection {n}, message of {len(data)} bytes", flush=True)
            if mode == "tempfail":
                say("452 4.2.2 Mailbox is full")
            else:
                if out_dir:
                    with open(os.path.join(out_dir, f"msg-{n}"), "wb") as o:
                        o.write(data)
                say("250 2.0.0 Saved")
        elif cmd == b"QUIT":
            say("221 bye")
            return
        else:
            say("500 5.5.1 unknown command")


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    out_dir = sys.argv[3] if len(sys.argv) > 3 else None
    srv = socket.create_server(("127.0.0.1", port))
    n = 0
    while True:
        conn, _ = srv.accept()
        n += 1
        threading.Thread(target=session, args=(conn, mode, n, out_dir), daemon=True).start()


if __name__ == "__main__":
    main()
