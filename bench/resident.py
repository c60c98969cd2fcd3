#!/usr/bin/env python3
"""What of a static image's writable memory is resident now, by symbol.

    python3 bench/resident.py PID ELF [N]

Reads /proc/PID/pagemap (root) for every page of the process's writable mappings, keeps the
present ones, and charges each to the symbols of ELF (`nm -S`: .data and .bss objects) that
overlap it, so a page shared by small objects is counted once, under the largest. Prints the
N (30) largest, then the totals: resident KiB in symbols, in the rest (stack, musl's heap,
gaps), and per mapping. bench/run.sh runs it on the idle gateway (bench-logs/resident-*.txt).
"""
import bisect
import struct
import subprocess
import sys

PAGE = 4096


def symbols(elf):
    out = subprocess.run(["nm", "-S", "--defined-only", elf], capture_output=True, text=True,
                         check=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "bBdDsSgG" and int(f[1], 16) > 0:
            syms.append((int(f[0], 16), int(f[1], 16), f[3]))
    syms.sort()
    return syms


def maps(pid):
    res = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if "w" in f[1]:
                res.append((lo, hi, f[5] if len(f) > 5 else "[anon]"))
    return res


def present(pid, lo, hi):
    pages = []
    with open("/proc/%d/pagemap" % pid, "rb") as f:
        f.seek(lo // PAGE * 8)
        data = f.read((hi - lo) // PAGE * 8)
    for i in range(len(data) // 8):
        (v,) = struct.unpack_from("<Q", data, i * 8)
        if v >> 63:
            pages.append(lo + i * PAGE)
    return pages


def main():
    pid, elf = int(sys.argv[1]), sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    syms = symbols(elf)
    starts = [s[0] for s in syms]
    by_sym, other, per_map = {}, 0, []
    for lo, hi, name in maps(pid):
        pages = present(pid, lo, hi)
        per_map.append((name, lo, hi, len(pages) * 4))
        for p in pages:
            # The largest symbol overlapping [p, p + PAGE).
            i = bisect.bisect_right(starts, p + PAGE - 1) - 1
            best = None
            while i >= 0 and syms[i][0] + syms[i][1] > p - (1 << 24):
                a, n, s = syms[i]
                if a < p + PAGE and a + n > p and (best is None or n > best[1]):
                    best = (a, n, s)
                if a + (1 << 24) < p:
                    break
                i -= 1
            if best is None:
                other += 4
            else:
                by_sym[best[2]] = by_sym.get(best[2], 0) + 4
    total = sum(by_sym.values())
    for s, kib in sorted(by_sym.items(), key=lambda x: -x[1])[:top]:
        print("%8d KiB  %s" % (kib, s))
    print("%8d KiB  in symbols (%d symbols with resident pages)" % (total, len(by_sym)))
    print("%8d KiB  elsewhere (stack, heap, gaps)" % other)
    for name, lo, hi, kib in per_map:
        print("%8d KiB  of %d KiB writable %s %x-%x" % (kib, (hi - lo) // 1024, name, lo, hi))


if __name__ == "__main__":
    main()
