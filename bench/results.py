#!/usr/bin/env python3
"""Turn bench/run.sh's figures into bench/results.md (markdown on stdout).

usage: results.py DATA COMMANDS SIZE_TXT STORE_TXT DURATION_S GIT_DESCRIBE
DATA has one figure per line, "section|path|key|value" ("mem" lines carry
"mem|path|process|state|value"). A figure that could not be taken is said so, never guessed.
"""
import os
import platform
import re
import sys
import time

PATHS = [
    ("raw", "loopback (ceiling)"),
    ("fwd", "bench_fwd alone (the SOCKS5 forwarder's own cost)"),
    ("ssh", "ssh -R via sshd (OpenSSH)"),
    ("stunnel", "stunnel pair, mutual TLS"),
    ("relay", "relay SOCKS5 -> tunnel -> test_relay_gw (kernel sockets)"),
    ("gateway", "relay SOCKS5 -> tunnel -> gateway (lwIP, TAP)"),
]
CASES = ["1 up", "1 down", "100 up", "100 down"]
ALTERNATIVES = ["ssh", "stunnel"]


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            if len(parts) >= 4:
                rows.append(parts)
    return rows


def machine():
    model = "unknown"
    mem = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    except OSError:
        pass
    return model, os.cpu_count(), platform.release(), mem


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def kv(line):
    return dict(re.findall(r"(\w+)=([0-9.]+)", line or ""))


SCALE_HEAD = "## 7. Relay scale"


def scale_section(scale, git):
    """Section 7 (make bench-scale writes only this one into an existing results.md)."""
    out = []
    w = out.append
    w("%s: 10,000 gateways on one relay, a reconnect storm, handshakes, many tunnels\n"
      % SCALE_HEAD)
    w("Measured %s at revision %s (`make bench-scale`, bench/scale.sh; the machine is the "
      "table's above).\n" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), git))
    if not scale:
        w("not run")
        return "\n".join(out)
    g = lambda sec, key, dflt="n/a": scale.get((sec, key), dflt)
    for sec in ("idle", "storm", "hs", "load"):
        if (sec, "failed") in scale:
            w("- %s: **failed**: %s" % (sec, scale[(sec, "failed")]))
    w("| figure | value |\n|---|---|")
    rss = (g("idle", "rss", "0 0 0").split() + ["0", "0", "0"])[:3]
    up = int(num(g("idle", "up", "0")) or 0)
    ramp = g("idle", "ramp", "")
    secs = [num(x) for x in re.findall(r"secs=([0-9.]+)", ramp)]
    w("| locations configured | %s |" % g("idle", "locations"))
    w("| `relay --check` with the default limits | `%s` |" % g("idle", "check"))
    w("| tunnels up at once (TLS + hello; two simulated-gateway processes) | %d |" % up)
    if secs:
        w("| time to bring them up (32 handshakes in flight per process) | %.1f s |" % max(secs))
    if up:
        per = (int(rss[1]) - int(rss[0])) / up
        w("| relay RSS before / with them (peak) | %s / %s KiB (%s) |" % tuple(rss))
        w("| **relay RSS per idle tunnel** (after 15 s idle) | **%.1f KiB** |" % per)
    w("| tunnels lost while idle | %s |" % g("idle", "lost"))
    w("| simulated gateways' RSS (both processes) | %s KiB |" % g("idle", "sim_rss"))
    if ("storm", "back") in scale:
        sims = g("storm", "sims", "")
        att = sum(int(x) for x in re.findall(r"attempts (\d+)", sims))
        fail = sum(int(x) for x in re.findall(r"failed (\d+)", sims))
        w("| **reconnect storm: relay SIGKILLed and started again, every gateway back within** "
          "| **%s s** (%d attempts, %d refused or failed, then retried with backoff) |"
          % (g("storm", "back"), att, fail))
        w("| relay refusals during the storm, by cause | %s |" % (g("storm", "refusals") or "none"))
        w("| handshake threads | %s |" % g("storm", "threads"))
    hr = g("hs", "relay", "").split()
    ho = g("hs", "openssl", "").split()
    for name, v in (("relay (BearSSL, handshake threads)", hr), ("openssl s_server", ho)):
        if len(v) == 2 and num(v[1]):
            w("| handshakes per CPU-second (one core), %s | %.0f (%s handshakes in %s CPU s) |"
              % (name, int(v[0]) / num(v[1]), v[0], v[1]))
    if ("hs", "versions") in scale:
        w("| versions | %s |" % g("hs", "versions"))
    ld = kv(g("load", "load", ""))
    if ld:
        w("| **100 tunnels moving data at once: aggregate** | **%s Gbit/s** |" % ld.get("gbit_s"))
        w("| per tunnel: min / median / max | %s / %s / %s Mbit/s (Jain's index %s; 1.0: all "
          "equal) |" % (ld.get("min"), ld.get("p50"), ld.get("max"), ld.get("jain")))
        li, lr = kv(g("load", "idle", "")), kv(g("load", "rtt", ""))
        w("| 1-byte echo through a 101st tunnel, idle relay: p50 / p99 | %s / %s us |"
          % (li.get("p50_us"), li.get("p99_us")))
        w("| **the same during the load: p50 / p99 (p99 added)** | **%s / %s us (%s us)** |"
          % (lr.get("p50_us"), lr.get("p99_us"), lr.get("added_p99_us")))
    return "\n".join(out)


