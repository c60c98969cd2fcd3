#!/usr/bin/env python3
"""Check the one-way layers: a folder's files include only headers of the layers below it.

    tools/check_layers.py [--root DIR]

Exit 0 when every #include "..." of our C sources keeps the rule, 1 listing each one that
does not (file:line, the header, the layer it belongs to), 2 on a usage error.

The layers, lowest first (docs/architecture.md, "Layers"):

    base            log, byte order, wipe, hex, base64, HOST:PORT, CRC-32, tokenizer, escaping
    proto, tls      the pure protocol engines; BearSSL glue
    lwip            lwIP and its port (net/port: options, hooks); the board HAL (board/)
    board/<board>   a board's implementation of the HAL (board/linux, board/virt)
    net             the lwIP glue: byte streams, TLS connections, endpoints
    firmware        store, config, services, console (firmware/store, firmware/config below)
    relay           the cloud side: base, proto and tls only

A board's main.c is the image's entry point and may call the firmware (gateway.h, the
log's ring). Tests, benches and tools may include anything.
"""
import os
import re
import sys

# Each folder, and the folders (or third-party headers) its files may include besides its
# own. "lwip" and "bearssl" stand for the third-party headers.
ALLOWED = {
    "base": set(),
    "proto": {"base"},
    "tls": {"base", "bearssl"},
    "net/port": {"base", "tls", "lwip"},
    "board": {"base", "lwip", "net/port"},
    "board/linux": {"base", "board", "lwip", "net/port"},
    "board/virt": {"base", "board", "lwip", "net/port"},
    "net": {"base", "tls", "board", "lwip", "net/port", "bearssl"},
    "firmware/store": {"base", "board"},
    "firmware/config": {"base", "tls", "board", "firmware/store", "bearssl"},
    "firmware": {"base", "proto", "tls", "board", "net", "net/port", "lwip", "bearssl",
                 "firmware/store", "firmware/config"},
    "relay": {"base", "proto", "tls", "bearssl"},
}
ENTRY_POINTS = {"board/linux/main.c", "board/virt/main.c"}
ENTRY_ALLOWED = {"firmware"}
THIRD_PARTY = {"bearssl.h": "bearssl"}


def header_index(root):
    """Every header of ours: its file name -> the folder it lives in."""
    index = {}
    for folder in ALLOWED:
        d = os.path.join(root, folder)
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.endswith(".h"):
                index.setdefault(f, folder)
    return index


def layer_of(name, index):
    if name.startswith("lwip/") or name.startswith("netif/") or name.startswith("arch/"):
        return "lwip"
    if name in THIRD_PARTY:
        return THIRD_PARTY[name]
    return index.get(os.path.basename(name))


def main(argv):
    root = "."
    if len(argv) == 3 and argv[1] == "--root":
        root = argv[2]
    elif len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    index = header_index(root)
    bad = []
    checked = 0
    for folder, allowed in sorted(ALLOWED.items()):
        d = os.path.join(root, folder)
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if not f.endswith((".c", ".h")):
                continue
            rel = f"{folder}/{f}"
            ok = allowed | {folder} | (ENTRY_ALLOWED if rel in ENTRY_POINTS else set())
            with open(os.path.join(d, f), encoding="utf-8") as src:
                for n, line in enumerate(src, 1):
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    if not m:
                        continue
                    checked += 1
                    layer = layer_of(m.group(1), index)
                    if layer is not None and layer not in ok:
                        bad.append(f"{rel}:{n}: includes {m.group(1)} ({layer})")
    if bad:
        print(f"{len(bad)} includes against the layers (tools/check_layers.py):")
        print("\n".join(bad))
        return 1
    print(f"layers: {checked} includes checked, all downward")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
