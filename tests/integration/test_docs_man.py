#!/usr/bin/env python3
"""The man pages say everything the binaries accept, and render cleanly.

    test_docs_man.py SRCDIR GATEWAY RELAY FLASHTOOL

For each binary, the options (--word) and commands (the word after the program's name on a
usage line) of its --help output must appear in the rendered page; every console form of
firmware/cmd_table.c must appear in gateway(8); every directive relay/config.c accepts
must appear in relay(8). `man --warnings -l` and `groff -mandoc -ww -z` must say nothing.
"""
import os
import re
import subprocess
import sys

src, gateway, relay, flashtool = sys.argv[1:5]
man_dir = os.path.join(src, "docs", "man")
failures = []


def help_text(binary):
    # relay has no --help: its usage (to stderr, exit 2) is what --help gets.
    r = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return r.stdout.decode("utf-8", "replace")


def words_of_help(name, text):
    opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    cmds = set()
    for line in text.splitlines():
        m = re.match(r"\s*(?:usage:)?\s*%s\s+([a-z][a-z0-9-]*)\b" % re.escape(name), line)
        if m:
            cmds.add(m.group(1))
    return sorted(opts), sorted(cmds)


def render(page):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="200")
    r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=60)
    if r.returncode != 0 or r.stderr.strip():
        failures.append("%s: man --warnings -l: rc %d: %s"
                        % (page, r.returncode, r.stderr.decode().strip()))
    g = subprocess.run(["groff", "-mandoc", "-ww", "-z", page], stderr=subprocess.PIPE,
                       timeout=60)
    if g.returncode != 0 or g.stderr.strip():
        failures.append("%s: groff -ww: %s" % (page, g.stderr.decode().strip()))
    text = re.sub(r".\x08", "", r.stdout.decode("utf-8", "replace"))
    # hyphenation at line ends ("vir-\n tual") and Unicode dashes must not hide a word
    text = text.replace("\u2010", "-").replace("\u2212", "-")
    return " ".join(text.split())


def need(page, text, what, rendered):
    if " ".join(what.split()) not in rendered:
        failures.append("%s: does not mention %r (%s)" % (os.path.basename(page), what, text))


pages = {
    "gateway": (gateway, os.path.join(man_dir, "gateway.8")),
    "relay": (relay, os.path.join(man_dir, "relay.8")),
    "flashtool": (flashtool, os.path.join(man_dir, "flashtool.1")),
}
rendered = {}
for name, (binary, page) in pages.items():
    if not os.path.exists(page):
        failures.append("%s: missing" % page)
        continue
    rendered[name] = render(page)
    opts, cmds = words_of_help(name, help_text(binary))
    if not opts and not cmds:
        failures.append("%s --help: no options found in its output" % binary)
    for w in opts:
        need(page, "option of %s --help" % name, w, rendered[name])
    for w in cmds:
        need(page, "command of %s --help" % name, w, rendered[name])
    print("%s: %d options, %d commands: %s" % (name, len(opts), len(cmds), " ".join(opts + cmds)))

# Options the code accepts, whether or not --help names them: getopt_long tables and
# "--word" literals compared against argv in each program's main file.
sources = {"gateway": "board/linux/main.c", "relay": "relay/main.c", "flashtool": "tools/flashtool.c"}
for name, rel in sources.items():
    with open(os.path.join(src, rel), encoding="utf-8") as f:
        code = f.read()
    accepted = set(re.findall(r'\{\s*"([a-z][a-z0-9-]*)",\s*(?:no|required|optional)_argument', code))
    accepted = {"--" + o for o in accepted}
    accepted |= set(re.findall(r'"(--[a-z][a-z0-9-]*)"', code))
    for o in sorted(accepted):
        need(pages[name][1], "option accepted by %s" % rel, o, rendered.get(name, ""))
    print("%s: %d options accepted by the code: %s" % (name, len(accepted), " ".join(sorted(accepted))))

# The console language: every form of the command table that help lists (those with a help
# text; the others are restores and catch-alls).
with open(os.path.join(src, "firmware", "cmd_table.c"), encoding="utf-8") as f:
    grammar = f.read()
table = grammar[grammar.index("cmd_forms[] = {"):]
table = table[:table.index("};")]
forms = re.findall(r'\{\s*"([^"]+)",\s*"', table)
for form in forms:
    need(pages["gateway"][1], "console form", form, rendered.get("gateway", ""))
print("gateway: %d console forms" % len(forms))

# The relay's configuration directives: the words relay/config.c compares the first token to.
with open(os.path.join(src, "relay", "config.c"), encoding="utf-8") as f:
    config = f.read()
directives = set(re.findall(r'strcmp\((?:d|w), "([a-z-]+)"\)', config))
directives |= set(re.findall(r'"([a-z-]+)"', config[config.index("need[] ="):][:200]))
directives.add("token-sha256")
for d in sorted(directives):
    need(pages["relay"][1], "relay directive", d, rendered.get("relay", ""))
print("relay: %d directives: %s" % (len(directives), " ".join(sorted(directives))))

if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("ok: the man pages name every option, command, console form and directive")