def splice_scale(path, section, cmds):
    """Replace section 7 and its command lines in an existing results.md."""
    old = open(path).read()
    a = old.find(SCALE_HEAD)
    b = old.find("\n## Commands", a)
    if a < 0 or b < 0:
        return None
    lines = [l for l in old[b:].rstrip("\n").split("\n") if not l.startswith("- scale")]
    lines += ["- " + l.strip() for l in open(cmds) if l.strip().startswith("scale")]
    return old[:a] + section + "\n" + "\n".join(lines).rstrip("\n") + "\n"


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--scale-into":
        # results.py --scale-into RESULTS.md DATA COMMANDS (git from the environment)
        rows = load(sys.argv[3])
        scale = {(r[1], r[2]): r[3] for r in rows if r[0] == "scale"}
        text = splice_scale(sys.argv[2], scale_section(scale, os.environ.get("GIT", "?")),
                            sys.argv[4])
        if text is None:
            sys.exit("results.py: no section 7 in %s" % sys.argv[2])
        sys.stdout.write(text)
        return
    data, cmds, size_txt, store_txt, duration, git = sys.argv[1:7]
    rows = load(data)
    info = {(r[1], r[2]): r[3] for r in rows if r[0] == "info"}
    tput = {(r[1], r[2]): r[3] for r in rows if r[0] == "tput"}
    rtt = {r[1]: r[3] for r in rows if r[0] == "rtt"}
    rate = {r[1]: r[3] for r in rows if r[0] == "rate"}
    mem = [r for r in rows if r[0] == "mem" and len(r) >= 5]
    mail = {(r[1], r[2]): r[3] for r in rows if r[0] == "mail"}
    scale = {(r[1], r[2]): r[3] for r in rows if r[0] == "scale"}

    def missing(path):
        for key in ("na", "failed"):
            if (path, key) in info:
                return info[(path, key)]
        return None

    measured = [p for p, _ in PATHS if any((p, c) in tput for c in CASES) or p in rtt]
    out = []
    w = out.append
    model, cores, kernel, memtotal = machine()
    w("# Benchmark results (`make bench`)\n")
    w("| | |\n|---|---|")
    w("| machine | %s, %s cores, %s RAM |" % (model, cores, memtotal))
    w("| kernel | Linux %s |" % kernel)
    w("| date | %s |" % time.strftime("%Y-%m-%d %H:%M %Z"))
    w("| source | `%s` |" % git)
    w("| run time | %s s |" % duration)
    note = os.environ.get("BENCH_NOTE")
    if note:
        w("| note | %s |" % note)
    w("")
    w("Everything ran in one network namespace made by `bench/run.sh` (loopback, plus a TAP "
      "device for the gateway); commands are listed at the end. \"n/a\" means the figure "
      "was not taken, with the reason.\n")

    # ---- 1. throughput
    w("## 1. Tunnel throughput (iperf3, Gbit/s)\n")
    w("up: cloud client -> internal server; down: `-R`, internal server -> cloud client "
      "(the direction mail takes).\n")
    w("| path | 1 stream up | 1 stream down | 100 streams up | 100 streams down |")
    w("|---|---:|---:|---:|---:|")
    for p, label in PATHS:
        why = missing(p)
        if why and p not in measured:
            w("| %s | %s | | | |" % (label, why))
            continue
        if p not in measured:
            continue
        w("| %s | %s |" % (label, " | ".join(tput.get((p, c), "n/a") for c in CASES)))
    for tun in ("gateway", "relay"):
        if tun not in measured:
            continue
        w("\nRatio of the tunnel through %s to each path (above 1: the tunnel is faster):\n"
          % ("the gateway" if tun == "gateway" else "the test gateway (relay row)"))
        w("| %s ÷ | 1 up | 1 down | 100 up | 100 down |" % tun)
        w("|---|---:|---:|---:|---:|")
        for p, label in PATHS:
            if p == tun or p not in measured or p == "fwd":
                continue
            cells = []
            for c in CASES:
                a, b = num(tput.get((tun, c))), num(tput.get((p, c)))
                cells.append("%.2f" % (a / b) if a and b else "n/a")
            w("| %s | %s |" % (label, " | ".join(cells)))
    if "fwd" in measured:
        w("\nThe relay and gateway rows go through `bench_fwd` (iperf3 cannot speak SOCKS5): "
          "they cannot exceed its own row.")
    for p in ("ssh", "stunnel"):
        for k in ("cipher", "tls"):
            if (p, k) in info:
                w("\n%s negotiated: %s." % (p, info[(p, k)]))
    w("\nThe relay's tunnel is TLS 1.2 (BearSSL) with AES-GCM or ChaCha20-Poly1305 as the "
      "peers agree; the alternatives run with their defaults.")

    # ---- 2. latency
    w("\n## 2. Added latency (1-byte echo round trip, µs)\n")
    w("| path | p50 | p99 | mean | p50 added over loopback |")
    w("|---|---:|---:|---:|---:|")
    base = num(kv(rtt.get("raw")).get("p50_us"))
    for p, label in PATHS:
        if p not in rtt:
            if missing(p):
                w("| %s | %s | | | |" % (label, missing(p)))
            continue
        d = kv(rtt[p])
        if "p50_us" not in d:
            w("| %s | failed: %s | | | |" % (label, rtt[p]))
            continue
        add = "%.1f" % (float(d["p50_us"]) - base) if base is not None and p != "raw" else ""
        w("| %s | %s | %s | %s | %s |" % (label, d["p50_us"], d["p99_us"], d["mean_us"], add))

    # ---- 3. memory
    w("\n## 3. Memory (peak RSS, KiB; VmHWM summed over each process tree)\n")
    w("Each column's peak was reset (`clear_refs`) before that phase. \"iperf3\" is the "
      "largest peak over the four iperf3 runs.\n")
    procs = []
    for r in mem:
        if (r[1], r[2]) not in procs:
            procs.append((r[1], r[2]))
    holds = []
    for r in mem:
        if r[3] not in holds and r[3] != "idle" and not r[3].startswith("iperf3"):
            holds.append(r[3])
    w("| path | process | idle | %s | iperf3 |" % " | ".join("%s streams" % h for h in holds))
    w("|---|---|---:|%s---:|" % ("---:|" * len(holds)))
    for p, proc in procs:
        vals = {r[3]: r[4] for r in mem if r[1] == p and r[2] == proc}
        ip = [int(v) for k, v in vals.items() if k.startswith("iperf3") and v.isdigit()]
        w("| %s | %s | %s | %s | %s |" % (p, proc, vals.get("idle", "n/a"),
                                          " | ".join(vals.get(h, "n/a") for h in holds),
                                          max(ip) if ip else "n/a"))
    if missing("gateway"):
        w("| gateway | gateway | %s | | |" % missing("gateway"))
    status = [r for r in rows if r[0] == "status" and len(r) >= 4]
    if status:
        w("\nThe gateway's own accounting at each phase (`show status`, its `ram:` line), "
          "beside the RSS above:\n")
        w("| phase | show status |")
        w("|---|---|")
        for r in status:
            w("| %s | %s |" % (r[2], r[3] or "no ram: line"))

    # ---- CPU and system calls per GB moved (steadier than Gbit/s on a shared machine)
    cpu = [r for r in rows if r[0] == "cpu" and len(r) >= 5]
    calls = {(r[1], r[2]): r[3] for r in rows if r[0] == "calls"}
    if cpu:
        w("\nCPU time per GB moved during each iperf3 run (user + system, ms; each process "
          "tree), and the gateway's read- and write-class system calls and context switches "
          "per MB:\n")
        w("| path | process | %s |" % " | ".join(CASES))
        w("|---|---|%s" % ("---:|" * len(CASES)))
        seen = []
        for r in cpu:
            if (r[1], r[2]) not in seen:
                seen.append((r[1], r[2]))
        for p, proc in seen:
            cells = []
            for c in CASES:
                v = [x[4].split() for x in cpu if x[1] == p and x[2] == proc and x[3] == c]
                ms, b = (int(v[0][0]), int(v[0][1])) if v and len(v[0]) == 2 else (0, 0)
                cells.append("%.0f" % (ms / (b / 1e9)) if b else "n/a")
            w("| %s | %s | %s |" % (p, proc, " | ".join(cells)))
        for (p, c), v in calls.items():
            f = v.split()
            if len(f) == 4 and int(f[3]) > 0:
                mb = int(f[3]) / 1e6
                w("\n%s, %s: %.1f reads, %.1f writes, %.1f context switches per MB." % (
                    p, c, int(f[0]) / mb, int(f[1]) / mb, int(f[2]) / mb))

    # ---- 4. connection rate
    w("\n## 4. Connection rate (new streams/s to a local echo service)\n")
    w("| path | streams/s | failed | concurrency |")
    w("|---|---:|---:|---:|")
    for p, label in PATHS:
        if p not in rate:
            if missing(p):
                w("| %s | %s | | |" % (label, missing(p)))
            continue
        d = kv(rate[p])
        if "per_s" not in d:
            w("| %s | failed: %s | | |" % (label, rate[p]))
            continue
        w("| %s | %s | %s | %s |" % (label, d["per_s"], d.get("failed", "?"), d.get("conc", "?")))

    # ---- 5. mail
    w("\n## 5. Mail: the whole mailbox from Dovecot into a Maildir\n")
    src = mail.get(("source", "mailbox"))
    if src:
        n, b = src.split()
        w("Source: %s messages, %.1f MB in Dovecot's INBOX; the Maildirs on %s.\n"
          % (n, int(b) / 1e6, mail.get(("source", "fs"), "?")))
    w("| client | messages | MB | seconds | messages/s | MB/s | peak RSS (KiB, largest process) |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for tool, label in (("gateway", "gateway IMAP receiver -> tunnel -> relay spool"),
                        ("mbsync", "mbsync (FSync yes), plain IMAP"),
                        ("mbsync-tls", "mbsync (FSync yes), IMAPS"),
                        ("fetchmail", "fetchmail -> bench_mda (fsync)")):
        v = mail.get((tool, "result"))
        if v is None:
            continue
        f = v.split()
        if len(f) < 5:
            w("| %s | %s | | | | | |" % (label, v))
            continue
        if tool == "gateway":
            # rc secs gateway_rss relay_rss n bytes: the gateway's own RSS is the column,
            # the relay's is said beside it.
            rc, secs, rss, rrss, n, b = f
            rss = "%s (relay %s)" % (rss, rrss)
        else:
            rc, secs, rss, n, b = f
        s = float(secs)
        status = "" if rc == "0" else " (%s)" % ("timed out" if rc == "timeout" else "exit " + rc)
        w("| %s%s | %s | %.1f | %.2f | %.0f | %.2f | %s |" % (
            label, status, n, int(b) / 1e6, s, int(n) / s if s else 0,
            int(b) / 1e6 / s if s else 0, rss))
    if ("gateway", "result") in mail:
        w("\nThe gateway reads each message over STARTTLS (TLS end to end through its tcp mapping), "
          "delivers it through the tunnel (TLS 1.2, yamux), and the relay writes it to the spool "
          "(tmp, fsync, rename, fsync dir) before the gateway marks it \\Seen; mbsync reads "
          "plain IMAP and IMAPS (TLS as its OpenSSL and Dovecot agree), fetchmail plain "
          "IMAP, on the same address.")
    ratios = []
    g = mail.get(("gateway", "result"), "").split()
    for tool in ("mbsync", "mbsync-tls"):
        f = mail.get((tool, "result"), "").split()
        if len(g) == 6 and len(f) == 5 and g[0] == "0" and f[0] == "0" and float(g[1]) > 0:
            ratios.append("%s %.2f" % (tool, float(f[1]) / float(g[1])))
    if ratios:
        w("\nThe gateway's speed as a multiple of (messages/s over): %s." % ", ".join(ratios))

    # ---- 6. image
    w("\n## 6. Image: stripped static `gateway` per architecture (`tools/size.sh`, as `make size`)\n")
    try:
        txt = open(size_txt).read().strip()
    except OSError:
        txt = "not run"
    w("```\n%s\n```" % txt)

    # ---- TLS suites
    try:
        txt = open(os.environ.get("SUITES_TXT", "")).read().strip()
        w("\nThe tunnel's AEADs as BearSSL runs them (`bench_suites`: 16 KiB records sealed, "
          "MB/s; aarch64 under qemu-user: compare only its ratio). The gateway offers "
          "ChaCha20-Poly1305 first where AES-GCM has no hardware (docs/protocol.md):\n")
        w("```\n%s\n```" % txt)
    except OSError:
        pass

    # ---- flash store
    try:
        txt = open(store_txt).read().strip()
        w("\nThe flash record store on this machine (`bench_store`, see bench/README.md):\n")
        w("```\n%s\n```" % txt)
    except OSError:
        pass

    # ---- 7. relay scale
    w("\n" + scale_section(scale, git))

    # ---- commands
    w("\n## Commands\n")
    for line in open(cmds):
        if line.strip():
            w("- " + line.strip())
    print("\n".join(out))


if __name__ == "__main__":
    main()
