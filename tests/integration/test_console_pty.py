#!/usr/bin/env python3
"""The operator at the serial console, on a real pseudo-terminal.

Configures a gateway by typing (arrows, Tab, Ctrl-U, Backspace, history), answers the IMAP
password prompt (no echo), pastes a PEM certificate made by openssl, commits, reboots, and
finds everything back; sets a console password, reboots, is refused with a wrong one (and
made to wait), gets in with the right one; Ctrl-D stops the box.

usage: test_console_pty.py GATEWAY
"""
import os
import re
import select
import subprocess
import sys
import tempfile
import time

UP, LEFT, RIGHT = "\x1b[A", "\x1b[D", "\x1b[C"
CTRL_A, CTRL_D, CTRL_E, CTRL_U, CTRL_W, TAB, BS = "\x01", "\x04", "\x05", "\x15", "\x17", "\t", "\x7f"


class Console:
    def __init__(self, argv):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     close_fds=True)
        os.close(slave)
        self.seen = ""

    def read_until(self, pattern, timeout=10.0):
        """Wait for a regex in the output since the last match; return the text before it."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.seen)
            if m:
                before = self.seen[:m.end()]
                self.seen = self.seen[m.end():]
                return before
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timeout waiting for {pattern!r}; screen tail:\n"
                                     f"{self.seen[-800:]}")
            r, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                if not data:
                    if self.proc.poll() is not None:
                        raise AssertionError(f"gateway exited waiting for {pattern!r}")
                    continue
                self.seen += data.decode("utf-8", "replace")

    def type(self, keys):
        for k in keys:                      # a person types one key at a time
            os.write(self.master, k.encode())
            time.sleep(0.002)

    def paste(self, text):
        os.write(self.master, text.replace("\n", "\r").encode())

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok   {what}")


def main():
    gw = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="gw-console-")
    flash = os.path.join(tmp, "flash.img")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
                    "/CN=Lab Root CA", "-keyout", os.path.join(tmp, "k.pem"), "-out",
                    os.path.join(tmp, "root.pem")], check=True, capture_output=True)
    pem = open(os.path.join(tmp, "root.pem")).read()
    con = Console([gw, "--flash", flash])
    passed = 0
    try:
        con.read_until(r"gateway> ")
        # A typo is named in the error.
        con.type("set system hostnme gw-pty\r")
        out = con.read_until(r"gateway> ")
        check("'hostnme': expected hostname" in out, "a wrong keyword is named in the error")
        # Ctrl-U drops a line; Tab completes keywords.
        con.type("garbage" + CTRL_U + "set sys" + TAB + "hostname gw-pty\r")
        con.read_until(r"gateway\*> ")
        check(True, "Ctrl-U and Tab: the candidate changed (prompt shows *)")
        # Edit in the middle with arrows and Backspace: 'tcx' becomes 'tcp'.
        con.type("host add mail 192.0.2.10\r")
        con.read_until(r"gateway\*> ")
        con.type("mapping add mail.example.test:143 mail:143 tcx" + BS + "p\r")
        con.read_until(r"gateway\*> ")
        con.type("mapping add mail.example.test:993 mail:93 tls" + LEFT * 5 + "9" + CTRL_E + "\r")
        con.read_until(r"gateway\*> ")
        # The IMAP password is asked for without echo.
        con.type("set imap password\r")
        con.read_until(r"IMAP password: ")
        con.type("Very$ecret42\r")
        out = con.read_until(r"gateway\*> ")
        check("Very$ecret42" not in out, "the IMAP password is not echoed")
        # A PEM paste: the console shows what it read.
        con.type("trust import\r")
        con.read_until(r"pem> ")
        con.paste(pem + "\n")
        out = con.read_until(r"gateway\*> ", 15)
        check("CN=Lab Root CA" in out and "sha256" in out, "a pasted certificate is summarised")
        # History: Up recalls the last command.
        con.type("show version\r")
        con.read_until(r"gateway\*> ")
        con.type(UP + "\r")
        con.read_until(r"show version")           # the recalled line, redrawn
        con.read_until(r"on linux[^\n]*\n")       # and run
        con.read_until(r"gateway\*> ")
        check(True, "Up arrow recalls the last command")
        con.type("commit\r")
        out = con.read_until(r"gw-pty> ")
        check("committed" in out, "commit writes the candidate and the prompt takes the name")
        # Reboot: the configuration is read back from flash.
        con.type("reboot\r")
        con.read_until(r"\(lwIP [0-9.]+\)", 15)   # the banner of the new boot
        con.read_until(r"gw-pty> ", 15)
        con.type("show config\r")
        out = con.read_until(r"gw-pty> ")
        check("set system hostname gw-pty" in out, "after reboot: hostname kept")
        check("mapping add mail.example.test:143 mail:143 tcp" in out and
              "mapping add mail.example.test:993 mail:993 tls" in out, "after reboot: mappings kept")
        check("set imap password ********" in out and "Very$ecret42" not in out,
              "show config masks the password")
        con.type("show config secrets\r")
        out = con.read_until(r"gw-pty> ")
        check("Very$ecret42" in out, "show config secrets exports it for a backup")
        con.type("show trust\r")
        out = con.read_until(r"gw-pty> ")
        check("CN=Lab Root CA" in out, "after reboot: trust store kept")
        # Console password: asked twice, then required after reboot.
        con.type("set system console-password\r")
        con.read_until(r"New console password: ")
        con.type("Op3rator!\r")
        con.read_until(r"Again: ")
        con.type("Op3rator!\r")
        con.read_until(r"gw-pty\*> ")
        con.type("commit\r")
        con.read_until(r"gw-pty> ")
        con.type("reboot\r")
        con.read_until(r"Password: ", 15)
        t0 = time.monotonic()
        con.type("wrong\r")
        con.read_until(r"wrong password")
        con.type("typed-while-waiting\r")   # dropped during the delay
        con.read_until(r"Password: ", 10)
        waited = time.monotonic() - t0
        check(waited >= 1.5, f"a wrong password costs a delay ({waited:.1f} s)")
        con.type("Op3rator!\r")
        con.read_until(r"gw-pty> ")
        check(True, "the right password opens the console")
        con.type("show config\r")
        out = con.read_until(r"gw-pty> ")
        check("Op3rator" not in out, "the console password never appears")
        con.type(CTRL_D)
        con.proc.wait(timeout=10)
        check(con.proc.returncode == 0, "Ctrl-D stops the gateway cleanly")
        passed = 1
    finally:
        con.close()
        subprocess.run(["rm", "-rf", tmp])
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL {e}")
        sys.exit(1)
