#!/usr/bin/env python3
"""Turn bench/run.sh's figures into bench/results.md (markdown on stdout).

usage: results.py DATA COMMANDS SIZE_TXT STORE_TXT DURATION_S GIT_DESCRIBE
DATA has one figure per line, "run|section|path|key|value" ("mem" lines carry
"run|mem|path|process|state|value"); a line without the run belongs to run 1. With several
runs (BENCH_RUNS) each figure is their median with the range in brackets, "1.98
(1.90-2.05)"; a ratio is taken per run, then its median and range. A figure that could not
be taken is said so, never guessed.
"""
import os
import platform
import re
import sys
import time

PATHS = [
    ("raw", "loopback (ceiling)"),
    ("ssh", "ssh -R via sshd (OpenSSH)"),
    ("stunnel", "stunnel pair, mutual TLS"),
    ("relay", "relay SOCKS5 -> tunnel -> test_relay_gw (kernel sockets)"),
    ("gateway", "relay SOCKS5 -> tunnel -> gateway (lwIP, TAP)"),
    ("gwpacket", "relay SOCKS5 -> tunnel -> gateway (lwIP, AF_PACKET on veth)"),
]
TUNNELS = (("gateway", "the gateway on a TAP"), ("gwpacket", "the gateway on AF_PACKET"),
           ("relay", "the test gateway (relay row)"))
CASES = ["1 up", "1 down", "100 up", "100 down"]
ALTERNATIVES = ["ssh", "stunnel"]


def load_runs(path):
    """[(run, [section, path, key, value...])]"""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            run = 1
            if parts and parts[0].isdigit():
                run = int(parts[0])
                parts = parts[1:]
            if len(parts) >= 4:
                rows.append((run, parts))
    return rows


def load(path):
    return [p for _, p in load_runs(path)]


