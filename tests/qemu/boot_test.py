#!/usr/bin/env python3
"""Whole-system boot test (issue 8): the gateway image under QEMU, driven over its serial line.

Run by test_qemu_boot.sh inside a network namespace it made, with passt listening there.

  boot_test.py --arch ARCH --image DIR --flash FILE --sock PASST_SOCKET --qemu QEMU_SH
               --echo-port PORT [--echo-bytes N] [--flashtool PATH] --log FILE
               --workdir DIR --pki DIR --token TOKEN --spool DIR --dv DV_SH --dv-dir DIR

The peers (started by test_qemu_boot.sh on the namespace's loopback, which the guest reaches
as 192.0.2.254 through passt): the relay (tunnels 4443, SOCKS5 1080, spool), Dovecot (143
STARTTLS, 993) holding 50 market mails, and the lab PKI in --pki whose intermediate signs
the box's CSR.

Boot 1: QEMU start to /init, to the console prompt, to the DHCP lease from passt; `show
version` and `show status` typed at the prompt; the echo service byte-exact through passt's
port forward; configuration A typed as an operator would (network, relay, location, device
key, CSR signed by the lab CA, chain and trust pasted, two mappings, the IMAP receiver) and
committed. The tunnel comes up to the relay; curl, as the cloud application, fetches a mail
byte-exact through the relay's SOCKS5 and each mapping (IMAP with STARTTLS end to end through
the tcp mapping, plain IMAP through the tls mapping); the IMAP receiver moves the 50 mails
into the relay's spool (each once, byte-exact; INBOX empty, Archive 50). Power cut (SIGKILL
to QEMU). Boot 2 from the same flash disk: A is back, network, echo and the tunnel again;
configuration B typed, and the plug is pulled during its `commit`. Boot 3: the configuration
is A or B, never a mix; the tunnel comes back, 5 more mails arrive and the spool ends with
exactly 55 distinct messages; Ctrl-D at the prompt stops the gateway and the box powers off.
flashtool verify checks the flash image after each boot, and flashtool export must agree
with the box. Prints the boot figures (QEMU start to prompt, to DHCP lease, to tunnel up).

--board virt (issue 20): the same story on the bare-metal image (board/virt, QEMU's virt
machine, no kernel): --image is gateway.elf, --qemu is tools/image/qemu-virt.sh, --flash
the 64 MiB pflash bank. There is no /init: the banner is the first thing the box prints,
and Ctrl-D powers the machine off through PSCI; the box reports its peak RAM use then.
"""
import argparse
from collections import Counter
import hashlib
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu_console import Serial, Timeout  # noqa: E402

FACTORY_HOST = "gateway"     # the prompt is HOSTNAME> , HOSTNAME*> with uncommitted changes
LOCATION = "LOC-QEMU-1"
# Dovecot's user (test_qemu_boot.sh exports them for dovecot.sh).
IMAP_USER = os.environ.get("DV_USER", "market")
IMAP_SECRET = os.environ.get("DV_PASS", "Qemu-imap-S3cret")
RELAY = "relay.example:4443"
SOCKS = "127.0.0.1:1080"
N_MAILS = 50        # market mails in the INBOX before boot 1 (test_qemu_boot.sh: dv_fill 50)
N_MORE = 5          # appended after boot 3
CHECKS = "Checks"   # the folder curl reads (the receiver empties INBOX meanwhile)
CHECK_LARGE = (1001, 600000)   # (mail number, EDIFACT bytes): through the tcp mapping
CHECK_SMALL = (1002, 0)        # through the tls mapping

# Configuration A: what an operator types to provision the box (issue 8), committed before the
# first power cut. The device key and its certificate (CSR signed by the test CA) and the
# trust store come in between, see provision().
CONFIG_A = [
    "set system hostname qbox-a",
    "set net address dhcp",
    "host add relay.example 192.0.2.254",
    "host add mail.internal 192.0.2.254",
    "set tunnel relay relay.example:4443",
    f"set tunnel location {LOCATION}",
    "mapping add imap.example:143 mail.internal:143 tcp",
    "mapping add imap.example:993 mail.internal:993 tls",
    # STARTTLS end to end through the tcp mapping: the box checks Dovecot's certificate
    # against the virtual name imap.example.
    "set imap server imap.example:143",
    "set imap security starttls",
    f"set imap user {IMAP_USER}",
    "set imap folder INBOX",
    "set imap after move Archive",
    "set imap poll 30",
    "set imap enabled yes",
]
# Configuration B, being committed when the power is cut: after the cut the box runs A or B,
# never a mix. B as `show config` lines: A without DROP_B, plus ADD_B. B keeps the receiver's
# mapping (the tcp one), so the receiver resumes with either.
CONFIG_B = ["set system hostname qbox-b", "mapping del imap.example:993",
            "host add imap2.example 192.0.2.26", "set imap poll 45"]
