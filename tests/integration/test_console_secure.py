#!/usr/bin/env python3
"""The console against someone who should not get in, and secrets that must not show.

Each scenario is a gateway of its own on a pseudo-terminal, with a flash of its own:

- a pasted burst of guesses gets one attempt per login delay, not one per line;
- a secret typed on one line is echoed as '*', kept out of the Up-arrow history, and never
  quoted in an error;
- a quoted multi-word console password set on one line logs in with the words typed at
  the prompt (after a reboot);
- `logout` and `exit` return to the password prompt, and an idle console (`set system
  console-timeout 1`) does so by itself after a minute (this one runs beside the others);
- `compare` and `show config candidate` show the candidate before `commit` (secrets
  masked), and `commit` of an unchanged candidate says so and writes nothing to flash.

usage: test_console_secure.py GATEWAY
"""
import hashlib
import os
import select
import subprocess
import sys
import tempfile
import time

from test_console_pty import Console

UP, CTRL_C, CTRL_U = "\x1b[A", "\x03", "\x15"
PW = "Op3rator!"
results = {"passed": 0, "failed": 0}


def check(cond, what):
    if cond:
        results["passed"] += 1
        print(f"ok   {what}")
    else:
        results["failed"] += 1
        print(f"FAIL {what}")
    return cond


