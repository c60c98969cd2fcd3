#!/usr/bin/env bash
# Network text in the relay's log (issue 16, items 4 and 7): a cloud client sends CONNECT
# requests whose host names hold every byte value 0..255 (ESC, CR, LF, DEL, UTF-8, the
# backslash ...), user names with control bytes, requests that do not parse (SOCKS
# version 4, BIND, RSV set); a gateway delivers mail from a folder with a UTF-8 name.
#
#   every line of the relay's log is printable ASCII 0x20..0x7e (and its newline): each
#   other byte a peer sent is there as \xHH, the backslash too
#   a request that did not parse never shows a target (not the client's, not stale bytes)
#   the target is one quoted field: a '"' in a name (as %22) cannot end it and forge the
#   fields after it (review finding, issue 19)
#
# Usage: test_relay_log_escape.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
t_enter_netns "$@"
r_setup "$@"
r_gwcert gw1 loc1
r_config
r_relay
r_gw gw1 gw1 --map mail.example.test:143=7007
t_wait_log gw1 'tunnel up' 10

# ---- every byte value in a host name ----
out=$($PY names $SOCKS loc1 "$TOKEN1" 80) || t_fail "names: $out"
t_log "host names with each byte: $out"
# Byte 0 is not a name (malformed: 0x01); the gateway maps none of the others (0x02).
[ "$out" = "257 requests: reply 1: 1 reply 2: 256" ] || t_fail "replies: $out"

# ---- requests that do not parse: no target in the log ----
# First a request that parses, so its host is what an unset buffer would still hold.
[ "$($PY raw $SOCKS loc1 "$TOKEN1" 050100031473746174652d7461726765742e6578616d706c650050)" = \
  "reply 2" ] || t_fail "stale-target request"
for req in 040100031473746174652d7461726765742e6578616d706c650050 \
           050107031473746174652d7461726765742e6578616d706c650050 \
           050200030b62696e642d7461726765740050; do
    $PY raw $SOCKS loc1 "$TOKEN1" "$req" > /dev/null || t_fail "raw $req"
done
# ---- user names with control bytes; a folder name in UTF-8 ----
[ "$($PY authfail $SOCKS 1b5b33316d7265640d0a6661)" = "auth status 1" ] || t_fail "authfail"
printf 'Subject: x\r\n\r\nx\r\n' > "$T_TMP/mail.eml"
"$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" --folder "Entwürfe" \
    --deliver "$T_TMP/mail.eml" --exit-after-deliveries > "$T_TMP/deliver.log" 2>&1 ||
    { cat "$T_TMP/deliver.log"; t_fail "delivery"; }
grep -q ': stored' "$T_TMP/deliver.log" || t_fail "delivery not stored"
t_wait_log relay 'delivery: .*verdict="stored"' 5
t_wait_log relay 'socks refused: ' 5
t_wait_log relay 'verdict="command not supported"' 5
sleep 0.3

# ---- the log ----
python3 - "$T_TMP/relay.log" <<'PY' || t_fail "the relay's log holds raw network bytes"
import sys
data = open(sys.argv[1], "rb").read()
bad = [(n + 1, line) for n, line in enumerate(data.split(b"\n"))
       if any(c < 0x20 or c > 0x7e for c in line)]
for n, line in bad[:5]:
    print("line %d: %r" % (n, line[:200]))
sys.exit(1 if bad else 0)
PY
L=$T_TMP/relay.log
for want in 'target="esc\x1bz:80" ' 'target="esc\x0dz:80" ' 'target="esc\x0az:80" ' \
            'target="esc\x5cz:80" ' 'target="esc\x7fz:80" ' 'target="esc\xffz:80" ' \
            'target="esc z:80" ' 'target="esc~z:80" ' 'target="esc%22z:80" ' \
            'target="esc%25z:80" ' 'target="\x01\x02\x03' \
            'folder="Entw\xc3\xbcrfe"' 'user="?" reason="authentication failed"'; do
    grep -qF -- "$want" "$L" || t_fail "no '$want' in the relay's log"
done
[ "$(grep -cF 'target="esc' "$L")" = 255 ] || t_fail "not one stream line per name"
# Review finding: a '"' in a name cannot end the quoted field (every line has exactly the
# relay's own quotes: target, verdict).
grep -F 'target="esc' "$L" | awk -F'"' 'NF != 5 { bad = 1 } END { exit bad }' ||
    t_fail "a host name's '\"' ended its field early"
t_log "every log line is printable ASCII; ESC, CR, LF, DEL, the backslash and UTF-8 as \\xHH"
t_log "the target is a quoted field: its '\"' and '%' as %22 and %25"
# A gateway whose hello host name carries '"': one quoted field in the tunnel up line.
r_gw gw2 gw1 --hostname 'gw" firmware="forged' --map mail.example.test:143=7007
t_wait_log relay 'tunnel up: location=loc1 tunnel=[0-9]+ peer=[0-9.:]+ host="gw%22 firmware=%22forged" firmware="test" ' 10
grep -q 'firmware="forged"' "$L" && t_fail "a hello host name forged a field"
t_log "a hello host name with '\"' is one quoted field (%22)"
grep -q 'target=-.*verdict="malformed request"' "$L" || t_fail "malformed: no line"
grep -E 'verdict="(malformed request|command not supported)"' "$L" | grep -v 'target=-' &&
    t_fail "a request that did not parse was logged with a target"
grep -q 'bind-target' "$L" && t_fail "the BIND request's host was logged"
n=$(grep -cE 'target=- .*verdict="(malformed request|command not supported)"' "$L")
[ "$n" = 4 ] || t_fail "$n of 4 failed requests logged with target=-"
t_log "requests that did not parse (version 4, RSV set, BIND, NUL in the name): target=-"
t_log "ok"