DROP_B = ["set system hostname qbox-a", "mapping add imap.example:993 mail.internal:993 tls",
          "set imap poll 30"]
ADD_B = ["set system hostname qbox-b", "host add imap2.example 192.0.2.26", "set imap poll 45"]
HERE = os.path.dirname(os.path.abspath(__file__))
ECHO_CHECK = os.path.join(HERE, "..", "integration", "echo_check.py")

# Bounds. TCG on 2 cores: the aarch64 kernel reaches /init in about 5 s, x86_64 in about 9.
T_BOOT = 120        # QEMU start to prompt
T_DHCP = 60         # prompt to DHCP lease
T_CMD = 20          # a console command to its output and the next prompt
T_ECHO = 120        # the echo transfer
T_OFF = 30          # Ctrl-D to QEMU exited
T_TUNNEL = 120      # commit (or boot) to the tunnel up
T_CURL = 120        # one curl fetch through SOCKS5, the tunnel and a mapping
T_IMAP = 300        # the receiver moving the 50 mails (TCG: about 12 s)
T_IMAP_MORE = 120   # 5 more mails (about 1 s; the poll interval is 30 or 45 s)

# The bare-metal board's RAM report (at reboot and power-off).
RAM_REPORT = (r"board: peak RAM use: static (\d+) KiB \(image and \.bss\), stack (\d+) KiB, "
              r"heap (\d+) KiB")