def drain(con, seconds):
    """Everything the console prints during the next `seconds` (nothing is matched)."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([con.master], [], [], left)
        if r:
            try:
                data = os.read(con.master, 65536)
            except OSError:
                break
            con.seen += data.decode("utf-8", "replace")
    out, con.seen = con.seen, ""
    return out


def batch(gw, flash, text):
    """Provision a flash through a --batch script; the script must succeed."""
    script = flash + ".txt"
    with open(script, "w") as f:
        f.write(text)
    r = subprocess.run([gw, "--flash", flash, "--batch", script], capture_output=True,
                       text=True, timeout=30)
    os.unlink(script)
    if r.returncode != 0:
        raise AssertionError(f"provisioning failed: {r.stdout}{r.stderr}")


def image_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def burst_buys_one_attempt(gw, tmp):
    flash = os.path.join(tmp, "burst.img")
    batch(gw, flash, f"set system console-password {PW}\ncommit\n")
    con = Console([gw, "--flash", flash])
    try:
        con.read_until(r"Password: ")
        t0 = time.monotonic()
        con.paste(f"guess1\nguess2\nguess3\n{PW}\nshow version\n")
        con.read_until(r"wrong password \(1 in a row\)")
        out = con.read_until(r"Password: ", 10)
        waited = time.monotonic() - t0
        out += drain(con, 0.3)
        check("in a row" not in out and waited >= 1.5,
              f"a pasted burst: one attempt, then the delay ({waited:.1f} s), the rest dropped")
        check("gateway> " not in out and " on linux" not in out,
              "the right password inside the burst did not open the console, nor ran the command")
        con.type(PW + "\r")
        con.read_until(r"gateway> ")
        check(True, "after the delay the password typed alone opens the console")
    finally:
        con.close()


def secrets_on_one_line_stay_hidden(gw, tmp):
    flash = os.path.join(tmp, "oneline.img")
    con = Console([gw, "--flash", flash])
    try:
        con.read_until(r"gateway> ")
        con.type("set imap password Hunter2xyz\r")
        out = con.read_until(r"gateway\*> ")
        check("Hunter2xyz" not in out and "set imap password **********" in out,
              "set imap password SECRET: the secret is echoed as '*'")
        con.type(UP)
        out = drain(con, 0.5)
        check("set imap password" in out and "Hunter2xyz" not in out and "*" not in
              out.split("set imap password", 1)[1],
              "Up recalls set imap password without its secret")
        con.type(CTRL_C)
        con.read_until(r"gateway\*> ")
        con.type(f"set system console-password {PW}\r")
        out = con.read_until(r"gateway\*> ")
        check(PW not in out, "set system console-password SECRET: not echoed")
        con.type(UP)
        out = drain(con, 0.5)
        check(PW not in out, "Up does not recall the console password")
        con.type(CTRL_C)
        con.read_until(r"gateway\*> ")
        con.type("set imap password secretword1 secretword2\r")
        out = con.read_until(r"gateway\*> ")
        check("error:" in out and "secretword" not in out,
              "an unquoted two-word IMAP password: the error quotes neither word")
        con.type("set system console-password secretword1 secretword2\r")
        out = con.read_until(r"gateway\*> ")
        check("error:" in out and "secretword" not in out,
              "an unquoted two-word console password: the error quotes neither word")
        con.type("help set imap password secretword1 secretword2\r")
        out = con.read_until(r"gateway\*> ")
        check("error:" in out and "secretword" not in out,
              "help with a secret: neither echoed nor quoted in the error")
    finally:
        con.close()


def quoted_password_logs_in(gw, tmp):
    flash = os.path.join(tmp, "quoted.img")
    con = Console([gw, "--flash", flash])
    try:
        con.read_until(r"gateway> ")
        con.type('set system console-password "Quoted Pw 7"\r')
        con.read_until(r"gateway\*> ")
        con.type("commit\r")
        con.read_until(r"gateway> ")
        con.type("reboot\r")
        con.read_until(r"Password: ", 15)
        con.type("Quoted Pw 7\r")
        out = con.read_until(r"(gateway> |wrong password)", 10)
        check(out.endswith("gateway> "),
              "a quoted password set on one line logs in with its words typed at the prompt")
        if not out.endswith("gateway> "):
            return
        # The IMAP password: one line, quoted, and the prompt store the same bytes.
        con.type('set imap password "Two Words"\r')
        con.read_until(r"gateway\*> ")
        con.type("commit\r")
        con.read_until(r"gateway> ")
        con.type("show config secrets\r")
        one_line = con.read_until(r"gateway> ")
        con.type("set imap password\r")
        con.read_until(r"IMAP password: ")
        con.type("Two Words\r")
        out = con.read_until(r"gateway[*]?> ")
        check(out.endswith("gateway> "), "the same IMAP password at the prompt changes nothing")
        con.type("show config secrets\r")
        prompted = con.read_until(r"gateway> ")
        check('set imap password "Two Words"' in one_line and
              'set imap password "Two Words"' in prompted,
              "the IMAP password quoted on one line is the words typed at the prompt")
    finally:
        con.close()


def logout_and_exit(gw, tmp):
    flash = os.path.join(tmp, "logout.img")
    con = Console([gw, "--flash", flash])
    try:
        con.read_until(r"gateway> ")
        con.type("logout\r")
        out = con.read_until(r"gateway> ")
        check("no console password is set" in out, "logout without a password says so")
    finally:
        con.close()
    batch(gw, flash, f"set system console-password {PW}\ncommit\n")
    con = Console([gw, "--flash", flash])
    try:
        con.read_until(r"Password: ")
        con.type(PW + "\r")
        con.read_until(r"gateway> ")
        for word in ("logout", "exit"):
            con.type(word + "\r")
            out = con.read_until(r"(Password: |gateway> )")
            check(out.endswith("Password: "), f"{word} returns to the password prompt")
            if not out.endswith("Password: "):
                return
            con.type(PW + "\r")
            con.read_until(r"gateway> ")
        con.type(UP)
        out = drain(con, 0.5)
        check("exit" not in out, "a new login starts with an empty history")
    finally:
        con.close()


def start_idle(gw, tmp):
    """An idle console with a 1-minute timeout: logged in now, checked at the end."""
    flash = os.path.join(tmp, "idle.img")
    batch(gw, flash, f"set system console-password {PW}\nset system console-timeout 1\n"
                     "commit\n")
    con = Console([gw, "--flash", flash])
    con.read_until(r"Password: ")
    con.type(PW + "\r")
    con.read_until(r"gateway> ")
    return con, time.monotonic()


def finish_idle(con, since):
    try:
        out = con.read_until(r"Password: ", 90)
        idle = time.monotonic() - since
        check("idle" in out and 59 <= idle <= 75,
              f"an idle console logs out by itself after its timeout ({idle:.0f} s)")
    finally:
        con.close()


def compare_before_commit(gw, tmp):
    flash = os.path.join(tmp, "compare.img")
    con = Console([gw, "--flash", flash])
    try:
        con.read_until(r"gateway> ")
        before = image_hash(flash)
        con.type("commit\r")
        out = con.read_until(r"gateway> ")
        check("nothing to commit" in out and image_hash(flash) == before,
              "commit of an unchanged candidate: 'nothing to commit', flash untouched")
        con.type("set system hostname gw-cmp\r")
        con.type("host add mail 192.0.2.10\r")
        con.type("set imap password Secr3tZq\r")
        con.read_until(r"password \*+\r*\n[^\n]*gateway\*> ")
        con.type("compare\r")
        out = con.read_until(r"gateway\*> ")
        check("+ set system hostname gw-cmp" in out and "+ host add mail 192.0.2.10" in out and
              "+ set imap password ********" in out and "Secr3tZq" not in out,
              "compare: added lines with +, the secret masked")
        con.type("show config candidate\r")
        cand = con.read_until(r"gateway\*> ")
        con.type("show config\r")
        running = con.read_until(r"gateway\*> ")
        check("set system hostname gw-cmp" in cand and "Secr3tZq" not in cand and
              "gw-cmp" not in running, "show config candidate: the candidate, not the running")
        con.type("commit\r")
        con.read_until(r"gw-cmp> ")
        con.type("host del mail\r")
        con.type("set system hostname gw-two\r")
        con.read_until(r"gw-two\r*\n[^\n]*gw-cmp\*> ")
        con.type("compare\r")
        out = con.read_until(r"gw-cmp\*> ")
        check("- host add mail 192.0.2.10" in out and "- set system hostname gw-cmp" in out and
              "+ set system hostname gw-two" in out, "compare: removed lines with -")
        con.type("discard\r")
        con.read_until(r"gw-cmp> ")
        before = image_hash(flash)
        con.type("commit\r")
        out = con.read_until(r"gw-cmp> ")
        check("nothing to commit" in out and image_hash(flash) == before,
              "after discard: nothing to commit, flash untouched")
    finally:
        con.close()


def main():
    gw = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="gw-secure-")
    try:
        idle = None
        try:
            idle = start_idle(gw, tmp)
        except AssertionError as e:
            check(False, f"idle logout: set-up: {e}")
        for scenario in (burst_buys_one_attempt, secrets_on_one_line_stay_hidden,
                         quoted_password_logs_in, logout_and_exit, compare_before_commit):
            try:
                scenario(gw, tmp)
            except AssertionError as e:
                check(False, f"{scenario.__name__}: {e}")
        if idle is not None:
            try:
                finish_idle(*idle)
            except AssertionError as e:
                check(False, f"idle logout: {e}")
    finally:
        subprocess.run(["rm", "-rf", tmp])
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
