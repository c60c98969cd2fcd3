#!/usr/bin/env python3
"""make run (tools/run-local.sh) on a pseudo-terminal, as the person at it sees it.

  root  the script as root: it makes a network namespace of its own, the gateway on TAP
  user  the script without root, through passt: this test makes a network namespace for it
        (only lo in it, so nothing touches the machine's network, and passt must do without
        a default route) and runs it as nobody (setpriv), with a HOME and TMPDIR of its
        own, from a copy of the files it needs that nobody can read
  store make run STORE=dovecot as root: the relay hands the mails to a second Dovecot over
        LMTP (tools/store's configuration), and curl, the cloud side, reads them there over
        IMAPS; the relay's own disk holds nothing

Each: the story (tunnel up, 5 mails in the relay's spool, the after-action on Dovecot, curl
through the relay's SOCKS5), the gateway's console prompt, `show tunnel` answered with the
relay up; every process the script started is in its session (user: nothing listens beyond
127.0.0.1); Ctrl-D: exit status 0 within 30 s, none of them left, the temp dir gone.

usage: test_run_local.py root|user|store REPO GATEWAY RELAY
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_console_pty import Console, check  # noqa: E402  (the pty reader, shared)

NOBODY = 65534
# What run-local.sh needs, relative to the repository.
FILES = ["tools/run-local.sh", "tools/run-local-netns.sh", "tools/run-local-passt.sh",
         "tests/integration/lib.sh", "tests/integration/dovecot.sh",
         "tests/integration/imap_e2e.sh", "tests/unit/make_pki.sh",
         "tools/store/90-relay-store.conf", "tools/store/relay-dedup.sieve"]


class Script(Console):
    """run-local.sh on the pty, in a session of its own (its processes are found by the
    session id). The pty is not its controlling terminal: a session leader's exit would hang
    up whatever it left behind, which a shell's child never gets."""

    def __init__(self, argv, env):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     close_fds=True, env=env, start_new_session=True)
        os.close(slave)
        self.seen = ""


def session(sid):
    """The processes of session SID: pid -> (name, command line)."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[3]) == sid:
            out[int(pid)] = (stat[stat.index("(") + 1:stat.rindex(")")], cmd)
    return out


def mentioning(path):
    """Processes anywhere whose command line names PATH."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if path in cmd:
            out[int(pid)] = cmd.strip()
    return out


def user_tree(repo, gw, relay, tmp):
    """A copy nobody can read: the scripts at their places, the two binaries."""
    tree = os.path.join(tmp, "tree")
    for rel in FILES:
        os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
        shutil.copy(os.path.join(repo, rel), os.path.join(tree, rel))
    for b in (gw, relay):
        shutil.copy(b, tree)
    home = os.path.join(tmp, "home")
    os.makedirs(os.path.join(home, "tmp"))
    for d in (home, os.path.join(home, "tmp")):
        os.chown(d, NOBODY, NOBODY)
        os.chmod(d, 0o700)
    os.chmod(tmp, 0o755)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": home,
           "TMPDIR": os.path.join(home, "tmp"), "TERM": "xterm", "LANG": "C.UTF-8"}
    argv = ["unshare", "--net", "--", "sh", "-c",
            'ip link set lo up && exec setpriv --reuid=%d --regid=%d --clear-groups "$@"'
            % (NOBODY, NOBODY), "sh", "bash", os.path.join(tree, "tools/run-local.sh"),
            os.path.join(tree, os.path.basename(gw)), os.path.join(tree, os.path.basename(relay))]
    return argv, env, home