# A log line on the console: "[  12.345] text". It can come between a command's output and
# the next prompt; command outputs are compared without them.
LOGLINE = re.compile(r"^\[\s*\d+\.\d{3}\] .*\n?", re.M)


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
        if args.board == "virt":
            env["GW_QEMU_MEM"] = args.mem
            cmd = ["bash", args.qemu, args.image, args.flash, args.sock]
        else:
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
        if self.args.board == "virt":
            return self.boot_bare(hosts)
        m = c.expect(r"init: (\S+) up in ([0-9.]+) s; starting gateway (.*)\n", T_BOOT,
                     what="/init starting the gateway")
        self.figures["init"] = c.elapsed()
        self.figures["guest_uptime"] = float(m.group(2))
        self.kernel, gw_args = m.group(1), m.group(3)
        want_con = {"x86_64": "/dev/ttyS0", "aarch64": "/dev/ttyAMA0"}[self.args.arch]
        if f"--console {want_con}" not in gw_args or "--net packet:eth0" not in gw_args:
            raise Fail(f"/init started the gateway with unexpected arguments: {gw_args}")
        self.gw_args = gw_args
        c.expect(r"gateway (\S+) on " + re.escape(self.args.board_name), T_BOOT,
                 what="the gateway's banner")
        self.prompt(hosts)

    def boot_bare(self, hosts):
        """The bare-metal board: the image itself prints first (no kernel, no /init)."""
        c = self.con
        m = c.expect(r"board: QEMU virt, (\d+) MiB RAM, timer (\d+) Hz", T_BOOT,
                     what="the board's first line")
        self.figures["init"] = c.time_at(m.end())
        self.figures["guest_uptime"] = 0.0
        self.kernel, self.gw_args = "none (bare metal)", ""
        self.ram_mib, self.timer_hz = int(m.group(1)), int(m.group(2))
        c.expect(r"gateway (\S+) on " + re.escape(self.args.board_name), T_BOOT,
                 what="the gateway's banner")
        self.prompt(hosts)

    def prompt(self, hosts):
        c = self.con
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
        self.figures["dhcp"] = self.con.time_at(m.end())
        if m.group(1) != self.args.guest_ip:
            raise Fail(f"DHCP gave {m.group(1)}, passt should hand out {self.args.guest_ip}")
        return m.group(1)

    def cmd(self, line, host=None):
        out = LOGLINE.sub("", self.con.command(line, self.prompt_re(host or self.host), T_CMD))
        self.host = host or self.host
        if re.search(r"^error", out, re.M):
            raise Fail(f"'{line}' was refused:\n{out}")
        return out

    def show_config(self):
        return [ln for ln in self.cmd("show config").splitlines() if ln.strip()]

    def tunnel_up(self):
        """Wait for the tunnel's log line; the figure is when the box printed it."""
        m = self.con.wait_seen(r"tunnel: relay " + re.escape(RELAY) + r" up \(([^)]*)\)",
                               T_TUNNEL, what=f"the tunnel up to {RELAY}")
        self.figures["tunnel"] = self.con.time_at(m.end())
        return m.group(1)

    def paste(self, command, pem):
        """A PEM paste: the command, the text as a terminal pastes it, a blank line ends it."""
        c = self.con
        with c.cond:
            c.mark = len(c.text)
        c.type(command + "\r")
        c.expect(r"pem> ", T_CMD, what=f"the paste prompt of '{command}'")
        start = c.mark
        c.type(pem.strip().replace("\n", "\r") + "\r\r", delay=0)
        m = c.expect(self.prompt_re(self.host), T_CMD, what=f"the prompt after '{command}'")
        out = c.text[start:m.start()]
        if re.search(r"^error", out, re.M):
            raise Fail(f"'{command}' refused the paste:\n{out}")
        return out

    def secret(self, command, question, secret):
        """A command that asks for a secret: typed without echo."""
        c = self.con
        with c.cond:
            c.mark = len(c.text)
        c.type(command + "\r")
        c.expect(re.escape(question), T_CMD, what=f"the question of '{command}'")
        start = c.mark
        c.type(secret + "\r")
        m = c.expect(self.prompt_re(self.host), T_CMD, what=f"the prompt after '{command}'")
        if secret in c.text[start:m.start()]:
            raise Fail(f"'{command}': the secret was echoed")

    def commit(self, new_host):
        """commit; returns how long it took from the Enter's echo to 'committed'."""
        c = self.con
        with c.cond:
            c.mark = len(c.text)
        c.type("commit\r")
        c.expect(r"commit\n", T_CMD, what="the echo of 'commit'")
        t = c.elapsed()
        c.expect(r"committed\n", T_CMD, what="'committed'")
        took = c.elapsed() - t
        self.figures["commit"] = c.elapsed()
        c.expect(self.prompt_re(new_host), T_CMD, what="the prompt after commit")
        self.host = new_host
        return took

    def provision(self, pki):
        """Issue 8's console story: network, relay, location, device key, CSR signed by the
        test CA, certificate chain and trust store pasted, two mappings, the IMAP receiver;
        commit. Returns the commit's duration."""
        for ln in CONFIG_A[:6]:
            self.cmd(ln)
        out = self.cmd("tunnel key generate")
        if "P-256" not in out:
            raise Fail(f"tunnel key generate printed:\n{out}")
        out = self.cmd("tunnel csr")
        m = re.search(r"-----BEGIN CERTIFICATE REQUEST-----\n.*?\n-----END CERTIFICATE "
                      r"REQUEST-----\n", out, re.S)
        if not m:
            raise Fail(f"tunnel csr printed no request:\n{out}")
        chain = pki.sign(m.group(0))
        out = self.paste("tunnel cert import", chain)
        if f"CN={LOCATION}" not in out:
            raise Fail(f"tunnel cert import does not show the device certificate:\n{out}")
        out = self.paste("trust import relay", pki.root)
        if "relay trust store" not in out or "CN=Lab Root CA" not in out:
            raise Fail(f"trust import relay does not show the root:\n{out}")
        out = self.paste("trust import", pki.root)
        if "CN=Lab Root CA" not in out:
            raise Fail(f"trust import does not show the root:\n{out}")
        for ln in CONFIG_A[6:]:
            self.cmd(ln)
        self.secret("set imap password", "IMAP password: ", IMAP_SECRET)
        return self.commit("qbox-a")

    def cut_during_commit(self, delay):
        """commit, and pull the plug `delay` seconds after the box echoed the Enter (it
        writes the echo, then runs the commit). Returns whether 'committed' got out."""
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
        if not re.search(r"^gateway \S+ on " + re.escape(self.args.board_name) + r"$", out, re.M):
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

    def relay_let_go(self):
        """How often the relay (test_qemu_*.sh's, logging to WORKDIR/relay.log) logged a
        tunnel the gateway closed itself."""
        with open(os.path.join(self.args.workdir, "relay.log"), errors="replace") as f:
            return f.read().count('reason="closed by the gateway"')

    def reboot(self):
        c = self.con
        with c.cond:
            c.mark = len(c.text)
        closed = self.relay_let_go()
        c.type("reboot\r")
        # The tunnel lets go first (GoAway and its TLS close), as on a stop: the relay hears
        # it at once, where a power cut leaves it to the keepalive.
        c.expect(r"tunnel: relay " + re.escape(RELAY) + r": closing \(the gateway stops\)"
                 r"\r?\n", T_BOOT, what="the tunnel's GoAway before the restart")
        c.expect(r"gateway \S+ on " + re.escape(self.args.board_name) + r" \(lwIP", T_BOOT,
                 what="the banner after reboot")
        c.expect(self.prompt_re(self.host), T_BOOT, what="the prompt after reboot")
        deadline = time.monotonic() + 10     # the relay logs it as it reads the close
        while self.relay_let_go() != closed + 1:
            if time.monotonic() > deadline:
                raise Fail("the relay did not log the tunnel 'closed by the gateway' at the "
                           "reboot")
            time.sleep(0.1)

    def power_off_by_console(self):
        """Ctrl-D on an empty line stops the gateway; /init (or the bare-metal board, through
        PSCI) powers the box off."""
        self.con.type("\x04")
        if self.args.board == "virt":
            self.con.expect(RAM_REPORT, T_OFF, what="the board's RAM report")
            self.con.expect(r"board: gateway stopped; power off", T_OFF,
                            what="the board powering off")
        else:
            self.con.expect(r"init: gateway stopped; power off", T_OFF, what="/init powering off")
        rc = self.con.wait_exit(T_OFF)
        if rc != 0:
            raise Fail(f"QEMU exited with status {rc} after power off")

    def power_cut(self):
        self.con.power_cut()

    def close(self):
        self.con.close()


