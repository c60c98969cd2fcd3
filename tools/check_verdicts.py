#!/usr/bin/env python3
"""Check that docs/troubleshooting.md names every verdict and error the gateway, the relay
and flashtool print for operators.

    tools/check_verdicts.py [--root DIR] [--page FILE] [--list]

Exit 0 when every verdict is on the page, 1 listing the missing ones (file:line and the
text to add), 2 on a usage error. --list prints every verdict found, with its fixed text.

The rule (keep it, and the page header, in step):

1. Only the files in SOURCES are read (globs; a file that does not exist yet is skipped).
2. In those files, a *verdict* is a C string literal (adjacent literals joined) that is
   a. an argument of a call to a function or macro named in SINKS (log lines, console
      errors, the relay's close/refuse reasons, TLS verdict setters ...), or
   b. an argument of snprintf/vsnprintf whose destination is a buffer named in DESTS
      (verdict, error, err, why, buf ...), or of fprintf(stderr, ...), or
   c. assigned to a variable or member named in DESTS (`why = "..."`,
      `s->verdict = "..."`), or
   d. in a `return` statement of a function that returns `const char *` (the code's
      "or why not" helpers: `socks5_reply_text`, `store_strerror`, `pairing` ...), except
      the few in NOT_TEXT_FUNCS that return names rather than verdicts, or
   e. in a table named in TABLES (per file), or
   f. the value of a `#define NAME "..."` from these files or their headers when NAME is
      used as such an argument.
   Literals in a ternary are each a verdict of their own.
3. A verdict's *fixed text* is the literal cut at its printf conversions (%s, %u, %02x,
   %.40s, ...): each piece that holds a letter must appear on the page. A leading
   "%s: " (the function name in relay/firmware log lines) is not text. The page is compared
   after removing Markdown backticks and backslash escapes and folding runs of blanks, so a
   verdict can be written `like this` with its wildcards as `...` or `NAME`.
4. IGNORE lists literals that a sink receives but that are not operator text (each with its
   reason).
"""
import argparse
import glob
import os
import re
import sys

SOURCES = [
    # Whole folders, so that a new service, helper or backend is checked from its first
    # verdict: the base layer, the protocol engines (yamux, SOCKS5, hello and delivery, IMAP),
    # the TLS glue, the lwIP glue (tls_conn, endpoints) and its port, the
    # firmware (console, config, store, settings, tunnel, mappings, IMAP receiver ...), the
    # Linux board (flash backends, network devices), the bare-metal virt board, the relay
    # and flashtool.
    "base/*.c", "proto/*.c", "tls/*.c", "net/*.c", "net/port/*.c", "firmware/*.c",
    "firmware/*/*.c",
    "board/*.c", "board/linux/*.c", "board/virt/*.c", "relay/*.c", "tools/flashtool.c",
]

# Calls whose string-literal arguments are operator text.
SINKS = {
    # log.h: the gateway's log ring and console, the relay's stderr
    "log_err", "log_warnx", "log_info", "log_msg",
    # console errors (console_cmds.c, console_*.c) and the board's start-up errors
    "fail", "cons_fail", "linux_err",
    # TLS and connection verdicts (tls_engine, tls_client, tls_server, tls_conn, endpoint)
    "fail_with", "set_verdict", "fail_now", "tls_conn_fail",
    # the configuration language (config_text.c) and the relay's file (relay/config.c)
    "expect", "bad",
    # the gateway's tunnel links and SOCKS5 splices, yamux violations, store damage
    "link_down", "reply", "slog", "violation", "report",
    # the relay: tunnel close reasons, SOCKS5 refusals and endings, delivery answers
    "tunnel_close", "refuse", "finish", "socks_finish", "answer",
    # the IMAP receiver (svc_imap.c), the certificate name check (hostname.c)
    "session_down", "sv_verdict", "imap_client_abort", "have_add",
    # the bare-metal board's trap-context console output (no printf there) and panics
    "virt_puts", "virt_panic",
}
# snprintf destinations and assignment targets that hold operator text.
DESTS = {"verdict", "error", "err", "why", "buf", "have", "reason", "time_why", "msg",
         "last_error", "v", "tmp", "what", "how", "text"}