def per_run(rr, section, key=lambda r: (r[1], r[2]), val=lambda r: r[3]):
    """{run: {key: value}} of one section."""
    out = {}
    for run, r in rr:
        if r[0] == section:
            out.setdefault(run, {})[key(r)] = val(r)
    return out


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def spread(vals, fmt="%.2f"):
    """Median and range of the numbers in vals ("1.98 (1.90-2.05)"); None entries are runs
    where the figure failed, said so. A lone value is printed alone."""
    ok = [v for v in vals if v is not None]
    if not ok:
        return "n/a"
    s = fmt % median(ok)
    if len(ok) > 1:
        s += " (%s-%s)" % (fmt % min(ok), fmt % max(ok))
    if len(ok) < len(vals):
        s += " (%d of %d runs failed)" % (len(vals) - len(ok), len(vals))
    return s


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
    kernel = platform.release()
    try:
        # Every TCP path here runs on it (the namespace inherits it): BBR and CUBIC rank the
        # paths differently on this machine (bench/README.md, issue 21's round 4).
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            kernel += ", TCP congestion control %s" % f.read().strip()
    except OSError:
        pass
    return model, os.cpu_count(), kernel, mem


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
    rr = load_runs(data)
    rows = [r for _, r in rr]
    info = {(r[1], r[2]): r[3] for r in rows if r[0] == "info"}
    tput_r = per_run(rr, "tput")
    rtt_r = per_run(rr, "rtt", key=lambda r: r[1])
    rate_r = per_run(rr, "rate", key=lambda r: r[1])
    mem = [(run, r) for run, r in rr if r[0] == "mem" and len(r) >= 5]
    mail_r = per_run(rr, "mail")
    mail = {(r[1], r[2]): r[3] for r in rows if r[0] == "mail"}
    scale = {(r[1], r[2]): r[3] for r in rows if r[0] == "scale"}
    tput_runs = sorted(tput_r)
    path_runs = sorted(set(tput_r) | set(rtt_r))

    def missing(path):
        for key in ("na", "failed"):
            if (path, key) in info:
                return info[(path, key)]
        return None

    def tput_cell(p, c):
        vals = [tput_r[run].get((p, c)) for run in tput_runs]
        if len(vals) == 1 and vals[0] is not None and num(vals[0]) is None:
            return vals[0]          # one run, failed: its reason
        return spread([num(v) for v in vals])

    measured = [p for p, _ in PATHS
                if any((p, c) in tput_r[run] for run in tput_runs for c in CASES)
                or any(p in rtt_r[run] for run in rtt_r)]
    out = []
    w = out.append
    model, cores, kernel, memtotal = machine()
    runs = max([run for run, _ in rr] or [1])
    w("# Benchmark results (`make bench`)\n")
    w("| | |\n|---|---|")
    w("| machine | %s, %s cores, %s RAM |" % (model, cores, memtotal))
    w("| kernel | Linux %s |" % kernel)
    w("| date | %s |" % time.strftime("%Y-%m-%d %H:%M %Z"))
    w("| source | `%s` |" % git)
    w("| run time | %s s |" % duration)
    w("| runs | %d of the paths and the mail section (`BENCH_RUNS`): each figure is the "
      "median, the range in brackets; a ratio is taken per run |" % runs)
    note = os.environ.get("BENCH_NOTE")
    if note:
        w("| note | %s |" % note)
    w("")
    w("Everything ran in one network namespace made by `bench/run.sh` (loopback, plus a TAP "
      "device or a veth pair for the gateway); commands are listed at the end. \"n/a\" means the figure "
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
        w("| %s | %s |" % (label, " | ".join(tput_cell(p, c) for c in CASES)))
    for tun, who in TUNNELS:
        if tun not in measured:
            continue
        w("\nRatio of the tunnel through %s to each path (above 1: the tunnel is faster):\n"
          % who)
        w("| %s ÷ | 1 up | 1 down | 100 up | 100 down |" % tun)
        w("|---|---:|---:|---:|---:|")
        for p, label in PATHS:
            if p == tun or p not in measured:
                continue
            cells = []
            for c in CASES:
                ratios = []
                for run in tput_runs:
                    a, b = num(tput_r[run].get((tun, c))), num(tput_r[run].get((p, c)))
                    ratios.append(a / b if a and b else None)
                cells.append(spread(ratios))
            w("| %s | %s |" % (label, " | ".join(cells)))
    fair_r = per_run(rr, "fair")
    fair_cases = [c for c in CASES if not c.startswith("1 ")]
    fair_paths = [(p, label) for p, label in PATHS
                  if any((p, c) in fair_r[run] for run in fair_r for c in fair_cases)]
    if fair_paths:
        w("\nShares among the streams: the bytes of the stream that carried least over those of "
          "the one that carried most (1.00: all the same):\n")
        w("| path | %s |" % " | ".join("%s streams %s" % tuple(c.split()) for c in fair_cases))
        w("|---|" + "---:|" * len(fair_cases))
        for p, label in fair_paths:
            w("| %s | %s |" % (label, " | ".join(
                spread([num(fair_r[run].get((p, c))) for run in sorted(fair_r)])
                for c in fair_cases)))
    if any(t in measured for t, _ in TUNNELS):
        w("\nThe relay and gateway rows: iperf3 speaks SOCKS5 through proxychains4 (its library "
          "does the handshake inside `connect()`, then leaves the socket alone), as a cloud "
          "application with a SOCKS5 library would; ssh -R and stunnel are reached at a plain "
          "port. No forwarding process is in any path.")
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
    rtt_runs = sorted(rtt_r)
    for p, label in PATHS:
        lines = [rtt_r[run].get(p) for run in rtt_runs]
        if not any(lines):
            if missing(p):
                w("| %s | %s | | | |" % (label, missing(p)))
            continue
        d = [kv(x) for x in lines]
        if not any("p50_us" in x for x in d):
            w("| %s | failed: %s | | | |" % (label, next(x for x in lines if x)))
            continue
        col = lambda k: spread([num(x.get(k)) for x in d], "%.1f")
        added = ""
        if p != "raw":
            adds = []
            for run, x in zip(rtt_runs, d):
                base = num(kv(rtt_r[run].get("raw")).get("p50_us"))
                a = num(x.get("p50_us"))
                adds.append(a - base if a is not None and base is not None else None)
            if any(v is not None for v in adds):
                added = spread(adds, "%.1f")
        w("| %s | %s | %s | %s | %s |" % (label, col("p50_us"), col("p99_us"), col("mean_us"),
                                          added))

    # ---- 3. memory
    w("\n## 3. Memory (peak RSS, KiB; VmHWM summed over each process tree)\n")
    w("Each column's peak was reset (`clear_refs`) before that phase. \"iperf3\" is the "
      "largest peak over the four iperf3 runs. Streams are held open in the first run "
      "only (a peak with N streams varies little between runs).\n")
    procs = []
    for _, r in mem:
        if (r[1], r[2]) not in procs:
            procs.append((r[1], r[2]))
    holds = []
    for _, r in mem:
        if r[3] not in holds and r[3] != "idle" and not r[3].startswith("iperf3"):
            holds.append(r[3])
    w("| path | process | idle | %s | iperf3 |" % " | ".join("%s streams" % h for h in holds))
    w("|---|---|---:|%s---:|" % ("---:|" * len(holds)))
    mem_runs = sorted(set(run for run, _ in mem))
    for p, proc in procs:
        vals = {}
        for run, r in mem:
            if r[1] == p and r[2] == proc:
                vals.setdefault(run, {})[r[3]] = r[4]

        def mcell(state):
            got = [vals[run][state] for run in mem_runs if state in vals.get(run, {})]
            if not got:
                return "n/a"
            if len(got) == 1 and not got[0].isdigit():
                return got[0]
            return spread([int(v) if v.isdigit() else None for v in got], "%.0f")
        peaks = []
        for run in mem_runs:
            ip = [int(v) for k, v in vals.get(run, {}).items()
                  if k.startswith("iperf3") and v.isdigit()]
            if ip:
                peaks.append(max(ip))
        w("| %s | %s | %s | %s | %s |" % (p, proc, mcell("idle"),
                                          " | ".join(mcell(h) for h in holds),
                                          spread(peaks, "%.0f") if peaks else "n/a"))
    if missing("gateway"):
        w("| gateway | gateway | %s | | |" % missing("gateway"))
    status = [r for run, r in rr if r[0] == "status" and len(r) >= 4 and run == 1]
    if status:
        w("\nThe gateway's own accounting at each phase of the first run (`show status`, its "
          "`ram:` line), beside the RSS above:\n")
        w("| path | phase | show status |")
        w("|---|---|---|")
        for r in status:
            w("| %s | %s | %s |" % (r[1], r[2], r[3] or "no ram: line"))

    # ---- CPU and system calls per GB moved (steadier than Gbit/s on a shared machine)
    cpu = [(run, r) for run, r in rr if r[0] == "cpu" and len(r) >= 5]
    calls_r = per_run(rr, "calls")
    if cpu:
        w("\nCPU time per GB moved during each iperf3 run (user + system, ms; each process "
          "tree), and the gateway's read- and write-class system calls and context switches "
          "per MB:\n")
        w("| path | process | %s |" % " | ".join(CASES))
        w("|---|---|%s" % ("---:|" * len(CASES)))
        seen = []
        for _, r in cpu:
            if (r[1], r[2]) not in seen:
                seen.append((r[1], r[2]))
        cpu_runs = sorted(set(run for run, _ in cpu))
        for p, proc in seen:
            cells = []
            for c in CASES:
                per = []
                for run in cpu_runs:
                    v = [x[4].split() for rn, x in cpu
                         if rn == run and x[1] == p and x[2] == proc and x[3] == c]
                    ms, b = (int(v[0][0]), int(v[0][1])) if v and len(v[0]) == 2 else (0, 0)
                    per.append(ms / (b / 1e9) if b else None)
                cells.append(spread(per, "%.0f"))
            w("| %s | %s | %s |" % (p, proc, " | ".join(cells)))
        keys = []
        for run in sorted(calls_r):
            for k in calls_r[run]:
                if k not in keys:
                    keys.append(k)
        for p, c in keys:
            if p == "gwpacket":
                continue        # recvmmsg/sendmmsg are not counted in /proc/PID/io
            per = [[], [], []]
            for run in sorted(calls_r):
                f = calls_r[run].get((p, c), "").split()
                ok = len(f) == 4 and int(f[3]) > 0
                for i in range(3):
                    per[i].append(int(f[i]) / (int(f[3]) / 1e6) if ok else None)
            w("\n%s, %s: %s reads, %s writes, %s context switches per MB." % (
                p, c, spread(per[0], "%.1f"), spread(per[1], "%.1f"), spread(per[2], "%.1f")))
        if any(p == "gwpacket" for p, _ in keys):
            w("\nThe AF_PACKET path has no such counts: `/proc/PID/io` counts `read()` and "
              "`write()`, not the `recvmmsg()` and `sendmmsg()` it moves frames with.")

    # ---- 4. connection rate
    w("\n## 4. Connection rate (new streams/s to a local echo service)\n")
    w("| path | streams/s | failed | concurrency |")
    w("|---|---:|---:|---:|")
    rate_runs = sorted(rate_r)
    for p, label in PATHS:
        lines = [rate_r[run].get(p) for run in rate_runs]
        if not any(lines):
            if missing(p):
                w("| %s | %s | | |" % (label, missing(p)))
            continue
        d = [kv(x) for x in lines]
        if not any("per_s" in x for x in d):
            w("| %s | failed: %s | | |" % (label, next(x for x in lines if x)))
            continue
        w("| %s | %s | %s | %s |" % (label, spread([num(x.get("per_s")) for x in d], "%.0f"),
                                     spread([num(x.get("failed")) for x in d], "%.0f"),
                                     next((x["conc"] for x in d if "conc" in x), "?")))

    # ---- 5. mail
    w("\n## 5. Mail: the whole mailbox from Dovecot into a Maildir\n")
    src = mail.get(("source", "mailbox"))
    wan_ms = mail.get(("source", "wan_ms"), "50")
    if src:
        n, b = src.split()
        w("Source: %s messages, %.1f MB in Dovecot's INBOX; the Maildirs on %s.\n"
          % (n, int(b) / 1e6, mail.get(("source", "fs"), "?")))
    w("| client | messages | MB | seconds | messages/s | MB/s | peak RSS (KiB, largest process) |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    mail_runs = sorted(mail_r)
    MAIL_ROWS = (("gateway", "gateway (STARTTLS) -> tunnel -> relay spool"),
                 ("gateway-imaps", "gateway (IMAPS) -> tunnel -> relay spool"),
                 ("gateway-wan", "gateway (STARTTLS), %s ms RTT to the relay" % wan_ms),
                 ("mbsync", "mbsync (FSync yes), plain IMAP"),
                 ("mbsync-tls", "mbsync (FSync yes), IMAPS"),
                 ("fetchmail", "fetchmail -> bench_mda (fsync)"))

    def mail_runs_of(tool):
        """[(run, rc, secs, rss, relay_rss or None, n, bytes)] of the runs that gave a line."""
        got = []
        for run in mail_runs:
            v = mail_r[run].get((tool, "result"))
            if v is None:
                continue
            f = v.split()
            if tool.startswith("gateway") and len(f) == 6:
                got.append((run, f[0], float(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5])))
            elif len(f) == 5:
                got.append((run, f[0], float(f[1]), int(f[2]), None, int(f[3]), int(f[4])))
            else:
                got.append((run, v, None, None, None, None, None))
        return got

    def rate(tool):
        """{run: messages/s} of the runs that fetched the whole mailbox."""
        return {g[0]: g[5] / g[2] for g in mail_runs_of(tool) if g[1] == "0" and g[2]}

    for tool, label in MAIL_ROWS:
        got = mail_runs_of(tool)
        if not got:
            continue
        good = [g for g in got if g[1] == "0" and g[2]]
        bad = ["run %d: %s" % (g[0], "timed out" if g[1] == "timeout" else
                               ("exit " + g[1]) if g[2] is not None else g[1])
               for g in got if g not in good]
        if bad:
            label += " (%s)" % "; ".join(bad)
        if not good:
            w("| %s | | | | | | |" % label)
            continue
        ns = sorted(set(g[5] for g in good))
        rss = spread([g[3] for g in good], "%.0f")
        if good[0][4] is not None:
            rss += " (relay %s)" % spread([g[4] for g in good], "%.0f")
        w("| %s | %s | %.1f | %s | %s | %s | %s |" % (
            label, ns[0] if len(ns) == 1 else spread(ns, "%.0f"),
            median([g[6] for g in good]) / 1e6, spread([g[2] for g in good]),
            spread([g[5] / g[2] for g in good], "%.0f"),
            spread([g[6] / 1e6 / g[2] for g in good]), rss))
    if ("gateway", "result") in mail:
        w("\nThe gateway reads each message over STARTTLS or IMAPS (TLS end to end through "
          "its tcp mapping; plain IMAP it refuses over a tcp mapping, the password would "
          "cross in clear), delivers it through the tunnel "
          "(TLS 1.2, yamux), and the relay writes it to the spool (tmp, fsync, rename, fsync "
          "dir) before the gateway marks it \\Seen; its time runs from its start (boot, "
          "tunnel, login) to the last message in the spool, looked at every 20 ms. mbsync "
          "reads plain IMAP and IMAPS (TLS as its OpenSSL and Dovecot agree), fetchmail "
          "plain IMAP (first run only), on the same address.")
    ratios = []
    for a, b, label in (("gateway", "mbsync-tls", "gateway (STARTTLS) / mbsync IMAPS"),
                        ("gateway-imaps", "mbsync-tls", "gateway (IMAPS) / mbsync IMAPS"),
                        ("gateway", "mbsync", "gateway (STARTTLS) / mbsync plain"),
                        ("gateway-wan", "gateway", "gateway at %s ms RTT / gateway" % wan_ms)):
        ra, rb = rate(a), rate(b)
        per = [ra[run] / rb[run] for run in mail_runs if run in ra and run in rb]
        if per:
            ratios.append("%s %s" % (label, spread(per)))
    if ratios:
        w("\nThe gateway's speed (messages/s) as a multiple of its peer's, per run: %s."
          % "; ".join(ratios))
    wan = [(run, kv(mail_r[run].get(("gateway-wan", "rtt"), "").replace(":", "=")))
           for run in mail_runs if ("gateway-wan", "rtt") in mail_r[run]]
    if wan:
        w("\nThe %s ms row: the gateway on `--net stream:SOCK` with `bench_delay` between that "
          "socket and the TAP (bench/bench_delay.c: the frames of the relay's tunnel port "
          "wait %s ms each way in a bounded queue, Dovecot's pass at once; the kernel here "
          "has no `sch_netem` for `tc netem`). Round trip the relay's kernel measured on "
          "the gateway's tunnel connection (`ss -ti`), smoothed / minimum: %s / %s ms."
          % (wan_ms, num(wan_ms) / 2 if num(wan_ms) else "?",
             spread([num(d.get("rtt")) for _, d in wan], "%.1f"),
             spread([num(d.get("minrtt")) for _, d in wan], "%.1f")))
        stats = [mail_r[run].get(("gateway-wan", "delay"), "") for run in mail_runs]
        st = [kv(x) for x in stats if x]
        if st:
            w("bench_delay's counters per run (late: past the frame's due time, up: gateway "
              "to relay, down: towards the gateway, where a due frame waits for room behind "
              "the LAN's data on the one socket to the gateway): %s." % "; ".join(
                "dropped at the full queue %s, at most %s / %s frames queued up / down, "
                "at most %s / %s µs late up / down" % (
                    d.get("dropped_queue_full", "?"), d.get("max_queued_up", "?"),
                    d.get("max_queued_down", "?"), d.get("late_up_max_us", "?"),
                    d.get("late_down_max_us", "?")) for d in st))
    win = mail.get(("source", "window"), "").split()
    if wan and len(win) == 2 and num(wan_ms):
        snd = int(win[0])
        w("The gateway's lwIP TCP sees that round trip as a real WAN's: its tunnel "
          "connection's send buffer and receive window are %d and %s bytes "
          "(`GW_TCP_SND_BUF_WAN`, `TCP_WND` in `net/port/lwipopts.h`), so that connection "
          "carries at most %d bytes per round trip, %.2f MB/s at %s ms: the tunnel (one TCP "
          "connection) needs at least %.1f s for this mailbox, whatever the protocol above "
          "it does." % (snd, win[1], snd, snd / (num(wan_ms) / 1000) / 1e6, wan_ms,
                        (int(src.split()[1]) if src else 0) / (snd / (num(wan_ms) / 1000))))
    rams = [(label, mail_r[1].get(("gateway-" + tool, "ram")))
            for tool, label in (("tls", "STARTTLS"), ("imaps", "IMAPS"),
                                ("wan", "%s ms RTT" % wan_ms))
            if 1 in mail_r and mail_r[1].get(("gateway-" + tool, "ram")) is not None]
    if rams:
        w("\nThe gateway's own accounting right after the last message (`show status`, its "
          "`ram:` line; first run), beside the peak RSS above:\n")
        w("| row | show status |")
        w("|---|---|")
        for label, v in rams:
            w("| %s | %s |" % (label, v or "no ram: line"))

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