class TestPKI:
    """The lab PKI test_qemu_boot.sh made (tests/unit/make_pki.sh): its intermediate signed
    the relay's and Dovecot's certificates and signs the box's CSR (CN = Location ID); the
    relay's client-ca is that intermediate, the box's trust store gets the root."""

    def __init__(self, pki_dir, workdir):
        self.pki = pki_dir
        self.dir = os.path.join(workdir, "box")
        os.makedirs(self.dir, exist_ok=True)
        with open(f"{self.dir}/leaf.ext", "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        self.root_pem = os.path.join(pki_dir, "root.pem")
        self.root = open(self.root_pem).read()
        self.serial = 100

    @staticmethod
    def _ossl(argv):
        r = subprocess.run(["openssl", *argv], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Fail(f"openssl {' '.join(argv)}: {r.stderr}")
        return r.stdout

    def sign(self, csr_pem):
        """The certificate chain (leaf, intermediate) for a CSR, as the operator pastes it."""
        d, p = self.dir, self.pki
        self.serial += 1
        with open(f"{d}/leaf.csr", "w") as f:
            f.write(csr_pem)
        subj = self._ossl(["req", "-in", f"{d}/leaf.csr", "-verify", "-noout", "-subject"])
        if LOCATION not in subj:
            raise Fail(f"the CSR names {subj.strip()}, not the Location ID {LOCATION}")
        self._ossl(["x509", "-req", "-in", f"{d}/leaf.csr", "-CA", f"{p}/inter.pem",
                    "-CAkey", f"{p}/inter.key", "-set_serial", str(self.serial), "-days", "30",
                    "-extfile", f"{d}/leaf.ext", "-out", f"{d}/leaf.pem"])
        return open(f"{d}/leaf.pem").read() + open(f"{p}/inter.pem").read()


class Peers:
    """The host side: Dovecot (through dv.sh), curl through the relay's SOCKS5, the spool."""

    def __init__(self, args, pki):
        self.args = args
        self.pki = pki
        self.spool = args.spool
        self.sha_cache = {}

    def dv(self, *argv, timeout=60):
        r = subprocess.run(["bash", self.args.dv, self.args.dv_dir, *map(str, argv)],
                           capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise Fail(f"dv.sh {' '.join(map(str, argv))}: status {r.returncode}\n"
                       + r.stderr.decode(errors="replace"))
        return r.stdout

    def count(self, folder):
        return int(self.dv("count", folder).decode().strip())

    def shas(self, numbers):
        """The SHA-256 of market mails by number (as dv_fill / dv_append make them)."""
        want = [i for i in numbers if i not in self.sha_cache]
        if want:
            out = self.dv("sha", *want).decode().split()
            self.sha_cache.update(zip(want, out))
        return {self.sha_cache[i]: i for i in numbers}

    def curl(self, url, extra=()):
        cmd = ["curl", "--socks5-hostname", SOCKS, "--proxy-user",
               f"{LOCATION}:{self.args.token}", "-sS", "--max-time", str(T_CURL),
               "--user", f"{IMAP_USER}:{IMAP_SECRET}", *extra, url]
        t = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, timeout=T_CURL + 30)
        if r.returncode != 0:
            raise Fail(f"curl {url} through the relay's SOCKS5: status {r.returncode}: "
                       + r.stderr.decode(errors="replace").strip())
        return r.stdout, time.monotonic() - t

    def spool_files(self):
        try:
            names = sorted(os.listdir(self.spool))
        except FileNotFoundError:
            return []
        return [os.path.join(self.spool, n) for n in names]

    def spool_check(self, numbers, what):
        """The spool holds exactly the market mails `numbers`: each once, byte-exact."""
        want = self.shas(numbers)
        got = Counter()
        for f in self.spool_files():
            with open(f, "rb") as fh:
                got[hashlib.sha256(fh.read()).hexdigest()] += 1
        twice = [want.get(h, h) for h, n in got.items() if n > 1]
        alien = [h for h in got if h not in want]
        missing = sorted(i for h, i in want.items() if h not in got)
        if twice or alien or missing:
            raise Fail(f"{what}: the spool holds {sum(got.values())} files: twice {twice}, "
                       f"unknown {alien}, missing {missing}")

    def wait_spool(self, n, timeout, box):
        """Wait until the spool holds n files; returns the seconds it took."""
        t0 = time.monotonic()
        last_log = t0
        while True:
            have = len(self.spool_files())
            if have >= n:
                return time.monotonic() - t0
            now = time.monotonic()
            if now - last_log >= 30:
                log(f"{box.name}: {have} of {n} mails in the spool after {now - t0:.0f} s")
                last_log = now
            if now - t0 > timeout:
                out = box.cmd("show imap")
                inbox = self.count("INBOX")
                hint = ""
                if inbox and re.search(r"^imap: .*session, idle", out, re.M):
                    hint = (f" The receiver idles while the INBOX holds {inbox}: new mail "
                            "announced outside IDLE (an EXISTS during SEARCH) was not searched "
                            "for again.")
                raise Fail(f"the spool holds {have} mails after {timeout:.0f} s, expected {n}; "
                           f"Dovecot's INBOX holds {inbox}.{hint} show imap:\n{out}")
            time.sleep(0.5)

    def wait_folders(self, inbox, archive, timeout=30):
        t0 = time.monotonic()
        while True:
            got = (self.count("INBOX"), self.count("Archive"))
            if got == (inbox, archive):
                return
            if time.monotonic() - t0 > timeout:
                raise Fail(f"after move Archive: INBOX {got[0]}, Archive {got[1]}; expected "
                           f"{inbox} and {archive}")
            time.sleep(0.5)


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
        raise Fail(f"{what}: show config printed\n" + "\n".join(got) +
                   "\nexpected\n" + "\n".join(want))
    return got


def flash_export(args):
    """The configuration on the flash disk as the host's flashtool reads it."""
    if not args.flashtool:
        return None
    r = subprocess.run([args.flashtool, "export", args.flash], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise Fail(f"flashtool export: status {r.returncode}\n{r.stdout}{r.stderr}")
    return [ln for ln in r.stdout.splitlines() if ln.strip()]


def basics(box, echo_bytes):
    """Network and the data path: DHCP lease, status, the echo service through passt."""
    box.dhcp()
    box.show_status()
    box.echo(echo_bytes)
    _, accepted, nbytes = box.show_status()
    if accepted < 1 or nbytes < echo_bytes:
        raise Fail(f"show status counts {accepted} echo connections, {nbytes} bytes "
                   f"after echoing {echo_bytes}")


def curl_both_mappings(peers):
    """The cloud application: curl through the relay's SOCKS5 reaches Dovecot through both
    mappings, each fetch byte-exact."""
    n, size = CHECK_LARGE
    got, secs = peers.curl(f"imap://imap.example:143/{CHECKS};UID=1",
                           ["--ssl-reqd", "--cacert", peers.pki.root_pem])
    if got != peers.dv("mail", n, size):
        raise Fail(f"IMAP STARTTLS through the tcp mapping: {len(got)} bytes differ from mail {n}")
    log(f"curl: IMAP STARTTLS end to end through the tcp mapping imap.example:143, "
        f"{len(got)} bytes byte-exact in {secs:.1f} s")
    n, size = CHECK_SMALL
    got, secs = peers.curl(f"imap://imap.example:993/{CHECKS};UID=2")
    if got != peers.dv("mail", n, size):
        raise Fail(f"plain IMAP through the tls mapping: {len(got)} bytes differ from mail {n}")
    log(f"curl: plain IMAP through the tls mapping imap.example:993 -> mail.internal:993, "
        f"{len(got)} bytes byte-exact in {secs:.1f} s")


def show_imap(box, delivered):
    out = box.cmd("show imap")
    m = re.search(r"^delivered: (\d+) messages", out, re.M)
    if not m or int(m.group(1)) != delivered:
        raise Fail(f"show imap does not count {delivered} delivered:\n{out}")
    return out


def run(args):
    boxes = []
    pki = TestPKI(args.pki, args.workdir)
    peers = Peers(args, pki)
    # curl's folder: apart from the INBOX, which the receiver empties.
    peers.dv("mkdir", CHECKS)
    peers.dv("append", CHECKS, "%d:%d" % CHECK_LARGE, "%d:%d" % CHECK_SMALL)
    if peers.count("INBOX") != N_MAILS:
        raise Fail(f"Dovecot's INBOX holds {peers.count('INBOX')}, expected {N_MAILS}")

    def boot(name, hosts):
        b = Box(args, name)
        boxes.append(b)
        b.boot(hosts)
        return b

    try:
        # Boot 1: a factory-fresh box, provisioned at the console (A), then the plug is pulled.
        b = boot("boot 1", [FACTORY_HOST])
        if args.board == "virt":
            log(f"boot 1: bare metal, {b.ram_mib} MiB RAM, generic timer at {b.timer_hz} Hz")
        else:
            log(f"boot 1: kernel {b.kernel}, /init ran: gateway {b.gw_args}")
        log(f"boot 1: {b.show_version()}")
        basics(b, args.echo_bytes)
        expect_config(b, [], "factory-fresh box")
        took = b.provision(pki)
        shown_a = b.show_config()
        if IMAP_SECRET in "\n".join(shown_a) or "set imap password ********" not in shown_a:
            raise Fail("show config does not mask the IMAP password")
        log(f"boot 1: provisioned at the console and committed ({len(shown_a)} lines of "
            f"config; {took * 1000:.0f} ms from the Enter's echo to 'committed')")
        how = b.tunnel_up()
        log(f"boot 1: tunnel up to {RELAY} {b.figures['tunnel'] - b.figures['commit']:.1f} s "
            f"after 'committed' ({how})")
        out = b.cmd("show tunnel")
        if not re.search(r"relay 1: +" + re.escape(RELAY) + r" +up for", out):
            raise Fail(f"show tunnel does not show the relay up:\n{out}")
        # The suite by the CPU: BearSSL has no AES code for aarch64, so ChaCha20-Poly1305
        # there; AES-GCM only on AES-NI (docs/protocol.md section 1).
        m = re.search(r"^ +tls: (ECDHE-\S+) \((\S+) \+ (\S+)\)$", out, re.M)
        if not m or not ("CHACHA20-POLY1305" in m.group(1) or
                         (args.arch == "x86_64" and
                          m.group(2) in ("aes_x86ni", "aes_vaes", "aes_vaes512"))):
            raise Fail(f"show tunnel names no suite, or AES-GCM without AES-NI:\n{out}")
        log(f"boot 1: tunnel suite {m.group(1)} ({m.group(2)} + {m.group(3)})")
        curl_both_mappings(peers)
        out = b.cmd("show imap")
        if "not available" in out:
            raise Fail(f"this gateway build has no IMAP receiver (rebuild it):\n{out}")
        took_imap = peers.wait_spool(N_MAILS, T_IMAP, b)
        peers.spool_check(range(1, N_MAILS + 1), "boot 1")
        peers.wait_folders(0, N_MAILS)
        imap_secs = b.con.elapsed() - b.figures["commit"]
        out = show_imap(b, N_MAILS)
        log(f"boot 1: the IMAP receiver moved {N_MAILS} market mails into the relay's spool "
            f"in {imap_secs:.1f} s from 'committed' (waited {took_imap:.1f} s after the curl "
            f"checks): each once, byte-exact; Dovecot INBOX 0, Archive {N_MAILS}")
        for ln in out.strip().splitlines():
            log(f"boot 1:   {ln}")
        b.power_cut()
        b.close()
        log("boot 1: power cut (SIGKILL to QEMU) after the commit")
        flash_verify(args, "after the power cut")

        b2 = boot("boot 2", ["qbox-a"])
        log(f"boot 2: {b2.show_version()}")
        # Boot 2: A survived the cut. Then the plug is pulled while B is being committed.
        expect_config(b2, shown_a, "after the power cut")
        log("boot 2: the configuration came back from flash")
        basics(b2, min(args.echo_bytes, 256 * 1024))
        b2.tunnel_up()
        log(f"boot 2: tunnel up {b2.figures['tunnel']:.1f} s after QEMU start")
        for ln in CONFIG_B:
            b2.cmd(ln)
        # The cut lands at a random point within about one commit's duration.
        delay = random.Random(args.seed).uniform(0, took)
        done = b2.cut_during_commit(delay)
        b2.close()
        log(f"boot 2: power cut {delay * 1000:.0f} ms into the commit of B (seed "
            f"{args.seed})" + (", after 'committed' was printed" if done else ""))
        flash_verify(args, "after the power cut during commit")

        # Boot 3: A or B, never a mix.
        b3 = boot("boot 3", ["qbox-a", "qbox-b"])
        got = b3.show_config()
        want_b = [ln for ln in shown_a if ln not in DROP_B] + ADD_B
        if got == shown_a and not done:
            verdict = "A: the cut came before the commit took"
        elif Counter(got) == Counter(want_b):
            verdict = "B: the commit took before the cut"
        else:
            raise Fail("after the power cut during commit, show config printed\n" +
                       "\n".join(got) + "\nwhich is neither A nor B")
        if b3.host != ("qbox-b" if verdict.startswith("B") else "qbox-a"):
            raise Fail(f"prompt {b3.host}> does not match the configuration")
        log(f"boot 3: configuration {verdict}")
        b3.dhcp()
        b3.tunnel_up()
        log(f"boot 3: tunnel up {b3.figures['tunnel']:.1f} s after QEMU start")
        # The receiver resumes: 5 more mails, and the spool ends with exactly 55 distinct.
        more = range(N_MAILS + 1, N_MAILS + N_MORE + 1)
        peers.dv("append", "INBOX", *more)
        took_more = peers.wait_spool(N_MAILS + N_MORE, T_IMAP_MORE, b3)
        peers.spool_check(range(1, N_MAILS + N_MORE + 1), "boot 3")
        peers.wait_folders(0, N_MAILS + N_MORE)
        show_imap(b3, N_MORE)
        log(f"boot 3: the receiver resumed: {N_MORE} more mails in the spool {took_more:.1f} s "
            f"after they were appended; the spool holds exactly {N_MAILS + N_MORE} distinct "
            f"messages (SHA-256), none twice; INBOX 0, Archive {N_MAILS + N_MORE}")
        # The console's reboot: the firmware starts afresh (re-executes itself) and reads the
        # same configuration back.
        b3.reboot()
        expect_config(b3, got, "after the console's reboot")
        log("boot 3: reboot at the console: the tunnel closed first (the relay logged it), "
            "back at the prompt with the same configuration")
        b3.power_off_by_console()
        b3.close()
        log("boot 3: Ctrl-D at the console, box powered off, QEMU exited 0")
        flash_verify(args, "after the clean power off")
        exported = flash_export(args)
        host_line = next(ln for ln in got if ln.startswith("set system hostname"))
        if exported is not None and host_line not in exported:
            raise Fail(f"flashtool export of the disk lacks '{host_line}':\n" +
                       "\n".join(exported))
    finally:
        for b in boxes:
            b.close()

    f = [b.figures for b in boxes]
    if args.board == "virt":
        what = f"{args.board_name} (bare metal, TCG, -m {args.mem})"
        log(f"figures {what}: boot 1 (factory-fresh): QEMU start -> first line "
            f"{f[0]['init']:.2f} s, -> prompt {f[0]['prompt']:.2f} s, -> DHCP lease "
            f"{f[0]['dhcp']:.1f} s, -> tunnel up {f[0]['tunnel']:.1f} s (provisioning typed at "
            f"the console in between; 'committed' -> tunnel up "
            f"{f[0]['tunnel'] - f[0]['commit']:.1f} s)")
        for i in (1, 2):
            log(f"figures {what}: boot {i + 1} (provisioned): QEMU start -> prompt "
                f"{f[i]['prompt']:.2f} s, -> DHCP lease {f[i]['dhcp']:.1f} s, -> tunnel up "
                f"{f[i]['tunnel']:.1f} s")
        # The board reports at reboot (boot 3's whole run: tunnel, receiver) and power-off.
        reports = [tuple(int(g) for g in m) for m in re.findall(RAM_REPORT, boxes[-1].con.text)]
        static = max(r[0] for r in reports)
        stack = max(r[1] for r in reports)
        heap = max(r[2] for r in reports)
        log(f"RAM {what}: {boxes[-1].ram_mib} MiB, image and .bss {static} KiB, peak stack "
            f"{stack} KiB, peak heap (malloc) {heap} KiB; timer {boxes[-1].timer_hz} Hz")
        return
    log(f"figures {args.arch} (TCG): boot 1 (factory-fresh): QEMU start -> /init "
        f"{f[0]['init']:.1f} s (kernel uptime {f[0]['guest_uptime']:.1f} s), -> prompt "
        f"{f[0]['prompt']:.1f} s, -> DHCP lease {f[0]['dhcp']:.1f} s, -> tunnel up "
        f"{f[0]['tunnel']:.1f} s (provisioning typed at the console in between; "
        f"'committed' -> tunnel up {f[0]['tunnel'] - f[0]['commit']:.1f} s)")
    for i in (1, 2):
        log(f"figures {args.arch} (TCG): boot {i + 1} (provisioned): QEMU start -> /init "
            f"{f[i]['init']:.1f} s, -> prompt {f[i]['prompt']:.1f} s, -> DHCP lease "
            f"{f[i]['dhcp']:.1f} s, -> tunnel up {f[i]['tunnel']:.1f} s")


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
    ap.add_argument("--workdir", required=True, help="for the box's certificate")
    ap.add_argument("--pki", required=True, help="the lab PKI (make_pki.sh) of the peers")
    ap.add_argument("--token", required=True, help=f"the relay's SOCKS5 token for {LOCATION}")
    ap.add_argument("--spool", required=True, help=f"the relay's SPOOL/{LOCATION}/new")
    ap.add_argument("--dv", required=True, help="tests/qemu/dv.sh")
    ap.add_argument("--dv-dir", required=True, help="the Dovecot instance's directory")
    ap.add_argument("--seed", type=int, default=None, help="for the power cut's timing")
    ap.add_argument("--board", choices=["linux", "virt"], default="linux",
                    help="virt: the bare-metal image on QEMU's virt machine (issue 20)")
    ap.add_argument("--mem", default="16M", help="--board virt: the guest's RAM")
    args = ap.parse_args()
    if args.board == "virt" and args.arch != "aarch64":
        ap.error("--board virt is an aarch64 board")
    args.board_name = "virt-aarch64" if args.board == "virt" else f"linux-{args.arch}"
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
