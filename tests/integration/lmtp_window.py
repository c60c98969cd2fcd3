#!/usr/bin/env python3
"""An LMTP proxy between one relay and the mail store that SIGKILLs the relay at the moment
exactly-once is about: the store has answered 250 to the end of data (it has the message),
and the relay has not read that 250 (so the gateway never hears "stored" and delivers the
message again, through another relay or this one restarted). test_relay_ha.sh puts one in
front of each relay's `spool lmtp`.

Bytes pass both ways unchanged. The relay's side is followed line by line: after "DATA",
the line "." ends the message; the store's next reply is the end of data's. The Nth such
reply over all connections (N in KILL_AT), if it is a 250, is not passed on: the relay whose
PID is in PIDFILE at that moment is SIGKILLed and both connections are closed. One line on
stdout per kill ("killed relay PID after the store's 250 to message N: REPLY").

usage: lmtp_window.py LISTEN_PORT STORE_PORT PIDFILE N[,N...]
"""
import os
import signal
import socket
import sys
import threading

lock = threading.Lock()
replies = 0


def pump_up(client, store, state):
    """The relay's bytes to the store; notes when the end of data has gone out."""
    held = b""
    while True:
        try:
            data = client.recv(65536)
        except OSError:                    # closed by pump_down after a kill
            return
        if not data:
            break
        held += data
        cut = held.rfind(b"\n") + 1
        lines, held = held[:cut], held[cut:]
        for line in lines.splitlines(keepends=True):
            if state["data"] and line == b".\r\n":
                state["data"] = False
                state["final"] = True      # before the "." reaches the store
            elif not state["data"] and line.strip().upper() == b"DATA":
                state["data"] = True
            try:
                store.sendall(line)
            except OSError:
                return
    try:
        store.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def pump_down(client, store, state, pidfile, kill_at):
    """The store's replies to the relay, but the one reply the relay must not read."""
    global replies
    f = store.makefile("rb")
    while True:
        try:
            line = f.readline()
        except OSError:                    # the relay died (a kill of the test's own)
            break
        if not line:
            break
        if state["final"] and not line.startswith(b"250-") and line[:1] in b"2345":
            state["final"] = False
            with lock:
                replies += 1
                n = replies
            if n in kill_at and line.startswith(b"250"):
                with open(pidfile) as p:
                    pid = int(p.read().split()[0])
                os.kill(pid, signal.SIGKILL)
                print(f"killed relay {pid} after the store's 250 to message {n}: "
                      f"{line.decode(errors='replace').strip()}", flush=True)
                break
        try:
            client.sendall(line)
        except OSError:
            break
    for s in (client, store):
        try:
            s.close()
        except OSError:
            pass


def serve(client, store_port, pidfile, kill_at):
    try:
        store = socket.create_connection(("127.0.0.1", store_port))
    except OSError:
        client.close()                     # the store is down: the relay sees it closed
        return
    state = {"data": False, "final": False}
    threading.Thread(target=pump_up, args=(client, store, state), daemon=True).start()
    pump_down(client, store, state, pidfile, kill_at)


def main():
    listen, store_port, pidfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    kill_at = {int(n) for n in sys.argv[4].split(",") if n}
    srv = socket.create_server(("127.0.0.1", listen))
    while True:
        client, _ = srv.accept()
        threading.Thread(target=serve, args=(client, store_port, pidfile, kill_at),
                         daemon=True).start()


if __name__ == "__main__":
    main()
