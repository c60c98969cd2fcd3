#!/usr/bin/env python3
"""Image size by component, from the GNU ld map of a static gateway image.

usage: size_report.py ARCH STRIPPED_BYTES MAPFILE
Sums the allocated input sections the linker kept (text, rodata, data, bss) per component:
ours (the project's libraries and objects), lwIP, BearSSL, musl, the compiler runtime.
"""
import re
import sys

SECTIONS = ("text", "rodata", "data", "bss")


def component(path):
    name = path.rsplit("/", 1)[-1]
    if "liblwip.a" in name:
        return "lwIP"
    if "libbearssl.a" in name:
        return "BearSSL"
    if "musl" in path or name.startswith("libc.a") or name.startswith(("crt1", "crti", "crtn", "Scrt1")):
        return "musl"
    if "libgcc" in name or "crtbegin" in name or "crtend" in name:
        return "gcc runtime"
    return "ours"


def kind(section):
    s = section.lstrip(".")
    for k in SECTIONS:
        if s == k or s.startswith(k + ".") or (k == "data" and s.startswith(("data.rel", "tdata"))) \
                or (k == "bss" and s.startswith(("tbss", "sbss"))):
            return k
    if s.startswith(("init_array", "fini_array", "got", "eh_frame", "init", "fini")):
        return "rodata"
    return None


def parse(mapfile):
    totals = {}
    in_map = False
    pending = None
    line_re = re.compile(r"^ (\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    for line in open(mapfile, encoding="utf-8", errors="replace"):
        if line.startswith("Linker script and memory map"):
            in_map = True
            continue
        if not in_map:
            continue
        m = line_re.match(line)
        if m is None:
            m2 = re.match(r"^ (\.\S+)\s*$", line)
            pending = m2.group(1) if m2 else None
            continue
        section = m.group(1) or pending
        pending = None
        if section is None:
            continue
        size = int(m.group(3), 16)
        path = m.group(4).strip()
        k = kind(section)
        if k is None or size == 0 or path.startswith("load address"):
            continue
        c = component(path)
        totals.setdefault(c, dict.fromkeys(SECTIONS, 0))[k] += size
    return totals


def main():
    arch, stripped, mapfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    totals = parse(mapfile)
    print(f"{arch}: stripped static image {stripped} bytes ({stripped / 1024:.1f} KiB)")
    print(f"  {'component':<12} {'text':>9} {'rodata':>9} {'data':>8} {'bss':>9} {'in image':>9}")
    for c, t in sorted(totals.items(), key=lambda kv: -(kv[1]["text"] + kv[1]["rodata"])):
        image = t["text"] + t["rodata"] + t["data"]
        print(f"  {c:<12} {t['text']:>9} {t['rodata']:>9} {t['data']:>8} {t['bss']:>9} {image:>9}")


if __name__ == "__main__":
    main()