# Functions returning `const char *` return verdicts ("or why it is refused"), except these,
# which return names.
NOT_TEXT_FUNCS = {
    "board_name",            # "linux-x86_64"
    "settings_hostname",     # "gateway" by default
    "cmd_name",              # IMAP command names in "COMMAND: NO TEXT"
    "timesync_source",       # "sntp" / "board clock" in show status
}
TABLES = {"tls/verdict.c": ["alerts"]}
# (file, literal): not operator text although a sink receives it.
IGNORE = {
    ("relay/tunnel_hello.c", "welcome"),   # the hello answer's text to the gateway, never logged
    ("tls/pwhash.c", "pbkdf2-sha256$%u$%s$%s"),   # the stored hash's format, not a message
}

LIT = r'"(?:[^"\\\n]|\\.)*"'


def strip_comments(src):
    """Blank out comments, keeping line numbers and string literals."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def unescape(s):
    return (s.replace('\\"', '"').replace("\\\\", "\x00").replace("\\n", "\n")
             .replace("\\t", "\t").replace("\x00", "\\"))


def literals(text):
    """The literal groups (adjacent literals joined) in an argument text."""
    groups = []
    for m in re.finditer(r'(?:%s\s*)+' % LIT, text):
        groups.append("".join(unescape(x[1:-1]) for x in re.findall(LIT, m.group(0))))
    return groups


def call_args(src, start):
    """The text between the '(' at src[start] and its matching ')'."""
    depth, i = 0, start
    while i < len(src):
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < len(src) and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            i = j
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return src[start + 1:i]
        i += 1
    return src[start + 1:]


def split_args(args):
    out, depth, cur, i = [], 0, [], 0
    while i < len(args):
        c = args[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < len(args) and args[j] != c:
                j += 2 if args[j] == "\\" else 1
            cur.append(args[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def last_ident(expr):
    ids = re.findall(r"[A-Za-z_]\w*", expr)
    return ids[-1] if ids else ""


def defines(root):
    """#define NAME "text" in the sources' folders (headers included)."""
    d = {}
    for folder in ("tls", "net", "firmware", "firmware/config", "firmware/store", "relay",
                   "board", "board/linux", "tools"):
        for path in glob.glob(os.path.join(root, folder, "*.[ch]")):
            with open(path, encoding="utf-8", errors="replace") as f:
                for m in re.finditer(r'^\s*#\s*define\s+(\w+)\s+((?:%s\s*)+)$' % LIT, f.read(),
                                     re.M):
                    d[m.group(1)] = literals(m.group(2))
    return d


