#!/usr/bin/env bash
# The real gateway's IMAP receiver against hostile IMAP servers (issue 7), reached through a
# tcp mapping with security starttls: no STARTTLS capability, a PREAUTH greeting, lines
# injected behind the STARTTLS OK in the same packet, STARTTLS answered NO, and a tagged
# response sent ahead for a command not yet issued. Each is refused with a verdict that
# says why (log and `show imap`), and the password never leaves the box.
#
# Usage: test_imap_hostile.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
. "$(dirname "$0")/imap_e2e.sh"
e2e_setup 0 0
batch quiet "set imap enabled no" "commit"
e2e_gateway_start
t_wait_log gw 'tunnel: relay .* up' 30

check() { # MODE PORT VERDICT-REGEX
    local mode=$1 port=$2 want=$3
    python3 "$T_DIR/imap_hostile.py" 192.0.2.1 "$port" "$mode" "$T_TMP/seen-$mode" \
        > "$T_TMP/hostile-$mode.log" 2>&1 &
    T_PIDS+=($!)
    t_wait_log "hostile-$mode" listening 10
    console "mapping add $mode.example.test:143 192.0.2.1:$port tcp" \
        "set imap server $mode.example.test:143" "set imap security starttls" \
        "set imap enabled yes" "commit"
    t_wait_log gw "imap: .*$want" 20
    console "show imap"
    sleep 0.5
    grep -q "last error: .*$want" "$T_TMP/gw.log" || t_fail "$mode: show imap has no verdict"
    if grep -qiE 'LOGIN|AUTHENTICATE|m4rket|bWFya2V0' "$T_TMP/seen-$mode" 2>/dev/null; then
        t_fail "$mode: credentials were sent: $(cat "$T_TMP/seen-$mode")"
    fi
    t_log "$mode: refused, no credentials sent ($(grep -m1 -oE "imap: .*$want.*" "$T_TMP/gw.log"))"
}
check no-starttls 2001 'does not offer STARTTLS'
check preauth 2002 'greeting is PREAUTH'
check inject-after-ok 2003 'bytes arrived after the STARTTLS OK'
check starttls-no 2004 'starttls: NO'
check tagged-injection 2005 'tagged response g2 is not for the command in flight'
t_log PASS
