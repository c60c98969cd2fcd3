"""Drive a QEMU guest's serial console through a pipe, the way an operator types at it.

Serial(cmd, log_path) starts cmd (tools/image/qemu.sh with GW_QEMU_SERIAL=stdio, which execs
QEMU, so the child's pid is QEMU's), collects everything the guest prints in a background
thread (raw into log_path, each line stamped with seconds since start), and offers
expect(regex, timeout) on the text as a terminal shows it: CR dropped, ANSI escape
sequences (the console's line redraw) removed. Every wait is bounded.
"""
import bisect
import ctypes
import os
import re
import signal
import subprocess
import threading
import time

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class Timeout(Exception):
    pass


def _die_with_parent():
    """In the child before exec: SIGKILL when this test process dies, however it dies, so a
    killed test leaves no QEMU behind (the flag survives the exec of qemu.sh and QEMU)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG


class Serial:
    def __init__(self, cmd, log_path, env=None):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, bufsize=0,
                                     preexec_fn=_die_with_parent)
        self.log = open(log_path, "ab", buffering=0)
        self.log.write(b"=== %s\n" % " ".join(cmd).encode())
        self.cond = threading.Condition()
        self.text = ""       # everything so far, cleaned
        self.stamps = []     # (length of text, seconds since start) after each chunk
        self.raw_pending = b""
        self.eof = False
        self.mark = 0        # expect() searches from here
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def elapsed(self):
        return time.monotonic() - self.t0

    def _read(self):
        line_start = True
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            stamped = bytearray()
            for i, piece in enumerate(chunk.split(b"\n")):
                if i > 0:
                    stamped += b"\n"
                    line_start = True
                if piece:
                    if line_start:
                        stamped += b"[+%7.3f] " % self.elapsed()
                        line_start = False
                    stamped += piece
            self.log.write(bytes(stamped))
            with self.cond:
                data = self.raw_pending + chunk
                # Keep an unfinished escape sequence for the next chunk.
                cut = data.rfind(b"\x1b")
                if cut != -1 and not ANSI.match(data, cut) and len(data) - cut < 16:
                    self.raw_pending, data = data[cut:], data[:cut]
                else:
                    self.raw_pending = b""
                clean = ANSI.sub(b"", data).replace(b"\r", b"")
                self.text += clean.decode("utf-8", "replace")
                self.stamps.append((len(self.text), self.elapsed()))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def expect(self, pattern, timeout, what=None):
        """Wait until pattern matches the text after the mark; move the mark past the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = rx.search(self.text, self.mark)
                if m:
                    self.mark = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    why = "console closed (QEMU exited)" if self.eof else f"{timeout:.0f} s passed"
                    tail = self.text[max(self.mark, len(self.text) - 600):]
                    raise Timeout(f"waiting for {what or pattern!r}: {why}; console shows:\n{tail}")
                self.cond.wait(min(left, 0.5))

    def time_at(self, pos):
        """Seconds since start when the text up to pos had arrived (a match's end: when the
        guest printed it, not when somebody looked)."""
        with self.cond:
            i = bisect.bisect_left(self.stamps, (pos, -1.0))
            return self.stamps[min(i, len(self.stamps) - 1)][1] if self.stamps else 0.0

    def seen(self, pattern):
        """Search everything printed so far (independent of the mark)."""
        with self.cond:
            return re.search(pattern, self.text)

    def wait_seen(self, pattern, timeout, what=None):
        """Wait until pattern appears anywhere in the output (log lines come any time)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = rx.search(self.text)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    why = "console closed (QEMU exited)" if self.eof else f"{timeout:.0f} s passed"
                    raise Timeout(f"waiting for {what or pattern!r}: {why}; console shows:\n"
                                  f"{self.text[-600:]}")
                self.cond.wait(min(left, 0.5))

    def type(self, text, delay=0.002):
        """Type text key by key (Enter is CR, as a terminal sends it)."""
        for ch in text.encode():
            self.proc.stdin.write(bytes([ch]))
            self.proc.stdin.flush()
            time.sleep(delay)

    def command(self, line, prompt_re, timeout):
        """Type a command line and return what it printed up to the next prompt (a regex)."""
        with self.cond:
            self.mark = len(self.text)
        self.type(line + "\r")
        self.expect(re.escape(line) + r"\n", timeout, what=f"the echo of '{line}'")
        start = self.mark
        m = self.expect(prompt_re, timeout, what=f"the prompt after '{line}'")
        return self.text[start:m.start()]

    def power_cut(self):
        """Pull the plug: SIGKILL to QEMU, nothing gets flushed or shut down."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Timeout(f"QEMU still running after {timeout} s")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.reader.join(5)
        self.log.close()
