#!/usr/bin/env python3
"""Whole-system boot test (issue 8): the gateway image under QEMU, driven over its serial line.

Run by test_qemu_boot.sh inside a network namespace it made, with passt listening there.

  boot_test.py --arch ARCH --image DIR --flash FILE --sock PASST_SOCKET --qemu QEMU_SH
               --echo-port PORT [--echo-bytes N] [--flashtool PATH] --log FILE

Boot 1: QEMU start to /init, to the console prompt, to the DHCP lease from passt; `show
version` and `show status` typed at the prompt; the echo service byte-exact through passt's
port forward. Then a power cut (SIGKILL to QEMU) and boot 2 from the same flash disk: the
gateway comes back to its prompt, gets its address and echoes again; Ctrl-D at the prompt
stops it and the box powers off. flashtool verify checks the flash image after each boot.
Prints the boot figures. Each step is a function, so the configuration, tunnel, IMAP and
power-cut-during-commit steps of issue 8 slot in once the firmware has them.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu_console import Serial, Timeout  # noqa: E402

PROMPT = "gateway> "
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

    def boot(self):
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
        c.expect(re.escape(PROMPT), T_BOOT, what="the console prompt")
        self.figures["prompt"] = c.elapsed()

    def dhcp(self):
        m = self.con.wait_seen(r"net: address (\d+\.\d+\.\d+\.\d+) .*\(dhcp\)", T_DHCP,
                               what="the DHCP lease from passt")
        self.figures["dhcp"] = self.con.elapsed()
        if m.group(1) != self.args.guest_ip:
            raise Fail(f"DHCP gave {m.group(1)}, passt should hand out {self.args.guest_ip}")
        return m.group(1)

    def cmd(self, line):
        return self.con.command(line, PROMPT, T_CMD)

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


def run(args):
    boxes = []
    try:
        # Boot 1.
        b = Box(args, "boot 1")
        boxes.append(b)
        b.boot()
        log(f"boot 1: kernel {b.kernel}, /init ran: gateway {b.gw_args}")
        log(f"boot 1: {b.show_version()}")
        b.dhcp()
        b.show_status()
        b.echo(args.echo_bytes)
        _, accepted, nbytes = b.show_status()
        if accepted < 1 or nbytes < args.echo_bytes:
            raise Fail(f"show status counts {accepted} echo connections, {nbytes} bytes "
                       f"after echoing {args.echo_bytes}")
        # (Later: configure network, relay, location, key, CSR, certificates, mappings and
        # the IMAP receiver at the console and commit; the tunnel comes up; curl and IMAP
        # flows; the power cut lands during a commit.)
        b.power_cut()
        b.close()
        log("boot 1: power cut (SIGKILL to QEMU)")
        flash_verify(args, "after the power cut")

        # Boot 2 from the same flash disk.
        b2 = Box(args, "boot 2")
        boxes.append(b2)
        b2.boot()
        log(f"boot 2: {b2.show_version()}")
        b2.dhcp()
        b2.show_status()
        # (Later: the configuration is the old or the new one, never a mix; the receiver
        # resumes without loss or duplicates.)
        b2.echo(min(args.echo_bytes, 256 * 1024))
        b2.power_off_by_console()
        b2.close()
        log("boot 2: Ctrl-D at the console, box powered off, QEMU exited 0")
        flash_verify(args, "after the clean power off")
    finally:
        for b in boxes:
            b.close()

    f1, f2 = boxes[0].figures, boxes[1].figures
    log(f"figures {args.arch} (TCG): QEMU start -> /init {f1['init']:.1f} s "
        f"(kernel uptime {f1['guest_uptime']:.1f} s), -> prompt {f1['prompt']:.1f} s, "
        f"-> DHCP lease {f1['dhcp']:.1f} s; after the power cut: -> prompt "
        f"{f2['prompt']:.1f} s, -> DHCP lease {f2['dhcp']:.1f} s")


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
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
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