def main():
    mode, repo, gw, relay = sys.argv[1:5]
    check(os.getuid() == 0, "running as root (namespaces; the user mode drops to nobody)")
    os.umask(0o022)                         # the copy must be readable by nobody
    tmp = tempfile.mkdtemp(prefix="gw-test_run_local.")
    t0 = time.monotonic()
    s = ttmp = None
    try:
        if mode in ("root", "store"):
            env = dict(os.environ, TERM="xterm", STORE="dovecot" if mode == "store" else "")
            argv = ["bash", os.path.join(repo, "tools/run-local.sh"), gw, relay]
        else:
            argv, env, home = user_tree(repo, gw, relay, tmp)
        s = Script(argv, env)
        sid = s.proc.pid

        story = s.read_until(r"Ctrl-D on an empty line stops everything\.", 120)
        # the pty ends lines in CRLF; any other CR (a mail header's) would overwrite the line
        story = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", story).replace("\r\n", "\n")
        print(story.replace("\r", "\\r"))
        check("\r" not in story, "no stray carriage return on the screen")
        mails = re.findall(r"^    Subject: .*  \d+ bytes$", story, re.M)
        check(len(mails) == 5, f"each delivered mail on a line of its own: {mails}")
        check(re.search(r"make run: tunnel: relay relay\.example\.test:\d+ up", story),
              "the tunnel came up")
        if mode == "store":
            check("make run: the IMAP receiver delivered 5 mails through the relay into the "
                  "mail store (the relay's own disk holds 0 files)" in story,
                  "5 mails in the mail store, none on the relay's disk")
            check("make run: the cloud side: curl reads loc1@relay.example's mailbox over IMAPS"
                  in story, "the cloud side reads the store over IMAPS")
            check(re.search(r"each behind the relay's one header: X-Relay-Delivery: loc1/[0-9a-f]+",
                            story), "the mails as stored: behind the relay's trace header")
        else:
            check("make run: the IMAP receiver delivered 5 mails into the relay's spool" in story,
                  "5 mails in the relay's spool")
        check("after-action on Dovecot: INBOX 0, Archive 5" in story,
              "after-action: all 5 moved to Archive")
        check("Dovecot's chain checked by curl end to end" in story and "curl failed" not in story,
              "curl fetched a message through the relay's SOCKS5 and the tunnel")
        spool = re.search(r"(?:Spool|Store): (\S+)/(?:spool|store) \(removed at the end\)", story)
        check(spool, "the script named its temp dir")
        ttmp = spool.group(1)
        if mode == "user":
            check(ttmp.startswith(env["TMPDIR"] + "/"), f"the temp dir {ttmp} is in TMPDIR")
            check("through passt" in story, "the passt mode (not root)")
        else:
            check("private network namespace" in story, "the namespace mode (root)")

        # The gateway again, its console here: the tunnel comes back, show tunnel says so.
        s.read_until(r"tunnel: relay relay\.example\.test:\d+ up", 30)
        s.read_until(r"gw-imap> ", 10)
        s.type("show tunnel\r")
        # Up to the answer's last line: a log line (the receiver's login) may arrive while
        # the command is typed, and the line editor redraws the prompt after it.
        out = s.read_until(r"streams: .*\n", 10)
        print(out)
        check(re.search(r"relay 1: +relay\.example\.test:\d+ +up", out), "show tunnel: relay 1 up")

        procs = session(sid)
        names = [name for name, _ in procs.values()]
        want = ["dovecot", "relay", "gateway"] + (["passt"] if mode == "user" else [])
        if mode == "store":                 # the mail server and the store
            check(sum(n == "dovecot" for n in names) == 2, f"two Dovecots run: {names}")
        for w in want:                      # passt runs as passt.avx2 where it can
            check(any(n == w or n.startswith(w + ".") for n in names),
                  f"{w} runs in the script's session")
        if mode == "user":
            owners = {os.stat(f"/proc/{p}").st_uid for p in procs if os.path.exists(f"/proc/{p}")}
            check(owners == {NOBODY}, f"everything it started runs as nobody ({owners})")
            ss = subprocess.run(["nsenter", f"--net=/proc/{sid}/ns/net", "ss", "-Htln"],
                                capture_output=True, text=True, check=True).stdout
            local = [line.split()[3] for line in ss.splitlines()]
            check(local and all(a.startswith("127.0.0.1:") for a in local),
                  f"everything listens on 127.0.0.1 only: {' '.join(local)}")

        s.type("\x04")
        s.read_until(r"make run: stopped; cleaning up", 15)
        rc = s.proc.wait(timeout=30)
        check(rc == 0, f"exit status {rc} after Ctrl-D")
        deadline = time.monotonic() + 5     # processes reaped by init may linger a moment
        while (session(sid) or mentioning(ttmp)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {**session(sid), **mentioning(ttmp)}
        check(not left, f"nothing it started is left running {left}")
        check(not os.path.exists(ttmp), f"its temp dir {ttmp} is gone")
        if mode == "user":
            check(os.listdir(env["TMPDIR"]) == [], "nothing left in TMPDIR")
        print(f"ok   {mode} mode in {time.monotonic() - t0:.0f} s")
    except AssertionError:
        if s is not None:                   # the screen: the script's own FAIL and log tails
            print(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", s.seen[-4000:]))
        for log in sorted(glob.glob(os.path.join(ttmp or tmp, "*.log"))):
            with open(log, errors="replace") as f:
                print(f"--- {log}\n" + "".join(f.readlines()[-30:]))
        raise
    finally:
        if s is not None:
            stop(s)
        shutil.rmtree(tmp, ignore_errors=True)


def stop(s):
    """After a failure: SIGTERM (the script's trap cleans up), then SIGKILL what is left."""
    sid = s.proc.pid
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        for pid in session(sid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while session(sid) and time.monotonic() < deadline:
            s.proc.poll()
            time.sleep(0.1)
    s.close()


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL {e}")
        sys.exit(1)
