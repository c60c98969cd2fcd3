#!/usr/bin/env python3
"""Every console command's error path: a wrong or missing token is named in the error, the
script stops there with exit status 1, and nothing was committed.

usage: test_console_errors.py GATEWAY
"""
import os
import subprocess
import sys
import tempfile

# (line, what the error must name)
CASES = [
    ("set system hostnam gw", "'hostnam'"),
    ("set system hostname", "end of line"),
    ("set net adress dhcp", "'adress'"),
    ("set net address 192.0.2.300/24 gateway 192.0.2.1", "'192.0.2.300/24'"),
    ("set net address 192.0.2.3/24 gw 192.0.2.1", "'gw'"),
    ("set net dns 1.2.3", "'1.2.3'"),
    ("set net ntp", "end of line"),
    ("host add mail", "end of line"),
    ("host add mail 999.1.1.1", "'999.1.1.1'"),
    ("host del nosuch", "nosuch"),
    ("host move x", "'move'"),
    ("set tunnel relay relay.example", "'relay.example'"),
    ("set tunnel relay relay.example:99999", "'relay.example:99999'"),
    ("set tunnel locaton loc1", "'locaton'"),
    ("trust del zz", "'zz'"),
    ("trust frobnicate", "'frobnicate'"),
    ("mapping add mail.example:143 mail:143 udp", "'udp'"),
    ("mapping add mail.example mail:143 tcp", "'mail.example'"),
    ("mapping add mail.example:143 mail:143 tcp sni x", "'sni'"),
    ("mapping del nosuch.example:1", "nosuch.example:1"),
    ("mapping check", "mapping check"),
    ("set imap server mail.example", "'mail.example'"),
    ("set imap security maybe", "'maybe'"),
    ("set imap after archive", "'archive'"),
    ("set imap after move", "end of line"),
    ("set imap poll soon", "'soon'"),
    ("set imap enabled perhaps", "'perhaps'"),
    ("set imap colour blue", "'colour'"),
    ("set imap user", "end of line"),
    ("set imap folder", "end of line"),
    ("show nothing", "show nothing"),
    ("show config everything", "everything"),
    ("help nonsense", "nonsense"),
    ("frobnicate now", "'frobnicate'"),
    ("tunnel cert export", "'export'"),
    ("tls probe mail.example:993", "tls probe"),
    ("commit now", "'now'"),
    # a word with control bytes is named escaped: the terminal never gets them raw
    ("frob\x1b[2J\x07now", "'frob\\x1b[2J\\x07now'"),
    ("set imap user \x1b]0;pwned\x07x y", "'y'"),
]


def main():
    gw = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="gw-errors-")
    flash = os.path.join(tmp, "flash.img")
    script = os.path.join(tmp, "script.txt")
    passed = failed = 0
    for line, named in CASES:
        # A committed setting before, the bad line, then a change that must not be reached.
        with open(script, "w") as f:
            f.write(f"set system hostname before\ncommit\n{line}\nset system hostname after\ncommit\n")
        r = subprocess.run([gw, "--flash", flash, "--batch", script], capture_output=True,
                           text=True, timeout=30)
        out = r.stdout + r.stderr
        err_lines = [l for l in out.splitlines() if "error:" in l and "batch:" not in l]
        ok = (r.returncode == 1 and err_lines and named in err_lines[0]
              and "stopped at line 3" in out
              and not any(ord(c) < 0x20 and c != "\n" for c in out))
        with open(script, "w") as f:
            f.write("show config\n")
        shown = subprocess.run([gw, "--flash", flash, "--batch", script], capture_output=True,
                               text=True, timeout=30).stdout
        ok = ok and "set system hostname before" in shown
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {line!r}: exit {r.returncode}, wanted {named!r} named in: "
                  f"{err_lines[:1]}")
    subprocess.run(["rm", "-rf", tmp])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
