#!/usr/bin/env python3
"""Whole-system boot test (issue 8): the gateway image under QEMU, driven over its serial line.

Run by test_qemu_boot.sh inside a network namespace it made, with passt listening there.

  boot_test.py --arch ARCH --image DIR --flash FILE --sock PASST_SOCKET --qemu QEMU_SH
               --echo-port PORT [--echo-bytes N] [--flashtool PATH] --log FILE

Boot 1: QEMU start to /init, to the console prompt, to the DHCP lease from passt; `show
version` and `show status` typed at the prompt; the echo service byte-exact through passt's
port forward; configuration A typed and committed. Power cut (SIGKILL to QEMU). Boot 2 from
the same flash disk: A is back, network and echo again; configuration B typed, and the plug
is pulled as soon as the box has the Enter of `commit`. Boot 3: the configuration is A or B,
never a mix; Ctrl-D at the prompt stops the gateway and the box powers off. flashtool verify
checks the flash image after each boot, and flashtool export must agree with the box.
Prints the boot figures. Each step is a function, so the configuration, tunnel, IMAP and
power-cut-during-commit steps of issue 8 slot in once the firmware has them.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu_console import Serial, Timeout  # noqa: E402

FACTORY_HOST = "gateway"     # the prompt is HOSTNAME> , HOSTNAME*> with uncommitted changes
# Configuration typed at the console: committed before the first power cut (A), then B is
# being committed when the power is cut. After the cut the box runs A or B, never a mix.
CONFIG_A = ["set system hostname qbox-a", "host add relay.example 192.0.2.254"]
CONFIG_B = ["set system hostname qbox-b", "host del relay.example",
            "host add mail.example 192.0.2.25", "host add imap.example 192.0.2.143"]
SHOWN_A = ["set system hostname qbox-a", "host add relay.example 192.0.2.254"]
SHOWN_B = ["set system hostname qbox-b", "host add mail.example 192.0.2.25",
           "host add imap.example 192.0.2.143"]
HERE = os.path.dirname(os.path.abspath(__file__))
ECHO_CHECK = os.path.join(HERE, "..", "integration", "echo_check.py")

# Bounds. TCG on 2 cores: the aarch64 kernel reaches /init in about 5 s, x86_64 in about 9.
T_BOOT = 120        # QEMU start to prompt
T_DHCP = 60         # prompt to DHCP lease
T_CMD = 20          # a console command to its output and the next prompt
T_ECHO = 120        # the echo transfer
T_OFF = 30          # Ctrl-D to QEMU exited


class Fail(Exception):
    pass


def log(msg):
    print(f"qemu-boot: {msg}", flush=True)


class Box:
    """One boot of the image: QEMU with the serial console on a pipe."""

    def __init__(self, args, name):
        self.args = args
        self.name = name
        env = dict(os.environ, GW_QEMU_SERIAL="stdio", GW_QEMU_ACCEL="tcg")
        cmd = ["bash", args.qemu, args.arch, args.image, args.flash, args.sock]
        self.con = Serial(cmd, args.log, env=env)
        self.figures = {}
        self.host = None

    @staticmethod
    def prompt_re(host):
        return re.escape(host) + r"\*?> "

    def boot(self, hosts):
        """Boot to the console prompt; hosts: the hostnames the flash may legitimately hold."""
        c = self.con
        m = c.expect(r"init: (\S+) up in ([0-9.]+) s; starting gateway (.*)\n", T_BOOT,
                     what="/init starting the gateway")
        self.figures["init"] = c.elapsed()
        self.figures["guest_uptime"] = float(m.group(2))
        self.kernel, gw_args = m.group(1), m.group(3)
        want_con = {"x86_64": "/dev/ttyS0", "aarch64": "/dev/ttyAMA0"}[self.args.arch]
        if f"--console {want_con}" not in gw_args or "--net packet:eth0" not in gw_args:
            raise Fail(f"/init started the gateway with unexpected arguments: {gw_args}")
        self.gw_args = gw_args
        c.expect(r"gateway (\S+) on linux-" + re.escape(self.args.arch), T_BOOT,
                 what="the gateway's banner")
        m = c.expect(r"([A-Za-z0-9._-]+)> ", T_BOOT, what="the console prompt")
        self.host = m.group(1)
        if self.host not in hosts:
            raise Fail(f"{self.name}: the prompt is '{self.host}> ', expected the hostname "
                       + " or ".join(hosts) + " (the configuration on flash is not what it "
                       "should be)")
        self.figures["prompt"] = c.elapsed()

    def dhcp(self):
        m = self.con.wait_seen(r"net: address (\d+\.\d+\.\d+\.\d+) .*\(dhcp\)", T_DHCP,
                               what="the DHCP lease from passt")
        self.figures["dhcp"] = self.con.elapsed()
        if m.group(1) != self.args.guest_ip:
            raise Fail(f"DHCP gave {m.group(1)}, passt should hand out {self.args.guest_ip}")
        return m.group(1)

    def cmd(self, line, host=None):
        out = self.con.command(line, self.prompt_re(host or self.host), T_CMD)
        self.host = host or self.host
        if re.search(r"^error", out, re.M):
            raise Fail(f"'{line}' was refused:\n{out}")
        return out

    def show_config(self):
        return [ln for ln in self.cmd("show config").splitlines() if ln.strip()]

    def configure(self, lines, new_host):
        """Type the lines and commit; returns how long the commit took as seen on the line."""
        for ln in lines:
            self.cmd(ln)
        c = self.con
        with c.cond:
            c.mark = len(c.text)
        c.type("commit\r")
        c.expect(r"commit\n", T_CMD, what="the echo of 'commit'")
        t = c.elapsed()
        c.expect(r"committed\n", T_CMD, what="'committed'")
        took = c.elapsed() - t
        c.expect(self.prompt_re(new_host), T_CMD, what="the prompt after commit")
        self.host = new_host
        return took

    def cut_during_commit(self, lines, delay):
        """Type the changes and commit; pull the plug `delay` seconds after the box echoed
        the Enter of `commit` (it writes the echo, then runs the commit)."""
        for ln in lines:
            self.cmd(ln)
        c = self.con
        with c.cond:
            c.mark = len(c.text)
        c.type("commit\r")
        c.expect(r"commit\n", T_CMD, what="the echo of 'commit'")
        time.sleep(delay)
        self.power_cut()
        with c.cond:
            return "committed" in c.text[c.mark:]

    def show_version(self):
        out = self.cmd("show version")
        if not re.search(r"^gateway \S+ on linux-" + re.escape(self.args.arch) + r"$", out, re.M):
            raise Fail(f"show version printed:\n{out}")
        return out.strip()

    def show_status(self):
        out = self.cmd("show status")
        if not re.search(r"^net:\s+en link up, address " + re.escape(self.args.guest_ip), out,
                         re.M):
            raise Fail(f"show status does not show the link up with the lease:\n{out}")
        m = re.search(r"^echo:\s+port 7, (\d+) active of \d+, (\d+) accepted, (\d+) refused, "
                      r"(\d+) bytes", out, re.M)
        if not m:
            raise Fail(f"show status has no echo line:\n{out}")
        return out, int(m.group(2)), int(m.group(4))

    def echo(self, nbytes):
        # Debian 12's passt stalls with both directions full: keep 32 KiB in flight at most.
        r = subprocess.run([sys.executable, ECHO_CHECK, "127.0.0.1", str(self.args.echo_port),
                            str(nbytes), str(T_ECHO), "32768"], capture_output=True, text=True,
                           timeout=T_ECHO + 30)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0:
            raise Fail(f"echo through passt's port forward failed: {out}")
        log(f"{self.name}: {out}")

    def power_off_by_console(self):
        """Ctrl-D on an empty line stops the gateway; /init powers the box off."""
        self.con.type("\x04")
        self.con.expect(r"init: gateway stopped; power off", T_OFF, what="/init powering off")
        rc = self.con.wait_exit(T_OFF)
        if rc != 0:
            raise Fail(f"QEMU exited with status {rc} after power off")

    def power_cut(self):
        self.con.power_cut()

    def close(self):
        self.con.close()


def flash_verify(args, when):
    if not args.flashtool:
        return
    r = subprocess.run([args.flashtool, "verify", args.flash], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise Fail(f"flashtool verify {when}: status {r.returncode}\n{r.stdout}{r.stderr}")
    log(f"flash image clean {when} (flashtool verify)")


def expect_config(box, want, what):
    got = box.show_config()
    if got != want:
        raise Fail(f"{what}: show config printed {got}, expected {want}")


def flash_export(args):
    """The configuration on the flash disk as the host's flashtool reads it."""
    if not args.flashtool:
        return None
    r = subprocess.run([args.flashtool, "export", args.flash], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise Fail(f"flashtool export: status {r.returncode}\n{r.stdout}{r.stderr}")
    return [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")]


def run(args):
    boxes = []
    try:
        # Boot 1: a factory-fresh box. Network, echo, then configuration A committed.
        b = Box(args, "boot 1")
        boxes.append(b)
        b.boot([FACTORY_HOST])
        log(f"boot 1: kernel {b.kernel}, /init ran: gateway {b.gw_args}")
        log(f"boot 1: {b.show_version()}")
        b.dhcp()
        b.show_status()
        b.echo(args.echo_bytes)
        _, accepted, nbytes = b.show_status()
        if accepted < 1 or nbytes < args.echo_bytes:
            raise Fail(f"show status counts {accepted} echo connections, {nbytes} bytes "
                       f"after echoing {args.echo_bytes}")
        expect_config(b, [], "factory-fresh box")
        took = b.configure(CONFIG_A, "qbox-a")
        expect_config(b, SHOWN_A, "after commit")
        log(f"boot 1: configuration A committed at the console ({took * 1000:.0f} ms from the "
            f"Enter's echo to 'committed')")
        # (Later: network, relay, location, key, CSR signed by the test CA, certificates,
        # mappings and the IMAP receiver typed here; the tunnel comes up; curl and IMAP flows.)
        b.power_cut()
        b.close()
        log("boot 1: power cut (SIGKILL to QEMU) after the commit")
        flash_verify(args, "after the power cut")

        # Boot 2: A survived the cut. Then the plug is pulled while B is being committed.
        b2 = Box(args, "boot 2")
        boxes.append(b2)
        b2.boot(["qbox-a", FACTORY_HOST] if args.xfail_mtd_durability else ["qbox-a"])
        log(f"boot 2: {b2.show_version()}")
        old_host, old_shown = "qbox-a", SHOWN_A
        if b2.host == FACTORY_HOST:
            # Only with --xfail-mtd-durability (see main()).
            log("boot 2: XFAIL (known issue): the committed configuration A was lost in the "
                "power cut: writes to /dev/mtd0 (block2mtd) sit in the guest's page cache; "
                "the MTD backend must sync after each program and erase")
            old_host, old_shown = FACTORY_HOST, []
        elif args.xfail_mtd_durability:
            log("boot 2: XPASS: configuration A survived on /dev/mtd0; drop "
                "--xfail-mtd-durability from tests/qemu/qemu.cmake")
        expect_config(b2, old_shown, "after the power cut")
        if old_shown:
            log("boot 2: configuration A came back from flash")
        b2.dhcp()
        b2.show_status()
        b2.echo(min(args.echo_bytes, 256 * 1024))
        # (From a factory config, B without the "host del" of A's host: same result.)
        config_b = [ln for ln in CONFIG_B if old_shown or not ln.startswith("host del")]
        # The cut lands at a random point of about one commit's duration after the Enter.
        delay = random.Random(args.seed).uniform(0, took)
        done = b2.cut_during_commit(config_b, delay)
        b2.close()
        log(f"boot 2: power cut {delay * 1000:.0f} ms into the commit of B (seed {args.seed})"
            + (" (after 'committed' was printed)" if done else ""))
        flash_verify(args, "after the power cut during commit")

        # Boot 3: A or B, never a mix; then Ctrl-D powers the box off.
        b3 = Box(args, "boot 3")
        boxes.append(b3)
        b3.boot([old_host, "qbox-b"])
        got = b3.show_config()
        if got == old_shown and not done:
            verdict = ("A" if old_shown else "factory") + " (the cut came before the commit took)"
        elif got == SHOWN_B:
            verdict = "B (the commit took before the cut)"
        else:
            raise Fail(f"after the power cut during commit, show config printed {got}: "
                       f"neither the old {old_shown} nor B {SHOWN_B}")
        if b3.host != ("qbox-b" if got == SHOWN_B else old_host):
            raise Fail(f"prompt {b3.host!r}> does not match the configuration {got}")
        log(f"boot 3: configuration {verdict}")
        b3.dhcp()
        b3.power_off_by_console()
        b3.close()
        log("boot 3: Ctrl-D at the console, box powered off, QEMU exited 0")
        flash_verify(args, "after the clean power off")
        exported = flash_export(args)
        if exported is not None and exported != got:
            raise Fail(f"flashtool export of the disk gives {exported}, the box said {got}")
    finally:
        for b in boxes:
            b.close()

    f = [b.figures for b in boxes]
    log(f"figures {args.arch} (TCG): QEMU start -> /init {f[0]['init']:.1f} s "
        f"(kernel uptime {f[0]['guest_uptime']:.1f} s), -> prompt {f[0]['prompt']:.1f} s, "
        f"-> DHCP lease {f[0]['dhcp']:.1f} s; after a power cut: -> prompt "
        f"{f[1]['prompt']:.1f} s and {f[2]['prompt']:.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True, choices=["x86_64", "aarch64"])
    ap.add_argument("--image", required=True)
    ap.add_argument("--flash", required=True)
    ap.add_argument("--sock", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--echo-port", type=int, required=True)
    ap.add_argument("--echo-bytes", type=int, default=1024 * 1024)
    ap.add_argument("--guest-ip", required=True)
    ap.add_argument("--flashtool")
    # Known issue, x86_64: block2mtd writes through the page cache and mtdchar has no fsync
    # (it syncs when a writable descriptor is closed), so a commit is not durable until the
    # kernel writes back. Tolerated (and reported as XFAIL) until board/linux/flash_mtd.c
    # syncs after each operation.
    ap.add_argument("--xfail-mtd-durability", action="store_true")
    ap.add_argument("--log", required=True)
    ap.add_argument("--seed", type=int, default=None, help="for the power cut's timing")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 30)
    start = time.monotonic()
    try:
        run(args)
    except (Fail, Timeout) as e:
        print(f"qemu-boot: FAIL: {e}", file=sys.stderr, flush=True)
        return 1
    log(f"ok ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