def scan_file(root, rel, macros):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        src = strip_comments(f.read())
    src = re.sub(r"^[ \t]*#.*$", lambda m: " " * len(m.group(0)), src, flags=re.M)
    found = []

    def line_of(pos):
        return src.count("\n", 0, pos) + 1

    def add(pos, texts, how):
        for t in texts:
            if (rel, t) not in IGNORE:
                found.append((rel, line_of(pos), how, t))

    def from_args(pos, argtexts, how):
        for a in argtexts:
            add(pos, literals(a), how)
            for ident in re.findall(r"\b[A-Z][A-Z0-9_]+\b", a):
                if ident in macros:
                    add(pos, macros[ident], how + " via " + ident)

    for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(", src):
        name, open_at = m.group(1), m.end() - 1
        if name in SINKS:
            from_args(m.start(), split_args(call_args(src, open_at)), name)
        elif name in ("snprintf", "vsnprintf"):
            args = split_args(call_args(src, open_at))
            if last_ident(args[0]) in DESTS:
                from_args(m.start(), args[2:], "snprintf(" + last_ident(args[0]) + ")")
        elif name == "fprintf":
            args = split_args(call_args(src, open_at))
            if args[0].strip() == "stderr":
                from_args(m.start(), args[1:], "fprintf(stderr)")
    # c. assignments to a text variable or member (each '=' on its own: `x = f(); why = "..."`)
    rhs_re = re.compile(r"\s*((?:%s|[^;\"])*;)" % LIT)
    for m in re.finditer(r"([A-Za-z_][\w.>\-\[\]]*)\s*=(?!=)", src):
        if last_ident(m.group(1)) not in DESTS:
            continue
        rhs = rhs_re.match(src, m.end())
        if rhs and '"' in rhs.group(1):
            add(m.start(), literals(rhs.group(1)), "= " + last_ident(m.group(1)))
    # d. returns of functions that return const char *
    for m in re.finditer(r"^(?:static\s+)?(?:inline\s+)?const\s+char\s*\*\s*(\w+)\s*\([^;{]*\)\s*\{",
                         src, re.M):
        if m.group(1) in NOT_TEXT_FUNCS:
            continue
        depth, i = 0, m.end() - 1
        while i < len(src):
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            if depth == 0:
                break
            i += 1
        body = src[m.end():i]
        for r in re.finditer(r"\breturn\b((?:%s|[^;\"])*);" % LIT, body):
            add(m.end() + r.start(), literals(r.group(1)), m.group(1) + "()")
    # e. tables
    for table in TABLES.get(rel, []):
        t = re.search(r"\b%s\s*\[\s*\]\s*=\s*\{" % re.escape(table), src)
        if t:
            depth, i = 0, t.end() - 1
            while i < len(src):
                depth += {"{": 1, "}": -1}.get(src[i], 0)
                if depth == 0:
                    break
                i += 1
            add(t.start(), literals(src[t.end():i]), "table " + table)
    return found


CONV = re.compile(r"%[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|L|z|j|t)?[diouxXcspfFeEgGaA%]")


def fixed_pieces(text):
    text = re.sub(r"^%s: ", "", text)          # log_*("%s: ...", __func__, ...)
    pieces = []
    for p in CONV.split(text):
        p = " ".join(p.split())
        if re.search(r"[A-Za-z]", p):
            pieces.append(p)
    return pieces


def normalise_page(text):
    text = text.replace("`", "").replace("\\", "")
    return " ".join(text.split())


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--root", default=os.path.dirname(here))
    ap.add_argument("--page", default=None)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    page_path = a.page or os.path.join(a.root, "docs", "troubleshooting.md")
    macros = defines(a.root)
    verdicts = []
    for pattern in SOURCES:
        for path in sorted(glob.glob(os.path.join(a.root, pattern))):
            verdicts += scan_file(a.root, os.path.relpath(path, a.root), macros)
    seen, unique = set(), []
    for v in verdicts:
        key = (v[0], v[3])
        if key not in seen and fixed_pieces(v[3]):
            seen.add(key)
            unique.append(v)
    if a.list:
        for rel, line, how, text in unique:
            print("%s:%d: [%s] %s" % (rel, line, how, " | ".join(fixed_pieces(text))))
        print("%d verdicts" % len(unique), file=sys.stderr)
        return 0
    try:
        with open(page_path, encoding="utf-8") as f:
            page = normalise_page(f.read())
    except OSError as e:
        print("check_verdicts: %s" % e, file=sys.stderr)
        return 1
    missing = []
    for rel, line, how, text in unique:
        lost = [p for p in fixed_pieces(text) if normalise_page(p) not in page]
        if lost:
            missing.append("%s:%d: %r: missing %s" % (rel, line, text,
                                                     " and ".join(repr(p) for p in lost)))
    if missing:
        print("%s lacks %d of %d verdicts (add each, with cause and fix):"
              % (os.path.relpath(page_path, a.root), len(missing), len(unique)))
        print("\n".join(missing))
        return 1
    print("%s: all %d verdicts documented" % (os.path.relpath(page_path, a.root), len(unique)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
